-- Review s8, 7 and 8: train_auto and tune refuse what their end would
-- refuse before the search trains anything, with errors that name the
-- argument.  Each grid below holds a setting the trainer refuses
-- (factors 0): a search that trained first would fail on it instead.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE ROLE regress_recsys_fixr_owner;
CREATE ROLE regress_recsys_fixr_other;
RESET client_min_messages;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_fixr_owner, regress_recsys_fixr_other;
CREATE TABLE search_events (user_id bigint, item_id bigint, weight numeric, label text);
INSERT INTO search_events SELECT u, i, 1, 'x' FROM generate_series(1, 20) u, generate_series(1, 10) i WHERE (u + i) % 3 = 0;
GRANT SELECT ON search_events TO regress_recsys_fixr_owner, regress_recsys_fixr_other;
SET ROLE regress_recsys_fixr_owner;
SELECT 1 FROM recsys.train_popular('search_events', model => 'owned_pop');
RESET ROLE;

-- tune: a name of 64 bytes in 32 characters, another role's model, a
-- model of another algorithm (the candidates' factors 0 would fail first)
SELECT * FROM recsys.tune('als', 'search_events', 'search_events', '{"factors": [0]}', model => repeat('é', 32));
SET ROLE regress_recsys_fixr_other;
SELECT * FROM recsys.tune('als', 'search_events', 'search_events', '{"factors": [0]}', model => 'owned_pop');
SET ROLE regress_recsys_fixr_owner;
SELECT * FROM recsys.tune('als', 'search_events', 'search_events', '{"factors": [0]}', model => 'owned_pop');
-- (63 bytes pass the check: the grid's error comes)
SELECT * FROM recsys.tune('als', 'search_events', 'search_events', '{"factors": [0]}', model => repeat('é', 31) || 'x');
RESET ROLE;

-- train_auto: the name in bytes, a two-dimensional families array, an id
-- column that is not an integer, a budget beyond 30 days
SELECT count(*) FROM recsys.train_auto('search_events', model => repeat('é', 32), budget => '20 s', families => '{popular}');
SELECT count(*) FROM recsys.train_auto('search_events', model => 'auto_x', budget => '20 s', families => '{{popular},{bm25}}');
SELECT count(*) FROM recsys.train_auto('search_events', model => 'auto_x', budget => '20 s', user_col => 'weight');
SELECT count(*) FROM recsys.train_auto('search_events', model => 'auto_x', budget => '20 s', item_col => 'label');
SELECT count(*) FROM recsys.train_auto('search_events', model => 'auto_x', budget => '1000000 years');
SELECT count(*) FROM recsys.train_auto('search_events', model => 'auto_x', budget => '31 days');
SELECT count(*) FROM recsys.models WHERE name LIKE 'auto_x%' OR name LIKE '\_recsys%';

SELECT recsys.drop_model('owned_pop');
DROP TABLE search_events;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fixr_owner, regress_recsys_fixr_other;
DROP ROLE regress_recsys_fixr_owner;
DROP ROLE regress_recsys_fixr_other;
