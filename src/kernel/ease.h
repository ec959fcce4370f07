/*-------------------------------------------------------------------------
 *
 * ease.h
 *		EASE (Steck, WWW 2019): the closed-form item-item model.
 *
 * Plain C over OpenBLAS's LAPACK.  The caller allocates the dense
 * n_items x n_items matrix (row-major floats) and the outputs; sizes are
 * the caller's to check against its memory budget.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_EASE_H
#define RECSYS_KERNEL_EASE_H

#include <stdint.h>

#include "sparse.h"
#include "stop.h"

/*
 * G = X^T D X + Lambda + a F^T F for the users x items matrix R (CSR),
 * full and symmetric, n_cols x n_cols, with D = diag(user_weight) (NULL:
 * every user weighs 1) and Lambda = diag(lambda + p / (1 - p) (X^T D X)_ii)
 * for dropout p in [0, 1) (p = 0: EASE's lambda I).  binary: every stored
 * entry counts 1.  features (NULL: none) is the features x items matrix F
 * as rs_ease_feature_weights leaves it, and a = feature_weight times the
 * mean diagonal of X^T D X, so that feature_weight means the same on data
 * of any size.  O(sum over users of their item count squared, plus the
 * same over features), which heavy users make long: stop (NULL: never) is
 * asked as stop.h says.  Returns 0, or RS_EASE_STOPPED (G unusable).
 */
extern int	rs_ease_gram(const RsCsr *R, int binary, const float *user_weight,
						 const RsCsr *features, float feature_weight,
						 float lambda, float dropout, float *G,
						 RsStopFn stop, void *stop_arg);

/*
 * rs_ease_gram in two steps, so that a caller can change the counts in
 * between (differential privacy adds its noise there, src/kernel/dp.h):
 * rs_ease_gram_counts writes the upper triangle (i <= j) of X^T D X into
 * G and zeroes the rest; rs_ease_gram_finish adds Lambda and the features
 * term to it and mirrors it into the full symmetric matrix.  Both ask
 * stop as rs_ease_gram does and return 0 or RS_EASE_STOPPED.
 */
extern int	rs_ease_gram_counts(const RsCsr *R, int binary, const float *user_weight,
								float *G, RsStopFn stop, void *stop_arg);
extern int	rs_ease_gram_finish(float *G, int32_t n_items, const RsCsr *features,
								float feature_weight, float lambda, float dropout,
								RsStopFn stop, void *stop_arg);

/*
 * Weight the features x items 0/1 matrix F in place: feature f of an item
 * gets idf_f = ln(n_items / df_f), df_f being the number of items with f
 * (0 when df_f < 2), and each item's column is then scaled to unit length
 * (items without features or with only zero weights stay 0).  item_norm:
 * n_cols floats of scratch.
 */
extern void rs_ease_feature_weights(RsCsr *F, float *item_norm);

/*
 * The user weights of the normalised Gram matrix: user u weighs
 * n_u^-exponent (n_u = the user's stored entries), scaled so that the
 * weights summed over all entries equal the entry count, which keeps
 * lambda on the scale of the unweighted model.  Users without entries
 * weigh 0.
 */
extern void rs_ease_user_weights(const RsCsr *R, double exponent, float *user_weight);

/* Columns per block of rs_ease_invert: the granularity of stopping it. */
#define RS_EASE_BLOCK 512

/* rs_ease_invert's results when stop() asked it to stop, or LAPACK refused a call */
#define RS_EASE_STOPPED (-1)
#define RS_EASE_BAD_CALL (-2)

/*
 * Replace the symmetric positive definite G (n x n) by its inverse P,
 * through Cholesky (spotrf, strtri, slauum, done block by block).
 * Returns 0; a positive column number when G is not positive definite;
 * RS_EASE_STOPPED when stop (if not NULL) returned nonzero after a block,
 * leaving G half-done; RS_EASE_BAD_CALL if LAPACK refused an argument
 * (a bug).  Uses as many threads as OpenBLAS is set
 * to.
 */
extern int	rs_ease_invert(float *G, int32_t n, RsStopFn stop, void *stop_arg);

/*
 * For rows i in [row_begin, row_end) of B = I - P diagMat(1 / diag(P)),
 * with each column j multiplied by column_scale[j] (NULL: 1), the k
 * largest weights B_ij (j != i), best first (ties to the smaller index):
 * nbr/weight hold (row_end - row_begin) x k slots, count the number filled
 * (k, or n - 1 when smaller); unused slots get -1 and 0.  With
 * min_magnitude > 0, only non-zero weights of at least that magnitude are
 * candidates (compact EASE), so count may be smaller; 0 keeps every weight
 * (the exact model).  NaN weights are never kept.
 */
extern void rs_ease_neighbors(const float *P, int32_t n, int32_t row_begin,
							  int32_t row_end, const float *column_scale, float min_magnitude,
							  int k, int32_t *nbr, float *weight, int32_t *count);

/*
 * Sets *floor to the magnitude above which about keep of B's off-diagonal
 * weights lie (to within 0.4%: the largest bin edge that keeps at least
 * keep, so weights equal to within that are kept together), the smallest
 * positive float (every non-zero weight) when no more than keep are
 * non-zero or memory runs out.  It reads all n^2 weights, so it asks stop
 * (if not NULL) between rows as stop.h says.  Returns 0, or
 * RS_EASE_STOPPED (*floor unusable).
 */
extern int	rs_ease_magnitude_floor(const float *P, int32_t n, const float *column_scale,
									int64_t keep, float *floor, RsStopFn stop, void *stop_arg);

/*
 * For rows i in [row_begin, row_end) of the dense n x n matrix S, the k
 * largest positive entries S_ij (j != i), best first (ties to the smaller
 * index), laid out as rs_ease_neighbors writes them; zero, negative and
 * NaN entries never qualify, so count may be below k.
 */
extern void rs_dense_top_k(const float *S, int32_t n, int32_t row_begin, int32_t row_end,
						   int k, int32_t *nbr, float *weight, int32_t *count);

#endif							/* RECSYS_KERNEL_EASE_H */
