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
