-- relations recorded by name and read later as their recorder's owner (a
-- catalog's source, a model's source, refresh_items' features): another role's
-- relation put under a dropped one's name is refused, a recreate by the same
-- owner is accepted
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE ROLE regress_recsys_fixc_alice;
CREATE ROLE regress_recsys_fixc_bob;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
  TO regress_recsys_fixc_alice, regress_recsys_fixc_bob;
CREATE SCHEMA fixc_common;
GRANT USAGE, CREATE ON SCHEMA fixc_common TO regress_recsys_fixc_alice, regress_recsys_fixc_bob;
-- what only alice may read
CREATE SCHEMA fixc_shop;
CREATE TABLE fixc_shop.secret (x text);
INSERT INTO fixc_shop.secret VALUES ('alice''s secret');
GRANT USAGE ON SCHEMA fixc_shop TO regress_recsys_fixc_alice;
GRANT SELECT ON fixc_shop.secret TO regress_recsys_fixc_alice;
-- bob's trap: a function that copies the secret, run by whoever reads his view
CREATE SCHEMA fixc_bteam AUTHORIZATION regress_recsys_fixc_bob;
SET ROLE regress_recsys_fixc_bob;
GRANT USAGE ON SCHEMA fixc_bteam TO PUBLIC;
CREATE TABLE fixc_bteam.loot (who name, x text);
GRANT INSERT ON fixc_bteam.loot TO PUBLIC;
CREATE FUNCTION fixc_bteam.steal() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	INSERT INTO fixc_bteam.loot SELECT current_user, s.x FROM fixc_shop.secret s;
	RETURN 'stolen';
END $$;
RESET ROLE;

-- 1. a search catalog's source
SET ROLE regress_recsys_fixc_alice;
CREATE TABLE fixc_common.products (item_id bigint, t text);
INSERT INTO fixc_common.products VALUES (1, 'red shoe'), (2, 'blue hat');
SELECT recsys.index_catalog('fixc_common.products', name => 'fixc_cp');
SELECT source, source_owner FROM recsys.catalogs WHERE name = 'fixc_cp';
DROP TABLE fixc_common.products;
SET ROLE regress_recsys_fixc_bob;
CREATE VIEW fixc_common.products AS SELECT 1::bigint AS item_id, fixc_bteam.steal() AS t;
GRANT SELECT ON fixc_common.products TO PUBLIC;
SET ROLE regress_recsys_fixc_alice;
SELECT recsys.refresh_catalog('fixc_cp');
RESET ROLE;
SELECT count(*) AS stolen FROM fixc_bteam.loot;
-- alice recreates it herself: accepted
SET ROLE regress_recsys_fixc_bob;
DROP VIEW fixc_common.products;
SET ROLE regress_recsys_fixc_alice;
CREATE TABLE fixc_common.products (item_id bigint, t text);
INSERT INTO fixc_common.products VALUES (1, 'red shoe'), (2, 'blue hat'), (3, 'green sock');
SELECT recsys.refresh_catalog('fixc_cp');
RESET ROLE;

-- 2. a model's source, read for exclude_seen as the model's owner
SET ROLE regress_recsys_fixc_alice;
CREATE TABLE fixc_common.events (user_id bigint, item_id bigint);
INSERT INTO fixc_common.events SELECT u, i FROM generate_series(1, 5) u, generate_series(1, 4) i WHERE i <= u;
SELECT stats->>'source_owner' AS source_owner
FROM recsys.train_popular('fixc_common.events', model => 'fixc_pop');
-- user 2 saw items 1 and 2
SELECT array_agg(item_id ORDER BY item_id) FROM recsys.recommend(2, 10, 'fixc_pop');
DROP TABLE fixc_common.events;
SET ROLE regress_recsys_fixc_bob;
CREATE VIEW fixc_common.events AS SELECT 2::bigint AS user_id, length(fixc_bteam.steal())::bigint AS item_id;
GRANT SELECT ON fixc_common.events TO PUBLIC;
SET ROLE regress_recsys_fixc_alice;
SELECT array_agg(item_id ORDER BY item_id) FROM recsys.recommend(2, 10, 'fixc_pop');
RESET ROLE;
SELECT count(*) AS stolen FROM fixc_bteam.loot;
-- a model trained before 0.8.0 (no recorded owner): the owner's own
-- relations only
UPDATE recsys.models SET stats = stats - 'source_owner' WHERE name = 'fixc_pop';
SET ROLE regress_recsys_fixc_alice;
SELECT array_agg(item_id ORDER BY item_id) FROM recsys.recommend(2, 10, 'fixc_pop');
SET ROLE regress_recsys_fixc_bob;
DROP VIEW fixc_common.events;
SET ROLE regress_recsys_fixc_alice;
CREATE TABLE fixc_common.events (user_id bigint, item_id bigint);
INSERT INTO fixc_common.events VALUES (2, 1), (2, 3);
SELECT array_agg(item_id ORDER BY item_id) FROM recsys.recommend(2, 10, 'fixc_pop');
RESET ROLE;
SELECT count(*) AS stolen FROM fixc_bteam.loot;

-- 3. refresh_items' features
SET ROLE regress_recsys_fixc_alice;
CREATE TABLE fixc_common.feats (item_id bigint, feature text);
INSERT INTO fixc_common.feats SELECT i, 'cat:' || (i % 2) FROM generate_series(1, 4) i;
SELECT params->>'features' AS features, params->>'features_owner' AS features_owner
FROM recsys.train_cf('fixc_common.events', factors => 2, model => 'fixc_cf', features => 'fixc_common.feats',
                     iterations => 2);
DROP TABLE fixc_common.feats;
SET ROLE regress_recsys_fixc_bob;
CREATE VIEW fixc_common.feats AS SELECT 5::bigint AS item_id, fixc_bteam.steal() AS feature;
GRANT SELECT ON fixc_common.feats TO PUBLIC;
SET ROLE regress_recsys_fixc_alice;
SELECT recsys.refresh_items('fixc_cf');
RESET ROLE;
SELECT count(*) AS stolen FROM fixc_bteam.loot;
SET ROLE regress_recsys_fixc_bob;
DROP VIEW fixc_common.feats;
SET ROLE regress_recsys_fixc_alice;
CREATE TABLE fixc_common.feats (item_id bigint, feature text);
INSERT INTO fixc_common.feats SELECT i, 'cat:' || (i % 2) FROM generate_series(1, 5) i;
SELECT recsys.refresh_items('fixc_cf');

-- 4. a blend reads its first member's source as that member's owner: a
-- blend trained after the swap is refused too
DROP TABLE fixc_common.events;
SET ROLE regress_recsys_fixc_bob;
CREATE VIEW fixc_common.events AS SELECT 2::bigint AS user_id, length(fixc_bteam.steal())::bigint AS item_id;
GRANT SELECT ON fixc_common.events TO PUBLIC;
SET ROLE regress_recsys_fixc_alice;
SELECT name FROM recsys.train_blend(ARRAY['fixc_cf', 'fixc_pop'], model => 'fixc_blend');
RESET ROLE;
SELECT count(*) AS stolen FROM fixc_bteam.loot;

-- 5. a source another role owns and granted: recorded with its owner, read
-- while that role owns it
SET ROLE regress_recsys_fixc_bob;
CREATE TABLE fixc_common.shared (user_id bigint, item_id bigint);
INSERT INTO fixc_common.shared VALUES (1, 1), (1, 2), (2, 1), (3, 3);
GRANT SELECT ON fixc_common.shared TO regress_recsys_fixc_alice;
SET ROLE regress_recsys_fixc_alice;
SELECT stats->>'source_owner' AS source_owner
FROM recsys.train_popular('fixc_common.shared', model => 'fixc_shared');
-- user 1 saw items 1 and 2
SELECT array_agg(item_id ORDER BY item_id) FROM recsys.recommend(1, 10, 'fixc_shared');
RESET ROLE;

-- 6. a group role both belong to is no shortcut: alice's source dropped,
-- bob puts a view owned by the group there; alice's model refuses it
CREATE ROLE regress_recsys_fixc_group;
GRANT regress_recsys_fixc_group TO regress_recsys_fixc_alice, regress_recsys_fixc_bob;
GRANT USAGE, CREATE ON SCHEMA fixc_common TO regress_recsys_fixc_group;
SET ROLE regress_recsys_fixc_alice;
CREATE TABLE fixc_common.team (user_id bigint, item_id bigint);
INSERT INTO fixc_common.team VALUES (1, 1), (1, 2), (2, 1), (3, 3);
SELECT stats->>'source_owner' AS source_owner
FROM recsys.train_popular('fixc_common.team', model => 'fixc_team');
DROP TABLE fixc_common.team;
SET ROLE regress_recsys_fixc_bob;
SET ROLE regress_recsys_fixc_group;
CREATE VIEW fixc_common.team AS SELECT 1::bigint AS user_id, length(fixc_bteam.steal())::bigint AS item_id;
GRANT SELECT ON fixc_common.team TO PUBLIC;
RESET ROLE;
SET ROLE regress_recsys_fixc_alice;
SELECT array_agg(item_id ORDER BY item_id) FROM recsys.recommend(1, 10, 'fixc_team');
RESET ROLE;
SELECT count(*) AS stolen FROM fixc_bteam.loot;
SELECT recsys.drop_model('fixc_team');
DROP VIEW fixc_common.team;
REVOKE USAGE, CREATE ON SCHEMA fixc_common FROM regress_recsys_fixc_group;
DROP ROLE regress_recsys_fixc_group;

SELECT recsys.drop_model('fixc_shared');
SELECT recsys.drop_model('fixc_pop'), recsys.drop_model('fixc_cf'), recsys.drop_catalog('fixc_cp');
DROP SCHEMA fixc_common, fixc_shop, fixc_bteam CASCADE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fixc_alice, regress_recsys_fixc_bob;
DROP ROLE regress_recsys_fixc_alice;
DROP ROLE regress_recsys_fixc_bob;
