#!/usr/bin/env bash
# test/bench/large_cf.sh: train_cf on large synthetic sets (issue 17 item 6):
# time per iteration and peak memory, and how they grow with the size.
#
#   bash test/bench/large_cf.sh CSV.gz [CSV.gz ...]
#
# Each CSV is written beforehand by ../shared/bench/synth.py (it needs
# Debian's python3-numpy), for example the 100M set:
#   /usr/bin/python3 ../shared/bench/synth.py /tmp/synth100m.csv.gz \
#       --users 5000000 --items 1000000 --pairs 100000000
# and the default 19.3M set (no options) for the growth from 19M to 100M.
# Per set: load it into an UNLOGGED table, train_cf (64 factors,
# RECSYS_LARGE_ITERATIONS iterations, default 3, recsys.threads 2,
# recsys.max_memory RECSYS_LARGE_MAX_MEMORY, default 8GB) once, and print
# rows, total/read/fit/write seconds, seconds per iteration and the
# backend's peak memory (VmHWM growth; RssShmem growth is the shared
# buffers it touched).  Then the same source under a recsys.max_memory
# too small for it, to show the refusal (before reading: the estimate).
# Heavy (the 100M set: ~6 GB of table, ~5 GB of backend memory); run on
# demand, with nice.  Not a timed test.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 CSV.gz [CSV.gz ...]" >&2; exit 2; }
ITERATIONS=${RECSYS_LARGE_ITERATIONS:-3}
MAX_MEMORY=${RECSYS_LARGE_MAX_MEMORY:-8GB}

[ "${RECSYS_SKIP_BUILD:-0}" = 1 ] || recsys_build
recsys_start_cluster "shared_buffers = 1GB" "max_wal_size = 20GB" "maintenance_work_mem = 1GB"
recsys_bench_header
recsys_psql -c "CREATE EXTENSION recsys"

for csv in "$@"; do
	log "loading $csv"
	recsys_psql <<SQL
DROP TABLE IF EXISTS synth;
CREATE UNLOGGED TABLE synth (user_id bigint, item_id bigint, weight real);
\copy synth FROM PROGRAM 'gzip -dc $csv' WITH (FORMAT csv, HEADER true)
VACUUM ANALYZE synth;
SQL
	log "training on $csv"
	recsys_psql -At -F ' ' <<SQL
SET recsys.threads = 2;
SET recsys.max_memory = '$MAX_MEMORY';
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::bigint AS hwm0,
	   (regexp_match(pg_read_file('/proc/self/status'), 'RssShmem:\s+(\d+)'))[1]::bigint AS shm0,
	   extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT 1 AS trained FROM recsys.train_cf('synth', factors => 64, iterations => $ITERATIONS, model => 'large') \gset
SELECT format('%s: %s rows, %s users, %s items; total %s s, read %s s, fit %s s (%s s per iteration), write and rest %s s; peak +%s MB (of which shared buffers +%s MB); table %s',
	   '$(basename "$csv")', stats->>'rows_read', n_users, n_items, round(t, 1),
	   round((stats->>'read_seconds')::numeric, 1), round((stats->>'fit_seconds')::numeric, 1),
	   round((stats->>'fit_seconds')::numeric / $ITERATIONS, 2),
	   round(t - (stats->>'read_seconds')::numeric - (stats->>'fit_seconds')::numeric, 1),
	   round(((regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::bigint - :hwm0) / 1024.0),
	   round(((regexp_match(pg_read_file('/proc/self/status'), 'RssShmem:\s+(\d+)'))[1]::bigint - :shm0) / 1024.0),
	   pg_size_pretty(pg_total_relation_size('synth')))
FROM recsys.models, LATERAL (SELECT (extract(epoch FROM clock_timestamp()) - :t0)::numeric AS t) AS e
WHERE name = 'large';
SQL
	log "the same source under a recsys.max_memory too small for it"
	recsys_psql -At <<SQL 2>&1 | sed 's/^/  /' || true
SET recsys.max_memory = '64MB';
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
\set ON_ERROR_STOP 0
SELECT recsys.train_cf('synth', factors => 64, iterations => 1, model => 'large_refused');
\set ON_ERROR_STOP 1
SELECT format('refused after %s s', round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 3));
SQL
	recsys_psql -c "SELECT recsys.drop_model('large')" >/dev/null
done
