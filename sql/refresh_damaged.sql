-- refresh_items on a model whose recorded params a DBA (or its owner: owners
-- may change their rows) has damaged: every param refresh_items needs that
-- is missing is a clean error, XX001 (data_corrupted) naming the model, its
-- version and the param, with a hint, like serving's damaged catalog
-- (sql/damaged_catalog.sql); never a crash.  Once repaired, it refreshes.
SET client_min_messages = warning;
CREATE TABLE rd_ev AS SELECT u AS user_id, i AS item_id
  FROM generate_series(1, 20) u, generate_series(1, 10) i WHERE (u + i) % 3 <> 0;
CREATE TABLE rd_feats (item_id bigint, feature text);
INSERT INTO rd_feats SELECT i, CASE WHEN i <= 5 THEN 'a' ELSE 'b' END FROM generate_series(1, 10) i;
CREATE TABLE rd_emb (item_id bigint, vec real[]);
INSERT INTO rd_emb SELECT i, ARRAY[i % 2, 1 - i % 2, 0.5]::real[] FROM generate_series(1, 10) i;
SELECT name FROM recsys.train_cf('rd_ev', factors => 2, model => 'rd_cf', iterations => 2,
                                 features => 'rd_feats', embeddings => 'rd_emb');
SELECT name FROM recsys.train_item_knn('rd_ev', 3, model => 'rd_knn', features => 'rd_feats',
                                       cold_map_regularization => 1);
-- new items since training, so refresh_items has work to do
INSERT INTO rd_feats VALUES (101, 'a');
INSERT INTO rd_emb VALUES (102, '{1,0,0.5}');
CREATE TABLE rd_params AS SELECT name, params FROM recsys.models WHERE name IN ('rd_cf', 'rd_knn');

-- refresh_items with one param removed: its SQLSTATE and message, or "refreshed"
CREATE FUNCTION refresh_without(m text, param text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	msg text;
	hint text;
BEGIN
	UPDATE recsys.models SET params = params - param WHERE name = m;
	BEGIN
		PERFORM recsys.refresh_items(m);
		msg := 'refreshed';
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
		msg := SQLSTATE || ': ' || msg || coalesce(' HINT: ' || nullif(hint, ''), '');
	END;
	UPDATE recsys.models x SET params = p.params FROM rd_params p WHERE x.name = m AND p.name = m;
	RETURN msg;
END $$;

SELECT param, refresh_without('rd_cf', param) AS outcome
FROM unnest(ARRAY['cold_item_weight', 'factors', 'alpha', 'regularization', 'feature_weight',
                  'feature_columns', 'item_col']) param;
SELECT param, refresh_without('rd_knn', param) AS outcome
FROM unnest(ARRAY['cold_item_weight', 'neighbors', 'cold_map_self_weight', 'item_col']) param;
-- a param of the wrong type or out of its trainer's range (review s9): damage,
-- not a cast's 22P02, and factors checked before factors x items are allocated
CREATE FUNCTION refresh_with(m text, param text, value jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	msg text;
BEGIN
	UPDATE recsys.models SET params = jsonb_set(params, ARRAY[param], value) WHERE name = m;
	BEGIN
		PERFORM recsys.refresh_items(m);
		msg := 'refreshed';
	EXCEPTION WHEN OTHERS THEN
		msg := SQLSTATE || ': ' || SQLERRM;
	END;
	UPDATE recsys.models x SET params = p.params FROM rd_params p WHERE x.name = m AND p.name = m;
	RETURN msg;
END $$;
SELECT m, param, value, refresh_with(m, param, value::jsonb) AS outcome
FROM (VALUES ('rd_cf', 'factors', '1.5'), ('rd_cf', 'factors', '2000000'), ('rd_cf', 'factors', '"two"'),
			 ('rd_cf', 'alpha', '"x"'), ('rd_cf', 'cold_item_weight', '5'), ('rd_cf', 'item_col', '7'),
			 ('rd_knn', 'neighbors', '[8]'), ('rd_knn', 'neighbors', '0'),
			 -- embedding groups' records with NULL elements or sizes no training writes
			 -- (review s9 part 2: a NULL dim was read past the array, 1e8 asked 25 GB)
			 ('rd_cf', 'embedding_dims', '[null]'), ('rd_cf', 'embedding_dims', '[100000000]'),
			 ('rd_cf', 'embedding_dims', '[-3]'), ('rd_cf', 'embedding_columns', '[null]'),
			 ('rd_cf', 'embedding_weights', '[-1]'),
			 -- s10: numbers outside their trainer's range reached the solvers
			 -- (a negative regularization: 22000 "not positive definite")
			 ('rd_cf', 'regularization', '-1'), ('rd_cf', 'alpha', '-1'),
			 ('rd_cf', 'regularization_exponent', '3'), ('rd_cf', 'feature_weight', '-1'),
			 ('rd_knn', 'cold_map_regularization', '0'), ('rd_knn', 'cold_map_self_weight', '-1'),
			 ('rd_knn', 'cold_map_popularity', '100'), ('rd_knn', 'cold_map_content_weight', '-1')) v(m, param, value);
-- a column named twice (dims and weights one per name, as training would
-- record two columns): damage, not the column read and weighed twice (s10)
UPDATE recsys.models
SET params = params || '{"embedding_columns": ["vec", "vec"], "embedding_dims": [3, 3], "embedding_weights": [1, 1]}'
WHERE name = 'rd_cf';
SELECT recsys.refresh_items('rd_cf');
UPDATE recsys.models x SET params = p.params FROM rd_params p WHERE x.name = 'rd_cf' AND p.name = 'rd_cf';
DROP FUNCTION refresh_with(text, text, jsonb);
-- embedding groups whose recorded dims or weights are cut short
UPDATE recsys.models SET params = jsonb_set(params, '{embedding_dims}', '[]') WHERE name = 'rd_cf';
SELECT recsys.refresh_items('rd_cf');
UPDATE recsys.models x SET params = p.params FROM rd_params p WHERE x.name = 'rd_cf' AND p.name = 'rd_cf';
UPDATE recsys.models SET params = jsonb_set(params, '{embedding_weights}', '[]') WHERE name = 'rd_cf';
SELECT recsys.refresh_items('rd_cf');
UPDATE recsys.models x SET params = p.params FROM rd_params p WHERE x.name = 'rd_cf' AND p.name = 'rd_cf';
-- a model trained before regularization_exponent was recorded refreshes
-- as without it (exponent 0)
SELECT refresh_without('rd_cf', 'regularization_exponent') AS outcome;
-- repaired, both refresh: item 101 (features) and 102 (embedding) get vectors
SELECT recsys.refresh_items('rd_knn') AS knn_refreshed;
SELECT count(*) AS cold_vectors FROM recsys.item_factors WHERE model = 'rd_cf' AND item_id IN (101, 102);
-- the server is still up
SELECT 1 AS alive;

SELECT recsys.drop_model('rd_cf'), recsys.drop_model('rd_knn');
DROP TABLE rd_ev, rd_feats, rd_emb, rd_params;
DROP FUNCTION refresh_without(text, text);
