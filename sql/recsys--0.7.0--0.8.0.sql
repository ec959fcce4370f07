-- recsys 0.7.0 -> 0.8.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.8.0'" to load this file. \quit

-- 0.8.0 adds personalised search, item features and cold items, online
-- experiments and progress reporting, a faster serving and write path, and
-- train_auto.  Each change has a section of its own below.

-------------------------------------------------------------------------------
-- Search
-------------------------------------------------------------------------------
-- Search: catalogs of products indexed for full-text search, and
-- personalised search over them (doc/reference.md, "Search")
--
-- A catalog is a name, like a model: recsys.catalogs holds its definition
-- (which table, columns, text search configuration), its corpus statistics
-- for BM25, the learned weights of the ranking, an owner and grantees;
-- recsys.catalog_docs one tsvector per product (GIN-indexed: the
-- candidates of a query), recsys.catalog_terms the document frequency of
-- every lexeme.  refresh_catalog rebuilds both from the product table,
-- read as the catalog's owner, in one transaction (version + 1).

CREATE TABLE recsys.catalogs (
	name			text PRIMARY KEY
		CHECK (name <> '' AND length(name) <= 63),
	version			integer NOT NULL DEFAULT 1 CHECK (version > 0),
	source			text NOT NULL,
	id_col			name NOT NULL,
	text_cols		name[] NOT NULL,
	config			regconfig NOT NULL,
	embedding_col	name,
	n_items			bigint NOT NULL DEFAULT 0,
	avg_length		double precision NOT NULL DEFAULT 0,
	-- the ranking's weights over per-query normalised features: "personal"
	-- when the model knows the user, "anonymous" otherwise; tune_search
	-- learns them (the defaults are tune_search's on Online Retail)
	weights			jsonb NOT NULL DEFAULT
		'{"personal": {"text": 0.1, "personal": 1, "popularity": 1, "bought": -3},
		  "anonymous": {"text": 0.1, "popularity": 1}}',
	refreshed_at	timestamptz NOT NULL DEFAULT now(),
	owner			regrole NOT NULL
		DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)),
	grantees		regrole[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE recsys.catalogs IS
	'recsys search catalogs: one row per indexed product table';

CREATE TABLE recsys.catalog_docs (
	catalog			text NOT NULL
		REFERENCES recsys.catalogs (name) ON DELETE CASCADE ON UPDATE CASCADE,
	item_id			bigint NOT NULL,
	doc				tsvector NOT NULL,
	length			integer NOT NULL,
	embedding		real[],
	PRIMARY KEY (catalog, item_id)
);
CREATE INDEX catalog_docs_doc ON recsys.catalog_docs USING gin (doc);
COMMENT ON TABLE recsys.catalog_docs IS
	'recsys search catalogs: every product''s text as a tsvector, its length in lexemes and its embedding';

CREATE TABLE recsys.catalog_terms (
	catalog			text NOT NULL
		REFERENCES recsys.catalogs (name) ON DELETE CASCADE ON UPDATE CASCADE,
	lexeme			text COLLATE "C" NOT NULL,
	df				integer NOT NULL,
	PRIMARY KEY (catalog, lexeme)
);
COMMENT ON TABLE recsys.catalog_terms IS
	'recsys search catalogs: every lexeme with the number of products that contain it';

-- as recsys.models: users see, owners write
ALTER TABLE recsys.catalogs ENABLE ROW LEVEL SECURITY;
CREATE POLICY catalog_users ON recsys.catalogs FOR SELECT
	USING (recsys._may_use(owner, grantees));
CREATE POLICY catalog_owners ON recsys.catalogs
	USING (recsys._owns(owner))
	WITH CHECK (recsys._owns(owner));
ALTER TABLE recsys.catalog_docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY catalog_users ON recsys.catalog_docs FOR SELECT
	USING (catalog IN (SELECT c.name FROM recsys.catalogs c));
CREATE POLICY catalog_owners ON recsys.catalog_docs
	USING (catalog IN (SELECT c.name FROM recsys.catalogs c WHERE recsys._owns(c.owner)))
	WITH CHECK (catalog IN (SELECT c.name FROM recsys.catalogs c WHERE recsys._owns(c.owner)));
ALTER TABLE recsys.catalog_terms ENABLE ROW LEVEL SECURITY;
CREATE POLICY catalog_users ON recsys.catalog_terms FOR SELECT
	USING (catalog IN (SELECT c.name FROM recsys.catalogs c));
CREATE POLICY catalog_owners ON recsys.catalog_terms
	USING (catalog IN (SELECT c.name FROM recsys.catalogs c WHERE recsys._owns(c.owner)))
	WITH CHECK (catalog IN (SELECT c.name FROM recsys.catalogs c WHERE recsys._owns(c.owner)));

SELECT pg_catalog.pg_extension_config_dump('recsys.catalogs', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.catalog_docs', '');
SELECT pg_catalog.pg_extension_config_dump('recsys.catalog_terms', '');

-- internal: every row of a catalog's source (id, tsvector, embedding), read
-- as the catalog's owner in a security-restricted operation
CREATE FUNCTION recsys._catalog_source(catalog text)
RETURNS TABLE (item_id bigint, doc tsvector, embedding real[])
AS 'MODULE_PATHNAME', 'recsys_catalog_source'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._catalog_source(text) IS
	'internal: a catalog''s products as its owner reads them';

-- internal: a catalog's row, locked, after checking that the current role
-- may change it (22023 when it does not exist for this role, 42501 when it
-- may only use it)
CREATE FUNCTION recsys._lock_catalog(catalog text, action text)
RETURNS recsys.catalogs
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	result recsys.catalogs;
BEGIN
	IF catalog IS NULL THEN
		RAISE EXCEPTION 'catalog must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT c.* INTO result FROM recsys.catalogs c WHERE c.name = _lock_catalog.catalog;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'catalog "%" does not exist', catalog
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Create it with recsys.index_catalog.';
	END IF;
	IF NOT recsys._owns(result.owner) THEN
		RAISE EXCEPTION 'must be owner of catalog "%" to % it', catalog, action
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	SELECT c.* INTO result FROM recsys.catalogs c WHERE c.name = _lock_catalog.catalog FOR UPDATE;
	RETURN result;
END
$$;
COMMENT ON FUNCTION recsys._lock_catalog(text, text) IS
	'internal: a catalog''s row, locked, once the current role is known to own it';

CREATE FUNCTION recsys.refresh_catalog(catalog text DEFAULT 'default')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cat recsys.catalogs;
	n bigint;
	n_ids bigint;
	n_distinct bigint;
BEGIN
	cat := recsys._lock_catalog(catalog, 'refresh');
	DELETE FROM recsys.catalog_terms t WHERE t.catalog = cat.name;
	DELETE FROM recsys.catalog_docs d WHERE d.catalog = cat.name;
	CREATE TEMP TABLE _recsys_catalog_rows ON COMMIT DROP AS
		SELECT s.item_id, s.doc, s.embedding FROM recsys._catalog_source(cat.name) s;
	SELECT count(*), count(r.item_id), count(DISTINCT r.item_id) INTO n, n_ids, n_distinct
	FROM _recsys_catalog_rows r;
	IF n_ids < n THEN
		RAISE EXCEPTION 'column "%" of % is NULL in % rows', cat.id_col, cat.source, n - n_ids
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Every product needs an id; index a view that leaves such rows out.';
	END IF;
	IF n_distinct < n THEN
		RAISE EXCEPTION 'column "%" of % has % duplicate values', cat.id_col, cat.source, n - n_distinct
			USING ERRCODE = 'unique_violation',
				  HINT = 'Index a table or view with one row per product.';
	END IF;
	IF (SELECT count(DISTINCT coalesce(array_length(r.embedding, 1), 0)) FROM _recsys_catalog_rows r
		WHERE r.embedding IS NOT NULL) > 1 THEN
		RAISE EXCEPTION 'the embeddings in column "%" of % differ in length', cat.embedding_col, cat.source
			USING ERRCODE = 'array_subscript_error',
				  HINT = 'Every product''s embedding must come from the same model (or be NULL).';
	END IF;
	INSERT INTO recsys.catalog_docs (catalog, item_id, doc, length, embedding)
	SELECT cat.name, r.item_id, r.doc,
		   (SELECT coalesce(sum(coalesce(array_length(u.positions, 1), 1)), 0) FROM unnest(r.doc) u),
		   r.embedding
	FROM _recsys_catalog_rows r;
	DROP TABLE _recsys_catalog_rows;
	INSERT INTO recsys.catalog_terms (catalog, lexeme, df)
	SELECT cat.name, u.lexeme, count(*)
	FROM recsys.catalog_docs d, unnest(d.doc) u
	WHERE d.catalog = cat.name
	GROUP BY u.lexeme;
	-- fresh statistics, so that the planner takes the GIN index for a
	-- query's matches (only the tables' owner may; autovacuum does it too)
	IF pg_has_role((SELECT r.relowner FROM pg_class r WHERE r.oid = 'recsys.catalog_docs'::regclass), 'USAGE') THEN
		ANALYZE recsys.catalog_docs, recsys.catalog_terms;
	END IF;
	UPDATE recsys.catalogs c
	SET version = c.version + 1, n_items = n, refreshed_at = now(),
		avg_length = coalesce((SELECT avg(d.length) FROM recsys.catalog_docs d WHERE d.catalog = cat.name), 0)
	WHERE c.name = cat.name;
	RETURN n;
END
$$;
COMMENT ON FUNCTION recsys.refresh_catalog(text) IS
	'read a catalog''s product table again (as the catalog''s owner): new and changed products become searchable';

CREATE FUNCTION recsys.index_catalog(
	catalog regclass,
	id_col name DEFAULT 'item_id',
	text_cols name[] DEFAULT NULL,
	config regconfig DEFAULT 'english',
	name text DEFAULT 'default',
	embedding_col name DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	source text;
	cols name[] := text_cols;
	existing recsys.catalogs;
BEGIN
	IF catalog IS NULL OR id_col IS NULL OR config IS NULL OR name IS NULL THEN
		RAISE EXCEPTION 'catalog, id_col, config and name must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT format('%I.%I', n.nspname, c.relname) INTO source
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = catalog;
	IF cols IS NULL THEN
		-- every text column but the id, in table order
		SELECT array_agg(a.attname ORDER BY a.attnum) INTO cols
		FROM pg_attribute a
		WHERE a.attrelid = catalog AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> id_col
		  AND a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype);
		IF cols IS NULL THEN
			RAISE EXCEPTION 'relation % has no text column to index', catalog
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Name the columns to index as text_cols.';
		END IF;
	ELSIF cardinality(cols) = 0 OR array_position(cols, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'text_cols must name at least one column and no NULL'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT c.* INTO existing FROM recsys.catalogs c WHERE c.name = index_catalog.name;
	IF FOUND THEN
		PERFORM recsys._lock_catalog(index_catalog.name, 'index into');
		UPDATE recsys.catalogs c
		SET source = index_catalog.source, id_col = index_catalog.id_col, text_cols = cols,
			config = index_catalog.config, embedding_col = index_catalog.embedding_col
		WHERE c.name = index_catalog.name;
	ELSE
		BEGIN
			INSERT INTO recsys.catalogs (name, source, id_col, text_cols, config, embedding_col)
			VALUES (index_catalog.name, source, id_col, cols, config, embedding_col);
		EXCEPTION WHEN unique_violation THEN
			RAISE EXCEPTION 'catalog name "%" is taken by another role', index_catalog.name
				USING ERRCODE = 'insufficient_privilege',
					  HINT = 'Choose another name.';
		END;
	END IF;
	RETURN recsys.refresh_catalog(index_catalog.name);
END
$$;
COMMENT ON FUNCTION recsys.index_catalog(regclass, name, name[], regconfig, text, name) IS
	'index a product table for recsys.search: tsvectors, a GIN index and BM25 statistics, kept as catalog "name"';

CREATE FUNCTION recsys.drop_catalog(catalog text, if_exists boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF catalog IS NULL OR if_exists IS NULL THEN
		RAISE EXCEPTION 'catalog and if_exists must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF if_exists AND NOT EXISTS (SELECT FROM recsys.catalogs c WHERE c.name = drop_catalog.catalog) THEN
		RETURN false;
	END IF;
	PERFORM recsys._lock_catalog(catalog, 'drop');
	DELETE FROM recsys.catalogs c WHERE c.name = drop_catalog.catalog;
	RETURN true;
END
$$;
COMMENT ON FUNCTION recsys.drop_catalog(text, boolean) IS
	'drop a search catalog and its index (the product table stays)';

-- internal: grant_catalog (give) and revoke_catalog (not give)
CREATE FUNCTION recsys._change_catalog_grant(catalog text, grantee text, give boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	role regrole;
BEGIN
	IF grantee IS NULL THEN
		RAISE EXCEPTION 'grantee must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._lock_catalog(catalog, CASE WHEN give THEN 'grant use of' ELSE 'revoke use of' END);
	role := recsys._role(grantee, 'grantee', true);
	UPDATE recsys.catalogs c
	SET grantees = CASE WHEN give THEN c.grantees || role ELSE array_remove(c.grantees, role) END
	WHERE c.name = _change_catalog_grant.catalog AND (role = ANY (c.grantees)) <> give;
END
$$;
COMMENT ON FUNCTION recsys._change_catalog_grant(text, text, boolean) IS
	'internal: give or take back the use of a catalog';

CREATE FUNCTION recsys.grant_catalog(catalog text, grantee text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT recsys._change_catalog_grant(catalog, grantee, true) $$;
COMMENT ON FUNCTION recsys.grant_catalog(text, text) IS
	'give a role (or PUBLIC) the use of a search catalog';

CREATE FUNCTION recsys.revoke_catalog(catalog text, grantee text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT recsys._change_catalog_grant(catalog, grantee, false) $$;
COMMENT ON FUNCTION recsys.revoke_catalog(text, text) IS
	'take back the use of a search catalog from a role (or PUBLIC)';

-- internal: the cosine similarity of two embeddings (0 for a zero vector)
CREATE FUNCTION recsys._embedding_similarity(a real[], b real[])
RETURNS real
AS 'MODULE_PATHNAME', 'recsys_embedding_similarity'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._embedding_similarity(real[], real[]) IS
	'internal: cosine similarity of a product''s and a query''s embeddings';

-- internal: the candidates of a query with their features, raw and
-- normalised to [0, 1] over the candidates (min-max; 0 when all are
-- equal).  Text: BM25 (k1 1.2, b 0.75) over the catalog's lexemes;
-- personal: the model's score through recommend (any kind), only when the
-- model knows the user; popularity: ln(1 + the model's users of the item);
-- bought: the user has the item in the model's source.  Items in also
-- (hybrid search's nearest embeddings) are candidates whatever their text.
CREATE FUNCTION recsys._search_features(
	query text, user_id bigint, model text, catalog text,
	candidates bigint[] DEFAULT NULL, exclude_purchased boolean DEFAULT false,
	also bigint[] DEFAULT NULL)
RETURNS TABLE (item_id bigint, text_score real, personal_score real, popularity_score real,
			   bought boolean, text_n real, personal_n real, popularity_n real)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cat recsys.catalogs;
	model_version integer;
	tsq tsquery;
	tsq_text text;
	terms text[];
	prefixes text[] := '{}';
	last_lexeme text;
	lex text;
	fix text;
	trgm text;
	ids bigint[];
	docs tsvector[];
	lengths integer[];
	known bigint[] := '{}';
	personal_ids bigint[] := '{}';
	personal_scores real[] := '{}';
	unseen bigint[] := '{}';
BEGIN
	IF query IS NULL OR catalog IS NULL THEN
		RAISE EXCEPTION 'query and catalog must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF length(query) > 1000 THEN
		RAISE EXCEPTION 'query must be at most 1000 characters long, not %', length(query)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass the words the shopper typed.';
	END IF;
	IF btrim(query, E' \t\r\n') = '' THEN
		RAISE EXCEPTION 'query must not be empty'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Show recsys.recommend''s items when the shopper has typed nothing.';
	END IF;
	SELECT c.* INTO cat FROM recsys.catalogs c WHERE c.name = _search_features.catalog;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'catalog "%" does not exist', catalog
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Create it with recsys.index_catalog (or ask its owner for recsys.grant_catalog).';
	END IF;
	IF model IS NOT NULL THEN
		SELECT m.version INTO model_version FROM recsys.models m WHERE m.name = _search_features.model;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'model "%" does not exist', model
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Pass model => NULL to search by text alone.';
		END IF;
	END IF;

	-- the query's lexemes; a query of stop words matches nothing
	SELECT array_agg(DISTINCT u.lexeme), (array_agg(u.lexeme ORDER BY u.positions[1] DESC))[1]
	INTO terms, last_lexeme
	FROM unnest(to_tsvector(cat.config, query)) u;
	IF terms IS NULL THEN
		RAISE NOTICE 'query "%" has only stop words: no item matches its text', left(query, 100);
		IF coalesce(cardinality(also), 0) = 0 THEN
			RETURN;
		END IF;
		terms := '{}';
	ELSE
		tsq_text := websearch_to_tsquery(cat.config, query)::text;
	END IF;

	-- words that match nothing: the last one typed may be unfinished (a
	-- prefix), any may be a typo (the catalog's most similar lexeme, when
	-- pg_trgm is installed)
	SELECT format('%I', n.nspname) INTO trgm
	FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
	WHERE e.extname = 'pg_trgm';
	FOREACH lex IN ARRAY terms LOOP
		CONTINUE WHEN EXISTS (SELECT FROM recsys.catalog_terms t
							  WHERE t.catalog = cat.name AND t.lexeme = lex);
		fix := NULL;
		IF lex = last_lexeme AND query !~ '[[:space:][:punct:]]$'
		   AND EXISTS (SELECT FROM recsys.catalog_terms t
					   WHERE t.catalog = cat.name AND t.lexeme LIKE replace(replace(replace(lex, '\', '\\'), '%', '\%'), '_', '\_') || '%') THEN
			prefixes := prefixes || lex;
			fix := quote_literal(lex) || ':*';
		ELSIF trgm IS NOT NULL THEN
			EXECUTE format('SELECT t.lexeme FROM recsys.catalog_terms t '
						   'WHERE t.catalog = $1 AND %1$s.similarity(t.lexeme, $2) >= 0.3 '
						   'ORDER BY %1$s.similarity(t.lexeme, $2) DESC, t.df DESC, t.lexeme LIMIT 1', trgm)
			INTO fix USING cat.name, lex;
			IF fix IS NOT NULL THEN
				terms := array_replace(terms, lex, fix);
				fix := quote_literal(fix);
			END IF;
		END IF;
		IF fix IS NOT NULL THEN
			tsq_text := replace(tsq_text, quote_literal(lex), fix);
		END IF;
	END LOOP;
	tsq := tsq_text::tsquery;	-- NULL (matches nothing) for stop words

	IF coalesce(cardinality(also), 0) = 0 THEN
		-- (apart, so that the plan is the GIN index's alone)
		SELECT array_agg(d.item_id), array_agg(d.doc), array_agg(d.length) INTO ids, docs, lengths
		FROM recsys.catalog_docs d
		WHERE d.catalog = cat.name AND d.doc @@ tsq
		  AND (candidates IS NULL OR d.item_id = ANY (candidates));
	ELSE
		SELECT array_agg(d.item_id), array_agg(d.doc), array_agg(d.length) INTO ids, docs, lengths
		FROM recsys.catalog_docs d
		WHERE d.catalog = cat.name AND (d.doc @@ tsq OR d.item_id = ANY (also))
		  AND (candidates IS NULL OR d.item_id = ANY (candidates));
	END IF;
	IF ids IS NULL THEN
		RETURN;
	END IF;

	-- the model's scores of the candidates, when it knows the user (not a
	-- cold-start answer); the items it leaves out with exclude_seen were bought
	IF user_id IS NOT NULL AND model IS NOT NULL THEN
		SELECT coalesce(array_agg(r.item_id), '{}'),
			   coalesce(array_agg(r.item_id) FILTER (WHERE r.reason = 'personalised'), '{}'),
			   coalesce(array_agg(r.score) FILTER (WHERE r.reason = 'personalised'), '{}')
		INTO known, personal_ids, personal_scores
		FROM recsys.recommend(user_id, least(cardinality(ids), 10000), model, false, ids) r;
		IF cardinality(personal_ids) > 0 THEN
			SELECT coalesce(array_agg(r.item_id), '{}') INTO unseen
			FROM recsys.recommend(user_id, least(cardinality(ids), 10000), model, true, ids) r;
		END IF;
	END IF;

	RETURN QUERY
	WITH cand AS (
		SELECT c.item_id, c.doc, c.length FROM unnest(ids, docs, lengths) c(item_id, doc, length)
	), bm25 AS (
		SELECT c.item_id,
			   sum(ln(1 + (cat.n_items - t.df + 0.5) / (t.df + 0.5))
				   * m.tf * 2.2 / (m.tf + 1.2 * (0.25 + 0.75 * c.length / greatest(cat.avg_length, 1e-9)))) AS s
		FROM cand c
		CROSS JOIN LATERAL (SELECT u.lexeme, coalesce(array_length(u.positions, 1), 1) AS tf
							FROM unnest(c.doc) u
							WHERE u.lexeme = ANY (terms)
							   OR EXISTS (SELECT FROM unnest(prefixes) p WHERE starts_with(u.lexeme, p))) m
		JOIN recsys.catalog_terms t ON t.catalog = cat.name AND t.lexeme = m.lexeme
		GROUP BY c.item_id
	), personal AS (
		SELECT p.item_id, p.score FROM unnest(personal_ids, personal_scores) p(item_id, score)
	), pop AS (
		SELECT s.item_id, s.n_users
		FROM recsys.item_stats s
		WHERE s.model = _search_features.model AND s.version = model_version AND s.item_id = ANY (ids)
	), f AS MATERIALIZED (
		SELECT c.item_id, coalesce(b.s, 0)::real AS text_score, p.score AS personal_score,
			   coalesce(o.n_users, 0)::real AS popularity_score,
			   (cardinality(personal_ids) > 0 AND c.item_id = ANY (known)
				AND NOT c.item_id = ANY (unseen)) AS bought,
			   coalesce(b.s, 0) AS x_text, p.score AS x_personal,
			   ln(1 + coalesce(o.n_users, 0)) AS x_pop
		FROM cand c
		LEFT JOIN bm25 b ON b.item_id = c.item_id
		LEFT JOIN personal p ON p.item_id = c.item_id
		LEFT JOIN pop o ON o.item_id = c.item_id
	), m AS (
		-- the ranges of the features over the matches (an item the model
		-- does not score counts as its lowest score)
		SELECT min(f.x_text) AS text_lo, max(f.x_text) AS text_hi,
			   min(f.x_personal) AS personal_lo, max(f.x_personal) AS personal_hi,
			   min(f.x_pop) AS pop_lo, max(f.x_pop) AS pop_hi
		FROM f
	)
	SELECT f.item_id, f.text_score, f.personal_score, f.popularity_score, f.bought,
		   coalesce((f.x_text - m.text_lo) / nullif(m.text_hi - m.text_lo, 0), 0)::real,
		   coalesce((coalesce(f.x_personal, m.personal_lo) - m.personal_lo) / nullif(m.personal_hi - m.personal_lo, 0), 0)::real,
		   coalesce((f.x_pop - m.pop_lo) / nullif(m.pop_hi - m.pop_lo, 0), 0)::real
	FROM f, m
	WHERE NOT (exclude_purchased AND f.bought);
END
$$;
COMMENT ON FUNCTION recsys._search_features(text, bigint, text, text, bigint[], boolean, bigint[]) IS
	'internal: the items matching a search query, with the features search ranks them by';

CREATE FUNCTION recsys.search(
	query text,
	user_id bigint DEFAULT NULL,
	k integer DEFAULT 10,
	model text DEFAULT 'default',
	catalog text DEFAULT 'default',
	candidates bigint[] DEFAULT NULL,
	exclude_purchased boolean DEFAULT false,
	query_embedding real[] DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real, text_score real, personal_score real, popularity_score real)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	weights jsonb;
	nearest bigint[];
BEGIN
	IF k IS NULL OR exclude_purchased IS NULL THEN
		RAISE EXCEPTION 'k and exclude_purchased must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF k < 1 OR k > 10000 THEN
		RAISE EXCEPTION 'k must be between 1 and 10000, not %', k USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT c.weights INTO weights FROM recsys.catalogs c WHERE c.name = search.catalog;
	IF query_embedding IS NOT NULL THEN
		-- hybrid: the products nearest the query's embedding are candidates too
		IF NOT EXISTS (SELECT FROM recsys.catalog_docs d
					   WHERE d.catalog = search.catalog AND d.embedding IS NOT NULL) THEN
			RAISE EXCEPTION 'catalog "%" has no embeddings', catalog
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Index it with embedding_col, or search without query_embedding.';
		END IF;
		SELECT array_agg(v.item_id ORDER BY v.sim DESC, v.item_id) INTO nearest
		FROM (SELECT d.item_id, recsys._embedding_similarity(d.embedding, query_embedding) AS sim
			  FROM recsys.catalog_docs d
			  WHERE d.catalog = search.catalog AND d.embedding IS NOT NULL
				AND (candidates IS NULL OR d.item_id = ANY (candidates))
			  ORDER BY 2 DESC, 1
			  LIMIT greatest(k, 100)) v;
	END IF;
	RETURN QUERY
	WITH f AS (
		SELECT * FROM recsys._search_features(query, user_id, model, catalog, candidates, exclude_purchased,
											  coalesce(nearest, '{}'))
	), w AS (
		SELECT coalesce((x ->> 'text')::real, 0) AS text, coalesce((x ->> 'personal')::real, 0) AS personal,
			   coalesce((x ->> 'popularity')::real, 0) AS popularity, coalesce((x ->> 'bought')::real, 0) AS bought
		FROM (SELECT weights -> CASE WHEN EXISTS (SELECT FROM f WHERE f.personal_score IS NOT NULL)
									 THEN 'personal' ELSE 'anonymous' END AS x) s
	), ranked AS (
		SELECT f.item_id, f.text_score, f.personal_score, f.popularity_score,
			   (w.text * f.text_n + w.personal * f.personal_n + w.popularity * f.popularity_n
				+ w.bought * f.bought::integer)::real AS learned
		FROM f, w
	), fused AS (
		-- reciprocal rank fusion (k = 60) of the learned ranking and the
		-- embedding's, when there is one
		SELECT r.*, CASE WHEN nearest IS NULL THEN r.learned
						 ELSE (1.0 / (60 + row_number() OVER (ORDER BY r.learned DESC, r.item_id))
							   + coalesce(1.0 / (60 + array_position(nearest, r.item_id)), 0))::real END AS fused
		FROM ranked r
	)
	SELECT f.item_id, f.fused, f.text_score, f.personal_score, f.popularity_score
	FROM fused f
	ORDER BY 2 DESC, f.item_id
	LIMIT k;
END
$$;
COMMENT ON FUNCTION recsys.search(text, bigint, integer, text, text, bigint[], boolean, real[]) IS
	'personalised product search: the k items of a catalog matching a query, ranked by text relevance, the model''s score for the user and popularity';

-- internal: NDCG@10 of tune_search's rows under weights w (text, personal,
-- popularity, bought), from the feature differences of every competing
-- candidate with the relevant item (_recsys_search_pairs); ties go to the
-- smaller item_id, as in search
CREATE FUNCTION recsys._search_ndcg(w real[], n_alone bigint, n_rows bigint)
RETURNS double precision
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (
		SELECT (coalesce(sum(CASE WHEN x.r <= 10 THEN ln(2) / ln(x.r + 1) ELSE 0 END), 0) + n_alone) / n_rows
		FROM (SELECT 1 + count(*) FILTER (WHERE p.d > 0 OR (p.d = 0 AND p.before)) AS r
			  FROM (SELECT p.row_id, p.before,
						   p.dt * w[1] + p.dp * w[2] + p.dpop * w[3] + p.db * w[4] AS d
					FROM pg_temp._recsys_search_pairs p) p
			  GROUP BY p.row_id) x);
END
$$;
COMMENT ON FUNCTION recsys._search_ndcg(real[], bigint, bigint) IS
	'internal: tune_search''s objective';

-- internal: tune_search's coordinate ascent from weights w over the
-- coordinates coords, each tried at every grid value in turn; a change is
-- kept only when it raises NDCG@10 (ties keep the earlier weights)
CREATE FUNCTION recsys._search_ascent(w real[], coords integer[], grid real[], n_alone bigint, n_rows bigint)
RETURNS real[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	best double precision := recsys._search_ndcg(w, n_alone, n_rows);
	value double precision;
	trial real[];
	c integer;
	g real;
	changed boolean;
BEGIN
	FOR pass IN 1..4 LOOP
		changed := false;
		FOREACH c IN ARRAY coords LOOP
			FOREACH g IN ARRAY grid LOOP
				CONTINUE WHEN g = w[c];
				trial := w;
				trial[c] := g;
				value := recsys._search_ndcg(trial, n_alone, n_rows);
				IF value > best + 1e-9 THEN
					best := value;
					w := trial;
					changed := true;
				END IF;
			END LOOP;
		END LOOP;
		EXIT WHEN NOT changed;
	END LOOP;
	RETURN w;
END
$$;
COMMENT ON FUNCTION recsys._search_ascent(real[], integer[], real[], bigint, bigint) IS
	'internal: tune_search''s coordinate ascent';

CREATE FUNCTION recsys.tune_search(
	catalog text,
	source regclass,
	model text DEFAULT 'default',
	user_col name DEFAULT 'user_id',
	query_col name DEFAULT 'query',
	item_col name DEFAULT 'item_id')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cat recsys.catalogs;
	grid real[] := '{-10,-3,-1,-0.3,-0.1,0,0.03,0.1,0.3,1,3,10}';
	n_rows bigint;
	n_alone bigint;
	personal_w real[];
	personal_value double precision;
	anonymous_w real[];
	anonymous_value double precision;
	result jsonb;
BEGIN
	IF source IS NULL OR model IS NULL OR user_col IS NULL OR query_col IS NULL OR item_col IS NULL THEN
		RAISE EXCEPTION 'source, model, user_col, query_col and item_col must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	cat := recsys._lock_catalog(catalog, 'tune');
	EXECUTE format('CREATE TEMP TABLE _recsys_search_rows ON COMMIT DROP AS '
				   'SELECT row_number() OVER (ORDER BY s.u, s.q, s.i) AS row_id, s.u AS user_id, s.q AS query, s.i AS item_id '
				   'FROM (SELECT DISTINCT (%I)::bigint AS u, (%I)::text AS q, (%I)::bigint AS i FROM %s) s '
				   'WHERE s.u IS NOT NULL AND s.i IS NOT NULL AND btrim(s.q) <> '''' AND length(s.q) <= 1000',
				   user_col, query_col, item_col, source);
	SELECT count(*) INTO n_rows FROM pg_temp._recsys_search_rows;
	IF n_rows = 0 THEN
		RAISE EXCEPTION 'source % has no row with a user, a query and an item', source
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass a table of searches and the items bought after them.';
	END IF;
	-- every candidate of every distinct (user, query), with its features
	CREATE TEMP TABLE _recsys_search_feats ON COMMIT DROP AS
	SELECT q.user_id, q.query, f.item_id, f.text_n, f.personal_n, f.popularity_n,
		   f.bought::integer::real AS bought
	FROM (SELECT DISTINCT r.user_id, r.query FROM pg_temp._recsys_search_rows r) q,
		 LATERAL recsys._search_features(q.query, q.user_id, tune_search.model, cat.name) f;
	-- each row ranks its item among the candidates of its (user, query),
	-- the items of the pair's other rows left out ("filtered": a shopper
	-- who bought two of them is not wrong to see either first)
	CREATE TEMP TABLE _recsys_search_pairs ON COMMIT DROP AS
	SELECT r.row_id, j.text_n - i.text_n AS dt, j.personal_n - i.personal_n AS dp,
		   j.popularity_n - i.popularity_n AS dpop, j.bought - i.bought AS db, j.item_id < i.item_id AS before
	FROM pg_temp._recsys_search_rows r
	JOIN pg_temp._recsys_search_feats i ON i.user_id = r.user_id AND i.query = r.query AND i.item_id = r.item_id
	JOIN pg_temp._recsys_search_feats j ON j.user_id = r.user_id AND j.query = r.query AND j.item_id <> r.item_id
	WHERE NOT EXISTS (SELECT FROM pg_temp._recsys_search_rows o
					  WHERE o.user_id = r.user_id AND o.query = r.query AND o.item_id = j.item_id);
	-- rows whose item is the only candidate left rank it first
	SELECT count(*) INTO n_alone
	FROM pg_temp._recsys_search_rows r
	JOIN pg_temp._recsys_search_feats i ON i.user_id = r.user_id AND i.query = r.query AND i.item_id = r.item_id
	WHERE NOT EXISTS (SELECT FROM pg_temp._recsys_search_pairs p WHERE p.row_id = r.row_id);

	-- coordinate ascent on NDCG@10 (Metzler and Croft's linear ranker):
	-- one weight at a time over a grid, the others fixed, until no change
	personal_w := recsys._search_ascent('{0.1,1,1,0}', '{1,2,3,4}', grid, n_alone, n_rows);
	personal_value := recsys._search_ndcg(personal_w, n_alone, n_rows);
	anonymous_w := recsys._search_ascent('{0.1,0,1,0}', '{1,3}', grid, n_alone, n_rows);
	anonymous_value := recsys._search_ndcg(anonymous_w, n_alone, n_rows);

	result := jsonb_build_object(
		'personal', jsonb_build_object('text', personal_w[1], 'personal', personal_w[2],
									   'popularity', personal_w[3], 'bought', personal_w[4]),
		'anonymous', jsonb_build_object('text', anonymous_w[1], 'popularity', anonymous_w[3]),
		'tuned', jsonb_build_object('model', model, 'source', source::text, 'rows', n_rows,
									'ndcg@10', round(personal_value::numeric, 4),
									'ndcg@10 anonymous', round(anonymous_value::numeric, 4)));
	UPDATE recsys.catalogs c SET weights = result WHERE c.name = cat.name;
	DROP TABLE pg_temp._recsys_search_rows, pg_temp._recsys_search_feats, pg_temp._recsys_search_pairs;
	RETURN result;
END
$$;
COMMENT ON FUNCTION recsys.tune_search(text, regclass, text, name, name, name) IS
	'learn search''s weights (text, personal score, popularity, bought before) from searches and the items bought after them';

-------------------------------------------------------------------------------
-- Item features and cold items
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Event weights, user profiles, similar users
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Experiments and interleaving
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Progress and plots
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Compressed item vectors, fast writes, planner estimates
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Shared model cache
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------
