-- recsys.train_popular: the popularity baseline, plain or time-decayed
CREATE SCHEMA popular_test;
SET search_path = popular_test, public;
SET extra_float_digits = 0;

CREATE TABLE orders (customer bigint, product bigint, qty int, ordered_at timestamptz, note text);
INSERT INTO orders VALUES
	(1, 10, 1, '2026-01-01'), (2, 10, 1, '2026-01-02'), (3, 10, 1, '2026-01-03'),	-- old favourite
	(1, 20, 1, '2026-03-01'), (2, 20, 5, '2026-03-01'),								-- recent, bulk
	(4, 30, 1, '2026-02-28'), (4, 30, 1, '2026-03-01'),								-- one user twice
	(5, NULL, 1, '2026-03-01');
CREATE INDEX ON orders (customer);

SELECT name, algorithm, n_users, n_items, n_interactions
FROM recsys.train_popular('orders', user_col => 'customer', item_col => 'product');
-- distinct users per item
SELECT item_id, n_users, weight_sum, popularity FROM recsys.item_stats WHERE model = 'default' ORDER BY item_id;
SELECT item_id, score FROM recsys.recommend(99, 3, 'default');
-- everybody gets the same list, minus what they already bought
SELECT item_id, score FROM recsys.recommend(1, 3, 'default');
SELECT recsys.score(1, 10, 'default') AS score_10;

-- time-decayed: a 30-day half-life puts the recent bulk order first
SELECT name, params->>'time_col' AS time_col, params->>'half_life_seconds' AS half_life_seconds
FROM recsys.train_popular('orders', model => 'trending', user_col => 'customer', item_col => 'product',
						  weight_col => 'qty', time_col => 'ordered_at', half_life => '30 days');
SELECT item_id, n_users, weight_sum, round(popularity::numeric, 3) AS popularity
FROM recsys.item_stats WHERE model = 'trending' ORDER BY popularity DESC;

-- an interaction thousands of half-lives old weighs almost nothing, and
-- neither underflows nor fails (0.5 ^ 1100 is below float8's range)
INSERT INTO orders VALUES (6, 40, 1, '1990-01-01');
SELECT name FROM recsys.train_popular('orders', model => 'trending_old', user_col => 'customer', item_col => 'product',
									  time_col => 'ordered_at', half_life => '1 day');
SELECT item_id, popularity > 0 AS positive, popularity < 1e-30 AS negligible
FROM recsys.item_stats WHERE model = 'trending_old' AND item_id IN (20, 40) ORDER BY item_id;
DELETE FROM orders WHERE product = 40;

-- popularity models rank but do not relate items
SELECT * FROM recsys.similar_items(10, 3, 'default');
SELECT * FROM recsys.explain(1, 10, 3, 'default');

-- errors
SELECT recsys.train_popular(NULL);
SELECT recsys.train_popular('orders', model => NULL);
SELECT recsys.train_popular('orders', user_col => 'customer', item_col => 'product', time_col => 'ordered_at');
SELECT recsys.train_popular('orders', user_col => 'customer', item_col => 'product', time_col => 'note', half_life => '1 day');
-- numbers are seconds: the same decay from epoch seconds
CREATE VIEW orders_epoch AS SELECT customer, product, qty, extract(epoch FROM ordered_at)::bigint AS t FROM orders;
SELECT (recsys.train_popular('orders_epoch', 'trending_epoch', 'customer', 'product', 'qty', 't', '30 days')).name;
SELECT a.item_id, a.popularity::numeric(10,6) = b.popularity::numeric(10,6) AS same_decay
FROM recsys.item_stats a JOIN recsys.item_stats b USING (item_id)
WHERE a.model = 'trending' AND b.model = 'trending_epoch'
ORDER BY 1;
SELECT recsys.train_popular('orders', user_col => 'customer', item_col => 'product', time_col => 'shipped_at', half_life => '1 day');
SELECT recsys.train_popular('orders', user_col => 'customer', item_col => 'product', time_col => 'ordered_at', half_life => '0 seconds');
SELECT recsys.train_popular('orders');

SELECT recsys.drop_model('default');
SELECT recsys.drop_model('trending');
RESET search_path;
DROP SCHEMA popular_test CASCADE;
