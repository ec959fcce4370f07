-- event_col + event_weights: one source of views, carts and purchases,
-- weighed per event type where sources are read (training and serving)
CREATE SCHEMA ev_test;
SET search_path = ev_test, public;
SET extra_float_digits = 0;

-- users 1-12 view, cart and buy items 1-8 in a fixed pattern
CREATE TABLE events (user_id int, item_id int, event text);
INSERT INTO events
SELECT u, i, e
FROM generate_series(1, 12) u, generate_series(1, 8) i,
	 LATERAL (VALUES ('view'), ('cart'), ('purchase')) v(e)
WHERE (e = 'view' AND (u + i) % 2 = 0)
   OR (e = 'cart' AND (u + i) % 3 = 0)
   OR (e = 'purchase' AND (u * i) % 5 = 1);
CREATE INDEX ON events (user_id);

-- known by construction: event weights equal the hand-written CASE the
-- demo used, as a weight column of a view: the same model, the same scores
CREATE VIEW weighted AS
SELECT user_id, item_id, CASE event WHEN 'view' THEN 1 WHEN 'cart' THEN 3 WHEN 'purchase' THEN 10 END AS w
FROM events;
SELECT name, n_users, n_items, params->>'event_col' AS event_col, params->'event_weights' AS weights
FROM recsys.train_item_knn('events', model => 'ev_knn', event_col => 'event',
						   event_weights => '{"purchase": 10, "view": 1, "cart": 3}');
SELECT version FROM recsys.train_item_knn('weighted', model => 'case_knn', weight_col => 'w');
SELECT count(*) AS same_neighbours FROM
  (SELECT item_id, neighbor_id, round(score::numeric, 5) FROM recsys.item_neighbors WHERE model = 'ev_knn'
   INTERSECT
   SELECT item_id, neighbor_id, round(score::numeric, 5) FROM recsys.item_neighbors WHERE model = 'case_knn') s;
SELECT count(*) AS neighbours FROM recsys.item_neighbors WHERE model = 'ev_knn';
-- serving weighs the user's history by the same map: identical scores
SELECT (SELECT array_agg(item_id || ':' || round(score::numeric, 4) ORDER BY score DESC, item_id)
		FROM recsys.recommend(u, 3, 'ev_knn'))
	 = (SELECT array_agg(item_id || ':' || round(score::numeric, 4) ORDER BY score DESC, item_id)
		FROM recsys.recommend(u, 3, 'case_knn')) AS same_recommendations
FROM generate_series(1, 12) u GROUP BY 1;
SELECT version FROM recsys.train_ease('events', 5, model => 'ev_ease', event_col => 'event',
									  event_weights => '{"purchase": 10, "view": 1, "cart": 3}');
SELECT version FROM recsys.train_ease('weighted', 5, model => 'case_ease', weight_col => 'w');
SELECT (SELECT array_agg(item_id || ':' || round(score::numeric, 4) ORDER BY score DESC, item_id)
		FROM recsys.recommend(u, 3, 'ev_ease'))
	 = (SELECT array_agg(item_id || ':' || round(score::numeric, 4) ORDER BY score DESC, item_id)
		FROM recsys.recommend(u, 3, 'case_ease')) AS same_recommendations
FROM generate_series(1, 12) u GROUP BY 1;
-- a blend reads the user's items as its first member does: with its event
-- weights (a view only is not excluded as seen when views weigh 0)
SELECT version FROM recsys.train_item_knn('events', model => 'ev_knn0', event_col => 'event',
										  event_weights => '{"purchase": 10, "view": 0, "cart": 3}');
SELECT params->>'event_col' AS event_col, params->'event_weights' AS weights
FROM recsys.train_blend('{ev_knn0,ev_ease}', '{1,1}', model => 'ev_blend');
SELECT array_agg(item_id ORDER BY item_id) AS views_only_not_excluded
FROM recsys.recommend(1, 10, 'ev_blend') WHERE item_id IN (3, 7);
SELECT version FROM recsys.train_cf('events', 4, model => 'ev_als', iterations => 5, event_col => 'event',
									event_weights => '{"purchase": 10, "view": 1, "cart": 3}');
SELECT version FROM recsys.train_cf('weighted', 4, model => 'case_als', iterations => 5, weight_col => 'w');
SELECT count(*) AS users, bool_and(a.factors = b.factors) AS same_user_factors
FROM recsys.user_factors a JOIN recsys.user_factors b USING (user_id)
WHERE a.model = 'ev_als' AND b.model = 'case_als';

-- a weight column and event weights multiply: every quantity 2 doubles
-- each user's weights, so item-kNN's scores (sums of weight x similarity)
CREATE TABLE qty_events AS SELECT *, 2::real AS qty FROM events;
SELECT version FROM recsys.train_item_knn('qty_events', model => 'ev_qty', event_col => 'event', weight_col => 'qty',
										  event_weights => '{"purchase": 10, "view": 1, "cart": 3}');
SELECT bool_and(abs(q.score - 2 * c.score) < 1e-4 * c.score) AS doubled, count(*)
FROM generate_series(1, 12) u, recsys.recommend(u, 3, 'ev_qty') q
JOIN recsys.recommend(u, 3, 'case_knn') c USING (item_id);

-- a product beyond the range of real: refused in training and in serving
UPDATE qty_events SET qty = 3e38 WHERE user_id = 1 AND item_id = 1 AND event = 'purchase';
SELECT count(*) FROM recsys.recommend(1, 3, 'ev_qty');
SELECT version FROM recsys.train_item_knn('qty_events', model => 'ev_qty', event_col => 'event', weight_col => 'qty',
										  event_weights => '{"purchase": 10, "view": 1, "cart": 3}');

-- weight 0 drops a type as if its rows were not there: item 9 only viewed
INSERT INTO events VALUES (1, 9, 'view'), (2, 9, 'view');
SELECT n_items, (stats->>'rows_skipped')::int > 0 AS skipped
FROM recsys.train_item_knn('events', model => 'ev_knn', event_col => 'event',
						   event_weights => '{"purchase": 10, "view": 0, "cart": 3}');
-- and serving ignores it too: user 1 only viewed items 3 and 7, which are
-- no longer excluded as seen (they were with views of weight 1)
SELECT array_agg(item_id ORDER BY item_id) FROM recsys.recommend(1, 10, 'ev_knn') WHERE item_id IN (3, 7);
SELECT array_agg(item_id ORDER BY item_id) FROM recsys.recommend(1, 10, 'case_knn') WHERE item_id IN (3, 7);

-- serving: an event type the model was not trained with is ignored (as an
-- unknown item is): the shop keeps being served when it logs a new type
-- and its rows do not count: user 1's wishlisted item 4 is not excluded
INSERT INTO events VALUES (1, 4, 'wishlist');
SELECT count(*) AS served, count(*) FILTER (WHERE item_id = 4) AS item_4
FROM recsys.recommend(1, 10, 'ev_knn');
-- training: an event type not in the map is an error (a misspelt key would
-- drop a behaviour silently)
SELECT version FROM recsys.train_item_knn('events', model => 'ev_bad', event_col => 'event',
										  event_weights => '{"purchase": 10, "view": 1, "cart": 3}');
SELECT version FROM recsys.train_item_knn('events', model => 'ev_bad', event_col => 'event',
										  event_weights => '{"purchse": 10, "view": 1, "cart": 3, "wishlist": 0}');
-- errors of the arguments
SELECT version FROM recsys.train_item_knn('events', model => 'ev_bad', event_col => 'event');
SELECT version FROM recsys.train_item_knn('events', model => 'ev_bad', event_weights => '{"view": 1}');
SELECT version FROM recsys.train_item_knn('events', model => 'ev_bad', event_col => 'event', event_weights => '[1, 2]');
SELECT version FROM recsys.train_item_knn('events', model => 'ev_bad', event_col => 'event', event_weights => '{}');
SELECT version FROM recsys.train_item_knn('events', model => 'ev_bad', event_col => 'event', event_weights => '{"view": -1}');
-- weights are relative, at most 1000: 1e38 failed inside ALS as "not
-- positive definite", 1e6 inside EASE
SELECT version FROM recsys.train_cf('events', 4, model => 'ev_bad', event_col => 'event',
									event_weights => '{"purchase": 1e38, "view": 1, "cart": 1}');
SELECT version FROM recsys.train_ease('events', 5, model => 'ev_bad', event_col => 'event',
									  event_weights => '{"purchase": 1000.5, "view": 1, "cart": 1}');
SELECT version FROM recsys.train_ease('events', 5, model => 'ev_big', event_col => 'event',
									  event_weights => '{"purchase": 1000, "view": 1, "cart": 1, "wishlist": 0}');
SELECT recsys.drop_model('ev_big');
SELECT version FROM recsys.train_item_knn('events', model => 'ev_bad', event_col => 'event', event_weights => '{"view": "1"}');
SELECT version FROM recsys.train_item_knn('events', model => 'ev_bad', event_col => 'event', event_weights => '{"view": 0}');
SELECT version FROM recsys.train_item_knn('events', model => 'ev_bad', event_col => 'kind', event_weights => '{"view": 1}');
SELECT version FROM recsys.train_item_knn('events', model => 'ev_bad', event_col => 'item_id', event_weights => '{"view": 1}');
SELECT version FROM recsys.train_cf('events', model => 'ev_bad', feedback => 'explicit', weight_col => 'user_id',
									event_col => 'event', event_weights => '{"view": 1}');
SELECT version FROM recsys.train_item_knn('events', model => 'ev_bad', epsilon => 1, delta => 1e-6,
										  event_col => 'event', event_weights => '{"view": 1, "cart": 1, "purchase": 1, "wishlist": 1}');
SELECT count(*) AS no_bad_model FROM recsys.models WHERE name = 'ev_bad';

-- tune searches over event weights (a grid of maps) on validation data
CREATE TABLE valid AS SELECT DISTINCT user_id, item_id FROM events WHERE event = 'purchase' AND user_id % 3 = 0;
SELECT rank, params->'event_weights' AS weights, value IS NOT NULL AS scored
FROM recsys.tune('item_knn', 'events', 'valid',
				 grid => '{"event_weights": [{"view": 1, "cart": 1, "purchase": 1, "wishlist": 1},
											  {"view": 1, "cart": 3, "purchase": 10, "wishlist": 0}]}',
				 fixed => '{"event_col": "event", "neighbors": 5}', model => 'ev_tuned')
ORDER BY rank;
SELECT params->'event_weights' = (SELECT params FROM recsys.tune('item_knn', 'events', 'valid',
				 grid => '{"event_weights": [{"view": 1, "cart": 1, "purchase": 1, "wishlist": 1},
											  {"view": 1, "cart": 3, "purchase": 10, "wishlist": 0}]}',
				 fixed => '{"event_col": "event", "neighbors": 5}', model => 'ev_tuned', replace => true) WHERE rank = 1)->'event_weights'
	   AS best_kept
FROM recsys.models WHERE name = 'ev_tuned';

-- evaluate reads the training rows with the model's event weights too
SELECT metric, round(value::numeric, 4) FROM recsys.evaluate('ev_knn', 'valid', 5) WHERE metric = 'coverage@5';
-- the event column renamed after training: serving names it
ALTER TABLE events RENAME COLUMN event TO event_type;
SELECT count(*) FROM recsys.recommend(1, 3, 'ev_knn');
ALTER TABLE events RENAME COLUMN event_type TO event;

SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'ev\_%' OR name LIKE 'case\_%' ORDER BY name;
RESET search_path;
DROP SCHEMA ev_test CASCADE;
