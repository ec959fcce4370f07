-- Differential privacy for train_ease and train_item_knn (epsilon, delta,
-- max_user_items, seed): argument errors, NULL epsilon is the exact model,
-- seeded noise is reproducible, the noise has the calibrated scale, and a
-- private model stores no exact count of its source.
CREATE SCHEMA dp_test;
SET search_path = dp_test, public;
SET extra_float_digits = 0;

-- users 1-100 buy from items 100-109, users 101-200 from 110-119; each misses one
CREATE TABLE purchases AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 100) + j AS item_id, 1 + (u + j) % 3 AS qty
FROM generate_series(1, 200) u, generate_series(0, 9) j
WHERE j <> u % 10;
CREATE INDEX ON purchases (user_id);

-- bad arguments, each refused with its range
SELECT recsys.train_ease('purchases', 10, model => 'e', epsilon => 0);
SELECT recsys.train_ease('purchases', 10, model => 'e', epsilon => -1);
SELECT recsys.train_ease('purchases', 10, model => 'e', epsilon => 'NaN');
SELECT recsys.train_ease('purchases', 10, model => 'e', epsilon => 'Infinity');
SELECT recsys.train_ease('purchases', 10, model => 'e', epsilon => 101);
SELECT recsys.train_ease('purchases', 10, model => 'e', epsilon => 1, delta => 0);
SELECT recsys.train_ease('purchases', 10, model => 'e', epsilon => 1, delta => 1);
SELECT recsys.train_ease('purchases', 10, model => 'e', epsilon => 1, delta => 'NaN');
SELECT recsys.train_ease('purchases', 10, model => 'e', epsilon => 1, max_user_items => 0);
SELECT recsys.train_ease('purchases', 10, model => 'e', epsilon => 1, max_user_items => 100001);
SELECT recsys.train_ease('purchases', 10, model => 'e', delta => 1e-6);
SELECT recsys.train_ease('purchases', 10, model => 'e', max_user_items => 5);
SELECT recsys.train_ease('purchases', 10, model => 'e', seed => 1);
SELECT recsys.train_ease('purchases', 10, model => 'e', epsilon => 1, weight_col => 'qty');
SELECT recsys.train_ease('purchases', 10, model => 'e', epsilon => 1, user_exponent => 0.5);
SELECT recsys.train_item_knn('purchases', 5, model => 'k', epsilon => 0);
SELECT recsys.train_item_knn('purchases', 5, model => 'k', epsilon => 1, delta => -0.5);
SELECT recsys.train_item_knn('purchases', 5, model => 'k', epsilon => 1, max_user_items => -3);
SELECT recsys.train_item_knn('purchases', 5, model => 'k', seed => 1);
SELECT recsys.train_item_knn('purchases', 5, model => 'k', epsilon => 1, weight_col => 'qty');
SELECT recsys.train_item_knn('purchases', 5, model => 'k', epsilon => 1, similarity => 'bm25');
-- nothing was stored
SELECT count(*) FROM recsys.models WHERE name IN ('e', 'k');

-- epsilon => NULL is exactly the model without privacy
SELECT (recsys.train_ease('purchases', 10, model => 'e_plain')).name;
SELECT (recsys.train_ease('purchases', 10, model => 'e_null', epsilon => NULL, delta => NULL,
						  max_user_items => NULL, seed => NULL)).name;
SELECT (recsys.train_item_knn('purchases', 5, model => 'k_plain')).name;
SELECT (recsys.train_item_knn('purchases', 5, model => 'k_null', epsilon => NULL)).name;
SELECT a.name, a.params = b.params AS same_params, a.n_users = b.n_users AND a.n_interactions = b.n_interactions AS same_counts,
	   (SELECT count(*) FROM recsys.item_neighbors x FULL JOIN recsys.item_neighbors y
		  ON x.item_id = y.item_id AND x.neighbor_id = y.neighbor_id AND x.rank = y.rank AND x.score = y.score
		  AND y.model = b.name
		WHERE x.model = a.name AND (x.item_id IS NULL OR y.item_id IS NULL)) AS differing_neighbors,
	   (SELECT count(*) FROM recsys.item_neighbors WHERE model = a.name) AS neighbors,
	   (SELECT count(*) FROM recsys.item_stats x JOIN recsys.item_stats y USING (item_id, n_users, weight_sum, popularity)
		WHERE x.model = a.name AND y.model = b.name) AS same_item_stats,
	   a.params ? 'epsilon' AS private
FROM recsys.models a JOIN recsys.models b ON b.name = replace(a.name, 'plain', 'null')
WHERE a.name IN ('e_plain', 'k_plain') ORDER BY 1;

-- a private model: the parameters of its noise, but never the seed
SELECT name, n_items, params->>'epsilon' AS epsilon, params->>'delta' AS delta,
	   params->>'max_user_items' AS max_user_items, round((params->>'sensitivity')::numeric, 6) AS sensitivity,
	   round((params->>'noise_sigma')::numeric, 5) AS sigma, params->>'seeded' AS seeded,
	   params ? 'seed' AS seed_stored, params ? 'noise_ridge' AS ridge
FROM recsys.train_ease('purchases', 10, model => 'e1', epsilon => 1, delta => 1e-5, max_user_items => 3, seed => 7);
-- sigma is the analytic Gaussian mechanism's for (1, 1e-5): 3.7306316 x sqrt(3 * 4 / 2 + 1)
SELECT round(3.730631634815941 * sqrt(7)::numeric, 5) AS expected_sigma;
-- the default delta is 1e-7, the default clip 50 items
SELECT params->>'delta' AS delta, params->>'max_user_items' AS max_user_items, params->>'seeded' AS seeded
FROM recsys.train_item_knn('purchases', 5, model => 'k1', epsilon => 2);

-- a fixed seed gives the same weights, another seed others
SELECT (recsys.train_ease('purchases', 10, model => 'e2', epsilon => 1, delta => 1e-5, max_user_items => 3, seed => 7)).name;
SELECT (recsys.train_ease('purchases', 10, model => 'e3', epsilon => 1, delta => 1e-5, max_user_items => 3, seed => 8)).name;
SELECT b.model, count(*) AS pairs, bool_and(a.score = b.score) AS all_same
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b USING (item_id, neighbor_id)
WHERE a.model = 'e1' AND b.model IN ('e2', 'e3') GROUP BY 1 ORDER BY 1;
SELECT (recsys.train_item_knn('purchases', 5, model => 'k2', epsilon => 20, max_user_items => 9, seed => 3)).name;
SELECT (recsys.train_item_knn('purchases', 5, model => 'k2', epsilon => 20, max_user_items => 9, seed => 3)).name;
SELECT count(*) AS pairs, count(*) FILTER (WHERE a.neighbor_id = b.neighbor_id AND a.score = b.score) AS same
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b USING (item_id, rank)
WHERE a.model = 'k2' AND a.version = 1 AND b.model = 'k2' AND b.version = 2;

-- no exact count of the source: the models row holds noisy user and
-- interaction counts, stats no row counts, item_stats the noisy diagonal
SELECT (recsys.train_item_knn('purchases', 5, model => 'k3', epsilon => 1, seed => 3)).name;
SELECT name, n_users <> 200 AS users_noisy, n_interactions <> 1800 AS interactions_noisy,
	   stats ? 'rows_read' AS rows_read, stats ? 'rows_skipped' AS rows_skipped
FROM recsys.models WHERE name IN ('e1', 'k3', 'e_plain') ORDER BY 1;
SELECT model, count(*) AS items, count(*) FILTER (WHERE s.n_users = 90) AS exact_n_users,
	   count(*) FILTER (WHERE s.weight_sum = 90) AS exact_weight_sum
FROM recsys.item_stats s WHERE model IN ('e1', 'k3', 'e_plain') GROUP BY 1 ORDER BY 1;

-- the noise has the calibrated scale: item_stats of a private model are the
-- noisy counts, exact count + N(0, sigma^2): 40,000 users of 2 items each
-- (sensitivity sqrt(2 * 3 / 2 + 1) = 2, sigma 7.46), about 80 users per
-- item, far above the noise, so none is clipped at 0; 1,000 items give a
-- tight check of the mean and the standard deviation
CREATE TABLE wide AS
SELECT u AS user_id, i AS item_id
FROM generate_series(1, 40000) u, LATERAL (VALUES (u % 1000), ((u / 1000 + 7 * u) % 1000)) v(i)
GROUP BY 1, 2;
CREATE TABLE wide_counts AS SELECT item_id, count(*) AS n FROM wide GROUP BY 1;
SELECT count(*) AS pairs, min(n), max(n) FROM wide_counts;
SELECT (recsys.train_item_knn('wide', 5, model => 'kw', epsilon => 1, delta => 1e-5, max_user_items => 2, seed => 11)).name;
SELECT round((params->>'noise_sigma')::numeric, 4) AS sigma, round(3.730631634815941 * 2, 4) AS expected
FROM recsys.models WHERE name = 'kw';
SELECT count(*) AS items, bool_and(s.weight_sum > 0) AS none_clipped,
	   abs(avg(s.weight_sum - c.n) / max((m.params->>'noise_sigma')::float8)) < 0.1 AS mean_near_0,
	   stddev(s.weight_sum - c.n) / max((m.params->>'noise_sigma')::float8) BETWEEN 0.93 AND 1.07 AS sd_is_sigma
FROM recsys.item_stats s JOIN recsys.models m ON m.name = s.model JOIN wide_counts c USING (item_id)
WHERE s.model = 'kw';

-- clipping: 50 users of 20 items each, clipped to 5 items, weigh
-- sqrt(5 * 6 / (20 * 21)) each; at epsilon 100 (sigma 0.06 x the
-- sensitivity) the noisy counts show it
CREATE TABLE heavy AS SELECT u AS user_id, i AS item_id FROM generate_series(1, 50) u, generate_series(1, 20) i;
SELECT (recsys.train_item_knn('heavy', 5, model => 'kh', epsilon => 100, max_user_items => 5, seed => 1)).name;
SELECT round(avg(weight_sum)::numeric, 1) AS clipped_count,
	   abs(avg(weight_sum) - 50 * sqrt(30 / 420.0)) < 0.2 AS as_expected
FROM recsys.item_stats WHERE model = 'kh';

-- at a large epsilon the private neighbours are the exact ones (each
-- item's neighbours are its own group); at a small one no noisy count
-- passes the universal threshold sigma sqrt(2 ln m): the lists are empty
-- and recommend falls back to the (noisy) popularity ranking
SELECT (recsys.train_item_knn('purchases', 5, model => 'k100', epsilon => 100, max_user_items => 9, seed => 5)).name;
SELECT (recsys.train_item_knn('purchases', 5, model => 'k01', epsilon => 0.1, max_user_items => 9, seed => 5)).name;
SELECT model, count(*) AS pairs,
	   count(*) FILTER (WHERE (item_id - 100) / 10 = (neighbor_id - 100) / 10) AS within_group
FROM recsys.item_neighbors WHERE model IN ('k100', 'k01', 'k_plain') GROUP BY 1 ORDER BY 1;
SELECT count(*) AS recommended FROM recsys.recommend(3, 5, 'k01');
-- EASE: the noise E enters the weights through (G + E + lambda I)^-1;
-- with the same seed, E = sigma Z for one Z, so at lambda 200 (where the
-- change is nearly linear in E) the weights' deviation from the exact
-- model with the same total ridge grows like sigma between epsilon 100
-- and 20, and stays small against the weights at epsilon 100
SELECT (recsys.train_ease('purchases', 200, model => 'e' || eps, epsilon => eps, max_user_items => 9, seed => 5)).name
FROM unnest(ARRAY[100, 20]) eps;
SELECT (recsys.train_ease('purchases', 200 + (params->>'noise_ridge')::float8, model => name || '_exact')).name
FROM recsys.models WHERE name IN ('e100', 'e20') ORDER BY name;
CREATE TABLE deviation AS
SELECT a.model, max((m.params->>'noise_sigma')::float8) AS sigma,
	   sqrt(avg((a.score - b.score) ^ 2)) AS rms, avg(abs(b.score)) AS mean_abs_weight
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b USING (item_id, neighbor_id)
	 JOIN recsys.models m ON m.name = a.model
WHERE b.model = a.model || '_exact' AND a.model IN ('e100', 'e20') GROUP BY 1;
SELECT round((x.rms / y.rms / (x.sigma / y.sigma))::numeric, 1) AS deviation_over_sigma_ratio,
	   y.rms < 0.1 * y.mean_abs_weight AS small_at_100, x.rms > y.rms AS larger_at_20
FROM deviation x, deviation y WHERE x.model = 'e20' AND y.model = 'e100';
-- private EASE is served like the exact one
SELECT count(*) FROM recsys.recommend(3, 5, 'e100');
-- EASE with no pair above the threshold keeps no neighbours (not lists of
-- zero weights): a user gets the noisy popularity ranking of unseen items
SELECT (recsys.train_ease('purchases', 10, model => 'e_empty', epsilon => 0.1, max_user_items => 9, seed => 2)).name;
SELECT count(*) AS neighbors FROM recsys.item_neighbors WHERE model = 'e_empty';
SELECT array_agg(r.item_id ORDER BY r.ord) =
	   (SELECT array_agg(item_id ORDER BY popularity DESC)
		FROM (SELECT item_id, popularity FROM recsys.item_stats
			  WHERE model = 'e_empty' AND item_id NOT IN (SELECT item_id FROM purchases WHERE user_id = 3)
			  ORDER BY popularity DESC LIMIT 5) x) AS popularity_order
FROM recsys.recommend(3, 5, 'e_empty') WITH ORDINALITY r(item_id, score, reason, ord);
-- popularity_exponent takes popularity from the noisy counts
SELECT params->>'popularity_exponent' AS popularity_exponent
FROM recsys.train_ease('purchases', 10, model => 'e_pop', epsilon => 1, popularity_exponent => 0.5, seed => 1);

-- an older SQL definition (0.5.0's 14 arguments) still trains, without privacy
CREATE FUNCTION dp_test.train_ease_050(source regclass, lambda float8, model text, neighbors int,
	user_col name, item_col name, weight_col name, dropout float8, user_exponent float8,
	popularity_exponent float8, time_col name, half_life interval, features regclass,
	feature_weight float8) RETURNS recsys.models
AS '$libdir/recsys', 'recsys_train_ease' LANGUAGE C;
SELECT name, params ? 'epsilon' AS private, n_users
FROM dp_test.train_ease_050('purchases', 10, 'e_old', NULL, 'user_id', 'item_id', NULL, 0, 0, 0, NULL, NULL, NULL, 0.5);

-- tune takes the privacy arguments like any other
SELECT rank, params FROM recsys.tune('item_knn', 'purchases', 'purchases', '{"max_user_items": [3, 9]}',
	fixed => '{"epsilon": 1, "seed": 1}', model => 'tuned') ORDER BY rank;

SELECT count(*) FROM (SELECT recsys.drop_model(name) FROM recsys.models) d;
DROP SCHEMA dp_test CASCADE;
