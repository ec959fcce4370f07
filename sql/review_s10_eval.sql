-- Review fixes (s10-fixr): evaluate's weight_col adds rmse and mae and
-- changes no ranking metric (finding 5); split_holdout keeps a training
-- pair for every test user (finding 8).
\set VERBOSITY terse
CREATE SCHEMA s10e;
SET search_path = s10e, public;
-- explicit ratings: 40 users x 30 items, a quarter held out
CREATE TABLE ratings AS
SELECT u AS user_id, i AS item_id, (1 + 0.5 * (u % 5) + 0.25 * (i % 7))::real AS rating
FROM generate_series(1, 40) u, generate_series(1, 30) i
WHERE (u + i) % 4 <> 0;
CREATE TABLE test AS
SELECT u AS user_id, i AS item_id, (1 + 0.5 * (u % 5) + 0.25 * (i % 7))::real AS rating
FROM generate_series(1, 40) u, generate_series(1, 30) i
WHERE (u + i) % 4 = 0;
SET client_min_messages = warning;
SELECT 1 FROM recsys.train_cf('ratings', factors => 2, model => 's10e_stars', feedback => 'explicit',
							  weight_col => 'rating', regularization => 0.001, iterations => 5);
RESET client_min_messages;
-- a third of the test ratings unknown (NULL), as in the review
UPDATE test SET rating = NULL WHERE (user_id + item_id) % 3 = 0;
SELECT count(*) FILTER (WHERE rating IS NULL) AS unrated, count(*) AS rows FROM test;
-- the ranking metrics with weight_col are those without it (before: NULL
-- rows were dropped from the relevant items, and their users too)
SELECT a.metric, a.value, b.value AS with_weight_col
FROM recsys.evaluate('s10e_stars', 'test') a
JOIN recsys.evaluate('s10e_stars', 'test', weight_col => 'rating') b USING (metric)
WHERE a.metric <> 'seconds' AND a.value IS DISTINCT FROM b.value;
SELECT count(*) AS metrics_compared
FROM recsys.evaluate('s10e_stars', 'test') a
JOIN recsys.evaluate('s10e_stars', 'test', weight_col => 'rating') b USING (metric)
WHERE a.metric <> 'seconds';
-- rmse and mae are over the rated rows only: those of the rated rows alone
CREATE TABLE rated AS SELECT * FROM test WHERE rating IS NOT NULL;
SELECT a.metric, a.value = b.value AS same
FROM recsys.evaluate('s10e_stars', 'test', weight_col => 'rating') a
JOIN recsys.evaluate('s10e_stars', 'rated', weight_col => 'rating') b USING (metric)
WHERE a.metric IN ('rmse', 'mae') ORDER BY 1;
-- and by hand, through score()
SELECT round(sqrt(avg((recsys.score(user_id, item_id, 's10e_stars') - rating) ^ 2))::numeric, 5)
	   = round((SELECT value FROM recsys.evaluate('s10e_stars', 'test', weight_col => 'rating')
				WHERE metric = 'rmse')::numeric, 5) AS rmse_by_hand
FROM rated;
-- a duplicate rated pair is still refused; a duplicate unrated row is not a rating
INSERT INTO test VALUES (1, 3, 2);
SELECT count(*) FROM recsys.evaluate('s10e_stars', 'test', weight_col => 'rating');
DELETE FROM test WHERE user_id = 1 AND item_id = 3 AND rating = 2;
INSERT INTO test VALUES (1, 3, NULL);
SELECT count(*) > 0 AS evaluated FROM recsys.evaluate('s10e_stars', 'test', weight_col => 'rating');

-- split_holdout at test_fraction 0.9: users of 4 pairs round their
-- training share floor(0.1 * 4 + 0.5) = 0 up to 1 (before: 0, all test);
-- 12 pairs: floor(1.7) = 1; 20 pairs: floor(2.5) = 2; 3 pairs: all train
CREATE TABLE small AS
SELECT u AS user_id, i AS item_id FROM generate_series(1, 4) u, generate_series(1, 4) i
UNION ALL SELECT 5, i FROM generate_series(1, 12) i
UNION ALL SELECT 6, i FROM generate_series(1, 20) i
UNION ALL SELECT 7, i FROM generate_series(1, 3) i;
SELECT user_id, count(*) FILTER (WHERE NOT is_test) AS train, count(*) FILTER (WHERE is_test) AS test
FROM recsys.split_holdout('small', test_fraction => 0.9) GROUP BY user_id ORDER BY user_id;
-- every test user has a training pair, at any fraction
SELECT f, count(*) AS users_without_train
FROM unnest(ARRAY[0.5, 0.8, 0.9, 0.99]) f,
	 LATERAL (SELECT user_id FROM recsys.split_holdout('small', test_fraction => f)
			  GROUP BY user_id HAVING bool_or(is_test) AND bool_and(is_test)) u
GROUP BY f ORDER BY f;
SELECT count(*) AS users_with_test FROM (
	SELECT user_id FROM recsys.split_holdout('small', test_fraction => 0.99) GROUP BY user_id HAVING bool_or(is_test)) u;

SET client_min_messages = warning;
SELECT recsys.drop_model('s10e_stars');
DROP SCHEMA s10e CASCADE;
