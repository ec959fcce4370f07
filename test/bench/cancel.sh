#!/usr/bin/env bash
# test/bench/cancel.sh: how soon every recsys function returns after a cancel.
#
#   bash test/bench/cancel.sh [RUNS] [CASES]
#
# CASES is an extended regular expression: only the cases whose label
# matches are run (all by default).
# Builds its own data (a 200,000-item catalog whose user 1 has every item,
# and a 10,000-item one), trains the models the cases need, then runs each
# case RUNS times (default 3) in a fresh session with recsys.threads = 2 and
# statement_timeout = 300ms, the model already loaded unless the case says
# "cold".  Prints, per case, the seconds from the statement's start to its
# error (psql's \timing, so the round trip is included): median and worst,
# and how many runs were cancelled.  A case that finished before the
# timeout is marked "done" (its figure is then its run time, not a cancel).
# Repeated calls in one statement take an argument from the row, so the
# function really runs once per row.  The goal (issue 11): every function returns within 1 s, that is about
# 0.7 s after the timeout.  Not a timed test; machines are noisy.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
runs=${1:-3}
only=${2:-}

recsys_install_deps
recsys_build
recsys_start_cluster "shared_buffers = 1GB" "max_wal_size = 8GB"
recsys_bench_header

log "building the data and training the models"
recsys_psql <<'SQL'
CREATE EXTENSION recsys;
SET recsys.threads = 2;
SET recsys.max_memory = '8GB';
-- wide: 200,000 items over 20,000 users, and user 1 has all of them
CREATE TABLE wide AS
	SELECT (i % 20000) + 1 AS user_id, i AS item_id, 1.0::real AS rating,
		   timestamptz '2024-01-01' + i * interval '1 minute' AS ts
	FROM generate_series(1, 200000) i
	UNION ALL
	SELECT 1, i, 1.0, timestamptz '2024-01-01' + i * interval '1 minute'
	FROM generate_series(1, 200000) i WHERE i % 20000 <> 0;
CREATE INDEX ON wide (user_id);
-- mid: 10,000 items, 5,000 users with 20 ratings each
CREATE TABLE mid AS
	SELECT u AS user_id, (u * 7919 + j * 104729) % 10000 + 1 AS item_id,
		   (1 + (u + j) % 5)::real AS rating
	FROM generate_series(1, 5000) u, generate_series(1, 20) j;
CREATE INDEX ON mid (user_id);
CREATE TABLE mid_test AS SELECT * FROM mid WHERE user_id % 5 = 0;
-- the item-kNN model is trained without user 1 (every item co-occurring
-- with every other makes it O(n^2): minutes), and serves user 1's items
CREATE VIEW wide_others AS SELECT * FROM wide WHERE user_id <> 1;
ANALYZE;
SELECT name, n_items, factors, round(train_seconds::numeric, 1) AS seconds FROM (
	SELECT *, params->>'factors' AS factors FROM recsys.train_cf('wide', factors => 256, iterations => 1, model => 'f256w')
	UNION ALL SELECT *, params->>'factors' FROM recsys.train_cf('mid', factors => 1024, iterations => 1, model => 'f1024')
	UNION ALL SELECT *, NULL FROM recsys.train_item_knn('wide_others', model => 'knnw')
	UNION ALL SELECT *, NULL FROM recsys.train_user_knn('mid', model => 'uknn')
) t;
SELECT name, n_items FROM recsys.train_blend('{f256w,knnw}', model => 'blendw');
SQL

wide_session='(SELECT array_agg(i::bigint) FROM generate_series(1, 200000) i)'
f1024_vector="(SELECT factors FROM recsys.user_factors WHERE model = 'f1024' AND user_id = 1)"

# label | model to load first (- for none, cold: the case loads it) | statement
cases=(
	"recommend, 5,000 users, 1,024 factors|f1024|SELECT count(*) FROM generate_series(1, 5000) u, recsys.recommend(u, 10, 'f1024')"
	"recommend, the 200,000-item user x 50|f256w|SELECT count(*) FROM generate_series(1, 50) u, recsys.recommend(1, 10 + u % 2, 'f256w')"
	"recommend, cold (loads 200,000 x 256)|-|SELECT count(*) FROM recsys.recommend(1, 10, 'f256w')"
	"recommend, item-kNN, 200,000-item user|knnw|SELECT count(*) FROM generate_series(1, 50) u, recsys.recommend(1, 10 + u % 2, 'knnw')"
	"score, 10^6 calls, 1,024 factors|f1024|SELECT sum(recsys.score(u % 5000, 5, 'f1024')) FROM generate_series(1, 1000000) u"
	"similar_items, 10,000 items, 1,024 factors|f1024|SELECT count(*) FROM generate_series(1, 10000) i, recsys.similar_items(i, 10, 'f1024')"
	"explain, the 200,000-item user, 256 factors|f256w|SELECT count(*) FROM recsys.explain(1, 5, 3, 'f256w')"
	"explain, 200,000-item user, item-kNN|knnw|SELECT count(*) FROM generate_series(1, 50) u, recsys.explain(1, 5 + u, 3, 'knnw')"
	"recommend_session, 200,000 items, 256 factors|f256w|SELECT count(*) FROM recsys.recommend_session($wide_session, 10, 'f256w')"
	"recommend_session, 200,000 ids, 1,024 factors|f1024|SELECT count(*) FROM recsys.recommend_session($wide_session, 10, 'f1024')"
	"recommend_session, 200,000 items, item-kNN|knnw|SELECT count(*) FROM generate_series(1, 50) u, recsys.recommend_session($wide_session, 10 + u % 2, 'knnw')"
	"recommend_session, 200,000 items, blend|blendw|SELECT count(*) FROM recsys.recommend_session($wide_session, 10, 'blendw')"
	"recommend_for_vector, 1,024 factors x 5,000|f1024|SELECT count(*) FROM generate_series(1, 5000) u, recsys.recommend_for_vector($f1024_vector, 10 + u % 2, 'f1024')"
	"fold_in, 200,000 items, 256 factors|f256w|SELECT recsys.fold_in(i, 1, 'f256w') IS NULL FROM generate_series(1, 200000) i"
	"fold_in, 10,000 items, 1,024 factors|f1024|SELECT recsys.fold_in(i, 1, 'f1024') IS NULL FROM generate_series(1, 10000) i"
	"refresh_user, the 200,000-item user, 256 f.|f256w|SELECT recsys.refresh_user(1, 'f256w') IS NULL"
	"evaluate, 1,024 factors|f1024|SELECT count(*) FROM recsys.evaluate('f1024', 'mid_test')"
	"evaluate, user-kNN|uknn|SELECT count(*) FROM recsys.evaluate('uknn', 'mid_test')"
	"tune, als 1,024 factors|-|SELECT count(*) FROM recsys.tune('als', 'mid', 'mid_test', '{\"factors\": [1024]}', fixed => '{\"iterations\": 2}')"
	"train_cf implicit, 200,000 items, 1,024 f.|-|SELECT 1 FROM recsys.train_cf('wide', factors => 1024, iterations => 2, model => 'x')"
	"train_cf explicit, 1,024 factors|-|SELECT 1 FROM recsys.train_cf('mid', factors => 1024, iterations => 2, model => 'x', feedback => 'explicit', weight_col => 'rating')"
	"train_cf bayesian, 1,024 factors|-|SELECT 1 FROM recsys.train_cf('mid', factors => 1024, iterations => 2, model => 'x', feedback => 'explicit', weight_col => 'rating', solver => 'bayesian', alpha => 2)"
	"train_item_knn, 200,000 items|-|SELECT 1 FROM recsys.train_item_knn('wide', model => 'x')"
	"train_item_knn bm25, 200,000 items|-|SELECT 1 FROM recsys.train_item_knn('wide', model => 'x', similarity => 'bm25')"
	"train_user_knn, 20,000 users|-|SELECT 1 FROM recsys.train_user_knn('wide', model => 'x')"
	"train_ease, 10,000 items|-|SELECT 1 FROM recsys.train_ease('mid', regularization => 100, model => 'x')"
	"train_popular, 200,000 items|-|SELECT 1 FROM generate_series(1, 20) g, recsys.train_popular('wide', model => 'x' || g)"
	"train_blend x 200|-|SELECT 1 FROM generate_series(1, 200) g, recsys.train_blend('{f256w,knnw}', model => 'x' || g)"
	"source_stats, 400,000 rows x 20|-|SELECT count(*) FROM generate_series(1, 20) g, recsys.source_stats('wide', user_col => (CASE WHEN g > 0 THEN 'user_id' END)::name)"
	"split_kfold, 400,000 rows x 5|-|SELECT count(*) FROM generate_series(1, 5) g, recsys.split_kfold('wide', seed => g)"
	"split_holdout, 400,000 rows x 5|-|SELECT count(*) FROM generate_series(1, 5) g, recsys.split_holdout('wide', seed => g)"
	"split_last, 400,000 rows x 5|-|SELECT count(*) FROM generate_series(1, 5) g, recsys.split_last('wide', 'ts', n => 5 + g)"
)

# One run: prints "seconds cancelled|done".
run_case() {
	local warm=$1 sql=$2 out ms
	out=$("$PG_BIN/psql" -X -q 2>&1 <<SQL || true
SET recsys.threads = 2;
SET recsys.max_memory = '8GB';
$( [ "$warm" != - ] && echo "SELECT count(*) AS warm FROM recsys.recommend(1, 1, '$warm');" )
SET statement_timeout = '300ms';
\timing on
$sql;
SQL
)
	ms=$(printf '%s\n' "$out" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1)
	if printf '%s\n' "$out" | grep -q 'canceling statement due to statement timeout'; then
		echo "$(awk -v ms="$ms" 'BEGIN { printf "%.3f", ms / 1000 }') cancelled"
	elif printf '%s\n' "$out" | grep -q 'ERROR'; then
		printf '%s\n' "$out" | grep ERROR >&2
		echo "$(awk -v ms="${ms:-0}" 'BEGIN { printf "%.3f", ms / 1000 }') error"
	else
		echo "$(awk -v ms="$ms" 'BEGIN { printf "%.3f", ms / 1000 }') done"
	fi
}

printf '\n%-48s %5s %9s %9s  %s\n' "case (statement_timeout 300ms)" runs "median s" "worst s" "outcome"
for c in "${cases[@]}"; do
	IFS='|' read -r label warm sql <<<"$c"
	[ -z "$only" ] || [[ $label =~ $only ]] || continue
	results=()
	for ((r = 0; r < runs; r++)); do
		results+=("$(run_case "$warm" "$sql")")
	done
	printf '%s\n' "${results[@]}" | sort -n | awk -v label="$label" -v runs="$runs" '
		{ t[NR] = $1; n[$2]++ }
		END {
			outcome = ""
			for (o in n) outcome = outcome (outcome == "" ? "" : ", ") n[o] " " o
			printf "%-48s %5d %9.3f %9.3f  %s\n", label, runs, t[int((NR + 1) / 2)], t[NR], outcome
		}'
done
