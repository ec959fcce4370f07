-- The serving cache stays bounded: failed lookups leave nothing behind,
-- and recsys.cache_size evicts the least recently used models.
CREATE SCHEMA cache_test;
SET search_path = cache_test, public;

CREATE TABLE clicks AS
SELECT u AS user_id, (u * 7 + j) % 200 AS item_id
FROM generate_series(1, 50) u, generate_series(0, 9) j;
SELECT (recsys.train_popular('clicks', model => 'cache_' || n)).name
FROM generate_series(1, 4) n;

-- A role that may call the functions but not read the catalog: every
-- lookup fails.  100,000 of them, on as many names, in one backend.
CREATE ROLE regress_recsys_cache_user;
SET ROLE regress_recsys_cache_user;
DO $$
DECLARE
	failed integer := 0;
BEGIN
	FOR n IN 1 .. 100000 LOOP
		BEGIN
			PERFORM * FROM recsys.recommend(1, 3, 'no_such_model_' || n);
		EXCEPTION WHEN OTHERS THEN
			failed := failed + 1;
		END;
	END LOOP;
	RAISE NOTICE '% lookups failed', failed;
END $$;
SELECT count(*) AS cached FROM recsys.cache_stats();
-- and SET is refused: the limit is the administrator's
SET recsys.cache_size = '1GB';
RESET ROLE;
SELECT count(*) AS cached FROM recsys.cache_stats();
-- the cache's hash table did not grow for them
SELECT total_bytes < 64 * 1024 AS hash_table_small
FROM pg_backend_memory_contexts WHERE name = 'recsys models';
-- unknown names a role may look up leave nothing either
SELECT count(*) FROM recsys.recommend(1, 3, 'no_such_model');
SELECT count(*) AS cached FROM recsys.cache_stats();

-- Room for two of the four models: using them in turn keeps the two
-- used last, and what is held stays within the limit.
SELECT count(*) FROM recsys.recommend(1, 3, 'cache_1');
SELECT bytes AS one_model FROM recsys.cache_stats() WHERE model = 'cache_1' \gset
SELECT set_config('recsys.cache_size', ((:one_model * 5 / 2) / 1024) || 'kB', false) IS NOT NULL AS set;
SELECT count(*) FROM recsys.recommend(1, 3, 'cache_2');
SELECT count(*) FROM recsys.recommend(1, 3, 'cache_3');
SELECT count(*) FROM recsys.recommend(1, 3, 'cache_4');
SELECT count(*) FROM recsys.recommend(1, 3, 'cache_3');
SELECT model, loads FROM recsys.cache_stats() ORDER BY model;
SELECT sum(bytes) <= pg_size_bytes(current_setting('recsys.cache_size')) AS within_limit
FROM recsys.cache_stats();
-- an evicted model is loaded again when next used
SELECT count(*) FROM recsys.recommend(1, 3, 'cache_1');
SELECT model, loads FROM recsys.cache_stats() ORDER BY model;

-- the limit's range: 0 .. 2TB
SET recsys.cache_size = '-1kB';
SET recsys.cache_size = '4TB';

-- A model in use is never evicted: with no room at all, a statement
-- still has every model it uses, and they go when it ends.
SET recsys.cache_size = 0;
SELECT (SELECT count(*) FROM recsys.recommend(1, 3, 'cache_2')) AS recommended,
	   (SELECT count(*) FROM recsys.recommend(1, 3, 'cache_3')) AS recommended,
	   (SELECT string_agg(model, ',' ORDER BY model) FROM recsys.cache_stats()) AS cached;
SELECT count(*) AS cached FROM recsys.cache_stats();
-- score() per row: the model stays for the whole statement
SELECT count(recsys.score(u, 1, 'cache_4')) FROM generate_series(1, 50) u;
SELECT count(*) AS cached FROM recsys.cache_stats();
RESET recsys.cache_size;
SHOW recsys.cache_size;
SELECT count(*) FROM recsys.recommend(1, 3, 'cache_4');
SELECT model, loads FROM recsys.cache_stats() ORDER BY model;

SELECT recsys.drop_model('cache_' || n) FROM generate_series(1, 4) n;
DROP SCHEMA cache_test CASCADE;
DROP ROLE regress_recsys_cache_user;
