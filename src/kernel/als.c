/*-------------------------------------------------------------------------
 *
 * als.c
 *		Alternating least squares kernels: seeded initialisation, Gram
 *		matrices, implicit ALS by conjugate gradient, explicit biased ALS by
 *		Cholesky, Bayesian explicit MF by Gibbs sampling, and the loss/RMSE
 *		helpers.  See als.h for the models.
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
 * in-place Cholesky.  The Gibbs sampler accumulates the same sums, forms
 * P = alpha sum_i y~_i y~_i^T + Lambda (a full prior precision) and
 * b = alpha sum_i t_i y~_i + Lambda m, factorises P = U^T U and returns
 * P^-1 b + U^-1 z for seeded standard normals z (Box-Muller on the
 * counter-based generator of rng.h).
 *
 * Performance notes.  The hot loops use GCC/Clang vector extensions (8
 * floats, one AVX register) so that they vectorise at PGXS's -O2 without
 * -march; each row kernel is instantiated for common k (compile-time
 * constants let the loops unroll and keep vectors in registers) and, on
 * x86-64, for AVX2+FMA and AVX-512 targets chosen at run time by
 * __builtin_cpu_supports.  The choice depends only on the CPU, never on
 * nthreads, so results stay bit-identical across thread counts.  Threads
 * take chunks of rows from an atomic counter; each row is computed by one
 * thread with no cross-row reduction.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "als.h"
#include "rng.h"
#include "threads.h"

/* Vectors are only ever passed to always-inline helpers: ABI notes are moot. */
#pragma GCC diagnostic ignored "-Wpsabi"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define RS_X86_DISPATCH 1
#endif

#define RS_INLINE static inline __attribute__((always_inline))

/*
 * Eight floats (four doubles): one AVX register.  Used only by the AVX
 * instantiations; the others use the native 16-byte types (see the
 * helpers below).
 */
typedef float RsVec __attribute__((vector_size(32)));
typedef double RsVecD __attribute__((vector_size(32)));
typedef float RsVec4 __attribute__((vector_size(16)));
typedef double RsVecD2 __attribute__((vector_size(16)));

#define RS_VLEN		8
#define RS_VLEN_D	4
/* Unaligned loads and stores (the compiler emits plain vector moves). */
#define VLOAD(v, p)		memcpy(&(v), (p), sizeof(v))
#define VSTORE(p, v)	memcpy((p), &(v), sizeof(v))
/* A scalar broadcast to all lanes. */
#define VSPLAT(s)		((RsVec) {(s), (s), (s), (s), (s), (s), (s), (s)})
#define VSPLAT_D(s)		((RsVecD) {(s), (s), (s), (s)})
/* Horizontal sum in a fixed pairwise order. */
#define VHSUM(v) \
	((((v)[0] + (v)[4]) + ((v)[1] + (v)[5])) + (((v)[2] + (v)[6]) + ((v)[3] + (v)[7])))

/* 2 pi, for the Box-Muller normal draws. */
#define RS_TWO_PI			6.283185307179586476925
/* Rows per tile in the explicit solver's accumulation. */
#define EXPLICIT_TILE		128
/* Upper bound on floats gathered per implicit row (fits a core's L2). */
#define IMPLICIT_GATHER_FLOATS	(64 * 1024)
/* CG stops early once |r|^2 falls below this, as in `implicit`. */
#define CG_EPSILON			1e-20f
/*
 * Rows handed to a thread at a time (fewer when a call has fewer than
 * that per thread: at 1,024 factors the caller passes a few rows a call).
 */
#define ROWS_PER_GRAB		32
/* Software prefetch distance, in rows of Y, for the scattered gather. */
#define PREFETCH_AHEAD		8

/* Round n up to a multiple of m. */
#define ROUND_UP(n, m)		((((n) + (m) - 1) / (m)) * (m))

/* ----------------------------------------------------------------------
 * Small vector helpers (always inlined into the ISA-specific kernels)
 * ----------------------------------------------------------------------
 */

/*
 * Every helper takes nregs, the number of 8-float vectors the target keeps
 * in registers (a compile-time constant per instantiation).  Targets with
 * fewer than 16 (SSE2, NEON) use native 4-float vectors and no arrays of
 * vectors: there GCC keeps 8-float vectors in memory and builds each
 * broadcast through the stack, which made the kernels ten times slower.
 */

/* a . b over k floats, with a fixed summation order. */
RS_INLINE float
vec_dot(const float *a, const float *b, int k, const int nregs)
{
	float		sum;
	int			i;

	if (nregs < 16)
	{
		RsVec4		acc0 = {0},
					acc1 = {0},
					va,
					vb;

#pragma GCC unroll 8
		for (i = 0; i + 8 <= k; i += 8)
		{
			VLOAD(va, a + i);
			VLOAD(vb, b + i);
			acc0 += va * vb;
			VLOAD(va, a + i + 4);
			VLOAD(vb, b + i + 4);
			acc1 += va * vb;
		}
		acc0 += acc1;
		sum = (acc0[0] + acc0[2]) + (acc0[1] + acc0[3]);
	}
	else
	{
		RsVec		acc0 = {0},
					acc1 = {0},
					va,
					vb;

#pragma GCC unroll 16
		for (i = 0; i + 2 * RS_VLEN <= k; i += 2 * RS_VLEN)
		{
			VLOAD(va, a + i);
			VLOAD(vb, b + i);
			acc0 += va * vb;
			VLOAD(va, a + i + RS_VLEN);
			VLOAD(vb, b + i + RS_VLEN);
			acc1 += va * vb;
		}
		if (i + RS_VLEN <= k)
		{
			VLOAD(va, a + i);
			VLOAD(vb, b + i);
			acc0 += va * vb;
			i += RS_VLEN;
		}
		acc0 += acc1;
		sum = VHSUM(acc0);
	}
	for (; i < k; i++)
		sum += a[i] * b[i];
	return sum;
}

/* y += s * x over k floats. */
RS_INLINE void
vec_axpy(float *y, float s, const float *x, int k, const int nregs)
{
	int			i;

	if (nregs < 16)
	{
		RsVec4		vs = {s, s, s, s},
					vx,
					vy;

#pragma GCC unroll 16
		for (i = 0; i + 4 <= k; i += 4)
		{
			VLOAD(vx, x + i);
			VLOAD(vy, y + i);
			vy += vs * vx;
			VSTORE(y + i, vy);
		}
	}
	else
	{
		RsVec		vs = VSPLAT(s),
					vx,
					vy;

#pragma GCC unroll 16
		for (i = 0; i + RS_VLEN <= k; i += RS_VLEN)
		{
			VLOAD(vx, x + i);
			VLOAD(vy, y + i);
			vy += vs * vx;
			VSTORE(y + i, vy);
		}
	}
	for (; i < k; i++)
		y[i] += s * x[i];
}

/* y = x + s * y over k floats (the CG direction update). */
RS_INLINE void
vec_xpby(float *y, const float *x, float s, int k, const int nregs)
{
	int			i;

	if (nregs < 16)
	{
		RsVec4		vs = {s, s, s, s},
					vx,
					vy;

#pragma GCC unroll 16
		for (i = 0; i + 4 <= k; i += 4)
		{
			VLOAD(vx, x + i);
			VLOAD(vy, y + i);
			vy = vx + vs * vy;
			VSTORE(y + i, vy);
		}
	}
	else
	{
		RsVec		vs = VSPLAT(s),
					vx,
					vy;

#pragma GCC unroll 16
		for (i = 0; i + RS_VLEN <= k; i += RS_VLEN)
		{
			VLOAD(vx, x + i);
			VLOAD(vy, y + i);
			vy = vx + vs * vy;
			VSTORE(y + i, vy);
		}
	}
	for (; i < k; i++)
		y[i] = x[i] + s * y[i];
}

/*
 * out = (S + reg I) v for a symmetric k x k row-major S.  With enough
 * registers, uses the column form out = sum_b v_b S[b, :] (S is symmetric)
 * with blocks of up to 64 outputs held in registers, so there is no
 * horizontal reduction.  Narrow targets (nregs < 16) take one dot product
 * per output instead.
 */
RS_INLINE void
sym_matvec(const float *S, const float *v, float reg, float *out, int k,
		   const int nregs)
{
	int			c0,
				nv,
				b,
				l,
				i;

	if (nregs < 16)
	{
		for (i = 0; i < k; i++)
			out[i] = reg * v[i] + vec_dot(S + (size_t) i * k, v, k, nregs);
		return;
	}
	for (c0 = 0; c0 + RS_VLEN <= k; c0 += nv * RS_VLEN)
	{
		RsVec		acc[8],
					row;

		/* eight independent accumulators hide the FMA latency */
		nv = (k - c0) / RS_VLEN < 8 ? (k - c0) / RS_VLEN : 8;
		memset(acc, 0, sizeof(acc));	/* only acc[0 .. nv) are used */
#pragma GCC unroll 8
		for (l = 0; l < nv; l++)
		{
			VLOAD(row, v + c0 + l * RS_VLEN);
			acc[l] = VSPLAT(reg) * row;
		}
		for (b = 0; b < k; b++)
		{
			RsVec		vb = VSPLAT(v[b]);
			const float *srow = S + (size_t) b * k + c0;

#pragma GCC unroll 8
			for (l = 0; l < nv; l++)
			{
				VLOAD(row, srow + l * RS_VLEN);
				acc[l] += vb * row;
			}
		}
#pragma GCC unroll 8
		for (l = 0; l < nv; l++)
			VSTORE(out + c0 + l * RS_VLEN, acc[l]);
	}
	for (i = c0; i < k; i++)
	{
		float		acc = reg * v[i];

		for (b = 0; b < k; b++)
			acc += v[b] * S[(size_t) b * k + i];
		out[i] = acc;
	}
}

/* Prefetch the k floats of a row that a later iteration will read. */
RS_INLINE void
prefetch_row(const float *row, int k)
{
	int			i;

	for (i = 0; i < k; i += 16)
		__builtin_prefetch(row + i);
}

/*
 * out += sum_j w_j (g_j . p) g_j over n rows g_j: either the rows of a
 * contiguous n x k tile G with weights W (indirect = false), or the rows
 * Y[idx[j]] with weights alpha |val[j]| read in place (indirect = true).
 * When k is a multiple of 8 and k / 8 vectors fit in half the registers,
 * the accumulator stays in registers across the rows.
 */
RS_INLINE void
accumulate_weighted_rows(const float *G, const float *W,
						 const float *Y, const int32_t *idx,
						 const float *val, float alpha, const bool indirect,
						 int64_t n, const float *p, float *out, int k,
						 const int nregs)
{
	int64_t		j;

#define ROW_J	(indirect ? Y + (size_t) idx[j] * k : G + j * k)
#define WEIGHT_J (indirect ? alpha * fabsf(val[j]) : W[j])

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
	double		confidence = (double) R->n_cols;	/* sum over all pairs of c */
	int64_t		j;
	int			it;

	if (n == 0)
	{
		memset(x, 0, sizeof(float) * k);
		return RS_ALS_OK;
	}

	/*
	 * r = b - A x = sum_j (c_j p_j - w_j (y_j . x)) y_j - (YtY + reg I) x,
	 * gathering y_j and w_j on the way.
	 */
	memset(r, 0, sizeof(float) * k);
	for (j = 0; j < n; j++)
	{
		const float *y = Y + (size_t) idx[j] * k;
		float		w = alpha * fabsf(val[j]);
		float		cp = val[j] > 0.0f ? 1.0f + w : 0.0f;

		if (j + PREFETCH_AHEAD < n)
			prefetch_row(Y + (size_t) idx[j + PREFETCH_AHEAD] * k, k);
		if (j < n_gathered)
		{
			memcpy(G + j * k, y, sizeof(float) * k);
			W[j] = w;
		}
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
		accumulate_weighted_rows(G, W, NULL, NULL, NULL, 0.0f, false,
								 n_gathered, p, Ap, k, nregs);
		if (n > n_gathered)
			accumulate_weighted_rows(NULL, NULL, Y, idx + n_gathered,
									 val + n_gathered, alpha, true,
									 n - n_gathered, p, Ap, k, nregs);

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

/* Update rows [begin, end) with k fixed at compile time where inlined. */
RS_INLINE int
implicit_rows_body(const ImplicitJob *job, const int k, const int nregs,
				   int32_t begin, int32_t end, float *ws)
{
	int32_t		u;
	int			status;

	for (u = begin; u < end; u++)
	{
		status = implicit_solve_row(job, k, nregs, u, ws);
		if (status != RS_ALS_OK)
			return status;
	}
	return RS_ALS_OK;
}

/* ----------------------------------------------------------------------
 * Explicit ALS row solver
 * ----------------------------------------------------------------------
 */

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
static size_t
explicit_thread_floats(int k)
{
	size_t		k1 = (size_t) k + 1;
	size_t		kp = ROUND_UP(k1, 16);

	/* double A and rhs (2 floats each); float tile A, rhs; tile; targets */
	return 2 * (k1 * k1 + ROUND_UP(k1, 8)) + kp * kp + kp +
		EXPLICIT_TILE * kp + EXPLICIT_TILE;
}

/* y[c] -= s * x[c] for c in [0, len), in doubles. */
RS_INLINE void
dvec_sub_scaled(double *y, double s, const double *x, int len, const int nregs)
{
	int			c = 0;

	if (nregs < 16)
	{
		RsVecD2		vs = {s, s},
					vx,
					vy;

		for (; c + 2 <= len; c += 2)
		{
			VLOAD(vx, x + c);
			VLOAD(vy, y + c);
			vy -= vs * vx;
			VSTORE(y + c, vy);
		}
	}
	else
	{
		RsVecD		vs = VSPLAT_D(s),
					vx,
					vy;

		for (; c + RS_VLEN_D <= len; c += RS_VLEN_D)
		{
			VLOAD(vx, x + c);
			VLOAD(vy, y + c);
			vy -= vs * vx;
			VSTORE(y + c, vy);
		}
	}
	for (; c < len; c++)
		y[c] -= s * x[c];
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
	double	   *A = (double *) ws;
	double	   *rhs = A + (size_t) (k + 1) * (k + 1);
	float	   *At = ws + 2 * ((size_t) (k + 1) * (k + 1) + ROUND_UP((size_t) k + 1, 8));
	float	   *bt = At + (size_t) kp * kp;
	float	   *V = bt + kp;
	float	   *T = V + (size_t) EXPLICIT_TILE * kp;
	double		lambda = job->reg,
				lambda_bias = job->reg_bias;
	int			a,
				c;

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

/* Update rows [begin, end) with k fixed at compile time where inlined. */
RS_INLINE int
explicit_rows_body(const ExplicitJob *job, const int k, const int nregs,
				   int32_t begin, int32_t end, float *ws)
{
	int32_t		u;
	int			status;

	for (u = begin; u < end; u++)
	{
		status = explicit_solve_row(job, k, nregs, u, ws);
		if (status != RS_ALS_OK)
			return status;
	}
	return RS_ALS_OK;
}

/* ----------------------------------------------------------------------
 * Explicit Gibbs row sampler (Bayesian biased matrix factorisation)
 * ----------------------------------------------------------------------
 */

/* Everything a Gibbs row draw reads, shared by all threads. */
typedef struct SampleJob
{
	ExplicitJob base;			/* R, Y, ybias, mu, X, xbias, k (no reg) */
	double		alpha;			/* noise precision */
	const double *precision;	/* d x d prior precision, d = k (+ 1) */
	const double *precision_mean;	/* d: precision times the prior mean */
	uint64_t	seed;
} SampleJob;

/*
 * Two independent standard normal draws, a pure function of (seed,
 * counter): Box-Muller on the uniforms number 2 counter and 2 counter + 1
 * of the stream.
 */
static inline void
normal_pair(uint64_t seed, uint64_t counter, double *z0, double *z1)
{
	double		u1 = rs_rng_uniform_double(seed, 2 * counter);
	double		u2 = rs_rng_uniform_double(seed, 2 * counter + 1);
	/* 1 - u1 is in (0, 1]: the logarithm is finite */
	double		r = sqrt(-2.0 * log(1.0 - u1));

	*z0 = r * cos(RS_TWO_PI * u2);
	*z1 = r * sin(RS_TWO_PI * u2);
}

/* One standard normal draw: the first of normal_pair(seed, counter). */
static inline double
normal_draw(uint64_t seed, uint64_t counter)
{
	double		u1 = rs_rng_uniform_double(seed, 2 * counter);
	double		u2 = rs_rng_uniform_double(seed, 2 * counter + 1);

	return sqrt(-2.0 * log(1.0 - u1)) * cos(RS_TWO_PI * u2);
}

/*
 * Draw row u of X (and xbias) from its conditional posterior:
 *		P = Lambda + alpha sum_i v_i v_i^T,  b = Lambda m + alpha sum_i t_i v_i
 *		(x, b_u) = P^-1 b + U^-1 z,  P = U^T U,  z ~ N(0, I)
 * with z's d values the normal pairs number u ceil(d / 2) onwards of the
 * seed's stream, so the result does not depend on the thread or the chunk.
 */
RS_INLINE int
sample_solve_row(const SampleJob *job, const int k, const int nregs,
				 int32_t u, float *ws)
{
	const ExplicitJob *ej = &job->base;
	const RsCsr *R = ej->R;
	int64_t		start = R->indptr[u];
	int64_t		n = R->indptr[u + 1] - start;
	bool		has_bias = ej->xbias != NULL;
	int			k1 = k + (has_bias ? 1 : 0);
	int			kp = ROUND_UP(k1, 16);
	float	   *x = ej->X + (size_t) u * k;
	double	   *A = (double *) ws;
	double	   *rhs = A + (size_t) (k + 1) * (k + 1);
	float	   *At = ws + 2 * ((size_t) (k + 1) * (k + 1) + ROUND_UP((size_t) k + 1, 8));
	float	   *bt = At + (size_t) kp * kp;
	float	   *V = bt + kp;
	float	   *T = V + (size_t) EXPLICIT_TILE * kp;
	double	   *z = (double *) At;	/* the tile is free after accumulating */
	const double *L = job->precision;
	double		alpha = job->alpha;
	uint64_t	pair0 = (uint64_t) u * (uint64_t) ((k1 + 1) / 2);
	int			a,
				c;

	explicit_accumulate(ej, k, nregs, R->indices + start, R->data + start, n,
						has_bias, A, rhs, At, bt, V, T);
	for (a = 0; a < k1; a++)
	{
		double	   *arow = A + (size_t) a * k1;
		const double *lrow = L + (size_t) a * k1;

		rhs[a] = alpha * rhs[a] + job->precision_mean[a];
		for (c = a; c < k1; c++)
			arow[c] = alpha * arow[c] + lrow[c];
	}
	if (!cholesky_solve(A, rhs, k1, nregs))
		return RS_ALS_ERR_NOT_PD;
	/* w = U^-1 z by back substitution; U is in A's upper triangle */
	for (a = 0; a < k1; a += 2)
	{
		double		z1;

		normal_pair(job->seed, pair0 + (uint64_t) (a / 2), &z[a], &z1);
		if (a + 1 < k1)
			z[a + 1] = z1;
	}
	for (a = k1 - 1; a >= 0; a--)
	{
		const double *ua = A + (size_t) a * k1;
		double		sum = z[a];

		for (c = a + 1; c < k1; c++)
			sum -= ua[c] * z[c];
		z[a] = sum / ua[a];
	}
	for (a = 0; a < k; a++)
		x[a] = (float) (rhs[a] + z[a]);
	if (has_bias)
		ej->xbias[u] = (float) (rhs[k] + z[k]);
	return RS_ALS_OK;
}

/* Draw rows [begin, end) with k fixed at compile time where inlined. */
RS_INLINE int
sample_rows_body(const SampleJob *job, const int k, const int nregs,
				 int32_t begin, int32_t end, float *ws)
{
	int32_t		u;
	int			status;

	for (u = begin; u < end; u++)
	{
		status = sample_solve_row(job, k, nregs, u, ws);
		if (status != RS_ALS_OK)
			return status;
	}
	return RS_ALS_OK;
}

/* ----------------------------------------------------------------------
 * Instantiation per k and per instruction set
 * ----------------------------------------------------------------------
 */

/* A row-range worker: ctx is an ImplicitJob or ExplicitJob. */
typedef int (*RsRowsFn) (const void *ctx, int32_t begin, int32_t end,
						 float *ws);

/*
 * Define implicit_rows_SUFFIX and explicit_rows_SUFFIX compiled with the
 * given attributes, with k = 16, 32, 64, 128 as constants; NREGS is how
 * many 8-float vectors the target keeps in registers (it sizes the
 * register blocks: too large and the compiler spills).
 */
#define RS_DEFINE_ROW_KERNELS(SUFFIX, ATTRS, NREGS) \
static ATTRS int \
implicit_rows_##SUFFIX(const void *ctx, int32_t begin, int32_t end, float *ws) \
{ \
	const ImplicitJob *job = (const ImplicitJob *) ctx; \
	switch (job->k) \
	{ \
		case 16: return implicit_rows_body(job, 16, NREGS, begin, end, ws); \
		case 32: return implicit_rows_body(job, 32, NREGS, begin, end, ws); \
		case 64: return implicit_rows_body(job, 64, NREGS, begin, end, ws); \
		case 128: return implicit_rows_body(job, 128, NREGS, begin, end, ws); \
		default: return implicit_rows_body(job, job->k, NREGS, begin, end, ws); \
	} \
} \
static ATTRS int \
explicit_rows_##SUFFIX(const void *ctx, int32_t begin, int32_t end, float *ws) \
{ \
	const ExplicitJob *job = (const ExplicitJob *) ctx; \
	switch (job->k) \
	{ \
		case 16: return explicit_rows_body(job, 16, NREGS, begin, end, ws); \
		case 32: return explicit_rows_body(job, 32, NREGS, begin, end, ws); \
		case 64: return explicit_rows_body(job, 64, NREGS, begin, end, ws); \
		case 128: return explicit_rows_body(job, 128, NREGS, begin, end, ws); \
		default: return explicit_rows_body(job, job->k, NREGS, begin, end, ws); \
	} \
}

/* sample_rows_SUFFIX, the Gibbs row sampler, likewise (small k too). */
#define RS_DEFINE_SAMPLE_KERNELS(SUFFIX, ATTRS, NREGS) \
static ATTRS int \
sample_rows_##SUFFIX(const void *ctx, int32_t begin, int32_t end, float *ws) \
{ \
	const SampleJob *job = (const SampleJob *) ctx; \
	switch (job->base.k) \
	{ \
		case 8: return sample_rows_body(job, 8, NREGS, begin, end, ws); \
		case 16: return sample_rows_body(job, 16, NREGS, begin, end, ws); \
		case 32: return sample_rows_body(job, 32, NREGS, begin, end, ws); \
		case 64: return sample_rows_body(job, 64, NREGS, begin, end, ws); \
		default: return sample_rows_body(job, job->base.k, NREGS, begin, end, ws); \
	} \
}

#if defined(__aarch64__)
RS_DEFINE_ROW_KERNELS(generic,, 16)		/* 32 NEON registers */
RS_DEFINE_SAMPLE_KERNELS(generic,, 16)
#else
RS_DEFINE_ROW_KERNELS(generic,, 8)		/* 16 SSE registers */
RS_DEFINE_SAMPLE_KERNELS(generic,, 8)
#endif

#ifdef RS_X86_DISPATCH
RS_DEFINE_ROW_KERNELS(avx2, __attribute__((target("avx2,fma"))), 16)
RS_DEFINE_ROW_KERNELS(avx512, __attribute__((target("avx512f,avx512vl,avx2,fma"))), 32)
RS_DEFINE_SAMPLE_KERNELS(avx2, __attribute__((target("avx2,fma"))), 16)
RS_DEFINE_SAMPLE_KERNELS(avx512, __attribute__((target("avx512f,avx512vl,avx2,fma"))), 32)
#endif

/* The fastest instantiation this CPU runs (a pure function of the CPU). */
static void
pick_row_kernels(RsRowsFn *implicit_fn, RsRowsFn *explicit_fn)
{
#ifdef RS_X86_DISPATCH
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
	{
		*implicit_fn = implicit_rows_avx512;
		*explicit_fn = explicit_rows_avx512;
		return;
	}
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
	{
		*implicit_fn = implicit_rows_avx2;
		*explicit_fn = explicit_rows_avx2;
		return;
	}
#endif
	*implicit_fn = implicit_rows_generic;
	*explicit_fn = explicit_rows_generic;
}

/* The Gibbs row sampler for this CPU, chosen as pick_row_kernels does. */
static RsRowsFn
pick_sample_kernel(void)
{
#ifdef RS_X86_DISPATCH
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
		return sample_rows_avx512;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return sample_rows_avx2;
#endif
	return sample_rows_generic;
}

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
static int
run_parallel(RsRowsFn fn, const void *ctx, int32_t begin, int32_t end,
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
	par.grab = (end - begin + nthreads - 1) / nthreads;
	if (par.grab > ROWS_PER_GRAB)
		par.grab = ROWS_PER_GRAB;
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

/* Fill rows [row_begin, row_end) of X with uniform [0, scale) values. */
void
rs_init_factors_rows(float *X, int64_t row_begin, int64_t row_end, int k,
					 uint64_t seed, float scale)
{
	int64_t		i;

	for (i = row_begin * k; i < row_end * (int64_t) k; i++)
		X[i] = rs_rng_uniform_float(seed, (uint64_t) i) * scale;
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
		X[i] = (float) (std * normal_draw(seed, (uint64_t) i));
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
	int64_t		done = 0;
	int64_t		block;
	int			a,
				c;

	if (k <= 0 || n < 0)
		return RS_ALS_ERR_ARGUMENT;
	block = RS_GRAM_BLOCK_WORK / ((int64_t) k * k);
	if (block < RS_GRAM_MIN_BLOCK_ROWS)
		block = RS_GRAM_MIN_BLOCK_ROWS;
	memset(G, 0, sizeof(float) * k * k);
	while (done < n)
	{
		int64_t		rows = n - done < block ? n - done : block;

		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, k, (int) rows,
					1.0f, Y + done * k, k, 1.0f, G, k);
		done += rows;
		if (done < n && stop != NULL && stop(stop_arg))
			return RS_ALS_STOPPED;
	}
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
static bool
update_args_ok(const RsCsr *R, const float *Y, float *X, int k,
			   int32_t row_begin, int32_t row_end, int nthreads,
			   float *workspace)
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
	ImplicitJob job;
	RsRowsFn	implicit_fn,
				explicit_fn;

	if (!update_args_ok(R, Y, X, k, row_begin, row_end, nthreads, workspace) ||
		YtY == NULL || cg_steps < 1 || !(reg >= 0.0f) || !(alpha >= 0.0f) ||
		!isfinite(reg_exponent))
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
	job.cg_steps = cg_steps;
	job.gather_rows = implicit_gather_rows(k);

	pick_row_kernels(&implicit_fn, &explicit_fn);
	return run_parallel(implicit_fn, &job, row_begin, row_end, nthreads,
						workspace, implicit_thread_floats(k));
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
	RsRowsFn	implicit_fn,
				explicit_fn;

	if (!update_args_ok(R, Y, X, k, row_begin, row_end, nthreads, workspace) ||
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

	pick_row_kernels(&implicit_fn, &explicit_fn);
	return run_parallel(explicit_fn, &job, row_begin, row_end, nthreads,
						workspace, explicit_thread_floats(k));
}

/* Gibbs draw of rows [row_begin, row_end) of X, xbias. */
int
rs_als_explicit_sample(const RsCsr *R, const float *Y, const float *ybias,
					   float mu, float *X, float *xbias, int k, float alpha,
					   const double *prior_precision, const double *prior_mean,
					   uint64_t seed, int32_t row_begin, int32_t row_end,
					   int nthreads, float *workspace)
{
	SampleJob	job;
	double		precision_mean[RS_ALS_MAX_K + 1];
	int			d = k + (xbias != NULL ? 1 : 0);
	int			a,
				c;

	if (!update_args_ok(R, Y, X, k, row_begin, row_end, nthreads, workspace) ||
		prior_precision == NULL || prior_mean == NULL ||
		!(alpha > 0.0f) || !isfinite(alpha))
		return RS_ALS_ERR_ARGUMENT;
	if (row_begin == row_end)
		return RS_ALS_OK;
	for (a = 0; a < d; a++)
	{
		double		sum = 0.0;

		for (c = 0; c < d; c++)
			sum += prior_precision[(size_t) a * d + c] * prior_mean[c];
		precision_mean[a] = sum;
	}

	memset(&job, 0, sizeof(job));
	job.base.R = R;
	job.base.Y = Y;
	job.base.ybias = ybias;
	job.base.mu = mu;
	job.base.X = X;
	job.base.xbias = xbias;
	job.base.k = k;
	job.alpha = alpha;
	job.precision = prior_precision;
	job.precision_mean = precision_mean;
	/* a stream of its own, unrelated to rs_als_sample_prior's */
	job.seed = rs_rng_mix64(seed ^ UINT64_C(0x526f7753616d706c));

	return run_parallel(pick_sample_kernel(), &job, row_begin, row_end,
						nthreads, workspace, explicit_thread_floats(k));
}

/* Doubles of scratch for rs_als_sample_prior. */
size_t
rs_als_prior_workspace_doubles(int k)
{
	size_t		d = (size_t) k + 1;

	if (k <= 0 || k > RS_ALS_MAX_K)
		return 0;
	return 3 * d * d + 2 * d;
}

/*
 * In-place Cholesky A = C C^T of a symmetric positive definite n x n
 * row-major matrix, reading and writing the lower triangle only.  Returns
 * RS_ALS_OK, RS_ALS_ERR_NOT_PD if a pivot is not positive (or not a
 * number), or RS_ALS_STOPPED when the clock's callback asks to stop.
 */
static int
dense_cholesky_lower(double *A, int n, RsStopClock *clock)
{
	int			i,
				j,
				c;

	for (j = 0; j < n; j++)
	{
		double	   *aj = A + (size_t) j * n;
		double		d = aj[j];

		for (c = 0; c < j; c++)
			d -= aj[c] * aj[c];
		if (!(d > 0.0) || !isfinite(d))
			return RS_ALS_ERR_NOT_PD;
		d = sqrt(d);
		aj[j] = d;
		for (i = j + 1; i < n; i++)
		{
			double	   *ai = A + (size_t) i * n;
			double		sum = ai[j];

			for (c = 0; c < j; c++)
				sum -= ai[c] * aj[c];
			ai[j] = sum / d;
		}
		if (rs_stop_tick(clock, (int64_t) j * (n - j)))
			return RS_ALS_STOPPED;
	}
	return RS_ALS_OK;
}

/*
 * A Gamma(shape, 1) draw by Marsaglia and Tsang ("A simple method for
 * generating gamma variables", ACM TOMS 2000), boosted for shape < 1.
 * Normals come from the stream nseed, uniforms from useed, both at
 * *counter, which advances past every draw used.
 */
static double
gamma_draw(double shape, uint64_t nseed, uint64_t useed, uint64_t *counter)
{
	double		boost = 1.0,
				d,
				c;

	if (shape < 1.0)
	{
		double		u = rs_rng_uniform_double(useed, (*counter)++);

		boost = pow(1.0 - u, 1.0 / shape);
		shape += 1.0;
	}
	d = shape - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;)
	{
		double		x = normal_draw(nseed, *counter),
					v = 1.0 + c * x,
					u;

		u = rs_rng_uniform_double(useed, *counter);
		(*counter)++;
		if (v <= 0.0)
			continue;
		v = v * v * v;
		if (log(1.0 - u) < 0.5 * x * x + d - d * v + d * log(v))
			return boost * d * v;
	}
}

/* Value a of row u of (X, xbias): a factor, or the bias for a = k. */
#define PRIOR_ROW_VALUE(u, a) \
	((a) < k ? (double) X[(size_t) (u) * k + (a)] : (double) xbias[u])

/*
 * Normal-Wishart draw of the rows' prior.  With d-vectors x_u, their mean
 * xbar and scatter S = sum (x_u - xbar)(x_u - xbar)^T:
 *		W_n^-1 = I + S + (beta0 n / (beta0 + n)) xbar xbar^T = C C^T
 *		precision ~ Wishart(W_n, nu0 + n) = B B^T,  B = C^-T A
 * (Bartlett: A lower triangular, A_aa^2 ~ chi^2(nu0 + n - a), A_ac ~
 * N(0, 1)); then mean ~ N(n xbar / (beta0 + n), ((beta0 + n) precision)^-1)
 * = mu_n + G^-T z with beta_n precision = G G^T.
 */
int
rs_als_sample_prior(const float *X, const float *xbias, int64_t n, int k,
					uint64_t seed, double *prior_mean,
					double *prior_precision, double *workspace,
					RsStopFn stop, void *stop_arg)
{
	RsStopClock clock = rs_stop_clock(stop, stop_arg);
	int			status;
	int			d = k + (xbias != NULL ? 1 : 0);
	double	   *C,
			   *S,
			   *B,
			   *xbar,
			   *z;
	double		beta0 = RS_ALS_PRIOR_BETA0,
				beta_n,
				nu_n;
	uint64_t	nseed = rs_rng_mix64(seed ^ UINT64_C(0x5072696f724e6f72));
	uint64_t	useed = rs_rng_mix64(seed ^ UINT64_C(0x5072696f72556e69));
	uint64_t	counter = 0;
	int64_t		u;
	int			a,
				c,
				l;

	if (k <= 0 || k > RS_ALS_MAX_K || n < 0 || (n > 0 && X == NULL) ||
		prior_mean == NULL || prior_precision == NULL || workspace == NULL)
		return RS_ALS_ERR_ARGUMENT;
	C = workspace;
	S = C + (size_t) d * d;
	B = S + (size_t) d * d;
	xbar = B + (size_t) d * d;
	z = xbar + d;
	beta_n = beta0 + (double) n;
	nu_n = (double) d + (double) n;		/* nu0 = d */

	/* mean and scatter (two passes), upper triangle of S */
	memset(xbar, 0, sizeof(double) * d);
	memset(S, 0, sizeof(double) * d * d);
	for (u = 0; u < n; u++)
	{
		for (a = 0; a < d; a++)
			xbar[a] += PRIOR_ROW_VALUE(u, a);
		if (rs_stop_tick(&clock, d))
			return RS_ALS_STOPPED;
	}
	for (a = 0; a < d && n > 0; a++)
		xbar[a] /= (double) n;
	for (u = 0; u < n; u++)
	{
		for (a = 0; a < d; a++)
			z[a] = PRIOR_ROW_VALUE(u, a) - xbar[a];
		for (a = 0; a < d; a++)
		{
			double	   *srow = S + (size_t) a * d;
			double		za = z[a];

			for (c = a; c < d; c++)
				srow[c] += za * z[c];
		}
		if (rs_stop_tick(&clock, (int64_t) d * d / 2))
			return RS_ALS_STOPPED;
	}

	/* W_n^-1 = C C^T (lower triangle of C) */
	for (a = 0; a < d; a++)
		for (c = 0; c <= a; c++)
			C[(size_t) a * d + c] = (a == c ? 1.0 : 0.0) + S[(size_t) c * d + a] +
				beta0 * (double) n / beta_n * xbar[a] * xbar[c];
	status = dense_cholesky_lower(C, d, &clock);
	if (status != RS_ALS_OK)
		return status;

	/* Bartlett factor A (lower), then B = C^-T A column by column */
	memset(B, 0, sizeof(double) * d * d);
	for (a = 0; a < d; a++)
	{
		B[(size_t) a * d + a] = sqrt(2.0 * gamma_draw((nu_n - a) / 2.0, nseed,
													  useed, &counter));
		for (c = 0; c < a; c++)
			B[(size_t) a * d + c] = normal_draw(nseed, counter++);
	}
	for (c = 0; c < d; c++)
	{
		for (a = d - 1; a >= 0; a--)
		{
			double		sum = B[(size_t) a * d + c];

			for (l = a + 1; l < d; l++)
				sum -= C[(size_t) l * d + a] * B[(size_t) l * d + c];
			B[(size_t) a * d + c] = sum / C[(size_t) a * d + a];
		}
		if (rs_stop_tick(&clock, (int64_t) d * d / 2))
			return RS_ALS_STOPPED;
	}

	/* precision = B B^T */
	for (a = 0; a < d; a++)
	{
		for (c = 0; c <= a; c++)
		{
			double		sum = 0.0;

			for (l = 0; l < d; l++)
				sum += B[(size_t) a * d + l] * B[(size_t) c * d + l];
			prior_precision[(size_t) a * d + c] = sum;
			prior_precision[(size_t) c * d + a] = sum;
		}
		if (rs_stop_tick(&clock, (int64_t) a * d))
			return RS_ALS_STOPPED;
	}

	/* mean = n xbar / beta_n + G^-T z, beta_n precision = G G^T (G in S) */
	for (a = 0; a < d; a++)
		for (c = 0; c <= a; c++)
			S[(size_t) a * d + c] = beta_n * prior_precision[(size_t) a * d + c];
	status = dense_cholesky_lower(S, d, &clock);
	if (status != RS_ALS_OK)
		return status;
	for (a = 0; a < d; a++)
		z[a] = normal_draw(nseed, counter++);
	for (a = d - 1; a >= 0; a--)
	{
		double		sum = z[a];

		for (l = a + 1; l < d; l++)
			sum -= S[(size_t) l * d + a] * z[l];
		z[a] = sum / S[(size_t) a * d + a];
	}
	for (a = 0; a < d; a++)
		prior_mean[a] = (double) n * xbar[a] / beta_n + z[a];
	return RS_ALS_OK;
}

#undef PRIOR_ROW_VALUE

/*
 * Full implicit objective.  sum over all pairs of (x.y)^2 is
 * sum_u x_u^T YtY x_u; each stored entry then corrects its own term from
 * (x.y)^2 to c (p - x.y)^2.  Dot products in float (vectorised at the
 * baseline ISA), sums in double.  NaN if k is out of range.
 */
int
rs_als_implicit_loss(const RsCsr *R, const float *X, const float *Y,
					 const float *YtY, int k, float reg, float alpha,
					 RsStopFn stop, void *stop_arg, double *result)
{
	float		YtYx[RS_ALS_MAX_K];
	double		loss = 0.0;
	double		norms = 0.0;
	int32_t		u;
	int64_t		i;
	RsStopClock clock = rs_stop_clock(stop, stop_arg);

	if (k <= 0 || k > RS_ALS_MAX_K)
		return RS_ALS_ERR_ARGUMENT;
	for (u = 0; u < R->n_rows; u++)
	{
		const float *x = X + (size_t) u * k;
		int64_t		j;

		sym_matvec(YtY, x, 0.0f, YtYx, k, 8);
		loss += vec_dot(YtYx, x, k, 8);
		norms += vec_dot(x, x, k, 8);
		for (j = R->indptr[u]; j < R->indptr[u + 1]; j++)
		{
			double		v = R->data[j];
			double		conf = 1.0 + (double) alpha * fabs(v);
			double		pref = v > 0.0 ? 1.0 : 0.0;
			double		s = vec_dot(x, Y + (size_t) R->indices[j] * k, k, 8);

			loss += conf * (pref - s) * (pref - s) - s * s;
		}
		if (rs_stop_tick(&clock, (int64_t) k * (k + 2 + R->indptr[u + 1] - R->indptr[u])))
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
