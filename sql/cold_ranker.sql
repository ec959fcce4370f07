-- The cold re-ranker (train_cold_ranker, algorithm cold_ranker): cold items
-- ranked by a per-user z-scored mix of stored terms; answers known by
-- construction, the mix recomputed in SQL from the stored tables, refresh,
-- every error path with its SQLSTATE, and two roles.
SET client_min_messages = warning;
CREATE SCHEMA cold_ranker_test;
SET search_path = cold_ranker_test, public;
-- users 1-30 buy tea items (1-10), users 31-40 cake items (11-20); small
-- items (size:s) are 1-5 and 11-15, large the others
CREATE TABLE cr_ev (user_id bigint, item_id bigint);
INSERT INTO cr_ev SELECT u, i FROM generate_series(1, 30) u, generate_series(1, 10) i WHERE (u + i) % 3 <> 0;
INSERT INTO cr_ev SELECT u, i FROM generate_series(31, 40) u, generate_series(11, 20) i WHERE (u + i) % 3 <> 0;
CREATE TABLE cr_feat (item_id bigint, feature text);
INSERT INTO cr_feat SELECT i, CASE WHEN i <= 10 THEN 'tea' ELSE 'cake' END FROM generate_series(1, 20) i;
INSERT INTO cr_feat SELECT i, CASE WHEN (i - 1) % 10 < 5 THEN 'size:s' ELSE 'size:l' END FROM generate_series(1, 20) i;
-- the cold items: a small tea, a large cake, a spoon (no feature a warm item has)
INSERT INTO cr_feat VALUES (101, 'tea'), (101, 'size:s'), (102, 'cake'), (102, 'size:l'), (103, 'spoon');
-- errors as SQLSTATE: message
CREATE FUNCTION cr_err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- 1. Known by construction: with every coefficient 0 the score is
-- ln(content + 0.001), the content-only kNN: a tea buyer gets the small tea
-- first, a cake buyer the large cake; the spoon reaches nobody (last)
SELECT name, algorithm, n_items, stats->>'cold_items' AS cold, params->>'coefficients_from' AS coefficients_from
FROM recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'cr_zero', coefficients => '{0,0,0,0}');
SELECT item_id, round(score::numeric, 4) AS score, reason FROM recsys.recommend(1, 3, 'cr_zero');
SELECT item_id, reason FROM recsys.recommend(35, 3, 'cr_zero');
-- only cold items are ranked: a warm item has no score (NULL, as an item
-- the model does not know), so an ORDER BY over all items puts the cold
-- items first with NULLS LAST, however low their scores
SELECT recsys.score(1, 5, 'cr_zero') AS warm_item_score, recsys.score(1, 999999, 'cr_zero') AS unknown_item_score;
SELECT i AS item_id FROM unnest(ARRAY[5, 101, 12, 103, 102]::bigint[]) i
ORDER BY recsys.score(1, i, 'cr_zero') DESC NULLS LAST, i LIMIT 3;
SELECT count(*) AS warm_items_recommended FROM recsys.recommend(1, 20, 'cr_zero') WHERE item_id <= 20;
-- with the prior alone, a user without history gets the tea (bought by
-- 30 users) before the cake (10), as cold start
SELECT name, params->'regularization' AS regularization, params->>'regularization_from' AS regularization_from
FROM recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'cr_prior', coefficients => '{0,1,0,0}', regularization => 2);
SELECT item_id, reason FROM recsys.recommend(999, 2, 'cr_prior', candidates => ARRAY[101, 102]);
-- whatever the prior's coefficient (here 0): a user without history is
-- ranked by the prior alone with weight 1, so over two candidates the
-- scores are ln(0.001) + 1 and ln(0.001) - 1 (z-scores +1, -1), tea first
SELECT item_id, round(score::numeric, 4) AS score, round((ln(0.001) + CASE item_id WHEN 101 THEN 1 ELSE -1 END)::numeric, 4) AS by_construction, reason
FROM recsys.recommend(999, 2, 'cr_zero', candidates => ARRAY[102, 101]);
SELECT round(recsys.score(999, 101, 'cr_zero')::numeric, 4) > round(recsys.score(999, 102, 'cr_zero')::numeric, 4) AS score_agrees;
-- an empty session is a cold start too, ranked alike
SELECT item_id, reason FROM recsys.recommend_session(ARRAY[]::bigint[], 3, 'cr_zero');

-- 2. The fitted mix: coefficients fitted by the trainer on pseudo-cold
-- items (five salted splits of 10% of the warm items), and the ridge chosen
-- there among 1, 3 and 10, recorded in params
SELECT jsonb_array_length(params->'coefficients') AS n_coefficients, params->'terms' AS terms,
       params->>'coefficients_from' AS coefficients_from,
       params->'regularization' IN ('1', '3', '10') AS regularization_of_the_grid,
       params->>'regularization_from' AS regularization_from,
       jsonb_array_length(stats->'pseudo_cold_ndcg_by_regularization') AS ridges_tried,
       jsonb_array_length(stats->'pseudo_cold_ndcg') AS splits,
       (stats->>'pseudo_cold_ndcg_mean')::float8 BETWEEN 0 AND 1 AS ndcg_in_range
FROM recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'cr');
-- a user without history is ranked by the prior whatever the fitted
-- coefficients: tea (30 buyers), the spoon (the mean prior), cake (10)
SELECT item_id, reason FROM recsys.recommend(999, 3, 'cr');
-- the stored inputs: the lists over warm items (the spoon has none) and the priors
SELECT item_id, term, cardinality(neighbor_ids) AS entries, round(scores[1]::numeric, 4) AS first_score
FROM recsys.item_term_lists WHERE model = 'cr' ORDER BY 1, 2;
-- recommend's scores equal the mix recomputed in SQL from the stored
-- tables: each term summed over the user's items, standardised over the
-- candidates (population sd), weighted by params' coefficients; over all
-- three cold items and over two (the z-scores change with the candidates)
CREATE FUNCTION cr_mix(u bigint, cands bigint[]) RETURNS TABLE (item_id bigint, score float8)
LANGUAGE sql AS $$
WITH c AS (SELECT unnest(cands) AS item_id),
h AS (SELECT e.item_id FROM cr_ev e WHERE e.user_id = u),
t AS (SELECT c.item_id,
             coalesce(sum(x.s) FILTER (WHERE l.term = 'content'), 0) AS content,
             coalesce(sum(greatest(x.s, 0) ^ 3) FILTER (WHERE l.term = 'content'), 0) AS sharp,
             coalesce(sum(x.s) FILTER (WHERE l.term = 'cb2cf'), 0) AS cb2cf,
             coalesce(sum(x.s) FILTER (WHERE l.term = 'lists'), 0) AS lists,
             (SELECT p.scores[1] FROM recsys.item_term_lists p
              WHERE p.model = 'cr' AND p.item_id = c.item_id AND p.term = 'prior') AS prior
      FROM c LEFT JOIN recsys.item_term_lists l ON l.model = 'cr' AND l.item_id = c.item_id
      LEFT JOIN LATERAL unnest(l.neighbor_ids, l.scores) AS x(id, s) ON x.id IN (SELECT item_id FROM h)
      GROUP BY c.item_id),
v AS (SELECT item_id, ln(greatest(content, 0) + 0.001) AS base, ln(sharp + 0.001) AS sharp, prior, cb2cf, lists FROM t),
z AS (SELECT item_id, base,
             (sharp - avg(sharp) OVER ()) / greatest(stddev_pop(sharp) OVER (), 1e-6) AS z1,
             (prior - avg(prior) OVER ()) / greatest(stddev_pop(prior) OVER (), 1e-6) AS z2,
             (cb2cf - avg(cb2cf) OVER ()) / greatest(stddev_pop(cb2cf) OVER (), 1e-6) AS z3,
             (lists - avg(lists) OVER ()) / greatest(stddev_pop(lists) OVER (), 1e-6) AS z4 FROM v),
k AS (SELECT (params->'coefficients'->>0)::float8 AS c1, (params->'coefficients'->>1)::float8 AS c2,
             (params->'coefficients'->>2)::float8 AS c3, (params->'coefficients'->>3)::float8 AS c4
      FROM recsys.models WHERE name = 'cr')
SELECT item_id, base + c1 * z1 + c2 * z2 + c3 * z3 + c4 * z4 FROM z, k
$$;
SELECT r.item_id, abs(r.score - m.score) < 1e-4 AS matches_sql
FROM recsys.recommend(1, 3, 'cr', candidates => ARRAY[101, 102, 103]) r
JOIN cr_mix(1, ARRAY[101, 102, 103]) m USING (item_id) ORDER BY r.score DESC;
SELECT r.item_id, abs(r.score - m.score) < 1e-4 AS matches_sql
FROM recsys.recommend(35, 2, 'cr', candidates => ARRAY[101, 102]) r
JOIN cr_mix(35, ARRAY[101, 102]) m USING (item_id) ORDER BY r.score DESC;
SELECT (SELECT score FROM recsys.recommend(1, 3, 'cr') WHERE item_id = 101) <>
       (SELECT score FROM recsys.recommend(1, 3, 'cr', candidates => ARRAY[101, 102]) WHERE item_id = 101)
       AS standardised_over_the_candidates;
-- recommend_session ranks from the session's items
SELECT item_id FROM recsys.recommend_session(ARRAY[11, 12, 16]::bigint[], 1, 'cr_zero');

-- 3. A product added this morning, served the same minute
INSERT INTO cr_feat VALUES (104, 'tea'), (104, 'size:l');
SELECT recsys.refresh_items('cr_zero') AS refreshed, recsys.refresh_items('cr_zero') AS again;
SELECT n_items, stats->>'cold_items' AS cold FROM recsys.models WHERE name = 'cr_zero';
SELECT item_id, reason FROM recsys.recommend(1, 4, 'cr_zero');
-- its lists are the ones training would have given it
SELECT name FROM recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'cr_zero2', coefficients => '{0,0,0,0}');
SELECT l.term, l.neighbor_ids = m.neighbor_ids AS same_ids, l.scores = m.scores AS same_scores
FROM recsys.item_term_lists l JOIN recsys.item_term_lists m USING (item_id, term)
WHERE l.model = 'cr_zero' AND m.model = 'cr_zero2' AND l.item_id = 104 ORDER BY 1;

-- 4. Errors, each with its SQLSTATE
CREATE VIEW cr_feat_noitem AS SELECT item_id AS product, feature FROM cr_feat;
CREATE VIEW cr_feat_nofeature AS SELECT item_id, feature AS word FROM cr_feat;
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_ev', NULL, model => 'x')$$);
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_ev', 'no_such_relation', model => 'x')$$);
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_ev', 'cr_feat_noitem', model => 'x')$$);
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_ev', 'cr_feat_nofeature', model => 'x')$$);
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'x', coefficients => '{1,2}')$$);
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'x', coefficients => '{0,0,0,2000}')$$);
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'x', coefficients => '{0,0,NaN,0}')$$);
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'x', list_length => 0)$$);
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'x', regularization => 0)$$);
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'x', neighbors => 0)$$);
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'x', pseudo_splits => 0)$$);
-- too little data to fit the coefficients: one user, two items
CREATE TABLE cr_tiny AS SELECT 1::bigint AS user_id, i::bigint AS item_id FROM generate_series(1, 2) i;
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_tiny', 'cr_feat', model => 'x')$$);
SELECT count(*) AS no_model_x FROM recsys.models WHERE name = 'x';
-- what the kind does not do
SELECT cr_err($$SELECT * FROM recsys.similar_items(101, 3, 'cr')$$);
-- (explain: section 8; a warm item is not this model's to explain)
SELECT cr_err($$SELECT * FROM recsys.explain(1, 5, model => 'cr')$$);
-- a damaged record: coefficients that are not four numbers
UPDATE recsys.models SET params = jsonb_set(params, '{coefficients}', '[1, 2]') WHERE name = 'cr_prior';
SELECT cr_err($$SELECT * FROM recsys.recommend(1, 3, 'cr_prior')$$);
-- hand edits of the stored term lists: each a damaged model naming what
-- (XX001), none served; each edit is rolled back before the next
SELECT name FROM recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'cr_dmg', coefficients => '{0,0,0,0}');
CREATE FUNCTION cr_damage(edit text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	result text;
BEGIN
	EXECUTE edit;
	result := cr_err($q$SELECT * FROM recsys.recommend(1, 3, 'cr_dmg')$q$);
	RAISE EXCEPTION USING MESSAGE = result, ERRCODE = 'RSX01';
EXCEPTION WHEN SQLSTATE 'RSX01' THEN
	RETURN SQLERRM;
END
$$;
SELECT cr_damage($$UPDATE recsys.item_term_lists SET scores[1] = 'Infinity'
                   WHERE model = 'cr_dmg' AND item_id = 101 AND term = 'content'$$) AS infinite_score;
SELECT cr_damage($$UPDATE recsys.item_term_lists SET scores = '{{0.5}}'
                   WHERE model = 'cr_dmg' AND item_id = 101 AND term = 'prior'$$) AS two_dimensions;
SELECT cr_damage($$UPDATE recsys.item_term_lists SET scores = ARRAY[NULL::real]
                   WHERE model = 'cr_dmg' AND item_id = 101 AND term = 'prior'$$) AS null_element;
SELECT cr_damage($$UPDATE recsys.item_term_lists SET neighbor_ids = '[0:1]={1,2}', scores = '[0:1]={0.5,0.5}'
                   WHERE model = 'cr_dmg' AND item_id = 101 AND term = 'content'$$) AS lower_bound_0;
SELECT cr_damage($$UPDATE recsys.item_term_lists SET scores = '[5:5]={0.5}'
                   WHERE model = 'cr_dmg' AND item_id = 102 AND term = 'prior'$$) AS lower_bound_5;
-- a neighbour named twice (it would count twice in every sum), or the item itself
SELECT cr_damage($$UPDATE recsys.item_term_lists SET neighbor_ids = neighbor_ids || neighbor_ids[1], scores = scores || scores[1]
                   WHERE model = 'cr_dmg' AND item_id = 101 AND term = 'content'$$) AS duplicate_neighbour;
SELECT cr_damage($$UPDATE recsys.item_term_lists SET neighbor_ids[2] = 102
                   WHERE model = 'cr_dmg' AND item_id = 102 AND term = 'lists'$$) AS self_neighbour;
SELECT cr_damage($$INSERT INTO recsys.item_term_lists
                   SELECT 'cr_dmg', version, 5, 'prior', '{}', '{1}' FROM recsys.models WHERE name = 'cr_dmg'$$) AS warm_item_row;
SELECT count(*) AS undamaged_serves FROM recsys.recommend(1, 3, 'cr_dmg');
-- the features relation gone: refresh_items says so
CREATE TABLE cr_feat2 AS SELECT * FROM cr_feat;
SELECT name FROM recsys.train_cold_ranker('cr_ev', 'cr_feat2', model => 'cr_gone', coefficients => '{0,0,0,0}');
DROP TABLE cr_feat2;
SELECT cr_err($$SELECT recsys.refresh_items('cr_gone')$$);
-- a cancelled training (here by statement_timeout) stops, and the previous
-- version still serves
CREATE TABLE cr_big AS SELECT u::bigint AS user_id, ((u * 7 + i * 13) % 600)::bigint AS item_id
FROM generate_series(1, 3000) u, generate_series(1, 40) i;
CREATE TABLE cr_big_feat AS SELECT i::bigint AS item_id, 'w' || (i % 37) AS feature FROM generate_series(0, 650) i
UNION ALL SELECT i, 'v' || (i % 11) FROM generate_series(0, 650) i;
SET statement_timeout = '300ms';
SELECT name FROM recsys.train_cold_ranker('cr_big', 'cr_big_feat', model => 'cr');
RESET statement_timeout;
-- the previous version still serves after a failed retrain
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'cr', list_length => -1)$$);
SELECT count(*) AS still_served FROM recsys.recommend(1, 3, 'cr');

-- 5. Two roles: bob cannot use alice's cold ranker, nor read its inputs;
-- granted its use, he is served from her source, read as her (he has no
-- privilege on it)
CREATE ROLE regress_recsys_cold_alice;
CREATE ROLE regress_recsys_cold_bob;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_cold_alice, regress_recsys_cold_bob;
GRANT USAGE, CREATE ON SCHEMA cold_ranker_test TO regress_recsys_cold_alice, regress_recsys_cold_bob;
GRANT SELECT ON cr_ev, cr_feat TO regress_recsys_cold_alice;
SET ROLE regress_recsys_cold_alice;
CREATE TABLE alice_ev AS SELECT * FROM cr_ev;
CREATE TABLE alice_feat AS SELECT * FROM cr_feat;
SELECT name, owner FROM recsys.train_cold_ranker('alice_ev', 'alice_feat', model => 'alice_cr', coefficients => '{0,0,0,0}');
SET ROLE regress_recsys_cold_bob;
SELECT cr_err($$SELECT * FROM recsys.recommend(1, 3, 'alice_cr')$$);
SELECT count(*) AS rows_bob_sees FROM recsys.item_term_lists WHERE model = 'alice_cr';
SELECT cr_err($$SELECT recsys.refresh_items('alice_cr')$$);
SELECT cr_err($$SELECT count(*) FROM alice_ev$$);
SET ROLE regress_recsys_cold_alice;
SELECT recsys.grant_model('alice_cr', 'regress_recsys_cold_bob');
SET ROLE regress_recsys_cold_bob;
SELECT item_id, reason FROM recsys.recommend(1, 2, 'alice_cr');
SELECT cr_err($$SELECT recsys.refresh_items('alice_cr')$$);
-- another role's relation under the features' recorded name is not read as alice
SET ROLE regress_recsys_cold_alice;
DROP TABLE alice_feat;
SET ROLE regress_recsys_cold_bob;
CREATE TABLE alice_feat AS SELECT 777::bigint AS item_id, 'tea'::text AS feature;
GRANT SELECT ON alice_feat TO regress_recsys_cold_alice;
SET ROLE regress_recsys_cold_alice;
SELECT cr_err($$SELECT recsys.refresh_items('alice_cr')$$);
RESET ROLE;
SELECT recsys.drop_model('alice_cr');
DROP TABLE alice_ev, alice_feat;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_cold_alice, regress_recsys_cold_bob;
REVOKE ALL ON cr_ev, cr_feat FROM regress_recsys_cold_alice;
REVOKE ALL ON SCHEMA cold_ranker_test FROM regress_recsys_cold_alice, regress_recsys_cold_bob;
DROP ROLE regress_recsys_cold_alice;
DROP ROLE regress_recsys_cold_bob;

-- 6. Exposure: cold_slots bounds the cold items a user is shown.  Here
-- one: recommend gives the best cold item only, and so does a session
SELECT params->'cold_slots' AS cold_slots
FROM recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'cr_slots', coefficients => '{0,0,0,0}', cold_slots => 1);
SELECT item_id, reason FROM recsys.recommend(1, 3, 'cr_slots');
SELECT item_id, reason FROM recsys.recommend_session(ARRAY[1, 2]::bigint[], 3, 'cr_slots');
SELECT item_id, reason FROM recsys.recommend(999, 3, 'cr_slots');
-- score() is NULL for the cold items outside the user's best slot, so the
-- listing that puts the cold ranker's scores first and the usual model's
-- next gives new products one place of four (unbounded: all four)
SELECT name FROM recsys.train_popular('cr_ev', model => 'cr_pop');
SELECT i AS item_id, recsys.score(1, i, 'cr_slots') IS NOT NULL AS cold_scored
FROM unnest(ARRAY[5, 101, 12, 103, 102, 104, 7]::bigint[]) i
ORDER BY recsys.score(1, i, 'cr_slots') DESC NULLS LAST, recsys.score(1, i, 'cr_pop') DESC NULLS LAST, i LIMIT 4;
SELECT count(*) FILTER (WHERE i > 100) AS cold_places_unbounded
FROM (SELECT i FROM unnest(ARRAY[5, 101, 12, 103, 102, 104, 7]::bigint[]) i
      ORDER BY recsys.score(1, i, 'cr_zero') DESC NULLS LAST, recsys.score(1, i, 'cr_pop') DESC NULLS LAST, i LIMIT 4) l;
-- the owner changes it without retraining (the model reloads), or lifts it (null)
UPDATE recsys.models SET params = jsonb_set(params, '{cold_slots}', '2') WHERE name = 'cr_slots';
SELECT count(*) AS shown_at_2 FROM recsys.recommend(1, 3, 'cr_slots');
SELECT count(*) AS scored_at_2 FROM unnest(ARRAY[101, 102, 103, 104]::bigint[]) i WHERE recsys.score(1, i, 'cr_slots') IS NOT NULL;
-- explain gives no rows for the items outside the slots, as score() gives
-- them no score (a NOTICE says so; review s12, V10: before, rows adding up
-- to a score nobody is shown)
SELECT i AS item_id, recsys.score(1, i, 'cr_slots') IS NOT NULL AS scored,
	   (SELECT count(*) FROM recsys.explain(1, i, 5, 'cr_slots')) > 0 AS explained
FROM unnest(ARRAY[101, 102, 103, 104]::bigint[]) i ORDER BY i;
-- the two slots are chosen once, over every cold item as score() ranks
-- them: one call per candidate shows the same two items score() scores
-- (not all four), and a cold item the user has holds its slot (recommend
-- then shows one, the other scored item)
SELECT count(DISTINCT r.item_id) AS shown_over_calls, bool_and(recsys.score(1, r.item_id, 'cr_slots') IS NOT NULL) AS all_scored
FROM unnest(ARRAY[101, 102, 103, 104]::bigint[]) c, recsys.recommend(1, 3, 'cr_slots', candidates => ARRAY[c]) r;
BEGIN;
INSERT INTO cr_ev (user_id, item_id) SELECT 1, item_id FROM recsys.recommend(1, 1, 'cr_slots');
SELECT count(*) AS shown_with_one_owned, bool_and(recsys.score(1, r.item_id, 'cr_slots') IS NOT NULL) AS all_scored
FROM recsys.recommend(1, 3, 'cr_slots') r;
SELECT count(*) AS session_shown, bool_and(recsys.score(1, r.item_id, 'cr_slots') IS NOT NULL) AS all_scored
FROM recsys.recommend_session(ARRAY(SELECT item_id FROM cr_ev WHERE user_id = 1), 3, 'cr_slots') r;
ROLLBACK;
UPDATE recsys.models SET params = jsonb_set(params, '{cold_slots}', 'null') WHERE name = 'cr_slots';
SELECT count(*) AS shown_unbounded FROM recsys.recommend(1, 3, 'cr_slots');
-- out of range: refused at training, damaged after a hand edit
SELECT cr_err($$SELECT recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'x', coefficients => '{0,0,0,0}', cold_slots => 0)$$);
CREATE FUNCTION cr_slots_edit(v text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	UPDATE recsys.models SET params = jsonb_set(params, '{cold_slots}', v::jsonb) WHERE name = 'cr_slots';
	RETURN cr_err($q$SELECT * FROM recsys.recommend(1, 3, 'cr_slots')$q$);
END
$$;
SELECT v AS cold_slots, cr_slots_edit(v) AS served FROM unnest(ARRAY['0', '1.5', '"2"', '10001']) v;

-- 7. A session ranks the cold items only, as recommend does: never filled
-- up with warm items (cr_zero holds four cold items, 101-104)
SELECT count(*) AS session_rows, count(*) FILTER (WHERE item_id <= 20) AS warm_rows
FROM recsys.recommend_session(ARRAY[1, 2]::bigint[], 10, 'cr_zero');
SELECT count(*) AS recommend_rows FROM recsys.recommend(1, 10, 'cr_zero');

-- 8. explain: each of the user's items' share in a cold item's score (its
-- content, sharpened content, CB2CF and learned-list weights, on the
-- score's scale) and the item's own row for its prior.  With every
-- coefficient 0 the score is ln(content + 0.001): the shares add up to
-- score - ln(0.001), by construction, and there is no prior row
SELECT e.item_id, round(e.contribution::numeric, 4) AS contribution FROM recsys.explain(1, 101, 3, 'cr_zero') e;
SELECT round((SELECT sum(contribution) FROM recsys.explain(1, 101, 100, 'cr_zero'))::numeric, 4) AS shares,
       round((recsys.score(1, 101, 'cr_zero') - ln(0.001))::numeric, 4) AS score_above_floor;
-- the fitted mix, and one with every term weighted: the shares (items and
-- prior) of two cold items differ by as much as their scores (what the
-- shares leave out is the same for every cold item of the user); the
-- prior's row is the item itself, there when the prior's coefficient is
-- not 0
SELECT name FROM recsys.train_cold_ranker('cr_ev', 'cr_feat', model => 'cr_all', coefficients => '{0.5,1,2,1}', regularization => 2);
SELECT m, u, abs((SELECT sum(contribution) FROM recsys.explain(u, 101, 100, m)) -
                 (SELECT sum(contribution) FROM recsys.explain(u, 102, 100, m)) -
                 (recsys.score(u, 101, m) - recsys.score(u, 102, m))) < 1e-3 AS shares_explain_the_gap,
       (SELECT count(*) FROM recsys.explain(u, 101, 100, m) e WHERE e.item_id = 101) =
       (SELECT CASE WHEN (params->'coefficients'->>1)::float8 <> 0 THEN 1 ELSE 0 END FROM recsys.models WHERE name = m)
       AS prior_row_if_weighted,
       (SELECT bool_and(e.item_id IN (SELECT item_id FROM cr_ev WHERE user_id = u) OR e.item_id = 101)
        FROM recsys.explain(u, 101, 100, m) e) AS own_items_only
FROM unnest(ARRAY['cr', 'cr_all']) m, unnest(ARRAY[1, 35]) u;
-- nothing to explain for a user with items: the spoon (103) has no lists,
-- so none of user 1's items shares a feature with it, and cr_zero gives
-- the prior no part; the notice says so (not that the user has no items)
SET client_min_messages = notice;
SELECT count(*) AS explain_rows FROM recsys.explain(1, 103, 3, 'cr_zero');
SET client_min_messages = warning;
-- the strongest reasons a tea buyer is shown the small tea: his small
-- teas (items 1-5; the prior, tea being bought by 30 of 40 users, is below)
SELECT e.item_id, e.item_id IN (SELECT item_id FROM cr_ev WHERE user_id = 1) AS bought, round(e.contribution::numeric, 4) AS contribution
FROM recsys.explain(1, 101, 5, 'cr_all') e;
-- a user without items: the prior alone (weight 1), one row, which is
-- the score above ln(0.001) by construction
SELECT e.item_id, abs(e.contribution - (recsys.score(999, i, 'cr') - ln(0.001))) < 1e-4 AS prior_is_the_score
FROM unnest(ARRAY[101, 102]) i, recsys.explain(999, i, 5, 'cr') e;
-- similar_items stays refused: a cold item's lists are of warm items
SELECT cr_err($$SELECT * FROM recsys.similar_items(101, 3, 'cr')$$);

SELECT recsys.drop_model('cr_pop');
SELECT recsys.drop_model(name) FROM recsys.models WHERE algorithm = 'cold_ranker' ORDER BY name;
SELECT count(*) AS term_rows_left FROM recsys.item_term_lists;
DROP SCHEMA cold_ranker_test CASCADE;
