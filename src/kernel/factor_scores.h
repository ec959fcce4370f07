/*
 * factor_scores.h
 *		Serving arithmetic of latent factor models: item-item cosines
 *		(similar_items, diversity), dot products and a user's system (explain).
 *
 * Pure C: no PostgreSQL calls, safe on several threads.
 */
#ifndef RECSYS_KERNEL_FACTOR_SCORES_H
#define RECSYS_KERNEL_FACTOR_SCORES_H

#include <stddef.h>
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


/* ----------------------------------------------------------------------
 * Compressed item vectors (int8) with exact re-scoring
 * ----------------------------------------------------------------------
 *
 * An int8 copy of the n x k item factors, one scale per item (its largest
 * |y_i[d]| / 127), laid out in blocks of RS_Q8_BLOCK items with the
 * dimensions in pairs (codes[block][pair][item][2]), so that one 16-byte
 * load feeds eight items' multiply-adds.  It is one flat allocation with
 * no pointers inside (it can be copied or placed in shared memory as is):
 * a header, then per item its scale, the norm of its rounding error
 * |y_i - q_i| and the norm of its rounded vector |q_i| (both rounded up),
 * then the codes.
 *
 * rs_q8_score_topk ranks exactly what rs_score_topk ranks: the user
 * vector is rounded to int16, every item gets an approximate score and a
 * guaranteed error bound (Cauchy-Schwarz on both rounding errors plus the
 * float rounding of the exact dot product), and every item whose upper
 * bound reaches the k-th best lower bound is re-scored exactly in fp32.
 * An item left out has k items certainly better than it, so the top k is
 * the exact one; only the scores' last bits may differ from
 * rs_score_topk's (a dot product summed in a fixed order, not sgemv's).
 */
#define RS_Q8_BLOCK 8

typedef struct RsQ8Header
{
	int64_t		n;				/* items */
	int32_t		k;				/* factors */
	int32_t		pairs;			/* (k + 1) / 2 */
	int64_t		blocks;			/* ceil(n / RS_Q8_BLOCK) */
} RsQ8Header;

/* Bytes of the compressed copy of n x k factors. */
extern size_t rs_q8_bytes(int64_t n, int k);

/* Set up the header of a copy of rs_q8_bytes(n, k) bytes (zeroed codes). */
extern void rs_q8_init(void *q8, int64_t n, int k);

/* Compress rows [begin, end) of the n x k row-major Y into q8. */
extern void rs_q8_build(void *q8, const float *Y, int64_t begin, int64_t end);

/* Bytes of the scratch rs_q8_score_topk needs for top_n and k factors. */
extern size_t rs_q8_scratch_bytes(int k, int top_n);

/*
 * The top_n best of Y x (+ ybias), as rs_score_topk (same order, same
 * return value; exclude as there), scanning the compressed copy first.
 * scratch holds rs_q8_scratch_bytes(k, top_n) bytes, block_scores
 * RS_SCORE_BLOCK floats (for the fallback).  Falls back to rs_score_topk
 * when x is not finite or the bounds would keep too many candidates
 * (*candidates, if not NULL, is then -1, else the number re-scored).
 */
extern int	rs_q8_score_topk(const void *q8, const float *Y, const float *ybias,
							 const float *x, const uint8_t *exclude, int top_n,
							 void *scratch, float *block_scores, int32_t *out_idx,
							 float *out_score, int64_t *candidates);

/*
 * The same scan over a copy compressed in list order (an IVF index,
 * src/kernel/ivf.h): q8 holds the items at positions, item[p] the item at
 * position p (-1: padding, skipped), list l the positions
 * [list_begin[l], list_begin[l + 1]) (each a multiple of RS_Q8_BLOCK).
 * The lists probe[0..n_probe) are scanned in that order: the first
 * min_probes, then further ones only while fewer than top_n items have
 * passed exclude (indexed by item), so a filter that removes the nearest
 * lists' items still yields top_n rows when probe names enough.  The
 * candidates are re-scored exactly in Y (by item); out_idx holds items.
 * Returns how many were found (*probed: lists scanned), or -1 when x is
 * not finite or the bounds kept too many candidates: then score exactly.
 */
extern int	rs_q8_score_lists(const void *q8, const int32_t *item, const int64_t *list_begin,
							  const int32_t *probe, int n_probe, int min_probes, const float *Y,
							  const float *ybias, const float *x, const uint8_t *exclude,
							  int top_n, void *scratch, int32_t *out_idx, float *out_score,
							  int *probed);

/*
 * Compress the rows rows[begin..end) of the n x k row-major Y into
 * positions begin..end of q8 (a row of -1 gives zeros: padding).
 */
extern void rs_q8_build_rows(void *q8, const float *Y, const int32_t *rows, int64_t begin,
							 int64_t end);

#endif							/* RECSYS_KERNEL_FACTOR_SCORES_H */
