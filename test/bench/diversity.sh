#!/usr/bin/env bash
# test/bench/diversity.sh: diversity by category (issue 13 item 6) on the
# shared strat75 splits.
#
#   bash test/bench/diversity.sh [online-retail|ml-latest-small|all]   (default all)
#
# The best single model (EASE normalised, the settings valid chose in
# 0.7.0: RECSYS_DIV_EASE_<data> overrides) ranks; recommend's MMR
# re-ranks its top 100 with the item similarities of
#   - "category": a content item-kNN trained on the item -> category
#     relation (test/bench/item_features.sh item_categories: online retail's
#     head noun of the description, MovieLens's genres), cosine of the
#     items' category sets, so 1 within a category and 0 across (online
#     retail), the share of genres in common (MovieLens);
#   - "own": the model's own (EASE's weights), as in 0.7.0;
#   - "cosine" (only when RECSYS_DIV_SIMS names it): a cosine item-kNN
#     (K 100) of the buyers, 0.7.0's similarity_model;
# over a grid of lambda (RECSYS_DIV_LAMBDAS), on valid (valid/train ->
# valid/test) and test (train -> test).  Per line: NDCG@10, ILDc@10 the
# intra-list diversity over categories (evaluate's ild@10 with features =>
# the categories: the share of the list's pairs in different categories
# for online retail, the mean 1 - cosine of the genre sets for MovieLens),
# ILDb@10 evaluate's default ild@10 (1 - cosine of the items' buyer sets
# in train, the measure of 0.7.0), coverage@10.  The lambda is chosen on
# valid: the most ILDc losing at most 5% NDCG@10 against lambda 0; the
# goal line then reports test at that lambda, and how the share of the
# lists' pairs within one category (1 - ILDc) changed.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
which=${1:-all}
shared=${RECSYS_SHARED:-$RECSYS_ROOT/../shared}
splits=$shared/data/splits
lambdas=${RECSYS_DIV_LAMBDAS:-0 0.05 0.1 0.15 0.2 0.3 0.4 0.5 0.7}
sims=${RECSYS_DIV_SIMS:-category own}

recsys_install_deps
recsys_build
recsys_start_cluster "shared_buffers = 1GB"
recsys_bench_header
recsys_psql -c "CREATE EXTENSION recsys"

# item_tables, item_categories; load_split
source "$(dirname "$0")/item_features.sh"
source "$(dirname "$0")/split_tables.sh"

# the categories' coverage: items with a category, categories, their sizes
category_summary() {
	local data=$1 c=${1//-/_}_categories
	recsys_psql -At <<SQL
WITH sizes AS (SELECT feature, count(*) AS n FROM public.$c GROUP BY feature),
per_item AS (SELECT item_id, count(*) AS n FROM public.$c GROUP BY item_id)
SELECT format('categories: %s items, %s categories (%s per item); %s%% of items in a category of 5 or more, %s%% in OTHER; largest: %s',
	(SELECT count(*) FROM per_item), (SELECT count(*) FROM sizes),
	(SELECT round(avg(n), 2) FROM per_item),
	(SELECT round(100.0 * count(*) / (SELECT count(*) FROM per_item), 1)
	 FROM (SELECT DISTINCT c.item_id FROM public.$c c JOIN sizes s USING (feature) WHERE s.n >= 5) big),
	(SELECT round(100.0 * count(DISTINCT item_id) / (SELECT count(*) FROM per_item), 1)
	 FROM public.$c WHERE feature = 'OTHER'),
	(SELECT string_agg(feature || ' ' || n, ', ') FROM
	 (SELECT * FROM sizes ORDER BY n DESC, feature LIMIT 8) t));
SQL
}

diversity_data() {
	local data=$1 t=${1//-/_}
	local ease
	case $data in
		online-retail) ease=${RECSYS_DIV_EASE_online_retail:-"regularization => 100, popularity_exponent => 0.25, user_exponent => 0.5, dropout => 0.25"} ;;
		*) ease=${RECSYS_DIV_EASE_ml_latest_small:-"regularization => 400, popularity_exponent => 0.1, user_exponent => 0.5, dropout => 0.25"} ;;
	esac
	load_split "${t}_train" "$splits/$data/strat75/train.csv.gz"
	load_split "${t}_test" "$splits/$data/strat75/test.csv.gz"
	load_split "${t}_vtrain" "$splits/$data/strat75/valid/train.csv.gz"
	load_split "${t}_vtest" "$splits/$data/strat75/valid/test.csv.gz"
	item_categories "$data"
	echo
	echo "### $data / strat75: EASE ($ease), MMR over its top 100"
	category_summary "$data"
	recsys_psql -q -At <<SQL >/dev/null
SELECT 1 FROM recsys.train_item_knn('public.${t}_category_pairs', 1000, model => 'div_category',
									user_col => 'category_id');
CREATE TABLE IF NOT EXISTS div_results (data text, split text, similarity text, lambda real, ndcg float8,
										ild_category float8, ild_buyers float8, coverage float8);
SQL
	printf '%-6s %-9s %6s %8s %8s %8s %7s %7s\n' split sim lambda NDCG@10 ILDc@10 ILDb@10 cover eval_s
	local split train test sim lambda
	for split in valid test; do
		if [ $split = valid ]; then train=${t}_vtrain test=${t}_vtest; else train=${t}_train test=${t}_test; fi
		recsys_psql -q -At <<SQL >/dev/null
SET recsys.threads = 2;
SELECT 1 FROM recsys.train_ease('$train', model => 'div_ease', replace => true, $ease);
SELECT 1 FROM recsys.train_item_knn('$train', 100, model => 'div_cosine', replace => true)
WHERE '$sims' LIKE '%cosine%';
SQL
		for sim in $sims; do
			for lambda in $lambdas; do
				# lambda 0 is the same ranking whatever the similarity
				[ "$sim" = category ] || [ "$lambda" != 0 ] || continue
				recsys_psql -At -F ' ' <<SQL
SET recsys.threads = 2;
CREATE TEMP TABLE b AS SELECT * FROM recsys.evaluate('div_ease', '$test', diversity => $lambda,
	similarity_model => CASE '$sim' WHEN 'category' THEN 'div_category' WHEN 'cosine' THEN 'div_cosine' END);
CREATE TEMP TABLE c AS SELECT * FROM recsys.evaluate('div_ease', '$test', diversity => $lambda,
	similarity_model => CASE '$sim' WHEN 'category' THEN 'div_category' WHEN 'cosine' THEN 'div_cosine' END,
	features => 'public.${t}_categories');
INSERT INTO div_results
SELECT '$data', '$split', CASE WHEN $lambda = 0 THEN 'none' ELSE '$sim' END, $lambda,
	max(value) FILTER (WHERE metric = 'ndcg@10'), (SELECT value FROM c WHERE metric = 'ild@10'),
	max(value) FILTER (WHERE metric = 'ild@10'), max(value) FILTER (WHERE metric = 'coverage@10')
FROM b;
SELECT format('%-6s %-9s %6s %8s %8s %8s %7s %7s', '$split', '$sim', $lambda,
	round(max(value) FILTER (WHERE metric = 'ndcg@10')::numeric, 4),
	(SELECT round(value::numeric, 4) FROM c WHERE metric = 'ild@10'),
	round(max(value) FILTER (WHERE metric = 'ild@10')::numeric, 4),
	round(max(value) FILTER (WHERE metric = 'coverage@10')::numeric, 3),
	round((max(value) FILTER (WHERE metric = 'seconds') + (SELECT value FROM c WHERE metric = 'seconds'))::numeric, 2))
FROM b;
SQL
			done
		done
	done
	# per similarity: valid's lambda (the most ILDc at <= 5% NDCG lost), its test figures
	recsys_psql -At -F ' ' <<SQL
WITH base AS (SELECT split, ndcg AS ndcg0, ild_category AS ildc0, ild_buyers AS ildb0
			  FROM div_results WHERE data = '$data' AND lambda = 0),
chosen AS (
	SELECT DISTINCT ON (r.similarity) r.similarity, r.lambda
	FROM div_results r JOIN base b USING (split)
	WHERE r.data = '$data' AND r.split = 'valid' AND r.lambda > 0 AND r.ndcg >= 0.95 * b.ndcg0
	ORDER BY r.similarity, r.ild_category DESC, r.lambda)
SELECT format('chosen on valid (%s similarity): lambda %s; test NDCG@10 %s -> %s (%s%%), ILDc@10 %s -> %s (%s%%; pairs within a category %s%%), ILDb@10 %s -> %s (%s%%); goal +30%% ILDc at <= 5%% NDCG lost: %s',
	c.similarity, c.lambda, round(b.ndcg0::numeric, 4), round(t.ndcg::numeric, 4),
	round((100 * (t.ndcg / b.ndcg0 - 1))::numeric, 1),
	round(b.ildc0::numeric, 4), round(t.ild_category::numeric, 4),
	round((100 * (t.ild_category / b.ildc0 - 1))::numeric, 1),
	round((100 * ((1 - t.ild_category) / nullif(1 - b.ildc0, 0) - 1))::numeric, 1),
	round(b.ildb0::numeric, 4), round(t.ild_buyers::numeric, 4),
	round((100 * (t.ild_buyers / b.ildb0 - 1))::numeric, 1),
	CASE WHEN t.ild_category >= 1.3 * b.ildc0 AND t.ndcg >= 0.95 * b.ndcg0 THEN 'met' ELSE 'not met' END)
FROM chosen c JOIN div_results t ON t.data = '$data' AND t.split = 'test'
	AND t.similarity = c.similarity AND t.lambda = c.lambda
JOIN base b ON b.split = 'test'
ORDER BY c.similarity;
SQL
	recsys_psql -q -At -c "SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'div\\_%'" >/dev/null
}

case $which in
	all) for data in online-retail ml-latest-small; do diversity_data "$data"; done ;;
	online-retail|ml-latest-small) diversity_data "$which" ;;
	*) echo "usage: $0 [online-retail|ml-latest-small|all]" >&2; exit 2 ;;
esac
