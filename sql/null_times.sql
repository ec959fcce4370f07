-- A time_col NULL on some rows (review s10 rev2, 3).  NULL is "no time":
-- such a row counts as an interaction with no weight, for every trainer
-- taking time_col and half_life.  train_popular used to drop those rows
-- from its item statistics while counting their items, so its model
-- trained and then could not serve (XX001 "item_stats has 30 of the 60
-- items").  A time_col NULL in every row is refused (22023).
SET client_min_messages = notice;
SET recsys.threads = 1;
-- 20 users x 60 items, each item seen by 15 users; odd items are timed
-- (item i on day i), even items have no time; user 99 saw only item 2
CREATE TABLE nt_src (user_id int, item_id int, t date);
INSERT INTO nt_src
SELECT u, i, CASE WHEN i % 2 = 1 THEN date '2024-01-01' + i END
FROM generate_series(1, 20) u, generate_series(1, 60) i WHERE (u + i) % 4 <> 0;
INSERT INTO nt_src VALUES (99, 2, NULL);
-- popular: a NOTICE counts the untimed rows; all 60 items are in the
-- statistics, the 30 untimed ones at popularity 0 with their 15 users
SELECT version, n_items FROM recsys.train_popular('nt_src', model => 'nt_pop', time_col => 't', half_life => '30 days');
SELECT count(*) AS items, count(*) FILTER (WHERE popularity = 0) AS untimed,
       min(n_users) FILTER (WHERE item_id % 2 = 0) AS untimed_users
FROM recsys.item_stats WHERE model = 'nt_pop';
-- by construction the newest timed items: 59, 57, 55
SELECT item_id FROM recsys.recommend(99, 3, 'nt_pop') ORDER BY score DESC;
SELECT count(*) FROM recsys.recommend(1, 3, 'nt_pop');
-- every row's time NULL: refused, and replace => true keeps the model
CREATE TABLE nt_none AS SELECT user_id, item_id, NULL::date AS t FROM nt_src;
SELECT version FROM recsys.train_popular('nt_none', model => 'nt_pop', time_col => 't', half_life => '30 days', replace => true);
SELECT version, n_items FROM recsys.models WHERE name = 'nt_pop';
SELECT item_id FROM recsys.recommend(99, 3, 'nt_pop') ORDER BY score DESC;
-- the other trainers taking time_col train a model that serves
SET client_min_messages = warning;
SELECT n_items FROM recsys.train_bpr('nt_src', 4, 'nt_bpr', iterations => 5, time_col => 't', half_life => '7 days');
SELECT count(*) FROM recsys.recommend(1, 3, 'nt_bpr');
SELECT n_items FROM recsys.train_ease('nt_src', 10, 'nt_ease', time_col => 't', half_life => '7 days');
SELECT count(*) FROM recsys.recommend(1, 3, 'nt_ease');
SELECT n_items FROM recsys.train_item_knn('nt_src', 5, 'nt_knn', time_col => 't', half_life => '7 days');
SELECT count(*) FROM recsys.recommend(1, 3, 'nt_knn');
SELECT n_items FROM recsys.train_fm('nt_src', 'nt_knn', 'nt_fm', factors => 4, epochs => 2, time_col => 't',
                                   half_life => '7 days', context => false, recent_weight => 1);
SELECT count(*) FROM recsys.recommend(1, 3, 'nt_fm');
-- and refuse a time_col NULL in every row, as train_popular does (ease
-- and item-kNN since 0.11.0)
SELECT version FROM recsys.train_bpr('nt_none', 4, 'nt_bpr', iterations => 5, time_col => 't', half_life => '7 days', replace => true);
SELECT version FROM recsys.train_fm('nt_none', 'nt_knn', 'nt_fm', factors => 4, epochs => 2, time_col => 't',
                       context => false, replace => true);
SELECT version FROM recsys.train_ease('nt_none', 10, 'nt_ease', time_col => 't', half_life => '7 days', replace => true);
SELECT version FROM recsys.train_item_knn('nt_none', 5, 'nt_knn', time_col => 't', half_life => '7 days', replace => true);
-- (before, EASE and item-kNN trained: EASE scored every user 0, item-kNN
-- filled every list); the versions trained before still serve
SELECT name, version FROM recsys.models WHERE name IN ('nt_bpr', 'nt_ease', 'nt_knn', 'nt_fm') ORDER BY name;
SELECT count(*) FROM recsys.recommend(1, 3, 'nt_ease') WHERE score > 0;
SELECT count(*) FROM recsys.recommend(1, 3, 'nt_knn');
-- train_cf, train_user_knn and train_ncf take no time_col: the same source serves
SELECT n_items FROM recsys.train_cf('nt_src', 4, 'nt_cf', iterations => 2);
SELECT count(*) FROM recsys.recommend(1, 3, 'nt_cf');
SELECT n_items FROM recsys.train_user_knn('nt_src', 5, 'nt_uknn');
SELECT count(*) FROM recsys.recommend(1, 3, 'nt_uknn');
SELECT n_items FROM recsys.train_ncf('nt_src', 4, 'nt_ncf', hidden => '{8}', iterations => 1);
SELECT count(*) FROM recsys.recommend(1, 3, 'nt_ncf');
-- train_auto's popular family, validated on each user's last items
SELECT family, status FROM recsys.train_auto('nt_src', 'nt_auto', budget => '30 seconds', time_col => 't',
                                             families => '{popular}');
SELECT count(*) FROM recsys.recommend(1, 3, 'nt_auto');
SELECT recsys.drop_model('nt_fm');
SELECT count(*) FROM (SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'nt\_%') d;
DROP TABLE nt_src, nt_none;
