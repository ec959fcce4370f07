-- recsys.fold_in is linear-logarithmic in a group's rows: 200,000 distinct
-- items in descending order (each a sorted insert that moved the whole
-- state, and a check of the whole state per row: 16.5 s at 80,000 in the
-- review; about 30 s here) finish well inside a 5 s statement_timeout
-- (under a second), and the order of
-- the rows does not change the vector (each item's weights are summed in
-- the order its rows come, whatever the order of the items).
SET client_min_messages = warning;
CREATE TABLE fis_events AS
	SELECT u AS user_id, (u * 7 + j * 13) % 50 AS item_id FROM generate_series(1, 60) u, generate_series(1, 6) j;
SELECT 1 FROM recsys.train_cf('fis_events', model => 'fis_als', factors => 4, iterations => 3, seed => 1);
RESET client_min_messages;
SET statement_timeout = '5s';
-- every item of the model is among the 200,000 (ids 0-49), the others unknown: the
-- vector equals the one of the model's items alone, by construction
SELECT recsys.fold_in(i, (1 + i % 3)::real, 'fis_als') = (
		SELECT recsys.fold_in(i, (1 + i % 3)::real, 'fis_als') FROM generate_series(0, 49) i)
	   AS descending_same
FROM (SELECT i FROM generate_series(1, 200000) i UNION ALL SELECT 0 ORDER BY 1 DESC) g(i);
-- items seen many times in a shuffled order sum to the same weights as in order
SELECT (SELECT recsys.fold_in(g % 50, 0.5, 'fis_als') FROM generate_series(1, 20000) g)
	 = (SELECT recsys.fold_in(item, weight, 'fis_als') FROM (
			SELECT g % 50 AS item, 0.5::real AS weight FROM generate_series(1, 20000) g ORDER BY g % 50, g) o)
	   AS repeats_same,
	   (SELECT recsys.fold_in(g % 50, 0.5, 'fis_als') FROM generate_series(1, 20000) g)
	 = (SELECT recsys.fold_in(i, 200, 'fis_als') FROM generate_series(0, 49) i) AS sums_by_hand;
-- many groups at once (hash aggregation): a vector for each of the 49 users
-- (1-49) whose rows hold a model item (ids 1-49), by construction
SELECT count(*) AS users, count(v) AS vectors
FROM (SELECT g % 1000 AS u, recsys.fold_in(g, 1, 'fis_als') AS v
	  FROM generate_series(1, 200000) g GROUP BY 1) s;
RESET statement_timeout;
SELECT recsys.drop_model('fis_als');
DROP TABLE fis_events;
