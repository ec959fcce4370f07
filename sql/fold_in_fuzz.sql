-- A fuzzer for recsys.fold_in's aggregate state, in the spirit of
-- pgvector's input tests: the state is a plain bytea, so a caller with the
-- right to the support functions (or to CREATE AGGREGATE over them) can
-- hand any bytes to every function that takes a state.  Thousands of
-- truncated, extended, bit-flipped, random and boundary states go to
-- fold_in_final, fold_in_combine and fold_in_accum; each must end in a
-- clean error or a valid result (NULL or a finite vector of the model's
-- length), never a crash.  Deterministic: setseed, and the cases in a
-- fixed order.
CREATE SCHEMA fuzz;
SET search_path = fuzz, public;
SET extra_float_digits = 0;
SELECT pg_postmaster_start_time() AS started \gset
SELECT setseed(0.1205);

-- 20 users, items 100-129; item i is the model's index i - 100
CREATE TABLE events AS
SELECT u AS user_id, 100 + (u * 7 + j * 3) % 30 AS item_id, 1 + j % 3 AS w
FROM generate_series(1, 20) u, generate_series(0, 7) j;
SELECT (recsys.train_cf('events', 4, model => 'fz_als', iterations => 4, seed => 3)).n_items;
SELECT (recsys.train_cf('events', 8, model => 'fz_als8', iterations => 4, seed => 3)).n_items;
SELECT (recsys.train_item_knn('events', 5, model => 'fz_knn')).n_items;
SELECT (recsys.train_popular('events', model => 'fz_pop')).n_items;

-- The state's layout (src/fold_in.c, FoldInState), little-endian: magic
-- "RSF2", n (pairs in use), 4 zero bytes, the model's name in 64 bytes, then (item id
-- int8, weight float4, 4 zero bytes) pairs.  (0.7.0's states, of the
-- model's item indexes, had magic "RSFI" and the model's version.)
CREATE FUNCTION le4(x bigint) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
	SELECT set_byte(set_byte(set_byte(set_byte('\x00000000'::bytea,
		0, (x & 255)::int), 1, ((x >> 8) & 255)::int), 2, ((x >> 16) & 255)::int), 3, ((x >> 24) & 255)::int)
$$;
CREATE FUNCTION le8(x bigint) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
	SELECT le4(x & 4294967295) || le4(x >> 32)
$$;
CREATE FUNCTION f4(x real) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
	SELECT set_byte(set_byte(set_byte(set_byte(b, 0, get_byte(b0, 3)), 1, get_byte(b0, 2)),
		2, get_byte(b0, 1)), 3, get_byte(b0, 0))
	FROM (SELECT float4send(x) AS b0, '\x00000000'::bytea AS b) s
$$;
CREATE FUNCTION name64(m text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
	SELECT substr(convert_to(m, 'UTF8') || decode(repeat('00', 64), 'hex'), 1, 64)
$$;
CREATE FUNCTION state(m text, n bigint, items bigint[], weights real[])
RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
	SELECT '\x32465352'::bytea || le4(n) || le4(0) || name64(m) ||
		coalesce((SELECT string_agg(le8(i) || f4(w) || '\x00000000'::bytea, ''::bytea ORDER BY o)
				  FROM unnest(items, weights) WITH ORDINALITY AS p(i, w, o)), '')
$$;

-- Hand-built states mean what the aggregate means: the state of items
-- 103, 107 and 120 gives the aggregate's vector of those items.
SELECT recsys.fold_in_final(state('fz_als', 3, '{103,107,120}', '{1,2,0.5}')) =
	   (SELECT recsys.fold_in(i, w, 'fz_als') FROM (VALUES (103, 1::real), (107, 2), (120, 0.5)) v(i, w))
	   AS same_as_aggregate;
-- spare room (n below the capacity) is allowed, as the aggregate keeps it
SELECT recsys.fold_in_final(state('fz_als', 2, '{103,107,120}', '{1,2,0.5}')) =
	   (SELECT recsys.fold_in(i, w, 'fz_als') FROM (VALUES (103, 1::real), (107, 2)) v(i, w))
	   AS spare_room;

-- Huge weights through the aggregate itself: a solve that would overflow
-- (it returned NaNs) and a repeated item whose weights sum past the range
-- of real (it was taken for a forged state) are range errors.
SELECT recsys.fold_in(i, 3.4e38, 'fz_als') FROM generate_series(100, 129) i;
SELECT recsys.fold_in(i, 3.4e38, 'fz_als') FROM generate_series(100, 101) i, generate_series(1, 2);

-- Valid seeds to mutate: 1-12 random ascending items with random weights.
CREATE TABLE seeds AS
SELECT s AS seed, state(CASE WHEN s % 5 = 0 THEN 'fz_als8' ELSE 'fz_als' END, count(*), array_agg(i ORDER BY i),
					   array_agg((random() * 4 - 1)::real ORDER BY i)) AS st
FROM (SELECT DISTINCT s, 100 + (random() * 29)::int AS i
	  FROM generate_series(1, 40) s, generate_series(1, 1 + (s % 12))) x
GROUP BY s;

-- The cases: (family, state).  Random choices are made in this one
-- statement, rows in a fixed order.
CREATE TABLE cases (n serial, family text, st bytea);
INSERT INTO cases (family, st)
SELECT family, st FROM (
	-- truncated at every length
	SELECT 1 AS f, 'truncated' AS family, substr(st, 1, len) AS st, seed, len AS r
	FROM seeds, generate_series(0, 100, 3) len
	UNION ALL
	-- extended by random bytes
	SELECT 2, 'extended', st || decode(
		(SELECT string_agg(lpad(to_hex((random() * 255)::int), 2, '0'), '') FROM generate_series(1, r + 0 * seed)), 'hex'),
		seed, r
	FROM seeds, generate_series(1, 24) r
	UNION ALL
	-- 1-8 random bits flipped
	SELECT 3, 'bit-flipped', st, seed, r
	FROM seeds, generate_series(1, 40) r
	UNION ALL
	-- random bytes, of random lengths around a state's
	SELECT 4, 'random', decode(
		(SELECT string_agg(lpad(to_hex((random() * 255)::int), 2, '0'), '')
		 FROM generate_series(1, (random() * 200)::int + 0 * r)), 'hex'), 0, r
	FROM generate_series(1, 400) r
	UNION ALL
	-- a random valid header with random pairs
	SELECT 5, 'random pairs', state('fz_als', k, items, weights), 0, r
	FROM (SELECT r, (random() * 6)::int AS k,
				 ARRAY(SELECT (95 + random() * 40)::int FROM generate_series(1, 6 + 0 * r)) AS items,
				 ARRAY(SELECT (random() * 10 - 5)::real FROM generate_series(1, 6 + 0 * r)) AS weights
		  FROM generate_series(1, 400) r) p
) c
ORDER BY f, seed, r;
-- flip the bits of the bit-flipped ones (the flips drawn in order)
UPDATE cases c SET st = f.st
FROM (SELECT n, (SELECT st2 FROM (
				   WITH RECURSIVE flip(i, st2) AS (
					   SELECT 0, c2.st
					   UNION ALL
					   SELECT i + 1, set_bit(st2, b, 1 - get_bit(st2, b))
					   FROM flip, LATERAL (SELECT (random() * (8 * octet_length(st2) - 1))::int AS b) x
					   WHERE i < 1 + c2.n % 8)
				   SELECT st2, i FROM flip ORDER BY i DESC LIMIT 1) z) AS st
	  FROM cases c2 WHERE family = 'bit-flipped' ORDER BY n) f
WHERE c.n = f.n;

-- Boundaries, by hand.
INSERT INTO cases (family, st) VALUES
	('boundary', ''),
	('boundary', '\x32465352'),
	-- a 0.7.0 state (magic "RSFI", version 1) is not one
	('boundary', '\x49465352'::bytea || le4(1) || le4(1) || name64('fz_als') || le4(1) || f4(1)),
	('boundary', state('fz_als', 0, '{}', '{}')),
	('boundary', state('fz_als', 1, '{}', '{}')),
	('boundary', state('fz_als', -1, '{}', '{}')),
	('boundary', state('fz_als', 2147483647, '{101}', '{1}')),
	('boundary', state('fz_als', -2147483648, '{101}', '{1}')),
	('boundary', state('fz_als', 268435455, '{101}', '{1}')),
	('boundary', state('fz_als', 2, '{101}', '{1}')),
	('boundary', state('', 1, '{101}', '{1}')),
	('boundary', state('nope', 1, '{101}', '{1}')),
	('boundary', state('fz_knn', 1, '{101}', '{1}')),
	('boundary', state('fz_pop', 1, '{101}', '{1}')),
	('boundary', state('fz_als8', 1, '{101}', '{1}')),
	('boundary', state(repeat('x', 63), 1, '{101}', '{1}')),
	('boundary', state(repeat('x', 64), 1, '{101}', '{1}')),
	('boundary', state('fz_als', 1, '{100}', '{NaN}')),
	('boundary', state('fz_als', 1, '{100}', '{Infinity}')),
	('boundary', state('fz_als', 1, '{100}', '{-Infinity}')),
	('boundary', state('fz_als', 1, '{100}', '{0}')),
	('boundary', state('fz_als', 1, '{100}', '{-0}')),
	('boundary', state('fz_als', 1, '{100}', '{1e-45}')),
	('boundary', state('fz_als', 1, '{100}', '{3.4e38}')),
	('boundary', state('fz_als', 2, '{100,101}', '{3.4e38,3.4e38}')),
	('boundary', state('fz_als', 2, '{100,101}', '{3.4e38,-3.4e38}')),
	('boundary', state('fz_als', 30, ARRAY(SELECT generate_series(100, 129)), array_fill(3.4e38::real, '{30}'))),
	('boundary', state('fz_als', 30, ARRAY(SELECT generate_series(100, 129)), array_fill(1::real, '{30}'))),
	('boundary', state('fz_als', 1, '{99}', '{1}')),
	('boundary', state('fz_als', 1, '{129}', '{1}')),
	('boundary', state('fz_als', 1, '{130}', '{1}')),
	('boundary', state('fz_als', 1, '{2147483647}', '{1}')),
	('boundary', state('fz_als', 1, '{-2147483648}', '{1}')),
	('boundary', state('fz_als', 1, '{9223372036854775807}', '{1}')),
	('boundary', state('fz_als', 1, '{-9223372036854775808}', '{1}')),
	('boundary', state('fz_als', 2, '{-9223372036854775808,9223372036854775807}', '{1,1}')),
	('boundary', state('fz_als', 2, '{9223372036854775807,-9223372036854775808}', '{1,1}')),
	('boundary', state('fz_als', 2, '{104,104}', '{1,1}')),
	('boundary', state('fz_als', 2, '{105,104}', '{1,1}')),
	('boundary', state('fz_als', 2, '{100,101}', '{1,NaN}'));
SELECT family, count(*) AS cases FROM cases GROUP BY family ORDER BY min(n);

-- What a call did: "NULL", "vector" (the model's length, all finite),
-- "BAD VECTOR ..." (a wrong answer), or the error's SQLSTATE and message.
CREATE FUNCTION outcome(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v real[];
BEGIN
	EXECUTE statement INTO v;
	IF v IS NULL THEN
		RETURN 'NULL';
	ELSIF array_ndims(v) = 1 AND cardinality(v) IN (4, 8)
		AND NOT EXISTS (SELECT FROM unnest(v) x WHERE x = 'NaN' OR x IN ('Infinity', '-Infinity')) THEN
		RETURN 'vector';
	END IF;
	RETURN 'BAD VECTOR ' || v::text;
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ' ' || SQLERRM;
END $$;

-- the combine function, as a user-defined aggregate's transition function
-- (so it runs in an aggregate context), over two states
CREATE AGGREGATE combine_states(bytea) (
	SFUNC = recsys.fold_in_combine, STYPE = bytea, FINALFUNC = recsys.fold_in_final);

CREATE TABLE outcomes AS
SELECT c.n, c.family, 'fold_in_final' AS fn,
	   outcome(format('SELECT recsys.fold_in_final(%L::bytea)', c.st)) AS outcome
FROM cases c
UNION ALL
-- a fuzzed state combined with a valid one, in both orders
SELECT c.n, c.family, 'fold_in_combine',
	   outcome(format('SELECT combine_states(s ORDER BY o) FROM (VALUES (%L::bytea, 1), (%L::bytea, 2)) v(s, o)',
					  c.st, s.st))
FROM cases c JOIN seeds s ON s.seed = 1 + c.n % 4
UNION ALL
SELECT c.n, c.family, 'fold_in_combine',
	   outcome(format('SELECT combine_states(s ORDER BY o) FROM (VALUES (%L::bytea, 1), (%L::bytea, 2)) v(s, o)',
					  s.st, c.st))
FROM cases c JOIN seeds s ON s.seed = 1 + c.n % 4;

-- the transition function, with the fuzzed state as a user-defined
-- aggregate's initial state (one aggregate per case: every 4th case)
DO $$
DECLARE
	c record;
BEGIN
	FOR c IN SELECT * FROM cases WHERE n % 4 = 0 ORDER BY n LOOP
		EXECUTE format('CREATE AGGREGATE accum_from(bigint, real, text) (SFUNC = recsys.fold_in_accum, '
					   'STYPE = bytea, FINALFUNC = recsys.fold_in_final, INITCOND = %L)',
					   '\x' || encode(c.st, 'hex'));
		INSERT INTO outcomes
		VALUES (c.n, c.family, 'fold_in_accum',
				outcome('SELECT accum_from(item_id, w, ''fz_als'') FROM (VALUES (103, 1::real), (100, 2), (103, 0.5), (129, 1)) v(item_id, w)'));
		DROP AGGREGATE accum_from(bigint, real, text);
	END LOOP;
END $$;

SELECT count(*) > 3000 AS thousands FROM outcomes;
-- every call ended cleanly: a valid vector, NULL, or one of these errors
SELECT fn, regexp_replace(outcome, '"[^"]*"', '"..."', 'g') AS outcome, count(*)
FROM outcomes GROUP BY 1, 2 ORDER BY 1, 2;
-- no wrong answer and no internal error
SELECT * FROM outcomes WHERE outcome LIKE 'BAD%' OR outcome LIKE 'XX%' OR outcome LIKE '58%' ORDER BY n, fn;

-- the server never restarted
SELECT pg_postmaster_start_time() = :'started' AS same_postmaster;

DROP SCHEMA fuzz CASCADE;
DELETE FROM recsys.models WHERE name LIKE 'fz\_%';
