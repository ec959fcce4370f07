/*-------------------------------------------------------------------------
 *
 * score.h
 *		Serving helpers: score every item for one user vector and select
 *		the top k.
 *
 * Scores are y_i . x (+ b_i): the user's own bias and the global mean are
 * the same for every item and do not change the ranking.  Top-k selection
 * keeps a size-k min-heap (O(n log k)); ranking is by score descending,
 * ties broken by the smaller item index, so results are deterministic.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_SCORE_H
#define RECSYS_KERNEL_SCORE_H

#include <stdint.h>

/* Bytes of an exclusion bitmap over n items (bit i = byte i / 8, bit i % 8). */
#define RS_BITMAP_BYTES(n)	((size_t) (((n) + 7) / 8))

/* Mark item i in an exclusion bitmap. */
static inline void
rs_bitmap_set(uint8_t *bitmap, int64_t i)
{
	bitmap[i >> 3] |= (uint8_t) (1u << (i & 7));
}

/* Whether item i is marked in an exclusion bitmap. */
static inline int
rs_bitmap_test(const uint8_t *bitmap, int64_t i)
{
	return (bitmap[i >> 3] >> (i & 7)) & 1;
}

/*
 * scores[i] = Y[i, :] . x + (ybias ? ybias[i] : 0) for the n_items x k
 * row-major Y, through cblas_sgemv.
 */
extern void rs_score_items(const float *Y, const float *ybias,
						   int64_t n_items, int k, const float *x,
						   float *scores);

/*
 * The k best of n (<= INT32_MAX) scores, best first, into out_idx/out_score
 * (each room for k entries).  exclude is NULL or a bitmap of
 * RS_BITMAP_BYTES(n) bytes whose set bits are skipped; NaN scores are
 * skipped too.  Returns how many were written: min(k, n - skipped), 0 if
 * k <= 0.
 */
extern int	rs_topk(const float *scores, int64_t n, int k,
					const uint8_t *exclude, int32_t *out_idx,
					float *out_score);

/* Items scored per block by rs_score_topk (its block_scores size). */
#define RS_SCORE_BLOCK 4096

/*
 * rs_topk(rs_score_items(...)) without materialising the scores: the
 * top_n best of Y x (+ ybias) in one pass, blockwise.  block_scores holds
 * RS_SCORE_BLOCK floats.  Same order and return value as rs_topk.
 */
extern int	rs_score_topk(const float *Y, const float *ybias, int64_t n_items,
						  int k, const float *x, const uint8_t *exclude,
						  int top_n, float *block_scores, int32_t *out_idx,
						  float *out_score);

/*
 * Blending: out[i] += weight * (s_i - mean) / sd, where s_i is
 * member_scores[index[i]] (member_scores[i] when index is NULL), and 0 for
 * an item whose index is negative or whose score is NaN (an item the
 * member does not know or cannot reach); mean and sd (population) are
 * taken over all n items.  So members on different scales (ratings, dot
 * products, summed similarities) count as their weights say.  Returns 0
 * and adds nothing when the scores are constant, else 1.
 */
extern int	rs_add_standardized(const float *member_scores, const int32_t *index,
								int64_t n, float weight, float *out);

/*
 * The mean and standard deviation rs_add_standardized uses, into *mean
 * and *sd; returns 0 when the scores are constant (or n <= 0), else 1.
 */
extern int	rs_standardize_stats(const float *member_scores, const int32_t *index,
								 int64_t n, double *mean, double *sd);

#endif							/* RECSYS_KERNEL_SCORE_H */
