-- The direct heap read (recsys.fast_read, on by default): a plain table
-- is read by a heap scan instead of SELECT through the executor, with the
-- same rows, so the same models bit for bit; views, inheritance and
-- row-level security keep the executor path (stats->>'read_path').
CREATE SCHEMA fast_read_test;
SET search_path = fast_read_test, public;
SET extra_float_digits = 3;
SET max_parallel_workers_per_gather = 0;

-- Known by construction: 3 users x 2 items, one pair twice (summed), one
-- row with a NULL item and one with a NULL weight (skipped), a dropped
-- column before the ones read and a column added afterwards with a
-- default (stored as a missing attribute until the rows are rewritten).
CREATE TABLE tiny (junk int, user_id bigint, item_id int, weight real);
ALTER TABLE tiny DROP COLUMN junk;
INSERT INTO tiny VALUES (1, 10, 1), (1, 10, 0.5), (1, 20, 2), (2, 20, 3), (3, 10, 4),
	(3, NULL, 9), (2, 10, NULL);
ALTER TABLE tiny ADD COLUMN kind text DEFAULT 'view';
SET recsys.fast_read = on;
SELECT users, items, interactions, rows_read, skipped_rows, min_weight, max_weight
FROM recsys.source_stats('tiny', weight_col => 'weight');
SET recsys.fast_read = off;
SELECT users, items, interactions, rows_read, skipped_rows, min_weight, max_weight
FROM recsys.source_stats('tiny', weight_col => 'weight');
-- the missing attribute reads as its default on both paths
SET recsys.fast_read = on;
SELECT n_users, n_interactions, stats->>'read_path' AS path
FROM recsys.train_item_knn('tiny', 5, model => 'fr_pop', event_col => 'kind', event_weights => '{"view": 2}', replace => true);
SELECT item_id, score FROM recsys.recommend(3, 2, 'fr_pop') ORDER BY item_id;
SET recsys.fast_read = off;
SELECT n_users, n_interactions, stats->>'read_path' AS path
FROM recsys.train_item_knn('tiny', 5, model => 'fr_pop', event_col => 'kind', event_weights => '{"view": 2}', replace => true);
SELECT item_id, score FROM recsys.recommend(3, 2, 'fr_pop') ORDER BY item_id;

-- 300 users x 50 items, most pairs two or three times with fractional
-- weights, rows in a scrambled order, a varchar event column
CREATE TABLE fr_events (user_id integer, item_id bigint, weight real, event varchar(10));
INSERT INTO fr_events
SELECT u, i, ((u * 7 + i * 13 + d * 5) % 97) / 9.7,
	   CASE d WHEN 0 THEN 'view' WHEN 1 THEN 'cart' ELSE 'buy' END
FROM generate_series(1, 300) u, generate_series(1, 50) i, generate_series(0, 2) d
WHERE (u + i + d) % 3 <> 0 OR d < 2
ORDER BY md5(u::text || i::text || d::text);

SET recsys.fast_read = on;
SELECT stats->>'read_path' AS path, (stats->>'read_workers')::int AS workers, n_users, n_items, n_interactions
FROM recsys.train_cf('fr_events', factors => 6, model => 'fr_heap', iterations => 3, weight_col => 'weight');
SET recsys.fast_read = off;
SELECT stats->>'read_path' AS path, (stats->>'read_workers')::int AS workers, n_users, n_items, n_interactions
FROM recsys.train_cf('fr_events', factors => 6, model => 'fr_exec', iterations => 3, weight_col => 'weight');
-- bit-identical factors (text of every float with extra_float_digits 3)
SELECT count(*) AS users, count(*) FILTER (WHERE a.factors::text <> b.factors::text) AS differ
FROM recsys.user_factors a JOIN recsys.user_factors b USING (user_id)
WHERE a.model = 'fr_heap' AND b.model = 'fr_exec';
SELECT count(*) AS items, count(*) FILTER (WHERE a.factors::text <> b.factors::text) AS differ
FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_id)
WHERE a.model = 'fr_heap' AND b.model = 'fr_exec';

-- event types from a varchar column, and item-kNN
SET recsys.fast_read = on;
SELECT stats->>'read_path' AS path
FROM recsys.train_item_knn('fr_events', 10, model => 'fr_knn_heap', weight_col => 'weight',
						   event_col => 'event', event_weights => '{"view": 1, "cart": 3, "buy": 0}');
SET recsys.fast_read = off;
SELECT stats->>'read_path' AS path
FROM recsys.train_item_knn('fr_events', 10, model => 'fr_knn_exec', weight_col => 'weight',
						   event_col => 'event', event_weights => '{"view": 1, "cart": 3, "buy": 0}');
SELECT count(*) AS users,
	   count(*) FILTER (WHERE a::text IS DISTINCT FROM b::text) AS differ
FROM generate_series(1, 300) u,
	 LATERAL (SELECT array_agg(item_id || ':' || score ORDER BY item_id) FROM recsys.recommend(u, 5, 'fr_knn_heap')) x(a),
	 LATERAL (SELECT array_agg(item_id || ':' || score ORDER BY item_id) FROM recsys.recommend(u, 5, 'fr_knn_exec')) y(b);
-- an event type without a weight is refused on both paths, naming the row
SET recsys.fast_read = on;
SELECT 1 FROM recsys.train_item_knn('fr_events', 10, model => 'fr_knn_err', weight_col => 'weight',
									event_col => 'event', event_weights => '{"view": 1, "cart": 3}');
SET recsys.fast_read = off;
SELECT 1 FROM recsys.train_item_knn('fr_events', 10, model => 'fr_knn_err', weight_col => 'weight',
									event_col => 'event', event_weights => '{"view": 1, "cart": 3}');
SET recsys.fast_read = on;

-- training sees its own transaction's earlier writes on the heap path
BEGIN;
INSERT INTO fr_events VALUES (301, 1, 1.0, 'view'), (301, 51, 2.0, 'view');
SELECT stats->>'read_path' AS path, n_users, n_items
FROM recsys.train_cf('fr_events', factors => 6, model => 'fr_tx', iterations => 1, weight_col => 'weight');
ROLLBACK;

-- Everything else takes the executor path: a view (its filter applies),
-- a table with an inheritance child (whose rows count too), an event
-- column of another type (cast to text).
CREATE VIEW fr_view AS SELECT user_id, item_id, weight FROM fr_events WHERE user_id <= 100;
SELECT stats->>'read_path' AS path, n_users
FROM recsys.train_popular('fr_view', model => 'fr_v', weight_col => 'weight');
CREATE TABLE fr_parent (user_id int, item_id int);
CREATE TABLE fr_child () INHERITS (fr_parent);
INSERT INTO fr_parent VALUES (1, 1);
INSERT INTO fr_child VALUES (2, 2);
SELECT stats->>'read_path' AS path, n_users, n_items
FROM recsys.train_popular('fr_parent', model => 'fr_inh');
SELECT stats->>'read_path' AS path, n_users, n_items
FROM recsys.train_popular('fr_child', model => 'fr_inh');
CREATE TYPE fr_kind AS ENUM ('view', 'cart');
CREATE TABLE fr_enum (user_id int, item_id int, kind fr_kind);
INSERT INTO fr_enum VALUES (1, 1, 'view'), (1, 2, 'cart'), (2, 2, 'cart');
SELECT stats->>'read_path' AS path, n_interactions
FROM recsys.train_item_knn('fr_enum', model => 'fr_en', event_col => 'kind', event_weights => '{"view": 0, "cart": 1}');

-- Row-level security: a table with a policy applying to the caller takes
-- the executor path and each role sees its own rows; the same table
-- without RLS is read from the heap by a role with SELECT on the read
-- columns only; a role without SELECT is refused on both paths.
CREATE TABLE fr_tenant (user_id int, item_id int, tenant text, secret text);
INSERT INTO fr_tenant
SELECT u, i, CASE WHEN u <= 20 THEN 'regress_recsys_read_a' ELSE 'regress_recsys_read_b' END, 'x'
FROM generate_series(1, 40) u, generate_series(1, 5) i;
CREATE ROLE regress_recsys_read_a;
CREATE ROLE regress_recsys_read_b;
GRANT USAGE ON SCHEMA fast_read_test TO regress_recsys_read_a, regress_recsys_read_b;
GRANT SELECT (user_id, item_id, tenant) ON fr_tenant TO regress_recsys_read_a;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_read_a, regress_recsys_read_b;
SET ROLE regress_recsys_read_a;
SELECT stats->>'read_path' AS path, n_users FROM recsys.train_popular('fr_tenant', model => 'fr_ta');
RESET ROLE;
SET ROLE regress_recsys_read_b;
SELECT 1 FROM recsys.train_popular('fr_tenant', model => 'fr_tb');
SET recsys.fast_read = off;
SELECT 1 FROM recsys.train_popular('fr_tenant', model => 'fr_tb');
SET recsys.fast_read = on;
RESET ROLE;
-- SELECT on a table in a schema without USAGE: refused as the executor
-- path's SELECT is (the table named by OID, as a regclass can be)
CREATE SCHEMA fr_hidden;
CREATE TABLE fr_hidden.t (user_id int, item_id int);
INSERT INTO fr_hidden.t VALUES (1, 1);
GRANT SELECT ON fr_hidden.t TO regress_recsys_read_a;
SELECT 'fr_hidden.t'::regclass::oid AS hidden_oid \gset
SET ROLE regress_recsys_read_a;
SELECT users FROM recsys.source_stats(:hidden_oid::oid::regclass);
RESET ROLE;
DROP SCHEMA fr_hidden CASCADE;
GRANT SELECT (user_id, item_id, tenant) ON fr_tenant TO regress_recsys_read_b;
ALTER TABLE fr_tenant ENABLE ROW LEVEL SECURITY;
CREATE POLICY fr_own ON fr_tenant USING (tenant = current_user);
SET ROLE regress_recsys_read_a;
SELECT stats->>'read_path' AS path, n_users FROM recsys.train_popular('fr_tenant', model => 'fr_ta');
SELECT users, interactions FROM recsys.source_stats('fr_tenant');
RESET ROLE;
SET ROLE regress_recsys_read_b;
SELECT stats->>'read_path' AS path, n_users FROM recsys.train_popular('fr_tenant', model => 'fr_tb');
SELECT users, interactions FROM recsys.source_stats('fr_tenant');
SELECT recsys.drop_model('fr_tb');
RESET ROLE;
SET ROLE regress_recsys_read_a;
SELECT recsys.drop_model('fr_ta');
RESET ROLE;
-- the owner, whom the policy does not bind, still goes through the executor
SELECT stats->>'read_path' AS path, n_users FROM recsys.train_popular('fr_tenant', model => 'fr_towner');

RESET recsys.fast_read;
RESET max_parallel_workers_per_gather;
SELECT recsys.drop_model(m) FROM unnest(ARRAY['fr_pop', 'fr_heap', 'fr_exec', 'fr_knn_heap', 'fr_knn_exec',
	'fr_v', 'fr_inh', 'fr_en', 'fr_towner']) m;
DROP SCHEMA fast_read_test CASCADE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_read_a, regress_recsys_read_b;
DROP ROLE regress_recsys_read_a;
DROP ROLE regress_recsys_read_b;
