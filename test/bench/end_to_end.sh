#!/usr/bin/env bash
# test/bench/end_to_end.sh: recsys's training end to end (read the table,
# fit, write the model) against the implicit library's fit alone, on the
# shared synthetic set (../shared/bench/synth.py defaults: 19.3M pairs,
# 1M users, 100K items), taking turns in one run.
#
#   bash test/bench/end_to_end.sh [ROUNDS]
#
# Each round times, in this order:
#   train_cf        recsys.train_cf(factors 64, RECSYS_E2E_ITERATIONS (3)
#                   iterations, no weight_col), the whole call, with its own
#                   read_seconds and fit_seconds (stats) and the rest
#                   (writing 1.1M factor rows, the catalog) as write
#   train_item_knn  recsys.train_item_knn(K 100, similarity bm25,
#                   weight_col weight), the same split
#   implicit        one process (test/bench/end_to_end_peer.py): its
#                   AlternatingLeastSquares (same factors and iterations,
#                   binary confidences) and BM25Recommender (K 100, on the
#                   weights), fit() alone each, the matrix already built
# recsys.threads = 2 and implicit's num_threads = 2 (OPENBLAS_NUM_THREADS=1,
# as implicit asks).  Prints every turn with the load average, then the
# medians and the ratios recsys end to end / implicit fit (the issue's goal:
# at most 0.5).
#
# The peer: implicit is not a Debian package.  Set RECSYS_IMPLICIT to a
# source tree of implicit (0.7.x) with its Cython modules built in place
# (bpr.sh says how; _als, _nearest_neighbours and topk are needed here).
# Without it the implicit column is skipped with a message.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
rounds=${1:-3}
iterations=${RECSYS_E2E_ITERATIONS:-3}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}
peer=${RECSYS_IMPLICIT:-}

recsys_build
recsys_start_cluster "shared_buffers = 2GB" "max_wal_size = 20GB"
recsys_bench_header
work=$(mktemp -d /tmp/recsys-e2e.XXXXXX)
trap 'recsys_stop_cluster || true; rm -rf "$work"' EXIT
if [ -z "$peer" ]; then
	echo "implicit: skipped (set RECSYS_IMPLICIT to a built source tree of implicit 0.7.x to compare)"
fi

# RECSYS_SYNTH_CSV: a copy of synth.py's default output written before (it
# is deterministic), to skip writing it again; implicit's matrix is cached
# next to it (.npz)
synth_csv=${RECSYS_SYNTH_CSV:-$work/synth.csv.gz}
if [ ! -s "$synth_csv" ]; then
	log "writing the synthetic set (synth.py defaults)"
	/usr/bin/python3 "$shared/bench/synth.py" "$synth_csv"
fi
recsys_psql -c "CREATE TABLE turns (what text, round int, total float8, read float8, fit float8)" \
	-c "CREATE EXTENSION recsys"
recsys_load_synth "$synth_csv"

# recsys_turn WHAT ROUND MODEL CALL: one timed training in a new session
recsys_turn() {
	local what=$1 round=$2 model=$3 call=$4
	recsys_psql -At <<SQL
SET recsys.threads = 2;
SET recsys.max_memory = '16GB';
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT 1 AS trained FROM $call \gset
SELECT extract(epoch FROM clock_timestamp()) - :t0 AS total \gset
INSERT INTO turns SELECT '$what', $round, :total, (stats->>'read_seconds')::float8, (stats->>'fit_seconds')::float8
FROM recsys.models WHERE name = '$model';
SELECT format('round %s %s: %s s end to end (read %s, fit %s, write %s), version %s, load %s', $round, '$what',
	round(total::numeric, 2), round(read::numeric, 2), round(fit::numeric, 2),
	round((total - read - fit)::numeric, 2), (SELECT version FROM recsys.models WHERE name = '$model'),
	'$(cut -d' ' -f1 /proc/loadavg)')
FROM turns WHERE what = '$what' AND round = $round;
SQL
}

for round in $(seq 1 "$rounds"); do
	recsys_turn train_cf "$round" e2e_cf \
		"recsys.train_cf('synth', factors => 64, iterations => $iterations, model => 'e2e_cf')"
	recsys_turn train_item_knn "$round" e2e_knn \
		"recsys.train_item_knn('synth', 100, model => 'e2e_knn', similarity => 'bm25', weight_col => 'weight')"
	if [ -n "$peer" ]; then
		read -r als knn < <(OPENBLAS_NUM_THREADS=1 /usr/bin/python3 -W ignore \
			"$RECSYS_ROOT/test/bench/end_to_end_peer.py" "$peer" "${synth_csv%.csv.gz}.npz" "$synth_csv" \
			2 64 "$iterations" 100)
		recsys_psql -At <<SQL
INSERT INTO turns VALUES ('implicit_als', $round, $als), ('implicit_bm25', $round, $knn);
SELECT 'round $round implicit: ALS fit ' || $als || ' s, BM25 K=100 fit ' || $knn || ' s, load $(cut -d' ' -f1 /proc/loadavg)';
SQL
	fi
done

recsys_psql <<SQL
CREATE TEMP VIEW medians AS
SELECT what, percentile_cont(0.5) WITHIN GROUP (ORDER BY total) AS total,
	percentile_cont(0.5) WITHIN GROUP (ORDER BY read) AS read,
	percentile_cont(0.5) WITHIN GROUP (ORDER BY fit) AS fit,
	percentile_cont(0.5) WITHIN GROUP (ORDER BY total - read - fit) AS write, count(*) AS rounds
FROM turns GROUP BY what;
SELECT what, round(total::numeric, 2) AS total_s_median, round(read::numeric, 2) AS read_s,
	round(fit::numeric, 2) AS fit_s, round(write::numeric, 2) AS write_s, rounds
FROM medians ORDER BY what;
SELECT r.what AS recsys_end_to_end, p.what AS implicit_fit_alone,
	round((r.total / p.total)::numeric, 2) AS ratio, '<= 0.5' AS goal
FROM medians r JOIN medians p
  ON (r.what, p.what) IN (('train_cf', 'implicit_als'), ('train_item_knn', 'implicit_bm25'));
SQL
