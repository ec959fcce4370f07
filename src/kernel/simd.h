/*-------------------------------------------------------------------------
 *
 * simd.h
 *		Vector helpers of the row kernels and their run-time instruction-set
 *		dispatch (the implementation of the dispatch is simd.c).
 *
 * The hot loops use GCC/Clang vector extensions (8 floats, one AVX
 * register) so that they vectorise at PGXS's -O2 without -march.  A kernel
 * is written once, as an always-inline body taking nregs (the number of
 * 8-float vectors the target keeps in registers), and instantiated per
 * instruction set by RS_SIMD_INSTANTIATE: a baseline build everywhere and,
 * on x86-64, AVX2+FMA and AVX-512 builds, one of which rs_simd_isa()
 * picks at run time from the CPU (__builtin_cpu_supports).  The choice
 * depends only on the CPU, never on the thread count, so results stay
 * bit-identical across thread counts.  The unit tests force each build in
 * turn with rs_simd_force (make unitcheck, RECSYS_ISA).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_SIMD_H
#define RECSYS_KERNEL_SIMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* Software prefetch distance, in rows of Y, for scattered gathers. */
#define PREFETCH_AHEAD		8

/* Round n up to a multiple of m. */
#define ROUND_UP(n, m)		((((n) + (m) - 1) / (m)) * (m))

/* ----------------------------------------------------------------------
 * Instruction sets and their instantiation
 * ----------------------------------------------------------------------
 */

/* The builds of every SIMD kernel. */
typedef enum RsIsa
{
	RS_ISA_BASELINE = 0,		/* SSE2 on x86-64, NEON on arm64 */
	RS_ISA_AVX2,				/* AVX2 + FMA */
	RS_ISA_AVX512,				/* AVX-512 F + VL */
	RS_ISA_COUNT
} RsIsa;

/* The build the kernels use now: the fastest the CPU runs, unless forced. */
extern RsIsa rs_simd_isa(void);

/* Whether this CPU (and this compiler's target) can run the build. */
extern bool rs_simd_supported(RsIsa isa);

/* "baseline", "avx2" or "avx512". */
extern const char *rs_simd_isa_name(RsIsa isa);

/*
 * For the unit tests only: make rs_simd_isa() return isa (a negative
 * value: back to the CPU's choice).  False, and nothing changed, if the
 * CPU cannot run it.  Not thread-safe: call it before starting kernels.
 */
extern bool rs_simd_force(int isa);

#define RS_ISA_ATTRS_AVX2	__attribute__((target("avx2,fma")))
#define RS_ISA_ATTRS_AVX512	__attribute__((target("avx512f,avx512vl,avx2,fma")))

/*
 * Expand DEFINE(SUFFIX, ATTRS, NREGS) once per build: SUFFIX names it,
 * ATTRS are its target attributes and NREGS the 8-float vectors it keeps
 * in registers (it sizes the register blocks: too large and the compiler
 * spills).  RS_SIMD_SELECT(name) is then name##_SUFFIX of rs_simd_isa().
 */
#if defined(RS_X86_DISPATCH)
#define RS_SIMD_INSTANTIATE(DEFINE) \
	DEFINE(generic,, 8)			/* 16 SSE registers */ \
	DEFINE(avx2, RS_ISA_ATTRS_AVX2, 16) \
	DEFINE(avx512, RS_ISA_ATTRS_AVX512, 32)
#define RS_SIMD_SELECT(name) \
	(rs_simd_isa() == RS_ISA_AVX512 ? name##_avx512 : \
	 rs_simd_isa() == RS_ISA_AVX2 ? name##_avx2 : name##_generic)
#elif defined(__aarch64__)
#define RS_SIMD_INSTANTIATE(DEFINE) DEFINE(generic,, 16)	/* 32 NEON registers */
#define RS_SIMD_SELECT(name) name##_generic
#else
#define RS_SIMD_INSTANTIATE(DEFINE) DEFINE(generic,, 8)
#define RS_SIMD_SELECT(name) name##_generic
#endif

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

/*
 * The body of vec_axpy and vec_xpby: y += s * x, or with scale_y
 * y = x + s * y.  scale_y is a constant at every call, so each caller
 * compiles to its own loop with one multiply-add and no test.
 */
RS_INLINE void
vec_scaled_add(float *y, const float *x, float s, int k, const int nregs,
			   const bool scale_y)
{
	int			i;

	/* one vector of y at j, whichever the width of vs, vx and vy */
#define SCALED_ADD_AT(j) \
	do { \
		VLOAD(vx, x + (j)); \
		VLOAD(vy, y + (j)); \
		vy = scale_y ? vx + vs * vy : vy + vs * vx; \
		VSTORE(y + (j), vy); \
	} while (0)

	if (nregs < 16)
	{
		RsVec4		vs = {s, s, s, s},
					vx,
					vy;

#pragma GCC unroll 16
		for (i = 0; i + 4 <= k; i += 4)
			SCALED_ADD_AT(i);
	}
	else
	{
		RsVec		vs = VSPLAT(s),
					vx,
					vy;

#pragma GCC unroll 16
		for (i = 0; i + RS_VLEN <= k; i += RS_VLEN)
			SCALED_ADD_AT(i);
	}
	for (; i < k; i++)
		y[i] = scale_y ? x[i] + s * y[i] : y[i] + s * x[i];
#undef SCALED_ADD_AT
}

/* y += s * x over k floats. */
RS_INLINE void
vec_axpy(float *y, float s, const float *x, int k, const int nregs)
{
	vec_scaled_add(y, x, s, k, nregs, false);
}

/* y = x + s * y over k floats (the CG direction update). */
RS_INLINE void
vec_xpby(float *y, const float *x, float s, int k, const int nregs)
{
	vec_scaled_add(y, x, s, k, nregs, true);
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


#endif							/* RECSYS_KERNEL_SIMD_H */
