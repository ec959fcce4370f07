-- recsys.compressed_scan: a factor model of 5,000 items ranks through the
-- int8 copy of its item factors and re-scores the best exactly; the
-- rankings equal the fp32 scan's (items and order, scores to float
-- rounding) for known users, folded-in users, sessions, vectors and an
-- explicit model.
SET recsys.threads = 1;
CREATE TABLE cs_events AS
SELECT u AS user_id, (((u - 1) * 30 + j - 1) * 7 % 5000)::bigint AS item_id,
       1 + (u + j) % 5 AS rating
FROM generate_series(1, 400) AS u, generate_series(1, 30) AS j;
SELECT recsys.train_cf('cs_events', factors => 16, model => 'cs', iterations => 3) IS NOT NULL AS trained;
SELECT recsys.train_cf('cs_events', factors => 15, model => 'cs_explicit', feedback => 'explicit',
                       iterations => 3, weight_col => 'rating') IS NOT NULL AS trained;
SELECT recsys.train_cf('cs_events', factors => 16, model => 'cs_fold', iterations => 3,
                       store_users => false) IS NOT NULL AS trained;
-- enough items for the compressed copy (from 4,096)
SELECT count(DISTINCT item_id) >= 4096 AS compressed FROM cs_events;
SHOW recsys.compressed_scan;

-- every ranking under both settings, side by side
CREATE TEMP TABLE cs_runs (setting text, query text, rank bigint, item_id bigint, score real);
CREATE FUNCTION cs_collect(setting text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('recsys.compressed_scan', setting, false);
	INSERT INTO cs_runs
	SELECT setting, m || ':' || u, r.o, r.item_id, r.score
	FROM unnest(ARRAY['cs', 'cs_explicit', 'cs_fold']) AS m, generate_series(1, 400, 13) AS u,
	     LATERAL recsys.recommend(u, 10, m) WITH ORDINALITY AS r(item_id, score, reason, o);
	INSERT INTO cs_runs
	SELECT setting, 'unknown:' || m, r.o, r.item_id, r.score
	FROM unnest(ARRAY['cs', 'cs_explicit']) AS m,
	     LATERAL recsys.recommend(999999, 10, m) WITH ORDINALITY AS r(item_id, score, reason, o);
	INSERT INTO cs_runs
	SELECT setting, 'k200', r.o, r.item_id, r.score
	FROM recsys.recommend(5, 200, 'cs') WITH ORDINALITY AS r(item_id, score, reason, o);
	INSERT INTO cs_runs
	SELECT setting, 'session', r.o, r.item_id, r.score
	FROM recsys.recommend_session(ARRAY[1, 2, 3, 4000]::bigint[], 10, 'cs') WITH ORDINALITY AS r(item_id, score, reason, o);
	INSERT INTO cs_runs
	SELECT setting, 'vector', r.o, r.item_id, r.score
	FROM recsys.recommend_for_vector((SELECT recsys.fold_in(i, 1, 'cs') FROM unnest(ARRAY[7, 8, 9]::bigint[]) AS i), 10, 'cs',
	                                 ARRAY[7]::bigint[]) WITH ORDINALITY AS r(item_id, score, o);
	-- a constant vector: ties everywhere, broken by the smaller item id
	INSERT INTO cs_runs
	SELECT setting, 'ties', r.o, r.item_id, r.score
	FROM recsys.recommend_for_vector(array_fill(0::real, ARRAY[16]), 10, 'cs') WITH ORDINALITY AS r(item_id, score, o);
END $$;
SELECT cs_collect('off');
SELECT cs_collect('on');
-- The same items in the same order, up to near-ties: fp32 scores of items
-- with (nearly) the same factors differ in their last bits between sgemv
-- (the plain scan) and the re-scoring's dot product, which can swap two
-- such items.  So an item only one setting returns must score within
-- float rounding of the other setting's last item, and the scores rank by
-- rank must agree to float rounding.
SELECT a.setting, count(*) AS beyond_rounding
FROM cs_runs a
WHERE NOT EXISTS (SELECT 1 FROM cs_runs b
                  WHERE b.setting <> a.setting AND b.query = a.query AND b.item_id = a.item_id)
  AND abs(a.score - (SELECT min(b.score) FROM cs_runs b WHERE b.setting <> a.setting AND b.query = a.query))
      > 1e-5 * (1 + abs(a.score))
GROUP BY a.setting;
SELECT count(*) AS rows_compared,
       count(*) FILTER (WHERE abs(a.score - b.score) > 1e-5 * (1 + abs(b.score))) AS scores_beyond_rounding
FROM cs_runs a JOIN cs_runs b USING (query, rank)
WHERE a.setting = 'on' AND b.setting = 'off';
-- the ties: the ten smallest item ids
SELECT array_agg(item_id ORDER BY rank) FROM cs_runs WHERE setting = 'on' AND query = 'ties';

RESET recsys.compressed_scan;
SELECT recsys.drop_model(m) FROM unnest(ARRAY['cs', 'cs_explicit', 'cs_fold']) AS m;
DROP FUNCTION cs_collect(text);
DROP TABLE cs_events;
