-- recsys._catalog_sync on another role's table, naming a catalog the
-- table does not feed: it does nothing, the same whether the catalog
-- exists or not, and the insert goes through.  (The catalog's recorded
-- source was resolved as the role changing rows: alice's catalog over
-- her schema, where bob has no USAGE, failed bob's own inserts with
-- "permission denied for schema", and told him the catalog existed.)
SET client_min_messages = warning;
CREATE ROLE regress_recsys_fixr_alice;
CREATE ROLE regress_recsys_fixr_bob;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_fixr_alice, regress_recsys_fixr_bob;
CREATE SCHEMA fixr_alice AUTHORIZATION regress_recsys_fixr_alice;
CREATE SCHEMA fixr_bob AUTHORIZATION regress_recsys_fixr_bob;
SET ROLE regress_recsys_fixr_alice;
CREATE TABLE fixr_alice.products (id integer PRIMARY KEY, title text);
INSERT INTO fixr_alice.products VALUES (1, 'red lunch bag'), (2, 'green tea');
SELECT recsys.index_catalog('fixr_alice.products', id_col => 'id', text_cols => '{title}', name => 'fixr_cat');
SET ROLE regress_recsys_fixr_bob;
CREATE TABLE fixr_bob.p (id integer, title text);
CREATE TRIGGER t AFTER INSERT ON fixr_bob.p FOR EACH ROW EXECUTE FUNCTION recsys._catalog_sync('fixr_cat');
CREATE TRIGGER u AFTER INSERT ON fixr_bob.p FOR EACH ROW EXECUTE FUNCTION recsys._catalog_sync('fixr_no_such_cat');
INSERT INTO fixr_bob.p VALUES (503, 'fork');
SELECT count(*) AS bobs_rows FROM fixr_bob.p;
RESET ROLE;
-- alice's catalog is untouched: its two products, not bob's
SELECT n_items FROM recsys.catalogs WHERE name = 'fixr_cat';
SELECT item_id FROM recsys.catalog_docs WHERE catalog = 'fixr_cat' ORDER BY 1;

SELECT recsys.drop_catalog('fixr_cat');
DROP SCHEMA fixr_alice CASCADE;
DROP SCHEMA fixr_bob CASCADE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fixr_alice, regress_recsys_fixr_bob;
DROP ROLE regress_recsys_fixr_alice;
DROP ROLE regress_recsys_fixr_bob;
