/*-------------------------------------------------------------------------
 *
 * foldin.h
 *		The exact ALS solve of one user from the user's entries, for folding
 *		a user into a trained model at query time.
 *
 * Training updates a row of an implicit model by a few conjugate-gradient
 * steps warm-started from the row's previous value (als.h); a user folded
 * in at query time has no previous value, so the system is solved exactly:
 *	implicit: (YtY + reg I + sum_j alpha |w_j| y_j y_j^T) x = sum_{w_j > 0} (1 + alpha w_j) y_j
 *	explicit: (sum_j v_j v_j^T + reg n I) z = sum_j (r_j - mu - b_j) v_j,
 *			  v_j = (y_j, 1), z = (x, b_u)
 * the sums over the user's n distinct items j.  The explicit system is the
 * one rs_als_explicit_update solves for a row (weighted regularisation,
 * the bias regularised alike).  The rank-n term is one cblas_ssyrk per
 * tile of gathered rows (sqrt(alpha |w_j|) y_j, or v_j), so a user with
 * hundreds of items costs microseconds; then a Cholesky factorisation.
 *
 * Use: rs_fold_in_*_begin, rs_fold_in_*_add for the entries (in one call
 * or several, so that the caller can check for interrupts between them),
 * then rs_fold_in_solve (explicit: after adding reg n to the diagonal).
 * Plain C, no PostgreSQL calls; the caller allocates everything.
 * Thread-safe when OpenBLAS runs single-threaded, as in a backend.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_FOLDIN_H
#define RECSYS_KERNEL_FOLDIN_H

#include <stddef.h>
#include <stdint.h>

/* Floats of the tile scratch the add functions need for k factors. */
extern size_t rs_fold_in_tile_floats(int k);

/* Implicit: A = YtY + reg I (k x k; YtY full) and b = 0. */
extern void rs_fold_in_implicit_begin(const float *YtY, int k, float reg, float *A, float *b);

/*
 * Implicit: add n of the user's entries.  Y is n_items x k, idx[0 .. n)
 * item indexes (each item once over all calls) and w their weights.  Only
 * A's upper triangle (row-major) is updated; splitting the entries over
 * calls changes the result only by rounding.
 */
extern void rs_fold_in_implicit_add(const float *Y, const int32_t *idx, const float *w,
									int64_t n, int k, float alpha, float *A, float *b,
									float *tile);

/* Explicit: A = 0 ((k + 1) x (k + 1)) and b = 0 (k + 1). */
extern void rs_fold_in_explicit_begin(int k, float *A, float *b);

/*
 * Explicit: add n of the user's ratings r of items idx (each item once
 * over all calls); ybias may be NULL (zero), mu is the global mean.  Only
 * A's upper triangle is updated.
 */
extern void rs_fold_in_explicit_add(const float *Y, const float *ybias, float mu,
									const int32_t *idx, const float *r, int64_t n, int k,
									float *A, float *b, float *tile);

/*
 * Solve A x = b for the n x n system built above (n = k implicit, k + 1
 * explicit: x then ends with the bias), in place: A is overwritten, b
 * becomes x.  Returns RS_ALS_OK or RS_ALS_ERR_NOT_PD when the system is
 * not positive definite (no regularisation with too few items, NaN/Inf).
 */
extern int	rs_fold_in_solve(float *A, float *b, int n);

#endif							/* RECSYS_KERNEL_FOLDIN_H */
