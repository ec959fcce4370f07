-- recsys 0.5.0 -> 0.6.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.6.0'" to load this file. \quit

-- 0.6.0 makes recsys safe in a database that several roles share:
-- owned models with per-model grants, catalog rows visible only to the
-- roles that may use them, sources read with the owner's rights, and
-- privacy options (models without per-user rows, differential privacy).

-------------------------------------------------------------------------------
-- Ownership, grants and row-level security on the catalog
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Models that store no per-user data (store_users => false)
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Differential privacy for EASE and item-kNN (epsilon, delta)
-------------------------------------------------------------------------------

DROP FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision);
CREATE FUNCTION recsys.train_ease(
	source regclass,
	lambda double precision DEFAULT 200,
	model text DEFAULT 'default_ease',
	neighbors integer DEFAULT NULL,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	dropout double precision DEFAULT 0,
	user_exponent double precision DEFAULT 0,
	popularity_exponent double precision DEFAULT 0,
	time_col name DEFAULT NULL,
	half_life interval DEFAULT NULL,
	features regclass DEFAULT NULL,
	feature_weight double precision DEFAULT 0.5,
	epsilon double precision DEFAULT NULL,
	delta double precision DEFAULT NULL,
	max_user_items integer DEFAULT NULL,
	seed bigint DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_ease'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision,
	double precision, double precision, integer, bigint) IS
	'train EASE (Steck 2019), the closed-form item-item model, with optional dropout (Steck 2020), user and popularity normalisation, item features, recency-weighted scoring and differential privacy';

DROP FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval);
CREATE FUNCTION recsys.train_item_knn(
	source regclass,
	neighbors integer DEFAULT 50,
	model text DEFAULT 'default_knn',
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
	seed bigint DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_item_knn'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint) IS
	'train an item-kNN model: each item''s most similar items (cosine, jaccard or bm25), optionally differentially private';
