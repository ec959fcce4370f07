-- s10-fix: a catalog row edited by hand (its owner may) that search cannot
-- rank with is damage (XX001 naming what is wrong), not a cast's error or
-- NaN scores ranked silently: weights that are not numbers (a string "NaN"
-- cast to real gave NaN scores), too large, or not objects; a negative
-- n_items or an avg_length that is not finite (every BM25 score NaN).
-- Weights are checked as written (s10-fixr's trigger) and by search with
-- the same rule; a missing set weighs every feature 0 (served).
\set VERBOSITY terse
CREATE TABLE sd_products (item_id bigint PRIMARY KEY, title text);
INSERT INTO sd_products VALUES (1, 'red lunch bag'), (2, 'blue lunch bag'), (3, 'tin sign');
CREATE TABLE sd_events (user_id bigint, item_id bigint);
INSERT INTO sd_events VALUES (10, 1), (11, 1), (12, 2);
SELECT n_items FROM recsys.train_popular('sd_events', model => 'sd_pop');
SELECT recsys.index_catalog('sd_products', name => 'sd');
CREATE TABLE sd_saved AS SELECT weights, n_items, avg_length FROM recsys.catalogs WHERE name = 'sd';
-- by construction: item 1 (bought twice) first among the bags
SELECT item_id FROM recsys.search('lunch bag', k => 2, model => 'sd_pop', catalog => 'sd');

CREATE FUNCTION sd_try(edit text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	got text;
BEGIN
	-- written past the write check (catalogs_weights_check), as rows of a
	-- catalog written before 0.11.0 or with triggers disabled are
	SET LOCAL session_replication_role = replica;
	EXECUTE 'UPDATE recsys.catalogs SET ' || edit || ' WHERE name = ''sd''';
	SET LOCAL session_replication_role = origin;
	BEGIN
		SELECT string_agg(s.item_id::text || ':' || s.score::text, ' ') INTO got
		FROM recsys.search('lunch bag', k => 2, model => 'sd_pop', catalog => 'sd') s;
		got := 'served ' || coalesce(got, '');
	EXCEPTION WHEN OTHERS THEN
		got := SQLSTATE || ': ' || SQLERRM;
	END;
	UPDATE recsys.catalogs c SET weights = s.weights, n_items = s.n_items, avg_length = s.avg_length
	FROM sd_saved s WHERE c.name = 'sd';
	RETURN got;
END $$;
SELECT edit, sd_try(edit) AS outcome
FROM unnest(ARRAY[
	$$weights = jsonb_set(weights, '{anonymous,text}', '"NaN"')$$,
	$$weights = jsonb_set(weights, '{anonymous,popularity}', '"x"')$$,
	$$weights = jsonb_set(weights, '{personal,bought}', '1e39')$$,
	$$weights = jsonb_set(weights, '{anonymous}', '[1, 2]')$$,
	$$weights = weights - 'anonymous'$$,
	$$avg_length = 'NaN'$$,
	$$avg_length = 'Infinity'$$,
	$$avg_length = -1$$,
	$$n_items = -5$$]) edit;
-- repaired: served as before
SELECT item_id FROM recsys.search('lunch bag', k => 2, model => 'sd_pop', catalog => 'sd');

SELECT recsys.drop_catalog('sd');
SELECT recsys.drop_model('sd_pop');
DROP TABLE sd_products, sd_events, sd_saved;
DROP FUNCTION sd_try(text);
