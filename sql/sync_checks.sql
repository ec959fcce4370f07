-- recsys.sync_model's checks on what a worker receives (0.9.0 review):
-- a member synced by another role must be the coordinator's very model
-- (trained_at, not only its version), nested blends are walked once per
-- model and too deep a chain is an error, the staging area refuses empty
-- copies and forgets stale ones, malformed copies get errors naming the
-- field; a blend's "members" counts only in its array form; train_auto's
-- paired z never keeps a member on NaN.
CREATE SCHEMA sc;
SET search_path = sc, public;
\set SHOW_CONTEXT never
CREATE TABLE events AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id, 1 AS w
FROM generate_series(1, 30) u, generate_series(0, 9) j
WHERE j <> u % 10;
SELECT (recsys.train_item_knn('sc.events', 5, model => 'sc_knn')).n_items;
SELECT version FROM recsys.train_cf('sc.events', factors => 2, model => 'sc_als', iterations => 2, seed => 1);
SELECT name FROM recsys.train_blend('{sc_als,sc_knn}', model => 'sc_blend');
CREATE TABLE payload AS
SELECT json_build_object('root', 'sc_blend', 'models', json_build_array(recsys._sync_model_copy('sc_blend')::json),
						 'requires', json_build_array(json_build_object(
							 'name', 'sc_knn', 'version', m.version, 'trained_at', m.trained_at, 'used_by', 'sc_blend'))) AS p
FROM recsys.models m WHERE m.name = 'sc_knn';

-- 1. the member as the coordinator has it: staged
SELECT recsys._sync_model_stage('k1', p) AS staged FROM payload;
-- the member dropped and trained again: version 1 again, another model.
-- Refused like a version mismatch (before: staged, and the blend served
-- against the old member)
SELECT recsys.drop_model('sc_blend');
SELECT recsys.drop_model('sc_knn');
SELECT (recsys.train_item_knn('sc.events', 3, model => 'sc_knn')).n_items;
SELECT version FROM recsys.models WHERE name = 'sc_knn';
\set VERBOSITY terse
SELECT recsys._sync_model_stage('k2', p) AS staged FROM payload;
\set VERBOSITY default
-- (the detail names both training times)
SET timezone = 'UTC';
UPDATE recsys.models SET trained_at = '2020-01-02 03:04:05+00' WHERE name = 'sc_knn';
SELECT recsys._sync_model_requires(jsonb_set(p::jsonb, '{requires,0,trained_at}', '"2001-02-03 04:05:06+00"')::json)
FROM payload;

-- 4. nested blends: each model's uses read once.  17 blends, each using
-- every later one (2^15 paths, the longest chain 16 deep: the limit),
-- forged into the catalog; the 40 of the review (a chain 39 deep) and a
-- cycle are errors, at once
INSERT INTO recsys.models (name, algorithm, source, params)
SELECT 'sc_ch' || g, 'blend', 'sc.events', '{}' FROM generate_series(1, 40) g;
INSERT INTO recsys.model_versions (model, version, algorithm, source, params)
SELECT 'sc_ch' || g, 1, 'blend', 'sc.events',
	   jsonb_build_object('members', coalesce((SELECT jsonb_agg('sc_ch' || h) FROM generate_series(g + 1, 17) h), '[]'))
FROM generate_series(1, 17) g;
SET statement_timeout = '20s';
SELECT count(*) AS models, max(name) FILTER (WHERE used_by IS NULL) AS root,
	   (array_agg(name))[1] AS first_applied, (array_agg(used_by))[1] AS its_user
FROM recsys._sync_model_closure('sc_ch1');
INSERT INTO recsys.model_versions (model, version, algorithm, source, params)
SELECT 'sc_ch' || g, 1, 'blend', 'sc.events',
	   jsonb_build_object('members', coalesce((SELECT jsonb_agg('sc_ch' || h) FROM generate_series(g + 1, 40) h), '[]'))
FROM generate_series(18, 40) g;
UPDATE recsys.model_versions SET params = '{"members": ["sc_ch18"]}' WHERE model = 'sc_ch17';
SELECT count(*) FROM recsys._sync_model_closure('sc_ch1');
SELECT count(*) FROM recsys._sync_model_closure('sc_ch24');
UPDATE recsys.model_versions SET params = '{"members": ["sc_ch38"]}' WHERE model = 'sc_ch40';
SELECT count(*) FROM recsys._sync_model_closure('sc_ch38');
-- a cycle met below a model outside it: the cycle named (before: a
-- chain "too deep, or from itself" blaming whichever model went past 16)
INSERT INTO recsys.models (name, algorithm, source, params)
SELECT 'sc_cy' || g, 'blend', 'sc.events', '{}' FROM generate_series(0, 2) g;
INSERT INTO recsys.model_versions (model, version, algorithm, source, params)
VALUES ('sc_cy0', 1, 'blend', 'sc.events', '{"members": ["sc_cy1"]}'),
	   ('sc_cy1', 1, 'blend', 'sc.events', '{"members": ["sc_cy2"]}'),
	   ('sc_cy2', 1, 'blend', 'sc.events', '{"members": ["sc_cy1"]}');
SELECT count(*) FROM recsys._sync_model_closure('sc_cy0');
DELETE FROM recsys.models WHERE name LIKE 'sc\_cy%';
RESET statement_timeout;
DELETE FROM recsys.models WHERE name LIKE 'sc\_ch%';

-- 5. empty copies are refused; what was staged over an hour ago goes
SELECT recsys._sync_model_stage('', p) FROM payload;
SELECT recsys._sync_model_stage('k3', '{"root": "sc_als", "models": []}');
SELECT recsys._sync_model_stage('k3', '{"root": "", "models": [{}]}');
SELECT recsys._sync_model_stage('k3', '{"models": [{}]}');
SELECT token, model FROM recsys.sync_staging ORDER BY 1;
UPDATE recsys.sync_staging SET staged_at = now() - interval '61 minutes' WHERE token = 'k1';
INSERT INTO recsys.sync_staging (token, model, payload) VALUES ('k0', 'sc_gone', '{}');
SELECT recsys._sync_model_stage('k4', json_build_object('root', 'sc_als', 'models',
		json_build_array(recsys._sync_model_copy('sc_als')::json)));
SELECT token, model FROM recsys.sync_staging ORDER BY 1;
DELETE FROM recsys.sync_staging;

-- 6. malformed copies: a clear error naming the field
CREATE TABLE good AS SELECT recsys._sync_model_copy('sc_als')::jsonb AS c;
CREATE FUNCTION stage_one(c jsonb) RETURNS integer LANGUAGE sql AS $$
	SELECT recsys._sync_model_stage('k5', json_build_object('root', 'sc_als', 'models', json_build_array(c))) $$;
SELECT stage_one(jsonb_set(c, '{model,version}', to_jsonb(repeat('9', 5000)))) FROM good;
SELECT stage_one(jsonb_set(c, '{model,version}', '"1e5000"')) FROM good;
SELECT stage_one(jsonb_set(c, '{model,version}', '"NaN"')) FROM good;
SELECT stage_one(jsonb_set(c, '{model,version}', '"1.0"')) FROM good;
SELECT stage_one(jsonb_set(c, '{model,version}', '"0"')) FROM good;
-- requires: a malformed version or training time named (before: bare
-- input syntax errors)
SELECT recsys._sync_model_requires('{"requires": [{"name": "am", "version": "abc"}]}');
SELECT recsys._sync_model_requires('{"requires": [{"name": "am", "version": 1.0}]}');
SELECT recsys._sync_model_requires('{"requires": [{"name": "sc_als", "version": 1, "trained_at": "soon"}]}');
SELECT recsys._sync_model_requires(json_build_object('requires', json_build_array(json_build_object(
		'name', 'sc_als', 'version', 1, 'trained_at', m.trained_at)))) AS as_here FROM recsys.models m WHERE m.name = 'sc_als';
SELECT stage_one(c - 'recsys_version') FROM good;
SELECT stage_one(c #- '{model,params}') FROM good;
SELECT stage_one(c #- '{version,algorithm}' #- '{model,source}') FROM good;
SELECT stage_one(c #- '{model,name}') FROM good;
SELECT stage_one(c - 'tables') FROM good;
SELECT stage_one(jsonb_set(c, '{tables,item_factors}', '5')) FROM good;
SELECT stage_one('5') FROM good;
SELECT stage_one(c - 'model') FROM good;
SELECT recsys._sync_model_stage('k6', json_build_object('root', 'sc_als', 'requires', 5,
		'models', json_build_array(c))) FROM good;
SELECT recsys._sync_model_stage('k6', json_build_object('root', 'sc_als', 'requires', json_build_array(5),
		'models', json_build_array(c))) FROM good;
-- rows of another model (or version) under tables, or a version row of
-- another model: refused (before: an IVF list written into sc_knn, which
-- then served through it)
SELECT version AS knn_version FROM recsys.models WHERE name = 'sc_knn';
SELECT recsys._sync_model_receive(jsonb_set(c, '{tables,ivf_lists}',
		'[{"model": "sc_knn", "version": 1, "list": 0, "centroid": [1, 1, 1, 1], "items": [100]}]')::json) FROM good;
SELECT count(*) AS knn_ivf_lists FROM recsys.ivf_lists WHERE model = 'sc_knn';
SELECT stage_one(jsonb_set(c, '{tables,item_factors,1,version}', '7')) FROM good;
SELECT stage_one(jsonb_set(c, '{tables,user_factors}', '[5]')) FROM good;
SELECT stage_one(jsonb_set(c, '{version,model}', '"sc_knn"')) FROM good;
SELECT stage_one(c) AS the_good_copy_stages FROM good;
DELETE FROM recsys.sync_staging;

-- 7. a blend's members name models only as an array: "members": "x"
-- (which its loader refuses) pins nothing
INSERT INTO recsys.models (name, algorithm, source, params) VALUES ('sc_forged', 'blend', 'sc.events', '{"members": "sc_als"}');
INSERT INTO recsys.model_versions (model, version, algorithm, source, params)
VALUES ('sc_forged', 1, 'blend', 'sc.events', '{"members": "sc_als"}');
SELECT recsys._blends_using('sc_als') AS blends_using, (SELECT count(*) FROM recsys._model_uses('sc_forged')) AS forged_uses;
UPDATE recsys.model_versions SET params = '{"members": ["sc_als"]}' WHERE model = 'sc_forged';
SELECT recsys._blends_using('sc_als') AS array_form_counts, recsys._model_uses('sc_forged');
DELETE FROM recsys.models WHERE name = 'sc_forged';

-- train_auto's paired z: a value that is not finite shows no gain (NaN >
-- 1.96 is true in PostgreSQL, so NaN would have kept the member); arrays
-- out of step are an error, not "no time left" (NULL)
SELECT recsys._auto_paired_z('{0,0}', '{Infinity,Infinity}') AS inf_inf,
	   recsys._auto_paired_z('{0,0,0}', '{1,NaN,1}') AS nan,
	   recsys._auto_paired_z('{0,0}', '{Infinity,Infinity}') >= 1.96 AS kept,
	   recsys._auto_paired_z(NULL, '{1,2}') AS no_time,
	   round(recsys._auto_paired_z('{0,0,0,0}', '{1,2,1,2}')::numeric, 4) AS known;
SELECT recsys._auto_paired_z('{1,2}', '{1,2,3}');

SELECT recsys.drop_model('sc_als'), recsys.drop_model('sc_knn');
DROP SCHEMA sc CASCADE;
