#!/usr/bin/env bash
# test/bench/cold_items.sh: item features in ALS, and cold items (issue 15).
#
#   bash test/bench/cold_items.sh [warm|warmjoint|warmdense|cold|coldvalid|coldknn|coldranker|coldpseudo|combine|hybrid|ridge|pseudo|labinputs|all] [ml-latest-small|online-retail|both]
#
# coldranker (0.11.0): the cold re-ranker served through SQL - trained by
# recsys.train_cold_ranker on strat75/train minus the cold items' rows
# (its mix's coefficients fitted by the trainer on pseudo-cold items of
# that data, nothing chosen on test), then recommend with the cold items
# as candidates for every test user, beside the random and content-only
# kNN baselines computed the same way; COLD_RANKER_LINES adds lines
# (label|trainer|arguments).
#
# hybrid: a LightFM-style hybrid (Kula 2015) and its mix with the
# baseline, in the kernel lab test/bench/cold_lab.c (outside the server,
# on the same cold split: the data set's features and cold items are
# exported from the database); each line of HYBRID_GRID (cold_lab keys)
# on strat75/valid with mixes z(hybrid) + c ln(content), c in
# HYBRID_MIX; the best valid line and c, then on test (0.10.0: no variant
# reached the goal, so nothing went into the extension; doc/internals.md).
#
# ridge: linear content-to-behaviour maps (session 8) in cold_lab, and a
# mix fitted on pseudo-cold warm items: the scorers are the baseline,
# content kNN with cosines cubed, the feature popularity prior (combine's),
# a ridge map from idf-weighted words to the warm items' implicit-ALS
# vectors (Gantner et al. 2010, solved by conjugate gradients) scored by
# the users' ALS vectors, and CB2CF's direct form (a cold item's weights
# over warm items (K + lambda I)^-1 k_c, K the warm items' word cosines;
# Barkan et al. 2019).  The mix ln(content + 0.001) + sum c_j z_j (z per
# user) has its c_j fitted by coordinate ascent on pseudo-cold items: 10%
# of the training file's warm items (md5('7:' || item_id) order, the cold
# rule with another salt) whose training rows become the answers, so no
# valid or test row chooses them.  Each line of RIDGE_GRID (cold_lab keys)
# is measured on valid; the best valid line then runs on test with
# coefficients fitted on strat75/train's pseudo-cold items.
#
# coldvalid: the cold split on strat75/valid, item-kNN's cold lists (tf-idf
# or learned: COLD_K, COLD_LAMBDAS, COLD_SELF, COLD_CONTENT, COLD_POP give
# the grid) to
# choose settings; coldknn: the test split, the baselines and item-kNN
# only (no ALS tuning).
#
# combine: learned combinations of the baseline's own signal with the
# model, measured in SQL before any goes into the extension (0.9.0); on
# the same cold split, chosen on valid, run on test.  Each a score for
# (user, cold item):
#   content     the baseline (below)
#   prior       content x exp(beta * p), p the cold item's feature
#               popularity: the mean over its features of the shrunk mean
#               ln(1 + users) of the warm items with that feature (5
#               pseudo-items at the global mean), centred
#   lists       item-kNN's learned cold lists alone (cold_map_chosen)
#   loglinear   ln(content + 0.01) + beta p + gamma ln(lists + 0.01): the
#               model and the baseline's own signal in one combination
#   groups      per feature group (text before ':': MovieLens genre,
#               decade, title) a cosine of its own, weighted, x exp(beta p)
#
# Protocol (doc/internals.md, "Item features and cold items"):
#
# warm: frequency-scaled implicit ALS (128 factors, 12 iterations,
# regularization_exponent 1, binary weights; alpha and regularization
# chosen on strat75/valid) beside the same ALS with the item features
# (MovieLens genres, decade and title words; online retail description
# words: test/bench/item_features.sh) as pseudo-users, feature_weight
# chosen on valid; test NDCG@10 on strat75 (and last5 with all).
#
# cold: cold items = the first 10% of the data set's items in
# md5('42:' || item_id) order; training = strat75/train without any row of
# a cold item; test = strat75/test rows on cold items, of users with
# training rows.  NDCG@10 ranking among the cold items only (recommend with
# candidates => the cold items) and among all items (recsys.evaluate).
# Baselines on the same split: random (an md5 order), content-only kNN
# (score = sum over the user's training items of the tf-idf cosine of
# their words with the cold item's).  Feature groups: the words (features
# => pseudo-users), an LSA-style embedding of the words (32 dims: implicit
# ALS of the item x word tf-idf matrix, items as users, computed in the
# database), a fasttext embedding (Debian's fasttext, skipgram, 32 dims,
# trained on the items' own texts outside the database, the mean of the
# text's word vectors), and all together; item-kNN (cosine, binary) with
# the words, a cold item's list from tf-idf feature cosine.  The ALS
# settings are the warm ones chosen on valid; nothing is chosen on test.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
what=${1:-all}
sets=${2:-both}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}
splits=$shared/data/splits
work=$(mktemp -d /tmp/recsys-cold.XXXXXX)
trap 'rm -rf "$work"; recsys_stop_cluster' EXIT

recsys_build
recsys_start_cluster "shared_buffers = 512MB"
recsys_bench_header
recsys_psql -q -c "CREATE EXTENSION recsys"
source "$(dirname "$0")/item_features.sh"

# load_split: a split file as a table, indexed by user
source "$(dirname "$0")/split_tables.sh"

ndcg_sql() {
	# NDCG@10 of ranked (user_id, item_id, rk) in $1 against test table $2
	cat <<SQL
SELECT round(avg(coalesce(d.dcg, 0) / i.idcg)::numeric, 4)
FROM (SELECT user_id, sum(1 / log(2, g + 1)) AS idcg
	  FROM (SELECT user_id, generate_series(1, least(count(*), 10)) g FROM $2 GROUP BY user_id) s
	  GROUP BY user_id) i
LEFT JOIN (SELECT r.user_id, sum(1 / log(2, r.rk + 1)) AS dcg FROM $1 r
		   JOIN $2 t ON t.user_id = r.user_id AND t.item_id = r.item_id WHERE r.rk <= 10
		   GROUP BY r.user_id) d USING (user_id)
SQL
}

# the embeddings of a data set's items: <v>_emb (item_id, lsa real[], ft real[])
embeddings() {
	local v=$1
	[ "$(recsys_psql -At -c "SELECT to_regclass('public.${v}_emb') IS NULL")" = t ] || return 0
	recsys_psql -q <<SQL
CREATE TABLE ${v}_words AS
SELECT item_id, dense_rank() OVER (ORDER BY w) AS word_id, w
FROM (SELECT DISTINCT item_id, regexp_replace(feature, '^[a-z]+:', '') AS w FROM ${v}_features) s;
CREATE TABLE ${v}_tfidf AS
SELECT item_id, word_id, (ln((SELECT count(DISTINCT item_id) FROM ${v}_words)::float8 / df))::real AS w
FROM ${v}_words JOIN (SELECT word_id, count(*) AS df FROM ${v}_words GROUP BY word_id) d USING (word_id);
SELECT 1 AS trained FROM recsys.train_cf('${v}_tfidf', 32, model => 'lsa', user_col => 'item_id', item_col => 'word_id',
							  weight_col => 'w', alpha => 1, iterations => 15) \gset
CREATE TABLE ${v}_lsa AS SELECT user_id AS item_id, factors AS lsa FROM recsys.user_factors WHERE model = 'lsa';
SELECT recsys.drop_model('lsa') \gset
\copy (SELECT item_id, string_agg(w, ' ' ORDER BY w) FROM ${v}_words GROUP BY item_id ORDER BY item_id) TO '$work/${v}.tsv'
SQL
	cut -f2 "$work/$v.tsv" >"$work/$v.txt"
	fasttext skipgram -input "$work/$v.txt" -output "$work/$v.ft" -dim 32 -epoch 20 -minCount 1 \
		-thread 2 -seed 42 >/dev/null 2>&1
	fasttext print-sentence-vectors "$work/$v.ft.bin" <"$work/$v.txt" | tr ' ' ',' | sed 's/,$//' \
		| paste -d '|' <(cut -f1 "$work/$v.tsv") - | sed 's/|\(.*\)/|{\1}/' >"$work/$v.ft.csv"
	recsys_psql -q <<SQL
CREATE TABLE ${v}_ft (item_id bigint, ft real[]);
\copy ${v}_ft FROM '$work/${v}.ft.csv' WITH (FORMAT csv, DELIMITER '|')
CREATE TABLE ${v}_emb AS SELECT item_id, l.lsa, f.ft FROM ${v}_lsa l FULL JOIN ${v}_ft f USING (item_id);
CREATE VIEW ${v}_emb_lsa AS SELECT item_id, lsa FROM ${v}_emb;
CREATE VIEW ${v}_emb_ft AS SELECT item_id, ft FROM ${v}_emb;
SQL
}

# choose ALS's alpha and regularization on valid, then feature_weight
# among WARM_FW_CHOOSE (the valid grid WARM_FW_GRID may hold more values,
# all printed with their valid figure; warm runs each on test too)
WARM_FW_GRID=${WARM_FW_GRID:-0, 0.05, 0.25, 1, 4, 16}
WARM_FW_CHOOSE=${WARM_FW_CHOOSE:-$WARM_FW_GRID}
als_base='factors => 128, iterations => 12, regularization_exponent => 1'
choose() {
	local t=$1 v=$2
	als_best=$(recsys_psql -qAt <<SQL
SET recsys.threads = 2;
CREATE TEMP TABLE als_tuned AS
SELECT * FROM recsys.tune('als', '${t}_vtrain', '${t}_vtest', '{"alpha": [10, 20], "regularization": [0.005, 0.01, 0.02, 0.05]}',
				 fixed => '{"factors": 128, "iterations": 12, "regularization_exponent": 1}', model => 'tuning');
SELECT recsys.drop_model('tuning') \gset
\copy (SELECT format('valid alpha %s regularization %s: %s', params->>'alpha', params->>'regularization', round(value::numeric, 4)) FROM als_tuned ORDER BY rank) TO '$work/als_valid'
SELECT format('alpha => %s, regularization => %s', params->>'alpha', params->>'regularization')
FROM als_tuned WHERE rank = 1;
SQL
)
	cat "$work/als_valid"
	fw_best=$(recsys_psql -qAt <<SQL
SET recsys.threads = 2;
CREATE TEMP TABLE fw_tuned AS
SELECT * FROM recsys.tune('als', '${t}_vtrain', '${t}_vtest', '{"feature_weight": [$WARM_FW_GRID]}',
				 fixed => jsonb_build_object('factors', 128, 'iterations', 12, 'regularization_exponent', 1,
											 'features', 'public.${v}_features')
						  || (SELECT jsonb_object_agg(k, v::float8) FROM
							  regexp_matches('$als_best', '(\w+) => ([0-9.]+)', 'g') m(a), LATERAL (SELECT a[1] k, a[2] v) x),
				 model => 'tuning');
SELECT recsys.drop_model('tuning') \gset
\copy (SELECT params->>'feature_weight', round(value::numeric, 4) FROM fw_tuned ORDER BY (params->>'feature_weight')::float8) TO '$work/fw_valid'
SELECT params->>'feature_weight' FROM fw_tuned
WHERE (params->>'feature_weight')::float8 IN ($WARM_FW_CHOOSE) ORDER BY value DESC LIMIT 1;
SQL
)
	echo "chosen on valid: $als_best; feature_weight => $fw_best (among $WARM_FW_CHOOSE)"
}

evaluate_line() {
	local label=$1 train=$2 test=$3 call=$4
	recsys_psql -At <<SQL
SET recsys.threads = 2;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT 1 AS trained FROM recsys.train_cf('$train', model => 'm', $call) \gset
SELECT format('%-44s %7s %7s', '$label',
			  round(max(value) FILTER (WHERE metric = 'ndcg@10')::numeric, 4),
			  round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 1))
FROM recsys.evaluate('m', '$test');
SELECT recsys.drop_model('m') \gset
SQL
}

warm() {
	local data=$1 t=$2 v=$3 protocol
	for protocol in strat75 last5; do
		[ "$protocol" = last5 ] && [ "$what" != all ] && continue
		echo
		echo "### warm: $data $protocol (test NDCG@10, fit+eval seconds)"
		if [ "$protocol" = last5 ]; then
			for s in train test vtrain vtest; do recsys_psql -q -c "DROP TABLE IF EXISTS ${t}_$s"; done
			load_split "${t}_train" "$splits/$data/last5/train.csv.gz"
			load_split "${t}_test" "$splits/$data/last5/test.csv.gz"
			load_split "${t}_vtrain" "$splits/$data/last5/valid/train.csv.gz"
			load_split "${t}_vtest" "$splits/$data/last5/valid/test.csv.gz"
			choose "$t" "$v"
		fi
		evaluate_line "ALS frequency-scaled" "${t}_train" "${t}_test" "$als_base, $als_best"
		if [ "$protocol" = strat75 ]; then
			# every feature_weight of the valid grid on test too (valid chose above)
			echo "feature_weight, valid NDCG@10 | test line"
			local fw val
			while IFS=$'\t' read -r fw val; do
				printf 'valid %-8s %s  ' "$fw" "$val"
				evaluate_line "ALS + features (words) fw=$fw" "${t}_train" "${t}_test" \
					"$als_base, $als_best, features => '${v}_features', feature_weight => $fw"
			done <"$work/fw_valid"
			continue
		fi
		evaluate_line "ALS + features (words) fw=$fw_best" "${t}_train" "${t}_test" \
			"$als_base, $als_best, features => '${v}_features', feature_weight => $fw_best"
	done
}

# warmjoint: feature_weight and regularization chosen together on valid
# (alpha the one chosen without features).  With features the item rows
# hold a column per feature, and the frequency scaling counts every
# column (reg x total confidence, whose floor is the column count), so an
# item's regularization grows with the number of features even at a tiny
# feature_weight: the ALS's regularization is re-chosen with them.  Each
# feature_weight's best regularization on valid runs on test.
# WARM_NORM=1: each feature's value is mean n / n_i, n_i the item's
# feature count (an item's features weigh alike whatever their number).
# WARM_NORM=idf: each feature's value is its idf, ln(items / items with
# it), over its mean (a word most products have says less; 0.11.0).
# (0.11.0: with the features' whole loss weighted, the regularization
# grid of the ALS without features applies: WARM_JOINT_REG="0.01, 0.02,
# 0.05" and WARM_FW_GRID="0, 1, 3, 10, 30" were the run's.)
# WARM_PROTOCOL=last5 (0.11.0): warmjoint on the last5 splits (chosen on
# last5/valid) instead of strat75; the other modes need strat75.
WARM_JOINT_REG=${WARM_JOINT_REG:-0.0005, 0.001, 0.002, 0.005, 0.01, 0.02}
split_protocol=${WARM_PROTOCOL:-strat75}
if [ "$split_protocol" != strat75 ] && [ "$what" != warmjoint ]; then
	echo "WARM_PROTOCOL=$split_protocol goes with warmjoint only" >&2
	exit 1
fi
warm_joint() {
	local data=$1 t=$2 v=$3 fw reg val f=${3}_features
	if [ "${WARM_NORM:-0}" = 1 ]; then
		f=${v}_features_norm
		recsys_psql -q <<SQL
CREATE OR REPLACE VIEW $f AS
SELECT item_id, feature, (avg(n) OVER () / n)::real AS value
FROM (SELECT item_id, feature, count(*) OVER (PARTITION BY item_id) AS n FROM ${v}_features) s;
SQL
	elif [ "${WARM_NORM:-0}" = idf ]; then
		f=${v}_features_idf
		recsys_psql -q <<SQL
CREATE OR REPLACE VIEW $f AS
SELECT item_id, feature, (idf / avg(idf) OVER ())::real AS value
FROM (SELECT item_id, feature,
			 ln((SELECT count(DISTINCT item_id) FROM ${v}_features)::float8 / count(*) OVER (PARTITION BY feature)) AS idf
	  FROM (SELECT DISTINCT item_id, feature FROM ${v}_features) d) s
WHERE idf > 0;
SQL
	fi
	echo
	echo "### warmjoint: $data $split_protocol (valid NDCG@10 per feature_weight x regularization; $als_best without features; features $f)"
	recsys_psql -qAt <<SQL
SET recsys.threads = 2;
CREATE TEMP TABLE joint_tuned AS
SELECT * FROM recsys.tune('als', '${t}_vtrain', '${t}_vtest',
						  '{"feature_weight": [$WARM_FW_GRID], "regularization": [$WARM_JOINT_REG]}',
				 fixed => jsonb_build_object('factors', 128, 'iterations', 12, 'regularization_exponent', 1,
											 'features', 'public.$f',
											 'alpha', (regexp_match('$als_best', 'alpha => ([0-9.]+)'))[1]::float8),
				 model => 'tuning');
SELECT recsys.drop_model('tuning') \gset
SELECT format('valid fw %-7s reg %-7s %s', params->>'feature_weight', params->>'regularization', round(value::numeric, 4))
FROM joint_tuned ORDER BY (params->>'feature_weight')::float8, (params->>'regularization')::float8;
\copy (SELECT DISTINCT ON (f) f, params->>'regularization', round(value::numeric, 4) FROM joint_tuned, LATERAL (SELECT (params->>'feature_weight')::float8 f) x ORDER BY f, value DESC) TO '$work/joint_best'
SQL
	echo "per feature_weight, its best regularization on valid | test line"
	while IFS=$'\t' read -r fw reg val; do
		printf 'valid %-7s reg %-7s %s  ' "$fw" "$reg" "$val"
		evaluate_line "ALS + features fw=$fw reg=$reg" "${t}_train" "${t}_test" \
			"$als_base, $(sed 's/regularization => [0-9.]*/regularization => '"$reg"'/' <<<"$als_best"), features => '$f', feature_weight => $fw"
	done <"$work/joint_best"
}

# warmdense (0.11.0, session 12): the dense groups (the LSA and fasttext
# embeddings of embeddings() above) on WARM items.  train_cf's embeddings
# argument maps embeddings to item vectors after the fit (ridge map,
# item_cold.c) and so gives cold items vectors but leaves every warm item's
# vector as it is: the third valid line checks that (the words with the
# map; its per-user NDCG differs from the words line's only for users
# whose lists take a cold item: an item with features and no training
# row; session 12: 2 of 4080 retail, 16 of 610 ml valid users).  The
# words' feature_weight is WARM_WORDS_FW (3: chosen on valid in session
# 11, both sets).  WARM_ALS ("alpha => a, regularization => r", settings
# chosen on valid before) skips choose() in every mode that calls it.
# To let a dense group inform warm items, this
# mode turns it into item features the weighted collective factorisation
# takes: for each item its WARM_DENSE_TOP (8) dimensions of largest |e| in
# the L2-normalised embedding, as feature '<group>:<dim><sign>' with value
# |e_dim| / (the group's mean of those), so items close in the embedding
# share pseudo-users.  Grid on valid: feature_weight in WARM_DENSE_FW (1,
# 3, 10) for each group alone and with the words (one relation, one
# weight; the words' value 1), alpha and regularization the ALS's chosen
# without features (WARM_ALS, else choose()'s), the regularization
# WARM_DENSE_REG (0.02: the best at every feature_weight in session 11).
# WARM_DENSE_GROUPS (lsa ft words_lsa words_ft words_lsa_ft) lists the
# lines; words_norm and words_idf are the words with WARM_NORM=1's and
# WARM_NORM=idf's values (warmjoint), for the same paired comparison.
# The best valid setting of each line runs on test; the test lines print
# the paired per-user NDCG@10 difference and z against plain ALS and
# against ALS + words (recsys._evaluate_users).  Test figures are
# reported, never used to choose.
warm_dense() {
	local data=$1 t=$2 v=$3 g fw best line
	local reg=${WARM_DENSE_REG:-0.02} top=${WARM_DENSE_TOP:-8}
	local groups=${WARM_DENSE_GROUPS:-lsa ft words_lsa words_ft words_lsa_ft}
	local base="$als_base, $(sed 's/regularization => [0-9.]*/regularization => '"$reg"'/' <<<"$als_best")"
	embeddings "$v"
	recsys_psql -q <<SQL
CREATE TABLE ${v}_dense_feat AS
SELECT item_id, grp || ':' || d || CASE WHEN e >= 0 THEN '+' ELSE '-' END AS feature,
	   (abs(e) / avg(abs(e)) OVER (PARTITION BY grp))::real AS value
FROM (SELECT item_id, grp, d, e, row_number() OVER (PARTITION BY item_id, grp ORDER BY abs(e) DESC, d) AS r
	  FROM (SELECT item_id, grp, d, x / nullif(sqrt(sum(x * x) OVER (PARTITION BY item_id, grp)), 0) AS e
			FROM (SELECT item_id, 'lsa' AS grp, o AS d, x::float8 AS x FROM ${v}_emb, unnest(lsa) WITH ORDINALITY u(x, o) WHERE lsa IS NOT NULL
				  UNION ALL
				  SELECT item_id, 'ft', o, x::float8 FROM ${v}_emb, unnest(ft) WITH ORDINALITY u(x, o) WHERE ft IS NOT NULL) s) n
	  WHERE e IS NOT NULL) r
WHERE r <= $top;
CREATE VIEW ${v}_fs_words AS SELECT item_id, feature::text, 1::real AS value FROM ${v}_features;
CREATE VIEW ${v}_fs_lsa AS SELECT item_id, feature, value FROM ${v}_dense_feat WHERE feature LIKE 'lsa:%';
CREATE VIEW ${v}_fs_ft AS SELECT item_id, feature, value FROM ${v}_dense_feat WHERE feature LIKE 'ft:%';
CREATE VIEW ${v}_fs_words_lsa AS SELECT * FROM ${v}_fs_words UNION ALL SELECT * FROM ${v}_fs_lsa;
CREATE VIEW ${v}_fs_words_ft AS SELECT * FROM ${v}_fs_words UNION ALL SELECT * FROM ${v}_fs_ft;
CREATE VIEW ${v}_fs_words_lsa_ft AS SELECT * FROM ${v}_fs_words UNION ALL SELECT * FROM ${v}_dense_feat;
CREATE VIEW ${v}_fs_words_norm AS
SELECT item_id, feature, (avg(n) OVER () / n)::real AS value
FROM (SELECT item_id, feature, count(*) OVER (PARTITION BY item_id) AS n FROM ${v}_fs_words) s;
CREATE VIEW ${v}_fs_words_idf AS
SELECT item_id, feature, (idf / avg(idf) OVER ())::real AS value
FROM (SELECT item_id, feature,
			 ln((SELECT count(DISTINCT item_id) FROM ${v}_fs_words)::float8 / count(*) OVER (PARTITION BY feature)) AS idf
	  FROM (SELECT DISTINCT item_id, feature FROM ${v}_fs_words) d) s
WHERE idf > 0;
CREATE TABLE dense_users (line text, split text, user_id bigint, ndcg float8);
SQL
	echo
	echo "### warmdense: $data strat75 ($base; dense features: top $top dims per item; load $(cut -d' ' -f1-3 /proc/loadavg))"
	# per_user label split train test call: train, store per-user NDCG@10, print the mean
	per_user() {
		recsys_psql -qAt <<SQL
SET recsys.threads = 2;
SELECT 1 AS trained FROM recsys.train_cf('$3', model => 'wd', $5) \gset
INSERT INTO dense_users SELECT '$1', '$2', user_id, ndcg FROM recsys._evaluate_users('wd', '$4');
SELECT recsys.drop_model('wd') \gset
SELECT format('%-5s %-44s %7s  (load %s)', '$2', '$1', round(avg(ndcg)::numeric, 4), '$(cut -d' ' -f1 /proc/loadavg)')
FROM dense_users WHERE line = '$1' AND split = '$2';
SQL
	}
	local wfw=${WARM_WORDS_FW:-3}
	per_user "ALS" valid "${t}_vtrain" "${t}_vtest" "$base"
	per_user "words fw=$wfw" valid "${t}_vtrain" "${t}_vtest" "$base, features => '${v}_fs_words', feature_weight => $wfw"
	per_user "words fw=$wfw + train_cf embeddings (map)" valid "${t}_vtrain" "${t}_vtest" \
		"$base, features => '${v}_fs_words', feature_weight => $wfw, embeddings => '${v}_emb'"
	recsys_psql -At -c "SELECT format('train_cf''s embeddings map (warm vectors untouched; cold items'' vectors change): NDCG of %s of %s valid users differs', count(*) FILTER (WHERE a.ndcg <> b.ndcg), count(*))
		FROM dense_users a JOIN dense_users b USING (user_id, split) WHERE a.line = 'words fw=$wfw' AND b.line = 'words fw=$wfw + train_cf embeddings (map)' AND split = 'valid'"
	for g in $groups; do
		for fw in ${WARM_DENSE_FW:-1 3 10}; do
			per_user "$g fw=$fw" valid "${t}_vtrain" "${t}_vtest" "$base, features => '${v}_fs_$g', feature_weight => $fw"
		done
	done
	# test: plain ALS, the words, each group's best valid weight
	per_user "ALS" test "${t}_train" "${t}_test" "$base"
	per_user "words fw=$wfw" test "${t}_train" "${t}_test" "$base, features => '${v}_fs_words', feature_weight => $wfw"
	for g in $groups; do
		best=$(recsys_psql -At -c "SELECT line FROM dense_users WHERE split = 'valid' AND line LIKE '$g fw=%'
			GROUP BY line ORDER BY avg(ndcg) DESC, line LIMIT 1")
		fw=${best##*fw=}
		per_user "$best" test "${t}_train" "${t}_test" "$base, features => '${v}_fs_$g', feature_weight => $fw"
	done
	echo "paired per-user NDCG@10 differences (mean, z = mean / (sd / sqrt(n)), users)"
	recsys_psql -At <<SQL
SELECT format('%-5s %-28s vs %-14s %8s  z %6s  (%s users)', a.split, a.line, b.line,
	round(avg(a.ndcg - b.ndcg)::numeric, 4),
	round((avg(a.ndcg - b.ndcg) / nullif(stddev_samp(a.ndcg - b.ndcg) / sqrt(count(*)), 0))::numeric, 2), count(*))
FROM dense_users a JOIN dense_users b USING (split, user_id)
WHERE b.line IN ('ALS', 'words fw=$wfw') AND a.line <> b.line AND a.line <> 'ALS'
  AND (a.split = 'test' OR a.line NOT LIKE '%embeddings (map)')
GROUP BY a.split, a.line, b.line ORDER BY a.split DESC, a.line, b.line;
SQL
}

# the cold items of data set table prefix $1: <t>_cold
cold_items_table() {
	local t=$1
	recsys_psql -q <<SQL
CREATE TABLE IF NOT EXISTS ${t}_cold AS
SELECT item_id FROM (SELECT DISTINCT item_id FROM (SELECT item_id FROM ${t}_train UNION SELECT item_id FROM ${t}_test) a) s
ORDER BY md5('42:' || item_id)
LIMIT (SELECT ceil(count(DISTINCT item_id) / 10.0) FROM (SELECT item_id FROM ${t}_train UNION SELECT item_id FROM ${t}_test) b);
SQL
}

# combine's tables <t>_<s>_*: ctrain, ctest, users, content, gcontent,
# pred, lists and all (one row per user and cold item, every signal)
combine_split() {
	local t=$1 s=$2 tr=$3 te=$4 v=$5 lists=$6
	recsys_psql -q <<SQL
SET recsys.threads = 2;
CREATE TABLE ${t}_${s}_ctrain AS SELECT * FROM ${t}_$tr WHERE item_id NOT IN (SELECT item_id FROM ${t}_cold);
CREATE INDEX ON ${t}_${s}_ctrain (user_id);
CREATE TABLE ${t}_${s}_ctest AS SELECT * FROM ${t}_$te
WHERE item_id IN (SELECT item_id FROM ${t}_cold) AND user_id IN (SELECT user_id FROM ${t}_${s}_ctrain);
ANALYZE ${t}_${s}_ctrain; ANALYZE ${t}_${s}_ctest;
CREATE TABLE ${t}_${s}_users AS
SELECT user_id, count(DISTINCT item_id)::float8 AS n FROM ${t}_${s}_ctrain
WHERE user_id IN (SELECT user_id FROM ${t}_${s}_ctest) GROUP BY 1;
-- per group and in all: the users' summed unit vectors, dotted with the cold items'
CREATE TABLE ${t}_${s}_gcontent AS
WITH prof AS (SELECT t.user_id, n.g, n.feature, sum(n.w) w FROM ${t}_${s}_ctrain t JOIN ${t}_gunit n USING (item_id)
			  WHERE t.user_id IN (SELECT user_id FROM ${t}_${s}_users) GROUP BY 1, 2, 3)
SELECT p.user_id, n.item_id, p.g, sum(p.w * n.w) s FROM prof p
JOIN ${t}_gunit n ON n.feature = p.feature AND n.item_id IN (SELECT item_id FROM ${t}_cold) GROUP BY 1, 2, 3;
CREATE TABLE ${t}_${s}_content AS
WITH prof AS (SELECT t.user_id, n.feature, sum(n.w) w FROM ${t}_${s}_ctrain t JOIN ${t}_unit n USING (item_id)
			  WHERE t.user_id IN (SELECT user_id FROM ${t}_${s}_users) GROUP BY 1, 2)
SELECT p.user_id, n.item_id, sum(p.w * n.w) s FROM prof p
JOIN ${t}_unit n ON n.feature = p.feature AND n.item_id IN (SELECT item_id FROM ${t}_cold) GROUP BY 1, 2;
-- the feature popularity prior p
CREATE TABLE ${t}_${s}_pred AS
WITH pop AS (SELECT item_id, ln(1 + count(DISTINCT user_id)) lp FROM ${t}_${s}_ctrain GROUP BY 1),
g AS (SELECT avg(lp) m FROM pop),
fp AS (SELECT u.feature, sum(p.lp) sl, count(*) n FROM ${t}_unit u JOIN pop p USING (item_id) GROUP BY 1),
ip AS (SELECT c.item_id, avg((coalesce(fp.sl, 0) + 5 * g.m) / (coalesce(fp.n, 0) + 5)) - g.m AS pred
	   FROM ${t}_cold c JOIN ${t}_unit u USING (item_id) LEFT JOIN fp USING (feature), g GROUP BY c.item_id, g.m)
SELECT c.item_id, coalesce(ip.pred, 0) pred FROM ${t}_cold c LEFT JOIN ip USING (item_id);
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT 1 AS trained FROM recsys.train_item_knn('${t}_${s}_ctrain', model => 'lists', features => '$v', $lists) \gset
CREATE TABLE ${t}_${s}_lists AS
SELECT u.user_id, x.item_id, x.score AS s FROM ${t}_${s}_users u,
	 LATERAL recsys.recommend(u.user_id, (SELECT count(*)::int FROM ${t}_cold), 'lists',
							  candidates => (SELECT array_agg(item_id) FROM ${t}_cold)) x;
SELECT recsys.drop_model('lists') \gset
SELECT round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 1) AS lists_seconds \gset
CREATE TABLE ${t}_${s}_seconds AS SELECT :'lists_seconds'::numeric AS lists;
-- one row per (user, cold item): every signal, per user history size
CREATE TABLE ${t}_${s}_all AS
SELECT u.user_id, c.item_id, p.pred, coalesce(x.s, 0) AS content, greatest(coalesce(y.s, 0), 0) AS lists,
	   coalesce(gc.groups, '{}') AS groups
FROM ${t}_${s}_users u CROSS JOIN ${t}_cold c JOIN ${t}_${s}_pred p USING (item_id)
LEFT JOIN (SELECT gc.user_id, gc.item_id, jsonb_object_agg(gc.g, gc.s / u2.n) AS groups
		   FROM ${t}_${s}_gcontent gc JOIN ${t}_${s}_users u2 USING (user_id) GROUP BY 1, 2) gc
	   ON gc.user_id = u.user_id AND gc.item_id = c.item_id
LEFT JOIN ${t}_${s}_content x ON x.user_id = u.user_id AND x.item_id = c.item_id
LEFT JOIN ${t}_${s}_lists y ON y.user_id = u.user_id AND y.item_id = c.item_id;
SQL
}

# combine's SQL functions: ndcg(scores, test) of a (user_id, item_id, s)
# table, variant(t, s, expr) of a score expression over <t>_<s>_all
combine_functions() {
	recsys_psql -q <<SQL
CREATE FUNCTION ndcg(scores text, test text) RETURNS numeric LANGUAGE plpgsql AS \$f\$
DECLARE r numeric;
BEGIN
	IF to_regclass('pg_temp.ranked') IS NOT NULL THEN
		DROP TABLE pg_temp.ranked;
	END IF;
	EXECUTE format('CREATE TEMP TABLE ranked AS SELECT user_id, item_id, '
				   'row_number() OVER (PARTITION BY user_id ORDER BY s DESC, item_id) AS rk FROM %s', scores);
	EXECUTE format(\$q\$$(ndcg_sql pg_temp.ranked '%1$s')\$q\$, test) INTO r;
	RETURN r;
END \$f\$;
CREATE FUNCTION variant(t text, s text, expr text) RETURNS numeric LANGUAGE plpgsql AS \$f\$
BEGIN
	IF to_regclass('pg_temp.sc') IS NOT NULL THEN
		DROP TABLE pg_temp.sc;
	END IF;
	EXECUTE format('CREATE TEMP TABLE sc AS SELECT user_id, item_id, %s AS s FROM %I', expr, t || '_' || s || '_all');
	RETURN ndcg('sc', t || '_' || s || '_ctest');
END \$f\$;
SQL
}

# the variants: label|SQL score expression (columns pred, content, lists, groups)
combine_variants() {
	local t=$1 beta gamma w
	echo "content (baseline)|content"
	echo "lists (learned, s5)|lists"
	for beta in 0.5 1 2 4; do
		echo "prior beta=$beta|ln(content + 1e-9) + $beta * pred"
	done
	for beta in 0 1 2; do
		for gamma in 0.25 0.5 1 2; do
			echo "loglinear beta=$beta gamma=$gamma|ln(content + 0.01) + $beta * pred + $gamma * ln(lists + 0.01)"
		done
	done
	[ "$t" = ml ] || return 0
	for w in "1 1 1" "1 0.5 0.3" "1 1 0" "1 0.5 0"; do
		set -- $w
		for beta in 0 1 2 2.5; do
			echo "groups genre/decade/title=$1/$2/$3 beta=$beta|ln($1 * coalesce((groups->>'genre')::float8, 0) + $2 * coalesce((groups->>'decade')::float8, 0) + $3 * coalesce((groups->>'title')::float8, 0) + 1e-9) + $beta * pred"
		done
	done
}

combine() {
	local data=$1 t=$2 f=$3_features lists results start value label expr family
	cold_items_table "$t"
	recsys_psql -q <<SQL
-- unit tf-idf vectors: over all features (the baseline's, as cold_items.sh) and per group
CREATE TABLE ${t}_unit AS
WITH f AS (SELECT DISTINCT item_id, regexp_replace(feature, '^[a-z]+:', '') AS feature FROM $f),
df AS (SELECT feature, ln((SELECT count(DISTINCT item_id) FROM f)::float8 / count(*)) idf FROM f GROUP BY 1)
SELECT item_id, feature, idf / sqrt(sum(idf * idf) OVER (PARTITION BY item_id)) w FROM f JOIN df USING (feature) WHERE idf > 0;
CREATE TABLE ${t}_gunit AS
WITH f AS (SELECT DISTINCT item_id, CASE WHEN feature ~ '^[a-z]+:' THEN split_part(feature, ':', 1) ELSE 'word' END g, feature FROM $f),
df AS (SELECT feature, ln((SELECT count(DISTINCT item_id) FROM f)::float8 / count(*)) idf FROM f GROUP BY 1)
SELECT item_id, g, feature, idf / sqrt(sum(idf * idf) OVER (PARTITION BY item_id, g)) w FROM f JOIN df USING (feature) WHERE idf > 0;
SQL
	lists=$(cold_map_chosen "$t")
	combine_split "$t" v vtrain vtest "$f" "$lists"
	combine_split "$t" t train test "$f" "$lists"
	echo
	echo "### $data strat75, cold items: NDCG@10 among cold items (valid, then test for the chosen)"
	echo "learned lists: $lists; train + recommend seconds valid $(recsys_psql -At -c "SELECT lists FROM ${t}_v_seconds"), test $(recsys_psql -At -c "SELECT lists FROM ${t}_t_seconds")"
	printf '%-52s %7s %7s\n' variant valid time
	results=$(mktemp)
	while IFS='|' read -r label expr; do
		start=$(date +%s%N)
		value=$(recsys_psql -At -c "SELECT variant('$t', 'v', \$e\$$expr\$e\$)")
		printf '%-52s %7s %7s\n' "$label" "$value" "$((($(date +%s%N) - start) / 1000000)) ms"
		echo "$value|$label|$expr" >>"$results"
	done < <(combine_variants "$t")
	echo "chosen on valid, on test (baseline first):"
	{
		grep '|content (baseline)|' "$results"
		grep '|lists (learned' "$results"
		for family in prior loglinear groups; do
			grep "|$family " "$results" | sort -t'|' -k1,1 -r | head -1 || true
		done
	} | while IFS='|' read -r value label expr; do
		printf '%-52s valid %7s test %7s\n' "$label" "$value" \
			"$(recsys_psql -At -c "SELECT variant('$t', 't', \$e\$$expr\$e\$)")"
	done
	rm -f "$results"
}

# hybrid: cold_lab's grid on valid, the chosen line and mix on test
hybrid_grid() {
	cat <<EOF
loss=warp epochs=10
loss=warp
loss=bpr
loss=bpr k=8
loss=bpr norm=sqrt
loss=bpr norm=tfidf
loss=bpr norm=tfidf lr=0.2
loss=bpr id=1
user=asym
user=asym norm=tfidf lr=0.2
EOF
}

# the NDCG values a cold_lab run printed: "label value" per line
hybrid_values() {
	awk '/^hybrid / { for (i = 1; i <= NF; i++) if ($i ~ /^\([0-9.]+x\)$/) print "alone", $(i - 1) }
		 /^mix / { for (i = 1; i <= NF; i++) if ($i ~ /^\([0-9.]+x\)$/) print "mix=" $4, $(i - 1) }'
}

# cold_lab built, and its inputs: the data set's features and cold items
lab_inputs() {
	local t=$1 v=$2
	lab=$work/cold_lab
	[ -x "$lab" ] || cc -O2 -I"$RECSYS_ROOT/src/kernel" "$RECSYS_ROOT/test/bench/cold_lab.c" -lm -o "$lab"
	cold_items_table "$t"
	recsys_psql -q -c "\\copy (SELECT DISTINCT item_id, feature FROM ${v}_features ORDER BY 1, 2) TO '$work/$t.features.csv' WITH (FORMAT csv)"
	recsys_psql -q -c "\\copy ${t}_cold TO '$work/$t.cold.csv'"
}

hybrid() {
	local data=$1 t=$2 v=$3 lab line out best= bestv=0 label value start
	lab_inputs "$t" "$v"
	echo
	echo "### $data strat75, cold items, LightFM-style hybrid (cold_lab): NDCG@10 among cold items on valid"
	while read -r line; do
		start=$(date +%s%N)
		out=$("$lab" "$splits/$data/strat75/valid" "$work/$t.features.csv" "$work/$t.cold.csv" $line \
			  mix="${HYBRID_MIX:-0.5,1,2,4}")
		[ -n "$best" ] || echo "$out" | grep '^content'
		printf '%-40s %s  (%s ms)\n' "$line" "$(echo "$out" | hybrid_values | tr '\n' ' ')" \
			"$((($(date +%s%N) - start) / 1000000))"
		while read -r label value; do
			if awk -v a="$value" -v b="$bestv" 'BEGIN { exit !(a > b) }'; then
				bestv=$value
				best="$line $label"
			fi
		done < <(echo "$out" | hybrid_values)
	done < <(echo "${HYBRID_GRID:-$(hybrid_grid)}")
	echo "chosen on valid ($bestv): $best; on test:"
	"$lab" "$splits/$data/strat75" "$work/$t.features.csv" "$work/$t.cold.csv" ${best% *} \
		$([ "${best##* }" = alone ] || echo "${best##* }") | grep -v '^split'
}

# ridge: the scorers' settings (cold_lab keys), one line each
ridge_grid() {
	local w p
	for w in sqrtidf binary; do
		for p in 3:3 10:10 30:30 30:3; do
			echo "ridge_weights=$w ridge_lambda=${p%:*} cb2cf_lambda=${p#*:}"
		done
	done
}

# a pseudo-cold split of training table $2 into directory $3: its rows
# without the cold items as train.csv.gz, the rows of 10% of its items (in
# md5('SALT:' || item_id) order, salt $4, default 7) as test.csv.gz, those
# items as cold.csv
pseudo_split() {
	local t=$1 tr=$2 dir=$3 salt=${4:-7}
	mkdir -p "$dir"
	recsys_psql -q <<SQL
CREATE TABLE ${tr}_pwarm AS SELECT * FROM $tr WHERE item_id NOT IN (SELECT item_id FROM ${t}_cold);
CREATE TABLE ${tr}_pcold AS
SELECT item_id FROM (SELECT DISTINCT item_id FROM ${tr}_pwarm) s ORDER BY md5('$salt:' || item_id)
LIMIT (SELECT ceil(count(DISTINCT item_id) / 10.0) FROM ${tr}_pwarm);
\copy (SELECT * FROM ${tr}_pwarm) TO PROGRAM 'gzip > $dir/train.csv.gz' WITH (FORMAT csv, HEADER true)
\copy (SELECT * FROM ${tr}_pwarm WHERE item_id IN (SELECT item_id FROM ${tr}_pcold)) TO PROGRAM 'gzip > $dir/test.csv.gz' WITH (FORMAT csv, HEADER true)
\copy ${tr}_pcold TO '$dir/cold.csv'
DROP TABLE ${tr}_pwarm, ${tr}_pcold;
SQL
}

# cold_lab on split directory $1 with the mix fitted on pseudo-cold
# directory $2; the remaining arguments are the scorers' settings
ridge_run() {
	local dir=$1 pseudo=$2 coef
	shift 2
	coef=$("$lab" "$pseudo" "$work/$t.features.csv" "$pseudo/cold.csv" scorers=1 fit=1 "$@" 2>/dev/null | grep '^coef=')
	"$lab" "$dir" "$work/$t.features.csv" "$work/$t.cold.csv" scorers=1 "$coef" "$@" 2>/dev/null
}

ridge() {
	local data=$1 t=$2 v=$3 lab line out best= bestv=0 value start
	lab_inputs "$t" "$v"
	pseudo_split "$t" "${t}_vtrain" "$work/$t.pseudo_valid"
	pseudo_split "$t" "${t}_train" "$work/$t.pseudo_test"
	echo
	echo "### $data strat75, cold items, ridge maps and a mix fitted on pseudo-cold items (cold_lab): NDCG@10 among cold items on valid"
	while read -r line; do
		start=$(date +%s%N)
		out=$(ridge_run "$splits/$data/strat75/valid" "$work/$t.pseudo_valid" $line)
		[ -n "$best" ] || echo "$out" | grep '^content'
		value=$(echo "$out" | awk '/^mix / { print $(NF - 1) }')
		printf '%-55s %s | mix %s %s  (%s ms)\n' "$line" \
			"$(echo "$out" | awk '/ alone / { print $1 "=" $(NF - 1) }' | tr '\n' ' ')" "$value" \
			"$(echo "$out" | grep '^coef=')" "$((($(date +%s%N) - start) / 1000000))"
		if awk -v a="$value" -v b="$bestv" 'BEGIN { exit !(a > b) }'; then
			bestv=$value
			best=$line
		fi
	done < <(echo "${RIDGE_GRID:-$(ridge_grid)}")
	echo "chosen on valid ($bestv): $best; on test (mix fitted on strat75/train's pseudo-cold items):"
	ridge_run "$splits/$data/strat75" "$work/$t.pseudo_test" $best | grep -v '^split'
}

# pseudo (session 9): every setting chosen on pseudo-cold items, several
# salts, instead of on strat75/valid (455 MovieLens users: too noisy).
# Per line of PSEUDO_GRID (cold_lab keys; ridge's grid and lambda 1, added
# after retail's pseudo-cold figures fell with lambda) and per salt in PSEUDO_SALTS:
# the mix (five terms: cubed cosines, prior, ALS ridge, CB2CF, learned
# lists a'S) fitted on the pseudo-cold split of strat75/valid/train
# (pseudo_split with that salt); the line's score is its mean ratio to the
# baseline over the salts, its coefficients the salts' mean.  Printed
# beside each line: valid NDCG with those coefficients (valid's choice, for
# comparison only).  Test at the pseudo-cold choice (coefficients refitted
# the same way on strat75/train's pseudo-cold splits); then test at
# valid's choice and, after both sets, at the one line best on both sets'
# pseudo-cold items (mean ratio), all three labelled.
pseudo_grid() {
	{
		ridge_grid
		echo "ridge_weights=sqrtidf ridge_lambda=1 cb2cf_lambda=1"
		echo "ridge_weights=binary ridge_lambda=1 cb2cf_lambda=1"
	} | sed 's/$/ lists_k=50/'
}

# the mean ratio and mean coefficients of a line over the pseudo-cold
# splits $1<salt>: "ratio coef=c1,...,c5"
pseudo_fit() {
	local prefix=$1 salt
	shift
	for salt in ${PSEUDO_SALTS:-7 11 13 17 19}; do
		"$lab" "$prefix$salt" "$work/$t.features.csv" "$prefix$salt/cold.csv" scorers=1 fit=1 "$@" 2>/dev/null \
			| awk '/^content-only/ { b = $NF } /^mix / { m = $(NF - 1) } /^coef=/ { sub("coef=", ""); c = $0 }
				   END { print m / b, c }'
	done | awk '{ r += $1; n++; k = split($2, c, ","); for (i = 1; i <= k; i++) s[i] += c[i] }
				END { printf "%.4f coef=", r / n; for (i = 1; i <= k; i++) printf "%s%g", (i > 1 ? "," : ""), s[i] / n; print "" }'
}

# NDCG of the mix on split directory $1 with coefficients $2: "mix ratio"
lab_mix() {
	local dir=$1 coef=$2
	shift 2
	"$lab" "$dir" "$work/$t.features.csv" "$work/$t.cold.csv" scorers=1 "$coef" "$@" 2>/dev/null \
		| awk '/^content-only/ { b = $NF } /^mix / { m = $(NF - 1) } END { printf "%.4f %.2fx (baseline %.4f)\n", m, m / b, b }'
}

pseudo() {
	local data=$1 t=$2 v=$3 lab line fit salt start best= bestp=0 bestv=0 bestvl= value
	lab_inputs "$t" "$v"
	for salt in ${PSEUDO_SALTS:-7 11 13 17 19}; do
		pseudo_split "$t" "${t}_vtrain" "$work/$t.pv$salt" "$salt"
		pseudo_split "$t" "${t}_train" "$work/$t.pt$salt" "$salt"
	done
	echo
	echo "### $data strat75, cold items: settings chosen on pseudo-cold items (salts ${PSEUDO_SALTS:-7 11 13 17 19}), cold_lab"
	printf '%-62s %8s %-34s %s\n' line pseudo 'valid (pseudo coefficients)' seconds
	while read -r line; do
		start=$(date +%s%N)
		fit=$(pseudo_fit "$work/$t.pv" $line)
		value=$(lab_mix "$splits/$data/strat75/valid" "${fit#* }" $line)
		printf '%-62s %7sx %-34s %s  %s\n' "$line" "${fit%% *}" "$value" "$((($(date +%s%N) - start) / 1000000000))" "${fit#* }"
		echo "$data|${fit%% *}|$line" >>"$work/pseudo.results"
		if awk -v a="${fit%% *}" -v b="$bestp" 'BEGIN { exit !(a > b) }'; then bestp=${fit%% *}; best=$line; fi
		if awk -v a="${value%% *}" -v b="$bestv" 'BEGIN { exit !(a > b) }'; then bestv=${value%% *}; bestvl=$line; fi
	done < <(echo "${PSEUDO_GRID:-$(pseudo_grid)}")
	fit=$(pseudo_fit "$work/$t.pt" $best)
	echo "test at the pseudo-cold choice ($best; ${fit#* }): $(lab_mix "$splits/$data/strat75" "${fit#* }" $best)"
	fit=$(pseudo_fit "$work/$t.pt" $bestvl)
	echo "test at valid's choice, for comparison ($bestvl): $(lab_mix "$splits/$data/strat75" "${fit#* }" $bestvl)"
}

# after pseudo on both sets: the line with the best mean pseudo-cold ratio
# over the two, on each set's test
pseudo_joint() {
	local line data t fit lab=$work/cold_lab
	line=$(awk -F'|' '{ s[$3] += $2; n[$3]++ } END { for (l in s) if (n[l] == 2) print s[l] / 2 "|" l }' "$work/pseudo.results" \
		| sort -t'|' -k1,1 -gr | head -1)
	[ -n "$line" ] || return 0
	echo
	echo "### one line for both sets (mean pseudo-cold ratio ${line%%|*}): ${line#*|}"
	for data in ml-latest-small online-retail; do
		t=${data//-/_}
		t=${t%_latest_small}
		fit=$(pseudo_fit "$work/$t.pt" ${line#*|})
		echo "$data test: $(lab_mix "$splits/$data/strat75" "${fit#* }" ${line#*|}) ${fit#* }"
	done
}

# coldpseudo: item-kNN's learned lists (cold_map_chosen) with each word
# weighting in COLD_WORD_WEIGHTS, in SQL, on pseudo-cold items of
# strat75/valid/train (pseudo_split's rule, salts PSEUDO_SALTS): NDCG@10
# among the pseudo-cold items, per salt and mean, to choose the weighting
cold_pseudo() {
	local data=$1 t=$2 v=$3 salt w out
	cold_items_table "$t"
	echo
	echo "### $data: learned lists on pseudo-cold items of strat75/valid/train (NDCG@10 among them)"
	for w in ${COLD_WORD_WEIGHTS:-tfidf binary}; do
		out=
		for salt in ${PSEUDO_SALTS:-7 11 13}; do
			out="$out $(recsys_psql -At <<SQL
SET recsys.threads = 2;
CREATE TEMP TABLE pw AS SELECT * FROM ${t}_vtrain WHERE item_id NOT IN (SELECT item_id FROM ${t}_cold);
CREATE TEMP TABLE pc AS SELECT item_id FROM (SELECT DISTINCT item_id FROM pw) s ORDER BY md5('$salt:' || item_id)
LIMIT (SELECT ceil(count(DISTINCT item_id) / 10.0) FROM pw);
CREATE TEMP TABLE ptrain AS SELECT * FROM pw WHERE item_id NOT IN (SELECT item_id FROM pc);
CREATE INDEX ON ptrain (user_id);
CREATE TEMP TABLE ptest AS SELECT * FROM pw WHERE item_id IN (SELECT item_id FROM pc)
AND user_id IN (SELECT user_id FROM ptrain);
ANALYZE ptrain;
SELECT 1 AS trained FROM recsys.train_item_knn('ptrain', model => 'p', features => '${v}_features',
	$(cold_map_chosen "$t"), cold_map_word_weights => '$w') \gset
CREATE TEMP TABLE ranked AS
SELECT u.user_id, x.item_id, row_number() OVER (PARTITION BY u.user_id ORDER BY x.score DESC, x.item_id) AS rk
FROM (SELECT DISTINCT user_id FROM ptest) u,
	 LATERAL recsys.recommend(u.user_id, 10, 'p', candidates => (SELECT array_agg(item_id) FROM pc)) x;
$(ndcg_sql ranked ptest);
SELECT recsys.drop_model('p') \gset
SQL
)"
		done
		echo "$w:$out (mean $(echo $out | awk '{ for (i = 1; i <= NF; i++) s += $i; printf "%.4f", s / NF }'))"
	done
}

# labinputs: cold_lab's inputs kept in $COLD_LAB_DIR/<data>/ for runs by
# hand: features.csv, cold.csv, and per salt in PSEUDO_SALTS pseudo-cold
# splits of strat75/valid/train (pv<salt>/) and strat75/train (pt<salt>/)
lab_export() {
	local data=$1 t=$2 v=$3 dir=${COLD_LAB_DIR:?set COLD_LAB_DIR}/$1 salt
	lab_inputs "$t" "$v"
	mkdir -p "$dir"
	cp "$work/$t.features.csv" "$dir/features.csv"
	cp "$work/$t.cold.csv" "$dir/cold.csv"
	for salt in ${PSEUDO_SALTS:-7 11 13}; do
		pseudo_split "$t" "${t}_vtrain" "$dir/pv$salt" "$salt"
		pseudo_split "$t" "${t}_train" "$dir/pt$salt" "$salt"
	done
	echo "$data: lab inputs in $dir"
}

# cold items, on test (strat75 train/test) or, with $4 = valid, on
# valid (strat75 valid/train, valid/test: the same cold items, those of
# the whole data set, so that settings are chosen without test)
cold() {
	local data=$1 v=$3 split=${4:-test} t=$2 tr=train te=test
	[ "$split" = valid ] && tr=vtrain te=vtest
	embeddings "$v"
	cold_items_table "$t"
	[ "$split" = valid ] && t=${t}_v
	recsys_psql -q <<SQL
CREATE TABLE IF NOT EXISTS ${t}_cold AS SELECT * FROM ${2}_cold;
CREATE TABLE ${t}_ctrain AS SELECT * FROM ${2}_$tr WHERE item_id NOT IN (SELECT item_id FROM ${t}_cold);
CREATE INDEX ON ${t}_ctrain (user_id);
CREATE TABLE ${t}_ctest AS SELECT * FROM ${2}_$te
WHERE item_id IN (SELECT item_id FROM ${t}_cold) AND user_id IN (SELECT user_id FROM ${t}_ctrain);
ANALYZE ${t}_ctrain; ANALYZE ${t}_ctest;
-- random
CREATE TABLE ${t}_r_random AS
SELECT u.user_id, c.item_id, row_number() OVER (PARTITION BY u.user_id ORDER BY md5(u.user_id || ':' || c.item_id)) AS rk
FROM (SELECT DISTINCT user_id FROM ${t}_ctest) u, ${t}_cold c;
-- content-only kNN: tf-idf cosine of the cold item's words with the user's items'
CREATE TABLE ${t}_unit AS
SELECT item_id, word_id, w / sqrt(sum(w * w) OVER (PARTITION BY item_id)) AS w FROM ${v}_tfidf WHERE w > 0;
CREATE TABLE ${t}_profile AS
SELECT t.user_id, n.word_id, sum(n.w) AS w FROM ${t}_ctrain t JOIN ${t}_unit n USING (item_id)
WHERE t.user_id IN (SELECT user_id FROM ${t}_ctest) GROUP BY 1, 2;
CREATE TABLE ${t}_r_knn AS
SELECT user_id, item_id, row_number() OVER (PARTITION BY user_id ORDER BY s DESC, item_id) AS rk
FROM (SELECT p.user_id, n.item_id, sum(p.w * n.w) AS s FROM ${t}_profile p
	  JOIN ${t}_unit n ON n.word_id = p.word_id AND n.item_id IN (SELECT item_id FROM ${t}_cold)
	  GROUP BY 1, 2) s;
SQL
	echo
	echo "### cold items: $data strat75 $split ($(recsys_psql -At -c "SELECT count(*) || ' cold items, ' || (SELECT count(*) FROM ${t}_ctest) || ' test rows, ' || (SELECT count(DISTINCT user_id) FROM ${t}_ctest) || ' users' FROM ${t}_cold"))"
	printf '%-44s %9s %9s %8s\n' model 'NDCG cold' 'NDCG all' 'seconds'
	printf '%-44s %9s %9s\n' "random" "$(recsys_psql -At -c "$(ndcg_sql ${t}_r_random ${t}_ctest)")" -
	printf '%-44s %9s %9s\n' "content-only kNN (tf-idf cosine)" "$(recsys_psql -At -c "$(ndcg_sql ${t}_r_knn ${t}_ctest)")" -
	local label trainer call
	while IFS='|' read -r label trainer call; do
		recsys_psql -At <<SQL
SET recsys.threads = 2;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT 1 AS trained FROM recsys.$trainer('${t}_ctrain', model => 'm', $call) \gset
SELECT extract(epoch FROM clock_timestamp()) AS t1 \gset
CREATE TEMP TABLE ranked AS
SELECT u.user_id, x.item_id, row_number() OVER (PARTITION BY u.user_id ORDER BY x.score DESC, x.item_id) AS rk
FROM (SELECT DISTINCT user_id FROM ${t}_ctest) u,
	 LATERAL recsys.recommend(u.user_id, 10, 'm', candidates => (SELECT array_agg(item_id) FROM ${t}_cold)) x;
SELECT extract(epoch FROM clock_timestamp()) AS t2 \gset
SELECT ($(ndcg_sql ranked ${t}_ctest)) AS cold \gset
SELECT format('%-44s %9s %9s %8s', '$label', :'cold',
			  round(max(value) FILTER (WHERE metric = 'ndcg@10')::numeric, 4),
			  round((extract(epoch FROM clock_timestamp()) - :t0)::numeric, 1))
FROM recsys.evaluate('m', '${t}_ctest');
SELECT format('    (training %s s, recommend %s ms a user%s)', round((:t1 - :t0)::numeric, 1),
			  round(((:t2 - :t1) * 1000 / (SELECT count(DISTINCT user_id) FROM ${t}_ctest))::numeric, 2),
			  CASE WHEN algorithm = 'cold_ranker' THEN format('; coefficients %s, regularization %s (%s), pseudo-cold NDCG@10 %s',
			  params->'coefficients', params->'regularization', params->>'regularization_from',
			  round((stats->>'pseudo_cold_ndcg_mean')::numeric, 4)) ELSE '' END)
FROM recsys.models WHERE name = 'm';
SELECT recsys.drop_model('m') \gset
SQL
	done < <(if [ "$split" = valid ]; then cold_valid_lines "$v"; elif [ "$what" = coldranker ]; then
				 cold_ranker_lines "$v"; elif [ "$what" = coldknn ]; then
				 cold_test_lines "$v" | grep "^item-kNN${COLD_LEARNED_ONLY:+.*learned}"; else cold_test_lines "$v"; fi)
}

# the variants compared on valid: item-kNN's cold lists, tf-idf or learned
# from the warm lists (cold_map_regularization, cold_map_self_weight)
cold_valid_lines() {
	local v=$1 k lambda self pop
	for k in ${COLD_K:-50 100}; do
		[ -n "${COLD_NO_TFIDF:-}" ] || echo "item-kNN K=$k + words (tf-idf lists)|train_item_knn|neighbors => $k, features => '${v}_features'"
		for lambda in ${COLD_LAMBDAS:-0.1 1 10}; do
			for self in ${COLD_SELF:-0 1}; do
				for pop in ${COLD_POP:-0}; do
					for content in ${COLD_CONTENT:-0}; do
						echo "item-kNN K=$k map l=$lambda self=$self content=$content pop=$pop|train_item_knn|neighbors => $k, features => '${v}_features', cold_map_regularization => $lambda, cold_map_self_weight => $self, cold_map_content_weight => $content, cold_map_popularity => $pop"
					done
				done
			done
		done
	done
}

# the learned lists' settings chosen on valid (coldvalid), per data set
cold_map_chosen() {
	case $1 in
	online_retail) echo "neighbors => 200, cold_map_regularization => 1, cold_map_self_weight => 3" ;;
	*) echo "neighbors => 100, cold_map_regularization => 10, cold_map_content_weight => 3, cold_map_popularity => 2" ;;
	esac
}

# the cold re-ranker: its defaults (the mix fitted by the trainer)
cold_ranker_lines() {
	local v=$1
	echo "cold re-ranker (mix fitted on pseudo-cold)|train_cold_ranker|features => '${v}_features'"
	[ -z "${COLD_RANKER_LINES:-}" ] || echo "$COLD_RANKER_LINES" | sed "s/{v}/$v/g"
}

cold_test_lines() {
	local als_best=${als_best:-} fw_best=${fw_best:-}
	local v=$1
	cat <<EOF
ALS, no features|train_cf|$als_base, $als_best
ALS + words|train_cf|$als_base, $als_best, features => '${v}_features', feature_weight => $fw_best
ALS + LSA embedding|train_cf|$als_base, $als_best, embeddings => '${v}_emb_lsa'
ALS + fasttext embedding|train_cf|$als_base, $als_best, embeddings => '${v}_emb_ft'
ALS + LSA + fasttext|train_cf|$als_base, $als_best, embeddings => '${v}_emb'
ALS + words + LSA + fasttext|train_cf|$als_base, $als_best, features => '${v}_features', feature_weight => $fw_best, embeddings => '${v}_emb'
item-kNN K=50 + words|train_item_knn|neighbors => 50, features => '${v}_features'
item-kNN K=100 + words|train_item_knn|neighbors => 100, features => '${v}_features'
item-kNN + words, learned lists (chosen on valid)|train_item_knn|features => '${v}_features', $(cold_map_chosen "$v")
item-kNN + words, learned lists, binary words|train_item_knn|features => '${v}_features', $(cold_map_chosen "$v"), cold_map_word_weights => 'binary'
EOF
}

for data in ml-latest-small online-retail; do
	[ "$sets" = both ] || [ "$sets" = "$data" ] || continue
	t=${data//-/_}
	t=${t%_latest_small}
	v=${data//-/_}_features
	item_features "$data"
	v=${data//-/_}
	load_split "${t}_train" "$splits/$data/$split_protocol/train.csv.gz"
	load_split "${t}_test" "$splits/$data/$split_protocol/test.csv.gz"
	load_split "${t}_vtrain" "$splits/$data/$split_protocol/valid/train.csv.gz"
	load_split "${t}_vtest" "$splits/$data/$split_protocol/valid/test.csv.gz"
	if [ "$what" = combine ]; then
		[ -n "${combine_ready:-}" ] || combine_functions
		combine_ready=1
		combine "$data" "$t" "$v"
		continue
	fi
	if [ "$what" = hybrid ]; then hybrid "$data" "$t" "$v"; continue; fi
	if [ "$what" = ridge ]; then ridge "$data" "$t" "$v"; continue; fi
	if [ "$what" = labinputs ]; then lab_export "$data" "$t" "$v"; continue; fi
	if [ "$what" = pseudo ]; then pseudo "$data" "$t" "$v"; continue; fi
	if [ "$what" = coldpseudo ]; then cold_pseudo "$data" "$t" "$v"; continue; fi
	if [ "$what" = coldvalid ]; then cold "$data" "$t" "$v" valid; continue; fi
	if [ "$what" = coldknn ] || [ "$what" = coldranker ]; then cold "$data" "$t" "$v"; continue; fi
	if [ -n "${WARM_ALS:-}" ]; then
		als_best=$WARM_ALS
		echo "ALS settings given (WARM_ALS, chosen on valid before): $als_best"
	else
		choose "$t" "$v"
	fi
	if [ "$what" = warmdense ]; then warm_dense "$data" "$t" "$v"; continue; fi
	if [ "$what" = all ] || [ "$what" = cold ]; then cold "$data" "$t" "$v"; fi
	if [ "$what" = all ] || [ "$what" = warm ]; then warm "$data" "$t" "$v"; fi
	if [ "$what" = warmjoint ]; then warm_joint "$data" "$t" "$v"; fi
done
[ "$what" != pseudo ] || [ "$sets" != both ] || pseudo_joint
