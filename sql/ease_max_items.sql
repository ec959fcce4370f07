-- train_ease's max_items (0.12.0): EASE over the catalog's items with the
-- most users alone, as if the source held no other item.  The model must
-- equal plain EASE trained on the source restricted to those items (the
-- same weights, options and item features included), record what it
-- kept, never recommend another item, change nothing when the catalog
-- is no larger, and refuse values out of range and differential privacy.
-- train_auto's lighter EASE uses it: its cost model caps the items at
-- max_items, and it is tried only on a larger catalog.
SET client_min_messages = warning;
CREATE SCHEMA ease_cap;
SET search_path = ease_cap, public;
-- 300 users, items 1..80 with skewed popularity (low ids popular), and
-- ties in the counts (broken by the smaller id, as the view below does)
CREATE TABLE cap_src AS
SELECT DISTINCT u AS user_id, 1 + ((u * 37 + k * k * 11) % 97 * ((u + 3 * k) % 89)) % 80 / (1 + k % 3) AS item_id
FROM generate_series(1, 300) u, generate_series(1, 14) k;
CREATE VIEW cap_top AS
SELECT s.* FROM cap_src s
JOIN (SELECT item_id FROM cap_src GROUP BY item_id ORDER BY count(DISTINCT user_id) DESC, item_id LIMIT 30) k
USING (item_id);
SELECT count(DISTINCT item_id) AS items,
	   (SELECT count(*) FROM (SELECT count(*) FROM cap_src GROUP BY item_id) c) > 30 AS larger_than_cap
FROM cap_src;
SELECT n_items, params->'max_items' AS max_items, stats->'items_modelled' AS items_modelled
FROM recsys.train_ease('cap_src', 50, model => 'cap_a', max_items => 30, user_exponent => 0.5,
					   popularity_exponent => 0.25, dropout => 0.25);
SELECT n_items, params->'max_items' AS max_items, stats->'items_modelled' AS items_modelled
FROM recsys.train_ease('cap_top', 50, model => 'cap_b', user_exponent => 0.5,
					   popularity_exponent => 0.25, dropout => 0.25);
-- the same weights (both ways: no pair in one model only)
SELECT count(*) AS pairs,
	   count(*) FILTER (WHERE a.score IS NULL OR b.score IS NULL) AS in_one_only,
	   max(abs(a.score - b.score)) < 1e-5 AS same_weights
FROM (SELECT * FROM recsys.item_neighbors WHERE model = 'cap_a') a
FULL JOIN (SELECT * FROM recsys.item_neighbors WHERE model = 'cap_b') b USING (item_id, neighbor_id);
-- lists only for the 30 items, and no other item recommended
SELECT count(DISTINCT item_id) AS items_with_lists FROM recsys.item_neighbors WHERE model = 'cap_a';
SELECT count(*) > 0 AS recommended,
	   count(*) FILTER (WHERE r.item_id NOT IN (SELECT item_id FROM cap_top)) AS outside_the_cap
FROM generate_series(1, 300) u, recsys.recommend(u, 10, 'cap_a') r;

-- with item features: the same as the restricted source with them
CREATE TABLE cap_features AS
SELECT i AS item_id, 'f' || (i % 7) AS feature FROM generate_series(1, 80) i
UNION ALL SELECT i, 'g' || (i % 5) FROM generate_series(1, 80) i;
SELECT stats->'items_modelled' AS items_modelled
FROM recsys.train_ease('cap_src', 50, model => 'cap_fa', max_items => 30, features => 'cap_features',
					   feature_weight => 1);
SELECT stats->'items_modelled' AS items_modelled
FROM recsys.train_ease('cap_top', 50, model => 'cap_fb', features => 'cap_features', feature_weight => 1);
SELECT count(*) AS pairs,
	   count(*) FILTER (WHERE a.score IS NULL OR b.score IS NULL) AS in_one_only,
	   max(abs(a.score - b.score)) < 1e-5 AS same_weights
FROM (SELECT * FROM recsys.item_neighbors WHERE model = 'cap_fa') a
FULL JOIN (SELECT * FROM recsys.item_neighbors WHERE model = 'cap_fb') b USING (item_id, neighbor_id);

-- a cap at or above the catalog's items changes nothing
SELECT stats->'items_modelled' AS items_modelled FROM recsys.train_ease('cap_src', 50, model => 'cap_c', max_items => 80);
SELECT stats->'items_modelled' AS items_modelled FROM recsys.train_ease('cap_src', 50, model => 'cap_d');
SELECT count(*) AS pairs, count(*) FILTER (WHERE a.score IS DISTINCT FROM b.score) AS differing
FROM (SELECT * FROM recsys.item_neighbors WHERE model = 'cap_c') a
FULL JOIN (SELECT * FROM recsys.item_neighbors WHERE model = 'cap_d') b USING (item_id, neighbor_id);

-- out of range, and with differential privacy
SELECT recsys.train_ease('cap_src', 50, model => 'cap_e', max_items => 1);
SELECT recsys.train_ease('cap_src', 50, model => 'cap_e', max_items => 0);
SELECT recsys.train_ease('cap_src', 50, model => 'cap_e', max_items => -3);
SELECT recsys.train_ease('cap_src', 50, model => 'cap_e', max_items => 30, epsilon => 1);
SELECT count(*) AS models_e FROM recsys.models WHERE name = 'cap_e';

-- train_auto's side: the cost model caps the cubic and scoring terms at
-- max_items (8e-9 x 200^3 + 1e-6 x 10 x 200 against 1,000 items)
SELECT round(recsys._auto_cost('{"items3": 8e-9, "scores": 1e-6, "max_items": 200}',
							   '{"rows": 0, "users": 0, "items": 1000, "valid_users": 10}')::numeric, 4) AS capped,
	   round(recsys._auto_cost('{"items3": 8e-9, "scores": 1e-6}',
							   '{"rows": 0, "users": 0, "items": 1000, "valid_users": 10}')::numeric, 4) AS whole,
	   round(recsys._auto_cost('{"items3": 8e-9, "scores": 1e-6, "max_items": 2000}',
							   '{"rows": 0, "users": 0, "items": 1000, "valid_users": 10}')::numeric, 4) AS above;
-- every EASE family has the lighter setting, on both protocols
SELECT f.protocol, s.family, s.lighter -> 'fixed' AS fixed, s.lighter -> 'cost' ->> 'max_items' AS cost_cap
FROM (VALUES ('holdout'), ('last')) f(protocol),
	 recsys._auto_families(f.protocol, 'ts', NULL, 'cap_features') s
WHERE s.algorithm = 'ease' ORDER BY 1, 2;

-- train_auto end to end, without an 8,000-item fit (seconds each): on a
-- catalog above the cap whose standard EASE recsys.max_memory refuses,
-- the lighter setting is tried (and refused too at 100 MB); on one below
-- the cap it is not (the same model: no second try).  9,000 and 7,000
-- items, each the item of 3 users in sliding windows of 45
CREATE TABLE cap_wide AS SELECT u AS user_id, (u * 15 + k) % 9000 AS item_id
FROM generate_series(0, 599) u, generate_series(0, 44) k;
CREATE TABLE cap_narrow AS SELECT u AS user_id, (u * 15 + k) % 7000 AS item_id
FROM generate_series(0, 466) u, generate_series(0, 44) k;
-- (a quarter of each user's items held out: an item leaves the train part
-- only when its 3 users all hold it out, about 1 in 64)
SELECT (SELECT count(DISTINCT item_id) FROM cap_wide) AS wide_items,
	   (SELECT count(DISTINCT item_id) FROM cap_narrow) AS narrow_items;
BEGIN;
SET LOCAL recsys.max_memory = 100;
SELECT count(*) > 0 AS trained
FROM recsys.train_auto('cap_wide', model => 'cap_auto_wide', families => '{ease,popular}', budget => '1 minute');
SELECT c -> 'params' ->> 'max_items' AS max_items, c ->> 'status' LIKE 'skipped: training needs%' AS skipped_for_memory
FROM recsys.models m, jsonb_array_elements(m.metrics -> 'train_auto' -> 'candidates') c
WHERE m.name = 'cap_auto_wide' AND c ->> 'family' = 'ease' ORDER BY (c ->> 'n')::integer;
SELECT count(*) > 0 AS trained
FROM recsys.train_auto('cap_narrow', model => 'cap_auto_narrow', families => '{ease,popular}', budget => '1 minute');
SELECT c -> 'params' ->> 'max_items' AS max_items, c ->> 'status' LIKE 'skipped: training needs%' AS skipped_for_memory
FROM recsys.models m, jsonb_array_elements(m.metrics -> 'train_auto' -> 'candidates') c
WHERE m.name = 'cap_auto_narrow' AND c ->> 'family' = 'ease' ORDER BY (c ->> 'n')::integer;
ROLLBACK;

SELECT recsys.drop_model(m) FROM unnest(ARRAY['cap_a', 'cap_b', 'cap_fa', 'cap_fb', 'cap_c', 'cap_d']) m;
RESET search_path;
DROP SCHEMA ease_cap CASCADE;
