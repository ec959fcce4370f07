-- recsys.sync_model's two phases and its order, without Citus: what each
-- worker runs (_sync_model_stage, then _sync_model_switch) and what the
-- coordinator sends (_sync_model_closure), run on one node.
CREATE SCHEMA fx;
SET search_path = fx, public;
SET extra_float_digits = 0;
CREATE TABLE events AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id, 1 + (u + j) % 3 AS w
FROM generate_series(1, 30) u, generate_series(0, 9) j
WHERE j <> u % 10;
CREATE ROLE regress_recsys_fix_owner;
CREATE ROLE regress_recsys_fix_other;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_fix_owner, regress_recsys_fix_other;
GRANT USAGE, CREATE ON SCHEMA fx TO regress_recsys_fix_owner, regress_recsys_fix_other;
GRANT SELECT ON events TO regress_recsys_fix_owner, regress_recsys_fix_other;

-- the owner's blend of its ALS and the other role's item-kNN (granted),
-- and a re-ranker over the blend
SET ROLE regress_recsys_fix_other;
SELECT (recsys.train_item_knn('fx.events', 5, model => 'fx_knn')).n_items;
SELECT recsys.grant_model('fx_knn', 'regress_recsys_fix_owner');
SET ROLE regress_recsys_fix_owner;
SELECT version FROM recsys.train_cf('fx.events', factors => 4, model => 'fx_als', iterations => 5, seed => 7);
SELECT name, algorithm FROM recsys.train_blend('{fx_als,fx_knn}', model => 'fx_blend');
SELECT version FROM recsys.train_fm('fx.events', 'fx_blend', model => 'fx_fm', factors => 2, epochs => 1, pool => 5);

-- what sync_model sends, members first (by the longest chain of uses):
-- the members, then the blend, then its re-ranker; fx_knn is not the
-- caller's to copy (the workers must already have it)
SELECT * FROM recsys._sync_model_closure('fx_fm');
SELECT * FROM recsys._sync_model_closure('fx_blend');
SELECT * FROM recsys._sync_model_closure('fx_als');
SELECT recsys._model_uses('fx_fm') AS fm_uses, recsys._model_uses('fx_als') AS als_uses;

-- a copy as sync_model builds it (the payload it sends)
CREATE FUNCTION copy_of(mname text) RETURNS text LANGUAGE sql AS $$ SELECT recsys._sync_model_copy(mname) $$;
SELECT recsys._sync_model_copy('fx_nope');
CREATE FUNCTION state_of(mname text) RETURNS text LANGUAGE sql AS $$
	SELECT m.version || ' versions ' || (SELECT string_agg(v.version::text, ',' ORDER BY v.version)
										 FROM recsys.model_versions v WHERE v.model = m.name)
		   || ' ' || md5((SELECT string_agg(f.item_id || ':' || f.factors::text, ';' ORDER BY f.item_id)
						  FROM recsys.item_factors f WHERE f.model = m.name AND f.version = m.version))
	FROM recsys.models m WHERE m.name = mname $$;

-- this "worker" serves version 1 of fx_als; the coordinator trained version 2
CREATE TABLE copies AS SELECT 1 AS v, copy_of('fx_als') AS c;
SELECT version FROM recsys.train_cf('fx.events', factors => 4, model => 'fx_als', iterations => 5, seed => 8);
INSERT INTO copies SELECT 2, copy_of('fx_als');
SELECT recsys._sync_model_receive(c::json) FROM copies WHERE v = 1;
CREATE TABLE before AS SELECT state_of('fx_als') AS s;
SELECT s AS serving FROM before;
CREATE TABLE staged_payload AS
SELECT format('{"root": "fx_blend", "models": [%s, %s], "requires": [{"name": "fx_knn", "version": 1, "trained_at": %s, "used_by": "fx_blend"}]}',
			  (SELECT c FROM copies WHERE v = 2), copy_of('fx_blend'),
			  (SELECT to_json(m.trained_at) FROM recsys.models m WHERE m.name = 'fx_knn'))::json AS p;

-- phase 1 checks by a trial run and stages: nothing served changes
SELECT recsys._sync_model_stage('t1', p) AS staged_models FROM staged_payload;
SELECT state_of('fx_als') = (SELECT s FROM before) AS still_serving_version_1;
SELECT token, model, staged_by FROM recsys.sync_staging;
-- phase 2 switches (members first, in the payload's order)
SELECT recsys._sync_model_switch('t1') AS switched_models;
SELECT state_of('fx_als') AS serving, (SELECT count(*) FROM recsys.sync_staging) AS staged_left;
CREATE TABLE after AS SELECT state_of('fx_als') AS s;
-- the same token twice: nothing staged any more
SELECT recsys._sync_model_switch('t1');
-- a repeat (a sync retried after a worker failed) leaves the same state
SELECT recsys._sync_model_stage('t2', p) FROM staged_payload;
SELECT recsys._sync_model_switch('t2');
SELECT state_of('fx_als') = (SELECT s FROM after) AS repeat_is_idempotent;
-- a second staging of the same model replaces the first
SELECT recsys._sync_model_stage('t3', p) FROM staged_payload;
SELECT recsys._sync_model_stage('t4', p) FROM staged_payload;
SELECT token FROM recsys.sync_staging;
SELECT recsys._sync_model_discard('t4') AS discarded, recsys._sync_model_discard('t4') AS again;

-- a phase-1 failure stages nothing and changes nothing: a copy whose
-- second model is refused (a forged version row) rolls the first back too
SELECT recsys._sync_model_receive(c::json) FROM copies WHERE v = 1;
SELECT recsys._sync_model_stage('t5', json_build_object('root', 'fx_blend', 'models',
		json_build_array((SELECT c FROM copies WHERE v = 2)::json,
						 jsonb_set(copy_of('fx_blend')::jsonb, '{version,version}', '7')::json)))
	FROM staged_payload;
SELECT state_of('fx_als') = (SELECT s FROM before) AS still_version_1, (SELECT count(*) FROM recsys.sync_staging) AS staged;
-- a member the caller does not own must be on the node at the coordinator's version
SELECT recsys._sync_model_stage('t6', jsonb_set(p::jsonb, '{requires,0,version}', '3')::json) FROM staged_payload;
SELECT recsys._sync_model_stage('t6', jsonb_set(p::jsonb, '{requires,0,name}', '"fx_gone"')::json) FROM staged_payload;
-- malformed
SELECT recsys._sync_model_stage(NULL, p) FROM staged_payload;
SELECT recsys._sync_model_stage('t7', '{"root": "fx_blend"}');
SELECT (SELECT count(*) FROM recsys.sync_staging) AS staged;

-- the other role: cannot stage the owner's model (the trial run meets
-- the owner check), nor see, switch or discard what the owner staged
SELECT recsys._sync_model_stage('t8', p) FROM staged_payload;
RESET ROLE;
GRANT SELECT ON staged_payload TO regress_recsys_fix_other;
SET ROLE regress_recsys_fix_other;
SELECT recsys._sync_model_stage('t9', p) FROM fx.staged_payload;
SELECT count(*) AS staged_seen FROM recsys.sync_staging;
SELECT recsys._sync_model_switch('t8');
SELECT recsys._sync_model_discard('t8') AS discarded;
SET ROLE regress_recsys_fix_owner;
SET search_path = fx, public;
SELECT token FROM recsys.sync_staging;
SELECT recsys._sync_model_discard('t8') AS discarded;
-- the models a model uses are found by what kinds declare (the params
-- key of a kind that serves from other models), not by algorithm names:
-- a key forged into another kind's params names nothing, and pins
-- nothing against a drop; a real blend of a granted model pins it
SELECT * FROM recsys._kinds_using_models() ORDER BY 1;
SELECT version FROM recsys.train_cf('fx.events', factors => 2, model => 'fx_solo', iterations => 2, seed => 1);
SELECT recsys.grant_model('fx_solo', 'regress_recsys_fix_other');
SELECT version FROM recsys.train_cf('fx.events', factors => 2, model => 'fx_solo2', iterations => 2, seed => 1);
SELECT recsys.grant_model('fx_solo2', 'regress_recsys_fix_other');
SET ROLE regress_recsys_fix_other;
SELECT version FROM recsys.train_cf('fx.events', factors => 2, model => 'fx_forged', iterations => 2, seed => 1);
UPDATE recsys.models SET params = params || '{"members": ["fx_solo"], "candidates_from": "fx_solo"}' WHERE name = 'fx_forged';
UPDATE recsys.model_versions SET params = params || '{"members": ["fx_solo"], "candidates_from": "fx_solo"}' WHERE model = 'fx_forged';
SELECT count(*) AS forged_uses FROM recsys._model_uses('fx_forged');
SELECT name, algorithm FROM recsys.train_blend('{fx_solo2,fx_forged}', model => 'fx_other_blend');
SELECT recsys._model_uses('fx_other_blend') ORDER BY 1;
SET ROLE regress_recsys_fix_owner;
SET search_path = fx, public;
SELECT recsys.drop_model('fx_solo') AS dropped_despite_forged_key;
SELECT recsys.drop_model('fx_solo2');
RESET ROLE;
SET search_path = fx, public;
SELECT recsys.drop_model('fx_other_blend'), recsys.drop_model('fx_forged'), recsys.drop_model('fx_solo2');

-- sync_model checks closure models the caller may not see before sending
RESET ROLE;
SET search_path = fx, public;
SELECT recsys.revoke_model('fx_knn', 'regress_recsys_fix_owner');
SET ROLE regress_recsys_fix_owner;
SELECT * FROM recsys._sync_model_closure('fx_blend');
RESET ROLE;

DROP SCHEMA fx CASCADE;
DELETE FROM recsys.models WHERE name IN ('fx_fm');
DELETE FROM recsys.models WHERE name IN ('fx_blend');
DELETE FROM recsys.models WHERE name LIKE 'fx\_%';
DROP OWNED BY regress_recsys_fix_owner, regress_recsys_fix_other;
DROP ROLE regress_recsys_fix_owner, regress_recsys_fix_other;
