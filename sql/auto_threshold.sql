-- recsys._auto_max_z_threshold: train_auto's threshold for the best of
-- several correlated blend weights scored on the same users (max-T by
-- sign flips; src/auto_threshold.c, src/kernel/stats.c)
SET extra_float_digits = 0;

-- Known by construction: 100 users, base 0.5, the blend at a weight
-- 1.5 for the even users and -0.5 for the odd (gains +1 and -1).  A
-- flip's z depends only on K, its number of positive gains: (2K - 100) /
-- 10 * sqrt(99 / (100 - (2K - 100)^2 / 100)), 1 exactly at K = 55, 1.4068
-- at K = 57.  K ~ Binomial(100, 1/2): P(K <= 54) = 0.816, P(K <= 55) =
-- 0.864, so the Phi(1) = 0.841 quantile of 10,000 draws is K = 55
-- (6 standard errors from either step); but a z of 1 ties that atom, its
-- sign-flip p-value P(K >= 55) = 0.184 is above 0.159 (review s12 W1), so
-- the threshold is the hundredth strictly above it: 1.01.  The same
-- weight three times: the same, 1.01 (not Sidak's 1.54 for three
-- independent tests).  The weight and its mirror (gains -1 and +1): the
-- largest is |z|; P(|2K - 100| <= 12) = 0.807, <= 14 0.867: above
-- 1.4068, 1.41.
CREATE TEMP TABLE pm AS
SELECT array_fill(0.5::float8, ARRAY[100]) AS base,
	   array_agg(CASE WHEN i % 2 = 0 THEN 1.5 ELSE -0.5 END::float8 ORDER BY i) AS up,
	   array_agg(CASE WHEN i % 2 = 0 THEN -0.5 ELSE 1.5 END::float8 ORDER BY i) AS mirror
FROM generate_series(1, 100) i;
SELECT recsys._auto_max_z_threshold(base, ARRAY[up], 1, 42) AS one_weight,
	   recsys._auto_max_z_threshold(base, ARRAY[up, up, up], 1, 42) AS three_identical,
	   recsys._auto_max_z_threshold(base, ARRAY[up, mirror], 1, 42) AS with_mirror,
	   round((1.4 * sqrt(99 / 98.04))::numeric, 4) AS expected
FROM pm;
-- the seed repeats itself; 2,000 draws (train_auto's count is 10,000) still find K = 55
SELECT recsys._auto_max_z_threshold(base, ARRAY[up, mirror], 1, 7) = recsys._auto_max_z_threshold(base, ARRAY[up, mirror], 1, 7) AS same_seed_same,
	   recsys._auto_max_z_threshold(base, ARRAY[up], 1, 7, 2000) AS two_thousand
FROM pm;

-- the test of a chosen row (_auto_max_z_test): {p, threshold, z}.  The
-- +1/-1 weight's z is 0 (K = 50): p (1 + #{K >= 50}) / 10,001, about
-- 0.54; the three identical the same; a chosen row out of range is an
-- error
SELECT round(((recsys._auto_max_z_test(base, ARRAY[up], 1, 42, 1))[1])::numeric, 2) AS p_one,
	   (recsys._auto_max_z_test(base, ARRAY[up], 1, 42, 1))[2:3] AS threshold_z,
	   recsys._auto_max_z_test(base, ARRAY[up, up, up], 1, 42, 3) = recsys._auto_max_z_test(base, ARRAY[up], 1, 42, 1) AS identical_same,
	   recsys._auto_max_z_test(ARRAY[0.5, 0.5], ARRAY[[0.5, 0.5]], 1.5, 42, 1) AS no_spread,
	   recsys._auto_max_z_test(ARRAY[0.5], ARRAY[[0.7]], 1, 42, 1) IS NULL AS one_user
FROM pm;
\set VERBOSITY terse
SELECT recsys._auto_max_z_test(base, ARRAY[up], 1, 42, 2) FROM pm;
SELECT recsys._auto_max_z_test(base, ARRAY[up], 1, 42, 0) FROM pm;
\set VERBOSITY default

-- no threshold (NULL): fewer than two users, a value not finite (its
-- paired z is 0, no gain shown), a NULL argument; every gain 0: single_z
SELECT recsys._auto_max_z_threshold(ARRAY[0.5], ARRAY[[0.7], [0.6]], 1, 42) IS NULL AS one_user,
	   recsys._auto_max_z_threshold('{}', '{}', 1, 42) IS NULL AS no_users,
	   recsys._auto_max_z_threshold(ARRAY[0.5, 0.5], ARRAY[[0.7, 'NaN']], 1, 42) IS NULL AS nan_value,
	   recsys._auto_max_z_threshold(ARRAY[0.5, 'Infinity'], ARRAY[[0.7, 0.6]], 1, 42) IS NULL AS infinite_value,
	   recsys._auto_max_z_threshold(NULL, ARRAY[[0.7, 0.6]], 1, 42) IS NULL AS null_base,
	   recsys._auto_max_z_threshold(ARRAY[0.5, 0.5], ARRAY[[0.5, 0.5], [0.5, 0.5]], 1.5, 42) AS no_spread;

-- errors: shapes, NULL values, single_z and draws out of range
\set VERBOSITY terse
SELECT recsys._auto_max_z_threshold(ARRAY[[0.5, 0.5]], ARRAY[[0.7, 0.6]], 1, 42);
SELECT recsys._auto_max_z_threshold(ARRAY[0.5, 0.5], ARRAY[0.7, 0.6], 1, 42);
SELECT recsys._auto_max_z_threshold(ARRAY[0.5, 0.5], ARRAY[[0.7, 0.6, 0.1]], 1, 42);
SELECT recsys._auto_max_z_threshold(ARRAY[0.5, 0.5], array_fill(0.1::float8, ARRAY[65, 2]), 1, 42);
SELECT recsys._auto_max_z_threshold(ARRAY[0.5, NULL], ARRAY[[0.7, 0.6]], 1, 42);
SELECT recsys._auto_max_z_threshold(ARRAY[0.5, 0.5], ARRAY[[0.7, NULL]], 1, 42);
SELECT recsys._auto_max_z_threshold(ARRAY[0.5, 0.5], ARRAY[[0.7, 0.6]], 9, 42);
SELECT recsys._auto_max_z_threshold(ARRAY[0.5, 0.5], ARRAY[[0.7, 0.6]], 'NaN', 42);
SELECT recsys._auto_max_z_threshold(ARRAY[0.5, 0.5], ARRAY[[0.7, 0.6]], 1, 42, 0);
SELECT recsys._auto_max_z_threshold(ARRAY[0.5, 0.5], ARRAY[[0.7, 0.6]], 1, 42, 1000001);
\set VERBOSITY default

-- a cancel interrupts the draws: 5,000 users, 64 weights, a million
-- draws would take many minutes
CREATE TEMP TABLE big AS
SELECT array_fill(0::float8, ARRAY[5000]) AS base, array_fill(0.1::float8, ARRAY[64, 5000]) AS ext;
SET statement_timeout = '300ms';
\set VERBOSITY terse
SELECT recsys._auto_max_z_threshold(base, ext, 1, 42, 1000000) FROM big;
\set VERBOSITY default
RESET statement_timeout;
DROP TABLE pm, big;
