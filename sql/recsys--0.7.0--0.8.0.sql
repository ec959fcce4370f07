-- recsys 0.7.0 -> 0.8.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.8.0'" to load this file. \quit

-- 0.8.0 adds personalised search, item features and cold items, online
-- experiments and progress reporting, a faster serving and write path, and
-- train_auto.  Each change has a section of its own below.

-------------------------------------------------------------------------------
-- Search
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Item features and cold items
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Event weights, user profiles, similar users
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Experiments and interleaving
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Progress and plots
-------------------------------------------------------------------------------

-- Progress: every trainer and tune advertise their phase and iteration in
-- the backend's progress counters (src/progress.c); tune reports its candidates.
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

-- tune reports candidate i of N to recsys.progress
CREATE OR REPLACE FUNCTION recsys.tune(
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
		PERFORM recsys._progress_tune(tune.model, algorithm, 'candidate', array_position(combos, combo),
									  cardinality(combos));
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
	PERFORM recsys._progress_tune(tune.model, algorithm, 'best', cardinality(combos), cardinality(combos));
	EXECUTE recsys._tune_call(trainer, CASE WHEN arg_names[1] = 'source' THEN train END, tune.model,
							  (fixed || best || jsonb_build_object('replace', tune.replace)) - eval_keys);
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


-- Pictures: SVG line charts and heat maps (src/plot.c), fed from evaluate and tune
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
	FROM unnest(evaluate_at.ks) WITH ORDINALITY c(k, o),
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
-- Compressed item vectors, fast writes, planner estimates
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Shared model cache
-------------------------------------------------------------------------------

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
-- train_auto
-------------------------------------------------------------------------------
