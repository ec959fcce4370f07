-- A model's identity (recsys.models.created_at) recorded in experiments'
-- variants, and clean_orphans comparing owners by OID.  Before: an
-- experiment served whatever model had the recorded name and owner, and
-- clean_orphans failed (rolling back everything) when a role had been
-- created under a dropped owner's name.
SET client_min_messages = warning;
SET TimeZone = 'UTC';
CREATE ROLE regress_recsys_s9fix_team;
CREATE ROLE regress_recsys_s9fix_keeper;
CREATE ROLE regress_recsys_s9fix_carol;
RESET client_min_messages;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_s9fix_team, regress_recsys_s9fix_keeper, regress_recsys_s9fix_carol;
-- by construction: item 10 is the most popular, then 11, 12; in id_b 20
CREATE TABLE id_a (user_id bigint, item_id bigint);
INSERT INTO id_a SELECT u, i FROM generate_series(1, 5) u, generate_series(10, 14) i WHERE i - 10 < 6 - u;
CREATE TABLE id_b (user_id bigint, item_id bigint);
INSERT INTO id_b SELECT u, 20 FROM generate_series(1, 5) u;
GRANT SELECT ON id_a, id_b TO PUBLIC;

-- 1. the identity: set at the first training, kept by a retrain and a
-- rename, new after a drop
SET ROLE regress_recsys_s9fix_carol;
SELECT created_at AS first_created FROM recsys.train_popular('id_a', model => 'id_pop') \gset
SELECT created_at = :'first_created' AS kept_by_retrain, version FROM recsys.train_popular('id_b', model => 'id_pop');
UPDATE recsys.models SET name = 'id_pop2' WHERE name = 'id_pop';
SELECT created_at = :'first_created' AS kept_by_rename FROM recsys.models WHERE name = 'id_pop2';
SELECT recsys.drop_model('id_pop2');
-- (a drop and a new training in one transaction differ too)
BEGIN;
SELECT 1 FROM recsys.train_popular('id_a', model => 'id_pop');
SELECT created_at AS second_created FROM recsys.models WHERE name = 'id_pop' \gset
SELECT recsys.drop_model('id_pop');
SELECT created_at <> :'second_created' AS new_in_same_transaction FROM recsys.train_popular('id_a', model => 'id_pop');
COMMIT;

-- 2. an experiment records it and refuses another model under the name
-- and owner: here the model is dropped past the trigger that refuses it
-- (as drop_model before 0.10.0 did, or through a revoked grant: test
-- dropped_roles) and carol trains the name again
SELECT 1 FROM recsys.create_experiment('id_x',
	'[{"name": "a", "model": "id_pop"}, {"name": "b", "model": "id_pop", "exclude_seen": false}]',
	salt => 'id');
SELECT v ->> 'name' AS variant, (v ->> 'model_created_at')::timestamptz = m.created_at AS model_identity,
	   (v ->> 'model_owner_oid')::oid = 'regress_recsys_s9fix_carol'::regrole AS owner_oid
FROM recsys.experiments e, jsonb_array_elements(e.variants) v, recsys.models m
WHERE e.name = 'id_x' AND m.name = 'id_pop' ORDER BY 1;
SELECT item_id FROM recsys.recommend_for_experiment('id_x', 1000, 1, log => false);
RESET ROLE;
ALTER TABLE recsys.models DISABLE TRIGGER models_members_delete;
SELECT recsys.drop_model('id_pop');
ALTER TABLE recsys.models ENABLE TRIGGER models_members_delete;
SET ROLE regress_recsys_s9fix_carol;
SELECT 1 FROM recsys.train_popular('id_b', model => 'id_pop');
\set VERBOSITY default
SELECT item_id FROM recsys.recommend_for_experiment('id_x', 1000, 1, log => false);
\set VERBOSITY terse
-- carol gives the variants again: the new model is served (item 20)
SELECT 1 FROM recsys.alter_experiment('id_x',
	'[{"name": "a", "model": "id_pop"}, {"name": "b", "model": "id_pop", "exclude_seen": false}]');
SELECT item_id FROM recsys.recommend_for_experiment('id_x', 1000, 1, log => false);
-- a direct UPDATE may not write a stale identity either: it is checked
UPDATE recsys.experiments
SET variants = jsonb_set(variants, '{0,model_created_at}', to_jsonb(:'first_created'::timestamptz))
WHERE name = 'id_x';
SELECT recsys.drop_experiment('id_x');
SELECT recsys.drop_model('id_pop');

-- 3. clean_orphans compares the recorded owner by OID: the team's model
-- and experiment are orphaned when the team role is dropped, and a new
-- role is created under its name
SET ROLE regress_recsys_s9fix_team;
SELECT 1 FROM recsys.train_popular('id_a', model => 'id_team_pop');
SELECT recsys.grant_model('id_team_pop', 'regress_recsys_s9fix_carol');
SELECT 1 FROM recsys.create_experiment('id_team_x', '[{"name": "a", "model": "id_team_pop"}, {"name": "b"}]',
									   salt => 'id');
-- carol's experiment of her own recorded the team as the model's owner too
SET ROLE regress_recsys_s9fix_carol;
SELECT 1 FROM recsys.create_experiment('id_carol_x', '[{"name": "a", "model": "id_team_pop"}, {"name": "b"}]',
									   salt => 'id');
-- ... and one that recorded another owner: the model was carol's then
SELECT 1 FROM recsys.train_popular('id_a', model => 'id_given_pop');
SELECT 1 FROM recsys.create_experiment('id_given_x', '[{"name": "a", "model": "id_given_pop"}, {"name": "b"}]',
									   salt => 'id');
RESET ROLE;
SELECT recsys.alter_model_owner('id_given_pop', 'regress_recsys_s9fix_team');
SELECT recsys.grant_model('id_given_pop', 'regress_recsys_s9fix_carol');
DROP OWNED BY regress_recsys_s9fix_team;
DROP ROLE regress_recsys_s9fix_team;
SET client_min_messages = warning;
CREATE ROLE regress_recsys_s9fix_team;
RESET client_min_messages;
SELECT kind, name FROM recsys.orphans() WHERE name LIKE 'id\_%' ORDER BY 1, 2;
-- (the old comparison by name left the team experiments' record, and the
-- experiment's check then refused the call: "changed owner")
SELECT kind, name, owner, cardinality(removed_roles) AS removed
FROM recsys.clean_orphans('regress_recsys_s9fix_keeper') WHERE name LIKE 'id\_%' ORDER BY 1, 2;
SELECT e.name, v ->> 'model_owner' AS model_owner,
	   (v ->> 'model_owner_oid')::oid = 'regress_recsys_s9fix_keeper'::regrole AS keeper_oid
FROM recsys.experiments e, jsonb_array_elements(e.variants) v
WHERE e.name LIKE 'id\_%' AND v ? 'model' ORDER BY 1;
-- the team's and carol's experiments serve (item 10 by construction);
-- the one that recorded carol as the owner still refuses the model, as
-- before the team was dropped
SELECT min(u) AS a_user FROM generate_series(1000, 1100) u WHERE recsys.assign('id_team_x', u) = 'a' \gset
SELECT item_id FROM recsys.recommend_for_experiment('id_team_x', :a_user, 1, log => false);
SET ROLE regress_recsys_s9fix_carol;
SELECT item_id FROM recsys.recommend_for_experiment('id_carol_x', :a_user, 1, log => false);
SELECT item_id FROM recsys.recommend_for_experiment('id_given_x', :a_user, 1, log => false);
RESET ROLE;
SELECT recsys.drop_experiment('id_team_x'), recsys.drop_experiment('id_carol_x'), recsys.drop_experiment('id_given_x');
SELECT recsys.drop_model('id_team_pop'), recsys.drop_model('id_given_pop');

-- 4. an inserted experiment (a restore) records the OIDs of the roles
-- named, whatever OIDs the row brought
SET ROLE regress_recsys_s9fix_carol;
SELECT 1 FROM recsys.train_popular('id_a', model => 'id_pop');
INSERT INTO recsys.experiments (name, variants, control, salt, run_starts, run_variants)
VALUES ('id_restored', '[{"name": "a", "model": "id_pop", "share": 1, "model_owner": "regress_recsys_s9fix_carol",
						  "model_owner_oid": 1}, {"name": "b", "share": 1, "model_owner": "no_such_role",
						  "model_owner_oid": 2}]', 'a', 'id', '{0,5000}', '{1,2}');
SELECT v ->> 'name' AS variant, (v ->> 'model_owner_oid')::oid = 'regress_recsys_s9fix_carol'::regrole AS carol_oid,
	   v ? 'model_owner_oid' AS has_oid
FROM recsys.experiments e, jsonb_array_elements(e.variants) v WHERE e.name = 'id_restored' ORDER BY 1;
SELECT recsys.drop_experiment('id_restored');
SELECT recsys.drop_model('id_pop');
RESET ROLE;

-- 5. the update from 0.9.0: models get their oldest training time as
-- identity, existing experiments record their models' identity and go on
-- serving; a model dropped and trained again later is refused
DROP EXTENSION recsys CASCADE;
CREATE EXTENSION recsys VERSION '0.9.0';
SELECT 1 FROM recsys.train_popular('id_a', model => 'id_old_pop');
SELECT 1 FROM recsys.train_popular('id_a', model => 'id_old_pop');
SELECT 1 FROM recsys.create_experiment('id_old_x', '[{"name": "a", "model": "id_old_pop"}, {"name": "b"}]',
									   salt => 'id');
ALTER EXTENSION recsys UPDATE;
SELECT m.created_at = (SELECT min(v.trained_at) FROM recsys.model_versions v WHERE v.model = m.name) AS oldest
FROM recsys.models m WHERE m.name = 'id_old_pop';
SELECT (v ->> 'model_created_at')::timestamptz = m.created_at AS recorded, v ? 'model_owner' AS owner_recorded
FROM recsys.experiments e, jsonb_array_elements(e.variants) v, recsys.models m
WHERE e.name = 'id_old_x' AND v ->> 'model' = m.name;
SELECT min(u) AS a_user FROM generate_series(1000, 1100) u WHERE recsys.assign('id_old_x', u) = 'a' \gset
SELECT item_id FROM recsys.recommend_for_experiment('id_old_x', :a_user, 1, log => false);
ALTER TABLE recsys.models DISABLE TRIGGER models_members_delete;
SELECT recsys.drop_model('id_old_pop');
ALTER TABLE recsys.models ENABLE TRIGGER models_members_delete;
SELECT 1 FROM recsys.train_popular('id_b', model => 'id_old_pop');
SELECT item_id FROM recsys.recommend_for_experiment('id_old_x', :a_user, 1, log => false);
DROP EXTENSION recsys CASCADE;

-- 6. (s9-fix2) the update from 0.9.0 records the models' owners too, and
-- marks a variant whose model was missing (0.9.0's drop_model dropped a
-- model an experiment served): before, variant B recorded nothing, and
-- after bob took the name its users got bob's item 20 logged into alice's
-- experiment.  Now serving refuses it (55000) until alter_experiment.
SET client_min_messages = warning;
CREATE ROLE regress_recsys_fix2_alice;
CREATE ROLE regress_recsys_fix2_bob;
CREATE ROLE regress_recsys_fix2_app;
RESET client_min_messages;
CREATE EXTENSION recsys VERSION '0.9.0';
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_fix2_alice, regress_recsys_fix2_bob, regress_recsys_fix2_app;
SET ROLE regress_recsys_fix2_alice;
SELECT 1 FROM recsys.train_popular('id_a', model => 'fix2_p1');
SELECT 1 FROM recsys.train_item_knn('id_a', model => 'fix2_k1');
SELECT 1 FROM recsys.create_experiment('fix2_x1',
	'[{"name": "A", "model": "fix2_p1"}, {"name": "B", "model": "fix2_k1"},
	  {"name": "C", "model": "fix2_p1", "similarity_model": "fix2_k1"}]', salt => 's');
SELECT recsys.grant_experiment('fix2_x1', 'regress_recsys_fix2_app');
SELECT recsys.grant_model('fix2_p1', 'regress_recsys_fix2_app');
SELECT recsys.drop_model('fix2_k1');
RESET ROLE;
ALTER EXTENSION recsys UPDATE;
-- A and C record fix2_p1's owner (name, OID) and identity; B and C's
-- similarity_model record nulls for the missing fix2_k1
SELECT v ->> 'name' AS variant, v ->> 'model_owner' AS model_owner,
	   (v ->> 'model_owner_oid')::oid = 'regress_recsys_fix2_alice'::regrole AS alice_oid,
	   (v ->> 'model_created_at')::timestamptz = (SELECT created_at FROM recsys.models WHERE name = 'fix2_p1')
		   AS p1_identity,
	   v -> 'model_created_at' = 'null' AS model_marked,
	   v -> 'similarity_model_owner' AS sim_owner, v -> 'similarity_model_created_at' AS sim_created,
	   v ? 'similarity_model_owner_oid' AS sim_oid
FROM recsys.experiments e, jsonb_array_elements(e.variants) v WHERE e.name = 'fix2_x1' ORDER BY 1;
SET ROLE regress_recsys_fix2_bob;
SELECT 1 FROM recsys.train_popular('id_b', model => 'fix2_k1');
SELECT recsys.grant_model('fix2_k1', 'PUBLIC');
SET ROLE regress_recsys_fix2_app;
SELECT min(u) FILTER (WHERE recsys.assign('fix2_x1', u) = 'A') AS a_user,
	   min(u) FILTER (WHERE recsys.assign('fix2_x1', u) = 'B') AS b_user,
	   min(u) FILTER (WHERE recsys.assign('fix2_x1', u) = 'C') AS c_user
FROM generate_series(1000, 1299) u \gset
-- A serves alice's item 10 (by construction); B and C are refused
SELECT item_id, variant FROM recsys.recommend_for_experiment('fix2_x1', :a_user, 1);
\set VERBOSITY default
SELECT item_id, variant FROM recsys.recommend_for_experiment('fix2_x1', :b_user, 2);
\set VERBOSITY terse
SELECT item_id, variant FROM recsys.recommend_for_experiment('fix2_x1', :c_user, 2);
SELECT count(*) AS b_logged FROM recsys.experiment_impressions WHERE experiment = 'fix2_x1' AND variant <> 'A';
-- alice gives the variants again: B names bob's model now, which she may
-- use (PUBLIC), recorded as bob's; served
SET ROLE regress_recsys_fix2_alice;
SELECT 1 FROM recsys.alter_experiment('fix2_x1',
	'[{"name": "A", "model": "fix2_p1"}, {"name": "B", "model": "fix2_k1"}, {"name": "C", "model": "fix2_p1"}]');
SET ROLE regress_recsys_fix2_app;
SELECT item_id, variant FROM recsys.recommend_for_experiment('fix2_x1', :b_user, 1, log => false);
-- defence in depth: a variant written without its recorded owner and
-- identity (a direct UPDATE by the owner) is refused (55000; accepted before)
SET ROLE regress_recsys_fix2_alice;
UPDATE recsys.experiments
SET variants = (SELECT jsonb_agg(x - 'model_owner' - 'model_created_at' ORDER BY o)
				FROM jsonb_array_elements(variants) WITH ORDINALITY c(x, o))
WHERE name = 'fix2_x1';
\set VERBOSITY default
UPDATE recsys.experiments
SET variants = (SELECT jsonb_agg(CASE WHEN x ->> 'name' = 'A' THEN x - 'model_created_at' ELSE x END ORDER BY o)
				FROM jsonb_array_elements(variants) WITH ORDINALITY c(x, o))
WHERE name = 'fix2_x1';
\set VERBOSITY terse
SELECT recsys.drop_experiment('fix2_x1');
SELECT recsys.drop_model('fix2_p1');
SET ROLE regress_recsys_fix2_bob;
SELECT recsys.drop_model('fix2_k1');
RESET ROLE;
DROP EXTENSION recsys CASCADE;
DROP ROLE regress_recsys_fix2_alice;
DROP ROLE regress_recsys_fix2_bob;
DROP ROLE regress_recsys_fix2_app;
CREATE EXTENSION recsys;

DROP TABLE id_a, id_b;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys
	FROM regress_recsys_s9fix_team, regress_recsys_s9fix_keeper, regress_recsys_s9fix_carol;
DROP ROLE regress_recsys_s9fix_team;
DROP ROLE regress_recsys_s9fix_keeper;
DROP ROLE regress_recsys_s9fix_carol;
