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

SELECT recsys.drop_model(m) FROM unnest(ARRAY['rv18_a', 'rv18_b']) m;
RESET search_path;
DROP SCHEMA rv18 CASCADE;
