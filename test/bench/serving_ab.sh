#!/usr/bin/env bash
# test/bench/serving_ab.sh: serving cost of two builds of recsys, side by side.
#
#   bash test/bench/serving_ab.sh REV_A REV_B [ROUNDS] [CALLS]
#
# Builds both git revisions in scratch work trees, then on one scratch
# cluster (the current tree's SQL; the revisions must share it) takes
# turns: A, B, A, B, ... (ROUNDS each, default 5), each turn in a new
# backend running that build's library:
#   - p50 of recommend(u, 10) over CALLS random users (default 300), timed
#     inside the server, for a 10,000-item factor model, an item-kNN model
#     and a blend of the two (as test/bench/recommend.sh builds them);
#   - score(7, i) per row over 200,000 rows of one query (one user, whose
#     vector is read once), in ns per row
#     (the per-call path of the model cache).
# Prints every turn and the medians per build, so that noise on a shared
# machine shows.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
rev_a=${1:?usage: serving_ab.sh REV_A REV_B [ROUNDS] [CALLS]}
rev_b=${2:?usage: serving_ab.sh REV_A REV_B [ROUNDS] [CALLS]}
rounds=${3:-5}
calls=${4:-300}

recsys_build
builds=$(mktemp -d /tmp/recsys-ab.XXXXXX)
for rev in "$rev_a" "$rev_b"; do
	git -C "$RECSYS_ROOT" worktree add -q --detach "$builds/$rev" "$rev"
	make -s -C "$builds/$rev" PG_CONFIG="$PG_CONFIG" >/dev/null
done
cleanup_builds() {
	for rev in "$rev_a" "$rev_b"; do
		git -C "$RECSYS_ROOT" worktree remove --force "$builds/$rev" || true
	done
	rm -rf "$builds"
	# leave the current tree's build installed
	make -s -C "$RECSYS_ROOT" PG_CONFIG="$PG_CONFIG" install >/dev/null
}
recsys_start_cluster "shared_buffers = 1GB"
trap 'recsys_stop_cluster || true; cleanup_builds' EXIT
recsys_bench_machine
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); A = $rev_a, B = $rev_b"

recsys_psql <<'SQL'
CREATE EXTENSION recsys;
SELECT setseed(0.5);
CREATE TABLE seen AS
	SELECT u AS user_id, (u * 7919 + j * 104729) % 10000 + 1 AS item_id
	FROM generate_series(1, 10000) u, generate_series(1, 20) j;
CREATE INDEX ON seen (user_id);
ANALYZE seen;
INSERT INTO recsys.models (name, version, algorithm, source, params, n_users, n_items)
	VALUES ('items_10k', 1, 'als', 'public.seen',
			'{"factors": 64, "feedback": "implicit", "user_col": "user_id", "item_col": "item_id", "regularization": 0.01, "alpha": 1}',
			10000, 10000);
INSERT INTO recsys.model_versions (model, version, algorithm, source) VALUES ('items_10k', 1, 'als', 'public.seen');
INSERT INTO recsys.item_stats SELECT 'items_10k', 1, i, 1, 1, random() FROM generate_series(1, 10000) i;
INSERT INTO recsys.item_factors
	SELECT 'items_10k', 1, i, 0, (SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 64) f WHERE i > 0)
	FROM generate_series(1, 10000) i;
INSERT INTO recsys.user_factors
	SELECT 'items_10k', 1, u, 0, (SELECT array_agg((random() - 0.5)::real) FROM generate_series(1, 64) f WHERE u > 0)
	FROM generate_series(1, 10000) u;
SELECT 1 FROM recsys.train_item_knn('seen', 50, model => 'knn_10k');
SELECT 1 FROM recsys.train_blend('{items_10k,knn_10k}', model => 'blend_10k');
CREATE TABLE turns (build text, round int, what text, value float8);
VACUUM ANALYZE;
SQL

pkglib=$($PG_CONFIG --pkglibdir)
for round in $(seq 1 "$rounds"); do
	for build in A B; do
		rev=$rev_a
		[ "$build" = B ] && rev=$rev_b
		install -m 755 "$builds/$rev/recsys.so" "$pkglib/recsys.so"
		# a new backend loads the library just installed
		recsys_psql <<SQL
SELECT count(*) FROM recsys.recommend(1, 10, 'items_10k');
SELECT count(*) FROM recsys.recommend(1, 10, 'blend_10k');
CREATE TEMP TABLE lat (what text, ms float8);
DO \$\$
DECLARE
	t0 timestamptz;
	u bigint;
	m text;
BEGIN
	FOREACH m IN ARRAY '{items_10k,knn_10k,blend_10k}'::text[] LOOP
		FOR i IN 1..$calls LOOP
			u := 1 + floor(random() * 10000)::bigint;
			t0 := clock_timestamp();
			PERFORM * FROM recsys.recommend(u, 10, m);
			INSERT INTO lat VALUES ('recommend ' || m || ' p50 ms', extract(epoch FROM clock_timestamp() - t0) * 1000);
		END LOOP;
	END LOOP;
	t0 := clock_timestamp();
	PERFORM count(recsys.score(7, 1 + g % 9973, 'items_10k')) FROM generate_series(1, 200000) g;
	INSERT INTO lat VALUES ('score per row ns', extract(epoch FROM clock_timestamp() - t0) * 1e9 / 200000);
END
\$\$;
INSERT INTO turns SELECT '$build', $round, what, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM lat GROUP BY what;
SQL
	done
done
recsys_psql -c "SELECT what, build, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY value)::numeric, 3) AS median,
	string_agg(round(value::numeric, 3)::text, ' ' ORDER BY round) AS turns
FROM turns GROUP BY what, build ORDER BY what, build"
