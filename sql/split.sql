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

RESET search_path;
DROP SCHEMA split_test CASCADE;
