-- real time: fold_in, recommend_for_vector, recommend_session, refresh_user
CREATE SCHEMA fold_in_test;
SET search_path = fold_in_test, public;
SET extra_float_digits = 0;

-- users 1-10 like items 100-109, 11-20 items 110-119, 21-30 items 120-129;
-- each misses one item of their block
CREATE TABLE events AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id, 1 AS w
FROM generate_series(1, 30) u, generate_series(0, 9) j
WHERE j <> u % 10;
CREATE INDEX ON events (user_id);
SELECT version FROM recsys.train_cf('events', factors => 4, model => 'als', iterations => 10);

-- folding a user's own events in gives a vector whose best unseen item is
-- the one missing from their block, like their trained vector
SELECT u, (SELECT item_id FROM recsys.recommend_for_vector(v, 1, 'als',
		   exclude_seen => (SELECT array_agg(item_id) FROM events WHERE user_id = u))) AS first
FROM (SELECT user_id AS u, recsys.fold_in(item_id, w::real, 'als') AS v
	  FROM events WHERE user_id IN (3, 14, 25) GROUP BY user_id) f
ORDER BY u;
SELECT array_length(recsys.fold_in(item_id, 1, 'als'), 1) AS k FROM events WHERE user_id = 3;
-- the fold-in solves the step exactly against the final item factors, so
-- it points where the trained vector (one step behind) points
SELECT sum(a * b) / sqrt(sum(a * a) * sum(b * b)) > 0.95 AS same_direction FROM (
	SELECT unnest(f.factors) AS a, unnest((SELECT recsys.fold_in(item_id, w::real, 'als') FROM events WHERE user_id = 3)) AS b
	FROM recsys.user_factors f WHERE f.model = 'als' AND f.user_id = 3) s;
-- with frequency-scaled regularisation (train_cf's regularization_exponent)
-- the fold-in scales reg as training did (0.2 x (30 items + 10 x 9)): the
-- same length, not just the same direction; with reg 0.2 unscaled the
-- vectors come out 1.32 times as long
SELECT (recsys.train_cf('events', factors => 4, model => 'als_scaled', iterations => 10, alpha => 10,
						regularization => 0.2, regularization_exponent => 1)).params->>'regularization_exponent'
	   AS regularization_exponent;
SELECT user_id, sum(a * b) / sqrt(sum(a * a) * sum(b * b)) > 0.95 AS same_direction,
	   sqrt(sum(b * b) / sum(a * a)) BETWEEN 0.99 AND 1.01 AS same_length
FROM (SELECT f.user_id, unnest(f.factors) AS a,
			 unnest((SELECT recsys.fold_in(item_id, w::real, 'als_scaled') FROM events e WHERE e.user_id = f.user_id)) AS b
	  FROM recsys.user_factors f WHERE f.model = 'als_scaled' AND f.user_id IN (3, 14, 25)) s
GROUP BY user_id ORDER BY user_id;
-- explain's terms add up to the score (within 5%: the stored vector is one step behind)
SELECT abs((SELECT sum(contribution) FROM recsys.explain(3, 103, 100, 'als_scaled'))
		   - recsys.score(3, 103, 'als_scaled')) < 0.05 * recsys.score(3, 103, 'als_scaled') AS sums_to_score;
SELECT recsys.drop_model('als_scaled');

-- the aggregate is parallel safe with a real state type: same answer in a
-- parallel plan (Partial Aggregate in the workers)
CREATE TABLE many AS SELECT e.* FROM events e, generate_series(1, 200);
ANALYZE many;
SET extra_float_digits = 3;
SELECT recsys.fold_in(item_id, w::real, 'als') AS serial FROM many WHERE user_id = 7 \gset
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT recsys.fold_in(item_id, w::real, 'als') FROM many WHERE user_id = 7;
SELECT recsys.fold_in(item_id, w::real, 'als') = :'serial'::real[] AS same FROM many WHERE user_id = 7;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SET extra_float_digits = 0;
-- no known items: NULL
SELECT recsys.fold_in(item_id, 1, 'als') IS NULL AS empty FROM events WHERE item_id > 1000;
SELECT recsys.fold_in(x, 1, 'als') IS NULL AS unknown FROM (VALUES (999::bigint)) v(x);

-- an anonymous session: recommendations from the session's items alone
SELECT count(*) FILTER (WHERE item_id BETWEEN 110 AND 119) AS same_block, count(*)
FROM recsys.recommend_session(ARRAY[111, 112, 113], 5, 'als');
SELECT count(*) AS session_items_back FROM recsys.recommend_session(ARRAY[111, 112, 113], 30, 'als')
WHERE item_id IN (111, 112, 113);
SELECT version FROM recsys.train_item_knn('events', 20, model => 'knn');
SELECT count(*) FILTER (WHERE item_id BETWEEN 120 AND 129) AS same_block
FROM recsys.recommend_session(ARRAY[121, 122], 5, 'knn');
SELECT count(*) FROM recsys.recommend_session(ARRAY[]::bigint[], 3, 'als');

-- refresh_user: after user 1 buys three items of block 2, their
-- recommendations move there without retraining
SELECT count(*) FILTER (WHERE item_id BETWEEN 120 AND 129) AS block_2_before
FROM recsys.recommend(1, 5, 'als');
INSERT INTO events VALUES (1, 121, 1), (1, 122, 1), (1, 123, 1);
SELECT array_length(recsys.refresh_user(1, 'als'), 1) AS refreshed;
SELECT count(*) FILTER (WHERE item_id BETWEEN 120 AND 129) AS block_2_after
FROM recsys.recommend(1, 5, 'als');
-- a new user becomes known the same way
SELECT count(*) AS known_before FROM recsys.user_factors WHERE model = 'als' AND user_id = 77;
INSERT INTO events VALUES (77, 115, 1), (77, 116, 1);
SELECT recsys.refresh_user(77, 'als') IS NOT NULL AS refreshed;
SELECT count(*) FILTER (WHERE item_id BETWEEN 110 AND 119) AS block_1 FROM recsys.recommend(77, 3, 'als');
-- a refresh rolled back with its savepoint is gone for the serving cache
-- too, within one statement (an exception block in a function) and
-- after ROLLBACK TO in a repeatable-read transaction
DO $$
DECLARE
	before real := recsys.score(2, 125, 'als');
	refreshed real;
BEGIN
	BEGIN
		INSERT INTO events VALUES (2, 124, 1), (2, 126, 1), (2, 127, 1);
		PERFORM recsys.refresh_user(2, 'als');
		refreshed := recsys.score(2, 125, 'als');
		RAISE EXCEPTION 'undo';
	EXCEPTION WHEN raise_exception THEN
		NULL;
	END;
	RAISE NOTICE 'changed: %, restored: %', refreshed <> before, recsys.score(2, 125, 'als') = before;
END
$$;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT recsys.score(2, 125, 'als') AS before \gset
SAVEPOINT s;
INSERT INTO events VALUES (2, 124, 1), (2, 126, 1), (2, 127, 1);
SELECT recsys.refresh_user(2, 'als') IS NOT NULL AS refreshed;
SELECT abs(recsys.score(2, 125, 'als') - :before) > 1e-4 AS changed;
ROLLBACK TO s;
SELECT abs(recsys.score(2, 125, 'als') - :before) < 1e-5 AS restored;  -- (:before is printed to 6 digits)
COMMIT;
-- and a user without interactions any more loses their vector
DELETE FROM events WHERE user_id = 77;
SELECT recsys.refresh_user(77, 'als') IS NULL AS no_vector;
SELECT count(*) AS known_after FROM recsys.user_factors WHERE model = 'als' AND user_id = 77;

-- errors
SELECT recsys.fold_in(item_id, 1, 'knn') FROM events WHERE user_id = 1;
SELECT recsys.fold_in(item_id, 'NaN', 'als') FROM events WHERE user_id = 1;
SELECT recsys.fold_in(item_id, 1, 'nope') FROM events WHERE user_id = 1;
SELECT * FROM recsys.recommend_for_vector('{1, 2}', 3, 'als');
SELECT * FROM recsys.recommend_for_vector('{1, 2, "NaN", 4}', 3, 'als');
SELECT * FROM recsys.recommend_for_vector(NULL, 3, 'als');
SELECT * FROM recsys.recommend_for_vector('{1, 2, 3, 4}', 0, 'als');
-- messages name the argument as the signature does
SELECT * FROM recsys.recommend_for_vector('{1, 2, 3, 4}', 3, 'als', exclude_seen => '{1, NULL}');
SELECT * FROM recsys.recommend_session('{1, NULL}', 3, 'als');
SELECT * FROM recsys.recommend_session(NULL, 3, 'als');
SELECT * FROM recsys.recommend_session(ARRAY[1], 3, NULL);
SELECT recsys.refresh_user(1, 'knn');
-- the aggregate's support functions cannot be called directly, and a
-- forged state is refused rather than trusted
SELECT recsys.fold_in_final('\x00'::bytea);
CREATE ROLE recsys_fold_in_user;
GRANT USAGE ON SCHEMA fold_in_test TO recsys_fold_in_user;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys, fold_in_test TO recsys_fold_in_user;
SELECT recsys.grant_model('als', 'recsys_fold_in_user');
SET ROLE recsys_fold_in_user;
SELECT recsys.fold_in_final(decode('49465352' || '01000000' || '01000000' || rpad('616c73', 128, '0') || '00ffff7f' || '0000803f', 'hex'));
SELECT array_length(recsys.fold_in(item_id, 1, 'als'), 1) AS still_works FROM events WHERE user_id = 3;
RESET ROLE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys, fold_in_test FROM recsys_fold_in_user;
REVOKE ALL ON SCHEMA fold_in_test FROM recsys_fold_in_user;
SELECT recsys.revoke_model('als', 'recsys_fold_in_user');
DROP ROLE recsys_fold_in_user;
-- a forged state through a user-defined aggregate is checked in full
CREATE AGGREGATE forged_fold_in(bigint, real, text) (
	SFUNC = recsys.fold_in_accum, STYPE = bytea, FINALFUNC = recsys.fold_in_final,
	INITCOND = '\x494653520100000001000000616c73000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000ffff7f0000803f');
SELECT forged_fold_in(item_id, 1, 'als') FROM events WHERE user_id = 3;
DROP AGGREGATE forged_fold_in(bigint, real, text);
-- many rows of few items: the state stays as small as the distinct items
SELECT array_length(recsys.fold_in(100 + g % 30, 1, 'als'), 1) AS k FROM generate_series(1, 200000) g;
SELECT recsys.refresh_user(NULL, 'als');

SELECT recsys.drop_model('als');
SELECT recsys.drop_model('knn');
RESET search_path;
DROP SCHEMA fold_in_test CASCADE;
