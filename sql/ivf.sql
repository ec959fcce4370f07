-- IVF indexes over a factor model's item vectors (create_ivf, drop_ivf,
-- recsys.ivf_probes): a case known by construction, filters that empty
-- the nearest list, a retrained model (its index is not used), two roles,
-- errors.
SET recsys.threads = 2;
SET extra_float_digits = 0;
CREATE TABLE ivf_events AS
SELECT u AS user_id, 1 + (u * 7 + j * 13) % 400 AS item_id
FROM generate_series(1, 200) u, generate_series(0, 9) j;
SELECT count(DISTINCT item_id) AS items FROM ivf_events;
SELECT n_items FROM recsys.train_cf('ivf_events', factors => 2, iterations => 2, model => 'ivf');

-- known by construction: the items' vectors replaced by four tight clusters
-- of 100 items each, around (10, 0), (0, 10), (-10, 0) and (0, -10) (item i
-- in cluster i % 4, jitter below 0.1); a new fingerprint (stats) makes the
-- model load again
UPDATE recsys.item_factors
SET factors = ARRAY[CASE item_id % 4 WHEN 0 THEN 10 WHEN 2 THEN -10 ELSE 0 END + ((item_id * 37) % 11 - 5) / 60.0,
                    CASE item_id % 4 WHEN 1 THEN 10 WHEN 3 THEN -10 ELSE 0 END + ((item_id * 53) % 13 - 6) / 70.0]::real[]
WHERE model = 'ivf';
UPDATE recsys.model_versions SET stats = stats || '{"constructed": true}' WHERE model = 'ivf';
UPDATE recsys.models SET stats = stats || '{"constructed": true}' WHERE name = 'ivf';

SELECT r - 'built_at' - 'build_seconds' AS index FROM recsys.create_ivf('ivf', lists => 4) r;
-- each list holds one cluster, whole
SELECT list, cardinality(items) AS items, cardinality(centroid) AS dims,
       (SELECT array_agg(DISTINCT i % 4) FROM unnest(items) i) AS clusters
FROM recsys.ivf_lists WHERE model = 'ivf' ORDER BY list;
SELECT stats->'ivf'->>'lists' AS lists, stats->'ivf'->>'version' AS version FROM recsys.models WHERE name = 'ivf';

-- a query towards (1, 0.2): the exact top 10 are cluster 0's items
CREATE TEMP TABLE ivf_runs (setting text, rank bigint, item_id bigint, score real);
CREATE FUNCTION ivf_collect(setting text, probes int, candidates bigint[] DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('recsys.ivf_probes', probes::text, false);
	IF candidates IS NULL THEN
		INSERT INTO ivf_runs SELECT setting, r.o, r.item_id, r.score
		FROM recsys.recommend_for_vector('{1, 0.2}', 10, 'ivf') WITH ORDINALITY AS r(item_id, score, o);
	ELSE
		-- the same direction through a stored user vector and recommend's filter
		UPDATE recsys.user_factors SET factors = '{1, 0.2}' WHERE model = 'ivf' AND user_id = 1;
		INSERT INTO ivf_runs SELECT setting, r.o, r.item_id, r.score
		FROM recsys.recommend(1, 10, 'ivf', exclude_seen => false, candidates => candidates)
			WITH ORDINALITY AS r(item_id, score, reason, o);
	END IF;
END
$$;
SELECT ivf_collect('exact', 0), ivf_collect('probes 1', 1), ivf_collect('probes 4', 4);
SELECT setting, count(*) AS rows, array_agg(DISTINCT item_id % 4) AS clusters
FROM ivf_runs GROUP BY setting ORDER BY setting;
-- probes = all lists equals the exact scan, items and order
SELECT count(*) AS differing FROM ivf_runs e FULL JOIN ivf_runs a ON a.rank = e.rank AND a.setting = 'probes 4'
WHERE e.setting = 'exact' AND (a.item_id IS DISTINCT FROM e.item_id OR abs(a.score - e.score) > 1e-5);
-- one list probed finds the same top 10 here (cluster 0 is one list)
SELECT count(*) AS differing FROM ivf_runs e FULL JOIN ivf_runs a ON a.rank = e.rank AND a.setting = 'probes 1'
WHERE e.setting = 'exact' AND a.item_id IS DISTINCT FROM e.item_id;

-- a filter that removes the whole nearest list (cluster 0) still returns
-- k rows at probes 1: the next lists are scanned until 10 items pass; here
-- they are cluster 1's (towards (0, 10)), as the exact scan finds them
SELECT ivf_collect('filtered exact', 0, ARRAY(SELECT i FROM generate_series(1, 400) i WHERE i % 4 <> 0)),
       ivf_collect('filtered probes 1', 1, ARRAY(SELECT i FROM generate_series(1, 400) i WHERE i % 4 <> 0));
SELECT setting, count(*) AS rows, array_agg(DISTINCT item_id % 4) AS clusters
FROM ivf_runs WHERE setting LIKE 'filtered%' GROUP BY setting ORDER BY setting;
SELECT count(*) AS differing FROM ivf_runs e FULL JOIN ivf_runs a ON a.rank = e.rank AND a.setting = 'filtered probes 1'
WHERE e.setting = 'filtered exact' AND a.item_id IS DISTINCT FROM e.item_id;
-- fewer passing items than k: every list is scanned, as many rows as pass
SET recsys.ivf_probes = 1;
SELECT count(*) AS rows FROM recsys.recommend(1, 10, 'ivf', exclude_seen => false, candidates => '{2, 7, 400}');
-- exclude_seen's items are filtered the same way
SELECT count(*) AS rows, bool_and(item_id % 4 = 0) AS cluster_0
FROM recsys.recommend_for_vector('{1, 0.2}', 10, 'ivf',
	exclude_seen => ARRAY(SELECT i FROM generate_series(1, 360) i WHERE i % 4 = 0));

-- dropped: rankings scan every item again (equal to exact), stats cleared
SELECT recsys.drop_ivf('ivf') AS dropped, recsys.drop_ivf('ivf') AS again;
SELECT count(*) AS lists FROM recsys.ivf_lists WHERE model = 'ivf';
SELECT stats ? 'ivf' AS recorded FROM recsys.models WHERE name = 'ivf';

-- with recsys.ivf_rebuild off (as before 0.10.0) a retrained model is
-- served exactly until indexed again: the index belongs to version 1 and
-- is never used for version 2 (sql/ivf_rebuild.sql: on, the default)
SET recsys.ivf_rebuild = off;
SELECT (recsys.create_ivf('ivf', lists => 4))->>'version' AS indexed_version;
SELECT version AS retrained FROM recsys.train_cf('ivf_events', factors => 2, iterations => 2, model => 'ivf');
SELECT version, stats ? 'ivf' AS indexed FROM recsys.models WHERE name = 'ivf';
SELECT DISTINCT version FROM recsys.ivf_lists WHERE model = 'ivf';
SET recsys.ivf_probes = 1;
CREATE TEMP TABLE ivf_v2 AS
SELECT u, array_agg(item_id ORDER BY o) AS items
FROM generate_series(1, 200, 7) u, LATERAL recsys.recommend(u, 5, 'ivf') WITH ORDINALITY AS r(item_id, score, reason, o)
GROUP BY u;
SET recsys.ivf_probes = 0;
SELECT count(*) AS users, count(*) FILTER (WHERE v.items IS DISTINCT FROM
	(SELECT array_agg(item_id ORDER BY o) FROM recsys.recommend(v.u, 5, 'ivf') WITH ORDINALITY AS r(item_id, score, reason, o))) AS differing
FROM ivf_v2 v;
-- back to version 1: its index serves again (the constructed clusters)
SELECT version FROM recsys.activate('ivf', 1);
RESET recsys.ivf_rebuild;
SET recsys.ivf_probes = 1;
SELECT array_agg(DISTINCT item_id % 4) AS clusters, count(*) AS rows
FROM recsys.recommend_for_vector('{1, 0.2}', 10, 'ivf');
-- the version's rows go with it (keep_versions, drop_model)
SELECT recsys.drop_model('ivf');
SELECT count(*) AS rows_left FROM recsys.ivf_lists;
RESET recsys.ivf_probes;
SHOW recsys.ivf_probes;

-- errors
SELECT n_items FROM recsys.train_cf('ivf_events', factors => 2, iterations => 1, model => 'ivf_err');
SELECT recsys.create_ivf(NULL);
SELECT recsys.create_ivf('no_such_model');
SELECT recsys.create_ivf('ivf_err', lists => 0);
SELECT recsys.create_ivf('ivf_err', lists => 401);
SELECT recsys.create_ivf('ivf_err', iterations => 0);
SELECT recsys.create_ivf('ivf_err', iterations => 1001);
SELECT recsys.create_ivf('ivf_err', iterations => NULL);
SELECT recsys.create_ivf('ivf_err', seed => NULL);
SELECT recsys.drop_ivf(NULL);
SELECT recsys.drop_ivf('no_such_model');
SET recsys.ivf_probes = -1;
-- the working set (here 64 threads' buffers) within recsys.max_memory
SET recsys.max_memory = '1MB';
SET recsys.threads = 64;
SELECT recsys.create_ivf('ivf_err', lists => 400);
RESET recsys.max_memory;
SET recsys.threads = 2;
-- a kind without item vectors
SELECT n_items FROM recsys.train_item_knn('ivf_events', 5, model => 'ivf_knn');
SELECT recsys.create_ivf('ivf_knn');
-- the default list count: round(sqrt(400)) = 20
SELECT (recsys.create_ivf('ivf_err'))->>'lists' AS lists;
SELECT recsys.drop_model('ivf_err');
SELECT recsys.drop_model('ivf_knn');

-- two roles: a role without the model's grant can neither use the index
-- nor read it, nor index the model; with the grant it serves through it
CREATE ROLE regress_recsys_ivf_owner;
CREATE ROLE regress_recsys_ivf_other;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_ivf_owner, regress_recsys_ivf_other;
GRANT SELECT ON ivf_events TO regress_recsys_ivf_owner;
SET ROLE regress_recsys_ivf_owner;
SELECT n_items FROM recsys.train_cf('ivf_events', factors => 2, iterations => 1, model => 'ivf_priv');
SELECT (recsys.create_ivf('ivf_priv', lists => 3))->>'lists' AS lists;
SELECT count(*) AS lists_seen FROM recsys.ivf_lists WHERE model = 'ivf_priv';
SET ROLE regress_recsys_ivf_other;
SELECT count(*) AS lists_seen FROM recsys.ivf_lists WHERE model = 'ivf_priv';
SELECT count(*) FROM recsys.recommend_for_vector('{1, 0}', 5, 'ivf_priv');
SELECT recsys.create_ivf('ivf_priv');
SELECT recsys.drop_ivf('ivf_priv');
DELETE FROM recsys.ivf_lists WHERE model = 'ivf_priv';
INSERT INTO recsys.ivf_lists VALUES ('ivf_priv', 1, 9, '{0, 0, 1}', '{}');
RESET ROLE;
SELECT count(*) AS lists_kept FROM recsys.ivf_lists WHERE model = 'ivf_priv';
SET ROLE regress_recsys_ivf_owner;
SELECT recsys.grant_model('ivf_priv', 'regress_recsys_ivf_other');
SET ROLE regress_recsys_ivf_other;
SET recsys.ivf_probes = 1;
SELECT count(*) AS rows FROM recsys.recommend_for_vector('{1, 0}', 5, 'ivf_priv');
SELECT count(*) AS lists_seen FROM recsys.ivf_lists WHERE model = 'ivf_priv';
-- a grantee may use the model, not index it
SELECT recsys.create_ivf('ivf_priv');
RESET ROLE;
RESET recsys.ivf_probes;
SELECT recsys.drop_model('ivf_priv');
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_ivf_owner, regress_recsys_ivf_other;
REVOKE ALL ON ivf_events FROM regress_recsys_ivf_owner;
DROP ROLE regress_recsys_ivf_owner;
DROP ROLE regress_recsys_ivf_other;
DROP FUNCTION ivf_collect(text, int, bigint[]);
DROP TABLE ivf_events;
