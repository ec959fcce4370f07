#!/usr/bin/env bash
# test/bench/split_scale.sh: making a source's (user, item) pairs distinct
# by hashing (a plain DISTINCT, the splits' form before 0.12.0) against
# sorting (DISTINCT ON, theirs since), and the splits themselves, on the
# synthetic set (../shared/bench/synth.py, default 200,000 users, 30,000
# items, 4M draws: 3.8M distinct pairs), at the default work_mem.
#
#   bash test/bench/split_scale.sh [ROUNDS]     (default 5)
#
# The variants take turns in each round, each a new connection; a
# statement is stopped after RECSYS_SPLIT_TIMEOUT (default 30 s) and
# counted as such.  Prints every turn, then per variant the median of the
# turns that finished and how many were stopped.  RECSYS_SPLIT_SYNTH_ARGS
# overrides synth.py's arguments.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
rounds=${1:-5}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}
timeout=${RECSYS_SPLIT_TIMEOUT:-30s}

recsys_build
recsys_start_cluster
recsys_bench_header
work=$(mktemp -d /tmp/recsys-split.XXXXXX)
trap 'recsys_stop_cluster || true; rm -rf "$work"' EXIT
# synth.py needs numpy: Debian's python3-numpy, for /usr/bin/python3
/usr/bin/python3 -c "import numpy" 2>/dev/null || apt-get install -y -qq python3-numpy >/dev/null
/usr/bin/python3 "$shared/bench/synth.py" "$work/synth.csv.gz" \
	${RECSYS_SPLIT_SYNTH_ARGS:---users 200000 --items 30000 --pairs 4000000 --seed 7} >&2
chmod -R a+rX "$work"
recsys_psql <<SQL
CREATE EXTENSION recsys;
CREATE TABLE synth (user_id bigint, item_id bigint, weight real);
\copy synth FROM PROGRAM 'gzip -dc $work/synth.csv.gz' WITH (FORMAT csv, HEADER true)
VACUUM ANALYZE synth;
CREATE TABLE turns (variant text, round int, seconds float8, stopped boolean);
SELECT count(*) AS pairs, count(DISTINCT user_id) AS users FROM synth;
SQL

declare -A statement=(
	[hashed]="SELECT count(*) FROM (SELECT DISTINCT user_id::bigint AS u, item_id::bigint AS i FROM synth WHERE user_id IS NOT NULL AND item_id IS NOT NULL) p"
	[sorted]="SELECT count(*) FROM (SELECT DISTINCT ON (1, 2) user_id::bigint AS u, item_id::bigint AS i FROM synth WHERE user_id IS NOT NULL AND item_id IS NOT NULL ORDER BY 1, 2) p"
	[split_holdout]="SELECT count(*) FROM recsys.split_holdout('synth')"
	[split_kfold]="SELECT count(*) FROM recsys.split_kfold('synth')"
)
variants="hashed sorted split_holdout split_kfold"
for round in $(seq 1 "$rounds"); do
	for variant in $variants; do
		# (the timing in the server: a stopped statement counts its timeout)
		recsys_psql -At <<SQL
SET statement_timeout = '$timeout';
CREATE TEMP TABLE t AS SELECT clock_timestamp() AS t0;
DO \$\$
DECLARE stopped boolean := false;
BEGIN
	BEGIN
		EXECUTE \$q\$${statement[$variant]}\$q\$;
	EXCEPTION WHEN query_canceled THEN
		stopped := true;
	END;
	INSERT INTO turns SELECT '$variant', $round, extract(epoch FROM clock_timestamp() - t.t0), stopped FROM t;
END
\$\$;
SELECT format('round %s %-14s %8s s%s  (load %s)', $round, '$variant', round(seconds::numeric, 2),
	CASE WHEN stopped THEN ' stopped' ELSE '' END, '$(cut -d' ' -f1 /proc/loadavg)')
FROM turns WHERE variant = '$variant' AND round = $round;
SQL
	done
done
echo "# medians of the turns that finished, and the turns stopped at $timeout"
recsys_psql -At <<SQL
SELECT format('%-14s median %8s s over %s finished, %s stopped', variant,
	coalesce(round((percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE NOT stopped))::numeric, 2)::text, '-'),
	count(*) FILTER (WHERE NOT stopped), count(*) FILTER (WHERE stopped))
FROM turns GROUP BY variant ORDER BY variant;
SQL
