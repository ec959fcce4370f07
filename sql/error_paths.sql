-- user-facing error paths that no other test reached (the 0.9.0 audit:
-- doc/internals.md, "Error paths"); after each failing statement its
-- SQLSTATE, so that a changed errcode shows as a diff too
SET client_min_messages = warning;
CREATE SCHEMA ep;
SET search_path = ep, public;
-- 12 users, items 1-6; users 1-6 buy items 1-3, users 7-12 items 4-6
CREATE TABLE ep_ev (user_id int, item_id int, ts timestamptz);
INSERT INTO ep_ev SELECT u, i, '2026-01-01'::timestamptz + (u * 10 + i) * interval '1 hour'
  FROM generate_series(1, 12) u, generate_series(1, 6) i WHERE (u <= 6) = (i <= 3);
SELECT name FROM recsys.train_cf('ep_ev', factors => 2, model => 'ep_als', iterations => 2);

-- a model name longer than a name can be: refused by its length, as the trainers do (22023)
SELECT * FROM recsys.recommend(1, 3, repeat('m', 70));
\echo :LAST_ERROR_SQLSTATE
-- refresh_items of a model that does not exist
SELECT recsys.refresh_items('ep_nope');
\echo :LAST_ERROR_SQLSTATE
-- embeddings: a NULL group weight (22004)
CREATE TABLE ep_emb (item_id int, v real[], w real[]);
INSERT INTO ep_emb SELECT i, ARRAY[(i <= 3)::int, (i > 3)::int]::real[], NULL FROM generate_series(1, 6) i;
SELECT name FROM recsys.train_cf('ep_ev', factors => 2, model => 'ep_e', iterations => 2,
                                 embeddings => 'ep_emb', embedding_weights => '{1,NULL}');
\echo :LAST_ERROR_SQLSTATE
-- an embedding column with no value for any item of the model (22000)
SELECT name FROM recsys.train_cf('ep_ev', factors => 2, model => 'ep_e', iterations => 2,
                                 embeddings => 'ep_emb');
\echo :LAST_ERROR_SQLSTATE
-- more real[] columns than the 16 groups an embeddings relation may have (54000)
SELECT format('CREATE TABLE ep_wide (item_id int, %s)',
              string_agg(format('v%s real[]', g), ', ')) FROM generate_series(1, 17) g \gexec
SELECT name FROM recsys.train_cf('ep_ev', factors => 2, model => 'ep_e', iterations => 2,
                                 embeddings => 'ep_wide');
\echo :LAST_ERROR_SQLSTATE

-- an embeddings relation whose item ids are not integers (42804)
CREATE TABLE ep_emb_text (item_id text, v real[]);
SELECT name FROM recsys.train_cf('ep_ev', factors => 2, model => 'ep_e', iterations => 2,
                                 embeddings => 'ep_emb_text');
\echo :LAST_ERROR_SQLSTATE
-- more event types than the 1,000 event_weights may name (54000)
CREATE TABLE ep_ev_typed AS SELECT user_id, item_id, 'view'::text AS kind FROM ep_ev;
SELECT name FROM recsys.train_cf('ep_ev_typed', factors => 2, model => 'ep_t', iterations => 2,
    event_col => 'kind', event_weights => (SELECT jsonb_object_agg('t' || g, 1) FROM generate_series(1, 1001) g));
\echo :LAST_ERROR_SQLSTATE

-- features: refresh_items after the features relation lost its column (42703)
CREATE TABLE ep_feats (item_id int, feature text);
INSERT INTO ep_feats SELECT i, CASE WHEN i <= 3 THEN 'a' ELSE 'b' END FROM generate_series(1, 6) i;
SELECT name FROM recsys.train_cf('ep_ev', factors => 2, model => 'ep_f', iterations => 2,
                                 features => 'ep_feats');
ALTER TABLE ep_feats RENAME COLUMN feature TO tag;
SELECT recsys.refresh_items('ep_f');
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE ep_feats RENAME COLUMN tag TO feature;
SELECT recsys.refresh_items('ep_f');
-- a damaged catalog: the cold items' stored Gram matrix missing, short or
-- of the wrong shape, a feature's vector short (XX001, hint: retrain);
-- refresh_items serves again once it is whole
INSERT INTO ep_feats VALUES (7, 'a');
CREATE TABLE ep_gram AS SELECT * FROM recsys.model_parameters WHERE model = 'ep_f' AND name = 'cold:gram';
DELETE FROM recsys.model_parameters WHERE model = 'ep_f' AND name = 'cold:gram';
SELECT recsys.refresh_items('ep_f');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO recsys.model_parameters SELECT * FROM ep_gram;
UPDATE recsys.model_parameters SET value = value[1:3] WHERE model = 'ep_f' AND name = 'cold:gram';
SELECT recsys.refresh_items('ep_f');
\echo :LAST_ERROR_SQLSTATE
DELETE FROM recsys.model_parameters WHERE model = 'ep_f' AND name = 'cold:gram';
INSERT INTO recsys.model_parameters SELECT * FROM ep_gram;
UPDATE recsys.model_parameters SET value = value || value, shape = ARRAY[4, 2]
  WHERE model = 'ep_f' AND name = 'cold:gram';
SELECT recsys.refresh_items('ep_f');
\echo :LAST_ERROR_SQLSTATE
DELETE FROM recsys.model_parameters WHERE model = 'ep_f' AND name = 'cold:gram';
INSERT INTO recsys.model_parameters SELECT * FROM ep_gram;
-- and a feature's stored vector cut short
CREATE TABLE ep_feature AS SELECT * FROM recsys.model_parameters WHERE model = 'ep_f' AND name = 'feature:a';
UPDATE recsys.model_parameters SET value = value[1:1] WHERE model = 'ep_f' AND name = 'feature:a';
SELECT recsys.refresh_items('ep_f');
\echo :LAST_ERROR_SQLSTATE
DELETE FROM recsys.model_parameters WHERE model = 'ep_f' AND name = 'feature:a';
INSERT INTO recsys.model_parameters SELECT * FROM ep_feature;
SELECT recsys.refresh_items('ep_f');

-- train_fm: a time_col that is NULL in every row (22023)
CREATE TABLE ep_ev_nots AS SELECT user_id, item_id, NULL::timestamptz AS ts FROM ep_ev;
SELECT name FROM recsys.train_popular('ep_ev', model => 'ep_pop');
SELECT name FROM recsys.train_fm('ep_ev_nots', 'ep_pop', model => 'ep_fm', factors => 2, epochs => 1,
                                 time_col => 'ts');
\echo :LAST_ERROR_SQLSTATE

-- the fold_in aggregate's transition function called on its own (0A000)
SELECT recsys.fold_in_accum(NULL, 1, 1, 'ep_als');
\echo :LAST_ERROR_SQLSTATE

-- blends: a member cannot be dropped while a blend names it (a blend's
-- guards against a member that became a blend or a re-ranker are not
-- reachable from SQL: train_blend and train_fm refuse the change first)
SELECT name FROM recsys.train_popular('ep_ev', model => 'ep_m');
SELECT name FROM recsys.train_blend('{ep_als,ep_m}', model => 'ep_blend');
SELECT recsys.drop_model('ep_m');
\echo :LAST_ERROR_SQLSTATE
SELECT name FROM recsys.train_blend('{ep_als,ep_pop}', model => 'ep_m', replace => true);
\echo :LAST_ERROR_SQLSTATE

-- search: a two-dimensional query embedding (2202E); a catalog whose
-- source has a two-dimensional embedding (2202E) or duplicate ids (23505:
-- the table's own primary key, which catalog_trigger requires since 0.11.0)
CREATE TABLE ep_products (item_id int PRIMARY KEY, title text, vec real[]);
INSERT INTO ep_products VALUES (1, 'red sofa', '{1,0}'), (2, 'blue lamp', '{0,1}');
SELECT recsys.index_catalog('ep_products', text_cols => '{title}', name => 'ep_cat', embedding_col => 'vec');
SELECT recsys.catalog_trigger('ep_cat');
SELECT item_id FROM recsys.search('sofa', model => NULL, catalog => 'ep_cat', query_embedding => '{{1,0}}');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO ep_products VALUES (3, 'green rug', '{{1,0}}');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO ep_products VALUES (2, 'blue lamp again', '{0,1}');
\echo :LAST_ERROR_SQLSTATE
-- the trigger after the id column was renamed (42703)
ALTER TABLE ep_products RENAME COLUMN item_id TO id;
INSERT INTO ep_products VALUES (4, 'grey chair', '{1,1}');
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE ep_products RENAME COLUMN id TO item_id;

-- a model or a catalog whose owner role was dropped (42704): a superuser
-- would read its source as nobody
CREATE ROLE regress_recsys_qa_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_qa_owner;
GRANT USAGE ON SCHEMA ep TO regress_recsys_qa_owner;
GRANT SELECT ON ep_ev, ep_products TO regress_recsys_qa_owner;
SET ROLE regress_recsys_qa_owner;
SELECT name FROM recsys.train_popular('ep_ev', model => 'ep_orphan');
SELECT recsys.index_catalog('ep_products', text_cols => '{title}', name => 'ep_ocat');
RESET ROLE;
DROP OWNED BY regress_recsys_qa_owner;
DROP ROLE regress_recsys_qa_owner;
-- another role (not a superuser) is refused the orphan model (42501)
CREATE ROLE regress_recsys_qa_user;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_qa_user;
SET ROLE regress_recsys_qa_user;
\set VERBOSITY sqlstate
SELECT * FROM recsys.recommend(1, 3, 'ep_orphan');
RESET ROLE;
SELECT regexp_replace(:'LAST_ERROR_MESSAGE', 'OID [0-9]+', 'OID n') AS message;
DROP OWNED BY regress_recsys_qa_user;
DROP ROLE regress_recsys_qa_user;
-- (the role's OID varies: the message is shown with it masked)
\set VERBOSITY sqlstate
SELECT * FROM recsys.recommend(1, 3, 'ep_orphan');
SELECT regexp_replace(:'LAST_ERROR_MESSAGE', 'OID [0-9]+', 'OID n') AS message;
SELECT recsys.refresh_catalog('ep_ocat');
SELECT regexp_replace(:'LAST_ERROR_MESSAGE', 'OID [0-9]+', 'OID n') AS message;
\set VERBOSITY default

DROP SCHEMA ep CASCADE;
DELETE FROM recsys.models WHERE name LIKE 'ep\_%';
SELECT recsys.drop_catalog('ep_cat'), recsys.drop_catalog('ep_ocat');
