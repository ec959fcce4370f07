# test/bench/search_data.sh: sourced by the search benchmarks (search.sh,
# search_anonymous.sh).  search_data_sql prints the psql commands that load
# the product-search set (../shared/data/search/online-retail: catalog and
# queries) and the online-retail last5 training file it was built from;
# $search and $splits name the two data directories.
search_data_sql() {
	cat <<SQL
CREATE TABLE products (item_id bigint PRIMARY KEY, stock_code text, description text, product_type text);
\copy products FROM PROGRAM 'gzip -dc $search/catalog.csv.gz' WITH (FORMAT csv, HEADER true)
CREATE TABLE queries (query_id integer PRIMARY KEY, user_id bigint, query text, item_id bigint);
\copy queries FROM PROGRAM 'gzip -dc $search/queries.csv.gz' WITH (FORMAT csv, HEADER true)
CREATE TABLE train (user_id bigint, item_id bigint, weight real, ts bigint);
\copy train FROM PROGRAM 'gzip -dc $splits/last5/train.csv.gz' WITH (FORMAT csv, HEADER true)
CREATE INDEX ON train (user_id);
ANALYZE;
SQL
}
