/*
 * test_knn_select.c
 *		rs_knn_build's neighbour selection on rows with many candidates,
 *		the cost counts (rs_knn_row_work) and the threaded BM25 weighting,
 *		each against a plain loop, bit for bit.
 *
 * A sparse row with more candidates than its buffer holds is selected
 * through a histogram of its similarities (knn.c, select_sparse): only the
 * candidates from the bucket of the K-th best up are ranked.  The reference
 * here computes every dot product of a row in the kernel's order (columns
 * of the row ascending, so each pair's products are summed in ascending
 * column order), ranks all of them with qsort and keeps the K best, so it
 * must agree bit for bit with any correct selection.  The matrices have
 * fractional weights and weights from a small set (exact ties across
 * bucket boundaries), negative weights (negative similarities and dot
 * products that cancel to zero), and all-equal weights (every similarity
 * in a handful of buckets).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "sparse.h"
#include "unit.h"

/* splitmix64, for deterministic matrices */
static uint64_t
sel_rand(uint64_t *state)
{
	uint64_t	z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* How a test matrix's weights are drawn. */
typedef enum SelWeights
{
	SEL_FRACTIONAL,				/* uniform in (0.05, 2.05) */
	SEL_FEW_VALUES,				/* 0.5, 1 or 2: exact ties */
	SEL_SIGNED,					/* -1, 1 or 2: negatives, cancellation */
	SEL_ONES					/* all 1: integer counts */
} SelWeights;

/* A users x items matrix R and its transpose (item rows), owning the arrays. */
typedef struct SelMatrix
{
	RsCsr		R;
	RsCsr		Rt;
} SelMatrix;

/*
 * n_users users with per_user items each (distinct, from n_items; a tenth of
 * the items are popular and drawn half the time, so that row costs vary).
 */
static SelMatrix
sel_matrix(int32_t n_users, int32_t n_items, int per_user, SelWeights kind,
		   uint64_t seed)
{
	SelMatrix	m;
	int64_t		nnz = (int64_t) n_users * per_user;
	int32_t    *rows = malloc(sizeof(int32_t) * nnz);
	int32_t    *cols = malloc(sizeof(int32_t) * nnz);
	float	   *vals = malloc(sizeof(float) * nnz);
	bool	   *used = calloc(n_items, sizeof(bool));
	int64_t		e = 0;

	for (int32_t u = 0; u < n_users; u++)
	{
		int64_t		first = e;

		while (e - first < per_user)
		{
			uint64_t	r = sel_rand(&seed);
			int32_t		i = (r & 1) ? (int32_t) ((r >> 8) % (uint64_t) (n_items / 10)) :
				(int32_t) ((r >> 8) % (uint64_t) n_items);
			float		w;

			if (used[i])
				continue;
			used[i] = true;
			r = sel_rand(&seed);
			switch (kind)
			{
				case SEL_FRACTIONAL:
					w = 0.05f + (float) (r >> 11) * 0x1.0p-53f * 2.0f;
					break;
				case SEL_FEW_VALUES:
					w = (r % 3 == 0) ? 0.5f : (r % 3 == 1) ? 1.0f : 2.0f;
					break;
				case SEL_SIGNED:
					w = (r % 3 == 0) ? -1.0f : (r % 3 == 1) ? 1.0f : 2.0f;
					break;
				default:
					w = 1.0f;
					break;
			}
			rows[e] = u;
			cols[e] = i;
			vals[e] = w;
			e++;
		}
		for (int64_t p = first; p < e; p++)
			used[cols[p]] = false;
	}
	m.R.indptr = malloc(sizeof(int64_t) * ((size_t) n_users + 1));
	m.R.indices = malloc(sizeof(int32_t) * nnz);
	m.R.data = malloc(sizeof(float) * nnz);
	rs_coo_to_csr(n_users, n_items, nnz, rows, cols, vals, &m.R);
	m.Rt.indptr = malloc(sizeof(int64_t) * ((size_t) n_items + 1));
	m.Rt.indices = malloc(sizeof(int32_t) * nnz);
	m.Rt.data = malloc(sizeof(float) * nnz);
	rs_csr_transpose(&m.R, &m.Rt);
	free(rows);
	free(cols);
	free(vals);
	free(used);
	return m;
}

static void
sel_free(SelMatrix *m)
{
	free(m->R.indptr);
	free(m->R.indices);
	free(m->R.data);
	free(m->Rt.indptr);
	free(m->Rt.indices);
	free(m->Rt.data);
}

/* One candidate of the reference. */
typedef struct SelPair
{
	float		sim;
	int32_t		idx;
} SelPair;

/* Similarity descending, then index ascending. */
static int
sel_cmp(const void *x, const void *y)
{
	const SelPair *a = x;
	const SelPair *b = y;

	if (a->sim != b->sim)
		return a->sim > b->sim ? -1 : 1;
	return (a->idx > b->idx) - (a->idx < b->idx);
}

/*
 * RS_KNN_DOT top-k of every row of A by the plain loop; returns how many
 * rows match the kernel's output (nbr, sim, count) bit for bit.  Also
 * counts the rows the histogram selection serves: sparse accumulation
 * (fewer scatter-adds than n_rows / 2) and more candidates than the
 * buffer's 4k + 60.
 */
static int32_t
sel_check(const RsCsr *A, const RsCsr *At, int k, const int32_t *nbr,
		  const float *sim, const int32_t *count, int32_t *histogram_rows)
{
	int32_t		n = A->n_rows;
	float	   *acc = calloc(n, sizeof(float));
	bool	   *seen = calloc(n, sizeof(bool));
	SelPair    *cand = malloc(sizeof(SelPair) * n);
	int32_t		matched = 0;

	*histogram_rows = 0;
	for (int32_t a = 0; a < n; a++)
	{
		int64_t		work = 0;
		int32_t		nc = 0;
		int32_t		touched = 0;
		bool		ok;
		int			kept;

		/* the kernel's order: columns of a ascending, then rows of each column */
		for (int64_t p = A->indptr[a]; p < A->indptr[a + 1]; p++)
		{
			int32_t		c = A->indices[p];

			work += At->indptr[c + 1] - At->indptr[c];
			for (int64_t q = At->indptr[c]; q < At->indptr[c + 1]; q++)
			{
				acc[At->indices[q]] += A->data[p] * At->data[q];
				touched += !seen[At->indices[q]];
				seen[At->indices[q]] = true;
			}
		}
		for (int32_t b = 0; b < n; b++)
		{
			if (acc[b] != 0.0f && b != a)
			{
				cand[nc].sim = acc[b];
				cand[nc].idx = b;
				nc++;
			}
			acc[b] = 0.0f;
			seen[b] = false;
		}
		if (work * 2 < n && touched > 4 * k + 60)
			(*histogram_rows)++;
		qsort(cand, nc, sizeof(SelPair), sel_cmp);
		kept = nc < k ? nc : k;
		ok = count[a] == kept;
		for (int t = 0; t < k && ok; t++)
		{
			int32_t		want_idx = t < kept ? cand[t].idx : -1;
			float		want_sim = t < kept ? cand[t].sim : 0.0f;

			ok = nbr[(size_t) a * k + t] == want_idx &&
				memcmp(&sim[(size_t) a * k + t], &want_sim, sizeof(float)) == 0;
		}
		matched += ok;
	}
	free(acc);
	free(seen);
	free(cand);
	return matched;
}

/* rs_knn_build on rows of items, with or without the row counts. */
static void
sel_case(SelWeights weights, int k, int nthreads, bool with_work)
{
	SelMatrix	m = sel_matrix(400, 3000, 100, weights, 1000 + (uint64_t) weights);
	RsCsr	   *A = &m.Rt;
	RsCsr	   *At = &m.R;
	int32_t		n = A->n_rows;
	int64_t    *work = malloc(sizeof(int64_t) * n);
	RsKnnParams params = {RS_KNN_DOT, k, 0.0f, 0.0f, NULL};
	void	   *ws;
	int32_t    *nbr = malloc(sizeof(int32_t) * (size_t) n * k);
	float	   *sim = malloc(sizeof(float) * (size_t) n * k);
	int32_t    *count = malloc(sizeof(int32_t) * n);
	int32_t		matched;
	int32_t		histogram_rows;

	if (with_work)
	{
		UNIT_CHECK(rs_knn_row_work(A, At, nthreads, work) == RS_KNN_OK);
		params.row_work = work;
	}
	ws = malloc(rs_knn_workspace_bytes(&params, n, nthreads));
	/* chunks of 700 rows, so that calls start mid-matrix */
	for (int32_t b = 0; b < n; b += 700)
	{
		int32_t		e = b + 700 < n ? b + 700 : n;

		UNIT_CHECK(rs_knn_build(A, At, NULL, &params, b, e, nthreads, ws,
								nbr + (size_t) b * k, sim + (size_t) b * k,
								count + b) == RS_KNN_OK);
	}
	matched = sel_check(A, At, k, nbr, sim, count, &histogram_rows);
	if (matched != n)
		fprintf(stderr, "  weights %d, k %d, %d threads: %d of %d rows match\n",
				(int) weights, k, nthreads, matched, n);
	UNIT_CHECK(matched == n);
	/* most rows go through the histogram selection, unless K is huge */
	if (k < 100)
		UNIT_CHECK(histogram_rows > n / 2);
	free(work);
	free(ws);
	free(nbr);
	free(sim);
	free(count);
	sel_free(&m);
}

/* Every weighting, several K, 1 and 3 threads, counted or not. */
UNIT_TEST(knn_select_many_candidates)
{
	static const SelWeights weights[] = {SEL_FRACTIONAL, SEL_FEW_VALUES, SEL_SIGNED, SEL_ONES};
	static const int ks[] = {1, 7, 40, 300};

	for (size_t w = 0; w < sizeof(weights) / sizeof(weights[0]); w++)
		for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
			sel_case(weights[w], ks[i], (i % 2) ? 3 : 1, (i + w) % 2 == 0);
}

/* rs_knn_row_work equals the plain count, whatever the threads. */
UNIT_TEST(knn_row_work_counts)
{
	SelMatrix	m = sel_matrix(2000, 9000, 12, SEL_ONES, 77);
	int32_t		n = m.Rt.n_rows;
	int64_t    *work = malloc(sizeof(int64_t) * n);

	for (int threads = 1; threads <= 4; threads++)
	{
		int32_t		wrong = 0;

		memset(work, 0xff, sizeof(int64_t) * n);
		UNIT_CHECK(rs_knn_row_work(&m.Rt, &m.R, threads, work) == RS_KNN_OK);
		for (int32_t a = 0; a < n; a++)
		{
			int64_t		want = 0;

			for (int64_t p = m.Rt.indptr[a]; p < m.Rt.indptr[a + 1]; p++)
				want += m.R.indptr[m.Rt.indices[p] + 1] - m.R.indptr[m.Rt.indices[p]];
			wrong += work[a] != want;
		}
		UNIT_CHECK(wrong == 0);
	}
	UNIT_CHECK(rs_knn_row_work(&m.Rt, &m.Rt, 1, work) == RS_KNN_ERR_ARGUMENT);
	UNIT_CHECK(rs_knn_row_work(&m.Rt, &m.R, 1, NULL) == RS_KNN_ERR_ARGUMENT);
	free(work);
	sel_free(&m);
}

/* Threaded BM25 weights are the serial ones, bit for bit, both orientations. */
UNIT_TEST(knn_bm25_threads_identical)
{
	SelMatrix	m = sel_matrix(6000, 5000, 9, SEL_FRACTIONAL, 5);
	int64_t		nnz = m.R.nnz;
	double	   *scratch = malloc(sizeof(double) * rs_bm25_scratch_count(&m.Rt));
	float	   *want_d = malloc(sizeof(float) * nnz);
	float	   *want_t = malloc(sizeof(float) * nnz);
	float	   *got_d = malloc(sizeof(float) * nnz);
	float	   *got_t = malloc(sizeof(float) * nnz);

	/* documents = items (5,000 rows), terms = users (6,000): both threaded */
	UNIT_CHECK(rs_bm25_weight(&m.Rt, &m.R, 1.2f, 0.75f, scratch, want_d, want_t) == RS_KNN_OK);
	for (int threads = 2; threads <= 4; threads++)
	{
		memset(got_d, 0, sizeof(float) * nnz);
		memset(got_t, 0, sizeof(float) * nnz);
		UNIT_CHECK(rs_bm25_weight_threads(&m.Rt, &m.R, 1.2f, 0.75f, threads, scratch,
										  got_d, got_t) == RS_KNN_OK);
		UNIT_CHECK(memcmp(got_d, want_d, sizeof(float) * nnz) == 0);
		UNIT_CHECK(memcmp(got_t, want_t, sizeof(float) * nnz) == 0);
	}
	/* one orientation only, and the arguments refused as before */
	UNIT_CHECK(rs_bm25_weight_threads(&m.Rt, &m.R, 1.2f, 0.75f, 3, scratch, NULL, got_t) == RS_KNN_OK);
	UNIT_CHECK(memcmp(got_t, want_t, sizeof(float) * nnz) == 0);
	UNIT_CHECK(rs_bm25_weight_threads(&m.Rt, &m.R, -1.0f, 0.75f, 2, scratch, got_d, NULL) == RS_KNN_ERR_ARGUMENT);
	UNIT_CHECK(rs_bm25_weight_threads(&m.Rt, &m.Rt, 1.2f, 0.75f, 2, scratch, got_d, NULL) == RS_KNN_ERR_ARGUMENT);
	free(scratch);
	free(want_d);
	free(want_t);
	free(got_d);
	free(got_t);
	sel_free(&m);
}
