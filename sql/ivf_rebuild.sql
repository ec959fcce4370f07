-- The IVF index follows the model (recsys.ivf_rebuild, on by default): a
-- retrained or activated version that replaces an indexed one is indexed
-- in the same transaction with the old index's lists, iterations and seed,
-- as create_ivf would index it.  drop_ivf stops it; a kind without item
-- vectors is skipped; an error in the rebuild keeps the old version; two
-- roles' models are apart.  (sql/ivf.sql: the same with the setting off.)
SET recsys.threads = 2;
SET extra_float_digits = 0;
CREATE TABLE rb_events AS
SELECT u AS user_id, 1 + (u * 7 + j * 13) % 300 AS item_id
FROM generate_series(1, 200) u, generate_series(0, 9) j;
SELECT n_items FROM recsys.train_cf('rb_events', factors => 4, iterations => 2, model => 'rb');
SELECT r ->> 'lists' AS lists FROM recsys.create_ivf('rb', lists => 5, iterations => 7, seed => 3) r;
SHOW recsys.ivf_rebuild;

-- retrained: version 2 is indexed, with version 1's settings
SELECT version FROM recsys.train_cf('rb_events', factors => 4, iterations => 3, model => 'rb');
SELECT version, (stats -> 'ivf') - 'built_at' - 'build_seconds' AS ivf,
       (stats -> 'ivf' ->> 'build_seconds')::float8 >= 0 AS timed
FROM recsys.models WHERE name = 'rb';
SELECT stats -> 'ivf' ->> 'version' AS version_stats FROM recsys.model_versions WHERE model = 'rb' AND version = 2;
SELECT version, count(*) AS lists, sum(cardinality(items)) AS items
FROM recsys.ivf_lists WHERE model = 'rb' GROUP BY version ORDER BY version;

-- the kept index equals a fresh create_ivf: the same lists, the same answers at probes 1
SET recsys.ivf_probes = 1;
CREATE TEMP TABLE rb_kept AS SELECT list, centroid, items FROM recsys.ivf_lists WHERE model = 'rb' AND version = 2;
CREATE TEMP TABLE rb_kept_answers AS
SELECT u, array_agg(item_id ORDER BY o) AS items
FROM generate_series(1, 200, 9) u, LATERAL recsys.recommend(u, 10, 'rb') WITH ORDINALITY AS r(item_id, score, reason, o)
GROUP BY u;
SELECT recsys.drop_ivf('rb') AS dropped;
SELECT r ->> 'lists' AS lists FROM recsys.create_ivf('rb', lists => 5, iterations => 7, seed => 3) r;
SELECT count(*) AS lists, count(*) FILTER (WHERE k.list IS NULL OR f.list IS NULL OR k.centroid <> f.centroid
                                           OR k.items <> f.items) AS differing
FROM rb_kept k FULL JOIN (SELECT * FROM recsys.ivf_lists WHERE model = 'rb' AND version = 2) f USING (list);
SELECT count(*) AS users, count(*) FILTER (WHERE a.items IS DISTINCT FROM
	(SELECT array_agg(item_id ORDER BY o) FROM recsys.recommend(a.u, 10, 'rb') WITH ORDINALITY AS r(item_id, score, reason, o))) AS differing
FROM rb_kept_answers a;
RESET recsys.ivf_probes;

-- known by construction: lists beyond the new version's items are cut to
-- its items (an index of 300 lists over 300 items, retrained on 120 items)
SELECT r ->> 'lists' AS lists FROM recsys.create_ivf('rb', lists => 300) r;
CREATE VIEW rb_small AS SELECT * FROM rb_events WHERE item_id <= 120;
SELECT n_items, version, stats -> 'ivf' ->> 'lists' AS lists
FROM recsys.train_cf('rb_small', factors => 4, iterations => 2, model => 'rb');
SELECT count(*) AS lists FROM recsys.ivf_lists l JOIN recsys.models m ON m.name = l.model AND m.version = l.version
WHERE l.model = 'rb';

-- activate and rollback: a version with its own index serves it; one
-- without takes the replaced version's settings (version 4, trained with
-- the setting off, activated over version 3's index of 120 lists)
SELECT version, stats -> 'ivf' ->> 'version' AS indexed, stats -> 'ivf' ->> 'lists' AS lists
FROM recsys.rollback('rb');
SET recsys.ivf_rebuild = off;
SELECT version, stats ? 'ivf' AS indexed FROM recsys.train_cf('rb_small', factors => 4, iterations => 2, model => 'rb');
RESET recsys.ivf_rebuild;
SELECT version, stats -> 'ivf' ->> 'version' AS indexed, stats -> 'ivf' ->> 'lists' AS lists
FROM recsys.activate('rb', 3);
SELECT version, stats -> 'ivf' ->> 'version' AS indexed, stats -> 'ivf' ->> 'lists' AS lists,
       stats -> 'ivf' ->> 'rebuilt_from' AS rebuilt_from
FROM recsys.activate('rb', 4);
SELECT version, stats -> 'ivf' ->> 'lists' AS lists FROM recsys.model_versions WHERE model = 'rb' ORDER BY version;
SELECT version, count(*) AS lists FROM recsys.ivf_lists WHERE model = 'rb' GROUP BY version ORDER BY version;
-- activating the active version changes nothing
SELECT version, stats -> 'ivf' ->> 'built_at' = (SELECT stats -> 'ivf' ->> 'built_at' FROM recsys.model_versions
                                                 WHERE model = 'rb' AND version = 4) AS same_index
FROM recsys.activate('rb', 4);

-- drop_ivf stops it: the next version serves exactly
SELECT recsys.drop_ivf('rb') AS dropped;
SELECT version, stats ? 'ivf' AS indexed FROM recsys.train_cf('rb_events', factors => 4, iterations => 2, model => 'rb');
SELECT count(*) AS lists FROM recsys.ivf_lists l JOIN recsys.models m ON m.name = l.model AND m.version = l.version
WHERE l.model = 'rb';

-- a kind without item vectors (retrained as item_knn with replace) is not indexed, and no error
SELECT r ->> 'lists' AS lists FROM recsys.create_ivf('rb', lists => 5) r;
SELECT algorithm, stats ? 'ivf' AS indexed
FROM recsys.train_item_knn('rb_events', model => 'rb', replace => true);
SELECT recsys._ivf_indexable('als') AS als, recsys._ivf_indexable('item_knn') AS item_knn,
       recsys._ivf_indexable('no such algorithm') AS unknown;

-- an error in the rebuild (an index of 1,500 lists needs 3 MB with two
-- threads, over recsys.max_memory, while the training fits) fails the training: the
-- indexed version still serves
CREATE TABLE rb_wide AS
SELECT u AS user_id, 1 + (u * 7 + j * 13) % 1500 AS item_id
FROM generate_series(1, 300) u, generate_series(0, 9) j;
SELECT n_items FROM recsys.train_cf('rb_wide', factors => 2, iterations => 1, model => 'rb_mem');
SELECT r ->> 'lists' AS lists FROM recsys.create_ivf('rb_mem', lists => 1500, iterations => 1) r;
SET recsys.max_memory = 2;
SELECT version FROM recsys.train_cf('rb_wide', factors => 2, iterations => 1, model => 'rb_mem');
RESET recsys.max_memory;
SELECT version, stats -> 'ivf' ->> 'lists' AS lists FROM recsys.models WHERE name = 'rb_mem';
SELECT version, count(*) AS lists FROM recsys.ivf_lists WHERE model = 'rb_mem' GROUP BY version;
-- the same training with recsys.ivf_rebuild off succeeds, unindexed
SET recsys.max_memory = 2;
SET recsys.ivf_rebuild = off;
SELECT version, stats ? 'ivf' AS indexed FROM recsys.train_cf('rb_wide', factors => 2, iterations => 1, model => 'rb_mem');
RESET recsys.max_memory;
RESET recsys.ivf_rebuild;
SELECT 1 FROM recsys.drop_model('rb_mem');
DROP TABLE rb_wide;

-- two roles: alice's training indexes her model, bob's model and index stay as they were
CREATE ROLE regress_recsys_fix_alice;
CREATE ROLE regress_recsys_fix_bob;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_fix_alice, regress_recsys_fix_bob;
GRANT SELECT ON rb_events TO regress_recsys_fix_alice, regress_recsys_fix_bob;
SET ROLE regress_recsys_fix_alice;
SELECT 1 FROM recsys.train_cf('rb_events', factors => 4, iterations => 2, model => 'rb_alice');
SELECT r ->> 'lists' AS lists FROM recsys.create_ivf('rb_alice', lists => 4) r;
SET ROLE regress_recsys_fix_bob;
SELECT 1 FROM recsys.train_cf('rb_events', factors => 4, iterations => 2, model => 'rb_bob');
SELECT r ->> 'lists' AS lists FROM recsys.create_ivf('rb_bob', lists => 6) r;
SELECT recsys.grant_model('rb_bob', 'regress_recsys_fix_alice');
RESET ROLE;
CREATE TEMP TABLE rb_bob_before AS SELECT version, list, centroid, items FROM recsys.ivf_lists WHERE model = 'rb_bob';
SET ROLE regress_recsys_fix_alice;
SELECT version, stats -> 'ivf' ->> 'lists' AS lists
FROM recsys.train_cf('rb_events', factors => 4, iterations => 2, model => 'rb_alice');
-- alice may use bob's model, not retrain, activate or index it
SELECT 1 FROM recsys.train_cf('rb_events', factors => 4, iterations => 2, model => 'rb_bob');
SELECT 1 FROM recsys.activate('rb_bob', 1);
RESET ROLE;
SELECT name, version, stats -> 'ivf' ->> 'lists' AS lists FROM recsys.models WHERE name LIKE 'rb\_%' ORDER BY name;
SELECT count(*) AS bob_rows, count(*) FILTER (WHERE (b.version, b.list, b.centroid, b.items) IS DISTINCT FROM (l.version, l.list, l.centroid, l.items)) AS changed
FROM rb_bob_before b LEFT JOIN recsys.ivf_lists l ON l.model = 'rb_bob' AND l.version = b.version AND l.list = b.list;
SELECT 1 FROM recsys.drop_model('rb_alice');
SELECT 1 FROM recsys.drop_model('rb_bob');
SELECT 1 FROM recsys.drop_model('rb');
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fix_alice, regress_recsys_fix_bob;
REVOKE ALL ON rb_events FROM regress_recsys_fix_alice, regress_recsys_fix_bob;
DROP ROLE regress_recsys_fix_alice;
DROP ROLE regress_recsys_fix_bob;
DROP VIEW rb_small;
DROP TABLE rb_events;
