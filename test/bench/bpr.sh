#!/usr/bin/env bash
# test/bench/bpr.sh: fit time of recsys.train_bpr, next to the implicit
# library's BPR when it is built.
#
#   bash test/bench/bpr.sh [RUNS]        (default 3)
#
# On the train files of ml-latest-small and online-retail strat75 (the
# shared splits), fits BPR with 64 factors and 100 iterations at 1 and 2
# threads, RUNS times, interleaved with the peer, and prints each run and
# a table of the medians side by side: wall seconds of the fit (the
# model's fit_seconds: reading the table and writing the model left out;
# implicit: fit() alone), CPU seconds of the fit (fit_cpu_seconds, all
# threads; implicit: process_time() over fit(); on a shared machine the
# CPU seconds are the steadier figure), the backend's CPU seconds over
# the whole call, and the ratios recsys / implicit.
#
# The peer: implicit is not a Debian package.  Set RECSYS_IMPLICIT to a
# source tree of implicit (0.7.x) with its Cython modules built in place,
# e.g. from a checkout in /tmp/implicit with Debian's python3-numpy,
# python3-scipy and cython3:
#   cd /tmp/implicit/implicit/cpu && cython3 -3 --cplus -I /tmp/implicit bpr.pyx -o bpr.cxx &&
#   g++ -O3 -fopenmp -shared -fPIC -I/usr/include/python3.11 \
#       -I/usr/lib/python3/dist-packages/numpy/core/include -I/tmp/implicit \
#       -o bpr$(python3-config --extension-suffix) bpr.cxx
# (likewise topk, _als, lmf, and ../_nearest_neighbours and ../evaluation,
# which its package imports; stub modules tqdm and threadpoolctl will do).
# Without it only recsys's figures are printed; PEERS.md has the peer's
# wall seconds at 1 thread (ml-latest-small strat75: 1.45 s).
# "+ recent" rows: recsys with time_col and half_life (the users' refit
# included in the fit).  Not a timed test.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
runs=${1:-3}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}
splits=$shared/data/splits
peer=${RECSYS_IMPLICIT:-}

recsys_install_deps
recsys_build
recsys_start_cluster "shared_buffers = 512MB"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)," \
	"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$RECSYS_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
recsys_psql -q -c "CREATE EXTENSION recsys"

datasets=(ml-latest-small online-retail)
for data in "${datasets[@]}"; do
	recsys_psql -q <<SQL
CREATE TABLE "${data}" (user_id bigint, item_id bigint, r real, ts bigint);
\copy "${data}" FROM PROGRAM 'gzip -dc $splits/$data/strat75/train.csv.gz' WITH (FORMAT csv, HEADER true)
ANALYZE "${data}";
SQL
done

# the backend's CPU seconds (utime + stime of all its threads, in ticks:
# fields 14 and 15 of /proc/self/stat, 12 and 13 after the command name)
cpu_ticks="(SELECT split_part(s, ' ', 12)::bigint + split_part(s, ' ', 13)::bigint
	FROM (SELECT split_part(pg_read_file('/proc/self/stat'), ') ', 2) AS s) t)"
ticks=$(getconf CLK_TCK)

# one recsys fit: "fit_seconds fit_cpu_seconds call_cpu_seconds"; a third
# argument adds train_bpr arguments
recent="time_col => 'ts', half_life => '3 days'"
recsys_fit() {
	local data=$1 threads=$2 extra=${3:+, $3}
	recsys_psql -At -F ' ' <<SQL
SET recsys.threads = $threads;
SELECT $cpu_ticks AS c0 \gset
SELECT 1 AS trained FROM recsys.train_bpr('"$data"', factors => 64, iterations => 100,
	model => 'bench', replace => true$extra) \gset
SELECT round((stats->>'fit_seconds')::numeric, 3), round((stats->>'fit_cpu_seconds')::numeric, 3),
	round(($cpu_ticks - :c0) / $ticks.0, 3)
FROM recsys.models WHERE name = 'bench';
SQL
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

out=$(mktemp -d)
for run in $(seq "$runs"); do
	for data in "${datasets[@]}"; do
		for threads in 1 2; do
			echo "run $run $data threads $threads recsys $(recsys_fit "$data" "$threads" | tee -a "$out/recsys_${data}_$threads")"
			echo "run $run $data threads $threads recsys recent $(recsys_fit "$data" "$threads" "$recent" |
				tee -a "$out/recent_${data}_$threads")"
			if [ -n "$peer" ]; then
				echo "run $run $data threads $threads implicit $(/usr/bin/python3 "$RECSYS_ROOT/test/bench/bpr_peer.py" \
					"$peer" "$splits/$data/strat75/train.csv.gz" "$threads" 64 100 | tee -a "$out/implicit_${data}_$threads")"
			fi
		done
	done
done
echo
echo "medians of $runs runs; fit CPU: recsys's stats fit_cpu_seconds (getrusage over the fit, all"
echo "threads), implicit's process_time() over fit(); call CPU: the backend's over the whole"
echo "train_bpr call (reading the table and writing the model too); ratio: recsys / implicit fit CPU"
printf '%-16s %7s %10s %10s %10s %10s %10s %10s %7s\n' data threads "recsys s" "impl. s" \
	"recsys CPU" "impl. CPU" "call CPU" "wall ratio" "CPU ratio"
for data in "${datasets[@]}"; do
	for threads in 1 2; do
		r=$out/recsys_${data}_$threads
		p=$out/implicit_${data}_$threads
		rw=$(cut -d' ' -f1 "$r" | median)
		rc=$(cut -d' ' -f2 "$r" | median)
		cc=$(cut -d' ' -f3 "$r" | median)
		pw=-
		pc=-
		if [ -f "$p" ]; then
			pw=$(cut -d' ' -f1 "$p" | median)
			pc=$(cut -d' ' -f2 "$p" | median)
		fi
		printf '%-16s %7s %10s %10s %10s %10s %10s %10s %7s\n' "$data" "$threads" "$rw" "$pw" "$rc" "$pc" "$cc" \
			"$([ "$pw" = - ] && echo - || awk -v a="$rw" -v b="$pw" 'BEGIN { printf "%.2f", a / b }')" \
			"$([ "$pc" = - ] && echo - || awk -v a="$rc" -v b="$pc" 'BEGIN { printf "%.2f", a / b }')"
		r=$out/recent_${data}_$threads
		printf '%-16s %7s %10s %10s %10s %10s %10s\n' "  + recent" "$threads" "$(cut -d' ' -f1 "$r" | median)" - \
			"$(cut -d' ' -f2 "$r" | median)" - "$(cut -d' ' -f3 "$r" | median)"
	done
done
echo "+ recent: the same fit with $recent (0.9.0: every user's vector refitted"
echo "to their recent items after the items are trained; the refit runs on one thread)"
rm -rf "$out"
