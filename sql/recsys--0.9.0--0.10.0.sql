-- recsys 0.9.0 -> 0.10.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.10.0'" to load this file. \quit

-- 0.10.0: each change has a section of its own below (one per work stream).

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Models: FM re-ranker
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Models: diversity and BPR
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Item features and cold items
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Scale: reads
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Scale: writes
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Fixes
-------------------------------------------------------------------------------

-- The IVF index follows the model across retraining and activate
-- (recsys.ivf_rebuild): the new version is indexed as the one it replaced.
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

CREATE OR REPLACE FUNCTION recsys.activate(model text, version integer)
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
