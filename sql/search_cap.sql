-- recsys.search_max_matches: only the best matches by BM25 + popularity
-- are scored when more match (src/search_match.c)
SET client_min_messages = warning;
CREATE TABLE cap_products (item_id bigint PRIMARY KEY, title text);
-- BM25 for 'lamp' grows with tf: 1 < 2 < 3 < 4 (lengths alike within
-- a product: "lamp" repeated, padded with distinct words)
INSERT INTO cap_products VALUES
	(1, 'lamp alpha beta gamma'), (2, 'lamp lamp beta gamma'),
	(3, 'lamp lamp lamp gamma'), (4, 'lamp lamp lamp lamp'),
	(5, 'lamp delta epsilon zeta'), (6, 'chair');
-- popularity: item 5 bought by three users, 1 by one
CREATE TABLE cap_events (user_id bigint, item_id bigint);
INSERT INTO cap_events VALUES (1, 5), (2, 5), (3, 5), (1, 1), (4, 6);
SELECT n_items FROM recsys.train_popular('cap_events', model => 'cap_pop');
SELECT recsys.index_catalog('cap_products', name => 'cap');
SHOW recsys.search_max_matches;
-- no cap reached: every match, ranked by text alone (model => NULL)
SELECT item_id, round(text_score::numeric, 4) AS bm25
FROM recsys.search('lamp', model => NULL, catalog => 'cap', k => 10);
-- text alone: a cap of 2 keeps the two best by BM25 (4 and 3) for k 2
SET recsys.search_max_matches = 2;
SELECT item_id FROM recsys.search('lamp', model => NULL, catalog => 'cap', k => 2);
-- but never fewer than k: k 10 gets every match (0.9.0 returned 2 rows)
SELECT count(*) FROM recsys.search('lamp', model => NULL, catalog => 'cap', k => 10);
-- with popularity: normalised BM25 + normalised ln(1 + users) over the five
-- matches (BM25 in the ratio 1.69 : 1.57 : 1.38 : 1 for tf 4, 3, 2, 1): 4 has 1 + 0,
-- 5 has 0 + 1, 3 0.83 + 0, 2 0.54 + 0, 1 0 + 0.5: a cap of 2 keeps 4 and
-- 5, a cap of 1 item 4 (ties: the smaller id)
SELECT item_id, popularity_score FROM recsys.search('lamp', model => 'cap_pop', catalog => 'cap', k => 2);
SET recsys.search_max_matches = 1;
SELECT item_id FROM recsys.search('lamp', model => 'cap_pop', catalog => 'cap', k => 1);
-- exclude_purchased: the cap keeps k plus the user's purchases, so leaving
-- them out still gives k rows.  User 1 bought 1 and 5; a cap of 2 alone
-- would keep 4 and 5 (above), and 5 left out would leave one row
CREATE TABLE cap_more AS SELECT * FROM cap_events UNION ALL VALUES (5, 1), (5, 5), (6, 2), (6, 4);
SELECT n_items FROM recsys.train_cf('cap_more', factors => 2, iterations => 2, model => 'cap_cf');
SET recsys.search_max_matches = 2;
SELECT item_id, personal_score IS NOT NULL AS personal
FROM recsys.search('lamp', user_id => 1, model => 'cap_cf', catalog => 'cap', k => 2, exclude_purchased => true);
SELECT recsys.drop_model('cap_cf');
DROP TABLE cap_more;
-- 0: no cap
SET recsys.search_max_matches = 0;
SELECT count(*) FROM recsys.search('lamp', model => 'cap_pop', catalog => 'cap', k => 10);
SET recsys.search_max_matches = -1;
RESET recsys.search_max_matches;
SELECT recsys.drop_catalog('cap');
SELECT recsys.drop_model('cap_pop');
DROP TABLE cap_products, cap_events;
