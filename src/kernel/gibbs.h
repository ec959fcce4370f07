/*-------------------------------------------------------------------------
 *
 * gibbs.h
 *		Bayesian explicit matrix factorisation by Gibbs sampling (gibbs.c).
 *
 * Bayesian explicit feedback (Salakhutdinov and Mnih, "Bayesian
 * Probabilistic Matrix Factorization using Markov Chain Monte Carlo", ICML
 * 2008, with the biases as one more coordinate): r_ui ~ N(mu + b_u + b_i +
 * x_u.y_i, 1/alpha); each side's rows (x_u, b_u) ~ N(m, Lambda^-1) with a
 * Normal-Wishart hyperprior on (m, Lambda).  A Gibbs sweep draws the user
 * side's (m, Lambda) with rs_als_sample_prior, every user row with
 * rs_als_explicit_sample, then the same for the items; the model kept is
 * the average of the factors and biases over the sweeps after a burn-in
 * (a plain biased MF, served like the ALS one).  On ml-latest-small (cv5)
 * k = 8, alpha = 2, 10 burn-in + 90 averaged sweeps reach RMSE 0.836 in
 * under a second per fold, against 0.846 for the best-tuned explicit ALS
 * (plain lambda) and 0.862 for the weighted-lambda ALS defaults: see
 * test/bench/explicit_lab.c.  The recipe, as the lab's `bayes` method:
 *
 *	mu = mean rating; X, Y = seeded N(0, 0.1^2) (rs_init_normal), biases 0
 *	for s in 0 .. burn + samples - 1:
 *		rs_als_sample_prior(X, xbias, n_users, k, seed_s_1, m_u, L_u, ws2, stop..)
 *		rs_als_explicit_sample(R, Y, ybias, mu, X, xbias, k, alpha, L_u,
 *							   m_u, seed_s_2, chunk..., nthreads, ws)
 *		rs_als_sample_prior(Y, ybias, n_items, k, seed_s_3, m_i, L_i, ws2, stop..)
 *		rs_als_explicit_sample(Rt, X, xbias, mu, Y, ybias, k, alpha, L_i,
 *							   m_i, seed_s_4, chunk..., nthreads, ws)
 *		if s >= burn: add X, Y, xbias, ybias / samples to the averages
 *
 * with four different seeds per sweep (e.g. seed + 4 s + 0 .. 3), since
 * each call's draws are a pure function of its seed and the row index.
 *
 * The functions follow als.h's calling conventions and return its
 * RS_ALS_* statuses; als.h includes this header, so callers of either
 * see both.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_GIBBS_H
#define RECSYS_KERNEL_GIBBS_H

#include "als.h"

/*
 * Hyperprior of rs_als_sample_prior: Normal-Wishart with mean 0, scale
 * beta0 = RS_ALS_PRIOR_BETA0, W0 = I and nu0 = d degrees of freedom (the
 * BPMF paper's choice).
 */
#define RS_ALS_PRIOR_BETA0		2.0

/* Doubles of scratch rs_als_sample_prior needs for this k (0 if k is bad). */
extern size_t rs_als_prior_workspace_doubles(int k);

/*
 * Draw (prior_mean, prior_precision) of the rows of X (n x k) and xbias
 * (n; NULL for no bias) from their Normal-Wishart posterior given the
 * rows: d = k + 1 (k without xbias), prior_mean has d entries and
 * prior_precision d x d (full symmetric, row-major).  O(n d^2 + d^3), one
 * thread; workspace holds rs_als_prior_workspace_doubles(k) doubles.  The
 * draws are a pure function of (X, xbias, seed).  Returns RS_ALS_OK or a
 * negative status (RS_ALS_STOPPED when stop asked; see stop.h).
 */
extern int	rs_als_sample_prior(const float *X, const float *xbias, int64_t n,
								int k, uint64_t seed, double *prior_mean,
								double *prior_precision, double *workspace,
								RsStopFn stop, void *stop_arg);

/*
 * One Gibbs draw of rows [row_begin, row_end) of X and xbias given Y,
 * ybias and mu (ybias may be NULL; xbias NULL fits no bias, then the
 * prior is k-dimensional): each row (x_u, b_u) is drawn from
 *		N(P^-1 (Lambda m + alpha sum_i t_i v_i), P^-1),
 *		P = Lambda + alpha sum_i v_i v_i^T,  v_i = (y_i, 1),
 *		t_i = r_ui - mu - b_i
 * with Lambda = prior_precision, m = prior_mean (from rs_als_sample_prior)
 * and alpha the noise precision (> 0).  A row with no entries is drawn
 * from the prior.  The normal draws of row u are a pure function of
 * (seed, u), so results are bit-identical whatever nthreads and chunking,
 * as for the other update functions (same workspace, same conventions).
 */
extern int	rs_als_explicit_sample(const RsCsr *R, const float *Y,
								   const float *ybias, float mu,
								   float *X, float *xbias, int k,
								   float alpha,
								   const double *prior_precision,
								   const double *prior_mean, uint64_t seed,
								   int32_t row_begin, int32_t row_end,
								   int nthreads, float *workspace);

#endif							/* RECSYS_KERNEL_GIBBS_H */
