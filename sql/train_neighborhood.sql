-- recsys.train_neighborhood: Koren's global neighbourhood model of ratings
CREATE SCHEMA nbr_test;
SET search_path = nbr_test, public;
SET extra_float_digits = 0;

-- A checkerboard of ratings: users 1-20 love items 1-5 (5 stars) and dislike
-- items 6-10 (1 star), users 21-40 the other way round.  Each user leaves
-- out one item they would love and two they would not.
CREATE TABLE ratings AS
SELECT u AS user_id, i AS item_id, CASE WHEN (u <= 20) = (i <= 5) THEN 5 ELSE 1 END::real AS rating
FROM generate_series(1, 40) u, generate_series(1, 10) i;
CREATE FUNCTION slot(u bigint) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT (u % 5)::integer';
CREATE TABLE held_out AS
SELECT * FROM ratings
WHERE (rating = 5 AND (item_id - 1) % 5 = slot(user_id))
   OR (rating = 1 AND (item_id - 1) % 5 IN ((slot(user_id) + 1) % 5, (slot(user_id) + 2) % 5));
DELETE FROM ratings r USING held_out h WHERE (r.user_id, r.item_id) = (h.user_id, h.item_id);
CREATE INDEX ON ratings (user_id);
SELECT count(*) AS train, (SELECT count(*) FROM held_out) AS held_out FROM ratings;

SELECT name, algorithm, n_users, n_items, n_interactions, params->>'neighbors' AS neighbors,
	   params->>'iterations' AS iterations, params->>'learning_rate' AS learning_rate,
	   params->>'regularization' AS regularization, params->>'shrinkage' AS shrinkage,
	   params->>'seed' AS seed, stats->>'global_mean' AS global_mean,
	   stats->>'rating_min' AS rating_min, stats->>'rating_max' AS rating_max,
	   (stats->>'neighbor_pairs')::int AS pairs
FROM recsys.train_neighborhood('ratings', 5, model => 'nb', weight_col => 'rating', iterations => 50,
							   learning_rate => 0.02, shrinkage => 10);

-- by construction: every user's first recommendation is the item they
-- would love, predicted close to 5; the others close to 1
SELECT count(*) FILTER (WHERE h.rating = 5) AS loved_first, count(*)
FROM generate_series(1, 40) u
CROSS JOIN LATERAL recsys.recommend(u, 1, 'nb') r
JOIN held_out h ON h.user_id = u AND h.item_id = r.item_id;
SELECT rating, min(recsys.score(user_id, item_id, 'nb')) > 4 AS all_above_4,
	   max(recsys.score(user_id, item_id, 'nb')) < 2 AS all_below_2
FROM held_out GROUP BY rating ORDER BY rating;
SELECT metric, value < 0.5 AS below_half_a_star
FROM recsys.evaluate('nb', 'held_out', k => 3, weight_col => 'rating')
WHERE metric IN ('rmse', 'mae') ORDER BY metric;
SELECT metric, value FROM recsys.evaluate('nb', 'held_out', k => 1, weight_col => 'rating')
WHERE metric IN ('hit_rate@1') ORDER BY metric;

-- what is stored: items with their learned bias and fixed baseline, neighbour
-- lists with w, c as a matrix, and nothing per user
SELECT count(*) AS items, bool_and(cardinality(factors) = 1) AS one_baseline_each
FROM recsys.item_factors WHERE model = 'nb';
SELECT count(*) AS user_rows FROM recsys.user_factors WHERE model = 'nb';
SELECT name, shape, cardinality(value) AS n FROM recsys.model_parameters WHERE model = 'nb';
-- an item's neighbours are its block (the users agree on them), by descending w
SELECT bool_and((item_id <= 5) = (neighbor_id <= 5)) FILTER (WHERE rank <= 4) AS top4_own_block,
	   bool_and(score > 0) FILTER (WHERE rank <= 4) AS top4_positive
FROM recsys.item_neighbors WHERE model = 'nb';
SELECT array_agg(item_id ORDER BY item_id) AS like_item_1
FROM (SELECT item_id FROM recsys.similar_items(1, 4, 'nb')) s;

-- explain: each rated item's term; with the baseline they add up to the
-- prediction (the baseline from the stored rows, by the documented formula)
CREATE FUNCTION baseline(u bigint, i bigint) RETURNS double precision LANGUAGE sql AS $$
	WITH m AS (SELECT (stats->>'global_mean')::float8 AS mu FROM recsys.models WHERE name = 'nb'),
	b AS (SELECT sum(r.rating - m.mu - f.factors[1]) / (10 + count(*)) AS base_u
		  FROM ratings r, m, recsys.item_factors f
		  WHERE r.user_id = u AND f.model = 'nb' AND f.item_id = r.item_id)
	SELECT m.mu + b.base_u + f.bias FROM m, b, recsys.item_factors f
	WHERE f.model = 'nb' AND f.item_id = i
$$;
SELECT h.user_id, h.item_id,
	   abs(baseline(h.user_id, h.item_id) + (SELECT sum(contribution) FROM recsys.explain(h.user_id, h.item_id, 100, 'nb'))
		   - recsys.score(h.user_id, h.item_id, 'nb')) < 1e-4 AS adds_up,
	   (SELECT count(*) FROM recsys.explain(h.user_id, h.item_id, 100, 'nb')) AS rated_items
FROM held_out h WHERE h.user_id IN (1, 33) ORDER BY 1, 2;
-- the loved item's largest terms come from the user's own block
SELECT e.item_id <= 5 AS from_block_a FROM recsys.explain(1, 2, 1, 'nb') e;

-- a user unknown at training time is served from their ratings as they are now
INSERT INTO ratings VALUES (100, 1, 5), (100, 6, 1), (101, 1, 1), (101, 6, 5);
SELECT u, array_agg(r.item_id <= 5 ORDER BY r.item_id) AS block_a
FROM (VALUES (100), (101)) v(u), LATERAL recsys.recommend(u, 4, 'nb') r GROUP BY u ORDER BY u;
DELETE FROM ratings WHERE user_id >= 100;
-- ... but not from what training refuses (review 2: duplicates were
-- summed, a 10-star "rating", and NaN was used): an item rated twice,
-- a rating that is not finite
INSERT INTO ratings VALUES (100, 1, 5), (100, 1, 5), (100, 6, 1);
SELECT count(*) FROM recsys.recommend(100, 4, 'nb');
SELECT recsys.score(100, 2, 'nb');
SELECT count(*) FROM recsys.explain(100, 2, 3, 'nb');
DELETE FROM ratings WHERE user_id >= 100;
INSERT INTO ratings VALUES (100, 1, 'NaN'), (100, 6, 1);
SELECT count(*) FROM recsys.recommend(100, 4, 'nb');
UPDATE ratings SET rating = 'Infinity' WHERE user_id = 100 AND item_id = 1;
SELECT recsys.score(100, 2, 'nb');
DELETE FROM ratings WHERE user_id >= 100;

-- progress: one NOTICE per epoch (the seconds go in a detail)
\set VERBOSITY terse
SELECT (recsys.train_neighborhood('ratings', 5, model => 'nb_verbose', weight_col => 'rating',
								  iterations => 2, verbose => true)).version;
\set VERBOSITY default

-- deterministic for a seed whatever recsys.threads is
SET recsys.threads = 1;
SELECT (recsys.train_neighborhood('ratings', 5, model => 'nb_seed', weight_col => 'rating', seed => 7)).version;
SET recsys.threads = 3;
SELECT (recsys.train_neighborhood('ratings', 5, model => 'nb_seed', weight_col => 'rating', seed => 7)).version;
SELECT (recsys.train_neighborhood('ratings', 5, model => 'nb_seed', weight_col => 'rating', seed => 8)).version;
RESET recsys.threads;
SELECT a.version AS v1, b.version AS v2,
	   bool_and(a.neighbor_ids = b.neighbor_ids AND a.scores = b.scores) AS same_w,
	   (SELECT x.value = y.value FROM recsys.model_parameters x, recsys.model_parameters y
		WHERE x.model = 'nb_seed' AND y.model = 'nb_seed' AND x.version = a.version AND y.version = b.version) AS same_c
FROM recsys.item_neighbor_lists a JOIN recsys.item_neighbor_lists b USING (model, item_id)
WHERE model = 'nb_seed' AND a.version = 1 AND b.version IN (2, 3)
GROUP BY a.version, b.version ORDER BY 2;

-- a blend of rating models predicts the weighted mean of their ratings
SELECT (recsys.train_cf('ratings', 2, model => 'nb_mf', feedback => 'explicit', weight_col => 'rating',
						iterations => 5)).version;
SELECT (recsys.train_blend('{nb,nb_mf}', '{3,1}', 'nb_blend')).version;
SELECT (recsys.train_blend('{nb,nb_mf}', '{1,0}', 'nb_only')).version;
CREATE TABLE one_rating AS SELECT 3::bigint AS user_id, 8::bigint AS item_id, 0::real AS rating;
SELECT abs((SELECT value FROM recsys.evaluate('nb_blend', 'one_rating', weight_col => 'rating') WHERE metric = 'mae') -
		   (3 * (SELECT value FROM recsys.evaluate('nb', 'one_rating', weight_col => 'rating') WHERE metric = 'mae') +
			(SELECT value FROM recsys.evaluate('nb_mf', 'one_rating', weight_col => 'rating') WHERE metric = 'mae')) / 4)
	   < 1e-5 AS weighted_mean;
SELECT (SELECT value FROM recsys.evaluate('nb_only', 'held_out', weight_col => 'rating') WHERE metric = 'rmse') =
	   (SELECT value FROM recsys.evaluate('nb', 'held_out', weight_col => 'rating') WHERE metric = 'rmse') AS weight_zero_drops;
-- an explicit factor model only excludes the user's items (its scores do
-- not read them): an item rated twice, or not finitely, is no reason to
-- refuse (review 3: recommend refused what score served); the
-- neighbourhood model, which scores from them, still refuses, alone or
-- in a blend
INSERT INTO ratings SELECT user_id, item_id, 4 FROM ratings WHERE user_id = 1 ORDER BY item_id LIMIT 1
RETURNING ctid AS dup, item_id AS dup_item \gset
SELECT count(*) FILTER (WHERE item_id = :dup_item) AS the_item,
	   count(*) = (SELECT count(DISTINCT item_id) FROM ratings) -
	   (SELECT count(DISTINCT item_id) FROM ratings WHERE user_id = 1) AS every_unseen_item
FROM recsys.recommend(1, 1000, 'nb_mf');
SELECT count(*) FROM recsys.recommend(1, 3, 'nb');
SELECT count(*) FROM recsys.recommend(1, 3, 'nb_blend');
UPDATE ratings SET rating = 'NaN' WHERE ctid = :'dup';
SELECT count(*) FILTER (WHERE item_id = :dup_item) AS the_item, count(*) AS served
FROM recsys.recommend(1, 3, 'nb_mf');
DELETE FROM ratings WHERE rating = 'NaN';
-- ... but not with a member that does not rate, nor with weights summing to zero
SELECT (recsys.train_popular('ratings', model => 'nb_pop')).version;
SELECT (recsys.train_blend('{nb,nb_pop}', NULL, 'nb_ranking')).version;
SELECT * FROM recsys.evaluate('nb_ranking', 'held_out', weight_col => 'rating');
SELECT (recsys.train_blend('{nb,nb_mf}', '{1,-1}', 'nb_zero')).version;
SELECT * FROM recsys.evaluate('nb_zero', 'held_out', weight_col => 'rating');
-- ... nor with a negative weight: it would extrapolate off the rating
-- scale (review 2: {1,-0.999} gave an RMSE of 362 on 1..5); it ranks
SELECT (recsys.train_blend('{nb,nb_mf}', '{1,-0.999}', 'nb_negative')).version;
SELECT * FROM recsys.evaluate('nb_negative', 'held_out', weight_col => 'rating');
SELECT count(*) AS ranked FROM recsys.recommend(1, 3, 'nb_negative');

-- what the kind does not do: anonymous sessions have no ratings
SELECT * FROM recsys.recommend_session('{1,2}', 3, 'nb');
SELECT recsys.fold_in(item_id, rating, 'nb') FROM held_out WHERE user_id = 1;

-- errors: every argument
SELECT recsys.train_neighborhood('ratings', 0, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 1001, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', NULL, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, iterations => 0, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, iterations => 1001, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, learning_rate => 0, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, learning_rate => 2, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, learning_rate => 'NaN', weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, learning_rate => NULL, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, regularization => -1, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, regularization => NULL, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, shrinkage => -1, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, shrinkage => 'Infinity', weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, seed => NULL, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, verbose => NULL, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5);
SELECT recsys.train_neighborhood('ratings', 5, weight_col => 'nosuch');
SELECT recsys.train_neighborhood(NULL, 5, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, model => NULL, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, replace => NULL, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, user_col => NULL, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, item_col => NULL, weight_col => 'rating');
SELECT recsys.train_neighborhood('ratings', 5, item_col => 'rating', weight_col => 'rating');
-- another algorithm's model is not replaced unless asked
SELECT recsys.train_neighborhood('ratings', 5, model => 'nb_mf', weight_col => 'rating');
SELECT algorithm, version FROM recsys.train_neighborhood('ratings', 5, model => 'nb_mf', weight_col => 'rating',
														 replace => true);
-- a pair rated twice
CREATE TABLE twice AS SELECT * FROM ratings UNION ALL SELECT 1, 1, 4;
SELECT recsys.train_neighborhood('twice', 5, weight_col => 'rating');
CREATE TABLE empty_ratings (user_id bigint, item_id bigint, rating real);
SELECT recsys.train_neighborhood('empty_ratings', 5, weight_col => 'rating');

-- a failed training keeps the version that serves: ratings of 1e30 make the
-- descent diverge
SELECT (recsys.train_neighborhood('ratings', 5, model => 'nb_keep', weight_col => 'rating')).version;
CREATE TABLE huge AS SELECT user_id, item_id, rating * 1e30::real AS rating FROM ratings;
SELECT recsys.train_neighborhood('huge', 5, model => 'nb_keep', weight_col => 'rating', learning_rate => 1);
SELECT version FROM recsys.models WHERE name = 'nb_keep';
SELECT count(*) FROM recsys.recommend(1, 3, 'nb_keep');

-- training stays within recsys.max_memory
CREATE TABLE wide AS SELECT u AS user_id, i AS item_id, (1 + (u + i) % 5)::real AS rating
FROM generate_series(1, 2) u, generate_series(1, 3000) i;
SET recsys.max_memory = '8MB';
SELECT recsys.train_neighborhood('wide', 1000, model => 'nb_wide', weight_col => 'rating');
RESET recsys.max_memory;

-- two roles: training reads the source with the caller's rights; a model is
-- used by another role only once granted, and then serves that role from
-- the owner's ratings without giving it the table
CREATE ROLE regress_recsys_nbr_a;
CREATE ROLE regress_recsys_nbr_b;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_nbr_a, regress_recsys_nbr_b;
GRANT USAGE ON SCHEMA nbr_test TO regress_recsys_nbr_a, regress_recsys_nbr_b;
CREATE TABLE a_ratings AS SELECT * FROM ratings;
ALTER TABLE a_ratings OWNER TO regress_recsys_nbr_a;
GRANT SELECT ON held_out TO regress_recsys_nbr_b;
SET ROLE regress_recsys_nbr_b;
SELECT recsys.train_neighborhood('a_ratings', 5, model => 'nb_b', weight_col => 'rating');
RESET ROLE;
SET ROLE regress_recsys_nbr_a;
SELECT (recsys.train_neighborhood('a_ratings', 5, model => 'nb_a', weight_col => 'rating')).version;
RESET ROLE;
SET ROLE regress_recsys_nbr_b;
SELECT count(*) FROM recsys.recommend(1, 3, 'nb_a');
RESET ROLE;
SET ROLE regress_recsys_nbr_a;
SELECT recsys.grant_model('nb_a', 'regress_recsys_nbr_b');
RESET ROLE;
SET ROLE regress_recsys_nbr_b;
SELECT count(*) FROM recsys.recommend(1, 3, 'nb_a');
SELECT metric, value < 0.5 AS below_half_a_star
FROM recsys.evaluate('nb_a', 'held_out', weight_col => 'rating') WHERE metric = 'rmse';
SELECT count(*) FROM a_ratings;
RESET ROLE;
SELECT recsys.drop_model('nb_a');

DROP SCHEMA nbr_test CASCADE;
DELETE FROM recsys.models WHERE name LIKE 'nb\_%' OR name = 'nb';
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_nbr_a, regress_recsys_nbr_b;
DROP ROLE regress_recsys_nbr_a;
DROP ROLE regress_recsys_nbr_b;
