-- train_auto at scale (s16): at most 10,000 validation users are scored,
-- chosen by a hash of the seed and the user; the other users' held-out
-- pairs go back to the train part
CREATE TABLE scale_events (user_id bigint, item_id bigint);
-- 10,050 users with 12 items each (of 40): the first split holds out 3
-- of each user's items, the second round's splits 1 (a tenth)
INSERT INTO scale_events
SELECT u, 1 + (u * 7 + i * 3) % 40 FROM generate_series(1, 10050) u, generate_series(1, 12) i;
ANALYZE scale_events;

BEGIN;
SELECT count(*) > 0 AS trained
FROM recsys.train_auto('scale_events', model => 'scale_auto', families => '{popular}', budget => '2 minutes');
-- the record: 10,000 of the 10,050 validation users scored, 3 pairs each;
-- the train part all the other rows
SELECT metrics -> 'train_auto' -> 'validation' ->> 'users' AS users,
	   metrics -> 'train_auto' -> 'validation' ->> 'users_sampled_from' AS sampled_from,
	   metrics -> 'train_auto' -> 'validation' ->> 'pairs' AS pairs,
	   metrics -> 'train_auto' -> 'validation' ->> 'train_rows' AS train_rows
FROM recsys.models WHERE name = 'scale_auto';
-- (the split's tables live until the transaction ends)
SELECT count(DISTINCT user_id) AS users, count(*) AS pairs FROM pg_temp._recsys_auto_valid;
SELECT count(*) AS train_rows FROM pg_temp._recsys_auto_train;
-- the users scored: the first 10,000 by md5('<seed>:<user>')
SELECT count(*) AS chosen_otherwise FROM (SELECT DISTINCT v.user_id FROM pg_temp._recsys_auto_valid v) x
WHERE x.user_id NOT IN (SELECT u FROM generate_series(1, 10050) u
						ORDER BY md5('42:' || u) COLLATE "C", u LIMIT 10000);
-- a user not scored trains on all his items, one scored on 9
SELECT count(*) FILTER (WHERE n = 12) AS all_items, count(*) FILTER (WHERE n = 9) AS nine
FROM (SELECT user_id, count(*) AS n FROM pg_temp._recsys_auto_train GROUP BY user_id) t;
-- the second round's repeated splits (a tenth of each user's 12 items held
-- out: every user validates) score 10,000 users too
SELECT count(DISTINCT user_id) AS users FROM pg_temp._recsys_auto_valid_2;
SELECT count(DISTINCT user_id) AS users FROM pg_temp._recsys_auto_valid_3;
-- and their train parts hold everything else: 120,600 - 10,000 rows
SELECT count(*) AS train_rows FROM pg_temp._recsys_auto_train_2;
SELECT count(*) AS train_rows FROM pg_temp._recsys_auto_train_3;
ROLLBACK;

-- protocol last: each user's items at times 1..12 (the same for all), so
-- the first split holds out each user's 5 latest (10,000 users kept:
-- 50,000 pairs; the train part the other 70,600 rows), split 2 is the
-- first split's validation again, and split 3, the global time cut at
-- the time of the last tenth of rows (11), validates the 2 items after
-- it of 10,000 users, its train part every row before it (100,500)
CREATE TABLE last_events AS
SELECT u AS user_id, 1 + (u * 7 + i * 3) % 40 AS item_id, i AS ts
FROM generate_series(1, 10050) u, generate_series(1, 12) i;
ANALYZE last_events;
BEGIN;
SELECT count(*) > 0 AS trained
FROM recsys.train_auto('last_events', model => 'last_auto', time_col => 'ts', families => '{popular}',
					   budget => '2 minutes');
SELECT metrics -> 'train_auto' ->> 'protocol' AS protocol,
	   metrics -> 'train_auto' -> 'validation' ->> 'users' AS users,
	   metrics -> 'train_auto' -> 'validation' ->> 'users_sampled_from' AS sampled_from,
	   metrics -> 'train_auto' -> 'validation' ->> 'pairs' AS pairs,
	   metrics -> 'train_auto' -> 'validation' ->> 'train_rows' AS train_rows
FROM recsys.models WHERE name = 'last_auto';
SELECT count(*) AS train_rows FROM pg_temp._recsys_auto_train;
SELECT count(DISTINCT user_id) AS users, count(*) AS pairs FROM pg_temp._recsys_auto_valid_2;
SELECT count(DISTINCT user_id) AS users, count(*) AS pairs FROM pg_temp._recsys_auto_valid_3;
SELECT count(*) AS train_rows, max(ts) AS latest FROM pg_temp._recsys_auto_train_3;
-- the first split's users are the first 10,000 by the hash
SELECT count(*) AS chosen_otherwise FROM (SELECT DISTINCT v.user_id FROM pg_temp._recsys_auto_valid v) x
WHERE x.user_id NOT IN (SELECT u FROM generate_series(1, 10050) u
						ORDER BY md5('42:' || u) COLLATE "C", u LIMIT 10000);
ROLLBACK;
DROP TABLE last_events;

-- below the cap nothing is sampled: every validation user is scored
CREATE TABLE small_events AS SELECT * FROM scale_events WHERE user_id <= 500;
BEGIN;
SELECT count(*) > 0 AS trained
FROM recsys.train_auto('small_events', model => 'small_auto', families => '{popular}', budget => '1 minute');
SELECT metrics -> 'train_auto' -> 'validation' ->> 'users' AS users,
	   metrics -> 'train_auto' -> 'validation' ->> 'users_sampled_from' AS sampled_from
FROM recsys.models WHERE name = 'small_auto';
ROLLBACK;

DROP TABLE scale_events, small_events;

-- (s16) budget_short: a family skipped for the budget before any of its
-- candidates trained, with the seconds the budget lacked.  EASE over
-- 10,000 items is modelled far above a 3-second budget (its cube and the
-- scoring of 2,000 users x 10,000 items: tens of seconds, the first
-- trial, so no calibration lowers it); popularity fits
CREATE TABLE many_items AS
SELECT u AS user_id, 1 + (u * 37 + j * 2003) % 10000 AS item_id
FROM generate_series(1, 2000) u, generate_series(1, 5) j;
BEGIN;
SELECT family, status LIKE 'skipped: estimated%' AS skipped_for_budget, value IS NOT NULL AS scored
FROM recsys.train_auto('many_items', model => 'short_auto', families => '{ease,popular}', budget => '3 seconds')
ORDER BY family;
SELECT k AS family, v::numeric > 10 AS lacked_more_than_10_s
FROM recsys.models m, jsonb_each_text(m.metrics -> 'train_auto' -> 'budget_short') e(k, v)
WHERE m.name = 'short_auto';
ROLLBACK;
-- every family trained: null
BEGIN;
SELECT count(*) > 0 AS trained
FROM recsys.train_auto('many_items', model => 'short_auto', families => '{popular}', budget => '1 minute');
SELECT metrics -> 'train_auto' -> 'budget_short' AS budget_short FROM recsys.models WHERE name = 'short_auto';
ROLLBACK;
DROP TABLE many_items;

-- (s17) a family's lighter setting: ALS whose standard setting (128
-- factors, 12 iterations) does not fit the budget is tried with 64 and 6
-- and keeps them.  500 users with 8 items and 100,000 users with one
-- (not validated, but trained: 160,000 users and items): the standard
-- ALS is modelled at about 9 s plus as much kept for its training on all
-- the data, the lighter at about 2.4 s plus as much; the first trial, so
-- no calibration moves either (nothing measured: the standard one is not
-- tried again).  A 14-second budget fits only the lighter (everything
-- before it may take up to about 8 s)
CREATE TABLE wide_events AS
SELECT u AS user_id, 1 + (u * 37 + j * 211) % 2000 AS item_id
FROM generate_series(1, 500) u, generate_series(1, 8) j
UNION ALL
SELECT 1000 + u, 1 + u % 60000 FROM generate_series(1, 100000) u;
ANALYZE wide_events;
BEGIN;
SELECT count(*) > 0 AS trained
FROM recsys.train_auto('wide_events', model => 'wide_auto', families => '{als}', budget => '14 seconds');
-- the first two trials: the standard setting skipped, the lighter trained
SELECT (c ->> 'n')::integer AS n, c ->> 'round' AS round, c -> 'params' ->> 'factors' AS factors,
	   c -> 'params' ->> 'iterations' AS iterations,
	   c ->> 'status' LIKE 'skipped: estimated%' AS skipped_for_budget, c ->> 'value' IS NOT NULL AS scored
FROM recsys.models m, jsonb_array_elements(m.metrics -> 'train_auto' -> 'candidates') c
WHERE m.name = 'wide_auto' AND (c ->> 'n')::integer <= 2 ORDER BY 1;
-- recorded; every later ALS trial and the model trained on all the data lighter too
SELECT metrics -> 'train_auto' -> 'lighter' -> 'als' -> 'fixed' AS lighter,
	   (metrics -> 'train_auto' -> 'lighter' -> 'als' ->> 'standard_short')::numeric > 0 AS standard_short,
	   metrics -> 'train_auto' -> 'budget_short' AS budget_short,
	   metrics -> 'train_auto' -> 'winner' -> 'params' ->> 'factors' AS winner_factors
FROM recsys.models WHERE name = 'wide_auto';
SELECT count(*) AS standard_trials_trained
FROM recsys.models m, jsonb_array_elements(m.metrics -> 'train_auto' -> 'candidates') c
WHERE m.name = 'wide_auto' AND c -> 'params' ->> 'factors' = '128' AND c ->> 'value' IS NOT NULL;
SELECT v.params ->> 'factors' AS factors, v.params ->> 'iterations' AS iterations
FROM recsys.models m JOIN recsys.model_versions v ON v.model = m.name AND v.version = m.version
WHERE m.name = 'wide_auto';
ROLLBACK;
-- a budget too short for the lighter one too: both skipped, nothing trained
-- (the detail lists both trials, their seconds masked)
DO $$
DECLARE
	detail text;
BEGIN
	PERFORM recsys.train_auto('wide_events', model => 'wide_auto', families => '{als}', budget => '3 seconds');
	RAISE EXCEPTION 'trained within 3 seconds';
EXCEPTION WHEN program_limit_exceeded THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RAISE NOTICE '%', regexp_replace(detail, '[0-9]+(\.[0-9]+)? s', 'N s', 'g');
END
$$;
-- a source the standard setting fits: no lighter
CREATE TABLE narrow_events AS
SELECT u AS user_id, 1 + (u * 37 + j * 211) % 300 AS item_id
FROM generate_series(1, 200) u, generate_series(1, 8) j;
BEGIN;
SELECT count(*) > 0 AS trained
FROM recsys.train_auto('narrow_events', model => 'narrow_auto', families => '{als}', budget => '1 minute');
SELECT metrics -> 'train_auto' -> 'lighter' AS lighter,
	   metrics -> 'train_auto' -> 'winner' -> 'params' ->> 'factors' AS winner_factors
FROM recsys.models WHERE name = 'narrow_auto';
ROLLBACK;
DROP TABLE narrow_events;

-- (s17) the repeated splits are not made when making them, the first
-- round's setting's fits there and its training on all the data cannot
-- fit the time left: EASE over 4,500 items (each bought by two users),
-- whose exact fit on a repeated split is estimated at 8.75 s at least
-- (1.2 times 0.9 of 0.4 microseconds a weight written, 20M weights),
-- twice that more than the 15-second budget; its compact trials on the
-- first split (modelled at about 3 s) fit
CREATE TABLE wide_catalog AS
SELECT u AS user_id, 1 + ((u - 1) * 20 + j - 1) % 4500 AS item_id
FROM generate_series(1, 450) u, generate_series(1, 20) j;
ANALYZE wide_catalog;
BEGIN;
SELECT count(*) > 0 AS trained
FROM recsys.train_auto('wide_catalog', model => 'catalog_auto', families => '{ease}', budget => '15 seconds');
SELECT e ->> 'family' AS family, e ->> 'splits' AS splits, e -> 'contenders' AS contenders,
	   (e -> 'splits_skipped' ->> 'needed')::numeric > 15 AS needed_over_budget,
	   (e -> 'splits_skipped' ->> 'needed')::numeric > (e -> 'splits_skipped' ->> 'left')::numeric AS needed_over_left,
	   m.description LIKE '%ease: no repeated validation split (no time: %' AS described
FROM recsys.models m, jsonb_array_elements(m.metrics -> 'train_auto' -> 'second_round') e
WHERE m.name = 'catalog_auto';
-- (not made at all)
SELECT to_regclass('pg_temp._recsys_auto_train_2') IS NULL AS no_split_2,
	   to_regclass('pg_temp._recsys_auto_train_3') IS NULL AS no_split_3;
ROLLBACK;
DROP TABLE wide_catalog;

-- (s17) the blend evaluations kept in reserve during the search: none
-- while no other family than the trial's own and popularity has a model
-- better than popularity's (no blend worth its time could follow), three
-- once one has.  The trials table as
-- train_auto makes it, filled by hand
BEGIN;
CREATE TEMP TABLE _recsys_auto_trials (
	n integer PRIMARY KEY, round integer, family text, algorithm text, params jsonb, shown jsonb,
	value double precision, metrics jsonb, train_seconds double precision,
	eval_seconds double precision, modelled double precision, model text, status text,
	held_back boolean NOT NULL DEFAULT false) ON COMMIT DROP;
INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, value, train_seconds, eval_seconds, modelled, model)
VALUES (1, 0, 'als', 'als', '{"factors": 64}', 0.2, 10, 5, 10, 'm1'),
	   (2, 0, 'popular', 'popular', '{}', 0.1, 1, 2, 1, 'm2');
-- ALS's next trial (estimate 15): the two dearest final trainings, its
-- own and popularity's (15 and 1, times 1.2), no blend evaluations
SELECT round(recsys._auto_reserve('als', '{"factors": 64}', 15, false, '{"scale": 1}')::numeric, 2) AS reserve_als_and_popular;
INSERT INTO _recsys_auto_trials (n, round, family, algorithm, params, value, train_seconds, eval_seconds, modelled, model)
VALUES (3, 0, 'bm25', 'item_knn', '{}', 0.05, 3, 4, 3, 'm3');
-- with a BM25 model below popularity's: its training instead of
-- popularity's (3), still no blend evaluations
SELECT round(recsys._auto_reserve('als', '{"factors": 64}', 15, false, '{"scale": 1}')::numeric, 2) AS reserve_with_weak_bm25;
UPDATE _recsys_auto_trials SET value = 0.15 WHERE n = 3;
-- with one above it: three evaluations of the two best models (5 + 4)
SELECT round(recsys._auto_reserve('als', '{"factors": 64}', 15, false, '{"scale": 1}')::numeric, 2) AS reserve_with_bm25;
ROLLBACK;

-- (s17) recsys.max_memory refusing the standard setting: the lighter one,
-- about half its memory, trains (the standard ALS over these 160,000
-- users and items needs more than 60 MB, the lighter one about 42.5 MB).
-- A 30-second budget fits the standard one's estimate, so that memory,
-- not time, refuses it (wide_events, above)
BEGIN;
SET LOCAL recsys.max_memory = 60;
SELECT count(*) > 0 AS trained
FROM recsys.train_auto('wide_events', model => 'wide_mem', families => '{als}', budget => '30 seconds');
SELECT (c ->> 'n')::integer AS n, c -> 'params' ->> 'factors' AS factors,
	   c ->> 'status' LIKE 'skipped: training needs%' AS skipped_for_memory, c ->> 'value' IS NOT NULL AS scored
FROM recsys.models m, jsonb_array_elements(m.metrics -> 'train_auto' -> 'candidates') c
WHERE m.name = 'wide_mem' AND (c ->> 'n')::integer <= 2 ORDER BY 1;
SELECT metrics -> 'train_auto' -> 'lighter' AS lighter
FROM recsys.models WHERE name = 'wide_mem';
ROLLBACK;
DROP TABLE wide_events;
