-- recommend(..., diversity => lambda): maximal marginal relevance re-ranking
CREATE SCHEMA div_test;
SET search_path = div_test, public;

-- Three categories of six items (item_id / 10 is the category): ten users
-- per category buy five of its six items (so a category's items co-occur),
-- five users buy one item of each category (so the categories are linked,
-- weakly), and user 1000 bought three items of category 1.
CREATE TABLE events (user_id bigint, item_id bigint);
INSERT INTO events
SELECT c * 100 + u, c * 10 + i
FROM generate_series(1, 3) c, generate_series(1, 10) u, generate_series(1, 6) i
WHERE i <> 1 + u % 6;
INSERT INTO events SELECT 900 + j, c * 10 + 1 + j FROM generate_series(0, 4) j, generate_series(1, 3) c;
INSERT INTO events VALUES (1000, 11), (1000, 12), (1000, 13);
CREATE INDEX ON events (user_id);

SELECT 1 FROM recsys.train_item_knn('events', 10, model => 'div_knn');
SELECT 1 FROM recsys.train_ease('events', 10, model => 'div_ease');
SELECT 1 FROM recsys.train_cf('events', 3, model => 'div_als', iterations => 15, seed => 1);
SELECT 1 FROM recsys.train_popular('events', model => 'div_pop');
SELECT 1 FROM recsys.train_user_knn('events', 5, model => 'div_uknn');

-- By construction: without diversity every model recommends the rest of
-- category 1 (14, 15, 16); with diversity 0.5 the list spans categories.
-- (Without diversity the three are near-ties whose order depends on the
-- CPU's float rounding (AVX2 or AVX-512 kernels): shown sorted.)
SELECT m.model, d.diversity,
	   array_agg(r.item_id ORDER BY CASE WHEN d.diversity = 0 THEN r.item_id ELSE r.ord END) AS items,
	   count(DISTINCT r.item_id / 10) AS categories
FROM unnest(ARRAY['div_knn', 'div_ease', 'div_als']) m(model),
	 unnest(ARRAY[0, 0.5]::real[]) d(diversity),
	 recsys.recommend(1000, 3, m.model, diversity => d.diversity) WITH ORDINALITY r(item_id, score, reason, ord)
GROUP BY 1, 2 ORDER BY 1, 2;

-- diversity 0 is the ranking without the argument: same rows, same scores
SELECT m.model, u.u,
	   (SELECT array_agg(r ORDER BY o) FROM recsys.recommend(u, 8, m.model) WITH ORDINALITY r(i, s, why, o)) =
	   (SELECT array_agg(r ORDER BY o) FROM recsys.recommend(u, 8, m.model, diversity => 0) WITH ORDINALITY r(i, s, why, o))
	   AS same
FROM unnest(ARRAY['div_knn', 'div_ease', 'div_als', 'div_pop', 'div_uknn']) m(model),
	 (VALUES (1000), (101), (901), (5555)) u(u)
ORDER BY 1, 2;

-- the rows keep the model's scores, in the order MMR picked them; the
-- candidates argument bounds the pool
SELECT item_id, round(score::numeric, 3) AS score
FROM recsys.recommend(1000, 3, 'div_knn', diversity => 0.5);
SELECT array_agg(item_id ORDER BY item_id) AS items
FROM recsys.recommend(1000, 3, 'div_knn', candidates => '{14, 15, 16, 24}', diversity => 1);
-- diversity 1: relevance counts for nothing once the first item is in
SELECT array_agg(item_id / 10) AS categories FROM recsys.recommend(1000, 3, 'div_knn', diversity => 1);

-- a model without item similarities: popularity and user-kNN refuse, or
-- take the similarities of the model named by similarity_model
SELECT * FROM recsys.recommend(1000, 3, 'div_pop', diversity => 0.5);
SELECT * FROM recsys.recommend(1000, 3, 'div_uknn', diversity => 0.5);
SELECT array_agg(item_id / 10 ORDER BY item_id) AS categories
FROM recsys.recommend(1000, 3, 'div_pop', diversity => 0);
SELECT count(DISTINCT item_id / 10) AS categories
FROM recsys.recommend(1000, 3, 'div_pop', diversity => 0.5, similarity_model => 'div_knn');
SELECT count(DISTINCT item_id / 10) AS categories
FROM recsys.recommend(1000, 3, 'div_uknn', diversity => 0.5, similarity_model => 'div_als');
-- a blend takes its first member that has similarities (here the second)
SELECT 1 FROM recsys.train_blend('{div_pop, div_knn}', '{0.1, 1}', model => 'div_blend');
SELECT array_agg(item_id ORDER BY r.ord) = (SELECT array_agg(item_id ORDER BY ord)
	FROM recsys.recommend(1000, 3, 'div_blend', diversity => 0.5, similarity_model => 'div_knn')
	WITH ORDINALITY q(item_id, score, reason, ord)) AS as_its_knn_member
FROM recsys.recommend(1000, 3, 'div_blend', diversity => 0.5) WITH ORDINALITY r(item_id, score, reason, ord);
SELECT 1 FROM recsys.train_blend('{div_pop, div_uknn}', model => 'div_blend2');
SELECT * FROM recsys.recommend(1000, 3, 'div_blend2', diversity => 0.5);
SELECT count(*) FROM recsys.recommend(1000, 3, 'div_blend2', diversity => 0.5, similarity_model => 'div_ease');

-- an anonymous session of three category 1 items, likewise
SELECT m.model, d.diversity, count(DISTINCT r.item_id / 10) AS categories
FROM unnest(ARRAY['div_knn', 'div_ease', 'div_als']) m(model),
	 unnest(ARRAY[0, 0.5]::real[]) d(diversity),
	 recsys.recommend_session('{11, 12, 13}', 3, m.model, diversity => d.diversity) r
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT array_agg(r ORDER BY o) = (SELECT array_agg(r ORDER BY o)
	FROM recsys.recommend_session('{11, 12, 13}', 5, 'div_ease', diversity => 0) WITH ORDINALITY r(i, s, why, o))
	AS same
FROM recsys.recommend_session('{11, 12, 13}', 5, 'div_ease') WITH ORDINALITY r(i, s, why, o);
SELECT count(DISTINCT item_id / 10) AS categories
FROM recsys.recommend_session('{11, 12, 13}', 3, 'div_pop', diversity => 0.5, similarity_model => 'div_knn');
SELECT * FROM recsys.recommend_session('{11, 12, 13}', 3, 'div_pop', diversity => 0.5);
SELECT * FROM recsys.recommend_session('{11, 12, 13}', 3, 'div_knn', diversity => 1.01);

-- bad arguments
SELECT * FROM recsys.recommend(1000, 3, 'div_knn', diversity => -0.1);
SELECT * FROM recsys.recommend(1000, 3, 'div_knn', diversity => 1.5);
SELECT * FROM recsys.recommend(1000, 3, 'div_knn', diversity => 'NaN');
SELECT * FROM recsys.recommend(1000, 3, 'div_knn', diversity => NULL);
SELECT * FROM recsys.recommend(1000, 1001, 'div_knn', diversity => 0.5);
SELECT count(*) FROM recsys.recommend(1000, 1000, 'div_knn', diversity => 0.5);
SELECT count(*) FROM recsys.recommend(1000, 1001, 'div_knn', diversity => 0);
SELECT * FROM recsys.recommend(1000, 3, 'div_knn', diversity => 0.5, similarity_model => 'no_such_model');
-- a similarity_model is checked even when diversity is 0
SELECT * FROM recsys.recommend(1000, 3, 'div_knn', similarity_model => 'no_such_model');
SELECT * FROM recsys.recommend(1000, 3, 'div_knn', similarity_model => 'div_pop');

-- evaluate measures the trade: user 1000 holds out 14 and 21; ild@3 is the
-- mean 1 - cosine of the listed items' buyer sets
CREATE TABLE held_out (user_id bigint, item_id bigint);
INSERT INTO held_out VALUES (1000, 14), (1000, 21), (101, 11), (202, 23);
SELECT d.diversity, e.metric, round(e.value::numeric, 4) AS value
FROM unnest(ARRAY[0, 0.5]::real[]) d(diversity),
	 recsys.evaluate('div_knn', 'held_out', 3, diversity => d.diversity) e
WHERE e.metric IN ('ndcg@3', 'ild@3', 'users') ORDER BY 2, 1;
SELECT metric, round(value::numeric, 4) AS value
FROM recsys.evaluate('div_pop', 'held_out', 3, diversity => 0.5, similarity_model => 'div_ease')
WHERE metric = 'ild@3';
SELECT * FROM recsys.evaluate('div_pop', 'held_out', 3, diversity => 0.5);
SELECT * FROM recsys.evaluate('div_knn', 'held_out', 3, diversity => 2);
-- ild over a category relation (train_ease's features layout): user 1000's
-- list is one category at 0 (ild 0), three at 0.5 (ild 1)
CREATE TABLE categories AS SELECT DISTINCT item_id, (item_id / 10)::text AS feature FROM events;
CREATE TABLE held_1000 (user_id bigint, item_id bigint);
INSERT INTO held_1000 VALUES (1000, 14);
SELECT d.diversity, round(e.value::numeric, 4) AS ild
FROM unnest(ARRAY[0, 0.5]::real[]) d(diversity),
	 recsys.evaluate('div_knn', 'held_1000', 3, diversity => d.diversity, features => 'categories') e
WHERE e.metric = 'ild@3' ORDER BY 1;
SELECT * FROM recsys.evaluate('div_knn', 'held_1000', 3, features => 'held_out');
-- ild is reported up to k = 100
SELECT count(*) FILTER (WHERE metric LIKE 'ild@%') AS ild_rows
FROM recsys.evaluate('div_knn', 'held_out', 101);

-- diversity by category: a content item-kNN trained on the item -> category
-- relation (categories as its "users") is a similarity model that is 1
-- within a category and 0 across, whatever the buyers did.  By
-- construction, with lambda above 1/2 MMR never takes a second item of a
-- category while the pool holds one of another (its penalty lambda
-- outweighs any scaled relevance (1 - lambda) * 1): every list of 3 spans
-- 3 categories, for every model, and evaluate's ild@3 over the categories
-- (the share of the list's pairs in different categories) is 1.
CREATE TABLE category_pairs AS SELECT DISTINCT item_id / 10 AS category_id, item_id FROM events;
SELECT 1 FROM recsys.train_item_knn('category_pairs', 100, model => 'div_category',
									user_col => 'category_id');
-- (how many lists repeat a category without diversity depends on near-ties
-- broken by the CPU's float rounding: only whether any does is shown)
SELECT m.model, d.diversity,
	   count(*) FILTER (WHERE r.categories < 3) > 0 AS some_list_within_fewer,
	   count(*) AS lists
FROM unnest(ARRAY['div_knn', 'div_ease', 'div_als', 'div_pop', 'div_uknn']) m(model),
	 unnest(ARRAY[0, 0.6]::real[]) d(diversity),
	 (SELECT DISTINCT user_id FROM events) u,
	 LATERAL (SELECT count(DISTINCT item_id / 10) AS categories
			  FROM recsys.recommend(u.user_id, 3, m.model, diversity => d.diversity,
									similarity_model => 'div_category')) r
GROUP BY 1, 2 ORDER BY 1, 2;
SELECT array_agg(item_id ORDER BY ord) AS items
FROM recsys.recommend(1000, 3, 'div_ease', diversity => 0.6, similarity_model => 'div_category')
	 WITH ORDINALITY r(item_id, score, reason, ord);
SELECT d.diversity, e.value < 0.99 AS repeats_categories, e.value = 1 AS all_distinct
FROM unnest(ARRAY[0, 0.6]::real[]) d(diversity),
	 recsys.evaluate('div_ease', 'held_out', 3, diversity => d.diversity,
					 similarity_model => 'div_category', features => 'categories') e
WHERE e.metric = 'ild@3' ORDER BY 1;

-- similarity_model is a model like any other: a role may name only models
-- it may use
CREATE ROLE regress_recsys_div_a;
CREATE ROLE regress_recsys_div_b;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_div_a, regress_recsys_div_b;
GRANT USAGE ON SCHEMA div_test TO regress_recsys_div_a, regress_recsys_div_b;
GRANT SELECT ON events TO regress_recsys_div_a, regress_recsys_div_b;
SET ROLE regress_recsys_div_a;
SELECT 1 FROM recsys.train_item_knn('div_test.events', 10, model => 'div_a_knn');
SET ROLE regress_recsys_div_b;
SELECT 1 FROM recsys.train_popular('div_test.events', model => 'div_b_pop');
SELECT * FROM recsys.recommend(1000, 3, 'div_b_pop', diversity => 0.5, similarity_model => 'div_a_knn');
SELECT * FROM recsys.recommend(1000, 3, 'div_b_pop', similarity_model => 'div_a_knn');
SET ROLE regress_recsys_div_a;
SELECT recsys.grant_model('div_a_knn', 'regress_recsys_div_b');
SET ROLE regress_recsys_div_b;
SELECT count(DISTINCT item_id / 10) AS categories
FROM recsys.recommend(1000, 3, 'div_b_pop', diversity => 0.5, similarity_model => 'div_a_knn');
RESET ROLE;
SELECT recsys.drop_model(name) FROM recsys.models WHERE name LIKE 'div\_%' ORDER BY name;
DROP SCHEMA div_test CASCADE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_div_a, regress_recsys_div_b;
DROP ROLE regress_recsys_div_a;
DROP ROLE regress_recsys_div_b;
