/*
 * neighbor_scores.h
 *		Scoring with stored neighbour lists (item-kNN and EASE serving).
 *
 * Pure C: no PostgreSQL calls, safe on several threads.
 */
#ifndef RECSYS_KERNEL_NEIGHBOR_SCORES_H
#define RECSYS_KERNEL_NEIGHBOR_SCORES_H

#include <stdint.h>

#include "sparse.h"

/*
 * scores[j] = sum over n of inputs[n] * nb[rows[n], j], for every column j
 * of the neighbour lists nb (CSR: row i lists i's neighbours j and their
 * weights); scores has nb->n_cols entries, and those no listed row reaches
 * are set to NaN (unscored, which top-k skips), the others start from 0.
 * Returns 0, or -1 (scores untouched) for a row outside [0, nb->n_rows).
 * O(n_cols + entries of the listed rows).
 */
extern int	rs_neighbor_scores(const RsCsr *nb, const int32_t *rows, const float *inputs,
							   int64_t n, float *scores);

/*
 * User-kNN, in two steps.  rs_user_neighbor_begin sets every one of the
 * n_items scores to NaN (unscored) and returns the sum of |sims| over the
 * user's n neighbours, which divides every share; rs_user_neighbor_add
 * then adds one neighbour's rows: scores[i] += sim * weights[r] / total
 * for i = items[r] (through map when map is not NULL: i = map[items[r]]),
 * rows whose item is negative skipped, an unscored item starting from 0.
 * total is taken as at least 1e-12.
 */
extern double rs_user_neighbor_begin(const float *sims, int64_t n, float *scores,
									 int32_t n_items);
extern void rs_user_neighbor_add(float *scores, const int32_t *items, const int32_t *map,
								 const float *weights, int64_t n, float sim, double total);

#endif							/* RECSYS_KERNEL_NEIGHBOR_SCORES_H */
