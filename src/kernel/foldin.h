/*-------------------------------------------------------------------------
 *
 * foldin.h
 *		The exact implicit ALS solve of one user from the user's entries,
 *		for folding a user into a trained model at query time.
 *
 * Training updates a row by a few conjugate-gradient steps warm-started
 * from the row's previous value (als.h); a user folded in at query time
 * has no previous value, so the system is solved exactly instead:
 *		(YtY + reg I + sum_j alpha |w_j| y_j y_j^T) x = sum_{w_j > 0} (1 + alpha w_j) y_j
 * the sum over the user's n distinct items j.  The rank-n term is one
 * cblas_ssyrk per tile of gathered rows (sqrt(alpha |w_j|) y_j), so a
 * user with hundreds of items costs microseconds, then a k x k Cholesky
 * factorisation.  (Explicit models fold in with rs_als_explicit_update,
 * which already solves each row exactly.)
 *
 * Use: rs_fold_in_implicit_begin, rs_fold_in_implicit_add for the entries
 * (in one call or several), rs_fold_in_implicit_solve.  Plain C, no
 * PostgreSQL calls; the caller allocates everything.
 * Thread-safe when OpenBLAS runs single-threaded, as in a backend.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_FOLDIN_H
#define RECSYS_KERNEL_FOLDIN_H

#include <stddef.h>
#include <stdint.h>

/* Floats of the tile scratch rs_fold_in_implicit_add needs for k factors. */
extern size_t rs_fold_in_tile_floats(int k);

/*
 * Start the system: A = YtY + reg I (k x k; YtY full) and b = 0.
 */
extern void rs_fold_in_implicit_begin(const float *YtY, int k, float reg, float *A, float *b);

/*
 * Add n of the user's entries: Y is n_items x k, idx[0 .. n) item indexes
 * (each item once over all calls) and w their weights.  The caller may
 * split the entries over several calls (to check for interrupts between
 * them); the result depends on how only by rounding.  Only A's upper triangle
 * (row-major) is updated.  tile holds rs_fold_in_tile_floats(k) floats.
 */
extern void rs_fold_in_implicit_add(const float *Y, const int32_t *idx, const float *w,
									int64_t n, int k, float alpha, float *A, float *b,
									float *tile);

/*
 * Solve A x = b in place (A is overwritten, b becomes x).  Returns
 * RS_ALS_OK or RS_ALS_ERR_NOT_PD when the system is not positive definite
 * (reg = 0 with too few items, or NaN/Inf).
 */
extern int	rs_fold_in_implicit_solve(float *A, float *b, int k);

#endif							/* RECSYS_KERNEL_FOLDIN_H */
