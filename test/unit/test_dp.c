/*
 * test_dp.c
 *		Unit tests of src/kernel/dp.c: the analytic Gaussian calibration,
 *		the noise's distribution and layout, the clipping, the similarities.
 */
#include <stdlib.h>
#include <string.h>

#include "dp.h"
#include "ease.h"
#include "unit.h"

UNIT_TEST(dp_sigma_is_the_analytic_gaussian_mechanism)
{
	/*
	 * Reference values from an independent bisection of Balle and Wang's
	 * Theorem 8 in Python (math.erfc); (1, 1e-5) -> 3.73 is the value their
	 * paper's comparison with the classic 4.84 shows.
	 */
	UNIT_CHECK_NEAR(rs_dp_sigma(1, 1e-5, 1), 3.730631634815941, 1e-7);
	UNIT_CHECK_NEAR(rs_dp_sigma(0.5, 1e-5, 1), 7.031826675582501, 1e-7);
	UNIT_CHECK_NEAR(rs_dp_sigma(1, 1e-7, 1), 4.678663060910844, 1e-7);
	UNIT_CHECK_NEAR(rs_dp_sigma(4, 1e-7, 1), 1.2978428080430326, 1e-8);
	UNIT_CHECK_NEAR(rs_dp_sigma(8, 1e-6, 1), 0.6529353843582159, 1e-8);
	UNIT_CHECK_NEAR(rs_dp_sigma(0.1, 1e-5, 1), 30.749566131977893, 1e-6);
	/* linear in the sensitivity */
	UNIT_CHECK_NEAR(rs_dp_sigma(1, 1e-7, 25), 25 * rs_dp_sigma(1, 1e-7, 1), 1e-6);
}

UNIT_TEST(dp_sigma_meets_delta_and_is_the_smallest)
{
	double		eps[] = {0.05, 0.5, 1, 2, 8, 50};
	double		deltas[] = {1e-12, 1e-7, 1e-3, 0.5};

	for (int a = 0; a < 6; a++)
		for (int b = 0; b < 4; b++)
		{
			double		s = rs_dp_sigma(eps[a], deltas[b], 3);

			UNIT_CHECK(s > 0);
			UNIT_CHECK(rs_dp_gaussian_delta(eps[a], s, 3) <= deltas[b]);
			UNIT_CHECK(rs_dp_gaussian_delta(eps[a], s * 0.999, 3) > deltas[b]);
			/* below the classic calibration wherever that one is valid */
			if (eps[a] < 1)
				UNIT_CHECK(s < sqrt(2 * log(1.25 / deltas[b])) * 3 / eps[a]);
		}
	/* more privacy costs more noise */
	UNIT_CHECK(rs_dp_sigma(0.5, 1e-7, 1) > rs_dp_sigma(1, 1e-7, 1));
	UNIT_CHECK(rs_dp_sigma(1, 1e-9, 1) > rs_dp_sigma(1, 1e-7, 1));
}

UNIT_TEST(dp_sigma_refuses_bad_arguments)
{
	UNIT_CHECK(rs_dp_sigma(0, 1e-7, 1) < 0);
	UNIT_CHECK(rs_dp_sigma(-1, 1e-7, 1) < 0);
	UNIT_CHECK(rs_dp_sigma(INFINITY, 1e-7, 1) < 0);
	UNIT_CHECK(rs_dp_sigma(NAN, 1e-7, 1) < 0);
	UNIT_CHECK(rs_dp_sigma(1, 0, 1) < 0);
	UNIT_CHECK(rs_dp_sigma(1, 1, 1) < 0);
	UNIT_CHECK(rs_dp_sigma(1, NAN, 1) < 0);
	UNIT_CHECK(rs_dp_sigma(1, 1e-7, 0) < 0);
}

UNIT_TEST(dp_gaussian_has_mean_zero_and_unit_variance)
{
	int			n = 1000000;
	double		sum = 0;
	double		sq = 0;
	int			beyond2 = 0;

	for (int i = 0; i < n; i++)
	{
		double		z = rs_dp_gaussian(12345, (uint64_t) i);

		sum += z;
		sq += z * z;
		beyond2 += fabs(z) > 2;
	}
	/* standard errors: mean 0.001, variance 0.0014, tail share 0.0002 */
	UNIT_CHECK_NEAR(sum / n, 0, 0.005);
	UNIT_CHECK_NEAR(sq / n, 1, 0.007);
	UNIT_CHECK_NEAR((double) beyond2 / n, 0.0455, 0.001);
	/* a stream is a pure function of (seed, counter); seeds differ */
	UNIT_CHECK(rs_dp_gaussian(7, 99) == rs_dp_gaussian(7, 99));
	UNIT_CHECK(rs_dp_gaussian(7, 99) != rs_dp_gaussian(8, 99));
}

UNIT_TEST(dp_gram_noise_is_symmetric_after_finish_and_has_sigma)
{
	int32_t		n = 300;
	float	   *G = calloc((size_t) n * n, sizeof(float));
	float	   *H = calloc((size_t) n * n, sizeof(float));
	double		sum = 0;
	double		sq = 0;
	int64_t		m = 0;

	/* in two chunks of rows, as the glue calls it, equals one call */
	rs_dp_add_gram_noise(G, n, 0, 100, 2.5, 77);
	rs_dp_add_gram_noise(G, n, 100, n, 2.5, 77);
	rs_dp_add_gram_noise(H, n, 0, n, 2.5, 77);
	UNIT_CHECK(memcmp(G, H, sizeof(float) * n * n) == 0);
	/* only the upper triangle is touched */
	UNIT_CHECK(G[1 * n + 0] == 0 && G[(n - 1) * n + 3] == 0);
	UNIT_CHECK(G[0] != 0 && G[0 * n + 1] != 0);
	for (int32_t i = 0; i < n; i++)
		for (int32_t j = i; j < n; j++)
		{
			sum += G[i * n + j];
			sq += (double) G[i * n + j] * G[i * n + j];
			m++;
		}
	UNIT_CHECK_NEAR(sum / m, 0, 0.05);
	UNIT_CHECK_NEAR(sqrt(sq / m), 2.5, 0.03);
	/* finish mirrors it: one noise value per pair, the same both ways */
	rs_ease_gram_finish(G, n, NULL, 0, 0, 0, NULL, NULL);
	for (int32_t i = 0; i < n; i++)
		for (int32_t j = 0; j < i; j++)
			if (G[i * n + j] != G[j * n + i])
				UNIT_CHECK(G[i * n + j] == G[j * n + i]);
	free(G);
	free(H);
}

UNIT_TEST(dp_noisy_user_count_is_centred_and_never_negative)
{
	double		sum = 0;
	int			n = 20000;

	for (int s = 0; s < n; s++)
		sum += (double) rs_dp_noisy_user_count(1000, 10, 30, (uint64_t) s);
	UNIT_CHECK_NEAR(sum / n, 1000, 1.0);
	for (int s = 0; s < 100; s++)
		UNIT_CHECK(rs_dp_noisy_user_count(0, 10, 30, (uint64_t) s) >= 0);
}

UNIT_TEST(dp_clip_bounds_each_users_contribution)
{
	/* users with 1, 3 and 10 items; clip to 3 */
	int64_t		indptr[] = {0, 1, 4, 14};
	int32_t		indices[14] = {0, 0, 1, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
	RsCsr		R = {3, 10, 14, indptr, indices, NULL};
	float		w[3];
	float		G[100];
	double		bound = rs_dp_gram_sensitivity(3);

	UNIT_CHECK_NEAR(bound, sqrt(3 * 4 / 2.0 + 1), 1e-12);
	rs_dp_clip_weights(&R, 3, w);
	UNIT_CHECK(w[0] == 1 && w[1] == 1);
	UNIT_CHECK_NEAR(w[2], sqrt(12.0 / 110.0), 1e-6);
	/* each user's upper triangle plus its user count stays within the bound */
	for (int u = 0; u < 3; u++)
	{
		RsCsr		one = {1, 10, indptr[u + 1] - indptr[u], indptr, indices + indptr[u], NULL};
		int64_t		ptr[2] = {0, indptr[u + 1] - indptr[u]};
		double		norm2 = 1;

		one.indptr = ptr;
		rs_ease_gram_counts(&one, 1, &w[u], G, NULL, NULL);
		for (int i = 0; i < 100; i++)
			norm2 += (double) G[i] * G[i];
		UNIT_CHECK(sqrt(norm2) <= bound);
		if (u == 1)
			UNIT_CHECK_NEAR(sqrt(norm2), bound, 1e-9);
	}
}

UNIT_TEST(dp_similarities_from_noisy_counts)
{
	/* counts: items 0, 1, 2 seen 4, 9, 1 times; 0-1 together 3, 0-2 -1 (noise), 1-2 1 */
	float		G[9] = {4, 3, -1, 3, 9, 1, -1, 1, 0.25f};
	float		C[9];
	float		diag[3];
	int32_t		nbr[6];
	float		sim[6];
	int32_t		count[3];

	memcpy(C, G, sizeof(G));
	UNIT_CHECK(rs_dp_similarities(C, 3, RS_KNN_COSINE, 1, -1e30f, 0, diag) == RS_KNN_OK);
	UNIT_CHECK_NEAR(C[1], 3 / sqrt(36.0), 1e-6);
	UNIT_CHECK(C[2] == 0);			/* a negative count is no co-occurrence */
	UNIT_CHECK_NEAR(C[5], 1 / sqrt(9.0), 1e-6);	/* item 2's count taken as 1 */
	rs_dense_top_k(C, 3, 0, 3, 2, nbr, sim, count);
	UNIT_CHECK(count[0] == 1 && nbr[0] == 1 && nbr[1] == -1 && sim[1] == 0);
	UNIT_CHECK(count[1] == 2 && nbr[2] == 0 && nbr[3] == 2);
	memcpy(C, G, sizeof(G));
	UNIT_CHECK(rs_dp_similarities(C, 3, RS_KNN_JACCARD, 1, -1e30f, 3, diag) == RS_KNN_OK);
	UNIT_CHECK_NEAR(C[1], 3 / 10.0 * 0.5, 1e-6);
	UNIT_CHECK(rs_dp_similarities(C, 3, RS_KNN_DOT, 1, -1e30f, 0, diag) == RS_KNN_ERR_ARGUMENT);
}

UNIT_TEST(dp_threshold_drops_pairs_below_it)
{
	float		G[9] = {4, 3, 1.5f, 3, 9, 2, 1.5f, 2, 1};
	float		diag[3];

	UNIT_CHECK(rs_dp_similarities(G, 3, RS_KNN_COSINE, 1, 2, 0, diag) == RS_KNN_OK);
	UNIT_CHECK(G[2] == 0 && G[6] == 0);	/* 1.5 < 2: no co-occurrence */
	UNIT_CHECK(G[1] > 0 && G[5] > 0);	/* 3 and 2 stay */
	/* sigma sqrt(2 ln(n (n + 1) / 2)) */
	UNIT_CHECK_NEAR(rs_dp_universal_threshold(1000, 2), 2 * sqrt(2 * log(500500.0)), 1e-9);
	UNIT_CHECK(rs_dp_universal_threshold(1, 2) == 0);
	/* EASE's version: the upper triangle off the diagonal only */
	{
		float		H[9] = {0.5f, 3, 1.5f, 0, -4, 2, 0, 0, 1};

		rs_dp_threshold_pairs(H, 3, 2);
		UNIT_CHECK(H[0] == 0.5f && H[4] == -4 && H[8] == 1);
		UNIT_CHECK(H[1] == 3 && H[2] == 0 && H[5] == 2);
	}
}

UNIT_TEST(dp_drop_zero_weights_compacts_lists)
{
	int32_t		nbr[6] = {4, 2, 7, 1, 3, -1};
	float		w[6] = {0.5f, 0, -0.0f, 0, 0, 0};
	int32_t		count[2] = {3, 2};

	rs_dp_drop_zero_weights(nbr, w, count, 2, 3);
	UNIT_CHECK(count[0] == 1 && nbr[0] == 4 && w[0] == 0.5f && nbr[1] == -1 && nbr[2] == -1);
	UNIT_CHECK(count[1] == 0 && nbr[3] == -1 && nbr[4] == -1);
}
