/*
 * test_knn.c
 *		Unit tests of the neighbourhood kernels (src/kernel/knn.c): cosine,
 *		Jaccard, BM25 and support shrinkage on a hand-computed matrix;
 *		top-K against a brute-force dense computation (all kinds, tie order,
 *		dense and sparse accumulation); short rows, empty rows and self
 *		exclusion; bit-identical results across thread counts and chunkings;
 *		user-user on the transpose; item-kNN scoring; argument errors.
 *
 * Matrices are built with rs_coo_to_csr and rs_csr_transpose (sparse.c).
 * The brute force computes every similarity with the same float
 * expression as the kernel from exactly summed integer dot products, so
 * with integer weights it must agree bit for bit, ties included.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "sparse.h"
#include "unit.h"

/* ----------------------------------------------------------------------
 * Helpers
 * ----------------------------------------------------------------------
 */

/* A matrix and its transpose, owning their arrays. */
typedef struct KnnPair
{
	RsCsr		R;				/* rows x cols */
	RsCsr		Rt;				/* cols x rows */
} KnnPair;

/* Build R (n_rows x n_cols, duplicates summed) and its transpose from triples. */
static KnnPair
knn_pair_from_triples(int32_t n_rows, int32_t n_cols, int64_t nnz,
					  const int32_t *rows, const int32_t *cols,
					  const float *vals)
{
	KnnPair		p;
	size_t		room = nnz > 0 ? (size_t) nnz : 1;

	p.R.indptr = malloc(sizeof(int64_t) * ((size_t) n_rows + 1));
	p.R.indices = malloc(sizeof(int32_t) * room);
	p.R.data = malloc(sizeof(float) * room);
	rs_coo_to_csr(n_rows, n_cols, nnz, rows, cols, vals, &p.R);
	p.Rt.indptr = malloc(sizeof(int64_t) * ((size_t) n_cols + 1));
	p.Rt.indices = malloc(sizeof(int32_t) * room);
	p.Rt.data = malloc(sizeof(float) * room);
	rs_csr_transpose(&p.R, &p.Rt);
	return p;
}

static void
knn_pair_free(KnnPair *p)
{
	free(p->R.indptr);
	free(p->R.indices);
	free(p->R.data);
	free(p->Rt.indptr);
	free(p->Rt.indices);
	free(p->Rt.data);
}

/* The outputs of one rs_knn_build over all rows of A. */
typedef struct KnnOut
{
	int32_t    *nbr;
	float	   *sim;
	int32_t    *count;
	int			status;
} KnnOut;

/*
 * Neighbours of every row of A (At its transpose) in chunks of chunk rows
 * with nthreads threads.  Output arrays are pre-filled with garbage so
 * that unwritten slots show up.
 */
static KnnOut
knn_run(const RsCsr *A, const RsCsr *At, const RsKnnParams *params,
		int nthreads, int32_t chunk)
{
	KnnOut		o;
	int32_t		n = A->n_rows;
	size_t		slots = (size_t) (n > 0 ? n : 1) * (size_t) params->k;
	float	   *norms = malloc(sizeof(float) * (size_t) (n > 0 ? n : 1));
	size_t		ws_bytes = rs_knn_workspace_bytes(params, n, nthreads);
	char	   *ws = malloc(ws_bytes);

	o.nbr = malloc(sizeof(int32_t) * slots);
	o.sim = malloc(sizeof(float) * slots);
	o.count = malloc(sizeof(int32_t) * (size_t) (n > 0 ? n : 1));
	memset(o.nbr, 0x5a, sizeof(int32_t) * slots);
	memset(o.sim, 0x5a, sizeof(float) * slots);
	memset(o.count, 0x5a, sizeof(int32_t) * (size_t) (n > 0 ? n : 1));
	/* the kernel must not rely on a zeroed workspace */
	memset(ws, 0x7f, ws_bytes);
	rs_knn_row_norms(A, norms);

	o.status = RS_KNN_OK;
	for (int32_t b = 0; b < n && o.status == RS_KNN_OK; b += chunk)
	{
		int32_t		e = b + chunk < n ? b + chunk : n;

		o.status = rs_knn_build(A, At, norms, params, b, e, nthreads, ws,
								o.nbr + (size_t) b * params->k,
								o.sim + (size_t) b * params->k, o.count + b);
	}
	free(norms);
	free(ws);
	return o;
}

static void
knn_out_free(KnnOut *o)
{
	free(o->nbr);
	free(o->sim);
	free(o->count);
}

/* Whether two runs wrote bit-identical outputs for n rows. */
static int
knn_out_identical(const KnnOut *x, const KnnOut *y, int32_t n, int k)
{
	size_t		slots = (size_t) n * (size_t) k;

	return memcmp(x->count, y->count, sizeof(int32_t) * (size_t) n) == 0 &&
		memcmp(x->nbr, y->nbr, sizeof(int32_t) * slots) == 0 &&
		memcmp(x->sim, y->sim, sizeof(float) * slots) == 0;
}

/* Row a's count, clamped to [0, k] so that a broken kernel cannot crash a test. */
static int
knn_count(const KnnOut *o, int k, int32_t a)
{
	int			c = o->count[a];

	return c < 0 ? 0 : c > k ? k : c;
}

/* Find b in row a's neighbours: its similarity, or NAN if absent. */
static float
knn_find(const KnnOut *o, int k, int32_t a, int32_t b)
{
	for (int t = 0; t < knn_count(o, k, a); t++)
		if (o->nbr[(size_t) a * k + t] == b)
			return o->sim[(size_t) a * k + t];
	return NAN;
}

/* Deterministic pseudo-random numbers for the tests (splitmix64). */
static uint64_t
knn_rand(uint64_t *state)
{
	uint64_t	z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/*
 * The 4 users x 4 items matrix of the hand-computed tests:
 *
 *			i0	i1	i2	i3
 *		u0	 1	 2	 .	 .
 *		u1	 1	 .	 1	 .
 *		u2	 .	 1	 3	 .
 *		u3	 2	 1	 .	 .
 *
 * Item vectors over (u0, u1, u2, u3): i0 = (1,1,0,2), i1 = (2,0,1,1),
 * i2 = (0,1,3,0), i3 empty.  |i0|^2 = 6, |i1|^2 = 6, |i2|^2 = 10.
 * Dots: i0.i1 = 2 + 2 = 4, i0.i2 = 1, i1.i2 = 3.
 * Users of each item: i0 {u0,u1,u3}, i1 {u0,u2,u3}, i2 {u1,u2}, i3 {}.
 */
static KnnPair
knn_tiny(void)
{
	static const int32_t rows[] = {0, 0, 1, 1, 2, 2, 3, 3};
	static const int32_t cols[] = {0, 1, 0, 2, 1, 2, 0, 1};
	static const float vals[] = {1, 2, 1, 1, 1, 3, 2, 1};

	return knn_pair_from_triples(4, 4, 8, rows, cols, vals);
}

/* ----------------------------------------------------------------------
 * Hand-computed similarities
 * ----------------------------------------------------------------------
 */

/*
 * Cosine: i0~i1 = 4 / (sqrt6 sqrt6) = 0.666667, i1~i2 = 3 / sqrt60 =
 * 0.387298, i0~i2 = 1 / sqrt60 = 0.129099.  K = 3 > 2 co-occurring items,
 * so every item has count 2 (itself excluded) except i3 (no users): 0.
 */
UNIT_TEST(knn_cosine_hand)
{
	KnnPair		p = knn_tiny();
	RsKnnParams params = {RS_KNN_COSINE, 3, 0.0f, 0.0f, NULL};
	KnnOut		o = knn_run(&p.Rt, &p.R, &params, 1, 4);

	UNIT_CHECK(o.status == RS_KNN_OK);
	/* i0: i1 then i2 */
	UNIT_CHECK(o.count[0] == 2);
	UNIT_CHECK(o.nbr[0] == 1 && o.nbr[1] == 2 && o.nbr[2] == -1);
	UNIT_CHECK_NEAR(o.sim[0], 0.666667, 1e-6);
	UNIT_CHECK_NEAR(o.sim[1], 0.129099, 1e-6);
	UNIT_CHECK(o.sim[2] == 0.0f);
	/* i1: i0 (0.666667) then i2 (0.387298) */
	UNIT_CHECK(o.count[1] == 2);
	UNIT_CHECK(o.nbr[3] == 0 && o.nbr[4] == 2);
	UNIT_CHECK_NEAR(o.sim[3], 0.666667, 1e-6);
	UNIT_CHECK_NEAR(o.sim[4], 0.387298, 1e-6);
	/* i2: i1 then i0 */
	UNIT_CHECK(o.count[2] == 2);
	UNIT_CHECK(o.nbr[6] == 1 && o.nbr[7] == 0);
	UNIT_CHECK_NEAR(o.sim[6], 0.387298, 1e-6);
	UNIT_CHECK_NEAR(o.sim[7], 0.129099, 1e-6);
	/* i3 has no users: nothing, all slots cleared */
	UNIT_CHECK(o.count[3] == 0);
	UNIT_CHECK(o.nbr[9] == -1 && o.nbr[10] == -1 && o.nbr[11] == -1);
	UNIT_CHECK(o.sim[9] == 0.0f && o.sim[11] == 0.0f);
	/* never itself */
	for (int32_t a = 0; a < 4; a++)
		UNIT_CHECK(isnan(knn_find(&o, 3, a, a)));
	knn_out_free(&o);
	knn_pair_free(&p);
}

/*
 * Cosine with shrink 1: dot / (|a||b| + 1): i0~i1 = 4 / 7 = 0.571429,
 * i1~i2 = 3 / (sqrt60 + 1) = 0.343015, i0~i2 = 1 / 8.745967 = 0.114338.
 * K = 1 keeps the best only.
 */
UNIT_TEST(knn_cosine_shrink_hand)
{
	KnnPair		p = knn_tiny();
	RsKnnParams params = {RS_KNN_COSINE, 1, 1.0f, 0.0f, NULL};
	KnnOut		o = knn_run(&p.Rt, &p.R, &params, 1, 4);

	UNIT_CHECK(o.status == RS_KNN_OK);
	UNIT_CHECK(o.count[0] == 1 && o.nbr[0] == 1);
	UNIT_CHECK_NEAR(o.sim[0], 0.571429, 1e-6);
	UNIT_CHECK(o.count[2] == 1 && o.nbr[2] == 1);
	UNIT_CHECK_NEAR(o.sim[2], 0.343015, 1e-6);
	UNIT_CHECK(o.count[3] == 0 && o.nbr[3] == -1);
	knn_out_free(&o);

	/* and the i0~i2 value, with K = 2 */
	params.k = 2;
	o = knn_run(&p.Rt, &p.R, &params, 1, 4);
	UNIT_CHECK(o.nbr[1] == 2);
	UNIT_CHECK_NEAR(o.sim[1], 0.114338, 1e-6);
	knn_out_free(&o);
	knn_pair_free(&p);
}

/*
 * Jaccard on binarised data: i0~i1 = |{u0,u3}| / |{u0,u1,u2,u3}| = 2/4 =
 * 0.5; i0~i2 = |{u1}| / |{u0,u1,u2,u3}| = 1/4; i1~i2 = |{u2}| / 4 = 1/4.
 * So i2's two neighbours tie at 0.25: the smaller index (i0) comes first.
 */
UNIT_TEST(knn_jaccard_hand)
{
	KnnPair		p = knn_tiny();
	RsKnnParams params = {RS_KNN_JACCARD, 3, 0.0f, 0.0f, NULL};
	KnnOut		o = knn_run(&p.Rt, &p.R, &params, 1, 4);

	UNIT_CHECK(o.status == RS_KNN_OK);
	UNIT_CHECK(o.count[0] == 2 && o.nbr[0] == 1 && o.nbr[1] == 2);
	UNIT_CHECK(o.sim[0] == 0.5f && o.sim[1] == 0.25f);
	UNIT_CHECK(o.count[1] == 2 && o.nbr[3] == 0 && o.nbr[4] == 2);
	UNIT_CHECK(o.sim[3] == 0.5f && o.sim[4] == 0.25f);
	/* the tie: i0 before i1 */
	UNIT_CHECK(o.count[2] == 2 && o.nbr[6] == 0 && o.nbr[7] == 1);
	UNIT_CHECK(o.sim[6] == 0.25f && o.sim[7] == 0.25f);
	UNIT_CHECK(o.count[3] == 0);
	knn_out_free(&o);
	knn_pair_free(&p);
}

/*
 * Support shrinkage (Koren) on cosine with support_shrink 2:
 * sim * n / (n + 2) with n common users: i0~i1 (n = 2) = 0.666667 * 2/4 =
 * 0.333333; i1~i2 (n = 1) = 0.387298 / 3 = 0.129099; i0~i2 (n = 1) =
 * 0.129099 / 3 = 0.043033.  On Jaccard (n is the intersection): i0~i1 =
 * 0.5 * 2/4 = 0.25, i0~i2 = 0.25 * 1/3 = 0.083333.
 */
UNIT_TEST(knn_support_shrink_hand)
{
	KnnPair		p = knn_tiny();
	RsKnnParams params = {RS_KNN_COSINE, 2, 0.0f, 2.0f, NULL};
	KnnOut		o = knn_run(&p.Rt, &p.R, &params, 1, 4);

	UNIT_CHECK(o.status == RS_KNN_OK);
	UNIT_CHECK(o.nbr[0] == 1 && o.nbr[1] == 2);
	UNIT_CHECK_NEAR(o.sim[0], 0.333333, 1e-6);
	UNIT_CHECK_NEAR(o.sim[1], 0.043033, 1e-6);
	UNIT_CHECK(o.nbr[2] == 0 && o.nbr[3] == 2);
	UNIT_CHECK_NEAR(o.sim[3], 0.129099, 1e-6);
	knn_out_free(&o);

	params.kind = RS_KNN_JACCARD;
	o = knn_run(&p.Rt, &p.R, &params, 1, 4);
	UNIT_CHECK(o.nbr[0] == 1 && o.nbr[1] == 2);
	UNIT_CHECK_NEAR(o.sim[0], 0.25, 1e-7);
	UNIT_CHECK_NEAR(o.sim[1], 0.083333, 1e-6);
	knn_out_free(&o);
	knn_pair_free(&p);
}

/*
 * BM25 as implicit's BM25Recommender: documents = items (rows of Rt),
 * terms = users.  N = 4 items (i3 included); every user has 2 items, so
 * idf = log 4 - log1p 2 = log(4/3) = 0.287682 for all.  Item lengths
 * (sums) 4, 4, 4, 0: avg 3, so for i0..i2 the norm is 0.25 + 0.75 * 4/3 =
 * 1.25 and K1 * norm = 1.5.  w' = w * 2.2 / (1.5 + w) * idf:
 *		w = 1: 0.88 * idf = 0.253160;  w = 2: 1.257143 * idf = 0.361657;
 *		w = 3: 1.466667 * idf = 0.421934.
 * Dots (the BM25 similarity): i0~i1 = idf^2 (0.88 * 1.257143 * 2) =
 * 0.183115, i1~i2 = idf^2 (0.88 * 1.466667) = 0.106817, i0~i2 = idf^2 *
 * 0.88^2 = 0.064090.
 */
UNIT_TEST(knn_bm25_hand)
{
	KnnPair		p = knn_tiny();
	double	   *scratch = malloc(sizeof(double) * rs_bm25_scratch_count(&p.Rt));
	float		wt[8],
				w[8];
	RsCsr		Aw,
				Atw;
	RsKnnParams params = {RS_KNN_DOT, 2, 0.0f, 0.0f, NULL};
	KnnOut		o;

	UNIT_CHECK(rs_bm25_scratch_count(&p.Rt) == 8);
	UNIT_CHECK(rs_bm25_weight(&p.Rt, &p.R, 1.2f, 0.75f, scratch, wt, w) == RS_KNN_OK);
	/* Rt row i0 = users (u0, u1, u3) with weights (1, 1, 2) */
	UNIT_CHECK_NEAR(wt[0], 0.253160, 1e-6);
	UNIT_CHECK_NEAR(wt[1], 0.253160, 1e-6);
	UNIT_CHECK_NEAR(wt[2], 0.361657, 1e-6);
	/* Rt row i2 = (u1, u2) with (1, 3) at positions 6, 7 */
	UNIT_CHECK_NEAR(wt[7], 0.421934, 1e-6);
	/* both orientations bit-identical: (u2, i2) is R position 5 */
	UNIT_CHECK(memcmp(&w[5], &wt[7], sizeof(float)) == 0);
	for (int32_t i = 0; i < 4; i++)
		for (int64_t q = p.Rt.indptr[i]; q < p.Rt.indptr[i + 1]; q++)
		{
			int32_t		u = p.Rt.indices[q];

			for (int64_t r = p.R.indptr[u]; r < p.R.indptr[u + 1]; r++)
				if (p.R.indices[r] == i)
					UNIT_CHECK(memcmp(&w[r], &wt[q], sizeof(float)) == 0);
		}

	Aw = p.Rt;
	Aw.data = wt;
	Atw = p.R;
	Atw.data = w;
	o = knn_run(&Aw, &Atw, &params, 1, 4);
	UNIT_CHECK(o.status == RS_KNN_OK);
	UNIT_CHECK(o.nbr[0] == 1 && o.nbr[1] == 2);
	UNIT_CHECK_NEAR(o.sim[0], 0.183115, 1e-6);
	UNIT_CHECK_NEAR(o.sim[1], 0.064090, 1e-6);
	UNIT_CHECK(o.nbr[4] == 1 && o.nbr[5] == 0);
	UNIT_CHECK_NEAR(o.sim[4], 0.106817, 1e-6);
	UNIT_CHECK(o.count[3] == 0);
	knn_out_free(&o);

	/*
	 * The textbook orientation, documents = users: N = 4 users, df of i2 =
	 * 2 users, idf = log(4/3); user lengths 3, 2, 4, 3 (avg 3).  (u1, i2),
	 * w = 1: K1 (0.25 + 0.75 * 2/3) = 0.9, 2.2 / 1.9 * idf = 0.333106;
	 * (u2, i2), w = 3: K1 * 1.25 = 1.5, 6.6 / 4.5 * idf = 0.421934.  i0
	 * and i1 have df = 3 users, idf = log 4 - log 4 = 0.
	 */
	UNIT_CHECK(rs_bm25_weight(&p.R, &p.Rt, 1.2f, 0.75f, scratch, w, NULL) == RS_KNN_OK);
	UNIT_CHECK_NEAR(w[3], 0.333106, 1e-6);
	UNIT_CHECK_NEAR(w[5], 0.421934, 1e-6);
	UNIT_CHECK(w[0] == 0.0f && w[4] == 0.0f);

	/* bad parameters */
	UNIT_CHECK(rs_bm25_weight(&p.R, &p.Rt, -1.0f, 0.75f, scratch, w, NULL) == RS_KNN_ERR_ARGUMENT);
	UNIT_CHECK(rs_bm25_weight(&p.R, &p.Rt, 1.2f, 1.5f, scratch, w, NULL) == RS_KNN_ERR_ARGUMENT);
	UNIT_CHECK(rs_bm25_weight(&p.R, &p.R, 1.2f, 0.75f, scratch, w, NULL) == RS_KNN_OK);	/* square: shapes agree */
	free(scratch);
	knn_pair_free(&p);
}

/* Norms in double: |i0| = sqrt 6, |i2| = sqrt 10, |i3| = 0. */
UNIT_TEST(knn_row_norms)
{
	KnnPair		p = knn_tiny();
	float		norms[4];

	rs_knn_row_norms(&p.Rt, norms);
	UNIT_CHECK_NEAR(norms[0], 2.449490, 1e-6);
	UNIT_CHECK_NEAR(norms[1], 2.449490, 1e-6);
	UNIT_CHECK_NEAR(norms[2], 3.162278, 1e-6);
	UNIT_CHECK(norms[3] == 0.0f);
	knn_pair_free(&p);
}

/* ----------------------------------------------------------------------
 * Brute force on a random matrix
 * ----------------------------------------------------------------------
 */

/*
 * A random 200 x 300 matrix with integer weights 1..3 (or -3..3 without 0,
 * where dot products cancel to zero): a few very popular columns (so
 * their rows take the dense path), many rare ones, and duplicated columns
 * (identical rows of the transpose, hence exact ties).
 */
static KnnPair
knn_random(int32_t n_rows, int32_t n_cols, uint64_t seed, bool with_negative)
{
	int64_t		cap = (int64_t) n_rows * n_cols;
	int32_t    *rows = malloc(sizeof(int32_t) * cap);
	int32_t    *cols = malloc(sizeof(int32_t) * cap);
	float	   *vals = malloc(sizeof(float) * cap);
	int64_t		n = 0;
	uint64_t	st = seed;
	KnnPair		p;

	for (int32_t c = 0; c < n_cols; c++)
	{
		/* density: 60% for every 37th column, else 0.5% .. 8% */
		double		dens = c % 37 == 5 ? 0.6 : 0.005 + 0.075 * (double) (knn_rand(&st) % 1000) / 1000.0;
		int32_t		twin = c % 50 == 49 ? c - 1 : -1;	/* copy of c - 1 */

		if (c % 61 == 60)
			continue;			/* an empty column */
		for (int32_t r = 0; r < n_rows; r++)
		{
			if (twin >= 0)
				continue;
			if ((double) (knn_rand(&st) % 100000) / 100000.0 < dens)
			{
				rows[n] = r;
				cols[n] = c;
				vals[n] = (float) (1 + knn_rand(&st) % 3);
				if (with_negative && knn_rand(&st) % 2)
					vals[n] = -vals[n];
				n++;
			}
		}
		if (twin >= 0)
		{
			int64_t		end = n;

			for (int64_t e = 0; e < end; e++)
				if (cols[e] == twin)
				{
					rows[n] = rows[e];
					cols[n] = c;
					vals[n] = vals[e];
					n++;
				}
		}
	}
	p = knn_pair_from_triples(n_rows, n_cols, n, rows, cols, vals);
	free(rows);
	free(cols);
	free(vals);
	return p;
}

/*
 * Expected top-K of every row of A by dense brute force: integer dot
 * products and co-counts summed exactly, then the kernel's float
 * expression, candidates with a nonzero dot, sorted by (sim desc, index
 * asc).  Returns the number of rows whose result matched exactly.
 */
static int32_t
knn_brute_check(const RsCsr *A, const RsKnnParams *params, const KnnOut *o)
{
	int32_t		n = A->n_rows;
	int32_t		m = A->n_cols;
	int			k = params->k;
	float	   *dense = calloc((size_t) n * m, sizeof(float));
	float	   *norms = malloc(sizeof(float) * n);
	int32_t    *cidx = malloc(sizeof(int32_t) * n);
	float	   *csim = malloc(sizeof(float) * n);
	int32_t		matched = 0;

	rs_knn_row_norms(A, norms);
	for (int32_t r = 0; r < n; r++)
		for (int64_t p = A->indptr[r]; p < A->indptr[r + 1]; p++)
			dense[(size_t) r * m + A->indices[p]] = A->data[p];

	for (int32_t a = 0; a < n; a++)
	{
		int32_t		nc = 0;
		int			ok = 1;
		int			expect;

		for (int32_t b = 0; b < n; b++)
		{
			double		dot = 0.0;
			int			common = 0;
			float		v,
						sim;
			float		n_ab;

			if (b == a)
				continue;
			for (int32_t c = 0; c < m; c++)
			{
				float		x = dense[(size_t) a * m + c],
							y = dense[(size_t) b * m + c];

				if (x != 0.0f && y != 0.0f)
				{
					dot += (double) x * y;
					common++;
				}
			}
			v = params->kind == RS_KNN_JACCARD ? (float) common : (float) dot;
			/* no common column, or a dot product that cancels out */
			if (v == 0.0f)
				continue;
			n_ab = (float) common;
			if (params->kind == RS_KNN_COSINE)
				sim = v / (norms[a] * norms[b] + params->shrink);
			else if (params->kind == RS_KNN_JACCARD)
				sim = v / ((float) (A->indptr[a + 1] - A->indptr[a]) +
						   (float) (A->indptr[b + 1] - A->indptr[b]) - v);
			else
				sim = v;
			if (params->support_shrink > 0.0f)
				sim = sim * (n_ab / (n_ab + params->support_shrink));
			/* insertion into the sorted candidate list */
			{
				int32_t		pos = nc++;

				while (pos > 0 && (csim[pos - 1] < sim ||
								   (csim[pos - 1] == sim && cidx[pos - 1] > b)))
				{
					csim[pos] = csim[pos - 1];
					cidx[pos] = cidx[pos - 1];
					pos--;
				}
				csim[pos] = sim;
				cidx[pos] = b;
			}
		}
		expect = nc < k ? nc : k;
		if (o->count[a] != expect)
			ok = 0;
		for (int t = 0; ok && t < k; t++)
		{
			size_t		slot = (size_t) a * k + t;

			if (t < expect)
				ok = o->nbr[slot] == cidx[t] && o->sim[slot] == csim[t];
			else
				ok = o->nbr[slot] == -1 && o->sim[slot] == 0.0f;
		}
		if (!ok)
			fprintf(stderr, "  row %d differs from the brute force (count %d, expected %d)\n",
					a, o->count[a], expect);
		matched += ok;
	}
	free(dense);
	free(norms);
	free(cidx);
	free(csim);
	return matched;
}

/* Every kind and option, K below and above the candidate counts, both orientations. */
UNIT_TEST(knn_brute_force_all_kinds)
{
	KnnPair		p = knn_random(200, 300, 7, false);
	static const RsKnnParams cases[] = {
		{RS_KNN_COSINE, 10, 0.0f, 0.0f, NULL},
		{RS_KNN_COSINE, 10, 5.0f, 0.0f, NULL},
		{RS_KNN_COSINE, 7, 0.0f, 3.0f, NULL},
		{RS_KNN_JACCARD, 10, 0.0f, 0.0f, NULL},
		{RS_KNN_JACCARD, 3, 0.0f, 2.0f, NULL},
		{RS_KNN_DOT, 10, 0.0f, 0.0f, NULL},
		{RS_KNN_DOT, 5, 0.0f, 1.0f, NULL},
		{RS_KNN_COSINE, 400, 0.0f, 0.0f, NULL},	/* K > rows: count < K */
		{RS_KNN_JACCARD, 1, 0.0f, 0.0f, NULL},
	};
	int			dense_rows = 0,
				sparse_rows = 0,
				short_rows = 0;

	/* both accumulation paths occur: work >= n_rows / 2 is dense */
	for (int32_t a = 0; a < p.Rt.n_rows; a++)
	{
		int64_t		work = 0;

		for (int64_t q = p.Rt.indptr[a]; q < p.Rt.indptr[a + 1]; q++)
			work += p.R.indptr[p.Rt.indices[q] + 1] - p.R.indptr[p.Rt.indices[q]];
		if (work * 2 >= p.Rt.n_rows)
			dense_rows++;
		else if (work > 0)
			sparse_rows++;
	}
	UNIT_CHECK(dense_rows >= 5);
	UNIT_CHECK(sparse_rows >= 50);

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		KnnOut		o = knn_run(&p.Rt, &p.R, &cases[c], 1, 300);
		int32_t		matched;

		UNIT_CHECK(o.status == RS_KNN_OK);
		matched = knn_brute_check(&p.Rt, &cases[c], &o);
		if (matched != 300)
			fprintf(stderr, "  case %zu: %d of 300 rows match\n", c, matched);
		UNIT_CHECK(matched == 300);
		if (cases[c].k == 400)
			for (int32_t a = 0; a < 300; a++)
				short_rows += o.count[a] < 400;
		knn_out_free(&o);
	}
	UNIT_CHECK(short_rows == 300);
	knn_pair_free(&p);
}

/*
 * Signed weights: dot products that cancel to exactly zero are not
 * neighbours (in both the sparse and the dense path), and negative
 * similarities rank last.
 */
UNIT_TEST(knn_brute_force_signed)
{
	KnnPair		p = knn_random(200, 300, 13, true);
	static const RsKnnParams cases[] = {
		{RS_KNN_DOT, 10, 0.0f, 0.0f, NULL},
		{RS_KNN_COSINE, 10, 0.0f, 0.0f, NULL},
		{RS_KNN_COSINE, 300, 1.0f, 2.0f, NULL},	/* every candidate, negatives too */
		{RS_KNN_DOT, 10, 0.0f, 1.0f, NULL},
	};
	int			cancelled = 0;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		KnnOut		o = knn_run(&p.Rt, &p.R, &cases[c], 2, 41);
		int32_t		matched;

		UNIT_CHECK(o.status == RS_KNN_OK);
		matched = knn_brute_check(&p.Rt, &cases[c], &o);
		if (matched != 300)
			fprintf(stderr, "  case %zu: %d of 300 rows match\n", c, matched);
		UNIT_CHECK(matched == 300);
		knn_out_free(&o);
	}

	/* the data does have pairs with common users and a zero dot product */
	for (int32_t a = 0; a < 300 && !cancelled; a++)
		for (int32_t b = a + 1; b < 300 && !cancelled; b++)
		{
			float		dot = 0.0f;
			int			common = 0;
			int64_t		i = p.Rt.indptr[a],
						j = p.Rt.indptr[b];

			while (i < p.Rt.indptr[a + 1] && j < p.Rt.indptr[b + 1])
			{
				if (p.Rt.indices[i] < p.Rt.indices[j])
					i++;
				else if (p.Rt.indices[i] > p.Rt.indices[j])
					j++;
				else
				{
					dot += p.Rt.data[i++] * p.Rt.data[j++];
					common++;
				}
			}
			cancelled = common > 0 && dot == 0.0f;
		}
	UNIT_CHECK(cancelled);
	knn_pair_free(&p);
}

/* Twin columns are exact ties: the smaller index must come first. */
UNIT_TEST(knn_tie_order)
{
	KnnPair		p = knn_random(200, 300, 11, false);
	RsKnnParams params = {RS_KNN_COSINE, 20, 0.0f, 0.0f, NULL};
	KnnOut		o = knn_run(&p.Rt, &p.R, &params, 2, 300);
	int			ties = 0;

	/* item 49 is a copy of 48: both similar to anything with equal scores */
	for (int32_t a = 0; a < 300; a++)
	{
		float		s48 = knn_find(&o, 20, a, 48);
		float		s49 = knn_find(&o, 20, a, 49);

		if (a == 48 || a == 49 || isnan(s48) || isnan(s49))
			continue;
		UNIT_CHECK(s48 == s49);
		for (int t = 0; t < knn_count(&o, 20, a); t++)
		{
			if (o.nbr[(size_t) a * 20 + t] == 49)
			{
				UNIT_CHECK(t > 0 && o.nbr[(size_t) a * 20 + t - 1] == 48);
				break;
			}
			if (o.nbr[(size_t) a * 20 + t] == 48)
				break;
		}
		ties++;
	}
	UNIT_CHECK(ties > 5);
	/* and the twins are each other's best neighbour, at cosine 1 */
	UNIT_CHECK(o.nbr[48 * 20] == 49);
	UNIT_CHECK_NEAR(o.sim[48 * 20], 1.0, 1e-6);
	UNIT_CHECK(o.nbr[49 * 20] == 48);
	knn_out_free(&o);
	knn_pair_free(&p);
}

/* nthreads and the chunking never change a bit, for every mode. */
UNIT_TEST(knn_threads_chunks_identical)
{
	KnnPair		p = knn_random(200, 300, 23, false);
	static const RsKnnParams cases[] = {
		{RS_KNN_COSINE, 10, 0.5f, 0.0f, NULL},
		{RS_KNN_JACCARD, 10, 0.0f, 0.0f, NULL},
		{RS_KNN_DOT, 10, 0.0f, 2.0f, NULL},
	};
	float	   *w = malloc(sizeof(float) * (size_t) p.R.nnz);
	float	   *wt = malloc(sizeof(float) * (size_t) p.R.nnz);
	double	   *scratch = malloc(sizeof(double) * rs_bm25_scratch_count(&p.Rt));
	RsCsr		Aw = p.Rt,
				Atw = p.R;

	/* non-integer weights (BM25), where summation order would show */
	UNIT_CHECK(rs_bm25_weight(&p.Rt, &p.R, 1.2f, 0.75f, scratch, wt, w) == RS_KNN_OK);
	Aw.data = wt;
	Atw.data = w;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		KnnOut		base = knn_run(&Aw, &Atw, &cases[c], 1, 300);
		KnnOut		t2 = knn_run(&Aw, &Atw, &cases[c], 2, 300);
		KnnOut		t2c = knn_run(&Aw, &Atw, &cases[c], 2, 7);
		KnnOut		t3c = knn_run(&Aw, &Atw, &cases[c], 3, 1);
		KnnOut		t1c = knn_run(&Aw, &Atw, &cases[c], 1, 64);

		UNIT_CHECK(base.status == RS_KNN_OK && t2.status == RS_KNN_OK &&
				   t2c.status == RS_KNN_OK && t3c.status == RS_KNN_OK &&
				   t1c.status == RS_KNN_OK);
		UNIT_CHECK(knn_out_identical(&base, &t2, 300, cases[c].k));
		UNIT_CHECK(knn_out_identical(&base, &t2c, 300, cases[c].k));
		UNIT_CHECK(knn_out_identical(&base, &t3c, 300, cases[c].k));
		UNIT_CHECK(knn_out_identical(&base, &t1c, 300, cases[c].k));
		knn_out_free(&base);
		knn_out_free(&t2);
		knn_out_free(&t2c);
		knn_out_free(&t3c);
		knn_out_free(&t1c);
	}
	free(w);
	free(wt);
	free(scratch);
	knn_pair_free(&p);
}

/*
 * BM25 (non-integer) dot products against a double brute force, within
 * float rounding: values, order, and no better candidate left out.
 */
UNIT_TEST(knn_bm25_brute_force)
{
	KnnPair		p = knn_random(200, 300, 5, false);
	float	   *w = malloc(sizeof(float) * (size_t) p.R.nnz);
	float	   *wt = malloc(sizeof(float) * (size_t) p.R.nnz);
	double	   *scratch = malloc(sizeof(double) * rs_bm25_scratch_count(&p.Rt));
	double	   *dense = calloc((size_t) 300 * 200, sizeof(double));
	RsCsr		Aw = p.Rt,
				Atw = p.R;
	RsKnnParams params = {RS_KNN_DOT, 15, 0.0f, 0.0f, NULL};
	KnnOut		o;
	int			bad = 0;

	UNIT_CHECK(rs_bm25_weight(&p.Rt, &p.R, 1.2f, 0.75f, scratch, wt, w) == RS_KNN_OK);
	Aw.data = wt;
	Atw.data = w;
	o = knn_run(&Aw, &Atw, &params, 2, 50);
	UNIT_CHECK(o.status == RS_KNN_OK);
	for (int32_t i = 0; i < 300; i++)
		for (int64_t q = p.Rt.indptr[i]; q < p.Rt.indptr[i + 1]; q++)
			dense[(size_t) i * 200 + p.Rt.indices[q]] = wt[q];
	for (int32_t a = 0; a < 300; a++)
	{
		double		last = INFINITY;
		int			n_cand = 0;

		for (int t = 0; t < knn_count(&o, 15, a); t++)
		{
			int32_t		b = o.nbr[(size_t) a * 15 + t];

			if (b < 0 || b >= 300)
			{
				bad++;
				continue;
			}
			double		dot = 0.0;

			for (int32_t u = 0; u < 200; u++)
				dot += dense[(size_t) a * 200 + u] * dense[(size_t) b * 200 + u];
			if (b == a || fabs(dot - o.sim[(size_t) a * 15 + t]) > 1e-5 * (1 + fabs(dot)))
				bad++;
			if (o.sim[(size_t) a * 15 + t] > last)
				bad++;
			last = o.sim[(size_t) a * 15 + t];
		}
		for (int32_t b = 0; b < 300; b++)
		{
			double		dot = 0.0;
			int			common = 0;

			if (b == a)
				continue;
			for (int32_t u = 0; u < 200; u++)
			{
				dot += dense[(size_t) a * 200 + u] * dense[(size_t) b * 200 + u];
				common += dense[(size_t) a * 200 + u] != 0 && dense[(size_t) b * 200 + u] != 0;
			}
			n_cand += common > 0;
			/* anything clearly better than the last kept must be kept */
			if (o.count[a] == 15 && dot > last + 1e-5 && isnan(knn_find(&o, 15, a, b)))
				bad++;
		}
		if (o.count[a] != (n_cand < 15 ? n_cand : 15))
			bad++;
	}
	UNIT_CHECK(bad == 0);
	knn_out_free(&o);
	free(w);
	free(wt);
	free(scratch);
	free(dense);
	knn_pair_free(&p);
}

/* User-user: the same kernel on R (rows = users) with Rt as the transpose. */
UNIT_TEST(knn_user_user)
{
	KnnPair		p = knn_random(200, 300, 31, false);
	static const RsKnnParams cases[] = {
		{RS_KNN_COSINE, 12, 0.0f, 0.0f, NULL},
		{RS_KNN_JACCARD, 12, 0.0f, 0.0f, NULL},
		{RS_KNN_DOT, 12, 0.0f, 0.0f, NULL},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		KnnOut		o = knn_run(&p.R, &p.Rt, &cases[c], 2, 33);

		UNIT_CHECK(o.status == RS_KNN_OK);
		UNIT_CHECK(knn_brute_check(&p.R, &cases[c], &o) == 200);
		knn_out_free(&o);
	}

	/* the tiny matrix: u0 and u3 share i0 and i1: cosine (1*2 + 2*1) / (sqrt5 sqrt5) = 0.8 */
	{
		KnnPair		t = knn_tiny();
		RsKnnParams params = {RS_KNN_COSINE, 3, 0.0f, 0.0f, NULL};
		KnnOut		o = knn_run(&t.R, &t.Rt, &params, 1, 4);

		UNIT_CHECK(o.nbr[0] == 3);
		UNIT_CHECK_NEAR(o.sim[0], 0.8, 1e-6);
		/* u0's other neighbours: u2 (via i1: 2/(sqrt5 sqrt10) = 0.282843), u1 (via i0: 1/(sqrt5 sqrt2) = 0.316228) */
		UNIT_CHECK(o.count[0] == 3 && o.nbr[1] == 1 && o.nbr[2] == 2);
		UNIT_CHECK_NEAR(o.sim[1], 0.316228, 1e-6);
		UNIT_CHECK_NEAR(o.sim[2], 0.282843, 1e-6);
		knn_out_free(&o);
		knn_pair_free(&t);
	}
	knn_pair_free(&p);
}

/* ----------------------------------------------------------------------
 * Scoring and errors
 * ----------------------------------------------------------------------
 */

/*
 * A table of 5 items, K = 2:
 *		i0: (i1 0.5) (i2 0.25)		i1: (i0 0.5) (i3 0.125)
 *		i2: (i0 0.25)				i3: (i1 0.125) (i4 1.0)
 *		i4: nothing
 * User with items i0 (w 2) and i3 (w 1):
 *		i1 = 2 * 0.5 + 1 * 0.125 = 1.125, i2 = 2 * 0.25 = 0.5, i4 = 1.0.
 * Excluding the user's own items (none scored here), the top 2: i1, i4.
 */
UNIT_TEST(knn_scoring)
{
	static const int32_t nbr[] = {1, 2, 0, 3, 0, -1, 1, 4, -1, -1};
	static const float sim[] = {0.5f, 0.25f, 0.5f, 0.125f, 0.25f, 0, 0.125f, 1.0f, 0, 0};
	static const int32_t count[] = {2, 2, 1, 2, 0};
	int32_t		items[] = {0, 3};
	float		weights[] = {2.0f, 1.0f};
	float		scores[5] = {0};
	int32_t		touched[4];
	int32_t		out_idx[5];
	float		out_score[5];
	int64_t		nt;
	int			got;
	uint8_t		exclude[1] = {0};

	nt = rs_knn_accumulate_scores(items, weights, 2, nbr, sim, count, 2, 5,
								  scores, touched, 0);
	UNIT_CHECK(nt == 3);
	UNIT_CHECK(scores[1] == 1.125f && scores[2] == 0.5f && scores[4] == 1.0f);
	UNIT_CHECK(scores[0] == 0.0f && scores[3] == 0.0f);

	got = rs_knn_topk_touched(scores, touched, nt, NULL, 2, out_idx, out_score);
	UNIT_CHECK(got == 2);
	UNIT_CHECK(out_idx[0] == 1 && out_score[0] == 1.125f);
	UNIT_CHECK(out_idx[1] == 4 && out_score[1] == 1.0f);
	/* reset for the next user */
	for (int i = 0; i < 5; i++)
		UNIT_CHECK(scores[i] == 0.0f);

	/* unit weights, exclusion of i1: i4 1.0, then i2 and i0? i0 is not scored */
	nt = rs_knn_accumulate_scores(items, NULL, 2, nbr, sim, count, 2, 5,
								  scores, touched, 0);
	exclude[0] = 1 << 1;
	got = rs_knn_topk_touched(scores, touched, nt, exclude, 5, out_idx, out_score);
	UNIT_CHECK(got == 2);
	UNIT_CHECK(out_idx[0] == 4 && out_score[0] == 1.0f);
	UNIT_CHECK(out_idx[1] == 2 && out_score[1] == 0.25f);

	/* an item outside the table */
	items[1] = 5;
	UNIT_CHECK(rs_knn_accumulate_scores(items, NULL, 2, nbr, sim, count, 2, 5,
										scores, touched, 0) == RS_KNN_ERR_ARGUMENT);
}

/* Scores that cancel to zero and come back are listed twice but reported once. */
UNIT_TEST(knn_scoring_cancellation)
{
	/* i0: (i2 1.0); i1: (i2 -1.0); i3: (i2 0.5) */
	static const int32_t nbr[] = {2, 2, -1, 2};
	static const float sim[] = {1.0f, -1.0f, 0, 0.5f};
	static const int32_t count[] = {1, 1, 0, 1};
	int32_t		items[] = {0, 1, 3};
	float		scores[4] = {0};
	int32_t		touched[3];
	int32_t		out_idx[3];
	float		out_score[3];
	int64_t		nt = rs_knn_accumulate_scores(items, NULL, 3, nbr, sim, count, 1, 4,
											  scores, touched, 0);
	int			got;

	UNIT_CHECK(nt == 2 && touched[0] == 2 && touched[1] == 2);
	got = rs_knn_topk_touched(scores, touched, nt, NULL, 3, out_idx, out_score);
	UNIT_CHECK(got == 1 && out_idx[0] == 2 && out_score[0] == 0.5f);
	UNIT_CHECK(scores[2] == 0.0f);
}

/* Bad arguments are refused before anything is written. */
UNIT_TEST(knn_errors)
{
	KnnPair		p = knn_tiny();
	RsKnnParams params = {RS_KNN_COSINE, 2, 0.0f, 0.0f, NULL};
	float		norms[4];
	int32_t		nbr[8];
	float		sim[8];
	int32_t		count[4];
	char	   *ws = malloc(rs_knn_workspace_bytes(&params, 4, 2));

	rs_knn_row_norms(&p.Rt, norms);
	UNIT_CHECK(rs_knn_build(&p.Rt, &p.R, norms, &params, 0, 4, 2, ws, nbr, sim, count) == RS_KNN_OK);
	UNIT_CHECK(rs_knn_build(&p.Rt, &p.R, NULL, &params, 0, 4, 1, ws, nbr, sim, count) == RS_KNN_ERR_ARGUMENT);
	UNIT_CHECK(rs_knn_build(&p.Rt, &p.R, norms, &params, 2, 5, 1, ws, nbr, sim, count) == RS_KNN_ERR_ARGUMENT);
	UNIT_CHECK(rs_knn_build(&p.Rt, &p.R, norms, &params, 3, 2, 1, ws, nbr, sim, count) == RS_KNN_ERR_ARGUMENT);
	UNIT_CHECK(rs_knn_build(&p.Rt, &p.R, norms, &params, 2, 2, 1, ws, nbr, sim, count) == RS_KNN_OK);
	/* At's shape does not match A's transpose */
	{
		RsCsr		bad = p.R;

		bad.n_cols = 3;
		UNIT_CHECK(rs_knn_build(&p.Rt, &bad, norms, &params, 0, 4, 1, ws, nbr, sim, count) == RS_KNN_ERR_ARGUMENT);
	}
	params.k = 0;
	UNIT_CHECK(rs_knn_build(&p.Rt, &p.R, norms, &params, 0, 4, 1, ws, nbr, sim, count) == RS_KNN_ERR_ARGUMENT);
	params.k = 2;
	params.shrink = -1.0f;
	UNIT_CHECK(rs_knn_build(&p.Rt, &p.R, norms, &params, 0, 4, 1, ws, nbr, sim, count) == RS_KNN_ERR_ARGUMENT);
	params.shrink = NAN;
	UNIT_CHECK(rs_knn_build(&p.Rt, &p.R, norms, &params, 0, 4, 1, ws, nbr, sim, count) == RS_KNN_ERR_ARGUMENT);
	params.shrink = 0.0f;
	params.support_shrink = -2.0f;
	UNIT_CHECK(rs_knn_build(&p.Rt, &p.R, norms, &params, 0, 4, 1, ws, nbr, sim, count) == RS_KNN_ERR_ARGUMENT);
	params.support_shrink = 0.0f;
	params.kind = (RsKnnKind) 7;
	UNIT_CHECK(rs_knn_build(&p.Rt, &p.R, norms, &params, 0, 4, 1, ws, nbr, sim, count) == RS_KNN_ERR_ARGUMENT);
	UNIT_CHECK(strcmp(rs_knn_strerror(RS_KNN_ERR_ARGUMENT), rs_knn_strerror(RS_KNN_OK)) != 0);
	UNIT_CHECK(strstr(rs_knn_strerror(RS_KNN_ERR_THREAD), "thread") != NULL);
	UNIT_CHECK(strstr(rs_knn_strerror(-99), "unknown") != NULL);
	free(ws);
	knn_pair_free(&p);
}
