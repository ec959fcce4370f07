#!/usr/bin/env bash
# test/bench/search_latency.sh: recsys.search's latency on a large catalog
# (issue 14): the demo shop generator's catalog (test/tools/shopgen.c;
# EVENTS / 50 products, 100,000 by default), indexed with index_catalog
# (build time and size printed), ALS trained on the shop's events, then
# two-word queries ("<adjective> <noun>" of random product titles) for
# random known users, each run once to warm up and then timed inside the
# server (clock_timestamp around each call, no client round trip).
#
#   bash test/bench/search_latency.sh [EVENTS [QUERIES]]   (5000000 200)
#
# SEARCH_BASELINE=<git ref> also times that commit's search (its
# _search_features and search, loaded as schema bench_old over the same
# catalog and model) in the same run, each query old then new, so that the
# two are compared under the same load; "new, no cap" is the new search
# with recsys.search_max_matches = 0 (every match scored).
#
# Prints figures; not a test.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
events=${1:-5000000}
queries=${2:-200}

recsys_bench_header
recsys_build
recsys_start_cluster
recsys_psql -c "CREATE EXTENSION recsys" -c "CREATE EXTENSION pg_trgm"
t0=$(date +%s.%N)
bash "$RECSYS_ROOT/test/tools/load_shop.sh" "$events" 42
echo "load average: $(cut -d" " -f1-3 /proc/loadavg)"
echo "shop loaded in $(echo "$(date +%s.%N) - $t0" | bc) s ($events events)"
baseline_sql=/dev/null
if [[ -n "${SEARCH_BASELINE:-}" ]]; then
	baseline_sql=$(mktemp)
	git -C "$RECSYS_ROOT" show "$SEARCH_BASELINE:sql/recsys.sql" | python3 -c '
import re, sys
s = sys.stdin.read()
t = s[s.index("CREATE FUNCTION recsys._search_features("):s.index("COMMENT ON FUNCTION recsys.search(")]
t = re.sub(r"COMMENT ON FUNCTION recsys._search_features\(.*?\) IS\n\t.*?;\n", "", t)
t = t.replace("recsys._search_features", "bench_old._search_features")
print("CREATE SCHEMA bench_old;")
print(t.replace("CREATE FUNCTION recsys.search(", "CREATE FUNCTION bench_old.search("))' >"$baseline_sql"
fi
recsys_psql -f "$baseline_sql"
[[ "$baseline_sql" == /dev/null ]] || rm -f "$baseline_sql"
variants="'new'"
[[ -n "${SEARCH_BASELINE:-}" ]] && variants="'old', 'new, no cap', 'new'"
recsys_psql <<SQL
SET recsys.threads = 2;
SELECT count(*) AS products FROM shop.products;
\timing on
SELECT n_users, n_items FROM recsys.train_cf('shop.events', model => 'default', item_col => 'product_id');
SELECT recsys.index_catalog('shop.products', id_col => 'product_id', text_cols => '{title,brand,category}') AS indexed;
\timing off
SELECT pg_size_pretty(pg_total_relation_size('recsys.catalog_docs')) AS docs_with_indexes,
	   pg_size_pretty(pg_relation_size('recsys.catalog_docs_doc')) AS gin_index,
	   pg_size_pretty(pg_total_relation_size('recsys.catalog_terms')) AS terms,
	   (SELECT count(*) FROM recsys.catalog_terms) AS lexemes;

-- the workload: two words of a random title, a random user with events
\\set queries $queries
\\i $RECSYS_ROOT/test/bench/search_queries.sql
SELECT count(DISTINCT query) AS distinct_queries, count(DISTINCT user_id) AS distinct_users FROM bench_q;


CREATE FUNCTION bench_time(personal boolean)
RETURNS TABLE (variant text, n integer, ms double precision, matches bigint)
LANGUAGE plpgsql AS \$\$
DECLARE
	r record;
	t timestamptz;
BEGIN
	FOR r IN SELECT * FROM bench_q ORDER BY bench_q.n LOOP
		SELECT count(*) INTO matches FROM recsys.catalog_docs d WHERE d.doc @@ plainto_tsquery('english', r.query);
		n := r.n;
		FOREACH variant IN ARRAY ARRAY[$variants] LOOP
			PERFORM set_config('recsys.search_max_matches',
							   CASE variant WHEN 'new, no cap' THEN '0' ELSE '1000' END, true);
			-- warm: the same call once before the timed one
			EXECUTE format('SELECT count(*) FROM %s.search(\$1, \$2)',
						   CASE variant WHEN 'old' THEN 'bench_old' ELSE 'recsys' END)
				USING r.query, CASE WHEN personal THEN r.user_id END;
			t := clock_timestamp();
			EXECUTE format('SELECT count(*) FROM %s.search(\$1, \$2)',
						   CASE variant WHEN 'old' THEN 'bench_old' ELSE 'recsys' END)
				USING r.query, CASE WHEN personal THEN r.user_id END;
			ms := extract(epoch FROM clock_timestamp() - t) * 1000;
			RETURN NEXT;
		END LOOP;
	END LOOP;
END
\$\$;
\! echo "load average: \$(cut -d' ' -f1-3 /proc/loadavg)"
SELECT 'personalised' AS search, variant, count(*) AS queries,
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p50_ms,
	   round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p90_ms,
	   round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2) AS p99_ms,
	   percentile_cont(0.5) WITHIN GROUP (ORDER BY matches) AS median_matches, max(matches) AS max_matches
FROM bench_time(true) GROUP BY variant
UNION ALL
SELECT 'anonymous', variant, count(*),
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
	   round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 2),
	   round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2),
	   percentile_cont(0.5) WITHIN GROUP (ORDER BY matches), max(matches)
FROM bench_time(false) GROUP BY variant
ORDER BY 1 DESC, 2 DESC;
SQL
