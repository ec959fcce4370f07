-- recsys.catalog_trigger: a catalog kept current by triggers on its product
-- table, equal to a full refresh_catalog, run as the catalog's owner
SET client_min_messages = warning;
CREATE ROLE regress_recsys_srch_owner;
CREATE ROLE regress_recsys_srch_clerk;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_srch_owner, regress_recsys_srch_clerk;
CREATE SCHEMA regress_srch;
GRANT ALL ON SCHEMA regress_srch TO regress_recsys_srch_owner;
GRANT USAGE ON SCHEMA regress_srch TO regress_recsys_srch_clerk;
SET search_path = regress_srch, public;

SET ROLE regress_recsys_srch_owner;
CREATE TABLE products (id integer PRIMARY KEY, title text, brand text, price numeric);
INSERT INTO products VALUES
	(1, 'red lunch bag', 'acme', 5), (2, 'blue lunch box', 'acme', 6), (3, 'green tea', 'leafy', 7);
SELECT recsys.index_catalog('products', id_col => 'id', text_cols => '{title,brand}', name => 'srch_cat');
SELECT recsys.catalog_trigger('srch_cat');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'products'::regclass ORDER BY 1;

-- a new product is found in the same transaction, a deleted one is gone
BEGIN;
INSERT INTO products VALUES (4, 'lunch bag deluxe lunch', 'acme', 9);
SELECT item_id FROM recsys.search('lunch bag', model => NULL, catalog => 'srch_cat');
DELETE FROM products WHERE id = 1;
SELECT item_id FROM recsys.search('lunch bag', model => NULL, catalog => 'srch_cat');
ROLLBACK;
-- the rollback takes the catalog's changes away with the products'
SELECT item_id FROM recsys.search('lunch bag', model => NULL, catalog => 'srch_cat');

-- a mixed batch: by construction the catalog holds ids 2, 4, 10, 100..119
-- with these texts, which a full refresh computes again
INSERT INTO products VALUES (4, 'lunch bag deluxe lunch', 'acme', 9);
UPDATE products SET title = 'herbal tea' WHERE id = 1;
DELETE FROM products WHERE id = 1;
UPDATE products SET price = 1 WHERE id = 2;	-- no searchable column
UPDATE products SET id = 10 WHERE id = 3;
INSERT INTO products SELECT g, 'bulk item ' || g, NULL, 1 FROM generate_series(100, 119) g;
UPDATE products SET brand = 'leafy' WHERE id BETWEEN 100 AND 104;
-- lengths: 2: 4 lexemes, 4: 5 (lunch twice), 10: 3, 100-104: 4, 105-119: 3
SELECT n_items, avg_length, avg_length = (4 + 5 + 3 + 5 * 4 + 15 * 3)::float8 / 23 AS avg_known
FROM recsys.catalogs WHERE name = 'srch_cat';
SELECT lexeme, df FROM recsys.catalog_terms WHERE catalog = 'srch_cat' AND df > 1 ORDER BY lexeme;
CREATE TEMP TABLE kept_terms AS SELECT lexeme, df FROM recsys.catalog_terms WHERE catalog = 'srch_cat';
CREATE TEMP TABLE kept_docs AS SELECT item_id, doc, length FROM recsys.catalog_docs WHERE catalog = 'srch_cat';
CREATE TEMP TABLE kept_stats AS SELECT n_items, avg_length FROM recsys.catalogs WHERE name = 'srch_cat';
SELECT recsys.refresh_catalog('srch_cat');
SELECT (SELECT count(*) FROM (TABLE kept_terms EXCEPT SELECT lexeme, df FROM recsys.catalog_terms WHERE catalog = 'srch_cat') d)
	 + (SELECT count(*) FROM (SELECT lexeme, df FROM recsys.catalog_terms WHERE catalog = 'srch_cat' EXCEPT TABLE kept_terms) d)
	   AS terms_differing,
	   (SELECT count(*) FROM (TABLE kept_docs EXCEPT SELECT item_id, doc, length FROM recsys.catalog_docs WHERE catalog = 'srch_cat') d)
	 + (SELECT count(*) FROM (SELECT item_id, doc, length FROM recsys.catalog_docs WHERE catalog = 'srch_cat' EXCEPT TABLE kept_docs) d)
	   AS docs_differing,
	   (SELECT row(n_items, avg_length) FROM recsys.catalogs WHERE name = 'srch_cat')
	   = (SELECT row(n_items, avg_length) FROM kept_stats) AS stats_equal;

-- a clerk may change products but neither read them nor see the catalog:
-- the trigger reads the new row as the catalog's owner all the same
GRANT INSERT, UPDATE, DELETE ON products TO regress_recsys_srch_clerk;
GRANT SELECT (id) ON products TO regress_recsys_srch_clerk;	-- (DELETE ... WHERE id)
SET ROLE regress_recsys_srch_clerk;
INSERT INTO products VALUES (200, 'secret lantern', 'acme', 3);
SELECT count(*) FROM recsys.catalogs WHERE name = 'srch_cat';
SELECT count(*) FROM recsys.catalog_docs WHERE catalog = 'srch_cat';
SELECT * FROM recsys.search('lantern', model => NULL, catalog => 'srch_cat');
SELECT recsys.catalog_trigger('srch_cat', false);
-- a trigger of the clerk's own naming the owner's catalog changes nothing in it
RESET ROLE;
GRANT CREATE ON SCHEMA regress_srch TO regress_recsys_srch_clerk;
SET ROLE regress_recsys_srch_clerk;
CREATE TABLE clerk_items (id integer, title text, brand text);
CREATE TRIGGER forged AFTER INSERT OR DELETE ON clerk_items
	FOR EACH ROW EXECUTE FUNCTION recsys._catalog_sync('srch_cat');
INSERT INTO clerk_items VALUES (2, 'forged lantern', 'x'), (999, 'forged lantern', 'x');
DELETE FROM clerk_items;
DROP TABLE clerk_items;
SET ROLE regress_recsys_srch_owner;
SELECT item_id FROM recsys.search('lantern', model => NULL, catalog => 'srch_cat');
SELECT item_id FROM recsys.search('lunch', model => NULL, catalog => 'srch_cat');
SELECT n_items FROM recsys.catalogs WHERE name = 'srch_cat';
SET ROLE regress_recsys_srch_clerk;
DELETE FROM products WHERE id = 200;
SET ROLE regress_recsys_srch_owner;
SELECT item_id FROM recsys.search('lantern', model => NULL, catalog => 'srch_cat');

-- TRUNCATE empties the catalog
TRUNCATE products;
SELECT n_items, avg_length, (SELECT count(*) FROM recsys.catalog_terms WHERE catalog = 'srch_cat') AS terms
FROM recsys.catalogs WHERE name = 'srch_cat';

-- errors: not a table, no such catalog, NULL, not the owner, a direct call
CREATE VIEW products_view AS SELECT * FROM products;
SELECT recsys.index_catalog('products_view', id_col => 'id', text_cols => '{title}', name => 'srch_view');
SELECT recsys.catalog_trigger('srch_view');
SELECT recsys.catalog_trigger('no_such_catalog');
SELECT recsys.catalog_trigger('srch_cat', NULL);
SELECT recsys._catalog_sync();
SET ROLE regress_recsys_srch_clerk;
SELECT recsys.catalog_trigger('srch_view', false);

-- switched off, changes wait for refresh_catalog; drop_catalog removes the triggers
SET ROLE regress_recsys_srch_owner;
SELECT recsys.catalog_trigger('srch_cat', false);
INSERT INTO products VALUES (300, 'quiet lantern', 'acme', 3);
SELECT count(*) FROM recsys.search('lantern', model => NULL, catalog => 'srch_cat');
SELECT recsys.catalog_trigger('srch_cat');
SELECT item_id FROM recsys.search('lantern', model => NULL, catalog => 'srch_cat');
SELECT recsys.drop_catalog('srch_cat');
SELECT recsys.drop_catalog('srch_view');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = 'products'::regclass;
INSERT INTO products VALUES (301, 'after the catalog', 'acme', 3);
DROP TABLE kept_terms, kept_docs, kept_stats;

-- a catalog whose owner has been dropped cannot be kept current: changes
-- to its table are refused (as its refresh would be) until it is dropped
RESET ROLE;
CREATE ROLE regress_recsys_srch_gone;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_srch_gone;
GRANT USAGE ON SCHEMA regress_srch TO regress_recsys_srch_gone;
GRANT SELECT, TRIGGER ON products TO regress_recsys_srch_gone;
SET ROLE regress_recsys_srch_gone;
SELECT recsys.index_catalog('products', id_col => 'id', text_cols => '{title}', name => 'srch_gone');
SELECT recsys.catalog_trigger('srch_gone');
RESET ROLE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_srch_gone;
REVOKE ALL ON SCHEMA regress_srch FROM regress_recsys_srch_gone;
REVOKE ALL ON products FROM regress_recsys_srch_gone;
DROP ROLE regress_recsys_srch_gone;
SET ROLE regress_recsys_srch_owner;
DO $$
BEGIN
	INSERT INTO products VALUES (400, 'orphan lamp', 'acme', 1);
EXCEPTION WHEN undefined_object THEN
	RAISE WARNING '%', regexp_replace(SQLERRM, 'OID \d+', 'OID n');	-- (OIDs vary)
END
$$;
RESET ROLE;
DELETE FROM recsys.catalogs WHERE name = 'srch_gone';
INSERT INTO products VALUES (400, 'orphan lamp', 'acme', 1);

RESET ROLE;
RESET search_path;
DROP SCHEMA regress_srch CASCADE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_srch_owner, regress_recsys_srch_clerk;
DROP ROLE regress_recsys_srch_owner;
DROP ROLE regress_recsys_srch_clerk;
