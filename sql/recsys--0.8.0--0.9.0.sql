-- recsys 0.8.0 -> 0.9.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.9.0'" to load this file. \quit

-- 0.9.0: each change has a section of its own below (one per work stream).

-------------------------------------------------------------------------------
-- Search
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Item features and cold items
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Models: BPR
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Models: NCF and FM
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Scale: IVF, parallel reads, large data
-------------------------------------------------------------------------------
-- An IVF index of one model version (src/ivf_index.c): k-means centroids
-- in the Euclidean transformation of the item vectors (factors + 1
-- coordinates) and the items of each list.  It goes with its version (a
-- retrained model serves exactly until indexed again) and with the model.
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


-------------------------------------------------------------------------------
-- Citus
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Fixes
-------------------------------------------------------------------------------
