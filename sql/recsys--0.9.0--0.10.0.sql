-- recsys 0.9.0 -> 0.10.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.10.0'" to load this file. \quit

-- 0.10.0: each change has a section of its own below (one per work stream).

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------

-- the second round: the best family's setting and its neighbourhood
-- scored on repeated validation splits of the final model's depth and
-- form, a list fixed by the data that the budget only truncates; blends
-- tested there too (doc/internals.md, "train_auto")

-- One train_auto trial: unless its estimated seconds, plus the time kept
-- for training the best candidates on all the data, would pass the
-- deadline, train the candidate on the split's train part and score it on
-- its validation part; record it in _recsys_auto_trials.  A family keeps
-- only the model of its best trial (for blending); the others are dropped.
-- A candidate refused for recsys.max_memory, or failing otherwise, is
-- recorded and skipped.  Returns the trial's status: 'ok', 'worse',
-- 'budget', 'memory' or 'failed'.  ctx: the search's state (deadline,
-- metric, k, sizes, the candidates' name prefix).
CREATE OR REPLACE FUNCTION recsys._auto_trial(family text, algorithm text, params jsonb, cost jsonb,
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
	reserve := recsys._auto_reserve(family, params, estimate, blending, ctx);
	left_seconds := extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp());
	IF estimate + reserve > left_seconds THEN
		INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, shown, status)
		VALUES (n, search_round, family, algorithm, params, coalesce(shown, params - ARRAY['user_col', 'item_col']),
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

CREATE OR REPLACE FUNCTION recsys.train_auto(
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
	columns jsonb;
	ctx jsonb;
	n_rows bigint;
	n_train bigint;
	n_users bigint;
	n_items bigint;
	n_all_items bigint;
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
	report jsonb;
	why text;
	version_trained integer;
	final_estimate double precision;
	final_left double precision;
	final_other double precision;
	final_ease double precision;
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
	second_round jsonb := '[]';
	second_note text;
	climb jsonb;
	min_z double precision;
	matched_members text[];
	matched_base text[];
	matched_ext text[];
	matched_base_users double precision[];
	matched_drop text[] := '{}';
	matched_tested boolean;
	matched_off boolean := false;
	-- (the best family's setting is the first split's choice: blends may
	-- be tested there when the repeated splits' fits do not fit)
	first_split_base boolean := true;
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
		PERFORM recsys._require_column(source, weight_col, 'weight_col');
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
				  HINT = 'The families depend on the protocol (ease_recent: last), on features (ease_features, als_features) and on event_col (only families whose trainer weighs event types); NULL tries every one not optional.';
	END IF;

	-- the split: validation pairs, and the source's rows without them
	-- (a second call in one transaction: its tables go first)
	IF to_regclass('pg_temp._recsys_auto_trials') IS NOT NULL THEN
		DROP TABLE pg_temp._recsys_auto_split, pg_temp._recsys_auto_train,
			pg_temp._recsys_auto_valid, pg_temp._recsys_auto_trials, pg_temp._recsys_auto_scores;
		DROP TABLE IF EXISTS pg_temp._recsys_auto_train_2, pg_temp._recsys_auto_valid_2,
			pg_temp._recsys_auto_train_3, pg_temp._recsys_auto_valid_3;
	END IF;
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
	IF n_valid = 0 THEN
		RAISE EXCEPTION 'source "%" has no user with enough interactions to validate on', source
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = CASE WHEN protocol_used = 'last'
								THEN 'Protocol last holds out the last 5 items of users with at least 10.'
								ELSE 'Protocol holdout holds out a quarter of the items of users with at least 4.' END;
	END IF;
	CREATE TEMP TABLE _recsys_auto_valid ON COMMIT DROP AS
	SELECT s.user_id, s.item_id FROM _recsys_auto_split s WHERE s.is_test;
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
	SELECT count(*), count(DISTINCT s.user_id), count(DISTINCT s.item_id) FILTER (WHERE NOT s.is_test)
	INTO n_train, n_users, n_items FROM _recsys_auto_split s WHERE NOT s.is_test;
	CREATE TEMP TABLE _recsys_auto_trials (
		n integer PRIMARY KEY, round integer, family text, algorithm text, params jsonb, shown jsonb,
		value double precision, metrics jsonb, train_seconds double precision,
		eval_seconds double precision, modelled double precision, model text, status text) ON COMMIT DROP;
	-- (the second round's scores on repeated splits: _auto_rescore)
	CREATE TEMP TABLE _recsys_auto_scores (
		n integer, split integer, value double precision, seconds double precision, model text,
		PRIMARY KEY (n, split)) ON COMMIT DROP;

	columns := jsonb_build_object('user_col', user_col, 'item_col', item_col)
			   || CASE WHEN event_col IS NOT NULL
					   THEN jsonb_build_object('event_col', event_col, 'event_weights', event_weights) ELSE '{}' END;
	ctx := jsonb_build_object(
		'deadline', started + budget, 'metric', metric, 'k', k,
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
		-- a blend member's least paired z (_auto_paired_z): 1.96, the
		-- two-sided 5 % level (one-sided 2.5 %, strict enough for the best
		-- of five weights)
		'min_z', 1.96,
		-- on the repeated splits, where the weight was not chosen: 1, a
		-- gain one standard error above none (doc/internals.md, "train_auto")
		'min_z_matched', 1.0,
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
		FOR fam IN SELECT f.* FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
				   WHERE f.family = ANY (families_used) LOOP
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
										 ORDER BY u.value DESC NULLS LAST, u.n LIMIT 1) b
								   WHERE t.model IS NOT NULL AND t.value IS NOT NULL), 0)
					 + 2 * coalesce((SELECT sum(recsys._auto_rescore_seconds(o.params, o.train_seconds, o.eval_seconds, ctx))
									 FROM (SELECT t.* FROM _recsys_auto_trials t
										   WHERE t.model IS NOT NULL AND t.value IS NOT NULL
										   ORDER BY t.value DESC, t.n OFFSET 1 LIMIT 3) o), 0);
	FOR fam IN SELECT f.*, b.value AS best_value
			   FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
			   JOIN (SELECT t.family, t.value FROM _recsys_auto_trials t
					 WHERE t.model IS NOT NULL AND t.value IS NOT NULL
					 ORDER BY t.value DESC, t.n LIMIT 1) b ON b.family = f.family LOOP
		SELECT t.n INTO incumbent FROM _recsys_auto_trials t WHERE t.family = fam.family AND t.model IS NOT NULL;
		splits_used := 1;
		FOR j IN 2..3 LOOP
			-- (the split's own seconds are small next to a fit)
			EXIT WHEN recsys._auto_split(j, protocol_used, source, seed, user_col, item_col, time_col) < 2;
			splits_used := j;
		END LOOP;
		climb := CASE WHEN splits_used = 3
					  THEN recsys._auto_climb(fam.family, fam.algorithm, fam.steps, fam.cost, incumbent, search_round + 1,
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
		-- (each setting scored on repeated splits: its values and their mean)
		UPDATE _recsys_auto_trials t
		SET status = t.status || format('; on validation splits 1 to %s: %s (mean of splits 2 to %s, the final model''s depth and form: %s)',
										cardinality(a.v), array_to_string(a.v, ', '), cardinality(a.v),
										round(a.mean::numeric, 4))
		FROM (SELECT x.n, ARRAY(SELECT round(v::numeric, 4) FROM unnest(recsys._auto_split_values(x.n)) v) AS v,
					 (SELECT avg(v) FROM unnest((recsys._auto_split_values(x.n))[2:]) v) AS mean
			  FROM (SELECT DISTINCT s.n FROM _recsys_auto_scores s) x) a
		WHERE t.n = a.n AND t.family = fam.family;
		second_round := second_round || jsonb_build_object(
			'family', fam.family,
			'new_settings', (climb -> 'new_settings'),
			'moves', (climb -> 'moves'),
			'splits', splits_used,
			'first_round', (SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = incumbent),
			'kept', (SELECT t.shown FROM _recsys_auto_trials t WHERE t.family = fam.family AND t.model IS NOT NULL),
			-- (in the order of work)
			'contenders', (SELECT coalesce(jsonb_agg(jsonb_build_object('n', t.n, 'params', t.shown,
																		'values', to_jsonb(recsys._auto_split_values(t.n)))
													 ORDER BY x.o), '[]')
						   FROM jsonb_array_elements_text(coalesce(climb -> 'scored', '[]')) WITH ORDINALITY x(n, o)
								JOIN _recsys_auto_trials t ON t.n = x.n::integer),
			'cut', coalesce(climb -> 'cut', '[]'));
		second_note := recsys._auto_second_note(fam.family,
			jsonb_array_length(climb -> 'scored'), (climb ->> 'moves')::integer, jsonb_array_length(climb -> 'cut'),
			splits_used, (SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = incumbent),
			(SELECT t.shown FROM _recsys_auto_trials t WHERE t.family = fam.family AND t.model IS NOT NULL));
	END LOOP;

	-- blend the families when that helps on validation, by forward
	-- selection (Caruana et al. 2004): from the best family's model, add
	-- the next best family's with the weight (against the first's 1) that
	-- scores best, when that beats the blend it extends significantly;
	-- then the next family's, up to four members.  Significantly: the
	-- paired z of the gain over the validation users (_auto_paired_z) at
	-- least min_z, 1.96; a member whose gain a few users make by chance
	-- (the best of five weights on the same users, at that) would cost
	-- on new data what it seemed to gain (online-retail strat75: BPR kept
	-- for +0.3 %, test -1 %).  The blend's users' values are evaluated
	-- once more per member (_evaluate_users), within the budget
	SELECT t.* INTO top FROM _recsys_auto_trials t WHERE t.model IS NOT NULL
	ORDER BY t.value DESC NULLS LAST, t.n LIMIT 1;
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
	FOR runner_up IN SELECT t.* FROM _recsys_auto_trials t
					 WHERE t.model IS NOT NULL AND t.n <> top.n AND t.value IS NOT NULL AND top.value IS NOT NULL
					   AND t.family <> 'blend'
					 ORDER BY t.value DESC, t.n LOOP
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
			-- with the repeated splits (the second round's): the blend at the
			-- weight the first split chose, tested on them (fresh users'
			-- items, the final model's depth and form: the member's gain on
			-- the first split carries that split's offsets and the bias of
			-- the weight chosen there), each member trained on both
			-- (_auto_rescore, kept); the per-user gain averaged over the two
			-- splits, its paired z at least min_z_matched (1: the weight was
			-- not chosen on these users, so no selection to absorb); when the budget
			-- cannot cover the members' fits there, tested on the first
			-- split as before if the base is the first split's choice,
			-- else not kept
			min_z := (ctx ->> 'min_z_matched')::double precision;
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
				matched_ext := '{}';
				FOR j IN 2..3 LOOP
					member := format('%sb%s_%s', ctx ->> 'prefix', trial.n, j);
					PERFORM recsys.train_blend(
						(CASE WHEN j = 2 THEN matched_members[1:cardinality(matched_members) / 2]
							  ELSE matched_members[cardinality(matched_members) / 2 + 1:] END)
						|| (SELECT s.model FROM _recsys_auto_scores s WHERE s.n = runner_up.n AND s.split = j),
						(blend_weights || best_weight)::real[], member);
					matched_ext := matched_ext || member;
					matched_drop := matched_drop || member;
				END LOOP;
				IF matched_base_users IS NULL THEN
					matched_base_users := recsys._auto_matched_users(matched_base, metric_name, k,
																	 2 * (top.eval_seconds + trial.eval_seconds) + final_other, ctx);
				END IF;
				member_users := CASE WHEN matched_base_users IS NOT NULL
									 THEN recsys._auto_matched_users(matched_ext, metric_name, k,
																	 2 * trial.eval_seconds + final_other, ctx) END;
				z := recsys._auto_paired_z(matched_base_users, member_users);
			END IF;
			matched_tested := z IS NOT NULL;
			IF matched_tested THEN
				UPDATE _recsys_auto_trials t
				SET status = recsys._auto_member_status(z, (SELECT avg(v) FROM unnest(member_users) v),
														(SELECT avg(v) FROM unnest(matched_base_users) v), min_z)
							 || format(' on the 2 repeated validation splits (first split: %s)', round(trial.value::numeric, 4))
				WHERE t.n = trial.n;
			END IF;
		END IF;
		IF NOT matched_tested AND NOT first_split_base THEN
			-- (the base was chosen on the repeated splits, where the first
			-- split underrates it: a gain over it there is partly the
			-- offset, so no test there either; the budget cut the test)
			z := NULL;
			UPDATE _recsys_auto_trials t
			SET status = 'not kept: no time left to test its gain over the blend it extends on the repeated splits'
			WHERE t.n = trial.n;
		ELSIF NOT matched_tested THEN
			min_z := (ctx ->> 'min_z')::double precision;
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
	SELECT coalesce(sum(t.train_seconds) FILTER (WHERE NOT t.params ? 'keep'), 0)
		   * (ctx ->> 'scale')::double precision * 1.2,
		   sum(t.train_seconds) FILTER (WHERE t.params ? 'keep') * (ctx ->> 'scale')::double precision * 1.2
	INTO final_other, final_ease
	FROM _recsys_auto_trials t
	WHERE t.n = winner.n OR (winner.family = 'blend'
							 AND t.model IN (SELECT jsonb_array_elements_text(winner.params -> 'members')));
	final_left := extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp());
	IF final_ease IS NOT NULL THEN
		final_load := recsys._auto_load_factor();
		SELECT f.keep, f.estimate, f.exact_estimate INTO final_keep, final_kept_estimate, final_estimate
		FROM recsys._auto_final_keep(final_other, final_ease, final_left, ctx, final_load) f;
		final_note := format('EASE retrained %s: exact estimated at %s s (load factor %s), %s s of the budget left',
							 CASE WHEN final_keep = 1 THEN 'exact'
								  WHEN final_keep > 0.1 THEN format('with keep %s (estimated at %s s), nearer exact than validated',
																	final_keep, round(final_kept_estimate::numeric, 1))
								  ELSE 'compact (keep 0.1), as validated' END,
							 round(final_estimate::numeric, 1), round(final_load::numeric, 2),
							 round(greatest(final_left, 0)::numeric, 1));
	END IF;
	IF winner.family = 'blend' THEN
		-- the members under names of their own: <model>_auto_<family>
		-- (in the blend's order: the weights follow it)
		FOR fam IN SELECT t.* FROM jsonb_array_elements_text(winner.params -> 'members') WITH ORDINALITY m(name, o)
						  JOIN _recsys_auto_trials t ON t.model = m.name
				   ORDER BY m.o LOOP
			member := format('%s_auto_%s', left(model, 40), fam.family);
			PERFORM recsys._tune_keep(recsys._tune_trainer(fam.algorithm), source, member,
									  CASE WHEN NOT fam.params ? 'keep' THEN fam.params
										   WHEN final_keep = 1 THEN fam.params - 'keep'
										   ELSE fam.params || jsonb_build_object('keep', final_keep) END, true);
			members := members || member;
		END LOOP;
		PERFORM recsys._tune_keep(recsys._tune_trainer('blend'), NULL, model,
								  jsonb_build_object('members', to_jsonb(members), 'weights', winner.params -> 'weights'),
								  true);
	ELSE
		PERFORM recsys._tune_keep(recsys._tune_trainer(winner.algorithm), source, model,
								  CASE WHEN NOT winner.params ? 'keep' THEN winner.params
									   WHEN final_keep = 1 THEN winner.params - 'keep'
									   ELSE winner.params || jsonb_build_object('keep', final_keep) END, true);
	END IF;
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
	-- (the blends not kept are no rival: their gains were not significant)
	SELECT t.* INTO runner_up FROM _recsys_auto_trials t
	WHERE t.value IS NOT NULL AND t.family <> winner.family AND t.family <> 'blend'
	ORDER BY t.value DESC, t.n LIMIT 1;
	why := format('best validation %s (%s) of %s trained candidates%s%s', metric,
				  round(winner.value::numeric, 4),
				  (SELECT count(*) FROM _recsys_auto_trials t WHERE t.train_seconds IS NOT NULL),
				  CASE WHEN runner_up.n IS NOT NULL
					   THEN format('; the best other family, %s, reached %s', runner_up.family, round(runner_up.value::numeric, 4))
					   ELSE '' END,
				  (SELECT format('; %s blend member(s) not kept (gain not significant or not tested)', count(*))
				   FROM _recsys_auto_trials t WHERE t.status LIKE 'not kept%' HAVING count(*) > 0));
	report := jsonb_build_object(
		'protocol', protocol_used, 'protocol_reason', protocol_reason, 'metric', metric,
		'families', to_jsonb(families_used),
		'budget_seconds', extract(epoch FROM budget), 'seconds', extract(epoch FROM clock_timestamp() - started),
		'validation', jsonb_build_object('users', n_valid_users, 'pairs', n_valid, 'train_rows', n_train),
		'winner', jsonb_build_object('family', winner.family, 'algorithm', winner.algorithm,
									 'params', winner.shown, 'value', winner.value,
									 'members', to_jsonb(members)),
		'why', why, 'final', final_note, 'second_round', second_round,
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

-- The seconds a train_auto trial must leave in the budget besides its own
-- estimate (see _auto_trial): the winner's and its blend partner's final
-- training on all the data and, while the search runs, three blend
-- evaluations; plus ctx's extra_reserve when given (the second round
-- keeps time for the checks and blends that follow it).
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
	-- factor, so that a loaded machine does not leave too little time; a
	-- family's first trial at its compact one, so that EASE is tried at
	-- all, to be retrained compact if time runs short)
	RETURN coalesce((ctx ->> 'extra_reserve')::double precision, 0) + (
	SELECT coalesce(sum(x.seconds), 0) * scale12
		   + CASE WHEN blending THEN 0
				  ELSE 3 * coalesce((SELECT sum(b.eval_seconds)
									 FROM (SELECT t.eval_seconds FROM _recsys_auto_trials t
										   WHERE t.model IS NOT NULL AND t.family <> 'blend' AND t.value IS NOT NULL
										   ORDER BY t.value DESC LIMIT 2) b), 0) END
	FROM (SELECT c.seconds FROM
			(SELECT b.train_seconds AS seconds
			 FROM (SELECT CASE WHEN t.params ? 'keep' THEN recsys._auto_keep_seconds(t.train_seconds * scale12, 1, ctx, load) / scale12
							   ELSE t.train_seconds END AS train_seconds
				   FROM _recsys_auto_trials t
				   WHERE t.model IS NOT NULL AND t.family <> 'blend' AND t.value IS NOT NULL
					 AND (blending OR t.family <> _auto_reserve.family)
				   ORDER BY t.value DESC LIMIT 2) b
			 UNION ALL
			 SELECT CASE WHEN params ? 'keep' AND EXISTS (SELECT FROM _recsys_auto_trials t
														  WHERE t.model IS NOT NULL AND t.family = _auto_reserve.family)
						 THEN recsys._auto_keep_seconds(e.seconds * scale12, 1, ctx, load) / scale12
						 ELSE e.seconds END
			 FROM (SELECT greatest(estimate, (SELECT t.train_seconds FROM _recsys_auto_trials t
											  WHERE t.model IS NOT NULL AND t.family = _auto_reserve.family)) AS seconds) e
			 WHERE NOT blending) c
		  ORDER BY c.seconds DESC LIMIT 2) x);
END
$$;
COMMENT ON FUNCTION recsys._auto_reserve(text, jsonb, double precision, boolean, jsonb) IS
	'internal: the seconds a train_auto trial leaves for what must follow it';

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

-- The second round's repeated split j (2 or 3) of train_auto's source, made
-- once: pg_temp._recsys_auto_train_<j> and _recsys_auto_valid_<j>.  On
-- protocol holdout its train part has nearly the final model's depth (the
-- final model trains on all of each user's items, the first split's on
-- three quarters): a random tenth of each user's items is held out (seed
-- + j - 1; users with 6 items or more), so that settings whose best
-- depends on the data's depth (EASE's regularisation and dropout) are
-- compared as the final model will use them.  On last the 5 items before
-- the previous split's (split_last of its train part: a rolling origin):
-- what counts there is the horizon, the 5 items that come next; holding
-- out fewer (the last 2) made recency EASE prefer a short half-life that
-- ranks the next 5 worse (online-retail last5: 15 days and
-- regularisation 250 first on the last 2, test 0.0957; 60 days and 1000
-- on the last 5, test 0.0986; doc/internals.md, "train_auto").  Returns
-- its validation users.
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
	users bigint;
BEGIN
	IF to_regclass('pg_temp.' || valid) IS NULL THEN
		IF protocol = 'last' THEN
			EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS '
						   'SELECT s.user_id, s.item_id FROM recsys.split_last($1, $2, 5, 10, $3, $4) s WHERE s.is_test', valid)
			USING previous, time_col, user_col, item_col;
		ELSE
			EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS '
						   'SELECT s.user_id, s.item_id FROM recsys.split_holdout($1, 0.1, $2, 4, $3, $4) s WHERE s.is_test', valid)
			USING source, seed + j - 1, user_col, item_col;
		END IF;
		-- (the columns of train_auto's first split, the ones the trainers
		-- read: SELECT on them suffices)
		EXECUTE format('CREATE TEMP TABLE %I ON COMMIT DROP AS '
					   'SELECT %s FROM %s r WHERE NOT EXISTS (SELECT FROM pg_temp.%I v '
					   'WHERE v.user_id = r.%I::bigint AND v.item_id = r.%I::bigint)',
					   train,
					   (SELECT string_agg(format('r.%I', a.attname), ', ' ORDER BY a.attnum)
						FROM pg_attribute a
						WHERE a.attrelid = 'pg_temp._recsys_auto_train'::regclass AND a.attnum > 0
						  AND NOT a.attisdropped),
					   CASE WHEN protocol = 'last' THEN previous::text ELSE source::text END, valid, user_col, item_col);
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
						   THEN recsys._auto_keep_seconds(train_seconds, 1, ctx, recsys._auto_load_factor())
						   ELSE train_seconds END);
END
$$;
COMMENT ON FUNCTION recsys._auto_rescore_seconds(jsonb, double precision, double precision, jsonb) IS
	'internal: the estimated seconds of scoring a train_auto setting in the final model''s form on a repeated split';

-- Trial n's setting trained on repeated split j's train part and scored
-- on its validation part, recorded in _recsys_auto_scores; NULL when the
-- budget cannot cover it (_auto_rescore_seconds and _auto_reserve's) or
-- it fails.  The model is dropped, or with keep_model kept and recorded
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
	estimate double precision;
	candidate text := format('%s%s_%s', ctx ->> 'prefix', n, j);
	r record;
BEGIN
	SELECT s.value, s.model INTO r FROM _recsys_auto_scores s WHERE s.n = _auto_rescore.n AND s.split = j;
	IF FOUND AND (NOT keep_model OR r.model IS NOT NULL) THEN
		RETURN r.value;
	END IF;
	SELECT t.* INTO trial FROM _recsys_auto_trials t WHERE t.n = _auto_rescore.n;
	estimate := recsys._auto_rescore_seconds(trial.params, trial.train_seconds, trial.eval_seconds, ctx);
	IF estimate + recsys._auto_reserve(trial.family, trial.params, estimate, true, ctx)
	   > extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp()) THEN
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
			RETURN NULL;
	END;
	IF NOT keep_model THEN
		PERFORM recsys.drop_model(candidate);
	END IF;
	DELETE FROM _recsys_auto_scores s WHERE s.n = _auto_rescore.n AND s.split = j;
	INSERT INTO _recsys_auto_scores (n, split, value, seconds, model)
	VALUES (n, j, r.value, r.train_seconds + r.eval_seconds, CASE WHEN keep_model THEN candidate END);
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
-- returned as cut.  Only the best setting's models on the repeated splits
-- are kept (the blends are tested on them).  reserve: the seconds kept
-- for what follows (the blends).  Returns {"chosen": the best trial or
-- null, "moves", "new_settings" (trained on the first split here),
-- "scored" (the trials scored, in order), "cut" (settings, in order)}.
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
	setting jsonb;
	c integer;
	result text;
	-- (an exact fit on a repeated split: the family's dearest so far)
	fit_seconds double precision := (SELECT max(recsys._auto_rescore_seconds(t.params, t.train_seconds, t.eval_seconds, ctx))
									 FROM _recsys_auto_trials t
									 WHERE t.family = _auto_climb.family AND t.train_seconds IS NOT NULL);
BEGIN
	LOOP
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
				IF cut <> '[]' THEN
					cut := cut || jsonb_build_array(setting - ARRAY['user_col', 'item_col']);
					CONTINUE;
				END IF;
				result := recsys._auto_trial(family, algorithm, setting, cost, search_round,
											 ctx || jsonb_build_object('extra_reserve', reserve + 2 * coalesce(fit_seconds, 0)));
				IF result = 'budget' THEN
					cut := cut || jsonb_build_array(setting - ARRAY['user_col', 'item_col']);
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
				 WHERE t.n = ANY (step) AND NOT t.n = ANY (scored)
				 ORDER BY t.n = centre DESC, t.value DESC NULLS LAST, t.n LOOP
			IF cut <> '[]' THEN
				cut := cut || jsonb_build_array((SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = c));
				CONTINUE;
			END IF;
			IF recsys._auto_rescore(c, 2, ctx || jsonb_build_object('extra_reserve', reserve + coalesce(fit_seconds, 0)), true) IS NULL
			   OR recsys._auto_rescore(c, 3, ctx || jsonb_build_object('extra_reserve', reserve), true) IS NULL THEN
				PERFORM recsys._auto_drop_matched(c);
				DELETE FROM _recsys_auto_scores s WHERE s.n = c;
				cut := cut || jsonb_build_array((SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = c));
				CONTINUE;
			END IF;
			scored := scored || c;
			IF best_mean IS NULL OR recsys._auto_matched_mean(c, 3) > best_mean THEN
				IF chosen IS NOT NULL THEN
					PERFORM recsys._auto_drop_matched(chosen);
				END IF;
				chosen := c;
				best_mean := recsys._auto_matched_mean(c, 3);
			ELSE
				PERFORM recsys._auto_drop_matched(c);
			END IF;
		END LOOP;
		EXIT WHEN cut <> '[]' OR chosen IS NULL OR chosen = centre OR moves >= 1;
		centre := chosen;
		moves := moves + 1;
	END LOOP;
	RETURN jsonb_build_object('chosen', chosen, 'moves', moves, 'new_settings', new_settings,
							  'scored', to_jsonb(scored), 'cut', cut);
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

-- Trial n's mean value over the repeated splits 2 to m (those whose train
-- part has nearly the final model's depth, scored in its form), NULL
-- unless scored on all of them.  The first split's value is left out: it
-- is offset from what the final model shows by its depth and form alike
-- for every setting of a family, so it ranks them apart from test
-- (online-retail strat75: three first-style splits agreed with each other,
-- not with test).
CREATE FUNCTION recsys._auto_matched_mean(n integer, m integer)
RETURNS double precision
LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT avg(x.value) FROM _recsys_auto_scores x
	WHERE x.n = _auto_matched_mean.n AND x.split BETWEEN 2 AND m
	HAVING count(x.value) = m - 1 AND m >= 2
$$;
COMMENT ON FUNCTION recsys._auto_matched_mean(integer, integer) IS
	'internal: a train_auto trial''s mean value over the repeated splits 2 to m (final model''s depth and form)';

-- Trial n's validation values: its first split's, then its scores on the
-- repeated splits, in split order.
CREATE FUNCTION recsys._auto_split_values(n integer)
RETURNS double precision[]
LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT ARRAY(SELECT y.v FROM (SELECT t.value, 1 FROM _recsys_auto_trials t WHERE t.n = _auto_split_values.n
								  UNION ALL
								  SELECT s.value, s.split FROM _recsys_auto_scores s WHERE s.n = _auto_split_values.n) y(v, o)
				 ORDER BY y.o)
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
-- the parameters that differ).
CREATE FUNCTION recsys._auto_second_note(family text, scored integer, moves integer, cut integer, splits integer,
										 first_round jsonb, kept jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT format('%s: ', family)
		   || CASE WHEN splits = 1 THEN 'no repeated validation split (too few users): '
				   ELSE format('%s setting(s) of the neighbourhood scored on %s repeated validation splits of the final model''s depth and form (%s move(s))%s, the best mean: ',
							   scored, splits - 1, moves,
							   CASE WHEN cut > 0 THEN format(', %s cut for the budget', cut) ELSE '' END) END
		   || CASE WHEN kept IS NOT DISTINCT FROM first_round THEN 'the first round''s setting kept'
				   ELSE 'changed to ' || (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(kept) e
										 WHERE e.value IS DISTINCT FROM first_round -> e.key)::text END
$$;
COMMENT ON FUNCTION recsys._auto_second_note(text, integer, integer, integer, integer, jsonb, jsonb) IS
	'internal: train_auto''s sentence on its second round';

-------------------------------------------------------------------------------
-- Models: FM re-ranker
-------------------------------------------------------------------------------

-- train_fm gains last_basket_weight, recent_weight and recent_window (time
-- features of the re-ranking: the base's score from the user's last basket,
-- the items' recent sales).  The EXECUTE grants a DBA made on the old
-- train_fm are kept for the new one (review s8, 4): saved here, applied
-- after the CREATE by the block in "Fixes" below
SELECT pg_catalog.set_config('recsys_upgrade.train_fm_acl', coalesce(p.proacl::text, ''), true)
FROM pg_catalog.pg_proc p
WHERE p.oid = 'recsys.train_fm(regclass, text, text, integer, integer, double precision,
	double precision, integer, double precision, regclass, regclass, name, interval, boolean,
	double precision, name, name, bigint, boolean, boolean, boolean)'::pg_catalog.regprocedure;
DROP FUNCTION recsys.train_fm(regclass, text, text, integer, integer, double precision,
	double precision, integer, double precision, regclass, regclass, name, interval, boolean,
	double precision, name, name, bigint, boolean, boolean, boolean);
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

-------------------------------------------------------------------------------
-- Models: diversity and BPR
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Item features and cold items
-------------------------------------------------------------------------------

-- train_item_knn gains cold_map_word_weights (the learned cold lists' ridge
-- over idf, sqrt(idf) or binary feature weights).  The EXECUTE grants a DBA
-- made on the old function are saved here and given to the new one by the
-- block in "Fixes" below (as train_fm's)
SELECT pg_catalog.set_config('recsys_upgrade.train_item_knn_acl', coalesce(p.proacl::text, ''), true)
FROM pg_catalog.pg_proc p
WHERE p.oid = 'recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint, boolean, name, jsonb, regclass, double precision,
	double precision, double precision, double precision, double precision)'::pg_catalog.regprocedure;
DROP FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint, boolean, name, jsonb, regclass, double precision,
	double precision, double precision, double precision, double precision);
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
-- review fixes (s7-fixr)

-- experiment logs: finite times only (the reports' day ranges and
-- attribution windows need them).  Rows logged with an infinite time
-- before 0.10.0 stop the update with the statement that removes them.
DO $$
DECLARE
	n bigint;
BEGIN
	SELECT (SELECT count(*) FROM recsys.experiment_impressions WHERE NOT isfinite(shown_at))
		   + (SELECT count(*) FROM recsys.experiment_outcomes WHERE NOT isfinite(at))
	INTO n;
	IF n > 0 THEN
		RAISE EXCEPTION 'the experiment logs hold % rows with an infinite time', n
			USING ERRCODE = 'check_violation',
				  HINT = 'Delete them (DELETE FROM recsys.experiment_impressions WHERE NOT isfinite(shown_at); '
						 'DELETE FROM recsys.experiment_outcomes WHERE NOT isfinite(at)), then update again.';
	END IF;
END
$$;
ALTER TABLE recsys.experiment_impressions
	ADD CONSTRAINT experiment_impressions_shown_at_check CHECK (isfinite(shown_at));
ALTER TABLE recsys.experiment_outcomes
	ADD CONSTRAINT experiment_outcomes_at_check CHECK (isfinite(at));

CREATE OR REPLACE FUNCTION recsys.log_outcome(
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

CREATE OR REPLACE FUNCTION recsys.experiment_results(
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
	IF sequential IS NULL OR tau IS NULL OR NOT (tau > 0 AND tau < 'infinity') THEN
		RAISE EXCEPTION 'sequential must not be NULL and tau must be a positive number'
			USING ERRCODE = 'invalid_parameter_value';
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
			   avg(u.revenue) AS rev, var_samp(u.revenue) AS rev_var
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
		SELECT a.*, cv.r, cv.var AS r_var, a.x::float8 / nullif(a.n, 0) AS p,
			   a.name = e.control AS ctl
		FROM agg a JOIN ctr_var cv USING (name)
	), pair AS (
		SELECT s.*, c.n AS cn, c.x AS cx, c.p AS cp, c.r AS cr, c.r_var AS cr_var, c.rev AS crev,
			   c.rev_var AS crev_var,
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
			   -- revenue per user: Welch's t
			   CASE WHEN NOT p.ctl AND has_revenue AND p.rev_var / p.n + p.crev_var / p.cn > 0 THEN
				   recsys._t_two_sided_p((p.rev - p.crev) / sqrt(p.rev_var / p.n + p.crev_var / p.cn),
					   (p.rev_var / p.n + p.crev_var / p.cn) ^ 2
					   / ((p.rev_var / p.n) ^ 2 / (p.n - 1) + (p.crev_var / p.cn) ^ 2 / (p.cn - 1))) END AS rev_p,
			   -- the primary metric's difference and its unpooled variance
			   CASE metric WHEN 'conversion' THEN p.p - p.cp WHEN 'ctr' THEN p.r - p.cr
						   ELSE p.rev - p.crev END AS d,
			   CASE metric WHEN 'conversion' THEN p.p * (1 - p.p) / nullif(p.n, 0) + p.cp * (1 - p.cp) / nullif(p.cn, 0)
						   WHEN 'ctr' THEN p.r_var + p.cr_var
						   ELSE p.rev_var / nullif(p.n, 0) + p.crev_var / nullif(p.cn, 0) END AS dv,
			   -- the variance of the difference at this size if there were none
			   CASE metric WHEN 'conversion' THEN p.cp * (1 - p.cp) * (1.0 / nullif(p.n, 0) + 1.0 / nullif(p.cn, 0))
						   WHEN 'ctr' THEN p.cr_var * (1 + p.cn::float8 / nullif(p.n, 0))
						   ELSE p.crev_var * (1.0 / nullif(p.n, 0) + 1.0 / nullif(p.cn, 0)) END AS dv0,
			   -- per-user variances of the two arms, for the users still needed
			   CASE metric WHEN 'conversion' THEN p.p * (1 - p.p) + p.cp * (1 - p.cp)
						   WHEN 'ctr' THEN p.r_var * p.n + p.cr_var * p.cn
						   ELSE p.rev_var + p.crev_var END AS unit_var
		FROM pair p
	), seq AS (
		SELECT t.*,
			   -- always-valid p = min(1, 1 / Lambda), from ln Lambda: exp()
			   -- of a clear result's -ln Lambda would underflow (an error in
			   -- PostgreSQL), so p is 0 below 1e-300
			   CASE WHEN t.log_lambda > 690 THEN 0 WHEN t.log_lambda IS NOT NULL THEN least(1.0, exp(-t.log_lambda))
			   END AS pav,
			   CASE metric WHEN 'conversion' THEN t.conv_p WHEN 'ctr' THEN t.ctr_pv ELSE t.rev_p END AS pfixed
		FROM (SELECT t.*,
					 -- mSPRT with a normal mixture N(0, tau^2) (Johari et al. 2017)
					 CASE WHEN NOT t.ctl AND t.dv > 0 THEN
						 0.5 * ln(t.dv / (t.dv + tau ^ 2)) + tau ^ 2 * t.d ^ 2 / (2 * t.dv * (t.dv + tau ^ 2))
					 END AS log_lambda
			  FROM tests t) t
	)
	SELECT q.name, q.ctl, q.n, q.m, q.c,
		   q.r, greatest(q.r - z * sqrt(q.r_var), 0), least(q.r + z * sqrt(q.r_var), 1), q.ctr_pv,
		   q.x, q.p,
		   -- Wilson's interval
		   CASE WHEN q.n > 0 THEN (q.p + z ^ 2 / (2 * q.n) - z * sqrt(q.p * (1 - q.p) / q.n + z ^ 2 / (4 * q.n ^ 2)))
								  / (1 + z ^ 2 / q.n) END,
		   CASE WHEN q.n > 0 THEN (q.p + z ^ 2 / (2 * q.n) + z * sqrt(q.p * (1 - q.p) / q.n + z ^ 2 / (4 * q.n ^ 2)))
								  / (1 + z ^ 2 / q.n) END,
		   q.conv_p,
		   CASE WHEN has_revenue THEN q.rev END,
		   CASE WHEN has_revenue THEN q.rev - z * sqrt(q.rev_var / q.n) END,
		   CASE WHEN has_revenue THEN q.rev + z * sqrt(q.rev_var / q.n) END,
		   q.rev_p,
		   q.pav,
		   CASE WHEN NOT q.ctl THEN (z + zp) * sqrt(q.dv0) END,
		   CASE
			   WHEN q.ctl THEN 'control'
			   WHEN q.n = 0 OR q.cn = 0 THEN 'no users yet'
			   WHEN metric = 'revenue' AND NOT has_revenue THEN 'no amounts logged: pass amount to log_outcome'
			   WHEN (CASE WHEN sequential THEN q.pav ELSE q.pfixed END) < alpha THEN
				   format('%s %s %s on %s (%s%s, p = %s%s)', q.name,
						  CASE WHEN q.d > 0 THEN 'beats' ELSE 'is worse than' END, e.control,
						  metric, CASE WHEN q.d > 0 THEN '+' ELSE '' END,
						  CASE WHEN metric = 'revenue' THEN round(q.d::numeric, 2)::text
							   ELSE round((100 * q.d)::numeric, 2)::text || ' points' END,
						  round((CASE WHEN sequential THEN q.pav ELSE q.pfixed END)::numeric, 4),
						  CASE WHEN sequential THEN ', always valid' ELSE '' END)
			   WHEN q.d = 0 OR q.d IS NULL OR q.unit_var IS NULL OR q.unit_var = 0 THEN
				   format('not significant yet: no difference seen; detectable at this size: %s',
						  CASE WHEN metric = 'revenue' THEN round(((z + zp) * sqrt(q.dv0))::numeric, 2)::text
							   ELSE round((100 * (z + zp) * sqrt(q.dv0))::numeric, 2)::text || ' points' END)
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

-- review fixes (s8-fixr)

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

-- (recsys.clean_orphans: in the s9-fix section below)

-- a model an experiment serves keeps its name; variants record their models' owners (review s8, 2)
CREATE OR REPLACE FUNCTION recsys._experiments_using(model text, owner oid, grantees oid[])
RETURNS text[]
AS 'MODULE_PATHNAME', 'recsys_experiments_using'
LANGUAGE C VOLATILE PARALLEL RESTRICTED SECURITY INVOKER;
COMMENT ON FUNCTION recsys._experiments_using(text, oid, oid[]) IS
	'internal: the experiments that serve a model in a variant, whoever owns them';

-- (recsys._models_members_check: in the s9-fix2 section below)


-- A function this script drops and creates again (train_fm, train_item_knn:
-- new trailing arguments) would come back with the default privileges, silently
-- undoing a DBA's REVOKE EXECUTE ... FROM PUBLIC or GRANT EXECUTE ... TO
-- (review s8, 4).  Its ACL, saved before the DROP in a transaction-local
-- setting (recsys_upgrade.<function>_acl), is given to the replacement:
-- PUBLIC's default EXECUTE revoked, then every entry of the old ACL
-- granted again, with its grant option.
DO $$
DECLARE
	f record;
	old_acl aclitem[];
	a record;
BEGIN
	FOR f IN SELECT * FROM (VALUES
		('train_fm', 'recsys.train_fm(regclass, text, text, integer, integer, double precision,
			double precision, integer, double precision, regclass, regclass, name, interval, boolean,
			double precision, name, name, bigint, boolean, boolean, boolean, double precision,
			double precision, interval)'::regprocedure),
		('train_item_knn', 'recsys.train_item_knn(regclass, integer, text, text, double precision,
			double precision, double precision, name, name, name, name, interval,
			double precision, double precision, integer, bigint, boolean, name, jsonb, regclass, double precision,
			double precision, double precision, double precision, double precision, text)'::regprocedure)) v(name, fn)
	LOOP
		old_acl := nullif(current_setting(format('recsys_upgrade.%s_acl', f.name), true), '')::aclitem[];
		CONTINUE WHEN old_acl IS NULL;		-- default privileges: nothing to carry over
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.fn);
		FOR a IN SELECT * FROM aclexplode(old_acl) x
				 WHERE x.grantee = 0 OR EXISTS (SELECT FROM pg_roles r WHERE r.oid = x.grantee)
		LOOP
			EXECUTE format('GRANT %s ON FUNCTION %s TO %s%s', a.privilege_type, f.fn,
						   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
						   CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
		END LOOP;
	END LOOP;
END
$$;

-- attribution at most 366 days (review s8, 5; experiment_daily's cap, which covers
-- outcomes too, is in the s9-fix section below)
CREATE OR REPLACE FUNCTION recsys.create_experiment(
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
		RAISE EXCEPTION 'name must be a text of 1 to 63 characters' USING ERRCODE = 'invalid_parameter_value';
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


-- split_last checks time_col as the trainers do and holds out no pair without a time; the splits refuse non-integer ids (review s8, 6 and 8)
CREATE OR REPLACE FUNCTION recsys._require_id_column(source regclass, col name, argname text)
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
	IF typ NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
		RAISE EXCEPTION '% column "%" has type %, which cannot be an id', argname, col, format_type(typ, NULL)
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'Ids must be smallint, integer or bigint; map other keys to integers in a view, for example with dense_rank().';
	END IF;
END
$$;
COMMENT ON FUNCTION recsys._require_id_column(regclass, name, text) IS
	'internal: raise a clear error when a source''s id column is missing or not an integer';

CREATE OR REPLACE FUNCTION recsys._check_time_col(source regclass, time_col name)
RETURNS void
AS 'MODULE_PATHNAME', 'recsys_check_time_col'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._check_time_col(regclass, name) IS
	'internal: refuse a time column of a type that holds no time, or holding an infinite time';

CREATE OR REPLACE FUNCTION recsys.split_kfold(
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

CREATE OR REPLACE FUNCTION recsys.split_holdout(
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

CREATE OR REPLACE FUNCTION recsys.split_last(
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
	-- a pair's time is its latest interaction; ties by item id.  A pair
	-- with no time (every row's NULL) sorts first and is never held out:
	-- it cannot be among the user's latest (review s8, 6)
	RETURN QUERY EXECUTE format(
		'SELECT u, i, cnt >= $2 AND r > cnt - $1 AND t IS NOT NULL '
		'FROM (SELECT u, i, t, count(*) OVER (PARTITION BY u) AS cnt, '
		'             row_number() OVER (PARTITION BY u ORDER BY t NULLS FIRST, i) AS r '
		'      FROM (SELECT %I::bigint AS u, %I::bigint AS i, max(%I) AS t FROM %s '
		'            WHERE %I IS NOT NULL AND %I IS NOT NULL GROUP BY 1, 2) pairs) ranked',
		user_col, item_col, time_col, source, user_col, item_col)
	USING n, min_interactions;
END
$$;
COMMENT ON FUNCTION recsys.split_last(regclass, name, integer, integer, name, name) IS
	'per-user leave-last-n-out by time: whether each (user, item) pair is in the test set';


-- tune checks the kept model's name (bytes), owner and algorithm before the first candidate (review s8, 7)
CREATE OR REPLACE FUNCTION recsys._tune_check_model(trainer regprocedure, model text, replace boolean)
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
									user_col, item_col, weight_col) c;
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

-- review fixes (s8-fixr2)

CREATE FUNCTION recsys._require_writable(function text)
RETURNS void
AS 'MODULE_PATHNAME', 'recsys_require_writable'
LANGUAGE C STABLE PARALLEL RESTRICTED STRICT SECURITY INVOKER;
COMMENT ON FUNCTION recsys._require_writable(text) IS
	'internal: an error when the transaction is read-only or the server in recovery';

CREATE OR REPLACE FUNCTION recsys.create_ivf(model text, lists integer DEFAULT NULL,
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

CREATE OR REPLACE FUNCTION recsys.refresh_catalog(catalog text DEFAULT 'default')
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

CREATE OR REPLACE FUNCTION recsys.index_catalog(
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

-- fixes (s9-fix)

-- Experiments end (recsys.end_experiment): when, and the variant kept for
-- everyone since; the reports count the impressions shown until the end,
-- and only the kept variant's models stay protected from drop and rename
ALTER TABLE recsys.experiments
	ADD COLUMN ended_at timestamptz,
	ADD COLUMN kept_variant text,
	ADD CONSTRAINT experiments_ended_kept CHECK ((ended_at IS NULL) = (kept_variant IS NULL) AND isfinite(ended_at) IS NOT FALSE);

-- A model's identity: when its name was first trained (kept by retraining,
-- new after a drop); existing models get their oldest known training time
ALTER TABLE recsys.models ADD COLUMN created_at timestamptz;
UPDATE recsys.models m
SET created_at = least(m.trained_at, (SELECT min(v.trained_at) FROM recsys.model_versions v WHERE v.model = m.name));
ALTER TABLE recsys.models
	ALTER COLUMN created_at SET DEFAULT pg_catalog.clock_timestamp(),
	ALTER COLUMN created_at SET NOT NULL;

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

-- internal: the variants as given, checked and completed (share 1 unless
-- given; the recommend options only when given)
CREATE OR REPLACE FUNCTION recsys._experiment_variants(variants jsonb, design text)
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
		RAISE EXCEPTION 'variants must not name more than 100 variants' USING ERRCODE = 'invalid_parameter_value';
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
			RAISE EXCEPTION 'each variant needs a name: a string of 1 to 63 characters'
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
				RAISE EXCEPTION 'model of variant "%" must be a model name', vname
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
			RAISE EXCEPTION 'diversity of variant "%" must be a number between 0 and 1', vname
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF v ? 'similarity_model' AND jsonb_typeof(v -> 'similarity_model') <> 'string' THEN
			RAISE EXCEPTION 'similarity_model of variant "%" must be a model name', vname
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF v ? 'similarity_model' AND NOT EXISTS (SELECT FROM recsys.models m
												  WHERE m.name = v ->> 'similarity_model') THEN
			RAISE EXCEPTION 'similarity_model "%" of variant "%" does not exist', v ->> 'similarity_model', vname
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'SELECT name FROM recsys.models lists the models you may use.';
		END IF;
		IF v ? 'exclude_seen' AND jsonb_typeof(v -> 'exclude_seen') <> 'boolean' THEN
			RAISE EXCEPTION 'exclude_seen of variant "%" must be true or false', vname
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

-- (recsys._experiment_check_models: in the s9-fix2 section below)

CREATE OR REPLACE FUNCTION recsys.alter_experiment(
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

-- internal: a direct INSERT or UPDATE of an experiment's row (which
-- row-level security lets its owners make) is checked as alter_experiment checks its
-- arguments: the variants as _experiment_variants leaves them, the control
-- one of them, the allocation naming only them, and their models usable by
-- the (new) owner
CREATE OR REPLACE FUNCTION recsys._experiments_write_check()
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

CREATE OR REPLACE FUNCTION recsys.assign(experiment text, user_id bigint)
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

CREATE OR REPLACE FUNCTION recsys.recommend_for_experiment(
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

CREATE OR REPLACE FUNCTION recsys.recommend_interleaved(
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

-- internal: each user of an experiment, in the variant of its first
-- exposure, with its impressions and attributed outcomes.  A click counts
-- when the item was shown to the user at most attribution before it; a
-- conversion when it falls between the user's first exposure and its last
-- plus attribution.
CREATE OR REPLACE FUNCTION recsys._experiment_users(experiment text)
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
			   min(i.shown_at) AS first_at, max(i.shown_at) AS last_at, count(i.item_id) AS impressions
		FROM recsys.experiment_impressions i, e
		WHERE i.experiment = _experiment_users.experiment AND i.shown_at <= e.ended_at
		GROUP BY i.user_id
	), clicks AS (
		SELECT o.user_id, count(*) AS n
		FROM recsys.experiment_outcomes o, e
		WHERE o.experiment = _experiment_users.experiment AND o.kind = 'click'
		  AND EXISTS (SELECT FROM recsys.experiment_impressions s
					  WHERE s.experiment = _experiment_users.experiment AND s.user_id = o.user_id
						AND s.item_id = o.item_id AND s.shown_at <= e.ended_at
						AND o.at >= s.shown_at AND o.at <= s.shown_at + e.attribution)
		GROUP BY o.user_id
	), conversions AS (
		SELECT o.user_id, min(o.at) AS first_at, sum(o.amount) AS revenue
		FROM recsys.experiment_outcomes o JOIN per_user u ON u.user_id = o.user_id CROSS JOIN e
		WHERE o.experiment = _experiment_users.experiment AND o.kind = 'conversion'
		  AND o.at >= u.first_at AND o.at <= u.last_at + e.attribution
		GROUP BY o.user_id
	)
	SELECT u.user_id, u.variant, u.first_at, u.impressions, coalesce(c.n, 0), v.first_at, coalesce(v.revenue, 0)
	FROM per_user u
	LEFT JOIN clicks c ON c.user_id = u.user_id
	LEFT JOIN conversions v ON v.user_id = u.user_id
$$;
COMMENT ON FUNCTION recsys._experiment_users(text) IS
	'internal: an experiment''s users with their variant, impressions and attributed outcomes';

CREATE OR REPLACE FUNCTION recsys.experiment_daily(experiment text, alpha double precision DEFAULT 0.05)
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
		   (c.x::float8 / c.n + z ^ 2 / (2 * c.n) - z * sqrt(c.x::float8 / c.n * (1 - c.x::float8 / c.n) / c.n + z ^ 2 / (4 * c.n ^ 2)))
		   / (1 + z ^ 2 / c.n),
		   (c.x::float8 / c.n + z ^ 2 / (2 * c.n) + z * sqrt(c.x::float8 / c.n * (1 - c.x::float8 / c.n) / c.n + z ^ 2 / (4 * c.n ^ 2)))
		   / (1 + z ^ 2 / c.n)
	FROM cum c
	ORDER BY c.variant, c.day;
END
$$;
COMMENT ON FUNCTION recsys.experiment_daily(text, double precision) IS
	'an A/B experiment''s cumulative conversion per variant and day, with its interval (rows for a plot)';

CREATE OR REPLACE FUNCTION recsys.interleaving_results(experiment text, alpha double precision DEFAULT 0.05)
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
		-- a click goes to the team that showed the item most recently before it
		SELECT o.user_id,
			   (SELECT i.variant FROM recsys.experiment_impressions i
				WHERE i.experiment = e.name AND i.user_id = o.user_id AND i.item_id = o.item_id
				  AND i.variant IN (a, b) AND i.shown_at <= coalesce(e.ended_at, 'infinity')
				  AND i.shown_at <= o.at AND o.at <= i.shown_at + e.attribution
				ORDER BY i.shown_at DESC LIMIT 1) AS team
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

-- Give every orphaned object to new_owner and remove the dropped grantees
-- (the DBA's clean-up after DROP ROLE, as REASSIGN OWNED / DROP OWNED are
-- for PostgreSQL's own objects).  Superusers only.  Returns what changed.
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
		IF o.kind = 'model' AND o.owner = ANY (o.dropped_roles) THEN
			given := given || o.name;
			given_from := given_from || o.owner;
		END IF;
		EXECUTE format('SELECT array(SELECT g FROM unnest(t.grantees) g WHERE g::oid <> ALL ($2)) '
					   'FROM recsys.%I t WHERE t.name = $1', o.kind || 's')
			INTO kept USING o.name, o.dropped_roles;
		IF o.kind = 'experiment' THEN
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
		RETURN NEXT;
	END LOOP;
	-- the other experiments that serve a model given away: their variants'
	-- recorded owner of it follows (returned with no role removed)
	FOR o IN
		UPDATE recsys.experiments t
		SET variants = recsys._experiment_variants_reowned(t.variants, given, given_from, new_owner)
		WHERE t.variants IS DISTINCT FROM recsys._experiment_variants_reowned(t.variants, given, given_from, new_owner)
		RETURNING t.name, t.owner
	LOOP
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

-- Experiments made before: their variants record their models' identity
-- as the models are now (a model dropped and trained again before the
-- update cannot be told apart).  Written past the write check, which
-- would ask for every variant's model as the experiment's owner
ALTER TABLE recsys.experiments DISABLE TRIGGER experiments_write_check;
UPDATE recsys.experiments e
SET variants = (SELECT jsonb_agg(x.v || coalesce((SELECT jsonb_object_agg(k.p || '_created_at', m.created_at)
												 FROM unnest(ARRAY['model', 'similarity_model']) k(p)
												 JOIN recsys.models m ON m.name = x.v ->> k.p), '{}') ORDER BY x.o)
				FROM jsonb_array_elements(e.variants) WITH ORDINALITY AS x(v, o));
ALTER TABLE recsys.experiments ENABLE TRIGGER experiments_write_check;
-------------------------------------------------------------------------------
-- Fixes (s9-fixr): review s9's defects
-------------------------------------------------------------------------------

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

CREATE OR REPLACE FUNCTION recsys.evaluate_at(
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

-- fixes (s9-fix2)

-- drop_model and renames refused for an ended experiment's kept model
-- name recsys.drop_experiment (alter_experiment refuses ended experiments)
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

-- serving refuses a variant that records no owner or identity of its
-- model (the update below marks those whose model was missing)
CREATE OR REPLACE FUNCTION recsys._experiment_check_models(e recsys.experiments, variants jsonb)
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
COMMENT ON FUNCTION recsys._experiment_check_models(recsys.experiments, jsonb) IS
	'internal: refuse variants whose models the experiment''s owner may not use';

-- Experiments made before 0.10.0 record their models' owners (name and
-- OID) as they are now, next to the identities the s9-fix update above
-- recorded.  A variant whose model is missing (0.9.0's drop_model dropped
-- models experiments served) records JSON nulls, which no model matches:
-- serving refuses it (55000) until alter_experiment gives the variants
-- again, whoever trains a model of that name meanwhile.  Written past the
-- write check, as above
ALTER TABLE recsys.experiments DISABLE TRIGGER experiments_write_check;
UPDATE recsys.experiments e
SET variants = (SELECT jsonb_agg(x.v || recsys._experiment_models_recorded(x.v)
								 || coalesce((SELECT jsonb_object_agg(k.p || r.suffix, NULL::jsonb)
											  FROM unnest(ARRAY['model', 'similarity_model']) k(p),
												   unnest(ARRAY['_owner', '_created_at']) r(suffix)
											  WHERE x.v ->> k.p IS NOT NULL
												AND NOT EXISTS (SELECT FROM recsys.models m WHERE m.name = x.v ->> k.p)),
											 '{}')
								 ORDER BY x.o)
				FROM jsonb_array_elements(e.variants) WITH ORDINALITY AS x(v, o));
ALTER TABLE recsys.experiments ENABLE TRIGGER experiments_write_check;
