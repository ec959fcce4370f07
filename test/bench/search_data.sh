# test/bench/search_data.sh: sourced by the search benchmarks (search.sh,
# search_anonymous.sh, search_hyphens.sh, search_compounds.sh).  search_data_sql prints the psql commands that load
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

# search_variants_setup_sql prints the psql commands that train the two
# models of the query-variant benchmarks (search_hyphens.sh,
# search_compounds.sh: pop for anonymous search, als for personalised),
# index the catalog with the default weights, and make corel (each query's
# other relevant items of the same user and query, left out when ranking)
# and variants (variant, query_id, user_id, query, item_id) from the
# queries as given and the SQL query $1 of further variants.
search_variants_setup_sql() {
	cat <<SQL
SET recsys.threads = 2;
SELECT 1 FROM recsys.train_popular('train', model => 'pop', weight_col => 'weight');
SELECT 1 FROM recsys.train_cf('train', model => 'als', weight_col => 'weight');
SELECT 1 FROM recsys.index_catalog('products', text_cols => '{description}');
CREATE TABLE corel AS
SELECT q.query_id, o.item_id FROM queries q
JOIN queries o ON o.user_id = q.user_id AND o.query = q.query AND o.query_id <> q.query_id;
CREATE TABLE variants AS
SELECT 'as given' AS variant, query_id, user_id, query, item_id FROM queries
UNION ALL
$1;
SQL
}

# search_variants_eval_sql prints the query that searches every variant
# anonymously and personalised (top 20) and reports NDCG@10, HR@10 (the
# user's other relevant items for the same query left out, as in
# search.sql) and the mean number of results, per variant and mode.
search_variants_eval_sql() {
	cat <<'SQL'
\pset footer off
SET client_min_messages = warning;
CREATE TABLE ranked AS
SELECT v.variant, m.mode, v.query_id, s.item_id, s.pos
FROM variants v
CROSS JOIN (VALUES ('anonymous', 'pop'), ('personalised', 'als')) m(mode, model)
CROSS JOIN LATERAL (
	SELECT r.item_id, row_number() OVER () AS pos
	FROM recsys.search(v.query, CASE WHEN m.mode = 'personalised' THEN v.user_id END, 20, m.model) r) s;
WITH y AS (
	SELECT x.variant, x.mode, x.query_id, x.item_id,
		   row_number() OVER (PARTITION BY x.variant, x.mode, x.query_id ORDER BY x.pos) AS rank
	FROM ranked x
	WHERE NOT EXISTS (SELECT FROM corel c WHERE c.query_id = x.query_id AND c.item_id = x.item_id)
)
SELECT v.variant, m.mode, count(*) AS queries,
	   round(avg(CASE WHEN y.rank <= 10 THEN 1 / log(2, y.rank + 1) ELSE 0 END), 4) AS ndcg10,
	   round(avg(CASE WHEN y.rank <= 10 THEN 1 ELSE 0 END), 4) AS hr10,
	   round(avg(coalesce(c.n, 0)), 2) AS mean_results
FROM variants v
CROSS JOIN (VALUES ('anonymous'), ('personalised')) m(mode)
LEFT JOIN y ON y.variant = v.variant AND y.mode = m.mode AND y.query_id = v.query_id AND y.item_id = v.item_id
LEFT JOIN (SELECT r.variant, r.mode, r.query_id, count(*) AS n FROM ranked r GROUP BY 1, 2, 3) c
	ON c.variant = v.variant AND c.mode = m.mode AND c.query_id = v.query_id
GROUP BY 1, 2 ORDER BY 1, 2;
SQL
}
