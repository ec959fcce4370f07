-- item features and embeddings in train_cf; cold items at training and by refresh_items
SET client_min_messages = warning;
-- 40 users; items 1-10 category a, 11-20 category b; users 1-20 buy a, 21-40 buy b
CREATE TABLE ic_ev AS SELECT u AS user_id, i AS item_id
  FROM generate_series(1, 40) u, generate_series(1, 20) i
  WHERE (u <= 20) = (i <= 10) AND (u + i) % 3 <> 0;
CREATE TABLE ic_feats (item_id bigint, feature text);
INSERT INTO ic_feats SELECT i, CASE WHEN i <= 10 THEN 'cat:a' ELSE 'cat:b' END FROM generate_series(1, 20) i;
-- cold items: 101 (category a), 102 (category b), known by construction
INSERT INTO ic_feats VALUES (101, 'cat:a'), (102, 'cat:b');
CREATE TABLE ic_emb (item_id bigint, text_vec real[]);
INSERT INTO ic_emb SELECT i, CASE WHEN i <= 10 THEN ARRAY[1, 0.1 * (i % 3), 0]::real[]
                                 ELSE ARRAY[0, 0.1 * (i % 3), 1]::real[] END FROM generate_series(1, 20) i;
-- cold items with an embedding only: 103 like a, 104 like b
INSERT INTO ic_emb VALUES (103, '{1,0,0}'), (104, '{0,0,1}');

SELECT name, n_items, stats->>'cold_items' AS cold, stats->>'features' AS features,
       params->>'embedding_columns' AS groups
FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic', features => 'ic_feats',
                     embeddings => 'ic_emb', iterations => 10);
-- every cold item has a vector and an item_stats row without users
SELECT f.item_id, s.n_users, s.popularity FROM recsys.item_factors f
  JOIN recsys.item_stats s USING (model, version, item_id)
  WHERE f.model = 'ic' AND f.item_id > 100 ORDER BY 1;

-- a cold item in every serving function: a user of category a prefers the
-- a-like cold items, a user of category b the b-like ones
SELECT item_id, reason FROM recsys.recommend(1, 2, 'ic', candidates => ARRAY[101, 102, 103, 104]::bigint[]);
SELECT item_id, reason FROM recsys.recommend(25, 2, 'ic', candidates => ARRAY[101, 102, 103, 104]::bigint[]);
SELECT recsys.score(1, 101, 'ic') > recsys.score(1, 102, 'ic') AS a_user_prefers_a,
       recsys.score(25, 104, 'ic') > recsys.score(25, 103, 'ic') AS b_user_prefers_b;
SELECT count(*) FILTER (WHERE item_id <= 10) AS a_items FROM recsys.similar_items(103, 5, 'ic');
-- a session of a b-item ranks the b-like cold items above the a-like ones
SELECT min(rank) FILTER (WHERE item_id IN (102, 104)) < min(rank) FILTER (WHERE item_id IN (101, 103)) AS b_first
FROM (SELECT item_id, row_number() OVER () AS rank
      FROM recsys.recommend_session(ARRAY[15]::bigint[], 26, 'ic')) r;

-- a product added later: refresh_items gives it a vector without retraining,
-- served the same minute
INSERT INTO ic_feats VALUES (105, 'cat:b'), (105, 'a word nobody has');
INSERT INTO ic_emb VALUES (106, '{0.9,0.1,0}');
SELECT recsys.refresh_items('ic');
SELECT n_items, stats->>'cold_items' AS cold FROM recsys.models WHERE name = 'ic';
SELECT recsys.score(25, 105, 'ic') > recsys.score(25, 101, 'ic') AS b_user_prefers_105,
       recsys.score(1, 106, 'ic') > recsys.score(1, 104, 'ic') AS a_user_prefers_106;
SELECT recsys.refresh_items('ic');  -- nothing new
-- an item with only features the model never saw gets no vector
INSERT INTO ic_feats VALUES (107, 'unknown');
SELECT recsys.refresh_items('ic');

-- cold_item_weight bounds cold items' scores
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_half', features => 'ic_feats',
                                 embeddings => 'ic_emb', iterations => 10, cold_item_weight => 0.5);
SELECT abs(recsys.score(25, 104, 'ic_half') - 0.5 * recsys.score(25, 104, 'ic')) < 1e-4 AS halved;
-- categorical features alone, and a group weight
SELECT stats->>'cold_items' AS cold FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_cat',
    features => 'ic_feats', iterations => 5);
SELECT params->'embedding_weights' AS w FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_emb',
    embeddings => 'ic_emb', embedding_weights => '{2}', iterations => 5);

-- item-kNN: a cold item's neighbours are the trained items with alike
-- features, and it joins their lists, so their users reach it
CREATE TABLE ic_feats2 (item_id bigint, feature text[]);
INSERT INTO ic_feats2 SELECT i, CASE WHEN i <= 10 THEN '{cat:a,shop}'::text[] ELSE '{cat:b,shop}' END
  FROM generate_series(1, 20) i;
INSERT INTO ic_feats2 VALUES (201, '{cat:a}'), (202, '{cat:b}');
SELECT n_items, stats->>'cold_items' AS cold, params->>'features' AS features
FROM recsys.train_item_knn('ic_ev', 5, model => 'ic_knn', features => 'ic_feats2', cold_item_weight => 0.5);
SELECT count(*) FILTER (WHERE item_id <= 10) AS a_items, count(*) AS n FROM recsys.similar_items(201, 5, 'ic_knn');
SELECT item_id, reason FROM recsys.recommend(1, 1, 'ic_knn', candidates => ARRAY[201, 202]::bigint[]);
SELECT item_id, reason FROM recsys.recommend(25, 1, 'ic_knn', candidates => ARRAY[201, 202]::bigint[]);
SELECT recsys.score(1, 201, 'ic_knn') > recsys.score(1, 202, 'ic_knn') AS a_user_prefers_201;
SELECT item_id FROM recsys.recommend_session(ARRAY[202]::bigint[], 1, 'ic_knn');
-- every list stays sorted, best first
SELECT count(*) AS unsorted FROM recsys.item_neighbor_lists
WHERE model = 'ic_knn' AND scores <> (SELECT array_agg(s ORDER BY s DESC) FROM unnest(scores) s);
INSERT INTO ic_feats2 VALUES (203, '{cat:b,shop}');
SELECT recsys.refresh_items('ic_knn');
SELECT recsys.score(25, 203, 'ic_knn') > recsys.score(25, 201, 'ic_knn') AS b_user_prefers_203,
       (SELECT n_items FROM recsys.models WHERE name = 'ic_knn') AS n_items;
SELECT name FROM recsys.train_item_knn('ic_ev', 5, model => 'ic_knn_err', features => 'ic_emb');
SELECT recsys.drop_model('ic_knn');
DROP TABLE ic_feats2;
-- a kind without cold items
SELECT name FROM recsys.train_popular('ic_ev', model => 'ic_pop');
SELECT recsys.refresh_items('ic_pop');
SELECT recsys.drop_model('ic_pop');
SELECT name FROM recsys.train_ease('ic_ev', 10, model => 'ic_ease', features => 'ic_feats');
SELECT recsys.refresh_items('ic_ease');
SELECT recsys.drop_model('ic_ease');
-- a kind that refreshes cold items, but not for this algorithm (BPR takes no features)
SELECT name FROM recsys.train_bpr('ic_ev', factors => 2, model => 'ic_bpr', iterations => 2, seed => 1);
SELECT recsys.refresh_items('ic_bpr');
SELECT recsys.drop_model('ic_bpr');
-- item-kNN without features: a kind that can, a model trained without them
SELECT name FROM recsys.train_item_knn('ic_ev', 5, model => 'ic_knn_plain');
SELECT recsys.refresh_items('ic_knn_plain');
SELECT recsys.drop_model('ic_knn_plain');

-- errors
-- dense features of the wrong length, at refresh and at training
INSERT INTO ic_emb VALUES (108, '{0,1}');
SELECT recsys.refresh_items('ic');
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_err', embeddings => 'ic_emb');
DELETE FROM ic_emb WHERE item_id = 108;
-- NaN in an embedding
INSERT INTO ic_emb VALUES (109, '{0,1,NaN}');
SELECT recsys.refresh_items('ic');
DELETE FROM ic_emb WHERE item_id = 109;
INSERT INTO ic_emb VALUES (5, '{0,1,Infinity}');
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_err', embeddings => 'ic_emb');
DELETE FROM ic_emb WHERE item_id = 5 AND text_vec[3] = 'Infinity';
-- two rows for one item
INSERT INTO ic_emb VALUES (3, '{1,0,0}');
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_err', embeddings => 'ic_emb');
DELETE FROM ic_emb WHERE ctid = (SELECT max(ctid) FROM ic_emb WHERE item_id = 3);
-- a features relation without the item column
CREATE TABLE ic_nocol (product bigint, feature text);
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_err', features => 'ic_nocol');
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_err', embeddings => 'ic_nocol');
-- a feature's value beyond real: an error naming features and the range
-- (was a bare "value out of range: overflow"), at training and at refresh
CREATE TABLE ic_valued (item_id bigint, feature text, value float8);
INSERT INTO ic_valued SELECT item_id, feature, 1 FROM ic_feats;
INSERT INTO ic_valued VALUES (3, 'price', 1e300);
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_err', features => 'ic_valued');
UPDATE ic_valued SET value = 2 WHERE feature = 'price';
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_val', features => 'ic_valued',
                                 iterations => 2);
INSERT INTO ic_valued VALUES (110, 'price', -1e300);
SELECT recsys.refresh_items('ic_val');
SELECT recsys.drop_model('ic_val');
DROP TABLE ic_valued;
-- an embeddings relation without a real[] column; weights that do not match
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_err', embeddings => 'ic_feats');
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_err', embeddings => 'ic_emb',
                                 embedding_weights => '{1,1}');
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_err', embeddings => 'ic_emb',
                                 embedding_weights => '{-1}');
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_err', embeddings => 'ic_emb',
                                 cold_item_weight => 2);
-- explicit feedback takes no features
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_err', features => 'ic_feats',
                                 feedback => 'explicit', weight_col => 'user_id');
-- refresh of a model without features; of a model that does not exist
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_plain', iterations => 2);
SELECT recsys.refresh_items('ic_plain');
SELECT recsys.refresh_items('ic_missing');
-- the features relation is gone
DROP TABLE ic_feats;
SELECT recsys.refresh_items('ic');
SELECT count(*) FROM recsys.models WHERE name = 'ic_err';

-- another role may not refresh a model it does not own
CREATE ROLE regress_recsys_feat_owner;
CREATE ROLE regress_recsys_feat_other;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_feat_owner, regress_recsys_feat_other;
GRANT SELECT ON ic_ev, ic_emb TO regress_recsys_feat_owner;
SET ROLE regress_recsys_feat_owner;
SELECT name FROM recsys.train_cf('ic_ev', factors => 4, model => 'ic_owned', embeddings => 'ic_emb', iterations => 2);
RESET ROLE;
SELECT recsys.grant_model('ic_owned', 'regress_recsys_feat_other');
RESET ROLE;
SET ROLE regress_recsys_feat_other;
SELECT count(*) FROM recsys.recommend(1, 3, 'ic_owned');
SELECT recsys.refresh_items('ic_owned');
RESET ROLE;
SELECT recsys.drop_model(m) FROM unnest(ARRAY['ic', 'ic_half', 'ic_cat', 'ic_emb', 'ic_plain', 'ic_owned']) m;
REVOKE ALL ON ic_ev, ic_emb FROM regress_recsys_feat_owner;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_feat_owner, regress_recsys_feat_other;
DROP ROLE regress_recsys_feat_owner;
DROP ROLE regress_recsys_feat_other;
DROP TABLE ic_ev, ic_emb, ic_nocol;
