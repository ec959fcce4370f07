#!/usr/bin/env bash
# test/bench/search.sh: personalised product search on Online Retail
# (issue 14; data and protocol: ../shared/data/search/README.md).
#
#   bash test/bench/search.sh
#
# Loads the search set's catalog and (even-user) queries, trains ALS
# (train_cf, purchase counts as weights) and EASE (lambda 1000, the peers'
# choice: splits/PEERS.md) on splits/online-retail/last5/train and their
# blend (1:1), indexes the catalog, reproduces the README's BM25 and popularity baselines (a check
# of the metric code), tunes recsys.search's weights on the validation
# half of the queries (md5 rule of the README) with recsys.tune_search and
# reports NDCG@10, MRR@10 and HR@10 (filtered) of recsys.search,
# personalised and anonymous, on test and all.  Prints figures; not a test.
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
CREATE EXTENSION pg_trgm;
$(search_data_sql)
SET recsys.threads = 2;
\timing on
SELECT n_users, n_items FROM recsys.train_cf('train', model => 'als', weight_col => 'weight');
SELECT n_users, n_items FROM recsys.train_ease('train', 1000, model => 'ease', weight_col => 'weight');
SELECT name FROM recsys.train_blend('{als,ease}', '{1,1}', model => 'blend_1_1');

SELECT recsys.index_catalog('products', text_cols => '{description}') AS indexed;
\timing off
SQL
recsys_psql -f "$RECSYS_ROOT/test/bench/search.sql"
