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
	grantees		regrole[] NOT NULL DEFAULT '{}',
	-- since 0.10.0: when the name was first trained, kept by retraining,
	-- renaming and dump/restore, new after a drop: the model's identity
	-- (an experiment's variants record it; the clock's time, not the
	-- transaction's, so that a drop and a new training in one transaction
	-- differ too)
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
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

-- internal: refuse (25006) in a read-only transaction or on a hot standby,
-- naming function: the up-front check of writers that read and compute
-- before their first write (train_auto, tune; the C trainers do it in
-- RsTrainBegin)
CREATE FUNCTION recsys._require_writable(function text)
RETURNS void
AS 'MODULE_PATHNAME', 'recsys_require_writable'
LANGUAGE C STABLE PARALLEL RESTRICTED STRICT SECURITY INVOKER;
COMMENT ON FUNCTION recsys._require_writable(text) IS
	'internal: an error when the transaction is read-only or the server in recovery';

-- internal: refuse (42501) a training the role could not store, for the
-- PL/pgSQL trainers that search before they store (train_auto, tune; the
-- C trainers do it in RsTrainBegin): without the table privileges of
-- doc/operations.md they ran to their end (review s11, F2)
CREATE FUNCTION recsys._require_train_privileges(function text)
RETURNS void
AS 'MODULE_PATHNAME', 'recsys_require_train_privileges'
LANGUAGE C STABLE PARALLEL RESTRICTED STRICT SECURITY INVOKER;
COMMENT ON FUNCTION recsys._require_train_privileges(text) IS
	'internal: an error when the current role lacks the privileges on the recsys tables that storing a model needs';

-- internal: the algorithms whose kind serves from other models (a blend's
-- members, a re-ranker's candidates_from), the params key naming them and
-- whether the kind re-ranks them (RsModelKind.uses_models, src/model_kind.c)
CREATE FUNCTION recsys._kinds_using_models()
RETURNS TABLE (algorithm text, params_key text, reranks boolean)
LANGUAGE C IMMUTABLE PARALLEL SAFE STRICT SECURITY INVOKER
AS 'MODULE_PATHNAME', 'recsys_kinds_using_models';
COMMENT ON FUNCTION recsys._kinds_using_models() IS
	'internal: the algorithms whose kind serves from other models, and the params key that names them';

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

-- internal: the experiments whose variants name a model, whoever owns them
-- (those whose owner may use it, given its owner and grantees)
CREATE FUNCTION recsys._experiments_using(model text, owner oid, grantees oid[])
RETURNS text[]
AS 'MODULE_PATHNAME', 'recsys_experiments_using'
LANGUAGE C VOLATILE PARALLEL RESTRICTED SECURITY INVOKER;
COMMENT ON FUNCTION recsys._experiments_using(text, oid, oid[]) IS
	'internal: the experiments that serve a model in a variant, whoever owns them';

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
	experiments text[];
	own text;
	kept text;
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
		-- likewise an experiment's variant (review s8, 2)
		experiments := recsys._experiments_using(gone, gone_owner::pg_catalog.oid,
												 coalesce(gone_grantees, '{}')::pg_catalog.oid[]);
		-- (named only when it is the caller's: another role's experiment,
		-- served through a grant, is neither hers to see nor to drop; she
		-- revokes the grant, review s8, fixr2 2)
		own := (SELECT pg_catalog.min(x) FROM pg_catalog.unnest(experiments) x
				WHERE EXISTS (SELECT FROM recsys.experiments e
							  WHERE e.name OPERATOR(pg_catalog.=) x
								AND pg_catalog.pg_has_role(e.owner::pg_catalog.oid, 'USAGE')));
		-- (an ended experiment's variants cannot change: it keeps the kept
		-- variant's models until it is dropped, s9-fix2)
		kept := (SELECT e.kept_variant FROM recsys.experiments e WHERE e.name OPERATOR(pg_catalog.=) own);
		IF own IS NOT NULL AND kept IS NOT NULL THEN
			RAISE EXCEPTION 'cannot % model "%" because ended experiment "%" still serves it',
				CASE TG_OP WHEN 'DELETE' THEN 'delete' ELSE 'rename' END, gone, own
				USING ERRCODE = 'dependent_objects_still_exist',
					  DETAIL = pg_catalog.format('Ending an experiment keeps serving its kept variant ("%s") to everyone, '
												 'with its models, until the experiment is dropped; its variants '
												 'can no longer be changed.', kept),
					  HINT = pg_catalog.format('Drop the experiment first (recsys.drop_experiment(%L)).', own);
		ELSIF own IS NOT NULL THEN
			RAISE EXCEPTION 'cannot % model "%" because experiment "%" uses it',
				CASE TG_OP WHEN 'DELETE' THEN 'delete' ELSE 'rename' END, gone, own
				USING ERRCODE = 'dependent_objects_still_exist',
					  HINT = pg_catalog.format('Drop the experiment first (recsys.drop_experiment(%L)), or give it '
											   'variants without this model (recsys.alter_experiment).', own);
		ELSIF pg_catalog.cardinality(experiments) > 0 THEN
			RAISE EXCEPTION 'cannot % model "%" because an experiment of a role you granted it to uses it',
				CASE TG_OP WHEN 'DELETE' THEN 'delete' ELSE 'rename' END, gone
				USING ERRCODE = 'dependent_objects_still_exist',
					  HINT = pg_catalog.format('Revoke that role''s use of the model first with '
											   'recsys.revoke_model(%L, role) (granted to: %s); its experiment '
											   'then stops serving the model.', gone,
											   (SELECT pg_catalog.string_agg(CASE g::pg_catalog.oid
																			 WHEN 0 THEN 'PUBLIC'
																			 ELSE g::pg_catalog.text END, ', ')
												FROM pg_catalog.unnest(gone_grantees) g));
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION recsys._models_members_check() IS
	'internal: a model a remaining blend, re-ranker or experiment uses keeps its recsys.models row and name';
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

-- The cold re-ranker's term inputs (algorithm cold_ranker, since 0.11.0):
-- per cold item and term a weighted list of warm items, best first
-- (content: tf-idf cosines; cb2cf: CB2CF's ridge weights; lists: the
-- learned lists a'S), and its feature popularity prior as a row of no
-- neighbours and one score.
CREATE TABLE recsys.item_term_lists (
	model			text NOT NULL,
	version			integer NOT NULL,
	item_id			bigint NOT NULL,
	term			text NOT NULL CHECK (term IN ('content', 'cb2cf', 'lists', 'prior')),
	neighbor_ids	bigint[] NOT NULL,
	scores			real[] NOT NULL,
	CHECK (CASE term WHEN 'prior' THEN cardinality(neighbor_ids) = 0 AND cardinality(scores) = 1
		   ELSE cardinality(scores) = cardinality(neighbor_ids) END),
	PRIMARY KEY (model, version, item_id, term),
	FOREIGN KEY (model, version) REFERENCES recsys.model_versions (model, version)
		ON DELETE CASCADE ON UPDATE CASCADE
);
COMMENT ON TABLE recsys.item_term_lists IS
	'recsys cold re-rankers: each cold item''s weighted lists of warm items per term, and its prior';
ALTER TABLE recsys.item_term_lists
	ALTER COLUMN neighbor_ids SET STORAGE EXTERNAL, ALTER COLUMN scores SET STORAGE EXTERNAL;
ALTER TABLE recsys.item_term_lists ENABLE ROW LEVEL SECURITY;
CREATE POLICY model_users ON recsys.item_term_lists FOR SELECT
	USING (model IN (SELECT m.name FROM recsys.models m));
CREATE POLICY model_owners ON recsys.item_term_lists
	USING (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)))
	WITH CHECK (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)));
SELECT pg_catalog.pg_extension_config_dump('recsys.item_term_lists', '');

-- Everybody may look up the schema's functions; reading and writing models
-- takes table privileges a DBA grants (see doc/operations.md).
GRANT USAGE ON SCHEMA recsys TO PUBLIC;

-------------------------------------------------------------------------------
-- Managing models
-------------------------------------------------------------------------------

-- internal: take a model name's training lock (src/model_store.c), to the
-- end of the transaction, waiting as a second training would
CREATE FUNCTION recsys._lock_model_for_training(model text)
RETURNS void
AS 'MODULE_PATHNAME', 'recsys_lock_model_for_training'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._lock_model_for_training(text) IS
	'internal: wait for a training of the model in progress and keep others out until the transaction ends';

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
	-- a training of this name in progress commits first, then goes with
	-- the rest (else it would recreate the model as version 1 after the drop)
	PERFORM recsys._lock_model_for_training(model);
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
	replaced_index jsonb;
BEGIN
	IF model IS NULL OR version IS NULL THEN
		RAISE EXCEPTION 'model and version must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._require_model_owner(model, 'activate');
	-- the replaced version's index, which the activated one takes over (_ivf_follow)
	SELECT m.stats -> 'ivf' INTO replaced_index FROM recsys.models m WHERE m.name = activate.model;
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
	IF recsys._ivf_follow(model, replaced_index) IS NOT NULL THEN
		SELECT * INTO result FROM recsys.models m WHERE m.name = activate.model;
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
	event_col name DEFAULT NULL,
	event_weights jsonb DEFAULT NULL,
	features regclass DEFAULT NULL,
	feature_weight double precision DEFAULT 1,
	embeddings regclass DEFAULT NULL,
	embedding_weights double precision[] DEFAULT NULL,
	cold_item_weight double precision DEFAULT 1)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_cf'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, boolean, boolean, name, jsonb,
	regclass, double precision, regclass, double precision[], double precision) IS
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
	replace boolean DEFAULT false,
	time_col name DEFAULT NULL,
	half_life interval DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_bpr'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_bpr(regclass, integer, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, double precision, boolean,
	boolean, boolean, name, interval) IS
	'train Bayesian personalised ranking (Rendle et al. 2009) by SGD on sampled triples, with uniform, popularity or adaptive negatives, optional adversarial training (APR, He et al. 2018) and optional recency weights of the positive pairs (time_col, half_life); served as a factor model';

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
	replace boolean DEFAULT false,
	event_col name DEFAULT NULL,
	event_weights jsonb DEFAULT NULL,
	keep double precision DEFAULT 1,
	max_items integer DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_ease'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision,
	double precision, double precision, integer, bigint, boolean, name, jsonb, double precision, integer) IS
	'train EASE (Steck 2019), the closed-form item-item model, with optional dropout (Steck 2020), user and popularity normalisation, item features, recency-weighted scoring and differential privacy; keep < 1 stores only that share of the weights, the largest in magnitude (compact EASE); max_items models the most popular items alone';

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
	replace boolean DEFAULT false,
	pretrained text DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_ncf'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_ncf(regclass, integer, text, integer[], boolean, integer,
	double precision, double precision, double precision, integer, integer, name, name, name,
	bigint, double precision, double precision, boolean, boolean, text) IS
	'train neural collaborative filtering (NeuMF, He et al. 2017): embeddings, an MLP tower and a GMF branch, binary cross-entropy on sampled negatives, Adam; optional adversarial training (APR, He et al. 2018); optionally started from a factor model''s ranking (pretrained)';

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
	event_col name DEFAULT NULL,
	event_weights jsonb DEFAULT NULL,
	features regclass DEFAULT NULL,
	cold_item_weight double precision DEFAULT 1,
	cold_map_regularization double precision DEFAULT NULL,
	cold_map_self_weight double precision DEFAULT 0,
	cold_map_popularity double precision DEFAULT 0,
	cold_map_content_weight double precision DEFAULT 0,
	cold_map_word_weights text DEFAULT 'tfidf')
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_item_knn'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint, boolean, name, jsonb, regclass, double precision,
	double precision, double precision, double precision, double precision, text) IS
	'train an item-kNN model: each item''s most similar items (cosine, jaccard or bm25), optionally differentially private; items with features but no interactions get neighbour lists from feature similarity, or learned from the warm items'' lists (cold_map_regularization)';

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
	replace boolean DEFAULT false,
	base_features boolean DEFAULT false,
	last_basket_weight double precision DEFAULT 0,
	recent_weight double precision DEFAULT 0,
	recent_window interval DEFAULT '30 days')
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_fm'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_fm(regclass, text, text, integer, integer, double precision,
	double precision, integer, double precision, regclass, regclass, name, interval, boolean,
	double precision, name, name, bigint, boolean, boolean, boolean, double precision,
	double precision, interval) IS
	'train a factorisation machine (ids, item and user features, hour and weekday) that re-ranks another model''s top items (optionally with the base''s rank and score as features, the base''s score from the user''s last basket and the items'' recent sales)';

CREATE FUNCTION recsys.train_cold_ranker(
	source regclass,
	features regclass,
	model text DEFAULT 'default',
	coefficients real[] DEFAULT NULL,
	list_length integer DEFAULT 1000,
	regularization double precision DEFAULT NULL,
	neighbors integer DEFAULT 50,
	pseudo_splits integer DEFAULT 5,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	seed bigint DEFAULT 42,
	verbose boolean DEFAULT false,
	replace boolean DEFAULT false,
	cold_slots integer DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_cold_ranker'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_cold_ranker(regclass, regclass, text, real[], integer,
	double precision, integer, integer, name, name, bigint, boolean, boolean, integer) IS
	'train a cold re-ranker: items with features and no interactions ranked for a user by a per-user z-scored mix of content, CB2CF, learned-list and prior terms fitted on pseudo-cold items';

-------------------------------------------------------------------------------
-- Serving
-------------------------------------------------------------------------------

-- Row estimates for the planner (src/planner_support.c): a ranking's
-- constant k, a split's source's estimated rows.
CREATE FUNCTION recsys._rows_k(internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'recsys_rows_k'
LANGUAGE C STABLE PARALLEL SAFE STRICT;
CREATE FUNCTION recsys._rows_source(internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'recsys_rows_source'
LANGUAGE C STABLE PARALLEL SAFE STRICT;

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
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10 SUPPORT recsys._rows_k;
COMMENT ON FUNCTION recsys.recommend(bigint, integer, text, boolean, bigint[], real, text) IS
	'the k items a model recommends to a user, best first (diversity > 0: re-ranked by maximal marginal relevance), and why each is there';

CREATE FUNCTION recsys.recommend_ids(
	user_id bigint,
	k integer DEFAULT 10,
	model text DEFAULT 'default',
	exclude_seen boolean DEFAULT true)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'recsys_recommend_ids'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.recommend_ids(bigint, integer, text, boolean) IS
	'the item ids recommend returns, best first, as one array';

CREATE FUNCTION recsys.similar_items(
	item_id bigint,
	k integer DEFAULT 10,
	model text DEFAULT 'default')
RETURNS TABLE (item_id bigint, score real)
AS 'MODULE_PATHNAME', 'recsys_similar_items'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10 SUPPORT recsys._rows_k;
COMMENT ON FUNCTION recsys.similar_items(bigint, integer, text) IS
	'the k items most similar to an item, best first';

CREATE FUNCTION recsys.similar_users(
	user_id bigint,
	k integer DEFAULT 10,
	model text DEFAULT 'default')
RETURNS TABLE (user_id bigint, score real)
AS 'MODULE_PATHNAME', 'recsys_similar_users'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10;
COMMENT ON FUNCTION recsys.similar_users(bigint, integer, text) IS
	'the k users most like a user by what the model stores per user (cosine of user vectors, user-kNN neighbour lists), best first';

CREATE FUNCTION recsys.user_profile(
	user_id bigint,
	model text,
	facets regclass,
	facet_col name,
	item_col name DEFAULT 'item_id',
	k integer DEFAULT 100)
RETURNS TABLE (facet text, items integer, history_items integer, history_share real,
			   population_share real, history_lift real, top_items integer, top_share real,
			   baseline_share real, model_lift real)
AS 'MODULE_PATHNAME', 'recsys_user_profile'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 20;
COMMENT ON FUNCTION recsys.user_profile(bigint, text, regclass, name, name, integer) IS
	'a user''s affinity per item facet (category, brand, price band): share of their history and of their top k recommendations, each against the average user';

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

CREATE FUNCTION recsys.shared_cache_stats(
	OUT model text,
	OUT version integer,
	OUT bytes bigint,
	OUT backends integer,
	OUT attaches bigint,
	OUT reads bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'recsys_shared_cache_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED SECURITY INVOKER;
COMMENT ON FUNCTION recsys.shared_cache_stats() IS
	'the models held once for all backends (recsys in shared_preload_libraries): memory and users';

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
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10 SUPPORT recsys._rows_k;
COMMENT ON FUNCTION recsys._recommend_for_vector(real[], integer, text, bigint[]) IS
	'internal: recommend_for_vector';

-- a single SELECT, so the planner inlines it into the query calling it
CREATE FUNCTION recsys.recommend_for_vector(
	vec real[],
	k integer DEFAULT 10,
	model text DEFAULT 'default',
	exclude_seen bigint[] DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10 SUPPORT recsys._rows_k
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
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10 SUPPORT recsys._rows_k;
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

-- internal: refuse (42804) a column of a type that cannot be an id
-- (kind 'id': an integer) or a weight (kind 'weight': a number), as the
-- trainers do (src/ingest.c), naming argname and the types allowed, after
-- _require_column (42703): for the SQL functions that read a source before
-- any trainer (splits: a numeric 1e30 failed in the cast to bigint with no
-- column named, review s8, 8; train_auto: a text or boolean weight failed
-- in its cast, review s11, R12)
CREATE FUNCTION recsys._require_column_type(source regclass, col name, argname text, kind text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	typ oid;
BEGIN
	PERFORM recsys._require_column(source, col, argname);
	SELECT a.atttypid INTO typ FROM pg_attribute a
	WHERE a.attrelid = source AND a.attname = col AND NOT a.attisdropped;
	-- (a domain's base type, as getBaseType)
	WHILE (SELECT t.typtype = 'd' FROM pg_type t WHERE t.oid = typ) LOOP
		SELECT t.typbasetype INTO typ FROM pg_type t WHERE t.oid = typ;
	END LOOP;
	IF kind = 'id' AND typ NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
		RAISE EXCEPTION '% column "%" has type %, which cannot be an id', argname, col, format_type(typ, NULL)
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'Ids must be smallint, integer or bigint; map other keys to integers in a view, for example with dense_rank().';
	ELSIF kind = 'weight' AND typ NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype,
										  'real'::regtype, 'double precision'::regtype, 'numeric'::regtype) THEN
		RAISE EXCEPTION '% column "%" has type %, which cannot be a weight', argname, col, format_type(typ, NULL)
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'Use a column of type smallint, integer, bigint, real, double precision or numeric.';
	ELSIF kind NOT IN ('id', 'weight') THEN
		RAISE EXCEPTION 'unknown column kind %', quote_literal(kind) USING ERRCODE = 'internal_error';
	END IF;
END
$$;
COMMENT ON FUNCTION recsys._require_column_type(regclass, name, text, text) IS
	'internal: raise a clear error when a source''s id or weight column is missing or of a type it cannot be';

-- internal: _require_column_type's id check (0.10.0's name, kept for its
-- callers)
CREATE FUNCTION recsys._require_id_column(source regclass, col name, argname text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM recsys._require_column_type(source, col, argname, 'id');
END
$$;
COMMENT ON FUNCTION recsys._require_id_column(regclass, name, text) IS
	'internal: raise a clear error when a source''s id column is missing or not an integer';

-- internal: the trainers' checks of a time column (src/recency.c): a type
-- that holds a time (42804 otherwise), no infinite or NaN time (22023)
CREATE FUNCTION recsys._check_time_col(source regclass, time_col name)
RETURNS void
AS 'MODULE_PATHNAME', 'recsys_check_time_col'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._check_time_col(regclass, name) IS
	'internal: refuse a time column of a type that holds no time, or holding an infinite time';

CREATE FUNCTION recsys.split_kfold(
	source regclass,
	folds integer DEFAULT 5,
	seed bigint DEFAULT 42,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id')
RETURNS TABLE (user_id bigint, item_id bigint, fold integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER SUPPORT recsys._rows_source
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF source IS NULL OR folds IS NULL OR seed IS NULL OR user_col IS NULL OR item_col IS NULL THEN
		RAISE EXCEPTION 'arguments of split_kfold must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF folds < 2 OR folds > 100 THEN
		RAISE EXCEPTION 'folds must be between 2 and 100, not %', folds USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM recsys._require_id_column(source, user_col, 'user_col');
	PERFORM recsys._require_id_column(source, item_col, 'item_col');
	-- (the pairs made distinct by sorting: see split_holdout)
	RETURN QUERY EXECUTE format(
		'SELECT u, i, ((row_number() OVER (ORDER BY md5($1 || '':'' || u || '':'' || i) COLLATE "C", u, i) - 1) %% $2 + 1)::integer '
		'FROM (SELECT DISTINCT ON (1, 2) %I::bigint AS u, %I::bigint AS i FROM %s '
		'WHERE %I IS NOT NULL AND %I IS NOT NULL ORDER BY 1, 2) pairs',
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
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER SUPPORT recsys._rows_source
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
	PERFORM recsys._require_id_column(source, user_col, 'user_col');
	PERFORM recsys._require_id_column(source, item_col, 'item_col');
	-- (the pairs made distinct by sorting, DISTINCT ON, never by
	-- hashing: PostgreSQL 15's hash aggregation, once it spills to disk,
	-- took more than 30 s on half the runs over 3.8M distinct pairs where
	-- the sort takes 1.3 s every time; doc/internals.md, "Splits at
	-- scale")
	-- a user's first round((1 - f) n) pairs in hash order train (half up,
	-- in exact arithmetic: floor((3n + 2) / 4) for f = 0.25), but at least
	-- one (a test user without training rows could not be evaluated: a
	-- test_fraction above 0.75 rounded small users' to 0; review s10, 8),
	-- the rest test
	RETURN QUERY EXECUTE format(
		'SELECT u, i, n >= $3 AND r > greatest(floor((1 - $2::numeric) * n + 0.5), 1) '
		'FROM (SELECT u, i, count(*) OVER (PARTITION BY u) AS n, '
		'             row_number() OVER (PARTITION BY u ORDER BY md5($1 || '':'' || u || '':'' || i) COLLATE "C", i) AS r '
		'      FROM (SELECT DISTINCT ON (1, 2) %I::bigint AS u, %I::bigint AS i FROM %s '
		'            WHERE %I IS NOT NULL AND %I IS NOT NULL ORDER BY 1, 2) pairs) ranked',
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
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER SUPPORT recsys._rows_source
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
	PERFORM recsys._require_id_column(source, user_col, 'user_col');
	PERFORM recsys._require_id_column(source, item_col, 'item_col');
	PERFORM recsys._require_column(source, time_col, 'time_col');
	PERFORM recsys._check_time_col(source, time_col);
	-- a pair's time is its latest interaction (DISTINCT ON, sorted: see
	-- split_holdout; NULLS LAST keeps max()'s meaning), ties by item id.  A pair
	-- with no time (every row's NULL) sorts first and is never held out:
	-- it cannot be among the user's latest (review s8, 6)
	RETURN QUERY EXECUTE format(
		'SELECT u, i, cnt >= $2 AND r > cnt - $1 AND t IS NOT NULL '
		'FROM (SELECT u, i, t, count(*) OVER (PARTITION BY u) AS cnt, '
		'             row_number() OVER (PARTITION BY u ORDER BY t NULLS FIRST, i) AS r '
		'      FROM (SELECT DISTINCT ON (1, 2) %I::bigint AS u, %I::bigint AS i, %I AS t FROM %s '
		'            WHERE %I IS NOT NULL AND %I IS NOT NULL ORDER BY 1, 2, 3 DESC NULLS LAST) pairs) ranked',
		user_col, item_col, time_col, source, user_col, item_col)
	USING n, min_interactions;
END
$$;
COMMENT ON FUNCTION recsys.split_last(regclass, name, integer, integer, name, name) IS
	'per-user leave-last-n-out by time: whether each (user, item) pair is in the test set';

-------------------------------------------------------------------------------
-- Progress of training and tune
--
-- Every trainer and tune advertise what they do in the backend's progress
-- counters (src/progress.c), the shared memory pg_stat_progress_* read:
-- no shared_preload_libraries needed.  recsys.progress shows every session
-- that trains, like pg_stat_progress_vacuum.
-------------------------------------------------------------------------------

CREATE FUNCTION recsys._progress(
	OUT pid integer, OUT datid oid, OUT userid oid, OUT command text, OUT model text,
	OUT algorithm text, OUT phase text, OUT iteration integer, OUT iterations integer,
	OUT loss double precision, OUT candidate integer, OUT candidates integer,
	OUT started timestamptz, OUT elapsed_seconds double precision,
	OUT remaining_seconds double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'recsys_progress_rows'
LANGUAGE C VOLATILE PARALLEL RESTRICTED SECURITY INVOKER ROWS 4;
COMMENT ON FUNCTION recsys._progress() IS
	'internal: the progress counters of every backend that trains or tunes (the view recsys.progress)';

CREATE FUNCTION recsys._progress_tune(model text, algorithm text, step text, candidate integer,
									  candidates integer)
RETURNS void
AS 'MODULE_PATHNAME', 'recsys_progress_tune'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._progress_tune(text, text, text, integer, integer) IS
	'internal: tune reports its candidate (step candidate, best or end)';

CREATE VIEW recsys.progress WITH (security_invoker = true) AS
SELECT p.pid, p.datid, d.datname, p.userid AS usesysid, r.rolname AS usename, p.command,
	   p.model, p.algorithm, p.phase, p.iteration, p.iterations, p.loss, p.candidate,
	   p.candidates, p.started,
	   make_interval(secs => p.elapsed_seconds) AS elapsed,
	   make_interval(secs => p.remaining_seconds) AS remaining
FROM recsys._progress() p
	LEFT JOIN pg_catalog.pg_database d ON d.oid = p.datid
	LEFT JOIN pg_catalog.pg_roles r ON r.oid = p.userid;
COMMENT ON VIEW recsys.progress IS
	'one row per session that trains a model or runs tune: phase, iteration of N, loss, elapsed, estimated remaining';
GRANT SELECT ON recsys.progress TO PUBLIC;

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

-- internal: evaluate's ranking metrics per evaluated user (its means are
-- evaluate's), for comparing two models user by user (train_auto's blend
-- members); weight_col is ignored (no rating metrics)
CREATE FUNCTION recsys._evaluate_users(
	model text,
	test regclass,
	k integer DEFAULT 10,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	diversity real DEFAULT 0,
	similarity_model text DEFAULT NULL,
	features regclass DEFAULT NULL)
RETURNS TABLE (user_id bigint, "precision" double precision, recall double precision, ndcg double precision,
			   map double precision, hit_rate double precision, mrr double precision)
AS 'MODULE_PATHNAME', 'recsys_evaluate_users'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._evaluate_users(text, regclass, integer, name, name, name, real, text, regclass) IS
	'internal: evaluate''s ranking metrics of each evaluated user';

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

-- internal: what keeping a search's result as model would refuse, checked
-- before the first candidate trains (review s8, 7): a name of 1 to 63
-- bytes (the catalog's limit: 32 x 'é' is 64), a model another role owns
-- (42501), one of another algorithm unless replace (42809, the trainers'
-- error; train_cf records als or mf)
CREATE FUNCTION recsys._tune_check_model(trainer regprocedure, model text, replace boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	algorithms text[];
	current text;
BEGIN
	IF model = '' OR octet_length(model) > 63 THEN
		RAISE EXCEPTION 'model must be a name of 1 to 63 bytes, not "%" (% bytes)', model, octet_length(model)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM recsys._require_model_owner(model, 'train', missing_ok => true);
	SELECT CASE p.proname WHEN 'train_cf' THEN ARRAY['als', 'mf'] ELSE ARRAY[substr(p.proname, 7)] END
	INTO algorithms FROM pg_proc p WHERE p.oid = trainer;
	SELECT m.algorithm INTO current FROM recsys.models m WHERE m.name = model;
	IF current IS NOT NULL AND NOT current = ANY (algorithms) AND NOT replace THEN
		RAISE EXCEPTION 'model "%" was trained with algorithm %, not %', model, current, algorithms[1]
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = format('Retraining it with %s would change what everyone it serves gets.', algorithms[1]),
				  HINT = format('Pass replace => true to retrain it with %s, or train under another name.', algorithms[1]);
	END IF;
END
$$;
COMMENT ON FUNCTION recsys._tune_check_model(regprocedure, text, boolean) IS
	'internal: refuse, before a search trains anything, a model name its end would refuse';

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
	evaluated double precision;
	skipped double precision;
BEGIN
	PERFORM recsys._require_writable('recsys.tune()');
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
	-- the kept model's name, owner and algorithm (review s8, 7)
	PERFORM recsys._require_train_privileges('recsys.tune()');
	PERFORM recsys._tune_check_model(trainer, model, replace);
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
		PERFORM recsys._progress_tune(tune.model, algorithm, 'candidate', array_position(combos, combo),
									  cardinality(combos));
		INSERT INTO _recsys_tune_results
		SELECT combo, c.value, c.metrics, c.train_seconds, c.eval_seconds
		FROM recsys._tune_candidate(trainer, train, valid, candidate, fixed || combo, metric, k,
									user_col, item_col, weight_col) c
		RETURNING (_recsys_tune_results.metrics ->> 'users')::float8,
				  (_recsys_tune_results.metrics ->> 'skipped_users')::float8 INTO evaluated, skipped;
		-- no user of valid evaluated (none has rows in train): every metric
		-- is NULL, and the search would keep an arbitrary candidate (review
		-- s12, V8); the users are train's, the same for every candidate
		IF evaluated = 0 THEN
			RAISE EXCEPTION 'valid "%" has no user with rows in train "%": nothing to score the candidates on',
				valid, train
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = format('evaluate skipped all %s of its users: a user is evaluated on the model trained from train.',
									  skipped),
					  HINT = 'Validate on users of train: recsys.split_holdout or recsys.split_last make such a pair.';
		END IF;
		PERFORM recsys.drop_model(candidate);
	END LOOP;

	-- keep the best as the named model (a new version of it)
	SELECT r.params INTO best FROM _recsys_tune_results r
	ORDER BY CASE WHEN lower_is_better THEN r.value ELSE -r.value END, r.params::text LIMIT 1;
	PERFORM recsys._progress_tune(tune.model, algorithm, 'best', cardinality(combos), cardinality(combos));
	PERFORM recsys._tune_keep(trainer, train, tune.model, fixed || best, tune.replace);
	PERFORM recsys._progress_tune(tune.model, algorithm, 'end', cardinality(combos), cardinality(combos));

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
-- IVF indexes over item vectors
-------------------------------------------------------------------------------

-- An IVF index of one model version (src/ivf_index.c): k-means centroids
-- in the Euclidean transformation of the item vectors (factors + 1
-- coordinates) and the items of each list.  It goes with its version (a
-- new version is indexed anew: recsys._ivf_follow) and with the model.
CREATE TABLE recsys.ivf_lists (
	model			text NOT NULL,
	version			integer NOT NULL,
	list			integer NOT NULL CHECK (list >= 0),
	centroid		real[] NOT NULL,
	items			bigint[] NOT NULL,
	PRIMARY KEY (model, version, list),
	FOREIGN KEY (model, version) REFERENCES recsys.model_versions (model, version)
		ON DELETE CASCADE ON UPDATE CASCADE
);
COMMENT ON TABLE recsys.ivf_lists IS
	'recsys IVF indexes: one row per list (centroid and item ids) and model version';
ALTER TABLE recsys.ivf_lists ENABLE ROW LEVEL SECURITY;
CREATE POLICY model_users ON recsys.ivf_lists FOR SELECT
	USING (model IN (SELECT m.name FROM recsys.models m));
CREATE POLICY model_owners ON recsys.ivf_lists
	USING (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)))
	WITH CHECK (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)));
SELECT pg_catalog.pg_extension_config_dump('recsys.ivf_lists', '');

CREATE FUNCTION recsys._ivf_lists(model text, lists integer, iterations integer, seed bigint)
RETURNS TABLE (version integer, list integer, centroid real[], items bigint[])
AS 'MODULE_PATHNAME', 'recsys_ivf_lists'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._ivf_lists(text, integer, integer, bigint) IS
	'internal: the IVF index of a model''s active version, one row per list (create_ivf stores it)';

CREATE FUNCTION recsys.create_ivf(model text, lists integer DEFAULT NULL,
								  iterations integer DEFAULT 10, seed bigint DEFAULT 42)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	active integer;
	built integer;
	n bigint;
	started timestamptz := clock_timestamp();
	info jsonb;
BEGIN
	PERFORM recsys._require_writable('recsys.create_ivf()');
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._require_model_owner(model, 'index');
	-- (the row lock waits for a training of the model to commit, and holds
	-- the next one off until the index is stored)
	SELECT m.version INTO active FROM recsys.models m
	WHERE m.name OPERATOR(pg_catalog.=) create_ivf.model FOR UPDATE;
	DELETE FROM recsys.ivf_lists l
	WHERE l.model OPERATOR(pg_catalog.=) create_ivf.model AND l.version OPERATOR(pg_catalog.=) active;
	INSERT INTO recsys.ivf_lists (model, version, list, centroid, items)
	SELECT create_ivf.model, b.version, b.list, b.centroid, b.items
	FROM recsys._ivf_lists(model, lists, iterations, seed) b;
	GET DIAGNOSTICS n = ROW_COUNT;
	SELECT min(l.version) INTO built FROM recsys.ivf_lists l
	WHERE l.model OPERATOR(pg_catalog.=) create_ivf.model AND l.version OPERATOR(pg_catalog.=) active;
	IF built IS NULL THEN
		RAISE EXCEPTION 'model "%" changed version while it was indexed', model
			USING ERRCODE = 'serialization_failure', HINT = 'Run create_ivf again.';
	END IF;
	info := jsonb_build_object('version', active, 'lists', n, 'iterations', iterations, 'seed', seed,
							   'built_at', now(),
							   'build_seconds', extract(epoch FROM clock_timestamp() - started));
	-- recorded in the version's stats: the changed catalog row makes every
	-- backend holding the model load it again, with its index
	UPDATE recsys.model_versions v SET stats = v.stats || jsonb_build_object('ivf', info)
	WHERE v.model OPERATOR(pg_catalog.=) create_ivf.model AND v.version OPERATOR(pg_catalog.=) active;
	UPDATE recsys.models m SET stats = m.stats || jsonb_build_object('ivf', info)
	WHERE m.name OPERATOR(pg_catalog.=) create_ivf.model;
	RETURN info;
END
$$;
COMMENT ON FUNCTION recsys.create_ivf(text, integer, integer, bigint) IS
	'build an IVF index over the item vectors of a model''s active version (served with recsys.ivf_probes)';

CREATE FUNCTION recsys.drop_ivf(model text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	active integer;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._require_model_owner(model, 'drop the index of');
	SELECT m.version INTO active FROM recsys.models m
	WHERE m.name OPERATOR(pg_catalog.=) drop_ivf.model FOR UPDATE;
	DELETE FROM recsys.ivf_lists l
	WHERE l.model OPERATOR(pg_catalog.=) drop_ivf.model AND l.version OPERATOR(pg_catalog.=) active;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	UPDATE recsys.model_versions v SET stats = v.stats - 'ivf'
	WHERE v.model OPERATOR(pg_catalog.=) drop_ivf.model AND v.version OPERATOR(pg_catalog.=) active;
	UPDATE recsys.models m SET stats = m.stats - 'ivf' WHERE m.name OPERATOR(pg_catalog.=) drop_ivf.model;
	RETURN true;
END
$$;
COMMENT ON FUNCTION recsys.drop_ivf(text) IS
	'drop the IVF index of a model''s active version (its rankings scan every item again)';

CREATE FUNCTION recsys._ivf_indexable(algorithm text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'recsys_ivf_indexable'
LANGUAGE C STABLE STRICT PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._ivf_indexable(text) IS
	'internal: whether create_ivf can index an algorithm''s models (they have item vectors)';

-- The index follows the model, as an index follows its table: when a
-- training or activate replaces an indexed version by one without an
-- index, the new version is indexed with the old index's lists (as many
-- as the new version has items, at most), iterations and seed, in the
-- same transaction (a cancel or error keeps the old version serving).
-- Not when recsys.ivf_rebuild is off, nor for a kind without item vectors
-- (a model retrained as another algorithm with replace => true).
CREATE FUNCTION recsys._ivf_follow(model text, previous jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m recsys.models;
	info jsonb;
BEGIN
	IF previous IS NULL OR NOT current_setting('recsys.ivf_rebuild')::boolean THEN
		RETURN NULL;
	END IF;
	SELECT * INTO m FROM recsys.models x WHERE x.name OPERATOR(pg_catalog.=) _ivf_follow.model;
	IF NOT FOUND OR m.stats ? 'ivf' OR NOT recsys._ivf_indexable(m.algorithm) THEN
		RETURN NULL;
	END IF;
	info := recsys.create_ivf(model, LEAST((previous ->> 'lists')::integer, m.n_items::integer),
							  (previous ->> 'iterations')::integer, (previous ->> 'seed')::bigint)
			|| jsonb_build_object('rebuilt_from', previous -> 'version');
	UPDATE recsys.model_versions v SET stats = v.stats || jsonb_build_object('ivf', info)
	WHERE v.model OPERATOR(pg_catalog.=) _ivf_follow.model AND v.version OPERATOR(pg_catalog.=) m.version;
	UPDATE recsys.models x SET stats = x.stats || jsonb_build_object('ivf', info)
	WHERE x.name OPERATOR(pg_catalog.=) _ivf_follow.model;
	RETURN info;
END
$$;
COMMENT ON FUNCTION recsys._ivf_follow(text, jsonb) IS
	'internal: index a newly active version as the version it replaced was (recsys.ivf_rebuild)';

-------------------------------------------------------------------------------
-- Pictures
--
-- SVG documents straight from SQL (src/plot.c draws them): a line chart
-- with optional interval bands and a heat map; the functions below feed
-- them from evaluate and tune.  Each picture's numbers are also plain rows:
-- evaluate_at's, tune's own, or the caller's arrays.
-------------------------------------------------------------------------------

CREATE FUNCTION recsys.plot_lines(
	series text[],
	x double precision[],
	y double precision[],
	lower double precision[] DEFAULT NULL,
	upper double precision[] DEFAULT NULL,
	title text DEFAULT '',
	x_label text DEFAULT 'x',
	y_label text DEFAULT 'y',
	width integer DEFAULT 640,
	height integer DEFAULT 400)
RETURNS text
AS 'MODULE_PATHNAME', 'recsys_plot_lines'
LANGUAGE C IMMUTABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.plot_lines(text[], double precision[], double precision[], double precision[],
	double precision[], text, text, text, integer, integer) IS
	'an SVG line chart: one line per series, points (x, y), a shaded band from lower to upper where given';

CREATE FUNCTION recsys._plot_heatmap(x text[], y text[], value double precision[], title text,
									 x_label text, y_label text, value_label text, width integer,
									 height integer)
RETURNS text
AS 'MODULE_PATHNAME', 'recsys_plot_heatmap'
LANGUAGE C IMMUTABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._plot_heatmap(text[], text[], double precision[], text, text, text, text,
	integer, integer) IS
	'internal: an SVG heat map of one value per (x, y) cell (plot_tune)';

-- internal: the array itself, refused (2202E, naming argname) if it has
-- more than one dimension, which unnest would flatten silently
CREATE FUNCTION recsys._one_dimensional(a anyarray, argname text)
RETURNS anyarray
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF array_ndims(a) > 1 THEN
		RAISE EXCEPTION '% must be a one-dimensional array, not one of % dimensions', argname, array_ndims(a)
			USING ERRCODE = 'array_subscript_error';
	END IF;
	RETURN a;
END
$$;
COMMENT ON FUNCTION recsys._one_dimensional(anyarray, text) IS
	'internal: an array argument, refused if it has more than one dimension';

CREATE FUNCTION recsys.evaluate_at(
	model text,
	test regclass,
	ks integer[] DEFAULT '{1,2,3,5,10,20}',
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	diversity real DEFAULT 0,
	similarity_model text DEFAULT NULL)
RETURNS TABLE (k integer, metric text, value double precision)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT c.k, split_part(e.metric, '@', 1), e.value
	FROM unnest(recsys._one_dimensional(evaluate_at.ks, 'ks')) WITH ORDINALITY c(k, o),
		 LATERAL recsys.evaluate(evaluate_at.model, evaluate_at.test, c.k, evaluate_at.user_col,
								 evaluate_at.item_col, NULL, evaluate_at.diversity,
								 evaluate_at.similarity_model) e
	WHERE e.metric LIKE '%@%'
	ORDER BY c.o, 2;
END;
COMMENT ON FUNCTION recsys.evaluate_at(text, regclass, integer[], name, name, real, text) IS
	'evaluate''s ranking metrics at each cutoff k of ks: the rows of the metric-at-k and precision-recall curves';

CREATE FUNCTION recsys.plot_pr_curve(
	models text[],
	test regclass,
	ks integer[] DEFAULT '{1,2,3,5,10,20,50}',
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	title text DEFAULT 'Precision and recall at k',
	width integer DEFAULT 640,
	height integer DEFAULT 400)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH r AS (
		SELECT m.o, m.model, e.k,
			   max(e.value) FILTER (WHERE e.metric = 'precision') AS p,
			   max(e.value) FILTER (WHERE e.metric = 'recall') AS r
		FROM unnest(plot_pr_curve.models) WITH ORDINALITY m(model, o),
			 LATERAL recsys.evaluate_at(m.model, plot_pr_curve.test, plot_pr_curve.ks,
										plot_pr_curve.user_col, plot_pr_curve.item_col) e
		GROUP BY m.o, m.model, e.k)
	SELECT recsys.plot_lines(coalesce(array_agg(r.model ORDER BY r.o, r.k), '{}'),
							 coalesce(array_agg(r.r ORDER BY r.o, r.k), '{}'),
							 coalesce(array_agg(r.p ORDER BY r.o, r.k), '{}'),
							 title => plot_pr_curve.title,
							 x_label => 'recall@k (share of a user''s test items in the list)',
							 y_label => 'precision@k (share of the list that is relevant)',
							 width => plot_pr_curve.width, height => plot_pr_curve.height)
	FROM r;
END;
COMMENT ON FUNCTION recsys.plot_pr_curve(text[], regclass, integer[], name, name, text, integer, integer) IS
	'an SVG precision-recall curve of each model, one point per cutoff k (rows: evaluate_at)';

CREATE FUNCTION recsys.plot_metrics_at_k(
	models text[],
	test regclass,
	metrics text[] DEFAULT '{precision,recall,ndcg}',
	ks integer[] DEFAULT '{1,2,3,5,10,20,50}',
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	title text DEFAULT 'Metrics at k',
	width integer DEFAULT 640,
	height integer DEFAULT 400)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	WITH r AS (
		SELECT m.o, mt.o2, CASE WHEN cardinality(plot_metrics_at_k.models) > 1
							   THEN m.model || ': ' || e.metric ELSE e.metric END AS series,
			   e.k, e.value
		FROM unnest(plot_metrics_at_k.models) WITH ORDINALITY m(model, o),
			 LATERAL recsys.evaluate_at(m.model, plot_metrics_at_k.test, plot_metrics_at_k.ks,
										plot_metrics_at_k.user_col, plot_metrics_at_k.item_col) e,
			 unnest(plot_metrics_at_k.metrics) WITH ORDINALITY mt(metric, o2)
		WHERE e.metric = mt.metric)
	SELECT recsys.plot_lines(coalesce(array_agg(r.series ORDER BY r.o, r.o2, r.k), '{}'),
							 coalesce(array_agg(r.k::double precision ORDER BY r.o, r.o2, r.k), '{}'),
							 coalesce(array_agg(r.value ORDER BY r.o, r.o2, r.k), '{}'),
							 title => plot_metrics_at_k.title,
							 x_label => 'k (length of the recommended list)',
							 y_label => 'metric@k (mean over test users, 0 to 1)',
							 width => plot_metrics_at_k.width, height => plot_metrics_at_k.height)
	FROM r;
END;
COMMENT ON FUNCTION recsys.plot_metrics_at_k(text[], regclass, text[], integer[], name, name, text, integer,
	integer) IS
	'an SVG chart of evaluate''s metrics at each cutoff k, a line per model and metric (rows: evaluate_at)';

CREATE FUNCTION recsys.plot_tune(
	params jsonb[],
	value double precision[],
	x_param text,
	y_param text,
	metric text DEFAULT 'value',
	lower_is_better boolean DEFAULT NULL,
	title text DEFAULT NULL,
	width integer DEFAULT 640,
	height integer DEFAULT 400)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	lower_better boolean := coalesce(lower_is_better, metric IN ('rmse', 'mae'));
	missing text;
	result text;
BEGIN
	IF params IS NULL OR value IS NULL OR x_param IS NULL OR y_param IS NULL OR metric IS NULL THEN
		RAISE EXCEPTION 'params, value, x_param, y_param and metric must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF cardinality(params) <> cardinality(value) THEN
		RAISE EXCEPTION 'params and value must have the same length, not % and %',
			cardinality(params), cardinality(value)
			USING ERRCODE = 'array_subscript_error',
				  HINT = 'Aggregate both from tune''s rows: array_agg(params), array_agg(value).';
	END IF;
	SELECT p INTO missing FROM unnest(ARRAY[x_param, y_param]) p
	WHERE cardinality(params) > 0 AND NOT EXISTS (SELECT 1 FROM unnest(params) c WHERE c ? p) LIMIT 1;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION 'parameter "%" is not in params', missing
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Name two keys of tune''s grid as x_param and y_param.';
	END IF;
	-- a grid of more than two parameters: each cell shows the best over the others
	SELECT recsys._plot_heatmap(coalesce(array_agg(c.x), '{}'), coalesce(array_agg(c.y), '{}'),
								coalesce(array_agg(c.v), '{}'),
								coalesce(title, format('%s by %s and %s', metric, x_param, y_param)),
								x_param, y_param,
								metric || CASE WHEN lower_better THEN ' (lower is better)' ELSE '' END,
								width, height)
	INTO result
	FROM (SELECT coalesce(p ->> x_param, 'null') AS x, coalesce(p ->> y_param, 'null') AS y,
				 CASE WHEN lower_better THEN min(v) ELSE max(v) END AS v
		  FROM unnest(params, value) u(p, v)
		  GROUP BY 1, 2) c;
	RETURN result;
END
$$;
COMMENT ON FUNCTION recsys.plot_tune(jsonb[], double precision[], text, text, text, boolean, text, integer,
	integer) IS
	'an SVG heat map of tune''s results over two parameters of its grid (rows: tune''s own)';
-------------------------------------------------------------------------------
-- Online experiments: A/B tests and interleaving
--
-- An experiment splits users between variants (a model, a blend, or a
-- recommend option set) by a keyed hash of the user id, serves each user
-- the assigned variant and logs what was shown; outcomes (clicks,
-- conversions with an amount) are logged against it and compared per
-- variant with intervals, p-values and a verdict.  Experiments are owned
-- and granted like models; the logs follow the experiments' rows.
-- doc/internals.md ("Experiments") has the design.
-------------------------------------------------------------------------------

CREATE TABLE recsys.experiments (
	name			text PRIMARY KEY
		CHECK (name <> '' AND length(name) <= 63),
	-- 'ab': each user sees one variant; 'interleaving': every user sees
	-- the two variants' lists mixed by team draft
	design			text NOT NULL DEFAULT 'ab' CHECK (design IN ('ab', 'interleaving')),
	-- [{"name", "share", "model", "diversity", "similarity_model",
	--   "exclude_seen"}, ...], as validated by recsys._experiment_variants
	variants		jsonb NOT NULL,
	control			text NOT NULL,
	holdout			double precision NOT NULL DEFAULT 0 CHECK (holdout >= 0 AND holdout < 1),
	-- the hash key: a user's bucket is a function of (salt, user id) only
	salt			text NOT NULL,
	-- the allocation of buckets 0..9999 to variants, as runs: buckets from
	-- run_starts[i] on (to the next start) go to run_variants[i], 0 the
	-- holdout, v > 0 variants -> (v - 1); changed as little as possible
	-- when the shares change (recsys._experiment_allocation).  Runs, not
	-- one entry per bucket, so that the row stays small and uncompressed
	-- and a lookup is a binary search (width_bucket)
	run_starts		integer[] NOT NULL CHECK (run_starts[1] = 0),
	run_variants	smallint[] NOT NULL CHECK (cardinality(run_variants) = cardinality(run_starts)),
	attribution		interval NOT NULL DEFAULT '7 days' CHECK (attribution > '0'),
	created_at		timestamptz NOT NULL DEFAULT now(),
	changed_at		timestamptz NOT NULL DEFAULT now(),
	description		text,
	owner			regrole NOT NULL
		DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)),
	grantees		regrole[] NOT NULL DEFAULT '{}',
	-- since 0.10.0: when recsys.end_experiment ended it (NULL: running),
	-- and the variant it serves to everyone since
	ended_at		timestamptz,
	kept_variant	text,
	CONSTRAINT experiments_ended_kept CHECK ((ended_at IS NULL) = (kept_variant IS NULL) AND isfinite(ended_at) IS NOT FALSE)
);
COMMENT ON TABLE recsys.experiments IS
	'recsys experiments: variants, traffic shares and the bucket allocation of each online experiment';

-- What was shown to whom: one row per item shown (a row with no item_id
-- records a user exposed to a variant that shows nothing, such as the
-- holdout).  Partitioned by the experiment's hash, so that one
-- experiment's results read one partition.
CREATE TABLE recsys.experiment_impressions (
	experiment		text NOT NULL
		REFERENCES recsys.experiments (name) ON DELETE CASCADE,
	variant			text NOT NULL,
	user_id			bigint NOT NULL,
	item_id			bigint,
	position		integer CHECK (position > 0),
	-- (finite: the reports' day ranges and attribution windows need one)
	shown_at		timestamptz NOT NULL DEFAULT now() CHECK (isfinite(shown_at))
) PARTITION BY HASH (experiment);
COMMENT ON TABLE recsys.experiment_impressions IS
	'recsys experiments: what each user was shown, in which position, by which variant';
CREATE INDEX ON recsys.experiment_impressions (experiment, user_id, item_id);

-- What users did: clicks (on an item) and conversions (with an amount,
-- such as an order's value), attributed to impressions in experiment_results.
CREATE TABLE recsys.experiment_outcomes (
	experiment		text NOT NULL
		REFERENCES recsys.experiments (name) ON DELETE CASCADE,
	user_id			bigint NOT NULL,
	kind			text NOT NULL CHECK (kind IN ('click', 'conversion')),
	item_id			bigint,
	-- (bounded so that the revenue statistics stay far from overflow)
	amount			double precision CHECK (amount >= 0 AND amount <= 1e12),
	at				timestamptz NOT NULL DEFAULT now() CHECK (isfinite(at))
) PARTITION BY HASH (experiment);
COMMENT ON TABLE recsys.experiment_outcomes IS
	'recsys experiments: clicks and conversions of the experiments'' users';
CREATE INDEX ON recsys.experiment_outcomes (experiment, user_id);

DO $$
DECLARE
	t text;
BEGIN
	FOR p IN 0..7 LOOP
		FOREACH t IN ARRAY ARRAY['experiment_impressions', 'experiment_outcomes'] LOOP
			EXECUTE format('CREATE TABLE recsys.%I PARTITION OF recsys.%I '
						   'FOR VALUES WITH (MODULUS 8, REMAINDER %s)', t || '_' || p, t, p);
			EXECUTE format('COMMENT ON TABLE recsys.%I IS %L', t || '_' || p,
						   format('recsys experiments: partition %s of %s', p, t));
		END LOOP;
	END LOOP;
END
$$;

-- recsys.experiments: an experiment's users (its owner and grantees) see
-- its row; its owners write it (as recsys.models)
ALTER TABLE recsys.experiments ENABLE ROW LEVEL SECURITY;
CREATE POLICY experiment_users ON recsys.experiments FOR SELECT
	USING (recsys._may_use(owner, grantees));
CREATE POLICY experiment_owners ON recsys.experiments
	USING (recsys._owns(owner))
	WITH CHECK (recsys._owns(owner));

-- the logs (and each partition, which a grant on all tables reaches too):
-- an experiment's users read and append its rows, its owners change them
DO $$
DECLARE
	t text;
BEGIN
	FOR t IN SELECT c.relname FROM pg_class c
			 WHERE c.relnamespace = 'recsys'::regnamespace
			   AND c.relname ~ '^experiment_(impressions|outcomes)(_[0-7])?$' AND c.relkind IN ('r', 'p')
	LOOP
		EXECUTE format('ALTER TABLE recsys.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY experiment_readers ON recsys.%I FOR SELECT '
					   'USING (experiment IN (SELECT e.name FROM recsys.experiments e))', t);
		EXECUTE format('CREATE POLICY experiment_loggers ON recsys.%I FOR INSERT '
					   'WITH CHECK (experiment IN (SELECT e.name FROM recsys.experiments e))', t);
		EXECUTE format('CREATE POLICY experiment_owners ON recsys.%I FOR UPDATE '
					   'USING (experiment IN (SELECT e.name FROM recsys.experiments e WHERE recsys._owns(e.owner))) '
					   'WITH CHECK (experiment IN (SELECT e.name FROM recsys.experiments e WHERE recsys._owns(e.owner)))', t);
		EXECUTE format('CREATE POLICY experiment_deleters ON recsys.%I FOR DELETE '
					   'USING (experiment IN (SELECT e.name FROM recsys.experiments e WHERE recsys._owns(e.owner)))', t);
		EXECUTE format('SELECT pg_catalog.pg_extension_config_dump(%L, %L)', 'recsys.' || quote_ident(t), '');
	END LOOP;
END
$$;
SELECT pg_catalog.pg_extension_config_dump('recsys.experiments', '');

-- internal: distribution functions for the results (src/kernel/stats.c)
CREATE FUNCTION recsys._norm_cdf(x double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'recsys_norm_cdf'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys._norm_cdf(double precision) IS
	'internal: P(Z <= x) for a standard normal Z';

CREATE FUNCTION recsys._norm_quantile(p double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'recsys_norm_quantile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys._norm_quantile(double precision) IS
	'internal: the standard normal''s p-quantile (NULL unless 0 < p < 1)';

CREATE FUNCTION recsys._t_two_sided_p(t double precision, df double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'recsys_t_two_sided_p'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys._t_two_sided_p(double precision, double precision) IS
	'internal: the two-sided p-value of Student''s t statistic';

CREATE FUNCTION recsys._binom_cdf(k double precision, n double precision, p double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'recsys_binom_cdf'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys._binom_cdf(double precision, double precision, double precision) IS
	'internal: P(X <= k) for X binomial(n, p)';

-- internal: a user's bucket, 0..9999: the first 32 bits of
-- SHA-256(salt ':' user id) modulo 10000, the same on every server,
-- architecture and version (no hash function of PostgreSQL's own, whose
-- values may differ by platform); in C (src/experiment.c) for speed
CREATE FUNCTION recsys._experiment_bucket(salt text, user_id bigint)
RETURNS integer
AS 'MODULE_PATHNAME', 'recsys_experiment_bucket'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys._experiment_bucket(text, bigint) IS
	'internal: a user''s bucket in an experiment, from a keyed SHA-256 of the user id';

-- internal: an experiment's row (as the caller sees it), after checking
-- that it exists, has the design asked for (if any) and, when an action is
-- named, that the caller has its owner's privileges
CREATE FUNCTION recsys._experiment(experiment text, design text DEFAULT NULL, action text DEFAULT NULL)
RETURNS recsys.experiments
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e recsys.experiments;
BEGIN
	IF experiment IS NULL THEN
		RAISE EXCEPTION 'experiment must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT * INTO e FROM recsys.experiments x WHERE x.name OPERATOR(pg_catalog.=) experiment;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'experiment "%" does not exist',
			CASE WHEN length(experiment) > 63 THEN left(experiment, 63) || '...' ELSE experiment END
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'SELECT name FROM recsys.experiments lists the experiments you may use.';
	END IF;
	IF action IS NOT NULL AND NOT pg_has_role(e.owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of experiment "%" to %', experiment, action
			USING ERRCODE = 'insufficient_privilege',
				  HINT = format('Its owner is role %s.', e.owner);
	END IF;
	IF _experiment.design IS NOT NULL AND e.design <> _experiment.design THEN
		RAISE EXCEPTION 'experiment "%" is an % experiment', experiment,
			CASE e.design WHEN 'ab' THEN 'A/B' ELSE e.design END
			USING ERRCODE = 'wrong_object_type',
				  HINT = CASE e.design WHEN 'ab' THEN 'Serve it with recsys.recommend_for_experiment.'
						 ELSE 'Serve it with recsys.recommend_interleaved.' END;
	END IF;
	RETURN e;
END
$$;
COMMENT ON FUNCTION recsys._experiment(text, text, text) IS
	'internal: an experiment''s catalog row, checked';

-- internal: what a variant records of its models (model and
-- similarity_model): their owners by name (dump and restore keep names),
-- by OID (for recsys.clean_orphans, as role names can be taken again) and
-- their identity (recsys.models.created_at)
CREATE FUNCTION recsys._experiment_recorded_keys()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT ARRAY['model_owner', 'model_owner_oid', 'model_created_at',
				 'similarity_model_owner', 'similarity_model_owner_oid', 'similarity_model_created_at']
$$;
COMMENT ON FUNCTION recsys._experiment_recorded_keys() IS
	'internal: the keys of a variant that record its models'' owners and identities';

CREATE FUNCTION recsys._experiment_models_recorded(variant jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(jsonb_object_agg(k.p || r.key, r.value), '{}')
	FROM unnest(ARRAY['model', 'similarity_model']) k(p)
		 JOIN recsys.models m ON m.name = variant ->> k.p,
		 LATERAL jsonb_each(jsonb_build_object('_owner', pg_get_userbyid(m.owner), '_owner_oid', m.owner::oid::bigint,
											   '_created_at', m.created_at)) r
$$;
COMMENT ON FUNCTION recsys._experiment_models_recorded(jsonb) IS
	'internal: a variant''s models'' owners (name and OID) and identities, as recorded in it';

-- internal: the variants as given, checked and completed (share 1 unless
-- given; the recommend options only when given)
CREATE FUNCTION recsys._experiment_variants(variants jsonb, design text)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	v jsonb;
	result jsonb := '[]';
	names text[] := '{}';
	vname text;
	bad text;
	allowed CONSTANT text[] := ARRAY['name', 'share', 'model', 'diversity', 'similarity_model', 'exclude_seen']
							   || recsys._experiment_recorded_keys();
BEGIN
	IF variants IS NULL OR jsonb_typeof(variants) <> 'array' OR jsonb_array_length(variants) < 2
	   OR (design = 'interleaving' AND jsonb_array_length(variants) <> 2) THEN
		RAISE EXCEPTION 'variants must be a JSON array of %',
			CASE WHEN design = 'interleaving' THEN 'exactly 2 variants' ELSE '2 or more variants' END
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example ''[{"name": "A", "model": "popular"}, {"name": "B", "model": "als", "share": 1}]''.';
	END IF;
	IF jsonb_array_length(variants) > 100 THEN
		RAISE EXCEPTION 'variants must not name more than 100 variants, not %', jsonb_array_length(variants)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR v IN SELECT x FROM jsonb_array_elements(variants) x LOOP
		IF jsonb_typeof(v) <> 'object' THEN
			RAISE EXCEPTION 'each variant must be a JSON object, not %', v
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT string_agg(k, ', ') INTO bad FROM jsonb_object_keys(v) k WHERE k <> ALL (allowed);
		IF bad IS NOT NULL THEN
			RAISE EXCEPTION 'unknown key % in variant %', bad, v
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'A variant may have: ' || array_to_string(allowed, ', ') || '.';
		END IF;
		vname := v ->> 'name';
		IF jsonb_typeof(v -> 'name') IS DISTINCT FROM 'string' OR vname = '' OR length(vname) > 63 THEN
			RAISE EXCEPTION 'each variant needs a name: a string of 1 to 63 characters, not %',
				coalesce(CASE WHEN jsonb_typeof(v -> 'name') = 'string' THEN length(vname) || ' characters'
							  ELSE (v -> 'name')::text END, 'none')
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF vname = ANY (names) OR vname = 'holdout' THEN
			RAISE EXCEPTION 'variant name "%" is %', vname,
				CASE WHEN vname = 'holdout' THEN 'reserved for the holdout' ELSE 'used twice' END
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		names := names || vname;
		IF NOT v ? 'share' THEN
			v := v || '{"share": 1}';
		ELSIF jsonb_typeof(v -> 'share') <> 'number' OR NOT ((v ->> 'share')::float8 > 0)
			  OR (v ->> 'share')::float8 > 1e6 THEN
			RAISE EXCEPTION 'share of variant "%" must be a number > 0 and <= 1000000, not %', vname, v -> 'share'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Shares are relative: {"share": 1} and {"share": 3} split 25% / 75%.';
		END IF;
		IF v ? 'model' AND jsonb_typeof(v -> 'model') <> 'null' THEN
			IF jsonb_typeof(v -> 'model') <> 'string' THEN
				RAISE EXCEPTION 'model of variant "%" must be a model name, not %', vname, v -> 'model'
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			IF NOT EXISTS (SELECT FROM recsys.models m WHERE m.name = v ->> 'model') THEN
				RAISE EXCEPTION 'model "%" of variant "%" does not exist', v ->> 'model', vname
					USING ERRCODE = 'invalid_parameter_value',
						  HINT = 'SELECT name FROM recsys.models lists the models you may use.';
			END IF;
		ELSIF design = 'interleaving' THEN
			RAISE EXCEPTION 'variant "%" needs a model: interleaving mixes two models'' lists', vname
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF v ? 'diversity' AND (jsonb_typeof(v -> 'diversity') <> 'number'
								OR NOT (v ->> 'diversity')::float8 BETWEEN 0 AND 1) THEN
			RAISE EXCEPTION 'diversity of variant "%" must be a number between 0 and 1, not %', vname, v -> 'diversity'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF v ? 'similarity_model' AND jsonb_typeof(v -> 'similarity_model') <> 'string' THEN
			RAISE EXCEPTION 'similarity_model of variant "%" must be a model name, not %', vname, v -> 'similarity_model'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF v ? 'similarity_model' AND NOT EXISTS (SELECT FROM recsys.models m
												  WHERE m.name = v ->> 'similarity_model') THEN
			RAISE EXCEPTION 'similarity_model "%" of variant "%" does not exist', v ->> 'similarity_model', vname
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'SELECT name FROM recsys.models lists the models you may use.';
		END IF;
		IF v ? 'exclude_seen' AND jsonb_typeof(v -> 'exclude_seen') <> 'boolean' THEN
			RAISE EXCEPTION 'exclude_seen of variant "%" must be true or false, not %', vname, v -> 'exclude_seen'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		-- the models' owners and identities now (a value given is replaced):
		-- serving refuses a model whose owner changed since (review s8, 2),
		-- or one dropped and trained again under the name
		v := (v - recsys._experiment_recorded_keys()) || recsys._experiment_models_recorded(v);
		result := result || jsonb_build_array(v);
	END LOOP;
	RETURN result;
END
$$;
COMMENT ON FUNCTION recsys._experiment_variants(jsonb, text) IS
	'internal: an experiment''s variants, checked and completed';

-- internal: the variants an experiment serves now: all of them while it
-- runs, the kept one alone once recsys.end_experiment ended it
CREATE FUNCTION recsys._experiment_served(e recsys.experiments)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN e.ended_at IS NULL THEN e.variants
				ELSE coalesce((SELECT jsonb_agg(x) FROM jsonb_array_elements(e.variants) x
							   WHERE x ->> 'name' = e.kept_variant), '[]') END
$$;
COMMENT ON FUNCTION recsys._experiment_served(recsys.experiments) IS
	'internal: the variants an experiment serves: all while it runs, the kept one once ended';

-- internal: variants as their owner states them, without what
-- _experiment_variants records of their models (owners, identities)
CREATE FUNCTION recsys._experiment_variants_stated(variants jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_agg(x - recsys._experiment_recorded_keys() ORDER BY o)
	FROM jsonb_array_elements(variants) WITH ORDINALITY AS c(x, o)
$$;
COMMENT ON FUNCTION recsys._experiment_variants_stated(jsonb) IS
	'internal: variants without the owners and identities recorded of their models';

-- internal: refuse (42501) to serve a variant naming a model (model,
-- similarity_model) that the experiment's owner may not use, as a blend
-- refuses a member its owner may not use: the owner reads every
-- impression, so an experiment must not show models its owner could not
-- query.  Checked at serving, whatever changed since the experiment was
-- created (a direct UPDATE, a revoked grant, a dropped model whose name
-- another role took).  A model the caller cannot see is left to recommend,
-- which refuses it.
CREATE FUNCTION recsys._experiment_check_models(e recsys.experiments, variants jsonb)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m record;
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = e.owner) THEN
		RAISE EXCEPTION 'permission denied to serve experiment "%": its owner (role OID %) was dropped',
			e.name, e.owner::oid
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'A superuser can give it a new owner: UPDATE recsys.experiments SET owner = ...';
	END IF;
	-- a model of the name recorded at creation, another role's since: the
	-- model was dropped and its name taken (recorded since 0.10.0)
	FOR m IN
		SELECT DISTINCT x.name, u.owner AS recorded, pg_get_userbyid(x.owner) AS now
		FROM jsonb_array_elements(variants) v,
			 unnest(ARRAY[v ->> 'model', v ->> 'similarity_model'],
					ARRAY[v ->> 'model_owner', v ->> 'similarity_model_owner']) u(name, owner)
			 JOIN recsys.models x ON x.name = u.name
		WHERE u.owner IS NOT NULL AND u.owner IS DISTINCT FROM pg_get_userbyid(x.owner)
		ORDER BY x.name
	LOOP
		RAISE EXCEPTION 'model "%" of experiment "%" changed owner since the experiment was created', m.name, e.name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('It was owned by role "%s"; the model of that name now is role "%s"''s.',
								  m.recorded, m.now),
				  HINT = 'Check the model, then give the experiment its variants again with recsys.alter_experiment.';
	END LOOP;
	-- a model of the name and owner recorded, but another one: dropped and
	-- trained again since (recorded since 0.10.0)
	FOR m IN
		SELECT DISTINCT x.name
		FROM jsonb_array_elements(variants) v,
			 unnest(ARRAY[v ->> 'model', v ->> 'similarity_model'],
					ARRAY[v ->> 'model_created_at', v ->> 'similarity_model_created_at']) u(name, created)
			 JOIN recsys.models x ON x.name = u.name
		WHERE u.created IS NOT NULL AND u.created::timestamptz IS DISTINCT FROM x.created_at
		ORDER BY x.name
	LOOP
		RAISE EXCEPTION 'model "%" of experiment "%" was dropped and trained again since the experiment was given it',
			m.name, e.name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'The model of that name now is another model (recsys.models.created_at) than the one the variant names.',
				  HINT = 'Check the model, then give the experiment its variants again with recsys.alter_experiment.';
	END LOOP;
	FOR m IN
		SELECT DISTINCT x.name, x.owner
		FROM jsonb_array_elements(variants) v, unnest(ARRAY[v ->> 'model', v ->> 'similarity_model']) u(name)
			 JOIN recsys.models x ON x.name = u.name
		-- (roles joined to pg_roles: a dropped role's OID is nobody's)
		WHERE NOT (EXISTS (SELECT FROM pg_roles r
						   WHERE r.oid = x.owner AND pg_has_role(e.owner::oid, r.oid, 'USAGE'))
				   OR EXISTS (SELECT FROM unnest(x.grantees) g LEFT JOIN pg_roles r ON r.oid = g::oid
							  WHERE g::oid = 0 OR pg_has_role(e.owner::oid, r.oid, 'USAGE')))
		ORDER BY x.name
	LOOP
		RAISE EXCEPTION 'permission denied to serve model "%" in experiment "%": its owner, role %, may not use it',
			m.name, e.name, e.owner
			USING ERRCODE = 'insufficient_privilege',
				  HINT = format('The model''s owner (role %s) can grant its use to role %s: '
								'SELECT recsys.grant_model(%L, %L).', m.owner, e.owner, m.name, e.owner::text);
	END LOOP;
	-- (last, so that a model the owner may not use is refused as such)
	PERFORM recsys._experiment_check_identities(e, variants);
END
$$;
COMMENT ON FUNCTION recsys._experiment_check_models(recsys.experiments, jsonb) IS
	'internal: refuse variants whose models the experiment''s owner may not use';

-- internal: _experiment_check_models' last check, alone (clean_orphans
-- asks it first: its error says why an orphaned experiment is skipped)
CREATE FUNCTION recsys._experiment_check_identities(e recsys.experiments, variants jsonb)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m record;
BEGIN
	-- a variant naming a model without its recorded owner and identity:
	-- the update from 0.9.0 marks (with JSON nulls) a variant whose model
	-- was missing then, as 0.9.0 let drop_model drop a model an experiment
	-- served; whatever has that name now may be another role's model
	-- (s9-fix2).  Otherwise a variant written past create_experiment and
	-- alter_experiment, which record them.  (Not the owner's OID: a restore
	-- into a cluster without the owner's role records none.)
	FOR m IN
		SELECT DISTINCT v ->> 'name' AS variant, u.name, u.created = 'null' AS marked
		FROM jsonb_array_elements(variants) v,
			 unnest(ARRAY[v ->> 'model', v ->> 'similarity_model'],
					ARRAY[v -> 'model_owner', v -> 'similarity_model_owner'],
					ARRAY[v -> 'model_created_at', v -> 'similarity_model_created_at']) u(name, owner, created)
		WHERE u.name IS NOT NULL
		  AND (jsonb_typeof(u.owner) IS DISTINCT FROM 'string' OR jsonb_typeof(u.created) IS DISTINCT FROM 'string')
		ORDER BY 1, 2
	LOOP
		RAISE EXCEPTION 'variant "%" of experiment "%" records no owner or identity of its model "%"',
			m.variant, e.name, m.name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = CASE WHEN m.marked
							   THEN 'The model was missing when recsys was updated to 0.10.0 (0.9.0 let drop_model drop '
									'a model an experiment served): a model of that name now may be another one.'
							   ELSE 'recsys.create_experiment and recsys.alter_experiment record them; these variants '
									'were written without them.' END,
				  HINT = 'Check the model, then give the experiment its variants again with recsys.alter_experiment.';
	END LOOP;
END
$$;
COMMENT ON FUNCTION recsys._experiment_check_identities(recsys.experiments, jsonb) IS
	'internal: refuse variants without the recorded owner and identity of their models';

-- internal: an allocation (one entry per bucket) as runs, and back
CREATE FUNCTION recsys._experiment_runs(allocation smallint[], OUT run_starts integer[], OUT run_variants smallint[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT array_agg(b - 1 ORDER BY b), array_agg(v ORDER BY b)
	FROM (SELECT v, b, lag(v) OVER (ORDER BY b) AS prev FROM unnest(allocation) WITH ORDINALITY AS a(v, b)) x
	WHERE b = 1 OR v IS DISTINCT FROM prev
$$;
COMMENT ON FUNCTION recsys._experiment_runs(smallint[]) IS
	'internal: a bucket allocation as runs of buckets';

CREATE FUNCTION recsys._experiment_buckets(run_starts integer[], run_variants smallint[])
RETURNS smallint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT array_agg(run_variants[width_bucket(b, run_starts)] ORDER BY b) FROM generate_series(0, 9999) b $$;
COMMENT ON FUNCTION recsys._experiment_buckets(integer[], smallint[]) IS
	'internal: runs of buckets as a bucket allocation';

-- internal: the bucket allocation for new shares that moves the fewest
-- users from the old one.  Each variant (the holdout is index 0) is due
-- round(10000 * its share) buckets (largest remainders); it keeps as many
-- of its old buckets as it is due, in bucket order, and the buckets freed
-- by variants that shrank or went go, in bucket order, to variants that
-- grew.  Only the difference moves: sum over variants of
-- max(0, old - new) buckets, the total variation distance between the old
-- and new splits, which no allocation can beat.
CREATE FUNCTION recsys._experiment_allocation(old_allocation smallint[], old_variants jsonb,
											  variants jsonb, holdout double precision)
RETURNS smallint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer := jsonb_array_length(variants);
	due integer[];
	kept integer[];
	remap integer[];			-- old index + 1 -> new index (NULL: gone)
	result smallint[] := array_fill(NULL::smallint, ARRAY[10000]);
	total double precision;
	i integer;
	b integer;
	target integer;
BEGIN
	-- buckets due: largest remainders, ties to the lower index
	SELECT sum((x ->> 'share')::float8) INTO total FROM jsonb_array_elements(variants) x;
	WITH exact AS (
		SELECT 0 AS idx, 10000 * holdout AS q
		UNION ALL
		SELECT o::integer, 10000 * (1 - holdout) * (x ->> 'share')::float8 / total
		FROM jsonb_array_elements(variants) WITH ORDINALITY AS t(x, o)
	), floors AS (
		SELECT idx, floor(q)::integer AS f, q - floor(q) AS r FROM exact
	), ranked AS (
		SELECT idx, f, row_number() OVER (ORDER BY r DESC, idx) AS rk FROM floors
	)
	SELECT array_agg(f + CASE WHEN rk <= 10000 - (SELECT sum(f) FROM floors) THEN 1 ELSE 0 END ORDER BY idx)
	INTO due FROM ranked;
	-- a bucket is 1/10000 of the users: a variant (or all of them) due
	-- none would serve nobody
	IF 10000 - due[1] = 0 THEN
		RAISE EXCEPTION 'holdout % leaves no bucket to the variants', holdout
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Users are split in buckets of 1/10000; the variants need at least one.',
				  HINT = 'Use a holdout of at most 0.9999.';
	END IF;
	FOR i IN 1..n LOOP
		IF due[i + 1] = 0 THEN
			RAISE EXCEPTION 'share % of variant "%" gets no bucket', (variants -> (i - 1) ->> 'share')::float8,
				variants -> (i - 1) ->> 'name'
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = format('Users are split in buckets of 1/10000; its share is %s of the treated users.',
									  (variants -> (i - 1) ->> 'share')::float8 / total),
					  HINT = 'Give each variant a share of at least 1/10000 of the total.';
		END IF;
	END LOOP;
	kept := array_fill(0, ARRAY[n + 1]);

	IF old_allocation IS NOT NULL THEN
		remap := ARRAY[0] || ARRAY(
			SELECT (SELECT o FROM jsonb_array_elements(variants) WITH ORDINALITY t(x, o)
					WHERE x ->> 'name' = ov ->> 'name')::integer
			FROM jsonb_array_elements(old_variants) WITH ORDINALITY s(ov, oo) ORDER BY oo);
		FOR b IN 1..10000 LOOP
			i := remap[old_allocation[b] + 1];
			IF i IS NOT NULL AND kept[i + 1] < due[i + 1] THEN
				result[b] := i;
				kept[i + 1] := kept[i + 1] + 1;
			END IF;
		END LOOP;
	END IF;
	i := 0;
	FOR b IN 1..10000 LOOP
		IF result[b] IS NULL THEN
			WHILE kept[i + 1] >= due[i + 1] LOOP
				i := i + 1;
			END LOOP;
			result[b] := i;
			kept[i + 1] := kept[i + 1] + 1;
		END IF;
	END LOOP;
	RETURN result;
END
$$;
COMMENT ON FUNCTION recsys._experiment_allocation(smallint[], jsonb, jsonb, double precision) IS
	'internal: the bucket allocation for new shares that moves the fewest users';

CREATE FUNCTION recsys.create_experiment(
	name text,
	variants jsonb,
	control text DEFAULT NULL,
	holdout double precision DEFAULT 0,
	design text DEFAULT 'ab',
	attribution interval DEFAULT '7 days',
	salt text DEFAULT NULL,
	description text DEFAULT NULL)
RETURNS recsys.experiments
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	checked jsonb;
	result recsys.experiments;
BEGIN
	IF name IS NULL OR name = '' OR length(name) > 63 THEN
		RAISE EXCEPTION 'name must be a text of 1 to 63 characters, not %',
			coalesce(length(name) || ' characters', 'NULL') USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF design IS NULL OR design NOT IN ('ab', 'interleaving') THEN
		RAISE EXCEPTION 'design must be ''ab'' or ''interleaving'', not %', coalesce(quote_literal(design), 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF holdout IS NULL OR NOT (holdout >= 0 AND holdout < 1) OR (design = 'interleaving' AND holdout > 0) THEN
		RAISE EXCEPTION 'holdout must be at least 0 and below 1%, not %',
			CASE WHEN design = 'interleaving' THEN ' (0 for interleaving)' ELSE '' END, holdout
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'holdout is the share of users shown nothing: 0.05 keeps 5% out.';
	END IF;
	IF attribution IS NULL OR attribution <= '0' OR attribution > '366 days' THEN
		RAISE EXCEPTION 'attribution must be a positive interval of at most 366 days, not %', coalesce(attribution::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF salt = '' THEN
		RAISE EXCEPTION 'salt must not be empty' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Leave it NULL for a random one.';
	END IF;
	checked := recsys._experiment_variants(variants, design);
	control := coalesce(control, checked -> 0 ->> 'name');
	IF NOT EXISTS (SELECT FROM jsonb_array_elements(checked) x WHERE x ->> 'name' = control) THEN
		RAISE EXCEPTION 'control "%" is not a variant', control
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Name one of the variants, or leave control NULL for the first.';
	END IF;
	INSERT INTO recsys.experiments AS x (name, design, variants, control, holdout, salt, run_starts, run_variants,
										 attribution, description)
	SELECT create_experiment.name, create_experiment.design, checked, control, create_experiment.holdout,
		   coalesce(create_experiment.salt, gen_random_uuid()::text), r.run_starts, r.run_variants,
		   create_experiment.attribution, create_experiment.description
	FROM recsys._experiment_runs(recsys._experiment_allocation(NULL, NULL, checked, create_experiment.holdout)) r
	RETURNING * INTO result;
	RETURN result;
EXCEPTION WHEN unique_violation THEN
	-- (an experiment the caller may not see is not named as one: names are
	-- unique across roles, like catalogs')
	IF NOT EXISTS (SELECT FROM recsys.experiments x WHERE x.name OPERATOR(pg_catalog.=) create_experiment.name) THEN
		RAISE EXCEPTION 'experiment name "%" is taken by another role', name
			USING ERRCODE = 'insufficient_privilege', HINT = 'Choose another name.';
	END IF;
	RAISE EXCEPTION 'experiment "%" already exists', name
		USING ERRCODE = 'duplicate_object',
			  HINT = 'Change its shares with recsys.alter_experiment, or drop it with recsys.drop_experiment.';
END
$$;
COMMENT ON FUNCTION recsys.create_experiment(text, jsonb, text, double precision, text, interval, text, text) IS
	'start an online experiment: variants (models or recommend option sets) with traffic shares, a control, a holdout';

CREATE FUNCTION recsys.alter_experiment(
	name text,
	variants jsonb DEFAULT NULL,
	holdout double precision DEFAULT NULL,
	control text DEFAULT NULL,
	attribution interval DEFAULT NULL)
RETURNS recsys.experiments
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e recsys.experiments;
	checked jsonb;
BEGIN
	e := recsys._experiment(name, action => 'alter it');
	PERFORM FROM recsys.experiments x WHERE x.name = e.name FOR UPDATE;
	e := recsys._experiment(name);
	PERFORM recsys._experiment_require_running(e, 'alter');
	checked := CASE WHEN variants IS NULL THEN e.variants ELSE recsys._experiment_variants(variants, e.design) END;
	holdout := coalesce(holdout, e.holdout);
	IF NOT (holdout >= 0 AND holdout < 1) OR (e.design = 'interleaving' AND holdout > 0) THEN
		RAISE EXCEPTION 'holdout must be at least 0 and below 1%, not %',
			CASE WHEN e.design = 'interleaving' THEN ' (0 for interleaving)' ELSE '' END, holdout
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF attribution <= '0' OR attribution > '366 days' THEN
		RAISE EXCEPTION 'attribution must be a positive interval of at most 366 days, not %', attribution
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	control := coalesce(control, e.control);
	IF NOT EXISTS (SELECT FROM jsonb_array_elements(checked) x WHERE x ->> 'name' = control) THEN
		RAISE EXCEPTION 'control "%" is not a variant', control
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Name one of the variants.';
	END IF;
	UPDATE recsys.experiments x
	SET variants = checked, holdout = alter_experiment.holdout, control = alter_experiment.control,
		attribution = coalesce(alter_experiment.attribution, x.attribution),
		run_starts = r.run_starts, run_variants = r.run_variants, changed_at = now()
	FROM recsys._experiment_runs(recsys._experiment_allocation(
			recsys._experiment_buckets(e.run_starts, e.run_variants), e.variants, checked,
			alter_experiment.holdout)) r
	WHERE x.name = e.name
	RETURNING * INTO e;
	RETURN e;
END
$$;
COMMENT ON FUNCTION recsys.alter_experiment(text, jsonb, double precision, text, interval) IS
	'change an experiment''s variants, shares or holdout, moving as few users as possible';

-- internal: refuse (55000) to change an experiment that has ended
CREATE FUNCTION recsys._experiment_require_running(e recsys.experiments, action text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF e.ended_at IS NOT NULL THEN
		RAISE EXCEPTION 'cannot % experiment "%": it has ended, keeping variant "%"', action, e.name, e.kept_variant
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'An ended experiment keeps its variants and allocation for its reports. '
						 'Start a new one with recsys.create_experiment, or drop this one with recsys.drop_experiment.';
	END IF;
END
$$;
COMMENT ON FUNCTION recsys._experiment_require_running(recsys.experiments, text) IS
	'internal: refuse to change an experiment that has ended';

-- End an experiment: no user is assigned any more; every serving call
-- serves the kept variant (the control unless named), logs nothing, and
-- the reports count the impressions shown until the end.  Only the kept
-- variant's models stay protected from drop and rename (the experiment
-- still serves them); the others are free.
CREATE FUNCTION recsys.end_experiment(name text, keep text DEFAULT NULL)
RETURNS recsys.experiments
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e recsys.experiments;
BEGIN
	e := recsys._experiment(name, action => 'end it');
	PERFORM FROM recsys.experiments x WHERE x.name = e.name FOR UPDATE;
	e := recsys._experiment(name);
	PERFORM recsys._experiment_require_running(e, 'end');
	keep := coalesce(keep, e.control);
	IF NOT EXISTS (SELECT FROM jsonb_array_elements(e.variants) x WHERE x ->> 'name' = keep) THEN
		RAISE EXCEPTION 'keep "%" is not a variant of experiment "%"', keep, e.name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = format('Name one of its variants (%s), or leave keep NULL for the control.',
								(SELECT string_agg(x ->> 'name', ', ' ORDER BY o)
								 FROM jsonb_array_elements(e.variants) WITH ORDINALITY AS t(x, o)));
	END IF;
	UPDATE recsys.experiments x
	SET ended_at = now(), kept_variant = keep, changed_at = now()
	WHERE x.name = e.name
	RETURNING * INTO e;
	RETURN e;
END
$$;
COMMENT ON FUNCTION recsys.end_experiment(text, text) IS
	'end an experiment: serve the kept variant (default the control) to everyone, keep its log for the reports';

-- internal: a direct INSERT or UPDATE of an experiment's row (which
-- row-level security lets its owners make) is checked as alter_experiment checks its
-- arguments: the variants as _experiment_variants leaves them, the control
-- one of them, the allocation naming only them, and their models usable by
-- the (new) owner
CREATE FUNCTION recsys._experiments_write_check()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer;
BEGIN
	IF TG_OP = 'UPDATE' AND (NEW.variants, NEW.design, NEW.control, NEW.run_starts, NEW.run_variants, NEW.owner,
							 NEW.ended_at, NEW.kept_variant)
	   IS NOT DISTINCT FROM (OLD.variants, OLD.design, OLD.control, OLD.run_starts, OLD.run_variants, OLD.owner,
							 OLD.ended_at, OLD.kept_variant) THEN
		RETURN NEW;
	END IF;
	-- an ended experiment's variants, allocation and end stay as they were
	-- (its reports read them; the models of the variants it no longer
	-- serves may be gone): only its owner and the owners recorded of its
	-- models change, and only the kept variant is checked
	IF TG_OP = 'UPDATE' AND OLD.ended_at IS NOT NULL THEN
		IF (recsys._experiment_variants_stated(NEW.variants), NEW.design, NEW.control, NEW.run_starts,
			NEW.run_variants, NEW.ended_at, NEW.kept_variant)
		   IS DISTINCT FROM (recsys._experiment_variants_stated(OLD.variants), OLD.design, OLD.control,
							 OLD.run_starts, OLD.run_variants, OLD.ended_at, OLD.kept_variant) THEN
			PERFORM recsys._experiment_require_running(OLD, 'change');
		END IF;
		PERFORM recsys._experiment_check_models(NEW, recsys._experiment_served(NEW));
		RETURN NEW;
	END IF;
	-- (a new row's variants are checked without their models: see below)
	-- (the models' owners recorded in the variants, which
	-- _experiment_variants rewrites, are the row owner's to state)
	IF jsonb_typeof(NEW.variants) IS DISTINCT FROM 'array'
	   OR (TG_OP = 'UPDATE'
		   AND recsys._experiment_variants_stated(recsys._experiment_variants(NEW.variants, NEW.design))
			   IS DISTINCT FROM recsys._experiment_variants_stated(NEW.variants)) THEN
		RAISE EXCEPTION 'variants of experiment "%" are incomplete: %', NEW.name, NEW.variants
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Change them with recsys.alter_experiment.';
	END IF;
	n := jsonb_array_length(NEW.variants);
	IF NOT EXISTS (SELECT FROM jsonb_array_elements(NEW.variants) x WHERE x ->> 'name' = NEW.control)
	   OR EXISTS (SELECT FROM unnest(NEW.run_variants) v WHERE v IS NULL OR v < 0 OR v > n)
	   OR EXISTS (SELECT FROM unnest(NEW.run_starts) WITH ORDINALITY s(b, o)
				  WHERE b IS NULL OR b > 9999 OR b <= coalesce(NEW.run_starts[o - 1], -1)) THEN
		RAISE EXCEPTION 'control or bucket allocation of experiment "%" does not match its variants', NEW.name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Change them with recsys.alter_experiment.';
	END IF;
	IF NEW.kept_variant IS NOT NULL
	   AND NOT EXISTS (SELECT FROM jsonb_array_elements(NEW.variants) x WHERE x ->> 'name' = NEW.kept_variant) THEN
		RAISE EXCEPTION 'kept variant "%" of experiment "%" is not one of its variants', NEW.kept_variant, NEW.name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'End it with recsys.end_experiment.';
	END IF;
	-- the models of a new row are checked when it is served: a restore
	-- inserts experiments whatever order the models come back in (and
	-- its roles' OIDs are this cluster's: looked up by the names recorded)
	IF TG_OP = 'INSERT' THEN
		NEW.variants := recsys._experiment_variants_owner_oids(NEW.variants);
	ELSE
		PERFORM recsys._experiment_check_models(NEW, recsys._experiment_served(NEW));
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION recsys._experiments_write_check() IS
	'internal: check a direct INSERT or UPDATE of an experiment''s variants, control, allocation or owner';
CREATE TRIGGER experiments_write_check BEFORE INSERT OR UPDATE ON recsys.experiments
	FOR EACH ROW EXECUTE FUNCTION recsys._experiments_write_check();

CREATE FUNCTION recsys.drop_experiment(name text, if_exists boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF coalesce(if_exists, false)
	   AND NOT EXISTS (SELECT FROM recsys.experiments x WHERE x.name = drop_experiment.name) THEN
		RETURN;
	END IF;
	PERFORM recsys._experiment(name, action => 'drop it');
	-- (its impressions and outcomes go with it)
	DELETE FROM recsys.experiments x WHERE x.name = drop_experiment.name;
END
$$;
COMMENT ON FUNCTION recsys.drop_experiment(text, boolean) IS
	'drop an experiment with its impressions and outcomes';

-- internal: grant_experiment (give) and revoke_experiment (not give)
CREATE FUNCTION recsys._change_experiment_grant(experiment text, grantee text, give boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	role regrole;
BEGIN
	IF grantee IS NULL THEN
		RAISE EXCEPTION 'grantee must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._experiment(experiment,
							   action => CASE WHEN give THEN 'grant its use' ELSE 'revoke its use' END);
	role := recsys._role(grantee, 'grantee', true);
	UPDATE recsys.experiments x
	SET grantees = CASE WHEN give THEN x.grantees || role ELSE array_remove(x.grantees, role) END
	WHERE x.name = experiment AND (role = ANY (x.grantees)) <> give;
END
$$;
COMMENT ON FUNCTION recsys._change_experiment_grant(text, text, boolean) IS
	'internal: give or take back the use of an experiment';

CREATE FUNCTION recsys.grant_experiment(experiment text, grantee text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT recsys._change_experiment_grant(experiment, grantee, true) $$;
COMMENT ON FUNCTION recsys.grant_experiment(text, text) IS
	'give a role (or PUBLIC) the use of an experiment: serving it, logging its outcomes, reading its results';

CREATE FUNCTION recsys.revoke_experiment(experiment text, grantee text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT recsys._change_experiment_grant(experiment, grantee, false) $$;
COMMENT ON FUNCTION recsys.revoke_experiment(text, text) IS
	'take back the use of an experiment from a role (or PUBLIC)';

CREATE FUNCTION recsys.assign(experiment text, user_id bigint)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e recsys.experiments := recsys._experiment(experiment);
	i integer;
BEGIN
	IF user_id IS NULL THEN
		RETURN NULL;
	END IF;
	IF e.ended_at IS NOT NULL THEN
		RETURN e.kept_variant;
	END IF;
	-- (the variant index: 0 the holdout, i > 0 variants -> (i - 1))
	i := e.run_variants[width_bucket(recsys._experiment_bucket(e.salt, user_id), e.run_starts)];
	RETURN CASE WHEN i = 0 THEN 'holdout' ELSE e.variants -> (i - 1) ->> 'name' END;
END
$$;
COMMENT ON FUNCTION recsys.assign(text, bigint) IS
	'the variant of an experiment a user is assigned to (or ''holdout''): the same in every session and on every server';

-- internal: on a hot standby, where nothing can be logged, say once per
-- session how impressions should be logged
CREATE FUNCTION recsys._experiment_standby_notice()
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF current_setting('recsys_experiment.standby_noticed', true) IS DISTINCT FROM 'on' THEN
		PERFORM set_config('recsys_experiment.standby_noticed', 'on', false);
		RAISE NOTICE 'impressions are not logged on a hot standby'
			USING HINT = 'Log them from the application on the primary: INSERT INTO recsys.experiment_impressions '
						 '(experiment, variant, user_id, item_id, position) the rows served here, '
						 'or call this function there with log => true.';
	END IF;
END
$$;
COMMENT ON FUNCTION recsys._experiment_standby_notice() IS
	'internal: on a standby, tell once per session how to log impressions';

-- internal: log what a user was shown (no items: an exposure row)
CREATE FUNCTION recsys._log_impressions(experiment text, variants text[], user_id bigint, items bigint[])
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF pg_is_in_recovery() THEN
		PERFORM recsys._experiment_standby_notice();
	ELSIF cardinality(items) > 0 THEN
		INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position)
		SELECT experiment, v, user_id, i, p::integer
		FROM unnest(items, variants) WITH ORDINALITY AS u(i, v, p);
	ELSE
		INSERT INTO recsys.experiment_impressions (experiment, variant, user_id)
		VALUES (experiment, variants[1], user_id);
	END IF;
END
$$;
COMMENT ON FUNCTION recsys._log_impressions(text, text[], bigint, bigint[]) IS
	'internal: log the items shown to a user, with their variant, position and time';

CREATE FUNCTION recsys.recommend_for_experiment(
	experiment text,
	user_id bigint,
	k integer DEFAULT 10,
	candidates bigint[] DEFAULT NULL,
	log boolean DEFAULT true)
RETURNS TABLE (item_id bigint, score real, reason text, variant text, "position" integer)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER ROWS 10
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e recsys.experiments := recsys._experiment(experiment, 'ab');
	i integer;
	v jsonb;
	vname text;
	items bigint[];
	scores real[];
	reasons text[];
BEGIN
	IF user_id IS NULL OR k IS NULL OR log IS NULL THEN
		RAISE EXCEPTION 'user_id, k and log must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF e.ended_at IS NOT NULL THEN
		-- ended: everyone gets the kept variant, and nothing is logged (the
		-- comparison is over; its log stays as it was at the end)
		v := recsys._experiment_served(e) -> 0;
		log := false;
	ELSE
		i := e.run_variants[width_bucket(recsys._experiment_bucket(e.salt, user_id), e.run_starts)];
		v := CASE WHEN i = 0 THEN '{"name": "holdout"}' ELSE e.variants -> (i - 1) END;
	END IF;
	vname := v ->> 'name';
	PERFORM recsys._experiment_check_models(e, jsonb_build_array(v));
	IF v ->> 'model' IS NOT NULL THEN
		SELECT array_agg(r.item_id ORDER BY r.pos), array_agg(r.score ORDER BY r.pos),
			   array_agg(r.reason ORDER BY r.pos)
		INTO items, scores, reasons
		FROM recsys.recommend(user_id, k, v ->> 'model', coalesce((v ->> 'exclude_seen')::boolean, true),
							  candidates, coalesce((v ->> 'diversity')::real, 0), v ->> 'similarity_model')
			 WITH ORDINALITY AS r(item_id, score, reason, pos);
	ELSIF k < 1 OR k > 10000 THEN
		-- (recommend's own check, for a variant that shows nothing)
		RAISE EXCEPTION 'k must be between 1 and 10000, not %', k USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF log THEN
		PERFORM recsys._log_impressions(e.name, array_fill(vname, ARRAY[greatest(cardinality(items), 1)]),
										user_id, items);
	END IF;
	RETURN QUERY
	SELECT u.i, u.s, u.r, vname, u.p::integer
	FROM unnest(items, scores, reasons) WITH ORDINALITY AS u(i, s, r, p);
END
$$;
COMMENT ON FUNCTION recsys.recommend_for_experiment(text, bigint, integer, bigint[], boolean) IS
	'serve a user the variant of an A/B experiment it is assigned to, and log what was shown';

-- internal: a coin of the team draft, a function of (salt, user, round)
CREATE FUNCTION recsys._experiment_coin(salt text, user_id bigint, round integer)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT get_byte(sha256(convert_to(salt || ':' || user_id::text || ':' || round::text, 'UTF8')), 0) % 2 = 0 $$;
COMMENT ON FUNCTION recsys._experiment_coin(text, bigint, integer) IS
	'internal: a team-draft coin flip, the same on every server';

CREATE FUNCTION recsys.recommend_interleaved(
	experiment text,
	user_id bigint,
	k integer DEFAULT 10,
	candidates bigint[] DEFAULT NULL,
	log boolean DEFAULT true)
RETURNS TABLE (item_id bigint, "position" integer, team text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER ROWS 10
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e recsys.experiments := recsys._experiment(experiment, 'interleaving');
	va jsonb := e.variants -> 0;
	vb jsonb := e.variants -> 1;
	list_a bigint[];
	list_b bigint[];
	b_pos_of_a integer[];
	a_pos_of_b integer[];
	next_a integer := 1;
	next_b integer := 1;
	size_a integer := 0;
	size_b integer := 0;
	round integer := 0;
	a_turn boolean;
	items bigint[] := '{}';
	teams text[] := '{}';
BEGIN
	IF user_id IS NULL OR k IS NULL OR log IS NULL THEN
		RAISE EXCEPTION 'user_id, k and log must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._experiment_check_models(e, recsys._experiment_served(e));
	IF e.ended_at IS NOT NULL THEN
		-- ended: the kept variant's list alone, its team throughout, nothing logged
		va := recsys._experiment_served(e) -> 0;
		RETURN QUERY
		SELECT r.item_id, r.pos::integer, va ->> 'name'
		FROM recsys.recommend(user_id, k, va ->> 'model', coalesce((va ->> 'exclude_seen')::boolean, true),
							  candidates, coalesce((va ->> 'diversity')::real, 0), va ->> 'similarity_model')
			 WITH ORDINALITY AS r(item_id, score, reason, pos)
		ORDER BY r.pos;
		RETURN;
	END IF;
	list_a := ARRAY(SELECT r.item_id FROM recsys.recommend(user_id, k, va ->> 'model',
		coalesce((va ->> 'exclude_seen')::boolean, true), candidates, coalesce((va ->> 'diversity')::real, 0),
		va ->> 'similarity_model') WITH ORDINALITY AS r(item_id, score, reason, pos) ORDER BY r.pos);
	list_b := ARRAY(SELECT r.item_id FROM recsys.recommend(user_id, k, vb ->> 'model',
		coalesce((vb ->> 'exclude_seen')::boolean, true), candidates, coalesce((vb ->> 'diversity')::real, 0),
		vb ->> 'similarity_model') WITH ORDINALITY AS r(item_id, score, reason, pos) ORDER BY r.pos);
	-- team draft (Radlinski, Kurup and Joachims 2008; Chapelle et al. 2012):
	-- the team with fewer picks picks next, a coin decides between equals;
	-- a team picks its best item not yet shown.  The items shown are always
	-- list_a[1 : next_a - 1] and list_b[1 : next_b - 1] (a pointer moves past
	-- an item when its team picks it or it is shown already), so an item of
	-- one list is shown when it is in the other list before that list's
	-- pointer: each list's positions in the other, found once, make the test
	-- O(1) (= ANY (items) made the draft quadratic in k: 8 s at 10,000)
	b_pos_of_a := ARRAY(SELECT coalesce(y.o, 2147483647)::integer
						FROM unnest(list_a) WITH ORDINALITY x(i, o)
						LEFT JOIN unnest(list_b) WITH ORDINALITY y(i, o) ON y.i = x.i ORDER BY x.o);
	a_pos_of_b := ARRAY(SELECT coalesce(x.o, 2147483647)::integer
						FROM unnest(list_b) WITH ORDINALITY y(i, o)
						LEFT JOIN unnest(list_a) WITH ORDINALITY x(i, o) ON x.i = y.i ORDER BY y.o);
	LOOP
		WHILE next_a <= cardinality(list_a) AND b_pos_of_a[next_a] < next_b LOOP
			next_a := next_a + 1;
		END LOOP;
		WHILE next_b <= cardinality(list_b) AND a_pos_of_b[next_b] < next_a LOOP
			next_b := next_b + 1;
		END LOOP;
		EXIT WHEN cardinality(items) >= k OR (next_a > cardinality(list_a) AND next_b > cardinality(list_b));
		IF size_a <> size_b THEN
			a_turn := size_a < size_b;
		ELSE
			round := round + 1;
			a_turn := recsys._experiment_coin(e.salt, user_id, round);
		END IF;
		IF next_b > cardinality(list_b) OR (a_turn AND next_a <= cardinality(list_a)) THEN
			items := items || list_a[next_a];
			teams := teams || (va ->> 'name');
			size_a := size_a + 1;
			next_a := next_a + 1;
		ELSE
			items := items || list_b[next_b];
			teams := teams || (vb ->> 'name');
			size_b := size_b + 1;
			next_b := next_b + 1;
		END IF;
	END LOOP;
	IF log AND cardinality(items) > 0 THEN
		PERFORM recsys._log_impressions(e.name, teams, user_id, items);
	END IF;
	RETURN QUERY SELECT u.i, u.p::integer, u.t FROM unnest(items, teams) WITH ORDINALITY AS u(i, t, p);
END
$$;
COMMENT ON FUNCTION recsys.recommend_interleaved(text, bigint, integer, bigint[], boolean) IS
	'serve a user two models'' lists mixed by team-draft interleaving, and log which model contributed each item';

CREATE FUNCTION recsys.log_outcome(
	experiment text,
	user_id bigint,
	kind text DEFAULT 'conversion',
	item_id bigint DEFAULT NULL,
	amount double precision DEFAULT NULL,
	at timestamptz DEFAULT now())
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM recsys._experiment(experiment);
	IF user_id IS NULL OR kind IS NULL OR at IS NULL THEN
		RAISE EXCEPTION 'user_id, kind and at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF kind NOT IN ('click', 'conversion') THEN
		RAISE EXCEPTION 'kind must be ''click'' or ''conversion'', not %', quote_literal(kind)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF kind = 'click' AND item_id IS NULL THEN
		RAISE EXCEPTION 'a click needs the item_id clicked' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT isfinite(at) THEN
		RAISE EXCEPTION 'at must be a finite time, not %', at
			USING ERRCODE = 'invalid_parameter_value', HINT = 'at is when the user clicked or converted; now() by default.';
	END IF;
	IF NOT (amount >= 0 AND amount <= 1e12) THEN
		RAISE EXCEPTION 'amount must be between 0 and 1e12, not %', amount
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'amount is a conversion''s value, such as an order''s total in the shop''s currency.';
	END IF;
	INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, item_id, amount, at)
	VALUES (experiment, user_id, kind, item_id, amount, at);
END
$$;
COMMENT ON FUNCTION recsys.log_outcome(text, bigint, text, bigint, double precision, timestamptz) IS
	'log a click on a shown item or a conversion (with its amount) of an experiment''s user';

-- internal: each user of an experiment, in the variant of its first
-- exposure, with its impressions and attributed outcomes.  clicks are the
-- user's clicked impressions: a click on an item goes to the latest
-- impression of that item at or before it (within attribution), and an
-- impression counts once however many click rows it got (so a variant's
-- CTR is a proportion, at most 1: review s10, 3); a conversion counts when
-- it falls between the user's first exposure and its last plus attribution.
CREATE FUNCTION recsys._experiment_users(experiment text)
RETURNS TABLE (user_id bigint, variant text, first_at timestamptz, impressions bigint, clicks bigint,
			   converted_at timestamptz, revenue double precision)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH e AS (
		-- (an ended experiment: the impressions shown until its end)
		SELECT x.attribution, coalesce(x.ended_at, 'infinity') AS ended_at
		FROM recsys.experiments x WHERE x.name = experiment
	), per_user AS (
		SELECT i.user_id, (array_agg(i.variant ORDER BY i.shown_at, i.variant))[1] AS variant,
			   min(i.shown_at) AS first_at, max(i.shown_at) AS last_at, count(i.item_id) AS impressions,
			   count(i.item_id) FILTER (
				   WHERE EXISTS (SELECT FROM recsys.experiment_outcomes o
								 WHERE o.experiment = _experiment_users.experiment AND o.kind = 'click'
								   AND o.user_id = i.user_id AND o.item_id = i.item_id
								   AND o.at >= i.shown_at AND o.at <= i.shown_at + e.attribution
								   AND NOT EXISTS (SELECT FROM recsys.experiment_impressions j
												   WHERE j.experiment = _experiment_users.experiment
													 AND j.user_id = i.user_id AND j.item_id = i.item_id
													 AND j.shown_at > i.shown_at AND j.shown_at <= o.at
													 AND j.shown_at <= e.ended_at))) AS clicks
		FROM recsys.experiment_impressions i, e
		WHERE i.experiment = _experiment_users.experiment AND i.shown_at <= e.ended_at
		GROUP BY i.user_id
	), conversions AS (
		SELECT o.user_id, min(o.at) AS first_at, sum(o.amount) AS revenue
		FROM recsys.experiment_outcomes o JOIN per_user u ON u.user_id = o.user_id CROSS JOIN e
		WHERE o.experiment = _experiment_users.experiment AND o.kind = 'conversion'
		  AND o.at >= u.first_at AND o.at <= u.last_at + e.attribution
		GROUP BY o.user_id
	)
	SELECT u.user_id, u.variant, u.first_at, u.impressions, u.clicks, v.first_at, coalesce(v.revenue, 0)
	FROM per_user u
	LEFT JOIN conversions v ON v.user_id = u.user_id
$$;
COMMENT ON FUNCTION recsys._experiment_users(text) IS
	'internal: an experiment''s users with their variant, impressions and attributed outcomes';

-- internal: the users per arm at which the mSPRT (mixing N(0, tau^2))
-- would reject at alpha if the difference d held, with the difference's
-- variance unit_var / n at n users per arm: the smallest n on a grid of
-- steps of 2^(1/64) (1.1%) up to 2^40
CREATE FUNCTION recsys._msprt_users(d double precision, unit_var double precision, tau double precision,
									alpha double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT min(n) FROM (SELECT ceil(2 ^ (i / 64.0)) AS n FROM generate_series(0, 2560) i) g
	WHERE 0.5 * ln((unit_var / n) / (unit_var / n + tau ^ 2))
		  + tau ^ 2 * d ^ 2 / (2 * (unit_var / n) * (unit_var / n + tau ^ 2)) >= ln(1 / alpha)
$$;
COMMENT ON FUNCTION recsys._msprt_users(double precision, double precision, double precision, double precision) IS
	'internal: the users per arm the always-valid test needs to detect a difference';

CREATE FUNCTION recsys.experiment_results(
	experiment text,
	metric text DEFAULT 'conversion',
	alpha double precision DEFAULT 0.05,
	power double precision DEFAULT 0.8,
	sequential boolean DEFAULT true,
	tau double precision DEFAULT 0.01)
RETURNS TABLE (variant text, is_control boolean, users bigint, impressions bigint, clicks bigint,
			   ctr double precision, ctr_low double precision, ctr_high double precision, ctr_p double precision,
			   conversions bigint, conversion double precision, conversion_low double precision,
			   conversion_high double precision, conversion_p double precision,
			   revenue_per_user double precision, revenue_low double precision, revenue_high double precision,
			   revenue_p double precision,
			   p_always_valid double precision, mde double precision, verdict text)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e recsys.experiments := recsys._experiment(experiment);
	z double precision;
	zp double precision;
	has_revenue boolean;
	rev_sq double precision;
BEGIN
	IF metric IS NULL OR metric NOT IN ('ctr', 'conversion', 'revenue') THEN
		RAISE EXCEPTION 'metric must be ''ctr'', ''conversion'' or ''revenue'', not %',
			coalesce(quote_literal(metric), 'NULL') USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF alpha IS NULL OR NOT (alpha > 0 AND alpha < 0.5) THEN
		RAISE EXCEPTION 'alpha must be above 0 and below 0.5, not %', coalesce(alpha::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF power IS NULL OR NOT (power >= 0.5 AND power < 1) THEN
		RAISE EXCEPTION 'power must be at least 0.5 and below 1, not %', coalesce(power::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF sequential IS NULL THEN
		RAISE EXCEPTION 'sequential must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF tau IS NULL OR NOT (tau > 0 AND tau < 'infinity') THEN
		RAISE EXCEPTION 'tau must be a positive finite number, not %', coalesce(tau::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'tau is the size of difference you care about, in the metric''s units (default 0.01: 1 point).';
	END IF;
	-- (its square enters the mSPRT: 1e200 overflowed, 1e-200 underflowed,
	-- in a bare 22003 naming nothing: review s12, V2)
	IF tau < 1e-9 OR tau > 1e9 THEN
		RAISE EXCEPTION 'tau must be between 1e-9 and 1e9, not %', tau
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'tau is the size of difference you care about, in the metric''s units (default 0.01: 1 point).';
	END IF;
	IF e.design <> 'ab' THEN
		RAISE EXCEPTION 'experiment "%" is an interleaving experiment', e.name
			USING ERRCODE = 'wrong_object_type', HINT = 'Its results are recsys.interleaving_results.';
	END IF;
	z := recsys._norm_quantile(1 - alpha / 2);
	zp := recsys._norm_quantile(power);
	SELECT EXISTS (SELECT FROM recsys.experiment_outcomes o
				   WHERE o.experiment = e.name AND o.kind = 'conversion' AND o.amount IS NOT NULL)
	INTO has_revenue;
	-- the mean square revenue of a paying user, for the revenue floor below
	SELECT avg(x.revenue ^ 2) INTO rev_sq
	FROM recsys._experiment_users(e.name) x WHERE x.revenue <> 0;

	RETURN QUERY
	WITH u AS (
		SELECT * FROM recsys._experiment_users(e.name)
	), v AS (
		-- every variant, including one without users yet, and the holdout if any
		SELECT x ->> 'name' AS name, o AS ord FROM jsonb_array_elements(e.variants) WITH ORDINALITY t(x, o)
		UNION ALL
		SELECT 'holdout', 1000000 WHERE e.holdout > 0 OR EXISTS (SELECT FROM u WHERE u.variant = 'holdout')
	), agg AS (
		SELECT v.name, v.ord, count(u.user_id) AS n, coalesce(sum(u.impressions), 0)::bigint AS m,
			   coalesce(sum(u.clicks), 0)::bigint AS c, count(u.converted_at) AS x,
			   avg(u.revenue) AS rev, var_samp(u.revenue) AS rev_var0,
			   count(*) FILTER (WHERE u.revenue <> 0) AS xr
		FROM v LEFT JOIN u ON u.variant = v.name
		GROUP BY v.name, v.ord
	), ctr_var AS (
		-- the delta method for a ratio of per-user sums (clicks of a user
		-- are not independent): var(c - r m) / (n mean(m)^2)
		SELECT a.name, a.c::float8 / nullif(a.m, 0) AS r,
			   (SELECT var_samp(u.clicks - a.c::float8 / nullif(a.m, 0) * u.impressions)
				FROM u WHERE u.variant = a.name) / nullif(a.n * (a.m::float8 / nullif(a.n, 0)) ^ 2, 0) AS var
		FROM agg a
	), s AS (
		-- An arm without spread (every user alike: a rate of 0% or 100%, a
		-- single user) has no variance to estimate, and 0 would make any
		-- difference certain and the mde 0: its variance is then that of
		-- the rate (x + 1) / (n + 2) (Agresti and Caffo 2000), per user for
		-- conversion, per impression for CTR (clicked impressions / shown).
		-- Revenue without spread (2 users at 0 against 2 at 10 would be a
		-- certain +10) is a paying user's revenue times a 0/1 variable:
		-- its variance is that of (xr + 1) / (n + 2) times the mean square
		-- revenue of the experiment's paying users.  One user has no
		-- variance at all: NULL, "too few users".  Without a paying user
		-- (every amount 0, or none logged) revenue has no scale at all:
		-- NULL too, not a variance of 0 that would claim an interval of
		-- width 0 and an mde of 0 (review s11, 1).
		SELECT a.*, cv.r,
			   CASE WHEN a.rev_var0 = 0
					THEN (a.xr + 1.0) / (a.n + 2) * (1 - (a.xr + 1.0) / (a.n + 2)) * rev_sq
					ELSE a.rev_var0 END AS rev_var,
			   CASE WHEN a.m > 0 AND coalesce(cv.var, 0) = 0
					THEN (a.c + 1.0) / (a.m + 2) * (1 - (a.c + 1.0) / (a.m + 2)) / a.m
					ELSE cv.var END AS r_var,
			   a.x::float8 / nullif(a.n, 0) AS p,
			   CASE WHEN a.n > 0 AND (a.x = 0 OR a.x = a.n)
					THEN (a.x + 1.0) / (a.n + 2) * (1 - (a.x + 1.0) / (a.n + 2))
					ELSE a.x::float8 / nullif(a.n, 0) * (1 - a.x::float8 / nullif(a.n, 0)) END AS p_var,
			   a.name = e.control AS ctl
		FROM agg a JOIN ctr_var cv USING (name)
	), pair AS (
		SELECT s.*, c.n AS cn, c.x AS cx, c.p AS cp, c.p_var AS cp_var, c.r AS cr, c.r_var AS cr_var,
			   c.rev AS crev, c.rev_var AS crev_var,
			   (s.x + c.x)::float8 / nullif(s.n + c.n, 0) AS pooled
		FROM s CROSS JOIN (SELECT * FROM s WHERE s.ctl) c
	), tests AS (
		SELECT p.*,
			   -- conversion: two-proportion z (pooled variance)
			   CASE WHEN NOT p.ctl AND p.pooled > 0 AND p.pooled < 1 THEN
				   2 * recsys._norm_cdf(-abs(p.p - p.cp)
										/ sqrt(p.pooled * (1 - p.pooled) * (1.0 / nullif(p.n, 0) + 1.0 / nullif(p.cn, 0)))) END AS conv_p,
			   -- CTR: z with delta-method variances
			   CASE WHEN NOT p.ctl AND p.r_var + p.cr_var > 0 THEN
				   2 * recsys._norm_cdf(-abs(p.r - p.cr) / sqrt(p.r_var + p.cr_var)) END AS ctr_pv,
			   -- revenue per user: Welch's t (an arm without spread has
			   -- the floor above)
			   CASE WHEN NOT p.ctl AND has_revenue AND p.rev_var / p.n + p.crev_var / p.cn > 0 THEN
				   recsys._t_two_sided_p((p.rev - p.crev) / sqrt(p.rev_var / p.n + p.crev_var / p.cn),
					   (p.rev_var / p.n + p.crev_var / p.cn) ^ 2
					   / ((p.rev_var / p.n) ^ 2 / (p.n - 1) + (p.crev_var / p.cn) ^ 2 / (p.cn - 1)))
			   END AS rev_p,
			   -- the primary metric's difference and its unpooled variance
			   CASE metric WHEN 'conversion' THEN p.p - p.cp WHEN 'ctr' THEN p.r - p.cr
						   ELSE p.rev - p.crev END AS d,
			   CASE metric WHEN 'conversion' THEN p.p_var / nullif(p.n, 0) + p.cp_var / nullif(p.cn, 0)
						   WHEN 'ctr' THEN p.r_var + p.cr_var
						   ELSE p.rev_var / nullif(p.n, 0) + p.crev_var / nullif(p.cn, 0) END AS dv,
			   -- the variance of the difference at this size if there were none
			   CASE metric WHEN 'conversion' THEN p.cp_var * (1.0 / nullif(p.n, 0) + 1.0 / nullif(p.cn, 0))
						   WHEN 'ctr' THEN p.cr_var * (1 + p.cn::float8 / nullif(p.n, 0))
						   ELSE p.crev_var * (1.0 / nullif(p.n, 0) + 1.0 / nullif(p.cn, 0)) END AS dv0,
			   -- per-user variances of the two arms, for the users still needed
			   CASE metric WHEN 'conversion' THEN p.p_var + p.cp_var
						   WHEN 'ctr' THEN p.r_var * p.n + p.cr_var * p.cn
						   ELSE p.rev_var + p.crev_var END AS unit_var
		FROM pair p
	), seq AS (
		SELECT t.*,
			   -- the minimum detectable effect: none when the difference
			   -- has no variance to estimate, and none for a proportion when
			   -- it is 100 points or more (1 user per arm: no difference
			   -- of two rates is detectable at this size)
			   CASE WHEN NOT t.ctl AND (metric = 'revenue' OR (z + zp) * sqrt(t.dv0) < 1)
					THEN (z + zp) * sqrt(t.dv0) END AS mde,
			   -- always-valid p = min(1, 1 / Lambda), from ln Lambda: exp()
			   -- of a clear result's -ln Lambda would underflow (an error in
			   -- PostgreSQL), so p is 0 below 1e-300
			   CASE WHEN t.log_lambda > 690 THEN 0 WHEN t.log_lambda IS NOT NULL THEN least(1.0, exp(-t.log_lambda))
			   END AS pav,
			   CASE metric WHEN 'conversion' THEN t.conv_p WHEN 'ctr' THEN t.ctr_pv ELSE t.rev_p END AS pfixed
		FROM (SELECT t.*,
					 -- mSPRT with a normal mixture N(0, tau^2) (Johari et al. 2017);
					 -- Lambda grows without bound as V -> 0 with d <> 0
					 CASE WHEN NOT t.ctl AND t.dv > 0 THEN
						 0.5 * ln(t.dv / (t.dv + tau ^ 2)) + tau ^ 2 * t.d ^ 2 / (2 * t.dv * (t.dv + tau ^ 2))
						  WHEN NOT t.ctl AND t.dv = 0 AND t.d <> 0 THEN 'infinity'
					 END AS log_lambda
			  FROM tests t) t
	)
	SELECT q.name, q.ctl, q.n, q.m, q.c,
		   -- (no users: no interval, not [0, 1] from greatest() and least()
		   -- skipping a NULL)
		   q.r, CASE WHEN q.r IS NOT NULL THEN greatest(q.r - z * sqrt(q.r_var), 0) END,
		   CASE WHEN q.r IS NOT NULL THEN least(q.r + z * sqrt(q.r_var), 1) END, q.ctr_pv,
		   q.x, q.p,
		   -- Wilson's interval (exactly 0 at 0%, 1 at 100%: not 1 - 2e-16)
		   CASE WHEN q.n > 0 AND q.x = 0 THEN 0
				WHEN q.n > 0 THEN (q.p + z ^ 2 / (2 * q.n) - z * sqrt(q.p * (1 - q.p) / q.n + z ^ 2 / (4 * q.n ^ 2)))
								  / (1 + z ^ 2 / q.n) END,
		   CASE WHEN q.n > 0 AND q.x = q.n THEN 1
				WHEN q.n > 0 THEN (q.p + z ^ 2 / (2 * q.n) + z * sqrt(q.p * (1 - q.p) / q.n + z ^ 2 / (4 * q.n ^ 2)))
								  / (1 + z ^ 2 / q.n) END,
		   q.conv_p,
		   CASE WHEN has_revenue THEN q.rev END,
		   -- (amounts are at least 0)
		   CASE WHEN has_revenue AND q.rev_var IS NOT NULL THEN greatest(q.rev - z * sqrt(q.rev_var / q.n), 0) END,
		   CASE WHEN has_revenue THEN q.rev + z * sqrt(q.rev_var / q.n) END,
		   q.rev_p,
		   q.pav,
		   q.mde,
		   CASE
			   WHEN q.ctl THEN 'control'
			   WHEN q.n = 0 OR q.cn = 0 THEN 'no users yet'
			   WHEN metric = 'revenue' AND NOT has_revenue THEN 'no amounts logged: pass amount to log_outcome'
			   WHEN metric = 'revenue' AND rev_sq IS NULL THEN
				   'no revenue yet: every amount logged is 0, so revenue has no variance to estimate'
			   -- the fixed-horizon conversion test is the pooled z-test, whose
			   -- normal approximation needs at least 5 expected users with
			   -- and 5 without a conversion in each arm (Cochran's rule): 1
			   -- converted control user against 0 of 3 gave p = 0.0455, where
			   -- Fisher's exact p is 0.25 (review s12, V1)
			   WHEN NOT sequential AND metric = 'conversion' AND q.pfixed < alpha
					AND least(q.pooled * q.n, (1 - q.pooled) * q.n, q.pooled * q.cn, (1 - q.pooled) * q.cn) < 5 THEN
				   'not significant yet: too few users for the fixed-horizon test of conversion '
				   '(at least 5 expected users with and 5 without a conversion per arm)'
			   WHEN (CASE WHEN sequential THEN q.pav ELSE q.pfixed END) < alpha THEN
				   format('%s %s %s on %s (%s%s, p = %s%s)', q.name,
						  CASE WHEN q.d > 0 THEN 'beats' ELSE 'is worse than' END, e.control,
						  metric, CASE WHEN q.d > 0 THEN '+' ELSE '' END,
						  CASE WHEN metric = 'revenue' THEN round(q.d::numeric, 2)::text
							   ELSE round((100 * q.d)::numeric, 2)::text || ' points' END,
						  round((CASE WHEN sequential THEN q.pav ELSE q.pfixed END)::numeric, 4),
						  CASE WHEN sequential THEN ', always valid' ELSE '' END)
			   WHEN q.d IS NULL OR q.unit_var IS NULL OR q.dv0 IS NULL THEN
				   format('not significant yet: too few users to estimate %s''s variance (at least 2 per arm%s)',
						  metric, CASE WHEN metric = 'ctr' THEN ', with impressions' ELSE '' END)
			   WHEN q.d = 0 AND q.mde IS NULL THEN
				   'not significant yet: no difference seen; too few users to detect any at this size'
			   WHEN q.d = 0 THEN
				   format('not significant yet: no difference seen; detectable at this size: %s',
						  CASE WHEN metric = 'revenue' THEN round(q.mde::numeric, 2)::text
							   ELSE round((100 * q.mde)::numeric, 2)::text || ' points' END)
			   ELSE
				   format('not significant yet: about %s more users per arm needed (if the observed %s%s is real)',
						  -- the always-valid test needs more users than a
						  -- fixed-horizon one, whose n has power 1 - beta
						  coalesce(greatest(CASE WHEN sequential
												 THEN recsys._msprt_users(q.d, q.unit_var, tau, alpha)
												 ELSE ceil((z + zp) ^ 2 * q.unit_var / q.d ^ 2) END
											- least(q.n, q.cn), 1)::bigint::text, 'more than a trillion'),
						  CASE WHEN q.d > 0 THEN '+' ELSE '' END,
						  CASE WHEN metric = 'revenue' THEN round(q.d::numeric, 2)::text
							   ELSE round((100 * q.d)::numeric, 2)::text || ' points' END)
		   END
	FROM seq q
	ORDER BY q.ord;
END
$$;
COMMENT ON FUNCTION recsys.experiment_results(text, text, double precision, double precision, boolean, double precision) IS
	'an A/B experiment''s results per variant: users, CTR, conversion, revenue per user, intervals, p-values against control, MDE and a verdict';

CREATE FUNCTION recsys.experiment_daily(experiment text, alpha double precision DEFAULT 0.05)
RETURNS TABLE (variant text, day date, users bigint, conversions bigint, conversion double precision,
			   conversion_low double precision, conversion_high double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e recsys.experiments := recsys._experiment(experiment);
	z double precision;
	first_shown timestamptz;
	last_shown timestamptz;
	last_day timestamptz;
BEGIN
	IF alpha IS NULL OR NOT (alpha > 0 AND alpha < 0.5) THEN
		RAISE EXCEPTION 'alpha must be above 0 and below 0.5, not %', coalesce(alpha::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	z := recsys._norm_quantile(1 - alpha / 2);
	-- one row per variant and day: a span no experiment runs (an impression
	-- a grantee logged in the year 20000) would be millions of rows
	-- (the whole range of days below: impressions, and outcomes up to the
	-- last impression's attribution window; review s8, 5)
	SELECT min(i.shown_at), max(i.shown_at) INTO first_shown, last_shown
	FROM recsys.experiment_impressions i
	WHERE i.experiment = e.name AND i.shown_at <= coalesce(e.ended_at, 'infinity');
	last_day := greatest(last_shown,
						 least((SELECT max(o.at) FROM recsys.experiment_outcomes o WHERE o.experiment = e.name),
							   last_shown + e.attribution));
	IF last_day::date - first_shown::date > 3660 THEN
		RAISE EXCEPTION 'experiment "%" has impressions and outcomes over % days (% to %), more than experiment_daily reports (3660: ten years)',
			e.name, last_day::date - first_shown::date, to_char(first_shown, 'YYYY-MM-DD'), to_char(last_day, 'YYYY-MM-DD')
			USING ERRCODE = 'program_limit_exceeded',
				  HINT = 'Impressions and outcomes logged at impossible times (a wrong clock, a mistyped year) can be found with SELECT * FROM recsys.experiment_impressions (recsys.experiment_outcomes) WHERE experiment = '
						 || quote_literal(e.name) || ' ORDER BY shown_at (at), and deleted by the experiment''s owner.';
	END IF;
	RETURN QUERY
	WITH users AS (
		-- (the experiment's variants: not a grantee's row of another name)
		SELECT * FROM recsys._experiment_users(e.name) u
		WHERE u.variant IN (SELECT x ->> 'name' FROM jsonb_array_elements(e.variants) x UNION ALL SELECT 'holdout')
	), days AS (
		-- from the first exposure to the last impression or outcome, but
		-- no further than the last impression's attribution window: an
		-- outcome logged years ahead is no reason for as many days (as
		-- counted above; an ended experiment's impressions until its end)
		SELECT d::date AS day FROM generate_series(first_shown::date, last_day::date, '1 day') d
	), daily AS (
		-- users first exposed, and conversions, on each day
		SELECT x.variant, x.day, sum(x.dn)::bigint AS dn, sum(x.dx)::bigint AS dx
		FROM (SELECT u.variant, u.first_at::date AS day, 1 AS dn, 0 AS dx FROM users u
			  UNION ALL
			  SELECT u.variant, u.converted_at::date, 0, 1 FROM users u WHERE u.converted_at IS NOT NULL) x
		GROUP BY x.variant, x.day
	), cum AS (
		-- ... and before each day's end: running sums, linear in days + users
		SELECT g.variant, g.day, g.n, g.x
		FROM (SELECT v.variant, d.day,
					 (sum(coalesce(y.dn, 0)) OVER w)::bigint AS n, (sum(coalesce(y.dx, 0)) OVER w)::bigint AS x
			  FROM (SELECT DISTINCT u.variant FROM users u) v CROSS JOIN days d
			  LEFT JOIN daily y ON y.variant = v.variant AND y.day = d.day
			  WINDOW w AS (PARTITION BY v.variant ORDER BY d.day)) g
		WHERE g.n > 0
	)
	SELECT c.variant, c.day, c.n, c.x, c.x::float8 / c.n,
		   -- (exactly 0 at 0%, 1 at 100%, as in experiment_results)
		   CASE WHEN c.x = 0 THEN 0 ELSE (c.x::float8 / c.n + z ^ 2 / (2 * c.n) - z * sqrt(c.x::float8 / c.n * (1 - c.x::float8 / c.n) / c.n + z ^ 2 / (4 * c.n ^ 2)))
		   / (1 + z ^ 2 / c.n) END,
		   CASE WHEN c.x = c.n THEN 1 ELSE (c.x::float8 / c.n + z ^ 2 / (2 * c.n) + z * sqrt(c.x::float8 / c.n * (1 - c.x::float8 / c.n) / c.n + z ^ 2 / (4 * c.n ^ 2)))
		   / (1 + z ^ 2 / c.n) END
	FROM cum c
	ORDER BY c.variant, c.day;
END
$$;
COMMENT ON FUNCTION recsys.experiment_daily(text, double precision) IS
	'an A/B experiment''s cumulative conversion per variant and day, with its interval (rows for a plot)';

CREATE FUNCTION recsys.interleaving_results(experiment text, alpha double precision DEFAULT 0.05)
RETURNS TABLE (users bigint, users_clicking bigint, wins_a bigint, wins_b bigint, ties bigint,
			   clicks_a bigint, clicks_b bigint, preference double precision, p_value double precision,
			   verdict text)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e recsys.experiments := recsys._experiment(experiment, 'interleaving');
	a text := e.variants -> 0 ->> 'name';
	b text := e.variants -> 1 ->> 'name';
BEGIN
	IF alpha IS NULL OR NOT (alpha > 0 AND alpha < 0.5) THEN
		RAISE EXCEPTION 'alpha must be above 0 and below 0.5, not %', coalesce(alpha::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH credited AS (
		-- a click goes to the team that showed the item most recently
		-- before it; to neither when both teams showed it at that same
		-- time (two serves in one transaction, or rows logged by hand):
		-- no arbitrary winner (review s10, 10)
		SELECT o.user_id,
			   (SELECT CASE WHEN min(l.variant) = max(l.variant) THEN min(l.variant) END
				FROM (SELECT i.variant, rank() OVER (ORDER BY i.shown_at DESC) AS r
					  FROM recsys.experiment_impressions i
					  WHERE i.experiment = e.name AND i.user_id = o.user_id AND i.item_id = o.item_id
						AND i.variant IN (a, b) AND i.shown_at <= coalesce(e.ended_at, 'infinity')
						AND i.shown_at <= o.at AND o.at <= i.shown_at + e.attribution) l
				WHERE l.r = 1) AS team
		FROM recsys.experiment_outcomes o
		WHERE o.experiment = e.name AND o.kind = 'click'
	), per_user AS (
		SELECT c.user_id, count(*) FILTER (WHERE c.team = a) AS ca, count(*) FILTER (WHERE c.team = b) AS cb
		FROM credited c WHERE c.team IS NOT NULL GROUP BY c.user_id
	), t AS (
		-- (impressions of the two teams only: not a grantee's row of another name)
		SELECT (SELECT count(DISTINCT i.user_id) FROM recsys.experiment_impressions i
				WHERE i.experiment = e.name AND i.variant IN (a, b)
				  AND i.shown_at <= coalesce(e.ended_at, 'infinity')) AS n,
			   count(*) AS nc, count(*) FILTER (WHERE ca > cb) AS wa, count(*) FILTER (WHERE cb > ca) AS wb,
			   count(*) FILTER (WHERE ca = cb) AS ti, coalesce(sum(ca), 0)::bigint AS sa,
			   coalesce(sum(cb), 0)::bigint AS sb
		FROM per_user
	), p AS (
		-- the two-sided sign test on the users who preferred one team
		SELECT t.*, CASE WHEN t.wa + t.wb > 0 THEN
						 least(1.0, 2 * recsys._binom_cdf(least(t.wa, t.wb), t.wa + t.wb, 0.5)) END AS pv
		FROM t
	)
	SELECT p.n, p.nc, p.wa, p.wb, p.ti, p.sa, p.sb,
		   -- Chapelle et al.'s Delta: (wins - losses) / users with a click, for b over a
		   (p.wb - p.wa)::float8 / nullif(p.nc, 0), p.pv,
		   CASE
			   WHEN p.wa + p.wb = 0 THEN 'no preference seen yet: no user clicked one team more'
			   WHEN p.pv < alpha THEN format('%s beats %s (%s of %s users who preferred one, p = %s)',
											 CASE WHEN p.wb > p.wa THEN b ELSE a END,
											 CASE WHEN p.wb > p.wa THEN a ELSE b END,
											 greatest(p.wa, p.wb), p.wa + p.wb, round(p.pv::numeric, 4))
			   ELSE format('not significant yet (p = %s): %s %s, %s %s', round(p.pv::numeric, 4),
						   a, p.wa, b, p.wb)
		   END
	FROM p;
END
$$;
COMMENT ON FUNCTION recsys.interleaving_results(text, double precision) IS
	'an interleaving experiment''s results: users preferring each model''s items, the sign test and a verdict';

-------------------------------------------------------------------------------
-- Search: catalogs of products indexed for full-text search, and
-- personalised search over them (doc/reference.md, "Search")
--
-- A catalog is a name, like a model: recsys.catalogs holds its definition
-- (which table, columns, text search configuration), its corpus statistics
-- for BM25, the learned weights of the ranking, an owner and grantees;
-- recsys.catalog_docs one tsvector per product (GIN-indexed: the
-- candidates of a query), recsys.catalog_terms the document frequency of
-- every lexeme.  refresh_catalog rebuilds both from the product table,
-- read as the catalog's owner, in one transaction (version + 1).
-------------------------------------------------------------------------------

CREATE TABLE recsys.catalogs (
	name			text PRIMARY KEY
		CHECK (name <> '' AND length(name) <= 63),
	version			integer NOT NULL DEFAULT 1 CHECK (version > 0),
	source			text NOT NULL,
	id_col			name NOT NULL,
	text_cols		name[] NOT NULL,
	config			regconfig NOT NULL,
	embedding_col	name,
	n_items			bigint NOT NULL DEFAULT 0,
	avg_length		double precision NOT NULL DEFAULT 0,
	-- the ranking's weights over per-query normalised features: "personal"
	-- when the model knows the user, "anonymous" otherwise; tune_search
	-- learns them (the defaults are tune_search's on Online Retail)
	weights			jsonb NOT NULL DEFAULT
		'{"personal": {"text": 0.1, "personal": 1, "popularity": 1, "bought": -3},
		  "anonymous": {"text": 0.1, "popularity": 1}}',
	refreshed_at	timestamptz NOT NULL DEFAULT now(),
	owner			regrole NOT NULL
		DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)),
	grantees		regrole[] NOT NULL DEFAULT '{}',
	-- the role owning the source when it was indexed: refresh_catalog reads
	-- the relation under that name (as the catalog's owner) only while it is
	-- that role's (or the catalog owner's), not another role's put there since
	source_owner	name
);
COMMENT ON TABLE recsys.catalogs IS
	'recsys search catalogs: one row per indexed product table';

-- internal: what is wrong with a catalog's weights, NULL when nothing: an
-- object of weight sets ("personal", "anonymous"; "tuned" is tune_search's
-- record), each an object of search's features, each a JSON number 0 or
-- between 1e-6 and 1e6 in magnitude (tune_search's grid is -10..10): the
-- score, a real, then neither overflows nor underflows (review s10, 6)
CREATE FUNCTION recsys._catalog_weights_problem(weights jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	set_name text;
	weight_set jsonb;
	feature text;
	w jsonb;
BEGIN
	IF jsonb_typeof(weights) IS DISTINCT FROM 'object' THEN
		RETURN format('weights must be a JSON object, not %s', coalesce(jsonb_typeof(weights), 'NULL'));
	END IF;
	FOR set_name, weight_set IN SELECT * FROM jsonb_each(weights) LOOP
		CONTINUE WHEN set_name = 'tuned';
		IF set_name NOT IN ('personal', 'anonymous') THEN
			RETURN format('weights has a set %s, not one of personal, anonymous (and tuned)', quote_literal(set_name));
		END IF;
		IF jsonb_typeof(weight_set) <> 'object' THEN
			RETURN format('weights -> %s must be a JSON object of weights, not %s', set_name, weight_set);
		END IF;
		FOR feature, w IN SELECT * FROM jsonb_each(weight_set) LOOP
			IF feature NOT IN ('text', 'personal', 'popularity', 'bought', 'position', 'embedding') THEN
				RETURN format('weights -> %s has a weight %s, not one of text, personal, popularity, bought, position, embedding',
							  set_name, quote_literal(feature));
			END IF;
			IF jsonb_typeof(w) <> 'number' OR NOT (w::numeric = 0 OR abs(w::numeric) BETWEEN 1e-6 AND 1e6) THEN
				RETURN format('weight %s -> %s must be a number, 0 or between 1e-6 and 1e6 in magnitude, not %s',
							  set_name, feature, w);
			END IF;
		END LOOP;
	END LOOP;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION recsys._catalog_weights_problem(jsonb) IS
	'internal: what is wrong with a search catalog''s weights, or NULL';

-- internal: a direct INSERT or UPDATE of recsys.catalogs.weights (an owner
-- may change them by hand) is checked as it is written, not at every
-- search of every grantee
CREATE FUNCTION recsys._catalogs_weights_check()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	problem text := recsys._catalog_weights_problem(NEW.weights);
BEGIN
	IF problem IS NOT NULL THEN
		RAISE EXCEPTION 'catalog "%": %', NEW.name, problem
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example {"personal": {"text": 0.1, "personal": 1, "popularity": 1, "bought": -3}, "anonymous": {"text": 0.1, "popularity": 1}}; recsys.tune_search learns them.';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION recsys._catalogs_weights_check() IS
	'internal: refuse search weights that are not finite numbers in range';
CREATE TRIGGER catalogs_weights_check BEFORE INSERT OR UPDATE OF weights ON recsys.catalogs
	FOR EACH ROW EXECUTE FUNCTION recsys._catalogs_weights_check();

CREATE TABLE recsys.catalog_docs (
	catalog			text NOT NULL
		REFERENCES recsys.catalogs (name) ON DELETE CASCADE ON UPDATE CASCADE,
	item_id			bigint NOT NULL,
	doc				tsvector NOT NULL,
	length			integer NOT NULL,
	embedding		real[],
	PRIMARY KEY (catalog, item_id)
);
CREATE INDEX catalog_docs_doc ON recsys.catalog_docs USING gin (doc);
COMMENT ON TABLE recsys.catalog_docs IS
	'recsys search catalogs: every product''s text as a tsvector, its length in lexemes and its embedding';

CREATE TABLE recsys.catalog_terms (
	catalog			text NOT NULL
		REFERENCES recsys.catalogs (name) ON DELETE CASCADE ON UPDATE CASCADE,
	lexeme			text COLLATE "C" NOT NULL,
	df				integer NOT NULL,
	PRIMARY KEY (catalog, lexeme)
);
COMMENT ON TABLE recsys.catalog_terms IS
	'recsys search catalogs: every lexeme with the number of products that contain it';

-- as recsys.models: users see, owners write
ALTER TABLE recsys.catalogs ENABLE ROW LEVEL SECURITY;
CREATE POLICY catalog_users ON recsys.catalogs FOR SELECT
	USING (recsys._may_use(owner, grantees));
CREATE POLICY catalog_owners ON recsys.catalogs
	USING (recsys._owns(owner))
	WITH CHECK (recsys._owns(owner));
ALTER TABLE recsys.catalog_docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY catalog_users ON recsys.catalog_docs FOR SELECT
	USING (catalog IN (SELECT c.name FROM recsys.catalogs c));
CREATE POLICY catalog_owners ON recsys.catalog_docs
	USING (catalog IN (SELECT c.name FROM recsys.catalogs c WHERE recsys._owns(c.owner)))
	WITH CHECK (catalog IN (SELECT c.name FROM recsys.catalogs c WHERE recsys._owns(c.owner)));
ALTER TABLE recsys.catalog_terms ENABLE ROW LEVEL SECURITY;
CREATE POLICY catalog_users ON recsys.catalog_terms FOR SELECT
	USING (catalog IN (SELECT c.name FROM recsys.catalogs c));
CREATE POLICY catalog_owners ON recsys.catalog_terms
	USING (catalog IN (SELECT c.name FROM recsys.catalogs c WHERE recsys._owns(c.owner)))
	WITH CHECK (catalog IN (SELECT c.name FROM recsys.catalogs c WHERE recsys._owns(c.owner)));

SELECT pg_catalog.pg_extension_config_dump('recsys.catalogs', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.catalog_docs', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.catalog_terms', '');

-- internal: every row of a catalog's source (id, tsvector, embedding), read
-- as the catalog's owner in a security-restricted operation
CREATE FUNCTION recsys._catalog_source(catalog text)
RETURNS TABLE (item_id bigint, doc tsvector, embedding real[])
AS 'MODULE_PATHNAME', 'recsys_catalog_source'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._catalog_source(text) IS
	'internal: a catalog''s products as its owner reads them';

-- internal: a catalog's row, locked, after checking that the current role
-- may change it (22023 when it does not exist for this role, 42501 when it
-- may only use it)
CREATE FUNCTION recsys._lock_catalog(catalog text, action text)
RETURNS recsys.catalogs
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result recsys.catalogs;
BEGIN
	IF catalog IS NULL THEN
		RAISE EXCEPTION 'catalog must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT c.* INTO result FROM recsys.catalogs c WHERE c.name = _lock_catalog.catalog;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'catalog "%" does not exist', catalog
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Create it with recsys.index_catalog.';
	END IF;
	IF NOT recsys._owns(result.owner) THEN
		RAISE EXCEPTION 'must be owner of catalog "%" to % it', catalog, action
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	SELECT c.* INTO result FROM recsys.catalogs c WHERE c.name = _lock_catalog.catalog FOR UPDATE;
	RETURN result;
END
$$;
COMMENT ON FUNCTION recsys._lock_catalog(text, text) IS
	'internal: a catalog''s row, locked, once the current role is known to own it';

CREATE FUNCTION recsys.refresh_catalog(catalog text DEFAULT 'default')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cat recsys.catalogs;
	n bigint;
	n_ids bigint;
	n_distinct bigint;
	n_lengths bigint;
	not_finite bigint;
	null_element bigint;
	n_inserted bigint;
BEGIN
	PERFORM recsys._require_writable('recsys.refresh_catalog()');
	cat := recsys._lock_catalog(catalog, 'refresh');
	DELETE FROM recsys.catalog_terms t WHERE t.catalog = cat.name;
	DELETE FROM recsys.catalog_docs d WHERE d.catalog = cat.name;
	-- one read of the source, no temporary table (a role without TEMP on
	-- the database may refresh): the rows go in as they come, with their
	-- checks counted on the way; any failed check raises, which undoes
	-- the insert with the rest of the refresh
	WITH r AS MATERIALIZED (
		SELECT s.item_id, s.doc, s.embedding FROM recsys._catalog_source(cat.name) s
	), ins AS (
		INSERT INTO recsys.catalog_docs (catalog, item_id, doc, length, embedding)
		SELECT cat.name, r.item_id, r.doc,
			   (SELECT coalesce(sum(coalesce(array_length(u.positions, 1), 1)), 0) FROM unnest(r.doc) u),
			   r.embedding
		FROM r
		WHERE r.item_id IS NOT NULL
		ON CONFLICT DO NOTHING
		RETURNING 1
	)
	SELECT count(*), count(r.item_id), count(DISTINCT r.item_id),
		   count(DISTINCT coalesce(array_length(r.embedding, 1), 0)) FILTER (WHERE r.embedding IS NOT NULL),
		   min(r.item_id) FILTER (WHERE EXISTS (SELECT FROM unnest(r.embedding) e
												WHERE e IN ('NaN'::real, 'Infinity'::real, '-Infinity'::real))),
		   min(r.item_id) FILTER (WHERE array_position(r.embedding, NULL) IS NOT NULL),
		   (SELECT count(*) FROM ins)
	INTO n, n_ids, n_distinct, n_lengths, not_finite, null_element, n_inserted
	FROM r;
	IF n_ids < n THEN
		RAISE EXCEPTION 'column "%" of % is NULL in % rows', cat.id_col, cat.source, n - n_ids
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Every product needs an id; index a view that leaves such rows out.';
	END IF;
	IF n_distinct < n THEN
		RAISE EXCEPTION 'column "%" of % has % duplicate values', cat.id_col, cat.source, n - n_distinct
			USING ERRCODE = 'unique_violation',
				  HINT = 'Index a table or view with one row per product.';
	END IF;
	IF n_lengths > 1 THEN
		RAISE EXCEPTION 'the embeddings in column "%" of % differ in length', cat.embedding_col, cat.source
			USING ERRCODE = 'array_subscript_error',
				  HINT = 'Every product''s embedding must come from the same model (or be NULL).';
	END IF;
	IF not_finite IS NOT NULL THEN
		RAISE EXCEPTION 'the embedding in column "%" of % of item % holds NaN or an infinity',
			cat.embedding_col, cat.source, not_finite
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Every product''s embedding must hold finite numbers (or be NULL).';
	END IF;
	-- (search refuses them: one would fail every hybrid search)
	IF null_element IS NOT NULL THEN
		RAISE EXCEPTION 'the embedding in column "%" of % of item % holds a NULL element',
			cat.embedding_col, cat.source, null_element
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Every product''s embedding must hold finite numbers (or be NULL).';
	END IF;
	ASSERT n_inserted = n;
	INSERT INTO recsys.catalog_terms (catalog, lexeme, df)
	SELECT cat.name, u.lexeme, count(*)
	FROM recsys.catalog_docs d, unnest(d.doc) u
	WHERE d.catalog = cat.name
	GROUP BY u.lexeme;
	-- fresh statistics, so that the planner takes the GIN index for a
	-- query's matches (only the tables' owner may; autovacuum does it too)
	IF pg_has_role((SELECT r.relowner FROM pg_class r WHERE r.oid = 'recsys.catalog_docs'::regclass), 'USAGE') THEN
		ANALYZE recsys.catalog_docs, recsys.catalog_terms;
	END IF;
	UPDATE recsys.catalogs c
	SET version = c.version + 1, n_items = n, refreshed_at = now(),
		-- (the integer total over n in double, as the trigger keeps it)
		avg_length = coalesce((SELECT sum(d.length)::double precision / nullif(count(*), 0)
							   FROM recsys.catalog_docs d WHERE d.catalog = cat.name), 0)
	WHERE c.name = cat.name;
	RETURN n;
END
$$;
COMMENT ON FUNCTION recsys.refresh_catalog(text) IS
	'read a catalog''s product table again (as the catalog''s owner): new and changed products become searchable';

CREATE FUNCTION recsys.index_catalog(
	catalog regclass,
	id_col name DEFAULT 'item_id',
	text_cols name[] DEFAULT NULL,
	config regconfig DEFAULT 'english',
	name text DEFAULT 'default',
	embedding_col name DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	src_name text;
	src_owner name;
	cols name[] := text_cols;
	existing recsys.catalogs;
BEGIN
	PERFORM recsys._require_writable('recsys.index_catalog()');
	IF catalog IS NULL OR id_col IS NULL OR config IS NULL OR name IS NULL THEN
		RAISE EXCEPTION 'catalog, id_col, config and name must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT format('%I.%I', n.nspname, c.relname), pg_get_userbyid(c.relowner) INTO src_name, src_owner
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = catalog;
	IF cols IS NULL THEN
		-- every text column but the id, in table order
		SELECT array_agg(a.attname ORDER BY a.attnum) INTO cols
		FROM pg_attribute a
		WHERE a.attrelid = catalog AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> id_col
		  AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype);
		IF cols IS NULL THEN
			RAISE EXCEPTION 'relation % has no text column to index', catalog
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Name the columns to index as text_cols.';
		END IF;
	ELSIF cardinality(cols) = 0 OR array_position(cols, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'text_cols must name at least one column and no NULL'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT c.* INTO existing FROM recsys.catalogs c WHERE c.name = index_catalog.name;
	IF FOUND THEN
		PERFORM recsys._lock_catalog(index_catalog.name, 'index into');
		UPDATE recsys.catalogs c
		SET source = src_name, source_owner = src_owner,
			id_col = index_catalog.id_col, text_cols = cols,
			config = index_catalog.config, embedding_col = index_catalog.embedding_col
		WHERE c.name = index_catalog.name;
	ELSE
		BEGIN
			INSERT INTO recsys.catalogs (name, source, source_owner, id_col, text_cols, config, embedding_col)
			VALUES (index_catalog.name, src_name, src_owner, id_col, cols, config, embedding_col);
		EXCEPTION WHEN unique_violation THEN
			RAISE EXCEPTION 'catalog name "%" is taken by another role', index_catalog.name
				USING ERRCODE = 'insufficient_privilege',
					  HINT = 'Choose another name.';
		END;
	END IF;
	RETURN recsys.refresh_catalog(index_catalog.name);
END
$$;
COMMENT ON FUNCTION recsys.index_catalog(regclass, name, name[], regconfig, text, name) IS
	'index a product table for recsys.search: tsvectors, a GIN index and BM25 statistics, kept as catalog "name"';

-- internal: the trigger keeping a catalog current (src/search_sync.c)
CREATE FUNCTION recsys._catalog_sync()
RETURNS trigger
AS 'MODULE_PATHNAME', 'recsys_catalog_sync'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._catalog_sync() IS
	'internal: brings a search catalog up to date with its product table''s changed rows, as the catalog''s owner';

-- internal: whether a table has a unique index on one column alone, valid,
-- immediate, without predicate or expression (what catalog_trigger needs;
-- src/search_sync.c's has_unique_index checks the same when it fires)
CREATE FUNCTION recsys._catalog_unique_id(rel regclass, col name)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
				   WHERE i.indrelid = rel AND i.indisunique AND i.indimmediate AND i.indisvalid
					 AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = col)
$$;
COMMENT ON FUNCTION recsys._catalog_unique_id(regclass, name) IS
	'internal: whether a table has a unique index on this column alone (a catalog trigger needs one)';

-- keep a catalog current without refresh calls: triggers on its product
-- table index every inserted, updated or deleted product (and empty the
-- catalog on TRUNCATE) in the same transaction, as the catalog's owner
CREATE FUNCTION recsys.catalog_trigger(catalog text DEFAULT 'default', enabled boolean DEFAULT true)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cat recsys.catalogs;
	rel regclass;
	relowner oid;
	row_trigger name;
	truncate_trigger name;
	cols text;
BEGIN
	IF enabled IS NULL THEN
		RAISE EXCEPTION 'enabled must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	cat := recsys._lock_catalog(catalog, 'change the trigger of');
	rel := to_regclass(cat.source);
	-- names no two catalogs share, whatever their length (the trigger's
	-- argument names the catalog, and the trigger checks it)
	row_trigger := 'recsys_catalog_' || md5(cat.name);
	truncate_trigger := 'recsys_catalog_truncate_' || md5(cat.name);
	IF rel IS NULL THEN
		IF NOT enabled THEN
			RETURN false;	-- (dropping a catalog whose table is gone)
		END IF;
		RAISE EXCEPTION 'the source of catalog "%", relation %, no longer exists', cat.name, cat.source
			USING ERRCODE = 'undefined_table',
				  HINT = 'Index the product table again with recsys.index_catalog.';
	END IF;
	IF enabled THEN
		IF (SELECT c.relkind FROM pg_class c WHERE c.oid = rel) = 'p' THEN
			RAISE EXCEPTION 'catalog "%" indexes %, which is a partitioned table', cat.name, cat.source
				USING ERRCODE = 'wrong_object_type',
					  HINT = 'Its rows'' triggers fire on its partitions: refresh the catalog with recsys.refresh_catalog.';
		END IF;
		IF (SELECT c.relkind FROM pg_class c WHERE c.oid = rel) <> 'r' THEN
			RAISE EXCEPTION 'catalog "%" indexes %, which is not a table', cat.name, cat.source
				USING ERRCODE = 'wrong_object_type',
					  HINT = 'Only a table''s changes fire triggers: refresh a view''s catalog with recsys.refresh_catalog.';
		END IF;
		-- the trigger reads the table as the catalog's owner whenever the
		-- table's owner changes it: only a table owner with the catalog
		-- owner's rights may have that (else its policies run as another
		-- role), and only a role owning the table can switch it off again
		relowner := (SELECT c.relowner FROM pg_class c WHERE c.oid = rel);
		IF NOT pg_has_role(relowner, 'USAGE') THEN
			RAISE EXCEPTION 'must be owner of table % to keep catalog "%" current with a trigger', cat.source, cat.name
				USING ERRCODE = 'insufficient_privilege',
					  HINT = 'Refresh the catalog with recsys.refresh_catalog instead.';
		END IF;
		IF NOT pg_has_role(relowner, cat.owner, 'USAGE') THEN
			RAISE EXCEPTION 'the owner of table %, role "%", lacks the rights of role "%", the owner of catalog "%"',
				cat.source, relowner::regrole, cat.owner, cat.name
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = 'The trigger reads the table with the catalog owner''s rights whenever the table''s owner changes it.',
					  HINT = 'Refresh the catalog with recsys.refresh_catalog instead.';
		END IF;
		IF (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = cat.id_col AND NOT a.attisdropped)
		   NOT IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN
			RAISE EXCEPTION 'column "%" of % is of type %, not an integer type', cat.id_col, cat.source,
				(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
				 WHERE a.attrelid = rel AND a.attname = cat.id_col)
				USING ERRCODE = 'datatype_mismatch',
					  HINT = 'The trigger needs a smallint, integer or bigint id: refresh the catalog with recsys.refresh_catalog.';
		END IF;
		-- the trigger reads the row of the changed id as the catalog's owner
		-- and fails on two: without a unique index, a role that may only
		-- insert would learn from that failure whether an id it cannot read
		-- exists (review s10, 4).  With one, the table refuses the duplicate
		-- itself, as it refuses it to anyone.  The trigger's second argument,
		-- 'unique', has it check again whenever it fires (src/search_sync.c):
		-- the index dropped later, it refuses every write.
		IF NOT recsys._catalog_unique_id(rel, cat.id_col) THEN
			RAISE EXCEPTION 'catalog "%" needs a unique index on column "%" of % to be kept current by a trigger',
				cat.name, cat.id_col, cat.source
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = 'Without one, a role allowed only to insert products would learn from the trigger''s duplicate-id error whether an id it cannot read exists.',
					  HINT = format('Add one (ALTER TABLE %s ADD PRIMARY KEY (%I)), or refresh the catalog with recsys.refresh_catalog.',
									cat.source, cat.id_col);
		END IF;
	END IF;
	IF EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = rel AND t.tgname IN (row_trigger, truncate_trigger)) THEN
		EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', row_trigger, rel);
		EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', truncate_trigger, rel);
	END IF;
	IF enabled THEN
		-- an UPDATE of other columns (a price) changes nothing searchable
		SELECT string_agg(format('%I', c.col), ', ') INTO cols
		FROM unnest(cat.id_col || cat.text_cols || cat.embedding_col) c(col) WHERE c.col IS NOT NULL;
		EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OF %s OR DELETE ON %s '
					   'FOR EACH ROW EXECUTE FUNCTION recsys._catalog_sync(%L, ''unique'')', row_trigger, cols, rel, cat.name);
		EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s '
					   'FOR EACH STATEMENT EXECUTE FUNCTION recsys._catalog_sync(%L, ''unique'')',
					   truncate_trigger, rel, cat.name);
		-- from a fresh start: what changed before is in too
		PERFORM recsys.refresh_catalog(cat.name);
	END IF;
	RETURN enabled;
END
$$;
COMMENT ON FUNCTION recsys.catalog_trigger(text, boolean) IS
	'keep a search catalog current with triggers on its product table (enabled => false removes them)';

CREATE FUNCTION recsys.drop_catalog(catalog text, if_exists boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF catalog IS NULL OR if_exists IS NULL THEN
		RAISE EXCEPTION 'catalog and if_exists must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF if_exists AND NOT EXISTS (SELECT FROM recsys.catalogs c WHERE c.name = drop_catalog.catalog) THEN
		RETURN false;
	END IF;
	PERFORM recsys._lock_catalog(catalog, 'drop');
	BEGIN
		PERFORM recsys.catalog_trigger(catalog, false);
	EXCEPTION WHEN insufficient_privilege THEN
		-- (the table changed hands): its trigger does nothing once the
		-- catalog is gone, and its owner may drop it
		RAISE NOTICE 'the triggers of catalog "%" stay on its product table and do nothing: %', catalog, SQLERRM
			USING HINT = 'The table''s owner may drop them.';
	END;
	DELETE FROM recsys.catalogs c WHERE c.name = drop_catalog.catalog;
	RETURN true;
END
$$;
COMMENT ON FUNCTION recsys.drop_catalog(text, boolean) IS
	'drop a search catalog and its index (the product table stays)';

-- internal: grant_catalog (give) and revoke_catalog (not give)
CREATE FUNCTION recsys._change_catalog_grant(catalog text, grantee text, give boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	role regrole;
BEGIN
	IF grantee IS NULL THEN
		RAISE EXCEPTION 'grantee must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._lock_catalog(catalog, CASE WHEN give THEN 'grant use of' ELSE 'revoke use of' END);
	role := recsys._role(grantee, 'grantee', true);
	UPDATE recsys.catalogs c
	SET grantees = CASE WHEN give THEN c.grantees || role ELSE array_remove(c.grantees, role) END
	WHERE c.name = _change_catalog_grant.catalog AND (role = ANY (c.grantees)) <> give;
END
$$;
COMMENT ON FUNCTION recsys._change_catalog_grant(text, text, boolean) IS
	'internal: give or take back the use of a catalog';

CREATE FUNCTION recsys.grant_catalog(catalog text, grantee text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT recsys._change_catalog_grant(catalog, grantee, true) $$;
COMMENT ON FUNCTION recsys.grant_catalog(text, text) IS
	'give a role (or PUBLIC) the use of a search catalog';

CREATE FUNCTION recsys.revoke_catalog(catalog text, grantee text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT recsys._change_catalog_grant(catalog, grantee, false) $$;
COMMENT ON FUNCTION recsys.revoke_catalog(text, text) IS
	'take back the use of a search catalog from a role (or PUBLIC)';

-- internal: the cosine similarity of two embeddings (0 for a zero vector)
CREATE FUNCTION recsys._embedding_similarity(a real[], b real[])
RETURNS real
AS 'MODULE_PATHNAME', 'recsys_embedding_similarity'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._embedding_similarity(real[], real[]) IS
	'internal: cosine similarity of a product''s and a query''s embeddings';

-- internal: the model's items the user has in its source (those recommend
-- with exclude_seen leaves out, read the same way), for search's bought
CREATE FUNCTION recsys._seen_items(user_id bigint, model text)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'recsys_seen_items'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._seen_items(bigint, text) IS
	'internal: the model''s items a user has in its source, as recommend''s exclude_seen reads them';

-- internal: a search query's matches in a catalog (GIN), with BM25 over
-- terms and the lexemes prefixes complete, the model's user count of
-- each and where the query's words end in its text (the last position of
-- one over the text's last position); the best recsys.search_max_matches by both when more match (but
-- at least min_matches: search's k, plus the user's purchases when it
-- leaves them out)
CREATE FUNCTION recsys._search_matches(
	catalog text, tsq tsquery, terms text[], prefixes text[], n_items bigint,
	avg_length double precision, candidates bigint[], also bigint[], model text,
	min_matches integer,
	OUT ids bigint[], OUT bm25 double precision[], OUT n_users integer[], OUT positions real[])
AS 'MODULE_PATHNAME', 'recsys_search_matches'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._search_matches(text, tsquery, text[], text[], bigint, double precision, bigint[], bigint[], text, integer) IS
	'internal: a search query''s matches with their BM25, popularity and position';

-- internal: the ids of a catalog's products matching tsq that the caller
-- sees (NULL: none), through the GIN index also under row-level security,
-- where the caller's own plan cannot use it (src/search_match.c)
CREATE FUNCTION recsys._catalog_matches(catalog text, tsq tsquery)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'recsys_catalog_matches'
LANGUAGE C STABLE STRICT PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._catalog_matches(text, tsquery) IS
	'internal: the ids of a catalog''s products matching a tsquery that the caller sees';

-- internal: how catalog's products write a word as two (review s11, 2):
-- the split of word's letters into two words of 3 letters or more that
-- the most products hold side by side ("lunchbag": "lunch bag", where
-- products say LUNCH BAG), as {the two words, their lexemes}; NULL when
-- no product holds such a pair ("carpet": no product says "car pet") or
-- the word has more than 30 letters
CREATE FUNCTION recsys._search_split(catalog text, config regconfig, word text)
RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	-- bounded (review s11, R5): under row-level security the caller's
	-- plan cannot use catalog_docs' GIN index (@@ is not leakproof), so
	-- the products whose text may hold a pair are found by
	-- _catalog_matches (the index, read as the catalog's owner, then the
	-- caller's rows among them: s12), once for all positions.  Only words
	-- of at most 30 letters (27 positions), only the positions whose two
	-- halves are both lexemes of the catalog (an indexed equality:
	-- typically 0-2 positions), and no read of the products when no
	-- position qualifies
	-- (pos is materialised so that the halves' lexemes are computed once
	-- a position and reach catalog_terms' index as values: inlined, the
	-- planner compared every term with them, recomputed, 45,000 times)
	WITH pos AS MATERIALIZED (
		SELECT left(word, i) AS l, substr(word, i + 1) AS r,
			   (SELECT array_agg(u.lexeme) FROM unnest(to_tsvector(config, left(word, i))) u) AS al,
			   (SELECT array_agg(u.lexeme) FROM unnest(to_tsvector(config, substr(word, i + 1))) u) AS ar
		FROM generate_series(3, length(word) - 3) i
		WHERE length(word) <= 30),
	cand AS MATERIALIZED (
		SELECT p.l, p.r, p.al[1] AS al, p.ar[1] AS ar,
			   tsquery_phrase(quote_literal(p.al[1])::tsquery, quote_literal(p.ar[1])::tsquery) AS tq
		FROM pos p
		WHERE cardinality(p.al) = 1 AND cardinality(p.ar) = 1
		  AND EXISTS (SELECT FROM recsys.catalog_terms t
					  WHERE t.catalog = _search_split.catalog AND t.lexeme = p.al[1])
		  AND EXISTS (SELECT FROM recsys.catalog_terms t
					  WHERE t.catalog = _search_split.catalog AND t.lexeme = p.ar[1])),
	ids AS MATERIALIZED (
		SELECT recsys._catalog_matches(_search_split.catalog, string_agg(c.tq::text, ' | ')::tsquery) AS ids
		FROM cand c),
	docs AS MATERIALIZED (
		SELECT d.doc FROM recsys.catalog_docs d, ids
		WHERE d.catalog = _search_split.catalog AND d.item_id = ANY (ids.ids))
	SELECT ARRAY[c.l || ' ' || c.r, c.al, c.ar]
	FROM cand c
	CROSS JOIN LATERAL (SELECT count(*) AS n FROM docs d WHERE d.doc @@ c.tq) m
	WHERE m.n > 0
	ORDER BY m.n DESC, length(c.l) DESC
	LIMIT 1
$$;
COMMENT ON FUNCTION recsys._search_split(text, regconfig, text) IS
	'internal: the two words a catalog''s products write a one-word compound as, with their lexemes';

-- internal: the candidates of a query with their features, raw and
-- normalised to [0, 1] over the candidates (min-max; 0 when all are
-- equal).  Text: BM25 (k1 1.2, b 0.75) over the catalog's lexemes;
-- personal: the model's score through recommend (any kind), only when the
-- model knows the user; popularity: ln(1 + the model's users of the item);
-- bought: the user has the item in the model's source; position: where
-- the query's words end in the item's text (1: they end it, as a product
-- title's head noun does).  Items in also
-- (hybrid search's nearest embeddings) are candidates whatever their text.
-- top_k (search's k): the cap recsys.search_max_matches keeps at least top_k matches
-- (and the user's purchases besides, when exclude_purchased drops them).
CREATE FUNCTION recsys._search_features(
	query text, user_id bigint, model text, catalog text,
	candidates bigint[] DEFAULT NULL, exclude_purchased boolean DEFAULT false,
	also bigint[] DEFAULT NULL, top_k integer DEFAULT NULL)
RETURNS TABLE (item_id bigint, text_score real, personal_score real, popularity_score real,
			   bought boolean, text_n real, personal_n real, popularity_n real, position_n real)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
-- (a query of thousands of matches is estimated dear enough for JIT, whose
-- compilation, tens of milliseconds, costs more than the query itself)
SET jit = off
AS $$
DECLARE
	cat recsys.catalogs;
	model_version integer;
	tsq tsquery;
	tsq_text text;
	terms text[];
	prefixes text[] := '{}';
	last_lexeme text;
	lex text;
	fix text;
	compound text;
	held text[] := '{}';
	word text;
	held_words text[];
	splits integer := 0;	-- _search_split calls: each may read the catalog
	parts text[];
	joins text[];
	trgm text;
	ids bigint[];
	bm25s double precision[];
	users integer[];
	ends real[];
	known bigint[] := '{}';
	personal_ids bigint[] := '{}';
	personal_scores real[] := '{}';
	seen bigint[] := '{}';
	min_matches integer := coalesce(top_k, 0);
BEGIN
	IF query IS NULL OR catalog IS NULL THEN
		RAISE EXCEPTION 'query and catalog must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF length(query) > 1000 THEN
		RAISE EXCEPTION 'query must be at most 1000 characters long, not %', length(query)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass the words the shopper typed.';
	END IF;
	IF btrim(query, E' \t\r\n') = '' THEN
		RAISE EXCEPTION 'query must not be empty'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Show recsys.recommend''s items when the shopper has typed nothing.';
	END IF;
	SELECT c.* INTO cat FROM recsys.catalogs c WHERE c.name = _search_features.catalog;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'catalog "%" does not exist', catalog
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Create it with recsys.index_catalog (or ask its owner for recsys.grant_catalog).';
	END IF;
	IF model IS NOT NULL THEN
		SELECT m.version INTO model_version FROM recsys.models m WHERE m.name = _search_features.model;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'model "%" does not exist', model
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Pass model => NULL to search by text alone.';
		END IF;
	END IF;

	-- a hyphenated word is searched as the compound OR its parts (review
	-- s10, 7; review 2, 4): websearch_to_tsquery alone asks for the
	-- compound, which "lunch bag" does not hold.  A compound no product
	-- holds is replaced by its parts in the query text, as if typed with
	-- spaces (else the typo fix below would turn it into another word); a
	-- held one is kept and its parts OR-ed to it in the tsquery below.  A
	-- match is a whole hyphenated word ("tea-light" is not the head of
	-- "tea-light-holder").
	FOR compound IN SELECT DISTINCT m[1] FROM regexp_matches(query, '([[:alnum:]]+(-[[:alnum:]]+)+)', 'g') m LOOP
		IF EXISTS (SELECT FROM unnest(to_tsvector(cat.config, compound)) u
				   WHERE strpos(u.lexeme, '-') > 0
					 AND NOT EXISTS (SELECT FROM recsys.catalog_terms t
									 WHERE t.catalog = cat.name AND t.lexeme = u.lexeme)) THEN
			query := regexp_replace(query, '(?<![[:alnum:]-])' || compound || '(?![[:alnum:]-])',
									replace(compound, '-', ' '), 'g');
		ELSE
			held := held || compound;
		END IF;
	END LOOP;

	-- a compound written as one word or as two (review s11, 2): the
	-- catalog's own text is the evidence.  A word of 6 letters or more
	-- that the catalog does not hold, whose letters split into two words
	-- that products hold side by side (_search_split: "lunchbag", LUNCH
	-- BAG), is replaced by them in the query text, as if typed with a
	-- space (as a hyphenated compound no product holds, above), unless it
	-- is the last word, perhaps unfinished, and begins a word the catalog
	-- holds (the prefix below).  A word the catalog holds ("cakestand") is
	-- searched so as well only when the query matches nothing as typed
	-- (below); "carpet" is never "car pet": no product holds that.
	FOR word IN SELECT DISTINCT m[1] FROM regexp_matches(query, '(?<![[:alnum:]-])([[:alpha:]]{6,})(?![[:alnum:]-])', 'g') m LOOP
		lex := (SELECT u.lexeme FROM unnest(to_tsvector(cat.config, word)) u LIMIT 1);
		CONTINUE WHEN lex IS NULL;
		IF EXISTS (SELECT FROM recsys.catalog_terms t WHERE t.catalog = cat.name AND t.lexeme = lex) THEN
			held_words := held_words || ARRAY[ARRAY[word, lex]];
			CONTINUE;
		END IF;
		CONTINUE WHEN query ~ (word || '$')
				   AND EXISTS (SELECT FROM recsys.catalog_terms t
							   WHERE t.catalog = cat.name AND t.lexeme LIKE lex || '%');
		-- at most 4 words a query (R5: each may read the whole catalog; a
		-- query whose words all match has none of these)
		CONTINUE WHEN splits >= 4;
		splits := splits + 1;
		parts := recsys._search_split(cat.name, cat.config, word);
		IF parts IS NOT NULL THEN
			query := regexp_replace(query, '(?<![[:alnum:]-])' || word || '(?![[:alnum:]-])', parts[1], 'g');
		END IF;
	END LOOP;

	-- the query's lexemes; a query of stop words matches nothing
	SELECT array_agg(DISTINCT u.lexeme), (array_agg(u.lexeme ORDER BY u.positions[1] DESC))[1]
	INTO terms, last_lexeme
	FROM unnest(to_tsvector(cat.config, query)) u;
	IF terms IS NULL THEN
		RAISE NOTICE 'query "%" has only stop words: no item matches its text', left(query, 100);
		IF coalesce(cardinality(also), 0) = 0 THEN
			RETURN;
		END IF;
		terms := '{}';
	ELSE
		tsq_text := websearch_to_tsquery(cat.config, query)::text;
		FOREACH compound IN ARRAY held LOOP
			lex := websearch_to_tsquery(cat.config, compound)::text;
			fix := websearch_to_tsquery(cat.config, replace(compound, '-', ' '))::text;
			-- a part that is a stop word ("t" of "t-light") would leave a
			-- wider query ("light"): then the compound alone
			IF (SELECT count(*) FROM unnest(to_tsvector(cat.config, replace(compound, '-', ' '))) u,
									 unnest(u.positions) q)
			   = cardinality(string_to_array(compound, '-')) THEN
				tsq_text := replace(tsq_text, lex, format('( %s | %s )', lex, fix));
			END IF;
		END LOOP;
	END IF;

	-- words that match nothing: the last one typed may be unfinished (a
	-- prefix), any may be a typo (the catalog's most similar lexeme, when
	-- pg_trgm is installed)
	SELECT format('%I', n.nspname) INTO trgm
	FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
	WHERE e.extname = 'pg_trgm';
	FOREACH lex IN ARRAY terms LOOP
		CONTINUE WHEN EXISTS (SELECT FROM recsys.catalog_terms t
							  WHERE t.catalog = cat.name AND t.lexeme = lex);
		fix := NULL;
		IF lex = last_lexeme AND query !~ '[[:space:][:punct:]]$'
		   AND EXISTS (SELECT FROM recsys.catalog_terms t
					   WHERE t.catalog = cat.name AND t.lexeme LIKE replace(replace(replace(lex, '\', '\\'), '%', '\%'), '_', '\_') || '%') THEN
			prefixes := prefixes || lex;
			fix := quote_literal(lex) || ':*';
		ELSIF trgm IS NOT NULL THEN
			EXECUTE format('SELECT t.lexeme FROM recsys.catalog_terms t '
						   'WHERE t.catalog = $1 AND %1$s.similarity(t.lexeme, $2) >= 0.3 '
						   'ORDER BY %1$s.similarity(t.lexeme, $2) DESC, t.df DESC, t.lexeme LIMIT 1', trgm)
			INTO fix USING cat.name, lex;
			IF fix IS NOT NULL THEN
				terms := array_replace(terms, lex, fix);
				fix := quote_literal(fix);
			END IF;
		END IF;
		IF fix IS NOT NULL THEN
			tsq_text := replace(tsq_text, quote_literal(lex), fix);
		END IF;
	END LOOP;
	tsq := tsq_text::tsquery;	-- NULL (matches nothing) for stop words

	-- the matches (GIN), their BM25 and user counts, capped to the best
	-- recsys.search_max_matches by both for generic words (src/search_match.c),
	-- but never to fewer than k once the user's purchases are left out
	IF exclude_purchased AND top_k IS NOT NULL AND user_id IS NOT NULL AND model IS NOT NULL THEN
		min_matches := least(top_k::bigint + coalesce(cardinality(recsys._seen_items(user_id, model)), 0),
							 2147483647);
	END IF;
	LOOP
		SELECT m.ids, m.bm25, m.n_users, m.positions INTO ids, bm25s, users, ends
		FROM recsys._search_matches(cat.name, tsq, terms, prefixes, cat.n_items, cat.avg_length,
									candidates, CASE WHEN cardinality(also) > 0 THEN also END,
									model, min_matches) m;
		EXIT WHEN ids IS NOT NULL OR tsq IS NULL OR joins IS NOT NULL;
		-- nothing matched as typed: a compound's other form, once (a
		-- fallback, as the prefix and typo rules are for words that match
		-- nothing; OR-ed in always, it made the product-search set's
		-- queries as given rank worse, as their products spell them as
		-- typed: review s11, 2).  Two adjacent words ("lunch box") that some
		-- product holds as one ("LUNCHBOX") are searched as the two OR the
		-- compound; a word some product holds ("cakestand") OR its split
		-- that products hold side by side (_search_split: CAKE STAND).
		SELECT coalesce(array_agg(DISTINCT ARRAY[q.la[1], q.lb[1], q.lj[1]]), '{}')
		INTO joins
		FROM (SELECT w.tok AS a, lead(w.tok) OVER (ORDER BY w.ord) AS b
			  FROM regexp_split_to_table(btrim(query), '\s+') WITH ORDINALITY w(tok, ord)) p
		CROSS JOIN LATERAL (SELECT (SELECT array_agg(u.lexeme) FROM unnest(to_tsvector(cat.config, p.a)) u) AS la,
								   (SELECT array_agg(u.lexeme) FROM unnest(to_tsvector(cat.config, p.b)) u) AS lb,
								   (SELECT array_agg(u.lexeme) FROM unnest(to_tsvector(cat.config, p.a || p.b)) u) AS lj) q
		WHERE p.a ~ '^[[:alpha:]]+$' AND p.b ~ '^[[:alpha:]]+$'
		  AND cardinality(q.la) = 1 AND cardinality(q.lb) = 1 AND cardinality(q.lj) = 1
		  AND q.lj[1] NOT IN (q.la[1], q.lb[1])
		  AND EXISTS (SELECT FROM recsys.catalog_terms t WHERE t.catalog = cat.name AND t.lexeme = q.lj[1]);
		fix := tsq_text;
		FOR i IN 1 .. coalesce(array_length(joins, 1), 0) LOOP
			CONTINUE WHEN strpos(tsq_text, format('%L & %L', joins[i][1], joins[i][2])) = 0;
			tsq_text := replace(tsq_text, format('%L & %L', joins[i][1], joins[i][2]),
								format('( %L & %L | %L )', joins[i][1], joins[i][2], joins[i][3]));
			terms := terms || joins[i][3];
		END LOOP;
		FOR i IN 1 .. coalesce(array_length(held_words, 1), 0) LOOP
			CONTINUE WHEN strpos(tsq_text, quote_literal(held_words[i][2])) = 0 OR splits >= 4;
			splits := splits + 1;
			parts := recsys._search_split(cat.name, cat.config, held_words[i][1]);
			CONTINUE WHEN parts IS NULL;
			tsq_text := replace(tsq_text, quote_literal(held_words[i][2]),
								format('( %L | %L <-> %L )', held_words[i][2], parts[2], parts[3]));
			terms := terms || ARRAY[parts[2], parts[3]];
		END LOOP;
		EXIT WHEN tsq_text = fix;
		SELECT array_agg(DISTINCT t) INTO terms FROM unnest(terms) t;
		tsq := tsq_text::tsquery;
	END LOOP;
	IF ids IS NULL THEN
		RETURN;
	END IF;

	-- the model's scores of the candidates, when it knows the user (not a
	-- cold-start answer); the items it leaves out with exclude_seen were bought
	IF user_id IS NOT NULL AND model IS NOT NULL THEN
		SELECT coalesce(array_agg(r.item_id), '{}'),
			   coalesce(array_agg(r.item_id) FILTER (WHERE r.reason = 'personalised'), '{}'),
			   coalesce(array_agg(r.score) FILTER (WHERE r.reason = 'personalised'), '{}')
		INTO known, personal_ids, personal_scores
		FROM recsys.recommend(user_id, least(cardinality(ids), 10000), model, false, ids) r;
		IF cardinality(personal_ids) > 0 THEN
			-- the candidates the model knows that the user has (few)
			SELECT coalesce(array_agg(s.item_id), '{}') INTO seen
			FROM unnest(recsys._seen_items(user_id, model)) s(item_id)
			JOIN unnest(known) k(item_id) ON k.item_id = s.item_id;
		END IF;
	END IF;

	RETURN QUERY
	WITH f AS MATERIALIZED (
		SELECT c.item_id, c.bm25::real AS text_score, p.score AS personal_score,
			   c.n_users::real AS popularity_score,
			   (cardinality(personal_ids) > 0 AND c.item_id = ANY (seen)) AS bought,
			   c.bm25 AS x_text, p.score AS x_personal, ln(1 + c.n_users) AS x_pop,
			   c.position AS x_position
		FROM unnest(ids, bm25s, users, ends) c(item_id, bm25, n_users, position)
		LEFT JOIN unnest(personal_ids, personal_scores) p(item_id, score) ON p.item_id = c.item_id
	), m AS (
		-- the ranges of the features over the matches (an item the model
		-- does not score counts as its lowest score)
		SELECT min(f.x_text) AS text_lo, max(f.x_text) AS text_hi,
			   min(f.x_personal) AS personal_lo, max(f.x_personal) AS personal_hi,
			   min(f.x_pop) AS pop_lo, max(f.x_pop) AS pop_hi,
			   min(f.x_position) AS position_lo, max(f.x_position) AS position_hi
		FROM f
	)
	SELECT f.item_id, f.text_score, f.personal_score, f.popularity_score, f.bought,
		   coalesce((f.x_text - m.text_lo) / nullif(m.text_hi - m.text_lo, 0), 0)::real,
		   coalesce((coalesce(f.x_personal, m.personal_lo) - m.personal_lo) / nullif(m.personal_hi - m.personal_lo, 0), 0)::real,
		   coalesce((f.x_pop - m.pop_lo) / nullif(m.pop_hi - m.pop_lo, 0), 0)::real,
		   coalesce((f.x_position - m.position_lo) / nullif(m.position_hi - m.position_lo, 0), 0)::real
	FROM f, m
	WHERE NOT (exclude_purchased AND f.bought);
END
$$;
COMMENT ON FUNCTION recsys._search_features(text, bigint, text, text, bigint[], boolean, bigint[], integer) IS
	'internal: the items matching a search query, with the features search ranks them by';

-- internal: a catalog's ranking weights as search reads them (an owner
-- may edit the row; tune_search writes them), checked by the rule the
-- write trigger applies (_catalog_weights_problem): weights written past
-- it (before 0.11.0, or with triggers disabled) are damage (XX001), not
-- a cast's error or NaN scores ranked silently (a string "NaN" cast to
-- real)
CREATE FUNCTION recsys._catalog_weights(catalog text, weights jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	problem text := CASE WHEN weights IS NOT NULL THEN recsys._catalog_weights_problem(weights) END;
BEGIN
	IF problem IS NOT NULL THEN
		RAISE EXCEPTION 'catalog "%" is damaged: %', catalog, problem
			USING ERRCODE = 'data_corrupted',
				  DETAIL = 'search reads the objects "personal" and "anonymous" of recsys.catalogs.weights.',
				  HINT = 'Its owner may set valid weights (UPDATE recsys.catalogs SET weights = ...) or learn them with recsys.tune_search.';
	END IF;
	RETURN weights;
END
$$;
COMMENT ON FUNCTION recsys._catalog_weights(text, jsonb) IS
	'internal: a catalog''s weights, refused (XX001) when search cannot rank with them';

CREATE FUNCTION recsys.search(
	query text,
	user_id bigint DEFAULT NULL,
	k integer DEFAULT 10,
	model text DEFAULT 'default',
	catalog text DEFAULT 'default',
	candidates bigint[] DEFAULT NULL,
	exclude_purchased boolean DEFAULT false,
	query_embedding real[] DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real, text_score real, personal_score real, popularity_score real)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	weights jsonb;
	nearest bigint[];
BEGIN
	IF k IS NULL OR exclude_purchased IS NULL THEN
		RAISE EXCEPTION 'k and exclude_purchased must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k < 1 OR k > 10000 THEN
		RAISE EXCEPTION 'k must be between 1 and 10000, not %', k USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT recsys._catalog_weights(c.name, c.weights) INTO weights FROM recsys.catalogs c WHERE c.name = search.catalog;
	IF query_embedding IS NOT NULL THEN
		-- hybrid: the products nearest the query's embedding are candidates
		-- too; a query embedding holding NaN or an infinity is refused (22023)
		-- whether or not a product is compared with it
		PERFORM recsys._embedding_similarity(query_embedding, query_embedding);
		IF NOT EXISTS (SELECT FROM recsys.catalog_docs d
					   WHERE d.catalog = search.catalog AND d.embedding IS NOT NULL) THEN
			RAISE EXCEPTION 'catalog "%" has no embeddings', catalog
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Index it with embedding_col, or search without query_embedding.';
		END IF;
		-- an embedding of another length than the query's: the query's
		-- fault, unless the catalog's are not all one length (damage, XX001)
		IF EXISTS (SELECT FROM recsys.catalog_docs d
				   WHERE d.catalog = search.catalog AND d.embedding IS NOT NULL
					 AND cardinality(d.embedding) <> cardinality(query_embedding)) THEN
			PERFORM recsys._catalog_embedding_length(catalog);
		END IF;
		SELECT array_agg(v.item_id ORDER BY v.sim DESC, v.item_id) INTO nearest
		FROM (SELECT d.item_id, recsys._embedding_similarity(d.embedding, query_embedding) AS sim
			  FROM recsys.catalog_docs d
			  WHERE d.catalog = search.catalog AND d.embedding IS NOT NULL
				AND (candidates IS NULL OR d.item_id = ANY (candidates))
			  ORDER BY 2 DESC, 1
			  LIMIT greatest(k, 100)) v;
	END IF;
	RETURN QUERY
	WITH f AS (
		SELECT * FROM recsys._search_features(query, user_id, model, catalog, candidates, exclude_purchased,
											  coalesce(nearest, '{}'), k)
	), w AS (
		SELECT coalesce((x ->> 'text')::real, 0) AS text, coalesce((x ->> 'personal')::real, 0) AS personal,
			   coalesce((x ->> 'popularity')::real, 0) AS popularity, coalesce((x ->> 'bought')::real, 0) AS bought,
			   coalesce((x ->> 'position')::real, 0) AS position,
			   (x ->> 'embedding')::real AS embedding
		FROM (SELECT weights -> CASE WHEN EXISTS (SELECT FROM f WHERE f.personal_score IS NOT NULL)
									 THEN 'personal' ELSE 'anonymous' END AS x) s
	), ranked AS (
		SELECT f.item_id, f.text_score, f.personal_score, f.popularity_score,
			   (w.text * f.text_n + w.personal * f.personal_n + w.popularity * f.popularity_n
				+ w.bought * f.bought::integer + w.position * f.position_n)::real AS learned,
			   w.embedding,
			   -- the cosine similarity to the query's embedding, for a learned fusion
			   CASE WHEN nearest IS NOT NULL AND w.embedding IS NOT NULL
					THEN (SELECT recsys._embedding_similarity(d.embedding, query_embedding)
						  FROM recsys.catalog_docs d
						  WHERE d.catalog = search.catalog AND d.item_id = f.item_id) END AS sim
		FROM f, w
	), fused AS (
		-- with an embedding weight (tune_search learned it), the learned
		-- score plus it times the similarity, min-max normalised over the
		-- candidates (0 without an embedding); else reciprocal rank fusion
		-- (k = 60) of the learned ranking and the embedding's, when there
		-- is one; tied learned scores share their rank, so the item ids'
		-- order does not count as relevance
		SELECT r.*, CASE WHEN nearest IS NULL THEN r.learned
						 WHEN r.embedding IS NOT NULL
						 THEN (r.learned + r.embedding
							   * coalesce((r.sim - min(r.sim) OVER ())
										  / nullif(max(r.sim) OVER () - min(r.sim) OVER (), 0), 0)::real)::real
						 ELSE (1.0 / (60 + rank() OVER (ORDER BY r.learned DESC))
							   + coalesce(1.0 / (60 + array_position(nearest, r.item_id)), 0))::real END AS fused
		FROM ranked r
	)
	SELECT f.item_id, f.fused, f.text_score, f.personal_score, f.popularity_score
	FROM fused f
	ORDER BY 2 DESC, f.item_id
	LIMIT k;
END
$$;
COMMENT ON FUNCTION recsys.search(text, bigint, integer, text, text, bigint[], boolean, real[]) IS
	'personalised product search: the k items of a catalog matching a query, ranked by text relevance, the model''s score for the user and popularity';

-- internal: NDCG@10 of tune_search's rows under weights w (one per
-- feature: text, personal, popularity, bought, position, embedding), from the
-- feature differences of every competing candidate with the relevant
-- item (p_row, p_before: one element per pair; p_diff: cardinality(w)
-- differences per pair, pair after pair); ties go to the smaller
-- item_id, as in search.  Arrays, not a temporary table: a role without
-- TEMPORARY on the database tunes too; a loop in C (src/tune_search.c),
-- evaluated a few hundred times per tune_search.
CREATE FUNCTION recsys._search_ndcg(w real[], p_row bigint[], p_diff real[], p_before boolean[],
									n_alone bigint, n_rows bigint)
RETURNS double precision
AS 'MODULE_PATHNAME', 'recsys_search_ndcg'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys._search_ndcg(real[], bigint[], real[], boolean[], bigint, bigint) IS
	'internal: tune_search''s objective';

-- internal: tune_search's coordinate ascent from weights w over the
-- coordinates coords, each tried at every grid value in turn; a change is
-- kept only when it raises NDCG@10 (ties keep the earlier weights)
CREATE FUNCTION recsys._search_ascent(w real[], coords integer[], grid real[], p_row bigint[], p_diff real[],
									  p_before boolean[], n_alone bigint, n_rows bigint)
RETURNS real[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	best double precision := recsys._search_ndcg(w, p_row, p_diff, p_before, n_alone, n_rows);
	value double precision;
	trial real[];
	c integer;
	g real;
	changed boolean;
BEGIN
	FOR pass IN 1..4 LOOP
		changed := false;
		FOREACH c IN ARRAY coords LOOP
			FOREACH g IN ARRAY grid LOOP
				CONTINUE WHEN g = w[c];
				trial := w;
				trial[c] := g;
				value := recsys._search_ndcg(trial, p_row, p_diff, p_before, n_alone, n_rows);
				IF value > best + 1e-9 THEN
					best := value;
					w := trial;
					changed := true;
				END IF;
			END LOOP;
		END LOOP;
		EXIT WHEN NOT changed;
	END LOOP;
	RETURN w;
END
$$;
COMMENT ON FUNCTION recsys._search_ascent(real[], integer[], real[], bigint[], real[], boolean[], bigint, bigint) IS
	'internal: tune_search''s coordinate ascent';

-- internal: the length of a catalog's embeddings (NULL without any);
-- index_catalog made them all one length, so an item of another length
-- is damage (XX001, naming the item of the rarer length), not the query's fault
CREATE FUNCTION recsys._catalog_embedding_length(catalog text)
RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	lengths integer[];
	bad_item bigint;
BEGIN
	SELECT array_agg(l.len ORDER BY l.n DESC, l.len) INTO lengths
	FROM (SELECT coalesce(cardinality(d.embedding), 0) AS len, count(*) AS n
		  FROM recsys.catalog_docs d
		  WHERE d.catalog = _catalog_embedding_length.catalog AND d.embedding IS NOT NULL
		  GROUP BY 1) l;
	IF cardinality(lengths) > 1 THEN
		SELECT min(d.item_id) INTO bad_item FROM recsys.catalog_docs d
		WHERE d.catalog = _catalog_embedding_length.catalog AND d.embedding IS NOT NULL
		  AND coalesce(cardinality(d.embedding), 0) <> lengths[1];
		RAISE EXCEPTION 'catalog "%" is damaged: the embedding of item % has % dimensions, the others %',
			catalog, bad_item,
			(SELECT coalesce(cardinality(d.embedding), 0) FROM recsys.catalog_docs d
			 WHERE d.catalog = _catalog_embedding_length.catalog AND d.item_id = bad_item),
			lengths[1]
			USING ERRCODE = 'data_corrupted',
				  HINT = 'Rebuild it from its source with recsys.index_catalog.';
	END IF;
	RETURN lengths[1];
END
$$;
COMMENT ON FUNCTION recsys._catalog_embedding_length(text) IS
	'internal: the length of a catalog''s embeddings, refusing a damaged one';

CREATE FUNCTION recsys.tune_search(
	catalog text,
	source regclass,
	model text DEFAULT 'default',
	user_col name DEFAULT 'user_id',
	query_col name DEFAULT 'query',
	item_col name DEFAULT 'item_id',
	features text[] DEFAULT NULL,
	embedding_col name DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
-- (its one big query is estimated dear enough for JIT, which made it
-- 1.5-2x slower and cancel late by the compilation's seconds)
SET jit = off
AS $$
DECLARE
	cat recsys.catalogs;
	grid real[] := '{-10,-3,-1,-0.3,-0.1,0,0.03,0.1,0.3,1,3,10}';
	-- search's features, in the order of the weight vectors; the
	-- anonymous ranker has those that need no user; embedding (hybrid
	-- search's similarity to the query's embedding) only with embedding_col
	names text[] := '{text,personal,popularity,bought,position,embedding}';
	anonymous_names text[] := '{text,popularity,position,embedding}';
	query_embedding text := 'NULL::real[]';
	used text[];
	unknown text;
	col_type regtype;
	dims integer;
	bad_item bigint;
	bad_user bigint;
	bad_query text;
	bad_e text[];
	bad_value text;
	n_rows bigint;
	n_alone bigint;
	-- the pairs (a row, a competing candidate) as arrays
	p_row bigint[];
	p_diff real[];
	p_before boolean[];
	personal_w real[];
	personal_value double precision;
	anonymous_w real[];
	anonymous_value double precision;
	result jsonb;
BEGIN
	IF source IS NULL OR model IS NULL OR user_col IS NULL OR query_col IS NULL OR item_col IS NULL THEN
		RAISE EXCEPTION 'source, model, user_col, query_col and item_col must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	-- the features learned (the others keep weight 0: switched off)
	used := coalesce(features, CASE WHEN embedding_col IS NULL THEN names[1:5] ELSE names END);
	SELECT f INTO unknown FROM unnest(used) f WHERE f IS NULL OR NOT f = ANY (names) LIMIT 1;
	IF FOUND OR cardinality(used) = 0 THEN
		RAISE EXCEPTION 'features must name one or more of text, personal, popularity, bought, position, embedding, not %',
			coalesce(quote_literal(unknown), CASE WHEN cardinality(used) = 0 THEN 'none' ELSE 'NULL' END)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass features => NULL to learn them all.';
	END IF;
	IF array_ndims(used) > 1 THEN
		RAISE EXCEPTION 'features must be a one-dimensional array, not one of % dimensions', array_ndims(used)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass a list of feature names, such as ''{text,popularity}''.';
	END IF;
	SELECT f INTO unknown FROM unnest(used) f GROUP BY f HAVING count(*) > 1 ORDER BY f LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'features must name each feature once, not % twice', quote_literal(unknown)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF embedding_col IS NULL AND 'embedding' = ANY (used) THEN
		RAISE EXCEPTION 'features names embedding but embedding_col is NULL'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass embedding_col, the source''s column of the queries'' embeddings.';
	END IF;
	cat := recsys._lock_catalog(catalog, 'tune');
	-- the model, up front (a missing one is no case for text alone here)
	IF NOT EXISTS (SELECT FROM recsys.models m WHERE m.name = tune_search.model) THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass the model search will rank with (one of recsys.models, or ask its owner for recsys.grant_model).';
	END IF;
	IF embedding_col IS NOT NULL THEN
		SELECT a.atttypid INTO col_type FROM pg_attribute a
		WHERE a.attrelid = source AND a.attname = embedding_col AND a.attnum > 0 AND NOT a.attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'embedding_col "%" is not a column of %', embedding_col, source
				USING ERRCODE = 'undefined_column';
		END IF;
		IF col_type NOT IN ('real[]'::regtype, 'double precision[]'::regtype, 'numeric[]'::regtype,
							'smallint[]'::regtype, 'integer[]'::regtype, 'bigint[]'::regtype) THEN
			RAISE EXCEPTION 'embedding_col "%" of % must be an array of numbers such as real[], not %',
				embedding_col, source, col_type
				USING ERRCODE = 'datatype_mismatch',
					  HINT = 'Pass the column of the queries'' embeddings (real[] or double precision[]).';
		END IF;
		IF NOT EXISTS (SELECT FROM recsys.catalog_docs d WHERE d.catalog = cat.name AND d.embedding IS NOT NULL) THEN
			RAISE EXCEPTION 'catalog "%" has no embeddings', cat.name
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Index it with embedding_col, or tune without embedding_col.';
		END IF;
		dims := recsys._catalog_embedding_length(cat.name);
		query_embedding := format('(%I)::real[]', embedding_col);
		-- the searches' embeddings, checked here to name the row: one
		-- dimension of the catalog's length, finite numbers within real's
		-- range (NULL: none).  Read as text: the cast to real[] of a
		-- float8 1e300 or a numeric 1e40 would fail naming no row
		EXECUTE format('SELECT s.u, s.q, s.e FROM (SELECT (%I)::bigint AS u, (%I)::text AS q, (%I)::text[] AS e, '
					   '                              (%I)::bigint AS i FROM %s) s '
					   'WHERE s.e IS NOT NULL AND s.u IS NOT NULL AND s.i IS NOT NULL '
					   '  AND btrim(s.q) <> '''' AND length(s.q) <= 1000 '
					   '  AND (coalesce(array_ndims(s.e), 0) <> 1 OR cardinality(s.e) <> $1 '
					   '       OR array_position(s.e, NULL) IS NOT NULL '
					   '       OR EXISTS (SELECT FROM unnest(s.e) x '
					   '                  WHERE abs(x::numeric) > 3.4028234663852886e38 '
					   '                     OR (x::numeric <> 0 AND abs(x::numeric) < 1.401298464324817e-45))) '
					   'ORDER BY s.u, s.q LIMIT 1',
					   user_col, query_col, embedding_col, item_col, source)
			INTO bad_user, bad_query, bad_e USING dims;
		SELECT x INTO bad_value FROM unnest(bad_e) x
		WHERE abs(x::numeric) > 3.4028234663852886e38 OR (x::numeric <> 0 AND abs(x::numeric) < 1.401298464324817e-45)
		LIMIT 1;
		IF bad_e IS NOT NULL THEN
			RAISE EXCEPTION 'embedding_col "%" of % for user % and query % %', embedding_col, source, bad_user,
				quote_literal(left(bad_query, 100)),
				CASE WHEN coalesce(array_ndims(bad_e), 0) <> 1
					 THEN format('is an array of %s dimensions', coalesce(array_ndims(bad_e), 0))
					 WHEN cardinality(bad_e) <> dims
					 THEN format('has %s elements, the catalog''s embeddings %s', cardinality(bad_e), dims)
					 WHEN array_position(bad_e, NULL) IS NOT NULL THEN 'holds a NULL element'
					 WHEN bad_value::numeric IN ('NaN', 'Infinity', '-Infinity') THEN 'holds NaN or an infinity'
					 ELSE format('holds %s, outside real''s range (NaN or an infinity as a real)', left(bad_value, 40)) END
				USING ERRCODE = CASE WHEN coalesce(array_ndims(bad_e), 0) <> 1 OR cardinality(bad_e) <> dims
									 THEN 'array_subscript_error'
									 WHEN array_position(bad_e, NULL) IS NOT NULL THEN 'null_value_not_allowed'
									 ELSE 'invalid_parameter_value' END,
					  HINT = format('Each search''s embedding must be a one-dimensional array of %s finite numbers '
									'from the model that embedded the products, or NULL.', dims);
		END IF;
	END IF;
	-- one statement, its steps in CTEs (no temporary table: a role without
	-- TEMPORARY on the database tunes too): the searches' rows; every
	-- candidate of every distinct (user, query), with its features; each
	-- row ranks its item among the candidates of its (user, query), the
	-- items of the pair's other rows left out ("filtered": a shopper who
	-- bought two of them is not wrong to see either first); rows whose
	-- item is the only candidate left rank it first (n_alone).  A search
	-- is a (user, query, query embedding); with embeddings, the 100
	-- products nearest the query's are candidates too (as in search, k 10)
	-- and the embedding feature is the cosine similarity, min-max
	-- normalised over the search's candidates (0 without an embedding)
	EXECUTE format('WITH r AS MATERIALIZED ('
				   '  SELECT row_number() OVER (ORDER BY s.u, s.q, s.e, s.i) AS row_id, '
				   '         dense_rank() OVER (ORDER BY s.u, s.q, s.e) AS search_id, '
				   '         s.u AS user_id, s.q AS query, s.e, s.i AS item_id '
				   '  FROM (SELECT DISTINCT (%I)::bigint AS u, (%I)::text AS q, %s AS e, (%I)::bigint AS i FROM %s) s '
				   '  WHERE s.u IS NOT NULL AND s.i IS NOT NULL AND btrim(s.q) <> '''' AND length(s.q) <= 1000), '
				   'raw AS MATERIALIZED ('
				   '  SELECT q.search_id, f.item_id, f.text_n, f.personal_n, f.popularity_n, '
				   '         f.bought::integer::real AS bought, f.position_n, '
				   '         (SELECT recsys._embedding_similarity(d.embedding, q.e) FROM recsys.catalog_docs d '
				   '          WHERE q.e IS NOT NULL AND d.catalog = $2 AND d.item_id = f.item_id) AS sim '
				   '  FROM (SELECT DISTINCT r.search_id, r.user_id, r.query, r.e FROM r) q, '
				   '       LATERAL (SELECT array_agg(v.item_id ORDER BY v.sim DESC, v.item_id) AS ids '
				   '                FROM (SELECT d.item_id, recsys._embedding_similarity(d.embedding, q.e) AS sim '
				   '                      FROM recsys.catalog_docs d '
				   '                      WHERE q.e IS NOT NULL AND d.catalog = $2 AND d.embedding IS NOT NULL '
				   '                      ORDER BY 2 DESC, 1 LIMIT 100) v) n, '
				   '       LATERAL recsys._search_features(q.query, q.user_id, $1, $2, NULL, false, n.ids) f), '
				   'feats AS MATERIALIZED ('
				   '  SELECT x.*, coalesce((x.sim - min(x.sim) OVER w) '
				   '                       / nullif(max(x.sim) OVER w - min(x.sim) OVER w, 0), 0)::real AS embedding_n '
				   '  FROM raw x WINDOW w AS (PARTITION BY x.search_id)), '
				   'pairs AS MATERIALIZED ('
				   '  SELECT r.row_id, ARRAY[j.text_n - i.text_n, j.personal_n - i.personal_n, '
				   '         j.popularity_n - i.popularity_n, j.bought - i.bought, j.position_n - i.position_n, '
				   '         j.embedding_n - i.embedding_n] AS diff, '
				   '         j.item_id < i.item_id AS before '
				   '  FROM r '
				   '  JOIN feats i ON i.search_id = r.search_id AND i.item_id = r.item_id '
				   '  JOIN feats j ON j.search_id = r.search_id AND j.item_id <> r.item_id '
				   '  WHERE NOT EXISTS (SELECT FROM r o WHERE o.search_id = r.search_id AND o.item_id = j.item_id)) '
				   'SELECT (SELECT count(*) FROM r), '
				   '       (SELECT count(*) FROM r '
				   '        JOIN feats i ON i.search_id = r.search_id AND i.item_id = r.item_id '
				   '        WHERE NOT EXISTS (SELECT FROM pairs p WHERE p.row_id = r.row_id)), '
				   '       p.* '
				   'FROM (SELECT array_agg(row_id), array_agg(diff), array_agg(before) FROM pairs) p',
				   user_col, query_col, query_embedding, item_col, source)
		INTO n_rows, n_alone, p_row, p_diff, p_before
		USING model, cat.name;
	IF n_rows = 0 THEN
		RAISE EXCEPTION 'source % has no row with a user, a query and an item', source
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass a table of searches and the items bought after them.';
	END IF;

	-- coordinate ascent on NDCG@10 (Metzler and Croft's linear ranker):
	-- one weight at a time over a grid, the others fixed, until no change;
	-- from text 0.1, personal 1, popularity 1 (those used), the rest 0
	personal_w := ARRAY(SELECT CASE WHEN n = ANY (used) THEN s ELSE 0 END
						FROM unnest(names, '{0.1,1,1,0,0,0}'::real[]) u(n, s));
	personal_w := recsys._search_ascent(personal_w,
										ARRAY(SELECT o::integer FROM unnest(names) WITH ORDINALITY u(n, o)
											  WHERE n = ANY (used)),
										grid, p_row, p_diff, p_before, n_alone, n_rows);
	personal_value := recsys._search_ndcg(personal_w, p_row, p_diff, p_before, n_alone, n_rows);
	anonymous_w := ARRAY(SELECT CASE WHEN n = ANY (used) AND n = ANY (anonymous_names) THEN s ELSE 0 END
						 FROM unnest(names, '{0.1,0,1,0,0,0}'::real[]) u(n, s));
	anonymous_w := recsys._search_ascent(anonymous_w,
										 ARRAY(SELECT o::integer FROM unnest(names) WITH ORDINALITY u(n, o)
											   WHERE n = ANY (used) AND n = ANY (anonymous_names)),
										 grid, p_row, p_diff, p_before, n_alone, n_rows);
	anonymous_value := recsys._search_ndcg(anonymous_w, p_row, p_diff, p_before, n_alone, n_rows);

	-- (an embedding weight only when learned, embedding among the features:
	-- without one, search fuses the embedding's ranking by reciprocal rank)
	result := jsonb_build_object(
		'personal', jsonb_build_object('text', personal_w[1], 'personal', personal_w[2],
									   'popularity', personal_w[3], 'bought', personal_w[4],
									   'position', personal_w[5])
					|| CASE WHEN 'embedding' = ANY (used)
							THEN jsonb_build_object('embedding', personal_w[6]) ELSE '{}' END,
		'anonymous', jsonb_build_object('text', anonymous_w[1], 'popularity', anonymous_w[3],
										'position', anonymous_w[5])
					 || CASE WHEN 'embedding' = ANY (used)
							 THEN jsonb_build_object('embedding', anonymous_w[6]) ELSE '{}' END,
		'tuned', jsonb_build_object('model', model, 'source', source::text, 'rows', n_rows,
									'features', to_jsonb(used),
									'ndcg@10', round(personal_value::numeric, 4),
									'ndcg@10 anonymous', round(anonymous_value::numeric, 4)));
	UPDATE recsys.catalogs c SET weights = result WHERE c.name = cat.name;
	RETURN result;
END
$$;
COMMENT ON FUNCTION recsys.tune_search(text, regclass, text, name, name, name, text[], name) IS
	'learn search''s weights (text, personal score, popularity, bought before, position of the query''s words, embedding similarity) from searches and the items bought after them';

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
-- model of its seconds (train and evaluate: a fixed 0.1 s per candidate
-- for the catalog writes and evaluate's set-up, else the cheap families'
-- measured / modelled ratio overstates a loaded machine's slowness and
-- EASE's calibrated estimate; coefficients of the training
-- rows, of users + items, of items cubed and of validation users x items;
-- train_auto corrects them by what it measures).  The EASE families are
-- compact (keep 0.1: the tenth of the weights largest in magnitude, about
-- half the seconds of exact EASE, mostly less writing, for a validation
-- NDCG within a few thousandths of it); an EASE winner is retrained on
-- all the data exact when the budget left allows, else compact.  protocol is 'holdout'
-- or 'last'; time_col, weight_col and features are train_auto's (NULL when
-- not given).  A new trainer becomes a candidate by a row here.  An
-- optional family is tried only when train_auto's families names it
-- (BPR without stored users: as weak as BPR, and as slow).  lighter
-- (s17), when not NULL: fixed parameters that make the family cheaper
-- (fixed: they override the family's) and their cost model (cost), which
-- train_auto tries once, in the first round, when the family's standard
-- setting does not fit the budget, and then keeps for the family's other
-- trials: on a large source ALS with half the factors and iterations is
-- still a real model where the standard one left popularity alone; EASE
-- over the catalog's 8,000 most popular items (s18) one where the
-- standard one does not fit at all.
CREATE FUNCTION recsys._auto_families(protocol text, time_col name, weight_col name, features regclass)
RETURNS TABLE (family text, algorithm text, fixed jsonb, seeds jsonb, steps jsonb, cost jsonb, optional boolean,
			   lighter jsonb)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT f.family, f.algorithm, f.fixed, f.seeds, f.steps, f.cost, f.optional, f.lighter
	FROM (VALUES
		-- (the EASE families' lighter setting, s18: EASE over the catalog's
		-- 8,000 items with the most users alone, train_ease's max_items:
		-- the inversion and the matrix follow 8,000, not the catalog.
		-- Measured: on ml-latest-small's validation split 2,000 of 9,700
		-- items scored as the whole catalog, on online-retail's 2,000 of
		-- 3,600 0.7% lower; on 14.7M pairs over 100,000 items a fit of 12
		-- s and 10,000 users scored in 10 s, test NDCG@10 0.2608 against
		-- the lighter ALS's 0.2535; the cost model from those seconds, its
		-- rows term a twentieth of the standard one's, which the shared
		-- data sets' thousands of items per user set, plus the standard's
		-- in proportion to the share of the catalog kept (_auto_cost's
		-- rows_whole: at 8,001 items the capped fit is the standard one).
		-- Tried only when the catalog has more items than that)
		-- recency-weighted EASE: what comes next is like what came last
		(1, 'ease_recent', 'ease', protocol = 'last', false,
		 jsonb_build_object('time_col', time_col, 'keep', 0.1),
		 '[{"regularization": 500, "popularity_exponent": 0.25, "half_life": "30 days"},
		   {"regularization": 1000, "popularity_exponent": 0.25, "half_life": "60 days"}]'::jsonb,
		 '{"half_life": ["7 days", "15 days", "30 days", "60 days", "120 days", "240 days"],
		   "regularization": [250, 500, 1000, 2000, 4000],
		   "popularity_exponent": [0, 0.1, 0.25, 0.4]}'::jsonb,
		 '{"seconds": 0.1, "rows": 2e-5, "items3": 2e-11, "scores": 5e-7}'::jsonb,
		 '{"fixed": {"max_items": 8000},
		   "cost": {"seconds": 0.1, "rows": 1e-6, "rows_whole": 2e-5, "items3": 2e-11, "scores": 1.5e-7,
					"max_items": 8000}}'::jsonb),
		-- normalised EASE (user and popularity exponents, dropout)
		(2, 'ease', 'ease', true, false,
		 '{"keep": 0.1}'::jsonb,
		 '[{"regularization": 400, "user_exponent": 0.5, "popularity_exponent": 0.1, "dropout": 0.25},
		   {"regularization": 100, "user_exponent": 0.5, "popularity_exponent": 0.25, "dropout": 0.25}]'::jsonb,
		 '{"regularization": [50, 100, 200, 400, 800, 1600],
		   "popularity_exponent": [0, 0.1, 0.25, 0.4],
		   "user_exponent": [0, 0.25, 0.5, 0.75],
		   "dropout": [0, 0.1, 0.25, 0.5]}'::jsonb,
		 '{"seconds": 0.1, "rows": 2e-5, "items3": 2e-11, "scores": 5e-7}'::jsonb,
		 '{"fixed": {"max_items": 8000},
		   "cost": {"seconds": 0.1, "rows": 1e-6, "rows_whole": 2e-5, "items3": 2e-11, "scores": 1.5e-7,
					"max_items": 8000}}'::jsonb),
		-- EASE with the item features, when given (their weight searched)
		(3, 'ease_features', 'ease', features IS NOT NULL, false,
		 jsonb_build_object('features', features::text, 'keep', 0.1)
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
		 '{"seconds": 0.1, "rows": 4e-5, "items3": 2e-11, "scores": 5e-7}'::jsonb,
		 '{"fixed": {"max_items": 8000},
		   "cost": {"seconds": 0.1, "rows": 2e-6, "rows_whole": 4e-5, "items3": 2e-11, "scores": 1.5e-7,
					"max_items": 8000}}'::jsonb),
		-- implicit ALS with frequency-scaled regularisation (Rendle et al. 2022)
		(4, 'als', 'als', true, false,
		 '{"factors": 128, "iterations": 12, "regularization_exponent": 1}'::jsonb,
		 '[{"alpha": 10, "regularization": 0.01}, {"alpha": 20, "regularization": 0.005}]'::jsonb,
		 '{"alpha": [2.5, 5, 10, 20, 40], "regularization": [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]}'::jsonb,
		 '{"seconds": 0.1, "rows": 2e-6, "entities": 5e-5, "scores": 3e-8}'::jsonb,
		 -- (lighter: half the factors and half the iterations, tried when the
		 -- standard setting does not fit the budget; measured on 14.7M pairs: the fit
		 -- about a quarter of the standard's seconds, the scoring two thirds)
		 '{"fixed": {"factors": 64, "iterations": 6},
		   "cost": {"seconds": 0.1, "rows": 6e-7, "entities": 1e-5, "scores": 2e-8}}'::jsonb),
		-- ALS with the item features as pseudo-users, when given (their
		-- weight searched; items without buyers get vectors from them)
		(4, 'als_features', 'als', features IS NOT NULL, false,
		 jsonb_build_object('features', features::text, 'factors', 128, 'iterations', 12,
							'regularization_exponent', 1),
		 '[{"alpha": 10, "regularization": 0.01, "feature_weight": 1}]'::jsonb,
		 '{"feature_weight": [0.25, 0.5, 1, 2], "alpha": [2.5, 5, 10, 20, 40],
		   "regularization": [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]}'::jsonb,
		 '{"seconds": 0.1, "rows": 3e-6, "entities": 5e-5, "scores": 3e-8}'::jsonb, NULL::jsonb),
		-- item-kNN, BM25 weighting (recency-weighted on 'last'; with the
		-- item features, items without buyers get neighbour lists)
		(5, 'bm25', 'item_knn', true, false,
		 jsonb_build_object('similarity', 'bm25')
			 || CASE WHEN features IS NOT NULL THEN jsonb_build_object('features', features::text) ELSE '{}' END
			 || CASE WHEN weight_col IS NOT NULL THEN jsonb_build_object('weight_col', weight_col) ELSE '{}' END
			 || CASE WHEN protocol = 'last' THEN jsonb_build_object('time_col', time_col) ELSE '{}' END,
		 CASE WHEN protocol = 'last' THEN '[{"neighbors": 100, "half_life": "60 days"}]'::jsonb
			  ELSE '[{"neighbors": 50}, {"neighbors": 100}]'::jsonb END,
		 CASE WHEN protocol = 'last'
			  THEN '{"neighbors": [25, 50, 100, 200], "half_life": ["15 days", "30 days", "60 days", "120 days", "240 days"]}'::jsonb
			  ELSE '{"neighbors": [25, 50, 100, 200]}'::jsonb END,
		 '{"seconds": 0.1, "rows": 4e-6, "scores": 3e-8}'::jsonb, NULL::jsonb),
		-- the last basket: EASE scoring a user from his latest items
		-- (half-life one day, ages counted back from his latest
		-- interaction; the weights are EASE's, only the scoring reads
		-- times; the first seed's settings are ease_recent's).  What the
		-- 'last' split rewards on basket or session data: the items held
		-- out are the latest by time, mostly the rest of the latest
		-- basket or session, whose other items stay in the train part
		-- (doc/internals.md, "train_auto": the last basket).  Weak alone
		-- on a shop's invoices (a blend member beside recency-weighted
		-- EASE), the lead where a sitting has many items (films rated)
		(6, 'ease_basket', 'ease', protocol = 'last', false,
		 jsonb_build_object('time_col', time_col, 'keep', 0.1, 'half_life', '1 day'),
		 '[{"regularization": 500, "popularity_exponent": 0.25}]'::jsonb,
		 '{"regularization": [250, 500, 1000, 2000, 4000],
		   "popularity_exponent": [0, 0.1, 0.25, 0.4]}'::jsonb,
		 '{"seconds": 0.1, "rows": 2e-5, "items3": 2e-11, "scores": 5e-7}'::jsonb,
		 '{"fixed": {"max_items": 8000},
		   "cost": {"seconds": 0.1, "rows": 1e-6, "rows_whole": 2e-5, "items3": 2e-11, "scores": 1.5e-7,
					"max_items": 8000}}'::jsonb),
		-- BPR (weaker than the above on every shared split; last)
		(7, 'bpr', 'bpr', true, false,
		 '{"factors": 128, "iterations": 100}'::jsonb,
		 '[{"learning_rate": 0.05, "regularization": 0.01}, {"learning_rate": 0.1, "regularization": 0.01}]'::jsonb,
		 '{"learning_rate": [0.02, 0.05, 0.1], "regularization": [0.005, 0.01, 0.02]}'::jsonb,
		 '{"seconds": 0.1, "rows": 5e-5, "scores": 3e-8}'::jsonb, NULL::jsonb),
		-- BPR without stored user vectors (users folded in when served:
		-- new users' interactions count without a retraining)
		(8, 'bpr_folded', 'bpr', true, true,
		 '{"factors": 128, "iterations": 100, "store_users": false}'::jsonb,
		 '[{"learning_rate": 0.05, "regularization": 0.01}]'::jsonb,
		 '{"learning_rate": [0.02, 0.05, 0.1], "regularization": [0.005, 0.01, 0.02]}'::jsonb,
		 '{"seconds": 0.1, "rows": 5e-5, "scores": 6e-8}'::jsonb, NULL::jsonb),
		-- the baseline: a floor every other candidate must beat
		(9, 'popular', 'popular', true, false,
		 CASE WHEN protocol = 'last' THEN jsonb_build_object('time_col', time_col) ELSE '{}' END,
		 CASE WHEN protocol = 'last' THEN '[{"half_life": "30 days"}]'::jsonb ELSE '[{}]'::jsonb END,
		 CASE WHEN protocol = 'last' THEN '{"half_life": ["7 days", "30 days", "120 days"]}'::jsonb
			  ELSE '{}'::jsonb END,
		 '{"seconds": 0.1, "rows": 1e-6, "scores": 1e-8}'::jsonb, NULL::jsonb)
	) f(prior, family, algorithm, enabled, optional, fixed, seeds, steps, cost, lighter)
	WHERE f.enabled
	ORDER BY f.prior
$$;
COMMENT ON FUNCTION recsys._auto_families(text, name, name, regclass) IS
	'internal: the candidate families train_auto searches: algorithm, fixed parameters, seeds, search steps, cost model, lighter setting';

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
		-- (ctx's calibration_floor, when given: train_auto's lighter
		-- settings, s17)
		estimate := greatest(calibration, coalesce((ctx ->> 'calibration_floor')::double precision, 0))
					* recsys._auto_cost(cost, ctx);
	END IF;
	reserve := recsys._auto_reserve(family, params, estimate, blending, ctx);
	left_seconds := extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp());
	IF estimate + reserve > left_seconds THEN
		-- (metrics: the seconds the budget lacked, for the report's
		-- budget_short)
		INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, shown, metrics, status)
		VALUES (n, search_round, family, algorithm, params, coalesce(shown, params - ARRAY['user_col', 'item_col']),
				jsonb_build_object('short_seconds', estimate + reserve - greatest(left_seconds, 0)),
				format('skipped: estimated %s s, %s s of the budget left (%s s kept for what must follow: the matched splits, blends and the winner''s training on all the data)',
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

-- The seconds a train_auto trial must leave in the budget besides its own
-- estimate (see _auto_trial): the winner's and its blend partner's final
-- training on all the data and, while the search runs, three blend
-- evaluations (once another family than popularity has a model better
-- than popularity's: s17);
-- plus ctx's extra_reserve when given (the second round keeps time for
-- the checks and blends that follow it).
CREATE FUNCTION recsys._auto_reserve(family text, params jsonb, estimate double precision, blending boolean,
									 ctx jsonb)
RETURNS double precision
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- (a trial's seconds on the split to all the data's, plus a fifth)
	scale12 double precision := (ctx ->> 'scale')::double precision * 1.2;
	load double precision := recsys._auto_load_factor();
BEGIN
	-- kept for the end: training the winner and its blend partner on all
	-- the data (scaled by its size, plus a fifth), the two slowest of this
	-- candidate's family (the candidate may win it) and the two best
	-- other families' winners so far; and, while the search runs, three
	-- blend evaluations
	-- (compact EASE is retrained exact at the end: a trained one is kept
	-- for at its exact estimate, _auto_keep_seconds at this run's load
	-- factor, so that a loaded machine does not leave too little time, or
	-- once the family has fits on the repeated splits at their measured
	-- seconds, _auto_exact_seconds, s13, never below the compact
	-- retraining's, which the final falls back to, review s13 R4; a family's first trial at its
	-- compact one, so that EASE is tried at all, to be retrained compact if
	-- time runs short)
	RETURN coalesce((ctx ->> 'extra_reserve')::double precision, 0) + (
	SELECT coalesce(sum(x.seconds), 0) * scale12
		   + CASE WHEN blending
					   -- (ctx's no_blend_reserve: train_auto's lighter
					   -- settings, s17)
					   OR coalesce((ctx ->> 'no_blend_reserve')::boolean, false)
					   -- (no blend without another family's model: a family
					   -- trained alone so far keeps none, one trained later
					   -- keeps it then; popularity's model does not count:
					   -- the floor, a blend member only with time to spare.
					   -- On 14.7M pairs three evaluations of 10,000 users x
					   -- 100,000 items, 124 s, were kept for a blend of ALS and
					   -- popularity while ALS's second seed (validation 0.24
					   -- against its first's 0.06) did not fit; s17)
					   OR NOT EXISTS (SELECT FROM _recsys_auto_trials t
									  WHERE t.model IS NOT NULL AND t.family <> 'blend' AND t.value IS NOT NULL
										AND t.family <> _auto_reserve.family AND t.family <> 'popular'
										-- (nor a model no better than
										-- popularity's, when scored: a
										-- member below the floor)
										AND t.value > coalesce((SELECT max(p.value) FROM _recsys_auto_trials p
																WHERE p.family = 'popular'), '-Infinity'))
				  THEN 0
				  ELSE 3 * coalesce((SELECT sum(b.eval_seconds)
									 FROM (SELECT t.eval_seconds FROM _recsys_auto_trials t
										   WHERE t.model IS NOT NULL AND t.family <> 'blend' AND t.value IS NOT NULL
										   ORDER BY t.value DESC LIMIT 2) b), 0) END
	FROM (SELECT c.seconds FROM
			(SELECT b.train_seconds AS seconds
			 FROM (SELECT CASE WHEN t.params ? 'keep'
							   THEN greatest(coalesce(recsys._auto_exact_seconds(t.family, ctx),
													  recsys._auto_keep_seconds(t.train_seconds * scale12, 1,
																				recsys._auto_capped_ctx(t.params, ctx), load)),
											 t.train_seconds * scale12) / scale12
							   ELSE t.train_seconds END AS train_seconds
				   FROM _recsys_auto_trials t
				   WHERE t.model IS NOT NULL AND t.family <> 'blend' AND t.value IS NOT NULL
					 AND (blending OR t.family <> _auto_reserve.family)
				   ORDER BY t.value DESC LIMIT 2) b
			 UNION ALL
			 SELECT CASE WHEN params ? 'keep' AND EXISTS (SELECT FROM _recsys_auto_trials t
														  WHERE t.model IS NOT NULL AND t.family = _auto_reserve.family)
						 THEN greatest(coalesce(recsys._auto_exact_seconds(_auto_reserve.family, ctx),
												recsys._auto_keep_seconds(e.seconds * scale12, 1,
																		  recsys._auto_capped_ctx(params, ctx), load)),
									   e.seconds * scale12) / scale12
						 ELSE e.seconds END
			 FROM (SELECT greatest(estimate, (SELECT t.train_seconds FROM _recsys_auto_trials t
											  WHERE t.model IS NOT NULL AND t.family = _auto_reserve.family)) AS seconds) e
			 WHERE NOT blending) c
		  ORDER BY c.seconds DESC LIMIT 2) x);
END
$$;
COMMENT ON FUNCTION recsys._auto_reserve(text, jsonb, double precision, boolean, jsonb) IS
	'internal: the seconds a train_auto trial leaves for what must follow it';

-- A family's modelled seconds for the split's sizes (see _auto_families;
-- cost's max_items, when given, caps the items of the cubic and scoring
-- terms: EASE over the most popular items alone; its rows_whole, the
-- rows coefficient of the whole catalog, then weighs in by the share of
-- the items kept).
CREATE FUNCTION recsys._auto_cost(cost jsonb, ctx jsonb)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce((cost ->> 'seconds')::double precision, 0)
		   + (coalesce((cost ->> 'rows')::double precision, 0)
			  -- (a capped cost's rows_whole, the standard setting's rows
			  -- coefficient, weighs as much as the cap keeps of the
			  -- catalog: at 8,001 items the capped fit is the standard
			  -- one, and so is its cost; review s18 R2)
			  + coalesce((cost ->> 'rows_whole')::double precision - (cost ->> 'rows')::double precision, 0)
				* m.items / greatest((ctx ->> 'items')::double precision, 1))
			 * (ctx ->> 'rows')::double precision
		   + coalesce((cost ->> 'entities')::double precision, 0)
			 * ((ctx ->> 'users')::double precision + (ctx ->> 'items')::double precision)
		   + coalesce((cost ->> 'items3')::double precision, 0) * power(m.items, 3)
		   + coalesce((cost ->> 'scores')::double precision, 0)
			 * (ctx ->> 'valid_users')::double precision * m.items
	-- (the items modelled: a setting's max_items caps them, s18)
	FROM (SELECT least((ctx ->> 'items')::double precision,
					   coalesce((cost ->> 'max_items')::double precision, 'Infinity')) AS items) m
$$;
COMMENT ON FUNCTION recsys._auto_cost(jsonb, jsonb) IS
	'internal: a train_auto family''s modelled seconds for a split''s sizes';

-- This run's load factor: the median ratio of measured to modelled
-- seconds of the candidates trained so far (those modelled at a tenth of
-- a second or more: below, fixed costs dominate; blends, modelled from
-- measured seconds, left out), at least 1 and at most 8 (the machine's
-- load over its cores reaches about that).  The cost models'
-- coefficients were measured on the project's machine, so the ratio says
-- how much slower this machine is now than then; it scales what no
-- measurement of this run covers yet (an exact EASE model's writing).
-- 1 before any trial.  (Parallel restricted: it reads a temporary table.)
CREATE FUNCTION recsys._auto_load_factor()
RETURNS double precision
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN least(8, greatest(1, coalesce(
		(SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY (t.train_seconds + t.eval_seconds) / t.modelled)
		 FROM _recsys_auto_trials t
		 WHERE t.train_seconds IS NOT NULL AND t.modelled >= 0.1 AND t.family <> 'blend'), 1)));
END
$$;
COMMENT ON FUNCTION recsys._auto_load_factor() IS
	'internal: train_auto''s load factor, measured over modelled seconds so far (1 to 8)';

-- ctx for an EASE setting's writing (s18): with max_items below the
-- catalogue's items, ease_write_exact (the exact model's weights, the
-- catalogue's items squared) for the items it models; else ctx as it is.
CREATE FUNCTION recsys._auto_capped_ctx(params jsonb, ctx jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN (params ->> 'max_items')::double precision < (ctx ->> 'all_items')::double precision
				THEN ctx || jsonb_build_object('ease_write_exact', (ctx ->> 'ease_write_exact')::double precision
											   * power((params ->> 'max_items')::double precision
													   / (ctx ->> 'all_items')::double precision, 2))
				ELSE ctx END
$$;
COMMENT ON FUNCTION recsys._auto_capped_ctx(jsonb, jsonb) IS
	'internal: train_auto''s ctx with an EASE setting''s exact writing for the items it models (max_items)';

-- The estimated seconds of retraining an EASE model with a given keep
-- (0.1 to 1, 1 exact) from a compact (keep 0.1) model's seconds, both
-- for all the data: the solve is the same, the writing grows with keep.
-- The extra writing of exact over compact is the larger of (exact_factor
-- - 1) times the compact seconds (the ratio measured on an unloaded
-- machine) and ease_write_exact (seconds per weight written, unloaded,
-- times the catalogue's items squared: what exact writes) times the load
-- factor, each for the 0.9 of the weights exact writes beyond compact's
-- tenth: under load the writing slows more than the solve (ml-latest-
-- small last5 at load 11: exact estimated at 2.5 times compact, 119 s,
-- took about twice that).  keep in between: the extra in proportion.
CREATE FUNCTION recsys._auto_keep_seconds(compact double precision, keep double precision, ctx jsonb,
										  load double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT compact + greatest(((ctx ->> 'exact_factor')::double precision - 1) * compact / 0.9,
							  (ctx ->> 'ease_write_exact')::double precision * load)
					 * (keep - 0.1)
$$;
COMMENT ON FUNCTION recsys._auto_keep_seconds(double precision, double precision, jsonb, double precision) IS
	'internal: train_auto''s estimated seconds of an EASE fit with a given keep, from a compact one''s';

-- The keep an EASE winner (or blend member) is retrained with on all the
-- data: the largest of 1 (exact), 0.5 and 0.25 whose estimate (other:
-- the non-EASE members' seconds; ease: the compact EASE members'; both
-- for all the data) fits the seconds left, else 0.1, compact as
-- validated.  ease_exact (s13, review s12 W3): the exact EASE members'
-- seconds for all the data as this run measured them (_auto_exact_seconds:
-- their fits on the repeated splits, trained exact), when it did; then a
-- keep's estimate lies between the compact and the measured exact
-- seconds in proportion, and the model (_auto_keep_seconds) is not used.
-- Returns that keep, its estimate and the exact estimate.
CREATE FUNCTION recsys._auto_final_keep(other double precision, ease double precision, ease_exact double precision,
										left_seconds double precision, ctx jsonb, load double precision,
										OUT keep double precision, OUT estimate double precision,
										OUT exact_estimate double precision)
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.kept, other + k.seconds, other + e.seconds
	FROM unnest(ARRAY[1, 0.5, 0.25, 0.1]::double precision[]) c(kept),
		 LATERAL (SELECT CASE WHEN ease_exact IS NULL THEN recsys._auto_keep_seconds(ease, c.kept, ctx, load)
							  ELSE ease + greatest(ease_exact - ease, 0) * (c.kept - 0.1) / 0.9 END) k(seconds),
		 LATERAL (SELECT CASE WHEN ease_exact IS NULL THEN recsys._auto_keep_seconds(ease, 1, ctx, load)
							  ELSE greatest(ease_exact, ease) END) e(seconds)
	WHERE c.kept = 0.1 OR other + k.seconds <= left_seconds
	ORDER BY c.kept DESC LIMIT 1
$$;
COMMENT ON FUNCTION recsys._auto_final_keep(double precision, double precision, double precision, double precision,
											jsonb, double precision) IS
	'internal: the keep train_auto retrains an EASE winner with: the largest whose estimate fits the time left';

-- The seconds of training an EASE family's setting exact on all the data
-- as this run measured them (s13, review s12 W3): the family's slowest
-- training on a repeated split (exact there; its scoring left out, review
-- s13 R6), plus a fifth, times the data's rows over the repeated splits'
-- train rows (ctx's repeated_scale, the larger of the two; else scale,
-- the first split's: the Gram grows with the rows; the solve and the
-- writing, which dominate, do not, so this errs long); NULL before the
-- family's first such fit.  It replaces _auto_keep_seconds' model of an exact fit
-- (a compact trial's seconds times exact_factor, or the writing at
-- ease_write_exact times the load factor) in the final training's
-- reserve and keep: on ml-latest-small strat75, quiet, the model put the
-- exact retraining at 40.4 s with 40.4 s left and the winner was
-- retrained with keep 0.5.
-- (PL/pgSQL, not SQL: its plans follow the temporary tables a second
-- train_auto call in the transaction makes anew; review s13 R3)
CREATE FUNCTION recsys._auto_exact_seconds(family text, ctx jsonb)
RETURNS double precision
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN recsys._auto_measured_fit(family, true)
		   * coalesce((ctx ->> 'repeated_scale')::double precision, (ctx ->> 'scale')::double precision);
END
$$;
COMMENT ON FUNCTION recsys._auto_exact_seconds(text, jsonb) IS
	'internal: the measured seconds of training a train_auto EASE family''s setting exact on all the data, or NULL';

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

-- The second round's neighbourhood of a setting (doc/internals.md,
-- "train_auto"): for each searched parameter of center (in name order),
-- the setting one rung below, then one rung above, on the parameter's
-- finer ladder: its steps with every gap bisected once (geometrically on
-- steps of positive values, scales: 200 and 400 give 283; arithmetically
-- on steps from 0: 0.25 and 0.5 give 0.375), extended beyond the ends of
-- a scale by its last ratio, up to 4 times beyond the steps (a best
-- regularisation of 1600 has 2263 above it).  The list depends on center
-- and the steps alone, never on what was tried or how long it took, so
-- that the matched splits compare the same settings whatever the budget
-- (a larger one only lets more of a fixed list run).  Values keep their
-- steps' kind: integers stay integers, half-lives are written in days.
CREATE FUNCTION recsys._auto_neighbours(center jsonb, steps jsonb)
RETURNS TABLE (o integer, params jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	key text;
	is_interval boolean;
	v double precision;
	scale boolean;
	whole boolean;
	step_min double precision;
	step_max double precision;
	lo double precision;
	hi double precision;
	m double precision;
	side integer;
	value jsonb;
BEGIN
	o := 0;
	FOR key IN SELECT jsonb_object_keys(steps) ORDER BY 1 LOOP
		CONTINUE WHEN NOT center ? key OR jsonb_typeof(center -> key) NOT IN ('number', 'string')
					  OR jsonb_array_length(steps -> key) < 2;
		is_interval := jsonb_typeof(center -> key) = 'string';
		v := recsys._auto_ladder_value(center -> key);
		SELECT bool_and(x.y > 0), bool_and(NOT is_interval AND x.y = round(x.y)), min(x.y), max(x.y)
		INTO scale, whole, step_min, step_max
		FROM (SELECT recsys._auto_ladder_value(e) FROM jsonb_array_elements(steps -> key) e) x(y);
		-- the finer ladder's rungs next to v: the steps and their gaps' midpoints
		-- (as written, so that a value is on the ladder it came from)
		WITH s AS (SELECT recsys._auto_ladder_value(e) AS x FROM jsonb_array_elements(steps -> key) e),
			 g AS (SELECT s.x, lead(s.x) OVER (ORDER BY s.x) AS y FROM s),
			 ladder AS (SELECT s.x FROM s
						UNION
						SELECT recsys._auto_ladder_value(recsys._auto_ladder_json(
								   CASE WHEN scale THEN sqrt(g.x * g.y) ELSE (g.x + g.y) / 2 END, is_interval, whole, scale))
						FROM g WHERE g.y IS NOT NULL)
		SELECT max(l.x) FILTER (WHERE l.x < v), min(l.x) FILTER (WHERE l.x > v) INTO lo, hi FROM ladder l;
		FOREACH side IN ARRAY ARRAY[-1, 1] LOOP
			m := CASE WHEN side < 0 THEN lo ELSE hi END;
			IF m IS NULL THEN
				-- (beyond the ends: scales only, by the ratio to the rung on
				-- the other side, up to 4 times beyond the steps)
				CONTINUE WHEN NOT scale OR v > 4 * step_max OR v < step_min / 4
							  OR (CASE WHEN side < 0 THEN hi ELSE lo END) IS NULL;
				m := v * v / CASE WHEN side < 0 THEN hi ELSE lo END;
			END IF;
			value := recsys._auto_ladder_json(m, is_interval, whole, scale);
			CONTINUE WHEN recsys._auto_ladder_value(value) = v;
			o := o + 1;
			params := center || jsonb_build_object(key, value);
			RETURN NEXT;
		END LOOP;
	END LOOP;
END
$$;
COMMENT ON FUNCTION recsys._auto_neighbours(jsonb, jsonb) IS
	'internal: the settings one rung each way per parameter of a train_auto setting, on its steps bisected once';

-- A searched parameter's value as a number on its ladder (half-lives in
-- days), and a number written back in the ladder's kind (an interval in
-- days, a whole number, three significant digits of a scale, three
-- decimals otherwise).
CREATE FUNCTION recsys._auto_ladder_value(value jsonb)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN jsonb_typeof(value) = 'string' THEN extract(epoch FROM (value #>> '{}')::interval) / 86400
				ELSE (value #>> '{}')::double precision END
$$;
COMMENT ON FUNCTION recsys._auto_ladder_value(jsonb) IS
	'internal: a train_auto parameter value as a number (half-lives in days)';

CREATE FUNCTION recsys._auto_ladder_json(m double precision, is_interval boolean, whole boolean, scale boolean)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN is_interval THEN to_jsonb(format('%s days', round(m::numeric, CASE WHEN m >= 10 THEN 0 ELSE 1 END)))
				WHEN whole THEN to_jsonb(round(m::numeric))
				WHEN scale THEN to_jsonb(trim_scale(round(m::numeric, greatest(0, 2 - floor(log(m::numeric))::integer))))
				ELSE to_jsonb(trim_scale(round(m::numeric, 3))) END
$$;
COMMENT ON FUNCTION recsys._auto_ladder_json(double precision, boolean, boolean, boolean) IS
	'internal: a number written back as a train_auto parameter value of its ladder''s kind';

-- A train_auto validation table (pg_temp.<valid>: user_id, item_id) cut
-- to at most 10,000 users, those first by a hash of the seed and the user
-- (md5(seed || ':' || user): on the repeated splits the same order over
-- their own validation users, so mostly, not all, the same users).
-- Scoring a candidate costs time per validation user: on 200,000 users
-- (3.8M pairs, 30,000 items) scoring popularity alone took 60 s and ALS
-- was modelled at 173 s, so within the default budget popularity was all
-- train_auto tried; with 10,000 users a candidate's mean has a standard
-- error near 0.003 (paired differences, which decide, much less).  The
-- table is made anew from the users kept, not cut by a DELETE: the
-- evaluations read it again and again, and a DELETE would leave them the
-- dead rows of the users dropped (review s16 R3); the users are made
-- distinct by sorting (see split_holdout); like every table of
-- train_auto's, the new one is dropped at commit.  Returns the users kept
-- and the users there were.
CREATE FUNCTION recsys._auto_sample_users(valid text, seed bigint)
RETURNS TABLE (users bigint, sampled_from bigint)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cap CONSTANT integer := 10000;
	cut text := valid || '_cut';
BEGIN
	EXECUTE format('SELECT count(DISTINCT v.user_id) FROM pg_temp.%I v', valid) INTO sampled_from;
	users := sampled_from;
	IF sampled_from > cap THEN
		-- (a table of that name made otherwise goes first, as train_auto's
		-- own tables do: review s13-2 F5)
		IF to_regclass('pg_temp.' || cut) IS NOT NULL THEN
			EXECUTE format('DROP TABLE pg_temp.%I', cut);
		END IF;
		EXECUTE format('CREATE TEMP TABLE %1$I ON COMMIT DROP AS '
					   'WITH chosen AS MATERIALIZED ('
					   '  SELECT u.user_id FROM (SELECT DISTINCT ON (1) w.user_id FROM pg_temp.%2$I w ORDER BY 1) u '
					   '  ORDER BY md5($1 || '':'' || u.user_id) COLLATE "C", u.user_id LIMIT $2) '
					   -- (a join: the users chosen are distinct already)
					   'SELECT v.user_id, v.item_id FROM pg_temp.%2$I v JOIN chosen c ON c.user_id = v.user_id',
					   cut, valid)
		USING seed::text, cap;
		EXECUTE format('DROP TABLE pg_temp.%I', valid);
		EXECUTE format('ALTER TABLE pg_temp.%I RENAME TO %I', cut, valid);
		EXECUTE format('ANALYZE pg_temp.%I', valid);
		users := cap;
	END IF;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION recsys._auto_sample_users(text, bigint) IS
	'internal: cut a train_auto validation table to at most 10,000 users, chosen by a hash of the seed';

-- The second round's repeated split j (2 or 3) of train_auto's source, made
-- once: pg_temp._recsys_auto_train_<j> and _recsys_auto_valid_<j>.  On
-- protocol holdout its train part has nearly the final model's depth (the
-- final model trains on all of each user's items, the first split's on
-- three quarters): a random tenth of each user's items is held out (seed
-- + j - 1; users with 6 items or more), so that settings whose best
-- depends on the data's depth (EASE's regularisation and dropout) are
-- compared as the final model will use them.  On last (since 0.11.0;
-- doc/internals.md, "train_auto"): split 2 is the first split itself
-- (each user's last 5), for the settings to be scored there in the final
-- model's form, and split 3 a global time cut: the source's rows before
-- the time of its last tenth of rows train, and each user with 5 items
-- or more before it is validated on his first 5 new items after it (the
-- next items after the data's end, as the model will serve them; the
-- first split's per-user windows leave in every other user's later
-- rows).  When the cut leaves fewer than 2 such users (users who stop
-- long before the data's end), split 3 is the 5 items before split 2's
-- held-out ones (a rolling origin, the 0.10.0 split).  Returns its
-- validation users.
CREATE FUNCTION recsys._auto_split(j integer, protocol text, source regclass, seed bigint,
								   user_col name, item_col name, time_col name)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	valid text := format('_recsys_auto_valid_%s', j);
	train text := format('_recsys_auto_train_%s', j);
	previous regclass := CASE WHEN j = 2 THEN 'pg_temp._recsys_auto_train'::regclass
							  ELSE format('pg_temp._recsys_auto_train_%s', j - 1)::regclass END;
	-- (the columns of train_auto's first split, the ones the trainers
	-- read: SELECT on them suffices)
	columns text := (SELECT string_agg(format('r.%I', a.attname), ', ' ORDER BY a.attnum)
					 FROM pg_attribute a
					 WHERE a.attrelid = 'pg_temp._recsys_auto_train'::regclass AND a.attnum > 0
					   AND NOT a.attisdropped);
	train_from text;
	users bigint;
BEGIN
	IF to_regclass('pg_temp.' || valid) IS NULL THEN
		train_from := CASE WHEN protocol = 'last' THEN previous::text ELSE source::text END;
		IF protocol = 'last' AND j = 2 THEN
			EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS '
						   'SELECT v.user_id, v.item_id FROM pg_temp._recsys_auto_valid v', valid);
		ELSIF protocol = 'last' AND j = 3 THEN
			-- the global cut: a pair is new after it when its first row is
			-- (a pair's first time by DISTINCT ON, the users' counts by a
			-- window: sorted, not hashed, see split_holdout; rows without a
			-- user or an item are no pair, as in the splits: review s16 R1)
			EXECUTE format('CREATE TEMP TABLE %1$I ON COMMIT DROP AS '
						   'WITH c AS (SELECT percentile_disc(0.9) WITHIN GROUP (ORDER BY r.%2$I) AS t FROM %5$s r), '
						   '     p AS (SELECT DISTINCT ON (1, 2) r.%3$I::bigint AS user_id, r.%4$I::bigint AS item_id, r.%2$I AS first '
						   '           FROM %5$s r WHERE r.%3$I IS NOT NULL AND r.%4$I IS NOT NULL ORDER BY 1, 2, 3 NULLS LAST) '
						   'SELECT x.user_id, x.item_id FROM ('
						   '  SELECT p.user_id, p.item_id, p.first >= c.t AS after, '
						   '         count(*) FILTER (WHERE p.first < c.t) OVER (PARTITION BY p.user_id) AS before, '
						   '         row_number() OVER (PARTITION BY p.user_id, p.first >= c.t ORDER BY p.first, p.item_id) AS o '
						   '  FROM p, c) x '
						   'WHERE x.after AND x.before >= 5 AND x.o <= 5', valid, time_col, user_col, item_col, source);
			EXECUTE format('SELECT count(DISTINCT v.user_id) FROM pg_temp.%I v', valid) INTO users;
			IF users >= 2 THEN
				EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS '
							   'SELECT %s FROM %s r WHERE r.%I < (SELECT percentile_disc(0.9) WITHIN GROUP (ORDER BY s.%I) FROM %s s)',
							   train, columns, source, time_col, time_col, source);
				train_from := NULL;
			ELSE
				EXECUTE format('DROP TABLE pg_temp.%I', valid);
				EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS '
							   'SELECT s.user_id, s.item_id FROM recsys.split_last($1, $2, 5, 10, $3, $4) s WHERE s.is_test', valid)
				USING previous, time_col, user_col, item_col;
			END IF;
		ELSIF protocol = 'last' THEN
			EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS '
						   'SELECT s.user_id, s.item_id FROM recsys.split_last($1, $2, 5, 10, $3, $4) s WHERE s.is_test', valid)
			USING previous, time_col, user_col, item_col;
		ELSE
			EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS '
						   'SELECT s.user_id, s.item_id FROM recsys.split_holdout($1, 0.1, $2, 4, $3, $4) s WHERE s.is_test', valid)
			-- (seed + j - 1, wrapped round at bigint's end: the largest
			-- seed failed here with "bigint out of range", review s16 P1)
			USING source, ((seed::numeric + j - 1 + 9223372036854775808) % 18446744073709551616
						   - 9223372036854775808)::bigint, user_col, item_col;
		END IF;
		-- (at most 10,000 users scored, in the first split's hash order;
		-- the others' held-out pairs train, except on the global cut,
		-- whose train part is the rows before the cut)
		PERFORM recsys._auto_sample_users(valid, seed);
		IF train_from IS NOT NULL THEN
			EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS '
						   'SELECT %s FROM %s r WHERE NOT EXISTS (SELECT FROM pg_temp.%I v '
						   'WHERE v.user_id = r.%I::bigint AND v.item_id = r.%I::bigint)',
						   train, columns, train_from, valid, user_col, item_col);
		END IF;
		EXECUTE format('CREATE INDEX ON pg_temp.%I (%I)', train, user_col);
		EXECUTE format('ANALYZE pg_temp.%I', train);
	END IF;
	EXECUTE format('SELECT count(DISTINCT v.user_id) FROM pg_temp.%I v', valid) INTO users;
	RETURN users;
END
$$;
COMMENT ON FUNCTION recsys._auto_split(integer, text, regclass, bigint, name, name, name) IS
	'internal: train_auto''s repeated validation split j for its second round';

-- The seconds of scoring a trial's setting in the final model's form on
-- a repeated split (_auto_rescore): compact EASE (keep) trained exact
-- (_auto_keep_seconds at this run's load factor), on a train part up to
-- all the data's size (ctx's scale), plus its evaluation, plus a fifth.
CREATE FUNCTION recsys._auto_rescore_seconds(params jsonb, train_seconds double precision,
											 eval_seconds double precision, ctx jsonb)
RETURNS double precision
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN 1.2 * (eval_seconds + (ctx ->> 'scale')::double precision
					* CASE WHEN params ? 'keep'
						   THEN recsys._auto_keep_seconds(train_seconds, 1, recsys._auto_capped_ctx(params, ctx),
														  recsys._auto_load_factor())
						   ELSE train_seconds END);
END
$$;
COMMENT ON FUNCTION recsys._auto_rescore_seconds(jsonb, double precision, double precision, jsonb) IS
	'internal: the estimated seconds of scoring a train_auto setting in the final model''s form on a repeated split';

-- The measured seconds of a family's fits on the repeated splits so far
-- (_recsys_auto_scores: training and evaluation), the slowest plus a
-- fifth, or NULL before the first (s12).  Once one is measured it replaces
-- _auto_rescore_seconds' model (a compact trial's seconds scaled and made
-- exact), as a family's slowest trial replaces its cost model in
-- _auto_trial: on online-retail strat75 under load the model gave 40-50 s
-- for an exact EASE fit the repeated splits took 15-20 s, and two of them
-- kept in reserve per setting cut the second round with a third of the
-- budget unspent.
-- (PL/pgSQL, not SQL: its plans follow the temporary tables a second
-- train_auto call in the transaction makes anew; review s13 R3)
-- training_only (s13): the training's seconds alone, without the
-- scoring (_auto_exact_seconds: the final training scores nothing).
CREATE FUNCTION recsys._auto_measured_fit(family text, training_only boolean DEFAULT false)
RETURNS double precision
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT 1.2 * max(CASE WHEN training_only THEN s.train_seconds ELSE s.seconds END)
		FROM _recsys_auto_scores s JOIN _recsys_auto_trials t ON t.n = s.n
		WHERE t.family = _auto_measured_fit.family
	);
END
$$;
COMMENT ON FUNCTION recsys._auto_measured_fit(text, boolean) IS
	'internal: the slowest measured fit of a train_auto family on the repeated splits (or its training alone), plus a fifth';

-- The estimated seconds of fitting trial n's setting on a repeated split
-- (s12): the family's measured fits there (_auto_measured_fit), else the
-- model (_auto_rescore_seconds of the trial's own seconds).
CREATE FUNCTION recsys._auto_fit_estimate(n integer, ctx jsonb)
RETURNS double precision
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	trial record;
BEGIN
	SELECT t.* INTO trial FROM _recsys_auto_trials t WHERE t.n = _auto_fit_estimate.n;
	RETURN coalesce(recsys._auto_measured_fit(trial.family),
					recsys._auto_rescore_seconds(trial.params, trial.train_seconds, trial.eval_seconds, ctx));
END
$$;
COMMENT ON FUNCTION recsys._auto_fit_estimate(integer, jsonb) IS
	'internal: the estimated seconds of fitting a train_auto setting on a repeated split, measured once possible';

-- The budget check of scoring trial n's setting on a repeated split
-- (_auto_rescore): its estimate (_auto_fit_estimate), the seconds kept
-- for what follows (_auto_reserve, ctx's extra_reserve included) and the
-- seconds left; it fits when the first two add up to no more than the
-- third.  Returned as jsonb so that a cut can be recorded with its figures
-- (_auto_climb's cut_check).
CREATE FUNCTION recsys._auto_rescore_check(n integer, ctx jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	trial record;
	estimate double precision;
BEGIN
	SELECT t.* INTO trial FROM _recsys_auto_trials t WHERE t.n = _auto_rescore_check.n;
	estimate := recsys._auto_fit_estimate(n, ctx);
	RETURN jsonb_build_object(
		'estimate', estimate,
		'reserve', recsys._auto_reserve(trial.family, trial.params, estimate, true, ctx),
		'left_seconds', extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp()));
END
$$;
COMMENT ON FUNCTION recsys._auto_rescore_check(integer, jsonb) IS
	'internal: the budget check of scoring a train_auto setting on a repeated split: estimate, reserve and seconds left';

-- Trial n's setting trained on repeated split j's train part and scored
-- on its validation part, recorded in _recsys_auto_scores; NULL when the
-- budget cannot cover it (_auto_rescore_seconds and _auto_reserve's) or
-- it fails.  A failure is recorded too (s13, review s12 W6: the row's
-- error, value NULL, and the trial's status), so that the climb can tell
-- it from a budget cut, and not tried again.  The model is dropped, or with keep_model kept and recorded
-- (the second round's best setting and the blend members: blends are
-- tested on the matched splits too); a setting scored before is not
-- trained again unless its model is wanted and was dropped.  It is
-- trained in the final model's form: a compact EASE setting exact (the
-- final training is exact when the budget allows), since compact EASE
-- favours other settings than exact (online-retail strat75: compact
-- prefers regularisation 200 to 141, exact the reverse, as test does).
CREATE FUNCTION recsys._auto_rescore(n integer, j integer, ctx jsonb, keep_model boolean DEFAULT false)
RETURNS double precision
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	trial record;
	budget_check jsonb;
	candidate text := format('%s%s_%s', ctx ->> 'prefix', n, j);
	r record;
	message text;
	-- (scored before, its model dropped and now wanted again)
	scored_before boolean;
BEGIN
	SELECT s.value, s.model, s.error INTO r FROM _recsys_auto_scores s WHERE s.n = _auto_rescore.n AND s.split = j;
	scored_before := FOUND;
	IF FOUND AND (NOT keep_model OR r.model IS NOT NULL OR r.error IS NOT NULL) THEN
		RETURN r.value;
	END IF;
	SELECT t.* INTO trial FROM _recsys_auto_trials t WHERE t.n = _auto_rescore.n;
	budget_check := recsys._auto_rescore_check(n, ctx);
	IF (budget_check ->> 'estimate')::double precision + (budget_check ->> 'reserve')::double precision
	   > (budget_check ->> 'left_seconds')::double precision THEN
		RETURN NULL;
	END IF;
	BEGIN
		SELECT * INTO r FROM recsys._tune_candidate(recsys._tune_trainer(trial.algorithm),
													format('pg_temp._recsys_auto_train_%s', j)::regclass,
													format('pg_temp._recsys_auto_valid_%s', j)::regclass,
													candidate, trial.params - 'keep', ctx ->> 'metric', (ctx ->> 'k')::integer,
													'user_id', 'item_id', NULL);
	EXCEPTION
		WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS message = MESSAGE_TEXT;
			-- (a value scored before stays: only its model is missing)
			IF scored_before THEN
				RETURN NULL;
			END IF;
			INSERT INTO _recsys_auto_scores (n, split, error) VALUES (n, j, message);
			UPDATE _recsys_auto_trials t SET status = t.status || format('; failed on validation split %s: %s', j, message)
			WHERE t.n = _auto_rescore.n;
			RETURN NULL;
	END;
	IF NOT keep_model THEN
		PERFORM recsys.drop_model(candidate);
	END IF;
	DELETE FROM _recsys_auto_scores s WHERE s.n = _auto_rescore.n AND s.split = j;
	INSERT INTO _recsys_auto_scores (n, split, value, seconds, model, train_seconds)
	VALUES (n, j, r.value, r.train_seconds + r.eval_seconds, CASE WHEN keep_model THEN candidate END, r.train_seconds);
	RETURN r.value;
END
$$;
COMMENT ON FUNCTION recsys._auto_rescore(integer, integer, jsonb, boolean) IS
	'internal: a train_auto trial''s setting, in the final model''s form, scored on a repeated validation split if the budget allows';

-- The second round's hill climb on the matched mean (doc/internals.md,
-- "train_auto") for a family whose first round ended at trial incumbent:
-- the centre (first the incumbent), then its neighbourhood
-- (_auto_neighbours), each setting trained on the first split (a trial:
-- the grid's when it ran there), then on the repeated splits 2 and 3
-- (_auto_rescore, exact), the centre first and the others in the order
-- of their first-split values; when a setting's mean over the repeated
-- splits beats the best so far it becomes the centre of a second step
-- (one move at most: the list must fit the default budget on a quiet
-- machine; a tie goes to the setting scored first).  The list depends
-- on the data alone; the budget only truncates it: the first setting
-- that does not fit ends the climb, and it and the rest of its step are
-- returned as cut (the first round's setting, when its own scoring was
-- cut, is not in cut: it stays whatever, and centre_cut says it was not
-- scored).  Only the best setting's models on the repeated splits
-- are kept (the blends are tested on them).  reserve: the seconds kept
-- for what follows (the blends).  Returns {"chosen": the best trial or
-- null, "moves", "new_settings" (trained on the first split here),
-- "scored" (the trials scored, in order), "cut" (settings, in order),
-- "centre_cut" (true when the first round's setting was not scored on
-- the repeated splits for the budget), "failed" (settings whose fit on a
-- repeated split failed, in order: no contender, the list goes on; s13,
-- review s12 W6: before, a failure cut the list as the budget does)}.
CREATE FUNCTION recsys._auto_climb(family text, algorithm text, steps jsonb, cost jsonb, incumbent integer,
								   search_round integer, reserve double precision, ctx jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	centre integer := incumbent;
	chosen integer;
	best_mean double precision;
	moves integer := 0;
	new_settings integer := 0;
	scored integer[] := '{}';
	step integer[];
	cut jsonb := '[]';
	failed jsonb := '[]';
	-- (their trials, listed once: review s13 R1)
	failed_n integer[] := '{}';
	-- (the list is being cut: the budget ended it)
	cutting boolean := false;
	-- (the centre itself not scored on the repeated splits)
	centre_cut boolean := false;
	-- (the budget check that cut the list: its figures, for the record)
	cut_check jsonb;
	-- (the best setting's models on the repeated splits kept for the
	-- blends; not when the round is resumed after them: ctx's resumed,
	-- and then a setting scored before is not trained again)
	keep_models boolean := NOT coalesce((ctx ->> 'resumed')::boolean, false);
	setting jsonb;
	c integer;
	result text;
	-- (a fit on a repeated split, kept in reserve per setting: since s12
	-- the centre's estimate, measured once a fit has run there
	-- (_auto_fit_estimate); before, the family's dearest first-split trial
	-- modelled, which a load spike on one trial could double)
	fit_seconds double precision;
BEGIN
	LOOP
		-- (the centre's fits on the repeated splits first, s12: recorded,
		-- so that its scoring below finds them, and measured, so that its
		-- neighbours' first-split trials keep their own fits in reserve at
		-- measured seconds, _auto_measured_fit, not modelled ones; when
		-- they do not fit, the scoring below cuts as before)
		IF NOT centre = ANY (scored) THEN
			fit_seconds := recsys._auto_fit_estimate(centre, ctx);
			IF recsys._auto_rescore(centre, 2, ctx || jsonb_build_object('extra_reserve', reserve + coalesce(fit_seconds, 0)),
									keep_models) IS NOT NULL THEN
				PERFORM recsys._auto_rescore(centre, 3, ctx || jsonb_build_object('extra_reserve', reserve), keep_models);
			ELSIF cut_check IS NULL AND NOT EXISTS (SELECT FROM _recsys_auto_scores s
													WHERE s.n = centre AND s.error IS NOT NULL) THEN
				-- (review s12 W9: the check that refused the centre's fit is
				-- the one that cuts the round, its neighbours on the first
				-- split and the centre below: recorded, as the scoring's)
				cut_check := recsys._auto_rescore_check(centre, ctx || jsonb_build_object('extra_reserve',
																						   reserve + coalesce(fit_seconds, 0)));
			END IF;
		END IF;
		-- the step's settings: the centre, then its neighbourhood, each
		-- trained on the first split (cheap, compact) in the
		-- neighbourhood's order
		step := '{}';
		FOR setting IN SELECT x.params
					   FROM (SELECT 0 AS o, t.params FROM _recsys_auto_trials t WHERE t.n = centre
							 UNION ALL
							 SELECT nb.o, nb.params
							 FROM recsys._auto_neighbours((SELECT t.params FROM _recsys_auto_trials t WHERE t.n = centre),
														  steps) nb) x
					   ORDER BY x.o LOOP
			SELECT t.n INTO c FROM _recsys_auto_trials t
			WHERE t.family = _auto_climb.family AND t.params = setting AND t.train_seconds IS NOT NULL
			ORDER BY t.n LIMIT 1;
			IF c IS NULL THEN
				IF cutting THEN
					cut := cut || jsonb_build_array(setting - ARRAY['user_col', 'item_col']);
					CONTINUE;
				END IF;
				fit_seconds := recsys._auto_fit_estimate(centre, ctx);
				result := recsys._auto_trial(family, algorithm, setting, cost, search_round,
											 ctx || jsonb_build_object('extra_reserve', reserve + 2 * coalesce(fit_seconds, 0)));
				IF result = 'budget' THEN
					cut := cut || jsonb_build_array(setting - ARRAY['user_col', 'item_col']);
					cutting := true;
					CONTINUE;
				END IF;
				-- (refused for memory, or failed: recorded, and no contender)
				CONTINUE WHEN result NOT IN ('ok', 'worse');
				SELECT max(t.n) INTO c FROM _recsys_auto_trials t;
				new_settings := new_settings + 1;
			END IF;
			step := step || c;
		END LOOP;
		-- then each on the repeated splits, the centre first, the others in
		-- the order of their first-split values (data, not timings: when the
		-- budget cuts the list, the likelier settings have run)
		FOR c IN SELECT t.n FROM _recsys_auto_trials t
				 WHERE t.n = ANY (step) AND NOT t.n = ANY (scored) AND NOT t.n = ANY (failed_n)
				 ORDER BY t.n = centre DESC, t.value DESC NULLS LAST, t.n LOOP
			-- (a setting whose fit there failed already, the centre's
			-- above: failed, whether or not the list is being cut; review
			-- s13 R2: it was recorded as centre_cut, a budget cut)
			IF EXISTS (SELECT FROM _recsys_auto_scores s WHERE s.n = c AND s.error IS NOT NULL) THEN
				PERFORM recsys._auto_drop_matched(c);
				DELETE FROM _recsys_auto_scores s WHERE s.n = c AND s.error IS NULL;
				failed := failed || jsonb_build_array((SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = c));
				failed_n := failed_n || c;
				CONTINUE;
			END IF;
			-- (a centre fitted on both repeated splits before the cut, above,
			-- is scored: its values are recorded)
			IF cutting AND NOT (c = centre AND (SELECT count(*) FROM _recsys_auto_scores s
												 WHERE s.n = c AND s.split IN (2, 3) AND s.value IS NOT NULL) = 2) THEN
				-- (the centre, cut before its turn: see below)
				IF c = incumbent THEN
					centre_cut := true;
				ELSE
					cut := cut || jsonb_build_array((SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = c));
				END IF;
				CONTINUE;
			END IF;
			fit_seconds := recsys._auto_fit_estimate(centre, ctx);
			IF recsys._auto_rescore(c, 2, ctx || jsonb_build_object('extra_reserve', reserve + coalesce(fit_seconds, 0)), keep_models) IS NULL
			   OR recsys._auto_rescore(c, 3, ctx || jsonb_build_object('extra_reserve', reserve), keep_models) IS NULL THEN
				-- (a fit that failed, not one the budget refused: no
				-- contender, its other split's value dropped, the failure
				-- kept so that it is not tried again; the list goes on)
				IF EXISTS (SELECT FROM _recsys_auto_scores s WHERE s.n = c AND s.error IS NOT NULL) THEN
					PERFORM recsys._auto_drop_matched(c);
					DELETE FROM _recsys_auto_scores s WHERE s.n = c AND s.error IS NULL;
					failed := failed || jsonb_build_array((SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = c));
					failed_n := failed_n || c;
					CONTINUE;
				END IF;
				cut_check := recsys._auto_rescore_check(c, ctx || jsonb_build_object('extra_reserve', reserve + coalesce(fit_seconds, 0)));
				PERFORM recsys._auto_drop_matched(c);
				DELETE FROM _recsys_auto_scores s WHERE s.n = c;
				cutting := true;
				-- (the first round's setting is kept whatever: cut lists
				-- the settings that could have replaced it, centre_cut
				-- says that it was not scored either)
				IF c = incumbent THEN
					centre_cut := true;
				ELSE
					cut := cut || jsonb_build_array((SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = c));
				END IF;
				CONTINUE;
			END IF;
			scored := scored || c;
			IF best_mean IS NULL OR recsys._auto_matched_mean(c, 3, ctx -> 'split_users') > best_mean THEN
				IF chosen IS NOT NULL THEN
					PERFORM recsys._auto_drop_matched(chosen);
				END IF;
				chosen := c;
				best_mean := recsys._auto_matched_mean(c, 3, ctx -> 'split_users');
			ELSE
				PERFORM recsys._auto_drop_matched(c);
			END IF;
		END LOOP;
		EXIT WHEN cutting OR chosen IS NULL OR chosen = centre OR moves >= 1;
		centre := chosen;
		moves := moves + 1;
	END LOOP;
	RETURN jsonb_build_object('chosen', chosen, 'moves', moves, 'new_settings', new_settings,
							  'scored', to_jsonb(scored), 'cut', cut, 'centre_cut', centre_cut, 'cut_check', cut_check,
							  'failed', failed);
END
$$;
COMMENT ON FUNCTION recsys._auto_climb(text, text, jsonb, jsonb, integer, integer, double precision, jsonb) IS
	'internal: train_auto''s second round: a hill climb over a setting''s neighbourhood on the repeated validation splits';

-- Drop trial n's models on the repeated splits (kept by _auto_rescore).
CREATE FUNCTION recsys._auto_drop_matched(n integer)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m text;
BEGIN
	FOR m IN SELECT s.model FROM _recsys_auto_scores s
			 WHERE s.n = _auto_drop_matched.n AND s.model IN (SELECT r.name FROM recsys.models r) LOOP
		PERFORM recsys.drop_model(m);
	END LOOP;
	UPDATE _recsys_auto_scores s SET model = NULL WHERE s.n = _auto_drop_matched.n;
END
$$;
COMMENT ON FUNCTION recsys._auto_drop_matched(integer) IS
	'internal: drop a train_auto trial''s models on the repeated validation splits';

-- The per-user metric of models[i], trained on repeated split i + 1, on
-- that split's validation part, averaged per user over the splits, in
-- user order (for _auto_paired_z: two lists of models, a blend and the
-- blend it extends, give the per-user mean gain over the matched splits);
-- NULL when fewer than needed seconds of the budget are left.
CREATE FUNCTION recsys._auto_matched_users(models text[], metric_name text, k integer, needed double precision,
										   ctx jsonb)
RETURNS double precision[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp()) < needed THEN
		RETURN NULL;
	END IF;
	RETURN ARRAY(SELECT avg((to_jsonb(u) ->> metric_name)::double precision)
				 FROM unnest(models) WITH ORDINALITY m(name, i),
					  LATERAL recsys._evaluate_users(m.name, format('pg_temp._recsys_auto_valid_%s', m.i + 1)::regclass, k) u
				 GROUP BY u.user_id ORDER BY u.user_id);
END
$$;
COMMENT ON FUNCTION recsys._auto_matched_users(text[], text, integer, double precision, jsonb) IS
	'internal: a train_auto candidate''s metric for each user, averaged over the repeated validation splits';

-- The weight of a new blend member chosen on the repeated splits (since
-- 0.11.0; doc/internals.md, "train_auto"): for each candidate weight in
-- order (the first split's choice first), the blend of base (the blend so
-- far's members on split 2, then on split 3, half each, with weights)
-- and member (the new member on split 2 and on split 3) at that weight,
-- trained on both splits (train_blend: no fit, the members are trained)
-- under name || '_<i>_<j>', and its per-user values averaged over the two
-- (_auto_matched_users, while needed seconds are left); the weight of the
-- best mean kept (a tie: the earlier), the other blends dropped.  On
-- online retail the first split's weight moved with the base's setting
-- (ALS 0.7 with one EASE, 0.3 with the next), on data of another depth
-- and form than the final model's.  Returns {"weight", "models" (its
-- blends on splits 2 and 3), "users" (its per-user values), "means" (each
-- weight scored: [weight, mean]), "scored_users" (each weight scored's
-- per-user values, in the order of means: the chosen one's gain is tested
-- against the largest of them all, _auto_blend_min_z)}, weight null when
-- none could be scored.
CREATE FUNCTION recsys._auto_matched_weight(base text[], member text[], weights double precision[],
											candidates double precision[], name text, metric_name text,
											k integer, needed double precision, ctx jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	half integer := cardinality(base) / 2;
	w double precision;
	i integer := 0;
	blends text[];
	users double precision[];
	mean double precision;
	best jsonb;
	means jsonb := '[]';
	scored_users jsonb := '[]';
BEGIN
	IF cardinality(member) <> 2 OR cardinality(base) <> 2 * cardinality(weights) THEN
		RAISE EXCEPTION 'recsys._auto_matched_weight: base has % models for % weights and member %: two per member, one per split',
			cardinality(base), cardinality(weights), cardinality(member)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOREACH w IN ARRAY candidates LOOP
		i := i + 1;
		blends := ARRAY[format('%s_%s_2', name, i), format('%s_%s_3', name, i)];
		PERFORM recsys.train_blend(base[1:half] || member[1], (weights || w)::real[], blends[1], true),
				recsys.train_blend(base[half + 1:] || member[2], (weights || w)::real[], blends[2], true);
		users := recsys._auto_matched_users(blends, metric_name, k, needed, ctx);
		IF users IS NULL THEN
			-- (no time left for this weight: the ones scored stand)
			PERFORM recsys.drop_model(blends[2]), recsys.drop_model(blends[1]);
			EXIT;
		END IF;
		mean := (SELECT avg(v) FROM unnest(users) v);
		means := means || jsonb_build_array(jsonb_build_array(w, mean));
		scored_users := scored_users || jsonb_build_array(to_jsonb(users));
		IF best IS NULL OR mean > (best ->> 'mean')::double precision THEN
			IF best IS NOT NULL THEN
				PERFORM recsys.drop_model(best -> 'models' ->> 1), recsys.drop_model(best -> 'models' ->> 0);
			END IF;
			best := jsonb_build_object('weight', w, 'mean', mean, 'models', to_jsonb(blends), 'users', to_jsonb(users));
		ELSE
			PERFORM recsys.drop_model(blends[2]), recsys.drop_model(blends[1]);
		END IF;
	END LOOP;
	RETURN coalesce(best, jsonb_build_object('weight', NULL))
		   || jsonb_build_object('means', means, 'scored_users', scored_users);
END
$$;
COMMENT ON FUNCTION recsys._auto_matched_weight(text[], text[], double precision[], double precision[], text, text,
												integer, double precision, jsonb) IS
	'internal: a train_auto blend member''s weight chosen on the repeated validation splits';

-- Trial n's mean value over the repeated splits 2 to m (those whose train
-- part has nearly the final model's depth, scored in its form), NULL
-- unless scored on all of them.  The first split's value is left out: it
-- is offset from what the final model shows by its depth and form alike
-- for every setting of a family, so it ranks them apart from test
-- (online-retail strat75: three first-style splits agreed with each other,
-- not with test).  With users (a JSON object of each split's validation
-- users, ctx's split_users) each split counts by its users: the mean over
-- the (user, split) pairs, so that a split of few users (protocol last's
-- global time cut on data whose users stop early) weighs as little as
-- it knows; on holdout both repeated splits have the same users.
-- (PL/pgSQL, not SQL: its plans follow the temporary tables a second
-- train_auto call in the transaction makes anew; review s13 R3)
CREATE FUNCTION recsys._auto_matched_mean(n integer, m integer, users jsonb DEFAULT NULL)
RETURNS double precision
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT sum(x.value * coalesce((users ->> x.split::text)::double precision, 1))
			   / sum(coalesce((users ->> x.split::text)::double precision, 1))
		FROM _recsys_auto_scores x
		WHERE x.n = _auto_matched_mean.n AND x.split BETWEEN 2 AND m
		HAVING count(x.value) = m - 1 AND m >= 2
	);
END
$$;
COMMENT ON FUNCTION recsys._auto_matched_mean(integer, integer, jsonb) IS
	'internal: a train_auto trial''s mean value over the repeated splits 2 to m (final model''s depth and form), by their users when given';

-- Trial n's validation values: its first split's, then its scores on the
-- repeated splits, in split order (a failed fit's none).
-- (PL/pgSQL, not SQL: its plans follow the temporary tables a second
-- train_auto call in the transaction makes anew; review s13 R3)
CREATE FUNCTION recsys._auto_split_values(n integer)
RETURNS double precision[]
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT ARRAY(SELECT y.v FROM (SELECT t.value, 1 FROM _recsys_auto_trials t WHERE t.n = _auto_split_values.n
									  UNION ALL
									  SELECT s.value, s.split FROM _recsys_auto_scores s
									  WHERE s.n = _auto_split_values.n AND s.error IS NULL) y(v, o)
					 ORDER BY y.o)
	);
END
$$;
COMMENT ON FUNCTION recsys._auto_split_values(integer) IS
	'internal: a train_auto trial''s validation values on its first and repeated splits';

-- Make trial n its family's model (the one blends and the final use):
-- trained again on the first split when its model was dropped, the
-- family's previous model dropped.  False when the budget cannot cover it
-- or the training fails.
CREATE FUNCTION recsys._auto_adopt(n integer, ctx jsonb)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	trial record;
	holder record;
	estimate double precision;
	candidate text := format('%s%s', ctx ->> 'prefix', n);
	r record;
BEGIN
	SELECT t.* INTO trial FROM _recsys_auto_trials t WHERE t.n = _auto_adopt.n;
	IF trial.model IS NOT NULL THEN
		RETURN true;
	END IF;
	estimate := (trial.train_seconds + trial.eval_seconds) * 1.2;
	IF estimate + recsys._auto_reserve(trial.family, trial.params, estimate, true, ctx)
	   > extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp()) THEN
		RETURN false;
	END IF;
	BEGIN
		SELECT * INTO r FROM recsys._tune_candidate(recsys._tune_trainer(trial.algorithm), 'pg_temp._recsys_auto_train',
													'pg_temp._recsys_auto_valid', candidate, trial.params,
													ctx ->> 'metric', (ctx ->> 'k')::integer, 'user_id', 'item_id', NULL);
	EXCEPTION
		WHEN OTHERS THEN
			-- (it trained before: memory or load may differ now)
			RETURN false;
	END;
	FOR holder IN SELECT t.n, t.model FROM _recsys_auto_trials t
				  WHERE t.family = trial.family AND t.model IS NOT NULL LOOP
		PERFORM recsys.drop_model(holder.model);
		UPDATE _recsys_auto_trials t SET model = NULL WHERE t.n = holder.n;
	END LOOP;
	UPDATE _recsys_auto_trials t SET model = candidate WHERE t.n = _auto_adopt.n;
	RETURN true;
END
$$;
COMMENT ON FUNCTION recsys._auto_adopt(integer, jsonb) IS
	'internal: make a train_auto trial its family''s model, trained again if need be';

-- What train_auto's description says of the second round: the settings
-- of the best family's neighbourhood scored on the matched (repeated)
-- splits, the hill climb's moves, the settings the budget cut, and the
-- setting kept: the first round's, or the one it changed to (shown: only
-- the parameters that differ).  centre_cut: the first round's setting
-- itself was not scored on the repeated splits (the budget did not cover
-- its fits there), so nothing was compared and it stays.
CREATE FUNCTION recsys._auto_second_note(family text, scored integer, moves integer, cut integer, splits integer,
										 first_round jsonb, kept jsonb, centre_cut boolean DEFAULT false)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT format('%s: ', family)
		   || CASE WHEN splits = 1 THEN 'no repeated validation split (too few users): '
				   WHEN centre_cut
				   THEN format('the first round''s setting not scored on the %s repeated validation splits (its fits there did not fit the budget; %s neighbouring setting(s) not scored either): ',
							   splits - 1, cut)
				   ELSE format('%s setting(s) of the neighbourhood scored on %s repeated validation splits of the final model''s depth and form (%s move(s))%s, the best mean: ',
							   scored, splits - 1, moves,
							   CASE WHEN cut > 0 THEN format(', %s cut for the budget', cut) ELSE '' END) END
		   || CASE WHEN kept IS NOT DISTINCT FROM first_round THEN 'the first round''s setting kept'
				   ELSE 'changed to ' || (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(kept) e
										 WHERE e.value IS DISTINCT FROM first_round -> e.key)::text END
$$;
COMMENT ON FUNCTION recsys._auto_second_note(text, integer, integer, integer, integer, jsonb, jsonb, boolean) IS
	'internal: train_auto''s sentence on its second round';

-- Each of a family's settings scored on the repeated splits: its values
-- and their mean appended to its trial's status, once (a resumed second
-- round notes only the settings it scored).  The mean shown is the one
-- compared: by the splits' users, as _auto_matched_mean; the users say
-- how much each split counts.
CREATE FUNCTION recsys._auto_note_scores(family text, ctx jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE _recsys_auto_trials t
	SET status = t.status || format('; on validation splits 1 to %s: %s (mean of splits 2 to %s by their validation users, %s, the final model''s depth and form: %s)',
									cardinality(a.v), array_to_string(a.v, ', '), cardinality(a.v),
									a.users, round(a.mean::numeric, 4))
	FROM (SELECT x.n, ARRAY(SELECT round(v::numeric, 4) FROM unnest(recsys._auto_split_values(x.n)) v) AS v,
				 w.mean, w.users
		  FROM (SELECT DISTINCT s.n FROM _recsys_auto_scores s WHERE s.error IS NULL) x,
			   LATERAL (SELECT sum(s.value * u.users) / sum(u.users) AS mean,
							   array_to_string(array_agg(u.users ORDER BY s.split), ' and ') AS users
						FROM _recsys_auto_scores s,
							 LATERAL (SELECT coalesce((ctx -> 'split_users' ->> s.split::text)::double precision, 1)
											 AS users) u
						WHERE s.n = x.n AND s.value IS NOT NULL) w) a
	WHERE t.n = a.n AND t.family = _auto_note_scores.family
	  AND position('; on validation splits 1 to ' IN t.status) = 0;
END
$$;
COMMENT ON FUNCTION recsys._auto_note_scores(text, jsonb) IS
	'internal: a train_auto family''s settings scored on the repeated splits, noted in their status';

-- The second round's record for train_auto's metrics (entry) and its
-- sentence for the description (note): climb is _auto_climb's result
-- (NULL without repeated splits), incumbent the first round's trial, kept
-- the trial the family keeps.  resumed (s12): the round was cut, then run
-- again after the blends with what they left of the budget.
-- (PL/pgSQL, not SQL: its plans follow the temporary tables a second
-- train_auto call in the transaction makes anew; review s13 R3)
CREATE FUNCTION recsys._auto_second_record(family text, climb jsonb, incumbent integer, kept integer, splits integer,
										   OUT entry jsonb, OUT note text)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	SELECT jsonb_build_object(
			   'family', family,
			   'new_settings', (climb -> 'new_settings'),
			   'moves', (climb -> 'moves'),
			   'splits', splits,
			   'first_round', (SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = incumbent),
			   'kept', (SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = kept),
			   -- (in the order of work)
			   'contenders', (SELECT coalesce(jsonb_agg(jsonb_build_object('n', t.n, 'params', t.shown,
																		   'values', to_jsonb(recsys._auto_split_values(t.n)))
														ORDER BY x.o), '[]')
							  FROM jsonb_array_elements_text(coalesce(climb -> 'scored', '[]')) WITH ORDINALITY x(n, o)
								   JOIN _recsys_auto_trials t ON t.n = x.n::integer),
			   'cut', coalesce(climb -> 'cut', '[]'),
			   -- (settings whose fit on a repeated split failed, s13: their
			   -- status says why)
			   'failed', coalesce(climb -> 'failed', '[]'),
			   -- (the first round's setting not scored there: kept unscored)
			   'centre_cut', coalesce((climb ->> 'centre_cut')::boolean, false),
			   -- (the budget check that cut the list: estimate, reserve, seconds left)
			   'cut_check', climb -> 'cut_check',
			   'resumed', coalesce((climb ->> 'resumed')::boolean, false)),
		   recsys._auto_second_note(family,
			   jsonb_array_length(climb -> 'scored'), (climb ->> 'moves')::integer, jsonb_array_length(climb -> 'cut'),
			   splits, (SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = incumbent),
			   (SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = kept),
			   coalesce((climb ->> 'centre_cut')::boolean, false))
		   || CASE WHEN jsonb_array_length(coalesce(climb -> 'failed', '[]')) > 0
				   THEN format(' (%s setting(s) failed on a repeated split: no contender, see their status)',
							   jsonb_array_length(climb -> 'failed')) ELSE '' END
		   || CASE WHEN (climb ->> 'resumed')::boolean
				   THEN ' (the round resumed after the blends with the time they left)' ELSE '' END
	INTO entry, note;
END
$$;
COMMENT ON FUNCTION recsys._auto_second_record(text, jsonb, integer, integer, integer) IS
	'internal: train_auto''s record and sentence of its second round';

-- A candidate's metric for each validation user, in user order (for
-- _auto_paired_z), or NULL when fewer than needed seconds of the budget
-- are left.  metric_name is one of _evaluate_users' columns.
CREATE FUNCTION recsys._auto_user_values(model text, metric_name text, k integer, needed double precision,
										 ctx jsonb)
RETURNS double precision[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp()) < needed THEN
		RETURN NULL;
	END IF;
	RETURN ARRAY(SELECT (to_jsonb(u) ->> metric_name)::double precision
				 FROM recsys._evaluate_users(model, 'pg_temp._recsys_auto_valid', k) u
				 ORDER BY u.user_id);
END
$$;
COMMENT ON FUNCTION recsys._auto_user_values(text, text, integer, double precision, jsonb) IS
	'internal: a train_auto candidate''s metric for each validation user, if the budget allows';

-- The paired z statistic of a gain: the mean over users of extended[i] -
-- base[i] (one user's metric under two models, in the same order) over
-- its standard error (the differences' sample standard deviation over the
-- square root of their number).  Validation users are the sample, so a
-- gain a few users make by chance scores low however large the mean; a
-- gain every user shares scores high however small.  Without spread: +/-
-- Infinity for a gain / loss, 0 for none; NULL below two users or without
-- values (no time left to compute them).  A value that is not finite
-- (NaN > 1.96 is true in PostgreSQL) gives 0: no gain shown.  Arrays of
-- different lengths are an error (users out of step), not "no time left".
CREATE FUNCTION recsys._auto_paired_z(base double precision[], extended double precision[])
RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF base IS NULL OR extended IS NULL THEN
		RETURN NULL;
	END IF;
	IF cardinality(base) OPERATOR(pg_catalog.<>) cardinality(extended) THEN
		RAISE EXCEPTION 'recsys._auto_paired_z: base has % values and extended %: one per user in both',
			cardinality(base), cardinality(extended)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT FROM unnest(base OPERATOR(pg_catalog.||) extended) x
			   WHERE x OPERATOR(pg_catalog.=) ANY ('{NaN,Infinity,-Infinity}'::double precision[])) THEN
		RETURN 0;
	END IF;
	RETURN (SELECT CASE WHEN count(d.v) OPERATOR(pg_catalog.<) 2 THEN NULL
						WHEN stddev_samp(d.v) OPERATOR(pg_catalog.=) 0
						THEN CASE WHEN avg(d.v) OPERATOR(pg_catalog.>) 0 THEN 'Infinity'::double precision
								  WHEN avg(d.v) OPERATOR(pg_catalog.<) 0 THEN '-Infinity'::double precision
								  ELSE 0 END
						ELSE avg(d.v) OPERATOR(pg_catalog./) (stddev_samp(d.v) OPERATOR(pg_catalog./) sqrt(count(d.v))) END
			FROM unnest(base, extended) d0(b, e), LATERAL (SELECT d0.e OPERATOR(pg_catalog.-) d0.b AS v) d);
END
$$;
COMMENT ON FUNCTION recsys._auto_paired_z(double precision[], double precision[]) IS
	'internal: the paired z statistic of a per-user gain (train_auto keeps a blend member only above 1.96)';

-- The least paired z of the best of several correlated gains on the same
-- users (since 0.11.0; doc/internals.md, "train_auto"): base holds the
-- users' values under the blend extended, extended one row per weight
-- scored (the same users' values under the blend at that weight); the
-- threshold is the (1 - alpha) quantile of the largest paired z over the
-- weights when each user's whole gain vector has its sign flipped at
-- random (Westfall and Young's max-T, draws draws of the stream seed),
-- alpha that of the single test at single_z (1 - Phi(single_z)).  One
-- weight gives about single_z back, n identical ones the same, n
-- independent ones about Sidak's value; the weights of a blend are
-- strongly correlated, so it lies near the single test's.  Returned: the
-- least hundredth strictly above the critical maximum, i.e. the largest
-- maximum whose tie still gives a sign-flip p-value (1 + #{maxima >= z})
-- / (draws + 1) above alpha (review s12, W1: with few users moved the
-- maxima have atoms, and a quantile compared with >= kept on a tie: one
-- moved user's z 1 passed a threshold 1 at p 0.5).  NULL below two users
-- or when a value is not finite; single_z when every gain is 0.  From
-- 2,000 users on the flips are drawn from their normal limit (weights^2
-- a draw, not users x weights: review s12 W2).  A loop in C
-- (src/auto_threshold.c, src/kernel/stats.c).
CREATE FUNCTION recsys._auto_max_z_threshold(base double precision[], extended double precision[],
											 single_z double precision, seed bigint, draws integer DEFAULT 10000)
RETURNS double precision
AS 'MODULE_PATHNAME', 'recsys_auto_max_z_threshold'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys._auto_max_z_threshold(double precision[], double precision[], double precision, bigint,
												 integer) IS
	'internal: train_auto''s max-T threshold for the best of several correlated blend weights (sign flips)';

-- The max-T test of the weight in row chosen of extended (1-based), as
-- _auto_max_z_threshold draws it: {p, threshold, z}, p the sign-flip
-- p-value of that row's paired z (1 + #{draws' maxima >= z}) / (draws +
-- 1), kept when p <= alpha = 1 - Phi(single_z); threshold as
-- _auto_max_z_threshold's; z the row's paired z as the draws compute it
-- (the same sums, so a tie with an atom is a tie).  NULL as
-- _auto_max_z_threshold; {1, single_z, 0} when every gain is 0.
CREATE FUNCTION recsys._auto_max_z_test(base double precision[], extended double precision[],
										single_z double precision, seed bigint, chosen integer,
										draws integer DEFAULT 10000)
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'recsys_auto_max_z_test'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys._auto_max_z_test(double precision[], double precision[], double precision, bigint,
											integer, integer) IS
	'internal: train_auto''s max-T test of one of several blend weights: sign-flip p-value, threshold, z';

-- The least paired z a blend member's gain needs (_auto_paired_z) where
-- it is tested: on the repeated splits (matched), ctx's min_z_matched
-- (1 on holdout: a gain one standard error above none, enough when the
-- weight tested is the first split's choice, not chosen on these users)
-- when no users' values are given; else (_auto_matched_weight: one row
-- of scored_users per weight scored on these same users, base_users the
-- values under the blend extended) the max-T threshold of those weights'
-- gains at min_z_matched's level (_auto_max_z_threshold, seed ctx's: the
-- least hundredth above the critical maximum, one weight too: one moved
-- user's z is exactly 1, review s12 W1), and with chosen (the row of the
-- weight tested) the decision is the sign-flip p-value's
-- (_auto_max_z_test): when p > alpha at least a hundredth above the
-- row's z (never kept, whatever the rounding), when p <= alpha at most
-- the row's z rounded down (kept), so that train_auto's z >= min_z is
-- the p-value's decision (NaN, above every z, when p > alpha at an
-- infinite z); never below min_z_matched itself (a
-- weight chosen among several needs at least what one not chosen needs;
-- with one column the sign-flip quantile is min_z_matched up to the
-- draws and the discreteness of few users): the best of several gains
-- overstates what new users would see, but the weights' gains are the
-- same blend at nearby weights, so strongly correlated, and a fixed 1.96
-- (about five independent tests) over-corrected (ml-latest-small
-- strat75: EASE + ALS dropped at z 1.73, s12); the larger of
-- min_z_matched and min_z when no threshold can be drawn (fewer than two
-- users, a value not finite);
-- else on the first split, ctx's min_z (1.96: the best of five weights
-- on the same users, whose gains carry that split's offsets too), but
-- only while the family's setting is the first round's own
-- (first_split_base); NULL, no test and the member not kept, when the
-- setting was chosen on the repeated splits (the first split underrates
-- it there, so a gain over it is partly that offset).
CREATE FUNCTION recsys._auto_blend_min_z(matched boolean, first_split_base boolean, ctx jsonb,
										 base_users double precision[] DEFAULT NULL,
										 scored_users double precision[] DEFAULT NULL,
										 chosen integer DEFAULT NULL)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	-- (level: the max-T's, min_z_selected with two or more weights scored,
	-- else min_z_matched)
	SELECT CASE WHEN matched AND base_users IS NOT NULL AND scored_users IS NOT NULL AND chosen IS NOT NULL
				THEN (SELECT greatest(l.level,
									  CASE WHEN t IS NULL THEN (ctx ->> 'min_z')::double precision
										   -- (an infinite z, every moved user the same gain: no
										   -- number is above it, NaN is above all in SQL)
										   WHEN t[1] > recsys._norm_cdf(-l.level)
										   THEN CASE WHEN t[3] = 'Infinity' THEN 'NaN'
													 ELSE greatest(t[2], floor(t[3] * 100 + 1) / 100 + 0.01) END
										   ELSE least(t[2], floor(t[3] * 100 - 1e-6) / 100) END)
					  FROM (SELECT recsys._auto_max_z_test(base_users, scored_users,
														   l.level,
														   coalesce((ctx ->> 'seed')::bigint, 42), chosen) AS t) x)
				WHEN matched AND base_users IS NOT NULL AND scored_users IS NOT NULL
				THEN greatest(l.level,
							  coalesce(recsys._auto_max_z_threshold(base_users, scored_users,
																	l.level,
																	coalesce((ctx ->> 'seed')::bigint, 42)),
									   (ctx ->> 'min_z')::double precision))
				WHEN matched THEN (ctx ->> 'min_z_matched')::double precision
				WHEN first_split_base THEN (ctx ->> 'min_z')::double precision END
	FROM (SELECT (CASE WHEN array_length(scored_users, 1) > 1 THEN coalesce(ctx ->> 'min_z_selected', ctx ->> 'min_z_matched') ELSE ctx ->> 'min_z_matched' END)::double precision AS level) l
$$;
COMMENT ON FUNCTION recsys._auto_blend_min_z(boolean, boolean, jsonb, double precision[], double precision[],
											 integer) IS
	'internal: the least paired z of a train_auto blend member''s gain, on the repeated splits (calibrated for the weights scored there) or the first, or NULL (not tested)';

-- What train_auto records of a blend member tested: kept when the paired
-- z of its gain (value: the new blend's, over blend_value, the blend it
-- extends) is at least min_z; not kept below, or when z is NULL because
-- no time was left to evaluate the users (_auto_user_values).
CREATE FUNCTION recsys._auto_member_status(z double precision, value double precision,
										   blend_value double precision, min_z double precision)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN z IS NULL THEN 'not kept: no time left to test its gain over the blend it extends'
				ELSE format('%s: gain %s over the blend it extends (%s), paired z %s %s %s',
							CASE WHEN z >= min_z THEN 'kept' ELSE 'not kept' END,
							round((value - blend_value)::numeric, 4), round(blend_value::numeric, 4),
							round(least(z, 1e6)::numeric, 2), CASE WHEN z >= min_z THEN '>=' ELSE '<' END, min_z) END
$$;
COMMENT ON FUNCTION recsys._auto_member_status(double precision, double precision, double precision,
											   double precision) IS
	'internal: train_auto''s verdict on a blend member: kept, not kept, or not tested for lack of time';

-- The name train_auto stores a blend member of model under:
-- <model>_auto_<family>; when that passes the catalog's 63 bytes, model
-- cut at a character boundary followed by the first 8 hex digits of the
-- md5 of the whole name, so that two models sharing a long prefix do not
-- share members (review s11, F5: left(model, 40) made them share, and
-- 40 multi-byte characters passed 63 bytes).
CREATE FUNCTION recsys._auto_member_name(model text, family text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	suffix text := '_auto_' || family;
	head text := model;
BEGIN
	IF octet_length(model || suffix) <= 63 THEN
		RETURN model || suffix;
	END IF;
	suffix := '_' || left(md5(model), 8) || suffix;
	WHILE octet_length(head || suffix) > 63 LOOP
		head := left(head, -1);
	END LOOP;
	RETURN head || suffix;
END
$$;
COMMENT ON FUNCTION recsys._auto_member_name(text, text) IS
	'internal: the model name train_auto gives a blend member of a family (at most 63 bytes, distinct per model)';

-- internal: train a blend member of model (train_auto's winner) under its
-- name (_auto_member_name), replacing what _auto_check_members let
-- through, and record in its metrics (and its version's) the blend it
-- was trained for, which _auto_check_members reads; returns the name
CREATE FUNCTION recsys._auto_keep_member(trainer regprocedure, source regclass, model text, family text,
										 params jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	member text := recsys._auto_member_name(model, family);
	mark jsonb := jsonb_build_object('train_auto_member',
									 jsonb_build_object('blend', _auto_keep_member.model, 'family', family));
BEGIN
	PERFORM recsys._tune_keep(trainer, source, member, params, true);
	UPDATE recsys.model_versions v SET metrics = v.metrics || mark
	WHERE v.model = member AND v.version = (SELECT m.version FROM recsys.models m WHERE m.name = member);
	UPDATE recsys.models m SET metrics = m.metrics || mark WHERE m.name = member;
	RETURN member;
END
$$;
COMMENT ON FUNCTION recsys._auto_keep_member(regprocedure, regclass, text, text, jsonb) IS
	'internal: train one of train_auto''s blend members under its name, recording the blend it belongs to';

-- internal: what storing model's blend members would refuse, checked for
-- every family that may become one before the search trains anything
-- (review s11, F5: the members were written over the owner's unrelated
-- models, and another role's model of a member's name failed the run at
-- its end): another role's model (42501); unless replace, a model
-- train_auto did not train as a member of this model (42809): its
-- metrics record the blend it was trained for (train_auto_member), or,
-- for members trained before 0.11.0, the blend's last run lists it.
CREATE FUNCTION recsys._auto_check_members(model text, families text[], replace boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	family text;
	member text;
	holder text;
BEGIN
	FOREACH family IN ARRAY families LOOP
		member := recsys._auto_member_name(model, family);
		PERFORM recsys._require_model_owner(member, 'train', missing_ok => true);
		SELECT m.metrics -> 'train_auto_member' ->> 'blend' INTO holder FROM recsys.models m WHERE m.name = member;
		IF FOUND AND NOT replace AND holder IS DISTINCT FROM _auto_check_members.model
		   AND NOT EXISTS (SELECT FROM recsys.models p
						   WHERE p.name = _auto_check_members.model AND p.metrics -> 'train_auto' -> 'winner' -> 'members' ? member) THEN
			RAISE EXCEPTION 'model "%" was not trained by train_auto as a member of "%"', member, model
				USING ERRCODE = 'wrong_object_type',
					  DETAIL = format('train_auto stores the members of a blend it chooses as %s, and may retrain this one with another algorithm or source%s.',
									  member, CASE WHEN holder IS NOT NULL THEN format(' (it is a member of "%s")', holder) ELSE '' END),
					  HINT = 'Pass replace => true to let train_auto retrain it, rename or drop it, or choose another model name.';
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION recsys._auto_check_members(text, text[], boolean) IS
	'internal: refuse, before train_auto trains anything, a blend member name its end would refuse or wrongly overwrite';

-- train_auto's item-features check (s14; doc/internals.md, "train_auto"):
-- the item features are a component the search switches off.  When the
-- leader (the best model kept on the first split, held-back families
-- excluded) reads them (ease_features, als_features, BM25 given them)
-- and was not the previous check's lead, its own setting is trained once
-- more without them (an ablation: the features and their weight
-- removed) and both are scored per user on the first split.  The lead
-- keeps them only if the per-user gain's paired z (_auto_paired_z) is at
-- least ctx's min_z (1.96, a blend member's there).  Otherwise every
-- trial reading them is held back (after the second round, the lead's
-- family's alone; _recsys_auto_trials.held_back:
-- ordered last wherever train_auto chooses its leader; they may still
-- join the blend, tested as any member), and the ablation joins the
-- search as a trial of the family the lead is without the features (its
-- twin: ease_features's is ease, or ease_recent on 'last'; als_features'
-- als; BM25's BM25 itself), as the twin's model when it beats the twin's
-- (and always when the twin is the lead's own family, which goes on
-- without them), except that the family the second round chose on the
-- repeated splits (protected) keeps its model unless it is the lead's
-- own (BM25's, whose only model is the lead).  Comparing with the
-- lead's own setting, not with another family's best, keeps the verdict
-- independent of how far the halving searched the other families
-- (review s14-2 T1).  Held back only when the test ran: when the twin is
-- not searched, the features change no validation user's value (BM25's
-- with no item without buyers there), the ablation fails or does not fit
-- the budget (its fit, both evaluations and the lead's retraining on all
-- the data), or fewer than two users are validated, the lead keeps them
-- and 'untested' says why.  Returns the check's record, NULL when there
-- is nothing new to check.  Features that win validation by less than
-- its noise lost on test as often as they gained on the shared splits
-- (ml-latest-small last5: +0.0005, z 0.78 on valid; -0.0010 on test),
-- and they are the input that differs most between shops.
CREATE FUNCTION recsys._auto_features_check(metric_name text, k integer, families text[], protected text,
											previous jsonb, ctx jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	lead record;
	twin text;
	holder record;
	r record;
	off_params jsonb;
	off_model text;
	off_trained boolean := false;
	off_value double precision;
	needed double precision;
	off_users double precision[];
	lead_users double precision[];
	z double precision;
	min_z double precision := (ctx ->> 'min_z')::double precision;
	untested text;
	held boolean := false;
	n integer;
BEGIN
	SELECT t.* INTO lead FROM _recsys_auto_trials t
	WHERE t.model IS NOT NULL AND t.value IS NOT NULL AND t.family <> 'blend' AND NOT t.held_back
	ORDER BY t.value DESC, t.n LIMIT 1;
	IF lead.n IS NULL OR NOT lead.params ? 'features' OR (previous ->> 'n')::integer IS NOT DISTINCT FROM lead.n THEN
		RETURN NULL;
	END IF;
	off_params := lead.params - ARRAY['features', 'feature_weight'];
	-- (the ablation's model is named as the trial it may become)
	SELECT coalesce(max(t.n), 0) + 1 INTO n FROM _recsys_auto_trials t;
	off_model := format('%s%s', ctx ->> 'prefix', n);
	-- (the twin: among the families there are without features (none
	-- reads them then), the one of the lead's algorithm whose fixed
	-- settings the ablation has, the most specific: ease_recent before
	-- ease; searched or not, so that it is named when it is not)
	SELECT f.family INTO twin
	FROM recsys._auto_families(ctx ->> 'protocol', ctx ->> 'time_col', ctx ->> 'weight_col', NULL) f
	WHERE f.algorithm = lead.algorithm AND off_params @> f.fixed
	ORDER BY (SELECT count(*) FROM jsonb_object_keys(f.fixed)) DESC, f.family LIMIT 1;
	-- (its fit about the lead's, both evaluations, the lead's retraining)
	needed := 1.2 * (lead.train_seconds + 3 * lead.eval_seconds
					 + lead.train_seconds * (ctx ->> 'scale')::double precision);
	IF twin IS NULL THEN
		untested := format('no family of %s without them', lead.algorithm);
	ELSIF NOT twin = ANY (families) THEN
		untested := format('its family without them (%s) is not searched', twin);
	ELSIF coalesce(ctx -> 'lighter' ? twin, false) THEN
		-- (review s17 R4: its trials are at the lighter setting, the lead
		-- at the standard one; the ablation would be a standard trial of a
		-- family whose others are lighter, and no like-for-like comparison)
		untested := format('its family without them (%s) runs its lighter setting %s, the lead the standard one',
						   twin, ctx -> 'lighter' -> twin);
	ELSIF extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp()) < needed THEN
		untested := 'no time left for its setting without them';
	ELSE
		BEGIN
			SELECT * INTO r FROM recsys._tune_candidate(recsys._tune_trainer(lead.algorithm), 'pg_temp._recsys_auto_train',
														'pg_temp._recsys_auto_valid', off_model, off_params,
														ctx ->> 'metric', (ctx ->> 'k')::integer, 'user_id', 'item_id', NULL);
			off_trained := true;
			off_value := r.value;
		EXCEPTION
			WHEN OTHERS THEN
				untested := 'its setting without them failed: ' || SQLERRM;
		END;
	END IF;
	IF off_trained THEN
		off_users := recsys._auto_user_values(off_model, metric_name, k, 2 * lead.eval_seconds, ctx);
		lead_users := CASE WHEN off_users IS NOT NULL
						   THEN recsys._auto_user_values(lead.model, metric_name, k, lead.eval_seconds, ctx) END;
		IF lead_users IS NULL THEN
			untested := 'no time left to evaluate both on the validation users';
		ELSIF lead_users = off_users THEN
			untested := 'no validation user''s value changes without them';
		ELSE
			z := recsys._auto_paired_z(off_users, lead_users);
			IF z IS NULL THEN
				untested := 'fewer than 2 validation users';
			ELSE
				held := z < min_z;
			END IF;
		END IF;
	END IF;
	IF held THEN
		-- (after the second round, the lead's family alone: a family whose
		-- features an earlier check kept, the second round's among them,
		-- keeps them; review s14-4 V2)
		UPDATE _recsys_auto_trials t SET held_back = true
		WHERE t.params ? 'features' AND (protected IS NULL OR t.family = lead.family);
		-- (the ablation a trial of the twin, its model when better there,
		-- or always when the twin is the lead's family, unless protected)
		SELECT t.n, t.model, t.value INTO holder FROM _recsys_auto_trials t
		WHERE t.family = twin AND t.model IS NOT NULL;
		-- (BM25 goes on without them even when protected: its model is
		-- the lead held back; review s14-4 V1)
		IF (twin IS DISTINCT FROM protected OR twin = lead.family)
		   AND (holder.n IS NULL OR twin = lead.family
				OR coalesce(off_value, '-Infinity') > coalesce(holder.value, '-Infinity')) THEN
			IF holder.n IS NOT NULL THEN
				PERFORM recsys.drop_model(holder.model);
				UPDATE _recsys_auto_trials t SET model = NULL WHERE t.n = holder.n;
			END IF;
			off_trained := false;
		END IF;
		INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, shown, value, metrics, train_seconds,
										 eval_seconds, model, status)
		VALUES (n, lead.round, twin, lead.algorithm, off_params, off_params - ARRAY['user_col', 'item_col'],
				off_value, r.metrics, r.train_seconds, r.eval_seconds,
				CASE WHEN NOT off_trained THEN off_model END,
				format('trained (%s''s setting without the item features)', lead.family));
	END IF;
	IF off_trained THEN
		PERFORM recsys.drop_model(off_model);
	END IF;
	RETURN jsonb_build_object('n', lead.n, 'with', lead.family, 'value', lead.value, 'without', twin,
							  'without_value', off_value, 'without_params', off_params - ARRAY['user_col', 'item_col'],
							  'z', z, 'min_z', min_z, 'held_back', held, 'untested', untested);
END
$$;
COMMENT ON FUNCTION recsys._auto_features_check(text, integer, text[], text, jsonb, jsonb) IS
	'internal: train_auto''s check that the item features pay (the lead against its own setting without them); holds back the families reading them when not';

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
	replace boolean DEFAULT false,
	families text[] DEFAULT NULL,
	event_col name DEFAULT NULL,
	event_weights jsonb DEFAULT NULL)
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
	families_used text[];
	event_type text;
	bad_weight text;
	columns jsonb;
	ctx jsonb;
	n_rows bigint;
	n_train bigint;
	n_users bigint;
	n_items bigint;
	n_all_items bigint;
	n_valid_users bigint;
	n_valid_users_all bigint;
	n_valid bigint;
	time_unused boolean;
	fam record;
	n_families integer;
	survivors text[];
	next_params jsonb;
	search_round integer := 0;
	per_family integer;
	tried boolean;
	out_of_budget text[] := '{}';
	-- (the families trained at their lighter setting, _auto_families'
	-- lighter: family -> its fixed parameters over the family's; s17)
	lighter_used jsonb := '{}';
	-- (family -> its standard trial's result, 'budget' or 'memory', until
	-- its lighter setting is decided after the first round's others)
	lighter_pending jsonb := '{}';
	pending_reserve double precision := 0;
	-- (the first split's seconds, and the estimate that skipped the
	-- repeated splits: s17)
	split_started timestamptz;
	split_seconds double precision;
	splits_needed double precision;
	splits_skipped jsonb;
	result text;
	top record;
	runner_up record;
	w double precision;
	blend_models text[];
	blend_families text[];
	blend_weights double precision[];
	blend_value double precision;
	blend_seconds double precision;
	best_weight double precision;
	best_value double precision;
	winner record;
	members text[];
	member text;
	-- (the final training refused for recsys.max_memory: review s13 R5)
	refused_message text;
	refused_state text;
	fallback_message text;
	refused_families text[];
	fallback record;
	fallback_found boolean := false;
	-- (the family whose training on all the data is under way: a variable
	-- keeps its value past the rollback of the block that failed)
	training_family text;
	refused_winner_family text;
	refused_winner_value double precision;
	-- (the matched test's base evaluation, measured, per member: review s13 R7)
	matched_member_seconds double precision;
	matched_started timestamptz;
	report jsonb;
	why text;
	version_trained integer;
	final_estimate double precision;
	final_left double precision;
	final_other double precision;
	final_ease double precision;
	final_ease_exact double precision;
	final_write double precision;
	final_keep double precision;
	final_kept_estimate double precision;
	final_load double precision;
	final_note text;
	trial record;
	best_n integer;
	blend_n integer;
	blend_users double precision[];
	member_users double precision[];
	z double precision;
	blend_reserve double precision;
	incumbent integer;
	chosen integer;
	splits_used integer;
	split_users bigint;
	split_rows bigint;
	second_round jsonb := '[]';
	second_note text;
	climb jsonb;
	-- (seconds since the start at the end of each stage, and what the
	-- second round kept for the blends: where the budget went)
	timeline jsonb := '{}';
	second_entry jsonb;
	-- (the family the second round searched)
	climb_family text;
	min_z double precision;
	matched_members text[];
	matched_base text[];
	matched_ext text[];
	matched_base_users double precision[];
	matched_drop text[] := '{}';
	matched_tested boolean;
	weighting jsonb;
	matched_off boolean := false;
	-- (the best family's setting is the first split's choice: blends may
	-- be tested there when the repeated splits' fits do not fit)
	first_split_base boolean := true;
	-- (the item features' check, _auto_features_check; s14)
	features_check jsonb;
	second_check jsonb;
BEGIN
	PERFORM recsys._require_writable('recsys.train_auto()');
	IF source IS NULL OR model IS NULL OR budget IS NULL OR metric IS NULL OR user_col IS NULL
		OR item_col IS NULL OR seed IS NULL OR replace IS NULL THEN
		RAISE EXCEPTION 'arguments of train_auto must not be NULL (protocol, features, time_col, weight_col, families, event_col and event_weights may be)'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF budget <= interval '0' OR budget > interval '30 days' THEN
		RAISE EXCEPTION 'budget must be greater than 0 and at most 30 days, not %', budget
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example ''5 minutes''.';
	END IF;
	-- (review s8, 7 and 8: checked before the search, not by its end)
	IF array_ndims(families) > 1 THEN
		RAISE EXCEPTION 'families must be a one-dimensional array of family names'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example ''{popular,ease}''.';
	END IF;
	PERFORM recsys._require_id_column(source, user_col, 'user_col');
	PERFORM recsys._require_id_column(source, item_col, 'item_col');
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
	IF model = '' OR octet_length(model) > 63 THEN
		RAISE EXCEPTION 'model must be a name of 1 to 63 bytes, not "%" (% bytes)', model, octet_length(model)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM recsys._require_column(source, user_col, 'user_col');
	PERFORM recsys._require_column(source, item_col, 'item_col');
	IF time_col IS NOT NULL THEN
		PERFORM recsys._require_column(source, time_col, 'time_col');
	END IF;
	IF weight_col IS NOT NULL THEN
		PERFORM recsys._require_column_type(source, weight_col, 'weight_col', 'weight');
	END IF;
	-- (review s11, F6: what every candidate reading them would fail on,
	-- checked before the search, as the trainers check them: a failed
	-- candidate only ends the search as "no candidate within the budget",
	-- or leaves the family out without a word)
	IF features IS NOT NULL THEN
		PERFORM recsys._require_column(features, item_col, 'item_col (the features relation''s item column is named like the source''s)');
		PERFORM recsys._require_column(features, 'feature', 'features (a relation with a column named "feature"; a view can rename one)');
	END IF;
	IF weight_col IS NOT NULL THEN
		EXECUTE format('SELECT format(''weight column "%%s" holds %%s for user %%s and item %%s'', $1, r.%1$I, r.%2$I, r.%3$I) '
					   'FROM %4$s r WHERE r.%1$I::float8 = ANY (''{NaN,Infinity,-Infinity}''::float8[]) '
					   'OR abs(r.%1$I::float8) > 3.4028234663852886e38 LIMIT 1',
					   weight_col, user_col, item_col, source)
		INTO bad_weight USING weight_col;
		IF bad_weight IS NOT NULL THEN
			RAISE EXCEPTION '%', bad_weight
				USING ERRCODE = 'data_exception',
					  DETAIL = 'Weights must be finite numbers within the range of real.',
					  HINT = 'Filter such rows out with a view, or use NULL to skip them.';
		END IF;
	END IF;
	-- event weights: the trainers' own map, checked here once (every
	-- candidate would fail on it) and given to every family whose trainer
	-- weighs events
	IF (event_col IS NULL) <> (event_weights IS NULL) THEN
		RAISE EXCEPTION 'event_col and event_weights go together'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example event_col => ''kind'', event_weights => ''{"view": 1, "purchase": 10}''.';
	END IF;
	IF event_col IS NOT NULL THEN
		PERFORM recsys._require_column(source, event_col, 'event_col');
		IF jsonb_typeof(event_weights) <> 'object' OR event_weights = '{}' THEN
			RAISE EXCEPTION 'event_weights must be a non-empty JSON object of event type: weight, not %', event_weights
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT e.key INTO event_type FROM jsonb_each(event_weights) e
		WHERE jsonb_typeof(e.value) <> 'number' OR NOT e.value::text::numeric BETWEEN 0 AND 1000 LIMIT 1;
		IF event_type IS NOT NULL THEN
			RAISE EXCEPTION 'event_weights gives event type "%" weight %, not a number in [0, 1000]',
				event_type, event_weights -> event_type
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF NOT EXISTS (SELECT FROM jsonb_each(event_weights) e WHERE e.value::text::numeric > 0) THEN
			RAISE EXCEPTION 'event_weights must give some event type a weight above 0'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		EXECUTE format('SELECT r.%1$I::text FROM %2$s r WHERE r.%1$I IS NOT NULL AND NOT $1 ? r.%1$I::text LIMIT 1',
					   event_col, source)
		INTO event_type USING event_weights;
		IF event_type IS NOT NULL THEN
			RAISE EXCEPTION 'event_weights has no weight for event type "%" of column "%"', event_type, event_col
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Give every event type a weight, 0 to leave it out.';
		END IF;
	END IF;
	-- a model trained by hand is replaced only when asked; one train_auto
	-- trained before is its own to retrain (whatever algorithm wins now)
	PERFORM recsys._require_model_owner(model, 'train', missing_ok => true);
	PERFORM recsys._require_train_privileges('recsys.train_auto()');
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
	-- the families searched: those named, else every one not optional
	-- (a name must be one of this call's families: features and the
	-- protocol enable some)
	-- (and, with event weights, those whose trainer weighs events: the
	-- others would count a view as a purchase)
	families_used := ARRAY(SELECT f.family FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
						   WHERE CASE WHEN families IS NULL THEN NOT f.optional ELSE f.family = ANY (families) END
							 AND (event_col IS NULL
								  OR (SELECT 'event_col' = ANY (p.proargnames) FROM pg_proc p
									  WHERE p.oid = recsys._tune_trainer(f.algorithm))));
	IF families IS NOT NULL AND (cardinality(families) = 0 OR array_position(families, NULL) IS NOT NULL
								 OR EXISTS (SELECT FROM unnest(families) n WHERE NOT n = ANY (families_used))) THEN
		-- (with event_col, say which families it leaves out and why)
		RAISE EXCEPTION 'families must name some of %, not %',
			(SELECT string_agg(f.family, ', ') FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
			 WHERE event_col IS NULL OR (SELECT 'event_col' = ANY (p.proargnames) FROM pg_proc p
										 WHERE p.oid = recsys._tune_trainer(f.algorithm)))
			|| COALESCE((SELECT format(' (event_col leaves out %s: their trainers do not weigh event types, so they would count a view as a purchase)',
									string_agg(f.family, ', '))
					  FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
					  WHERE event_col IS NOT NULL AND NOT (SELECT 'event_col' = ANY (p.proargnames) FROM pg_proc p
														   WHERE p.oid = recsys._tune_trainer(f.algorithm))
					  HAVING count(*) > 0), ''),
			families
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The families depend on the protocol (ease_recent, ease_basket: last), on features (ease_features, als_features) and on event_col (only families whose trainer weighs event types); NULL tries every one not optional.';
	END IF;

	-- the names a blend winner's members would be stored under (review
	-- s11, F5: checked here, not by the end)
	PERFORM recsys._auto_check_members(model, families_used, replace);

	-- the split: validation pairs, and the source's rows without them
	-- (a second call in one transaction: its tables go first, and so does
	-- any table of these names made otherwise: review s13-2 F5, F6, a
	-- table planted by another role of the session (a trigger, or a view
	-- calling its function) would run as this caller, a definer
	-- wrapper's rights; each is dropped whatever else exists (DROP TABLE
	-- refuses a view or another role's table: an error, nothing run) and
	-- made anew.  The helpers reading them are PL/pgSQL, whose plans
	-- follow the new tables: review s13 R3)
	FOREACH member IN ARRAY ARRAY['_recsys_auto_split', '_recsys_auto_train', '_recsys_auto_valid',
								  '_recsys_auto_trials', '_recsys_auto_scores', '_recsys_auto_train_2',
								  '_recsys_auto_valid_2', '_recsys_auto_train_3', '_recsys_auto_valid_3'] LOOP
		IF to_regclass('pg_temp.' || member) IS NOT NULL THEN
			EXECUTE format('DROP TABLE pg_temp.%I', member);
		END IF;
	END LOOP;
	split_started := clock_timestamp();
	IF protocol_used = 'last' THEN
		CREATE TEMP TABLE _recsys_auto_split ON COMMIT DROP AS
		SELECT * FROM recsys.split_last(source, time_col, 5, 10, user_col, item_col);
	ELSE
		CREATE TEMP TABLE _recsys_auto_split ON COMMIT DROP AS
		SELECT * FROM recsys.split_holdout(source, 0.25, seed, 4, user_col, item_col);
	END IF;
	SELECT count(*), count(*) FILTER (WHERE s.is_test), count(DISTINCT s.user_id) FILTER (WHERE s.is_test),
		   count(DISTINCT s.item_id)
	INTO n_rows, n_valid, n_valid_users, n_all_items FROM _recsys_auto_split s;
	IF n_rows = 0 THEN
		RAISE EXCEPTION 'source "%" has no interactions to train on', source
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF n_valid = 0 AND protocol_used = 'last' THEN
		-- (split_last holds out by time: a time column without a value
		-- leaves no user to validate on, however many rows each has)
		EXECUTE format('SELECT NOT EXISTS (SELECT FROM %s r WHERE r.%I IS NOT NULL)', source, time_col)
		INTO time_unused;
		IF time_unused THEN
			RAISE EXCEPTION 'time_col "%" of "%" is NULL on every row: protocol last has no time to validate by', time_col, source
				USING ERRCODE = 'null_value_not_allowed',
					  DETAIL = 'Protocol last holds out the 5 latest items of users with at least 10, by time_col.',
					  HINT = 'Fill time_col, or pass protocol => ''holdout'' (random held-out items, no time needed).';
		END IF;
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
	-- (at most 10,000 validation users scored, _auto_sample_users; the
	-- others' held-out pairs go back to the train part)
	SELECT u.users, u.sampled_from INTO n_valid_users, n_valid_users_all
	FROM recsys._auto_sample_users('_recsys_auto_valid', seed) u;
	IF n_valid_users < n_valid_users_all THEN
		SELECT count(*) INTO n_valid FROM _recsys_auto_valid;
	END IF;
	-- (only the columns the trainers read, each once: SELECT on them
	-- suffices, as for the trainers; _auto_split copies these)
	EXECUTE format('CREATE TEMP TABLE _recsys_auto_train ON COMMIT DROP AS '
				   'SELECT %s FROM %s r WHERE NOT EXISTS (SELECT FROM pg_temp._recsys_auto_valid v '
				   'WHERE v.user_id = r.%I::bigint AND v.item_id = r.%I::bigint)',
				   (SELECT string_agg(format('r.%I', c.name), ', ' ORDER BY c.o)
					FROM (SELECT a.name, min(a.o) AS o
						  FROM unnest(ARRAY[user_col, item_col, time_col, weight_col, event_col])
							   WITH ORDINALITY AS a(name, o)
						  WHERE a.name IS NOT NULL GROUP BY a.name) c),
				   source, user_col, item_col);
	-- (serving reads a user's rows of the source: recency-weighted and
	-- neighbourhood models when evaluated)
	EXECUTE format('CREATE INDEX ON pg_temp._recsys_auto_train (%I)', user_col);
	ANALYZE pg_temp._recsys_auto_train;
	-- (the train part's pairs: the split's not validated, which with the
	-- users cut above includes the held-out pairs of the users not kept;
	-- review s16 R2: not by rewriting the split's rows)
	SELECT count(*), count(DISTINCT s.user_id), count(DISTINCT s.item_id)
	INTO n_train, n_users, n_items FROM _recsys_auto_split s
	WHERE NOT EXISTS (SELECT FROM _recsys_auto_valid v WHERE v.user_id = s.user_id AND v.item_id = s.item_id);
	split_seconds := extract(epoch FROM clock_timestamp() - split_started);
	CREATE TEMP TABLE _recsys_auto_trials (
		n integer PRIMARY KEY, round integer, family text, algorithm text, params jsonb, shown jsonb,
		value double precision, metrics jsonb, train_seconds double precision,
		eval_seconds double precision, modelled double precision, model text, status text,
		-- (a trial reading the item features after a check found their
		-- gain over the lead's own setting without them not significant:
		-- it does not lead, it may still join a blend;
		-- _auto_features_check, s14)
		held_back boolean NOT NULL DEFAULT false) ON COMMIT DROP;
	-- (the second round's scores on repeated splits: _auto_rescore;
	-- seconds: training and scoring, train_seconds: training alone;
	-- error: the fit failed there, its message, value NULL; s13)
	CREATE TEMP TABLE _recsys_auto_scores (
		n integer, split integer, value double precision, seconds double precision, model text, error text,
		train_seconds double precision, PRIMARY KEY (n, split)) ON COMMIT DROP;

	columns := jsonb_build_object('user_col', user_col, 'item_col', item_col)
			   || CASE WHEN event_col IS NOT NULL
					   THEN jsonb_build_object('event_col', event_col, 'event_weights', event_weights) ELSE '{}' END;
	ctx := jsonb_build_object(
		'deadline', started + budget, 'metric', metric, 'k', k,
		-- (what _auto_features_check reads _auto_families with)
		'protocol', protocol_used, 'time_col', time_col, 'weight_col', weight_col,
		'rows', n_train, 'users', n_users, 'items', n_items, 'valid_users', n_valid_users,
		'scale', n_rows::double precision / n_train,
		-- an exact EASE fit against a compact one's seconds (the solve is
		-- the same, the writing ten times more)
		'exact_factor', 2.5,
		-- and its writing at least: 4e-7 s a weight unloaded (ml-latest-
		-- small's exact model, 77M weights, 20-40 s mostly writing) times
		-- the catalogue's items squared, times the load factor when used
		-- (_auto_keep_seconds)
		'ease_write_exact', 4e-7 * power(n_all_items, 2),
		-- (the catalogue's items: a setting with max_items writes fewer,
		-- _auto_capped_ctx)
		'all_items', n_all_items,
		-- a blend member's least paired z (_auto_paired_z): 1.96, the
		-- two-sided 5 % level (one-sided 2.5 %, strict enough for the best
		-- of five weights)
		'min_z', 1.96,
		-- on the repeated splits, when the weight tested is the first
		-- split's choice (the only one scored there): 1, a gain one standard
		-- error above none (doc/internals.md, "train_auto"); on protocol
		-- last 1.96 (0.11.0): its split 2 is the first split, whose users
		-- the weight was chosen on.  A weight chosen there among several
		-- (_auto_matched_weight) is tested at the max-T threshold of those
		-- weights at this one's level (_auto_blend_min_z)
		'min_z_matched', CASE WHEN protocol_used = 'last' THEN 1.96 ELSE 1.0 END,
		-- the level of the max-T test of two or more weights scored on the
		-- repeated splits (_auto_blend_min_z; one weight: min_z_matched's):
		-- 1 on both protocols.  On
		-- 'last' min_z_matched's 1.96 stands for the selection of the
		-- weight among five on the first split's users, which the max-T
		-- over those five weights on the same users now accounts for
		-- itself (it controls the chance that any of them passes, however
		-- the one tested was chosen); at 1.96's level it counted that
		-- selection twice (2.3-2.4 for five correlated weights)
		'min_z_selected', 1.0,
		-- a name of this backend's own, so concurrent searches do not collide
		'prefix', format('_recsys_auto_%s_%s_', pg_backend_pid(), txid_current()));

	-- round 0: each family's strongest known setting, the cheapest family
	-- first, so that the measured seconds correct the costs of the dearer
	-- ones before they start; each family's modelled seconds doubled per
	-- place in the strength order, so that a dear weak family (BPR) does
	-- not spend, before the strong ones start, the time they need
	SELECT count(*) INTO n_families FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
	WHERE f.family = ANY (families_used);
	FOR fam IN SELECT f.* FROM recsys._auto_families(protocol_used, time_col, weight_col, features)
						  WITH ORDINALITY f
			   WHERE f.family = ANY (families_used)
			   ORDER BY recsys._auto_cost(f.cost, ctx) * power(2, f.ordinality - 1), f.ordinality LOOP
		next_params := recsys._auto_next(fam.family, columns || fam.fixed, fam.seeds, fam.steps);
		-- (the trials after a pending lighter one keep time for it: its
		-- modelled seconds and its training on all the data; review s17 Q1)
		result := recsys._auto_trial(fam.family, fam.algorithm, next_params, fam.cost, 0,
									 ctx || jsonb_build_object('extra_reserve', pending_reserve));
		-- (a family with a lighter setting whose standard one does not
		-- fit the budget or recsys.max_memory is decided after the others,
		-- below)
		-- (and only when the lighter setting changes the model: EASE's
		-- max_items must be below the catalog's items, s18)
		IF result IN ('budget', 'memory') AND fam.lighter IS NOT NULL
		   AND coalesce((fam.lighter -> 'fixed' ->> 'max_items')::double precision
						< (ctx ->> 'items')::double precision, true) THEN
			lighter_pending := lighter_pending || jsonb_build_object(fam.family, result);
			pending_reserve := pending_reserve + recsys._auto_cost(fam.lighter -> 'cost', ctx)
											   * (1 + 1.2 * (ctx ->> 'scale')::double precision);
		ELSIF result = 'budget' THEN
			out_of_budget := out_of_budget || fam.family;
		END IF;
	END LOOP;
	-- the lighter settings (_auto_families; s17): a family whose standard
	-- setting did not fit the budget or recsys.max_memory is tried at its
	-- lighter setting, which its other trials then keep: on a large source
	-- a real model, where the standard one left popularity alone.  After
	-- the round's other families, so that the cheap ones, popularity (the
	-- floor) among them, are not crowded out by its final training kept in
	-- reserve.  The standard setting is not tried again at the estimate
	-- their seconds calibrate (review s17 R2): on 14.7M pairs BM25's cost
	-- model, ten times its measured seconds, pulled that calibration to
	-- 0.45, the standard ALS then fitted once (81 s against 51 estimated)
	-- and left no time for its second seed, the one that works there
	-- (validation 0.0648 against 0.1755 for the lighter one searched; test
	-- 0.0710 against 0.2203)
	FOR fam IN SELECT f.* FROM recsys._auto_families(protocol_used, time_col, weight_col, features)
						  WITH ORDINALITY f
			   WHERE lighter_pending ? f.family ORDER BY f.ordinality LOOP
		next_params := recsys._auto_next(fam.family, columns || fam.fixed || (fam.lighter -> 'fixed'),
										 fam.seeds, fam.steps);
		-- (its estimate the cost model at least, not below it by the
		-- other families' calibration: on 14.7M pairs BM25's cost model
		-- ten times its seconds pulled it to 0.45, the lighter ALS
		-- estimated at 18 s took 36-39; and no time kept for blends: a
		-- family without a model is worth more than three blend
		-- evaluations of the others; review s17 Q1, Q2)
		result := recsys._auto_trial(fam.family, fam.algorithm, next_params, fam.lighter -> 'cost', 0,
									 ctx || jsonb_build_object('calibration_floor', 1, 'no_blend_reserve', true));
		pending_reserve := greatest(pending_reserve - recsys._auto_cost(fam.lighter -> 'cost', ctx)
													  * (1 + 1.2 * (ctx ->> 'scale')::double precision), 0);
		-- (kept when it trained: review s17 R1, a lighter trial that
		-- failed is no lighter setting in use)
		IF result IN ('ok', 'worse') THEN
			lighter_used := lighter_used || jsonb_build_object(fam.family, fam.lighter -> 'fixed');
		END IF;
		IF result = 'budget' THEN
			out_of_budget := out_of_budget || fam.family;
		END IF;
	END LOOP;
	-- (the features check reads which families run lighter: review s17 R4)
	ctx := ctx || jsonb_build_object('lighter', lighter_used);
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
		FOR fam IN SELECT f.* FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
				   WHERE f.family = ANY (families_used) LOOP
			-- (a family that no longer fits the budget stays out: time only shrinks)
			CONTINUE WHEN NOT fam.family = ANY (survivors) OR fam.family = ANY (out_of_budget);
			FOR i IN 1..per_family LOOP
				next_params := recsys._auto_next(fam.family, columns || fam.fixed || coalesce(lighter_used -> fam.family, '{}'),
												 fam.seeds, fam.steps);
				EXIT WHEN next_params IS NULL;
				result := recsys._auto_trial(fam.family, fam.algorithm, next_params,
											 CASE WHEN lighter_used ? fam.family THEN fam.lighter -> 'cost' ELSE fam.cost END,
											 search_round, ctx);
				IF result = 'budget' THEN
					out_of_budget := out_of_budget || fam.family;
					EXIT;
				END IF;
				tried := true;
			END LOOP;
		END LOOP;
		EXIT WHEN NOT tried;
	END LOOP;

	-- the item features are a component the search switches off
	-- (_auto_features_check; doc/internals.md, "train_auto", s14): when
	-- the lead reads them and its gain over its own setting without them
	-- is not significant on the first split's users, every family reading
	-- them is held back (ordered last wherever the leader is chosen) and
	-- may still join the blend, where its gain is tested as any member's;
	-- the setting without them joins the search
	timeline := jsonb_build_object('split', split_seconds, 'first_round', extract(epoch FROM clock_timestamp() - started));
	features_check := recsys._auto_features_check(metric_name, k, families_used, NULL, NULL, ctx);
	IF features_check IS NOT NULL THEN
		timeline := timeline || jsonb_build_object('features_check', extract(epoch FROM clock_timestamp() - started));
	END IF;

	-- the second round (doc/internals.md, "train_auto"): the best
	-- family's setting chosen on repeated validation splits whose train
	-- part has nearly the final model's depth, each setting trained in the
	-- final model's form (_auto_split: a random tenth of each user's items
	-- held out, or on 'last' the 5 items before the held-out ones;
	-- _auto_rescore: compact EASE trained exact), by their mean alone (the
	-- first split's depth and form offset it).  The settings compared are
	-- fixed by the data, not by the time: the first round's best (the
	-- centre), then its neighbourhood (_auto_neighbours: one rung each way
	-- per parameter on the steps bisected once), each trained on the
	-- first split (a trial) and on both repeated splits (_auto_climb: the
	-- centre first, then in the order of the first split's values); when
	-- a neighbour's mean beats the centre's it becomes the centre and its
	-- new neighbours follow (one move at most).  The budget only
	-- truncates that list: the first setting
	-- that does not fit ends the round, and the report lists the settings
	-- cut.  Time is kept for the blends after it (about four evaluations
	-- of each pair of the best model and another family's on the first
	-- split, and the other families' best models trained on the two
	-- repeated splits, where the blends are tested)
	blend_reserve := 4 * coalesce((SELECT sum(t.eval_seconds + b.eval_seconds)
								   FROM _recsys_auto_trials t,
										(SELECT u.eval_seconds FROM _recsys_auto_trials u WHERE u.model IS NOT NULL
										 ORDER BY u.held_back, u.value DESC NULLS LAST, u.n LIMIT 1) b
								   WHERE t.model IS NOT NULL AND t.value IS NOT NULL), 0)
					 + 2 * coalesce((SELECT sum(recsys._auto_rescore_seconds(o.params, o.train_seconds, o.eval_seconds, ctx))
									 FROM (SELECT t.* FROM _recsys_auto_trials t
										   WHERE t.model IS NOT NULL AND t.value IS NOT NULL
										   ORDER BY t.held_back, t.value DESC, t.n OFFSET 1 LIMIT 3) o), 0);
	timeline := timeline || jsonb_build_object('blend_reserve', blend_reserve);
	FOR fam IN SELECT f.*, b.value AS best_value
			   FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
			   JOIN (SELECT t.family, t.value FROM _recsys_auto_trials t
					 WHERE t.model IS NOT NULL AND t.value IS NOT NULL
					 ORDER BY t.held_back, t.value DESC, t.n LIMIT 1) b ON b.family = f.family LOOP
		SELECT t.n INTO incumbent FROM _recsys_auto_trials t WHERE t.family = fam.family AND t.model IS NOT NULL;
		splits_used := 1;
		-- (the repeated splits are made when the time left allows, at
		-- least, making both, the first round's setting's fits on both, as
		-- the round estimates them, and its training on all the data:
		-- short of that neither the round nor a blend's test there can
		-- score anything on them, however the blends end.  On a small
		-- source they take a second or two; on 19.3M pairs about a minute
		-- each, which the search had spent for nothing; s17.  Each holdout
		-- split about as long as the first; on 'last' both together (split
		-- 2 copies the first split's parts, split 3 is the global cut: 0.27
		-- and 0.63 s against the first's 1.39 s, review s17 R3))
		splits_needed := CASE WHEN protocol_used = 'last' THEN 1 ELSE 2 END * split_seconds
						 + 2 * coalesce(recsys._auto_fit_estimate(incumbent, ctx), 0)
						 + (SELECT t.train_seconds * (ctx ->> 'scale')::double precision * 1.2
							FROM _recsys_auto_trials t WHERE t.n = incumbent);
		IF extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp()) < splits_needed THEN
			splits_skipped := jsonb_build_object(
				'needed', round(splits_needed::numeric, 1),
				'left', round(greatest(extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp()), 0)::numeric, 1),
				'split_seconds', round(split_seconds::numeric, 1));
		END IF;
		FOR j IN 2..3 LOOP
			EXIT WHEN splits_skipped IS NOT NULL;
			split_users := recsys._auto_split(j, protocol_used, source, seed, user_col, item_col, time_col);
			EXIT WHEN split_users < 2;
			-- (each split's users: the matched mean counts a split by them)
			ctx := ctx || jsonb_build_object('split_users', coalesce(ctx -> 'split_users', '{}')
															|| jsonb_build_object(j::text, split_users));
			-- (the data's rows over the split's train rows, the larger of
			-- the two: what a fit measured there scales by to all the data,
			-- _auto_exact_seconds)
			-- (distinct pairs, as n_rows counts them: a source logging a
			-- pair several times would otherwise shrink the ratio; review
			-- s13-2 F4)
			-- (sorted, not hashed: see split_holdout)
			EXECUTE format('SELECT count(*) FROM (SELECT DISTINCT ON (1, 2) r.%I, r.%I FROM pg_temp.%I r ORDER BY 1, 2) d',
						   user_col, item_col, '_recsys_auto_train_' || j) INTO split_rows;
			ctx := ctx || jsonb_build_object('repeated_scale',
											 greatest(coalesce((ctx ->> 'repeated_scale')::double precision, 0),
													  n_rows::double precision / greatest(split_rows, 1)));
			splits_used := j;
		END LOOP;
		climb := CASE WHEN splits_used = 3
					  THEN recsys._auto_climb(fam.family, fam.algorithm, fam.steps,
											  CASE WHEN lighter_used ? fam.family THEN fam.lighter -> 'cost' ELSE fam.cost END,
											  incumbent, search_round + 1,
											  blend_reserve, ctx) END;
		chosen := (climb ->> 'chosen')::integer;
		-- the family's setting: the best mean over the repeated splits;
		-- without them, the first round's
		IF chosen IS NULL THEN
			chosen := incumbent;
		END IF;
		IF NOT recsys._auto_adopt(chosen, ctx) THEN
			chosen := (SELECT t.n FROM _recsys_auto_trials t WHERE t.family = fam.family AND t.model IS NOT NULL);
		END IF;
		first_split_base := chosen = incumbent;
		PERFORM recsys._auto_note_scores(fam.family, ctx);
		SELECT r.entry, r.note INTO second_entry, second_note
		FROM recsys._auto_second_record(fam.family, climb, incumbent,
										(SELECT t.n FROM _recsys_auto_trials t WHERE t.family = fam.family AND t.model IS NOT NULL),
										splits_used) r;
		IF splits_skipped IS NOT NULL THEN
			second_entry := second_entry || jsonb_build_object('splits_skipped', splits_skipped);
			second_note := format('%s: no repeated validation split (no time: making them (the first split took %s s), the first round''s setting''s fits there and its training on all the data need %s s, %s s were left): the first round''s setting kept',
								  fam.family, splits_skipped -> 'split_seconds', splits_skipped -> 'needed', splits_skipped -> 'left');
		END IF;
		second_round := second_round || second_entry;
		climb_family := fam.family;
	END LOOP;

	timeline := timeline || jsonb_build_object('second_round', extract(epoch FROM clock_timestamp() - started));

	-- blend the families when that helps on validation, by forward
	-- selection (Caruana et al. 2004): from the best family's model, add
	-- the next best family's (held-back ones last, below) with the weight
	-- (against the first's 1) that scores best, when that beats the blend
	-- it extends significantly;
	-- then the next family's, up to four members.  Significantly: the
	-- paired z of the gain over the validation users (_auto_paired_z) at
	-- least _auto_blend_min_z's: on the repeated splits 1 (holdout) for
	-- the first split's weight, the max-T threshold of the weights scored
	-- there for the best of several, on the first split 1.96; a member
	-- whose gain a few users make by chance (the best of five weights on
	-- the same users, at that) would cost on new data what it seemed to
	-- gain (online-retail strat75: BPR kept for +0.3 %, test -1 %).  The
	-- blend's users' values are evaluated once more per member
	-- (_evaluate_users), within the budget.
	-- First, the leader may have changed in the second round, which moves
	-- its family to a setting it prefers on the repeated splits: if it
	-- now reads the item features and was not checked, it is checked here
	-- (review s14 S4, s14-2 T5); the second round's family keeps the
	-- setting it chose there, and the first check's record is kept under
	-- 'earlier' (review s14-3 U3, U6)
	second_check := recsys._auto_features_check(metric_name, k, families_used, climb_family, features_check, ctx);
	IF second_check IS NOT NULL THEN
		features_check := second_check
						  || CASE WHEN features_check IS NOT NULL
								  THEN jsonb_build_object('earlier', features_check) ELSE '{}' END;
		timeline := timeline || jsonb_build_object('features_recheck', extract(epoch FROM clock_timestamp() - started));
	END IF;
	SELECT t.* INTO top FROM _recsys_auto_trials t WHERE t.model IS NOT NULL
	ORDER BY t.held_back, t.value DESC NULLS LAST, t.n LIMIT 1;
	IF top.n IS NULL THEN
		RAISE EXCEPTION 'train_auto found no candidate within the budget of %', budget
			USING ERRCODE = 'program_limit_exceeded',
				  DETAIL = (SELECT string_agg(format('%s: %s', t.family, t.status), '; ' ORDER BY t.n)
							FROM _recsys_auto_trials t),
				  HINT = 'Raise the budget (or recsys.max_memory).';
	END IF;
	blend_models := ARRAY[top.model];
	blend_families := ARRAY[top.family];
	blend_weights := ARRAY[1];
	blend_value := top.value;
	blend_seconds := top.eval_seconds;
	blend_n := NULL;
	result := NULL;
	-- (families reading held-back item features last, as the blend
	-- reserve above counts them: their features' gain was not
	-- significant, and a member tested first takes the time of those
	-- after it; s15)
	FOR runner_up IN SELECT t.* FROM _recsys_auto_trials t
					 WHERE t.model IS NOT NULL AND t.n <> top.n AND t.value IS NOT NULL AND top.value IS NOT NULL
					   AND t.family <> 'blend'
					 ORDER BY t.held_back, t.value DESC, t.n LOOP
		EXIT WHEN cardinality(blend_models) >= 4 OR result = 'budget';
		best_n := NULL;
		best_weight := NULL;
		best_value := blend_value;
		-- (a member that improves the blend at neither of the first two
		-- weights, 0.5 and 1, is not tried at the others: a gain at one of
		-- them would be too small to be kept, and the five weights of every
		-- family would leave the second round no time)
		FOREACH w IN ARRAY ARRAY[0.5, 1, 0.3, 0.7, 1.3] LOOP
			EXIT WHEN best_n IS NULL AND w = 0.3;
			result := recsys._auto_trial('blend', 'blend',
										 jsonb_build_object('members', to_jsonb(blend_models || runner_up.model),
															'weights', to_jsonb(blend_weights || w)),
										 jsonb_build_object('seconds', blend_seconds + runner_up.eval_seconds),
										 search_round + 2, ctx, blending => true,
										 shown => jsonb_build_object('members', to_jsonb(blend_families || runner_up.family),
																	 'weights', to_jsonb(blend_weights || w)));
			EXIT WHEN result = 'budget';
			SELECT t.* INTO trial FROM _recsys_auto_trials t ORDER BY t.n DESC LIMIT 1;
			IF trial.value > best_value THEN
				best_n := trial.n;
				best_value := trial.value;
				best_weight := w;
			END IF;
		END LOOP;
		CONTINUE WHEN best_n IS NULL;
		-- the gain's paired z over the validation users: those of the
		-- blend it extends (once: of the best model alone) and of the new
		-- blend (the best blend so far: its model is the one kept), each
		-- evaluated when the time left allows it besides retraining the
		-- members on all the data (compact: the least the end needs)
		SELECT t.* INTO trial FROM _recsys_auto_trials t WHERE t.n = best_n;
		SELECT sum(t.train_seconds) * (ctx ->> 'scale')::double precision * 1.2 INTO final_other
		FROM _recsys_auto_trials t WHERE t.model = ANY (blend_models || runner_up.model);
		z := NULL;
		matched_tested := false;
		IF splits_used = 3 AND NOT matched_off THEN
			-- with the repeated splits (the second round's): the member's
			-- weight chosen on them among those the first split tried
			-- (0.11.0; fresh users' items, the final model's depth and form:
			-- the member's gain on the first split carries that split's
			-- offsets), each member trained on both (_auto_rescore, kept);
			-- the per-user gain averaged over the two splits, its paired z
			-- at least min_z_matched (1 on holdout) when one weight was
			-- scored there (no selection on these users), else at least
			-- the max-T threshold of the weights scored there at that
			-- level (the best of several is tested on the users it was
			-- chosen on; their gains are strongly correlated, so the
			-- threshold stays near the single test's, s12;
			-- _auto_blend_min_z, set again below); when the budget
			-- cannot cover the members' fits there, tested on the first
			-- split as before if the base is the first split's choice,
			-- else not kept
			min_z := recsys._auto_blend_min_z(true, first_split_base, ctx);
			IF matched_base IS NULL THEN
				PERFORM recsys._auto_rescore(top.n, 2, ctx, true), recsys._auto_rescore(top.n, 3, ctx, true);
				matched_members := ARRAY[(SELECT s.model FROM _recsys_auto_scores s WHERE s.n = top.n AND s.split = 2),
										 (SELECT s.model FROM _recsys_auto_scores s WHERE s.n = top.n AND s.split = 3)];
				matched_base := matched_members;
			END IF;
			IF array_position(matched_base, NULL) IS NULL
			   AND recsys._auto_rescore(runner_up.n, 2, ctx, true) IS NOT NULL THEN
				PERFORM recsys._auto_rescore(runner_up.n, 3, ctx, true);
			END IF;
			IF array_position(matched_base, NULL) IS NULL
			   AND EXISTS (SELECT FROM _recsys_auto_scores s WHERE s.n = runner_up.n AND s.split = 3 AND s.model IS NOT NULL)
			   AND EXISTS (SELECT FROM _recsys_auto_scores s WHERE s.n = runner_up.n AND s.split = 2 AND s.model IS NOT NULL) THEN
				-- (review s13 R7: the evaluations there are budgeted at
				-- their measured seconds, the exact members' on the repeated
				-- splits, not at the first split's compact ones: the base's
				-- from its fits' scoring there, each weight's blend from the
				-- base's evaluation timed here, a member more)
				IF matched_base_users IS NULL THEN
					matched_started := clock_timestamp();
					matched_base_users := recsys._auto_matched_users(matched_base, metric_name, k,
						2 * greatest(top.eval_seconds + trial.eval_seconds,
									 coalesce((SELECT sum(x.eval) FROM (SELECT max(s.seconds - s.train_seconds) AS eval
																		FROM _recsys_auto_scores s
																		WHERE s.n IN (top.n, runner_up.n)
																		GROUP BY s.n) x), 0))
						+ final_other, ctx);
					matched_member_seconds := extract(epoch FROM clock_timestamp() - matched_started)
											  / greatest(cardinality(blend_models), 1);
				END IF;
				-- the member's weight chosen there (since 0.11.0): among
				-- the weights the first split tried, its choice first
				-- (_auto_matched_weight: the blends need no fit, only
				-- evaluations)
				weighting := CASE WHEN matched_base_users IS NOT NULL THEN recsys._auto_matched_weight(
								matched_members,
								ARRAY[(SELECT s.model FROM _recsys_auto_scores s WHERE s.n = runner_up.n AND s.split = 2),
									  (SELECT s.model FROM _recsys_auto_scores s WHERE s.n = runner_up.n AND s.split = 3)],
								blend_weights,
								ARRAY(SELECT (t.params -> 'weights' ->> cardinality(blend_weights))::double precision
									  FROM _recsys_auto_trials t
									  WHERE t.family = 'blend' AND t.value IS NOT NULL
										AND t.params -> 'members' = to_jsonb(blend_models || runner_up.model)
									  ORDER BY t.n = best_n DESC, t.n),
								format('%sb%s', ctx ->> 'prefix', trial.n), metric_name, k,
								greatest(2 * trial.eval_seconds,
										 coalesce(matched_member_seconds, 0) * (cardinality(blend_models) + 1))
								+ final_other, ctx) END;
				IF weighting ->> 'weight' IS NOT NULL THEN
					matched_ext := ARRAY(SELECT e FROM jsonb_array_elements_text(weighting -> 'models') WITH ORDINALITY x(e, o)
										 ORDER BY x.o);
					matched_drop := matched_drop || matched_ext;
					member_users := ARRAY(SELECT e::double precision
										  FROM jsonb_array_elements_text(weighting -> 'users') WITH ORDINALITY x(e, o)
										  ORDER BY x.o);
					z := recsys._auto_paired_z(matched_base_users, member_users);
					-- (every weight scored there, one row each: the threshold
					-- of the largest of their z, drawn with train_auto's seed,
					-- and the chosen weight's sign-flip p-value deciding)
					min_z := recsys._auto_blend_min_z(true, first_split_base, ctx || jsonb_build_object('seed', seed),
						matched_base_users,
						ARRAY(SELECT ARRAY(SELECT v::double precision
										   FROM jsonb_array_elements_text(x.e) WITH ORDINALITY y(v, p) ORDER BY y.p)
							  FROM jsonb_array_elements(weighting -> 'scored_users') WITH ORDINALITY x(e, o)
							  ORDER BY x.o),
						(SELECT x.o::integer FROM jsonb_array_elements(weighting -> 'means') WITH ORDINALITY x(e, o)
						 WHERE (x.e ->> 0)::double precision = (weighting ->> 'weight')::double precision
						 ORDER BY x.o LIMIT 1));
					IF (weighting ->> 'weight')::double precision IS DISTINCT FROM best_weight THEN
						-- (the member's blend is now the first split's trial at
						-- that weight: the final model is trained from its
						-- params, and a later member extends its model)
						SELECT t.* INTO trial FROM _recsys_auto_trials t
						WHERE t.family = 'blend' AND t.params -> 'members' = to_jsonb(blend_models || runner_up.model)
						  AND t.params -> 'weights' = to_jsonb(blend_weights || (weighting ->> 'weight')::double precision)
						ORDER BY t.n LIMIT 1;
						IF NOT FOUND THEN
							-- (cannot happen: the weights are those trials'; were
							-- it to, no test rather than a blend the final would
							-- not reproduce)
							SELECT t.* INTO trial FROM _recsys_auto_trials t WHERE t.n = best_n;
							z := NULL;
						ELSE
							IF trial.model IS NULL THEN
								PERFORM recsys.train_blend(blend_models || runner_up.model,
														   (blend_weights || (weighting ->> 'weight')::double precision)::real[],
														   format('%s%s', ctx ->> 'prefix', trial.n), true);
								UPDATE _recsys_auto_trials t SET model = format('%s%s', ctx ->> 'prefix', trial.n)
								WHERE t.n = trial.n;
								trial.model := format('%s%s', ctx ->> 'prefix', trial.n);
							END IF;
							-- (the family keeps one blend model: the first split's
							-- choice goes)
							IF trial.n <> best_n AND (SELECT t.model FROM _recsys_auto_trials t WHERE t.n = best_n) IS NOT NULL THEN
								PERFORM recsys.drop_model((SELECT t.model FROM _recsys_auto_trials t WHERE t.n = best_n));
								UPDATE _recsys_auto_trials t SET model = NULL WHERE t.n = best_n;
							END IF;
							best_n := trial.n;
							best_value := trial.value;
							best_weight := (weighting ->> 'weight')::double precision;
						END IF;
					END IF;
				END IF;
			END IF;
			matched_tested := z IS NOT NULL;
			IF matched_tested THEN
				UPDATE _recsys_auto_trials t
				SET status = recsys._auto_member_status(z, (SELECT avg(v) FROM unnest(member_users) v),
														(SELECT avg(v) FROM unnest(matched_base_users) v), min_z)
							 || format(' on the 2 repeated validation splits at weight %s, %s: %s (weight, mean) (first split: %s)',
									   best_weight,
									   CASE WHEN jsonb_array_length(weighting -> 'means') > 1
											THEN format('the best of %s weights scored on the same users (threshold %s: the largest paired z of those %s correlated weights under random sign flips of the users'' gains passes it as often as one weight''s passes %s)',
														jsonb_array_length(weighting -> 'means'), min_z,
														jsonb_array_length(weighting -> 'means'), ctx ->> 'min_z_matched')
											ELSE format('the only weight scored there (threshold %s: the sign-flip p-value of its z at most 1 - Phi(%s))',
														min_z, ctx ->> 'min_z_matched') END,
									   (SELECT string_agg(format('(%s, %s)', e ->> 0, round((e ->> 1)::numeric, 4)), ', ' ORDER BY o)
										FROM jsonb_array_elements(weighting -> 'means') WITH ORDINALITY x(e, o)),
									   round(trial.value::numeric, 4))
				WHERE t.n = trial.n;
			END IF;
		END IF;
		IF NOT matched_tested THEN
			min_z := recsys._auto_blend_min_z(false, first_split_base, ctx);
		END IF;
		IF NOT matched_tested AND min_z IS NULL THEN
			-- (the base was chosen on the repeated splits, where the first
			-- split underrates it: a gain over it there is partly the
			-- offset, so no test there either; the budget cut the test)
			z := NULL;
			UPDATE _recsys_auto_trials t
			SET status = 'not kept: no time left to test its gain over the blend it extends on the repeated splits'
			WHERE t.n = trial.n;
		ELSIF NOT matched_tested THEN
			IF blend_users IS NULL THEN
				-- (the blend it extends: the last kept, else the best model)
				blend_users := recsys._auto_user_values((SELECT t.model FROM _recsys_auto_trials t
														 WHERE t.n = coalesce(blend_n, top.n)), metric_name, k,
														top.eval_seconds + trial.eval_seconds + final_other, ctx);
			END IF;
			member_users := CASE WHEN blend_users IS NOT NULL AND trial.model IS NOT NULL
								 THEN recsys._auto_user_values(trial.model, metric_name, k,
															   trial.eval_seconds + final_other, ctx) END;
			z := recsys._auto_paired_z(blend_users, member_users);
			UPDATE _recsys_auto_trials t
			SET status = recsys._auto_member_status(z, trial.value, blend_value, min_z)
			WHERE t.n = trial.n;
		END IF;
		IF z IS NULL OR z < min_z THEN
			-- not kept, nor any blend with it
			IF trial.model IS NOT NULL THEN
				PERFORM recsys.drop_model(trial.model);
			END IF;
			UPDATE _recsys_auto_trials t SET model = NULL WHERE t.n = trial.n;
			-- (with no time left to test, none after it either)
			EXIT WHEN z IS NULL;
			CONTINUE;
		END IF;
		blend_n := trial.n;
		IF matched_tested THEN
			-- (the members on split 2, then on split 3)
			matched_members := matched_members[1:cardinality(matched_members) / 2]
							   || (SELECT s.model FROM _recsys_auto_scores s WHERE s.n = runner_up.n AND s.split = 2)
							   || matched_members[cardinality(matched_members) / 2 + 1:]
							   || (SELECT s.model FROM _recsys_auto_scores s WHERE s.n = runner_up.n AND s.split = 3);
			matched_base := matched_ext;
			matched_base_users := member_users;
			-- (the first split's users' values of the new blend: not evaluated)
			blend_users := NULL;
		ELSE
			blend_users := member_users;
			-- (a member kept on the first split alone: the repeated splits'
			-- blends would lack it, so the next members are tested there too)
			matched_off := true;
		END IF;
		blend_models := blend_models || runner_up.model;
		blend_families := blend_families || runner_up.family;
		blend_weights := blend_weights || best_weight;
		blend_value := best_value;
		blend_seconds := blend_seconds + runner_up.eval_seconds;
	END LOOP;

	timeline := timeline || jsonb_build_object('blends', extract(epoch FROM clock_timestamp() - started));
	-- the second round resumed (s12, doc/internals.md "train_auto"): it
	-- kept time for the blends' worst case (every family's member tested
	-- on the repeated splits), and when the list was cut that way while
	-- the blends then kept no member, what they left goes back to the
	-- round: the same list from its start (the settings scored keep their
	-- values, the cut ones follow), with only the final training kept in
	-- reserve.  Not when a member was kept: it was tested against the
	-- base the cut round chose, and a new base would need it tested again
	IF blend_n IS NULL AND climb IS NOT NULL AND climb_family = top.family
	   AND (jsonb_array_length(climb -> 'cut') > 0 OR (climb ->> 'centre_cut')::boolean) THEN
		-- (the blends go first, none of them kept: on the repeated splits
		-- they hold the base's models there, on the first split the
		-- family's model, either of which the round may replace)
		FOREACH member IN ARRAY matched_drop LOOP
			PERFORM recsys.drop_model(member);
		END LOOP;
		matched_drop := '{}';
		FOR member IN SELECT t.model FROM _recsys_auto_trials t WHERE t.family = 'blend' AND t.model IS NOT NULL LOOP
			PERFORM recsys.drop_model(member);
		END LOOP;
		UPDATE _recsys_auto_trials t SET model = NULL WHERE t.family = 'blend';
		SELECT f.* INTO fam FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
		WHERE f.family = climb_family;
		climb := recsys._auto_climb(fam.family, fam.algorithm, fam.steps,
									CASE WHEN lighter_used ? fam.family THEN fam.lighter -> 'cost' ELSE fam.cost END,
									incumbent, search_round + 1, 0,
									ctx || jsonb_build_object('resumed', true))
				 || jsonb_build_object('resumed', true);
		chosen := coalesce((climb ->> 'chosen')::integer, top.n);
		SELECT t.* INTO top FROM _recsys_auto_trials t WHERE t.n = chosen;
		PERFORM recsys._auto_note_scores(fam.family, ctx);
		SELECT r.entry, r.note INTO second_entry, second_note
		FROM recsys._auto_second_record(fam.family, climb, incumbent, chosen, splits_used) r;
		second_round := (second_round - (jsonb_array_length(second_round) - 1)) || second_entry;
		timeline := timeline || jsonb_build_object('resumed', extract(epoch FROM clock_timestamp() - started));
	END IF;
	-- the winner, trained on all the data as the model (replacing it: a
	-- model train_auto trained before may change its algorithm, and one it
	-- did not was refused above unless replace): the last blend kept, else
	-- the best model
	SELECT t.* INTO winner FROM _recsys_auto_trials t WHERE t.n = coalesce(blend_n, top.n);
	-- compact EASE (keep) approximates exact EASE: an EASE winner or
	-- member is retrained with the largest keep whose fit the budget left
	-- allows (_auto_final_keep: the compact one's seconds scaled to all
	-- the data plus a fifth, and the writing the keep adds at this run's
	-- load factor, _auto_keep_seconds): exact, else 0.5 or 0.25 (the
	-- weights kept are the largest, so a larger keep is closer to exact),
	-- else compact as validated (0.1)
	-- (s13: the exact fits' seconds as measured on the repeated splits,
	-- _auto_exact_seconds, when every EASE member's family has them)
	SELECT coalesce(sum(t.train_seconds) FILTER (WHERE NOT t.params ? 'keep'), 0)
		   * (ctx ->> 'scale')::double precision * 1.2,
		   sum(t.train_seconds) FILTER (WHERE t.params ? 'keep') * (ctx ->> 'scale')::double precision * 1.2,
		   CASE WHEN bool_and(recsys._auto_exact_seconds(t.family, ctx) IS NOT NULL) FILTER (WHERE t.params ? 'keep')
				THEN sum(recsys._auto_exact_seconds(t.family, ctx)) FILTER (WHERE t.params ? 'keep') END,
		   -- (the exact writing of the widest EASE member: s18, one over
		   -- the most popular items writes fewer weights)
		   max((recsys._auto_capped_ctx(t.params, ctx) ->> 'ease_write_exact')::double precision)
			   FILTER (WHERE t.params ? 'keep')
	INTO final_other, final_ease, final_ease_exact, final_write
	FROM _recsys_auto_trials t
	WHERE t.n = winner.n OR (winner.family = 'blend'
							 AND t.model IN (SELECT jsonb_array_elements_text(winner.params -> 'members')));
	final_left := extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp());
	IF final_ease IS NOT NULL THEN
		final_load := recsys._auto_load_factor();
		SELECT f.keep, f.estimate, f.exact_estimate INTO final_keep, final_kept_estimate, final_estimate
		FROM recsys._auto_final_keep(final_other, final_ease, final_ease_exact, final_left,
									 ctx || jsonb_build_object('ease_write_exact', final_write), final_load) f;
		final_note := format('EASE retrained %s: exact estimated at %s s (%s), %s s of the budget left',
							 CASE WHEN final_keep = 1 THEN 'exact'
								  WHEN final_keep > 0.1 THEN format('with keep %s (estimated at %s s), nearer exact than validated',
																	final_keep, round(final_kept_estimate::numeric, 1))
								  ELSE 'compact (keep 0.1), as validated' END,
							 round(final_estimate::numeric, 1),
							 CASE WHEN final_ease_exact IS NOT NULL THEN 'from its fits on the repeated splits'
								  ELSE format('modelled, load factor %s', round(final_load::numeric, 2)) END,
							 round(greatest(final_left, 0)::numeric, 1));
	END IF;
	-- (review s13 R5: a winner whose training on all the data is refused
	-- for recsys.max_memory, which its trials on smaller parts passed:
	-- the best other family's first-split setting is trained instead, in
	-- the order of their values, and the report says so; the error only
	-- when every family is refused)
	BEGIN
		IF winner.family = 'blend' THEN
			-- the members under names of their own: <model>_auto_<family>
			-- (in the blend's order: the weights follow it)
			FOR fam IN SELECT t.* FROM jsonb_array_elements_text(winner.params -> 'members') WITH ORDINALITY m(name, o)
							  JOIN _recsys_auto_trials t ON t.model = m.name
					   ORDER BY m.o LOOP
				training_family := fam.family;
				member := recsys._auto_keep_member(recsys._tune_trainer(fam.algorithm), source, model, fam.family,
												   CASE WHEN NOT fam.params ? 'keep' THEN fam.params
														WHEN final_keep = 1 THEN fam.params - 'keep'
														ELSE fam.params || jsonb_build_object('keep', final_keep) END);
				members := members || member;
			END LOOP;
			PERFORM recsys._tune_keep(recsys._tune_trainer('blend'), NULL, model,
									  jsonb_build_object('members', to_jsonb(members), 'weights', winner.params -> 'weights'),
									  true);
		ELSE
			training_family := winner.family;
			PERFORM recsys._tune_keep(recsys._tune_trainer(winner.algorithm), source, model,
									  CASE WHEN NOT winner.params ? 'keep' THEN winner.params
										   WHEN final_keep = 1 THEN winner.params - 'keep'
										   ELSE winner.params || jsonb_build_object('keep', final_keep) END, true);
		END IF;
	EXCEPTION
		WHEN program_limit_exceeded THEN
			-- (the condition names SQLSTATE class 54: only the memory
			-- refusal, 54000 naming recsys.max_memory, falls back; any
			-- other goes on unchanged, review s13-2 F1)
			GET STACKED DIAGNOSTICS refused_message = MESSAGE_TEXT, refused_state = RETURNED_SQLSTATE;
			IF refused_state <> '54000' OR position('recsys.max_memory' IN refused_message) = 0 THEN
				RAISE;
			END IF;
			-- (the family refused, a blend's member whose training failed
			-- alone: the other members' families may still train, review
			-- s13-2 F2; the members trained before it were rolled back)
			refused_families := ARRAY[coalesce(training_family, winner.family)];
			members := '{}';
			FOR fam IN SELECT b.* FROM (SELECT DISTINCT ON (t.family) t.*
										FROM _recsys_auto_trials t
										WHERE t.value IS NOT NULL AND t.train_seconds IS NOT NULL AND t.family <> 'blend'
										  AND NOT t.family = ANY (refused_families)
										ORDER BY t.family, t.value DESC, t.n) b
					   -- (families reading held-back item features last, review s14 S5)
					   ORDER BY b.held_back, b.value DESC, b.n LOOP
				BEGIN
					PERFORM recsys._tune_keep(recsys._tune_trainer(fam.algorithm), source, model, fam.params, true);
					fallback := fam;
					fallback_found := true;
					EXIT;
				EXCEPTION
					WHEN program_limit_exceeded THEN
						GET STACKED DIAGNOSTICS fallback_message = MESSAGE_TEXT, refused_state = RETURNED_SQLSTATE;
						IF refused_state <> '54000' OR position('recsys.max_memory' IN fallback_message) = 0 THEN
							RAISE;
						END IF;
						refused_families := refused_families || fam.family;
				END;
			END LOOP;
			IF NOT fallback_found THEN
				RAISE EXCEPTION '%', refused_message
					USING ERRCODE = 'program_limit_exceeded',
						  DETAIL = format('train_auto''s winner (%s) was refused on all the data, and so was every other family trained: %s.',
										  refused_families[1],
										  coalesce(nullif(array_to_string(refused_families[2:], ', '), ''), 'none')),
						  HINT = 'Raise recsys.max_memory, or train on fewer items.';
			END IF;
			final_note := format('%s refused on all the data (%s); %s, the best other family on the first split (validation %s), trained instead%s',
								 refused_families[1], refused_message, fallback.family, round(fallback.value::numeric, 4),
								 CASE WHEN fallback.params ? 'keep' THEN ' compact (keep 0.1), as validated' ELSE '' END);
			refused_winner_family := winner.family;
			refused_winner_value := winner.value;
			winner := fallback;
	END;
	-- the candidates go (blends before their members), and the models
	-- trained on the repeated splits
	FOR member IN SELECT t.model FROM _recsys_auto_trials t WHERE t.model IS NOT NULL
				  ORDER BY t.family = 'blend' DESC LOOP
		PERFORM recsys.drop_model(member);
	END LOOP;
	FOREACH member IN ARRAY matched_drop LOOP
		PERFORM recsys.drop_model(member);
	END LOOP;
	FOR member IN SELECT s.model FROM _recsys_auto_scores s WHERE s.model IS NOT NULL LOOP
		PERFORM recsys.drop_model(member);
	END LOOP;

	-- what was tried and why the winner won, in the model's metrics and description
	-- (the blends not kept are no rival: their gains were not significant;
	-- the best other family: the best first-split value of a family's
	-- model kept, neither the winner's nor one of its members')
	SELECT t.* INTO runner_up FROM _recsys_auto_trials t
	WHERE t.value IS NOT NULL AND t.model IS NOT NULL AND t.family <> 'blend'
	  AND t.family <> winner.family AND NOT t.family = ANY (blend_families)
	ORDER BY t.value DESC, t.n LIMIT 1;
	why := format('%s of %s trained candidates%s%s%s',
				  -- (review s13-2 F3: the winner refused on all the data first)
				  CASE WHEN fallback_found
					   THEN format('%s won (validation %s %s on the first split), but its training on all the data was refused for recsys.max_memory (%s); %s, the best other family there (%s), was trained instead',
								   refused_winner_family, metric, round(refused_winner_value::numeric, 4),
								   refused_families[1], winner.family, round(winner.value::numeric, 4))
					   WHEN winner.family = 'blend'
					   THEN format('validation %s %s on the first split for the blend, against %s for %s alone', metric,
								   round(winner.value::numeric, 4), round(top.value::numeric, 4), top.family)
					   WHEN winner.n IS DISTINCT FROM incumbent AND recsys._auto_matched_mean(winner.n, 3, ctx -> 'split_users') IS NOT NULL
					   THEN format('validation %s %s on the first split, chosen over the first round''s setting (%s there) by its mean over the repeated splits (%s against %s)',
								   metric, round(winner.value::numeric, 4),
								   (SELECT round(t.value::numeric, 4) FROM _recsys_auto_trials t WHERE t.n = incumbent),
								   round(recsys._auto_matched_mean(winner.n, 3, ctx -> 'split_users')::numeric, 4),
								   coalesce(round(recsys._auto_matched_mean(incumbent, 3, ctx -> 'split_users')::numeric, 4)::text, 'not scored'))
					   -- (review s14 S1: a family reading held-back item features may score higher)
					   ELSE format('best validation %s%s (%s) on the first split', metric,
								   CASE WHEN (features_check ->> 'held_back')::boolean THEN ' without the item features' ELSE '' END,
								   round(winner.value::numeric, 4)) END,
				  (SELECT count(*) FROM _recsys_auto_trials t WHERE t.train_seconds IS NOT NULL),
				  CASE WHEN runner_up.n IS NOT NULL
					   THEN format('; the best other family, %s, reached %s', runner_up.family, round(runner_up.value::numeric, 4))
					   ELSE '' END,
				  (SELECT format('; %s blend member(s) not kept (gain not significant or not tested)', count(*))
				   FROM _recsys_auto_trials t WHERE t.status LIKE 'not kept%' HAVING count(*) > 0),
				  -- (s14: the item features' check, when the lead read them)
				  CASE WHEN features_check IS NULL THEN ''
					   WHEN features_check ->> 'untested' IS NOT NULL
					   THEN format('; the item features kept untested: %s', features_check ->> 'untested')
					   ELSE format('; the item features %s: %s (%s) against its setting without them (%s%s) on the first split, paired z %s %s %s',
								   CASE WHEN (features_check ->> 'held_back')::boolean THEN 'held back' ELSE 'kept' END,
								   features_check ->> 'with', round((features_check ->> 'value')::numeric, 4),
								   round((features_check ->> 'without_value')::numeric, 4),
								   CASE WHEN (features_check ->> 'held_back')::boolean AND features_check ->> 'without' IS NOT NULL
										THEN ', a trial of ' || (features_check ->> 'without') ELSE '' END,
								   round((features_check ->> 'z')::numeric, 2),
								   CASE WHEN (features_check ->> 'held_back')::boolean THEN '<' ELSE '>=' END,
								   features_check ->> 'min_z') END);
	report := jsonb_build_object(
		'protocol', protocol_used, 'protocol_reason', protocol_reason, 'metric', metric,
		'families', to_jsonb(families_used),
		'budget_seconds', extract(epoch FROM budget), 'seconds', extract(epoch FROM clock_timestamp() - started),
		'validation', jsonb_build_object('users', n_valid_users, 'pairs', n_valid, 'train_rows', n_train,
										 -- (the validation users there were, of which
										 -- 'users' were scored: _auto_sample_users)
										 'users_sampled_from', n_valid_users_all,
										 -- (s13: the data's pairs over the repeated
										 -- splits' train pairs, by which a fit measured
										 -- there scales to all the data)
										 'repeated_scale', ctx -> 'repeated_scale'),
		'winner', jsonb_build_object('family', winner.family, 'algorithm', winner.algorithm,
									 'params', winner.shown, 'value', winner.value,
									 'members', to_jsonb(members)),
		'why', why, 'final', final_note, 'second_round', second_round, 'timeline', timeline,
		'features_check', features_check,
		-- (s17: the families trained at their lighter setting, the
		-- standard one not fitting the budget or recsys.max_memory: their
		-- fixed parameters over the family's, and the fewest seconds the
		-- budget lacked for the standard one, review s17 R6: null when
		-- memory refused it; null when no family ran lighter)
		'lighter', (SELECT jsonb_object_agg(l.key, jsonb_build_object(
							   'fixed', l.value,
							   'standard_short', (SELECT round(min((t.metrics ->> 'short_seconds')::numeric), 2)
												  FROM _recsys_auto_trials t
												  WHERE t.family = l.key AND t.metrics ? 'short_seconds'
													AND NOT t.params @> l.value)))
					FROM jsonb_each(lighter_used) l),
		-- (s16: each family skipped for the budget before any of its
		-- candidates trained, and the fewest seconds it lacked: the
		-- budget that much larger would have let it start there, at
		-- least; a large source's hint that the budget is too small)
		'budget_short', (SELECT jsonb_object_agg(b.family, b.short)
						 FROM (SELECT t.family, round(min((t.metrics ->> 'short_seconds')::numeric), 2) AS short
							   FROM _recsys_auto_trials t
							   WHERE t.metrics ? 'short_seconds' AND t.family <> 'blend'
								 AND NOT EXISTS (SELECT FROM _recsys_auto_trials u
												 WHERE u.family = t.family AND u.train_seconds IS NOT NULL)
							   GROUP BY t.family) b),
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
		description = format('train_auto: %s (%s, %s), %s; second round: %s', winner.family, winner.algorithm,
							 winner.shown, why, coalesce(second_note, 'none (no family trained)'))
	WHERE m.name = train_auto.model;

	RETURN QUERY
	SELECT (row_number() OVER (ORDER BY t.value DESC NULLS LAST, t.n))::integer,
		   t.family, t.algorithm, t.shown, t.value, t.train_seconds, t.eval_seconds,
		   -- (the winner's own status kept after 'chosen; ': the repeated
		   -- splits' values say why it won, review s8, fixr2 3)
		   CASE WHEN t.n = winner.n THEN 'chosen; ' || t.status ELSE t.status END
	FROM _recsys_auto_trials t
	ORDER BY 1;
END
$$;
COMMENT ON FUNCTION recsys.train_auto(regclass, text, interval, text, text, regclass, name, name, name,
	name, bigint, boolean, text[], name, jsonb) IS
	'choose an algorithm and its settings on a validation split of the source within a time budget, train the winner on all of it';

-------------------------------------------------------------------------------
-- Citus: copying a model to the worker nodes
-------------------------------------------------------------------------------

-- internal: the catalog tables that hold a model version's artefacts (every
-- recsys table with a foreign key to recsys.model_versions), so a copy
-- takes whatever a kind stores, including tables added later
CREATE FUNCTION recsys._model_artefact_tables()
RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.relname::text
	FROM pg_constraint k
	JOIN pg_class c ON c.oid OPERATOR(pg_catalog.=) k.conrelid
	WHERE k.contype OPERATOR(pg_catalog.=) 'f'
	  AND k.confrelid OPERATOR(pg_catalog.=) 'recsys.model_versions'::regclass
	  AND k.conparentid OPERATOR(pg_catalog.=) 0
	  AND c.relnamespace OPERATOR(pg_catalog.=) 'recsys'::regnamespace
	ORDER BY 1
$$;
COMMENT ON FUNCTION recsys._model_artefact_tables() IS
	'internal: the recsys tables that hold a model version''s artefacts (those referencing recsys.model_versions)';

-- Each worker's staging area for recsys.sync_model's two phases: the copy
-- is first checked and stored here on every worker (nothing served
-- changes), then each worker switches to it.  Rows are transient (a
-- switch or the next sync removes them), so pg_dump leaves them out.
CREATE TABLE recsys.sync_staging (
	token			text PRIMARY KEY,
	model			text NOT NULL,
	staged_by		regrole NOT NULL
		DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)),
	staged_at		timestamptz NOT NULL DEFAULT now(),
	payload			json NOT NULL
);
COMMENT ON TABLE recsys.sync_staging IS
	'recsys.sync_model''s staging area on a worker: copies checked and waiting for the switch';
-- a role sees and writes only what it staged (or a role whose privileges it has)
ALTER TABLE recsys.sync_staging ENABLE ROW LEVEL SECURITY;
CREATE POLICY sync_stagers ON recsys.sync_staging
	USING (recsys._owns(staged_by))
	WITH CHECK (recsys._owns(staged_by));

-- internal, run on each worker by recsys.sync_model: replace the node's copy
-- of a model by the one in payload (its recsys.models row, the active
-- version's row and that version's rows of every artefact table), in the
-- calling transaction, with row-level security and the owner checks of
-- the node's own catalog.  A copy already here keeps its recsys.models
-- row, updated in place (a blend or re-ranker on the node may use it by
-- name, and a DELETE of the row would be refused for that); only its
-- versions and their artefacts are replaced.  A malformed copy is refused
-- with an error naming the field (the text of a bad value cut short).
CREATE FUNCTION recsys._sync_model_receive(payload json)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	model_name text;
	version_text text;
	model_version integer;
	malformed boolean;
	here text;
	t text;
	known text[];
	columns text;
	missing text;
BEGIN
	IF json_typeof(payload) IS DISTINCT FROM 'object'
	   OR json_typeof(payload OPERATOR(pg_catalog.->) 'model') IS DISTINCT FROM 'object'
	   OR json_typeof(payload OPERATOR(pg_catalog.->) 'version') IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'recsys.sync_model: a model''s copy must be an object with objects "model" and "version"'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	model_name := payload OPERATOR(pg_catalog.->) 'model' OPERATOR(pg_catalog.->>) 'name';
	IF model_name IS NULL OR model_name OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy''s "model" has no "name"'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF payload OPERATOR(pg_catalog.->>) 'recsys_version' IS NULL THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy of model "%" has no "recsys_version"', model_name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT e.extversion INTO here FROM pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'recsys';
	IF here IS DISTINCT FROM payload OPERATOR(pg_catalog.->>) 'recsys_version' THEN
		RAISE EXCEPTION 'recsys % on this node cannot take a model from recsys %',
			here, left(payload OPERATOR(pg_catalog.->>) 'recsys_version', 20)
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Update the extension on every node to the same version (ALTER EXTENSION recsys UPDATE).';
	END IF;
	-- a version the next training here could not follow (it numbers
	-- version + 1), or a version row of another version, is no model's
	version_text := payload OPERATOR(pg_catalog.->) 'model' OPERATOR(pg_catalog.->>) 'version';
	IF version_text IS NULL OR version_text !~ '^[1-9][0-9]{0,9}$'
	   OR version_text::bigint OPERATOR(pg_catalog.>=) 2147483647 THEN
		-- not an integer at all (1.0, NaN), or one outside the range
		malformed := version_text IS NULL OR version_text !~ '^[+-]?[0-9]+$';
		RAISE EXCEPTION 'recsys.sync_model: version % of model "%" is %',
			CASE WHEN length(version_text) OPERATOR(pg_catalog.>) 20 THEN left(version_text, 20) || '...'
				 ELSE coalesce(version_text, 'NULL') END, model_name,
			CASE WHEN malformed THEN 'malformed' ELSE 'out of range' END
			USING ERRCODE = CASE WHEN malformed THEN 'invalid_parameter_value' ELSE 'numeric_value_out_of_range' END,
				  DETAIL = 'A model''s version is an integer between 1 and 2147483646.';
	END IF;
	model_version := version_text::integer;
	IF payload OPERATOR(pg_catalog.->) 'version' OPERATOR(pg_catalog.->>) 'version'
	   IS DISTINCT FROM version_text THEN
		RAISE EXCEPTION 'recsys.sync_model: the version row of model "%" is not its version %', model_name, model_version
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF payload OPERATOR(pg_catalog.->) 'version' OPERATOR(pg_catalog.->>) 'model'
	   IS DISTINCT FROM model_name THEN
		RAISE EXCEPTION 'recsys.sync_model: the version row of model "%" has "model" %', model_name,
			coalesce(quote_literal(left(payload OPERATOR(pg_catalog.->) 'version' OPERATOR(pg_catalog.->>) 'model', 64)), 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A copy holds the rows of its own model and version only.';
	END IF;
	-- every column the catalog requires (a NULL would fail as a bare NOT NULL violation)
	SELECT string_agg(format('"%s" in its %s', a.attname,
							 CASE a.attrelid WHEN 'recsys.models'::regclass THEN '"model"' ELSE '"version"' END),
					  ', ' ORDER BY a.attrelid, a.attnum) INTO missing
	FROM pg_attribute a
	WHERE a.attrelid OPERATOR(pg_catalog.=) ANY (ARRAY['recsys.models'::regclass, 'recsys.model_versions'::regclass])
	  AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped AND a.attnotnull
	  AND (payload OPERATOR(pg_catalog.->) CASE a.attrelid WHEN 'recsys.models'::regclass THEN 'model' ELSE 'version' END
		   OPERATOR(pg_catalog.->>) a.attname::text) IS NULL;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy of model "%" has no %', model_name, missing
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'recsys.sync_model sends every column of the model''s rows; a copy made by hand must too.';
	END IF;
	IF json_typeof(payload OPERATOR(pg_catalog.->) 'tables') IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy of model "%" has no object "tables"', model_name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- a copy here that another role owns stays: its owner replaces it
	PERFORM recsys._require_model_owner(model_name, 'sync', missing_ok => true);
	IF EXISTS (SELECT FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) model_name) THEN
		DELETE FROM recsys.model_versions v WHERE v.model OPERATOR(pg_catalog.=) model_name;
		SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO columns
		FROM pg_attribute a
		WHERE a.attrelid OPERATOR(pg_catalog.=) 'recsys.models'::regclass
		  AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
		  AND a.attname OPERATOR(pg_catalog.<>) 'name';
		EXECUTE format('UPDATE recsys.models m SET (%s) = (SELECT %s FROM json_populate_record(NULL::recsys.models, $1) r) '
					   'WHERE m.name OPERATOR(pg_catalog.=) $2', columns, columns)
			USING payload OPERATOR(pg_catalog.->) 'model', model_name;
	ELSE
		INSERT INTO recsys.models
		SELECT * FROM json_populate_record(NULL::recsys.models, payload OPERATOR(pg_catalog.->) 'model');
	END IF;
	INSERT INTO recsys.model_versions
	SELECT * FROM json_populate_record(NULL::recsys.model_versions, payload OPERATOR(pg_catalog.->) 'version');
	known := ARRAY(SELECT recsys._model_artefact_tables());
	FOR t IN SELECT json_object_keys(payload OPERATOR(pg_catalog.->) 'tables') LOOP
		IF NOT t OPERATOR(pg_catalog.=) ANY (known) THEN
			RAISE EXCEPTION 'recsys.sync_model: this node has no model table "%"', left(t, 64)
				USING ERRCODE = 'undefined_table';
		END IF;
		IF json_typeof(payload OPERATOR(pg_catalog.->) 'tables' OPERATOR(pg_catalog.->) t) IS DISTINCT FROM 'array' THEN
			RAISE EXCEPTION 'recsys.sync_model: the copy of model "%" has no array of rows for table "%"', model_name, t
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		-- rows of another model or version would land in (and serve
		-- through) a model the copy does not name
		SELECT format('row %s of table "%s" has "%s" %s', r.n, t, f.field,
					  coalesce(quote_literal(left(r.value OPERATOR(pg_catalog.->>) f.field, 64)), 'NULL'))
		INTO missing
		FROM json_array_elements(payload OPERATOR(pg_catalog.->) 'tables' OPERATOR(pg_catalog.->) t)
			 WITH ORDINALITY r(value, n),
			 (VALUES (1, 'model', model_name), (2, 'version', version_text)) f(o, field, expected)
		WHERE (CASE json_typeof(r.value) WHEN 'object' THEN r.value OPERATOR(pg_catalog.->>) f.field END)
			  IS DISTINCT FROM f.expected
		ORDER BY r.n, f.o LIMIT 1;
		IF missing IS NOT NULL THEN
			RAISE EXCEPTION 'recsys.sync_model: the copy of model "%" version %: %', model_name, model_version, missing
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'A copy holds the rows of its own model and version only.';
		END IF;
		EXECUTE format('INSERT INTO recsys.%I SELECT * FROM json_populate_recordset(NULL::recsys.%I, $1)', t, t)
			USING payload OPERATOR(pg_catalog.->) 'tables' OPERATOR(pg_catalog.->) t;
	END LOOP;
	RETURN model_version;
END
$$;
COMMENT ON FUNCTION recsys._sync_model_receive(json) IS
	'internal: replace this node''s copy of a model by the one recsys.sync_model sends';


-- internal: the models a model's active version serves from (a blend's
-- members, a re-ranker's candidates_from), under the params key its kind
-- declares (recsys._kinds_using_models), in the form its loader reads: an
-- array of names for a blend, one name for a re-ranker
CREATE FUNCTION recsys._model_uses(model text)
RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT DISTINCT d.name
	FROM recsys.models m
	JOIN recsys.model_versions v
	  ON v.model OPERATOR(pg_catalog.=) m.name AND v.version OPERATOR(pg_catalog.=) m.version
	JOIN recsys._kinds_using_models() k ON k.algorithm OPERATOR(pg_catalog.=) v.algorithm
	CROSS JOIN LATERAL (
		SELECT jsonb_array_elements_text(CASE WHEN NOT k.reranks
												   AND jsonb_typeof(v.params OPERATOR(pg_catalog.->) k.params_key)
												   OPERATOR(pg_catalog.=) 'array'
											  THEN v.params OPERATOR(pg_catalog.->) k.params_key END)
		UNION ALL
		SELECT CASE WHEN k.reranks
					 AND jsonb_typeof(v.params OPERATOR(pg_catalog.->) k.params_key) OPERATOR(pg_catalog.=) 'string'
					THEN v.params OPERATOR(pg_catalog.->>) k.params_key END) d(name)
	WHERE m.name OPERATOR(pg_catalog.=) $1 AND d.name IS NOT NULL
$$;
COMMENT ON FUNCTION recsys._model_uses(text) IS
	'internal: the models a model''s active version serves from (a blend''s members, a re-ranker''s candidates_from)';

-- internal: what recsys.sync_model copies for a model, in the order the
-- workers apply it: every model it serves from, recursively, before the
-- models using it (by the longest chain of uses above each); used_by names
-- one model using it; owned: the caller has its owner's privileges (only
-- those are copied; the others must already be on the workers); version:
-- its active version, NULL when the caller may not see it.  Each model's
-- uses are read once (a walk over models, not over paths, which nested
-- blends multiply); a chain of uses longer than 16 is an error, not a
-- cut, and so is a cycle (named apart: the models around it).
CREATE FUNCTION recsys._sync_model_closure(model text)
RETURNS TABLE (name text, used_by text, owned boolean, version integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	names text[] := ARRAY[model];
	depths integer[] := ARRAY[0];
	pred integer[] := ARRAY[NULL::integer];	-- the user a model's depth came through
	path integer[];
	edge_from integer[] := '{}';
	edge_to integer[] := '{}';
	frontier integer[] := ARRAY[1];
	next integer[];
	u integer;
	d text;
	p integer;
	changed boolean;
BEGIN
	-- the models reachable, each model's uses read once
	WHILE cardinality(frontier) OPERATOR(pg_catalog.>) 0 LOOP
		next := '{}';
		FOREACH u IN ARRAY frontier LOOP
			FOR d IN SELECT x FROM recsys._model_uses(names[u]) x LOOP
				p := array_position(names, d);
				IF p IS NULL THEN
					names := names || d;
					depths := depths || 0;
					pred := pred || NULL::integer;
					p := cardinality(names);
					next := next || p;
				END IF;
				edge_from := edge_from || u;
				edge_to := edge_to || p;
			END LOOP;
		END LOOP;
		frontier := next;
	END LOOP;
	-- the longest chain of uses above each model (Bellman-Ford over the
	-- edges: a chain grows by one per round, a cycle without end)
	LOOP
		changed := false;
		FOR p IN 1 .. cardinality(edge_from) LOOP
			IF depths[edge_from[p]] OPERATOR(pg_catalog.+) 1 OPERATOR(pg_catalog.>) depths[edge_to[p]] THEN
				depths[edge_to[p]] := depths[edge_from[p]] OPERATOR(pg_catalog.+) 1;
				pred[edge_to[p]] := edge_from[p];
				changed := true;
				IF depths[edge_to[p]] OPERATOR(pg_catalog.>) 16 THEN
					-- back along the users the depth came through: a model met
					-- twice is a cycle (a cycle never stops deepening), the
					-- root reached a chain too deep
					path := ARRAY[edge_to[p]];
					u := pred[edge_to[p]];
					WHILE u IS NOT NULL AND NOT u OPERATOR(pg_catalog.=) ANY (path) LOOP
						path := path || u;
						u := pred[u];
					END LOOP;
					IF u IS NOT NULL THEN
						path := path[array_position(path, u) OPERATOR(pg_catalog.+) 1 : cardinality(path)] || u;
						RAISE EXCEPTION 'recsys.sync_model: model "%" serves from a cycle of models using one another', model
							USING ERRCODE = 'invalid_recursion',
								  DETAIL = format('Model "%s" uses itself: %s.', names[u],
												  (SELECT string_agg(format('"%s"', names[path[i]]), ' uses ' ORDER BY i DESC)
												   FROM generate_subscripts(path, 1) i) || format(' uses "%s"', names[u])),
								  HINT = 'Retrain one of them on models that do not use it.';
					END IF;
					RAISE EXCEPTION 'recsys.sync_model: model "%" serves from models more than 16 uses deep', model
						USING ERRCODE = 'program_limit_exceeded',
							  DETAIL = format('Model "%s" is reached through a chain of %s models using one another, from "%s".',
											  names[edge_to[p]], cardinality(path), names[path[cardinality(path)]]),
							  HINT = 'A blend or re-ranker of blends rarely needs more than a few levels: retrain the models that use one another.';
				END IF;
			END IF;
		END LOOP;
		EXIT WHEN NOT changed;
	END LOOP;
	RETURN QUERY
	SELECT n.name,
		   (SELECT names[e.f] FROM unnest(edge_from, edge_to) e(f, t)
			WHERE e.t OPERATOR(pg_catalog.=) n.i ORDER BY depths[e.f], names[e.f] LIMIT 1),
		   coalesce(recsys._owns(m.owner), false), m.version
	FROM unnest(names, depths) WITH ORDINALITY n(name, depth, i)
	LEFT JOIN recsys.models m ON m.name OPERATOR(pg_catalog.=) n.name
	ORDER BY n.depth DESC, n.name;
END
$$;
COMMENT ON FUNCTION recsys._sync_model_closure(text) IS
	'internal: the models recsys.sync_model copies with a model (those it serves from first), whether the caller owns each, and its version';

-- internal: one model's copy as recsys.sync_model sends it (the
-- recsys._sync_model_receive payload): its recsys.models row, its active
-- version's row and that version's rows of every artefact table; the row
-- is share-locked, so no retrain commits until the transaction ends
CREATE FUNCTION recsys._sync_model_copy(model text)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m recsys.models;
	t text;
	part json;
	parts text[] := '{}';
BEGIN
	SELECT * INTO m FROM recsys.models x WHERE x.name OPERATOR(pg_catalog.=) model FOR SHARE;
	IF NOT FOUND THEN
		PERFORM recsys._require_model_owner(model, 'sync');
	END IF;
	FOR t IN SELECT recsys._model_artefact_tables() LOOP
		EXECUTE format('SELECT coalesce(json_agg(x), ''[]'') FROM recsys.%I x '
					   'WHERE x.model OPERATOR(pg_catalog.=) $1 AND x.version OPERATOR(pg_catalog.=) $2', t)
			INTO part USING m.name, m.version;
		parts := parts || format('%s: %s', to_json(t), part);
	END LOOP;
	RETURN format('{"recsys_version": %s, "model": %s, "version": %s, "tables": {%s}}',
				  (SELECT to_json(e.extversion) FROM pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'recsys'),
				  to_json(m),
				  (SELECT to_json(v) FROM recsys.model_versions v
				   WHERE v.model OPERATOR(pg_catalog.=) m.name AND v.version OPERATOR(pg_catalog.=) m.version),
				  array_to_string(parts, ', '));
END
$$;
COMMENT ON FUNCTION recsys._sync_model_copy(text) IS
	'internal: one model''s copy as recsys.sync_model sends it to the workers';

-- internal: a staged copy's models that the caller does not own must be
-- on this node as the coordinator has them: the same version, trained at
-- the same time (a model dropped and trained again numbers its versions
-- from 1 again, so the version alone does not tell it apart)
CREATE FUNCTION recsys._sync_model_requires(payload json)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
	here integer;
	here_trained timestamptz;
	want_trained timestamptz;
	want integer;
BEGIN
	IF json_typeof(payload OPERATOR(pg_catalog.->) 'requires') IS NULL THEN
		RETURN;
	END IF;
	IF json_typeof(payload OPERATOR(pg_catalog.->) 'requires') IS DISTINCT FROM 'array'
	   OR EXISTS (SELECT FROM json_array_elements(payload OPERATOR(pg_catalog.->) 'requires') x
				  WHERE json_typeof(x) IS DISTINCT FROM 'object'
					 OR x OPERATOR(pg_catalog.->>) 'name' IS NULL) THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy''s "requires" must be an array of objects with a "name"'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- read as text: a malformed version or time is named, not a bare cast error
	FOR r IN SELECT x.name, x.version AS version_text, x.trained_at AS trained_text, x.used_by
			 FROM json_to_recordset(payload OPERATOR(pg_catalog.->) 'requires')
				  AS x(name text, version text, trained_at text, used_by text) LOOP
		IF r.version_text !~ '^[1-9][0-9]{0,9}$' OR r.version_text::bigint OPERATOR(pg_catalog.>=) 2147483647 THEN
			RAISE EXCEPTION 'recsys.sync_model: the copy''s "requires" has "version" % for model "%", which is malformed',
				quote_literal(left(r.version_text, 20)), r.name
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'A model''s version is an integer between 1 and 2147483646.';
		END IF;
		BEGIN
			want := r.version_text::integer;
			want_trained := r.trained_text::timestamptz;
		EXCEPTION WHEN data_exception THEN
			RAISE EXCEPTION 'recsys.sync_model: the copy''s "requires" has "trained_at" % for model "%", which is malformed',
				quote_literal(left(r.trained_text, 40)), r.name
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'A model''s training time is a timestamp with time zone, as recsys.models.trained_at holds it.';
		END;
		SELECT m.version, m.trained_at INTO here, here_trained
		FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) r.name;
		IF here IS DISTINCT FROM want THEN
			RAISE EXCEPTION 'recsys.sync_model: model "%", used by "%", is not on this node at version %', r.name, r.used_by, want
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = CASE WHEN here IS NULL THEN 'This node has no copy of it that you may use.'
									ELSE format('This node has its version %s.', here) END,
					  HINT = format('The model is not yours to copy: its owner copies it first, with recsys.sync_model(%L).', r.name);
		ELSIF here_trained IS DISTINCT FROM want_trained THEN
			RAISE EXCEPTION 'recsys.sync_model: model "%", used by "%", is on this node at version % but not as trained on the coordinator',
				r.name, r.used_by, want
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = format('This node''s copy was trained at %s, the coordinator''s at %s (a model dropped and trained again numbers its versions from 1 again).',
									  here_trained, coalesce(want_trained::text, 'an unknown time')),
					  HINT = format('The model is not yours to copy: its owner copies it first, with recsys.sync_model(%L).', r.name);
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION recsys._sync_model_requires(json) IS
	'internal: check that the models a staged copy uses but does not carry are on this node as the coordinator has them';

-- internal, phase 1 of recsys.sync_model on each worker: check the copy
-- (every model in payload, in order) by applying it and rolling that back,
-- so the switch meets no check that has not passed here, then store it
-- in recsys.sync_staging under token (replacing what the caller staged
-- earlier for the same model).  Nothing this node serves changes.  What
-- the caller staged more than an hour ago (a sync that never switched:
-- a worker lost, a model since dropped) is removed on the way.
CREATE FUNCTION recsys._sync_model_stage(sync_token text, payload json)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	root text := payload OPERATOR(pg_catalog.->>) 'root';
	m json;
	n integer := 0;
BEGIN
	IF sync_token IS NULL OR sync_token OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'recsys.sync_model: the staging token must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF root IS NULL OR root OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy''s "root" (the model synced) must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF json_typeof(payload OPERATOR(pg_catalog.->) 'models') IS DISTINCT FROM 'array'
	   OR json_array_length(payload OPERATOR(pg_catalog.->) 'models') OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy''s "models" must be a non-empty array'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	DELETE FROM recsys.sync_staging s WHERE s.staged_at OPERATOR(pg_catalog.<) (now() OPERATOR(pg_catalog.-) interval '1 hour');
	PERFORM recsys._sync_model_requires(payload);
	BEGIN
		FOR m IN SELECT x FROM json_array_elements(payload OPERATOR(pg_catalog.->) 'models') x LOOP
			PERFORM recsys._sync_model_receive(m);
			n := n OPERATOR(pg_catalog.+) 1;
		END LOOP;
		-- undo the trial (the subtransaction of this block rolls back)
		RAISE SQLSTATE 'RSTRY';
	EXCEPTION WHEN SQLSTATE 'RSTRY' THEN
		NULL;
	END;
	DELETE FROM recsys.sync_staging s WHERE s.model OPERATOR(pg_catalog.=) root;
	INSERT INTO recsys.sync_staging (token, model, payload) VALUES (sync_token, root, payload);
	RETURN n;
END
$$;
COMMENT ON FUNCTION recsys._sync_model_stage(text, json) IS
	'internal: phase 1 of recsys.sync_model on a worker: check a copy by a trial run and stage it';

-- internal, phase 2 of recsys.sync_model on each worker: apply the copy
-- staged under token (recsys._sync_model_receive per model, members
-- first) and remove it from the staging area, in one transaction
CREATE FUNCTION recsys._sync_model_switch(sync_token text)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	staged json;
	m json;
	n integer := 0;
BEGIN
	SELECT s.payload INTO staged FROM recsys.sync_staging s
	WHERE s.token OPERATOR(pg_catalog.=) sync_token FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'recsys.sync_model: no copy is staged on this node under token "%"', sync_token
			USING ERRCODE = 'undefined_object',
				  HINT = 'Call recsys.sync_model again: it stages the copy anew.';
	END IF;
	PERFORM recsys._sync_model_requires(staged);
	FOR m IN SELECT x FROM json_array_elements(staged OPERATOR(pg_catalog.->) 'models') x LOOP
		PERFORM recsys._sync_model_receive(m);
		n := n OPERATOR(pg_catalog.+) 1;
	END LOOP;
	DELETE FROM recsys.sync_staging s WHERE s.token OPERATOR(pg_catalog.=) sync_token;
	RETURN n;
END
$$;
COMMENT ON FUNCTION recsys._sync_model_switch(text) IS
	'internal: phase 2 of recsys.sync_model on a worker: apply the staged copy';

-- internal: drop a staged copy (recsys.sync_model, when a worker failed phase 1)
CREATE FUNCTION recsys._sync_model_discard(sync_token text)
RETURNS boolean
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH gone AS (DELETE FROM recsys.sync_staging s WHERE s.token OPERATOR(pg_catalog.=) $1 RETURNING 1)
	SELECT EXISTS (SELECT FROM gone)
$$;
COMMENT ON FUNCTION recsys._sync_model_discard(text) IS
	'internal: drop a copy recsys.sync_model staged on a worker';

-- Two phases over the workers: stage everywhere (each worker checks the
-- copy by a trial run and stores it; a failure anywhere discards it
-- everywhere, and no worker changed), then switch everywhere (a short
-- step that has already passed its checks).  Workers are separate
-- transactions, so a worker lost between the two phases keeps its old
-- copy and the new one staged: the error names the nodes switched and
-- not, and calling sync_model again is safe (a copy sent again replaces
-- the same copy).  The models the model serves from (a blend's members,
-- a re-ranker's base, recursively) go first, in the same phases.
CREATE FUNCTION recsys.sync_model(model text)
RETURNS TABLE (model_name text, nodename text, nodeport integer, version integer, trained_at timestamptz)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c record;
	m recsys.models;
	sent recsys.models[] := '{}';
	copies text[] := '{}';
	requires jsonb := '[]';
	payload text;
	sync_token text := gen_random_uuid()::text;
	w record;
	failed text;
	switched text[] := '{}';
	ports integer[] := '{}';
	i integer;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		RAISE EXCEPTION 'recsys.sync_model needs the Citus extension in this database'
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'It copies a model to the worker nodes of a Citus cluster (doc/operations.md, "Running on Citus"); on a single server every query already sees the model.';
	END IF;
	PERFORM recsys._require_model_owner(model, 'sync');
	-- the workers commit the copy at once: never send what this transaction
	-- may still roll back
	IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
		RAISE EXCEPTION 'recsys.sync_model cannot run in a transaction that has written'
			USING ERRCODE = 'active_sql_transaction',
				  HINT = 'Commit the training first, then call recsys.sync_model in a transaction of its own.';
	END IF;
	-- one sync of a model at a time (its staging row on the workers is
	-- replaced by the next); the share locks below keep a retrain of what
	-- is copied from committing meanwhile
	PERFORM FROM recsys.models x WHERE x.name OPERATOR(pg_catalog.=) model FOR NO KEY UPDATE;
	FOR c IN SELECT * FROM recsys._sync_model_closure(model) LOOP
		IF c.version IS NULL THEN
			RAISE EXCEPTION 'recsys.sync_model: model "%" uses model "%", which does not exist or which you may not use',
				c.used_by, c.name
				USING ERRCODE = 'undefined_object',
					  HINT = 'Retrain or drop the model that uses it.';
		ELSIF NOT c.owned THEN
			-- another role's model: its owner copies it; the workers check it is there
			requires := requires OPERATOR(pg_catalog.||)
				jsonb_build_array(jsonb_build_object('name', c.name, 'version', c.version,
												  'trained_at', (SELECT x.trained_at FROM recsys.models x
																 WHERE x.name OPERATOR(pg_catalog.=) c.name),
												  'used_by', c.used_by));
			CONTINUE;
		END IF;
		copies := copies || recsys._sync_model_copy(c.name);
		SELECT * INTO m FROM recsys.models x WHERE x.name OPERATOR(pg_catalog.=) c.name;
		sent := sent || m;
	END LOOP;
	payload := format('{"root": %s, "models": [%s], "requires": %s}',
					  to_json(model), array_to_string(copies, ', '), requires);

	-- phase 1: stage on every worker (Citus's run_command_on_workers: each
	-- worker runs the command as this role, in a transaction of its own)
	FOR w IN EXECUTE 'SELECT r.nodename, r.nodeport, r.success, r.result FROM run_command_on_workers($1) r ORDER BY 1, 2'
		USING format('SELECT recsys._sync_model_stage(%L, %L::pg_catalog.json)', sync_token, payload) LOOP
		IF NOT w.success THEN
			failed := coalesce(failed || '; ', '') || format('%s:%s: %s', w.nodename, w.nodeport, w.result);
		END IF;
	END LOOP;
	IF failed IS NOT NULL THEN
		EXECUTE 'SELECT count(*) FROM run_command_on_workers($1)'
			USING format('SELECT recsys._sync_model_discard(%L)', sync_token);
		RAISE EXCEPTION 'recsys.sync_model could not copy model "%" to every worker: %', model, failed
			USING ERRCODE = 'external_routine_exception',
				  DETAIL = 'No worker changed its copy.',
				  HINT = 'Fix the cause and call recsys.sync_model again.'
						 || CASE WHEN jsonb_array_length(requires) OPERATOR(pg_catalog.>) 0
								 THEN format(' The models it uses that you do not own (%s) are synced by their owners first.',
											 (SELECT string_agg(r OPERATOR(pg_catalog.->>) 'name', ', ')
											  FROM jsonb_array_elements(requires) r))
								 ELSE '' END;
	END IF;

	-- phase 2: every worker switches to its staged copy
	FOR w IN EXECUTE 'SELECT r.nodename, r.nodeport, r.success, r.result FROM run_command_on_workers($1) r ORDER BY 1, 2'
		USING format('SELECT recsys._sync_model_switch(%L)', sync_token) LOOP
		IF NOT w.success THEN
			failed := coalesce(failed || '; ', '') || format('%s:%s: %s', w.nodename, w.nodeport, w.result);
		ELSE
			switched := switched || w.nodename;
			ports := ports || w.nodeport;
		END IF;
	END LOOP;
	IF failed IS NOT NULL THEN
		RAISE EXCEPTION 'recsys.sync_model could not switch every worker to the new copy of model "%": %', model, failed
			USING ERRCODE = 'external_routine_exception',
				  DETAIL = format('Switched: %s. The workers named above still serve their previous copy and keep the new one staged.',
								  coalesce((SELECT string_agg(format('%s:%s', s.n, s.p), ', ')
											FROM unnest(switched, ports) s(n, p)), 'none')),
				  HINT = 'Call recsys.sync_model again once they are reachable: it is safe to repeat.';
	END IF;
	-- one row per model copied and worker
	FOR i IN 1 .. coalesce(array_length(sent, 1), 0) LOOP
		FOR w IN SELECT s.n, s.p FROM unnest(switched, ports) s(n, p) LOOP
			model_name := (sent[i]).name;
			nodename := w.n;
			nodeport := w.p;
			version := (sent[i]).version;
			trained_at := (sent[i]).trained_at;
			RETURN NEXT;
		END LOOP;
	END LOOP;
END
$$;
COMMENT ON FUNCTION recsys.sync_model(text) IS
	'copy the active version of a model, and of the models it serves from, into the recsys catalog of every Citus worker node, in two phases';

-- Roles dropped under their objects (review s8, 1).  DROP ROLE cannot see
-- the rows of recsys's catalog tables (pg_shdepend names catalog objects,
-- not rows of an extension's table, and the hooks that could refuse it
-- need the library preloaded), so a model, experiment or catalog can
-- outlive its owner or a grantee: its row then holds the dropped role's
-- number, which pg_dump writes as a bare OID and which, restored into
-- another cluster, names whatever role has that OID there.  pg_dump
-- therefore fails on such a row, naming it, rather than write it: leaving
-- it out would make a backup that silently lacks a model in use (one
-- dropped grantee is enough), writing it would hand it to a stranger.
-- The DBA lists them with recsys.orphans() and gives them to a live role
-- (which also removes the dropped grantees) with recsys.clean_orphans(),
-- or drops them, then dumps again.
-- Rows the current role cannot see are not its to judge: the dump runs
-- with row_security off (as pg_dump does), as a role that reads all rows.

-- internal: the dropped roles among an object's owner and grantees
-- (PUBLIC, OID 0, is no role), NULL when there is none
CREATE FUNCTION recsys._dropped_roles(owner regrole, grantees regrole[])
RETURNS oid[]
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT array_agg(r ORDER BY r)
	FROM unnest(owner::oid || coalesce(grantees, '{}')::oid[]) r
	WHERE r <> 0 AND NOT EXISTS (SELECT FROM pg_roles a WHERE a.oid = r)
$$;
COMMENT ON FUNCTION recsys._dropped_roles(regrole, regrole[]) IS
	'internal: the roles among an object''s owner and grantees that no longer exist';

-- A row inserted into recsys.models, recsys.experiments or recsys.catalogs
-- whose owner or a grantee is an OID no role has: a restore of a dump made
-- before 0.10.0 (whose pg_dump wrote a dropped role as its bare OID; the
-- dump holds no name to look the role up by) or a hand-made INSERT.
-- Refused (42704, naming the object and the OID), unless the restore names
-- the role to give such objects to: recsys.restore_orphans_to (a setting,
-- e.g. PGOPTIONS='-c recsys.restore_orphans_to=keeper' pg_restore ...),
-- as clean_orphans would (the dropped grantees are left out).  Trainers and
-- create_* insert the caller's own role: never refused.  (A bare OID that
-- some role of the restoring cluster happens to have cannot be told from
-- that role's name: doc/operations.md, "Backups".)
CREATE FUNCTION recsys._restored_roles_check()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	gone oid[] := recsys._dropped_roles(NEW.owner, NEW.grantees);
	kind text := rtrim(TG_TABLE_NAME, 's');
	heir regrole;
BEGIN
	IF gone IS NULL THEN
		RETURN NEW;
	END IF;
	heir := nullif(current_setting('recsys.restore_orphans_to', true), '')::regrole;
	IF heir IS NULL THEN
		RAISE EXCEPTION 'recsys % "%" names role OID % as its %, and no role has that OID', kind, NEW.name, gone[1],
			CASE WHEN NEW.owner::oid = gone[1] THEN 'owner' ELSE 'grantee' END
			USING ERRCODE = 'undefined_object',
				  DETAIL = 'A dump made before recsys 0.10.0 writes a role that was dropped as its bare OID, '
						   'which here would name whichever role has that OID.',
				  HINT = 'Restore with PGOPTIONS=''-c recsys.restore_orphans_to=<role>'' to give such objects to '
						 'that role (dropped grantees are left out), or run recsys.clean_orphans(new_owner) in '
						 'the dumped database and dump it again.';
	END IF;
	NEW.grantees := ARRAY(SELECT g FROM unnest(NEW.grantees) g WHERE g::oid <> ALL (gone));
	IF NEW.owner::oid = ANY (gone) THEN
		NEW.owner := heir;
		RAISE WARNING 'recsys % "%" named role OIDs % that no role has: given to role %', kind, NEW.name, gone, heir
			USING DETAIL = 'recsys.restore_orphans_to names the role to give such objects to; grantee OIDs no role has are left out.';
	ELSE
		RAISE WARNING 'recsys % "%" named role OIDs % that no role has: left out of its grantees', kind, NEW.name, gone;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION recsys._restored_roles_check() IS
	'internal: refuse (or give to recsys.restore_orphans_to) an inserted object whose owner or grantee OID names no role';
CREATE TRIGGER restored_roles_check BEFORE INSERT ON recsys.models
	FOR EACH ROW EXECUTE FUNCTION recsys._restored_roles_check();
CREATE TRIGGER restored_roles_check BEFORE INSERT ON recsys.experiments
	FOR EACH ROW EXECUTE FUNCTION recsys._restored_roles_check();
CREATE TRIGGER restored_roles_check BEFORE INSERT ON recsys.catalogs
	FOR EACH ROW EXECUTE FUNCTION recsys._restored_roles_check();

-- internal: pg_dump's filter for recsys.models, recsys.experiments and
-- recsys.catalogs: an error naming the object when its owner or a grantee
-- was dropped (warn false, the tables that depend on it: false, since the
-- parent's filter fails the dump anyway, whichever table comes first)
CREATE FUNCTION recsys._dump_keeps(kind text, name text, owner regrole, grantees regrole[],
								   warn boolean DEFAULT true)
RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	gone oid[] := recsys._dropped_roles(owner, grantees);
BEGIN
	IF gone IS NULL THEN
		RETURN true;
	END IF;
	IF warn THEN
		RAISE EXCEPTION 'recsys % "%" cannot be dumped: its owner or a grantee was dropped', kind, name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = format('Role OIDs %s no longer exist; restored elsewhere, these numbers could name other roles.',
								  array_to_string(gone, ', ')),
				  HINT = 'recsys.orphans() lists such objects; give them to a live role with recsys.clean_orphans(new_owner) (dropped grantees are removed) or drop them, then run pg_dump again. A model''s owner can remove a dropped grantee herself: recsys.revoke_model(model, ''<its OID>'').';
	END IF;
	RETURN false;
END
$$;
COMMENT ON FUNCTION recsys._dump_keeps(text, text, regrole, regrole[], boolean) IS
	'internal: pg_dump''s row filter: an error for an object whose owner or a grantee was dropped';

-- pg_dump's filters (pg_extension_config_dump): a dump meeting an object
-- whose owner or a grantee was dropped fails (its dependants' rows out)
DO $$
DECLARE
	t record;
BEGIN
	PERFORM pg_catalog.pg_extension_config_dump('recsys.models',
		'WHERE recsys._dump_keeps(''model'', name, owner, grantees)');
	PERFORM pg_catalog.pg_extension_config_dump('recsys.experiments',
		'WHERE recsys._dump_keeps(''experiment'', name, owner, grantees)');
	PERFORM pg_catalog.pg_extension_config_dump('recsys.catalogs',
		'WHERE recsys._dump_keeps(''catalog'', name, owner, grantees)');
	FOR t IN
		SELECT c.relname, CASE
				WHEN c.relname ~ '^experiment_' THEN
					format('WHERE %I.experiment IN (SELECT e.name FROM recsys.experiments e '
						   'WHERE recsys._dump_keeps(''experiment'', e.name, e.owner, e.grantees, false))', c.relname)
				WHEN c.relname ~ '^catalog_' THEN
					format('WHERE %I.catalog IN (SELECT g.name FROM recsys.catalogs g '
						   'WHERE recsys._dump_keeps(''catalog'', g.name, g.owner, g.grantees, false))', c.relname)
				ELSE
					format('WHERE %I.model IN (SELECT m.name FROM recsys.models m '
						   'WHERE recsys._dump_keeps(''model'', m.name, m.owner, m.grantees, false))', c.relname)
			   END AS filter
		FROM pg_extension e, unnest(e.extconfig) r(relid) JOIN pg_class c ON c.oid = r.relid
		WHERE e.extname = 'recsys' AND c.relname NOT IN ('models', 'experiments', 'catalogs')
		  AND (c.relname ~ '^(experiment|catalog)_'
			   OR EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'model' AND NOT a.attisdropped))
	LOOP
		PERFORM pg_catalog.pg_extension_config_dump(format('recsys.%I', t.relname)::regclass, t.filter);
	END LOOP;
END
$$;

-- Objects whose owner or a grantee was dropped (see above): what pg_dump
-- refuses to write until recsys.clean_orphans() is called
CREATE FUNCTION recsys.orphans()
RETURNS TABLE (kind text, name text, owner oid, dropped_roles oid[])
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.kind, o.name, o.owner::oid, recsys._dropped_roles(o.owner, o.grantees)
	FROM (SELECT 'model' AS kind, m.name, m.owner, m.grantees FROM recsys.models m
		  UNION ALL SELECT 'experiment', e.name, e.owner, e.grantees FROM recsys.experiments e
		  UNION ALL SELECT 'catalog', c.name, c.owner, c.grantees FROM recsys.catalogs c) o
	WHERE recsys._dropped_roles(o.owner, o.grantees) IS NOT NULL
	ORDER BY 1, 2
$$;
COMMENT ON FUNCTION recsys.orphans() IS
	'models, experiments and catalogs whose owner or a grantee was dropped (kept out of dumps)';

-- internal: variants recording new_owner as the owner of each model in
-- models (as model or similarity_model) that clean_orphans gave to it from
-- its dropped owner (old_owners, by position), where the variant recorded
-- that dropped role: the model is the one the experiment was given, its
-- owner dropped since.  Compared by OID: a role created since under the
-- dropped role's name is another role (s9-fix).  Variants recorded before
-- the OIDs were (0.10.0 development) compare the name: no live role has it.
CREATE FUNCTION recsys._experiment_variants_reowned(variants jsonb, models text[], old_owners oid[],
													new_owner regrole)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(jsonb_agg(y.v ORDER BY y.o), variants)
	FROM (SELECT x.o, x.v || coalesce(
					(SELECT jsonb_object_agg(k.p || '_owner', pg_get_userbyid(new_owner))
							|| jsonb_object_agg(k.p || '_owner_oid', new_owner::oid::bigint)
					 FROM unnest(ARRAY['model', 'similarity_model']) k(p), unnest(models, old_owners) g(model, old_owner)
					 WHERE x.v ->> k.p = g.model AND x.v ? (k.p || '_owner')
					   AND CASE WHEN x.v ? (k.p || '_owner_oid')
								THEN (x.v ->> (k.p || '_owner_oid'))::oid = g.old_owner
								ELSE NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = x.v ->> (k.p || '_owner')) END),
					'{}') AS v
		  FROM jsonb_array_elements(variants) WITH ORDINALITY AS x(v, o)) y
$$;
COMMENT ON FUNCTION recsys._experiment_variants_reowned(jsonb, text[], oid[], regrole) IS
	'internal: variants recording new_owner as the owner of the given models where the recorded owner was their dropped one';

-- internal: variants whose recorded owners' OIDs are looked up again by
-- their recorded names (an INSERT: a restore, where OIDs change and
-- names stay; a name no role has records no OID)
CREATE FUNCTION recsys._experiment_variants_owner_oids(variants jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(jsonb_agg((x.v - 'model_owner_oid' - 'similarity_model_owner_oid')
							  || jsonb_strip_nulls(jsonb_build_object(
									'model_owner_oid', (SELECT r.oid::bigint FROM pg_roles r
														WHERE r.rolname = x.v ->> 'model_owner'),
									'similarity_model_owner_oid', (SELECT r.oid::bigint FROM pg_roles r
																   WHERE r.rolname = x.v ->> 'similarity_model_owner')))
							  ORDER BY x.o), variants)
	FROM jsonb_array_elements(variants) WITH ORDINALITY AS x(v, o)
$$;
COMMENT ON FUNCTION recsys._experiment_variants_owner_oids(jsonb) IS
	'internal: variants with their recorded model owners'' OIDs looked up by name (after a restore)';

-- internal: clean_orphans' report of an object it left as it was: the
-- check that refused its row, and what to do (a WARNING, so the objects
-- cleaned stay cleaned; recsys.orphans() still lists this one)
CREATE FUNCTION recsys._clean_orphans_skipped(kind text, name text, reason text, reason_hint text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE WARNING 'recsys.clean_orphans skipped % "%": %', kind, name, reason
		USING DETAIL = format('The %s keeps its owner and grantees; recsys.orphans() still lists it, '
							  'and pg_dump still refuses it.', kind),
			  HINT = reason_hint;
END
$$;
COMMENT ON FUNCTION recsys._clean_orphans_skipped(text, text, text, text) IS
	'internal: clean_orphans'' WARNING for an object whose row the checks refused';

-- Give every orphaned object to new_owner and remove the dropped grantees
-- (the DBA's clean-up after DROP ROLE, as REASSIGN OWNED / DROP OWNED are
-- for PostgreSQL's own objects).  Superusers only.  Returns what changed;
-- an object whose row the checks refuse (an experiment serving a model
-- its new owner may not use, a variant without the owner and identity of
-- its model) is left as it was, with a WARNING naming it, the reason and
-- the way out, and the others are cleaned (before, one such experiment
-- failed the whole call: s10-fix).
CREATE FUNCTION recsys.clean_orphans(new_owner regrole)
RETURNS TABLE (kind text, name text, owner regrole, removed_roles oid[])
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o record;
	kept regrole[];
	given text[] := '{}';
	given_from oid[] := '{}';
	msg text;
	hint text;
BEGIN
	IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
		RAISE EXCEPTION 'permission denied for recsys.clean_orphans'
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Only superusers may give away objects whose owner was dropped.';
	END IF;
	IF new_owner IS NULL OR new_owner::oid = 0 OR NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = new_owner) THEN
		RAISE EXCEPTION 'new_owner must be an existing role'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- models first: an experiment's row is checked against its models'
	-- owners when it changes (review s8, fixr2 1)
	FOR o IN SELECT * FROM recsys.orphans() r ORDER BY r.kind <> 'model', r.kind, r.name LOOP
		removed_roles := o.dropped_roles;
		owner := CASE WHEN o.owner = ANY (o.dropped_roles) THEN new_owner ELSE o.owner::regrole END;
		kind := o.kind;
		name := o.name;
		BEGIN
			EXECUTE format('SELECT array(SELECT g FROM unnest(t.grantees) g WHERE g::oid <> ALL ($2)) '
						   'FROM recsys.%I t WHERE t.name = $1', o.kind || 's')
				INTO kept USING o.name, o.dropped_roles;
			IF o.kind = 'experiment' THEN
				-- (first: a variant without its model's identity is the reason
				-- even when the new owner may not use that name's model either)
				PERFORM recsys._experiment_check_identities(t, recsys._experiment_served(t))
				FROM recsys.experiments t WHERE t.name = o.name;
				-- its variants' recorded model owners move with the models, in
				-- the same UPDATE as its own owner (the row is checked once)
				UPDATE recsys.experiments t
				SET owner = clean_orphans.owner, grantees = kept,
					variants = recsys._experiment_variants_reowned(t.variants, given, given_from, new_owner)
				WHERE t.name = o.name;
			ELSE
				EXECUTE format('UPDATE recsys.%I t SET owner = $2, grantees = $3 WHERE t.name = $1', o.kind || 's')
					USING o.name, owner, kept;
			END IF;
		EXCEPTION WHEN insufficient_privilege OR object_not_in_prerequisite_state THEN
			GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
			-- (alter_experiment is its owner's, and the owner is gone)
			hint := CASE WHEN SQLSTATE = '55000' AND o.kind = 'experiment' AND o.owner = ANY (o.dropped_roles)
						 THEN 'Only its owner, a dropped role, could give it its variants again: keep its '
							  'results (recsys.experiment_results) and drop it with recsys.drop_experiment.'
						 ELSE coalesce(nullif(hint, '') || ' ', '')
							  || format('Then call recsys.clean_orphans again, or drop the %s.', o.kind) END;
			PERFORM recsys._clean_orphans_skipped(o.kind, o.name, msg, hint);
			CONTINUE;
		END;
		IF o.kind = 'model' AND o.owner = ANY (o.dropped_roles) THEN
			given := given || o.name;
			given_from := given_from || o.owner;
		END IF;
		RETURN NEXT;
	END LOOP;
	-- the other experiments that serve a model given away: their variants'
	-- recorded owner of it follows (returned with no role removed)
	FOR o IN
		SELECT t.name, t.owner FROM recsys.experiments t
		WHERE t.variants IS DISTINCT FROM recsys._experiment_variants_reowned(t.variants, given, given_from, new_owner)
		ORDER BY t.name
	LOOP
		BEGIN
			UPDATE recsys.experiments t
			SET variants = recsys._experiment_variants_reowned(t.variants, given, given_from, new_owner)
			WHERE t.name = o.name;
		EXCEPTION WHEN insufficient_privilege OR object_not_in_prerequisite_state THEN
			GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
			PERFORM recsys._clean_orphans_skipped('experiment', o.name, msg,
												  coalesce(nullif(hint, '') || ' ', '')
												  || 'Then call recsys.clean_orphans again.');
			CONTINUE;
		END;
		kind := 'experiment';
		name := o.name;
		owner := o.owner;
		removed_roles := '{}';
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION recsys.clean_orphans(regrole) IS
	'give the models, experiments and catalogs whose owner was dropped to new_owner, and remove dropped grantees';
