-- recsys.train_bpr: Bayesian personalised ranking, served as a factor model
CREATE SCHEMA train_bpr_test;
SET search_path = train_bpr_test, public;
SET extra_float_digits = 0;

-- Known by construction (implicit's checkerboard): eight blocks of tastes,
-- users 1-32 like items 100-115, users 33-64 items 116-131, and so on;
-- each user misses one item of their block, which must then be their
-- first recommendation.  (256 users and 128 items: training splits them
-- into 4 x 4 blocks, so threads share the work.)
CREATE TABLE blocks AS
SELECT u AS user_id, 100 + 16 * ((u - 1) / 32) + j AS item_id
FROM generate_series(1, 256) u, generate_series(0, 15) j
WHERE j <> u % 16;
CREATE VIEW held_out AS
SELECT u AS user_id, 100 + 16 * ((u - 1) / 32) + u % 16 AS item_id FROM generate_series(1, 256) u;

SELECT name, version, algorithm, source, n_users, n_items, n_interactions,
	   params->>'factors' AS factors, params->>'sampling' AS sampling,
	   params->>'learning_rate' AS learning_rate, params->>'iterations' AS iterations,
	   (stats->>'train_loss')::float8 < 0.2 AS fits, (stats->>'blocks')::int AS blocks,
	   train_seconds >= 0 AS timed, (stats->>'fit_cpu_seconds')::float8 >= 0 AS cpu_timed
FROM recsys.train_bpr('blocks', factors => 8, model => 'blocks', iterations => 100);

SELECT count(*) FILTER (WHERE r.item_id = h.item_id) AS held_out_first, count(*) AS users
FROM held_out h, LATERAL recsys.recommend(h.user_id, 1, 'blocks') r;

-- the artefacts are plain rows: the item bias with the item factors
SELECT count(*) AS user_rows, min(array_length(factors, 1)) AS k
FROM recsys.user_factors WHERE model = 'blocks';
SELECT count(*) AS item_rows, count(*) FILTER (WHERE bias <> 0) AS with_bias
FROM recsys.item_factors WHERE model = 'blocks';

-- served by the factors kind: score() is x_u . y_i + b_i, recommend's scores alike
SELECT abs(recsys.score(3, r.item_id, 'blocks') - r.score) < 1e-5 AS score_matches,
	   abs(r.score - ((SELECT sum(u * i) FROM unnest(uf.factors, f.factors) AS t(u, i)) + f.bias)) < 1e-4 AS dot_plus_bias
FROM recsys.recommend(3, 1, 'blocks') r
JOIN recsys.item_factors f ON f.model = 'blocks' AND f.item_id = r.item_id
JOIN recsys.user_factors uf ON uf.model = 'blocks' AND uf.user_id = 3;
-- similar items of an item are those of its block
SELECT count(*) FILTER (WHERE (s.item_id - 100) / 16 = 0) AS same_block, count(*) AS items
FROM recsys.similar_items(100, 5, 'blocks') s;
-- a session of one block's items recommends that block's other items
SELECT count(*) FILTER (WHERE (r.item_id - 100) / 16 = 2) AS same_block, count(*) AS items
FROM recsys.recommend_session(ARRAY[132, 133, 134, 135, 136, 137], 4, 'blocks') r;
-- explain is refused: the ALS decomposition does not describe a BPR
-- score, nothing else splits it among the user's items (review 2)
SELECT count(*) AS contributions FROM recsys.explain(3, 103, 3, 'blocks');
-- in a blend, a BPR member is left out of explain (as popularity is)
SELECT (recsys.train_item_knn('blocks', 5, model => 'blocks_knn')).version;
SELECT (recsys.train_blend('{blocks,blocks_knn}', '{1,1}', 'blocks_mix')).version;
SELECT count(*) AS contributions FROM recsys.explain(3, 103, 3, 'blocks_mix');
SELECT recsys.drop_model('blocks_mix'), recsys.drop_model('blocks_knn');

-- deterministic for a seed whatever recsys.threads is
CREATE TEMP TABLE before AS
SELECT item_id, bias, factors FROM recsys.item_factors WHERE model = 'blocks';
SET recsys.threads = 1;
SELECT version FROM recsys.train_bpr('blocks', factors => 8, model => 'blocks', iterations => 100);
SELECT count(*) AS changed FROM before b JOIN recsys.item_factors f USING (item_id)
WHERE f.model = 'blocks' AND (f.factors IS DISTINCT FROM b.factors OR f.bias IS DISTINCT FROM b.bias);
SET recsys.threads = 3;
SELECT version FROM recsys.train_bpr('blocks', factors => 8, model => 'blocks', iterations => 100);
SELECT count(*) AS changed FROM before b JOIN recsys.item_factors f USING (item_id)
WHERE f.model = 'blocks' AND (f.factors IS DISTINCT FROM b.factors OR f.bias IS DISTINCT FROM b.bias);
RESET recsys.threads;
-- another seed, another model
SELECT version FROM recsys.train_bpr('blocks', factors => 8, model => 'blocks', iterations => 100, seed => 7);
SELECT count(*) > 0 AS changed FROM before b JOIN recsys.item_factors f USING (item_id)
WHERE f.model = 'blocks' AND f.factors IS DISTINCT FROM b.factors;

-- every sampling, and adversarial training, find the held-out items too
CREATE TEMP TABLE variants AS
SELECT s AS sampling, eps AS adversarial_epsilon,
	   (recsys.train_bpr('blocks', factors => 8, model => 'm_' || s || eps, iterations => 100,
						 sampling => s, adversarial_epsilon => eps)).name
FROM unnest(ARRAY['uniform', 'popularity', 'adaptive']) s, unnest(ARRAY[0, 0.5]) eps;
SELECT sampling, adversarial_epsilon,
	   (SELECT count(*) FILTER (WHERE r.item_id = h.item_id)
		FROM held_out h, LATERAL recsys.recommend(h.user_id, 1, v.name) r) AS held_out_first
FROM variants v ORDER BY 1, 2;
SELECT params->>'sampling' AS sampling, params->>'adversarial_epsilon' AS eps,
	   params->>'adversarial_weight' AS weight
FROM recsys.models WHERE name = 'm_adaptive0.5';
SELECT count(recsys.drop_model(name)) AS dropped FROM variants;

-- weights: only pairs of positive weight are positives (here 15 of each user's 16)
CREATE TABLE signed AS
SELECT user_id, item_id, CASE WHEN item_id % 16 = 15 THEN -1 ELSE 1 END AS w FROM blocks;
SELECT n_interactions, (stats->>'train_loss')::float8 < 0.3 AS fits
FROM recsys.train_bpr('signed', factors => 8, model => 'signed', iterations => 100, weight_col => 'w');
SELECT recsys.drop_model('signed');

-- without stored user vectors each user is folded in from the source
SELECT params->>'store_users' AS store_users
FROM recsys.train_bpr('blocks', factors => 8, model => 'folded', iterations => 100, store_users => false);
SELECT count(*) AS user_rows FROM recsys.user_factors WHERE model = 'folded';
SELECT count(*) FILTER (WHERE r.item_id = h.item_id) AS held_out_first, count(*) AS users
FROM held_out h, LATERAL recsys.recommend(h.user_id, 1, 'folded') r;
SELECT recsys.drop_model('folded');

-- a user folded in (fold_in, sessions, store_users => false) gets the
-- vector training would give: the same SGD against the fixed items, not
-- the ALS step (which ranks BPR's items far worse).  On noisier tastes
-- (each user also likes 4 items of the next block) the folded vectors
-- point where the stored ones do, and a session of a user's items is
-- recommended nearly what the user is.
CREATE TABLE mixed AS SELECT * FROM blocks UNION
SELECT u, 100 + (16 * ((u - 1) / 32) + 16 + (u * 7 + j * 5) % 16) % 128
FROM generate_series(1, 256) u, generate_series(1, 4) j;
SELECT n_interactions FROM recsys.train_bpr('mixed', factors => 8, model => 'mixed', iterations => 100);
WITH folded AS (
	SELECT (SELECT recsys.fold_in(item_id, 1, 'mixed') FROM mixed m WHERE m.user_id = u.user_id) AS v,
		   u.factors
	FROM recsys.user_factors u WHERE model = 'mixed'),
cosines AS (
	SELECT (SELECT sum(a * b) FROM unnest(v, factors) t(a, b)) /
		   sqrt((SELECT sum(a * a) FROM unnest(v) a) * (SELECT sum(b * b) FROM unnest(factors) b)) AS c
	FROM folded)
SELECT count(*) AS users, min(c) > 0.9 AS all_aligned, avg(c) > 0.97 AS aligned_on_average FROM cosines;
SELECT sum((SELECT count(*) FROM recsys.recommend(u, 5, 'mixed') a
			JOIN recsys.recommend_session((SELECT array_agg(item_id) FROM mixed WHERE user_id = u), 5, 'mixed') b
			USING (item_id))) >= 0.9 * 256 * 5 AS sessions_agree
FROM generate_series(1, 256) u;
SELECT recsys.drop_model('mixed');

-- a failed retrain leaves the previous model serving
SELECT version AS serving FROM recsys.models WHERE name = 'blocks';
CREATE TABLE negatives AS SELECT user_id, item_id, -1 AS w FROM blocks;
SELECT recsys.train_bpr('negatives', model => 'blocks', weight_col => 'w');
CREATE TABLE big_blocks AS
SELECT u AS user_id, (u * 7 + j * 13) % 2000 AS item_id
FROM generate_series(1, 4000) u, generate_series(1, 20) j;
SET recsys.max_memory = '4MB';
SELECT recsys.train_bpr('big_blocks', factors => 256, model => 'blocks');
RESET recsys.max_memory;
BEGIN;
SELECT version FROM recsys.train_bpr('blocks', factors => 2, model => 'blocks', iterations => 1);
ROLLBACK;
SELECT version AS serving, params->>'factors' AS factors FROM recsys.models WHERE name = 'blocks';
SELECT count(*) AS users_served FROM held_out h, LATERAL recsys.recommend(h.user_id, 1, 'blocks');
-- a cancelled one too (statement_timeout interrupts the epochs)
\set VERBOSITY terse
SET statement_timeout = '200ms';
SELECT version FROM recsys.train_bpr('big_blocks', factors => 64, model => 'blocks', iterations => 10000);
RESET statement_timeout;
\set VERBOSITY default
SELECT version AS serving, params->>'factors' AS factors FROM recsys.models WHERE name = 'blocks';

-- time_col and half_life: users fitted to their recent items.  Each user
-- has 31 of the 32 items of an old group (bought 152 days before) and 8 of
-- the 32 of a recent group (another one).  Without a half-life the old
-- group's missing item comes first for most users; with a one-day one the
-- recent group's items do for more than 3 in 4 (not all: the item vectors
-- are trained on every pair, so the groups a user joins lie close).
CREATE TABLE tastes AS
SELECT u AS user_id, (u % 4) * 32 + j AS item_id,
	   timestamptz '2024-01-01 00:00+00' + j * interval '1 minute' AS ts
FROM generate_series(1, 256) u, generate_series(0, 31) j
WHERE j <> (u * 7) % 32
UNION ALL
SELECT u, ((u % 4 + 1 + (u / 4) % 3) % 4) * 32 + (u * 5 + j * 4) % 32,
	   timestamptz '2024-06-01 00:00+00' + j * interval '1 minute'
FROM generate_series(1, 256) u, generate_series(0, 7) j;
CREATE VIEW recent_group AS
SELECT u AS user_id, (u % 4 + 1 + (u / 4) % 3) % 4 AS grp FROM generate_series(1, 256) u;
SELECT params->>'time_col' AS time_col, params->>'half_life_seconds' AS half_life_seconds
FROM recsys.train_bpr('tastes', factors => 8, model => 'recent', iterations => 60,
					  learning_rate => 0.1, time_col => 'ts', half_life => '1 day');
SELECT (recsys.train_bpr('tastes', factors => 8, model => 'timeless', iterations => 60,
						 learning_rate => 0.1)).params ? 'time_col' AS has_time_col;
SELECT params->>'store_users' AS store_users
FROM recsys.train_bpr('tastes', factors => 8, model => 'recent_folded', iterations => 60,
					  learning_rate => 0.1, time_col => 'ts', half_life => '1 day',
					  store_users => false);
SELECT m AS model, count(*) FILTER (WHERE r.item_id / 32 = g.grp) > 192 AS mostly_recent_first,
	   count(*) AS users
FROM unnest(ARRAY['recent', 'recent_folded']) m, recent_group g,
	 LATERAL recsys.recommend(g.user_id, 1, m) r
GROUP BY m ORDER BY m;
SELECT count(*) FILTER (WHERE r.item_id / 32 = g.grp) < 128 AS mostly_old_first_without
FROM recent_group g, LATERAL recsys.recommend(g.user_id, 1, 'timeless') r;
-- the stored vectors are what serving's fold-in computes: same scores
SELECT count(*) AS places, count(*) FILTER (WHERE a.item_id = b.item_id AND a.score = b.score) AS same
FROM recent_group g,
	 LATERAL recsys.recommend(g.user_id, 5, 'recent') WITH ORDINALITY a,
	 LATERAL recsys.recommend(g.user_id, 5, 'recent_folded') WITH ORDINALITY b
WHERE a.ordinality = b.ordinality;
-- deterministic whatever recsys.threads is (the refit shares the users
-- among the threads)
CREATE TEMP TABLE recent_before AS
SELECT user_id, factors FROM recsys.user_factors WHERE model = 'recent';
SET recsys.threads = 1;
SELECT version FROM recsys.train_bpr('tastes', factors => 8, model => 'recent', iterations => 60,
									 learning_rate => 0.1, time_col => 'ts', half_life => '1 day');
SELECT count(*) AS changed FROM recent_before b JOIN recsys.user_factors f USING (user_id)
WHERE f.model = 'recent' AND f.factors IS DISTINCT FROM b.factors;
SET recsys.threads = 3;
SELECT version, (stats->>'refit_seconds')::float8 >= 0 AS refit_timed
FROM recsys.train_bpr('tastes', factors => 8, model => 'recent', iterations => 60,
					  learning_rate => 0.1, time_col => 'ts', half_life => '1 day');
SELECT count(*) AS changed FROM recent_before b JOIN recsys.user_factors f USING (user_id)
WHERE f.model = 'recent' AND f.factors IS DISTINCT FROM b.factors;
RESET recsys.threads;
-- times as numbers of seconds, or dates, do too; NULL times weigh 0
CREATE TABLE tastes_epoch AS
SELECT user_id, item_id, extract(epoch FROM ts)::bigint AS ts FROM tastes;
SELECT (recsys.train_bpr('tastes_epoch', factors => 8, model => 'recent_epoch', iterations => 60,
						 learning_rate => 0.1, time_col => 'ts', half_life => '1 day')).version;
SELECT count(*) AS changed FROM recent_before b JOIN recsys.user_factors f USING (user_id)
WHERE f.model = 'recent_epoch' AND f.factors IS DISTINCT FROM b.factors;
CREATE TABLE tastes_date AS
SELECT user_id, item_id, CASE WHEN user_id <> 1 THEN ts::date END AS day FROM tastes;
SELECT (recsys.train_bpr('tastes_date', factors => 8, model => 'recent_date', iterations => 60,
						 learning_rate => 0.1, time_col => 'day', half_life => '1 day')).version;
SELECT count(*) FILTER (WHERE r.item_id / 32 = g.grp) > 192 AS mostly_recent_first
FROM recent_group g, LATERAL recsys.recommend(g.user_id, 1, 'recent_date') r;
-- (user 1's times are all NULL: every item weighs 0, the vector stays 0)
SELECT factors = array_fill(0::real, ARRAY[8]) AS zero
FROM recsys.user_factors WHERE model = 'recent_date' AND user_id = 1;
SELECT count(recsys.drop_model(m))
FROM unnest(ARRAY['recent', 'timeless', 'recent_folded', 'recent_epoch', 'recent_date']) m;

-- errors: arguments out of range or NULL
SELECT recsys.train_bpr(NULL);
SELECT recsys.train_bpr('blocks', factors => 0);
SELECT recsys.train_bpr('blocks', factors => 1025);
SELECT recsys.train_bpr('blocks', model => NULL);
SELECT recsys.train_bpr('blocks', iterations => 0);
SELECT recsys.train_bpr('blocks', iterations => 10001);
SELECT recsys.train_bpr('blocks', learning_rate => 0);
SELECT recsys.train_bpr('blocks', learning_rate => NULL);
SELECT recsys.train_bpr('blocks', learning_rate => 'NaN');
SELECT recsys.train_bpr('blocks', regularization => -1);
SELECT recsys.train_bpr('blocks', regularization => NULL);
SELECT recsys.train_bpr('blocks', learning_rate => 1, regularization => 1);
SELECT recsys.train_bpr('blocks', seed => NULL);
SELECT recsys.train_bpr('blocks', sampling => 'warp');
SELECT recsys.train_bpr('blocks', sampling => NULL);
SELECT recsys.train_bpr('blocks', adversarial_epsilon => -0.1);
SELECT recsys.train_bpr('blocks', adversarial_epsilon => NULL);
SELECT recsys.train_bpr('blocks', adversarial_weight => -1);
SELECT recsys.train_bpr('blocks', adversarial_weight => 'Infinity');
SELECT recsys.train_bpr('blocks', store_users => NULL);
SELECT recsys.train_bpr('blocks', verbose => NULL);
SELECT recsys.train_bpr('blocks', user_col => 'customer');
SELECT recsys.train_bpr('blocks', weight_col => 'stars');
SELECT recsys.train_bpr('tastes', time_col => 'ts');
SELECT recsys.train_bpr('tastes', half_life => '1 day');
SELECT recsys.train_bpr('tastes', time_col => 'ts', half_life => '0.5 seconds');
SELECT recsys.train_bpr('tastes', time_col => 'ts', half_life => '-1 day');
SELECT recsys.train_bpr('tastes', time_col => 'when', half_life => '1 day');
CREATE TABLE tastes_text AS SELECT user_id, item_id, ts::text AS ts FROM tastes;
SELECT recsys.train_bpr('tastes_text', time_col => 'ts', half_life => '1 day');
CREATE TABLE timeless_rows AS SELECT user_id, item_id, NULL::timestamptz AS ts FROM tastes;
SELECT recsys.train_bpr('timeless_rows', time_col => 'ts', half_life => '1 day');
-- errors: a learning rate that makes the factors overflow fails and
-- keeps the version that serves (review 2: it stored NaN factors, and an
-- infinite score crashed diversity's re-ranking)
SELECT (recsys.train_bpr('blocks', factors => 8, model => 'blocks', iterations => 2, seed => 5)).version;
SELECT recsys.train_bpr('blocks', factors => 8, model => 'blocks', iterations => 2,
						learning_rate => 10, regularization => 0);
SELECT recsys.train_bpr('blocks', factors => 8, model => 'blocks', iterations => 2,
						learning_rate => 10, regularization => 0, verbose => true);
-- ... and when the factors stay finite but the scores overflow (the
-- review's repro: loss 1.8e35, infinite scores)
CREATE TABLE review_buys AS
SELECT u AS user_id, 1 + (u * 7 + j * 3) % 30 AS item_id FROM generate_series(1, 60) u, generate_series(0, 5) j;
SELECT recsys.train_bpr('review_buys', factors => 8, model => 'blocks', iterations => 2,
						learning_rate => 4, regularization => 0);
SELECT version AS serving FROM recsys.models WHERE name = 'blocks';
SELECT count(*) AS rows, bool_and(score = score AND score < 'Infinity') AS finite
FROM recsys.recommend(6, 10, 'blocks', diversity => 0.3);
-- errors: nothing to train on
CREATE TABLE nothing (user_id bigint, item_id bigint);
SELECT recsys.train_bpr('nothing');
-- errors: a model of another algorithm is replaced only when asked
SELECT (recsys.train_cf('blocks', factors => 4, model => 'als_model', iterations => 2)).algorithm;
SELECT recsys.train_bpr('blocks', model => 'als_model');
SELECT algorithm FROM recsys.train_bpr('blocks', factors => 4, model => 'als_model', iterations => 2, replace => true);
SELECT recsys.drop_model('als_model');
-- none of the failures left a model behind
SELECT name FROM recsys.models ORDER BY name;
SELECT recsys.drop_model('blocks');

RESET search_path;
DROP SCHEMA train_bpr_test CASCADE;

-- an empty source is refused before anything is written
CREATE TABLE public.rs_empty_src (user_id bigint, item_id bigint);
INSERT INTO public.rs_empty_src VALUES (1, 1);
SELECT 1 FROM recsys.train_popular('public.rs_empty_src', model => 'rs_empty_base');
DELETE FROM public.rs_empty_src;
SELECT recsys.train_bpr('public.rs_empty_src', model => 'rs_empty');
SELECT count(*) FROM recsys.models WHERE name = 'rs_empty';
SELECT recsys.drop_model('rs_empty_base');
DROP TABLE public.rs_empty_src;
