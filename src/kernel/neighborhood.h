/*-------------------------------------------------------------------------
 *
 * neighborhood.h
 *		Koren's global neighbourhood model for explicit ratings, with
 *		learned interpolation weights (see neighborhood.c).
 *
 * Pure C: no PostgreSQL, thread-safe, deterministic for a given seed
 * whatever the thread count.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_NEIGHBORHOOD_H
#define RECSYS_KERNEL_NEIGHBORHOOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparse.h"
#include "stop.h"

#define RS_NBR_OK				0
#define RS_NBR_STOPPED			1	/* the stop callback asked to stop */
#define RS_NBR_ERR_THREAD		(-1)	/* a worker could not be created */
#define RS_NBR_ERR_DIVERGED		(-2)	/* a prediction became infinite or NaN */
#define RS_NBR_ERR_RANGE		(-3)	/* an index out of range */

/* Neighbours per item at most (the descent's scratch is this long). */
#define RS_NBR_MAX_NEIGHBORS	1000

/* The baselines' regularisation (Koren 2010, section 2.1). */
#define RS_NBR_BASE_REG_USER	10.0f
#define RS_NBR_BASE_REG_ITEM	25.0f
#define RS_NBR_BASE_SWEEPS		10

/*
 * A fitted (or being fitted) model.  Item i has count[i] neighbours in
 * the slots start[i] .. start[i] + count[i] - 1 of neighbor, with the
 * weights w (on the neighbour's rating residual) and c (on the neighbour
 * being rated at all) in the same slots.  A user's prediction of item i
 * is
 *
 *   mu + base_u + b_i + |R|^-1/2 * sum over j in R of ((r_uj - base_uj) w_ij + c_ij)
 *
 * where R is the set of i's neighbours the user rated and base_uj =
 * mu + base_u + base_j the fixed baselines of rs_nbr_baselines.
 */
typedef struct RsNbrModel
{
	int32_t		n_items;
	float		mu;				/* the global mean */
	const int64_t *start;		/* per item: its first slot */
	const int32_t *count;		/* per item: neighbours */
	const int32_t *neighbor;	/* item indexes */
	float	   *w;
	float	   *c;
	float	   *item_bias;		/* b_i, learned */
	const float *item_base;		/* base_i, fixed */
} RsNbrModel;

/* The settings of one SGD epoch. */
typedef struct RsNbrStep
{
	float		learning_rate;
	float		regularization; /* L2 on w, c and b_i */
	uint64_t	seed;			/* the order users are visited in */
	int			epoch;
} RsNbrStep;

extern const char *rs_nbr_strerror(int status);

extern float rs_nbr_user_base(const int32_t *items, const float *ratings, int64_t n, float mu,
							  const float *item_base, float reg_user);
extern int	rs_nbr_baselines(const RsCsr *by_user, const RsCsr *by_item, float mu,
							 float reg_user, float reg_item, int sweeps,
							 float *user_base, float *item_base);
extern void rs_nbr_residuals(const RsCsr *m, bool rows_are_users, float mu,
							 const float *user_base, const float *item_base, float *z);

extern size_t rs_nbr_neighbors_workspace_bytes(int32_t n_items, int threads);
extern int	rs_nbr_neighbors(const RsCsr *by_item, const float *z_by_item,
							 const RsCsr *by_user, const float *z_by_user,
							 float shrinkage, int k, int32_t begin, int32_t end,
							 int threads, void *workspace,
							 int32_t *neighbor, float *similarity, int32_t *count);

extern int	rs_nbr_epoch(RsNbrModel *m, const RsCsr *by_user, const float *z_by_user,
						 const float *user_base, const RsNbrStep *step, int32_t *position,
						 int32_t *order, RsStopFn stop, void *stop_arg, double *sq_error);

extern void rs_nbr_sort_by_weight(RsNbrModel *m, int32_t *neighbor);
extern void rs_nbr_reverse(const RsNbrModel *m, int64_t *rev_indptr, int64_t *rev_slot,
						   int32_t *rev_owner);
extern void rs_nbr_offsets_all(const RsNbrModel *m, const int64_t *rev_indptr,
							   const int64_t *rev_slot, const int32_t *rev_owner,
							   const int32_t *items, const float *z, int64_t n, double *sum,
							   int32_t *count, int32_t *touched, float *out);
extern double rs_nbr_offset(const RsNbrModel *m, int32_t i, const int32_t *position,
							const float *z, float *contributions);

#endif							/* RECSYS_KERNEL_NEIGHBORHOOD_H */
