/*
 * test_mmr.c
 *		Unit tests of src/kernel/mmr.c (MMR re-ranking, intra-list
 *		distance) and rs_cosine_among (src/kernel/factor_scores.c).
 */
#include <stdlib.h>
#include <string.h>

#include "factor_scores.h"
#include "mmr.h"
#include "unit.h"

/*
 * A pool of 6 in two groups: 0, 1, 2 alike (similarity 0.9), 3, 4, 5
 * alike (0.8), across groups 0.1; relevance falls with the position.
 */
static void
two_groups(float *sim)
{
	for (int a = 0; a < 6; a++)
		for (int b = 0; b < 6; b++)
			sim[a * 6 + b] = a == b ? 1 : (a < 3) == (b < 3) ? (a < 3 ? 0.9f : 0.8f) : 0.1f;
}

UNIT_TEST(mmr_lambda_zero_keeps_the_pool_order)
{
	float		rel[6] = {5, 4, 3, 2, 1, 0};
	float		sim[36];
	float		scratch[12];
	int32_t		order[6];

	two_groups(sim);
	UNIT_CHECK(rs_mmr_rerank(rel, sim, 6, 6, 0, scratch, order) == 6);
	for (int r = 0; r < 6; r++)
		UNIT_CHECK(order[r] == r);
	/* equal relevance: ties go to the earlier candidate */
	for (int c = 0; c < 6; c++)
		rel[c] = 7;
	UNIT_CHECK(rs_mmr_rerank(rel, sim, 6, 3, 0, scratch, order) == 3);
	UNIT_CHECK(order[0] == 0 && order[1] == 1 && order[2] == 2);
}

UNIT_TEST(mmr_alternates_groups)
{
	float		rel[6] = {1.0f, 0.95f, 0.9f, 0.5f, 0.45f, 0.4f};
	float		sim[36];
	float		scratch[12];
	int32_t		order[6];

	two_groups(sim);
	/*
	 * lambda 0.5, relevance scaled to [0, 1] by (r - 0.4) / 0.6: after 0,
	 * candidate 1 has 0.5 (0.917) - 0.5 (0.9) = 0.008, candidate 3 has
	 * 0.5 (0.167) - 0.5 (0.1) = 0.033: the other group comes second
	 */
	UNIT_CHECK(rs_mmr_rerank(rel, sim, 6, 3, 0.5, scratch, order) == 3);
	UNIT_CHECK(order[0] == 0);
	UNIT_CHECK(order[1] == 3);
	UNIT_CHECK(order[2] == 1);
	/* a weak push keeps the relevance order */
	UNIT_CHECK(rs_mmr_rerank(rel, sim, 6, 3, 0.05, scratch, order) == 3);
	UNIT_CHECK(order[0] == 0 && order[1] == 1 && order[2] == 2);
	/* scaling every score the same way changes nothing */
	for (int c = 0; c < 6; c++)
		rel[c] = rel[c] * 1000 - 3;
	UNIT_CHECK(rs_mmr_rerank(rel, sim, 6, 3, 0.5, scratch, order) == 3);
	UNIT_CHECK(order[0] == 0 && order[1] == 3 && order[2] == 1);
}

UNIT_TEST(mmr_lambda_one_and_edges)
{
	float		rel[6] = {1, 0.9f, 0.8f, 0.7f, 0.6f, NAN};
	float		sim[36];
	float		scratch[12];
	int32_t		order[6];

	two_groups(sim);
	sim[1 * 6 + 2] = sim[2 * 6 + 1] = NAN;	/* read as 0 */
	/* diversity alone: the first is the first of the pool, then the least alike */
	UNIT_CHECK(rs_mmr_rerank(rel, sim, 6, 6, 1, scratch, order) == 6);
	UNIT_CHECK(order[0] == 0);
	UNIT_CHECK(order[1] == 3);
	/* every pick once */
	{
		int			seen[6] = {0};

		for (int r = 0; r < 6; r++)
			seen[order[r]]++;
		for (int c = 0; c < 6; c++)
			UNIT_CHECK(seen[c] == 1);
	}
	/* k beyond the pool: the pool; NaN relevance ranks as the lowest */
	UNIT_CHECK(rs_mmr_rerank(rel, sim, 6, 10, 0, scratch, order) == 6);
	UNIT_CHECK(order[5] == 5);
	UNIT_CHECK(rs_mmr_rerank(rel, sim, 0, 3, 0.5, scratch, order) == 0);
	UNIT_CHECK(rs_mmr_rerank(rel, sim, 1, 3, 0.5, scratch, order) == 1 && order[0] == 0);
}

/*
 * Non-finite relevance (a diverged model, review 2): +Inf first, then the
 * finite scores by MMR, then -Inf and NaN; every candidate once and no
 * position outside the pool (Inf / Inf used to be the "picked" mark).
 */
UNIT_TEST(mmr_non_finite_relevance)
{
	float		rel[6] = {1, INFINITY, -INFINITY, 0.5f, NAN, INFINITY};
	float		sim[36];
	float		scratch[12];
	int32_t		order[6];
	int			seen[6] = {0};

	two_groups(sim);
	for (int t = 0; t <= 2; t++)
	{
		UNIT_CHECK(rs_mmr_rerank(rel, sim, 6, 6, t / 2.0, scratch, order) == 6);
		memset(seen, 0, sizeof(seen));
		for (int r = 0; r < 6; r++)
		{
			UNIT_CHECK(order[r] >= 0 && order[r] < 6);
			if (order[r] >= 0 && order[r] < 6)
				seen[order[r]]++;
		}
		for (int c = 0; c < 6; c++)
			UNIT_CHECK(seen[c] == 1);
		UNIT_CHECK((order[0] == 1 && order[1] == 5) || (order[0] == 5 && order[1] == 1));
		UNIT_CHECK((order[2] == 0 && order[3] == 3) || (order[2] == 3 && order[3] == 0));
		UNIT_CHECK((order[4] == 2 && order[5] == 4) || (order[4] == 4 && order[5] == 2));
	}
	/* lambda 0: ties by position within each group */
	UNIT_CHECK(rs_mmr_rerank(rel, sim, 6, 3, 0, scratch, order) == 3);
	UNIT_CHECK(order[0] == 1 && order[1] == 5 && order[2] == 0);
	/* all infinite, and a range that overflows a float */
	for (int c = 0; c < 6; c++)
		rel[c] = c % 2 ? INFINITY : -INFINITY;
	UNIT_CHECK(rs_mmr_rerank(rel, sim, 6, 6, 0.3, scratch, order) == 6);
	UNIT_CHECK(order[0] % 2 == 1 && order[1] % 2 == 1 && order[2] % 2 == 1);
	UNIT_CHECK(order[3] % 2 == 0 && order[4] % 2 == 0 && order[5] % 2 == 0);
	for (int c = 0; c < 6; c++)
		rel[c] = c == 0 ? 3e38f : c == 5 ? -3e38f : 0;
	UNIT_CHECK(rs_mmr_rerank(rel, sim, 6, 6, 0, scratch, order) == 6);
	UNIT_CHECK(order[0] == 0 && order[5] == 5);
}

UNIT_TEST(mmr_matches_brute_force)
{
	enum
	{
		N = 40, K = 12
	};
	float		rel[N];
	float		sim[N * N];
	float		scratch[2 * N];
	int32_t		order[K];
	unsigned	seed = 7;

	for (int c = 0; c < N; c++)
		rel[c] = (float) (rand_r(&seed) % 1000) / 10;
	for (int a = 0; a < N; a++)
		for (int b = 0; b <= a; b++)
			sim[a * N + b] = sim[b * N + a] = a == b ? 1 : (float) (rand_r(&seed) % 2001 - 1000) / 1000;
	for (int t = 0; t <= 10; t++)
	{
		double		lambda = t / 10.0;
		float		lo = rel[0],
					hi = rel[0];
		int			picked[N] = {0};

		for (int c = 0; c < N; c++)
			lo = fminf(lo, rel[c]), hi = fmaxf(hi, rel[c]);
		UNIT_CHECK(rs_mmr_rerank(rel, sim, N, K, lambda, scratch, order) == K);
		/* each pick maximises the objective over the rest */
		for (int s = 0; s < K; s++)
		{
			int			best = -1;
			double		best_value = 0;

			for (int c = 0; c < N; c++)
			{
				double		penalty = -INFINITY,
							value;

				if (picked[c])
					continue;
				for (int p = 0; p < s; p++)
					penalty = fmax(penalty, sim[order[p] * N + c]);
				value = (1 - lambda) * (rel[c] - lo) / (hi - lo) - (s > 0 ? lambda * penalty : 0);
				if (best < 0 || value > best_value + 1e-9)
					best = c, best_value = value;
			}
			UNIT_CHECK(order[s] == best);
			picked[order[s]] = 1;
		}
	}
}

UNIT_TEST(intra_list_distance_by_hand)
{
	/*
	 * 3 items x 4 users: item 0 bought by users 0, 1; item 1 by 0, 1 (the
	 * same: distance 0); item 2 by 1, 2, 3 (cosine 1 / sqrt(6) with each)
	 */
	int64_t		indptr[4] = {0, 2, 4, 7};
	int32_t		indices[7] = {0, 1, 0, 1, 1, 2, 3};
	float		data[7] = {1, 1, 1, 1, 1, 1, 1};
	RsCsr		columns = {3, 4, 7, indptr, indices, data};
	uint8_t		mark[4] = {0};
	int32_t		list[4] = {0, 1, 2, -1};
	double		d01 = 0,
				d02 = 1 - 1 / sqrt(6.0),
				d12 = d02;

	UNIT_CHECK_NEAR(rs_intra_list_distance(&columns, list, 3, mark), (d01 + d02 + d12) / 3, 1e-12);
	for (int u = 0; u < 4; u++)
		UNIT_CHECK(mark[u] == 0);
	UNIT_CHECK_NEAR(rs_intra_list_distance(&columns, list, 2, mark), 0, 1e-12);
	/* an item the matrix lacks is at distance 1 from each */
	UNIT_CHECK_NEAR(rs_intra_list_distance(&columns, list, 4, mark),
					(d01 + d02 + d12 + 3) / 6, 1e-12);
	UNIT_CHECK(rs_intra_list_distance(&columns, list, 1, mark) == -1);
	for (int u = 0; u < 4; u++)
		UNIT_CHECK(mark[u] == 0);
}

UNIT_TEST(cosine_among_items)
{
	/* rows (3, 4), (0, 0), (-4, 3), (6, 8) */
	float		Y[8] = {3, 4, 0, 0, -4, 3, 6, 8};
	float		norms[4];
	int32_t		idx[3] = {3, 2, 1};
	float		out[9];

	rs_row_norms(Y, 4, 2, norms);
	rs_cosine_among(Y, norms, idx, 3, 2, out);
	UNIT_CHECK_NEAR(out[0], 1, 1e-6);
	UNIT_CHECK_NEAR(out[1], 0, 1e-6);	/* (6, 8) . (-4, 3) = 0 */
	UNIT_CHECK(out[2] == 0 && out[6] == 0 && out[8] == 0);	/* a zero row */
	UNIT_CHECK(out[1] == out[3] && out[5] == out[7]);
	idx[1] = 0;
	rs_cosine_among(Y, norms, idx, 2, 2, out);
	UNIT_CHECK_NEAR(out[1], 1, 1e-6);	/* same direction */
}
