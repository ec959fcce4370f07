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

CREATE FUNCTION recsys.train_bpr(
	source regclass,
	factors integer DEFAULT 64,
	model text DEFAULT 'default',
	iterations integer DEFAULT 100,
	learning_rate double precision DEFAULT 0.05,
	regularization double precision DEFAULT 0.01,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	seed bigint DEFAULT 42,
	sampling text DEFAULT 'uniform',
	adversarial_epsilon double precision DEFAULT 0,
	adversarial_weight double precision DEFAULT 1,
	store_users boolean DEFAULT true,
	verbose boolean DEFAULT false,
	replace boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_bpr'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_bpr(regclass, integer, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, double precision, boolean,
	boolean, boolean) IS
	'train Bayesian personalised ranking (Rendle et al. 2009) by SGD on sampled triples, with uniform, popularity or adaptive negatives and optional adversarial training (APR, He et al. 2018); served as a factor model';

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
