-- Infinite times in time_col are refused (22023, naming the column and
-- the value), when training and when serving, instead of weighting a
-- user's items by ages of infinity minus infinity (NaN): a damaged BPR
-- vector, an EASE user scored 0 everywhere.  NULL stays "no time".
SET client_min_messages = warning;
SET recsys.threads = 1;
CREATE TABLE inf_src (user_id int, item_id int, t date, ts timestamptz, n numeric, f float8);
INSERT INTO inf_src
SELECT u, i, date '2024-01-01' + (u + i), timestamptz '2024-01-01 00:00+00' + (u + i) * interval '1 day',
       1.7e9 + (u + i) * 86400, 1.7e9 + (u + i) * 86400
FROM generate_series(1, 20) u, generate_series(1, 10) i WHERE (u + i) % 3 <> 0;
-- finite times train, and serve
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_bpr', iterations => 5, time_col => 't', half_life => '7 days');
SELECT version FROM recsys.train_ease('inf_src', 10, 'inf_ease', time_col => 't', half_life => '7 days');
SELECT version FROM recsys.train_item_knn('inf_src', 5, 'inf_knn', time_col => 'ts', half_life => '7 days');
SELECT version FROM recsys.train_popular('inf_src', 'inf_pop', time_col => 'n', half_life => '7 days');
SELECT count(*) FROM recsys.recommend(1, 3, 'inf_bpr');
-- a user whose only timed row is -infinity (the others NULL)
UPDATE inf_src SET t = NULL WHERE user_id = 2;
UPDATE inf_src SET t = '-infinity' WHERE user_id = 2 AND item_id = 2;
-- serving sees the new row: an error naming the column and the value,
-- not a vector of NaN nor scores of 0 (other users still serve)
SELECT count(*) FROM recsys.recommend(2, 3, 'inf_bpr');
SELECT count(*) FROM recsys.recommend(2, 3, 'inf_ease');
SELECT count(*) FROM recsys.evaluate('inf_ease', 'inf_src', 3);
SELECT recsys.refresh_user(2, 'inf_bpr');
SELECT count(*) FROM recsys.recommend(3, 3, 'inf_bpr');
-- and training refuses, for every trainer taking time_col; the models
-- trained before still serve
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_bpr', iterations => 5, time_col => 't', half_life => '7 days');
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_nu', iterations => 5, time_col => 't', half_life => '7 days',
	store_users => false);
SELECT version FROM recsys.train_ease('inf_src', 10, 'inf_ease', time_col => 't', half_life => '7 days');
UPDATE inf_src SET t = date '2024-01-05' WHERE t = '-infinity';
UPDATE inf_src SET ts = 'infinity', n = 'Infinity', f = '-Infinity' WHERE user_id = 1 AND item_id = 1;
SELECT version FROM recsys.train_item_knn('inf_src', 5, 'inf_knn', time_col => 'ts', half_life => '7 days');
SELECT version FROM recsys.train_popular('inf_src', 'inf_pop', time_col => 'n', half_life => '7 days');
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_bpr', iterations => 5, time_col => 'f', half_life => '7 days');
-- a number beyond float8's range counts as infinite (not a bare cast error)
UPDATE inf_src SET n = 1e400 WHERE user_id = 1 AND item_id = 1;
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_bpr', iterations => 5, time_col => 'n', half_life => '7 days');
-- tiny numbers are 0 (underflow), not a bare cast error; float8's range
-- ends at 1.797e308 (1.5e308 is finite: trains)
UPDATE inf_src SET n = 1e-400 WHERE user_id = 1 AND item_id = 1;
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_bpr', iterations => 5, time_col => 'n', half_life => '7 days');
SELECT count(*) FROM recsys.recommend(1, 3, 'inf_bpr');
UPDATE inf_src SET n = 1.5e308 WHERE user_id = 1 AND item_id = 1;
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_bpr', iterations => 5, time_col => 'n', half_life => '7 days');
SELECT version FROM recsys.train_popular('inf_src', 'inf_pop', time_col => 'n', half_life => '7 days');
UPDATE inf_src SET n = 1.8e308 WHERE user_id = 1 AND item_id = 1;
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_bpr', iterations => 5, time_col => 'n', half_life => '7 days');
-- NaN (numeric or float8) is refused like an infinity, training and
-- serving (before: trained as "no time")
UPDATE inf_src SET n = 'NaN' WHERE user_id = 1 AND item_id = 1;
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_bpr', iterations => 5, time_col => 'n', half_life => '7 days');
SELECT version FROM recsys.train_popular('inf_src', 'inf_pop', time_col => 'n', half_life => '7 days');
UPDATE inf_src SET n = 1.7e9, f = 'NaN' WHERE user_id = 1 AND item_id = 1;
SELECT version FROM recsys.train_ease('inf_src', 10, 'inf_ease', time_col => 'f', half_life => '7 days');
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_bpr', iterations => 5, time_col => 'n', half_life => '7 days');
UPDATE inf_src SET n = 'NaN' WHERE user_id = 1 AND item_id = 1;
SELECT count(*) FROM recsys.recommend(1, 3, 'inf_bpr');
SELECT count(*) FROM recsys.evaluate('inf_bpr', 'inf_src', 3);
-- finite again: trains and serves
UPDATE inf_src SET ts = now(), n = 1.7e9, f = 1.7e9 WHERE user_id = 1 AND item_id = 1;
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_bpr', iterations => 5, time_col => 'n', half_life => '7 days');
SELECT count(*) FROM recsys.recommend(2, 3, 'inf_bpr');
SELECT count(*) > 0 AS evaluates FROM recsys.evaluate('inf_ease', 'inf_src', 3);
-- a role that may not read the source gets recsys's permission error
-- (detail, GRANT hint) before the time check reads it (before: a bare
-- "permission denied for table inf_src"); SELECT on (user_id, item_id)
-- only is not enough either
CREATE ROLE regress_recsys_fix6_bob;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_fix6_bob;
SET ROLE regress_recsys_fix6_bob;
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_priv', iterations => 5, time_col => 't', half_life => '7 days');
SELECT version FROM recsys.train_popular('inf_src', 'inf_priv', time_col => 'n', half_life => '7 days');
RESET ROLE;
GRANT SELECT (user_id, item_id) ON inf_src TO regress_recsys_fix6_bob;
SET ROLE regress_recsys_fix6_bob;
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_priv', iterations => 5, time_col => 't', half_life => '7 days');
RESET ROLE;
GRANT SELECT (t) ON inf_src TO regress_recsys_fix6_bob;
SET ROLE regress_recsys_fix6_bob;
SELECT version FROM recsys.train_bpr('inf_src', 4, 'inf_priv', iterations => 5, time_col => 't', half_life => '7 days');
RESET ROLE;
SELECT recsys.drop_model('inf_priv');
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fix6_bob;
REVOKE ALL ON inf_src FROM regress_recsys_fix6_bob;
DROP ROLE regress_recsys_fix6_bob;
SELECT name FROM recsys.models WHERE name LIKE 'inf\_%' ORDER BY 1;
SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'inf\_%' ORDER BY name;
DROP TABLE inf_src;
