#!/usr/bin/env bash
# test/bench/fm_pool.sh: the factorisation machine re-ranker (train_fm) on
# online-retail last5, trained in the distribution it serves (0.9.0
# experiment, issue 13 item 4).
#
#   bash test/bench/fm_pool.sh [valid|test]        (default valid)
#   RECSYS_FM_VARIANTS="ref pool pool05 inpool rec bf bf05 bf1 bfctx time"   (default all)
#   RECSYS_FM_WEIGHTS="0.5 1 2 3 5 8"  base weights scored per variant;
#   RECSYS_FM_WEIGHTS_<variant>="3"    one variant's (the test run gets the
#                                      weight valid chose for each)
#
# The base is the EASE of accuracy.sh's last5 line with item features
# (half_life 60 days, popularity_exponent 0.25, feature_weight 0.25;
# regularization RECSYS_FM_REG, default 2000, chosen on valid among 500,
# 1000, 2000); the FM's factors and epochs RECSYS_FM_FACTORS (64) and
# RECSYS_FM_EPOCHS (10), further train_fm arguments RECSYS_FM_ARGS (e.g.
# ", regularization => 0.01").  Variants:
#	ref     train_fm on the train file as accuracy.sh trains it (uniform
#	        negatives, every event a positive);
#	rec     the same with time_col and half_life 1 day (each user's last
#	        invoice nearly alone counts);
#	pool    learning to re-rank in the distribution served: the train
#	        file split in time (each user's last invoice = "later"), the
#	        base trained on the earlier rows, train_fm's negatives all from
#	        that base's top 100 for the user (hard_negatives => 1: items
#	        the user had before), positives the later purchases (half_life
#	        1 day); then the base retrained on the whole train file under
#	        the same name, which is what the re-ranker serves over;
#	pool05  pool with half the negatives uniform (hard_negatives => 0.5);
#	bf      pool's protocol with base_features => true: every (user, item)
#	        pair gets the earlier base's rank band and standardised score
#	        as FM features (0.9.0), uniform negatives (hard_negatives 0);
#	bf05    bf with half the negatives from the base's pool;
#	bf1     bf with all negatives from the base's pool;
#	bfctx   bf05 with the hour and weekday context;
#	time    ref with the time features of 0.10.0 (time_col, context off):
#	        the base's score from the user's last basket and the items'
#	        recent sales (recent_window RECSYS_FM_WINDOW, default 30 days),
#	        scored for each "base_weight:last_basket_weight:recent_weight"
#	        of RECSYS_FM_TIME_WEIGHTS (the large ones leave the FM's own
#	        score nearly out: the time features over the base alone);
#	inpool  pool with only the later purchases inside the base's top 100
#	        as positives (earlier rows kept with their times pushed back
#	        10^8 s, weight 0, so that every item stays known).
# Scoring other base weights rewrites the stored base_weight in the
# model's params (as the superuser) instead of retraining: train_fm's
# fit does not use base_weight, only serving does, so the result is the
# model that training with that weight gives.
# Prints valid (or test) NDCG@10 of the base and of each variant.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
files=${1:-valid}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}
splits=$shared/data/splits
source "$(dirname "$0")/item_features.sh"

recsys_build
recsys_start_cluster "shared_buffers = 1GB"
recsys_bench_header
recsys_psql -q -c "CREATE EXTENSION recsys"

t=online_retail_last5
train=${t}_train test=${t}_test
# load_split: a split file as a table, indexed by user
source "$(dirname "$0")/split_tables.sh"
if [ "$files" = test ]; then
	load_split $train "$splits/online-retail/last5/train.csv.gz"
	load_split $test "$splits/online-retail/last5/test.csv.gz"
else
	load_split $train "$splits/online-retail/last5/valid/train.csv.gz"
	load_split $test "$splits/online-retail/last5/valid/test.csv.gz"
fi
fm_features online-retail
items=public.online_retail_fm_items users=public.online_retail_fm_users
# the earlier rows: each user's rows before their last invoice (timestamp)
recsys_psql -q <<SQL
CREATE TABLE ${t}_early AS SELECT v.* FROM $train v
  JOIN (SELECT user_id, max(ts) AS m FROM $train GROUP BY user_id) l USING (user_id) WHERE v.ts < l.m;
ANALYZE ${t}_early;
SQL
q() { recsys_psql -At -F ' ' "$@"; }
ndcg() { q -c "SELECT round(value::numeric, 4) FROM recsys.evaluate('$1', '$test') WHERE metric = 'ndcg@10'"; }
echo "# $files files: train $(q -c "SELECT count(*) FROM $train") rows, earlier part $(q -c "SELECT count(*) FROM ${t}_early")"
base() { # model, source
	q -c "SET recsys.threads = 2" -c "SELECT 1 FROM recsys.train_ease('$2', model => '$1',
		regularization => ${RECSYS_FM_REG:-2000}, half_life => '60 days', popularity_exponent => 0.25,
		time_col => 'ts', features => 'public.online_retail_features', feature_weight => 0.25)" >/dev/null
}
fm() { # model, base, source, further arguments
	local s
	s=$(date +%s)
	q -c "SET recsys.threads = 2" -c "SELECT 1 FROM recsys.train_fm('$3', '$2', model => '$1', factors => ${RECSYS_FM_FACTORS:-64},
		epochs => ${RECSYS_FM_EPOCHS:-10}, item_features => '$items', user_features => '$users' $4 ${RECSYS_FM_ARGS:-})" >/dev/null
	fit=$(($(date +%s) - s))
}
set_weights() { # model, JSON object of params
	q -c "UPDATE recsys.model_versions SET params = params || '$2' WHERE model = '$1'" \
	  -c "UPDATE recsys.models SET params = params || '$2' WHERE name = '$1'" >/dev/null
}
time_weights() { # model, label
	local line="" t bw lbw rw
	for t in ${RECSYS_FM_TIME_WEIGHTS:-1000:0:0 1000:500:0 1000:500:400 2:0:0 4:2:0 4:2:0.8 8:4:1.6}; do
		IFS=: read -r bw lbw rw <<<"$t"
		set_weights "$1" "{\"base_weight\": $bw, \"last_basket_weight\": $lbw, \"recent_weight\": $rw}"
		line="$line $t: $(ndcg "$1")"
	done
	echo "$2 (fit ${fit} s), NDCG@10 by base_weight:last_basket_weight:recent_weight:$line"
}
weights() { # model, label
	local var=RECSYS_FM_WEIGHTS_${1#f_} line="" w
	for w in ${!var:-${RECSYS_FM_WEIGHTS:-0.5 1 2 3 5 8}}; do
		set_weights "$1" "{\"base_weight\": $w}"
		line="$line $w: $(ndcg "$1")"
	done
	echo "$2 (fit ${fit} s), NDCG@10 by base_weight:$line"
}
base vb $train
echo "base EASE + features: NDCG@10 $(ndcg vb)"
for v in ${RECSYS_FM_VARIANTS:-ref pool pool05 inpool rec bf bf05 bf1 bfctx time}; do
	case $v in
	time)
		fm f_time vb $train ", time_col => 'ts', context => false, last_basket_weight => 1, recent_weight => 1,
			recent_window => '${RECSYS_FM_WINDOW:-30 days}'"
		time_weights f_time "time: uniform negatives, every event, last basket and recent sales";;
	ref)
		fm f_ref vb $train ""
		weights f_ref "ref: uniform negatives, every event";;
	rec)
		fm f_rec vb $train ", time_col => 'ts', half_life => '1 day', context => false"
		weights f_rec "rec: uniform negatives, half_life 1 day";;
	pool | pool05 | inpool | bf | bf05 | bf1 | bfctx)
		share=1 source=$train extra="" ctx=false
		[ $v = pool05 ] && share=0.5
		case $v in bf) share=0;; bf05) share=0.5;; bfctx) share=0.5 ctx=true;; esac
		case $v in bf*) extra=", base_features => true";; esac
		base ve ${t}_early
		if [ $v = inpool ]; then
			source=${t}_inpool
			recsys_psql -q <<SQL
DROP TABLE IF EXISTS $source;
CREATE TABLE $source AS
SELECT user_id, item_id, ts - 100000000 AS ts FROM ${t}_early
UNION ALL
SELECT v.user_id, v.item_id, v.ts FROM $train v
WHERE (v.user_id, v.ts) IN (SELECT user_id, max(ts) FROM $train GROUP BY user_id)
  AND (v.user_id, v.item_id) IN (SELECT u.user_id, p.item_id FROM (SELECT DISTINCT user_id FROM $train) u,
	LATERAL recsys.recommend(u.user_id, 100, 've') p);
-- items only bought outside the pool stay known (else they leave the pool)
INSERT INTO $source SELECT -1, item_id, 0 FROM (SELECT item_id FROM $train EXCEPT SELECT item_id FROM $source) s;
ANALYZE $source;
SQL
			echo "# inpool positives: $(q -c "SELECT (SELECT count(*) FROM $source WHERE user_id <> -1) - (SELECT count(*) FROM ${t}_early)")"
		fi
		fm f_$v ve $source ", time_col => 'ts', half_life => '1 day', context => $ctx, hard_negatives => $share $extra"
		base ve $train	# the re-ranker now serves over the base trained on everything
		weights f_$v "$v: negatives from the earlier base's top 100 (share $share), positives the last invoice${extra:+, base features}${ctx/false/}";;
	esac
done
