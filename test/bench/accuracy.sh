#!/usr/bin/env bash
# test/bench/accuracy.sh: recsys's models on the shared splits, next to the peers.
#
#   bash test/bench/accuracy.sh [strat75|last5|cv5|all]      (default all)
#   bash test/bench/accuracy.sh privacy [ml|retail|synth|all]  (default all;
#        RECSYS_DP_MODELS="ease knn" which models on ml and retail)
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
# ALS, RECSYS_TUNE=als only the frequency-scaled ALS, RECSYS_TUNE=ncf the
# neural model (NeuMF, 0.7.0) with and without APR, 0 none.
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
# Item features (0.5.0) come from the data sets' own item files: MovieLens
# genres, decade and title words (movies.csv), online retail the words of
# the product descriptions (online_retail.csv.gz via items.csv).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
which=${1:-all}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}
splits=$shared/data/splits

recsys_install_deps
recsys_build
recsys_start_cluster "shared_buffers = 1GB"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)," \
	"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$RECSYS_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
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

# item features of a data set as the view public.<data>_features (item_id,
# feature): tokens a shop would have in its catalog
stop_words="'the', 'a', 'an', 'and', 'of', 'in', 'on', 'to', 'for', 'with', 'from', 'at', 'by', 'is', 'it', 'la', 'le', 'les', 'de', 'der', 'die', 'das', 'el'"
item_features() {
	local data=$1 view=${1//-/_}_features
	[ "$(recsys_psql -At -c "SELECT to_regclass('public.$view') IS NULL")" = t ] || return 0
	if [ "$data" = ml-latest-small ]; then
		recsys_psql -q <<SQL
CREATE TABLE ml_movies (item_id bigint, title text, genres text);
\copy ml_movies FROM '$shared/data/ml-latest-small/movies.csv' WITH (FORMAT csv, HEADER true)
CREATE VIEW public.$view AS
SELECT item_id, 'genre:' || g AS feature FROM ml_movies, unnest(string_to_array(genres, '|')) g
UNION ALL
SELECT item_id, 'decade:' || (substring(trim(title) FROM '\((\d{4})\)$')::int / 10 * 10)
FROM ml_movies WHERE trim(title) ~ '\(\d{4}\)$'
UNION ALL
SELECT item_id, 'title:' || w
FROM ml_movies, regexp_split_to_table(lower(regexp_replace(trim(title), '\(\d{4}\)$', '')), '[^a-z0-9'']+') w
WHERE length(w) >= 2 AND w NOT IN ($stop_words);
SQL
	else
		recsys_psql -q <<SQL
CREATE TABLE retail_items (item_id bigint, stock_code text);
\copy retail_items FROM '$splits/online-retail/items.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE retail_lines (invoice text, stock_code text, description text, quantity text,
						   invoice_date text, unit_price text, customer text, country text);
\copy retail_lines FROM PROGRAM 'gzip -dc $shared/data/online-retail/online_retail.csv.gz' WITH (FORMAT csv, HEADER true)
CREATE TABLE public.$view AS
SELECT DISTINCT i.item_id, w AS feature
FROM retail_items i JOIN retail_lines l USING (stock_code),
	 regexp_split_to_table(lower(l.description), '[^a-z0-9'']+') w
WHERE length(w) >= 2 AND w NOT IN ($stop_words);
SQL
	fi
}

# NCF (0.7.0): tune's grid has no ncf, so the grid is walked here: each
# setting trained on valid/train and scored on valid/test by NDCG@10, the
# best trained on train and scored on test.  label, table prefix, then one
# argument list per setting; the winner's arguments are left in ncf_args.
ncf_args=
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
	# the label goes into a SQL string: its quotes doubled
	run "$label {${ncf_args//\'/\'\'}}" "${t}_train" "${t}_test" \
		"recsys.train_ncf('${t}_train', model => 'm', $ncf_args)"
}

topn() {
	local data=$1 protocol=$2 weight=$3
	local t=${data//-/_}_$protocol
	load "${t}_train" "$splits/$data/$protocol/train.csv.gz"
	load "${t}_test" "$splits/$data/$protocol/test.csv.gz"
	load "${t}_vtrain" "$splits/$data/$protocol/valid/train.csv.gz"
	load "${t}_vtest" "$splits/$data/$protocol/valid/test.csv.gz"
	header "$data / $protocol (test)"
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
	if [ "$tune" = 1 ] || [ "$tune" = new ] || [ "$tune" = blend ] || [ "$tune" = features ]; then
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
fi
