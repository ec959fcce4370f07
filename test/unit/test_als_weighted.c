/*
 * test_als_weighted.c
 *		Unit tests of weighted collective factorisation in the ALS kernels
 *		(rs_als_implicit_update_weighted, rs_gram_weighted) and of the cold
 *		item's half-step in the same loss (rs_cold_item_solve_weighted): a
 *		known answer in closed form, a direct solve (short rows, and rows
 *		longer than the gather tile with the weighted columns in and past
 *		it), weight 0 bit for bit plain ALS, threads and chunkings giving
 *		identical bits, the cold half-step equal to training's, and the
 *		error statuses.
 */
#include <stdlib.h>
#include <string.h>

#include "als.h"
#include "cold.h"
#include "unit.h"
#include "unit_math.h"

/* A CSR matrix from a dense row-major one (zeros are absent), owning its arrays. */
static RsCsr
dense_csr(const float *M, int32_t n_rows, int32_t n_cols)
{
	RsCsr		R;
	int64_t		nnz = 0;

	for (int64_t e = 0; e < (int64_t) n_rows * n_cols; e++)
		nnz += M[e] != 0.0f;
	R.n_rows = n_rows;
	R.n_cols = n_cols;
	R.nnz = nnz;
	R.indptr = calloc((size_t) n_rows + 1, sizeof(int64_t));
	R.indices = malloc(sizeof(int32_t) * (nnz > 0 ? nnz : 1));
	R.data = malloc(sizeof(float) * (nnz > 0 ? nnz : 1));
	nnz = 0;
	for (int32_t r = 0; r < n_rows; r++)
	{
		for (int32_t c = 0; c < n_cols; c++)
			if (M[(int64_t) r * n_cols + c] != 0.0f)
			{
				R.indices[nnz] = c;
				R.data[nnz++] = M[(int64_t) r * n_cols + c];
			}
		R.indptr[r + 1] = nnz;
	}
	return R;
}

static void
csr_free(RsCsr *R)
{
	free(R->indptr);
	free(R->indices);
	free(R->data);
}

/* The dense transpose of M (n_rows x n_cols). */
static float *
dense_transpose(const float *M, int32_t n_rows, int32_t n_cols)
{
	float	   *T = malloc(sizeof(float) * (size_t) n_rows * n_cols);

	for (int32_t r = 0; r < n_rows; r++)
		for (int32_t c = 0; c < n_cols; c++)
			T[(int64_t) c * n_rows + r] = M[(int64_t) r * n_cols + c];
	return T;
}

/*
 * The exact solution of row u in the weighted loss (als.h), in double:
 * columns >= first weighted by w and not counted by the scaling.
 */
static void
weighted_direct(const RsCsr *R, const float *Y, int k, float reg, float reg_exponent,
				float alpha, int32_t first, float w, int32_t u, double *x)
{
	double	   *A = calloc((size_t) k * k, sizeof(double));
	double		confidence = first;

	memset(x, 0, sizeof(double) * k);
	for (int32_t i = 0; i < R->n_cols; i++)
	{
		double		s = i < first ? 1.0 : w;

		for (int a = 0; a < k; a++)
			for (int c = 0; c < k; c++)
				A[a * k + c] += s * Y[(size_t) i * k + a] * Y[(size_t) i * k + c];
	}
	for (int64_t j = R->indptr[u]; j < R->indptr[u + 1]; j++)
	{
		const float *y = Y + (size_t) R->indices[j] * k;
		double		s = R->indices[j] < first ? 1.0 : w;
		double		v = R->data[j];
		double		c1 = alpha * fabs(v);

		if (R->indices[j] < first)
			confidence += c1;
		for (int a = 0; a < k; a++)
		{
			for (int c = 0; c < k; c++)
				A[a * k + c] += s * c1 * y[a] * y[c];
			if (v > 0)
				x[a] += s * (1.0 + c1) * y[a];
		}
	}
	for (int a = 0; a < k; a++)
		A[a * k + a] += reg * pow(confidence, reg_exponent);
	unit_dense_solve(A, x, k);
	free(A);
}

/*
 * k = 1: a user column (y = 1) and a feature column (y = 2), the item
 * observed by both with value 1; alpha 1, w 0.5, reg 1:
 * A = (1 + 0.5 * 4) + 1 + 1 * 1 + 0.5 * 1 * 4 = 7, b = 2 * 1 + 0.5 * 2 * 2
 * = 4, x = 4/7.  With reg_exponent 1 the reg is 1 x (1 user column + 1)
 * = 2: x = 4/8.  Plain ALS (w = 1, every column counted) gives 6/11.
 */
UNIT_TEST(als_weighted_known_answer)
{
	float		M[2] = {1, 1};
	RsCsr		R = dense_csr(M, 1, 2);
	float		Y[2] = {1, 2};
	float		G[1];
	float		X[1];
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(1, 1));
	RsAlsColumnWeight cw = {1, 0.5f};

	UNIT_CHECK(rs_gram_weighted(Y, 2, 1, 0.5f, 1, G, NULL, NULL) == RS_ALS_OK);
	UNIT_CHECK_NEAR(G[0], 3.0, 1e-6);
	X[0] = 0;
	UNIT_CHECK(rs_als_implicit_update_weighted(&R, Y, G, X, 1, 1.0f, 0.0f, 1.0f, 3, &cw,
											   0, 1, 1, ws) == RS_ALS_OK);
	UNIT_CHECK_NEAR(X[0], 4.0 / 7.0, 1e-6);
	X[0] = 0;
	UNIT_CHECK(rs_als_implicit_update_weighted(&R, Y, G, X, 1, 1.0f, 1.0f, 1.0f, 3, &cw,
											   0, 1, 1, ws) == RS_ALS_OK);
	UNIT_CHECK_NEAR(X[0], 0.5, 1e-6);
	/* plain: A = (1 + 4) + 1 + 1 + 4 = 11, b = 2 + 2 x 2 = 6 */
	rs_gram(Y, 2, 1, G, NULL, NULL);
	X[0] = 0;
	UNIT_CHECK(rs_als_implicit_update_weighted(&R, Y, G, X, 1, 1.0f, 0.0f, 1.0f, 3, NULL,
											   0, 1, 1, ws) == RS_ALS_OK);
	UNIT_CHECK_NEAR(X[0], 6.0 / 11.0, 1e-6);
	free(ws);
	csr_free(&R);
}

/*
 * Against the direct solve, k = 16: short rows (users and features,
 * negative and zero values), a row longer than the gather tile (4,096
 * entries at k = 16) whose features all lie past it, and one whose
 * features straddle its end.
 */
UNIT_TEST(als_weighted_matches_direct_solve)
{
	enum
	{
		k = 16, n_users = 6000, n_feat = 12, n_items = 4
	};
	int32_t		n_cols = n_users + n_feat;
	float	   *M = calloc((size_t) n_items * n_cols, sizeof(float));
	float	   *Y = malloc(sizeof(float) * (size_t) n_cols * k);
	float		X[n_items * k];
	float		G[k * k];
	double		exact[k];
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 2));
	RsAlsColumnWeight cw = {n_users, 0.3f};
	RsCsr		R;

	/* item 0: 5,000 users then 10 features; item 1: 4,090 users, 10 features */
	for (int32_t u = 0; u < 5000; u++)
		M[0 * n_cols + u] = 1.0f + (float) (u % 3);
	for (int32_t u = 0; u < 4090; u++)
		M[1 * n_cols + u + 7] = 1.0f;
	for (int f = 0; f < 10; f++)
	{
		M[0 * n_cols + n_users + f] = 1.0f + 0.5f * (float) (f % 2);
		M[1 * n_cols + n_users + f + 1] = 2.0f;
	}
	/* item 2: a few users (one negative, one zero) and features; item 3: features only */
	M[2 * n_cols + 3] = 2.0f;
	M[2 * n_cols + 50] = -1.0f;
	M[2 * n_cols + 51] = 0.0f;
	M[2 * n_cols + 900] = 1.0f;
	M[2 * n_cols + n_users + 2] = 1.0f;
	M[2 * n_cols + n_users + 5] = 3.0f;
	M[3 * n_cols + n_users + 0] = 1.0f;
	M[3 * n_cols + n_users + 11] = 1.0f;
	R = dense_csr(M, n_items, n_cols);
	for (int64_t i = 0; i < (int64_t) n_cols * k; i++)
		Y[i] = (float) (0.1 * unit_normal(21, (uint64_t) i));
	rs_init_factors(X, n_items, k, 5, 0.01f);
	UNIT_CHECK(rs_gram_weighted(Y, n_cols, n_users, cw.weight, k, G, NULL, NULL) == RS_ALS_OK);
	UNIT_CHECK(rs_als_implicit_update_weighted(&R, Y, G, X, k, 0.05f, 0.75f, 2.0f, 4 * k, &cw,
											   0, n_items, 2, ws) == RS_ALS_OK);
	for (int32_t i = 0; i < n_items; i++)
	{
		weighted_direct(&R, Y, k, 0.05f, 0.75f, 2.0f, n_users, cw.weight, i, exact);
		if (getenv("UNIT_VERBOSE"))
			printf("  weighted row %d rel diff %g\n", i, unit_rel_diff(X + i * k, exact, k));
		UNIT_CHECK(unit_rel_diff(X + i * k, exact, k) < 2e-4);
	}
	/* and it is not plain ALS's solution */
	weighted_direct(&R, Y, k, 0.05f, 0.75f, 2.0f, n_cols, 1.0f, 2, exact);
	UNIT_CHECK(unit_rel_diff(X + 2 * k, exact, k) > 1e-2);
	free(M);
	free(Y);
	free(ws);
	csr_free(&R);
}

/* users x items interactions and features x items, random, for the iterations below */
typedef struct Problem
{
	int32_t		n_users,
				n_items,
				n_feat;
	RsCsr		R;				/* users x items */
	RsCsr		Rt;				/* items x users */
	RsCsr		U;				/* (users + features) x items */
	RsCsr		I;				/* items x (users + features), features last */
} Problem;

static Problem
problem(int32_t n_users, int32_t n_items, int32_t n_feat, uint64_t seed)
{
	Problem		p = {.n_users = n_users, .n_items = n_items, .n_feat = n_feat};
	int32_t		n_rows = n_users + n_feat;
	float	   *M = calloc((size_t) n_rows * n_items, sizeof(float));
	float	   *T;

	for (int64_t e = 0; e < (int64_t) n_rows * n_items; e++)
	{
		bool		feature = e / n_items >= n_users;
		double		u = rs_rng_uniform_double(seed, 2 * e);

		if (u < (feature ? 0.15 : 0.08))
			M[e] = feature ? 1.0f : 1.0f + (float) (4 * rs_rng_uniform_double(seed, 2 * e + 1));
	}
	p.U = dense_csr(M, n_rows, n_items);
	p.R = dense_csr(M, n_users, n_items);
	T = dense_transpose(M, n_rows, n_items);
	p.I = dense_csr(T, n_items, n_rows);
	free(T);
	T = dense_transpose(M, n_users, n_items);
	p.Rt = dense_csr(T, n_items, n_users);
	free(T);
	free(M);
	return p;
}

static void
problem_free(Problem *p)
{
	csr_free(&p->R);
	csr_free(&p->Rt);
	csr_free(&p->U);
	csr_free(&p->I);
}

/*
 * iterations of ALS with the features weighted by w (features false:
 * plain ALS on R alone), users' rows in chunks of chunk, into X (users,
 * then features) and Y.
 */
static void
iterate(const Problem *p, bool features, float w, int k, int iterations, int nthreads,
		int32_t chunk, float *X, float *Y)
{
	int32_t		n_x = p->n_users + (features ? p->n_feat : 0);
	const RsCsr *U = features ? &p->U : &p->R;
	const RsCsr *I = features ? &p->I : &p->Rt;
	RsAlsColumnWeight cw = {p->n_users, w};
	float	   *G = malloc(sizeof(float) * k * k);
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, nthreads));

	rs_init_factors(X, n_x, k, 77, 0.01f);
	rs_init_factors(Y, p->n_items, k, 78, 0.01f);
	for (int it = 0; it < iterations; it++)
	{
		rs_gram(Y, p->n_items, k, G, NULL, NULL);
		for (int32_t b = 0; b < n_x; b += chunk)
			UNIT_CHECK(rs_als_implicit_update_scaled(U, Y, G, X, k, 0.05f, 1.0f, 10.0f, 3, b,
													 b + chunk < n_x ? b + chunk : n_x,
													 nthreads, ws) == RS_ALS_OK);
		if (features)
			UNIT_CHECK(rs_gram_weighted(X, n_x, p->n_users, w, k, G, NULL, NULL) == RS_ALS_OK);
		else
			rs_gram(X, n_x, k, G, NULL, NULL);
		UNIT_CHECK(rs_als_implicit_update_weighted(I, X, G, Y, k, 0.05f, 1.0f, 10.0f, 3,
												   features ? &cw : NULL, 0, p->n_items,
												   nthreads, ws) == RS_ALS_OK);
	}
	free(G);
	free(ws);
}

/*
 * Weight 0: the items and the users are plain ALS's, bit for bit (the
 * features' vectors are trained, but weigh nothing); a small weight stays
 * close to it, and a weight of 1 does not.
 */
UNIT_TEST(als_weighted_zero_is_plain_bits)
{
	int			k = 16;
	Problem		p = problem(300, 80, 20, 9);
	float	   *X0 = malloc(sizeof(float) * p.n_users * k);
	float	   *Y0 = malloc(sizeof(float) * p.n_items * k);
	float	   *X = malloc(sizeof(float) * (p.n_users + p.n_feat) * k);
	float	   *Y = malloc(sizeof(float) * p.n_items * k);
	double		diff = 0,
				norm = 0;

	iterate(&p, false, 0, k, 4, 1, p.n_users, X0, Y0);
	iterate(&p, true, 0.0f, k, 4, 1, p.n_users + p.n_feat, X, Y);
	UNIT_CHECK(memcmp(Y0, Y, sizeof(float) * p.n_items * k) == 0);
	UNIT_CHECK(memcmp(X0, X, sizeof(float) * p.n_users * k) == 0);
	iterate(&p, true, 1e-6f, k, 4, 1, p.n_users + p.n_feat, X, Y);
	for (int64_t e = 0; e < (int64_t) p.n_items * k; e++)
	{
		diff = fmax(diff, fabs(Y[e] - Y0[e]));
		norm = fmax(norm, fabs(Y0[e]));
	}
	UNIT_CHECK(diff < 1e-3 * norm);
	iterate(&p, true, 1.0f, k, 4, 1, p.n_users + p.n_feat, X, Y);
	diff = 0;
	for (int64_t e = 0; e < (int64_t) p.n_items * k; e++)
		diff = fmax(diff, fabs(Y[e] - Y0[e]));
	UNIT_CHECK(diff > 1e-2 * norm);
	free(X0);
	free(Y0);
	free(X);
	free(Y);
	problem_free(&p);
}

/* 1, 2 and 3 threads, whole ranges or chunks: the same bits. */
UNIT_TEST(als_weighted_same_on_threads)
{
	int			k = 32;
	Problem		p = problem(400, 90, 25, 13);
	int32_t		n_x = p.n_users + p.n_feat;
	float	   *X[3],
			   *Y[3];

	for (int r = 0; r < 3; r++)
	{
		X[r] = malloc(sizeof(float) * n_x * k);
		Y[r] = malloc(sizeof(float) * p.n_items * k);
		iterate(&p, true, 0.3f, k, 3, r + 1, r == 2 ? 77 : n_x, X[r], Y[r]);
	}
	for (int r = 1; r < 3; r++)
	{
		UNIT_CHECK(memcmp(X[0], X[r], sizeof(float) * n_x * k) == 0);
		UNIT_CHECK(memcmp(Y[0], Y[r], sizeof(float) * p.n_items * k) == 0);
	}
	for (int r = 0; r < 3; r++)
	{
		free(X[r]);
		free(Y[r]);
	}
	problem_free(&p);
}

/* The weighted Gramian against a naive sum; weight 0 is rs_gram of the first rows. */
UNIT_TEST(als_gram_weighted_matches_naive)
{
	enum
	{
		n = 41, first = 29, k = 6
	};
	float		Y[n * k],
				G[k * k],
				G0[k * k];
	double		worst = 0;

	rs_init_factors(Y, n, k, 3, 1.0f);
	UNIT_CHECK(rs_gram_weighted(Y, n, first, 0.25f, k, G, NULL, NULL) == RS_ALS_OK);
	for (int a = 0; a < k; a++)
		for (int c = 0; c < k; c++)
		{
			double		s = 0;

			for (int i = 0; i < n; i++)
				s += (i < first ? 1.0 : 0.25) * Y[i * k + a] * Y[i * k + c];
			worst = fmax(worst, fabs(s - G[a * k + c]));
		}
	UNIT_CHECK(worst < 1e-4);
	UNIT_CHECK(G[1 * k + 4] == G[4 * k + 1]);
	UNIT_CHECK(rs_gram_weighted(Y, n, first, 0.0f, k, G, NULL, NULL) == RS_ALS_OK);
	rs_gram(Y, first, k, G0, NULL, NULL);
	UNIT_CHECK(memcmp(G, G0, sizeof(G)) == 0);
	UNIT_CHECK(rs_gram_weighted(Y, n, n, 5.0f, k, G, NULL, NULL) == RS_ALS_OK);
	rs_gram(Y, n, k, G0, NULL, NULL);
	UNIT_CHECK(memcmp(G, G0, sizeof(G)) == 0);
	UNIT_CHECK(rs_gram_weighted(Y, n, n + 1, 1.0f, k, G, NULL, NULL) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_gram_weighted(Y, n, -1, 1.0f, k, G, NULL, NULL) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_gram_weighted(Y, n, first, -1.0f, k, G, NULL, NULL) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_gram_weighted(Y, n, first, NAN, k, G, NULL, NULL) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_gram_weighted(Y, n, first, INFINITY, k, G, NULL, NULL) == RS_ALS_ERR_ARGUMENT);
}

/*
 * Refresh gives what training gives: an item observed by features only,
 * solved by the weighted ALS update (enough CG steps to converge) and by
 * the cold half-step from the same Gramian, is the same vector; so is an
 * item with no observation at all (zero); and the weighted half-step is
 * not 0.10.0's.
 */
UNIT_TEST(cold_weighted_equals_training_half_step)
{
	enum
	{
		k = 8, n_users = 50, n_feat = 6
	};
	int32_t		n_cols = n_users + n_feat;
	float		M[2 * (n_users + n_feat)] = {0};
	float		Y[(n_users + n_feat) * k];
	float		G[k * k],
				work[k * k],
				X[2 * k],
				out[k];
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 1));
	RsAlsColumnWeight cw = {n_users, 0.2f};
	int32_t		idx[3] = {1, 3, 4};
	float		v[3] = {1, 2, 1};
	RsCsr		R;
	double		diff = 0,
				norm = 0;

	for (int j = 0; j < 3; j++)
		M[n_users + idx[j]] = v[j];
	R = dense_csr(M, 2, n_cols);
	for (int i = 0; i < n_cols * k; i++)
		Y[i] = (float) (0.3 * unit_normal(5, (uint64_t) i));
	rs_init_factors(X, 2, k, 1, 0.01f);
	UNIT_CHECK(rs_gram_weighted(Y, n_cols, n_users, cw.weight, k, G, NULL, NULL) == RS_ALS_OK);
	UNIT_CHECK(rs_als_implicit_update_weighted(&R, Y, G, X, k, 0.1f, 1.0f, 4.0f, 4 * k, &cw,
											   0, 2, 1, ws) == RS_ALS_OK);
	UNIT_CHECK(rs_cold_item_solve_weighted(G, Y + n_users * k, k, idx, v, 3, 4.0f, cw.weight, 0.1f,
										   1.0f, n_users, out, work) == RS_COLD_OK);
	for (int a = 0; a < k; a++)
	{
		diff = fmax(diff, fabs(out[a] - X[a]));
		norm = fmax(norm, fabs(out[a]));
		UNIT_CHECK(X[k + a] == 0.0f);
	}
	UNIT_CHECK(norm > 0 && diff < 1e-4 * norm);
	/* 0.10.0's half-step of values w v from the unweighted Gramian differs */
	{
		float		Gp[k * k],
					scaled[3],
					old[k];

		rs_gram(Y, n_cols, k, Gp, NULL, NULL);
		for (int j = 0; j < 3; j++)
			scaled[j] = cw.weight * v[j];
		UNIT_CHECK(rs_cold_item_solve(Gp, Y + n_users * k, k, idx, scaled, 3, 4.0f, 0.1f, 1.0f,
									  n_cols, old, work) == RS_COLD_OK);
		diff = 0;
		for (int a = 0; a < k; a++)
			diff = fmax(diff, fabs(out[a] - old[a]));
		UNIT_CHECK(diff > 1e-2 * norm);
	}
	free(ws);
	csr_free(&R);
}

/*
 * k = 1, one feature (x = 2), value 1, alpha 1, W 0.5, G_W = 3, reg 1 x
 * 4 users^1: A = 3 + 0.5 x 1 x 4 + 4 = 9, b = 0.5 x 2 x 2 = 2: y = 2/9.
 */
UNIT_TEST(cold_weighted_known_answer)
{
	float		G[1] = {3},
				X[1] = {2},
				v[1] = {1},
				out[1],
				work[1];
	int32_t		idx[1] = {0};

	UNIT_CHECK(rs_cold_item_solve_weighted(G, X, 1, idx, v, 1, 1.0f, 0.5f, 1.0f, 1.0f, 4, out,
										   work) == RS_COLD_OK);
	UNIT_CHECK_NEAR(out[0], 2.0 / 9.0, 1e-6);
	UNIT_CHECK(rs_cold_item_solve_weighted(G, X, 1, idx, v, 1, 1.0f, -0.5f, 1.0f, 1.0f, 4, out,
										   work) == RS_COLD_BAD_ARGUMENT);
	UNIT_CHECK(rs_cold_item_solve_weighted(G, X, 1, idx, v, 1, 1.0f, NAN, 1.0f, 1.0f, 4, out,
										   work) == RS_COLD_BAD_ARGUMENT);
	/* weight 0: the features say nothing, the zero vector */
	UNIT_CHECK(rs_cold_item_solve_weighted(G, X, 1, idx, v, 1, 1.0f, 0.0f, 1.0f, 1.0f, 4, out,
										   work) == RS_COLD_OK);
	UNIT_CHECK(out[0] == 0.0f);
}

/*
 * feature_weight 1e6 (the largest allowed), two features in k = 8: the
 * float Gramian's rounding (about 1e6 x FLT_EPSILON) exceeds reg 0.01 in
 * the six directions the features do not span, and the float Cholesky
 * failed (RS_COLD_NOT_PD, review R6).  The retried ridge solves it, and
 * the item's scores against its features match a double-precision solve
 * of the exact system.
 */
UNIT_TEST(cold_weighted_huge_weight_solves)
{
	enum
	{
		k = 8, n_users = 50, n_feat = 2
	};
	int32_t		n_cols = n_users + n_feat;
	float		W = 1e6f,
				alpha = 40.0f,
				reg = 0.01f;
	float		Y[(n_users + n_feat) * k];
	float		G[k * k],
				work[k * k],
				out[k];
	int32_t		idx[2] = {0, 1};
	float		v[2] = {1, 1};
	double		A[k * k],
				b[k];
	const float *F = Y + n_users * k;

	for (int i = 0; i < n_cols * k; i++)
		Y[i] = (float) ((i < n_users * k ? 0.3 : 1.0) * unit_normal(11, (uint64_t) i));
	UNIT_CHECK(rs_gram_weighted(Y, n_cols, n_users, W, k, G, NULL, NULL) == RS_ALS_OK);
	UNIT_CHECK(rs_cold_item_solve_weighted(G, F, k, idx, v, 2, alpha, W, reg, 0.0f, n_users,
										   out, work) == RS_COLD_OK);
	for (int a = 0; a < k; a++)
	{
		UNIT_CHECK(isfinite(out[a]));
		b[a] = 0;
		for (int c = 0; c < k; c++)
		{
			double		s = 0;

			for (int i = 0; i < n_cols; i++)
				s += (i < n_users ? 1.0 : (double) W) * Y[i * k + a] * Y[i * k + c];
			for (int j = 0; j < 2; j++)
				s += (double) W * alpha * v[j] * F[j * k + a] * F[j * k + c];
			A[a * k + c] = s + (a == c ? reg : 0.0);
		}
		for (int j = 0; j < 2; j++)
			b[a] += (double) W * (1.0 + alpha * v[j]) * F[j * k + a];
	}
	unit_dense_solve(A, b, k);
	for (int j = 0; j < 2; j++)
	{
		double		got = 0,
					want = 0;

		for (int a = 0; a < k; a++)
		{
			got += (double) out[a] * F[j * k + a];
			want += b[a] * F[j * k + a];
		}
		UNIT_CHECK(fabs(got - want) < 1e-3 * fabs(want));
	}
}

/* Refused: a weighted column before an unweighted one, and bad weights. */
/*
 * The feature confidence train_cf bounds (RS_ALS_MAX_FEATURE_CONFIDENCE):
 * alpha * max(weight, 1) * largest |value|; and at the bound (alpha 10,
 * weight 1e8, values 1) eight iterations of the weighted ALS succeed
 * with finite factors.
 */
UNIT_TEST(als_weighted_feature_confidence_bound)
{
	float		values[] = {0.5f, -3.0f, 2.0f};
	int			k = 16;
	Problem		p = problem(300, 80, 20, 5);
	float	   *X = malloc(sizeof(float) * (p.n_users + p.n_feat) * k);
	float	   *Y = malloc(sizeof(float) * p.n_items * k);
	float		w = (float) (RS_ALS_MAX_FEATURE_CONFIDENCE / 10.0);
	bool		finite = true;

	UNIT_CHECK(rs_als_feature_confidence(10.0f, 4.0f, values, 3) == 120.0);
	UNIT_CHECK(rs_als_feature_confidence(10.0f, 1e-3f, values, 3) == 30.0);
	UNIT_CHECK(rs_als_feature_confidence(10.0f, 4.0f, values, 0) == 0.0);
	UNIT_CHECK(rs_als_feature_confidence(10.0f, w, p.U.data + p.R.nnz, p.U.nnz - p.R.nnz)
			   <= RS_ALS_MAX_FEATURE_CONFIDENCE * (1 + 1e-6));
	iterate(&p, true, w, k, 8, 1, p.n_users + p.n_feat, X, Y);
	for (int64_t e = 0; e < (int64_t) p.n_items * k; e++)
		finite = finite && isfinite(Y[e]);
	for (int64_t e = 0; e < (int64_t) (p.n_users + p.n_feat) * k; e++)
		finite = finite && isfinite(X[e]);
	UNIT_CHECK(finite);
	free(X);
	free(Y);
	problem_free(&p);
}

UNIT_TEST(als_weighted_error_statuses)
{
	int			k = 4;
	/* row 0: columns 0, 1 (0 weighted: 1 follows it); first = 1 */
	int32_t		indices[2] = {0, 1};
	int64_t		indptr[2] = {0, 2};
	float		data[2] = {1, 1};
	RsCsr		R = {1, 2, 2, indptr, indices, data};
	float		Y[8],
				G[16],
				X[4];
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 1));
	RsAlsColumnWeight cw = {1, 0.5f};

	rs_init_factors(Y, 2, k, 3, 1.0f);
	rs_init_factors(X, 1, k, 4, 0.01f);
	rs_gram(Y, 2, k, G, NULL, NULL);
	/* columns ascending: fine */
	UNIT_CHECK(rs_als_implicit_update_weighted(&R, Y, G, X, k, 0.1f, 0.0f, 1.0f, 3, &cw,
											   0, 1, 1, ws) == RS_ALS_OK);
	/* a weighted column first */
	indices[0] = 1;
	indices[1] = 0;
	UNIT_CHECK(rs_als_implicit_update_weighted(&R, Y, G, X, k, 0.1f, 0.0f, 1.0f, 3, &cw,
											   0, 1, 1, ws) == RS_ALS_ERR_ARGUMENT);
	indices[0] = 0;
	indices[1] = 1;
	cw.weight = -1;
	UNIT_CHECK(rs_als_implicit_update_weighted(&R, Y, G, X, k, 0.1f, 0.0f, 1.0f, 3, &cw,
											   0, 1, 1, ws) == RS_ALS_ERR_ARGUMENT);
	cw.weight = NAN;
	UNIT_CHECK(rs_als_implicit_update_weighted(&R, Y, G, X, k, 0.1f, 0.0f, 1.0f, 3, &cw,
											   0, 1, 1, ws) == RS_ALS_ERR_ARGUMENT);
	cw.weight = 1;
	cw.first = 3;
	UNIT_CHECK(rs_als_implicit_update_weighted(&R, Y, G, X, k, 0.1f, 0.0f, 1.0f, 3, &cw,
											   0, 1, 1, ws) == RS_ALS_ERR_ARGUMENT);
	cw.first = -1;
	UNIT_CHECK(rs_als_implicit_update_weighted(&R, Y, G, X, k, 0.1f, 0.0f, 1.0f, 3, &cw,
											   0, 1, 1, ws) == RS_ALS_ERR_ARGUMENT);
	free(ws);
}
