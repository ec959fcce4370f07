-- Findings of session 11's hostile review (fixr): train_auto's blend
-- member names (F5), refresh_items of a hand-edited cold re-ranker (F4),
-- training without the recsys table privileges (F2), cold re-rankers that
-- can rank nothing (F3).  Each case failed (wrong write, late or unclear
-- error) before its fix.
SET client_min_messages = warning;
CREATE SCHEMA review_s11_fixr;
SET search_path = review_s11_fixr, public;
SET extra_float_digits = 0;
CREATE FUNCTION err(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	hint text;
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
	RETURN SQLSTATE || ': ' || SQLERRM || CASE WHEN hint <> '' THEN ' HINT: ' || hint ELSE '' END;
END
$$;
-- 30 users x 10 items, and features of items 1 to 10 and of 101, 102
-- (cold: no interactions)
CREATE TABLE ev (user_id bigint, item_id bigint);
INSERT INTO ev SELECT u, i FROM generate_series(1, 30) u, generate_series(1, 10) i WHERE (u + i) % 3 <> 0;
CREATE TABLE feat (item_id bigint, feature text);
INSERT INTO feat SELECT i, CASE WHEN i <= 5 THEN 'tea' ELSE 'cake' END FROM generate_series(1, 10) i;
INSERT INTO feat SELECT i, 'green' FROM generate_series(1, 10, 2) i;
INSERT INTO feat VALUES (101, 'tea'), (101, 'green'), (102, 'cake');
-- (weights, one not finite)
CREATE TABLE ev_w AS SELECT user_id, item_id, 1.0::float8 AS w, 'x'::text AS wt, true AS wb FROM ev;
UPDATE ev_w SET w = 'NaN' WHERE user_id = 2 AND item_id = 2;

CREATE ROLE regress_recsys_s11fixr_alice;
CREATE ROLE regress_recsys_s11fixr_bob;
CREATE ROLE regress_recsys_s11fixr_nogrant;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_s11fixr_alice, regress_recsys_s11fixr_bob;
GRANT USAGE ON SCHEMA review_s11_fixr
	TO regress_recsys_s11fixr_alice, regress_recsys_s11fixr_bob, regress_recsys_s11fixr_nogrant;
GRANT SELECT ON ev, ev_w, feat TO regress_recsys_s11fixr_alice, regress_recsys_s11fixr_bob, regress_recsys_s11fixr_nogrant;

-- F5: train_auto's blend members.  Their names: <model>_auto_<family>
-- while that fits 63 bytes, else the model's name cut with a hash of it,
-- so that two long names sharing a prefix do not share members (before:
-- left(model, 40), shared, and 40 x 'é' made a name of 86 bytes)
SELECT recsys._auto_member_name('shop', 'ease') AS short,
	   recsys._auto_member_name(repeat('x', 45) || '_shop_eu', 'ease_features')
	   <> recsys._auto_member_name(repeat('x', 45) || '_shop_us', 'ease_features') AS distinct_long,
	   (SELECT max(octet_length(recsys._auto_member_name(m, f)))
		FROM unnest(ARRAY[repeat('x', 63), repeat('é', 31), repeat('x', 45) || '_shop_eu']) m,
			 unnest(ARRAY['als', 'ease_features', 'popular']) f) AS longest_bytes,
	   recsys._auto_member_name(repeat('é', 31), 'als') AS cut_at_characters;

SET ROLE regress_recsys_s11fixr_alice;
-- her own model under a member's name, trained by hand: train_auto refuses
-- it before training anything (before: the blend's member was written
-- over it at the end, algorithm and all, without replace)
SELECT name, algorithm, version FROM recsys.train_popular('ev', model => 'fa_auto_ease');
SELECT err($$SELECT * FROM recsys.train_auto('ev', 'fa', families => '{popular,ease}', budget => '1 minute')$$);
SELECT name, algorithm, version FROM recsys.models WHERE name LIKE 'fa%' ORDER BY name;
-- a member train_auto trained for another model: refused too
SELECT name FROM recsys.train_popular('ev', model => 'fc_auto_popular');
UPDATE recsys.models SET metrics = '{"train_auto_member": {"blend": "other", "family": "popular"}}'
WHERE name = 'fc_auto_popular';
SELECT err($$SELECT * FROM recsys.train_auto('ev', 'fc', families => '{popular}', budget => '1 minute')$$);
-- one trained as this model's member is retrained (as is one its last run
-- lists, trained before 0.11.0 recorded the blend)
UPDATE recsys.models SET metrics = '{"train_auto_member": {"blend": "fc", "family": "popular"}}'
WHERE name = 'fc_auto_popular';
SELECT count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen
FROM recsys.train_auto('ev', 'fc', families => '{popular}', budget => '1 minute');
SELECT name FROM recsys.train_popular('ev', model => 'fd');
SELECT name FROM recsys.train_popular('ev', model => 'fd_auto_popular');
UPDATE recsys.models SET metrics = '{"train_auto": {"winner": {"members": ["fd_auto_popular"]}}}' WHERE name = 'fd';
SELECT count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen
FROM recsys.train_auto('ev', 'fd', families => '{popular}', budget => '1 minute');
-- F6: a features relation without the trainers' columns, and weights that
-- are not finite, are refused before the search (before: "no candidate
-- within the budget", or the family left out without a word)
SELECT err($$SELECT * FROM recsys.train_auto('ev', 'fe', features => 'ev', families => '{ease_features}', budget => '1 minute')$$);
SELECT err($$SELECT * FROM recsys.train_auto('ev_w', 'fe', weight_col => 'w', families => '{popular}', budget => '1 minute')$$);
-- R12: a weight column that is not a number, named with its type (before:
-- the cast's own error, 22P02 or 42846, not naming weight_col)
SELECT err($$SELECT * FROM recsys.train_auto('ev_w', 'fe', weight_col => 'wt', families => '{popular}', budget => '1 minute')$$);
SELECT err($$SELECT * FROM recsys.train_auto('ev_w', 'fe', weight_col => 'wb', families => '{popular}', budget => '1 minute')$$);
-- a member as train_auto stores it when a blend wins: under its name,
-- recording the blend (which lets the next run retrain it)
SELECT recsys._auto_keep_member(recsys._tune_trainer('popular'), 'ev', 'fg', 'popular', '{}') AS member;
SELECT m.algorithm, m.metrics -> 'train_auto_member' AS models_metrics, v.metrics -> 'train_auto_member' AS version_metrics
FROM recsys.models m JOIN recsys.model_versions v ON v.model = m.name AND v.version = m.version
WHERE m.name = 'fg_auto_popular';
SELECT err($$SELECT recsys._auto_check_members('fg', '{popular,ease}', false)$$) AS fg_check;
-- bob's model under a member's name: 42501 before training (before: at
-- the very end of the budget, everything rolled back)
SET ROLE regress_recsys_s11fixr_bob;
SELECT name FROM recsys.train_popular('ev', model => 'fb_auto_ease');
SET ROLE regress_recsys_s11fixr_alice;
SELECT err($$SELECT * FROM recsys.train_auto('ev', 'fb', families => '{popular,ease}', budget => '1 minute')$$);
SELECT err($$SELECT * FROM recsys.train_auto('ev', 'fb', families => '{popular,ease}', budget => '1 minute', replace => true)$$);
SELECT count(*) AS fb_models FROM recsys.models WHERE name = 'fb';

-- F2: a role without the table privileges doc/operations.md grants is
-- refused before the source is read (before: after the whole training)
SET ROLE regress_recsys_s11fixr_nogrant;
SELECT err($$SELECT recsys.train_popular('ev', model => 'fn')$$);
SELECT err($$SELECT recsys.train_cold_ranker('ev', 'feat', model => 'fn', coefficients => '{0,1,0,0}', regularization => 1)$$);
SELECT err($$SELECT * FROM recsys.train_auto('ev', 'fn', families => '{popular}', budget => '1 minute')$$);
SELECT err($$SELECT * FROM recsys.tune('popular', 'ev', 'ev', '{}', model => 'fn')$$);
RESET ROLE;

-- F4: refresh_items of a cold re-ranker checks the model as serving does
-- before writing (before: hand edits were written over, a duplicate key,
-- or "(null)" printed for a missing name)
SELECT name, stats ->> 'cold_items' AS cold FROM recsys.train_cold_ranker('ev', 'feat', model => 'fx_cr', coefficients => '{0,1,0,0}', regularization => 1);
BEGIN;
DELETE FROM recsys.item_stats WHERE model = 'fx_cr' AND n_users > 0;
SELECT err($$SELECT recsys.refresh_items('fx_cr')$$);
ROLLBACK;
BEGIN;
DELETE FROM recsys.item_stats WHERE model = 'fx_cr' AND n_users = 0;
SELECT err($$SELECT recsys.refresh_items('fx_cr')$$);
ROLLBACK;
BEGIN;
UPDATE recsys.models SET params = params - 'features' WHERE name = 'fx_cr';
SELECT err($$SELECT recsys.refresh_items('fx_cr')$$);
ROLLBACK;
BEGIN;
UPDATE recsys.models SET n_items = n_items + 5 WHERE name = 'fx_cr';
SELECT err($$SELECT recsys.refresh_items('fx_cr')$$);
ROLLBACK;
BEGIN;
UPDATE recsys.item_term_lists SET scores = '{NaN}' WHERE model = 'fx_cr' AND term = 'prior' AND item_id = 101;
SELECT err($$SELECT recsys.refresh_items('fx_cr')$$);
ROLLBACK;
-- item_col edited to a column the features relation lacks
BEGIN;
UPDATE recsys.models SET params = params || '{"item_col": "no col"}' WHERE name = 'fx_cr';
SELECT err($$SELECT recsys.refresh_items('fx_cr')$$);
SELECT err($$SELECT * FROM recsys.recommend(1, 2, 'fx_cr')$$);
ROLLBACK;
-- every term row gone: serving returned no row without error; each cold
-- item has its prior row
BEGIN;
DELETE FROM recsys.item_term_lists WHERE model = 'fx_cr';
SELECT err($$SELECT * FROM recsys.recommend(1, 2, 'fx_cr')$$);
SELECT err($$SELECT recsys.refresh_items('fx_cr')$$);
ROLLBACK;
BEGIN;
DELETE FROM recsys.item_term_lists WHERE model = 'fx_cr' AND item_id = 102;
SELECT err($$SELECT * FROM recsys.recommend(1, 2, 'fx_cr')$$);
ROLLBACK;
-- the model as trained still refreshes: a new item of the features
INSERT INTO feat VALUES (103, 'cake'), (103, 'green');
SELECT recsys.refresh_items('fx_cr') AS refreshed;
SELECT array_agg(item_id ORDER BY item_id) AS cold_served FROM recsys.recommend(1, 5, 'fx_cr');
DELETE FROM feat WHERE item_id = 103;

-- F8: a model a session loads while its transaction has edited the
-- model's tables leaves the cache when that transaction (or savepoint)
-- rolls back (before: the session served the rolled-back edit until the
-- model was retrained)
\c -
SET search_path = review_s11_fixr, public;
BEGIN;
UPDATE recsys.item_term_lists SET scores = '{1000}' WHERE model = 'fx_cr' AND term = 'prior' AND item_id = 101;
SELECT array_agg(item_id || ': ' || round(score::numeric, 2) ORDER BY item_id) AS top_edited FROM recsys.recommend(999, 3, 'fx_cr');
ROLLBACK;
SELECT array_agg(item_id || ': ' || round(score::numeric, 2) ORDER BY item_id) AS top_after_rollback FROM recsys.recommend(999, 3, 'fx_cr');
\c -
SET search_path = review_s11_fixr, public;
BEGIN;
SAVEPOINT edit;
UPDATE recsys.item_term_lists SET scores = '{1000}' WHERE model = 'fx_cr' AND term = 'prior' AND item_id = 101;
SELECT array_agg(item_id || ': ' || round(score::numeric, 2) ORDER BY item_id) AS top_edited FROM recsys.recommend(999, 3, 'fx_cr');
ROLLBACK TO edit;
SELECT array_agg(item_id || ': ' || round(score::numeric, 2) ORDER BY item_id) AS top_after_rollback_to FROM recsys.recommend(999, 3, 'fx_cr');
COMMIT;
\c -
SET search_path = review_s11_fixr, public;
SET client_min_messages = warning;
SET extra_float_digits = 0;
SELECT array_agg(item_id || ': ' || round(score::numeric, 2) ORDER BY item_id) AS top_committed FROM recsys.recommend(999, 3, 'fx_cr');

-- F7: a cold re-ranker is no blend member (its "no score" for warm items
-- was read as 0, so the blend ranked the cold items last); a blend made
-- before is refused when used
SELECT name FROM recsys.train_popular('ev', model => 'fv_pop');
SELECT err($$SELECT recsys.train_blend('{fx_cr,fv_pop}', '{1,1}', model => 'fv_bl')$$);
SELECT name FROM recsys.train_blend('{fv_pop}', '{1}', model => 'fv_bl');
BEGIN;
UPDATE recsys.model_versions SET params = params || '{"members": ["fx_cr", "fv_pop"], "weights": [1, 1]}'
WHERE model = 'fv_bl';
UPDATE recsys.models SET params = params || '{"members": ["fx_cr", "fv_pop"], "weights": [1, 1]}' WHERE name = 'fv_bl';
SELECT err($$SELECT * FROM recsys.recommend(1, 3, 'fv_bl')$$);
ROLLBACK;
-- R11: nor is it a re-ranker's candidates_from (before: train_fm trained,
-- then served no row to any user); one made before is refused when used
SELECT err($$SELECT recsys.train_fm('ev', 'fx_cr', 'fv_fm', factors => 2, epochs => 1)$$);
SELECT name FROM recsys.train_fm('ev', 'fv_pop', 'fv_fm', factors => 2, epochs => 1);
BEGIN;
UPDATE recsys.model_versions SET params = params || '{"candidates_from": "fx_cr"}' WHERE model = 'fv_fm';
UPDATE recsys.models SET params = params || '{"candidates_from": "fx_cr"}' WHERE name = 'fv_fm';
SELECT err($$SELECT * FROM recsys.recommend(1, 3, 'fv_fm')$$);
SELECT err($$SELECT recsys.score(1, 3, 'fv_fm')$$);
ROLLBACK;

-- F3: a features relation that gives no item a feature is refused; one
-- without cold items trains with a warning (it ranks nothing until
-- refresh_items finds some); a fit whose pseudo-cold items have no
-- features (so all rank alike) records no NDCG: it is refused
CREATE TABLE f_empty (item_id bigint, feature text);
CREATE TABLE f_null AS SELECT item_id, NULL::text AS feature FROM feat;
CREATE TABLE f_warm AS SELECT * FROM feat WHERE item_id <= 10;
CREATE TABLE f_cold AS SELECT * FROM feat WHERE item_id > 100;
CREATE TABLE f_dup AS SELECT * FROM feat UNION ALL SELECT * FROM feat;
SELECT err($$SELECT recsys.train_cold_ranker('ev', 'f_empty', model => 'fy_cr')$$);
SELECT err($$SELECT recsys.train_cold_ranker('ev', 'f_null', model => 'fy_cr', coefficients => '{0,1,0,0}', regularization => 1)$$);
SELECT name, stats ->> 'cold_items' AS cold FROM recsys.train_cold_ranker('ev', 'f_warm', model => 'fy_cr', coefficients => '{0,1,0,0}', regularization => 1);
SELECT count(*) AS recommended FROM recsys.recommend(1, 5, 'fy_cr');
SELECT err($$SELECT recsys.train_cold_ranker('ev', 'f_cold', model => 'fz_cr', pseudo_splits => 2)$$);
-- (with enough warm items to hide: before, a fit of ties, NDCG 1 recorded)
CREATE TABLE ev2 AS SELECT u AS user_id, i AS item_id FROM generate_series(1, 40) u, generate_series(1, 30) i
WHERE (u * i) % 4 <> 0;
SELECT err($$SELECT recsys.train_cold_ranker('ev2', 'f_cold', model => 'fz_cr', pseudo_splits => 2)$$);
SELECT name, stats ->> 'cold_items' AS cold, stats ? 'pseudo_cold_ndcg_mean' AS ndcg_recorded
FROM recsys.train_cold_ranker('ev', 'f_cold', model => 'fz_cr', coefficients => '{0,1,0,0}', regularization => 1);
-- duplicate feature rows count once: the same terms as without them
SELECT name FROM recsys.train_cold_ranker('ev', 'f_dup', model => 'fw_cr', coefficients => '{0,1,0,0}', regularization => 1);
SELECT count(*) AS differing_term_rows
FROM (SELECT item_id, term, neighbor_ids, scores FROM recsys.item_term_lists WHERE model = 'fx_cr'
	  AND item_id <> 103 -- (refreshed in)
	  EXCEPT SELECT item_id, term, neighbor_ids, scores FROM recsys.item_term_lists WHERE model = 'fw_cr') d;

RESET ROLE;
SELECT recsys.drop_model(name) FROM recsys.models
WHERE name IN ('fa_auto_ease', 'fg_auto_popular', 'fb_auto_ease', 'fc', 'fc_auto_popular', 'fd', 'fd_auto_popular',
			   'fx_cr', 'fy_cr', 'fz_cr', 'fw_cr', 'fv_bl', 'fv_fm', 'fv_pop')
ORDER BY name = 'fv_bl' DESC, name;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys
	FROM regress_recsys_s11fixr_alice, regress_recsys_s11fixr_bob;
DROP SCHEMA review_s11_fixr CASCADE;
DROP ROLE regress_recsys_s11fixr_alice;
DROP ROLE regress_recsys_s11fixr_bob;
DROP ROLE regress_recsys_s11fixr_nogrant;
