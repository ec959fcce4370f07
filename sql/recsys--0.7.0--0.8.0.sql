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

-- the implicit trainers take event_col and event_weights (multi-behaviour sources)
DROP FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, boolean, boolean);
DROP FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision,
	double precision, double precision, integer, bigint, boolean);
DROP FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint, boolean);

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
	event_col name DEFAULT NULL,
	event_weights jsonb DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_cf'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, boolean, boolean, name, jsonb) IS
	'train a matrix factorisation model: implicit ALS, or explicit biased MF by ALS or Gibbs sampling; with store_users => false no per-user vector is stored';

CREATE FUNCTION recsys.train_ease(
	source regclass,
	regularization double precision DEFAULT 200,
	model text DEFAULT 'default',
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
	seed bigint DEFAULT NULL,
	replace boolean DEFAULT false,
	event_col name DEFAULT NULL,
	event_weights jsonb DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_ease'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_ease(regclass, double precision, text, integer, name, name, name,
	double precision, double precision, double precision, name, interval, regclass, double precision,
	double precision, double precision, integer, bigint, boolean, name, jsonb) IS
	'train EASE (Steck 2019), the closed-form item-item model, with optional dropout (Steck 2020), user and popularity normalisation, item features, recency-weighted scoring and differential privacy';

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
	event_weights jsonb DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_item_knn'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_item_knn(regclass, integer, text, text, double precision,
	double precision, double precision, name, name, name, name, interval,
	double precision, double precision, integer, bigint, boolean, name, jsonb) IS
	'train an item-kNN model: each item''s most similar items (cosine, jaccard or bm25), optionally differentially private';

-- user profiles and similar users
CREATE FUNCTION recsys.similar_users(
	user_id bigint,
	k integer DEFAULT 10,
	model text DEFAULT 'default')
RETURNS TABLE (user_id bigint, score real)
AS 'MODULE_PATHNAME', 'recsys_similar_users'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 10;
COMMENT ON FUNCTION recsys.similar_users(bigint, integer, text) IS
	'the k users most like a user by what the model stores per user (cosine of user vectors, user-kNN neighbour lists), best first';

CREATE FUNCTION recsys.user_profile(
	user_id bigint,
	model text,
	facets regclass,
	facet_col name,
	item_col name DEFAULT 'item_id',
	k integer DEFAULT 100)
RETURNS TABLE (facet text, items integer, history_items integer, history_share real,
			   population_share real, history_lift real, top_items integer, top_share real,
			   baseline_share real, model_lift real)
AS 'MODULE_PATHNAME', 'recsys_user_profile'
LANGUAGE C STABLE PARALLEL SAFE SECURITY INVOKER ROWS 20;
COMMENT ON FUNCTION recsys.user_profile(bigint, text, regclass, name, name, integer) IS
	'a user''s affinity per item facet (category, brand, price band): share of their history and of their top k recommendations, each against the average user';

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
