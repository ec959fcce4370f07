-- A re-ranker (train_fm) leaves out the items its base's own serving
-- leaves out: with exclude_seen, what the user has in the BASE model's
-- source as well as in the FM's, even for a user the FM's source lacks.
CREATE SCHEMA fm_seen_test;
SET search_path = fm_seen_test, public;
SET extra_float_digits = 0;

-- Known by construction: item i (1-10) is bought by users 1 .. 33 - 3i,
-- so item 1 is the most popular and a popularity base ranks 1, 2, 3, ...
-- first.  The base's source also has user 100, who bought items 1, 2 and
-- 3, and a row (10, 10) that the FM's source lacks; the FM's source is
-- the rest.
CREATE TABLE fm_buys AS
SELECT u AS user_id, i AS item_id FROM generate_series(1, 30) u, generate_series(1, 10) i
WHERE u <= 33 - 3 * i;
CREATE TABLE base_buys AS
SELECT * FROM fm_buys UNION ALL VALUES (100, 1), (100, 2), (100, 3), (10, 10);

SELECT (recsys.train_popular('base_buys', model => 'fs_pop')).name;
SELECT (recsys.train_item_knn('base_buys', model => 'fs_knn', neighbors => 10)).name;
SELECT m AS model, (recsys.train_fm('fm_buys', b, model => m, factors => 4, epochs => 5, pool => 8,
									hard_negatives => 0.5, seed => 7)).n_users AS fm_users
FROM (VALUES ('fs_fm_pop', 'fs_pop'), ('fs_fm_knn', 'fs_knn')) v(m, b) ORDER BY m;

-- user 100 (in the base's source only): with exclude_seen none of items
-- 1-3 comes back from either re-ranker, as from either base itself
SELECT m AS model, count(*) AS rows, count(*) FILTER (WHERE item_id IN (1, 2, 3)) AS own_items
FROM unnest(ARRAY['fs_pop', 'fs_fm_pop', 'fs_knn', 'fs_fm_knn']) m,
	 LATERAL recsys.recommend(100, 10, model => m, exclude_seen => true)
GROUP BY m ORDER BY m;
-- without exclude_seen the pool keeps them: the popularity base's pool
-- (8 of the 10 items) holds items 1-3
SELECT count(*) FILTER (WHERE item_id IN (1, 2, 3)) AS own_items
FROM recsys.recommend(100, 10, model => 'fs_fm_pop', exclude_seen => false);
-- user 10 has items 1-7 in both sources and item 10 in the base's only:
-- with exclude_seen only items 8 and 9 are left to recommend
SELECT m AS model, bool_and(item_id <> 10) AS item_10_left_out, count(*) AS rows
FROM unnest(ARRAY['fs_fm_pop', 'fs_fm_knn']) m,
	 LATERAL recsys.recommend(10, 10, model => m, exclude_seen => true)
GROUP BY m ORDER BY m;
-- score ranks them outside the pool too (the pool's lowest minus 1)
SELECT recsys.score(100, 1, 'fs_fm_pop') =
	   (SELECT min(score) - 1 FROM recsys.recommend(100, 10, model => 'fs_fm_pop')) AS own_item_outside_pool;


-- Training draws its pool as serving does: items the FM does not know are
-- left out before the base ranks.  Item 99, which 60 other users of the
-- base's source bought, is the popularity base's first for the FM's
-- users, and the FM's source lacks it.  With pool 1 each user's pool is
-- the base's best item the FM knows (before: item 99, dropped after
-- ranking, so every pool was empty): the hard negatives come from it,
-- and the base feature "rank 1" is learnt (its weight moves from 0).
CREATE TABLE base_buys_99 AS
SELECT * FROM base_buys UNION ALL SELECT u, 99 FROM generate_series(201, 260) u;
SELECT (recsys.train_popular('base_buys_99', model => 'fs_pop99')).name;
SELECT (recsys.train_fm('fm_buys', 'fs_pop99', model => 'fs_fm99', factors => 4, epochs => 5, pool => 1,
						hard_negatives => 1, base_features => true, base_weight => 0, seed => 7)).name;
SELECT shape, value[1] <> 0 AS rank_1_learnt
FROM recsys.model_parameters WHERE model = 'fs_fm99' AND name = 'base_features';
-- and it serves the same pool: the base's best known item user 100 has
-- not bought
SELECT item_id FROM recsys.recommend(100, 5, model => 'fs_fm99', exclude_seen => true);

SELECT recsys.drop_model(m) FROM unnest(ARRAY['fs_fm_pop', 'fs_fm_knn', 'fs_fm99', 'fs_pop', 'fs_knn', 'fs_pop99']) m;
DROP SCHEMA fm_seen_test CASCADE;
