#!/usr/bin/env bash
# test/run.sh: the whole test suite, as README.md and .ci/run call it.
#
#   bash test/run.sh
#
# Installs what is missing (as root), builds and installs recsys, then runs
# in turn: the C unit tests of the kernels, the pg_regress suite against a
# scratch cluster, the TAP tests (which start their own clusters), and the
# demo end to end.  Ends with one "N passed, N failed" line over all suites
# and a non-zero exit status if anything failed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$RECSYS_ROOT"

passed=0
failed=0
failures=()

# Record the outcome of one suite: name, passed count, failed count.
tally() {
	passed=$((passed + $2))
	failed=$((failed + $3))
	[ "$3" -eq 0 ] || failures+=("$1")
	log "$1: $2 passed, $3 failed"
}

recsys_install_deps
# a compiler warning fails the suite
export RECSYS_WERROR=1
recsys_build

# 0. recsys.so exports no BLAS or LAPACK symbol: its forwarders
# (src/blas_loader.c) must stay hidden, or another extension's BLAS calls
# could bind to them and recsys's to another library's
log "exported symbols"
leaked=$(nm -D --defined-only "$RECSYS_ROOT/recsys.so" |
	grep -iE ' (cblas_[a-z0-9_]+|[sdcz](gemm|gemv|syrk|trsm|trmm|dot|potrf|potrs|trtri|lauum)_?|[a-z_]*blas[a-z_]*)$' || true)
if [ -z "$leaked" ]; then
	tally "exported symbols" 1 0
else
	printf 'recsys.so exports BLAS symbols:\n%s\n' "$leaked"
	tally "exported symbols" 0 1
fi

# 1. C unit tests of the pure-C kernels
log "unit tests"
set +e
unit_out=$(make -s PG_CONFIG="$PG_CONFIG" unitcheck 2>&1)
unit_status=$?
set -e
printf '%s\n' "$unit_out" | grep -v '^ok ' || true
unit_line=$(printf '%s\n' "$unit_out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
if [ -n "$unit_line" ]; then
	read -r up _ uf _ <<<"$unit_line"
	[ "$unit_status" -eq 0 ] || [ "$uf" -gt 0 ] || uf=1
	tally "unit" "$up" "$uf"
else
	tally "unit (did not build or run)" 0 1
fi

# 1b. the include graph of src/ has no cycle
log "include graph"
set +e
graph_out=$(bash "$RECSYS_ROOT/test/tools/include_graph.sh" 2>&1)
graph_status=$?
set -e
if [ "$graph_status" -eq 0 ]; then
	printf '%s\n' "$graph_out" | tail -n 1
	tally "include graph" 1 0
else
	printf '%s\n' "$graph_out"
	tally "include graph" 0 1
fi

# 2. pg_regress against a scratch cluster
recsys_start_cluster
log "pg_regress"
set +e
make -s PG_CONFIG="$PG_CONFIG" installcheck >"$RECSYS_SCRATCH/installcheck.out" 2>&1
regress_status=$?
set -e
grep -E '^(ok|not ok|test | +[a-z_0-9]+ +\.\.\.)' "$RECSYS_SCRATCH/installcheck.out" || true
rp=$(grep -cE '^ok |^test .* \.\.\. ok|^ +[a-z_0-9]+ +\.\.\. ok' "$RECSYS_SCRATCH/installcheck.out" || true)
rf=$(grep -cE '^not ok |\.\.\. FAILED' "$RECSYS_SCRATCH/installcheck.out" || true)
if [ "$regress_status" -ne 0 ]; then
	[ -f regression.diffs ] && head -200 regression.diffs
	[ "$rf" -gt 0 ] || rf=1
fi
tally "pg_regress" "$rp" "$rf"
recsys_stop_cluster
trap - EXIT

# 3. TAP tests: each starts its own clusters, as the unprivileged user,
# from a copy of the tests that user can read wherever the tree lives
log "TAP tests"
pgxs_dir=$(dirname "$($PG_CONFIG --pgxs)")/../..
tap_dir=$(mktemp -d /tmp/recsys-tap.XXXXXX)
cp -r "$RECSYS_ROOT/test/t" "$tap_dir/t"
chmod -R a+rX "$tap_dir"
[ "$(id -u)" -eq 0 ] && chown -R "$(recsys_pg_user)" "$tap_dir"
set +e
(cd "$tap_dir" && as_pg_user env PATH="$PG_BIN:$PATH" TESTDIR="$tap_dir" \
	PG_REGRESS="$pgxs_dir/src/test/regress/pg_regress" \
	prove -I "$pgxs_dir/src/test/perl" t/*.pl) >"$tap_dir/prove.out" 2>&1
tap_status=$?
set -e
cat "$tap_dir/prove.out"
tap_total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$tap_dir/prove.out")
tap_failed=$(sed -n 's/.*Failed \([0-9]*\)\/[0-9]* subtests.*/\1/p' "$tap_dir/prove.out" | awk '{s += $1} END {print s + 0}')
tap_summary=
if [ "$tap_status" -ne 0 ]; then
	[ "$tap_failed" -gt 0 ] || tap_failed=1
	# prove's summary names the failed files and subtests; the logs of
	# those files only (all of them would bury the failure), and the
	# summary again at the very end, where a truncated CI excerpt keeps it
	tap_summary=$(sed -n '/^Test Summary Report/,$p' "$tap_dir/prove.out")
	for f in $(printf '%s\n' "$tap_summary" | sed -n 's/^t\/\([0-9A-Za-z_]*\)\.pl .*/\1/p'); do
		for log_file in "$tap_dir"/tmp_check/log/regress_log_"$f"; do
			[ -f "$log_file" ] || continue
			echo "== $log_file (the failed subtests and the last 60 lines)"
			grep -nE '^(not ok|#   Failed test|#   at |#          got|#     expected)' "$log_file" || true
			tail -n 60 "$log_file"
		done
	done
fi
tally "TAP" "$(( ${tap_total:-0} - tap_failed > 0 ? ${tap_total:-0} - tap_failed : 0 ))" "$tap_failed"
rm -rf "$tap_dir"

# 4. The demo, end to end, exactly as README.md runs it
log "demo"
if bash "$RECSYS_ROOT/test/demo.sh" >/tmp/recsys-demo.out 2>&1; then
	tail -n 80 /tmp/recsys-demo.out
	tally "demo" 1 0
else
	cat /tmp/recsys-demo.out
	tally "demo" 0 1
fi

if [ ${#failures[@]} -gt 0 ]; then
	[ -z "$tap_summary" ] || printf '%s\n' "$tap_summary"
	log "failed suites: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
