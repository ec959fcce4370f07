-- recsys.* settings: ranges, units, reserved prefix
-- the settings exist once the library is loaded (by any recsys call, or LOAD)
LOAD 'recsys';
SHOW recsys.threads;
SHOW recsys.max_memory;
SET recsys.threads = 1;
SHOW recsys.threads;
SET recsys.max_memory = '64GB';
SHOW recsys.max_memory;
RESET recsys.threads;
RESET recsys.max_memory;
-- out of range
SET recsys.threads = 0;
SET recsys.threads = 65;
SET recsys.max_memory = 0;
SET recsys.max_memory = 'lots';
-- the prefix is reserved: typos are caught
SET recsys.thread = 2;
-- recsys.threads and recsys.max_memory are the administrator's limits:
-- only a superuser (or ALTER ROLE / DATABASE SET by one) changes them
CREATE ROLE regress_recsys_limits_app;
CREATE ROLE regress_recsys_limits_trainer;
SET ROLE regress_recsys_limits_app;
SET recsys.max_memory = '64GB';
SET recsys.threads = 64;
DO $$
BEGIN
	SET recsys.threads = 1;
EXCEPTION WHEN insufficient_privilege THEN
	RAISE NOTICE 'SET recsys.threads as an ordinary role: SQLSTATE %', SQLSTATE;
END $$;
SHOW recsys.max_memory;
SHOW recsys.threads;
-- recsys.keep_versions stays the caller's: it only bounds the versions
-- kept of models the caller may retrain
SET recsys.keep_versions = 2;
SHOW recsys.keep_versions;
RESET recsys.keep_versions;
SET ROLE regress_recsys_limits_trainer;
SET recsys.max_memory = '1MB';
RESET ROLE;
-- a superuser sets them, also for a role
SET recsys.max_memory = '1GB';
SHOW recsys.max_memory;
RESET recsys.max_memory;
ALTER ROLE regress_recsys_limits_trainer SET recsys.threads = 1;
SELECT setconfig FROM pg_db_role_setting
WHERE setrole = 'regress_recsys_limits_trainer'::regrole;
SET ROLE regress_recsys_limits_trainer;
ALTER ROLE regress_recsys_limits_trainer SET recsys.threads = 4;
RESET ROLE;
DROP ROLE regress_recsys_limits_app;
DROP ROLE regress_recsys_limits_trainer;
