-- Fixes of the session 12 review (s12-fix), each answer known by
-- construction.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE TABLE s12_events AS
	SELECT u AS user_id, (u * 7 + j * 13) % 50 AS item_id
	FROM generate_series(1, 100) u, generate_series(1, 4) j;
SELECT 1 FROM recsys.train_popular('s12_events', model => 's12_a');
SELECT 1 FROM recsys.train_popular('s12_events', model => 's12_b');
RESET client_min_messages;
-- nA and nB users with one impression each, xA and xB of them converting
CREATE FUNCTION s12_mk(name text, na int, xa int, nb int, xb int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM recsys.create_experiment(name,
		'[{"name": "A", "model": "s12_a"}, {"name": "B", "model": "s12_b"}]', salt => name);
	INSERT INTO recsys.experiment_impressions (experiment, variant, user_id, item_id, position, shown_at)
	SELECT name, CASE WHEN u <= na THEN 'A' ELSE 'B' END, u, 1, 1, '2026-01-01'
	FROM generate_series(1, na + nb) u;
	INSERT INTO recsys.experiment_outcomes (experiment, user_id, kind, amount, at)
	SELECT name, u, 'conversion', 10, '2026-01-01 00:01'
	FROM generate_series(1, na + nb) u WHERE u <= xa OR u BETWEEN na + 1 AND na + xb;
END
$$;

-- V1: the fixed-horizon verdict on conversion is the pooled z-test's,
-- whose normal approximation needs 5 expected users with and 5 without a
-- conversion per arm.  1 of 1 against 0 of 3: p = 0.0455 and "B is worse
-- than A" before (Fisher's exact p: 0.25); 1 of 1 against 0 of 4 likewise
-- (p = 0.025).  Now "too few users"; the p-value is still reported, and
-- the sequential verdict is unchanged.
SELECT s12_mk('s12_one', 1, 1, 3, 0);
SELECT variant, round(conversion_p::numeric, 4) AS conversion_p, mde, verdict
FROM recsys.experiment_results('s12_one', sequential => false);
SELECT variant, verdict FROM recsys.experiment_results('s12_one');
SELECT s12_mk('s12_four', 1, 1, 4, 0);
SELECT variant, round(conversion_p::numeric, 4) AS conversion_p, verdict
FROM recsys.experiment_results('s12_four', sequential => false);
-- enough users: 30 of 100 against 10 of 100 (expected 20 and 80 per arm)
-- is still a verdict
SELECT s12_mk('s12_many', 100, 30, 100, 10);
SELECT variant, round(conversion_p::numeric, 4) AS conversion_p, verdict
FROM recsys.experiment_results('s12_many', sequential => false);
-- 6 of 12 against 0 of 12: 3 expected conversions per arm, p = 0.0047
-- (Fisher's exact p 0.014: the rule errs on the side of no verdict)
SELECT s12_mk('s12_few', 12, 6, 12, 0);
SELECT variant, round(conversion_p::numeric, 4) AS conversion_p, verdict
FROM recsys.experiment_results('s12_few', sequential => false);

-- V2: tau is refused beyond 1e-9 .. 1e9 (22023, naming tau) instead of the
-- bare overflow (1e200) or underflow (1e-200) of its square
SELECT count(*) FROM recsys.experiment_results('s12_many', tau => 1e200);
SELECT count(*) FROM recsys.experiment_results('s12_many', tau => 1e-200);
SELECT count(*) AS variants FROM recsys.experiment_results('s12_many', tau => 1e9);
SELECT count(*) AS variants FROM recsys.experiment_results('s12_many', tau => 1e-9);
SELECT recsys.drop_experiment(n) FROM unnest('{s12_one,s12_four,s12_many,s12_few}'::text[]) n;

-- V3: item 3's weights sum past real's range (8 users at 3e38): item-kNN
-- with BM25 trained and stored an infinite weight sum, and every
-- cold-start score was Infinity, ranked by index instead of popularity;
-- now refused (22003) naming the item, and nothing is stored
CREATE TABLE s12_huge AS
SELECT user_id, item_id, CASE WHEN item_id = 3 THEN 3e38::real ELSE 1 END AS weight,
	   '2026-01-01'::timestamptz + user_id * interval '1 hour' AS ts
FROM s12_events;
SELECT count(*) AS users_of_item_3 FROM (SELECT DISTINCT user_id FROM s12_huge WHERE item_id = 3) u;
SELECT 1 FROM recsys.train_item_knn('s12_huge', 5, 's12_bm25', weight_col => 'weight', similarity => 'bm25');
SELECT count(*) AS stored FROM recsys.models WHERE name = 's12_bm25';
-- V4: train_popular with time_col summed a real column as real: a bare
-- "value out of range: overflow"; now the sums are float8 and the item
-- is named (and without time_col too)
SELECT 1 FROM recsys.train_popular('s12_huge', 's12_pop', weight_col => 'weight', time_col => 'ts',
								   half_life => '1 day');
SELECT 1 FROM recsys.train_popular('s12_huge', 's12_pop', weight_col => 'weight');
DROP TABLE s12_huge;

-- V5: recsys._lock_model_for_training (PUBLIC's, for drop_model) took the
-- lock of a name no model has before any check, so a role could hold the
-- lock of a name about to be trained for the first time, and its owner's
-- training failed after lock_timeout.  Now a name without a model locks
-- nothing (drop_model has nothing to drop); an existing model still is
-- locked for drop_model
BEGIN;
SELECT recsys._lock_model_for_training('s12_not_yet');
SELECT count(*) AS advisory_locks FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
SELECT recsys._lock_model_for_training('s12_a');
SELECT count(*) AS advisory_locks FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
ROLLBACK;
SELECT recsys.drop_model('s12_not_yet', if_exists => true);

-- V6: refresh_items of a model with features (item-kNN, a factor model)
-- after a hand edit of its item_stats: a deleted row made the refresh's
-- writes fail with a raw 23505, a negative n_users a raw 2201E from ln();
-- now the model is loaded as serving loads it first and both are XX001
CREATE TABLE s12_feat AS SELECT i AS item_id, 'f' || (i % 5) AS feature FROM generate_series(0, 49) i;
SELECT 1 FROM recsys.train_item_knn('s12_events', 5, 's12_knnf', features => 's12_feat');
SELECT 1 FROM recsys.train_cf('s12_events', 4, 's12_cff', features => 's12_feat', feature_weight => 0.5);
INSERT INTO s12_feat VALUES (1000, 'f1');
BEGIN;
DELETE FROM recsys.item_stats WHERE model = 's12_knnf' AND item_id = 3;
SELECT recsys.refresh_items('s12_knnf');
ROLLBACK;
BEGIN;
DELETE FROM recsys.item_stats WHERE model = 's12_cff' AND item_id = 3;
SELECT recsys.refresh_items('s12_cff');
ROLLBACK;
BEGIN;
UPDATE recsys.item_stats SET n_users = -5 WHERE model = 's12_knnf' AND item_id = 3;
SELECT recsys.refresh_items('s12_knnf');
ROLLBACK;
BEGIN;
UPDATE recsys.item_stats SET n_users = -5 WHERE model = 's12_cff' AND item_id = 3;
SELECT recsys.refresh_items('s12_cff');
ROLLBACK;
-- untouched, each refreshes its one new item
SELECT recsys.refresh_items('s12_knnf') AS knn_refreshed, recsys.refresh_items('s12_cff') AS cf_refreshed;
DROP TABLE s12_feat;

-- V8: evaluate over no evaluable user (none of the test's users is in the
-- model's source) gave every metric 0, and tune kept an arbitrary
-- candidate of such zeros; now the metrics are NULL (users 0) and tune
-- refuses the validation set (22023) before keeping anything
CREATE TABLE s12_nousers (user_id bigint, item_id bigint);
INSERT INTO s12_nousers VALUES (99999, 3);
SELECT metric, value FROM recsys.evaluate('s12_a', 's12_nousers', 5) WHERE metric <> 'seconds' ORDER BY metric;
SELECT count(*) FILTER (WHERE value IS NULL) AS null_metrics FROM recsys.evaluate('s12_a', 's12_nousers', 5);
SELECT * FROM recsys.tune('popular', 's12_events', 's12_nousers', '{"half_life": [null]}', model => 's12_tuned');
SELECT count(*) AS kept FROM recsys.models WHERE name = 's12_tuned';
-- a test user the model has is evaluated as before
INSERT INTO s12_nousers VALUES (1, 3);
SELECT metric, value FROM recsys.evaluate('s12_a', 's12_nousers', 5) WHERE metric IN ('users', 'skipped_users') ORDER BY metric;
DROP TABLE s12_nousers;

SELECT recsys.drop_model(n) FROM unnest('{s12_a,s12_b,s12_knnf,s12_cff}'::text[]) n;
DROP FUNCTION s12_mk(text, int, int, int, int);
DROP TABLE s12_events;

-- (V9, the grants of the table the update to 0.11.0 creates: TAP 159,
-- which updates a database of its own)
