-- test/bench/search_anonymous.sql: the measurement of search_anonymous.sh.
-- Expects products, queries, train, the model als and the catalog 'default'.

-- validation / test inside the even half (as search.sql)
CREATE TABLE q AS
SELECT query_id, user_id, query, item_id,
	   CASE WHEN get_byte(decode(md5('42:' || query_id), 'hex'), 15) % 2 = 0 THEN 'valid' ELSE 'test' END AS part
FROM queries;
CREATE TABLE corel AS
SELECT q.query_id, o.item_id FROM q JOIN q o ON o.user_id = q.user_id AND o.query = q.query AND o.query_id <> q.query_id;
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
	FROM r, LATERAL (VALUES (r.part), ('all')) p(part)
	GROUP BY p.part ORDER BY p.part$q$, ranked);
END
$$;
CREATE TABLE feats AS
SELECT q.query_id, f.item_id, f.text_score, f.popularity_score, f.text_n
FROM q, LATERAL recsys._search_features(q.query, NULL, 'als', 'default') f;
-- item features from train only (ts in seconds)
CREATE TABLE itemf AS
WITH m AS (SELECT max(ts) AS tmax FROM train)
SELECT t.item_id, count(DISTINCT t.user_id) AS buyers, count(*) AS purchases, sum(t.weight) AS qty,
	   sum(exp(-ln(2) * (m.tmax - t.ts) / (30 * 86400.0))) AS rec30,
	   sum(exp(-ln(2) * (m.tmax - t.ts) / (90 * 86400.0))) AS rec90,
	   sum(exp(-ln(2) * (m.tmax - t.ts) / (180 * 86400.0))) AS rec180,
	   sum(exp(-ln(2) * (m.tmax - t.ts) / (365 * 86400.0))) AS rec365,
	   count(DISTINCT t.user_id) FILTER (WHERE t.ts > m.tmax - 90 * 86400) AS buyers90
FROM train t, m GROUP BY t.item_id;
-- NDCG@10 on both halves of the matches ranked by one expression
CREATE FUNCTION try(expr text) RETURNS TABLE (feature text, part text, ndcg numeric) LANGUAGE plpgsql AS $$
BEGIN
	DROP TABLE IF EXISTS r_try;
	EXECUTE format('CREATE TABLE r_try AS SELECT f.query_id, f.item_id, row_number() OVER (PARTITION BY f.query_id ORDER BY %s DESC, f.item_id) AS pos FROM feats f LEFT JOIN itemf i ON i.item_id = f.item_id', expr);
	RETURN QUERY SELECT expr, m.part, m.ndcg FROM metrics('r_try') m WHERE m.part <> 'all';
END $$;
SET client_min_messages = warning;
SELECT * FROM try('f.popularity_score')
UNION ALL SELECT * FROM try('coalesce(i.purchases, 0)')
UNION ALL SELECT * FROM try('coalesce(i.qty, 0)')
UNION ALL SELECT * FROM try('coalesce(i.rec30, 0)')
UNION ALL SELECT * FROM try('coalesce(i.rec90, 0)')
UNION ALL SELECT * FROM try('coalesce(i.rec180, 0)')
UNION ALL SELECT * FROM try('coalesce(i.rec365, 0)')
UNION ALL SELECT * FROM try('coalesce(i.buyers90, 0)')
UNION ALL SELECT * FROM try('coalesce(i.buyers, 0) + coalesce(i.qty, 0) / 1e9')
UNION ALL SELECT * FROM try('coalesce(i.buyers, 0) + coalesce(i.rec365, 0) / 1e9')
UNION ALL SELECT * FROM try('ln(1 + coalesce(i.buyers, 0)) + 0.1 * ln(1 + coalesce(i.qty, 0))')
UNION ALL SELECT * FROM try('ln(1 + coalesce(i.buyers, 0)) + 0.3 * ln(1 + coalesce(i.qty, 0))')
UNION ALL SELECT * FROM try('ln(1 + coalesce(i.buyers, 0)) + 1.0 * ln(1 + coalesce(i.qty, 0))')
UNION ALL SELECT * FROM try('ln(1 + coalesce(i.buyers, 0)) + 0.5 * ln(1 + coalesce(i.rec90, 0))')
UNION ALL SELECT * FROM try('ln(1 + coalesce(i.buyers, 0)) + 0.1 * ln(1 + coalesce(i.rec365, 0))')
UNION ALL SELECT * FROM try('ln(1 + coalesce(i.buyers, 0)) + 0.05 * f.text_n')
ORDER BY 2 DESC, 3 DESC;
