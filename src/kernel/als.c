/*-------------------------------------------------------------------------
 *
 * als.c
 *		Alternating least squares kernels: seeded initialisation, Gram
 *		matrices, implicit ALS by conjugate gradient, explicit biased ALS by
 *		Cholesky, and the loss/RMSE helpers.  See als.h for the models; the
 *		Gibbs sampler is gibbs.c, the vector helpers and the instruction-set
 *		dispatch simd.h/simd.c, the explicit row system als_rows.h.
 *
 * Implicit rows (Hu, Koren and Volinsky 2008; CG variant of Takacs,
 * Pilaszy and Tikk 2011, as in the `implicit` library's _solve_cg): with
 * w_i = c_i - 1 = alpha |r_i| and A = YtY + reg I + sum_i w_i y_i y_i^T,
 *		r  = sum_i (c_i p_i - w_i (y_i.x)) y_i - (YtY + reg I) x
 * then cg_steps CG iterations, each needing one product
 *		A p = (YtY + reg I) p + sum_i w_i (y_i.p) y_i.
 * The residual pass copies the row's y_i (up to gather_rows of them, a
 * tile that fits a core's L2 cache) into a contiguous tile, so that the
 * cg_steps passes read cache-resident memory instead of scattered rows of
 * Y; the rest of a longer row (a popular item's users) is read in place,
 * with software prefetch.  Each pass fuses the dot product and the axpy of
 * every y_i, with the k outputs held in registers.  (Building A explicitly
 * for long rows, k^2/2 flops per entry instead of 8k, measured slower.)
 *
 * Explicit rows: with y~_i = (y_i, 1) and target t_i = r_i - mu - b_i,
 *		(sum_i y~_i y~_i^T + diag(reg, ..., reg, reg_bias)) (x, b_u)
 *			= sum_i t_i y~_i
 * accumulated in float tiles of EXPLICIT_TILE rows (so no float sum runs
 * over more than a tile) into a double matrix that is factorised by an
 * in-place Cholesky (als_rows.h, shared with the Gibbs sampler).
 *
 * Performance notes.  The hot loops use the vector helpers of simd.h;
 * each row kernel is instantiated for common k (compile-time constants
 * let the loops unroll and keep vectors in registers) and per instruction
 * set (RS_SIMD_INSTANTIATE), the build chosen at run time by the CPU
 * (rs_simd_isa).  The choice never depends on nthreads, so results stay
 * bit-identical across thread counts.  Threads
 * take chunks of rows from an atomic counter; each row is computed by one
 * thread with no cross-row reduction.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "als_rows.h"
#include "rng.h"
#include "threads.h"

/* Upper bound on floats gathered per implicit row (fits a core's L2). */
#define IMPLICIT_GATHER_FLOATS	(64 * 1024)
/* CG stops early once |r|^2 falls below this, as in `implicit`. */
#define CG_EPSILON			1e-20f
/*
 * Rows handed to a thread at a time (fewer when a call has fewer than
 * that per thread: at 1,024 factors the caller passes a few rows a call).
 */
#define ROWS_PER_GRAB		32
/* At least this many grabs per thread in a range, if it has the rows. */
#define GRABS_PER_THREAD	8
/* Rows of the implicit loss per stop check (two doubles each on the stack). */
#define LOSS_CHUNK_ROWS		4096

/*
 * out += sum_j w_j (g_j . p) g_j over n rows g_j: either the rows of a
 * contiguous n x k tile G with weights W (indirect = false), or the rows
 * Y[idx[j]] with weights alpha |val[j]| scale read in place (indirect =
 * true; scale is 1 but for weighted columns, see ImplicitJob).
 * When k is a multiple of 8 and k / 8 vectors fit in half the registers,
 * the accumulator stays in registers across the rows.
 */
RS_INLINE void
accumulate_weighted_rows(const float *G, const float *W,
						 const float *Y, const int32_t *idx,
						 const float *val, float alpha, float scale,
						 const bool indirect, int64_t n, const float *p,
						 float *out, int k, const int nregs)
{
	int64_t		j;

#define ROW_J	(indirect ? Y + (size_t) idx[j] * k : G + j * k)
#define WEIGHT_J (indirect ? alpha * fabsf(val[j]) * scale : W[j])

	if (nregs >= 16 && k % RS_VLEN == 0 && k / RS_VLEN <= nregs / 2 &&
		k <= 16 * RS_VLEN)
	{
		RsVec		acc[16],
					g;
		int			nv = k / RS_VLEN,
					l;

		memset(acc, 0, sizeof(acc));	/* only acc[0 .. nv) are used */
#pragma GCC unroll 16
		for (l = 0; l < nv; l++)
			VLOAD(acc[l], out + l * RS_VLEN);
		for (j = 0; j < n; j++)
		{
			const float *gj = ROW_J;
			RsVec		s;

			if (indirect && j + PREFETCH_AHEAD < n)
				prefetch_row(Y + (size_t) idx[j + PREFETCH_AHEAD] * k, k);
			s = VSPLAT(WEIGHT_J * vec_dot(gj, p, k, nregs));
#pragma GCC unroll 16
			for (l = 0; l < nv; l++)
			{
				VLOAD(g, gj + l * RS_VLEN);
				acc[l] += s * g;
			}
		}
#pragma GCC unroll 16
		for (l = 0; l < nv; l++)
			VSTORE(out + l * RS_VLEN, acc[l]);
	}
	else
	{
		for (j = 0; j < n; j++)
		{
			const float *gj = ROW_J;

			if (indirect && j + PREFETCH_AHEAD < n)
				prefetch_row(Y + (size_t) idx[j + PREFETCH_AHEAD] * k, k);
			vec_axpy(out, WEIGHT_J * vec_dot(gj, p, k, nregs), gj, k, nregs);
		}
	}
#undef ROW_J
#undef WEIGHT_J
}


/* ----------------------------------------------------------------------
 * Implicit ALS row solver
 * ----------------------------------------------------------------------
 */

/* Everything an implicit row update reads, shared by all threads. */
typedef struct ImplicitJob
{
	const RsCsr *R;
	const float *Y;
	const float *YtY;
	float	   *X;
	int			k;
	float		reg;
	float		reg_exponent;	/* 0: reg for every row */
	float		alpha;
	/*
	 * Columns [weighted_from, n_cols) enter the loss times column_weight
	 * and are not counted by the frequency scaling (weighted collective
	 * factorisation, als.h); weighted_from = n_cols: plain ALS.
	 */
	int32_t		weighted_from;
	float		column_weight;
	int			cg_steps;
	int64_t		gather_rows;	/* entries of a row copied to the tile */
} ImplicitJob;

/* Rows of k floats that one implicit row may gather into its tile. */
static int64_t
implicit_gather_rows(int k)
{
	int64_t		rows = IMPLICIT_GATHER_FLOATS / k;

	return rows < 64 ? 64 : rows;
}

/* Floats of per-thread scratch for the implicit solver. */
static size_t
implicit_thread_floats(int k)
{
	size_t		kp = ROUND_UP((size_t) k, 16);
	size_t		rows = (size_t) implicit_gather_rows(k);

	/* r, p, Ap; weights; gathered tile */
	return 3 * kp + ROUND_UP(rows, 16) + rows * k;
}

/*
 * Update row u of X.  ws holds implicit_thread_floats(k) floats, 64-byte
 * aligned.  The first min(n, gather_rows) entries' y_i are copied to the
 * tile G during the residual pass; any further ones (a popular item's
 * long tail of users) are read in place on every pass.
 */
RS_INLINE int
implicit_solve_row(const ImplicitJob *job, const int k, const int nregs,
				   int32_t u, float *ws)
{
	const RsCsr *R = job->R;
	int64_t		start = R->indptr[u];
	int64_t		n = R->indptr[u + 1] - start;
	const int32_t *idx = R->indices + start;
	const float *val = R->data + start;
	const float *Y = job->Y;
	float		alpha = job->alpha;
	float	   *x = job->X + (size_t) u * k;
	size_t		kp = ROUND_UP((size_t) k, 16);
	int64_t		n_gathered = n < job->gather_rows ? n : job->gather_rows;
	float	   *r = ws;
	float	   *p = r + kp;
	float	   *Ap = p + kp;
	float	   *W = Ap + kp;
	float	   *G = W + ROUND_UP((size_t) job->gather_rows, 16);
	float		rsold,
				rsnew,
				pAp,
				step;
	float		reg = job->reg;
	/* sum over all pairs of c (of the unweighted columns) */
	double		confidence = (double) job->weighted_from;
	int64_t		n_plain = n;	/* entries before the weighted columns */
	float		cw = 1.0f;
	int64_t		j;
	int			it;

	if (n == 0)
	{
		memset(x, 0, sizeof(float) * k);
		return RS_ALS_OK;
	}
	if (job->weighted_from < R->n_cols)
	{
		/* the weighted columns are the row's tail (columns ascending) */
		while (n_plain > 0 && idx[n_plain - 1] >= job->weighted_from)
			n_plain--;
		for (j = 0; j < n_plain; j++)
			if (idx[j] >= job->weighted_from)
				return RS_ALS_ERR_ARGUMENT;
		cw = job->column_weight;
	}

	/*
	 * r = b - A x = sum_j (c_j p_j - w_j (y_j . x)) y_j - (YtY + reg I) x,
	 * gathering y_j and w_j on the way.
	 */
	memset(r, 0, sizeof(float) * k);
	for (j = 0; j < n; j++)
	{
		const float *y = Y + (size_t) idx[j] * k;
		/* s = 1 (exactly as plain ALS) but for a weighted column */
		float		s = j < n_plain ? 1.0f : cw;
		float		w = alpha * fabsf(val[j]) * s;
		float		cp = val[j] > 0.0f ? s + w : 0.0f;

		if (j + PREFETCH_AHEAD < n)
			prefetch_row(Y + (size_t) idx[j + PREFETCH_AHEAD] * k, k);
		if (j < n_gathered)
		{
			memcpy(G + j * k, y, sizeof(float) * k);
			W[j] = w;
		}
		if (j < n_plain)
			confidence += w;
		vec_axpy(r, cp - w * vec_dot(y, x, k, nregs), y, k, nregs);
	}
	if (job->reg_exponent != 0.0f)
		reg = (float) (reg * pow(confidence, job->reg_exponent));
	sym_matvec(job->YtY, x, reg, Ap, k, nregs);
	vec_axpy(r, -1.0f, Ap, k, nregs);

	/* conjugate gradient from the current x */
	memcpy(p, r, sizeof(float) * k);
	rsold = vec_dot(r, r, k, nregs);
	if (rsold < CG_EPSILON)
		return RS_ALS_OK;
	for (it = 0; it < job->cg_steps; it++)
	{
		/* Ap = (YtY + reg I) p + sum_j w_j (y_j . p) y_j */
		sym_matvec(job->YtY, p, reg, Ap, k, nregs);
		accumulate_weighted_rows(G, W, NULL, NULL, NULL, 0.0f, 1.0f, false,
								 n_gathered, p, Ap, k, nregs);
		if (n_plain > n_gathered)
			accumulate_weighted_rows(NULL, NULL, Y, idx + n_gathered,
									 val + n_gathered, alpha, 1.0f, true,
									 n_plain - n_gathered, p, Ap, k, nregs);
		if (n > n_plain && n > n_gathered)
		{
			int64_t		from = n_plain > n_gathered ? n_plain : n_gathered;

			accumulate_weighted_rows(NULL, NULL, Y, idx + from, val + from,
									 alpha, cw, true, n - from, p, Ap, k, nregs);
		}

		pAp = vec_dot(p, Ap, k, nregs);
		/* A is positive definite unless reg = 0 or inputs are not finite */
		if (!(pAp > 0.0f) || !isfinite(pAp))
			return RS_ALS_ERR_NOT_PD;
		step = rsold / pAp;
		vec_axpy(x, step, p, k, nregs);
		vec_axpy(r, -step, Ap, k, nregs);
		rsnew = vec_dot(r, r, k, nregs);
		if (rsnew < CG_EPSILON)
			break;
		vec_xpby(p, r, rsnew / rsold, k, nregs);
		rsold = rsnew;
	}
	return RS_ALS_OK;
}

RS_DEFINE_ROWS_BODY(implicit_rows_body, ImplicitJob, implicit_solve_row)

/* ----------------------------------------------------------------------
 * Explicit ALS row solver
 * ----------------------------------------------------------------------
 */

/*
 * Update row u of X (and xbias); ws is 64-byte aligned scratch.
 *
 * With D = diag(lambda, ..., lambda, lambda_bias), the row solves
 * (V^T V + D) z = V^T t.  A row with fewer entries n than unknowns k1 (most
 * users) is solved in its n-dimensional dual form instead,
 *		z = D^-1 V^T s  where  (V D^-1 V^T + I) s = t,
 * the same solution (push-through identity) for an n^3/6 instead of a
 * k1^3/6 factorisation; its matrix is also better conditioned.
 */
RS_INLINE int
explicit_solve_row(const ExplicitJob *job, const int k, const int nregs,
				   int32_t u, float *ws)
{
	const RsCsr *R = job->R;
	int64_t		start = R->indptr[u];
	int64_t		n = R->indptr[u + 1] - start;
	const int32_t *idx = R->indices + start;
	const float *val = R->data + start;
	bool		has_bias = job->xbias != NULL;
	int			k1 = k + (has_bias ? 1 : 0);
	int			kp = ROUND_UP(k1, 16);
	float	   *x = job->X + (size_t) u * k;
	double	   *A,
			   *rhs;
	float	   *At,
			   *bt,
			   *V,
			   *T;
	double		lambda = job->reg,
				lambda_bias = job->reg_bias;
	int			a,
				c;

	explicit_scratch(ws, k, kp, &A, &rhs, &At, &bt, &V, &T);
	if (n == 0)
	{
		memset(x, 0, sizeof(float) * k);
		if (has_bias)
			job->xbias[u] = 0.0f;
		return RS_ALS_OK;
	}
	if (job->weighted_reg)
	{
		lambda *= (double) n;
		lambda_bias *= (double) n;
	}

	if (n < k1 && n <= EXPLICIT_TILE && lambda > 0.0 &&
		(!has_bias || lambda_bias > 0.0))
	{
		/* dual: W = V D^-1/2, (W W^T + I) s = t, z = D^-1/2 W^T s */
		int			nn = (int) n;
		float		scale = (float) (1.0 / sqrt(lambda));
		float		scale_bias = (float) (1.0 / sqrt(lambda_bias));
		int			j;

		explicit_gather_tile(job, k, idx, val, n, 0, nn, has_bias, kp, V, T);
		for (j = 0; j < nn; j++)
		{
			float	   *vrow = V + (size_t) j * kp;

			for (c = 0; c < k; c++)
				vrow[c] *= scale;
			if (has_bias)
				vrow[k] *= scale_bias;
		}
		for (a = 0; a < nn; a++)
		{
			for (c = a; c < nn; c++)
				A[(size_t) a * nn + c] = vec_dot(V + (size_t) a * kp,
												 V + (size_t) c * kp, kp, nregs);
			A[(size_t) a * nn + a] += 1.0;
			rhs[a] = T[a];
		}
		if (!cholesky_solve(A, rhs, nn, nregs))
			return RS_ALS_ERR_NOT_PD;
		for (c = 0; c < k1; c++)
		{
			double		z = 0.0;

			for (j = 0; j < nn; j++)
				z += (double) V[(size_t) j * kp + c] * rhs[j];
			if (c < k)
				x[c] = (float) (z * scale);
			else
				job->xbias[u] = (float) (z * scale_bias);
		}
		return RS_ALS_OK;
	}

	/* primal: accumulate V^T V and V^T t tile by tile, then factorise */
	explicit_accumulate(job, k, nregs, idx, val, n, has_bias, A, rhs, At, bt,
						V, T);
	for (a = 0; a < k; a++)
		A[(size_t) a * k1 + a] += lambda;
	if (has_bias)
		A[(size_t) k * k1 + k] += lambda_bias;

	if (!cholesky_solve(A, rhs, k1, nregs))
		return RS_ALS_ERR_NOT_PD;
	for (a = 0; a < k; a++)
		x[a] = (float) rhs[a];
	if (has_bias)
		job->xbias[u] = (float) rhs[k];
	return RS_ALS_OK;
}

RS_DEFINE_ROWS_BODY(explicit_rows_body, ExplicitJob, explicit_solve_row)

/* ----------------------------------------------------------------------
 * Implicit loss rows
 * ----------------------------------------------------------------------
 */

/* What a chunk of implicit-loss rows reads and where its sums go. */
typedef struct LossJob
{
	const RsCsr *R;
	const float *X;
	const float *Y;
	const float *YtY;
	int			k;
	float		alpha;
	int32_t		first_row;		/* row of loss[0] and norms[0] */
	double	   *loss;			/* per row: its terms of the data loss */
	double	   *norms;			/* per row: |x_u|^2 */
} LossJob;

/*
 * The loss terms of row u: sum over all pairs of (x.y)^2 is
 * sum_u x_u^T YtY x_u; each stored entry then corrects its own term from
 * (x.y)^2 to c (p - x.y)^2.  Dot products in float, sums in double.
 */
RS_INLINE int
implicit_loss_row(const LossJob *job, const int k, const int nregs, int32_t u,
				  float *ws)
{
	const RsCsr *R = job->R;
	const float *x = job->X + (size_t) u * k;
	float		YtYx[RS_ALS_MAX_K] __attribute__((aligned(64)));
	double		loss;

	(void) ws;
	sym_matvec(job->YtY, x, 0.0f, YtYx, k, nregs);
	loss = vec_dot(YtYx, x, k, nregs);
	for (int64_t j = R->indptr[u]; j < R->indptr[u + 1]; j++)
	{
		double		v = R->data[j];
		double		conf = 1.0 + (double) job->alpha * fabs(v);
		double		pref = v > 0.0 ? 1.0 : 0.0;
		double		s = vec_dot(x, job->Y + (size_t) R->indices[j] * k, k, nregs);

		if (j + PREFETCH_AHEAD < R->indptr[u + 1])
			prefetch_row(job->Y + (size_t) R->indices[j + PREFETCH_AHEAD] * k, k);
		loss += conf * (pref - s) * (pref - s) - s * s;
	}
	job->loss[u - job->first_row] = loss;
	job->norms[u - job->first_row] = vec_dot(x, x, k, nregs);
	return RS_ALS_OK;
}

RS_DEFINE_ROWS_BODY(implicit_loss_body, LossJob, implicit_loss_row)

/* ----------------------------------------------------------------------
 * Instantiation per k and per instruction set
 * ----------------------------------------------------------------------
 */
/* implicit_rows_, explicit_rows_ and implicit_loss_rows_SUFFIX for one build. */
#define RS_DEFINE_ROW_KERNELS(SUFFIX, ATTRS, NREGS) \
	RS_DEFINE_ROWS_FN(implicit_rows, SUFFIX, ATTRS, NREGS, ImplicitJob, k, \
					  implicit_rows_body, 16, 32, 64, 128) \
	RS_DEFINE_ROWS_FN(explicit_rows, SUFFIX, ATTRS, NREGS, ExplicitJob, k, \
					  explicit_rows_body, 16, 32, 64, 128) \
	RS_DEFINE_ROWS_FN(implicit_loss_rows, SUFFIX, ATTRS, NREGS, LossJob, k, \
					  implicit_loss_body, 16, 32, 64, 128)

RS_SIMD_INSTANTIATE(RS_DEFINE_ROW_KERNELS)

/* ----------------------------------------------------------------------
 * Threads
 * ----------------------------------------------------------------------
 */

/* Shared state of one parallel row range. */
typedef struct RsParallel
{
	RsRowsFn	fn;
	const void *ctx;
	int64_t		next_row;		/* atomic: next row not yet handed out */
	int64_t		end_row;
	int64_t		grab;			/* rows handed out at a time */
	int			status;			/* atomic: first error, 0 if none */
} RsParallel;

/* One worker's share: its own scratch slice. */
typedef struct RsWorker
{
	RsParallel *par;
	float	   *ws;
} RsWorker;

/* Take chunks of rows until none are left or some row failed. */
static void *
worker_main(void *arg)
{
	RsWorker   *worker = (RsWorker *) arg;
	RsParallel *par = worker->par;
	int64_t		begin;
	int64_t		end;

	while (__atomic_load_n(&par->status, __ATOMIC_RELAXED) == 0 &&
		   rs_threads_grab(&par->next_row, par->grab, par->end_row, &begin, &end))
	{
		int			status = par->fn(par->ctx, (int32_t) begin, (int32_t) end, worker->ws);

		if (status != 0)
		{
			int			expected = 0;

			__atomic_compare_exchange_n(&par->status, &expected, status, false,
										__ATOMIC_RELAXED, __ATOMIC_RELAXED);
			break;
		}
	}
	return NULL;
}

/* Align the caller's workspace to 64 bytes (rs_als_workspace_floats has slack). */
static float *
align_workspace(float *workspace)
{
	uintptr_t	addr = (uintptr_t) workspace;

	return (float *) ((addr + 63) & ~(uintptr_t) 63);
}

/*
 * Run fn over [begin, end) on nthreads threads (the caller's included),
 * each with its own slice of per_thread floats of the workspace, through
 * rs_threads_run (signals blocked in the workers).  If a thread cannot be
 * created the others (at least the calling thread) still do all the rows,
 * and RS_ALS_ERR_THREAD is returned unless a row failed.
 */
int
rs_als_run_rows(RsRowsFn fn, const void *ctx, int32_t begin, int32_t end,
				int nthreads, float *workspace, size_t per_thread)
{
	RsParallel	par;
	float	   *ws = align_workspace(workspace);
	size_t		stride = ROUND_UP(per_thread, 16);
	bool		create_failed;

	if (nthreads > end - begin)
		nthreads = end - begin > 0 ? end - begin : 1;
	if (nthreads <= 1)
		return fn(ctx, begin, end, ws);

	par.fn = fn;
	par.ctx = ctx;
	par.next_row = begin;
	par.end_row = end;
	/*
	 * Several grabs per thread, so that a few long rows (a popular item's)
	 * do not leave one thread working alone at the end of the range.
	 */
	par.grab = (end - begin) / ((int64_t) nthreads * GRABS_PER_THREAD);
	if (par.grab > ROWS_PER_GRAB)
		par.grab = ROWS_PER_GRAB;
	if (par.grab < 1)
		par.grab = 1;
	par.status = 0;

	{
		RsWorker	workers[RS_ALS_MAX_THREADS];

		if (nthreads > RS_ALS_MAX_THREADS)
			nthreads = RS_ALS_MAX_THREADS;
		for (int t = 0; t < nthreads; t++)
		{
			workers[t].par = &par;
			workers[t].ws = ws + (size_t) t * stride;
		}
		create_failed = rs_threads_run(nthreads, worker_main, workers,
									   sizeof(RsWorker)) != RS_THREADS_OK;
	}

	if (par.status != 0)
		return par.status;
	return create_failed ? RS_ALS_ERR_THREAD : RS_ALS_OK;
}

/* ----------------------------------------------------------------------
 * Exported functions
 * ----------------------------------------------------------------------
 */

/* A static English message for a status code. */
const char *
rs_als_strerror(int status)
{
	switch (status)
	{
		case RS_ALS_OK:
			return "success";
		case RS_ALS_ERR_ARGUMENT:
			return "invalid argument to an ALS kernel";
		case RS_ALS_ERR_THREAD:
			return "could not create a worker thread";
		case RS_ALS_ERR_NOT_PD:
			return "a least-squares system is not positive definite (zero regularisation or non-finite values)";
		case RS_ALS_STOPPED:
			return "stopped by the caller";
	}
	return "unknown ALS kernel error";
}

/* alpha * max(weight, 1) * max |value|: als.h, RS_ALS_MAX_FEATURE_CONFIDENCE. */
double
rs_als_feature_confidence(float alpha, float weight, const float *values, int64_t n)
{
	double		largest = 0.0;

	for (int64_t j = 0; j < n; j++)
		if (fabs((double) values[j]) > largest)
			largest = fabs((double) values[j]);
	return (double) alpha * fmax((double) weight, 1.0) * largest;
}

/* Fill rows [row_begin, row_end) of X with uniform [0, scale) values. */
void
rs_init_factors_rows(float *X, int64_t row_begin, int64_t row_end, int k,
					 uint64_t seed, float scale)
{
	int64_t		i;

	for (i = row_begin * k; i < row_end * (int64_t) k; i++)
		X[i] = rs_rng_uniform_float(seed, (uint64_t) i) * scale;
}

/* What rs_init_factors_threads fills. */
typedef struct InitJob
{
	float	   *X;
	int			k;
	uint64_t	seed;
	float		scale;
	bool		normal;
} InitJob;

static int
init_rows(const void *arg, int32_t begin, int32_t end, float *ws)
{
	const InitJob *job = arg;

	(void) ws;
	if (job->normal)
		rs_init_normal_rows(job->X, begin, end, job->k, job->seed, job->scale);
	else
		rs_init_factors_rows(job->X, begin, end, job->k, job->seed, job->scale);
	return RS_ALS_OK;
}

/*
 * rs_init_factors_rows (normal false) or rs_init_normal_rows (normal true)
 * on nthreads threads: the same values, each a function of (seed, index).
 */
int
rs_init_factors_threads(float *X, int32_t row_begin, int32_t row_end, int k,
						uint64_t seed, float scale, bool normal, int nthreads)
{
	InitJob		job = {X, k, seed, scale, normal};
	float		no_workspace[16];

	return rs_als_run_rows(init_rows, &job, row_begin, row_end, nthreads,
						   no_workspace, 0);
}

/* Fill X with uniform [0, scale) values, a function of (seed, index) only. */
void
rs_init_factors(float *X, int64_t n, int k, uint64_t seed, float scale)
{
	rs_init_factors_rows(X, 0, n, k, seed, scale);
}

/* Fill rows [row_begin, row_end) of X with N(0, std^2) values. */
void
rs_init_normal_rows(float *X, int64_t row_begin, int64_t row_end, int k,
					uint64_t seed, float std)
{
	int64_t		i;

	for (i = row_begin * k; i < row_end * (int64_t) k; i++)
		X[i] = (float) (std * rs_rng_normal(seed, (uint64_t) i));
}

/* Fill X with N(0, std^2) values, a function of (seed, index) only. */
void
rs_init_normal(float *X, int64_t n, int k, uint64_t seed, float std)
{
	rs_init_normal_rows(X, 0, n, k, seed, std);
}

/*
 * G = Y^T Y by cblas_ssyrk (upper), then mirrored to the lower triangle.
 * The rows go through in blocks of about RS_GRAM_BLOCK_WORK multiply-adds
 * (at least RS_GRAM_MIN_BLOCK_ROWS rows), the same blocks whether or not
 * there is a stop callback, which is asked after each one.
 */
int
rs_gram(const float *Y, int64_t n, int k, float *G,
		RsStopFn stop, void *stop_arg)
{
	return rs_gram_weighted(Y, n, n, 1.0f, k, G, stop, stop_arg);
}

/*
 * G = sum of the rows' outer products, rows [first, n) times weight: the
 * upper triangle by blocks of rows (gram_blocks), then mirrored.  The
 * rows before first go through exactly as rs_gram's, so with weight 0 the
 * result is bit-identical to rs_gram of those rows (ssyrk with alpha 0
 * leaves G as it is).
 */
static int
gram_blocks(const float *Y, int64_t n, int k, float weight, float *G,
			RsStopFn stop, void *stop_arg, bool ask_at_end)
{
	int64_t		done = 0;
	int64_t		block = RS_GRAM_BLOCK_WORK / ((int64_t) k * k);

	if (block < RS_GRAM_MIN_BLOCK_ROWS)
		block = RS_GRAM_MIN_BLOCK_ROWS;
	while (done < n)
	{
		int64_t		rows = n - done < block ? n - done : block;

		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, k, (int) rows,
					weight, Y + done * k, k, 1.0f, G, k);
		done += rows;
		if ((done < n || ask_at_end) && stop != NULL && stop(stop_arg))
			return RS_ALS_STOPPED;
	}
	return RS_ALS_OK;
}

int
rs_gram_weighted(const float *Y, int64_t n, int64_t first, float weight, int k,
				 float *G, RsStopFn stop, void *stop_arg)
{
	int			a,
				c;
	int			status;

	if (k <= 0 || n < 0 || first < 0 || first > n || !(weight >= 0.0f) ||
		!isfinite(weight))
		return RS_ALS_ERR_ARGUMENT;
	memset(G, 0, sizeof(float) * k * k);
	status = gram_blocks(Y, first, k, 1.0f, G, stop, stop_arg, first < n);
	if (status == RS_ALS_OK && first < n)
		status = gram_blocks(Y + first * k, n - first, k, weight, G, stop, stop_arg, false);
	if (status != RS_ALS_OK)
		return status;
	for (a = 0; a < k; a++)
		for (c = 0; c < a; c++)
			G[a * k + c] = G[c * k + a];
	return RS_ALS_OK;
}

/* Scratch floats for either update function, nthreads slices plus slack. */
size_t
rs_als_workspace_floats(int k, int nthreads)
{
	size_t		implicit_floats,
				explicit_floats,
				per_thread;

	if (k <= 0 || k > RS_ALS_MAX_K)
		return 0;
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > RS_ALS_MAX_THREADS)
		nthreads = RS_ALS_MAX_THREADS;
	implicit_floats = implicit_thread_floats(k);
	explicit_floats = explicit_thread_floats(k);
	per_thread = implicit_floats > explicit_floats ? implicit_floats : explicit_floats;
	/* 16 floats of slack let the kernel align the workspace to 64 bytes */
	return (size_t) nthreads * ROUND_UP(per_thread, 16) + 16;
}

/* Validate what both update functions share. */
bool
rs_als_update_args_ok(const RsCsr *R, const float *Y, float *X, int k,
					  int32_t row_begin, int32_t row_end, int nthreads,
					  const float *workspace)
{
	return R != NULL && Y != NULL && X != NULL && workspace != NULL &&
		k > 0 && k <= RS_ALS_MAX_K && nthreads >= 1 &&
		row_begin >= 0 && row_begin <= row_end && row_end <= R->n_rows;
}

/* Implicit ALS update of rows [row_begin, row_end) of X. */
int
rs_als_implicit_update(const RsCsr *R, const float *Y, const float *YtY,
					   float *X, int k, float reg, float alpha, int cg_steps,
					   int32_t row_begin, int32_t row_end, int nthreads,
					   float *workspace)
{
	return rs_als_implicit_update_scaled(R, Y, YtY, X, k, reg, 0.0f, alpha, cg_steps,
										 row_begin, row_end, nthreads, workspace);
}

/* The same with each row's reg scaled by its total confidence^reg_exponent. */
int
rs_als_implicit_update_scaled(const RsCsr *R, const float *Y, const float *YtY,
							  float *X, int k, float reg, float reg_exponent,
							  float alpha, int cg_steps, int32_t row_begin,
							  int32_t row_end, int nthreads, float *workspace)
{
	return rs_als_implicit_update_weighted(R, Y, YtY, X, k, reg, reg_exponent, alpha,
										   cg_steps, NULL, row_begin, row_end, nthreads,
										   workspace);
}

/* The same with R's last columns weighted in the loss (cw; NULL: none). */
int
rs_als_implicit_update_weighted(const RsCsr *R, const float *Y, const float *YtY,
								float *X, int k, float reg, float reg_exponent,
								float alpha, int cg_steps, const RsAlsColumnWeight *cw,
								int32_t row_begin, int32_t row_end, int nthreads,
								float *workspace)
{
	ImplicitJob job;

	if (!rs_als_update_args_ok(R, Y, X, k, row_begin, row_end, nthreads, workspace) ||
		YtY == NULL || cg_steps < 1 || !(reg >= 0.0f) || !(alpha >= 0.0f) ||
		!isfinite(reg_exponent) ||
		(cw != NULL && (cw->first < 0 || cw->first > R->n_cols ||
						!(cw->weight >= 0.0f) || !isfinite(cw->weight))))
		return RS_ALS_ERR_ARGUMENT;
	if (row_begin == row_end)
		return RS_ALS_OK;

	job.R = R;
	job.Y = Y;
	job.YtY = YtY;
	job.X = X;
	job.k = k;
	job.reg = reg;
	job.reg_exponent = reg_exponent;
	job.alpha = alpha;
	job.weighted_from = cw != NULL ? cw->first : R->n_cols;
	job.column_weight = cw != NULL ? cw->weight : 1.0f;
	job.cg_steps = cg_steps;
	job.gather_rows = implicit_gather_rows(k);

	return rs_als_run_rows(RS_SIMD_SELECT(implicit_rows), &job, row_begin, row_end,
						   nthreads, workspace, implicit_thread_floats(k));
}

/* Explicit biased ALS update of rows [row_begin, row_end) of X, xbias. */
int
rs_als_explicit_update(const RsCsr *R, const float *Y, const float *ybias,
					   float mu, float *X, float *xbias, int k,
					   float reg, float reg_bias, bool weighted_reg,
					   int32_t row_begin, int32_t row_end, int nthreads,
					   float *workspace)
{
	ExplicitJob job;

	if (!rs_als_update_args_ok(R, Y, X, k, row_begin, row_end, nthreads, workspace) ||
		!(reg >= 0.0f) || !(reg_bias >= 0.0f))
		return RS_ALS_ERR_ARGUMENT;
	if (row_begin == row_end)
		return RS_ALS_OK;

	job.R = R;
	job.Y = Y;
	job.ybias = ybias;
	job.mu = mu;
	job.X = X;
	job.xbias = xbias;
	job.k = k;
	job.reg = reg;
	job.reg_bias = reg_bias;
	job.weighted_reg = weighted_reg;

	return rs_als_run_rows(RS_SIMD_SELECT(explicit_rows), &job, row_begin, row_end,
						   nthreads, workspace, explicit_thread_floats(k));
}

/*
 * Full implicit objective.  Rows go through in chunks of about
 * RS_STOP_WORK multiply-adds (the stop callback is asked between chunks,
 * from the calling thread), each chunk's rows spread over nthreads threads
 * with the CPU's vector build, like the ALS rows; every row's sums land in
 * its own slot and are added in row order, so the result does not depend
 * on nthreads.
 */
int
rs_als_implicit_loss(const RsCsr *R, const float *X, const float *Y,
					 const float *YtY, int k, float reg, float alpha,
					 int nthreads, RsStopFn stop, void *stop_arg,
					 double *result)
{
	double		row_loss[LOSS_CHUNK_ROWS];
	double		row_norms[LOSS_CHUNK_ROWS];
	LossJob		job = {R, X, Y, YtY, k, alpha, 0, row_loss, row_norms};
	double		loss = 0.0;
	double		norms = 0.0;
	int64_t		i;
	RsStopClock clock = rs_stop_clock(stop, stop_arg);

	if (k <= 0 || k > RS_ALS_MAX_K)
		return RS_ALS_ERR_ARGUMENT;
	for (int32_t begin = 0, end; begin < R->n_rows; begin = end)
	{
		int64_t		work = 0;
		int			status;
		float		no_workspace[16];

		/* a chunk: about RS_STOP_WORK multiply-adds, at most LOSS_CHUNK_ROWS */
		for (end = begin; end < R->n_rows && end - begin < LOSS_CHUNK_ROWS &&
			 work < RS_STOP_WORK; end++)
			work += (int64_t) k * (k + 2 + R->indptr[end + 1] - R->indptr[end]);
		job.first_row = begin;
		status = rs_als_run_rows(RS_SIMD_SELECT(implicit_loss_rows), &job, begin, end, nthreads,
								 no_workspace, 0);
		if (status != RS_ALS_OK)
			return status;
		for (int32_t u = begin; u < end; u++)
		{
			loss += row_loss[u - begin];
			norms += row_norms[u - begin];
		}
		if (rs_stop_tick(&clock, work))
			return RS_ALS_STOPPED;
	}
	for (i = 0; i < R->n_cols; i++)
		norms += vec_dot(Y + (size_t) i * k, Y + (size_t) i * k, k, 8);
	*result = loss + reg * norms;
	return RS_ALS_OK;
}

/* RMSE of the clipped biased prediction over R's stored entries. */
int
rs_rmse(const RsCsr *R, const float *X, const float *xbias, const float *Y,
		const float *ybias, float mu, int k, float clip_lo, float clip_hi,
		RsStopFn stop, void *stop_arg, double *result)
{
	double		sse = 0.0;
	int32_t		u;
	int64_t		j;
	RsStopClock clock = rs_stop_clock(stop, stop_arg);

	*result = 0.0;
	if (R->nnz == 0)
		return RS_ALS_OK;
	for (u = 0; u < R->n_rows; u++)
	{
		const float *x = X + (size_t) u * k;

		for (j = R->indptr[u]; j < R->indptr[u + 1]; j++)
		{
			int32_t		i = R->indices[j];
			const float *y = Y + (size_t) i * k;
			double		pred = mu;
			double		err;

			if (xbias)
				pred += xbias[u];
			if (ybias)
				pred += ybias[i];
			pred += vec_dot(x, y, k, 8);
			if (pred < clip_lo)
				pred = clip_lo;
			if (pred > clip_hi)
				pred = clip_hi;
			err = pred - R->data[j];
			sse += err * err;
		}
		if (rs_stop_tick(&clock, (int64_t) k * (1 + R->indptr[u + 1] - R->indptr[u])))
			return RS_ALS_STOPPED;
	}
	*result = sqrt(sse / (double) R->nnz);
	return RS_ALS_OK;
}
