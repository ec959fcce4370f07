-- Owned models, per-model grants, row-level security on the catalog, and
-- sources read with their owner's rights (issue 11, defects 2, 3 and 4),
-- with three ordinary roles: a (holds a secret), b (trains models) and c
-- (granted nothing).
CREATE SCHEMA priv_test;
SET extra_float_digits = 0;
CREATE ROLE regress_recsys_a;
CREATE ROLE regress_recsys_b;
CREATE ROLE regress_recsys_c;
-- what doc/operations.md tells a DBA to grant a training role and an application role
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_a, regress_recsys_b;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO regress_recsys_c;
GRANT USAGE ON SCHEMA priv_test TO regress_recsys_a, regress_recsys_b, regress_recsys_c;
GRANT CREATE ON SCHEMA priv_test TO regress_recsys_b;

-- the outcome of a statement, SQLSTATE and message, as one line
CREATE FUNCTION priv_test.try(statement text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE statement;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

CREATE TABLE priv_test.events AS
SELECT u AS user_id, 100 + (u * 7 + j * 3) % 20 AS item_id
FROM generate_series(1, 20) u, generate_series(0, 5) j;
GRANT SELECT ON priv_test.events TO regress_recsys_a, regress_recsys_b;
-- a table only a may read
CREATE TABLE priv_test.a_secret (s text);
INSERT INTO priv_test.a_secret VALUES ('the secret of a');
ALTER TABLE priv_test.a_secret OWNER TO regress_recsys_a;

-- b's trap: a view whose WHERE clause copies a's secret into b's table
-- when it runs with a's rights (as b it cannot read the secret)
SET ROLE regress_recsys_b;
CREATE TABLE priv_test.loot (s text);
GRANT SELECT, INSERT ON priv_test.loot TO PUBLIC;
CREATE FUNCTION priv_test.snoop() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO priv_test.loot SELECT s FROM priv_test.a_secret;
	RETURN true;
EXCEPTION WHEN insufficient_privilege THEN
	RETURN true;
END
$$;
CREATE VIEW priv_test.b_events AS
SELECT user_id, item_id FROM priv_test.events WHERE priv_test.snoop();
SELECT name, owner, grantees, trained_by FROM recsys.train_item_knn('priv_test.b_events', 5, model => 'b_knn');
SELECT name, owner, grantees FROM recsys.train_cf('priv_test.events', 4, model => 'b_als', iterations => 3);
RESET ROLE;

--
-- Defect 2: serving reads the source as the model's owner
--
SELECT recsys.grant_model('b_knn', 'regress_recsys_a');
SET ROLE regress_recsys_a;
SELECT count(*) FROM recsys.recommend(1, 3, 'b_knn');
SELECT count(*) FROM recsys.explain(1, 101, 3, 'b_knn');
SELECT value >= 0 AS evaluated FROM recsys.evaluate('b_knn', 'priv_test.events') WHERE metric = 'seconds';
RESET ROLE;
-- nothing was copied: snoop() ran as b
SELECT count(*) AS leaked FROM priv_test.loot;
-- a superuser serving the model does not run b's code as superuser either
SELECT count(*) FROM recsys.recommend(1, 3, 'b_knn');
SELECT count(*) AS leaked FROM priv_test.loot;
-- and the source's code cannot change the session (a security-restricted operation)
SET ROLE regress_recsys_b;
CREATE OR REPLACE FUNCTION priv_test.snoop() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('priv_test.serving', true) = 'on' THEN
		CREATE TEMP TABLE IF NOT EXISTS loot_tmp (s text);
	END IF;
	BEGIN
		INSERT INTO priv_test.loot SELECT s FROM priv_test.a_secret;
	EXCEPTION WHEN insufficient_privilege THEN
		NULL;
	END;
	RETURN true;
END
$$;
RESET ROLE;
SET priv_test.serving = on;
SET ROLE regress_recsys_a;
SELECT priv_test.try($$SELECT count(*) FROM recsys.recommend(1, 3, 'b_knn')$$);
RESET ROLE;
RESET priv_test.serving;
-- the caller's role and search_path are back after that error
SELECT current_user, current_setting('search_path') AS search_path;

--
-- Defect 3: per-model access control
--
-- c, granted nothing, may use neither model
SET ROLE regress_recsys_c;
SELECT priv_test.try(q) FROM (VALUES
	($$SELECT recsys.recommend(1, 3, 'b_als')$$),
	($$SELECT recsys.score(1, 101, 'b_als')$$),
	($$SELECT recsys.similar_items(101, 3, 'b_knn')$$),
	($$SELECT recsys.explain(1, 101, 3, 'b_knn')$$),
	($$SELECT recsys.recommend_session('{101}', 3, 'b_knn')$$),
	($$SELECT recsys.recommend_for_vector('{1, 2, 3, 4}', 3, 'b_als')$$),
	($$SELECT recsys.fold_in(101, 1, 'b_als')$$),
	($$SELECT recsys.evaluate('b_als', 'priv_test.events')$$),
	($$SELECT recsys.refresh_user(1, 'b_als')$$)) t(q);
\set VERBOSITY terse
SELECT recsys.recommend(1, 3, 'b_als');
\set VERBOSITY default
-- the hint says who can help
SELECT recsys.score(1, 101, 'b_als');
-- c sees none of their catalog rows, through the views neither
SELECT (SELECT count(*) FROM recsys.models) AS models,
	   (SELECT count(*) FROM recsys.model_versions) AS versions,
	   (SELECT count(*) FROM recsys.user_factors) AS user_factors,
	   (SELECT count(*) FROM recsys.item_factors) AS item_factors,
	   (SELECT count(*) FROM recsys.item_neighbor_lists) AS item_lists,
	   (SELECT count(*) FROM recsys.item_neighbors) AS item_neighbors,
	   (SELECT count(*) FROM recsys.user_neighbors) AS user_neighbors,
	   (SELECT count(*) FROM recsys.item_stats) AS item_stats;
-- nor can it train into their names
SELECT priv_test.try($$SELECT recsys.train_popular('priv_test.events', model => 'b_als')$$);
RESET ROLE;

-- a, granted b_knn only, reads b_knn's rows and nothing of b_als's
SET ROLE regress_recsys_a;
SELECT name, owner FROM recsys.models ORDER BY 1;
SELECT model, count(*) FROM recsys.item_stats GROUP BY 1 ORDER BY 1;
SELECT count(*) > 0 AS knn_lists FROM recsys.item_neighbors WHERE model = 'b_knn';
SELECT (SELECT count(*) FROM recsys.item_factors) AS item_factors,
	   (SELECT count(*) FROM recsys.user_factors) AS user_factors;
SELECT count(*) FROM recsys.similar_items(101, 3, 'b_knn');
SELECT priv_test.try($$SELECT recsys.score(1, 101, 'b_als')$$);
-- but may change nothing of b's (recsys's functions refuse by name; the
-- direct UPDATEs and the DELETE find no row, as row-level security has it,
-- and the listing below shows b_knn unchanged)
SELECT priv_test.try(q) FROM (VALUES
	($$SELECT recsys.train_item_knn('priv_test.events', 5, model => 'b_knn')$$),
	($$SELECT recsys.train_blend('{b_knn}', model => 'b_als')$$),
	($$SELECT recsys.drop_model('b_knn')$$),
	($$SELECT recsys.activate('b_knn', 1)$$),
	($$SELECT recsys.rollback('b_knn')$$),
	($$SELECT recsys.grant_model('b_knn', 'regress_recsys_c')$$),
	($$SELECT recsys.revoke_model('b_knn', 'regress_recsys_a')$$),
	($$SELECT recsys.alter_model_owner('b_knn', 'regress_recsys_a')$$),
	($$UPDATE recsys.models SET source = 'priv_test.loot' WHERE name = 'b_knn'$$),
	($$UPDATE recsys.models SET name = 'mine' WHERE name = 'b_knn'$$),
	($$UPDATE recsys.models SET owner = 'regress_recsys_a' WHERE name = 'b_knn'$$),
	($$DELETE FROM recsys.models WHERE name = 'b_knn'$$),
	($$INSERT INTO recsys.item_stats VALUES ('b_knn', 1, 999, 1, 1, 1)$$)) t(q);
-- rows of models it may only use cannot be written
DELETE FROM recsys.item_stats WHERE model = 'b_knn';
UPDATE recsys.item_neighbor_lists SET scores = scores WHERE model = 'b_knn';
-- nor can a's new model claim another owner
SELECT priv_test.try($$INSERT INTO recsys.models (name, algorithm, source, owner)
	VALUES ('forged', 'popular', 'priv_test.events', 'regress_recsys_b')$$);
RESET ROLE;
SELECT name, version, owner, source FROM recsys.models ORDER BY 1;

-- grants: to PUBLIC, and back
SET ROLE regress_recsys_b;
SELECT recsys.grant_model('b_als', 'PUBLIC');
SELECT recsys.grant_model('b_als', 'public');
SELECT name, grantees FROM recsys.models ORDER BY 1;
SET ROLE regress_recsys_c;
SELECT count(*) FROM recsys.recommend(1, 3, 'b_als');
SELECT count(*) AS visible_rows FROM recsys.item_factors;
SET ROLE regress_recsys_b;
SELECT recsys.revoke_model('b_als', 'PUBLIC');
SELECT recsys.revoke_model('b_als', 'PUBLIC');
SET ROLE regress_recsys_c;
SELECT priv_test.try($$SELECT recsys.recommend(1, 3, 'b_als')$$);
SET ROLE regress_recsys_b;
-- errors: unknown role, unknown model, NULLs
SELECT recsys.grant_model('b_als', 'nobody');
SELECT recsys.grant_model('nope', 'PUBLIC');
SELECT recsys.revoke_model(NULL, 'PUBLIC');
SELECT recsys.alter_model_owner('b_als', NULL);
SELECT recsys.alter_model_owner('b_als', 'PUBLIC');
-- a new owner only if b could SET ROLE to it, as for ALTER TABLE ... OWNER TO
SELECT recsys.alter_model_owner('b_als', 'regress_recsys_a');
RESET ROLE;
GRANT regress_recsys_a TO regress_recsys_b;
SET ROLE regress_recsys_b;
SELECT recsys.alter_model_owner('b_als', 'regress_recsys_a');
-- a member of the owning role manages the model like its owner
SELECT name, owner FROM recsys.activate('b_als', 1);
RESET ROLE;
REVOKE regress_recsys_a FROM regress_recsys_b;
SET ROLE regress_recsys_b;
SELECT priv_test.try($$SELECT recsys.drop_model('b_als')$$);
RESET ROLE;
-- superusers may do anything
SELECT recsys.alter_model_owner('b_als', 'regress_recsys_b');
-- a rename keeps the owner (stored as an OID)
ALTER ROLE regress_recsys_b RENAME TO regress_recsys_b2;
SELECT name, owner FROM recsys.models ORDER BY 1;
ALTER ROLE regress_recsys_b2 RENAME TO regress_recsys_b;

-- blends: naming a member takes its use; serving a blend loads its
-- members as the blend's owner, so the blend's users need no grant on
-- them, and reads the items users have seen from its first member's
-- source as that member's owner (b's view runs as b, not as a)
SET ROLE regress_recsys_a;
SELECT priv_test.try($$SELECT recsys.train_blend('{b_knn, b_als}', model => 'a_blend')$$);
SELECT name, owner, params->'members' AS members FROM recsys.train_blend('{b_knn}', model => 'a_blend');
-- a role that may not see a's blend cannot list it either (before 0.8.0's
-- review anyone could, read past row-level security), whatever owner and
-- grantees it passes; b, b_knn's owner, sees every blend using it (its
-- drop is refused naming them, as DROP TABLE names another role's view)
SET ROLE regress_recsys_c;
SELECT recsys._blends_using('b_knn') AS c_hidden,
	   recsys._blends_using('b_knn', 'regress_recsys_c'::regrole::oid, '{0}') AS c_hidden_given,
	   recsys._rerankers_using('b_knn', 'regress_recsys_b'::regrole::oid, '{0}') AS c_hidden_rerankers;
SET ROLE regress_recsys_b;
SELECT recsys._blends_using('b_knn') AS b_owner_sees;
SET ROLE regress_recsys_a;
SELECT recsys.grant_model('a_blend', 'regress_recsys_c');
SET ROLE regress_recsys_c;
SELECT recsys._blends_using('b_knn') AS c_granted_sees;
SET ROLE regress_recsys_a;
SET ROLE regress_recsys_c;
SELECT count(*) FROM recsys.recommend(1, 3, 'a_blend');
SELECT priv_test.try($$SELECT recsys.recommend(1, 3, 'b_knn')$$);
-- b cannot drop b_knn from under a's blend, nor make it a blend, though
-- b cannot see that blend (like DROP TABLE under another role's view)
SET ROLE regress_recsys_b;
SELECT priv_test.try($$SELECT recsys.drop_model('b_knn')$$);
SELECT priv_test.try($$SELECT recsys.train_blend('{b_als}', model => 'b_knn')$$);
-- once b takes b_knn back from a, a's blend stops, naming the member
SET ROLE regress_recsys_b;
SELECT recsys.revoke_model('b_knn', 'regress_recsys_a');
SET ROLE regress_recsys_c;
SELECT count(*) FROM recsys.recommend(1, 3, 'a_blend');
RESET ROLE;
SELECT count(*) AS leaked FROM priv_test.loot;

--
-- Defect 4: a model cached by one role is not served to the next
--
SELECT count(*) FROM recsys.recommend(1, 3, 'b_als');
SELECT loads AS loads_before FROM recsys.cache_stats() WHERE model = 'b_als' \gset
SET ROLE regress_recsys_c;
SELECT priv_test.try($$SELECT recsys.recommend(1, 3, 'b_als')$$);
RESET ROLE;
-- the refusal leaves the copy cached for the roles that may use it
SELECT count(*) FROM recsys.recommend(1, 3, 'b_als');
SELECT loads = :loads_before AS not_reloaded FROM recsys.cache_stats() WHERE model = 'b_als';
-- in a parallel worker too (serving functions are parallel safe): the
-- source read as the owner, the refusal naming the owner
SET force_parallel_mode = on;
SELECT recsys.grant_model('b_als', 'regress_recsys_a');
SET ROLE regress_recsys_a;
SELECT count(*) FROM recsys.recommend(1, 3, 'b_als');
SET ROLE regress_recsys_c;
SELECT recsys.score(1, 101, 'b_als');
RESET ROLE;
SELECT recsys.revoke_model('b_als', 'regress_recsys_a');
RESET force_parallel_mode;
-- in one transaction, and in one statement through SECURITY DEFINER functions
BEGIN;
SELECT count(*) FROM recsys.recommend(1, 3, 'b_als');
SET LOCAL ROLE regress_recsys_c;
SELECT priv_test.try($$SELECT recsys.recommend(1, 3, 'b_als')$$);
ROLLBACK;
CREATE FUNCTION priv_test.as_b(model text) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
AS $$ SELECT count(*) FROM recsys.recommend(1, 3, model) $$;
ALTER FUNCTION priv_test.as_b(text) OWNER TO regress_recsys_b;
CREATE FUNCTION priv_test.as_c(model text) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
AS $$ SELECT count(*) FROM recsys.recommend(1, 3, model) $$;
ALTER FUNCTION priv_test.as_c(text) OWNER TO regress_recsys_c;
SET ROLE regress_recsys_c;
SELECT priv_test.as_b('b_als') AS as_b, priv_test.try($$SELECT recsys.recommend(1, 3, 'b_als')$$) AS as_c;
RESET ROLE;
SELECT count(*) AS as_superuser, priv_test.try($$SELECT priv_test.as_c('b_als')$$) AS as_c
FROM recsys.recommend(1, 3, 'b_als');

--
-- A blend reads its first member's source only as that member reads it
--
-- b's trap again, as the first member of a's blend; then b retrains it
-- on another source: a's blend must not go on reading the view, as a
SET ROLE regress_recsys_b;
SELECT name FROM recsys.train_item_knn('priv_test.b_events', 5, model => 'b_trap');
SELECT recsys.grant_model('b_trap', 'regress_recsys_a');
SET ROLE regress_recsys_a;
SELECT name, source FROM recsys.train_blend('{b_trap}', model => 'a_trapped');
SELECT count(*) FROM recsys.recommend(1, 3, 'a_trapped');
SET ROLE regress_recsys_b;
SELECT name, source FROM recsys.train_item_knn('priv_test.events', 5, model => 'b_trap');
SET ROLE regress_recsys_a;
SELECT priv_test.try($$SELECT recsys.recommend(1, 3, 'a_trapped')$$);
SELECT priv_test.try($$SELECT recsys.explain(1, 101, 3, 'a_trapped')$$);
RESET ROLE;
SELECT count(*) AS leaked FROM priv_test.loot;
-- nor can a blend's owner make the member's owner read columns of its
-- choosing, by editing the blend's own rows: b's private note stays b's
SET ROLE regress_recsys_b;
CREATE TABLE priv_test.b_private AS
SELECT user_id, item_id, 'card-4111-' || user_id AS note FROM priv_test.events;
SELECT name FROM recsys.train_item_knn('priv_test.b_private', 5, model => 'b_priv');
SELECT recsys.grant_model('b_priv', 'regress_recsys_a');
SET ROLE regress_recsys_a;
SELECT priv_test.try($$SELECT note FROM priv_test.b_private LIMIT 1$$);
SELECT name FROM recsys.train_blend('{b_priv}', model => 'a_cols');
SELECT count(*) FROM recsys.recommend(17, 3, 'a_cols');
UPDATE recsys.models SET params = params || '{"weight_col": "note"}' WHERE name = 'a_cols';
UPDATE recsys.model_versions SET params = params || '{"weight_col": "note"}' WHERE model = 'a_cols';
SELECT priv_test.try($$SELECT recsys.recommend(17, 3, 'a_cols')$$);
-- a model's use does not let a role lock or write its catalog row: the
-- owner's training would wait behind the lock
SELECT count(*) AS locked FROM (SELECT name FROM recsys.models WHERE name = 'b_priv' FOR UPDATE NOWAIT) l;
UPDATE recsys.models SET description = 'mine now' WHERE name = 'b_priv';
RESET ROLE;
-- a blend's member keeps its row and name while the blend uses it, as drop_model says
SET ROLE regress_recsys_b;
SELECT priv_test.try($$DELETE FROM recsys.models WHERE name = 'b_priv'$$);
SELECT priv_test.try($$UPDATE recsys.models SET name = 'b_priv2' WHERE name = 'b_priv'$$);
-- an owner's edit of its model's columns counts from the next statement
-- (the cached copy follows the row, though the version is the same)
SELECT count(*) FROM recsys.recommend(1, 3, 'b_trap');
UPDATE recsys.models SET params = params || '{"user_col": "no_such_column"}' WHERE name = 'b_trap';
SELECT priv_test.try($$SELECT recsys.recommend(1, 3, 'b_trap')$$);
RESET ROLE;
-- a grant to a role called "Public" goes to that role, not to PUBLIC
CREATE ROLE "Public";
SET ROLE regress_recsys_b;
SELECT recsys.grant_model('b_priv', 'Public');
SELECT grantees FROM recsys.models WHERE name = 'b_priv';
SET ROLE regress_recsys_c;
SELECT priv_test.try($$SELECT recsys.recommend(1, 3, 'b_priv')$$);
SET ROLE regress_recsys_b;
SELECT recsys.revoke_model('b_priv', 'Public');
RESET ROLE;
DROP ROLE "Public";
-- cache_stats lists only the models the current role may use
SELECT count(*) FROM recsys.recommend(1, 3, 'b_als');
SELECT count(*) AS cached FROM recsys.cache_stats() WHERE model = 'b_als';
SET ROLE regress_recsys_c;
SELECT count(*) AS listed_for_c FROM recsys.cache_stats() WHERE model = 'b_als';
RESET ROLE;

-- a blend's row is its owner's to write: naming a model there that its
-- owner may not use pins nothing (else anyone could stop anyone's drop)
SET ROLE regress_recsys_b;
SELECT name FROM recsys.train_popular('priv_test.events', model => 'b_pinned');
SET ROLE regress_recsys_a;
INSERT INTO recsys.models (name, algorithm, source, params)
VALUES ('a_squat', 'blend', 'priv_test.events', '{"members": ["b_pinned"]}');
SET ROLE regress_recsys_b;
-- a grant to a role dropped since shows as its OID, and is revoked by it
RESET ROLE;
CREATE ROLE regress_recsys_d;
SET ROLE regress_recsys_b;
SELECT recsys.grant_model('b_pinned', 'regress_recsys_d');
RESET ROLE;
DROP ROLE regress_recsys_d;
SET ROLE regress_recsys_b;
SELECT cardinality(grantees) AS grantees FROM recsys.models WHERE name = 'b_pinned';
SELECT recsys.revoke_model('b_pinned', (SELECT grantees[1]::oid::text FROM recsys.models WHERE name = 'b_pinned'));
SELECT cardinality(grantees) AS grantees FROM recsys.models WHERE name = 'b_pinned';
SELECT recsys.drop_model('b_pinned');
-- names in the refusal's hint are quoted as SQL literals
SELECT name FROM recsys.train_popular('priv_test.events', model => 'b''q');
SET ROLE regress_recsys_c;
SELECT recsys.score(1, 101, 'b''q');
SET ROLE regress_recsys_b;
SELECT recsys.drop_model('b''q');
-- an overlong name is not echoed back whole
SELECT recsys.drop_model(repeat('x', 100));
SELECT recsys.drop_model(repeat('x', 100), if_exists => true);
-- cut at a character's boundary (63 bytes would split an 'é')
SELECT recsys.grant_model(repeat('é', 40), 'regress_recsys_c');
RESET ROLE;

-- a role's models go before the role does (DROP OWNED does not know them)
SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'a\_%';
SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'b\_%' ORDER BY name;
DROP SCHEMA priv_test CASCADE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_a, regress_recsys_b, regress_recsys_c;
DROP ROLE regress_recsys_a;
DROP ROLE regress_recsys_b;
DROP ROLE regress_recsys_c;
