-- recsys.train_ease: Steck's EASE (and DLAE with dropout), served like item-kNN
CREATE SCHEMA ease_test;
SET search_path = ease_test, public;
SET extra_float_digits = 0;

-- users 1-10 buy from items 100-109, users 11-20 from 110-119; each misses one
CREATE TABLE purchases AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id
FROM generate_series(1, 20) u, generate_series(0, 9) j
WHERE j <> u % 10;
CREATE INDEX ON purchases (user_id);

SELECT name, algorithm, n_users, n_items, params->>'regularization' AS regularization, params->>'binary' AS binary,
	   params->>'neighbors' AS neighbors
FROM recsys.train_ease('purchases', 10, model => 'ease');
-- every user's first recommendation is the item missing from their group
SELECT count(*) FILTER (WHERE r.item_id = 100 + 10 * ((u - 1) / 10) + u % 10) AS missing_first, count(*)
FROM generate_series(1, 20) u, LATERAL recsys.recommend(u, 1, 'ease') r;
-- B has a zero diagonal: an item is never its own neighbour; all 19 others are kept
SELECT count(*) FILTER (WHERE item_id = neighbor_id) AS self, max(rank) AS longest
FROM recsys.item_neighbors WHERE model = 'ease';
-- the weights within a group are positive, across groups they are not
SELECT bool_and(score > 0) FILTER (WHERE (item_id - 100) / 10 = (neighbor_id - 100) / 10) AS within_positive,
	   bool_and(score <= 0) FILTER (WHERE (item_id - 100) / 10 <> (neighbor_id - 100) / 10) AS across_not
FROM recsys.item_neighbors WHERE model = 'ease';
-- truncated lists and the DLAE dropout
SELECT params->>'neighbors' AS neighbors, params->>'dropout' AS dropout
FROM recsys.train_ease('purchases', 10, model => 'ease', neighbors => 5, dropout => 0.25);
SELECT max(rank) AS longest FROM recsys.item_neighbors WHERE model = 'ease' AND version = 2;
-- explain: the user's items and their weights towards the item
SELECT round(recsys.score(3, 103, 'ease')::numeric, 4) =
	   round((SELECT sum(contribution) FROM recsys.explain(3, 103, 100, 'ease'))::numeric, 4) AS explain_adds_up;

-- user_exponent: with every user buying 9 items the weights are normalised
-- back to the plain model's, exactly
SELECT params->>'user_exponent' AS user_exponent
FROM recsys.train_ease('purchases', 10, model => 'ease_users', user_exponent => 0.5);
SELECT max(abs(a.score - b.score)) < 1e-6 AS same_weights, count(*)
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b USING (item_id, neighbor_id)
WHERE a.model = 'ease' AND a.version = 1 AND b.model = 'ease_users';
-- a heavy user (all 20 items) is the only link between the groups; with
-- user_exponent 1 that user weighs 9/20 of the others and the links shrink
INSERT INTO purchases SELECT 99, i FROM generate_series(100, 119) i;
SELECT (recsys.train_ease('purchases', 10, model => 'ease_plain')).name;
SELECT (recsys.train_ease('purchases', 10, model => 'ease_users', user_exponent => 1)).name;
SELECT max(a.score) > 1.5 * max(b.score) AS links_shrink, min(b.score) > 0 AS still_positive
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b USING (item_id, neighbor_id)
WHERE a.model = 'ease_plain' AND b.model = 'ease_users' AND b.version = 2
  AND (item_id - 100) / 10 <> (neighbor_id - 100) / 10;
-- popularity_exponent: every weight into item j is the plain one times n_users(j)^-0.5
SELECT params->>'popularity_exponent' AS popularity_exponent
FROM recsys.train_ease('purchases', 10, model => 'ease_pop', popularity_exponent => 0.5);
SELECT max(abs(b.score - a.score * s.n_users ^ -0.5)) < 1e-6 AS scaled_by_popularity, count(*)
FROM recsys.item_neighbors a
JOIN recsys.item_neighbors b USING (item_id, neighbor_id)
JOIN recsys.item_stats s ON s.model = 'ease_pop' AND s.item_id = a.neighbor_id
WHERE a.model = 'ease_plain' AND b.model = 'ease_pop';
DELETE FROM purchases WHERE user_id = 99;

-- time_col and half_life: the user's history weighted by its age when scoring.
-- User 21 bought two group-A items in 2020 and one group-B item in 2026.
CREATE TABLE timed AS SELECT user_id, item_id, timestamptz '2026-01-01' AS bought_at FROM purchases;
INSERT INTO timed VALUES (21, 100, '2020-01-01'), (21, 101, '2020-01-01'), (21, 110, '2026-01-01');
CREATE INDEX ON timed (user_id);
SELECT (recsys.train_ease('timed', 10, model => 'ease_all')).name;
SELECT params->>'time_col' AS time_col, params->>'half_life_seconds' AS half_life_seconds
FROM recsys.train_ease('timed', 10, model => 'ease_recent', time_col => 'bought_at', half_life => '30 days');
-- the same weights: training reads no times
SELECT max(abs(a.score - b.score)) < 1e-6 AS same_weights
FROM recsys.item_neighbors a JOIN recsys.item_neighbors b USING (item_id, neighbor_id)
WHERE a.model = 'ease_all' AND b.model = 'ease_recent';
-- two old items outvote one recent one, unless age counts
SELECT (SELECT (item_id - 100) / 10 FROM recsys.recommend(21, 1, 'ease_all')) AS group_all_history,
	   (SELECT (item_id - 100) / 10 FROM recsys.recommend(21, 1, 'ease_recent')) AS group_recent_first;
-- the old items weigh 0.5^(2192 days / 30 days), about 1e-22: explain shows it, and adds up
SELECT item_id, contribution < 1e-15 AS negligible
FROM recsys.explain(21, 111, 3, 'ease_recent') ORDER BY item_id;
SELECT round(recsys.score(21, 111, 'ease_recent')::numeric, 5) =
	   round((SELECT sum(contribution) FROM recsys.explain(21, 111, 100, 'ease_recent'))::numeric, 5) AS explain_adds_up;
-- evaluate scores users the same way as recommend: user 21 goes on with group B
CREATE TABLE timed_next AS SELECT 21 AS user_id, i AS item_id FROM generate_series(111, 119) i;
SELECT m.name, e.value AS hit_rate
FROM (VALUES ('ease_all'), ('ease_recent')) m(name),
	 LATERAL recsys.evaluate(m.name, 'timed_next', k => 1) e
WHERE e.metric = 'hit_rate@1' ORDER BY 1;
-- numbers are seconds: an epoch column gives the same recommendations
CREATE VIEW timed_epoch AS SELECT user_id, item_id, extract(epoch FROM bought_at) AS t FROM timed;
SELECT (recsys.train_ease('timed_epoch', 10, model => 'ease_epoch', time_col => 't', half_life => '30 days')).name;
SELECT (SELECT array_agg(item_id ORDER BY score DESC, item_id) FROM recsys.recommend(21, 5, 'ease_epoch')) =
	   (SELECT array_agg(item_id ORDER BY score DESC, item_id) FROM recsys.recommend(21, 5, 'ease_recent')) AS same_lists;
-- a NULL time: the item still counts as seen, but adds nothing
INSERT INTO timed VALUES (21, 112, NULL);
SELECT count(*) FILTER (WHERE item_id = 112) AS recommends_seen FROM recsys.recommend(21, 20, 'ease_recent');
SELECT contribution FROM recsys.explain(21, 113, 20, 'ease_recent') WHERE item_id = 112;
-- the time column must still be there when the model serves
ALTER TABLE timed RENAME COLUMN bought_at TO paid_at;
SELECT * FROM recsys.recommend(21, 1, 'ease_recent');
SELECT * FROM recsys.evaluate('ease_recent', 'timed_next');
ALTER TABLE timed RENAME COLUMN paid_at TO bought_at;
SELECT count(*) FROM recsys.recommend(21, 1, 'ease_recent');

-- errors
SELECT recsys.train_ease('purchases', 10, user_exponent => -0.5);
SELECT recsys.train_ease('purchases', 10, user_exponent => 'NaN');
SELECT recsys.train_ease('purchases', 10, popularity_exponent => 3);
SELECT recsys.train_ease('purchases', 10, user_exponent => NULL);
SELECT recsys.train_ease('purchases', 10, popularity_exponent => NULL);
SELECT recsys.train_ease('timed', 10, time_col => 'bought_at');
SELECT recsys.train_ease('timed', 10, half_life => '1 day');
SELECT recsys.train_ease('timed', 10, time_col => 'bought_at', half_life => '0.5 seconds');
SELECT recsys.train_ease('timed', 10, time_col => 'sold_at', half_life => '1 day');
ALTER TABLE timed ADD COLUMN note text;
SELECT recsys.train_ease('timed', 10, time_col => 'note', half_life => '1 day');
SELECT recsys.train_ease('purchases', 0);
SELECT recsys.train_ease('purchases', 'NaN');
SELECT recsys.train_ease('purchases', NULL);
SELECT recsys.train_ease('purchases', 10, neighbors => 0);
SELECT recsys.train_ease('purchases', 10, dropout => 1);
SELECT recsys.train_ease(NULL);
SELECT recsys.train_ease('purchases', 10, weight_col => 'stars');
CREATE TABLE nothing (user_id int, item_id int);
SELECT recsys.train_ease('nothing');
-- Compact EASE (0.8.0): keep stores only that share of the weights, the
-- largest in magnitude over the whole matrix.  The two groups of
-- purchases share no user, so the weights across groups are exactly 0
-- (200 of the 380): keeping half (190) keeps the 180 non-zero ones, zeros
-- always go, and the compact model is the exact one without its zeros.
SELECT params->>'keep' AS keep FROM recsys.train_ease('purchases', 10, model => 'ease_exact');
SELECT params->>'keep' AS keep FROM recsys.train_ease('purchases', 10, model => 'ease_compact', keep => 0.5);
SELECT count(*) FILTER (WHERE score = 0) AS zeros, count(*) AS weights
FROM recsys.item_neighbors WHERE model = 'ease_exact';
-- the compact lists are the exact lists' non-zero weights, in the same order
SELECT count(*) AS compact_weights,
	   (SELECT count(*) FROM (
			(SELECT item_id, neighbor_id, score FROM recsys.item_neighbors
			 WHERE model = 'ease_exact' AND score <> 0
			 EXCEPT SELECT item_id, neighbor_id, score FROM recsys.item_neighbors WHERE model = 'ease_compact')
			UNION ALL
			(SELECT item_id, neighbor_id, score FROM recsys.item_neighbors WHERE model = 'ease_compact'
			 EXCEPT SELECT item_id, neighbor_id, score FROM recsys.item_neighbors
			 WHERE model = 'ease_exact' AND score <> 0)) d) AS differing,
	   bool_and(rank = 1 OR score <= lag_score) AS best_first
FROM (SELECT *, lag(score) OVER (PARTITION BY item_id ORDER BY rank) AS lag_score
	  FROM recsys.item_neighbors WHERE model = 'ease_compact') c;
-- every user's recommendations and scores are the same, and the stored lists shrink
SELECT count(*) AS recommendations,
	   count(*) FILTER (WHERE e.item_id IS DISTINCT FROM c.item_id OR e.score IS DISTINCT FROM c.score) AS differing
FROM generate_series(1, 20) u,
	 LATERAL (SELECT row_number() OVER () AS n, * FROM recsys.recommend(u, 3, 'ease_exact')) e
	 FULL JOIN LATERAL (SELECT row_number() OVER () AS n, * FROM recsys.recommend(u, 3, 'ease_compact')) c
	 ON e.n = c.n;
SELECT sum(pg_column_size(neighbor_ids) + pg_column_size(scores)) FILTER (WHERE model = 'ease_compact')
	   < 0.6 * sum(pg_column_size(neighbor_ids) + pg_column_size(scores)) FILTER (WHERE model = 'ease_exact')
	   AS smaller
FROM recsys.item_neighbor_lists WHERE model IN ('ease_exact', 'ease_compact');
-- keeping a tenth (38): the groups are symmetric, so the 180 weights within
-- them are equal to within the floor's resolution and are kept together;
-- none smaller than one dropped
SELECT (params->>'keep')::float8 AS keep FROM recsys.train_ease('purchases', 10, model => 'ease_compact', keep => 0.1);
SELECT max(rank) AS longest, count(*) AS weights,
	   min(abs(score)) >= (SELECT max(abs(score)) FROM recsys.item_neighbors e
						   WHERE e.model = 'ease_exact' AND NOT EXISTS (
								SELECT FROM recsys.item_neighbors c WHERE c.model = 'ease_compact'
								AND c.version = 2 AND (c.item_id, c.neighbor_id) = (e.item_id, e.neighbor_id)))
	   AS largest_kept
FROM recsys.item_neighbors WHERE model = 'ease_compact' AND version = 2;
-- keep outside (0, 1]
SELECT recsys.train_ease('purchases', 10, model => 'ease_compact', keep => 1.5);
SELECT recsys.train_ease('purchases', 10, model => 'ease_compact', keep => 1.0000001);
SELECT recsys.train_ease('purchases', 10, model => 'ease_compact', keep => 0);
SELECT recsys.train_ease('purchases', 10, model => 'ease_compact', keep => 'NaN');
SELECT recsys.drop_model('ease_exact'), recsys.drop_model('ease_compact');

-- the dense item x item matrix must fit recsys.max_memory
CREATE TABLE wide AS SELECT u AS user_id, i AS item_id FROM generate_series(1, 3) u, generate_series(1, 3000) i;
SET recsys.max_memory = '16MB';
SELECT recsys.train_ease('wide', model => 'wide');
RESET recsys.max_memory;


-- Cancelling: statement_timeout stops a long inversion between two of its
-- blocks, not after it.  8,000 items, the inversion most of the time;
-- the timeout is a fifth of a full run, and the cancelled run must end
-- well before a full one would (it took the full time when the
-- inversion was one LAPACK call).  The model is not written.
CREATE TABLE many_items AS
SELECT i % 500 AS user_id, i AS item_id FROM generate_series(0, 7999) i
UNION ALL SELECT (i * 7 + 3) % 500, i FROM generate_series(0, 7999) i;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT (recsys.train_ease('many_items', 100, model => 'ease_many', neighbors => 5)).n_items;
SELECT extract(epoch FROM clock_timestamp()) - :t0 AS full_seconds \gset
SELECT recsys.drop_model('ease_many');
SELECT set_config('statement_timeout', round(:full_seconds * 200)::text, false) IS NOT NULL AS timeout_set;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT (recsys.train_ease('many_items', 100, model => 'ease_many', neighbors => 5)).n_items;
RESET statement_timeout;
SELECT extract(epoch FROM clock_timestamp()) - :t0 < 0.6 * :full_seconds AS stopped_early,
	   NOT EXISTS (SELECT FROM recsys.models WHERE name = 'ease_many') AS no_model;

SELECT recsys.drop_model(m) FROM unnest(ARRAY['ease', 'ease_users', 'ease_plain', 'ease_pop', 'ease_all',
	'ease_recent', 'ease_epoch']) m;
RESET search_path;
DROP SCHEMA ease_test CASCADE;
