/*-------------------------------------------------------------------------
 *
 * rng.h
 *		A tiny seeded, counter-based random number generator for the kernels.
 *
 * Owns the only randomness in src/kernel/: SplitMix64 (Steele, Lea and
 * Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014),
 * used as a hash of (seed, counter).  Because each draw depends only on the
 * seed and its counter, a value never depends on how the work was chunked
 * or on the number of threads; there is no hidden state at all.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_RNG_H
#define RECSYS_KERNEL_RNG_H

#include <math.h>
#include <stdint.h>

/* The SplitMix64 finaliser: a bijective 64-bit mix with good avalanche. */
static inline uint64_t
rs_rng_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* The counter-th 64-bit draw of the stream named by seed. */
static inline uint64_t
rs_rng_u64(uint64_t seed, uint64_t counter)
{
	/* Weyl step as in SplitMix64, then mix; seed is pre-mixed so that
	 * nearby seeds give unrelated streams. */
	return rs_rng_mix64(rs_rng_mix64(seed) + (counter + 1) * UINT64_C(0x9e3779b97f4a7c15));
}

/* A float uniform in [0, 1) with 24 random bits (every value exact). */
static inline float
rs_rng_uniform_float(uint64_t seed, uint64_t counter)
{
	return (float) (rs_rng_u64(seed, counter) >> 40) * (1.0f / 16777216.0f);
}

/* A double uniform in [0, 1) with 53 random bits. */
static inline double
rs_rng_uniform_double(uint64_t seed, uint64_t counter)
{
	return (double) (rs_rng_u64(seed, counter) >> 11) * (1.0 / 9007199254740992.0);
}

/* 2 pi, for the Box-Muller normal draws. */
#define RS_TWO_PI			6.283185307179586476925

/*
 * Two independent standard normal draws, a pure function of (seed,
 * counter): Box-Muller on the uniforms number 2 counter and 2 counter + 1
 * of the stream.
 */
static inline void
rs_rng_normal_pair(uint64_t seed, uint64_t counter, double *z0, double *z1)
{
	double		u1 = rs_rng_uniform_double(seed, 2 * counter);
	double		u2 = rs_rng_uniform_double(seed, 2 * counter + 1);
	/* 1 - u1 is in (0, 1]: the logarithm is finite */
	double		r = sqrt(-2.0 * log(1.0 - u1));

	*z0 = r * cos(RS_TWO_PI * u2);
	*z1 = r * sin(RS_TWO_PI * u2);
}

/* One standard normal draw: the first of rs_rng_normal_pair(seed, counter). */
static inline double
rs_rng_normal(uint64_t seed, uint64_t counter)
{
	double		u1 = rs_rng_uniform_double(seed, 2 * counter);
	double		u2 = rs_rng_uniform_double(seed, 2 * counter + 1);

	return sqrt(-2.0 * log(1.0 - u1)) * cos(RS_TWO_PI * u2);
}

#endif							/* RECSYS_KERNEL_RNG_H */
