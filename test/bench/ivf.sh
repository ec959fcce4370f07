#!/usr/bin/env bash
# test/bench/ivf.sh: recall@10 and latency of the IVF index (create_ivf,
# recsys.ivf_probes) against the exact compressed scan, on ALS item vectors.
#
#   bash test/bench/ivf.sh [ITEMS ...]        (default: 1000000)
#
# Data (per size N): synthetic interactions with planted structure, made
# in SQL: items in 1,000 topics (item i in topic i % 1000), 200,000 users
# (user u in topic u % 1000); every item once by a user of its topic, and
# 20 draws per user from its topic, skewed to the topic's first items
# (popularity ~ rank^-2/3).  train_cf (64 factors, 2 iterations) turns
# them into N x 64 item vectors; create_ivf indexes them (lists NULL:
# sqrt(N)).  Queries: the stored vectors of RECSYS_IVF_QUERIES (default
# 200) users, by recommend_for_vector(vector, 10): exact (recsys.ivf_probes
# = 0: the compressed scan with exact re-scoring, recall 1 by
# construction) and each probe count of RECSYS_IVF_PROBES.  Per setting:
# recall@10 against exact (mean over queries), p50 and mean latency in the
# server (clock_timestamp around each call, one session), qps = 1 / mean.
# Also the filtered case: recommend(user, 10, candidates => 2,000 random
# items), a filter that leaves about 2 items per list, at the smallest
# probe count: rows returned (k wanted) and recall against exact.
# One run; the machine is shared: compare rows of one run only.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
[ $# -ge 1 ] || set -- 1000000
QUERIES=${RECSYS_IVF_QUERIES:-200}
PROBES=${RECSYS_IVF_PROBES:-"1 2 4 8 16 32 64 128"}

[ "${RECSYS_SKIP_BUILD:-0}" = 1 ] || recsys_build
recsys_start_cluster "shared_buffers = 1GB" "max_wal_size = 20GB"
recsys_bench_header
recsys_psql -c "CREATE EXTENSION recsys"

for n in "$@"; do
	log "$n items: interactions, train_cf, create_ivf"
	recsys_psql -At <<SQL
SET recsys.max_memory = '6GB';
DROP TABLE IF EXISTS ev;
CREATE UNLOGGED TABLE ev AS
	SELECT ((i % 1000) + 1000 * ((i / 1000) % 200))::bigint AS user_id, i::bigint AS item_id
	FROM generate_series(0, $n - 1) i
	UNION ALL
	SELECT u, (u % 1000) + 1000 * floor(($n / 1000) * pow(random(), 3))::bigint
	FROM generate_series(0, 199999) u, generate_series(1, 20) d;
SELECT setseed(0.42);
\timing on
SELECT format('train_cf: %s items, %s users', n_items, n_users)
FROM recsys.train_cf('ev', factors => 64, iterations => 2, model => 'ivf_bench');
SELECT format('create_ivf: %s', recsys.create_ivf('ivf_bench'));
\timing off
DROP TABLE IF EXISTS q;
CREATE TABLE q AS SELECT row_number() OVER (ORDER BY user_id) AS qid, user_id, factors AS vec
	FROM recsys.user_factors WHERE model = 'ivf_bench'
	ORDER BY md5(user_id::text) LIMIT $QUERIES;
CREATE TABLE IF NOT EXISTS runs (n bigint, probes int, qid bigint, ids bigint[], ms float8);
SQL
	for probes in 0 $PROBES; do
		recsys_psql -At <<SQL
SET recsys.ivf_probes = $probes;
SELECT count(*) FROM recsys.recommend_for_vector((SELECT vec FROM q LIMIT 1), 10, 'ivf_bench') \gset
DO \$\$
DECLARE
	r record;
	t0 timestamptz;
	ids bigint[];
BEGIN
	FOR r IN SELECT qid, vec FROM q ORDER BY qid LOOP
		t0 := clock_timestamp();
		SELECT array_agg(item_id) INTO ids FROM recsys.recommend_for_vector(r.vec, 10, 'ivf_bench');
		INSERT INTO runs VALUES ($n, $probes, r.qid, ids, extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
END
\$\$;
SQL
	done
	echo "$n items, $QUERIES queries, top 10 by inner product (recommend_for_vector):"
	recsys_psql -P pager=off <<SQL
SELECT CASE WHEN r.probes = 0 THEN 'exact (compressed)' ELSE r.probes::text END AS probes,
	   round(avg((SELECT count(*) FROM unnest(r.ids) i WHERE i = ANY (e.ids)) / 10.0), 4) AS recall_at_10,
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY r.ms)::numeric, 3) AS p50_ms,
	   round(avg(r.ms)::numeric, 3) AS mean_ms,
	   round(1000 / avg(r.ms)::numeric) AS qps
FROM runs r JOIN runs e ON e.n = r.n AND e.probes = 0 AND e.qid = r.qid
WHERE r.n = $n GROUP BY r.probes ORDER BY r.probes;
SQL
	first=$(echo $PROBES | cut -d' ' -f1)
	recsys_psql -At <<SQL
SELECT setseed(0.7);
CREATE TEMP TABLE cand AS SELECT array_agg(item_id) AS ids
	FROM (SELECT item_id FROM recsys.item_stats WHERE model = 'ivf_bench' ORDER BY random() LIMIT 2000) s;
CREATE TEMP TABLE filtered (probes int, qid bigint, ids bigint[]);
SET recsys.ivf_probes = 0;
INSERT INTO filtered SELECT 0, q.qid, (SELECT array_agg(item_id) FROM recsys.recommend(q.user_id, 10, 'ivf_bench',
	exclude_seen => false, candidates => (SELECT ids FROM cand))) FROM q;
SET recsys.ivf_probes = $first;
INSERT INTO filtered SELECT $first, q.qid, (SELECT array_agg(item_id) FROM recsys.recommend(q.user_id, 10, 'ivf_bench',
	exclude_seen => false, candidates => (SELECT ids FROM cand))) FROM q;
SELECT format('filtered by recommend(candidates => 2,000 random items), probes $first: rows per query min %s max %s, recall@10 vs exact %s',
			  min(cardinality(f.ids)), max(cardinality(f.ids)),
			  round(avg((SELECT count(*) FROM unnest(f.ids) i WHERE i = ANY (e.ids)) / 10.0), 4))
FROM filtered f JOIN filtered e ON e.probes = 0 AND e.qid = f.qid WHERE f.probes = $first;
SQL
	recsys_psql -c "SELECT recsys.drop_model('ivf_bench')" >/dev/null
done
