-- recsys 0.6.0 -> 0.7.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.7.0'" to load this file. \quit

-- 0.7.0 adds the seed's remaining models (BPR, a neural model, a
-- factorisation machine re-ranker, learned neighbourhood weights),
-- diversity, and marks the rows that came from the cold-start fallback.
-- Each change has a section of its own below.

-------------------------------------------------------------------------------
-- Named parameter arrays (the models that are not only factors or neighbours)
-------------------------------------------------------------------------------

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

ALTER TABLE recsys.model_parameters ENABLE ROW LEVEL SECURITY;
CREATE POLICY model_users ON recsys.model_parameters FOR SELECT
	USING (model IN (SELECT m.name FROM recsys.models m));
CREATE POLICY model_owners ON recsys.model_parameters
	USING (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)))
	WITH CHECK (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)));
SELECT pg_catalog.pg_extension_config_dump('recsys.model_parameters', '');

-------------------------------------------------------------------------------
-- Cold-start rows marked, fallback scores on the personalised scale
-------------------------------------------------------------------------------

-- recommend and recommend_session return why each row is there (reason:
-- 'personalised', 'filled', 'cold start' or 'popular'); a new output
-- column changes the return type, so they are dropped and created again
-- (nothing in the extension depends on them).  Their new arguments
-- diversity and similarity_model (see "Diversity") come in the same step.
DROP FUNCTION recsys.recommend(bigint, integer, text, boolean, bigint[]);
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

DROP FUNCTION recsys.recommend_session(bigint[], integer, text);
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

-------------------------------------------------------------------------------
-- BPR
-------------------------------------------------------------------------------

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

-------------------------------------------------------------------------------
-- Neural collaborative filtering
-------------------------------------------------------------------------------

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

-------------------------------------------------------------------------------
-- Factorisation machine re-ranker
-------------------------------------------------------------------------------

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
-- Learned neighbourhood weights
-------------------------------------------------------------------------------

-- recsys.train_neighborhood (src/train_neighborhood.c, src/kind_neighborhood.c):
-- stored in item_stats, item_factors, item_neighbor_lists and model_parameters.
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

-------------------------------------------------------------------------------
-- Diversity
-------------------------------------------------------------------------------

-- recommend and recommend_session take diversity and similarity_model
-- (created with them in "Cold-start rows marked" above); evaluate takes
-- them and features, and reports ild@k (created in "Deprecated 0.5.0
-- names removed" below, which replaces it anyway).

-------------------------------------------------------------------------------
-- Deprecated 0.5.0 names removed
--
-- 0.6.0 kept the 0.5.0 names of renamed arguments as trailing parameters
-- that warned; 0.7.0 removes them, as promised.  A signature changes, so
-- each function is dropped and created again (none has grants).  evaluate
-- is the C function itself again (its SQL wrapper was there for the old
-- name only); recommend_for_vector keeps its SQL wrapper.
-------------------------------------------------------------------------------

DROP FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, boolean, boolean, name);
DROP FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision,
	double precision, double precision, integer, bigint, boolean, double precision);
DROP FUNCTION recsys.recommend_for_vector(real[], integer, text, bigint[], bigint[]);
DROP FUNCTION recsys.evaluate(text, regclass, integer, name, name, name, name);
DROP FUNCTION recsys._evaluate(text, regclass, integer, name, name, name);
DROP FUNCTION recsys.tune(text, regclass, regclass, jsonb, jsonb, text, text, integer, bigint,
	integer, name, name, name, boolean, name);
DROP FUNCTION recsys._renamed(anyelement, text, text);

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
BEGIN
	IF algorithm IS NULL OR train IS NULL OR valid IS NULL OR grid IS NULL OR fixed IS NULL
		OR metric IS NULL OR model IS NULL OR seed IS NULL OR k IS NULL OR user_col IS NULL
		OR item_col IS NULL OR replace IS NULL THEN
		RAISE EXCEPTION 'arguments of tune must not be NULL (samples and weight_col may be)'
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
	-- every value, checked before any training: a relation (train_ease's
	-- features) must exist (it is read here, with tune's search_path), and
	-- a value must be of its parameter's type
	FOR key, v, arg_type IN
		SELECT e.key, e.value, a.type
		FROM unnest(arg_names, arg_types) a(name, type)
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
	integer, name, name, name, boolean) IS
	'grid or random search: train each candidate, score it on a validation set, keep the best as a model';

-------------------------------------------------------------------------------
-- tune knows every algorithm
--
-- tune's algorithm names its trainer, recsys.train_<algorithm> (als:
-- train_cf), found in the catalog, so bpr, ncf, neighborhood and fm (and
-- any later trainer) are searched; a trainer's arguments without a default
-- (fm's candidates_from) must be given; diversity and similarity_model go
-- to evaluate; ild@k is a metric.  Same signature: replaced in place.
-------------------------------------------------------------------------------

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

-------------------------------------------------------------------------------
-- Review fixes
--
-- A re-ranker's base is protected like a blend's member: it can be neither
-- dropped nor renamed while a re-ranker names it as candidates_from
-- (_rerankers_using, drop_model, the recsys.models triggers), and an old
-- version of a re-ranker whose base is gone cannot be activated.
-------------------------------------------------------------------------------

-- internal: the re-rankers that name a model as their candidates_from,
-- counted as _blends_using counts blends
CREATE FUNCTION recsys._rerankers_using(model text, owner oid DEFAULT NULL,
										grantees oid[] DEFAULT NULL)
RETURNS text[]
AS 'MODULE_PATHNAME', 'recsys_rerankers_using'
LANGUAGE C VOLATILE PARALLEL RESTRICTED SECURITY INVOKER;
COMMENT ON FUNCTION recsys._rerankers_using(text, oid, oid[]) IS
	'internal: the re-rankers that re-rank a model''s candidates, whoever owns them (counted as _blends_using counts blends)';

-- Like drop_model, and like DROP TABLE under a view: a blend's member (a
-- re-ranker's base) keeps its row and its name while a blend (re-ranker)
-- that remains names it (both find it by name; a rename would leave them
-- dangling, or serving whatever model takes the name).  Checked once the
-- statement is done, so that a blend and its members can go together.
CREATE OR REPLACE FUNCTION recsys._models_members_check()
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
	RETURN result;
END
$$;
COMMENT ON FUNCTION recsys.activate(text, integer) IS
	'make a kept version of a model the one that serves';

-------------------------------------------------------------------------------
-- Review fixes (3)
--
-- A re-ranker (blend) records its base's (members') owner by name at
-- training (params.candidates_owner, params.member_owners); activate and
-- rollback refuse a version whose base or member is now another role's
-- model of the same name.  Same signature: replaced in place.

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
