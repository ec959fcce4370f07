-- recsys.split_kfold, split_holdout, split_last: reproducible splits in SQL
CREATE SCHEMA split_test;
SET search_path = split_test, public;

CREATE TABLE ratings (user_id int, item_id int, rating real, ts int);
-- user 1 has 8 pairs, user 2 has 3 (too few to split), user 3 has 12
INSERT INTO ratings
SELECT 1, i, 4, 100 + i FROM generate_series(1, 8) i
UNION ALL SELECT 2, i, 3, 200 + i FROM generate_series(1, 3) i
UNION ALL SELECT 3, i, 5, 1000 - i FROM generate_series(1, 12) i;
INSERT INTO ratings VALUES (3, 1, 5, 2000);	-- a repeat: pairs count once, latest time
INSERT INTO ratings VALUES (NULL, 1, 1, 1);	-- skipped

-- k-fold: every pair in exactly one fold, folds of equal size (+-1), the
-- order given by md5('42:' || user || ':' || item)
SELECT fold, count(*) FROM recsys.split_kfold('ratings', folds => 3) GROUP BY fold ORDER BY fold;
SELECT count(*) = count(DISTINCT (user_id, item_id)) AS one_fold_each FROM recsys.split_kfold('ratings');
SELECT user_id, item_id, fold FROM recsys.split_kfold('ratings', folds => 3)
ORDER BY md5('42:' || user_id || ':' || item_id) COLLATE "C" LIMIT 4;

-- hold-out: 8 pairs -> floor((3 * 8 + 2) / 4) = 6 train, 2 test; 3 pairs -> all
-- train; 12 pairs -> 9 train, 3 test.  Test pairs are the last in md5 order.
SELECT user_id, count(*) FILTER (WHERE is_test) AS test, count(*) FILTER (WHERE NOT is_test) AS train
FROM recsys.split_holdout('ratings') GROUP BY user_id ORDER BY user_id;
SELECT bool_and(is_test = (rank > 6)) AS last_in_hash_order FROM (
	SELECT is_test, row_number() OVER (ORDER BY md5('42:1:' || item_id) COLLATE "C") AS rank
	FROM recsys.split_holdout('ratings') WHERE user_id = 1) s;
-- another seed, another split of the same sizes
SELECT count(*) FILTER (WHERE a.is_test <> b.is_test) > 0 AS differs
FROM recsys.split_holdout('ratings') a JOIN recsys.split_holdout('ratings', seed => 7) b USING (user_id, item_id);

-- leave-last-n-out: user 3's latest pairs (item 1 at time 2000, then items 2, 3, ...
-- which are newer the smaller they are); users with fewer than 10 pairs keep all
SELECT user_id, array_agg(item_id ORDER BY item_id) FILTER (WHERE is_test) AS test, count(*) AS pairs
FROM recsys.split_last('ratings', 'ts', n => 3) GROUP BY user_id ORDER BY user_id;

-- a train table built from a split, as a user would
CREATE TABLE train AS
SELECT r.* FROM ratings r JOIN recsys.split_holdout('ratings') s USING (user_id, item_id) WHERE NOT s.is_test;
SELECT count(*) FROM train;

-- errors
SELECT * FROM recsys.split_kfold('ratings', folds => 1);
SELECT * FROM recsys.split_kfold('ratings', folds => NULL);
SELECT * FROM recsys.split_kfold('ratings', user_col => 'customer');
SELECT * FROM recsys.split_holdout('ratings', test_fraction => 1);
SELECT * FROM recsys.split_holdout('ratings', min_interactions => 1);
SELECT * FROM recsys.split_last('ratings', NULL);
SELECT * FROM recsys.split_last('ratings', 'ts', n => 0);
SELECT * FROM recsys.split_last('ratings', 'ts', n => 5, min_interactions => 5);
SELECT * FROM recsys.split_last('ratings', 'shipped');

-- review s8, 6 and 8: split_last checks time_col as the trainers do, and
-- never holds out a pair with no time.  By construction user 1 has items
-- 1..11 at days 1..11, except item 11 with no time: with n 2 the test is
-- items 9 and 10 (before: 11, sorted as the latest, and 10)
CREATE TABLE timed (user_id bigint, item_id bigint, at timestamptz, label text, big numeric);
INSERT INTO timed SELECT 1, i, CASE WHEN i < 11 THEN '2026-01-01'::timestamptz + i * interval '1 day' END, 'x', i
FROM generate_series(1, 11) i;
SELECT item_id FROM recsys.split_last('timed', 'at', 2, 10) WHERE is_test ORDER BY item_id;
SELECT count(*) FILTER (WHERE NOT is_test) AS train FROM recsys.split_last('timed', 'at', 2, 10);
-- s16: pairs are made distinct by sorting (DISTINCT ON), and a pair's
-- time is still its latest one that is not NULL: item 10 logged again
-- without a time, item 9 again earlier, the test is still items 9 and 10
-- (a descending sort puts NULLs first unless told otherwise: 8 and 9)
INSERT INTO timed VALUES (1, 10, NULL, 'x', 10), (1, 9, '2026-01-01', 'x', 9);
SELECT item_id FROM recsys.split_last('timed', 'at', 2, 10) WHERE is_test ORDER BY item_id;
SELECT count(*) AS pairs, count(*) FILTER (WHERE is_test) AS test FROM recsys.split_last('timed', 'at', 2, 10);
SELECT count(*) AS pairs FROM recsys.split_holdout('timed');
SELECT count(*) AS pairs FROM recsys.split_kfold('timed');
DELETE FROM timed WHERE (item_id = 10 AND at IS NULL) OR (item_id = 9 AND at = '2026-01-01');
-- a column that holds no time (42804), an infinite time (22023)
SELECT * FROM recsys.split_last('timed', 'label', 2, 10);
SELECT * FROM recsys.split_last('timed', 'user_id', 2, 10) LIMIT 0;
UPDATE timed SET at = 'infinity' WHERE item_id = 1;
SELECT * FROM recsys.split_last('timed', 'at', 2, 10);
-- an id column that is not an integer (42804, as trainers; before: a numeric
-- 1e30 gave "bigint out of range" naming no column)
UPDATE timed SET at = '2026-01-01', big = 1e30 WHERE item_id = 1;
SELECT * FROM recsys.split_last('timed', 'at', 2, 10, user_col => 'big');
SELECT * FROM recsys.split_holdout('timed', item_col => 'label');
SELECT * FROM recsys.split_kfold('timed', item_col => 'big');
-- (the internal check knows two kinds of column: id and weight)
SELECT recsys._require_column_type('timed', 'big', 'weight_col', 'weight');
SELECT recsys._require_column_type('timed', 'big', 'x_col', 'other');

RESET search_path;
DROP SCHEMA split_test CASCADE;
