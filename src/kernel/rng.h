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

#endif							/* RECSYS_KERNEL_RNG_H */
