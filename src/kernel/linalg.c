/*-------------------------------------------------------------------------
 *
 * linalg.c
 *		Small dense linear algebra on top of OpenBLAS's LAPACK (linalg.h).
 *
 * Debian's libopenblas ships LAPACK but no LAPACKE header, so the Fortran
 * entry points are declared here.
 *
 *-------------------------------------------------------------------------
 */
#include "linalg.h"

extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
extern void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a,
					const int *lda, float *b, const int *ldb, int *info);

int
rs_cholesky_solve(float *A, int n, float *b, int nrhs)
{
	int			info = 0;

	spotrf_("L", &n, A, &n, &info);
	if (info != 0)
		return info;
	spotrs_("L", &n, &nrhs, A, &n, b, &n, &info);
	return info;
}
