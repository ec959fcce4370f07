/*-------------------------------------------------------------------------
 *
 * fm.c
 *		A factorisation machine trained with BPR's pairwise loss: scores,
 *		serving terms and the deterministic multi-threaded SGD epoch
 *		(see fm.h for the model and the scheme).
 *
 *-------------------------------------------------------------------------
 */
#include "fm.h"

#include <math.h>
#include <string.h>

#include "rng.h"
#include "threads.h"

/* Negatives drawn before giving up on a user who has nearly every item. */
#define NEGATIVE_TRIES 32

void
rs_fm_init(RsFmParams *p, uint64_t seed, float init_sd, int32_t begin, int32_t end)
{
	memset(p->w + begin, 0, sizeof(float) * (end - begin));
	for (size_t a = (size_t) begin * p->k; a < (size_t) end * p->k; a++)
		p->v[a] = (float) (init_sd * rs_rng_normal(seed, a));
}

/* Per example of a batch: P, Q_i, Q_j (k each), then g and the loss. */
static inline size_t
example_floats(int k)
{
	return 3 * (size_t) k + 2;
}

size_t
rs_fm_workspace_floats(int k)
{
	/* and one int32 (the negative) per example */
	return RS_FM_BATCH * (example_floats(k) + 1);
}

void
rs_fm_side_sum(const RsFmParams *p, const RsFmRows *rows, int32_t row, float *out)
{
	int			k = p->k;

	memset(out, 0, sizeof(float) * k);
	for (int64_t a = rows->indptr[row]; a < rows->indptr[row + 1]; a++)
	{
		const float *va = p->v + (size_t) rows->feature[a] * k;
		float		x = rows->value[a];

		for (int f = 0; f < k; f++)
			out[f] += va[f] * x;
	}
}

/*
 * t_i of an item whose Q_i is q, with nx extra features (the pair's base
 * features, already in q) besides the item's own.
 */
static double
item_linear_and_pairs(const RsFmParams *p, const RsFmRows *items, int32_t i, const float *q,
					  int nx, const int32_t *xf, const float *xv)
{
	int			k = p->k;
	double		t = 0;
	double		sq = 0;
	double		self = 0;

	for (int f = 0; f < k; f++)
		sq += (double) q[f] * q[f];
	for (int64_t a = items->indptr[i]; a < items->indptr[i + 1]; a++)
	{
		const float *va = p->v + (size_t) items->feature[a] * k;
		float		x = items->value[a];

		t += (double) p->w[items->feature[a]] * x;
		for (int f = 0; f < k; f++)
			self += (double) va[f] * va[f] * x * x;
	}
	for (int e = 0; e < nx; e++)
	{
		const float *va = p->v + (size_t) xf[e] * k;

		t += (double) p->w[xf[e]] * xv[e];
		for (int f = 0; f < k; f++)
			self += (double) va[f] * va[f] * xv[e] * xv[e];
	}
	return t + 0.5 * (sq - self);
}

void
rs_fm_standardize(float *x, int64_t n)
{
	double		mean = 0,
				var = 0,
				sd;

	for (int64_t r = 0; r < n; r++)
		mean += x[r];
	mean /= n > 1 ? n : 1;
	for (int64_t r = 0; r < n; r++)
		var += (x[r] - mean) * (x[r] - mean);
	sd = sqrt(var / (n > 1 ? n : 1));
	for (int64_t r = 0; r < n; r++)
		x[r] = sd > 0 && isfinite(sd) ? (float) ((x[r] - mean) / sd) : 0.0f;
}

int
rs_fm_rank_band(int64_t r)
{
	static const int64_t last[RS_FM_RANK_BANDS - 2] = {0, 2, 9, 24, 49};

	if (r < 0)
		return RS_FM_RANK_BANDS - 1;
	for (int b = 0; b < RS_FM_RANK_BANDS - 2; b++)
		if (r <= last[b])
			return b;
	return RS_FM_RANK_BANDS - 2;
}

int
rs_fm_base_features(const RsFmData *d, int32_t u, int32_t i, int32_t *feature, float *value)
{
	int64_t		r = -1;

	if (d->hard_score == NULL)
		return 0;
	for (int64_t a = d->hard_indptr[u]; a < d->hard_indptr[u + 1]; a++)
		if (d->hard_item[a] == i)
		{
			r = a - d->hard_indptr[u];
			break;
		}
	feature[0] = d->base_feature + rs_fm_rank_band(r);
	value[0] = 1;
	if (r < 0)
		return 1;
	feature[1] = d->base_feature + RS_FM_RANK_BANDS;
	value[1] = d->hard_score[d->hard_indptr[u] + r];
	return 2;
}

/* Q_i of item i for user u: its features' and the pair's base features' sum of v_a x_a. */
static int
pair_item_sum(const RsFmParams *p, const RsFmData *d, int32_t u, int32_t i, float *out,
			  int32_t *xf, float *xv)
{
	int			nx = rs_fm_base_features(d, u, i, xf, xv);

	rs_fm_side_sum(p, &d->items, i, out);
	for (int e = 0; e < nx; e++)
		for (int f = 0; f < p->k; f++)
			out[f] += p->v[(size_t) xf[e] * p->k + f] * xv[e];
	return nx;
}

void
rs_fm_item_terms(const RsFmParams *p, const RsFmRows *items, int32_t begin, int32_t end, float *out)
{
	for (int32_t i = begin; i < end; i++)
	{
		float	   *o = out + (size_t) i * (p->k + 1);

		rs_fm_side_sum(p, items, i, o + 1);
		o[0] = (float) item_linear_and_pairs(p, items, i, o + 1, 0, NULL, NULL);
	}
}

/* P: the user's and the example's context features' sum of v_a x_a. */
static void
user_context_sum(const RsFmParams *p, const RsFmData *d, int64_t e, float *out)
{
	rs_fm_side_sum(p, &d->users, d->example_user[e], out);
	for (int c = 0; c < d->n_context; c++)
	{
		int32_t		a = d->context_feature[e * d->n_context + c];
		float		x = d->context_value[e * d->n_context + c];

		if (a < 0)
			continue;
		for (int f = 0; f < p->k; f++)
			out[f] += p->v[(size_t) a * p->k + f] * x;
	}
}

/* x_uij from P, Q_i, Q_j (each with the pair's base features). */
static double
pair_score(const RsFmParams *p, const RsFmData *d, int32_t u, int32_t i, int32_t j, const float *pu,
		   const float *qi, const float *qj)
{
	int32_t		xf[2];
	float		xv[2];
	int			nx = rs_fm_base_features(d, u, i, xf, xv);
	double		x = item_linear_and_pairs(p, &d->items, i, qi, nx, xf, xv);

	nx = rs_fm_base_features(d, u, j, xf, xv);
	x -= item_linear_and_pairs(p, &d->items, j, qj, nx, xf, xv);

	for (int f = 0; f < p->k; f++)
		x += (double) pu[f] * (qi[f] - qj[f]);
	return x;
}

double
rs_fm_pair_score(const RsFmParams *p, const RsFmData *d, int64_t example, int32_t negative)
{
	float		buf[3 * RS_FM_MAX_FACTORS];
	int32_t		u = d->example_user[example];
	int32_t		xf[2];
	float		xv[2];

	user_context_sum(p, d, example, buf);
	pair_item_sum(p, d, u, d->example_item[example], buf + p->k, xf, xv);
	pair_item_sum(p, d, u, negative, buf + 2 * p->k, xf, xv);
	return pair_score(p, d, u, d->example_item[example], negative, buf, buf + p->k, buf + 2 * p->k);
}

/* Whether the user has item i (seen lists ascend). */
static int
user_has(const RsFmData *d, int32_t u, int32_t i)
{
	int64_t		lo = d->seen_indptr[u];
	int64_t		hi = d->seen_indptr[u + 1];

	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (d->seen_item[mid] < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < d->seen_indptr[u + 1] && d->seen_item[lo] == i;
}

/* The negative of example e in this epoch, -1 if none could be found. */
static int32_t
draw_negative(const RsFmData *d, uint64_t seed, uint64_t counter, int32_t u)
{
	uint64_t	c = counter * (NEGATIVE_TRIES + 1);
	int64_t		hard_n = d->hard_indptr ? d->hard_indptr[u + 1] - d->hard_indptr[u] : 0;

	if (hard_n > 0 && rs_rng_uniform_float(seed, c) < d->hard_share)
	{
		int32_t		j = d->hard_item[d->hard_indptr[u] + (int64_t) (rs_rng_u64(seed, c + 1) % (uint64_t) hard_n)];

		return user_has(d, u, j) ? -1 : j;
	}
	for (int t = 1; t <= NEGATIVE_TRIES; t++)
	{
		int32_t		j = (int32_t) (rs_rng_u64(seed, c + t) % (uint64_t) d->items.n_rows);

		if (!user_has(d, u, j))
			return j;
	}
	return -1;
}

typedef struct FmShared
{
	const RsFmData *d;
	RsFmParams *p;
	const RsFmSettings *s;
	const int64_t *order;
	uint64_t	epoch_seed;
	uint64_t	epoch_counter;	/* epoch * n_examples */
	int64_t		batch_begin;
	int64_t		batch_end;
	float	   *per_example;	/* RS_FM_BATCH x example_floats */
	int32_t    *negative;		/* RS_FM_BATCH */
	int			n_ranges;		/* feature ranges of the update phase */
	int64_t		next;			/* the work queue */
	int			phase;			/* 1: score the pairs, 2: update */
} FmShared;

/* Phase 1: score the pairs of examples [b, e) of the batch. */
static void
score_pairs(FmShared *sh, int64_t b, int64_t e)
{
	const RsFmData *d = sh->d;
	int			k = sh->p->k;

	for (int64_t n = b; n < e; n++)
	{
		int64_t		ex = sh->order[sh->batch_begin + n];
		float	   *slot = sh->per_example + n * example_floats(k);
		int32_t		u = d->example_user[ex];
		int32_t		i = d->example_item[ex];
		int32_t		j = draw_negative(d, sh->epoch_seed, sh->epoch_counter + ex, u);
		double		weight = d->example_weight ? d->example_weight[ex] : 1.0;
		double		x;
		int32_t		xf[2];
		float		xv[2];

		sh->negative[n] = j;
		if (j < 0)
		{
			slot[3 * k] = 0;
			slot[3 * k + 1] = 0;
			continue;
		}
		user_context_sum(sh->p, d, ex, slot);
		pair_item_sum(sh->p, d, u, i, slot + k, xf, xv);
		pair_item_sum(sh->p, d, u, j, slot + 2 * k, xf, xv);
		x = pair_score(sh->p, d, u, i, j, slot, slot + k, slot + 2 * k);
		/* d ln sigmoid(x) / dx = sigmoid(-x); -ln sigmoid(x) = log1p(exp(-x)) */
		slot[3 * k] = (float) (weight / (1.0 + exp(x)));
		slot[3 * k + 1] = (float) (weight * (x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x))));
	}
}

/* One feature's step: w += lr (g x - reg w) (if linear), v += lr (g x dir - reg v). */
static inline void
step_feature(RsFmParams *p, int32_t a, float x, float g, float lr, float reg,
			 const float *base, const float *minus_self, int linear)
{
	float	   *va = p->v + (size_t) a * p->k;

	if (linear)
		p->w[a] += lr * (g * x - reg * p->w[a]);
	for (int f = 0; f < p->k; f++)
	{
		float		dir = base[f] - (minus_self ? va[f] * x : 0.0f);

		va[f] += lr * (g * x * dir - reg * va[f]);
	}
}

/* Phase 2: apply the batch's updates to the features in [lo, hi), in example order. */
static void
apply_updates(FmShared *sh, int32_t lo, int32_t hi)
{
	const RsFmData *d = sh->d;
	RsFmParams *p = sh->p;
	int			k = p->k;
	float		lr = sh->s->learning_rate;
	float		reg = sh->s->regularization;
	float		dir[RS_FM_MAX_FACTORS];
	int32_t		xf[2];
	float		xv[2];
	int			nx;

	for (int64_t n = 0; n < sh->batch_end - sh->batch_begin; n++)
	{
		int64_t		ex = sh->order[sh->batch_begin + n];
		const float *slot = sh->per_example + n * example_floats(k);
		const float *pu = slot;
		const float *qi = slot + k;
		const float *qj = slot + 2 * k;
		float		g = slot[3 * k];
		int32_t		i = d->example_item[ex];
		int32_t		j = sh->negative[n];
		int32_t		u = d->example_user[ex];

		if (j < 0)
			continue;
		/* item i's features: d x / d v_a = x_a (P + Q_i - v_a x_a) */
		for (int f = 0; f < k; f++)
			dir[f] = pu[f] + qi[f];
		for (int64_t a = d->items.indptr[i]; a < d->items.indptr[i + 1]; a++)
			if (d->items.feature[a] >= lo && d->items.feature[a] < hi)
				step_feature(p, d->items.feature[a], d->items.value[a], g, lr, reg, dir, dir, 1);
		nx = rs_fm_base_features(d, u, i, xf, xv);
		for (int e = 0; e < nx; e++)
			if (xf[e] >= lo && xf[e] < hi)
				step_feature(p, xf[e], xv[e], g, lr, reg, dir, dir, 1);
		/* item j's: the same with the opposite sign */
		for (int f = 0; f < k; f++)
			dir[f] = pu[f] + qj[f];
		for (int64_t a = d->items.indptr[j]; a < d->items.indptr[j + 1]; a++)
			if (d->items.feature[a] >= lo && d->items.feature[a] < hi)
				step_feature(p, d->items.feature[a], d->items.value[a], -g, lr, reg, dir, dir, 1);
		nx = rs_fm_base_features(d, u, j, xf, xv);
		for (int e = 0; e < nx; e++)
			if (xf[e] >= lo && xf[e] < hi)
				step_feature(p, xf[e], xv[e], -g, lr, reg, dir, dir, 1);
		/* the user's and context's: d x / d v_b = x_b (Q_i - Q_j); their w cancel */
		for (int f = 0; f < k; f++)
			dir[f] = qi[f] - qj[f];
		for (int64_t a = d->users.indptr[u]; a < d->users.indptr[u + 1]; a++)
			if (d->users.feature[a] >= lo && d->users.feature[a] < hi)
				step_feature(p, d->users.feature[a], d->users.value[a], g, lr, reg, dir, NULL, 0);
		for (int c = 0; c < d->n_context; c++)
		{
			int32_t		a = d->context_feature[ex * d->n_context + c];

			if (a >= lo && a < hi)
				step_feature(p, a, d->context_value[ex * d->n_context + c], g, lr, reg, dir, NULL, 0);
		}
	}
}

static void *
fm_worker(void *arg)
{
	FmShared   *sh = *(FmShared **) arg;
	int64_t		b,
				e;

	if (sh->phase == 1)
	{
		while (rs_threads_grab(&sh->next, 16, sh->batch_end - sh->batch_begin, &b, &e))
			score_pairs(sh, b, e);
	}
	else
	{
		while (rs_threads_grab(&sh->next, 1, sh->n_ranges, &b, &e))
			apply_updates(sh, (int32_t) ((int64_t) sh->p->n_features * b / sh->n_ranges),
						  (int32_t) ((int64_t) sh->p->n_features * e / sh->n_ranges));
	}
	return NULL;
}

/* Run the current phase on the threads; false if a thread could not be created. */
static int
run_phase(FmShared *sh, int phase, int nthreads)
{
	FmShared   *args[RS_THREADS_MAX];

	sh->phase = phase;
	sh->next = 0;
	for (int t = 0; t < RS_THREADS_MAX; t++)
		args[t] = sh;
	return rs_threads_run(nthreads, fm_worker, args, sizeof(FmShared *)) == RS_THREADS_OK;
}

int
rs_fm_epoch(const RsFmData *d, RsFmParams *p, const RsFmSettings *s, int epoch,
			float *workspace, int64_t *order, RsStopFn stop, void *stop_arg, double *loss)
{
	FmShared	sh;
	RsStopClock clock = rs_stop_clock(stop, stop_arg);
	int			nthreads = s->nthreads < 1 ? 1 : s->nthreads > RS_THREADS_MAX ? RS_THREADS_MAX : s->nthreads;
	int			created = 1;
	double		total = 0;
	double		pairs = 0;
	int64_t		work = 0;		/* in the current batch, by its features */
	uint64_t	shuffle_seed = rs_rng_mix64(s->seed ^ UINT64_C(0x5bd1e995)) + (uint64_t) epoch;

	/* the epoch's order: a Fisher-Yates shuffle (a random access each step) */
	for (int64_t e = 0; e < d->n_examples; e++)
		order[e] = e;
	for (int64_t e = d->n_examples - 1; e > 0; e--)
	{
		int64_t		r = (int64_t) (rs_rng_u64(shuffle_seed, (uint64_t) e) % (uint64_t) (e + 1));
		int64_t		t = order[e];

		order[e] = order[r];
		order[r] = t;
		if ((e & 4095) == 0 && rs_stop_tick(&clock, 4096 * 64))
			return RS_FM_STOPPED;
	}

	memset(&sh, 0, sizeof(sh));
	sh.d = d;
	sh.p = p;
	sh.s = s;
	sh.order = order;
	sh.epoch_seed = s->seed;
	sh.epoch_counter = (uint64_t) epoch * (uint64_t) d->n_examples;
	sh.per_example = workspace;
	sh.negative = (int32_t *) (workspace + RS_FM_BATCH * example_floats(p->k));
	sh.n_ranges = nthreads;
	for (int64_t b = 0; b < d->n_examples; b += RS_FM_BATCH)
	{
		sh.batch_begin = b;
		sh.batch_end = b + RS_FM_BATCH < d->n_examples ? b + RS_FM_BATCH : d->n_examples;
		created &= run_phase(&sh, 1, nthreads);
		created &= run_phase(&sh, 2, nthreads);
		for (int64_t n = 0; n < sh.batch_end - sh.batch_begin; n++)
		{
			int64_t		ex = order[sh.batch_begin + n];
			int32_t		i = d->example_item[ex];
			int32_t		j = sh.negative[n];
			int32_t		u = d->example_user[ex];
			int64_t		nnz = d->items.indptr[i + 1] - d->items.indptr[i] +
				d->users.indptr[u + 1] - d->users.indptr[u] + d->n_context;

			if (j >= 0)
			{
				total += sh.per_example[n * example_floats(p->k) + 3 * p->k + 1];
				pairs += d->example_weight ? d->example_weight[ex] : 1.0;
				nnz += d->items.indptr[j + 1] - d->items.indptr[j];
			}
			/* scored, then stepped: each feature's row of k, and drawing j */
			work += 2 * (nnz + 1) * (p->k + 1) + 64;
		}
		if (rs_stop_tick(&clock, work))
			return RS_FM_STOPPED;
		work = 0;
	}
	*loss = pairs > 0 ? total / pairs : 0;
	/* a parameter gone infinite makes some pair's loss so */
	if (!isfinite(*loss))
		return RS_FM_ERR_DIVERGED;
	return created ? RS_FM_OK : RS_FM_ERR_THREAD;
}
