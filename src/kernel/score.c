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

/* Top-k by a bounded min-heap, then heap-sorted best first. */
int
rs_topk(const float *scores, int64_t n, int k, const uint8_t *exclude,
		int32_t *out_idx, float *out_score)
{
	int			size = 0;
	int64_t		i;
	int			end;

	if (k <= 0 || n <= 0)
		return 0;

	for (i = 0; i < n; i++)
	{
		float		s = scores[i];

		if (isnan(s) || (exclude && rs_bitmap_test(exclude, i)))
			continue;
		if (size < k)
		{
			/* sift up: parents must be worse than children */
			int			pos = size++;

			while (pos > 0)
			{
				int			parent = (pos - 1) / 2;

				if (!ranks_before(out_score[parent], out_idx[parent], s, (int32_t) i))
					break;
				out_score[pos] = out_score[parent];
				out_idx[pos] = out_idx[parent];
				pos = parent;
			}
			out_score[pos] = s;
			out_idx[pos] = (int32_t) i;
		}
		else if (ranks_before(s, (int32_t) i, out_score[0], out_idx[0]))
		{
			out_score[0] = s;
			out_idx[0] = (int32_t) i;
			heap_sift_down(out_idx, out_score, size, 0);
		}
	}

	/* heap sort: move the worst to the end repeatedly, leaving best first */
	for (end = size - 1; end > 0; end--)
	{
		float		ts = out_score[0];
		int32_t		ti = out_idx[0];

		out_score[0] = out_score[end];
		out_idx[0] = out_idx[end];
		out_score[end] = ts;
		out_idx[end] = ti;
		heap_sift_down(out_idx, out_score, end, 0);
	}
	return size;
}
