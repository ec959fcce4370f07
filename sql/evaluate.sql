-- recsys.evaluate: ranking and rating metrics, checked against hand computation
CREATE SCHEMA evaluate_test;
SET search_path = evaluate_test, public;

-- Training data: item popularity 1 (3 users) > 2 (2) > 3 (1) = 4 (1, larger id)
CREATE TABLE train (user_id int, item_id int);
INSERT INTO train VALUES (1, 1), (2, 1), (2, 2), (3, 1), (3, 2), (3, 3), (4, 4);
CREATE INDEX ON train (user_id);
CREATE TABLE test (user_id int, item_id int);
INSERT INTO test VALUES (1, 2), (1, 9), (2, 4), (3, 4), (5, 1);
SELECT version FROM recsys.train_popular('train', model => 'pop');

-- By hand, k = 2 (seen items excluded; item 9 is unknown but still relevant):
--   user 1: list [2, 3], relevant {2, 9}: hits 1 at rank 1
--     P = 1/2, R = 1/2, DCG = 1, IDCG = 1 + 1/log2(3) = 1.6309, NDCG = 0.6131,
--     AP = (1/1) / min(2, 2) = 0.5, MRR = 1
--   user 2: list [3, 4], relevant {4}: hit at rank 2
--     P = 1/2, R = 1, NDCG = (1/log2(3)) / 1 = 0.6309, AP = (1/2) / 1 = 0.5, MRR = 1/2
--   user 3: list [4] (the catalog runs out), relevant {4}: hit at rank 1
--     P = 1/2 (hits / k), R = 1, NDCG = 1, AP = 1, MRR = 1
--   user 5 has no training rows: skipped.
-- Means over 3 users: precision 0.5, recall 0.8333, ndcg 0.7480, map 0.6667,
-- hit_rate 1, mrr 0.8333; coverage |{2, 3, 4}| / 4 items = 0.75.
-- ild (1 - cosine of the items' buyer sets in train: 1 {1,2,3}, 2 {2,3},
-- 3 {3}, 4 {4}): user 1 1 - 1/sqrt(2) = 0.2929, user 2 1 - 0 = 1, user 3
-- has one item (left out): ild@2 = 0.6464.
SELECT metric, round(value::numeric, 4) AS value FROM recsys.evaluate('pop', 'test', k => 2)
WHERE metric <> 'seconds';
SELECT value >= 0 AS timed FROM recsys.evaluate('pop', 'test') WHERE metric = 'seconds';
SELECT metric FROM recsys.evaluate('pop', 'test', 5) WHERE metric LIKE '%@%';

-- An explicit model written by hand: mu = 3, one factor, ratings 1..5.
--   user 1: b = 0.5, x = 1;  item 10: b = -0.5, y = 0.5;  item 11: b = 0, y = -1
--   (1, 10, 3.5): 3 + 0.5 - 0.5 + 0.5 = 3.5, error 0
--   (1, 11, 2):   3 + 0.5 + 0 - 1 = 2.5, error 0.5
--   (2, 10, 2):   unknown user: 3 - 0.5 = 2.5, error 0.5
--   (1, 99, 4):   unknown item: 3 + 0.5 = 3.5, error -0.5
--   rmse = sqrt(0.75 / 4) = 0.4330, mae = 1.5 / 4 = 0.375
CREATE TABLE ratings (user_id int, item_id int, rating real);
INSERT INTO ratings VALUES (1, 10, 4), (3, 11, 3);
INSERT INTO recsys.models (name, version, algorithm, source, params, stats, n_users, n_items)
	VALUES ('stars', 1, 'mf', 'evaluate_test.ratings',
			'{"factors": 1, "feedback": "explicit", "user_col": "user_id", "item_col": "item_id", "weight_col": "rating"}',
			'{"global_mean": 3, "rating_min": 1, "rating_max": 5}', 1, 2);
INSERT INTO recsys.model_versions (model, version, algorithm, source) VALUES ('stars', 1, 'mf', 'evaluate_test.ratings');
INSERT INTO recsys.item_stats VALUES ('stars', 1, 10, 1, 4, 1), ('stars', 1, 11, 1, 3, 1);
INSERT INTO recsys.user_factors VALUES ('stars', 1, 1, 0.5, '{1}');
INSERT INTO recsys.item_factors VALUES ('stars', 1, 10, -0.5, '{0.5}'), ('stars', 1, 11, 0, '{-1}');
CREATE TABLE rating_test (user_id int, item_id int, stars real);
INSERT INTO rating_test VALUES (1, 10, 3.5), (1, 11, 2), (2, 10, 2), (1, 99, 4);
SELECT metric, round(value::numeric, 4) AS value
FROM recsys.evaluate('stars', 'rating_test', weight_col => 'stars')
WHERE metric IN ('rmse', 'mae', 'users', 'skipped_users');
-- the predictions evaluate scores are the ones score() returns
SELECT recsys.score(1, 10, 'stars') AS known, recsys.score(1, 11, 'stars') AS other;

-- a trained model end to end: ALS on blocks beats popularity
CREATE TABLE blocks AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id
FROM generate_series(1, 30) u, generate_series(0, 9) j;
CREATE TABLE blocks_train AS
SELECT b.* FROM blocks b JOIN recsys.split_holdout('blocks', 0.2) s USING (user_id, item_id) WHERE NOT s.is_test;
CREATE TABLE blocks_test AS
SELECT b.* FROM blocks b JOIN recsys.split_holdout('blocks', 0.2) s USING (user_id, item_id) WHERE s.is_test;
SELECT version FROM recsys.train_cf('blocks_train', factors => 4, model => 'blocks_als');
SELECT version FROM recsys.train_popular('blocks_train', model => 'blocks_pop');
SELECT (SELECT value FROM recsys.evaluate('blocks_als', 'blocks_test') WHERE metric = 'recall@10') >
	   (SELECT value FROM recsys.evaluate('blocks_pop', 'blocks_test') WHERE metric = 'recall@10') AS als_wins,
	   (SELECT value FROM recsys.evaluate('blocks_als', 'blocks_test') WHERE metric = 'hit_rate@10') AS als_hit_rate;

-- errors
SELECT * FROM recsys.evaluate('nope', 'test');
SELECT * FROM recsys.evaluate(NULL, 'test');
SELECT * FROM recsys.evaluate('pop', NULL);
SELECT * FROM recsys.evaluate('pop', 'test', k => 0);
SELECT * FROM recsys.evaluate('pop', 'test', k => 1001);
SELECT * FROM recsys.evaluate('pop', 'test', user_col => 'customer');
SELECT * FROM recsys.evaluate('pop', 'test', weight_col => 'item_id');
CREATE TABLE text_test (user_id int, item_id text);
SELECT * FROM recsys.evaluate('pop', 'text_test');
INSERT INTO rating_test VALUES (1, 10, 5);
SELECT * FROM recsys.evaluate('stars', 'rating_test', weight_col => 'stars');

SELECT recsys.drop_model(name) FROM recsys.models WHERE name IN ('pop', 'stars', 'blocks_als', 'blocks_pop');
RESET search_path;
DROP SCHEMA evaluate_test CASCADE;
