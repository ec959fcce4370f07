/*
 * test_score.c
 *		Unit tests of the serving helpers (src/kernel/score.c): item scores
 *		against a naive product, and top-k selection with ties, exclusions,
 *		NaN, k > n, k = 1 and a randomised comparison with a full sort.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "score.h"
#include "unit.h"

UNIT_TEST(score_items_matches_naive)
{
	int			n = 53,
				k = 7,
				i,
				a;
	float		Y[53 * 7],
				bias[53],
				x[7],
				s1[53],
				s2[53];
	double		worst1 = 0.0,
				worst2 = 0.0;

	for (i = 0; i < n * k; i++)
		Y[i] = rs_rng_uniform_float(1, i) - 0.5f;
	for (i = 0; i < n; i++)
		bias[i] = rs_rng_uniform_float(2, i);
	for (a = 0; a < k; a++)
		x[a] = rs_rng_uniform_float(3, a) - 0.5f;
	rs_score_items(Y, NULL, n, k, x, s1);
	rs_score_items(Y, bias, n, k, x, s2);
	for (i = 0; i < n; i++)
	{
		double		d = 0.0;

		for (a = 0; a < k; a++)
			d += (double) Y[i * k + a] * x[a];
		worst1 = fmax(worst1, fabs(d - s1[i]));
		worst2 = fmax(worst2, fabs(d + bias[i] - s2[i]));
	}
	UNIT_CHECK(worst1 < 1e-5);
	UNIT_CHECK(worst2 < 1e-5);
}

UNIT_TEST(topk_ties_exclusion_and_sizes)
{
	float		s[] = {1.0f, 3.0f, 3.0f, 2.0f, 3.0f};
	int32_t		idx[10];
	float		sc[10];
	uint8_t		ex[RS_BITMAP_BYTES(5)];

	/* ties go to the smaller index */
	UNIT_CHECK(rs_topk(s, 5, 2, NULL, idx, sc) == 2);
	UNIT_CHECK(idx[0] == 1 && idx[1] == 2);
	UNIT_CHECK(sc[0] == 3.0f && sc[1] == 3.0f);
	UNIT_CHECK(rs_topk(s, 5, 3, NULL, idx, sc) == 3);
	UNIT_CHECK(idx[0] == 1 && idx[1] == 2 && idx[2] == 4);

	/* k = 1 */
	UNIT_CHECK(rs_topk(s, 5, 1, NULL, idx, sc) == 1);
	UNIT_CHECK(idx[0] == 1 && sc[0] == 3.0f);

	/* k > n: everything, fully ordered */
	UNIT_CHECK(rs_topk(s, 5, 10, NULL, idx, sc) == 5);
	UNIT_CHECK(idx[0] == 1 && idx[1] == 2 && idx[2] == 4 && idx[3] == 3 && idx[4] == 0);
	UNIT_CHECK(sc[3] == 2.0f && sc[4] == 1.0f);

	/* exclusion */
	memset(ex, 0, sizeof(ex));
	rs_bitmap_set(ex, 1);
	rs_bitmap_set(ex, 4);
	UNIT_CHECK(rs_topk(s, 5, 10, ex, idx, sc) == 3);
	UNIT_CHECK(idx[0] == 2 && idx[1] == 3 && idx[2] == 0);
	UNIT_CHECK(rs_topk(s, 5, 1, ex, idx, sc) == 1 && idx[0] == 2);

	/* nothing to return */
	UNIT_CHECK(rs_topk(s, 5, 0, NULL, idx, sc) == 0);
	UNIT_CHECK(rs_topk(s, 0, 3, NULL, idx, sc) == 0);
	memset(ex, 0xff, sizeof(ex));
	UNIT_CHECK(rs_topk(s, 5, 3, ex, idx, sc) == 0);
}

UNIT_TEST(topk_skips_nan_and_handles_infinities)
{
	float		s[] = {NAN, -INFINITY, 0.5f, NAN, INFINITY};
	int32_t		idx[5];
	float		sc[5];

	UNIT_CHECK(rs_topk(s, 5, 5, NULL, idx, sc) == 3);
	UNIT_CHECK(idx[0] == 4 && idx[1] == 2 && idx[2] == 1);
}

/* Reference ordering for qsort: score descending, index ascending. */
static const float *ref_scores;

static int
ref_cmp(const void *pa, const void *pb)
{
	int32_t		a = *(const int32_t *) pa,
				b = *(const int32_t *) pb;

	if (ref_scores[a] != ref_scores[b])
		return ref_scores[a] > ref_scores[b] ? -1 : 1;
	return a < b ? -1 : (a > b);
}

UNIT_TEST(topk_matches_full_sort)
{
	int			n = 1000,
				trial;
	float	   *s = malloc(sizeof(float) * n);
	int32_t    *order = malloc(sizeof(int32_t) * n);
	int32_t    *idx = malloc(sizeof(int32_t) * n);
	float	   *sc = malloc(sizeof(float) * n);
	uint8_t		ex[RS_BITMAP_BYTES(1000)];
	static const int ks[] = {1, 2, 10, 37, 999, 1000};
	bool		all_ok = true;

	for (trial = 0; trial < 6; trial++)
	{
		int			k = ks[trial];
		int			m = 0,
					i,
					got;

		/* few distinct values: many ties */
		for (i = 0; i < n; i++)
			s[i] = (float) (int) (rs_rng_uniform_float(40 + trial, i) * 50.0f);
		memset(ex, 0, sizeof(ex));
		for (i = 0; i < n; i++)
			if (rs_rng_uniform_float(60 + trial, i) < 0.2f)
				rs_bitmap_set(ex, i);
		for (i = 0; i < n; i++)
			if (!rs_bitmap_test(ex, i))
				order[m++] = i;
		ref_scores = s;
		qsort(order, m, sizeof(int32_t), ref_cmp);
		got = rs_topk(s, n, k, ex, idx, sc);
		all_ok &= got == (k < m ? k : m);
		for (i = 0; i < got; i++)
			all_ok &= idx[i] == order[i] && sc[i] == s[order[i]];
	}
	UNIT_CHECK(all_ok);
	free(s);
	free(order);
	free(idx);
	free(sc);
}

UNIT_TEST(score_topk_matches_scores_then_topk)
{
	int64_t		n = 3 * RS_SCORE_BLOCK + 123;	/* several blocks and a tail */
	int			k = 16;
	float	   *Y = malloc(sizeof(float) * n * k);
	float	   *bias = malloc(sizeof(float) * n);
	float	   *scores = malloc(sizeof(float) * n);
	float	   *block = malloc(sizeof(float) * RS_SCORE_BLOCK);
	uint8_t    *ex = calloc(RS_BITMAP_BYTES(n), 1);
	float		x[16];
	int32_t		idx_a[50],
				idx_b[50];
	float		sc_a[50],
				sc_b[50];
	bool		ok = true;

	for (int64_t i = 0; i < n * k; i++)
		Y[i] = rs_rng_uniform_float(7, (uint64_t) i) - 0.5f;
	for (int64_t i = 0; i < n; i++)
	{
		bias[i] = rs_rng_uniform_float(8, (uint64_t) i) * 0.1f;
		if (i % 7 == 0)
			rs_bitmap_set(ex, i);
	}
	for (int f = 0; f < k; f++)
		x[f] = rs_rng_uniform_float(9, (uint64_t) f) - 0.5f;

	for (int pass = 0; pass < 2; pass++)
	{
		const float *b = pass ? bias : NULL;
		int			got_a,
					got_b;

		rs_score_items(Y, b, n, k, x, scores);
		got_a = rs_topk(scores, n, 50, ex, idx_a, sc_a);
		got_b = rs_score_topk(Y, b, n, k, x, ex, 50, block, idx_b, sc_b);
		ok &= got_a == 50 && got_b == 50;
		for (int i = 0; i < 50; i++)
			ok &= idx_a[i] == idx_b[i] && sc_a[i] == sc_b[i];
	}
	UNIT_CHECK(ok);
	free(Y);
	free(bias);
	free(scores);
	free(block);
	free(ex);
}

/*
 * Standardised blending, worked by hand: scores {1, 2, 3, 6} have mean 3
 * and population sd sqrt((4 + 1 + 0 + 9) / 4) = sqrt(3.5).
 */
UNIT_TEST(add_standardized_by_hand)
{
	const float scores[4] = {1, 2, 3, 6};
	float		out[4] = {10, 10, 10, 10};
	double		sd = sqrt(3.5);

	double		mean,
				sd2;

	UNIT_CHECK(rs_standardize_stats(scores, NULL, 4, &mean, &sd2) == 1);
	UNIT_CHECK_NEAR(mean, 3.0, 1e-12);
	UNIT_CHECK_NEAR(sd2, sd, 1e-12);
	UNIT_CHECK(rs_add_standardized(scores, NULL, 4, 2.0f, out) == 1);
	UNIT_CHECK_NEAR(out[0], 10 + 2 * (1 - 3) / sd, 1e-5);
	UNIT_CHECK_NEAR(out[1], 10 + 2 * (2 - 3) / sd, 1e-5);
	UNIT_CHECK_NEAR(out[2], 10.0, 1e-5);
	UNIT_CHECK_NEAR(out[3], 10 + 2 * (6 - 3) / sd, 1e-5);
}

/*
 * Through an index: blend items 0..3 are member items 2, -1 (unknown),
 * 0 and 1, and member item 1 is NaN (unreached), so the member's scores
 * of the blend items are {5, 0, 1, 0}: mean 1.5, sd sqrt((12.25 + 2.25 +
 * 0.25 + 2.25) / 4) = sqrt(4.25).
 */
UNIT_TEST(add_standardized_index_unknown_and_nan)
{
	const float scores[3] = {1, NAN, 5};
	const int32_t index[4] = {2, -1, 0, 1};
	float		out[4] = {0, 0, 0, 0};
	double		sd = sqrt(4.25);

	UNIT_CHECK(rs_add_standardized(scores, index, 4, 1.0f, out) == 1);
	UNIT_CHECK_NEAR(out[0], 3.5 / sd, 1e-5);
	UNIT_CHECK_NEAR(out[1], -1.5 / sd, 1e-5);
	UNIT_CHECK_NEAR(out[2], -0.5 / sd, 1e-5);
	UNIT_CHECK_NEAR(out[3], -1.5 / sd, 1e-5);
}

/* Constant scores carry no ranking: nothing is added. */
UNIT_TEST(add_standardized_constant_adds_nothing)
{
	const float scores[3] = {4, 4, 4};
	const float unreached[3] = {NAN, NAN, NAN};
	float		out[3] = {1, 2, 3};

	UNIT_CHECK(rs_add_standardized(scores, NULL, 3, 1.0f, out) == 0);
	UNIT_CHECK(rs_add_standardized(unreached, NULL, 3, 1.0f, out) == 0);
	UNIT_CHECK(rs_add_standardized(scores, NULL, 0, 1.0f, out) == 0);
	UNIT_CHECK(out[0] == 1 && out[1] == 2 && out[2] == 3);
}

/*
 * Scores far from zero (ratings around 4000 with small spread) keep their
 * spread: the mean is taken out before squaring.
 */
UNIT_TEST(add_standardized_large_offset)
{
	float		scores[1000];
	float		out[1000];
	double		sum = 0,
				sq = 0;

	for (int i = 0; i < 1000; i++)
	{
		scores[i] = 4000.0f + (float) (i % 10) * 0.01f;
		out[i] = 0;
	}
	UNIT_CHECK(rs_add_standardized(scores, NULL, 1000, 1.0f, out) == 1);
	for (int i = 0; i < 1000; i++)
	{
		sum += out[i];
		sq += (double) out[i] * out[i];
	}
	UNIT_CHECK_NEAR(sum / 1000, 0.0, 1e-3);
	UNIT_CHECK_NEAR(sq / 1000, 1.0, 1e-2);
}
