/*-------------------------------------------------------------------------
 *
 * als.h
 *		Alternating least squares kernels: implicit feedback (conjugate
 *		gradient) and explicit biased matrix factorisation (Cholesky).
 *
 * One half-iteration of ALS fixes one side's factors Y (n_cols x k,
 * row-major) and re-solves the other side's factors X (n_rows x k) row by
 * row from the interaction matrix R (CSR, n_rows x n_cols).  The same
 * functions update the other side when given the transpose of R (CSC of
 * the original) with X and Y swapped.
 *
 * Implicit feedback (Hu, Koren and Volinsky, "Collaborative Filtering for
 * Implicit Feedback Datasets", ICDM 2008): every (u, i) pair has preference
 * p_ui and confidence c_ui; for a stored value r_ui, c_ui = 1 + alpha |r_ui|
 * and p_ui = 1 if r_ui > 0 else 0 (a negative value is negative feedback,
 * as in the `implicit` library; a stored zero is the same as a missing
 * entry); unstored pairs have c = 1, p = 0.  The objective is
 *		sum_{u,i} c_ui (p_ui - x_u.y_i)^2 + reg (|X|^2 + |Y|^2)
 * and a row update approximately solves
 *		(YtY + reg I + sum_i (c_ui - 1) y_i y_i^T) x_u = sum_i c_ui p_ui y_i
 * with cg_steps conjugate-gradient iterations warm-started from the current
 * x_u (Takacs, Pilaszy and Tikk, "Applications of the conjugate gradient
 * method for implicit feedback collaborative filtering", RecSys 2011).
 *
 * Explicit feedback: prediction mu + b_u + b_i + x_u.y_i, squared error over
 * the stored entries plus reg |x_u|^2 + reg_bias b_u^2 (optionally both
 * multiplied by the row's count, the "weighted-lambda" regularisation of
 * Zhou et al., "Large-scale Parallel Collaborative Filtering for the
 * Netflix Prize", AAIM 2008).  Each row is an exact (k+1) x (k+1) solve.
 *
 * Bayesian explicit feedback (a Gibbs sampler, rs_als_explicit_sample and
 * rs_als_sample_prior) is declared in gibbs.h, which this header includes.
 *
 * Calling conventions for every update function:
 *	- the caller allocates everything, including a scratch workspace of
 *	  rs_als_workspace_floats(k, n) floats (any alignment) for some
 *	  n >= nthreads; nothing is allocated inside, nothing is kept between
 *	  calls;
 *	- rows [row_begin, row_end) are updated, so the caller can chunk the
 *	  work and check for interrupts between calls;
 *	- nthreads POSIX threads share the rows (nthreads = 1 creates none);
 *	  the calling thread works too, the others are created with every
 *	  signal blocked, and all are joined before the call returns;
 *	- each row's result depends only on its inputs, so results are
 *	  bit-identical whatever nthreads and whatever the chunking (on one
 *	  machine: the instruction set used, AVX-512, AVX2+FMA or baseline, is
 *	  chosen from the CPU and changes the last bits);
 *	- no BLAS call is made from the worker threads;
 *	- R's column indexes must be < R->n_cols (they are not checked), and X
 *	  must not overlap Y.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_ALS_H
#define RECSYS_KERNEL_ALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparse.h"
#include "stop.h"

/* Status codes returned by the update functions (0 is success). */
#define RS_ALS_OK				0
#define RS_ALS_ERR_ARGUMENT		(-1)	/* bad size, range or null pointer */
#define RS_ALS_ERR_THREAD		(-2)	/* pthread_create failed */
#define RS_ALS_ERR_NOT_PD		(-3)	/* a row system is not positive
										 * definite (reg = 0, or NaN/Inf) */
#define RS_ALS_STOPPED			(-4)	/* the stop callback asked to stop
										 * (see stop.h); outputs unusable */

/* Largest supported number of factors (bounds a few stack arrays). */
#define RS_ALS_MAX_K			1024

/*
 * The settings train_cf accepts, which serving and refresh_items check
 * again in a model's (hand-editable) params: regularization and alpha in
 * [0, RS_ALS_MAX_REG] (regularization above 0 for explicit feedback),
 * regularization_exponent in [0, RS_ALS_MAX_REG_EXPONENT].
 */
#define RS_ALS_MAX_REG			1e6
#define RS_ALS_MAX_ALPHA		1e6
#define RS_ALS_MAX_REG_EXPONENT	2

/*
 * Largest |value| of an item feature (train_cf's features): a feature's
 * confidence alpha * feature_weight * |value| (each factor up to 1e6) is
 * then at most 1e20 and its sums over x x^T stay far inside float range;
 * near FLT_MAX, alpha * value overflowed to infinity (review R8).
 */
#define RS_ALS_MAX_FEATURE_VALUE	1e8

/*
 * Largest feature confidence train_cf accepts: alpha * max(feature_weight,
 * 1) * (the largest |value| of the features), rs_als_feature_confidence.
 * The items' rows weigh a feature's observation alpha * feature_weight *
 * |value| and the feature's own row alpha * |value|; far above the
 * implicit zeros' weight 1 and the regularisation, the single-precision
 * conjugate-gradient step loses positive definiteness in rounding and the
 * fit failed with "not positive definite" (22000) after minutes of
 * training.  Measured (session 12, a 300 x 120 set with two feature
 * groups, k 8 to 64, regularization_exponent 0 to 1): every product up to
 * 1e10 trained (198 combinations), failures from 1e11; the limit depends
 * on the data, so the bound keeps a decade's margin.  Such confidences
 * mean "fit the features exactly", which a weight of 1e3-1e6 already does.
 */
#define RS_ALS_MAX_FEATURE_CONFIDENCE	1e9

/* Most threads one update call uses (more are clamped to this). */
#define RS_ALS_MAX_THREADS		64

/* Default number of conjugate-gradient steps per row (as `implicit`). */
#define RS_ALS_DEFAULT_CG_STEPS	3

/* A static English message for a status code. */
extern const char *rs_als_strerror(int status);

/*
 * The largest confidence item features reach, in double:
 * alpha * max(weight, 1) * max_j |values[j]| (0 when n = 0); compared with
 * RS_ALS_MAX_FEATURE_CONFIDENCE.  NaN values are the caller's to refuse.
 */
extern double rs_als_feature_confidence(float alpha, float weight,
										const float *values, int64_t n);

/*
 * Fill X (n x k) with values uniform in [0, scale), a pure function of
 * (seed, element index).  scale = 0.01 is what the `implicit` library uses
 * for implicit ALS; explicit ALS also works well with it.
 */
extern void rs_init_factors(float *X, int64_t n, int k, uint64_t seed,
							float scale);

/*
 * The same for rows [row_begin, row_end) of X only (X is the whole
 * matrix): the values do not depend on the chunking, so the caller can
 * check for interrupts between chunks.
 */
extern void rs_init_factors_rows(float *X, int64_t row_begin, int64_t row_end,
								 int k, uint64_t seed, float scale);

/*
 * Rows [row_begin, row_end) of X as rs_init_factors_rows (normal false) or
 * rs_init_normal_rows (normal true) fill them, on nthreads threads.
 * RS_ALS_OK, or RS_ALS_ERR_THREAD if a thread could not be created (the
 * rows are filled all the same).
 */
extern int	rs_init_factors_threads(float *X, int32_t row_begin, int32_t row_end,
									int k, uint64_t seed, float scale, bool normal,
									int nthreads);

/* Multiply-adds per block of rs_gram, and the fewest rows in a block. */
#define RS_GRAM_BLOCK_WORK		((int64_t) 1 << 28)
#define RS_GRAM_MIN_BLOCK_ROWS	256

/*
 * G = Y^T Y (k x k, full symmetric, row-major) for Y of n x k, through
 * cblas_ssyrk; call it from one thread with OpenBLAS pinned to one thread
 * (openblas_set_num_threads(1)) for results independent of the machine load.
 * O(n k^2): at k = 1,024 and 200,000 rows seconds, so it goes by blocks of
 * rows and asks stop (NULL: never stop; see stop.h) after each.  Returns
 * RS_ALS_OK, RS_ALS_STOPPED or RS_ALS_ERR_ARGUMENT.
 */
extern int	rs_gram(const float *Y, int64_t n, int k, float *G,
					RsStopFn stop, void *stop_arg);

/*
 * G = Y[0, first)^T Y[0, first) + weight Y[first, n)^T Y[first, n): the
 * Gramian of a side whose rows [first, n) have their whole loss weighted
 * (rs_als_implicit_update_weighted).  The first rows go through exactly as
 * rs_gram's, so first = n, or weight 0, gives rs_gram's bits.  weight must
 * be finite and >= 0; statuses as rs_gram.
 */
extern int	rs_gram_weighted(const float *Y, int64_t n, int64_t first, float weight,
							 int k, float *G, RsStopFn stop, void *stop_arg);

/* Scratch floats needed by either update function with these settings. */
extern size_t rs_als_workspace_floats(int k, int nthreads);

/*
 * One implicit ALS update of rows [row_begin, row_end) of X (R->n_rows x k)
 * given Y (R->n_cols x k) and YtY = rs_gram(Y).  Rows with no stored
 * entries become zero.  Returns RS_ALS_OK or a negative status.
 */
extern int	rs_als_implicit_update(const RsCsr *R, const float *Y,
								   const float *YtY, float *X, int k,
								   float reg, float alpha, int cg_steps,
								   int32_t row_begin, int32_t row_end,
								   int nthreads, float *workspace);

/*
 * The same, with each row's reg multiplied by (sum over all n_cols pairs
 * of c)^reg_exponent = (n_cols + alpha sum_i |r_i|)^reg_exponent: the
 * frequency-scaled regularisation of Rendle et al., "Revisiting the
 * Performance of iALS on Item Recommendation Benchmarks", RecSys 2022
 * (their lambda (|I_u| + alpha0 |I|)^nu, with alpha = 1 / alpha0).
 * reg_exponent 0 is rs_als_implicit_update.
 */
extern int	rs_als_implicit_update_scaled(const RsCsr *R, const float *Y,
										  const float *YtY, float *X, int k,
										  float reg, float reg_exponent,
										  float alpha, int cg_steps,
										  int32_t row_begin, int32_t row_end,
										  int nthreads, float *workspace);

/*
 * Weighted collective factorisation: the columns [first, n_cols) of R (an
 * item's features as pseudo-users beside its users) have their whole loss
 * multiplied by weight w,
 *		sum_{u < first} c_ui (p_ui - x_u.y_i)^2
 *		+ w sum_{f >= first} c_fi (p_fi - x_f.y_i)^2 + reg_i |y_i|^2,
 * so row i solves
 *		(YtY_w + reg_i I + sum_u (c_ui - 1) y_u y_u^T
 *		 + w sum_f (c_fi - 1) y_f y_f^T) x_i
 *			= sum_u c_ui p_ui y_u + w sum_f c_fi p_fi y_f
 * with YtY_w = rs_gram_weighted(Y, n_cols, first, w), and the frequency
 * scaling of reg_i counting only the unweighted columns:
 * (first + alpha sum_{u < first} |r_ui|)^reg_exponent.  With w = 0 the
 * rows are exactly (bit for bit) plain ALS on the first columns.  In each
 * row the weighted columns must come last (columns ascending, as
 * sparse.h's builders give them), else RS_ALS_ERR_ARGUMENT.
 */
typedef struct RsAlsColumnWeight
{
	int32_t		first;			/* columns >= first are weighted */
	float		weight;			/* their loss weight, finite, >= 0 */
} RsAlsColumnWeight;

/*
 * rs_als_implicit_update_scaled with R's columns weighted as cw says
 * (NULL: none, exactly rs_als_implicit_update_scaled).
 */
extern int	rs_als_implicit_update_weighted(const RsCsr *R, const float *Y,
											const float *YtY, float *X, int k,
											float reg, float reg_exponent,
											float alpha, int cg_steps,
											const RsAlsColumnWeight *cw,
											int32_t row_begin, int32_t row_end,
											int nthreads, float *workspace);

/*
 * One explicit biased ALS update of rows [row_begin, row_end) of X and
 * xbias given Y, ybias and the global mean mu.  ybias may be NULL (taken
 * as zero); xbias may be NULL to fit no bias for this side (a k x k solve).
 * weighted_reg multiplies reg and reg_bias by the row's number of entries.
 * Rows with no stored entries get zero factors and bias.
 */
extern int	rs_als_explicit_update(const RsCsr *R, const float *Y,
								   const float *ybias, float mu,
								   float *X, float *xbias, int k,
								   float reg, float reg_bias,
								   bool weighted_reg,
								   int32_t row_begin, int32_t row_end,
								   int nthreads, float *workspace);

/*
 * Fill X (n x k) with seeded N(0, std^2) values, a pure function of
 * (seed, element index); the Gibbs sampler's starting point.
 */
extern void rs_init_normal(float *X, int64_t n, int k, uint64_t seed,
						   float std);
extern void rs_init_normal_rows(float *X, int64_t row_begin, int64_t row_end,
								int k, uint64_t seed, float std);

/*
 * The full implicit objective sum_{u,i} c_ui (p_ui - x_u.y_i)^2
 * + reg (|X|^2 + |Y|^2) over all R->n_rows x R->n_cols pairs, in
 * O(nnz k + n_rows k^2) using YtY = rs_gram(Y), into *loss, the rows
 * spread over nthreads threads (the result is the same for any nthreads).
 * Not normalised.  Returns RS_ALS_OK, RS_ALS_STOPPED (stop: see stop.h),
 * RS_ALS_ERR_THREAD (a thread could not be created) or RS_ALS_ERR_ARGUMENT
 * (k out of range).
 */
extern int	rs_als_implicit_loss(const RsCsr *R, const float *X,
								 const float *Y, const float *YtY, int k,
								 float reg, float alpha, int nthreads,
								 RsStopFn stop, void *stop_arg, double *loss);

/*
 * Root mean squared error of mu + b_u + b_i + x_u.y_i over R's stored
 * entries, each prediction clipped to [clip_lo, clip_hi] (pass -INFINITY
 * and INFINITY for none), into *rmse.  xbias and ybias may be NULL.  0 if
 * R is empty.  Returns RS_ALS_OK or RS_ALS_STOPPED (stop: see stop.h).
 */
extern int	rs_rmse(const RsCsr *R, const float *X, const float *xbias,
					const float *Y, const float *ybias, float mu, int k,
					float clip_lo, float clip_hi,
					RsStopFn stop, void *stop_arg, double *rmse);

/* The Gibbs sampler shares this header's conventions and statuses. */
#include "gibbs.h"

#endif							/* RECSYS_KERNEL_ALS_H */
