/*-------------------------------------------------------------------------
 *
 * stats.h
 *		Distribution functions for the experiments' tests (src/experiment.c):
 *		the standard normal's CDF and quantile, the regularised incomplete
 *		beta function, and from it Student's t and the binomial CDF.
 *
 * Pure C, no allocation, no global state.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_STATS_H
#define RECSYS_KERNEL_STATS_H

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

#endif							/* RECSYS_KERNEL_STATS_H */
