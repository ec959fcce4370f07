/*
 * factor_scores.c
 *		Serving arithmetic of latent factor models: row norms (once per
 *		loaded model) and cosines from the dot products rs_score_items
 *		computes; a dot product, and the weighted sum of outer products
 *		that explain's user system is made of.
 *
 * Pure C: no PostgreSQL calls, safe on several threads.
 */
#include <math.h>

#include "factor_scores.h"

void
rs_row_norms(const float *Y, int64_t n, int k, float *norms)
{
	for (int64_t i = 0; i < n; i++)
	{
		double		s = 0;

		for (int f = 0; f < k; f++)
			s += (double) Y[i * k + f] * Y[i * k + f];
		norms[i] = (float) sqrt(s);
	}
}

void
rs_cosine_from_dots(float *scores, const float *norms, int64_t i, int64_t n)
{
	float		norm = norms[i];

	for (int64_t j = 0; j < n; j++)
		scores[j] = (norm > 0 && norms[j] > 0) ? scores[j] / (norm * norms[j]) : 0;
}

float
rs_dot(const float *a, const float *b, int k)
{
	float		s = 0;

	for (int f = 0; f < k; f++)
		s += a[f] * b[f];
	return s;
}

void
rs_cosine_among(const float *Y, const float *norms, const int32_t *idx, int n, int k, float *out)
{
	for (int a = 0; a < n; a++)
	{
		float		na = norms[idx[a]];

		out[(int64_t) a * n + a] = na > 0 ? 1 : 0;
		for (int b = a + 1; b < n; b++)
		{
			float		nb = norms[idx[b]];
			float		c = (na > 0 && nb > 0) ?
				rs_dot(Y + (int64_t) idx[a] * k, Y + (int64_t) idx[b] * k, k) / (na * nb) : 0;

			out[(int64_t) a * n + b] = c;
			out[(int64_t) b * n + a] = c;
		}
	}
}

void
rs_add_weighted_outer(const float *Y, const int32_t *idx, const float *c, int64_t n, int k,
					  float *A)
{
	for (int64_t m = 0; m < n; m++)
	{
		const float *y = Y + (int64_t) idx[m] * k;

		for (int a = 0; a < k; a++)
			for (int b = 0; b < k; b++)
				A[a * k + b] += c[m] * y[a] * y[b];
	}
}
