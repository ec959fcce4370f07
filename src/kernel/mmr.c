/*-------------------------------------------------------------------------
 *
 * mmr.c
 *		Diversity: maximal marginal relevance re-ranking and the intra-list
 *		distance of a recommendation list (see mmr.h).
 *
 * MMR keeps, for every candidate not yet picked, the largest similarity to
 * the picked ones, updated with one row of the similarity matrix per pick:
 * k picks cost O(k n), the matrix itself is the caller's (the model's
 * item_similarity callback, src/model.h).
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "mmr.h"

/*
 * Tiers of a candidate: +Inf relevance before every finite one, -Inf and
 * NaN after; MMR orders the candidates within a tier.  The scaled
 * relevance keeps the tier as +Inf / -Inf and NaN marks a picked one.
 */
static inline int
mmr_tier(float scaled)
{
	return isinf(scaled) ? (scaled > 0 ? 2 : 0) : 1;
}

int
rs_mmr_rerank(const float *relevance, const float *sim, int n, int k, double lambda,
			  float *scratch, int32_t *order)
{
	float	   *rel = scratch;		/* scaled relevance; NaN once picked */
	float	   *max_sim = scratch + n;	/* to the picked ones */
	float		lo = INFINITY;
	float		hi = -INFINITY;
	int			picked = 0;

	if (k > n)
		k = n;
	for (int c = 0; c < n; c++)
	{
		float		r = isnan(relevance[c]) ? -INFINITY : relevance[c];

		rel[c] = r;
		if (isfinite(r))
		{
			lo = fminf(lo, r);
			hi = fmaxf(hi, r);
		}
		max_sim[c] = 0;
	}
	for (int c = 0; c < n; c++)
		if (isfinite(rel[c]))
			/* in double: hi - lo may overflow a float */
			rel[c] = hi > lo ? (float) (((double) rel[c] - lo) / ((double) hi - lo)) : 1;

	while (picked < k)
	{
		int			best = -1;
		int			best_tier = -1;
		double		best_value = 0;

		for (int c = 0; c < n; c++)
		{
			int			tier;
			double		value;

			if (isnan(rel[c]))
				continue;
			tier = mmr_tier(rel[c]);
			/* nothing picked yet: no penalty (max over the empty set) */
			value = (tier == 1 ? (1 - lambda) * rel[c] : 0) -
				(picked > 0 ? lambda * max_sim[c] : 0);
			if (tier > best_tier || (tier == best_tier && value > best_value))
			{
				best = c;
				best_tier = tier;
				best_value = value;
			}
		}
		if (best < 0)
			break;
		order[picked++] = best;
		rel[best] = NAN;
		for (int c = 0; c < n; c++)
		{
			float		s = sim[(int64_t) best * n + c];

			if (isnan(s))
				s = 0;
			if (picked == 1 || s > max_sim[c])
				max_sim[c] = s;
		}
	}
	return picked;
}

double
rs_intra_list_distance(const RsCsr *columns, const int32_t *cols, int n, uint8_t *mark)
{
	double		sum = 0;
	int64_t		pairs = (int64_t) n * (n - 1) / 2;

	if (n < 2)
		return -1;
	for (int a = 0; a < n; a++)
	{
		int64_t		a0,
					a1;

		if (cols[a] < 0)
		{
			sum += n - 1 - a;	/* distance 1 to each later item */
			continue;
		}
		a0 = columns->indptr[cols[a]];
		a1 = columns->indptr[cols[a] + 1];
		for (int64_t p = a0; p < a1; p++)
			mark[columns->indices[p]] = 1;
		for (int b = a + 1; b < n; b++)
		{
			int64_t		b0,
						b1,
						common = 0;

			if (cols[b] < 0 || a1 == a0)
			{
				sum += 1;
				continue;
			}
			b0 = columns->indptr[cols[b]];
			b1 = columns->indptr[cols[b] + 1];
			if (b1 == b0)
			{
				sum += 1;
				continue;
			}
			for (int64_t p = b0; p < b1; p++)
				common += mark[columns->indices[p]];
			sum += 1 - common / sqrt((double) (a1 - a0) * (double) (b1 - b0));
		}
		for (int64_t p = a0; p < a1; p++)
			mark[columns->indices[p]] = 0;
	}
	return sum / pairs;
}
