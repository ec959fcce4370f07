/*-------------------------------------------------------------------------
 *
 * stats.c
 *		Distribution functions for the experiments' tests: see stats.h.
 *
 * The normal CDF is erfc's; its quantile is found by bisection on it (60
 * halvings of [-40, 40] reach double precision; the callers ask a few per
 * statement).  The regularised incomplete beta function is evaluated by
 * its continued fraction (modified Lentz), on the side of the symmetry
 * I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges quickly.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "stats.h"

double
rs_norm_cdf(double x)
{
	return 0.5 * erfc(-x / sqrt(2.0));
}

double
rs_norm_quantile(double p)
{
	double		lo = -40.0;
	double		hi = 40.0;

	if (!(p > 0.0 && p < 1.0))
		return NAN;
	for (int i = 0; i < 200 && hi - lo > 1e-15 * (1.0 + fabs(lo)); i++)
	{
		double		mid = 0.5 * (lo + hi);

		/* compare in the tail that keeps precision */
		if (mid < 0 ? rs_norm_cdf(mid) < p : 1.0 - p < 0.5 * erfc(mid / sqrt(2.0)))
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

/* The continued fraction of I_x(a, b) without its prefactor. */
static double
beta_fraction(double a, double b, double x)
{
	const double tiny = 1e-300;
	double		c = 1.0;
	double		d = 1.0 - (a + b) * x / (a + 1.0);
	double		h;

	if (fabs(d) < tiny)
		d = tiny;
	d = 1.0 / d;
	h = d;
	for (int m = 1; m <= 10000; m++)
	{
		double		m2 = 2.0 * m;
		double		num;
		double		delta;

		/* even step */
		num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
		d = 1.0 + num * d;
		c = 1.0 + num / c;
		if (fabs(d) < tiny)
			d = tiny;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		h *= d * c;
		/* odd step */
		num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
		d = 1.0 + num * d;
		c = 1.0 + num / c;
		if (fabs(d) < tiny)
			d = tiny;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		delta = d * c;
		h *= delta;
		if (fabs(delta - 1.0) < 1e-15)
			break;
	}
	return h;
}

double
rs_beta_inc(double a, double b, double x)
{
	double		front;

	if (!(a > 0 && b > 0 && x >= 0 && x <= 1))
		return NAN;
	if (x == 0 || x == 1)
		return x;
	front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
	if (x < (a + 1.0) / (a + b + 2.0))
		return front * beta_fraction(a, b, x) / a;
	return 1.0 - front * beta_fraction(b, a, 1.0 - x) / b;
}

double
rs_t_two_sided_p(double t, double df)
{
	if (isnan(t) || !(df > 0))
		return NAN;
	if (isinf(t))
		return 0.0;
	return rs_beta_inc(0.5 * df, 0.5, df / (df + t * t));
}

double
rs_binom_cdf(double k, double n, double p)
{
	k = floor(k);
	if (!(n >= 0 && p >= 0 && p <= 1) || isnan(k))
		return NAN;
	if (k < 0)
		return 0.0;
	if (k >= n)
		return 1.0;

	/*
	 * Many trials: the incomplete beta's lgamma terms (each ~ n log n)
	 * cancel to a small difference and lose its digits (0.48 for 0.5 at
	 * n = 1e12, below 0 at 1e14).  The normal approximation with a
	 * continuity correction is then better than either 1e-7: its error
	 * is O(1/sqrt(npq)) in general (O(1/n) at p = 0.5), where the beta's
	 * grows past 1e-8 from npq ~ 1e7 on.
	 */
	if (n * p * (1.0 - p) >= RS_BINOM_NORMAL_VARIANCE)
		return rs_norm_cdf((k + 0.5 - n * p) / sqrt(n * p * (1.0 - p)));
	/* P(X <= k) = I_{1-p}(n - k, k + 1), clamped: rounding may step outside [0, 1] */
	return fmin(1.0, fmax(0.0, rs_beta_inc(n - k, k + 1.0, 1.0 - p)));
}
