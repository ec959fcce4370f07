/*
 * test_cold.c
 *		Unit tests of src/kernel/cold.c.
 */
#include <math.h>

#include "cold.h"
#include "unit.h"

/*
 * k = 2, two pseudo-users x0 = (1, 0), x1 = (0, 1), G = I, alpha 1,
 * reg 1, the item observed by x0 with value 1 (w = 1, c = 2):
 * A = I + 1 x0 x0^T + 1 I = diag(3, 2), b = 2 x0 = (2, 0) -> y = (2/3, 0).
 */
UNIT_TEST(cold_item_solve_known_answer)
{
	float		gram[4] = {1, 0, 0, 1};
	float		X[4] = {1, 0, 0, 1};
	int32_t		idx[1] = {0};
	float		v[1] = {1};
	float		out[2];
	float		work[4];

	UNIT_CHECK(rs_cold_item_solve(gram, X, 2, idx, v, 1, 1.0f, 1.0f, 0.0f, 2, out, work) == RS_COLD_OK);
	UNIT_CHECK_NEAR(out[0], 2.0 / 3.0, 1e-5);
	UNIT_CHECK_NEAR(out[1], 0, 1e-6);
}

/* With reg_exponent 1 the reg is scaled by n_cols + sum w = 2 + 1 = 3: A = diag(5, 4). */
UNIT_TEST(cold_item_solve_scaled_reg)
{
	float		gram[4] = {1, 0, 0, 1};
	float		X[4] = {1, 0, 0, 1};
	int32_t		idx[1] = {0};
	float		v[1] = {1};
	float		out[2];
	float		work[4];

	UNIT_CHECK(rs_cold_item_solve(gram, X, 2, idx, v, 1, 1.0f, 1.0f, 1.0f, 2, out, work) == RS_COLD_OK);
	UNIT_CHECK_NEAR(out[0], 2.0 / 5.0, 1e-5);
}

UNIT_TEST(cold_item_without_observations_is_zero)
{
	float		gram[4] = {1, 0, 0, 1};
	float		out[2] = {5, 5};
	float		work[4];

	UNIT_CHECK(rs_cold_item_solve(gram, gram, 2, NULL, NULL, 0, 1.0f, 1.0f, 0.0f, 2, out, work) == RS_COLD_OK);
	UNIT_CHECK(out[0] == 0 && out[1] == 0);
}

UNIT_TEST(cold_item_solve_refuses_indefinite)
{
	float		gram[4] = {-5, 0, 0, -5};
	float		X[4] = {1, 0, 0, 1};
	int32_t		idx[1] = {0};
	float		v[1] = {1};
	float		out[2];
	float		work[4];

	UNIT_CHECK(rs_cold_item_solve(gram, X, 2, idx, v, 1, 1.0f, 0.0f, 0.0f, 2, out, work) == RS_COLD_NOT_PD);
	UNIT_CHECK(out[0] == 0 && out[1] == 0);
}

/* Y = Z M exactly, small lambda: the fit recovers M and maps a new z. */
UNIT_TEST(ridge_fit_recovers_linear_map)
{
	float		M[6] = {1, 2, 0, -1, 3, 0.5f};	/* D = 3, k = 2 */
	float		Z[5 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 0.5f, -1, 2};
	float		Y[5 * 2];
	float		W[6];
	float		work[3 * 3 + 3 * 2];
	float		z[3] = {2, 1, -1};
	float		out[2];

	for (int i = 0; i < 5; i++)
		for (int c = 0; c < 2; c++)
		{
			Y[i * 2 + c] = 0;
			for (int a = 0; a < 3; a++)
				Y[i * 2 + c] += Z[i * 3 + a] * M[a * 2 + c];
		}
	UNIT_CHECK(rs_ridge_fit(Z, Y, 5, 3, 2, 1e-4f, W, work, NULL, NULL) == RS_COLD_OK);
	for (int a = 0; a < 6; a++)
		UNIT_CHECK_NEAR(W[a], M[a], 1e-3);
	rs_ridge_apply(W, 3, 2, z, out);
	UNIT_CHECK_NEAR(out[0], 2 * 1 + 0 - 3, 1e-2);
	UNIT_CHECK_NEAR(out[1], 2 * 2 - 1 - 0.5, 1e-2);
}

static int
stop_now(void *arg)
{
	return 1;
}

UNIT_TEST(ridge_fit_stops)
{
	static float Z[4096 * 64];
	static float Y[4096 * 64];
	static float W[64 * 64];
	static float work[64 * 64 * 2];

	for (int i = 0; i < 4096 * 64; i++)
		Z[i] = Y[i] = 1;
	UNIT_CHECK(rs_ridge_fit(Z, Y, 4096, 64, 64, 1, W, work, stop_now, NULL) == RS_COLD_STOPPED);
}

/*
 * The learned cold lists (rs_cold_map_*).  Two warm items with orthogonal
 * features e0, e1, lambda 1: F^T F + I = 2 I, so a cold item with feature
 * e0 has a = F z = (1/2, 0); with S = {0 -> 1: 0.5, 1 -> 0: 0.5} and self
 * weight 1 its row is s = a^T S + a = (1/2, 1/4).
 */
UNIT_TEST(cold_map_orthogonal_known_answer)
{
	int64_t		f_indptr[3] = {0, 1, 2};
	int32_t		f_indices[2] = {0, 1};
	float		f_data[2] = {1, 1};
	RsCsr		F = {2, 2, 2, f_indptr, f_indices, f_data};
	int64_t		s_indptr[3] = {0, 1, 2};
	int32_t		s_indices[2] = {1, 0};
	float		s_data[2] = {0.5f, 0.5f};
	RsCsr		S = {2, 2, 2, s_indptr, s_indices, s_data};
	int32_t		fidx[1] = {0};
	float		fval[1] = {1};
	float		a[2];
	float		s[2];
	float		work[4 * 2 + 2];

	UNIT_CHECK(rs_cold_map_coefficients(&F, fidx, fval, 1, 1.0f, 100, a, work) == RS_COLD_OK);
	UNIT_CHECK_NEAR(a[0], 0.5, 1e-6);
	UNIT_CHECK_NEAR(a[1], 0, 1e-6);
	rs_cold_map_spread(&S, a, 1.0f, s);
	UNIT_CHECK_NEAR(s[0], 0.5, 1e-6);
	UNIT_CHECK_NEAR(s[1], 0.25, 1e-6);
	/* self weight 0: only what the neighbours' rows say */
	rs_cold_map_spread(&S, a, 0.0f, s);
	UNIT_CHECK_NEAR(s[0], 0, 1e-6);
	UNIT_CHECK_NEAR(s[1], 0.25, 1e-6);
}

/* Two warm items' unit feature rows, (1, 0) and (0.6, 0.8). */
static int64_t corr_indptr[3] = {0, 1, 3};
static int32_t corr_indices[3] = {0, 0, 1};
static float corr_data[3] = {1, 0.6f, 0.8f};

/*
 * Correlated features: item 0 = (1, 0), item 1 = (0.6, 0.8), lambda 0.5,
 * cold f = (0, 1).  M = F^T F + 0.5 I = [[1.86, 0.48], [0.48, 1.14]],
 * det 1.89, z = M^-1 f = (-0.48, 1.86) / 1.89, a = F z =
 * (-0.48, 1.2) / 1.89: the ridge credits item 1 and debits item 0 for the
 * feature they share, which the tf-idf cosine cannot.
 */
UNIT_TEST(cold_map_correlated_known_answer)
{
	RsCsr		F = {2, 2, 3, corr_indptr, corr_indices, corr_data};
	int32_t		fidx[1] = {1};
	float		fval[1] = {1};
	float		a[2];
	float		work[4 * 2 + 2];

	UNIT_CHECK(rs_cold_map_coefficients(&F, fidx, fval, 1, 0.5f, 100, a, work) == RS_COLD_OK);
	UNIT_CHECK_NEAR(a[0], -0.48 / 1.89, 1e-5);
	UNIT_CHECK_NEAR(a[1], 1.2 / 1.89, 1e-5);
}

/* A large ridge gives the feature cosine over lambda; a feature no warm item has gives 0. */
UNIT_TEST(cold_map_large_ridge_and_unknown_feature)
{
	RsCsr		F = {2, 3, 3, corr_indptr, corr_indices, corr_data};
	int32_t		fidx[2] = {1, 2};
	float		fval[2] = {0.6f, 0.8f};
	float		a[2];
	float		work[4 * 3 + 2];

	UNIT_CHECK(rs_cold_map_coefficients(&F, fidx, fval, 2, 1e4f, 100, a, work) == RS_COLD_OK);
	UNIT_CHECK_NEAR(a[0] * 1e4, 0, 1e-2);
	UNIT_CHECK_NEAR(a[1] * 1e4, 0.48, 1e-2);
	fidx[0] = 2;
	UNIT_CHECK(rs_cold_map_coefficients(&F, fidx, fval, 1, 1.0f, 100, a, work) == RS_COLD_OK);
	UNIT_CHECK_NEAR(a[0], 0, 1e-7);
	UNIT_CHECK_NEAR(a[1], 0, 1e-7);
	UNIT_CHECK(rs_cold_map_coefficients(&F, fidx, fval, 1, 0.0f, 100, a, work) == RS_COLD_BAD_ARGUMENT);
	UNIT_CHECK(rs_cold_map_coefficients(&F, fidx, fval, 1, 1.0f, 0, a, work) == RS_COLD_BAD_ARGUMENT);
}

/* The content term adds the feature cosine: items (1, 0), (0.6, 0.8), f = (0, 1), weight 2: s += 2 * (0, 0.8). */
UNIT_TEST(cold_map_add_content_known_answer)
{
	RsCsr		F = {2, 2, 3, corr_indptr, corr_indices, corr_data};
	int32_t		fidx[1] = {1};
	float		fval[1] = {1};
	float		s[2] = {0.25f, 0.5f};
	float		work[2];

	rs_cold_map_add_content(&F, fidx, fval, 1, 2.0f, s, work);
	UNIT_CHECK_NEAR(s[0], 0.25, 1e-6);
	UNIT_CHECK_NEAR(s[1], 0.5 + 1.6, 1e-6);
	/* weight 0 leaves s alone */
	rs_cold_map_add_content(&F, fidx, fval, 1, 0.0f, s, work);
	UNIT_CHECK_NEAR(s[1], 2.1, 1e-6);
}
