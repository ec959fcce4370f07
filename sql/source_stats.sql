-- recsys.source_stats: the ingestion path from a user's table into C
CREATE SCHEMA source_stats_test;
SET search_path = source_stats_test, public;
SET extra_float_digits = 0;

CREATE TABLE ratings (user_id bigint, item_id bigint, rating real, note text);
INSERT INTO ratings VALUES
	(10, 100, 4, 'a'), (10, 101, 3, 'b'),
	(20, 100, 5, 'c'), (20, 100, 1, 'duplicate pair, summed'),
	(30, 102, 2, 'd'),
	(NULL, 100, 1, 'no user: skipped'),
	(40, NULL, 1, 'no item: skipped'),
	(50, 103, NULL, 'no weight: skipped when a weight column is given');

-- 4 users (10, 20, 30, 50) without weights, 3 with; duplicates count once
SELECT users, items, interactions, rows_read, skipped_rows,
	   round(density::numeric, 4) AS density, min_weight, max_weight,
	   read_seconds >= 0 AS timed, build_seconds >= 0 AS built
FROM recsys.source_stats('ratings');
SELECT users, items, interactions, rows_read, skipped_rows,
	   round(density::numeric, 4) AS density, min_weight, max_weight
FROM recsys.source_stats('ratings', weight_col => 'rating');

-- other column names, integer types and weight types
CREATE TABLE events (customer int, product smallint, qty int, price numeric(6,2), score float8);
INSERT INTO events VALUES (1, 7, 2, 9.99, 0.5), (2, 7, 1, 1.50, 1.5), (2, 8, 3, 100.25, -2);
SELECT users, items, interactions, min_weight, max_weight
FROM recsys.source_stats('events', 'customer', 'product', 'qty');
SELECT users, items, interactions, min_weight, max_weight
FROM recsys.source_stats('events', user_col => 'customer', item_col => 'product', weight_col => 'price');
SELECT users, items, interactions, min_weight, max_weight
FROM recsys.source_stats('events', 'customer', 'product', 'score');

-- a view that cleans a raw log is a source like any table
CREATE VIEW purchases AS
	SELECT customer AS user_id, product AS item_id, qty FROM events WHERE qty > 1;
SELECT users, items, interactions FROM recsys.source_stats('purchases', weight_col => 'qty');

-- ids anywhere in the bigint range, negative ones included
CREATE TABLE wide_ids (user_id bigint, item_id bigint);
INSERT INTO wide_ids VALUES (-9223372036854775808, 9223372036854775807), (0, -1), (-9223372036854775808, -1);
SELECT users, items, interactions FROM recsys.source_stats('wide_ids');

-- an empty source has no density
CREATE TABLE empty_source (user_id bigint, item_id bigint);
SELECT users, items, interactions, rows_read, density, min_weight FROM recsys.source_stats('empty_source');

-- a larger source: many users, read in one streaming pass
CREATE TABLE big AS
	SELECT g % 5000 AS user_id, (g * 7) % 300 AS item_id, 1 + g % 3 AS w
	FROM generate_series(1, 100000) g;
SELECT users, items, interactions, rows_read FROM recsys.source_stats('big', weight_col => 'w');

-- errors: NULL arguments
SELECT * FROM recsys.source_stats(NULL);
SELECT * FROM recsys.source_stats('ratings', NULL);
SELECT * FROM recsys.source_stats('ratings', 'user_id', NULL);
-- errors: unknown relation, not a table, missing columns
SELECT * FROM recsys.source_stats('no_such_table');
SELECT * FROM recsys.source_stats(999999::oid::regclass);
CREATE SEQUENCE not_a_table;
SELECT * FROM recsys.source_stats('not_a_table');
SELECT * FROM recsys.source_stats('ratings', 'customer');
SELECT * FROM recsys.source_stats('ratings', item_col => 'product');
SELECT * FROM recsys.source_stats('ratings', weight_col => 'stars');
SELECT * FROM recsys.source_stats('ratings', 'user_id', 'user_id');
-- errors: columns of the wrong type
SELECT * FROM recsys.source_stats('ratings', weight_col => 'note');
SELECT * FROM recsys.source_stats('ratings', user_col => 'note');
SELECT * FROM recsys.source_stats('ratings', item_col => 'rating');
-- errors: weights that are not finite numbers
INSERT INTO events VALUES (3, 9, 1, 'NaN', 'Infinity');
SELECT * FROM recsys.source_stats('events', 'customer', 'product', 'price');
SELECT * FROM recsys.source_stats('events', 'customer', 'product', 'score');
UPDATE events SET score = '-Infinity' WHERE customer = 3;
SELECT * FROM recsys.source_stats('events', 'customer', 'product', 'score');
UPDATE events SET score = 1e300 WHERE customer = 3;
SELECT * FROM recsys.source_stats('events', 'customer', 'product', 'score');

-- recsys.max_memory bounds the working set
SET recsys.max_memory = '1MB';
SELECT * FROM recsys.source_stats('big');
-- with the table's row estimate (ANALYZE) it is refused before reading a
-- row: 100,000 rows at 20 bytes need 1.9 MB
ANALYZE big;
SELECT reltuples FROM pg_class WHERE oid = 'big'::regclass;
SELECT * FROM recsys.source_stats('big');
-- an estimate within the budget reads as before
SET recsys.max_memory = '3MB';
SELECT users, items, interactions FROM recsys.source_stats('big');
SET recsys.max_memory = '1MB';
-- a stale estimate (ANALYZE at 100,000 rows, then a DELETE to 220, no
-- vacuum) is not trusted: a sample of the pages finds the live rows, and
-- the table is read (the exact check while rows stream in still applies)
CREATE TABLE stale WITH (autovacuum_enabled = off) AS
SELECT g % 5000 AS user_id, g % 300 AS item_id FROM generate_series(1, 100000) g;
ANALYZE stale;
DELETE FROM stale WHERE user_id > 10;
SELECT reltuples, (SELECT count(*) FROM stale) AS live FROM pg_class WHERE oid = 'stale'::regclass;
SELECT users, items, interactions FROM recsys.source_stats('stale');
SELECT n_items FROM recsys.train_cf('stale', factors => 2, iterations => 1, model => 'source_stats_stale');
SELECT recsys.drop_model('source_stats_stale');
DROP TABLE stale;
RESET recsys.max_memory;

-- reads run as the caller: privileges and row-level security apply
CREATE ROLE recsys_reader;
GRANT USAGE ON SCHEMA public TO recsys_reader;
SET ROLE recsys_reader;
SELECT * FROM recsys.source_stats('ratings');
RESET ROLE;
GRANT SELECT (user_id, item_id) ON ratings TO recsys_reader;
SET ROLE recsys_reader;
SELECT users, items FROM recsys.source_stats('ratings');
SELECT users, items FROM recsys.source_stats('ratings', weight_col => 'rating');
RESET ROLE;
GRANT SELECT ON ratings TO recsys_reader;
ALTER TABLE ratings ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_user_10 ON ratings FOR SELECT TO recsys_reader USING (user_id = 10);
SET ROLE recsys_reader;
SELECT users, items, interactions FROM recsys.source_stats('ratings', weight_col => 'rating');
RESET ROLE;
DROP POLICY only_user_10 ON ratings;
REVOKE ALL ON ratings FROM recsys_reader;
REVOKE ALL ON SCHEMA public FROM recsys_reader;
DROP ROLE recsys_reader;

RESET search_path;
DROP SCHEMA source_stats_test CASCADE;
