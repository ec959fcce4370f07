/*
 * factor_scores.c
 *		Item-item similarity of latent factor models: row norms (once per
 *		loaded model) and cosines from the dot products rs_score_items
 *		computes.
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
