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

-------------------------------------------------------------------------------
-- Fixes
-------------------------------------------------------------------------------

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
		-- variance at all: NULL, "too few users".
		SELECT a.*, cv.r,
			   CASE WHEN a.rev_var0 = 0
					THEN (a.xr + 1.0) / (a.n + 2) * (1 - (a.xr + 1.0) / (a.n + 2)) * coalesce(rev_sq, 0)
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
			   WHEN q.d IS NULL OR q.unit_var IS NULL OR q.dv0 IS NULL THEN
				   format('not significant yet: too few users to estimate %s''s variance (at least 2 per arm%s)',
						  metric, CASE WHEN metric = 'ctr' THEN ', with impressions' ELSE '' END)
			   WHEN q.d = 0 THEN
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
COMMENT ON FUNCTION recsys.experiment_results(text, text, double precision, double precision, boolean, double precision) IS
	'an A/B experiment''s results per variant: users, CTR, conversion, revenue per user, intervals, p-values against control, MDE and a verdict';

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
	SELECT c.weights INTO weights FROM recsys.catalogs c WHERE c.name = search.catalog;
	-- (written past the trigger: before 0.11.0, or with triggers disabled)
	IF weights IS NOT NULL AND recsys._catalog_weights_problem(weights) IS NOT NULL THEN
		RAISE EXCEPTION 'catalog "%" is damaged: %', catalog, recsys._catalog_weights_problem(weights)
			USING ERRCODE = 'data_corrupted',
				  HINT = 'Its owner may set valid weights (UPDATE recsys.catalogs SET weights = ...) or learn them with recsys.tune_search.';
	END IF;
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
	SELECT m.ids, m.bm25, m.n_users, m.positions INTO ids, bm25s, users, ends
	FROM recsys._search_matches(cat.name, tsq, terms, prefixes, cat.n_items, cat.avg_length,
								candidates, CASE WHEN cardinality(also) > 0 THEN also END,
								model, min_matches) m;
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
-- from the trigger's duplicate-id error whether an id exists.  Their
-- writes keep working; the update names them (review 2, finding 10).
DO $$
DECLARE
	list text;
BEGIN
	SELECT string_agg(format('catalog %s on %s', quote_literal(c.name), t.tgrelid::regclass), ', ' ORDER BY c.name)
	INTO list
	FROM pg_trigger t JOIN recsys.catalogs c ON t.tgname = 'recsys_catalog_' || md5(c.name)
	WHERE t.tgfoid = 'recsys._catalog_sync'::regproc AND NOT recsys._catalog_unique_id(t.tgrelid, c.id_col);
	IF list IS NOT NULL THEN
		RAISE WARNING 'search catalog triggers on tables without a unique index on the id column: %', list
			USING DETAIL = 'A role allowed only to insert products learns from the trigger''s duplicate-id error whether an id it cannot read exists.',
				  HINT = 'Add a unique index on the id column, then run recsys.catalog_trigger(catalog) again (its trigger then checks for the index whenever it fires).';
	END IF;
END
$$;
