-- recsys 0.5.0 -> 0.6.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.6.0'" to load this file. \quit

-- 0.6.0 makes recsys safe in a database that several roles share:
-- owned models with per-model grants, catalog rows visible only to the
-- roles that may use them, sources read with the owner's rights, and
-- privacy options (models without per-user rows, differential privacy).

-------------------------------------------------------------------------------
-- Ownership, grants and row-level security on the catalog
-------------------------------------------------------------------------------

-- every model gets an owner: the role that trained its active version if
-- that role still exists, else the extension's owner; nobody else has a grant
ALTER TABLE recsys.models ADD COLUMN owner regrole;
UPDATE recsys.models m
SET owner = coalesce(pg_catalog.to_regrole(pg_catalog.quote_ident(m.trained_by)),
					 (SELECT e.extowner FROM pg_catalog.pg_extension e WHERE e.extname = 'recsys')::pg_catalog.regrole);
ALTER TABLE recsys.models
	ALTER COLUMN owner SET DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)),
	ALTER COLUMN owner SET NOT NULL,
	ADD COLUMN grantees regrole[] NOT NULL DEFAULT '{}';

-- the neighbour views read the lists as whoever queries them, so the
-- lists' row-level security holds through them
ALTER VIEW recsys.item_neighbors SET (security_invoker = true);
ALTER VIEW recsys.user_neighbors SET (security_invoker = true);

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

-- Like drop_model, and like DROP TABLE under a view: a blend's member keeps
-- its row and its name while a blend that remains names it (blends name
-- their members; a rename would leave them dangling).  Checked once the
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
	END LOOP;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION recsys._models_members_check() IS
	'internal: a model a remaining blend uses keeps its recsys.models row and name';
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
							 'item_neighbor_lists', 'user_neighbor_lists', 'item_stats'] LOOP
		EXECUTE format('ALTER TABLE recsys.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('CREATE POLICY model_users ON recsys.%I FOR SELECT '
					   'USING (model IN (SELECT m.name FROM recsys.models m))', t);
		EXECUTE format('CREATE POLICY model_owners ON recsys.%I '
					   'USING (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner))) '
					   'WITH CHECK (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)))', t);
	END LOOP;
END
$$;

-- only owners may drop, activate or roll back a model; drop sees every role's blends
CREATE OR REPLACE FUNCTION recsys.drop_model(model text, if_exists boolean DEFAULT false)
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
	-- like DROP TABLE under a view: a blend's member stays until the blend goes
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

CREATE OR REPLACE FUNCTION recsys.activate(model text, version integer)
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
	RETURN result;
END
$$;
COMMENT ON FUNCTION recsys.activate(text, integer) IS
	'make a kept version of a model the one that serves';

CREATE OR REPLACE FUNCTION recsys.rollback(model text)
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
-- Models that store no per-user data (store_users => false)
-------------------------------------------------------------------------------

-- train_cf gains store_users: a new signature
DROP FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision);
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
	rating_col name DEFAULT NULL,
	seed bigint DEFAULT 42,
	solver text DEFAULT NULL,
	regularization_exponent double precision DEFAULT 0,
	store_users boolean DEFAULT true)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_cf'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, boolean) IS
	'train a matrix factorisation model: implicit ALS, or explicit biased MF by ALS or Gibbs sampling; with store_users => false no per-user vector is stored';

-------------------------------------------------------------------------------
-- Differential privacy for EASE and item-kNN (epsilon, delta)
-------------------------------------------------------------------------------

DROP FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision);
CREATE FUNCTION recsys.train_ease(
	source regclass,
	lambda double precision DEFAULT 200,
	model text DEFAULT 'default_ease',
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
	seed bigint DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_ease'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision,
	double precision, double precision, integer, bigint) IS
	'train EASE (Steck 2019), the closed-form item-item model, with optional dropout (Steck 2020), user and popularity normalisation, item features, recency-weighted scoring and differential privacy';

DROP FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval);
CREATE FUNCTION recsys.train_item_knn(
	source regclass,
	neighbors integer DEFAULT 50,
	model text DEFAULT 'default_knn',
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
	seed bigint DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_item_knn'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint) IS
	'train an item-kNN model: each item''s most similar items (cosine, jaccard or bm25), optionally differentially private';

-------------------------------------------------------------------------------
-- Consistent SQL surface
--
-- One default model name ('default') for every trainer and tune; replace
-- (a model is not retrained under another algorithm without it); one name
-- per meaning: weight_col (was rating_col in train_cf, evaluate and tune),
-- regularization (was lambda in train_ease), exclude_seen (was exclude in
-- recommend_for_vector), seed bigint (was integer in split_kfold,
-- split_holdout and tune).  The old names stay for one release as
-- trailing parameters that warn (recsys._renamed, RsDeprecatedArg); tune
-- checks its metric, parameter names and values before training.
-------------------------------------------------------------------------------

-- internal: the value of a renamed argument given under its old name,
-- with the deprecation warning; NULL (not given) passes silently
CREATE FUNCTION recsys._renamed(value anyelement, old_name text, new_name text)
RETURNS anyelement
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NOT NULL THEN
		RAISE WARNING 'argument % is deprecated, use %', old_name, new_name
			USING ERRCODE = '01P01',
				  DETAIL = format('recsys 0.7.0 removes the name %s.', old_name);
	END IF;
	RETURN value;
END
$$;
COMMENT ON FUNCTION recsys._renamed(anyelement, text, text) IS
	'internal: a renamed argument''s value given under its old name, with a deprecation warning';


DROP FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, boolean);
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
	-- deprecated in 0.6.0, removed in 0.7.0: weight_col's old name
	rating_col name DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_cf'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, boolean, boolean, name) IS
	'train a matrix factorisation model: implicit ALS, or explicit biased MF by ALS or Gibbs sampling; with store_users => false no per-user vector is stored';


DROP FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision,
	double precision, double precision, integer, bigint);
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
	-- deprecated in 0.6.0, removed in 0.7.0: regularization's old name
	lambda double precision DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_ease'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision,
	double precision, double precision, integer, bigint, boolean, double precision) IS
	'train EASE (Steck 2019), the closed-form item-item model, with optional dropout (Steck 2020), user and popularity normalisation, item features, recency-weighted scoring and differential privacy';


DROP FUNCTION recsys.train_popular(regclass, text, name, name, name, name, interval);
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


DROP FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint);
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


DROP FUNCTION recsys.train_user_knn(regclass, integer, text, double precision, name, name, name);
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


DROP FUNCTION recsys.train_blend(text[], real[], text);
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


DROP FUNCTION recsys.recommend_for_vector(real[], integer, text, bigint[]);
-- internal: the ranking of recommend_for_vector (its public definition
-- below carries the deprecated argument name exclude for one release)
CREATE FUNCTION recsys._recommend_for_vector(vec real[], k integer, model text, exclude_seen bigint[])
RETURNS TABLE (item_id bigint, score real)
AS 'MODULE_PATHNAME', 'recsys_recommend_for_vector'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10;
COMMENT ON FUNCTION recsys._recommend_for_vector(real[], integer, text, bigint[]) IS
	'internal: recommend_for_vector';

-- a single SELECT, so the planner inlines it into the query calling it
-- (and folds the CASE away when exclude is not given)
CREATE FUNCTION recsys.recommend_for_vector(
	vec real[],
	k integer DEFAULT 10,
	model text DEFAULT 'default',
	exclude_seen bigint[] DEFAULT NULL,
	-- deprecated in 0.6.0, removed in 0.7.0: exclude_seen's old name
	exclude bigint[] DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10
AS $$
	SELECT * FROM recsys._recommend_for_vector(vec, k, model,
		CASE WHEN exclude IS NULL THEN exclude_seen
			 ELSE recsys._renamed(exclude, 'exclude', 'exclude_seen') END)
$$;
COMMENT ON FUNCTION recsys.recommend_for_vector(real[], integer, text, bigint[], bigint[]) IS
	'the k items a factor model ranks highest for a user vector';


DROP FUNCTION recsys.evaluate(text, regclass, integer, name, name, name);
-- internal: the measuring of evaluate (its public definition below
-- carries the deprecated argument name rating_col for one release)
CREATE FUNCTION recsys._evaluate(model text, test regclass, k integer, user_col name,
	item_col name, weight_col name)
RETURNS TABLE (metric text, value double precision)
AS 'MODULE_PATHNAME', 'recsys_evaluate'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 12;
COMMENT ON FUNCTION recsys._evaluate(text, regclass, integer, name, name, name) IS
	'internal: evaluate';

CREATE FUNCTION recsys.evaluate(
	model text,
	test regclass,
	k integer DEFAULT 10,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	-- deprecated in 0.6.0, removed in 0.7.0: weight_col's old name
	rating_col name DEFAULT NULL)
RETURNS TABLE (metric text, value double precision)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER ROWS 12
AS $$
	SELECT * FROM recsys._evaluate(model, test, k, user_col, item_col,
		CASE WHEN rating_col IS NULL THEN weight_col
			 ELSE recsys._renamed(rating_col, 'rating_col', 'weight_col') END)
$$;
COMMENT ON FUNCTION recsys.evaluate(text, regclass, integer, name, name, name, name) IS
	'ranking metrics (and rmse/mae for explicit models) of a model on a test set';


DROP FUNCTION recsys.split_kfold(regclass, integer, integer, name, name);
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


DROP FUNCTION recsys.split_holdout(regclass, double precision, integer, integer, name, name);
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


CREATE OR REPLACE FUNCTION recsys._tune_call(trainer regprocedure, source regclass, model text, params jsonb)
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


DROP FUNCTION recsys.tune(text, regclass, regclass, jsonb, jsonb, text, text, integer, integer,
	integer, name, name, name);
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
	replace boolean DEFAULT false,
	-- deprecated in 0.6.0, removed in 0.7.0: weight_col's old name
	rating_col name DEFAULT NULL)
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
BEGIN
	IF algorithm IS NULL OR train IS NULL OR valid IS NULL OR grid IS NULL OR fixed IS NULL
		OR metric IS NULL OR model IS NULL OR seed IS NULL OR k IS NULL OR user_col IS NULL
		OR item_col IS NULL OR replace IS NULL THEN
		RAISE EXCEPTION 'arguments of tune must not be NULL (samples and weight_col may be)'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	weight_col := coalesce(recsys._renamed(rating_col, 'rating_col', 'weight_col'), weight_col);
	-- by name, not signature: a trainer that gains arguments stays found
	trainer := (CASE algorithm
		WHEN 'als' THEN 'recsys.train_cf'
		WHEN 'item_knn' THEN 'recsys.train_item_knn'
		WHEN 'user_knn' THEN 'recsys.train_user_knn'
		WHEN 'ease' THEN 'recsys.train_ease'
		WHEN 'popular' THEN 'recsys.train_popular'
		WHEN 'blend' THEN 'recsys.train_blend'
	END)::regproc::regprocedure;
	IF trainer IS NULL THEN
		RAISE EXCEPTION 'algorithm must be one of als, item_knn, user_knn, ease, popular, blend, not "%"', algorithm
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF jsonb_typeof(fixed) <> 'object' THEN
		RAISE EXCEPTION 'fixed must be a JSON object of parameter names and values'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example {"rating_col": "rating", "iterations": 15}.';
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
	IF NOT metric = ANY (metrics) THEN
		RAISE EXCEPTION 'metric must be one of %, not "%"', array_to_string(metrics, ', '), metric
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = format('Metrics at a cutoff are named for tune''s k (%s).', k);
	END IF;
	IF lower_is_better AND weight_col IS NULL THEN
		RAISE EXCEPTION 'metric % needs weight_col, the ratings of the validation set', metric
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- parameter names must be the trainer's own (they go into SQL as identifiers)
	SELECT p.proargnames, p.proargtypes::oid[] INTO arg_names, arg_types FROM pg_proc p WHERE p.oid = trainer;
	FOR key IN SELECT jsonb_object_keys(fixed) UNION ALL SELECT jsonb_object_keys(grid) LOOP
		IF NOT key = ANY (arg_names) OR key IN ('source', 'model', 'replace') THEN
			RAISE EXCEPTION 'parameter "%" is not a parameter of %', key, trainer::text
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = format('Parameters of %s: %s.', trainer::regproc,
									(SELECT string_agg(a, ', ' ORDER BY o) FROM unnest(arg_names) WITH ORDINALITY u(a, o)
									 WHERE a NOT IN ('source', 'model', 'replace')));
		END IF;
	END LOOP;
	-- a relation (train_ease's features) is read here, with tune's search_path
	FOR key, v IN
		SELECT a.name, e.value
		FROM unnest(arg_names, arg_types) a(name, type)
		JOIN (SELECT f.key, f.value FROM jsonb_each(fixed) f
			  UNION ALL
			  SELECT g.key, x.value FROM jsonb_each(grid) g,
					 jsonb_array_elements(CASE WHEN jsonb_typeof(g.value) = 'array' THEN g.value ELSE '[]' END) x) e
		  ON e.key = a.name
		-- (to_regclass raises on a malformed name: only names of relation parameters go in)
		WHERE CASE WHEN a.type = 'regclass'::regtype AND e.value <> 'null'
				   THEN to_regclass(e.value #>> '{}') IS NULL ELSE false END
	LOOP
		RAISE EXCEPTION 'parameter "%" names relation %, which tune cannot find', key, v
			USING ERRCODE = 'undefined_table',
				  HINT = 'Qualify it with its schema, for example "public.item_features": tune runs with search_path pg_catalog, pg_temp.';
	END LOOP;
	-- every value must be of its parameter's type (checked before any training)
	FOR key, v, arg_type IN
		SELECT e.key, e.value, a.type
		FROM unnest(arg_names, arg_types) a(name, type)
		JOIN (SELECT f.key, f.value FROM jsonb_each(fixed) f
			  UNION ALL
			  SELECT g.key, x.value FROM jsonb_each(grid) g,
					 jsonb_array_elements(CASE WHEN jsonb_typeof(g.value) = 'array' THEN g.value ELSE '[]' END) x) e
		  ON e.key = a.name
	LOOP
		BEGIN
			EXECUTE format('SELECT %L::%s', recsys._tune_literal(v), arg_type::regtype);
		EXCEPTION WHEN data_exception OR syntax_error OR undefined_object THEN
			RAISE EXCEPTION 'parameter "%" of % takes a value of type %, not %', key, trainer::regproc,
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
		EXECUTE recsys._tune_call(trainer, CASE WHEN algorithm <> 'blend' THEN train END, candidate, fixed || combo);
		t1 := clock_timestamp();
		INSERT INTO _recsys_tune_results
		SELECT combo, max(e.value) FILTER (WHERE e.metric = tune.metric),
			   jsonb_object_agg(e.metric, e.value),
			   extract(epoch FROM t1 - t0), extract(epoch FROM clock_timestamp() - t1)
		FROM recsys.evaluate(candidate, valid, k, user_col, item_col,
							 CASE WHEN lower_is_better THEN weight_col END) e;
		PERFORM recsys.drop_model(candidate);
	END LOOP;

	-- keep the best as the named model (a new version of it)
	SELECT r.params INTO best FROM _recsys_tune_results r
	ORDER BY CASE WHEN lower_is_better THEN r.value ELSE -r.value END, r.params::text LIMIT 1;
	EXECUTE recsys._tune_call(trainer, CASE WHEN algorithm <> 'blend' THEN train END, tune.model,
							  fixed || best || jsonb_build_object('replace', tune.replace));

	RETURN QUERY
	SELECT (row_number() OVER (ORDER BY CASE WHEN lower_is_better THEN r.value ELSE -r.value END, r.params::text))::integer,
		   r.params, r.value, r.metrics, r.train_seconds, r.eval_seconds
	FROM _recsys_tune_results r
	ORDER BY 1;
END
$$;
COMMENT ON FUNCTION recsys.tune(text, regclass, regclass, jsonb, jsonb, text, text, integer, bigint,
	integer, name, name, name, boolean, name) IS
	'grid or random search: train each candidate, score it on a validation set, keep the best as a model';
