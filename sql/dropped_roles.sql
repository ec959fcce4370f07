-- Review s8 (fixr2): roles dropped under models and experiments, drops
-- refused for another role's experiment, writers in read-only transactions.
SET client_min_messages = warning;
CREATE ROLE regress_recsys_fixr2_team;
CREATE ROLE regress_recsys_fixr2_keeper;
CREATE ROLE regress_recsys_fixr2_alice;
CREATE ROLE regress_recsys_fixr2_bob;
CREATE ROLE regress_recsys_fixr2_gone;
RESET client_min_messages;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_fixr2_team, regress_recsys_fixr2_alice, regress_recsys_fixr2_bob;
CREATE TABLE fixr2_events (user_id bigint, item_id bigint);
-- by construction: item 10 is the most popular (5 users), then 11 (4), 12 (3)
INSERT INTO fixr2_events SELECT u, i FROM generate_series(1, 5) u, generate_series(10, 14) i WHERE i - 10 < 6 - u;
GRANT SELECT ON fixr2_events TO regress_recsys_fixr2_team, regress_recsys_fixr2_alice, regress_recsys_fixr2_keeper;

-- 1. A team role owns a model and an experiment naming it; alice's own
-- experiment serves the team's model through a grant.  The team role is
-- dropped: clean_orphans gives both to keeper in one step, and the
-- experiments' recorded owner of the model follows (it failed with
-- "changed owner since the experiment was created" and rolled back all)
SET ROLE regress_recsys_fixr2_team;
SELECT 1 FROM recsys.train_popular('fixr2_events', model => 'fixr2_team_pop');
SELECT recsys.grant_model('fixr2_team_pop', 'regress_recsys_fixr2_alice');
SELECT 1 FROM recsys.create_experiment('fixr2_team_x',
	'[{"name": "a", "model": "fixr2_team_pop"}, {"name": "b"}]', salt => 'fixr2');
SET ROLE regress_recsys_fixr2_alice;
SELECT 1 FROM recsys.train_popular('fixr2_events', model => 'fixr2_alice_pop');
SELECT 1 FROM recsys.create_experiment('fixr2_alice_x',
	'[{"name": "a", "model": "fixr2_team_pop"}, {"name": "b", "model": "fixr2_alice_pop", "similarity_model": "fixr2_team_pop"}]',
	salt => 'fixr2');
RESET ROLE;
DROP OWNED BY regress_recsys_fixr2_team;
DROP ROLE regress_recsys_fixr2_team;
SELECT kind, name FROM recsys.orphans() WHERE name LIKE 'fixr2%';
SELECT kind, name, owner, cardinality(removed_roles) AS removed
FROM recsys.clean_orphans('regress_recsys_fixr2_keeper') WHERE name LIKE 'fixr2%' ORDER BY 1, 2;
SELECT count(*) AS orphans_left FROM recsys.orphans() WHERE name LIKE 'fixr2%';
SELECT e.name, v ->> 'name' AS variant, v ->> 'model_owner' AS model_owner,
	   v ->> 'similarity_model_owner' AS similarity_model_owner
FROM recsys.experiments e, jsonb_array_elements(e.variants) v
WHERE e.name LIKE 'fixr2%' ORDER BY 1, 2;
-- both experiments serve again (item 10 first for a new user, known by construction)
SELECT u AS a_user FROM generate_series(100, 300) u WHERE recsys.assign('fixr2_team_x', u) = 'a' LIMIT 1 \gset
SELECT item_id FROM recsys.recommend_for_experiment('fixr2_team_x', :a_user, 1);
SET ROLE regress_recsys_fixr2_alice;
SELECT u AS a_user FROM generate_series(100, 300) u WHERE recsys.assign('fixr2_alice_x', u) = 'a' LIMIT 1 \gset
SELECT item_id FROM recsys.recommend_for_experiment('fixr2_alice_x', :a_user, 1);
RESET ROLE;
SELECT count(*) AS nothing_left FROM recsys.clean_orphans('regress_recsys_fixr2_keeper') WHERE name LIKE 'fixr2%';
SELECT recsys.drop_experiment('fixr2_team_x'), recsys.drop_experiment('fixr2_alice_x');

-- 2. bob's experiment serves alice's model through her grant: alice's drop
-- is refused without naming bob's experiment, which she can neither see
-- nor drop; the hint says to revoke the grant, after which the drop works
SET ROLE regress_recsys_fixr2_alice;
SELECT recsys.grant_model('fixr2_alice_pop', 'regress_recsys_fixr2_bob');
SET ROLE regress_recsys_fixr2_bob;
SELECT 1 FROM recsys.create_experiment('fixr2_bob_secret_x',
	'[{"name": "a", "model": "fixr2_alice_pop"}, {"name": "b"}]', salt => 'fixr2');
SET ROLE regress_recsys_fixr2_alice;
\set VERBOSITY default
SELECT recsys.drop_model('fixr2_alice_pop');
UPDATE recsys.models SET name = 'fixr2_renamed' WHERE name = 'fixr2_alice_pop';
\set VERBOSITY terse
SELECT count(*) AS alice_sees_experiments FROM recsys.experiments WHERE name = 'fixr2_bob_secret_x';
SELECT recsys.revoke_model('fixr2_alice_pop', 'regress_recsys_fixr2_bob');
SELECT recsys.drop_model('fixr2_alice_pop');
-- bob's variant is refused while the model is gone or not granted; once
-- alice trains a model of the same name again and grants it again, bob's
-- experiment refuses it too (55000 since s9-fix: the variant recorded the
-- dropped model's identity, recsys.models.created_at; until then it
-- served the new model) until bob gives the variants again
SET ROLE regress_recsys_fixr2_bob;
SELECT u AS a_user FROM generate_series(100, 300) u WHERE recsys.assign('fixr2_bob_secret_x', u) = 'a' LIMIT 1 \gset
SELECT item_id FROM recsys.recommend_for_experiment('fixr2_bob_secret_x', :a_user, 1);
SET ROLE regress_recsys_fixr2_alice;
SELECT 1 FROM recsys.train_popular('fixr2_events', model => 'fixr2_alice_pop');
SET ROLE regress_recsys_fixr2_bob;
SELECT item_id FROM recsys.recommend_for_experiment('fixr2_bob_secret_x', :a_user, 1);
SET ROLE regress_recsys_fixr2_alice;
SELECT recsys.grant_model('fixr2_alice_pop', 'regress_recsys_fixr2_bob');
SET ROLE regress_recsys_fixr2_bob;
\set VERBOSITY default
SELECT item_id FROM recsys.recommend_for_experiment('fixr2_bob_secret_x', :a_user, 1);
\set VERBOSITY terse
SELECT 1 FROM recsys.alter_experiment('fixr2_bob_secret_x', '[{"name": "a", "model": "fixr2_alice_pop"}, {"name": "b"}]');
SELECT item_id FROM recsys.recommend_for_experiment('fixr2_bob_secret_x', :a_user, 1);
RESET ROLE;
SELECT recsys.drop_experiment('fixr2_bob_secret_x');

-- 4. writers in a read-only transaction fail at once, naming themselves
-- (25006), before reading the source (they read and fitted it, then failed
-- at an internal INSERT)
SET ROLE regress_recsys_fixr2_alice;
BEGIN READ ONLY;
SELECT recsys.train_popular('fixr2_events', model => 'fixr2_ro');
ROLLBACK;
BEGIN READ ONLY;
SELECT recsys.train_cf('fixr2_events', model => 'fixr2_ro', factors => 2, iterations => 1);
ROLLBACK;
BEGIN READ ONLY;
SELECT * FROM recsys.train_auto('fixr2_events', 'fixr2_ro', budget => '1 minute', families => '{popular}');
ROLLBACK;
BEGIN READ ONLY;
SELECT recsys.refresh_user(1, 'fixr2_ro');
ROLLBACK;
BEGIN READ ONLY;
SELECT recsys.refresh_items('fixr2_ro');
ROLLBACK;
BEGIN READ ONLY;
SELECT recsys.create_ivf('fixr2_ro');
ROLLBACK;
BEGIN READ ONLY;
SELECT recsys.refresh_catalog('fixr2_ro');
ROLLBACK;
SET default_transaction_read_only = on;
SELECT * FROM recsys.tune('ease', 'fixr2_events', 'fixr2_events', '{"regularization": [1]}', model => 'fixr2_ro');
RESET default_transaction_read_only;
SELECT count(*) AS trained FROM recsys.models WHERE name = 'fixr2_ro';
RESET ROLE;

-- 5. a dropped grantee of a model: its owner clears it herself with
-- revoke_model and the dropped role's OID (as grantees shows it)
SET ROLE regress_recsys_fixr2_alice;
SELECT 1 FROM recsys.train_popular('fixr2_events', model => 'fixr2_granted');
RESET ROLE;
GRANT regress_recsys_fixr2_gone TO regress_recsys_fixr2_alice;
SET ROLE regress_recsys_fixr2_alice;
SELECT recsys.grant_model('fixr2_granted', 'regress_recsys_fixr2_gone');
RESET ROLE;
SELECT oid AS gone_oid FROM pg_roles WHERE rolname = 'regress_recsys_fixr2_gone' \gset
DROP ROLE regress_recsys_fixr2_gone;
SELECT kind, name, dropped_roles = ARRAY[:gone_oid]::oid[] AS the_dropped_grantee
FROM recsys.orphans() WHERE name LIKE 'fixr2%';
SET ROLE regress_recsys_fixr2_alice;
SELECT recsys.revoke_model('fixr2_granted', :'gone_oid');
SELECT cardinality(grantees) AS grantees FROM recsys.models WHERE name = 'fixr2_granted';
RESET ROLE;
SELECT count(*) AS orphans_left FROM recsys.orphans() WHERE name LIKE 'fixr2%';

-- clean_orphans' new owner must be a live role: NULL, PUBLIC (OID 0) and
-- an OID that names no role are refused (22023)
SELECT * FROM recsys.clean_orphans(NULL);
SELECT * FROM recsys.clean_orphans(0::oid::regrole);
SELECT * FROM recsys.clean_orphans(4294967295::oid::regrole);

SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'fixr2%' ORDER BY name;
DROP TABLE fixr2_events;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys
	FROM regress_recsys_fixr2_alice, regress_recsys_fixr2_bob;
DROP ROLE regress_recsys_fixr2_keeper;
DROP ROLE regress_recsys_fixr2_alice;
DROP ROLE regress_recsys_fixr2_bob;
