/*-------------------------------------------------------------------------
 *
 * topk.h
 *		The one bounded top-k selection of the kernels: a min-heap of
 *		(score, index) pairs whose root is the worst kept pair.
 *
 * Ranking everywhere in recsys is (score descending, index ascending):
 * a tie is won by the smaller index, so results never depend on the order
 * the candidates came in.  A caller keeps two arrays of cap slots (idx,
 * val), offers candidates with rs_topk_offer and, once done, sorts the
 * kept pairs best first with rs_topk_sort.  While the heap is full a
 * candidate costs one comparison with the root unless it enters (then
 * O(log cap)).
 *
 * NaN policy: the heap never decides about NaN.  A NaN ranks before
 * nothing, so it cannot replace the root of a full heap, but it would
 * enter a heap that is not yet full: callers skip NaN before offering
 * (score.c, knn.c, ease.c all do, and rs_topk_offer_scores below too).
 *
 * The functions are static inline, as they sit in the innermost loops of
 * serving and neighbour selection; they are defined once, here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_TOPK_H
#define RECSYS_KERNEL_TOPK_H

#include <stdbool.h>
#include <stdint.h>

/* Whether (sa, ia) ranks strictly before (sb, ib): higher, then smaller index. */
static inline __attribute__((always_inline)) bool
rs_topk_ranks_before(float sa, int32_t ia, float sb, int32_t ib)
{
	return sa > sb || (sa == sb && ia < ib);
}

/* Restore the heap property (parents rank after their children) below pos. */
static inline void
rs_topk_sift_down(int32_t *idx, float *val, int size, int pos)
{
	for (;;)
	{
		int			worst = pos;
		int			left = 2 * pos + 1;
		int			right = left + 1;
		float		tv;
		int32_t		ti;

		if (left < size && rs_topk_ranks_before(val[worst], idx[worst], val[left], idx[left]))
			worst = left;
		if (right < size && rs_topk_ranks_before(val[worst], idx[worst], val[right], idx[right]))
			worst = right;
		if (worst == pos)
			return;
		tv = val[pos];
		val[pos] = val[worst];
		val[worst] = tv;
		ti = idx[pos];
		idx[pos] = idx[worst];
		idx[worst] = ti;
		pos = worst;
	}
}

/*
 * Offer (s, i) to the heap idx/val of *size <= cap entries: it enters
 * while there is room, or replaces the root when it ranks before it.
 * cap must be at least 1; s must not be NaN (see the header).
 */
static inline __attribute__((always_inline)) void
rs_topk_offer(int32_t *idx, float *val, int *size, int cap, float s, int32_t i)
{
	if (*size < cap)
	{
		int			pos = (*size)++;

		/* sift up: a parent must rank after (be worse than) its children */
		while (pos > 0)
		{
			int			parent = (pos - 1) / 2;

			if (!rs_topk_ranks_before(val[parent], idx[parent], s, i))
				break;
			val[pos] = val[parent];
			idx[pos] = idx[parent];
			pos = parent;
		}
		val[pos] = s;
		idx[pos] = i;
	}
	else if (rs_topk_ranks_before(s, i, val[0], idx[0]))
	{
		val[0] = s;
		idx[0] = i;
		rs_topk_sift_down(idx, val, *size, 0);
	}
}

/* Sort a heap of size entries in place, best first. */
static inline void
rs_topk_sort(int32_t *idx, float *val, int size)
{
	for (int end = size - 1; end > 0; end--)
	{
		float		tv = val[0];
		int32_t		ti = idx[0];

		val[0] = val[end];
		idx[0] = idx[end];
		val[end] = tv;
		idx[end] = ti;
		rs_topk_sift_down(idx, val, end, 0);
	}
}

/*
 * Offer scores[0..n) (indexes first_index..) to the heap, skipping NaN and
 * the indexes whose bit is set in the exclude bitmap (NULL for none).
 * Once the heap is full one comparison rejects almost every candidate (NaN
 * fails it too), and the bitmap is only read for candidates good enough
 * to enter.  cap must be at least 1.
 */
static inline void
rs_topk_offer_scores(const float *scores, int64_t n, int64_t first_index,
					 const uint8_t *exclude, int32_t *idx, float *val,
					 int *size, int cap)
{
	for (int64_t j = 0; j < n; j++)
	{
		float		s = scores[j];
		int32_t		i = (int32_t) (first_index + j);

		if (*size == cap && !(s >= val[0]))
			continue;
		if (s != s || (exclude && ((exclude[i >> 3] >> (i & 7)) & 1)))
			continue;
		rs_topk_offer(idx, val, size, cap, s, i);
	}
}

#endif							/* RECSYS_KERNEL_TOPK_H */
