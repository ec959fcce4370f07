/*
 * knn_kernel_bench.c
 *		Speed of the neighbourhood kernels (src/kernel/knn.c) on a synthetic
 *		implicit-feedback matrix shaped like shared/bench/synth.py's.
 *
 *   cc -O2 -Wall -Isrc/kernel -o /tmp/knn_bench test/bench/knn_kernel_bench.c \
 *       test/bench/knn_kernel_variant.c src/kernel/*.c -lopenblas -lpthread -lm
 *   /tmp/knn_bench [--scale F] [--users N] [--items M] [--pairs P]
 *                  [--kind bm25|cosine|jaccard|user-cosine] [--k K]
 *                  [--threads T[,T...]] [--runs R] [--chunk C] [--csv FILE]
 *
 * Defaults: 1,000,000 users, 100,000 items, 20,000,000 target pairs (about
 * 19.3M distinct after merging), kind bm25, K = 100, threads 1,2, 3 runs;
 * --scale 0.1 divides users, items and pairs by 10.  --csv reads a
 * "user_id,item_id,weight" file with 1-based ids (synth.py's output,
 * decompressed) instead of generating.
 *
 * Generative model (synth.py's, reimplemented with a private xoshiro256**
 * generator, so the same distribution but not the same draws): item
 * popularity Zipf 1/rank over a random permutation of ranks; T = 50 topics,
 * items and users assigned uniformly; each user's draw count is
 * log-normal(0, 1) times a scale calibrated on the first 5% of users so
 * that about --pairs distinct pairs remain, clipped to [1, 5000]; a draw
 * is from the user's topic (popularity-weighted) with p = 0.8, else from
 * the global popularity; repeated draws of a pair sum into its weight.
 *
 * Timed per run, as the PostgreSQL glue does it: for bm25, the BM25
 * weighting of both orientations plus the neighbour table of every item
 * (rs_knn_build, RS_KNN_DOT), called in chunks of --chunk rows (default
 * 1024, as src/train_knn.c, which checks for interrupts between calls).
 * Two variants take turns in every run, so that both see the same load:
 *	0.9.0	the kernel as it was (knn_kernel_variant.c: every candidate
 *			buffered in order), serial BM25 weighting, each row's cost
 *			counted by the kernel;
 *	now		the histogram selection, BM25 on the threads, every row's cost
 *			counted once on the threads (rs_knn_row_work, timed with the
 *			weights) and passed in.
 * Prints each run and the medians, with the process CPU time (the machine
 * is shared: wall time well above CPU time / threads means other jobs held
 * the cores), and a checksum of the lists: the variants must agree bit for
 * bit (the program fails otherwise).  The `implicit` library's
 * BM25Recommender(K=100).fit on synth.py's data took 12.2 s at 2 threads
 * on the same machine.
 *
 * Figures (2-core AMD EPYC VM, gcc 12 -O2, default size: 19.36M nonzeros,
 * 8.3e8 scatter-adds; median of 3, in the quietest runs seen):
 *		bm25 (weights + table)	1 thread 4.74 s		2 threads 2.48 s
 *		cosine					1 thread 5.08 s		2 threads 2.60 s
 *		jaccard					1 thread 4.63 s
 * User-user on this data is 2.95e11 scatter-adds (the most popular item
 * alone has 309,454 users): at --scale 0.1 (4.7e9) user-cosine took 11.9 s
 * of CPU at 1 thread.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "knn.h"
#include "sparse.h"

/* knn.c as up to 0.9.0 (test/bench/knn_kernel_variant.c) */
extern int	s8_rs_knn_build(const RsCsr *A, const RsCsr *At, const float *norms,
							const RsKnnParams *params, int32_t begin, int32_t end,
							int nthreads, void *workspace, int32_t *nbr, float *sim,
							int32_t *count);
extern int	s8_rs_bm25_weight(const RsCsr *docs, const RsCsr *docs_t, float k1, float b,
							  double *scratch, float *docs_data, float *docs_t_data);

/* The variants compared, in the order they take turns. */
static const char *const variant_name[2] = {"0.9.0", "now"};

/* xoshiro256** seeded through splitmix64. */
typedef struct Rng
{
	uint64_t	s[4];
} Rng;

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void
rng_seed(Rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t
rng_next(Rng *r)
{
	uint64_t   *s = r->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static inline double
rng_unif(Rng *r)
{
	return (double) (rng_next(r) >> 11) * 0x1.0p-53;
}

/* Standard normal by Box-Muller. */
static double
rng_normal(Rng *r)
{
	double		u1 = rng_unif(r),
				u2 = rng_unif(r);

	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* First index with cdf[i] > u (cdf ascending, last = 1). */
static int32_t
search_cdf(const double *cdf, int32_t n, double u)
{
	int32_t		lo = 0,
				hi = n - 1;

	while (lo < hi)
	{
		int32_t		mid = lo + (hi - lo) / 2;

		if (cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* The catalogue: global and per-topic popularity CDFs. */
typedef struct Catalog
{
	int32_t		n_items;
	int			topics;
	double	   *cdf;			/* n_items */
	int32_t    *members;		/* items grouped by topic */
	double	   *member_cdf;		/* per topic, cumulative within the topic */
	int32_t    *topic_start;	/* topics + 1 */
} Catalog;

/* One item for a user of topic t. */
static int32_t
draw_item(const Catalog *cat, Rng *r, int t)
{
	if (rng_unif(r) < 0.8 && cat->topic_start[t + 1] > cat->topic_start[t])
	{
		int32_t		s = cat->topic_start[t];
		int32_t		n = cat->topic_start[t + 1] - s;

		return cat->members[s + search_cdf(cat->member_cdf + s, n, rng_unif(r))];
	}
	return search_cdf(cat->cdf, cat->n_items, rng_unif(r));
}

static int
cmp_int32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a,
				y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

/* Draws of user u merged into sorted (item, count) pairs; returns distinct count. */
static int
user_row(const Catalog *cat, Rng *r, int t, int draws, int32_t *tmp,
		 int32_t *items, float *w)
{
	int			n = 0;

	for (int d = 0; d < draws; d++)
		tmp[d] = draw_item(cat, r, t);
	qsort(tmp, draws, sizeof(int32_t), cmp_int32);
	for (int d = 0; d < draws; d++)
	{
		if (n > 0 && items[n - 1] == tmp[d])
			w[n - 1] += 1.0f;
		else
		{
			items[n] = tmp[d];
			w[n] = 1.0f;
			n++;
		}
	}
	return n;
}

/* Generate R (users x items) as CSR. */
static void
generate(int32_t n_users, int32_t n_items, int64_t target, uint64_t seed, RsCsr *R)
{
	Rng			rng;
	Catalog		cat;
	int32_t    *rank = malloc(sizeof(int32_t) * n_items);
	int		   *item_topic = malloc(sizeof(int) * n_items);
	int		   *user_topic = malloc(sizeof(int) * n_users);
	double	   *act = malloc(sizeof(double) * n_users);
	double	   *pop = malloc(sizeof(double) * n_items);
	int32_t    *tmp = malloc(sizeof(int32_t) * 5000);
	int32_t    *row_items = malloc(sizeof(int32_t) * 5000);
	float	   *row_w = malloc(sizeof(float) * 5000);
	double		act_sum = 0.0,
				scale,
				acc;
	int64_t		cap,
				nnz = 0;
	int32_t		m;

	rng_seed(&rng, seed);
	cat.n_items = n_items;
	cat.topics = 50;
	for (int32_t i = 0; i < n_items; i++)
		rank[i] = i;
	for (int32_t i = n_items - 1; i > 0; i--)
	{
		int32_t		j = (int32_t) (rng_next(&rng) % (uint64_t) (i + 1));
		int32_t		t = rank[i];

		rank[i] = rank[j];
		rank[j] = t;
	}
	for (int32_t i = 0; i < n_items; i++)
	{
		pop[i] = 1.0 / (rank[i] + 1.0);
		item_topic[i] = (int) (rng_next(&rng) % 50);
	}
	for (int32_t u = 0; u < n_users; u++)
		user_topic[u] = (int) (rng_next(&rng) % 50);
	for (int32_t u = 0; u < n_users; u++)
	{
		act[u] = exp(rng_normal(&rng));
		act_sum += act[u];
	}

	cat.cdf = malloc(sizeof(double) * n_items);
	acc = 0.0;
	for (int32_t i = 0; i < n_items; i++)
		cat.cdf[i] = (acc += pop[i]);
	for (int32_t i = 0; i < n_items; i++)
		cat.cdf[i] /= acc;
	cat.cdf[n_items - 1] = 1.0;

	cat.topic_start = calloc(51, sizeof(int32_t));
	cat.members = malloc(sizeof(int32_t) * n_items);
	cat.member_cdf = malloc(sizeof(double) * n_items);
	for (int32_t i = 0; i < n_items; i++)
		cat.topic_start[item_topic[i] + 1]++;
	for (int t = 0; t < 50; t++)
		cat.topic_start[t + 1] += cat.topic_start[t];
	{
		int32_t    *pos = malloc(sizeof(int32_t) * 50);

		memcpy(pos, cat.topic_start, sizeof(int32_t) * 50);
		for (int32_t i = 0; i < n_items; i++)
			cat.members[pos[item_topic[i]]++] = i;
		free(pos);
	}
	for (int t = 0; t < 50; t++)
	{
		int32_t		s = cat.topic_start[t],
					e = cat.topic_start[t + 1];

		acc = 0.0;
		for (int32_t p = s; p < e; p++)
			cat.member_cdf[p] = (acc += pop[cat.members[p]]);
		for (int32_t p = s; p < e; p++)
			cat.member_cdf[p] /= acc;
		if (e > s)
			cat.member_cdf[e - 1] = 1.0;
	}

	/* calibrate the scale on the first 5% of users, on a separate stream */
	scale = (double) target / act_sum;
	m = n_users / 20 > 0 ? n_users / 20 : 1;
	{
		Rng			cal;
		int64_t		drawn = 0,
					kept = 0;

		rng_seed(&cal, seed + 1);
		for (int32_t u = 0; u < m; u++)
		{
			int			d = (int) fmin(fmax(rint(act[u] * scale), 1), 5000);

			drawn += d;
			kept += user_row(&cat, &cal, user_topic[u], d, tmp, row_items, row_w);
		}
		scale /= (double) kept / (double) drawn;
	}

	cap = (int64_t) (target * 1.2) + 5000;
	R->n_rows = n_users;
	R->n_cols = n_items;
	R->indptr = malloc(sizeof(int64_t) * ((size_t) n_users + 1));
	R->indices = malloc(sizeof(int32_t) * cap);
	R->data = malloc(sizeof(float) * cap);
	R->indptr[0] = 0;
	for (int32_t u = 0; u < n_users; u++)
	{
		int			d = (int) fmin(fmax(rint(act[u] * scale), 1), 5000);
		int			n = user_row(&cat, &rng, user_topic[u], d, tmp, row_items, row_w);

		if (nnz + n > cap)
		{
			cap = cap * 3 / 2 + n;
			R->indices = realloc(R->indices, sizeof(int32_t) * cap);
			R->data = realloc(R->data, sizeof(float) * cap);
		}
		memcpy(R->indices + nnz, row_items, sizeof(int32_t) * n);
		memcpy(R->data + nnz, row_w, sizeof(float) * n);
		nnz += n;
		R->indptr[u + 1] = nnz;
	}
	R->nnz = nnz;

	free(rank);
	free(item_topic);
	free(user_topic);
	free(act);
	free(pop);
	free(tmp);
	free(row_items);
	free(row_w);
	free(cat.cdf);
	free(cat.topic_start);
	free(cat.members);
	free(cat.member_cdf);
}

/* Read "user_id,item_id,weight" lines (1-based ids, a header line) into R. */
static int
read_csv(const char *path, RsCsr *R)
{
	FILE	   *f = fopen(path, "r");
	char		line[256];
	int64_t		n = 0,
				cap = 1 << 20;
	int32_t    *rows = malloc(sizeof(int32_t) * cap);
	int32_t    *cols = malloc(sizeof(int32_t) * cap);
	float	   *vals = malloc(sizeof(float) * cap);
	int32_t		max_u = 0,
				max_i = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
	{
		long		u,
					i;
		double		w;

		if (sscanf(line, "%ld,%ld,%lf", &u, &i, &w) != 3)
			continue;
		if (n == cap)
		{
			cap *= 2;
			rows = realloc(rows, sizeof(int32_t) * cap);
			cols = realloc(cols, sizeof(int32_t) * cap);
			vals = realloc(vals, sizeof(float) * cap);
		}
		rows[n] = (int32_t) (u - 1);
		cols[n] = (int32_t) (i - 1);
		vals[n] = (float) w;
		if (rows[n] + 1 > max_u)
			max_u = rows[n] + 1;
		if (cols[n] + 1 > max_i)
			max_i = cols[n] + 1;
		n++;
	}
	fclose(f);
	R->indptr = malloc(sizeof(int64_t) * ((size_t) max_u + 1));
	R->indices = malloc(sizeof(int32_t) * n);
	R->data = malloc(sizeof(float) * n);
	rs_coo_to_csr(max_u, max_i, n, rows, cols, vals, R);
	free(rows);
	free(cols);
	free(vals);
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds of the whole process (all threads). */
static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* FNV-1a over the lists (count, indices, similarity bits): equal lists, equal sums. */
static uint64_t
lists_checksum(const int32_t *nbr, const float *sim, const int32_t *count,
			   int32_t n, int k)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	const unsigned char *parts[3] = {(const unsigned char *) count,
		(const unsigned char *) nbr, (const unsigned char *) sim};
	size_t		lens[3] = {sizeof(int32_t) * (size_t) n,
		sizeof(int32_t) * (size_t) n * k, sizeof(float) * (size_t) n * k};

	for (int part = 0; part < 3; part++)
		for (size_t i = 0; i < lens[part]; i++)
			h = (h ^ parts[part][i]) * 0x100000001b3ULL;
	return h;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Transpose into freshly allocated arrays. */
static void
transpose_alloc(const RsCsr *in, RsCsr *out)
{
	out->indptr = malloc(sizeof(int64_t) * ((size_t) in->n_cols + 1));
	out->indices = malloc(sizeof(int32_t) * (size_t) in->nnz);
	out->data = malloc(sizeof(float) * (size_t) in->nnz);
	rs_csr_transpose(in, out);
}

int
main(int argc, char **argv)
{
	double		scale = 1.0;
	int32_t		n_users = 1000000,
				n_items = 100000;
	int64_t		pairs = 20000000;
	const char *kind = "bm25";
	const char *csv = NULL;
	const char *threads_arg = "1,2";
	int			k = 100,
				runs = 3,
				chunk = 1024;
	RsCsr		R,
				Rt,
				A,
				At;
	double		t0;
	double		flops = 0.0;
	double		user_flops = 0.0;

	for (int i = 1; i < argc; i++)
	{
		if (!strcmp(argv[i], "--scale") && i + 1 < argc)
			scale = atof(argv[++i]);
		else if (!strcmp(argv[i], "--users") && i + 1 < argc)
			n_users = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--items") && i + 1 < argc)
			n_items = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
			pairs = atoll(argv[++i]);
		else if (!strcmp(argv[i], "--kind") && i + 1 < argc)
			kind = argv[++i];
		else if (!strcmp(argv[i], "--k") && i + 1 < argc)
			k = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads_arg = argv[++i];
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
			chunk = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
			csv = argv[++i];
		else
		{
			fprintf(stderr, "usage: %s [--scale F] [--users N] [--items M] [--pairs P] "
					"[--kind bm25|cosine|jaccard|user-cosine] [--k K] [--threads T,T] "
					"[--runs R] [--chunk C] [--csv FILE]\n", argv[0]);
			return 2;
		}
	}
	n_users = (int32_t) (n_users * scale);
	n_items = (int32_t) (n_items * scale);
	pairs = (int64_t) (pairs * scale);
	if (runs < 1)
		runs = 1;

	t0 = now();
	if (csv)
	{
		if (read_csv(csv, &R) != 0)
		{
			fprintf(stderr, "cannot read %s\n", csv);
			return 1;
		}
	}
	else
		generate(n_users, n_items, pairs, 42, &R);
	transpose_alloc(&R, &Rt);
	for (int32_t u = 0; u < R.n_rows; u++)
	{
		double		len = (double) (R.indptr[u + 1] - R.indptr[u]);

		flops += len * len;
	}
	for (int32_t i = 0; i < Rt.n_rows; i++)
	{
		double		len = (double) (Rt.indptr[i + 1] - Rt.indptr[i]);

		user_flops += len * len;
	}
	printf("data: %d users x %d items, %lld nonzeros (%.1f s to %s)\n",
		   R.n_rows, R.n_cols, (long long) R.nnz, now() - t0,
		   csv ? "read" : "generate");
	printf("scatter-adds: item-item %.3g (sum over users of len^2), user-user %.3g\n",
		   flops, user_flops);
	{
		int64_t		max_item = 0,
					max_user = 0;

		for (int32_t i = 0; i < Rt.n_rows; i++)
			if (Rt.indptr[i + 1] - Rt.indptr[i] > max_item)
				max_item = Rt.indptr[i + 1] - Rt.indptr[i];
		for (int32_t u = 0; u < R.n_rows; u++)
			if (R.indptr[u + 1] - R.indptr[u] > max_user)
				max_user = R.indptr[u + 1] - R.indptr[u];
		printf("most popular item: %lld users; most active user: %lld items\n",
			   (long long) max_item, (long long) max_user);
	}

	/* rows of A are compared: items (A = Rt) unless user-user */
	if (!strcmp(kind, "user-cosine"))
	{
		A = R;
		At = Rt;
	}
	else
	{
		A = Rt;
		At = R;
	}

	{
		RsKnnParams params = {RS_KNN_DOT, k, 0.0f, 0.0f, NULL};
		float	   *a_w = malloc(sizeof(float) * (size_t) A.nnz);
		float	   *at_w = malloc(sizeof(float) * (size_t) A.nnz);
		double	   *bm25_scratch = malloc(sizeof(double) * rs_bm25_scratch_count(&A));
		float	   *norms = malloc(sizeof(float) * (size_t) A.n_rows);
		int32_t    *nbr = malloc(sizeof(int32_t) * (size_t) A.n_rows * k);
		float	   *sim = malloc(sizeof(float) * (size_t) A.n_rows * k);
		int32_t    *count = malloc(sizeof(int32_t) * (size_t) A.n_rows);
		const char *tp = threads_arg;
		bool		bm25 = !strcmp(kind, "bm25");

		if (!strcmp(kind, "cosine") || !strcmp(kind, "user-cosine"))
			params.kind = RS_KNN_COSINE;
		else if (!strcmp(kind, "jaccard"))
			params.kind = RS_KNN_JACCARD;

		while (*tp)
		{
			int			nthreads = atoi(tp);
			size_t		ws_bytes = rs_knn_workspace_bytes(&params, A.n_rows, nthreads);
			void	   *ws = malloc(ws_bytes);
			int64_t    *work = malloc(sizeof(int64_t) * ((size_t) A.n_rows + 1));
			double	   *secs[2] = {malloc(sizeof(double) * runs), malloc(sizeof(double) * runs)};
			double	   *cpus[2] = {malloc(sizeof(double) * runs), malloc(sizeof(double) * runs)};
			uint64_t	sums[2] = {0, 0};

			/* the variants take turns, so that both see the same machine */
			for (int r = 0; r < runs; r++)
				for (int v = 0; v < 2; v++)
				{
					RsCsr		Aw = A,
								Atw = At;
					RsKnnParams vp = params;
					double		t_weight,
								t_start = now(),
								c_start = cpu_now();
					int			status = RS_KNN_OK;
					double		total_nbrs = 0;

					if (bm25)
					{
						/* implicit's orientation: documents = items, terms = users */
						status = v == 0 ?
							s8_rs_bm25_weight(&A, &At, RS_BM25_DEFAULT_K1, RS_BM25_DEFAULT_B,
											  bm25_scratch, a_w, at_w) :
							rs_bm25_weight_threads(&A, &At, RS_BM25_DEFAULT_K1, RS_BM25_DEFAULT_B,
												   nthreads, bm25_scratch, a_w, at_w);
						Aw.data = a_w;
						Atw.data = at_w;
					}
					else if (params.kind == RS_KNN_COSINE)
						rs_knn_row_norms(&A, norms);
					/* as src/train_knn.c: every row's work once, for the chunks too */
					if (v == 1 && status == RS_KNN_OK)
					{
						status = rs_knn_row_work(&A, &At, nthreads, work);
						vp.row_work = work;
					}
					t_weight = now() - t_start;
					for (int32_t b = 0; b < A.n_rows && status == RS_KNN_OK; b += chunk)
					{
						int32_t		e = b + chunk < A.n_rows ? b + chunk : A.n_rows;

						status = (v == 0 ? s8_rs_knn_build : rs_knn_build)
							(&Aw, &Atw, norms, &vp, b, e, nthreads, ws,
							 nbr + (size_t) b * k, sim + (size_t) b * k, count + b);
					}
					if (status != RS_KNN_OK)
					{
						fprintf(stderr, "kernel error: %s\n", rs_knn_strerror(status));
						return 1;
					}
					secs[v][r] = now() - t_start;
					cpus[v][r] = cpu_now() - c_start;
					for (int32_t a = 0; a < A.n_rows; a++)
						total_nbrs += count[a];
					sums[v] = lists_checksum(nbr, sim, count, A.n_rows, k);
					printf("%s k=%d threads=%d run %d %s: %.2f s (weights/norms/work %.2f s; cpu %.2f s), "
						   "%.0f neighbours, lists %016llx\n",
						   kind, k, nthreads, r + 1, variant_name[v], secs[v][r], t_weight,
						   cpus[v][r], total_nbrs, (unsigned long long) sums[v]);
					fflush(stdout);
				}
			for (int v = 0; v < 2; v++)
			{
				qsort(secs[v], runs, sizeof(double), cmp_double);
				qsort(cpus[v], runs, sizeof(double), cmp_double);
				printf("%s k=%d threads=%d %s: median %.2f s (cpu %.2f s) over %d runs\n",
					   kind, k, nthreads, variant_name[v], secs[v][runs / 2], cpus[v][runs / 2], runs);
				free(secs[v]);
				free(cpus[v]);
			}
			printf("%s k=%d threads=%d: lists %s\n", kind, k, nthreads,
				   sums[0] == sums[1] ? "identical" : "DIFFER");
			fflush(stdout);
			if (sums[0] != sums[1])
				return 1;
			free(ws);
			free(work);
			while (*tp && *tp != ',')
				tp++;
			if (*tp == ',')
				tp++;
		}
	}
	return 0;
}
