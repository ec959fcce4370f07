-- recsys 0.6.0 -> 0.7.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.7.0'" to load this file. \quit

-- 0.7.0 adds the seed's remaining models (BPR, a neural model, a
-- factorisation machine re-ranker, learned neighbourhood weights),
-- diversity, and marks the rows that came from the cold-start fallback.
-- Each change has a section of its own below.

-------------------------------------------------------------------------------
-- Named parameter arrays (the models that are not only factors or neighbours)
-------------------------------------------------------------------------------

-- Parameters that are neither per-user nor per-item rows (the layers of a
-- neural model, a factorisation machine's feature weights, learned
-- neighbourhood weights): one named array per row, row-major, its
-- dimensions in shape.  The loader checks that they agree.
CREATE TABLE recsys.model_parameters (
	model			text NOT NULL,
	version			integer NOT NULL,
	name			text NOT NULL,
	shape			integer[] NOT NULL,
	value			real[] NOT NULL,
	PRIMARY KEY (model, version, name),
	FOREIGN KEY (model, version) REFERENCES recsys.model_versions (model, version)
		ON DELETE CASCADE ON UPDATE CASCADE
);
COMMENT ON TABLE recsys.model_parameters IS
	'recsys models'' named parameter arrays (layers, feature weights), row-major, with their shape';
-- learned weights do not compress (see the neighbour arrays below)
ALTER TABLE recsys.model_parameters ALTER COLUMN value SET STORAGE EXTERNAL;

ALTER TABLE recsys.model_parameters ENABLE ROW LEVEL SECURITY;
CREATE POLICY model_users ON recsys.model_parameters FOR SELECT
	USING (model IN (SELECT m.name FROM recsys.models m));
CREATE POLICY model_owners ON recsys.model_parameters
	USING (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)))
	WITH CHECK (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)));
SELECT pg_catalog.pg_extension_config_dump('recsys.model_parameters', '');

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
