-- test/bench/search_anonymous.sql: the measurement of search_anonymous.sh.
-- Expects products, queries, train, the model als and the catalog 'default'.
SET client_min_messages = warning;

-- validation / test inside the even half (the data set's md5 rule, as
-- search.sql); validation split again by the parity of md5's byte 14:
-- even -> 'fit' (the ranker's weights are learned there), odd -> 'choose'
-- (the feature set is chosen there); test is for reporting only
CREATE TABLE q AS
SELECT query_id, user_id, query, item_id,
	   CASE WHEN get_byte(decode(md5('42:' || query_id), 'hex'), 15) % 2 = 1 THEN 'test'
			WHEN get_byte(decode(md5('42:' || query_id), 'hex'), 14) % 2 = 0 THEN 'fit'
			ELSE 'choose' END AS part
FROM queries;
SELECT part, count(*) AS queries FROM q GROUP BY 1 ORDER BY 1;
CREATE TABLE q_fit AS SELECT user_id, query, item_id FROM q WHERE part = 'fit';
CREATE TABLE corel AS
SELECT q.query_id, o.item_id FROM q JOIN q o ON o.user_id = q.user_id AND o.query = q.query AND o.query_id <> q.query_id;
-- NDCG@10 (filtered, as search.sql) per part, 'valid' = fit + choose
CREATE FUNCTION metrics(ranked regclass)
RETURNS TABLE (part text, ndcg numeric, n bigint)
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format($q$
	WITH y AS (
		SELECT x.query_id, x.item_id, row_number() OVER (PARTITION BY x.query_id ORDER BY x.pos) AS rank
		FROM %1$s x
		WHERE NOT EXISTS (SELECT FROM corel c WHERE c.query_id = x.query_id AND c.item_id = x.item_id)
	), r AS (
		SELECT q.part, y.rank FROM q LEFT JOIN y ON y.query_id = q.query_id AND y.item_id = q.item_id
	)
	SELECT p.part, round(avg(CASE WHEN rank <= 10 THEN 1 / log(2, rank + 1) ELSE 0 END), 4), count(*)
	FROM r, LATERAL (VALUES (r.part), (CASE WHEN r.part <> 'test' THEN 'valid' END)) p(part)
	WHERE p.part IS NOT NULL
	GROUP BY p.part ORDER BY p.part$q$, ranked);
END
$$;
CREATE TABLE results (ranker text, features text, weights text, fit numeric, choose numeric,
					  valid numeric, test numeric);

-------------------------------------------------------------------------------
-- 1. recsys.search itself, anonymous, with weights tune_search learns on
-- 'fit' for each set of features it may use (the others switched off)
-------------------------------------------------------------------------------
CREATE TABLE r_search (query_id integer, item_id bigint, pos bigint);
CREATE FUNCTION search_variant(features text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	w jsonb;
BEGIN
	IF features IS NULL THEN
		-- the default weights (popularity alone)
		UPDATE recsys.catalogs SET weights = '{"anonymous": {"popularity": 1}}';
		w := '{"anonymous": {"popularity": 1}}';
	ELSE
		w := recsys.tune_search('default', 'q_fit', 'als', features => features);
	END IF;
	TRUNCATE r_search;
	INSERT INTO r_search
	SELECT q.query_id, s.item_id, s.pos
	FROM q, LATERAL (SELECT r.item_id, row_number() OVER () AS pos
					 FROM recsys.search(q.query, NULL,
										10 + (SELECT count(*)::integer FROM corel c WHERE c.query_id = q.query_id),
										model => 'als') r) s;
	INSERT INTO results
	SELECT 'recsys.search', coalesce(features::text, 'default'), w ->> 'anonymous',
		   max(m.ndcg) FILTER (WHERE m.part = 'fit'), max(m.ndcg) FILTER (WHERE m.part = 'choose'),
		   max(m.ndcg) FILTER (WHERE m.part = 'valid'), max(m.ndcg) FILTER (WHERE m.part = 'test')
	FROM metrics('r_search') m;
END $$;
SELECT search_variant(NULL);
SELECT search_variant('{popularity}');
SELECT search_variant('{text,popularity}');
SELECT search_variant('{popularity,position}');
SELECT search_variant('{text,popularity,position}');

-------------------------------------------------------------------------------
-- 2. a learned linear ranker over more no-user features than search has,
-- with tune_search's own objective and coordinate ascent
-- (recsys._search_ndcg / _search_ascent), weights learned on 'fit', the
-- feature set chosen on 'choose'.  Features per (query, match), each
-- min-max normalised over the query's matches:
--   text: BM25; popularity: ln(1 + train buyers) (search's);
--   position: where the query's words end in the description (search's);
--   purchases: ln(1 + train rows); quantity: ln(1 + summed quantity);
--   recent: ln(1 + buyers in train's last 90 days);
--   category: ln(1 + train buyers of the item's product_type (the
--     catalog's category column), summed over its items);
--   query_log: ln(1 + train buyers of the item for this query text in a
--     query log built from train purchases only, each purchase of an item
--     logged under its product_type (Ai et al.'s way of making training
--     queries; no evaluated query is used).  Caution: the evaluated
--     queries are product_types of the bought items too, so this feature
--     knows how the queries were generated: real search logs are noisier.
-- (The fraction of the query's words an item matches is 1 for every
-- match: websearch_to_tsquery ANDs the words; not a feature here.)
-------------------------------------------------------------------------------
CREATE TABLE itemf AS
WITH m AS (SELECT max(ts) AS tmax FROM train)
SELECT t.item_id, count(DISTINCT t.user_id) AS buyers, count(*) AS purchases, sum(t.weight) AS qty,
	   count(DISTINCT t.user_id) FILTER (WHERE t.ts > m.tmax - 90 * 86400) AS buyers90
FROM train t, m GROUP BY t.item_id;
CREATE TABLE categoryf AS
SELECT p.product_type, sum(i.buyers) AS buyers
FROM products p JOIN itemf i USING (item_id) GROUP BY 1;
CREATE TABLE query_log AS
SELECT p.product_type AS query, t.item_id, count(DISTINCT t.user_id) AS buyers
FROM train t JOIN products p USING (item_id) GROUP BY 1, 2;
-- the raw features of every distinct query text's matches
CREATE TABLE raw AS
SELECT d.query, f.item_id,
	   ARRAY[f.text_score, ln(1 + f.popularity_score), f.position_n,
			 ln(1 + coalesce(i.purchases, 0)), ln(1 + coalesce(i.qty, 0)), ln(1 + coalesce(i.buyers90, 0)),
			 ln(1 + coalesce(c.buyers, 0)), ln(1 + coalesce(l.buyers, 0))]::real[] AS x
FROM (SELECT DISTINCT query FROM q) d
	 CROSS JOIN LATERAL recsys._search_features(d.query, NULL, 'als', 'default') f
	 JOIN products p ON p.item_id = f.item_id
	 LEFT JOIN itemf i ON i.item_id = f.item_id
	 LEFT JOIN categoryf c ON c.product_type = p.product_type
	 LEFT JOIN query_log l ON l.query = d.query AND l.item_id = f.item_id;
CREATE TABLE fnames AS SELECT * FROM unnest('{text,popularity,position,purchases,quantity,recent,category,query_log}'::text[])
	WITH ORDINALITY f(name, o);
-- normalised per query (min-max; 0 when all are equal)
CREATE TABLE feat AS
WITH u AS (SELECT r.query, r.item_id, f.o, r.x[f.o] AS v FROM raw r, fnames f),
	 m AS (SELECT query, o, min(v) AS lo, max(v) AS hi FROM u GROUP BY 1, 2)
SELECT u.query, u.item_id,
	   array_agg(coalesce((u.v - m.lo) / nullif(m.hi - m.lo, 0), 0)::real ORDER BY u.o) AS x
FROM u JOIN m USING (query, o) GROUP BY 1, 2;
-- the pairs of the fit rows: (row, competing match), co-relevant ones out
CREATE TABLE fit_rows AS
SELECT row_number() OVER (ORDER BY q.query_id) AS row_id, q.query_id, q.query, q.item_id FROM q WHERE part = 'fit';
CREATE TABLE fit_pairs AS
SELECT r.row_id, (SELECT array_agg(j.x[k] - i.x[k] ORDER BY k) FROM generate_series(1, 8) k) AS diff,
	   j.item_id < i.item_id AS before
FROM fit_rows r
JOIN feat i ON i.query = r.query AND i.item_id = r.item_id
JOIN feat j ON j.query = r.query AND j.item_id <> r.item_id
WHERE NOT EXISTS (SELECT FROM corel c WHERE c.query_id = r.query_id AND c.item_id = j.item_id);
SELECT count(*) AS fit_rows, (SELECT count(*) FROM fit_pairs) AS fit_pairs FROM fit_rows;

CREATE FUNCTION linear_variant(features text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	p_row bigint[];
	p_diff real[];
	p_before boolean[];
	n_rows bigint := (SELECT count(*) FROM fit_rows);
	n_alone bigint := (SELECT count(*) FROM fit_rows r WHERE NOT EXISTS (SELECT FROM fit_pairs p WHERE p.row_id = r.row_id));
	w real[];
	coords integer[] := ARRAY(SELECT o::integer FROM fnames WHERE name = ANY (features) ORDER BY o);
BEGIN
	SELECT array_agg(row_id), array_agg(diff), array_agg(before) INTO p_row, p_diff, p_before FROM fit_pairs;
	-- from popularity 1 (search's default), the others 0
	w := ARRAY(SELECT CASE WHEN name = 'popularity' AND name = ANY (features) THEN 1 ELSE 0 END::real
			   FROM fnames ORDER BY o);
	w := recsys._search_ascent(w, coords, '{-10,-3,-1,-0.3,-0.1,0,0.03,0.1,0.3,1,3,10}', p_row, p_diff, p_before,
							   n_alone, n_rows);
	DROP TABLE IF EXISTS r_lin;
	CREATE TABLE r_lin AS
	SELECT q.query_id, f.item_id,
		   row_number() OVER (PARTITION BY q.query_id
							  ORDER BY (SELECT sum(f.x[k] * w[k]) FROM generate_series(1, 8) k)::real DESC, f.item_id) AS pos
	FROM q JOIN feat f ON f.query = q.query;
	INSERT INTO results
	SELECT 'linear ranker', features::text,
		   (SELECT string_agg(format('%s %s', name, w[o]), ', ' ORDER BY o) FROM fnames WHERE w[o] <> 0),
		   max(m.ndcg) FILTER (WHERE m.part = 'fit'), max(m.ndcg) FILTER (WHERE m.part = 'choose'),
		   max(m.ndcg) FILTER (WHERE m.part = 'valid'), max(m.ndcg) FILTER (WHERE m.part = 'test')
	FROM metrics('r_lin') m;
END $$;
SELECT linear_variant('{popularity}');
SELECT linear_variant('{popularity,purchases}');
SELECT linear_variant('{popularity,quantity}');
SELECT linear_variant('{popularity,recent}');
SELECT linear_variant('{popularity,category}');
SELECT linear_variant('{text,popularity,position}');
SELECT linear_variant('{text,popularity,purchases,quantity,recent}');
SELECT linear_variant('{text,popularity,position,purchases,quantity,recent,category}');
SELECT linear_variant('{popularity,query_log}');
SELECT linear_variant('{text,popularity,position,purchases,quantity,recent,category,query_log}');

\echo '== anonymous search, NDCG@10 (filtered); weights learned on fit, features chosen on choose'
SELECT * FROM results ORDER BY ranker DESC, choose DESC, features;
\echo '== chosen on choose (without the query log: it knows how the queries were made), its test figure'
SELECT ranker, features, choose, test FROM results
WHERE features NOT LIKE '%query_log%' ORDER BY choose DESC, features LIMIT 1;
\echo '== chosen on choose, the query log allowed'
SELECT ranker, features, choose, test FROM results ORDER BY choose DESC, features LIMIT 1;
