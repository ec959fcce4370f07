/*
 * factor_scores.h
 *		Serving arithmetic of latent factor models: item-item cosines
 *		(similar_items, diversity), dot products and a user's system (explain).
 *
 * Pure C: no PostgreSQL calls, safe on several threads.
 */
#ifndef RECSYS_KERNEL_FACTOR_SCORES_H
#define RECSYS_KERNEL_FACTOR_SCORES_H

#include <stdint.h>

/* norms[i] = |Y[i, :]| for the n x k row-major Y, summed in double. */
extern void rs_row_norms(const float *Y, int64_t n, int k, float *norms);

/*
 * Turn dot products with item i into cosines, in place:
 * scores[j] /= norms[i] * norms[j], 0 where either norm is 0.
 */
extern void rs_cosine_from_dots(float *scores, const float *norms, int64_t i, int64_t n);

/*
 * out[a * n + b] = cos(Y[idx[a], :], Y[idx[b], :]) for a, b < n: the n x n
 * symmetric cosine matrix of n items (1 on the diagonal, 0 where a norm
 * is 0), given the rows' norms (recommend's diversity).
 */
extern void rs_cosine_among(const float *Y, const float *norms, const int32_t *idx, int n,
							int k, float *out);

/* a . b over k floats, summed in float (as the scores of score() are). */
extern float rs_dot(const float *a, const float *b, int k);

/*
 * A += c[m] Y[idx[m], :]^T Y[idx[m], :] for m < n: the k x k row-major
 * system of a user's items weighted by c (explain's decomposition).
 */
extern void rs_add_weighted_outer(const float *Y, const int32_t *idx, const float *c,
								  int64_t n, int k, float *A);

#endif							/* RECSYS_KERNEL_FACTOR_SCORES_H */
