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
	replace boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_fm'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_fm(regclass, text, text, integer, integer, double precision,
	double precision, integer, double precision, regclass, regclass, name, interval, boolean,
	double precision, name, name, bigint, boolean, boolean) IS
	'train a factorisation machine (ids, item and user features, hour and weekday) that re-ranks another model''s top items';

-------------------------------------------------------------------------------
-- Learned neighbourhood weights
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Diversity
-------------------------------------------------------------------------------
