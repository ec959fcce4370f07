-- Review fixes (s10-fixr): experiment_results on degenerate arms, each
-- answer known by construction.  mk(name, nA, xA, nB, xB, clicks) logs nA
-- and nB users with one impression each, xA and xB of them converting (an
-- amount of 10) and clicking their impression (once in A, `clicks` times in B).
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE TABLE s10s_events AS
	SELECT u AS user_id, (u * 7 + j * 13) % 50 AS item_id
	FROM generate_series(1, 100) u, generate_series(1, 4) j;
SELECT 1 FROM recsys.train_popular('s10s_events', model => 's10s_a');
SELECT 1 FROM recsys.train_popular('s10s_events', model => 's10s_b');
RESET client_min_messages;
CREATE FUNCTION s10s_mk(name text, na int, xa int, nb int, xb int, clicks int DEFAULT 1) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM recsys.create_experiment(name,
		'[{"name": "A", "model": "s10s_a"}, {"name": "B", "model": "s10s_b"}]', salt => name);
	INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position, shown_at)
	SELECT name, CASE WHEN u <= na THEN 'A' ELSE 'B' END, u, 1, 1, '2026-01-01'
	FROM generate_series(1, na + nb) u;
	INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, item_id, amount, at)
	SELECT name, u, k, CASE WHEN k = 'click' THEN 1 END, CASE WHEN k = 'conversion' THEN 10 END,
		   '2026-01-01 00:01'
	FROM generate_series(1, na + nb) u, generate_series(1, clicks) c,
		 LATERAL (VALUES ('click'), ('conversion')) x(k)
	WHERE (u <= xa OR u BETWEEN na + 1 AND na + xb) AND ((k = 'click' AND u > na) OR c = 1);
END
$$;

-- Finding 1: 0 of 200 vs 200 of 200 converted.  Neither arm varies, so
-- the difference's variance is 0 and the mSPRT's Lambda is unbounded: p 0
-- and "B beats A" both ways, never "no difference seen".
SELECT s10s_mk('s10s_all', 200, 0, 200, 200);
SELECT variant, conversion, conversion_p < 1e-80 AS tiny_p, p_always_valid, verdict
FROM recsys.experiment_results('s10s_all');
SELECT variant, verdict FROM recsys.experiment_results('s10s_all', sequential => false);
-- the same as CTR and as revenue (every B user clicked, spent 10)
SELECT variant, ctr, ctr_low <= ctr AND ctr <= ctr_high AS in_interval, ctr_p < 1e-80 AS tiny_p,
	   p_always_valid, verdict
FROM recsys.experiment_results('s10s_all', metric => 'ctr');
-- (revenue: both arms without spread take the floor of review 2's
-- finding 1 below, V = 2 * 1/202 * 201/202 * 100 / 200: still certain)
SELECT variant, revenue_per_user, revenue_p, p_always_valid < 1e-80 AS tiny_p_av, verdict
FROM recsys.experiment_results('s10s_all', metric => 'revenue');
-- one user per arm: 0% vs 100% is no evidence (the variance of an arm at
-- 0% or 100% is that of (x + 1) / (n + 2) = 1/3 and 2/3: V = 4/9, so
-- ln Lambda = 0.5 ln(V / (V + 1e-4)) + 1e-4 / (2 V (V + 1e-4)) ~ 1e-4)
SELECT s10s_mk('s10s_one', 1, 0, 1, 1);
SELECT variant, users, conversion, round(p_always_valid::numeric, 4) AS p_always_valid, verdict
FROM recsys.experiment_results('s10s_one');
SELECT variant, round(p_always_valid::numeric, 4) AS p_always_valid, verdict
FROM recsys.experiment_results('s10s_one', metric => 'ctr');
-- Finding 9: the revenue of one user per arm has no variance to estimate:
-- said so, not a truncated "detectable at this size: "
SELECT variant, revenue_per_user, revenue_low, revenue_p, mde, verdict
FROM recsys.experiment_results('s10s_one', metric => 'revenue');
-- Review 2, finding 1: 2 users per arm spending 0 against 2 spending 10 are
-- no certainty.  An arm without spread takes the variance of (xr + 1) /
-- (n + 2) times the mean square paying revenue (100): 3/4 * 1/4 * 100 =
-- 18.75 in both arms, so t = 10 / sqrt(18.75 / 2 + 18.75 / 2) = 4 / sqrt(3)
-- on Welch's 2 degrees of freedom: p = 1 - t / sqrt(t^2 + 2) = 1 - 4 /
-- sqrt(22) = 0.1472 (before: p 0, "B beats A ... always valid")
SELECT s10s_mk('s10s_r2', 2, 0, 2, 2);
SELECT variant, revenue_per_user, round(revenue_p::numeric, 4) AS revenue_p,
	   round((1 - 4 / sqrt(22))::numeric, 4) AS by_hand, p_always_valid > 0.5 AS p_av_high, verdict
FROM recsys.experiment_results('s10s_r2', metric => 'revenue');
SELECT variant, verdict FROM recsys.experiment_results('s10s_r2', metric => 'revenue', sequential => false);

-- Finding 2: with the control at 0% (or 100%) the mde is not 0: the
-- control's variance is that of 1/202, mde = (1.96 + 0.8416)
-- sqrt(1/202 * 201/202 * (2/200)) = 0.019663
SELECT s10s_mk('s10s_zero', 200, 0, 200, 0);
SELECT variant, round(mde::numeric, 6) AS mde, verdict FROM recsys.experiment_results('s10s_zero');
SELECT round(((recsys._norm_quantile(0.975) + recsys._norm_quantile(0.8))
			  * sqrt(1 / 202.0 * 201 / 202.0 * 2 / 200))::numeric, 6) AS by_hand;
SELECT s10s_mk('s10s_full', 200, 200, 200, 200);
SELECT variant, round(mde::numeric, 6) AS mde, verdict FROM recsys.experiment_results('s10s_full');
-- 0% vs 10%: a difference now (the control's floor enters V), and the mde is not 0
SELECT s10s_mk('s10s_some', 200, 0, 200, 20);
SELECT variant, conversion, mde > 0.01 AS mde_above_1_point, p_always_valid < 0.05 AS significant, verdict
FROM recsys.experiment_results('s10s_some');
-- equal arms away from the edges keep their exact p of 1
SELECT s10s_mk('s10s_equal', 100, 30, 100, 30);
SELECT variant, conversion_p, p_always_valid, verdict FROM recsys.experiment_results('s10s_equal');

-- Finding 3: CTR counts clicked impressions, once each.  20 users per
-- arm with one impression; A's click once, B's log 3 click rows each for
-- the same impression: both CTRs are 1, no difference.
SELECT s10s_mk('s10s_dup', 20, 20, 20, 20, clicks => 3);
SELECT variant, impressions, clicks, ctr, ctr_low <= ctr AND ctr <= ctr_high AS in_interval,
	   ctr_high, round(p_always_valid::numeric, 4) AS p_always_valid, verdict
FROM recsys.experiment_results('s10s_dup', metric => 'ctr');
-- half the B users click, three rows each: CTR 0.5, not 1.5
SELECT s10s_mk('s10s_half', 20, 20, 20, 10, clicks => 3);
SELECT variant, impressions, clicks, ctr, ctr_low <= ctr AND ctr <= ctr_high AS in_interval, verdict
FROM recsys.experiment_results('s10s_half', metric => 'ctr', sequential => false);

-- a click goes to the latest impression of its item before it: user 1
-- saw item 1 twice and clicked after the second (1 of 2 impressions
-- clicked, not 2); user 2 clicked after each (2 of 2); user 3 clicked
-- twice after the second only (1 of 2)
SELECT 1 FROM recsys.create_experiment('s10s_twice',
	'[{"name": "A", "model": "s10s_a"}, {"name": "B", "model": "s10s_b"}]', salt => 'twice');
INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position, shown_at)
SELECT 's10s_twice', 'A', u, 1, 1, t FROM generate_series(1, 3) u,
	   unnest(ARRAY['2026-01-01 00:00', '2026-01-01 00:10']::timestamptz[]) t;
INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, item_id, at)
VALUES ('s10s_twice', 1, 'click', 1, '2026-01-01 00:11'),
	   ('s10s_twice', 2, 'click', 1, '2026-01-01 00:01'), ('s10s_twice', 2, 'click', 1, '2026-01-01 00:11'),
	   ('s10s_twice', 3, 'click', 1, '2026-01-01 00:11'), ('s10s_twice', 3, 'click', 1, '2026-01-01 00:12');
SELECT u.user_id, u.impressions, u.clicks FROM recsys._experiment_users('s10s_twice') u ORDER BY 1;
SELECT variant, impressions, clicks, ctr FROM recsys.experiment_results('s10s_twice', metric => 'ctr');
-- Review 2, finding 2: A's users 1-50 were shown item 1 three times a
-- minute apart, B's users 51-100 once; every even user clicked once at
-- 00:05: A 25 of 150 impressions clicked, B 25 of 50 (one click, one
-- impression: the latest before it)
SELECT 1 FROM recsys.create_experiment('s10s_rep',
	'[{"name": "A", "model": "s10s_a"}, {"name": "B", "model": "s10s_b"}]', salt => 'rep');
INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position, shown_at)
SELECT 's10s_rep', 'A', u, 1, 1, '2026-01-01'::timestamptz + make_interval(mins => k)
FROM generate_series(1, 50) u, generate_series(0, 2) k
UNION ALL
SELECT 's10s_rep', 'B', u, 1, 1, '2026-01-01' FROM generate_series(51, 100) u;
INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, item_id, at)
SELECT 's10s_rep', u, 'click', 1, '2026-01-01 00:05' FROM generate_series(2, 100, 2) u;
SELECT variant, users, impressions, clicks, round(ctr::numeric, 4) AS ctr
FROM recsys.experiment_results('s10s_rep', metric => 'ctr');
SELECT u.user_id, u.impressions, u.clicks FROM recsys._experiment_users('s10s_rep') u WHERE u.user_id <= 2 ORDER BY 1;

-- Finding 10: interleaving credit on a tie of shown_at goes to neither
-- team.  Users 1-3: both teams showed item 7 at the same time, then a
-- click: no credit (before: always team A, whichever row came first).
-- User 4: A showed it at 00:00, B at 00:01: B's.  User 5: B then A: A's.
SELECT 1 FROM recsys.create_experiment('s10s_il',
	'[{"name": "A", "model": "s10s_a"}, {"name": "B", "model": "s10s_b"}]', design => 'interleaving');
INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position, shown_at)
SELECT 's10s_il', v, u, 7, 1, '2026-01-01'
FROM generate_series(1, 3) u, unnest(ARRAY['A', 'B']) v
UNION ALL VALUES ('s10s_il', 'A', 4, 7, 1, '2026-01-01 00:00'::timestamptz), ('s10s_il', 'B', 4, 7, 1, '2026-01-01 00:01'),
				 ('s10s_il', 'B', 5, 7, 1, '2026-01-01 00:00'), ('s10s_il', 'A', 5, 7, 1, '2026-01-01 00:01');
INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, item_id, at)
SELECT 's10s_il', u, 'click', 7, '2026-01-01 00:02' FROM generate_series(1, 5) u;
SELECT users, users_clicking, wins_a, wins_b, ties, clicks_a, clicks_b FROM recsys.interleaving_results('s10s_il');
-- the same with B's rows inserted first: the same answer
DELETE FROM recsys.experiment_impressions WHERE experiment = 's10s_il' AND user_id <= 3;
INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position, shown_at)
SELECT 's10s_il', v, u, 7, 1, '2026-01-01' FROM generate_series(1, 3) u, unnest(ARRAY['B', 'A']) v;
SELECT users, users_clicking, wins_a, wins_b, ties, clicks_a, clicks_b FROM recsys.interleaving_results('s10s_il');

SET client_min_messages = warning;
SELECT count(recsys.drop_experiment(name)) FROM recsys.experiments WHERE name LIKE 's10s\_%';
SELECT recsys.drop_model('s10s_a'), recsys.drop_model('s10s_b');
DROP FUNCTION s10s_mk;
DROP TABLE s10s_events;
