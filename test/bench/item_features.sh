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
