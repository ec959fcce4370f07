-- Models in use stay valid until the statement that uses them ends.
--
-- A function in the source's WHERE clause runs while recommend() reads
-- the user's items through a prepared query that belongs to the model.
-- Here that function drops, retrains, activates or rolls back the model
-- being served, then serves it again (with a new snapshot, so the cache
-- sees the change): the outer call must go on with the model it started
-- with, and its running query must not be freed under it.
CREATE SCHEMA pin_test;
CREATE ROLE regress_recsys_pin_owner;
GRANT USAGE, CREATE ON SCHEMA pin_test TO regress_recsys_pin_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_pin_owner;
SET ROLE regress_recsys_pin_owner;
SET search_path = pin_test, public;

-- 12 users, items 1-10
CREATE TABLE events AS
SELECT u AS user_id, 1 + (u * 3 + j) % 10 AS item_id
FROM generate_series(1, 12) u, generate_series(0, 3) j;

-- What the source's function does, once, when the switch names it.  (A
-- table, not a setting: serving reads the source as the model's owner in
-- a security-restricted operation, and settings changed there are undone
-- when the read ends, as for a view read by REFRESH MATERIALIZED VIEW.)
CREATE TABLE switch (what text NOT NULL);
INSERT INTO switch VALUES ('off');
CREATE FUNCTION meddle() RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	what text := (SELECT s.what FROM pin_test.switch s);
	target text := current_setting('test.target', true);
BEGIN
	IF coalesce(what, '') IN ('', 'off') THEN
		RETURN true;
	END IF;
	UPDATE pin_test.switch SET what = 'off';
	IF what = 'drop' THEN
		PERFORM recsys.drop_model(target);
	ELSIF what = 'retrain_cf' THEN
		PERFORM recsys.train_cf('pin_test.shop', 3, model => target, iterations => 2, seed => 5);
	ELSIF what = 'retrain_knn' THEN
		PERFORM recsys.train_item_knn('pin_test.shop', 5, model => target);
	ELSIF what = 'activate' THEN
		PERFORM recsys.activate(target, 1);
	ELSIF what = 'rollback' THEN
		PERFORM recsys.rollback(target);
	END IF;
	-- serve it again, with this statement's snapshot: the change is seen
	BEGIN
		PERFORM recsys.score(1, 1, target);
		PERFORM * FROM recsys.recommend(2, 3, coalesce(nullif(current_setting('test.also', true), ''), target));
	EXCEPTION WHEN OTHERS THEN
		RAISE NOTICE 'serving % again: %', target, SQLERRM;
	END;
	RETURN true;
END $$;
CREATE VIEW shop AS SELECT user_id, item_id FROM events WHERE meddle();

SELECT (recsys.train_cf('shop', 3, model => 'pin_cf', iterations => 2, seed => 1)).version;
SELECT (recsys.train_cf('shop', 3, model => 'pin_cf', iterations => 2, seed => 2)).version;
SELECT (recsys.train_item_knn('shop', 5, model => 'pin_knn')).version;
SELECT (recsys.train_popular('shop', model => 'pin_pop')).version;
SELECT (recsys.train_blend('{pin_knn,pin_pop}', '{1,1}', 'pin_blend')).version;

-- A k-row answer that excludes the user's items: what is checked below.
CREATE FUNCTION sane(model text, u bigint DEFAULT 1) RETURNS text
LANGUAGE sql AS $$
	SELECT count(*) || ' rows, ' ||
		   CASE WHEN bool_and(r.item_id BETWEEN 1 AND 10) AND bool_and(r.score IS NOT NULL)
				AND NOT bool_or(r.item_id IN (SELECT e.item_id FROM pin_test.events e WHERE e.user_id = u))
				THEN 'sane' ELSE 'WRONG' END
	FROM recsys.recommend(u, 3, model) r
$$;

-- rollback: version 2 -> 1 while version 2 serves
SET test.target = 'pin_cf';
UPDATE switch SET what = 'rollback';
SELECT sane('pin_cf');
SELECT version FROM recsys.models WHERE name = 'pin_cf';
-- activate: 1 -> 1 is no change; retrain first, then activate 1 while 3 serves
SELECT (recsys.train_cf('shop', 3, model => 'pin_cf', iterations => 2, seed => 3)).version;
SELECT sane('pin_cf');
UPDATE switch SET what = 'activate';
SELECT sane('pin_cf');
SELECT version FROM recsys.models WHERE name = 'pin_cf';
-- retrain while it serves
UPDATE switch SET what = 'retrain_cf';
SELECT sane('pin_cf');
SELECT version FROM recsys.models WHERE name = 'pin_cf';
-- score() per row of a query whose rows come through the source: the
-- first row retrains the model, the rest are scored in the same statement
UPDATE switch SET what = 'retrain_cf';
SELECT count(recsys.score(e.user_id, e.item_id, 'pin_cf')) AS scores FROM shop e;
-- item-kNN reads the source to score: retrain it while it serves
SET test.target = 'pin_knn';
UPDATE switch SET what = 'retrain_knn';
SELECT sane('pin_knn');
UPDATE switch SET what = 'retrain_knn';
SELECT count(recsys.score(1, i, 'pin_knn')) AS scores FROM generate_series(1, 10) i;
-- a blend whose member is retrained while the blend serves, and served
-- again inside (its members looked up anew)
SET test.also = 'pin_blend';
UPDATE switch SET what = 'retrain_knn';
SELECT sane('pin_blend');
UPDATE switch SET what = 'retrain_knn';
SELECT count(recsys.score(1, i, 'pin_blend')) AS scores FROM generate_series(1, 10) i;
-- drop while it serves: the statement finishes with the model it had
SET test.target = 'pin_blend';
UPDATE switch SET what = 'drop';
SELECT sane('pin_blend');
SET test.also = '';
SET test.target = 'pin_cf';
UPDATE switch SET what = 'drop';
SELECT sane('pin_cf');
SELECT count(*) AS left_over FROM recsys.models WHERE name IN ('pin_cf', 'pin_blend');
SELECT sane('pin_cf');

-- A cursor keeps the snapshot, and so the model version, it started
-- with: a retrain in the same transaction between its fetches, served at
-- once, does not change what the cursor returns.
UPDATE switch SET what = 'off';
SELECT (recsys.train_cf('shop', 3, model => 'pin_cf', iterations => 2, seed => 1)).version;
CREATE TEMP TABLE scored_before AS
SELECT i, recsys.score(1, i, 'pin_cf') AS s FROM generate_series(1, 10) i;
SELECT loads AS loads_before FROM recsys.cache_stats() WHERE model = 'pin_cf' \gset
DO $$
DECLARE
	c refcursor;
	r record;
	same integer := 0;
BEGIN
	OPEN c FOR SELECT i, recsys.score(1, i, 'pin_cf') AS s FROM generate_series(1, 10) i;
	FOR n IN 1 .. 10 LOOP
		FETCH c INTO r;
		same := same + (SELECT count(*) FROM scored_before b WHERE b.i = r.i AND b.s = r.s);
		IF n = 3 THEN
			PERFORM recsys.train_cf('pin_test.shop', 3, model => 'pin_cf', iterations => 2, seed => 9);
		END IF;
		IF n >= 3 THEN
			PERFORM recsys.score(1, 1, 'pin_cf');
		END IF;
	END LOOP;
	CLOSE c;
	RAISE NOTICE '% of 10 rows as before the retrain', same;
END $$;
-- the cursor's version and the new one took turns; each was read once
SELECT loads - :loads_before AS loads_during FROM recsys.cache_stats() WHERE model = 'pin_cf';
SELECT count(*) > 0 AS changed FROM scored_before b WHERE b.s <> recsys.score(1, b.i, 'pin_cf');

-- A statement that fails after the model changed under it, and an
-- exception block that rolls back, release what they held: no replaced
-- version is left behind once they end.
SET test.target = 'pin_knn';
UPDATE switch SET what = 'retrain_knn';
SELECT CASE WHEN sane('pin_knn') IS NOT NULL THEN 1 / (random() * 0)::int END;
UPDATE switch SET what = 'off';
DO $$
BEGIN
	UPDATE pin_test.switch SET what = 'retrain_knn';
	BEGIN
		PERFORM sane('pin_knn');
		RAISE EXCEPTION 'roll back';
	EXCEPTION WHEN OTHERS THEN
		RAISE NOTICE 'caught: %', SQLERRM;
	END;
	PERFORM sane('pin_knn');
END $$;
RESET ROLE;
SELECT (SELECT count(*) FROM pg_backend_memory_contexts WHERE name = 'recsys model')
	 = (SELECT count(*) FROM recsys.cache_stats()) AS only_cached_models_held;
SELECT recsys.drop_model(m, if_exists => true) FROM unnest('{pin_blend,pin_cf,pin_knn,pin_pop}'::text[]) m;
DROP TABLE pg_temp.scored_before;
DROP SCHEMA pin_test CASCADE;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_pin_owner;
DROP ROLE regress_recsys_pin_owner;
