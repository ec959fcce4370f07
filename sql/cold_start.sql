-- cold start: why each recommended row is there (the reason column), and
-- the fallback's scores on the scale of the model's personalised scores,
-- for every kind
CREATE SCHEMA cold_start_test;
SET search_path = cold_start_test, public;
SET extra_float_digits = 0;

-- three blocks of 10 users x 10 items, each user missing one item of their
-- block (user u misses item 100 + 10 * ((u - 1) / 10) + u % 10); weights
-- 1..3.  Every item of the blocks has 9 users; item 130 has one (user 1).
CREATE TABLE buys AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id, 1 + j % 3 AS w
FROM generate_series(1, 30) u, generate_series(0, 9) j
WHERE j <> u % 10;
INSERT INTO buys VALUES (1, 130, 1);
CREATE INDEX ON buys (user_id);
CREATE TABLE ratings AS SELECT user_id, item_id, (1 + (user_id * 7 + item_id) % 5)::real AS stars FROM buys;
CREATE INDEX ON ratings (user_id);

SELECT (recsys.train_cf('buys', 4, model => 'cs_als', iterations => 10)).n_users;
SELECT (recsys.train_cf('buys', 4, model => 'cs_als_nousers', iterations => 10, store_users => false)).n_users;
SELECT (recsys.train_cf('ratings', 4, model => 'cs_mf', feedback => 'explicit', weight_col => 'stars',
						iterations => 10)).n_users;
SELECT (recsys.train_item_knn('buys', 5, model => 'cs_knn', weight_col => 'w')).n_users;
SELECT (recsys.train_ease('buys', 10, model => 'cs_ease')).n_users;
SELECT (recsys.train_user_knn('buys', 5, model => 'cs_uknn', weight_col => 'w')).n_users;
SELECT (recsys.train_popular('buys', model => 'cs_pop')).n_users;
SELECT (recsys.train_blend('{cs_ease,cs_als}', '{1,0.5}', 'cs_mix')).n_users;
SELECT (recsys.train_blend('{cs_pop,cs_als}', '{1,1}', 'cs_pop_als')).n_users;
CREATE TABLE models AS
SELECT unnest('{cs_als,cs_als_nousers,cs_mf,cs_knn,cs_ease,cs_uknn,cs_pop,cs_mix,cs_pop_als}'::text[]) AS m;

-- a known user's rows are personalised (a popularity model's: popular);
-- an unknown user's are a cold start
SELECT m AS model,
	   (SELECT string_agg(DISTINCT reason, ', ') FROM recsys.recommend(2, 5, m)) AS known_user,
	   (SELECT string_agg(DISTINCT reason, ', ') FROM recsys.recommend(424242, 5, m)) AS unknown_user
FROM models ORDER BY m;

-- a short personalised list is filled: item-kNN with 5 neighbours reaches
-- only user 2's own block, whose one unseen item (102) comes first; the
-- rest follow by popularity with score 0, the model's score of an item
-- none of the user's items reaches
SELECT item_id, score > 0 AS reached, reason FROM recsys.recommend(2, 4, 'cs_knn');
SELECT recsys.score(2, 110, 'cs_knn') AS unreached_score;
-- a session the same way; an empty session, or one of unknown items, is a cold start
SELECT reason, count(*) FROM recsys.recommend_session('{100}', 8, 'cs_knn') GROUP BY reason ORDER BY reason;
SELECT m AS model,
	   (SELECT string_agg(DISTINCT reason, ', ') FROM recsys.recommend_session('{}', 3, m)) AS empty_session,
	   (SELECT string_agg(DISTINCT reason, ', ') FROM recsys.recommend_session('{999}', 3, m)) AS unknown_items,
	   (SELECT string_agg(DISTINCT reason, ', ') FROM recsys.recommend_session('{100, 101}', 3, m)) AS session
FROM models WHERE m <> 'cs_uknn' ORDER BY m;

-- the fallback's scores lie within the range of the known users' scores
-- of the same model (score() of every user and item).  Not so for blends:
-- their fallback standardises the members' fallbacks as it standardises a
-- user's scores (mean 0, standard deviation 1 over the items, test
-- train_blend), and the average user's scores have outliers a single
-- user's lack (here item 130, far below the block items).
WITH known AS (
	SELECT m, min(s) AS lo, max(s) AS hi
	FROM (SELECT m, recsys.score(u, i, m) AS s
		  FROM models, generate_series(1, 30) u, (SELECT DISTINCT item_id FROM buys) it(i)) s
	GROUP BY m
), cold AS (
	SELECT m, min(r.score) AS lo, max(r.score) AS hi, count(*) AS items
	FROM models, LATERAL recsys.recommend(424242, 100, m) r GROUP BY m
)
SELECT m AS model, c.items, c.lo >= k.lo AND c.hi <= k.hi AS within_known_range
FROM known k JOIN cold c USING (m) WHERE m NOT IN ('cs_mix', 'cs_pop_als') ORDER BY m;

-- by construction, the fallback has the average user's scores: for a
-- model linear in the user's vector or history (ALS with stored users,
-- item-kNN, EASE) the mean of every training user's scores, handed out in
-- popularity order (each item's user count, then the smaller id): the
-- sorted values agree, and the order is popularity's
CREATE TABLE mean_scores AS
SELECT m, i, avg(recsys.score(u, i, m)) AS mean_known, recsys.score(424242, i, m) AS cold
FROM unnest('{cs_als,cs_knn,cs_ease}'::text[]) m, generate_series(1, 30) u,
	 (SELECT DISTINCT item_id FROM buys) it(i)
GROUP BY m, i;
SELECT m AS model, max(abs(k.v - c.v)) < 1e-4 AS same_values_sorted
FROM (SELECT m, mean_known AS v, row_number() OVER (PARTITION BY m ORDER BY mean_known) AS r FROM mean_scores) k
JOIN (SELECT m, cold AS v, row_number() OVER (PARTITION BY m ORDER BY cold) AS r FROM mean_scores) c USING (m, r)
GROUP BY m ORDER BY m;
SELECT m AS model,
	   (SELECT array_agg(item_id ORDER BY ordinality) FROM recsys.recommend(424242, 31, m) WITH ORDINALITY)
	   = (SELECT array_agg(item_id::bigint ORDER BY n DESC, item_id) FROM (SELECT item_id, count(*) AS n FROM buys GROUP BY item_id) s) AS popularity_order
FROM unnest('{cs_als,cs_als_nousers,cs_knn,cs_ease,cs_uknn}'::text[]) m ORDER BY m;
-- user-kNN: every user an equal neighbour, each item's summed weight over
-- the users (item 130, the least popular, gets the least: weight 1 from
-- one user of 30)
SELECT abs(recsys.score(424242, 130, 'cs_uknn') - 1 / 30.0) < 1e-6 AS uknn_mean_weight;
-- explicit MF: the baseline prediction mu + b_i, a rating
SELECT bool_and(s BETWEEN 1 AND 5) AS rating_scale
FROM (SELECT recsys.score(424242, item_id, 'cs_mf') AS s FROM (SELECT DISTINCT item_id FROM buys) i) s;
-- score() and recommend agree for an unknown user
SELECT m AS model, bool_and(r.score = recsys.score(424242, r.item_id, m)) AS same_scores
FROM models, LATERAL recsys.recommend(424242, 5, m) r GROUP BY m ORDER BY m;

-- a mean user vector element too small for a real (1e-50: an owner's edit,
-- or a writer printing more digits) is read as 0, as C rounds it, not a
-- cast's out-of-range error; one a real holds only as a denormal (1e-40)
-- is served too
SELECT stats->'mean_user_factors' AS mean_saved FROM recsys.models WHERE name = 'cs_als' \gset
SET extra_float_digits = 1;
UPDATE recsys.models SET stats = jsonb_set(stats, '{mean_user_factors,0}', '0') WHERE name = 'cs_als';
SELECT array_agg(recsys.score(424242, i, 'cs_als') ORDER BY i) AS with_zero
FROM generate_series(100, 102) i \gset
UPDATE recsys.models SET stats = jsonb_set(stats, '{mean_user_factors,0}', '1e-50') WHERE name = 'cs_als';
SELECT array_agg(recsys.score(424242, i, 'cs_als') ORDER BY i) = :'with_zero'::real[] AS underflow_is_zero
FROM generate_series(100, 102) i;
SET extra_float_digits = 0;
UPDATE recsys.models SET stats = jsonb_set(stats, '{mean_user_factors,0}', '-1e-40') WHERE name = 'cs_als';
SELECT count(*) AS denormal_served FROM recsys.recommend(424242, 3, 'cs_als');
UPDATE recsys.models SET stats = jsonb_set(stats, '{mean_user_factors}', :'mean_saved') WHERE name = 'cs_als';
-- a model trained before 0.7.0 has no mean user vector in stats: the mean
-- of its stored user vectors stands in (the same values), or without
-- stored users each item's share of users (9 of 30 for a block item)
SELECT array_agg(recsys.score(424242, i, 'cs_als') ORDER BY i) AS before
FROM generate_series(100, 102) i \gset
UPDATE recsys.models SET stats = stats - 'mean_user_factors' WHERE name IN ('cs_als', 'cs_als_nousers');
SELECT max(abs(recsys.score(424242, i, 'cs_als') - (:'before'::real[])[i - 99])) < 1e-5 AS from_stored_users
FROM generate_series(100, 102) i;
SELECT recsys.score(424242, 100, 'cs_als_nousers') AS share_100,
	   round((recsys.score(424242, 130, 'cs_als_nousers') * 30)::numeric, 4) AS users_130;
-- a damaged mean vector is refused
UPDATE recsys.models SET stats = jsonb_set(stats, '{mean_user_factors}', '[1, 2]') WHERE name = 'cs_als_nousers';
SELECT * FROM recsys.recommend(424242, 3, 'cs_als_nousers');

SELECT count(*) AS dropped
FROM (SELECT recsys.drop_model(n)
	  FROM unnest('{cs_mix,cs_pop_als,cs_als,cs_als_nousers,cs_mf,cs_knn,cs_ease,cs_uknn,cs_pop}'::text[]) n) d;
DROP SCHEMA cold_start_test CASCADE;
