-- s10-fix: clean_orphans cleans what it can.  An orphaned experiment whose
-- row its checks refuse under the new owner (a variant whose model the
-- new owner may not use; a variant marked by the update from 0.9.0 whose
-- model's name another role trained again) used to fail the whole call,
-- leaving every orphan in place; now such an experiment is left as it
-- was, with a WARNING naming it and the way out, and the rest is cleaned.
SET client_min_messages = warning;
CREATE ROLE regress_recsys_fix_team;
CREATE ROLE regress_recsys_fix_keeper;
CREATE ROLE regress_recsys_fix_alice;
CREATE ROLE regress_recsys_fix_bob;
RESET client_min_messages;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_fix_team, regress_recsys_fix_alice, regress_recsys_fix_bob, regress_recsys_fix_keeper;
CREATE TABLE op_events (user_id bigint, item_id bigint);
-- by construction: item 10 is the most popular (5 users), then 11 (4), 12 (3)
INSERT INTO op_events SELECT u, i FROM generate_series(1, 5) u, generate_series(10, 14) i WHERE i - 10 < 6 - u;
GRANT SELECT ON op_events TO regress_recsys_fix_team, regress_recsys_fix_alice, regress_recsys_fix_bob,
	regress_recsys_fix_keeper;

-- alice grants her model to the team; the team trains one of its own
-- and a model it drops later (its name then taken by bob)
SET ROLE regress_recsys_fix_alice;
SELECT 1 FROM recsys.train_popular('op_events', model => 'op_alice_pop');
SELECT recsys.grant_model('op_alice_pop', 'regress_recsys_fix_team');
SET ROLE regress_recsys_fix_team;
SELECT 1 FROM recsys.train_popular('op_events', model => 'op_team_pop');
SELECT 1 FROM recsys.train_popular('op_events', model => 'op_gone_pop');
SELECT 1 FROM recsys.create_experiment('op_team_x', '[{"name": "a", "model": "op_team_pop"}, {"name": "b"}]', salt => 'op');
SELECT 1 FROM recsys.create_experiment('op_alice_x', '[{"name": "a", "model": "op_alice_pop"}, {"name": "b"}]', salt => 'op');
SELECT 1 FROM recsys.create_experiment('op_null_x', '[{"name": "a", "model": "op_gone_pop"}, {"name": "b"}]', salt => 'op');
RESET ROLE;
-- op_null_x as the update from 0.9.0 left such an experiment: its model
-- was dropped (0.9.0's drop_model allowed it) and the variant marked with
-- JSON nulls for the owner and identity it no longer knows
ALTER TABLE recsys.experiments DISABLE TRIGGER experiments_write_check;
ALTER TABLE recsys.models DISABLE TRIGGER models_members_delete;
DELETE FROM recsys.models WHERE name = 'op_gone_pop';
UPDATE recsys.experiments
SET variants = jsonb_set(jsonb_set(jsonb_set(variants, '{0,model_owner}', 'null'), '{0,model_created_at}', 'null'),
						 '{0,model_owner_oid}', 'null')
WHERE name = 'op_null_x';
ALTER TABLE recsys.models ENABLE TRIGGER models_members_delete;
ALTER TABLE recsys.experiments ENABLE TRIGGER experiments_write_check;
-- bob trains a model under the freed name
SET ROLE regress_recsys_fix_bob;
SELECT 1 FROM recsys.train_popular('op_events', model => 'op_gone_pop');
RESET ROLE;
DROP OWNED BY regress_recsys_fix_team;
DROP ROLE regress_recsys_fix_team;
SELECT kind, name FROM recsys.orphans() WHERE name LIKE 'op\_%' ORDER BY 1, 2;

-- op_alice_x: keeper may not use alice's model (the team's grant goes
-- with the team); op_null_x: bob's model is not the one it was given.
-- Both are skipped with a WARNING; the team's model and experiment, and
-- alice's model (its dropped grantee), are cleaned.
\set VERBOSITY default
SELECT kind, name, owner, cardinality(removed_roles) AS removed
FROM recsys.clean_orphans('regress_recsys_fix_keeper') WHERE name LIKE 'op\_%' ORDER BY 1, 2;
\set VERBOSITY terse
SELECT kind, name FROM recsys.orphans() WHERE name LIKE 'op\_%' ORDER BY 1, 2;
-- what was cleaned serves (item 10 by construction)
SELECT min(u) AS a_user FROM generate_series(1000, 1100) u WHERE recsys.assign('op_team_x', u) = 'a' \gset
SET ROLE regress_recsys_fix_keeper;
SELECT item_id FROM recsys.recommend_for_experiment('op_team_x', :a_user, 1, log => false);
RESET ROLE;
-- bob's model was not touched
SELECT name, owner FROM recsys.models WHERE name = 'op_gone_pop';

-- the ways out the WARNINGs name: alice grants her model to keeper and
-- the next call cleans op_alice_x; op_null_x is dropped
SET ROLE regress_recsys_fix_alice;
SELECT recsys.grant_model('op_alice_pop', 'regress_recsys_fix_keeper');
RESET ROLE;
SELECT kind, name, owner, cardinality(removed_roles) AS removed
FROM recsys.clean_orphans('regress_recsys_fix_keeper') WHERE name LIKE 'op\_%' ORDER BY 1, 2;
SELECT recsys.drop_experiment('op_null_x');
SELECT count(*) AS orphans_left FROM recsys.orphans() WHERE name LIKE 'op\_%';
SELECT count(*) AS nothing_left FROM recsys.clean_orphans('regress_recsys_fix_keeper') WHERE name LIKE 'op\_%';

SELECT recsys.drop_experiment(name) FROM recsys.experiments WHERE name LIKE 'op\_%' ORDER BY name;
SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'op\_%' ORDER BY name;
DROP TABLE op_events;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys
	FROM regress_recsys_fix_alice, regress_recsys_fix_bob, regress_recsys_fix_keeper;
DROP ROLE regress_recsys_fix_keeper;
DROP ROLE regress_recsys_fix_alice;
DROP ROLE regress_recsys_fix_bob;
