-- Findings of session 12's hostile review (doc: /work/notes/s12/review.md),
-- NOT fixed on main at 0594430: each query states the expected property,
-- and expected/review_s12.out holds the answer a fix should give (true /
-- the SQLSTATE class), so this test FAILS on main until they are fixed.
CREATE SCHEMA review_s12;
SET search_path = review_s12, public;
SET client_min_messages = warning;
-- the SQLSTATE a statement fails with ('no error' when it succeeds)
CREATE FUNCTION err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE state text := 'no error';
BEGIN
	BEGIN EXECUTE q; EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE; END;
	RETURN state;
END
$$;
CREATE TABLE ev (user_id bigint, item_id bigint, weight real);
INSERT INTO ev SELECT u, (u * 7 + j * 13) % 50, 1 FROM generate_series(1, 200) u, generate_series(1, 8) j;
CREATE TABLE feat (item_id bigint, feature text);
INSERT INTO feat SELECT i, 'f' || (i % 7) FROM generate_series(0, 59) i;
INSERT INTO feat SELECT i, 'g' || (i % 5) FROM generate_series(0, 59) i;

-- V1: the fixed-horizon verdict claims a difference where the same row's
-- mde says none is detectable (1 converting control user against 3 users
-- without a conversion: pooled z-test at n = 1, p 0.0455)
SELECT name FROM recsys.train_popular('ev', 'rv12_pop');
SELECT name FROM recsys.create_experiment('rv12_e', '[{"name": "A", "model": "rv12_pop"}, {"name": "B", "model": "rv12_pop"}]', salt => 's');
INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position, shown_at) VALUES
 ('rv12_e', 'A', 1, 10, 1, now() - interval '1 hour'), ('rv12_e', 'B', 2, 10, 1, now() - interval '1 hour'),
 ('rv12_e', 'B', 3, 10, 1, now() - interval '1 hour'), ('rv12_e', 'B', 4, 11, 1, now() - interval '1 hour');
INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, amount, at) VALUES ('rv12_e', 1, 'conversion', 10, now());
SELECT variant, mde IS NULL AS no_mde,
       verdict NOT LIKE '%beats%' AND verdict NOT LIKE '%is worse than%' AS no_claim
FROM recsys.experiment_results('rv12_e', 'conversion', sequential => false) WHERE NOT is_control;

-- V2: a finite tau out of the statistics' range is an argument error
-- (22023 naming tau), not a bare overflow (22003)
SELECT err($$SELECT * FROM recsys.experiment_results('rv12_e', 'conversion', tau => 1e200)$$) AS tau_1e200;
SELECT err($$SELECT * FROM recsys.experiment_results('rv12_e', 'conversion', tau => 1e-200)$$) AS tau_1e_200;

-- V3: item-kNN BM25 on weights whose per-item sum overflows real: either
-- refused at training (22003 or 22023) or every cold-start score finite
CREATE TABLE huge AS SELECT user_id, item_id, CASE WHEN item_id = 3 THEN 3e38::real ELSE 1 END AS weight FROM ev;
CREATE FUNCTION bm25_huge() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	PERFORM recsys.train_item_knn('huge', 5, 'rv12_bm25', weight_col => 'weight', similarity => 'bm25');
	RETURN (SELECT bool_and(score::float8 < 'Infinity') FROM recsys.recommend(-1, 5, 'rv12_bm25'));
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE IN ('22003', '22023');
END
$$;
SELECT bm25_huge() AS bm25_huge_ok;

-- V4: train_popular's overflowing weight sum names weight_col (22003/22023
-- with the argument), not a bare "value out of range: overflow"
CREATE TABLE huge_t AS SELECT *, now() AS ts FROM huge;
DO $$
BEGIN
	PERFORM recsys.train_popular('huge_t', 'rv12_pt', weight_col => 'weight', time_col => 'ts', half_life => '1 day');
	RAISE NOTICE 'trained';
EXCEPTION WHEN OTHERS THEN
	RAISE WARNING 'names weight_col: %', SQLERRM LIKE '%weight_col%';
END
$$;

-- V6: refresh_items of a factor model with features after a hand edit of
-- item_stats is damage (XX001), not 23505 or 2201E
SELECT name FROM recsys.train_cf('ev', 4, 'rv12_cf', features => 'feat', iterations => 2);
INSERT INTO feat VALUES (1000, 'f1');
BEGIN;
DELETE FROM recsys.item_stats WHERE model = 'rv12_cf' AND item_id = 3;
SELECT err($$SELECT recsys.refresh_items('rv12_cf')$$) AS deleted_row;
ROLLBACK;
BEGIN;
UPDATE recsys.item_stats SET n_users = -5 WHERE model = 'rv12_cf' AND item_id = 3;
SELECT err($$SELECT recsys.refresh_items('rv12_cf')$$) AS negative_users;
ROLLBACK;

-- V8: a mean over no evaluated user is not 0: evaluate's ranking metrics
-- are NULL (or the call fails), and tune does not choose on such zeros
CREATE TABLE nousers (user_id bigint, item_id bigint);
INSERT INTO nousers VALUES (99999, 3);
CREATE FUNCTION no_users_ok() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	RETURN (SELECT value IS NULL FROM recsys.evaluate('rv12_pop', 'nousers', 5) WHERE metric = 'ndcg@5');
EXCEPTION WHEN OTHERS THEN
	RETURN true;
END
$$;
SELECT no_users_ok() AS evaluate_no_users_ok;
SELECT err($$SELECT * FROM recsys.tune('ease', 'ev', 'nousers', grid => '{"regularization": [1, 100]}', model => 'rv12_tn')$$) <> 'no error' AS tune_refuses;

SELECT recsys.drop_experiment('rv12_e');
SELECT count(*) > 0 AS dropped FROM recsys.models m, LATERAL recsys.drop_model(m.name) WHERE m.name LIKE 'rv12\_%';
DROP SCHEMA review_s12 CASCADE;
