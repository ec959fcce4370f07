/*
 * test_factor_scores.c
 *		Unit tests of src/kernel/factor_scores.c: row norms and cosines.
 */
#include "factor_scores.h"
#include "unit.h"

UNIT_TEST(factor_scores_norms_and_cosines)
{
	/* rows (3, 4), (0, 0), (-4, 3), (6, 8) */
	float		Y[8] = {3, 4, 0, 0, -4, 3, 6, 8};
	float		norms[4];
	float		dots[4];

	rs_row_norms(Y, 4, 2, norms);
	UNIT_CHECK_NEAR(norms[0], 5, 1e-6);
	UNIT_CHECK(norms[1] == 0);
	UNIT_CHECK_NEAR(norms[2], 5, 1e-6);
	UNIT_CHECK_NEAR(norms[3], 10, 1e-6);

	/* dot products with row 0 */
	for (int j = 0; j < 4; j++)
		dots[j] = Y[0] * Y[2 * j] + Y[1] * Y[2 * j + 1];
	rs_cosine_from_dots(dots, norms, 0, 4);
	UNIT_CHECK_NEAR(dots[0], 1, 1e-6);
	UNIT_CHECK(dots[1] == 0);	/* a zero row has no direction */
	UNIT_CHECK_NEAR(dots[2], 0, 1e-6);	/* orthogonal */
	UNIT_CHECK_NEAR(dots[3], 1, 1e-6);	/* same direction, longer */

	/* a zero row's cosines are all 0 */
	for (int j = 0; j < 4; j++)
		dots[j] = 1;
	rs_cosine_from_dots(dots, norms, 1, 4);
	for (int j = 0; j < 4; j++)
		UNIT_CHECK(dots[j] == 0);
}

UNIT_TEST(factor_scores_dot_and_weighted_outer)
{
	/* three items with 3 factors */
	float		Y[9] = {1, 2, 3, -1, 0, 2, 0.5f, 0.5f, -2};
	int32_t		idx[3] = {2, 0, 2};	/* a repeat adds twice */
	float		c[3] = {2, 0.5f, 1};
	float		A[9];
	float		expect[9];

	UNIT_CHECK_NEAR(rs_dot(Y, Y + 3, 3), -1 + 0 + 6, 1e-6);
	UNIT_CHECK(rs_dot(Y, Y, 0) == 0);
	for (int e = 0; e < 9; e++)
		A[e] = expect[e] = (float) e;	/* added to, not overwritten */
	for (int m = 0; m < 3; m++)
		for (int a = 0; a < 3; a++)
			for (int b = 0; b < 3; b++)
				expect[a * 3 + b] += c[m] * Y[idx[m] * 3 + a] * Y[idx[m] * 3 + b];
	rs_add_weighted_outer(Y, idx, c, 3, 3, A);
	for (int e = 0; e < 9; e++)
		UNIT_CHECK_NEAR(A[e], expect[e], 1e-5);
	/* symmetric */
	UNIT_CHECK(A[1] - 1 == A[3] - 3);
}

/* ---- compressed item vectors (rs_q8_*) ---- */

#include <stdlib.h>
#include <string.h>

#include "score.h"

static uint64_t q8_rng_state = 12345;

/* a uniform draw in [-1, 1) */
static float
q8_uniform(void)
{
	q8_rng_state = q8_rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float) ((q8_rng_state >> 40) / (double) (1 << 24)) * 2 - 1;
}

typedef struct Q8Fixture
{
	int64_t		n;
	int			k;
	float	   *Y;
	void	   *q8;
} Q8Fixture;

static Q8Fixture
q8_fixture(int64_t n, int k)
{
	Q8Fixture	f = {n, k, malloc(sizeof(float) * n * k), NULL};

	/* rows of very different lengths, as popular and rare items have */
	for (int64_t i = 0; i < n; i++)
	{
		float		len = 0.05f + 2 * fabsf(q8_uniform());

		for (int d = 0; d < k; d++)
			f.Y[i * k + d] = len * q8_uniform();
	}
	return f;
}

static void
q8_compress(Q8Fixture *f)
{
	f->q8 = malloc(rs_q8_bytes(f->n, f->k));
	rs_q8_init(f->q8, f->n, f->k);
	/* in two ranges, as the loader builds it between interrupt checks */
	rs_q8_build(f->q8, f->Y, 0, f->n / 3);
	rs_q8_build(f->q8, f->Y, f->n / 3, f->n);
}

/*
 * The compressed ranking equals the exact one: the same scores rank by
 * rank (to float rounding) and the same items, except that two items
 * whose scores differ only in the last bits may swap (sgemv and the
 * re-scoring's dot product round differently).  Returns the number of
 * candidates re-scored; -1: it fell back to the exact scan.
 */
static int64_t
q8_check_equal(Q8Fixture *f, const float *x, const float *bias, const uint8_t *exclude, int top_n)
{
	int32_t    *ei = malloc(sizeof(int32_t) * top_n),
			   *ci = malloc(sizeof(int32_t) * top_n);
	float	   *es = malloc(sizeof(float) * top_n),
			   *cs = malloc(sizeof(float) * top_n),
			   *block = malloc(sizeof(float) * RS_SCORE_BLOCK);
	void	   *scratch = malloc(rs_q8_scratch_bytes(f->k, top_n));
	int64_t		candidates;
	int			ne = rs_score_topk(f->Y, bias, f->n, f->k, x, exclude, top_n, block, ei, es);
	int			nc = rs_q8_score_topk(f->q8, f->Y, bias, x, exclude, top_n, scratch, block,
									  ci, cs, &candidates);

	UNIT_CHECK(ne == nc);
	for (int r = 0; r < ne && r < nc; r++)
	{
		UNIT_CHECK_NEAR(es[r], cs[r], 1e-6 * (1 + fabsf(es[r])));
		if (ei[r] != ci[r])
		{
			/* a swap of near-ties: ci[r]'s exact score is within rounding of rank r's */
			float		s = rs_dot(x, f->Y + (int64_t) ci[r] * f->k, f->k) + (bias ? bias[ci[r]] : 0);

			UNIT_CHECK_NEAR(s, es[r], 1e-6 * (1 + fabsf(es[r])));
		}
	}
	free(ei);
	free(ci);
	free(es);
	free(cs);
	free(block);
	free(scratch);
	return candidates;
}

UNIT_TEST(factor_scores_q8_equals_exact)
{
	Q8Fixture	f = q8_fixture(20000, 64);
	float		x[64],
			   *bias = malloc(sizeof(float) * f.n);
	uint8_t    *exclude = calloc(RS_BITMAP_BYTES(f.n), 1);
	int			compressed = 0;

	q8_compress(&f);
	for (int64_t i = 0; i < f.n; i++)
		bias[i] = 0.1f * q8_uniform();
	for (int64_t i = 0; i < f.n; i += 3)
		rs_bitmap_set(exclude, i);
	for (int q = 0; q < 30; q++)
	{
		int64_t		c;

		for (int d = 0; d < 64; d++)
			x[d] = q8_uniform();
		c = q8_check_equal(&f, x, q % 2 ? bias : NULL, q % 3 ? exclude : NULL, q % 5 ? 10 : 100);
		compressed += c >= 0;
		/* the bounds keep a small share of the catalog */
		UNIT_CHECK(c < f.n / 10);
	}
	UNIT_CHECK(compressed == 30);
	free(bias);
	free(exclude);
	free(f.Y);
	free(f.q8);
}

/* An odd number of factors, ties, k beyond the catalog, a zero vector. */
UNIT_TEST(factor_scores_q8_edges)
{
	Q8Fixture	f = q8_fixture(1003, 7);
	float		x[7] = {0};
	int32_t		idx[1100];
	float		score[1100],
				block[RS_SCORE_BLOCK];
	void	   *scratch;
	int64_t		c;

	/* items 500..519 are copies of item 3: equal scores, smaller index first */
	for (int i = 500; i < 520; i++)
		memcpy(f.Y + i * 7, f.Y + 3 * 7, sizeof(float) * 7);
	q8_compress(&f);
	for (int d = 0; d < 7; d++)
		x[d] = f.Y[3 * 7 + d];	/* item 3's own direction: it and its copies score high */
	c = q8_check_equal(&f, x, NULL, NULL, 30);
	UNIT_CHECK(c >= 0);
	c = q8_check_equal(&f, x, NULL, NULL, 5);
	UNIT_CHECK(c >= 0);

	/* more wanted than there are items: every item, as the exact scan */
	scratch = malloc(rs_q8_scratch_bytes(7, 1100));
	UNIT_CHECK(rs_q8_score_topk(f.q8, f.Y, NULL, x, NULL, 1100, scratch, block, idx, score,
								&c) == 1003);
	free(scratch);
	(void) q8_check_equal(&f, x, NULL, NULL, 1003);

	/* a zero vector: every score 0, the smallest indexes win */
	memset(x, 0, sizeof(x));
	c = q8_check_equal(&f, x, NULL, NULL, 10);
	UNIT_CHECK(c >= 0);
	/* a vector that is not finite: the exact scan decides */
	x[2] = NAN;
	UNIT_CHECK(q8_check_equal(&f, x, NULL, NULL, 10) == -1);
	free(f.Y);
	free(f.q8);
}

/* Known by construction: item i = (i / n) e_0, so for x = e_0 the top is n-1, n-2, ... */
UNIT_TEST(factor_scores_q8_known_ranking)
{
	int64_t		n = 4096;
	Q8Fixture	f = {n, 4, calloc(n * 4, sizeof(float)), NULL};
	float		x[4] = {1, 0, 0, 0};
	int32_t		idx[10];
	float		score[10],
				block[RS_SCORE_BLOCK];
	void	   *scratch = malloc(rs_q8_scratch_bytes(4, 10));
	int64_t		c;

	for (int64_t i = 0; i < n; i++)
	{
		f.Y[i * 4] = (float) i / n;
		f.Y[i * 4 + 1 + i % 3] = 0.3f;	/* off-axis parts x ignores */
	}
	q8_compress(&f);
	UNIT_CHECK(rs_q8_score_topk(f.q8, f.Y, NULL, x, NULL, 10, scratch, block, idx, score, &c) == 10);
	for (int r = 0; r < 10; r++)
	{
		UNIT_CHECK(idx[r] == n - 1 - r);
		UNIT_CHECK(score[r] == (float) (n - 1 - r) / n);
	}
	UNIT_CHECK(c >= 10 && c < 200);
	free(scratch);
	free(f.Y);
	free(f.q8);
}
