-- simulate.sql - simulated shoppers for recsys's online experiments.
--
-- Needs the demo shop with its users' tastes (SHOP_TASTES=1 bash
-- test/tools/load_shop.sh EVENTS SEED: shop.tastes, written by shopgen.c
-- from the same generative model as the events) and the recsys extension.
-- Creates schema sim:
--
--   sim.visit(experiment, user_id, k)       one visit (A/B or interleaved)
--   sim.run(experiment, seed, batch, k, visits)  every shop user comes
--       (visits times, seeing the same list), in an order drawn from the
--       seed; after each batch of users, one row
--       of the results so far (A/B: the first non-control variant against
--       control; interleaving: the sign test)
--   sim.aa(model, runs, k)                  A/A tests, one per seed, set-based
--
-- The shopper: shown k items, the user clicks the item in position i with
-- probability min(0.95, a * 0.25 * r / (r + 10) * 0.9^(i - 1)), where a is
-- the user's activity level in the generator (log-normal: some users
-- browse and click far more than others) and r the item's appeal to the
-- user times the number of products (1: an average item; the user's
-- preferred brands and categories reach 10-100), and buys a clicked item
-- with the generator's own purchase probability for that user and item
-- (shop.tastes.buy), for its price.  Every draw comes from random() after
-- setseed, so a run is a function of its seed.

SET client_min_messages = warning;
DROP SCHEMA IF EXISTS sim CASCADE;
CREATE SCHEMA sim;
RESET client_min_messages;

-- probability that a user clicks an item shown at a position
CREATE FUNCTION sim.click_probability(appeal double precision, activity double precision,
									   n_products bigint, pos integer)
RETURNS double precision
LANGUAGE sql IMMUTABLE
AS $$
	SELECT least(0.95, coalesce(activity, 1) * 0.25 * (coalesce(appeal, 0) * n_products)
						/ (coalesce(appeal, 0) * n_products + 10) * 0.9 ^ (pos - 1))
$$;

-- the user's reaction to a list: log clicks and purchases
CREATE FUNCTION sim.react(experiment text, user_id bigint, items bigint[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
	n_products bigint := (SELECT count(*) FROM shop.products);
	t record;
BEGIN
	FOR t IN
		SELECT s.item_id, s.pos, coalesce(x.appeal, 0) AS appeal, coalesce(x.buy, 0) AS buy, p.price,
			   (SELECT a.activity FROM shop.tastes a WHERE a.user_id = react.user_id LIMIT 1) AS activity
		FROM unnest(items) WITH ORDINALITY AS s(item_id, pos)
		LEFT JOIN shop.tastes x ON x.user_id = react.user_id AND x.product_id = s.item_id
		LEFT JOIN shop.products p ON p.product_id = s.item_id
		ORDER BY s.pos
	LOOP
		IF random() < sim.click_probability(t.appeal, t.activity, n_products, t.pos::integer) THEN
			PERFORM recsys.log_outcome(experiment, user_id, 'click', t.item_id);
			IF random() < t.buy THEN
				PERFORM recsys.log_outcome(experiment, user_id, 'conversion', t.item_id, t.price::float8);
			END IF;
		END IF;
	END LOOP;
END
$$;

-- one visit: the user is served (A/B: its variant; interleaving: the
-- mixed list) and reacts
CREATE FUNCTION sim.visit(experiment text, user_id bigint, k integer DEFAULT 10)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
	PERFORM sim.react(experiment, user_id, CASE
		WHEN (SELECT e.design FROM recsys.experiments e WHERE e.name = experiment) = 'interleaving' THEN
			ARRAY(SELECT r.item_id FROM recsys.recommend_interleaved(experiment, user_id, k) r ORDER BY r.position)
		ELSE
			ARRAY(SELECT r.item_id FROM recsys.recommend_for_experiment(experiment, user_id, k) r ORDER BY r.position)
		END);
END
$$;

CREATE FUNCTION sim.run(experiment text, seed double precision, batch integer DEFAULT 20, k integer DEFAULT 10,
						visits integer DEFAULT 1)
RETURNS TABLE (users bigint, ctr_p double precision, conversion_p double precision,
			   p_always_valid double precision, sign_p double precision, verdict text)
LANGUAGE plpgsql
AS $$
DECLARE
	interleaved boolean := (SELECT e.design = 'interleaving' FROM recsys.experiments e WHERE e.name = experiment);
	u bigint;
	n bigint := 0;
BEGIN
	PERFORM setseed(seed);
	FOR u IN SELECT s.user_id FROM shop.users s ORDER BY md5(seed::text || ':' || s.user_id), s.user_id LOOP
		FOR v IN 1..visits LOOP
			PERFORM sim.visit(experiment, u, k);
		END LOOP;
		n := n + 1;
		IF n % batch = 0 THEN
			IF interleaved THEN
				RETURN QUERY SELECT n, NULL::float8, NULL::float8, NULL::float8, r.p_value, r.verdict
				FROM recsys.interleaving_results(experiment) r;
			ELSE
				RETURN QUERY SELECT n, r.ctr_p, r.conversion_p, r.p_always_valid, NULL::float8, r.verdict
				FROM recsys.experiment_results(experiment, metric => 'ctr') r WHERE NOT r.is_control
				ORDER BY r.variant LIMIT 1;
			END IF;
			-- the draws of the results' own functions must not shift the users'
			PERFORM setseed(((n * 7919 + seed * 1e6)::bigint % 1000000) / 1e6);
		END IF;
	END LOOP;
END
$$;

-- A/A tests: both arms serve the same model; each run hashes the users
-- with its own salt and draws its own clicks.  The lists are served once
-- (they are the same in every run); impressions and outcomes go in by set.
-- Returns one row per run: the fixed-horizon p-values and the verdict.
CREATE FUNCTION sim.aa(model text, runs integer DEFAULT 200, k integer DEFAULT 10)
RETURNS TABLE (run integer, ctr_p double precision, conversion_p double precision,
			   p_always_valid double precision, verdict text)
LANGUAGE plpgsql
AS $$
DECLARE
	n_products bigint := (SELECT count(*) FROM shop.products);
BEGIN
	CREATE TEMP TABLE IF NOT EXISTS sim_lists AS
	SELECT u.user_id, r.item_id, r.pos::integer AS pos, coalesce(x.appeal, 0) AS appeal,
		   coalesce(x.buy, 0) AS buy, p.price::float8 AS price,
		   (SELECT a.activity FROM shop.tastes a WHERE a.user_id = u.user_id LIMIT 1) AS activity
	FROM shop.users u
	CROSS JOIN LATERAL recsys.recommend(u.user_id, k, model) WITH ORDINALITY AS r(item_id, score, reason, pos)
	LEFT JOIN shop.tastes x ON x.user_id = u.user_id AND x.product_id = r.item_id
	LEFT JOIN shop.products p ON p.product_id = r.item_id;
	FOR run IN 1..runs LOOP
		PERFORM recsys.create_experiment('sim_aa', jsonb_build_array(
			jsonb_build_object('name', 'A', 'model', model), jsonb_build_object('name', 'B', 'model', model)),
			salt => 'aa-' || run);
		PERFORM setseed(run / (runs + 1.0));
		CREATE TEMP TABLE sim_assigned AS
		SELECT u.user_id, recsys.assign('sim_aa', u.user_id) AS variant
		FROM (SELECT DISTINCT s.user_id FROM sim_lists s) u;
		INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position)
		SELECT 'sim_aa', a.variant, l.user_id, l.item_id, l.pos FROM sim_lists l JOIN sim_assigned a USING (user_id);
		DROP TABLE sim_assigned;
		CREATE TEMP TABLE sim_clicks AS
		SELECT l.*, random() < sim.click_probability(l.appeal, l.activity, n_products, l.pos) AS clicked, random() AS draw
		FROM sim_lists l ORDER BY l.user_id, l.pos;
		INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, item_id)
		SELECT 'sim_aa', c.user_id, 'click', c.item_id FROM sim_clicks c WHERE c.clicked;
		INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, item_id, amount)
		SELECT 'sim_aa', c.user_id, 'conversion', c.item_id, c.price FROM sim_clicks c WHERE c.clicked AND c.draw < c.buy;
		DROP TABLE sim_clicks;
		RETURN QUERY SELECT run, r.ctr_p, r.conversion_p, r.p_always_valid, r.verdict
		FROM recsys.experiment_results('sim_aa', metric => 'ctr') r WHERE NOT r.is_control;
		PERFORM recsys.drop_experiment('sim_aa');
	END LOOP;
END
$$;
