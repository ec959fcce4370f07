/*-------------------------------------------------------------------------
 *
 * stats.c
 *		Distribution functions for the experiments' tests, and train_auto's
 *		max-T threshold: see stats.h.
 *
 * The normal CDF is erfc's; its quantile is found by bisection on it (60
 * halvings of [-40, 40] reach double precision; the callers ask a few per
 * statement).  The regularised incomplete beta function is evaluated by
 * its continued fraction (modified Lentz), on the side of the symmetry
 * I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges quickly.
 *
 * The max-T draws need no per-user work beyond one signed sum per column:
 * a sign flip leaves every squared gain as it was, so a column's sum of
 * squares is computed once and each draw's standard deviation follows
 * from its flipped sum alone (var = (Q - S^2 / n) / (n - 1)).  A draw's
 * signs are the bits of one 64-bit value of the project's counter-based
 * generator (rng.h) per 64 users, numbered by draw, so that draws made in
 * chunks or at once agree.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>

#include "rng.h"
#include "stats.h"

/* the most columns (weights) a max-T threshold takes: its sums live on the stack */
#define RS_MAXZ_MAX_WEIGHTS 64

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

RsMaxZStatus
rs_max_z_check(const double *gains, int users, int weights, int draws, double level)
{
	int			nonzero = 0;

	if (weights < 1 || weights > RS_MAXZ_MAX_WEIGHTS || draws < 1 || !(level > 0.0 && level < 1.0))
		return RS_MAXZ_BAD_ARGS;
	if (users < 2)
		return RS_MAXZ_FEW_USERS;
	for (int w = 0; w < weights; w++)
	{
		double		q = 0.0;

		for (int u = 0; u < users; u++)
		{
			double		g = gains[(int64_t) u * weights + w];

			if (!isfinite(g))
				return RS_MAXZ_NOT_FINITE;
			q += g * g;
		}
		/* (finite gains whose squares overflow: no z either) */
		if (!isfinite(q))
			return RS_MAXZ_NOT_FINITE;
		nonzero |= q > 0.0;
	}
	return nonzero ? RS_MAXZ_OK : RS_MAXZ_NO_SPREAD;
}

/* The paired z of a column from its sum, its sum of squares and its users. */
static double
paired_z(double s, double q, int users)
{
	double		resid = q - s * s / users;

	/* no spread (every user the same gain, or none): rounding may leave a crumb */
	if (resid <= 1e-12 * q)
		return s > 0.0 ? INFINITY : s < 0.0 ? -INFINITY : 0.0;
	return (s / users) / sqrt(resid / ((double) users * (users - 1)));
}

void
rs_max_z_draws(const double *gains, int users, int weights, uint64_t seed,
			   int64_t first, int count, double *maxima)
{
	double		q[RS_MAXZ_MAX_WEIGHTS];
	double		s[RS_MAXZ_MAX_WEIGHTS];
	int64_t		blocks = (users + 63) / 64;

	for (int w = 0; w < weights; w++)
	{
		q[w] = 0.0;
		for (int u = 0; u < users; u++)
			q[w] += gains[(int64_t) u * weights + w] * gains[(int64_t) u * weights + w];
	}
	for (int i = 0; i < count; i++)
	{
		int64_t		draw = first + i;
		uint64_t	bits = 0;
		double		best = -INFINITY;

		for (int w = 0; w < weights; w++)
			s[w] = 0.0;
		for (int u = 0; u < users; u++)
		{
			const double *row = gains + (int64_t) u * weights;

			if (u % 64 == 0)
				bits = rs_rng_u64(seed, (uint64_t) (draw * blocks + u / 64));
			/* one sign for the whole row: the user's gains move together */
			if (bits & 1)
				for (int w = 0; w < weights; w++)
					s[w] -= row[w];
			else
				for (int w = 0; w < weights; w++)
					s[w] += row[w];
			bits >>= 1;
		}
		for (int w = 0; w < weights; w++)
		{
			double		z = paired_z(s[w], q[w], users);

			if (z > best)
				best = z;
		}
		maxima[i] = best;
	}
}

static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

double
rs_max_z_quantile(double *maxima, int draws, double level)
{
	/* (a hair below, so that 0.95 * 2000 is 1900, not 1901 by rounding) */
	double		rank = ceil((1.0 - level) * draws - 1e-9);

	if (draws < 1 || !(level > 0.0 && level < 1.0))
		return NAN;
	qsort(maxima, draws, sizeof(double), compare_doubles);
	rank = fmin(fmax(rank, 1.0), (double) draws);
	return maxima[(int) rank - 1];
}

double
rs_max_z_pvalue(const double *maxima, int draws, double z)
{
	int64_t		at_least = 0;

	if (draws < 1 || isnan(z))
		return NAN;
	for (int i = 0; i < draws; i++)
		at_least += maxima[i] >= z;
	return (1.0 + (double) at_least) / ((double) draws + 1.0);
}

double
rs_max_z_observed(const double *gains, int users, int weights, int w)
{
	double		s = 0.0,
				q = 0.0;

	for (int u = 0; u < users; u++)
	{
		double		g = gains[(int64_t) u * weights + w];

		s += g;
		q += g * g;
	}
	return paired_z(s, q, users);
}

double
rs_max_z_critical(double *maxima, int draws, double level)
{
	/* the most maxima that may reach z: 1 + that <= level (draws + 1) */
	double		allowed = floor(level * ((double) draws + 1.0) + 1e-9) - 1.0;

	if (draws < 1 || !(level > 0.0 && level < 1.0))
		return NAN;
	if (allowed < 0.0)
		return INFINITY;
	if (allowed >= draws)
		return -INFINITY;
	qsort(maxima, draws, sizeof(double), compare_doubles);
	/* z above the (draws - allowed)-th smallest: at most allowed reach z */
	return maxima[draws - (int) allowed - 1];
}

double
rs_hundredth_above(double x)
{
	double		t;

	if (!isfinite(x))
		return x;
	/*
	 * (a millionth of a hundredth of margin: a z that is 1 in exact
	 * arithmetic may come out a hair below 1 here and a hair above in
	 * another sum, so the hundredth above 0.99999999 is 1.01, not 1)
	 */
	t = floor(x * 100.0 + 1.0 + 1e-6) / 100.0;
	/* (x * 100 may round: make sure of "strictly above") */
	while (t <= x)
		t += 0.01;
	return t;
}

void
rs_max_z_gauss_factor(const double *gains, int users, int weights, double *chol, double *q)
{
	for (int w = 0; w < weights; w++)
	{
		q[w] = 0.0;
		for (int u = 0; u < users; u++)
			q[w] += gains[(int64_t) u * weights + w] * gains[(int64_t) u * weights + w];
	}
	/* R, the correlation of the flipped sums (uncentred: a flip's mean is 0) */
	for (int w = 0; w < weights; w++)
		for (int v = 0; v <= w; v++)
		{
			double		c = 0.0;

			if (q[w] > 0.0 && q[v] > 0.0)
			{
				for (int u = 0; u < users; u++)
					c += gains[(int64_t) u * weights + w] * gains[(int64_t) u * weights + v];
				c /= sqrt(q[w]) * sqrt(q[v]);
			}
			if (v < w)
				chol[v * weights + w] = 0.0;
			chol[w * weights + v] = c;
		}
	/*
	 * In place, lower triangle; R is only semi-definite (identical weights
	 * are the common case), so a pivot at or below rounding is a dependent
	 * column: zero, and its column below zero.
	 */
	for (int j = 0; j < weights; j++)
	{
		double		d = chol[j * weights + j];

		for (int k = 0; k < j; k++)
			d -= chol[j * weights + k] * chol[j * weights + k];
		d = d > 1e-10 ? sqrt(d) : 0.0;
		chol[j * weights + j] = d;
		for (int i = j + 1; i < weights; i++)
		{
			double		c = chol[i * weights + j];

			for (int k = 0; k < j; k++)
				c -= chol[i * weights + k] * chol[j * weights + k];
			chol[i * weights + j] = d > 0.0 ? c / d : 0.0;
		}
	}
}

void
rs_max_z_gauss_draws(const double *chol, const double *q, int users, int weights, uint64_t seed,
					 int64_t first, int count, double *maxima)
{
	double		e[RS_MAXZ_MAX_WEIGHTS];

	for (int i = 0; i < count; i++)
	{
		int64_t		draw = first + i;
		double		best = -INFINITY;

		for (int w = 0; w < weights; w++)
			e[w] = rs_rng_normal(seed, (uint64_t) (draw * weights + w));
		for (int w = 0; w < weights; w++)
		{
			double		x = 0.0;
			double		z;

			for (int k = 0; k <= w; k++)
				x += chol[w * weights + k] * e[k];
			/* (the flipped sum x sqrt(q) in the exact draws' paired z) */
			z = paired_z(x * sqrt(q[w]), q[w], users);
			if (z > best)
				best = z;
		}
		maxima[i] = best;
	}
}

RsMaxZStatus
rs_max_z_threshold(const double *gains, int users, int weights, int draws,
				   uint64_t seed, double level, double *maxima, double *threshold)
{
	RsMaxZStatus status = rs_max_z_check(gains, users, weights, draws, level);

	*threshold = NAN;
	if (status == RS_MAXZ_NO_SPREAD)
		*threshold = rs_norm_quantile(1.0 - level);
	if (status != RS_MAXZ_OK)
		return status;
	rs_max_z_draws(gains, users, weights, seed, 0, draws, maxima);
	*threshold = rs_max_z_quantile(maxima, draws, level);
	return RS_MAXZ_OK;
}
