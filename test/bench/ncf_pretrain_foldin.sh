#!/usr/bin/env bash
# test/bench/ncf_pretrain_foldin.sh: what train_ncf's pretrained start
# costs when the ALS it starts from keeps no user vectors
# (store_users => false): each training user's vector is then folded in
# from the base's source (src/kind_factors.c, factors_factor_vectors).
#
#   bash test/bench/ncf_pretrain_foldin.sh [RUNS]        (default 5)
#   RECSYS_NO_USER_INDEX=1 bash test/bench/ncf_pretrain_foldin.sh [RUNS]
#
# The second form leaves the sources without an index on user_id, where
# reading one user's items is a sequential scan of the whole source.
#
# On the strat75 train files of ml-latest-small and online-retail (the
# shared splits): an ALS of 64 factors trained with store_users true and
# false, then train_ncf(pretrained => base, iterations => 0) from each,
# RUNS times interleaved; prints each run's train_seconds and the medians.
# The difference of the medians is the fold-in of every user.  Also checks
# that both starts give the same NCF model (pretrained_users, loss).  Not
# a timed test; the machine is shared: compare variants of one run.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
runs=${1:-5}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}
splits=$shared/data/splits

recsys_install_deps
recsys_build
recsys_start_cluster "shared_buffers = 512MB"
recsys_bench_header
echo "index on user_id: $([ "${RECSYS_NO_USER_INDEX:-0}" = 1 ] && echo no || echo yes)"
recsys_psql -q -c "CREATE EXTENSION recsys"

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for data in ml-latest-small online-retail; do
	t=${data//-/_}
	recsys_psql -q <<SQL
CREATE TABLE $t (user_id bigint, item_id bigint, r real, ts bigint);
\copy $t FROM PROGRAM 'gzip -dc $splits/$data/strat75/train.csv.gz' WITH (FORMAT csv, HEADER true)
$([ "${RECSYS_NO_USER_INDEX:-0}" = 1 ] || echo "CREATE INDEX ON $t (user_id);")
ANALYZE $t;
SET recsys.threads = 2;
SELECT 1 AS trained FROM recsys.train_cf('$t', factors => 64, iterations => 10, model => 'base_stored') \gset
SELECT 1 AS trained FROM recsys.train_cf('$t', factors => 64, iterations => 10, model => 'base_folded', store_users => false) \gset
SQL
	: >/tmp/ncf_foldin_stored; : >/tmp/ncf_foldin_folded
	for r in $(seq "$runs"); do
		for base in stored folded; do
			line=$(recsys_psql -At -F ' ' -c "SET recsys.threads = 2" -c "
SELECT train_seconds, stats ->> 'pretrained_users', round((stats ->> 'loss')::numeric, 6)
FROM recsys.train_ncf('$t', model => 'ncf_$base', pretrained => 'base_$base', iterations => 0, replace => true)")
			echo "$data run $r base $base: train_seconds users loss = $line"
			echo "${line%% *}" >>/tmp/ncf_foldin_$base
		done
	done
	echo "$data medians over $runs runs: stored users $(median </tmp/ncf_foldin_stored) s," \
		"folded in $(median </tmp/ncf_foldin_folded) s"
done
rm -f /tmp/ncf_foldin_stored /tmp/ncf_foldin_folded
