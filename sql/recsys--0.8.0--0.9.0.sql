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

-------------------------------------------------------------------------------
-- Citus
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

-- internal, run on each worker by recsys.sync_model: replace the node's copy
-- of a model by the one in payload (its recsys.models row, the active
-- version's row and that version's rows of every artefact table), in the
-- calling transaction, with row-level security and the owner checks of
-- the node's own catalog
CREATE FUNCTION recsys._sync_model_receive(payload json)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	model_name text := payload OPERATOR(pg_catalog.->) 'model' OPERATOR(pg_catalog.->>) 'name';
	here text;
	t text;
	known text[];
BEGIN
	SELECT e.extversion INTO here FROM pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'recsys';
	IF here IS DISTINCT FROM payload OPERATOR(pg_catalog.->>) 'recsys_version' THEN
		RAISE EXCEPTION 'recsys % on this node cannot take a model from recsys %',
			here, payload OPERATOR(pg_catalog.->>) 'recsys_version'
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Update the extension on every node to the same version (ALTER EXTENSION recsys UPDATE).';
	END IF;
	-- a copy here that another role owns stays: its owner replaces it
	PERFORM recsys._require_model_owner(model_name, 'sync', missing_ok => true);
	DELETE FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) model_name;
	INSERT INTO recsys.models
	SELECT * FROM json_populate_record(NULL::recsys.models, payload OPERATOR(pg_catalog.->) 'model');
	INSERT INTO recsys.model_versions
	SELECT * FROM json_populate_record(NULL::recsys.model_versions, payload OPERATOR(pg_catalog.->) 'version');
	known := ARRAY(SELECT recsys._model_artefact_tables());
	FOR t IN SELECT json_object_keys(payload OPERATOR(pg_catalog.->) 'tables') LOOP
		IF NOT t OPERATOR(pg_catalog.=) ANY (known) THEN
			RAISE EXCEPTION 'recsys.sync_model: this node has no model table "%"', t
				USING ERRCODE = 'undefined_table';
		END IF;
		EXECUTE format('INSERT INTO recsys.%I SELECT * FROM json_populate_recordset(NULL::recsys.%I, $1)', t, t)
			USING payload OPERATOR(pg_catalog.->) 'tables' OPERATOR(pg_catalog.->) t;
	END LOOP;
	RETURN (payload OPERATOR(pg_catalog.->) 'model' OPERATOR(pg_catalog.->>) 'version')::integer;
END
$$;
COMMENT ON FUNCTION recsys._sync_model_receive(json) IS
	'internal: replace this node''s copy of a model by the one recsys.sync_model sends';

CREATE FUNCTION recsys.sync_model(model text)
RETURNS TABLE (nodename text, nodeport integer, version integer, trained_at timestamptz)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m recsys.models;
	tables json;
	payload text;
	command text;
	t text;
	part json;
	parts text[] := '{}';
	w record;
	failed text;
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
	-- (the row lock keeps a retrain from committing a new version meanwhile)
	SELECT * INTO m FROM recsys.models x WHERE x.name OPERATOR(pg_catalog.=) model FOR SHARE;
	FOR t IN SELECT recsys._model_artefact_tables() LOOP
		EXECUTE format('SELECT coalesce(json_agg(x), ''[]'') FROM recsys.%I x '
					   'WHERE x.model OPERATOR(pg_catalog.=) $1 AND x.version OPERATOR(pg_catalog.=) $2', t)
			INTO part USING m.name, m.version;
		parts := parts || format('%s: %s', to_json(t), part);
	END LOOP;
	payload := format('{"recsys_version": %s, "model": %s, "version": %s, "tables": {%s}}',
					  (SELECT to_json(e.extversion) FROM pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'recsys'),
					  to_json(m),
					  (SELECT to_json(v) FROM recsys.model_versions v
					   WHERE v.model OPERATOR(pg_catalog.=) m.name AND v.version OPERATOR(pg_catalog.=) m.version),
					  array_to_string(parts, ', '));
	command := format('SELECT recsys._sync_model_receive(%L::pg_catalog.json)', payload);
	-- Citus's run_command_on_workers: each worker runs the command as this
	-- role, in a transaction of its own
	FOR w IN EXECUTE 'SELECT r.nodename, r.nodeport, r.success, r.result FROM run_command_on_workers($1) r ORDER BY 1, 2'
		USING command LOOP
		IF NOT w.success THEN
			failed := coalesce(failed || '; ', '') || format('%s:%s: %s', w.nodename, w.nodeport, w.result);
		ELSE
			nodename := w.nodename;
			nodeport := w.nodeport;
			version := m.version;
			trained_at := m.trained_at;
			RETURN NEXT;
		END IF;
	END LOOP;
	IF failed IS NOT NULL THEN
		RAISE EXCEPTION 'recsys.sync_model could not copy model "%" to every worker: %', model, failed
			USING ERRCODE = 'external_routine_exception',
				  HINT = 'The workers listed kept their previous copy; the others have the new one. Fix the cause and call recsys.sync_model again.';
	END IF;
END
$$;
COMMENT ON FUNCTION recsys.sync_model(text) IS
	'copy the active version of a model into the recsys catalog of every Citus worker node';

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Fixes
-------------------------------------------------------------------------------
