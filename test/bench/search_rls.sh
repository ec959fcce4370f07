#!/usr/bin/env bash
# test/bench/search_rls.sh: what row-level security on the catalog costs
# recsys.search: the demo shop's catalog (test/tools/shopgen.c; EVENTS / 50
# products, 100,000 by default) indexed and ALS trained as the superuser,
# then the same queries ("<adjective> <noun>" of random product titles,
# as test/bench/search_latency.sh) timed inside the server, anonymous and
# personalised, as the superuser (who bypasses row-level security) and as
# an ordinary role granted the catalog and the model (the policies apply),
# the two alternating query by query; each call is run once to warm up
# before the timed one.  Besides, BROAD queries of one word each, the
# catalog's most common words (review s12 W7: a word in most products
# made the granted role's read 5-10 times slower), reported apart.
#
#   bash test/bench/search_rls.sh [EVENTS [QUERIES [BROAD]]]   (5000000 200 10)
#
# Prints figures; not a test.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
events=${1:-5000000}
queries=${2:-200}
broad=${3:-10}

recsys_bench_header
recsys_build
recsys_start_cluster
recsys_psql -c "CREATE EXTENSION recsys" -c "CREATE EXTENSION pg_trgm"
bash "$RECSYS_ROOT/test/tools/load_shop.sh" "$events" 42
recsys_psql <<SQL
SET recsys.threads = 2;
SELECT count(*) AS products FROM shop.products;
SELECT n_users, n_items FROM recsys.train_cf('shop.events', model => 'default', item_col => 'product_id');
SELECT recsys.index_catalog('shop.products', id_col => 'product_id', text_cols => '{title,brand,category}') AS indexed;
CREATE ROLE bench_app;
GRANT USAGE ON SCHEMA shop TO bench_app;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO bench_app;
SELECT recsys.grant_catalog('default', 'bench_app'), recsys.grant_model('default', 'bench_app');

\\set queries $queries
\\i $RECSYS_ROOT/test/bench/search_queries.sql
-- the broad queries: the catalog's most common words, numbered after the others
INSERT INTO bench_q
SELECT $queries + row_number() OVER (ORDER BY t.df DESC, t.lexeme), t.lexeme, (SELECT q.user_id FROM bench_q q WHERE q.n = 1)
FROM recsys.catalog_terms t WHERE t.catalog = 'default' ORDER BY t.df DESC, t.lexeme LIMIT $broad;
SELECT q.query AS broad_word, t.df AS products FROM bench_q q JOIN recsys.catalog_terms t ON t.catalog = 'default' AND t.lexeme = q.query
WHERE q.n > $queries ORDER BY q.n;
GRANT SELECT ON bench_q TO bench_app;
CREATE TABLE bench_t (role text, search text, n integer, ms double precision, results bigint);
GRANT INSERT ON bench_t TO bench_app;

-- one query's timed search as the current role
CREATE PROCEDURE bench_one(q bench_q, personal boolean)
LANGUAGE plpgsql AS \$\$
DECLARE
	t timestamptz;
	results bigint;
BEGIN
	PERFORM count(*) FROM recsys.search(q.query, CASE WHEN personal THEN q.user_id END);
	t := clock_timestamp();
	SELECT count(*) INTO results FROM recsys.search(q.query, CASE WHEN personal THEN q.user_id END);
	INSERT INTO bench_t VALUES (current_user, CASE WHEN personal THEN 'personalised' ELSE 'anonymous' END,
								q.n, extract(epoch FROM clock_timestamp() - t) * 1000, results);
END
\$\$;
GRANT EXECUTE ON PROCEDURE bench_one(bench_q, boolean) TO bench_app;
VACUUM ANALYZE;
SQL
echo "load average before the timed searches: $(cut -d' ' -f1-3 /proc/loadavg)"
recsys_psql -v queries="$queries" <<'SQL'
DO $$
DECLARE
	q bench_q;
BEGIN
	FOR q IN SELECT * FROM bench_q ORDER BY n LOOP
		CALL bench_one(q, false);
		SET LOCAL ROLE bench_app;
		CALL bench_one(q, false);
		CALL bench_one(q, true);
		RESET ROLE;
		CALL bench_one(q, true);
	END LOOP;
END
$$;
\! echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
SELECT CASE WHEN n > :queries THEN 'broad' ELSE 'two words' END AS words, search, role, count(*) AS queries,
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p50_ms,
	   round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p90_ms,
	   round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p99_ms,
	   sum(results) AS results
FROM bench_t GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SQL
