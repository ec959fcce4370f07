-- version numbers: a name dropped (or renamed away) and trained again is
-- numbered after the versions whose index entries remain, so its keys
-- never meet the dead entries the old rows left (doc/internals.md,
-- "Version numbers").  Each drop and the training after it run in one
-- transaction, so no VACUUM can remove those entries in between.
CREATE SCHEMA vn_test;
SET search_path = vn_test, public;

CREATE TABLE events AS
SELECT u AS user_id, (u * 7 + j * 13) % 50 AS item_id
FROM generate_series(1, 100) u, generate_series(1, 8) j;

SELECT version FROM recsys.train_cf('events', factors => 2, model => 'vn', iterations => 2);
SELECT version FROM recsys.train_cf('events', factors => 2, model => 'vn', iterations => 2);

-- drop and train again: version 3, not 1
BEGIN;
SELECT recsys.drop_model('vn');
SELECT version FROM recsys.train_cf('events', factors => 3, model => 'vn', iterations => 2);
COMMIT;
-- the new version is whole and the only one (known by construction: 100
-- users, 50 items, 3 factors each)
SELECT m.version, array_agg(v.version) AS versions,
	   (SELECT count(*) FROM recsys.user_factors f WHERE f.model = 'vn' AND f.version = 3 AND cardinality(f.factors) = 3) AS users,
	   (SELECT count(*) FROM recsys.item_factors f WHERE f.model = 'vn' AND f.version = 3) AS items,
	   (SELECT count(*) FROM recsys.user_factors f WHERE f.model = 'vn') AS all_user_rows
FROM recsys.models m JOIN recsys.model_versions v ON v.model = m.name
WHERE m.name = 'vn' GROUP BY m.version;
SELECT count(*) AS recommended FROM recsys.recommend(1, 5, 'vn');

-- a rename leaves the old name's entries too; the renamed model keeps its number
BEGIN;
UPDATE recsys.models SET name = 'vn_renamed' WHERE name = 'vn';
SELECT version FROM recsys.train_cf('events', factors => 2, model => 'vn', iterations => 2);
COMMIT;
SELECT name, version FROM recsys.models WHERE name IN ('vn', 'vn_renamed') ORDER BY name;
SELECT version FROM recsys.train_cf('events', factors => 2, model => 'vn_renamed', iterations => 2);

-- retention never deletes the newest version, so new versions still count up by one
SET recsys.keep_versions = 1;
SELECT version FROM recsys.train_cf('events', factors => 2, model => 'vn', iterations => 2);
SELECT array_agg(version) AS kept FROM recsys.model_versions WHERE model = 'vn';
RESET recsys.keep_versions;

-- another role taking a dropped name: numbered after the dropped versions
-- too (it learns how many there were, nothing else: it sees no row of them),
-- and the model is its own
CREATE ROLE regress_recsys_write_a;
CREATE ROLE regress_recsys_write_b;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_write_a, regress_recsys_write_b;
GRANT USAGE ON SCHEMA vn_test TO regress_recsys_write_a, regress_recsys_write_b;
GRANT SELECT ON events TO regress_recsys_write_a, regress_recsys_write_b;
SET ROLE regress_recsys_write_a;
SELECT version FROM recsys.train_cf('events', factors => 2, model => 'vn_shared', iterations => 2);
SELECT version FROM recsys.train_cf('events', factors => 2, model => 'vn_shared', iterations => 2);
RESET ROLE;
BEGIN;
SET LOCAL ROLE regress_recsys_write_a;
SELECT recsys.drop_model('vn_shared');
SET LOCAL ROLE regress_recsys_write_b;
SELECT version FROM recsys.train_cf('events', factors => 2, model => 'vn_shared', iterations => 2);
SELECT name, version, owner FROM recsys.models WHERE name = 'vn_shared';
SELECT count(*) AS visible_versions FROM recsys.model_versions WHERE model = 'vn_shared';
COMMIT;
-- a may not train b's model now (unchanged): refused before any numbering
SET ROLE regress_recsys_write_a;
SELECT version FROM recsys.train_cf('events', factors => 2, model => 'vn_shared', iterations => 2);
SELECT count(*) AS visible_to_a FROM recsys.models WHERE name = 'vn_shared';

RESET ROLE;
SELECT recsys.drop_model(name) FROM recsys.models WHERE name IN ('vn', 'vn_renamed', 'vn_shared') ORDER BY name;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_write_a, regress_recsys_write_b;
RESET search_path;
DROP SCHEMA vn_test CASCADE;
DROP ROLE regress_recsys_write_a;
DROP ROLE regress_recsys_write_b;
