/*
 * test_als.c
 *		Unit tests of the ALS kernels (src/kernel/als.c): initialisation,
 *		Gram matrix, implicit CG against a direct solve (short and long rows),
 *		monotone implicit loss, held-out ranking on block-diagonal tastes,
 *		explicit biased ALS on a planted low-rank matrix, determinism across
 *		thread counts and chunkings, empty rows, and error statuses; the
 *		Bayesian (Gibbs) explicit sampler: the distribution of a row draw,
 *		the Normal-Wishart prior draw, determinism, a planted low-rank
 *		matrix, and its error statuses.
 *
 * The matrices are built here (test_csr_* below) so that these tests do not
 * depend on sparse.c.
 */
#include <stdlib.h>
#include <string.h>

#include "als.h"
#include "rng.h"
#include "score.h"
#include "unit.h"
#include "unit_math.h"

/* The kernels' loss and RMSE as values (no stop callback: they cannot stop). */
static double
implicit_loss(const RsCsr *R, const float *X, const float *Y, const float *YtY,
			  int k, float reg, float alpha)
{
	double		loss = NAN;

	rs_als_implicit_loss(R, X, Y, YtY, k, reg, alpha, 1, NULL, NULL, &loss);
	return loss;
}

static double
rmse(const RsCsr *R, const float *X, const float *xbias, const float *Y,
	 const float *ybias, float mu, int k, float clip_lo, float clip_hi)
{
	double		result = NAN;

	rs_rmse(R, X, xbias, Y, ybias, mu, k, clip_lo, clip_hi, NULL, NULL, &result);
	return result;
}

/* A CSR matrix owning its arrays. */
typedef struct TestCsr
{
	RsCsr		m;
} TestCsr;

/* Build a CSR from triplets (duplicates summed), by a counting sort. */
static TestCsr
test_csr_from_triplets(int32_t n_rows, int32_t n_cols, int64_t nnz,
					   const int32_t *rows, const int32_t *cols,
					   const float *vals)
{
	TestCsr		t;
	int64_t    *next = calloc((size_t) n_rows + 1, sizeof(int64_t));
	int32_t    *tmp_cols = malloc(sizeof(int32_t) * (nnz > 0 ? nnz : 1));
	float	   *tmp_vals = malloc(sizeof(float) * (nnz > 0 ? nnz : 1));
	int64_t		i,
				out = 0;
	int32_t		r;

	t.m.n_rows = n_rows;
	t.m.n_cols = n_cols;
	t.m.indptr = calloc((size_t) n_rows + 1, sizeof(int64_t));
	t.m.indices = malloc(sizeof(int32_t) * (nnz > 0 ? nnz : 1));
	t.m.data = malloc(sizeof(float) * (nnz > 0 ? nnz : 1));

	for (i = 0; i < nnz; i++)
		next[rows[i] + 1]++;
	for (r = 0; r < n_rows; r++)
		next[r + 1] += next[r];
	for (i = 0; i < nnz; i++)
	{
		int64_t		pos = next[rows[i]]++;

		tmp_cols[pos] = cols[i];
		tmp_vals[pos] = vals[i];
	}
	/* next[r] is now the end of row r; sort each row by insertion, merge */
	for (r = 0; r < n_rows; r++)
	{
		int64_t		begin = r == 0 ? 0 : next[r - 1];
		int64_t		end = next[r];
		int64_t		a,
					b;

		for (a = begin + 1; a < end; a++)
		{
			int32_t		c = tmp_cols[a];
			float		v = tmp_vals[a];

			for (b = a; b > begin && tmp_cols[b - 1] > c; b--)
			{
				tmp_cols[b] = tmp_cols[b - 1];
				tmp_vals[b] = tmp_vals[b - 1];
			}
			tmp_cols[b] = c;
			tmp_vals[b] = v;
		}
		for (a = begin; a < end; a++)
		{
			if (out > t.m.indptr[r] && t.m.indices[out - 1] == tmp_cols[a])
				t.m.data[out - 1] += tmp_vals[a];
			else
			{
				t.m.indices[out] = tmp_cols[a];
				t.m.data[out] = tmp_vals[a];
				out++;
			}
		}
		t.m.indptr[r + 1] = out;
	}
	t.m.nnz = out;
	free(next);
	free(tmp_cols);
	free(tmp_vals);
	return t;
}

/* The transpose (CSC of the input, as CSR). */
static TestCsr
test_csr_transpose(const RsCsr *in)
{
	TestCsr		t;
	int64_t    *next = calloc((size_t) in->n_cols + 1, sizeof(int64_t));
	int64_t		j;
	int32_t		r,
				c;

	t.m.n_rows = in->n_cols;
	t.m.n_cols = in->n_rows;
	t.m.nnz = in->nnz;
	t.m.indptr = calloc((size_t) in->n_cols + 1, sizeof(int64_t));
	t.m.indices = malloc(sizeof(int32_t) * (in->nnz > 0 ? in->nnz : 1));
	t.m.data = malloc(sizeof(float) * (in->nnz > 0 ? in->nnz : 1));
	for (j = 0; j < in->nnz; j++)
		t.m.indptr[in->indices[j] + 1]++;
	for (c = 0; c < in->n_cols; c++)
		t.m.indptr[c + 1] += t.m.indptr[c];
	memcpy(next, t.m.indptr, sizeof(int64_t) * ((size_t) in->n_cols + 1));
	for (r = 0; r < in->n_rows; r++)
		for (j = in->indptr[r]; j < in->indptr[r + 1]; j++)
		{
			int64_t		pos = next[in->indices[j]]++;

			t.m.indices[pos] = r;
			t.m.data[pos] = in->data[j];
		}
	free(next);
	return t;
}

static void
test_csr_free(TestCsr *t)
{
	free(t->m.indptr);
	free(t->m.indices);
	free(t->m.data);
}

/* A random sparse matrix: each entry present with probability density. */
static TestCsr
test_csr_random(int32_t n_rows, int32_t n_cols, double density,
				uint64_t seed, float vmin, float vmax)
{
	int64_t		cap = (int64_t) n_rows * n_cols;
	int32_t    *rows = malloc(sizeof(int32_t) * cap);
	int32_t    *cols = malloc(sizeof(int32_t) * cap);
	float	   *vals = malloc(sizeof(float) * cap);
	int64_t		nnz = 0,
				e;
	TestCsr		t;

	for (e = 0; e < cap; e++)
	{
		if (rs_rng_uniform_double(seed, 2 * e) < density)
		{
			rows[nnz] = (int32_t) (e / n_cols);
			cols[nnz] = (int32_t) (e % n_cols);
			vals[nnz] = vmin + (vmax - vmin) *
				(float) rs_rng_uniform_double(seed, 2 * e + 1);
			nnz++;
		}
	}
	t = test_csr_from_triplets(n_rows, n_cols, nnz, rows, cols, vals);
	free(rows);
	free(cols);
	free(vals);
	return t;
}

/* The exact implicit solution for row u, in double. */
static void
test_implicit_direct(const RsCsr *R, const float *Y, int k, float reg,
					 float alpha, int32_t u, double *x)
{
	double	   *A = calloc((size_t) k * k, sizeof(double));
	int64_t		i,
				j;
	int			a,
				c;

	memset(x, 0, sizeof(double) * k);
	for (i = 0; i < R->n_cols; i++)
		for (a = 0; a < k; a++)
			for (c = 0; c < k; c++)
				A[a * k + c] += (double) Y[i * k + a] * Y[i * k + c];
	for (a = 0; a < k; a++)
		A[a * k + a] += reg;
	for (j = R->indptr[u]; j < R->indptr[u + 1]; j++)
	{
		const float *y = Y + (size_t) R->indices[j] * k;
		double		v = R->data[j];
		double		w = alpha * fabs(v);

		for (a = 0; a < k; a++)
		{
			for (c = 0; c < k; c++)
				A[a * k + c] += w * y[a] * y[c];
			if (v > 0)
				x[a] += (1.0 + w) * y[a];
		}
	}
	unit_dense_solve(A, x, k);
	free(A);
}

/* Whether an array holds only finite values. */
static bool
test_all_finite(const float *v, int64_t n)
{
	int64_t		i;

	for (i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

/* One full implicit iteration (users then items), whole ranges. */
static int
test_implicit_iteration(const RsCsr *R, const RsCsr *Rt, float *X, float *Y,
						int k, float reg, float alpha, int cg_steps,
						int nthreads, float *ws)
{
	float	   *G = malloc(sizeof(float) * k * k);
	int			status;

	rs_gram(Y, R->n_cols, k, G, NULL, NULL);
	status = rs_als_implicit_update(R, Y, G, X, k, reg, alpha, cg_steps,
									0, R->n_rows, nthreads, ws);
	if (status == RS_ALS_OK)
	{
		rs_gram(X, R->n_rows, k, G, NULL, NULL);
		status = rs_als_implicit_update(Rt, X, G, Y, k, reg, alpha, cg_steps,
										0, Rt->n_rows, nthreads, ws);
	}
	free(G);
	return status;
}

UNIT_TEST(als_init_factors_deterministic)
{
	float		a[300],
				b[300],
				c[300];
	int			i;
	bool		in_range = true;
	double		mean = 0.0;

	rs_init_factors(a, 30, 10, 42, 0.01f);
	rs_init_factors(b, 30, 10, 42, 0.01f);
	rs_init_factors(c, 30, 10, 43, 0.01f);
	UNIT_CHECK(memcmp(a, b, sizeof(a)) == 0);
	UNIT_CHECK(memcmp(a, c, sizeof(a)) != 0);
	for (i = 0; i < 300; i++)
	{
		in_range &= a[i] >= 0.0f && a[i] < 0.01f;
		mean += a[i];
	}
	UNIT_CHECK(in_range);
	UNIT_CHECK_NEAR(mean / 300, 0.005, 0.001);
	/* a prefix is the same whatever n: values depend on the index only */
	rs_init_factors(c, 3, 10, 42, 0.01f);
	UNIT_CHECK(memcmp(a, c, sizeof(float) * 30) == 0);
}

UNIT_TEST(als_gram_matches_naive)
{
	int			n = 37,
				k = 5,
				a,
				c,
				i;
	float		Y[37 * 5],
				G[25];
	double		worst = 0.0;

	rs_init_factors(Y, n, k, 7, 1.0f);
	rs_gram(Y, n, k, G, NULL, NULL);
	for (a = 0; a < k; a++)
		for (c = 0; c < k; c++)
		{
			double		s = 0.0;

			for (i = 0; i < n; i++)
				s += (double) Y[i * k + a] * Y[i * k + c];
			worst = fmax(worst, fabs(s - G[a * k + c]));
		}
	UNIT_CHECK(worst < 1e-4);
	UNIT_CHECK(G[1 * k + 3] == G[3 * k + 1]);
}

/*
 * With many CG steps the implicit update must reach the exact solution of
 * the normal equations, for short rows (gathered), a row longer than the
 * gather limit (entries past it read in place), negative and zero values,
 * and k both a specialised constant and an odd size.
 */
UNIT_TEST(als_implicit_cg_matches_direct_solve)
{
	static const int ks[] = {13, 64};
	int			t;

	for (t = 0; t < 2; t++)
	{
		int			k = ks[t];
		int32_t		n_cols = 20000;
		int32_t		n_long = 9000;	/* > gather limit for both k */
		int64_t		cap = n_long + 60;
		int32_t    *rows = malloc(sizeof(int32_t) * cap);
		int32_t    *cols = malloc(sizeof(int32_t) * cap);
		float	   *vals = malloc(sizeof(float) * cap);
		float	   *Y = malloc(sizeof(float) * (size_t) n_cols * k);
		float	   *X = malloc(sizeof(float) * 4 * k);
		float	   *G = malloc(sizeof(float) * k * k);
		size_t		wsn = rs_als_workspace_floats(k, 2);
		float	   *ws = malloc(sizeof(float) * wsn);
		double	   *exact = malloc(sizeof(double) * k);
		int64_t		nnz = 0;
		int32_t		i,
					u;
		TestCsr		R;
		int			status;

		/* row 0: long; row 1: 50 entries incl. negative and zero; row 2:
		 * empty; row 3: a single entry */
		for (i = 0; i < n_long; i++)
		{
			rows[nnz] = 0;
			cols[nnz] = (int32_t) ((int64_t) i * 2 + (i % 3 == 0));
			vals[nnz++] = 1.0f + (float) (i % 5);
		}
		for (i = 0; i < 50; i++)
		{
			rows[nnz] = 1;
			cols[nnz] = i * 397 % n_cols;
			vals[nnz++] = i % 10 == 0 ? -2.0f : (i % 10 == 1 ? 0.0f : 0.5f * (float) (i % 4 + 1));
		}
		rows[nnz] = 3;
		cols[nnz] = 17;
		vals[nnz++] = 3.0f;
		R = test_csr_from_triplets(4, n_cols, nnz, rows, cols, vals);

		/* centred factors make a better-conditioned, more general test */
		for (i = 0; i < n_cols * k; i++)
			Y[i] = (float) (0.1 * unit_normal(11, (uint64_t) i));
		rs_init_factors(X, 4, k, 5, 0.01f);
		rs_gram(Y, n_cols, k, G, NULL, NULL);
		status = rs_als_implicit_update(&R.m, Y, G, X, k, 0.5f, 2.0f, 4 * k,
										0, 4, 2, ws);
		UNIT_CHECK(status == RS_ALS_OK);
		for (u = 0; u < 4; u++)
		{
			test_implicit_direct(&R.m, Y, k, 0.5f, 2.0f, u, exact);
			if (u == 2)
			{
				int			a;
				bool		zero = true;

				for (a = 0; a < k; a++)
					zero &= X[u * k + a] == 0.0f;
				UNIT_CHECK(zero);
			}
			else
			{
				if (getenv("UNIT_VERBOSE"))
					printf("  k=%d row %d rel diff %g\n", k, u, unit_rel_diff(X + u * k, exact, k));
				UNIT_CHECK(unit_rel_diff(X + u * k, exact, k) < 2e-4);
			}
		}

		free(rows);
		free(cols);
		free(vals);
		free(Y);
		free(X);
		free(G);
		free(ws);
		free(exact);
		test_csr_free(&R);
	}
}

/*
 * Frequency-scaled regularisation: row u solves the same system as plain
 * ALS with reg * (n_cols + alpha sum_i |r_ui|)^e.
 */
UNIT_TEST(als_implicit_scaled_reg_matches_direct_solve)
{
	enum
	{
		k = 8, n_cols = 40, nnz = 7
	};
	static const int32_t rows[nnz] = {0, 0, 0, 1, 1, 1, 1};
	static const int32_t cols[nnz] = {1, 5, 9, 2, 3, 30, 39};
	static const float vals[nnz] = {1, 2, 1, 1, -1, 3, 0.5f};
	const float reg = 0.01f,
				alpha = 4.0f,
				e = 0.75f;
	TestCsr		R = test_csr_from_triplets(2, n_cols, nnz, rows, cols, vals);
	float		Y[n_cols * k];
	float		X[2 * k];
	float		G[k * k];
	double		exact[k];
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 1));

	for (int i = 0; i < n_cols * k; i++)
		Y[i] = (float) (0.3 * unit_normal(3, (uint64_t) i));
	rs_init_factors(X, 2, k, 5, 0.01f);
	rs_gram(Y, n_cols, k, G, NULL, NULL);
	UNIT_CHECK(rs_als_implicit_update_scaled(&R.m, Y, G, X, k, reg, e, alpha, 4 * k,
											 0, 2, 1, ws) == RS_ALS_OK);
	/* row 0: 40 + 4 * 4; row 1: 40 + 4 * 5.5 */
	test_implicit_direct(&R.m, Y, k, reg * powf(56.0f, e), alpha, 0, exact);
	UNIT_CHECK(unit_rel_diff(X, exact, k) < 2e-4);
	test_implicit_direct(&R.m, Y, k, reg * powf(62.0f, e), alpha, 1, exact);
	UNIT_CHECK(unit_rel_diff(X + k, exact, k) < 2e-4);
	/* and it is not the unscaled solution */
	test_implicit_direct(&R.m, Y, k, reg, alpha, 1, exact);
	UNIT_CHECK(unit_rel_diff(X + k, exact, k) > 1e-2);
	UNIT_CHECK(rs_als_implicit_update_scaled(&R.m, Y, G, X, k, reg, NAN, alpha, 3,
											 0, 2, 1, ws) == RS_ALS_ERR_ARGUMENT);
	free(ws);
	test_csr_free(&R);
}

/* Each half-iteration solves a convex problem: the loss must not go up. */
UNIT_TEST(als_implicit_loss_decreases)
{
	int			k = 8;
	float		reg = 0.1f,
				alpha = 5.0f;
	TestCsr		R = test_csr_random(80, 60, 0.15, 99, 1.0f, 5.0f);
	TestCsr		Rt = test_csr_transpose(&R.m);
	float	   *X = malloc(sizeof(float) * 80 * k);
	float	   *Y = malloc(sizeof(float) * 60 * k);
	float		G[64];
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 1));
	double		first,
				prev,
				loss;
	bool		monotone = true;
	int			it;

	rs_init_factors(X, 80, k, 1, 0.01f);
	rs_init_factors(Y, 60, k, 2, 0.01f);
	rs_gram(Y, 60, k, G, NULL, NULL);
	first = prev = implicit_loss(&R.m, X, Y, G, k, reg, alpha);
	for (it = 0; it < 10; it++)
	{
		UNIT_CHECK(rs_als_implicit_update(&R.m, Y, G, X, k, reg, alpha, 3,
										  0, 80, 1, ws) == RS_ALS_OK);
		loss = implicit_loss(&R.m, X, Y, G, k, reg, alpha);
		monotone &= loss <= prev * (1.0 + 1e-5) + 1e-6;
		prev = loss;

		rs_gram(X, 80, k, G, NULL, NULL);
		UNIT_CHECK(rs_als_implicit_update(&Rt.m, X, G, Y, k, reg, alpha, 3,
										  0, 60, 1, ws) == RS_ALS_OK);
		rs_gram(Y, 60, k, G, NULL, NULL);
		loss = implicit_loss(&R.m, X, Y, G, k, reg, alpha);
		monotone &= loss <= prev * (1.0 + 1e-5) + 1e-6;
		prev = loss;
	}
	UNIT_CHECK(monotone);
	/* and it must actually learn something */
	UNIT_CHECK(prev < 0.6 * first);
	UNIT_CHECK(test_all_finite(X, 80 * k) && test_all_finite(Y, 60 * k));

	free(X);
	free(Y);
	free(ws);
	test_csr_free(&R);
	test_csr_free(&Rt);
}

/*
 * The loss and the starting factors on several threads: the same bits as
 * on one (each row's sums land in their own slot and are added in row
 * order; each value is a function of (seed, index)), and the loss equals
 * a naive double-precision sum over every (user, item) pair.
 */
UNIT_TEST(als_loss_and_init_same_on_threads)
{
	int			k = 8,
				n_users = 300,
				n_items = 40;
	float		reg = 0.1f,
				alpha = 3.0f;
	TestCsr		R = test_csr_random(n_users, n_items, 0.2, 5, 1.0f, 4.0f);
	float	   *X = malloc(sizeof(float) * n_users * k);
	float	   *X2 = malloc(sizeof(float) * n_users * k);
	float	   *Y = malloc(sizeof(float) * n_items * k);
	float		G[64];
	double		one = -1,
				naive = 0.0;

	rs_init_factors(X, n_users, k, 11, 0.5f);
	for (int nthreads = 2; nthreads <= 3; nthreads++)
	{
		memset(X2, 0, sizeof(float) * n_users * k);
		UNIT_CHECK(rs_init_factors_threads(X2, 0, n_users, k, 11, 0.5f, false,
										   nthreads) == RS_ALS_OK);
		UNIT_CHECK(memcmp(X, X2, sizeof(float) * n_users * k) == 0);
	}
	/* normal draws likewise, and a range that starts past row 0 */
	rs_init_normal(X2, n_users, k, 12, 0.5f);
	memset(Y, 0, sizeof(float) * n_items * k);
	UNIT_CHECK(rs_init_factors_threads(Y - (size_t) 7 * k, 7, 7 + n_items, k, 12, 0.5f,
									   true, 3) == RS_ALS_OK);
	UNIT_CHECK(memcmp(X2 + (size_t) 7 * k, Y, sizeof(float) * n_items * k) == 0);
	rs_init_factors(Y, n_items, k, 13, 0.5f);
	rs_gram(Y, n_items, k, G, NULL, NULL);
	UNIT_CHECK(rs_als_implicit_loss(&R.m, X, Y, G, k, reg, alpha, 1, NULL, NULL,
									&one) == RS_ALS_OK);
	for (int nthreads = 2; nthreads <= 4; nthreads++)
	{
		double		many = -2;

		UNIT_CHECK(rs_als_implicit_loss(&R.m, X, Y, G, k, reg, alpha, nthreads, NULL,
										NULL, &many) == RS_ALS_OK);
		UNIT_CHECK(memcmp(&one, &many, sizeof(double)) == 0);
	}
	for (int u = 0; u < n_users; u++)
	{
		for (int i = 0; i < n_items; i++)
		{
			double		s = 0.0,
						v = 0.0;

			for (int f = 0; f < k; f++)
				s += (double) X[u * k + f] * Y[i * k + f];
			for (int64_t j = R.m.indptr[u]; j < R.m.indptr[u + 1]; j++)
				if (R.m.indices[j] == i)
					v = R.m.data[j];
			naive += (1.0 + alpha * fabs(v)) * ((v > 0 ? 1.0 : 0.0) - s) * ((v > 0 ? 1.0 : 0.0) - s);
		}
	}
	for (int a = 0; a < n_users * k; a++)
		naive += reg * (double) X[a] * X[a];
	for (int a = 0; a < n_items * k; a++)
		naive += reg * (double) Y[a] * Y[a];
	UNIT_CHECK_NEAR(one / naive, 1.0, 1e-5);

	free(X);
	free(X2);
	free(Y);
	test_csr_free(&R);
}

/*
 * Four blocks of 10 users x 10 items; each user has every item of their
 * block but one.  The held-out item must rank first among unseen items.
 */
UNIT_TEST(als_implicit_block_holdout_ranks_first)
{
	int			k = 8,
				n = 40,
				it;
	int32_t		rows[400],
				cols[400];
	float		vals[400];
	int64_t		nnz = 0;
	int32_t		u,
				i;
	TestCsr		R,
				Rt;
	float	   *X = malloc(sizeof(float) * n * k);
	float	   *Y = malloc(sizeof(float) * n * k);
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 2));
	float		scores[40];
	int			hits = 0;

	for (u = 0; u < n; u++)
		for (i = (u / 10) * 10; i < (u / 10) * 10 + 10; i++)
			if (i != (u / 10) * 10 + u % 10)
			{
				rows[nnz] = u;
				cols[nnz] = i;
				vals[nnz++] = 1.0f;
			}
	R = test_csr_from_triplets(n, n, nnz, rows, cols, vals);
	Rt = test_csr_transpose(&R.m);
	rs_init_factors(X, n, k, 3, 0.01f);
	rs_init_factors(Y, n, k, 4, 0.01f);
	for (it = 0; it < 15; it++)
		UNIT_CHECK(test_implicit_iteration(&R.m, &Rt.m, X, Y, k, 0.1f, 10.0f,
										   3, 2, ws) == RS_ALS_OK);

	for (u = 0; u < n; u++)
	{
		uint8_t		seen[RS_BITMAP_BYTES(40)];
		int32_t		best;
		float		best_score;
		int64_t		j;

		memset(seen, 0, sizeof(seen));
		for (j = R.m.indptr[u]; j < R.m.indptr[u + 1]; j++)
			rs_bitmap_set(seen, R.m.indices[j]);
		rs_score_items(Y, NULL, n, k, X + u * k, scores);
		UNIT_CHECK(rs_topk(scores, n, 1, seen, &best, &best_score) == 1);
		hits += best == (u / 10) * 10 + u % 10;
	}
	UNIT_CHECK(hits == n);

	free(X);
	free(Y);
	free(ws);
	test_csr_free(&R);
	test_csr_free(&Rt);
}

/*
 * Explicit updates with every setting must equal a direct solve, both for
 * rows longer than k + 1 (primal solve, several tiles) and for shorter
 * ones (dual solve).
 */
UNIT_TEST(als_explicit_matches_direct_solve)
{
	int			k = 6,
				n_cols = 400,
				n_rows = 8,
				variant;
	TestCsr		R;
	float	   *Y = malloc(sizeof(float) * n_cols * k);
	float	   *ybias = malloc(sizeof(float) * n_cols);
	float		X[8 * 6],
				xbias[8];
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 1));
	int			i,
				n_short = 0,
				n_long = 0;

	/* rows 0-3 have ~200 entries, rows 4-7 a handful */
	{
		TestCsr		dense = test_csr_random(4, n_cols, 0.5, 21, 1.0f, 5.0f);
		TestCsr		sparse = test_csr_random(4, n_cols, 0.01, 22, 1.0f, 5.0f);

		R.m.n_rows = n_rows;
		R.m.n_cols = n_cols;
		R.m.nnz = dense.m.nnz + sparse.m.nnz;
		R.m.indptr = malloc(sizeof(int64_t) * (n_rows + 1));
		R.m.indices = malloc(sizeof(int32_t) * R.m.nnz);
		R.m.data = malloc(sizeof(float) * R.m.nnz);
		memcpy(R.m.indptr, dense.m.indptr, sizeof(int64_t) * 5);
		for (i = 1; i <= 4; i++)
			R.m.indptr[4 + i] = dense.m.nnz + sparse.m.indptr[i];
		memcpy(R.m.indices, dense.m.indices, sizeof(int32_t) * dense.m.nnz);
		memcpy(R.m.indices + dense.m.nnz, sparse.m.indices, sizeof(int32_t) * sparse.m.nnz);
		memcpy(R.m.data, dense.m.data, sizeof(float) * dense.m.nnz);
		memcpy(R.m.data + dense.m.nnz, sparse.m.data, sizeof(float) * sparse.m.nnz);
		test_csr_free(&dense);
		test_csr_free(&sparse);
	}
	for (i = 0; i < n_rows; i++)
	{
		int64_t		n = R.m.indptr[i + 1] - R.m.indptr[i];

		n_short += n > 0 && n < k;
		n_long += n > 128;
	}
	UNIT_CHECK(n_short >= 2 && n_long >= 2);

	for (i = 0; i < n_cols * k; i++)
		Y[i] = (float) (0.5 * unit_normal(3, (uint64_t) i));
	for (i = 0; i < n_cols; i++)
		ybias[i] = (float) (0.3 * unit_normal(4, (uint64_t) i));

	for (variant = 0; variant < 3; variant++)
	{
		bool		with_bias = variant != 1;
		bool		weighted = variant == 2;
		float		reg = 0.3f,
					reg_bias = 0.1f,
					mu = 3.0f;
		int32_t		u;

		UNIT_CHECK(rs_als_explicit_update(&R.m, Y, ybias, mu, X,
										  with_bias ? xbias : NULL, k, reg,
										  reg_bias, weighted, 0, n_rows, 1, ws) == RS_ALS_OK);
		for (u = 0; u < n_rows; u++)
		{
			int			k1 = k + (with_bias ? 1 : 0);
			double		A[49],
						b[7];
			float		got[7];
			int64_t		j;
			int			a,
						c;
			double		n_u = (double) (R.m.indptr[u + 1] - R.m.indptr[u]);

			memset(A, 0, sizeof(A));
			memset(b, 0, sizeof(b));
			for (j = R.m.indptr[u]; j < R.m.indptr[u + 1]; j++)
			{
				int32_t		it = R.m.indices[j];
				double		yt[7];
				double		target = R.m.data[j] - mu - ybias[it];

				for (a = 0; a < k; a++)
					yt[a] = Y[it * k + a];
				yt[k] = 1.0;
				for (a = 0; a < k1; a++)
				{
					for (c = 0; c < k1; c++)
						A[a * k1 + c] += yt[a] * yt[c];
					b[a] += target * yt[a];
				}
			}
			for (a = 0; a < k; a++)
				A[a * k1 + a] += reg * (weighted ? n_u : 1.0);
			if (with_bias)
				A[k * k1 + k] += reg_bias * (weighted ? n_u : 1.0);
			unit_dense_solve(A, b, k1);
			memcpy(got, X + u * k, sizeof(float) * k);
			if (with_bias)
				got[k] = xbias[u];
			UNIT_CHECK(unit_rel_diff(got, b, k1) < 1e-4);
		}
	}
	free(Y);
	free(ybias);
	free(ws);
	test_csr_free(&R);
}

/*
 * A planted rank-3 matrix with biases plus N(0, 0.1^2) noise, 30% observed
 * (of which a tenth is held out): train and held-out RMSE near 0.1.
 */
UNIT_TEST(als_explicit_planted_rank3)
{
	int			n_users = 300,
				n_items = 200,
				rank = 3,
				k = 3,
				pass;
	float	   *U = malloc(sizeof(float) * n_users * rank);
	float	   *V = malloc(sizeof(float) * n_items * rank);
	float	   *bu = malloc(sizeof(float) * n_users);
	float	   *bi = malloc(sizeof(float) * n_items);
	int64_t		cap = (int64_t) n_users * n_items;
	int32_t    *rows = malloc(sizeof(int32_t) * cap);
	int32_t    *cols = malloc(sizeof(int32_t) * cap);
	float	   *vals = malloc(sizeof(float) * cap);
	int32_t    *hrows = malloc(sizeof(int32_t) * cap);
	int32_t    *hcols = malloc(sizeof(int32_t) * cap);
	float	   *hvals = malloc(sizeof(float) * cap);
	int64_t		ntrain = 0,
				nheld = 0,
				e;
	double		mu = 0.0;
	int			i,
				a;

	for (i = 0; i < n_users * rank; i++)
		U[i] = (float) (unit_normal(100, (uint64_t) i) / sqrt(sqrt(rank)));
	for (i = 0; i < n_items * rank; i++)
		V[i] = (float) (unit_normal(101, (uint64_t) i) / sqrt(sqrt(rank)));
	for (i = 0; i < n_users; i++)
		bu[i] = (float) (0.5 * unit_normal(102, (uint64_t) i));
	for (i = 0; i < n_items; i++)
		bi[i] = (float) (0.5 * unit_normal(103, (uint64_t) i));
	for (e = 0; e < cap; e++)
	{
		int32_t		u = (int32_t) (e / n_items),
					it = (int32_t) (e % n_items);
		double		r = 3.5 + bu[u] + bi[it] + 0.1 * unit_normal(104, (uint64_t) e);
		double		coin = rs_rng_uniform_double(105, (uint64_t) e);

		for (a = 0; a < rank; a++)
			r += U[u * rank + a] * V[it * rank + a];
		if (coin < 0.27)
		{
			rows[ntrain] = u;
			cols[ntrain] = it;
			vals[ntrain++] = (float) r;
			mu += r;
		}
		else if (coin < 0.30)
		{
			hrows[nheld] = u;
			hcols[nheld] = it;
			hvals[nheld++] = (float) r;
		}
	}
	mu /= (double) ntrain;

	for (pass = 0; pass < 2; pass++)
	{
		bool		weighted = pass == 1;
		float		reg = weighted ? 0.002f : 0.1f;
		TestCsr		R = test_csr_from_triplets(n_users, n_items, ntrain, rows, cols, vals);
		TestCsr		Rt = test_csr_transpose(&R.m);
		TestCsr		H = test_csr_from_triplets(n_users, n_items, nheld, hrows, hcols, hvals);
		float	   *X = malloc(sizeof(float) * n_users * k);
		float	   *Y = malloc(sizeof(float) * n_items * k);
		float	   *xb = calloc(n_users, sizeof(float));
		float	   *yb = calloc(n_items, sizeof(float));
		float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 2));
		double		train_rmse,
					held_rmse;
		int			it;

		rs_init_factors(X, n_users, k, 1, 0.01f);
		rs_init_factors(Y, n_items, k, 2, 0.01f);
		for (it = 0; it < 25; it++)
		{
			UNIT_CHECK(rs_als_explicit_update(&R.m, Y, yb, (float) mu, X, xb, k,
											  reg, reg, weighted, 0, n_users, 2, ws) == RS_ALS_OK);
			UNIT_CHECK(rs_als_explicit_update(&Rt.m, X, xb, (float) mu, Y, yb, k,
											  reg, reg, weighted, 0, n_items, 2, ws) == RS_ALS_OK);
		}
		train_rmse = rmse(&R.m, X, xb, Y, yb, (float) mu, k, -INFINITY, INFINITY);
		held_rmse = rmse(&H.m, X, xb, Y, yb, (float) mu, k, -INFINITY, INFINITY);
		UNIT_CHECK(train_rmse < 0.11);
		UNIT_CHECK(held_rmse < 0.13);
		/* clipping to a narrow band must make the error larger */
		UNIT_CHECK(rmse(&H.m, X, xb, Y, yb, (float) mu, k, 3.0f, 4.0f) > held_rmse);
		if (getenv("UNIT_VERBOSE"))
			printf("  explicit weighted=%d train %.4f held-out %.4f\n",
				   (int) weighted, train_rmse, held_rmse);

		free(X);
		free(Y);
		free(xb);
		free(yb);
		free(ws);
		test_csr_free(&R);
		test_csr_free(&Rt);
		test_csr_free(&H);
	}
	free(U);
	free(V);
	free(bu);
	free(bi);
	free(rows);
	free(cols);
	free(vals);
	free(hrows);
	free(hcols);
	free(hvals);
}

/*
 * Same seed: bit-identical factors whatever the thread count and however
 * the rows are chunked; includes a row longer than the gather limit.
 */
UNIT_TEST(als_deterministic_across_threads)
{
	int			k = 16,
				variant;
	int32_t		n_users = 5000,
				n_items = 300;
	TestCsr		R = test_csr_random(n_users, n_items, 0.02, 5, 1.0f, 3.0f);
	TestCsr		Rt = test_csr_transpose(&R.m);
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 3));
	float	   *X[3],
			   *Y[3],
			   *xb[3],
			   *yb[3];
	int			r;

	/* item 0 gets every user: longer than the gather limit for k = 16 */
	test_csr_free(&R);
	{
		int32_t    *rows = malloc(sizeof(int32_t) * (Rt.m.nnz + n_users));
		int32_t    *cols = malloc(sizeof(int32_t) * (Rt.m.nnz + n_users));
		float	   *vals = malloc(sizeof(float) * (Rt.m.nnz + n_users));
		int64_t		nnz = 0,
					j;
		int32_t		i;

		for (i = 0; i < Rt.m.n_rows; i++)
			for (j = Rt.m.indptr[i]; j < Rt.m.indptr[i + 1]; j++)
			{
				rows[nnz] = Rt.m.indices[j];
				cols[nnz] = i;
				vals[nnz++] = Rt.m.data[j];
			}
		for (i = 0; i < n_users; i++)
		{
			rows[nnz] = i;
			cols[nnz] = 0;
			vals[nnz++] = 1.0f;
		}
		R = test_csr_from_triplets(n_users, n_items, nnz, rows, cols, vals);
		free(rows);
		free(cols);
		free(vals);
	}
	test_csr_free(&Rt);
	Rt = test_csr_transpose(&R.m);
	UNIT_CHECK(Rt.m.indptr[1] - Rt.m.indptr[0] == n_users);

	for (variant = 0; variant < 2; variant++)
	{
		for (r = 0; r < 3; r++)
		{
			int			nthreads = r == 0 ? 1 : r == 1 ? 2 : 3;
			int			it;
			float		G[256];

			X[r] = malloc(sizeof(float) * n_users * k);
			Y[r] = malloc(sizeof(float) * n_items * k);
			xb[r] = calloc(n_users, sizeof(float));
			yb[r] = calloc(n_items, sizeof(float));
			rs_init_factors(X[r], n_users, k, 77, 0.01f);
			rs_init_factors(Y[r], n_items, k, 78, 0.01f);
			for (it = 0; it < 3; it++)
			{
				int32_t		b,
							chunk = r == 2 ? 777 : n_users;

				if (variant == 0)
				{
					rs_gram(Y[r], n_items, k, G, NULL, NULL);
					for (b = 0; b < n_users; b += chunk)
						UNIT_CHECK(rs_als_implicit_update(&R.m, Y[r], G, X[r], k, 0.1f, 20.0f, 3,
														  b, b + chunk < n_users ? b + chunk : n_users,
														  nthreads, ws) == RS_ALS_OK);
					rs_gram(X[r], n_users, k, G, NULL, NULL);
					UNIT_CHECK(rs_als_implicit_update(&Rt.m, X[r], G, Y[r], k, 0.1f, 20.0f, 3,
													  0, n_items, nthreads, ws) == RS_ALS_OK);
				}
				else
				{
					for (b = 0; b < n_users; b += chunk)
						UNIT_CHECK(rs_als_explicit_update(&R.m, Y[r], yb[r], 2.0f, X[r], xb[r], k,
														  0.1f, 0.1f, false,
														  b, b + chunk < n_users ? b + chunk : n_users,
														  nthreads, ws) == RS_ALS_OK);
					UNIT_CHECK(rs_als_explicit_update(&Rt.m, X[r], xb[r], 2.0f, Y[r], yb[r], k,
													  0.1f, 0.1f, false, 0, n_items, nthreads, ws) == RS_ALS_OK);
				}
			}
		}
		for (r = 1; r < 3; r++)
		{
			UNIT_CHECK(memcmp(X[0], X[r], sizeof(float) * n_users * k) == 0);
			UNIT_CHECK(memcmp(Y[0], Y[r], sizeof(float) * n_items * k) == 0);
			UNIT_CHECK(memcmp(xb[0], xb[r], sizeof(float) * n_users) == 0);
			UNIT_CHECK(memcmp(yb[0], yb[r], sizeof(float) * n_items) == 0);
		}
		UNIT_CHECK(test_all_finite(X[0], (int64_t) n_users * k));
		UNIT_CHECK(test_all_finite(Y[0], (int64_t) n_items * k));
		for (r = 0; r < 3; r++)
		{
			free(X[r]);
			free(Y[r]);
			free(xb[r]);
			free(yb[r]);
		}
	}
	free(ws);
	test_csr_free(&R);
	test_csr_free(&Rt);
}

/* Users and items with no entries get exact zeros, never NaN. */
UNIT_TEST(als_empty_rows_are_zero)
{
	int			k = 8,
				it;
	int32_t		rows[] = {1, 1, 3, 3, 3};
	int32_t		cols[] = {0, 2, 0, 2, 3};
	float		vals[] = {1, 2, 3, 1, 1};
	TestCsr		R = test_csr_from_triplets(5, 6, 5, rows, cols, vals);
	TestCsr		Rt = test_csr_transpose(&R.m);
	float		X[5 * 8],
				Y[6 * 8],
				xb[5],
				yb[6];
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 2));
	int			a;
	bool		zeros = true;

	rs_init_factors(X, 5, k, 1, 0.01f);
	rs_init_factors(Y, 6, k, 2, 0.01f);
	for (it = 0; it < 3; it++)
		UNIT_CHECK(test_implicit_iteration(&R.m, &Rt.m, X, Y, k, 0.1f, 10.0f, 3, 2, ws) == RS_ALS_OK);
	for (a = 0; a < k; a++)
		zeros &= X[0 * k + a] == 0.0f && X[2 * k + a] == 0.0f &&
			X[4 * k + a] == 0.0f && Y[1 * k + a] == 0.0f &&
			Y[4 * k + a] == 0.0f && Y[5 * k + a] == 0.0f;
	UNIT_CHECK(zeros);
	UNIT_CHECK(test_all_finite(X, 5 * k) && test_all_finite(Y, 6 * k));

	/* explicit: zero factors and zero bias */
	memset(xb, 0x7f, sizeof(xb));
	memset(yb, 0, sizeof(yb));
	rs_init_factors(X, 5, k, 1, 0.01f);
	UNIT_CHECK(rs_als_explicit_update(&R.m, Y, yb, 1.0f, X, xb, k, 0.1f, 0.1f,
									  true, 0, 5, 2, ws) == RS_ALS_OK);
	UNIT_CHECK(xb[0] == 0.0f && xb[2] == 0.0f && xb[4] == 0.0f);
	zeros = true;
	for (a = 0; a < k; a++)
		zeros &= X[0 * k + a] == 0.0f && X[4 * k + a] == 0.0f;
	UNIT_CHECK(zeros);
	UNIT_CHECK(test_all_finite(X, 5 * k) && test_all_finite(xb, 5));

	free(ws);
	test_csr_free(&R);
	test_csr_free(&Rt);
}

/* Bad arguments and singular systems give statuses, not crashes. */
UNIT_TEST(als_error_statuses)
{
	int			k = 4;
	int32_t		rows[] = {0, 0, 1};
	int32_t		cols[] = {0, 1, 1};
	float		vals[] = {1, 1, 1};
	TestCsr		R = test_csr_from_triplets(2, 2, 3, rows, cols, vals);
	float		X[8],
				Y[8],
				G[16],
				xb[2];
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 2));

	memset(Y, 0, sizeof(Y));
	memset(G, 0, sizeof(G));
	rs_init_factors(X, 2, k, 1, 0.01f);
	UNIT_CHECK(rs_als_implicit_update(&R.m, Y, G, X, k, 0.1f, 1.0f, 3, 0, 3, 1, ws) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_als_implicit_update(&R.m, Y, G, X, k, 0.1f, 1.0f, 0, 0, 2, 1, ws) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_als_implicit_update(&R.m, Y, G, X, 0, 0.1f, 1.0f, 3, 0, 2, 1, ws) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_als_implicit_update(&R.m, Y, G, X, k, -1.0f, 1.0f, 3, 0, 2, 1, ws) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_als_implicit_update(&R.m, Y, G, X, k, 0.1f, 1.0f, 3, 1, 1, 2, ws) == RS_ALS_OK);
	UNIT_CHECK(rs_als_workspace_floats(0, 1) == 0);

	/* all-zero Y and no regularisation: singular */
	UNIT_CHECK(rs_als_explicit_update(&R.m, Y, NULL, 0.0f, X, NULL, k, 0.0f, 0.0f,
									  false, 0, 2, 2, ws) == RS_ALS_ERR_NOT_PD);
	UNIT_CHECK(rs_als_explicit_update(&R.m, Y, NULL, 0.0f, X, xb, k, 0.0f, 0.0f,
									  false, 0, 2, 1, ws) == RS_ALS_ERR_NOT_PD);
	/* NaN in Y cannot go unnoticed */
	rs_init_factors(Y, 2, k, 3, 1.0f);
	Y[1] = NAN;
	rs_gram(Y, 2, k, G, NULL, NULL);
	UNIT_CHECK(rs_als_implicit_update(&R.m, Y, G, X, k, 0.1f, 1.0f, 3, 0, 2, 1, ws) == RS_ALS_ERR_NOT_PD);
	UNIT_CHECK(rs_als_explicit_update(&R.m, Y, NULL, 0.0f, X, xb, k, 0.1f, 0.1f,
									  false, 0, 2, 1, ws) == RS_ALS_ERR_NOT_PD);

	UNIT_CHECK(strcmp(rs_als_strerror(RS_ALS_OK), "success") == 0);
	UNIT_CHECK(strstr(rs_als_strerror(RS_ALS_ERR_NOT_PD), "positive definite") != NULL);
	UNIT_CHECK(strstr(rs_als_strerror(-99), "unknown") != NULL);

	free(ws);
	test_csr_free(&R);
}

/* ----------------------------------------------------------------------
 * Bayesian explicit MF: rs_als_sample_prior and rs_als_explicit_sample
 * ----------------------------------------------------------------------
 */

/* Invert an n x n SPD matrix (double) column by column. */
static void
test_dense_inverse(const double *A, double *inv, int n)
{
	double	   *work = malloc(sizeof(double) * n * n);
	double	   *col = malloc(sizeof(double) * n);
	int			a,
				c;

	for (c = 0; c < n; c++)
	{
		memcpy(work, A, sizeof(double) * n * n);
		for (a = 0; a < n; a++)
			col[a] = a == c ? 1.0 : 0.0;
		unit_dense_solve(work, col, n);
		for (a = 0; a < n; a++)
			inv[a * n + c] = col[a];
	}
	free(work);
	free(col);
}

/*
 * Draws of a row over many seeds have the conditional posterior's mean
 * P^-1 (Lambda m + alpha sum t v) and covariance P^-1: for a short row, a
 * row with no entries (the prior itself) and a row longer than one tile.
 */
UNIT_TEST(als_sample_row_distribution)
{
	enum
	{
		K = 3, D = 4, N_COLS = 400, N_DRAWS = 6000
	};
	double		Lambda[D * D] = {
		2.0, 0.3, 0.0, 0.1,
		0.3, 1.0, 0.2, 0.0,
		0.0, 0.2, 3.0, 0.0,
		0.1, 0.0, 0.0, 0.5
	};
	double		m[D] = {0.1, -0.2, 0.3, 0.05};
	float		alpha = 1.5f,
				mu = 3.0f;
	int32_t		rows[6 + 300],
				cols[6 + 300];
	float		vals[6 + 300];
	float	   *Y = malloc(sizeof(float) * N_COLS * K);
	float	   *yb = malloc(sizeof(float) * N_COLS);
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(K, 1));
	double	   *sum = calloc(3 * D, sizeof(double));
	double	   *sq = calloc(3 * D * D, sizeof(double));
	TestCsr		R;
	int			nnz = 0,
				j,
				a,
				c,
				r;
	uint64_t	seed;

	/* row 0: 6 entries; row 1: none; row 2: 300 entries (> one tile) */
	for (j = 0; j < 6; j++)
	{
		rows[nnz] = 0;
		cols[nnz] = 7 * j + 1;
		vals[nnz++] = 1.0f + (float) j * 0.7f;
	}
	for (j = 0; j < 300; j++)
	{
		rows[nnz] = 2;
		cols[nnz] = j;
		vals[nnz++] = 1.0f + (float) (j % 9) * 0.5f;
	}
	R = test_csr_from_triplets(3, N_COLS, nnz, rows, cols, vals);
	for (j = 0; j < N_COLS * K; j++)
		Y[j] = (float) (0.5 * unit_normal(31, (uint64_t) j));
	for (j = 0; j < N_COLS; j++)
		yb[j] = (float) (0.2 * unit_normal(32, (uint64_t) j));

	for (seed = 0; seed < N_DRAWS; seed++)
	{
		float		X[3 * K],
					xb[3];

		UNIT_CHECK(rs_als_explicit_sample(&R.m, Y, yb, mu, X, xb, K, alpha,
										  Lambda, m, seed, 0, 3, 1, ws) == RS_ALS_OK);
		for (r = 0; r < 3; r++)
		{
			double		x[D];

			for (a = 0; a < K; a++)
				x[a] = X[r * K + a];
			x[K] = xb[r];
			for (a = 0; a < D; a++)
			{
				sum[r * D + a] += x[a];
				for (c = 0; c < D; c++)
					sq[(r * D + a) * D + c] += x[a] * x[c];
			}
		}
	}

	for (r = 0; r < 3; r++)
	{
		double		P[D * D],
					b[D],
					cov[D * D];
		bool		mean_ok = true,
					cov_ok = true;

		memcpy(P, Lambda, sizeof(P));
		for (a = 0; a < D; a++)
		{
			b[a] = 0.0;
			for (c = 0; c < D; c++)
				b[a] += Lambda[a * D + c] * m[c];
		}
		for (j = (int) R.m.indptr[r]; j < (int) R.m.indptr[r + 1]; j++)
		{
			int32_t		i = R.m.indices[j];
			double		v[D],
						t = R.m.data[j] - mu - yb[i];

			for (a = 0; a < K; a++)
				v[a] = Y[i * K + a];
			v[K] = 1.0;
			for (a = 0; a < D; a++)
			{
				b[a] += alpha * t * v[a];
				for (c = 0; c < D; c++)
					P[a * D + c] += alpha * v[a] * v[c];
			}
		}
		test_dense_inverse(P, cov, D);
		{
			double		Pc[D * D];

			memcpy(Pc, P, sizeof(P));
			unit_dense_solve(Pc, b, D);		/* b = the conditional mean */
		}
		for (a = 0; a < D; a++)
		{
			double		mean = sum[r * D + a] / N_DRAWS;
			double		sd = sqrt(cov[a * D + a]);

			/* 5 standard errors of the mean */
			mean_ok &= fabs(mean - b[a]) < 5.0 * sd / sqrt((double) N_DRAWS);
			for (c = 0; c < D; c++)
			{
				double		mc = sum[r * D + c] / N_DRAWS;
				double		got = sq[(r * D + a) * D + c] / N_DRAWS - mean * mc;

				/* sampling error of a covariance is about sd_a sd_c sqrt(2/N) */
				cov_ok &= fabs(got - cov[a * D + c]) <
					0.1 * sd * sqrt(cov[c * D + c]);
			}
		}
		UNIT_CHECK(mean_ok);
		UNIT_CHECK(cov_ok);
	}
	free(Y);
	free(yb);
	free(ws);
	free(sum);
	free(sq);
	test_csr_free(&R);
}

/*
 * Rows drawn from N(m0, Sigma0): with many rows the prior draw is close to
 * (m0, Sigma0^-1); the draw is a pure function of the seed; no rows (the
 * hyperprior alone) works too; without a bias the prior is k-dimensional.
 */
UNIT_TEST(als_sample_prior_recovers_moments)
{
	enum
	{
		K = 3, D = 4, N = 40000
	};
	double		Sigma0[D * D] = {
		0.50, 0.10, 0.00, 0.05,
		0.10, 0.30, -0.05, 0.00,
		0.00, -0.05, 0.20, 0.00,
		0.05, 0.00, 0.00, 0.40
	};
	double		m0[D] = {0.5, -0.3, 0.1, 0.2};
	double		C[D * D],
				want[D * D],
				mean[D],
				prec[D * D],
				mean2[D],
				prec2[D * D];
	float	   *X = malloc(sizeof(float) * N * K);
	float	   *xb = malloc(sizeof(float) * N);
	double	   *pws = malloc(sizeof(double) * rs_als_prior_workspace_doubles(K));
	int			a,
				c,
				l;
	int64_t		u;
	bool		ok = true;

	/* C = lower Cholesky factor of Sigma0 */
	memcpy(C, Sigma0, sizeof(C));
	for (c = 0; c < D; c++)
	{
		for (l = 0; l < c; l++)
			C[c * D + c] -= C[c * D + l] * C[c * D + l];
		C[c * D + c] = sqrt(C[c * D + c]);
		for (a = c + 1; a < D; a++)
		{
			for (l = 0; l < c; l++)
				C[a * D + c] -= C[a * D + l] * C[c * D + l];
			C[a * D + c] /= C[c * D + c];
		}
	}
	for (u = 0; u < N; u++)
	{
		double		z[D],
					x[D];

		for (a = 0; a < D; a++)
			z[a] = unit_normal(41, (uint64_t) (u * D + a));
		for (a = 0; a < D; a++)
		{
			x[a] = m0[a];
			for (l = 0; l <= a; l++)
				x[a] += C[a * D + l] * z[l];
		}
		for (a = 0; a < K; a++)
			X[u * K + a] = (float) x[a];
		xb[u] = (float) x[K];
	}
	test_dense_inverse(Sigma0, want, D);

	UNIT_CHECK(rs_als_sample_prior(X, xb, N, K, 7, mean, prec, pws, NULL, NULL) == RS_ALS_OK);
	for (a = 0; a < D; a++)
	{
		ok &= fabs(mean[a] - m0[a]) < 0.02;
		for (c = 0; c < D; c++)
		{
			ok &= prec[a * D + c] == prec[c * D + a];
			ok &= fabs(prec[a * D + c] - want[a * D + c]) <
				0.05 * sqrt(want[a * D + a] * want[c * D + c]);
		}
	}
	UNIT_CHECK(ok);

	/* a pure function of the seed */
	UNIT_CHECK(rs_als_sample_prior(X, xb, N, K, 7, mean2, prec2, pws, NULL, NULL) == RS_ALS_OK);
	UNIT_CHECK(memcmp(mean, mean2, sizeof(mean)) == 0 &&
			   memcmp(prec, prec2, sizeof(prec)) == 0);
	UNIT_CHECK(rs_als_sample_prior(X, xb, N, K, 8, mean2, prec2, pws, NULL, NULL) == RS_ALS_OK);
	UNIT_CHECK(memcmp(mean, mean2, sizeof(mean)) != 0);

	/* no rows: a draw from the hyperprior, finite and symmetric */
	UNIT_CHECK(rs_als_sample_prior(NULL, NULL, 0, K, 9, mean, prec, pws, NULL, NULL) == RS_ALS_OK);
	ok = true;
	for (a = 0; a < K; a++)
		for (c = 0; c < K; c++)
			ok &= isfinite(prec[a * K + c]) && prec[a * K + c] == prec[c * K + a];
	UNIT_CHECK(ok && prec[0] > 0.0);

	/* no bias: the first K x K block of the moments */
	UNIT_CHECK(rs_als_sample_prior(X, NULL, N, K, 7, mean, prec, pws, NULL, NULL) == RS_ALS_OK);
	{
		double		SigmaK[K * K],
					wantK[K * K];

		for (a = 0; a < K; a++)
			for (c = 0; c < K; c++)
				SigmaK[a * K + c] = Sigma0[a * D + c];
		test_dense_inverse(SigmaK, wantK, K);
		ok = true;
		for (a = 0; a < K; a++)
		{
			ok &= fabs(mean[a] - m0[a]) < 0.02;
			for (c = 0; c < K; c++)
				ok &= fabs(prec[a * K + c] - wantK[a * K + c]) <
					0.05 * sqrt(wantK[a * K + a] * wantK[c * K + c]);
		}
		UNIT_CHECK(ok);
	}
	free(X);
	free(xb);
	free(pws);
}

/* One Gibbs sweep of the als.h recipe (users, then items). */
static void
test_gibbs_sweep(const RsCsr *R, const RsCsr *Rt, float mu, float *X,
				 float *xb, float *Y, float *yb, int k, float alpha,
				 uint64_t seed, int nthreads, int32_t chunk, float *ws,
				 double *pws)
{
	double		mean[RS_ALS_MAX_K + 1];
	double	   *prec = malloc(sizeof(double) * (k + 1) * (k + 1));
	int32_t		b;

	UNIT_CHECK(rs_als_sample_prior(X, xb, R->n_rows, k, seed, mean, prec, pws, NULL, NULL) == RS_ALS_OK);
	for (b = 0; b < R->n_rows; b += chunk)
		UNIT_CHECK(rs_als_explicit_sample(R, Y, yb, mu, X, xb, k, alpha, prec, mean,
										  seed + 1, b,
										  b + chunk < R->n_rows ? b + chunk : R->n_rows,
										  nthreads, ws) == RS_ALS_OK);
	UNIT_CHECK(rs_als_sample_prior(Y, yb, Rt->n_rows, k, seed + 2, mean, prec, pws, NULL, NULL) == RS_ALS_OK);
	UNIT_CHECK(rs_als_explicit_sample(Rt, X, xb, mu, Y, yb, k, alpha, prec, mean,
									  seed + 3, 0, Rt->n_rows, nthreads, ws) == RS_ALS_OK);
	free(prec);
}

/* Same seeds: bit-identical draws whatever the threads and chunking. */
UNIT_TEST(als_sample_deterministic_across_threads)
{
	int			k = 8,
				r,
				s;
	int32_t		n_users = 3000,
				n_items = 200;
	TestCsr		R = test_csr_random(n_users, n_items, 0.03, 51, 0.5f, 5.0f);
	TestCsr		Rt = test_csr_transpose(&R.m);
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 3));
	double	   *pws = malloc(sizeof(double) * rs_als_prior_workspace_doubles(k));
	float	   *X[4],
			   *Y[4],
			   *xb[4],
			   *yb[4];

	for (r = 0; r < 4; r++)
	{
		int			nthreads = r == 0 ? 1 : r == 1 ? 2 : 3;
		int32_t		chunk = r == 2 ? 513 : n_users;
		uint64_t	seed = r == 3 ? 1000 : 100;

		X[r] = malloc(sizeof(float) * n_users * k);
		Y[r] = malloc(sizeof(float) * n_items * k);
		xb[r] = calloc(n_users, sizeof(float));
		yb[r] = calloc(n_items, sizeof(float));
		rs_init_normal(X[r], n_users, k, 61, 0.1f);
		rs_init_normal(Y[r], n_items, k, 62, 0.1f);
		for (s = 0; s < 3; s++)
			test_gibbs_sweep(&R.m, &Rt.m, 2.75f, X[r], xb[r], Y[r], yb[r], k, 2.0f,
							 seed + 4 * (uint64_t) s, nthreads, chunk, ws, pws);
	}
	for (r = 1; r < 3; r++)
	{
		UNIT_CHECK(memcmp(X[0], X[r], sizeof(float) * n_users * k) == 0);
		UNIT_CHECK(memcmp(Y[0], Y[r], sizeof(float) * n_items * k) == 0);
		UNIT_CHECK(memcmp(xb[0], xb[r], sizeof(float) * n_users) == 0);
		UNIT_CHECK(memcmp(yb[0], yb[r], sizeof(float) * n_items) == 0);
	}
	/* another seed, another chain */
	UNIT_CHECK(memcmp(X[0], X[3], sizeof(float) * n_users * k) != 0);
	UNIT_CHECK(test_all_finite(X[0], (int64_t) n_users * k) &&
			   test_all_finite(Y[0], (int64_t) n_items * k));
	for (r = 0; r < 4; r++)
	{
		free(X[r]);
		free(Y[r]);
		free(xb[r]);
		free(yb[r]);
	}
	free(ws);
	free(pws);
	test_csr_free(&R);
	test_csr_free(&Rt);
}

/*
 * A planted rank-3 matrix with biases plus N(0, 0.1^2) noise, 27% observed
 * and 3% held out: the averaged Gibbs factors (noise precision 100, the
 * truth) predict the held-out entries to about the noise level.
 */
UNIT_TEST(als_bayes_planted_rank3)
{
	int			n_users = 300,
				n_items = 200,
				rank = 3,
				k = 3,
				burn = 20,
				samples = 30,
				s;
	int64_t		cap = (int64_t) n_users * n_items;
	int32_t    *rows = malloc(sizeof(int32_t) * cap);
	int32_t    *cols = malloc(sizeof(int32_t) * cap);
	float	   *vals = malloc(sizeof(float) * cap);
	int32_t    *hrows = malloc(sizeof(int32_t) * cap);
	int32_t    *hcols = malloc(sizeof(int32_t) * cap);
	float	   *hvals = malloc(sizeof(float) * cap);
	int64_t		ntrain = 0,
				nheld = 0,
				e;
	double		mu = 0.0,
				held_rmse;
	float	   *X = malloc(sizeof(float) * n_users * k);
	float	   *Y = malloc(sizeof(float) * n_items * k);
	float	   *xb = calloc(n_users, sizeof(float));
	float	   *yb = calloc(n_items, sizeof(float));
	float	   *Xa = calloc((size_t) n_users * k, sizeof(float));
	float	   *Ya = calloc((size_t) n_items * k, sizeof(float));
	float	   *xba = calloc(n_users, sizeof(float));
	float	   *yba = calloc(n_items, sizeof(float));
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 2));
	double	   *pws = malloc(sizeof(double) * rs_als_prior_workspace_doubles(k));
	TestCsr		R,
				Rt,
				H;
	int64_t		j;

	for (e = 0; e < cap; e++)
	{
		int32_t		u = (int32_t) (e / n_items),
					it = (int32_t) (e % n_items);
		double		r = 3.5 + 0.5 * unit_normal(202, (uint64_t) u) +
			0.5 * unit_normal(203, (uint64_t) it) +
			0.1 * unit_normal(204, (uint64_t) e);
		double		coin = rs_rng_uniform_double(205, (uint64_t) e);
		int			a;

		for (a = 0; a < rank; a++)
			r += unit_normal(200, (uint64_t) (u * rank + a)) *
				unit_normal(201, (uint64_t) (it * rank + a)) / sqrt((double) rank);
		if (coin < 0.27)
		{
			rows[ntrain] = u;
			cols[ntrain] = it;
			vals[ntrain++] = (float) r;
			mu += r;
		}
		else if (coin < 0.30)
		{
			hrows[nheld] = u;
			hcols[nheld] = it;
			hvals[nheld++] = (float) r;
		}
	}
	mu /= (double) ntrain;
	R = test_csr_from_triplets(n_users, n_items, ntrain, rows, cols, vals);
	Rt = test_csr_transpose(&R.m);
	H = test_csr_from_triplets(n_users, n_items, nheld, hrows, hcols, hvals);

	rs_init_normal(X, n_users, k, 1, 0.1f);
	rs_init_normal(Y, n_items, k, 2, 0.1f);
	for (s = 0; s < burn + samples; s++)
	{
		test_gibbs_sweep(&R.m, &Rt.m, (float) mu, X, xb, Y, yb, k, 100.0f,
						 4 * (uint64_t) s, 2, n_users, ws, pws);
		if (s < burn)
			continue;
		for (j = 0; j < (int64_t) n_users * k; j++)
			Xa[j] += X[j] / samples;
		for (j = 0; j < (int64_t) n_items * k; j++)
			Ya[j] += Y[j] / samples;
		for (j = 0; j < n_users; j++)
			xba[j] += xb[j] / samples;
		for (j = 0; j < n_items; j++)
			yba[j] += yb[j] / samples;
	}
	held_rmse = rmse(&H.m, Xa, xba, Ya, yba, (float) mu, k, -INFINITY, INFINITY);
	if (getenv("UNIT_VERBOSE"))
		printf("  bayes held-out %.4f (last draw %.4f)\n", held_rmse,
			   rmse(&H.m, X, xb, Y, yb, (float) mu, k, -INFINITY, INFINITY));
	UNIT_CHECK(held_rmse < 0.13);

	free(rows);
	free(cols);
	free(vals);
	free(hrows);
	free(hcols);
	free(hvals);
	free(X);
	free(Y);
	free(xb);
	free(yb);
	free(Xa);
	free(Ya);
	free(xba);
	free(yba);
	free(ws);
	free(pws);
	test_csr_free(&R);
	test_csr_free(&Rt);
	test_csr_free(&H);
}

/* Bad arguments and non-finite inputs give statuses, not crashes. */
UNIT_TEST(als_sample_error_statuses)
{
	int			k = 2;
	int32_t		rows[] = {0, 0, 1};
	int32_t		cols[] = {0, 1, 1};
	float		vals[] = {1, 2, 3};
	TestCsr		R = test_csr_from_triplets(2, 2, 3, rows, cols, vals);
	double		prec[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1},
				mean[3] = {0, 0, 0};
	float		X[4],
				Y[4],
				xb[2];
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(k, 2));
	double	   *pws = malloc(sizeof(double) * rs_als_prior_workspace_doubles(k));

	rs_init_normal(X, 2, k, 1, 0.1f);
	rs_init_normal(Y, 2, k, 2, 0.1f);
	UNIT_CHECK(rs_als_explicit_sample(&R.m, Y, NULL, 1.0f, X, xb, k, 2.0f, prec, mean,
									  1, 0, 2, 2, ws) == RS_ALS_OK);
	UNIT_CHECK(rs_als_explicit_sample(&R.m, Y, NULL, 1.0f, X, xb, k, 0.0f, prec, mean,
									  1, 0, 2, 1, ws) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_als_explicit_sample(&R.m, Y, NULL, 1.0f, X, xb, k, NAN, prec, mean,
									  1, 0, 2, 1, ws) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_als_explicit_sample(&R.m, Y, NULL, 1.0f, X, xb, k, 2.0f, NULL, mean,
									  1, 0, 2, 1, ws) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_als_explicit_sample(&R.m, Y, NULL, 1.0f, X, xb, k, 2.0f, prec, mean,
									  1, 0, 3, 1, ws) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_als_explicit_sample(&R.m, Y, NULL, 1.0f, X, xb, k, 2.0f, prec, mean,
									  1, 1, 1, 1, ws) == RS_ALS_OK);
	UNIT_CHECK(rs_als_sample_prior(X, xb, -1, k, 1, mean, prec, pws, NULL, NULL) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_als_sample_prior(X, xb, 2, 0, 1, mean, prec, pws, NULL, NULL) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_als_sample_prior(X, xb, 2, k, 1, NULL, prec, pws, NULL, NULL) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(rs_als_prior_workspace_doubles(0) == 0);
	UNIT_CHECK(rs_als_prior_workspace_doubles(k) >= 3 * 9 + 2 * 3);

	/* a non-finite factor: the row system is not positive definite */
	Y[1] = NAN;
	UNIT_CHECK(rs_als_explicit_sample(&R.m, Y, NULL, 1.0f, X, xb, k, 2.0f, prec, mean,
									  1, 0, 2, 1, ws) == RS_ALS_ERR_NOT_PD);
	X[0] = INFINITY;
	UNIT_CHECK(rs_als_sample_prior(X, xb, 2, k, 1, mean, prec, pws, NULL, NULL) == RS_ALS_ERR_NOT_PD);

	free(ws);
	free(pws);
	test_csr_free(&R);
}

/* rs_init_normal: a pure function of (seed, index) with the asked spread. */
UNIT_TEST(als_init_normal_moments)
{
	int64_t		n = 20000,
				i;
	int			k = 5;
	float	   *A = malloc(sizeof(float) * n * k);
	float	   *B = malloc(sizeof(float) * n * k);
	double		sum = 0.0,
				sq = 0.0;

	rs_init_normal(A, n, k, 11, 0.1f);
	rs_init_normal(B, n, k, 11, 0.1f);
	UNIT_CHECK(memcmp(A, B, sizeof(float) * n * k) == 0);
	for (i = 0; i < n * k; i++)
	{
		sum += A[i];
		sq += (double) A[i] * A[i];
	}
	UNIT_CHECK(fabs(sum / (n * k)) < 0.002);
	UNIT_CHECK(fabs(sqrt(sq / (n * k)) - 0.1) < 0.002);
	rs_init_normal(B, n, k, 12, 0.1f);
	UNIT_CHECK(memcmp(A, B, sizeof(float) * n * k) != 0);
	free(A);
	free(B);
}
