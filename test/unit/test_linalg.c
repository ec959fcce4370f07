/*
 * test_linalg.c
 *		Unit tests of src/kernel/linalg.c.
 */
#include "linalg.h"
#include "unit.h"

UNIT_TEST(cholesky_solves_spd_system)
{
	/* A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]], x = [1, -1, 2] -> b = A x */
	float		A[9] = {4, 2, 0, 2, 5, 1, 0, 1, 3};
	float		b[3] = {4 - 2, 2 - 5 + 2, -1 + 6};

	UNIT_CHECK(rs_cholesky_solve(A, 3, b, 1) == 0);
	UNIT_CHECK_NEAR(b[0], 1, 1e-5);
	UNIT_CHECK_NEAR(b[1], -1, 1e-5);
	UNIT_CHECK_NEAR(b[2], 2, 1e-5);
}

UNIT_TEST(cholesky_refuses_indefinite_matrix)
{
	float		A[4] = {1, 2, 2, 1};	/* eigenvalues 3 and -1 */
	float		b[2] = {1, 1};

	UNIT_CHECK(rs_cholesky_solve(A, 2, b, 1) > 0);
}
