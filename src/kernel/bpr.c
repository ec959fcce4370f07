/*-------------------------------------------------------------------------
 *
 * bpr.c
 *		BPR by stochastic gradient descent over DSGD strata (see bpr.h for
 *		why the results do not depend on the thread count), with uniform,
 *		popularity or adaptive negatives and APR's adversarial term.
 *
 * One triple (u, i, j), z = x_u . (y_i - y_j) + b_i - b_j, descends
 * -ln sigmoid(z) + reg/2 (|x_u|^2 + |y_i|^2 + |y_j|^2 + b_i^2 + b_j^2)
 * by one step of the learning rate.  With APR (He et al. 2018) the
 * perturbations that increase the loss most for this triple, each of size
 * epsilon along its normalised gradient, are
 *	D_u = -eps d / |d|,  D_i = -eps x_u / |x_u|,  D_j = +eps x_u / |x_u|
 * (d = y_i - y_j), and the step also descends
 * weight * -ln sigmoid((x_u + D_u) . (d + D_i - D_j) + b_i - b_j)
 * with the perturbations held fixed, as the paper's minimax does.
 *
 * 'adaptive' negatives take the highest scored of a few uniform draws
 * (dynamic negative sampling, Zhang et al. SIGIR 2013): like WARP and
 * Rendle and Freudenthaler's adaptive oversampling (WSDM 2014) it spends
 * the updates on the negatives the model ranks too high, at a fixed cost
 * per triple.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "bpr.h"
#include "rng.h"
#include "simd.h"
#include "threads.h"

/* Streams of the block hashes and of the cells' draws. */
#define USER_BLOCK_STREAM	UINT64_C(0x6a09e667f3bcc908)
#define ITEM_BLOCK_STREAM	UINT64_C(0xbb67ae8584caa73b)
#define CELL_STREAM			UINT64_C(0x3c6ef372fe94f82b)
/* Triples between two looks at the stop flag by a worker thread. */
#define STOP_POLL			256

int
rs_bpr_blocks(const RsCsr *R)
{
	int64_t		rows = R->n_rows < R->n_cols ? R->n_rows : R->n_cols;
	int64_t		b = rows / RS_BPR_MIN_BLOCK_ROWS;

	return b < 1 ? 1 : b > RS_BPR_MAX_BLOCKS ? RS_BPR_MAX_BLOCKS : (int) b;
}

void
rs_bpr_init_rows(float *X, int64_t begin, int64_t end, int k, uint64_t seed)
{
	for (int64_t e = begin * k; e < end * (int64_t) k; e++)
		X[e] = (rs_rng_uniform_float(seed, (uint64_t) e) - 0.5f) / k;
}

static inline int
user_block(const RsBprRun *run, int32_t u)
{
	return (int) (rs_rng_u64(run->seed ^ USER_BLOCK_STREAM, (uint64_t) u) % run->nblocks);
}

static inline int
item_block(const RsBprRun *run, int32_t i)
{
	return (int) (rs_rng_u64(run->seed ^ ITEM_BLOCK_STREAM, (uint64_t) i) % run->nblocks);
}

int
rs_bpr_prepare(RsBprRun *run)
{
	const RsCsr *R = run->R;
	int			B = run->nblocks;
	int64_t		cursor[RS_BPR_MAX_BLOCKS * RS_BPR_MAX_BLOCKS];

	if (B < 1 || B > RS_BPR_MAX_BLOCKS || run->k < 1 || run->k > RS_BPR_MAX_FACTORS)
		return RS_BPR_ERR_ARGUMENT;

	/* the items by block */
	memset(run->block_item_start, 0, sizeof(int64_t) * (B + 1));
	for (int32_t i = 0; i < R->n_cols; i++)
		run->block_item_start[item_block(run, i) + 1]++;
	for (int b = 0; b < B; b++)
	{
		run->block_item_start[b + 1] += run->block_item_start[b];
		cursor[b] = run->block_item_start[b];
	}
	for (int32_t i = 0; i < R->n_cols; i++)
		run->block_items[cursor[item_block(run, i)]++] = i;

	/* the pairs by cell, and the popularity pools by item block */
	memset(run->cell_start, 0, sizeof(int64_t) * (B * B + 1));
	memset(run->pool_start, 0, sizeof(int64_t) * (B + 1));
	for (int32_t u = 0; u < R->n_rows; u++)
	{
		int			ub = user_block(run, u);

		for (int64_t p = R->indptr[u]; p < R->indptr[u + 1]; p++)
		{
			int			ib = item_block(run, R->indices[p]);

			run->cell_start[ub * B + ib + 1]++;
			run->pool_start[ib + 1]++;
		}
	}
	for (int c = 0; c < B * B; c++)
	{
		run->cell_start[c + 1] += run->cell_start[c];
		cursor[c] = run->cell_start[c];
	}
	for (int32_t u = 0; u < R->n_rows; u++)
	{
		int			ub = user_block(run, u);

		for (int64_t p = R->indptr[u]; p < R->indptr[u + 1]; p++)
		{
			int64_t		at = cursor[ub * B + item_block(run, R->indices[p])]++;

			run->cell_user[at] = u;
			run->cell_item[at] = R->indices[p];
		}
	}
	for (int b = 0; b < B; b++)
	{
		run->pool_start[b + 1] += run->pool_start[b];
		cursor[b] = run->pool_start[b];
	}
	for (int64_t p = 0; p < R->nnz; p++)
		run->pool_items[cursor[item_block(run, R->indices[p])]++] = R->indices[p];
	memset(run->cell_loss, 0, sizeof(double) * B * B);
	return RS_BPR_OK;
}

/* Whether item j is one of user u's (binary search of the sorted row). */
static inline bool
user_has_item(const RsCsr *R, int32_t u, int32_t j)
{
	int64_t		lo = R->indptr[u];
	int64_t		hi = R->indptr[u + 1];

	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (R->indices[mid] < j)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < R->indptr[u + 1] && R->indices[lo] == j;
}

/* log(1 + exp(-z)), without overflow. */
static inline double
softplus_neg(double z)
{
	return z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z));
}

/* sigmoid(-z) */
static inline float
sigmoid_neg(float z)
{
	return 1.0f / (1.0f + expf(z));
}

/* Shared state of one stratum. */
typedef struct BprStratum
{
	RsBprRun   *run;
	int			epoch;
	int			stratum;
	int			adversarial;
	int64_t		next_cell;		/* atomic: the next row block to take */
	int			stopped;		/* atomic: the caller's stop callback said stop */
	RsStopFn	stop;
	void	   *stop_arg;
} BprStratum;

typedef struct BprWorker
{
	BprStratum *par;
	bool		is_caller;		/* only the calling thread asks stop */
} BprWorker;

/*
 * The per-ISA body: every triple of cell (ub, ib) in sequence.  Returns
 * RS_BPR_STOPPED when told to stop, else RS_BPR_OK.
 */
RS_INLINE int
cell_body(BprStratum *par, int ub, bool is_caller, RsStopClock *clock, const int nregs)
{
	RsBprRun   *run = par->run;
	const RsCsr *R = run->R;
	int			B = run->nblocks;
	int			ib = (ub + par->stratum) % B;
	int			cell = ub * B + ib;
	int			k = run->k;
	int64_t		begin = run->cell_start[cell];
	int64_t		n = run->cell_start[cell + 1] - begin;
	const int32_t *items = run->block_items + run->block_item_start[ib];
	int64_t		n_items = run->block_item_start[ib + 1] - run->block_item_start[ib];
	const int32_t *pool = run->pool_items + run->pool_start[ib];
	int64_t		n_pool = run->pool_start[ib + 1] - run->pool_start[ib];
	uint64_t	stream = rs_rng_mix64(run->seed ^ CELL_STREAM) +
		(uint64_t) par->epoch * RS_BPR_MAX_BLOCKS * RS_BPR_MAX_BLOCKS + (uint64_t) cell;
	uint64_t	draw = 0;
	float		lr = run->learning_rate;
	float		shrink = 1.0f - run->learning_rate * run->reg;
	float		eps = run->adv_epsilon;
	float		weight = run->adv_weight;
	float		xu[RS_BPR_MAX_FACTORS];
	float		d[RS_BPR_MAX_FACTORS];
	float		xadv[RS_BPR_MAX_FACTORS];
	float		dadv[RS_BPR_MAX_FACTORS];
	double		loss = 0;

	for (int64_t t = 0; t < n; t++)
	{
		int64_t		e = begin + (int64_t) (rs_rng_u64(stream, draw++) % (uint64_t) n);
		int32_t		u = run->cell_user[e];
		int32_t		i = run->cell_item[e];
		int32_t		j = -1;
		float	   *x = run->X + (int64_t) u * k;
		float	   *yi = run->Y + (int64_t) i * k;
		float	   *yj;
		float		best = -INFINITY;
		float		z,
					g,
					ga = 0;
		int64_t		work = 2 * k;

		memcpy(xu, x, sizeof(float) * k);
		for (int tries = 0, found = 0; n_items > 1 && tries < RS_BPR_NEGATIVE_TRIES; tries++)
		{
			int32_t		c = run->sampling == RS_BPR_POPULARITY ?
				pool[rs_rng_u64(stream, draw++) % (uint64_t) n_pool] :
				items[rs_rng_u64(stream, draw++) % (uint64_t) n_items];

			if (c == i || user_has_item(R, u, c))
				continue;
			if (run->sampling != RS_BPR_ADAPTIVE)
			{
				j = c;
				break;
			}
			else
			{
				float		s = vec_dot(xu, run->Y + (int64_t) c * k, k, nregs) + run->bias[c];

				work += k;
				if (s > best)
				{
					best = s;
					j = c;
				}
				if (++found == RS_BPR_ADAPTIVE_CANDIDATES)
					break;
			}
		}
		if (j >= 0)
		{
			yj = run->Y + (int64_t) j * k;
			for (int f = 0; f < k; f++)
				d[f] = yi[f] - yj[f];
			z = vec_dot(xu, d, k, nregs) + run->bias[i] - run->bias[j];
			g = sigmoid_neg(z);
			loss += softplus_neg(z);
			if (par->adversarial)
			{
				float		dn = sqrtf(vec_dot(d, d, k, nregs));
				float		xn = sqrtf(vec_dot(xu, xu, k, nregs));
				float		sd = dn > 0 ? eps / dn : 0;
				float		sx = xn > 0 ? 2 * eps / xn : 0;
				float		za;

				for (int f = 0; f < k; f++)
				{
					xadv[f] = xu[f] - sd * d[f];
					dadv[f] = d[f] - sx * xu[f];
				}
				za = vec_dot(xadv, dadv, k, nregs) + run->bias[i] - run->bias[j];
				ga = weight * sigmoid_neg(za);
				loss += weight * softplus_neg(za);
				work += 4 * k;
			}
			/* descend from the old values: x_u's step uses d, the items' xu */
			for (int f = 0; f < k; f++)
			{
				x[f] *= shrink;
				yi[f] *= shrink;
				yj[f] *= shrink;
			}
			vec_axpy(x, lr * g, d, k, nregs);
			vec_axpy(yi, lr * g, xu, k, nregs);
			vec_axpy(yj, -lr * g, xu, k, nregs);
			run->bias[i] = run->bias[i] * shrink + lr * (g + ga);
			run->bias[j] = run->bias[j] * shrink - lr * (g + ga);
			if (par->adversarial)
			{
				vec_axpy(x, lr * ga, dadv, k, nregs);
				vec_axpy(yi, lr * ga, xadv, k, nregs);
				vec_axpy(yj, -lr * ga, xadv, k, nregs);
			}
			work += 8 * k;
		}
		if (is_caller)
		{
			if (rs_stop_tick(clock, work))
			{
				__atomic_store_n(&par->stopped, 1, __ATOMIC_RELAXED);
				return RS_BPR_STOPPED;
			}
		}
		else if (t % STOP_POLL == 0 && __atomic_load_n(&par->stopped, __ATOMIC_RELAXED))
			return RS_BPR_STOPPED;
	}
	run->cell_loss[cell] = loss;
	return RS_BPR_OK;
}

typedef int (*BprCellFn) (BprStratum *par, int ub, bool is_caller, RsStopClock *clock);

#define RS_DEFINE_BPR_CELL(SUFFIX, ATTRS, NREGS) \
	ATTRS static int \
	bpr_cell_##SUFFIX(BprStratum *par, int ub, bool is_caller, RsStopClock *clock) \
	{ \
		return cell_body(par, ub, is_caller, clock, NREGS); \
	}

RS_SIMD_INSTANTIATE(RS_DEFINE_BPR_CELL)

/* Take the stratum's cells until none is left or a stop. */
static void *
bpr_worker(void *arg)
{
	BprWorker  *w = arg;
	BprStratum *par = w->par;
	BprCellFn	cell = RS_SIMD_SELECT(bpr_cell);
	RsStopClock clock = rs_stop_clock(par->stop, par->stop_arg);
	int64_t		begin;
	int64_t		end;

	while (!__atomic_load_n(&par->stopped, __ATOMIC_RELAXED) &&
		   rs_threads_grab(&par->next_cell, 1, par->run->nblocks, &begin, &end))
		if (cell(par, (int) begin, w->is_caller, &clock) != RS_BPR_OK)
			break;
	return NULL;
}

int
rs_bpr_stratum(RsBprRun *run, int epoch, int stratum, int adversarial, int nthreads,
			   RsStopFn stop, void *stop_arg)
{
	BprStratum	par = {run, epoch, stratum, adversarial, 0, 0, stop, stop_arg};
	BprWorker	workers[RS_THREADS_MAX];
	int			status = RS_THREADS_OK;

	if (run->k < 1 || run->k > RS_BPR_MAX_FACTORS || run->nblocks < 1 ||
		run->nblocks > RS_BPR_MAX_BLOCKS || stratum < 0 || stratum >= run->nblocks || epoch < 0)
		return RS_BPR_ERR_ARGUMENT;
	if (nthreads > run->nblocks)
		nthreads = run->nblocks;
	if (nthreads > RS_THREADS_MAX)
		nthreads = RS_THREADS_MAX;
	if (nthreads < 1)
		nthreads = 1;
	for (int t = 0; t < nthreads; t++)
	{
		workers[t].par = &par;
		workers[t].is_caller = t == 0;
	}
	status = rs_threads_run(nthreads, bpr_worker, workers, sizeof(BprWorker));
	if (par.stopped)
		return RS_BPR_STOPPED;
	return status == RS_THREADS_OK ? RS_BPR_OK : RS_BPR_ERR_THREAD;
}

double
rs_bpr_epoch_loss(const RsBprRun *run)
{
	double		sum = 0;

	for (int c = 0; c < run->nblocks * run->nblocks; c++)
		sum += run->cell_loss[c];
	return run->R->nnz > 0 ? sum / run->R->nnz : 0;
}

const char *
rs_bpr_strerror(int status)
{
	switch (status)
	{
		case RS_BPR_OK:
			return "no error";
		case RS_BPR_STOPPED:
			return "stopped";
		case RS_BPR_ERR_THREAD:
			return "a worker thread could not be created";
		case RS_BPR_ERR_ARGUMENT:
			return "invalid argument";
	}
	return "unknown status";
}
