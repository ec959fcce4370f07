-- recsys 0.8.0 -> 0.9.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.9.0'" to load this file. \quit

-- 0.9.0: each change has a section of its own below (one per work stream).

-------------------------------------------------------------------------------
-- Search
-------------------------------------------------------------------------------

-- internal: a search query's matches in a catalog (GIN), with BM25 over
-- terms and the lexemes prefixes complete, and the model's user count of
-- each; the best recsys.search_max_matches by both when more match
CREATE FUNCTION recsys._search_matches(
	catalog text, tsq tsquery, terms text[], prefixes text[], n_items bigint,
	avg_length double precision, candidates bigint[], also bigint[], model text,
	OUT ids bigint[], OUT bm25 double precision[], OUT n_users integer[])
AS 'MODULE_PATHNAME', 'recsys_search_matches'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys._search_matches(text, tsquery, text[], text[], bigint, double precision, bigint[], bigint[], text) IS
	'internal: a search query''s matches with their BM25 and popularity';

-- internal: the candidates of a query with their features, raw and
-- normalised to [0, 1] over the candidates (min-max; 0 when all are
-- equal).  Text: BM25 (k1 1.2, b 0.75) over the catalog's lexemes;
-- personal: the model's score through recommend (any kind), only when the
-- model knows the user; popularity: ln(1 + the model's users of the item);
-- bought: the user has the item in the model's source.  Items in also
-- (hybrid search's nearest embeddings) are candidates whatever their text.
CREATE OR REPLACE FUNCTION recsys._search_features(
	query text, user_id bigint, model text, catalog text,
	candidates bigint[] DEFAULT NULL, exclude_purchased boolean DEFAULT false,
	also bigint[] DEFAULT NULL)
RETURNS TABLE (item_id bigint, text_score real, personal_score real, popularity_score real,
			   bought boolean, text_n real, personal_n real, popularity_n real)
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
	known bigint[] := '{}';
	personal_ids bigint[] := '{}';
	personal_scores real[] := '{}';
	seen bigint[] := '{}';
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
	-- recsys.search_max_matches by both for generic words (src/search_match.c)
	SELECT m.ids, m.bm25, m.n_users INTO ids, bm25s, users
	FROM recsys._search_matches(cat.name, tsq, terms, prefixes, cat.n_items, cat.avg_length,
								candidates, CASE WHEN cardinality(also) > 0 THEN also END,
								model) m;
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
			   c.bm25 AS x_text, p.score AS x_personal, ln(1 + c.n_users) AS x_pop
		FROM unnest(ids, bm25s, users) c(item_id, bm25, n_users)
		LEFT JOIN unnest(personal_ids, personal_scores) p(item_id, score) ON p.item_id = c.item_id
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
		   (SELECT count(*) FROM ins)
	INTO n, n_ids, n_distinct, n_lengths, not_finite, n_inserted
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
	row_trigger name;
	truncate_trigger name;
	cols text;
BEGIN
	IF enabled IS NULL THEN
		RAISE EXCEPTION 'enabled must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	cat := recsys._lock_catalog(catalog, 'change the trigger of');
	rel := to_regclass(cat.source);
	row_trigger := left('recsys_catalog_' || cat.name, 63);
	truncate_trigger := left('recsys_catalog_truncate_' || cat.name, 63);
	IF rel IS NULL THEN
		IF NOT enabled THEN
			RETURN false;	-- (dropping a catalog whose table is gone)
		END IF;
		RAISE EXCEPTION 'the source of catalog "%", relation %, no longer exists', cat.name, cat.source
			USING ERRCODE = 'undefined_table',
				  HINT = 'Index the product table again with recsys.index_catalog.';
	END IF;
	IF enabled AND (SELECT c.relkind FROM pg_class c WHERE c.oid = rel) NOT IN ('r', 'p') THEN
		RAISE EXCEPTION 'catalog "%" indexes %, which is not a table', cat.name, cat.source
			USING ERRCODE = 'wrong_object_type',
				  HINT = 'Only a table''s changes fire triggers: refresh a view''s catalog with recsys.refresh_catalog.';
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
	PERFORM recsys.catalog_trigger(catalog, false);
	DELETE FROM recsys.catalogs c WHERE c.name = drop_catalog.catalog;
	RETURN true;
END
$$;
COMMENT ON FUNCTION recsys.drop_catalog(text, boolean) IS
	'drop a search catalog and its index (the product table stays)';

-------------------------------------------------------------------------------
-- Item features and cold items
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Models: BPR
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Models: NCF and FM
-------------------------------------------------------------------------------

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

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Fixes
-------------------------------------------------------------------------------

-- tune_search without temporary tables (a role without TEMPORARY on the
-- database tunes too): its objective and ascent take the pairs as arrays
DROP FUNCTION recsys._search_ndcg(real[], bigint, bigint);
DROP FUNCTION recsys._search_ascent(real[], integer[], real[], bigint, bigint);
-- internal: NDCG@10 of tune_search's rows under weights w (text, personal,
-- popularity, bought), from the feature differences of every competing
-- candidate with the relevant item (p_row, p_dt, p_dp, p_dpop, p_db,
-- p_before: parallel arrays, one element per pair); ties go to the
-- smaller item_id, as in search.  Arrays, not a temporary table: a role
-- without TEMPORARY on the database tunes too; a loop in C
-- (src/tune_search.c), evaluated a few hundred times per tune_search.
CREATE FUNCTION recsys._search_ndcg(w real[], p_row bigint[], p_dt real[], p_dp real[], p_dpop real[],
									p_db real[], p_before boolean[], n_alone bigint, n_rows bigint)
RETURNS double precision
AS 'MODULE_PATHNAME', 'recsys_search_ndcg'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION recsys._search_ndcg(real[], bigint[], real[], real[], real[], real[], boolean[], bigint, bigint) IS
	'internal: tune_search''s objective';

-- internal: tune_search's coordinate ascent from weights w over the
-- coordinates coords, each tried at every grid value in turn; a change is
-- kept only when it raises NDCG@10 (ties keep the earlier weights)
CREATE FUNCTION recsys._search_ascent(w real[], coords integer[], grid real[], p_row bigint[], p_dt real[],
									  p_dp real[], p_dpop real[], p_db real[], p_before boolean[],
									  n_alone bigint, n_rows bigint)
RETURNS real[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	best double precision := recsys._search_ndcg(w, p_row, p_dt, p_dp, p_dpop, p_db, p_before, n_alone, n_rows);
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
				value := recsys._search_ndcg(trial, p_row, p_dt, p_dp, p_dpop, p_db, p_before, n_alone, n_rows);
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
COMMENT ON FUNCTION recsys._search_ascent(real[], integer[], real[], bigint[], real[], real[], real[], real[], boolean[], bigint, bigint) IS
	'internal: tune_search''s coordinate ascent';

CREATE OR REPLACE FUNCTION recsys.tune_search(
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
	-- the pairs (a row, a competing candidate) as parallel arrays
	p_row bigint[];
	p_dt real[];
	p_dp real[];
	p_dpop real[];
	p_db real[];
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
	cat := recsys._lock_catalog(catalog, 'tune');
	-- one statement, its steps in CTEs (no temporary table: a role without
	-- TEMPORARY on the database tunes too): the searches' rows; every
	-- candidate of every distinct (user, query), with its features; each
	-- row ranks its item among the candidates of its (user, query), the
	-- items of the pair's other rows left out ("filtered": a shopper who
	-- bought two of them is not wrong to see either first); rows whose
	-- item is the only candidate left rank it first (n_alone)
	EXECUTE format('WITH r AS MATERIALIZED ('
				   '  SELECT row_number() OVER (ORDER BY s.u, s.q, s.i) AS row_id, s.u AS user_id, s.q AS query, s.i AS item_id '
				   '  FROM (SELECT DISTINCT (%I)::bigint AS u, (%I)::text AS q, (%I)::bigint AS i FROM %s) s '
				   '  WHERE s.u IS NOT NULL AND s.i IS NOT NULL AND btrim(s.q) <> '''' AND length(s.q) <= 1000), '
				   'feats AS MATERIALIZED ('
				   '  SELECT q.user_id, q.query, f.item_id, f.text_n, f.personal_n, f.popularity_n, '
				   '         f.bought::integer::real AS bought '
				   '  FROM (SELECT DISTINCT r.user_id, r.query FROM r) q, '
				   '       LATERAL recsys._search_features(q.query, q.user_id, $1, $2) f), '
				   'pairs AS MATERIALIZED ('
				   '  SELECT r.row_id, j.text_n - i.text_n AS dt, j.personal_n - i.personal_n AS dp, '
				   '         j.popularity_n - i.popularity_n AS dpop, j.bought - i.bought AS db, '
				   '         j.item_id < i.item_id AS before '
				   '  FROM r '
				   '  JOIN feats i ON i.user_id = r.user_id AND i.query = r.query AND i.item_id = r.item_id '
				   '  JOIN feats j ON j.user_id = r.user_id AND j.query = r.query AND j.item_id <> r.item_id '
				   '  WHERE NOT EXISTS (SELECT FROM r o WHERE o.user_id = r.user_id AND o.query = r.query '
				   '                    AND o.item_id = j.item_id)) '
				   'SELECT (SELECT count(*) FROM r), '
				   '       (SELECT count(*) FROM r '
				   '        JOIN feats i ON i.user_id = r.user_id AND i.query = r.query AND i.item_id = r.item_id '
				   '        WHERE NOT EXISTS (SELECT FROM pairs p WHERE p.row_id = r.row_id)), '
				   '       p.* '
				   'FROM (SELECT array_agg(row_id), array_agg(dt), array_agg(dp), array_agg(dpop), '
				   '             array_agg(db), array_agg(before) FROM pairs) p',
				   user_col, query_col, item_col, source)
		INTO n_rows, n_alone, p_row, p_dt, p_dp, p_dpop, p_db, p_before
		USING model, cat.name;
	IF n_rows = 0 THEN
		RAISE EXCEPTION 'source % has no row with a user, a query and an item', source
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass a table of searches and the items bought after them.';
	END IF;

	-- coordinate ascent on NDCG@10 (Metzler and Croft's linear ranker):
	-- one weight at a time over a grid, the others fixed, until no change
	personal_w := recsys._search_ascent('{0.1,1,1,0}', '{1,2,3,4}', grid, p_row, p_dt, p_dp, p_dpop, p_db,
										p_before, n_alone, n_rows);
	personal_value := recsys._search_ndcg(personal_w, p_row, p_dt, p_dp, p_dpop, p_db, p_before,
										  n_alone, n_rows);
	anonymous_w := recsys._search_ascent('{0.1,0,1,0}', '{1,3}', grid, p_row, p_dt, p_dp, p_dpop, p_db,
										 p_before, n_alone, n_rows);
	anonymous_value := recsys._search_ndcg(anonymous_w, p_row, p_dt, p_dp, p_dpop, p_db, p_before,
										   n_alone, n_rows);

	result := jsonb_build_object(
		'personal', jsonb_build_object('text', personal_w[1], 'personal', personal_w[2],
									   'popularity', personal_w[3], 'bought', personal_w[4]),
		'anonymous', jsonb_build_object('text', anonymous_w[1], 'popularity', anonymous_w[3]),
		'tuned', jsonb_build_object('model', model, 'source', source::text, 'rows', n_rows,
									'ndcg@10', round(personal_value::numeric, 4),
									'ndcg@10 anonymous', round(anonymous_value::numeric, 4)));
	UPDATE recsys.catalogs c SET weights = result WHERE c.name = cat.name;
	RETURN result;
END
$$;
