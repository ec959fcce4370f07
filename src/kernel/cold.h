/*-------------------------------------------------------------------------
 *
 * cold.h
 *		Vectors for items without interactions, from their features
 *		(src/item_cold.c is the glue).
 *
 * Collective factorisation trains each categorical feature as a
 * pseudo-user of the items that have it, so an item's features are
 * observations like its users.  An item nobody has used yet is then one
 * implicit-ALS item half-step against those fixed vectors:
 *
 *   (G + sum_f w_f x_f x_f^T + reg I) y = sum_f (1 + w_f) x_f,  w_f = alpha v_f
 *
 * G the Gram matrix of every user and pseudo-user vector, as training's
 * item half-step uses it (Hu, Koren, Volinsky 2008); with frequency-scaled
 * regularisation, reg times the row's total confidence^reg_exponent, as
 * in rs_als_implicit_update_scaled.
 *
 * Dense features (embeddings) map to item vectors by ridge regression
 * fitted on the trained items (Gantner et al. 2010, attribute-to-factor
 * mapping): W = (Z^T Z + lambda I)^-1 Z^T Y, a cold item's vector z W.
 *
 * Plain C, no allocation: the caller passes the workspace.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_COLD_H
#define RECSYS_KERNEL_COLD_H

#include <stddef.h>
#include <stdint.h>

#include "sparse.h"
#include "stop.h"

#define RS_COLD_OK 0
#define RS_COLD_NOT_PD 1		/* the system is not positive definite */
#define RS_COLD_STOPPED 2
#define RS_COLD_BAD_ARGUMENT 3

/*
 * One cold item's vector (out, k floats) from its n observations: rows
 * idx[] of X (pseudo-user vectors) with values v[].  gram: k x k;
 * n_cols: training's columns (users and pseudo-users), for the scaled
 * regularisation.  work: k * k floats.  n = 0 gives the zero vector.
 */
extern int	rs_cold_item_solve(const float *gram, const float *X, int k,
							   const int32_t *idx, const float *v, int n,
							   float alpha, float reg, float reg_exponent,
							   double n_cols, float *out, float *work);

/*
 * The same half-step for weighted collective factorisation (0.11.0,
 * rs_als_implicit_update_weighted): the features' whole loss times
 * weight W,
 *
 *   (G_W + W sum_f w_f x_f x_f^T + reg_i I) y = W sum_f (1 + w_f) x_f,
 *
 * G_W = rs_gram_weighted (users, then W times the pseudo-users), and
 * reg_i = reg n_users^reg_exponent: the frequency scaling counts the
 * users only (a cold item has none of its own), not the features.
 * Both forms retry a failed Cholesky with a small ridge (cold.c says why);
 * RS_COLD_NOT_PD only when that fails too.
 */
extern int	rs_cold_item_solve_weighted(const float *gram, const float *X, int k,
										const int32_t *idx, const float *v, int n,
										float alpha, float weight, float reg,
										float reg_exponent, double n_users,
										float *out, float *work);

/*
 * Ridge regression W (D x k) of Y (n x k) on Z (n x D), both row-major:
 * W = (Z^T Z + lambda I)^-1 Z^T Y.  work: D * (D + k) floats.  stop is asked
 * between rows.
 */
extern int	rs_ridge_fit(const float *Z, const float *Y, int64_t n, int D, int k,
						 float lambda, float *W, float *work,
						 RsStopFn stop, void *stop_arg);

/* out (k) = z (D) W (D x k) */
extern void rs_ridge_apply(const float *W, int D, int k, const float *z, float *out);

/*
 * Neighbour lists for cold items learned from the warm items' lists
 * (a CB2CF-style feature-to-similarity ridge, Gantner et al. 2010 applied
 * to item-item similarity rows, Steck's EASE with side information in
 * spirit): fit W (features x items) so that F W ~ S, the warm items'
 * similarity rows, with ridge lambda; a cold item with feature vector f
 * then has the similarity row
 *
 *   s = f W = a^T S,  a = F (F^T F + lambda I)^-1 f^T
 *
 * a weighs the warm items by how much their features explain f; with a
 * large lambda a is the feature cosine over lambda (the tf-idf lists).
 *
 * rs_cold_map_coefficients: a (F->n_rows) from f given as nf (feature,
 * value) pairs, by at most max_iter conjugate-gradient steps (the normal
 * matrix is never formed).  work: 4 * F->n_cols + F->n_rows floats.
 * rs_cold_map_spread: s (S->n_cols) = a^T S + self_weight a (the warm
 * item itself counts self_weight in its own row).
 */
extern int	rs_cold_map_coefficients(const RsCsr *F, const int32_t *fidx, const float *fval,
									 int nf, float lambda, int max_iter, float *a, float *work);
extern void rs_cold_map_spread(const RsCsr *S, const float *a, float self_weight, float *s);

/*
 * The same ridge's prediction of any other per-item quantity y (n warm
 * items, centred by the caller): a^T y.  The glue predicts the log
 * popularity a cold item's features promise (the feature popularity
 * prior).
 */
/*
 * s (F->n_rows) += weight * F f: the feature cosine of the cold item with
 * each fitted item (F's rows are unit tf-idf vectors), the tf-idf list's
 * own score.  work: F->n_cols floats.
 */
extern void rs_cold_map_add_content(const RsCsr *F, const int32_t *fidx, const float *fval,
									int nf, float weight, float *s, float *work);

extern double rs_cold_map_predict(const float *a, const float *y, int32_t n);

#endif							/* RECSYS_KERNEL_COLD_H */
