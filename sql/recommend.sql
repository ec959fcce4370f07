-- serving: recommend, similar_items, score, explain
CREATE SCHEMA recommend_test;
SET search_path = recommend_test, public;
SET extra_float_digits = 0;

CREATE TABLE blocks AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id, 1 + j % 3 AS w
FROM generate_series(1, 30) u, generate_series(0, 9) j
WHERE j <> u % 10;
-- item 130 is bought only by user 1, so popularity has a clear last place
INSERT INTO blocks VALUES (1, 130, 1);
CREATE INDEX ON blocks (user_id);
SELECT version FROM recsys.train_cf('blocks', factors => 4, model => 'shop', iterations => 10);

-- best first: user 2's missing item of their block; seen items excluded by default
SELECT (array_agg(item_id ORDER BY ordinality))[1] AS first, count(*)
FROM recsys.recommend(2, 3, 'shop') WITH ORDINALITY;
SELECT count(*) AS seen_in_list
FROM recsys.recommend(1, 10, 'shop') r JOIN blocks b ON b.user_id = 1 AND b.item_id = r.item_id;
SELECT count(*) AS seen_in_list
FROM recsys.recommend(1, 10, 'shop', exclude_seen => false) r JOIN blocks b ON b.user_id = 1 AND b.item_id = r.item_id;
-- scores come out in descending order
SELECT bool_and(score <= prev) AS descending FROM (
	SELECT score, lag(score) OVER (ORDER BY ordinality) AS prev
	FROM recsys.recommend(5, 20, 'shop') WITH ORDINALITY) s WHERE prev IS NOT NULL;
-- candidates restrict the ranking (unknown candidates are ignored)
SELECT (array_agg(item_id ORDER BY ordinality))[1] AS first, count(*),
	   array_agg(item_id ORDER BY item_id) AS items
FROM recsys.recommend(2, 5, 'shop', candidates => ARRAY[125, 102, 110, 999]) WITH ORDINALITY;
-- new interactions count at once: a seen item is no longer recommended
INSERT INTO blocks VALUES (1, 101, 1);
SELECT count(*) AS recommended_101 FROM recsys.recommend(1, 10, 'shop') WHERE item_id = 101;
DELETE FROM blocks WHERE user_id = 1 AND item_id = 101;
-- k larger than the catalog gives every eligible item once
SELECT count(*), count(DISTINCT item_id) FROM recsys.recommend(2, 10000, 'shop', exclude_seen => false);

-- an unknown user gets the model's cold-start ranking, marked so (and a
-- DEBUG1 message): the average user's scores, on the scale of a known
-- user's (every item of these blocks has 9 users; item 130 has one)
SET client_min_messages = debug1;
SELECT count(*), min(reason) AS reason, round(min(score)::numeric, 1) AS low,
	   round(max(score)::numeric, 1) AS high
FROM recsys.recommend(424242, 3, 'shop');
RESET client_min_messages;
SELECT reason, count(*) FROM recsys.recommend(2, 5, 'shop') GROUP BY reason;

-- similar items: cosine of item factors stays within the block
SELECT count(*) FILTER (WHERE item_id BETWEEN 110 AND 119) AS same_block, count(*)
FROM recsys.similar_items(112, 9, 'shop');
SELECT count(*) AS self FROM recsys.similar_items(112, 50, 'shop') WHERE item_id = 112;

-- score: cheap enough for ORDER BY in a product query
CREATE TABLE products AS SELECT i AS id, 'product ' || i AS title FROM generate_series(100, 131) i;
SELECT count(*) FILTER (WHERE id BETWEEN 110 AND 119) AS own_block FROM (
	SELECT p.id FROM products p WHERE p.id BETWEEN 100 AND 129
	ORDER BY recsys.score(11, p.id, 'shop') DESC NULLS LAST, p.id LIMIT 3) top;
-- the user's held-out item scores above an item of another block
SELECT recsys.score(11, 111, 'shop') > recsys.score(11, 125, 'shop') AS block_wins;
-- unknown item: NULL; unknown user: the item's cold-start score, as recommend has it
SELECT recsys.score(11, 999, 'shop') IS NULL AS unknown_item,
	   recsys.score(424242, 130, 'shop') = (SELECT score FROM recsys.recommend(424242, 100, 'shop')
											WHERE item_id = 130) AS cold_start_score;

-- explain: the user's own items, largest contribution first; for ALS they
-- add up to the score
SELECT count(*) AS explained, bool_and(b.item_id IS NOT NULL) AS all_own_items
FROM recsys.explain(11, 111, 100, 'shop') e LEFT JOIN blocks b ON b.user_id = 11 AND b.item_id = e.item_id;
SELECT abs((SELECT sum(contribution) FROM recsys.explain(11, 111, 100, 'shop'))
		   - recsys.score(11, 111, 'shop')) < 0.05 * recsys.score(11, 111, 'shop') AS sums_to_score;
SELECT count(*) AS no_items FROM recsys.explain(424242, 111, 5, 'shop');

-- the cache follows retraining, in this session and others
SELECT version FROM recsys.train_cf('blocks', factors => 4, model => 'shop', iterations => 10, seed => 7);
SELECT count(*) FROM recsys.recommend(1, 3, 'shop');
SELECT recsys.drop_model('shop');
SELECT * FROM recsys.recommend(1, 3, 'shop');

-- errors
SELECT version FROM recsys.train_cf('blocks', factors => 4, model => 'shop', iterations => 10);
SELECT * FROM recsys.recommend(1, 0, 'shop');
SELECT * FROM recsys.recommend(1, 10001, 'shop');
SELECT * FROM recsys.recommend(NULL, 3, 'shop');
SELECT * FROM recsys.recommend(1, NULL, 'shop');
SELECT * FROM recsys.recommend(1, 3, NULL);
SELECT * FROM recsys.recommend(1, 3, 'no_such_model');
SELECT * FROM recsys.recommend(1, 3, 'shop', exclude_seen => NULL);
SELECT * FROM recsys.recommend(1, 3, 'shop', candidates => ARRAY[1, NULL]);
SELECT * FROM recsys.recommend(1, 3, 'shop', candidates => ARRAY[[1, 2], [3, 4]]);
SELECT * FROM recsys.similar_items(999, 3, 'shop');
SELECT * FROM recsys.similar_items(NULL, 3, 'shop');
SELECT * FROM recsys.similar_items(100, 0, 'shop');
SELECT recsys.score(NULL, 100, 'shop');
SELECT recsys.score(1, 100, 'nope');
SELECT * FROM recsys.explain(1, 999, 5, 'shop');
SELECT * FROM recsys.explain(1, 100, 0, 'shop');
-- the source is gone: excluding seen items needs it, plain scoring does not
ALTER TABLE blocks RENAME TO blocks_old;
SELECT * FROM recsys.recommend(1, 3, 'shop');
SELECT count(*) FROM recsys.recommend(1, 3, 'shop', exclude_seen => false);
ALTER TABLE blocks_old RENAME TO blocks;
-- the caller needs to be able to read the catalog and to use the model;
-- the source is read as the model's owner, so the caller needs no
-- privilege on it
CREATE ROLE recsys_app;
\set VERBOSITY terse
SET ROLE recsys_app;
SELECT * FROM recsys.recommend(1, 3, 'shop');
RESET ROLE;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO recsys_app;
SET ROLE recsys_app;
SELECT * FROM recsys.recommend(1, 3, 'shop');
RESET ROLE;
SELECT recsys.grant_model('shop', 'recsys_app');
SET ROLE recsys_app;
SELECT count(*) FROM recsys.recommend(1, 3, 'shop');
SELECT count(*) FROM recsys.recommend(1, 3, 'shop', exclude_seen => false);
SELECT count(*) FROM recommend_test.blocks;
RESET ROLE;
\set VERBOSITY default
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM recsys_app;
SELECT recsys.revoke_model('shop', 'recsys_app');
DROP ROLE recsys_app;

-- recsys's own queries cannot be hijacked through the caller's search_path
CREATE SCHEMA evil;
CREATE FUNCTION evil.get(jsonb, text) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN RAISE NOTICE 'hijacked'; RETURN pg_catalog.jsonb_object_field_text($1, $2); END $$;
CREATE OPERATOR evil.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = evil.get);
CREATE FUNCTION evil.count(anyelement) RETURNS bigint LANGUAGE plpgsql AS
	$$ BEGIN RAISE NOTICE 'hijacked'; RETURN 0; END $$;
SET search_path = evil, pg_catalog, recommend_test;
SELECT count(*) AS served FROM recsys.recommend(2, 3, 'shop');
SELECT version FROM recsys.train_cf('blocks', factors => 4, model => 'shop', iterations => 2);
SELECT count(*) AS served FROM recsys.recommend(2, 3, 'shop');
SET search_path = recommend_test, public;
DROP SCHEMA evil CASCADE;

SELECT recsys.drop_model('shop');
RESET search_path;
DROP SCHEMA recommend_test CASCADE;
