/*
 * test_ease.c
 *		Unit tests of src/kernel/ease.c against a direct computation.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ease.h"
#include "rng.h"
#include "unit.h"

/* A 4 users x 3 items binary matrix as CSR. */
static const int64_t indptr[] = {0, 2, 4, 5, 7};
static const int32_t indices[] = {0, 1, 0, 2, 1, 1, 2};
static const float data[] = {1, 3, 1, 1, 2, 1, 1};

/* rs_ease_magnitude_floor without a stop callback */
static float
magnitude_floor(const float *P, int32_t n, int64_t keep)
{
	float		floor;

	if (rs_ease_magnitude_floor(P, n, NULL, keep, &floor, NULL, NULL) != 0)
		return -1;
	return floor;
}

UNIT_TEST(ease_gram_counts_co_occurrences)
{
	RsCsr		R = {4, 3, 7, (int64_t *) indptr, (int32_t *) indices, (float *) data};
	float		G[9];

	/* binary X^T X: item 0 by users 0, 1; item 1 by 0, 2, 3; item 2 by 1, 3 */
	rs_ease_gram(&R, 1, NULL, NULL, 0, 10, 0, G, NULL, NULL);
	UNIT_CHECK(G[0] == 12 && G[4] == 13 && G[8] == 12);
	UNIT_CHECK(G[1] == 1 && G[3] == 1);		/* items 0, 1 share user 0 */
	UNIT_CHECK(G[2] == 1 && G[6] == 1);		/* items 0, 2 share user 1 */
	UNIT_CHECK(G[5] == 1 && G[7] == 1);		/* items 1, 2 share user 3 */
	/* weighted: item 1's weights 3, 2, 1 -> 9 + 4 + 1 */
	rs_ease_gram(&R, 0, NULL, NULL, 0, 0, 0, G, NULL, NULL);
	UNIT_CHECK(G[4] == 14 && G[1] == 3);
	/* dropout 0.5 doubles each diagonal count, then adds lambda */
	rs_ease_gram(&R, 1, NULL, NULL, 0, 10, 0.5f, G, NULL, NULL);
	UNIT_CHECK(G[0] == 2 + 2 + 10 && G[4] == 3 + 3 + 10 && G[1] == 1);
}

UNIT_TEST(ease_feature_weights_are_idf_and_unit_length)
{
	/* features x 4 items: f0 on items 0, 1; f1 on 0, 2; f2 on 3 alone */
	int64_t		fptr[] = {0, 2, 4, 5};
	int32_t		fidx[] = {0, 1, 0, 2, 3};
	float		fval[] = {1, 1, 1, 1, 1};
	RsCsr		F = {3, 4, 5, fptr, fidx, fval};
	float		scratch[4];
	float		h = 0.70710678f;

	rs_ease_feature_weights(&F, scratch);
	/*
	 * idf of f0 and f1 = ln(4 / 2); f2 (one item) 0.  Item 0 has both:
	 * length sqrt(2) ln 2, so each becomes 1 / sqrt(2); items 1 and 2 have
	 * one each: 1; item 3 only f2: stays 0.
	 */
	UNIT_CHECK_NEAR(fval[0], h, 1e-6);
	UNIT_CHECK_NEAR(fval[1], 1, 1e-6);
	UNIT_CHECK_NEAR(fval[2], h, 1e-6);
	UNIT_CHECK_NEAR(fval[3], 1, 1e-6);
	UNIT_CHECK(fval[4] == 0);
}

UNIT_TEST(ease_gram_adds_shared_features)
{
	RsCsr		R = {4, 3, 7, (int64_t *) indptr, (int32_t *) indices, (float *) data};
	/* features x 3 items: f0 on items 0, 1; f1 on all three; f2 on 2 */
	int64_t		fptr[] = {0, 2, 5, 6};
	int32_t		fidx[] = {0, 1, 0, 1, 2, 2};
	float		fval[] = {1, 1, 1, 1, 1, 1};
	RsCsr		F = {3, 3, 6, fptr, fidx, fval};
	float		scratch[3];
	float		G[9];

	/*
	 * idf: f0 ln(3/2), f1 ln 1 = 0, f2 (one item) 0, so items 0 and 1 are
	 * the unit vector f0 and item 2 is 0.  The diagonal of X^T X is 2, 3,
	 * 2: mean 7/3, so feature_weight 3 adds 7 to G_00, G_01, G_10, G_11,
	 * on top of the counts and lambda 10 (see the first test).
	 */
	rs_ease_feature_weights(&F, scratch);
	rs_ease_gram(&R, 1, NULL, &F, 3, 10, 0, G, NULL, NULL);
	UNIT_CHECK_NEAR(G[0], 19, 1e-5);
	UNIT_CHECK_NEAR(G[4], 20, 1e-5);
	UNIT_CHECK_NEAR(G[1], 8, 1e-5);
	UNIT_CHECK_NEAR(G[3], 8, 1e-5);
	UNIT_CHECK(G[8] == 12 && G[2] == 1 && G[6] == 1 && G[5] == 1 && G[7] == 1);
	/* dropout counts the users' entries only: 2 + 2 + 10 + 7 */
	rs_ease_gram(&R, 1, NULL, &F, 3, 10, 0.5f, G, NULL, NULL);
	UNIT_CHECK_NEAR(G[0], 21, 1e-5);
	/* feature_weight 0 is no features */
	rs_ease_gram(&R, 1, NULL, &F, 0, 10, 0, G, NULL, NULL);
	UNIT_CHECK(G[0] == 12 && G[1] == 1);

	/*
	 * With user weights 2, 1, 1, 1 the diagonal of X^T D X is 3, 4, 2:
	 * mean 3, so feature_weight 1 adds 3; G_01 = user 0's 2 + 3.
	 */
	{
		float		d[4] = {2, 1, 1, 1};

		rs_ease_gram(&R, 1, d, &F, 1, 10, 0, G, NULL, NULL);
		UNIT_CHECK_NEAR(G[0], 3 + 10 + 3, 1e-5);
		UNIT_CHECK_NEAR(G[4], 4 + 10 + 3, 1e-5);
		UNIT_CHECK_NEAR(G[1], 2 + 3, 1e-5);
		UNIT_CHECK_NEAR(G[8], 2 + 10, 1e-5);
	}
}

UNIT_TEST(ease_user_weights_normalise_heavy_users)
{
	RsCsr		R = {4, 3, 7, (int64_t *) indptr, (int32_t *) indices, (float *) data};
	float		d[4];
	float		G[9];

	/* exponent 0: everyone weighs 1 */
	rs_ease_user_weights(&R, 0, d);
	UNIT_CHECK_NEAR(d[0], 1, 1e-6);
	UNIT_CHECK_NEAR(d[2], 1, 1e-6);

	/*
	 * exponent 1: users with 2, 2, 1, 2 items weigh c/2, c/2, c, c/2 and the
	 * entries still sum to 7: 3 c + c = 7, so c = 7/4.
	 */
	rs_ease_user_weights(&R, 1, d);
	UNIT_CHECK_NEAR(d[0], 7.0 / 8, 1e-6);
	UNIT_CHECK_NEAR(d[2], 7.0 / 4, 1e-6);
	UNIT_CHECK_NEAR(2 * d[0] + 2 * d[1] + d[2] + 2 * d[3], 7, 1e-5);

	/* item 1 (users 0, 2, 3): 7/8 + 7/4 + 7/8; items 0, 1 share user 0 */
	rs_ease_gram(&R, 1, d, NULL, 0, 0, 0, G, NULL, NULL);
	UNIT_CHECK_NEAR(G[4], 7.0 / 2, 1e-5);
	UNIT_CHECK_NEAR(G[1], 7.0 / 8, 1e-6);
}

UNIT_TEST(ease_matches_direct_inverse)
{
	/* G = [[4, 1, 1], [1, 5, 2], [1, 2, 6]]: inverse = cofactors / det 97 */
	float		G[9] = {4, 1, 1, 1, 5, 2, 1, 2, 6};
	double		inv[9] = {26, -4, -3, -4, 23, -7, -3, -7, 19};
	int32_t		nbr[6];
	float		w[6];
	int32_t		count[3];

	UNIT_CHECK(rs_ease_invert(G, 3, NULL, NULL) == 0);
	for (int i = 0; i < 9; i++)
		UNIT_CHECK_NEAR(G[i], inv[i] / 97.0, 1e-5);

	/* B_ij = -P_ij / P_jj: row 0 -> B_01 = 4/23, B_02 = 3/19 */
	rs_ease_neighbors(G, 3, 0, 3, NULL, 0, 2, nbr, w, count);
	UNIT_CHECK(count[0] == 2 && count[1] == 2 && count[2] == 2);
	UNIT_CHECK(nbr[0] == 1 && nbr[1] == 2);
	UNIT_CHECK_NEAR(w[0], 4.0 / 23, 1e-5);
	UNIT_CHECK_NEAR(w[1], 3.0 / 19, 1e-5);
	/* row 1: B_10 = 4/26, B_12 = 7/19, best first */
	UNIT_CHECK(nbr[2] == 2 && nbr[3] == 0);
	UNIT_CHECK_NEAR(w[2], 7.0 / 19, 1e-5);
	/* k = 1 keeps only the strongest; rows are written from row_begin */
	rs_ease_neighbors(G, 3, 2, 3, NULL, 0, 1, nbr, w, count);
	UNIT_CHECK(count[0] == 1 && nbr[0] == 1);
	UNIT_CHECK_NEAR(w[0], 7.0 / 23, 1e-5);

	/* column scales multiply B_ij and can reorder a row: B_21 / 4 < B_20 */
	{
		float		scale[3] = {1, 0.25f, 1};

		rs_ease_neighbors(G, 3, 2, 3, scale, 0, 2, nbr, w, count);
		UNIT_CHECK(count[0] == 2 && nbr[0] == 0 && nbr[1] == 1);
		UNIT_CHECK_NEAR(w[0], 3.0 / 26, 1e-5);
		UNIT_CHECK_NEAR(w[1], 7.0 / 23 / 4, 1e-5);
	}

	/* a floor on magnitude: row 1 keeps 7/19 only, row 0 both (4/23, 3/19) */
	rs_ease_neighbors(G, 3, 0, 3, NULL, 0.155f, 2, nbr, w, count);
	UNIT_CHECK(count[0] == 2 && count[1] == 1 && nbr[2] == 2 && nbr[3] == -1);
	/* about 2 of the 6 weights lie above the floor for keep 2: 7/19 and 7/23 */
	{
		float		floor = magnitude_floor(G, 3, 2);

		UNIT_CHECK(floor <= 7.0 / 23 && floor > 4.0 / 23);
	}
}

/* a magnitude floor keeps strong negative weights and drops exact zeros */
UNIT_TEST(ease_magnitude_floor)
{
	/* P with B_01 = -0.5, B_02 = 0, B_03 = 0.1: P_jj = 1, P_0j = -B_0j */
	float		P[16] = {1, 0.5f, 0, -0.1f,
						 0.5f, 1, 0, 0,
						 0, 0, 1, 0,
						 -0.1f, 0, 0, 1};
	int32_t		nbr[3];
	float		w[3];
	int32_t		count[1];

	/* exact: every weight, zeros too, best first */
	rs_ease_neighbors(P, 4, 0, 1, NULL, 0, 3, nbr, w, count);
	UNIT_CHECK(count[0] == 3 && nbr[0] == 3 && nbr[1] == 2 && nbr[2] == 1);
	/* a tiny floor drops only the zero */
	rs_ease_neighbors(P, 4, 0, 1, NULL, 1e-6f, 3, nbr, w, count);
	UNIT_CHECK(count[0] == 2 && nbr[0] == 3 && nbr[1] == 1);
	UNIT_CHECK_NEAR(w[1], -0.5, 1e-6);
	/* 0.2: the negative weight stays, 0.1 goes */
	rs_ease_neighbors(P, 4, 0, 1, NULL, 0.2f, 3, nbr, w, count);
	UNIT_CHECK(count[0] == 1 && nbr[0] == 1);
	UNIT_CHECK_NEAR(w[0], -0.5, 1e-6);
	/*
	 * 2 of the matrix's 12 off-diagonal weights are 0.5 (B_01, B_10), 2 are
	 * 0.1 (B_03, B_30), the rest 0: keeping 2 puts the floor at 0.5's bin,
	 * keeping 3 or 4 at 0.1's, more than the 4 non-zero ones every non-zero one
	 */
	UNIT_CHECK(magnitude_floor(P, 4, 2) <= 0.5f && magnitude_floor(P, 4, 2) > 0.1f);
	UNIT_CHECK(magnitude_floor(P, 4, 3) <= 0.1f && magnitude_floor(P, 4, 3) > 0.09f);
	UNIT_CHECK(magnitude_floor(P, 4, 100) == FLT_TRUE_MIN);
}

static int
stop_at_first(void *arg)
{
	int		   *calls = arg;

	return ++*calls >= 1;
}

static int
never_stop(void *arg)
{
	++*(int *) arg;
	return 0;
}

/*
 * The floor reads n^2 weights, each counted as 64 multiply-adds: on a
 * matrix of more than RS_STOP_WORK / 64 of them (but less than twice that)
 * the caller's stop is asked once within the pass and ends it.
 */
UNIT_TEST(ease_magnitude_floor_stops)
{
	int32_t		n = 600;			/* 360,000 weights > 262,144 */
	float	   *P = malloc(sizeof(float) * (size_t) n * n);
	int			calls = 0;
	float		floor = 0;

	for (int64_t a = 0; a < (int64_t) n * n; a++)
		P[a] = (a % (n + 1)) == 0 ? 1.0f : 0.01f;
	UNIT_CHECK(rs_ease_magnitude_floor(P, n, NULL, 10, &floor, stop_at_first, &calls) == RS_EASE_STOPPED);
	UNIT_CHECK(calls == 1);
	/* never asked to stop: it runs to the end, every weight 0.01 */
	calls = 0;
	UNIT_CHECK(rs_ease_magnitude_floor(P, n, NULL, 10, &floor, never_stop, &calls) == 0);
	UNIT_CHECK(calls == 1);
	UNIT_CHECK(floor <= 0.01f && floor > 0.0099f);
	free(P);
}

/*
 * Zeroing a fresh Gram matrix faults its pages in, hundreds of
 * multiply-adds' time a float: 300 items (90,000 floats, counted as 256
 * each) ask the stop once while zeroing, before any user is read.
 */
UNIT_TEST(ease_gram_zeroing_stops)
{
	int32_t		n = 300;
	int64_t		indptr[2] = {0, 0};
	RsCsr		R = {1, n, 0, indptr, NULL, NULL};
	float	   *G = malloc(sizeof(float) * (size_t) n * n);
	int			calls = 0;

	UNIT_CHECK(rs_ease_gram_counts(&R, 1, NULL, G, stop_at_first, &calls) == RS_EASE_STOPPED);
	UNIT_CHECK(calls == 1);
	calls = 0;
	UNIT_CHECK(rs_ease_gram_counts(&R, 1, NULL, G, never_stop, &calls) == 0);
	UNIT_CHECK(calls == 1);
	UNIT_CHECK(G[0] == 0 && G[(int64_t) n * n - 1] == 0);
	free(G);
}

UNIT_TEST(ease_refuses_indefinite)
{
	float		G[4] = {1, 2, 2, 1};

	UNIT_CHECK(rs_ease_invert(G, 2, NULL, NULL) > 0);
}

/* A random symmetric positive definite n x n matrix: M M^T / n + I. */
static float *
random_spd(int n, uint64_t seed)
{
	float	   *M = malloc(sizeof(float) * n * n);
	float	   *G = malloc(sizeof(float) * n * n);

	for (int i = 0; i < n * n; i++)
		M[i] = rs_rng_uniform_float(seed, i) - 0.5f;
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, n, 1.0f / n, M, n, 0.0f, G, n);
	for (int i = 0; i < n; i++)
	{
		G[i * n + i] += 1.0f;
		for (int j = i + 1; j < n; j++)
			G[j * n + i] = G[i * n + j];
	}
	free(M);
	return G;
}

/*
 * Several blocks (1112 = 512 + 512 + 88): G P = I within single
 * precision (every fifth row checked, to keep the test fast), and P
 * symmetric.
 */
UNIT_TEST(ease_blocked_inverse_is_the_inverse)
{
	int			n = 2 * RS_EASE_BLOCK + 88;
	float	   *G = random_spd(n, 11);
	float	   *P = malloc(sizeof(float) * n * n);
	double		worst = 0;
	double		asym = 0;

	memcpy(P, G, sizeof(float) * n * n);
	UNIT_CHECK(rs_ease_invert(P, n, NULL, NULL) == 0);
	for (int i = 0; i < n; i += 5)
		for (int j = 0; j < n; j++)
		{
			double		s = 0;

			for (int k = 0; k < n; k++)
				s += (double) G[i * n + k] * P[k * n + j];
			s -= i == j ? 1.0 : 0.0;
			worst = fabs(s) > worst ? fabs(s) : worst;
			asym = fabs(P[i * n + j] - P[j * n + i]) > asym ? fabs(P[i * n + j] - P[j * n + i]) : asym;
		}
	UNIT_CHECK(worst < 1e-3);
	UNIT_CHECK(asym == 0);
	free(G);
	free(P);
}

static int
stop_at_second(void *arg)
{
	int		   *calls = arg;

	return ++*calls >= 2;
}

/* The caller can stop it between blocks; an indefinite block deep in is found. */
UNIT_TEST(ease_blocked_inverse_stops_and_refuses)
{
	int			n = 2 * RS_EASE_BLOCK + 88;
	float	   *G = random_spd(n, 12);
	int			calls = 0;

	UNIT_CHECK(rs_ease_invert(G, n, stop_at_second, &calls) == RS_EASE_STOPPED);
	UNIT_CHECK(calls == 2);
	free(G);

	/* a negative diagonal in the third block: not positive definite there */
	G = random_spd(n, 13);
	G[(int64_t) (2 * RS_EASE_BLOCK + 40) * n + 2 * RS_EASE_BLOCK + 40] = -100.0f;
	{
		int			info = rs_ease_invert(G, n, NULL, NULL);

		UNIT_CHECK(info > 2 * RS_EASE_BLOCK && info <= 2 * RS_EASE_BLOCK + 41);
	}
	free(G);
}
