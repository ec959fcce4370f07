-- recsys.train_fm: a factorisation machine re-ranking another model's top items
CREATE SCHEMA fm_test;
SET search_path = fm_test, public;
SET extra_float_digits = 0;

-- Known by construction: users 1-20 buy three of the "good" items 1-8,
-- users 21-40 buy four of the "bad" items 11-15, so the bad items are the
-- most popular and a popularity base puts them first for everybody.  Good
-- items 7 and 8 are bought once each only, yet share the feature "good".
CREATE TABLE buys (user_id int, item_id int, ts timestamptz, note text);
INSERT INTO buys
SELECT u, 1 + (u + j * 2) % 6, '2026-01-05 09:00+00'::timestamptz + u * interval '1 hour'
FROM generate_series(1, 20) u, generate_series(0, 2) j;
INSERT INTO buys VALUES (1, 7, '2026-01-05 10:00+00'), (2, 8, '2026-01-05 11:00+00');
INSERT INTO buys
SELECT u, 11 + (u + j) % 5, '2026-01-06 20:00+00'::timestamptz + u * interval '1 hour'
FROM generate_series(21, 40) u, generate_series(0, 3) j;
CREATE TABLE item_feats (item_id int, feature text, value real DEFAULT 1);
INSERT INTO item_feats (item_id, feature)
SELECT i, CASE WHEN i <= 8 THEN 'good' ELSE 'bad' END FROM generate_series(1, 15) i WHERE i <= 8 OR i >= 11;
-- a numeric feature, and an item the model does not have
INSERT INTO item_feats VALUES (1, 'price', 2.5), (11, 'price', 0.5), (99, 'good', 1);
CREATE TABLE user_feats (user_id int, feature text[]);
INSERT INTO user_feats SELECT u, ARRAY['group:' || (u - 1) / 20] FROM generate_series(1, 40) u;

SELECT (recsys.train_popular('buys', model => 'fm_base')).name;
SELECT name, algorithm, n_users, n_items, params->>'candidates_from' AS base, params->>'pool' AS pool,
	   params->'item_feature_names' AS item_features, params->'user_feature_names' AS user_features,
	   stats->>'examples' AS examples, stats->>'items_with_features' AS items_with_features
FROM recsys.train_fm('buys', 'fm_base', model => 'fm', factors => 8, epochs => 40, base_weight => 0,
					 item_features => 'item_feats', user_features => 'user_feats', seed => 3);

-- user 3 has good items 4, 6, 2: the base offers the bad ones first, the
-- re-ranker puts the good ones it has not bought first, 7 and 8 included
SELECT string_agg(item_id::text, ' ' ORDER BY score DESC, item_id) AS base_top
FROM recsys.recommend(3, 5, model => 'fm_base');
SELECT string_agg(item_id::text, ' ' ORDER BY score DESC, item_id) AS fm_top
FROM recsys.recommend(3, 5, model => 'fm');
-- for every user of each group the first item is of their group, and for
-- the good group (five good items each has not bought) the first three
SELECT u <= 20 AS good_group, count(*) AS users,
	   bool_and(r.first_own) AS first_of_their_group,
	   bool_and(r.own_in_top3 = 3) FILTER (WHERE u <= 20) AS top3_of_their_group
FROM generate_series(1, 40) u,
	 LATERAL (SELECT count(*) FILTER (WHERE (item_id <= 8) = (u <= 20)) AS own_in_top3,
					 bool_or((item_id <= 8) = (u <= 20)) FILTER (WHERE rk = 1) AS first_own
			  FROM (SELECT item_id, row_number() OVER (ORDER BY score DESC) AS rk
					FROM recsys.recommend(u, 3, model => 'fm')) t) r
GROUP BY 1 ORDER BY 1;
-- what is stored: one row per parameter, shapes agreeing with the model
SELECT name, shape FROM recsys.model_parameters WHERE model = 'fm' ORDER BY name;
SELECT count(*) AS user_vectors, min(array_length(factors, 1)) AS k FROM recsys.user_factors WHERE model = 'fm';

-- recommend re-ranks only the pool: with pool 2 the re-ranker returns
-- the base's two best, in its own order, and nothing else
SELECT (recsys.train_fm('buys', 'fm_base', model => 'fm_pool2', factors => 8, epochs => 40, pool => 2,
						base_weight => 0, item_features => 'item_feats', seed => 3)).params->>'pool' AS pool;
SELECT count(*) AS rows, bool_and(item_id IN (SELECT item_id FROM recsys.recommend(3, 2, model => 'fm_base'))) AS from_base
FROM recsys.recommend(3, 10, model => 'fm_pool2');
-- score: the pool's items have their re-ranked score, the rest the
-- pool's lowest minus 1 (below every pooled item)
SELECT recsys.score(3, 7, 'fm') > 0 AS good_pooled, recsys.score(3, 11, 'fm') < 0 AS bad_pooled,
	   recsys.score(3, 1, 'fm_pool2') =
	   (SELECT min(score) - 1 FROM recsys.recommend(3, 10, model => 'fm_pool2')) AS outside_pool;
-- evaluate serves it like any model
CREATE TABLE held_out (user_id int, item_id int);
INSERT INTO held_out SELECT u, 7 FROM generate_series(3, 20) u;
SELECT metric, round(value::numeric, 4) AS value FROM recsys.evaluate('fm', 'held_out')
WHERE metric IN ('hit_rate@10', 'users') ORDER BY 1;

-- Deterministic for a seed whatever the threads
SET recsys.threads = 1;
SELECT (recsys.train_fm('buys', 'fm_base', model => 'fm_t1', factors => 8, epochs => 5,
						item_features => 'item_feats', user_features => 'user_feats', seed => 9)).name;
SET recsys.threads = 3;
SELECT (recsys.train_fm('buys', 'fm_base', model => 'fm_t3', factors => 8, epochs => 5,
						item_features => 'item_feats', user_features => 'user_feats', seed => 9)).name;
RESET recsys.threads;
SELECT count(*) AS parameters, bool_and(a.value = b.value) AS identical
FROM recsys.model_parameters a JOIN recsys.model_parameters b USING (name)
WHERE a.model = 'fm_t1' AND b.model = 'fm_t3';
SELECT bool_and(a.factors = b.factors) AS identical_users
FROM recsys.user_factors a JOIN recsys.user_factors b USING (user_id)
WHERE a.model = 'fm_t1' AND b.model = 'fm_t3';
-- another seed, another model
SELECT (recsys.train_fm('buys', 'fm_base', model => 'fm_s2', factors => 8, epochs => 5,
						item_features => 'item_feats', user_features => 'user_feats', seed => 10)).name;
SELECT bool_and(a.value = b.value) AS identical
FROM recsys.model_parameters a JOIN recsys.model_parameters b USING (name)
WHERE a.model = 'fm_t1' AND b.model = 'fm_s2';

-- Context: hour and weekday of each event; served at the statement's time
SELECT params->>'time_col' AS time_col, stats->>'examples' AS examples
FROM recsys.train_fm('buys', 'fm_base', model => 'fm_time', factors => 4, epochs => 3, time_col => 'ts');
SELECT name, shape FROM recsys.model_parameters WHERE model = 'fm_time' ORDER BY name;
SELECT count(*) AS served FROM recsys.recommend(3, 5, model => 'fm_time');
-- recent interactions weighing more, without the context features
SELECT params->>'half_life_seconds' AS half_life_seconds, params->>'context' AS context
FROM recsys.train_fm('buys', 'fm_base', model => 'fm_recent', factors => 4, epochs => 3, time_col => 'ts',
					 half_life => '1 day', context => false);
SELECT name FROM recsys.model_parameters WHERE model = 'fm_recent' ORDER BY name;
SELECT count(*) AS served FROM recsys.recommend(3, 5, model => 'fm_recent');
-- The hours and weekdays are taken in one zone, recorded at training (the
-- training session's TimeZone) and used at serving whatever the serving
-- session's: the same scores in Tokyo, UTC and Berlin (one statement, so
-- one statement time)
SET TimeZone = 'Asia/Tokyo';
SELECT params->>'time_zone' AS time_zone
FROM recsys.train_fm('buys', 'fm_base', model => 'fm_zone', factors => 4, epochs => 3, time_col => 'ts');
CREATE TEMP TABLE zone_scores (zone text, item_id bigint, score real);
DO $$
DECLARE
	z text;
BEGIN
	FOREACH z IN ARRAY ARRAY['Asia/Tokyo', 'UTC', 'Europe/Berlin'] LOOP
		PERFORM set_config('TimeZone', z, true);
		INSERT INTO zone_scores SELECT z, r.item_id, r.score FROM recsys.recommend(3, 5, model => 'fm_zone') r;
	END LOOP;
END
$$;
SELECT count(*) AS rows, count(DISTINCT (item_id, score)) AS distinct_rows FROM zone_scores;
-- a timestamp (no zone) is the wall-clock time it says: the source with
-- Tokyo's wall-clock times trains the model the timestamptz source trained
-- in Tokyo did
CREATE TABLE buys_local AS
SELECT user_id, item_id, ts AT TIME ZONE 'Asia/Tokyo' AS ts, (ts AT TIME ZONE 'Asia/Tokyo')::date AS day FROM buys;
SELECT (recsys.train_fm('buys_local', 'fm_base', model => 'fm_local', factors => 4, epochs => 3, time_col => 'ts')).name;
SELECT a.name, a.value = b.value AS identical
FROM recsys.model_parameters a JOIN recsys.model_parameters b USING (name)
WHERE a.model = 'fm_zone' AND b.model = 'fm_local' ORDER BY a.name;
-- a zone set as an offset is recorded by its resolved name (the raw setting
-- "INTERVAL '05:30:00'" or "5" would read as a POSIX offset west of UTC):
-- +05:30 trains and serves like Asia/Kolkata (review 3)
SET TIME ZONE INTERVAL '+05:30' HOUR TO MINUTE;
SELECT params->>'time_zone' AS time_zone
FROM recsys.train_fm('buys', 'fm_base', model => 'fm_offset', factors => 4, epochs => 3, time_col => 'ts');
SET TimeZone = 'Asia/Kolkata';
SELECT (recsys.train_fm('buys', 'fm_base', model => 'fm_kolkata', factors => 4, epochs => 3, time_col => 'ts')).name;
SELECT a.name, a.value = b.value AS identical
FROM recsys.model_parameters a JOIN recsys.model_parameters b USING (name)
WHERE a.model = 'fm_offset' AND b.model = 'fm_kolkata' ORDER BY a.name;
SET TimeZone = 'UTC';
SELECT count(*) AS rows, bool_and(a.item_id = b.item_id AND a.score = b.score) AS same
FROM (SELECT row_number() OVER () AS r, * FROM recsys.recommend(3, 5, model => 'fm_offset')) a
JOIN (SELECT row_number() OVER () AS r, * FROM recsys.recommend(3, 5, model => 'fm_kolkata')) b USING (r);
SET TimeZone = 'Asia/Tokyo';
-- a date has no hour: context is refused, a recency weighting is not
\set VERBOSITY terse
SELECT recsys.train_fm('buys_local', 'fm_base', model => 'fm_err', time_col => 'day');
\set VERBOSITY default
SELECT params->>'context' AS context, params->>'time_zone' AS time_zone
FROM recsys.train_fm('buys_local', 'fm_base', model => 'fm_day', epochs => 1, time_col => 'day',
					 half_life => '7 days', context => false);
RESET TimeZone;

-- Hard negatives from the base's pool, and progress per epoch (the
-- seconds it took in the detail)
\set VERBOSITY terse
SELECT (recsys.train_fm('buys', 'fm_base', model => 'fm_hard', factors => 4, epochs => 2,
						hard_negatives => 0.5, verbose => true)).params->>'hard_negatives' AS hard_negatives;
\set VERBOSITY default

-- A blend as the base, and the re-ranker follows a retrained base
SELECT (recsys.train_ease('buys', 10, model => 'fm_ease')).name;
SELECT (recsys.train_blend('{fm_ease,fm_base}', '{1,0.5}', 'fm_blend')).name;
SELECT (recsys.train_fm('buys', 'fm_blend', model => 'fm_on_blend', factors => 4, epochs => 3)).name;
SELECT count(*) FROM recsys.recommend(3, 5, model => 'fm_on_blend');

-- Errors
\set VERBOSITY terse
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', pool => 0);
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', pool => 10001);
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', factors => 0);
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', factors => 513);
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', epochs => 0);
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', learning_rate => 0);
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', regularization => -1);
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', base_weight => 'NaN');
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', hard_negatives => 1.5);
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', seed => NULL);
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', verbose => NULL);
SELECT recsys.train_fm('buys', NULL, model => 'fm_err');
SELECT recsys.train_fm('buys', 'no_such_model', model => 'fm_err');
SELECT recsys.train_fm('buys', 'fm_err', model => 'fm_err');
SELECT recsys.train_fm('buys', 'fm', model => 'fm_err');
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', time_col => 'note');
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', time_col => 'no_col');
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', half_life => '1 day');
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', time_col => 'ts', half_life => '0.5 seconds');
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', context => NULL);
-- features relations
CREATE TABLE no_feature (item_id int, tag text);
CREATE TABLE text_ids (item_id text, feature text);
CREATE TABLE text_values (item_id int, feature text, value text);
CREATE TABLE nan_values (item_id int, feature text, value float8);
INSERT INTO nan_values VALUES (1, 'x', 'Infinity');
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', item_features => 'no_feature');
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', item_features => 'text_ids');
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', item_features => 'text_values');
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', item_features => 'nan_values');
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', user_features => 'item_feats');
-- a diverging learning rate is an error, not a model of NaNs
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm_err', learning_rate => 10, factors => 64,
					   item_features => 'item_feats', base_weight => 0, regularization => 0, epochs => 200);
-- recsys.max_memory holds the parameters
CREATE TABLE many_users AS SELECT u AS user_id, u % 7 AS item_id FROM generate_series(1, 3000) u;
SELECT (recsys.train_popular('many_users', model => 'fm_many_base')).name;
SET recsys.max_memory = '3MB';
SELECT recsys.train_fm('many_users', 'fm_many_base', model => 'fm_err', factors => 512, epochs => 1);
RESET recsys.max_memory;
SELECT count(*) AS no_model_left FROM recsys.models WHERE name = 'fm_err';
-- a base cannot be dropped while a re-ranker names it
SELECT (recsys.train_fm('many_users', 'fm_many_base', model => 'fm_lost', epochs => 1)).name;
SELECT recsys.drop_model('fm_many_base');
SELECT count(*) FROM recsys.recommend(3, 5, model => 'fm_lost');
-- A failed retraining keeps the version that serves
SELECT version FROM recsys.models WHERE name = 'fm';
SELECT recsys.train_fm('buys', 'fm_base', model => 'fm', item_features => 'no_feature');
SELECT version, (SELECT count(*) FROM recsys.recommend(3, 5, model => 'fm')) AS served
FROM recsys.models WHERE name = 'fm';
-- re-rankers do not nest, even when the base becomes one after training
SELECT (recsys.train_fm('buys', 'fm_pool2', model => 'fm_nested', epochs => 1)).name;
SELECT (recsys.train_popular('buys', model => 'fm_inner')).name;
SELECT (recsys.train_fm('buys', 'fm_inner', model => 'fm_outer', epochs => 1)).name;
SELECT (recsys.train_fm('buys', 'fm_base', model => 'fm_inner', epochs => 1, replace => true)).name;
SELECT count(*) FROM recsys.recommend(3, 5, model => 'fm_outer');
-- nor can a blend have one as a member
SELECT recsys.train_blend('{fm,fm_base}', NULL, 'fm_blend2');
SELECT recsys.train_blend('{fm_base,fm}', NULL, 'fm_blend2');
\set VERBOSITY default

-- recsys.score agrees with recommend: an item outside the pool scores the
-- pool's lowest score minus 1 (pool scores are standardised around 0)
SELECT (recsys.train_fm('buys', 'fm_base', model => 'fm_pool3', factors => 4, epochs => 5, pool => 3)).name;
WITH s AS (SELECT i AS item_id, recsys.score(3, i, 'fm_pool3') AS score FROM generate_series(1, 15) i),
	 r AS (SELECT * FROM recsys.recommend(3, 10, 'fm_pool3'))
SELECT (SELECT array_agg(item_id::bigint ORDER BY score DESC, item_id)
		FROM (SELECT * FROM s ORDER BY score DESC NULLS LAST, item_id LIMIT 3) t) =
	   (SELECT array_agg(item_id) FROM r) AS score_orders_as_recommend,
	   (SELECT count(DISTINCT score) FROM s WHERE item_id NOT IN (SELECT item_id FROM r) AND score IS NOT NULL) AS outside_scores,
	   (SELECT max(score) FROM s WHERE item_id NOT IN (SELECT item_id FROM r)) =
	   (SELECT min(score) - 1 FROM r) AS outside_is_lowest_minus_1;
-- the settings are read from recsys.models, the row whose edits reload a
-- model in every backend
UPDATE recsys.models SET params = params || '{"pool": 2}' WHERE name = 'fm_pool3';
SELECT count(*) AS rows_with_pool_2 FROM recsys.recommend(3, 10, 'fm_pool3');

-- The reason column: each row's reason as the base gave it (a cold start
-- of an ALS base for a user it does not know, a popularity base's rows)
SELECT (recsys.train_cf('buys', 4, model => 'fm_als', iterations => 3)).name;
SELECT (recsys.train_fm('buys', 'fm_als', model => 'fm_on_als', factors => 4, epochs => 2, pool => 5)).name;
SELECT 'known' AS "user", reason, count(*) FROM recsys.recommend(3, 5, 'fm_on_als') GROUP BY 2
UNION ALL
SELECT 'unknown', reason, count(*) FROM recsys.recommend(424242, 5, 'fm_on_als') GROUP BY 2
UNION ALL
SELECT 'known, popularity base', reason, count(*) FROM recsys.recommend(3, 5, 'fm_pool3') GROUP BY 2
ORDER BY 1, 2;
-- a blend of a popularity model only: popular, scored, for every user
SELECT (recsys.train_blend('{fm_base}', NULL, 'fm_pop_blend')).name;
SELECT reason, count(*), bool_and(score <> 0) AS scored FROM recsys.recommend(3, 5, 'fm_pop_blend') GROUP BY 1;

-- Privileges: the base is looked up as the re-ranker's owner
CREATE ROLE regress_recsys_fm_a;
CREATE ROLE regress_recsys_fm_b;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_fm_a, regress_recsys_fm_b;
GRANT USAGE ON SCHEMA fm_test TO regress_recsys_fm_a, regress_recsys_fm_b;
GRANT SELECT ON buys, item_feats TO regress_recsys_fm_a, regress_recsys_fm_b;
SET ROLE regress_recsys_fm_a;
SELECT (recsys.train_popular('buys', model => 'fm_a_base')).name;
SELECT (recsys.train_fm('buys', 'fm_a_base', model => 'fm_a', epochs => 2, item_features => 'item_feats')).name;
SELECT recsys.grant_model('fm_a', 'regress_recsys_fm_b');
SET ROLE regress_recsys_fm_b;
-- b may use the re-ranker, which reads a's base as a
SELECT count(*) AS served FROM recsys.recommend(3, 5, model => 'fm_a');
-- but b may not re-rank a's base itself
\set VERBOSITY terse
SELECT recsys.train_fm('buys', 'fm_a_base', model => 'fm_b', epochs => 1);
\set VERBOSITY default
SELECT count(*) FROM recsys.models WHERE name = 'fm_b';
-- b's re-ranker over a base a granted to b stops when a revokes it
SET ROLE regress_recsys_fm_a;
SELECT recsys.grant_model('fm_a_base', 'regress_recsys_fm_b');
SET ROLE regress_recsys_fm_b;
SELECT (recsys.train_fm('buys', 'fm_a_base', model => 'fm_b', epochs => 1)).name;
SELECT count(*) AS served FROM recsys.recommend(3, 5, model => 'fm_b');
SET ROLE regress_recsys_fm_a;
-- a may not drop a base b's re-ranker uses while b may use it (as for blends)
\set VERBOSITY terse
SELECT recsys.drop_model('fm_a_base');
\set VERBOSITY default
SELECT recsys.revoke_model('fm_a_base', 'regress_recsys_fm_b');
SET ROLE regress_recsys_fm_b;
\set VERBOSITY terse
SELECT count(*) FROM recsys.recommend(3, 5, model => 'fm_b');
\set VERBOSITY default
SELECT recsys.drop_model('fm_b');
-- A re-ranker's base can be neither dropped nor renamed while the re-ranker
-- names it: another role could take the name and choose what a's
-- re-ranker serves to those a granted it to (b here)
SET ROLE regress_recsys_fm_a;
\set VERBOSITY terse
SELECT recsys.drop_model('fm_a_base');
UPDATE recsys.models SET name = 'fm_a_base_old' WHERE name = 'fm_a_base';
DELETE FROM recsys.models WHERE name = 'fm_a_base';
-- nor become a re-ranker itself (re-rankers do not nest)
SELECT recsys.train_fm('buys', 'fm_a', model => 'fm_a_base', epochs => 1, replace => true);
\set VERBOSITY default
SET ROLE regress_recsys_fm_b;
\set VERBOSITY terse
SELECT recsys.train_popular('buys', model => 'fm_a_base');
\set VERBOSITY default
SELECT count(*) AS served_from_a_base FROM recsys.recommend(3, 5, model => 'fm_a');
-- an old version of a re-ranker whose base is gone does not come back
SET ROLE regress_recsys_fm_a;
SELECT (recsys.train_popular('buys', model => 'fm_a_base2')).name;
SELECT (recsys.train_fm('buys', 'fm_a_base2', model => 'fm_a', epochs => 1)).name;
SELECT recsys.drop_model('fm_a_base');
\set VERBOSITY terse
SELECT recsys.activate('fm_a', 1);
\set VERBOSITY default
-- the re-ranker and its base can go together
SELECT recsys.drop_model('fm_a'), recsys.drop_model('fm_a_base2');
-- A base that another role's model replaced by name is refused: the
-- re-ranker recorded its base's owner at training (by name)
RESET ROLE;
CREATE ROLE regress_recsys_fm_c;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_fm_c;
GRANT USAGE ON SCHEMA fm_test TO regress_recsys_fm_c;
GRANT SELECT ON buys TO regress_recsys_fm_c;
-- (1) b's re-ranker over a's base; a revokes it and drops it; c takes the name
SET ROLE regress_recsys_fm_a;
SELECT (recsys.train_popular('buys', model => 'fm_x')).name;
SELECT recsys.grant_model('fm_x', 'regress_recsys_fm_b');
SET ROLE regress_recsys_fm_b;
SELECT (recsys.train_fm('buys', 'fm_x', model => 'fm_r', epochs => 1)).params->>'candidates_owner' AS base_owner;
SET ROLE regress_recsys_fm_a;
SELECT recsys.revoke_model('fm_x', 'regress_recsys_fm_b');
SELECT recsys.drop_model('fm_x');
SET ROLE regress_recsys_fm_c;
SELECT (recsys.train_popular('buys', model => 'fm_x')).name;
SELECT recsys.grant_model('fm_x', 'public');
SET ROLE regress_recsys_fm_b;
SELECT * FROM recsys.recommend(3, 3, 'fm_r');
SELECT recsys.drop_model('fm_r');
SET ROLE regress_recsys_fm_c;
SELECT recsys.drop_model('fm_x');
-- (2) a's re-ranker, retrained on another base; a drops the old base, b
-- takes its name; a's rollback to the old version is refused
SET ROLE regress_recsys_fm_a;
SELECT (recsys.train_popular('buys', model => 'fm_y')).name;
SELECT (recsys.train_popular('buys', model => 'fm_y2')).name;
SELECT (recsys.train_fm('buys', 'fm_y', model => 'fm_r', epochs => 1)).version;
SELECT (recsys.train_fm('buys', 'fm_y2', model => 'fm_r', epochs => 1)).version;
SELECT recsys.drop_model('fm_y');
SET ROLE regress_recsys_fm_b;
SELECT (recsys.train_popular('buys', model => 'fm_y')).name;
SELECT recsys.grant_model('fm_y', 'public');
SET ROLE regress_recsys_fm_a;
SELECT recsys.rollback('fm_r');
SELECT version, params->>'candidates_from' AS base FROM recsys.models WHERE name = 'fm_r';
-- (past activate, e.g. by a catalog edit, serving refuses it as well)
UPDATE recsys.models SET version = 1, params = v.params
FROM recsys.model_versions v WHERE v.model = 'fm_r' AND v.version = 1 AND models.name = 'fm_r';
SELECT * FROM recsys.recommend(3, 3, 'fm_r');
-- a re-ranker trained before owners were recorded serves as it did
UPDATE recsys.models SET params = params - 'candidates_owner' WHERE name = 'fm_r';
SELECT count(*) > 0 AS served FROM recsys.recommend(3, 3, 'fm_r');
SELECT recsys.drop_model('fm_r'), recsys.drop_model('fm_y2');
SET ROLE regress_recsys_fm_b;
SELECT recsys.drop_model('fm_y');
RESET ROLE;
REVOKE ALL ON buys FROM regress_recsys_fm_c;
REVOKE ALL ON SCHEMA fm_test FROM regress_recsys_fm_c;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fm_c;
DROP ROLE regress_recsys_fm_c;
RESET ROLE;
REVOKE ALL ON buys, item_feats FROM regress_recsys_fm_a, regress_recsys_fm_b;
REVOKE ALL ON SCHEMA fm_test FROM regress_recsys_fm_a, regress_recsys_fm_b;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fm_a, regress_recsys_fm_b;
DROP ROLE regress_recsys_fm_a;
DROP ROLE regress_recsys_fm_b;

SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'fm%' ORDER BY
	CASE WHEN algorithm = 'fm' THEN 0 WHEN algorithm = 'blend' THEN 1 ELSE 2 END, name;
DROP SCHEMA fm_test CASCADE;

-- an empty source is refused before anything is written
CREATE TABLE public.rs_empty_src (user_id bigint, item_id bigint);
-- (the re-ranker's base, trained while the table has a row)
INSERT INTO public.rs_empty_src VALUES (1, 1);
SELECT 1 FROM recsys.train_popular('public.rs_empty_src', model => 'rs_empty_base');
DELETE FROM public.rs_empty_src;
SELECT recsys.train_fm('public.rs_empty_src', 'rs_empty_base', model => 'rs_empty');
SELECT count(*) FROM recsys.models WHERE name = 'rs_empty';
SELECT recsys.drop_model('rs_empty_base');
DROP TABLE public.rs_empty_src;
