-- recsys 0.4.0 -> 0.5.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.5.0'" to load this file. \quit

-- train_ease gains item features (side information): a new signature
DROP FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval);
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
	feature_weight double precision DEFAULT 0.5)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_ease'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision) IS
	'train EASE (Steck 2019), the closed-form item-item model, with optional dropout (Steck 2020), user and popularity normalisation, item features and recency-weighted scoring';

-- tune finds its trainers by name, so they can gain arguments, and checks
-- the relations its parameters name
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
BEGIN
	IF algorithm IS NULL OR train IS NULL OR valid IS NULL OR grid IS NULL OR fixed IS NULL
		OR metric IS NULL OR model IS NULL OR seed IS NULL OR k IS NULL OR user_col IS NULL
		OR item_col IS NULL THEN
		RAISE EXCEPTION 'arguments of tune must not be NULL (samples and rating_col may be)'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
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
	IF lower_is_better AND rating_col IS NULL THEN
		RAISE EXCEPTION 'metric % needs rating_col, the ratings of the validation set', metric
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- parameter names must be the trainer's own (they go into SQL as identifiers)
	SELECT p.proargnames, p.proargtypes::oid[] INTO arg_names, arg_types FROM pg_proc p WHERE p.oid = trainer;
	FOR key IN SELECT jsonb_object_keys(fixed) UNION ALL SELECT jsonb_object_keys(grid) LOOP
		IF NOT key = ANY (arg_names) OR key IN ('source', 'model') THEN
			RAISE EXCEPTION 'parameter "%" is not a parameter of %', key, trainer::text
				USING ERRCODE = 'invalid_parameter_value';
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
