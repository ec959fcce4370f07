/*-------------------------------------------------------------------------
 *
 * mmr.h
 *		Diversity: re-ranking by maximal marginal relevance (recommend's
 *		diversity argument) and the intra-list distance evaluate reports
 *		as ild@k.
 *
 * Pure C: no PostgreSQL calls, safe on several threads.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_MMR_H
#define RECSYS_KERNEL_MMR_H

#include <stdint.h>

#include "sparse.h"

/*
 * rs_mmr_rerank picks k of the n candidates of a pool greedily, each time
 * the one maximising
 *		(1 - lambda) rel(c) - lambda max_{p picked} sim(c, p)
 * (Carbonell and Goldstein 1998), and writes their positions in the pool
 * to order[0 .. min(k, n)), in the order picked; returns how many.
 * relevance[] holds the n candidates' scores; the finite ones are scaled
 * to [0, 1] within the pool (min-max; all 1 when they are equal), so
 * lambda weighs the same whatever the model's scale.  +Inf ranks before
 * every finite score, -Inf and NaN after (MMR orders each group).  sim is
 * the n x n row-major similarity matrix of the pool (NaN read as 0).
 * Ties go to the earlier candidate, so the pool should come best first:
 * lambda 0 then returns the pool's own order.  scratch holds 2 n floats.
 */
extern int	rs_mmr_rerank(const float *relevance, const float *sim, int n, int k,
						  double lambda, float *scratch, int32_t *order);

/*
 * rs_intra_list_distance returns the mean over the pairs of a list's n
 * items of 1 - cos(a, b), the cosine of the items' binary columns in the
 * interaction matrix given by columns (items x users, rows ascending):
 * |users(a) and users(b)| / sqrt(|users(a)| |users(b)|).  cols[] are the
 * items' rows in columns, -1 for an item it lacks (distance 1 to every
 * other).  mark holds columns->n_cols bytes, zero on entry and on return.
 * Returns -1 for fewer than two items.  Costs about n / 2 times the
 * summed column lengths of the list.
 */
extern double rs_intra_list_distance(const RsCsr *columns, const int32_t *cols, int n,
									 uint8_t *mark);

#endif							/* RECSYS_KERNEL_MMR_H */
