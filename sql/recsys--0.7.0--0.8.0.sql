-- recsys 0.7.0 -> 0.8.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.8.0'" to load this file. \quit

-- 0.8.0 adds personalised search, item features and cold items, online
-- experiments and progress reporting, a faster serving and write path, and
-- train_auto.  Each change has a section of its own below.

-------------------------------------------------------------------------------
-- Search
-------------------------------------------------------------------------------

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

CREATE FUNCTION recsys.shared_cache_stats(
	OUT model text,
	OUT version integer,
	OUT bytes bigint,
	OUT backends integer,
	OUT attaches bigint,
	OUT reads bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'recsys_shared_cache_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED SECURITY INVOKER;
COMMENT ON FUNCTION recsys.shared_cache_stats() IS
	'the models held once for all backends (recsys in shared_preload_libraries): memory and users';

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------
