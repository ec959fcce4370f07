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

-- train_cf gains store_users: a new signature
DROP FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision);
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
	rating_col name DEFAULT NULL,
	seed bigint DEFAULT 42,
	solver text DEFAULT NULL,
	regularization_exponent double precision DEFAULT 0,
	store_users boolean DEFAULT true)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_cf'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_cf(regclass, integer, text, text, integer, double precision,
	double precision, name, name, name, bigint, text, double precision, boolean) IS
	'train a matrix factorisation model: implicit ALS, or explicit biased MF by ALS or Gibbs sampling; with store_users => false no per-user vector is stored';

-------------------------------------------------------------------------------
-- Differential privacy for EASE and item-kNN (epsilon, delta)
-------------------------------------------------------------------------------
