#!/usr/bin/env bash
# test/bench/search_anonymous.sh: features for anonymous search that need
# no user (issue 14, goal >= 0.518 NDCG@10), on Online Retail's search set
# (../shared/data/search/README.md), against popularity among matches.
#
#   bash test/bench/search_anonymous.sh
#
# Loads the catalog, the (even-user) queries and splits/online-retail/
# last5/train, trains ALS (for recsys._search_features' matches and user
# counts), indexes the catalog, splits the validation half of the queries
# (md5 rule of the data set's README) again by md5's byte 14 into 'fit'
# (995 queries: weights learned) and 'choose' (971: feature set chosen),
# then reports NDCG@10 (filtered, as search.sql) on fit, choose, valid and
# test of
#  1. recsys.search, anonymous, with the weights recsys.tune_search learns
#     on fit for each feature set (tune_search's features argument);
#  2. a linear ranker learned the same way (tune_search's objective and
#     coordinate ascent) over more no-user features computed from train
#     only: purchases, quantity, recent buyers, category popularity and a
#     query log built from train purchases (see search_anonymous.sql).
# Test is for reporting.  Prints figures; not a test.  About 3 minutes.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/search_data.sh"
shared=${RECSYS_SHARED:-$(cd "$RECSYS_ROOT/../shared" && pwd)}
search=$shared/data/search/online-retail
splits=$shared/data/splits/online-retail

recsys_bench_header
recsys_build
recsys_start_cluster
recsys_psql <<SQL
CREATE EXTENSION recsys;
$(search_data_sql)
SELECT n_users, n_items FROM recsys.train_cf('train', model => 'als', weight_col => 'weight');
SELECT recsys.index_catalog('products', text_cols => '{description}') AS indexed;
SQL
recsys_psql -f "$RECSYS_ROOT/test/bench/search_anonymous.sql"
