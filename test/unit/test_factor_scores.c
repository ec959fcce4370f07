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
