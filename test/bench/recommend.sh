#!/usr/bin/env bash
# test/bench/recommend.sh: serving latency and throughput of recsys.recommend.
#
#   bash test/bench/recommend.sh [CALLS]      (default 500 timed calls per model)
#
# Builds two factor models with 64 factors directly in the catalog tables
# (random vectors; serving cost does not depend on how they were trained):
# 10,000 items and 1,000,000 items, each with 10,000 users who have 20 seen
# items in an indexed source.  For each model it reports
#   - the first call on a cold backend (library and model load included),
#   - p50 / p99 of recommend(u, 10) over CALLS random users on a warm
#     backend, timed inside the server (no client round trip),
#   - pgbench -c 4 -T 30 throughput of recommend for random users.
# Reference (issue): p50 under 1 ms for 10K items, under 15 ms for 1M
# items; one sgemv over 1M x 64 floats takes about 11 ms on this machine.
# Also an item-kNN model (K=50) trained on the seen items and a blend of it
# with the 10K factor model (train_blend), to show what a blend costs over
# its members.  MODELS="items_10k ..." picks the models.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
calls=${1:-500}

recsys_install_deps
recsys_build
recsys_start_cluster "shared_buffers = 2GB" "max_wal_size = 20GB"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)," \
	"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$RECSYS_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"

recsys_psql <<'SQL'
CREATE EXTENSION recsys;
SELECT setseed(0.5);
CREATE TABLE seen AS
	SELECT u AS user_id, (u * 7919 + j * 104729) % 10000 + 1 AS item_id
	FROM generate_series(1, 10000) u, generate_series(1, 20) j;
CREATE INDEX ON seen (user_id);
ANALYZE seen;

-- a factor model of n_items random items, written as train_cf would
CREATE FUNCTION make_model(name text, n_items int) RETURNS void LANGUAGE sql AS $$
	INSERT INTO recsys.models (name, version, algorithm, source, params, n_users, n_items)
		VALUES (name, 1, 'als', 'public.seen',
				'{"factors": 64, "feedback": "implicit", "user_col": "user_id", "item_col": "item_id", "regularization": 0.01, "alpha": 1}',
				10000, n_items);
	INSERT INTO recsys.model_versions (model, version, algorithm, source) VALUES (name, 1, 'als', 'public.seen');
	INSERT INTO recsys.item_stats SELECT name, 1, i, 1, 1, random() FROM generate_series(1, n_items) i;
	INSERT INTO recsys.item_factors
		SELECT name, 1, i, 0, (SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 64) f WHERE i > 0)
		FROM generate_series(1, n_items) i;
	INSERT INTO recsys.user_factors
		SELECT name, 1, u, 0, (SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 64) f WHERE u > 0)
		FROM generate_series(1, 10000) u;
$$;
SELECT make_model('items_10k', 10000);
SELECT make_model('items_1m', 1000000);
SELECT 1 FROM recsys.train_item_knn('seen', 50, model => 'knn_10k');
SELECT 1 FROM recsys.train_blend('{items_10k,knn_10k}', model => 'blend_10k');
VACUUM ANALYZE;
SQL

for model in ${MODELS:-items_10k knn_10k blend_10k items_1m}; do
	echo "== $model"
	cold=$(recsys_psql -At <<SQL
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(*) AS n FROM recsys.recommend(1, 10, '$model') \gset
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 1);
SQL
)
	echo "first call on a cold backend: $cold ms"
	recsys_psql <<SQL
SELECT count(*) FROM recsys.recommend(1, 10, '$model') \gset
CREATE TEMP TABLE lat (ms float8);
DO \$\$
DECLARE
	t0 timestamptz;
	u bigint;
BEGIN
	FOR i IN 1..$calls LOOP
		u := 1 + floor(random() * 10000)::bigint;
		t0 := clock_timestamp();
		PERFORM * FROM recsys.recommend(u, 10, '$model');
		INSERT INTO lat VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
END
\$\$;
SELECT count(*) AS calls,
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3) AS p50_ms,
	   round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3) AS p99_ms,
	   round(max(ms)::numeric, 3) AS max_ms
FROM lat;
SQL
	script=$(mktemp)
	printf '\\set u random(1, 10000)\nSELECT * FROM recsys.recommend(:u, 10, %s);\n' "'$model'" >"$script"
	"$PG_BIN/pgbench" -n -c 4 -j 2 -T 30 -f "$script" 2>&1 | grep -E "^(tps|latency average|number of transactions actually)"
	rm -f "$script"
done
