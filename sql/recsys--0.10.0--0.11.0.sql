-- recsys 0.10.0 -> 0.11.0
\echo Use "ALTER EXTENSION recsys UPDATE TO '0.11.0'" to load this file. \quit

-- 0.11.0: each change has a section of its own below (one per work stream).
-- A function changed by several sections ends as one copy equal to
-- sql/recsys.sql's (replace the earlier section's copy, do not add a second).

-------------------------------------------------------------------------------
-- Cold items: the cold re-ranker kind
-------------------------------------------------------------------------------

-- The cold re-ranker's term inputs (algorithm cold_ranker, since 0.11.0):
-- per cold item and term a weighted list of warm items, best first
-- (content: tf-idf cosines; cb2cf: CB2CF's ridge weights; lists: the
-- learned lists a'S), and its feature popularity prior as a row of no
-- neighbours and one score.
CREATE TABLE recsys.item_term_lists (
	model			text NOT NULL,
	version			integer NOT NULL,
	item_id			bigint NOT NULL,
	term			text NOT NULL CHECK (term IN ('content', 'cb2cf', 'lists', 'prior')),
	neighbor_ids	bigint[] NOT NULL,
	scores			real[] NOT NULL,
	CHECK (CASE term WHEN 'prior' THEN cardinality(neighbor_ids) = 0 AND cardinality(scores) = 1
		   ELSE cardinality(scores) = cardinality(neighbor_ids) END),
	PRIMARY KEY (model, version, item_id, term),
	FOREIGN KEY (model, version) REFERENCES recsys.model_versions (model, version)
		ON DELETE CASCADE ON UPDATE CASCADE
);
COMMENT ON TABLE recsys.item_term_lists IS
	'recsys cold re-rankers: each cold item''s weighted lists of warm items per term, and its prior';
ALTER TABLE recsys.item_term_lists
	ALTER COLUMN neighbor_ids SET STORAGE EXTERNAL, ALTER COLUMN scores SET STORAGE EXTERNAL;
ALTER TABLE recsys.item_term_lists ENABLE ROW LEVEL SECURITY;
CREATE POLICY model_users ON recsys.item_term_lists FOR SELECT
	USING (model IN (SELECT m.name FROM recsys.models m));
CREATE POLICY model_owners ON recsys.item_term_lists
	USING (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)))
	WITH CHECK (model IN (SELECT m.name FROM recsys.models m WHERE recsys._owns(m.owner)));
SELECT pg_catalog.pg_extension_config_dump('recsys.item_term_lists', '');

CREATE FUNCTION recsys.train_cold_ranker(
	source regclass,
	features regclass,
	model text DEFAULT 'default',
	coefficients real[] DEFAULT NULL,
	list_length integer DEFAULT 1000,
	regularization double precision DEFAULT NULL,
	neighbors integer DEFAULT 50,
	pseudo_splits integer DEFAULT 5,
	user_col name DEFAULT 'user_id',
	item_col name DEFAULT 'item_id',
	seed bigint DEFAULT 42,
	verbose boolean DEFAULT false,
	replace boolean DEFAULT false)
RETURNS recsys.models
AS 'MODULE_PATHNAME', 'recsys_train_cold_ranker'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY INVOKER;
COMMENT ON FUNCTION recsys.train_cold_ranker(regclass, regclass, text, real[], integer,
	double precision, integer, integer, name, name, bigint, boolean, boolean) IS
	'train a cold re-ranker: items with features and no interactions ranked for a user by a per-user z-scored mix of content, CB2CF, learned-list and prior terms fitted on pseudo-cold items';

-------------------------------------------------------------------------------
-- train_auto
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Fixes
-------------------------------------------------------------------------------

-------------------------------------------------------------------------------
-- Review fixes
-------------------------------------------------------------------------------
