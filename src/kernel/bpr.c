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

/*
 * The bitmap's layout: the users before each user block, and the words of
 * a row before each item block (a row of block ib has ceil(|ib| / 64)).
 */
static void
seen_layout(const RsBprRun *run, int64_t *user_start, int64_t *word_start)
{
	int			B = run->nblocks;
	int64_t		items[RS_BPR_MAX_BLOCKS] = {0};

	memset(user_start, 0, sizeof(int64_t) * (B + 1));
	for (int32_t u = 0; u < run->R->n_rows; u++)
		user_start[user_block(run, u) + 1]++;
	for (int32_t i = 0; i < run->R->n_cols; i++)
		items[item_block(run, i)]++;
	word_start[0] = 0;
	for (int b = 0; b < B; b++)
	{
		user_start[b + 1] += user_start[b];
		word_start[b + 1] = word_start[b] + (items[b] + 63) / 64;
	}
}

int64_t
rs_bpr_seen_words(const RsBprRun *run)
{
	int64_t		user_start[RS_BPR_MAX_BLOCKS + 1];
	int64_t		word_start[RS_BPR_MAX_BLOCKS + 1];
	int64_t		words;

	if (run->nblocks < 1 || run->nblocks > RS_BPR_MAX_BLOCKS)
		return 0;
	seen_layout(run, user_start, word_start);
	words = (int64_t) run->R->n_rows * word_start[run->nblocks];
	return words <= RS_BPR_SEEN_BYTES_PER_PAIR / 8 * run->R->nnz ? words : 0;
}

/* The first word of cell (ub, ib)'s rows in the bitmap. */
static inline uint64_t *
seen_cell(const RsBprRun *run, int ub, int ib)
{
	const int64_t *us = run->seen_user_start;
	const int64_t *ws = run->seen_word_start;

	return run->seen + us[ub] * ws[run->nblocks] + (us[ub + 1] - us[ub]) * ws[ib];
}

/* Set the bits of the pairs and fill the rows and columns that address them. */
static void
prepare_seen(RsBprRun *run)
{
	const RsCsr *R = run->R;
	int			B = run->nblocks;
	int64_t		next_row[RS_BPR_MAX_BLOCKS] = {0};

	/* the caller zeroed seen (it may be large: in chunks, with interrupt checks) */
	seen_layout(run, run->seen_user_start, run->seen_word_start);
	for (int32_t u = 0; u < R->n_rows; u++)
		run->user_row[u] = (int32_t) next_row[user_block(run, u)]++;
	for (int b = 0; b < B; b++)
		for (int64_t p = run->block_item_start[b]; p < run->block_item_start[b + 1]; p++)
			run->item_col[run->block_items[p]] = (int32_t) (p - run->block_item_start[b]);
	for (int32_t u = 0; u < R->n_rows; u++)
	{
		int			ub = user_block(run, u);

		for (int64_t p = R->indptr[u]; p < R->indptr[u + 1]; p++)
		{
			int32_t		i = R->indices[p];
			int			ib = item_block(run, i);
			uint64_t   *row = seen_cell(run, ub, ib) +
				run->user_row[u] * (run->seen_word_start[ib + 1] - run->seen_word_start[ib]);

			row[run->item_col[i] / 64] |= UINT64_C(1) << (run->item_col[i] % 64);
		}
	}
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
	if (run->seen)
		prepare_seen(run);
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

/*
 * The triple's loss -ln sigmoid(z) = -ln(1 - g) from g = sigmoid(-z),
 * with one logarithm; -z itself where 1 - g would lose every digit.
 */
static inline float
triple_loss(float z, float g)
{
	return z < -16 ? -z : -log1pf(-g);
}

/* A draw uniform in [0, n) from a 64-bit random value (multiply-shift). */
static inline int64_t
draw_below(uint64_t r, int64_t n)
{
	return (int64_t) (((unsigned __int128) r * (uint64_t) n) >> 64);
}

/* Random draws per triple: the positive's, then the negatives' tries. */
#define DRAWS_PER_TRIPLE	64
#if 1 + RS_BPR_NEGATIVE_TRIES > DRAWS_PER_TRIPLE
#error "a triple's draws would overlap the next triple's"
#endif

/* sigmoid(-z) */
static inline float
sigmoid_neg(float z)
{
	return 1.0f / (1.0f + expf(z));
}

/*
 * One triple's step from the old values: x = a x + b d, y_i = a y_i + b x,
 * y_j = a y_j - b x (a the shrink, b the learning rate times the
 * gradient's scale), in one pass, so x's old value needs no copy.
 */
RS_INLINE void
triple_step(float *x, float *yi, float *yj, const float *d, float a, float b, int k,
			const int nregs)
{
	int			i = 0;

	/* each output as a * y + b * x, the form every build contracts alike */
#define TRIPLE_STEP_AT(f) \
	do { \
		VLOAD(vx, x + (f)); \
		VLOAD(vd, d + (f)); \
		VLOAD(vi, yi + (f)); \
		VLOAD(vj, yj + (f)); \
		vi = va * vi + vb * vx; \
		vj = va * vj + vnb * vx; \
		vx = va * vx + vb * vd; \
		VSTORE(yi + (f), vi); \
		VSTORE(yj + (f), vj); \
		VSTORE(x + (f), vx); \
	} while (0)

	if (nregs < 16)
	{
		RsVec4		va = {a, a, a, a},
					vb = {b, b, b, b},
					vnb = {-b, -b, -b, -b},
					vx,
					vd,
					vi,
					vj;

		for (; i + 4 <= k; i += 4)
			TRIPLE_STEP_AT(i);
	}
	else
	{
		RsVec		va = VSPLAT(a),
					vb = VSPLAT(b),
					vnb = VSPLAT(-b),
					vx,
					vd,
					vi,
					vj;

		for (; i + RS_VLEN <= k; i += RS_VLEN)
			TRIPLE_STEP_AT(i);
	}
#undef TRIPLE_STEP_AT
	for (; i < k; i++)
	{
		float		xi = x[i];

		yi[i] = a * yi[i] + b * xi;
		yj[i] = a * yj[i] + -b * xi;
		x[i] = a * xi + b * d[i];
	}
}

/* out = x + b * y over k floats. */
RS_INLINE void
vec_add_scaled(float *out, const float *x, float b, const float *y, int k, const int nregs)
{
	int			i = 0;

	if (nregs < 16)
	{
		RsVec4		vb = {b, b, b, b},
					vx,
					vy;

		for (; i + 4 <= k; i += 4)
		{
			VLOAD(vx, x + i);
			VLOAD(vy, y + i);
			vx += vb * vy;
			VSTORE(out + i, vx);
		}
	}
	else
	{
		RsVec		vb = VSPLAT(b),
					vx,
					vy;

		for (; i + RS_VLEN <= k; i += RS_VLEN)
		{
			VLOAD(vx, x + i);
			VLOAD(vy, y + i);
			vx += vb * vy;
			VSTORE(out + i, vx);
		}
	}
	for (; i < k; i++)
		out[i] = x[i] + b * y[i];
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
	float		lr = run->learning_rate;
	float		shrink = 1.0f - run->learning_rate * run->reg;
	float		eps = run->adv_epsilon;
	float		weight = run->adv_weight;
	float		d[RS_BPR_MAX_FACTORS];
	float		xadv[RS_BPR_MAX_FACTORS];
	float		dadv[RS_BPR_MAX_FACTORS];
	double		loss = 0;
	bool		popularity = run->sampling == RS_BPR_POPULARITY;
	const uint64_t *seen = run->seen ? seen_cell(run, ub, ib) : NULL;
	int64_t		seen_stride = run->seen_word_start[ib + 1] - run->seen_word_start[ib];

	/*
	 * Each triple draws the next one's pair and first negative, to fetch
	 * their rows ahead (they are cache misses); the draws are the same.
	 */
	int64_t		e_next = n > 0 ? begin + draw_below(rs_rng_u64(stream, 0), n) : 0;
	uint64_t	r_next = rs_rng_u64(stream, 1);


	for (int64_t t = 0; t < n; t++)
	{
		uint64_t	draw = (uint64_t) t * DRAWS_PER_TRIPLE + 1;
		int64_t		e = e_next;
		uint64_t	r = r_next;
		int32_t		u = run->cell_user[e];
		int32_t		i = run->cell_item[e];
		int32_t		j = -1;
		float	   *x = run->X + (int64_t) u * k;
		float	   *yi = run->Y + (int64_t) i * k;
		float	   *yj;
		const uint64_t *seen_u = seen ? seen + run->user_row[u] * seen_stride : NULL;
		float		best = -INFINITY;
		float		z,
					g,
					ga = 0;
		int64_t		work = 2 * k;

		if (t + 1 < n)
		{
			uint64_t	next = (uint64_t) (t + 1) * DRAWS_PER_TRIPLE;

			e_next = begin + draw_below(rs_rng_u64(stream, next), n);
			r_next = rs_rng_u64(stream, next + 1);
			prefetch_row(run->X + (int64_t) run->cell_user[e_next] * k, k);
			prefetch_row(run->Y + (int64_t) run->cell_item[e_next] * k, k);
			if (n_items > 1)
				prefetch_row(run->Y + (int64_t) (popularity ? pool[draw_below(r_next, n_pool)] :
												 items[draw_below(r_next, n_items)]) * k, k);
		}
		for (int tries = 0, found = 0; n_items > 1 && tries < RS_BPR_NEGATIVE_TRIES; tries++)
		{
			int64_t		at = draw_below(tries == 0 ? r : rs_rng_u64(stream, draw + tries),
										popularity ? n_pool : n_items);
			int32_t		c = popularity ? pool[at] : items[at];

			/* one of the user's items (i too) is no negative */
			if (seen_u)
			{
				int64_t		col = popularity ? run->item_col[c] : at;

				if ((seen_u[col / 64] >> (col % 64)) & 1)
					continue;
			}
			else if (c == i || user_has_item(R, u, c))
				continue;
			if (run->sampling != RS_BPR_ADAPTIVE)
			{
				j = c;
				break;
			}
			else
			{
				float		s = vec_dot(x, run->Y + (int64_t) c * k, k, nregs) + run->bias[c];

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
			vec_add_scaled(d, yi, -1, yj, k, nregs);
			z = vec_dot(x, d, k, nregs) + run->bias[i] - run->bias[j];
			g = sigmoid_neg(z);
			if (run->track_loss)
				loss += triple_loss(z, g);
			if (par->adversarial)
			{
				float		dn = sqrtf(vec_dot(d, d, k, nregs));
				float		xn = sqrtf(vec_dot(x, x, k, nregs));
				float		sd = dn > 0 ? eps / dn : 0;
				float		sx = xn > 0 ? 2 * eps / xn : 0;
				float		za;

				vec_add_scaled(xadv, x, -sd, d, k, nregs);
				vec_add_scaled(dadv, d, -sx, x, k, nregs);
				za = vec_dot(xadv, dadv, k, nregs) + run->bias[i] - run->bias[j];
				ga = sigmoid_neg(za);
				if (run->track_loss)
					loss += weight * triple_loss(za, ga);
				ga *= weight;
				work += 4 * k;
			}
			/* descend from the old values: x_u's step uses d, the items' x_u */
			triple_step(x, yi, yj, d, shrink, lr * g, k, nregs);
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
	if (run->track_loss)
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

double
rs_bpr_max_row_norm(const float *v, int64_t n, int k)
{
	double		max = 0;

	for (int64_t r = 0; r < n; r++)
	{
		double		sum = 0;

		for (int a = 0; a < k; a++)
			sum += (double) v[r * k + a] * v[r * k + a];
		/* NaN at once: a later finite row must not replace it */
		if (isnan(sum))
			return sum;
		if (sum > max * max)
			max = sqrt(sum);
	}
	return max;
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

/* Whether j is in the ascending list items[0 .. n). */
static inline bool
list_has(const int32_t *items, int32_t n, int32_t j)
{
	int32_t		lo = 0;
	int32_t		hi = n;

	while (lo < hi)
	{
		int32_t		mid = lo + (hi - lo) / 2;

		if (items[mid] < j)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && items[lo] == j;
}

int
rs_bpr_fold_in(const float *Y, const float *bias, int32_t n_items, int k,
			   const int32_t *items, const float *weight, int32_t n,
			   float learning_rate, float reg, uint64_t seed, int epoch_begin,
			   int epoch_end, float *x)
{
	uint64_t	stream = rs_rng_mix64(seed ^ CELL_STREAM ^ USER_BLOCK_STREAM);
	float		shrink = 1.0f - learning_rate * reg;
	float		d[RS_BPR_MAX_FACTORS];

	if (k < 1 || k > RS_BPR_MAX_FACTORS || n < 0 || n > n_items || epoch_begin < 0)
		return RS_BPR_ERR_ARGUMENT;
	if (n == 0 || n == n_items)
		return RS_BPR_OK;		/* nothing to rank against */
	for (int e = epoch_begin; e < epoch_end; e++)
		for (int32_t t = 0; t < n; t++)
		{
			uint64_t	draw = ((uint64_t) e * (uint64_t) n + (uint64_t) t) * DRAWS_PER_TRIPLE;
			int32_t		at = (int32_t) draw_below(rs_rng_u64(stream, draw++), n);
			int32_t		i = items[at];
			int32_t		j = -1;
			float		z,
						g;

			for (int tries = 0; tries < RS_BPR_NEGATIVE_TRIES && j < 0; tries++)
			{
				int32_t		c = (int32_t) draw_below(rs_rng_u64(stream, draw++), n_items);

				if (!list_has(items, n, c))
					j = c;
			}
			if (j < 0)
				continue;
			z = bias[i] - bias[j];
			for (int f = 0; f < k; f++)
			{
				d[f] = Y[(int64_t) i * k + f] - Y[(int64_t) j * k + f];
				z += x[f] * d[f];
			}
			g = sigmoid_neg(z);
			if (weight)
				g *= weight[at];
			for (int f = 0; f < k; f++)
				x[f] = shrink * x[f] + learning_rate * g * d[f];
		}
	return RS_BPR_OK;
}

/* The users' refit (rs_bpr_refit_users): shared by its threads. */
typedef struct BprRefit
{
	const float *Y;
	const float *bias;
	const RsCsr *R;
	int			k;
	const float *weight;
	float		learning_rate;
	float		reg;
	uint64_t	seed;
	int			epochs;
	float	   *X;
	int64_t		next_user;		/* the next user to take (rs_threads_grab) */
	int			stopped;		/* set by the caller's thread on a stop */
	RsStopFn	stop;
	void	   *stop_arg;
} BprRefit;

typedef struct BprRefitWorker
{
	BprRefit   *par;
	bool		is_caller;		/* only the calling thread asks stop */
} BprRefitWorker;

/* Users a thread takes at a time: few, so the threads end together. */
#define REFIT_GRAB 8

/*
 * Take users until none is left or a stop; each user's epochs run in
 * chunks of about RS_STOP_WORK multiply-adds, between which the caller's
 * thread asks stop and the others look whether it said so (the chunks do
 * not change the vector: rs_bpr_fold_in).
 */
static void *
bpr_refit_worker(void *arg)
{
	BprRefitWorker *w = arg;
	BprRefit   *par = w->par;
	const RsCsr *R = par->R;
	RsStopClock clock = rs_stop_clock(par->stop, par->stop_arg);
	int64_t		begin;
	int64_t		end;

	while (!__atomic_load_n(&par->stopped, __ATOMIC_RELAXED) &&
		   rs_threads_grab(&par->next_user, REFIT_GRAB, R->n_rows, &begin, &end))
		for (int64_t u = begin; u < end; u++)
		{
			float	   *x = par->X + u * par->k;
			int32_t		n = (int32_t) (R->indptr[u + 1] - R->indptr[u]);
			int64_t		epoch_work = (int64_t) (n > 0 ? n : 1) * par->k * 4;
			int			chunk = (int) (RS_STOP_WORK / epoch_work > 0 ? RS_STOP_WORK / epoch_work : 1);

			memset(x, 0, sizeof(float) * par->k);
			for (int e = 0; e < par->epochs; e += chunk)
			{
				int			e_end = par->epochs - e > chunk ? e + chunk : par->epochs;

				rs_bpr_fold_in(par->Y, par->bias, R->n_cols, par->k, R->indices + R->indptr[u],
							   par->weight ? par->weight + R->indptr[u] : NULL, n,
							   par->learning_rate, par->reg, par->seed, e, e_end, x);
				if (w->is_caller ? rs_stop_tick(&clock, epoch_work * (e_end - e)) :
					__atomic_load_n(&par->stopped, __ATOMIC_RELAXED))
				{
					__atomic_store_n(&par->stopped, 1, __ATOMIC_RELAXED);
					return NULL;
				}
			}
		}
	return NULL;
}

int
rs_bpr_refit_users(const float *Y, const float *bias, const RsCsr *R, int k,
				   const float *weight, float learning_rate, float reg, uint64_t seed,
				   int epochs, float *X, int nthreads, RsStopFn stop, void *stop_arg)
{
	BprRefit	par = {Y, bias, R, k, weight, learning_rate, reg, seed, epochs, X, 0, 0,
	stop, stop_arg};
	BprRefitWorker workers[RS_THREADS_MAX];
	int			status;

	if (k < 1 || k > RS_BPR_MAX_FACTORS || epochs < 0 || R->n_rows < 0)
		return RS_BPR_ERR_ARGUMENT;
	for (int64_t u = 0; u < R->n_rows; u++)
	{
		int64_t		n = R->indptr[u + 1] - R->indptr[u];

		if (n < 0 || n > R->n_cols)
			return RS_BPR_ERR_ARGUMENT;
	}
	if (nthreads > RS_THREADS_MAX)
		nthreads = RS_THREADS_MAX;
	if ((int64_t) nthreads > (R->n_rows + REFIT_GRAB - 1) / REFIT_GRAB)
		nthreads = (int) ((R->n_rows + REFIT_GRAB - 1) / REFIT_GRAB);
	if (nthreads < 1)
		nthreads = 1;
	for (int t = 0; t < nthreads; t++)
	{
		workers[t].par = &par;
		workers[t].is_caller = t == 0;
	}
	status = rs_threads_run(nthreads, bpr_refit_worker, workers, sizeof(BprRefitWorker));
	if (par.stopped)
		return RS_BPR_STOPPED;
	return status == RS_THREADS_OK ? RS_BPR_OK : RS_BPR_ERR_THREAD;
}
