#!/usr/bin/env bash
# test/bench/search_hyphens.sh: hyphenated query words (review s10,
# finding 7) on the product-search set (../shared/data/search/online-retail).
#
#   bash test/bench/search_hyphens.sh
#
# One cluster, two databases loaded alike: "before" runs the 0.10.0 SQL
# (CREATE EXTENSION recsys VERSION '0.10.0', the same library), "after"
# this tree's.  Each indexes the catalog with the default weights and
# trains train_popular (anonymous search) and train_cf (personalised) on
# splits/online-retail/last5/train; then NDCG@10, HR@10 (filtered as in
# test/bench/search.sql: the user's other relevant items for the same
# query left out) over the even-user queries, as given ("T-LIGHT HOLDER")
# and with the words of every multi-word query joined by hyphens
# ("LUNCH-BAG", the review's case).  Prints figures; not a test.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/search_data.sh"
shared=${RECSYS_SHARED:-$(cd "$RECSYS_ROOT/../shared" && pwd)}
search=$shared/data/search/online-retail
splits=$shared/data/splits/online-retail

recsys_bench_header
recsys_build
recsys_start_cluster
for db in before after; do
	recsys_psql -d postgres -c "CREATE DATABASE $db"
	version=$([ "$db" = before ] && echo "VERSION '0.10.0'" || true)
	recsys_psql -d "$db" <<SQL
SET client_min_messages = warning;
CREATE EXTENSION recsys $version;
$(search_data_sql)
SET recsys.threads = 2;
SELECT 1 FROM recsys.train_popular('train', model => 'pop', weight_col => 'weight');
SELECT 1 FROM recsys.train_cf('train', model => 'als', weight_col => 'weight');
SELECT 1 FROM recsys.index_catalog('products', text_cols => '{description}');
CREATE TABLE corel AS
SELECT q.query_id, o.item_id FROM queries q
JOIN queries o ON o.user_id = q.user_id AND o.query = q.query AND o.query_id <> q.query_id;
CREATE TABLE variants AS
SELECT 'as given' AS variant, query_id, user_id, query, item_id FROM queries
UNION ALL
SELECT 'joined by hyphens', query_id, user_id, regexp_replace(query, '\s+', '-', 'g'), item_id FROM queries
WHERE query ~ '\s';
SQL
done
for db in before after; do
	echo "== $db ($(recsys_psql -d "$db" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'recsys'"))"
	recsys_psql -d "$db" <<'SQL'
\pset footer off
CREATE TABLE ranked AS
SELECT v.variant, m.mode, v.query_id, s.item_id, s.pos
FROM variants v
CROSS JOIN (VALUES ('anonymous', 'pop'), ('personalised', 'als')) m(mode, model)
CROSS JOIN LATERAL (
	SELECT r.item_id, row_number() OVER () AS pos
	FROM recsys.search(v.query, CASE WHEN m.mode = 'personalised' THEN v.user_id END, 20, m.model) r) s;
WITH y AS (
	SELECT x.variant, x.mode, x.query_id, x.item_id,
		   row_number() OVER (PARTITION BY x.variant, x.mode, x.query_id ORDER BY x.pos) AS rank
	FROM ranked x
	WHERE NOT EXISTS (SELECT FROM corel c WHERE c.query_id = x.query_id AND c.item_id = x.item_id)
)
SELECT v.variant, m.mode, count(*) AS queries,
	   round(avg(CASE WHEN y.rank <= 10 THEN 1 / log(2, y.rank + 1) ELSE 0 END), 4) AS ndcg10,
	   round(avg(CASE WHEN y.rank <= 10 THEN 1 ELSE 0 END), 4) AS hr10,
	   round(avg((SELECT count(*) FROM ranked r WHERE r.variant = v.variant AND r.mode = m.mode
				  AND r.query_id = v.query_id)), 2) AS mean_results
FROM variants v
CROSS JOIN (VALUES ('anonymous'), ('personalised')) m(mode)
LEFT JOIN y ON y.variant = v.variant AND y.mode = m.mode AND y.query_id = v.query_id AND y.item_id = v.item_id
GROUP BY 1, 2 ORDER BY 1, 2;
SQL
done
