-- Parallel heap reads (recsys.fast_read on a plain table): workers scan
-- blocks and map ids into maps of their own, the leader merges them.
-- The model is bit-identical whatever the number of workers and whether
-- the executor or the heap path read the source; workers share
-- recsys.max_memory; an error in a worker reaches the caller.
CREATE SCHEMA parallel_heap_read_test;
SET search_path = parallel_heap_read_test, public;
SET extra_float_digits = 3;

-- 240,000 rows in a shuffled order, with duplicates of fractional
-- weights (summed: their order would matter) and event types.  Known by
-- construction: 7919 and 104729 are prime to 4,000 and 300, so every one
-- of 4,000 users and 300 items appears, and a row's pair is fixed by
-- i mod 12,000 (their least common multiple): 12,000 pairs, 20 rows each.
CREATE TABLE phr_events WITH (autovacuum_enabled = off) AS
SELECT (i * 7919) % 4000 AS user_id, (i * 104729) % 300 AS item_id,
	   ((i % 97) / 9.7)::real AS weight,
	   CASE WHEN i % 3 = 0 THEN 'view' ELSE 'buy' END AS kind
FROM generate_series(1::bigint, 240000) i
ORDER BY md5(i::text);

-- a scan of this table gets workers once the size threshold is 0
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT stats->>'read_path' AS path, (stats->>'read_workers_planned')::int AS planned,
	   (stats->>'read_workers')::int > 0 AS some_launched, n_users, n_items, n_interactions
FROM recsys.train_cf('phr_events', factors => 6, model => 'phr_par', iterations => 3, weight_col => 'weight');
-- workers alone (the leader only merges): rows arrive in another order
SET parallel_leader_participation = off;
SELECT stats->>'read_path' AS path, (stats->>'read_workers')::int > 0 AS some_launched, n_users
FROM recsys.train_cf('phr_events', factors => 6, model => 'phr_workers', iterations => 3, weight_col => 'weight');
RESET parallel_leader_participation;
-- no worker can start: the leader reads every block
SET max_parallel_workers = 0;
SELECT stats->>'read_path' AS path, (stats->>'read_workers_planned')::int AS planned,
	   (stats->>'read_workers')::int AS launched, n_users
FROM recsys.train_cf('phr_events', factors => 6, model => 'phr_none', iterations => 3, weight_col => 'weight');
RESET max_parallel_workers;
-- serial heap read, and the executor path
SET max_parallel_workers_per_gather = 0;
SELECT stats->>'read_path' AS path, (stats->>'read_workers_planned')::int AS planned, n_users
FROM recsys.train_cf('phr_events', factors => 6, model => 'phr_serial', iterations => 3, weight_col => 'weight');
SET recsys.fast_read = off;
SELECT stats->>'read_path' AS path, n_users
FROM recsys.train_cf('phr_events', factors => 6, model => 'phr_exec', iterations => 3, weight_col => 'weight');
RESET recsys.fast_read;

-- bit-identical factors (text of every float with extra_float_digits 3)
SELECT b.model, count(*) AS users, count(*) FILTER (WHERE a.factors::text <> b.factors::text) AS differ
FROM recsys.user_factors a JOIN recsys.user_factors b USING (user_id)
WHERE a.model = 'phr_serial' AND b.model IN ('phr_par', 'phr_workers', 'phr_none', 'phr_exec')
GROUP BY b.model ORDER BY b.model;
SELECT b.model, count(*) AS items, count(*) FILTER (WHERE a.factors::text <> b.factors::text) AS differ
FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_id)
WHERE a.model = 'phr_serial' AND b.model IN ('phr_par', 'phr_workers', 'phr_none', 'phr_exec')
GROUP BY b.model ORDER BY b.model;

-- event types reach the workers: the same model as the executor path's
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SELECT stats->>'read_path' AS path, (stats->>'read_workers')::int > 0 AS some_launched, n_users, n_interactions
FROM recsys.train_cf('phr_events', factors => 6, model => 'phr_ev_par', iterations => 3, weight_col => 'weight',
					 event_col => 'kind', event_weights => '{"view": 2, "buy": 0.3}');
SET recsys.fast_read = off;
SET max_parallel_workers_per_gather = 0;
SELECT stats->>'read_path' AS path, n_users, n_interactions
FROM recsys.train_cf('phr_events', factors => 6, model => 'phr_ev_exec', iterations => 3, weight_col => 'weight',
					 event_col => 'kind', event_weights => '{"view": 2, "buy": 0.3}');
RESET recsys.fast_read;
SELECT count(*) AS users, count(*) FILTER (WHERE a.factors::text <> b.factors::text) AS differ
FROM recsys.user_factors a JOIN recsys.user_factors b USING (user_id)
WHERE a.model = 'phr_ev_par' AND b.model = 'phr_ev_exec';
-- an event type the map lacks, met by a worker: the worker's error
SET max_parallel_workers_per_gather = 2;
\set VERBOSITY terse
SELECT n_users FROM recsys.train_cf('phr_events', factors => 6, model => 'phr_ev_bad', weight_col => 'weight',
									event_col => 'kind', event_weights => '{"view": 2}');

-- recsys.max_memory holds a parallel read as a serial one: 240,000 rows
-- need 5 MB (coordinates and CSR), over a 4 MB limit, though each of the
-- two workers reads only about half of them
SET recsys.max_memory = '4MB';
DO $$
BEGIN
	PERFORM recsys.train_cf('phr_events', factors => 6, model => 'phr_mem', weight_col => 'weight');
	RAISE NOTICE 'read within the limit';
EXCEPTION WHEN program_limit_exceeded THEN
	RAISE NOTICE 'refused: %', regexp_replace(SQLERRM, '[0-9.]+ MB to read', 'N MB to read');
END $$;
-- ... and counts the workers' shared copies while the leader merges them
-- (s9-fix; they were left out).  2^19 rows, one worker reads them all and
-- the leader only merges: at its last growth the leader holds 6 MB of
-- coordinates (524,288 rows of room at 12 bytes) while the worker's copy,
-- 6 MB more (12 bytes a row, 8 an id), waits to be freed: 12 MB, over an
-- 11 MB limit that the old accounting (a serial read's 10 MB: coordinates
-- and CSR) and a serial read accept
CREATE TABLE phr_pow2 WITH (autovacuum_enabled = off) AS
SELECT i % 4000 AS user_id, i % 300 AS item_id FROM generate_series(1, 524288) i;
SET recsys.max_memory = '11MB';
SET max_parallel_workers_per_gather = 1;
SET parallel_leader_participation = off;
DO $$
BEGIN
	PERFORM recsys.train_cf('phr_pow2', factors => 6, model => 'phr_mem', iterations => 1);
	RAISE NOTICE 'read within the limit';
EXCEPTION WHEN program_limit_exceeded THEN
	RAISE NOTICE 'refused: %', regexp_replace(SQLERRM, '[0-9.]+ MB to read', 'N MB to read');
END $$;
RESET parallel_leader_participation;
SET max_parallel_workers_per_gather = 0;
SELECT stats->>'read_path' AS path, (stats->>'read_workers')::int AS workers, n_interactions
FROM recsys.train_cf('phr_pow2', factors => 6, model => 'phr_mem', iterations => 1);
SELECT recsys.drop_model('phr_mem');
DROP TABLE phr_pow2;
SET max_parallel_workers_per_gather = 2;
RESET recsys.max_memory;

-- workers read with the leader's snapshot: rows this transaction wrote,
-- updated and deleted, in a subtransaction too
BEGIN;
CREATE TABLE phr_tx AS
SELECT (i * 7919) % 4000 AS user_id, (i * 104729) % 300 AS item_id, 1.0::real AS weight
FROM generate_series(1::bigint, 200000) i;
UPDATE phr_tx SET weight = 2 WHERE user_id < 2000;
DELETE FROM phr_tx WHERE user_id >= 3000;
SELECT stats->>'read_path' AS path, (stats->>'read_workers')::int > 0 AS some_launched,
	   (stats->>'rows_read')::int AS rows_read, n_users
FROM recsys.train_cf('phr_tx', factors => 6, model => 'phr_tx', iterations => 1, weight_col => 'weight');
SAVEPOINT s;
UPDATE phr_tx SET weight = 3 WHERE user_id < 1000;
SELECT users, rows_read, max_weight FROM recsys.source_stats('phr_tx', weight_col => 'weight');
ROLLBACK TO s;
SELECT users, rows_read, max_weight FROM recsys.source_stats('phr_tx', weight_col => 'weight');
ROLLBACK;
-- a temporary table is read by the leader alone (its buffers are local)
CREATE TEMP TABLE phr_temp AS SELECT * FROM phr_events;
SELECT stats->>'read_path' AS path, (stats->>'read_workers_planned')::int AS planned, n_users
FROM recsys.train_cf('phr_temp', factors => 6, model => 'phr_temp', iterations => 1, weight_col => 'weight');
SELECT recsys.drop_model('phr_temp');
DROP TABLE phr_temp;

-- a bad weight met by a worker stops the read with the worker's message
INSERT INTO phr_events VALUES (17, 17, 'NaN', 'view');
SELECT n_users FROM recsys.train_cf('phr_events', factors => 6, model => 'phr_nan', weight_col => 'weight');
\set VERBOSITY default
RESET parallel_leader_participation;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;

SELECT recsys.drop_model(m)
FROM unnest(ARRAY['phr_par', 'phr_workers', 'phr_none', 'phr_serial', 'phr_exec', 'phr_ev_par', 'phr_ev_exec']) m;
DROP SCHEMA parallel_heap_read_test CASCADE;
