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

-- train_cf takes item features and embeddings and gives cold items vectors;
-- refresh_items gives items that appear later theirs
DROP FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, boolean, boolean);
CREATE FUNCTION recsys.train_cf(
	source regclass,
	factors integer DEFAULT 64,
	model text DEFAULT 'default',
	feedback text DEFAULT 'implicit',
	iterations integer DEFAULT 15,
	regularization double precision DEFAULT NULL,
	alpha double precision DEFAULT 1.0,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	seed bigint DEFAULT 42,
	solver text DEFAULT NULL,
	regularization_exponent double precision DEFAULT 0,
	store_users boolean DEFAULT true,
	replace boolean DEFAULT false,
	features regclass DEFAULT NULL,
	feature_weight double precision DEFAULT 1,
	embeddings regclass DEFAULT NULL,
	embedding_weights double precision[] DEFAULT NULL,
	cold_item_weight double precision DEFAULT 1)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_cf'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, boolean, boolean, regclass,
	double precision, regclass, double precision[], double precision) IS
	'train a matrix factorisation model: implicit ALS, or explicit biased MF by ALS or Gibbs sampling; with store_users => false no per-user vector is stored; implicit ALS takes item features (as pseudo-users) and embeddings (mapped to item vectors), and gives cold items vectors';

DROP FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint, boolean);
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
	features regclass DEFAULT NULL,
	cold_item_weight double precision DEFAULT 1)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_item_knn'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint, boolean, regclass, double precision) IS
	'train an item-kNN model: each item''s most similar items (cosine, jaccard or bm25), optionally differentially private; items with features but no interactions get neighbour lists from feature similarity';

CREATE FUNCTION recsys.refresh_items(model text)
RETURNS integer
AS 'MODULE_PATHNAME', 'recsys_refresh_items'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.refresh_items(text) IS
	'give the items that appeared in a model''s features or embeddings since training their vectors, without retraining; returns how many';

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

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------
