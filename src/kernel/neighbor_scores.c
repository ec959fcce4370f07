/*
 * neighbor_scores.c
 *		Scoring with stored neighbour lists: a user's score of item j is
 *		the sum over the user's items i of their input weight times the
 *		weight of j in i's list (item-kNN similarities, EASE's B); and a
 *		user-kNN score of item i, the neighbours' weights of i times their
 *		similarity, over the sum of the similarities.
 *
 * Pure C: no PostgreSQL calls, safe on several threads.
 */
#include <math.h>

#include "neighbor_scores.h"

int
rs_neighbor_scores(const RsCsr *nb, const int32_t *rows, const float *inputs, int64_t n,
				   float *scores)
{
	for (int64_t m = 0; m < n; m++)
		if (rows[m] < 0 || rows[m] >= nb->n_rows)
			return -1;
	for (int32_t j = 0; j < nb->n_cols; j++)
		scores[j] = NAN;
	for (int64_t m = 0; m < n; m++)
	{
		int32_t		i = rows[m];

		for (int64_t p = nb->indptr[i]; p < nb->indptr[i + 1]; p++)
		{
			int32_t		j = nb->indices[p];
			float		add = inputs[m] * nb->data[p];

			scores[j] = isnan(scores[j]) ? add : scores[j] + add;
		}
	}
	return 0;
}

double
rs_user_neighbor_begin(const float *sims, int64_t n, float *scores, int32_t n_items)
{
	double		total = 0;

	for (int64_t p = 0; p < n; p++)
		total += fabs(sims[p]);
	for (int32_t i = 0; i < n_items; i++)
		scores[i] = NAN;
	return total;
}

void
rs_user_neighbor_add(float *scores, const int32_t *items, const int32_t *map,
					 const float *weights, int64_t n, float sim, double total)
{
	double		divisor = total > 1e-12 ? total : 1e-12;

	for (int64_t r = 0; r < n; r++)
	{
		int32_t		i = map ? map[items[r]] : items[r];

		if (i < 0)
			continue;
		scores[i] = (isnan(scores[i]) ? 0 : scores[i]) + (float) (sim * weights[r] / divisor);
	}
}
