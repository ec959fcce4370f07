/*-------------------------------------------------------------------------
 *
 * ivf.h
 *		An inverted-file (IVF) index over item vectors for top-k by inner
 *		product: k-means centroids, each item in one list, and the order
 *		in which a query probes the lists.
 *
 * Inner product is not a distance, and k-means on the raw vectors groups
 * items by direction and length in a way that does not tell which list
 * holds a query's best items (the MIPS problem).  We use the Euclidean
 * transformation of Bachrach et al. ("Speeding up the Xbox recommender
 * system using a Euclidean transformation for inner-product spaces",
 * RecSys 2014): every item y_i, scaled by 1/M (M the largest |y_i|),
 * gets one more coordinate sqrt(1 - |y_i|^2 / M^2), so all items lie on
 * the unit sphere, and a query x becomes (x / |x|, 0).  Then |q - a_i|^2
 * = 2 - 2 x.y_i / (|x| M): the nearest item is the best by inner product.
 * k-means runs in that (k + 1)-dimensional space, items go to their
 * nearest centroid, and a query probes lists by the distance of q to
 * their centroids, that is by x.c / |x| - |C|^2 / 2 (c the centroid's
 * first k coordinates, C all of it).
 *
 * The build trains on a sample (at most RS_IVF_SAMPLE_PER_LIST points per
 * list, drawn by the seed), then assigns every item.  Centroid sums run in
 * item order in double, assignments per item, in chunks of a fixed size
 * whatever the thread count: the result depends on the seed only.
 *
 * Pure C: no PostgreSQL calls; safe on several threads.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_IVF_H
#define RECSYS_KERNEL_IVF_H

#include <stdint.h>

#include "stop.h"

#define RS_IVF_OK				0
#define RS_IVF_ERR_ARGUMENT		(-1)	/* bad size, list count or pointer */
#define RS_IVF_ERR_THREAD		(-2)	/* a thread could not be created
										 * (the results are still complete) */
#define RS_IVF_STOPPED			(-3)	/* the stop callback asked to stop */
#define RS_IVF_ERR_MEMORY		(-4)	/* malloc failed */

#define RS_IVF_MAX_LISTS		(1 << 20)
#define RS_IVF_MAX_ITERATIONS	1000
#define RS_IVF_SAMPLE_PER_LIST	64

typedef struct RsIvfParams
{
	int			lists;			/* 1 .. min(n, RS_IVF_MAX_LISTS) */
	int			iterations;		/* k-means rounds, 1 .. RS_IVF_MAX_ITERATIONS */
	uint64_t	seed;
	int			threads;
	RsStopFn	stop;			/* NULL: never stop */
	void	   *stop_arg;
} RsIvfParams;

/*
 * Build the index of the n x k row-major Y: centroids (lists x (k + 1),
 * in the augmented space above) and assign[i], the list of item i.
 * Returns RS_IVF_OK, RS_IVF_ERR_THREAD (complete results),
 * RS_IVF_ERR_ARGUMENT or RS_IVF_STOPPED.
 */
extern int	rs_ivf_build(const float *Y, int64_t n, int k, const RsIvfParams *params,
						 float *centroids, int32_t *assign);

/*
 * Assign the n items rows[0..n) of Y to their nearest lists as the build
 * does (the same transformation and arithmetic): the scale M is the
 * largest norm among the m items scale_rows[0..m) (the items the index
 * was built over, whose largest norm the build used).  For items added
 * after the build (refresh_items): assigning the built items this way
 * gives the build's own lists.  One thread.  Returns RS_IVF_OK,
 * RS_IVF_ERR_ARGUMENT or RS_IVF_ERR_MEMORY.
 */
extern int	rs_ivf_assign(const float *Y, int k, const float *centroids, int lists,
						  const int64_t *scale_rows, int64_t m, const int64_t *rows, int64_t n,
						  int32_t *assign);

/* A list and how close its centroid is to a query (rs_ivf_probe_order). */
typedef struct RsIvfRank
{
	float		score;
	int32_t		list;
} RsIvfRank;

/*
 * The lists in the order a query x (k floats) probes them, best first,
 * into order[lists] (its scores: x.c / |x| - |C|^2 / 2).  Ties go to the
 * smaller list.  A zero or non-finite x probes the lists in their own
 * order.
 */
extern void rs_ivf_probe_order(const float *centroids, int lists, int k, const float *x,
							   RsIvfRank *order);

#endif							/* RECSYS_KERNEL_IVF_H */
