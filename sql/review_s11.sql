-- Findings of session 11's hostile reviews, each fixed: the case that
-- failed (crash, wrong answer or unclear error) and what it gives now.
SET client_min_messages = warning;
CREATE SCHEMA review_s11;
SET search_path = review_s11, public;
CREATE FUNCTION err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
CREATE TABLE ev (user_id bigint, item_id bigint);
INSERT INTO ev SELECT u, i FROM generate_series(1, 30) u, generate_series(1, 10) i WHERE (u + i) % 3 <> 0;
CREATE TABLE feat (item_id bigint, feature text);
INSERT INTO feat SELECT i, CASE WHEN i <= 5 THEN 'tea' ELSE 'cake' END FROM generate_series(1, 10) i;
INSERT INTO feat VALUES (101, 'tea'), (102, 'cake');

-- F1: refresh_items of a cold re-ranker whose item_stats rows were deleted
-- by hand crashed the server (a NULL array read as one); now it is damaged
SELECT name FROM recsys.train_cold_ranker('ev', 'feat', model => 'rv_cr', coefficients => '{0,1,0,0}', regularization => 1);
BEGIN;
DELETE FROM recsys.item_stats WHERE model = 'rv_cr';
SELECT err($$SELECT recsys.refresh_items('rv_cr')$$);
ROLLBACK;
SELECT count(*) > 0 AS still_serves FROM recsys.recommend(1, 2, 'rv_cr');

-- F8: a model first read inside a transaction that edited its tables kept
-- serving the edit after ROLLBACK (the catalog row, which the cache
-- checks, did not change); now the copy is dropped when the transaction
-- or the savepoint rolls back
SELECT name FROM recsys.train_item_knn('ev', model => 'rv_knn', neighbors => 5);
BEGIN;
UPDATE recsys.item_neighbor_lists SET scores = ARRAY(SELECT s * 1000 FROM unnest(scores) s) WHERE model = 'rv_knn';
SELECT max(score) > 100 AS edited_in_transaction FROM recsys.recommend(1, 3, 'rv_knn');
ROLLBACK;
SELECT max(score) < 100 AS committed_after_rollback FROM recsys.recommend(1, 3, 'rv_knn');
-- the same with a savepoint, for a model not read before in this session
SELECT name FROM recsys.train_item_knn('ev', model => 'rv_knn2', neighbors => 5);
BEGIN;
SAVEPOINT s;
UPDATE recsys.item_neighbor_lists SET scores = ARRAY(SELECT s * 1000 FROM unnest(scores) s) WHERE model = 'rv_knn2';
SELECT max(score) > 100 AS edited_after_savepoint FROM recsys.recommend(2, 3, 'rv_knn2');
ROLLBACK TO SAVEPOINT s;
SELECT max(score) < 100 AS committed_after_rollback_to_savepoint FROM recsys.recommend(2, 3, 'rv_knn2');
COMMIT;
-- a committed edit read by the writing transaction is kept: it is the data now
SELECT name FROM recsys.train_item_knn('ev', model => 'rv_knn3', neighbors => 5);
BEGIN;
UPDATE recsys.item_neighbor_lists SET scores = ARRAY(SELECT s * 1000 FROM unnest(scores) s) WHERE model = 'rv_knn3';
SELECT max(score) > 100 AS edited FROM recsys.recommend(3, 3, 'rv_knn3');
COMMIT;
SELECT max(score) > 100 AS committed_edit_served, (SELECT loads FROM recsys.cache_stats() WHERE model = 'rv_knn3') AS loads
FROM recsys.recommend(3, 3, 'rv_knn3');

SELECT count(*) AS dropped FROM recsys.models m, LATERAL recsys.drop_model(m.name) WHERE m.name LIKE 'rv\_%';
DROP SCHEMA review_s11 CASCADE;
