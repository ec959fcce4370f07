-- recsys 0.11.0 -> 0.12.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.12.0'" to load this file. \quit

-- 0.12.0: each change has a section of its own below (one per work stream).
-- A function changed by several sections ends as one copy equal to
-- sql/recsys.sql's (replace the earlier section's copy, do not add a second).

-------------------------------------------------------------------------------
-- train_auto: the item features a component the search switches off (s14)
-------------------------------------------------------------------------------

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
CREATE OR REPLACE FUNCTION recsys._auto_features_check(metric_name text, k integer, families text[], protected text,
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

-------------------------------------------------------------------------------
-- train_auto: the last basket, a family of its own on 'last' (s15)
-- (and train_auto's families hint, in its copy above)
-------------------------------------------------------------------------------

-- (_auto_families: its copy is in the s17 section below, which changes
-- its result's columns)

-------------------------------------------------------------------------------
-- Splits and train_auto at scale (s16): pairs made distinct by sorting, not
-- hashing; train_auto scores at most 10,000 validation users and records
-- the families its budget was too short for (_auto_trial's skips)
-- (and train_auto itself, in its copy above)
-------------------------------------------------------------------------------

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
CREATE OR REPLACE FUNCTION recsys._auto_sample_users(valid text, seed bigint)
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
CREATE OR REPLACE FUNCTION recsys._auto_split(j integer, protocol text, source regclass, seed bigint,
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

-------------------------------------------------------------------------------
-- train_auto: a family's lighter setting, tried when its standard one does
-- not fit the budget (s17)
-- (and train_auto's first round, later rounds and record, in its copy above)
-------------------------------------------------------------------------------

-- (a column more in its result: dropped and made anew; nothing depends on
-- it but PL/pgSQL, which looks it up when it runs)
DROP FUNCTION recsys._auto_families(text, name, name, regclass);

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
CREATE OR REPLACE FUNCTION recsys._auto_families(protocol text, time_col name, weight_col name, features regclass)
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

-- The seconds a train_auto trial must leave in the budget besides its own
-- estimate (see _auto_trial): the winner's and its blend partner's final
-- training on all the data and, while the search runs, three blend
-- evaluations (once another family than popularity has a model better
-- than popularity's: s17);
-- plus ctx's extra_reserve when given (the second round keeps time for
-- the checks and blends that follow it).
CREATE OR REPLACE FUNCTION recsys._auto_reserve(family text, params jsonb, estimate double precision, blending boolean,
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


-------------------------------------------------------------------------------
-- EASE over the most popular items (train_ease's max_items), train_auto's
-- lighter EASE on a large catalog (s18)
-------------------------------------------------------------------------------

-- train_ease takes max_items.  The EXECUTE grants a DBA made on the old
-- train_ease are kept for the new one (review s18 R5; doc/operations.md,
-- "Function privileges across an update"): saved here, given to the
-- replacement after its CREATE below
SELECT pg_catalog.set_config('recsys_upgrade.train_ease_acl', coalesce(p.proacl::text, ''), true)
FROM pg_catalog.pg_proc p
WHERE p.oid = 'recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision,
	double precision, double precision, integer, bigint, boolean, name, jsonb, double precision)'::pg_catalog.regprocedure;
DROP FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision,
	double precision, double precision, integer, bigint, boolean, name, jsonb, double precision);

CREATE OR REPLACE FUNCTION recsys.train_ease(
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

-- (the saved ACL, as 0.10.0's script does for train_fm: PUBLIC's default
-- EXECUTE revoked, then every entry of the old ACL granted again, with its
-- grant option; and no initial privileges recorded for them, so that
-- pg_dump writes the DBA's grants: see the 0.10.0 -> 0.11.0 script)
DO $$
DECLARE
	fn regprocedure := 'recsys.train_ease(regclass, double precision, text, integer, name, name, name,
		double precision, double precision, double precision, name, interval, regclass, double precision,
		double precision, double precision, integer, bigint, boolean, name, jsonb, double precision,
		integer)'::regprocedure;
	old_acl aclitem[] := nullif(current_setting('recsys_upgrade.train_ease_acl', true), '')::aclitem[];
	a record;
BEGIN
	IF old_acl IS NULL THEN
		RETURN;		-- default privileges: nothing to carry over
	END IF;
	EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
	FOR a IN SELECT * FROM aclexplode(old_acl) x
			 WHERE x.grantee = 0 OR EXISTS (SELECT FROM pg_roles r WHERE r.oid = x.grantee)
	LOOP
		EXECUTE format('GRANT %s ON FUNCTION %s TO %s%s', a.privilege_type, fn,
					   CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
					   CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
	END LOOP;
END
$$;
DELETE FROM pg_catalog.pg_init_privs
WHERE classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass AND objsubid OPERATOR(pg_catalog.=) 0
  AND objoid OPERATOR(pg_catalog.=) 'recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision,
	double precision, double precision, integer, bigint, boolean, name, jsonb, double precision,
	integer)'::pg_catalog.regprocedure::pg_catalog.oid;

-- A family's modelled seconds for the split's sizes (see _auto_families;
-- cost's max_items, when given, caps the items of the cubic and scoring
-- terms: EASE over the most popular items alone; its rows_whole, the
-- rows coefficient of the whole catalog, then weighs in by the share of
-- the items kept).
CREATE OR REPLACE FUNCTION recsys._auto_cost(cost jsonb, ctx jsonb)
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

-- The seconds of scoring a trial's setting in the final model's form on
-- a repeated split (_auto_rescore): compact EASE (keep) trained exact
-- (_auto_keep_seconds at this run's load factor), on a train part up to
-- all the data's size (ctx's scale), plus its evaluation, plus a fifth.
CREATE OR REPLACE FUNCTION recsys._auto_rescore_seconds(params jsonb, train_seconds double precision,
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

-- ctx for an EASE setting's writing (s18): with max_items below the
-- catalogue's items, ease_write_exact (the exact model's weights, the
-- catalogue's items squared) for the items it models; else ctx as it is.
CREATE OR REPLACE FUNCTION recsys._auto_capped_ctx(params jsonb, ctx jsonb)
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
