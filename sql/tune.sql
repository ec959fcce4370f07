-- recsys.tune: grid and random search on a validation set
CREATE SCHEMA tune_test;
SET search_path = tune_test, public;
SET extra_float_digits = 0;

CREATE TABLE events AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id, 1 + j % 3 AS w
FROM generate_series(1, 40) u, generate_series(0, 9) j;
CREATE TABLE train AS
SELECT e.* FROM events e JOIN recsys.split_holdout('events', 0.2) s USING (user_id, item_id) WHERE NOT s.is_test;
CREATE TABLE valid AS
SELECT e.* FROM events e JOIN recsys.split_holdout('events', 0.2) s USING (user_id, item_id) WHERE s.is_test;
CREATE INDEX ON train (user_id);

-- every grid point trained on train and scored on valid, best first; the
-- best is kept as the named model
SELECT rank, params, value > 0 AS scored, metrics ? 'recall@10' AS all_metrics,
	   train_seconds >= 0 AND eval_seconds >= 0 AS timed
FROM recsys.tune('als', 'train', 'valid', '{"factors": [1, 8], "regularization": [0.01]}',
				 fixed => '{"iterations": 8}', model => 'best');
SELECT name, params->>'factors' AS factors, params->>'iterations' AS iterations
FROM recsys.models WHERE name = 'best';
-- a worse-by-design candidate loses: one factor cannot separate four blocks
SELECT (SELECT params->>'factors' FROM recsys.tune('als', 'train', 'valid',
		'{"factors": [1, 8]}', fixed => '{"iterations": 8}', model => 'best') WHERE rank = 1) AS winner;
-- the candidates leave no models behind
SELECT name FROM recsys.models WHERE name LIKE '_recsys_tune%';
-- random search: a seeded sample of the grid
SELECT count(*) FROM recsys.tune('item_knn', 'train', 'valid',
		'{"neighbors": [5, 10, 20, 40], "similarity": ["cosine", "jaccard"]}', samples => 3, model => 'knn');
SELECT array_agg(params ORDER BY params::text) =
	   (SELECT array_agg(params ORDER BY params::text) FROM recsys.tune('item_knn', 'train', 'valid',
		'{"neighbors": [5, 10, 20, 40], "similarity": ["cosine", "jaccard"]}', samples => 3, model => 'knn')) AS repeatable
FROM recsys.tune('item_knn', 'train', 'valid',
		'{"neighbors": [5, 10, 20, 40], "similarity": ["cosine", "jaccard"]}', samples => 3, model => 'knn');
-- another metric
SELECT rank FROM recsys.tune('ease', 'train', 'valid', '{"regularization": [10]}', metric => 'recall@10', model => 'e');

-- every trainer is an algorithm of tune's: each tiny grid picks a winner
-- and keeps it as the named model
SELECT rank, params, value > 0 AS scored
FROM recsys.tune('bpr', 'train', 'valid', '{"factors": [1, 8]}',
				 fixed => '{"iterations": 30, "learning_rate": 0.1}', model => 'bpr');
SELECT algorithm, params->>'factors' AS factors FROM recsys.models WHERE name = 'bpr';
-- an array in the grid is one value: a list of layer widths
SELECT rank, params, value >= 0 AS scored
FROM recsys.tune('ncf', 'train', 'valid', '{"hidden": [[2], [2, 2]]}',
				 fixed => '{"factors": 2, "iterations": 1}', model => 'ncf');
SELECT algorithm, params->'hidden' AS hidden FROM recsys.models WHERE name = 'ncf';
-- explicit ratings: rmse on the validation ratings, lower is better
SELECT rank, params, value > 0 AND value < 3 AS plausible
FROM recsys.tune('neighborhood', 'train', 'valid', '{"regularization": [0.01, 100]}',
				 fixed => '{"weight_col": "w", "neighbors": 5, "iterations": 5}',
				 metric => 'rmse', weight_col => 'w', model => 'nbr');
SELECT algorithm, params->>'regularization' AS regularization FROM recsys.models WHERE name = 'nbr';
-- a re-ranker: its base is trained first and named in fixed; the
-- candidates re-rank it and are dropped, the base stays
SELECT (recsys.train_cf('train', factors => 8, iterations => 8, model => 'fm_base')).name;
SELECT rank, params, value > 0 AS scored
FROM recsys.tune('fm', 'train', 'valid', '{"base_weight": [0, 1]}',
				 fixed => '{"candidates_from": "fm_base", "factors": 2, "epochs": 2}', model => 'fm');
SELECT name, algorithm, params->>'candidates_from' AS base FROM recsys.models
WHERE name IN ('fm', 'fm_base') ORDER BY name;
-- diversity goes to evaluate (recommend's re-ranking), not to the
-- trainer: the most diverse lists win on ild@10
SELECT rank, params, value > 0 AS scored
FROM recsys.tune('item_knn', 'train', 'valid', '{"diversity": [0, 1]}',
				 fixed => '{"neighbors": 5}', metric => 'ild@10', model => 'knn');
SELECT params ? 'diversity' AS trainer_got_diversity FROM recsys.models WHERE name = 'knn';
SELECT name FROM recsys.models WHERE name LIKE '_recsys_tune%';

-- errors (terse: the context names the backend's own candidate model)
\set VERBOSITY terse
SELECT * FROM recsys.tune('svd', 'train', 'valid', '{"factors": [8]}');
SELECT * FROM recsys.tune('als', 'train', 'valid', '{"factors": 8}');
SELECT * FROM recsys.tune('als', 'train', 'valid', '{"factors": []}');
SELECT * FROM recsys.tune('als', 'train', 'valid', '["factors"]');
SELECT * FROM recsys.tune('als', 'train', 'valid', '{"model": ["x"]}');
SELECT * FROM recsys.tune('als', 'train', 'valid', '{"factors; DROP TABLE train": [8]}');
SELECT * FROM recsys.tune('als', 'train', 'valid', '{"factors": [8]}', metric => 'accuracy');
SELECT * FROM recsys.tune('als', 'train', 'valid', '{"factors": [8]}', metric => 'rmse');
SELECT * FROM recsys.tune('als', 'train', 'valid', '{"factors": [0]}');
SELECT * FROM recsys.tune('als', 'train', NULL, '{"factors": [8]}');
SELECT * FROM recsys.tune('als', 'train', 'valid', '{"factors": [8]}', samples => 0);
-- each trainer's parameters are its own, checked before any training
SELECT * FROM recsys.tune('bpr', 'train', 'valid', '{"alpha": [1]}');
SELECT * FROM recsys.tune('ncf', 'train', 'valid', '{"layers": [[2]]}');
SELECT * FROM recsys.tune('neighborhood', 'train', 'valid', '{"similarity": ["cosine"]}');
SELECT * FROM recsys.tune('fm', 'train', 'valid', '{"epochs": [1]}', fixed => '{"candidates_from": "fm_base", "bogus": 1}');
SELECT * FROM recsys.tune('fm', 'train', 'valid', '{"epochs": [1]}');
-- the base must exist first (the first candidate stops), and the kept
-- model cannot be its own base (refused when it is trained, after the search)
SELECT * FROM recsys.tune('fm', 'train', 'valid', '{"epochs": [1]}', fixed => '{"candidates_from": "no_such_base"}');
SELECT * FROM recsys.tune('fm', 'train', 'valid', '{"epochs": [1]}', fixed => '{"candidates_from": "fm_base", "factors": 2}',
						  model => 'fm_base', replace => true);
SELECT algorithm FROM recsys.models WHERE name = 'fm_base';
SELECT * FROM recsys.tune('item_knn', 'train', 'valid', '{"diversity": ["much"]}');
SELECT * FROM recsys.tune('als', 'train', 'valid', '{"factors": [8]}', metric => 'ild@200', k => 200);
\set VERBOSITY default
SELECT count(*) FROM train;

SELECT recsys.drop_model(name) FROM recsys.models WHERE name IN ('best', 'knn', 'e', 'bpr', 'ncf', 'nbr', 'fm');
SELECT recsys.drop_model('fm_base');
RESET search_path;
DROP SCHEMA tune_test CASCADE;
