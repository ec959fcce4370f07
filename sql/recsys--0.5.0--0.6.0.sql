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
