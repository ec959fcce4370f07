-- Findings of session 11's hostile reviews, each fixed: the case that
-- failed (crash, wrong answer or unclear error) and what it gives now.
SET client_min_messages = warning;
CREATE SCHEMA review_s11;
SET search_path = review_s11, public;
CREATE FUNCTION err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
CREATE TABLE ev (user_id bigint, item_id bigint);
INSERT INTO ev SELECT u, i FROM generate_series(1, 30) u, generate_series(1, 10) i WHERE (u + i) % 3 <> 0;
CREATE TABLE feat (item_id bigint, feature text);
INSERT INTO feat SELECT i, CASE WHEN i <= 5 THEN 'tea' ELSE 'cake' END FROM generate_series(1, 10) i;
INSERT INTO feat VALUES (101, 'tea'), (102, 'cake');

-- F1: refresh_items of a cold re-ranker whose item_stats rows were deleted
-- by hand crashed the server (a NULL array read as one); now it is damaged
SELECT name FROM recsys.train_cold_ranker('ev', 'feat', model => 'rv_cr', coefficients => '{0,1,0,0}', regularization => 1);
BEGIN;
DELETE FROM recsys.item_stats WHERE model = 'rv_cr';
SELECT err($$SELECT recsys.refresh_items('rv_cr')$$);
ROLLBACK;
SELECT count(*) > 0 AS still_serves FROM recsys.recommend(1, 2, 'rv_cr');

SELECT count(*) AS dropped FROM recsys.models m, LATERAL recsys.drop_model(m.name) WHERE m.name LIKE 'rv\_%';
DROP SCHEMA review_s11 CASCADE;
