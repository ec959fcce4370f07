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
# its members.
#
# retail: two implicit ALS models of 64 factors trained on the real Online
# Retail purchases (../shared/data, loaded by online_retail.sql, copied into
# a table with an index on user_id: serving reads a user's rows by user id),
# one that stores its 4,339 user vectors and one trained with
# store_users => false, which folds each user's rows in at query time.
# Both are timed in one loop, user by user (the same CALLS random
# customers, each model in turn), p50 / p95 / p99 / max, then pgbench in
# alternating rounds.  Goal (issue 11): p50 under 1 ms with
# store_users => false.
#
# MODELS="items_10k ... retail" picks the models (MODELS=retail runs only
# the Online Retail part).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
calls=${1:-500}
models=${MODELS:-items_10k knn_10k blend_10k items_1m retail}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}

recsys_install_deps
recsys_build
recsys_start_cluster "shared_buffers = 2GB" "max_wal_size = 20GB"
recsys_bench_header
lscpu | head

recsys_psql -c "CREATE EXTENSION recsys"
if [ "$models" != retail ]; then
	recsys_psql <<'SQL'
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
fi

# Online Retail: the stored and the store_users => false model side by side
retail_bench() {
	recsys_psql -v csv="$shared/data/online-retail/online_retail.csv.gz" -f "$RECSYS_ROOT/test/bench/online_retail.sql" >/dev/null
	recsys_psql <<'SQL'
-- the source as a table; the index on the user column is what serving
-- reads a user's rows through (doc/operations.md, Privacy)
CREATE TABLE retail.lines AS SELECT user_id, item_id, quantity FROM retail.purchases;
CREATE INDEX ON retail.lines (user_id);
VACUUM ANALYZE retail.lines;
SELECT 1 AS trained FROM recsys.train_cf('retail.lines', factors => 64, model => 'retail_stored') \gset
SELECT 1 AS trained FROM recsys.train_cf('retail.lines', factors => 64, model => 'retail_nouser', store_users => false) \gset
SELECT name, n_users, n_items, n_interactions, round(train_seconds::numeric, 2) AS train_s,
	   params->>'store_users' AS store_users,
	   (SELECT count(*) FROM recsys.user_factors f WHERE f.model = m.name) AS user_rows
FROM recsys.models m WHERE name LIKE 'retail%' ORDER BY name;
CREATE TABLE bench_users AS
	SELECT row_number() OVER (ORDER BY user_id) AS i, user_id, count(DISTINCT item_id) AS items
	FROM retail.lines GROUP BY user_id;
SELECT count(*) AS customers, percentile_cont(0.5) WITHIN GROUP (ORDER BY items) AS median_items,
	   percentile_cont(0.95) WITHIN GROUP (ORDER BY items) AS p95_items, max(items) AS max_items
FROM bench_users;
SQL
	for model in retail_stored retail_nouser; do
		cold=$(recsys_psql -At <<SQL
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(*) AS n FROM recsys.recommend(12347, 10, '$model') \gset
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 1);
SQL
)
		echo "$model: first call on a cold backend: $cold ms"
	done
	recsys_psql <<SQL
SELECT count(*) FROM recsys.recommend(12347, 10, 'retail_stored') \gset
SELECT count(*) FROM recsys.recommend(12347, 10, 'retail_nouser') \gset
CREATE TEMP TABLE lat (model text, items bigint, ms float8);
DO \$\$
DECLARE
	t0 timestamptz;
	u record;
	m text;
	n bigint := (SELECT count(*) FROM bench_users);
	pick bigint;
BEGIN
	PERFORM setseed(0.25);
	FOR c IN 1..$calls LOOP
		pick := 1 + floor(random() * n);
		SELECT * INTO u FROM bench_users WHERE i = pick;
		FOREACH m IN ARRAY ARRAY['retail_stored', 'retail_nouser'] LOOP
			t0 := clock_timestamp();
			PERFORM * FROM recsys.recommend(u.user_id, 10, m);
			INSERT INTO lat VALUES (m, u.items, extract(epoch FROM clock_timestamp() - t0) * 1000);
		END LOOP;
	END LOOP;
END
\$\$;
SELECT model, count(*) AS calls,
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3) AS p50_ms,
	   round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 3) AS p95_ms,
	   round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3) AS p99_ms,
	   round(max(ms)::numeric, 3) AS max_ms,
	   round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE items >= 200))::numeric, 3)
		   AS p50_ms_200_items_or_more
FROM lat GROUP BY model ORDER BY model;
SQL
	# pgbench in alternating 10 s rounds, so that the load of a shared
	# machine falls on both models alike; the median round per model
	customers=$(recsys_psql -At -c "SELECT count(*) FROM bench_users")
	tps_file=$(mktemp)
	for round in 1 2 3; do
		for model in retail_stored retail_nouser; do
			script=$(mktemp)
			printf '\\set i random(1, %s)\nSELECT * FROM recsys.recommend((SELECT user_id FROM bench_users WHERE i = :i), 10, %s);\n' "$customers" "'$model'" >"$script"
			tps=$("$PG_BIN/pgbench" -n -c 4 -j 2 -T 10 -f "$script" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
			rm -f "$script"
			echo "$model $tps" >>"$tps_file"
			echo "pgbench -c 4 -j 2 -T 10, random customers, round $round: $model $tps tps"
		done
	done
	for model in retail_stored retail_nouser; do
		echo "$model: median $(awk -v m="$model" '$1 == m { print $2 }' "$tps_file" | sort -n | sed -n 2p) tps of 3 rounds"
	done
	rm -f "$tps_file"
}

for model in $models; do
	if [ "$model" = retail ]; then
		echo "== retail (Online Retail, 64 factors, stored users vs store_users => false)"
		retail_bench
		continue
	fi
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
