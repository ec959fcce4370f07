-- Review s8, items 2 and 3: another role must not take over an
-- experiment's variant by reusing a model's name, and a role with BYPASSRLS
-- must not use models it was not granted.
SET client_min_messages = warning;
CREATE ROLE regress_recsys_fixr_alice;
CREATE ROLE regress_recsys_fixr_bob;
CREATE ROLE regress_recsys_fixr_app;
CREATE ROLE regress_recsys_fixr_etl BYPASSRLS;
RESET client_min_messages;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_fixr_alice, regress_recsys_fixr_bob, regress_recsys_fixr_app;
GRANT SELECT ON ALL TABLES IN SCHEMA recsys TO regress_recsys_fixr_etl;
CREATE TABLE takeover_events (user_id bigint, item_id bigint);
-- by construction: item 10 is the most popular (5 users), then 11 (4), 12 (3)
INSERT INTO takeover_events SELECT u, i FROM generate_series(1, 5) u, generate_series(10, 14) i WHERE i - 10 < 6 - u;
CREATE TABLE takeover_bob (user_id bigint, item_id bigint);
INSERT INTO takeover_bob SELECT 1, 666 FROM generate_series(1, 5);
CREATE TABLE takeover_facets (item_id bigint, cat text);
INSERT INTO takeover_facets SELECT i, 'c' || i FROM generate_series(10, 14) i;
GRANT SELECT ON takeover_events TO regress_recsys_fixr_alice;
GRANT SELECT ON takeover_bob TO regress_recsys_fixr_bob;
GRANT SELECT ON takeover_facets TO regress_recsys_fixr_etl, regress_recsys_fixr_alice;

-- 2. alice's experiment serves her model shop_pop in variant b
SET ROLE regress_recsys_fixr_alice;
SELECT 1 FROM recsys.train_popular('takeover_events', model => 'shop_pop');
SELECT 1 FROM recsys.train_popular('takeover_events', model => 'a_pop');
SELECT recsys._experiment_variants_stated(variants) || '[]' AS variants,
	   (SELECT array_agg(v ->> 'model_owner') FROM jsonb_array_elements(variants) v) AS model_owners
FROM recsys.create_experiment('e2',
	'[{"name": "a", "model": "a_pop"}, {"name": "b", "model": "shop_pop"}]', salt => 'takeover');
SELECT recsys.grant_experiment('e2', 'regress_recsys_fixr_app');
SELECT recsys.grant_model('shop_pop', 'regress_recsys_fixr_app');
SELECT recsys.grant_model('a_pop', 'regress_recsys_fixr_app');
-- (a user of variant b who has items left to see: 13 and 14 for user 3)
SELECT u AS b_user FROM generate_series(2, 5) u WHERE recsys.assign('e2', u) = 'b' LIMIT 1 \gset
\echo :b_user
-- the drop is refused while the experiment names the model (2BP01), as
-- under a blend; so is a rename
\set VERBOSITY default
SELECT recsys.drop_model('shop_pop');
UPDATE recsys.models SET name = 'shop_pop2' WHERE name = 'shop_pop';
\set VERBOSITY terse
RESET ROLE;
SET ROLE regress_recsys_fixr_app;
SELECT item_id, variant FROM recsys.recommend_for_experiment('e2', :b_user, 2, log => false) ORDER BY item_id;
-- the model given to bob (its owner changes) is refused at serving: the
-- experiment recorded alice as its owner
RESET ROLE;
SELECT recsys.alter_model_owner('shop_pop', 'regress_recsys_fixr_bob');
SET ROLE regress_recsys_fixr_bob;
SELECT 1 FROM recsys.train_popular('takeover_bob', model => 'shop_pop');
SELECT recsys.grant_model('shop_pop', 'PUBLIC');
SET ROLE regress_recsys_fixr_app;
\set VERBOSITY default
SELECT item_id, variant FROM recsys.recommend_for_experiment('e2', :b_user, 2, log => false);
\set VERBOSITY terse
-- alice states the variants again: the experiment now serves bob's model knowingly
SET ROLE regress_recsys_fixr_alice;
SELECT variants -> 1 ->> 'model_owner' AS model_owner FROM recsys.alter_experiment('e2',
	'[{"name": "a", "model": "a_pop"}, {"name": "b", "model": "shop_pop"}]');
SET ROLE regress_recsys_fixr_app;
SELECT item_id, variant FROM recsys.recommend_for_experiment('e2', :b_user, 2, log => false);
-- once the experiment is gone, the model may go
SET ROLE regress_recsys_fixr_alice;
SELECT recsys.drop_experiment('e2');
SET ROLE regress_recsys_fixr_bob;
SELECT recsys.drop_model('shop_pop');

-- 3. a BYPASSRLS role with SELECT on the catalog sees alice's rows, but
-- may not use her models nor read her history through them
SET ROLE regress_recsys_fixr_etl;
SELECT count(*) FROM recsys.models WHERE name = 'a_pop';
SELECT * FROM recsys.recommend(1, 3, 'a_pop');
SELECT * FROM recsys.user_profile(1, 'a_pop', 'takeover_facets', 'cat');
SELECT recsys.score(1, 10, 'a_pop');
SELECT * FROM recsys.similar_items(10, 3, 'a_pop');
-- granted, it may (by popularity 10, 11, 12, 13, 14; user 5 saw only 10)
SET ROLE regress_recsys_fixr_alice;
SELECT recsys.grant_model('a_pop', 'regress_recsys_fixr_etl');
SET ROLE regress_recsys_fixr_etl;
SELECT item_id FROM recsys.recommend(5, 3, 'a_pop') ORDER BY score DESC, item_id;
RESET ROLE;
SELECT recsys.drop_model('a_pop');
DROP TABLE takeover_events, takeover_bob, takeover_facets;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys
	FROM regress_recsys_fixr_alice, regress_recsys_fixr_bob, regress_recsys_fixr_app, regress_recsys_fixr_etl;
DROP ROLE regress_recsys_fixr_alice;
DROP ROLE regress_recsys_fixr_bob;
DROP ROLE regress_recsys_fixr_app;
DROP ROLE regress_recsys_fixr_etl;
