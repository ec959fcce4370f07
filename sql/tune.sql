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
\set VERBOSITY default
SELECT count(*) FROM train;

SELECT recsys.drop_model(name) FROM recsys.models WHERE name IN ('best', 'knn', 'e');
RESET search_path;
DROP SCHEMA tune_test CASCADE;
