/*
 * test_sparse.c
 *		Unit tests of src/kernel/sparse.c: COO to CSR and transposition.
 */
#include <stdlib.h>
#include <string.h>

#include "sparse.h"
#include "unit.h"

/* A CSR with buffers big enough for nnz_cap entries. */
static RsCsr
csr_alloc(int32_t n_rows, int64_t nnz_cap)
{
	RsCsr		m;

	memset(&m, 0, sizeof(m));
	m.indptr = calloc((size_t) n_rows + 1, sizeof(int64_t));
	m.indices = calloc((size_t) nnz_cap + 1, sizeof(int32_t));
	m.data = calloc((size_t) nnz_cap + 1, sizeof(float));
	return m;
}

static void
csr_free(RsCsr *m)
{
	free(m->indptr);
	free(m->indices);
	free(m->data);
}

static RsCsr
build(int32_t n_rows, int32_t n_cols, int64_t n, const int32_t *r, const int32_t *c, const float *v)
{
	RsCsr		m = csr_alloc(n_rows, n);

	rs_coo_to_csr(n_rows, n_cols, n, r, c, v, &m);
	return m;
}

UNIT_TEST(csr_sorts_rows_and_sums_duplicates)
{
	/* row 1 has item 2 twice (3 + 4) and arrives unsorted */
	int32_t		r[] = {1, 0, 1, 2, 1, 0};
	int32_t		c[] = {2, 1, 0, 2, 2, 0};
	float		v[] = {3, 1, 5, 6, 4, 2};
	RsCsr		m = build(4, 3, 6, r, c, v);

	UNIT_CHECK(m.n_rows == 4 && m.n_cols == 3);
	UNIT_CHECK(m.nnz == 5);
	UNIT_CHECK(m.indptr[0] == 0 && m.indptr[1] == 2 && m.indptr[2] == 4 &&
			   m.indptr[3] == 5 && m.indptr[4] == 5);
	/* row 0: (0, 2) (1, 1) */
	UNIT_CHECK(m.indices[0] == 0 && m.data[0] == 2);
	UNIT_CHECK(m.indices[1] == 1 && m.data[1] == 1);
	/* row 1: (0, 5) (2, 7) */
	UNIT_CHECK(m.indices[2] == 0 && m.data[2] == 5);
	UNIT_CHECK(m.indices[3] == 2 && m.data[3] == 7);
	/* row 2: (2, 6); row 3 empty */
	UNIT_CHECK(m.indices[4] == 2 && m.data[4] == 6);
	csr_free(&m);
}

UNIT_TEST(csr_sorts_long_rows_with_many_duplicates)
{
	enum
	{
		N = 5000, COLS = 300
	};
	int32_t    *r = malloc(sizeof(int32_t) * N);
	int32_t    *c = malloc(sizeof(int32_t) * N);
	float	   *v = malloc(sizeof(float) * N);
	double		expect[2][COLS] = {{0}};
	RsCsr		m;
	unsigned	seed = 11;
	int			ok = 1;

	/* two long rows (past the insertion-sort cutoff) in scrambled order */
	for (int i = 0; i < N; i++)
	{
		seed = seed * 1103515245u + 12345u;
		r[i] = i % 2;
		c[i] = (int32_t) ((seed >> 8) % COLS);
		v[i] = (float) (1 + i % 3);
		expect[r[i]][c[i]] += v[i];
	}
	m = build(2, COLS, N, r, c, v);
	for (int row = 0; row < 2; row++)
	{
		int64_t		j = m.indptr[row];

		for (int col = 0; col < COLS; col++)
		{
			if (expect[row][col] == 0)
				continue;
			ok &= j < m.indptr[row + 1] && m.indices[j] == col && m.data[j] == (float) expect[row][col];
			j++;
		}
		ok &= j == m.indptr[row + 1];
	}
	UNIT_CHECK(ok);
	UNIT_CHECK(m.nnz <= 2 * COLS);
	free(r);
	free(c);
	free(v);
	csr_free(&m);
}

UNIT_TEST(csr_of_nothing_is_empty)
{
	RsCsr		m = build(3, 2, 0, NULL, NULL, NULL);

	UNIT_CHECK(m.nnz == 0);
	UNIT_CHECK(m.indptr[0] == 0 && m.indptr[3] == 0);
	csr_free(&m);
}

UNIT_TEST(transpose_twice_is_identity)
{
	enum
	{
		ROWS = 50, COLS = 37, N = 600
	};
	int32_t		r[N],
				c[N];
	float		v[N];
	RsCsr		m,
				t,
				tt;
	unsigned	seed = 7;

	for (int i = 0; i < N; i++)
	{
		seed = seed * 1103515245u + 12345u;
		r[i] = (int32_t) ((seed >> 8) % ROWS);
		seed = seed * 1103515245u + 12345u;
		c[i] = (int32_t) ((seed >> 8) % COLS);
		v[i] = (float) (i % 5 + 1);
	}
	m = build(ROWS, COLS, N, r, c, v);
	t = csr_alloc(COLS, m.nnz);
	tt = csr_alloc(ROWS, m.nnz);
	rs_csr_transpose(&m, &t);
	rs_csr_transpose(&t, &tt);

	UNIT_CHECK(t.n_rows == COLS && t.n_cols == ROWS && t.nnz == m.nnz);
	UNIT_CHECK(memcmp(m.indptr, tt.indptr, sizeof(int64_t) * (ROWS + 1)) == 0);
	UNIT_CHECK(memcmp(m.indices, tt.indices, sizeof(int32_t) * m.nnz) == 0);
	UNIT_CHECK(memcmp(m.data, tt.data, sizeof(float) * m.nnz) == 0);

	/* rows of the transpose come out ascending, and entries match */
	for (int32_t col = 0; col < COLS; col++)
		for (int64_t j = t.indptr[col]; j < t.indptr[col + 1]; j++)
		{
			int32_t		row = t.indices[j];
			int			found = 0;

			if (j > t.indptr[col])
				UNIT_CHECK(t.indices[j - 1] < row);
			for (int64_t k = m.indptr[row]; k < m.indptr[row + 1]; k++)
				if (m.indices[k] == col && m.data[k] == t.data[j])
					found = 1;
			UNIT_CHECK(found);
		}
	csr_free(&m);
	csr_free(&t);
	csr_free(&tt);
}

/* Whether two CSR matrices are bit-identical. */
static int
csr_equal(const RsCsr *a, const RsCsr *b)
{
	return a->nnz == b->nnz && a->n_rows == b->n_rows &&
		memcmp(a->indptr, b->indptr, sizeof(int64_t) * ((size_t) a->n_rows + 1)) == 0 &&
		memcmp(a->indices, b->indices, sizeof(int32_t) * (size_t) a->nnz) == 0 &&
		memcmp(a->data, b->data, sizeof(float) * (size_t) a->nnz) == 0;
}

/*
 * A parallel read delivers rows in any order: duplicates must sum to the
 * same bits whatever the order.  1e8, 1 and -1e8 sum to 0 or 1 in float
 * depending on the order; in ascending order always to 0.
 */
UNIT_TEST(csr_duplicate_sums_ignore_row_order)
{
	enum
	{
		N = 3000, ROWS = 3, COLS = 40
	};
	static const float tricky[3] = {1e8f, 1.0f, -1e8f};
	static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
	int32_t    *r = malloc(sizeof(int32_t) * N);
	int32_t    *c = malloc(sizeof(int32_t) * N);
	float	   *v = malloc(sizeof(float) * N);
	RsCsr		first;
	unsigned	seed = 5;
	int			ok = 1;

	/* known by construction: every order of the three gives exactly 0 */
	for (int p = 0; p < 6; p++)
	{
		int32_t		r3[3] = {0, 0, 0},
					c3[3] = {1, 1, 1};
		float		v3[3];
		RsCsr		m;

		for (int i = 0; i < 3; i++)
			v3[i] = tricky[perms[p][i]];
		m = build(1, 2, 3, r3, c3, v3);
		ok &= m.nnz == 1 && m.indices[0] == 1 && m.data[0] == 0.0f;
		csr_free(&m);
	}
	UNIT_CHECK(ok);

	/* long rows of fractional duplicates, shuffled five times */
	for (int i = 0; i < N; i++)
	{
		seed = seed * 1103515245u + 12345u;
		r[i] = i % ROWS;
		c[i] = (int32_t) ((seed >> 8) % COLS);
		v[i] = (i % 7 == 0) ? tricky[i % 3] : (float) ((seed >> 12) % 1000) / 7.0f;
	}
	first = build(ROWS, COLS, N, r, c, v);
	for (int round = 0; round < 5; round++)
	{
		RsCsr		m;

		for (int i = N - 1; i > 0; i--)
		{
			int			j;
			int32_t		tr = r[i],
						tc = c[i];
			float		tv = v[i];

			seed = seed * 1103515245u + 12345u;
			j = (int) ((seed >> 8) % (unsigned) (i + 1));
			r[i] = r[j];
			c[i] = c[j];
			v[i] = v[j];
			r[j] = tr;
			c[j] = tc;
			v[j] = tv;
		}
		m = build(ROWS, COLS, N, r, c, v);
		ok &= csr_equal(&first, &m);
		csr_free(&m);
	}
	UNIT_CHECK(ok);
	free(r);
	free(c);
	free(v);
	csr_free(&first);
}

/*
 * The threaded transpose writes the same bits as the serial one whatever
 * the thread count: a random matrix, one with every entry in a single
 * column (every range but one empty) and one with empty columns at both
 * ends; more threads than columns too.
 */
UNIT_TEST(transpose_threads_equals_serial)
{
	enum
	{
		ROWS = 100000, COLS = 400, N = 120000
	};
	int32_t    *r = malloc(sizeof(int32_t) * N);
	int32_t    *c = malloc(sizeof(int32_t) * N);
	float	   *v = malloc(sizeof(float) * N);
	unsigned	seed = 11;
	static const int threads[] = {1, 2, 3, 4, 7, 64, 1000};

	for (int shape = 0; shape < 3; shape++)
	{
		RsCsr		m,
					serial;

		for (int i = 0; i < N; i++)
		{
			seed = seed * 1103515245u + 12345u;
			r[i] = (int32_t) ((seed >> 8) % ROWS);
			seed = seed * 1103515245u + 12345u;
			c[i] = shape == 1 ? 7 : shape == 2 ? (int32_t) (100 + (seed >> 8) % 50) : (int32_t) ((seed >> 8) % COLS);
			v[i] = (float) ((seed >> 4) % 1000) / 7.0f;
		}
		m = build(ROWS, COLS, N, r, c, v);
		serial = csr_alloc(COLS, m.nnz);
		rs_csr_transpose(&m, &serial);
		UNIT_CHECK(m.nnz >= 65536);
		for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++)
		{
			RsCsr		par = csr_alloc(COLS, m.nnz);

			UNIT_CHECK(rs_csr_transpose_threads(&m, &par, threads[t]) == 0);
			UNIT_CHECK(par.n_rows == COLS && par.n_cols == ROWS);
			UNIT_CHECK(csr_equal(&serial, &par));
			csr_free(&par);
		}
		csr_free(&m);
		csr_free(&serial);
	}
	free(r);
	free(c);
	free(v);
}

/*
 * The range of |values| (zeros ignored, none: 0 and 0), and scaling by a
 * power of two: exact, so 1e-30 brought up by 2^100 and back is itself.
 */
UNIT_TEST(csr_abs_range_and_pow2_scale)
{
	int32_t		r[4] = {0, 0, 1, 1},
				c[4] = {0, 2, 1, 2};
	float		v[4] = {1e-30f, -3e-29f, 0.0f, 2e-30f};
	RsCsr		m = build(2, 3, 4, r, c, v);
	RsCsr		empty = csr_alloc(1, 0);
	float		lo,
				hi;

	rs_csr_abs_range(&m, &lo, &hi);
	UNIT_CHECK(lo == 1e-30f && hi == 3e-29f);
	rs_csr_scale_pow2(&m, 100);
	rs_csr_abs_range(&m, &lo, &hi);
	UNIT_CHECK(lo == ldexpf(1e-30f, 100) && hi == ldexpf(3e-29f, 100));
	/* and back, bit for bit */
	rs_csr_scale_pow2(&m, -100);
	UNIT_CHECK(m.data[0] == 1e-30f && m.data[1] == -3e-29f && m.data[2] == 0.0f && m.data[3] == 2e-30f);
	rs_csr_abs_range(&empty, &lo, &hi);
	UNIT_CHECK(lo == 0.0f && hi == 0.0f);
	csr_free(&m);
	csr_free(&empty);
}

UNIT_TEST(top_columns_by_count_ties_to_smaller_index)
{
	/* counts 3, 5, 5, 1, 3: the two kept are 1 and 2, the three 1, 2, 0 */
	int64_t		count[] = {3, 5, 5, 1, 3};
	int64_t		scratch[5];
	int32_t		idx[5];

	UNIT_CHECK(rs_top_columns(count, 5, 2, scratch, idx) == 2);
	UNIT_CHECK(idx[0] == -1 && idx[1] == 0 && idx[2] == 1 && idx[3] == -1 && idx[4] == -1);
	UNIT_CHECK(rs_top_columns(count, 5, 3, scratch, idx) == 3);
	UNIT_CHECK(idx[0] == 0 && idx[1] == 1 && idx[2] == 2 && idx[3] == -1 && idx[4] == -1);
	/* m at or above n keeps every column in place */
	UNIT_CHECK(rs_top_columns(count, 5, 9, scratch, idx) == 5);
	UNIT_CHECK(idx[0] == 0 && idx[3] == 3 && idx[4] == 4);
}

UNIT_TEST(select_columns_keeps_order_and_values)
{
	/* rows: {0:1, 2:2, 3:3}, {}, {1:4, 3:5}; keep columns 0 and 3 */
	int32_t		r[] = {0, 0, 0, 2, 2};
	int32_t		c[] = {0, 2, 3, 1, 3};
	float		v[] = {1, 2, 3, 4, 5};
	RsCsr		m = build(3, 4, 5, r, c, v);
	RsCsr		o = csr_alloc(3, m.nnz);
	int32_t		keep[] = {0, -1, -1, 1};

	UNIT_CHECK(rs_csr_select_columns(&m, keep, 2, &o) == 3);
	UNIT_CHECK(o.n_rows == 3 && o.n_cols == 2 && o.nnz == 3);
	UNIT_CHECK(o.indptr[0] == 0 && o.indptr[1] == 2 && o.indptr[2] == 2 && o.indptr[3] == 3);
	UNIT_CHECK(o.indices[0] == 0 && o.data[0] == 1);
	UNIT_CHECK(o.indices[1] == 1 && o.data[1] == 3);
	UNIT_CHECK(o.indices[2] == 1 && o.data[2] == 5);
	csr_free(&m);
	csr_free(&o);
}

UNIT_TEST(select_columns_in_place)
{
	/* the same selection as above, written over its input */
	int32_t		r[] = {0, 0, 0, 2, 2};
	int32_t		c[] = {0, 2, 3, 1, 3};
	float		v[] = {1, 2, 3, 4, 5};
	RsCsr		m = build(3, 4, 5, r, c, v);
	int32_t		keep[] = {0, -1, -1, 1};

	UNIT_CHECK(rs_csr_select_columns(&m, keep, 2, &m) == 3);
	UNIT_CHECK(m.n_cols == 2 && m.indptr[1] == 2 && m.indptr[2] == 2 && m.indptr[3] == 3);
	UNIT_CHECK(m.indices[0] == 0 && m.data[0] == 1 && m.indices[1] == 1 && m.data[1] == 3);
	UNIT_CHECK(m.indices[2] == 1 && m.data[2] == 5);
	csr_free(&m);
}
