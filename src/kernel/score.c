/*-------------------------------------------------------------------------
 *
 * score.c
 *		Serving helpers: item scores for one user (cblas_sgemv) and top-k
 *		selection with a bounded min-heap.  See score.h.
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

/* Whether (sa, ia) ranks strictly before (sb, ib): higher score, then lower index. */
static inline bool
ranks_before(float sa, int32_t ia, float sb, int32_t ib)
{
	return sa > sb || (sa == sb && ia < ib);
}

/* Restore the min-heap (root = worst) below position pos. */
static void
heap_sift_down(int32_t *idx, float *score, int size, int pos)
{
	for (;;)
	{
		int			worst = pos;
		int			left = 2 * pos + 1;
		int			right = left + 1;
		float		ts;
		int32_t		ti;

		if (left < size && ranks_before(score[worst], idx[worst], score[left], idx[left]))
			worst = left;
		if (right < size && ranks_before(score[worst], idx[worst], score[right], idx[right]))
			worst = right;
		if (worst == pos)
			return;
		ts = score[pos];
		score[pos] = score[worst];
		score[worst] = ts;
		ti = idx[pos];
		idx[pos] = idx[worst];
		idx[worst] = ti;
		pos = worst;
	}
}

/*
 * Offer scores[0..n) (item indexes first_index..) to a heap of at most k
 * entries holding *size now.  The root is the worst kept entry, so once
 * the heap is full one comparison rejects almost every candidate; NaN
 * fails that comparison too, and the exclusion bitmap is only consulted
 * for candidates good enough to enter.
 */
static void
heap_offer(const float *scores, int64_t n, int64_t first_index, int k,
		   const uint8_t *exclude, int32_t *idx, float *score, int *size)
{
	for (int64_t j = 0; j < n; j++)
	{
		float		s = scores[j];
		int32_t		i = (int32_t) (first_index + j);

		if (*size == k && !(s >= score[0]))
			continue;
		if (isnan(s) || (exclude && rs_bitmap_test(exclude, i)))
			continue;
		if (*size < k)
		{
			/* sift up: parents must be worse than children */
			int			pos = (*size)++;

			while (pos > 0)
			{
				int			parent = (pos - 1) / 2;

				if (!ranks_before(score[parent], idx[parent], s, i))
					break;
				score[pos] = score[parent];
				idx[pos] = idx[parent];
				pos = parent;
			}
			score[pos] = s;
			idx[pos] = i;
		}
		else if (ranks_before(s, i, score[0], idx[0]))
		{
			score[0] = s;
			idx[0] = i;
			heap_sift_down(idx, score, *size, 0);
		}
	}
}

/* Sort a heap in place, best first: move the worst to the end repeatedly. */
static void
heap_sort(int32_t *idx, float *score, int size)
{
	for (int end = size - 1; end > 0; end--)
	{
		float		ts = score[0];
		int32_t		ti = idx[0];

		score[0] = score[end];
		idx[0] = idx[end];
		score[end] = ts;
		idx[end] = ti;
		heap_sift_down(idx, score, end, 0);
	}
}

/* Top-k by a bounded min-heap, then heap-sorted best first. */
int
rs_topk(const float *scores, int64_t n, int k, const uint8_t *exclude,
		int32_t *out_idx, float *out_score)
{
	int			size = 0;

	if (k <= 0 || n <= 0)
		return 0;
	heap_offer(scores, n, 0, k, exclude, out_idx, out_score, &size);
	heap_sort(out_idx, out_score, size);
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
		heap_offer(block_scores, rows, start, top_n, exclude, out_idx, out_score, &size);
	}
	heap_sort(out_idx, out_score, size);
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
