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
