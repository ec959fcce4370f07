/*
 * test_stats.c
 *		Unit tests of src/kernel/stats.c against values computed
 *		independently (Python: exact binomial sums, Simpson's rule on
 *		Student's t density, and printed normal tables), and of the max-T
 *		threshold against the cases known in closed form (one test,
 *		identical tests, independent tests: Sidak).
 */
#include <math.h>

#include "rng.h"
#include "stats.h"
#include "unit.h"

UNIT_TEST(stats_normal_cdf_and_quantile)
{
	UNIT_CHECK_NEAR(rs_norm_cdf(0), 0.5, 1e-15);
	UNIT_CHECK_NEAR(rs_norm_cdf(1.959963984540054), 0.975, 1e-12);
	UNIT_CHECK_NEAR(rs_norm_cdf(-1.6448536269514722), 0.05, 1e-12);
	UNIT_CHECK_NEAR(rs_norm_cdf(-8), 6.22096057427178e-16, 1e-25);
	UNIT_CHECK_NEAR(rs_norm_quantile(0.975), 1.959963984540054, 1e-10);
	UNIT_CHECK_NEAR(rs_norm_quantile(0.8), 0.8416212335729143, 1e-10);
	UNIT_CHECK_NEAR(rs_norm_quantile(0.05), -1.6448536269514722, 1e-10);
	UNIT_CHECK_NEAR(rs_norm_quantile(1e-10), -6.361340902404056, 1e-8);
	UNIT_CHECK(isnan(rs_norm_quantile(0)));
	UNIT_CHECK(isnan(rs_norm_quantile(1)));
	UNIT_CHECK(isnan(rs_norm_quantile(NAN)));
}

UNIT_TEST(stats_student_t)
{
	UNIT_CHECK_NEAR(rs_t_two_sided_p(2.0, 10), 0.0733880347834844, 1e-9);
	UNIT_CHECK_NEAR(rs_t_two_sided_p(-2.228138851986, 10), 0.05, 1e-9);
	UNIT_CHECK_NEAR(rs_t_two_sided_p(1.5, 3.7), 0.2135981692046138, 1e-8);
	UNIT_CHECK_NEAR(rs_t_two_sided_p(0, 5), 1.0, 1e-15);
	/* many degrees of freedom: the normal's */
	UNIT_CHECK_NEAR(rs_t_two_sided_p(1.959963984540054, 1e7), 0.05, 1e-6);
	UNIT_CHECK(rs_t_two_sided_p(INFINITY, 3) == 0.0);
	UNIT_CHECK(isnan(rs_t_two_sided_p(1, 0)));
}

UNIT_TEST(stats_binomial)
{
	UNIT_CHECK_NEAR(rs_binom_cdf(3, 20, 0.5), 0.0012884140014648438, 1e-14);
	UNIT_CHECK_NEAR(rs_binom_cdf(40, 100, 0.5), 0.028443966820490392, 1e-13);
	UNIT_CHECK_NEAR(rs_binom_cdf(2, 10, 0.3), 0.3827827863999998, 1e-13);
	UNIT_CHECK(rs_binom_cdf(-1, 10, 0.5) == 0.0);
	UNIT_CHECK(rs_binom_cdf(10, 10, 0.5) == 1.0);
	/*
	 * Many trials (review s9, 6: 0.481 at n = 1e12, -1.01 at 1e14).  Known
	 * by symmetry: for odd n and p = 0.5, P(X <= (n - 1) / 2) = 1/2.
	 */
	for (double n = 1e6 + 1; n < 1e16; n = (n - 1) * 10 + 1)
	{
		UNIT_CHECK_NEAR(rs_binom_cdf(floor(n / 2), n, 0.5), 0.5, 1e-7);
		/* one standard deviation below the mean: Phi(-1), within a step (phi(1) / sd) */
		UNIT_CHECK_NEAR(rs_binom_cdf(floor(n / 2 - sqrt(n) / 2), n, 0.5), 0.15865525393145707,
						0.5 / sqrt(n) + 1e-7);
	}
	/* just below the switch (the beta's), the normal's value: no step at the switch */
	UNIT_CHECK_NEAR(rs_binom_cdf(2e7 - 3001, 4e7 - 1, 0.5),
					rs_norm_cdf((2e7 - 3001 + 0.5 - (4e7 - 1) / 2) / sqrt((4e7 - 1) / 4)), 1e-7);
	/* a skewed p, many trials: in [0, 1] and near the normal's */
	UNIT_CHECK_NEAR(rs_binom_cdf(1e11, 1e12, 0.1), 0.5, 1e-4);
	UNIT_CHECK(rs_binom_cdf(1e15, 1e17, 0.01) >= 0.0 && rs_binom_cdf(1e15, 1e17, 0.01) <= 1.0);
	UNIT_CHECK_NEAR(rs_binom_cdf(5e17, 1e18, 0.5), 0.5, 1e-7);
	UNIT_CHECK_NEAR(rs_beta_inc(2, 3, 0.4), 0.5248, 1e-12);
}

/*
 * train_auto's max-T threshold (rs_max_z_threshold): known cases.  The
 * gains are normal draws of the project's generator; the thresholds of
 * 20,000 sign-flip draws carry a Monte Carlo error of about 0.01 at these
 * levels (the quantile's standard error, sqrt(p (1 - p) / B) / phi(z)).
 */
#define MAXZ_USERS 2000
#define MAXZ_WEIGHTS 5
#define MAXZ_DRAWS 20000

static double maxz_gains[MAXZ_USERS * MAXZ_WEIGHTS];
static double maxz_scratch[MAXZ_DRAWS];

/* gains[u][w] = shared * a_u + e_uw (a, e standard normal), 0.01 added */
static void
maxz_fill(int weights, double shared, uint64_t seed)
{
	for (int u = 0; u < MAXZ_USERS; u++)
		for (int w = 0; w < weights; w++)
			maxz_gains[u * weights + w] = 0.01 + shared * rs_rng_normal(seed, u)
				+ rs_rng_normal(seed + 1, (uint64_t) u * weights + w);
}

UNIT_TEST(stats_max_z_one_weight)
{
	double		t;

	/* one weight: the single test's quantile, 1 at 1 - Phi(1), 1.96 at 2.5 % */
	maxz_fill(1, 0.0, 7);
	UNIT_CHECK(rs_max_z_threshold(maxz_gains, MAXZ_USERS, 1, MAXZ_DRAWS, 42, 1.0 - rs_norm_cdf(1.0),
								  maxz_scratch, &t) == RS_MAXZ_OK);
	UNIT_CHECK_NEAR(t, 1.0, 0.04);
	UNIT_CHECK(rs_max_z_threshold(maxz_gains, MAXZ_USERS, 1, MAXZ_DRAWS, 42, 0.025, maxz_scratch, &t) == RS_MAXZ_OK);
	UNIT_CHECK_NEAR(t, 1.959964, 0.05);
}

UNIT_TEST(stats_max_z_identical_and_independent)
{
	double		level = 1.0 - rs_norm_cdf(1.0);
	double		one,
				same,
				sidak = rs_norm_quantile(pow(1.0 - level, 1.0 / MAXZ_WEIGHTS)),
				independent,
				correlated;

	/* five identical columns: exactly the one column's threshold (same flips) */
	maxz_fill(1, 0.0, 11);
	rs_max_z_threshold(maxz_gains, MAXZ_USERS, 1, MAXZ_DRAWS, 42, level, maxz_scratch, &one);
	for (int u = MAXZ_USERS - 1; u >= 0; u--)
		for (int w = 0; w < MAXZ_WEIGHTS; w++)
			maxz_gains[u * MAXZ_WEIGHTS + w] = maxz_gains[u];
	UNIT_CHECK(rs_max_z_threshold(maxz_gains, MAXZ_USERS, MAXZ_WEIGHTS, MAXZ_DRAWS, 42, level,
								  maxz_scratch, &same) == RS_MAXZ_OK);
	UNIT_CHECK(same == one);

	/* five independent columns: Sidak's 1.825 (alpha 0.159 over 5 tests) */
	UNIT_CHECK_NEAR(sidak, 1.8250, 1e-3);
	maxz_fill(MAXZ_WEIGHTS, 0.0, 13);
	rs_max_z_threshold(maxz_gains, MAXZ_USERS, MAXZ_WEIGHTS, MAXZ_DRAWS, 42, level, maxz_scratch, &independent);
	UNIT_CHECK_NEAR(independent, sidak, 0.05);

	/* strongly correlated columns (a shared part 3 times the rest): between the two */
	maxz_fill(MAXZ_WEIGHTS, 3.0, 17);
	rs_max_z_threshold(maxz_gains, MAXZ_USERS, MAXZ_WEIGHTS, MAXZ_DRAWS, 42, level, maxz_scratch, &correlated);
	UNIT_CHECK(correlated > one + 0.05 && correlated < independent - 0.2);
}

UNIT_TEST(stats_max_z_draws_and_quantile)
{
	double		whole[1000],
				chunked[1000],
				t1,
				t2;
	double		m[4] = {3, 1, 2, 4};

	/* draws made in chunks are those made at once; a seed repeats itself */
	maxz_fill(3, 1.0, 19);
	rs_max_z_draws(maxz_gains, 500, 3, 99, 0, 1000, whole);
	for (int first = 0; first < 1000; first += 64)
		rs_max_z_draws(maxz_gains, 500, 3, 99, first, first + 64 <= 1000 ? 64 : 1000 - first, chunked + first);
	for (int i = 0; i < 1000; i++)
		UNIT_CHECK(whole[i] == chunked[i]);
	rs_max_z_threshold(maxz_gains, 500, 3, 1000, 99, 0.1, maxz_scratch, &t1);
	rs_max_z_threshold(maxz_gains, 500, 3, 1000, 99, 0.1, maxz_scratch, &t2);
	UNIT_CHECK(t1 == t2);

	/* the ceil((1 - level) B)-th smallest: 2 of 4 at 0.5, 3 at 0.25; 1900 of 2000 at 0.05 */
	UNIT_CHECK(rs_max_z_quantile(m, 4, 0.5) == 2);
	UNIT_CHECK(rs_max_z_quantile(m, 4, 0.25) == 3);
	for (int i = 0; i < 2000; i++)
		maxz_scratch[i] = 2000 - i;
	UNIT_CHECK(rs_max_z_quantile(maxz_scratch, 2000, 0.05) == 1900);
	UNIT_CHECK(isnan(rs_max_z_quantile(m, 4, 0)));
}

UNIT_TEST(stats_max_z_degenerate)
{
	double		g[6] = {0.1, 0.2, -0.1, 0.3, 0.0, 0.2};
	double		zero[6] = {0};
	double		same[2] = {0.5, 0.5};
	double		t;

	/* fewer than 2 users, bad arguments: no threshold */
	UNIT_CHECK(rs_max_z_threshold(g, 1, 2, 100, 1, 0.05, maxz_scratch, &t) == RS_MAXZ_FEW_USERS && isnan(t));
	UNIT_CHECK(rs_max_z_threshold(g, 0, 2, 100, 1, 0.05, maxz_scratch, &t) == RS_MAXZ_FEW_USERS);
	UNIT_CHECK(rs_max_z_threshold(g, 3, 0, 100, 1, 0.05, maxz_scratch, &t) == RS_MAXZ_BAD_ARGS && isnan(t));
	UNIT_CHECK(rs_max_z_threshold(g, 3, 65, 100, 1, 0.05, maxz_scratch, &t) == RS_MAXZ_BAD_ARGS);
	UNIT_CHECK(rs_max_z_threshold(g, 3, 2, 0, 1, 0.05, maxz_scratch, &t) == RS_MAXZ_BAD_ARGS);
	UNIT_CHECK(rs_max_z_threshold(g, 3, 2, 100, 1, 0, maxz_scratch, &t) == RS_MAXZ_BAD_ARGS);
	UNIT_CHECK(rs_max_z_threshold(g, 3, 2, 100, 1, 1, maxz_scratch, &t) == RS_MAXZ_BAD_ARGS);
	UNIT_CHECK(rs_max_z_threshold(g, 3, 2, 100, 1, NAN, maxz_scratch, &t) == RS_MAXZ_BAD_ARGS);
	/* a gain not finite */
	g[3] = NAN;
	UNIT_CHECK(rs_max_z_threshold(g, 3, 2, 100, 1, 0.05, maxz_scratch, &t) == RS_MAXZ_NOT_FINITE && isnan(t));
	g[3] = INFINITY;
	UNIT_CHECK(rs_max_z_threshold(g, 3, 2, 100, 1, 0.05, maxz_scratch, &t) == RS_MAXZ_NOT_FINITE);
	g[3] = 1e200;
	UNIT_CHECK(rs_max_z_threshold(g, 3, 2, 100, 1, 0.05, maxz_scratch, &t) == RS_MAXZ_NOT_FINITE);
	/* every gain 0: no spread, the single test's quantile (an observed z of 0 stays below) */
	UNIT_CHECK(rs_max_z_threshold(zero, 3, 2, 100, 1, 0.025, maxz_scratch, &t) == RS_MAXZ_NO_SPREAD);
	UNIT_CHECK_NEAR(t, 1.959964, 1e-6);
	/*
	 * Two users of the same gain (no spread in the data, some under the
	 * flips): z +Infinity (both +), 0 (mixed, twice), -Infinity (both -):
	 * the 0.84 quantile is +Infinity, which only the observed +Infinity meets
	 */
	UNIT_CHECK(rs_max_z_threshold(same, 2, 1, 1000, 1, 1.0 - rs_norm_cdf(1.0), maxz_scratch, &t) == RS_MAXZ_OK);
	UNIT_CHECK(isinf(t) && t > 0);
	rs_max_z_draws(same, 2, 1, 1, 0, 1000, maxz_scratch);
	for (int i = 0; i < 1000; i++)
		UNIT_CHECK(maxz_scratch[i] == 0 || isinf(maxz_scratch[i]));
}

/*
 * The max-T decision by the sign-flip p-value (review s12, W1): one moved
 * user among 600 has z exactly 1 and the flips give +1 or -1 half the
 * time each, so p is about 0.5 and the gain is not kept, although the
 * 0.84 quantile is 1 (a quantile compared with >= kept it); a clear gain
 * is kept; the recorded threshold is the hundredth strictly above the
 * critical maximum, never on its tie.
 */
UNIT_TEST(stats_max_z_pvalue)
{
	double		one[600] = {0};
	double		level = rs_norm_cdf(-1.0);
	double		z,
				p,
				crit;
	double		m[4] = {3, 1, 4, 2};

	one[599] = 0.1;
	z = rs_max_z_observed(one, 600, 1, 0);
	UNIT_CHECK_NEAR(z, 1.0, 1e-12);
	rs_max_z_draws(one, 600, 1, 42, 0, 10000, maxz_scratch);
	p = rs_max_z_pvalue(maxz_scratch, 10000, z);
	UNIT_CHECK(p > 0.45 && p < 0.55);
	UNIT_CHECK(!(p <= level));
	crit = rs_max_z_critical(maxz_scratch, 10000, level);
	UNIT_CHECK(crit == z);
	UNIT_CHECK(!(z > crit));
	UNIT_CHECK_NEAR(rs_hundredth_above(crit), 1.01, 1e-12);

	/* a clear gain over 2,000 users at five correlated weights: kept, p at its floor */
	maxz_fill(MAXZ_WEIGHTS, 1.0, 11);
	for (int i = 0; i < MAXZ_USERS * MAXZ_WEIGHTS; i++)
		maxz_gains[i] += 0.2;
	rs_max_z_draws(maxz_gains, MAXZ_USERS, MAXZ_WEIGHTS, 42, 0, 2000, maxz_scratch);
	z = rs_max_z_observed(maxz_gains, MAXZ_USERS, MAXZ_WEIGHTS, 2);
	UNIT_CHECK(z > 5.0);
	UNIT_CHECK_NEAR(rs_max_z_pvalue(maxz_scratch, 2000, z), 1.0 / 2001.0, 1e-12);
	UNIT_CHECK(z > rs_max_z_critical(maxz_scratch, 2000, level));

	/* the rule on four maxima: p(3) = (1 + 2) / 5; at level 0.4 a z must pass 3 */
	UNIT_CHECK_NEAR(rs_max_z_pvalue(m, 4, 3.0), 0.6, 1e-12);
	UNIT_CHECK_NEAR(rs_max_z_pvalue(m, 4, 3.5), 0.4, 1e-12);
	UNIT_CHECK(rs_max_z_critical(m, 4, 0.4) == 3.0);
	UNIT_CHECK(isinf(rs_max_z_critical(m, 4, 0.1)) && rs_max_z_critical(m, 4, 0.1) > 0);
	/* (p is never below 1 / 5 nor, at the least maximum, below 1: level 0.99 needs z > 1) */
	UNIT_CHECK(rs_max_z_critical(m, 4, 0.99) == 1.0);
	UNIT_CHECK(isnan(rs_max_z_pvalue(m, 4, NAN)));

	/* rounding up, strictly */
	UNIT_CHECK_NEAR(rs_hundredth_above(1.0), 1.01, 1e-12);
	UNIT_CHECK_NEAR(rs_hundredth_above(1.4142), 1.42, 1e-12);
	UNIT_CHECK_NEAR(rs_hundredth_above(0.999), 1.0, 1e-12);
	UNIT_CHECK_NEAR(rs_hundredth_above(-0.5), -0.49, 1e-12);
	UNIT_CHECK(rs_hundredth_above(1.0099999999999) > 1.0099999999999);
	UNIT_CHECK_NEAR(rs_hundredth_above(0.99999999999), 1.01, 1e-12);
	UNIT_CHECK(isinf(rs_hundredth_above(INFINITY)));
}

/*
 * The Gaussian approximation for many users (review s12, W2) against the
 * exact sign flips on 2,000 users: the critical maximum at 1 - Phi(1)
 * and at 2.5 %, for one weight, five correlated and five identical
 * (a singular correlation: zero pivots), within 0.05.
 */
UNIT_TEST(stats_max_z_gauss_agrees)
{
	static double exact[4000];
	static double gauss[4000];
	double		chol[MAXZ_WEIGHTS * MAXZ_WEIGHTS];
	double		q[MAXZ_WEIGHTS];
	double		levels[2] = {0.0, 0.025};

	levels[0] = rs_norm_cdf(-1.0);
	for (int c = 0; c < 3; c++)
	{
		int			weights = c == 0 ? 1 : MAXZ_WEIGHTS;

		maxz_fill(weights, c == 1 ? 1.0 : 0.0, 21);
		if (c == 2)
			for (int u = 0; u < MAXZ_USERS; u++)
				for (int w = 1; w < weights; w++)
					maxz_gains[u * weights + w] = maxz_gains[u * weights];
		rs_max_z_gauss_factor(maxz_gains, MAXZ_USERS, weights, chol, q);
		for (int l = 0; l < 2; l++)
		{
			rs_max_z_draws(maxz_gains, MAXZ_USERS, weights, 5, 0, 4000, exact);
			rs_max_z_gauss_draws(chol, q, MAXZ_USERS, weights, 5, 0, 4000, gauss);
			UNIT_CHECK_NEAR(rs_max_z_critical(exact, 4000, levels[l]),
							rs_max_z_critical(gauss, 4000, levels[l]), 0.05 + 0.05 * l);
		}
	}
	/* identical weights: one pivot, the rest zero */
	UNIT_CHECK(chol[0] > 0.99 && chol[1 * MAXZ_WEIGHTS + 1] == 0.0);
}
