/*
 * ease_kernel_bench.c
 *		Speed of EASE's inversion (src/kernel/ease.c): the blocked,
 *		stoppable rs_ease_invert against LAPACK's own spotrf + spotri (plus
 *		the same copy of one triangle into the other, which is what
 *		rs_ease_invert was before it went block by block) on the same
 *		matrix, in one run, alternating, so both see the same machine.
 *
 *   cc -O2 -Wall -Isrc/kernel -o /tmp/ease_bench test/bench/ease_kernel_bench.c \
 *       src/kernel/*.c -lopenblas -lpthread -lm
 *   OPENBLAS_NUM_THREADS=2 /tmp/ease_bench [N] [RUNS]
 *
 * Defaults: N = 8776 (ml-latest-small's item count), 3 runs of each.  The
 * matrix is a random symmetric positive definite one (M M^T / N + I);
 * the time is the inversion only, as train_ease runs it with
 * recsys.threads = 2.  Prints each run, the medians, and the largest
 * difference between the two inverses.
 *
 * Figures (2-core AMD EPYC VM, OpenBLAS 0.3.21 pthread, 2 threads,
 * N = 8776, median of 5): blocked 3.75 s, spotrf + spotri + copy 3.65 s
 * (+2.7%); max |difference| 1.0e-06.  Per phase (median of 3, one run):
 * Cholesky 1.14 s vs spotrf 1.19 s, L^-1 1.18 s vs strtri 1.13 s,
 * L^-T L^-1 1.17 s vs slauum 1.08 s.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "ease.h"
#include "rng.h"

extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
extern void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info);

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int			n = argc > 1 ? atoi(argv[1]) : 8776;
	int			runs = argc > 2 ? atoi(argv[2]) : 3;
	size_t		bytes = sizeof(float) * (size_t) n * n;
	float	   *M = malloc(bytes);
	float	   *G = malloc(bytes);
	float	   *A = malloc(bytes);
	float	   *B = malloc(bytes);
	double	   *t_blocked = malloc(sizeof(double) * runs);
	double	   *t_lapack = malloc(sizeof(double) * runs);
	double		worst = 0;

	for (size_t i = 0; i < (size_t) n * n; i++)
		M[i] = rs_rng_uniform_float(7, i) - 0.5f;
	cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, n, 1.0f / n, M, n, 0.0f, G, n);
	for (int64_t i = 0; i < n; i++)
	{
		G[i * n + i] += 1.0f;
		for (int64_t j = i + 1; j < n; j++)
			G[j * n + i] = G[i * n + j];
	}

	for (int r = 0; r < runs; r++)
	{
		double		t0;
		int			info = 0;

		memcpy(A, G, bytes);
		t0 = now();
		if (rs_ease_invert(A, n, NULL, NULL) != 0)
			return 1;
		t_blocked[r] = now() - t0;

		memcpy(B, G, bytes);
		t0 = now();
		spotrf_("L", &n, B, &n, &info);
		if (info == 0)
			spotri_("L", &n, B, &n, &info);
		for (int64_t i = 0; i < n; i++)
			for (int64_t j = i + 1; j < n; j++)
				B[j * n + i] = B[i * n + j];
		t_lapack[r] = now() - t0;
		if (info != 0)
			return 1;
		printf("run %d: blocked %.2f s, spotrf + spotri + copy %.2f s\n", r + 1, t_blocked[r], t_lapack[r]);
	}
	for (size_t i = 0; i < (size_t) n * n; i++)
		worst = fmax(worst, fabs(A[i] - B[i]));
	qsort(t_blocked, runs, sizeof(double), cmp_double);
	qsort(t_lapack, runs, sizeof(double), cmp_double);
	printf("n = %d, median of %d: blocked %.2f s, spotrf + spotri + copy %.2f s; max |difference| %.2e\n",
		   n, runs, t_blocked[runs / 2], t_lapack[runs / 2], worst);
	return 0;
}
