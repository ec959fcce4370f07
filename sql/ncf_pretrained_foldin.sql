-- train_ncf's pretrained start from a factor model trained with
-- store_users => false: the users' vectors are folded in from the base's
-- source a thousand users per query (RsReadUsersItems), not one query per
-- user, and equal the fold-in serving does one user at a time.
SET recsys.threads = 2;
SET extra_float_digits = 0;
-- 300 users, 60 items, weights 1..3, with what fold-in must skip or merge:
-- duplicate pairs (summed), NULL items and weights, items the base does
-- not know (61..65, only in rows added after it was trained)
CREATE TABLE fi_buys AS
SELECT u AS user_id, 1 + (u * 7 + j * 11) % 60 AS item_id, (1 + (u + j) % 3)::real AS w
FROM generate_series(1, 300) u, generate_series(0, 7) j;
INSERT INTO fi_buys SELECT user_id, item_id, 1 FROM fi_buys WHERE user_id % 10 = 0 AND item_id % 2 = 0;
ANALYZE fi_buys;
SELECT n_users, n_items FROM recsys.train_cf('fi_buys', factors => 4, iterations => 5, weight_col => 'w',
											  store_users => false, model => 'fi_base');
INSERT INTO fi_buys VALUES (5, NULL, 1), (6, 3, NULL), (7, 61, 2), (8, 62, 1);
-- a user with only items the base does not know: no vector
INSERT INTO fi_buys VALUES (301, 63, 1), (301, 64, 1);
ANALYZE fi_buys;

-- one read of the source for the base's users, not 301: the source's
-- scans during train_ncf, its own read and the fold-in's (no index on
-- user_id, so that each query is one sequential scan: an index scan
-- counts once per user of an = ANY array)
SELECT pg_stat_force_next_flush();
SELECT seq_scan + coalesce(idx_scan, 0) AS scans_before FROM pg_stat_user_tables WHERE relname = 'fi_buys' \gset
SELECT n_users, (stats->>'pretrained_users')::int AS pretrained_users
FROM recsys.train_ncf('fi_buys', 4, 'fi_ncf', hidden => '{8}', weight_col => 'w', iterations => 0,
					  pretrained => 'fi_base');
SELECT pg_stat_force_next_flush();
SELECT seq_scan + coalesce(idx_scan, 0) - :scans_before AS scans
FROM pg_stat_user_tables WHERE relname = 'fi_buys';

-- known by construction: with 0 epochs the NCF scores a s + b (its logit)
-- for the base's score s, whose user vector serving folds in one user at a
-- time
CREATE FUNCTION fi_equal(ncf text, base text, OUT pairs bigint, OUT varied boolean, OUT equal bigint)
LANGUAGE sql AS $$
SELECT count(*), count(DISTINCT recsys.score(u, i, ncf)) > 400,
	   count(*) FILTER (WHERE abs(recsys.score(u, i, ncf)
							  - ((m.stats->>'pretrained_scale')::float8 * recsys.score(u, i, base)
								 + (m.stats->>'pretrained_offset')::float8)) < 1e-4)
FROM generate_series(1, 300, 7) u, generate_series(1, 60, 5) i, recsys.models m
WHERE m.name = ncf
$$;
SELECT * FROM fi_equal('fi_ncf', 'fi_base');

-- a time-weighted base (BPR with a half-life: the fold-in weights each item
-- by its recency, read in the same query) likewise
ALTER TABLE fi_buys ADD COLUMN ts timestamptz;
UPDATE fi_buys SET ts = '2026-01-01'::timestamptz + (user_id * 13 + item_id) % 40 * interval '1 day';
SELECT n_users FROM recsys.train_bpr('fi_buys', factors => 4, iterations => 5, time_col => 'ts', half_life => '10 days',
									 store_users => false, model => 'fi_bpr');
SELECT (stats->>'pretrained_users')::int AS pretrained_users
FROM recsys.train_ncf('fi_buys', 4, 'fi_ncf_bpr', hidden => '{8}', iterations => 0, pretrained => 'fi_bpr');
SELECT * FROM fi_equal('fi_ncf_bpr', 'fi_bpr');

-- the fold-in's refusals come as in serving: an infinite time
UPDATE fi_buys SET ts = 'infinity' WHERE user_id = 9 AND item_id = (SELECT min(item_id) FROM fi_buys WHERE user_id = 9);
SELECT 1 FROM recsys.train_ncf('fi_buys', 4, 'fi_ncf_bpr', hidden => '{8}', iterations => 0, pretrained => 'fi_bpr',
							   replace => true);
SELECT recsys.score(9, 1, 'fi_bpr');

SELECT 1 FROM recsys.drop_model('fi_ncf');
SELECT 1 FROM recsys.drop_model('fi_ncf_bpr');
SELECT 1 FROM recsys.drop_model('fi_base');
SELECT 1 FROM recsys.drop_model('fi_bpr');
DROP FUNCTION fi_equal;
DROP TABLE fi_buys;
