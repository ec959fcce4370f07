/*
 * test_simd.c
 *		Unit tests of the instruction-set dispatch (src/kernel/simd.c): the
 *		forced build is the one the kernels use, an unsupported one is
 *		refused, and the builds this CPU runs agree on an ALS update (to
 *		rounding: FMA contracts differently) and each is deterministic.
 */
#include <stdlib.h>
#include <string.h>

#include "als.h"
#include "rng.h"
#include "simd.h"
#include "unit.h"

UNIT_TEST(simd_force_selects_the_build)
{
	RsIsa		current = rs_simd_isa();	/* the runner forced it */

	UNIT_CHECK(rs_simd_supported(RS_ISA_BASELINE));
	UNIT_CHECK(rs_simd_supported(current));
	UNIT_CHECK(!rs_simd_force(RS_ISA_COUNT));
	UNIT_CHECK(rs_simd_isa() == current);
	for (int isa = 0; isa < RS_ISA_COUNT; isa++)
	{
		bool		ok = rs_simd_force(isa);

		UNIT_CHECK(ok == rs_simd_supported((RsIsa) isa));
		if (ok)
			UNIT_CHECK(rs_simd_isa() == (RsIsa) isa);
	}
	UNIT_CHECK(strcmp(rs_simd_isa_name(RS_ISA_AVX512), "avx512") == 0);
	rs_simd_force(current);
	UNIT_CHECK(rs_simd_isa() == current);
}

#define SI_USERS 40
#define SI_ITEMS 30
#define SI_K 16

/* One implicit ALS half-step of a fixed random problem, with build isa. */
static void
simd_implicit_step(int isa, float *X)
{
	static int64_t indptr[SI_USERS + 1];
	static int32_t indices[SI_USERS * SI_ITEMS];
	static float data[SI_USERS * SI_ITEMS];
	static float Y[SI_ITEMS * SI_K];
	static float G[SI_K * SI_K];
	RsCsr		R;
	int64_t		nnz = 0;
	size_t		ws_floats = rs_als_workspace_floats(SI_K, 1);
	float	   *ws = malloc(ws_floats * sizeof(float));

	for (int u = 0; u < SI_USERS; u++)
	{
		indptr[u] = nnz;
		for (int i = 0; i < SI_ITEMS; i++)
			if (rs_rng_u64(5, (uint64_t) u * SI_ITEMS + i) % 3 == 0)
			{
				indices[nnz] = i;
				data[nnz] = 1.0f + (float) (rs_rng_u64(6, (uint64_t) nnz) % 4);
				nnz++;
			}
	}
	indptr[SI_USERS] = nnz;
	R.n_rows = SI_USERS;
	R.n_cols = SI_ITEMS;
	R.nnz = nnz;
	R.indptr = indptr;
	R.indices = indices;
	R.data = data;
	rs_init_factors(Y, SI_ITEMS, SI_K, 7, 0.1f);
	rs_init_factors(X, SI_USERS, SI_K, 8, 0.1f);
	rs_gram(Y, SI_ITEMS, SI_K, G, NULL, NULL);
	rs_simd_force(isa);
	UNIT_CHECK(rs_als_implicit_update(&R, Y, G, X, SI_K, 0.1f, 10.0f, 3,
									  0, SI_USERS, 1, ws) == RS_ALS_OK);
	free(ws);
}

UNIT_TEST(simd_builds_agree)
{
	RsIsa		current = rs_simd_isa();
	static float base[SI_USERS * SI_K],
				X[SI_USERS * SI_K],
				again[SI_USERS * SI_K];

	simd_implicit_step(RS_ISA_BASELINE, base);
	for (int isa = 0; isa < RS_ISA_COUNT; isa++)
	{
		double		worst = 0.0,
					largest = 0.0;

		if (!rs_simd_supported((RsIsa) isa))
			continue;
		simd_implicit_step(isa, X);
		simd_implicit_step(isa, again);
		UNIT_CHECK(memcmp(X, again, sizeof(X)) == 0);
		for (int i = 0; i < SI_USERS * SI_K; i++)
		{
			double		d = fabs((double) X[i] - (double) base[i]);

			if (d > worst)
				worst = d;
			if (fabs(base[i]) > largest)
				largest = fabs(base[i]);
		}
		/* float rounding of a 16-factor solve, relative to the factors */
		if (!(worst <= 1e-4 * largest))
			fprintf(stderr, "  %s build: differs by %g from baseline (largest %g)\n",
					rs_simd_isa_name((RsIsa) isa), worst, largest);
		UNIT_CHECK(worst <= 1e-4 * largest);
	}
	rs_simd_force(current);
}
