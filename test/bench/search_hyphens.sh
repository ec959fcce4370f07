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
$(search_variants_setup_sql "SELECT 'joined by hyphens', query_id, user_id, regexp_replace(query, '\\s+', '-', 'g'), item_id FROM queries
WHERE query ~ '\\s'")
SQL
done
for db in before after; do
	echo "== $db ($(recsys_psql -d "$db" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'recsys'"))"
	search_variants_eval_sql | recsys_psql -d "$db"
done
