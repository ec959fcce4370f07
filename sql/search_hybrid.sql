-- hybrid search with vectors the test computes itself: an LSA projection
-- of the products' descriptions (plpgsql, no model downloaded), and
-- tune_search learning the weight of the embedding similarity (issue 14)
SET client_min_messages = notice;
\set VERBOSITY terse
CREATE TABLE lsa_products (item_id bigint PRIMARY KEY, title text, vec real[]);
INSERT INTO lsa_products (item_id, title) VALUES
	(1, 'sofa couch'),
	(2, 'couch cushion'),
	(3, 'leather armchair'),
	(4, 'sofa cushion leather'),
	(5, 'tea mug'),
	(6, 'coffee mug cup'),
	(7, 'tea cup'),
	(8, 'coffee cup saucer');
-- LSA: the term-document matrix A (term counts of the english lexemes),
-- the top two right singular vectors V of A (eigenvectors of A'A, by power
-- iteration with deflation, deterministic starts), a text's vector = its
-- term counts times V.  lsa_terms: the vocabulary, in order, with V's rows.
CREATE TABLE lsa_terms (n integer, lexeme text, v1 float8, v2 float8);
CREATE FUNCTION lsa_fit() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	terms text[] := ARRAY(SELECT DISTINCT u.lexeme FROM lsa_products p, unnest(to_tsvector('english', p.title)) u ORDER BY 1);
	nt integer := cardinality(terms);
	m float8[];	-- A'A, nt x nt, row-major
	v float8[];
	w float8[];
	v1 float8[];
	norm float8;
	dot float8;
BEGIN
	SELECT array_agg(coalesce(s.c, 0) ORDER BY a.i, b.i) INTO m
	FROM generate_series(1, nt) a(i) CROSS JOIN generate_series(1, nt) b(i)
	LEFT JOIN (SELECT x.t AS ta, y.t AS tb, sum(x.c * y.c) AS c
			   FROM (SELECT p.item_id, array_position(terms, u.lexeme) AS t, coalesce(array_length(u.positions, 1), 1) AS c
					 FROM lsa_products p, unnest(to_tsvector('english', p.title)) u) x
			   JOIN (SELECT p.item_id, array_position(terms, u.lexeme) AS t, coalesce(array_length(u.positions, 1), 1) AS c
					 FROM lsa_products p, unnest(to_tsvector('english', p.title)) u) y ON y.item_id = x.item_id
			   GROUP BY 1, 2) s ON s.ta = a.i AND s.tb = b.i;
	FOR k IN 1..2 LOOP
		-- start: all ones for the first, alternating signs for the second
		v := ARRAY(SELECT CASE WHEN k = 1 OR i % 2 = 0 THEN 1.0 ELSE -1.0 END FROM generate_series(1, nt) i);
		FOR it IN 1..200 LOOP
			w := ARRAY(SELECT sum(m[(i - 1) * nt + j] * v[j]) FROM generate_series(1, nt) i, generate_series(1, nt) j
					   GROUP BY i ORDER BY i);
			IF k = 2 THEN
				SELECT sum(w[i] * v1[i]) INTO dot FROM generate_series(1, nt) i;
				w := ARRAY(SELECT w[i] - dot * v1[i] FROM generate_series(1, nt) i ORDER BY i);
			END IF;
			SELECT sqrt(sum(x * x)) INTO norm FROM unnest(w) x;
			v := ARRAY(SELECT x / norm FROM unnest(w) x);
		END LOOP;
		IF k = 1 THEN
			v1 := v;
		END IF;
	END LOOP;
	INSERT INTO lsa_terms SELECT i, terms[i], v1[i], v[i] FROM generate_series(1, nt) i;
END $$;
-- a text's LSA vector (its lexemes' counts times V; words outside the
-- vocabulary count nothing)
CREATE FUNCTION lsa(t text) RETURNS real[] LANGUAGE sql STABLE AS $$
	SELECT ARRAY[coalesce(sum(c * l.v1), 0), coalesce(sum(c * l.v2), 0)]::real[]
	FROM (SELECT u.lexeme, coalesce(array_length(u.positions, 1), 1) AS c FROM unnest(to_tsvector('english', t)) u) x
	JOIN lsa_terms l ON l.lexeme = x.lexeme
$$;
SELECT lsa_fit();
UPDATE lsa_products SET vec = lsa(title);
-- two topics, two dimensions: the furniture along one axis, the kitchen
-- along the other (cosine 1 with 'couch' for every piece of furniture,
-- 0 for the kitchen's, whether or not it has the word)
SELECT item_id, title, round(vec[1]::numeric, 3) AS x, round(vec[2]::numeric, 3) AS y,
	   round(recsys._embedding_similarity(vec, lsa('couch'))::numeric, 3) AS cos_couch
FROM lsa_products ORDER BY item_id;
-- popularity: 1 > 2 = 6 > 4 > 3 = 5 > 7 = 8 (never bought)
CREATE TABLE lsa_events (user_id bigint, item_id bigint);
INSERT INTO lsa_events VALUES (10, 1), (11, 1), (12, 1), (13, 1), (10, 2), (11, 2), (12, 2),
	(10, 6), (11, 6), (12, 6), (10, 4), (11, 4), (10, 3), (10, 5);
SELECT n_items FROM recsys.train_popular('lsa_events', model => 'lsa_pop');
SELECT recsys.index_catalog('lsa_products', text_cols => '{title}', name => 'lsa', embedding_col => 'vec');

-- lexical search finds the couches only
SELECT item_id FROM recsys.search('couch', model => 'lsa_pop', catalog => 'lsa');
-- hybrid (reciprocal rank fusion of the learned ranking and the
-- embedding's): the furniture without the word (3, 4) is found too, 3
-- level with the most popular kitchen item (6), the rest of the kitchen after
SELECT item_id, round(score::numeric, 6) AS score, text_score > 0 AS lexical
FROM recsys.search('couch', k => 8, model => 'lsa_pop', catalog => 'lsa', query_embedding => lsa('couch'));

-- learned fusion, known by construction: anonymous shoppers (unknown to
-- the model) who search 'couch' buy 4, which has no 'couch' and is less
-- popular than 1, 2 and 6: only text < 0 (away from the couches), the
-- embedding > 0 (away from the kitchen) and popularity > 0 (4 over 3)
-- together put it first; reciprocal rank fusion does not
CREATE TABLE lsa_searches (user_id bigint, query text, item_id bigint, qvec real[]);
INSERT INTO lsa_searches VALUES (900, 'couch', 4, lsa('couch')), (901, 'couch', 4, lsa('couch'));
SELECT item_id FROM recsys.search('couch', k => 1, model => 'lsa_pop', catalog => 'lsa', query_embedding => lsa('couch'));
-- the embedding switched off: below 1
SELECT r -> 'anonymous' ->> 'embedding' AS embedding,
	   (r -> 'tuned' ->> 'ndcg@10 anonymous')::numeric < 1 AS below_one
FROM recsys.tune_search('lsa', 'lsa_searches', 'lsa_pop', features => '{text,popularity,position}',
						embedding_col => 'qvec') r;
-- with it: 1, and search ranks 4 first (linear fusion with the learned weight)
SELECT (r -> 'anonymous' ->> 'embedding')::real > 0 AS embedding_weighted,
	   (r -> 'anonymous' ->> 'text')::real < 0 AS text_negative,
	   r -> 'tuned' ->> 'ndcg@10 anonymous' AS ndcg_anonymous
FROM recsys.tune_search('lsa', 'lsa_searches', 'lsa_pop', embedding_col => 'qvec') r;
SELECT item_id FROM recsys.search('couch', k => 1, model => 'lsa_pop', catalog => 'lsa', query_embedding => lsa('couch'));
-- a search without a query embedding is the learned ranker alone
SELECT item_id FROM recsys.search('couch', model => 'lsa_pop', catalog => 'lsa');
-- tuned without embedding_col: no embedding weight, back to reciprocal rank fusion
SELECT r -> 'anonymous' ? 'embedding' AS has_embedding
FROM recsys.tune_search('lsa', 'lsa_searches', 'lsa_pop') r;
SELECT item_id FROM recsys.search('couch', k => 1, model => 'lsa_pop', catalog => 'lsa', query_embedding => lsa('couch'));

-- errors
SELECT recsys.tune_search('lsa', 'lsa_searches', 'lsa_pop', features => '{text,embedding}');
SELECT recsys.tune_search('lsa', 'lsa_searches', 'lsa_pop', embedding_col => 'nope');
CREATE TABLE plain_products (item_id bigint, title text);
INSERT INTO plain_products VALUES (1, 'sofa couch');
SELECT recsys.index_catalog('plain_products', name => 'plain');
SELECT recsys.tune_search('plain', 'lsa_searches', 'lsa_pop', embedding_col => 'qvec');
-- features learned without embedding, with embedding_col: no embedding
-- weight stored, so search keeps reciprocal rank fusion (not weight 0)
SELECT r -> 'anonymous' ? 'embedding' AS has_embedding, r -> 'tuned' -> 'features' AS features
FROM recsys.tune_search('lsa', 'lsa_searches', 'lsa_pop', features => '{text}', embedding_col => 'qvec') r;
-- features: each once, one dimension (22023)
SELECT recsys.tune_search('lsa', 'lsa_searches', 'lsa_pop', features => '{text,text}');
\echo :LAST_ERROR_SQLSTATE
SELECT recsys.tune_search('lsa', 'lsa_searches', 'lsa_pop', features => '{{text},{popularity}}');
\echo :LAST_ERROR_SQLSTATE
-- a model that does not exist, checked up front (tune_search needs one:
-- its hint is not search's "Pass model => NULL to search by text alone.")
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT recsys.tune_search('lsa', 'lsa_searches', 'no_such_model');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
\set SHOW_CONTEXT errors
-- the searches' embeddings: blamed on embedding_col, naming the row
CREATE TABLE bad_searches (user_id bigint, query text, item_id bigint, qvec real[], n integer);
INSERT INTO bad_searches VALUES (900, 'couch', 4, lsa('couch'), 1), (901, 'sofa', 4, '{NaN,1}', 1);
SELECT recsys.tune_search('lsa', 'bad_searches', 'lsa_pop', embedding_col => 'qvec');
\echo :LAST_ERROR_SQLSTATE
UPDATE bad_searches SET qvec = '{1,2,3}' WHERE user_id = 901;
SELECT recsys.tune_search('lsa', 'bad_searches', 'lsa_pop', embedding_col => 'qvec');
\echo :LAST_ERROR_SQLSTATE
UPDATE bad_searches SET qvec = '{{1,2},{3,4}}' WHERE user_id = 901;
SELECT recsys.tune_search('lsa', 'bad_searches', 'lsa_pop', embedding_col => 'qvec');
\echo :LAST_ERROR_SQLSTATE
UPDATE bad_searches SET qvec = '{1,NULL}' WHERE user_id = 901;
SELECT recsys.tune_search('lsa', 'bad_searches', 'lsa_pop', embedding_col => 'qvec');
\echo :LAST_ERROR_SQLSTATE
-- numbers beyond real's range (float8 or numeric columns): the row named,
-- not a bare overflow error of the cast to real[]
ALTER TABLE bad_searches ADD COLUMN qvec8 float8[], ADD COLUMN qnum numeric[];
UPDATE bad_searches SET qvec8 = lsa('couch')::float8[], qnum = lsa('couch')::numeric[] WHERE user_id = 900;
UPDATE bad_searches SET qvec8 = '{1e300,1}', qnum = '{1,1e40}' WHERE user_id = 901;
SELECT recsys.tune_search('lsa', 'bad_searches', 'lsa_pop', embedding_col => 'qvec8');
\echo :LAST_ERROR_SQLSTATE
SELECT recsys.tune_search('lsa', 'bad_searches', 'lsa_pop', embedding_col => 'qnum');
UPDATE bad_searches SET qvec8 = '{-1e-300,1}', qnum = '{1,-Infinity}' WHERE user_id = 901;
SELECT recsys.tune_search('lsa', 'bad_searches', 'lsa_pop', embedding_col => 'qvec8');
SELECT recsys.tune_search('lsa', 'bad_searches', 'lsa_pop', embedding_col => 'qnum');
UPDATE bad_searches SET qvec8 = '{0.5,1}' WHERE user_id = 901;
SELECT recsys.tune_search('lsa', 'bad_searches', 'lsa_pop', embedding_col => 'qvec8') IS NOT NULL AS finite_float8_tunes;
-- a column that is no array of numbers (42804)
SELECT recsys.tune_search('lsa', 'bad_searches', 'lsa_pop', embedding_col => 'n');
\echo :LAST_ERROR_SQLSTATE
-- a damaged catalog embedding (of another length than the others): the
-- item named as damaged (XX001), by search and tune_search alike
UPDATE recsys.catalog_docs SET embedding = '{1,1,1}' WHERE catalog = 'lsa' AND item_id = 3;
SELECT * FROM recsys.search('couch', model => 'lsa_pop', catalog => 'lsa', query_embedding => lsa('couch'));
\echo :LAST_ERROR_SQLSTATE
SELECT recsys.tune_search('lsa', 'lsa_searches', 'lsa_pop', embedding_col => 'qvec');
\echo :LAST_ERROR_SQLSTATE
-- a query embedding of another length than a sound catalog's is still the query's fault
UPDATE recsys.catalog_docs SET embedding = lsa(p.title) FROM lsa_products p
WHERE catalog = 'lsa' AND catalog_docs.item_id = 3 AND p.item_id = 3;
SELECT * FROM recsys.search('couch', model => 'lsa_pop', catalog => 'lsa', query_embedding => '{1,1,1}');
\echo :LAST_ERROR_SQLSTATE

SELECT recsys.drop_catalog('lsa');
SELECT recsys.drop_catalog('plain');
SELECT recsys.drop_model('lsa_pop');
DROP TABLE lsa_products, lsa_terms, lsa_events, lsa_searches, plain_products, bad_searches;
DROP FUNCTION lsa_fit(), lsa(text);
