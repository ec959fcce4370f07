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

-- evaluate scores a user-kNN model from the training rows it has read
-- (no query per user): the same metrics as recommend() reading the
-- neighbours' items from the source, computed here in SQL
CREATE TABLE rich AS
SELECT u AS user_id, (u * 7 + j * 3) % 40 AS item_id, 1 + (u * j) % 4 AS qty
FROM generate_series(1, 60) u, generate_series(0, 11) j;
CREATE TABLE rich_test AS SELECT * FROM rich WHERE (user_id * 3 + item_id) % 5 = 0;
CREATE TABLE rich_train AS SELECT * FROM rich WHERE (user_id * 3 + item_id) % 5 <> 0;
CREATE INDEX ON rich_train (user_id);
SELECT version FROM recsys.train_user_knn('rich_train', neighbors => 10, model => 'rich_users',
										  weight_col => 'qty');
WITH lists AS (
	SELECT t.user_id, r.item_id, r.ord, r.item_id IN (SELECT x.item_id FROM rich_test x WHERE x.user_id = t.user_id) AS hit
	FROM (SELECT DISTINCT user_id FROM rich_test) t,
		 LATERAL recsys.recommend(t.user_id, 10, 'rich_users') WITH ORDINALITY AS r(item_id, score, reason, ord)
), per_user AS (
	SELECT l.user_id, count(*) FILTER (WHERE hit) AS hits,
		   sum(CASE WHEN hit THEN 1 / log(2, ord + 1) ELSE 0 END) AS dcg,
		   (SELECT count(*) FROM rich_test x WHERE x.user_id = l.user_id) AS relevant
	FROM lists l GROUP BY l.user_id
), by_hand AS (
	SELECT avg(hits / 10.0) AS precision, avg(hits::float8 / relevant) AS recall,
		   avg((hits > 0)::int) AS hit_rate,
		   avg(dcg / (SELECT sum(1 / log(2, g + 1)) FROM generate_series(1, least(10, relevant)) g)) AS ndcg
	FROM per_user
), evaluated AS (
	SELECT max(value) FILTER (WHERE metric = 'precision@10') AS precision,
		   max(value) FILTER (WHERE metric = 'recall@10') AS recall,
		   max(value) FILTER (WHERE metric = 'hit_rate@10') AS hit_rate,
		   max(value) FILTER (WHERE metric = 'ndcg@10') AS ndcg
	FROM recsys.evaluate('rich_users', 'rich_test')
)
SELECT round(e.ndcg::numeric, 4) AS ndcg, abs(e.precision - h.precision) < 1e-9 AS same_precision,
	   abs(e.recall - h.recall) < 1e-9 AS same_recall, abs(e.hit_rate - h.hit_rate) < 1e-9 AS same_hit_rate,
	   abs(e.ndcg - h.ndcg) < 1e-9 AS same_ndcg
FROM evaluated e, by_hand h;

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
