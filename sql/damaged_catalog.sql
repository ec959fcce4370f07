-- A damaged catalog: a DBA (or a bad restore) edits a model's rows by hand.
-- Every inconsistency the loader checks (src/model_cache.c, corrupt()) is
-- a clean error, SQLSTATE XX001 (data_corrupted), naming the model, its
-- version and what is wrong, with a hint; never a crash.  And once the
-- rows are repaired (or the model retrained) the next statement serves.
CREATE SCHEMA damaged;
SET search_path = damaged, public;
SET extra_float_digits = 0;
SELECT pg_postmaster_start_time() AS started \gset

-- 12 users, items 10-19, each user buys 5 items
CREATE TABLE buys AS
SELECT u AS user_id, 10 + (u * 3 + j * 2) % 10 AS item_id
FROM generate_series(1, 12) u, generate_series(0, 4) j;

SELECT (recsys.train_cf('buys', 2, model => 'dmg_als', iterations => 3, seed => 1)).version;
SELECT (recsys.train_item_knn('buys', 5, model => 'dmg_knn')).version;
SELECT (recsys.train_ease('buys', 10, model => 'dmg_ease')).version;
SELECT (recsys.train_user_knn('buys', 5, model => 'dmg_uknn')).version;
SELECT (recsys.train_popular('buys', model => 'dmg_pop')).version;
SELECT (recsys.train_blend('{dmg_knn,dmg_als}', '{1,1}', 'dmg_mix')).version;
SELECT (recsys.train_fm('buys', 'dmg_ease', 'dmg_fm', factors => 2, epochs => 2, time_col => 'item_id')).version;
CREATE TABLE rates AS SELECT user_id, item_id, (1 + (user_id + item_id) % 5)::real AS rating FROM buys;
SELECT (recsys.train_neighborhood('rates', 3, model => 'dmg_nbr', weight_col => 'rating')).version;
SELECT (recsys.train_ncf('buys', 2, model => 'dmg_ncf', hidden => '{3,2}', iterations => 2, seed => 1)).version;
SELECT (recsys.train_bpr('buys', factors => 2, model => 'dmg_bpr', iterations => 3, seed => 1)).version;
SELECT (recsys.train_cf('rates', 2, model => 'dmg_mf', feedback => 'explicit', weight_col => 'rating',
                       iterations => 3, seed => 1)).version;

-- A statement's outcome: "served" or its SQLSTATE, message, hint and the
-- error context lines recsys adds (not PL/pgSQL's).
CREATE FUNCTION outcome(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	state text;
	msg text;
	hint text;
	ctx text;
BEGIN
	EXECUTE statement;
	RETURN 'served';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		hint = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
	SELECT string_agg(l, '; ') INTO ctx
	FROM regexp_split_to_table(ctx, E'\n') l
	WHERE l NOT LIKE 'PL/pgSQL%' AND l NOT LIKE 'SQL statement%';
	RETURN state || ': ' || msg || coalesce(' HINT: ' || nullif(hint, ''), '') ||
		coalesce(' CONTEXT: ' || ctx, '');
END $$;

-- The catalog row changes (as every retrain changes it), so the next
-- statement reloads the model instead of serving the copy it holds.
CREATE FUNCTION touch(m text) RETURNS void LANGUAGE sql AS $$
	UPDATE recsys.models SET trained_at = trained_at + interval '1 second' WHERE name = m
$$;

-- Serve a model in a few ways: the first error, or "served".
CREATE FUNCTION serve(m text) RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(
		(SELECT o FROM unnest(ARRAY[
			outcome(format('SELECT count(*) FROM recsys.recommend(1, 3, %L)', m)),
			outcome(format('SELECT recsys.score(1, 10, %L)', m))]) o
		 WHERE o <> 'served' LIMIT 1),
		'served')
$$;

SELECT name, serve(name) FROM recsys.models WHERE name LIKE 'dmg\_%' ORDER BY name;

-- keep the artefacts to repair them from
CREATE TABLE saved_item_factors AS SELECT * FROM recsys.item_factors WHERE model LIKE 'dmg\_%';
CREATE TABLE saved_user_factors AS SELECT * FROM recsys.user_factors WHERE model LIKE 'dmg\_%';
CREATE TABLE saved_item_stats AS SELECT * FROM recsys.item_stats WHERE model LIKE 'dmg\_%';
CREATE TABLE saved_item_lists AS SELECT * FROM recsys.item_neighbor_lists WHERE model LIKE 'dmg\_%';
CREATE TABLE saved_user_lists AS SELECT * FROM recsys.user_neighbor_lists WHERE model LIKE 'dmg\_%';
CREATE TABLE saved_parameters AS SELECT * FROM recsys.model_parameters WHERE model LIKE 'dmg\_%';
CREATE TABLE saved_models AS SELECT * FROM recsys.models WHERE name LIKE 'dmg\_%';
CREATE TABLE saved_versions AS SELECT * FROM recsys.model_versions WHERE model LIKE 'dmg\_%';
CREATE FUNCTION repair() RETURNS void LANGUAGE sql AS $$
	UPDATE recsys.models m SET version = s.version, algorithm = s.algorithm, source = s.source, params = s.params, stats = s.stats, n_items = s.n_items,
		trained_at = clock_timestamp()
	FROM saved_models s WHERE s.name = m.name;
	UPDATE recsys.model_versions m SET params = s.params
	FROM saved_versions s WHERE (s.model, s.version) = (m.model, m.version);
	DELETE FROM recsys.item_factors WHERE model LIKE 'dmg\_%';
	INSERT INTO recsys.item_factors SELECT * FROM saved_item_factors;
	DELETE FROM recsys.user_factors WHERE model LIKE 'dmg\_%';
	INSERT INTO recsys.user_factors SELECT * FROM saved_user_factors;
	DELETE FROM recsys.item_stats WHERE model LIKE 'dmg\_%';
	INSERT INTO recsys.item_stats SELECT * FROM saved_item_stats;
	DELETE FROM recsys.item_neighbor_lists WHERE model LIKE 'dmg\_%';
	INSERT INTO recsys.item_neighbor_lists SELECT * FROM saved_item_lists;
	DELETE FROM recsys.user_neighbor_lists WHERE model LIKE 'dmg\_%';
	INSERT INTO recsys.user_neighbor_lists SELECT * FROM saved_user_lists;
	DELETE FROM recsys.model_parameters WHERE model LIKE 'dmg\_%';
	INSERT INTO recsys.model_parameters SELECT * FROM saved_parameters;
$$;

-- Each damage: break, serve (the error), repair, serve again.
CREATE TABLE damages (n serial, model text, what text, damage text);
INSERT INTO damages (model, what, damage) VALUES
	('dmg_als', 'an item''s factors too short',
	 $$UPDATE recsys.item_factors SET factors = factors[1:1] WHERE model = 'dmg_als' AND item_id = 13$$),
	('dmg_als', 'an item''s factors too long',
	 $$UPDATE recsys.item_factors SET factors = factors || 1::real WHERE model = 'dmg_als' AND item_id = 13$$),
	('dmg_als', 'an item''s factors two-dimensional',
	 $$UPDATE recsys.item_factors SET factors = ARRAY[factors] WHERE model = 'dmg_als' AND item_id = 13$$),
	('dmg_als', 'an item''s factors with a NULL',
	 $$UPDATE recsys.item_factors SET factors[2] = NULL WHERE model = 'dmg_als' AND item_id = 13$$),
	('dmg_als', 'an item with factors but no stats row',
	 $$DELETE FROM recsys.item_stats WHERE model = 'dmg_als' AND item_id = 13$$),
	('dmg_als', 'factors of an item the model never had',
	 $$INSERT INTO recsys.item_factors VALUES ('dmg_als', 1, 99, 0, '{1,1}')$$),
	('dmg_als', 'more items than the catalog says',
	 $$UPDATE recsys.models SET n_items = n_items - 1 WHERE name = 'dmg_als'$$),
	('dmg_als', 'no items at all in the catalog',
	 $$UPDATE recsys.models SET n_items = 0 WHERE name = 'dmg_als'$$),
	('dmg_als', 'params without factors',
	 $$UPDATE recsys.models SET params = params - 'factors' WHERE name = 'dmg_als'$$),
	('dmg_als', 'params with zero factors',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{factors}', '0') WHERE name = 'dmg_als'$$),
	('dmg_als', 'params with negative factors',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{factors}', '-3') WHERE name = 'dmg_als'$$),
	('dmg_als', 'params with more factors than stored',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{factors}', '3') WHERE name = 'dmg_als'$$),
	-- not a number: damage like the others (was a cast's 22P02 before review s9)
	('dmg_als', 'params with factors that are not a number',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{factors}', '"two"') WHERE name = 'dmg_als'$$),
	('dmg_als', 'a negative item count',
	 $$UPDATE recsys.models SET n_items = -1 WHERE name = 'dmg_als'$$),
	('dmg_als', 'an item count beyond any model',
	 $$UPDATE recsys.models SET n_items = 5000000000 WHERE name = 'dmg_als'$$),
	('dmg_als', 'an unknown algorithm',
	 $$UPDATE recsys.models SET algorithm = 'svd' WHERE name = 'dmg_als'$$),
	('dmg_als', 'user 1''s vector too short',
	 $$UPDATE recsys.user_factors SET factors = factors[1:1] WHERE model = 'dmg_als' AND user_id = 1$$),
	('dmg_als', 'user 1''s vector with a NULL',
	 $$UPDATE recsys.user_factors SET factors[1] = NULL WHERE model = 'dmg_als' AND user_id = 1$$),
	('dmg_als', 'user 1''s vector two-dimensional',
	 $$UPDATE recsys.user_factors SET factors = ARRAY[factors] WHERE model = 'dmg_als' AND user_id = 1$$),
	('dmg_knn', 'a neighbour list of an unknown item',
	 $$UPDATE recsys.item_neighbor_lists SET item_id = 99 WHERE model = 'dmg_knn' AND item_id = 19$$),
	('dmg_knn', 'a neighbour list naming an unknown item',
	 $$UPDATE recsys.item_neighbor_lists SET neighbor_ids[1] = 99 WHERE model = 'dmg_knn' AND item_id = 10$$),
	('dmg_knn', 'a neighbour list with a NULL id',
	 $$UPDATE recsys.item_neighbor_lists SET neighbor_ids[1] = NULL WHERE model = 'dmg_knn' AND item_id = 10$$),
	('dmg_knn', 'a neighbour list with a NULL score',
	 $$UPDATE recsys.item_neighbor_lists SET scores[2] = NULL WHERE model = 'dmg_knn' AND item_id = 10$$),
	-- harmless: the lists are read as flat arrays of equal length
	('dmg_knn', 'a neighbour list whose scores are a matrix',
	 $$UPDATE recsys.item_neighbor_lists SET scores = ARRAY[scores[1:2], scores[3:4]],
		neighbor_ids = neighbor_ids[1:4] WHERE model = 'dmg_knn' AND item_id = 10$$),
	('dmg_knn', 'neighbours of an item the stats lost',
	 $$DELETE FROM recsys.item_stats WHERE model = 'dmg_knn' AND item_id = 19$$),
	('dmg_knn', 'more items than the catalog says',
	 $$UPDATE recsys.models SET n_items = 3 WHERE name = 'dmg_knn'$$),
	('dmg_ease', 'a neighbour list naming an unknown item',
	 $$UPDATE recsys.item_neighbor_lists SET neighbor_ids[2] = 99 WHERE model = 'dmg_ease' AND item_id = 11$$),
	('dmg_ease', 'a neighbour list of an unknown item',
	 $$UPDATE recsys.item_neighbor_lists SET item_id = 9 WHERE model = 'dmg_ease' AND item_id = 10$$),
	-- (a user-kNN model's users are its lists' owners and neighbours, read
	-- in one snapshot: "more users than counted" cannot be reached by
	-- editing rows, nor an out-of-order owner, as the lists are read in
	-- owner order)
	('dmg_uknn', 'a neighbour list with a NULL user',
	 $$UPDATE recsys.user_neighbor_lists SET neighbor_ids[1] = NULL WHERE model = 'dmg_uknn' AND user_id = 1$$),
	('dmg_uknn', 'a neighbour list with a NULL score',
	 $$UPDATE recsys.user_neighbor_lists SET scores[1] = NULL WHERE model = 'dmg_uknn' AND user_id = 1$$),
	('dmg_pop', 'more items than the catalog says',
	 $$UPDATE recsys.models SET n_items = 9 WHERE name = 'dmg_pop'$$),
	('dmg_pop', 'an unknown algorithm',
	 $$UPDATE recsys.models SET algorithm = '' WHERE name = 'dmg_pop'$$),
	-- a blend is as damaged as its members, and says which one is
	('dmg_mix', 'a member''s item factors',
	 $$UPDATE recsys.item_factors SET factors = '{1}' WHERE model = 'dmg_als' AND item_id = 13;
	   SELECT damaged.touch('dmg_als')$$),
	('dmg_mix', 'a member''s neighbour list',
	 $$UPDATE recsys.item_neighbor_lists SET neighbor_ids[1] = 99 WHERE model = 'dmg_knn' AND item_id = 10;
	   SELECT damaged.touch('dmg_knn')$$),
	('dmg_mix', 'a member''s unknown algorithm',
	 $$UPDATE recsys.models SET algorithm = 'svd' WHERE name = 'dmg_knn';
	   SELECT damaged.touch('dmg_knn')$$),
	('dmg_mix', 'no members',
	 $$UPDATE recsys.model_versions SET params = params - 'members' WHERE model = 'dmg_mix'$$),
	('dmg_mix', 'a member without a weight',
	 $$UPDATE recsys.model_versions SET params = jsonb_set(params, '{weights}', '[1]') WHERE model = 'dmg_mix'$$),
	-- a re-ranker: its parameters, its settings, its users and its base
	('dmg_fm', 'no item terms',
	 $$DELETE FROM recsys.model_parameters WHERE model = 'dmg_fm' AND name = 'item_terms'$$),
	('dmg_fm', 'item terms of another shape',
	 $$UPDATE recsys.model_parameters SET shape = '{3,3}' WHERE model = 'dmg_fm' AND name = 'item_terms'$$),
	('dmg_fm', 'item terms with too few values',
	 $$UPDATE recsys.model_parameters SET value = value[1:3] WHERE model = 'dmg_fm' AND name = 'item_terms'$$),
	('dmg_fm', 'an item term not finite',
	 $$UPDATE recsys.model_parameters SET value[2] = 'Infinity' WHERE model = 'dmg_fm' AND name = 'item_terms'$$),
	('dmg_fm', 'no context factors',
	 $$DELETE FROM recsys.model_parameters WHERE model = 'dmg_fm' AND name = 'context_factors'$$),
	('dmg_fm', 'a user vector too short',
	 $$UPDATE recsys.user_factors SET factors = factors[1:1] WHERE model = 'dmg_fm' AND user_id = 1$$),
	('dmg_fm', 'a user vector not finite',
	 $$UPDATE recsys.user_factors SET factors[1] = 'NaN' WHERE model = 'dmg_fm' AND user_id = 1$$),
	('dmg_fm', 'params without candidates_from',
	 $$UPDATE recsys.models SET params = params - 'candidates_from' WHERE name = 'dmg_fm'$$),
	('dmg_fm', 'params with pool 0',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{pool}', '0') WHERE name = 'dmg_fm'$$),
	('dmg_fm', 'params with factors 0',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{factors}', '0') WHERE name = 'dmg_fm'$$),
	('dmg_fm', 'a damaged base',
	 $$UPDATE recsys.item_neighbor_lists SET neighbor_ids[1] = 99 WHERE model = 'dmg_ease' AND item_id = 10;
	   SELECT damaged.touch('dmg_ease')$$),
	-- the neighbourhood model's rows (src/kind_neighborhood.c)
	('dmg_nbr', 'an item''s baseline missing',
	 $$UPDATE recsys.item_factors SET factors = '{}' WHERE model = 'dmg_nbr' AND item_id = 13$$),
	('dmg_nbr', 'an item''s baseline and something more',
	 $$UPDATE recsys.item_factors SET factors = '{0,0}' WHERE model = 'dmg_nbr' AND item_id = 13$$),
	('dmg_nbr', 'an item''s baseline NULL',
	 $$UPDATE recsys.item_factors SET factors = '{NULL}' WHERE model = 'dmg_nbr' AND item_id = 13$$),
	('dmg_nbr', 'an item''s baseline not a number',
	 $$UPDATE recsys.item_factors SET factors = '{NaN}' WHERE model = 'dmg_nbr' AND item_id = 13$$),
	('dmg_nbr', 'an item''s bias infinite',
	 $$UPDATE recsys.item_factors SET bias = 'Infinity' WHERE model = 'dmg_nbr' AND item_id = 13$$),
	('dmg_nbr', 'an item without its bias row',
	 $$DELETE FROM recsys.item_factors WHERE model = 'dmg_nbr' AND item_id = 13$$),
	('dmg_nbr', 'a bias row of an item the model never had',
	 $$INSERT INTO recsys.item_factors VALUES ('dmg_nbr', 1, 99, 0, '{0}')$$),
	('dmg_nbr', 'a neighbour weight not a number',
	 $$UPDATE recsys.item_neighbor_lists SET scores[1] = 'NaN' WHERE model = 'dmg_nbr' AND item_id = 10$$),
	('dmg_nbr', 'a neighbour list naming an unknown item',
	 $$UPDATE recsys.item_neighbor_lists SET neighbor_ids[1] = 99 WHERE model = 'dmg_nbr' AND item_id = 10$$),
	('dmg_nbr', 'no implicit weights',
	 $$DELETE FROM recsys.model_parameters WHERE model = 'dmg_nbr'$$),
	('dmg_nbr', 'implicit weights of fewer items',
	 $$UPDATE recsys.model_parameters SET shape = '{9,3}', value = value[1:27] WHERE model = 'dmg_nbr'$$),
	('dmg_nbr', 'implicit weights of fewer neighbours than listed',
	 $$UPDATE recsys.model_parameters SET shape = '{10,1}', value = value[1:10] WHERE model = 'dmg_nbr'$$),
	('dmg_nbr', 'implicit weights fewer than their shape',
	 $$UPDATE recsys.model_parameters SET value = value[1:29] WHERE model = 'dmg_nbr'$$),
	('dmg_nbr', 'implicit weights of three dimensions',
	 $$UPDATE recsys.model_parameters SET shape = '{10,3,1}' WHERE model = 'dmg_nbr'$$),
	('dmg_nbr', 'an implicit weight infinite',
	 $$UPDATE recsys.model_parameters SET value[2] = '-Infinity' WHERE model = 'dmg_nbr'$$),
	-- a neural model's layers (recsys.model_parameters) and embeddings
	('dmg_ncf', 'a layer missing',
	 $$DELETE FROM recsys.model_parameters WHERE model = 'dmg_ncf' AND name = 'mlp.1.weight'$$),
	('dmg_ncf', 'a layer of the wrong shape',
	 $$UPDATE recsys.model_parameters SET shape = '{3,4}' WHERE model = 'dmg_ncf' AND name = 'mlp.1.weight'$$),
	('dmg_ncf', 'a layer with fewer values than its shape',
	 $$UPDATE recsys.model_parameters SET value = value[1:2] WHERE model = 'dmg_ncf' AND name = 'mlp.0.bias'$$),
	('dmg_ncf', 'a layer with a value that is not finite',
	 $$UPDATE recsys.model_parameters SET value[1] = 'NaN' WHERE model = 'dmg_ncf' AND name = 'output.weight'$$),
	('dmg_ncf', 'a layer with an infinite value',
	 $$UPDATE recsys.model_parameters SET value[2] = '-Infinity' WHERE model = 'dmg_ncf' AND name = 'mlp.0.weight'$$),
	('dmg_ncf', 'an architecture of impossible sizes',
	 $$UPDATE recsys.model_parameters SET value[3] = 2.5 WHERE model = 'dmg_ncf' AND name = 'architecture'$$),
	('dmg_ncf', 'an architecture one layer short',
	 $$UPDATE recsys.model_parameters SET shape = '{3}', value = value[1:3] WHERE model = 'dmg_ncf' AND name = 'architecture'$$),
	('dmg_ncf', 'an item embedding too short',
	 $$UPDATE recsys.item_factors SET factors = factors[1:3] WHERE model = 'dmg_ncf' AND item_id = 13$$),
	('dmg_ncf', 'an item embedding that is not finite',
	 $$UPDATE recsys.item_factors SET factors[1] = 'Infinity' WHERE model = 'dmg_ncf' AND item_id = 13$$),
	('dmg_ncf', 'an item without an embedding',
	 $$DELETE FROM recsys.item_factors WHERE model = 'dmg_ncf' AND item_id = 13$$),
	('dmg_ncf', 'user 1''s embedding too long',
	 $$UPDATE recsys.user_factors SET factors = factors || 1::real WHERE model = 'dmg_ncf' AND user_id = 1$$),
	('dmg_ncf', 'user 1''s embedding that is not finite',
	 $$UPDATE recsys.user_factors SET factors[4] = 'NaN' WHERE model = 'dmg_ncf' AND user_id = 1$$),
	-- settings and stats of the wrong type or out of range: damage, not a cast's error
	('dmg_fm', 'params with pool "abc"',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{pool}', '"abc"') WHERE name = 'dmg_fm'$$),
	('dmg_fm', 'params with pool 1e20',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{pool}', '1e20') WHERE name = 'dmg_fm'$$),
	('dmg_fm', 'params with base_weight 1e39',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{base_weight}', '1e39') WHERE name = 'dmg_fm'$$),
	('dmg_fm', 'params with a time zone that is none',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{time_zone}', '"Not/AZone"') WHERE name = 'dmg_fm'$$),
	('dmg_fm', 'params with a time zone that is a number',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{time_zone}', '123') WHERE name = 'dmg_fm'$$),
	('dmg_als', 'a mean user vector element "NaN"',
	 $$UPDATE recsys.models SET stats = jsonb_set(stats, '{mean_user_factors,0}', '"NaN"') WHERE name = 'dmg_als'$$),
	('dmg_als', 'a mean user vector element "Infinity"',
	 $$UPDATE recsys.models SET stats = jsonb_set(stats, '{mean_user_factors,0}', '"Infinity"') WHERE name = 'dmg_als'$$),
	('dmg_als', 'a mean user vector element not a number',
	 $$UPDATE recsys.models SET stats = jsonb_set(stats, '{mean_user_factors,0}', '"abc"') WHERE name = 'dmg_als'$$),
	('dmg_als', 'a mean user vector element 1e39',
	 $$UPDATE recsys.models SET stats = jsonb_set(stats, '{mean_user_factors,0}', '1e39') WHERE name = 'dmg_als'$$),
	('dmg_als', 'a mean user vector too short',
	 $$UPDATE recsys.models SET stats = jsonb_set(stats, '{mean_user_factors}', '[1]') WHERE name = 'dmg_als'$$),
	('dmg_als', 'a mean user vector empty',
	 $$UPDATE recsys.models SET stats = jsonb_set(stats, '{mean_user_factors}', '[]') WHERE name = 'dmg_als'$$),
	('dmg_als', 'a mean user vector not an array',
	 $$UPDATE recsys.models SET stats = jsonb_set(stats, '{mean_user_factors}', '"x"') WHERE name = 'dmg_als'$$),
	-- a factor model's numbers (review 2: an infinite score crashed diversity)
	('dmg_bpr', 'an item''s factors infinite',
	 $$UPDATE recsys.item_factors SET factors[1] = 'Infinity' WHERE model = 'dmg_bpr' AND item_id = 13$$),
	('dmg_bpr', 'an item''s factors not a number',
	 $$UPDATE recsys.item_factors SET factors[2] = 'NaN' WHERE model = 'dmg_bpr' AND item_id = 13$$),
	('dmg_bpr', 'an item''s bias infinite',
	 $$UPDATE recsys.item_factors SET bias = '-Infinity' WHERE model = 'dmg_bpr' AND item_id = 13$$),
	('dmg_als', 'an item''s factors not a number',
	 $$UPDATE recsys.item_factors SET factors[1] = 'NaN' WHERE model = 'dmg_als' AND item_id = 13$$),
	-- a BPR model's fold-in settings (review 2)
	('dmg_bpr', 'params with a learning_rate not a number',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{learning_rate}', '"NaN"') WHERE name = 'dmg_bpr'$$),
	('dmg_bpr', 'params with a huge learning_rate',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{learning_rate}', '1e30') WHERE name = 'dmg_bpr'$$),
	('dmg_bpr', 'params with a negative learning_rate',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{learning_rate}', '-0.1') WHERE name = 'dmg_bpr'$$),
	('dmg_bpr', 'params with zero iterations',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{iterations}', '0') WHERE name = 'dmg_bpr'$$),
	('dmg_bpr', 'params with negative iterations',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{iterations}', '-5') WHERE name = 'dmg_bpr'$$),
	('dmg_bpr', 'params with a regularization not a number',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{regularization}', '"NaN"') WHERE name = 'dmg_bpr'$$),
	-- the neighbourhood model's rating scale (review 2)
	('dmg_nbr', 'stats with a global_mean not a number',
	 $$UPDATE recsys.models SET stats = jsonb_set(stats, '{global_mean}', '"NaN"') WHERE name = 'dmg_nbr'$$),
	('dmg_nbr', 'stats with a rating_min not a number',
	 $$UPDATE recsys.models SET stats = jsonb_set(stats, '{rating_min}', '"NaN"') WHERE name = 'dmg_nbr'$$),
	('dmg_nbr', 'stats with a rating_max not a number',
	 $$UPDATE recsys.models SET stats = jsonb_set(stats, '{rating_max}', '"NaN"') WHERE name = 'dmg_nbr'$$),
	('dmg_nbr', 'stats with rating_min above rating_max',
	 $$UPDATE recsys.models SET stats = jsonb_set(stats, '{rating_min}', '6') WHERE name = 'dmg_nbr'$$),
	-- a stored user vector not finite (RsReadUserVector, shared by the factor, fm and ncf kinds)
	('dmg_als', 'user 1''s vector not finite',
	 $$UPDATE recsys.user_factors SET factors[1] = 'NaN' WHERE model = 'dmg_als' AND user_id = 1$$),
	-- review s9, defect 1: a source column missing from params crashed the
	-- server (quote_identifier(NULL)) in every kind that reads its source
	('dmg_als', 'params without user_col',
	 $$UPDATE recsys.models SET params = params - 'user_col' WHERE name = 'dmg_als'$$),
	('dmg_als', 'params without item_col',
	 $$UPDATE recsys.models SET params = params - 'item_col' WHERE name = 'dmg_als'$$),
	('dmg_knn', 'params without user_col',
	 $$UPDATE recsys.models SET params = params - 'user_col' WHERE name = 'dmg_knn'$$),
	('dmg_ease', 'params with user_col null',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{user_col}', 'null') WHERE name = 'dmg_ease'$$),
	('dmg_uknn', 'params without item_col',
	 $$UPDATE recsys.models SET params = params - 'item_col' WHERE name = 'dmg_uknn'$$),
	('dmg_pop', 'params without user_col',
	 $$UPDATE recsys.models SET params = params - 'user_col' WHERE name = 'dmg_pop'$$),
	('dmg_ncf', 'params without user_col',
	 $$UPDATE recsys.models SET params = params - 'user_col' WHERE name = 'dmg_ncf'$$),
	('dmg_bpr', 'params without item_col',
	 $$UPDATE recsys.models SET params = params - 'item_col' WHERE name = 'dmg_bpr'$$),
	('dmg_nbr', 'params with user_col a number',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{user_col}', '7') WHERE name = 'dmg_nbr'$$),
	('dmg_als', 'params with user_col empty',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{user_col}', '""') WHERE name = 'dmg_als'$$),
	('dmg_als', 'params with weight_col of 64 bytes',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{weight_col}', to_jsonb(repeat('w', 64))) WHERE name = 'dmg_als'$$),
	('dmg_knn', 'a version without user_col, activated',
	 $$UPDATE recsys.model_versions SET params = params - 'user_col' WHERE model = 'dmg_knn';
	   SELECT recsys.activate('dmg_knn', 1)$$),
	('dmg_mix', 'params without user_col',
	 $$UPDATE recsys.models SET params = params - 'user_col' WHERE name = 'dmg_mix'$$),
	-- (defect 7) factors of the wrong type: damage, not a cast's 22P02
	('dmg_als', 'params with factors 1.5',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{factors}', '1.5') WHERE name = 'dmg_als'$$),
	('dmg_als', 'params with factors [8]',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{factors}', '[8]') WHERE name = 'dmg_als'$$),
	-- (defect 5) factors far beyond train_cf's 1024, refused before allocating n_items x factors
	('dmg_als', 'params with factors 2000000',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{factors}', '2000000') WHERE name = 'dmg_als'$$),
	('dmg_als', 'params with factors 1025',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{factors}', '1025') WHERE name = 'dmg_als'$$),
	('dmg_bpr', 'params with a half_life_seconds negative',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{half_life_seconds}', '-1') WHERE name = 'dmg_bpr'$$),
	('dmg_ease', 'params with binary "maybe"',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{binary}', '"maybe"') WHERE name = 'dmg_ease'$$),
	('dmg_als', 'params with a seed not an integer',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{seed}', '"x"') WHERE name = 'dmg_als'$$),
	-- s10: the settings a factor model's fold-in solves with, in their
	-- trainer's range (a hand-edited regularization gave 22000 "not
	-- positive definite" at fold-in, or a silent wrong vector)
	('dmg_mf', 'params with regularization 0',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{regularization}', '0') WHERE name = 'dmg_mf'$$),
	('dmg_mf', 'params with regularization -1',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{regularization}', '-1') WHERE name = 'dmg_mf'$$),
	('dmg_mf', 'params with regularization_exponent 1 (explicit)',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{regularization_exponent}', '1') WHERE name = 'dmg_mf'$$),
	('dmg_als', 'params with regularization -1',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{regularization}', '-1') WHERE name = 'dmg_als'$$),
	('dmg_als', 'params with regularization 1e7',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{regularization}', '1e7') WHERE name = 'dmg_als'$$),
	('dmg_als', 'params with alpha -1',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{alpha}', '-1') WHERE name = 'dmg_als'$$),
	('dmg_als', 'params with regularization_exponent -1',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{regularization_exponent}', '-1') WHERE name = 'dmg_als'$$),
	('dmg_bpr', 'params with regularization -1',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{regularization}', '-1') WHERE name = 'dmg_bpr'$$),
	('dmg_bpr', 'params with a half_life_seconds 0',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{half_life_seconds}', '0') WHERE name = 'dmg_bpr'$$),
	('dmg_knn', 'params with a half_life_seconds 1e-30',
	 $$UPDATE recsys.models SET params = jsonb_set(params, '{half_life_seconds}', '1e-30') WHERE name = 'dmg_knn'$$),
	-- review s9, defect 4: rows training never writes, served silently before
	('dmg_knn', 'a neighbour list naming its own item',
	 $$UPDATE recsys.item_neighbor_lists SET neighbor_ids[1] = item_id WHERE model = 'dmg_knn' AND item_id = 10$$),
	('dmg_knn', 'a neighbour list naming an item twice',
	 $$UPDATE recsys.item_neighbor_lists SET neighbor_ids[2] = neighbor_ids[1] WHERE model = 'dmg_knn' AND item_id = 10$$),
	('dmg_uknn', 'a neighbour list naming its own user',
	 $$UPDATE recsys.user_neighbor_lists SET neighbor_ids[1] = user_id WHERE model = 'dmg_uknn' AND user_id = 1$$),
	('dmg_knn', 'a neighbour score infinite',
	 $$UPDATE recsys.item_neighbor_lists SET scores[1] = 'Infinity' WHERE model = 'dmg_knn' AND item_id = 10$$),
	('dmg_ease', 'a neighbour score minus infinity',
	 $$UPDATE recsys.item_neighbor_lists SET scores[1] = '-Infinity' WHERE model = 'dmg_ease' AND item_id = 10$$),
	('dmg_ease', 'a neighbour score not a number',
	 $$UPDATE recsys.item_neighbor_lists SET scores[2] = 'NaN' WHERE model = 'dmg_ease' AND item_id = 10$$),
	('dmg_knn', 'a version with no rows',
	 $$UPDATE recsys.models SET version = 7 WHERE name = 'dmg_knn'$$),
	('dmg_als', 'a version with no rows',
	 $$UPDATE recsys.models SET version = 7 WHERE name = 'dmg_als'$$),
	('dmg_als', 'algorithm item_knn on an als version',
	 $$UPDATE recsys.models SET algorithm = 'item_knn' WHERE name = 'dmg_als'$$),
	('dmg_knn', 'algorithm als on an item_knn version',
	 $$UPDATE recsys.models SET algorithm = 'als' WHERE name = 'dmg_knn'$$),
	-- a blend's weights and members of the wrong type: damage, not a cast's error
	('dmg_mix', 'a member weight "x"',
	 $$UPDATE recsys.model_versions SET params = jsonb_set(params, '{weights,0}', '"x"') WHERE model = 'dmg_mix'$$),
	('dmg_mix', 'a member weight 1e39',
	 $$UPDATE recsys.model_versions SET params = jsonb_set(params, '{weights,0}', '1e39') WHERE model = 'dmg_mix'$$),
	('dmg_mix', 'members an object',
	 $$UPDATE recsys.model_versions SET params = jsonb_set(params, '{members}', '{"a": 1}') WHERE model = 'dmg_mix'$$),
	-- (defect 7) an empty source name: damage, not 42602 from the name's parser
	('dmg_als', 'source empty',
	 $$UPDATE recsys.models SET source = '' WHERE name = 'dmg_als'$$);

CREATE FUNCTION try_damage(d damages) RETURNS TABLE (step text, outcome text) LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE d.damage;
	PERFORM touch(d.model);
	step := 'damaged';
	outcome := serve(d.model);
	RETURN NEXT;
	-- the error left nothing behind: the same statement fails the same way
	step := 'again';
	outcome := CASE WHEN serve(d.model) = outcome THEN 'same' ELSE serve(d.model) END;
	RETURN NEXT;
	PERFORM repair();
	step := 'repaired';
	outcome := serve(d.model);
	RETURN NEXT;
END $$;

SELECT d.n, d.model, d.what, t.step, t.outcome
FROM damages d, LATERAL try_damage(d) WITH ORDINALITY t
ORDER BY d.n, t.ordinality;

-- s10: a factor model whose regularization was removed or nulled still
-- serves its stored users (a model built by hand may have none), but a
-- fold-in, which solves with it, is refused as damage naming the key
-- (before: mf 22000 "not positive definite", BPR silently with none)
CREATE FUNCTION fold_without_regularization(m text, edit text) RETURNS TABLE (stored text, folded text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('UPDATE recsys.models SET params = %s WHERE name = %L', edit, m);
	PERFORM touch(m);
	stored := serve(m);
	folded := outcome(format('SELECT count(*) FROM recsys.recommend_session(ARRAY[10, 11]::bigint[], 3, %L)', m));
	PERFORM repair();
	RETURN NEXT;
END $$;
SELECT m, edit, f.*
FROM (VALUES ('dmg_mf', $$jsonb_set(params, '{regularization}', 'null')$$),
			 ('dmg_mf', $$params - 'regularization'$$),
			 ('dmg_als', $$params - 'regularization'$$),
			 ('dmg_bpr', $$params - 'regularization'$$)) v(m, edit),
	 LATERAL fold_without_regularization(m, edit) f;
-- repaired, the fold-in serves
SELECT outcome($$SELECT count(*) FROM recsys.recommend_session(ARRAY[10, 11]::bigint[], 3, 'dmg_mf')$$) AS mf_folds;

-- A damaged model is retrained: the next statement serves the new version.
UPDATE recsys.item_factors SET factors = '{1}' WHERE model = 'dmg_als' AND item_id = 13;
SELECT touch('dmg_als');
SELECT serve('dmg_als');
SELECT (recsys.train_cf('buys', 2, model => 'dmg_als', iterations => 3, seed => 1)).version;
SELECT serve('dmg_als');
SELECT serve('dmg_mix');
-- ... and other kinds
UPDATE recsys.item_neighbor_lists SET neighbor_ids[1] = 99 WHERE model = 'dmg_knn';
SELECT touch('dmg_knn');
SELECT serve('dmg_knn');
SELECT (recsys.train_item_knn('buys', 5, model => 'dmg_knn')).version;
SELECT serve('dmg_knn');
UPDATE recsys.model_parameters SET value[1] = 'NaN' WHERE model = 'dmg_ncf' AND name = 'output.weight';
SELECT touch('dmg_ncf');
SELECT serve('dmg_ncf');
SELECT (recsys.train_ncf('buys', 2, model => 'dmg_ncf', hidden => '{3,2}', iterations => 2, seed => 1)).version;
SELECT serve('dmg_ncf');

-- the server never restarted
SELECT pg_postmaster_start_time() = :'started' AS same_postmaster;

DROP SCHEMA damaged CASCADE;
DELETE FROM recsys.models WHERE name LIKE 'dmg\_%';
