/*
 * test_als.c
 *		Unit tests of the ALS kernels (src/kernel/als.c): initialisation,
 *		Gram matrix, implicit CG against a direct solve (short and long rows),
 *		monotone implicit loss, held-out ranking on block-diagonal tastes,
 *		explicit biased ALS on a planted low-rank matrix, determinism across
 *		thread counts and chunkings, empty rows, and error statuses.
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

/* A standard normal draw (Box-Muller on two counter-based uniforms). */
static double
test_normal(uint64_t seed, uint64_t counter)
{
	double		u1 = rs_rng_uniform_double(seed, 2 * counter);
	double		u2 = rs_rng_uniform_double(seed, 2 * counter + 1);

	return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

/* Solve the n x n SPD system A z = b in double (Gaussian elimination). */
static void
test_dense_solve(double *A, double *b, int n)
{
	int			i,
				j,
				c;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
		{
			double		f = A[j * n + i] / A[i * n + i];

			for (c = i; c < n; c++)
				A[j * n + c] -= f * A[i * n + c];
			b[j] -= f * b[i];
		}
	for (i = n - 1; i >= 0; i--)
	{
		double		s = b[i];

		for (c = i + 1; c < n; c++)
			s -= A[i * n + c] * b[c];
		b[i] = s / A[i * n + i];
	}
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
	test_dense_solve(A, x, k);
	free(A);
}

/* Largest |a - b| relative to max |b| (or 1e-6). */
static double
test_rel_diff(const float *a, const double *b, int k)
{
	double		num = 0.0,
				den = 1e-6;
	int			i;

	for (i = 0; i < k; i++)
	{
		num = fmax(num, fabs(a[i] - b[i]));
		den = fmax(den, fabs(b[i]));
	}
	return num / den;
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

	rs_gram(Y, R->n_cols, k, G);
	status = rs_als_implicit_update(R, Y, G, X, k, reg, alpha, cg_steps,
									0, R->n_rows, nthreads, ws);
	if (status == RS_ALS_OK)
	{
		rs_gram(X, R->n_rows, k, G);
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
	rs_gram(Y, n, k, G);
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
			Y[i] = (float) (0.1 * test_normal(11, (uint64_t) i));
		rs_init_factors(X, 4, k, 5, 0.01f);
		rs_gram(Y, n_cols, k, G);
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
					printf("  k=%d row %d rel diff %g\n", k, u, test_rel_diff(X + u * k, exact, k));
				UNIT_CHECK(test_rel_diff(X + u * k, exact, k) < 2e-4);
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
	rs_gram(Y, 60, k, G);
	first = prev = rs_als_implicit_loss(&R.m, X, Y, G, k, reg, alpha);
	for (it = 0; it < 10; it++)
	{
		UNIT_CHECK(rs_als_implicit_update(&R.m, Y, G, X, k, reg, alpha, 3,
										  0, 80, 1, ws) == RS_ALS_OK);
		loss = rs_als_implicit_loss(&R.m, X, Y, G, k, reg, alpha);
		monotone &= loss <= prev * (1.0 + 1e-5) + 1e-6;
		prev = loss;

		rs_gram(X, 80, k, G);
		UNIT_CHECK(rs_als_implicit_update(&Rt.m, X, G, Y, k, reg, alpha, 3,
										  0, 60, 1, ws) == RS_ALS_OK);
		rs_gram(Y, 60, k, G);
		loss = rs_als_implicit_loss(&R.m, X, Y, G, k, reg, alpha);
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
		Y[i] = (float) (0.5 * test_normal(3, (uint64_t) i));
	for (i = 0; i < n_cols; i++)
		ybias[i] = (float) (0.3 * test_normal(4, (uint64_t) i));

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
			test_dense_solve(A, b, k1);
			memcpy(got, X + u * k, sizeof(float) * k);
			if (with_bias)
				got[k] = xbias[u];
			UNIT_CHECK(test_rel_diff(got, b, k1) < 1e-4);
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
		U[i] = (float) (test_normal(100, (uint64_t) i) / sqrt(sqrt(rank)));
	for (i = 0; i < n_items * rank; i++)
		V[i] = (float) (test_normal(101, (uint64_t) i) / sqrt(sqrt(rank)));
	for (i = 0; i < n_users; i++)
		bu[i] = (float) (0.5 * test_normal(102, (uint64_t) i));
	for (i = 0; i < n_items; i++)
		bi[i] = (float) (0.5 * test_normal(103, (uint64_t) i));
	for (e = 0; e < cap; e++)
	{
		int32_t		u = (int32_t) (e / n_items),
					it = (int32_t) (e % n_items);
		double		r = 3.5 + bu[u] + bi[it] + 0.1 * test_normal(104, (uint64_t) e);
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
		train_rmse = rs_rmse(&R.m, X, xb, Y, yb, (float) mu, k, -INFINITY, INFINITY);
		held_rmse = rs_rmse(&H.m, X, xb, Y, yb, (float) mu, k, -INFINITY, INFINITY);
		UNIT_CHECK(train_rmse < 0.11);
		UNIT_CHECK(held_rmse < 0.13);
		/* clipping to a narrow band must make the error larger */
		UNIT_CHECK(rs_rmse(&H.m, X, xb, Y, yb, (float) mu, k, 3.0f, 4.0f) > held_rmse);
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
					rs_gram(Y[r], n_items, k, G);
					for (b = 0; b < n_users; b += chunk)
						UNIT_CHECK(rs_als_implicit_update(&R.m, Y[r], G, X[r], k, 0.1f, 20.0f, 3,
														  b, b + chunk < n_users ? b + chunk : n_users,
														  nthreads, ws) == RS_ALS_OK);
					rs_gram(X[r], n_users, k, G);
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
	rs_gram(Y, 2, k, G);
	UNIT_CHECK(rs_als_implicit_update(&R.m, Y, G, X, k, 0.1f, 1.0f, 3, 0, 2, 1, ws) == RS_ALS_ERR_NOT_PD);
	UNIT_CHECK(rs_als_explicit_update(&R.m, Y, NULL, 0.0f, X, xb, k, 0.1f, 0.1f,
									  false, 0, 2, 1, ws) == RS_ALS_ERR_NOT_PD);

	UNIT_CHECK(strcmp(rs_als_strerror(RS_ALS_OK), "success") == 0);
	UNIT_CHECK(strstr(rs_als_strerror(RS_ALS_ERR_NOT_PD), "positive definite") != NULL);
	UNIT_CHECK(strstr(rs_als_strerror(-99), "unknown") != NULL);

	free(ws);
	test_csr_free(&R);
}
