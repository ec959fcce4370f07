-- Error quality (review s9, defect 7): each bad input a clear error naming
-- the argument and its range, never a cast's message, a silent flattening
-- or an echo of a megabyte; and the negative weights decided per trainer.
CREATE SCHEMA rev9;
SET search_path = rev9, public;
SET extra_float_digits = 0;
CREATE TABLE ev AS
SELECT u AS user_id, 10 + (u * 3 + j * 2) % 10 AS item_id, 1.0::real AS w,
	   (ARRAY['view', 'buy'])[1 + (u + j) % 2] AS kind
FROM generate_series(1, 12) u, generate_series(0, 4) j;
SELECT name FROM recsys.train_cf('ev', 2, model => 'r9_als', iterations => 3, seed => 1);

-- a weight beyond double precision: event_weights and its range, not 22003 echoing 400 digits
SELECT name FROM recsys.train_cf('ev', 2, model => 'r9_ev', event_col => 'kind',
	event_weights => ('{"view": 1, "buy": 1' || repeat('0', 400) || '}')::jsonb);
\echo :LAST_ERROR_SQLSTATE
SELECT length(:'LAST_ERROR_MESSAGE') < 200 AS short_message;

-- a two-dimensional ks is refused like the other array arguments (2202E), not flattened
SELECT count(*) FROM recsys.evaluate_at('r9_als', 'ev', ks => '{{1,2},{3,4}}');
\echo :LAST_ERROR_SQLSTATE
SELECT count(DISTINCT k) FROM recsys.evaluate_at('r9_als', 'ev', ks => '{1,2,3,4}');

-- a 1 MB model name: its length, not the name (22023, as the trainers say it)
SELECT * FROM recsys.recommend(1, 3, repeat('m', 1048576));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM recsys.score(1, 10, repeat('m', 64));
SELECT * FROM recsys.similar_items(10, 3, '');
\echo :LAST_ERROR_SQLSTATE

-- embedding_weights without embeddings: refused, not ignored
SELECT name FROM recsys.train_cf('ev', 2, model => 'r9_emb', embedding_weights => '{1}');
\echo :LAST_ERROR_SQLSTATE

-- negative weights: item- and user-kNN refuse them (a dislike is not a likeness) ...
CREATE TABLE ev_neg AS SELECT user_id, item_id, CASE WHEN user_id = 3 AND item_id = 13 THEN -2 ELSE w END AS w FROM ev;
SELECT name FROM recsys.train_item_knn('ev_neg', 5, model => 'r9_knn', weight_col => 'w');
\echo :LAST_ERROR_SQLSTATE
SELECT name FROM recsys.train_user_knn('ev_neg', 5, model => 'r9_uknn', weight_col => 'w');
\echo :LAST_ERROR_SQLSTATE
-- (a pair's rows are summed first: -2 and +3 make 1, accepted)
INSERT INTO ev_neg VALUES (3, 13, 3);
SELECT name FROM recsys.train_item_knn('ev_neg', 5, model => 'r9_knn', weight_col => 'w');
DELETE FROM ev_neg WHERE w = 3;
-- ... train_cf and fold_in take them as documented: implicit ALS reads a
-- negative weight as a dislike (preference 0, confidence 1 + alpha |w|),
-- so a disliked item scores below the same item liked (known by construction)
SELECT name FROM recsys.train_cf('ev_neg', 2, model => 'r9_neg', weight_col => 'w', iterations => 3, seed => 1);
-- (a user who only disliked: preference 0 everywhere, the zero vector)
SELECT recsys.fold_in(i, -5, 'r9_neg') = '{0,0}' AS disliked_only_is_zero,
	   (SELECT score FROM recsys.recommend_for_vector(recsys.fold_in(i, 5, 'r9_neg'), 100, 'r9_neg') WHERE item_id = 13) > 0
		   AS liked_scores_above
FROM (VALUES (13::bigint)) v(i) GROUP BY ();

-- a blend of a member whose params lost user_col (review s9, defect 1's
-- other readers): damage naming the member, not a NULL column name
SELECT name FROM recsys.train_item_knn('ev', 5, model => 'r9_k');
UPDATE recsys.models SET params = params - 'user_col' WHERE name = 'r9_k';
SELECT name FROM recsys.train_blend('{r9_k,r9_als}', '{1,1}', 'r9_mix');
\echo :LAST_ERROR_SQLSTATE

-- interleaving's binomial at many trials (review s9, defect 6): 1/2 by symmetry
SELECT round(recsys._binom_cdf(5e11, 1e12 + 1, 0.5)::numeric, 6) AS half_at_1e12,
	   round(recsys._binom_cdf(5e13, 1e14 + 1, 0.5)::numeric, 6) AS half_at_1e14;

DROP SCHEMA rev9 CASCADE;
DELETE FROM recsys.models WHERE name LIKE 'r9\_%';
