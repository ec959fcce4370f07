#!/usr/bin/env bash
# test/bench/bpr_refit.sh: train_bpr's users' refit (time_col, half_life)
# at 1 and 2 threads.
#
#   bash test/bench/bpr_refit.sh [RUNS]        (default 3)
#
# On ml-latest-small last5's train file, fits BPR with the settings valid
# chose in 0.9.0 (128 factors, adaptive sampling, 100 iterations, learning
# rate 0.1, regularization 0.005, time_col ts, half_life 3 days) at
# recsys.threads 1 and 2, RUNS times interleaved, and prints each run's
# refit_seconds (the model's stat: the users' refit alone), fit_seconds
# and an md5 of the stored user vectors (the same at every thread count),
# then the medians and the test NDCG@10 of the last model.  Not a timed
# test.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
runs=${1:-3}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}
splits=$shared/data/splits

recsys_install_deps
recsys_build
recsys_start_cluster "shared_buffers = 512MB"
recsys_bench_header
# load_split
source "$(dirname "$0")/split_tables.sh"
recsys_psql -q -c "CREATE EXTENSION recsys" \
	-c "CREATE TABLE refit_runs (threads int, refit float8, fit float8, users_md5 text)"
load_split ml_last5 "$splits/ml-latest-small/last5/train.csv.gz"
load_split ml_last5_test "$splits/ml-latest-small/last5/test.csv.gz"

printf '%-4s %8s %8s %8s %s\n' run threads refit_s fit_s users_md5
for run in $(seq 1 "$runs"); do
	for threads in 1 2; do
		recsys_psql -At -F ' ' <<SQL
SET recsys.threads = $threads;
CREATE TEMP TABLE m AS
SELECT * FROM recsys.train_bpr('ml_last5', factors => 128, model => 'refit', iterations => 100,
							   learning_rate => 0.1, regularization => 0.005, sampling => 'adaptive',
							   time_col => 'ts', half_life => '3 days', replace => true);
INSERT INTO refit_runs
SELECT $threads, (stats->>'refit_seconds')::float8, (stats->>'fit_seconds')::float8,
	   (SELECT md5(string_agg(factors::text, ';' ORDER BY user_id)) FROM recsys.user_factors
		WHERE model = 'refit' AND version = m.version)
FROM m;
SELECT format('%-4s %8s %8s %8s %s', $run, $threads, round(refit::numeric, 2), round(fit::numeric, 2),
			  users_md5)
FROM refit_runs ORDER BY ctid DESC LIMIT 1;
SQL
	done
done
recsys_psql -At <<SQL
SELECT format('threads %s: median refit %s s, median fit %s s, %s distinct user-vector md5 over all runs',
	threads, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY refit))::numeric, 2),
	round((percentile_cont(0.5) WITHIN GROUP (ORDER BY fit))::numeric, 2),
	(SELECT count(DISTINCT users_md5) FROM refit_runs))
FROM refit_runs GROUP BY threads ORDER BY threads;
SELECT format('test NDCG@10 of the last model: %s', round(value::numeric, 4))
FROM recsys.evaluate('refit', 'ml_last5_test') WHERE metric = 'ndcg@10';
SQL
