/*
 * explicit_lab.c
 *		Experiment harness for explicit-feedback rating prediction on the
 *		shared ml-latest-small cv5 splits: biased MF by ALS (the kernel's
 *		rs_als_explicit_update), biased MF by SGD, SVD++ by SGD, Bayesian
 *		biased MF by Gibbs sampling, bias-only baselines, item-kNN with
 *		baselines, and least-squares blends of any of them.
 *
 * Build (from the repository root):
 *	cc -O2 -Isrc/kernel test/bench/explicit_lab.c src/kernel/*.c \
 *		-lopenblas -lpthread -lm -o /tmp/lab
 *
 * Run:
 *	/tmp/lab [--valid] [--folds 1-5] [--threads N] [--data DIR]
 *		METHOD [key=value ...] [+ METHOD [key=value ...] ...]
 *
 *	METHOD is one of
 *	  bias     baseline mu + b_u + b_i by alternating exact steps (reg_u,
 *	           reg_i, iters)
 *	  als      biased MF by the kernel's rs_als_explicit_update (k, reg,
 *	           reg_bias, reg_u, reg_i, rb_u, rb_i, weighted=0|1, iters,
 *	           init)
 *	  als2     the same model by a lab-local double-precision solver with
 *	           frequency-scaled regularisation reg n^reg_exp (k, reg,
 *	           reg_exp, reg_bias, rb_exp, iters, init)
 *	  sgd      biased MF by SGD (k, lr, lr_b, reg, reg_b, epochs, init,
 *	           decay, shuffle=0|1)
 *	  svdpp    SVD++ by SGD, N(u) = the user's train items (k, lr, lr_b,
 *	           lr_y, reg, reg_b, reg_y, epochs, init, decay)
 *	  gibbs    Bayesian biased MF (BPMF) by a lab-local Gibbs sampler (k,
 *	           burn, samples, alpha, init, uinit, warm, warm_reg, warm_rb,
 *	           avg=0 averages predictions | avg=1 averages factors)
 *	  bayes    the same through the kernel API (rs_als_sample_prior,
 *	           rs_als_explicit_sample; the recipe of als.h): k, burn,
 *	           samples, alpha, init, trace=N (with --valid: print the
 *	           draw's and the running average's RMSE every N sweeps)
 *	  knn      item-kNN on baseline residuals, shrunk Pearson-baseline
 *	           similarity (Surprise's KNNBaseline, item-based): K, shrink,
 *	           reg_u, reg_i
 *	  nbr      Koren's global neighbourhood model through the kernel of
 *	           train_neighborhood (src/kernel/neighborhood.c): K, shrink,
 *	           lr, reg, epochs, decay, threads, trace=1 (training RMSE per
 *	           epoch)
 *	Every method also takes seed=N.  Several methods joined by '+' are
 *	blended: each is fitted on an inner train split, blend weights are fit
 *	by ridge least squares on the inner validation rows, then (without
 *	--valid) every component is refitted on the fold's train and the blend
 *	predicts the fold's test rows.
 *
 *	--valid: hold out a seeded 10% of each fold's train (hash of user,
 *	item) and report RMSE on it; the test rows are not read.  Use this
 *	for every tuning decision; run without it only for the final number.
 *
 * Prints per fold: RMSE, MAE, fit seconds (wall), then the mean over
 * folds.  Predictions are clipped to [0.5, 5].
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "als.h"
#include "neighborhood.h"
#include "rng.h"
#include "sparse.h"

#define MAX_COMPONENTS	8
#define MAX_PARAMS		24
#define CLIP_LO			0.5f
#define CLIP_HI			5.0f
#define VALID_SEED		UINT64_C(20240601)
#define VALID_PERCENT	10

/* ----------------------------------------------------------------------
 * Utilities
 * ----------------------------------------------------------------------
 */

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n > 0 ? n : 1);

	if (!p)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

static void *
xcalloc(size_t n, size_t s)
{
	void	   *p = calloc(n > 0 ? n : 1, s > 0 ? s : 1);

	if (!p)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

/* A standard normal draw, a pure function of (seed, counter). */
static double
normal_draw(uint64_t seed, uint64_t counter)
{
	double		u1 = rs_rng_uniform_double(seed, 2 * counter);
	double		u2 = rs_rng_uniform_double(seed, 2 * counter + 1);

	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* ----------------------------------------------------------------------
 * Data
 * ----------------------------------------------------------------------
 */

/* Rating rows as read (original ids). */
typedef struct Rows
{
	int64_t		n;
	int64_t		cap;
	int32_t    *user;
	int32_t    *item;
	float	   *rating;
	int64_t    *ts;
} Rows;

static void
rows_push(Rows *r, int32_t u, int32_t i, float v, int64_t t)
{
	if (r->n == r->cap)
	{
		r->cap = r->cap ? 2 * r->cap : 1 << 16;
		r->user = realloc(r->user, sizeof(int32_t) * r->cap);
		r->item = realloc(r->item, sizeof(int32_t) * r->cap);
		r->rating = realloc(r->rating, sizeof(float) * r->cap);
		r->ts = realloc(r->ts, sizeof(int64_t) * r->cap);
	}
	r->user[r->n] = u;
	r->item[r->n] = i;
	r->rating[r->n] = v;
	r->ts[r->n] = t;
	r->n++;
}

static void
rows_free(Rows *r)
{
	free(r->user);
	free(r->item);
	free(r->rating);
	free(r->ts);
	memset(r, 0, sizeof(*r));
}

static Rows
read_rows(const char *path)
{
	char		cmd[4096];
	char		line[512];
	FILE	   *f;
	Rows		r;

	memset(&r, 0, sizeof(r));
	snprintf(cmd, sizeof(cmd), "gzip -dc '%s'", path);
	f = popen(cmd, "r");
	if (!f || !fgets(line, sizeof(line), f))
	{
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	while (fgets(line, sizeof(line), f))
	{
		long		u,
					i;
		double		v;
		long long	t;

		if (sscanf(line, "%ld,%ld,%lf,%lld", &u, &i, &v, &t) != 4)
		{
			fprintf(stderr, "bad line in %s: %s", path, line);
			exit(2);
		}
		rows_push(&r, (int32_t) u, (int32_t) i, (float) v, (int64_t) t);
	}
	if (pclose(f) != 0)
	{
		fprintf(stderr, "gzip failed on %s\n", path);
		exit(2);
	}
	return r;
}

/*
 * A training set in dense indexes: COO rows (sorted by user, then item, as
 * in the files) and both CSR views.  Queries use the same indexes, with
 * -1 for a user or item absent from training.
 */
typedef struct Train
{
	int32_t		n_users;
	int32_t		n_items;
	int64_t		n;
	int32_t    *u;
	int32_t    *i;
	float	   *r;
	float		mu;
	RsCsr		by_user;
	RsCsr		by_item;
	int32_t    *user_map;		/* original id -> dense, -1 if absent */
	int32_t    *item_map;
	int32_t		max_user_id;
	int32_t		max_item_id;
} Train;

typedef struct Query
{
	int64_t		n;
	int32_t    *u;
	int32_t    *i;
	float	   *r;
} Query;

static void
csr_alloc(RsCsr *m, int32_t n_rows, int64_t nnz)
{
	m->indptr = xmalloc(sizeof(int64_t) * (n_rows + 1));
	m->indices = xmalloc(sizeof(int32_t) * nnz);
	m->data = xmalloc(sizeof(float) * nnz);
}

static void
csr_free(RsCsr *m)
{
	free(m->indptr);
	free(m->indices);
	free(m->data);
}

/* Build a Train from the rows whose keep[] flag is set (all if NULL). */
static Train
build_train(const Rows *rows, const bool *keep)
{
	Train		t;
	int64_t		j;
	int32_t		max_u = 0,
				max_i = 0;
	double		sum = 0;

	memset(&t, 0, sizeof(t));
	for (j = 0; j < rows->n; j++)
	{
		if (rows->user[j] > max_u)
			max_u = rows->user[j];
		if (rows->item[j] > max_i)
			max_i = rows->item[j];
	}
	t.max_user_id = max_u;
	t.max_item_id = max_i;
	t.user_map = xmalloc(sizeof(int32_t) * (max_u + 1));
	t.item_map = xmalloc(sizeof(int32_t) * (max_i + 1));
	memset(t.user_map, 0xff, sizeof(int32_t) * (max_u + 1));
	memset(t.item_map, 0xff, sizeof(int32_t) * (max_i + 1));
	for (j = 0; j < rows->n; j++)
		if (!keep || keep[j])
		{
			t.user_map[rows->user[j]] = 0;
			t.item_map[rows->item[j]] = 0;
			t.n++;
		}
	/* ascending original ids -> ascending dense indexes */
	for (j = 0; j <= max_u; j++)
		if (t.user_map[j] == 0)
			t.user_map[j] = t.n_users++;
	for (j = 0; j <= max_i; j++)
		if (t.item_map[j] == 0)
			t.item_map[j] = t.n_items++;
	t.u = xmalloc(sizeof(int32_t) * t.n);
	t.i = xmalloc(sizeof(int32_t) * t.n);
	t.r = xmalloc(sizeof(float) * t.n);
	t.n = 0;
	for (j = 0; j < rows->n; j++)
		if (!keep || keep[j])
		{
			t.u[t.n] = t.user_map[rows->user[j]];
			t.i[t.n] = t.item_map[rows->item[j]];
			t.r[t.n] = rows->rating[j];
			sum += rows->rating[j];
			t.n++;
		}
	t.mu = (float) (sum / t.n);
	csr_alloc(&t.by_user, t.n_users, t.n);
	rs_coo_to_csr(t.n_users, t.n_items, t.n, t.u, t.i, t.r, &t.by_user);
	csr_alloc(&t.by_item, t.n_items, t.n);
	rs_csr_transpose(&t.by_user, &t.by_item);
	/* the COO order is now the CSR order (by user, then item) */
	memcpy(t.i, t.by_user.indices, sizeof(int32_t) * t.n);
	memcpy(t.r, t.by_user.data, sizeof(float) * t.n);
	for (j = 0; j < t.n_users; j++)
	{
		int64_t		p;

		for (p = t.by_user.indptr[j]; p < t.by_user.indptr[j + 1]; p++)
			t.u[p] = (int32_t) j;
	}
	return t;
}

static void
train_free(Train *t)
{
	free(t->u);
	free(t->i);
	free(t->r);
	free(t->user_map);
	free(t->item_map);
	csr_free(&t->by_user);
	csr_free(&t->by_item);
}

static Query
build_query(const Train *t, const Rows *rows, const bool *keep)
{
	Query		q;
	int64_t		j;

	memset(&q, 0, sizeof(q));
	for (j = 0; j < rows->n; j++)
		q.n += !keep || keep[j];
	q.u = xmalloc(sizeof(int32_t) * q.n);
	q.i = xmalloc(sizeof(int32_t) * q.n);
	q.r = xmalloc(sizeof(float) * q.n);
	q.n = 0;
	for (j = 0; j < rows->n; j++)
		if (!keep || keep[j])
		{
			int32_t		u = rows->user[j],
						i = rows->item[j];

			q.u[q.n] = u <= t->max_user_id ? t->user_map[u] : -1;
			q.i[q.n] = i <= t->max_item_id ? t->item_map[i] : -1;
			q.r[q.n] = rows->rating[j];
			q.n++;
		}
	return q;
}

static void
query_free(Query *q)
{
	free(q->u);
	free(q->i);
	free(q->r);
}

/* ----------------------------------------------------------------------
 * Parameters
 * ----------------------------------------------------------------------
 */

typedef struct Params
{
	char		method[32];
	int			n;
	char		key[MAX_PARAMS][32];
	double		val[MAX_PARAMS];
	int			threads;
} Params;

static double
param(const Params *p, const char *key, double dflt)
{
	int			j;

	for (j = 0; j < p->n; j++)
		if (strcmp(p->key[j], key) == 0)
			return p->val[j];
	return dflt;
}

static void
params_print(const Params *p, FILE *f)
{
	int			j;

	fprintf(f, "%s", p->method);
	for (j = 0; j < p->n; j++)
		fprintf(f, " %s=%g", p->key[j], p->val[j]);
}

static float
clipf(float x)
{
	return x < CLIP_LO ? CLIP_LO : x > CLIP_HI ? CLIP_HI : x;
}

/* ----------------------------------------------------------------------
 * A factor model: mu + bu + bi + P_u . Q_i (any part may be absent)
 * ----------------------------------------------------------------------
 */

typedef struct FactorModel
{
	int			k;
	float		mu;
	float	   *bu;
	float	   *bi;
	float	   *P;
	float	   *Q;
} FactorModel;

static void
factor_predict(const FactorModel *m, const Query *q, float *out)
{
	int64_t		j;

	for (j = 0; j < q->n; j++)
	{
		int32_t		u = q->u[j],
					i = q->i[j];
		double		pred = m->mu;

		if (u >= 0 && m->bu)
			pred += m->bu[u];
		if (i >= 0 && m->bi)
			pred += m->bi[i];
		if (u >= 0 && i >= 0 && m->P)
		{
			const float *pu = m->P + (size_t) u * m->k;
			const float *qi = m->Q + (size_t) i * m->k;
			float		s = 0;
			int			c;

			for (c = 0; c < m->k; c++)
				s += pu[c] * qi[c];
			pred += s;
		}
		out[j] = (float) pred;
	}
}

static void
factor_free(FactorModel *m)
{
	free(m->bu);
	free(m->bi);
	free(m->P);
	free(m->Q);
}

/* ----------------------------------------------------------------------
 * Bias-only baseline (Koren 2008, section 2.1), by alternating exact
 * minimisation of sum (r - mu - b_u - b_i)^2 + reg_u b_u^2 + reg_i b_i^2.
 * ----------------------------------------------------------------------
 */

static void
fit_biases(const Train *t, double reg_u, double reg_i, int iters,
		   float *bu, float *bi)
{
	int			it;
	int32_t		a;
	int64_t		p;

	memset(bu, 0, sizeof(float) * t->n_users);
	memset(bi, 0, sizeof(float) * t->n_items);
	for (it = 0; it < iters; it++)
	{
		for (a = 0; a < t->n_items; a++)
		{
			double		s = 0;
			int64_t		n = t->by_item.indptr[a + 1] - t->by_item.indptr[a];

			for (p = t->by_item.indptr[a]; p < t->by_item.indptr[a + 1]; p++)
				s += t->by_item.data[p] - t->mu - bu[t->by_item.indices[p]];
			bi[a] = (float) (s / (reg_i + n));
		}
		for (a = 0; a < t->n_users; a++)
		{
			double		s = 0;
			int64_t		n = t->by_user.indptr[a + 1] - t->by_user.indptr[a];

			for (p = t->by_user.indptr[a]; p < t->by_user.indptr[a + 1]; p++)
				s += t->by_user.data[p] - t->mu - bi[t->by_user.indices[p]];
			bu[a] = (float) (s / (reg_u + n));
		}
	}
}

static void
method_bias(const Train *t, const Params *p, const Query *q, float *out)
{
	FactorModel m;

	memset(&m, 0, sizeof(m));
	m.mu = t->mu;
	m.bu = xmalloc(sizeof(float) * t->n_users);
	m.bi = xmalloc(sizeof(float) * t->n_items);
	fit_biases(t, param(p, "reg_u", 15), param(p, "reg_i", 10),
			   (int) param(p, "iters", 10), m.bu, m.bi);
	factor_predict(&m, q, out);
	factor_free(&m);
}

/* ----------------------------------------------------------------------
 * Biased MF by the existing ALS kernel
 * ----------------------------------------------------------------------
 */

static void
method_als(const Train *t, const Params *p, const Query *q, float *out)
{
	int			k = (int) param(p, "k", 64);
	float		reg = (float) param(p, "reg", 0.05);
	float		reg_bias = (float) param(p, "reg_bias", reg);
	float		reg_u = (float) param(p, "reg_u", reg);
	float		reg_i = (float) param(p, "reg_i", reg);
	float		rb_u = (float) param(p, "rb_u", reg_bias);
	float		rb_i = (float) param(p, "rb_i", reg_bias);
	bool		weighted = param(p, "weighted", 1) != 0;
	int			iters = (int) param(p, "iters", 15);
	float		init = (float) param(p, "init", 0.01);
	uint64_t	seed = (uint64_t) param(p, "seed", 42);
	int			threads = p->threads;
	float	   *ws = xmalloc(sizeof(float) * rs_als_workspace_floats(k, threads));
	FactorModel m;
	int			it;

	m.k = k;
	m.mu = t->mu;
	m.bu = xcalloc(t->n_users, sizeof(float));
	m.bi = xcalloc(t->n_items, sizeof(float));
	m.P = xmalloc(sizeof(float) * t->n_users * k);
	m.Q = xmalloc(sizeof(float) * t->n_items * k);
	rs_init_factors(m.P, t->n_users, k, seed, init);
	rs_init_factors(m.Q, t->n_items, k, seed ^ UINT64_C(0x5DEECE66D), init);
	for (it = 0; it < iters; it++)
	{
		if (rs_als_explicit_update(&t->by_user, m.Q, m.bi, m.mu, m.P, m.bu, k,
								   reg_u, rb_u, weighted, 0, t->n_users,
								   threads, ws) != RS_ALS_OK ||
			rs_als_explicit_update(&t->by_item, m.P, m.bu, m.mu, m.Q, m.bi, k,
								   reg_i, rb_i, weighted, 0, t->n_items,
								   threads, ws) != RS_ALS_OK)
		{
			fprintf(stderr, "ALS failed\n");
			exit(2);
		}
	}
	factor_predict(&m, q, out);
	factor_free(&m);
	free(ws);
}

/* ----------------------------------------------------------------------
 * Biased MF by SGD (Funk; Koren 2008 eq. 5; Surprise's SVD)
 * ----------------------------------------------------------------------
 */

/* A seeded permutation of [0, n) (Fisher-Yates on the counter RNG). */
static void
permutation(int64_t *perm, int64_t n, uint64_t seed)
{
	int64_t		j;

	for (j = 0; j < n; j++)
		perm[j] = j;
	for (j = n - 1; j > 0; j--)
	{
		int64_t		s = (int64_t) (rs_rng_u64(seed, (uint64_t) j) % (uint64_t) (j + 1));
		int64_t		tmp = perm[j];

		perm[j] = perm[s];
		perm[s] = tmp;
	}
}

static void
init_normal(float *X, int64_t n, double std, uint64_t seed)
{
	int64_t		j;

	for (j = 0; j < n; j++)
		X[j] = (float) (std * normal_draw(seed, (uint64_t) j));
}

static void
method_sgd(const Train *t, const Params *p, const Query *q, float *out)
{
	int			k = (int) param(p, "k", 100);
	float		lr = (float) param(p, "lr", 0.005);
	float		lr_b = (float) param(p, "lr_b", lr);
	float		reg = (float) param(p, "reg", 0.02);
	float		reg_b = (float) param(p, "reg_b", reg);
	int			epochs = (int) param(p, "epochs", 20);
	double		init = param(p, "init", 0.1);
	double		decay = param(p, "decay", 1.0);
	int			shuffle = (int) param(p, "shuffle", 1);
	uint64_t	seed = (uint64_t) param(p, "seed", 42);
	int64_t    *perm = xmalloc(sizeof(int64_t) * t->n);
	FactorModel m;
	int			ep;

	m.k = k;
	m.mu = t->mu;
	m.bu = xcalloc(t->n_users, sizeof(float));
	m.bi = xcalloc(t->n_items, sizeof(float));
	m.P = xmalloc(sizeof(float) * t->n_users * k);
	m.Q = xmalloc(sizeof(float) * t->n_items * k);
	init_normal(m.P, (int64_t) t->n_users * k, init, seed);
	init_normal(m.Q, (int64_t) t->n_items * k, init, seed + 1);
	for (ep = 0; ep < epochs; ep++)
	{
		int64_t		s;

		if (shuffle)
			permutation(perm, t->n, seed * 1000 + ep);
		else
			for (s = 0; s < t->n; s++)
				perm[s] = s;
		for (s = 0; s < t->n; s++)
		{
			int64_t		j = perm[s];
			int32_t		u = t->u[j],
						i = t->i[j];
			float	   *pu = m.P + (size_t) u * k;
			float	   *qi = m.Q + (size_t) i * k;
			float		dot = 0,
						e;
			int			c;

			for (c = 0; c < k; c++)
				dot += pu[c] * qi[c];
			e = t->r[j] - (m.mu + m.bu[u] + m.bi[i] + dot);
			m.bu[u] += lr_b * (e - reg_b * m.bu[u]);
			m.bi[i] += lr_b * (e - reg_b * m.bi[i]);
			for (c = 0; c < k; c++)
			{
				float		pc = pu[c],
							qc = qi[c];

				pu[c] += lr * (e * qc - reg * pc);
				qi[c] += lr * (e * pc - reg * qc);
			}
		}
		lr *= (float) decay;
		lr_b *= (float) decay;
	}
	factor_predict(&m, q, out);
	factor_free(&m);
	free(perm);
}

/* ----------------------------------------------------------------------
 * SVD++ by SGD (Koren 2008, eq. 15), N(u) = the user's training items.
 * Users are visited in a seeded order, each user's ratings in a seeded
 * order; the implicit sum z_u = |N(u)|^-1/2 sum y_j is computed once per
 * user visit and the y_j receive the user's accumulated gradient at the
 * end of the visit (the usual fast variant).
 * ----------------------------------------------------------------------
 */

static void
method_svdpp(const Train *t, const Params *p, const Query *q, float *out)
{
	int			k = (int) param(p, "k", 20);
	float		lr = (float) param(p, "lr", 0.007);
	float		lr_b = (float) param(p, "lr_b", lr);
	float		lr_y = (float) param(p, "lr_y", lr);
	float		reg = (float) param(p, "reg", 0.02);
	float		reg_b = (float) param(p, "reg_b", reg);
	float		reg_y = (float) param(p, "reg_y", reg);
	int			epochs = (int) param(p, "epochs", 20);
	double		init = param(p, "init", 0.1);
	double		decay = param(p, "decay", 1.0);
	uint64_t	seed = (uint64_t) param(p, "seed", 42);
	const RsCsr *R = &t->by_user;
	int64_t    *uperm = xmalloc(sizeof(int64_t) * t->n_users);
	int64_t    *rperm = xmalloc(sizeof(int64_t) * t->n);
	float	   *Yimp = xmalloc(sizeof(float) * t->n_items * k);
	float	   *z = xmalloc(sizeof(float) * k);
	float	   *gz = xmalloc(sizeof(float) * k);
	float	   *pz = xmalloc(sizeof(float) * k);
	FactorModel m;
	int			ep;
	int32_t		u;

	m.k = k;
	m.mu = t->mu;
	m.bu = xcalloc(t->n_users, sizeof(float));
	m.bi = xcalloc(t->n_items, sizeof(float));
	m.P = xmalloc(sizeof(float) * t->n_users * k);
	m.Q = xmalloc(sizeof(float) * t->n_items * k);
	init_normal(m.P, (int64_t) t->n_users * k, init, seed);
	init_normal(m.Q, (int64_t) t->n_items * k, init, seed + 1);
	init_normal(Yimp, (int64_t) t->n_items * k, init, seed + 2);
	for (ep = 0; ep < epochs; ep++)
	{
		int64_t		s;

		permutation(uperm, t->n_users, seed * 1000 + ep);
		for (s = 0; s < t->n_users; s++)
		{
			int64_t		b = R->indptr[uperm[s]],
						e_ = R->indptr[uperm[s] + 1],
						n = e_ - b,
						j;
			float		norm;
			float	   *pu;
			int			c;

			u = (int32_t) uperm[s];
			if (n == 0)
				continue;
			norm = 1.0f / sqrtf((float) n);
			pu = m.P + (size_t) u * k;
			memset(z, 0, sizeof(float) * k);
			memset(gz, 0, sizeof(float) * k);
			for (j = b; j < e_; j++)
			{
				const float *y = Yimp + (size_t) R->indices[j] * k;

				for (c = 0; c < k; c++)
					z[c] += y[c];
			}
			for (c = 0; c < k; c++)
				z[c] *= norm;
			permutation(rperm, n, seed * 1000003 + ep * 7919 + u);
			for (j = 0; j < n; j++)
			{
				int64_t		pos = b + rperm[j];
				int32_t		i = R->indices[pos];
				float	   *qi = m.Q + (size_t) i * k;
				float		dot = 0,
							e;

				for (c = 0; c < k; c++)
				{
					pz[c] = pu[c] + z[c];
					dot += pz[c] * qi[c];
				}
				e = R->data[pos] - (m.mu + m.bu[u] + m.bi[i] + dot);
				m.bu[u] += lr_b * (e - reg_b * m.bu[u]);
				m.bi[i] += lr_b * (e - reg_b * m.bi[i]);
				for (c = 0; c < k; c++)
				{
					float		qc = qi[c];

					gz[c] += e * qc;
					pu[c] += lr * (e * qc - reg * pu[c]);
					qi[c] += lr * (e * pz[c] - reg * qc);
				}
			}
			/* y_j += lr_y (norm * sum_e e q_i - n reg_y y_j), decayed */
			{
				float		shrink = powf(1.0f - lr_y * reg_y, (float) n);

				for (c = 0; c < k; c++)
					gz[c] *= lr_y * norm;
				for (j = b; j < e_; j++)
				{
					float	   *y = Yimp + (size_t) R->indices[j] * k;

					for (c = 0; c < k; c++)
						y[c] = y[c] * shrink + gz[c];
				}
			}
		}
		lr *= (float) decay;
		lr_b *= (float) decay;
		lr_y *= (float) decay;
	}
	/* fold z_u into P so the model is a plain biased MF */
	for (u = 0; u < t->n_users; u++)
	{
		int64_t		j,
					n = R->indptr[u + 1] - R->indptr[u];
		float	   *pu = m.P + (size_t) u * k;
		int			c;

		if (n == 0)
			continue;
		memset(z, 0, sizeof(float) * k);
		for (j = R->indptr[u]; j < R->indptr[u + 1]; j++)
			for (c = 0; c < k; c++)
				z[c] += Yimp[(size_t) R->indices[j] * k + c];
		for (c = 0; c < k; c++)
			pu[c] += z[c] / sqrtf((float) n);
	}
	factor_predict(&m, q, out);
	factor_free(&m);
	free(uperm);
	free(rperm);
	free(Yimp);
	free(z);
	free(gz);
	free(pz);
}

/* ----------------------------------------------------------------------
 * A lab-local ALS / Gibbs row solver in doubles (reference for ideas
 * before they go into the kernel): row x~ = (x, b) against partners
 * v_j = (y_j, 1) and targets t_j = r_j - mu - b_j.
 *	MAP:   (sum v v^T + D) x~ = sum t v,  D = diag(reg n^p, .., rb n^pb)
 *	Gibbs: precision P = Lambda + alpha sum v v^T, mean P^-1 (Lambda m
 *	       + alpha sum t v), x~ = mean + L^-T z (P = L L^T).
 * ----------------------------------------------------------------------
 */

/* In-place lower Cholesky of an n x n matrix; false if not PD. */
static bool
chol_lower(double *A, int n)
{
	int			i,
				j,
				c;

	for (j = 0; j < n; j++)
	{
		double		d = A[j * n + j];

		for (c = 0; c < j; c++)
			d -= A[j * n + c] * A[j * n + c];
		if (!(d > 0))
			return false;
		d = sqrt(d);
		A[j * n + j] = d;
		for (i = j + 1; i < n; i++)
		{
			double		s = A[i * n + j];

			for (c = 0; c < j; c++)
				s -= A[i * n + c] * A[j * n + c];
			A[i * n + j] = s / d;
		}
	}
	return true;
}

/* Solve L L^T x = b in place given the lower factor L. */
static void
chol_solve(const double *L, double *b, int n)
{
	int			i,
				c;

	for (i = 0; i < n; i++)
	{
		for (c = 0; c < i; c++)
			b[i] -= L[i * n + c] * b[c];
		b[i] /= L[i * n + i];
	}
	for (i = n - 1; i >= 0; i--)
	{
		for (c = i + 1; c < n; c++)
			b[i] -= L[c * n + i] * b[c];
		b[i] /= L[i * n + i];
	}
}

/* Solve L^T x = b in place. */
static void
chol_solve_upper(const double *L, double *b, int n)
{
	int			i,
				c;

	for (i = n - 1; i >= 0; i--)
	{
		for (c = i + 1; c < n; c++)
			b[i] -= L[c * n + i] * b[c];
		b[i] /= L[i * n + i];
	}
}

typedef struct SideSolve
{
	const RsCsr *R;
	const float *Y;				/* partners, n_cols x k */
	const float *ybias;
	float		mu;
	float	   *X;
	float	   *xbias;
	int			k;
	/* MAP */
	double		reg,
				reg_exp,
				rb,
				rb_exp;
	/* Gibbs (sample = true) */
	bool		sample;
	double		alpha;
	const double *Lambda;		/* (k+1)^2 prior precision */
	const double *prior_mean;	/* k+1 */
	uint64_t	seed;
} SideSolve;

static void
solve_rows(const SideSolve *s, int32_t begin, int32_t end)
{
	int			k = s->k,
				k1 = k + 1;
	double	   *A = xmalloc(sizeof(double) * k1 * k1);
	double	   *b = xmalloc(sizeof(double) * k1);
	double	   *v = xmalloc(sizeof(double) * k1);
	int32_t		u;

	for (u = begin; u < end; u++)
	{
		int64_t		j,
					n = s->R->indptr[u + 1] - s->R->indptr[u];
		double		w = s->sample ? s->alpha : 1.0;
		int			a,
					c;

		if (n == 0 && !s->sample)
		{
			memset(s->X + (size_t) u * k, 0, sizeof(float) * k);
			s->xbias[u] = 0;
			continue;
		}
		memset(A, 0, sizeof(double) * k1 * k1);
		memset(b, 0, sizeof(double) * k1);
		for (j = s->R->indptr[u]; j < s->R->indptr[u + 1]; j++)
		{
			int32_t		i = s->R->indices[j];
			const float *y = s->Y + (size_t) i * k;
			double		t = s->R->data[j] - s->mu - s->ybias[i];

			for (a = 0; a < k; a++)
				v[a] = y[a];
			v[k] = 1.0;
			for (a = 0; a < k1; a++)
			{
				double		va = w * v[a];

				for (c = 0; c <= a; c++)
					A[a * k1 + c] += va * v[c];
				b[a] += va * t;
			}
		}
		if (s->sample)
		{
			for (a = 0; a < k1; a++)
			{
				double		lm = 0;

				for (c = 0; c < k1; c++)
					lm += s->Lambda[a * k1 + c] * s->prior_mean[c];
				b[a] += lm;
				for (c = 0; c <= a; c++)
					A[a * k1 + c] += s->Lambda[a * k1 + c];
			}
		}
		else
		{
			for (a = 0; a < k; a++)
				A[a * k1 + a] += s->reg * pow((double) n, s->reg_exp);
			A[k * k1 + k] += s->rb * pow((double) n, s->rb_exp);
		}
		if (!chol_lower(A, k1))
		{
			fprintf(stderr, "not PD\n");
			exit(2);
		}
		chol_solve(A, b, k1);
		if (s->sample)
		{
			for (a = 0; a < k1; a++)
				v[a] = normal_draw(s->seed, (uint64_t) u * k1 + a);
			chol_solve_upper(A, v, k1);
			for (a = 0; a < k1; a++)
				b[a] += v[a];
		}
		for (a = 0; a < k; a++)
			s->X[(size_t) u * k + a] = (float) b[a];
		s->xbias[u] = (float) b[k];
	}
	free(A);
	free(b);
	free(v);
}

typedef struct SolveThread
{
	const SideSolve *s;
	int32_t		begin,
				end;
} SolveThread;

static void *
solve_thread_main(void *arg)
{
	SolveThread *st = arg;

	solve_rows(st->s, st->begin, st->end);
	return NULL;
}

/* Rows split in two interleaved-by-count halves when threads = 2. */
static void
solve_side(const SideSolve *s, int threads)
{
	int32_t		n = s->R->n_rows;

	if (threads < 2)
		solve_rows(s, 0, n);
	else
	{
		/* split at half the entries */
		int64_t		half = s->R->nnz / 2;
		int32_t		mid = 0;
		pthread_t	th;
		SolveThread st;

		while (mid < n && s->R->indptr[mid] < half)
			mid++;
		st.s = s;
		st.begin = mid;
		st.end = n;
		pthread_create(&th, NULL, solve_thread_main, &st);
		solve_rows(s, 0, mid);
		pthread_join(th, NULL);
	}
}

static void
method_als2(const Train *t, const Params *p, const Query *q, float *out)
{
	int			k = (int) param(p, "k", 32);
	int			iters = (int) param(p, "iters", 15);
	float		init = (float) param(p, "init", 0.01);
	uint64_t	seed = (uint64_t) param(p, "seed", 42);
	SideSolve	su,
				si;
	FactorModel m;
	int			it;

	m.k = k;
	m.mu = t->mu;
	m.bu = xcalloc(t->n_users, sizeof(float));
	m.bi = xcalloc(t->n_items, sizeof(float));
	m.P = xmalloc(sizeof(float) * t->n_users * k);
	m.Q = xmalloc(sizeof(float) * t->n_items * k);
	rs_init_factors(m.P, t->n_users, k, seed, init);
	rs_init_factors(m.Q, t->n_items, k, seed ^ UINT64_C(0x5DEECE66D), init);
	memset(&su, 0, sizeof(su));
	su.k = k;
	su.mu = m.mu;
	su.reg = param(p, "reg", 12);
	su.reg_exp = param(p, "reg_exp", 0);
	su.rb = param(p, "reg_bias", 3);
	su.rb_exp = param(p, "rb_exp", 0);
	si = su;
	su.R = &t->by_user;
	su.Y = m.Q;
	su.ybias = m.bi;
	su.X = m.P;
	su.xbias = m.bu;
	si.R = &t->by_item;
	si.Y = m.P;
	si.ybias = m.bu;
	si.X = m.Q;
	si.xbias = m.bi;
	for (it = 0; it < iters; it++)
	{
		solve_side(&su, p->threads);
		solve_side(&si, p->threads);
	}
	factor_predict(&m, q, out);
	factor_free(&m);
}

/* A Gamma(shape, 1) draw (Marsaglia and Tsang 2000); counter advances. */
static double
gamma_draw(double shape, uint64_t seed, uint64_t *counter)
{
	double		d,
				c;

	if (shape < 1.0)
	{
		double		u = rs_rng_uniform_double(seed, (*counter)++);

		return gamma_draw(shape + 1.0, seed, counter) * pow(u + 1e-300, 1.0 / shape);
	}
	d = shape - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;)
	{
		double		x = normal_draw(seed, (*counter)++),
					v = 1.0 + c * x,
					u;

		if (v <= 0)
			continue;
		v = v * v * v;
		u = rs_rng_uniform_double(seed, (*counter)++);
		if (log(u + 1e-300) < 0.5 * x * x + d - d * v + d * log(v))
			return d * v;
	}
}

/*
 * Sample (mean, precision) of the rows' prior from the Normal-Wishart
 * posterior (Salakhutdinov and Mnih 2008, BPMF), with beta0 = 2, nu0 = D,
 * W0 = I, mu0 = 0.  Rows are (X_u, xbias_u).
 */
static void
sample_hyper(const float *X, const float *xbias, int32_t n, int k,
			 uint64_t seed, double *mean, double *Lambda)
{
	int			D = k + 1,
				a,
				c,
				l;
	double	   *xbar = xcalloc(D, sizeof(double));
	double	   *S = xcalloc(D * D, sizeof(double));
	double	   *W = xcalloc(D * D, sizeof(double));
	double	   *A = xcalloc(D * D, sizeof(double));
	double	   *LA = xcalloc(D * D, sizeof(double));
	double	   *z = xcalloc(D, sizeof(double));
	double		beta0 = 2.0,
				nu0 = D,
				beta_n = beta0 + n,
				nu_n = nu0 + n;
	uint64_t	counter = 0;
	int32_t		u;

	for (u = 0; u < n; u++)
	{
		for (a = 0; a < k; a++)
			xbar[a] += X[(size_t) u * k + a];
		xbar[k] += xbias[u];
	}
	for (a = 0; a < D; a++)
		xbar[a] /= n;
	for (u = 0; u < n; u++)
	{
		double		d[RS_ALS_MAX_K + 1];

		for (a = 0; a < k; a++)
			d[a] = X[(size_t) u * k + a] - xbar[a];
		d[k] = xbias[u] - xbar[k];
		for (a = 0; a < D; a++)
			for (c = 0; c < D; c++)
				S[a * D + c] += d[a] * d[c];
	}
	/* W_n^-1 = I + S + beta0 n / (beta0 + n) xbar xbar^T */
	for (a = 0; a < D; a++)
		for (c = 0; c < D; c++)
			W[a * D + c] = (a == c) + S[a * D + c] + beta0 * n / beta_n * xbar[a] * xbar[c];
	/* W_n = inverse of that: Cholesky, then solve for each column */
	chol_lower(W, D);
	{
		double	   *Winv = xcalloc(D * D, sizeof(double));

		for (c = 0; c < D; c++)
		{
			double	   *col = xcalloc(D, sizeof(double));

			col[c] = 1.0;
			chol_solve(W, col, D);
			for (a = 0; a < D; a++)
				Winv[a * D + c] = col[a];
			free(col);
		}
		memcpy(W, Winv, sizeof(double) * D * D);
		free(Winv);
	}
	chol_lower(W, D);			/* W_n = L L^T; upper part is junk */
	for (a = 0; a < D; a++)
		for (c = a + 1; c < D; c++)
			W[a * D + c] = 0;
	/* Bartlett: A lower, A_aa = sqrt(chi2(nu_n - a)), A_ac ~ N(0,1) */
	for (a = 0; a < D; a++)
	{
		A[a * D + a] = sqrt(2.0 * gamma_draw((nu_n - a) / 2.0, seed, &counter));
		for (c = 0; c < a; c++)
			A[a * D + c] = normal_draw(seed ^ 0xabcdef, counter++);
	}
	/* LA = L A; Lambda = LA LA^T */
	for (a = 0; a < D; a++)
		for (c = 0; c < D; c++)
		{
			double		s = 0;

			for (l = 0; l < D; l++)
				s += W[a * D + l] * A[l * D + c];
			LA[a * D + c] = s;
		}
	for (a = 0; a < D; a++)
		for (c = 0; c < D; c++)
		{
			double		s = 0;

			for (l = 0; l < D; l++)
				s += LA[a * D + l] * LA[c * D + l];
			Lambda[a * D + c] = s;
		}
	/* mean ~ N(mu_n, (beta_n Lambda)^-1), mu_n = n xbar / beta_n */
	memcpy(A, Lambda, sizeof(double) * D * D);
	for (a = 0; a < D * D; a++)
		A[a] *= beta_n;
	chol_lower(A, D);
	for (a = 0; a < D; a++)
		z[a] = normal_draw(seed ^ 0x123457, counter++);
	chol_solve_upper(A, z, D);
	for (a = 0; a < D; a++)
		mean[a] = n * xbar[a] / beta_n + z[a];
	free(xbar);
	free(S);
	free(W);
	free(A);
	free(LA);
	free(z);
}

/*
 * Bayesian biased MF by Gibbs sampling.  Averages the predictions of the
 * samples after burn-in (avg=0) or predicts from the averaged factors
 * (avg=1, a single deployable biased MF).
 */
static void
method_gibbs(const Train *t, const Params *p, const Query *q, float *out)
{
	int			k = (int) param(p, "k", 16);
	int			burn = (int) param(p, "burn", 10);
	int			samples = (int) param(p, "samples", 40);
	double		alpha = param(p, "alpha", 2.0);
	int			avg_factors = (int) param(p, "avg", 0);
	float		init = (float) param(p, "init", 0.1);
	uint64_t	seed = (uint64_t) param(p, "seed", 42);
	int			D = k + 1;
	double	   *Lu = xcalloc(D * D, sizeof(double));
	double	   *Li = xcalloc(D * D, sizeof(double));
	double	   *mu_u = xcalloc(D, sizeof(double));
	double	   *mu_i = xcalloc(D, sizeof(double));
	double	   *acc = xcalloc(q->n, sizeof(double));
	float	   *tmp = xmalloc(sizeof(float) * q->n);
	FactorModel m,
				avg;
	SideSolve	su,
				si;
	int			it,
				a;
	int64_t		j;

	m.k = k;
	m.mu = t->mu;
	m.bu = xcalloc(t->n_users, sizeof(float));
	m.bi = xcalloc(t->n_items, sizeof(float));
	m.P = xmalloc(sizeof(float) * t->n_users * k);
	m.Q = xmalloc(sizeof(float) * t->n_items * k);
	if (param(p, "uinit", 0) > 0)
	{
		/* the kernel's rs_init_factors: uniform [0, uinit) */
		rs_init_factors(m.P, t->n_users, k, seed, (float) param(p, "uinit", 0));
		rs_init_factors(m.Q, t->n_items, k, seed ^ UINT64_C(0x5DEECE66D),
						(float) param(p, "uinit", 0));
	}
	else
	{
		init_normal(m.P, (int64_t) t->n_users * k, init, seed);
		init_normal(m.Q, (int64_t) t->n_items * k, init, seed + 1);
	}
	avg.k = k;
	avg.mu = m.mu;
	avg.bu = xcalloc(t->n_users, sizeof(float));
	avg.bi = xcalloc(t->n_items, sizeof(float));
	avg.P = xcalloc((size_t) t->n_users * k, sizeof(float));
	avg.Q = xcalloc((size_t) t->n_items * k, sizeof(float));
	memset(&su, 0, sizeof(su));
	su.k = k;
	su.mu = m.mu;
	su.sample = true;
	su.alpha = alpha;
	si = su;
	su.R = &t->by_user;
	su.Y = m.Q;
	su.ybias = m.bi;
	su.X = m.P;
	su.xbias = m.bu;
	su.Lambda = Lu;
	su.prior_mean = mu_u;
	si.R = &t->by_item;
	si.Y = m.P;
	si.ybias = m.bu;
	si.X = m.Q;
	si.xbias = m.bi;
	si.Lambda = Li;
	si.prior_mean = mu_i;
	if (param(p, "warm", 0) > 0)
	{
		/* a few MAP ALS iterations first (plain lambda) */
		SideSolve	wu = su,
					wi = si;
		int			w;

		wu.sample = wi.sample = false;
		wu.reg = wi.reg = param(p, "warm_reg", 12);
		wu.rb = wi.rb = param(p, "warm_rb", 3);
		for (w = 0; w < (int) param(p, "warm", 0); w++)
		{
			solve_side(&wu, p->threads);
			solve_side(&wi, p->threads);
		}
	}
	for (it = 0; it < burn + samples; it++)
	{
		sample_hyper(m.P, m.bu, t->n_users, k, seed * 7777 + 4 * it, mu_u, Lu);
		su.seed = seed * 7777 + 4 * it + 1;
		solve_side(&su, p->threads);
		sample_hyper(m.Q, m.bi, t->n_items, k, seed * 7777 + 4 * it + 2, mu_i, Li);
		si.seed = seed * 7777 + 4 * it + 3;
		solve_side(&si, p->threads);
		if (it >= burn)
		{
			if (avg_factors)
			{
				for (j = 0; j < (int64_t) t->n_users * k; j++)
					avg.P[j] += m.P[j] / samples;
				for (j = 0; j < (int64_t) t->n_items * k; j++)
					avg.Q[j] += m.Q[j] / samples;
				for (j = 0; j < t->n_users; j++)
					avg.bu[j] += m.bu[j] / samples;
				for (j = 0; j < t->n_items; j++)
					avg.bi[j] += m.bi[j] / samples;
			}
			else
			{
				factor_predict(&m, q, tmp);
				for (j = 0; j < q->n; j++)
					acc[j] += clipf(tmp[j]);
			}
		}
	}
	if (avg_factors)
		factor_predict(&avg, q, out);
	else
		for (j = 0; j < q->n; j++)
			out[j] = (float) (acc[j] / samples);
	(void) a;
	factor_free(&m);
	factor_free(&avg);
	free(Lu);
	free(Li);
	free(mu_u);
	free(mu_i);
	free(acc);
	free(tmp);
}

/* ----------------------------------------------------------------------
 * Bayesian biased MF through the kernel API (rs_als_sample_prior and
 * rs_als_explicit_sample), exactly the recipe of als.h: the model is the
 * average of the factors over the sweeps after burn-in.
 * ----------------------------------------------------------------------
 */

static void errors(const Query *q, const float *pred, double *rmse, double *mae);

static void
check(int status)
{
	if (status != RS_ALS_OK)
	{
		fprintf(stderr, "kernel: %s\n", rs_als_strerror(status));
		exit(2);
	}
}

static void
add_scaled(float *acc, const float *x, int64_t n, float w)
{
	int64_t		j;

	for (j = 0; j < n; j++)
		acc[j] += w * x[j];
}

static void
method_bayes(const Train *t, const Params *p, const Query *q, float *out)
{
	int			k = (int) param(p, "k", 16);
	int			burn = (int) param(p, "burn", 10);
	int			samples = (int) param(p, "samples", 40);
	float		alpha = (float) param(p, "alpha", 2.0);
	float		init = (float) param(p, "init", 0.1);
	uint64_t	seed = (uint64_t) param(p, "seed", 42);
	int			trace = (int) param(p, "trace", 0);
	int			threads = p->threads;
	int			d = k + 1;
	float	   *ws = xmalloc(sizeof(float) * rs_als_workspace_floats(k, threads));
	double	   *pws = xmalloc(sizeof(double) * rs_als_prior_workspace_doubles(k));
	double	   *Lu = xmalloc(sizeof(double) * d * d);
	double	   *Li = xmalloc(sizeof(double) * d * d);
	double	   *mu_u = xmalloc(sizeof(double) * d);
	double	   *mu_i = xmalloc(sizeof(double) * d);
	float	   *X = xmalloc(sizeof(float) * t->n_users * k);
	float	   *Y = xmalloc(sizeof(float) * t->n_items * k);
	float	   *xb = xcalloc(t->n_users, sizeof(float));
	float	   *yb = xcalloc(t->n_items, sizeof(float));
	FactorModel avg;
	int			s;

	avg.k = k;
	avg.mu = t->mu;
	avg.bu = xcalloc(t->n_users, sizeof(float));
	avg.bi = xcalloc(t->n_items, sizeof(float));
	avg.P = xcalloc((size_t) t->n_users * k, sizeof(float));
	avg.Q = xcalloc((size_t) t->n_items * k, sizeof(float));
	rs_init_normal(X, t->n_users, k, seed, init);
	rs_init_normal(Y, t->n_items, k, seed ^ UINT64_C(0x5DEECE66D), init);
	for (s = 0; s < burn + samples; s++)
	{
		uint64_t	ss = seed + 4 * (uint64_t) s;

		check(rs_als_sample_prior(X, xb, t->n_users, k, ss, mu_u, Lu, pws, NULL, NULL));
		check(rs_als_explicit_sample(&t->by_user, Y, yb, t->mu, X, xb, k, alpha,
									 Lu, mu_u, ss + 1, 0, t->n_users,
									 threads, ws));
		check(rs_als_sample_prior(Y, yb, t->n_items, k, ss + 2, mu_i, Li, pws, NULL, NULL));
		check(rs_als_explicit_sample(&t->by_item, X, xb, t->mu, Y, yb, k, alpha,
									 Li, mu_i, ss + 3, 0, t->n_items,
									 threads, ws));
		if (s >= burn)
		{
			float		w = 1.0f / samples;

			add_scaled(avg.P, X, (int64_t) t->n_users * k, w);
			add_scaled(avg.Q, Y, (int64_t) t->n_items * k, w);
			add_scaled(avg.bu, xb, t->n_users, w);
			add_scaled(avg.bi, yb, t->n_items, w);
		}
		if (trace > 0 && (s + 1) % trace == 0)
		{
			/* diagnostics (--valid only): the current draw's RMSE and the running average's */
			FactorModel cur = {k, t->mu, xb, yb, X, Y};
			double		r1, r2, mae;
			int			done = s + 1 - burn;

			factor_predict(&cur, q, out);
			errors(q, out, &r1, &mae);
			if (done > 0)
			{
				/* the running average so far: avg scaled by samples / done */
				float		f = (float) samples / done;
				FactorModel ra = {k, t->mu, xmalloc(sizeof(float) * t->n_users),
					xmalloc(sizeof(float) * t->n_items),
					xmalloc(sizeof(float) * t->n_users * k),
				xmalloc(sizeof(float) * t->n_items * k)};

				for (int64_t j = 0; j < t->n_users; j++)
					ra.bu[j] = avg.bu[j] * f;
				for (int64_t j = 0; j < t->n_items; j++)
					ra.bi[j] = avg.bi[j] * f;
				for (int64_t j = 0; j < (int64_t) t->n_users * k; j++)
					ra.P[j] = avg.P[j] * f;
				for (int64_t j = 0; j < (int64_t) t->n_items * k; j++)
					ra.Q[j] = avg.Q[j] * f;
				factor_predict(&ra, q, out);
				errors(q, out, &r2, &mae);
				factor_free(&ra);
			}
			else
				r2 = NAN;
			fprintf(stderr, "  sweep %d: draw %.4f  average %.4f\n", s + 1, r1, r2);
		}
	}
	factor_predict(&avg, q, out);
	factor_free(&avg);
	free(ws);
	free(pws);
	free(Lu);
	free(Li);
	free(mu_u);
	free(mu_i);
	free(X);
	free(Y);
	free(xb);
	free(yb);
}

/* ----------------------------------------------------------------------
 * Item-kNN with baselines (Koren 2008 sec. 2.2; Surprise's KNNBaseline
 * with item-based pearson_baseline similarity): z = r - (mu + b_u + b_i),
 * sim_ij = sum z_ui z_uj / sqrt(sum z_ui^2 sum z_uj^2) over common users,
 * shrunk by (n_ij - 1) / (n_ij - 1 + shrink); the prediction adds to the
 * baseline the sim-weighted mean residual of the K most similar items the
 * user rated (positive similarities only).
 * ----------------------------------------------------------------------
 */

typedef struct SimResid
{
	float		sim;
	float		resid;
} SimResid;

static int
cmp_sim_desc(const void *a, const void *b)
{
	float		x = ((const SimResid *) a)->sim,
				y = ((const SimResid *) b)->sim;

	return x < y ? 1 : x > y ? -1 : 0;
}

static int64_t *knn_sort_key;

static int
cmp_by_key(const void *a, const void *b)
{
	int64_t		x = knn_sort_key[*(const int64_t *) a],
				y = knn_sort_key[*(const int64_t *) b];

	return x < y ? -1 : x > y ? 1 : 0;
}

static void
method_knn(const Train *t, const Params *p, const Query *q, float *out)
{
	int			K = (int) param(p, "K", 40);
	double		shrink = param(p, "shrink", 100);
	const RsCsr *U = &t->by_user,
			   *IT = &t->by_item;
	float	   *bu = xmalloc(sizeof(float) * t->n_users);
	float	   *bi = xmalloc(sizeof(float) * t->n_items);
	float	   *zu = xmalloc(sizeof(float) * t->n);	/* residuals, by_user order */
	float	   *zi = xmalloc(sizeof(float) * t->n);	/* residuals, by_item order */
	double	   *sxy = xcalloc(t->n_items, sizeof(double));
	double	   *sxx = xcalloc(t->n_items, sizeof(double));
	double	   *syy = xcalloc(t->n_items, sizeof(double));
	int32_t    *cnt = xcalloc(t->n_items, sizeof(int32_t));
	int32_t    *touched = xmalloc(sizeof(int32_t) * t->n_items);
	int64_t    *order = xmalloc(sizeof(int64_t) * q->n);
	int64_t    *key = xmalloc(sizeof(int64_t) * q->n);
	SimResid   *cand = xmalloc(sizeof(SimResid) * t->n_items);
	int32_t		a;
	int64_t		j,
				s0;

	fit_biases(t, param(p, "reg_u", 15), param(p, "reg_i", 10), 10, bu, bi);
	for (a = 0; a < t->n_users; a++)
		for (j = U->indptr[a]; j < U->indptr[a + 1]; j++)
			zu[j] = U->data[j] - t->mu - bu[a] - bi[U->indices[j]];
	for (a = 0; a < t->n_items; a++)
		for (j = IT->indptr[a]; j < IT->indptr[a + 1]; j++)
			zi[j] = IT->data[j] - t->mu - bu[IT->indices[j]] - bi[a];

	/* group the queries by item */
	for (j = 0; j < q->n; j++)
	{
		order[j] = j;
		key[j] = q->i[j];
	}
	knn_sort_key = key;
	qsort(order, q->n, sizeof(int64_t), cmp_by_key);

	for (s0 = 0; s0 < q->n;)
	{
		int32_t		i = q->i[order[s0]];
		int64_t		s1 = s0;
		int32_t		n_touched = 0;

		while (s1 < q->n && q->i[order[s1]] == i)
			s1++;
		if (i >= 0)
		{
			/* similarity accumulators of item i against every item */
			for (j = IT->indptr[i]; j < IT->indptr[i + 1]; j++)
			{
				int32_t		v = IT->indices[j];
				double		zvi = zi[j];
				int64_t		l;

				for (l = U->indptr[v]; l < U->indptr[v + 1]; l++)
				{
					int32_t		jj = U->indices[l];
					double		zvj = zu[l];

					if (cnt[jj] == 0)
						touched[n_touched++] = jj;
					cnt[jj]++;
					sxy[jj] += zvi * zvj;
					sxx[jj] += zvi * zvi;
					syy[jj] += zvj * zvj;
				}
			}
		}
		for (; s0 < s1; s0++)
		{
			int64_t		row = order[s0];
			int32_t		u = q->u[row];
			double		pred = t->mu + (u >= 0 ? bu[u] : 0) + (i >= 0 ? bi[i] : 0);

			if (u >= 0 && i >= 0)
			{
				int			nc = 0,
							c;
				double		num = 0,
							den = 0;

				for (j = U->indptr[u]; j < U->indptr[u + 1]; j++)
				{
					int32_t		jj = U->indices[j];
					double		sim;

					if (jj == i || cnt[jj] < 2 || sxx[jj] <= 0 || syy[jj] <= 0)
						continue;
					sim = sxy[jj] / sqrt(sxx[jj] * syy[jj]);
					sim *= (cnt[jj] - 1) / (cnt[jj] - 1 + shrink);
					if (sim <= 0)
						continue;
					cand[nc].sim = (float) sim;
					cand[nc].resid = zu[j];
					nc++;
				}
				qsort(cand, nc, sizeof(SimResid), cmp_sim_desc);
				for (c = 0; c < nc && c < K; c++)
				{
					num += cand[c].sim * cand[c].resid;
					den += cand[c].sim;
				}
				if (den > 0)
					pred += num / den;
			}
			out[row] = (float) pred;
		}
		for (a = 0; a < n_touched; a++)
		{
			int32_t		jj = touched[a];

			cnt[jj] = 0;
			sxy[jj] = sxx[jj] = syy[jj] = 0;
		}
	}
	free(bu);
	free(bi);
	free(zu);
	free(zi);
	free(sxy);
	free(sxx);
	free(syy);
	free(cnt);
	free(touched);
	free(order);
	free(key);
	free(cand);
}

/* ----------------------------------------------------------------------
 * Method table, evaluation and blending
 * ----------------------------------------------------------------------
 */

typedef void (*MethodFn) (const Train *t, const Params *p, const Query *q,
						  float *out);

typedef struct Method
{
	const char *name;
	MethodFn	fn;
} Method;

/*
 * Koren's global neighbourhood model through the kernel API
 * (src/kernel/neighborhood.c): K, shrink, lr, reg, epochs, decay, threads.
 */
static void
method_nbr(const Train *t, const Params *p, const Query *q, float *out)
{
	int			K = (int) param(p, "K", 100);
	int			epochs = (int) param(p, "epochs", 30);
	double		decay = param(p, "decay", 1.0);
	RsNbrModel	m;
	RsNbrStep	step;
	float	   *ubase = xcalloc(t->n_users, sizeof(float));
	float	   *zu = xmalloc(sizeof(float) * t->n);
	float	   *zi = xmalloc(sizeof(float) * t->n);
	float	   *sim = xmalloc(sizeof(float) * t->n_items * K);
	int32_t    *position = xcalloc(t->n_items, sizeof(int32_t));
	int32_t    *order = xmalloc(sizeof(int32_t) * t->n_users);
	int			threads = (int) param(p, "threads", 1);
	void	   *work = xcalloc(1, rs_nbr_neighbors_workspace_bytes(t->n_items, threads));
	int64_t    *start = xmalloc(sizeof(int64_t) * t->n_items);
	int32_t    *count = xcalloc(t->n_items, sizeof(int32_t));
	int32_t    *neighbor = xmalloc(sizeof(int32_t) * t->n_items * K);
	float	   *item_base = xmalloc(sizeof(float) * t->n_items);
	double		se;

	memset(&m, 0, sizeof(m));
	for (int32_t i = 0; i < t->n_items; i++)
		start[i] = (int64_t) i * K;
	m.n_items = t->n_items;
	m.mu = t->mu;
	m.start = start;
	m.count = count;
	m.neighbor = neighbor;
	m.w = xcalloc((size_t) t->n_items * K, sizeof(float));
	m.c = xcalloc((size_t) t->n_items * K, sizeof(float));
	m.item_bias = xmalloc(sizeof(float) * t->n_items);
	m.item_base = item_base;
	rs_nbr_baselines(&t->by_user, &t->by_item, t->mu, RS_NBR_BASE_REG_USER, RS_NBR_BASE_REG_ITEM,
					 RS_NBR_BASE_SWEEPS, ubase, item_base);
	rs_nbr_residuals(&t->by_user, true, t->mu, ubase, item_base, zu);
	rs_nbr_residuals(&t->by_item, false, t->mu, ubase, item_base, zi);
	rs_nbr_neighbors(&t->by_item, zi, &t->by_user, zu, (float) param(p, "shrink", 100), K, 0,
					 t->n_items, threads, work, neighbor, sim, count);
	memcpy(m.item_bias, item_base, sizeof(float) * t->n_items);
	step.learning_rate = (float) param(p, "lr", 0.01);
	step.regularization = (float) param(p, "reg", 0.01);
	step.seed = (uint64_t) param(p, "seed", 42);
	for (int e = 0; e < epochs; e++)
	{
		step.epoch = e;
		rs_nbr_epoch(&m, &t->by_user, zu, ubase, &step, position, order, NULL, NULL, &se);
		if (param(p, "trace", 0))
			fprintf(stderr, "epoch %d train rmse %.4f\n", e, sqrt(se / t->n));
		step.learning_rate *= (float) decay;
	}
	/* predictions: runs of one user's queries share the user's marks */
	for (int64_t s0 = 0, s1; s0 < q->n; s0 = s1)
	{
		int32_t		u = q->u[s0];
		int64_t		b = 0, e = 0;

		for (s1 = s0; s1 < q->n && q->u[s1] == u; s1++)
			;
		if (u >= 0)
		{
			b = t->by_user.indptr[u];
			e = t->by_user.indptr[u + 1];
			for (int64_t x = b; x < e; x++)
				position[t->by_user.indices[x]] = (int32_t) (x - b + 1);
		}
		for (int64_t s = s0; s < s1; s++)
		{
			int32_t		i = q->i[s];
			double		pr = t->mu + (u >= 0 ? ubase[u] : 0);

			if (i >= 0)
				pr += m.item_bias[i] + (u >= 0 ? rs_nbr_offset(&m, i, position, zu + b, NULL) : 0);
			out[s] = clipf((float) pr);
		}
		for (int64_t x = b; x < e; x++)
			position[t->by_user.indices[x]] = 0;
	}
	free(ubase); free(zu); free(zi); free(sim); free(position); free(order); free(work);
	free(start); free(count); free(neighbor); free(m.w); free(m.c); free(m.item_bias);
	free(item_base);
}

static const Method methods[] = {
	{"bias", method_bias},
	{"als", method_als},
	{"sgd", method_sgd},
	{"svdpp", method_svdpp},
	{"als2", method_als2},
	{"gibbs", method_gibbs},
	{"bayes", method_bayes},
	{"knn", method_knn},
	{"nbr", method_nbr},
};

static MethodFn
find_method(const char *name)
{
	size_t		j;

	for (j = 0; j < sizeof(methods) / sizeof(methods[0]); j++)
		if (strcmp(methods[j].name, name) == 0)
			return methods[j].fn;
	fprintf(stderr, "unknown method %s\n", name);
	exit(2);
}

static void
errors(const Query *q, const float *pred, double *rmse, double *mae)
{
	double		se = 0,
				ae = 0;
	int64_t		j;

	for (j = 0; j < q->n; j++)
	{
		double		e = clipf(pred[j]) - q->r[j];

		se += e * e;
		ae += fabs(e);
	}
	*rmse = sqrt(se / q->n);
	*mae = ae / q->n;
}

/* Solve the (m x m) SPD system A w = b in place (Cholesky, doubles). */
static void
spd_solve(double *A, double *b, int m)
{
	int			i,
				j,
				c;

	for (j = 0; j < m; j++)
	{
		double		d = A[j * m + j];

		for (c = 0; c < j; c++)
			d -= A[j * m + c] * A[j * m + c];
		d = sqrt(d);
		A[j * m + j] = d;
		for (i = j + 1; i < m; i++)
		{
			double		s = A[i * m + j];

			for (c = 0; c < j; c++)
				s -= A[i * m + c] * A[j * m + c];
			A[i * m + j] = s / d;
		}
	}
	for (i = 0; i < m; i++)
	{
		for (c = 0; c < i; c++)
			b[i] -= A[i * m + c] * b[c];
		b[i] /= A[i * m + i];
	}
	for (i = m - 1; i >= 0; i--)
	{
		for (c = i + 1; c < m; c++)
			b[i] -= A[c * m + i] * b[c];
		b[i] /= A[i * m + i];
	}
}

/*
 * Ridge least-squares blend weights (intercept first) of nc prediction
 * vectors against the targets.
 */
static void
fit_blend(const Query *q, float **preds, int nc, double ridge, double *w)
{
	int			m = nc + 1;
	double		A[(MAX_COMPONENTS + 1) * (MAX_COMPONENTS + 1)];
	int64_t		j;
	int			a,
				c;

	memset(A, 0, sizeof(A));
	memset(w, 0, sizeof(double) * m);
	for (j = 0; j < q->n; j++)
	{
		double		x[MAX_COMPONENTS + 1];

		x[0] = 1.0;
		for (a = 0; a < nc; a++)
			x[a + 1] = preds[a][j];
		for (a = 0; a < m; a++)
		{
			for (c = 0; c < m; c++)
				A[a * m + c] += x[a] * x[c];
			w[a] += x[a] * q->r[j];
		}
	}
	for (a = 1; a < m; a++)
		A[a * m + a] += ridge * q->n;
	spd_solve(A, w, m);
}

static void
apply_blend(int64_t n, float **preds, int nc, const double *w, float *out)
{
	int64_t		j;
	int			a;

	for (j = 0; j < n; j++)
	{
		double		s = w[0];

		for (a = 0; a < nc; a++)
			s += w[a + 1] * preds[a][j];
		out[j] = (float) s;
	}
}

/* Fit every component on t and predict q; returns the summed fit seconds. */
static double
run_components(const Train *t, const Query *q, Params *comps, int nc,
			   float **preds, double *secs)
{
	double		total = 0;
	int			c;

	for (c = 0; c < nc; c++)
	{
		double		t0 = now_seconds();

		find_method(comps[c].method) (t, &comps[c], q, preds[c]);
		secs[c] = now_seconds() - t0;
		total += secs[c];
	}
	return total;
}

static bool *
valid_mask(const Rows *rows, bool want_valid)
{
	bool	   *mask = xmalloc(sizeof(bool) * rows->n);
	int64_t		j;

	for (j = 0; j < rows->n; j++)
	{
		uint64_t	key = ((uint64_t) (uint32_t) rows->user[j] << 32) | (uint32_t) rows->item[j];
		bool		is_valid = rs_rng_u64(VALID_SEED, key) % 100 < VALID_PERCENT;

		mask[j] = is_valid == want_valid;
	}
	return mask;
}

int
main(int argc, char **argv)
{
	const char *data = "/work/shared/data/splits/ml-latest-small/cv5";
	bool		valid = false;
	int			fold_lo = 1,
				fold_hi = 5,
				threads = 1;
	Params		comps[MAX_COMPONENTS];
	int			nc = 0;
	int			a;
	double		sum_rmse = 0,
				sum_mae = 0,
				sum_secs = 0,
				max_secs = 0;
	double		comp_rmse_sum[MAX_COMPONENTS];
	int			n_folds = 0;

	memset(comps, 0, sizeof(comps));
	memset(comp_rmse_sum, 0, sizeof(comp_rmse_sum));
	for (a = 1; a < argc; a++)
	{
		if (strcmp(argv[a], "--valid") == 0)
			valid = true;
		else if (strcmp(argv[a], "--folds") == 0 && a + 1 < argc)
		{
			if (sscanf(argv[++a], "%d-%d", &fold_lo, &fold_hi) == 1)
				fold_hi = fold_lo;
		}
		else if (strcmp(argv[a], "--threads") == 0 && a + 1 < argc)
			threads = atoi(argv[++a]);
		else if (strcmp(argv[a], "--data") == 0 && a + 1 < argc)
			data = argv[++a];
		else if (strcmp(argv[a], "+") == 0)
			nc++;
		else if (strchr(argv[a], '='))
		{
			Params	   *p = &comps[nc];
			char	   *eq = strchr(argv[a], '=');

			if (p->n >= MAX_PARAMS)
				exit(2);
			snprintf(p->key[p->n], sizeof(p->key[0]), "%.*s", (int) (eq - argv[a]), argv[a]);
			p->val[p->n] = atof(eq + 1);
			p->n++;
		}
		else
			snprintf(comps[nc].method, sizeof(comps[nc].method), "%s", argv[a]);
	}
	nc++;
	if (nc > MAX_COMPONENTS)
		exit(2);
	for (a = 0; a < nc; a++)
	{
		comps[a].threads = threads;
		find_method(comps[a].method);
	}
	openblas_set_num_threads(1);

	printf("# %s, threads %d:", valid ? "inner validation (10%)" : "test", threads);
	for (a = 0; a < nc; a++)
	{
		printf(a ? " +" : "");
		printf(" ");
		params_print(&comps[a], stdout);
	}
	printf("\n");

	for (int fold = fold_lo; fold <= fold_hi; fold++)
	{
		char		path[4096];
		Rows		train_rows;
		float	   *preds[MAX_COMPONENTS];
		float	   *final;
		double		secs[MAX_COMPONENTS];
		double		rmse,
					mae,
					fit_secs;
		Query		eval_q;

		snprintf(path, sizeof(path), "%s/fold%d/train.csv.gz", data, fold);
		train_rows = read_rows(path);

		/* inner split: always needed for blends, and for --valid */
		{
			bool	   *keep = valid_mask(&train_rows, false);
			bool	   *hold = valid_mask(&train_rows, true);
			Train		inner = build_train(&train_rows, keep);
			Query		vq = build_query(&inner, &train_rows, hold);
			double		w[MAX_COMPONENTS + 1];

			if (valid || nc > 1)
			{
				for (a = 0; a < nc; a++)
					preds[a] = xmalloc(sizeof(float) * vq.n);
				final = xmalloc(sizeof(float) * vq.n);
				fit_secs = run_components(&inner, &vq, comps, nc, preds, secs);
				if (nc > 1)
				{
					fit_blend(&vq, preds, nc, 1e-6, w);
					apply_blend(vq.n, preds, nc, w, final);
					printf("  fold %d blend weights: %.4f", fold, w[0]);
					for (a = 0; a < nc; a++)
						printf(" %.4f", w[a + 1]);
					printf("\n");
				}
				else
					memcpy(final, preds[0], sizeof(float) * vq.n);
				if (valid)
				{
					for (a = 0; a < nc && nc > 1; a++)
					{
						errors(&vq, preds[a], &rmse, &mae);
						comp_rmse_sum[a] += rmse;
						printf("  fold %d component %d: RMSE %.4f  (%.2f s)\n",
							   fold, a + 1, rmse, secs[a]);
					}
					errors(&vq, final, &rmse, &mae);
				}
				for (a = 0; a < nc; a++)
					free(preds[a]);
				free(final);
			}
			if (!valid)
			{
				Train		full = build_train(&train_rows, NULL);
				Rows		test_rows;

				snprintf(path, sizeof(path), "%s/fold%d/test.csv.gz", data, fold);
				test_rows = read_rows(path);
				eval_q = build_query(&full, &test_rows, NULL);
				for (a = 0; a < nc; a++)
					preds[a] = xmalloc(sizeof(float) * eval_q.n);
				final = xmalloc(sizeof(float) * eval_q.n);
				fit_secs = run_components(&full, &eval_q, comps, nc, preds, secs);
				for (a = 0; a < nc && nc > 1; a++)
				{
					errors(&eval_q, preds[a], &rmse, &mae);
					comp_rmse_sum[a] += rmse;
					printf("  fold %d component %d: RMSE %.4f  (%.2f s)\n",
						   fold, a + 1, rmse, secs[a]);
				}
				if (nc > 1)
					apply_blend(eval_q.n, preds, nc, w, final);
				else
					memcpy(final, preds[0], sizeof(float) * eval_q.n);
				errors(&eval_q, final, &rmse, &mae);
				for (a = 0; a < nc; a++)
					free(preds[a]);
				free(final);
				query_free(&eval_q);
				rows_free(&test_rows);
				train_free(&full);
			}
			free(keep);
			free(hold);
			query_free(&vq);
			train_free(&inner);
		}
		printf("fold %d: RMSE %.4f  MAE %.4f  fit %.2f s\n", fold, rmse, mae, fit_secs);
		fflush(stdout);
		sum_rmse += rmse;
		sum_mae += mae;
		sum_secs += fit_secs;
		if (fit_secs > max_secs)
			max_secs = fit_secs;
		n_folds++;
		rows_free(&train_rows);
	}
	if (nc > 1)
		for (a = 0; a < nc; a++)
			printf("component %d mean RMSE %.4f\n", a + 1, comp_rmse_sum[a] / n_folds);
	printf("MEAN %s: RMSE %.4f  MAE %.4f  fit %.2f s/fold (max %.2f)\n",
		   valid ? "valid" : "test", sum_rmse / n_folds, sum_mae / n_folds,
		   sum_secs / n_folds, max_secs);
	return 0;
}
