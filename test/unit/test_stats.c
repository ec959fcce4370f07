/*
 * test_stats.c
 *		Unit tests of src/kernel/stats.c against values computed
 *		independently (Python: exact binomial sums, Simpson's rule on
 *		Student's t density, and printed normal tables).
 */
#include <math.h>

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
