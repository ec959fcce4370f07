/*-------------------------------------------------------------------------
 *
 * stats.h
 *		Distribution functions for the experiments' tests (src/experiment.c):
 *		the standard normal's CDF and quantile, the regularised incomplete
 *		beta function, and from it Student's t and the binomial CDF; and
 *		train_auto's threshold for the best of several correlated paired z
 *		tests (Westfall and Young's max-T by sign flips).
 *
 * Pure C, no allocation, no global state (thread-safe).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_STATS_H
#define RECSYS_KERNEL_STATS_H

#include <stdint.h>

/* P(Z <= x) for a standard normal Z */
extern double rs_norm_cdf(double x);

/* x with P(Z <= x) = p, 0 < p < 1 (NaN outside) */
extern double rs_norm_quantile(double p);

/* I_x(a, b), a > 0, b > 0, 0 <= x <= 1 (NaN outside) */
extern double rs_beta_inc(double a, double b, double x);

/* two-sided p-value of Student's t statistic with df degrees of freedom */
extern double rs_t_two_sided_p(double t, double df);

/*
 * P(X <= k) for X ~ Binomial(n, p), in [0, 1]; by the normal
 * approximation (continuity-corrected) once n p (1 - p) reaches this
 */
#define RS_BINOM_NORMAL_VARIANCE 1e7

extern double rs_binom_cdf(double k, double n, double p);

/*
 * The max-T threshold (Westfall and Young 1993, by sign flips) of the
 * paired z tests of several correlated gains measured on the same users:
 * gains is a users x weights matrix, row-major (gains[u * weights + w]:
 * user u's gain at weight w).  Under "no gain" each user's row is
 * symmetric about 0, so a draw flips the sign of whole rows at random
 * and takes the largest paired z over the columns; the threshold is the
 * (1 - level) quantile of the draws' maxima.  A column's paired z is its
 * mean over its standard error (sample standard deviation / sqrt(users));
 * with no spread, +/-Infinity by the sign of the mean, 0 for none.
 */
typedef enum RsMaxZStatus
{
	RS_MAXZ_OK = 0,
	RS_MAXZ_BAD_ARGS,			/* weights or draws < 1, level outside (0, 1) */
	RS_MAXZ_FEW_USERS,			/* fewer than 2 users: no z */
	RS_MAXZ_NOT_FINITE,			/* a gain NaN or infinite */
	RS_MAXZ_NO_SPREAD			/* every gain 0: nothing to flip */
} RsMaxZStatus;

/* Whether the inputs can be drawn from (RS_MAXZ_OK), else why not. */
extern RsMaxZStatus rs_max_z_check(const double *gains, int users, int weights, int draws, double level);

/*
 * The maxima of draws first .. first + count - 1 of the stream seed into
 * maxima[0 .. count - 1].  A draw depends only on (seed, its number), so
 * the draws may be made in chunks (the server checks for interrupts
 * between them) with the same result.  Inputs as rs_max_z_check accepts.
 */
extern void rs_max_z_draws(const double *gains, int users, int weights, uint64_t seed,
						   int64_t first, int count, double *maxima);

/*
 * The (1 - level) quantile of the draws' maxima (the ceil((1 - level)
 * draws)-th smallest): sorts maxima in place.
 */
extern double rs_max_z_quantile(double *maxima, int draws, double level);

/*
 * All of it: *threshold is the max-T threshold from draws draws (maxima:
 * the caller's scratch of draws doubles).  Unless RS_MAXZ_OK, *threshold
 * is NaN, but for RS_MAXZ_NO_SPREAD: the single test's quantile
 * (rs_norm_quantile(1 - level)), which the observed z (0) stays below.
 */
extern RsMaxZStatus rs_max_z_threshold(const double *gains, int users, int weights, int draws,
									   uint64_t seed, double level, double *maxima, double *threshold);

/*
 * The max-T test's decision (review s12, W1): the sign-flip p-value of an
 * observed z, (1 + #{maxima >= z}) / (draws + 1), kept when <= level.
 * With few users whose gain is not 0 the maxima have atoms (one moved
 * user: z is +1 or -1), and a quantile compared with >= kept on a tie
 * with an atom; the p-value counts the tie against the keep.
 */
extern double rs_max_z_pvalue(const double *maxima, int draws, double z);

/*
 * The paired z of column w of gains as observed (no flip), summed in the
 * same order as the draws, so that a draw equal to the observation on
 * every user gives exactly this value.
 */
extern double rs_max_z_observed(const double *gains, int users, int weights, int w);

/*
 * The largest maximum a z must exceed (strictly) for its p-value to be
 * at most level: z > it if and only if rs_max_z_pvalue(z) <= level.
 * +Infinity when none can (level below 1 / (draws + 1)).  Sorts maxima
 * in place.
 */
extern double rs_max_z_critical(double *maxima, int draws, double level);

/*
 * The least hundredth strictly above x + 1e-8 (the threshold train_auto
 * records: a z at or above it is above the critical maximum, never on its
 * tie, even when the two are the same number summed differently).
 */
extern double rs_hundredth_above(double x);

/*
 * The Gaussian approximation of the sign flips for many users (review
 * s12, W2: the exact flips cost users x weights a draw).  Under "no
 * gain" the weights' flipped sums are, by the central limit theorem,
 * normal with covariance sum_u g_uw g_uv, so z ~ N(0, R), R their
 * correlation; a draw costs weights^2, whatever the users.  Below about
 * RS_MAXZ_GAUSS_USERS users the exact flips stay (their discreteness
 * matters there, W1).
 */
#define RS_MAXZ_GAUSS_USERS 2000

/*
 * The lower Cholesky factor of R into chol (weights x weights, row-major;
 * a column with no gain, or one dependent on earlier ones, gets a zero
 * pivot) and the columns' sums of squares into q (weights).  Inputs as
 * rs_max_z_check accepts.
 */
extern void rs_max_z_gauss_factor(const double *gains, int users, int weights, double *chol, double *q);

/*
 * Draws first .. first + count - 1 of the approximation: x = chol e (e
 * standard normal of the stream seed), each column's x turned into the
 * paired z its flipped sum x sqrt(q) would give, the largest kept.
 */
extern void rs_max_z_gauss_draws(const double *chol, const double *q, int users, int weights, uint64_t seed,
								 int64_t first, int count, double *maxima);

#endif							/* RECSYS_KERNEL_STATS_H */
