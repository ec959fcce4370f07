-- recsys 0.6.0 -> 0.7.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.7.0'" to load this file. \quit

-- 0.7.0 adds the seed's remaining models (BPR, a neural model, a
-- factorisation machine re-ranker, learned neighbourhood weights),
-- diversity, and marks the rows that came from the cold-start fallback.
-- Each change has a section of its own below.

-------------------------------------------------------------------------------
-- Cold-start rows marked, fallback scores on the personalised scale
-------------------------------------------------------------------------------

-- recommend and recommend_session return why each row is there (reason:
-- 'personalised', 'filled', 'cold start' or 'popular'); a new output
-- column changes the return type, so they are dropped and created again
-- (nothing in the extension depends on them)
DROP FUNCTION recsys.recommend(bigint, integer, text, boolean, bigint[]);
CREATE FUNCTION recsys.recommend(
	user_id bigint,
	k integer DEFAULT 10,
	model text DEFAULT 'default',
	exclude_seen boolean DEFAULT true,
	candidates bigint[] DEFAULT NULL)
RETURNS TABLE (item_id bigint, score real, reason text)
AS 'MODULE_PATHNAME', 'recsys_recommend'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10;
COMMENT ON FUNCTION recsys.recommend(bigint, integer, text, boolean, bigint[]) IS
	'the k items a model recommends to a user, best first, and why each is there';

DROP FUNCTION recsys.recommend_session(bigint[], integer, text);
CREATE FUNCTION recsys.recommend_session(
	items bigint[],
	k integer DEFAULT 10,
	model text DEFAULT 'default')
RETURNS TABLE (item_id bigint, score real, reason text)
AS 'MODULE_PATHNAME', 'recsys_recommend_session'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10;
COMMENT ON FUNCTION recsys.recommend_session(bigint[], integer, text) IS
	'recommendations for an anonymous visitor from the items of their session, and why each is there';

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
