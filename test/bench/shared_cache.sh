#!/usr/bin/env bash
# test/bench/shared_cache.sh: the memory of backends serving one large
# factor model, with the shared model cache (recsys preloaded) and without
# it (recsys.shared_cache_size = 0: each backend loads its own copy, the
# fallback), and the first call's latency in a new backend.
#
#   bash test/bench/shared_cache.sh            (RECSYS_SHM_ITEMS=1000000, RECSYS_SHM_BACKENDS=8)
#
# The model: train_cf on a synthetic table that gives every one of
# RECSYS_SHM_ITEMS items one interaction (users i % 20000), 64 factors, one
# iteration.  For each mode the model is first served by a loader backend
# that then exits; then one backend serves alone and its memory is read,
# then RECSYS_SHM_BACKENDS backends serve it together (each holding its
# connection) and their summed memory is read: PSS (proportional set size:
# shared pages split between the processes mapping them) and USS (private
# pages) from /proc/<pid>/smaps_rollup.  Goal (issue 17): 8 backends
# <= 1.3x the PSS of one.  First call: a new connection's first recommend,
# and its second (the scan alone), 5 connections per mode, medians (psql
# \timing).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

ITEMS=${RECSYS_SHM_ITEMS:-1000000}
BACKENDS=${RECSYS_SHM_BACKENDS:-8}

recsys_build
trap recsys_stop_cluster EXIT
recsys_start_cluster "shared_preload_libraries = 'recsys'" "recsys.shared_cache_size = '2GB'"
recsys_bench_header

log "training a $ITEMS x 64 model"
recsys_psql <<SQL
CREATE EXTENSION recsys;
CREATE TABLE wide AS SELECT i % 20000 AS user_id, i AS item_id FROM generate_series(0, $ITEMS - 1) i;
CREATE INDEX ON wide (user_id);
\timing on
SELECT n_items FROM recsys.train_cf('wide', factors => 64, iterations => 1, model => 'wide');
SQL

SERVE="SELECT count(*) FROM recsys.recommend(1, 10, 'wide')"
tmp=$(mktemp -d /tmp/recsys-shm-bench.XXXXXX)

# kB of a field summed over /proc/<pid>/smaps_rollup for the given pids
smaps_kb() {
	local fields=$1
	shift
	for pid in "$@"; do cat "/proc/$pid/smaps_rollup"; done |
		awk -v f="$fields" 'BEGIN {n = split(f, want, ",")} {for (i = 1; i <= n; i++) if ($1 == want[i] ":") s += $2} END {print s + 0}'
}

# Start n clients (ended by stop_clients, which ends their backends) that serve the model once and hold their connection; their backend pids.
start_clients() {
	local n=$1 pids=()
	for c in $(seq 1 "$n"); do
		rm -f "$tmp/pid.$c"
		"$PG_BIN/psql" -X -q -At -c "$SERVE" -c "SELECT pg_backend_pid()" -o "$tmp/pid.$c" \
			-c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
	done
	for c in $(seq 1 "$n"); do
		while [ ! -s "$tmp/pid.$c" ] || [ "$(wc -l <"$tmp/pid.$c")" -lt 2 ]; do sleep 0.2; done
		pids+=("$(sed -n 2p "$tmp/pid.$c")")
	done
	echo "${pids[@]}"
}

stop_clients() {
	recsys_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(600)%'" >/dev/null
	sleep 1
}

# A new connection's first call and its second (the scan alone), medians of 5.
first_call_ms() {
	local first=() second=()
	for c in 1 2 3 4 5; do
		"$PG_BIN/psql" -X -q -c '\timing on' -c "$SERVE" -c "$SERVE" 2>&1 |
			sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' >"$tmp/times"
		first+=("$(sed -n 1p "$tmp/times")")
		second+=("$(sed -n 2p "$tmp/times")")
	done
	echo "$(printf '%s\n' "${first[@]}" | sort -n | sed -n 3p) / $(printf '%s\n' "${second[@]}" | sort -n | sed -n 3p)"
}

measure() {
	local mode=$1 one all pss1 uss1 pss8 uss8
	recsys_psql -At -c "$SERVE" >/dev/null	# the loader, gone when this returns
	local first
	first=$(first_call_ms)
	one=$(start_clients 1)
	pss1=$(smaps_kb Pss $one)
	uss1=$(smaps_kb Private_Clean,Private_Dirty $one)
	stop_clients
	all=$(start_clients "$BACKENDS")
	# shellcheck disable=SC2086
	pss8=$(smaps_kb Pss $all)
	# shellcheck disable=SC2086
	uss8=$(smaps_kb Private_Clean,Private_Dirty $all)
	local shared
	shared=$(recsys_psql -At -c "SELECT round(coalesce(sum(bytes), 0) / 1048576.0, 1) || ' MB in ' || count(*) || ' entries, ' || coalesce(sum(backends), 0) || ' backends' FROM recsys.shared_cache_stats()")
	stop_clients
	awk -v m="$mode" -v p1="$pss1" -v u1="$uss1" -v p8="$pss8" -v u8="$uss8" -v f="$first" -v s="$shared" \
		'BEGIN {printf "| %-22s | %9.0f | %9.0f | %12.0f | %12.0f | %5.2fx | %s | %s |\n", m, p1 / 1024, u1 / 1024, p8 / 1024, u8 / 1024, p8 / p1, f, s}'
}

# Serving speed from the shared copy and from a private one (a transaction
# that has written loads for itself), alternated in blocks of 5 calls after
# each connection's first, 3 blocks each: medians of 15.
scan_ms() {
	local shared=() private=() calls=()
	for c in 1 2 3 4 5 6; do calls+=(-c "$SERVE"); done
	for b in 1 2 3; do
		shared+=($("$PG_BIN/psql" -X -q -c '\timing on' "${calls[@]}" 2>&1 |
			sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n 5))
		private+=($("$PG_BIN/psql" -X -q -c 'BEGIN' -c 'SELECT txid_current()' -c '\timing on' \
			"${calls[@]}" -c 'COMMIT' 2>&1 |
			sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sed -n 2,6p))
	done
	echo "recommend(k 10) on the $ITEMS x 64 model, medians of 15 calls alternated in blocks:" \
		"from the shared copy $(printf '%s\n' "${shared[@]}" | sort -n | sed -n 8p) ms," \
		"from a private copy $(printf '%s\n' "${private[@]}" | sort -n | sed -n 8p) ms"
}

recsys_psql -At -c "$SERVE" >/dev/null
scan_ms
echo
echo "$ITEMS items x 64 factors; $BACKENDS backends; memory in MB (PSS, USS: /proc/<pid>/smaps_rollup)"
echo "| mode                   | PSS of 1  | USS of 1  | PSS of $BACKENDS sum | USS of $BACKENDS sum | ratio  | new backend: 1st / 2nd call ms (medians of 5) | shared cache |"
echo "|---|---|---|---|---|---|---|---|"
measure "shared (preloaded)"
recsys_psql -c "ALTER SYSTEM SET recsys.shared_cache_size = 0" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
measure "per backend (size 0)"
rm -rf "$tmp"
