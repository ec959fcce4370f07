/*-------------------------------------------------------------------------
 *
 * als_rows.h
 *		What the ALS kernels (als.c) and the Gibbs sampler (gibbs.c) share:
 *		the parallel row runner and the explicit row system.
 *
 * An explicit row, with y~_i = (y_i, 1) and target t_i = r_i - mu - b_i,
 * accumulates sum_i y~_i y~_i^T and sum_i t_i y~_i in float tiles of
 * EXPLICIT_TILE rows (so no float sum runs over more than a tile) into a
 * double matrix; ALS solves that system by Cholesky (cholesky_solve), the
 * sampler adds its prior and draws from it.  The bodies are always-inline,
 * so each file's per-ISA instantiations get them with k as a constant.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_ALS_ROWS_H
#define RECSYS_KERNEL_ALS_ROWS_H

#include "als.h"
#include "simd.h"

/* Rows per tile in the explicit accumulation. */
#define EXPLICIT_TILE		128

/* A row-range worker: ctx is the caller's job; ws its thread's scratch. */
typedef int (*RsRowsFn) (const void *ctx, int32_t begin, int32_t end,
						 float *ws);

/*
 * Carve a thread's scratch (explicit_thread_floats(k) floats) for one
 * explicit row of k1 <= k + 1 unknowns, kp = ROUND_UP(k1, 16): the double
 * system A, rhs, the float tile system At, bt, the tile V and targets T.
 */
RS_INLINE void
explicit_scratch(float *ws, int k, int kp, double **A, double **rhs,
				 float **At, float **bt, float **V, float **T)
{
	*A = (double *) ws;
	*rhs = *A + (size_t) (k + 1) * (k + 1);
	*At = ws + 2 * ((size_t) (k + 1) * (k + 1) + ROUND_UP((size_t) k + 1, 8));
	*bt = *At + (size_t) kp * kp;
	*V = *bt + kp;
	*T = *V + (size_t) EXPLICIT_TILE * kp;
}

/*
 * Define NAME(job, k, nregs, begin, end, ws), always inline: SOLVE_ROW
 * (job, k, nregs, u, ws) for each row u of [begin, end), stopping at the
 * first row that fails.
 */
#define RS_DEFINE_ROWS_BODY(NAME, JOB, SOLVE_ROW) \
RS_INLINE int \
NAME(const JOB *job, const int k, const int nregs, int32_t begin, int32_t end, \
	 float *ws) \
{ \
	for (int32_t u = begin; u < end; u++) \
	{ \
		int			status = SOLVE_ROW(job, k, nregs, u, ws); \
\
		if (status != RS_ALS_OK) \
			return status; \
	} \
	return RS_ALS_OK; \
}

/*
 * Define the row worker NAME_SUFFIX (an RsRowsFn) for one build of
 * simd.h: ctx is a JOB whose KFIELD is k, and BODY (from
 * RS_DEFINE_ROWS_BODY) is instantiated with k = K1 .. K4 as compile-time
 * constants (the loops unroll and keep vectors in registers), any other k
 * at run time.
 */
#define RS_DEFINE_ROWS_FN(NAME, SUFFIX, ATTRS, NREGS, JOB, KFIELD, BODY, K1, K2, K3, K4) \
static ATTRS int \
NAME##_##SUFFIX(const void *ctx, int32_t begin, int32_t end, float *ws) \
{ \
	const JOB  *job = (const JOB *) ctx; \
	switch (job->KFIELD) \
	{ \
		case K1: return BODY(job, K1, NREGS, begin, end, ws); \
		case K2: return BODY(job, K2, NREGS, begin, end, ws); \
		case K3: return BODY(job, K3, NREGS, begin, end, ws); \
		case K4: return BODY(job, K4, NREGS, begin, end, ws); \
		default: return BODY(job, job->KFIELD, NREGS, begin, end, ws); \
	} \
}

/*
 * Run fn over rows [begin, end) on nthreads threads, each with its own
 * slice of per_thread floats of the workspace (als.c).
 */
extern int	rs_als_run_rows(RsRowsFn fn, const void *ctx, int32_t begin, int32_t end,
							int nthreads, float *workspace, size_t per_thread);

/* The argument checks every row update shares (als.c). */
extern bool rs_als_update_args_ok(const RsCsr *R, const float *Y, float *X, int k,
								  int32_t row_begin, int32_t row_end,
								  int nthreads, const float *workspace);

/*
 * A[a, c] += sum_j B[j, a] V[j, c] for the upper triangle by blocks
 * (a in blocks of 4 rows; c from the 16-column block holding a onwards)
 * of a kp x kp row-major A, over the n rows of two n x kp tiles B and V
 * (kp a multiple of 16).  With B = V this is a symmetric rank-n update;
 * with B the weighted copy of V, it is V^T W V.  Each 4 x 16 block of A
 * lives in eight vector registers for the whole tile; narrow targets
 * (nregs < 16) do plain row updates instead.
 */
RS_INLINE void
rank_update_upper(float *A, const float *B, const float *V, int n, int kp,
				  const int nregs)
{
	const int	height = 4;
	int			a0,
				c0,
				j,
				i;

	if (nregs < 16)
	{
		for (j = 0; j < n; j++)
			for (i = 0; i < kp; i++)
			{
				c0 = i - i % RS_VLEN;
				vec_axpy(A + (size_t) i * kp + c0, B[(size_t) j * kp + i],
						 V + (size_t) j * kp + c0, kp - c0, nregs);
			}
		return;
	}
	for (a0 = 0; a0 < kp; a0 += height)
	{
		for (c0 = a0 - a0 % (2 * RS_VLEN); c0 < kp; c0 += 2 * RS_VLEN)
		{
			RsVec		acc[4][2],
						v0,
						v1;

			memset(acc, 0, sizeof(acc));
			for (j = 0; j < n; j++)
			{
				const float *brow = B + (size_t) j * kp + a0;
				const float *vrow = V + (size_t) j * kp + c0;

				VLOAD(v0, vrow);
				VLOAD(v1, vrow + RS_VLEN);
#pragma GCC unroll 4
				for (i = 0; i < height; i++)
				{
					RsVec		bi = VSPLAT(brow[i]);

					acc[i][0] += bi * v0;
					acc[i][1] += bi * v1;
				}
			}
#pragma GCC unroll 4
			for (i = 0; i < height; i++)
			{
				float	   *arow = A + (size_t) (a0 + i) * kp + c0;
				RsVec		cur;

				VLOAD(cur, arow);
				cur += acc[i][0];
				VSTORE(arow, cur);
				VLOAD(cur, arow + RS_VLEN);
				cur += acc[i][1];
				VSTORE(arow + RS_VLEN, cur);
			}
		}
	}
}


/* Everything an explicit row update reads, shared by all threads. */
typedef struct ExplicitJob
{
	const RsCsr *R;
	const float *Y;
	const float *ybias;
	float		mu;
	float	   *X;
	float	   *xbias;
	int			k;
	float		reg;
	float		reg_bias;
	bool		weighted_reg;
} ExplicitJob;

/* Floats of per-thread scratch for the explicit solver. */
static inline size_t
explicit_thread_floats(int k)
{
	size_t		k1 = (size_t) k + 1;
	size_t		kp = ROUND_UP(k1, 16);

	/* double A and rhs (2 floats each); float tile A, rhs; tile; targets */
	return 2 * (k1 * k1 + ROUND_UP(k1, 8)) + kp * kp + kp +
		EXPLICIT_TILE * kp + EXPLICIT_TILE;
}


/*
 * Solve (U^T U) z = rhs in place for a symmetric positive definite n x n
 * row-major double matrix A whose upper triangle is overwritten by U.
 * Every inner loop is a contiguous axpy on a row of U (or independent
 * scalar updates), so nothing waits on a long chain of dependent adds.
 * Returns false if a pivot is not positive (or not a number).
 */
RS_INLINE bool
cholesky_solve(double *A, double *rhs, int n, const int nregs)
{
	int			i,
				j,
				c;

	/* right-looking factorisation: row j of U, then the trailing update */
	for (j = 0; j < n; j++)
	{
		double	   *uj = A + (size_t) j * n;
		double		d = uj[j];
		double		inv;

		if (!(d > 0.0) || !isfinite(d))
			return false;
		d = sqrt(d);
		uj[j] = d;
		inv = 1.0 / d;
		for (c = j + 1; c < n; c++)
			uj[c] *= inv;
		for (i = j + 1; i < n; i++)
			dvec_sub_scaled(A + (size_t) i * n + i, uj[i], uj + i, n - i, nregs);
	}
	/* U^T z' = rhs, by columns of U^T (rows of U) */
	for (i = 0; i < n; i++)
	{
		const double *ui = A + (size_t) i * n;

		rhs[i] /= ui[i];
		dvec_sub_scaled(rhs + i + 1, rhs[i], ui + i + 1, n - i - 1, nregs);
	}
	/* U z = z', by columns of U */
	for (i = n - 1; i >= 0; i--)
	{
		rhs[i] /= A[(size_t) i * n + i];
		for (j = 0; j < i; j++)
			rhs[j] -= A[(size_t) j * n + i] * rhs[i];
	}
	return true;
}

/*
 * Copy entries [t0, t0 + tn) of a row into the tile: V gets (y_i, 1) (or
 * y_i without a bias), zero-padded to kp columns, and T the targets
 * r - mu - b_i.
 */
RS_INLINE void
explicit_gather_tile(const ExplicitJob *job, const int k, const int32_t *idx,
					 const float *val, int64_t n, int64_t t0, int tn,
					 bool has_bias, int kp, float *V, float *T)
{
	const float *Y = job->Y;
	const float *ybias = job->ybias;
	int			t,
				c;

	for (t = 0; t < tn; t++)
	{
		int32_t		i = idx[t0 + t];
		float	   *vrow = V + (size_t) t * kp;

		if (t0 + t + PREFETCH_AHEAD < n)
			prefetch_row(Y + (size_t) idx[t0 + t + PREFETCH_AHEAD] * k, k);
		memcpy(vrow, Y + (size_t) i * k, sizeof(float) * k);
		for (c = k; c < kp; c++)
			vrow[c] = 0.0f;
		if (has_bias)
			vrow[k] = 1.0f;
		T[t] = val[t0 + t] - job->mu - (ybias ? ybias[i] : 0.0f);
	}
}

/*
 * The upper triangle of A = sum_i v_i v_i^T (k1 x k1, doubles) and
 * rhs = sum_i t_i v_i over a row's n entries, accumulated in float tiles
 * of EXPLICIT_TILE entries (At, bt, V, T: the tile scratch).
 */
RS_INLINE void
explicit_accumulate(const ExplicitJob *job, const int k, const int nregs,
					const int32_t *idx, const float *val, int64_t n,
					bool has_bias, double *A, double *rhs, float *At,
					float *bt, float *V, float *T)
{
	int			k1 = k + (has_bias ? 1 : 0);
	int			kp = ROUND_UP(k1, 16);
	int64_t		t0;
	int			a,
				c;

	memset(A, 0, sizeof(double) * k1 * k1);
	memset(rhs, 0, sizeof(double) * k1);
	for (t0 = 0; t0 < n; t0 += EXPLICIT_TILE)
	{
		int			tn = n - t0 < EXPLICIT_TILE ? (int) (n - t0) : EXPLICIT_TILE;
		int			t;

		explicit_gather_tile(job, k, idx, val, n, t0, tn, has_bias, kp, V, T);
		memset(At, 0, sizeof(float) * kp * kp);
		memset(bt, 0, sizeof(float) * kp);
		for (t = 0; t < tn; t++)
			vec_axpy(bt, T[t], V + (size_t) t * kp, kp, nregs);
		rank_update_upper(At, V, V, tn, kp, nregs);
		for (a = 0; a < k1; a++)
		{
			for (c = a; c < k1; c++)
				A[(size_t) a * k1 + c] += At[(size_t) a * kp + c];
			rhs[a] += bt[a];
		}
	}
}


#endif							/* RECSYS_KERNEL_ALS_ROWS_H */
