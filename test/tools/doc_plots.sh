#!/bin/bash
# test/tools/doc_plots.sh: draws the pictures in doc/ (doc/plot_*.svg) with
# the recsys.plot_* functions, on the validation split of MovieLens
# latest-small (strat75/valid, ../shared/data/splits) and, for plot_lines,
# a seeded simulated A/B test of conversion (what the experiments'
# cumulative conversion per variant looks like).  Takes a minute or two.
#
#   RECSYS_PG_BIN=... bash test/tools/doc_plots.sh [output directory, default doc]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
out=${1:-$RECSYS_ROOT/doc}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}
split=$shared/data/splits/ml-latest-small/strat75/valid

recsys_build
recsys_start_cluster
recsys_psql -c "CREATE EXTENSION recsys"
for t in train test; do
	recsys_psql <<SQL
CREATE TABLE ml_$t (user_id bigint, item_id bigint, r real, ts bigint);
\copy ml_$t FROM PROGRAM 'gzip -dc $split/$t.csv.gz' WITH (FORMAT csv, HEADER true)
ANALYZE ml_$t;
SQL
done

# one picture per function: the query's single value into a file
plot() {
	local name=$1 sql=$2
	recsys_psql -At -c "SET recsys.threads = 2" -c "$sql" | sed "/./,\$!d" >"$out/$name.svg"
	echo "wrote $out/$name.svg ($(wc -c <"$out/$name.svg") bytes)"
}

recsys_psql -c "SET recsys.threads = 2" \
	-c "SELECT 1 FROM recsys.train_cf('ml_train', factors => 64, model => 'als')" \
	-c "SELECT 1 FROM recsys.train_bpr('ml_train', factors => 64, model => 'bpr')" \
	-c "SELECT 1 FROM recsys.train_popular('ml_train', model => 'popular')" >/dev/null

plot plot_pr_curve "SELECT recsys.plot_pr_curve('{als,bpr,popular}', 'ml_test', '{1,2,5,10,20,50,100}',
	title => 'MovieLens latest-small (validation): precision and recall at k')"
plot plot_metrics_at_k "SELECT recsys.plot_metrics_at_k('{als}', 'ml_test', '{precision,recall,ndcg,hit_rate}',
	'{1,2,5,10,20,50,100}', title => 'ALS on MovieLens latest-small (validation): metrics at k')"
plot plot_tune "SELECT recsys.plot_tune(array_agg(params), array_agg(value), 'factors', 'regularization', 'ndcg@10',
	title => 'tune of ALS on MovieLens latest-small (validation): ndcg@10')
	FROM recsys.tune('als', 'ml_train', 'ml_test',
		'{\"factors\": [16, 32, 64], \"regularization\": [0.01, 0.1, 1, 10]}', model => 'als_tuned')"
# a simulated A/B test: 2,000 users a day for 14 days, conversion 5% (A)
# and 6% (B), seeded; cumulative rate per variant with its 95% Wilson
# interval
plot plot_lines "SELECT setseed(0.42);
	WITH days AS (
		SELECT v, d, sum(CASE WHEN random() < CASE v WHEN 'A' THEN 0.05 ELSE 0.06 END THEN 1 ELSE 0 END) AS c, count(*) AS n
		FROM unnest('{A,B}'::text[]) v, generate_series(1, 14) d, generate_series(1, 1000) u
		GROUP BY v, d),
	cum AS (
		SELECT v, d, sum(c) OVER w AS c, sum(n) OVER w AS n FROM days
		WINDOW w AS (PARTITION BY v ORDER BY d)),
	wilson AS (
		SELECT v, d, c / n AS p, n, 1.96 AS z FROM cum)
	SELECT recsys.plot_lines(array_agg('variant ' || v ORDER BY v, d), array_agg(d::float8 ORDER BY v, d),
		array_agg(p::float8 ORDER BY v, d),
		array_agg(((p + z * z / (2 * n) - z * sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n))::float8 ORDER BY v, d),
		array_agg(((p + z * z / (2 * n) + z * sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n))::float8 ORDER BY v, d),
		'Simulated A/B test: cumulative conversion with 95% Wilson intervals',
		'day of the test', 'conversion rate (share of users who bought)')
	FROM wilson"
