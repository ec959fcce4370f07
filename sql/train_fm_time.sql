-- recsys.train_fm(..., last_basket_weight, recent_weight, recent_window):
-- time features of the re-ranking, each standardised over the pool and
-- added with its weight: the base's score from the user's last basket
-- alone, and each item's recent sales (ln(1 + its rows in the last
-- recent_window of the source))
CREATE SCHEMA fm_time_test;
SET search_path = fm_time_test, public;
SET extra_float_digits = 0;

-- Known by construction (days as seconds, ts):
-- * items 1-3 and 6 are bought together by users 101-130 (day 10), and
--   items 4 and 5 by users 131-160 (day 10);
-- * users 1-20 bought items 1, 2, 3 on day 1 and item 4 alone on day 50
--   (their last basket): their whole history points to item 6, their
--   last basket to item 5;
-- * item 7 is sold to users 201-210 on day 10, item 8 to users 211-213 on
--   day 99: item 8 is the one in season (recently sold), item 7 the
--   more popular.
CREATE TABLE buys (user_id int, item_id int, ts bigint);
INSERT INTO buys
SELECT u, i, 10 * 86400 FROM generate_series(101, 130) u, unnest(ARRAY[1, 2, 3, 6]) i
UNION ALL SELECT u, i, 10 * 86400 FROM generate_series(131, 160) u, unnest(ARRAY[4, 5]) i
UNION ALL SELECT u, i, 86400 FROM generate_series(1, 20) u, unnest(ARRAY[1, 2, 3]) i
UNION ALL SELECT u, 4, 50 * 86400 FROM generate_series(1, 20) u
UNION ALL SELECT u, 7, 10 * 86400 FROM generate_series(201, 210) u
UNION ALL SELECT u, 8, 99 * 86400 FROM generate_series(211, 213) u;
SELECT (recsys.train_item_knn('buys', model => 'ft_base', neighbors => 10, time_col => 'ts',
							  half_life => '1000 days')).name;
-- the base alone: item 6 first for users 1-20
SELECT r.item_id, count(*) FROM generate_series(1, 20) u, LATERAL recsys.recommend(u, 1, model => 'ft_base') r
GROUP BY 1 ORDER BY 1;

-- the FM's own score barely counts (weights 1000 on the time features)
SELECT name, params->>'last_basket_weight' AS last_basket_weight, params->'recent_weight' AS recent_weight
FROM recsys.train_fm('buys', 'ft_base', model => 'ft_basket', factors => 2, epochs => 2, base_weight => 0,
					 last_basket_weight => 1000, pool => 8);
SELECT (recsys.train_fm('buys', 'ft_base', model => 'ft_recent', factors => 2, epochs => 2, base_weight => 0,
						time_col => 'ts', context => false, recent_weight => 1000,
						recent_window => '7 days', pool => 8)).params->>'recent_window_seconds' AS recent_window_seconds;
SELECT (recsys.train_fm('buys', 'ft_base', model => 'ft_plain', factors => 2, epochs => 2, base_weight => 1000,
						pool => 8)).params ? 'recent_weight' AS has_recent_weight;
-- the items' recent sales as stored: item 8's 3 rows only (ln 4; the
-- others' latest rows are 49 and more days before the latest, day 99)
SELECT shape, (SELECT array_agg(round(v::numeric, 4)) FROM unnest(value) v WHERE v <> 0) AS nonzero
FROM recsys.model_parameters WHERE model = 'ft_recent' AND name = 'item_recent';

-- users 1-20: the last basket puts item 5 first (the plain re-ranker and
-- the base: item 6); the recent sales put item 8 first for users 101-130
-- (the plain re-ranker: another)
SELECT m AS model, r.item_id, count(*)
FROM unnest(ARRAY['ft_basket', 'ft_plain']) m, generate_series(1, 20) u,
	 LATERAL recsys.recommend(u, 1, model => m) r
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT m AS model, count(*) FILTER (WHERE r.item_id = 8) AS item_8_first, count(*) AS users
FROM unnest(ARRAY['ft_recent', 'ft_plain']) m, generate_series(101, 130) u,
	 LATERAL recsys.recommend(u, 1, model => m) r
GROUP BY 1 ORDER BY 1;
-- the feature in the scores, known by construction: the users' last
-- basket (item 4) reaches item 5 alone among the pool's items (items 6-8
-- are no neighbours of item 4), so with weight 1000 item 5 scores about
-- 1000 * sqrt(n - 1) and the others about -1000 / sqrt(n - 1) over a pool
-- of n (the FM's own standardised score adds less than sqrt(n - 1)); an
-- item the basket does not reach counts 0, not NaN (before: one NaN in
-- the pool turned the feature off for the user).  Weight 0: all scores
-- within +-sqrt(n - 1).
SELECT (recsys.train_fm('buys', 'ft_base', model => 'ft_nobasket', factors => 2, epochs => 2,
						base_weight => 0, pool => 8)).name;
SELECT m AS model, r.item_id, round((r.score / 1000)::numeric, 1) AS score_thousands, count(*) AS users
FROM unnest(ARRAY['ft_basket', 'ft_nobasket']) m, generate_series(1, 20) u,
	 LATERAL recsys.recommend(u, 8, model => m) r
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
-- without exclude_seen the basket's own item is in the pool and is not
-- its own neighbour (NaN before): item 5 still gains
SELECT m AS model, r.item_id, round((r.score / 1000)::numeric, 1) AS score_thousands
FROM unnest(ARRAY['ft_basket', 'ft_nobasket']) m,
	 LATERAL recsys.recommend(1, 8, model => m, exclude_seen => false) r
ORDER BY 1, 2;
-- a user the base's source does not know: no last basket, no error
SELECT count(*) FROM recsys.recommend(999, 3, model => 'ft_basket');
-- without exclude_seen the last basket is still read (and the user's own
-- items may come back)
SELECT r.item_id FROM recsys.recommend(1, 1, model => 'ft_basket', exclude_seen => false) r;

-- errors
SELECT recsys.train_fm('buys', 'ft_base', model => 'ft_err', last_basket_weight => NULL);
SELECT recsys.train_fm('buys', 'ft_base', model => 'ft_err', last_basket_weight => 1001);
SELECT recsys.train_fm('buys', 'ft_base', model => 'ft_err', recent_weight => NULL);
SELECT recsys.train_fm('buys', 'ft_base', model => 'ft_err', recent_weight => -1001);
SELECT recsys.train_fm('buys', 'ft_base', model => 'ft_err', recent_weight => 'NaN');
SELECT recsys.train_fm('buys', 'ft_base', model => 'ft_err', recent_weight => 1);
SELECT recsys.train_fm('buys', 'ft_base', model => 'ft_err', time_col => 'ts', recent_weight => 1,
					   recent_window => '0.5 seconds');
SELECT recsys.train_fm('buys', 'ft_base', model => 'ft_err', time_col => 'ts', recent_weight => 1,
					   recent_window => NULL);
-- a base without interaction times has no last basket
SELECT (recsys.train_item_knn('buys', model => 'ft_untimed', neighbors => 10)).name;
SELECT recsys.train_fm('buys', 'ft_untimed', model => 'ft_err', last_basket_weight => 1);
-- nor when the base is retrained without them after the re-ranker
SELECT (recsys.train_item_knn('buys', model => 'ft_base', neighbors => 10)).name;
SELECT * FROM recsys.recommend(1, 1, model => 'ft_basket');
SELECT count(*) FROM recsys.recommend(1, 1, model => 'ft_recent');
SELECT (recsys.train_item_knn('buys', model => 'ft_base', neighbors => 10, time_col => 'ts',
							  half_life => '1000 days')).name;
SELECT r.item_id FROM recsys.recommend(1, 1, model => 'ft_basket') r;
-- damaged params or parameters are reported, not served
UPDATE recsys.models SET params = params || '{"recent_weight": "x"}' WHERE name = 'ft_recent';
SELECT * FROM recsys.recommend(101, 1, model => 'ft_recent');
UPDATE recsys.models SET params = params || '{"recent_weight": 1}' WHERE name = 'ft_recent';
SELECT r.item_id FROM recsys.recommend(101, 1, model => 'ft_recent') r;
UPDATE recsys.models SET params = params || '{"last_basket_weight": 2000}' WHERE name = 'ft_basket';
SELECT * FROM recsys.recommend(1, 1, model => 'ft_basket');
-- a weight too small for a real (train_fm takes it) is 0, not a cast's
-- error (before: "... is out of range for type real" with the query as
-- context); a number out of range or not a number is damaged, XX001
\set VERBOSITY sqlstate
UPDATE recsys.models SET params = params || '{"last_basket_weight": 1e-50}' WHERE name = 'ft_basket';
SELECT r.item_id FROM recsys.recommend(1, 1, model => 'ft_basket') r;
UPDATE recsys.models SET params = params || '{"last_basket_weight": 1, "base_weight": -1e-50}'
WHERE name = 'ft_basket';
SELECT r.item_id FROM recsys.recommend(1, 1, model => 'ft_basket') r;
UPDATE recsys.models SET params = params || '{"base_weight": 1e400}' WHERE name = 'ft_basket';
SELECT * FROM recsys.recommend(1, 1, model => 'ft_basket');
UPDATE recsys.models SET params = params || '{"base_weight": 0, "recent_weight": 1e-50}' WHERE name = 'ft_recent';
SELECT count(*) FROM recsys.recommend(101, 1, model => 'ft_recent');
UPDATE recsys.models SET params = params || '{"recent_weight": 1}' WHERE name = 'ft_recent';
\set VERBOSITY default
SELECT (recsys.train_fm('buys', 'ft_base', model => 'ft_tiny', factors => 2, epochs => 2, base_weight => 1e-50,
						last_basket_weight => 1e-50, time_col => 'ts', context => false,
						recent_weight => -1e-50)).name;
SELECT count(*) FROM recsys.recommend(1, 1, model => 'ft_tiny');
-- a model with recent_weight whose item_recent row went missing is damaged
DELETE FROM recsys.model_parameters WHERE model = 'ft_recent' AND name = 'item_recent';
UPDATE recsys.models SET trained_at = clock_timestamp() WHERE name = 'ft_recent';
SELECT * FROM recsys.recommend(101, 1, model => 'ft_recent');

-- NaN and infinite times are refused with time_col (before: NaN trained
-- as no time or failed in to_timestamp, infinities silently dropped)
CREATE TABLE odd_times (user_id int, item_id int, ts float8);
INSERT INTO odd_times SELECT user_id, item_id, ts FROM buys;
UPDATE odd_times SET ts = 'NaN' WHERE user_id = 1 AND item_id = 4;
SELECT recsys.train_fm('odd_times', 'ft_base', model => 'ft_err', time_col => 'ts', context => false);
UPDATE odd_times SET ts = 'Infinity' WHERE user_id = 1 AND item_id = 4;
SELECT recsys.train_fm('odd_times', 'ft_base', model => 'ft_err', time_col => 'ts', context => false);
SELECT count(*) AS not_trained FROM recsys.models WHERE name = 'ft_err';

SELECT recsys.drop_model(m) FROM unnest(ARRAY['ft_basket', 'ft_nobasket', 'ft_tiny', 'ft_recent', 'ft_plain', 'ft_base', 'ft_untimed']) m;
DROP SCHEMA fm_time_test CASCADE;
