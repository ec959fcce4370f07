-- test/bench/search.sql: the measurement of test/bench/search.sh (issue 14).
-- Expects tables products, queries, train (loaded by search.sh), a catalog
-- 'default' and the models als, ease and blend_1_1
-- trained on train.

-- validation / test inside the even half (README of the search set)
CREATE TABLE q AS
SELECT query_id, user_id, query, item_id,
	   CASE WHEN get_byte(decode(md5('42:' || query_id), 'hex'), 15) % 2 = 0 THEN 'valid' ELSE 'test' END AS part
FROM queries;
CREATE TABLE q_valid AS SELECT user_id, query, item_id FROM q WHERE part = 'valid';

-- the co-relevant items of a query: the items of the other rows with the
-- same user and query, removed from its ranking ("filtered")
CREATE TABLE corel AS
SELECT q.query_id, o.item_id FROM q JOIN q o ON o.user_id = q.user_id AND o.query = q.query AND o.query_id <> q.query_id;

-- NDCG@10, MRR@10, HR@10 of a ranking table (query_id, item_id, pos):
-- rank = position of the relevant item once the co-relevant ones are out
CREATE FUNCTION metrics(ranked regclass)
RETURNS TABLE (part text, ndcg numeric, mrr numeric, hr numeric, n bigint)
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
	SELECT p.part, round(avg(CASE WHEN rank <= 10 THEN 1 / log(2, rank + 1) ELSE 0 END), 4),
		   round(avg(CASE WHEN rank <= 10 THEN 1.0 / rank ELSE 0 END), 4),
		   round(avg(CASE WHEN rank <= 10 THEN 1 ELSE 0 END), 4), count(*)
	FROM r, LATERAL (VALUES (r.part), ('all')) p(part)
	GROUP BY p.part ORDER BY p.part$q$, ranked);
END
$$;

-- features of every query (text, popularity; personal for the user) with ALS
\timing on
CREATE TABLE feats AS
SELECT q.query_id, f.*
FROM q, LATERAL recsys._search_features(q.query, q.user_id, 'als', 'default') f;
\timing off

-- baselines from the features: (c) BM25, (d) popularity
CREATE TABLE r_bm25 AS SELECT query_id, item_id, row_number() OVER (PARTITION BY query_id ORDER BY text_score DESC, item_id) AS pos FROM feats;
CREATE TABLE r_pop AS SELECT query_id, item_id, row_number() OVER (PARTITION BY query_id ORDER BY popularity_score DESC, item_id) AS pos FROM feats;
CREATE TABLE r_model AS SELECT query_id, item_id, row_number() OVER (PARTITION BY query_id ORDER BY personal_score DESC NULLS LAST, item_id) AS pos FROM feats;
CREATE TABLE r_model_unseen AS SELECT query_id, item_id, row_number() OVER (PARTITION BY query_id ORDER BY personal_score DESC NULLS LAST, item_id) AS pos FROM feats WHERE NOT bought;

\echo '== baselines (filtered; README: BM25 all 0.3267/0.2373/0.6192, popularity all 0.5179/0.4150/0.8483)'
SELECT 'c) BM25' AS ranker, * FROM metrics('r_bm25')
UNION ALL SELECT 'd) popularity', * FROM metrics('r_pop')
UNION ALL SELECT 'e) ALS score', * FROM metrics('r_model')
UNION ALL SELECT 'e'') ALS score, bought removed', * FROM metrics('r_model_unseen');

-- tune on the validation queries only, for every model; keep the model
-- whose tuned weights score best on validation (tune_search reports it)
CREATE TABLE tuned (model text, weights jsonb);
\timing on
INSERT INTO tuned SELECT m, recsys.tune_search('default', 'q_valid', m)
FROM unnest('{als,ease,blend_1_1}'::text[]) m;
\timing off
SELECT model, weights -> 'tuned' ->> 'ndcg@10' AS valid_ndcg, weights ->> 'personal' AS personal,
	   weights ->> 'anonymous' AS anonymous
FROM tuned ORDER BY 2 DESC;
SELECT model AS best FROM tuned ORDER BY weights -> 'tuned' -> 'ndcg@10' DESC, model LIMIT 1 \gset
UPDATE recsys.catalogs SET weights = t.weights FROM tuned t WHERE t.model = :'best';
\echo '== chosen on validation:' :best

-- recsys.search itself, personalised and anonymous (k = 10 + the number of
-- co-relevant items, which the metric removes)
\timing on
CREATE TABLE r_search AS
SELECT q.query_id, s.item_id, s.pos
FROM q, LATERAL (SELECT r.item_id, row_number() OVER () AS pos
				 FROM recsys.search(q.query, q.user_id,
									10 + (SELECT count(*)::integer FROM corel c WHERE c.query_id = q.query_id),
									model => :'best') r) s;
\timing off
CREATE TABLE r_search_anon AS
SELECT q.query_id, s.item_id, s.pos
FROM q, LATERAL (SELECT r.item_id, row_number() OVER () AS pos
				 FROM recsys.search(q.query, NULL,
									10 + (SELECT count(*)::integer FROM corel c WHERE c.query_id = q.query_id),
									model => :'best') r) s;
\echo '== recsys.search with the tuned weights (test = tuned on the other part)'
SELECT 'search, personalised' AS ranker, * FROM metrics('r_search')
UNION ALL SELECT 'search, anonymous', * FROM metrics('r_search_anon');
