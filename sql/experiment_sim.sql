-- The experiments on simulated shoppers (test/tools/simulate.sql): the
-- demo shop's users, with their tastes, click and buy from what they are
-- shown.  A small shop (5000 events: 200 users, 100 products); the full
-- figures are test/bench/experiments.sh's.  Outputs are facts that hold
-- whatever the floating-point details of a build: who wins, and how often
-- an A/A test cries wolf.
\set VERBOSITY terse
SET client_min_messages = warning;
\setenv PGDATABASE :DBNAME
\! SHOP_TASTES=1 bash test/tools/load_shop.sh 5000 42 >/dev/null
\set ECHO none
\i test/tools/simulate.sql
\set ECHO all
SET client_min_messages = warning;
SELECT count(*) AS users, (SELECT count(*) FROM shop.products) AS products,
	   (SELECT count(DISTINCT t.user_id) FROM shop.tastes t) AS users_with_tastes
FROM shop.users;
SELECT 1 FROM recsys.train_popular('shop.events', model => 'sim_popular', user_col => 'user_id',
								   item_col => 'product_id') \g /dev/null
SELECT 1 FROM recsys.train_cf('shop.events', 16, model => 'sim_als', user_col => 'user_id',
							  item_col => 'product_id', regularization => 5) \g /dev/null

-- A/B: ALS against popularity; every user visits twice
SELECT 1 FROM recsys.create_experiment('sim_ab',
	'[{"name": "popularity", "model": "sim_popular"}, {"name": "als", "model": "sim_als"}]', salt => 'sim-ab')
\g /dev/null
CREATE TEMP TABLE ab AS SELECT * FROM sim.run('sim_ab', 0.5, 20, visits => 2);
-- after every 20 users, a row of results
SELECT count(*) AS checks, max(users) AS users FROM ab;
-- ALS's lists get more clicks (this small shop's 200 users are too few for
-- the always-valid verdict: test/bench/experiments.sh has the figures)
SELECT variant, users > 50 AS users, impressions = 20 * users AS twenty_per_user,
	   ctr > 0 AS ctr, ctr > (SELECT r.ctr FROM recsys.experiment_results('sim_ab') r WHERE r.is_control) AS ctr_above_control,
	   verdict = 'control' OR verdict LIKE 'not significant yet%' OR verdict LIKE 'als beats%' AS verdict
FROM recsys.experiment_results('sim_ab', metric => 'ctr');
-- the log: 10 items a visit, positions 1-10, all logged
SELECT count(DISTINCT user_id) AS users, min(position), max(position),
	   count(*) = 20 * count(DISTINCT user_id) AS complete
FROM recsys.experiment_impressions WHERE experiment = 'sim_ab';

-- interleaving of the same two models: detected
SELECT 1 FROM recsys.create_experiment('sim_il',
	'[{"name": "popularity", "model": "sim_popular"}, {"name": "als", "model": "sim_als"}]',
	design => 'interleaving', salt => 'sim-il') \g /dev/null
CREATE TEMP TABLE il AS SELECT * FROM sim.run('sim_il', 0.5, 20, visits => 2);
SELECT bool_or(verdict LIKE 'als beats popularity%') AS als_detected FROM il;
SELECT wins_b > wins_a AS als_preferred, p_value < 0.05 AS significant FROM recsys.interleaving_results('sim_il');

-- A/A: 20 runs of ALS against itself, each with its own salt and draws:
-- the verdict (always-valid) says "no difference" in at least 95% (the
-- bench runs 200)
SELECT count(*) AS runs, count(*) FILTER (WHERE verdict LIKE 'not significant%') >= 19 AS no_difference_95pct,
	   count(*) FILTER (WHERE ctr_p < 0.05) <= 4 AS fixed_horizon_fp_plausible
FROM sim.aa('sim_als', 20);

SELECT recsys.drop_experiment('sim_ab'), recsys.drop_experiment('sim_il');
SELECT recsys.drop_model('sim_popular'), recsys.drop_model('sim_als');
DROP SCHEMA sim CASCADE;
DROP SCHEMA shop CASCADE;
