-- Weights at the edges of real's range (s9-fix2).  Cosine does not change
-- when every weight is scaled alike, so item-kNN and user-kNN trained on
-- weights times 1e-30, 2^-100 or 1e30 give the lists of the unscaled
-- weights (before: 1e-30 stored no pair at all, only filled lists, and
-- 1e30 none either, without an error); a range whose products leave real
-- is refused (22023).  EASE refuses weights whose squares overflow (22003;
-- before: no list, no error), and the previous version still serves.
SET client_min_messages = warning;
CREATE TABLE wr (user_id bigint, item_id bigint, w float8);
-- by construction: 150 users, 60 items, about a third of the pairs, with
-- weights 1 to 5; each scaled copy is the same data
INSERT INTO wr SELECT u, i, 1 + (u * 7 + i) % 5
FROM generate_series(1, 150) u, generate_series(1, 60) i WHERE (u * 31 + i * 17) % 11 < 4 OR (u + i) % 13 = 0;
CREATE VIEW wr_scaled AS
SELECT user_id, item_id, w, 1::float8 AS ones, w * 1e-30 AS tiny, 1e-30::float8 AS tiny_ones,
	   w * 2 ^ -100 AS pow2, w * 1e30 AS huge,
	   CASE WHEN user_id % 7 = 0 THEN 1e30 ELSE w END AS mixed
FROM wr;

SELECT c AS weight_col, stats ->> 'neighbor_pairs' AS pairs
FROM unnest(ARRAY['w', 'ones', 'tiny', 'tiny_ones', 'pow2', 'huge']) c,
	 LATERAL recsys.train_item_knn('wr_scaled', 10, model => 'wr_' || c, weight_col => c)
ORDER BY 1;

-- by construction: 2^-100 scales exactly, so the lists are bit-identical
SELECT count(*) AS differ_pow2
FROM ((SELECT item_id, rank, neighbor_id, score FROM recsys.item_neighbors WHERE model = 'wr_w'
	   EXCEPT SELECT item_id, rank, neighbor_id, score FROM recsys.item_neighbors WHERE model = 'wr_pow2')
	  UNION ALL
	  (SELECT item_id, rank, neighbor_id, score FROM recsys.item_neighbors WHERE model = 'wr_pow2'
	   EXCEPT SELECT item_id, rank, neighbor_id, score FROM recsys.item_neighbors WHERE model = 'wr_w')) d;
-- 1e-30 and 1e30 are not powers of two: each item's similarities rank by
-- rank within 1e-6 of the unscaled ones (ties may swap neighbours)
SELECT s.model, count(*) AS ranks, count(*) FILTER (WHERE abs(s.score - r.score) <= 1e-6) AS same_score
FROM recsys.item_neighbors r
	 JOIN recsys.item_neighbors s ON s.item_id = r.item_id AND s.rank = r.rank
WHERE r.model = 'wr_w' AND s.model IN ('wr_tiny', 'wr_huge')
GROUP BY s.model ORDER BY 1;
SELECT count(*) AS ranks, count(*) FILTER (WHERE abs(s.score - r.score) <= 1e-6) AS same_score
FROM recsys.item_neighbors r
	 JOIN recsys.item_neighbors s ON s.item_id = r.item_id AND s.rank = r.rank
WHERE r.model = 'wr_ones' AND s.model = 'wr_tiny_ones';
-- user-kNN alike
SELECT c AS weight_col, stats ->> 'neighbor_pairs' AS pairs
FROM unnest(ARRAY['w', 'tiny']) c,
	 LATERAL recsys.train_user_knn('wr_scaled', 10, model => 'wr_users_' || c, weight_col => c)
ORDER BY 1;

-- weights 1 and 1e30 together: products of 1 by 1 are lost next to
-- 1e30's, refused (22023), and the previous version stays
\set VERBOSITY default
SELECT 1 FROM recsys.train_item_knn('wr_scaled', 10, model => 'wr_w', weight_col => 'mixed');
\set VERBOSITY terse
SELECT max(version) AS wr_w_version FROM recsys.model_versions WHERE model = 'wr_w';
-- BM25 is not scale-free: weights whose BM25 weights square below real
-- are refused (22023; before, no pair), weight 1 accepted
SELECT stats ->> 'neighbor_pairs' AS pairs
FROM recsys.train_item_knn('wr_scaled', 10, model => 'wr_bm25', similarity => 'bm25', weight_col => 'ones');
SELECT 1 FROM recsys.train_item_knn('wr_scaled', 10, model => 'wr_bm25', similarity => 'bm25', weight_col => 'tiny');
-- (Jaccard ignores the weights: accepted)
SELECT stats ->> 'neighbor_pairs' AS pairs
FROM recsys.train_item_knn('wr_scaled', 10, model => 'wr_jac', similarity => 'jaccard', weight_col => 'mixed');

-- EASE: weights whose squares overflow real are refused (22003)
SELECT 1 FROM recsys.train_ease('wr_scaled', model => 'wr_ease', weight_col => 'w', neighbors => 10);
SELECT count(DISTINCT item_id) AS items_with_lists FROM recsys.item_neighbors WHERE model = 'wr_ease';
\set VERBOSITY default
SELECT 1 FROM recsys.train_ease('wr_scaled', model => 'wr_ease', weight_col => 'mixed', neighbors => 10);
\set VERBOSITY terse
SELECT 1 FROM recsys.train_ease('wr_scaled', model => 'wr_ease', weight_col => 'huge', neighbors => 10);
SELECT max(version) AS wr_ease_version FROM recsys.model_versions WHERE model = 'wr_ease';

-- train_cf and train_ease: a pair whose weight, its rows' weights summed,
-- is beyond 1e8 in magnitude (ALS's bound on feature values) is refused
-- (22003), naming the weights, the user, the item and the range (s12;
-- before, train_cf failed with 22000 "not positive definite" and a hint
-- to raise regularization, or trained on overflowed confidences)
\set VERBOSITY default
SELECT 1 FROM recsys.train_cf('wr_scaled', model => 'wr_als', weight_col => 'mixed');
\set VERBOSITY terse
SELECT 1 FROM recsys.train_cf('wr_scaled', model => 'wr_als', weight_col => 'huge', feedback => 'explicit');
-- (rows of one pair are summed first: user 1's item 4, 4e7, and two
-- rows of 6e7 make 1.6e8, while each row is within the range)
CREATE VIEW wr_pairs AS
SELECT user_id, item_id, w * 2e7 AS w FROM wr
UNION ALL SELECT 1, 4, 6e7 UNION ALL SELECT 1, 4, 6e7;
SELECT 1 FROM recsys.train_cf('wr_pairs', model => 'wr_als', weight_col => 'w');
SELECT 1 FROM recsys.train_ease('wr_pairs', model => 'wr_ease', weight_col => 'w', neighbors => 10);
-- up to 1e8 trains (weights 2e7 to 1e8)
CREATE VIEW wr_top AS SELECT user_id, item_id, w * 2e7 AS w FROM wr;
SELECT n_users, n_items FROM recsys.train_cf('wr_top', model => 'wr_als', weight_col => 'w');
DROP VIEW wr_pairs, wr_top;
-- implicit ALS: a pair's confidence 1 + alpha * weight beyond 1e9 (alpha
-- times the largest |weight|) is refused before the fit (22023, naming
-- alpha and the weight), as the features' (review s12 W4: alpha 1e5 and
-- weights 1e6 failed after the fit with 22000 "not positive definite" and
-- a hint to raise regularization); explicit feedback has no alpha
CREATE VIEW wr_conf AS
SELECT user_id, item_id, CASE WHEN user_id % 3 = 0 THEN 1e6 ELSE 1 END AS w FROM wr;
\set VERBOSITY default
SELECT 1 FROM recsys.train_cf('wr_conf', factors => 16, model => 'wr_conf', alpha => 1e5, weight_col => 'w',
                              iterations => 5);
\set VERBOSITY terse
SELECT count(*) AS conf_stored FROM recsys.models WHERE name = 'wr_conf';
-- at the bound (alpha 1e3 x 1e6) it trains, with finite factors
SELECT n_users, n_items FROM recsys.train_cf('wr_conf', factors => 16, model => 'wr_conf', alpha => 1e3,
                                             weight_col => 'w', iterations => 5);
SELECT bool_and(f = f AND abs(f) < 'Infinity') AS conf_finite
FROM recsys.item_factors, unnest(factors) f WHERE model = 'wr_conf';
DROP VIEW wr_conf;

SELECT count(*) AS dropped FROM recsys.models m, LATERAL recsys.drop_model(m.name) WHERE m.name LIKE 'wr\_%';
DROP VIEW wr_scaled;
DROP TABLE wr;
