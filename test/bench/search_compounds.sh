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
before_rev=${1:-$(git -C "$RECSYS_ROOT" log --reverse --format=%H -S 'review s11, 2' -- sql/recsys.sql | sed -n 1p)~1}
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
$(search_variants_setup_sql "SELECT 'two words joined', query_id, user_id, regexp_replace(query, '\\s+', '', 'g'), item_id FROM queries
WHERE query ~ '^[[:alpha:]]+\\s+[[:alpha:]]+\$'")
SQL
done
rm -f "$before_fn"
for db in before after; do
	echo "== $db"
	search_variants_eval_sql | recsys_psql -d "$db"
done
