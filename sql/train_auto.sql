-- recsys.train_auto: the algorithm and its settings chosen on a
-- validation split of the source, within a time budget
CREATE SCHEMA auto_test;
SET search_path = auto_test, public;
SET extra_float_digits = 0;

-- Known by construction: 8 groups of 10 users, each user has all 10 items
-- of the group (and a time); users 81 to 88 have the first 5 items of
-- groups 1 to 8.  A quarter of each user's items is held out; the other
-- users of the group have them, so a model of co-occurrence finds every
-- held-out item of users 1 to 80 (NDCG@10 = 1) and ranks the one of users
-- 81 to 88 among the 6 unseen items of its group (NDCG@10 >= 1 / log2(7)):
-- at least (80 + 8 / log2(7)) / 88 = 0.94, while popularity (the same list
-- for everyone, from one group's items at best) cannot reach 0.5.
CREATE TABLE events AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id, 1 + j % 3 AS w,
	   timestamptz '2026-01-01' + (u * 10 + j) * interval '1 hour' AS ts
FROM generate_series(1, 80) u, generate_series(0, 9) j
UNION ALL
SELECT u, 100 + 10 * (u - 81) + j, 1, timestamptz '2026-01-01' + (u * 10 + j) * interval '1 hour'
FROM generate_series(81, 88) u, generate_series(0, 4) j;

SELECT count(*) > 5 AS searched, count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen,
	   bool_and(value >= 0.94) FILTER (WHERE status LIKE 'chosen;%') AS winner_above_bound,
	   bool_and(value < 0.5) FILTER (WHERE family = 'popular') AS popularity_loses,
	   bool_and(family <> 'popular') FILTER (WHERE status LIKE 'chosen;%') AS popularity_not_chosen,
	   bool_and(train_seconds >= 0 AND eval_seconds >= 0) FILTER (WHERE (status = 'trained' OR status LIKE 'chosen;%')) AS timed,
	   count(*) FILTER (WHERE family = 'bpr_folded') AS optional_tried
FROM recsys.train_auto('events', 'auto', budget => '1 minute');
-- the winner serves: a user with half of group 1 gets the other half
SELECT array_agg(item_id ORDER BY item_id) AS items FROM recsys.recommend(81, 5, model => 'auto');
-- what was tried, each candidate's value and seconds, and why: in the
-- model's metrics (also the version's) and, in a sentence, its description
SELECT m.metrics -> 'train_auto' ->> 'protocol' AS protocol,
	   m.metrics -> 'train_auto' ->> 'protocol_reason' AS reason,
	   m.metrics -> 'train_auto' ->> 'metric' AS metric,
	   jsonb_array_length(m.metrics -> 'train_auto' -> 'candidates') > 5 AS candidates,
	   m.metrics -> 'train_auto' -> 'candidates' -> 0 ?& ARRAY['family', 'algorithm', 'params', 'value',
															  'train_seconds', 'eval_seconds', 'status'] AS recorded,
	   (m.metrics -> 'train_auto' -> 'winner' ->> 'value')::float8 >= 0.94 AS winner_value,
	   m.description LIKE 'train_auto: % (%), best validation ndcg@10 (0.9%) on the first split of % trained candidates; the best other family, %' AS described,
	   v.metrics = m.metrics AS version_too
FROM recsys.models m JOIN recsys.model_versions v ON v.model = m.name AND v.version = m.version
WHERE m.name = 'auto';
-- the EASE candidates are compact (keep 0.1, a tenth of the weights); an
-- EASE winner would be retrained exact when the budget left allows (the
-- report's final says which); here BPR won (a tie at the top goes to the
-- first tried), so there is no such note
SELECT bool_and((c -> 'params' ->> 'keep')::float8 = 0.1) FILTER (WHERE c ->> 'algorithm' = 'ease') AS ease_compact,
	   count(*) FILTER (WHERE c ->> 'algorithm' = 'ease' AND c ->> 'status' = 'trained') > 0 AS ease_trained,
	   (SELECT m.algorithm = 'bpr' AND m.metrics -> 'train_auto' ->> 'final' IS NULL
		FROM recsys.models m WHERE m.name = 'auto') AS no_final_note
FROM recsys.models m, jsonb_array_elements(m.metrics -> 'train_auto' -> 'candidates') c
WHERE m.name = 'auto';
-- the candidates leave no models behind
SELECT name FROM recsys.models WHERE name LIKE '\_recsys\_auto%' ORDER BY name;

-- a time column: validated on each user's last items (the protocol says
-- why); recency-weighted candidates join.  A second run retrains the
-- model train_auto trained, whatever algorithm wins now; on 'last' the
-- last basket joins (EASE scoring a user from his latest items: half-life
-- one day, a blend member beside recency-weighted EASE, 0.12.0)
SELECT count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen,
	   count(*) FILTER (WHERE family = 'ease_recent') > 0 AS recency_weighted,
	   count(*) FILTER (WHERE family = 'ease_basket' AND params ->> 'half_life' = '1 day'
						AND params ->> 'time_col' = 'ts' AND value IS NOT NULL) > 0 AS last_basket
FROM recsys.train_auto('events', 'auto', time_col => 'ts', budget => '1 minute');
SELECT metrics -> 'train_auto' ->> 'protocol' AS protocol, metrics -> 'train_auto' ->> 'protocol_reason' AS reason,
	   version
FROM recsys.models WHERE name = 'auto';
-- the last basket on basket data: 150 users, four weekly baskets each of
-- 8 of a theme's 12 items at one time, themes in no order.  'last' holds
-- out each user's 5 latest items, the rest of his latest basket (ties by
-- item), so scoring from the latest items alone (ease_basket, half-life
-- one day) finds them, and recency EASE (weeks) blurs them with the
-- baskets before, even at the 7 days it climbs to (0.45 against 0.77).
-- Review s15 B5: the split rewards completing the latest basket, not
-- predicting the next one (the repeated split 3, a global time cut,
-- validates on the next basket: there ease_basket scores 0.02;
-- doc/internals.md)
CREATE TABLE baskets AS
SELECT u AS user_id, 1000 + 12 * t.theme + k.k AS item_id,
	   timestamptz '2026-01-01' + (u % 5) * interval '1 day' + v * interval '7 days' AS ts
FROM generate_series(1, 150) u, generate_series(0, 3) v,
	 LATERAL (SELECT (u * 7 + v * 11 + (u * v) % 13) % 30 AS theme) t,
	 LATERAL (SELECT k FROM generate_series(0, 11) k ORDER BY md5(u || ':' || v || ':' || k) LIMIT 8) k;
SELECT max(value) FILTER (WHERE family = 'ease_basket') > 0.5 AS basket_found,
	   max(value) FILTER (WHERE family = 'ease_basket') > 1.5 * max(value) FILTER (WHERE family = 'ease_recent') AS recency_blurs,
	   string_agg(family, ',') FILTER (WHERE status LIKE 'chosen;%') AS chosen
FROM recsys.train_auto('baskets', 'basket', time_col => 'ts', budget => '30 seconds',
					   families => '{ease_recent,ease_basket}');
SELECT (params ->> 'half_life_seconds')::float8 AS half_life_seconds FROM recsys.models WHERE name = 'basket';
SELECT recsys.drop_model('basket');
DROP TABLE baskets;
-- ... unless told: holdout with a time column, another metric
SELECT count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen,
	   count(*) FILTER (WHERE family IN ('ease_recent', 'ease_basket')) AS recency_families
FROM recsys.train_auto('events', 'auto', time_col => 'ts', protocol => 'holdout', metric => 'recall@5',
					   budget => '1 minute');
SELECT metrics -> 'train_auto' ->> 'protocol' AS protocol, metrics -> 'train_auto' ->> 'protocol_reason' AS reason,
	   metrics -> 'train_auto' ->> 'metric' AS metric
FROM recsys.models WHERE name = 'auto';

-- item features: EASE and ALS with them join the candidates (their
-- weight searched), and BM25 item-kNN gets them (for items without buyers)
CREATE TABLE item_words AS SELECT DISTINCT item_id, 'group' || item_id / 10 AS feature FROM events;
SELECT count(*) FILTER (WHERE family = 'ease_features' AND (status = 'trained' OR status LIKE 'chosen;%')) >= 1 AS with_features,
	   count(*) FILTER (WHERE family = 'als_features' AND (status = 'trained' OR status LIKE 'chosen;%')
						AND (params ->> 'features')::regclass = 'item_words'::regclass
						AND params ? 'feature_weight') >= 1 AS als_with_features,
	   bool_and((params ->> 'features')::regclass = 'item_words'::regclass) FILTER (WHERE family = 'bm25') AS knn_with_features,
	   count(*) FILTER (WHERE status LIKE 'failed%') AS failed
FROM recsys.train_auto('events', 'featured', features => 'item_words', budget => '1 minute');

-- the item features are a component the search switches off (s14): a
-- family reading them leads only when its gain over its own setting
-- without them is significant on the first split's users (paired z >=
-- 1.96); else that setting joins the search as a trial of the family
-- without them (here ease).  Here the features mark the first five items of group 1 alone:
-- they break the tie among the unseen items of group 1 for user 81 only
-- (users 81 to 88 have the first five items of their group): one user's
-- gain, z about 1, so EASE without them leads and the report says why.
-- Marking the first five items of every group helps users 81 to 88
-- alike: z about 2.7, kept
CREATE TABLE first_of_group_1 AS SELECT DISTINCT item_id, 'first' AS feature FROM events WHERE item_id BETWEEN 100 AND 104;
CREATE TABLE first_of_groups AS SELECT DISTINCT item_id, 'first' || item_id / 10 AS feature FROM events WHERE item_id % 10 < 5;
SELECT max(value) FILTER (WHERE family = 'ease_features') > max(value) FILTER (WHERE family = 'ease') AS features_ahead,
	   string_agg(family, ',') FILTER (WHERE status LIKE 'chosen;%') AS chosen,
	   count(*) FILTER (WHERE family = 'ease' AND status LIKE '%trained (ease_features''s setting without the item features)%'
						AND NOT params ? 'features' AND NOT params ? 'feature_weight') AS ablation_trials
FROM recsys.train_auto('events', 'held', features => 'first_of_group_1', budget => '1 minute',
					   families => '{ease,ease_features}');
SELECT c ->> 'with' AS with_features, c ->> 'without' AS without, (c ->> 'z')::float8 < 1.96 AS not_significant,
	   c ->> 'min_z' AS min_z, c ->> 'held_back' AS held_back,
	   m.metrics -> 'train_auto' -> 'winner' ->> 'family' AS winner,
	   m.description LIKE '%; the item features held back: ease_features (0.9%) against its setting without them (0.9%, a trial of ease) on the first split, paired z %.% < 1.96;%' AS described
FROM recsys.models m, LATERAL (SELECT m.metrics -> 'train_auto' -> 'features_check' AS c) x WHERE m.name = 'held';
SELECT string_agg(family, ',') FILTER (WHERE status LIKE 'chosen;%') AS chosen
FROM recsys.train_auto('events', 'held', features => 'first_of_groups', budget => '1 minute',
					   families => '{ease,ease_features}', replace => true);
SELECT c ->> 'with' AS with_features, (c ->> 'z')::float8 >= 1.96 AS significant, c ->> 'held_back' AS held_back,
	   m.metrics -> 'train_auto' -> 'winner' ->> 'family' AS winner,
	   m.description LIKE '%; the item features kept: ease_features (1.0000) against its setting without them (0.9%) on the first split, paired z %.% >= 1.96%' AS described
FROM recsys.models m, LATERAL (SELECT m.metrics -> 'train_auto' -> 'features_check' AS c) x WHERE m.name = 'held';
-- held back, the families reading the features are also the blend's
-- last candidates (as the blend reserve counts them, s15): popularity's
-- blends are tried before ease_features', though it scores far below
SELECT count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen
FROM recsys.train_auto('events', 'held_order', features => 'first_of_group_1', budget => '1 minute',
					   families => '{ease,ease_features,popular}');
SELECT m.metrics -> 'train_auto' -> 'features_check' ->> 'held_back' AS held_back,
	   min((c ->> 'n')::integer) FILTER (WHERE c -> 'params' -> 'members' ? 'popular')
	   < min((c ->> 'n')::integer) FILTER (WHERE c -> 'params' -> 'members' ? 'ease_features') AS held_back_last,
	   max((c ->> 'value')::float8) FILTER (WHERE c ->> 'family' = 'ease_features')
	   > max((c ->> 'value')::float8) FILTER (WHERE c ->> 'family' = 'popular') AS though_ahead
FROM recsys.models m, jsonb_array_elements(m.metrics -> 'train_auto' -> 'candidates') c
WHERE m.name = 'held_order' AND c ->> 'family' IN ('blend', 'ease_features', 'popular')
GROUP BY m.metrics;
SELECT recsys.drop_model('held_order');
-- without features, or with a lead that does not read them, no check
SELECT m.metrics -> 'train_auto' -> 'features_check' AS no_check, m.description NOT LIKE '%item features%' AS not_described
FROM recsys.models m WHERE m.name = 'auto';
SELECT recsys.drop_model('held');

-- families: only those named are searched.  Normalised EASE alone: the
-- winner is compact EASE (keep 0.1, as validated) and, a minute being
-- ample for 88 users and 80 items, it is retrained on all the data
-- exact (no keep), which the report's final records
SELECT array_agg(DISTINCT family) AS families, count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen,
	   bool_and((params ->> 'keep')::float8 = 0.1) AS validated_compact
FROM recsys.train_auto('events', 'exact', budget => '1 minute', families => '{ease}');
SELECT algorithm, (params ->> 'keep')::float8 AS stored_keep,
	   metrics -> 'train_auto' ->> 'final' LIKE 'EASE retrained exact: exact estimated at % s (%), % s of the budget left' AS final_exact,
	   metrics -> 'train_auto' -> 'families' AS families,
	   (metrics -> 'train_auto' -> 'winner' -> 'params' ->> 'keep')::float8 AS winner_keep
FROM recsys.models WHERE name = 'exact';
-- an optional family runs only when named (the first search above left
-- it out): BPR without stored user vectors (users folded in when served)
SELECT family, split_part(status, ';', 1) AS status, params ->> 'store_users' AS store_users
FROM recsys.train_auto('events', 'folded', budget => '1 minute', families => '{bpr_folded}')
ORDER BY rank LIMIT 1;
SELECT algorithm, params ->> 'store_users' AS store_users FROM recsys.models WHERE name = 'folded';

-- event weights (event_col, event_weights: the trainers' map): every
-- family whose trainer weighs events gets them; BPR and popularity, which
-- cannot, are left out (they would count a view as a purchase)
CREATE TABLE kinds AS
SELECT user_id, item_id, ts, 'buy'::text AS kind FROM events
UNION ALL
SELECT user_id, 999, ts, 'view' FROM events WHERE item_id % 10 = 0;
SELECT count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen,
	   bool_and(params -> 'event_weights' = '{"buy": 1, "view": 0.5}' AND params ->> 'event_col' = 'kind')
		   FILTER (WHERE family <> 'blend') AS weighted,
	   array_agg(DISTINCT family ORDER BY family) FILTER (WHERE family <> 'blend') AS families
FROM recsys.train_auto('kinds', 'weighted', budget => '1 minute', event_col => 'kind',
					   event_weights => '{"buy": 1, "view": 0.5}');
SELECT algorithm = ANY ('{ease,als,item_knn,blend}') AS weighs_events,
	   metrics -> 'train_auto' -> 'families' AS families
FROM recsys.models WHERE name = 'weighted';

-- recsys.max_memory: a candidate that cannot fit is skipped, saying so
-- (EASE's item-item matrix of 400 items needs more than 1 MB; the
-- neighbour and factor models fit)
CREATE TABLE wide AS
SELECT u AS user_id, 1000 + (u * 7 + j * 13) % 400 AS item_id
FROM generate_series(1, 200) u, generate_series(0, 11) j;
SET recsys.max_memory = '1MB';
SELECT family, status LIKE 'skipped: training needs % MB%, more than recsys.max_memory (1 MB)' AS skipped_for_memory
FROM recsys.train_auto('wide', 'wide_auto', budget => '1 minute')
WHERE family LIKE 'ease%' ORDER BY rank LIMIT 1;
SELECT algorithm <> 'ease' AS another_won FROM recsys.models WHERE name = 'wide_auto';
RESET recsys.max_memory;

-- the budget: a small one skips what would not end in time, saying so,
-- and keeps the best found; one too small for any candidate stores
-- nothing (the detail lists each candidate's estimate)
SELECT count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen,
	   count(*) FILTER (WHERE status LIKE 'skipped: estimated % s, % s of the budget left%') > 0 AS skipped_for_budget
FROM recsys.train_auto('wide', 'small', budget => '0.5 seconds');
SELECT (metrics -> 'train_auto' ->> 'seconds')::float8 < 5 AS quick FROM recsys.models WHERE name = 'small';
\set VERBOSITY terse
SELECT * FROM recsys.train_auto('wide', 'tiny', budget => '0.01 seconds');
\set VERBOSITY default
SELECT count(*) AS stored FROM recsys.models WHERE name = 'tiny';

-- a cancel (here a statement timeout) leaves the previous version serving
-- and no candidate behind
SELECT version AS before FROM recsys.models WHERE name = 'auto' \gset
SET statement_timeout = '200ms';
\set VERBOSITY terse
SELECT count(*) FROM recsys.train_auto('wide', 'auto', budget => '1 minute');
\set VERBOSITY default
RESET statement_timeout;
SELECT version = :before AS unchanged FROM recsys.models WHERE name = 'auto';
SELECT count(*) AS items FROM recsys.recommend(1, 5, model => 'auto');
SELECT name FROM recsys.models WHERE name LIKE '\_recsys\_auto%' ORDER BY name;

-- errors, each before any training (terse: the context names lines of
-- train_auto's body)
\set VERBOSITY terse
SELECT * FROM recsys.train_auto(NULL);
SELECT * FROM recsys.train_auto('events', budget => NULL);
SELECT * FROM recsys.train_auto('events', budget => '0 seconds');
SELECT * FROM recsys.train_auto('events', budget => '-1 minute');
SELECT * FROM recsys.train_auto('events', metric => 'rmse');
SELECT * FROM recsys.train_auto('events', metric => 'ndcg');
SELECT * FROM recsys.train_auto('events', metric => 'ndcg@0');
SELECT * FROM recsys.train_auto('events', metric => 'coverage@10');
SELECT * FROM recsys.train_auto('events', protocol => 'random');
SELECT * FROM recsys.train_auto('events', protocol => 'last');
SELECT * FROM recsys.train_auto('events', time_col => 'no_such_column');
SELECT * FROM recsys.train_auto('events', user_col => 'no_such_column');
SELECT * FROM recsys.train_auto('events', model => '');
SELECT * FROM recsys.train_auto('events', families => '{ease,no_such_family}');
SELECT * FROM recsys.train_auto('events', families => '{ease_recent}');
SELECT * FROM recsys.train_auto('events', families => '{}');
SELECT * FROM recsys.train_auto('events', families => '{ease,NULL}');
SELECT * FROM recsys.train_auto('kinds', event_col => 'kind');
SELECT * FROM recsys.train_auto('kinds', event_weights => '{"buy": 1}');
SELECT * FROM recsys.train_auto('kinds', event_col => 'no_such_column', event_weights => '{"buy": 1}');
SELECT * FROM recsys.train_auto('kinds', event_col => 'kind', event_weights => '[1]');
SELECT * FROM recsys.train_auto('kinds', event_col => 'kind', event_weights => '{}');
SELECT * FROM recsys.train_auto('kinds', event_col => 'kind', event_weights => '{"buy": 1, "view": 1001}');
SELECT * FROM recsys.train_auto('kinds', event_col => 'kind', event_weights => '{"buy": "a lot", "view": 1}');
SELECT * FROM recsys.train_auto('kinds', event_col => 'kind', event_weights => '{"buy": 0, "view": 0}');
SELECT * FROM recsys.train_auto('kinds', event_col => 'kind', event_weights => '{"buy": 1}');
SELECT * FROM recsys.train_auto('kinds', event_col => 'kind', event_weights => '{"buy": 1, "view": 0}', families => '{bpr}');
SELECT * FROM recsys.train_auto('kinds', event_col => 'kind', event_weights => '{"buy": 1, "view": 0}', families => '{popular}');
CREATE TABLE empty_events (user_id bigint, item_id bigint);
SELECT * FROM recsys.train_auto('empty_events');
-- too few interactions per user to hold any out
CREATE TABLE short_events AS SELECT u AS user_id, u + j AS item_id FROM generate_series(1, 20) u, generate_series(1, 3) j;
SELECT * FROM recsys.train_auto('short_events');
-- protocol last with every time_col value NULL: each user has 15 rows,
-- but no time to hold the latest out by; the time column is named
-- (before: "no user with enough interactions to validate on")
CREATE TABLE untimed_events AS
SELECT u AS user_id, u + j AS item_id, NULL::timestamptz AS t FROM generate_series(1, 20) u, generate_series(1, 15) j;
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT * FROM recsys.train_auto('untimed_events', time_col => 't');
\set SHOW_CONTEXT errors
\set VERBOSITY terse
DO $$
BEGIN
	PERFORM FROM recsys.train_auto('auto_test.untimed_events', time_col => 't');
EXCEPTION WHEN null_value_not_allowed THEN
	RAISE NOTICE 'null_value_not_allowed (22004)';
END
$$;
-- a model trained by hand is replaced only when asked
SELECT (recsys.train_popular('events', model => 'by_hand')).algorithm;
SELECT * FROM recsys.train_auto('events', 'by_hand');
\set VERBOSITY default
SELECT count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen
FROM recsys.train_auto('events', 'by_hand', budget => '10 seconds', replace => true);

-- a blend member is kept only for a gain the validation users share:
-- the paired z of the per-user differences at least 1.96.  Known by
-- construction, 200 users at 0.5 under the blend extended: noise (users
-- alternately +0.3 and -0.29: mean gain +0.005, 1 %) is dropped, z 0.24;
-- a real gain (every user +0.002, one in ten +0.001: mean +0.0019, less
-- than the noise's) is kept, z 89; no difference at all: 0; the
-- same gain for everyone: Infinity; arrays of other lengths: an error
-- (users out of step; NULL would read as "no time left")
SELECT round(recsys._auto_paired_z(b, n)::numeric, 2) AS noise_z,
	   recsys._auto_paired_z(b, n) >= 1.96 AS noise_kept,
	   round(recsys._auto_paired_z(b, r)::numeric, 0) AS real_z,
	   recsys._auto_paired_z(b, r) >= 1.96 AS real_kept,
	   recsys._auto_paired_z(b, b) AS none,
	   recsys._auto_paired_z(b, ARRAY(SELECT x + 0.01 FROM unnest(b) x)) AS everyone
FROM (SELECT array_agg(0.5::float8 ORDER BY i) AS b,
			 array_agg(CASE WHEN i % 2 = 0 THEN 0.8 ELSE 0.21 END::float8 ORDER BY i) AS n,
			 array_agg(CASE WHEN i % 10 = 0 THEN 0.501 ELSE 0.502 END::float8 ORDER BY i) AS r
	  FROM generate_series(1, 200) i) a;
SELECT recsys._auto_paired_z(b, b[1:199]) AS lengths_differ
FROM (SELECT array_agg(0.5::float8) AS b FROM generate_series(1, 200) i) a;
-- the per-user values it compares are evaluate's: one row per evaluated
-- user (a test user unknown to the source is skipped), their means
-- evaluate's.  The odd users 1 to 79 hold out their group's last two
-- items, which only the group's even users have: item-kNN ranks them
-- first (no other group's item has a neighbour among the user's items),
-- NDCG@10 1 for each of the 40
CREATE TABLE events_train AS SELECT * FROM events WHERE user_id > 80 OR user_id % 2 = 0 OR item_id % 10 < 8;
CREATE TABLE events_test AS SELECT user_id, item_id FROM events WHERE user_id <= 80 AND user_id % 2 = 1 AND item_id % 10 >= 8
UNION ALL SELECT 999, 100;
SELECT (recsys.train_item_knn('events_train', 20, model => 'per_user')).algorithm;
SELECT count(*) AS users, count(*) FILTER (WHERE u.ndcg = 1 AND u.hit_rate = 1 AND u.recall = 1) AS all_found,
	   (SELECT value FROM recsys.evaluate('per_user', 'events_test') WHERE metric = 'users') AS evaluated,
	   abs(avg(u.ndcg) - (SELECT value FROM recsys.evaluate('per_user', 'events_test') WHERE metric = 'ndcg@10'))
		   < 1e-12 AS same_ndcg
FROM recsys._evaluate_users('per_user', 'events_test') u;
-- (at k 1: precision 1, recall a half, for each)
SELECT count(*) FILTER (WHERE u.precision = 1 AND u.recall = 0.5) AS half_found,
	   abs(avg(u.recall) - (SELECT value FROM recsys.evaluate('per_user', 'events_test', 1) WHERE metric = 'recall@1'))
		   < 1e-12 AS same_recall_at_1
FROM recsys._evaluate_users('per_user', 'events_test', 1) u;

-- no time left to test a blend member's gain: the users' values are not
-- evaluated when fewer than the seconds needed are left before the
-- deadline (NULL), so the paired z is NULL and the member is not kept,
-- saying why; with time left they are evaluate's (40 users at 1)
CREATE TEMP TABLE _recsys_auto_valid AS SELECT user_id, item_id FROM events_test;
SELECT recsys._auto_user_values('per_user', 'ndcg', 10, 1,
								jsonb_build_object('deadline', clock_timestamp() + interval '0.5 seconds')) AS too_late,
	   recsys._auto_paired_z(NULL, ARRAY[1, 1]::float8[]) AS z_untested,
	   recsys._auto_member_status(NULL, 0.3, 0.2, 1.96) AS untested_status,
	   (SELECT sum(v) FROM unnest(recsys._auto_user_values('per_user', 'ndcg', 10, 1,
								  jsonb_build_object('deadline', clock_timestamp() + interval '1 hour'))) v) AS in_time_sum;
SELECT recsys._auto_member_status(2.5, 0.31, 0.3, 1.96) AS kept, recsys._auto_member_status(1.5, 0.31, 0.3, 1.96) AS not_kept;
DROP TABLE pg_temp._recsys_auto_valid;
-- a blend member tested on the repeated splits (the second round's):
-- each user's value averaged over the splits that hold some of the
-- user's items (_auto_matched_users), the paired z of the per-user mean
-- gains at least 1 (min_z_matched: when the weight tested is the first
-- split's choice, nothing is selected on these users; a weight chosen
-- on them among several needs the max-T threshold, below).  Known by
-- construction: split 2 holds out the 40 odd users' two items, split 3
-- those of users 1 to 39 only; item-kNN finds them all (40 users at 1 on
-- both), popularity (one list for everyone) finds none of most: the
-- extension from popularity to it
-- is kept, z far above 1; the same models on both sides: no gain, z 0,
-- not kept.  A gain at z 1.37 is kept on the repeated splits, not on
-- the first (1.96)
CREATE TEMP TABLE _recsys_auto_valid_2 AS SELECT user_id, item_id FROM events_test;
CREATE TEMP TABLE _recsys_auto_valid_3 AS SELECT user_id, item_id FROM events_test WHERE user_id < 40;
SELECT (recsys.train_popular('events_train', model => 'per_user_pop')).algorithm;
SELECT cardinality(k) AS users, (SELECT min(v) FROM unnest(k) v) AS knn_least, (SELECT max(v) FROM unnest(p) v) < 1 AS popular_below,
	   recsys._auto_paired_z(p, k) >= 1 AS kept, recsys._auto_paired_z(k, k) AS same_z,
	   recsys._auto_member_status(1.37, 0.31, 0.3, 1) AS matched_rule, recsys._auto_member_status(1.37, 0.31, 0.3, 1.96) AS first_split_rule
FROM (SELECT recsys._auto_matched_users(ARRAY['per_user', 'per_user'], 'ndcg', 10, 1,
										jsonb_build_object('deadline', clock_timestamp() + interval '1 hour')) AS k,
			 recsys._auto_matched_users(ARRAY['per_user_pop', 'per_user_pop'], 'ndcg', 10, 1,
										jsonb_build_object('deadline', clock_timestamp() + interval '1 hour')) AS p) x;
SELECT recsys._auto_matched_users(ARRAY['per_user', 'per_user'], 'ndcg', 10, 1,
								  jsonb_build_object('deadline', clock_timestamp() + interval '0.5 seconds')) AS too_late;
-- a blend member's weight chosen on the repeated splits (s11,
-- _auto_matched_weight): each candidate weight's blend of the base and the
-- member on splits 2 and 3, its per-user values averaged over the two,
-- the best mean kept (a tie: the earlier weight).  Known by construction:
-- popularity as the base, item-kNN as the member; at weights 0.01 and 1
-- the blend ranks as popularity does (the held-out items, the least
-- bought of their group, are not in its top 10: every user 0), at 2 and
-- 4 as item-kNN (every user 1): 2 is kept (the earlier of the tie), its
-- blends on both splits left for the caller, the other weights' dropped.
-- Every weight's per-user values come back (scored_users, s12), and four
-- weights scored on these users: the gain of the one kept is tested at
-- their max-T threshold (s11 rev2 R4: the same users chose it; s12: not
-- the fixed 1.96), here that of one weight alone: 0.01 and 1 gain
-- nothing (z 0 under every sign flip), 2 and 4 the same per-user gain,
-- so the largest z of the four is that one gain's (or 0); the hundredth
-- above its critical maximum (s12 W1: never on a tie) for these 40 users,
-- at least min_z_matched, 1 (never less than one weight needs)
SELECT c.c ->> 'weight' AS weight,
	   jsonb_array_length(c.c -> 'scored_users') AS scored,
	   (SELECT string_agg(format('%s..%s', (SELECT min(v::float8) FROM jsonb_array_elements_text(x.e) v),
								 (SELECT max(v::float8) FROM jsonb_array_elements_text(x.e) v)), ', ' ORDER BY x.o)
		FROM jsonb_array_elements(c.c -> 'scored_users') WITH ORDINALITY x(e, o)) AS scored_ranges,
	   recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}', b.b, s.s) AS min_z,
	   recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}', b.b, s.s)
	   = greatest(1, recsys._auto_max_z_threshold(b.b, s.s[3:3], 1, 42)) AS as_one_weight,
	   recsys._auto_max_z_threshold(b.b, s.s[3:3], 1, 42) AS one_weight_drawn,
	   (SELECT string_agg(format('%s: %s', e ->> 0, round((e ->> 1)::numeric, 3)), ', ' ORDER BY o)
		FROM jsonb_array_elements(c.c -> 'means') WITH ORDINALITY x(e, o)) AS means,
	   jsonb_array_length(c.c -> 'users') AS users, (SELECT min(e::float8) FROM jsonb_array_elements_text(c.c -> 'users') e) AS least,
	   c.c -> 'models' AS models
FROM recsys._auto_matched_weight(ARRAY['per_user_pop', 'per_user_pop'], ARRAY['per_user', 'per_user'], ARRAY[1],
								 ARRAY[0.01, 1, 2, 4], 'mw', 'ndcg', 10, 1,
								 jsonb_build_object('deadline', clock_timestamp() + interval '1 hour')) c(c),
	 recsys._auto_matched_users(ARRAY['per_user_pop', 'per_user_pop'], 'ndcg', 10, 1,
								jsonb_build_object('deadline', clock_timestamp() + interval '1 hour')) b(b),
	 LATERAL (SELECT ARRAY(SELECT ARRAY(SELECT v::float8 FROM jsonb_array_elements_text(x.e) WITH ORDINALITY y(v, p)
										ORDER BY y.p)
						   FROM jsonb_array_elements(c.c -> 'scored_users') WITH ORDINALITY x(e, o) ORDER BY x.o)) s(s);
SELECT name, params -> 'weights' AS weights FROM recsys.models WHERE name LIKE 'mw\_%' ORDER BY name;
SELECT recsys.drop_model('mw_3_2'), recsys.drop_model('mw_3_3');
-- ... with no time left: no weight, nothing scored, nothing left behind;
-- models not two per split: an error
SELECT c ->> 'weight' AS weight, c -> 'means' AS means, c -> 'scored_users' AS scored_users
FROM recsys._auto_matched_weight(ARRAY['per_user_pop', 'per_user_pop'], ARRAY['per_user', 'per_user'], ARRAY[1],
								 ARRAY[0.01, 1], 'mw', 'ndcg', 10, 1,
								 jsonb_build_object('deadline', clock_timestamp() + interval '0.5 seconds')) c;
SELECT count(*) AS left_behind FROM recsys.models WHERE name LIKE 'mw\_%';
SELECT recsys._auto_matched_weight(ARRAY['per_user_pop', 'per_user_pop'], ARRAY['per_user'], ARRAY[1],
								   ARRAY[1], 'mw', 'ndcg', 10, 1, '{}');
SELECT recsys.drop_model('per_user_pop');
DROP TABLE pg_temp._recsys_auto_valid_2, pg_temp._recsys_auto_valid_3;

-- the final retraining's keep under load: the load factor is the median
-- measured / modelled seconds of the trials so far (here 0.5, 3 and 4:
-- 3; blends and trials modelled under 0.1 s left out), at least 1, at
-- most 8
CREATE TEMP TABLE _recsys_auto_trials (family text, train_seconds float8, eval_seconds float8, modelled float8);
SELECT recsys._auto_load_factor() AS before_any_trial;
INSERT INTO _recsys_auto_trials VALUES ('als', 0.4, 0.1, 1), ('ease', 5, 1, 2), ('bm25', 3, 1, 1),
	('blend', 100, 0, 1), ('popular', 9, 1, 0.05), ('bpr', NULL, NULL, 1);
SELECT recsys._auto_load_factor() AS median_ratio;
UPDATE _recsys_auto_trials SET train_seconds = train_seconds * 10;
SELECT recsys._auto_load_factor() AS bounded_above;
UPDATE _recsys_auto_trials SET train_seconds = 0.01, eval_seconds = 0;
SELECT recsys._auto_load_factor() AS bounded_below;
DROP TABLE pg_temp._recsys_auto_trials;
-- known by construction: a compact EASE member measured at 48 s (for all
-- the data), exact writing 40 s unloaded (ease_write_exact), exact factor
-- 2.5, 200 s left.  Unloaded the exact estimate is 48 + 1.5 x 48 = 120 s:
-- exact.  At load factor 5 the writing, 0.9 x 40 x 5 = 180 s, outweighs
-- 1.5 x 48: exact at 228 s does not fit, keep 0.5 (48 + 0.4 x 200 = 128 s)
-- does.  At load 8 with 60 s left not even keep 0.25 (48 + 0.15 x 320 =
-- 96 s) fits: compact as validated.  A non-EASE member's 30 s counts too
-- (140 s left: exact, 150 s, does not fit; keep 0.5, 110 s, does)
SELECT l.load, l.left_seconds, l.other, f.keep, round(f.estimate::numeric, 1) AS estimate,
	   round(f.exact_estimate::numeric, 1) AS exact_estimate
FROM (VALUES (1, 200, 0), (5, 200, 0), (8, 60, 0), (1, 140, 30)) l(load, left_seconds, other),
	 LATERAL recsys._auto_final_keep(l.other, 48, NULL, l.left_seconds, '{"exact_factor": 2.5, "ease_write_exact": 40}', l.load) f
ORDER BY l.load, l.left_seconds DESC;
-- the exact fit as this run measured it (s13, review s12 W3: ease_exact,
-- _auto_exact_seconds) replaces the model whatever the load factor: the
-- same member measured exact at 100 s for all the data fits 120 s left
-- at load 8 (the model said 48 + 0.9 x 320 = 336 s: compact); keep 0.5
-- lies in proportion, 48 + (100 - 48) x 0.4 / 0.9 = 71.1 s, and is taken
-- with 80 s left; with 50 s left only compact; a measured exact below the
-- compact estimate counts as the compact one (48 s)
SELECT l.ease_exact, l.left_seconds, f.keep, round(f.estimate::numeric, 1) AS estimate,
	   round(f.exact_estimate::numeric, 1) AS exact_estimate
FROM (VALUES (100, 120), (100, 80), (100, 50), (30, 50)) l(ease_exact, left_seconds),
	 LATERAL recsys._auto_final_keep(0, 48, l.ease_exact, l.left_seconds, '{"exact_factor": 2.5, "ease_write_exact": 40}', 8) f
ORDER BY l.ease_exact DESC, l.left_seconds DESC;

-- the second round's neighbourhood (_auto_neighbours): per parameter, in
-- name order, one rung below then one above on its steps bisected once
-- (geometric on positive steps, arithmetic on steps from 0), beyond a
-- scale's end by its last ratio, whole numbers whole, half-lives in
-- days; a parameter with one step, or not searched, has none.  Known by
-- construction: online-retail's first-round EASE setting (regularisation
-- 200, dropout 0.5 at its steps' end) has 7 neighbours
SELECT o, params - ARRAY['keep', 'fixed'] AS params
FROM recsys._auto_neighbours('{"keep": 0.1, "regularization": 200, "dropout": 0.5, "user_exponent": 0.5, "popularity_exponent": 0.25}',
							 '{"regularization": [50, 100, 200, 400, 800, 1600], "popularity_exponent": [0, 0.1, 0.25, 0.4],
							   "user_exponent": [0, 0.25, 0.5, 0.75], "dropout": [0, 0.1, 0.25, 0.5]}');
SELECT string_agg(params::text, ' ' ORDER BY o) AS beyond_the_end
FROM recsys._auto_neighbours('{"regularization": 1600, "half_life": "30 days"}',
							 '{"regularization": [50, 100, 200, 400, 800, 1600], "half_life": ["7 days", "15 days", "30 days", "60 days"]}');
SELECT string_agg(params::text, ' ' ORDER BY o) AS whole, 
	   (SELECT count(*) FROM recsys._auto_neighbours('{"k": 5, "fixed": 1}', '{"k": [5]}')) AS one_step
FROM recsys._auto_neighbours('{"neighbors": 50}', '{"neighbors": [25, 50, 100, 200]}');

-- the second round's hill climb (_auto_climb), known by construction: a
-- family of one parameter whose settings are all trained already (no
-- training here), the first split planted to favour regularisation 200
-- and the finer settings next to it (190 to 220 lead it: what a quiet
-- machine's extra time added before, crowding the contenders), the two
-- repeated splits planted to peak at 100.  The climb scores the centre
-- 200, then its neighbours in the order of their first-split values, 283
-- and 141; 141 wins, so one move to it and its new neighbour 100 (200 is
-- scored): 100 kept.  The finer settings leading the first split are
-- never contenders: the list is the neighbourhood's, whatever else the
-- family tried.  Then the budget: with 100 not yet trained and the
-- deadline passed, the list is cut there, the settings before it scored
-- in the same order, 141 kept
BEGIN;
CREATE TEMP TABLE _recsys_auto_trials (
	n integer PRIMARY KEY, round integer, family text, algorithm text, params jsonb, shown jsonb,
	value double precision, metrics jsonb, train_seconds double precision,
	eval_seconds double precision, modelled double precision, model text, status text);
CREATE TEMP TABLE _recsys_auto_scores (n integer, split integer, value float8, seconds float8, model text, error text, train_seconds float8);
CREATE FUNCTION pg_temp.plant(with_100 boolean) RETURNS void LANGUAGE sql AS $$
	TRUNCATE _recsys_auto_trials, _recsys_auto_scores;
	INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, shown, value, train_seconds, eval_seconds, modelled, model, status)
	SELECT row_number() OVER (ORDER BY r), 1, 'f', 'popular', jsonb_build_object('regularization', r),
		   jsonb_build_object('regularization', r), 0.5 - abs(ln(r / 205.0)) / 10, 0.01, 0.01, 1,
		   CASE WHEN r = 200 THEN 'planted' END, 'trained'
	FROM unnest(ARRAY[50, 71, 100, 141, 190, 200, 210, 220, 283, 400, 800, 1600]) r
	WHERE with_100 OR r <> 100;
	INSERT INTO _recsys_auto_scores
	SELECT t.n, j, 0.3 - abs(ln((t.params ->> 'regularization')::float8 / 100)) / 10 + j / 1000.0, 1, 'planted'
	FROM _recsys_auto_trials t, generate_series(2, 3) j;
$$;
SELECT pg_temp.plant(true);
SELECT (SELECT t.params ->> 'regularization' FROM _recsys_auto_trials t ORDER BY t.value DESC LIMIT 1) AS first_split_best,
	   ARRAY(SELECT t.params ->> 'regularization' FROM jsonb_array_elements_text(c -> 'scored') WITH ORDINALITY x(n, o)
			 JOIN _recsys_auto_trials t ON t.n = x.n::integer ORDER BY x.o) AS scored,
	   (SELECT t.params ->> 'regularization' FROM _recsys_auto_trials t WHERE t.n = (c ->> 'chosen')::integer) AS kept,
	   c -> 'moves' AS moves, c -> 'cut' AS cut
FROM recsys._auto_climb('f', 'popular', '{"regularization": [50, 100, 200, 400, 800, 1600]}', '{"seconds": 0.1}',
						(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'), 2, 0,
						jsonb_build_object('scale', 1, 'deadline', clock_timestamp() + interval '1 hour', 'metric', 'ndcg@10', 'k', 10,
										   'items', 1, 'rows', 1, 'users', 1, 'valid_users', 1)) c;
SELECT pg_temp.plant(false);
SELECT ARRAY(SELECT t.params ->> 'regularization' FROM jsonb_array_elements_text(c -> 'scored') WITH ORDINALITY x(n, o)
			 JOIN _recsys_auto_trials t ON t.n = x.n::integer ORDER BY x.o) AS scored,
	   (SELECT t.params ->> 'regularization' FROM _recsys_auto_trials t WHERE t.n = (c ->> 'chosen')::integer) AS kept,
	   c -> 'moves' AS moves, c -> 'cut' AS cut
FROM recsys._auto_climb('f', 'popular', '{"regularization": [50, 100, 200, 400, 800, 1600]}', '{"seconds": 0.1}',
						(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'), 2, 0,
						jsonb_build_object('scale', 1, 'deadline', clock_timestamp() - interval '1 second', 'metric', 'ndcg@10', 'k', 10,
										   'items', 1, 'rows', 1, 'users', 1, 'valid_users', 1)) c;
SELECT status LIKE 'skipped: estimated %' AS budget_recorded FROM _recsys_auto_trials WHERE params ->> 'regularization' = '100';
-- the centre's own scoring cut (s10): no score on the repeated splits
-- and the deadline passed, so the first round's setting 200 is not
-- scored either; it stays (nothing chosen), and the record says so by
-- centre_cut rather than listing it among the settings cut: cut holds
-- its neighbours 283 and 141 alone, in their first-split order (the
-- old code listed 200 first in cut)
SELECT pg_temp.plant(true);
TRUNCATE _recsys_auto_scores;
SELECT c -> 'scored' AS scored, c -> 'chosen' AS chosen, c -> 'cut' AS cut, c -> 'centre_cut' AS centre_cut
FROM recsys._auto_climb('f', 'popular', '{"regularization": [50, 100, 200, 400, 800, 1600]}', '{"seconds": 0.1}',
						(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'), 2, 0,
						jsonb_build_object('scale', 1, 'deadline', clock_timestamp() - interval '1 second', 'metric', 'ndcg@10', 'k', 10,
										   'items', 1, 'rows', 1, 'users', 1, 'valid_users', 1)) c;
-- ... and when the budget cut the list already at a neighbour's first-
-- split trial (283 not trained yet): 200 is still not in cut (the old
-- code listed it after 283)
SELECT pg_temp.plant(true);
TRUNCATE _recsys_auto_scores;
DELETE FROM _recsys_auto_trials WHERE params ->> 'regularization' = '283';
SELECT c -> 'scored' AS scored, c -> 'chosen' AS chosen, c -> 'cut' AS cut, c -> 'centre_cut' AS centre_cut
FROM recsys._auto_climb('f', 'popular', '{"regularization": [50, 100, 200, 400, 800, 1600]}', '{"seconds": 0.1}',
						(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'), 2, 0,
						jsonb_build_object('scale', 1, 'deadline', clock_timestamp() - interval '1 second', 'metric', 'ndcg@10', 'k', 10,
										   'items', 1, 'rows', 1, 'users', 1, 'valid_users', 1)) c;
-- the round resumed after the blends (s12: ctx's resumed): the settings
-- scored before keep their values even where their models on the
-- repeated splits were dropped (model NULL, as the losers'), and are not
-- trained again (there is no repeated split here: a training would fail
-- and cut the list, as the old code's would); the list is the uncut
-- one's above: 200, 283, 141, then 100 after one move, 100 kept, none cut
SELECT pg_temp.plant(true);
UPDATE _recsys_auto_scores SET model = NULL;
SELECT ARRAY(SELECT t.params ->> 'regularization' FROM jsonb_array_elements_text(c -> 'scored') WITH ORDINALITY x(n, o)
			 JOIN _recsys_auto_trials t ON t.n = x.n::integer ORDER BY x.o) AS scored,
	   (SELECT t.params ->> 'regularization' FROM _recsys_auto_trials t WHERE t.n = (c ->> 'chosen')::integer) AS kept,
	   c -> 'moves' AS moves, c -> 'cut' AS cut,
	   (SELECT count(*) FROM _recsys_auto_scores s WHERE s.model IS NOT NULL) AS models_kept
FROM recsys._auto_climb('f', 'popular', '{"regularization": [50, 100, 200, 400, 800, 1600]}', '{"seconds": 0.1}',
						(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'), 2, 0,
						jsonb_build_object('scale', 1, 'deadline', clock_timestamp() + interval '1 hour', 'metric', 'ndcg@10', 'k', 10,
										   'items', 1, 'rows', 1, 'users', 1, 'valid_users', 1, 'resumed', true)) c;
-- the centre fitted on the repeated splits before the cut (s12: each step
-- fits it there first): its values recorded (planted here), the list cut
-- at 283's first-split trial (not trained, deadline passed) scores the
-- centre still, so 200 is scored, not centre_cut, and the cut holds 283
-- and 141 (before, the cut at a trial made the centre centre_cut whatever)
SELECT pg_temp.plant(true);
DELETE FROM _recsys_auto_scores WHERE n <> (SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200');
DELETE FROM _recsys_auto_trials WHERE params ->> 'regularization' = '283';
SELECT ARRAY(SELECT t.params ->> 'regularization' FROM jsonb_array_elements_text(c -> 'scored') WITH ORDINALITY x(n, o)
			 JOIN _recsys_auto_trials t ON t.n = x.n::integer ORDER BY x.o) AS scored,
	   c -> 'cut' AS cut, c -> 'centre_cut' AS centre_cut
FROM recsys._auto_climb('f', 'popular', '{"regularization": [50, 100, 200, 400, 800, 1600]}', '{"seconds": 0.1}',
						(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'), 2, 0,
						jsonb_build_object('scale', 1, 'deadline', clock_timestamp() - interval '1 second', 'metric', 'ndcg@10', 'k', 10,
										   'items', 1, 'rows', 1, 'users', 1, 'valid_users', 1)) c;
-- the same with the centre not yet scored on the repeated splits: its
-- fits there are tried first and refused (no time left), which cuts the
-- round; the check that refused them is recorded (review s12 W9: before,
-- cut_check stayed null in exactly this case)
SELECT pg_temp.plant(true);
DELETE FROM _recsys_auto_trials WHERE params ->> 'regularization' = '283';
DELETE FROM _recsys_auto_scores WHERE n = (SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200');
SELECT c -> 'scored' AS scored, c -> 'centre_cut' AS centre_cut,
	   (c -> 'cut_check' ->> 'left_seconds')::float8 <= 0 AS cut_check_no_time_left,
	   c -> 'cut_check' ? 'estimate' AS cut_check_estimate
FROM recsys._auto_climb('f', 'popular', '{"regularization": [50, 100, 200, 400, 800, 1600]}', '{"seconds": 0.1}',
						(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'), 2, 0,
						jsonb_build_object('scale', 1, 'deadline', clock_timestamp() - interval '1 second', 'metric', 'ndcg@10', 'k', 10,
										   'items', 1, 'rows', 1, 'users', 1, 'valid_users', 1)) c;
SELECT pg_temp.plant(true);
-- the budget check of a repeated split's fit, with its figures (s12,
-- _auto_rescore_check; the climb records the one that cut it): the
-- family's fits on the repeated splits planted at 1 s each, so the
-- estimate is the slowest, 1 s, plus a fifth (_auto_measured_fit); kept
-- for what follows: the extra 5 s and the final training of the setting
-- kept (200's model: 0.01 s, plus a fifth)
SELECT round((c ->> 'estimate')::numeric, 3) AS estimate, round((c ->> 'reserve')::numeric, 3) AS reserve,
	   (c ->> 'left_seconds')::float8 BETWEEN 3000 AND 3600 AS left_about_an_hour
FROM recsys._auto_rescore_check((SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'),
								jsonb_build_object('scale', 1, 'deadline', clock_timestamp() + interval '1 hour',
												   'extra_reserve', 5, 'exact_factor', 2.5, 'ease_write_exact', 0)) c;
-- the scores noted in the settings' statuses once (s12, _auto_note_scores:
-- a resumed round notes again; the values and the mean by the splits'
-- users, 2 and 3 here: 200's 0.2327 and 0.2337, mean 0.2333)
SELECT recsys._auto_note_scores('f', '{"split_users": {"2": 2, "3": 3}}'), recsys._auto_note_scores('f', '{"split_users": {"2": 2, "3": 3}}');
SELECT count(*) FILTER (WHERE status LIKE '%; on validation splits 1 to 3:%') AS noted,
	   count(*) FILTER (WHERE status LIKE '%; on validation splits 1 to 3:%; on validation splits%') AS noted_twice,
	   (SELECT substr(status, position(';' IN status)) FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200') AS status_200
FROM _recsys_auto_trials;
-- the round's record and sentence (s12, _auto_second_record): resumed
-- said in both; kept 100 after one move from 200
SELECT r.entry -> 'resumed' AS resumed, r.entry -> 'kept' AS kept, r.entry -> 'first_round' AS first_round,
	   jsonb_array_length(r.entry -> 'contenders') AS contenders, r.note
FROM recsys._auto_second_record('f',
		jsonb_build_object('scored', (SELECT jsonb_agg(n ORDER BY n) FROM _recsys_auto_trials
									  WHERE params ->> 'regularization' IN ('100', '141', '200', '283')),
						   'moves', 1, 'new_settings', 0, 'cut', '[]'::jsonb, 'centre_cut', false, 'resumed', true),
		(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'),
		(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '100'), 3) r;
-- the per-setting reserve at measured seconds (s12, _auto_measured_fit):
-- every trial planted at 100 s on the first split, so the model gives
-- 120 s for an exact fit on a repeated split, while the planted fits
-- there took 1 s each (1.2 s with the fifth).  With 300 s left, 283's
-- first-split trial (estimated 100 s) keeps its two fits at 1.2 s each
-- and the final training (120 s): it runs (and fails here, no split to
-- train on, so it is no contender), and the list goes on to its end:
-- 200, 141, then 100 after the move, none cut.  The old code kept 2 x
-- 120 s and cut the list at 283 (cut 283 and 141, centre_cut)
SELECT pg_temp.plant(true);
DELETE FROM _recsys_auto_trials WHERE params ->> 'regularization' = '283';
UPDATE _recsys_auto_trials SET train_seconds = 100;
SELECT ARRAY(SELECT t.params ->> 'regularization' FROM jsonb_array_elements_text(c -> 'scored') WITH ORDINALITY x(n, o)
			 JOIN _recsys_auto_trials t ON t.n = x.n::integer ORDER BY x.o) AS scored,
	   (SELECT t.params ->> 'regularization' FROM _recsys_auto_trials t WHERE t.n = (c ->> 'chosen')::integer) AS kept,
	   c -> 'cut' AS cut, c -> 'centre_cut' AS centre_cut
FROM recsys._auto_climb('f', 'popular', '{"regularization": [50, 100, 200, 400, 800, 1600]}', '{"seconds": 0.1}',
						(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'), 2, 0,
						jsonb_build_object('scale', 1, 'deadline', clock_timestamp() + interval '300 seconds', 'metric', 'ndcg@10', 'k', 10,
										   'items', 1, 'rows', 1, 'users', 1, 'valid_users', 1)) c;
SELECT left(status, 7) AS tried_283 FROM _recsys_auto_trials WHERE params ->> 'regularization' = '283';
-- a fit on a repeated split that fails is no contender, not a budget cut
-- (s13, review s12 W6): 141's scores removed, its fit there fails (this
-- test has no repeated split to train on); the list goes on, 141 listed
-- as failed with the message in its status, none cut, 200 kept (283's
-- mean is lower).  The old code cut the list at 141.  The round resumed
-- (ctx's resumed) does not try the failed fit again (still one failure
-- recorded)
SELECT pg_temp.plant(true);
DELETE FROM _recsys_auto_scores WHERE n = (SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '141');
SELECT ARRAY(SELECT t.params ->> 'regularization' FROM jsonb_array_elements_text(c -> 'scored') WITH ORDINALITY x(n, o)
			 JOIN _recsys_auto_trials t ON t.n = x.n::integer ORDER BY x.o) AS scored,
	   (SELECT t.params ->> 'regularization' FROM _recsys_auto_trials t WHERE t.n = (c ->> 'chosen')::integer) AS kept,
	   c -> 'cut' AS cut, c -> 'failed' AS failed, c -> 'centre_cut' AS centre_cut
FROM recsys._auto_climb('f', 'popular', '{"regularization": [50, 100, 200, 400, 800, 1600]}', '{"seconds": 0.1}',
						(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'), 2, 0,
						jsonb_build_object('scale', 1, 'deadline', clock_timestamp() + interval '1 hour', 'metric', 'ndcg@10', 'k', 10,
										   'items', 1, 'rows', 1, 'users', 1, 'valid_users', 1)) c;
SELECT status LIKE '%; failed on validation split 2: relation "pg_temp._recsys_auto_train_2" does not exist' AS failure_in_status,
	   (SELECT count(*) FROM _recsys_auto_scores s WHERE s.n = t.n AND s.error IS NOT NULL) AS failures_recorded
FROM _recsys_auto_trials t WHERE params ->> 'regularization' = '141';
SELECT c -> 'failed' AS failed_again
FROM recsys._auto_climb('f', 'popular', '{"regularization": [50, 100, 200, 400, 800, 1600]}', '{"seconds": 0.1}',
						(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'), 2, 0,
						jsonb_build_object('scale', 1, 'deadline', clock_timestamp() + interval '1 hour', 'metric', 'ndcg@10', 'k', 10,
										   'items', 1, 'rows', 1, 'users', 1, 'valid_users', 1, 'resumed', true)) c;
SELECT (SELECT count(*) FROM _recsys_auto_scores s WHERE s.n = t.n AND s.error IS NOT NULL) AS failures_recorded,
	   (length(status) - length(replace(status, '; failed on', ''))) / length('; failed on') AS failures_in_status
FROM _recsys_auto_trials t WHERE params ->> 'regularization' = '141';
-- and the round's record and sentence say so
SELECT r.entry -> 'failed' AS failed, r.note
FROM recsys._auto_second_record('f',
		jsonb_build_object('scored', '[]'::jsonb, 'moves', 0, 'new_settings', 0, 'cut', '[]'::jsonb,
						   'failed', '[{"regularization": 141}]'::jsonb, 'centre_cut', false),
		(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'),
		(SELECT n FROM _recsys_auto_trials WHERE params ->> 'regularization' = '200'), 3) r;
ROLLBACK;

-- the repeated splits: a setting's validation values (its first split's,
-- then its repeated splits') are listed; the mean of the repeated ones
-- alone decides (_auto_matched_mean: their train part has nearly the
-- final model's depth and the setting is trained in its form; the first
-- split's offset is left out).  Known by construction: trial 1 (the first
-- round's, 0.30 on the first split) and trial 2 (a finer one, 0.31: a
-- lead of 0.01 there) score 0.29, 0.30 and 0.27, 0.28 on splits 2 and 3:
-- trial 2's lead was the first split's noise, its mean is lower (0.275
-- against 0.295), it is not kept; trial 3 repeats its lead (0.31, 0.32):
-- kept.  No mean over splits not scored, nor over none
BEGIN;
CREATE TEMP TABLE _recsys_auto_trials (n integer PRIMARY KEY, family text, params jsonb, value float8, model text);
CREATE TEMP TABLE _recsys_auto_scores (n integer, split integer, value float8, seconds float8, model text, error text, train_seconds float8);
INSERT INTO _recsys_auto_trials (n, family, params, value)
VALUES (1, 'f', '{"r": 200}', 0.30), (2, 'f', '{"r": 141}', 0.31), (3, 'f', '{"r": 100}', 0.31),
	   (4, 'f', '{"r": 400}', 0.40), (5, 'f', '{"r": 70}', 0.30);
INSERT INTO _recsys_auto_scores VALUES (1, 2, 0.29, 1), (1, 3, 0.30, 1), (2, 2, 0.27, 1), (2, 3, 0.28, 1), (3, 2, 0.31, 1);
SELECT n, recsys._auto_split_values(n) AS split_values, round(recsys._auto_matched_mean(n, 3)::numeric, 4) AS mean_3,
	   round(recsys._auto_matched_mean(n, 2)::numeric, 4) AS mean_2, recsys._auto_matched_mean(n, 1) AS no_repeated
FROM generate_series(1, 3) n ORDER BY n;
SELECT (SELECT x FROM unnest(ARRAY[1, 2]) x ORDER BY recsys._auto_matched_mean(x, 3) DESC NULLS LAST, x LIMIT 1) AS noise_lead_kept;
INSERT INTO _recsys_auto_scores VALUES (3, 3, 0.32, 1);
SELECT (SELECT x FROM unnest(ARRAY[1, 3]) x ORDER BY recsys._auto_matched_mean(x, 3) DESC NULLS LAST, x LIMIT 1) AS repeated_lead_kept;
-- an offset the first split shares for all its settings: trial 4 leads
-- the first split by far (0.40: compact EASE on three quarters of each
-- user's items favours strong regularisation) and trails both splits of
-- the final model's depth and form (0.20, 0.21); trial 5 (0.30 on the
-- first) leads those (0.22, 0.23).  A mean over all three splits would
-- keep trial 4 (0.27 against 0.25); the repeated splits' mean keeps 5
INSERT INTO _recsys_auto_scores VALUES (4, 2, 0.20, 1), (4, 3, 0.21, 1), (5, 2, 0.22, 1), (5, 3, 0.23, 1);
SELECT (SELECT x FROM unnest(ARRAY[4, 5]) x ORDER BY recsys._auto_matched_mean(x, 3) DESC NULLS LAST, x LIMIT 1) AS final_form_kept,
	   (SELECT x FROM unnest(ARRAY[4, 5]) x
		ORDER BY (SELECT avg(v) FROM unnest(recsys._auto_split_values(x)) v) DESC, x LIMIT 1) AS all_splits_mean_would_keep;
ROLLBACK;

-- the round's budget: a repeated split's score, a trial, or the first
-- round's setting trained again are skipped when their seconds (a trial's
-- measured ones plus a fifth) and the time kept for what follows
-- (_auto_reserve, with the blends' reserve as extra_reserve) pass the
-- deadline.  Known by construction: a 2 s trial (2.4 s with the fifth)
-- of a family whose model took 1.5 s to train (1.8 s kept for its final
-- training) fits an hour; with an extra reserve of an hour, or a deadline
-- passed, it does not
BEGIN;
CREATE TEMP TABLE _recsys_auto_trials (
	n integer PRIMARY KEY, round integer, family text, algorithm text, params jsonb, shown jsonb,
	value double precision, metrics jsonb, train_seconds double precision,
	eval_seconds double precision, modelled double precision, model text, status text);
CREATE TEMP TABLE _recsys_auto_scores (n integer, split integer, value float8, seconds float8, model text, error text, train_seconds float8);
INSERT INTO _recsys_auto_trials (n, family, algorithm, params, value, train_seconds, eval_seconds, modelled, model)
VALUES (1, 'popular', 'popular', '{}', 0.1, 1.5, 0.5, 1, 'm'), (2, 'popular', 'popular', '{"x": 1}', 0.1, 1.5, 0.5, 1, NULL);
SELECT round(recsys._auto_reserve('popular', '{}', 2.4, true, '{"scale": 1}')::numeric, 1) AS reserve,
	   round(recsys._auto_reserve('popular', '{}', 2.4, true, '{"scale": 1, "extra_reserve": 3600}')::numeric, 1) AS with_extra;
SELECT recsys._auto_rescore(2, 2, jsonb_build_object('scale', 1, 'deadline', clock_timestamp() - interval '1 second')) AS past_deadline,
	   recsys._auto_rescore(2, 2, jsonb_build_object('scale', 1, 'deadline', clock_timestamp() + interval '1 hour',
													 'extra_reserve', 3600)) AS reserve_too_large,
	   recsys._auto_adopt(2, jsonb_build_object('scale', 1, 'deadline', clock_timestamp() + interval '1 hour',
												'extra_reserve', 3600, 'prefix', 'x')) AS adopt_too_large,
	   (SELECT count(*) FROM _recsys_auto_scores) AS scored;
SELECT recsys._auto_trial('popular', 'popular', '{"half_life": "1 day"}', '{"seconds": 0.1}', 2,
						  jsonb_build_object('scale', 1, 'deadline', clock_timestamp() + interval '1 hour',
											 'extra_reserve', 3600, 'items', 1, 'rows', 1, 'users', 1, 'valid_users', 1)) AS trial;
SELECT n, status LIKE 'skipped: estimated % s, % s of the budget left (36__._ s kept for what must follow: the matched splits, blends and the winner''s training on all the data)' AS skipped
FROM _recsys_auto_trials WHERE n = 3;
ROLLBACK;
-- the repeated splits have nearly the final model's depth on protocol
-- holdout: a tenth of each user's items held out (one of a group user's
-- 10, none of users 81 to 88's 5; the first split and the old code: a
-- quarter, 2 of 10), the train part keeping the rest.  On protocol last
-- (since s10, 0.11.0) split 2 is the first split itself, its held-out
-- pairs and train part (for the settings to be scored there in the final
-- model's form; the old code held out the 5 items before them, a rolling
-- origin), and split 3 a global time cut, or, when the cut leaves fewer
-- than 2 users with 5 items before it and new ones after, the rolling
-- origin: here users follow one another in time (user u's items at hours
-- 10 u to 10 u + 9), so the cut at the last tenth of rows (user 75's
-- hours) has one such user at most, and split 3 holds out the 5 items
-- before split 2's of users with 10 left: none (each has 5)
BEGIN;
CREATE TEMP TABLE _recsys_auto_train AS SELECT user_id, item_id, ts FROM events;
SELECT recsys._auto_split(2, 'holdout', 'events', 42, 'user_id', 'item_id', NULL) AS holdout_users;
SELECT n_valid, count(*) AS users FROM (SELECT e.user_id, count(v.item_id) AS n_valid FROM events e
	LEFT JOIN pg_temp._recsys_auto_valid_2 v USING (user_id, item_id) GROUP BY e.user_id) x GROUP BY n_valid ORDER BY 1;
SELECT (SELECT count(*) FROM pg_temp._recsys_auto_train_2) AS holdout_train_rows;
DROP TABLE pg_temp._recsys_auto_train_2, pg_temp._recsys_auto_valid_2;
CREATE TEMP TABLE _recsys_auto_valid AS
SELECT s.user_id, s.item_id FROM recsys.split_last('events', 'ts', 5, 10) s WHERE s.is_test;
DELETE FROM _recsys_auto_train t USING _recsys_auto_valid v WHERE v.user_id = t.user_id AND v.item_id = t.item_id;
SELECT recsys._auto_split(2, 'last', 'events', 42, 'user_id', 'item_id', 'ts') AS last_users;
-- (user 1's items 100 to 109 in time order: split 1's last five; the old
-- code held out the 5 before them, none here: each user has 5 left)
SELECT (SELECT array_agg(item_id ORDER BY item_id) FROM pg_temp._recsys_auto_valid_2 WHERE user_id = 1) AS last_five,
	   (SELECT count(*) FROM pg_temp._recsys_auto_train_2) AS last_train_rows,
	   (SELECT count(*) FROM (TABLE pg_temp._recsys_auto_valid_2 EXCEPT TABLE pg_temp._recsys_auto_valid) x) AS not_split_1;
SELECT recsys._auto_split(3, 'last', 'events', 42, 'user_id', 'item_id', 'ts') AS rolling_users;
ROLLBACK;
-- the global time cut, known by construction: 20 users share a timeline
-- (user u's items 1000 + 10 u + j on day j, j = 0 to 9); the last tenth
-- of the 200 rows starts on day 8, so every user (8 items before it) is
-- validated on his items of days 8 and 9, and split 3 trains on the 160
-- rows before day 8; split 1 (and 2) hold out each user's last 5, days 5
-- to 9.  The matched mean counts each split by its users (ctx's
-- split_users): a setting at 0.30 on a split of 900 users and 0.10 on
-- one of 100 has 0.28 (the two splits' plain mean 0.20)
BEGIN;
CREATE TEMP TABLE shared_time AS
SELECT u AS user_id, 1000 + 10 * u + j AS item_id, timestamptz '2026-01-01' + j * interval '1 day' AS ts
FROM generate_series(1, 20) u, generate_series(0, 9) j;
CREATE TEMP TABLE _recsys_auto_valid AS
SELECT s.user_id, s.item_id FROM recsys.split_last('shared_time', 'ts', 5, 10) s WHERE s.is_test;
CREATE TEMP TABLE _recsys_auto_train AS
SELECT t.user_id, t.item_id, t.ts FROM shared_time t
WHERE NOT EXISTS (SELECT FROM _recsys_auto_valid v WHERE v.user_id = t.user_id AND v.item_id = t.item_id);
SELECT recsys._auto_split(2, 'last', 'shared_time', 42, 'user_id', 'item_id', 'ts') AS split_2_users,
	   recsys._auto_split(3, 'last', 'shared_time', 42, 'user_id', 'item_id', 'ts') AS cut_users;
SELECT (SELECT array_agg(item_id ORDER BY item_id) FROM pg_temp._recsys_auto_valid_3 WHERE user_id = 1) AS user_1_after_cut,
	   (SELECT count(*) FROM pg_temp._recsys_auto_valid_3) AS cut_pairs,
	   (SELECT count(*) FROM pg_temp._recsys_auto_train_3) AS cut_train_rows,
	   (SELECT max(ts) FROM pg_temp._recsys_auto_train_3) AS cut_train_latest;
CREATE TEMP TABLE _recsys_auto_scores (n integer, split integer, value float8, seconds float8, model text, error text, train_seconds float8);
INSERT INTO _recsys_auto_scores VALUES (1, 2, 0.30, 1), (1, 3, 0.10, 1);
SELECT round(recsys._auto_matched_mean(1, 3, '{"2": 900, "3": 100}')::numeric, 4) AS by_users,
	   round(recsys._auto_matched_mean(1, 3)::numeric, 4) AS plain;
ROLLBACK;

-- ... and each setting is scored there in the final model's form: a
-- compact EASE trial (keep 0.1) trained exact, its value the exact
-- model's on split 2.  On 300 users with 15 random items each of 60 (a
-- fixed seed; popularity skewed), where a tenth of the weights ranks
-- otherwise than all: the value equals that of train_ease without keep
-- on the split's train part, evaluated on its validation part, and not
-- the compact one's (which the old code scored)
BEGIN;
SELECT setseed(0.18);
CREATE TEMP TABLE _recsys_auto_train AS
SELECT DISTINCT u AS user_id, (60 * power(random(), 2))::bigint AS item_id FROM generate_series(1, 300) u, generate_series(1, 15);
CREATE TEMP TABLE _recsys_auto_trials (
	n integer PRIMARY KEY, round integer, family text, algorithm text, params jsonb, shown jsonb,
	value double precision, metrics jsonb, train_seconds double precision,
	eval_seconds double precision, modelled double precision, model text, status text);
CREATE TEMP TABLE _recsys_auto_scores (n integer, split integer, value float8, seconds float8, model text, error text, train_seconds float8);
INSERT INTO _recsys_auto_trials (n, family, algorithm, params, value, train_seconds, eval_seconds, modelled)
VALUES (1, 'ease', 'ease', '{"regularization": 1, "keep": 0.1}', 0.5, 0.01, 0.01, 1);
SELECT recsys._auto_split(2, 'holdout', 'pg_temp._recsys_auto_train', 7, 'user_id', 'item_id', NULL) > 0 AS split_made;
SELECT round(recsys._auto_rescore(1, 2, jsonb_build_object('scale', 1, 'deadline', clock_timestamp() + interval '1 hour',
														   'prefix', 'rescored_', 'metric', 'ndcg@10', 'k', 10,
														   'exact_factor', 2.5, 'ease_write_exact', 0))::numeric, 4) AS rescored;
SELECT count(*) FROM recsys.train_ease('pg_temp._recsys_auto_train_2', 1, model => 'exact_2');
SELECT count(*) FROM recsys.train_ease('pg_temp._recsys_auto_train_2', 1, model => 'compact_2', keep => 0.1);
SELECT (SELECT round(value::numeric, 4) FROM recsys.evaluate('exact_2', 'pg_temp._recsys_auto_valid_2') WHERE metric = 'ndcg@10') AS exact,
	   (SELECT round(value::numeric, 4) FROM recsys.evaluate('compact_2', 'pg_temp._recsys_auto_valid_2') WHERE metric = 'ndcg@10') AS compact,
	   (SELECT count(*) FROM recsys.models WHERE name LIKE 'rescored\_%') AS left_behind;
-- its estimate: exact from the compact seconds (_auto_keep_seconds: 10 +
-- 1.5 x 10 / 0.9 x 0.9 = 25 s at load 1) on all the data (scale 1.25),
-- plus the 2 s evaluation, plus a fifth: 1.2 x (2 + 31.25) = 39.9; a
-- model without keep its own seconds: 1.2 x (2 + 12.5) = 17.4
SELECT round(recsys._auto_rescore_seconds('{"keep": 0.1}', 10, 2, '{"scale": 1.25, "exact_factor": 2.5, "ease_write_exact": 0}')::numeric, 2) AS compact_ease,
	   round(recsys._auto_rescore_seconds('{"alpha": 10}', 10, 2, '{"scale": 1.25}')::numeric, 2) AS other;
-- and the budget gate uses it: a compact EASE trial measured at 10 s
-- (12 s with the fifth, which the old code checked) is not rescored with
-- 20 s left, its exact fit estimated at 30 s; nothing is recorded.
-- (Trial 1's fit above is forgotten first: once a fit on the repeated
-- splits is measured, its seconds replace the model, s12, below)
DELETE FROM _recsys_auto_scores;
INSERT INTO _recsys_auto_trials (n, family, algorithm, params, value, train_seconds, eval_seconds, modelled)
VALUES (2, 'ease', 'ease', '{"regularization": 2, "keep": 0.1}', 0.5, 10, 0, 1);
SELECT recsys._auto_rescore(2, 2, jsonb_build_object('scale', 1, 'deadline', clock_timestamp() + interval '20 seconds',
													 'prefix', 'rescored_', 'metric', 'ndcg@10', 'k', 10,
													 'exact_factor', 2.5, 'ease_write_exact', 0)) AS exact_does_not_fit,
	   (SELECT count(*) FROM _recsys_auto_scores WHERE n = 2) AS scored;
-- the measured fit replaces the model (s12, _auto_measured_fit: the
-- family's slowest fit on the repeated splits, plus a fifth): with one
-- of 5 s recorded, trial 2's fit is estimated at 6 s, not 30 s, and
-- fits the 20 s left; with none, the model's 30 s
INSERT INTO _recsys_auto_scores (n, split, value, seconds) VALUES (1, 3, 0.5, 5);
SELECT round((c ->> 'estimate')::numeric, 2) AS measured_estimate,
	   (c ->> 'estimate')::float8 + (c ->> 'reserve')::float8 <= (c ->> 'left_seconds')::float8 AS fits
FROM recsys._auto_rescore_check(2, jsonb_build_object('scale', 1, 'deadline', clock_timestamp() + interval '20 seconds',
													  'exact_factor', 2.5, 'ease_write_exact', 0)) c;
DELETE FROM _recsys_auto_scores;
SELECT round((c ->> 'estimate')::numeric, 2) AS model_estimate,
	   (c ->> 'estimate')::float8 + (c ->> 'reserve')::float8 <= (c ->> 'left_seconds')::float8 AS fits
FROM recsys._auto_rescore_check(2, jsonb_build_object('scale', 1, 'deadline', clock_timestamp() + interval '20 seconds',
													  'exact_factor', 2.5, 'ease_write_exact', 0)) c;
ROLLBACK;
-- the final training's reserve at the exact fit's measured seconds (s13,
-- review s12 W3, _auto_exact_seconds): a compact EASE trial of 10 s
-- (its family's first; 15 s for all the data, scale 1.25, with the
-- fifth; load factor 1) is kept for at the model's exact estimate,
-- 15 + 0.9 x 40 (ease_write_exact) = 51 s; once the family has a fit on a
-- repeated split (the slowest training, 5 s) at that, plus a fifth, times
-- the scale (7.5 s), but never below the compact retraining's 15 s, which
-- the final falls back to (review s13 R4)
BEGIN;
CREATE TEMP TABLE _recsys_auto_trials (
	n integer PRIMARY KEY, round integer, family text, algorithm text, params jsonb, shown jsonb,
	value double precision, metrics jsonb, train_seconds double precision,
	eval_seconds double precision, modelled double precision, model text, status text);
CREATE TEMP TABLE _recsys_auto_scores (n integer, split integer, value float8, seconds float8, model text, error text, train_seconds float8);
INSERT INTO _recsys_auto_trials (n, family, algorithm, params, value, train_seconds, eval_seconds, modelled, model)
VALUES (1, 'ease', 'ease', '{"keep": 0.1}', 0.3, 10, 1, 11, 'm');
SELECT round(recsys._auto_reserve('bpr', '{}', 1, true, '{"scale": 1.25, "exact_factor": 2.5, "ease_write_exact": 40}')::numeric, 2) AS modelled,
	   recsys._auto_exact_seconds('ease', '{"scale": 1.25}') AS not_measured;
INSERT INTO _recsys_auto_scores (n, split, value, seconds, train_seconds) VALUES (1, 2, 0.3, 5, 5), (1, 3, 0.3, 4, 4);
SELECT round(recsys._auto_reserve('bpr', '{}', 1, true, '{"scale": 1.25, "exact_factor": 2.5, "ease_write_exact": 40}')::numeric, 2) AS measured,
	   recsys._auto_exact_seconds('ease', '{"scale": 1.25}') AS exact_seconds;
ROLLBACK;
-- what the description says of the second round: the settings scored,
-- the climb's moves, the settings the budget cut, the setting kept
SELECT recsys._auto_second_note('ease', 9, 1, 0, 3, '{"regularization": 200, "dropout": 0.5}',
								'{"regularization": 141, "dropout": 0.5}') AS changed,
	   recsys._auto_second_note('ease', 5, 0, 2, 3, '{"regularization": 200}', '{"regularization": 200}') AS cut,
	   recsys._auto_second_note('ease', 0, 0, 0, 1, '{"regularization": 200}', '{"regularization": 200}') AS no_split;
-- ... and when the first round's setting itself was not scored there
-- (centre_cut, s10): no "best mean" where nothing was compared
SELECT recsys._auto_second_note('ease', 0, 0, 6, 3, '{"regularization": 200}', '{"regularization": 200}', true) AS centre_cut;
-- which test a blend member's gain gets (s10): on the repeated splits
-- min_z_matched (1.0 here); when the budget cannot cover the members'
-- fits there, on the first split at min_z (1.96) while the family's
-- setting is the first round's own, and no test at all (NULL: not kept)
-- when the second round changed it.  Known by construction with the
-- member verdicts: a gain at z 1.37 is kept on the repeated splits, not
-- on the first split (where the weight was chosen on the same users);
-- z 2.5 is kept on the first split; with the setting changed nothing is
-- tested, so not kept.  On the repeated splits min_z_matched holds only
-- when one weight was scored there (the first split's choice, not chosen
-- on these users); a weight chosen there as the best of several is
-- tested at the max-T threshold of those weights at min_z_matched's
-- level (s12; s11 rev2 R4 had 1.96 whatever their correlation).  Known
-- by construction (as in test auto_threshold): 100 users whose gains are
-- +1 (even) and -1 (odd) at every weight: five identical weights need
-- what one needs, the hundredth above z 1 (K = 55 of 100, P(K >= 55) =
-- 0.184 > 0.159: a z of 1 ties an atom of p 0.18, not kept; s12 W1, 1
-- before), 1.01 (1.96 in R4: z 1.37 was not kept, now it is); with the
-- mirror weight (gains -1 and +1) the largest is |z|: above 1.4068, 1.41,
-- and z 1.37 is not kept.  On protocol last (min_z_matched 1.96) five
-- identical weights need the hundredth above z 2.031 (K = 60: P(K >= 60)
-- = 0.028 > 0.025), 2.04.  train_auto's own context on last (s12:
-- min_z_selected 1, the max-T accounting for the choice among the
-- weights itself) tests five weights at 1's level, 1.01 as on holdout,
-- and one weight still at min_z_matched's 1.96 (the hundredth above 2.031).
-- No threshold drawn (one user): the larger of min_z_matched and min_z
CREATE TEMP TABLE pm AS
SELECT array_fill(0.5::float8, ARRAY[100]) AS base,
	   array_agg(CASE WHEN i % 2 = 0 THEN 1.5 ELSE -0.5 END::float8 ORDER BY i) AS up,
	   array_agg(CASE WHEN i % 2 = 0 THEN -0.5 ELSE 1.5 END::float8 ORDER BY i) AS mirror
FROM generate_series(1, 100) i;
SELECT recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}', base, ARRAY[up]) AS one_weight,
	   recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}', base, ARRAY[up, up, up, up, up]) AS five_identical,
	   recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}', base, ARRAY[up, mirror]) AS with_mirror,
	   recsys._auto_blend_min_z(true, false, '{"min_z": 1.96, "min_z_matched": 1.0}', base, ARRAY[up, mirror]) AS with_mirror_changed,
	   recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.96}', base, ARRAY[up, up, up, up, up]) AS five_identical_last,
	   recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.96, "min_z_selected": 1.0}', base, ARRAY[up, up, up, up, up]) AS five_last_selected,
	   recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.96, "min_z_selected": 1.0}', base, ARRAY[up]) AS one_last_selected,
	   recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}', ARRAY[0.5], ARRAY[[0.7], [0.6]]) AS one_user
FROM pm;
SELECT recsys._auto_member_status(1.37, 0.21, 0.20, recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}', base, ARRAY[up, up, up, up, up])) AS z137_five_identical,
	   recsys._auto_member_status(1.37, 0.21, 0.20, recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}', base, ARRAY[up, mirror])) AS z137_with_mirror
FROM pm;
DROP TABLE pm;
-- The decision by the chosen weight's sign-flip p-value (review s12 W1):
-- 600 users, one moved by the member (0.3 -> 0.4 at the first weight,
-- 0.45 at the second, chosen), the rest unchanged: the chosen z is
-- exactly 1 whatever the number of users, and the flips give +1 or -1
-- half the time each, p 0.5: not kept (min_z above z; the threshold
-- rounded down to 1 and compared with >= kept it).  One weight alone
-- the same (min_z_matched 1 let one user's gain pass).  A clear gain
-- (every user +0.1, some +0.2) is kept: min_z at most its z.
CREATE TEMP TABLE one_moved AS
SELECT array_fill(0.3::float8, ARRAY[600]) AS b,
	   array_fill(0.3::float8, ARRAY[599]) || 0.4::float8 AS e1,
	   array_fill(0.3::float8, ARRAY[599]) || 0.45::float8 AS e2,
	   array_agg(CASE WHEN i % 3 = 0 THEN 0.5 ELSE 0.4 END::float8 ORDER BY i) AS clear
FROM generate_series(1, 600) i;
SELECT recsys._auto_paired_z(b, e2) AS z,
	   recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}', b, ARRAY[e1, e2], 2) AS min_z,
	   recsys._auto_paired_z(b, e2) >= recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}',
																  b, ARRAY[e1, e2], 2) AS kept,
	   recsys._auto_paired_z(b, e2) >= recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}',
																  b, ARRAY[e2], 1) AS kept_one_weight,
	   round(((recsys._auto_max_z_test(b, ARRAY[e1, e2], 1, 42, 2))[1])::numeric, 2) AS p,
	   recsys._auto_max_z_test(b, ARRAY[e1, e2], 1, 42, 2) AS test,
	   recsys._auto_paired_z(b, clear) >= recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}',
																	 b, ARRAY[e1, clear], 2) AS clear_kept,
	   (recsys._auto_max_z_test(b, ARRAY[e1, clear], 1, 42, 2))[1] = 1.0 / 10001 AS clear_p_least
FROM one_moved;
DROP TABLE one_moved;
SELECT recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}') AS matched,
	   recsys._auto_blend_min_z(true, false, '{"min_z": 1.96, "min_z_matched": 1.0}') AS matched_changed,
	   recsys._auto_blend_min_z(false, true, '{"min_z": 1.96, "min_z_matched": 1.0}') AS first_split,
	   recsys._auto_blend_min_z(false, false, '{"min_z": 1.96, "min_z_matched": 1.0}') AS first_split_changed;
SELECT recsys._auto_member_status(1.37, 0.21, 0.20, recsys._auto_blend_min_z(true, true, '{"min_z": 1.96, "min_z_matched": 1.0}')) AS z137_matched,
	   recsys._auto_member_status(1.37, 0.21, 0.20, recsys._auto_blend_min_z(false, true, '{"min_z": 1.96, "min_z_matched": 1.0}')) AS z137_first_split,
	   recsys._auto_member_status(2.5, 0.21, 0.20, recsys._auto_blend_min_z(false, true, '{"min_z": 1.96, "min_z_matched": 1.0}')) AS z25_first_split,
	   coalesce(2.5 >= recsys._auto_blend_min_z(false, false, '{"min_z": 1.96, "min_z_matched": 1.0}'), false) AS z25_kept_when_changed;

-- end to end: normalised EASE alone on the groups.  The second round
-- scores the first round's setting and its neighbourhood (settings off
-- the first grid: regularisation, exponents or dropout between its
-- steps) on two more splits, the first round's setting first, records
-- the round (new settings, moves, splits, the contenders' values in the
-- order of work, the settings cut, the setting kept) and says it in the
-- description
SELECT count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen,
	   count(*) FILTER (WHERE status LIKE 'chosen; trained; on validation splits 1 to 3: %') AS chosen_says_why,
	   count(*) FILTER (WHERE status LIKE '%; on validation splits 1 to 3: %') >= 3 AS three_splits
FROM recsys.train_auto('events', 'second', budget => '1 minute', families => '{ease}');
SELECT r -> 'family' AS family, (r ->> 'new_settings')::integer > 0 AS new_settings, r -> 'splits' AS splits,
	   r -> 'contenders' -> 0 -> 'params' = r -> 'first_round' AS centre_first,
	   jsonb_array_length(r -> 'contenders') >= 3 AS contenders, r -> 'cut' AS cut,
	   r -> 'first_round' ?& ARRAY['regularization', 'dropout'] AND r -> 'kept' ?& ARRAY['regularization', 'dropout'] AS settings,
	   (SELECT count(*) FROM jsonb_array_elements(m.metrics -> 'train_auto' -> 'candidates') c
		WHERE (c ->> 'round')::integer = (SELECT max((d ->> 'round')::integer)
										   FROM jsonb_array_elements(m.metrics -> 'train_auto' -> 'candidates') d)
		  AND NOT (c -> 'params' -> 'regularization' <@ '[50, 100, 200, 400, 800, 1600]'
				   AND c -> 'params' -> 'popularity_exponent' <@ '[0, 0.1, 0.25, 0.4]'
				   AND c -> 'params' -> 'user_exponent' <@ '[0, 0.25, 0.5, 0.75]'
				   AND c -> 'params' -> 'dropout' <@ '[0, 0.1, 0.25, 0.5]')) > 0 AS off_the_grid,
	   m.description LIKE '%; second round: ease: % setting(s) of the neighbourhood scored on 2 repeated validation splits of the final model''s depth and form (% move(s)), the best mean: %' AS described
FROM recsys.models m, jsonb_array_elements(m.metrics -> 'train_auto' -> 'second_round') r
WHERE m.name = 'second';

-- two roles: one may not retrain the other's model, nor read a source it
-- has no privileges on
CREATE ROLE regress_recsys_auto_owner;
CREATE ROLE regress_recsys_auto_other;
GRANT USAGE ON SCHEMA auto_test TO regress_recsys_auto_owner, regress_recsys_auto_other;
GRANT SELECT ON events TO regress_recsys_auto_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_auto_owner, regress_recsys_auto_other;
SET ROLE regress_recsys_auto_owner;
SELECT count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen
FROM recsys.train_auto('events', 'owned', budget => '10 seconds');
RESET ROLE;
SET ROLE regress_recsys_auto_other;
\set VERBOSITY terse
SELECT * FROM recsys.train_auto('events', 'mine');
RESET ROLE;
GRANT SELECT ON events TO regress_recsys_auto_other;
SET ROLE regress_recsys_auto_other;
SELECT * FROM recsys.train_auto('events', 'owned');
\set VERBOSITY default
RESET ROLE;
SELECT name, owner FROM recsys.models WHERE name IN ('owned', 'mine') ORDER BY name;

-- SELECT on the columns used suffices (as for the trainers): the splits,
-- the first and the second round's repeated ones (_auto_split, which
-- reads the source again with protocol holdout), copy only the user, item,
-- time, weight and event columns (before: SELECT r.*, permission denied
-- for table cols_events).  Both protocols, the second round run (its
-- status names the splits); without SELECT on a column used, refused.
CREATE ROLE regress_recsys_fix2b_owner;
CREATE ROLE regress_recsys_fix2b_cols;
GRANT USAGE ON SCHEMA auto_test TO regress_recsys_fix2b_owner, regress_recsys_fix2b_cols;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_fix2b_cols;
CREATE TABLE cols_events AS SELECT user_id, item_id, w, 2.0::float8 AS secret, ts FROM events;
ALTER TABLE cols_events OWNER TO regress_recsys_fix2b_owner;
SET ROLE regress_recsys_fix2b_owner;
GRANT SELECT (user_id, item_id, w, ts) ON cols_events TO regress_recsys_fix2b_cols;
SET ROLE regress_recsys_fix2b_cols;
SELECT count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen,
	   count(*) FILTER (WHERE status LIKE '%on validation splits 1 to 3%') > 0 AS repeated_splits
FROM recsys.train_auto('cols_events', 'by_columns', protocol => 'holdout', weight_col => 'w',
					   budget => '1 minute', families => '{popular,ease}');
SELECT count(*) FILTER (WHERE status LIKE 'chosen;%') AS chosen
FROM recsys.train_auto('cols_events', 'by_columns_last', time_col => 'ts', budget => '1 minute',
					   families => '{popular,ease}');
SELECT count(*) AS served FROM recsys.recommend(81, 5, model => 'by_columns');
\set VERBOSITY terse
SELECT * FROM recsys.train_auto('cols_events', 'by_columns', weight_col => 'secret', replace => true);
\set VERBOSITY default
RESET ROLE;

-- protocol last, splits of different users (review s10, 8): the status's
-- mean over the repeated splits is the one compared, by the splits'
-- users.  Known by construction: users 1 to 36 have 20 items in January
-- 2020; users 37 to 40 have 10 then, and 30 in January 2021.  Split 2 (the
-- first split) validates all 40 users (10 items or more); split 3, the
-- global cut at the time of the last tenth of the 880 rows (88, all in
-- 2021), validates users 37 to 40 only.  Each setting scored there shows
-- its values v2, v3, the users 40 and 4, and the mean (40 v2 + 4 v3) / 44
-- (before: (v2 + v3) / 2, while the choice used the weighted one)
CREATE TABLE early_events AS
SELECT u AS user_id, 1000 + (u * 7 + j) % 60 AS item_id,
	   CASE WHEN j < 10 OR u <= 36 THEN timestamptz '2020-01-01' + (u * 40 + j) * interval '1 minute'
			ELSE timestamptz '2021-01-01' + (j * 4 + u) * interval '1 minute' END AS t
FROM generate_series(1, 40) u, generate_series(0, 39) j
WHERE u > 36 OR j < 20;
WITH m AS (SELECT regexp_match(status, 'on validation splits 1 to 3: [^,]+, ([^,]+), ([^ ]+) \(mean of splits 2 to 3 by their validation users, ([0-9]+) and ([0-9]+), the final model''s depth and form: ([^)]+)\)') AS x
		   FROM recsys.train_auto('early_events', 'early', time_col => 't', budget => '1 minute',
								  families => '{popular,ease}'))
SELECT count(*) > 0 AS scored_on_repeated_splits,
	   bool_and(x[3] = '40' AND x[4] = '4') AS users_40_and_4,
	   bool_and(abs(x[5]::float8 - (40 * x[1]::float8 + 4 * x[2]::float8) / 44) <= 0.0001) AS mean_by_users,
	   count(*) FILTER (WHERE abs(x[5]::float8 - (x[1]::float8 + x[2]::float8) / 2) > 0.0001) > 0 AS not_the_plain_mean
FROM m WHERE x IS NOT NULL;

SELECT recsys.drop_model(name) FROM recsys.models WHERE name IN ('auto', 'featured', 'wide_auto', 'small', 'by_hand', 'owned',
																  'exact', 'folded', 'weighted', 'per_user', 'second',
																  'by_columns', 'by_columns_last', 'early')
ORDER BY name;
-- and the members of any blend the searches kept (how many depends on
-- the machine's speed under the small budgets)
SELECT count(recsys.drop_model(name)) >= 0 AS members_dropped FROM recsys.models WHERE name LIKE '%\_auto\_%';
SELECT count(*) AS left_behind FROM recsys.models WHERE name LIKE '%auto%' OR name IN ('small', 'owned', 'mine');
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_auto_owner, regress_recsys_auto_other;
DROP SCHEMA auto_test CASCADE;
DROP ROLE regress_recsys_auto_owner;
DROP ROLE regress_recsys_auto_other;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_fix2b_cols;
DROP ROLE regress_recsys_fix2b_owner;
DROP ROLE regress_recsys_fix2b_cols;
