-- recsys.train_ncf's pretrained: NeuMF started from a factor model's
-- vectors.  With 0 epochs it ranks exactly as the factor model (known by
-- construction: its logit is a * the factor score + b, a > 0), with and
-- without item biases; the pretrained model is read with the caller's
-- grant checked; every error of the argument.
CREATE SCHEMA ncf_pre;
SET search_path = ncf_pre, public;
SET extra_float_digits = 0;

-- 40 users, 60 items, about a third of the pairs, chosen by a hash
CREATE TABLE buys AS
SELECT u AS user_id, 1000 + i AS item_id, 1::real AS w
FROM generate_series(1, 40) u, generate_series(1, 60) i
WHERE ('x' || substr(md5(u || ':' || i), 1, 8))::bit(32)::int % 3 = 0
   OR i % 10 = u % 10;

SELECT 1 AS trained FROM recsys.train_cf('buys', 8, 'pre_als', weight_col => 'w', iterations => 10);
SELECT 1 AS trained FROM recsys.train_bpr('buys', model => 'pre_bpr', factors => 8, iterations => 30);

-- 0 epochs: every user's top 10 is the factor model's, in its order
SELECT name, n_users, n_items, params->>'pretrained' AS pretrained,
	   params->>'pretrained_version' AS pretrained_version, params->>'iterations' AS iterations,
	   (stats->>'pretrained_scale')::float8 > 0 AS scale_positive
FROM recsys.train_ncf('buys', 4, 'ncf_from_als', hidden => '{8}', iterations => 0, pretrained => 'pre_als');
-- the GMF branch has the ALS's 8 factors (the MLP its own 4)
SELECT value FROM recsys.model_parameters WHERE model = 'ncf_from_als' AND name = 'architecture';
CREATE FUNCTION same_top10(a text, b text) RETURNS TABLE (users bigint, same_lists bigint)
LANGUAGE sql AS $$
	SELECT count(*), count(*) FILTER (WHERE
		(SELECT array_agg(item_id ORDER BY n) FROM recsys.recommend(u, 10, a) WITH ORDINALITY r(item_id, score, reason, n)) =
		(SELECT array_agg(item_id ORDER BY n) FROM recsys.recommend(u, 10, b) WITH ORDINALITY r(item_id, score, reason, n)))
	FROM generate_series(1, 40) u
$$;
SELECT * FROM same_top10('ncf_from_als', 'pre_als');

-- BPR's scores add item biases: one more GMF coordinate carries them
SELECT 1 AS trained FROM recsys.train_ncf('buys', 4, 'ncf_from_bpr', hidden => '{8}', iterations => 0,
										  pretrained => 'pre_bpr');
SELECT value FROM recsys.model_parameters WHERE model = 'ncf_from_bpr' AND name = 'architecture';
SELECT * FROM same_top10('ncf_from_bpr', 'pre_bpr');

-- fine-tuning moves away from the start (the MLP tower now counts)
SELECT iterations, (stats->>'loss')::float8 > 0 AS has_loss
FROM recsys.train_ncf('buys', 4, 'ncf_tuned', hidden => '{8}', iterations => 3, learning_rate => 0.01,
					  pretrained => 'pre_als') m, LATERAL (SELECT (m.params->>'iterations')::int AS iterations) p;
SELECT bool_or(abs(w) > 0) AS mlp_output_weights_moved
FROM recsys.model_parameters p, unnest(p.value[9:]) w
WHERE p.model = 'ncf_tuned' AND p.name = 'output.weight';

-- users and items the factor model lacks start at 0: with 0 epochs a new
-- user (5000) is served as the factor model serves an unknown user (cold
-- start, the same list), and a new item (9000-9002) scores as a zero
-- factor vector would, the calibrated offset b, for every user
CREATE TABLE buys_new AS
SELECT * FROM buys
UNION ALL SELECT 5000, 1000 + i, 1 FROM generate_series(0, 9) i
UNION ALL SELECT u, 9000 + u % 3, 1 FROM generate_series(1, 12) u;
SELECT n_users, n_items, (stats->>'pretrained_users')::int AS pretrained_users,
	   (stats->>'pretrained_items')::int AS pretrained_items
FROM recsys.train_ncf('buys_new', 4, 'ncf_new', hidden => '{8}', iterations => 0, pretrained => 'pre_als');
SELECT reason, count(*) FROM recsys.recommend(5000, 5, 'ncf_new') GROUP BY reason;
SELECT (SELECT array_agg(item_id ORDER BY n) FROM recsys.recommend(5000, 5, 'ncf_new') WITH ORDINALITY r(item_id, score, reason, n)) =
	   (SELECT (array_agg(item_id ORDER BY n) FILTER (WHERE item_id NOT BETWEEN 1000 AND 1009))[1:5]
		FROM recsys.recommend(7777, 20, 'ncf_new') WITH ORDINALITY r(item_id, score, reason, n))
	   AS as_an_unknown_user_less_its_items;
SELECT count(*) AS new_item_scores,
	   count(*) FILTER (WHERE abs(recsys.score(u, i, 'ncf_new') - (m.stats->>'pretrained_offset')::float8) < 1e-4)
	   AS at_the_offset
FROM generate_series(1, 40) u, generate_series(9000, 9002) i, recsys.models m WHERE m.name = 'ncf_new';
SELECT count(*) AS zero_rows FROM recsys.item_factors f JOIN recsys.models m ON m.name = f.model AND m.version = f.version
WHERE f.model = 'ncf_new' AND f.item_id >= 9000 AND f.factors = array_fill(0::real, ARRAY[cardinality(f.factors)]);
SELECT count(*) AS users_stored FROM recsys.user_factors f JOIN recsys.models m ON m.name = f.model AND m.version = f.version
WHERE f.model = 'ncf_new';
-- with epochs every user is trained and stored
SELECT (stats->>'pretrained_users')::int AS pretrained_users
FROM recsys.train_ncf('buys_new', 4, 'ncf_new', hidden => '{8}', iterations => 1, pretrained => 'pre_als', replace => true);
SELECT count(*) AS users_stored FROM recsys.user_factors f JOIN recsys.models m ON m.name = f.model AND m.version = f.version
WHERE f.model = 'ncf_new';

-- a base model with huge (finite) factors is refused, named, not saved
SELECT 1 AS trained FROM recsys.train_cf('buys', 8, 'pre_huge', weight_col => 'w', iterations => 10);
UPDATE recsys.item_factors SET factors = (SELECT array_agg(x * 1e30::real) FROM unnest(factors) x)
WHERE model = 'pre_huge';
SELECT * FROM recsys.train_ncf('buys', 4, 'e', hidden => '{8}', iterations => 0, pretrained => 'pre_huge');
SELECT * FROM recsys.train_ncf('buys', 4, 'e', hidden => '{8}', iterations => 2, pretrained => 'pre_huge');
UPDATE recsys.user_factors SET factors = (SELECT array_agg(x * 1e30::real) FROM unnest(factors) x)
WHERE model = 'pre_huge';
SELECT * FROM recsys.train_ncf('buys', 4, 'e', hidden => '{8}', iterations => 0, pretrained => 'pre_huge');

-- errors
SELECT * FROM recsys.train_ncf('buys', model => 'e', pretrained => 'no_such_model');
CREATE TABLE few AS SELECT * FROM buys WHERE user_id <= 5;
SELECT 1 FROM recsys.train_ease('few', 10, 'pre_ease');
SELECT * FROM recsys.train_ncf('buys', model => 'e', pretrained => 'pre_ease');
SELECT * FROM recsys.train_ncf('buys', model => 'e', pretrained => 'ncf_from_als');
SELECT * FROM recsys.train_ncf('buys', model => 'pre_als', pretrained => 'pre_als', replace => true);
SELECT * FROM recsys.train_ncf('buys', model => 'e', pretrained => 'pre_als', gmf => false);
SELECT * FROM recsys.train_ncf('buys', model => 'e', iterations => 0);
SELECT * FROM recsys.train_ncf('buys', model => 'e', iterations => -1, pretrained => 'pre_als');
SELECT count(*) AS models_named_e FROM recsys.models WHERE name = 'e';

-- a pretrained model is used with the caller's rights: bob may not start
-- from alice's ALS until she grants it, and then it is read as hers
CREATE ROLE regress_recsys_ncf_alice;
CREATE ROLE regress_recsys_ncf_bob;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO regress_recsys_ncf_alice, regress_recsys_ncf_bob;
GRANT USAGE ON SCHEMA ncf_pre TO regress_recsys_ncf_alice, regress_recsys_ncf_bob;
GRANT SELECT ON buys TO regress_recsys_ncf_alice, regress_recsys_ncf_bob;
SET ROLE regress_recsys_ncf_alice;
SELECT 1 AS trained FROM recsys.train_cf('buys', 8, 'alice_als', weight_col => 'w', iterations => 10);
SET ROLE regress_recsys_ncf_bob;
SELECT * FROM recsys.train_ncf('buys', 4, 'bob_ncf', iterations => 0, pretrained => 'alice_als');
SET ROLE regress_recsys_ncf_alice;
SELECT recsys.grant_model('alice_als', 'regress_recsys_ncf_bob');
SET ROLE regress_recsys_ncf_bob;
SELECT owner::text, params->>'pretrained_owner' AS pretrained_owner
FROM recsys.train_ncf('buys', 4, 'bob_ncf', hidden => '{8}', iterations => 0, pretrained => 'alice_als');
SELECT * FROM same_top10('bob_ncf', 'alice_als');
RESET ROLE;
SELECT recsys.drop_model('bob_ncf'), recsys.drop_model('alice_als');
REVOKE ALL ON ALL TABLES IN SCHEMA recsys FROM regress_recsys_ncf_alice, regress_recsys_ncf_bob;
REVOKE ALL ON SCHEMA ncf_pre FROM regress_recsys_ncf_alice, regress_recsys_ncf_bob;
REVOKE ALL ON buys FROM regress_recsys_ncf_alice, regress_recsys_ncf_bob;
DROP ROLE regress_recsys_ncf_alice;
DROP ROLE regress_recsys_ncf_bob;

SELECT recsys.drop_model(name) FROM recsys.models
WHERE name IN ('pre_als', 'pre_bpr', 'pre_ease', 'pre_huge', 'ncf_from_als', 'ncf_from_bpr', 'ncf_tuned', 'ncf_new') ORDER BY name;
DROP SCHEMA ncf_pre CASCADE;
