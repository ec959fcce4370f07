-- search: a compound written as one word or as two (review s11, 2).
-- The catalog's own text is the evidence: a word no product holds whose
-- letters split into two words that products hold side by side is
-- searched as those two ("lunchbag": LUNCH BAG); a word some product
-- holds ("cakestand") and two adjacent words some product holds as one
-- ("lunch box": LUNCHBOX) are searched in the other form too when the
-- query matches nothing as typed.  Left alone: "carpet" (no product says
-- "car pet"), a last word that may be unfinished and begins a word of
-- the catalog ("lunchb"), quoted phrases and stop words.
\set VERBOSITY terse
SET client_min_messages = warning;
-- (the typo rule on: as in search.sql, whose pg_trgm the suite keeps)
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE s11c_products (id integer PRIMARY KEY, title text);
INSERT INTO s11c_products VALUES
	(1, 'red lunch bag'), (2, 'lunch bag pink'), (3, 'blue lunchbag'), (4, 'lunch box'),
	(5, 'cake stand'), (6, 'regency cakestand 3 tier'), (7, 'wrap daisy carpet'),
	(8, 'toy car'), (9, 'pet bowl'), (10, 'tea cup and saucer'), (11, 'paper bag'),
	(12, 'lunchbox spaceboy'), (13, 'bag for lunch');
SELECT 1 FROM recsys.index_catalog('s11c_products', id_col => 'id', text_cols => '{title}', name => 's11c_cat');
RESET client_min_messages;
CREATE FUNCTION s11c(q text) RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(string_agg(s.item_id::text, ',' ORDER BY s.item_id), '(none)')
	FROM recsys.search(q, model => NULL, catalog => 's11c_cat', k => 20) s
$$;

-- a word no product holds, written for two that products hold side by
-- side: searched as the two (before: a trigram typo fix, or nothing)
SELECT q, s11c(q) FROM unnest(ARRAY['teacup', 'TeaCup', 'red teacup', 'teacup saucer', 'pinklunch']) q;
-- a word some product holds: as typed while that matches ("lunchbag"
-- finds 3, "cakestand" 6), and in the other form too when the query
-- matches nothing as typed (before: nothing)
SELECT q, s11c(q) FROM unnest(ARRAY['lunchbag', 'cakestand', 'lunchbox',
									'pink lunchbag', 'red lunchbag', 'lunchbox with cutlery']) q;
-- two words some product holds as one: as typed while that matches
-- ("lunch bag" finds 1, 2 and 13), with the compound when the query
-- matches nothing as typed (before: nothing)
SELECT q, s11c(q) FROM unnest(ARRAY['lunch bag', 'lunch box', 'cake stand',
									'blue lunch bag', 'Blue  Lunch Bag', 'regency cake stand', 'spaceboy lunch box']) q;
-- the compound's products are scored by BM25 (its lexeme is a term)
SELECT item_id, text_score > 0 AS scored FROM recsys.search('blue lunch bag', model => NULL, catalog => 's11c_cat');
-- left alone: "carpet" (no product holds "car pet"), words shorter than 6
-- letters, a last word that may be unfinished ("lunchb": the prefix of
-- lunchbag and lunchbox, not "lunch b"), a quoted phrase; and left to the
-- typo rule (the catalog's most similar lexeme by trigrams, as before): a
-- split with a stop word ("bagfor": bag), two words no product holds side
-- by side ("paperlunch": paper, "bowlpet": bowl; "pet bowl" is the other
-- order, "pinklunch" above: pink)
SELECT q, s11c(q) FROM unnest(ARRAY['carpet', 'carpe', 'lunchb', '"blue lunch bag"', 'bagfor',
									'paperlunch', 'bowlpet']) q;
-- a hyphenated compound no product holds is searched as its words, and
-- those as above ("blue lunch-bag": "blue lunch bag", then LUNCHBAG)
SELECT q, s11c(q) FROM unnest(ARRAY['lunch-bag', 'blue lunch-bag']) q;

-- bounded (review s11, R5: each split may read the whole catalog, as
-- row-level security keeps its text index unused): words of at most 30
-- letters (a 30-letter word splits, a 32-letter one is not tried;
-- before: every position of any length tried, minutes for 1000 letters)
CREATE TABLE s11c_long (id integer PRIMARY KEY, title text);
INSERT INTO s11c_long VALUES (1, 'photolithographic microcomputer'), (2, 'photolithographic microprocessors');
SET client_min_messages = warning;
SELECT 1 FROM recsys.index_catalog('s11c_long', id_col => 'id', text_cols => '{title}', name => 's11c_long');
RESET client_min_messages;
SELECT left(w, 40) AS word, length(w), recsys._search_split('s11c_long', 'english', w)
FROM unnest(ARRAY['photolithographicmicrocomputer', 'photolithographicmicroprocessors', repeat('lunchbag', 125)]) w;
-- and at most 4 words a query (before: every such word); a query whose
-- words all match needs none
BEGIN;
SET LOCAL track_functions = 'all';
SELECT s11c('redbag pinkbag bluebag teabag lunchcup bagcup');
SELECT s11c('red lunch bag');
SELECT calls FROM pg_stat_xact_user_functions WHERE schemaname = 'recsys' AND funcname = '_search_split';
ROLLBACK;

DROP FUNCTION s11c;
SET client_min_messages = warning;
SELECT recsys.drop_catalog('s11c_cat');
SELECT recsys.drop_catalog('s11c_long');
DROP TABLE s11c_long;
DROP TABLE s11c_products;
