-- Model kinds (src/model.h, RsModelKind): every serving entry point asks
-- the model's kind; an action a kind has no callback for gets one error,
-- FEATURE_NOT_SUPPORTED, naming the model, its algorithm and the action,
-- with a hint listing the algorithms that support it.
CREATE SCHEMA kinds_test;
SET search_path = kinds_test, public;
SET extra_float_digits = 0;

CREATE TABLE buys (user_id bigint, item_id bigint);
INSERT INTO buys VALUES (1, 10), (1, 20), (2, 10), (2, 30), (3, 20), (3, 30), (4, 10), (4, 20), (4, 30);
CREATE INDEX ON buys (user_id);

SELECT algorithm FROM recsys.train_popular('buys', model => 'kinds_pop', user_col => 'user_id', item_col => 'item_id');
SELECT algorithm FROM recsys.train_user_knn('buys', model => 'kinds_users');
SELECT algorithm FROM recsys.train_item_knn('buys', model => 'kinds_items');

-- what a popularity model serves: everybody, every session alike
SELECT item_id, score FROM recsys.recommend(1, 3, 'kinds_pop');
SELECT recsys.score(1, 30, 'kinds_pop') AS score_30;
SELECT item_id, score FROM recsys.recommend_session(ARRAY[10], 3, 'kinds_pop');

-- and what it and the others do not: one error each, sqlstate 0A000
\set VERBOSITY default
SELECT * FROM recsys.similar_items(10, 3, 'kinds_pop');
SELECT * FROM recsys.explain(1, 30, 3, 'kinds_users');
SELECT * FROM recsys.recommend_session(ARRAY[10], 3, 'kinds_users');
SELECT * FROM recsys.recommend_for_vector(ARRAY[1, 2]::real[], 3, 'kinds_items');
SELECT recsys.refresh_user(1, 'kinds_pop');
SELECT recsys.fold_in(item_id, 1, 'kinds_users') FROM buys WHERE user_id = 1;
\set VERBOSITY terse
DO $$
BEGIN
	PERFORM * FROM recsys.similar_items(10, 3, 'kinds_users');
EXCEPTION WHEN feature_not_supported THEN
	RAISE NOTICE 'feature_not_supported: %', SQLERRM;
END $$;

SELECT recsys.drop_model(m) FROM unnest(ARRAY['kinds_pop', 'kinds_users', 'kinds_items']) m;
DROP SCHEMA kinds_test CASCADE;
