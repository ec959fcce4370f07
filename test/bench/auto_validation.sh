#!/usr/bin/env bash
# test/bench/auto_validation.sh: does a validation design of train_auto's
# 'last' protocol rank candidates as test does? (issue 18, s10)
#
#   bash test/bench/auto_validation.sh [online-retail|ml-latest-small|shop] [exact|compact] [last5|strat75]
#
# Given only a split's train file, each design below holds out part of it;
# a fixed list of candidates (recency EASE settings, normalised EASE, ALS,
# BM25, popularity and the EASE + ALS / EASE + BM25 blends at weight 1) is
# trained on each design's train part and scored per user on its held-out
# part, and on the split's test after training on the whole train file.
# Printed: each candidate's value per design and on test, each design's
# Spearman rank correlation with test over the candidates, and the
# blends' gain over EASE alone with its paired z per design.  Designs:
#   s1  each user's last 5 (users with >= 10): train_auto's first split
#   s2  the 5 before those (rolling origin): train_auto's matched split
#   s3  the 5 before s2's
#   s12, s123  s1 and s2 (and s3) pooled: each user's value averaged over
#       the folds he is in (the pooled per-user gains)
#   g   a global time cut at the train file's last tenth of rows: each
#       user's first 5 items after it (users with >= 5 items before it),
#       trained on everything before it
# shop: test/tools/load_shop.sh's events (60,000, RECSYS_SHOP_EVENTS; each
# user's products viewed, carted or bought, at the latest time; split_last
# 5/10 of them as "test", the rest as the train file): a third set.
# EASE fits exact with "exact" (default), keep 0.1 with "compact" (ml).
# strat75 (s11): train_auto's holdout designs instead, on the strat75
# split: s1 a quarter of each user's items (seed 42, users with >= 4:
# the first split), m2 and m3 a tenth (seeds 43 and 44: the matched
# splits), m23 those two pooled; normalised EASE settings as candidates.
# Both protocols: the blends of the base EASE (ease_r30_2000 on last5,
# ease_200 on strat75; AV_BASE another candidate) with ALS at weights 0.3 to 1.3 (blend_als_<w>)
# and with BM25 at 0.5 and 1 (s11: is the weight chosen on a design the
# one test prefers?), and (s12) the max-T threshold the weight picked on
# a design must reach there, as train_auto computes it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
data=${1:-online-retail}
form=${2:-exact}
protocol=${3:-last5}
splits=$RECSYS_ROOT/../shared/data/splits
[ -d "$splits" ] || splits=/work/shared/data/splits
recsys_start_cluster "shared_buffers = 1GB"
recsys_psql -q -c "CREATE EXTENSION recsys"
if [ "$data" = shop ]; then
	PGHOST=$PGHOST PGPORT=$PGPORT bash "$RECSYS_ROOT/test/tools/load_shop.sh" "${RECSYS_SHOP_EVENTS:-60000}" 42 >/dev/null
	recsys_psql -q <<'SQL'
CREATE TABLE shop_all AS SELECT user_id::bigint, product_id::bigint AS item_id, 1::real AS r,
	max(extract(epoch FROM ts))::bigint AS ts
FROM shop.events GROUP BY 1, 2;
CREATE TABLE t_train AS SELECT a.* FROM shop_all a
WHERE NOT EXISTS (SELECT FROM recsys.split_last('shop_all', 'ts', 5, 10) s WHERE s.is_test AND s.user_id = a.user_id AND s.item_id = a.item_id);
CREATE TABLE t_test AS SELECT s.user_id, s.item_id FROM recsys.split_last('shop_all', 'ts', 5, 10) s WHERE s.is_test;
SQL
else
	recsys_psql -q <<SQL
CREATE TABLE t_train (user_id bigint, item_id bigint, r real, ts bigint);
\copy t_train FROM PROGRAM 'gzip -dc $splits/$data/$protocol/train.csv.gz' WITH (FORMAT csv, HEADER true)
CREATE TABLE t_test (user_id bigint, item_id bigint, r real, ts bigint);
\copy t_test FROM PROGRAM 'gzip -dc $splits/$data/$protocol/test.csv.gz' WITH (FORMAT csv, HEADER true)
SQL
fi
recsys_psql -q -c "CREATE INDEX ON t_train (user_id); ANALYZE t_train;"
if [ "$protocol" = strat75 ]; then
	designs="s1 m2 m3"
	pooled="m23:m2,m3"
	base=ease_200
	recsys_psql -q <<'SQL'
-- train_auto's holdout designs: the first split (a quarter, seed 42) and
-- the matched splits (a tenth, seeds 43 and 44; _auto_split)
CREATE TABLE d_s1_valid AS SELECT user_id, item_id FROM recsys.split_holdout('t_train', 0.25, 42, 4) WHERE is_test;
CREATE TABLE d_m2_valid AS SELECT user_id, item_id FROM recsys.split_holdout('t_train', 0.1, 43, 4) WHERE is_test;
CREATE TABLE d_m3_valid AS SELECT user_id, item_id FROM recsys.split_holdout('t_train', 0.1, 44, 4) WHERE is_test;
CREATE TABLE d_s1_train AS SELECT t.* FROM t_train t WHERE NOT EXISTS (SELECT FROM d_s1_valid v WHERE v.user_id = t.user_id AND v.item_id = t.item_id);
CREATE TABLE d_m2_train AS SELECT t.* FROM t_train t WHERE NOT EXISTS (SELECT FROM d_m2_valid v WHERE v.user_id = t.user_id AND v.item_id = t.item_id);
CREATE TABLE d_m3_train AS SELECT t.* FROM t_train t WHERE NOT EXISTS (SELECT FROM d_m3_valid v WHERE v.user_id = t.user_id AND v.item_id = t.item_id);
CREATE INDEX ON d_s1_train (user_id); ANALYZE d_s1_train;
CREATE INDEX ON d_m2_train (user_id); ANALYZE d_m2_train;
CREATE INDEX ON d_m3_train (user_id); ANALYZE d_m3_train;
CREATE TABLE g_cut AS SELECT NULL::bigint AS t;
SQL
else
	designs="s1 s2 s3 g"
	pooled="s12:s1,s2 s23:s2,s3 s123:s1,s2,s3 s1g:s1,g"
	base=ease_r30_2000
	recsys_psql -q <<'SQL'
-- the designs: d_<name>_train / d_<name>_valid
CREATE TABLE d_s1_valid AS SELECT user_id, item_id FROM recsys.split_last('t_train', 'ts', 5, 10) WHERE is_test;
CREATE TABLE d_s1_train AS SELECT t.* FROM t_train t WHERE NOT EXISTS (SELECT FROM d_s1_valid v WHERE v.user_id = t.user_id AND v.item_id = t.item_id);
CREATE INDEX ON d_s1_train (user_id); ANALYZE d_s1_train;
CREATE TABLE d_s2_valid AS SELECT user_id, item_id FROM recsys.split_last('d_s1_train', 'ts', 5, 10) WHERE is_test;
CREATE TABLE d_s2_train AS SELECT t.* FROM d_s1_train t WHERE NOT EXISTS (SELECT FROM d_s2_valid v WHERE v.user_id = t.user_id AND v.item_id = t.item_id);
CREATE INDEX ON d_s2_train (user_id); ANALYZE d_s2_train;
CREATE TABLE d_s3_valid AS SELECT user_id, item_id FROM recsys.split_last('d_s2_train', 'ts', 5, 10) WHERE is_test;
CREATE TABLE d_s3_train AS SELECT t.* FROM d_s2_train t WHERE NOT EXISTS (SELECT FROM d_s3_valid v WHERE v.user_id = t.user_id AND v.item_id = t.item_id);
CREATE INDEX ON d_s3_train (user_id); ANALYZE d_s3_train;
-- g: a global cut at the time of the train file's last tenth of rows
CREATE TABLE g_cut AS SELECT percentile_disc(0.9) WITHIN GROUP (ORDER BY ts) AS t FROM t_train;
CREATE TABLE d_g_train AS SELECT t.* FROM t_train t WHERE t.ts < (SELECT t FROM g_cut);
CREATE TABLE d_g_valid AS
SELECT user_id, item_id FROM (
	SELECT t.user_id, t.item_id, row_number() OVER (PARTITION BY t.user_id ORDER BY t.ts, t.item_id) AS o
	FROM t_train t WHERE t.ts >= (SELECT t FROM g_cut)
	  AND t.user_id IN (SELECT user_id FROM d_g_train GROUP BY user_id HAVING count(*) >= 5)) x
WHERE x.o <= 5;
CREATE INDEX ON d_g_train (user_id); ANALYZE d_g_train;
SQL
fi
# AV_BASE: the EASE candidate the blends extend (s12: ease_r60_2000, the
# setting train_auto's complete second round moves to on retail last5)
base=${AV_BASE:-$base}
# AV_DESIGNS: only these designs (and no test with AV_TEST=no): to
# finish a run cut short, joining the per-user files by hand
designs=${AV_DESIGNS:-$designs}
tests=test
[ "${AV_TEST:-yes}" = no ] && tests=
for d in $designs; do
	recsys_psql -At -c "SELECT format('# design $d: %s held-out users, %s pairs', count(DISTINCT user_id), count(*)) FROM d_${d}_valid"
done
ease_keep=
[ "$form" = compact ] && ease_keep=', "keep": 0.1'
# candidates: name | algorithm | params (time_col added where the family has it)
if [ "$protocol" = strat75 ]; then
cat > /tmp/auto_validation_candidates.$$ <<EOF
ease_200|ease|{"regularization": 200, "user_exponent": 0.5, "popularity_exponent": 0.25, "dropout": 0.5$ease_keep}
ease_200_p325|ease|{"regularization": 200, "user_exponent": 0.5, "popularity_exponent": 0.325, "dropout": 0.5$ease_keep}
ease_141|ease|{"regularization": 141, "user_exponent": 0.5, "popularity_exponent": 0.25, "dropout": 0.5$ease_keep}
ease_100_d25|ease|{"regularization": 100, "user_exponent": 0.5, "popularity_exponent": 0.25, "dropout": 0.25$ease_keep}
ease_400_d25|ease|{"regularization": 400, "user_exponent": 0.5, "popularity_exponent": 0.1, "dropout": 0.25$ease_keep}
als|als|{"factors": 128, "iterations": 12, "regularization_exponent": 1, "alpha": 10, "regularization": 0.01}
bm25|item_knn|{"similarity": "bm25", "neighbors": 50}
popular|popular|{}
EOF
else
cat > /tmp/auto_validation_candidates.$$ <<EOF
ease_r30_2000|ease|{"regularization": 2000, "popularity_exponent": 0.25, "half_life": "30 days", "time_col": "ts"$ease_keep}
ease_r60_2000|ease|{"regularization": 2000, "popularity_exponent": 0.25, "half_life": "60 days", "time_col": "ts"$ease_keep}
ease_r30_500|ease|{"regularization": 500, "popularity_exponent": 0.25, "half_life": "30 days", "time_col": "ts"$ease_keep}
ease_r15_500|ease|{"regularization": 500, "popularity_exponent": 0.25, "half_life": "15 days", "time_col": "ts"$ease_keep}
ease_r60_1000|ease|{"regularization": 1000, "popularity_exponent": 0.25, "half_life": "60 days", "time_col": "ts"$ease_keep}
ease_r120_1000|ease|{"regularization": 1000, "popularity_exponent": 0.1, "half_life": "120 days", "time_col": "ts"$ease_keep}
ease_norm|ease|{"regularization": 400, "user_exponent": 0.5, "popularity_exponent": 0.1, "dropout": 0.25$ease_keep}
als|als|{"factors": 128, "iterations": 12, "regularization_exponent": 1, "alpha": 10, "regularization": 0.01}
bm25|item_knn|{"similarity": "bm25", "neighbors": 100, "half_life": "60 days", "time_col": "ts"}
popular|popular|{"half_life": "30 days", "time_col": "ts"}
EOF
fi
for d in $tests $designs; do
	if [ "$d" = test ]; then train=t_train valid=t_test; else train=d_${d}_train valid=d_${d}_valid; fi
	while IFS='|' read -r name algorithm params; do
		recsys_psql -q -At <<SQL >/dev/null
SET recsys.threads = 2;
SELECT recsys._tune_keep(recsys._tune_trainer('$algorithm'), '$train', 'c_${d}_$name', '$params'::jsonb, true);
SQL
	done < /tmp/auto_validation_candidates.$$
	for w in 0.3 0.5 0.7 1 1.3; do
		recsys_psql -q -At -c "SELECT recsys.train_blend(ARRAY['c_${d}_$base', 'c_${d}_als'], ARRAY[1, $w]::real[], 'c_${d}_blend_als_$w', true)" >/dev/null
	done
	for w in 0.5 1; do
		recsys_psql -q -At -c "SELECT recsys.train_blend(ARRAY['c_${d}_$base', 'c_${d}_bm25'], ARRAY[1, $w]::real[], 'c_${d}_blend_bm25_$w', true)" >/dev/null
	done
	if [ "$protocol" = strat75 ]; then
		# (s12) ensembles of near-tied EASE settings, equal weights: does
		# averaging the settings the matched splits cannot separate beat
		# picking one?
		recsys_psql -q -At -c "SELECT recsys.train_blend(ARRAY['c_${d}_ease_200_p325', 'c_${d}_ease_141', 'c_${d}_ease_100_d25'], ARRAY[1, 1, 1]::real[], 'c_${d}_blend_ens3', true)" >/dev/null
		recsys_psql -q -At -c "SELECT recsys.train_blend(ARRAY['c_${d}_ease_200_p325', 'c_${d}_ease_200', 'c_${d}_ease_141', 'c_${d}_ease_100_d25'], ARRAY[1, 1, 1, 1]::real[], 'c_${d}_blend_ens4', true)" >/dev/null
		recsys_psql -q -At -c "SELECT recsys.train_blend(ARRAY['c_${d}_ease_200_p325', 'c_${d}_ease_141'], ARRAY[1, 1]::real[], 'c_${d}_blend_ens2', true)" >/dev/null
	fi
	recsys_psql -q -At <<SQL >/dev/null
CREATE TABLE IF NOT EXISTS per_user (design text, cand text, user_id bigint, ndcg double precision);
INSERT INTO per_user
SELECT '$d', substr(m.name, length('c_${d}_') + 1), u.user_id, u.ndcg
FROM recsys.models m, LATERAL recsys._evaluate_users(m.name, '$valid', 10) u
WHERE m.name LIKE 'c\_${d}\_%';
SELECT recsys.drop_model(m.name) FROM recsys.models m WHERE m.name LIKE 'c\_${d}\_%' ORDER BY m.name LIKE '%blend%' DESC;
SQL
	echo "# design $d done $(date -u +%T), load $(cut -d' ' -f1 /proc/loadavg)"
done
rm -f /tmp/auto_validation_candidates.$$
recsys_psql -At -F ' ' <<SQL
\\copy per_user TO '/tmp/auto_validation_${data}_${protocol}_per_user.csv' WITH (FORMAT csv)
SQL
# pooled designs: each user's value averaged over the folds he is in
all_designs="$tests $designs"
for p in $pooled; do
	name=${p%%:*} parts=${p#*:}
	recsys_psql -q -c "INSERT INTO per_user SELECT '$name', cand, user_id, avg(ndcg) FROM per_user WHERE design = ANY (string_to_array('$parts', ',')) GROUP BY cand, user_id"
	all_designs="$all_designs $name"
done
dlist="ARRAY['$(echo $all_designs | sed "s/ /', '/g")']"
recsys_psql -At -F ' ' <<SQL
SELECT format('# data: %s users on test; cut g at %s', (SELECT count(DISTINCT user_id) FROM t_test), to_timestamp((SELECT t FROM g_cut)));
SELECT format('%-16s %s', 'candidate', string_agg(format('%8s', d), ' ' ORDER BY o))
FROM unnest($dlist) WITH ORDINALITY x(d, o);
SELECT format('%-16s %s', c.cand, string_agg(format('%8s', round(c.v::numeric, 4)), ' ' ORDER BY c.o))
FROM (SELECT p.cand, x.o, avg(p.ndcg) AS v FROM per_user p
	  JOIN unnest($dlist) WITH ORDINALITY x(d, o) ON x.d = p.design
	  GROUP BY p.cand, x.o) c
GROUP BY c.cand ORDER BY max(c.v) FILTER (WHERE c.o = 1) DESC;
-- Spearman over the candidates: rank correlation of each design's means with test's
WITH m AS (SELECT design, cand, avg(ndcg) AS v FROM per_user GROUP BY 1, 2),
	 r AS (SELECT design, cand, rank() OVER (PARTITION BY design ORDER BY v) AS rk FROM m)
SELECT format('# Spearman with test, %-5s %s (top-1 on the design: %s, its test %s)', r.design,
	round(corr(r.rk, t.rk)::numeric, 3),
	(SELECT m.cand FROM m WHERE m.design = r.design ORDER BY m.v DESC LIMIT 1),
	(SELECT round(m2.v::numeric, 4) FROM m m2 WHERE m2.design = 'test'
	 AND m2.cand = (SELECT m.cand FROM m WHERE m.design = r.design ORDER BY m.v DESC LIMIT 1)))
FROM r JOIN r t ON t.design = 'test' AND t.cand = r.cand
WHERE r.design <> 'test' GROUP BY r.design ORDER BY r.design;
-- the blends' gain over the base EASE alone, per design, with the paired z
SELECT format('# gain %-14s over $base on %-5s %8s  z %6s  (%s users)', b.cand, b.design,
	round(avg(b.ndcg - e.ndcg)::numeric, 4),
	round((avg(b.ndcg - e.ndcg) / nullif(stddev_samp(b.ndcg - e.ndcg) / sqrt(count(*)), 0))::numeric, 2), count(*))
FROM per_user b JOIN per_user e ON e.design = b.design AND e.user_id = b.user_id AND e.cand = '$base'
WHERE b.cand LIKE 'blend%' OR b.cand = 'als'
GROUP BY b.cand, b.design ORDER BY b.cand, b.design;
-- the ALS weight each design picks (best mean among the blends) and its test value
WITH m AS (SELECT design, cand, avg(ndcg) AS v FROM per_user WHERE cand LIKE 'blend\_als\_%' GROUP BY 1, 2)
SELECT format('# ALS weight picked on %-5s %s (test %s)', m.design, substr(m.cand, 11),
	(SELECT round(t.v::numeric, 4) FROM m t WHERE t.design = 'test' AND t.cand = m.cand))
FROM (SELECT DISTINCT ON (design) * FROM m ORDER BY design, v DESC) m ORDER BY m.design;
-- the threshold the picked weight's z must reach when chosen among these
-- on the same users (s12: train_auto's max-T by sign flips over the ALS
-- weights' gains, _auto_blend_min_z), at the level of z >= 1 (holdout's
-- matched test) and of z >= 1.96 ('last'); 1.83 and 2.57 for five
-- independent weights (Sidak)
SELECT format('# max-T threshold of the %s ALS weights on %-5s %s at z >= 1''s level, %s at 1.96''s  (%s users)',
	array_length(q.ext, 1), q.design,
	round(recsys._auto_max_z_threshold(q.base, q.ext, 1, 42)::numeric, 2),
	round(recsys._auto_max_z_threshold(q.base, q.ext, 1.96, 42)::numeric, 2), cardinality(q.base))
FROM (SELECT d.design,
			 (SELECT array_agg(e.ndcg ORDER BY e.user_id) FROM per_user e WHERE e.design = d.design AND e.cand = '$base') AS base,
			 (SELECT array_agg(x.a ORDER BY x.cand)
			  FROM (SELECT b.cand, array_agg(b.ndcg ORDER BY b.user_id) AS a FROM per_user b
					WHERE b.design = d.design AND b.cand LIKE 'blend\_als\_%' GROUP BY b.cand) x) AS ext
	  FROM (SELECT DISTINCT design FROM per_user WHERE design <> 'test') d) q
WHERE q.ext IS NOT NULL ORDER BY q.design;
SQL
