-- recsys 0.8.0 -> 0.9.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.9.0'" to load this file. \quit

-- 0.9.0: each change has a section of its own below (one per work stream).

-------------------------------------------------------------------------------
-- Search
-------------------------------------------------------------------------------

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
