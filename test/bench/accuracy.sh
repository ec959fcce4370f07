#!/usr/bin/env bash
# test/bench/accuracy.sh: recsys's models on the shared splits, next to the peers.
#
#   bash test/bench/accuracy.sh [strat75|last5|cv5|all]      (default all)
#   bash test/bench/accuracy.sh privacy [ml|retail|synth|all]  (default all;
#        RECSYS_DP_MODELS="ease knn" which models on ml and retail)
#   bash test/bench/accuracy.sh cold
#   bash test/bench/accuracy.sh auto [strat75|last5|all] [ml-latest-small|online-retail|synth]
#        (default all splits of both shared data sets; synth: a third set,
#        see auto_synth; RECSYS_AUTO_CHECK_BLENDS=1: see auto_check_blends)
#
# Loads the fixed splits from ../shared/data/splits, trains each model on
# <protocol>/train and prints recsys.evaluate's metrics on <protocol>/test,
# one line per model, in the layout of PEERS.md.  Hyper-parameters are
# fixed here (defaults, or values chosen on the valid/ files); nothing is
# tuned on test.  MovieLens uses binary matrix values (as PEERS.md), online
# retail the purchase-line count ("weight") and binary where noted.
#
# RECSYS_TUNE=1 (default) runs every tuned line, RECSYS_TUNE=new only the
# lines added in 0.3.0 to 0.5.0 (frequency-scaled ALS, normalised /
# recency-weighted EASE and BM25, item features, the blends),
# RECSYS_TUNE=blend the first blend and the two tuned lines it blends,
# RECSYS_TUNE=features the EASE lines, item features and their blend with
# ALS, RECSYS_TUNE=als only the frequency-scaled ALS, RECSYS_TUNE=fm the
# EASE lines with item features and the factorisation machine re-ranking
# their top 100 (train_fm), 0 none.
#
# RECSYS_TUNE=diversity: moved to test/bench/diversity.sh (0.10.0: diversity
# by category, with 0.7.0's similarities; RECSYS_DIV_SIMS="own cosine"
# for 0.7.0's lines alone).
#
# RECSYS_TUNE=bpr (0.7.0): only the BPR lines (see bpr_lines).
#
# RECSYS_TUNE=ncf (0.7.0): the neural model (NeuMF) with and without APR.
#
# RECSYS_TUNE=ncf_pretrained (0.9.0): NeuMF started from the
# frequency-scaled ALS (train_ncf's pretrained), its epochs and learning
# rate chosen on valid (0 epochs: the ALS ranking itself), next to that
# ALS and BPR (the settings valid chose in 0.7.0), and with
# RECSYS_NCF_EASE=1 EASE tuned on valid.
# RECSYS_BASELINES=0 leaves out the fixed lines (popularity, default ALS,
# kNN, EASE lambda=200) before the tuned ones.
#
# "store_users => false" lines (0.6.0): the same models without stored
# user vectors, each user folded in from train when evaluated.
#
# privacy (0.6.0): differentially private EASE and item-kNN at epsilon
# 0.5, 1, 2, 4, 8 and without privacy, on ml-latest-small and online
# retail strat75 and on a holdout split of the synthetic 1M-user set
# (RECSYS_SYNTH, default /tmp/synth20m.csv.gz, written by
# ../shared/bench/synth.py; see private_topn_synth).  The non-private
# settings are chosen on valid, then the clip max_user_items on valid at
# each epsilon (RECSYS_DP_CLIP=once RECSYS_DP_CLIP_EPSILON=1: at epsilon 1
# for all); the private and non-private lines use the same settings.  The noise seed is
# fixed (seed => 1) so the figures can be reproduced: one draw of the noise.
#
# cold (0.7.0): a fifth of the users (by a hash of their id) left out of
# training; every model ranks for them with its cold-start scores and is
# evaluated on their strat75 test rows.  The popularity line is what
# every model fell back to before 0.7.0.  Each line is followed by the
# range of known users' top-10 scores next to the cold start's.
#
# auto (0.8.0): train_auto given only the train file (no valid/ file, no
# parameter but the columns: time_col => 'ts' on last5, which makes it
# validate on each user's last items), its default budget (or
# RECSYS_AUTO_BUDGET), scored on test; the line's fit_s is the whole
# train_auto call, and the winner's description follows it.
# RECSYS_AUTO_FEATURES=1 also passes the data set's item features
# (features => the item_features view below).
#
# Item features (0.5.0) come from the data sets' own item files: MovieLens
# genres, decade and title words (movies.csv), online retail the words of
# the product descriptions (online_retail.csv.gz via items.csv).
set -euo pipefail
if [ "${RECSYS_TUNE:-1}" = diversity ]; then
	exec bash "$(dirname "$0")/diversity.sh" "${RECSYS_DIV_DATA:-all}"
fi
source "$(dirname "$0")/../lib.sh"
which=${1:-all}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}
splits=$shared/data/splits

recsys_install_deps
recsys_build
recsys_start_cluster "shared_buffers = 1GB"
recsys_bench_header
recsys_psql -c "CREATE EXTENSION recsys" -c "SET recsys.threads = 2"

# load a split file as a table (user_id, item_id, r, ts, one) and index it
load() {
	local table=$1 file=$2
	recsys_psql <<SQL
CREATE TABLE $table (user_id bigint, item_id bigint, r real, ts bigint);
\copy $table FROM PROGRAM 'gzip -dc $file' WITH (FORMAT csv, HEADER true)
ALTER TABLE $table ADD COLUMN one real DEFAULT 1;
CREATE INDEX ON $table (user_id);
ANALYZE $table;
SQL
}

# train with a SQL call on the train table and print the test metrics
run() {
	local label=$1 train=$2 test=$3 call=$4
	recsys_psql -At -F ' ' <<SQL
SET recsys.threads = 2;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT 1 AS trained FROM $call \gset
SELECT extract(epoch FROM clock_timestamp()) - :t0 AS fit \gset
SELECT format('%-34s %7s %7s %7s %7s %7s %7s %7s %6s',
	'$label',
	round(max(value) FILTER (WHERE metric = 'precision@10')::numeric, 4),
	round(max(value) FILTER (WHERE metric = 'recall@10')::numeric, 4),
	round(max(value) FILTER (WHERE metric = 'ndcg@10')::numeric, 4),
	round(max(value) FILTER (WHERE metric = 'map@10')::numeric, 4),
	round(max(value) FILTER (WHERE metric = 'hit_rate@10')::numeric, 4),
	round(max(value) FILTER (WHERE metric = 'coverage@10')::numeric, 3),
	round(:fit::numeric, 2),
	round(max(value) FILTER (WHERE metric = 'seconds')::numeric, 2))
FROM recsys.evaluate('m', '$test');
SELECT recsys.drop_model('m');
SQL
}

header() {
	echo
	echo "### $1"
	printf '%-34s %7s %7s %7s %7s %7s %7s %7s %6s\n' model P@10 R@10 NDCG@10 MAP@10 HR@10 cover fit_s eval_s
}

# tune on valid/train -> valid/test, then train the best on train and
# score on test: label, table prefix, algorithm, grid, fixed parameters.
# The winner's training call, "trainer|named arguments", is left in
# tuned_call for blended.
tuned_call=
tuned_json=
tuned() {
	local label=$1 t=$2 algorithm=$3 grid=$4 fixed=$5
	local best
	best=$(recsys_psql -At <<SQL
SET recsys.threads = 2;
SELECT params FROM recsys.tune('$algorithm', '${t}_vtrain', '${t}_vtest', '$grid', fixed => '$fixed',
							   model => 'tuning') WHERE rank = 1;
SELECT recsys.drop_model('tuning') \gset
SQL
)
	local trainer
	case $algorithm in
		als) trainer=train_cf ;;
		*) trainer=train_$algorithm ;;
	esac
	local args
	args=$(recsys_psql -At -c "SELECT string_agg(format('%I => %L', key, value), ', ')
		FROM jsonb_each_text('$fixed'::jsonb || '$best'::jsonb)")
	tuned_call="$trainer|$args"
	tuned_json=$(recsys_psql -At -c "SELECT '$fixed'::jsonb || '$best'::jsonb")
	run "$label $best" "${t}_train" "${t}_test" "recsys.$trainer('${t}_train', model => 'm', $args)"
}

# blend tuned lines' winners: each member is trained with its winner's
# parameters on valid/train and on train; the blend weights are chosen on
# valid/test by tune, and the blend of the train members is scored on
# test (fit_s is the blend's own, not its members').  label, table prefix,
# weight grid, then one "trainer|arguments" per member.
blended() {
	local label=$1 t=$2 grid=$3
	shift 3
	local n=0 spec valid_members=() members=()
	for spec in "$@"; do
		recsys_psql -q -At <<SQL >/dev/null
SET recsys.threads = 2;
SELECT 1 FROM recsys.${spec%%|*}('${t}_vtrain', model => 'vmember$n', ${spec#*|});
SELECT 1 FROM recsys.${spec%%|*}('${t}_train', model => 'member$n', ${spec#*|});
SQL
		valid_members+=("\"vmember$n\"")
		members+=("member$n")
		n=$((n + 1))
	done
	local best
	best=$(recsys_psql -At <<SQL
SELECT params FROM recsys.tune('blend', '${t}_vtrain', '${t}_vtest', '$grid',
							   fixed => '{"members": [$(IFS=,; echo "${valid_members[*]}")]}',
							   model => 'tuning') WHERE rank = 1;
SELECT recsys.drop_model('tuning') \gset
SQL
)
	local weights
	weights=$(recsys_psql -At -c "SELECT array_agg(w::real)::text FROM jsonb_array_elements_text('$best'::jsonb -> 'weights') w")
	run "$label $best" "${t}_train" "${t}_test" \
		"recsys.train_blend('{$(IFS=,; echo "${members[*]}")}', '$weights', model => 'm')"
	for n in $(seq 0 $(($# - 1))); do
		recsys_psql -q -c "SELECT recsys.drop_model('vmember$n'), recsys.drop_model('member$n')" >/dev/null
	done
}

# item_features <data>: the view public.<data>_features (item_id, feature)
source "$(dirname "$0")/item_features.sh"

# The re-ranker over a base ("trainer|arguments", trained on valid/train
# and on train): base_weight and epochs chosen on valid/test (64 factors),
# then the winner on test.  The base's own line is printed too.
fm_reranked() {
	local label=$1 t=$2 data=$3 base=$4
	local items="public.${data//-/_}_fm_items" users="public.${data//-/_}_fm_users"
	fm_features "$data"
	recsys_psql -q -At <<SQL >/dev/null
SET recsys.threads = 2;
SELECT 1 FROM recsys.${base%%|*}('${t}_vtrain', model => 'vfm_base', ${base#*|});
SELECT 1 FROM recsys.${base%%|*}('${t}_train', model => 'fm_base', ${base#*|});
SQL
	local best= best_value=-1 w e value
	for w in 1 1.5 2 3; do
		for e in 10 20; do
			value=$(recsys_psql -At <<SQL
SET recsys.threads = 2;
SELECT 1 AS ok FROM recsys.train_fm('${t}_vtrain', 'vfm_base', model => 'vfm', factors => 64,
	epochs => $e, base_weight => $w, item_features => '$items', user_features => '$users') \gset
SELECT value FROM recsys.evaluate('vfm', '${t}_vtest') WHERE metric = 'ndcg@10';
SQL
)
			echo "# fm on valid: base_weight $w, epochs $e: NDCG@10 $value"
			if awk "BEGIN {exit !($value > $best_value)}"; then best_value=$value best="$w $e"; fi
		done
	done
	run "$label base" "${t}_train" "${t}_test" "recsys.${base%%|*}('${t}_train', model => 'm', ${base#*|})"
	run "$label, base_weight ${best% *}, epochs ${best#* }" "${t}_train" "${t}_test" \
		"recsys.train_fm('${t}_train', 'fm_base', model => 'm', factors => 64, epochs => ${best#* },
			base_weight => ${best% *}, item_features => '$items', user_features => '$users')"
	recsys_psql -q -c "SELECT recsys.drop_model('vfm'), recsys.drop_model('vfm_base'), recsys.drop_model('fm_base')" >/dev/null
}

# NCF (0.7.0): tune's grid has no ncf, so the grid is walked here: each
# setting trained on valid/train and scored on valid/test by NDCG@10, the
# best trained on train and scored on test.  label, table prefix, then one
# argument list per setting; the winner's arguments are left in ncf_args.
# ncf_before_test, if set, is a statement run before the winner's test run.
ncf_args=
ncf_before_test=
ncf_grid() {
	local label=$1 t=$2
	shift 2
	local best_ndcg=-1 args ndcg
	for args in "$@"; do
		ndcg=$(recsys_psql -At <<SQL
SET recsys.threads = 2;
SELECT 1 AS trained FROM recsys.train_ncf('${t}_vtrain', model => 'tuning', $args) \gset
SELECT round(value::numeric, 4) FROM recsys.evaluate('tuning', '${t}_vtest') WHERE metric = 'ndcg@10';
SELECT recsys.drop_model('tuning') \gset
SQL
)
		echo "# valid NDCG@10 $ndcg: $args"
		if awk "BEGIN {exit !($ndcg > $best_ndcg)}"; then
			best_ndcg=$ndcg
			ncf_args=$args
		fi
	done
	[ -z "$ncf_before_test" ] || recsys_psql -q -At -c "SET recsys.threads = 2" -c "$ncf_before_test" >/dev/null
	# the label goes into a SQL string: its quotes doubled
	run "$label {${ncf_args//\'/\'\'}}" "${t}_train" "${t}_test" \
		"recsys.train_ncf('${t}_train', model => 'm', $ncf_args)"
}

# NeuMF pretrained from the frequency-scaled ALS (0.9.0): the ALS tuned
# on valid, trained on valid/train and on train as the starts; the grid
# below on valid, the winner on test; ALS, EASE and BPR beside it.
ncf_pretrained_lines() {
	local t=$1 data=$2 protocol=$3
	tuned "ALS frequency-scaled reg tuned" "$t" als \
		'{"alpha": [10, 20], "regularization": [0.005, 0.01, 0.02, 0.05]}' \
		"{\"weight_col\": \"one\", \"factors\": 128, \"iterations\": 12, \"regularization_exponent\": 1}"
	local als=$tuned_call
	# EASE: its tuned figures are the README's (the grid costs minutes here)
	[ "${RECSYS_NCF_EASE:-0}" = 0 ] ||
		tuned "EASE tuned" "$t" ease '{"regularization": [100, 200, 500, 1000], "dropout": [0, 0.25]}' '{}'
	# BPR: the settings valid chose for 0.7.0 (see bpr_lines)
	local bpr="factors => 128, iterations => 100, learning_rate => 0.05, regularization => 0.01"
	case $data/$protocol in
		ml-latest-small/strat75) bpr="factors => 128, iterations => 100, learning_rate => 0.1, regularization => 0.01" ;;
		ml-latest-small/last5) bpr="factors => 128, iterations => 100, learning_rate => 0.1, regularization => 0.005, sampling => 'adaptive'" ;;
		# (0.9.0's valid choice adds time_col => 'ts', half_life => '3 days': README's BPR section)
		online-retail/last5) bpr="factors => 128, iterations => 100, learning_rate => 0.05, regularization => 0.005" ;;
	esac
	run "BPR (0.7.0 valid choice)" "${t}_train" "${t}_test" \
		"recsys.train_bpr('${t}_train', model => 'm', weight_col => 'one', $bpr)"
	recsys_psql -q -At <<SQL >/dev/null
SET recsys.threads = 2;
SELECT 1 FROM recsys.${als%%|*}('${t}_vtrain', model => 'ncf_start', ${als#*|});
SQL
	# the winner on test starts from the ALS trained on train
	ncf_before_test="SELECT 1 FROM recsys.${als%%|*}('${t}_train', model => 'ncf_start', replace => true, ${als#*|})"
	ncf_grid "NCF pretrained tuned" "$t" \
		"pretrained => 'ncf_start', iterations => 0" \
		"pretrained => 'ncf_start', iterations => 1, learning_rate => 0.0001" \
		"pretrained => 'ncf_start', iterations => 4, learning_rate => 0.00003"
	ncf_before_test=
	recsys_psql -q -c "SELECT recsys.drop_model('ncf_start')" >/dev/null
}

topn() {
	local data=$1 protocol=$2 weight=$3
	local t=${data//-/_}_$protocol
	load "${t}_train" "$splits/$data/$protocol/train.csv.gz"
	load "${t}_test" "$splits/$data/$protocol/test.csv.gz"
	load "${t}_vtrain" "$splits/$data/$protocol/valid/train.csv.gz"
	load "${t}_vtest" "$splits/$data/$protocol/valid/test.csv.gz"
	header "$data / $protocol (test)"
	if [ "${RECSYS_TUNE:-1}" = bpr ]; then
		bpr_lines "$t"
		return
	fi
	if [ "${RECSYS_TUNE:-1}" = ncf_pretrained ]; then
		ncf_pretrained_lines "$t" "$data" "$protocol"
		return
	fi
	if [ "${RECSYS_BASELINES:-1}" = 1 ]; then
		run "popularity" "${t}_train" "${t}_test" "recsys.train_popular('${t}_train', model => 'm')"
		run "ALS default (train_cf, $weight)" "${t}_train" "${t}_test" \
			"recsys.train_cf('${t}_train', model => 'm', weight_col => '$weight')"
		# the same model without stored user vectors: users folded in when served
		run "ALS default, store_users => false" "${t}_train" "${t}_test" \
			"recsys.train_cf('${t}_train', model => 'm', weight_col => '$weight', store_users => false)"
		run "ALS binary, f=64 reg=0.01 a=1" "${t}_train" "${t}_test" \
			"recsys.train_cf('${t}_train', model => 'm', weight_col => 'one')"
		for K in 50 100; do
			run "Cosine K=$K (binary)" "${t}_train" "${t}_test" \
				"recsys.train_item_knn('${t}_train', $K, model => 'm', weight_col => 'one')"
			run "BM25 K=$K ($weight)" "${t}_train" "${t}_test" \
				"recsys.train_item_knn('${t}_train', $K, model => 'm', similarity => 'bm25', weight_col => '$weight')"
		done
		run "user-kNN K=50 (binary)" "${t}_train" "${t}_test" \
			"recsys.train_user_knn('${t}_train', 50, model => 'm', weight_col => 'one')"
		run "EASE lambda=200 (binary)" "${t}_train" "${t}_test" \
			"recsys.train_ease('${t}_train', 200, model => 'm')"
	fi
	local tune=${RECSYS_TUNE:-1}
	if [ "$tune" = 1 ]; then
		tuned "EASE/DLAE tuned" "$t" ease \
			'{"regularization": [50, 100, 200, 500, 1000], "dropout": [0, 0.1, 0.25, 0.5]}' '{}'
		tuned "ALS tuned" "$t" als \
			'{"factors": [64, 128], "regularization": [0.01, 0.05, 0.1], "alpha": [1, 10, 40]}' \
			"{\"weight_col\": \"$weight\"}"
	fi
	local als_call= ease_call= ease_json=
	if [ "$tune" = 1 ] || [ "$tune" = new ] || [ "$tune" = als ] || [ "$tune" = blend ] || [ "$tune" = features ]; then
		# implicit ALS with frequency-scaled regularisation (Rendle et al. 2022)
		tuned "ALS frequency-scaled reg tuned" "$t" als \
			'{"alpha": [10, 20], "regularization": [0.005, 0.01, 0.02, 0.05]}' \
			"{\"weight_col\": \"one\", \"factors\": 128, \"iterations\": 12, \"regularization_exponent\": 1}"
		als_call=$tuned_call
	fi
	if [ "$tune" = 1 ] || [ "$tune" = new ] || [ "$tune" = blend ] || [ "$tune" = features ] || [ "$tune" = fm ]; then
		if [ "$protocol" = last5 ]; then
			# predicting the next purchases: weight the history by its age
			tuned "EASE recency-weighted tuned" "$t" ease \
				'{"regularization": [500, 1000, 2000], "popularity_exponent": [0, 0.25], "half_life": ["30 days", "60 days", "120 days"]}' \
				'{"time_col": "ts"}'
			ease_call=$tuned_call ease_json=$tuned_json
			tuned "BM25 recency-weighted tuned" "$t" item_knn \
				'{"neighbors": [50, 100], "half_life": ["30 days", "60 days", "120 days"]}' \
				"{\"similarity\": \"bm25\", \"weight_col\": \"$weight\", \"time_col\": \"ts\"}"
		else
			tuned "EASE normalised tuned" "$t" ease \
				'{"regularization": [100, 200, 400], "user_exponent": [0.25, 0.5], "popularity_exponent": [0.1, 0.25], "dropout": [0, 0.25]}' '{}'
			ease_call=$tuned_call ease_json=$tuned_json
		fi
	fi
	local blend_grid='{"weights": [[1, 0.3], [1, 0.5], [1, 0.7], [1, 0.85], [1, 1], [1, 1.3]]}'
	if [ "$tune" = 1 ] || [ "$tune" = new ] || [ "$tune" = blend ]; then
		# the two winners blended (EASE, then ALS with weight w)
		blended "EASE + ALS blend tuned" "$t" "$blend_grid" "$ease_call" "$als_call"
	fi
	if [ "$tune" = 1 ] || [ "$tune" = ncf ]; then
		# NeuMF (binary): a small grid on valid, then APR on the winner
		ncf_grid "NCF (NeuMF) tuned" "$t" \
			"factors => 32, hidden => '{64,32}', iterations => 8" \
			"factors => 64, hidden => '{128,64}', iterations => 6"
		local ncf_plain=$ncf_args
		ncf_grid "NCF + APR tuned" "$t" \
			"$ncf_plain, adversarial_epsilon => 0.1, adversarial_weight => 1" \
			"$ncf_plain, adversarial_epsilon => 0.5, adversarial_weight => 1"
	fi
	if [ "$tune" = 1 ] || [ "$tune" = new ] || [ "$tune" = features ]; then
		# the EASE winner with item features, their weight chosen on valid
		item_features "$data"
		tuned "EASE + item features tuned" "$t" ease '{"feature_weight": [0.25, 0.5, 1, 2]}' \
			"$(recsys_psql -At -c "SELECT '$ease_json'::jsonb || '{\"features\": \"public.${data//-/_}_features\"}'")"
		blended "EASE + item features + ALS blend tuned" "$t" "$blend_grid" "$tuned_call" "$als_call"
	fi
	if [ "$tune" = fm ]; then
		# the EASE line above (recency-weighted on last5, normalised on
		# strat75) with item features, re-ranked by the FM
		item_features "$data"
		tuned "EASE + item features tuned" "$t" ease '{"feature_weight": [0.25, 0.5, 1, 2]}' \
			"$(recsys_psql -At -c "SELECT '$ease_json'::jsonb || '{\"features\": \"public.${data//-/_}_features\"}'")"
		fm_reranked "FM re-ranking EASE + features top 100" "$t" "$data" "$tuned_call"
	fi
	if [ "$tune" = 1 ]; then
		bpr_lines "$t"
	fi
}

# valid NDCG@10 of a train_bpr call's arguments (trained on valid/train)
bpr_valid_ndcg() {
	local t=$1 args=$2
	recsys_psql -At <<SQL
SET recsys.threads = 2;
SELECT 1 AS trained FROM recsys.train_bpr('${t}_vtrain', model => 'tuning', weight_col => 'one', $args) \gset
SELECT round(value::numeric, 4) FROM recsys.evaluate('tuning', '${t}_vtest') WHERE metric = 'ndcg@10';
SELECT recsys.drop_model('tuning') \gset
SQL
}

# the best of a list of train_bpr argument strings on valid: sets bpr_best
bpr_best=
bpr_choose() {
	local t=$1 args ndcg best_ndcg=-1
	shift
	for args in "$@"; do
		ndcg=$(bpr_valid_ndcg "$t" "$args")
		echo "#   valid NDCG@10 $ndcg: $args"
		if awk -v a="$ndcg" -v b="$best_ndcg" 'BEGIN { exit !(a > b) }'; then
			best_ndcg=$ndcg bpr_best=$args
		fi
	done
}

# BPR (0.7.0; recsys.tune does not know it): factors, learning rate and
# regularization chosen on valid (100 epochs, uniform negatives), then the
# sampling, the adversarial epsilon and (0.9.0) the half-life of the
# users' refit to their recent items at that setting, each kept only if
# valid improves.  Test lines: the choice, the choice with store_users =>
# false (users folded in), and the choice without APR (when APR won) or
# with APR at the best epsilon tried (when it did not), for the comparison.
bpr_lines() {
	local t=$1 grid=() f lr reg
	for f in 64 128; do for lr in 0.05 0.1; do for reg in 0.005 0.01; do
		grid+=("factors => $f, learning_rate => $lr, regularization => $reg")
	done; done; done
	echo "# BPR, chosen on valid:"
	bpr_choose "$t" "${grid[@]}"
	local base=$bpr_best
	bpr_choose "$t" "$base" "$base, sampling => 'adaptive'" "$base, sampling => 'popularity'"
	local sampled=$bpr_best
	bpr_choose "$t" "$sampled" "$sampled, adversarial_epsilon => 0.02" "$sampled, adversarial_epsilon => 0.05" \
		"$sampled, adversarial_epsilon => 0.1"
	local adversarial=$bpr_best
	# 0.9.0: users refitted to their recent items (time_col, half_life)
	bpr_choose "$t" "$adversarial" "$adversarial, time_col => 'ts', half_life => '1 day'" \
		"$adversarial, time_col => 'ts', half_life => '3 days'" \
		"$adversarial, time_col => 'ts', half_life => '10 days'" \
		"$adversarial, time_col => 'ts', half_life => '30 days'"
	local chosen=$bpr_best
	# (run's label is a SQL literal: no quotes in it)
	run "BPR tuned: ${chosen//\'/}" "${t}_train" "${t}_test" \
		"recsys.train_bpr('${t}_train', model => 'm', weight_col => 'one', $chosen)"
	run "BPR tuned, store_users => false" "${t}_train" "${t}_test" \
		"recsys.train_bpr('${t}_train', model => 'm', weight_col => 'one', $chosen, store_users => false)"
	if [ "$adversarial" = "$sampled" ]; then
		run "BPR tuned + APR eps=0.05 (not chosen)" "${t}_train" "${t}_test" \
			"recsys.train_bpr('${t}_train', model => 'm', weight_col => 'one', $chosen, adversarial_epsilon => 0.05)"
	else
		run "BPR tuned without APR" "${t}_train" "${t}_test" \
			"recsys.train_bpr('${t}_train', model => 'm', weight_col => 'one', $sampled)"
	fi
}

# tune on valid without privacy, then the clip at each epsilon on valid
# (RECSYS_DP_CLIP=once: at epsilon 1 only), then the same settings on
# test: label, table prefix, algorithm, grid, fixed parameters
private_lines() {
	local label=$1 t=$2 algorithm=$3 grid=$4 fixed=$5
	local trainer=train_$algorithm best clip= args eps
	local clips=${RECSYS_DP_CLIPS:-5, 10, 25, 50, 100}
	best=$(recsys_psql -At <<SQL
SET recsys.threads = 2;
SELECT '$fixed'::jsonb || params FROM recsys.tune('$algorithm', '${t}_vtrain', '${t}_vtest', '$grid',
	fixed => '$fixed', model => 'tuning') WHERE rank = 1;
SELECT recsys.drop_model('tuning') \gset
SQL
)
	args=$(recsys_psql -At -c "SELECT string_agg(format('%I => %L', key, value), ', ')
		FROM jsonb_each_text('$best'::jsonb)")
	echo "# $label: $best chosen on valid without privacy; max_user_items from {$clips} on valid"
	for eps in none 8 4 2 1 0.5; do
		if [ "$eps" = none ]; then
			run "$label, no privacy" "${t}_train" "${t}_test" "recsys.$trainer('${t}_train', model => 'm', $args)"
			continue
		fi
		if [ -z "$clip" ] || [ "${RECSYS_DP_CLIP:-each}" = each ]; then
			clip=$(recsys_psql -At <<SQL
SET recsys.threads = 2;
SELECT params->>'max_user_items' FROM recsys.tune('$algorithm', '${t}_vtrain', '${t}_vtest',
	'{"max_user_items": [$clips]}',
	fixed => '$best'::jsonb || '{"epsilon": ${RECSYS_DP_CLIP_EPSILON:-$eps}, "seed": 1}', model => 'tuning') WHERE rank = 1;
SELECT recsys.drop_model('tuning') \gset
SQL
)
		fi
		run "$label, epsilon $eps, clip $clip" "${t}_train" "${t}_test" \
			"recsys.$trainer('${t}_train', model => 'm', $args, epsilon => $eps, max_user_items => $clip, seed => 1)"
	done
}

private_topn() {
	local data=$1
	local t=${data//-/_}_strat75
	load "${t}_train" "$splits/$data/strat75/train.csv.gz"
	load "${t}_test" "$splits/$data/strat75/test.csv.gz"
	load "${t}_vtrain" "$splits/$data/strat75/valid/train.csv.gz"
	load "${t}_vtest" "$splits/$data/strat75/valid/test.csv.gz"
	header "$data / strat75 (test), differential privacy (delta 1e-7)"
	case " $models " in *" ease "*)
		private_lines "EASE" "$t" ease '{"regularization": [50, 100, 200, 500, 1000]}' '{}' ;;
	esac
	case " $models " in *" knn "*)
		private_lines "item-kNN cosine" "$t" item_knn '{"neighbors": [20, 50, 100, 200]}' '{}' ;;
	esac
}

# The synthetic set (1M users, 100k items, ~19.3M pairs): EASE over 100k
# items needs a 40 GB matrix and a private item-kNN the same dense
# co-occurrence matrix, so both are restricted to the RECSYS_SYNTH_ITEMS
# (default 10,000) most popular items, a list taken as public.  Holdout:
# the users with user_id % 100 = 0 (10,000) are split as strat75 (md5
# order, users with at least 4 items), the rest is train; valid is the
# same on train with user_id % 100 = 1.
private_topn_synth() {
	local file=${RECSYS_SYNTH:-/tmp/synth20m.csv.gz} top=${RECSYS_SYNTH_ITEMS:-10000}
	recsys_psql <<SQL
CREATE UNLOGGED TABLE synth_all (user_id bigint, item_id bigint, w real);
\copy synth_all FROM PROGRAM 'gzip -dc $file' WITH (FORMAT csv, HEADER true)
CREATE UNLOGGED TABLE synth_top AS
SELECT item_id FROM synth_all GROUP BY item_id ORDER BY count(*) DESC, item_id LIMIT $top;
CREATE UNLOGGED TABLE synth AS SELECT user_id, item_id FROM synth_all JOIN synth_top USING (item_id);
DROP TABLE synth_all;
CREATE FUNCTION pg_temp.holdout(src regclass, dst text, remainder int) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
	EXECUTE format('CREATE UNLOGGED TABLE %I AS SELECT user_id, item_id FROM (
		SELECT user_id, item_id, count(*) OVER w AS n,
			   row_number() OVER (w ORDER BY md5(''42:'' || user_id || '':'' || item_id)) AS k
		FROM %s WHERE user_id %% 100 = %s WINDOW w AS (PARTITION BY user_id)) s
		WHERE n >= 4 AND k > (3 * n + 2) / 4', dst || '_test', src, remainder);
	EXECUTE format('CREATE UNLOGGED TABLE %I AS SELECT user_id, item_id FROM %s s
		WHERE NOT EXISTS (SELECT 1 FROM %I t WHERE t.user_id = s.user_id AND t.item_id = s.item_id)',
		dst || '_train', src, dst || '_test');
	EXECUTE format('CREATE INDEX ON %I (user_id)', dst || '_train');
	EXECUTE format('ANALYZE %I', dst || '_train');
	EXECUTE format('ANALYZE %I', dst || '_test');
END \$\$;
SELECT pg_temp.holdout('synth', 'synth_h', 0);
SELECT pg_temp.holdout('synth_h_train', 'synth_h_v', 1);
ALTER TABLE synth_h_v_train RENAME TO synth_h_vtrain;
ALTER TABLE synth_h_v_test RENAME TO synth_h_vtest;
SELECT 'synth: ' || (SELECT count(*) FROM synth_h_train) || ' train rows, ' ||
	   (SELECT count(*) FROM synth_h_test) || ' test rows of ' ||
	   (SELECT count(DISTINCT user_id) FROM synth_h_test) || ' users, ' ||
	   (SELECT count(*) FROM synth_h_vtest) || ' valid rows, $top items' AS sizes;
SQL
	header "synthetic 1M users, top $top items, holdout (test), differential privacy (delta 1e-7)"
	private_lines "item-kNN cosine" synth_h item_knn '{"neighbors": [50, 200]}' '{}'
}

# train on the warm users, then rank for the users left out (evaluate
# skips users without training rows, so the metrics are computed here, as
# evaluate defines them) and print the score ranges
run_cold() {
	local label=$1 t=$2 call=$3
	recsys_psql -At -F ' ' <<SQL
SET recsys.threads = 2;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT 1 AS trained FROM $call \gset
SELECT extract(epoch FROM clock_timestamp()) - :t0 AS fit \gset
WITH relevant AS (SELECT user_id, count(*) AS n FROM ${t}_unknown GROUP BY user_id),
lists AS (
	SELECT u.user_id, u.n, r.ordinality AS rank,
		   EXISTS (SELECT 1 FROM ${t}_unknown x WHERE x.user_id = u.user_id AND x.item_id = r.item_id) AS hit
	FROM relevant u, LATERAL recsys.recommend(u.user_id, 10, 'm') WITH ORDINALITY r
), per_user AS (
	SELECT user_id, n, count(*) FILTER (WHERE hit) AS hits,
		   sum(CASE WHEN hit THEN 1 / log(2, rank + 1) ELSE 0 END) AS dcg,
		   (SELECT sum(1 / log(2, i + 1)) FROM generate_series(1, least(n, 10)) i) AS idcg
	FROM lists GROUP BY user_id, n
)
SELECT format('%-34s %7s %7s %7s %7s %7s',
	'$label', round(avg(hits / 10.0), 4), round(avg(hits::numeric / n), 4),
	round(avg(dcg / idcg), 4), round(avg((hits > 0)::int), 4), round(:fit::numeric, 2))
FROM per_user;
WITH known AS (
	SELECT r.score, r.ordinality FROM (SELECT DISTINCT user_id FROM ${t}_warm ORDER BY 1 LIMIT 100) u,
		 LATERAL recsys.recommend(u.user_id, 10, 'm') WITH ORDINALITY r), cold AS (
	SELECT score, reason FROM recsys.recommend(-1, 10, 'm'))
SELECT format('  scores: known users'' top 10 %s .. %s (median first %s); cold start top 10 %s .. %s (%s)',
	(SELECT round(min(score)::numeric, 3) FROM known), (SELECT round(max(score)::numeric, 3) FROM known),
	(SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY score))::numeric, 3) FROM known WHERE ordinality = 1),
	(SELECT round(min(score)::numeric, 3) FROM cold), (SELECT round(max(score)::numeric, 3) FROM cold),
	(SELECT string_agg(DISTINCT reason, ', ') FROM cold));
SELECT recsys.drop_model('m');
SQL
}

cold_start() {
	local data=$1 weight=$2
	local t=${data//-/_}_cold
	load "${t}_train" "$splits/$data/strat75/train.csv.gz"
	load "${t}_test" "$splits/$data/strat75/test.csv.gz"
	recsys_psql <<SQL
CREATE TABLE ${t}_warm AS SELECT * FROM ${t}_train
WHERE get_byte(decode(md5('cold:' || user_id), 'hex'), 0) % 5 <> 0;
CREATE INDEX ON ${t}_warm (user_id);
ANALYZE ${t}_warm;
CREATE TABLE ${t}_unknown AS SELECT * FROM ${t}_test
WHERE get_byte(decode(md5('cold:' || user_id), 'hex'), 0) % 5 = 0;
SQL
	echo
	echo "### $data / strat75, the fifth of the users left out of training ($(recsys_psql -At -c "SELECT count(DISTINCT user_id) FROM ${t}_unknown") users, their test rows)"
	printf '%-34s %7s %7s %7s %7s %7s\n' model P@10 R@10 NDCG@10 HR@10 fit_s
	run_cold "popularity (fallback before 0.7.0)" "$t" "recsys.train_popular('${t}_warm', model => 'm')"
	run_cold "ALS default ($weight)" "$t" "recsys.train_cf('${t}_warm', model => 'm', weight_col => '$weight')"
	run_cold "ALS default, store_users => false" "$t" \
		"recsys.train_cf('${t}_warm', model => 'm', weight_col => '$weight', store_users => false)"
	run_cold "Cosine K=100 (binary)" "$t" "recsys.train_item_knn('${t}_warm', 100, model => 'm', weight_col => 'one')"
	run_cold "BM25 K=100 ($weight)" "$t" \
		"recsys.train_item_knn('${t}_warm', 100, model => 'm', similarity => 'bm25', weight_col => '$weight')"
	run_cold "user-kNN K=50 (binary)" "$t" "recsys.train_user_knn('${t}_warm', 50, model => 'm', weight_col => 'one')"
	run_cold "EASE lambda=200 (binary)" "$t" "recsys.train_ease('${t}_warm', 200, model => 'm')"
}

# train_auto on one split: its train file only, scored on test; then the
# winner's description and each family's best validation value
auto_line() {
	local data=$1 protocol=$2
	local t=${data//-/_}_$protocol
	local budget=
	# (quoted apart: inside ${...:+...} the quotes kept the variable unexpanded)
	[ -n "${RECSYS_AUTO_BUDGET:-}" ] && budget=", budget => '$RECSYS_AUTO_BUDGET'"
	local time= features=
	[ "$protocol" = last5 ] && time=", time_col => 'ts'"
	if [ "${auto_line_loaded:-0}" != 1 ]; then
		load "${t}_train" "$splits/$data/$protocol/train.csv.gz"
		load "${t}_test" "$splits/$data/$protocol/test.csv.gz"
	fi
	if [ "${RECSYS_AUTO_FEATURES:-0}" = 1 ]; then
		item_features "$data"
		features=", features => 'public.${data//-/_}_features'"
	fi
	header "$data / $protocol (test), train_auto${features:+ with item features}"
	recsys_psql -At -F ' ' <<SQL
SET recsys.threads = 2;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
CREATE UNLOGGED TABLE auto_trials AS SELECT * FROM recsys.train_auto('${t}_train', model => 'auto'$time$budget$features);
SELECT extract(epoch FROM clock_timestamp()) - :t0 AS fit \gset
-- (evaluated once: the table line and the five-digit line read it)
CREATE TEMP TABLE auto_eval AS SELECT * FROM recsys.evaluate('auto', '${t}_test');
SELECT format('%-34s %7s %7s %7s %7s %7s %7s %7s %6s', 'train_auto',
	round(max(value) FILTER (WHERE metric = 'precision@10')::numeric, 4),
	round(max(value) FILTER (WHERE metric = 'recall@10')::numeric, 4),
	round(max(value) FILTER (WHERE metric = 'ndcg@10')::numeric, 4),
	round(max(value) FILTER (WHERE metric = 'map@10')::numeric, 4),
	round(max(value) FILTER (WHERE metric = 'hit_rate@10')::numeric, 4),
	round(max(value) FILTER (WHERE metric = 'coverage@10')::numeric, 3),
	round(:fit::numeric, 2),
	round(max(value) FILTER (WHERE metric = 'seconds')::numeric, 2))
FROM auto_eval;
-- (five digits: a goal such as 0.98 x 0.1016 = 0.09957 lies between four-digit values)
SELECT format('# test ndcg@10 to five digits: %s', round(value::numeric, 5))
FROM auto_eval WHERE metric = 'ndcg@10';
SELECT '# ' || description FROM recsys.models WHERE name = 'auto';
SELECT '# winner: ' || (metrics -> 'train_auto' -> 'winner')::text FROM recsys.models WHERE name = 'auto';
SELECT '# final: ' || coalesce(metrics -> 'train_auto' ->> 'final', '-') FROM recsys.models WHERE name = 'auto';
SELECT format('# %s: best validation %s of %s trained (%s s), %s skipped', family,
	round(max(value)::numeric, 4), count(value), round(sum(train_seconds + eval_seconds)::numeric, 1),
	count(*) FILTER (WHERE status LIKE 'skipped%'))
FROM auto_trials GROUP BY family ORDER BY max(value) DESC NULLS LAST;
-- (the winner's status starts 'chosen; ': a blend winner's test follows it)
SELECT format('# blend %s: validation %s, %s', params, round(value::numeric, 4), status)
FROM auto_trials WHERE status LIKE 'kept:%' OR status LIKE 'not kept%' OR status LIKE 'chosen; kept:%' ORDER BY rank;
SELECT format('# second round, %s: first round %s, kept %s, %s move(s)%s; contenders in the order of work (validation splits 1, 2, 3): %s; cut for the budget: %s',
	r ->> 'family', r -> 'first_round', r -> 'kept', r -> 'moves',
	CASE WHEN (r ->> 'centre_cut')::boolean THEN ' (the first round''s setting itself not scored on the matched splits: centre_cut)' ELSE '' END,
	(SELECT string_agg(format('%s %s', c -> 'params', c -> 'values'), '; ') FROM jsonb_array_elements(coalesce(nullif(r -> 'contenders', 'null'), '[]')) c),
	CASE WHEN jsonb_array_length(r -> 'cut') = 0 THEN 'none' ELSE (r -> 'cut')::text END)
FROM recsys.models m, jsonb_array_elements(m.metrics -> 'train_auto' -> 'second_round') r WHERE m.name = 'auto';
SELECT format('# budget: stages ended at %s (seconds since the start), total %s of %s; the round''s cut: %s; families never trained for the budget (seconds short): %s',
	m.metrics -> 'train_auto' -> 'timeline', round((m.metrics -> 'train_auto' ->> 'seconds')::numeric, 1),
	m.metrics -> 'train_auto' -> 'budget_seconds',
	coalesce((SELECT string_agg(r ->> 'cut_check', '; ') FROM jsonb_array_elements(m.metrics -> 'train_auto' -> 'second_round') r), '-'),
	coalesce(nullif(m.metrics -> 'train_auto' ->> 'budget_short', 'null'), '-'))
FROM recsys.models m WHERE m.name = 'auto';
SELECT format('# skipped for the budget: %s %s: %s', family, params, status)
FROM auto_trials WHERE status LIKE 'skipped: estimated%' ORDER BY rank;
SQL
	if [ "${RECSYS_AUTO_CHECK_BLENDS:-0}" = 1 ]; then auto_check_blends "$t"; fi
	recsys_psql -q -At <<SQL >/dev/null
DROP TABLE auto_trials;
SELECT recsys.drop_model('auto');
SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'auto\_auto\_%';
SQL
	echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg), budget ${RECSYS_AUTO_BUDGET:-5 minutes (default)}"
}

# RECSYS_AUTO_CHECK_BLENDS=1: what each blend member train_auto tested
# would have done on test (the acceptance rule's check, not a choice: the
# model train_auto chose stays as it is).  The member's family's best
# setting on the first split is trained on all of train (exact, as
# train_auto's final model) and blended with train_auto's model at the
# weight it tested; test NDCG@10 of the blend against the model alone.
auto_check_blends() {
	local t=$1
	recsys_psql -At -F ' ' <<SQL
SET recsys.threads = 2;
CREATE TEMP TABLE checked AS
SELECT b.rank, b.status, b.params -> 'members' ->> 1 AS family, (b.params -> 'weights' ->> 1)::real AS weight,
	   (SELECT a.algorithm FROM auto_trials a WHERE a.family = b.params -> 'members' ->> 1 LIMIT 1) AS algorithm,
	   (SELECT a.params - 'keep' FROM auto_trials a WHERE a.family = b.params -> 'members' ->> 1
		ORDER BY a.value DESC NULLS LAST LIMIT 1) AS member_params
FROM auto_trials b WHERE b.family = 'blend' AND jsonb_array_length(b.params -> 'members') = 2
  AND b.status LIKE '%paired z%'
  -- (a blend winner cannot be a member: checked only for a single model)
  AND (SELECT m.algorithm FROM recsys.models m WHERE m.name = 'auto') <> 'blend';
\o /dev/null
SELECT recsys._tune_keep(recsys._tune_trainer(c.algorithm), '${t}_train', 'check_' || c.family,
						 c.member_params, true)
FROM (SELECT DISTINCT ON (family) * FROM checked ORDER BY family) c;
SELECT recsys.train_blend(ARRAY['auto', 'check_' || c.family], ARRAY[1, c.weight]::real[], 'check_blend_' || c.rank)
FROM checked c;
\o
SELECT format('# check %s at %s: test NDCG@10 %s against %s alone (%s); train_auto said: %s', c.family, c.weight,
	round((SELECT value FROM recsys.evaluate('check_blend_' || c.rank, '${t}_test') WHERE metric = 'ndcg@10')::numeric, 4),
	(SELECT m.metrics -> 'train_auto' -> 'winner' ->> 'family' FROM recsys.models m WHERE m.name = 'auto'),
	round((SELECT value FROM recsys.evaluate('auto', '${t}_test') WHERE metric = 'ndcg@10')::numeric, 4), c.status)
FROM checked c ORDER BY c.rank;
\o /dev/null
SELECT recsys.drop_model('check_blend_' || rank) FROM checked;
SELECT recsys.drop_model('check_' || family) FROM (SELECT DISTINCT family FROM checked) c;
\o
SQL
}

# auto on a third data set (the acceptance rules' check beyond the shared
# splits): ../shared/bench/synth.py's model at 6,000 users and 2,000
# items, 120,000 pairs (RECSYS_AUTO_SYNTH_ARGS), a quarter of each user's pairs held out
# as test (split_holdout, seed 42), train_auto given the rest
auto_synth() {
	local file=/tmp/recsys_auto_synth.csv.gz
	# synth.py needs numpy: Debian's python3-numpy, for /usr/bin/python3
	/usr/bin/python3 -c "import numpy" 2>/dev/null || apt-get install -y -qq python3-numpy >/dev/null
	/usr/bin/python3 "$shared/bench/synth.py" "$file" ${RECSYS_AUTO_SYNTH_ARGS:---users 6000 --items 2000 --pairs 120000 --seed 7} >&2
	recsys_psql <<SQL
CREATE TABLE synth_all (user_id bigint, item_id bigint, weight real);
\copy synth_all FROM PROGRAM 'gzip -dc $file' WITH (FORMAT csv, HEADER true)
CREATE TABLE synth_strat75_train AS
SELECT s.user_id, s.item_id FROM recsys.split_holdout('synth_all', 0.25, 42) s WHERE NOT s.is_test;
CREATE TABLE synth_strat75_test AS
SELECT s.user_id, s.item_id FROM recsys.split_holdout('synth_all', 0.25, 42) s WHERE s.is_test;
CREATE INDEX ON synth_strat75_train (user_id);
ANALYZE synth_strat75_train;
SQL
}

if [ "$which" = auto ] && [ "${3:-}" = synth ]; then
	auto_synth
	auto_line_loaded=1 auto_line synth strat75
	exit 0
fi
if [ "$which" = auto ]; then
	part=${2:-all}
	for data in ${3:-ml-latest-small online-retail}; do
		for protocol in strat75 last5; do
			if [ "$part" = all ] || [ "$part" = "$protocol" ]; then auto_line "$data" "$protocol"; fi
		done
	done
	exit 0
fi
if [ "$which" = cold ]; then
	cold_start ml-latest-small one
	cold_start online-retail r
	exit 0
fi
if [ "$which" = privacy ]; then
	part=${2:-all}
	models=${RECSYS_DP_MODELS:-ease knn}
	if [ "$part" = all ] || [ "$part" = ml ]; then private_topn ml-latest-small; fi
	if [ "$part" = all ] || [ "$part" = retail ]; then private_topn online-retail; fi
	if [ "$part" = all ] || [ "$part" = synth ]; then private_topn_synth; fi
	exit 0
fi
if [ "$which" = all ] || [ "$which" = strat75 ]; then
	topn ml-latest-small strat75 one
	topn online-retail strat75 r
fi
if [ "$which" = all ] || [ "$which" = last5 ]; then
	topn ml-latest-small last5 one
	topn online-retail last5 r
fi
if [ "$which" = all ] || [ "$which" = cv5 ]; then
	for setting in "explicit ALS, train_cf defaults|" \
		"explicit ALS, train_cf defaults, store_users => false|, store_users => false" \
		"Bayesian MF (k=8, alpha=2, 100 sweeps; chosen on inner validation, test/bench/explicit_lab.c)|, solver => 'bayesian', factors => 8, alpha => 2, iterations => 100" \
		"Bayesian MF as above, store_users => false (users folded in by the ALS step)|, solver => 'bayesian', factors => 8, alpha => 2, iterations => 100, store_users => false"; do
	CV_ARGS=${setting#*|}
	echo
	echo "### ml-latest-small / cv5 rating prediction: ${setting%%|*}"
	for fold in 1 2 3 4 5; do
		if [ "$(recsys_psql -At -c "SELECT to_regclass('cv_train_$fold') IS NULL")" = t ]; then
			load "cv_train_$fold" "$splits/ml-latest-small/cv5/fold$fold/train.csv.gz"
			load "cv_test_$fold" "$splits/ml-latest-small/cv5/fold$fold/test.csv.gz"
		fi
		recsys_psql -At -F ' ' <<SQL
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT 1 AS trained FROM recsys.train_cf('cv_train_$fold', model => 'mf', feedback => 'explicit', weight_col => 'r'$CV_ARGS) \gset
SELECT format('fold %s: fit %s s, rmse %s, mae %s', $fold,
	round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 2),
	round(max(value) FILTER (WHERE metric = 'rmse')::numeric, 4),
	round(max(value) FILTER (WHERE metric = 'mae')::numeric, 4))
FROM recsys.evaluate('mf', 'cv_test_$fold', weight_col => 'r');
SQL
	done
	done

	# Koren's global neighbourhood model (0.7.0), its defaults (chosen on an
	# inner validation split of fold 1's train: test/bench/explicit_lab.c,
	# method nbr), and its blend with the Bayesian MF above, weights 0.63 and
	# 0.37 (the lab's ridge blend fitted on that inner split, normalised)
	for setting in "neighbourhood model, train_neighborhood defaults (neighbors 100, 30 iterations, learning_rate 0.01, regularization 0.01, shrinkage 100)|" \
		"blend of the Bayesian MF above (weight 0.63) and the neighbourhood model (0.37)|blend"; do
	echo
	echo "### ml-latest-small / cv5 rating prediction: ${setting%%|*}"
	for fold in 1 2 3 4 5; do
		if [ "${setting#*|}" = blend ]; then
			train="SELECT 1 AS trained FROM recsys.train_cf('cv_train_$fold', model => 'bmf_$fold', feedback => 'explicit', weight_col => 'r', solver => 'bayesian', factors => 8, alpha => 2, iterations => 100) \\gset
SELECT 1 AS trained FROM recsys.train_blend('{bmf_$fold,nbr_$fold}', '{0.63,0.37}', 'nbr_blend_$fold') \\gset"
			evaluated=nbr_blend_$fold
		else
			train="SELECT 1 AS trained FROM recsys.train_neighborhood('cv_train_$fold', model => 'nbr_$fold', weight_col => 'r') \\gset"
			evaluated=nbr_$fold
		fi
		recsys_psql -At -F ' ' <<SQL
SET recsys.threads = 2;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset
$train
SELECT format('fold %s: fit %s s, rmse %s, mae %s', $fold,
	round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 2),
	round(max(value) FILTER (WHERE metric = 'rmse')::numeric, 4),
	round(max(value) FILTER (WHERE metric = 'mae')::numeric, 4))
FROM recsys.evaluate('$evaluated', 'cv_test_$fold', weight_col => 'r');
SQL
	done
	done
fi
