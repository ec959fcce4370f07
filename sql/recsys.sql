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
	replace boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_cf'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, boolean, boolean) IS
	'train a matrix factorisation model: implicit ALS, or explicit biased MF by ALS or Gibbs sampling; with store_users => false no per-user vector is stored';

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
	replace boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_item_knn'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint, boolean) IS
	'train an item-kNN model: each item''s most similar items (cosine, jaccard or bm25), optionally differentially private';

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

-------------------------------------------------------------------------------
-- Searching: tune and train_auto share these steps.  A candidate is a
-- trainer and its parameters (JSON); it is trained on a train relation under
-- a name of the search's own, scored on a validation relation by evaluate,
-- and kept or dropped by the caller.
-------------------------------------------------------------------------------

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

-- The trainer of an algorithm: recsys.train_<algorithm> (or its alias's),
-- found by name, not signature: a trainer that gains arguments stays
-- found, and a new trainer is an algorithm of tune's without a change here
-- (train_auto, a search itself, is none).
CREATE FUNCTION recsys._tune_trainer(algorithm text)
RETURNS regprocedure
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- algorithms whose trainer is not recsys.train_<algorithm>
	aliases CONSTANT jsonb := '{"als": "cf"}';
	trainer regprocedure;
BEGIN
	SELECT p.oid INTO trainer FROM pg_proc p
	WHERE p.pronamespace = 'recsys'::regnamespace
	  AND p.proname = 'train_' || coalesce(aliases ->> algorithm, algorithm) AND p.proname <> 'train_auto';
	IF trainer IS NULL THEN
		RAISE EXCEPTION 'algorithm must be one of %, not "%"',
			(SELECT string_agg(a, ', ' ORDER BY a)
			 FROM (SELECT jsonb_object_keys(aliases)
				   UNION
				   SELECT substr(p.proname, 7) FROM pg_proc p
				   WHERE p.pronamespace = 'recsys'::regnamespace AND p.proname LIKE 'train\_%'
					 AND p.proname <> 'train_auto') n(a)),
			algorithm
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN trainer;
END
$$;
COMMENT ON FUNCTION recsys._tune_trainer(text) IS
	'internal: the trainer function of a tune algorithm';

-- The metrics a search may optimise at cutoff k: those evaluate returns.
CREATE FUNCTION recsys._tune_metrics(k integer)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT ARRAY(SELECT m || '@' || k FROM unnest(ARRAY['precision', 'recall', 'ndcg', 'map',
														 'hit_rate', 'mrr', 'coverage']) m)
		   || ARRAY['rmse', 'mae']
		   -- evaluate reports intra-list diversity for k <= 100 only
		   || CASE WHEN k <= 100 THEN ARRAY['ild@' || k] ELSE '{}'::text[] END
$$;
COMMENT ON FUNCTION recsys._tune_metrics(integer) IS
	'internal: the metrics evaluate returns at cutoff k, which a search may optimise';

-- Check a search's parameters before any training: names must be the
-- trainer's own or evaluate's (they go into SQL as identifiers), the
-- trainer's arguments without a default must be given, a relation must
-- exist and every value must be of its parameter's type.  fixed is an
-- object of values, grid one of arrays of values.
CREATE FUNCTION recsys._tune_check_params(algorithm text, trainer regprocedure, fixed jsonb, grid jsonb)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	arg_names text[];
	arg_types oid[];
	required text[];
	key text;
	v jsonb;
	arg_type oid;
	-- keys of fixed and grid that go to evaluate, not to the trainer: they
	-- shape the served lists (recommend's arguments), not the model
	eval_keys CONSTANT text[] := ARRAY['diversity', 'similarity_model'];
	eval_types CONSTANT regtype[] := ARRAY['real', 'text']::regtype[];
BEGIN
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
	-- every value: a relation (train_ease's features) must exist (it is
	-- read here, with tune's search_path), and a value must be of its
	-- parameter's type
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
END
$$;
COMMENT ON FUNCTION recsys._tune_check_params(text, regprocedure, jsonb, jsonb) IS
	'internal: refuse a search''s parameters that are not its trainer''s, are missing or are of the wrong type';

-- Train one candidate as model candidate (from train, unless the trainer
-- takes no source: a blend) and score it on valid: the metric's value, all
-- of evaluate's metrics, and the seconds of each step.  The model stays;
-- the caller keeps or drops it.
CREATE FUNCTION recsys._tune_candidate(
	trainer regprocedure, train regclass, valid regclass, candidate text, params jsonb,
	metric text, k integer, user_col name, item_col name, weight_col name)
RETURNS TABLE (value double precision, metrics jsonb, train_seconds double precision,
			   eval_seconds double precision)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t0 timestamptz := clock_timestamp();
	t1 timestamptz;
	eval_keys CONSTANT text[] := ARRAY['diversity', 'similarity_model'];
BEGIN
	EXECUTE recsys._tune_call(trainer,
							  CASE WHEN (SELECT p.proargnames[1] FROM pg_proc p WHERE p.oid = trainer) = 'source'
								   THEN train END,
							  candidate, params - eval_keys);
	t1 := clock_timestamp();
	RETURN QUERY
	SELECT max(e.value) FILTER (WHERE e.metric = _tune_candidate.metric),
		   jsonb_object_agg(e.metric, e.value),
		   extract(epoch FROM t1 - t0)::double precision,
		   extract(epoch FROM clock_timestamp() - t1)::double precision
	FROM recsys.evaluate(candidate, valid, k, user_col, item_col,
						 CASE WHEN metric IN ('rmse', 'mae') THEN weight_col END,
						 coalesce((params ->> 'diversity')::real, 0),
						 params ->> 'similarity_model') e;
END
$$;
COMMENT ON FUNCTION recsys._tune_candidate(regprocedure, regclass, regclass, text, jsonb, text, integer,
	name, name, name) IS
	'internal: train one search candidate and score it on a validation set';

-- Train the chosen parameters as the named model (a new version of it).
CREATE FUNCTION recsys._tune_keep(trainer regprocedure, train regclass, model text, params jsonb,
								  replace boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	EXECUTE recsys._tune_call(trainer,
							  CASE WHEN (SELECT p.proargnames[1] FROM pg_proc p WHERE p.oid = trainer) = 'source'
								   THEN train END,
							  model,
							  (params || jsonb_build_object('replace', replace)) - ARRAY['diversity', 'similarity_model']);
END
$$;
COMMENT ON FUNCTION recsys._tune_keep(regprocedure, regclass, text, jsonb, boolean) IS
	'internal: train a search''s chosen parameters as the named model';

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
	key text;
	combos jsonb[] := ARRAY['{}'::jsonb];
	next_combos jsonb[];
	combo jsonb;
	v jsonb;
	-- a name of this backend's own, so concurrent searches do not collide
	candidate text := format('_recsys_tune_%s_%s', pg_backend_pid(), txid_current());
	best jsonb;
	lower_is_better boolean := metric IN ('rmse', 'mae');
	metrics text[];
BEGIN
	IF algorithm IS NULL OR train IS NULL OR valid IS NULL OR grid IS NULL OR fixed IS NULL
		OR metric IS NULL OR model IS NULL OR seed IS NULL OR k IS NULL OR user_col IS NULL
		OR item_col IS NULL OR replace IS NULL THEN
		RAISE EXCEPTION 'arguments of tune must not be NULL (samples and weight_col may be)'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	trainer := recsys._tune_trainer(algorithm);
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
	metrics := recsys._tune_metrics(k);
	IF NOT metric = ANY (metrics) THEN
		RAISE EXCEPTION 'metric must be one of %, not "%"', array_to_string(metrics, ', '), metric
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = format('Metrics at a cutoff are named for tune''s k (%s).', k);
	END IF;
	IF lower_is_better AND weight_col IS NULL THEN
		RAISE EXCEPTION 'metric % needs weight_col, the ratings of the validation set', metric
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM recsys._tune_check_params(algorithm, trainer, fixed, grid);
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
		INSERT INTO _recsys_tune_results
		SELECT combo, c.value, c.metrics, c.train_seconds, c.eval_seconds
		FROM recsys._tune_candidate(trainer, train, valid, candidate, fixed || combo, metric, k,
									user_col, item_col, weight_col) c;
		PERFORM recsys.drop_model(candidate);
	END LOOP;

	-- keep the best as the named model (a new version of it)
	SELECT r.params INTO best FROM _recsys_tune_results r
	ORDER BY CASE WHEN lower_is_better THEN r.value ELSE -r.value END, r.params::text LIMIT 1;
	PERFORM recsys._tune_keep(trainer, train, tune.model, fixed || best, tune.replace);

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

-------------------------------------------------------------------------------
-- train_auto: one call chooses the algorithm and its settings on a
-- validation split of the source, within a time budget (doc/internals.md,
-- "train_auto")
-------------------------------------------------------------------------------

-- The candidates train_auto considers, strongest first: one row per
-- family (an algorithm with fixed parameters), its seeds (the settings
-- the accuracy benchmark found best on the shared data sets' validation
-- files, tried in order), its steps (per parameter, the ordered values
-- the search moves between, one parameter one step at a time) and a cost
-- model of its seconds (train and evaluate: coefficients of the training
-- rows, of users + items, of items cubed and of validation users x items;
-- train_auto corrects them by what it measures).  protocol is 'holdout'
-- or 'last'; time_col, weight_col and features are train_auto's (NULL when
-- not given).  A new trainer becomes a candidate by a row here.
CREATE FUNCTION recsys._auto_families(protocol text, time_col name, weight_col name, features regclass)
RETURNS TABLE (family text, algorithm text, fixed jsonb, seeds jsonb, steps jsonb, cost jsonb)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT f.family, f.algorithm, f.fixed, f.seeds, f.steps, f.cost
	FROM (VALUES
		-- recency-weighted EASE: what comes next is like what came last
		(1, 'ease_recent', 'ease', protocol = 'last',
		 jsonb_build_object('time_col', time_col),
		 '[{"regularization": 500, "popularity_exponent": 0.25, "half_life": "30 days"},
		   {"regularization": 1000, "popularity_exponent": 0.25, "half_life": "60 days"}]'::jsonb,
		 '{"half_life": ["7 days", "15 days", "30 days", "60 days", "120 days", "240 days"],
		   "regularization": [250, 500, 1000, 2000, 4000],
		   "popularity_exponent": [0, 0.1, 0.25, 0.4]}'::jsonb,
		 '{"rows": 2e-5, "items3": 4e-11, "scores": 5e-7}'::jsonb),
		-- normalised EASE (user and popularity exponents, dropout)
		(2, 'ease', 'ease', true,
		 '{}'::jsonb,
		 '[{"regularization": 400, "user_exponent": 0.5, "popularity_exponent": 0.1, "dropout": 0.25},
		   {"regularization": 100, "user_exponent": 0.5, "popularity_exponent": 0.25, "dropout": 0.25}]'::jsonb,
		 '{"regularization": [50, 100, 200, 400, 800, 1600],
		   "popularity_exponent": [0, 0.1, 0.25, 0.4],
		   "user_exponent": [0, 0.25, 0.5, 0.75],
		   "dropout": [0, 0.1, 0.25, 0.5]}'::jsonb,
		 '{"rows": 2e-5, "items3": 4e-11, "scores": 5e-7}'::jsonb),
		-- EASE with the item features, when given (their weight searched)
		(3, 'ease_features', 'ease', features IS NOT NULL,
		 jsonb_build_object('features', features::text)
			 || CASE WHEN protocol = 'last' THEN jsonb_build_object('time_col', time_col) ELSE '{}' END,
		 CASE WHEN protocol = 'last'
			  THEN '[{"regularization": 500, "popularity_exponent": 0.25, "half_life": "30 days", "feature_weight": 0.25}]'::jsonb
			  ELSE '[{"regularization": 400, "user_exponent": 0.5, "popularity_exponent": 0.1, "dropout": 0.25, "feature_weight": 0.5},
					 {"regularization": 100, "user_exponent": 0.5, "popularity_exponent": 0.25, "dropout": 0.25, "feature_weight": 0.25}]'::jsonb END,
		 CASE WHEN protocol = 'last'
			  THEN '{"feature_weight": [0.125, 0.25, 0.5, 1, 2],
					 "half_life": ["7 days", "15 days", "30 days", "60 days", "120 days", "240 days"],
					 "regularization": [250, 500, 1000, 2000, 4000],
					 "popularity_exponent": [0, 0.1, 0.25, 0.4]}'::jsonb
			  ELSE '{"feature_weight": [0.125, 0.25, 0.5, 1, 2],
					 "regularization": [50, 100, 200, 400, 800, 1600],
					 "popularity_exponent": [0, 0.1, 0.25, 0.4],
					 "user_exponent": [0, 0.25, 0.5, 0.75],
					 "dropout": [0, 0.1, 0.25, 0.5]}'::jsonb END,
		 '{"rows": 4e-5, "items3": 4e-11, "scores": 5e-7}'::jsonb),
		-- implicit ALS with frequency-scaled regularisation (Rendle et al. 2022)
		(4, 'als', 'als', true,
		 '{"factors": 128, "iterations": 12, "regularization_exponent": 1}'::jsonb,
		 '[{"alpha": 10, "regularization": 0.01}, {"alpha": 20, "regularization": 0.005}]'::jsonb,
		 '{"alpha": [2.5, 5, 10, 20, 40], "regularization": [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]}'::jsonb,
		 '{"rows": 2e-6, "entities": 5e-5, "scores": 3e-8}'::jsonb),
		-- item-kNN, BM25 weighting (recency-weighted on 'last')
		(5, 'bm25', 'item_knn', true,
		 jsonb_build_object('similarity', 'bm25')
			 || CASE WHEN weight_col IS NOT NULL THEN jsonb_build_object('weight_col', weight_col) ELSE '{}' END
			 || CASE WHEN protocol = 'last' THEN jsonb_build_object('time_col', time_col) ELSE '{}' END,
		 CASE WHEN protocol = 'last' THEN '[{"neighbors": 100, "half_life": "60 days"}]'::jsonb
			  ELSE '[{"neighbors": 50}, {"neighbors": 100}]'::jsonb END,
		 CASE WHEN protocol = 'last'
			  THEN '{"neighbors": [25, 50, 100, 200], "half_life": ["15 days", "30 days", "60 days", "120 days", "240 days"]}'::jsonb
			  ELSE '{"neighbors": [25, 50, 100, 200]}'::jsonb END,
		 '{"rows": 4e-6, "scores": 3e-8}'::jsonb),
		-- BPR (weaker than the above on every shared split; last)
		(6, 'bpr', 'bpr', true,
		 '{"factors": 128, "iterations": 100}'::jsonb,
		 '[{"learning_rate": 0.05, "regularization": 0.01}, {"learning_rate": 0.1, "regularization": 0.01}]'::jsonb,
		 '{"learning_rate": [0.02, 0.05, 0.1], "regularization": [0.005, 0.01, 0.02]}'::jsonb,
		 '{"rows": 5e-5, "scores": 3e-8}'::jsonb),
		-- the baseline: a floor every other candidate must beat
		(7, 'popular', 'popular', true,
		 CASE WHEN protocol = 'last' THEN jsonb_build_object('time_col', time_col) ELSE '{}' END,
		 CASE WHEN protocol = 'last' THEN '[{"half_life": "30 days"}]'::jsonb ELSE '[{}]'::jsonb END,
		 CASE WHEN protocol = 'last' THEN '{"half_life": ["7 days", "30 days", "120 days"]}'::jsonb
			  ELSE '{}'::jsonb END,
		 '{"rows": 1e-6, "scores": 1e-8}'::jsonb)
	) f(prior, family, algorithm, enabled, fixed, seeds, steps, cost)
	WHERE f.enabled
	ORDER BY f.prior
$$;
COMMENT ON FUNCTION recsys._auto_families(text, name, name, regclass) IS
	'internal: the candidate families train_auto searches: algorithm, fixed parameters, seeds, search steps, cost model';

-- One train_auto trial: unless its estimated seconds, plus the time kept
-- for training the best candidates on all the data, would pass the
-- deadline, train the candidate on the split's train part and score it on
-- its validation part; record it in _recsys_auto_trials.  A family keeps
-- only the model of its best trial (for blending); the others are dropped.
-- A candidate refused for recsys.max_memory, or failing otherwise, is
-- recorded and skipped.  Returns the trial's status: 'ok', 'worse',
-- 'budget', 'memory' or 'failed'.  ctx: the search's state (deadline,
-- metric, k, sizes, the candidates' name prefix).
CREATE FUNCTION recsys._auto_trial(family text, algorithm text, params jsonb, cost jsonb,
								   search_round integer, ctx jsonb, blending boolean DEFAULT false,
								   shown jsonb DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	trainer regprocedure := recsys._tune_trainer(algorithm);
	n integer;
	candidate text;
	estimate double precision;
	calibration double precision;
	reserve double precision;
	left_seconds double precision;
	r record;
	prev record;
	status text;
BEGIN
	SELECT coalesce(max(t.n), 0) + 1 INTO n FROM _recsys_auto_trials t;
	-- the estimate: this family's slowest trial so far, or its cost model
	-- corrected by the median ratio of measured to modelled seconds
	SELECT max(t.train_seconds + t.eval_seconds) INTO estimate
	FROM _recsys_auto_trials t WHERE t.family = _auto_trial.family AND t.train_seconds IS NOT NULL;
	IF estimate IS NULL THEN
		-- (trials modelled at a tenth of a second or more, when there are
		-- some: below, fixed costs that no model has dominate)
		SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY (t.train_seconds + t.eval_seconds) / t.modelled), 1)
		INTO calibration FROM _recsys_auto_trials t
		WHERE t.train_seconds IS NOT NULL AND t.modelled > 0
		  AND (t.modelled >= 0.1 OR NOT EXISTS (SELECT FROM _recsys_auto_trials u WHERE u.modelled >= 0.1));
		estimate := calibration * recsys._auto_cost(cost, ctx);
	END IF;
	-- kept for the end: training the winner and its blend partner on all
	-- the data (scaled by its size, plus a fifth), the two slowest of this
	-- candidate's family (the candidate may win it) and the two best
	-- other families' winners so far; and, while the search runs, three
	-- blend evaluations
	SELECT coalesce(sum(x.seconds), 0) * (ctx ->> 'scale')::double precision * 1.2
		   + CASE WHEN blending THEN 0
				  ELSE 3 * coalesce((SELECT sum(b.eval_seconds)
									 FROM (SELECT t.eval_seconds FROM _recsys_auto_trials t
										   WHERE t.model IS NOT NULL AND t.family <> 'blend' AND t.value IS NOT NULL
										   ORDER BY t.value DESC LIMIT 2) b), 0) END
	INTO reserve
	FROM (SELECT c.seconds FROM
			(SELECT b.train_seconds AS seconds
			 FROM (SELECT t.train_seconds FROM _recsys_auto_trials t
				   WHERE t.model IS NOT NULL AND t.family <> 'blend' AND t.value IS NOT NULL
					 AND (blending OR t.family <> _auto_trial.family)
				   ORDER BY t.value DESC LIMIT 2) b
			 UNION ALL
			 SELECT greatest(estimate, (SELECT t.train_seconds FROM _recsys_auto_trials t
										WHERE t.model IS NOT NULL AND t.family = _auto_trial.family))
			 WHERE NOT blending) c
		  ORDER BY c.seconds DESC LIMIT 2) x;
	left_seconds := extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp());
	IF estimate + reserve > left_seconds THEN
		INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, shown, status)
		VALUES (n, search_round, family, algorithm, params, coalesce(shown, params - ARRAY['user_col', 'item_col']),
				format('skipped: estimated %s s, %s s of the budget left (%s s kept to train the winner on all the data)',
					   round(estimate::numeric, 1), round(greatest(left_seconds, 0)::numeric, 1),
					   round(reserve::numeric, 1)));
		RETURN 'budget';
	END IF;
	candidate := format('%s%s', ctx ->> 'prefix', n);
	BEGIN
		SELECT * INTO r FROM recsys._tune_candidate(trainer, 'pg_temp._recsys_auto_train', 'pg_temp._recsys_auto_valid',
													candidate, params, ctx ->> 'metric', (ctx ->> 'k')::integer,
													'user_id', 'item_id', NULL);
	EXCEPTION
		WHEN program_limit_exceeded THEN
			INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, shown, status)
			VALUES (n, search_round, family, algorithm, params, coalesce(shown, params - ARRAY['user_col', 'item_col']), 'skipped: ' || SQLERRM);
			RETURN 'memory';
		WHEN OTHERS THEN
			INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, shown, status)
			VALUES (n, search_round, family, algorithm, params, coalesce(shown, params - ARRAY['user_col', 'item_col']), 'failed: ' || SQLERRM);
			RETURN 'failed';
	END;
	SELECT t.n, t.model, t.value INTO prev FROM _recsys_auto_trials t
	WHERE t.family = _auto_trial.family AND t.model IS NOT NULL;
	IF prev.n IS NULL OR coalesce(r.value, '-Infinity') > coalesce(prev.value, '-Infinity') THEN
		status := 'ok';
		IF prev.n IS NOT NULL THEN
			PERFORM recsys.drop_model(prev.model);
			UPDATE _recsys_auto_trials t SET model = NULL WHERE t.n = prev.n;
		END IF;
	ELSE
		status := 'worse';
		PERFORM recsys.drop_model(candidate);
		candidate := NULL;
	END IF;
	INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, shown, value, metrics, train_seconds,
									 eval_seconds, modelled, model, status)
	VALUES (n, search_round, family, algorithm, params, coalesce(shown, params - ARRAY['user_col', 'item_col']), r.value, r.metrics, r.train_seconds, r.eval_seconds,
			recsys._auto_cost(cost, ctx), candidate, 'trained');
	RETURN status;
END
$$;
COMMENT ON FUNCTION recsys._auto_trial(text, text, jsonb, jsonb, integer, jsonb, boolean, jsonb) IS
	'internal: train and score one train_auto candidate if the budget allows, and record it';

-- A family's modelled seconds for the split's sizes (see _auto_families).
CREATE FUNCTION recsys._auto_cost(cost jsonb, ctx jsonb)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce((cost ->> 'seconds')::double precision, 0)
		   + coalesce((cost ->> 'rows')::double precision, 0) * (ctx ->> 'rows')::double precision
		   + coalesce((cost ->> 'entities')::double precision, 0)
			 * ((ctx ->> 'users')::double precision + (ctx ->> 'items')::double precision)
		   + coalesce((cost ->> 'items3')::double precision, 0) * power((ctx ->> 'items')::double precision, 3)
		   + coalesce((cost ->> 'scores')::double precision, 0)
			 * (ctx ->> 'valid_users')::double precision * (ctx ->> 'items')::double precision
$$;
COMMENT ON FUNCTION recsys._auto_cost(jsonb, jsonb) IS
	'internal: a train_auto family''s modelled seconds for a split''s sizes';

-- The next setting of a family to try: its seeds in order, then the
-- untried neighbours of its best setting so far (one parameter one step
-- along its steps), or NULL when none is left.
CREATE FUNCTION recsys._auto_next(family text, fixed jsonb, seeds jsonb, steps jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	best jsonb;
	candidate jsonb;
	key text;
	pos integer;
	delta integer;
BEGIN
	FOR candidate IN SELECT fixed || s FROM jsonb_array_elements(seeds) s LOOP
		IF NOT EXISTS (SELECT FROM _recsys_auto_trials t WHERE t.family = _auto_next.family AND t.params = candidate) THEN
			RETURN candidate;
		END IF;
	END LOOP;
	SELECT t.params INTO best FROM _recsys_auto_trials t
	WHERE t.family = _auto_next.family AND t.model IS NOT NULL;
	IF best IS NULL THEN
		RETURN NULL;
	END IF;
	FOR key IN SELECT jsonb_object_keys(steps) LOOP
		-- (a value outside the steps moves to the first one)
		SELECT o - 1 INTO pos FROM jsonb_array_elements(steps -> key) WITH ORDINALITY e(v, o)
		WHERE e.v = coalesce(best -> key, 'null');
		FOREACH delta IN ARRAY CASE WHEN pos IS NULL THEN ARRAY[0] ELSE ARRAY[-1, 1] END LOOP
			CONTINUE WHEN pos IS NOT NULL AND (pos + delta < 0 OR pos + delta >= jsonb_array_length(steps -> key));
			candidate := best || jsonb_build_object(key, steps -> key -> coalesce(pos + delta, 0));
			IF NOT EXISTS (SELECT FROM _recsys_auto_trials t
						   WHERE t.family = _auto_next.family AND t.params = candidate) THEN
				RETURN candidate;
			END IF;
		END LOOP;
	END LOOP;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION recsys._auto_next(text, jsonb, jsonb, jsonb) IS
	'internal: the next setting of a train_auto family to try, or NULL';

CREATE FUNCTION recsys.train_auto(
	source regclass,
	model text DEFAULT 'default',
	budget interval DEFAULT '5 minutes',
	metric text DEFAULT 'ndcg@10',
	protocol text DEFAULT NULL,
	features regclass DEFAULT NULL,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	time_col name DEFAULT NULL,
	weight_col name DEFAULT NULL,
	seed bigint DEFAULT 42,
	replace boolean DEFAULT false)
RETURNS TABLE (rank integer, family text, algorithm text, params jsonb, value double precision,
			   train_seconds double precision, eval_seconds double precision, status text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	started timestamptz := clock_timestamp();
	k integer;
	metric_name text;
	ranking CONSTANT text[] := ARRAY['precision', 'recall', 'ndcg', 'map', 'hit_rate', 'mrr'];
	protocol_used text := protocol;
	protocol_reason text;
	columns jsonb;
	ctx jsonb;
	n_rows bigint;
	n_train bigint;
	n_users bigint;
	n_items bigint;
	n_valid_users bigint;
	n_valid bigint;
	fam record;
	n_families integer;
	survivors text[];
	next_params jsonb;
	search_round integer := 0;
	per_family integer;
	tried boolean;
	out_of_budget text[] := '{}';
	result text;
	top record;
	runner_up record;
	w double precision;
	winner record;
	members text[];
	member text;
	report jsonb;
	why text;
	version_trained integer;
BEGIN
	IF source IS NULL OR model IS NULL OR budget IS NULL OR metric IS NULL OR user_col IS NULL
		OR item_col IS NULL OR seed IS NULL OR replace IS NULL THEN
		RAISE EXCEPTION 'arguments of train_auto must not be NULL (protocol, features, time_col and weight_col may be)'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF budget <= interval '0' THEN
		RAISE EXCEPTION 'budget must be greater than 0, not %', budget
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example ''5 minutes''.';
	END IF;
	-- a ranking metric at a cutoff: evaluate's, less those that do not
	-- measure accuracy (coverage, ild) or need ratings (rmse, mae)
	metric_name := substring(metric FROM '^([a-z_]+)@[0-9]+$');
	k := substring(metric FROM '@([0-9]{1,4})$')::integer;
	IF metric_name IS NULL OR NOT metric_name = ANY (ranking) OR k IS NULL OR k < 1 OR k > 1000 THEN
		RAISE EXCEPTION 'metric must be one of % at a cutoff from 1 to 1000, not "%"',
			array_to_string(ranking, ', '), metric
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example ''ndcg@10'' or ''recall@20''.';
	END IF;
	IF protocol IS NOT NULL AND protocol NOT IN ('holdout', 'last') THEN
		RAISE EXCEPTION 'protocol must be holdout, last or NULL, not "%"', protocol
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'NULL chooses: last when time_col is given, else holdout.';
	END IF;
	IF protocol = 'last' AND time_col IS NULL THEN
		RAISE EXCEPTION 'protocol last needs time_col, the column that orders each user''s interactions'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF model = '' OR length(model) > 63 THEN
		RAISE EXCEPTION 'model must be a name of 1 to 63 characters, not "%"', model
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM recsys._require_column(source, user_col, 'user_col');
	PERFORM recsys._require_column(source, item_col, 'item_col');
	IF time_col IS NOT NULL THEN
		PERFORM recsys._require_column(source, time_col, 'time_col');
	END IF;
	IF weight_col IS NOT NULL THEN
		PERFORM recsys._require_column(source, weight_col, 'weight_col');
	END IF;
	-- a model trained by hand is replaced only when asked; one train_auto
	-- trained before is its own to retrain (whatever algorithm wins now)
	PERFORM recsys._require_model_owner(model, 'train', missing_ok => true);
	IF NOT replace AND EXISTS (SELECT FROM recsys.models m
							   WHERE m.name = model AND NOT m.metrics ? 'train_auto') THEN
		RAISE EXCEPTION 'model "%" was not trained by train_auto', model
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = 'train_auto may choose another algorithm than the model''s.',
				  HINT = 'Pass replace => true to let train_auto retrain it, or train under another name.';
	END IF;

	-- the protocol: a time column means the model will rank what users do
	-- next, so it is validated on each user's last interactions
	IF protocol_used IS NULL THEN
		protocol_used := CASE WHEN time_col IS NOT NULL THEN 'last' ELSE 'holdout' END;
		protocol_reason := CASE WHEN time_col IS NOT NULL
								THEN 'time_col given: validated on each user''s last 5 items, as the model will rank what comes next'
								ELSE 'no time_col: validated on a random quarter of each user''s items' END;
	ELSE
		protocol_reason := 'protocol given';
	END IF;

	-- the split: validation pairs, and the source's rows without them
	-- (a second call in one transaction: its tables go first)
	IF to_regclass('pg_temp._recsys_auto_trials') IS NOT NULL THEN
		DROP TABLE pg_temp._recsys_auto_split, pg_temp._recsys_auto_train,
			pg_temp._recsys_auto_valid, pg_temp._recsys_auto_trials;
	END IF;
	IF protocol_used = 'last' THEN
		CREATE TEMP TABLE _recsys_auto_split ON COMMIT DROP AS
		SELECT * FROM recsys.split_last(source, time_col, 5, 10, user_col, item_col);
	ELSE
		CREATE TEMP TABLE _recsys_auto_split ON COMMIT DROP AS
		SELECT * FROM recsys.split_holdout(source, 0.25, seed, 4, user_col, item_col);
	END IF;
	SELECT count(*), count(*) FILTER (WHERE s.is_test), count(DISTINCT s.user_id) FILTER (WHERE s.is_test)
	INTO n_rows, n_valid, n_valid_users FROM _recsys_auto_split s;
	IF n_rows = 0 THEN
		RAISE EXCEPTION 'source "%" has no interactions to train on', source
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF n_valid = 0 THEN
		RAISE EXCEPTION 'source "%" has no user with enough interactions to validate on', source
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = CASE WHEN protocol_used = 'last'
								THEN 'Protocol last holds out the last 5 items of users with at least 10.'
								ELSE 'Protocol holdout holds out a quarter of the items of users with at least 4.' END;
	END IF;
	CREATE TEMP TABLE _recsys_auto_valid ON COMMIT DROP AS
	SELECT s.user_id, s.item_id FROM _recsys_auto_split s WHERE s.is_test;
	EXECUTE format('CREATE TEMP TABLE _recsys_auto_train ON COMMIT DROP AS '
				   'SELECT r.* FROM %s r WHERE NOT EXISTS (SELECT FROM pg_temp._recsys_auto_valid v '
				   'WHERE v.user_id = r.%I::bigint AND v.item_id = r.%I::bigint)',
				   source, user_col, item_col);
	-- (serving reads a user's rows of the source: recency-weighted and
	-- neighbourhood models when evaluated)
	EXECUTE format('CREATE INDEX ON pg_temp._recsys_auto_train (%I)', user_col);
	ANALYZE pg_temp._recsys_auto_train;
	SELECT count(*), count(DISTINCT s.user_id), count(DISTINCT s.item_id) FILTER (WHERE NOT s.is_test)
	INTO n_train, n_users, n_items FROM _recsys_auto_split s WHERE NOT s.is_test;
	CREATE TEMP TABLE _recsys_auto_trials (
		n integer PRIMARY KEY, round integer, family text, algorithm text, params jsonb, shown jsonb,
		value double precision, metrics jsonb, train_seconds double precision,
		eval_seconds double precision, modelled double precision, model text, status text) ON COMMIT DROP;

	columns := jsonb_build_object('user_col', user_col, 'item_col', item_col);
	ctx := jsonb_build_object(
		'deadline', started + budget, 'metric', metric, 'k', k,
		'rows', n_train, 'users', n_users, 'items', n_items, 'valid_users', n_valid_users,
		'scale', n_rows::double precision / n_train,
		-- a name of this backend's own, so concurrent searches do not collide
		'prefix', format('_recsys_auto_%s_%s_', pg_backend_pid(), txid_current()));

	-- round 0: each family's strongest known setting, the cheapest family
	-- first, so that the measured seconds correct the costs of the dearer
	-- ones before they start
	SELECT count(*) INTO n_families FROM recsys._auto_families(protocol_used, time_col, weight_col, features);
	FOR fam IN SELECT f.* FROM recsys._auto_families(protocol_used, time_col, weight_col, features)
						  WITH ORDINALITY f
			   ORDER BY recsys._auto_cost(f.cost, ctx), f.ordinality LOOP
		next_params := recsys._auto_next(fam.family, columns || fam.fixed, fam.seeds, fam.steps);
		result := recsys._auto_trial(fam.family, fam.algorithm, next_params, fam.cost, 0, ctx);
		IF result = 'budget' THEN
			out_of_budget := out_of_budget || fam.family;
		END IF;
	END LOOP;
	-- successive halving over the families: each round keeps the better
	-- half (at least two) and gives each survivor twice the trials of the
	-- round before: its remaining seeds, then steps around its best
	LOOP
		search_round := search_round + 1;
		survivors := ARRAY(SELECT t.family FROM _recsys_auto_trials t
						   WHERE t.model IS NOT NULL AND t.family <> 'blend'
						   ORDER BY t.value DESC NULLS LAST, t.n
						   LIMIT greatest(2, ceil(coalesce(cardinality(survivors), n_families) / 2.0)::integer));
		per_family := 1 << least(search_round, 10);
		tried := false;
		FOR fam IN SELECT * FROM recsys._auto_families(protocol_used, time_col, weight_col, features) LOOP
			-- (a family that no longer fits the budget stays out: time only shrinks)
			CONTINUE WHEN NOT fam.family = ANY (survivors) OR fam.family = ANY (out_of_budget);
			FOR i IN 1..per_family LOOP
				next_params := recsys._auto_next(fam.family, columns || fam.fixed, fam.seeds, fam.steps);
				EXIT WHEN next_params IS NULL;
				result := recsys._auto_trial(fam.family, fam.algorithm, next_params, fam.cost, search_round, ctx);
				IF result = 'budget' THEN
					out_of_budget := out_of_budget || fam.family;
					EXIT;
				END IF;
				tried := true;
			END LOOP;
		END LOOP;
		EXIT WHEN NOT tried;
	END LOOP;

	-- blend the two best families when that helps on validation: the
	-- second's weight against the first's 1
	SELECT t.* INTO top FROM _recsys_auto_trials t WHERE t.model IS NOT NULL
	ORDER BY t.value DESC NULLS LAST, t.n LIMIT 1;
	IF top.n IS NULL THEN
		RAISE EXCEPTION 'train_auto found no candidate within the budget of %', budget
			USING ERRCODE = 'program_limit_exceeded',
				  DETAIL = (SELECT string_agg(format('%s: %s', t.family, t.status), '; ' ORDER BY t.n)
							FROM _recsys_auto_trials t),
				  HINT = 'Raise the budget (or recsys.max_memory).';
	END IF;
	SELECT t.* INTO runner_up FROM _recsys_auto_trials t WHERE t.model IS NOT NULL AND t.n <> top.n
	ORDER BY t.value DESC NULLS LAST, t.n LIMIT 1;
	IF runner_up.n IS NOT NULL AND top.value IS NOT NULL AND runner_up.value IS NOT NULL THEN
		FOREACH w IN ARRAY ARRAY[0.5, 1, 0.3, 0.7, 1.3] LOOP
			result := recsys._auto_trial('blend', 'blend',
										 jsonb_build_object('members', jsonb_build_array(top.model, runner_up.model),
															'weights', jsonb_build_array(1, w)),
										 jsonb_build_object('seconds', top.eval_seconds + runner_up.eval_seconds),
										 search_round + 1, ctx, blending => true,
										 shown => jsonb_build_object('members', jsonb_build_array(top.family, runner_up.family),
																	 'weights', jsonb_build_array(1, w)));
			EXIT WHEN result = 'budget';
		END LOOP;
	END IF;

	-- the winner, trained on all the data as the model (replacing it: a
	-- model train_auto trained before may change its algorithm, and one it
	-- did not was refused above unless replace)
	SELECT t.* INTO winner FROM _recsys_auto_trials t WHERE t.model IS NOT NULL
	ORDER BY t.value DESC NULLS LAST, t.n LIMIT 1;
	IF winner.family = 'blend' THEN
		-- the members under names of their own: <model>_auto_<family>
		FOR fam IN SELECT t.* FROM _recsys_auto_trials t
				   WHERE t.model IN (SELECT jsonb_array_elements_text(winner.params -> 'members'))
				   ORDER BY t.value DESC NULLS LAST, t.n LOOP
			member := format('%s_auto_%s', left(model, 40), fam.family);
			PERFORM recsys._tune_keep(recsys._tune_trainer(fam.algorithm), source, member, fam.params, true);
			members := members || member;
		END LOOP;
		PERFORM recsys._tune_keep(recsys._tune_trainer('blend'), NULL, model,
								  jsonb_build_object('members', to_jsonb(members), 'weights', winner.params -> 'weights'),
								  true);
	ELSE
		PERFORM recsys._tune_keep(recsys._tune_trainer(winner.algorithm), source, model, winner.params, true);
	END IF;
	-- the candidates go (blends before their members)
	FOR member IN SELECT t.model FROM _recsys_auto_trials t WHERE t.model IS NOT NULL
				  ORDER BY t.family = 'blend' DESC LOOP
		PERFORM recsys.drop_model(member);
	END LOOP;

	-- what was tried and why the winner won, in the model's metrics and description
	SELECT t.* INTO runner_up FROM _recsys_auto_trials t
	WHERE t.value IS NOT NULL AND t.family <> winner.family
	ORDER BY t.value DESC, t.n LIMIT 1;
	why := format('best validation %s (%s) of %s trained candidates%s', metric,
				  round(winner.value::numeric, 4),
				  (SELECT count(*) FROM _recsys_auto_trials t WHERE t.train_seconds IS NOT NULL),
				  CASE WHEN runner_up.n IS NOT NULL
					   THEN format('; the best other family, %s, reached %s', runner_up.family, round(runner_up.value::numeric, 4))
					   ELSE '' END);
	report := jsonb_build_object(
		'protocol', protocol_used, 'protocol_reason', protocol_reason, 'metric', metric,
		'budget_seconds', extract(epoch FROM budget), 'seconds', extract(epoch FROM clock_timestamp() - started),
		'validation', jsonb_build_object('users', n_valid_users, 'pairs', n_valid, 'train_rows', n_train),
		'winner', jsonb_build_object('family', winner.family, 'algorithm', winner.algorithm,
									 'params', winner.shown, 'value', winner.value,
									 'members', to_jsonb(members)),
		'why', why,
		'candidates', (SELECT jsonb_agg(jsonb_build_object(
							'n', t.n, 'round', t.round, 'family', t.family, 'algorithm', t.algorithm,
							'params', t.shown, 'value', t.value, 'train_seconds', t.train_seconds,
							'eval_seconds', t.eval_seconds, 'status', t.status) ORDER BY t.n)
					   FROM _recsys_auto_trials t));
	SELECT m.version INTO version_trained FROM recsys.models m WHERE m.name = train_auto.model;
	UPDATE recsys.model_versions v SET metrics = jsonb_build_object('train_auto', report)
	WHERE v.model = train_auto.model AND v.version = version_trained;
	UPDATE recsys.models m
	SET metrics = jsonb_build_object('train_auto', report),
		description = format('train_auto: %s (%s, %s), %s', winner.family, winner.algorithm, winner.shown, why)
	WHERE m.name = train_auto.model;

	RETURN QUERY
	SELECT (row_number() OVER (ORDER BY t.value DESC NULLS LAST, t.n))::integer,
		   t.family, t.algorithm, t.shown, t.value, t.train_seconds, t.eval_seconds,
		   CASE WHEN t.n = winner.n THEN 'chosen' ELSE t.status END
	FROM _recsys_auto_trials t
	ORDER BY 1;
END
$$;
COMMENT ON FUNCTION recsys.train_auto(regclass, text, interval, text, text, regclass, name, name, name,
	name, bigint, boolean) IS
	'choose an algorithm and its settings on a validation split of the source within a time budget, train the winner on all of it';
