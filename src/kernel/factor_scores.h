/*
 * factor_scores.h
 *		Item-item similarity of latent factor models (similar_items).
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

#endif							/* RECSYS_KERNEL_FACTOR_SCORES_H */
