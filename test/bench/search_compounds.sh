#!/usr/bin/env bash
# test/bench/search_compounds.sh: compounds written as one word or as two
# (review s11, finding 2: "lunchbag" vs "lunch bag") on the product-search
# set (../shared/data/search/online-retail).
#
#   bash test/bench/search_compounds.sh [BEFORE_REV]
#
# One cluster, two databases loaded alike with this tree's extension;
# "before" has recsys._search_features replaced by its definition at
# BEFORE_REV (a git revision of this tree; default: the commit before the
# one that added the compound rule), so the two differ in that function
# only.  Each indexes the catalog with the default weights and trains
# train_popular (anonymous search) and train_cf (personalised) on
# splits/online-retail/last5/train; then NDCG@10, HR@10 (filtered as in
# test/bench/search.sql: the user's other relevant items for the same
# query left out) over the even-user queries, as given ("CAKE STAND") and
# with the words of every two-word query joined ("LUNCHBAG", the review's
# case).  Prints figures; not a test.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/search_data.sh"
shared=${RECSYS_SHARED:-$(cd "$RECSYS_ROOT/../shared" && pwd)}
search=$shared/data/search/online-retail
splits=$shared/data/splits/online-retail
before_rev=${1:-$(git -C "$RECSYS_ROOT" log -n 1 --format=%H -S 'is_term := EXISTS' -- sql/recsys.sql)~1}
before_fn=$(mktemp /tmp/recsys-before.XXXXXX.sql)
chmod a+r "$before_fn"
# the function's CREATE .. COMMENT block at BEFORE_REV, as CREATE OR REPLACE
git -C "$RECSYS_ROOT" show "$before_rev:sql/recsys.sql" \
	| awk '/^CREATE FUNCTION recsys._search_features\(/ {on = 1; sub(/^CREATE FUNCTION/, "CREATE OR REPLACE FUNCTION")}
		   on {print} on && /^COMMENT ON FUNCTION recsys._search_features/ {c = 1} c && /;$/ {on = 0; c = 0}' >"$before_fn"

recsys_bench_header
echo "before: _search_features at $(git -C "$RECSYS_ROOT" rev-parse --short "$before_rev")"
recsys_build
recsys_start_cluster
for db in before after; do
	recsys_psql -d postgres -c "CREATE DATABASE $db"
	recsys_psql -d "$db" <<SQL
SET client_min_messages = warning;
CREATE EXTENSION recsys;
$([ "$db" = before ] && echo "\\i $before_fn")
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
SELECT 'two words joined', query_id, user_id, regexp_replace(query, '\s+', '', 'g'), item_id FROM queries
WHERE query ~ '^[[:alpha:]]+\s+[[:alpha:]]+$';
SQL
done
rm -f "$before_fn"
for db in before after; do
	echo "== $db"
	recsys_psql -d "$db" <<'SQL'
\pset footer off
SET client_min_messages = warning;
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
	   round(avg(coalesce(c.n, 0)), 2) AS mean_results
FROM variants v
CROSS JOIN (VALUES ('anonymous'), ('personalised')) m(mode)
LEFT JOIN y ON y.variant = v.variant AND y.mode = m.mode AND y.query_id = v.query_id AND y.item_id = v.item_id
LEFT JOIN (SELECT r.variant, r.mode, r.query_id, count(*) AS n FROM ranked r GROUP BY 1, 2, 3) c
	ON c.variant = v.variant AND c.mode = m.mode AND c.query_id = v.query_id
GROUP BY 1, 2 ORDER BY 1, 2;
SQL
done
