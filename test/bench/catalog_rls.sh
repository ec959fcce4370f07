#!/usr/bin/env bash
# test/bench/catalog_rls.sh: what row-level security on the catalog costs
# a model load.
#
#   bash test/bench/catalog_rls.sh [RUNS]      (default 7 cold loads per variant)
#
# Writes a factor model of 100,000 items x 64 factors and an item-kNN
# model of 100,000 items x 50 neighbours directly into the catalog, then
# times, as a superuser (who bypasses row-level security) and as an
# ordinary role granted the models (the policies apply):
#   - cold: the first recommend() on a new backend (library, the catalog
#     row read through the policies, then the model's rows, which serving
#     reads as the catalog's owner once that row has been seen);
#   - scan: a direct SELECT of the model's 100,000 artefact rows in SQL,
#     where the policies are checked row by row (one hash probe each).
# Variants alternate run by run; medians are printed.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
runs=${1:-7}

recsys_install_deps
recsys_build
recsys_start_cluster "shared_buffers = 1GB"
recsys_bench_header

recsys_psql <<'SQL'
CREATE EXTENSION recsys;
SELECT setseed(0.5);
CREATE TABLE seen (user_id bigint, item_id bigint);
INSERT INTO seen SELECT u, (u * 7919) % 100000 + 1 FROM generate_series(1, 1000) u;
CREATE ROLE bench_app LOGIN;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO bench_app;
INSERT INTO recsys.models (name, version, algorithm, source, params, n_users, n_items) VALUES
	('f100k', 1, 'als', 'public.seen',
	 '{"factors": 64, "feedback": "implicit", "user_col": "user_id", "item_col": "item_id", "regularization": 0.01, "alpha": 1}',
	 1000, 100000),
	('k100k', 1, 'item_knn', 'public.seen', '{"user_col": "user_id", "item_col": "item_id"}', 1000, 100000);
INSERT INTO recsys.model_versions (model, version, algorithm, source)
	VALUES ('f100k', 1, 'als', 'public.seen'), ('k100k', 1, 'item_knn', 'public.seen');
INSERT INTO recsys.item_stats SELECT m, 1, i, 1, 1, random() FROM generate_series(1, 100000) i, unnest('{f100k,k100k}'::text[]) m;
INSERT INTO recsys.item_factors
	SELECT 'f100k', 1, i, 0, (SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 64) f WHERE i > 0)
	FROM generate_series(1, 100000) i;
INSERT INTO recsys.item_neighbor_lists
	SELECT 'k100k', 1, i,
		   (SELECT array_agg((i + j * 977) % 100000 + 1 ORDER BY j) FROM generate_series(1, 50) j),
		   (SELECT array_agg((1 - j / 100.0)::real ORDER BY j) FROM generate_series(1, 50) j)
	FROM generate_series(1, 100000) i;
SELECT recsys.grant_model('f100k', 'bench_app');
SELECT recsys.grant_model('k100k', 'bench_app');
VACUUM ANALYZE;
SQL

# ms of the first recommend() in a new backend, as role $1, for model $2
cold_load() {
	recsys_psql -At -U "$1" <<SQL
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(*) AS n FROM recsys.recommend(1, 10, '$2', exclude_seen => false) \gset
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 1);
SQL
}

# ms of reading model $2's artefact rows (table $3) in SQL as role $1, warm
scan() {
	recsys_psql -At -U "$1" <<SQL
SELECT count(*) FROM recsys.$3 WHERE model = '$2' \gset
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT count(*) AS n FROM recsys.$3 WHERE model = '$2' \gset
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 1);
SQL
}

for model in f100k k100k; do
	table=$([ "$model" = f100k ] && echo item_factors || echo item_neighbor_lists)
	declare -A times=()
	for r in $(seq "$runs"); do
		times[cold_superuser]+="$(cold_load postgres "$model") "
		times[cold_granted]+="$(cold_load bench_app "$model") "
		times[scan_superuser]+="$(scan postgres "$model" "$table") "
		times[scan_granted]+="$(scan bench_app "$model" "$table") "
	done
	for v in cold_superuser cold_granted scan_superuser scan_granted; do
		median=$(printf '%s\n' ${times[$v]} | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
		echo "$model $v: median ${median} ms of $runs (${times[$v]% })"
	done
	unset times
done
