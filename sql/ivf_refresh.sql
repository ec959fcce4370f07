-- An IVF index and refresh_items: the cold items refresh_items adds to the
-- indexed version are not in its stored lists; the loader puts each in
-- its nearest list (the build's transformation and scale), so every
-- ranking works, the index still serves, and every list probed equals
-- the exact scan; create_ivf run again stores them.
SET recsys.threads = 2;
SET extra_float_digits = 0;
CREATE TABLE ivfr_events AS
SELECT u AS user_id, 1 + (u * 7 + j * 13) % 300 AS item_id
FROM generate_series(1, 200) u, generate_series(0, 9) j;
CREATE TABLE ivfr_words AS SELECT DISTINCT item_id, 'w' || (item_id % 7) AS feature FROM ivfr_events;
SELECT n_items FROM recsys.train_cf('ivfr_events', factors => 4, iterations => 3, model => 'ivfr',
                                    features => 'ivfr_words');
SELECT recsys.create_ivf('ivfr', lists => 4)->>'version' AS indexed;
SET recsys.ivf_probes = 2;
SELECT count(*) FROM recsys.recommend(1, 5, 'ivfr');
INSERT INTO ivfr_words VALUES (9001, 'w3'), (9002, 'w4');
SELECT recsys.refresh_items('ivfr') AS refreshed;
SELECT version, n_items, stats->'ivf'->>'version' AS indexed FROM recsys.models WHERE name = 'ivfr';
SELECT sum(cardinality(items)) AS stored_items FROM recsys.ivf_lists WHERE model = 'ivfr';

CREATE TEMP TABLE ivfr_runs (setting text, query text, rank bigint, item_id bigint, score real);
CREATE FUNCTION ivfr_collect(setting text, probes int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('recsys.ivf_probes', probes::text, false);
	INSERT INTO ivfr_runs SELECT setting, 'user', r.o, r.item_id, r.score
	FROM recsys.recommend(1, 10, 'ivfr') WITH ORDINALITY AS r(item_id, score, reason, o);
	-- a vector along item 9001's, every item ranked: the new ones too
	INSERT INTO ivfr_runs SELECT setting, 'vector', r.o, r.item_id, r.score
	FROM recsys.recommend_for_vector((SELECT factors FROM recsys.item_factors
	                                  WHERE model = 'ivfr' AND item_id = 9001), 400, 'ivfr')
		WITH ORDINALITY AS r(item_id, score, o);
END
$$;
SELECT ivfr_collect('exact', 0), ivfr_collect('refreshed, probes 2', 2), ivfr_collect('refreshed, probes 4', 4),
       ivfr_collect('refreshed, probes 1', 1);
SELECT setting, query, count(*) AS rows, bool_or(item_id IN (9001, 9002)) AS new_item_found
FROM ivfr_runs GROUP BY setting, query ORDER BY setting, query;
-- every list probed: the exact scan's items in its order (scores may
-- differ in the last bit)
SELECT a.query, count(*) AS rows, count(*) FILTER (WHERE a.item_id IS DISTINCT FROM e.item_id) AS differing,
       bool_and(abs(a.score - e.score) <= 1e-5 * greatest(1, abs(e.score))) AS scores_close
FROM ivfr_runs e JOIN ivfr_runs a ON a.query = e.query AND a.rank = e.rank
WHERE e.setting = 'exact' AND a.setting = 'refreshed, probes 4'
GROUP BY a.query ORDER BY a.query;
-- the index serves: one list probed of four misses some of the exact top 10
SELECT count(*) FILTER (WHERE a.item_id IS DISTINCT FROM e.item_id) > 0 AS approximate
FROM ivfr_runs e JOIN ivfr_runs a ON a.query = e.query AND a.rank = e.rank
WHERE e.setting = 'exact' AND a.setting = 'refreshed, probes 1' AND e.query = 'user';

-- create_ivf run again: a new k-means over every item, the new ones
-- stored in the lists; every list probed still equals the exact scan
SELECT recsys.create_ivf('ivfr', lists => 4)->>'version' AS indexed;
SELECT sum(cardinality(items)) AS stored_items, count(*) FILTER (WHERE items && '{9001,9002}') AS lists_with_new
FROM recsys.ivf_lists WHERE model = 'ivfr';
SELECT ivfr_collect('rebuilt, probes 4', 4);
SELECT a.query, count(*) AS rows, count(*) FILTER (WHERE a.item_id IS DISTINCT FROM e.item_id) AS differing,
       bool_and(abs(a.score - e.score) <= 1e-5 * greatest(1, abs(e.score))) AS scores_close
FROM ivfr_runs e JOIN ivfr_runs a ON a.query = e.query AND a.rank = e.rank
WHERE e.setting = 'exact' AND a.setting = 'rebuilt, probes 4'
GROUP BY a.query ORDER BY a.query;

RESET recsys.ivf_probes;
SELECT recsys.drop_ivf('ivfr');
SELECT recsys.drop_model('ivfr');
DROP TABLE ivfr_events, ivfr_words;
