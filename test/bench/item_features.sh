# test/bench/item_features.sh: sourced by the benchmarks that use the
# shared data sets' item features (accuracy.sh, cold_items.sh); needs
# $shared, $splits and recsys_psql (test/lib.sh).

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

# The factorisation machine re-ranker's (train_fm: accuracy.sh
# RECSYS_TUNE=fm, fm_pool.sh) side features of a data set
# as public.<data>_fm_items (the item features plus, for online retail,
# the decile of the product's median unit price) and public.<data>_fm_users
# (online retail: the customer's country; MovieLens: none)
fm_features() {
	local data=$1 items=${1//-/_}_fm_items users=${1//-/_}_fm_users
	item_features "$data"
	[ "$(recsys_psql -At -c "SELECT to_regclass('public.$items') IS NULL")" = t ] || return 0
	if [ "$data" = online-retail ]; then
		recsys_psql -q <<SQL
CREATE TABLE public.$items AS
SELECT item_id, feature, 1::real AS value FROM public.online_retail_features
UNION ALL
SELECT item_id, 'price:' || ntile(10) OVER (ORDER BY p), 1::real
FROM (SELECT i.item_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY l.unit_price::float8) AS p
	  FROM retail_items i JOIN retail_lines l USING (stock_code)
	  WHERE l.unit_price::float8 > 0 GROUP BY i.item_id) s;
CREATE TABLE public.$users AS
SELECT DISTINCT customer::float8::bigint AS user_id, 'country:' || country AS feature
FROM retail_lines WHERE customer <> '' AND country IS NOT NULL;
SQL
	else
		recsys_psql -q <<SQL
CREATE VIEW public.$items AS SELECT item_id, feature, 1::real AS value FROM public.${data//-/_}_features;
CREATE TABLE public.$users (user_id bigint, feature text);
SQL
	fi
}
