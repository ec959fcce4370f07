#!/usr/bin/env bash
# test/bench/ingest.sh: how fast recsys reads a source into CSR and CSC.
#
#   bash test/bench/ingest.sh [EVENTS] [RUNS]     (defaults 10000000, 5)
#
# Times recsys.source_stats, the ingestion path under every training run,
# on a generated shop of EVENTS events (as generated, clustered by user;
# as a narrow (bigint, bigint, real) table; the same table shuffled; and a
# view computing weights) and on the real Online Retail purchases.  Prints
# each run, then the median seconds, rows per second and peak memory
# (growth of the backend's VmHWM during the call) per case.  Not a timed
# test: figures depend on the machine, which it prints first.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
events=${1:-10000000}
runs=${2:-5}
retail_csv=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}/data/online-retail/online_retail.csv.gz

recsys_install_deps
recsys_build
recsys_start_cluster "shared_buffers = 1GB"

recsys_bench_header

log "loading a generated shop with $events events"
start=$(date +%s.%N)
bash "$RECSYS_ROOT/test/tools/load_shop.sh" "$events" 42
echo "shop load: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"

recsys_psql <<'SQL'
CREATE EXTENSION recsys;
CREATE TABLE narrow AS
	SELECT user_id, product_id AS item_id,
		   (CASE kind WHEN 'purchase' THEN 5 WHEN 'cart' THEN 2 ELSE 1 END)::real AS weight
	FROM shop.events;
CREATE TABLE narrow_shuffled AS SELECT * FROM narrow ORDER BY md5(user_id::text || item_id::text);
CREATE VIEW shop_weighted AS
	SELECT user_id, product_id AS item_id,
		   CASE kind WHEN 'purchase' THEN 5 WHEN 'cart' THEN 2 ELSE 1 END AS weight
	FROM shop.events;
VACUUM ANALYZE narrow;
VACUUM ANALYZE narrow_shuffled;
SQL
if [ -f "$retail_csv" ]; then
	recsys_psql -v csv="$retail_csv" -f "$RECSYS_ROOT/test/bench/online_retail.sql"
fi

# case name, then source_stats arguments
cases=(
	"shop.events|'shop.events', item_col => 'product_id'"
	"narrow|'narrow', weight_col => 'weight'"
	"narrow_shuffled|'narrow_shuffled', weight_col => 'weight'"
	"shop_weighted_view|'shop_weighted', weight_col => 'weight'"
)
[ -f "$retail_csv" ] && cases+=("online_retail_view|'retail.purchases', weight_col => 'quantity'")

results=$(mktemp)
printf '%-20s %4s %10s %8s %8s %8s %12s %8s\n' case run rows read_s build_s total_s rows_per_s peak_mb
for c in "${cases[@]}"; do
	name=${c%%|*}
	args=${c#*|}
	# a warm-up run so every case reads from the same cache state
	recsys_psql -At -c "SELECT 1 FROM recsys.source_stats($args)" >/dev/null
	for run in $(seq 1 "$runs"); do
		line=$(recsys_psql -At -F ' ' <<SQL
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::bigint AS hwm0 \gset
SELECT rows_read, read_seconds, build_seconds,
	   (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::bigint - :hwm0
FROM recsys.source_stats($args);
SQL
)
		read -r rows rs bs dk <<<"$line"
		awk -v n="$name" -v r="$run" -v rows="$rows" -v rs="$rs" -v bs="$bs" -v dk="$dk" 'BEGIN {
			t = rs + bs;
			printf "%-20s %4d %10d %8.3f %8.3f %8.3f %12.0f %8.1f\n", n, r, rows, rs, bs, t, rows / t, dk / 1024 }' | tee -a "$results"
	done
done

echo
echo "medians over $runs runs:"
printf '%-20s %10s %8s %12s %8s\n' case rows total_s rows_per_s peak_mb
for c in "${cases[@]}"; do
	name=${c%%|*}
	awk -v n="$name" '$1 == n' "$results" | sort -k6,6n | awk -v runs="$runs" '
		{ rows = $3; t[NR] = $6; m[NR] = $8 }
		END {
			mid = int((NR + 1) / 2);
			printf "%-20s %10d %8.3f %12.0f %8.1f\n", $1, rows, t[mid], rows / t[mid], m[mid] }'
done
rm -f "$results"
