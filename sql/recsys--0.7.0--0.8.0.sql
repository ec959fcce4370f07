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

CREATE FUNCTION recsys._rows_k(internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'recsys_rows_k'
LANGUAGE C STABLE PARALLEL SAFE STRICT;
CREATE FUNCTION recsys._rows_source(internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'recsys_rows_source'
LANGUAGE C STABLE PARALLEL SAFE STRICT;
ALTER FUNCTION recsys.recommend(bigint, integer, text, boolean, bigint[], real, text) SUPPORT recsys._rows_k;
ALTER FUNCTION recsys.similar_items(bigint, integer, text) SUPPORT recsys._rows_k;
ALTER FUNCTION recsys._recommend_for_vector(real[], integer, text, bigint[]) SUPPORT recsys._rows_k;
ALTER FUNCTION recsys.recommend_for_vector(real[], integer, text, bigint[]) SUPPORT recsys._rows_k;
ALTER FUNCTION recsys.recommend_session(bigint[], integer, text, real, text) SUPPORT recsys._rows_k;
ALTER FUNCTION recsys.split_kfold(regclass, integer, bigint, name, name) SUPPORT recsys._rows_source;
ALTER FUNCTION recsys.split_holdout(regclass, double precision, bigint, integer, name, name) SUPPORT recsys._rows_source;
ALTER FUNCTION recsys.split_last(regclass, name, integer, integer, name, name) SUPPORT recsys._rows_source;

-------------------------------------------------------------------------------
-- Shared model cache
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------
