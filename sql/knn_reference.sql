-- recsys.similar_items of an item-kNN model against cosine similarity
-- computed by brute force in SQL: every pair of items, from the table.
CREATE SCHEMA knn_ref;
SET search_path = knn_ref, public;
SET extra_float_digits = 0;

-- 25 users, items 1-14 with fractional weights; items
-- 13 and 14 bought by the same users with the same weights (exact ties)
CREATE TABLE ratings AS
SELECT user_id, item_id, (1 + (user_id * item_id) % 7) / 2.0 AS w
FROM generate_series(1, 25) user_id, generate_series(1, 12) item_id
WHERE (user_id * 3 + item_id * 5) % 4 <> 0 AND (user_id + item_id) % 3 <> 0;
INSERT INTO ratings
SELECT user_id, item_id, 2.5 FROM generate_series(1, 25, 4) user_id, generate_series(13, 14) item_id;

SELECT (recsys.train_item_knn('ratings', 50, model => 'ref_knn', weight_col => 'w')).n_items;
SELECT (recsys.train_item_knn('ratings', 3, model => 'ref_knn3', weight_col => 'w')).n_items;

-- the reference: cosine of every pair of distinct items sharing a user
CREATE TABLE reference AS
WITH norms AS (SELECT item_id, sqrt(sum(w * w)) AS norm FROM ratings GROUP BY item_id)
SELECT a.item_id AS item, b.item_id AS neighbor,
	   sum(a.w * b.w) / (na.norm * nb.norm) AS cosine
FROM ratings a JOIN ratings b ON a.user_id = b.user_id AND a.item_id <> b.item_id
JOIN norms na ON na.item_id = a.item_id JOIN norms nb ON nb.item_id = b.item_id
GROUP BY a.item_id, b.item_id, na.norm, nb.norm;

-- all neighbours kept: the same pairs, the same scores
SELECT count(*) AS pairs,
	   count(*) FILTER (WHERE r.item IS NULL OR s.item IS NULL) AS missing_or_extra,
	   max(abs(r.cosine - s.score)) < 1e-6 AS same_scores
FROM reference r
FULL JOIN (SELECT i.item_id AS item, x.item_id AS neighbor, x.score
		   FROM generate_series(1, 14) i(item_id), recsys.similar_items(i.item_id, 50, 'ref_knn') x) s
	ON (s.item, s.neighbor) = (r.item, r.neighbor);
-- best first
SELECT bool_and(ordered) AS best_first FROM (
	SELECT score <= lag(score) OVER (PARTITION BY i ORDER BY n) OR lag(score) OVER (PARTITION BY i ORDER BY n) IS NULL AS ordered
	FROM generate_series(1, 14) i, recsys.similar_items(i, 50, 'ref_knn') WITH ORDINALITY x(item_id, score, n)) o;

-- 3 neighbours kept: each item's 3 best scores, and every returned
-- neighbour scores at least the reference's 3rd best (ties may go either way)
SELECT i, array_agg(round(score::numeric, 5) ORDER BY n) AS knn_top3,
	   (SELECT array_agg(round(cosine::numeric, 5) ORDER BY cosine DESC) FROM
			(SELECT cosine FROM reference WHERE item = i ORDER BY cosine DESC LIMIT 3) t) AS reference_top3,
	   bool_and((SELECT cosine FROM reference WHERE item = i AND neighbor = x.item_id) >=
				(SELECT min(cosine) FROM (SELECT cosine FROM reference WHERE item = i
										  ORDER BY cosine DESC LIMIT 3) t) - 1e-6) AS among_best
FROM generate_series(1, 14) i
LEFT JOIN LATERAL recsys.similar_items(i, 3, 'ref_knn3') WITH ORDINALITY x(item_id, score, n) ON true
GROUP BY i ORDER BY i;

SELECT recsys.drop_model('ref_knn');
SELECT recsys.drop_model('ref_knn3');
DROP SCHEMA knn_ref CASCADE;
