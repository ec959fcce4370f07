#!/usr/bin/env bash
# test/bench/parallel_read.sh: source reads, by path and with workers.
#
#   bash test/bench/parallel_read.sh [RUNS] [SYNTH_ARGS...]
#       (defaults: 3 runs; synth.py's defaults, 19.3M pairs;
#        e.g. "3 --users 200000 --items 20000 --pairs 4000000" for 4M)
#   RECSYS_SYNTH_CSV=file.csv.gz: a set synth.py wrote already (not written again)
#   RECSYS_BEFORE_SO=recsys.so: an older build of the same SQL version,
#       measured as mode "before" in the same run (its recsys.so is swapped
#       in for those calls only: each call is a new backend, which loads
#       the file present then)
#
# Reads the synthetic set (../shared/bench/synth.py) as a plain table and
# through a view that filters in SQL (weight >= 1: every row, but a filter
# each worker evaluates), with recsys.source_stats (read and map, then
# build the CSR/CSC) and with train_cf (64 factors, 3 iterations, end to
# end), in these settings alternated within each run:
#   heap      recsys.fast_read = on (the default): a plain table is read by
#             a direct heap scan, with workers mapping ids when the planner
#             would give a scan of it workers (the view still by the
#             executor, serial); max_parallel_workers_per_gather = 2
#   heap_ser  the same, max_parallel_workers_per_gather = 0 (one process:
#             0.10.0 before parallel heap reads)
#   serial    fast_read off, max_parallel_workers_per_gather = 0
#   planner   fast_read off, = 2 with the default parallel costs
#   forced    fast_read off, = 2 with parallel_setup_cost = parallel_tuple_cost = 0
#   before    RECSYS_BEFORE_SO's build with its defaults (when given)
# A "scan" row times SELECT count(user_id) + count(item_id) + count(weight)
# serially and forced to 2 workers: the scan alone, which PostgreSQL
# parallelises with a partial aggregate, so no row crosses a Gather.
# Prints each run (workers: launched, from train_cf's stats; for reads the
# plan's) and the medians.  Figures depend on the machine, printed first;
# not a test.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
runs=${1:-3}
shift || true
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}

recsys_install_deps
recsys_build
recsys_start_cluster "shared_buffers = 2GB" "max_wal_size = 20GB" "max_parallel_workers = 4"
recsys_bench_header

synth_csv=${RECSYS_SYNTH_CSV:-$RECSYS_SCRATCH/synth.csv.gz}
if [ -z "${RECSYS_SYNTH_CSV:-}" ]; then
	log "writing the synthetic set (synth.py $*)"
	/usr/bin/python3 "$shared/bench/synth.py" "$synth_csv" "$@"
fi
lib=$("$PG_CONFIG" --pkglibdir)
modes="heap heap_ser serial planner forced"
if [ -n "${RECSYS_BEFORE_SO:-}" ]; then
	cp "$lib/recsys.so" "$RECSYS_SCRATCH/after.so"
	cp "$RECSYS_BEFORE_SO" "$RECSYS_SCRATCH/before.so"
	modes="$modes before"
fi
# the build a mode runs with (copied over the installed library; each psql call is a new backend)
use_build() {
	[ -n "${RECSYS_BEFORE_SO:-}" ] || return 0
	local build=after
	[ "$1" = before ] && build=before
	# a new file renamed over the old: backends still running keep theirs
	cp "$RECSYS_SCRATCH/$build.so" "$lib/recsys.so.new" && mv "$lib/recsys.so.new" "$lib/recsys.so"
}
trap 'use_build after; recsys_stop_cluster' EXIT
recsys_psql <<SQL
CREATE EXTENSION recsys;
CREATE TABLE synth (user_id bigint, item_id bigint, weight real);
\copy synth FROM PROGRAM 'gzip -dc $synth_csv' WITH (FORMAT csv, HEADER true)
VACUUM ANALYZE synth;
CREATE VIEW synth_filtered AS SELECT user_id, item_id, weight FROM synth WHERE weight >= 1;
SQL
echo "rows: $(recsys_psql -At -c 'SELECT count(*) FROM synth')"

settings() {
	case $1 in
	heap | before) echo "SET max_parallel_workers_per_gather = 2;" ;;
	heap_ser) echo "SET max_parallel_workers_per_gather = 0;" ;;
	serial) echo "SET recsys.fast_read = off; SET max_parallel_workers_per_gather = 0;" ;;
	planner) echo "SET recsys.fast_read = off; SET max_parallel_workers_per_gather = 2;" ;;
	forced) echo "SET recsys.fast_read = off; SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;" ;;
	esac
}
# the parallel costs only, for EXPLAIN and the scan (no recsys setting)
plan_settings() { settings "$1" | sed 's/SET recsys.fast_read = off; //'; }

results=$(mktemp)
printf '%-8s %-14s %-8s %3s %8s %8s %8s %8s\n' what source mode run workers read_s build_s total_s
for run in $(seq 1 "$runs"); do
	for src in synth synth_filtered; do
		for mode in $modes; do
			use_build "$mode"
			line=$(recsys_psql -At -F ' ' <<SQL
$(settings $mode)
SET recsys.max_memory = '16GB';
SELECT read_seconds, build_seconds FROM recsys.source_stats('$src', weight_col => 'weight');
SQL
)
			read -r rs bs <<<"$line"
			# the heap path asks for the workers a forced plan of the table gets
			pm=$mode
			[ "$mode" = heap ] && [ "$src" = synth ] && pm=forced
			w=$(recsys_psql -At -c "$(plan_settings $pm)" -c "EXPLAIN SELECT user_id, item_id, weight FROM $src" |
				sed -n 's/.*Workers Planned: \([0-9]*\).*/\1/p' | head -1)
			awk -v s="$src" -v m="$mode" -v r="$run" -v w="${w:-0}" -v rs="$rs" -v bs="$bs" 'BEGIN {
				printf "%-8s %-14s %-8s %3d %8d %8.3f %8.3f %8.3f\n", "read", s, m, r, w, rs, bs, rs + bs }' | tee -a "$results"
		done
		for mode in serial forced; do
			ms=$(recsys_psql -At -c "$(plan_settings $mode)" -c '\timing on' \
				-c "SELECT count(user_id) + count(item_id) + count(weight) FROM $src" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
			awk -v s="$src" -v m="$mode" -v r="$run" -v ms="$ms" 'BEGIN {
				printf "%-8s %-14s %-8s %3d %8s %8.3f %8s %8.3f\n", "scan", s, m, r, "-", ms / 1000, "-", ms / 1000 }' | tee -a "$results"
		done
	done
	for mode in heap heap_ser forced ${RECSYS_BEFORE_SO:+before}; do
		use_build "$mode"
		line=$(recsys_psql -At -F ' ' <<SQL
$(settings $mode)
SET recsys.threads = 2;
SET recsys.max_memory = '16GB';
\timing on
SELECT stats->>'read_workers', stats->>'read_seconds', train_seconds
FROM recsys.train_cf('synth', factors => 64, iterations => 3, model => 'par_$mode', weight_col => 'weight');
SQL
)
		read -r w rs ts <<<"$(echo "$line" | head -1)"
		awk -v m="$mode" -v r="$run" -v w="$w" -v rs="$rs" -v ts="$ts" 'BEGIN {
			printf "%-8s %-14s %-8s %3d %8d %8.3f %8s %8.3f\n", "train_cf", "synth", m, r, w, rs, "-", ts }' | tee -a "$results"
	done
	use_build after
	echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
done

echo
echo "medians over $runs runs (read_s for train_cf includes building the matrices):"
printf '%-8s %-14s %-8s %8s %8s\n' what source mode read_s total_s
sort -k1,1 -k2,2 -k3,3 "$results" | awk '
	function median(s,   n, a, i, j, t) {
		n = split(s, a, " ");
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ k = $1 " " $2 " " $3; rs[k] = rs[k] " " $6; tt[k] = tt[k] " " $8 }
	END { for (k in rs) { split(k, p, " "); printf "%-8s %-14s %-8s %8.3f %8.3f\n", p[1], p[2], p[3], median(rs[k]), median(tt[k]) } }' | sort
rm -f "$results"
