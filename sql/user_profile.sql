-- recsys.user_profile (affinity per item facet) and recsys.similar_users
CREATE SCHEMA prof_test;
SET search_path = prof_test, public;
SET extra_float_digits = 0;

-- users 1-6 buy red items 1-3 and blue item 4 (users 1-3 also 5), users
-- 7-12 buy blue items 4-6; item 7 has no colour row
CREATE TABLE buys (user_id int, item_id int);
INSERT INTO buys
SELECT u, i FROM generate_series(1, 6) u, unnest('{1,2,3,4}'::int[]) i
UNION ALL SELECT u, 5 FROM generate_series(1, 3) u
UNION ALL SELECT u, i FROM generate_series(7, 12) u, unnest('{4,5,6}'::int[]) i
UNION ALL SELECT 12, 7;
CREATE INDEX ON buys (user_id);
CREATE TABLE colours (item_id bigint, colour text);
INSERT INTO colours VALUES (1, 'red'), (2, 'red'), (3, 'red'), (4, 'blue'), (5, 'blue'), (6, 'blue');
SELECT version FROM recsys.train_item_knn('buys', 10, model => 'p_knn');

-- known by construction: user 1 has 3 red and 2 blue items of 5; all
-- users' rows (the model's popularity): red 3 x 6 = 18, blue 12 + 9 + 6 = 27,
-- none 1, of 46: red 0.391, blue 0.587, none 0.022
SELECT facet, items, history_items, history_share, population_share,
	   round(history_lift::numeric, 4) AS history_lift
FROM recsys.user_profile(1, 'p_knn', 'colours', 'colour') ORDER BY facet NULLS LAST;
-- shares of one facet per item add up to 1; user 12 has the uncoloured item
SELECT sum(history_share) AS history, sum(population_share) AS population, sum(top_share) AS top,
	   sum(baseline_share) AS baseline
FROM recsys.user_profile(12, 'p_knn', 'colours', 'colour');
SELECT facet, history_items, top_items FROM recsys.user_profile(12, 'p_knn', 'colours', 'colour')
ORDER BY facet NULLS LAST;
-- the model side: user 7's top 1 (seen items excluded) is red, item 7 or
-- a red one; the average user's top 1 is the most popular item (4, blue)
SELECT facet, top_items, top_share, baseline_share, model_lift
FROM recsys.user_profile(7, 'p_knn', 'colours', 'colour', k => 1) ORDER BY facet NULLS LAST;
-- an item in two facets counts in each (a tag relation)
CREATE TABLE tags (item bigint, tag text);
INSERT INTO tags VALUES (1, 'sale'), (1, 'new'), (4, 'sale');
SELECT facet, items, history_items FROM recsys.user_profile(1, 'p_knn', 'tags', 'tag', item_col => 'item')
ORDER BY facet NULLS LAST;
-- a user the model cannot score: history empty, the model side is the average user's
SELECT facet, history_items, history_share, top_share = baseline_share AS as_average
FROM recsys.user_profile(999, 'p_knn', 'colours', 'colour') ORDER BY facet NULLS LAST;
-- errors
SELECT * FROM recsys.user_profile(1, 'p_knn', 'colours', 'shade');
SELECT * FROM recsys.user_profile(1, 'p_knn', 'colours', 'colour', item_col => 'product_id');
SELECT * FROM recsys.user_profile(1, 'p_knn', 'colours', 'colour', item_col => 'colour');
SELECT * FROM recsys.user_profile(1, 'p_knn', 'colours', 'item_id');
SELECT * FROM recsys.user_profile(1, 'p_knn', 'colours', 'colour', k => 0);
SELECT * FROM recsys.user_profile(1, 'p_knn', 'colours', NULL);
SELECT * FROM recsys.user_profile(1, 'no_such_model', 'colours', 'colour');
SELECT * FROM recsys.user_profile(1, 'p_knn', 'no_such_table', 'colour');
CREATE TABLE text_ids (item_id text, colour text);
SELECT * FROM recsys.user_profile(1, 'p_knn', 'text_ids', 'colour');
CREATE SEQUENCE not_a_table;
SELECT * FROM recsys.user_profile(1, 'p_knn', 'not_a_table', 'colour');

-- the history side reads the source as the model does: with event weights
-- (user 4: item 1 bought, weight 10; red 2, 3 and blue 4 viewed, 1 each:
-- red 12 / 13, blue 1 / 13)
CREATE TABLE acts (user_id int, item_id int, kind text);
INSERT INTO acts SELECT user_id, item_id, CASE WHEN item_id = 1 THEN 'buy' ELSE 'view' END FROM buys;
SELECT version FROM recsys.train_item_knn('acts', 10, model => 'p_events', event_col => 'kind',
										  event_weights => '{"view": 1, "buy": 10}');
SELECT facet, history_items, round(history_share::numeric, 4) AS history_share
FROM recsys.user_profile(4, 'p_events', 'colours', 'colour') ORDER BY facet NULLS LAST;

-- similar_users: the cosine of stored user vectors; known by construction,
-- user 1's nearest are users 2 and 3 (the same items), and every red
-- buyer (2-6) is nearer than every blue-only buyer (7-11)
SELECT version FROM recsys.train_cf('buys', 4, model => 'p_als', iterations => 10);
SELECT array_agg(user_id ORDER BY user_id) AS nearest_of_1, bool_and(score > 0.99) AS alike
FROM recsys.similar_users(1, 2, 'p_als');
SELECT min(score) FILTER (WHERE user_id BETWEEN 2 AND 6) > max(score) FILTER (WHERE user_id BETWEEN 7 AND 11)
	   AS red_buyers_nearer
FROM recsys.similar_users(1, 100, 'p_als');
SELECT bool_and(score <= 1.0001 AND score >= -1.0001) AS cosines, count(*) FILTER (WHERE user_id = 1) AS self
FROM recsys.similar_users(1, 100, 'p_als');
-- user-kNN: its stored neighbour lists
SELECT version FROM recsys.train_user_knn('buys', 3, model => 'p_users');
SELECT s.user_id, round(s.score::numeric, 4) AS score
FROM recsys.similar_users(7, 3, 'p_users') s ORDER BY score DESC, user_id;
SELECT count(*) FROM recsys.similar_users(7, 1, 'p_users');
-- privacy: a model trained without per-user data refuses
SELECT version FROM recsys.train_cf('buys', 4, model => 'p_private', iterations => 3, store_users => false);
SELECT * FROM recsys.similar_users(1, 3, 'p_private');
-- kinds that store nothing per user: the one not-supported error (a
-- differentially private EASE among them)
SELECT version FROM recsys.train_ease('buys', 10, model => 'p_dp', epsilon => 1, delta => 1e-5, seed => 1);
SELECT * FROM recsys.similar_users(1, 3, 'p_dp');
SELECT * FROM recsys.similar_users(1, 3, 'p_knn');
-- errors
SELECT * FROM recsys.similar_users(999, 3, 'p_als');
SELECT * FROM recsys.similar_users(1, 0, 'p_als');
SELECT * FROM recsys.similar_users(NULL, 3, 'p_als');

-- comparing users stays within recsys.max_memory (12 bytes a user: 70,000
-- users pass 1 MB)
CREATE TABLE many AS SELECT u AS user_id, u % 7 AS item_id FROM generate_series(1, 70000) u;
SELECT n_users FROM recsys.train_cf('many', 1, model => 'p_many', iterations => 1);
SET recsys.max_memory = '1MB';
SELECT count(*) FROM recsys.similar_users(1, 3, 'p_many');
RESET recsys.max_memory;
SELECT count(*) FROM recsys.similar_users(1, 3, 'p_many');

-- privileges: the facets relation is read as the caller; the model's
-- source as its owner (the caller needs no right on it)
CREATE ROLE regress_recsys_prof_owner;
CREATE ROLE regress_recsys_prof_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_prof_owner;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO regress_recsys_prof_reader;
GRANT USAGE ON SCHEMA prof_test TO regress_recsys_prof_owner, regress_recsys_prof_reader;
GRANT SELECT ON buys TO regress_recsys_prof_owner;
SET ROLE regress_recsys_prof_owner;
SELECT version FROM recsys.train_cf('prof_test.buys', 4, model => 'p_owned', iterations => 3);
SELECT recsys.grant_model('p_owned', 'regress_recsys_prof_reader');
RESET ROLE;
SET ROLE regress_recsys_prof_reader;
SELECT * FROM recsys.user_profile(1, 'p_owned', 'prof_test.colours', 'colour');
SELECT count(*) AS similar FROM recsys.similar_users(1, 3, 'p_owned');
RESET ROLE;
GRANT SELECT (item_id, colour) ON colours TO regress_recsys_prof_reader;
SET ROLE regress_recsys_prof_reader;
SELECT facet, history_items FROM recsys.user_profile(1, 'p_owned', 'prof_test.colours', 'colour')
ORDER BY facet NULLS LAST;
-- a model not granted to the caller
SELECT * FROM recsys.similar_users(1, 3, 'p_als');
RESET ROLE;

SET ROLE regress_recsys_prof_owner;
SELECT recsys.drop_model('p_owned');
RESET ROLE;
SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'p\_%' ORDER BY name;
RESET search_path;
DROP SCHEMA prof_test CASCADE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_prof_owner, regress_recsys_prof_reader;
DROP ROLE regress_recsys_prof_owner;
DROP ROLE regress_recsys_prof_reader;
