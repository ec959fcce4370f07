#!/usr/bin/env bash
# test/bench/write_path.sh: the time train_cf spends writing a model of
# 1,000,000 users and 100,000 items x 64 factors (1.1M factor rows), for
# the ways a model gets retrained, taking turns in one run.
#
#   bash test/bench/write_path.sh [ROUNDS]
#
# Variants (RECSYS_WRITE_VARIANTS, default "drop-on vacuum-on version-on
# grow-on"; add drop-off for the INSERT path), each PATTERN-BULK on a
# model of its own:
#   drop     drop_model, then train the same name again: the versions
#            restart at 1, so every new primary key equals a dead one the
#            drop left in the index (until VACUUM removes it)
#   vacuum   the same with VACUUM of the factor tables between the drop and
#            the training (not timed): no dead keys, so the difference from
#            "drop" is what the dead keys cost
#   version  train the model again as a new version without dropping it,
#            as a cron job does, with the default recsys.keep_versions (3):
#            the model gets keep_versions versions in untimed turns, so
#            every timed turn also prunes the oldest one (a cascading
#            DELETE of its 1.1M rows, part of the write time)
#   grow     the same with recsys.keep_versions = 100: nothing is pruned,
#            so the difference from "version" is what pruning costs
# The time of drop_model (before the training) is printed apart.
#   BULK     recsys.bulk_write on (rows appended as whole pages where
#            src/heap_append.c can), multi (recsys.bulk_write_pages off:
#            heap multi-insert through shared buffers, as 0.9.0) or off
#            (INSERT ... SELECT in batches)
# Each variant has a database of its own (copies of one with the source),
# so its model is the only one in the artefact tables, as in a database
# with one model; RECSYS_WRITE_TABLES=shared puts them all in one database
# instead, where a model whose name sorts before another's inserts its
# keys into the middle of the primary key rather than at its right end
# (its writes took more CPU there, likely from even page splits:
# doc/internals.md).
# The source is a sparse synthetic set (../shared/bench/synth.py: 1M users,
# 100K items, about 3M pairs) trained for 1 iteration, so reading and
# fitting are short; the write time is the call's time minus the model's
# own read_seconds and fit_seconds (stats).  Prints every turn (with the
# load average), the untimed turns, and the medians
# over the rounds; WAL is on as always (the write path is WAL-logged).
# Builds that log it (0.9.0) also print each table's write with the CPU
# seconds of the writing thread (DEBUG1 from src/model_store.c), which a
# shared machine's load changes far less than the wall time.
#
# RECSYS_BASELINE_LIB=/path/to/an/older/recsys.so compares that build with
# this one: variants PATTERN-baseline (bulk_write on) run with that library,
# default "drop-baseline drop-on version-baseline version-on".  The installed
# library is swapped between turns, each turn a new connection that loads it
# afresh; this build's library is put back at the end.  Both builds must
# share the installed SQL (same extension version).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
rounds=${1:-3}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}

recsys_build
recsys_start_cluster "shared_buffers = 2GB" "max_wal_size = 20GB"
recsys_bench_header
work=$(mktemp -d /tmp/recsys-write.XXXXXX)
lib=$($PG_CONFIG --pkglibdir)/recsys.so
variants=${RECSYS_WRITE_VARIANTS:-drop-on vacuum-on version-on grow-on}
if [ -n "${RECSYS_BASELINE_LIB:-}" ]; then
	cp "$lib" "$work/current.so"
	variants=${RECSYS_WRITE_VARIANTS:-drop-baseline drop-on version-baseline version-on}
fi
# install the library of a variant (a new backend loads it)
use_lib() {
	[ -n "${RECSYS_BASELINE_LIB:-}" ] || return 0
	cp "$1" "$lib.tmp" && mv "$lib.tmp" "$lib"
}
trap 'use_lib "$work/current.so" || true; recsys_stop_cluster || true; rm -rf "$work"' EXIT

log "writing the synthetic set (synth.py, 1M users, 100K items, 3M pairs)"
/usr/bin/python3 "$shared/bench/synth.py" "$work/synth.csv.gz" --users 1000000 --items 100000 \
	--pairs 3000000 >/dev/null
recsys_psql <<SQL
CREATE TABLE turns (variant text, round int, total float8, write float8, rows bigint, version int,
	versions bigint, drop float8);
CREATE DATABASE source;
\c source
CREATE EXTENSION recsys;
CREATE TABLE synth (user_id bigint, item_id bigint, weight real);
\copy synth FROM PROGRAM 'gzip -dc $work/synth.csv.gz' WITH (FORMAT csv, HEADER true)
VACUUM ANALYZE synth;
SQL
# the database of a variant
variant_db() {
	if [ "${RECSYS_WRITE_TABLES:-own}" = shared ]; then echo source; else echo "w_${1//-/_}"; fi
}
if [ "${RECSYS_WRITE_TABLES:-own}" != shared ]; then
	for variant in $variants; do
		recsys_psql -c "CREATE DATABASE $(variant_db "$variant") TEMPLATE source"
	done
fi

# turn VARIANT ROUND: one timed training of the variant's model
turn() {
	local variant=$1 round=$2 pattern=${1%%-*} bulk=${1#*-} model=w_${1//-/_} drop='' vacuum='' setting=''
	local pages=on
	if [ "$bulk" = baseline ]; then
		bulk=on
		use_lib "$RECSYS_BASELINE_LIB"
	else
		use_lib "$work/current.so"
	fi
	if [ "$bulk" = multi ]; then
		bulk=on
		pages=off
	fi
	case $pattern in
	drop) drop="SELECT recsys.drop_model('$model', true);" ;;
	vacuum)
		drop="SELECT recsys.drop_model('$model', true);"
		vacuum="VACUUM recsys.user_factors, recsys.item_factors, recsys.item_stats, recsys.model_versions;"
		;;
	version) ;;
	grow) setting="SET recsys.keep_versions = 100;" ;;
	*) echo "unknown pattern $pattern in variant $variant" >&2; exit 1 ;;
	esac
	recsys_psql -At -d "$(variant_db "$variant")" 2>"$work/debug.txt" <<SQL || { cat "$work/debug.txt"; exit 1; }
SET recsys.threads = 2;
SET recsys.max_memory = '8GB';
SET recsys.bulk_write = $bulk;
$([ "$pages" = on ] || echo "SET recsys.bulk_write_pages = off;")
$setting
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
$drop
SELECT CASE WHEN $([ -n "$drop" ] && echo true || echo false) THEN (extract(epoch FROM clock_timestamp()) - :t0)::text
	ELSE '' END AS drop \gset
$vacuum
CHECKPOINT;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SET client_min_messages = debug1;
SELECT 1 AS trained FROM recsys.train_cf('synth', factors => 64, iterations => 1, model => '$model') \gset
SELECT extract(epoch FROM clock_timestamp()) - :t0 AS total \gset
RESET client_min_messages;
SELECT :total - (stats->>'read_seconds')::float8 - (stats->>'fit_seconds')::float8 AS write,
	(SELECT count(*) FROM recsys.user_factors f WHERE f.model = m.name AND f.version = m.version)
	+ (SELECT count(*) FROM recsys.item_factors f WHERE f.model = m.name AND f.version = m.version) AS rows,
	m.version, (SELECT count(*) FROM recsys.model_versions v WHERE v.model = m.name) AS versions
FROM recsys.models m WHERE name = '$model' \gset
\c postgres
INSERT INTO turns VALUES ('$variant', $round, :total, :write, :rows, :version, :versions, nullif(:'drop', '')::float8);
SELECT CASE WHEN round > 0 THEN '$variant, round ' || round ELSE '$variant, untimed turn (version ' || version || ')' END
	|| ': ' || round(total::numeric, 2) || ' s end to end, writing ' || round(write::numeric, 2) || ' s, '
	|| rows || ' factor rows as version ' || version || ' (' || versions || ' kept)'
	|| coalesce(', drop_model before it ' || round(drop::numeric, 2) || ' s', '')
	|| ', load $(cut -d' ' -f1 /proc/loadavg)'
FROM turns WHERE variant = '$variant' AND round = $round;
SQL
	grep -o 'recsys: wrote.*' "$work/debug.txt" | sed 's/^/    /' || true
}

# untimed turns first, so every timed turn is a retraining: a model's
# first write, and a "version" model's other versions up to the number it
# keeps, so every timed turn writes a new version and prunes one
keep=$(recsys_psql -At -d source -c "LOAD 'recsys'" -c "SHOW recsys.keep_versions")
for variant in $variants; do
	case $variant in
	version-*) first=$((1 - keep)) ;;
	*) first=0 ;;
	esac
	for round in $(seq "$first" 0); do turn "$variant" "$round"; done
done
for round in $(seq 1 "$rounds"); do
	for variant in $variants; do
		turn "$variant" "$round"
	done
done
recsys_psql -c "SELECT variant, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY write)::numeric, 2) AS write_s_median,
	round(percentile_cont(0.5) WITHIN GROUP (ORDER BY total)::numeric, 2) AS total_s_median, max(rows) AS factor_rows,
	round(percentile_cont(0.5) WITHIN GROUP (ORDER BY drop)::numeric, 2) AS drop_model_s_median, count(*) AS rounds
FROM turns WHERE round > 0 GROUP BY variant ORDER BY variant"
