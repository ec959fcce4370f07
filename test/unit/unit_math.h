/*
 * unit_math.h
 *		Small numerical helpers the kernel tests share: a seeded normal
 *		draw, a dense double solve to check kernels against, and the
 *		largest relative difference of a float result from a double one.
 */
#ifndef RECSYS_UNIT_MATH_H
#define RECSYS_UNIT_MATH_H

#include <math.h>
#include <stdint.h>

#include "rng.h"

/* A standard normal draw (Box-Muller on two counter-based uniforms). */
static inline double
unit_normal(uint64_t seed, uint64_t counter)
{
	double		u1 = rs_rng_uniform_double(seed, 2 * counter);
	double		u2 = rs_rng_uniform_double(seed, 2 * counter + 1);

	return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

/* Solve the n x n SPD system A z = b in double (Gaussian elimination, in place). */
static inline void
unit_dense_solve(double *A, double *b, int n)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
		{
			double		f = A[j * n + i] / A[i * n + i];

			for (int c = i; c < n; c++)
				A[j * n + c] -= f * A[i * n + c];
			b[j] -= f * b[i];
		}
	for (int i = n - 1; i >= 0; i--)
	{
		double		s = b[i];

		for (int c = i + 1; c < n; c++)
			s -= A[i * n + c] * b[c];
		b[i] = s / A[i * n + i];
	}
}

/* Largest |a - b| relative to max |b| (or 1e-6). */
static inline double
unit_rel_diff(const float *a, const double *b, int k)
{
	double		num = 0.0,
				den = 1e-6;

	for (int i = 0; i < k; i++)
	{
		num = fmax(num, fabs(a[i] - b[i]));
		den = fmax(den, fabs(b[i]));
	}
	return num / den;
}

#endif							/* RECSYS_UNIT_MATH_H */
