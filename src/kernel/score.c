/*-------------------------------------------------------------------------
 *
 * score.c
 *		Serving helpers: item scores for one user (cblas_sgemv) and top-k
 *		selection with the bounded min-heap of topk.h.  See score.h.
 *
 * The heap's root is the worst kept entry, so each of the n candidates
 * costs one comparison unless it beats the root (then O(log k)); the heap
 * is finally sorted in place, best first.
 *
 *-------------------------------------------------------------------------
 */
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include <cblas.h>

#include "score.h"
#include "topk.h"

/* Y x (+ ybias); sgemv sizes are int, so very tall Y goes in blocks. */
void
rs_score_items(const float *Y, const float *ybias, int64_t n_items, int k,
			   const float *x, float *scores)
{
	int64_t		done = 0;
	int64_t		i;

	while (done < n_items)
	{
		int64_t		rows = n_items - done < INT_MAX ? n_items - done : INT_MAX;

		cblas_sgemv(CblasRowMajor, CblasNoTrans, (int) rows, k, 1.0f,
					Y + done * k, k, x, 1, 0.0f, scores + done, 1);
		done += rows;
	}
	if (ybias)
		for (i = 0; i < n_items; i++)
			scores[i] += ybias[i];
}

/* Top-k by a bounded min-heap, then heap-sorted best first. */
int
rs_topk(const float *scores, int64_t n, int k, const uint8_t *exclude,
		int32_t *out_idx, float *out_score)
{
	int			size = 0;

	if (k <= 0 || n <= 0)
		return 0;
	rs_topk_offer_scores(scores, n, 0, exclude, out_idx, out_score, &size, k);
	rs_topk_sort(out_idx, out_score, size);
	return size;
}

/*
 * Score and select in blocks of RS_SCORE_BLOCK items, so the scores never
 * leave the cache: one pass over Y, which is the whole cost for large
 * catalogs (memory bandwidth).
 */
int
rs_score_topk(const float *Y, const float *ybias, int64_t n_items, int k,
			  const float *x, const uint8_t *exclude, int top_n,
			  float *block_scores, int32_t *out_idx, float *out_score)
{
	int			size = 0;

	if (top_n <= 0 || n_items <= 0)
		return 0;
	for (int64_t start = 0; start < n_items; start += RS_SCORE_BLOCK)
	{
		int			rows = (int) (n_items - start < RS_SCORE_BLOCK ? n_items - start : RS_SCORE_BLOCK);

		cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, k, 1.0f, Y + start * k, k, x, 1,
					0.0f, block_scores, 1);
		if (ybias)
			for (int j = 0; j < rows; j++)
				block_scores[j] += ybias[start + j];
		rs_topk_offer_scores(block_scores, rows, start, exclude, out_idx, out_score, &size, top_n);
	}
	rs_topk_sort(out_idx, out_score, size);
	return size;
}

/* A member's score of blend item i: 0 when unknown or unreached. */
static inline double
member_score(const float *member_scores, const int32_t *index, int64_t i)
{
	float		s;

	if (index == NULL)
		s = member_scores[i];
	else if (index[i] < 0)
		return 0.0;
	else
		s = member_scores[index[i]];
	return isnan(s) ? 0.0 : (double) s;
}

int
rs_standardize_stats(const float *member_scores, const int32_t *index, int64_t n,
					 double *mean, double *sd)
{
	double		sum = 0.0;
	double		sq = 0.0;

	*mean = 0.0;
	*sd = 0.0;
	if (n <= 0)
		return 0;
	for (int64_t i = 0; i < n; i++)
		sum += member_score(member_scores, index, i);
	*mean = sum / (double) n;
	/* two passes: scores may sit far from 0 (ratings), which one pass would cancel */
	for (int64_t i = 0; i < n; i++)
	{
		double		d = member_score(member_scores, index, i) - *mean;

		sq += d * d;
	}
	*sd = sqrt(sq / (double) n);
	return *sd > 1e-12 * (fabs(*mean) + 1.0);
}

int
rs_add_standardized(const float *member_scores, const int32_t *index, int64_t n,
					float weight, float *out)
{
	double		mean;
	double		sd;
	double		scale;

	if (!rs_standardize_stats(member_scores, index, n, &mean, &sd))
		return 0;
	scale = (double) weight / sd;
	for (int64_t i = 0; i < n; i++)
		out[i] += (float) ((member_score(member_scores, index, i) - mean) * scale);
	return 1;
}
