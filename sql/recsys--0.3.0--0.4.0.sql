-- recsys 0.3.0 -> 0.4.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.4.0'" to load this file. \quit

-- blends of models
CREATE FUNCTION recsys.train_blend(
	members text[],
	weights real[] DEFAULT NULL,
	model text DEFAULT 'default_blend')
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_blend'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_blend(text[], real[], text) IS
	'store a blend of models: their scores for a user, standardised and summed with weights';

-- the serving cache, for DBAs
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

-- drop_model: a blend's members stay until the blend goes
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
	-- like DROP TABLE under a view: a blend's member stays until the blend goes
	-- (the row lock waits for a blend being trained on it to commit)
	PERFORM FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) model FOR UPDATE;
	SELECT string_agg(format('"%s"', b.name), ', ' ORDER BY b.name), count(*) INTO blends, n_blends
	FROM recsys.models b
	WHERE b.algorithm OPERATOR(pg_catalog.=) 'blend'
	  AND b.params OPERATOR(pg_catalog.->) 'members' OPERATOR(pg_catalog.?) model
	  AND b.name OPERATOR(pg_catalog.<>) model;
	IF n_blends > 0 THEN
		RAISE EXCEPTION 'cannot drop model "%" because %', model,
			CASE WHEN n_blends = 1 THEN format('blend %s uses it', blends)
				 ELSE format('blends %s use it', blends) END
			USING ERRCODE = 'dependent_objects_still_exist',
				  HINT = 'Drop the blend first, or train it again without this member.';
	END IF;
	DELETE FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) model;
	IF NOT FOUND AND NOT coalesce(if_exists, false) THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'SELECT name FROM recsys.models lists the models.';
	END IF;
END
$$;

-- activate (and so rollback): a blend version whose members are gone is refused
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
	IF NOT EXISTS (SELECT 1 FROM recsys.models m WHERE m.name = activate.model) THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'SELECT name FROM recsys.models lists the models.';
	END IF;
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

-- tune: blends, and array-valued parameters
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
		   || coalesce(string_agg(format(', %I => %L', p.key,
										 CASE WHEN jsonb_typeof(p.value) = 'array'
											  THEN (SELECT array_agg(e)::text FROM jsonb_array_elements_text(p.value) e)
											  ELSE p.value #>> '{}' END), '' ORDER BY p.key), '')
		   || ')'
	FROM jsonb_each(params) p
$$;

CREATE OR REPLACE FUNCTION recsys.tune(
	algorithm text,
	train regclass,
	valid regclass,
	grid jsonb,
	fixed jsonb DEFAULT '{}',
	metric text DEFAULT 'ndcg@10',
	model text DEFAULT 'tuned',
	samples integer DEFAULT NULL,
	seed integer DEFAULT 42,
	k integer DEFAULT 10,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	rating_col name DEFAULT NULL)
RETURNS TABLE (rank integer, params jsonb, value double precision, metrics jsonb,
			   train_seconds double precision, eval_seconds double precision)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	trainer regprocedure;
	arg_names text[];
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
BEGIN
	IF algorithm IS NULL OR train IS NULL OR valid IS NULL OR grid IS NULL OR fixed IS NULL
		OR metric IS NULL OR model IS NULL OR seed IS NULL OR k IS NULL OR user_col IS NULL
		OR item_col IS NULL THEN
		RAISE EXCEPTION 'arguments of tune must not be NULL (samples and rating_col may be)'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	trainer := CASE algorithm
		WHEN 'als' THEN 'recsys.train_cf(regclass, integer, text, text, integer, double precision, double precision, name, name, name, bigint, text, double precision)'
		WHEN 'item_knn' THEN 'recsys.train_item_knn(regclass, integer, text, text, double precision, double precision, double precision, name, name, name, name, interval)'
		WHEN 'user_knn' THEN 'recsys.train_user_knn(regclass, integer, text, double precision, name, name, name)'
		WHEN 'ease' THEN 'recsys.train_ease(regclass, double precision, text, integer, name, name, name, double precision, double precision, double precision, name, interval)'
		WHEN 'popular' THEN 'recsys.train_popular(regclass, text, name, name, name, name, interval)'
		WHEN 'blend' THEN 'recsys.train_blend(text[], real[], text)'
	END::regprocedure;
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
	IF lower_is_better AND rating_col IS NULL THEN
		RAISE EXCEPTION 'metric % needs rating_col, the ratings of the validation set', metric
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- parameter names must be the trainer's own (they go into SQL as identifiers)
	SELECT p.proargnames INTO arg_names FROM pg_proc p WHERE p.oid = trainer;
	FOR key IN SELECT jsonb_object_keys(fixed) UNION ALL SELECT jsonb_object_keys(grid) LOOP
		IF NOT key = ANY (arg_names) OR key IN ('source', 'model') THEN
			RAISE EXCEPTION 'parameter "%" is not a parameter of %', key, trainer::text
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
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
							 CASE WHEN lower_is_better THEN rating_col END) e;
		IF NOT EXISTS (SELECT 1 FROM _recsys_tune_results r WHERE r.params = combo AND r.value IS NOT NULL) THEN
			RAISE EXCEPTION 'metric "%" is not one evaluate returns', metric
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = format('evaluate returns: %s.',
									(SELECT string_agg(key2, ', ') FROM jsonb_object_keys(
										(SELECT r.metrics FROM _recsys_tune_results r WHERE r.params = combo)) key2));
		END IF;
		PERFORM recsys.drop_model(candidate);
	END LOOP;

	-- keep the best as the named model (a new version of it)
	SELECT r.params INTO best FROM _recsys_tune_results r
	ORDER BY CASE WHEN lower_is_better THEN r.value ELSE -r.value END, r.params::text LIMIT 1;
	EXECUTE recsys._tune_call(trainer, CASE WHEN algorithm <> 'blend' THEN train END, tune.model, fixed || best);

	RETURN QUERY
	SELECT (row_number() OVER (ORDER BY CASE WHEN lower_is_better THEN r.value ELSE -r.value END, r.params::text))::integer,
		   r.params, r.value, r.metrics, r.train_seconds, r.eval_seconds
	FROM _recsys_tune_results r
	ORDER BY 1;
END
$$;
COMMENT ON FUNCTION recsys.tune(text, regclass, regclass, jsonb, jsonb, text, text, integer, integer,
	integer, name, name, name) IS
	'grid or random search: train each candidate, score it on a validation set, keep the best as a model';
