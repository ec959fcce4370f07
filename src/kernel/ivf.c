/*
 * ivf.c
 *		k-means over the Euclidean transformation of item vectors, the
 *		items' lists, and a query's probe order (see ivf.h).
 *
 * Assignment is the bulk of the work: for a chunk of IVF_CHUNK items one
 * cblas_sgemm gives their dot products with every centroid, and each item
 * takes the centroid maximising a.C - |C|^2 / 2 (the nearest).  Chunks are
 * pulled from a shared counter by the threads; an item's list does not
 * depend on which thread took its chunk.  The centroid update runs on the
 * calling thread, in item order, in double.
 *
 * Pure C: no PostgreSQL calls; safe on several threads.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "ivf.h"
#include "rng.h"
#include "threads.h"

#define IVF_CHUNK 256			/* items per sgemm */

/* Item y (k floats) scaled by inv_m, with its coordinate completing the unit norm. */
static void
augment(const float *y, int k, double inv_m, float *out)
{
	double		s = 0;

	for (int d = 0; d < k; d++)
	{
		double		v = y[d] * inv_m;

		out[d] = (float) v;
		s += v * v;
	}
	out[k] = (float) sqrt(s < 1 ? 1 - s : 0);
}

/* One assignment pass: the nearest centroid of items rows[0..n) (or 0..n). */
typedef struct AssignPass
{
	const float *Y;
	int			k;
	double		inv_m;
	const int64_t *rows;		/* NULL: the items themselves */
	int64_t		n;
	const float *centroids;		/* lists x (k + 1) */
	const float *half_norm;		/* |C|^2 / 2 */
	int			lists;
	int32_t    *assign;			/* per position */
	int64_t		next;			/* the shared chunk counter */
	int			stopped;		/* set by the calling thread's worker */
	RsStopClock *clock;
} AssignPass;

typedef struct AssignWorker
{
	AssignPass *pass;
	float	   *buf;			/* IVF_CHUNK x (k + 1), then IVF_CHUNK x lists */
	bool		caller;
} AssignWorker;

static void *
assign_worker(void *arg)
{
	AssignWorker *w = arg;
	AssignPass *p = w->pass;
	int			d = p->k + 1;
	float	   *a = w->buf;
	float	   *s = w->buf + (size_t) IVF_CHUNK * d;
	int64_t		begin,
				end;

	while (!__atomic_load_n(&p->stopped, __ATOMIC_RELAXED) &&
		   rs_threads_grab(&p->next, IVF_CHUNK, p->n, &begin, &end))
	{
		int			m = (int) (end - begin);

		for (int r = 0; r < m; r++)
		{
			int64_t		row = p->rows ? p->rows[begin + r] : begin + r;

			augment(p->Y + row * p->k, p->k, p->inv_m, a + (size_t) r * d);
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, p->lists, d, 1.0f, a, d,
					p->centroids, d, 0.0f, s, p->lists);
		for (int r = 0; r < m; r++)
		{
			const float *sr = s + (size_t) r * p->lists;
			int32_t		best = 0;
			float		best_v = -INFINITY;

			for (int l = 0; l < p->lists; l++)
			{
				float		v = sr[l] - p->half_norm[l];

				if (v > best_v)
				{
					best_v = v;
					best = l;
				}
			}
			p->assign[begin + r] = best;
		}
		if (w->caller && rs_stop_tick(p->clock, (int64_t) m * p->lists * d))
			__atomic_store_n(&p->stopped, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* An assignment pass over Y scaled by 1 / max_norm (rows, n, assign: the caller's). */
static void
init_pass(AssignPass *p, const float *Y, int k, double max_norm, const float *centroids,
		  const float *half_norm, int lists, RsStopClock *clock)
{
	memset(p, 0, sizeof(*p));
	p->Y = Y;
	p->k = k;
	p->inv_m = max_norm > 0 ? 1 / max_norm : 1;
	p->centroids = centroids;
	p->half_norm = half_norm;
	p->lists = lists;
	p->clock = clock;
}

/* Run one assignment pass on the threads; RS_IVF_* status. */
static int
assign_all(AssignPass *p, int threads, float *bufs)
{
	AssignWorker workers[RS_THREADS_MAX];
	size_t		per = (size_t) IVF_CHUNK * (p->k + 1 + p->lists);
	int			rc;

	if (threads > RS_THREADS_MAX)
		threads = RS_THREADS_MAX;
	if (threads < 1)
		threads = 1;
	p->next = 0;
	p->stopped = 0;
	for (int t = 0; t < threads; t++)
	{
		workers[t].pass = p;
		workers[t].buf = bufs + per * t;
		workers[t].caller = t == 0;
	}
	rc = rs_threads_run(threads, assign_worker, workers, sizeof(AssignWorker));
	if (p->stopped)
		return RS_IVF_STOPPED;
	return rc == RS_THREADS_OK ? RS_IVF_OK : RS_IVF_ERR_THREAD;
}

static void
set_half_norms(const float *centroids, int lists, int d, float *half_norm)
{
	for (int l = 0; l < lists; l++)
	{
		double		s = 0;

		for (int j = 0; j < d; j++)
			s += (double) centroids[(size_t) l * d + j] * centroids[(size_t) l * d + j];
		half_norm[l] = (float) (s / 2);
	}
}

/* The largest norm of the items rows[0..n) of Y (or 0..n), the build's M. */
static double
largest_norm(const float *Y, int k, const int64_t *rows, int64_t n)
{
	double		max_norm = 0;

	for (int64_t r = 0; r < n; r++)
	{
		int64_t		i = rows ? rows[r] : r;
		double		s = 0;

		for (int j = 0; j < k; j++)
			s += (double) Y[i * k + j] * Y[i * k + j];
		if (s > max_norm)
			max_norm = s;
	}
	return sqrt(max_norm);
}

static int
cmp_int64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a,
				y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/*
 * The first m of a seeded partial Fisher-Yates shuffle of 0..n-1, sorted
 * (perm holds n entries); NULL-free: returns perm.
 */
static int64_t *
sample_rows(int64_t n, int64_t m, uint64_t seed, int64_t *perm)
{
	for (int64_t i = 0; i < n; i++)
		perm[i] = i;
	for (int64_t i = 0; i < m; i++)
	{
		int64_t		j = i + (int64_t) (rs_rng_u64(seed, (uint64_t) i) % (uint64_t) (n - i));
		int64_t		t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	qsort(perm, (size_t) m, sizeof(int64_t), cmp_int64);
	return perm;
}

int
rs_ivf_build(const float *Y, int64_t n, int k, const RsIvfParams *params, float *centroids,
			 int32_t *assign)
{
	int			lists,
				d = k + 1,
				threads,
				status = RS_IVF_OK,
				rc;
	int64_t		m;
	double		max_norm = 0;
	int64_t    *rows = NULL;
	int32_t    *sassign = NULL;
	float	   *half_norm = NULL,
			   *bufs = NULL;
	double	   *sums = NULL;
	int64_t    *counts = NULL;
	RsStopClock clock;
	AssignPass pass;

	if (Y == NULL || centroids == NULL || assign == NULL || params == NULL || n < 1 || k < 1 ||
		params->lists < 1 || params->lists > RS_IVF_MAX_LISTS || params->lists > n ||
		params->iterations < 1 || params->iterations > RS_IVF_MAX_ITERATIONS)
		return RS_IVF_ERR_ARGUMENT;
	lists = params->lists;
	threads = params->threads < 1 ? 1 : params->threads > RS_THREADS_MAX ? RS_THREADS_MAX :
		params->threads;
	clock = rs_stop_clock(params->stop, params->stop_arg);

	max_norm = largest_norm(Y, k, NULL, n);

	m = (int64_t) lists * RS_IVF_SAMPLE_PER_LIST;
	if (m > n)
		m = n;
	rows = malloc(sizeof(int64_t) * (size_t) n);
	sassign = malloc(sizeof(int32_t) * (size_t) m);
	half_norm = malloc(sizeof(float) * (size_t) lists);
	sums = malloc(sizeof(double) * (size_t) lists * d);
	counts = malloc(sizeof(int64_t) * (size_t) lists);
	bufs = malloc(sizeof(float) * (size_t) IVF_CHUNK * (d + lists) * threads);
	if (!rows || !sassign || !half_norm || !sums || !counts || !bufs)
	{
		status = RS_IVF_ERR_MEMORY;
		goto done;
	}
	sample_rows(n, m, params->seed, rows);

	/* start from lists distinct sample points, drawn by a second stream */
	{
		int64_t    *pick = malloc(sizeof(int64_t) * (size_t) m);

		if (pick == NULL)
		{
			status = RS_IVF_ERR_MEMORY;
			goto done;
		}
		sample_rows(m, lists, params->seed ^ UINT64_C(0x5bd1e995), pick);
		for (int l = 0; l < lists; l++)
			augment(Y + rows[pick[l]] * k, k, max_norm > 0 ? 1 / max_norm : 1,
					centroids + (size_t) l * d);
		free(pick);
	}

	init_pass(&pass, Y, k, max_norm, centroids, half_norm, lists, &clock);

	for (int it = 0; it < params->iterations; it++)
	{
		float	   *a = bufs;	/* the caller's buffer, between passes */

		set_half_norms(centroids, lists, d, half_norm);
		pass.rows = rows;
		pass.n = m;
		pass.assign = sassign;
		rc = assign_all(&pass, threads, bufs);
		if (rc == RS_IVF_STOPPED)
		{
			status = rc;
			goto done;
		}
		if (rc == RS_IVF_ERR_THREAD)
			status = rc;

		memset(sums, 0, sizeof(double) * (size_t) lists * d);
		memset(counts, 0, sizeof(int64_t) * (size_t) lists);
		for (int64_t r = 0; r < m; r++)
		{
			double	   *sum = sums + (size_t) sassign[r] * d;

			augment(Y + rows[r] * k, k, pass.inv_m, a);
			for (int j = 0; j < d; j++)
				sum[j] += a[j];
			counts[sassign[r]]++;
		}
		for (int l = 0; l < lists; l++)
		{
			if (counts[l] > 0)
				for (int j = 0; j < d; j++)
					centroids[(size_t) l * d + j] = (float) (sums[(size_t) l * d + j] / counts[l]);
			else
			{
				/* an empty list restarts at a sample point drawn by the seed */
				uint64_t	draw = rs_rng_u64(params->seed ^ UINT64_C(0xc2b2ae35),
											  (uint64_t) it * lists + l);

				augment(Y + rows[draw % (uint64_t) m] * k, k, pass.inv_m, centroids + (size_t) l * d);
			}
		}
		if (rs_stop_tick(&clock, m * d))
		{
			status = RS_IVF_STOPPED;
			goto done;
		}
	}

	/* every item to its nearest centroid */
	set_half_norms(centroids, lists, d, half_norm);
	pass.rows = NULL;
	pass.n = n;
	pass.assign = assign;
	rc = assign_all(&pass, threads, bufs);
	if (rc != RS_IVF_OK)
		status = rc;

done:
	free(rows);
	free(sassign);
	free(half_norm);
	free(sums);
	free(counts);
	free(bufs);
	return status;
}

int
rs_ivf_assign(const float *Y, int k, const float *centroids, int lists, const int64_t *scale_rows,
			  int64_t m, const int64_t *rows, int64_t n, int32_t *assign)
{
	double		max_norm;
	float	   *half_norm,
			   *bufs;
	AssignPass	pass;
	RsStopClock clock = rs_stop_clock(NULL, NULL);
	int			rc;

	if (Y == NULL || centroids == NULL || scale_rows == NULL || rows == NULL || assign == NULL ||
		k < 1 || lists < 1 || lists > RS_IVF_MAX_LISTS || m < 0 || n < 0)
		return RS_IVF_ERR_ARGUMENT;
	if (n == 0)
		return RS_IVF_OK;
	max_norm = largest_norm(Y, k, scale_rows, m);
	half_norm = malloc(sizeof(float) * (size_t) lists);
	bufs = malloc(sizeof(float) * (size_t) IVF_CHUNK * (k + 1 + lists));
	if (half_norm == NULL || bufs == NULL)
	{
		free(half_norm);
		free(bufs);
		return RS_IVF_ERR_MEMORY;
	}
	set_half_norms(centroids, lists, k + 1, half_norm);
	init_pass(&pass, Y, k, max_norm, centroids, half_norm, lists, &clock);
	pass.rows = rows;
	pass.n = n;
	pass.assign = assign;
	rc = assign_all(&pass, 1, bufs);
	free(half_norm);
	free(bufs);
	return rc == RS_IVF_ERR_THREAD ? RS_IVF_OK : rc;	/* one thread: the caller's */
}

static int
cmp_rank(const void *a, const void *b)
{
	const RsIvfRank *x = a,
			   *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return (x->list > y->list) - (x->list < y->list);
}

void
rs_ivf_probe_order(const float *centroids, int lists, int k, const float *x, RsIvfRank *order)
{
	int			d = k + 1;
	double		xn = 0;

	for (int j = 0; j < k; j++)
		xn += (double) x[j] * x[j];
	xn = sqrt(xn);
	for (int l = 0; l < lists; l++)
	{
		const float *c = centroids + (size_t) l * d;
		double		dot = 0,
					cc = 0;

		for (int j = 0; j < k; j++)
			dot += (double) x[j] * c[j];
		for (int j = 0; j < d; j++)
			cc += (double) c[j] * c[j];
		order[l].list = l;
		order[l].score = (xn > 0 && isfinite(xn)) ? (float) (dot / xn - cc / 2) : 0;
		if (!(order[l].score == order[l].score))
			order[l].score = -INFINITY;
	}
	qsort(order, (size_t) lists, sizeof(RsIvfRank), cmp_rank);
}
