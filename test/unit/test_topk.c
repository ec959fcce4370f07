/*
 * test_topk.c
 *		Unit tests of the one top-k heap (src/kernel/topk.h) on its own:
 *		random offers with many ties against a sort-based reference, every
 *		cap from 1 to past n, candidates in any order, NaN and exclusion
 *		skipping in rs_topk_offer_scores, and k = 0 through rs_topk.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "score.h"
#include "topk.h"
#include "unit.h"

#define TOPK_N 300

typedef struct TopkPair
{
	float		val;
	int32_t		idx;
} TopkPair;

/* qsort order of the reference: score descending, then index ascending. */
static int
topk_pair_cmp(const void *a, const void *b)
{
	const TopkPair *pa = a;
	const TopkPair *pb = b;

	if (pa->val != pb->val)
		return pa->val > pb->val ? -1 : 1;
	return (pa->idx > pb->idx) - (pa->idx < pb->idx);
}

/* Whether the heap's sorted output equals the first size entries of ref. */
static bool
topk_equals(const int32_t *idx, const float *val, int size,
			const TopkPair *ref, int expected)
{
	if (size != expected)
		return false;
	for (int i = 0; i < size; i++)
		if (idx[i] != ref[i].idx || memcmp(&val[i], &ref[i].val, sizeof(float)) != 0)
			return false;
	return true;
}

UNIT_TEST(topk_heap_matches_sorted_reference)
{
	TopkPair	pairs[TOPK_N],
				ref[TOPK_N];
	int32_t		idx[TOPK_N + 10];
	float		val[TOPK_N + 10];
	int			bad = 0;

	for (int trial = 0; trial < 40; trial++)
	{
		int			n = 1 + (int) (rs_rng_u64(70, trial) % TOPK_N);
		/* few distinct values in half the trials: ties decided by index */
		int			levels = trial % 2 ? 5 : 1000000;

		for (int i = 0; i < n; i++)
		{
			pairs[i].idx = i;
			pairs[i].val = (float) (rs_rng_u64(71 + trial, i) % levels) - levels / 2;
		}
		/* offer in a shuffled order: the result must not depend on it */
		for (int i = n - 1; i > 0; i--)
		{
			int			j = (int) (rs_rng_u64(200 + trial, i) % (uint64_t) (i + 1));
			TopkPair	t = pairs[i];

			pairs[i] = pairs[j];
			pairs[j] = t;
		}
		memcpy(ref, pairs, sizeof(TopkPair) * n);
		qsort(ref, n, sizeof(TopkPair), topk_pair_cmp);
		for (int cap = 1; cap <= n + 10; cap += (cap < 12 ? 1 : 17))
		{
			int			size = 0;

			for (int i = 0; i < n; i++)
				rs_topk_offer(idx, val, &size, cap, pairs[i].val, pairs[i].idx);
			rs_topk_sort(idx, val, size);
			if (!topk_equals(idx, val, size, ref, cap < n ? cap : n))
				bad++;
		}
	}
	UNIT_CHECK(bad == 0);
}

UNIT_TEST(topk_ties_go_to_the_smaller_index)
{
	int32_t		idx[3];
	float		val[3];
	int			size = 0;
	const int32_t order[] = {9, 4, 7, 1, 8};

	for (int i = 0; i < 5; i++)
		rs_topk_offer(idx, val, &size, 3, 2.0f, order[i]);
	rs_topk_sort(idx, val, size);
	UNIT_CHECK(size == 3);
	UNIT_CHECK(idx[0] == 1 && idx[1] == 4 && idx[2] == 7);
	/* a worse score never displaces an equal one, whatever its index */
	rs_topk_offer(idx, val, &size, 3, 1.0f, 0);
	UNIT_CHECK(size == 3);
	for (int i = 0; i < 3; i++)
		UNIT_CHECK(idx[i] != 0);
}

UNIT_TEST(topk_offer_scores_skips_nan_and_excluded)
{
	float		scores[64];
	uint8_t		exclude[RS_BITMAP_BYTES(64)];
	TopkPair	ref[64];
	int			nref = 0;
	int32_t		idx[64];
	float		val[64];

	memset(exclude, 0, sizeof(exclude));
	for (int i = 0; i < 64; i++)
	{
		scores[i] = i % 7 == 3 ? NAN : (float) (rs_rng_u64(90, i) % 9);
		if (i % 5 == 1)
			rs_bitmap_set(exclude, i);
		if (!isnan(scores[i]) && i % 5 != 1)
		{
			ref[nref].val = scores[i];
			ref[nref].idx = i;
			nref++;
		}
	}
	qsort(ref, nref, sizeof(TopkPair), topk_pair_cmp);
	for (int cap = 1; cap <= 64; cap++)
	{
		int			size = 0;

		/* two blocks, as rs_score_topk offers them */
		rs_topk_offer_scores(scores, 40, 0, exclude, idx, val, &size, cap);
		rs_topk_offer_scores(scores + 40, 24, 40, exclude, idx, val, &size, cap);
		rs_topk_sort(idx, val, size);
		UNIT_CHECK(topk_equals(idx, val, size, ref, cap < nref ? cap : nref));
	}
	/* all NaN: nothing is kept */
	{
		float		nan_scores[4] = {NAN, NAN, NAN, NAN};
		int			size = 0;

		rs_topk_offer_scores(nan_scores, 4, 0, NULL, idx, val, &size, 2);
		UNIT_CHECK(size == 0);
	}
}

UNIT_TEST(topk_k_zero_and_empty_input)
{
	float		scores[3] = {1.0f, 2.0f, 3.0f};
	int32_t		idx[3] = {-5, -5, -5};
	float		val[3] = {0};

	UNIT_CHECK(rs_topk(scores, 3, 0, NULL, idx, val) == 0);
	UNIT_CHECK(rs_topk(scores, 3, -1, NULL, idx, val) == 0);
	UNIT_CHECK(rs_topk(scores, 0, 3, NULL, idx, val) == 0);
	UNIT_CHECK(idx[0] == -5);
	/* sorting an empty or one-entry heap is a no-op */
	rs_topk_sort(idx, val, 0);
	rs_topk_sort(idx, val, 1);
	UNIT_CHECK(idx[0] == -5);
}
