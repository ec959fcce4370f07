-- item-kNN cold items' lists learned from the warm items' lists
-- (cold_map_regularization): answers known by construction
SET client_min_messages = warning;
-- users 1-10 buy the tea items 1, 2 and the cake items 3, 4 together;
-- users 11-15 buy the soap items 5, 6
CREATE TABLE icm_ev AS
  SELECT u AS user_id, i AS item_id FROM generate_series(1, 10) u, generate_series(1, 4) i
  UNION ALL SELECT u, i FROM generate_series(11, 15) u, generate_series(5, 6) i;
CREATE TABLE icm_feats (item_id bigint, feature text);
INSERT INTO icm_feats VALUES (1, 'tea'), (2, 'tea'), (3, 'cake'), (4, 'cake'), (5, 'soap'), (6, 'soap'),
  (101, 'tea');
-- tf-idf lists: the cold tea item's neighbours are the tea items only
SELECT stats->>'cold_items' AS cold
FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_tfidf', features => 'icm_feats');
SELECT item_id, round(score::numeric, 4) AS score FROM recsys.similar_items(101, 5, 'icm_tfidf') ORDER BY 1;
-- learned lists, lambda 1: each feature is one unit tf-idf vector, so
-- F^T F + I = 3 I over the features, a = F e_tea / 3 = 1/3 on items 1, 2;
-- the warm lists have cosine 1 among items 1-4, so s = a^T S gives the cake
-- items 2/3 (both tea items list them) and the tea items 1/3 (each other)
SELECT stats->>'cold_items' AS cold, params->>'cold_map_regularization' AS lambda
FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_map', features => 'icm_feats',
                           cold_map_regularization => 1);
SELECT item_id, round(score::numeric, 4) AS score FROM recsys.similar_items(101, 5, 'icm_map') ORDER BY 1;
-- so the cake items' lists reach the new tea item, which tf-idf lists cannot
SELECT model, item_id, 101 = ANY (neighbor_ids) AS reaches_101 FROM recsys.item_neighbor_lists
WHERE model IN ('icm_tfidf', 'icm_map') AND item_id IN (1, 3) ORDER BY 1, 2;
-- a tea-and-cake user's score is the sum over the history: 1/3 + 1/3 + 2/3 + 2/3
SELECT round(recsys.score(1, 101, 'icm_map')::numeric, 4) AS score_user_1;
-- the self weight adds to the item's own coefficient: 1/3 + 3 * 1/3 on the tea items
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_self', features => 'icm_feats',
                                       cold_map_regularization => 1, cold_map_self_weight => 3);
SELECT item_id, round(score::numeric, 4) AS score FROM recsys.similar_items(101, 5, 'icm_self') ORDER BY 1;
-- the content weight adds the tf-idf cosine: 1/3 + 2 * 1 on the tea items
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_content', features => 'icm_feats',
                                       cold_map_regularization => 1, cold_map_content_weight => 2);
SELECT item_id, round(score::numeric, 4) AS score FROM recsys.similar_items(101, 5, 'icm_content') ORDER BY 1;
-- the popularity prior: the ridge predicts the centred log(1 + users) of the
-- fitted items, (2/3) (ln 11 - (4 ln 11 + 2 ln 6) / 6) = (2/9) ln(11/6), and
-- multiplies the row by exp(popularity * that)
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_pop', features => 'icm_feats',
                                       cold_map_regularization => 1, cold_map_popularity => 1);
SELECT bool_and(abs(p.score - m.score * power(11.0 / 6, 2.0 / 9)) < 1e-5) AS prior_exact, count(*)
FROM recsys.similar_items(101, 5, 'icm_pop') p JOIN recsys.similar_items(101, 5, 'icm_map') m USING (item_id);
-- cold_item_weight still scales the learned lists
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_half', features => 'icm_feats',
                                       cold_map_regularization => 1, cold_item_weight => 0.5);
SELECT round(recsys.score(1, 101, 'icm_half')::numeric, 4) AS halved;

-- refresh_items learns the new item's list the same way, from the stored
-- lists of the items with users (not from the cold item 101's)
INSERT INTO icm_feats VALUES (102, 'cake');
SELECT recsys.refresh_items('icm_map');
SELECT item_id, round(score::numeric, 4) AS score FROM recsys.similar_items(102, 5, 'icm_map') ORDER BY 1;
SELECT recsys.refresh_items('icm_pop');
SELECT recsys.refresh_items('icm_content');
SELECT item_id, round(score::numeric, 4) AS score FROM recsys.similar_items(102, 5, 'icm_content') ORDER BY 1;
SELECT bool_and(abs(p.score - m.score * power(11.0 / 6, 2.0 / 9)) < 1e-5) AS prior_exact_after_refresh, count(*)
FROM recsys.similar_items(102, 5, 'icm_pop') p JOIN recsys.similar_items(102, 5, 'icm_map') m USING (item_id);

-- cold_map_word_weights: the ridge's feature weights.  The new item 103
-- has tea and soap; every warm row is one unit feature, so a = f / 3 on the
-- items with its features and s = a^T S: items 1, 2 f_tea / 3 (each other's
-- list), 3, 4 2 f_tea / 3 (both tea lists), 5, 6 f_soap / 3.  binary:
-- f_tea = f_soap = 1/sqrt(2) (0.2357, 0.4714, 0.2357); tf-idf over the 9
-- items: idf ln(9/4) and ln 3, f = (0.5939, 0.8046) (0.1980, 0.3959,
-- 0.2682); sqrtidf: (0.6517, 0.7585) (0.2172, 0.4344, 0.2528)
INSERT INTO icm_feats VALUES (103, 'tea'), (103, 'soap');
SELECT w, params->>'cold_map_word_weights' AS recorded
FROM unnest(ARRAY['tfidf', 'sqrtidf', 'binary']) w,
     LATERAL recsys.train_item_knn('icm_ev', 6, model => 'icm_w_' || w, features => 'icm_feats',
                                   cold_map_regularization => 1, cold_map_word_weights => w);
SELECT s.item_id, round(t.score::numeric, 4) AS tfidf, round(q.score::numeric, 4) AS sqrtidf,
       round(s.score::numeric, 4) AS binary
FROM recsys.similar_items(103, 6, 'icm_w_binary') s
JOIN recsys.similar_items(103, 6, 'icm_w_tfidf') t USING (item_id)
JOIN recsys.similar_items(103, 6, 'icm_w_sqrtidf') q USING (item_id) ORDER BY 1;
-- refresh_items uses the recorded weights: binary weights do not depend on
-- the idf, which the new item 104 changes, so its list is 103's
INSERT INTO icm_feats VALUES (104, 'tea'), (104, 'soap');
SELECT recsys.refresh_items('icm_w_binary');
SELECT item_id, round(score::numeric, 4) AS score FROM recsys.similar_items(104, 6, 'icm_w_binary') ORDER BY 1;
-- a model of 0.9.0 records no word weights: tf-idf, as then
UPDATE recsys.models SET params = params - 'cold_map_word_weights' WHERE name = 'icm_w_tfidf';
SELECT recsys.refresh_items('icm_w_tfidf');
SELECT count(*) AS lists_104 FROM recsys.item_neighbor_lists WHERE model = 'icm_w_tfidf' AND item_id = 104;
-- errors: a name not in the list, NULL, and without cold_map_regularization
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', features => 'icm_feats',
                                       cold_map_regularization => 1, cold_map_word_weights => 'idf');
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', features => 'icm_feats',
                                       cold_map_regularization => 1, cold_map_word_weights => NULL);
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', features => 'icm_feats',
                                       cold_map_word_weights => 'binary');
-- a damaged record is refused by refresh_items (XX001)
UPDATE recsys.models SET params = jsonb_set(params, '{cold_map_word_weights}', '"bogus"') WHERE name = 'icm_w_sqrtidf';
SELECT recsys.refresh_items('icm_w_sqrtidf');
SELECT recsys.drop_model(m) FROM unnest(ARRAY['icm_w_tfidf', 'icm_w_sqrtidf', 'icm_w_binary']) m;
DELETE FROM icm_feats WHERE item_id IN (103, 104);

-- train_cf: feature_weight 0 switches the features off, exactly: the same
-- factors as ALS without features (a search can choose "no features")
SELECT name FROM recsys.train_cf('icm_ev', factors => 2, iterations => 3, model => 'icm_als',
                                 regularization_exponent => 1);
SELECT params ? 'features' AS has_features, stats ? 'cold_items' AS has_cold
FROM recsys.train_cf('icm_ev', factors => 2, iterations => 3, model => 'icm_als0',
                     regularization_exponent => 1, features => 'icm_feats', feature_weight => 0);
SELECT count(*) AS items, bool_and(a.factors = b.factors) AS identical
FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_id)
WHERE a.model = 'icm_als' AND b.model = 'icm_als0';
SELECT count(*) AS cold_vectors FROM recsys.item_factors WHERE model = 'icm_als0' AND item_id > 100;
-- and with a weight the features change the factors
SELECT name FROM recsys.train_cf('icm_ev', factors => 2, iterations => 3, model => 'icm_als1',
                                 regularization_exponent => 1, features => 'icm_feats', feature_weight => 1);
SELECT bool_and(a.factors = b.factors) AS identical
FROM recsys.item_factors a JOIN recsys.item_factors b USING (item_id)
WHERE a.model = 'icm_als' AND b.model = 'icm_als1';

-- errors
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', cold_map_regularization => 1);
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', features => 'icm_feats',
                                       cold_map_regularization => 0);
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', features => 'icm_feats',
                                       cold_map_regularization => 1, cold_map_self_weight => -1);
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', features => 'icm_feats',
                                       cold_map_regularization => 1, cold_map_popularity => 'NaN');
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', features => 'icm_feats',
                                       cold_map_regularization => 1, cold_map_self_weight => NULL);
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', features => 'icm_feats',
                                       cold_map_regularization => 1, cold_map_content_weight => -0.5);
-- the learned lists' weights say nothing without cold_map_regularization:
-- refused rather than ignored
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', features => 'icm_feats',
                                       cold_map_self_weight => 3);
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', features => 'icm_feats',
                                       cold_map_popularity => 1);
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', features => 'icm_feats',
                                       cold_map_content_weight => 2);

-- recsys.max_memory holds the cold items' features, vectors and lists:
-- 60,000 cold items with two features each (120,006 rows of 16 bytes,
-- two tea neighbours each) need more than 1 MB; the six items' do not
SET recsys.max_memory = '1MB';
SELECT stats->>'cold_items' AS cold_within_1mb
FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_small', features => 'icm_feats',
                           cold_map_regularization => 1);
CREATE TABLE icm_many AS
  SELECT item_id, feature FROM icm_feats
  UNION ALL SELECT i, f FROM generate_series(1001, 61000) i, LATERAL (VALUES ('tea'), ('x' || i)) v(f);
\set VERBOSITY terse
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', features => 'icm_many');
SELECT name FROM recsys.train_item_knn('icm_ev', 5, model => 'icm_err', features => 'icm_many',
                                       cold_map_regularization => 1);
SELECT name FROM recsys.train_cf('icm_ev', factors => 2, iterations => 3, model => 'icm_err_cf',
                                 features => 'icm_many');
RESET recsys.max_memory;
\set VERBOSITY default
SELECT count(*) AS no_model FROM recsys.models WHERE name IN ('icm_err', 'icm_err_cf');

SELECT recsys.drop_model(m) FROM unnest(ARRAY['icm_tfidf', 'icm_map', 'icm_self', 'icm_pop', 'icm_half', 'icm_content', 'icm_als', 'icm_als0', 'icm_als1', 'icm_small']) m;
DROP TABLE icm_ev, icm_feats, icm_many;
