-- model versions: activate, rollback, retention (recsys.keep_versions)
CREATE SCHEMA versions_test;
SET search_path = versions_test, public;
SET extra_float_digits = 0;

CREATE TABLE events AS
SELECT u AS user_id, (u * 7 + j * 13) % 50 AS item_id
FROM generate_series(1, 100) u, generate_series(1, 8) j;
CREATE INDEX ON events (user_id);

-- three trainings, three versions; the newest serves
SELECT version FROM recsys.train_cf('events', factors => 2, model => 'm', iterations => 3);
SELECT version FROM recsys.train_cf('events', factors => 3, model => 'm', iterations => 3);
SELECT version FROM recsys.train_cf('events', factors => 4, model => 'm', iterations => 3);
SELECT name, version, params->>'factors' AS factors FROM recsys.models WHERE name = 'm';
-- every kept version, with what it was trained with, side by side
SELECT version, algorithm, params->>'factors' AS factors, n_users, n_items,
	   train_seconds >= 0 AS timed
FROM recsys.model_versions WHERE model = 'm' ORDER BY version;
SELECT version, count(*) AS users FROM recsys.user_factors WHERE model = 'm' GROUP BY version ORDER BY version;

-- rollback serves the previous version at once, in this session too
SELECT array_length(factors, 1) AS k FROM recsys.user_factors WHERE model = 'm' AND version = 3 AND user_id = 1;
CREATE TEMP TABLE v3 AS SELECT * FROM recsys.recommend(1, 5, 'm');
SELECT name, version, params->>'factors' AS factors FROM recsys.rollback('m');
SELECT count(*) AS same_as_v3 FROM recsys.recommend(1, 5, 'm') r JOIN v3 USING (item_id, score);
SELECT version FROM recsys.rollback('m');
SELECT version FROM recsys.models WHERE name = 'm';
-- nothing older than version 1
SELECT recsys.rollback('m');
-- activate any kept version
SELECT version, params->>'factors' AS factors FROM recsys.activate('m', 3);
SELECT count(*) AS same_as_v3 FROM recsys.recommend(1, 5, 'm') r JOIN v3 USING (item_id, score);

-- retention: training keeps the newest recsys.keep_versions versions
SET recsys.keep_versions = 2;
SELECT version FROM recsys.train_cf('events', factors => 5, model => 'm', iterations => 3);
SELECT array_agg(version ORDER BY version) AS kept FROM recsys.model_versions WHERE model = 'm';
SELECT count(DISTINCT version) AS versions_with_factors FROM recsys.item_factors WHERE model = 'm';
RESET recsys.keep_versions;
-- a rollback in a transaction that is rolled back changes nothing
BEGIN;
SELECT version FROM recsys.rollback('m');
ROLLBACK;
SELECT version FROM recsys.models WHERE name = 'm';

-- errors
SELECT recsys.activate('m', 1);
SELECT recsys.activate('nope', 1);
SELECT recsys.activate('m', NULL);
SELECT recsys.rollback('nope');
SELECT recsys.rollback(NULL);
SET recsys.keep_versions = 0;
-- a model at the largest version number cannot be retrained (its versions
-- are integers); it still serves that version
SELECT version FROM recsys.train_popular('events', model => 'vmax');
UPDATE recsys.model_versions SET version = 2147483647 WHERE model = 'vmax';
UPDATE recsys.models SET version = 2147483647 WHERE name = 'vmax';
SELECT version FROM recsys.models WHERE name = 'vmax';
SELECT version FROM recsys.train_popular('events', model => 'vmax', replace => true);
SELECT version, count(*) AS items FROM recsys.recommend(1, 3, 'vmax'), recsys.models WHERE name = 'vmax' GROUP BY version;
SELECT recsys.drop_model('vmax');

SELECT recsys.drop_model('m');
SELECT count(*) FROM recsys.model_versions WHERE model = 'm';
RESET search_path;
DROP SCHEMA versions_test CASCADE;
