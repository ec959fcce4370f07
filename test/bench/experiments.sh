#!/usr/bin/env bash
# test/bench/experiments.sh: online experiments on simulated shoppers.
#
#   bash test/bench/experiments.sh [EVENTS [SEEDS [AA_RUNS [VISITS]]]]   (defaults 20000 5 200 1)
#
# Loads the demo shop with its users' tastes (shopgen --table tastes),
# trains popularity and implicit ALS on all of it, and has the simulated
# shoppers of test/tools/simulate.sql visit (every shop user once, in an
# order drawn from the seed, 10 items shown, VISITS visits per user):
#   (a) A/B, ALS against popularity: after every 10 users, the results;
#       when the verdict (always-valid mSPRT p on CTR) first says ALS wins,
#       and when the fixed-horizon CTR and conversion p first fall below
#       0.05; per seed
#   (b) A/A, ALS against itself, AA_RUNS runs with their own salts and
#       draws: how many verdicts say "no difference" (and the fixed-horizon
#       false-positive rates, for comparison)
#   (c) team-draft interleaving of the same two models: when the sign test
#       first falls below 0.05, per seed
# and the users each design needs for 80% power at alpha 0.05, from the
# effect each measured on all users: n * ((z_0.975 + z_0.8) / z)^2, with
# z the observed standard normal deviate (the fixed-horizon p's).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
events=${1:-20000}
seeds=${2:-5}
aa_runs=${3:-200}
visits=${4:-1}

recsys_build
recsys_start_cluster
trap 'recsys_stop_cluster' EXIT
recsys_bench_header
SHOP_TASTES=1 bash "$RECSYS_ROOT/test/tools/load_shop.sh" "$events" 42
recsys_psql -c "CREATE EXTENSION recsys" -f "$RECSYS_ROOT/test/tools/simulate.sql"

recsys_psql -v seeds="$seeds" -v aa_runs="$aa_runs" -v visits="$visits" <<'SQL'
SET client_min_messages = warning;
SELECT 1 FROM recsys.train_popular('shop.events', model => 'popular', user_col => 'user_id',
								   item_col => 'product_id') \g /dev/null
SELECT 1 FROM recsys.train_cf('shop.events', 16, model => 'als', user_col => 'user_id', item_col => 'product_id',
							  regularization => 5) \g /dev/null
\echo
SELECT format('shop: %s users, %s products; shown 10 items per visit, %s visit(s) per user',
			  (SELECT count(*) FROM shop.users), (SELECT count(*) FROM shop.products), :visits) AS msg \gset
\echo :msg

CREATE TEMP TABLE runs (design text, seed integer, users bigint, ctr_p float8, conversion_p float8,
						p_always_valid float8, sign_p float8, verdict text);
SELECT format($$SELECT 1 FROM recsys.create_experiment('ab_%s', '[{"name": "popularity", "model": "popular"}, {"name": "als", "model": "als"}]', salt => 'ab-%s')$$, s, s),
	   format($$INSERT INTO runs SELECT 'ab', %s, r.* FROM sim.run('ab_%s', %s, 10, visits => %s) r$$, s, s, s / 100.0, :visits),
	   format($$SELECT 1 FROM recsys.create_experiment('il_%s', '[{"name": "popularity", "model": "popular"}, {"name": "als", "model": "als"}]', design => 'interleaving', salt => 'il-%s')$$, s, s),
	   format($$INSERT INTO runs SELECT 'il', %s, r.* FROM sim.run('il_%s', %s, 10, visits => %s) r$$, s, s, s / 100.0, :visits)
FROM generate_series(1, :seeds) s \gexec


\echo
\echo '(a) A/B and (c) interleaving: users when each test first detected ALS > popularity (alpha 0.05)'
SELECT seed,
	   min(users) FILTER (WHERE design = 'ab' AND verdict LIKE 'als beats%') AS "A/B verdict (mSPRT, CTR)",
	   min(users) FILTER (WHERE design = 'ab' AND ctr_p < 0.05) AS "A/B fixed CTR p",
	   min(users) FILTER (WHERE design = 'ab' AND conversion_p < 0.05) AS "A/B fixed conversion p",
	   min(users) FILTER (WHERE design = 'il' AND sign_p < 0.05) AS "interleaving sign test"
FROM runs GROUP BY seed ORDER BY seed;

\echo 'Results of the A/B test of seed 1 on all users (recsys.experiment_results):'
SELECT variant, users, impressions, clicks, round(ctr::numeric, 4) AS ctr, conversions,
	   round(conversion::numeric, 4) AS conversion, round(revenue_per_user::numeric, 2) AS revenue_per_user,
	   round(ctr_p::numeric, 6) AS ctr_p, round(conversion_p::numeric, 4) AS conversion_p,
	   round(revenue_p::numeric, 4) AS revenue_p, verdict
FROM recsys.experiment_results('ab_1', metric => 'ctr');
\echo 'Results of the interleaving of seed 1 (recsys.interleaving_results):'
SELECT * FROM recsys.interleaving_results('il_1');

\echo 'Users needed for 80% power at alpha 0.05 (two-sided), from the effect measured on all users:'
WITH last AS (
	SELECT DISTINCT ON (design, seed) * FROM runs ORDER BY design, seed, users DESC
), need AS (
	SELECT seed,
		   max(users * ((1.959964 + 0.841621) / -recsys._norm_quantile(ctr_p / 2)) ^ 2)
			   FILTER (WHERE design = 'ab') AS ab_ctr,
		   max(users * ((1.959964 + 0.841621) / -recsys._norm_quantile(conversion_p / 2)) ^ 2)
			   FILTER (WHERE design = 'ab') AS ab_conversion,
		   max(users * ((1.959964 + 0.841621) / -recsys._norm_quantile(sign_p / 2)) ^ 2)
			   FILTER (WHERE design = 'il') AS il
	FROM last GROUP BY seed
)
SELECT seed, round(ab_ctr) AS "A/B, CTR", round(ab_conversion) AS "A/B, conversion",
	   round(il) AS interleaving, round((ab_ctr / il)::numeric, 1) AS "CTR / interleaving",
	   round((ab_conversion / il)::numeric, 1) AS "conversion / interleaving"
FROM need
UNION ALL
SELECT NULL, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ab_ctr)),
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ab_conversion)),
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY il)),
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ab_ctr / il)::numeric, 1),
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ab_conversion / il)::numeric, 1)
FROM need
ORDER BY 1 NULLS LAST;
\echo '(the last row: medians over the seeds)'

\echo
\echo '(b) A/A tests: ALS against itself'
\timing on
CREATE TEMP TABLE aa AS SELECT * FROM sim.aa('als', :aa_runs);
\timing off
SELECT count(*) AS runs,
	   count(*) FILTER (WHERE verdict LIKE 'not significant%') AS "verdict: no difference",
	   round(100.0 * count(*) FILTER (WHERE verdict LIKE 'not significant%') / count(*), 1) AS "%",
	   round(100.0 * count(*) FILTER (WHERE ctr_p < 0.05) / count(*), 1) AS "% fixed CTR p < 0.05",
	   round(100.0 * count(*) FILTER (WHERE conversion_p < 0.05) / count(*), 1) AS "% fixed conversion p < 0.05"
FROM aa;
SQL
