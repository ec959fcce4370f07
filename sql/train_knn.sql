-- recsys.train_item_knn and recsys.train_user_knn: neighbourhood models
CREATE SCHEMA knn_test;
SET search_path = knn_test, public;
SET extra_float_digits = 0;

-- users 1-10 buy from items 100-109, users 11-20 from 110-119; each user
-- misses one item of their group
CREATE TABLE purchases AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id, 1 + j % 2 AS qty
FROM generate_series(1, 20) u, generate_series(0, 9) j
WHERE j <> u % 10;
CREATE INDEX ON purchases (user_id);

-- a tiny case worked by hand: users 1: {a, b}, 2: {a, b, c}, 3: {c}
-- cosine(a, b) = 2 / (sqrt 2 * sqrt 2) = 1; cosine(a, c) = 1 / (sqrt 2 * sqrt 2) = 0.5
-- jaccard(a, c) = |{2}| / |{1, 2, 3}| = 1/3
CREATE TABLE tiny (user_id int, item_id int);
INSERT INTO tiny VALUES (1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (3, 3);
SELECT name, algorithm, n_users, n_items, stats->>'neighbor_pairs' AS pairs
FROM recsys.train_item_knn('tiny', model => 'tiny_cos');
SELECT item_id, neighbor_id, round(score::numeric, 4) AS score
FROM recsys.item_neighbors WHERE model = 'tiny_cos' ORDER BY item_id, score DESC, neighbor_id;
SELECT version FROM recsys.train_item_knn('tiny', model => 'tiny_jac', similarity => 'jaccard');
SELECT item_id, neighbor_id, round(score::numeric, 4) AS score
FROM recsys.item_neighbors WHERE model = 'tiny_jac' ORDER BY item_id, score DESC, neighbor_id;
-- support shrinkage pulls rarely co-occurring pairs down: sim * n / (n + 1)
SELECT version FROM recsys.train_item_knn('tiny', model => 'tiny_cos', shrinkage => 1);
SELECT item_id, neighbor_id, round(score::numeric, 4) AS score
FROM recsys.item_neighbors WHERE model = 'tiny_cos' AND version = 2 ORDER BY item_id, score DESC, neighbor_id;
-- user-kNN: cosine(1, 2) = 2 / (sqrt 2 * sqrt 3) = 0.8165, cosine(2, 3) = 1 / sqrt 3 = 0.5774
SELECT version FROM recsys.train_user_knn('tiny', model => 'tiny_users');
SELECT user_id, neighbor_id, round(score::numeric, 4) AS score
FROM recsys.user_neighbors WHERE model = 'tiny_users' ORDER BY user_id, score DESC, neighbor_id;

-- every similarity recommends each user the missing item of their group first
SELECT version FROM recsys.train_item_knn('purchases', neighbors => 20, model => 'cos');
SELECT version FROM recsys.train_item_knn('purchases', neighbors => 20, model => 'jac', similarity => 'jaccard');
SELECT version FROM recsys.train_item_knn('purchases', neighbors => 20, model => 'bm25', similarity => 'bm25',
										  weight_col => 'qty');
SELECT version FROM recsys.train_user_knn('purchases', neighbors => 5, model => 'users');
SELECT m.name, count(*) FILTER (WHERE r.item_id = 100 + 10 * ((u - 1) / 10) + u % 10) AS missing_first,
	   count(*) AS users
FROM (VALUES ('cos'), ('jac'), ('bm25'), ('users')) m(name), generate_series(1, 20) u,
	 LATERAL recsys.recommend(u, 1, m.name) r
GROUP BY m.name ORDER BY m.name;

-- neighbour lists hold at most `neighbors` entries, never the item itself
SELECT version FROM recsys.train_item_knn('purchases', neighbors => 5, model => 'cos5');
SELECT max(n) AS longest, bool_and(NOT self) AS no_self FROM (
	SELECT item_id, count(*) AS n, bool_or(item_id = neighbor_id) AS self
	FROM recsys.item_neighbors WHERE model = 'cos5' GROUP BY item_id) s;

-- kNN scores come from the user's items in the source as it is now: a user
-- the model never saw gets recommendations as soon as they buy something
SELECT count(*) FROM recsys.recommend(99, 3, 'cos');
INSERT INTO purchases VALUES (99, 112, 1);
SELECT count(*) FILTER (WHERE item_id BETWEEN 110 AND 119) AS same_group
FROM recsys.recommend(99, 3, 'cos');
DELETE FROM purchases WHERE user_id = 99;

-- similar_items reads the stored neighbours; score and explain agree
SELECT count(*) FILTER (WHERE item_id BETWEEN 110 AND 119) AS same_group, count(*)
FROM recsys.similar_items(115, 5, 'cos');
SELECT round(recsys.score(3, 103, 'cos')::numeric, 4) =
	   round((SELECT sum(contribution) FROM recsys.explain(3, 103, 100, 'cos'))::numeric, 4) AS explain_adds_up;
SELECT count(*) > 0 AS explained FROM recsys.explain(3, 103, 3, 'cos');
-- user-kNN has no item similarities
SELECT * FROM recsys.similar_items(115, 5, 'users');

-- item-kNN with time_col and half_life: user 21 bought two group-A items
-- in 2020 and one group-B item in 2026; with a 30-day half-life the old
-- ones count 0.5^73, so group B comes first
CREATE TABLE timed AS SELECT user_id, item_id, date '2026-01-01' AS day FROM purchases;
INSERT INTO timed VALUES (21, 100, '2020-01-01'), (21, 101, '2020-01-01'), (21, 110, '2026-01-01');
SELECT params->>'time_col' AS time_col, params->>'half_life_seconds' AS half_life_seconds
FROM recsys.train_item_knn('timed', 5, model => 'knn_recent', time_col => 'day', half_life => '30 days');
SELECT (recsys.train_item_knn('timed', 5, model => 'knn_all')).name;
SELECT (SELECT (item_id - 100) / 10 FROM recsys.recommend(21, 1, 'knn_all')) AS group_all_history,
	   (SELECT (item_id - 100) / 10 FROM recsys.recommend(21, 1, 'knn_recent')) AS group_recent_first;
SELECT recsys.train_item_knn('timed', 5, model => 'knn_recent', time_col => 'day');
SELECT recsys.drop_model('knn_recent'), recsys.drop_model('knn_all');

-- errors
SELECT recsys.train_item_knn('purchases', neighbors => 0);
SELECT recsys.train_item_knn('purchases', neighbors => 1001);
SELECT recsys.train_item_knn('purchases', similarity => 'pearson');
SELECT recsys.train_item_knn('purchases', shrinkage => -1);
SELECT recsys.train_item_knn('purchases', similarity => 'bm25', bm25_b => 2);
SELECT recsys.train_item_knn('purchases', similarity => NULL);
SELECT recsys.train_item_knn(NULL);
SELECT recsys.train_item_knn('purchases', model => '');
SELECT recsys.train_user_knn('purchases', neighbors => NULL);
SELECT recsys.train_user_knn('purchases', item_col => 'product');
CREATE TABLE nobody (user_id int, item_id int);
SELECT recsys.train_item_knn('nobody');
SELECT recsys.train_user_knn('nobody');

SELECT recsys.drop_model(name) FROM recsys.models
WHERE name IN ('tiny_cos', 'tiny_jac', 'tiny_users', 'cos', 'cos5', 'jac', 'bm25', 'users');
RESET search_path;
DROP SCHEMA knn_test CASCADE;
