-- recsys._seen_items: the user's items as recommend's exclude_seen reads
-- them, which search uses for "bought before" (one recommend call)
\set VERBOSITY terse
CREATE TABLE seen_events (user_id bigint, item_id bigint, rating real);
INSERT INTO seen_events VALUES
	(10, 4, 5), (10, 5, 4), (10, 2, 3),
	(11, 1, 5), (11, 3, 1), (11, 3, 2),	-- item 3 twice: one item
	(12, 1, 2), (12, 3, 3), (12, 6, 4),
	(13, 1, 1), (13, 3, 5), (13, 7, 3), (13, 4, 2),
	(14, 2, 4), (14, 5, 5), (14, 4, 1),
	(15, 99, 1);	-- an item nobody else has
SELECT n_items FROM recsys.train_item_knn('seen_events', model => 'seen_knn', item_col => 'item_id');
SELECT n_items FROM recsys.train_popular('seen_events', model => 'seen_pop');
-- known by construction: user 10 has 2, 4, 5; 11 has 1 and 3 (3 twice);
-- 15 only 99; 99 nothing
SELECT u, recsys._seen_items(u, 'seen_knn') FROM unnest('{10,11,15,99}'::bigint[]) u;
-- the same as what recommend leaves out with exclude_seen, for each kind
-- and user (the difference of exclude_seen false and true over all items)
SELECT m, u,
	   recsys._seen_items(u, m) = coalesce((
		   SELECT array_agg(a.item_id ORDER BY a.item_id)
		   FROM recsys.recommend(u, 100, m, false) a
		   WHERE a.item_id NOT IN (SELECT b.item_id FROM recsys.recommend(u, 100, m, true) b)), '{}')
		   AS same_as_recommend
FROM unnest('{seen_knn,seen_pop}'::text[]) m, generate_series(10, 15) u
ORDER BY 1, 2;
-- errors: as recommend's
SELECT recsys._seen_items(NULL, 'seen_knn');
SELECT recsys._seen_items(11, NULL);
SELECT recsys._seen_items(11, 'no_such_model');
-- as recommend: a role that may not use the model is refused (42501),
-- a grantee reads the same items as the owner
CREATE ROLE regress_recsys_seen_owner;
CREATE ROLE regress_recsys_seen_other;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_seen_owner, regress_recsys_seen_other;
GRANT SELECT ON seen_events TO regress_recsys_seen_owner;
SET ROLE regress_recsys_seen_owner;
SELECT name FROM recsys.train_popular('seen_events', model => 'seen_own');
SELECT recsys._seen_items(11, 'seen_own');
SET ROLE regress_recsys_seen_other;
SELECT recsys._seen_items(11, 'seen_own');
RESET ROLE;
SET ROLE regress_recsys_seen_owner;
SELECT recsys.grant_model('seen_own', 'regress_recsys_seen_other');
SET ROLE regress_recsys_seen_other;
SELECT recsys._seen_items(11, 'seen_own');
RESET ROLE;
SELECT recsys.drop_model('seen_own');
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_seen_owner, regress_recsys_seen_other;
REVOKE ALL ON seen_events FROM regress_recsys_seen_owner;
DROP ROLE regress_recsys_seen_owner;
DROP ROLE regress_recsys_seen_other;
SELECT recsys.drop_model('seen_knn');
SELECT recsys.drop_model('seen_pop');
DROP TABLE seen_events;
