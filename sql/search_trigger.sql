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
GRANT SELECT ON products TO regress_recsys_srch_gone;
SET ROLE regress_recsys_srch_gone;
SELECT recsys.index_catalog('products', id_col => 'id', text_cols => '{title}', name => 'srch_gone');
-- (the table's owner needs the catalog owner's rights to have the trigger)
RESET ROLE;
GRANT regress_recsys_srch_gone TO regress_recsys_srch_owner;
SET ROLE regress_recsys_srch_owner;
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

-- review s5: a table's owner cannot have the trigger run code as the
-- owner of another role's catalog indexing that table
RESET ROLE;
CREATE ROLE regress_recsys_fixt_alice;
CREATE ROLE regress_recsys_fixt_bob;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_fixt_alice, regress_recsys_fixt_bob;
GRANT ALL ON SCHEMA regress_srch TO regress_recsys_fixt_alice, regress_recsys_fixt_bob;
SET ROLE regress_recsys_fixt_bob;
CREATE TABLE bob_items (item_id bigint PRIMARY KEY, title text);
INSERT INTO bob_items VALUES (1, 'blue hat'), (2, 'green hat');
GRANT SELECT ON bob_items TO regress_recsys_fixt_alice;
CREATE FUNCTION bob_spy() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	IF current_user <> 'regress_recsys_fixt_bob' THEN
		RAISE WARNING 'bob''s code ran as %', current_user;
	END IF;
	RETURN true;
END
$$;
SET ROLE regress_recsys_fixt_alice;
SELECT recsys.index_catalog('bob_items', name => 'fixt_acat');
-- bob's own trigger naming alice's catalog, and a policy with his code
SET ROLE regress_recsys_fixt_bob;
ALTER TABLE bob_items ENABLE ROW LEVEL SECURITY;
CREATE POLICY spy ON bob_items USING (bob_spy());
CREATE TRIGGER forged AFTER INSERT ON bob_items
	FOR EACH ROW EXECUTE FUNCTION recsys._catalog_sync('fixt_acat');
CREATE TRIGGER forged_truncate AFTER TRUNCATE ON bob_items
	FOR EACH STATEMENT EXECUTE FUNCTION recsys._catalog_sync('fixt_acat');
INSERT INTO bob_items VALUES (3, 'red hat');
TRUNCATE bob_items;
DROP TRIGGER forged ON bob_items;
DROP TRIGGER forged_truncate ON bob_items;
-- nor may alice put the trigger on bob's table, even with TRIGGER on it
GRANT TRIGGER ON bob_items TO regress_recsys_fixt_alice;
SET ROLE regress_recsys_fixt_alice;
SELECT recsys.catalog_trigger('fixt_acat');
SELECT recsys.catalog_trigger('fixt_acat', false);
SELECT recsys.drop_catalog('fixt_acat');
SELECT count(*) AS bob_triggers FROM pg_trigger WHERE tgrelid = 'bob_items'::regclass;
-- a table alice had the trigger on, given to bob since: the trigger
-- refuses to act, and drop_catalog leaves it (doing nothing) to bob
CREATE TABLE given (item_id bigint PRIMARY KEY, title text);
INSERT INTO given VALUES (1, 'felt hat');
SELECT recsys.index_catalog('given', name => 'fixt_given');
SELECT recsys.catalog_trigger('fixt_given');
RESET ROLE;
ALTER TABLE given OWNER TO regress_recsys_fixt_bob;
SET ROLE regress_recsys_fixt_bob;
INSERT INTO given VALUES (2, 'straw hat');
SET ROLE regress_recsys_fixt_alice;
SET client_min_messages = notice;
SELECT recsys.drop_catalog('fixt_given');
SET client_min_messages = warning;
SET ROLE regress_recsys_fixt_bob;
INSERT INTO given VALUES (2, 'straw hat');
SELECT count(*) AS given_triggers FROM pg_trigger WHERE tgrelid = 'given'::regclass;
SET ROLE regress_recsys_fixt_alice;

-- a partitioned table's row triggers fire on its partitions: refused
CREATE TABLE parted (item_id bigint, title text) PARTITION BY RANGE (item_id);
CREATE TABLE parted1 PARTITION OF parted FOR VALUES FROM (0) TO (1000);
INSERT INTO parted VALUES (1, 'wool scarf');
SELECT recsys.index_catalog('parted', name => 'fixt_parted');
SELECT recsys.catalog_trigger('fixt_parted');

-- an id the trigger cannot read as a bigint: refused when enabling
CREATE TABLE text_ids (item_id text, title text);
INSERT INTO text_ids VALUES ('1', 'linen shirt');
SELECT recsys.index_catalog('text_ids', name => 'fixt_text_ids');
SELECT recsys.catalog_trigger('fixt_text_ids');

-- embeddings refresh_catalog refuses are refused row by row
CREATE TABLE emb (item_id bigint PRIMARY KEY, title text, vec real[]);
INSERT INTO emb VALUES (1, 'oak table', '{1,0,0}'), (2, 'pine table', '{0,1,0}');
SELECT recsys.index_catalog('emb', name => 'fixt_emb', embedding_col => 'vec');
SELECT recsys.catalog_trigger('fixt_emb');
INSERT INTO emb VALUES (3, 'nan table', '{NaN,1,0}');
INSERT INTO emb VALUES (4, 'short table', '{1}');
INSERT INTO emb VALUES (5, 'null table', '{1,NULL,0}');
INSERT INTO emb VALUES (6, 'inf table', '{0,-Infinity,0}');
UPDATE emb SET vec = '{1,1}' WHERE item_id = 2;
INSERT INTO emb VALUES (7, 'elm table', '{0,0,1}'), (8, 'no vector table', NULL);
SELECT item_id, embedding FROM recsys.catalog_docs WHERE catalog = 'fixt_emb' ORDER BY 1;
SELECT item_id FROM recsys.search('table', catalog => 'fixt_emb', model => NULL, query_embedding => '{0,0,1}') LIMIT 1;
SELECT recsys.refresh_catalog('fixt_emb');
-- and refresh_catalog refuses a NULL element, as search does
SELECT recsys.catalog_trigger('fixt_emb', false);
INSERT INTO emb VALUES (5, 'null table', '{1,NULL,0}');
SELECT recsys.refresh_catalog('fixt_emb');

-- catalogs whose names the old trigger names confused: "x" and
-- "truncate_x", and long names alike in their first 63 characters
CREATE TABLE named (item_id bigint PRIMARY KEY, title text);
INSERT INTO named VALUES (1, 'oak table');
SELECT recsys.index_catalog('named', name => 'fx');
SELECT recsys.index_catalog('named', name => 'truncate_fx');
SELECT recsys.index_catalog('named', name => repeat('l', 62) || 'a');
SELECT recsys.index_catalog('named', name => repeat('l', 62) || 'b');
SELECT recsys.catalog_trigger(c) FROM unnest(ARRAY['fx', 'truncate_fx', repeat('l', 62) || 'a', repeat('l', 62) || 'b']) c;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'named'::regclass;
INSERT INTO named VALUES (2, 'pine table');
SELECT left(name, 8) AS name, n_items FROM recsys.catalogs WHERE source = 'regress_srch.named' ORDER BY name;
TRUNCATE named;
SELECT left(name, 8) AS name, n_items FROM recsys.catalogs WHERE source = 'regress_srch.named' ORDER BY name;
SELECT recsys.drop_catalog(c) FROM unnest(ARRAY['fx', 'truncate_fx', repeat('l', 62) || 'a', repeat('l', 62) || 'b',
	'fixt_parted', 'fixt_text_ids', 'fixt_emb']) c;
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = 'named'::regclass;

RESET ROLE;
DROP TABLE bob_items, given, named, emb, text_ids, parted;
DROP FUNCTION bob_spy();
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fixt_alice, regress_recsys_fixt_bob;
REVOKE ALL ON SCHEMA regress_srch FROM regress_recsys_fixt_alice, regress_recsys_fixt_bob;
DROP ROLE regress_recsys_fixt_alice;
DROP ROLE regress_recsys_fixt_bob;

RESET ROLE;
RESET search_path;
DROP SCHEMA regress_srch CASCADE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_srch_owner, regress_recsys_srch_clerk;
DROP ROLE regress_recsys_srch_owner;
DROP ROLE regress_recsys_srch_clerk;
