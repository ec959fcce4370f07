-- recsys.train_ncf: neural collaborative filtering (NeuMF), its storage,
-- serving, errors, memory limit, determinism across thread counts, and
-- a model whose answer is known by construction.
CREATE SCHEMA ncf;
SET search_path = ncf, public;
SET extra_float_digits = 0;

-- Block-diagonal interactions: 4 blocks of 6 users and 6 items; user u
-- has every item of its block but one, item (u % 6) of the block.  The
-- held-out item is the only unseen item that looks like the user's: it
-- must rank first for every user.
CREATE TABLE blocks AS
SELECT u AS user_id, 100 + (u / 6) * 6 + j AS item_id, 1::real AS w
FROM generate_series(0, 23) u, generate_series(0, 5) j
WHERE j <> u % 6;

SELECT name, algorithm, n_users, n_items, n_interactions,
	   params->>'factors' AS factors, params->'hidden' AS hidden, params->>'gmf' AS gmf
FROM recsys.train_ncf('blocks', 8, model => 'ncf_blocks', hidden => '{16,8}', iterations => 60,
					  learning_rate => 0.01, batch_size => 32);

SELECT count(*) AS users, count(*) FILTER (WHERE r.item_id = 100 + (u / 6) * 6 + u % 6) AS held_out_first
FROM generate_series(0, 23) u, recsys.recommend(u, 1, 'ncf_blocks') r;

-- the stored layout: embeddings [gmf | mlp] of 8 + 8, the layers by name
SELECT count(*) AS users, min(array_length(factors, 1)) AS len, max(array_length(factors, 1)) AS max_len,
	   bool_and(bias = 0) AS no_bias
FROM recsys.user_factors WHERE model = 'ncf_blocks';
SELECT count(*) AS items, min(array_length(factors, 1)) AS len
FROM recsys.item_factors WHERE model = 'ncf_blocks';
SELECT name, shape, array_length(value, 1) AS n
FROM recsys.model_parameters WHERE model = 'ncf_blocks' ORDER BY name;
SELECT value FROM recsys.model_parameters WHERE model = 'ncf_blocks' AND name = 'architecture';

-- score() is recommend's score; a user the model lacks gets the popularity
-- fallback (all 20 items of the catalog with 5 users each: equal)
SELECT bool_and(abs(recsys.score(3, r.item_id, 'ncf_blocks') - r.score) < 1e-5) AS score_agrees
FROM recsys.recommend(3, 5, 'ncf_blocks') r;
SELECT count(*) AS cold_rows FROM recsys.recommend(999, 5, 'ncf_blocks');

-- similar items by the cosine of embeddings: an item's block-mates
SELECT count(*) FILTER (WHERE (s.item_id - 100) / 6 = 0) AS same_block, count(*) AS n
FROM recsys.similar_items(100, 5, 'ncf_blocks') s;

-- explain: each of the user's items and its embedding's cosine with the target
SELECT count(*) AS items, bool_and(contribution BETWEEN -1 AND 1) AS cosines,
	   bool_and((item_id - 100) / 6 = 0) AS users_items
FROM recsys.explain(0, 100, 10, 'ncf_blocks');
-- a user without items: no rows, and a notice says why (review 2)
SELECT count(*) AS items FROM recsys.explain(99999, 100, 10, 'ncf_blocks');

-- not supported: sessions and fold-in (a user's embedding is only learnt by training)
SELECT count(*) FROM recsys.recommend_session('{100,101}', 3, 'ncf_blocks');

-- no GMF branch, no hidden layer: the output layer reads [p | q]
SELECT params->'hidden' AS hidden, params->>'gmf' AS gmf
FROM recsys.train_ncf('blocks', 4, model => 'ncf_plain', hidden => '{}', gmf => false, iterations => 2);
SELECT name, shape FROM recsys.model_parameters WHERE model = 'ncf_plain' ORDER BY name;
SELECT count(*) FROM recsys.recommend(0, 3, 'ncf_plain');

-- in a blend: recommended with the others; explain's cosines are not
-- shares of a score, so the blend's explain leaves ncf members out (as it
-- leaves out popularity and user-kNN members): here nothing is left
SELECT 1 FROM recsys.train_blend('{ncf_blocks,ncf_plain}', '{1,1}', 'ncf_mix');
SELECT count(*) FROM recsys.recommend(0, 3, 'ncf_mix');
SELECT * FROM recsys.explain(0, 100, 3, 'ncf_mix');

-- the same seed gives the same model whatever recsys.threads is; APR
-- (adversarial training) included
SET recsys.threads = 1;
SELECT 1 FROM recsys.train_ncf('blocks', 4, model => 'ncf_t1', iterations => 3, dropout => 0.2,
							   adversarial_epsilon => 0.5, adversarial_weight => 1, seed => 5);
SET recsys.threads = 3;
SELECT 1 FROM recsys.train_ncf('blocks', 4, model => 'ncf_t3', iterations => 3, dropout => 0.2,
							   adversarial_epsilon => 0.5, adversarial_weight => 1, seed => 5);
RESET recsys.threads;
SELECT count(*) AS differing_items FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_id)
WHERE a.model = 'ncf_t1' AND b.model = 'ncf_t3' AND a.factors <> b.factors;
SELECT count(*) AS differing_layers FROM recsys.model_parameters a JOIN recsys.model_parameters b USING (name)
WHERE a.model = 'ncf_t1' AND b.model = 'ncf_t3' AND a.value <> b.value;
SELECT params->>'adversarial_epsilon' AS eps, params->>'adversarial_weight' AS weight
FROM recsys.models WHERE name = 'ncf_t1';
-- another seed, another model
SELECT 1 FROM recsys.train_ncf('blocks', 4, model => 'ncf_t1', iterations => 3, seed => 6, dropout => 0.2,
							   adversarial_epsilon => 0.5, adversarial_weight => 1);
SELECT count(*) > 0 AS differs FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_id)
WHERE a.model = 'ncf_t1' AND b.model = 'ncf_t3' AND a.factors <> b.factors;

-- weight_col: pairs with a summed weight > 0 are the observed ones
CREATE TABLE signed AS SELECT user_id, item_id, CASE WHEN item_id % 2 = 0 THEN 1 ELSE -1 END AS w FROM blocks;
SELECT n_interactions, stats->>'positive_pairs' AS positive_pairs
FROM recsys.train_ncf('signed', 4, model => 'ncf_signed', weight_col => 'w', iterations => 1);

-- bad arguments: each names the argument and its range
\set VERBOSITY terse
SELECT recsys.train_ncf('blocks', 0, model => 'ncf_bad');
SELECT recsys.train_ncf('blocks', 5000, model => 'ncf_bad');
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', hidden => '{8,0}');
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', hidden => '{8,5000}');
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', hidden => '{{8,4},{2,1}}');
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', hidden => '{8,NULL}');
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', hidden => '{1,1,1,1,1,1,1,1,1}');
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', hidden => NULL);
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', gmf => NULL);
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', iterations => 0);
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', learning_rate => 0);
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', learning_rate => 'NaN');
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', regularization => -1);
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', dropout => 0.95);
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', negatives => 0);
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', batch_size => 0);
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', seed => NULL);
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', adversarial_epsilon => -0.5, adversarial_weight => 1);
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', adversarial_epsilon => 0.5);
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', adversarial_weight => 1);
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', verbose => NULL);
SELECT recsys.train_ncf('blocks', model => 'ncf_bad', user_col => 'nope');
-- a model of another algorithm is not replaced unless asked
SELECT 1 FROM recsys.train_popular('blocks', model => 'ncf_pop');
SELECT recsys.train_ncf('blocks', model => 'ncf_pop', iterations => 1);
SELECT algorithm FROM recsys.train_ncf('blocks', model => 'ncf_pop', iterations => 1, replace => true);
\set VERBOSITY default

-- recsys.max_memory is checked before allocating; the failed training
-- keeps the previous version serving
SELECT version AS v FROM recsys.models WHERE name = 'ncf_blocks' \gset
SET recsys.max_memory = '1MB';
SELECT recsys.train_ncf('blocks', 4000, model => 'ncf_blocks', hidden => '{4000}');
RESET recsys.max_memory;
SELECT version = :v AS same_version FROM recsys.models WHERE name = 'ncf_blocks';
SELECT count(*) AS held_out_first
FROM generate_series(0, 23) u, recsys.recommend(u, 1, 'ncf_blocks') r
WHERE r.item_id = 100 + (u / 6) * 6 + u % 6;

SELECT recsys.drop_model('ncf_mix');
SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'ncf\_%' ORDER BY name;
DROP SCHEMA ncf CASCADE;

-- an empty source is refused before anything is written
CREATE TABLE public.rs_empty_src (user_id bigint, item_id bigint);
INSERT INTO public.rs_empty_src VALUES (1, 1);
SELECT 1 FROM recsys.train_popular('public.rs_empty_src', model => 'rs_empty_base');
DELETE FROM public.rs_empty_src;
SELECT recsys.train_ncf('public.rs_empty_src', model => 'rs_empty');
SELECT count(*) FROM recsys.models WHERE name = 'rs_empty';
SELECT recsys.drop_model('rs_empty_base');
DROP TABLE public.rs_empty_src;
