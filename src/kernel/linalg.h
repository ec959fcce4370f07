/*-------------------------------------------------------------------------
 *
 * linalg.h
 *		Small dense linear algebra on top of OpenBLAS's LAPACK.
 *
 * Plain C, no PostgreSQL calls.  Matrices are row-major; for symmetric
 * matrices row- and column-major are the same, which lets the Fortran
 * LAPACK routines be called directly.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_LINALG_H
#define RECSYS_KERNEL_LINALG_H

/*
 * Solve A x = b for a symmetric positive definite n x n matrix A, by
 * Cholesky factorisation in place (A is overwritten by its factor, b by
 * x).  nrhs right-hand sides are stored one after another in b.  Returns
 * 0, or a positive number if A is not positive definite.
 */
extern int	rs_cholesky_solve(float *A, int n, float *b, int nrhs);

#endif							/* RECSYS_KERNEL_LINALG_H */
