-- experiment_results and experiment_daily on degenerate data (review
-- s11, 1): no users, one user per arm, every user clicking/converting or
-- none, every amount 0 or none logged.  No mde, interval or p-value may be
-- 0, NaN or infinite where the data say nothing: NULL, and the verdict
-- says why.  mk(name, nA, xA, nB, xB, amount) logs nA and nB users with one
-- impression each, xA and xB of them clicking it and converting (amount).
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE TABLE s11e_events AS
	SELECT u AS user_id, (u * 7 + j * 13) % 50 AS item_id
	FROM generate_series(1, 100) u, generate_series(1, 4) j;
SELECT 1 FROM recsys.train_popular('s11e_events', model => 's11e_a');
SELECT 1 FROM recsys.train_popular('s11e_events', model => 's11e_b');
RESET client_min_messages;
CREATE FUNCTION s11e_mk(name text, na int, xa int, nb int, xb int, amount float8 DEFAULT 10) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM recsys.create_experiment(name,
		'[{"name": "A", "model": "s11e_a"}, {"name": "B", "model": "s11e_b"}]', salt => name);
	INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position, shown_at)
	SELECT name, CASE WHEN u <= na THEN 'A' ELSE 'B' END, u, 1, 1, '2026-01-01'
	FROM generate_series(1, na + nb) u;
	INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, item_id, amount, at)
	SELECT name, u, k, CASE WHEN k = 'click' THEN 1 END, CASE WHEN k = 'conversion' THEN amount END,
		   '2026-01-01 00:01'
	FROM generate_series(1, na + nb) u, LATERAL (VALUES ('click'), ('conversion')) x(k)
	WHERE (u <= xa OR u BETWEEN na + 1 AND na + xb);
END
$$;
-- every number column of every metric's rows: none may be NaN or infinite
CREATE FUNCTION s11e_bad(name text) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM unnest(ARRAY['ctr', 'conversion', 'revenue']) m,
		 LATERAL recsys.experiment_results(name, metric => m) r,
		 LATERAL unnest(ARRAY[r.ctr, r.ctr_low, r.ctr_high, r.ctr_p, r.conversion, r.conversion_low,
							  r.conversion_high, r.conversion_p, r.revenue_per_user, r.revenue_low,
							  r.revenue_high, r.revenue_p, r.p_always_valid, r.mde]) x
	WHERE x = 'NaN' OR x IN ('infinity', '-infinity')
$$;

-- every amount 0: revenue has no scale, so no interval of width 0, no mde
-- of 0 and no "detectable at this size: 0.00" (before: 0, 0 and that)
SELECT s11e_mk('s11e_zero_amounts', 50, 10, 50, 20, 0);
SELECT variant, revenue_per_user, revenue_low, revenue_high, revenue_p, mde, verdict
FROM recsys.experiment_results('s11e_zero_amounts', metric => 'revenue');
-- (conversion and CTR are unaffected; their mde is that of a rate)
SELECT variant, round(mde::numeric, 4) AS mde, revenue_low, revenue_high
FROM recsys.experiment_results('s11e_zero_amounts');
-- no amount logged at all: the revenue mde is no 0 either
SELECT s11e_mk('s11e_no_amounts', 50, 10, 50, 20, NULL);
SELECT variant, revenue_per_user, revenue_low, mde, verdict
FROM recsys.experiment_results('s11e_no_amounts', metric => 'revenue');
-- a paying user gives the floor its scale again: mde above 0
SELECT s11e_mk('s11e_one_payer', 50, 0, 50, 1);
SELECT variant, revenue_low, revenue_high > 0 AS high_above_0, mde > 0 AS mde_above_0, verdict
FROM recsys.experiment_results('s11e_one_payer', metric => 'revenue');

-- no users at all: no interval (before: CTR [0, 1], greatest() and least()
-- skipping the NULL rate)
SELECT s11e_mk('s11e_empty', 0, 0, 0, 0);
SELECT variant, users, ctr, ctr_low, ctr_high, conversion_low, revenue_low, mde, verdict
FROM recsys.experiment_results('s11e_empty', metric => 'ctr');
-- a variant with users against an empty control
SELECT s11e_mk('s11e_empty_control', 0, 0, 5, 2);
SELECT variant, users, ctr_low, ctr_high, round(revenue_low::numeric, 4) AS revenue_low, mde, verdict
FROM recsys.experiment_results('s11e_empty_control');

-- one user per arm: a rate's mde would be 187 points (more than the whole
-- range of a rate): NULL; revenue: too few users to estimate its variance
SELECT s11e_mk('s11e_one', 1, 0, 1, 1);
SELECT m AS metric, r.variant, r.mde, r.verdict
FROM unnest(ARRAY['conversion', 'ctr', 'revenue']) m, LATERAL recsys.experiment_results('s11e_one', metric => m) r
WHERE NOT r.is_control;
-- the same with no difference: "too few users to detect any", not an mde
SELECT s11e_mk('s11e_one_same', 1, 1, 1, 1);
SELECT m AS metric, r.variant, r.mde, r.verdict
FROM unnest(ARRAY['conversion', 'ctr', 'revenue']) m, LATERAL recsys.experiment_results('s11e_one_same', metric => m) r
WHERE NOT r.is_control;

-- everyone clicks and converts (amount 10) / nobody does: Wilson's bounds
-- are exactly 1 and 0 (before: 0.9999999999999998), mde a rate's floor
SELECT s11e_mk('s11e_all', 50, 50, 50, 50);
SELECT variant, ctr, ctr_high, conversion, conversion_high, conversion_high = 1 AS exactly_1,
	   round(mde::numeric, 4) AS mde, verdict
FROM recsys.experiment_results('s11e_all');
SELECT variant, round(mde::numeric, 4) AS mde, verdict FROM recsys.experiment_results('s11e_all', metric => 'revenue');
SELECT variant, users, conversion, conversion_high = 1 AS exactly_1 FROM recsys.experiment_daily('s11e_all');
SELECT s11e_mk('s11e_none', 50, 0, 50, 0);
SELECT variant, ctr_low, conversion_low, conversion_low = 0 AS exactly_0, round(mde::numeric, 4) AS mde, verdict
FROM recsys.experiment_results('s11e_none', metric => 'ctr');
SELECT DISTINCT variant, users, conversion_low = 0 AS exactly_0 FROM recsys.experiment_daily('s11e_none') ORDER BY 1;
-- (revenue: nobody converted, no amounts)
SELECT variant, mde, verdict FROM recsys.experiment_results('s11e_none', metric => 'revenue');

-- no NaN or infinity anywhere above
SELECT name, s11e_bad(name) AS nan_or_infinite FROM recsys.experiments WHERE name LIKE 's11e\_%' ORDER BY 1;

-- error messages name the argument, its range and the value given
-- (review s11, 5; before: "sequential must not be NULL and tau must be a
-- positive number" for either, no value for the others)
SELECT * FROM recsys.experiment_results('s11e_all', tau => 0);
SELECT * FROM recsys.experiment_results('s11e_all', tau => 'infinity');
SELECT * FROM recsys.experiment_results('s11e_all', tau => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM recsys.experiment_results('s11e_all', sequential => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT recsys.create_experiment(repeat('x', 64), '[{"name": "A"}, {"name": "B"}]');
SELECT recsys.create_experiment('s11e_bad', (SELECT jsonb_agg(jsonb_build_object('name', 'v' || i)) FROM generate_series(1, 101) i));
SELECT recsys.create_experiment('s11e_bad', '[{"name": "A"}, {"name": ""}]');
SELECT recsys.create_experiment('s11e_bad', '[{"name": "A"}, {"name": 7}]');
SELECT recsys.create_experiment('s11e_bad', '[{"name": "A"}, {"share": 1}]');
SELECT recsys.create_experiment('s11e_bad', '[{"name": "A"}, {"name": "B", "model": 7}]');
SELECT recsys.create_experiment('s11e_bad', '[{"name": "A"}, {"name": "B", "diversity": 1.5}]');
SELECT recsys.create_experiment('s11e_bad', '[{"name": "A"}, {"name": "B", "similarity_model": false}]');
SELECT recsys.create_experiment('s11e_bad', '[{"name": "A"}, {"name": "B", "exclude_seen": "yes"}]');

SET client_min_messages = warning;
SELECT count(recsys.drop_experiment(name)) FROM recsys.experiments WHERE name LIKE 's11e\_%';
SELECT recsys.drop_model('s11e_a'), recsys.drop_model('s11e_b');
DROP FUNCTION s11e_mk, s11e_bad;
DROP TABLE s11e_events;
