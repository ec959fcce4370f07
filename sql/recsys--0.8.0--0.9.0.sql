-- recsys 0.8.0 -> 0.9.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.9.0'" to load this file. \quit

-- 0.9.0: each change has a section of its own below (one per work stream).

-------------------------------------------------------------------------------
-- Search
-------------------------------------------------------------------------------

-- internal: a search query's matches in a catalog (GIN), with BM25 over
-- terms and the lexemes prefixes complete, the model's user count of
-- each and where the query's words end in its text (the last position of
-- one over the text's last position); the best recsys.search_max_matches by both when more match (but
-- at least min_matches: search's k, plus the user's purchases when it
-- leaves them out)
CREATE FUNCTION recsys._search_matches(
	catalog text, tsq tsquery, terms text[], prefixes text[], n_items bigint,
	avg_length double precision, candidates bigint[], also bigint[], model text,
	min_matches integer,
	OUT ids bigint[], OUT bm25 double precision[], OUT n_users integer[], OUT positions real[])
AS 'MODULE_PATHNAME', 'recsys_search_matches'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._search_matches(text, tsquery, text[], text[], bigint, double precision, bigint[], bigint[], text, integer) IS
	'internal: a search query''s matches with their BM25, popularity and position';

-- internal: the candidates of a query with their features, raw and
-- normalised to [0, 1] over the candidates (min-max; 0 when all are
-- equal).  Text: BM25 (k1 1.2, b 0.75) over the catalog's lexemes;
-- personal: the model's score through recommend (any kind), only when the
-- model knows the user; popularity: ln(1 + the model's users of the item);
-- bought: the user has the item in the model's source; position: where
-- the query's words end in the item's text (1: they end it, as a product
-- title's head noun does).  Items in also
-- (hybrid search's nearest embeddings) are candidates whatever their text.
-- top_k (search's k): the cap recsys.search_max_matches keeps at least top_k matches
-- (and the user's purchases besides, when exclude_purchased drops them).
DROP FUNCTION recsys._search_features(text, bigint, text, text, bigint[], boolean, bigint[]);
CREATE FUNCTION recsys._search_features(
	query text, user_id bigint, model text, catalog text,
	candidates bigint[] DEFAULT NULL, exclude_purchased boolean DEFAULT false,
	also bigint[] DEFAULT NULL, top_k integer DEFAULT NULL)
RETURNS TABLE (item_id bigint, text_score real, personal_score real, popularity_score real,
			   bought boolean, text_n real, personal_n real, popularity_n real, position_n real)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
-- (a query of thousands of matches is estimated dear enough for JIT, whose
-- compilation, tens of milliseconds, costs more than the query itself)
SET jit = off
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
	bm25s double precision[];
	users integer[];
	ends real[];
	known bigint[] := '{}';
	personal_ids bigint[] := '{}';
	personal_scores real[] := '{}';
	seen bigint[] := '{}';
	min_matches integer := coalesce(top_k, 0);
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

	-- the matches (GIN), their BM25 and user counts, capped to the best
	-- recsys.search_max_matches by both for generic words (src/search_match.c),
	-- but never to fewer than k once the user's purchases are left out
	IF exclude_purchased AND top_k IS NOT NULL AND user_id IS NOT NULL AND model IS NOT NULL THEN
		min_matches := least(top_k::bigint + coalesce(cardinality(recsys._seen_items(user_id, model)), 0),
							 2147483647);
	END IF;
	SELECT m.ids, m.bm25, m.n_users, m.positions INTO ids, bm25s, users, ends
	FROM recsys._search_matches(cat.name, tsq, terms, prefixes, cat.n_items, cat.avg_length,
								candidates, CASE WHEN cardinality(also) > 0 THEN also END,
								model, min_matches) m;
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
			-- the candidates the model knows that the user has (few)
			SELECT coalesce(array_agg(s.item_id), '{}') INTO seen
			FROM unnest(recsys._seen_items(user_id, model)) s(item_id)
			JOIN unnest(known) k(item_id) ON k.item_id = s.item_id;
		END IF;
	END IF;

	RETURN QUERY
	WITH f AS MATERIALIZED (
		SELECT c.item_id, c.bm25::real AS text_score, p.score AS personal_score,
			   c.n_users::real AS popularity_score,
			   (cardinality(personal_ids) > 0 AND c.item_id = ANY (seen)) AS bought,
			   c.bm25 AS x_text, p.score AS x_personal, ln(1 + c.n_users) AS x_pop,
			   c.position AS x_position
		FROM unnest(ids, bm25s, users, ends) c(item_id, bm25, n_users, position)
		LEFT JOIN unnest(personal_ids, personal_scores) p(item_id, score) ON p.item_id = c.item_id
	), m AS (
		-- the ranges of the features over the matches (an item the model
		-- does not score counts as its lowest score)
		SELECT min(f.x_text) AS text_lo, max(f.x_text) AS text_hi,
			   min(f.x_personal) AS personal_lo, max(f.x_personal) AS personal_hi,
			   min(f.x_pop) AS pop_lo, max(f.x_pop) AS pop_hi,
			   min(f.x_position) AS position_lo, max(f.x_position) AS position_hi
		FROM f
	)
	SELECT f.item_id, f.text_score, f.personal_score, f.popularity_score, f.bought,
		   coalesce((f.x_text - m.text_lo) / nullif(m.text_hi - m.text_lo, 0), 0)::real,
		   coalesce((coalesce(f.x_personal, m.personal_lo) - m.personal_lo) / nullif(m.personal_hi - m.personal_lo, 0), 0)::real,
		   coalesce((f.x_pop - m.pop_lo) / nullif(m.pop_hi - m.pop_lo, 0), 0)::real,
		   coalesce((f.x_position - m.position_lo) / nullif(m.position_hi - m.position_lo, 0), 0)::real
	FROM f, m
	WHERE NOT (exclude_purchased AND f.bought);
END
$$;
COMMENT ON FUNCTION recsys._search_features(text, bigint, text, text, bigint[], boolean, bigint[], integer) IS
	'internal: the items matching a search query, with the features search ranks them by';

-- search passes k to _search_features: the cap keeps at least k matches
CREATE OR REPLACE FUNCTION recsys.search(
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
		-- hybrid: the products nearest the query's embedding are candidates
		-- too; a query embedding holding NaN or an infinity is refused (22023)
		-- whether or not a product is compared with it
		PERFORM recsys._embedding_similarity(query_embedding, query_embedding);
		IF NOT EXISTS (SELECT FROM recsys.catalog_docs d
					   WHERE d.catalog = search.catalog AND d.embedding IS NOT NULL) THEN
			RAISE EXCEPTION 'catalog "%" has no embeddings', catalog
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Index it with embedding_col, or search without query_embedding.';
		END IF;
		-- an embedding of another length than the query's: the query's
		-- fault, unless the catalog's are not all one length (damage, XX001)
		IF EXISTS (SELECT FROM recsys.catalog_docs d
				   WHERE d.catalog = search.catalog AND d.embedding IS NOT NULL
					 AND cardinality(d.embedding) <> cardinality(query_embedding)) THEN
			PERFORM recsys._catalog_embedding_length(catalog);
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
											  coalesce(nearest, '{}'), k)
	), w AS (
		SELECT coalesce((x ->> 'text')::real, 0) AS text, coalesce((x ->> 'personal')::real, 0) AS personal,
			   coalesce((x ->> 'popularity')::real, 0) AS popularity, coalesce((x ->> 'bought')::real, 0) AS bought,
			   coalesce((x ->> 'position')::real, 0) AS position,
			   (x ->> 'embedding')::real AS embedding
		FROM (SELECT weights -> CASE WHEN EXISTS (SELECT FROM f WHERE f.personal_score IS NOT NULL)
									 THEN 'personal' ELSE 'anonymous' END AS x) s
	), ranked AS (
		SELECT f.item_id, f.text_score, f.personal_score, f.popularity_score,
			   (w.text * f.text_n + w.personal * f.personal_n + w.popularity * f.popularity_n
				+ w.bought * f.bought::integer + w.position * f.position_n)::real AS learned,
			   w.embedding,
			   -- the cosine similarity to the query's embedding, for a learned fusion
			   CASE WHEN nearest IS NOT NULL AND w.embedding IS NOT NULL
					THEN (SELECT recsys._embedding_similarity(d.embedding, query_embedding)
						  FROM recsys.catalog_docs d
						  WHERE d.catalog = search.catalog AND d.item_id = f.item_id) END AS sim
		FROM f, w
	), fused AS (
		-- with an embedding weight (tune_search learned it), the learned
		-- score plus it times the similarity, min-max normalised over the
		-- candidates (0 without an embedding); else reciprocal rank fusion
		-- (k = 60) of the learned ranking and the embedding's, when there
		-- is one; tied learned scores share their rank, so the item ids'
		-- order does not count as relevance
		SELECT r.*, CASE WHEN nearest IS NULL THEN r.learned
						 WHEN r.embedding IS NOT NULL
						 THEN (r.learned + r.embedding
							   * coalesce((r.sim - min(r.sim) OVER ())
										  / nullif(max(r.sim) OVER () - min(r.sim) OVER (), 0), 0)::real)::real
						 ELSE (1.0 / (60 + rank() OVER (ORDER BY r.learned DESC))
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

CREATE OR REPLACE FUNCTION recsys.refresh_catalog(catalog text DEFAULT 'default')
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cat recsys.catalogs;
	n bigint;
	n_ids bigint;
	n_distinct bigint;
	n_lengths bigint;
	not_finite bigint;
	null_element bigint;
	n_inserted bigint;
BEGIN
	cat := recsys._lock_catalog(catalog, 'refresh');
	DELETE FROM recsys.catalog_terms t WHERE t.catalog = cat.name;
	DELETE FROM recsys.catalog_docs d WHERE d.catalog = cat.name;
	-- one read of the source, no temporary table (a role without TEMP on
	-- the database may refresh): the rows go in as they come, with their
	-- checks counted on the way; any failed check raises, which undoes
	-- the insert with the rest of the refresh
	WITH r AS MATERIALIZED (
		SELECT s.item_id, s.doc, s.embedding FROM recsys._catalog_source(cat.name) s
	), ins AS (
		INSERT INTO recsys.catalog_docs (catalog, item_id, doc, length, embedding)
		SELECT cat.name, r.item_id, r.doc,
			   (SELECT coalesce(sum(coalesce(array_length(u.positions, 1), 1)), 0) FROM unnest(r.doc) u),
			   r.embedding
		FROM r
		WHERE r.item_id IS NOT NULL
		ON CONFLICT DO NOTHING
		RETURNING 1
	)
	SELECT count(*), count(r.item_id), count(DISTINCT r.item_id),
		   count(DISTINCT coalesce(array_length(r.embedding, 1), 0)) FILTER (WHERE r.embedding IS NOT NULL),
		   min(r.item_id) FILTER (WHERE EXISTS (SELECT FROM unnest(r.embedding) e
												WHERE e IN ('NaN'::real, 'Infinity'::real, '-Infinity'::real))),
		   min(r.item_id) FILTER (WHERE array_position(r.embedding, NULL) IS NOT NULL),
		   (SELECT count(*) FROM ins)
	INTO n, n_ids, n_distinct, n_lengths, not_finite, null_element, n_inserted
	FROM r;
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
	IF n_lengths > 1 THEN
		RAISE EXCEPTION 'the embeddings in column "%" of % differ in length', cat.embedding_col, cat.source
			USING ERRCODE = 'array_subscript_error',
				  HINT = 'Every product''s embedding must come from the same model (or be NULL).';
	END IF;
	IF not_finite IS NOT NULL THEN
		RAISE EXCEPTION 'the embedding in column "%" of % of item % holds NaN or an infinity',
			cat.embedding_col, cat.source, not_finite
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Every product''s embedding must hold finite numbers (or be NULL).';
	END IF;
	-- (search refuses them: one would fail every hybrid search)
	IF null_element IS NOT NULL THEN
		RAISE EXCEPTION 'the embedding in column "%" of % of item % holds a NULL element',
			cat.embedding_col, cat.source, null_element
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Every product''s embedding must hold finite numbers (or be NULL).';
	END IF;
	ASSERT n_inserted = n;
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
		-- (the integer total over n in double, as the trigger keeps it)
		avg_length = coalesce((SELECT sum(d.length)::double precision / nullif(count(*), 0)
							   FROM recsys.catalog_docs d WHERE d.catalog = cat.name), 0)
	WHERE c.name = cat.name;
	RETURN n;
END
$$;
COMMENT ON FUNCTION recsys.refresh_catalog(text) IS
	'read a catalog''s product table again (as the catalog''s owner): new and changed products become searchable';

-- internal: the trigger keeping a catalog current (src/search_sync.c)
CREATE FUNCTION recsys._catalog_sync()
RETURNS trigger
AS 'MODULE_PATHNAME', 'recsys_catalog_sync'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._catalog_sync() IS
	'internal: brings a search catalog up to date with its product table''s changed rows, as the catalog''s owner';

-- keep a catalog current without refresh calls: triggers on its product
-- table index every inserted, updated or deleted product (and empty the
-- catalog on TRUNCATE) in the same transaction, as the catalog's owner
CREATE FUNCTION recsys.catalog_trigger(catalog text DEFAULT 'default', enabled boolean DEFAULT true)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cat recsys.catalogs;
	rel regclass;
	relowner oid;
	row_trigger name;
	truncate_trigger name;
	cols text;
BEGIN
	IF enabled IS NULL THEN
		RAISE EXCEPTION 'enabled must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	cat := recsys._lock_catalog(catalog, 'change the trigger of');
	rel := to_regclass(cat.source);
	-- names no two catalogs share, whatever their length (the trigger's
	-- argument names the catalog, and the trigger checks it)
	row_trigger := 'recsys_catalog_' || md5(cat.name);
	truncate_trigger := 'recsys_catalog_truncate_' || md5(cat.name);
	IF rel IS NULL THEN
		IF NOT enabled THEN
			RETURN false;	-- (dropping a catalog whose table is gone)
		END IF;
		RAISE EXCEPTION 'the source of catalog "%", relation %, no longer exists', cat.name, cat.source
			USING ERRCODE = 'undefined_table',
				  HINT = 'Index the product table again with recsys.index_catalog.';
	END IF;
	IF enabled THEN
		IF (SELECT c.relkind FROM pg_class c WHERE c.oid = rel) = 'p' THEN
			RAISE EXCEPTION 'catalog "%" indexes %, which is a partitioned table', cat.name, cat.source
				USING ERRCODE = 'wrong_object_type',
					  HINT = 'Its rows'' triggers fire on its partitions: refresh the catalog with recsys.refresh_catalog.';
		END IF;
		IF (SELECT c.relkind FROM pg_class c WHERE c.oid = rel) <> 'r' THEN
			RAISE EXCEPTION 'catalog "%" indexes %, which is not a table', cat.name, cat.source
				USING ERRCODE = 'wrong_object_type',
					  HINT = 'Only a table''s changes fire triggers: refresh a view''s catalog with recsys.refresh_catalog.';
		END IF;
		-- the trigger reads the table as the catalog's owner whenever the
		-- table's owner changes it: only a table owner with the catalog
		-- owner's rights may have that (else its policies run as another
		-- role), and only a role owning the table can switch it off again
		relowner := (SELECT c.relowner FROM pg_class c WHERE c.oid = rel);
		IF NOT pg_has_role(relowner, 'USAGE') THEN
			RAISE EXCEPTION 'must be owner of table % to keep catalog "%" current with a trigger', cat.source, cat.name
				USING ERRCODE = 'insufficient_privilege',
					  HINT = 'Refresh the catalog with recsys.refresh_catalog instead.';
		END IF;
		IF NOT pg_has_role(relowner, cat.owner, 'USAGE') THEN
			RAISE EXCEPTION 'the owner of table %, role "%", lacks the rights of role "%", the owner of catalog "%"',
				cat.source, relowner::regrole, cat.owner, cat.name
				USING ERRCODE = 'insufficient_privilege',
					  DETAIL = 'The trigger reads the table with the catalog owner''s rights whenever the table''s owner changes it.',
					  HINT = 'Refresh the catalog with recsys.refresh_catalog instead.';
		END IF;
		IF (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = cat.id_col AND NOT a.attisdropped)
		   NOT IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN
			RAISE EXCEPTION 'column "%" of % is of type %, not an integer type', cat.id_col, cat.source,
				(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
				 WHERE a.attrelid = rel AND a.attname = cat.id_col)
				USING ERRCODE = 'datatype_mismatch',
					  HINT = 'The trigger needs a smallint, integer or bigint id: refresh the catalog with recsys.refresh_catalog.';
		END IF;
	END IF;
	IF EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = rel AND t.tgname IN (row_trigger, truncate_trigger)) THEN
		EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', row_trigger, rel);
		EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', truncate_trigger, rel);
	END IF;
	IF enabled THEN
		-- an UPDATE of other columns (a price) changes nothing searchable
		SELECT string_agg(format('%I', c.col), ', ') INTO cols
		FROM unnest(cat.id_col || cat.text_cols || cat.embedding_col) c(col) WHERE c.col IS NOT NULL;
		EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OF %s OR DELETE ON %s '
					   'FOR EACH ROW EXECUTE FUNCTION recsys._catalog_sync(%L)', row_trigger, cols, rel, cat.name);
		EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %s '
					   'FOR EACH STATEMENT EXECUTE FUNCTION recsys._catalog_sync(%L)', truncate_trigger, rel, cat.name);
		-- from a fresh start: what changed before is in too
		PERFORM recsys.refresh_catalog(cat.name);
	END IF;
	RETURN enabled;
END
$$;
COMMENT ON FUNCTION recsys.catalog_trigger(text, boolean) IS
	'keep a search catalog current with triggers on its product table (enabled => false removes them)';

CREATE OR REPLACE FUNCTION recsys.drop_catalog(catalog text, if_exists boolean DEFAULT false)
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
	BEGIN
		PERFORM recsys.catalog_trigger(catalog, false);
	EXCEPTION WHEN insufficient_privilege THEN
		-- (the table changed hands): its trigger does nothing once the
		-- catalog is gone, and its owner may drop it
		RAISE NOTICE 'the triggers of catalog "%" stay on its product table and do nothing: %', catalog, SQLERRM
			USING HINT = 'The table''s owner may drop them.';
	END;
	DELETE FROM recsys.catalogs c WHERE c.name = drop_catalog.catalog;
	RETURN true;
END
$$;
COMMENT ON FUNCTION recsys.drop_catalog(text, boolean) IS
	'drop a search catalog and its index (the product table stays)';

-- tune_search learns a weight for the position of the query's words too,
-- and can switch features off (its trailing argument features); its
-- objective and ascent take the pairs' feature differences as one array
-- (without temporary tables: a role without TEMPORARY on the database
-- tunes too; moved here from "Fixes", which made that change first)
DROP FUNCTION recsys.tune_search(text, regclass, text, name, name, name);
DROP FUNCTION recsys._search_ndcg(real[], bigint, bigint);
DROP FUNCTION recsys._search_ascent(real[], integer[], real[], bigint, bigint);
-- internal: NDCG@10 of tune_search's rows under weights w (one per
-- feature: text, personal, popularity, bought, position, embedding), from the
-- feature differences of every competing candidate with the relevant
-- item (p_row, p_before: one element per pair; p_diff: cardinality(w)
-- differences per pair, pair after pair); ties go to the smaller
-- item_id, as in search.  Arrays, not a temporary table: a role without
-- TEMPORARY on the database tunes too; a loop in C (src/tune_search.c),
-- evaluated a few hundred times per tune_search.
CREATE FUNCTION recsys._search_ndcg(w real[], p_row bigint[], p_diff real[], p_before boolean[],
									n_alone bigint, n_rows bigint)
RETURNS double precision
AS 'MODULE_PATHNAME', 'recsys_search_ndcg'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys._search_ndcg(real[], bigint[], real[], boolean[], bigint, bigint) IS
	'internal: tune_search''s objective';

-- internal: tune_search's coordinate ascent from weights w over the
-- coordinates coords, each tried at every grid value in turn; a change is
-- kept only when it raises NDCG@10 (ties keep the earlier weights)
CREATE FUNCTION recsys._search_ascent(w real[], coords integer[], grid real[], p_row bigint[], p_diff real[],
									  p_before boolean[], n_alone bigint, n_rows bigint)
RETURNS real[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	best double precision := recsys._search_ndcg(w, p_row, p_diff, p_before, n_alone, n_rows);
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
				value := recsys._search_ndcg(trial, p_row, p_diff, p_before, n_alone, n_rows);
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
COMMENT ON FUNCTION recsys._search_ascent(real[], integer[], real[], bigint[], real[], boolean[], bigint, bigint) IS
	'internal: tune_search''s coordinate ascent';

-- internal: the length of a catalog's embeddings (NULL without any);
-- index_catalog made them all one length, so an item of another length
-- is damage (XX001, naming the item of the rarer length), not the query's fault
CREATE FUNCTION recsys._catalog_embedding_length(catalog text)
RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	lengths integer[];
	bad_item bigint;
BEGIN
	SELECT array_agg(l.len ORDER BY l.n DESC, l.len) INTO lengths
	FROM (SELECT coalesce(cardinality(d.embedding), 0) AS len, count(*) AS n
		  FROM recsys.catalog_docs d
		  WHERE d.catalog = _catalog_embedding_length.catalog AND d.embedding IS NOT NULL
		  GROUP BY 1) l;
	IF cardinality(lengths) > 1 THEN
		SELECT min(d.item_id) INTO bad_item FROM recsys.catalog_docs d
		WHERE d.catalog = _catalog_embedding_length.catalog AND d.embedding IS NOT NULL
		  AND coalesce(cardinality(d.embedding), 0) <> lengths[1];
		RAISE EXCEPTION 'catalog "%" is damaged: the embedding of item % has % dimensions, the others %',
			catalog, bad_item,
			(SELECT coalesce(cardinality(d.embedding), 0) FROM recsys.catalog_docs d
			 WHERE d.catalog = _catalog_embedding_length.catalog AND d.item_id = bad_item),
			lengths[1]
			USING ERRCODE = 'data_corrupted',
				  HINT = 'Rebuild it from its source with recsys.index_catalog.';
	END IF;
	RETURN lengths[1];
END
$$;
COMMENT ON FUNCTION recsys._catalog_embedding_length(text) IS
	'internal: the length of a catalog''s embeddings, refusing a damaged one';

CREATE FUNCTION recsys.tune_search(
	catalog text,
	source regclass,
	model text DEFAULT 'default',
	user_col name DEFAULT 'user_id',
	query_col name DEFAULT 'query',
	item_col name DEFAULT 'item_id',
	features text[] DEFAULT NULL,
	embedding_col name DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
-- (its one big query is estimated dear enough for JIT, which made it
-- 1.5-2x slower and cancel late by the compilation's seconds)
SET jit = off
AS $$
DECLARE
	cat recsys.catalogs;
	grid real[] := '{-10,-3,-1,-0.3,-0.1,0,0.03,0.1,0.3,1,3,10}';
	-- search's features, in the order of the weight vectors; the
	-- anonymous ranker has those that need no user; embedding (hybrid
	-- search's similarity to the query's embedding) only with embedding_col
	names text[] := '{text,personal,popularity,bought,position,embedding}';
	anonymous_names text[] := '{text,popularity,position,embedding}';
	query_embedding text := 'NULL::real[]';
	used text[];
	unknown text;
	col_type regtype;
	dims integer;
	bad_item bigint;
	bad_user bigint;
	bad_query text;
	bad_e text[];
	bad_value text;
	n_rows bigint;
	n_alone bigint;
	-- the pairs (a row, a competing candidate) as arrays
	p_row bigint[];
	p_diff real[];
	p_before boolean[];
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
	-- the features learned (the others keep weight 0: switched off)
	used := coalesce(features, CASE WHEN embedding_col IS NULL THEN names[1:5] ELSE names END);
	SELECT f INTO unknown FROM unnest(used) f WHERE f IS NULL OR NOT f = ANY (names) LIMIT 1;
	IF FOUND OR cardinality(used) = 0 THEN
		RAISE EXCEPTION 'features must name one or more of text, personal, popularity, bought, position, embedding, not %',
			coalesce(quote_literal(unknown), CASE WHEN cardinality(used) = 0 THEN 'none' ELSE 'NULL' END)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass features => NULL to learn them all.';
	END IF;
	IF array_ndims(used) > 1 THEN
		RAISE EXCEPTION 'features must be a one-dimensional array, not one of % dimensions', array_ndims(used)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass a list of feature names, such as ''{text,popularity}''.';
	END IF;
	SELECT f INTO unknown FROM unnest(used) f GROUP BY f HAVING count(*) > 1 ORDER BY f LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'features must name each feature once, not % twice', quote_literal(unknown)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF embedding_col IS NULL AND 'embedding' = ANY (used) THEN
		RAISE EXCEPTION 'features names embedding but embedding_col is NULL'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass embedding_col, the source''s column of the queries'' embeddings.';
	END IF;
	cat := recsys._lock_catalog(catalog, 'tune');
	-- the model, up front (a missing one is no case for text alone here)
	IF NOT EXISTS (SELECT FROM recsys.models m WHERE m.name = tune_search.model) THEN
		RAISE EXCEPTION 'model "%" does not exist', model
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass the model search will rank with (one of recsys.models, or ask its owner for recsys.grant_model).';
	END IF;
	IF embedding_col IS NOT NULL THEN
		SELECT a.atttypid INTO col_type FROM pg_attribute a
		WHERE a.attrelid = source AND a.attname = embedding_col AND a.attnum > 0 AND NOT a.attisdropped;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'embedding_col "%" is not a column of %', embedding_col, source
				USING ERRCODE = 'undefined_column';
		END IF;
		IF col_type NOT IN ('real[]'::regtype, 'double precision[]'::regtype, 'numeric[]'::regtype,
							'smallint[]'::regtype, 'integer[]'::regtype, 'bigint[]'::regtype) THEN
			RAISE EXCEPTION 'embedding_col "%" of % must be an array of numbers such as real[], not %',
				embedding_col, source, col_type
				USING ERRCODE = 'datatype_mismatch',
					  HINT = 'Pass the column of the queries'' embeddings (real[] or double precision[]).';
		END IF;
		IF NOT EXISTS (SELECT FROM recsys.catalog_docs d WHERE d.catalog = cat.name AND d.embedding IS NOT NULL) THEN
			RAISE EXCEPTION 'catalog "%" has no embeddings', cat.name
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Index it with embedding_col, or tune without embedding_col.';
		END IF;
		dims := recsys._catalog_embedding_length(cat.name);
		query_embedding := format('(%I)::real[]', embedding_col);
		-- the searches' embeddings, checked here to name the row: one
		-- dimension of the catalog's length, finite numbers within real's
		-- range (NULL: none).  Read as text: the cast to real[] of a
		-- float8 1e300 or a numeric 1e40 would fail naming no row
		EXECUTE format('SELECT s.u, s.q, s.e FROM (SELECT (%I)::bigint AS u, (%I)::text AS q, (%I)::text[] AS e, '
					   '                              (%I)::bigint AS i FROM %s) s '
					   'WHERE s.e IS NOT NULL AND s.u IS NOT NULL AND s.i IS NOT NULL '
					   '  AND btrim(s.q) <> '''' AND length(s.q) <= 1000 '
					   '  AND (coalesce(array_ndims(s.e), 0) <> 1 OR cardinality(s.e) <> $1 '
					   '       OR array_position(s.e, NULL) IS NOT NULL '
					   '       OR EXISTS (SELECT FROM unnest(s.e) x '
					   '                  WHERE abs(x::numeric) > 3.4028234663852886e38 '
					   '                     OR (x::numeric <> 0 AND abs(x::numeric) < 1.401298464324817e-45))) '
					   'ORDER BY s.u, s.q LIMIT 1',
					   user_col, query_col, embedding_col, item_col, source)
			INTO bad_user, bad_query, bad_e USING dims;
		SELECT x INTO bad_value FROM unnest(bad_e) x
		WHERE abs(x::numeric) > 3.4028234663852886e38 OR (x::numeric <> 0 AND abs(x::numeric) < 1.401298464324817e-45)
		LIMIT 1;
		IF bad_e IS NOT NULL THEN
			RAISE EXCEPTION 'embedding_col "%" of % for user % and query % %', embedding_col, source, bad_user,
				quote_literal(left(bad_query, 100)),
				CASE WHEN coalesce(array_ndims(bad_e), 0) <> 1
					 THEN format('is an array of %s dimensions', coalesce(array_ndims(bad_e), 0))
					 WHEN cardinality(bad_e) <> dims
					 THEN format('has %s elements, the catalog''s embeddings %s', cardinality(bad_e), dims)
					 WHEN array_position(bad_e, NULL) IS NOT NULL THEN 'holds a NULL element'
					 WHEN bad_value::numeric IN ('NaN', 'Infinity', '-Infinity') THEN 'holds NaN or an infinity'
					 ELSE format('holds %s, outside real''s range (NaN or an infinity as a real)', left(bad_value, 40)) END
				USING ERRCODE = CASE WHEN coalesce(array_ndims(bad_e), 0) <> 1 OR cardinality(bad_e) <> dims
									 THEN 'array_subscript_error'
									 WHEN array_position(bad_e, NULL) IS NOT NULL THEN 'null_value_not_allowed'
									 ELSE 'invalid_parameter_value' END,
					  HINT = format('Each search''s embedding must be a one-dimensional array of %s finite numbers '
									'from the model that embedded the products, or NULL.', dims);
		END IF;
	END IF;
	-- one statement, its steps in CTEs (no temporary table: a role without
	-- TEMPORARY on the database tunes too): the searches' rows; every
	-- candidate of every distinct (user, query), with its features; each
	-- row ranks its item among the candidates of its (user, query), the
	-- items of the pair's other rows left out ("filtered": a shopper who
	-- bought two of them is not wrong to see either first); rows whose
	-- item is the only candidate left rank it first (n_alone).  A search
	-- is a (user, query, query embedding); with embeddings, the 100
	-- products nearest the query's are candidates too (as in search, k 10)
	-- and the embedding feature is the cosine similarity, min-max
	-- normalised over the search's candidates (0 without an embedding)
	EXECUTE format('WITH r AS MATERIALIZED ('
				   '  SELECT row_number() OVER (ORDER BY s.u, s.q, s.e, s.i) AS row_id, '
				   '         dense_rank() OVER (ORDER BY s.u, s.q, s.e) AS search_id, '
				   '         s.u AS user_id, s.q AS query, s.e, s.i AS item_id '
				   '  FROM (SELECT DISTINCT (%I)::bigint AS u, (%I)::text AS q, %s AS e, (%I)::bigint AS i FROM %s) s '
				   '  WHERE s.u IS NOT NULL AND s.i IS NOT NULL AND btrim(s.q) <> '''' AND length(s.q) <= 1000), '
				   'raw AS MATERIALIZED ('
				   '  SELECT q.search_id, f.item_id, f.text_n, f.personal_n, f.popularity_n, '
				   '         f.bought::integer::real AS bought, f.position_n, '
				   '         (SELECT recsys._embedding_similarity(d.embedding, q.e) FROM recsys.catalog_docs d '
				   '          WHERE q.e IS NOT NULL AND d.catalog = $2 AND d.item_id = f.item_id) AS sim '
				   '  FROM (SELECT DISTINCT r.search_id, r.user_id, r.query, r.e FROM r) q, '
				   '       LATERAL (SELECT array_agg(v.item_id ORDER BY v.sim DESC, v.item_id) AS ids '
				   '                FROM (SELECT d.item_id, recsys._embedding_similarity(d.embedding, q.e) AS sim '
				   '                      FROM recsys.catalog_docs d '
				   '                      WHERE q.e IS NOT NULL AND d.catalog = $2 AND d.embedding IS NOT NULL '
				   '                      ORDER BY 2 DESC, 1 LIMIT 100) v) n, '
				   '       LATERAL recsys._search_features(q.query, q.user_id, $1, $2, NULL, false, n.ids) f), '
				   'feats AS MATERIALIZED ('
				   '  SELECT x.*, coalesce((x.sim - min(x.sim) OVER w) '
				   '                       / nullif(max(x.sim) OVER w - min(x.sim) OVER w, 0), 0)::real AS embedding_n '
				   '  FROM raw x WINDOW w AS (PARTITION BY x.search_id)), '
				   'pairs AS MATERIALIZED ('
				   '  SELECT r.row_id, ARRAY[j.text_n - i.text_n, j.personal_n - i.personal_n, '
				   '         j.popularity_n - i.popularity_n, j.bought - i.bought, j.position_n - i.position_n, '
				   '         j.embedding_n - i.embedding_n] AS diff, '
				   '         j.item_id < i.item_id AS before '
				   '  FROM r '
				   '  JOIN feats i ON i.search_id = r.search_id AND i.item_id = r.item_id '
				   '  JOIN feats j ON j.search_id = r.search_id AND j.item_id <> r.item_id '
				   '  WHERE NOT EXISTS (SELECT FROM r o WHERE o.search_id = r.search_id AND o.item_id = j.item_id)) '
				   'SELECT (SELECT count(*) FROM r), '
				   '       (SELECT count(*) FROM r '
				   '        JOIN feats i ON i.search_id = r.search_id AND i.item_id = r.item_id '
				   '        WHERE NOT EXISTS (SELECT FROM pairs p WHERE p.row_id = r.row_id)), '
				   '       p.* '
				   'FROM (SELECT array_agg(row_id), array_agg(diff), array_agg(before) FROM pairs) p',
				   user_col, query_col, query_embedding, item_col, source)
		INTO n_rows, n_alone, p_row, p_diff, p_before
		USING model, cat.name;
	IF n_rows = 0 THEN
		RAISE EXCEPTION 'source % has no row with a user, a query and an item', source
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass a table of searches and the items bought after them.';
	END IF;

	-- coordinate ascent on NDCG@10 (Metzler and Croft's linear ranker):
	-- one weight at a time over a grid, the others fixed, until no change;
	-- from text 0.1, personal 1, popularity 1 (those used), the rest 0
	personal_w := ARRAY(SELECT CASE WHEN n = ANY (used) THEN s ELSE 0 END
						FROM unnest(names, '{0.1,1,1,0,0,0}'::real[]) u(n, s));
	personal_w := recsys._search_ascent(personal_w,
										ARRAY(SELECT o::integer FROM unnest(names) WITH ORDINALITY u(n, o)
											  WHERE n = ANY (used)),
										grid, p_row, p_diff, p_before, n_alone, n_rows);
	personal_value := recsys._search_ndcg(personal_w, p_row, p_diff, p_before, n_alone, n_rows);
	anonymous_w := ARRAY(SELECT CASE WHEN n = ANY (used) AND n = ANY (anonymous_names) THEN s ELSE 0 END
						 FROM unnest(names, '{0.1,0,1,0,0,0}'::real[]) u(n, s));
	anonymous_w := recsys._search_ascent(anonymous_w,
										 ARRAY(SELECT o::integer FROM unnest(names) WITH ORDINALITY u(n, o)
											   WHERE n = ANY (used) AND n = ANY (anonymous_names)),
										 grid, p_row, p_diff, p_before, n_alone, n_rows);
	anonymous_value := recsys._search_ndcg(anonymous_w, p_row, p_diff, p_before, n_alone, n_rows);

	-- (an embedding weight only when learned, embedding among the features:
	-- without one, search fuses the embedding's ranking by reciprocal rank)
	result := jsonb_build_object(
		'personal', jsonb_build_object('text', personal_w[1], 'personal', personal_w[2],
									   'popularity', personal_w[3], 'bought', personal_w[4],
									   'position', personal_w[5])
					|| CASE WHEN 'embedding' = ANY (used)
							THEN jsonb_build_object('embedding', personal_w[6]) ELSE '{}' END,
		'anonymous', jsonb_build_object('text', anonymous_w[1], 'popularity', anonymous_w[3],
										'position', anonymous_w[5])
					 || CASE WHEN 'embedding' = ANY (used)
							 THEN jsonb_build_object('embedding', anonymous_w[6]) ELSE '{}' END,
		'tuned', jsonb_build_object('model', model, 'source', source::text, 'rows', n_rows,
									'features', to_jsonb(used),
									'ndcg@10', round(personal_value::numeric, 4),
									'ndcg@10 anonymous', round(anonymous_value::numeric, 4)));
	UPDATE recsys.catalogs c SET weights = result WHERE c.name = cat.name;
	RETURN result;
END
$$;
COMMENT ON FUNCTION recsys.tune_search(text, regclass, text, name, name, name, text[], name) IS
	'learn search''s weights (text, personal score, popularity, bought before, position of the query''s words, embedding similarity) from searches and the items bought after them';

-------------------------------------------------------------------------------
-- Item features and cold items
-------------------------------------------------------------------------------

-- train_item_knn: cold items' lists learned from the warm items' lists
DROP FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint, boolean, name, jsonb, regclass, double precision);
CREATE FUNCTION recsys.train_item_knn(
	source regclass,
	neighbors integer DEFAULT 50,
	model text DEFAULT 'default',
	similarity text DEFAULT 'cosine',
	shrinkage double precision DEFAULT 0,
	bm25_k1 double precision DEFAULT 1.2,
	bm25_b double precision DEFAULT 0.75,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	time_col name DEFAULT NULL,
	half_life interval DEFAULT NULL,
	epsilon double precision DEFAULT NULL,
	delta double precision DEFAULT NULL,
	max_user_items integer DEFAULT NULL,
	seed bigint DEFAULT NULL,
	replace boolean DEFAULT false,
	event_col name DEFAULT NULL,
	event_weights jsonb DEFAULT NULL,
	features regclass DEFAULT NULL,
	cold_item_weight double precision DEFAULT 1,
	cold_map_regularization double precision DEFAULT NULL,
	cold_map_self_weight double precision DEFAULT 0,
	cold_map_popularity double precision DEFAULT 0,
	cold_map_content_weight double precision DEFAULT 0)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_item_knn'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint, boolean, name, jsonb, regclass, double precision,
	double precision, double precision, double precision, double precision) IS
	'train an item-kNN model: each item''s most similar items (cosine, jaccard or bm25), optionally differentially private; items with features but no interactions get neighbour lists from feature similarity, or learned from the warm items'' lists (cold_map_regularization)';

-------------------------------------------------------------------------------
-- Models: BPR
-------------------------------------------------------------------------------

-- train_bpr gains time_col and half_life (recency weights of the positive pairs)
DROP FUNCTION recsys.train_bpr(regclass, integer, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, double precision, boolean,
	boolean, boolean);
CREATE FUNCTION recsys.train_bpr(
	source regclass,
	factors integer DEFAULT 64,
	model text DEFAULT 'default',
	iterations integer DEFAULT 100,
	learning_rate double precision DEFAULT 0.05,
	regularization double precision DEFAULT 0.01,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	seed bigint DEFAULT 42,
	sampling text DEFAULT 'uniform',
	adversarial_epsilon double precision DEFAULT 0,
	adversarial_weight double precision DEFAULT 1,
	store_users boolean DEFAULT true,
	verbose boolean DEFAULT false,
	replace boolean DEFAULT false,
	time_col name DEFAULT NULL,
	half_life interval DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_bpr'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_bpr(regclass, integer, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, double precision, boolean,
	boolean, boolean, name, interval) IS
	'train Bayesian personalised ranking (Rendle et al. 2009) by SGD on sampled triples, with uniform, popularity or adaptive negatives, optional adversarial training (APR, He et al. 2018) and optional recency weights of the positive pairs (time_col, half_life); served as a factor model';

-------------------------------------------------------------------------------
-- Models: NCF and FM
-------------------------------------------------------------------------------

-- train_ncf gains pretrained (a factor model to start NeuMF from)
DROP FUNCTION recsys.train_ncf(regclass, integer, text, integer[], boolean, integer,
	double precision, double precision, double precision, integer, integer, name, name, name,
	bigint, double precision, double precision, boolean, boolean);
CREATE FUNCTION recsys.train_ncf(
	source regclass,
	factors integer DEFAULT 32,
	model text DEFAULT 'default',
	hidden integer[] DEFAULT '{64,32}',
	gmf boolean DEFAULT true,
	iterations integer DEFAULT 8,
	learning_rate double precision DEFAULT 0.001,
	regularization double precision DEFAULT 0,
	dropout double precision DEFAULT 0,
	negatives integer DEFAULT 4,
	batch_size integer DEFAULT 256,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	seed bigint DEFAULT 42,
	adversarial_epsilon double precision DEFAULT 0,
	adversarial_weight double precision DEFAULT 0,
	verbose boolean DEFAULT false,
	replace boolean DEFAULT false,
	pretrained text DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_ncf'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_ncf(regclass, integer, text, integer[], boolean, integer,
	double precision, double precision, double precision, integer, integer, name, name, name,
	bigint, double precision, double precision, boolean, boolean, text) IS
	'train neural collaborative filtering (NeuMF, He et al. 2017): embeddings, an MLP tower and a GMF branch, binary cross-entropy on sampled negatives, Adam; optional adversarial training (APR, He et al. 2018); optionally started from a factor model''s ranking (pretrained)';

-- train_fm gains base_features (the base's rank band and score as FM features)
DROP FUNCTION recsys.train_fm(regclass, text, text, integer, integer, double precision,
	double precision, integer, double precision, regclass, regclass, name, interval, boolean,
	double precision, name, name, bigint, boolean, boolean);
CREATE FUNCTION recsys.train_fm(
	source regclass,
	candidates_from text,
	model text DEFAULT 'default',
	factors integer DEFAULT 32,
	epochs integer DEFAULT 20,
	learning_rate double precision DEFAULT 0.05,
	regularization double precision DEFAULT 0.0001,
	pool integer DEFAULT 100,
	base_weight double precision DEFAULT 1,
	item_features regclass DEFAULT NULL,
	user_features regclass DEFAULT NULL,
	time_col name DEFAULT NULL,
	half_life interval DEFAULT NULL,
	context boolean DEFAULT true,
	hard_negatives double precision DEFAULT 0,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	seed bigint DEFAULT 42,
	verbose boolean DEFAULT false,
	replace boolean DEFAULT false,
	base_features boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_fm'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_fm(regclass, text, text, integer, integer, double precision,
	double precision, integer, double precision, regclass, regclass, name, interval, boolean,
	double precision, name, name, bigint, boolean, boolean, boolean) IS
	'train a factorisation machine (ids, item and user features, hour and weekday) that re-ranks another model''s top items (optionally with the base''s rank and score as features)';

-------------------------------------------------------------------------------
-- Scale: IVF, parallel reads, large data
-------------------------------------------------------------------------------
-- An IVF index of one model version (src/ivf_index.c): k-means centroids
-- in the Euclidean transformation of the item vectors (factors + 1
-- coordinates) and the items of each list.  It goes with its version (a
-- retrained model serves exactly until indexed again) and with the model.
CREATE TABLE recsys.ivf_lists (
	model			text NOT NULL,
	version			integer NOT NULL,
	list			integer NOT NULL CHECK (list >= 0),
	centroid		real[] NOT NULL,
	items			bigint[] NOT NULL,
	PRIMARY KEY (model, version, list),
	FOREIGN KEY (model, version) REFERENCES recsys.model_versions (model, version)
		ON DELETE CASCADE ON UPDATE CASCADE
);
COMMENT ON TABLE recsys.ivf_lists IS
	'recsys IVF indexes: one row per list (centroid and item ids) and model version';
ALTER TABLE recsys.ivf_lists ENABLE ROW LEVEL SECURITY;
CREATE POLICY model_users ON recsys.ivf_lists FOR SELECT
	USING (model IN (SELECT m.name FROM recsys.models m));
CREATE POLICY model_owners ON recsys.ivf_lists
	USING (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)))
	WITH CHECK (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)));
SELECT pg_catalog.pg_extension_config_dump('recsys.ivf_lists', '');

CREATE FUNCTION recsys._ivf_lists(model text, lists integer, iterations integer, seed bigint)
RETURNS TABLE (version integer, list integer, centroid real[], items bigint[])
AS 'MODULE_PATHNAME', 'recsys_ivf_lists'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._ivf_lists(text, integer, integer, bigint) IS
	'internal: the IVF index of a model''s active version, one row per list (create_ivf stores it)';

CREATE FUNCTION recsys.create_ivf(model text, lists integer DEFAULT NULL,
								  iterations integer DEFAULT 10, seed bigint DEFAULT 42)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	active integer;
	built integer;
	n bigint;
	started timestamptz := clock_timestamp();
	info jsonb;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._require_model_owner(model, 'index');
	-- (the row lock waits for a training of the model to commit, and holds
	-- the next one off until the index is stored)
	SELECT m.version INTO active FROM recsys.models m
	WHERE m.name OPERATOR(pg_catalog.=) create_ivf.model FOR UPDATE;
	DELETE FROM recsys.ivf_lists l
	WHERE l.model OPERATOR(pg_catalog.=) create_ivf.model AND l.version OPERATOR(pg_catalog.=) active;
	INSERT INTO recsys.ivf_lists (model, version, list, centroid, items)
	SELECT create_ivf.model, b.version, b.list, b.centroid, b.items
	FROM recsys._ivf_lists(model, lists, iterations, seed) b;
	GET DIAGNOSTICS n = ROW_COUNT;
	SELECT min(l.version) INTO built FROM recsys.ivf_lists l
	WHERE l.model OPERATOR(pg_catalog.=) create_ivf.model AND l.version OPERATOR(pg_catalog.=) active;
	IF built IS NULL THEN
		RAISE EXCEPTION 'model "%" changed version while it was indexed', model
			USING ERRCODE = 'serialization_failure', HINT = 'Run create_ivf again.';
	END IF;
	info := jsonb_build_object('version', active, 'lists', n, 'iterations', iterations, 'seed', seed,
							   'built_at', now(),
							   'build_seconds', extract(epoch FROM clock_timestamp() - started));
	-- recorded in the version's stats: the changed catalog row makes every
	-- backend holding the model load it again, with its index
	UPDATE recsys.model_versions v SET stats = v.stats || jsonb_build_object('ivf', info)
	WHERE v.model OPERATOR(pg_catalog.=) create_ivf.model AND v.version OPERATOR(pg_catalog.=) active;
	UPDATE recsys.models m SET stats = m.stats || jsonb_build_object('ivf', info)
	WHERE m.name OPERATOR(pg_catalog.=) create_ivf.model;
	RETURN info;
END
$$;
COMMENT ON FUNCTION recsys.create_ivf(text, integer, integer, bigint) IS
	'build an IVF index over the item vectors of a model''s active version (served with recsys.ivf_probes)';

CREATE FUNCTION recsys.drop_ivf(model text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	active integer;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM recsys._require_model_owner(model, 'drop the index of');
	SELECT m.version INTO active FROM recsys.models m
	WHERE m.name OPERATOR(pg_catalog.=) drop_ivf.model FOR UPDATE;
	DELETE FROM recsys.ivf_lists l
	WHERE l.model OPERATOR(pg_catalog.=) drop_ivf.model AND l.version OPERATOR(pg_catalog.=) active;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	UPDATE recsys.model_versions v SET stats = v.stats - 'ivf'
	WHERE v.model OPERATOR(pg_catalog.=) drop_ivf.model AND v.version OPERATOR(pg_catalog.=) active;
	UPDATE recsys.models m SET stats = m.stats - 'ivf' WHERE m.name OPERATOR(pg_catalog.=) drop_ivf.model;
	RETURN true;
END
$$;
COMMENT ON FUNCTION recsys.drop_ivf(text) IS
	'drop the IVF index of a model''s active version (its rankings scan every item again)';


-------------------------------------------------------------------------------
-- Citus
-------------------------------------------------------------------------------

-- internal: the catalog tables that hold a model version's artefacts (every
-- recsys table with a foreign key to recsys.model_versions), so a copy
-- takes whatever a kind stores, including tables added later
CREATE FUNCTION recsys._model_artefact_tables()
RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.relname::text
	FROM pg_constraint k
	JOIN pg_class c ON c.oid OPERATOR(pg_catalog.=) k.conrelid
	WHERE k.contype OPERATOR(pg_catalog.=) 'f'
	  AND k.confrelid OPERATOR(pg_catalog.=) 'recsys.model_versions'::regclass
	  AND k.conparentid OPERATOR(pg_catalog.=) 0
	  AND c.relnamespace OPERATOR(pg_catalog.=) 'recsys'::regnamespace
	ORDER BY 1
$$;
COMMENT ON FUNCTION recsys._model_artefact_tables() IS
	'internal: the recsys tables that hold a model version''s artefacts (those referencing recsys.model_versions)';

-- Each worker's staging area for recsys.sync_model's two phases: the copy
-- is first checked and stored here on every worker (nothing served
-- changes), then each worker switches to it.  Rows are transient (a
-- switch or the next sync removes them), so pg_dump leaves them out.
CREATE TABLE recsys.sync_staging (
	token			text PRIMARY KEY,
	model			text NOT NULL,
	staged_by		regrole NOT NULL
		DEFAULT pg_catalog.to_regrole(pg_catalog.quote_ident(CURRENT_USER)),
	staged_at		timestamptz NOT NULL DEFAULT now(),
	payload			json NOT NULL
);
COMMENT ON TABLE recsys.sync_staging IS
	'recsys.sync_model''s staging area on a worker: copies checked and waiting for the switch';
-- a role sees and writes only what it staged (or a role whose privileges it has)
ALTER TABLE recsys.sync_staging ENABLE ROW LEVEL SECURITY;
CREATE POLICY sync_stagers ON recsys.sync_staging
	USING (recsys._owns(staged_by))
	WITH CHECK (recsys._owns(staged_by));

-- internal, run on each worker by recsys.sync_model: replace the node's copy
-- of a model by the one in payload (its recsys.models row, the active
-- version's row and that version's rows of every artefact table), in the
-- calling transaction, with row-level security and the owner checks of
-- the node's own catalog.  A copy already here keeps its recsys.models
-- row, updated in place (a blend or re-ranker on the node may use it by
-- name, and a DELETE of the row would be refused for that); only its
-- versions and their artefacts are replaced.  A malformed copy is refused
-- with an error naming the field (the text of a bad value cut short).
CREATE FUNCTION recsys._sync_model_receive(payload json)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	model_name text;
	version_text text;
	model_version integer;
	malformed boolean;
	here text;
	t text;
	known text[];
	columns text;
	missing text;
BEGIN
	IF json_typeof(payload) IS DISTINCT FROM 'object'
	   OR json_typeof(payload OPERATOR(pg_catalog.->) 'model') IS DISTINCT FROM 'object'
	   OR json_typeof(payload OPERATOR(pg_catalog.->) 'version') IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'recsys.sync_model: a model''s copy must be an object with objects "model" and "version"'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	model_name := payload OPERATOR(pg_catalog.->) 'model' OPERATOR(pg_catalog.->>) 'name';
	IF model_name IS NULL OR model_name OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy''s "model" has no "name"'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF payload OPERATOR(pg_catalog.->>) 'recsys_version' IS NULL THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy of model "%" has no "recsys_version"', model_name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT e.extversion INTO here FROM pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'recsys';
	IF here IS DISTINCT FROM payload OPERATOR(pg_catalog.->>) 'recsys_version' THEN
		RAISE EXCEPTION 'recsys % on this node cannot take a model from recsys %',
			here, left(payload OPERATOR(pg_catalog.->>) 'recsys_version', 20)
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Update the extension on every node to the same version (ALTER EXTENSION recsys UPDATE).';
	END IF;
	-- a version the next training here could not follow (it numbers
	-- version + 1), or a version row of another version, is no model's
	version_text := payload OPERATOR(pg_catalog.->) 'model' OPERATOR(pg_catalog.->>) 'version';
	IF version_text IS NULL OR version_text !~ '^[1-9][0-9]{0,9}$'
	   OR version_text::bigint OPERATOR(pg_catalog.>=) 2147483647 THEN
		-- not an integer at all (1.0, NaN), or one outside the range
		malformed := version_text IS NULL OR version_text !~ '^[+-]?[0-9]+$';
		RAISE EXCEPTION 'recsys.sync_model: version % of model "%" is %',
			CASE WHEN length(version_text) OPERATOR(pg_catalog.>) 20 THEN left(version_text, 20) || '...'
				 ELSE coalesce(version_text, 'NULL') END, model_name,
			CASE WHEN malformed THEN 'malformed' ELSE 'out of range' END
			USING ERRCODE = CASE WHEN malformed THEN 'invalid_parameter_value' ELSE 'numeric_value_out_of_range' END,
				  DETAIL = 'A model''s version is an integer between 1 and 2147483646.';
	END IF;
	model_version := version_text::integer;
	IF payload OPERATOR(pg_catalog.->) 'version' OPERATOR(pg_catalog.->>) 'version'
	   IS DISTINCT FROM version_text THEN
		RAISE EXCEPTION 'recsys.sync_model: the version row of model "%" is not its version %', model_name, model_version
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF payload OPERATOR(pg_catalog.->) 'version' OPERATOR(pg_catalog.->>) 'model'
	   IS DISTINCT FROM model_name THEN
		RAISE EXCEPTION 'recsys.sync_model: the version row of model "%" has "model" %', model_name,
			coalesce(quote_literal(left(payload OPERATOR(pg_catalog.->) 'version' OPERATOR(pg_catalog.->>) 'model', 64)), 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'A copy holds the rows of its own model and version only.';
	END IF;
	-- every column the catalog requires (a NULL would fail as a bare NOT NULL violation)
	SELECT string_agg(format('"%s" in its %s', a.attname,
							 CASE a.attrelid WHEN 'recsys.models'::regclass THEN '"model"' ELSE '"version"' END),
					  ', ' ORDER BY a.attrelid, a.attnum) INTO missing
	FROM pg_attribute a
	WHERE a.attrelid OPERATOR(pg_catalog.=) ANY (ARRAY['recsys.models'::regclass, 'recsys.model_versions'::regclass])
	  AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped AND a.attnotnull
	  AND (payload OPERATOR(pg_catalog.->) CASE a.attrelid WHEN 'recsys.models'::regclass THEN 'model' ELSE 'version' END
		   OPERATOR(pg_catalog.->>) a.attname::text) IS NULL;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy of model "%" has no %', model_name, missing
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'recsys.sync_model sends every column of the model''s rows; a copy made by hand must too.';
	END IF;
	IF json_typeof(payload OPERATOR(pg_catalog.->) 'tables') IS DISTINCT FROM 'object' THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy of model "%" has no object "tables"', model_name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- a copy here that another role owns stays: its owner replaces it
	PERFORM recsys._require_model_owner(model_name, 'sync', missing_ok => true);
	IF EXISTS (SELECT FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) model_name) THEN
		DELETE FROM recsys.model_versions v WHERE v.model OPERATOR(pg_catalog.=) model_name;
		SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO columns
		FROM pg_attribute a
		WHERE a.attrelid OPERATOR(pg_catalog.=) 'recsys.models'::regclass
		  AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
		  AND a.attname OPERATOR(pg_catalog.<>) 'name';
		EXECUTE format('UPDATE recsys.models m SET (%s) = (SELECT %s FROM json_populate_record(NULL::recsys.models, $1) r) '
					   'WHERE m.name OPERATOR(pg_catalog.=) $2', columns, columns)
			USING payload OPERATOR(pg_catalog.->) 'model', model_name;
	ELSE
		INSERT INTO recsys.models
		SELECT * FROM json_populate_record(NULL::recsys.models, payload OPERATOR(pg_catalog.->) 'model');
	END IF;
	INSERT INTO recsys.model_versions
	SELECT * FROM json_populate_record(NULL::recsys.model_versions, payload OPERATOR(pg_catalog.->) 'version');
	known := ARRAY(SELECT recsys._model_artefact_tables());
	FOR t IN SELECT json_object_keys(payload OPERATOR(pg_catalog.->) 'tables') LOOP
		IF NOT t OPERATOR(pg_catalog.=) ANY (known) THEN
			RAISE EXCEPTION 'recsys.sync_model: this node has no model table "%"', left(t, 64)
				USING ERRCODE = 'undefined_table';
		END IF;
		IF json_typeof(payload OPERATOR(pg_catalog.->) 'tables' OPERATOR(pg_catalog.->) t) IS DISTINCT FROM 'array' THEN
			RAISE EXCEPTION 'recsys.sync_model: the copy of model "%" has no array of rows for table "%"', model_name, t
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		-- rows of another model or version would land in (and serve
		-- through) a model the copy does not name
		SELECT format('row %s of table "%s" has "%s" %s', r.n, t, f.field,
					  coalesce(quote_literal(left(r.value OPERATOR(pg_catalog.->>) f.field, 64)), 'NULL'))
		INTO missing
		FROM json_array_elements(payload OPERATOR(pg_catalog.->) 'tables' OPERATOR(pg_catalog.->) t)
			 WITH ORDINALITY r(value, n),
			 (VALUES (1, 'model', model_name), (2, 'version', version_text)) f(o, field, expected)
		WHERE (CASE json_typeof(r.value) WHEN 'object' THEN r.value OPERATOR(pg_catalog.->>) f.field END)
			  IS DISTINCT FROM f.expected
		ORDER BY r.n, f.o LIMIT 1;
		IF missing IS NOT NULL THEN
			RAISE EXCEPTION 'recsys.sync_model: the copy of model "%" version %: %', model_name, model_version, missing
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'A copy holds the rows of its own model and version only.';
		END IF;
		EXECUTE format('INSERT INTO recsys.%I SELECT * FROM json_populate_recordset(NULL::recsys.%I, $1)', t, t)
			USING payload OPERATOR(pg_catalog.->) 'tables' OPERATOR(pg_catalog.->) t;
	END LOOP;
	RETURN model_version;
END
$$;
COMMENT ON FUNCTION recsys._sync_model_receive(json) IS
	'internal: replace this node''s copy of a model by the one recsys.sync_model sends';


-- internal: the algorithms whose kind serves from other models (a blend's
-- members, a re-ranker's candidates_from), the params key naming them and
-- whether the kind re-ranks them (RsModelKind.uses_models, src/model_kind.c)
CREATE FUNCTION recsys._kinds_using_models()
RETURNS TABLE (algorithm text, params_key text, reranks boolean)
LANGUAGE C IMMUTABLE PARALLEL SAFE STRICT SECURITY INVOKER
AS 'MODULE_PATHNAME', 'recsys_kinds_using_models';
COMMENT ON FUNCTION recsys._kinds_using_models() IS
	'internal: the algorithms whose kind serves from other models, and the params key that names them';

-- internal: the models a model's active version serves from (a blend's
-- members, a re-ranker's candidates_from), under the params key its kind
-- declares (recsys._kinds_using_models), in the form its loader reads: an
-- array of names for a blend, one name for a re-ranker
CREATE FUNCTION recsys._model_uses(model text)
RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT DISTINCT d.name
	FROM recsys.models m
	JOIN recsys.model_versions v
	  ON v.model OPERATOR(pg_catalog.=) m.name AND v.version OPERATOR(pg_catalog.=) m.version
	JOIN recsys._kinds_using_models() k ON k.algorithm OPERATOR(pg_catalog.=) v.algorithm
	CROSS JOIN LATERAL (
		SELECT jsonb_array_elements_text(CASE WHEN NOT k.reranks
												   AND jsonb_typeof(v.params OPERATOR(pg_catalog.->) k.params_key)
												   OPERATOR(pg_catalog.=) 'array'
											  THEN v.params OPERATOR(pg_catalog.->) k.params_key END)
		UNION ALL
		SELECT CASE WHEN k.reranks
					 AND jsonb_typeof(v.params OPERATOR(pg_catalog.->) k.params_key) OPERATOR(pg_catalog.=) 'string'
					THEN v.params OPERATOR(pg_catalog.->>) k.params_key END) d(name)
	WHERE m.name OPERATOR(pg_catalog.=) $1 AND d.name IS NOT NULL
$$;
COMMENT ON FUNCTION recsys._model_uses(text) IS
	'internal: the models a model''s active version serves from (a blend''s members, a re-ranker''s candidates_from)';

-- internal: what recsys.sync_model copies for a model, in the order the
-- workers apply it: every model it serves from, recursively, before the
-- models using it (by the longest chain of uses above each); used_by names
-- one model using it; owned: the caller has its owner's privileges (only
-- those are copied; the others must already be on the workers); version:
-- its active version, NULL when the caller may not see it.  Each model's
-- uses are read once (a walk over models, not over paths, which nested
-- blends multiply); a chain of uses longer than 16 is an error, not a
-- cut, and so is a cycle (named apart: the models around it).
CREATE FUNCTION recsys._sync_model_closure(model text)
RETURNS TABLE (name text, used_by text, owned boolean, version integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	names text[] := ARRAY[model];
	depths integer[] := ARRAY[0];
	pred integer[] := ARRAY[NULL::integer];	-- the user a model's depth came through
	path integer[];
	edge_from integer[] := '{}';
	edge_to integer[] := '{}';
	frontier integer[] := ARRAY[1];
	next integer[];
	u integer;
	d text;
	p integer;
	changed boolean;
BEGIN
	-- the models reachable, each model's uses read once
	WHILE cardinality(frontier) OPERATOR(pg_catalog.>) 0 LOOP
		next := '{}';
		FOREACH u IN ARRAY frontier LOOP
			FOR d IN SELECT x FROM recsys._model_uses(names[u]) x LOOP
				p := array_position(names, d);
				IF p IS NULL THEN
					names := names || d;
					depths := depths || 0;
					pred := pred || NULL::integer;
					p := cardinality(names);
					next := next || p;
				END IF;
				edge_from := edge_from || u;
				edge_to := edge_to || p;
			END LOOP;
		END LOOP;
		frontier := next;
	END LOOP;
	-- the longest chain of uses above each model (Bellman-Ford over the
	-- edges: a chain grows by one per round, a cycle without end)
	LOOP
		changed := false;
		FOR p IN 1 .. cardinality(edge_from) LOOP
			IF depths[edge_from[p]] OPERATOR(pg_catalog.+) 1 OPERATOR(pg_catalog.>) depths[edge_to[p]] THEN
				depths[edge_to[p]] := depths[edge_from[p]] OPERATOR(pg_catalog.+) 1;
				pred[edge_to[p]] := edge_from[p];
				changed := true;
				IF depths[edge_to[p]] OPERATOR(pg_catalog.>) 16 THEN
					-- back along the users the depth came through: a model met
					-- twice is a cycle (a cycle never stops deepening), the
					-- root reached a chain too deep
					path := ARRAY[edge_to[p]];
					u := pred[edge_to[p]];
					WHILE u IS NOT NULL AND NOT u OPERATOR(pg_catalog.=) ANY (path) LOOP
						path := path || u;
						u := pred[u];
					END LOOP;
					IF u IS NOT NULL THEN
						path := path[array_position(path, u) OPERATOR(pg_catalog.+) 1 : cardinality(path)] || u;
						RAISE EXCEPTION 'recsys.sync_model: model "%" serves from a cycle of models using one another', model
							USING ERRCODE = 'invalid_recursion',
								  DETAIL = format('Model "%s" uses itself: %s.', names[u],
												  (SELECT string_agg(format('"%s"', names[path[i]]), ' uses ' ORDER BY i DESC)
												   FROM generate_subscripts(path, 1) i) || format(' uses "%s"', names[u])),
								  HINT = 'Retrain one of them on models that do not use it.';
					END IF;
					RAISE EXCEPTION 'recsys.sync_model: model "%" serves from models more than 16 uses deep', model
						USING ERRCODE = 'program_limit_exceeded',
							  DETAIL = format('Model "%s" is reached through a chain of %s models using one another, from "%s".',
											  names[edge_to[p]], cardinality(path), names[path[cardinality(path)]]),
							  HINT = 'A blend or re-ranker of blends rarely needs more than a few levels: retrain the models that use one another.';
				END IF;
			END IF;
		END LOOP;
		EXIT WHEN NOT changed;
	END LOOP;
	RETURN QUERY
	SELECT n.name,
		   (SELECT names[e.f] FROM unnest(edge_from, edge_to) e(f, t)
			WHERE e.t OPERATOR(pg_catalog.=) n.i ORDER BY depths[e.f], names[e.f] LIMIT 1),
		   coalesce(recsys._owns(m.owner), false), m.version
	FROM unnest(names, depths) WITH ORDINALITY n(name, depth, i)
	LEFT JOIN recsys.models m ON m.name OPERATOR(pg_catalog.=) n.name
	ORDER BY n.depth DESC, n.name;
END
$$;
COMMENT ON FUNCTION recsys._sync_model_closure(text) IS
	'internal: the models recsys.sync_model copies with a model (those it serves from first), whether the caller owns each, and its version';

-- internal: one model's copy as recsys.sync_model sends it (the
-- recsys._sync_model_receive payload): its recsys.models row, its active
-- version's row and that version's rows of every artefact table; the row
-- is share-locked, so no retrain commits until the transaction ends
CREATE FUNCTION recsys._sync_model_copy(model text)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m recsys.models;
	t text;
	part json;
	parts text[] := '{}';
BEGIN
	SELECT * INTO m FROM recsys.models x WHERE x.name OPERATOR(pg_catalog.=) model FOR SHARE;
	IF NOT FOUND THEN
		PERFORM recsys._require_model_owner(model, 'sync');
	END IF;
	FOR t IN SELECT recsys._model_artefact_tables() LOOP
		EXECUTE format('SELECT coalesce(json_agg(x), ''[]'') FROM recsys.%I x '
					   'WHERE x.model OPERATOR(pg_catalog.=) $1 AND x.version OPERATOR(pg_catalog.=) $2', t)
			INTO part USING m.name, m.version;
		parts := parts || format('%s: %s', to_json(t), part);
	END LOOP;
	RETURN format('{"recsys_version": %s, "model": %s, "version": %s, "tables": {%s}}',
				  (SELECT to_json(e.extversion) FROM pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'recsys'),
				  to_json(m),
				  (SELECT to_json(v) FROM recsys.model_versions v
				   WHERE v.model OPERATOR(pg_catalog.=) m.name AND v.version OPERATOR(pg_catalog.=) m.version),
				  array_to_string(parts, ', '));
END
$$;
COMMENT ON FUNCTION recsys._sync_model_copy(text) IS
	'internal: one model''s copy as recsys.sync_model sends it to the workers';

-- internal: a staged copy's models that the caller does not own must be
-- on this node as the coordinator has them: the same version, trained at
-- the same time (a model dropped and trained again numbers its versions
-- from 1 again, so the version alone does not tell it apart)
CREATE FUNCTION recsys._sync_model_requires(payload json)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
	here integer;
	here_trained timestamptz;
	want_trained timestamptz;
	want integer;
BEGIN
	IF json_typeof(payload OPERATOR(pg_catalog.->) 'requires') IS NULL THEN
		RETURN;
	END IF;
	IF json_typeof(payload OPERATOR(pg_catalog.->) 'requires') IS DISTINCT FROM 'array'
	   OR EXISTS (SELECT FROM json_array_elements(payload OPERATOR(pg_catalog.->) 'requires') x
				  WHERE json_typeof(x) IS DISTINCT FROM 'object'
					 OR x OPERATOR(pg_catalog.->>) 'name' IS NULL) THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy''s "requires" must be an array of objects with a "name"'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- read as text: a malformed version or time is named, not a bare cast error
	FOR r IN SELECT x.name, x.version AS version_text, x.trained_at AS trained_text, x.used_by
			 FROM json_to_recordset(payload OPERATOR(pg_catalog.->) 'requires')
				  AS x(name text, version text, trained_at text, used_by text) LOOP
		IF r.version_text !~ '^[1-9][0-9]{0,9}$' OR r.version_text::bigint OPERATOR(pg_catalog.>=) 2147483647 THEN
			RAISE EXCEPTION 'recsys.sync_model: the copy''s "requires" has "version" % for model "%", which is malformed',
				quote_literal(left(r.version_text, 20)), r.name
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'A model''s version is an integer between 1 and 2147483646.';
		END IF;
		BEGIN
			want := r.version_text::integer;
			want_trained := r.trained_text::timestamptz;
		EXCEPTION WHEN data_exception THEN
			RAISE EXCEPTION 'recsys.sync_model: the copy''s "requires" has "trained_at" % for model "%", which is malformed',
				quote_literal(left(r.trained_text, 40)), r.name
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = 'A model''s training time is a timestamp with time zone, as recsys.models.trained_at holds it.';
		END;
		SELECT m.version, m.trained_at INTO here, here_trained
		FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) r.name;
		IF here IS DISTINCT FROM want THEN
			RAISE EXCEPTION 'recsys.sync_model: model "%", used by "%", is not on this node at version %', r.name, r.used_by, want
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = CASE WHEN here IS NULL THEN 'This node has no copy of it that you may use.'
									ELSE format('This node has its version %s.', here) END,
					  HINT = format('The model is not yours to copy: its owner copies it first, with recsys.sync_model(%L).', r.name);
		ELSIF here_trained IS DISTINCT FROM want_trained THEN
			RAISE EXCEPTION 'recsys.sync_model: model "%", used by "%", is on this node at version % but not as trained on the coordinator',
				r.name, r.used_by, want
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = format('This node''s copy was trained at %s, the coordinator''s at %s (a model dropped and trained again numbers its versions from 1 again).',
									  here_trained, coalesce(want_trained::text, 'an unknown time')),
					  HINT = format('The model is not yours to copy: its owner copies it first, with recsys.sync_model(%L).', r.name);
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION recsys._sync_model_requires(json) IS
	'internal: check that the models a staged copy uses but does not carry are on this node as the coordinator has them';

-- internal, phase 1 of recsys.sync_model on each worker: check the copy
-- (every model in payload, in order) by applying it and rolling that back,
-- so the switch meets no check that has not passed here, then store it
-- in recsys.sync_staging under token (replacing what the caller staged
-- earlier for the same model).  Nothing this node serves changes.  What
-- the caller staged more than an hour ago (a sync that never switched:
-- a worker lost, a model since dropped) is removed on the way.
CREATE FUNCTION recsys._sync_model_stage(sync_token text, payload json)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	root text := payload OPERATOR(pg_catalog.->>) 'root';
	m json;
	n integer := 0;
BEGIN
	IF sync_token IS NULL OR sync_token OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'recsys.sync_model: the staging token must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF root IS NULL OR root OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy''s "root" (the model synced) must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF json_typeof(payload OPERATOR(pg_catalog.->) 'models') IS DISTINCT FROM 'array'
	   OR json_array_length(payload OPERATOR(pg_catalog.->) 'models') OPERATOR(pg_catalog.=) 0 THEN
		RAISE EXCEPTION 'recsys.sync_model: the copy''s "models" must be a non-empty array'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	DELETE FROM recsys.sync_staging s WHERE s.staged_at OPERATOR(pg_catalog.<) (now() OPERATOR(pg_catalog.-) interval '1 hour');
	PERFORM recsys._sync_model_requires(payload);
	BEGIN
		FOR m IN SELECT x FROM json_array_elements(payload OPERATOR(pg_catalog.->) 'models') x LOOP
			PERFORM recsys._sync_model_receive(m);
			n := n OPERATOR(pg_catalog.+) 1;
		END LOOP;
		-- undo the trial (the subtransaction of this block rolls back)
		RAISE SQLSTATE 'RSTRY';
	EXCEPTION WHEN SQLSTATE 'RSTRY' THEN
		NULL;
	END;
	DELETE FROM recsys.sync_staging s WHERE s.model OPERATOR(pg_catalog.=) root;
	INSERT INTO recsys.sync_staging (token, model, payload) VALUES (sync_token, root, payload);
	RETURN n;
END
$$;
COMMENT ON FUNCTION recsys._sync_model_stage(text, json) IS
	'internal: phase 1 of recsys.sync_model on a worker: check a copy by a trial run and stage it';

-- internal, phase 2 of recsys.sync_model on each worker: apply the copy
-- staged under token (recsys._sync_model_receive per model, members
-- first) and remove it from the staging area, in one transaction
CREATE FUNCTION recsys._sync_model_switch(sync_token text)
RETURNS integer
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	staged json;
	m json;
	n integer := 0;
BEGIN
	SELECT s.payload INTO staged FROM recsys.sync_staging s
	WHERE s.token OPERATOR(pg_catalog.=) sync_token FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'recsys.sync_model: no copy is staged on this node under token "%"', sync_token
			USING ERRCODE = 'undefined_object',
				  HINT = 'Call recsys.sync_model again: it stages the copy anew.';
	END IF;
	PERFORM recsys._sync_model_requires(staged);
	FOR m IN SELECT x FROM json_array_elements(staged OPERATOR(pg_catalog.->) 'models') x LOOP
		PERFORM recsys._sync_model_receive(m);
		n := n OPERATOR(pg_catalog.+) 1;
	END LOOP;
	DELETE FROM recsys.sync_staging s WHERE s.token OPERATOR(pg_catalog.=) sync_token;
	RETURN n;
END
$$;
COMMENT ON FUNCTION recsys._sync_model_switch(text) IS
	'internal: phase 2 of recsys.sync_model on a worker: apply the staged copy';

-- internal: drop a staged copy (recsys.sync_model, when a worker failed phase 1)
CREATE FUNCTION recsys._sync_model_discard(sync_token text)
RETURNS boolean
LANGUAGE sql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH gone AS (DELETE FROM recsys.sync_staging s WHERE s.token OPERATOR(pg_catalog.=) $1 RETURNING 1)
	SELECT EXISTS (SELECT FROM gone)
$$;
COMMENT ON FUNCTION recsys._sync_model_discard(text) IS
	'internal: drop a copy recsys.sync_model staged on a worker';

-- Two phases over the workers: stage everywhere (each worker checks the
-- copy by a trial run and stores it; a failure anywhere discards it
-- everywhere, and no worker changed), then switch everywhere (a short
-- step that has already passed its checks).  Workers are separate
-- transactions, so a worker lost between the two phases keeps its old
-- copy and the new one staged: the error names the nodes switched and
-- not, and calling sync_model again is safe (a copy sent again replaces
-- the same copy).  The models the model serves from (a blend's members,
-- a re-ranker's base, recursively) go first, in the same phases.
CREATE FUNCTION recsys.sync_model(model text)
RETURNS TABLE (model_name text, nodename text, nodeport integer, version integer, trained_at timestamptz)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c record;
	m recsys.models;
	sent recsys.models[] := '{}';
	copies text[] := '{}';
	requires jsonb := '[]';
	payload text;
	sync_token text := gen_random_uuid()::text;
	w record;
	failed text;
	switched text[] := '{}';
	ports integer[] := '{}';
	i integer;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		RAISE EXCEPTION 'recsys.sync_model needs the Citus extension in this database'
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'It copies a model to the worker nodes of a Citus cluster (doc/operations.md, "Running on Citus"); on a single server every query already sees the model.';
	END IF;
	PERFORM recsys._require_model_owner(model, 'sync');
	-- the workers commit the copy at once: never send what this transaction
	-- may still roll back
	IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
		RAISE EXCEPTION 'recsys.sync_model cannot run in a transaction that has written'
			USING ERRCODE = 'active_sql_transaction',
				  HINT = 'Commit the training first, then call recsys.sync_model in a transaction of its own.';
	END IF;
	-- one sync of a model at a time (its staging row on the workers is
	-- replaced by the next); the share locks below keep a retrain of what
	-- is copied from committing meanwhile
	PERFORM FROM recsys.models x WHERE x.name OPERATOR(pg_catalog.=) model FOR NO KEY UPDATE;
	FOR c IN SELECT * FROM recsys._sync_model_closure(model) LOOP
		IF c.version IS NULL THEN
			RAISE EXCEPTION 'recsys.sync_model: model "%" uses model "%", which does not exist or which you may not use',
				c.used_by, c.name
				USING ERRCODE = 'undefined_object',
					  HINT = 'Retrain or drop the model that uses it.';
		ELSIF NOT c.owned THEN
			-- another role's model: its owner copies it; the workers check it is there
			requires := requires OPERATOR(pg_catalog.||)
				jsonb_build_array(jsonb_build_object('name', c.name, 'version', c.version,
												  'trained_at', (SELECT x.trained_at FROM recsys.models x
																 WHERE x.name OPERATOR(pg_catalog.=) c.name),
												  'used_by', c.used_by));
			CONTINUE;
		END IF;
		copies := copies || recsys._sync_model_copy(c.name);
		SELECT * INTO m FROM recsys.models x WHERE x.name OPERATOR(pg_catalog.=) c.name;
		sent := sent || m;
	END LOOP;
	payload := format('{"root": %s, "models": [%s], "requires": %s}',
					  to_json(model), array_to_string(copies, ', '), requires);

	-- phase 1: stage on every worker (Citus's run_command_on_workers: each
	-- worker runs the command as this role, in a transaction of its own)
	FOR w IN EXECUTE 'SELECT r.nodename, r.nodeport, r.success, r.result FROM run_command_on_workers($1) r ORDER BY 1, 2'
		USING format('SELECT recsys._sync_model_stage(%L, %L::pg_catalog.json)', sync_token, payload) LOOP
		IF NOT w.success THEN
			failed := coalesce(failed || '; ', '') || format('%s:%s: %s', w.nodename, w.nodeport, w.result);
		END IF;
	END LOOP;
	IF failed IS NOT NULL THEN
		EXECUTE 'SELECT count(*) FROM run_command_on_workers($1)'
			USING format('SELECT recsys._sync_model_discard(%L)', sync_token);
		RAISE EXCEPTION 'recsys.sync_model could not copy model "%" to every worker: %', model, failed
			USING ERRCODE = 'external_routine_exception',
				  DETAIL = 'No worker changed its copy.',
				  HINT = 'Fix the cause and call recsys.sync_model again.'
						 || CASE WHEN jsonb_array_length(requires) OPERATOR(pg_catalog.>) 0
								 THEN format(' The models it uses that you do not own (%s) are synced by their owners first.',
											 (SELECT string_agg(r OPERATOR(pg_catalog.->>) 'name', ', ')
											  FROM jsonb_array_elements(requires) r))
								 ELSE '' END;
	END IF;

	-- phase 2: every worker switches to its staged copy
	FOR w IN EXECUTE 'SELECT r.nodename, r.nodeport, r.success, r.result FROM run_command_on_workers($1) r ORDER BY 1, 2'
		USING format('SELECT recsys._sync_model_switch(%L)', sync_token) LOOP
		IF NOT w.success THEN
			failed := coalesce(failed || '; ', '') || format('%s:%s: %s', w.nodename, w.nodeport, w.result);
		ELSE
			switched := switched || w.nodename;
			ports := ports || w.nodeport;
		END IF;
	END LOOP;
	IF failed IS NOT NULL THEN
		RAISE EXCEPTION 'recsys.sync_model could not switch every worker to the new copy of model "%": %', model, failed
			USING ERRCODE = 'external_routine_exception',
				  DETAIL = format('Switched: %s. The workers named above still serve their previous copy and keep the new one staged.',
								  coalesce((SELECT string_agg(format('%s:%s', s.n, s.p), ', ')
											FROM unnest(switched, ports) s(n, p)), 'none')),
				  HINT = 'Call recsys.sync_model again once they are reachable: it is safe to repeat.';
	END IF;
	-- one row per model copied and worker
	FOR i IN 1 .. coalesce(array_length(sent, 1), 0) LOOP
		FOR w IN SELECT s.n, s.p FROM unnest(switched, ports) s(n, p) LOOP
			model_name := (sent[i]).name;
			nodename := w.n;
			nodeport := w.p;
			version := (sent[i]).version;
			trained_at := (sent[i]).trained_at;
			RETURN NEXT;
		END LOOP;
	END LOOP;
END
$$;
COMMENT ON FUNCTION recsys.sync_model(text) IS
	'copy the active version of a model, and of the models it serves from, into the recsys catalog of every Citus worker node, in two phases';

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------

-- train_auto: blends by forward selection (up to four members), the
-- exact EASE retraining kept for during the search, families (a
-- trailing argument) and the optional / feature-aware families
DROP FUNCTION recsys._auto_families(text, name, name, regclass);
-- The candidates train_auto considers, strongest first: one row per
-- family (an algorithm with fixed parameters), its seeds (the settings
-- the accuracy benchmark found best on the shared data sets' validation
-- files, tried in order), its steps (per parameter, the ordered values
-- the search moves between, one parameter one step at a time) and a cost
-- model of its seconds (train and evaluate: a fixed 0.1 s per candidate
-- for the catalog writes and evaluate's set-up, else the cheap families'
-- measured / modelled ratio overstates a loaded machine's slowness and
-- EASE's calibrated estimate; coefficients of the training
-- rows, of users + items, of items cubed and of validation users x items;
-- train_auto corrects them by what it measures).  The EASE families are
-- compact (keep 0.1: the tenth of the weights largest in magnitude, about
-- half the seconds of exact EASE, mostly less writing, for a validation
-- NDCG within a few thousandths of it); an EASE winner is retrained on
-- all the data exact when the budget left allows, else compact.  protocol is 'holdout'
-- or 'last'; time_col, weight_col and features are train_auto's (NULL when
-- not given).  A new trainer becomes a candidate by a row here.  An
-- optional family is tried only when train_auto's families names it
-- (BPR without stored users: as weak as BPR, and as slow).
CREATE FUNCTION recsys._auto_families(protocol text, time_col name, weight_col name, features regclass)
RETURNS TABLE (family text, algorithm text, fixed jsonb, seeds jsonb, steps jsonb, cost jsonb, optional boolean)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT f.family, f.algorithm, f.fixed, f.seeds, f.steps, f.cost, f.optional
	FROM (VALUES
		-- recency-weighted EASE: what comes next is like what came last
		(1, 'ease_recent', 'ease', protocol = 'last', false,
		 jsonb_build_object('time_col', time_col, 'keep', 0.1),
		 '[{"regularization": 500, "popularity_exponent": 0.25, "half_life": "30 days"},
		   {"regularization": 1000, "popularity_exponent": 0.25, "half_life": "60 days"}]'::jsonb,
		 '{"half_life": ["7 days", "15 days", "30 days", "60 days", "120 days", "240 days"],
		   "regularization": [250, 500, 1000, 2000, 4000],
		   "popularity_exponent": [0, 0.1, 0.25, 0.4]}'::jsonb,
		 '{"seconds": 0.1, "rows": 2e-5, "items3": 2e-11, "scores": 5e-7}'::jsonb),
		-- normalised EASE (user and popularity exponents, dropout)
		(2, 'ease', 'ease', true, false,
		 '{"keep": 0.1}'::jsonb,
		 '[{"regularization": 400, "user_exponent": 0.5, "popularity_exponent": 0.1, "dropout": 0.25},
		   {"regularization": 100, "user_exponent": 0.5, "popularity_exponent": 0.25, "dropout": 0.25}]'::jsonb,
		 '{"regularization": [50, 100, 200, 400, 800, 1600],
		   "popularity_exponent": [0, 0.1, 0.25, 0.4],
		   "user_exponent": [0, 0.25, 0.5, 0.75],
		   "dropout": [0, 0.1, 0.25, 0.5]}'::jsonb,
		 '{"seconds": 0.1, "rows": 2e-5, "items3": 2e-11, "scores": 5e-7}'::jsonb),
		-- EASE with the item features, when given (their weight searched)
		(3, 'ease_features', 'ease', features IS NOT NULL, false,
		 jsonb_build_object('features', features::text, 'keep', 0.1)
			 || CASE WHEN protocol = 'last' THEN jsonb_build_object('time_col', time_col) ELSE '{}' END,
		 CASE WHEN protocol = 'last'
			  THEN '[{"regularization": 500, "popularity_exponent": 0.25, "half_life": "30 days", "feature_weight": 0.25}]'::jsonb
			  ELSE '[{"regularization": 400, "user_exponent": 0.5, "popularity_exponent": 0.1, "dropout": 0.25, "feature_weight": 0.5},
					 {"regularization": 100, "user_exponent": 0.5, "popularity_exponent": 0.25, "dropout": 0.25, "feature_weight": 0.25}]'::jsonb END,
		 CASE WHEN protocol = 'last'
			  THEN '{"feature_weight": [0.125, 0.25, 0.5, 1, 2],
					 "half_life": ["7 days", "15 days", "30 days", "60 days", "120 days", "240 days"],
					 "regularization": [250, 500, 1000, 2000, 4000],
					 "popularity_exponent": [0, 0.1, 0.25, 0.4]}'::jsonb
			  ELSE '{"feature_weight": [0.125, 0.25, 0.5, 1, 2],
					 "regularization": [50, 100, 200, 400, 800, 1600],
					 "popularity_exponent": [0, 0.1, 0.25, 0.4],
					 "user_exponent": [0, 0.25, 0.5, 0.75],
					 "dropout": [0, 0.1, 0.25, 0.5]}'::jsonb END,
		 '{"seconds": 0.1, "rows": 4e-5, "items3": 2e-11, "scores": 5e-7}'::jsonb),
		-- implicit ALS with frequency-scaled regularisation (Rendle et al. 2022)
		(4, 'als', 'als', true, false,
		 '{"factors": 128, "iterations": 12, "regularization_exponent": 1}'::jsonb,
		 '[{"alpha": 10, "regularization": 0.01}, {"alpha": 20, "regularization": 0.005}]'::jsonb,
		 '{"alpha": [2.5, 5, 10, 20, 40], "regularization": [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]}'::jsonb,
		 '{"seconds": 0.1, "rows": 2e-6, "entities": 5e-5, "scores": 3e-8}'::jsonb),
		-- ALS with the item features as pseudo-users, when given (their
		-- weight searched; items without buyers get vectors from them)
		(4, 'als_features', 'als', features IS NOT NULL, false,
		 jsonb_build_object('features', features::text, 'factors', 128, 'iterations', 12,
							'regularization_exponent', 1),
		 '[{"alpha": 10, "regularization": 0.01, "feature_weight": 1}]'::jsonb,
		 '{"feature_weight": [0.25, 0.5, 1, 2], "alpha": [2.5, 5, 10, 20, 40],
		   "regularization": [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]}'::jsonb,
		 '{"seconds": 0.1, "rows": 3e-6, "entities": 5e-5, "scores": 3e-8}'::jsonb),
		-- item-kNN, BM25 weighting (recency-weighted on 'last'; with the
		-- item features, items without buyers get neighbour lists)
		(5, 'bm25', 'item_knn', true, false,
		 jsonb_build_object('similarity', 'bm25')
			 || CASE WHEN features IS NOT NULL THEN jsonb_build_object('features', features::text) ELSE '{}' END
			 || CASE WHEN weight_col IS NOT NULL THEN jsonb_build_object('weight_col', weight_col) ELSE '{}' END
			 || CASE WHEN protocol = 'last' THEN jsonb_build_object('time_col', time_col) ELSE '{}' END,
		 CASE WHEN protocol = 'last' THEN '[{"neighbors": 100, "half_life": "60 days"}]'::jsonb
			  ELSE '[{"neighbors": 50}, {"neighbors": 100}]'::jsonb END,
		 CASE WHEN protocol = 'last'
			  THEN '{"neighbors": [25, 50, 100, 200], "half_life": ["15 days", "30 days", "60 days", "120 days", "240 days"]}'::jsonb
			  ELSE '{"neighbors": [25, 50, 100, 200]}'::jsonb END,
		 '{"seconds": 0.1, "rows": 4e-6, "scores": 3e-8}'::jsonb),
		-- BPR (weaker than the above on every shared split; last)
		(6, 'bpr', 'bpr', true, false,
		 '{"factors": 128, "iterations": 100}'::jsonb,
		 '[{"learning_rate": 0.05, "regularization": 0.01}, {"learning_rate": 0.1, "regularization": 0.01}]'::jsonb,
		 '{"learning_rate": [0.02, 0.05, 0.1], "regularization": [0.005, 0.01, 0.02]}'::jsonb,
		 '{"seconds": 0.1, "rows": 5e-5, "scores": 3e-8}'::jsonb),
		-- BPR without stored user vectors (users folded in when served:
		-- new users' interactions count without a retraining)
		(7, 'bpr_folded', 'bpr', true, true,
		 '{"factors": 128, "iterations": 100, "store_users": false}'::jsonb,
		 '[{"learning_rate": 0.05, "regularization": 0.01}]'::jsonb,
		 '{"learning_rate": [0.02, 0.05, 0.1], "regularization": [0.005, 0.01, 0.02]}'::jsonb,
		 '{"seconds": 0.1, "rows": 5e-5, "scores": 6e-8}'::jsonb),
		-- the baseline: a floor every other candidate must beat
		(8, 'popular', 'popular', true, false,
		 CASE WHEN protocol = 'last' THEN jsonb_build_object('time_col', time_col) ELSE '{}' END,
		 CASE WHEN protocol = 'last' THEN '[{"half_life": "30 days"}]'::jsonb ELSE '[{}]'::jsonb END,
		 CASE WHEN protocol = 'last' THEN '{"half_life": ["7 days", "30 days", "120 days"]}'::jsonb
			  ELSE '{}'::jsonb END,
		 '{"seconds": 0.1, "rows": 1e-6, "scores": 1e-8}'::jsonb)
	) f(prior, family, algorithm, enabled, optional, fixed, seeds, steps, cost)
	WHERE f.enabled
	ORDER BY f.prior
$$;
COMMENT ON FUNCTION recsys._auto_families(text, name, name, regclass) IS
	'internal: the candidate families train_auto searches: algorithm, fixed parameters, seeds, search steps, cost model';

-- This run's load factor: the median ratio of measured to modelled
-- seconds of the candidates trained so far (those modelled at a tenth of
-- a second or more: below, fixed costs dominate; blends, modelled from
-- measured seconds, left out), at least 1 and at most 8 (the machine's
-- load over its cores reaches about that).  The cost models'
-- coefficients were measured on the project's machine, so the ratio says
-- how much slower this machine is now than then; it scales what no
-- measurement of this run covers yet (an exact EASE model's writing).
-- 1 before any trial.  (Parallel restricted: it reads a temporary table.)
CREATE FUNCTION recsys._auto_load_factor()
RETURNS double precision
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN least(8, greatest(1, coalesce(
		(SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY (t.train_seconds + t.eval_seconds) / t.modelled)
		 FROM _recsys_auto_trials t
		 WHERE t.train_seconds IS NOT NULL AND t.modelled >= 0.1 AND t.family <> 'blend'), 1)));
END
$$;
COMMENT ON FUNCTION recsys._auto_load_factor() IS
	'internal: train_auto''s load factor, measured over modelled seconds so far (1 to 8)';

-- The estimated seconds of retraining an EASE model with a given keep
-- (0.1 to 1, 1 exact) from a compact (keep 0.1) model's seconds, both
-- for all the data: the solve is the same, the writing grows with keep.
-- The extra writing of exact over compact is the larger of (exact_factor
-- - 1) times the compact seconds (the ratio measured on an unloaded
-- machine) and ease_write_exact (seconds per weight written, unloaded,
-- times the catalogue's items squared: what exact writes) times the load
-- factor, each for the 0.9 of the weights exact writes beyond compact's
-- tenth: under load the writing slows more than the solve (ml-latest-
-- small last5 at load 11: exact estimated at 2.5 times compact, 119 s,
-- took about twice that).  keep in between: the extra in proportion.
CREATE FUNCTION recsys._auto_keep_seconds(compact double precision, keep double precision, ctx jsonb,
										  load double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT compact + greatest(((ctx ->> 'exact_factor')::double precision - 1) * compact / 0.9,
							  (ctx ->> 'ease_write_exact')::double precision * load)
					 * (keep - 0.1)
$$;
COMMENT ON FUNCTION recsys._auto_keep_seconds(double precision, double precision, jsonb, double precision) IS
	'internal: train_auto''s estimated seconds of an EASE fit with a given keep, from a compact one''s';

-- The keep an EASE winner (or blend member) is retrained with on all the
-- data: the largest of 1 (exact), 0.5 and 0.25 whose estimate (other:
-- the non-EASE members' seconds; ease: the compact EASE members'; both
-- for all the data) fits the seconds left, else 0.1, compact as
-- validated.  Returns that keep, its estimate and the exact estimate.
CREATE FUNCTION recsys._auto_final_keep(other double precision, ease double precision, left_seconds double precision,
										ctx jsonb, load double precision,
										OUT keep double precision, OUT estimate double precision,
										OUT exact_estimate double precision)
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.kept, other + recsys._auto_keep_seconds(ease, c.kept, ctx, load),
		   other + recsys._auto_keep_seconds(ease, 1, ctx, load)
	FROM unnest(ARRAY[1, 0.5, 0.25, 0.1]::double precision[]) c(kept)
	WHERE c.kept = 0.1 OR other + recsys._auto_keep_seconds(ease, c.kept, ctx, load) <= left_seconds
	ORDER BY c.kept DESC LIMIT 1
$$;
COMMENT ON FUNCTION recsys._auto_final_keep(double precision, double precision, double precision, jsonb,
											double precision) IS
	'internal: the keep train_auto retrains an EASE winner with: the largest whose estimate fits the time left';

-- One train_auto trial: unless its estimated seconds, plus the time kept
-- for training the best candidates on all the data, would pass the
-- deadline, train the candidate on the split's train part and score it on
-- its validation part; record it in _recsys_auto_trials.  A family keeps
-- only the model of its best trial (for blending); the others are dropped.
-- A candidate refused for recsys.max_memory, or failing otherwise, is
-- recorded and skipped.  Returns the trial's status: 'ok', 'worse',
-- 'budget', 'memory' or 'failed'.  ctx: the search's state (deadline,
-- metric, k, sizes, the candidates' name prefix).
CREATE OR REPLACE FUNCTION recsys._auto_trial(family text, algorithm text, params jsonb, cost jsonb,
								   search_round integer, ctx jsonb, blending boolean DEFAULT false,
								   shown jsonb DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	trainer regprocedure := recsys._tune_trainer(algorithm);
	n integer;
	candidate text;
	estimate double precision;
	calibration double precision;
	reserve double precision;
	left_seconds double precision;
	r record;
	prev record;
	status text;
	-- (a trial's seconds on the split to all the data's, plus a fifth)
	scale12 double precision := (ctx ->> 'scale')::double precision * 1.2;
	load double precision;
BEGIN
	SELECT coalesce(max(t.n), 0) + 1 INTO n FROM _recsys_auto_trials t;
	-- the estimate: this family's slowest trial so far, or its cost model
	-- corrected by the median ratio of measured to modelled seconds
	SELECT max(t.train_seconds + t.eval_seconds) INTO estimate
	FROM _recsys_auto_trials t WHERE t.family = _auto_trial.family AND t.train_seconds IS NOT NULL;
	IF estimate IS NULL THEN
		-- (trials modelled at a tenth of a second or more, when there are
		-- some: below, fixed costs that no model has dominate)
		SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY (t.train_seconds + t.eval_seconds) / t.modelled), 1)
		INTO calibration FROM _recsys_auto_trials t
		WHERE t.train_seconds IS NOT NULL AND t.modelled > 0
		  AND (t.modelled >= 0.1 OR NOT EXISTS (SELECT FROM _recsys_auto_trials u WHERE u.modelled >= 0.1));
		estimate := calibration * recsys._auto_cost(cost, ctx);
	END IF;
	-- kept for the end: training the winner and its blend partner on all
	-- the data (scaled by its size, plus a fifth), the two slowest of this
	-- candidate's family (the candidate may win it) and the two best
	-- other families' winners so far; and, while the search runs, three
	-- blend evaluations
	-- (compact EASE is retrained exact at the end: a trained one is kept
	-- for at its exact estimate, _auto_keep_seconds at this run's load
	-- factor, so that a loaded machine does not leave too little time; a
	-- family's first trial at its compact one, so that EASE is tried at
	-- all, to be retrained compact if time runs short)
	load := recsys._auto_load_factor();
	SELECT coalesce(sum(x.seconds), 0) * scale12
		   + CASE WHEN blending THEN 0
				  ELSE 3 * coalesce((SELECT sum(b.eval_seconds)
									 FROM (SELECT t.eval_seconds FROM _recsys_auto_trials t
										   WHERE t.model IS NOT NULL AND t.family <> 'blend' AND t.value IS NOT NULL
										   ORDER BY t.value DESC LIMIT 2) b), 0) END
	INTO reserve
	FROM (SELECT c.seconds FROM
			(SELECT b.train_seconds AS seconds
			 FROM (SELECT CASE WHEN t.params ? 'keep' THEN recsys._auto_keep_seconds(t.train_seconds * scale12, 1, ctx, load) / scale12
							   ELSE t.train_seconds END AS train_seconds
				   FROM _recsys_auto_trials t
				   WHERE t.model IS NOT NULL AND t.family <> 'blend' AND t.value IS NOT NULL
					 AND (blending OR t.family <> _auto_trial.family)
				   ORDER BY t.value DESC LIMIT 2) b
			 UNION ALL
			 SELECT CASE WHEN params ? 'keep' AND EXISTS (SELECT FROM _recsys_auto_trials t
														  WHERE t.model IS NOT NULL AND t.family = _auto_trial.family)
						 THEN recsys._auto_keep_seconds(e.seconds * scale12, 1, ctx, load) / scale12
						 ELSE e.seconds END
			 FROM (SELECT greatest(estimate, (SELECT t.train_seconds FROM _recsys_auto_trials t
											  WHERE t.model IS NOT NULL AND t.family = _auto_trial.family)) AS seconds) e
			 WHERE NOT blending) c
		  ORDER BY c.seconds DESC LIMIT 2) x;
	left_seconds := extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp());
	IF estimate + reserve > left_seconds THEN
		INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, shown, status)
		VALUES (n, search_round, family, algorithm, params, coalesce(shown, params - ARRAY['user_col', 'item_col']),
				format('skipped: estimated %s s, %s s of the budget left (%s s kept to train the winner on all the data)',
					   round(estimate::numeric, 1), round(greatest(left_seconds, 0)::numeric, 1),
					   round(reserve::numeric, 1)));
		RETURN 'budget';
	END IF;
	candidate := format('%s%s', ctx ->> 'prefix', n);
	BEGIN
		SELECT * INTO r FROM recsys._tune_candidate(trainer, 'pg_temp._recsys_auto_train', 'pg_temp._recsys_auto_valid',
													candidate, params, ctx ->> 'metric', (ctx ->> 'k')::integer,
													'user_id', 'item_id', NULL);
	EXCEPTION
		WHEN program_limit_exceeded THEN
			INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, shown, status)
			VALUES (n, search_round, family, algorithm, params, coalesce(shown, params - ARRAY['user_col', 'item_col']), 'skipped: ' || SQLERRM);
			RETURN 'memory';
		WHEN OTHERS THEN
			INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, shown, status)
			VALUES (n, search_round, family, algorithm, params, coalesce(shown, params - ARRAY['user_col', 'item_col']), 'failed: ' || SQLERRM);
			RETURN 'failed';
	END;
	SELECT t.n, t.model, t.value INTO prev FROM _recsys_auto_trials t
	WHERE t.family = _auto_trial.family AND t.model IS NOT NULL;
	IF prev.n IS NULL OR coalesce(r.value, '-Infinity') > coalesce(prev.value, '-Infinity') THEN
		status := 'ok';
		IF prev.n IS NOT NULL THEN
			PERFORM recsys.drop_model(prev.model);
			UPDATE _recsys_auto_trials t SET model = NULL WHERE t.n = prev.n;
		END IF;
	ELSE
		status := 'worse';
		PERFORM recsys.drop_model(candidate);
		candidate := NULL;
	END IF;
	INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, shown, value, metrics, train_seconds,
									 eval_seconds, modelled, model, status)
	VALUES (n, search_round, family, algorithm, params, coalesce(shown, params - ARRAY['user_col', 'item_col']), r.value, r.metrics, r.train_seconds, r.eval_seconds,
			recsys._auto_cost(cost, ctx), candidate, 'trained');
	RETURN status;
END
$$;
COMMENT ON FUNCTION recsys._auto_trial(text, text, jsonb, jsonb, integer, jsonb, boolean, jsonb) IS
	'internal: train and score one train_auto candidate if the budget allows, and record it';

-- train_auto keeps a blend member only for a significant gain: the
-- validation users' values of a model (_evaluate_users), the paired z
-- internal: evaluate's ranking metrics per evaluated user (its means are
-- evaluate's), for comparing two models user by user (train_auto's blend
-- members); weight_col is ignored (no rating metrics)
CREATE FUNCTION recsys._evaluate_users(
	model text,
	test regclass,
	k integer DEFAULT 10,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	diversity real DEFAULT 0,
	similarity_model text DEFAULT NULL,
	features regclass DEFAULT NULL)
RETURNS TABLE (user_id bigint, "precision" double precision, recall double precision, ndcg double precision,
			   map double precision, hit_rate double precision, mrr double precision)
AS 'MODULE_PATHNAME', 'recsys_evaluate_users'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._evaluate_users(text, regclass, integer, name, name, name, real, text, regclass) IS
	'internal: evaluate''s ranking metrics of each evaluated user';

-- A candidate's metric for each validation user, in user order (for
-- _auto_paired_z), or NULL when fewer than needed seconds of the budget
-- are left.  metric_name is one of _evaluate_users' columns.
CREATE FUNCTION recsys._auto_user_values(model text, metric_name text, k integer, needed double precision,
										 ctx jsonb)
RETURNS double precision[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp()) < needed THEN
		RETURN NULL;
	END IF;
	RETURN ARRAY(SELECT (to_jsonb(u) ->> metric_name)::double precision
				 FROM recsys._evaluate_users(model, 'pg_temp._recsys_auto_valid', k) u
				 ORDER BY u.user_id);
END
$$;
COMMENT ON FUNCTION recsys._auto_user_values(text, text, integer, double precision, jsonb) IS
	'internal: a train_auto candidate''s metric for each validation user, if the budget allows';

-- The paired z statistic of a gain: the mean over users of extended[i] -
-- base[i] (one user's metric under two models, in the same order) over
-- its standard error (the differences' sample standard deviation over the
-- square root of their number).  Validation users are the sample, so a
-- gain a few users make by chance scores low however large the mean; a
-- gain every user shares scores high however small.  Without spread: +/-
-- Infinity for a gain / loss, 0 for none; NULL below two users or without
-- values (no time left to compute them).  A value that is not finite
-- (NaN > 1.96 is true in PostgreSQL) gives 0: no gain shown.  Arrays of
-- different lengths are an error (users out of step), not "no time left".
CREATE FUNCTION recsys._auto_paired_z(base double precision[], extended double precision[])
RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF base IS NULL OR extended IS NULL THEN
		RETURN NULL;
	END IF;
	IF cardinality(base) OPERATOR(pg_catalog.<>) cardinality(extended) THEN
		RAISE EXCEPTION 'recsys._auto_paired_z: base has % values and extended %: one per user in both',
			cardinality(base), cardinality(extended)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT FROM unnest(base OPERATOR(pg_catalog.||) extended) x
			   WHERE x OPERATOR(pg_catalog.=) ANY ('{NaN,Infinity,-Infinity}'::double precision[])) THEN
		RETURN 0;
	END IF;
	RETURN (SELECT CASE WHEN count(d.v) OPERATOR(pg_catalog.<) 2 THEN NULL
						WHEN stddev_samp(d.v) OPERATOR(pg_catalog.=) 0
						THEN CASE WHEN avg(d.v) OPERATOR(pg_catalog.>) 0 THEN 'Infinity'::double precision
								  WHEN avg(d.v) OPERATOR(pg_catalog.<) 0 THEN '-Infinity'::double precision
								  ELSE 0 END
						ELSE avg(d.v) OPERATOR(pg_catalog./) (stddev_samp(d.v) OPERATOR(pg_catalog./) sqrt(count(d.v))) END
			FROM unnest(base, extended) d0(b, e), LATERAL (SELECT d0.e OPERATOR(pg_catalog.-) d0.b AS v) d);
END
$$;
COMMENT ON FUNCTION recsys._auto_paired_z(double precision[], double precision[]) IS
	'internal: the paired z statistic of a per-user gain (train_auto keeps a blend member only above 1.96)';

-- What train_auto records of a blend member tested: kept when the paired
-- z of its gain (value: the new blend's, over blend_value, the blend it
-- extends) is at least min_z; not kept below, or when z is NULL because
-- no time was left to evaluate the users (_auto_user_values).
CREATE FUNCTION recsys._auto_member_status(z double precision, value double precision,
										   blend_value double precision, min_z double precision)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN z IS NULL THEN 'not kept: no time left to test its gain over the blend it extends'
				ELSE format('%s: gain %s over the blend it extends (%s), paired z %s %s %s',
							CASE WHEN z >= min_z THEN 'kept' ELSE 'not kept' END,
							round((value - blend_value)::numeric, 4), round(blend_value::numeric, 4),
							round(least(z, 1e6)::numeric, 2), CASE WHEN z >= min_z THEN '>=' ELSE '<' END, min_z) END
$$;
COMMENT ON FUNCTION recsys._auto_member_status(double precision, double precision, double precision,
											   double precision) IS
	'internal: train_auto''s verdict on a blend member: kept, not kept, or not tested for lack of time';

DROP FUNCTION recsys.train_auto(regclass, text, interval, text, text, regclass, name, name, name, name, bigint, boolean);
CREATE FUNCTION recsys.train_auto(
	source regclass,
	model text DEFAULT 'default',
	budget interval DEFAULT '5 minutes',
	metric text DEFAULT 'ndcg@10',
	protocol text DEFAULT NULL,
	features regclass DEFAULT NULL,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	time_col name DEFAULT NULL,
	weight_col name DEFAULT NULL,
	seed bigint DEFAULT 42,
	replace boolean DEFAULT false,
	families text[] DEFAULT NULL,
	event_col name DEFAULT NULL,
	event_weights jsonb DEFAULT NULL)
RETURNS TABLE (rank integer, family text, algorithm text, params jsonb, value double precision,
			   train_seconds double precision, eval_seconds double precision, status text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	started timestamptz := clock_timestamp();
	k integer;
	metric_name text;
	ranking CONSTANT text[] := ARRAY['precision', 'recall', 'ndcg', 'map', 'hit_rate', 'mrr'];
	protocol_used text := protocol;
	protocol_reason text;
	families_used text[];
	event_type text;
	columns jsonb;
	ctx jsonb;
	n_rows bigint;
	n_train bigint;
	n_users bigint;
	n_items bigint;
	n_all_items bigint;
	n_valid_users bigint;
	n_valid bigint;
	fam record;
	n_families integer;
	survivors text[];
	next_params jsonb;
	search_round integer := 0;
	per_family integer;
	tried boolean;
	out_of_budget text[] := '{}';
	result text;
	top record;
	runner_up record;
	w double precision;
	blend_models text[];
	blend_families text[];
	blend_weights double precision[];
	blend_value double precision;
	blend_seconds double precision;
	best_weight double precision;
	best_value double precision;
	winner record;
	members text[];
	member text;
	report jsonb;
	why text;
	version_trained integer;
	final_estimate double precision;
	final_left double precision;
	final_other double precision;
	final_ease double precision;
	final_keep double precision;
	final_kept_estimate double precision;
	final_load double precision;
	final_note text;
	trial record;
	best_n integer;
	blend_n integer;
	blend_users double precision[];
	member_users double precision[];
	z double precision;
BEGIN
	IF source IS NULL OR model IS NULL OR budget IS NULL OR metric IS NULL OR user_col IS NULL
		OR item_col IS NULL OR seed IS NULL OR replace IS NULL THEN
		RAISE EXCEPTION 'arguments of train_auto must not be NULL (protocol, features, time_col, weight_col, families, event_col and event_weights may be)'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF budget <= interval '0' THEN
		RAISE EXCEPTION 'budget must be greater than 0, not %', budget
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example ''5 minutes''.';
	END IF;
	-- a ranking metric at a cutoff: evaluate's, less those that do not
	-- measure accuracy (coverage, ild) or need ratings (rmse, mae)
	metric_name := substring(metric FROM '^([a-z_]+)@[0-9]+$');
	k := substring(metric FROM '@([0-9]{1,4})$')::integer;
	IF metric_name IS NULL OR NOT metric_name = ANY (ranking) OR k IS NULL OR k < 1 OR k > 1000 THEN
		RAISE EXCEPTION 'metric must be one of % at a cutoff from 1 to 1000, not "%"',
			array_to_string(ranking, ', '), metric
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example ''ndcg@10'' or ''recall@20''.';
	END IF;
	IF protocol IS NOT NULL AND protocol NOT IN ('holdout', 'last') THEN
		RAISE EXCEPTION 'protocol must be holdout, last or NULL, not "%"', protocol
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'NULL chooses: last when time_col is given, else holdout.';
	END IF;
	IF protocol = 'last' AND time_col IS NULL THEN
		RAISE EXCEPTION 'protocol last needs time_col, the column that orders each user''s interactions'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF model = '' OR length(model) > 63 THEN
		RAISE EXCEPTION 'model must be a name of 1 to 63 characters, not "%"', model
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM recsys._require_column(source, user_col, 'user_col');
	PERFORM recsys._require_column(source, item_col, 'item_col');
	IF time_col IS NOT NULL THEN
		PERFORM recsys._require_column(source, time_col, 'time_col');
	END IF;
	IF weight_col IS NOT NULL THEN
		PERFORM recsys._require_column(source, weight_col, 'weight_col');
	END IF;
	-- event weights: the trainers' own map, checked here once (every
	-- candidate would fail on it) and given to every family whose trainer
	-- weighs events
	IF (event_col IS NULL) <> (event_weights IS NULL) THEN
		RAISE EXCEPTION 'event_col and event_weights go together'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'For example event_col => ''kind'', event_weights => ''{"view": 1, "purchase": 10}''.';
	END IF;
	IF event_col IS NOT NULL THEN
		PERFORM recsys._require_column(source, event_col, 'event_col');
		IF jsonb_typeof(event_weights) <> 'object' OR event_weights = '{}' THEN
			RAISE EXCEPTION 'event_weights must be a non-empty JSON object of event type: weight, not %', event_weights
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT e.key INTO event_type FROM jsonb_each(event_weights) e
		WHERE jsonb_typeof(e.value) <> 'number' OR NOT e.value::text::numeric BETWEEN 0 AND 1000 LIMIT 1;
		IF event_type IS NOT NULL THEN
			RAISE EXCEPTION 'event_weights gives event type "%" weight %, not a number in [0, 1000]',
				event_type, event_weights -> event_type
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF NOT EXISTS (SELECT FROM jsonb_each(event_weights) e WHERE e.value::text::numeric > 0) THEN
			RAISE EXCEPTION 'event_weights must give some event type a weight above 0'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		EXECUTE format('SELECT r.%1$I::text FROM %2$s r WHERE r.%1$I IS NOT NULL AND NOT $1 ? r.%1$I::text LIMIT 1',
					   event_col, source)
		INTO event_type USING event_weights;
		IF event_type IS NOT NULL THEN
			RAISE EXCEPTION 'event_weights has no weight for event type "%" of column "%"', event_type, event_col
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Give every event type a weight, 0 to leave it out.';
		END IF;
	END IF;
	-- a model trained by hand is replaced only when asked; one train_auto
	-- trained before is its own to retrain (whatever algorithm wins now)
	PERFORM recsys._require_model_owner(model, 'train', missing_ok => true);
	IF NOT replace AND EXISTS (SELECT FROM recsys.models m
							   WHERE m.name = model AND NOT m.metrics ? 'train_auto') THEN
		RAISE EXCEPTION 'model "%" was not trained by train_auto', model
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = 'train_auto may choose another algorithm than the model''s.',
				  HINT = 'Pass replace => true to let train_auto retrain it, or train under another name.';
	END IF;

	-- the protocol: a time column means the model will rank what users do
	-- next, so it is validated on each user's last interactions
	IF protocol_used IS NULL THEN
		protocol_used := CASE WHEN time_col IS NOT NULL THEN 'last' ELSE 'holdout' END;
		protocol_reason := CASE WHEN time_col IS NOT NULL
								THEN 'time_col given: validated on each user''s last 5 items, as the model will rank what comes next'
								ELSE 'no time_col: validated on a random quarter of each user''s items' END;
	ELSE
		protocol_reason := 'protocol given';
	END IF;
	-- the families searched: those named, else every one not optional
	-- (a name must be one of this call's families: features and the
	-- protocol enable some)
	-- (and, with event weights, those whose trainer weighs events: the
	-- others would count a view as a purchase)
	families_used := ARRAY(SELECT f.family FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
						   WHERE CASE WHEN families IS NULL THEN NOT f.optional ELSE f.family = ANY (families) END
							 AND (event_col IS NULL
								  OR (SELECT 'event_col' = ANY (p.proargnames) FROM pg_proc p
									  WHERE p.oid = recsys._tune_trainer(f.algorithm))));
	IF families IS NOT NULL AND (cardinality(families) = 0 OR array_position(families, NULL) IS NOT NULL
								 OR EXISTS (SELECT FROM unnest(families) n WHERE NOT n = ANY (families_used))) THEN
		-- (with event_col, say which families it leaves out and why)
		RAISE EXCEPTION 'families must name some of %, not %',
			(SELECT string_agg(f.family, ', ') FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
			 WHERE event_col IS NULL OR (SELECT 'event_col' = ANY (p.proargnames) FROM pg_proc p
										 WHERE p.oid = recsys._tune_trainer(f.algorithm)))
			|| COALESCE((SELECT format(' (event_col leaves out %s: their trainers do not weigh event types, so they would count a view as a purchase)',
									string_agg(f.family, ', '))
					  FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
					  WHERE event_col IS NOT NULL AND NOT (SELECT 'event_col' = ANY (p.proargnames) FROM pg_proc p
														   WHERE p.oid = recsys._tune_trainer(f.algorithm))
					  HAVING count(*) > 0), ''),
			families
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The families depend on the protocol (ease_recent: last), on features (ease_features, als_features) and on event_col (only families whose trainer weighs event types); NULL tries every one not optional.';
	END IF;

	-- the split: validation pairs, and the source's rows without them
	-- (a second call in one transaction: its tables go first)
	IF to_regclass('pg_temp._recsys_auto_trials') IS NOT NULL THEN
		DROP TABLE pg_temp._recsys_auto_split, pg_temp._recsys_auto_train,
			pg_temp._recsys_auto_valid, pg_temp._recsys_auto_trials;
	END IF;
	IF protocol_used = 'last' THEN
		CREATE TEMP TABLE _recsys_auto_split ON COMMIT DROP AS
		SELECT * FROM recsys.split_last(source, time_col, 5, 10, user_col, item_col);
	ELSE
		CREATE TEMP TABLE _recsys_auto_split ON COMMIT DROP AS
		SELECT * FROM recsys.split_holdout(source, 0.25, seed, 4, user_col, item_col);
	END IF;
	SELECT count(*), count(*) FILTER (WHERE s.is_test), count(DISTINCT s.user_id) FILTER (WHERE s.is_test),
		   count(DISTINCT s.item_id)
	INTO n_rows, n_valid, n_valid_users, n_all_items FROM _recsys_auto_split s;
	IF n_rows = 0 THEN
		RAISE EXCEPTION 'source "%" has no interactions to train on', source
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF n_valid = 0 THEN
		RAISE EXCEPTION 'source "%" has no user with enough interactions to validate on', source
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = CASE WHEN protocol_used = 'last'
								THEN 'Protocol last holds out the last 5 items of users with at least 10.'
								ELSE 'Protocol holdout holds out a quarter of the items of users with at least 4.' END;
	END IF;
	CREATE TEMP TABLE _recsys_auto_valid ON COMMIT DROP AS
	SELECT s.user_id, s.item_id FROM _recsys_auto_split s WHERE s.is_test;
	EXECUTE format('CREATE TEMP TABLE _recsys_auto_train ON COMMIT DROP AS '
				   'SELECT r.* FROM %s r WHERE NOT EXISTS (SELECT FROM pg_temp._recsys_auto_valid v '
				   'WHERE v.user_id = r.%I::bigint AND v.item_id = r.%I::bigint)',
				   source, user_col, item_col);
	-- (serving reads a user's rows of the source: recency-weighted and
	-- neighbourhood models when evaluated)
	EXECUTE format('CREATE INDEX ON pg_temp._recsys_auto_train (%I)', user_col);
	ANALYZE pg_temp._recsys_auto_train;
	SELECT count(*), count(DISTINCT s.user_id), count(DISTINCT s.item_id) FILTER (WHERE NOT s.is_test)
	INTO n_train, n_users, n_items FROM _recsys_auto_split s WHERE NOT s.is_test;
	CREATE TEMP TABLE _recsys_auto_trials (
		n integer PRIMARY KEY, round integer, family text, algorithm text, params jsonb, shown jsonb,
		value double precision, metrics jsonb, train_seconds double precision,
		eval_seconds double precision, modelled double precision, model text, status text) ON COMMIT DROP;

	columns := jsonb_build_object('user_col', user_col, 'item_col', item_col)
			   || CASE WHEN event_col IS NOT NULL
					   THEN jsonb_build_object('event_col', event_col, 'event_weights', event_weights) ELSE '{}' END;
	ctx := jsonb_build_object(
		'deadline', started + budget, 'metric', metric, 'k', k,
		'rows', n_train, 'users', n_users, 'items', n_items, 'valid_users', n_valid_users,
		'scale', n_rows::double precision / n_train,
		-- an exact EASE fit against a compact one's seconds (the solve is
		-- the same, the writing ten times more)
		'exact_factor', 2.5,
		-- and its writing at least: 4e-7 s a weight unloaded (ml-latest-
		-- small's exact model, 77M weights, 20-40 s mostly writing) times
		-- the catalogue's items squared, times the load factor when used
		-- (_auto_keep_seconds)
		'ease_write_exact', 4e-7 * power(n_all_items, 2),
		-- a blend member's least paired z (_auto_paired_z): 1.96, the
		-- two-sided 5 % level (one-sided 2.5 %, strict enough for the best
		-- of five weights)
		'min_z', 1.96,
		-- a name of this backend's own, so concurrent searches do not collide
		'prefix', format('_recsys_auto_%s_%s_', pg_backend_pid(), txid_current()));

	-- round 0: each family's strongest known setting, the cheapest family
	-- first, so that the measured seconds correct the costs of the dearer
	-- ones before they start; each family's modelled seconds doubled per
	-- place in the strength order, so that a dear weak family (BPR) does
	-- not spend, before the strong ones start, the time they need
	SELECT count(*) INTO n_families FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
	WHERE f.family = ANY (families_used);
	FOR fam IN SELECT f.* FROM recsys._auto_families(protocol_used, time_col, weight_col, features)
						  WITH ORDINALITY f
			   WHERE f.family = ANY (families_used)
			   ORDER BY recsys._auto_cost(f.cost, ctx) * power(2, f.ordinality - 1), f.ordinality LOOP
		next_params := recsys._auto_next(fam.family, columns || fam.fixed, fam.seeds, fam.steps);
		result := recsys._auto_trial(fam.family, fam.algorithm, next_params, fam.cost, 0, ctx);
		IF result = 'budget' THEN
			out_of_budget := out_of_budget || fam.family;
		END IF;
	END LOOP;
	-- successive halving over the families: each round keeps the better
	-- half (at least two) and gives each survivor twice the trials of the
	-- round before: its remaining seeds, then steps around its best
	LOOP
		search_round := search_round + 1;
		survivors := ARRAY(SELECT t.family FROM _recsys_auto_trials t
						   WHERE t.model IS NOT NULL AND t.family <> 'blend'
						   ORDER BY t.value DESC NULLS LAST, t.n
						   LIMIT greatest(2, ceil(coalesce(cardinality(survivors), n_families) / 2.0)::integer));
		per_family := 1 << least(search_round, 10);
		tried := false;
		FOR fam IN SELECT f.* FROM recsys._auto_families(protocol_used, time_col, weight_col, features) f
				   WHERE f.family = ANY (families_used) LOOP
			-- (a family that no longer fits the budget stays out: time only shrinks)
			CONTINUE WHEN NOT fam.family = ANY (survivors) OR fam.family = ANY (out_of_budget);
			FOR i IN 1..per_family LOOP
				next_params := recsys._auto_next(fam.family, columns || fam.fixed, fam.seeds, fam.steps);
				EXIT WHEN next_params IS NULL;
				result := recsys._auto_trial(fam.family, fam.algorithm, next_params, fam.cost, search_round, ctx);
				IF result = 'budget' THEN
					out_of_budget := out_of_budget || fam.family;
					EXIT;
				END IF;
				tried := true;
			END LOOP;
		END LOOP;
		EXIT WHEN NOT tried;
	END LOOP;

	-- blend the families when that helps on validation, by forward
	-- selection (Caruana et al. 2004): from the best family's model, add
	-- the next best family's with the weight (against the first's 1) that
	-- scores best, when that beats the blend it extends significantly;
	-- then the next family's, up to four members.  Significantly: the
	-- paired z of the gain over the validation users (_auto_paired_z) at
	-- least min_z, 1.96; a member whose gain a few users make by chance
	-- (the best of five weights on the same users, at that) would cost
	-- on new data what it seemed to gain (online-retail strat75: BPR kept
	-- for +0.3 %, test -1 %).  The blend's users' values are evaluated
	-- once more per member (_evaluate_users), within the budget
	SELECT t.* INTO top FROM _recsys_auto_trials t WHERE t.model IS NOT NULL
	ORDER BY t.value DESC NULLS LAST, t.n LIMIT 1;
	IF top.n IS NULL THEN
		RAISE EXCEPTION 'train_auto found no candidate within the budget of %', budget
			USING ERRCODE = 'program_limit_exceeded',
				  DETAIL = (SELECT string_agg(format('%s: %s', t.family, t.status), '; ' ORDER BY t.n)
							FROM _recsys_auto_trials t),
				  HINT = 'Raise the budget (or recsys.max_memory).';
	END IF;
	blend_models := ARRAY[top.model];
	blend_families := ARRAY[top.family];
	blend_weights := ARRAY[1];
	blend_value := top.value;
	blend_seconds := top.eval_seconds;
	blend_n := NULL;
	result := NULL;
	FOR runner_up IN SELECT t.* FROM _recsys_auto_trials t
					 WHERE t.model IS NOT NULL AND t.n <> top.n AND t.value IS NOT NULL AND top.value IS NOT NULL
					   AND t.family <> 'blend'
					 ORDER BY t.value DESC, t.n LOOP
		EXIT WHEN cardinality(blend_models) >= 4 OR result = 'budget';
		best_n := NULL;
		best_weight := NULL;
		best_value := blend_value;
		FOREACH w IN ARRAY ARRAY[0.5, 1, 0.3, 0.7, 1.3] LOOP
			result := recsys._auto_trial('blend', 'blend',
										 jsonb_build_object('members', to_jsonb(blend_models || runner_up.model),
															'weights', to_jsonb(blend_weights || w)),
										 jsonb_build_object('seconds', blend_seconds + runner_up.eval_seconds),
										 search_round + 1, ctx, blending => true,
										 shown => jsonb_build_object('members', to_jsonb(blend_families || runner_up.family),
																	 'weights', to_jsonb(blend_weights || w)));
			EXIT WHEN result = 'budget';
			SELECT t.* INTO trial FROM _recsys_auto_trials t ORDER BY t.n DESC LIMIT 1;
			IF trial.value > best_value THEN
				best_n := trial.n;
				best_value := trial.value;
				best_weight := w;
			END IF;
		END LOOP;
		CONTINUE WHEN best_n IS NULL;
		-- the gain's paired z over the validation users: those of the
		-- blend it extends (once: of the best model alone) and of the new
		-- blend (the best blend so far: its model is the one kept), each
		-- evaluated when the time left allows it besides retraining the
		-- members on all the data (compact: the least the end needs)
		SELECT t.* INTO trial FROM _recsys_auto_trials t WHERE t.n = best_n;
		SELECT sum(t.train_seconds) * (ctx ->> 'scale')::double precision * 1.2 INTO final_other
		FROM _recsys_auto_trials t WHERE t.model = ANY (blend_models || runner_up.model);
		IF blend_users IS NULL THEN
			blend_users := recsys._auto_user_values(top.model, metric_name, k,
													top.eval_seconds + trial.eval_seconds + final_other, ctx);
		END IF;
		member_users := CASE WHEN blend_users IS NOT NULL AND trial.model IS NOT NULL
							 THEN recsys._auto_user_values(trial.model, metric_name, k,
														   trial.eval_seconds + final_other, ctx) END;
		z := recsys._auto_paired_z(blend_users, member_users);
		UPDATE _recsys_auto_trials t
		SET status = recsys._auto_member_status(z, trial.value, blend_value, (ctx ->> 'min_z')::double precision)
		WHERE t.n = trial.n;
		IF z IS NULL OR z < (ctx ->> 'min_z')::double precision THEN
			-- not kept, nor any blend with it
			IF trial.model IS NOT NULL THEN
				PERFORM recsys.drop_model(trial.model);
			END IF;
			UPDATE _recsys_auto_trials t SET model = NULL WHERE t.n = trial.n;
			-- (with no time left to test, none after it either)
			EXIT WHEN z IS NULL;
			CONTINUE;
		END IF;
		blend_n := trial.n;
		blend_users := member_users;
		blend_models := blend_models || runner_up.model;
		blend_families := blend_families || runner_up.family;
		blend_weights := blend_weights || best_weight;
		blend_value := best_value;
		blend_seconds := blend_seconds + runner_up.eval_seconds;
	END LOOP;

	-- the winner, trained on all the data as the model (replacing it: a
	-- model train_auto trained before may change its algorithm, and one it
	-- did not was refused above unless replace): the last blend kept, else
	-- the best model
	SELECT t.* INTO winner FROM _recsys_auto_trials t WHERE t.n = coalesce(blend_n, top.n);
	-- compact EASE (keep) approximates exact EASE: an EASE winner or
	-- member is retrained with the largest keep whose fit the budget left
	-- allows (_auto_final_keep: the compact one's seconds scaled to all
	-- the data plus a fifth, and the writing the keep adds at this run's
	-- load factor, _auto_keep_seconds): exact, else 0.5 or 0.25 (the
	-- weights kept are the largest, so a larger keep is closer to exact),
	-- else compact as validated (0.1)
	SELECT coalesce(sum(t.train_seconds) FILTER (WHERE NOT t.params ? 'keep'), 0)
		   * (ctx ->> 'scale')::double precision * 1.2,
		   sum(t.train_seconds) FILTER (WHERE t.params ? 'keep') * (ctx ->> 'scale')::double precision * 1.2
	INTO final_other, final_ease
	FROM _recsys_auto_trials t
	WHERE t.n = winner.n OR (winner.family = 'blend'
							 AND t.model IN (SELECT jsonb_array_elements_text(winner.params -> 'members')));
	final_left := extract(epoch FROM (ctx ->> 'deadline')::timestamptz - clock_timestamp());
	IF final_ease IS NOT NULL THEN
		final_load := recsys._auto_load_factor();
		SELECT f.keep, f.estimate, f.exact_estimate INTO final_keep, final_kept_estimate, final_estimate
		FROM recsys._auto_final_keep(final_other, final_ease, final_left, ctx, final_load) f;
		final_note := format('EASE retrained %s: exact estimated at %s s (load factor %s), %s s of the budget left',
							 CASE WHEN final_keep = 1 THEN 'exact'
								  WHEN final_keep > 0.1 THEN format('with keep %s (estimated at %s s), nearer exact than validated',
																	final_keep, round(final_kept_estimate::numeric, 1))
								  ELSE 'compact (keep 0.1), as validated' END,
							 round(final_estimate::numeric, 1), round(final_load::numeric, 2),
							 round(greatest(final_left, 0)::numeric, 1));
	END IF;
	IF winner.family = 'blend' THEN
		-- the members under names of their own: <model>_auto_<family>
		-- (in the blend's order: the weights follow it)
		FOR fam IN SELECT t.* FROM jsonb_array_elements_text(winner.params -> 'members') WITH ORDINALITY m(name, o)
						  JOIN _recsys_auto_trials t ON t.model = m.name
				   ORDER BY m.o LOOP
			member := format('%s_auto_%s', left(model, 40), fam.family);
			PERFORM recsys._tune_keep(recsys._tune_trainer(fam.algorithm), source, member,
									  CASE WHEN NOT fam.params ? 'keep' THEN fam.params
										   WHEN final_keep = 1 THEN fam.params - 'keep'
										   ELSE fam.params || jsonb_build_object('keep', final_keep) END, true);
			members := members || member;
		END LOOP;
		PERFORM recsys._tune_keep(recsys._tune_trainer('blend'), NULL, model,
								  jsonb_build_object('members', to_jsonb(members), 'weights', winner.params -> 'weights'),
								  true);
	ELSE
		PERFORM recsys._tune_keep(recsys._tune_trainer(winner.algorithm), source, model,
								  CASE WHEN NOT winner.params ? 'keep' THEN winner.params
									   WHEN final_keep = 1 THEN winner.params - 'keep'
									   ELSE winner.params || jsonb_build_object('keep', final_keep) END, true);
	END IF;
	-- the candidates go (blends before their members)
	FOR member IN SELECT t.model FROM _recsys_auto_trials t WHERE t.model IS NOT NULL
				  ORDER BY t.family = 'blend' DESC LOOP
		PERFORM recsys.drop_model(member);
	END LOOP;

	-- what was tried and why the winner won, in the model's metrics and description
	-- (the blends not kept are no rival: their gains were not significant)
	SELECT t.* INTO runner_up FROM _recsys_auto_trials t
	WHERE t.value IS NOT NULL AND t.family <> winner.family AND t.family <> 'blend'
	ORDER BY t.value DESC, t.n LIMIT 1;
	why := format('best validation %s (%s) of %s trained candidates%s%s', metric,
				  round(winner.value::numeric, 4),
				  (SELECT count(*) FROM _recsys_auto_trials t WHERE t.train_seconds IS NOT NULL),
				  CASE WHEN runner_up.n IS NOT NULL
					   THEN format('; the best other family, %s, reached %s', runner_up.family, round(runner_up.value::numeric, 4))
					   ELSE '' END,
				  (SELECT format('; %s blend member(s) not kept (gain not significant or not tested)', count(*))
				   FROM _recsys_auto_trials t WHERE t.status LIKE 'not kept%' HAVING count(*) > 0));
	report := jsonb_build_object(
		'protocol', protocol_used, 'protocol_reason', protocol_reason, 'metric', metric,
		'families', to_jsonb(families_used),
		'budget_seconds', extract(epoch FROM budget), 'seconds', extract(epoch FROM clock_timestamp() - started),
		'validation', jsonb_build_object('users', n_valid_users, 'pairs', n_valid, 'train_rows', n_train),
		'winner', jsonb_build_object('family', winner.family, 'algorithm', winner.algorithm,
									 'params', winner.shown, 'value', winner.value,
									 'members', to_jsonb(members)),
		'why', why, 'final', final_note,
		'candidates', (SELECT jsonb_agg(jsonb_build_object(
							'n', t.n, 'round', t.round, 'family', t.family, 'algorithm', t.algorithm,
							'params', t.shown, 'value', t.value, 'train_seconds', t.train_seconds,
							'eval_seconds', t.eval_seconds, 'status', t.status) ORDER BY t.n)
					   FROM _recsys_auto_trials t));
	SELECT m.version INTO version_trained FROM recsys.models m WHERE m.name = train_auto.model;
	UPDATE recsys.model_versions v SET metrics = jsonb_build_object('train_auto', report)
	WHERE v.model = train_auto.model AND v.version = version_trained;
	UPDATE recsys.models m
	SET metrics = jsonb_build_object('train_auto', report),
		description = format('train_auto: %s (%s, %s), %s', winner.family, winner.algorithm, winner.shown, why)
	WHERE m.name = train_auto.model;

	RETURN QUERY
	SELECT (row_number() OVER (ORDER BY t.value DESC NULLS LAST, t.n))::integer,
		   t.family, t.algorithm, t.shown, t.value, t.train_seconds, t.eval_seconds,
		   CASE WHEN t.n = winner.n THEN 'chosen' ELSE t.status END
	FROM _recsys_auto_trials t
	ORDER BY 1;
END
$$;
COMMENT ON FUNCTION recsys.train_auto(regclass, text, interval, text, text, regclass, name, name, name,
	name, bigint, boolean, text[], name, jsonb) IS
	'choose an algorithm and its settings on a validation split of the source within a time budget, train the winner on all of it';

-------------------------------------------------------------------------------
-- Fixes
-------------------------------------------------------------------------------

