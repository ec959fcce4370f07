#!/usr/bin/env bash
# test/bench/compressed.sh: serving through the compressed item vectors
# (recsys.compressed_scan, int8 scan + exact re-scoring) against the fp32
# scan and pgvector's HNSW index, on the same ALS item vectors.
#
#   bash test/bench/compressed.sh [SECONDS] [USERS]
#
# 1. 100,000 items x 64 factors: implicit ALS (3 iterations) on a
#    synthetic set of USERS users (default 100,000) and about 2M pairs
#    (../shared/bench/synth.py).  Queries: top 10 by inner product for a
#    stored user vector (recommend(u, 10, exclude_seen => false); pgvector:
#    ORDER BY embedding <#> the same vector LIMIT 10 over an HNSW index,
#    m 16, ef_construction 64).  pgbench, 2 clients, SECONDS each (default
#    10): qps, and recall@10 against the exact fp32 ranking over 500 users.
#    pgvector is not a Debian package: build it from source against this
#    PostgreSQL (make PG_CONFIG=... install) or the HNSW rows are skipped
#    with a message.
# 2. 1,000,000 items x 64 (the 100,000 vectors, each repeated ten times
#    with 10% noise): p50 of recommend over 300 users, timed inside the
#    server, compressed on and off.
# Prints the machine and its load: on a shared machine compare rows of
# one run only.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
seconds=${1:-10}
users=${2:-100000}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}

recsys_build
recsys_start_cluster "shared_buffers = 2GB" "max_wal_size = 10GB"
recsys_bench_header
work=$(mktemp -d /tmp/recsys-compressed.XXXXXX)
trap 'recsys_stop_cluster || true; rm -rf "$work"' EXIT

have_vector=false
if [ -f "$($PG_CONFIG --pkglibdir)/vector.so" ]; then
	have_vector=true
else
	echo "pgvector is not installed for $PG_CONFIG: HNSW rows skipped" \
		"(build github.com/pgvector/pgvector outside the repository: make PG_CONFIG=$PG_CONFIG install)"
fi

log "writing the synthetic set (synth.py, $users users, 100,000 items)"
/usr/bin/python3 "$shared/bench/synth.py" "$work/synth.csv.gz" --users "$users" --items 100000 \
	--pairs $((users * 20)) >/dev/null
recsys_psql <<SQL
CREATE EXTENSION recsys;
CREATE TABLE synth (user_id bigint, item_id bigint, weight real);
\copy synth FROM PROGRAM 'gzip -dc $work/synth.csv.gz' WITH (FORMAT csv, HEADER true)
SET recsys.threads = 2;
SET recsys.max_memory = '8GB';
SELECT 1 FROM recsys.train_cf('synth', factors => 64, iterations => 3, model => 'c100k');
SELECT count(*) AS items FROM recsys.item_factors WHERE model = 'c100k';
-- the users queried, and their exact top 10 (fp32 scan)
CREATE TABLE q AS SELECT user_id FROM recsys.user_factors WHERE model = 'c100k' ORDER BY hashint8(user_id) LIMIT 500;
SET recsys.compressed_scan = off;
CREATE TABLE truth AS SELECT q.user_id, r.item_id FROM q, recsys.recommend(q.user_id, 10, 'c100k', exclude_seen => false) r;
RESET recsys.compressed_scan;
CREATE TABLE got (what text, user_id bigint, item_id bigint);
CREATE TABLE qps (what text, qps float8);
SQL

# pgbench 2 clients for SECONDS on a random queried user: prints qps
bench() {
	local what=$1 setup=$2 query=$3
	cat >"$work/bench.sql" <<SQL
\set r random(1, 500)
$setup
$query
SQL
	local out
	out=$("$PG_BIN/pgbench" -n -c 2 -j 2 -T "$seconds" -f "$work/bench.sql" 2>&1)
	recsys_psql -c "INSERT INTO qps VALUES ('$what', $(echo "$out" | awk '/^tps/ {print $3; exit}'))"
}
recsys_psql -c "CREATE TABLE qn AS SELECT row_number() OVER (ORDER BY user_id) AS r, user_id FROM q"
user_q="(SELECT user_id FROM qn WHERE r = :r)"

for setting in off on; do
	recsys_psql -c "SET recsys.compressed_scan = $setting;
		INSERT INTO got SELECT 'recsys compressed $setting', q.user_id, r.item_id
		FROM q, recsys.recommend(q.user_id, 10, 'c100k', exclude_seen => false) r"
	bench "recsys compressed $setting" "SET recsys.compressed_scan = $setting;" \
		"SELECT item_id FROM recsys.recommend($user_q, 10, 'c100k', exclude_seen => false);"
done

if $have_vector; then
	log "building the HNSW index"
	recsys_psql <<'SQL'
CREATE EXTENSION vector;
CREATE TABLE items AS SELECT item_id AS id, factors::vector(64) AS embedding FROM recsys.item_factors WHERE model = 'c100k';
CREATE TABLE qv AS SELECT user_id, factors::vector(64) AS embedding FROM recsys.user_factors WHERE model = 'c100k' AND user_id IN (SELECT user_id FROM q);
CREATE INDEX ON qv (user_id);
SET maintenance_work_mem = '1GB';
CREATE INDEX ON items USING hnsw (embedding vector_ip_ops) WITH (m = 16, ef_construction = 64);
VACUUM ANALYZE items, qv;
SQL
	for ef in 40 100 200 400; do
		recsys_psql -c "SET hnsw.ef_search = $ef;
			INSERT INTO got SELECT 'hnsw ef_search $ef', qv.user_id, i.id FROM qv,
			LATERAL (SELECT id FROM items ORDER BY embedding <#> qv.embedding LIMIT 10) i"
		bench "hnsw ef_search $ef" "SET hnsw.ef_search = $ef;" \
			"SELECT id FROM items ORDER BY embedding <#> (SELECT embedding FROM qv WHERE user_id = $user_q) LIMIT 10;"
	done
fi

echo "100,000 items x 64 factors, top 10, pgbench 2 clients, ${seconds}s each:"
recsys_psql -c "SELECT g.what, round(p.qps) AS qps,
	round(count(t.item_id)::numeric / (10 * count(DISTINCT g.user_id)), 4) AS recall_at_10
FROM got g JOIN qps p USING (what) LEFT JOIN truth t ON t.user_id = g.user_id AND t.item_id = g.item_id
GROUP BY g.what, p.qps ORDER BY g.what"

log "1,000,000 items: each of the 100,000 vectors ten times with 10% noise"
recsys_psql <<'SQL'
SELECT setseed(0.25);
INSERT INTO recsys.models (name, version, algorithm, source, params, n_users, n_items, n_interactions, stats)
	SELECT 'c1m', 1, algorithm, source, params, n_users, 1000000, n_interactions, stats FROM recsys.models WHERE name = 'c100k';
INSERT INTO recsys.model_versions (model, version, algorithm, source, params, n_users, n_items, n_interactions, stats)
	SELECT 'c1m', 1, algorithm, source, params, n_users, 1000000, n_interactions, stats
	FROM recsys.model_versions WHERE model = 'c100k' AND version = (SELECT version FROM recsys.models WHERE name = 'c100k');
INSERT INTO recsys.item_stats SELECT 'c1m', 1, s.item_id + 100000 * c, s.n_users, s.weight_sum, s.popularity
	FROM recsys.item_stats s, generate_series(0, 9) c WHERE s.model = 'c100k';
INSERT INTO recsys.item_factors
	SELECT 'c1m', 1, f.item_id + 100000 * c, 0,
	       (SELECT array_agg(e * (0.95 + 0.1 * random())::real ORDER BY o) FROM unnest(f.factors) WITH ORDINALITY AS u(e, o))
	FROM recsys.item_factors f, generate_series(0, 9) c WHERE f.model = 'c100k';
INSERT INTO recsys.user_factors SELECT 'c1m', 1, user_id, bias, factors FROM recsys.user_factors WHERE model = 'c100k';
VACUUM ANALYZE;
SQL
echo "1,000,000 items x 64 factors, recommend(u, 10, exclude_seen => false), p50 over 300 users (after a warm-up call):"
for setting in off on; do
	recsys_psql -At <<SQL
SET recsys.compressed_scan = $setting;
SELECT count(*) FROM recsys.recommend(1, 10, 'c1m', exclude_seen => false);
CREATE TEMP TABLE lat (ms float8);
DO \$\$
DECLARE
	t0 timestamptz;
	u bigint;
BEGIN
	FOR u IN SELECT user_id FROM q LIMIT 300 LOOP
		t0 := clock_timestamp();
		PERFORM * FROM recsys.recommend(u, 10, 'c1m', exclude_seen => false);
		INSERT INTO lat VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
END
\$\$;
SELECT 'compressed_scan $setting: p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ms, p90 '
	|| round(percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::numeric, 2) || ' ms' FROM lat;
SQL
done
recsys_psql -At -c "SET recsys.compressed_scan = off;
	CREATE TABLE truth1m AS SELECT q.user_id, r.item_id FROM (SELECT user_id FROM q LIMIT 100) q, recsys.recommend(q.user_id, 10, 'c1m', exclude_seen => false) r;
	SET recsys.compressed_scan = on;
	SELECT 'recall@10 at 1M (100 users): ' || round(count(t.item_id)::numeric / 1000, 4)
	FROM (SELECT user_id FROM q LIMIT 100) q CROSS JOIN LATERAL recsys.recommend(q.user_id, 10, 'c1m', exclude_seen => false) r
	LEFT JOIN truth1m t ON t.user_id = q.user_id AND t.item_id = r.item_id"
