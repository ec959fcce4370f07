-- Parallel source reads: the trainers' read may run with parallel workers
-- (stats->'read_workers': the workers its plan asked for), and the model
-- is bit-identical with and without them; row-level security still
-- applies, and a policy calling a parallel restricted function keeps the
-- read serial.
CREATE SCHEMA parallel_read_test;
SET search_path = parallel_read_test, public;
SET extra_float_digits = 3;
-- the executor path, the only one that can run with workers (a plain
-- table is otherwise read by a direct heap scan: sql/fast_read.sql)
SET recsys.fast_read = off;

-- 400 users x 60 items, every pair twice or three times with fractional
-- weights (duplicates are summed, so their order would matter), in a
-- table large enough for a parallel scan once the costs are zero
CREATE TABLE pr_events (user_id integer, item_id integer, weight real, tenant text);
INSERT INTO pr_events
SELECT u, i, ((u * 7 + i * 13 + d * 5) % 97) / 9.7 + CASE WHEN d = 2 THEN 1e6 ELSE 0 END,
	   CASE WHEN u <= 200 THEN 'regress_recsys_par_a' ELSE 'regress_recsys_par_b' END
FROM generate_series(1, 400) u, generate_series(1, 60) i, generate_series(0, 2) d
WHERE (u + i + d) % 3 <> 0 OR d < 2
ORDER BY md5(u::text || i::text || d::text);
INSERT INTO pr_events SELECT user_id, item_id, -1e6, tenant FROM pr_events WHERE weight >= 1e6;
ANALYZE pr_events;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
-- the workers alone scan, so rows arrive interleaved, not in block order
SET parallel_leader_participation = off;
-- the query the reader runs plans as a Gather
EXPLAIN (COSTS OFF) SELECT user_id, item_id, weight FROM pr_events;

SELECT (stats->>'read_workers')::int AS read_workers, n_users, n_items, n_interactions
FROM recsys.train_cf('pr_events', factors => 6, model => 'pr_on', iterations => 3, weight_col => 'weight');
SET max_parallel_workers_per_gather = 0;
SELECT (stats->>'read_workers')::int AS read_workers, n_users, n_items, n_interactions
FROM recsys.train_cf('pr_events', factors => 6, model => 'pr_off', iterations => 3, weight_col => 'weight');

-- bit-identical factors (text of every float with extra_float_digits 3)
SELECT count(*) AS users, count(*) FILTER (WHERE a.factors::text <> b.factors::text) AS differ
FROM recsys.user_factors a JOIN recsys.user_factors b USING (user_id)
WHERE a.model = 'pr_on' AND b.model = 'pr_off';
SELECT count(*) AS items, count(*) FILTER (WHERE a.factors::text <> b.factors::text) AS differ
FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_id)
WHERE a.model = 'pr_on' AND b.model = 'pr_off';
-- and item-kNN too
SET max_parallel_workers_per_gather = 2;
SELECT (stats->>'read_workers')::int AS read_workers
FROM recsys.train_item_knn('pr_events', 10, model => 'pr_knn_on', weight_col => 'weight');
SET max_parallel_workers_per_gather = 0;
SELECT (stats->>'read_workers')::int AS read_workers
FROM recsys.train_item_knn('pr_events', 10, model => 'pr_knn_off', weight_col => 'weight');
SELECT count(*) AS users,
	   count(*) FILTER (WHERE a::text IS DISTINCT FROM b::text) AS differ
FROM generate_series(1, 400) u,
	 LATERAL (SELECT array_agg(item_id || ':' || score ORDER BY item_id) FROM recsys.recommend(u, 5, 'pr_knn_on')) x(a),
	 LATERAL (SELECT array_agg(item_id || ':' || score ORDER BY item_id) FROM recsys.recommend(u, 5, 'pr_knn_off')) y(b);

-- Row-level security under parallel reads: each role sees its tenant's
-- 200 users only, with workers; a parallel restricted function in the
-- policy keeps the read serial and still filters.
ALTER TABLE pr_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY pr_tenant ON pr_events USING (tenant = current_user);
CREATE ROLE regress_recsys_par_a;
CREATE ROLE regress_recsys_par_b;
GRANT USAGE ON SCHEMA parallel_read_test TO regress_recsys_par_a, regress_recsys_par_b;
GRANT SELECT ON pr_events TO regress_recsys_par_a, regress_recsys_par_b;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_par_a, regress_recsys_par_b;
SET max_parallel_workers_per_gather = 2;
SET ROLE regress_recsys_par_a;
SELECT (stats->>'read_workers')::int AS read_workers, n_users, n_items
FROM recsys.train_cf('pr_events', factors => 6, model => 'pr_a', iterations => 3, weight_col => 'weight');
SELECT min(user_id), max(user_id), count(*) FROM recsys.user_factors WHERE model = 'pr_a';
RESET ROLE;
SET ROLE regress_recsys_par_b;
SELECT (stats->>'read_workers')::int AS read_workers, n_users, n_items
FROM recsys.train_cf('pr_events', factors => 6, model => 'pr_b', iterations => 3, weight_col => 'weight');
SELECT min(user_id), max(user_id), count(*) FROM recsys.user_factors WHERE model = 'pr_b';
RESET ROLE;

-- (PL/pgSQL, so that it is not inlined into a parallel safe expression)
CREATE FUNCTION pr_allowed(tenant text) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED AS $$ BEGIN RETURN tenant = current_user; END $$;
DROP POLICY pr_tenant ON pr_events;
CREATE POLICY pr_tenant ON pr_events USING (pr_allowed(tenant));
SET ROLE regress_recsys_par_a;
EXPLAIN (COSTS OFF) SELECT user_id, item_id, weight FROM pr_events;
SELECT (stats->>'read_workers')::int AS read_workers, n_users, n_items
FROM recsys.train_cf('pr_events', factors => 6, model => 'pr_a2', iterations => 3, weight_col => 'weight');
-- same rows, so the same model as with the parallel read
SELECT count(*) AS users, count(*) FILTER (WHERE a.factors::text <> b.factors::text) AS differ
FROM recsys.user_factors a JOIN recsys.user_factors b USING (user_id)
WHERE a.model = 'pr_a' AND b.model = 'pr_a2';
SELECT recsys.drop_model(m) FROM unnest(ARRAY['pr_a', 'pr_a2']) m;
RESET ROLE;
SET ROLE regress_recsys_par_b;
SELECT recsys.drop_model('pr_b');
RESET ROLE;

-- stats->'read_workers' counts the workers launched, not those the plan
-- asked for (read_workers_planned): none can start here
SET max_parallel_workers_per_gather = 2;
SET max_parallel_workers = 0;
EXPLAIN (COSTS OFF) SELECT user_id, item_id, weight FROM pr_events;
SELECT (stats->>'read_workers')::int AS read_workers, (stats->>'read_workers_planned')::int AS planned, n_users
FROM recsys.train_cf('pr_events', factors => 6, model => 'pr_none', iterations => 1, weight_col => 'weight');
SELECT recsys.drop_model('pr_none');
RESET max_parallel_workers;

RESET recsys.fast_read;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;
SELECT recsys.drop_model(m) FROM unnest(ARRAY['pr_on', 'pr_off', 'pr_knn_on', 'pr_knn_off']) m;
DROP SCHEMA parallel_read_test CASCADE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_par_a, regress_recsys_par_b;
DROP ROLE regress_recsys_par_a;
DROP ROLE regress_recsys_par_b;
