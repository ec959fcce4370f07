-- recsys.end_experiment: an experiment ends, keeping one variant.  Before
-- 0.10.0 an experiment ran until dropped, and every model it named could
-- be neither dropped nor renamed (2BP01) while it existed.
SET client_min_messages = warning;
SET TimeZone = 'UTC';
CREATE ROLE regress_recsys_s9fix_alice;
CREATE ROLE regress_recsys_s9fix_bob;
RESET client_min_messages;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys
	TO regress_recsys_s9fix_alice, regress_recsys_s9fix_bob;
-- by construction: in end_a item 10 is the most popular, then 11, 12;
-- in end_b item 20, then 21, 22
CREATE TABLE end_a (user_id bigint, item_id bigint);
INSERT INTO end_a SELECT u, i FROM generate_series(1, 5) u, generate_series(10, 14) i WHERE i - 10 < 6 - u;
CREATE TABLE end_b (user_id bigint, item_id bigint);
INSERT INTO end_b SELECT u + 100, i FROM generate_series(1, 5) u, generate_series(20, 24) i WHERE i - 20 < 6 - u;
GRANT SELECT ON end_a, end_b TO regress_recsys_s9fix_alice;

SET ROLE regress_recsys_s9fix_alice;
SELECT 1 FROM recsys.train_popular('end_a', model => 'end_pop_a');
SELECT 1 FROM recsys.train_popular('end_b', model => 'end_pop_b');
SELECT name, control, ended_at, kept_variant FROM recsys.create_experiment('end1',
	'[{"name": "A", "model": "end_pop_a"}, {"name": "B", "model": "end_pop_b"}]', holdout => 0.2, salt => 'end');
SELECT recsys.grant_experiment('end1', 'regress_recsys_s9fix_bob');
SELECT recsys.grant_model('end_pop_a', 'regress_recsys_s9fix_bob');
SELECT recsys.grant_model('end_pop_b', 'regress_recsys_s9fix_bob');
-- 300 users (ids 1000..1299) served and logged while it runs; those
-- shown variant B convert
SET ROLE regress_recsys_s9fix_bob;
SELECT count(*) > 0 AS served
FROM generate_series(1000, 1299) u, recsys.recommend_for_experiment('end1', u, 2) r;
INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind)
SELECT DISTINCT 'end1', user_id, 'conversion' FROM recsys.experiment_impressions
WHERE experiment = 'end1' AND variant = 'B';
SELECT recsys.assign('end1', u) AS variant, count(*) > 30 AS many
FROM generate_series(1000, 1299) u GROUP BY 1 ORDER BY 1;
CREATE TEMP TABLE end_before AS
	SELECT variant, users, impressions, conversions, verdict FROM recsys.experiment_results('end1');
SELECT variant, users > 0 AS has_users, conversions = users AS all_convert FROM end_before ORDER BY variant;
-- a user of each arm
SELECT min(u) FILTER (WHERE recsys.assign('end1', u) = 'A') AS a_user,
	   min(u) FILTER (WHERE recsys.assign('end1', u) = 'holdout') AS h_user
FROM generate_series(1000, 1299) u \gset
SELECT count(*) AS n_logged FROM recsys.experiment_impressions WHERE experiment = 'end1' \gset

-- only the owner ends it; bob, granted its use, may not (42501)
\set VERBOSITY default
SELECT recsys.end_experiment('end1', 'B');
SET ROLE regress_recsys_s9fix_alice;
-- keep must name one of its variants (22023)
SELECT recsys.end_experiment('end1', 'C');
SELECT recsys.end_experiment('end1', 'holdout');
\set VERBOSITY terse
SELECT recsys.end_experiment(NULL);
SELECT recsys.end_experiment('no_such_experiment');
-- while it runs, its models cannot be dropped (2BP01)
SELECT recsys.drop_model('end_pop_a');

-- ended, keeping B: recorded in the catalog row
SELECT name, kept_variant, ended_at IS NOT NULL AS ended, ended_at = changed_at AS changed
FROM recsys.end_experiment('end1', 'B');
SELECT kept_variant, ended_at <= now() AS ended FROM recsys.experiments WHERE name = 'end1';
SET ROLE regress_recsys_s9fix_bob;
-- everyone, the holdout too, is served the kept variant (items 20, 21 of
-- end_b by construction), attributed to it, and nothing is logged
SELECT recsys.assign('end1', :a_user) AS a_user, recsys.assign('end1', :h_user) AS h_user;
SELECT item_id, variant, position FROM recsys.recommend_for_experiment('end1', :a_user, 2);
SELECT item_id, variant, position FROM recsys.recommend_for_experiment('end1', :h_user, 2);
SELECT count(*) = :n_logged AS nothing_logged FROM recsys.experiment_impressions WHERE experiment = 'end1';
-- an impression the application writes after the end does not count:
-- the reports read as they did at the end
INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position)
VALUES ('end1', 'B', 5000, 20, 1);
SELECT recsys.log_outcome('end1', 5000, 'conversion');
SELECT (SELECT array_agg(x ORDER BY x.variant) FROM end_before x)
	   = (SELECT array_agg(ROW(r.variant, r.users, r.impressions, r.conversions, r.verdict)::end_before
						   ORDER BY r.variant)
		  FROM recsys.experiment_results('end1') r) AS results_unchanged;
SELECT count(*) FILTER (WHERE users > 0) = (SELECT count(*) FROM end_before WHERE users > 0) AS daily_same_arms
FROM (SELECT variant, max(users) AS users FROM recsys.experiment_daily('end1') GROUP BY variant) d;

SET ROLE regress_recsys_s9fix_alice;
-- an ended experiment is not altered, nor ended again (55000)
\set VERBOSITY default
SELECT recsys.alter_experiment('end1', holdout => 0);
\set VERBOSITY terse
SELECT recsys.end_experiment('end1', 'A');
-- nor changed directly: variants, allocation or end
UPDATE recsys.experiments SET ended_at = NULL, kept_variant = NULL WHERE name = 'end1';
UPDATE recsys.experiments SET kept_variant = 'A' WHERE name = 'end1';
UPDATE recsys.experiments SET run_variants = run_variants WHERE name = 'end1';
UPDATE recsys.experiments SET variants = variants || '[{"name": "C"}]' WHERE name = 'end1';
-- the models of the variants it no longer serves are free: dropped and
-- renamed; the kept variant's stays protected while the experiment exists
UPDATE recsys.models SET name = 'end_pop_a2' WHERE name = 'end_pop_a';
SELECT recsys.drop_model('end_pop_a2');
-- (its variants cannot change: the hint names drop_experiment, not
-- alter_experiment, which refuses an ended experiment; s9-fix2)
\set VERBOSITY default
SELECT recsys.drop_model('end_pop_b');
\set VERBOSITY terse
UPDATE recsys.models SET name = 'end_pop_b2' WHERE name = 'end_pop_b';
-- served and reported with the other model gone
SET ROLE regress_recsys_s9fix_bob;
SELECT item_id, variant FROM recsys.recommend_for_experiment('end1', :a_user, 1, log => false);
SELECT variant, users > 0 AS has_users FROM recsys.experiment_results('end1') ORDER BY variant;
-- its owner gives it away (a direct UPDATE of the owner): only the kept
-- variant is checked, the dropped model is not asked for
RESET ROLE;
UPDATE recsys.experiments SET owner = 'regress_recsys_s9fix_bob' WHERE name = 'end1';
UPDATE recsys.experiments SET owner = 'regress_recsys_s9fix_alice' WHERE name = 'end1';
-- dropping the experiment frees the kept model too
SET ROLE regress_recsys_s9fix_alice;
SELECT recsys.drop_experiment('end1');
SELECT recsys.drop_model('end_pop_b');

-- interleaving: ended with keep NULL, the control (the first variant) is
-- kept; the kept list alone, credited to its team
SELECT 1 FROM recsys.train_popular('end_a', model => 'end_pop_a');
SELECT 1 FROM recsys.train_popular('end_b', model => 'end_pop_b');
SELECT 1 FROM recsys.create_experiment('end2',
	'[{"name": "A", "model": "end_pop_a"}, {"name": "B", "model": "end_pop_b"}]', design => 'interleaving',
	salt => 'end');
SELECT count(*) FROM recsys.recommend_interleaved('end2', 7, 4);
SELECT kept_variant FROM recsys.end_experiment('end2');
SELECT * FROM recsys.recommend_interleaved('end2', 7, 3);
SELECT count(*) AS logged FROM recsys.experiment_impressions WHERE experiment = 'end2';
SELECT users FROM recsys.interleaving_results('end2');
SELECT recsys.drop_model('end_pop_b');
SELECT recsys.drop_model('end_pop_a');
SELECT recsys.drop_experiment('end2');
SELECT recsys.drop_model('end_pop_a');

-- ended by a direct UPDATE: the kept variant must be one of its variants,
-- and ended_at and kept go together
SELECT 1 FROM recsys.train_popular('end_b', model => 'end_pop_b');
SELECT 1 FROM recsys.create_experiment('end3',
	'[{"name": "A", "model": "end_pop_b"}, {"name": "B"}]', salt => 'end');
UPDATE recsys.experiments SET ended_at = now(), kept_variant = 'Z' WHERE name = 'end3';
UPDATE recsys.experiments SET ended_at = now() WHERE name = 'end3';
UPDATE recsys.experiments SET ended_at = 'infinity', kept_variant = 'A' WHERE name = 'end3';
UPDATE recsys.experiments SET ended_at = now(), kept_variant = 'B' WHERE name = 'end3';
-- kept B shows nothing; the model of A is free
SELECT count(*) FROM recsys.recommend_for_experiment('end3', 1, 5, log => false);
SELECT recsys.drop_model('end_pop_b');
SELECT recsys.drop_experiment('end3');

RESET ROLE;
DROP TABLE end_a, end_b, end_before;
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_s9fix_alice, regress_recsys_s9fix_bob;
DROP ROLE regress_recsys_s9fix_alice;
DROP ROLE regress_recsys_s9fix_bob;
