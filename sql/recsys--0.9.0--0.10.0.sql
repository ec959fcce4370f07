-- recsys 0.9.0 -> 0.10.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.10.0'" to load this file. \quit

-- 0.10.0: each change has a section of its own below (one per work stream).

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Models: FM re-ranker
-------------------------------------------------------------------------------

-- train_fm gains last_basket_weight, recent_weight and recent_window (time
-- features of the re-ranking: the base's score from the user's last basket,
-- the items' recent sales)
DROP FUNCTION recsys.train_fm(regclass, text, text, integer, integer, double precision,
	double precision, integer, double precision, regclass, regclass, name, interval, boolean,
	double precision, name, name, bigint, boolean, boolean, boolean);
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
	replace boolean DEFAULT false,
	base_features boolean DEFAULT false,
	last_basket_weight double precision DEFAULT 0,
	recent_weight double precision DEFAULT 0,
	recent_window interval DEFAULT '30 days')
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_fm'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_fm(regclass, text, text, integer, integer, double precision,
	double precision, integer, double precision, regclass, regclass, name, interval, boolean,
	double precision, name, name, bigint, boolean, boolean, boolean, double precision,
	double precision, interval) IS
	'train a factorisation machine (ids, item and user features, hour and weekday) that re-ranks another model''s top items (optionally with the base''s rank and score as features, the base''s score from the user''s last basket and the items'' recent sales)';

-------------------------------------------------------------------------------
-- Models: diversity and BPR
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Item features and cold items
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Scale: reads
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Scale: writes
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Fixes
-------------------------------------------------------------------------------
