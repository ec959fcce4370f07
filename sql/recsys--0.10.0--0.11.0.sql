-- recsys 0.10.0 -> 0.11.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.11.0'" to load this file. \quit

-- 0.11.0: each change has a section of its own below (one per work stream).
-- A function changed by several sections ends as one copy equal to
-- sql/recsys.sql's (replace the earlier section's copy, do not add a second).

-------------------------------------------------------------------------------
-- Cold items: the cold re-ranker kind
-------------------------------------------------------------------------------

-- The cold re-ranker's term inputs (algorithm cold_ranker, since 0.11.0):
-- per cold item and term a weighted list of warm items, best first
-- (content: tf-idf cosines; cb2cf: CB2CF's ridge weights; lists: the
-- learned lists a'S), and its feature popularity prior as a row of no
-- neighbours and one score.
CREATE TABLE recsys.item_term_lists (
	model			text NOT NULL,
	version			integer NOT NULL,
	item_id			bigint NOT NULL,
	term			text NOT NULL CHECK (term IN ('content', 'cb2cf', 'lists', 'prior')),
	neighbor_ids	bigint[] NOT NULL,
	scores			real[] NOT NULL,
	CHECK (CASE term WHEN 'prior' THEN cardinality(neighbor_ids) = 0 AND cardinality(scores) = 1
		   ELSE cardinality(scores) = cardinality(neighbor_ids) END),
	PRIMARY KEY (model, version, item_id, term),
	FOREIGN KEY (model, version) REFERENCES recsys.model_versions (model, version)
		ON DELETE CASCADE ON UPDATE CASCADE
);
COMMENT ON TABLE recsys.item_term_lists IS
	'recsys cold re-rankers: each cold item''s weighted lists of warm items per term, and its prior';
ALTER TABLE recsys.item_term_lists
	ALTER COLUMN neighbor_ids SET STORAGE EXTERNAL, ALTER COLUMN scores SET STORAGE EXTERNAL;
ALTER TABLE recsys.item_term_lists ENABLE ROW LEVEL SECURITY;
CREATE POLICY model_users ON recsys.item_term_lists FOR SELECT
	USING (model IN (SELECT m.name FROM recsys.models m));
CREATE POLICY model_owners ON recsys.item_term_lists
	USING (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)))
	WITH CHECK (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)));
SELECT pg_catalog.pg_extension_config_dump('recsys.item_term_lists', '');
-- The DBA's grants on the schema's tables (doc/operations.md grants ALL
-- TABLES IN SCHEMA recsys to training and serving roles) do not reach a
-- table an update creates: a trainer of cold re-rankers fitted to the end
-- and failed at the write with a raw 42501 (review s12, V9).  The new
-- table gets the grants of its sibling item_neighbor_lists, as a fresh
-- install followed by the DBA's GRANT would have it, and they are not
-- left recorded as its initial privileges, so that pg_dump writes them
-- (as for train_fm's below).
DO $$
DECLARE
	a record;
BEGIN
	FOR a IN SELECT x.grantee, x.privilege_type, x.is_grantable
			 FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) x
			 WHERE c.oid OPERATOR(pg_catalog.=) 'recsys.item_neighbor_lists'::pg_catalog.regclass
			   AND x.grantee OPERATOR(pg_catalog.<>) c.relowner LOOP
		EXECUTE pg_catalog.format('GRANT %s ON recsys.item_term_lists TO %s%s', a.privilege_type,
								  CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
									   ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
								  CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
	END LOOP;
END
$$;
DELETE FROM pg_catalog.pg_init_privs
WHERE classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
  AND objoid OPERATOR(pg_catalog.=) 'recsys.item_term_lists'::pg_catalog.regclass;

CREATE FUNCTION recsys.train_cold_ranker(
	source regclass,
	features regclass,
	model text DEFAULT 'default',
	coefficients real[] DEFAULT NULL,
	list_length integer DEFAULT 1000,
	regularization double precision DEFAULT NULL,
	neighbors integer DEFAULT 50,
	pseudo_splits integer DEFAULT 5,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	seed bigint DEFAULT 42,
	verbose boolean DEFAULT false,
	replace boolean DEFAULT false,
	cold_slots integer DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_cold_ranker'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_cold_ranker(regclass, regclass, text, real[], integer,
	double precision, integer, integer, name, name, bigint, boolean, boolean, integer) IS
	'train a cold re-ranker: items with features and no interactions ranked for a user by a per-user z-scored mix of content, CB2CF, learned-list and prior terms fitted on pseudo-cold items';

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
-- the repeated splits for the budget), "failed" (settings whose fit on a
-- repeated split failed, in order: no contender, the list goes on; s13,
-- review s12 W6: before, a failure cut the list as the budget does)}.
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
	failed jsonb := '[]';
	-- (their trials, listed once: review s13 R1)
	failed_n integer[] := '{}';
	-- (the list is being cut: the budget ended it)
	cutting boolean := false;
	-- (the centre itself not scored on the repeated splits)
	centre_cut boolean := false;
	-- (the budget check that cut the list: its figures, for the record)
	cut_check jsonb;
	-- (the best setting's models on the repeated splits kept for the
	-- blends; not when the round is resumed after them: ctx's resumed,
	-- and then a setting scored before is not trained again)
	keep_models boolean := NOT coalesce((ctx ->> 'resumed')::boolean, false);
	setting jsonb;
	c integer;
	result text;
	-- (a fit on a repeated split, kept in reserve per setting: since s12
	-- the centre's estimate, measured once a fit has run there
	-- (_auto_fit_estimate); before, the family's dearest first-split trial
	-- modelled, which a load spike on one trial could double)
	fit_seconds double precision;
BEGIN
	LOOP
		-- (the centre's fits on the repeated splits first, s12: recorded,
		-- so that its scoring below finds them, and measured, so that its
		-- neighbours' first-split trials keep their own fits in reserve at
		-- measured seconds, _auto_measured_fit, not modelled ones; when
		-- they do not fit, the scoring below cuts as before)
		IF NOT centre = ANY (scored) THEN
			fit_seconds := recsys._auto_fit_estimate(centre, ctx);
			IF recsys._auto_rescore(centre, 2, ctx || jsonb_build_object('extra_reserve', reserve + coalesce(fit_seconds, 0)),
									keep_models) IS NOT NULL THEN
				PERFORM recsys._auto_rescore(centre, 3, ctx || jsonb_build_object('extra_reserve', reserve), keep_models);
			ELSIF cut_check IS NULL AND NOT EXISTS (SELECT FROM _recsys_auto_scores s
													WHERE s.n = centre AND s.error IS NOT NULL) THEN
				-- (review s12 W9: the check that refused the centre's fit is
				-- the one that cuts the round, its neighbours on the first
				-- split and the centre below: recorded, as the scoring's)
				cut_check := recsys._auto_rescore_check(centre, ctx || jsonb_build_object('extra_reserve',
																						   reserve + coalesce(fit_seconds, 0)));
			END IF;
		END IF;
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
				fit_seconds := recsys._auto_fit_estimate(centre, ctx);
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
				 WHERE t.n = ANY (step) AND NOT t.n = ANY (scored) AND NOT t.n = ANY (failed_n)
				 ORDER BY t.n = centre DESC, t.value DESC NULLS LAST, t.n LOOP
			-- (a setting whose fit there failed already, the centre's
			-- above: failed, whether or not the list is being cut; review
			-- s13 R2: it was recorded as centre_cut, a budget cut)
			IF EXISTS (SELECT FROM _recsys_auto_scores s WHERE s.n = c AND s.error IS NOT NULL) THEN
				PERFORM recsys._auto_drop_matched(c);
				DELETE FROM _recsys_auto_scores s WHERE s.n = c AND s.error IS NULL;
				failed := failed || jsonb_build_array((SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = c));
				failed_n := failed_n || c;
				CONTINUE;
			END IF;
			-- (a centre fitted on both repeated splits before the cut, above,
			-- is scored: its values are recorded)
			IF cutting AND NOT (c = centre AND (SELECT count(*) FROM _recsys_auto_scores s
												 WHERE s.n = c AND s.split IN (2, 3) AND s.value IS NOT NULL) = 2) THEN
				-- (the centre, cut before its turn: see below)
				IF c = incumbent THEN
					centre_cut := true;
				ELSE
					cut := cut || jsonb_build_array((SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = c));
				END IF;
				CONTINUE;
			END IF;
			fit_seconds := recsys._auto_fit_estimate(centre, ctx);
			IF recsys._auto_rescore(c, 2, ctx || jsonb_build_object('extra_reserve', reserve + coalesce(fit_seconds, 0)), keep_models) IS NULL
			   OR recsys._auto_rescore(c, 3, ctx || jsonb_build_object('extra_reserve', reserve), keep_models) IS NULL THEN
				-- (a fit that failed, not one the budget refused: no
				-- contender, its other split's value dropped, the failure
				-- kept so that it is not tried again; the list goes on)
				IF EXISTS (SELECT FROM _recsys_auto_scores s WHERE s.n = c AND s.error IS NOT NULL) THEN
					PERFORM recsys._auto_drop_matched(c);
					DELETE FROM _recsys_auto_scores s WHERE s.n = c AND s.error IS NULL;
					failed := failed || jsonb_build_array((SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = c));
					failed_n := failed_n || c;
					CONTINUE;
				END IF;
				cut_check := recsys._auto_rescore_check(c, ctx || jsonb_build_object('extra_reserve', reserve + coalesce(fit_seconds, 0)));
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
							  'scored', to_jsonb(scored), 'cut', cut, 'centre_cut', centre_cut, 'cut_check', cut_check,
							  'failed', failed);
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
-- (PL/pgSQL, not SQL: its plans follow the temporary tables a second
-- train_auto call in the transaction makes anew; review s13 R3)
CREATE OR REPLACE FUNCTION recsys._auto_matched_mean(n integer, m integer, users jsonb DEFAULT NULL)
RETURNS double precision
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT sum(x.value * coalesce((users ->> x.split::text)::double precision, 1))
			   / sum(coalesce((users ->> x.split::text)::double precision, 1))
		FROM _recsys_auto_scores x
		WHERE x.n = _auto_matched_mean.n AND x.split BETWEEN 2 AND m
		HAVING count(x.value) = m - 1 AND m >= 2
	);
END
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

-- The least paired z of the best of several correlated gains on the same
-- users (since 0.11.0; doc/internals.md, "train_auto"): base holds the
-- users' values under the blend extended, extended one row per weight
-- scored (the same users' values under the blend at that weight); the
-- threshold is the (1 - alpha) quantile of the largest paired z over the
-- weights when each user's whole gain vector has its sign flipped at
-- random (Westfall and Young's max-T, draws draws of the stream seed),
-- alpha that of the single test at single_z (1 - Phi(single_z)).  One
-- weight gives about single_z back, n identical ones the same, n
-- independent ones about Sidak's value; the weights of a blend are
-- strongly correlated, so it lies near the single test's.  Returned: the
-- least hundredth strictly above the critical maximum, i.e. the largest
-- maximum whose tie still gives a sign-flip p-value (1 + #{maxima >= z})
-- / (draws + 1) above alpha (review s12, W1: with few users moved the
-- maxima have atoms, and a quantile compared with >= kept on a tie: one
-- moved user's z 1 passed a threshold 1 at p 0.5).  NULL below two users
-- or when a value is not finite; single_z when every gain is 0.  From
-- 2,000 users on the flips are drawn from their normal limit (weights^2
-- a draw, not users x weights: review s12 W2).  A loop in C
-- (src/auto_threshold.c, src/kernel/stats.c).
CREATE FUNCTION recsys._auto_max_z_threshold(base double precision[], extended double precision[],
											 single_z double precision, seed bigint, draws integer DEFAULT 10000)
RETURNS double precision
AS 'MODULE_PATHNAME', 'recsys_auto_max_z_threshold'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys._auto_max_z_threshold(double precision[], double precision[], double precision, bigint,
												 integer) IS
	'internal: train_auto''s max-T threshold for the best of several correlated blend weights (sign flips)';

-- The max-T test of the weight in row chosen of extended (1-based), as
-- _auto_max_z_threshold draws it: {p, threshold, z}, p the sign-flip
-- p-value of that row's paired z (1 + #{draws' maxima >= z}) / (draws +
-- 1), kept when p <= alpha = 1 - Phi(single_z); threshold as
-- _auto_max_z_threshold's; z the row's paired z as the draws compute it
-- (the same sums, so a tie with an atom is a tie).  NULL as
-- _auto_max_z_threshold; {1, single_z, 0} when every gain is 0.
CREATE FUNCTION recsys._auto_max_z_test(base double precision[], extended double precision[],
										single_z double precision, seed bigint, chosen integer,
										draws integer DEFAULT 10000)
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'recsys_auto_max_z_test'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys._auto_max_z_test(double precision[], double precision[], double precision, bigint,
											integer, integer) IS
	'internal: train_auto''s max-T test of one of several blend weights: sign-flip p-value, threshold, z';

-- The least paired z a blend member's gain needs (_auto_paired_z) where
-- it is tested: on the repeated splits (matched), ctx's min_z_matched
-- (1 on holdout: a gain one standard error above none, enough when the
-- weight tested is the first split's choice, not chosen on these users)
-- when no users' values are given; else (_auto_matched_weight: one row
-- of scored_users per weight scored on these same users, base_users the
-- values under the blend extended) the max-T threshold of those weights'
-- gains at min_z_matched's level (_auto_max_z_threshold, seed ctx's: the
-- least hundredth above the critical maximum, one weight too: one moved
-- user's z is exactly 1, review s12 W1), and with chosen (the row of the
-- weight tested) the decision is the sign-flip p-value's
-- (_auto_max_z_test): when p > alpha at least a hundredth above the
-- row's z (never kept, whatever the rounding), when p <= alpha at most
-- the row's z rounded down (kept), so that train_auto's z >= min_z is
-- the p-value's decision (NaN, above every z, when p > alpha at an
-- infinite z); never below min_z_matched itself (a
-- weight chosen among several needs at least what one not chosen needs;
-- with one column the sign-flip quantile is min_z_matched up to the
-- draws and the discreteness of few users): the best of several gains
-- overstates what new users would see, but the weights' gains are the
-- same blend at nearby weights, so strongly correlated, and a fixed 1.96
-- (about five independent tests) over-corrected (ml-latest-small
-- strat75: EASE + ALS dropped at z 1.73, s12); the larger of
-- min_z_matched and min_z when no threshold can be drawn (fewer than two
-- users, a value not finite);
-- else on the first split, ctx's min_z (1.96: the best of five weights
-- on the same users, whose gains carry that split's offsets too), but
-- only while the family's setting is the first round's own
-- (first_split_base); NULL, no test and the member not kept, when the
-- setting was chosen on the repeated splits (the first split underrates
-- it there, so a gain over it is partly that offset).
CREATE FUNCTION recsys._auto_blend_min_z(matched boolean, first_split_base boolean, ctx jsonb,
										 base_users double precision[] DEFAULT NULL,
										 scored_users double precision[] DEFAULT NULL,
										 chosen integer DEFAULT NULL)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	-- (level: the max-T's, min_z_selected with two or more weights scored,
	-- else min_z_matched)
	SELECT CASE WHEN matched AND base_users IS NOT NULL AND scored_users IS NOT NULL AND chosen IS NOT NULL
				THEN (SELECT greatest(l.level,
									  CASE WHEN t IS NULL THEN (ctx ->> 'min_z')::double precision
										   -- (an infinite z, every moved user the same gain: no
										   -- number is above it, NaN is above all in SQL)
										   WHEN t[1] > recsys._norm_cdf(-l.level)
										   THEN CASE WHEN t[3] = 'Infinity' THEN 'NaN'
													 ELSE greatest(t[2], floor(t[3] * 100 + 1) / 100 + 0.01) END
										   ELSE least(t[2], floor(t[3] * 100 - 1e-6) / 100) END)
					  FROM (SELECT recsys._auto_max_z_test(base_users, scored_users,
														   l.level,
														   coalesce((ctx ->> 'seed')::bigint, 42), chosen) AS t) x)
				WHEN matched AND base_users IS NOT NULL AND scored_users IS NOT NULL
				THEN greatest(l.level,
							  coalesce(recsys._auto_max_z_threshold(base_users, scored_users,
																	l.level,
																	coalesce((ctx ->> 'seed')::bigint, 42)),
									   (ctx ->> 'min_z')::double precision))
				WHEN matched THEN (ctx ->> 'min_z_matched')::double precision
				WHEN first_split_base THEN (ctx ->> 'min_z')::double precision END
	FROM (SELECT (CASE WHEN array_length(scored_users, 1) > 1 THEN coalesce(ctx ->> 'min_z_selected', ctx ->> 'min_z_matched') ELSE ctx ->> 'min_z_matched' END)::double precision AS level) l
$$;
COMMENT ON FUNCTION recsys._auto_blend_min_z(boolean, boolean, jsonb, double precision[], double precision[],
											 integer) IS
	'internal: the least paired z of a train_auto blend member''s gain, on the repeated splits (calibrated for the weights scored there) or the first, or NULL (not tested)';

-- The name train_auto stores a blend member of model under:
-- <model>_auto_<family>; when that passes the catalog's 63 bytes, model
-- cut at a character boundary followed by the first 8 hex digits of the
-- md5 of the whole name, so that two models sharing a long prefix do not
-- share members (review s11, F5: left(model, 40) made them share, and
-- 40 multi-byte characters passed 63 bytes).
CREATE FUNCTION recsys._auto_member_name(model text, family text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	suffix text := '_auto_' || family;
	head text := model;
BEGIN
	IF octet_length(model || suffix) <= 63 THEN
		RETURN model || suffix;
	END IF;
	suffix := '_' || left(md5(model), 8) || suffix;
	WHILE octet_length(head || suffix) > 63 LOOP
		head := left(head, -1);
	END LOOP;
	RETURN head || suffix;
END
$$;
COMMENT ON FUNCTION recsys._auto_member_name(text, text) IS
	'internal: the model name train_auto gives a blend member of a family (at most 63 bytes, distinct per model)';

-- internal: train a blend member of model (train_auto's winner) under its
-- name (_auto_member_name), replacing what _auto_check_members let
-- through, and record in its metrics (and its version's) the blend it
-- was trained for, which _auto_check_members reads; returns the name
CREATE FUNCTION recsys._auto_keep_member(trainer regprocedure, source regclass, model text, family text,
										 params jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	member text := recsys._auto_member_name(model, family);
	mark jsonb := jsonb_build_object('train_auto_member',
									 jsonb_build_object('blend', _auto_keep_member.model, 'family', family));
BEGIN
	PERFORM recsys._tune_keep(trainer, source, member, params, true);
	UPDATE recsys.model_versions v SET metrics = v.metrics || mark
	WHERE v.model = member AND v.version = (SELECT m.version FROM recsys.models m WHERE m.name = member);
	UPDATE recsys.models m SET metrics = m.metrics || mark WHERE m.name = member;
	RETURN member;
END
$$;
COMMENT ON FUNCTION recsys._auto_keep_member(regprocedure, regclass, text, text, jsonb) IS
	'internal: train one of train_auto''s blend members under its name, recording the blend it belongs to';

-- internal: what storing model's blend members would refuse, checked for
-- every family that may become one before the search trains anything
-- (review s11, F5: the members were written over the owner's unrelated
-- models, and another role's model of a member's name failed the run at
-- its end): another role's model (42501); unless replace, a model
-- train_auto did not train as a member of this model (42809): its
-- metrics record the blend it was trained for (train_auto_member), or,
-- for members trained before 0.11.0, the blend's last run lists it.
CREATE FUNCTION recsys._auto_check_members(model text, families text[], replace boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	family text;
	member text;
	holder text;
BEGIN
	FOREACH family IN ARRAY families LOOP
		member := recsys._auto_member_name(model, family);
		PERFORM recsys._require_model_owner(member, 'train', missing_ok => true);
		SELECT m.metrics -> 'train_auto_member' ->> 'blend' INTO holder FROM recsys.models m WHERE m.name = member;
		IF FOUND AND NOT replace AND holder IS DISTINCT FROM _auto_check_members.model
		   AND NOT EXISTS (SELECT FROM recsys.models p
						   WHERE p.name = _auto_check_members.model AND p.metrics -> 'train_auto' -> 'winner' -> 'members' ? member) THEN
			RAISE EXCEPTION 'model "%" was not trained by train_auto as a member of "%"', member, model
				USING ERRCODE = 'wrong_object_type',
					  DETAIL = format('train_auto stores the members of a blend it chooses as %s, and may retrain this one with another algorithm or source%s.',
									  member, CASE WHEN holder IS NOT NULL THEN format(' (it is a member of "%s")', holder) ELSE '' END),
					  HINT = 'Pass replace => true to let train_auto retrain it, rename or drop it, or choose another model name.';
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION recsys._auto_check_members(text, text[], boolean) IS
	'internal: refuse, before train_auto trains anything, a blend member name its end would refuse or wrongly overwrite';
-- The weight of a new blend member chosen on the repeated splits (since
-- 0.11.0; doc/internals.md, "train_auto"): for each candidate weight in
-- order (the first split's choice first), the blend of base (the blend so
-- far's members on split 2, then on split 3, half each, with weights)
-- and member (the new member on split 2 and on split 3) at that weight,
-- trained on both splits (train_blend: no fit, the members are trained)
-- under name || '_<i>_<j>', and its per-user values averaged over the two
-- (_auto_matched_users, while needed seconds are left); the weight of the
-- best mean kept (a tie: the earlier), the other blends dropped.  On
-- online retail the first split's weight moved with the base's setting
-- (ALS 0.7 with one EASE, 0.3 with the next), on data of another depth
-- and form than the final model's.  Returns {"weight", "models" (its
-- blends on splits 2 and 3), "users" (its per-user values), "means" (each
-- weight scored: [weight, mean]), "scored_users" (each weight scored's
-- per-user values, in the order of means: the chosen one's gain is tested
-- against the largest of them all, _auto_blend_min_z)}, weight null when
-- none could be scored.
CREATE FUNCTION recsys._auto_matched_weight(base text[], member text[], weights double precision[],
											candidates double precision[], name text, metric_name text,
											k integer, needed double precision, ctx jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	half integer := cardinality(base) / 2;
	w double precision;
	i integer := 0;
	blends text[];
	users double precision[];
	mean double precision;
	best jsonb;
	means jsonb := '[]';
	scored_users jsonb := '[]';
BEGIN
	IF cardinality(member) <> 2 OR cardinality(base) <> 2 * cardinality(weights) THEN
		RAISE EXCEPTION 'recsys._auto_matched_weight: base has % models for % weights and member %: two per member, one per split',
			cardinality(base), cardinality(weights), cardinality(member)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOREACH w IN ARRAY candidates LOOP
		i := i + 1;
		blends := ARRAY[format('%s_%s_2', name, i), format('%s_%s_3', name, i)];
		PERFORM recsys.train_blend(base[1:half] || member[1], (weights || w)::real[], blends[1], true),
				recsys.train_blend(base[half + 1:] || member[2], (weights || w)::real[], blends[2], true);
		users := recsys._auto_matched_users(blends, metric_name, k, needed, ctx);
		IF users IS NULL THEN
			-- (no time left for this weight: the ones scored stand)
			PERFORM recsys.drop_model(blends[2]), recsys.drop_model(blends[1]);
			EXIT;
		END IF;
		mean := (SELECT avg(v) FROM unnest(users) v);
		means := means || jsonb_build_array(jsonb_build_array(w, mean));
		scored_users := scored_users || jsonb_build_array(to_jsonb(users));
		IF best IS NULL OR mean > (best ->> 'mean')::double precision THEN
			IF best IS NOT NULL THEN
				PERFORM recsys.drop_model(best -> 'models' ->> 1), recsys.drop_model(best -> 'models' ->> 0);
			END IF;
			best := jsonb_build_object('weight', w, 'mean', mean, 'models', to_jsonb(blends), 'users', to_jsonb(users));
		ELSE
			PERFORM recsys.drop_model(blends[2]), recsys.drop_model(blends[1]);
		END IF;
	END LOOP;
	RETURN coalesce(best, jsonb_build_object('weight', NULL))
		   || jsonb_build_object('means', means, 'scored_users', scored_users);
END
$$;
COMMENT ON FUNCTION recsys._auto_matched_weight(text[], text[], double precision[], double precision[], text, text,
												integer, double precision, jsonb) IS
	'internal: a train_auto blend member''s weight chosen on the repeated validation splits';

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
				  HINT = 'The families depend on the protocol (ease_recent: last), on features (ease_features, als_features) and on event_col (only families whose trainer weighs event types); NULL tries every one not optional.';
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
	timeline := jsonb_build_object('first_round', extract(epoch FROM clock_timestamp() - started),
								   'blend_reserve', blend_reserve);
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
			-- (the data's rows over the split's train rows, the larger of
			-- the two: what a fit measured there scales by to all the data,
			-- _auto_exact_seconds)
			-- (distinct pairs, as n_rows counts them: a source logging a
			-- pair several times would otherwise shrink the ratio; review
			-- s13-2 F4)
			EXECUTE format('SELECT count(*) FROM (SELECT DISTINCT r.%I, r.%I FROM pg_temp.%I r) d',
						   user_col, item_col, '_recsys_auto_train_' || j) INTO split_rows;
			ctx := ctx || jsonb_build_object('repeated_scale',
											 greatest(coalesce((ctx ->> 'repeated_scale')::double precision, 0),
													  n_rows::double precision / greatest(split_rows, 1)));
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
		PERFORM recsys._auto_note_scores(fam.family, ctx);
		SELECT r.entry, r.note INTO second_entry, second_note
		FROM recsys._auto_second_record(fam.family, climb, incumbent,
										(SELECT t.n FROM _recsys_auto_trials t WHERE t.family = fam.family AND t.model IS NOT NULL),
										splits_used) r;
		second_round := second_round || second_entry;
		climb_family := fam.family;
	END LOOP;

	timeline := timeline || jsonb_build_object('second_round', extract(epoch FROM clock_timestamp() - started));

	-- blend the families when that helps on validation, by forward
	-- selection (Caruana et al. 2004): from the best family's model, add
	-- the next best family's with the weight (against the first's 1) that
	-- scores best, when that beats the blend it extends significantly;
	-- then the next family's, up to four members.  Significantly: the
	-- paired z of the gain over the validation users (_auto_paired_z) at
	-- least _auto_blend_min_z's: on the repeated splits 1 (holdout) for
	-- the first split's weight, the max-T threshold of the weights scored
	-- there for the best of several, on the first split 1.96; a member
	-- whose gain a few users make by chance (the best of five weights on
	-- the same users, at that) would cost on new data what it seemed to
	-- gain (online-retail strat75: BPR kept for +0.3 %, test -1 %).  The
	-- blend's users' values are evaluated once more per member
	-- (_evaluate_users), within the budget
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
		climb := recsys._auto_climb(fam.family, fam.algorithm, fam.steps, fam.cost, incumbent, search_round + 1, 0,
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
				THEN sum(recsys._auto_exact_seconds(t.family, ctx)) FILTER (WHERE t.params ? 'keep') END
	INTO final_other, final_ease, final_ease_exact
	FROM _recsys_auto_trials t
	WHERE t.n = winner.n OR (winner.family = 'blend'
							 AND t.model IN (SELECT jsonb_array_elements_text(winner.params -> 'members')));
	final_left := extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp());
	IF final_ease IS NOT NULL THEN
		final_load := recsys._auto_load_factor();
		SELECT f.keep, f.estimate, f.exact_estimate INTO final_keep, final_kept_estimate, final_estimate
		FROM recsys._auto_final_keep(final_other, final_ease, final_ease_exact, final_left, ctx, final_load) f;
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
					   ORDER BY b.value DESC, b.n LOOP
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
	why := format('%s of %s trained candidates%s%s',
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
		'validation', jsonb_build_object('users', n_valid_users, 'pairs', n_valid, 'train_rows', n_train,
										 -- (s13: the data's pairs over the repeated
										 -- splits' train pairs, by which a fit measured
										 -- there scales to all the data)
										 'repeated_scale', ctx -> 'repeated_scale'),
		'winner', jsonb_build_object('family', winner.family, 'algorithm', winner.algorithm,
									 'params', winner.shown, 'value', winner.value,
									 'members', to_jsonb(members)),
		'why', why, 'final', final_note, 'second_round', second_round, 'timeline', timeline,
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

-- s12: the second round resumed after the blends with the time they
-- left, and the budget check that cut it recorded (doc/internals.md,
-- "train_auto")

-- The measured seconds of a family's fits on the repeated splits so far
-- (_recsys_auto_scores: training and evaluation), the slowest plus a
-- fifth, or NULL before the first (s12).  Once one is measured it replaces
-- _auto_rescore_seconds' model (a compact trial's seconds scaled and made
-- exact), as a family's slowest trial replaces its cost model in
-- _auto_trial: on online-retail strat75 under load the model gave 40-50 s
-- for an exact EASE fit the repeated splits took 15-20 s, and two of them
-- kept in reserve per setting cut the second round with a third of the
-- budget unspent.
-- (PL/pgSQL, not SQL: its plans follow the temporary tables a second
-- train_auto call in the transaction makes anew; review s13 R3)
-- training_only (s13): the training's seconds alone, without the
-- scoring (_auto_exact_seconds: the final training scores nothing).
CREATE OR REPLACE FUNCTION recsys._auto_measured_fit(family text, training_only boolean DEFAULT false)
RETURNS double precision
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT 1.2 * max(CASE WHEN training_only THEN s.train_seconds ELSE s.seconds END)
		FROM _recsys_auto_scores s JOIN _recsys_auto_trials t ON t.n = s.n
		WHERE t.family = _auto_measured_fit.family
	);
END
$$;
COMMENT ON FUNCTION recsys._auto_measured_fit(text, boolean) IS
	'internal: the slowest measured fit of a train_auto family on the repeated splits (or its training alone), plus a fifth';

-- The estimated seconds of fitting trial n's setting on a repeated split
-- (s12): the family's measured fits there (_auto_measured_fit), else the
-- model (_auto_rescore_seconds of the trial's own seconds).
CREATE OR REPLACE FUNCTION recsys._auto_fit_estimate(n integer, ctx jsonb)
RETURNS double precision
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	trial record;
BEGIN
	SELECT t.* INTO trial FROM _recsys_auto_trials t WHERE t.n = _auto_fit_estimate.n;
	RETURN coalesce(recsys._auto_measured_fit(trial.family),
					recsys._auto_rescore_seconds(trial.params, trial.train_seconds, trial.eval_seconds, ctx));
END
$$;
COMMENT ON FUNCTION recsys._auto_fit_estimate(integer, jsonb) IS
	'internal: the estimated seconds of fitting a train_auto setting on a repeated split, measured once possible';

-- The budget check of scoring trial n's setting on a repeated split
-- (_auto_rescore): its estimate (_auto_fit_estimate), the seconds kept
-- for what follows (_auto_reserve, ctx's extra_reserve included) and the
-- seconds left; it fits when the first two add up to no more than the
-- third.  Returned as jsonb so that a cut can be recorded with its figures
-- (_auto_climb's cut_check).
CREATE OR REPLACE FUNCTION recsys._auto_rescore_check(n integer, ctx jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	trial record;
	estimate double precision;
BEGIN
	SELECT t.* INTO trial FROM _recsys_auto_trials t WHERE t.n = _auto_rescore_check.n;
	estimate := recsys._auto_fit_estimate(n, ctx);
	RETURN jsonb_build_object(
		'estimate', estimate,
		'reserve', recsys._auto_reserve(trial.family, trial.params, estimate, true, ctx),
		'left_seconds', extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp()));
END
$$;
COMMENT ON FUNCTION recsys._auto_rescore_check(integer, jsonb) IS
	'internal: the budget check of scoring a train_auto setting on a repeated split: estimate, reserve and seconds left';

-- Trial n's setting trained on repeated split j's train part and scored
-- on its validation part, recorded in _recsys_auto_scores; NULL when the
-- budget cannot cover it (_auto_rescore_seconds and _auto_reserve's) or
-- it fails.  A failure is recorded too (s13, review s12 W6: the row's
-- error, value NULL, and the trial's status), so that the climb can tell
-- it from a budget cut, and not tried again.  The model is dropped, or with keep_model kept and recorded
-- (the second round's best setting and the blend members: blends are
-- tested on the matched splits too); a setting scored before is not
-- trained again unless its model is wanted and was dropped.  It is
-- trained in the final model's form: a compact EASE setting exact (the
-- final training is exact when the budget allows), since compact EASE
-- favours other settings than exact (online-retail strat75: compact
-- prefers regularisation 200 to 141, exact the reverse, as test does).
CREATE OR REPLACE FUNCTION recsys._auto_rescore(n integer, j integer, ctx jsonb, keep_model boolean DEFAULT false)
RETURNS double precision
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	trial record;
	budget_check jsonb;
	candidate text := format('%s%s_%s', ctx ->> 'prefix', n, j);
	r record;
	message text;
	-- (scored before, its model dropped and now wanted again)
	scored_before boolean;
BEGIN
	SELECT s.value, s.model, s.error INTO r FROM _recsys_auto_scores s WHERE s.n = _auto_rescore.n AND s.split = j;
	scored_before := FOUND;
	IF FOUND AND (NOT keep_model OR r.model IS NOT NULL OR r.error IS NOT NULL) THEN
		RETURN r.value;
	END IF;
	SELECT t.* INTO trial FROM _recsys_auto_trials t WHERE t.n = _auto_rescore.n;
	budget_check := recsys._auto_rescore_check(n, ctx);
	IF (budget_check ->> 'estimate')::double precision + (budget_check ->> 'reserve')::double precision
	   > (budget_check ->> 'left_seconds')::double precision THEN
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
			GET STACKED DIAGNOSTICS message = MESSAGE_TEXT;
			-- (a value scored before stays: only its model is missing)
			IF scored_before THEN
				RETURN NULL;
			END IF;
			INSERT INTO _recsys_auto_scores (n, split, error) VALUES (n, j, message);
			UPDATE _recsys_auto_trials t SET status = t.status || format('; failed on validation split %s: %s', j, message)
			WHERE t.n = _auto_rescore.n;
			RETURN NULL;
	END;
	IF NOT keep_model THEN
		PERFORM recsys.drop_model(candidate);
	END IF;
	DELETE FROM _recsys_auto_scores s WHERE s.n = _auto_rescore.n AND s.split = j;
	INSERT INTO _recsys_auto_scores (n, split, value, seconds, model, train_seconds)
	VALUES (n, j, r.value, r.train_seconds + r.eval_seconds, CASE WHEN keep_model THEN candidate END, r.train_seconds);
	RETURN r.value;
END
$$;
COMMENT ON FUNCTION recsys._auto_rescore(integer, integer, jsonb, boolean) IS
	'internal: a train_auto trial''s setting, in the final model''s form, scored on a repeated validation split if the budget allows';

-- Each of a family's settings scored on the repeated splits: its values
-- and their mean appended to its trial's status, once (a resumed second
-- round notes only the settings it scored).  The mean shown is the one
-- compared: by the splits' users, as _auto_matched_mean; the users say
-- how much each split counts.
CREATE OR REPLACE FUNCTION recsys._auto_note_scores(family text, ctx jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE _recsys_auto_trials t
	SET status = t.status || format('; on validation splits 1 to %s: %s (mean of splits 2 to %s by their validation users, %s, the final model''s depth and form: %s)',
									cardinality(a.v), array_to_string(a.v, ', '), cardinality(a.v),
									a.users, round(a.mean::numeric, 4))
	FROM (SELECT x.n, ARRAY(SELECT round(v::numeric, 4) FROM unnest(recsys._auto_split_values(x.n)) v) AS v,
				 w.mean, w.users
		  FROM (SELECT DISTINCT s.n FROM _recsys_auto_scores s WHERE s.error IS NULL) x,
			   LATERAL (SELECT sum(s.value * u.users) / sum(u.users) AS mean,
							   array_to_string(array_agg(u.users ORDER BY s.split), ' and ') AS users
						FROM _recsys_auto_scores s,
							 LATERAL (SELECT coalesce((ctx -> 'split_users' ->> s.split::text)::double precision, 1)
											 AS users) u
						WHERE s.n = x.n AND s.value IS NOT NULL) w) a
	WHERE t.n = a.n AND t.family = _auto_note_scores.family
	  AND position('; on validation splits 1 to ' IN t.status) = 0;
END
$$;
COMMENT ON FUNCTION recsys._auto_note_scores(text, jsonb) IS
	'internal: a train_auto family''s settings scored on the repeated splits, noted in their status';

-- The second round's record for train_auto's metrics (entry) and its
-- sentence for the description (note): climb is _auto_climb's result
-- (NULL without repeated splits), incumbent the first round's trial, kept
-- the trial the family keeps.  resumed (s12): the round was cut, then run
-- again after the blends with what they left of the budget.
-- (PL/pgSQL, not SQL: its plans follow the temporary tables a second
-- train_auto call in the transaction makes anew; review s13 R3)
CREATE OR REPLACE FUNCTION recsys._auto_second_record(family text, climb jsonb, incumbent integer, kept integer, splits integer,
										   OUT entry jsonb, OUT note text)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	SELECT jsonb_build_object(
			   'family', family,
			   'new_settings', (climb -> 'new_settings'),
			   'moves', (climb -> 'moves'),
			   'splits', splits,
			   'first_round', (SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = incumbent),
			   'kept', (SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = kept),
			   -- (in the order of work)
			   'contenders', (SELECT coalesce(jsonb_agg(jsonb_build_object('n', t.n, 'params', t.shown,
																		   'values', to_jsonb(recsys._auto_split_values(t.n)))
														ORDER BY x.o), '[]')
							  FROM jsonb_array_elements_text(coalesce(climb -> 'scored', '[]')) WITH ORDINALITY x(n, o)
								   JOIN _recsys_auto_trials t ON t.n = x.n::integer),
			   'cut', coalesce(climb -> 'cut', '[]'),
			   -- (settings whose fit on a repeated split failed, s13: their
			   -- status says why)
			   'failed', coalesce(climb -> 'failed', '[]'),
			   -- (the first round's setting not scored there: kept unscored)
			   'centre_cut', coalesce((climb ->> 'centre_cut')::boolean, false),
			   -- (the budget check that cut the list: estimate, reserve, seconds left)
			   'cut_check', climb -> 'cut_check',
			   'resumed', coalesce((climb ->> 'resumed')::boolean, false)),
		   recsys._auto_second_note(family,
			   jsonb_array_length(climb -> 'scored'), (climb ->> 'moves')::integer, jsonb_array_length(climb -> 'cut'),
			   splits, (SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = incumbent),
			   (SELECT t.shown FROM _recsys_auto_trials t WHERE t.n = kept),
			   coalesce((climb ->> 'centre_cut')::boolean, false))
		   || CASE WHEN jsonb_array_length(coalesce(climb -> 'failed', '[]')) > 0
				   THEN format(' (%s setting(s) failed on a repeated split: no contender, see their status)',
							   jsonb_array_length(climb -> 'failed')) ELSE '' END
		   || CASE WHEN (climb ->> 'resumed')::boolean
				   THEN ' (the round resumed after the blends with the time they left)' ELSE '' END
	INTO entry, note;
END
$$;
COMMENT ON FUNCTION recsys._auto_second_record(text, jsonb, integer, integer, integer) IS
	'internal: train_auto''s record and sentence of its second round';

-------------------------------------------------------------------------------
-- Fixes
-------------------------------------------------------------------------------

-- internal: _experiment_check_models' last check, alone (clean_orphans
-- asks it first: its error says why an orphaned experiment is skipped)
CREATE FUNCTION recsys._experiment_check_identities(e recsys.experiments, variants jsonb)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m record;
BEGIN
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
COMMENT ON FUNCTION recsys._experiment_check_identities(recsys.experiments, jsonb) IS
	'internal: refuse variants without the recorded owner and identity of their models';

-- internal: refuse (42501) to serve a variant naming a model (model,
-- similarity_model) that the experiment's owner may not use, as a blend
-- refuses a member its owner may not use: the owner reads every
-- impression, so an experiment must not show models its owner could not
-- query.  Checked at serving, whatever changed since the experiment was
-- created (a direct UPDATE, a revoked grant, a dropped model whose name
-- another role took).  A model the caller cannot see is left to recommend,
-- which refuses it.
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
	PERFORM recsys._experiment_check_identities(e, variants);
END
$$;
COMMENT ON FUNCTION recsys._experiment_check_models(recsys.experiments, jsonb) IS
	'internal: refuse variants whose models the experiment''s owner may not use';

-- internal: clean_orphans' report of an object it left as it was: the
-- check that refused its row, and what to do (a WARNING, so the objects
-- cleaned stay cleaned; recsys.orphans() still lists this one)
CREATE FUNCTION recsys._clean_orphans_skipped(kind text, name text, reason text, reason_hint text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE WARNING 'recsys.clean_orphans skipped % "%": %', kind, name, reason
		USING DETAIL = format('The %s keeps its owner and grantees; recsys.orphans() still lists it, '
							  'and pg_dump still refuses it.', kind),
			  HINT = reason_hint;
END
$$;
COMMENT ON FUNCTION recsys._clean_orphans_skipped(text, text, text, text) IS
	'internal: clean_orphans'' WARNING for an object whose row the checks refused';

-- Give every orphaned object to new_owner and remove the dropped grantees
-- (the DBA's clean-up after DROP ROLE, as REASSIGN OWNED / DROP OWNED are
-- for PostgreSQL's own objects).  Superusers only.  Returns what changed;
-- an object whose row the checks refuse (an experiment serving a model
-- its new owner may not use, a variant without the owner and identity of
-- its model) is left as it was, with a WARNING naming it, the reason and
-- the way out, and the others are cleaned (before, one such experiment
-- failed the whole call: s10-fix).
CREATE OR REPLACE FUNCTION recsys.clean_orphans(new_owner regrole)
RETURNS TABLE (kind text, name text, owner regrole, removed_roles oid[])
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o record;
	kept regrole[];
	given text[] := '{}';
	given_from oid[] := '{}';
	msg text;
	hint text;
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
		BEGIN
			EXECUTE format('SELECT array(SELECT g FROM unnest(t.grantees) g WHERE g::oid <> ALL ($2)) '
						   'FROM recsys.%I t WHERE t.name = $1', o.kind || 's')
				INTO kept USING o.name, o.dropped_roles;
			IF o.kind = 'experiment' THEN
				-- (first: a variant without its model's identity is the reason
				-- even when the new owner may not use that name's model either)
				PERFORM recsys._experiment_check_identities(t, recsys._experiment_served(t))
				FROM recsys.experiments t WHERE t.name = o.name;
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
		EXCEPTION WHEN insufficient_privilege OR object_not_in_prerequisite_state THEN
			GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
			-- (alter_experiment is its owner's, and the owner is gone)
			hint := CASE WHEN SQLSTATE = '55000' AND o.kind = 'experiment' AND o.owner = ANY (o.dropped_roles)
						 THEN 'Only its owner, a dropped role, could give it its variants again: keep its '
							  'results (recsys.experiment_results) and drop it with recsys.drop_experiment.'
						 ELSE coalesce(nullif(hint, '') || ' ', '')
							  || format('Then call recsys.clean_orphans again, or drop the %s.', o.kind) END;
			PERFORM recsys._clean_orphans_skipped(o.kind, o.name, msg, hint);
			CONTINUE;
		END;
		IF o.kind = 'model' AND o.owner = ANY (o.dropped_roles) THEN
			given := given || o.name;
			given_from := given_from || o.owner;
		END IF;
		RETURN NEXT;
	END LOOP;
	-- the other experiments that serve a model given away: their variants'
	-- recorded owner of it follows (returned with no role removed)
	FOR o IN
		SELECT t.name, t.owner FROM recsys.experiments t
		WHERE t.variants IS DISTINCT FROM recsys._experiment_variants_reowned(t.variants, given, given_from, new_owner)
		ORDER BY t.name
	LOOP
		BEGIN
			UPDATE recsys.experiments t
			SET variants = recsys._experiment_variants_reowned(t.variants, given, given_from, new_owner)
			WHERE t.name = o.name;
		EXCEPTION WHEN insufficient_privilege OR object_not_in_prerequisite_state THEN
			GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
			PERFORM recsys._clean_orphans_skipped('experiment', o.name, msg,
												  coalesce(nullif(hint, '') || ' ', '')
												  || 'Then call recsys.clean_orphans again.');
			CONTINUE;
		END;
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

-- A row inserted into recsys.models, recsys.experiments or recsys.catalogs
-- whose owner or a grantee is an OID no role has: a restore of a dump made
-- before 0.10.0 (whose pg_dump wrote a dropped role as its bare OID; the
-- dump holds no name to look the role up by) or a hand-made INSERT.
-- Refused (42704, naming the object and the OID), unless the restore names
-- the role to give such objects to: recsys.restore_orphans_to (a setting,
-- e.g. PGOPTIONS='-c recsys.restore_orphans_to=keeper' pg_restore ...),
-- as clean_orphans would (the dropped grantees are left out).  Trainers and
-- create_* insert the caller's own role: never refused.  (A bare OID that
-- some role of the restoring cluster happens to have cannot be told from
-- that role's name: doc/operations.md, "Backups".)
CREATE FUNCTION recsys._restored_roles_check()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	gone oid[] := recsys._dropped_roles(NEW.owner, NEW.grantees);
	kind text := rtrim(TG_TABLE_NAME, 's');
	heir regrole;
BEGIN
	IF gone IS NULL THEN
		RETURN NEW;
	END IF;
	heir := nullif(current_setting('recsys.restore_orphans_to', true), '')::regrole;
	IF heir IS NULL THEN
		RAISE EXCEPTION 'recsys % "%" names role OID % as its %, and no role has that OID', kind, NEW.name, gone[1],
			CASE WHEN NEW.owner::oid = gone[1] THEN 'owner' ELSE 'grantee' END
			USING ERRCODE = 'undefined_object',
				  DETAIL = 'A dump made before recsys 0.10.0 writes a role that was dropped as its bare OID, '
						   'which here would name whichever role has that OID.',
				  HINT = 'Restore with PGOPTIONS=''-c recsys.restore_orphans_to=<role>'' to give such objects to '
						 'that role (dropped grantees are left out), or run recsys.clean_orphans(new_owner) in '
						 'the dumped database and dump it again.';
	END IF;
	NEW.grantees := ARRAY(SELECT g FROM unnest(NEW.grantees) g WHERE g::oid <> ALL (gone));
	IF NEW.owner::oid = ANY (gone) THEN
		NEW.owner := heir;
		RAISE WARNING 'recsys % "%" named role OIDs % that no role has: given to role %', kind, NEW.name, gone, heir
			USING DETAIL = 'recsys.restore_orphans_to names the role to give such objects to; grantee OIDs no role has are left out.';
	ELSE
		RAISE WARNING 'recsys % "%" named role OIDs % that no role has: left out of its grantees', kind, NEW.name, gone;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION recsys._restored_roles_check() IS
	'internal: refuse (or give to recsys.restore_orphans_to) an inserted object whose owner or grantee OID names no role';

CREATE TRIGGER restored_roles_check BEFORE INSERT ON recsys.models
	FOR EACH ROW EXECUTE FUNCTION recsys._restored_roles_check();
CREATE TRIGGER restored_roles_check BEFORE INSERT ON recsys.experiments
	FOR EACH ROW EXECUTE FUNCTION recsys._restored_roles_check();
CREATE TRIGGER restored_roles_check BEFORE INSERT ON recsys.catalogs
	FOR EACH ROW EXECUTE FUNCTION recsys._restored_roles_check();

-- internal: a catalog's ranking weights as search reads them (an owner
-- may edit the row; tune_search writes them), checked: "personal" and
-- "anonymous" objects whose values are JSON numbers of at most 1e6 in
-- magnitude.  Else damage (XX001), not a cast's error or NaN scores
-- ranked silently (a string "NaN" cast to real).
CREATE FUNCTION recsys._catalog_weights(catalog text, weights jsonb)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	problem text := CASE WHEN weights IS NOT NULL THEN recsys._catalog_weights_problem(weights) END;
BEGIN
	IF problem IS NOT NULL THEN
		RAISE EXCEPTION 'catalog "%" is damaged: %', catalog, problem
			USING ERRCODE = 'data_corrupted',
				  DETAIL = 'search reads the objects "personal" and "anonymous" of recsys.catalogs.weights.',
				  HINT = 'Its owner may set valid weights (UPDATE recsys.catalogs SET weights = ...) or learn them with recsys.tune_search.';
	END IF;
	RETURN weights;
END
$$;
COMMENT ON FUNCTION recsys._catalog_weights(text, jsonb) IS
	'internal: a catalog''s weights, refused (XX001) when search cannot rank with them';


-- The EXECUTE grants the 0.9.0 -> 0.10.0 script carried over to train_fm
-- and train_item_knn (which it dropped and created again) were made by
-- an extension script, so PostgreSQL recorded them as the functions'
-- initial privileges (pg_init_privs): pg_dump writes only the changes
-- since those, so a dump no longer held the DBA's REVOKE / GRANT, and a
-- restore into a fresh CREATE EXTENSION gave PUBLIC EXECUTE again
-- (s8's leftover).  A fresh install records no initial privileges for
-- them (created with the default ACL): remove what the carry-over
-- recorded, so that pg_dump writes the DBA's grants again.  (A script
-- that drops and creates a function keeping its ACL must do the same
-- after its GRANTs.)
DELETE FROM pg_catalog.pg_init_privs
WHERE classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass AND objsubid OPERATOR(pg_catalog.=) 0
  AND objoid IN (SELECT p.oid FROM pg_catalog.pg_proc p
				 WHERE p.pronamespace OPERATOR(pg_catalog.=) 'recsys'::pg_catalog.regnamespace
				   AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['train_fm', 'train_item_knn']::pg_catalog.name[]));

-------------------------------------------------------------------------------
-- Review fixes
-------------------------------------------------------------------------------

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
	rev_sq double precision;
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
	IF sequential IS NULL THEN
		RAISE EXCEPTION 'sequential must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF tau IS NULL OR NOT (tau > 0 AND tau < 'infinity') THEN
		RAISE EXCEPTION 'tau must be a positive finite number, not %', coalesce(tau::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'tau is the size of difference you care about, in the metric''s units (default 0.01: 1 point).';
	END IF;
	-- (its square enters the mSPRT: 1e200 overflowed, 1e-200 underflowed,
	-- in a bare 22003 naming nothing: review s12, V2)
	IF tau < 1e-9 OR tau > 1e9 THEN
		RAISE EXCEPTION 'tau must be between 1e-9 and 1e9, not %', tau
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'tau is the size of difference you care about, in the metric''s units (default 0.01: 1 point).';
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
	-- the mean square revenue of a paying user, for the revenue floor below
	SELECT avg(x.revenue ^ 2) INTO rev_sq
	FROM recsys._experiment_users(e.name) x WHERE x.revenue <> 0;

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
			   avg(u.revenue) AS rev, var_samp(u.revenue) AS rev_var0,
			   count(*) FILTER (WHERE u.revenue <> 0) AS xr
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
		-- An arm without spread (every user alike: a rate of 0% or 100%, a
		-- single user) has no variance to estimate, and 0 would make any
		-- difference certain and the mde 0: its variance is then that of
		-- the rate (x + 1) / (n + 2) (Agresti and Caffo 2000), per user for
		-- conversion, per impression for CTR (clicked impressions / shown).
		-- Revenue without spread (2 users at 0 against 2 at 10 would be a
		-- certain +10) is a paying user's revenue times a 0/1 variable:
		-- its variance is that of (xr + 1) / (n + 2) times the mean square
		-- revenue of the experiment's paying users.  One user has no
		-- variance at all: NULL, "too few users".  Without a paying user
		-- (every amount 0, or none logged) revenue has no scale at all:
		-- NULL too, not a variance of 0 that would claim an interval of
		-- width 0 and an mde of 0 (review s11, 1).
		SELECT a.*, cv.r,
			   CASE WHEN a.rev_var0 = 0
					THEN (a.xr + 1.0) / (a.n + 2) * (1 - (a.xr + 1.0) / (a.n + 2)) * rev_sq
					ELSE a.rev_var0 END AS rev_var,
			   CASE WHEN a.m > 0 AND coalesce(cv.var, 0) = 0
					THEN (a.c + 1.0) / (a.m + 2) * (1 - (a.c + 1.0) / (a.m + 2)) / a.m
					ELSE cv.var END AS r_var,
			   a.x::float8 / nullif(a.n, 0) AS p,
			   CASE WHEN a.n > 0 AND (a.x = 0 OR a.x = a.n)
					THEN (a.x + 1.0) / (a.n + 2) * (1 - (a.x + 1.0) / (a.n + 2))
					ELSE a.x::float8 / nullif(a.n, 0) * (1 - a.x::float8 / nullif(a.n, 0)) END AS p_var,
			   a.name = e.control AS ctl
		FROM agg a JOIN ctr_var cv USING (name)
	), pair AS (
		SELECT s.*, c.n AS cn, c.x AS cx, c.p AS cp, c.p_var AS cp_var, c.r AS cr, c.r_var AS cr_var,
			   c.rev AS crev, c.rev_var AS crev_var,
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
			   -- revenue per user: Welch's t (an arm without spread has
			   -- the floor above)
			   CASE WHEN NOT p.ctl AND has_revenue AND p.rev_var / p.n + p.crev_var / p.cn > 0 THEN
				   recsys._t_two_sided_p((p.rev - p.crev) / sqrt(p.rev_var / p.n + p.crev_var / p.cn),
					   (p.rev_var / p.n + p.crev_var / p.cn) ^ 2
					   / ((p.rev_var / p.n) ^ 2 / (p.n - 1) + (p.crev_var / p.cn) ^ 2 / (p.cn - 1)))
			   END AS rev_p,
			   -- the primary metric's difference and its unpooled variance
			   CASE metric WHEN 'conversion' THEN p.p - p.cp WHEN 'ctr' THEN p.r - p.cr
						   ELSE p.rev - p.crev END AS d,
			   CASE metric WHEN 'conversion' THEN p.p_var / nullif(p.n, 0) + p.cp_var / nullif(p.cn, 0)
						   WHEN 'ctr' THEN p.r_var + p.cr_var
						   ELSE p.rev_var / nullif(p.n, 0) + p.crev_var / nullif(p.cn, 0) END AS dv,
			   -- the variance of the difference at this size if there were none
			   CASE metric WHEN 'conversion' THEN p.cp_var * (1.0 / nullif(p.n, 0) + 1.0 / nullif(p.cn, 0))
						   WHEN 'ctr' THEN p.cr_var * (1 + p.cn::float8 / nullif(p.n, 0))
						   ELSE p.crev_var * (1.0 / nullif(p.n, 0) + 1.0 / nullif(p.cn, 0)) END AS dv0,
			   -- per-user variances of the two arms, for the users still needed
			   CASE metric WHEN 'conversion' THEN p.p_var + p.cp_var
						   WHEN 'ctr' THEN p.r_var * p.n + p.cr_var * p.cn
						   ELSE p.rev_var + p.crev_var END AS unit_var
		FROM pair p
	), seq AS (
		SELECT t.*,
			   -- the minimum detectable effect: none when the difference
			   -- has no variance to estimate, and none for a proportion when
			   -- it is 100 points or more (1 user per arm: no difference
			   -- of two rates is detectable at this size)
			   CASE WHEN NOT t.ctl AND (metric = 'revenue' OR (z + zp) * sqrt(t.dv0) < 1)
					THEN (z + zp) * sqrt(t.dv0) END AS mde,
			   -- always-valid p = min(1, 1 / Lambda), from ln Lambda: exp()
			   -- of a clear result's -ln Lambda would underflow (an error in
			   -- PostgreSQL), so p is 0 below 1e-300
			   CASE WHEN t.log_lambda > 690 THEN 0 WHEN t.log_lambda IS NOT NULL THEN least(1.0, exp(-t.log_lambda))
			   END AS pav,
			   CASE metric WHEN 'conversion' THEN t.conv_p WHEN 'ctr' THEN t.ctr_pv ELSE t.rev_p END AS pfixed
		FROM (SELECT t.*,
					 -- mSPRT with a normal mixture N(0, tau^2) (Johari et al. 2017);
					 -- Lambda grows without bound as V -> 0 with d <> 0
					 CASE WHEN NOT t.ctl AND t.dv > 0 THEN
						 0.5 * ln(t.dv / (t.dv + tau ^ 2)) + tau ^ 2 * t.d ^ 2 / (2 * t.dv * (t.dv + tau ^ 2))
						  WHEN NOT t.ctl AND t.dv = 0 AND t.d <> 0 THEN 'infinity'
					 END AS log_lambda
			  FROM tests t) t
	)
	SELECT q.name, q.ctl, q.n, q.m, q.c,
		   -- (no users: no interval, not [0, 1] from greatest() and least()
		   -- skipping a NULL)
		   q.r, CASE WHEN q.r IS NOT NULL THEN greatest(q.r - z * sqrt(q.r_var), 0) END,
		   CASE WHEN q.r IS NOT NULL THEN least(q.r + z * sqrt(q.r_var), 1) END, q.ctr_pv,
		   q.x, q.p,
		   -- Wilson's interval (exactly 0 at 0%, 1 at 100%: not 1 - 2e-16)
		   CASE WHEN q.n > 0 AND q.x = 0 THEN 0
				WHEN q.n > 0 THEN (q.p + z ^ 2 / (2 * q.n) - z * sqrt(q.p * (1 - q.p) / q.n + z ^ 2 / (4 * q.n ^ 2)))
								  / (1 + z ^ 2 / q.n) END,
		   CASE WHEN q.n > 0 AND q.x = q.n THEN 1
				WHEN q.n > 0 THEN (q.p + z ^ 2 / (2 * q.n) + z * sqrt(q.p * (1 - q.p) / q.n + z ^ 2 / (4 * q.n ^ 2)))
								  / (1 + z ^ 2 / q.n) END,
		   q.conv_p,
		   CASE WHEN has_revenue THEN q.rev END,
		   -- (amounts are at least 0)
		   CASE WHEN has_revenue AND q.rev_var IS NOT NULL THEN greatest(q.rev - z * sqrt(q.rev_var / q.n), 0) END,
		   CASE WHEN has_revenue THEN q.rev + z * sqrt(q.rev_var / q.n) END,
		   q.rev_p,
		   q.pav,
		   q.mde,
		   CASE
			   WHEN q.ctl THEN 'control'
			   WHEN q.n = 0 OR q.cn = 0 THEN 'no users yet'
			   WHEN metric = 'revenue' AND NOT has_revenue THEN 'no amounts logged: pass amount to log_outcome'
			   WHEN metric = 'revenue' AND rev_sq IS NULL THEN
				   'no revenue yet: every amount logged is 0, so revenue has no variance to estimate'
			   -- the fixed-horizon conversion test is the pooled z-test, whose
			   -- normal approximation needs at least 5 expected users with
			   -- and 5 without a conversion in each arm (Cochran's rule): 1
			   -- converted control user against 0 of 3 gave p = 0.0455, where
			   -- Fisher's exact p is 0.25 (review s12, V1)
			   WHEN NOT sequential AND metric = 'conversion' AND q.pfixed < alpha
					AND least(q.pooled * q.n, (1 - q.pooled) * q.n, q.pooled * q.cn, (1 - q.pooled) * q.cn) < 5 THEN
				   'not significant yet: too few users for the fixed-horizon test of conversion '
				   '(at least 5 expected users with and 5 without a conversion per arm)'
			   WHEN (CASE WHEN sequential THEN q.pav ELSE q.pfixed END) < alpha THEN
				   format('%s %s %s on %s (%s%s, p = %s%s)', q.name,
						  CASE WHEN q.d > 0 THEN 'beats' ELSE 'is worse than' END, e.control,
						  metric, CASE WHEN q.d > 0 THEN '+' ELSE '' END,
						  CASE WHEN metric = 'revenue' THEN round(q.d::numeric, 2)::text
							   ELSE round((100 * q.d)::numeric, 2)::text || ' points' END,
						  round((CASE WHEN sequential THEN q.pav ELSE q.pfixed END)::numeric, 4),
						  CASE WHEN sequential THEN ', always valid' ELSE '' END)
			   WHEN q.d IS NULL OR q.unit_var IS NULL OR q.dv0 IS NULL THEN
				   format('not significant yet: too few users to estimate %s''s variance (at least 2 per arm%s)',
						  metric, CASE WHEN metric = 'ctr' THEN ', with impressions' ELSE '' END)
			   WHEN q.d = 0 AND q.mde IS NULL THEN
				   'not significant yet: no difference seen; too few users to detect any at this size'
			   WHEN q.d = 0 THEN
				   format('not significant yet: no difference seen; detectable at this size: %s',
						  CASE WHEN metric = 'revenue' THEN round(q.mde::numeric, 2)::text
							   ELSE round((100 * q.mde)::numeric, 2)::text || ' points' END)
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
COMMENT ON FUNCTION recsys.experiment_results(text, text, double precision, double precision, boolean, double precision) IS
	'an A/B experiment''s results per variant: users, CTR, conversion, revenue per user, intervals, p-values against control, MDE and a verdict';

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
		RAISE EXCEPTION 'name must be a text of 1 to 63 characters, not %',
			coalesce(length(name) || ' characters', 'NULL') USING ERRCODE = 'invalid_parameter_value';
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
		RAISE EXCEPTION 'variants must not name more than 100 variants, not %', jsonb_array_length(variants)
			USING ERRCODE = 'invalid_parameter_value';
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
			RAISE EXCEPTION 'each variant needs a name: a string of 1 to 63 characters, not %',
				coalesce(CASE WHEN jsonb_typeof(v -> 'name') = 'string' THEN length(vname) || ' characters'
							  ELSE (v -> 'name')::text END, 'none')
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
				RAISE EXCEPTION 'model of variant "%" must be a model name, not %', vname, v -> 'model'
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
			RAISE EXCEPTION 'diversity of variant "%" must be a number between 0 and 1, not %', vname, v -> 'diversity'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF v ? 'similarity_model' AND jsonb_typeof(v -> 'similarity_model') <> 'string' THEN
			RAISE EXCEPTION 'similarity_model of variant "%" must be a model name, not %', vname, v -> 'similarity_model'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF v ? 'similarity_model' AND NOT EXISTS (SELECT FROM recsys.models m
												  WHERE m.name = v ->> 'similarity_model') THEN
			RAISE EXCEPTION 'similarity_model "%" of variant "%" does not exist', v ->> 'similarity_model', vname
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'SELECT name FROM recsys.models lists the models you may use.';
		END IF;
		IF v ? 'exclude_seen' AND jsonb_typeof(v -> 'exclude_seen') <> 'boolean' THEN
			RAISE EXCEPTION 'exclude_seen of variant "%" must be true or false, not %', vname, v -> 'exclude_seen'
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
		   -- (exactly 0 at 0%, 1 at 100%, as in experiment_results)
		   CASE WHEN c.x = 0 THEN 0 ELSE (c.x::float8 / c.n + z ^ 2 / (2 * c.n) - z * sqrt(c.x::float8 / c.n * (1 - c.x::float8 / c.n) / c.n + z ^ 2 / (4 * c.n ^ 2)))
		   / (1 + z ^ 2 / c.n) END,
		   CASE WHEN c.x = c.n THEN 1 ELSE (c.x::float8 / c.n + z ^ 2 / (2 * c.n) + z * sqrt(c.x::float8 / c.n * (1 - c.x::float8 / c.n) / c.n + z ^ 2 / (4 * c.n ^ 2)))
		   / (1 + z ^ 2 / c.n) END
	FROM cum c
	ORDER BY c.variant, c.day;
END
$$;
COMMENT ON FUNCTION recsys.experiment_daily(text, double precision) IS
	'an A/B experiment''s cumulative conversion per variant and day, with its interval (rows for a plot)';

-- internal: the ids of a catalog's products matching tsq that the caller
-- sees (NULL: none), through the GIN index also under row-level security,
-- where the caller's own plan cannot use it (src/search_match.c)
CREATE FUNCTION recsys._catalog_matches(catalog text, tsq tsquery)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'recsys_catalog_matches'
LANGUAGE C STABLE STRICT PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._catalog_matches(text, tsquery) IS
	'internal: the ids of a catalog''s products matching a tsquery that the caller sees';

CREATE OR REPLACE FUNCTION recsys._search_split(catalog text, config regconfig, word text)
RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	-- bounded (review s11, R5): under row-level security the caller's
	-- plan cannot use catalog_docs' GIN index (@@ is not leakproof), so
	-- the products whose text may hold a pair are found by
	-- _catalog_matches (the index, read as the catalog's owner, then the
	-- caller's rows among them: s12), once for all positions.  Only words
	-- of at most 30 letters (27 positions), only the positions whose two
	-- halves are both lexemes of the catalog (an indexed equality:
	-- typically 0-2 positions), and no read of the products when no
	-- position qualifies
	-- (pos is materialised so that the halves' lexemes are computed once
	-- a position and reach catalog_terms' index as values: inlined, the
	-- planner compared every term with them, recomputed, 45,000 times)
	WITH pos AS MATERIALIZED (
		SELECT left(word, i) AS l, substr(word, i + 1) AS r,
			   (SELECT array_agg(u.lexeme) FROM unnest(to_tsvector(config, left(word, i))) u) AS al,
			   (SELECT array_agg(u.lexeme) FROM unnest(to_tsvector(config, substr(word, i + 1))) u) AS ar
		FROM generate_series(3, length(word) - 3) i
		WHERE length(word) <= 30),
	cand AS MATERIALIZED (
		SELECT p.l, p.r, p.al[1] AS al, p.ar[1] AS ar,
			   tsquery_phrase(quote_literal(p.al[1])::tsquery, quote_literal(p.ar[1])::tsquery) AS tq
		FROM pos p
		WHERE cardinality(p.al) = 1 AND cardinality(p.ar) = 1
		  AND EXISTS (SELECT FROM recsys.catalog_terms t
					  WHERE t.catalog = _search_split.catalog AND t.lexeme = p.al[1])
		  AND EXISTS (SELECT FROM recsys.catalog_terms t
					  WHERE t.catalog = _search_split.catalog AND t.lexeme = p.ar[1])),
	ids AS MATERIALIZED (
		SELECT recsys._catalog_matches(_search_split.catalog, string_agg(c.tq::text, ' | ')::tsquery) AS ids
		FROM cand c),
	docs AS MATERIALIZED (
		SELECT d.doc FROM recsys.catalog_docs d, ids
		WHERE d.catalog = _search_split.catalog AND d.item_id = ANY (ids.ids))
	SELECT ARRAY[c.l || ' ' || c.r, c.al, c.ar]
	FROM cand c
	CROSS JOIN LATERAL (SELECT count(*) AS n FROM docs d WHERE d.doc @@ c.tq) m
	WHERE m.n > 0
	ORDER BY m.n DESC, length(c.l) DESC
	LIMIT 1
$$;
COMMENT ON FUNCTION recsys._search_split(text, regconfig, text) IS
	'internal: the two words a catalog''s products write a one-word compound as, with their lexemes';

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
	-- in exact arithmetic: floor((3n + 2) / 4) for f = 0.25), but at least
	-- one (a test user without training rows could not be evaluated: a
	-- test_fraction above 0.75 rounded small users' to 0; review s10, 8),
	-- the rest test
	RETURN QUERY EXECUTE format(
		'SELECT u, i, n >= $3 AND r > greatest(floor((1 - $2::numeric) * n + 0.5), 1) '
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

-- internal: what is wrong with a catalog's weights, NULL when nothing: an
-- object of weight sets ("personal", "anonymous"; "tuned" is tune_search's
-- record), each an object of search's features, each a JSON number 0 or
-- between 1e-6 and 1e6 in magnitude (tune_search's grid is -10..10): the
-- score, a real, then neither overflows nor underflows (review s10, 6)
CREATE OR REPLACE FUNCTION recsys._catalog_weights_problem(weights jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	set_name text;
	weight_set jsonb;
	feature text;
	w jsonb;
BEGIN
	IF jsonb_typeof(weights) IS DISTINCT FROM 'object' THEN
		RETURN format('weights must be a JSON object, not %s', coalesce(jsonb_typeof(weights), 'NULL'));
	END IF;
	FOR set_name, weight_set IN SELECT * FROM jsonb_each(weights) LOOP
		CONTINUE WHEN set_name = 'tuned';
		IF set_name NOT IN ('personal', 'anonymous') THEN
			RETURN format('weights has a set %s, not one of personal, anonymous (and tuned)', quote_literal(set_name));
		END IF;
		IF jsonb_typeof(weight_set) <> 'object' THEN
			RETURN format('weights -> %s must be a JSON object of weights, not %s', set_name, weight_set);
		END IF;
		FOR feature, w IN SELECT * FROM jsonb_each(weight_set) LOOP
			IF feature NOT IN ('text', 'personal', 'popularity', 'bought', 'position', 'embedding') THEN
				RETURN format('weights -> %s has a weight %s, not one of text, personal, popularity, bought, position, embedding',
							  set_name, quote_literal(feature));
			END IF;
			IF jsonb_typeof(w) <> 'number' OR NOT (w::numeric = 0 OR abs(w::numeric) BETWEEN 1e-6 AND 1e6) THEN
				RETURN format('weight %s -> %s must be a number, 0 or between 1e-6 and 1e6 in magnitude, not %s',
							  set_name, feature, w);
			END IF;
		END LOOP;
	END LOOP;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION recsys._catalog_weights_problem(jsonb) IS
	'internal: what is wrong with a search catalog''s weights, or NULL';

-- internal: a direct INSERT or UPDATE of recsys.catalogs.weights (an owner
-- may change them by hand) is checked as it is written, not at every
-- search of every grantee
CREATE OR REPLACE FUNCTION recsys._catalogs_weights_check()
RETURNS trigger
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	problem text := recsys._catalog_weights_problem(NEW.weights);
BEGIN
	IF problem IS NOT NULL THEN
		RAISE EXCEPTION 'catalog "%": %', NEW.name, problem
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example {"personal": {"text": 0.1, "personal": 1, "popularity": 1, "bought": -3}, "anonymous": {"text": 0.1, "popularity": 1}}; recsys.tune_search learns them.';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION recsys._catalogs_weights_check() IS
	'internal: refuse search weights that are not finite numbers in range';
CREATE TRIGGER catalogs_weights_check BEFORE INSERT OR UPDATE OF weights ON recsys.catalogs
	FOR EACH ROW EXECUTE FUNCTION recsys._catalogs_weights_check();

CREATE OR REPLACE FUNCTION recsys.search(
	query text,
	user_id bigint DEFAULT NULL,
	k integer DEFAULT 10,
	model text DEFAULT 'default',
	catalog text DEFAULT 'default',
	candidates bigint[] DEFAULT NULL,
	exclude_purchased boolean DEFAULT false,
	query_embedding real[] DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real, text_score real, personal_score real, popularity_score real)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	weights jsonb;
	nearest bigint[];
BEGIN
	IF k IS NULL OR exclude_purchased IS NULL THEN
		RAISE EXCEPTION 'k and exclude_purchased must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k < 1 OR k > 10000 THEN
		RAISE EXCEPTION 'k must be between 1 and 10000, not %', k USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT recsys._catalog_weights(c.name, c.weights) INTO weights FROM recsys.catalogs c WHERE c.name = search.catalog;
	IF query_embedding IS NOT NULL THEN
		-- hybrid: the products nearest the query's embedding are candidates
		-- too; a query embedding holding NaN or an infinity is refused (22023)
		-- whether or not a product is compared with it
		PERFORM recsys._embedding_similarity(query_embedding, query_embedding);
		IF NOT EXISTS (SELECT FROM recsys.catalog_docs d
					   WHERE d.catalog = search.catalog AND d.embedding IS NOT NULL) THEN
			RAISE EXCEPTION 'catalog "%" has no embeddings', catalog
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Index it with embedding_col, or search without query_embedding.';
		END IF;
		-- an embedding of another length than the query's: the query's
		-- fault, unless the catalog's are not all one length (damage, XX001)
		IF EXISTS (SELECT FROM recsys.catalog_docs d
				   WHERE d.catalog = search.catalog AND d.embedding IS NOT NULL
					 AND cardinality(d.embedding) <> cardinality(query_embedding)) THEN
			PERFORM recsys._catalog_embedding_length(catalog);
		END IF;
		SELECT array_agg(v.item_id ORDER BY v.sim DESC, v.item_id) INTO nearest
		FROM (SELECT d.item_id, recsys._embedding_similarity(d.embedding, query_embedding) AS sim
			  FROM recsys.catalog_docs d
			  WHERE d.catalog = search.catalog AND d.embedding IS NOT NULL
				AND (candidates IS NULL OR d.item_id = ANY (candidates))
			  ORDER BY 2 DESC, 1
			  LIMIT greatest(k, 100)) v;
	END IF;
	RETURN QUERY
	WITH f AS (
		SELECT * FROM recsys._search_features(query, user_id, model, catalog, candidates, exclude_purchased,
											  coalesce(nearest, '{}'), k)
	), w AS (
		SELECT coalesce((x ->> 'text')::real, 0) AS text, coalesce((x ->> 'personal')::real, 0) AS personal,
			   coalesce((x ->> 'popularity')::real, 0) AS popularity, coalesce((x ->> 'bought')::real, 0) AS bought,
			   coalesce((x ->> 'position')::real, 0) AS position,
			   (x ->> 'embedding')::real AS embedding
		FROM (SELECT weights -> CASE WHEN EXISTS (SELECT FROM f WHERE f.personal_score IS NOT NULL)
									 THEN 'personal' ELSE 'anonymous' END AS x) s
	), ranked AS (
		SELECT f.item_id, f.text_score, f.personal_score, f.popularity_score,
			   (w.text * f.text_n + w.personal * f.personal_n + w.popularity * f.popularity_n
				+ w.bought * f.bought::integer + w.position * f.position_n)::real AS learned,
			   w.embedding,
			   -- the cosine similarity to the query's embedding, for a learned fusion
			   CASE WHEN nearest IS NOT NULL AND w.embedding IS NOT NULL
					THEN (SELECT recsys._embedding_similarity(d.embedding, query_embedding)
						  FROM recsys.catalog_docs d
						  WHERE d.catalog = search.catalog AND d.item_id = f.item_id) END AS sim
		FROM f, w
	), fused AS (
		-- with an embedding weight (tune_search learned it), the learned
		-- score plus it times the similarity, min-max normalised over the
		-- candidates (0 without an embedding); else reciprocal rank fusion
		-- (k = 60) of the learned ranking and the embedding's, when there
		-- is one; tied learned scores share their rank, so the item ids'
		-- order does not count as relevance
		SELECT r.*, CASE WHEN nearest IS NULL THEN r.learned
						 WHEN r.embedding IS NOT NULL
						 THEN (r.learned + r.embedding
							   * coalesce((r.sim - min(r.sim) OVER ())
										  / nullif(max(r.sim) OVER () - min(r.sim) OVER (), 0), 0)::real)::real
						 ELSE (1.0 / (60 + rank() OVER (ORDER BY r.learned DESC))
							   + coalesce(1.0 / (60 + array_position(nearest, r.item_id)), 0))::real END AS fused
		FROM ranked r
	)
	SELECT f.item_id, f.fused, f.text_score, f.personal_score, f.popularity_score
	FROM fused f
	ORDER BY 2 DESC, f.item_id
	LIMIT k;
END
$$;
COMMENT ON FUNCTION recsys.search(text, bigint, integer, text, text, bigint[], boolean, real[]) IS
	'personalised product search: the k items of a catalog matching a query, ranked by text relevance, the model''s score for the user and popularity';

-- internal: the candidates of a query with their features, raw and
-- normalised to [0, 1] over the candidates (min-max; 0 when all are
-- equal).  Text: BM25 (k1 1.2, b 0.75) over the catalog's lexemes;
-- personal: the model's score through recommend (any kind), only when the
-- model knows the user; popularity: ln(1 + the model's users of the item);
-- bought: the user has the item in the model's source; position: where
-- the query's words end in the item's text (1: they end it, as a product
-- title's head noun does).  Items in also
-- (hybrid search's nearest embeddings) are candidates whatever their text.
-- top_k (search's k): the cap recsys.search_max_matches keeps at least top_k matches
-- (and the user's purchases besides, when exclude_purchased drops them).
CREATE OR REPLACE FUNCTION recsys._search_features(
	query text, user_id bigint, model text, catalog text,
	candidates bigint[] DEFAULT NULL, exclude_purchased boolean DEFAULT false,
	also bigint[] DEFAULT NULL, top_k integer DEFAULT NULL)
RETURNS TABLE (item_id bigint, text_score real, personal_score real, popularity_score real,
			   bought boolean, text_n real, personal_n real, popularity_n real, position_n real)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
-- (a query of thousands of matches is estimated dear enough for JIT, whose
-- compilation, tens of milliseconds, costs more than the query itself)
SET jit = off
AS $$
DECLARE
	cat recsys.catalogs;
	model_version integer;
	tsq tsquery;
	tsq_text text;
	terms text[];
	prefixes text[] := '{}';
	last_lexeme text;
	lex text;
	fix text;
	compound text;
	held text[] := '{}';
	word text;
	held_words text[];
	splits integer := 0;	-- _search_split calls: each may read the catalog
	parts text[];
	joins text[];
	trgm text;
	ids bigint[];
	bm25s double precision[];
	users integer[];
	ends real[];
	known bigint[] := '{}';
	personal_ids bigint[] := '{}';
	personal_scores real[] := '{}';
	seen bigint[] := '{}';
	min_matches integer := coalesce(top_k, 0);
BEGIN
	IF query IS NULL OR catalog IS NULL THEN
		RAISE EXCEPTION 'query and catalog must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF length(query) > 1000 THEN
		RAISE EXCEPTION 'query must be at most 1000 characters long, not %', length(query)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass the words the shopper typed.';
	END IF;
	IF btrim(query, E' \t\r\n') = '' THEN
		RAISE EXCEPTION 'query must not be empty'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Show recsys.recommend''s items when the shopper has typed nothing.';
	END IF;
	SELECT c.* INTO cat FROM recsys.catalogs c WHERE c.name = _search_features.catalog;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'catalog "%" does not exist', catalog
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Create it with recsys.index_catalog (or ask its owner for recsys.grant_catalog).';
	END IF;
	IF model IS NOT NULL THEN
		SELECT m.version INTO model_version FROM recsys.models m WHERE m.name = _search_features.model;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'model "%" does not exist', model
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Pass model => NULL to search by text alone.';
		END IF;
	END IF;

	-- a hyphenated word is searched as the compound OR its parts (review
	-- s10, 7; review 2, 4): websearch_to_tsquery alone asks for the
	-- compound, which "lunch bag" does not hold.  A compound no product
	-- holds is replaced by its parts in the query text, as if typed with
	-- spaces (else the typo fix below would turn it into another word); a
	-- held one is kept and its parts OR-ed to it in the tsquery below.  A
	-- match is a whole hyphenated word ("tea-light" is not the head of
	-- "tea-light-holder").
	FOR compound IN SELECT DISTINCT m[1] FROM regexp_matches(query, '([[:alnum:]]+(-[[:alnum:]]+)+)', 'g') m LOOP
		IF EXISTS (SELECT FROM unnest(to_tsvector(cat.config, compound)) u
				   WHERE strpos(u.lexeme, '-') > 0
					 AND NOT EXISTS (SELECT FROM recsys.catalog_terms t
									 WHERE t.catalog = cat.name AND t.lexeme = u.lexeme)) THEN
			query := regexp_replace(query, '(?<![[:alnum:]-])' || compound || '(?![[:alnum:]-])',
									replace(compound, '-', ' '), 'g');
		ELSE
			held := held || compound;
		END IF;
	END LOOP;

	-- a compound written as one word or as two (review s11, 2): the
	-- catalog's own text is the evidence.  A word of 6 letters or more
	-- that the catalog does not hold, whose letters split into two words
	-- that products hold side by side (_search_split: "lunchbag", LUNCH
	-- BAG), is replaced by them in the query text, as if typed with a
	-- space (as a hyphenated compound no product holds, above), unless it
	-- is the last word, perhaps unfinished, and begins a word the catalog
	-- holds (the prefix below).  A word the catalog holds ("cakestand") is
	-- searched so as well only when the query matches nothing as typed
	-- (below); "carpet" is never "car pet": no product holds that.
	FOR word IN SELECT DISTINCT m[1] FROM regexp_matches(query, '(?<![[:alnum:]-])([[:alpha:]]{6,})(?![[:alnum:]-])', 'g') m LOOP
		lex := (SELECT u.lexeme FROM unnest(to_tsvector(cat.config, word)) u LIMIT 1);
		CONTINUE WHEN lex IS NULL;
		IF EXISTS (SELECT FROM recsys.catalog_terms t WHERE t.catalog = cat.name AND t.lexeme = lex) THEN
			held_words := held_words || ARRAY[ARRAY[word, lex]];
			CONTINUE;
		END IF;
		CONTINUE WHEN query ~ (word || '$')
				   AND EXISTS (SELECT FROM recsys.catalog_terms t
							   WHERE t.catalog = cat.name AND t.lexeme LIKE lex || '%');
		-- at most 4 words a query (R5: each may read the whole catalog; a
		-- query whose words all match has none of these)
		CONTINUE WHEN splits >= 4;
		splits := splits + 1;
		parts := recsys._search_split(cat.name, cat.config, word);
		IF parts IS NOT NULL THEN
			query := regexp_replace(query, '(?<![[:alnum:]-])' || word || '(?![[:alnum:]-])', parts[1], 'g');
		END IF;
	END LOOP;

	-- the query's lexemes; a query of stop words matches nothing
	SELECT array_agg(DISTINCT u.lexeme), (array_agg(u.lexeme ORDER BY u.positions[1] DESC))[1]
	INTO terms, last_lexeme
	FROM unnest(to_tsvector(cat.config, query)) u;
	IF terms IS NULL THEN
		RAISE NOTICE 'query "%" has only stop words: no item matches its text', left(query, 100);
		IF coalesce(cardinality(also), 0) = 0 THEN
			RETURN;
		END IF;
		terms := '{}';
	ELSE
		tsq_text := websearch_to_tsquery(cat.config, query)::text;
		FOREACH compound IN ARRAY held LOOP
			lex := websearch_to_tsquery(cat.config, compound)::text;
			fix := websearch_to_tsquery(cat.config, replace(compound, '-', ' '))::text;
			-- a part that is a stop word ("t" of "t-light") would leave a
			-- wider query ("light"): then the compound alone
			IF (SELECT count(*) FROM unnest(to_tsvector(cat.config, replace(compound, '-', ' '))) u,
									 unnest(u.positions) q)
			   = cardinality(string_to_array(compound, '-')) THEN
				tsq_text := replace(tsq_text, lex, format('( %s | %s )', lex, fix));
			END IF;
		END LOOP;
	END IF;

	-- words that match nothing: the last one typed may be unfinished (a
	-- prefix), any may be a typo (the catalog's most similar lexeme, when
	-- pg_trgm is installed)
	SELECT format('%I', n.nspname) INTO trgm
	FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
	WHERE e.extname = 'pg_trgm';
	FOREACH lex IN ARRAY terms LOOP
		CONTINUE WHEN EXISTS (SELECT FROM recsys.catalog_terms t
							  WHERE t.catalog = cat.name AND t.lexeme = lex);
		fix := NULL;
		IF lex = last_lexeme AND query !~ '[[:space:][:punct:]]$'
		   AND EXISTS (SELECT FROM recsys.catalog_terms t
					   WHERE t.catalog = cat.name AND t.lexeme LIKE replace(replace(replace(lex, '\', '\\'), '%', '\%'), '_', '\_') || '%') THEN
			prefixes := prefixes || lex;
			fix := quote_literal(lex) || ':*';
		ELSIF trgm IS NOT NULL THEN
			EXECUTE format('SELECT t.lexeme FROM recsys.catalog_terms t '
						   'WHERE t.catalog = $1 AND %1$s.similarity(t.lexeme, $2) >= 0.3 '
						   'ORDER BY %1$s.similarity(t.lexeme, $2) DESC, t.df DESC, t.lexeme LIMIT 1', trgm)
			INTO fix USING cat.name, lex;
			IF fix IS NOT NULL THEN
				terms := array_replace(terms, lex, fix);
				fix := quote_literal(fix);
			END IF;
		END IF;
		IF fix IS NOT NULL THEN
			tsq_text := replace(tsq_text, quote_literal(lex), fix);
		END IF;
	END LOOP;
	tsq := tsq_text::tsquery;	-- NULL (matches nothing) for stop words

	-- the matches (GIN), their BM25 and user counts, capped to the best
	-- recsys.search_max_matches by both for generic words (src/search_match.c),
	-- but never to fewer than k once the user's purchases are left out
	IF exclude_purchased AND top_k IS NOT NULL AND user_id IS NOT NULL AND model IS NOT NULL THEN
		min_matches := least(top_k::bigint + coalesce(cardinality(recsys._seen_items(user_id, model)), 0),
							 2147483647);
	END IF;
	LOOP
		SELECT m.ids, m.bm25, m.n_users, m.positions INTO ids, bm25s, users, ends
		FROM recsys._search_matches(cat.name, tsq, terms, prefixes, cat.n_items, cat.avg_length,
									candidates, CASE WHEN cardinality(also) > 0 THEN also END,
									model, min_matches) m;
		EXIT WHEN ids IS NOT NULL OR tsq IS NULL OR joins IS NOT NULL;
		-- nothing matched as typed: a compound's other form, once (a
		-- fallback, as the prefix and typo rules are for words that match
		-- nothing; OR-ed in always, it made the product-search set's
		-- queries as given rank worse, as their products spell them as
		-- typed: review s11, 2).  Two adjacent words ("lunch box") that some
		-- product holds as one ("LUNCHBOX") are searched as the two OR the
		-- compound; a word some product holds ("cakestand") OR its split
		-- that products hold side by side (_search_split: CAKE STAND).
		SELECT coalesce(array_agg(DISTINCT ARRAY[q.la[1], q.lb[1], q.lj[1]]), '{}')
		INTO joins
		FROM (SELECT w.tok AS a, lead(w.tok) OVER (ORDER BY w.ord) AS b
			  FROM regexp_split_to_table(btrim(query), '\s+') WITH ORDINALITY w(tok, ord)) p
		CROSS JOIN LATERAL (SELECT (SELECT array_agg(u.lexeme) FROM unnest(to_tsvector(cat.config, p.a)) u) AS la,
								   (SELECT array_agg(u.lexeme) FROM unnest(to_tsvector(cat.config, p.b)) u) AS lb,
								   (SELECT array_agg(u.lexeme) FROM unnest(to_tsvector(cat.config, p.a || p.b)) u) AS lj) q
		WHERE p.a ~ '^[[:alpha:]]+$' AND p.b ~ '^[[:alpha:]]+$'
		  AND cardinality(q.la) = 1 AND cardinality(q.lb) = 1 AND cardinality(q.lj) = 1
		  AND q.lj[1] NOT IN (q.la[1], q.lb[1])
		  AND EXISTS (SELECT FROM recsys.catalog_terms t WHERE t.catalog = cat.name AND t.lexeme = q.lj[1]);
		fix := tsq_text;
		FOR i IN 1 .. coalesce(array_length(joins, 1), 0) LOOP
			CONTINUE WHEN strpos(tsq_text, format('%L & %L', joins[i][1], joins[i][2])) = 0;
			tsq_text := replace(tsq_text, format('%L & %L', joins[i][1], joins[i][2]),
								format('( %L & %L | %L )', joins[i][1], joins[i][2], joins[i][3]));
			terms := terms || joins[i][3];
		END LOOP;
		FOR i IN 1 .. coalesce(array_length(held_words, 1), 0) LOOP
			CONTINUE WHEN strpos(tsq_text, quote_literal(held_words[i][2])) = 0 OR splits >= 4;
			splits := splits + 1;
			parts := recsys._search_split(cat.name, cat.config, held_words[i][1]);
			CONTINUE WHEN parts IS NULL;
			tsq_text := replace(tsq_text, quote_literal(held_words[i][2]),
								format('( %L | %L <-> %L )', held_words[i][2], parts[2], parts[3]));
			terms := terms || ARRAY[parts[2], parts[3]];
		END LOOP;
		EXIT WHEN tsq_text = fix;
		SELECT array_agg(DISTINCT t) INTO terms FROM unnest(terms) t;
		tsq := tsq_text::tsquery;
	END LOOP;
	IF ids IS NULL THEN
		RETURN;
	END IF;

	-- the model's scores of the candidates, when it knows the user (not a
	-- cold-start answer); the items it leaves out with exclude_seen were bought
	IF user_id IS NOT NULL AND model IS NOT NULL THEN
		SELECT coalesce(array_agg(r.item_id), '{}'),
			   coalesce(array_agg(r.item_id) FILTER (WHERE r.reason = 'personalised'), '{}'),
			   coalesce(array_agg(r.score) FILTER (WHERE r.reason = 'personalised'), '{}')
		INTO known, personal_ids, personal_scores
		FROM recsys.recommend(user_id, least(cardinality(ids), 10000), model, false, ids) r;
		IF cardinality(personal_ids) > 0 THEN
			-- the candidates the model knows that the user has (few)
			SELECT coalesce(array_agg(s.item_id), '{}') INTO seen
			FROM unnest(recsys._seen_items(user_id, model)) s(item_id)
			JOIN unnest(known) k(item_id) ON k.item_id = s.item_id;
		END IF;
	END IF;

	RETURN QUERY
	WITH f AS MATERIALIZED (
		SELECT c.item_id, c.bm25::real AS text_score, p.score AS personal_score,
			   c.n_users::real AS popularity_score,
			   (cardinality(personal_ids) > 0 AND c.item_id = ANY (seen)) AS bought,
			   c.bm25 AS x_text, p.score AS x_personal, ln(1 + c.n_users) AS x_pop,
			   c.position AS x_position
		FROM unnest(ids, bm25s, users, ends) c(item_id, bm25, n_users, position)
		LEFT JOIN unnest(personal_ids, personal_scores) p(item_id, score) ON p.item_id = c.item_id
	), m AS (
		-- the ranges of the features over the matches (an item the model
		-- does not score counts as its lowest score)
		SELECT min(f.x_text) AS text_lo, max(f.x_text) AS text_hi,
			   min(f.x_personal) AS personal_lo, max(f.x_personal) AS personal_hi,
			   min(f.x_pop) AS pop_lo, max(f.x_pop) AS pop_hi,
			   min(f.x_position) AS position_lo, max(f.x_position) AS position_hi
		FROM f
	)
	SELECT f.item_id, f.text_score, f.personal_score, f.popularity_score, f.bought,
		   coalesce((f.x_text - m.text_lo) / nullif(m.text_hi - m.text_lo, 0), 0)::real,
		   coalesce((coalesce(f.x_personal, m.personal_lo) - m.personal_lo) / nullif(m.personal_hi - m.personal_lo, 0), 0)::real,
		   coalesce((f.x_pop - m.pop_lo) / nullif(m.pop_hi - m.pop_lo, 0), 0)::real,
		   coalesce((f.x_position - m.position_lo) / nullif(m.position_hi - m.position_lo, 0), 0)::real
	FROM f, m
	WHERE NOT (exclude_purchased AND f.bought);
END
$$;
COMMENT ON FUNCTION recsys._search_features(text, bigint, text, text, bigint[], boolean, bigint[], integer) IS
	'internal: the items matching a search query, with the features search ranks them by';

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
		-- a click goes to the team that showed the item most recently
		-- before it; to neither when both teams showed it at that same
		-- time (two serves in one transaction, or rows logged by hand):
		-- no arbitrary winner (review s10, 10)
		SELECT o.user_id,
			   (SELECT CASE WHEN min(l.variant) = max(l.variant) THEN min(l.variant) END
				FROM (SELECT i.variant, rank() OVER (ORDER BY i.shown_at DESC) AS r
					  FROM recsys.experiment_impressions i
					  WHERE i.experiment = e.name AND i.user_id = o.user_id AND i.item_id = o.item_id
						AND i.variant IN (a, b) AND i.shown_at <= coalesce(e.ended_at, 'infinity')
						AND i.shown_at <= o.at AND o.at <= i.shown_at + e.attribution) l
				WHERE l.r = 1) AS team
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

-- keep a catalog current without refresh calls: triggers on its product
-- table index every inserted, updated or deleted product (and empty the
-- catalog on TRUNCATE) in the same transaction, as the catalog's owner
CREATE OR REPLACE FUNCTION recsys.catalog_trigger(catalog text DEFAULT 'default', enabled boolean DEFAULT true)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cat recsys.catalogs;
	rel regclass;
	relowner oid;
	row_trigger name;
	truncate_trigger name;
	cols text;
BEGIN
	IF enabled IS NULL THEN
		RAISE EXCEPTION 'enabled must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	cat := recsys._lock_catalog(catalog, 'change the trigger of');
	rel := to_regclass(cat.source);
	-- names no two catalogs share, whatever their length (the trigger's
	-- argument names the catalog, and the trigger checks it)
	row_trigger := 'recsys_catalog_' || md5(cat.name);
	truncate_trigger := 'recsys_catalog_truncate_' || md5(cat.name);
	IF rel IS NULL THEN
		IF NOT enabled THEN
			RETURN false;	-- (dropping a catalog whose table is gone)
		END IF;
		RAISE EXCEPTION 'the source of catalog "%", relation %, no longer exists', cat.name, cat.source
			USING ERRCODE = 'undefined_table',
				  HINT = 'Index the product table again with recsys.index_catalog.';
	END IF;
	IF enabled THEN
		IF (SELECT c.relkind FROM pg_class c WHERE c.oid = rel) = 'p' THEN
			RAISE EXCEPTION 'catalog "%" indexes %, which is a partitioned table', cat.name, cat.source
				USING ERRCODE = 'wrong_object_type',
					  HINT = 'Its rows'' triggers fire on its partitions: refresh the catalog with recsys.refresh_catalog.';
		END IF;
		IF (SELECT c.relkind FROM pg_class c WHERE c.oid = rel) <> 'r' THEN
			RAISE EXCEPTION 'catalog "%" indexes %, which is not a table', cat.name, cat.source
				USING ERRCODE = 'wrong_object_type',
					  HINT = 'Only a table''s changes fire triggers: refresh a view''s catalog with recsys.refresh_catalog.';
		END IF;
		-- the trigger reads the table as the catalog's owner whenever the
		-- table's owner changes it: only a table owner with the catalog
		-- owner's rights may have that (else its policies run as another
		-- role), and only a role owning the table can switch it off again
		relowner := (SELECT c.relowner FROM pg_class c WHERE c.oid = rel);
		IF NOT pg_has_role(relowner, 'USAGE') THEN
			RAISE EXCEPTION 'must be owner of table % to keep catalog "%" current with a trigger', cat.source, cat.name
				USING ERRCODE = 'insufficient_privilege',
					  HINT = 'Refresh the catalog with recsys.refresh_catalog instead.';
		END IF;
		IF NOT pg_has_role(relowner, cat.owner, 'USAGE') THEN
			RAISE EXCEPTION 'the owner of table %, role "%", lacks the rights of role "%", the owner of catalog "%"',
				cat.source, relowner::regrole, cat.owner, cat.name
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = 'The trigger reads the table with the catalog owner''s rights whenever the table''s owner changes it.',
					  HINT = 'Refresh the catalog with recsys.refresh_catalog instead.';
		END IF;
		IF (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = cat.id_col AND NOT a.attisdropped)
		   NOT IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN
			RAISE EXCEPTION 'column "%" of % is of type %, not an integer type', cat.id_col, cat.source,
				(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
				 WHERE a.attrelid = rel AND a.attname = cat.id_col)
				USING ERRCODE = 'datatype_mismatch',
					  HINT = 'The trigger needs a smallint, integer or bigint id: refresh the catalog with recsys.refresh_catalog.';
		END IF;
		-- the trigger reads the row of the changed id as the catalog's owner
		-- and fails on two: without a unique index, a role that may only
		-- insert would learn from that failure whether an id it cannot read
		-- exists (review s10, 4).  With one, the table refuses the duplicate
		-- itself, as it refuses it to anyone.  The trigger's second argument,
		-- 'unique', has it check again whenever it fires (src/search_sync.c):
		-- the index dropped later, it refuses every write.
		IF NOT recsys._catalog_unique_id(rel, cat.id_col) THEN
			RAISE EXCEPTION 'catalog "%" needs a unique index on column "%" of % to be kept current by a trigger',
				cat.name, cat.id_col, cat.source
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = 'Without one, a role allowed only to insert products would learn from the trigger''s duplicate-id error whether an id it cannot read exists.',
					  HINT = format('Add one (ALTER TABLE %s ADD PRIMARY KEY (%I)), or refresh the catalog with recsys.refresh_catalog.',
									cat.source, cat.id_col);
		END IF;
	END IF;
	IF EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = rel AND t.tgname IN (row_trigger, truncate_trigger)) THEN
		EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', row_trigger, rel);
		EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', truncate_trigger, rel);
	END IF;
	IF enabled THEN
		-- an UPDATE of other columns (a price) changes nothing searchable
		SELECT string_agg(format('%I', c.col), ', ') INTO cols
		FROM unnest(cat.id_col || cat.text_cols || cat.embedding_col) c(col) WHERE c.col IS NOT NULL;
		EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OF %s OR DELETE ON %s '
					   'FOR EACH ROW EXECUTE FUNCTION recsys._catalog_sync(%L, ''unique'')', row_trigger, cols, rel, cat.name);
		EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s '
					   'FOR EACH STATEMENT EXECUTE FUNCTION recsys._catalog_sync(%L, ''unique'')',
					   truncate_trigger, rel, cat.name);
		-- from a fresh start: what changed before is in too
		PERFORM recsys.refresh_catalog(cat.name);
	END IF;
	RETURN enabled;
END
$$;
COMMENT ON FUNCTION recsys.catalog_trigger(text, boolean) IS
	'keep a search catalog current with triggers on its product table (enabled => false removes them)';

-- internal: take a model name's training lock (src/model_store.c), to the
-- end of the transaction, waiting as a second training would
CREATE OR REPLACE FUNCTION recsys._lock_model_for_training(model text)
RETURNS void
AS 'MODULE_PATHNAME', 'recsys_lock_model_for_training'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._lock_model_for_training(text) IS
	'internal: wait for a training of the model in progress and keep others out until the transaction ends';

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
	-- a training of this name in progress commits first, then goes with
	-- the rest (else it would recreate the model as version 1 after the drop)
	PERFORM recsys._lock_model_for_training(model);
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

-- internal: each user of an experiment, in the variant of its first
-- exposure, with its impressions and attributed outcomes.  clicks are the
-- user's clicked impressions: a click on an item goes to the latest
-- impression of that item at or before it (within attribution), and an
-- impression counts once however many click rows it got (so a variant's
-- CTR is a proportion, at most 1: review s10, 3); a conversion counts when
-- it falls between the user's first exposure and its last plus attribution.
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
			   min(i.shown_at) AS first_at, max(i.shown_at) AS last_at, count(i.item_id) AS impressions,
			   count(i.item_id) FILTER (
				   WHERE EXISTS (SELECT FROM recsys.experiment_outcomes o
								 WHERE o.experiment = _experiment_users.experiment AND o.kind = 'click'
								   AND o.user_id = i.user_id AND o.item_id = i.item_id
								   AND o.at >= i.shown_at AND o.at <= i.shown_at + e.attribution
								   AND NOT EXISTS (SELECT FROM recsys.experiment_impressions j
												   WHERE j.experiment = _experiment_users.experiment
													 AND j.user_id = i.user_id AND j.item_id = i.item_id
													 AND j.shown_at > i.shown_at AND j.shown_at <= o.at
													 AND j.shown_at <= e.ended_at))) AS clicks
		FROM recsys.experiment_impressions i, e
		WHERE i.experiment = _experiment_users.experiment AND i.shown_at <= e.ended_at
		GROUP BY i.user_id
	), conversions AS (
		SELECT o.user_id, min(o.at) AS first_at, sum(o.amount) AS revenue
		FROM recsys.experiment_outcomes o JOIN per_user u ON u.user_id = o.user_id CROSS JOIN e
		WHERE o.experiment = _experiment_users.experiment AND o.kind = 'conversion'
		  AND o.at >= u.first_at AND o.at <= u.last_at + e.attribution
		GROUP BY o.user_id
	)
	SELECT u.user_id, u.variant, u.first_at, u.impressions, u.clicks, v.first_at, coalesce(v.revenue, 0)
	FROM per_user u
	LEFT JOIN conversions v ON v.user_id = u.user_id
$$;
COMMENT ON FUNCTION recsys._experiment_users(text) IS
	'internal: an experiment''s users with their variant, impressions and attributed outcomes';

-- internal: whether a table has a unique index on one column alone, valid,
-- immediate, without predicate or expression (what catalog_trigger needs;
-- src/search_sync.c's has_unique_index checks the same when it fires)
CREATE FUNCTION recsys._catalog_unique_id(rel regclass, col name)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
				   WHERE i.indrelid = rel AND i.indisunique AND i.indimmediate AND i.indisvalid
					 AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = col)
$$;
COMMENT ON FUNCTION recsys._catalog_unique_id(regclass, name) IS
	'internal: whether a table has a unique index on this column alone (a catalog trigger needs one)';

-- Catalog triggers made by 0.10.0 do not check for the unique index when
-- they fire (those made by catalog_trigger from now on do: its second
-- argument, 'unique'): on a table without one, an INSERT-only role learns
-- from the trigger's duplicate-id error whether an id exists.  A trigger
-- on a table with such an index is converted here: made again as it was
-- (events, columns, enabled state, comment: its definition with the
-- argument added), now checking.  Nothing is read or re-indexed: the catalog was
-- kept current by the old trigger.  One on a table without the index
-- cannot be: its writes keep working, and the update names it with the
-- way out (review 2, finding 10; review s11, 3: before, the update left
-- every 0.10.0 trigger as it was).
DO $$
DECLARE
	trg record;
	def text;
	suffix text;
	list text;
	note text;
BEGIN
	FOR trg IN
		SELECT g.oid, g.tgname, g.tgrelid::regclass AS rel, g.tgenabled, c.name
		FROM pg_trigger g
		JOIN recsys.catalogs c ON g.tgname IN ('recsys_catalog_' || md5(c.name), 'recsys_catalog_truncate_' || md5(c.name))
		WHERE g.tgfoid = 'recsys._catalog_sync'::regproc AND g.tgnargs = 1 AND NOT g.tgisinternal
		  AND recsys._catalog_unique_id(g.tgrelid, c.id_col)
		ORDER BY c.name, g.tgname
	LOOP
		-- (the definition ends with the call and its one argument, the
		-- catalog's name, quoted as ruleutils.c does: made again with
		-- 'unique' after it; a definition not so ending is left, named)
		def := pg_get_triggerdef(trg.oid);
		suffix := 'recsys._catalog_sync(''' || replace(trg.name, '''', '''''') || ''')';
		IF right(def, length(suffix)) <> suffix THEN
			RAISE WARNING 'search catalog trigger % on % not converted: unexpected definition %', trg.tgname, trg.rel, def;
			CONTINUE;
		END IF;
		-- (its comment, which DROP TRIGGER drops, is put back: review s11, R9)
		note := obj_description(trg.oid, 'pg_trigger');
		EXECUTE format('DROP TRIGGER %I ON %s', trg.tgname, trg.rel);
		EXECUTE left(def, length(def) - length(suffix)) || format('recsys._catalog_sync(%L, ''unique'')', trg.name);
		IF note IS NOT NULL THEN
			EXECUTE format('COMMENT ON TRIGGER %I ON %s IS %L', trg.tgname, trg.rel, note);
		END IF;
		IF trg.tgenabled <> 'O' THEN
			EXECUTE format('ALTER TABLE %s %s TRIGGER %I', trg.rel,
						   CASE trg.tgenabled WHEN 'D' THEN 'DISABLE' WHEN 'R' THEN 'ENABLE REPLICA' ELSE 'ENABLE ALWAYS' END,
						   trg.tgname);
		END IF;
	END LOOP;
	SELECT string_agg(format('catalog %s on %s', quote_literal(c.name), t.tgrelid::regclass), ', ' ORDER BY c.name)
	INTO list
	FROM pg_trigger t JOIN recsys.catalogs c ON t.tgname = 'recsys_catalog_' || md5(c.name)
	WHERE t.tgfoid = 'recsys._catalog_sync'::regproc AND t.tgnargs = 1
	  AND NOT recsys._catalog_unique_id(t.tgrelid, c.id_col);
	IF list IS NOT NULL THEN
		RAISE WARNING 'search catalog triggers on tables without a unique index on the id column: %', list
			USING DETAIL = 'A role allowed only to insert products learns from the trigger''s duplicate-id error whether an id it cannot read exists.  The update converted the catalog triggers on tables with such an index.',
				  HINT = 'Add a unique index on the id column, then run recsys.catalog_trigger(catalog) again (its trigger then checks for the index whenever it fires).';
	END IF;
END
$$;

-- internal: refuse (42501) a training the role could not store, for the
-- PL/pgSQL trainers that search before they store (train_auto, tune; the
-- C trainers do it in RsTrainBegin): without the table privileges of
-- doc/operations.md they ran to their end (review s11, F2)
CREATE FUNCTION recsys._require_train_privileges(function text)
RETURNS void
AS 'MODULE_PATHNAME', 'recsys_require_train_privileges'
LANGUAGE C STABLE PARALLEL RESTRICTED STRICT SECURITY INVOKER;
COMMENT ON FUNCTION recsys._require_train_privileges(text) IS
	'internal: an error when the current role lacks the privileges on the recsys tables that storing a model needs';

-- internal: refuse (42804) a column of a type that cannot be an id
-- (kind 'id': an integer) or a weight (kind 'weight': a number), as the
-- trainers do (src/ingest.c), naming argname and the types allowed, after
-- _require_column (42703): for the SQL functions that read a source before
-- any trainer (splits: a numeric 1e30 failed in the cast to bigint with no
-- column named, review s8, 8; train_auto: a text or boolean weight failed
-- in its cast, review s11, R12)
CREATE FUNCTION recsys._require_column_type(source regclass, col name, argname text, kind text)
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
	IF kind = 'id' AND typ NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
		RAISE EXCEPTION '% column "%" has type %, which cannot be an id', argname, col, format_type(typ, NULL)
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'Ids must be smallint, integer or bigint; map other keys to integers in a view, for example with dense_rank().';
	ELSIF kind = 'weight' AND typ NOT IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype,
										  'real'::regtype, 'double precision'::regtype, 'numeric'::regtype) THEN
		RAISE EXCEPTION '% column "%" has type %, which cannot be a weight', argname, col, format_type(typ, NULL)
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'Use a column of type smallint, integer, bigint, real, double precision or numeric.';
	ELSIF kind NOT IN ('id', 'weight') THEN
		RAISE EXCEPTION 'unknown column kind %', quote_literal(kind) USING ERRCODE = 'internal_error';
	END IF;
END
$$;
COMMENT ON FUNCTION recsys._require_column_type(regclass, name, text, text) IS
	'internal: raise a clear error when a source''s id or weight column is missing or of a type it cannot be';

-- internal: _require_column_type's id check (0.10.0's name, kept for its
-- callers)
CREATE OR REPLACE FUNCTION recsys._require_id_column(source regclass, col name, argname text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM recsys._require_column_type(source, col, argname, 'id');
END
$$;
COMMENT ON FUNCTION recsys._require_id_column(regclass, name, text) IS
	'internal: raise a clear error when a source''s id column is missing or not an integer';

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
	evaluated double precision;
	skipped double precision;
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
	PERFORM recsys._require_train_privileges('recsys.tune()');
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
									user_col, item_col, weight_col) c
		RETURNING (_recsys_tune_results.metrics ->> 'users')::float8,
				  (_recsys_tune_results.metrics ->> 'skipped_users')::float8 INTO evaluated, skipped;
		-- no user of valid evaluated (none has rows in train): every metric
		-- is NULL, and the search would keep an arbitrary candidate (review
		-- s12, V8); the users are train's, the same for every candidate
		IF evaluated = 0 THEN
			RAISE EXCEPTION 'valid "%" has no user with rows in train "%": nothing to score the candidates on',
				valid, train
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = format('evaluate skipped all %s of its users: a user is evaluated on the model trained from train.',
									  skipped),
					  HINT = 'Validate on users of train: recsys.split_holdout or recsys.split_last make such a pair.';
		END IF;
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

-- s13: _auto_final_keep takes the measured exact seconds (review s12 W3)
DROP FUNCTION recsys._auto_final_keep(double precision, double precision, double precision, jsonb, double precision);

-- Trial n's validation values: its first split's, then its scores on the
-- repeated splits, in split order (a failed fit's none).
-- (PL/pgSQL, not SQL: its plans follow the temporary tables a second
-- train_auto call in the transaction makes anew; review s13 R3)
CREATE OR REPLACE FUNCTION recsys._auto_split_values(n integer)
RETURNS double precision[]
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT ARRAY(SELECT y.v FROM (SELECT t.value, 1 FROM _recsys_auto_trials t WHERE t.n = _auto_split_values.n
									  UNION ALL
									  SELECT s.value, s.split FROM _recsys_auto_scores s
									  WHERE s.n = _auto_split_values.n AND s.error IS NULL) y(v, o)
					 ORDER BY y.o)
	);
END
$$;
COMMENT ON FUNCTION recsys._auto_split_values(integer) IS
	'internal: a train_auto trial''s validation values on its first and repeated splits';

-- The keep an EASE winner (or blend member) is retrained with on all the
-- data: the largest of 1 (exact), 0.5 and 0.25 whose estimate (other:
-- the non-EASE members' seconds; ease: the compact EASE members'; both
-- for all the data) fits the seconds left, else 0.1, compact as
-- validated.  ease_exact (s13, review s12 W3): the exact EASE members'
-- seconds for all the data as this run measured them (_auto_exact_seconds:
-- their fits on the repeated splits, trained exact), when it did; then a
-- keep's estimate lies between the compact and the measured exact
-- seconds in proportion, and the model (_auto_keep_seconds) is not used.
-- Returns that keep, its estimate and the exact estimate.
CREATE OR REPLACE FUNCTION recsys._auto_final_keep(other double precision, ease double precision, ease_exact double precision,
										left_seconds double precision, ctx jsonb, load double precision,
										OUT keep double precision, OUT estimate double precision,
										OUT exact_estimate double precision)
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.kept, other + k.seconds, other + e.seconds
	FROM unnest(ARRAY[1, 0.5, 0.25, 0.1]::double precision[]) c(kept),
		 LATERAL (SELECT CASE WHEN ease_exact IS NULL THEN recsys._auto_keep_seconds(ease, c.kept, ctx, load)
							  ELSE ease + greatest(ease_exact - ease, 0) * (c.kept - 0.1) / 0.9 END) k(seconds),
		 LATERAL (SELECT CASE WHEN ease_exact IS NULL THEN recsys._auto_keep_seconds(ease, 1, ctx, load)
							  ELSE greatest(ease_exact, ease) END) e(seconds)
	WHERE c.kept = 0.1 OR other + k.seconds <= left_seconds
	ORDER BY c.kept DESC LIMIT 1
$$;
COMMENT ON FUNCTION recsys._auto_final_keep(double precision, double precision, double precision, double precision,
											jsonb, double precision) IS
	'internal: the keep train_auto retrains an EASE winner with: the largest whose estimate fits the time left';

-- The seconds of training an EASE family's setting exact on all the data
-- as this run measured them (s13, review s12 W3): the family's slowest
-- training on a repeated split (exact there; its scoring left out, review
-- s13 R6), plus a fifth, times the data's rows over the repeated splits'
-- train rows (ctx's repeated_scale, the larger of the two; else scale,
-- the first split's: the Gram grows with the rows; the solve and the
-- writing, which dominate, do not, so this errs long); NULL before the
-- family's first such fit.  It replaces _auto_keep_seconds' model of an exact fit
-- (a compact trial's seconds times exact_factor, or the writing at
-- ease_write_exact times the load factor) in the final training's
-- reserve and keep: on ml-latest-small strat75, quiet, the model put the
-- exact retraining at 40.4 s with 40.4 s left and the winner was
-- retrained with keep 0.5.
-- (PL/pgSQL, not SQL: its plans follow the temporary tables a second
-- train_auto call in the transaction makes anew; review s13 R3)
CREATE OR REPLACE FUNCTION recsys._auto_exact_seconds(family text, ctx jsonb)
RETURNS double precision
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN recsys._auto_measured_fit(family, true)
		   * coalesce((ctx ->> 'repeated_scale')::double precision, (ctx ->> 'scale')::double precision);
END
$$;
COMMENT ON FUNCTION recsys._auto_exact_seconds(text, jsonb) IS
	'internal: the measured seconds of training a train_auto EASE family''s setting exact on all the data, or NULL';

-- The seconds a train_auto trial must leave in the budget besides its own
-- estimate (see _auto_trial): the winner's and its blend partner's final
-- training on all the data and, while the search runs, three blend
-- evaluations; plus ctx's extra_reserve when given (the second round
-- keeps time for the checks and blends that follow it).
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
		   + CASE WHEN blending THEN 0
				  ELSE 3 * coalesce((SELECT sum(b.eval_seconds)
									 FROM (SELECT t.eval_seconds FROM _recsys_auto_trials t
										   WHERE t.model IS NOT NULL AND t.family <> 'blend' AND t.value IS NOT NULL
										   ORDER BY t.value DESC LIMIT 2) b), 0) END
	FROM (SELECT c.seconds FROM
			(SELECT b.train_seconds AS seconds
			 FROM (SELECT CASE WHEN t.params ? 'keep'
							   THEN greatest(coalesce(recsys._auto_exact_seconds(t.family, ctx),
													  recsys._auto_keep_seconds(t.train_seconds * scale12, 1, ctx, load)),
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
												recsys._auto_keep_seconds(e.seconds * scale12, 1, ctx, load)),
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
