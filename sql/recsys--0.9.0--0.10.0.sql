-- recsys 0.9.0 -> 0.10.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.10.0'" to load this file. \quit

-- 0.10.0: each change has a section of its own below (one per work stream).

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Models: FM re-ranker
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Models: diversity and BPR
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Item features and cold items
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Scale: reads
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Scale: writes
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Fixes
-------------------------------------------------------------------------------

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
	IF attribution IS NULL OR attribution <= '0' THEN
		RAISE EXCEPTION 'attribution must be a positive interval, not %', coalesce(attribution::text, 'NULL')
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
	PERFORM recsys._experiment_check_models(e, e.variants);
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

CREATE OR REPLACE FUNCTION recsys.experiment_daily(experiment text, alpha double precision DEFAULT 0.05)
RETURNS TABLE (variant text, day date, users bigint, conversions bigint, conversion double precision,
			   conversion_low double precision, conversion_high double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e recsys.experiments := recsys._experiment(experiment);
	z double precision;
BEGIN
	IF alpha IS NULL OR NOT (alpha > 0 AND alpha < 0.5) THEN
		RAISE EXCEPTION 'alpha must be above 0 and below 0.5, not %', coalesce(alpha::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	z := recsys._norm_quantile(1 - alpha / 2);
	RETURN QUERY
	WITH users AS (
		-- (the experiment's variants: not a grantee's row of another name)
		SELECT * FROM recsys._experiment_users(e.name) u
		WHERE u.variant IN (SELECT x ->> 'name' FROM jsonb_array_elements(e.variants) x UNION ALL SELECT 'holdout')
	), days AS (
		-- from the first exposure to the last impression or outcome, but
		-- no further than the last impression's attribution window: an
		-- outcome logged years ahead is no reason for as many days
		SELECT d::date AS day
		FROM (SELECT min(i.shown_at) AS first_shown, max(i.shown_at) AS last_shown
			  FROM recsys.experiment_impressions i WHERE i.experiment = e.name) b,
			 generate_series(b.first_shown::date,
							 greatest(b.last_shown,
									  least((SELECT max(o.at) FROM recsys.experiment_outcomes o
											 WHERE o.experiment = e.name),
											b.last_shown + e.attribution))::date, '1 day') d
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
				  AND i.variant IN (a, b)
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
				WHERE i.experiment = e.name AND i.variant IN (a, b)) AS n,
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
