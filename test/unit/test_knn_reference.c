/*
 * test_knn_reference.c
 *		rs_knn_build against a plain O(n^2) reference on random sparse
 *		matrices of several shapes, with real-valued weights.
 *
 * test_knn.c's brute force reuses the kernel's float expression on
 * integer weights and demands bit-identical output.  This one is written
 * apart from the kernel: every similarity in double from the textbook
 * formula (knn.h), over matrices with fractional weights, empty rows and
 * columns, duplicated rows (exact ties), one-row and one-column shapes,
 * item-item (rows of R^T) and user-user (rows of R) sides, 1 and 3
 * threads.  So results agree to a float tolerance, and where scores tie
 * the neighbour lists are compared as sets: every neighbour the kernel
 * returns must score within tolerance of the reference's K-th best, and
 * every row the reference scores clearly above that must be returned.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "sparse.h"
#include "unit.h"

/* splitmix64, for deterministic matrices */
static uint64_t
ref_rand(uint64_t *state)
{
	uint64_t	z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* A dense n x m matrix with positive fractional weights, and its CSRs. */
typedef struct RefMatrix
{
	int32_t		n;
	int32_t		m;
	double	   *dense;			/* n x m, 0 where absent */
	RsCsr		A;				/* n x m */
	RsCsr		At;				/* m x n */
} RefMatrix;

static void
csr_alloc(RsCsr *c, int32_t rows, int64_t nnz)
{
	c->indptr = malloc(sizeof(int64_t) * ((size_t) rows + 1));
	c->indices = malloc(sizeof(int32_t) * (size_t) (nnz > 0 ? nnz : 1));
	c->data = malloc(sizeof(float) * (size_t) (nnz > 0 ? nnz : 1));
}

static void
csr_free(RsCsr *c)
{
	free(c->indptr);
	free(c->indices);
	free(c->data);
}

/*
 * density in [0, 1]; every 5th row empty and every 7th column empty when
 * the shape allows; every 6th row a copy of the row before it (ties).
 */
static RefMatrix
ref_matrix(int32_t n, int32_t m, double density, uint64_t seed)
{
	RefMatrix	x;
	int32_t    *rows = malloc(sizeof(int32_t) * (size_t) n * m + 1);
	int32_t    *cols = malloc(sizeof(int32_t) * (size_t) n * m + 1);
	float	   *vals = malloc(sizeof(float) * (size_t) n * m + 1);
	int64_t		nnz = 0;
	uint64_t	st = seed;

	x.n = n;
	x.m = m;
	x.dense = calloc((size_t) n * m + 1, sizeof(double));
	for (int32_t r = 0; r < n; r++)
		for (int32_t c = 0; c < m; c++)
		{
			float		v = 0.0f;

			if (n > 4 && r % 5 == 4)
				continue;
			if (m > 6 && c % 7 == 6)
				continue;
			if (r % 6 == 5)
				v = (float) x.dense[(size_t) (r - 1) * m + c];
			else if ((double) (ref_rand(&st) % 10000) / 10000.0 < density)
				v = 0.25f + (float) (ref_rand(&st) % 1000) / 250.0f;	/* 0.25 .. 4.25 */
			if (v == 0.0f)
				continue;
			x.dense[(size_t) r * m + c] = v;
			rows[nnz] = r;
			cols[nnz] = c;
			vals[nnz] = v;
			nnz++;
		}
	csr_alloc(&x.A, n, nnz);
	rs_coo_to_csr(n, m, nnz, rows, cols, vals, &x.A);
	csr_alloc(&x.At, m, nnz);
	rs_csr_transpose(&x.A, &x.At);
	free(rows);
	free(cols);
	free(vals);
	return x;
}

static void
ref_matrix_free(RefMatrix *x)
{
	free(x->dense);
	csr_free(&x->A);
	csr_free(&x->At);
}

/*
 * The reference similarity of rows a and b of the dense matrix, seen from
 * the given side (rows: a row of dense; columns: a column), and whether
 * the pair qualifies (shares a column).
 */
static bool
ref_similarity(const RefMatrix *x, bool columns, int32_t a, int32_t b,
			   const RsKnnParams *params, double *sim)
{
	int32_t		len = columns ? x->n : x->m;
	double		dot = 0.0,
				na = 0.0,
				nb = 0.0;
	int			common = 0,
				ca = 0,
				cb = 0;

	for (int32_t i = 0; i < len; i++)
	{
		double		u = columns ? x->dense[(size_t) i * x->m + a] : x->dense[(size_t) a * x->m + i];
		double		v = columns ? x->dense[(size_t) i * x->m + b] : x->dense[(size_t) b * x->m + i];

		na += u * u;
		nb += v * v;
		ca += u != 0.0;
		cb += v != 0.0;
		if (u != 0.0 && v != 0.0)
		{
			dot += u * v;
			common++;
		}
	}
	if (common == 0)
		return false;
	switch (params->kind)
	{
		case RS_KNN_COSINE:
			*sim = dot / (sqrt(na) * sqrt(nb) + params->shrink);
			break;
		case RS_KNN_JACCARD:
			*sim = (double) common / (ca + cb - common);
			break;
		default:
			*sim = dot;
	}
	if (params->support_shrink > 0)
		*sim *= (double) common / (common + params->support_shrink);
	return true;
}

static int
desc_double(const void *p, const void *q)
{
	double		a = *(const double *) p,
				b = *(const double *) q;

	return a < b ? 1 : a > b ? -1 : 0;
}

/*
 * Run the kernel on one side of x and compare each row with the
 * reference; returns the number of rows that disagree (and says which).
 */
static int
ref_compare(const RefMatrix *x, bool columns, const RsKnnParams *params, int nthreads)
{
	const RsCsr *A = columns ? &x->At : &x->A;
	const RsCsr *At = columns ? &x->A : &x->At;
	int32_t		n = A->n_rows;
	int			k = params->k;
	size_t		slots = (size_t) (n > 0 ? n : 1) * k;
	int32_t    *nbr = malloc(sizeof(int32_t) * slots);
	float	   *sim = malloc(sizeof(float) * slots);
	int32_t    *count = malloc(sizeof(int32_t) * (size_t) (n > 0 ? n : 1));
	float	   *norms = malloc(sizeof(float) * (size_t) (n > 0 ? n : 1));
	void	   *ws = malloc(rs_knn_workspace_bytes(params, n, nthreads));
	double	   *ref = malloc(sizeof(double) * (size_t) (n > 0 ? n : 1));
	bool	   *qualifies = malloc(sizeof(bool) * (size_t) (n > 0 ? n : 1));
	int			bad_rows = 0;
	int			status;

	rs_knn_row_norms(A, norms);
	status = rs_knn_build(A, At, norms, params, 0, n, nthreads, ws, nbr, sim, count);
	if (status != RS_KNN_OK)
	{
		fprintf(stderr, "  rs_knn_build: %s\n", rs_knn_strerror(status));
		bad_rows = n > 0 ? n : 1;
	}
	for (int32_t a = 0; a < n && status == RS_KNN_OK; a++)
	{
		int			nc = 0;
		double		kth;
		double		tol;
		bool		ok = true;

		for (int32_t b = 0; b < n; b++)
		{
			qualifies[b] = b != a && ref_similarity(x, columns, a, b, params, &ref[b]);
			if (!qualifies[b])
				ref[b] = -HUGE_VAL;
			nc += qualifies[b];
		}
		{
			double	   *sorted = malloc(sizeof(double) * (size_t) n);

			memcpy(sorted, ref, sizeof(double) * (size_t) n);
			qsort(sorted, n, sizeof(double), desc_double);
			kth = nc == 0 ? HUGE_VAL : sorted[(nc < k ? nc : k) - 1];
			tol = 1e-5 * (fabs(sorted[0]) + 1.0);
			/* the values, best first, position by position (ties or not) */
			if (count[a] != (nc < k ? nc : k))
				ok = false;
			for (int t = 0; ok && t < count[a]; t++)
				ok = fabs(sim[(size_t) a * k + t] - sorted[t]) <= tol;
			free(sorted);
		}
		/* the neighbours: real ones, scored as the reference does, at or above the K-th */
		for (int t = 0; ok && t < count[a]; t++)
		{
			int32_t		b = nbr[(size_t) a * k + t];

			ok = b >= 0 && b < n && qualifies[b] &&
				fabs(sim[(size_t) a * k + t] - ref[b]) <= tol && ref[b] >= kth - tol;
			/* no duplicates */
			for (int u = 0; ok && u < t; u++)
				ok = nbr[(size_t) a * k + u] != b;
		}
		/* every row clearly above the K-th is there */
		for (int32_t b = 0; ok && b < n; b++)
			if (qualifies[b] && ref[b] > kth + tol)
			{
				bool		found = false;

				for (int t = 0; t < count[a]; t++)
					found |= nbr[(size_t) a * k + t] == b;
				ok = found;
			}
		/* unused slots as documented */
		for (int t = count[a]; ok && t < k; t++)
			ok = nbr[(size_t) a * k + t] == -1 && sim[(size_t) a * k + t] == 0.0f;
		if (!ok)
		{
			if (bad_rows < 3)
				fprintf(stderr, "  %s %d (of %d x %d, kind %d, k %d, %d threads) differs from the reference\n",
						columns ? "column" : "row", a, x->n, x->m, params->kind, k, nthreads);
			bad_rows++;
		}
	}
	free(nbr);
	free(sim);
	free(count);
	free(norms);
	free(ws);
	free(ref);
	free(qualifies);
	return bad_rows;
}

/* Shapes x measures x sides x thread counts. */
UNIT_TEST(knn_reference_random_shapes)
{
	static const struct
	{
		int32_t		n,
					m;
		double		density;
	}			shapes[] = {
		{1, 5, 0.8},			/* one user: every item pair shares it */
		{5, 1, 0.8},			/* one item */
		{7, 3, 0.5},
		{40, 300, 0.05},		/* wide: few co-occurrences */
		{300, 25, 0.2},			/* tall: many candidates per row */
		{120, 120, 0.08},
		{60, 80, 0.0},			/* no interaction at all */
	};
	static const RsKnnParams measures[] = {
		{RS_KNN_COSINE, 5, 0.0f, 0.0f, NULL},
		{RS_KNN_COSINE, 1, 0.0f, 0.0f, NULL},
		{RS_KNN_COSINE, 50, 2.0f, 0.0f, NULL},
		{RS_KNN_COSINE, 8, 0.0f, 3.0f, NULL},
		{RS_KNN_JACCARD, 6, 0.0f, 0.0f, NULL},
		{RS_KNN_JACCARD, 4, 0.0f, 1.5f, NULL},
		{RS_KNN_DOT, 7, 0.0f, 0.0f, NULL},
		{RS_KNN_DOT, 500, 0.0f, 2.0f, NULL},	/* K beyond every row count */
	};
	int			bad = 0;
	int			compared = 0;

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
	{
		RefMatrix	x = ref_matrix(shapes[s].n, shapes[s].m, shapes[s].density, 100 + s);

		for (size_t q = 0; q < sizeof(measures) / sizeof(measures[0]); q++)
			for (int side = 0; side < 2; side++)
				for (int threads = 1; threads <= 3; threads += 2)
				{
					bad += ref_compare(&x, side == 1, &measures[q], threads);
					compared++;
				}
		ref_matrix_free(&x);
	}
	UNIT_CHECK(compared == 7 * 8 * 2 * 2);
	UNIT_CHECK(bad == 0);
}

/*
 * The reference sees what the generator planted: a row copied from the
 * one before it is that row's best cosine neighbour (similarity 1), tied
 * with nothing else unless another copy exists.
 */
UNIT_TEST(knn_reference_copies_are_nearest)
{
	RefMatrix	x = ref_matrix(120, 120, 0.08, 7);
	RsKnnParams params = {RS_KNN_COSINE, 3, 0.0f, 0.0f, NULL};
	int32_t    *nbr = malloc(sizeof(int32_t) * 120 * 3);
	float	   *sim = malloc(sizeof(float) * 120 * 3);
	int32_t    *count = malloc(sizeof(int32_t) * 120);
	float	   *norms = malloc(sizeof(float) * 120);
	void	   *ws = malloc(rs_knn_workspace_bytes(&params, 120, 1));
	int			copies = 0;

	rs_knn_row_norms(&x.A, norms);
	UNIT_CHECK(rs_knn_build(&x.A, &x.At, norms, &params, 0, 120, 1, ws, nbr, sim, count) == RS_KNN_OK);
	for (int32_t r = 5; r < 120; r += 6)
	{
		if (x.A.indptr[r + 1] == x.A.indptr[r])
			continue;			/* a copy of an empty row */
		copies++;
		UNIT_CHECK(count[r] >= 1 && nbr[(size_t) r * 3] == r - 1);
		UNIT_CHECK_NEAR(sim[(size_t) r * 3], 1.0, 1e-6);
	}
	UNIT_CHECK(copies >= 10);
	free(nbr);
	free(sim);
	free(count);
	free(norms);
	free(ws);
	ref_matrix_free(&x);
}
