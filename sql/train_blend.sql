-- recsys.train_blend: a weighted sum of models' standardised scores
CREATE SCHEMA blend_test;
SET search_path = blend_test, public;
SET extra_float_digits = 0;

-- 30 users, items 100-139, each user buys 12 items with a quantity
CREATE TABLE purchases AS
SELECT u AS user_id, 100 + (u * 7 + j * 3) % 40 AS item_id, 1 + (u + j) % 3 AS qty
FROM generate_series(1, 30) u, generate_series(0, 11) j;
CREATE INDEX ON purchases (user_id);

SELECT (recsys.train_ease('purchases', 10, model => 'ease')).name;
SELECT (recsys.train_cf('purchases', 4, model => 'als', iterations => 8, seed => 7)).name;
-- quantities as weights: this member cannot take the blend's (binary) reads
SELECT (recsys.train_item_knn('purchases', 20, model => 'knn', weight_col => 'qty')).name;
SELECT (recsys.train_popular('purchases', model => 'pop')).name;

-- the blend is a model like any other: a catalog row with its members,
-- the first member's source, columns, items and popularity
SELECT name, version, algorithm, source, n_users, n_items, n_interactions,
	   params->'members' AS members, params->'weights' AS weights, params->>'user_col' AS user_col,
	   stats->'member_versions' AS member_versions
FROM recsys.train_blend('{ease,als}', '{1,0.5}', 'mix');
SELECT count(*) AS same_item_stats
FROM recsys.item_stats a JOIN recsys.item_stats b USING (item_id, n_users, weight_sum, popularity)
WHERE a.model = 'ease' AND b.model = 'mix';

-- Its score, by hand: each member's scores of all 40 items for the user,
-- standardised (mean 0, population standard deviation 1), times the
-- member's weight, summed.  Checked for every user and item.
CREATE FUNCTION blend_by_hand(blend text, members text[], weights real[], last_item int DEFAULT 139)
RETURNS TABLE (user_id int, item_id int, expected float8, actual float8)
LANGUAGE sql AS $$
	WITH raw AS (
		SELECT u, i, m.ord, m.w, coalesce(recsys.score(u, i, m.name), 0) AS s
		FROM generate_series(1, 30) u, generate_series(100, last_item) i,
			 unnest(members, weights) WITH ORDINALITY AS m(name, w, ord)
	), z AS (
		SELECT u, i, w * (s - avg(s) OVER w2) / nullif(stddev_pop(s) OVER w2, 0) AS part
		FROM raw WINDOW w2 AS (PARTITION BY u, ord)
	)
	SELECT u, i, sum(coalesce(part, 0)), recsys.score(u, i, blend)
	FROM z GROUP BY u, i
$$;
SELECT count(actual) AS scores, max(abs(expected - actual)) < 1e-4 AS as_by_hand
FROM blend_by_hand('mix', '{ease,als}', '{1,0.5}');
-- The serving cache checks a model against the catalog once per
-- statement, however many rows call it: 1,200 scores, one check of the
-- blend and of each member, and no reload.
SELECT max(checks) FILTER (WHERE model = 'mix') AS mix_before,
	   max(checks) FILTER (WHERE model = 'ease') AS ease_before
FROM recsys.cache_stats() \gset
SELECT count(recsys.score(u, i, 'mix')) FROM generate_series(1, 30) u, generate_series(100, 139) i;
SELECT model, version, algorithm, items, bytes > 0 AS has_memory, loads,
	   checks - CASE model WHEN 'mix' THEN :mix_before ELSE :ease_before END AS new_checks
FROM recsys.cache_stats() WHERE model IN ('mix', 'ease') ORDER BY model;

-- recommend ranks by that score, the user's own items excluded
SELECT (SELECT array_agg(item_id ORDER BY score DESC, item_id) FROM recsys.recommend(4, 5, 'mix'))
	 = (SELECT array_agg(i ORDER BY s DESC, i) FROM (
			SELECT i, recsys.score(4, i, 'mix') AS s FROM generate_series(100::bigint, 139) i
			WHERE i NOT IN (SELECT p.item_id FROM purchases p WHERE p.user_id = 4)
			ORDER BY s DESC, i LIMIT 5) t) AS recommend_is_top_score;

-- one member: the member's ranking, so the same metrics
SELECT (recsys.train_blend('{ease}', '{2}', 'solo')).name;
SELECT count(actual) AS scores, max(abs(expected - actual)) < 1e-4 AS as_by_hand
FROM blend_by_hand('solo', '{ease}', '{2}');
SELECT a.metric, a.value = b.value AS same
FROM recsys.evaluate('solo', 'purchases') a JOIN recsys.evaluate('ease', 'purchases') b USING (metric)
WHERE a.metric LIKE '%@10' ORDER BY 1;

-- members that read the user's items themselves (quantities), popularity
-- (the same for every user) and a negative weight
SELECT (recsys.train_blend('{ease,knn,pop}', '{1,0.7,-0.3}', 'three')).name;
SELECT count(actual) AS scores, max(abs(expected - actual)) < 1e-4 AS as_by_hand
FROM blend_by_hand('three', '{ease,knn,pop}', '{1,0.7,-0.3}');
SELECT metric, round(value::numeric, 4) FROM recsys.evaluate('three', 'purchases')
WHERE metric IN ('users', 'skipped_users', 'coverage@10');

-- a member with fewer items: the blend's other items score 0 in it
CREATE TABLE some_purchases AS SELECT * FROM purchases WHERE item_id < 120;
SELECT (recsys.train_ease('some_purchases', 10, model => 'ease_some')).n_items;
SELECT (recsys.train_blend('{ease,ease_some}', NULL, 'partial')).params->'weights' AS equal_weights;
SELECT count(actual) AS scores, max(abs(expected - actual)) < 1e-4 AS as_by_hand
FROM blend_by_hand('partial', '{ease,ease_some}', '{1,1}');

-- members of one source trained before and after new items arrived
SELECT (recsys.train_ease('purchases', 10, model => 'ease_early')).n_items;
INSERT INTO purchases SELECT u, 140 + u % 5, 1 FROM generate_series(1, 30) u;
SELECT (recsys.train_ease('purchases', 10, model => 'ease_late')).n_items;
-- the blend has the early items; the late member knows items it does
-- not, so it reads the user's history itself (new items included)
SELECT (recsys.train_blend('{ease_early,ease_late}', '{1,1}', 'early_first')).n_items;
SELECT count(actual) AS scores, max(abs(expected - actual)) < 1e-4 AS as_by_hand
FROM blend_by_hand('early_first', '{ease_early,ease_late}', '{1,1}');
-- the blend has the late items; the early member is mapped into them
SELECT (recsys.train_blend('{ease_late,ease_early}', '{1,1}', 'late_first')).n_items;
SELECT count(actual) AS scores, max(abs(expected - actual)) < 1e-4 AS as_by_hand
FROM blend_by_hand('late_first', '{ease_late,ease_early}', '{1,1}', 144);
-- either way recommend scores as score does, for a user with a new item
SELECT b AS blend, count(*) AS recommended,
	   max(abs(r.score - recsys.score(3, r.item_id, b))) < 1e-5 AS same_scores
FROM unnest('{early_first,late_first}'::text[]) b, LATERAL recsys.recommend(3, 50, b) r
GROUP BY b ORDER BY b;
DELETE FROM purchases WHERE item_id >= 140;

-- a user no member can score gets the blend's cold-start scores: the
-- members' cold-start scores, standardised and summed with the weights
WITH member_scores AS (
	SELECT s.item_id, m.name, m.weight, coalesce(recsys.score(999, s.item_id, m.name), 0) AS score
	FROM recsys.item_stats s, (VALUES ('ease', 1.0), ('als', 0.5)) m(name, weight)
	WHERE s.model = 'mix' AND s.version = (SELECT version FROM recsys.models WHERE name = 'mix')
), standardised AS (
	SELECT item_id, weight * (score - avg(score) OVER w) / stddev_pop(score) OVER w AS z
	FROM member_scores WINDOW w AS (PARTITION BY name)
), expected AS (SELECT item_id, sum(z) AS score FROM standardised GROUP BY item_id)
SELECT max(abs(e.score - recsys.score(999, e.item_id, 'mix'))) < 1e-4 AS members_fallbacks_blended,
	   (SELECT bool_and(reason = 'cold start') FROM recsys.recommend(999, 5, 'mix')) AS cold_start
FROM expected e;

-- retraining a member changes the blend from the next statement on
SELECT (recsys.train_cf('purchases', 6, model => 'als', iterations => 8, seed => 8)).version;
SELECT count(actual) AS scores, max(abs(expected - actual)) < 1e-4 AS follows_member
FROM blend_by_hand('mix', '{ease,als}', '{1,0.5}');
-- and retraining the blend makes a new version that records the members'
SELECT version, stats->'member_versions' AS member_versions
FROM recsys.train_blend('{ease,als}', '{1,0.5}', 'mix');

-- tune: blend weights chosen on a validation set
CREATE TABLE valid AS SELECT * FROM purchases WHERE (user_id + item_id) % 4 = 0;
CREATE TABLE train AS SELECT * FROM purchases WHERE (user_id + item_id) % 4 <> 0;
SELECT (recsys.train_ease('train', 10, model => 'v_ease')).name;
SELECT (recsys.train_cf('train', 4, model => 'v_als', iterations => 8, seed => 7)).name;
SELECT rank, params, value IS NOT NULL AS scored
FROM recsys.tune('blend', 'train', 'valid', '{"weights": [[1, 0], [0, 1], [1, 1]]}',
				 fixed => '{"members": ["v_ease", "v_als"]}', model => 'v_mix')
ORDER BY rank, params::text;
SELECT algorithm, params->'members' AS members FROM recsys.models WHERE name = 'v_mix';

-- explain: each member's contributions on the scale the blend puts its
-- scores on, weight / (the member's standard deviation for the user).
-- One item-kNN member with weight 2: its contributions times 2 / sd.
SELECT (recsys.train_blend('{knn}', '{2}', 'knn_only')).name;
WITH sd AS (
	SELECT stddev_pop(coalesce(recsys.score(4, i, 'knn'), 0)) AS sd FROM generate_series(100, 139) i
), target AS (
	SELECT item_id FROM recsys.recommend(4, 1, 'knn_only')
)
SELECT count(*) AS explained,
	   max(abs(b.contribution - a.contribution * 2 / sd.sd)) < 1e-4 AS scaled_by_weight_over_sd
FROM target, sd, recsys.explain(4, target.item_id, 100, 'knn') a
JOIN recsys.explain(4, target.item_id, 100, 'knn_only') b USING (item_id);
-- Two item members (whose contributions add up to their scores): the
-- contributions add up to the blend's score plus a constant per user
-- (the members' means, which no item explains).
SELECT (recsys.train_blend('{ease,knn}', '{1,0.7}', 'items_mix')).name;
SELECT count(*) AS items, stddev_pop(total - recsys.score(4, j, 'items_mix')) < 1e-4 AS differ_by_a_constant
FROM (SELECT r.item_id AS j, (SELECT sum(e.contribution) FROM recsys.explain(4, r.item_id, 100, 'items_mix') e) AS total
	  FROM recsys.recommend(4, 8, 'items_mix') r) t;
-- a factor member explains too: the blend of EASE and ALS names the user's items
SELECT count(*) AS explained, bool_and(item_id IN (SELECT p.item_id FROM purchases p WHERE p.user_id = 4)) AS own_items
FROM recsys.explain(4, (SELECT item_id FROM recsys.recommend(4, 1, 'mix')), 5, 'mix');

-- recommend_session: each member scores the visitor's items its own way
-- (ALS folds them in, EASE sums their weights); a one-member blend ranks
-- as its member does, and the session's items never come back
SELECT (recsys.train_blend('{als}', NULL, 'als_only')).name;
SELECT b.m AS blend,
	   (SELECT array_agg(item_id ORDER BY score DESC, item_id) FROM recsys.recommend_session('{100,103,117}', 5, b.m))
	 = (SELECT array_agg(item_id ORDER BY score DESC, item_id) FROM recsys.recommend_session('{100,103,117}', 5, b.member))
	   AS ranks_as_member
FROM (VALUES ('solo', 'ease'), ('als_only', 'als')) b(m, member);
SELECT count(*) AS recommended, count(*) FILTER (WHERE item_id IN (100, 103, 117)) AS from_session
FROM recsys.recommend_session('{100,103,117}', 10, 'mix');
SELECT count(*) AS recommended FROM recsys.recommend_session('{}', 3, 'mix');

-- what a blend cannot do
\set VERBOSITY terse
SELECT * FROM recsys.similar_items(100, 5, 'mix');
SELECT * FROM recsys.evaluate('mix', 'purchases', weight_col => 'qty');

-- errors
SELECT recsys.train_blend(NULL);
SELECT recsys.train_blend('{}');
SELECT recsys.train_blend(array_fill('ease'::text, ARRAY[17]));
SELECT recsys.train_blend('{{ease},{als}}');
SELECT recsys.train_blend('{ease,NULL}');
SELECT recsys.train_blend('{ease,ease}');
SELECT recsys.train_blend('{ease,mix}', model => 'mix');
SELECT recsys.train_blend('{ease,nosuch}');
SELECT recsys.train_blend('{ease,mix}');
SELECT recsys.train_blend('{ease,als}', '{1}');
SELECT recsys.train_blend('{ease,als}', '{1,NaN}');
SELECT recsys.train_blend('{ease,als}', '{1,Infinity}');
SELECT recsys.train_blend('{ease,als}', '{1,NULL}');
SELECT recsys.train_blend('{ease,als}', '{0,0}');
SELECT recsys.train_blend('{ease,als}', '{1,1e7}');
SELECT recsys.train_blend('{ease,als}', model => NULL);
SELECT recsys.train_blend('{ease,als}', model => '');
SELECT recsys.train_blend('{ease,als}', model => repeat('x', 64));
SELECT recsys.train_blend('{knn}', model => 'als');
-- a blend's members cannot be dropped while it uses them
SELECT recsys.drop_model('als');
SELECT recsys.drop_model('ease');
-- nor renamed (the catalog's trigger refuses, as drop_model does)
UPDATE recsys.models SET name = 'als_renamed' WHERE name = 'als';
-- a member that is gone (renamed here, past the trigger, as a DBA may),
-- or has become a blend, is named when the blend is used
\set VERBOSITY default
ALTER TABLE recsys.models DISABLE TRIGGER models_members_rename;
UPDATE recsys.models SET name = 'als_renamed' WHERE name = 'als';
SELECT * FROM recsys.recommend(1, 5, 'mix');
-- (train_blend refuses to turn a member into a blend; a rename can)
UPDATE recsys.models SET name = 'als' WHERE name = 'solo';
SELECT * FROM recsys.recommend(1, 5, 'mix');
ALTER TABLE recsys.models ENABLE TRIGGER models_members_rename;
\set VERBOSITY terse
-- a kept blend version whose member is gone is not activated (rollback
-- uses activate): 'mix' version 1 names 'als', renamed away above
SELECT recsys.rollback('mix');
-- a first member whose source is gone
DROP TABLE some_purchases;
SELECT recsys.train_blend('{ease_some,ease}');
\set VERBOSITY default

-- A member that another role's model replaced by name is refused: the
-- blend recorded its members' owners at training (by name)
CREATE ROLE regress_recsys_blend_a;
CREATE ROLE regress_recsys_blend_b;
CREATE ROLE regress_recsys_blend_c;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_blend_a, regress_recsys_blend_b, regress_recsys_blend_c;
GRANT USAGE ON SCHEMA blend_test TO regress_recsys_blend_a, regress_recsys_blend_b, regress_recsys_blend_c;
GRANT SELECT ON purchases TO regress_recsys_blend_a, regress_recsys_blend_b, regress_recsys_blend_c;
-- (1) b's blend of a's model; a revokes it and drops it; c takes the name
SET ROLE regress_recsys_blend_a;
SELECT (recsys.train_popular('purchases', model => 'bo_m')).name;
SELECT recsys.grant_model('bo_m', 'regress_recsys_blend_b');
SET ROLE regress_recsys_blend_b;
SELECT (recsys.train_popular('purchases', model => 'bo_own')).name;
SELECT (recsys.train_blend('{bo_own,bo_m}', '{1,1}', 'bo_mix')).params->'member_owners' AS member_owners;
SET ROLE regress_recsys_blend_a;
SELECT recsys.revoke_model('bo_m', 'regress_recsys_blend_b');
SELECT recsys.drop_model('bo_m');
SET ROLE regress_recsys_blend_c;
SELECT (recsys.train_popular('purchases', model => 'bo_m')).name;
SELECT recsys.grant_model('bo_m', 'public');
SET ROLE regress_recsys_blend_b;
SELECT * FROM recsys.recommend(1, 3, 'bo_mix');
-- (2) b's blend, retrained without that member; c drops it, a takes the
-- name; b's rollback to the old version is refused
SET ROLE regress_recsys_blend_c;
SELECT recsys.grant_model('bo_m', 'regress_recsys_blend_b');
SET ROLE regress_recsys_blend_b;
SELECT (recsys.train_blend('{bo_own,bo_m}', '{1,1}', 'bo_mix', replace => true)).version;
SELECT (recsys.train_blend('{bo_own}', NULL, 'bo_mix', replace => true)).version;
SET ROLE regress_recsys_blend_c;
SELECT recsys.drop_model('bo_m');
SET ROLE regress_recsys_blend_a;
SELECT (recsys.train_popular('purchases', model => 'bo_m')).name;
SELECT recsys.grant_model('bo_m', 'public');
SET ROLE regress_recsys_blend_b;
SELECT recsys.rollback('bo_mix');
SELECT version, params->'members' AS members FROM recsys.models WHERE name = 'bo_mix';
SELECT recsys.drop_model('bo_mix'), recsys.drop_model('bo_own');
SET ROLE regress_recsys_blend_a;
SELECT recsys.drop_model('bo_m');
RESET ROLE;
REVOKE ALL ON purchases FROM regress_recsys_blend_a, regress_recsys_blend_b, regress_recsys_blend_c;
REVOKE ALL ON SCHEMA blend_test FROM regress_recsys_blend_a, regress_recsys_blend_b, regress_recsys_blend_c;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys
	FROM regress_recsys_blend_a, regress_recsys_blend_b, regress_recsys_blend_c;
DROP ROLE regress_recsys_blend_a;
DROP ROLE regress_recsys_blend_b;
DROP ROLE regress_recsys_blend_c;

RESET search_path;
DROP SCHEMA blend_test CASCADE;
-- drop_model's check is a convenience: the catalog rows can go all at once
DELETE FROM recsys.models
WHERE name IN ('ease', 'als', 'als_renamed', 'knn', 'pop', 'mix', 'solo', 'three', 'ease_some',
			   'partial', 'v_ease', 'v_als', 'v_mix', 'ease_early', 'ease_late', 'early_first',
			   'late_first', 'knn_only', 'items_mix', 'als_only');
