-- recsys 0.6.0 -> 0.7.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.7.0'" to load this file. \quit

-- 0.7.0 adds the seed's remaining models (BPR, a neural model, a
-- factorisation machine re-ranker, learned neighbourhood weights),
-- diversity, and marks the rows that came from the cold-start fallback.
-- Each change has a section of its own below.

-------------------------------------------------------------------------------
-- Cold-start rows marked, fallback scores on the personalised scale
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- BPR
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Neural collaborative filtering
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Factorisation machine re-ranker
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Learned neighbourhood weights
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Diversity
-------------------------------------------------------------------------------

-- recommend, recommend_session and evaluate take diversity and
-- similarity_model; evaluate reports ild@k.  New signatures: the old
-- functions go.
DROP FUNCTION recsys.recommend(bigint, integer, text, boolean, bigint[]);
CREATE FUNCTION recsys.recommend(
	user_id bigint,
	k integer DEFAULT 10,
	model text DEFAULT 'default',
	exclude_seen boolean DEFAULT true,
	candidates bigint[] DEFAULT NULL,
	diversity real DEFAULT 0,
	similarity_model text DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real)
AS 'MODULE_PATHNAME', 'recsys_recommend'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10;
COMMENT ON FUNCTION recsys.recommend(bigint, integer, text, boolean, bigint[], real, text) IS
	'the k items a model recommends to a user, best first (diversity > 0: re-ranked by maximal marginal relevance)';

DROP FUNCTION recsys.evaluate(text, regclass, integer, name, name, name, name);
DROP FUNCTION recsys._evaluate(text, regclass, integer, name, name, name);
CREATE FUNCTION recsys._evaluate(model text, test regclass, k integer, user_col name,
	item_col name, weight_col name, diversity real, similarity_model text, features regclass)
RETURNS TABLE (metric text, value double precision)
AS 'MODULE_PATHNAME', 'recsys_evaluate'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 13;
COMMENT ON FUNCTION recsys._evaluate(text, regclass, integer, name, name, name, real, text, regclass) IS
	'internal: evaluate';

CREATE FUNCTION recsys.evaluate(
	model text,
	test regclass,
	k integer DEFAULT 10,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	-- deprecated in 0.6.0, removed in 0.7.0: weight_col's old name
	rating_col name DEFAULT NULL,
	diversity real DEFAULT 0,
	similarity_model text DEFAULT NULL,
	features regclass DEFAULT NULL)
RETURNS TABLE (metric text, value double precision)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER ROWS 13
AS $$
	SELECT * FROM recsys._evaluate(model, test, k, user_col, item_col,
		CASE WHEN rating_col IS NULL THEN weight_col
			 ELSE recsys._renamed(rating_col, 'rating_col', 'weight_col') END,
		diversity, similarity_model, features)
$$;
COMMENT ON FUNCTION recsys.evaluate(text, regclass, integer, name, name, name, name, real, text, regclass) IS
	'ranking metrics (and rmse/mae for explicit models) of a model on a test set';

DROP FUNCTION recsys.recommend_session(bigint[], integer, text);
CREATE FUNCTION recsys.recommend_session(
	items bigint[],
	k integer DEFAULT 10,
	model text DEFAULT 'default',
	diversity real DEFAULT 0,
	similarity_model text DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real)
AS 'MODULE_PATHNAME', 'recsys_recommend_session'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10;
COMMENT ON FUNCTION recsys.recommend_session(bigint[], integer, text, real, text) IS
	'recommendations for an anonymous visitor from the items of their session';
