#!/usr/bin/env bash
# test/bench/write_path.sh: the time train_cf spends writing a model of
# 1,000,000 users and 100,000 items x 64 factors (1.1M factor rows), with
# recsys.bulk_write on (heap multi-insert) and off (INSERT ... SELECT in
# batches), taking turns in one run.
#
#   bash test/bench/write_path.sh [ROUNDS]
#
# The source is a sparse synthetic set (../shared/bench/synth.py: 1M users,
# 100K items, about 3M pairs) trained for 1 iteration, so reading and
# fitting are short; the write time is the call's time minus the model's
# own read_seconds and fit_seconds (stats).  Prints every turn and the
# medians; WAL is on as always (the write path is WAL-logged).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
rounds=${1:-3}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}

recsys_build
recsys_start_cluster "shared_buffers = 2GB" "max_wal_size = 20GB"
recsys_bench_header
work=$(mktemp -d /tmp/recsys-write.XXXXXX)
trap 'recsys_stop_cluster || true; rm -rf "$work"' EXIT

log "writing the synthetic set (synth.py, 1M users, 100K items, 3M pairs)"
/usr/bin/python3 "$shared/bench/synth.py" "$work/synth.csv.gz" --users 1000000 --items 100000 \
	--pairs 3000000 >/dev/null
recsys_psql <<SQL
CREATE EXTENSION recsys;
CREATE TABLE synth (user_id bigint, item_id bigint, weight real);
\copy synth FROM PROGRAM 'gzip -dc $work/synth.csv.gz' WITH (FORMAT csv, HEADER true)
VACUUM ANALYZE synth;
CREATE TABLE turns (bulk text, round int, total float8, write float8, rows bigint);
SQL

for round in $(seq 1 "$rounds"); do
	for bulk in off on; do
		recsys_psql -At <<SQL
SET recsys.threads = 2;
SET recsys.max_memory = '8GB';
SET recsys.keep_versions = 1;
SET recsys.bulk_write = $bulk;
SELECT recsys.drop_model('w', true);
CHECKPOINT;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT 1 AS trained FROM recsys.train_cf('synth', factors => 64, iterations => 1, model => 'w') \gset
SELECT extract(epoch FROM clock_timestamp()) - :t0 AS total \gset
INSERT INTO turns SELECT '$bulk', $round, :total, :total - (stats->>'read_seconds')::float8 - (stats->>'fit_seconds')::float8,
	(SELECT count(*) FROM recsys.user_factors WHERE model = 'w') + (SELECT count(*) FROM recsys.item_factors WHERE model = 'w')
FROM recsys.models WHERE name = 'w';
SELECT 'bulk_write $bulk, round $round: ' || round(total::numeric, 2) || ' s end to end, writing ' || round(write::numeric, 2) || ' s, '
	|| rows || ' factor rows' FROM turns WHERE bulk = '$bulk' AND round = $round;
SQL
	done
done
recsys_psql -c "SELECT bulk AS bulk_write, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY write)::numeric, 2) AS write_s_median,
	round(percentile_cont(0.5) WITHIN GROUP (ORDER BY total)::numeric, 2) AS total_s_median, max(rows) AS factor_rows
FROM turns GROUP BY bulk ORDER BY bulk"
