-- recsys 0.10.0 -> 0.11.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.11.0'" to load this file. \quit

-- 0.11.0: each change has a section of its own below (one per work stream).
-- A function changed by several sections ends as one copy equal to
-- sql/recsys.sql's (replace the earlier section's copy, do not add a second).

-------------------------------------------------------------------------------
-- Cold items: the cold re-ranker kind
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------

-- s10: the second round's record says when the first round's setting itself
-- was not scored (centre_cut); the description quotes accurate values;
-- the blend members' test level in a function of its own; and the
-- protocol last's validation (doc/internals.md, "train_auto")

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
			EXECUTE format('CREATE TEMP TABLE %1$I ON COMMIT DROP AS '
						   'WITH c AS (SELECT percentile_disc(0.9) WITHIN GROUP (ORDER BY r.%2$I) AS t FROM %5$s r), '
						   '     p AS (SELECT r.%3$I::bigint AS user_id, r.%4$I::bigint AS item_id, min(r.%2$I) AS first '
						   '           FROM %5$s r GROUP BY 1, 2) '
						   'SELECT x.user_id, x.item_id FROM ('
						   '  SELECT p.user_id, p.item_id, row_number() OVER (PARTITION BY p.user_id ORDER BY p.first, p.item_id) AS o '
						   '  FROM p, c WHERE p.first >= c.t '
						   '    AND p.user_id IN (SELECT q.user_id FROM p q, c WHERE q.first < c.t '
						   '                      GROUP BY q.user_id HAVING count(*) >= 5)) x '
						   'WHERE x.o <= 5', valid, time_col, user_col, item_col, source);
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
			USING source, seed + j - 1, user_col, item_col;
		END IF;
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
-- returned as cut (the first round's setting, when its own scoring was
-- cut, is not in cut: it stays whatever, and centre_cut says it was not
-- scored).  Only the best setting's models on the repeated splits
-- are kept (the blends are tested on them).  reserve: the seconds kept
-- for what follows (the blends).  Returns {"chosen": the best trial or
-- null, "moves", "new_settings" (trained on the first split here),
-- "scored" (the trials scored, in order), "cut" (settings, in order),
-- "centre_cut" (true when the first round's setting was not scored on
-- the repeated splits for the budget)}.
CREATE OR REPLACE FUNCTION recsys._auto_climb(family text, algorithm text, steps jsonb, cost jsonb, incumbent integer,
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
	-- (the list is being cut: the budget ended it)
	cutting boolean := false;
	-- (the centre itself not scored on the repeated splits)
	centre_cut boolean := false;
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
				IF cutting THEN
					cut := cut || jsonb_build_array(setting - ARRAY['user_col', 'item_col']);
					CONTINUE;
				END IF;
				result := recsys._auto_trial(family, algorithm, setting, cost, search_round,
											 ctx || jsonb_build_object('extra_reserve', reserve + 2 * coalesce(fit_seconds, 0)));
				IF result = 'budget' THEN
					cut := cut || jsonb_build_array(setting - ARRAY['user_col', 'item_col']);
					cutting := true;
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
			IF cutting THEN
				-- (the centre, cut before its turn: see below)
				IF c = incumbent THEN
					centre_cut := true;
				ELSE
					cut := cut || jsonb_build_array((SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = c));
				END IF;
				CONTINUE;
			END IF;
			IF recsys._auto_rescore(c, 2, ctx || jsonb_build_object('extra_reserve', reserve + coalesce(fit_seconds, 0)), true) IS NULL
			   OR recsys._auto_rescore(c, 3, ctx || jsonb_build_object('extra_reserve', reserve), true) IS NULL THEN
				PERFORM recsys._auto_drop_matched(c);
				DELETE FROM _recsys_auto_scores s WHERE s.n = c;
				cutting := true;
				-- (the first round's setting is kept whatever: cut lists
				-- the settings that could have replaced it, centre_cut
				-- says that it was not scored either)
				IF c = incumbent THEN
					centre_cut := true;
				ELSE
					cut := cut || jsonb_build_array((SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = c));
				END IF;
				CONTINUE;
			END IF;
			scored := scored || c;
			IF best_mean IS NULL OR recsys._auto_matched_mean(c, 3, ctx -> 'split_users') > best_mean THEN
				IF chosen IS NOT NULL THEN
					PERFORM recsys._auto_drop_matched(chosen);
				END IF;
				chosen := c;
				best_mean := recsys._auto_matched_mean(c, 3, ctx -> 'split_users');
			ELSE
				PERFORM recsys._auto_drop_matched(c);
			END IF;
		END LOOP;
		EXIT WHEN cutting OR chosen IS NULL OR chosen = centre OR moves >= 1;
		centre := chosen;
		moves := moves + 1;
	END LOOP;
	RETURN jsonb_build_object('chosen', chosen, 'moves', moves, 'new_settings', new_settings,
							  'scored', to_jsonb(scored), 'cut', cut, 'centre_cut', centre_cut);
END
$$;
COMMENT ON FUNCTION recsys._auto_climb(text, text, jsonb, jsonb, integer, integer, double precision, jsonb) IS
	'internal: train_auto''s second round: a hill climb over a setting''s neighbourhood on the repeated validation splits';

DROP FUNCTION recsys._auto_matched_mean(integer, integer);
-- Trial n's mean value over the repeated splits 2 to m (those whose train
-- part has nearly the final model's depth, scored in its form), NULL
-- unless scored on all of them.  The first split's value is left out: it
-- is offset from what the final model shows by its depth and form alike
-- for every setting of a family, so it ranks them apart from test
-- (online-retail strat75: three first-style splits agreed with each other,
-- not with test).  With users (a JSON object of each split's validation
-- users, ctx's split_users) each split counts by its users: the mean over
-- the (user, split) pairs, so that a split of few users (protocol last's
-- global time cut on data whose users stop early) weighs as little as
-- it knows; on holdout both repeated splits have the same users.
CREATE FUNCTION recsys._auto_matched_mean(n integer, m integer, users jsonb DEFAULT NULL)
RETURNS double precision
LANGUAGE sql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT sum(x.value * coalesce((users ->> x.split::text)::double precision, 1))
		   / sum(coalesce((users ->> x.split::text)::double precision, 1))
	FROM _recsys_auto_scores x
	WHERE x.n = _auto_matched_mean.n AND x.split BETWEEN 2 AND m
	HAVING count(x.value) = m - 1 AND m >= 2
$$;
COMMENT ON FUNCTION recsys._auto_matched_mean(integer, integer, jsonb) IS
	'internal: a train_auto trial''s mean value over the repeated splits 2 to m (final model''s depth and form), by their users when given';

DROP FUNCTION recsys._auto_second_note(text, integer, integer, integer, integer, jsonb, jsonb);
-- What train_auto's description says of the second round: the settings
-- of the best family's neighbourhood scored on the matched (repeated)
-- splits, the hill climb's moves, the settings the budget cut, and the
-- setting kept: the first round's, or the one it changed to (shown: only
-- the parameters that differ).  centre_cut: the first round's setting
-- itself was not scored on the repeated splits (the budget did not cover
-- its fits there), so nothing was compared and it stays.
CREATE FUNCTION recsys._auto_second_note(family text, scored integer, moves integer, cut integer, splits integer,
										 first_round jsonb, kept jsonb, centre_cut boolean DEFAULT false)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT format('%s: ', family)
		   || CASE WHEN splits = 1 THEN 'no repeated validation split (too few users): '
				   WHEN centre_cut
				   THEN format('the first round''s setting not scored on the %s repeated validation splits (its fits there did not fit the budget; %s neighbouring setting(s) not scored either): ',
							   splits - 1, cut)
				   ELSE format('%s setting(s) of the neighbourhood scored on %s repeated validation splits of the final model''s depth and form (%s move(s))%s, the best mean: ',
							   scored, splits - 1, moves,
							   CASE WHEN cut > 0 THEN format(', %s cut for the budget', cut) ELSE '' END) END
		   || CASE WHEN kept IS NOT DISTINCT FROM first_round THEN 'the first round''s setting kept'
				   ELSE 'changed to ' || (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(kept) e
										 WHERE e.value IS DISTINCT FROM first_round -> e.key)::text END
$$;
COMMENT ON FUNCTION recsys._auto_second_note(text, integer, integer, integer, integer, jsonb, jsonb, boolean) IS
	'internal: train_auto''s sentence on its second round';

-- The least paired z a blend member's gain needs (_auto_paired_z) where
-- it is tested: on the repeated splits (matched), ctx's min_z_matched
-- (1: the weight was chosen on the first split, not on these users);
-- else on the first split, ctx's min_z (1.96: the best of five weights
-- on the same users), but only while the family's setting is the first
-- round's own (first_split_base); NULL, no test and the member not kept,
-- when the setting was chosen on the repeated splits (the first split
-- underrates it there, so a gain over it is partly that offset).
CREATE FUNCTION recsys._auto_blend_min_z(matched boolean, first_split_base boolean, ctx jsonb)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN matched THEN (ctx ->> 'min_z_matched')::double precision
				WHEN first_split_base THEN (ctx ->> 'min_z')::double precision END
$$;
COMMENT ON FUNCTION recsys._auto_blend_min_z(boolean, boolean, jsonb) IS
	'internal: the least paired z of a train_auto blend member''s gain, on the repeated splits or the first, or NULL (not tested)';

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
	time_unused boolean;
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
	split_users bigint;
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
		-- gain one standard error above none (doc/internals.md, "train_auto");
		-- on protocol last 1.96 (0.11.0): its split 2 is the first split,
		-- whose users the weight was chosen on
		'min_z_matched', CASE WHEN protocol_used = 'last' THEN 1.96 ELSE 1.0 END,
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
			split_users := recsys._auto_split(j, protocol_used, source, seed, user_col, item_col, time_col);
			EXIT WHEN split_users < 2;
			-- (each split's users: the matched mean counts a split by them)
			ctx := ctx || jsonb_build_object('split_users', coalesce(ctx -> 'split_users', '{}')
															|| jsonb_build_object(j::text, split_users));
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
		-- (the mean shown is the one compared: by the splits' users, as
		-- _auto_matched_mean; the users say how much each split counts)
		UPDATE _recsys_auto_trials t
		SET status = t.status || format('; on validation splits 1 to %s: %s (mean of splits 2 to %s by their validation users, %s, the final model''s depth and form: %s)',
										cardinality(a.v), array_to_string(a.v, ', '), cardinality(a.v),
										a.users, round(a.mean::numeric, 4))
		FROM (SELECT x.n, ARRAY(SELECT round(v::numeric, 4) FROM unnest(recsys._auto_split_values(x.n)) v) AS v,
					 w.mean, w.users
			  FROM (SELECT DISTINCT s.n FROM _recsys_auto_scores s) x,
				   LATERAL (SELECT sum(s.value * u.users) / sum(u.users) AS mean,
								   array_to_string(array_agg(u.users ORDER BY s.split), ' and ') AS users
							FROM _recsys_auto_scores s,
								 LATERAL (SELECT coalesce((ctx -> 'split_users' ->> s.split::text)::double precision, 1)
												 AS users) u
							WHERE s.n = x.n AND s.value IS NOT NULL) w) a
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
			'cut', coalesce(climb -> 'cut', '[]'),
			-- (the first round's setting not scored there: kept unscored)
			'centre_cut', coalesce((climb ->> 'centre_cut')::boolean, false));
		second_note := recsys._auto_second_note(fam.family,
			jsonb_array_length(climb -> 'scored'), (climb ->> 'moves')::integer, jsonb_array_length(climb -> 'cut'),
			splits_used, (SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = incumbent),
			(SELECT t.shown FROM _recsys_auto_trials t WHERE t.family = fam.family AND t.model IS NOT NULL),
			coalesce((climb ->> 'centre_cut')::boolean, false));
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
	-- (the blends not kept are no rival: their gains were not significant;
	-- the best other family: the best first-split value of a family's
	-- model kept, neither the winner's nor one of its members')
	SELECT t.* INTO runner_up FROM _recsys_auto_trials t
	WHERE t.value IS NOT NULL AND t.model IS NOT NULL AND t.family <> 'blend'
	  AND t.family <> winner.family AND NOT t.family = ANY (blend_families)
	ORDER BY t.value DESC, t.n LIMIT 1;
	why := format('%s of %s trained candidates%s%s',
				  CASE WHEN winner.family = 'blend'
					   THEN format('validation %s %s on the first split for the blend, against %s for %s alone', metric,
								   round(winner.value::numeric, 4), round(top.value::numeric, 4), top.family)
					   WHEN winner.n IS DISTINCT FROM incumbent AND recsys._auto_matched_mean(winner.n, 3, ctx -> 'split_users') IS NOT NULL
					   THEN format('validation %s %s on the first split, chosen over the first round''s setting (%s there) by its mean over the repeated splits (%s against %s)',
								   metric, round(winner.value::numeric, 4),
								   (SELECT round(t.value::numeric, 4) FROM _recsys_auto_trials t WHERE t.n = incumbent),
								   round(recsys._auto_matched_mean(winner.n, 3, ctx -> 'split_users')::numeric, 4),
								   coalesce(round(recsys._auto_matched_mean(incumbent, 3, ctx -> 'split_users')::numeric, 4)::text, 'not scored'))
					   ELSE format('best validation %s (%s) on the first split', metric, round(winner.value::numeric, 4)) END,
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

-------------------------------------------------------------------------------
-- Fixes
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Review fixes
-------------------------------------------------------------------------------
