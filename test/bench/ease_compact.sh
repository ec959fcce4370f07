#!/usr/bin/env bash
# test/bench/ease_compact.sh: compact EASE (train_ease's keep) next to the
# exact model on ml-latest-small strat75, in one run.
#
#   bash test/bench/ease_compact.sh
#
# RECSYS_KEEP_GRID (default "0.05 0.1 0.15") is tried on the valid split
# (valid/train -> valid/test); the smallest keep whose valid NDCG@10 is
# within RECSYS_KEEP_LOSS (default 0.0015, a margin under the goal's
# 0.002) of the exact model's is then trained on train and scored on test
# next to the exact model, twice each, alternating (the machine is shared).
# Each line: the weights kept, the bytes of recsys.item_neighbor_lists
# (heap, TOAST and index; the table is emptied and VACUUM FULLed before
# each training, so that is one version's size), NDCG@10 and the seconds
# of the train_ease call end to end (read, fit, write).  EASE with
# regularization 200 on the binary matrix, as accuracy.sh's baseline line.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}
split=$shared/data/splits/ml-latest-small/strat75
grid=${RECSYS_KEEP_GRID:-0.05 0.1 0.15}
loss=${RECSYS_KEEP_LOSS:-0.0015}

recsys_install_deps
recsys_build
recsys_start_cluster "shared_buffers = 1GB"
recsys_bench_header
recsys_psql -c "CREATE EXTENSION recsys"

# load_split: a split file as a table, indexed by user
source "$(dirname "$0")/split_tables.sh"
load_split ml_train "$split/train.csv.gz"
load_split ml_test "$split/test.csv.gz"
load_split ml_vtrain "$split/valid/train.csv.gz"
load_split ml_vtest "$split/valid/test.csv.gz"

# one line: label, train table, test table, keep; sets ndcg
run() {
	local label=$1 train=$2 test=$3 keep=$4 line
	recsys_psql -q -c "VACUUM FULL recsys.item_neighbor_lists"
	line=$(recsys_psql -At -F ' ' <<SQL
SET recsys.threads = 2;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT 1 AS trained FROM recsys.train_ease('$train', 200, 'm', keep => $keep) \gset
SELECT extract(epoch FROM clock_timestamp()) - :t0 AS fit \gset
SELECT sum(cardinality(scores)) AS kept FROM recsys.item_neighbor_lists WHERE model = 'm' \gset
SELECT format('%-22s %7s %12s %9s %8s %7s', '$label', $keep, :kept,
	round(pg_total_relation_size('recsys.item_neighbor_lists') / 1e6, 1),
	round(max(value) FILTER (WHERE metric = 'ndcg@10')::numeric, 4),
	round(:fit::numeric, 2))
FROM recsys.evaluate('m', '$test');
SELECT recsys.drop_model('m');
SQL
)
	line=$(printf '%s\n' "$line" | grep -v '^$' | grep -v '^t$' | head -1)
	echo "$line"
	ndcg=$(awk "{print \$(NF - 1)}" <<<"$line")
}

header() {
	echo
	echo "### $1"
	printf '%-22s %7s %12s %9s %8s %7s\n' model keep weights MB NDCG@10 train_s
}

header "ml-latest-small / strat75 valid: choosing keep (loss <= $loss)"
run "EASE exact" ml_vtrain ml_vtest 1
exact=$ndcg
chosen=1
for k in $grid; do
	run "EASE compact" ml_vtrain ml_vtest "$k"
	if [ "$chosen" = 1 ] && awk -v e="$exact" -v c="$ndcg" -v l="$loss" 'BEGIN { exit !(e - c <= l) }'; then
		chosen=$k
	fi
done
echo "chosen on valid: keep $chosen"

header "ml-latest-small / strat75 test: exact vs compact (keep $chosen, chosen on valid)"
run "EASE exact" ml_train ml_test 1
run "EASE compact" ml_train ml_test "$chosen"
run "EASE exact (again)" ml_train ml_test 1
run "EASE compact (again)" ml_train ml_test "$chosen"
