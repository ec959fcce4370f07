-- store_users => false: factor models that keep no per-user rows, serving
-- folds each user's current rows of the source in at query time
CREATE SCHEMA store_users_test;
SET search_path = store_users_test, public;
SET extra_float_digits = 0;

-- 40 users with ids 7000001-7000040 (distinctive, so that a search of the
-- catalog for one finds nothing by chance), 30 items, weights 1-3
CREATE TABLE ev AS
SELECT 7000000 + u AS user_id, 100 + i AS item_id, (1 + (u * i) % 3)::real AS w
FROM generate_series(1, 40) u, generate_series(0, 29) i
WHERE (u * 7 + i * 11) % 6 < 2 OR (i / 10 = u % 3 AND (u + i) % 4 <> 0);
CREATE INDEX ON ev (user_id);
-- ratings 1-5 of the same pairs
CREATE TABLE rt AS SELECT user_id, item_id, (1 + (user_id + 2 * item_id) % 5)::real AS rating FROM ev;
CREATE INDEX ON rt (user_id);

-- Where a user id appears in the catalog rows of a model: every table of
-- schema recsys, every column (ids as whole numbers, not inside a float),
-- rows whose model (or name) is the model's.
CREATE FUNCTION mentions(uid bigint, model_name text)
RETURNS TABLE (relation text, n bigint) LANGUAGE plpgsql AS $$
DECLARE
	rel regclass;
BEGIN
	FOR rel IN SELECT c.oid FROM pg_class c
			   WHERE c.relnamespace = 'recsys'::regnamespace AND c.relkind = 'r' ORDER BY c.relname LOOP
		EXECUTE format('SELECT count(*) FROM %s t WHERE coalesce(to_jsonb(t)->>''model'', to_jsonb(t)->>''name'') = $2 '
					   'AND to_jsonb(t)::text ~ $1', rel)
			INTO n USING '(^|[^0-9.])' || uid || '([^0-9]|$)', model_name;
		IF n > 0 THEN
			relation := rel::text;
			RETURN NEXT;
		END IF;
	END LOOP;
END
$$;

-- the same training with and without users: params say which
SELECT name, n_users, params->>'store_users' AS store_users
FROM recsys.train_cf('ev', factors => 4, model => 'stored', weight_col => 'w');
SELECT name, n_users, params->>'store_users' AS store_users
FROM recsys.train_cf('ev', factors => 4, model => 'nouser', weight_col => 'w', store_users => false);
SELECT model, version, params->>'store_users' AS store_users FROM recsys.model_versions
WHERE model IN ('stored', 'nouser') ORDER BY model;
SELECT model, count(*) AS user_rows FROM recsys.user_factors GROUP BY model ORDER BY model;
-- training itself is unchanged: the same item factors
SELECT count(*) AS items, count(*) FILTER (WHERE a.factors = b.factors AND a.bias = b.bias) AS equal
FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_id)
WHERE a.model = 'stored' AND b.model = 'nouser';
-- the stored model has the user's vector; the other has nothing about the
-- user anywhere in the catalog (params, stats, metrics included)
SELECT * FROM mentions(7000005, 'stored');
SELECT * FROM mentions(7000005, 'nouser');

-- serving folds the user's rows in: the same scores as recsys.fold_in and
-- recommend_for_vector on those rows, for recommend and for score
SELECT u, count(*) AS items, max(abs(a.score - b.score)) < 1e-4 AS same_scores
FROM generate_series(7000001, 7000040, 13) u,
	 LATERAL recsys.recommend(u, 10, 'nouser') a
	 JOIN LATERAL recsys.recommend_for_vector(
		 (SELECT recsys.fold_in(item_id, w, 'nouser') FROM ev WHERE user_id = u), 10, 'nouser',
		 exclude_seen => (SELECT array_agg(item_id) FROM ev WHERE user_id = u)) b USING (item_id)
GROUP BY u ORDER BY u;
SELECT u, count(*) AS items, max(abs(recsys.score(u, b.item_id, 'nouser') - b.score)) < 1e-4 AS same_scores
FROM generate_series(7000002, 7000040, 13) u,
	 LATERAL recsys.recommend_for_vector(
		 (SELECT recsys.fold_in(item_id, w, 'nouser') FROM ev WHERE user_id = u), 30, 'nouser') b
GROUP BY u ORDER BY u;
-- the vector is the exact solve, so explain's terms add up to the score
SELECT abs((SELECT sum(contribution) FROM recsys.explain(7000005, 101, 100, 'nouser'))
		   - recsys.score(7000005, 101, 'nouser')) < 1e-4 AS sums_to_score;
-- a user without rows is served as an unknown user: the cold-start
-- fallback, the average user's scores (the mean vector training stored,
-- as a model with stored users has it)
SELECT (SELECT bool_and(reason = 'cold start') FROM recsys.recommend(7999999, 5, 'nouser')) AS cold_start,
	   recsys.score(7999999, 101, 'nouser') =
	   (SELECT score FROM recsys.recommend(7999999, 1000, 'nouser') WHERE item_id = 101) AS cold_start_score,
	   (SELECT stats->'mean_user_factors' FROM recsys.models WHERE name = 'nouser') IS NOT NULL AS mean_stored;

-- score() in an ORDER BY reads and solves once per user per statement:
-- one scan of the source for 30 scores (pg_stat_xact_user_tables counts
-- this transaction's scans), one per user for two users
BEGIN;
SELECT seq_scan + coalesce(idx_scan, 0) AS scans FROM pg_stat_xact_user_tables WHERE relid = 'ev'::regclass \gset
SELECT count(*) FROM (SELECT i FROM generate_series(100, 129) i ORDER BY recsys.score(7000005, i, 'nouser') DESC) s;
SELECT seq_scan + coalesce(idx_scan, 0) - :scans AS source_scans FROM pg_stat_xact_user_tables WHERE relid = 'ev'::regclass;
SELECT seq_scan + coalesce(idx_scan, 0) AS scans FROM pg_stat_xact_user_tables WHERE relid = 'ev'::regclass \gset
SELECT count(*) FROM (SELECT u, i FROM generate_series(7000005, 7000006) u, generate_series(100, 129) i
					  ORDER BY recsys.score(u, i, 'nouser') DESC) s;
SELECT seq_scan + coalesce(idx_scan, 0) - :scans AS source_scans FROM pg_stat_xact_user_tables WHERE relid = 'ev'::regclass;
COMMIT;

-- explicit feedback: the fold-in also fits the user's bias.  refresh_user
-- on the stored model writes the same fold-in (its item factors are the
-- same), after which both score alike
SELECT name, params->>'store_users' AS store_users
FROM recsys.train_cf('rt', factors => 4, model => 'estored', feedback => 'explicit', weight_col => 'rating');
SELECT name, params->>'store_users' AS store_users
FROM recsys.train_cf('rt', factors => 4, model => 'enouser', feedback => 'explicit', weight_col => 'rating',
					 store_users => false);
SELECT count(recsys.refresh_user(u, 'estored')) AS refreshed FROM (SELECT DISTINCT user_id AS u FROM rt) s;
SELECT max(abs(recsys.score(u, i, 'estored') - recsys.score(u, i, 'enouser'))) < 1e-4 AS same_scores
FROM generate_series(7000001, 7000040) u, generate_series(100, 129) i;
SELECT u, count(*) AS items, max(abs(a.score - b.score)) < 1e-4 AS same_scores
FROM generate_series(7000003, 7000040, 17) u,
	 LATERAL recsys.recommend(u, 10, 'estored') a JOIN LATERAL recsys.recommend(u, 10, 'enouser') b USING (item_id)
GROUP BY u ORDER BY u;
-- evaluate folds in the training rows it reads: the same metrics
SELECT a.metric, abs(a.value - b.value) < 1e-6 AS same
FROM recsys.evaluate('estored', 'rt', 5, weight_col => 'rating') a
JOIN recsys.evaluate('enouser', 'rt', 5, weight_col => 'rating') b USING (metric)
WHERE a.metric <> 'seconds' ORDER BY a.metric;

-- and the stored vectors as training left them?  train_cf ends every
-- iteration with the item half-step, so a stored user vector solves
-- against the item factors of one step before the last (implicit: by 3
-- conjugate-gradient steps, not exactly).  So they agree as ALS
-- converges: explicit within 1e-4 at 50 iterations; implicit within 0.05
-- at the default 15 iterations and within 0.005 at 200.
SELECT 1 FROM recsys.train_cf('rt', factors => 4, model => 'estored', feedback => 'explicit', weight_col => 'rating',
							  iterations => 50);
SELECT 1 FROM recsys.train_cf('rt', factors => 4, model => 'enouser', feedback => 'explicit', weight_col => 'rating',
							  iterations => 50, store_users => false);
SELECT max(abs(recsys.score(u, i, 'estored') - recsys.score(u, i, 'enouser'))) < 1e-4 AS explicit_50
FROM generate_series(7000001, 7000040) u, generate_series(100, 129) i;
SELECT max(abs(recsys.score(u, i, 'stored') - recsys.score(u, i, 'nouser'))) < 0.05 AS implicit_15
FROM generate_series(7000001, 7000040) u, generate_series(100, 129) i;
SELECT 1 FROM recsys.train_cf('ev', factors => 4, model => 'stored200', weight_col => 'w', iterations => 200);
SELECT 1 FROM recsys.train_cf('ev', factors => 4, model => 'nouser200', weight_col => 'w', iterations => 200,
							  store_users => false);
SELECT max(abs(recsys.score(u, i, 'stored200') - recsys.score(u, i, 'nouser200'))) < 0.005 AS implicit_200
FROM generate_series(7000001, 7000040) u, generate_series(100, 129) i;
SELECT recsys.drop_model('stored200'), recsys.drop_model('nouser200');

-- the Bayesian solver too: its averaged item factors, the ALS fold-in
SELECT params->>'solver' AS solver, params->>'store_users' AS store_users
FROM recsys.train_cf('rt', factors => 4, model => 'bnouser', feedback => 'explicit', weight_col => 'rating',
					 solver => 'bayesian', alpha => 2, iterations => 20, store_users => false);
SELECT count(*) AS items, bool_and(score BETWEEN 1 AND 5) AS ratings FROM recsys.recommend(7000007, 5, 'bnouser');
SELECT count(*) AS user_rows FROM recsys.user_factors WHERE model = 'bnouser';

-- blends with such a member fold the user in the same way
SELECT name FROM recsys.train_popular('ev', model => 'pop', weight_col => 'w');
SELECT name FROM recsys.train_blend(ARRAY['nouser', 'pop'], model => 'mix');

-- right to erasure: the user's rows go, and with them the user, at once,
-- from every output: recommend, score, explain, blends, evaluate
CREATE TABLE tst AS SELECT * FROM (VALUES (7000005::bigint, 101::bigint), (7000006, 102)) t(user_id, item_id);
CREATE TEMP TABLE before AS
SELECT 'nouser' AS model, array_agg(item_id) AS items, array_agg(score) AS scores FROM recsys.recommend(7000005, 5, 'nouser')
UNION ALL
SELECT 'mix', array_agg(item_id), array_agg(score) FROM recsys.recommend(7000005, 5, 'mix');
CREATE TEMP TABLE unknown AS
SELECT 'nouser' AS model, array_agg(item_id) AS items, array_agg(score) AS scores FROM recsys.recommend(7999999, 5, 'nouser')
UNION ALL
SELECT 'mix', array_agg(item_id), array_agg(score) FROM recsys.recommend(7999999, 5, 'mix');
SELECT model, b.items = u.items AND b.scores = u.scores AS served_as_unknown FROM before b JOIN unknown u USING (model) ORDER BY model;
SELECT count(*) AS explained FROM recsys.explain(7000005, 101, 10, 'nouser');
SELECT metric, value FROM recsys.evaluate('nouser', 'tst', 5) WHERE metric IN ('users', 'skipped_users') ORDER BY metric;
DELETE FROM ev WHERE user_id = 7000005;
SELECT model, b.items = u.items AS same_as_before,
	   a.items = u.items AND a.scores = u.scores AS served_as_unknown
FROM before b JOIN unknown u USING (model)
JOIN (SELECT 'nouser' AS model, array_agg(item_id) AS items, array_agg(score) AS scores FROM recsys.recommend(7000005, 5, 'nouser')
	  UNION ALL
	  SELECT 'mix', array_agg(item_id), array_agg(score) FROM recsys.recommend(7000005, 5, 'mix')) a USING (model)
ORDER BY model;
SELECT recsys.score(7000005, i, 'nouser') = recsys.score(7999999, i, 'nouser') AS score_as_unknown,
	   recsys.score(7000005, i, 'mix') = recsys.score(7999999, i, 'mix') AS blend_score_as_unknown
FROM (VALUES (101), (117)) v(i);
SELECT count(*) AS explained FROM recsys.explain(7000005, 101, 10, 'nouser');
SELECT metric, value FROM recsys.evaluate('nouser', 'tst', 5) WHERE metric IN ('users', 'skipped_users') ORDER BY metric;
-- nothing about the user in any recsys table, for either model; the
-- stored model still has the vector until it is retrained or dropped
SELECT * FROM mentions(7000005, 'nouser');
SELECT * FROM mentions(7000005, 'mix');
SELECT * FROM mentions(7000005, 'stored');
-- (the item factors still carry the user's past contribution until the
-- model is retrained: doc/operations.md, Privacy)

-- switching a model to store_users => false: its new version has no user
-- rows; earlier versions keep theirs until pruned or the model is dropped
SELECT version, params->>'store_users' AS store_users
FROM recsys.train_cf('ev', factors => 4, model => 'stored', weight_col => 'w', store_users => false);
SELECT version, count(*) AS user_rows FROM recsys.user_factors WHERE model = 'stored' GROUP BY version ORDER BY version;
SELECT count(*) AS items FROM recsys.recommend(7000006, 5, 'stored');
-- rolling back serves the stored vectors of version 1 again
SELECT version, params->>'store_users' AS store_users FROM recsys.rollback('stored');
SELECT abs(recsys.score(7000006, 101, 'stored') -
		   (SELECT sum(a * b) FROM recsys.user_factors u, recsys.item_factors i,
				   unnest(u.factors, i.factors) f(a, b)
			WHERE u.model = 'stored' AND u.version = 1 AND u.user_id = 7000006
			  AND i.model = 'stored' AND i.version = 1 AND i.item_id = 101)) < 1e-5 AS stored_vector;

-- tune passes store_users through to every candidate and the kept model
SELECT count(*) AS candidates FROM recsys.tune('als', 'store_users_test.ev', 'store_users_test.tst',
											   '{"factors": [2, 4]}', '{"store_users": false, "weight_col": "w"}',
											   model => 'tuned');
SELECT params->>'store_users' AS store_users FROM recsys.models WHERE name = 'tuned';
SELECT count(*) AS user_rows FROM recsys.user_factors WHERE model = 'tuned';

-- a 0.5.0 definition of train_cf (13 arguments, as before ALTER EXTENSION
-- UPDATE) still works with the new library, and stores the users
CREATE FUNCTION train_cf_0_5(source regclass, factors integer, model text, feedback text, iterations integer,
							 regularization double precision, alpha double precision, user_col name, item_col name,
							 rating_col name, seed bigint, solver text, regularization_exponent double precision)
RETURNS recsys.models AS '$libdir/recsys', 'recsys_train_cf' LANGUAGE C VOLATILE;
SELECT params->>'store_users' AS store_users
FROM train_cf_0_5('ev', 4, 'old', 'implicit', 5, NULL, 1, 'user_id', 'item_id', 'w', 42, NULL, 0);
SELECT count(*) AS user_rows FROM recsys.user_factors WHERE model = 'old';

-- errors
SELECT recsys.train_cf('ev', factors => 4, model => 'bad', weight_col => 'w', store_users => NULL);
SELECT count(*) AS models FROM recsys.models WHERE name = 'bad';
-- refresh_user has nothing to refresh, and must not store a vector
SELECT recsys.refresh_user(7000006, 'nouser');
SELECT count(*) AS user_rows FROM recsys.user_factors WHERE model = 'nouser';
-- the source is needed to serve: gone, a clear error (a stored model needs
-- it only to exclude seen items)
ALTER TABLE ev RENAME TO ev_moved;
SELECT * FROM recsys.recommend(7000006, 3, 'nouser', exclude_seen => false);
SELECT recsys.score(7000006, 101, 'nouser');
SELECT count(*) AS items FROM recsys.recommend(7000006, 3, 'estored', exclude_seen => false);
ALTER TABLE ev_moved RENAME TO ev;
SELECT count(*) AS items FROM recsys.recommend(7000006, 3, 'nouser', exclude_seen => false);

SELECT recsys.drop_model(m) FROM unnest(ARRAY['mix', 'pop', 'stored', 'nouser', 'estored', 'enouser', 'bnouser',
											  'tuned', 'old']) m;
DROP SCHEMA store_users_test CASCADE;
