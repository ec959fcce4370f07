-- Second hostile review of s13 (c820b48, the fixes of review s13): its
-- findings F1 to F6 (F0 was review_s13's expected header), fixed in
-- s13-fix2.  Each query states the property the fix gives (expected: t).
CREATE SCHEMA review_s13_2;
SET search_path = review_s13_2, public;
SET client_min_messages = warning;
SET extra_float_digits = 0;
CREATE TABLE events AS
SELECT u AS user_id, 100 + 10 * ((u - 1) / 10) + j AS item_id
FROM generate_series(1, 80) u, generate_series(0, 9) j
UNION ALL
SELECT u, 100 + 10 * (u - 81) + j FROM generate_series(81, 88) u, generate_series(0, 4) j;
ANALYZE events;

-- F1 (train_auto's R5 handler): any error of class 54 in the final
-- training is taken for a recsys.max_memory refusal.  Here the model has
-- reached the largest version number (model_store.c, 54000, with its own
-- detail and hint): the handler tries every other family (each fails the
-- same way), then re-raises the message with a detail saying the families
-- were "refused on all the data" and the hint "Raise recsys.max_memory";
-- the real detail and hint are lost.  Expected: the original error as it
-- was (only a memory refusal falls back).
SELECT 1 AS trained FROM recsys.train_popular('events', 'r2_vmax');
INSERT INTO recsys.model_versions (model, version, algorithm, source)
VALUES ('r2_vmax', 2147483647, 'popular', 'events');
CREATE FUNCTION caught(q text, OUT state text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
	state := 'no error';
	BEGIN EXECUTE q;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL,
								hint = PG_EXCEPTION_HINT;
	END;
END
$$;
SELECT c.state, c.message,
	   c.detail = 'A new version is numbered one more than the model''s highest, which is an integer.' AS own_detail,
	   c.hint LIKE 'Train it under another name%' AS own_hint,
	   c.detail NOT LIKE '%refused on all the data%' AS not_called_a_refusal
FROM caught($$SELECT count(*) FROM recsys.train_auto('review_s13_2.events', 'r2_vmax', budget => '8 seconds',
											  families => '{ease,popular}', replace => true)$$) c;

-- F2 (train_auto's R5 handler, blends): when the winner was a blend, every
-- member's family was counted as refused, although only the member whose
-- training raised was; the fallback then skipped the other members'
-- families.  Fixed by reading (s13): the handler counts as refused the
-- family whose training was under way (training_family, a variable
-- that keeps its value past the rollback) and clears the members list.
-- Not tested here: a run needs a blend that wins with a member the
-- memory limit refuses on all the data only; the reviewer's test ran a
-- copy of the old handler's queries, not the code, so it was dropped.

-- F3 (train_auto's R5 handler, the record): after the fallback the winner
-- is the other family, and the "why" and the description are written as
-- if it had won: "best validation ndcg@10 (0.0215) on the first split",
-- while EASE reached 0.997 there; the description does not say EASE was
-- refused (only metrics' "final" does).  Expected: the description and
-- "why" say the winner was refused and the model is the fallback.
CREATE TABLE mem AS
SELECT u AS user_id, ((u * 37 + j * 7 + (j * j) % 13) % 1000) AS item_id
FROM generate_series(1, 5000) u, generate_series(1, 100) j;
ANALYZE mem;
SET recsys.max_memory = '18MB';
SELECT count(*) > 0 AS trained FROM recsys.train_auto('review_s13_2.mem', 'r2_mem', budget => '40 seconds', families => '{ease,popular}');
RESET recsys.max_memory;
SELECT algorithm,
	   (metrics -> 'train_auto' ->> 'why') NOT LIKE 'best validation%' AS why_not_best,
	   description LIKE '%refused%' AS description_says_refused,
	   (SELECT max((c ->> 'value')::float8) FROM jsonb_array_elements(metrics -> 'train_auto' -> 'candidates') c
		WHERE c ->> 'family' = 'ease') > 0.9 AS ease_was_better
FROM recsys.models WHERE name = 'r2_mem';

-- F4 (R6's repeated_scale, train_auto): repeated_scale is n_rows over
-- count(*) of _recsys_auto_train_<j>; n_rows counts the split's distinct
-- (user, item) pairs (split_holdout: SELECT DISTINCT), the train tables
-- the source's rows (duplicates kept).  On an event log that repeats a
-- pair (4 times here) the scale is 0.28 instead of 1.11, and the
-- measured exact estimate is 4 times too small: the final retrains EASE
-- exact with too little time left (observed: syn4, budget 40 s, 40.17 s,
-- "exact estimated at 1.2 s ... 1.8 s of the budget left"; exact training
-- on all of syn4 takes 2.6 to 2.9 s).  Expected: the estimate is not below
-- the real exact training.
SELECT setseed(0.5);
CREATE TABLE syn AS
SELECT u AS user_id,
	   CASE WHEN random() < 0.8 THEN (u % 30) * 80 + (random() * 79)::int ELSE (random() * 2499)::int END AS item_id
FROM generate_series(1, 1500) u, generate_series(1, 50) j;
DELETE FROM syn a USING syn b WHERE a.ctid < b.ctid AND a.user_id = b.user_id AND a.item_id = b.item_id;
CREATE TABLE syn4 AS SELECT s.* FROM syn s, generate_series(1, 4);
ANALYZE syn4;
SELECT count(*) > 0 AS trained FROM recsys.train_auto('review_s13_2.syn4', 'r2_syn4', budget => '30 seconds', families => '{ease,popular}');
-- (fixed in s13: distinct pairs on both sides; the report gives the
-- scale: about 1 / 0.9 on holdout, whatever the duplicates, where the
-- old count gave 0.28; checked as a figure, not by timing a fit)
SELECT (metrics -> 'train_auto' -> 'validation' ->> 'repeated_scale')::float8 BETWEEN 1.05 AND 1.2 AS scale_of_pairs,
	   metrics -> 'train_auto' ->> 'final' LIKE '%exact estimated at % s (from its fits on the repeated splits)%' AS measured
FROM recsys.models WHERE name = 'r2_syn4';

-- F5 (R3's fix, train_auto: tables emptied not dropped): a temporary
-- _recsys_auto_trials that exists is kept (TRUNCATE) and written to, and
-- it need not be train_auto's: another role of the session plants one with
-- an INSERT trigger, and a more privileged train_auto call (here a
-- superuser's SECURITY DEFINER wrapper that lets an application role
-- retrain its model) runs the trigger with its privileges.  Before
-- c820b48 the table was dropped and created anew.  Expected: not
-- escalated (train_auto refuses or replaces a table it did not create).
CREATE ROLE regress_r2_app;
GRANT USAGE ON SCHEMA review_s13_2 TO regress_r2_app;
CREATE FUNCTION retrain(model text, fams text[]) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS
$$ SELECT count(*) FROM recsys.train_auto('review_s13_2.events', model, budget => '10 seconds', families => fams, replace => true) $$;
REVOKE EXECUTE ON FUNCTION retrain(text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retrain(text, text[]) TO regress_r2_app;
SET ROLE regress_r2_app;
BEGIN;
CREATE TEMP TABLE _recsys_auto_split (x int);
CREATE TEMP TABLE _recsys_auto_train (x int);
CREATE TEMP TABLE _recsys_auto_valid (x int);
CREATE TEMP TABLE _recsys_auto_trials (
	n integer PRIMARY KEY, round integer, family text, algorithm text, params jsonb, shown jsonb,
	value double precision, metrics jsonb, train_seconds double precision,
	eval_seconds double precision, modelled double precision, model text, status text);
CREATE TEMP TABLE _recsys_auto_scores (
	n integer, split integer, value double precision, seconds double precision, model text, error text,
	train_seconds double precision, PRIMARY KEY (n, split));
CREATE FUNCTION pg_temp.grab() RETURNS trigger LANGUAGE plpgsql AS
$f$ BEGIN EXECUTE 'ALTER ROLE regress_r2_app SUPERUSER'; RETURN NEW; END $f$;
CREATE TRIGGER grab BEFORE INSERT ON _recsys_auto_trials FOR EACH ROW EXECUTE FUNCTION pg_temp.grab();
DO $$ BEGIN PERFORM review_s13_2.retrain('r2_app', '{popular}'); EXCEPTION WHEN OTHERS THEN NULL; END $$;
COMMIT;
RESET ROLE;
SELECT NOT rolsuper AS not_escalated FROM pg_roles WHERE rolname = 'regress_r2_app';
ALTER ROLE regress_r2_app NOSUPERUSER;

-- F6 (older, since ff18b24: _auto_split): a repeated split's tables are
-- made only when pg_temp._recsys_auto_valid_<j> does not exist; when it
-- does (and no _recsys_auto_trials, so the start does not drop them),
-- train_auto reads the planted relations.  A view calling a pg_temp
-- function runs that function as the reader: the same wrapper escalates.
-- Expected: not escalated.
SET ROLE regress_r2_app;
-- (F5's planted tables, kept past its commit, go first)
DROP TABLE IF EXISTS pg_temp._recsys_auto_trials, pg_temp._recsys_auto_scores;
DROP FUNCTION pg_temp.grab();
BEGIN;
CREATE FUNCTION pg_temp.grab() RETURNS boolean LANGUAGE plpgsql AS
$f$ BEGIN EXECUTE 'ALTER ROLE regress_r2_app SUPERUSER'; RETURN true; EXCEPTION WHEN OTHERS THEN RETURN true; END $f$;
CREATE TEMP TABLE v2 AS
SELECT u::bigint AS user_id, (100 + 10 * ((u - 1) / 10) + 9)::bigint AS item_id FROM generate_series(1, 80) u;
CREATE TEMP VIEW _recsys_auto_valid_2 AS SELECT user_id, item_id FROM pg_temp.v2 WHERE pg_temp.grab();
CREATE TEMP TABLE _recsys_auto_train_2 AS
SELECT u::bigint AS user_id, (100 + 10 * ((u - 1) / 10) + j)::bigint AS item_id
FROM generate_series(1, 80) u, generate_series(0, 8) j;
DO $$ BEGIN PERFORM review_s13_2.retrain('r2_app', '{ease,popular}'); EXCEPTION WHEN OTHERS THEN NULL; END $$;
COMMIT;
DROP VIEW IF EXISTS pg_temp._recsys_auto_valid_2;
DROP TABLE IF EXISTS pg_temp._recsys_auto_train_2, pg_temp.v2;
DROP FUNCTION IF EXISTS pg_temp.grab();
RESET ROLE;
SELECT NOT rolsuper AS not_escalated FROM pg_roles WHERE rolname = 'regress_r2_app';
ALTER ROLE regress_r2_app NOSUPERUSER;

SELECT recsys.drop_model(m) IS NOT NULL AS dropped FROM unnest(ARRAY['r2_vmax', 'r2_mem', 'r2_syn4']) m;
SELECT recsys.drop_model(name) IS NOT NULL AS dropped FROM recsys.models WHERE name = 'r2_app';
RESET client_min_messages;
DROP SCHEMA review_s13_2 CASCADE;
DROP ROLE regress_r2_app;
