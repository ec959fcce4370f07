-- The 0.6.0 SQL surface: one default model name, replace, one argument
-- name per meaning (the 0.5.0 names, deprecated in 0.6.0, are removed in
-- 0.7.0), seed bigint, tune's checks before any training
CREATE SCHEMA surface_test;
SET search_path = surface_test, public;
SET extra_float_digits = 0;
\set SHOW_CONTEXT never

-- four blocks of ten users, each buying its block's ten items
CREATE TABLE ev AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id, 1 + j % 3 AS w
FROM generate_series(1, 40) u, generate_series(0, 8) j;
CREATE TABLE ratings AS SELECT user_id, item_id, (1 + (user_id + item_id) % 5)::real AS stars FROM ev;
CREATE INDEX ON ev (user_id);

-- an error's SQLSTATE, message and hint, on one line
CREATE FUNCTION try(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	state text;
	message text;
	hint text;
BEGIN
	EXECUTE statement;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
	RETURN state || ': ' || message || coalesce(' / ' || nullif(hint, ''), '');
END
$$;

SELECT recsys.drop_model('default', if_exists => true);

-- every trainer trains 'default' when no model is named, so what was
-- trained is what recommend serves
SELECT name, algorithm FROM recsys.train_ease('ev');
SELECT count(*) AS recommended FROM recsys.recommend(1, 3);

-- retraining it under another algorithm is refused by every trainer,
-- naming the model, its algorithm and the one asked for
SELECT try($$SELECT recsys.train_cf('ev', factors => 4, iterations => 2)$$);
SELECT try($$SELECT recsys.train_cf('ratings', factors => 4, iterations => 2, feedback => 'explicit', weight_col => 'stars')$$);
SELECT try($$SELECT recsys.train_popular('ev')$$);
SELECT try($$SELECT recsys.train_item_knn('ev')$$);
SELECT try($$SELECT recsys.train_user_knn('ev')$$);
SELECT name FROM recsys.train_item_knn('ev', model => 'm_knn');
SELECT try($$SELECT recsys.train_blend('{m_knn}')$$);
SELECT try($$SELECT recsys.train_cf('ev', factors => 4, iterations => 2, replace => NULL)$$);
-- the refused model is untouched
SELECT name, algorithm, version FROM recsys.models WHERE name = 'default';
-- the same algorithm retrains without replace
SELECT name, algorithm, version FROM recsys.train_ease('ev', 50);
-- replace => true replaces it: a new version of another algorithm
SELECT name, algorithm, version FROM recsys.train_popular('ev', replace => true);
SELECT name, algorithm, version FROM recsys.train_cf('ev', factors => 4, iterations => 2, replace => true);
SELECT name, algorithm, version FROM recsys.train_blend('{m_knn}', replace => true);
SELECT name, algorithm, version FROM recsys.train_user_knn('ev', replace => true);
SELECT name, algorithm, version FROM recsys.train_item_knn('ev', replace => true);
-- rollback and activate switch algorithms with the version (no replace needed)
SELECT name, algorithm, version FROM recsys.rollback('default');
SELECT name, algorithm, version FROM recsys.activate('default', 7);
SELECT count(*) AS recommended FROM recsys.recommend(1, 3);
-- an older SQL definition (0.5.0's train_popular, no replace) never replaces
CREATE FUNCTION train_popular_050(source regclass, model text, user_col name, item_col name,
	weight_col name, time_col name, half_life interval) RETURNS recsys.models
AS '$libdir/recsys', 'recsys_train_popular' LANGUAGE C;
SELECT try($$SELECT train_popular_050('ev', 'default', 'user_id', 'item_id', NULL, NULL, NULL)$$);
SELECT name, algorithm FROM train_popular_050('ev', 'm_pop', 'user_id', 'item_id', NULL, NULL, NULL);

-- 0.5.0's argument names, deprecated in 0.6.0, are gone in 0.7.0: PostgreSQL
-- finds no function with a parameter of that name
SELECT try($$SELECT recsys.train_cf('ratings', factors => 4, iterations => 2, model => 'm_mf',
									feedback => 'explicit', rating_col => 'stars')$$);
SELECT try($$SELECT recsys.train_ease('ev', model => 'm_ease', lambda => 25)$$);
SELECT params->>'weight_col' AS weight_col, algorithm
FROM recsys.train_cf('ratings', factors => 4, iterations => 2, model => 'm_mf',
					 feedback => 'explicit', weight_col => 'stars');
SELECT try($$SELECT * FROM recsys.evaluate('m_mf', 'ratings', rating_col => 'stars')$$);
SELECT try($$SELECT * FROM recsys.recommend_for_vector(ARRAY[1, 0, 0, 0]::real[], 5, 'm_mf', exclude => '{100, 101}')$$);
SELECT count(*) FILTER (WHERE item_id IN (100, 101)) AS excluded_returned
FROM recsys.recommend_for_vector(ARRAY[1, 0, 0, 0]::real[], 50, 'm_mf', exclude_seen => '{100, 101}');
SELECT try($$SELECT * FROM recsys.tune('als', 'ratings', 'ratings', '{"factors": [2]}', metric => 'rmse',
									   fixed => '{"feedback": "explicit", "iterations": 2}', rating_col => 'stars')$$);
-- nor are they parameters tune passes on
SELECT try($$SELECT * FROM recsys.tune('als', 'ratings', 'ratings', '{"factors": [2]}', metric => 'rmse', weight_col => 'stars',
									   fixed => '{"feedback": "explicit", "rating_col": "stars", "iterations": 2}')$$);
SELECT try($$SELECT * FROM recsys.tune('ease', 'ev', 'ev', '{"lambda": [10]}', model => 'm_tuned_ease')$$);
-- the new names
SELECT rank, value IS NOT NULL AS scored
FROM recsys.tune('als', 'ratings', 'ratings', '{"factors": [2]}', metric => 'rmse', model => 'm_tuned',
				 fixed => '{"feedback": "explicit", "weight_col": "stars", "iterations": 2}', weight_col => 'stars');
SELECT rank FROM recsys.tune('ease', 'ev', 'ev', '{"regularization": [10]}', model => 'm_tuned_ease');
-- 0.6.0's definitions, which a 0.7.0 library serves until ALTER EXTENSION
-- recsys UPDATE, still pass the old names last: given, they are refused,
-- not ignored (the model would be trained on something else than asked)
CREATE FUNCTION train_cf_060(source regclass, factors integer, model text, feedback text,
	iterations integer, regularization double precision, alpha double precision, user_col name,
	item_col name, weight_col name, seed bigint, solver text, regularization_exponent double precision,
	store_users boolean, replace boolean, rating_col name) RETURNS recsys.models
AS '$libdir/recsys', 'recsys_train_cf' LANGUAGE C;
CREATE FUNCTION train_ease_060(source regclass, regularization double precision, model text,
	neighbors integer, user_col name, item_col name, weight_col name, dropout double precision,
	user_exponent double precision, popularity_exponent double precision, time_col name,
	half_life interval, features regclass, feature_weight double precision, epsilon double precision,
	delta double precision, max_user_items integer, seed bigint, replace boolean,
	lambda double precision) RETURNS recsys.models
AS '$libdir/recsys', 'recsys_train_ease' LANGUAGE C;
SELECT try($$SELECT train_cf_060('ratings', 4, 'm_mf', 'explicit', 2, NULL, 1, 'user_id', 'item_id',
								 NULL, 42, NULL, 0, true, false, 'stars')$$);
SELECT try($$SELECT train_ease_060('ev', 200, 'm_ease', NULL, 'user_id', 'item_id', NULL, 0, 0, 0,
								   NULL, NULL, NULL, 0.5, NULL, NULL, NULL, NULL, false, 25)$$);
-- and left out, the call trains as the new definition would
SELECT params->>'weight_col' AS weight_col, algorithm
FROM train_cf_060('ratings', 4, 'm_mf', 'explicit', 2, NULL, 1, 'user_id', 'item_id',
				  'stars', 42, NULL, 0, true, false, NULL);
SELECT params->>'regularization' AS regularization
FROM train_ease_060('ev', 25, 'm_ease', NULL, 'user_id', 'item_id', NULL, 0, 0, 0,
					NULL, NULL, NULL, 0.5, NULL, NULL, NULL, NULL, false, NULL);
-- positional calls keep their meaning (the renamed arguments kept their places)
SELECT params->>'regularization' AS regularization FROM recsys.train_ease('ev', 30, 'm_ease');
SELECT count(*) AS items FROM recsys.recommend_for_vector(ARRAY[1, 0, 0, 0]::real[], 5, 'm_mf', '{100}');
-- seeds are bigint everywhere
SELECT count(*) AS pairs FROM recsys.split_kfold('ev', 5, 5000000000);
SELECT count(*) AS pairs FROM recsys.split_holdout('ev', 0.25, 5000000000);

-- tune checks its metric, parameter names and values before training:
-- the trainer's own error (factors 0) never comes
SELECT try($$SELECT * FROM recsys.tune('als', 'ev', 'ev', '{"factors": [0]}', metric => 'ndcg@5')$$);
SELECT try($$SELECT * FROM recsys.tune('als', 'ev', 'ev', '{"factors": [0]}', metric => 'recall')$$);
SELECT try($$SELECT * FROM recsys.tune('als', 'ev', 'ev', '{"factors": [0], "regularisation": [1]}')$$);
SELECT try($$SELECT * FROM recsys.tune('als', 'ev', 'ev', '{"factors": [0, "many"]}')$$);
SELECT try($$SELECT * FROM recsys.tune('als', 'ev', 'ev', '{"factors": [0]}', fixed => '{"store_users": "sometimes"}')$$);
SELECT try($$SELECT * FROM recsys.tune('als', 'ev', 'ev', '{"factors": [0]}', fixed => '{"replace": true}')$$);
SELECT try($$SELECT * FROM recsys.tune('blend', 'ev', 'ev', '{"weights": [[1, "x"]]}', fixed => '{"members": ["m_knn"]}')$$);
-- tune keeps its winner as 'default' too, and refuses to change its algorithm unless replace
SELECT try($$SELECT * FROM recsys.tune('ease', 'ev', 'ev', '{"regularization": [10]}')$$);
SELECT count(*) AS candidates FROM recsys.tune('ease', 'ev', 'ev', '{"regularization": [10]}', replace => true);
SELECT name, algorithm FROM recsys.models WHERE name = 'default';

SELECT count(*) FROM (SELECT recsys.drop_model(name) FROM recsys.models
					  WHERE name IN ('default', 'm_knn', 'm_pop', 'm_mf', 'm_ease', 'm_tuned', 'm_tuned_ease')) d;
DROP SCHEMA surface_test CASCADE;
