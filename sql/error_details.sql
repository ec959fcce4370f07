-- Errors that name what they are about.
SET client_min_messages = warning;
SET recsys.threads = 1;

-- 1. An FM re-ranker reads its base's source with the rights of the
-- base's owner: when that fails, the error says which re-ranker, which
-- base and which role (not a bare "permission denied for table").
CREATE ROLE regress_recsys_fix5_base;
CREATE ROLE regress_recsys_fix5_fm;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_fix5_base, regress_recsys_fix5_fm;
CREATE TABLE ed_events AS
	SELECT u AS user_id, i AS item_id, 1.0::real AS weight
	FROM generate_series(1, 40) u, generate_series(1, 30) i WHERE (u * 7 + i * 3) % 5 < 2;
CREATE TABLE ed_base_src AS SELECT * FROM ed_events;
GRANT SELECT ON ed_base_src TO regress_recsys_fix5_base;
GRANT SELECT ON ed_events TO regress_recsys_fix5_fm;
SET ROLE regress_recsys_fix5_base;
SELECT version FROM recsys.train_cf('ed_base_src', 4, 'ed_base', iterations => 3);
SELECT recsys.grant_model('ed_base', 'regress_recsys_fix5_fm');
RESET ROLE;
SET ROLE regress_recsys_fix5_fm;
SELECT version FROM recsys.train_fm('ed_events', 'ed_base', 'ed_fm', factors => 4, epochs => 2, pool => 10);
SELECT count(*) FROM recsys.recommend(2, 5, 'ed_fm');
RESET ROLE;
-- the base's owner loses its source
REVOKE SELECT ON ed_base_src FROM regress_recsys_fix5_base;
SET ROLE regress_recsys_fix5_fm;
SELECT count(*) FROM recsys.recommend(2, 5, 'ed_fm');
RESET ROLE;
-- the base's source is gone
GRANT SELECT ON ed_base_src TO regress_recsys_fix5_base;
ALTER TABLE ed_base_src RENAME TO ed_base_src_old;
SET ROLE regress_recsys_fix5_fm;
SELECT count(*) FROM recsys.recommend(2, 5, 'ed_fm');
RESET ROLE;
ALTER TABLE ed_base_src_old RENAME TO ed_base_src;
SET ROLE regress_recsys_fix5_fm;
SELECT count(*) FROM recsys.recommend(2, 5, 'ed_fm');
SELECT recsys.drop_model('ed_fm');
RESET ROLE;
SET ROLE regress_recsys_fix5_base;
SELECT recsys.drop_model('ed_base');
RESET ROLE;
DROP TABLE ed_base_src, ed_events;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fix5_base, regress_recsys_fix5_fm;
DROP ROLE regress_recsys_fix5_base;
DROP ROLE regress_recsys_fix5_fm;

-- 2. recsys.max_memory: the rows read when the budget ran out, not the
-- size of the buffer being grown.  By construction: 1,000 rows with a
-- NULL user come first (skipped), then 65,536 rows fill the first
-- buffer; the next row, the 66,537th read, needs it doubled to 131,072
-- rows (2.5 MB > 1 MB).
CREATE TABLE ed_big (user_id int, item_id int);
INSERT INTO ed_big SELECT NULL, g FROM generate_series(1, 1000) g;
INSERT INTO ed_big SELECT g % 50, g % 200 FROM generate_series(1, 70000) g;
SET recsys.max_memory = '1MB';
SELECT * FROM recsys.source_stats('ed_big');
RESET recsys.max_memory;
DROP TABLE ed_big;

-- 3. A model's source is read with the rights of the model's owner, also
-- when another role serves it: the permission error says so, names the
-- model and that role, and its hint grants to that role (not to the
-- calling role, which is not the one that needs SELECT).
CREATE ROLE regress_recsys_fix2a_src;
CREATE ROLE regress_recsys_fix2a_alice;
CREATE ROLE regress_recsys_fix2a_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_fix2a_alice, regress_recsys_fix2a_app;
CREATE TABLE ed_owned AS
	SELECT u AS user_id, i AS item_id FROM generate_series(1, 10) u, generate_series(1, 5) i WHERE (u + i) % 3 = 0;
ALTER TABLE ed_owned OWNER TO regress_recsys_fix2a_src;
SET ROLE regress_recsys_fix2a_src;
GRANT SELECT ON ed_owned TO regress_recsys_fix2a_alice, regress_recsys_fix2a_app;
RESET ROLE;
SET ROLE regress_recsys_fix2a_alice;
SELECT version FROM recsys.train_popular('ed_owned', 'ed_alices');
SELECT recsys.grant_model('ed_alices', 'regress_recsys_fix2a_app');
RESET ROLE;
SET ROLE regress_recsys_fix2a_src;
REVOKE SELECT ON ed_owned FROM regress_recsys_fix2a_alice;
RESET ROLE;
SET ROLE regress_recsys_fix2a_app;
SELECT metric FROM recsys.evaluate('ed_alices', 'ed_owned') LIMIT 1;
RESET ROLE;
-- the calling role's own read still says it is read as the calling role
SET ROLE regress_recsys_fix2a_alice;
SELECT users FROM recsys.source_stats('ed_owned');
RESET ROLE;
SELECT recsys.drop_model('ed_alices');
DROP TABLE ed_owned;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys
	FROM regress_recsys_fix2a_alice, regress_recsys_fix2a_app;
DROP ROLE regress_recsys_fix2a_src;
DROP ROLE regress_recsys_fix2a_alice;
DROP ROLE regress_recsys_fix2a_app;
