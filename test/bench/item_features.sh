# test/bench/item_features.sh: sourced by the benchmarks that use the
# shared data sets' item features (accuracy.sh, cold_items.sh); needs
# $shared, $splits and recsys_psql (test/lib.sh).

# the data set's item files as tables: ml_movies (item_id, title, genres);
# retail_items (item_id, stock_code) and retail_lines (the invoice lines)
item_tables() {
	if [ "$1" = ml-latest-small ]; then
		[ "$(recsys_psql -At -c "SELECT to_regclass('public.ml_movies') IS NULL")" = t ] || return 0
		recsys_psql -q <<SQL
CREATE TABLE ml_movies (item_id bigint, title text, genres text);
\copy ml_movies FROM '$shared/data/ml-latest-small/movies.csv' WITH (FORMAT csv, HEADER true)
SQL
	else
		[ "$(recsys_psql -At -c "SELECT to_regclass('public.retail_lines') IS NULL")" = t ] || return 0
		recsys_psql -q <<SQL
CREATE TABLE retail_items (item_id bigint, stock_code text);
\copy retail_items FROM '$splits/online-retail/items.csv' WITH (FORMAT csv, HEADER true)
CREATE TABLE retail_lines (invoice text, stock_code text, description text, quantity text,
						   invoice_date text, unit_price text, customer text, country text);
\copy retail_lines FROM PROGRAM 'gzip -dc $shared/data/online-retail/online_retail.csv.gz' WITH (FORMAT csv, HEADER true)
SQL
	fi
}

# item features of a data set as the view public.<data>_features (item_id,
# feature): tokens a shop would have in its catalog
stop_words="'the', 'a', 'an', 'and', 'of', 'in', 'on', 'to', 'for', 'with', 'from', 'at', 'by', 'is', 'it', 'la', 'le', 'les', 'de', 'der', 'die', 'das', 'el'"
item_features() {
	local data=$1 view=${1//-/_}_features
	[ "$(recsys_psql -At -c "SELECT to_regclass('public.$view') IS NULL")" = t ] || return 0
	if [ "$data" = ml-latest-small ]; then
		item_tables "$data"
		recsys_psql -q <<SQL
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
		item_tables "$data"
		recsys_psql -q <<SQL
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

# Item categories of a data set as public.<data>_categories (item_id,
# feature), for diversity by category (diversity.sh): MovieLens's genres
# (one row per genre of the movie); online retail's product type, the head
# noun of the product's description.  The description is the one written
# most often for the stock code (mode()); its head noun is the LAST word of
# two letters or more that is not a modifier: colours, sizes, quantities
# and the shop's design and theme words (LUNCH BAG RED RETROSPOT -> BAG,
# SET OF 3 CAKE TINS PANTRY DESIGN -> TIN), made singular by dropping a
# final S (ES after X, SH, CH, SS).  The modifier list was read off the
# most frequent last words of the descriptions.  An item whose description
# has no such word is in category OTHER, so every item has one category.
# Also public.<data>_category_pairs (category_id bigint, item_id), the same
# relation with numbered categories, the source of a content item-kNN.
category_modifiers="'RED', 'PINK', 'BLUE', 'GREEN', 'WHITE', 'BLACK', 'CREAM', 'IVORY', 'GOLD', 'SILVER',
	'PURPLE', 'ORANGE', 'YELLOW', 'BROWN', 'GREY', 'GRAY', 'TURQUOISE', 'LILAC', 'AQUA', 'CHOCOLATE', 'NATURAL',
	'PASTEL', 'COLOUR', 'COLOURED', 'COLOURS', 'MULTICOLOUR', 'CLEAR', 'ROSE', 'BEIGE', 'TEAL', 'FUSCHIA',
	'FUCHSIA', 'LIME', 'AMBER', 'JADE', 'BLOSSOM', 'MAUVE', 'LARGE', 'SMALL', 'MEDIUM', 'MINI', 'JUMBO', 'BIG',
	'GIANT', 'TINY', 'LONG', 'TALL', 'CM', 'DESIGN', 'DESIGNS', 'ASSORTED', 'ASSTD', 'SET', 'SETS', 'PACK', 'OF',
	'THE', 'AND', 'WITH', 'IN', 'ON', 'FOR', 'TO', 'RETROSPOT', 'POLKADOT', 'POLKA', 'DOT', 'DOTS', 'SPOT',
	'SPOTS', 'SPOTTY', 'STRIPE', 'STRIPES', 'STRIPED', 'PAISLEY', 'SPACEBOY', 'DOLLY', 'GIRL', 'VINTAGE',
	'RETRO', 'ANTIQUE', 'FLORAL', 'ROSES', 'CHRISTMAS', 'XMAS', 'LONDON', 'PANTRY', 'REGENCY', 'SKULL',
	'SKULLS', 'WOODLAND', 'LEAF', 'BIRD', 'BIRDS', 'OWL', 'GINGHAM', 'TOADSTOOL'"
item_categories() {
	local data=$1 table=${1//-/_}_categories
	[ "$(recsys_psql -At -c "SELECT to_regclass('public.$table') IS NULL")" = t ] || return 0
	item_tables "$data"
	if [ "$data" = ml-latest-small ]; then
		recsys_psql -q <<SQL
CREATE TABLE public.$table AS
SELECT item_id, g AS feature FROM ml_movies, unnest(string_to_array(genres, '|')) g;
SQL
	else
		recsys_psql -q <<SQL
CREATE TABLE public.$table AS
WITH described AS (
	SELECT i.item_id, mode() WITHIN GROUP (ORDER BY trim(l.description)) AS description
	FROM retail_items i JOIN retail_lines l USING (stock_code)
	WHERE trim(l.description) <> '' GROUP BY i.item_id),
words AS (
	SELECT d.item_id, w[1] AS word, n
	FROM described d, regexp_matches(upper(d.description), '[A-Z]+', 'g') WITH ORDINALITY m(w, n)),
head AS (
	SELECT DISTINCT ON (item_id) item_id, word FROM words
	WHERE length(word) >= 2 AND word NOT IN ($category_modifiers)
	ORDER BY item_id, n DESC)
SELECT i.item_id,
	   CASE WHEN h.word IS NULL THEN 'OTHER'
			WHEN length(h.word) > 4 AND h.word ~ '(X|SH|CH|SS)ES$' THEN left(h.word, -2)
			WHEN length(h.word) > 3 AND h.word ~ '[^S]S$' THEN left(h.word, -1)
			ELSE h.word END AS feature
FROM retail_items i LEFT JOIN head h USING (item_id);
SQL
	fi
	recsys_psql -q <<SQL
CREATE INDEX ON public.$table (item_id);
ANALYZE public.$table;
CREATE VIEW public.${table%_categories}_category_pairs AS
SELECT dense_rank() OVER (ORDER BY feature) AS category_id, item_id FROM public.$table;
SQL
}
