-- search's position feature (where the query's words end in a product's
-- text) and tune_search's features argument (issue 14, anonymous search)
SET client_min_messages = notice;
\set VERBOSITY terse
CREATE TABLE pos_products (item_id bigint PRIMARY KEY, title text);
-- 'lunch bag' ends 9 (positions 3-4 of 4); in 2 it ends at 2 of 4; in 3
-- at 2 of 5 ("with" keeps its position though it is a stop word); the
-- same BM25 for all three (4 lexemes each), so text cannot tell them apart;
-- 9 has the largest id, so ties (ordered by id) do not put it first
INSERT INTO pos_products VALUES
	(9, 'red retrospot lunch bag'),
	(2, 'lunch bag red retrospot'),
	(3, 'lunch bag with owl print'),
	(4, 'cake stand');
-- popularity: 3 > 9 > 2 (the defaults rank the lunch bags 3, 9, 2; no
-- weight of popularity, positive or negative, puts 9 first)
CREATE TABLE pos_events (user_id bigint, item_id bigint);
INSERT INTO pos_events VALUES (10, 3), (11, 3), (12, 3), (10, 9), (11, 9), (12, 2), (13, 4);
SELECT n_items FROM recsys.train_popular('pos_events', model => 'pos_pop');
SELECT recsys.index_catalog('pos_products', name => 'pos');
-- raw position (2: 2/4, 3: 2/5, 9: 1), min-max normalised over the
-- matches: (0.5 - 0.4) / 0.6 = 0.166667, 0, 1
SELECT item_id, round(text_score::numeric, 6) AS bm25, round(position_n::numeric, 6) AS position_n
FROM recsys._search_features('lunch bag', NULL, 'pos_pop', 'pos') ORDER BY item_id;
-- one query word: 'bag' is second of 4 in 2, of 5 in 3, ends 9
SELECT item_id, round(position_n::numeric, 6) AS position_n
FROM recsys._search_features('bag', NULL, 'pos_pop', 'pos') ORDER BY item_id;
SELECT item_id FROM recsys.search('lunch bag', model => 'pos_pop', catalog => 'pos');

-- known by construction: anonymous shoppers (users the model does not
-- know) buy the item the query ends, the middle one by popularity, with
-- the same BM25 as the others: only the position feature ranks it first
CREATE TABLE pos_searches (user_id bigint, query text, item_id bigint);
INSERT INTO pos_searches VALUES (900, 'lunch bag', 9), (901, 'lunch bag', 9), (902, 'bag', 9);
-- with position switched off, the best is below 1 (item 9 cannot come first)
SELECT r -> 'anonymous' -> 'position' AS position, r -> 'tuned' -> 'features' AS features,
	   (r -> 'tuned' ->> 'ndcg@10 anonymous')::numeric < 1 AS below_one
FROM recsys.tune_search('pos', 'pos_searches', model => 'pos_pop',
						features => '{text,popularity}') r;
SELECT item_id FROM recsys.search('lunch bag', k => 1, model => 'pos_pop', catalog => 'pos');
-- with it, every search ranks item 9 first
SELECT r -> 'anonymous' ->> 'position' <> '0' AS position_weighted,
	   r -> 'tuned' ->> 'ndcg@10 anonymous' AS ndcg_anonymous
FROM recsys.tune_search('pos', 'pos_searches', model => 'pos_pop') r;
SELECT item_id FROM recsys.search('lunch bag', k => 1, model => 'pos_pop', catalog => 'pos');
SELECT item_id FROM recsys.search('bag', k => 1, model => 'pos_pop', catalog => 'pos');
-- only position: the anonymous ranker learns it alone, popularity stays 0
SELECT r -> 'anonymous' ->> 'popularity' AS popularity, r -> 'anonymous' ->> 'text' AS text
FROM recsys.tune_search('pos', 'pos_searches', model => 'pos_pop', features => '{position}') r;
-- only a personal feature: the anonymous weights are all 0 (ties by id)
SELECT r -> 'anonymous' AS anonymous
FROM recsys.tune_search('pos', 'pos_searches', model => 'pos_pop', features => '{personal}') r;

-- errors
SELECT recsys.tune_search('pos', 'pos_searches', model => 'pos_pop', features => '{nope}');
SELECT recsys.tune_search('pos', 'pos_searches', model => 'pos_pop', features => '{text,NULL}');
SELECT recsys.tune_search('pos', 'pos_searches', model => 'pos_pop', features => '{}');

SELECT recsys.drop_catalog('pos');
SELECT recsys.drop_model('pos_pop');
DROP TABLE pos_products, pos_events, pos_searches;
