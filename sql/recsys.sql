-- recsys: recommender models trained and served in SQL.
--
-- This is the one hand-edited install script; the build copies it to
-- recsys--<version>.sql.  Released upgrade scripts are frozen.

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION recsys" to load this file. \quit

-- All objects live in schema recsys, created here so that it belongs to the
-- extension and goes with DROP EXTENSION (the control file names pg_catalog
-- only because a fixed-schema extension has to name one).
CREATE SCHEMA recsys;
COMMENT ON SCHEMA recsys IS 'recsys: recommender models trained and served in SQL';

-------------------------------------------------------------------------------
-- The model catalog
--
-- A model is a name; each training run of it writes a new version, whose
-- artefacts (factor rows, neighbour lists) are keyed by (model, version).
-- recsys.models points at the active version and repeats its description,
-- so "SELECT * FROM recsys.models" is all a DBA needs day to day.
-------------------------------------------------------------------------------

CREATE TABLE recsys.models (
	name			text PRIMARY KEY
		CHECK (name <> '' AND length(name) <= 63),
	version			integer NOT NULL DEFAULT 1 CHECK (version > 0),
	algorithm		text NOT NULL,
	source			text NOT NULL,
	params			jsonb NOT NULL DEFAULT '{}',
	n_users			bigint NOT NULL DEFAULT 0,
	n_items			bigint NOT NULL DEFAULT 0,
	n_interactions	bigint NOT NULL DEFAULT 0,
	trained_at		timestamptz NOT NULL DEFAULT now(),
	train_seconds	double precision,
	stats			jsonb NOT NULL DEFAULT '{}',
	metrics			jsonb NOT NULL DEFAULT '{}',
	trained_by		name NOT NULL DEFAULT current_user,
	description		text,
	-- who owns the model (the role that first trained it), and the roles
	-- granted its use (OID 0, shown as "-", for PUBLIC): role OIDs, so a
	-- rename changes nothing; dumped and restored by name
	owner			regrole NOT NULL
		DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)),
	grantees		regrole[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE recsys.models IS
	'recsys models: one row per model, describing its active version';

CREATE TABLE recsys.model_versions (
	model			text NOT NULL
		REFERENCES recsys.models (name) ON DELETE CASCADE ON UPDATE CASCADE,
	version			integer NOT NULL CHECK (version > 0),
	algorithm		text NOT NULL,
	source			text NOT NULL,
	params			jsonb NOT NULL DEFAULT '{}',
	n_users			bigint NOT NULL DEFAULT 0,
	n_items			bigint NOT NULL DEFAULT 0,
	n_interactions	bigint NOT NULL DEFAULT 0,
	trained_at		timestamptz NOT NULL DEFAULT now(),
	train_seconds	double precision,
	stats			jsonb NOT NULL DEFAULT '{}',
	metrics			jsonb NOT NULL DEFAULT '{}',
	trained_by		name NOT NULL DEFAULT current_user,
	PRIMARY KEY (model, version)
);
COMMENT ON TABLE recsys.model_versions IS
	'recsys model versions: every stored training run of every model';

CREATE TABLE recsys.user_factors (
	model			text NOT NULL,
	version			integer NOT NULL,
	user_id			bigint NOT NULL,
	bias			real NOT NULL DEFAULT 0,
	factors			real[] NOT NULL,
	PRIMARY KEY (model, version, user_id),
	FOREIGN KEY (model, version) REFERENCES recsys.model_versions (model, version)
		ON DELETE CASCADE ON UPDATE CASCADE
);
COMMENT ON TABLE recsys.user_factors IS
	'recsys factor models: one latent vector (and bias) per user and model version';

CREATE TABLE recsys.item_factors (
	model			text NOT NULL,
	version			integer NOT NULL,
	item_id			bigint NOT NULL,
	bias			real NOT NULL DEFAULT 0,
	factors			real[] NOT NULL,
	PRIMARY KEY (model, version, item_id),
	FOREIGN KEY (model, version) REFERENCES recsys.model_versions (model, version)
		ON DELETE CASCADE ON UPDATE CASCADE
);
COMMENT ON TABLE recsys.item_factors IS
	'recsys factor models: one latent vector (and bias) per item and model version';

-- Parameters that are neither per-user nor per-item rows (the layers of a
-- neural model, a factorisation machine's feature weights, learned
-- neighbourhood weights): one named array per row, row-major, its
-- dimensions in shape.  The loader checks that they agree.
CREATE TABLE recsys.model_parameters (
	model			text NOT NULL,
	version			integer NOT NULL,
	name			text NOT NULL,
	shape			integer[] NOT NULL,
	value			real[] NOT NULL,
	PRIMARY KEY (model, version, name),
	FOREIGN KEY (model, version) REFERENCES recsys.model_versions (model, version)
		ON DELETE CASCADE ON UPDATE CASCADE
);
COMMENT ON TABLE recsys.model_parameters IS
	'recsys models'' named parameter arrays (layers, feature weights), row-major, with their shape';
-- learned weights do not compress (see the neighbour arrays below)
ALTER TABLE recsys.model_parameters ALTER COLUMN value SET STORAGE EXTERNAL;

-- Neighbour lists are stored one row per item (or user), best first, so a
-- model of 100,000 items x 100 neighbours is 100,000 rows to write, check
-- and load rather than 10 million; the views below show them one pair per
-- row for querying and joining (as the role that queries them, so the
-- lists' row-level security holds through the views too).
CREATE TABLE recsys.item_neighbor_lists (
	model			text NOT NULL,
	version			integer NOT NULL,
	item_id			bigint NOT NULL,
	neighbor_ids	bigint[] NOT NULL,
	scores			real[] NOT NULL
		CHECK (cardinality(scores) = cardinality(neighbor_ids)),
	PRIMARY KEY (model, version, item_id),
	FOREIGN KEY (model, version) REFERENCES recsys.model_versions (model, version)
		ON DELETE CASCADE ON UPDATE CASCADE
);
COMMENT ON TABLE recsys.item_neighbor_lists IS
	'recsys neighbourhood models: each item''s most similar items, best first';

CREATE TABLE recsys.user_neighbor_lists (
	model			text NOT NULL,
	version			integer NOT NULL,
	user_id			bigint NOT NULL,
	neighbor_ids	bigint[] NOT NULL,
	scores			real[] NOT NULL
		CHECK (cardinality(scores) = cardinality(neighbor_ids)),
	PRIMARY KEY (model, version, user_id),
	FOREIGN KEY (model, version) REFERENCES recsys.model_versions (model, version)
		ON DELETE CASCADE ON UPDATE CASCADE
);
-- Neighbour arrays do not compress: storing them uncompressed saves pglz
-- trying on every row (a full EASE model of 8,776 items wrote 4x faster).
ALTER TABLE recsys.item_neighbor_lists
	ALTER COLUMN neighbor_ids SET STORAGE EXTERNAL, ALTER COLUMN scores SET STORAGE EXTERNAL;
ALTER TABLE recsys.user_neighbor_lists
	ALTER COLUMN neighbor_ids SET STORAGE EXTERNAL, ALTER COLUMN scores SET STORAGE EXTERNAL;

COMMENT ON TABLE recsys.user_neighbor_lists IS
	'recsys user-kNN models: each user''s most similar users, best first';

CREATE VIEW recsys.item_neighbors WITH (security_invoker = true) AS
SELECT l.model, l.version, l.item_id, n.neighbor_id, n.score, n.rank::integer AS rank
FROM recsys.item_neighbor_lists l,
	 ROWS FROM (pg_catalog.unnest(l.neighbor_ids), pg_catalog.unnest(l.scores))
		 WITH ORDINALITY AS n(neighbor_id, score, rank);
COMMENT ON VIEW recsys.item_neighbors IS
	'recsys neighbourhood models: one row per (item, neighbour), rank 1 the most similar';

CREATE VIEW recsys.user_neighbors WITH (security_invoker = true) AS
SELECT l.model, l.version, l.user_id, n.neighbor_id, n.score, n.rank::integer AS rank
FROM recsys.user_neighbor_lists l,
	 ROWS FROM (pg_catalog.unnest(l.neighbor_ids), pg_catalog.unnest(l.scores))
		 WITH ORDINALITY AS n(neighbor_id, score, rank);
COMMENT ON VIEW recsys.user_neighbors IS
	'recsys user-kNN models: one row per (user, neighbour), rank 1 the most similar';

CREATE TABLE recsys.item_stats (
	model			text NOT NULL,
	version			integer NOT NULL,
	item_id			bigint NOT NULL,
	n_users			integer NOT NULL,
	weight_sum		real NOT NULL,
	popularity		real NOT NULL,
	PRIMARY KEY (model, version, item_id),
	FOREIGN KEY (model, version) REFERENCES recsys.model_versions (model, version)
		ON DELETE CASCADE ON UPDATE CASCADE
);
COMMENT ON TABLE recsys.item_stats IS
	'recsys: every trained item with its user count, weight and popularity score (the cold-start fallback)';

-------------------------------------------------------------------------------
-- Ownership, grants and row-level security on the catalog
--
-- A model belongs to the role that first trained it (recsys.models.owner).
-- The owner, members of the owning role and superusers may retrain, drop,
-- activate, roll back, rename and grant it, and write its catalog rows;
-- recsys.grant_model gives other roles (or PUBLIC) its use.  Row-level
-- security shows every role only the rows of models it owns or may use;
-- the artefact tables follow recsys.models through one hashed subquery
-- per statement, so loading a 100,000-row model costs one hash probe per
-- row.  The extension's owner (the tables' owner) and superusers bypass
-- it, as they bypass every policy.  See doc/operations.md.
-------------------------------------------------------------------------------

-- internal: whether the current role has the privileges of a model's owner
CREATE FUNCTION recsys._owns(owner regrole)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_has_role(owner, 'USAGE') $$;
COMMENT ON FUNCTION recsys._owns(regrole) IS
	'internal: whether the current role has the privileges of a model''s owner';

-- internal: whether the current role may use a model: it owns it, or the
-- model is granted to PUBLIC (OID 0) or to a role whose privileges it has
CREATE FUNCTION recsys._may_use(owner regrole, grantees regrole[])
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_has_role(owner, 'USAGE')
		OR EXISTS (SELECT FROM unnest(grantees) g WHERE g::oid = 0 OR pg_has_role(g, 'USAGE'))
$$;
COMMENT ON FUNCTION recsys._may_use(regrole, regrole[]) IS
	'internal: whether the current role owns a model or was granted its use';

-- internal: the owner of a model, read past row-level security, after
-- checking that the current role has its privileges (42501 otherwise,
-- naming what was refused: action).  A model that does not exist is an
-- error, or NULL when missing_ok.
CREATE FUNCTION recsys._require_model_owner(model text, action text, missing_ok boolean DEFAULT false)
RETURNS regrole
AS 'MODULE_PATHNAME', 'recsys_require_model_owner'
LANGUAGE C VOLATILE PARALLEL RESTRICTED SECURITY INVOKER;
COMMENT ON FUNCTION recsys._require_model_owner(text, text, boolean) IS
	'internal: a model''s owner, after checking that the current role has its privileges';

-- internal: the blends that name a model among their members, whoever
-- owns them (read past row-level security, like pg_depend for DROP TABLE)
CREATE FUNCTION recsys._blends_using(model text, owner oid DEFAULT NULL,
									 grantees oid[] DEFAULT NULL)
RETURNS text[]
AS 'MODULE_PATHNAME', 'recsys_blends_using'
LANGUAGE C VOLATILE PARALLEL RESTRICTED SECURITY INVOKER;
COMMENT ON FUNCTION recsys._blends_using(text, oid, oid[]) IS
	'internal: the blends that use a model, whoever owns them (their owners may use it: as owner, or through grantees, if given; else the model''s own)';

-- internal: the re-rankers that name a model as their candidates_from,
-- counted as _blends_using counts blends
CREATE FUNCTION recsys._rerankers_using(model text, owner oid DEFAULT NULL,
										grantees oid[] DEFAULT NULL)
RETURNS text[]
AS 'MODULE_PATHNAME', 'recsys_rerankers_using'
LANGUAGE C VOLATILE PARALLEL RESTRICTED SECURITY INVOKER;
COMMENT ON FUNCTION recsys._rerankers_using(text, oid, oid[]) IS
	'internal: the re-rankers that re-rank a model''s candidates, whoever owns them (counted as _blends_using counts blends)';

-- internal: a role by its name, as stored (not an SQL identifier), or
-- OID 0 for PUBLIC when allowed
CREATE FUNCTION recsys._role(role_name text, argname text, allow_public boolean)
RETURNS regrole
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result regrole;
BEGIN
	-- a role of that exact name first ("Public" may be one); then PUBLIC,
	-- spelt in any case as in GRANT (no role may be called public)
	SELECT r.oid INTO result FROM pg_roles r WHERE r.rolname = role_name;
	IF FOUND THEN
		RETURN result;
	END IF;
	IF allow_public AND lower(role_name) = 'public' THEN
		RETURN 0;
	END IF;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'role "%" does not exist', role_name
			USING ERRCODE = 'undefined_object',
				  HINT = format('Pass the name of an existing role as %s%s.', argname,
								CASE WHEN allow_public THEN ', or PUBLIC' ELSE '' END);
	END IF;
	RETURN result;
END
$$;
COMMENT ON FUNCTION recsys._role(text, text, boolean) IS
	'internal: a role by its name, or PUBLIC';

-- internal: direct UPDATEs and DELETEs of recsys.models rows (which row-level
-- security lets a model's users see) are the owner's; the error names both
CREATE FUNCTION recsys._models_write_check()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM recsys._require_model_owner(OLD.name, lower(TG_OP), missing_ok => true);
	RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
COMMENT ON FUNCTION recsys._models_write_check() IS
	'internal: only a model''s owner may update or delete its recsys.models row';
CREATE TRIGGER models_write_check BEFORE UPDATE OR DELETE ON recsys.models
	FOR EACH ROW EXECUTE FUNCTION recsys._models_write_check();

-- Like drop_model, and like DROP TABLE under a view: a blend's member (a
-- re-ranker's base) keeps its row and its name while a blend (re-ranker)
-- that remains names it (both find it by name; a rename would leave them
-- dangling, or serving whatever model takes the name).  Checked once the
-- statement is done, so that a blend and its members can go together.
CREATE FUNCTION recsys._models_members_check()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	gone text;
	gone_owner regrole;
	gone_grantees regrole[];
	blends text[];
	rerankers text[];
BEGIN
	FOR gone, gone_owner, gone_grantees IN
		SELECT o.name, o.owner, o.grantees FROM old_rows o
		WHERE TG_OP OPERATOR(pg_catalog.=) 'DELETE'
		UNION
		SELECT o.name, o.owner, o.grantees FROM old_rows o
		WHERE TG_OP OPERATOR(pg_catalog.=) 'UPDATE'
		  AND NOT EXISTS (SELECT FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) o.name)
	LOOP
		-- (the row is gone: its owner and grantees as they were)
		blends := recsys._blends_using(gone, gone_owner::pg_catalog.oid,
									   coalesce(gone_grantees, '{}')::pg_catalog.oid[]);
		IF pg_catalog.cardinality(blends) > 0 THEN
			RAISE EXCEPTION 'cannot % model "%" because blend "%" uses it',
				CASE TG_OP WHEN 'DELETE' THEN 'delete' ELSE 'rename' END, gone, blends[1]
				USING ERRCODE = 'dependent_objects_still_exist',
					  HINT = 'Drop the blend first, or train it again without this member.';
		END IF;
		rerankers := recsys._rerankers_using(gone, gone_owner::pg_catalog.oid,
											 coalesce(gone_grantees, '{}')::pg_catalog.oid[]);
		IF pg_catalog.cardinality(rerankers) > 0 THEN
			RAISE EXCEPTION 'cannot % model "%" because re-ranker "%" uses it',
				CASE TG_OP WHEN 'DELETE' THEN 'delete' ELSE 'rename' END, gone, rerankers[1]
				USING ERRCODE = 'dependent_objects_still_exist',
					  HINT = 'Drop the re-ranker first, or train it again with another candidates_from.';
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION recsys._models_members_check() IS
	'internal: a model a remaining blend or re-ranker uses keeps its recsys.models row and name';
CREATE TRIGGER models_members_delete AFTER DELETE ON recsys.models
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION recsys._models_members_check();
CREATE TRIGGER models_members_rename AFTER UPDATE ON recsys.models
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION recsys._models_members_check();

-- recsys.models: a model's users see its row; its owners write it (the
-- others' UPDATE and DELETE find no row, as on any table with row-level
-- security; recsys's functions refuse them by name; WITH CHECK keeps a
-- row's owner a role the writer has the privileges of)
ALTER TABLE recsys.models ENABLE ROW LEVEL SECURITY;
CREATE POLICY model_users ON recsys.models FOR SELECT
	USING (recsys._may_use(owner, grantees));
-- (a separate policy for writes, so that a role that may only use a model
-- cannot lock its row either: SELECT ... FOR UPDATE needs the UPDATE
-- policy, and a held row lock would stall the owner's training)
CREATE POLICY model_owners ON recsys.models
	USING (recsys._owns(owner))
	WITH CHECK (recsys._owns(owner));

-- every other table: rows of the models the role sees (through the policy
-- above) may be read, rows of the models it owns written
DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['model_versions', 'user_factors', 'item_factors',
							 'item_neighbor_lists', 'user_neighbor_lists', 'item_stats',
							 'model_parameters'] LOOP
		EXECUTE format('ALTER TABLE recsys.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY model_users ON recsys.%I FOR SELECT '
					   'USING (model IN (SELECT m.name FROM recsys.models m))', t);
		EXECUTE format('CREATE POLICY model_owners ON recsys.%I '
					   'USING (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner))) '
					   'WITH CHECK (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)))', t);
	END LOOP;
END
$$;

-- pg_dump keeps the rows of extension tables only when told to
SELECT pg_catalog.pg_extension_config_dump('recsys.models', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.model_versions', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.user_factors', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.item_factors', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.item_neighbor_lists', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.user_neighbor_lists', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.item_stats', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.model_parameters', '');

-- Everybody may look up the schema's functions; reading and writing models
-- takes table privileges a DBA grants (see doc/operations.md).
GRANT USAGE ON SCHEMA recsys TO PUBLIC;

-------------------------------------------------------------------------------
-- Managing models
-------------------------------------------------------------------------------

CREATE FUNCTION recsys.drop_model(model text, if_exists boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	blends text;
	n_blends bigint;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._require_model_owner(model, 'drop', missing_ok => true);
	-- like DROP TABLE under a view: a blend's member (a re-ranker's base)
	-- stays until the blend (re-ranker) goes
	-- (the row lock waits for a blend being trained on it to commit)
	PERFORM FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) model FOR UPDATE;
	-- (every role's blends: one this role may not see counts too)
	SELECT string_agg(format('"%s"', b.name), ', ' ORDER BY b.name), count(*) INTO blends, n_blends
	FROM unnest(recsys._blends_using(model)) b(name);
	IF n_blends > 0 THEN
		RAISE EXCEPTION 'cannot drop model "%" because %', model,
			CASE WHEN n_blends = 1 THEN format('blend %s uses it', blends)
				 ELSE format('blends %s use it', blends) END
			USING ERRCODE = 'dependent_objects_still_exist',
				  HINT = 'Drop the blend first, or train it again without this member.';
	END IF;
	-- likewise a re-ranker's base (a model of that name would serve in its place)
	SELECT string_agg(format('"%s"', r.name), ', ' ORDER BY r.name), count(*) INTO blends, n_blends
	FROM unnest(recsys._rerankers_using(model)) r(name);
	IF n_blends > 0 THEN
		RAISE EXCEPTION 'cannot drop model "%" because %', model,
			CASE WHEN n_blends = 1 THEN format('re-ranker %s uses it', blends)
				 ELSE format('re-rankers %s use it', blends) END
			USING ERRCODE = 'dependent_objects_still_exist',
				  HINT = 'Drop the re-ranker first, or train it again with another candidates_from.';
	END IF;
	DELETE FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) model;
	IF NOT FOUND AND NOT coalesce(if_exists, false) THEN
		RAISE EXCEPTION 'model "%" does not exist',
			CASE WHEN length(model) > 63 THEN left(model, 63) || '...' ELSE model END
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'SELECT name FROM recsys.models lists the models.';
	END IF;
END
$$;
COMMENT ON FUNCTION recsys.drop_model(text, boolean) IS
	'drop a model with all its versions and artefacts';

CREATE FUNCTION recsys.activate(model text, version integer)
RETURNS recsys.models
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result recsys.models;
	missing text;
BEGIN
	IF model IS NULL OR version IS NULL THEN
		RAISE EXCEPTION 'model and version must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._require_model_owner(model, 'activate');
	UPDATE recsys.models m
	SET version = v.version, algorithm = v.algorithm, source = v.source, params = v.params,
		stats = v.stats, n_users = v.n_users, n_items = v.n_items,
		n_interactions = v.n_interactions, trained_at = v.trained_at,
		train_seconds = v.train_seconds, metrics = v.metrics, trained_by = v.trained_by
	FROM recsys.model_versions v
	WHERE m.name = activate.model AND v.model = activate.model AND v.version = activate.version
	RETURNING m.* INTO result;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" has no version %', model, version
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = format('Versions kept: %s.',
								(SELECT string_agg(v.version::text, ', ' ORDER BY v.version)
								 FROM recsys.model_versions v WHERE v.model = activate.model));
	END IF;
	-- a blend's version serves only if its members still exist as models of their own
	IF result.algorithm = 'blend' THEN
		SELECT string_agg(format('"%s"', e.member), ', ' ORDER BY e.member) INTO missing
		FROM jsonb_array_elements_text(result.params -> 'members') e(member)
		WHERE NOT EXISTS (SELECT 1 FROM recsys.models b
						  WHERE b.name = e.member AND b.algorithm <> 'blend');
		IF missing IS NOT NULL THEN
			RAISE EXCEPTION 'version % of blend "%" names members that are no longer models of their own: %',
				version, model, missing
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Train the members again, or train the blend again from the models there are.';
		END IF;
	END IF;
	-- likewise a re-ranker's base (one the activating role may use, no re-ranker)
	IF result.algorithm = 'fm' THEN
		SELECT format('"%s"', result.params ->> 'candidates_from') INTO missing
		WHERE NOT EXISTS (SELECT 1 FROM recsys.models b
						  WHERE b.name = result.params ->> 'candidates_from' AND b.algorithm <> 'fm');
		IF missing IS NOT NULL THEN
			RAISE EXCEPTION 'version % of re-ranker "%" re-ranks model %, which is no longer a model to re-rank',
				version, model, missing
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Train the re-ranker again on a model there is.';
		END IF;
	END IF;
	-- the base and members must still be their owners' at training (recorded
	-- by name since 0.7.0): else another role took the name after a drop
	SELECT string_agg(format('"%s"', e.name), ', ' ORDER BY e.name) INTO missing
	FROM (SELECT result.params ->> 'candidates_from', result.params ->> 'candidates_owner'
		  WHERE result.algorithm = 'fm'
		  UNION ALL
		  SELECT m.name, result.params -> 'member_owners' ->> (m.o::integer - 1)
		  FROM jsonb_array_elements_text(result.params -> 'members') WITH ORDINALITY m(name, o)
		  WHERE result.algorithm = 'blend') e(name, owner)
	JOIN recsys.models b ON b.name = e.name
	WHERE e.owner IS NOT NULL AND pg_get_userbyid(b.owner) IS DISTINCT FROM e.owner;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION 'version % of "%" is built on models that changed owner since training: %',
			version, model, missing
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'A model of that name was dropped, and another role''s model took the name.',
				  HINT = 'Train the model again.';
	END IF;
	RETURN result;
END
$$;
COMMENT ON FUNCTION recsys.activate(text, integer) IS
	'make a kept version of a model the one that serves';

CREATE FUNCTION recsys.rollback(model text)
RETURNS recsys.models
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	active integer;
	previous integer;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._require_model_owner(model, 'roll back');
	-- (NO KEY: a blend being trained on the model holds a key-share lock;
	-- a rollback need not wait for it, as a retrain does not)
	SELECT m.version INTO active FROM recsys.models m WHERE m.name = rollback.model FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'SELECT name FROM recsys.models lists the models.';
	END IF;
	SELECT max(v.version) INTO previous FROM recsys.model_versions v
	WHERE v.model = rollback.model AND v.version < active;
	IF previous IS NULL THEN
		RAISE EXCEPTION 'model "%" has no version older than the active version %', model, active
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'recsys.keep_versions sets how many versions training keeps.';
	END IF;
	RETURN recsys.activate(model, previous);
END
$$;
COMMENT ON FUNCTION recsys.rollback(text) IS
	'make the version before the active one serve again';

-- internal: grant_model (give) and revoke_model (not give)
CREATE FUNCTION recsys._change_grant(model text, grantee text, give boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	role regrole;
BEGIN
	IF model IS NULL OR grantee IS NULL THEN
		RAISE EXCEPTION 'model and grantee must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._require_model_owner(model, CASE WHEN give THEN 'grant use of' ELSE 'revoke use of' END);
	IF NOT give AND grantee ~ '^[0-9]{1,10}$' AND grantee::numeric <= 4294967295
	   AND NOT EXISTS (SELECT FROM pg_roles r
					   WHERE r.rolname = grantee OR r.oid = grantee::numeric::bigint::oid) THEN
		-- a dropped role's grant, which grantees shows as its OID
		role := grantee::numeric::bigint::oid::regrole;
	ELSE
		role := recsys._role(grantee, 'grantee', true);
	END IF;
	-- granting twice is granting once; revoking what was not granted does nothing
	UPDATE recsys.models m
	SET grantees = CASE WHEN give THEN m.grantees || role ELSE array_remove(m.grantees, role) END
	WHERE m.name = _change_grant.model AND (role = ANY (m.grantees)) <> give;
END
$$;
COMMENT ON FUNCTION recsys._change_grant(text, text, boolean) IS
	'internal: give or take back the use of a model';

CREATE FUNCTION recsys.grant_model(model text, grantee text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT recsys._change_grant(model, grantee, true) $$;
COMMENT ON FUNCTION recsys.grant_model(text, text) IS
	'give a role (or PUBLIC) the use of a model: serving, evaluating, blending it';

CREATE FUNCTION recsys.revoke_model(model text, grantee text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT recsys._change_grant(model, grantee, false) $$;
COMMENT ON FUNCTION recsys.revoke_model(text, text) IS
	'take back the use of a model from a role (or PUBLIC)';

CREATE FUNCTION recsys.alter_model_owner(model text, new_owner text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	role regrole;
BEGIN
	IF model IS NULL OR new_owner IS NULL THEN
		RAISE EXCEPTION 'model and new_owner must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._require_model_owner(model, 'change the owner of');
	role := recsys._role(new_owner, 'new_owner', false);
	-- as ALTER TABLE ... OWNER TO: only to a role the caller could SET ROLE to
	IF NOT pg_has_role(role, 'MEMBER') THEN
		RAISE EXCEPTION 'must be able to SET ROLE "%" to give it model "%"', new_owner, model
			USING ERRCODE = 'insufficient_privilege',
				  HINT = format('A superuser, or a member of role "%s", may.', new_owner);
	END IF;
	UPDATE recsys.models m SET owner = role WHERE m.name = alter_model_owner.model;
END
$$;
COMMENT ON FUNCTION recsys.alter_model_owner(text, text) IS
	'give a model to another role (the caller must be able to SET ROLE to it)';

-------------------------------------------------------------------------------
-- Reading sources
-------------------------------------------------------------------------------

CREATE FUNCTION recsys.source_stats(
	source regclass,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	OUT users bigint,
	OUT items bigint,
	OUT interactions bigint,
	OUT rows_read bigint,
	OUT skipped_rows bigint,
	OUT density double precision,
	OUT min_weight double precision,
	OUT max_weight double precision,
	OUT read_seconds double precision,
	OUT build_seconds double precision)
RETURNS record
AS 'MODULE_PATHNAME', 'recsys_source_stats'
LANGUAGE C STABLE PARALLEL RESTRICTED SECURITY INVOKER;
COMMENT ON FUNCTION recsys.source_stats(regclass, name, name, name) IS
	'read a training source as training would, and describe it';

-------------------------------------------------------------------------------
-- Training
-------------------------------------------------------------------------------

CREATE FUNCTION recsys.train_cf(
	source regclass,
	factors integer DEFAULT 64,
	model text DEFAULT 'default',
	feedback text DEFAULT 'implicit',
	iterations integer DEFAULT 15,
	regularization double precision DEFAULT NULL,
	alpha double precision DEFAULT 1.0,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	seed bigint DEFAULT 42,
	solver text DEFAULT NULL,
	regularization_exponent double precision DEFAULT 0,
	store_users boolean DEFAULT true,
	replace boolean DEFAULT false,
	features regclass DEFAULT NULL,
	feature_weight double precision DEFAULT 1,
	embeddings regclass DEFAULT NULL,
	embedding_weights double precision[] DEFAULT NULL,
	cold_item_weight double precision DEFAULT 1)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_cf'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, boolean, boolean, regclass,
	double precision, regclass, double precision[], double precision) IS
	'train a matrix factorisation model: implicit ALS, or explicit biased MF by ALS or Gibbs sampling; with store_users => false no per-user vector is stored; implicit ALS takes item features (as pseudo-users) and embeddings (mapped to item vectors), and gives cold items vectors';

CREATE FUNCTION recsys.refresh_items(model text)
RETURNS integer
AS 'MODULE_PATHNAME', 'recsys_refresh_items'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.refresh_items(text) IS
	'give the items that appeared in a model''s features or embeddings since training their vectors, without retraining; returns how many';

CREATE FUNCTION recsys.train_bpr(
	source regclass,
	factors integer DEFAULT 64,
	model text DEFAULT 'default',
	iterations integer DEFAULT 100,
	learning_rate double precision DEFAULT 0.05,
	regularization double precision DEFAULT 0.01,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	seed bigint DEFAULT 42,
	sampling text DEFAULT 'uniform',
	adversarial_epsilon double precision DEFAULT 0,
	adversarial_weight double precision DEFAULT 1,
	store_users boolean DEFAULT true,
	verbose boolean DEFAULT false,
	replace boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_bpr'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_bpr(regclass, integer, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, double precision, boolean,
	boolean, boolean) IS
	'train Bayesian personalised ranking (Rendle et al. 2009) by SGD on sampled triples, with uniform, popularity or adaptive negatives and optional adversarial training (APR, He et al. 2018); served as a factor model';

CREATE FUNCTION recsys.train_ease(
	source regclass,
	regularization double precision DEFAULT 200,
	model text DEFAULT 'default',
	neighbors integer DEFAULT NULL,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	dropout double precision DEFAULT 0,
	user_exponent double precision DEFAULT 0,
	popularity_exponent double precision DEFAULT 0,
	time_col name DEFAULT NULL,
	half_life interval DEFAULT NULL,
	features regclass DEFAULT NULL,
	feature_weight double precision DEFAULT 0.5,
	epsilon double precision DEFAULT NULL,
	delta double precision DEFAULT NULL,
	max_user_items integer DEFAULT NULL,
	seed bigint DEFAULT NULL,
	replace boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_ease'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision,
	double precision, double precision, integer, bigint, boolean) IS
	'train EASE (Steck 2019), the closed-form item-item model, with optional dropout (Steck 2020), user and popularity normalisation, item features, recency-weighted scoring and differential privacy';

CREATE FUNCTION recsys.train_ncf(
	source regclass,
	factors integer DEFAULT 32,
	model text DEFAULT 'default',
	hidden integer[] DEFAULT '{64,32}',
	gmf boolean DEFAULT true,
	iterations integer DEFAULT 8,
	learning_rate double precision DEFAULT 0.001,
	regularization double precision DEFAULT 0,
	dropout double precision DEFAULT 0,
	negatives integer DEFAULT 4,
	batch_size integer DEFAULT 256,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	seed bigint DEFAULT 42,
	adversarial_epsilon double precision DEFAULT 0,
	adversarial_weight double precision DEFAULT 0,
	verbose boolean DEFAULT false,
	replace boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_ncf'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_ncf(regclass, integer, text, integer[], boolean, integer,
	double precision, double precision, double precision, integer, integer, name, name, name,
	bigint, double precision, double precision, boolean, boolean) IS
	'train neural collaborative filtering (NeuMF, He et al. 2017): embeddings, an MLP tower and a GMF branch, binary cross-entropy on sampled negatives, Adam; optional adversarial training (APR, He et al. 2018)';

CREATE FUNCTION recsys.train_popular(
	source regclass,
	model text DEFAULT 'default',
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	time_col name DEFAULT NULL,
	half_life interval DEFAULT NULL,
	replace boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_popular'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_popular(regclass, text, name, name, name, name, interval, boolean) IS
	'train the popularity baseline (distinct users per item, or time-decayed weights)';

CREATE FUNCTION recsys.train_item_knn(
	source regclass,
	neighbors integer DEFAULT 50,
	model text DEFAULT 'default',
	similarity text DEFAULT 'cosine',
	shrinkage double precision DEFAULT 0,
	bm25_k1 double precision DEFAULT 1.2,
	bm25_b double precision DEFAULT 0.75,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	time_col name DEFAULT NULL,
	half_life interval DEFAULT NULL,
	epsilon double precision DEFAULT NULL,
	delta double precision DEFAULT NULL,
	max_user_items integer DEFAULT NULL,
	seed bigint DEFAULT NULL,
	replace boolean DEFAULT false,
	features regclass DEFAULT NULL,
	cold_item_weight double precision DEFAULT 1)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_item_knn'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint, boolean, regclass, double precision) IS
	'train an item-kNN model: each item''s most similar items (cosine, jaccard or bm25), optionally differentially private; items with features but no interactions get neighbour lists from feature similarity';

CREATE FUNCTION recsys.train_user_knn(
	source regclass,
	neighbors integer DEFAULT 50,
	model text DEFAULT 'default',
	shrinkage double precision DEFAULT 0,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	replace boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_user_knn'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_user_knn(regclass, integer, text, double precision, name, name, name, boolean) IS
	'train a user-kNN model: each user''s most similar users by cosine';

CREATE FUNCTION recsys.train_neighborhood(
	source regclass,
	neighbors integer DEFAULT 100,
	model text DEFAULT 'default',
	iterations integer DEFAULT 30,
	learning_rate double precision DEFAULT 0.01,
	regularization double precision DEFAULT 0.01,
	shrinkage double precision DEFAULT 100,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	seed bigint DEFAULT 42,
	verbose boolean DEFAULT false,
	replace boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_neighborhood'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_neighborhood(regclass, integer, text, integer, double precision,
	double precision, double precision, name, name, name, bigint, boolean, boolean) IS
	'train Koren''s global neighbourhood model of explicit ratings: interpolation weights between each item and its most similar items, learned by gradient descent';

CREATE FUNCTION recsys.train_blend(
	members text[],
	weights real[] DEFAULT NULL,
	model text DEFAULT 'default',
	replace boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_blend'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_blend(text[], real[], text, boolean) IS
	'store a blend of models: their scores for a user, standardised and summed with weights';

CREATE FUNCTION recsys.train_fm(
	source regclass,
	candidates_from text,
	model text DEFAULT 'default',
	factors integer DEFAULT 32,
	epochs integer DEFAULT 20,
	learning_rate double precision DEFAULT 0.05,
	regularization double precision DEFAULT 0.0001,
	pool integer DEFAULT 100,
	base_weight double precision DEFAULT 1,
	item_features regclass DEFAULT NULL,
	user_features regclass DEFAULT NULL,
	time_col name DEFAULT NULL,
	half_life interval DEFAULT NULL,
	context boolean DEFAULT true,
	hard_negatives double precision DEFAULT 0,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	seed bigint DEFAULT 42,
	verbose boolean DEFAULT false,
	replace boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_fm'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_fm(regclass, text, text, integer, integer, double precision,
	double precision, integer, double precision, regclass, regclass, name, interval, boolean,
	double precision, name, name, bigint, boolean, boolean) IS
	'train a factorisation machine (ids, item and user features, hour and weekday) that re-ranks another model''s top items';

-------------------------------------------------------------------------------
-- Serving
-------------------------------------------------------------------------------

CREATE FUNCTION recsys.recommend(
	user_id bigint,
	k integer DEFAULT 10,
	model text DEFAULT 'default',
	exclude_seen boolean DEFAULT true,
	candidates bigint[] DEFAULT NULL,
	diversity real DEFAULT 0,
	similarity_model text DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real, reason text)
AS 'MODULE_PATHNAME', 'recsys_recommend'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10;
COMMENT ON FUNCTION recsys.recommend(bigint, integer, text, boolean, bigint[], real, text) IS
	'the k items a model recommends to a user, best first (diversity > 0: re-ranked by maximal marginal relevance), and why each is there';

CREATE FUNCTION recsys.similar_items(
	item_id bigint,
	k integer DEFAULT 10,
	model text DEFAULT 'default')
RETURNS TABLE (item_id bigint, score real)
AS 'MODULE_PATHNAME', 'recsys_similar_items'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10;
COMMENT ON FUNCTION recsys.similar_items(bigint, integer, text) IS
	'the k items most similar to an item, best first';

CREATE FUNCTION recsys.score(
	user_id bigint,
	item_id bigint,
	model text DEFAULT 'default')
RETURNS real
AS 'MODULE_PATHNAME', 'recsys_score'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.score(bigint, bigint, text) IS
	'a model''s score of one item for one user, for ORDER BY in product queries';

CREATE FUNCTION recsys.explain(
	user_id bigint,
	item_id bigint,
	k integer DEFAULT 5,
	model text DEFAULT 'default')
RETURNS TABLE (item_id bigint, contribution real)
AS 'MODULE_PATHNAME', 'recsys_explain'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 5;
COMMENT ON FUNCTION recsys.explain(bigint, bigint, integer, text) IS
	'which of the user''s own items contribute most to an item''s score';

CREATE FUNCTION recsys.cache_stats(
	OUT model text,
	OUT version integer,
	OUT algorithm text,
	OUT items bigint,
	OUT bytes bigint,
	OUT loads bigint,
	OUT checks bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'recsys_cache_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED SECURITY INVOKER;
COMMENT ON FUNCTION recsys.cache_stats() IS
	'the models this session has loaded for serving: memory, loads and catalog checks';

-------------------------------------------------------------------------------
-- Real time: folding new interactions into a trained factor model
-------------------------------------------------------------------------------

CREATE FUNCTION recsys.fold_in_accum(state bytea, item_id bigint, weight real, model text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'recsys_fold_in_sfunc'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.fold_in_accum(bytea, bigint, real, text) IS
	'transition function of recsys.fold_in';

CREATE FUNCTION recsys.fold_in_combine(a bytea, b bytea)
RETURNS bytea
AS 'MODULE_PATHNAME', 'recsys_fold_in_combine'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.fold_in_combine(bytea, bytea) IS
	'combine function of recsys.fold_in';

CREATE FUNCTION recsys.fold_in_final(state bytea)
RETURNS real[]
AS 'MODULE_PATHNAME', 'recsys_fold_in_final'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.fold_in_final(bytea) IS
	'final function of recsys.fold_in';

CREATE AGGREGATE recsys.fold_in(item_id bigint, weight real, model text) (
	SFUNC = recsys.fold_in_accum,
	STYPE = bytea,
	COMBINEFUNC = recsys.fold_in_combine,
	FINALFUNC = recsys.fold_in_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE recsys.fold_in(bigint, real, text) IS
	'the user vector ALS would fit for the aggregated interactions, against a model''s item factors';
-- the support functions are for the aggregate only (it runs them with its
-- owner's rights); nobody calls them directly
REVOKE EXECUTE ON FUNCTION recsys.fold_in_accum(bytea, bigint, real, text),
	recsys.fold_in_combine(bytea, bytea), recsys.fold_in_final(bytea) FROM PUBLIC;

-- internal: the ranking of recommend_for_vector
CREATE FUNCTION recsys._recommend_for_vector(vec real[], k integer, model text, exclude_seen bigint[])
RETURNS TABLE (item_id bigint, score real)
AS 'MODULE_PATHNAME', 'recsys_recommend_for_vector'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10;
COMMENT ON FUNCTION recsys._recommend_for_vector(real[], integer, text, bigint[]) IS
	'internal: recommend_for_vector';

-- a single SELECT, so the planner inlines it into the query calling it
CREATE FUNCTION recsys.recommend_for_vector(
	vec real[],
	k integer DEFAULT 10,
	model text DEFAULT 'default',
	exclude_seen bigint[] DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10
AS $$
	SELECT * FROM recsys._recommend_for_vector(vec, k, model, exclude_seen)
$$;
COMMENT ON FUNCTION recsys.recommend_for_vector(real[], integer, text, bigint[]) IS
	'the k items a factor model ranks highest for a user vector';

CREATE FUNCTION recsys.recommend_session(
	items bigint[],
	k integer DEFAULT 10,
	model text DEFAULT 'default',
	diversity real DEFAULT 0,
	similarity_model text DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real, reason text)
AS 'MODULE_PATHNAME', 'recsys_recommend_session'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10;
COMMENT ON FUNCTION recsys.recommend_session(bigint[], integer, text, real, text) IS
	'recommendations for an anonymous visitor from the items of their session, and why each is there';

CREATE FUNCTION recsys.refresh_user(user_id bigint, model text DEFAULT 'default')
RETURNS real[]
AS 'MODULE_PATHNAME', 'recsys_refresh_user'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.refresh_user(bigint, text) IS
	'recompute one user''s vector of a factor model from the source as it is now';

-------------------------------------------------------------------------------
-- Splitting interactions for evaluation
--
-- Each split function reads a source's distinct (user, item) pairs and says
-- where each goes; join the result back to the source to build train and
-- test tables.  Random choices follow one seeded hash order,
-- md5(seed || ':' || user_id || ':' || item_id), so a split can be rebuilt
-- in any language; with seed 42 they reproduce the shared splits exactly.
-------------------------------------------------------------------------------

-- internal: the clear error for a missing column, naming the argument
CREATE FUNCTION recsys._require_column(source regclass, col name, argname text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_attribute
				   WHERE attrelid = source AND attname = col AND attnum > 0 AND NOT attisdropped) THEN
		RAISE EXCEPTION 'column "%" of relation "%" does not exist', col, source
			USING ERRCODE = 'undefined_column',
				  HINT = format('Pass the name of an existing column as %s.', argname);
	END IF;
END
$$;
COMMENT ON FUNCTION recsys._require_column(regclass, name, text) IS
	'internal: raise a clear error when a source lacks a column';

CREATE FUNCTION recsys.split_kfold(
	source regclass,
	folds integer DEFAULT 5,
	seed bigint DEFAULT 42,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id')
RETURNS TABLE (user_id bigint, item_id bigint, fold integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF source IS NULL OR folds IS NULL OR seed IS NULL OR user_col IS NULL OR item_col IS NULL THEN
		RAISE EXCEPTION 'arguments of split_kfold must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF folds < 2 OR folds > 100 THEN
		RAISE EXCEPTION 'folds must be between 2 and 100, not %', folds USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM recsys._require_column(source, user_col, 'user_col');
	PERFORM recsys._require_column(source, item_col, 'item_col');
	RETURN QUERY EXECUTE format(
		'SELECT u, i, ((row_number() OVER (ORDER BY md5($1 || '':'' || u || '':'' || i) COLLATE "C", u, i) - 1) %% $2 + 1)::integer '
		'FROM (SELECT DISTINCT %I::bigint AS u, %I::bigint AS i FROM %s '
		'WHERE %I IS NOT NULL AND %I IS NOT NULL) pairs',
		user_col, item_col, source, user_col, item_col)
	USING seed::text, folds;
END
$$;
COMMENT ON FUNCTION recsys.split_kfold(regclass, integer, bigint, name, name) IS
	'random k-fold split of a source''s (user, item) pairs: the fold of each pair';

CREATE FUNCTION recsys.split_holdout(
	source regclass,
	test_fraction double precision DEFAULT 0.25,
	seed bigint DEFAULT 42,
	min_interactions integer DEFAULT 4,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id')
RETURNS TABLE (user_id bigint, item_id bigint, is_test boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF source IS NULL OR test_fraction IS NULL OR seed IS NULL OR min_interactions IS NULL
		OR user_col IS NULL OR item_col IS NULL THEN
		RAISE EXCEPTION 'arguments of split_holdout must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT (test_fraction > 0 AND test_fraction < 1) THEN
		RAISE EXCEPTION 'test_fraction must be between 0 and 1 (exclusive), not %', test_fraction
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF min_interactions < 2 THEN
		RAISE EXCEPTION 'min_interactions must be at least 2, not %', min_interactions
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM recsys._require_column(source, user_col, 'user_col');
	PERFORM recsys._require_column(source, item_col, 'item_col');
	-- a user's first round((1 - f) n) pairs in hash order train (half up,
	-- in exact arithmetic: floor((3n + 2) / 4) for f = 0.25), the rest test
	RETURN QUERY EXECUTE format(
		'SELECT u, i, n >= $3 AND r > floor((1 - $2::numeric) * n + 0.5) '
		'FROM (SELECT u, i, count(*) OVER (PARTITION BY u) AS n, '
		'             row_number() OVER (PARTITION BY u ORDER BY md5($1 || '':'' || u || '':'' || i) COLLATE "C", i) AS r '
		'      FROM (SELECT DISTINCT %I::bigint AS u, %I::bigint AS i FROM %s '
		'            WHERE %I IS NOT NULL AND %I IS NOT NULL) pairs) ranked',
		user_col, item_col, source, user_col, item_col)
	USING seed::text, test_fraction, min_interactions;
END
$$;
COMMENT ON FUNCTION recsys.split_holdout(regclass, double precision, bigint, integer, name, name) IS
	'per-user stratified random hold-out: whether each (user, item) pair is in the test set';

CREATE FUNCTION recsys.split_last(
	source regclass,
	time_col name,
	n integer DEFAULT 5,
	min_interactions integer DEFAULT 10,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id')
RETURNS TABLE (user_id bigint, item_id bigint, is_test boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF source IS NULL OR time_col IS NULL OR n IS NULL OR min_interactions IS NULL
		OR user_col IS NULL OR item_col IS NULL THEN
		RAISE EXCEPTION 'arguments of split_last must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF n < 1 THEN
		RAISE EXCEPTION 'n must be at least 1, not %', n USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF min_interactions <= n THEN
		RAISE EXCEPTION 'min_interactions must be greater than n (%), not %', n, min_interactions
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Every test user needs training rows too.';
	END IF;
	PERFORM recsys._require_column(source, user_col, 'user_col');
	PERFORM recsys._require_column(source, item_col, 'item_col');
	PERFORM recsys._require_column(source, time_col, 'time_col');
	-- a pair's time is its latest interaction; ties by item id
	RETURN QUERY EXECUTE format(
		'SELECT u, i, cnt >= $2 AND r > cnt - $1 '
		'FROM (SELECT u, i, count(*) OVER (PARTITION BY u) AS cnt, '
		'             row_number() OVER (PARTITION BY u ORDER BY t, i) AS r '
		'      FROM (SELECT %I::bigint AS u, %I::bigint AS i, max(%I) AS t FROM %s '
		'            WHERE %I IS NOT NULL AND %I IS NOT NULL GROUP BY 1, 2) pairs) ranked',
		user_col, item_col, time_col, source, user_col, item_col)
	USING n, min_interactions;
END
$$;
COMMENT ON FUNCTION recsys.split_last(regclass, name, integer, integer, name, name) IS
	'per-user leave-last-n-out by time: whether each (user, item) pair is in the test set';

-------------------------------------------------------------------------------
-- Measuring
-------------------------------------------------------------------------------

CREATE FUNCTION recsys.evaluate(
	model text,
	test regclass,
	k integer DEFAULT 10,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	diversity real DEFAULT 0,
	similarity_model text DEFAULT NULL,
	features regclass DEFAULT NULL)
RETURNS TABLE (metric text, value double precision)
AS 'MODULE_PATHNAME', 'recsys_evaluate'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 13;
COMMENT ON FUNCTION recsys.evaluate(text, regclass, integer, name, name, name, real, text, regclass) IS
	'ranking metrics (and rmse/mae for explicit models) of a model on a test set';

-- The SQL literal of a tune parameter's JSON value: a JSON array becomes
-- an SQL array (a blend's members and weights), null stays NULL.
CREATE FUNCTION recsys._tune_literal(value jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN jsonb_typeof(value) = 'array'
				THEN (SELECT array_agg(e)::text FROM jsonb_array_elements_text(value) e)
				ELSE value #>> '{}' END
$$;
COMMENT ON FUNCTION recsys._tune_literal(jsonb) IS
	'internal: the SQL literal of a tune parameter''s JSON value';

-- The statement that trains one tune candidate: the trainer called with
-- the source (unless NULL: a blend has none), the model name and the
-- parameters by name.  Names go in as identifiers, values as literals; a
-- JSON array becomes an SQL array (a blend's members and weights).
CREATE FUNCTION recsys._tune_call(trainer regprocedure, source regclass, model text, params jsonb)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT format('SELECT 1 FROM %s(%smodel => %L', trainer::regproc,
				  CASE WHEN source IS NOT NULL THEN format('%L::regclass, ', source) ELSE '' END, model)
		   || coalesce(string_agg(format(', %I => %L', p.key, recsys._tune_literal(p.value)), '' ORDER BY p.key), '')
		   || ')'
	FROM jsonb_each(params) p
$$;
COMMENT ON FUNCTION recsys._tune_call(regprocedure, regclass, text, jsonb) IS
	'internal: the statement that trains one tune candidate';

CREATE FUNCTION recsys.tune(
	algorithm text,
	train regclass,
	valid regclass,
	grid jsonb,
	fixed jsonb DEFAULT '{}',
	metric text DEFAULT 'ndcg@10',
	model text DEFAULT 'default',
	samples integer DEFAULT NULL,
	seed bigint DEFAULT 42,
	k integer DEFAULT 10,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	replace boolean DEFAULT false)
RETURNS TABLE (rank integer, params jsonb, value double precision, metrics jsonb,
			   train_seconds double precision, eval_seconds double precision)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	trainer regprocedure;
	arg_names text[];
	arg_types oid[];
	key text;
	combos jsonb[] := ARRAY['{}'::jsonb];
	next_combos jsonb[];
	combo jsonb;
	v jsonb;
	t0 timestamptz;
	t1 timestamptz;
	-- a name of this backend's own, so concurrent searches do not collide
	candidate text := format('_recsys_tune_%s_%s', pg_backend_pid(), txid_current());
	best jsonb;
	lower_is_better boolean := metric IN ('rmse', 'mae');
	metrics text[];
	arg_type oid;
	required text[];
	-- algorithms whose trainer is not recsys.train_<algorithm>
	aliases CONSTANT jsonb := '{"als": "cf"}';
	-- keys of fixed and grid that go to evaluate, not to the trainer: they
	-- shape the served lists (recommend's arguments), not the model
	eval_keys CONSTANT text[] := ARRAY['diversity', 'similarity_model'];
	eval_types CONSTANT regtype[] := ARRAY['real', 'text']::regtype[];
BEGIN
	IF algorithm IS NULL OR train IS NULL OR valid IS NULL OR grid IS NULL OR fixed IS NULL
		OR metric IS NULL OR model IS NULL OR seed IS NULL OR k IS NULL OR user_col IS NULL
		OR item_col IS NULL OR replace IS NULL THEN
		RAISE EXCEPTION 'arguments of tune must not be NULL (samples and weight_col may be)'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- the trainer is recsys.train_<algorithm> (or its alias's), found by
	-- name, not signature: a trainer that gains arguments stays found, and
	-- a new trainer is an algorithm of tune's without a change here
	SELECT p.oid INTO trainer FROM pg_proc p
	WHERE p.pronamespace = 'recsys'::regnamespace
	  AND p.proname = 'train_' || coalesce(aliases ->> algorithm, algorithm);
	IF trainer IS NULL THEN
		RAISE EXCEPTION 'algorithm must be one of %, not "%"',
			(SELECT string_agg(a, ', ' ORDER BY a)
			 FROM (SELECT jsonb_object_keys(aliases)
				   UNION
				   SELECT substr(p.proname, 7) FROM pg_proc p
				   WHERE p.pronamespace = 'recsys'::regnamespace AND p.proname LIKE 'train\_%') n(a)),
			algorithm
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF jsonb_typeof(fixed) <> 'object' THEN
		RAISE EXCEPTION 'fixed must be a JSON object of parameter names and values'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example {"weight_col": "rating", "iterations": 15}.';
	END IF;
	IF jsonb_typeof(grid) <> 'object' THEN
		RAISE EXCEPTION 'grid must be a JSON object of parameter names and arrays of values'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example {"factors": [32, 64], "regularization": [0.01, 0.1]}.';
	END IF;
	IF samples IS NOT NULL AND samples < 1 THEN
		RAISE EXCEPTION 'samples must be at least 1, not %', samples USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF k < 1 OR k > 1000 THEN
		RAISE EXCEPTION 'k must be between 1 and 1000, not %', k USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- the metric must be one evaluate returns (checked before any training)
	metrics := ARRAY(SELECT m || '@' || k FROM unnest(ARRAY['precision', 'recall', 'ndcg', 'map',
															  'hit_rate', 'mrr', 'coverage']) m)
			   || ARRAY['rmse', 'mae'];
	IF k <= 100 THEN
		-- evaluate reports intra-list diversity for k <= 100 only
		metrics := metrics || ('ild@' || k);
	END IF;
	IF NOT metric = ANY (metrics) THEN
		RAISE EXCEPTION 'metric must be one of %, not "%"', array_to_string(metrics, ', '), metric
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = format('Metrics at a cutoff are named for tune''s k (%s).', k);
	END IF;
	IF lower_is_better AND weight_col IS NULL THEN
		RAISE EXCEPTION 'metric % needs weight_col, the ratings of the validation set', metric
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- parameter names must be the trainer's own or evaluate's (they go
	-- into SQL as identifiers)
	SELECT p.proargnames, p.proargtypes::oid[], p.proargnames[1:p.pronargs - p.pronargdefaults]
	INTO arg_names, arg_types, required FROM pg_proc p WHERE p.oid = trainer;
	FOR key IN SELECT jsonb_object_keys(fixed) UNION ALL SELECT jsonb_object_keys(grid) LOOP
		IF NOT (key = ANY (arg_names) OR key = ANY (eval_keys)) OR key IN ('source', 'model', 'replace') THEN
			RAISE EXCEPTION 'parameter "%" is not a parameter of %', key, trainer::text
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = format('Parameters of %s: %s; of evaluate: %s.', trainer::regproc,
									(SELECT string_agg(a, ', ' ORDER BY o) FROM unnest(arg_names) WITH ORDINALITY u(a, o)
									 WHERE a NOT IN ('source', 'model', 'replace')),
									array_to_string(eval_keys, ', '));
		END IF;
	END LOOP;
	-- a trainer's arguments without a default (fm's candidates_from, a
	-- blend's members) must be given
	FOR key IN SELECT r FROM unnest(required) r WHERE r NOT IN ('source', 'model') LOOP
		IF NOT (fixed ? key OR grid ? key) THEN
			RAISE EXCEPTION 'algorithm % needs parameter "%"', algorithm, key
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = format('Give it in fixed, for example {"%s": ...}.', key);
		END IF;
	END LOOP;
	-- every value, checked before any training: a relation (train_ease's
	-- features) must exist (it is read here, with tune's search_path), and
	-- a value must be of its parameter's type
	FOR key, v, arg_type IN
		SELECT e.key, e.value, a.type
		FROM unnest(arg_names || eval_keys, arg_types || eval_types::oid[]) a(name, type)
		JOIN (SELECT f.key, f.value FROM jsonb_each(fixed) f
			  UNION ALL
			  SELECT g.key, x.value FROM jsonb_each(grid) g,
					 jsonb_array_elements(CASE WHEN jsonb_typeof(g.value) = 'array' THEN g.value ELSE '[]' END) x) e
		  ON e.key = a.name
	LOOP
		-- (to_regclass raises on a malformed name: only names of relation parameters go in)
		IF arg_type = 'regclass'::regtype AND v <> 'null' THEN
			IF to_regclass(v #>> '{}') IS NULL THEN
				RAISE EXCEPTION 'parameter "%" names relation %, which tune cannot find', key, v
					USING ERRCODE = 'undefined_table',
						  HINT = 'Qualify it with its schema, for example "public.item_features": tune runs with search_path pg_catalog, pg_temp.';
			END IF;
		END IF;
		BEGIN
			EXECUTE format('SELECT %L::%s', recsys._tune_literal(v), arg_type::regtype);
		EXCEPTION WHEN data_exception OR syntax_error OR undefined_object THEN
			RAISE EXCEPTION 'parameter "%" of % takes a value of type %, not %', key,
				CASE WHEN key = ANY (eval_keys) THEN 'recsys.evaluate' ELSE trainer::regproc::text END,
				arg_type::regtype, v
				USING ERRCODE = 'invalid_parameter_value', DETAIL = SQLERRM;
		END;
	END LOOP;
	FOR key IN SELECT jsonb_object_keys(grid) LOOP
		IF jsonb_typeof(grid -> key) <> 'array' OR jsonb_array_length(grid -> key) = 0 THEN
			RAISE EXCEPTION 'grid parameter "%" needs a non-empty array of values', key
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		-- the cartesian product, one parameter at a time
		next_combos := ARRAY[]::jsonb[];
		FOREACH combo IN ARRAY combos LOOP
			FOR v IN SELECT jsonb_array_elements(grid -> key) LOOP
				next_combos := next_combos || (combo || jsonb_build_object(key, v));
			END LOOP;
		END LOOP;
		combos := next_combos;
	END LOOP;
	-- random search: a seeded sample of the grid
	IF samples IS NOT NULL AND samples < cardinality(combos) THEN
		SELECT array_agg(c ORDER BY md5(seed || ':' || c::text) COLLATE "C")
		INTO combos
		FROM (SELECT c FROM unnest(combos) c ORDER BY md5(seed || ':' || c::text) COLLATE "C" LIMIT samples) s;
	END IF;

	IF to_regclass('pg_temp._recsys_tune_results') IS NULL THEN
		CREATE TEMP TABLE _recsys_tune_results (
			params jsonb, value double precision, metrics jsonb,
			train_seconds double precision, eval_seconds double precision) ON COMMIT DROP;
	END IF;
	TRUNCATE _recsys_tune_results;

	FOREACH combo IN ARRAY combos LOOP
		t0 := clock_timestamp();
		EXECUTE recsys._tune_call(trainer, CASE WHEN arg_names[1] = 'source' THEN train END, candidate,
								  (fixed || combo) - eval_keys);
		t1 := clock_timestamp();
		INSERT INTO _recsys_tune_results
		SELECT combo, max(e.value) FILTER (WHERE e.metric = tune.metric),
			   jsonb_object_agg(e.metric, e.value),
			   extract(epoch FROM t1 - t0), extract(epoch FROM clock_timestamp() - t1)
		FROM recsys.evaluate(candidate, valid, k, user_col, item_col,
							 CASE WHEN lower_is_better THEN weight_col END,
							 coalesce(((fixed || combo) ->> 'diversity')::real, 0),
							 (fixed || combo) ->> 'similarity_model') e;
		PERFORM recsys.drop_model(candidate);
	END LOOP;

	-- keep the best as the named model (a new version of it)
	SELECT r.params INTO best FROM _recsys_tune_results r
	ORDER BY CASE WHEN lower_is_better THEN r.value ELSE -r.value END, r.params::text LIMIT 1;
	EXECUTE recsys._tune_call(trainer, CASE WHEN arg_names[1] = 'source' THEN train END, tune.model,
							  (fixed || best || jsonb_build_object('replace', tune.replace)) - eval_keys);

	RETURN QUERY
	SELECT (row_number() OVER (ORDER BY CASE WHEN lower_is_better THEN r.value ELSE -r.value END, r.params::text))::integer,
		   r.params, r.value, r.metrics, r.train_seconds, r.eval_seconds
	FROM _recsys_tune_results r
	ORDER BY 1;
END
$$;
COMMENT ON FUNCTION recsys.tune(text, regclass, regclass, jsonb, jsonb, text, text, integer, bigint,
	integer, name, name, name, boolean) IS
	'grid or random search: train each candidate, score it on a validation set, keep the best as a model';
