-- recsys.train_cf: implicit ALS and explicit biased MF, trained from SQL
CREATE SCHEMA train_cf_test;
SET search_path = train_cf_test, public;
SET extra_float_digits = 0;

-- Three blocks of tastes: users 1-10 like items 100-109, users 11-20 items
-- 110-119, users 21-30 items 120-129; each user misses one item of their
-- block, which must then be their first recommendation.
CREATE TABLE blocks AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id
FROM generate_series(1, 30) u, generate_series(0, 9) j
WHERE j <> u % 10;

SELECT name, version, algorithm, source, n_users, n_items, n_interactions,
	   params->>'factors' AS factors, params->>'feedback' AS feedback,
	   (stats->>'train_loss')::float8 < 0.2 AS fits, train_seconds >= 0 AS timed
FROM recsys.train_cf('blocks', factors => 4, model => 'blocks', iterations => 10);

SELECT count(*) FILTER (WHERE r.item_id = 100 + 10 * ((u - 1) / 10) + u % 10) AS held_out_first,
	   count(*) AS users
FROM generate_series(1, 30) u, LATERAL recsys.recommend(u, 1, 'blocks') r;

-- the artefacts are plain rows
SELECT count(*) AS user_rows, min(array_length(factors, 1)) AS k
FROM recsys.user_factors WHERE model = 'blocks';
SELECT count(*) AS item_rows FROM recsys.item_factors WHERE model = 'blocks';
SELECT item_id, n_users, weight_sum, popularity FROM recsys.item_stats
WHERE model = 'blocks' ORDER BY item_id LIMIT 3;

-- deterministic for a seed: retraining gives the same factors
CREATE TEMP TABLE before AS SELECT user_id, factors FROM recsys.user_factors WHERE model = 'blocks';
SELECT version FROM recsys.train_cf('blocks', factors => 4, model => 'blocks', iterations => 10);
SELECT count(*) AS changed FROM before b JOIN recsys.user_factors f USING (user_id)
WHERE f.model = 'blocks' AND f.factors IS DISTINCT FROM b.factors;
-- and the same with one thread
SET recsys.threads = 1;
SELECT version FROM recsys.train_cf('blocks', factors => 4, model => 'blocks', iterations => 10);
SELECT count(*) AS changed FROM before b JOIN recsys.user_factors f USING (user_id)
WHERE f.model = 'blocks' AND f.factors IS DISTINCT FROM b.factors;
RESET recsys.threads;
-- the newest recsys.keep_versions (default 3) versions are kept
SELECT model, version FROM recsys.model_versions WHERE model = 'blocks' ORDER BY version;

-- a failed retrain leaves the previous model in place
BEGIN;
SELECT version FROM recsys.train_cf('blocks', factors => 2, model => 'blocks', iterations => 1);
SELECT version, params->>'factors' AS factors FROM recsys.models WHERE name = 'blocks';
ROLLBACK;
SELECT version, params->>'factors' AS factors FROM recsys.models WHERE name = 'blocks';
SELECT count(*) AS users_served FROM generate_series(1, 30) u, LATERAL recsys.recommend(u, 1, 'blocks');

-- a cancelled retrain too (statement_timeout interrupts the ALS loop)
CREATE TABLE big_blocks AS
SELECT u AS user_id, (u * 7 + j * 13) % 2000 AS item_id, 1 + (u + j) % 5 AS w
FROM generate_series(1, 20000) u, generate_series(1, 20) j;
-- (terse: under load the cancel may land while the source is still being read)
\set VERBOSITY terse
SET statement_timeout = '100ms';
SELECT version FROM recsys.train_cf('big_blocks', factors => 64, model => 'blocks', iterations => 1000);
RESET statement_timeout;
\set VERBOSITY default
SELECT version, params->>'factors' AS factors FROM recsys.models WHERE name = 'blocks';

-- explicit ratings: additive user and item effects are fitted by the biases,
-- predictions stay within the rating range seen in training
CREATE TABLE ratings AS
SELECT u AS user_id, i AS item_id, (1 + 0.5 * (u % 5) + 0.25 * (i % 7))::real AS rating
FROM generate_series(1, 40) u, generate_series(1, 30) i
WHERE (u + i) % 4 <> 0;
SELECT name, algorithm, n_users, n_items, params->>'feedback' AS feedback,
	   (stats->>'global_mean')::numeric(4, 2) AS global_mean,
	   stats->>'rating_min' AS rating_min, stats->>'rating_max' AS rating_max,
	   (stats->>'train_rmse')::float8 < 0.05 AS fits
FROM recsys.train_cf('ratings', factors => 2, model => 'stars', feedback => 'explicit',
					 weight_col => 'rating', regularization => 0.001);
-- held-out pairs ((u + i) % 4 = 0) are predicted within 0.1 of the truth
SELECT count(*) AS held_out,
	   max(abs(recsys.score(u, i, 'stars') - (1 + 0.5 * (u % 5) + 0.25 * (i % 7))))::numeric(3, 1) < 0.1 AS close
FROM generate_series(1, 40) u, generate_series(1, 30) i WHERE (u + i) % 4 = 0;
SELECT max(score) <= 4.5 AS clipped FROM recsys.recommend(4, 30, 'stars', exclude_seen => false);
-- the Bayesian solver (Gibbs sampling, averaged after burn-in) fits the same data
SELECT params->>'solver' AS solver, (stats->>'train_rmse')::float8 < 0.15 AS fits
FROM recsys.train_cf('ratings', factors => 2, model => 'stars_mcmc', feedback => 'explicit',
					 weight_col => 'rating', solver => 'bayesian', alpha => 20, iterations => 60);
SELECT count(*) AS held_out,
	   max(abs(recsys.score(u, i, 'stars_mcmc') - (1 + 0.5 * (u % 5) + 0.25 * (i % 7))))::numeric(3, 1) < 0.3 AS close
FROM generate_series(1, 40) u, generate_series(1, 30) i WHERE (u + i) % 4 = 0;
SELECT recsys.drop_model('stars_mcmc');

-- errors: arguments out of range or NULL
SELECT recsys.train_cf('blocks', factors => 0);
SELECT recsys.train_cf('blocks', factors => 1025);
SELECT recsys.train_cf('blocks', factors => NULL);
SELECT recsys.train_cf(NULL);
SELECT recsys.train_cf('blocks', model => NULL);
SELECT recsys.train_cf('blocks', model => '');
SELECT recsys.train_cf('blocks', model => repeat('m', 64));
-- the limit is in bytes: 32 'é' are 64
SELECT recsys.train_cf('blocks', model => repeat('é', 32));
SELECT recsys.train_cf('blocks', feedback => 'ratings');
SELECT recsys.train_cf('blocks', iterations => 0);
SELECT recsys.train_cf('blocks', iterations => 1001);
SELECT recsys.train_cf('blocks', regularization => -1);
SELECT recsys.train_cf('blocks', regularization => 'NaN');
SELECT recsys.train_cf('blocks', alpha => 'Infinity');
SELECT recsys.train_cf('blocks', alpha => NULL);
SELECT recsys.train_cf('blocks', seed => NULL);
SELECT recsys.train_cf('blocks', user_col => 'customer');
SELECT recsys.train_cf('blocks', weight_col => 'stars');
-- errors: solvers
SELECT recsys.train_cf('ratings', feedback => 'explicit', weight_col => 'rating', solver => 'sgd');
SELECT recsys.train_cf('blocks', solver => 'bayesian');
SELECT recsys.train_cf('ratings', feedback => 'explicit', weight_col => 'rating', solver => 'bayesian', alpha => 0);
-- errors: frequency-scaled regularisation
SELECT recsys.train_cf('blocks', regularization_exponent => 3);
SELECT recsys.train_cf('blocks', regularization_exponent => 'NaN');
SELECT recsys.train_cf('blocks', regularization_exponent => NULL);
SELECT recsys.train_cf('ratings', feedback => 'explicit', weight_col => 'rating', regularization_exponent => 1);
-- errors: explicit feedback needs ratings, one per pair
SELECT recsys.train_cf('blocks', feedback => 'explicit');
SELECT recsys.train_cf('blocks', feedback => 'explicit', weight_col => 'item_id', regularization => 0);
CREATE TABLE rerated (user_id int, item_id int, rating real);
INSERT INTO rerated VALUES (1, 1, 4), (1, 1, 5), (2, 1, 3);
SELECT recsys.train_cf('rerated', feedback => 'explicit', weight_col => 'rating');
-- errors: nothing to train on
CREATE TABLE nothing (user_id bigint, item_id bigint);
SELECT recsys.train_cf('nothing');
INSERT INTO nothing VALUES (NULL, 1), (1, NULL);
SELECT recsys.train_cf('nothing');
-- errors: the memory budget
SET recsys.max_memory = '12MB';
SELECT recsys.train_cf('big_blocks', factors => 256);
RESET recsys.max_memory;
-- none of the failures left a model behind
SELECT name FROM recsys.models ORDER BY name;
SELECT recsys.drop_model('blocks');
SELECT recsys.drop_model('stars');

RESET search_path;
DROP SCHEMA train_cf_test CASCADE;
