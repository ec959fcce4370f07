/*
 * als_kernel_bench.c
 *		Benchmark of the implicit ALS kernel (src/kernel/als.c) on a
 *		synthetic interaction matrix shaped like the target workload.
 *
 * The matrix: item popularity is Zipf (rank^-zipf, ranks randomly
 * permuted over item ids), each item belongs to one of 50 topics, each
 * user has a favourite topic and draws 70% of their items from it (by
 * popularity within the topic) and the rest from the whole catalogue;
 * user activity is log-normal (sigma 1) with the requested mean.  Repeated
 * draws of the same item add up to the value (a play count).
 *
 * For each thread count it times full iterations the way the glue runs
 * them: Gram matrix, then rs_als_implicit_update over chunks of 16384 rows
 * (users), then the same for items on the transpose.  It prints the median
 * seconds per half-iteration, checks that the factors are bit-identical
 * across thread counts, and reports the peak RSS.
 *
 * Build and run (default: 1M users x 100K items x ~19.3M entries, k = 64):
 *	cc -O2 -Wall -Isrc/kernel -o /tmp/als_bench test/bench/als_kernel_bench.c \
 *		src/kernel/*.c -lopenblas -lpthread -lm
 *	/tmp/als_bench [--small] [--users N] [--items N] [--nnz N] [--k K]
 *		[--reps R] [--threads 1,2] [--zipf S] [--loss] [--explicit]
 *
 * --explicit times rs_als_explicit_update instead (values become ratings
 * min(count, 5), reg 0.1); --loss prints the objective (implicit) or the
 * training RMSE (explicit) after each iteration.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>

#include "als.h"
#include "rng.h"
#include "sparse.h"

#define N_TOPICS		50
#define TOPIC_SHARE		0.7
#define CHUNK_ROWS		16384
#define MAX_THREAD_RUNS	8

/* Wall-clock seconds. */
static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds (user + system) used by this process so far. */
static double
cpu_seconds(void)
{
	struct rusage usage;

	getrusage(RUSAGE_SELF, &usage);
	return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 +
		usage.ru_stime.tv_sec + usage.ru_stime.tv_usec * 1e-6;
}

/* A standard normal draw (Box-Muller). */
static double
normal_draw(uint64_t seed, uint64_t counter)
{
	double		u1 = rs_rng_uniform_double(seed, 2 * counter);
	double		u2 = rs_rng_uniform_double(seed, 2 * counter + 1);

	return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

/* Index of the first cdf[i] > u in an increasing cdf of n entries. */
static int32_t
cdf_search(const double *cdf, int32_t n, double u)
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

static int
cmp_int32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a,
				y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

/* Generate the synthetic CSR matrix described at the top of the file. */
static void
generate(int32_t n_users, int32_t n_items, int64_t target_nnz, double zipf,
		 uint64_t seed, RsCsr *R)
{
	int32_t    *perm = malloc(sizeof(int32_t) * n_items);
	double	   *global_cdf = malloc(sizeof(double) * n_items);
	int32_t    *topic_items = malloc(sizeof(int32_t) * n_items);
	double	   *topic_cdf = malloc(sizeof(double) * n_items);
	int32_t		topic_start[N_TOPICS + 1];
	int32_t    *activity = malloc(sizeof(int32_t) * n_users);
	int32_t    *draws;
	float	   *counts;
	double		mean_activity = (double) target_nnz / n_users;
	double		mu_ln = log(mean_activity) - 0.5;
	double		total = 0.0;
	int64_t		cap = 0,
				out = 0,
				counter = 0;
	int32_t		r,
				t,
				u,
				max_activity = n_items / 4 > 1 ? n_items / 4 : 1;

	/* popularity rank r is item perm[r] */
	for (r = 0; r < n_items; r++)
		perm[r] = r;
	for (r = n_items - 1; r > 0; r--)
	{
		int32_t		j = (int32_t) (rs_rng_u64(seed + 1, r) % (uint64_t) (r + 1));
		int32_t		tmp = perm[r];

		perm[r] = perm[j];
		perm[j] = tmp;
	}
	for (r = 0; r < n_items; r++)
	{
		total += pow(r + 1.0, -zipf);
		global_cdf[r] = total;
	}
	for (r = 0; r < n_items; r++)
		global_cdf[r] /= total;

	/* topic of rank r is r % N_TOPICS: each topic has popular items too */
	{
		int32_t		pos = 0;

		for (t = 0; t < N_TOPICS; t++)
		{
			double		sum = 0.0;

			topic_start[t] = pos;
			for (r = t; r < n_items; r += N_TOPICS)
			{
				sum += pow(r + 1.0, -zipf);
				topic_items[pos] = perm[r];
				topic_cdf[pos] = sum;
				pos++;
			}
			for (r = topic_start[t]; r < pos; r++)
				topic_cdf[r] /= sum;
		}
		topic_start[N_TOPICS] = pos;
	}

	for (u = 0; u < n_users; u++)
	{
		double		a = exp(mu_ln + normal_draw(seed + 2, u));
		int32_t		n = (int32_t) (a + 0.5);

		n = n < 1 ? 1 : (n > max_activity ? max_activity : n);
		activity[u] = n;
		cap += n;
	}

	R->n_rows = n_users;
	R->n_cols = n_items;
	R->indptr = malloc(sizeof(int64_t) * ((size_t) n_users + 1));
	R->indices = malloc(sizeof(int32_t) * cap);
	R->data = malloc(sizeof(float) * cap);
	draws = malloc(sizeof(int32_t) * max_activity);
	counts = calloc(n_items, sizeof(float));
	R->indptr[0] = 0;
	for (u = 0; u < n_users; u++)
	{
		int32_t		topic = (int32_t) (rs_rng_u64(seed + 3, u) % N_TOPICS);
		int32_t		tn = topic_start[topic + 1] - topic_start[topic];
		int32_t		distinct = 0,
					d;
		int64_t		attempts = 0;

		/*
		 * Draw until the user has activity[u] distinct items (a repeat adds
		 * one to the item's count), so the matrix gets the requested nnz.
		 */
		while (distinct < activity[u] && attempts++ < 50 * (int64_t) activity[u])
		{
			double		coin = rs_rng_uniform_double(seed + 4, counter);
			double		pick = rs_rng_uniform_double(seed + 5, counter);
			int32_t		item;

			counter++;
			if (coin < TOPIC_SHARE && tn > 0)
				item = topic_items[topic_start[topic] +
								   cdf_search(topic_cdf + topic_start[topic], tn, pick)];
			else
				item = perm[cdf_search(global_cdf, n_items, pick)];
			if (counts[item] == 0.0f)
				draws[distinct++] = item;
			counts[item] += 1.0f;
		}
		qsort(draws, distinct, sizeof(int32_t), cmp_int32);
		for (d = 0; d < distinct; d++)
		{
			R->indices[out] = draws[d];
			R->data[out] = counts[draws[d]];
			counts[draws[d]] = 0.0f;
			out++;
		}
		R->indptr[u + 1] = out;
	}
	R->nnz = out;

	free(perm);
	free(global_cdf);
	free(topic_items);
	free(topic_cdf);
	free(activity);
	free(draws);
	free(counts);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Median of n values (sorts them). */
static double
median(double *v, int n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/*
 * One half-iteration: implicit (Gram of Y, then X's rows in glue-sized
 * chunks) or explicit biased (the chunks only).
 */
static double
half_iteration(bool explicit_mode, const RsCsr *R, const float *Y,
			   const float *ybias, float *X, float *xbias, float *G, int k,
			   float reg, float alpha, float mu, int nthreads, float *ws)
{
	double		t0 = now_seconds();
	int32_t		b;

	if (!explicit_mode)
		rs_gram(Y, R->n_cols, k, G, NULL, NULL);
	for (b = 0; b < R->n_rows; b += CHUNK_ROWS)
	{
		int32_t		e = R->n_rows - b > CHUNK_ROWS ? b + CHUNK_ROWS : R->n_rows;
		int			status;

		if (explicit_mode)
			status = rs_als_explicit_update(R, Y, ybias, mu, X, xbias, k,
											reg, reg, false, b, e, nthreads, ws);
		else
			status = rs_als_implicit_update(R, Y, G, X, k, reg, alpha,
											RS_ALS_DEFAULT_CG_STEPS,
											b, e, nthreads, ws);

		if (status != RS_ALS_OK)
		{
			fprintf(stderr, "update failed: %s\n", rs_als_strerror(status));
			exit(1);
		}
	}
	return now_seconds() - t0;
}

/* FNV-1a over bytes, to compare factors across runs. */
static uint64_t
hash_bytes(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t	h = UINT64_C(1469598103934665603);
	size_t		i;

	for (i = 0; i < n; i++)
		h = (h ^ c[i]) * UINT64_C(1099511628211);
	return h;
}

int
main(int argc, char **argv)
{
	int32_t		n_users = 1000000,
				n_items = 100000;
	int64_t		target_nnz = 19300000;
	int			k = 64,
				reps = 3,
				n_runs = 0,
				i,
				run;
	int			thread_list[MAX_THREAD_RUNS] = {1, 2};
	int			n_thread_list = 2;
	double		zipf = 0.9;
	bool		show_loss = false;
	bool		explicit_mode = false;
	double		mu = 0.0;
	float	   *xb,
			   *yb;
	float		reg = 0.01f,
				alpha = 2.0f;
	RsCsr		R,
				Rt;
	float	   *X,
			   *Y,
			   *G,
			   *ws;
	uint64_t	hashes[MAX_THREAD_RUNS];
	double		t0,
				max_deg = 0;
	struct rusage usage;

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--small") == 0)
		{
			n_users = 100000;
			n_items = 10000;
			target_nnz = 1930000;
		}
		else if (strcmp(argv[i], "--users") == 0 && i + 1 < argc)
			n_users = atoi(argv[++i]);
		else if (strcmp(argv[i], "--items") == 0 && i + 1 < argc)
			n_items = atoi(argv[++i]);
		else if (strcmp(argv[i], "--nnz") == 0 && i + 1 < argc)
			target_nnz = atoll(argv[++i]);
		else if (strcmp(argv[i], "--k") == 0 && i + 1 < argc)
			k = atoi(argv[++i]);
		else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--zipf") == 0 && i + 1 < argc)
			zipf = atof(argv[++i]);
		else if (strcmp(argv[i], "--loss") == 0)
			show_loss = true;
		else if (strcmp(argv[i], "--explicit") == 0)
			explicit_mode = true;
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
		{
			char	   *s = argv[++i];

			n_thread_list = 0;
			while (*s && n_thread_list < MAX_THREAD_RUNS)
			{
				thread_list[n_thread_list++] = (int) strtol(s, &s, 10);
				if (*s == ',')
					s++;
			}
		}
		else
		{
			fprintf(stderr, "usage: %s [--small] [--users N] [--items N] [--nnz N] [--k K] [--reps R] [--threads 1,2] [--zipf S] [--loss] [--explicit]\n", argv[0]);
			return 2;
		}
	}
	if (reps < 1 || k < 1 || n_users < 1 || n_items < 1)
		return 2;

	/* as the glue does: BLAS itself stays single-threaded */
	openblas_set_num_threads(1);

	t0 = now_seconds();
	generate(n_users, n_items, target_nnz, zipf, 12345, &R);
	if (explicit_mode)
	{
		int64_t		j;

		for (j = 0; j < R.nnz; j++)
		{
			R.data[j] = R.data[j] < 5.0f ? R.data[j] : 5.0f;
			mu += R.data[j];
		}
		mu /= R.nnz > 0 ? (double) R.nnz : 1.0;
		reg = 0.1f;
	}
	Rt.indptr = malloc(sizeof(int64_t) * ((size_t) n_items + 1));
	Rt.indices = malloc(sizeof(int32_t) * (R.nnz > 0 ? R.nnz : 1));
	Rt.data = malloc(sizeof(float) * (R.nnz > 0 ? R.nnz : 1));
	rs_csr_transpose(&R, &Rt);
	for (i = 0; i < n_items; i++)
		if (Rt.indptr[i + 1] - Rt.indptr[i] > max_deg)
			max_deg = (double) (Rt.indptr[i + 1] - Rt.indptr[i]);
	printf("matrix: %d users x %d items, %lld nonzeros (zipf %.2f, most popular item %.0f users), generated in %.1f s\n",
		   n_users, n_items, (long long) R.nnz, zipf, max_deg, now_seconds() - t0);
	if (explicit_mode)
		printf("explicit biased ALS: k = %d, reg = reg_bias = %g, mu = %.4f, chunks of %d rows, %d reps\n",
			   k, reg, mu, CHUNK_ROWS, reps);
	else
		printf("implicit ALS: k = %d, reg = %g, alpha = %g, cg_steps = %d, chunks of %d rows, %d reps\n",
			   k, reg, alpha, RS_ALS_DEFAULT_CG_STEPS, CHUNK_ROWS, reps);

	X = malloc(sizeof(float) * (size_t) n_users * k);
	Y = malloc(sizeof(float) * (size_t) n_items * k);
	G = malloc(sizeof(float) * (size_t) k * k);
	xb = calloc(n_users, sizeof(float));
	yb = calloc(n_items, sizeof(float));
	{
		int			max_threads = 1;

		for (i = 0; i < n_thread_list; i++)
			if (thread_list[i] > max_threads)
				max_threads = thread_list[i];
		ws = malloc(sizeof(float) * rs_als_workspace_floats(k, max_threads));
		printf("workspace: %.2f MiB for %d threads\n",
			   rs_als_workspace_floats(k, max_threads) * 4.0 / 1048576.0, max_threads);
	}

	for (run = 0; run < n_thread_list; run++)
	{
		int			nthreads = thread_list[run];
		double		tu[64],
					ti[64],
					tt[64];
		int			rep;
		double		wall0 = now_seconds(),
					cpu0 = cpu_seconds();

		rs_init_factors(X, n_users, k, 1, 0.01f);
		rs_init_factors(Y, n_items, k, 2, 0.01f);
		memset(xb, 0, sizeof(float) * n_users);
		memset(yb, 0, sizeof(float) * n_items);
		for (rep = 0; rep < reps && rep < 64; rep++)
		{
			tu[rep] = half_iteration(explicit_mode, &R, Y, yb, X, xb, G, k,
									 reg, alpha, (float) mu, nthreads, ws);
			ti[rep] = half_iteration(explicit_mode, &Rt, X, xb, Y, yb, G, k,
									 reg, alpha, (float) mu, nthreads, ws);
			tt[rep] = tu[rep] + ti[rep];
			if (show_loss)
			{
				double		tl = now_seconds();
				double		loss;

				if (explicit_mode)
					rs_rmse(&R, X, xb, Y, yb, (float) mu, k, 1.0f, 5.0f, NULL, NULL, &loss);
				else
				{
					rs_gram(Y, n_items, k, G, NULL, NULL);
					rs_als_implicit_loss(&R, X, Y, G, k, reg, alpha, nthreads, NULL, NULL, &loss);
				}
				printf("  threads %d iteration %d: users %.3f s, items %.3f s, %s %.6g (took %.2f s)\n",
					   nthreads, rep + 1, tu[rep], ti[rep],
					   explicit_mode ? "train RMSE" : "loss", loss, now_seconds() - tl);
			}
			else
				printf("  threads %d iteration %d: users %.3f s, items %.3f s\n",
					   nthreads, rep + 1, tu[rep], ti[rep]);
			fflush(stdout);
		}
		if (reps > 64)
			reps = 64;
		hashes[run] = hash_bytes(X, sizeof(float) * (size_t) n_users * k) ^
			hash_bytes(Y, sizeof(float) * (size_t) n_items * k) ^
			hash_bytes(xb, sizeof(float) * n_users) ^
			hash_bytes(yb, sizeof(float) * n_items);
		/*
		 * On a shared machine, cores busy elsewhere show up as a CPU/wall
		 * ratio below nthreads.
		 */
		printf("threads %d: median users half %.3f s, items half %.3f s, full iteration %.3f s (cores used: %.2f)\n",
			   nthreads, median(tu, reps), median(ti, reps), median(tt, reps),
			   (cpu_seconds() - cpu0) / (now_seconds() - wall0));
		/* to compare builds (two kernels' versions) bit for bit */
		printf("threads %d: factors hash %016llx\n", nthreads, (unsigned long long) hashes[run]);
		fflush(stdout);
		n_runs++;
	}
	for (run = 1; run < n_runs; run++)
		printf("factors with %d threads %s those with %d\n", thread_list[run],
			   hashes[run] == hashes[0] ? "are bit-identical to" : "DIFFER from",
			   thread_list[0]);

	getrusage(RUSAGE_SELF, &usage);
	printf("peak RSS: %.1f MiB\n", usage.ru_maxrss / 1024.0);
	return 0;
}
