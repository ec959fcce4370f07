-- Review of s18 (train_ease max_items).  Each query states what the docs
-- promise; the expected output is the promise, so a failure is a finding.
SET client_min_messages = warning;
CREATE SCHEMA rv18;
SET search_path = rv18, public;
CREATE TABLE src AS
SELECT DISTINCT u AS user_id, 1 + ((u * 37 + k * k * 11) % 97 * ((u + 3 * k) % 89)) % 80 / (1 + k % 3) AS item_id
FROM generate_series(1, 300) u, generate_series(1, 14) k;
-- user 1000: only the three least popular items (all dropped by max_items 5)
INSERT INTO src SELECT 1000, item_id
FROM (SELECT item_id FROM src GROUP BY item_id ORDER BY count(*), item_id DESC LIMIT 3) x;
CREATE VIEW kept AS
SELECT item_id FROM src GROUP BY item_id ORDER BY count(DISTINCT user_id) DESC, item_id LIMIT 5;
SELECT n_items, stats->'items_modelled' AS items_modelled
FROM recsys.train_ease('src', 50, model => 'rv18_a', max_items => 5);

-- R1 (CHANGELOG: "the others get no list and are never recommended";
-- reference.md: "neither evidence about a user nor recommended")
-- a known user, k above the items modelled: expected 0 dropped items
SELECT count(*) FILTER (WHERE item_id NOT IN (SELECT item_id FROM kept)) AS dropped_recommended
FROM recsys.recommend(1, 20, 'rv18_a');
-- an unknown user (fallback): expected 0 dropped items
SELECT count(*) FILTER (WHERE item_id NOT IN (SELECT item_id FROM kept)) AS dropped_recommended
FROM recsys.recommend(99999, 8, 'rv18_a');
-- reference.md: "a user who has only them gets the model's fallback":
-- expected the same items, scores and reason as the unknown user
SELECT (SELECT array_agg(item_id || ':' || round(score::numeric, 4) || ':' || reason) FROM recsys.recommend(1000, 3, 'rv18_a'))
	   = (SELECT array_agg(item_id || ':' || round(score::numeric, 4) || ':' || reason) FROM recsys.recommend(99999, 3, 'rv18_a'))
	   AS only_dropped_gets_fallback,
	   recsys.score(1000, (SELECT min(item_id) FROM kept), 'rv18_a')
	   = recsys.score(99999, (SELECT min(item_id) FROM kept), 'rv18_a') AS same_score;
-- "as if the source held no other item": the same recommendations as
-- EASE on the restricted source (k 5 with 5 items modelled)
CREATE VIEW src_top AS SELECT s.* FROM src s JOIN kept USING (item_id);
SELECT n_items FROM recsys.train_ease('src_top', 50, model => 'rv18_b');
SELECT count(*) AS users_differing
FROM generate_series(1, 300) u
WHERE (SELECT array_agg(item_id ORDER BY item_id) FROM recsys.recommend(u, 5, 'rv18_a'))
	  IS DISTINCT FROM (SELECT array_agg(item_id ORDER BY item_id) FROM recsys.recommend(u, 5, 'rv18_b'));

-- R2: the lighter EASE's cost model on a catalog just above 8,000 items
-- (8,001: the cap drops one item, so the fit is the standard one's):
-- expected at least half the standard setting's modelled seconds
SELECT f.family,
	   recsys._auto_cost(f.lighter -> 'cost', c.ctx) >= 0.5 * recsys._auto_cost(f.cost, c.ctx) AS lighter_not_underestimated
FROM recsys._auto_families('holdout', NULL, NULL, NULL) f,
	 (VALUES ('{"rows": 2e7, "users": 50000, "items": 8001, "valid_users": 5000}'::jsonb)) c(ctx)
WHERE f.algorithm = 'ease' ORDER BY f.family;

-- R3: time_col and half_life: a user's ages are counted back from his
-- latest interaction, a dropped item's included.  User 5000 took two
-- popular items and, 300 days later, an unpopular (dropped) one: the
-- capped model's scores of his kept items underflow to 0 (ranked by
-- index), the restricted model ranks them.  Expected: the same items.
CREATE TABLE tsrc AS SELECT user_id, item_id,
	timestamptz '2024-01-01' + ((user_id + item_id) % 20) * interval '1 hour' AS ts
FROM src WHERE user_id <> 1000;
INSERT INTO tsrc VALUES (5000, 1, '2024-01-01'), (5000, 17, '2024-01-01'), (5000, 80, '2024-10-27');
CREATE VIEW tsrc_top AS SELECT s.* FROM tsrc s
JOIN (SELECT item_id FROM tsrc GROUP BY item_id ORDER BY count(DISTINCT user_id) DESC, item_id LIMIT 10) k USING (item_id);
SELECT n_items FROM recsys.train_ease('tsrc', 50, model => 'rv18_ta', time_col => 'ts', half_life => '1 day', max_items => 10);
SELECT n_items FROM recsys.train_ease('tsrc_top', 50, model => 'rv18_tb', time_col => 'ts', half_life => '1 day');
SELECT (SELECT array_agg(item_id ORDER BY item_id) FROM recsys.recommend(5000, 4, 'rv18_ta'))
	   = (SELECT array_agg(item_id ORDER BY item_id) FROM recsys.recommend(5000, 4, 'rv18_tb')) AS same_items,
	   (SELECT max(score) FROM recsys.recommend(5000, 4, 'rv18_ta')) > 0 AS capped_scores_positive;

-- R4: the features stats describe the items modelled ("the item
-- features of those items"): expected 10 items with features, as the
-- restricted source gives
CREATE TABLE feat AS SELECT i AS item_id, 'f' || (i % 7) AS feature FROM generate_series(1, 80) i
UNION ALL SELECT i, 'only_dropped' FROM generate_series(60, 80) i;
CREATE VIEW top10 AS SELECT s.* FROM src s
JOIN (SELECT item_id FROM src GROUP BY item_id ORDER BY count(DISTINCT user_id) DESC, item_id LIMIT 10) k USING (item_id);
SELECT a.stats->'items_with_features' AS capped_items_with_features, b.stats->'items_with_features' AS restricted,
	   a.stats->'features' AS capped_features, b.stats->'features' AS restricted_features
FROM recsys.train_ease('src', 50, model => 'rv18_fa', max_items => 10, features => 'feat', feature_weight => 1) a,
	 recsys.train_ease('top10', 50, model => 'rv18_fb', features => 'feat', feature_weight => 1) b;

SELECT recsys.drop_model(m) FROM unnest(ARRAY['rv18_a', 'rv18_b', 'rv18_ta', 'rv18_tb', 'rv18_fa', 'rv18_fb']) m;
RESET search_path;
DROP SCHEMA rv18 CASCADE;
