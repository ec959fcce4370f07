-- recsys.train_ease with item features (side information, Jeunen et al. 2020)
CREATE SCHEMA ease_features_test;
SET search_path = ease_features_test, public;
SET extra_float_digits = 0;

-- users 1-12 each buy three of items 1-6; item 7 only by user 13 with item 1
CREATE TABLE purchases (user_id int, item_id int);
INSERT INTO purchases
SELECT u, 1 + (u + j) % 6 FROM generate_series(1, 12) u, generate_series(0, 2 - u % 2) j;
INSERT INTO purchases VALUES (13, 1), (13, 7);
-- colour and size; items 7 and 4 share both, 2 and 3 share "red"; item 99
-- is not in the model, and every item is "item" (it says nothing)
CREATE TABLE feats (item_id bigint, feature text);
INSERT INTO feats VALUES
	(1, 'blue'), (1, 'small'), (2, 'red'), (2, 'large'), (3, 'red'), (3, 'small'),
	(4, 'green'), (4, 'large'), (5, 'blue'), (5, 'large'), (6, 'green'), (6, 'small'),
	(7, 'green'), (7, 'large'), (99, 'green'),
	(1, 'item'), (2, 'item'), (3, 'item'), (4, 'item'), (5, 'item'), (6, 'item'), (7, 'item');

SELECT name, params->>'features' AS features, params->>'feature_weight' AS feature_weight,
	   stats->>'feature_pairs' AS pairs, stats->>'features' AS n_features,
	   stats->>'items_with_features' AS items
FROM recsys.train_ease('purchases', 5, model => 'with_features', features => 'feats', feature_weight => 1);
SELECT (recsys.train_ease('purchases', 5, model => 'plain')).params->>'features' IS NULL AS plain_without_features;

-- item 7 (one buyer, who also bought item 1) moves item 4, which shares
-- its colour and size, up its list: no buyer links them
SELECT model, rank FROM recsys.item_neighbors
WHERE item_id = 7 AND neighbor_id = 4 AND model IN ('plain', 'with_features') ORDER BY 1;

-- Exactly the model's definition: features are extra rows of X.  Feature f
-- of item i becomes a pseudo-user row of weight sqrt(a) v_if, with
-- v_if = idf_f / |v_i| (idf_f = ln(n_items / df_f), 0 when df_f < 2) and
-- a = feature_weight x the mean diagonal of X^T X (the buyers per item).
-- Plain EASE on those rows (as weights: a weighted Gram is sum w_i w_j)
-- must give the same weights.
CREATE VIEW pseudo AS
WITH model_items AS (SELECT DISTINCT item_id FROM purchases),
	 f AS (SELECT DISTINCT f.item_id, f.feature FROM feats f JOIN model_items USING (item_id)),
	 df AS (SELECT feature, count(*) AS df FROM f GROUP BY feature),
	 w AS (SELECT f.item_id, f.feature,
				  CASE WHEN df >= 2 THEN ln((SELECT count(*) FROM model_items) / df::float8) ELSE 0 END AS idf
		   FROM f JOIN df USING (feature)),
	 v AS (SELECT item_id, feature, idf / nullif(sqrt(sum(idf ^ 2) OVER (PARTITION BY item_id)), 0) AS v FROM w),
	 a AS (SELECT 1.0 * (SELECT count(*) FROM purchases) / (SELECT count(*) FROM model_items) AS a)
SELECT 1000 + dense_rank() OVER (ORDER BY feature) AS user_id, item_id, sqrt(a) * v AS weight
FROM v, a WHERE v IS NOT NULL AND v <> 0
UNION ALL
SELECT user_id, item_id, 1 FROM purchases;
SELECT (recsys.train_ease('pseudo', 5, model => 'by_hand', weight_col => 'weight')).name;
SELECT max(abs(a.score - b.score)) < 1e-5 AS same_weights, count(*) AS weights
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b USING (item_id, neighbor_id)
WHERE a.model = 'with_features' AND b.model = 'by_hand';
-- and they do differ from the plain model's
SELECT max(abs(a.score - b.score)) > 0.01 AS differs
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b USING (item_id, neighbor_id)
WHERE a.model = 'with_features' AND b.model = 'plain';

-- feature_weight 0 is the plain model
SELECT (recsys.train_ease('purchases', 5, model => 'weight0', features => 'feats', feature_weight => 0)).name;
SELECT max(abs(a.score - b.score)) = 0 AS same_as_plain
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b USING (item_id, neighbor_id)
WHERE a.model = 'weight0' AND b.model = 'plain';

-- an array column is unnested; NULL items and features are skipped and
-- duplicate rows count once: the same model
CREATE VIEW feats_array AS
SELECT item_id, array_agg(feature) || ARRAY[NULL::text] AS feature FROM feats GROUP BY item_id
UNION ALL SELECT NULL, ARRAY['red'];
CREATE VIEW feats_messy AS
SELECT * FROM feats UNION ALL SELECT * FROM feats
UNION ALL SELECT NULL, 'red' UNION ALL SELECT 3, NULL;
SELECT (recsys.train_ease('purchases', 5, model => 'from_array', features => 'feats_array', feature_weight => 1)).stats->>'feature_pairs' AS pairs,
	   (recsys.train_ease('purchases', 5, model => 'from_messy', features => 'feats_messy', feature_weight => 1)).stats->>'feature_pairs' AS messy_pairs;
SELECT max(abs(a.score - b.score)) = 0 AND max(abs(a.score - c.score)) = 0 AS same_weights
FROM recsys.item_neighbors a
JOIN recsys.item_neighbors b USING (item_id, neighbor_id)
JOIN recsys.item_neighbors c USING (item_id, neighbor_id)
WHERE a.model = 'with_features' AND b.model = 'from_array' AND c.model = 'from_messy';

-- so is a domain over an array
CREATE DOMAIN feature_list AS text[];
CREATE TABLE feats_domain AS SELECT item_id, array_agg(feature)::feature_list AS feature FROM feats GROUP BY item_id;
SELECT (recsys.train_ease('purchases', 5, model => 'from_domain', features => 'feats_domain', feature_weight => 1)).stats->>'feature_pairs' AS pairs;
SELECT max(abs(a.score - b.score)) = 0 AS same_weights
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b USING (item_id, neighbor_id)
WHERE a.model = 'with_features' AND b.model = 'from_domain';

-- features of items the model does not have cost nothing: 200,000 of them
-- on an item nobody bought fit in 1 MB
CREATE TABLE feats_catalog AS
SELECT * FROM feats UNION ALL SELECT 1000000, 'only_' || g FROM generate_series(1, 200000) g;
SET recsys.max_memory = '1MB';
SELECT stats->>'feature_pairs' AS pairs, stats->>'features' AS n_features
FROM recsys.train_ease('purchases', 5, model => 'from_catalog', features => 'feats_catalog', feature_weight => 1);
RESET recsys.max_memory;

-- features of any type compare as text: integer category ids work too
CREATE TABLE feats_int AS SELECT item_id, dense_rank() OVER (ORDER BY feature) AS feature FROM feats;
SELECT (recsys.train_ease('purchases', 5, model => 'from_int', features => 'feats_int', feature_weight => 1)).name;
SELECT max(abs(a.score - b.score)) = 0 AS same_weights
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b USING (item_id, neighbor_id)
WHERE a.model = 'with_features' AND b.model = 'from_int';

-- an empty features table is no features
CREATE TABLE no_feats (item_id int, feature text);
SELECT (recsys.train_ease('purchases', 5, model => 'empty', features => 'no_feats')).stats->>'features' AS n_features;
SELECT max(abs(a.score - b.score)) = 0 AS same_as_plain
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b USING (item_id, neighbor_id)
WHERE a.model = 'empty' AND b.model = 'plain';

-- tune searches feature_weight like any parameter
SELECT rank, params FROM recsys.tune('ease', 'purchases', 'purchases', '{"feature_weight": [0, 1]}',
									 fixed => '{"regularization": 5, "features": "ease_features_test.feats"}', model => 'tuned')
ORDER BY params->>'feature_weight';
SELECT params->>'features' AS features FROM recsys.models WHERE name = 'tuned';
-- other string parameters are not taken for relations ("1 day" is no name)
CREATE VIEW purchases_t AS SELECT *, 0 AS ts FROM purchases;
SELECT rank, params FROM recsys.tune('ease', 'purchases_t', 'purchases_t', '{"half_life": ["1 day", "2 days"]}',
									 fixed => '{"regularization": 5, "time_col": "ts", "features": "ease_features_test.feats"}',
									 model => 'tuned')
ORDER BY params->>'half_life';
-- unless the relation is schema-qualified: tune reads it with its own search_path
SELECT rank FROM recsys.tune('ease', 'purchases', 'purchases', '{"feature_weight": [0, 1]}',
							 fixed => '{"regularization": 5, "features": "feats"}', model => 'tuned');

-- errors
\set VERBOSITY default
SELECT recsys.train_ease('purchases', 5, features => 'feats', feature_weight => -1);
SELECT recsys.train_ease('purchases', 5, features => 'feats', feature_weight => 'NaN');
SELECT recsys.train_ease('purchases', 5, features => 'feats', feature_weight => 'Infinity');
SELECT recsys.train_ease('purchases', 5, features => 'feats', feature_weight => 1001);
SELECT recsys.train_ease('purchases', 5, features => 'feats', feature_weight => NULL);
SELECT recsys.train_ease('purchases', 5, features => 'no_such_table');
CREATE SEQUENCE feats_seq;
SELECT recsys.train_ease('purchases', 5, features => 'feats_seq');
CREATE TABLE feats_renamed (product_id int, feature text);
SELECT recsys.train_ease('purchases', 5, features => 'feats_renamed');
CREATE TABLE feats_no_feature (item_id int, tag text);
SELECT recsys.train_ease('purchases', 5, features => 'feats_no_feature');
CREATE TABLE feats_text_ids (item_id text, feature text);
SELECT recsys.train_ease('purchases', 5, features => 'feats_text_ids');
-- features are held to recsys.max_memory while they are read
CREATE TABLE many_feats AS SELECT i AS item_id, g AS feature FROM generate_series(1, 7) i, generate_series(1, 20000) g;
SET recsys.max_memory = '1MB';
SELECT recsys.train_ease('purchases', 5, features => 'many_feats');
RESET recsys.max_memory;
-- the caller's privileges apply to the features as to the source
CREATE ROLE recsys_features_user;
GRANT USAGE ON SCHEMA ease_features_test TO recsys_features_user;
GRANT SELECT ON purchases TO recsys_features_user;
-- (the recsys tables as doc/operations.md grants them: training checks them first, 0.11.0)
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO recsys_features_user;
SET ROLE recsys_features_user;
SELECT recsys.train_ease('purchases', 5, model => 'not_mine', features => 'feats');
RESET ROLE;
-- a failed training leaves the previous version in place
SELECT recsys.train_ease('purchases', 5, model => 'with_features', features => 'feats_text_ids');
SELECT name, version, params->>'feature_weight' AS feature_weight FROM recsys.models WHERE name = 'with_features';

DROP SCHEMA ease_features_test CASCADE;
SELECT recsys.drop_model(name) FROM recsys.models
WHERE name IN ('with_features', 'plain', 'by_hand', 'weight0', 'from_array', 'from_messy', 'from_domain', 'from_catalog',
			   'from_int', 'empty', 'tuned')
ORDER BY name;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM recsys_features_user;
REVOKE ALL ON SCHEMA recsys FROM recsys_features_user;
DROP ROLE recsys_features_user;
