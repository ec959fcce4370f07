-- Online experiments: assignment, ramp-up, serving and logging, outcomes,
-- the statistics of experiment_results against values worked out by hand,
-- team-draft interleaving and its sign test, privileges, errors.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE TABLE exp_events AS
	SELECT u AS user_id, (u * 7 + j * 13) % 50 AS item_id
	FROM generate_series(1, 300) u, generate_series(1, 8) j;
SELECT 1 FROM recsys.train_popular('exp_events', model => 'exp_pop');
SELECT 1 FROM recsys.train_cf('exp_events', model => 'exp_als', factors => 4, iterations => 3);
RESET client_min_messages;

-------------------------------------------------------------------------------
-- Assignment
-------------------------------------------------------------------------------
-- (the models' recorded OIDs and identities vary from run to run: checked as present)
SELECT name, design, control, holdout,
	   (SELECT jsonb_agg(v - 'model_owner_oid' - 'model_created_at' ORDER BY o)
		FROM jsonb_array_elements(variants) WITH ORDINALITY x(v, o)) AS variants,
	   (SELECT bool_and(v ? 'model_owner_oid' AND v ? 'model_created_at') FROM jsonb_array_elements(variants) v) AS recorded,
	   run_starts, run_variants
FROM recsys.create_experiment('exp_ab',
	'[{"name": "A", "model": "exp_pop"}, {"name": "B", "model": "exp_als", "share": 1}]',
	holdout => 0.1, salt => 'exp-salt');
-- buckets: holdout 10%, then 45% / 45%, exactly
SELECT CASE WHEN a = 0 THEN 'holdout' ELSE 'variant ' || a END AS bucket_of, count(*)
FROM recsys.experiments e, unnest(recsys._experiment_buckets(e.run_starts, e.run_variants)) a
WHERE e.name = 'exp_ab' GROUP BY a ORDER BY a;
-- a keyed SHA-256: these values are the same on every server and platform
-- (sha256('exp-salt:5') begins 0x...; bucket = first 32 bits mod 10000)
SELECT recsys._experiment_bucket('exp-salt', 5) AS b5, recsys._experiment_bucket('exp-salt', 6) AS b6,
	   recsys._experiment_bucket('other-salt', 5) AS b5_other_key,
	   ('x' || left(encode(sha256('exp-salt:5'::bytea), 'hex'), 8))::bit(32)::bigint % 10000 AS by_hand;
SELECT recsys.assign('exp_ab', 5) AS user_5, recsys.assign('exp_ab', 6) AS user_6,
	   recsys.assign('exp_ab', NULL) AS nobody;
-- 4,000 users split about 10 / 45 / 45
SELECT recsys.assign('exp_ab', u) AS variant, round(count(*) / 40.0) AS percent
FROM generate_series(1, 4000) u GROUP BY 1 ORDER BY 1;

-- Ramp-up: from 90/10 to 50/50 only 40% of the users move, all from A to B
SELECT 1 FROM recsys.create_experiment('exp_ramp',
	'[{"name": "A", "model": "exp_pop", "share": 9}, {"name": "B", "model": "exp_als"}]', salt => 'ramp');
CREATE TEMP TABLE before_ramp AS
	SELECT u, recsys.assign('exp_ramp', u) AS v FROM generate_series(1, 4000) u;
SELECT 1 FROM recsys.alter_experiment('exp_ramp',
	'[{"name": "A", "model": "exp_pop"}, {"name": "B", "model": "exp_als"}]');
SELECT b.v AS was, recsys.assign('exp_ramp', b.u) AS now, round(count(*) / 40.0) AS percent
FROM before_ramp b GROUP BY 1, 2 ORDER BY 1, 2;
-- in buckets, exactly: 4000 of 10000 moved
SELECT count(*) FILTER (WHERE a.x <> b.x) AS buckets_moved
FROM unnest((SELECT recsys._experiment_buckets(run_starts, run_variants) FROM recsys.experiments
			 WHERE name = 'exp_ramp')) WITH ORDINALITY a(x, i)
JOIN unnest(recsys._experiment_allocation(NULL, NULL,
	'[{"name": "A", "share": 9}, {"name": "B", "share": 1}]', 0)) WITH ORDINALITY b(x, i) USING (i);
-- three variants, 34/33/33 -> 50/25/25: the least possible, 16% of the
-- buckets, move (contiguous ranges per variant would move 24%)
SELECT count(*) FILTER (WHERE a.x <> b.x) AS buckets_moved,
	   count(*) FILTER (WHERE a.x <> b.x AND b.x <> 1) AS not_to_the_first
FROM unnest(recsys._experiment_allocation(NULL, NULL,
	'[{"name": "A", "share": 34}, {"name": "B", "share": 33}, {"name": "C", "share": 33}]', 0))
	WITH ORDINALITY a(x, i)
JOIN unnest(recsys._experiment_allocation(
	recsys._experiment_allocation(NULL, NULL,
		'[{"name": "A", "share": 34}, {"name": "B", "share": 33}, {"name": "C", "share": 33}]', 0),
	'[{"name": "A", "share": 34}, {"name": "B", "share": 33}, {"name": "C", "share": 33}]',
	'[{"name": "A", "share": 50}, {"name": "B", "share": 25}, {"name": "C", "share": 25}]', 0))
	WITH ORDINALITY b(x, i) USING (i);
-- a new variant and a holdout take buckets from the others only; removing
-- a variant moves only its users
SELECT count(*) FILTER (WHERE a.x <> b.x) AS moved, count(*) FILTER (WHERE a.x <> b.x AND b.x NOT IN (0, 3)) AS moved_elsewhere
FROM unnest(recsys._experiment_allocation(NULL, NULL, '[{"name": "A", "share": 1}, {"name": "B", "share": 1}]', 0))
	WITH ORDINALITY a(x, i)
JOIN unnest(recsys._experiment_allocation(
	recsys._experiment_allocation(NULL, NULL, '[{"name": "A", "share": 1}, {"name": "B", "share": 1}]', 0),
	'[{"name": "A", "share": 1}, {"name": "B", "share": 1}]',
	'[{"name": "A", "share": 1}, {"name": "B", "share": 1}, {"name": "C", "share": 1}]', 0.1))
	WITH ORDINALITY b(x, i) USING (i);
SELECT 1 FROM recsys.create_experiment('exp_rm',
	'[{"name": "A"}, {"name": "B"}, {"name": "C", "share": 2}]', salt => 'rm');
CREATE TEMP TABLE before_rm AS SELECT u, recsys.assign('exp_rm', u) AS v FROM generate_series(1, 4000) u;
SELECT 1 FROM recsys.alter_experiment('exp_rm', '[{"name": "B"}, {"name": "C", "share": 2}]', control => 'B');
SELECT b.v AS was, recsys.assign('exp_rm', b.u) AS now, round(count(*) / 40.0) AS percent
FROM before_rm b GROUP BY 1, 2 ORDER BY 1, 2;

-------------------------------------------------------------------------------
-- Serving and logging
-------------------------------------------------------------------------------
-- user 6 is in A (popularity), user 5 in B (ALS): each gets its variant's
-- list, exactly what recommend gives
SELECT * FROM recsys.recommend_for_experiment('exp_ab', 6, 3);
SELECT (SELECT array_agg(item_id) FROM recsys.recommend_for_experiment('exp_ab', 5, 3))
	 = (SELECT array_agg(item_id) FROM recsys.recommend(5, 3, 'exp_als')) AS b_serves_als;
SELECT variant, user_id, item_id, position, shown_at = now() AS now
FROM recsys.experiment_impressions ORDER BY user_id, position;
-- a holdout user gets nothing, and an exposure row records it
SELECT u AS holdout_user FROM generate_series(1, 100) u WHERE recsys.assign('exp_ab', u) = 'holdout' LIMIT 1 \gset
SELECT count(*) AS shown FROM recsys.recommend_for_experiment('exp_ab', :holdout_user, 3);
SELECT variant, item_id, position FROM recsys.experiment_impressions WHERE user_id = :holdout_user;
-- log => false serves without logging; a variant's option set reaches recommend
SELECT count(*) FROM recsys.recommend_for_experiment('exp_ab', 7, 3, log => false);
SELECT 1 FROM recsys.create_experiment('exp_opts',
	'[{"name": "plain", "model": "exp_als", "share": 0.0001},
	  {"name": "diverse", "model": "exp_als", "diversity": 0.5, "similarity_model": "exp_als", "exclude_seen": false}]',
	salt => 'opts');
SELECT (SELECT array_agg(item_id ORDER BY position) FROM recsys.recommend_for_experiment('exp_opts', 6, 5, log => false))
	 = (SELECT array_agg(item_id) FROM recsys.recommend(6, 5, 'exp_als', exclude_seen => false, diversity => 0.5,
														 similarity_model => 'exp_als')) AS options_applied;
SELECT count(*) AS impressions FROM recsys.experiment_impressions WHERE experiment = 'exp_opts';
-- the log is partitioned by experiment
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'recsys.experiment_impressions'::regclass;

-------------------------------------------------------------------------------
-- Results against values computed by hand
-------------------------------------------------------------------------------
-- 1000 users per arm, conversions 100 (A) and 120 (B): the pooled rate is
-- 0.11, z = 0.02 / sqrt(0.11 * 0.89 * 2 / 1000) = 1.4293, two-sided
-- p = 0.1529; Wilson 95% intervals A [0.0829, 0.1202], B [0.1013, 0.1416];
-- MDE (80% power) = (1.95996 + 0.84162) sqrt(0.1 * 0.9 * 2 / 1000) = 0.03759;
-- users needed for +2 points: 2.80159^2 (0.09 + 0.1056) / 0.02^2 = 3838,
-- so 2839 more per arm; mSPRT (tau = 0.01) always-valid p = 0.8698, and
-- the mSPRT would need n = 4949 per arm (the first n with
-- 0.5 ln(V / (V + tau^2)) + tau^2 d^2 / (2 V (V + tau^2)) >= ln 20,
-- V = 0.1956 / n): 3949 more, 3978 on the function's 1.1% grid.
SELECT 1 FROM recsys.create_experiment('exp_stats',
	'[{"name": "A", "model": "exp_pop"}, {"name": "B", "model": "exp_als"}]', salt => 'stats');
INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position, shown_at)
SELECT 'exp_stats', CASE WHEN u <= 1000 THEN 'A' ELSE 'B' END, u, 1, 1, '2026-01-01'
FROM generate_series(1, 2000) u;
INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, at)
SELECT 'exp_stats', u, 'conversion', '2026-01-02'
FROM generate_series(1, 2000) u WHERE u BETWEEN 11 AND 110 OR u BETWEEN 1011 AND 1130;
-- outside the attribution window (7 days): not counted
SELECT recsys.log_outcome('exp_stats', 200, at => '2026-02-01');
-- before the user's first exposure: not counted
SELECT recsys.log_outcome('exp_stats', 201, at => '2025-12-31');
\x on
SELECT variant, is_control, users, conversions, round(conversion::numeric, 4) AS conversion,
	   round(conversion_low::numeric, 4) AS conversion_low, round(conversion_high::numeric, 4) AS conversion_high,
	   round(conversion_p::numeric, 4) AS conversion_p, round(p_always_valid::numeric, 4) AS p_always_valid,
	   round(mde::numeric, 5) AS mde, verdict
FROM recsys.experiment_results('exp_stats', sequential => false);
\x off
-- revenue: the first ten users of each arm, in an experiment of their own
SELECT 1 FROM recsys.create_experiment('exp_rev',
	'[{"name": "A", "model": "exp_pop"}, {"name": "B", "model": "exp_als"}]', salt => 'rev');
INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position, shown_at)
SELECT 'exp_rev', variant, user_id, 1, 1, '2026-01-01' FROM recsys.experiment_impressions
WHERE experiment = 'exp_stats' AND (user_id <= 10 OR user_id BETWEEN 1001 AND 1010);
SELECT recsys.log_outcome('exp_rev', u, amount => a, at => '2026-01-03')
FROM (VALUES (1, 10), (2, 20), (3, 5), (4, 15), (1001, 30), (1002, 25), (1003, 40), (1004, 10), (1005, 20)) v(u, a);
-- amounts A {10, 20, 5, 15} and six zeros (mean 5, variance 55.56), B {30,
-- 25, 40, 10, 20} and five zeros (mean 12.5, variance 229.17): Welch
-- t = 1.4056, df = 13.12, p = 0.1831
SELECT variant, users, revenue_per_user, round(revenue_p::numeric, 4) AS revenue_p, verdict
FROM recsys.experiment_results('exp_rev', metric => 'revenue', sequential => false);
-- the sequential verdict (the default) uses the always-valid p-value
SELECT variant, round(p_always_valid::numeric, 4) AS p_always_valid, verdict
FROM recsys.experiment_results('exp_stats');
-- a clear difference: 100 vs 200 conversions per 1000 is significant both ways
INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, at)
SELECT 'exp_stats', u, 'conversion', '2026-01-02' FROM generate_series(1131, 1210) u;
SELECT variant, conversions, round(conversion_p::numeric, 8) AS conversion_p,
	   round(p_always_valid::numeric, 6) AS p_always_valid, verdict
FROM recsys.experiment_results('exp_stats');

-- CTR with the delta method: users with 2 impressions and 0-2 clicks;
-- A: clicks {0, 1, 2, 1} of 8 shown, B: {2, 2, 1, 2} of 8 shown
SELECT 1 FROM recsys.create_experiment('exp_ctr',
	'[{"name": "A", "model": "exp_pop"}, {"name": "B", "model": "exp_als"}]', salt => 'ctr');
INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position, shown_at)
SELECT 'exp_ctr', CASE WHEN u <= 4 THEN 'A' ELSE 'B' END, u, i, i, '2026-01-01'
FROM generate_series(1, 8) u, generate_series(1, 2) i;
INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, item_id, at)
VALUES ('exp_ctr', 2, 'click', 1, '2026-01-01 00:01'), ('exp_ctr', 3, 'click', 1, '2026-01-01 00:01'),
	   ('exp_ctr', 3, 'click', 2, '2026-01-01 00:01'), ('exp_ctr', 4, 'click', 2, '2026-01-01 00:01'),
	   ('exp_ctr', 5, 'click', 1, '2026-01-01 00:01'), ('exp_ctr', 5, 'click', 2, '2026-01-01 00:01'),
	   ('exp_ctr', 6, 'click', 1, '2026-01-01 00:01'), ('exp_ctr', 6, 'click', 2, '2026-01-01 00:01'),
	   ('exp_ctr', 7, 'click', 2, '2026-01-01 00:01'), ('exp_ctr', 8, 'click', 1, '2026-01-01 00:01'),
	   ('exp_ctr', 8, 'click', 2, '2026-01-01 00:01'),
	   -- an item not shown, and a click before the impression: no credit
	   ('exp_ctr', 1, 'click', 99, '2026-01-01 00:01'), ('exp_ctr', 1, 'click', 1, '2025-12-31');
-- per-user clicks c, impressions m = 2: the ratio's delta variance is
-- var(c - r m) / (n mean(m)^2): A var{-1,0,1,0} = 2/3, / (4 * 4) = 0.041667;
-- B var{0.25,0.25,-0.75,0.25} = 0.25, / 16 = 0.015625; z = 0.375 /
-- sqrt(0.057292) = 1.5667, p = 0.1172
SELECT variant, impressions, clicks, ctr, round(ctr_low::numeric, 4) AS ctr_low,
	   round(ctr_high::numeric, 4) AS ctr_high, round(ctr_p::numeric, 4) AS ctr_p
FROM recsys.experiment_results('exp_ctr', metric => 'ctr', sequential => false);

-- cumulative conversion per day, the rows of a plot
SELECT variant, day, users, conversions, round(conversion::numeric, 3) AS conversion,
	   round(conversion_low::numeric, 4) AS low, round(conversion_high::numeric, 4) AS high
FROM recsys.experiment_daily('exp_stats') WHERE day <= '2026-01-03';

-------------------------------------------------------------------------------
-- Interleaving
-------------------------------------------------------------------------------
SELECT name, design FROM recsys.create_experiment('exp_il',
	'[{"name": "pop", "model": "exp_pop"}, {"name": "als", "model": "exp_als"}]',
	design => 'interleaving', salt => 'il');
-- team draft: every item comes from one team's list, in that list's order,
-- and after each pair of picks both teams have picked equally often
CREATE TEMP TABLE il AS SELECT u, r.* FROM generate_series(1, 40) u,
	LATERAL recsys.recommend_interleaved('exp_il', u, 6) r;
SELECT count(*) AS rows, count(DISTINCT u) AS users FROM il;
SELECT count(*) AS unbalanced FROM (
	SELECT u, p, count(*) FILTER (WHERE team = 'pop') OVER w - count(*) FILTER (WHERE team = 'als') OVER w AS lead
	FROM (SELECT u, il.position AS p, team FROM il) x WINDOW w AS (PARTITION BY u ORDER BY p)) y
WHERE abs(lead) > 1 OR (p % 2 = 0 AND lead <> 0);
SELECT count(*) AS out_of_team_order FROM (
	SELECT u, team, il.item_id, il.position,
		   lag(il.item_id) OVER (PARTITION BY u, team ORDER BY il.position) AS prev
	FROM il) x
WHERE prev IS NOT NULL AND (
	SELECT r.pos FROM recsys.recommend(x.u, 6, 'exp_' || x.team) WITH ORDINALITY r(item_id, score, reason, pos)
	WHERE r.item_id = x.prev) >
	(SELECT r.pos FROM recsys.recommend(x.u, 6, 'exp_' || x.team) WITH ORDINALITY r(item_id, score, reason, pos)
	 WHERE r.item_id = x.item_id);
SELECT count(*) AS not_from_its_team FROM il
WHERE il.item_id NOT IN (SELECT r.item_id FROM recsys.recommend(il.u, 6, 'exp_' || il.team) r);
-- the same list again: the coins are a function of (salt, user, round)
SELECT count(*) AS differs FROM il
JOIN LATERAL recsys.recommend_interleaved('exp_il', il.u, 6, log => false) r USING (position)
WHERE r.item_id <> il.item_id OR r.team <> il.team;
-- clicks: 14 users click only als items, 4 only pop items, 2 one of each
-- (a tie): sign test p = 2 P(X <= 4 | 18, 1/2) = 0.0309
SELECT recsys.log_outcome('exp_il', u, 'click', (SELECT i.item_id FROM il i WHERE i.u = c.u AND i.team = c.team
												  ORDER BY i.position LIMIT 1))
FROM (SELECT u, 'als' AS team FROM generate_series(1, 14) u
	  UNION ALL SELECT u, 'pop' FROM generate_series(15, 18) u
	  UNION ALL SELECT u, t FROM generate_series(19, 20) u, (VALUES ('als'), ('pop')) v(t)) c;
SELECT users, users_clicking, wins_a, wins_b, ties, clicks_a, clicks_b, round(preference::numeric, 3) AS preference,
	   round(p_value::numeric, 4) AS p_value, verdict
FROM recsys.interleaving_results('exp_il');

-------------------------------------------------------------------------------
-- Errors
-------------------------------------------------------------------------------
SELECT recsys.create_experiment('exp_ab', '[{"name": "A"}, {"name": "B"}]');
SELECT recsys.create_experiment('', '[{"name": "A"}, {"name": "B"}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}]');
SELECT recsys.create_experiment('x', '{"name": "A"}');
SELECT recsys.create_experiment('x', '[{"name": "A"}, 3]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "A"}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "holdout"}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"model": "exp_pop"}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B", "sahre": 1}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B", "share": 0}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B", "share": "half"}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B", "model": "no_such_model"}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B", "model": 3}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B", "diversity": 2}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B", "exclude_seen": "no"}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B", "similarity_model": 1}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B"}]', control => 'C');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B"}]', holdout => 1);
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B"}]', holdout => -0.1);
-- a bucket is 1/10000 of the users: a holdout or share leaving a variant none
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B"}]', holdout => 0.999999);
SELECT recsys.create_experiment('x', '[{"name": "A", "share": 1e-300}, {"name": "B", "share": 1e6}]');
SELECT recsys.alter_experiment('exp_ab', '[{"name": "A", "share": 1}, {"name": "B", "share": 100000}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B", "similarity_model": "no_such_model"}]');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B"}]', design => 'bandit');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B"}]', attribution => '-1 day');
SELECT recsys.create_experiment('x', '[{"name": "A"}, {"name": "B"}]', salt => '');
SELECT recsys.create_experiment('x', '[{"name": "A", "model": "exp_pop"}, {"name": "B"}]', design => 'interleaving');
SELECT recsys.create_experiment('x', '[{"name": "A", "model": "exp_pop"}, {"name": "B", "model": "exp_als"}, {"name": "C", "model": "exp_als"}]', design => 'interleaving');
SELECT recsys.assign('no_such_experiment', 1);
SELECT recsys.assign(NULL, 1);
SELECT recsys.alter_experiment('exp_ab', holdout => 1.5);
SELECT recsys.alter_experiment('exp_ab', control => 'Z');
SELECT recsys.alter_experiment('exp_ab', attribution => '0');
SELECT recsys.alter_experiment('exp_il', holdout => 0.1);
SELECT * FROM recsys.recommend_for_experiment('exp_il', 1);
SELECT * FROM recsys.recommend_for_experiment('exp_ab', NULL);
SELECT * FROM recsys.recommend_for_experiment('exp_ab', :holdout_user, 0);
SELECT * FROM recsys.recommend_for_experiment('exp_ab', 5, 0);
-- (recommend's limit, also for a variant that shows nothing)
SELECT * FROM recsys.recommend_for_experiment('exp_ab', :holdout_user, 10001);
SELECT * FROM recsys.recommend_for_experiment('exp_ab', 5, 10001);
SELECT * FROM recsys.recommend_interleaved('exp_ab', 1);
SELECT * FROM recsys.recommend_interleaved('exp_il', NULL);
SELECT recsys.log_outcome('exp_ab', 1, 'purchase');
SELECT recsys.log_outcome('exp_ab', 1, 'click');
SELECT recsys.log_outcome('exp_ab', 1, amount => -5);
SELECT recsys.log_outcome('exp_ab', 1, amount => 'NaN');
SELECT recsys.log_outcome('exp_ab', 1, amount => 1e160);
SELECT recsys.log_outcome('exp_ab', 1, amount => 1.000001e12);
INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, amount) VALUES ('exp_ab', 1, 'conversion', 1e160);
SELECT recsys.log_outcome('exp_ab', NULL);
SELECT recsys.log_outcome('no_such_experiment', 1);
SELECT * FROM recsys.experiment_results('exp_ab', metric => 'ndcg');
SELECT * FROM recsys.experiment_results('exp_ab', alpha => 0.7);
SELECT * FROM recsys.experiment_results('exp_ab', power => 1);
SELECT * FROM recsys.experiment_results('exp_ab', tau => 0);
SELECT * FROM recsys.experiment_results('exp_il');
SELECT * FROM recsys.experiment_daily('exp_ab', alpha => 0);
SELECT * FROM recsys.interleaving_results('exp_ab');
SELECT * FROM recsys.interleaving_results('exp_il', alpha => NULL);
SELECT recsys.drop_experiment('no_such_experiment');
SELECT recsys.drop_experiment('no_such_experiment', if_exists => true);
SELECT recsys.grant_experiment('exp_ab', 'no_such_role');
SELECT recsys.grant_experiment('exp_ab', NULL);

-------------------------------------------------------------------------------
-- Privileges: owned and granted like models; the log is written with the
-- caller's rights
-------------------------------------------------------------------------------
CREATE ROLE regress_recsys_exp_owner;
CREATE ROLE regress_recsys_exp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_exp_owner, regress_recsys_exp_app;
SELECT recsys.grant_model('exp_pop', 'PUBLIC'), recsys.grant_model('exp_als', 'PUBLIC');
SET ROLE regress_recsys_exp_owner;
SELECT owner, grantees FROM recsys.create_experiment('exp_priv',
	'[{"name": "A", "model": "exp_pop"}, {"name": "B", "model": "exp_als"}]', salt => 'priv');
SELECT name FROM recsys.experiments ORDER BY 1;
SET ROLE regress_recsys_exp_app;
-- not granted: the app sees no such experiment, and may not log into it
SELECT name FROM recsys.experiments ORDER BY 1;
SELECT recsys.assign('exp_priv', 1);
INSERT INTO recsys.experiment_impressions (experiment, variant, user_id) VALUES ('exp_priv', 'A', 1);
INSERT INTO recsys.experiment_impressions_0 (experiment, variant, user_id) VALUES ('exp_priv', 'A', 1);
SET ROLE regress_recsys_exp_owner;
SELECT recsys.grant_experiment('exp_priv', 'regress_recsys_exp_app');
SET ROLE regress_recsys_exp_app;
-- granted: it serves, logs (with its own rights) and reads the results
SELECT count(*) FROM recsys.recommend_for_experiment('exp_priv', 6, 3);
SELECT recsys.log_outcome('exp_priv', 6);
SELECT variant, users, conversions FROM recsys.experiment_results('exp_priv');
-- but it may not change the experiment nor erase its log
SELECT recsys.alter_experiment('exp_priv', holdout => 0.5);
SELECT recsys.drop_experiment('exp_priv');
SELECT recsys.grant_experiment('exp_priv', 'PUBLIC');
DELETE FROM recsys.experiment_impressions WHERE experiment = 'exp_priv';
UPDATE recsys.experiments SET holdout = 0.5 WHERE name = 'exp_priv';
SELECT holdout FROM recsys.experiments WHERE name = 'exp_priv';
-- nor see the other experiments' logs
SELECT DISTINCT experiment FROM recsys.experiment_impressions;
SET ROLE regress_recsys_exp_owner;
SELECT recsys.revoke_experiment('exp_priv', 'regress_recsys_exp_app');
SELECT count(*) AS rows_logged_by_app FROM recsys.experiment_impressions WHERE experiment = 'exp_priv';
SELECT recsys.drop_experiment('exp_priv');
SELECT count(*) AS rows_left FROM recsys.experiment_impressions WHERE experiment = 'exp_priv';
RESET ROLE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_exp_owner, regress_recsys_exp_app;
SELECT recsys.revoke_model('exp_pop', 'PUBLIC'), recsys.revoke_model('exp_als', 'PUBLIC');
DROP ROLE regress_recsys_exp_owner;
DROP ROLE regress_recsys_exp_app;

-------------------------------------------------------------------------------
-- An experiment serves only models its owner may use (its owner reads every
-- impression), checked at serving whatever changed since its creation: a
-- direct UPDATE of its row, a revoked grant, a dropped model whose name
-- another role took
-------------------------------------------------------------------------------
CREATE ROLE regress_recsys_fixb_alice;
CREATE ROLE regress_recsys_fixb_bob;
CREATE ROLE regress_recsys_fixb_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_fixb_alice, regress_recsys_fixb_bob, regress_recsys_fixb_app;
GRANT SELECT ON exp_events TO regress_recsys_fixb_alice, regress_recsys_fixb_bob;
SET client_min_messages = warning;
SELECT 1 FROM recsys.train_popular('exp_events', model => 'fixb_amodel');
SELECT 1 FROM recsys.train_popular('exp_events', model => 'fixb_bmodel');
SELECT 1 FROM recsys.train_popular('exp_events', model => 'fixb_shared');
SELECT 1 FROM recsys.train_popular('exp_events', model => 'fixb_gone');
RESET client_min_messages;
SELECT recsys.alter_model_owner(m, o) FROM (VALUES ('fixb_amodel', 'regress_recsys_fixb_alice'),
	('fixb_gone', 'regress_recsys_fixb_alice'), ('fixb_bmodel', 'regress_recsys_fixb_bob'),
	('fixb_shared', 'regress_recsys_fixb_bob')) v(m, o);
SET ROLE regress_recsys_fixb_bob;
-- bob gives the app his models, and alice only fixb_shared
SELECT recsys.grant_model('fixb_bmodel', 'regress_recsys_fixb_app'),
	   recsys.grant_model('fixb_shared', 'regress_recsys_fixb_app'),
	   recsys.grant_model('fixb_shared', 'regress_recsys_fixb_alice');
SET ROLE regress_recsys_fixb_alice;
SELECT recsys.grant_model('fixb_amodel', 'regress_recsys_fixb_app'),
	   recsys.grant_model('fixb_gone', 'regress_recsys_fixb_app');
-- at creation, bob's model does not exist for alice, as model or similarity_model
SELECT recsys.create_experiment('fixb_x', '[{"name": "A", "model": "fixb_amodel"}, {"name": "B", "model": "fixb_bmodel"}]');
SELECT recsys.create_experiment('fixb_x',
	'[{"name": "A", "model": "fixb_amodel"}, {"name": "B", "model": "fixb_amodel", "similarity_model": "fixb_bmodel"}]');
SELECT 1 FROM recsys.create_experiment('fixb_ab',
	'[{"name": "A", "model": "fixb_amodel"}, {"name": "B", "model": "fixb_shared"}]', salt => 'fixb');
SELECT 1 FROM recsys.create_experiment('fixb_reuse',
	'[{"name": "A", "model": "fixb_amodel"}, {"name": "B", "model": "fixb_gone"}]', salt => 'fixb');
SELECT 1 FROM recsys.create_experiment('fixb_il',
	'[{"name": "A", "model": "fixb_amodel"}, {"name": "B", "model": "fixb_shared"}]', design => 'interleaving',
	salt => 'fixb');
SELECT recsys.grant_experiment(x, 'regress_recsys_fixb_app') FROM unnest(ARRAY['fixb_ab', 'fixb_reuse', 'fixb_il']) x;
-- path 1: a direct UPDATE of the row is checked as alter_experiment's arguments
UPDATE recsys.experiments
SET variants = '[{"name": "A", "model": "fixb_bmodel", "share": 1}, {"name": "B", "model": "fixb_shared", "share": 1}]'
WHERE name = 'fixb_ab';
UPDATE recsys.experiments
SET variants = '[{"name": "A", "model": "fixb_amodel", "share": 1, "similarity_model": "fixb_bmodel"}, {"name": "B", "model": "fixb_shared", "share": 1}]'
WHERE name = 'fixb_ab';
UPDATE recsys.experiments SET variants = '[{"name": "A", "model": "fixb_amodel"}, {"name": "B"}]' WHERE name = 'fixb_ab';
UPDATE recsys.experiments SET control = 'Z' WHERE name = 'fixb_ab';
UPDATE recsys.experiments SET run_starts = '{0}', run_variants = '{3}' WHERE name = 'fixb_ab';
UPDATE recsys.experiments SET run_starts = '{0, 0}', run_variants = '{1, 2}' WHERE name = 'fixb_ab';
-- and a direct INSERT is checked for its control and allocation (its
-- models when it is served)
INSERT INTO recsys.experiments (name, design, variants, control, holdout, salt, run_starts, run_variants)
VALUES ('fixb_ins', 'ab', '[{"name": "A", "model": "fixb_amodel", "share": 1}]', 'nope', 0, 's', '{0, 5000}', '{1, 1}');
INSERT INTO recsys.experiments (name, design, variants, control, holdout, salt, run_starts, run_variants)
VALUES ('fixb_ins', 'ab', '[{"name": "A", "model": "fixb_amodel", "share": 1}]', 'A', 0, 's', '{0, 5000}', '{7, -3}');
INSERT INTO recsys.experiments (name, design, variants, control, holdout, salt, run_starts, run_variants)
VALUES ('fixb_ins', 'ab', '{"name": "A"}', 'A', 0, 's', '{0}', '{1}');
-- (a valid direct change passes)
UPDATE recsys.experiments SET control = 'B' WHERE name = 'fixb_ab';
UPDATE recsys.experiments SET control = 'A' WHERE name = 'fixb_ab';
RESET ROLE;
-- a superuser sees every model, but the owner's rights are what count
UPDATE recsys.experiments
SET variants = '[{"name": "A", "model": "fixb_bmodel", "share": 1}, {"name": "B", "model": "fixb_shared", "share": 1}]'
WHERE name = 'fixb_ab';
UPDATE recsys.experiments SET owner = 'regress_recsys_fixb_bob' WHERE name = 'fixb_ab';
SELECT u AS a_user FROM generate_series(1, 100) u WHERE recsys.assign('fixb_ab', u) = 'A' LIMIT 1 \gset
SELECT u AS b_user FROM generate_series(1, 100) u WHERE recsys.assign('fixb_ab', u) = 'B' LIMIT 1 \gset
SELECT u AS reuse_user FROM generate_series(1, 100) u WHERE recsys.assign('fixb_reuse', u) = 'B' LIMIT 1 \gset
SET ROLE regress_recsys_fixb_app;
SELECT count(*) FROM recsys.recommend_for_experiment('fixb_ab', :b_user, 3);
SELECT count(*) FROM recsys.recommend_for_experiment('fixb_reuse', :reuse_user, 3);
SELECT count(*) FROM recsys.recommend_interleaved('fixb_il', 1, 3);
-- path 2: bob takes back alice's use of fixb_shared; the app still has it
SET ROLE regress_recsys_fixb_bob;
SELECT recsys.revoke_model('fixb_shared', 'regress_recsys_fixb_alice');
SET ROLE regress_recsys_fixb_app;
SELECT count(*) FROM recsys.recommend_for_experiment('fixb_ab', :b_user, 3);
SELECT count(*) FROM recsys.recommend_for_experiment('fixb_ab', :a_user, 3);
SELECT count(*) FROM recsys.recommend_interleaved('fixb_il', 1, 3);
-- path 3: alice drops fixb_gone and bob trains a model of that name (since
-- 0.10.0 the drop is refused, 2BP01; the model given to bob instead is
-- refused at serving: it changed owner since the experiment was created)
SET ROLE regress_recsys_fixb_alice;
SELECT recsys.drop_model('fixb_gone');
RESET ROLE;
SET client_min_messages = warning;
SELECT 1 FROM recsys.train_popular('exp_events', model => 'fixb_gone');
RESET client_min_messages;
SELECT recsys.alter_model_owner('fixb_gone', 'regress_recsys_fixb_bob');
SET ROLE regress_recsys_fixb_bob;
SELECT recsys.grant_model('fixb_gone', 'regress_recsys_fixb_app');
SET ROLE regress_recsys_fixb_app;
SELECT count(*) FROM recsys.recommend_for_experiment('fixb_reuse', :reuse_user, 3);
-- alice's log holds only what was served while she could use the models
-- (before the revoke and the drop)
SET ROLE regress_recsys_fixb_alice;
SELECT experiment, variant, count(*) FROM recsys.experiment_impressions
WHERE experiment LIKE 'fixb%' GROUP BY 1, 2 ORDER BY 1, 2;
RESET ROLE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys
	FROM regress_recsys_fixb_alice, regress_recsys_fixb_bob, regress_recsys_fixb_app;
REVOKE ALL ON exp_events FROM regress_recsys_fixb_alice, regress_recsys_fixb_bob;
DROP ROLE regress_recsys_fixb_alice;
DROP ROLE regress_recsys_fixb_bob;
DROP ROLE regress_recsys_fixb_app;
-- an experiment whose owner was dropped serves nothing
DO $$
BEGIN
	PERFORM FROM recsys.recommend_for_experiment('fixb_ab', 1, 3);
EXCEPTION WHEN insufficient_privilege THEN
	RAISE NOTICE '%', regexp_replace(SQLERRM, 'OID [0-9]+', 'OID n');
END
$$;
SELECT recsys.drop_experiment(x) FROM unnest(ARRAY['fixb_ab', 'fixb_reuse', 'fixb_il']) x;
-- (the models go after the experiments that serve them: drop_model refuses before)
SELECT recsys.drop_model(m) FROM unnest(ARRAY['fixb_amodel', 'fixb_bmodel', 'fixb_shared', 'fixb_gone']) m;

-- amounts are bounded (1e12), so that the revenue statistics cannot
-- overflow: three conversions of the largest amount, conversion and
-- revenue results as by hand (A: 2 of 2 users, 1e12 each; B: 1 of 2, 5e11)
SELECT 1 FROM recsys.create_experiment('exp_big',
	'[{"name": "A", "model": "exp_pop"}, {"name": "B", "model": "exp_als"}]', salt => 'big');
INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position, shown_at)
SELECT 'exp_big', CASE WHEN u <= 2 THEN 'A' ELSE 'B' END, u, 1, 1, '2026-01-01' FROM generate_series(1, 4) u;
SELECT recsys.log_outcome('exp_big', u, amount => 1e12, at => '2026-01-02') FROM generate_series(1, 3) u;
SELECT variant, users, conversions, conversion, revenue_per_user FROM recsys.experiment_results('exp_big');
SELECT variant, revenue_per_user, revenue_low IS NOT NULL AS has_interval
FROM recsys.experiment_results('exp_big', metric => 'revenue');

-- dropping an experiment drops its log
SELECT recsys.drop_experiment(name) FROM recsys.experiments ORDER BY name;
SELECT count(*) AS impressions, (SELECT count(*) FROM recsys.experiment_outcomes) AS outcomes
FROM recsys.experiment_impressions;
SELECT recsys.drop_model('exp_pop'), recsys.drop_model('exp_als');
DROP TABLE exp_events;
