/*
 * test_foldin.c
 *		Unit tests of src/kernel/foldin.c, the exact solve of one user.
 *		Implicit: against a direct solve in double (with negative and zero
 *		weights, and more items than one tile), against training's row
 *		solver run to convergence, split over calls, and a system that is
 *		not positive definite.  Explicit: against training's (exact) row
 *		solver, in the dual (few ratings) and primal (many) forms, split
 *		over calls.
 */
#include <stdlib.h>
#include <string.h>

#include "als.h"
#include "foldin.h"
#include "rng.h"
#include "unit.h"
#include "unit_math.h"

#define FI_ITEMS 3000

/* Centred random item factors, n x k. */
static float *
fi_factors(int n, int k, uint64_t seed)
{
	float	   *Y = malloc(sizeof(float) * (size_t) n * k);

	for (int64_t i = 0; i < (int64_t) n * k; i++)
		Y[i] = (float) (0.2 * (rs_rng_uniform_double(seed, (uint64_t) i) - 0.5));
	return Y;
}

/* A user's m distinct items (ascending, below 7 m + 3) with weights, some <= 0. */
static void
fi_user(int m, int32_t *idx, float *w)
{
	for (int j = 0; j < m; j++)
	{
		idx[j] = j * 7 + (j % 3);
		w[j] = j % 11 == 0 ? -1.5f : (j % 11 == 1 ? 0.0f : 0.5f + (float) (j % 4));
	}
}

/* The exact solution in double, by Gaussian elimination. */
static void
fi_direct(const float *Y, int n_items, int k, const int32_t *idx, const float *w, int m,
		  float reg, float alpha, double *x)
{
	double	   *A = calloc((size_t) k * k, sizeof(double));

	memset(x, 0, sizeof(double) * k);
	for (int i = 0; i < n_items; i++)
		for (int a = 0; a < k; a++)
			for (int c = 0; c < k; c++)
				A[a * k + c] += (double) Y[i * k + a] * Y[i * k + c];
	for (int a = 0; a < k; a++)
		A[a * k + a] += reg;
	for (int j = 0; j < m; j++)
	{
		const float *y = Y + (size_t) idx[j] * k;
		double		c1 = alpha * fabs((double) w[j]);

		for (int a = 0; a < k; a++)
		{
			for (int c = 0; c < k; c++)
				A[a * k + c] += c1 * y[a] * y[c];
			if (w[j] > 0)
				x[a] += (1.0 + c1) * y[a];
		}
	}
	unit_dense_solve(A, x, k);
	free(A);
}

/* Gram matrix in float, full. */
static float *
fi_gram(const float *Y, int n, int k)
{
	float	   *G = malloc(sizeof(float) * k * k);

	rs_gram(Y, n, k, G, NULL, NULL);
	return G;
}

/* Fold m entries in, in calls of at most `split` entries. */
static int
fi_fold(const float *Y, const float *G, int k, const int32_t *idx, const float *w, int m,
		int split, float reg, float alpha, float *x)
{
	float	   *A = malloc(sizeof(float) * k * k);
	float	   *tile = malloc(sizeof(float) * rs_fold_in_tile_floats(k));
	int			status;

	rs_fold_in_implicit_begin(G, k, reg, A, x);
	for (int j = 0; j < m; j += split)
		rs_fold_in_implicit_add(Y, idx + j, w + j, m - j < split ? m - j : split, k, alpha,
								A, x, tile);
	status = rs_fold_in_solve(A, x, k);
	free(A);
	free(tile);
	return status;
}

UNIT_TEST(fold_in_matches_direct_solve)
{
	static const int ks[] = {5, 64};
	static const int ms[] = {1, 40, 280};	/* 280 > one tile of 256 */

	for (int t = 0; t < 2; t++)
	{
		int			k = ks[t];
		float	   *Y = fi_factors(FI_ITEMS, k, 3);
		float	   *G = fi_gram(Y, FI_ITEMS, k);
		float	   *x = malloc(sizeof(float) * k);
		double	   *exact = malloc(sizeof(double) * k);

		for (int s = 0; s < 3; s++)
		{
			int			m = ms[s];
			int32_t    *idx = malloc(sizeof(int32_t) * m);
			float	   *w = malloc(sizeof(float) * m);

			fi_user(m, idx, w);
			if (m == 1)
				w[0] = 2.0f;
			UNIT_CHECK(fi_fold(Y, G, k, idx, w, m, m, 0.3f, 2.0f, x) == RS_ALS_OK);
			fi_direct(Y, FI_ITEMS, k, idx, w, m, 0.3f, 2.0f, exact);
			UNIT_CHECK(unit_rel_diff(x, exact, k) < 1e-4);
			free(idx);
			free(w);
		}
		free(Y);
		free(G);
		free(x);
		free(exact);
	}
}

/* Split over calls (as the glue does between interrupt checks): the same up to rounding. */
UNIT_TEST(fold_in_split_over_calls)
{
	int			k = 16,
				m = 300;
	float	   *Y = fi_factors(FI_ITEMS, k, 9);
	float	   *G = fi_gram(Y, FI_ITEMS, k);
	int32_t    *idx = malloc(sizeof(int32_t) * m);
	float	   *w = malloc(sizeof(float) * m);
	float		whole[16],
				parts[16];

	fi_user(m, idx, w);
	UNIT_CHECK(fi_fold(Y, G, k, idx, w, m, m, 0.1f, 1.0f, whole) == RS_ALS_OK);
	UNIT_CHECK(fi_fold(Y, G, k, idx, w, m, 7, 0.1f, 1.0f, parts) == RS_ALS_OK);
	for (int c = 0; c < k; c++)
		UNIT_CHECK_NEAR(parts[c], whole[c], 1e-5 * (1 + fabs(whole[c])));
	free(Y);
	free(G);
	free(idx);
	free(w);
}

/*
 * Training's implicit row solver (conjugate gradient from zero), run for
 * enough steps to converge, reaches the fold-in: the same system.
 */
UNIT_TEST(fold_in_matches_training_row_solver)
{
	int			k = 12,
				m = 30;
	float	   *Y = fi_factors(FI_ITEMS, k, 21);
	float	   *G = fi_gram(Y, FI_ITEMS, k);
	int32_t    *idx = malloc(sizeof(int32_t) * m);
	float	   *w = malloc(sizeof(float) * m);
	int64_t		indptr[2] = {0, m};
	RsCsr		R = {1, FI_ITEMS, m, indptr, idx, w};
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 1));
	float		cg[12] = {0},
				x[12];

	fi_user(m, idx, w);
	UNIT_CHECK(rs_als_implicit_update(&R, Y, G, cg, k, 0.2f, 3.0f, 4 * k, 0, 1, 1, ws) == RS_ALS_OK);
	UNIT_CHECK(fi_fold(Y, G, k, idx, w, m, m, 0.2f, 3.0f, x) == RS_ALS_OK);
	for (int c = 0; c < k; c++)
		UNIT_CHECK_NEAR(x[c], cg[c], 1e-4 * (1 + fabs(cg[c])));
	free(Y);
	free(G);
	free(idx);
	free(w);
	free(ws);
}

UNIT_TEST(fold_in_not_positive_definite)
{
	float		G[4] = {0, 0, 0, 0};
	float		Y[2] = {1, 0};
	int32_t		idx[1] = {0};
	float		w[1] = {1};
	float		x[2];

	/* reg 0 and one item: rank 1 in two dimensions */
	UNIT_CHECK(fi_fold(Y, G, 2, idx, w, 1, 1, 0.0f, 1.0f, x) == RS_ALS_ERR_NOT_PD);
}

/* Explicit fold-in of m ratings in calls of at most `split`, into x and *bias. */
static int
fi_fold_explicit(const float *Y, const float *ybias, float mu, int k, const int32_t *idx,
				 const float *r, int m, int split, float reg, float *x, float *bias)
{
	float	   *A = malloc(sizeof(float) * (k + 1) * (k + 1));
	float	   *z = malloc(sizeof(float) * (k + 1));
	float	   *tile = malloc(sizeof(float) * rs_fold_in_tile_floats(k));
	int			status;

	rs_fold_in_explicit_begin(k, A, z);
	for (int j = 0; j < m; j += split)
		rs_fold_in_explicit_add(Y, ybias, mu, idx + j, r + j, m - j < split ? m - j : split, k,
								A, z, tile);
	for (int a = 0; a <= k; a++)
		A[a * (k + 1) + a] += reg * m;
	status = rs_fold_in_solve(A, z, k + 1);
	memcpy(x, z, sizeof(float) * k);
	*bias = z[k];
	free(A);
	free(z);
	free(tile);
	return status;
}

/*
 * The explicit fold-in solves the system training's row solver solves:
 * the same vector and bias as rs_als_explicit_update (weighted
 * regularisation, bias regularised alike), for a user with fewer ratings
 * than factors (the kernel's dual form) and with more than a tile.
 */
UNIT_TEST(fold_in_explicit_matches_training_row_solver)
{
	static const int ms[] = {5, 300};
	int			k = 16;
	float	   *Y = fi_factors(FI_ITEMS, k, 33);
	float	   *ybias = malloc(sizeof(float) * FI_ITEMS);
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 1));

	for (int i = 0; i < FI_ITEMS; i++)
		ybias[i] = (float) (rs_rng_uniform_double(34, (uint64_t) i) - 0.5);
	for (int s = 0; s < 2; s++)
	{
		int			m = ms[s];
		int32_t    *idx = malloc(sizeof(int32_t) * m);
		float	   *r = malloc(sizeof(float) * m);
		int64_t		indptr[2] = {0, m};
		RsCsr		R = {1, FI_ITEMS, m, indptr, idx, r};
		float		trained[16],
					folded[16],
					split[16],
					tb = 0,
					fb = 0,
					sb = 0;

		fi_user(m, idx, r);
		for (int j = 0; j < m; j++)
			r[j] = 1.0f + (float) ((j * 7) % 5);
		UNIT_CHECK(rs_als_explicit_update(&R, Y, ybias, 3.5f, trained, &tb, k, 0.1f, 0.1f, true,
										  0, 1, 1, ws) == RS_ALS_OK);
		UNIT_CHECK(fi_fold_explicit(Y, ybias, 3.5f, k, idx, r, m, m, 0.1f, folded, &fb) == RS_ALS_OK);
		UNIT_CHECK(fi_fold_explicit(Y, ybias, 3.5f, k, idx, r, m, 7, 0.1f, split, &sb) == RS_ALS_OK);
		for (int c = 0; c < k; c++)
		{
			UNIT_CHECK_NEAR(folded[c], trained[c], 1e-4 * (1 + fabs(trained[c])));
			UNIT_CHECK_NEAR(split[c], folded[c], 1e-5 * (1 + fabs(folded[c])));
		}
		UNIT_CHECK_NEAR(fb, tb, 1e-4 * (1 + fabs(tb)));
		UNIT_CHECK_NEAR(sb, fb, 1e-5 * (1 + fabs(fb)));
		free(idx);
		free(r);
	}
	free(Y);
	free(ybias);
	free(ws);
}
