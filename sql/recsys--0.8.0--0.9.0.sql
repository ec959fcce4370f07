-- recsys 0.8.0 -> 0.9.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.9.0'" to load this file. \quit

-- 0.9.0: each change has a section of its own below (one per work stream).

-------------------------------------------------------------------------------
-- Search
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Item features and cold items
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Models: BPR
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Models: NCF and FM
-------------------------------------------------------------------------------

-- train_ncf gains pretrained (a factor model to start NeuMF from)
DROP FUNCTION recsys.train_ncf(regclass, integer, text, integer[], boolean, integer,
	double precision, double precision, double precision, integer, integer, name, name, name,
	bigint, double precision, double precision, boolean, boolean);
CREATE FUNCTION recsys.train_ncf(
	source regclass,
	factors integer DEFAULT 32,
	model text DEFAULT 'default',
	hidden integer[] DEFAULT '{64,32}',
	gmf boolean DEFAULT true,
	iterations integer DEFAULT 8,
	learning_rate double precision DEFAULT 0.001,
	regularization double precision DEFAULT 0,
	dropout double precision DEFAULT 0,
	negatives integer DEFAULT 4,
	batch_size integer DEFAULT 256,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	weight_col name DEFAULT NULL,
	seed bigint DEFAULT 42,
	adversarial_epsilon double precision DEFAULT 0,
	adversarial_weight double precision DEFAULT 0,
	verbose boolean DEFAULT false,
	replace boolean DEFAULT false,
	pretrained text DEFAULT NULL)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_ncf'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_ncf(regclass, integer, text, integer[], boolean, integer,
	double precision, double precision, double precision, integer, integer, name, name, name,
	bigint, double precision, double precision, boolean, boolean, text) IS
	'train neural collaborative filtering (NeuMF, He et al. 2017): embeddings, an MLP tower and a GMF branch, binary cross-entropy on sampled negatives, Adam; optional adversarial training (APR, He et al. 2018); optionally started from a factor model''s ranking (pretrained)';

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
