-- recsys.train_fm(..., base_features => true): the base's rank band and
-- standardised score as features of each (user, item) pair inside the FM
CREATE SCHEMA fm_base_test;
SET search_path = fm_base_test, public;
SET extra_float_digits = 0;

-- Known by construction: 40 items in 8 blocks of 5; user u belongs to
-- block u % 8 and bought 3 of its 5 items early, so an item-kNN base puts
-- the block's other two items first.  Later, users 1-40 each buy the
-- base's first item: that is what the FM learns from (early rows weigh
-- 2^-1000, half_life 1 day).  Users 41-60 buy nothing later: their
-- vectors learn nothing, and the FM can only serve them well by trusting
-- the base's rank.
CREATE TABLE early (user_id int, item_id int, ts bigint);
INSERT INTO early
SELECT u, (u % 8) * 5 + 1 + (u / 8 + j) % 5, 0
FROM generate_series(1, 60) u, generate_series(0, 2) j;
SELECT (recsys.train_item_knn('early', model => 'bf_base', neighbors => 10)).name;
CREATE TABLE buys AS
SELECT user_id, item_id, ts FROM early
UNION ALL
SELECT u, r.item_id, 86400 * 1000
FROM generate_series(1, 40) u, LATERAL recsys.recommend(u, 1, model => 'bf_base') r;
SELECT count(*) AS later_buys FROM buys WHERE ts > 0;

SELECT name, params->>'base_features' AS base_features, stats->>'examples' AS examples
FROM recsys.train_fm('buys', 'bf_base', model => 'bf', factors => 4, epochs => 30, base_weight => 0,
					 time_col => 'ts', half_life => '1 day', context => false,
					 hard_negatives => 0.5, seed => 5, pool => 10, base_features => true);
SELECT name, shape FROM recsys.model_parameters WHERE model = 'bf' ORDER BY name;
-- the same without the base features (the default): the FM alone
SELECT (recsys.train_fm('buys', 'bf_base', model => 'bf_off', factors => 4, epochs => 30, base_weight => 0,
						time_col => 'ts', half_life => '1 day', context => false,
						hard_negatives => 0.5, seed => 5, pool => 10)).params->>'base_features' AS base_features;

-- users 41-60: with the base features the FM's first is the base's first
-- for every one of them (without, it is the FM's item terms' choice)
SELECT m AS model, count(*) FILTER (WHERE f.item_id = b.item_id) AS base_first_kept, count(*) AS users
FROM unnest(ARRAY['bf', 'bf_off']) m, generate_series(41, 60) u,
	 LATERAL recsys.recommend(u, 1, model => 'bf_base') b,
	 LATERAL recsys.recommend(u, 1, model => m) f
GROUP BY m ORDER BY m;
-- the re-ranker only re-orders the base's pool (10): its top 5 are in
-- the base's top 10, for a user with later buys and one without
SELECT u, bool_and(f.item_id IN (SELECT item_id FROM recsys.recommend(u, 10, model => 'bf_base'))) AS in_pool
FROM generate_series(7, 47, 40) u, LATERAL recsys.recommend(u, 5, model => 'bf') f GROUP BY u ORDER BY u;
-- score agrees with recommend (the base features at serving, both ways)
SELECT bool_and(abs(r.score - recsys.score(50, r.item_id, model => 'bf')) < 1e-5) AS score_agrees
FROM recsys.recommend(50, 5, model => 'bf') r;

-- Deterministic for a seed whatever the threads
SET recsys.threads = 1;
SELECT (recsys.train_fm('buys', 'bf_base', model => 'bf_t1', factors => 4, epochs => 3,
						time_col => 'ts', context => false, base_features => true)).name;
SET recsys.threads = 2;
SELECT (recsys.train_fm('buys', 'bf_base', model => 'bf_t2', factors => 4, epochs => 3,
						time_col => 'ts', context => false, base_features => true)).name;
RESET recsys.threads;
SELECT count(*) AS parameters, bool_and(a.value = b.value) AS equal
FROM recsys.model_parameters a JOIN recsys.model_parameters b USING (name)
WHERE a.model = 'bf_t1' AND b.model = 'bf_t2';

-- Errors
SELECT recsys.train_fm('buys', 'bf_base', model => 'bf_err', base_features => NULL);
-- params' base_features must be "true" or "false" and agree with the
-- parameter rows: an edit never serves without the base features
UPDATE recsys.models SET params = params || '{"base_features": "false"}' WHERE name = 'bf';
SELECT * FROM recsys.recommend(50, 5, model => 'bf');
UPDATE recsys.models SET params = params || '{"base_features": "yes"}' WHERE name = 'bf';
SELECT * FROM recsys.recommend(50, 5, model => 'bf');
UPDATE recsys.models SET params = params || '{"base_features": null}' WHERE name = 'bf';
SELECT * FROM recsys.recommend(50, 5, model => 'bf');
UPDATE recsys.models SET params = params || '{"base_features": false}' WHERE name = 'bf';
SELECT * FROM recsys.recommend(50, 5, model => 'bf');
UPDATE recsys.models SET params = params - 'base_features' WHERE name = 'bf';
SELECT * FROM recsys.recommend(50, 5, model => 'bf');
-- a model trained without them serves with the key absent (as before 0.9.0)
UPDATE recsys.models SET params = params - 'base_features' WHERE name = 'bf_off';
SELECT count(*) FROM recsys.recommend(50, 5, model => 'bf_off');
-- restored, it serves again
UPDATE recsys.models SET params = params || '{"base_features": true}' WHERE name = 'bf';
SELECT count(*) FROM recsys.recommend(50, 5, model => 'bf');
-- a version whose base features went missing is damaged, not served
DELETE FROM recsys.model_parameters WHERE model = 'bf' AND name = 'base_features';
UPDATE recsys.models SET trained_at = clock_timestamp() WHERE name = 'bf';
SELECT * FROM recsys.recommend(50, 5, model => 'bf');

SELECT recsys.drop_model(m) FROM unnest(ARRAY['bf', 'bf_off', 'bf_t1', 'bf_t2', 'bf_base']) m;
DROP SCHEMA fm_base_test CASCADE;
