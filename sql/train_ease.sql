-- recsys.train_ease: Steck's EASE (and DLAE with dropout), served like item-kNN
CREATE SCHEMA ease_test;
SET search_path = ease_test, public;
SET extra_float_digits = 0;

-- users 1-10 buy from items 100-109, users 11-20 from 110-119; each misses one
CREATE TABLE purchases AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id
FROM generate_series(1, 20) u, generate_series(0, 9) j
WHERE j <> u % 10;
CREATE INDEX ON purchases (user_id);

SELECT name, algorithm, n_users, n_items, params->>'lambda' AS lambda, params->>'binary' AS binary,
	   params->>'neighbors' AS neighbors
FROM recsys.train_ease('purchases', 10, model => 'ease');
-- every user's first recommendation is the item missing from their group
SELECT count(*) FILTER (WHERE r.item_id = 100 + 10 * ((u - 1) / 10) + u % 10) AS missing_first, count(*)
FROM generate_series(1, 20) u, LATERAL recsys.recommend(u, 1, 'ease') r;
-- B has a zero diagonal: an item is never its own neighbour; all 19 others are kept
SELECT count(*) FILTER (WHERE item_id = neighbor_id) AS self, max(rank) AS longest
FROM recsys.item_neighbors WHERE model = 'ease';
-- the weights within a group are positive, across groups they are not
SELECT bool_and(score > 0) FILTER (WHERE (item_id - 100) / 10 = (neighbor_id - 100) / 10) AS within_positive,
	   bool_and(score <= 0) FILTER (WHERE (item_id - 100) / 10 <> (neighbor_id - 100) / 10) AS across_not
FROM recsys.item_neighbors WHERE model = 'ease';
-- truncated lists and the DLAE dropout
SELECT params->>'neighbors' AS neighbors, params->>'dropout' AS dropout
FROM recsys.train_ease('purchases', 10, model => 'ease', neighbors => 5, dropout => 0.25);
SELECT max(rank) AS longest FROM recsys.item_neighbors WHERE model = 'ease' AND version = 2;
-- explain: the user's items and their weights towards the item
SELECT round(recsys.score(3, 103, 'ease')::numeric, 4) =
	   round((SELECT sum(contribution) FROM recsys.explain(3, 103, 100, 'ease'))::numeric, 4) AS explain_adds_up;

-- errors
SELECT recsys.train_ease('purchases', 0);
SELECT recsys.train_ease('purchases', 'NaN');
SELECT recsys.train_ease('purchases', NULL);
SELECT recsys.train_ease('purchases', 10, neighbors => 0);
SELECT recsys.train_ease('purchases', 10, dropout => 1);
SELECT recsys.train_ease(NULL);
SELECT recsys.train_ease('purchases', 10, weight_col => 'stars');
CREATE TABLE nothing (user_id int, item_id int);
SELECT recsys.train_ease('nothing');
-- the dense item x item matrix must fit recsys.max_memory
CREATE TABLE wide AS SELECT u AS user_id, i AS item_id FROM generate_series(1, 3) u, generate_series(1, 3000) i;
SET recsys.max_memory = '16MB';
SELECT recsys.train_ease('wide', model => 'wide');
RESET recsys.max_memory;

SELECT recsys.drop_model('ease');
RESET search_path;
DROP SCHEMA ease_test CASCADE;
