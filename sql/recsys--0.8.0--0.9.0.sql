-- recsys 0.8.0 -> 0.9.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.9.0'" to load this file. \quit

-- 0.9.0: each change has a section of its own below (one per work stream).

-------------------------------------------------------------------------------
-- Search
-------------------------------------------------------------------------------

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
