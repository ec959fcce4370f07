/*-------------------------------------------------------------------------
 *
 * fm.h
 *		A second-order factorisation machine (Rendle, "Factorization
 *		Machines", ICDM 2010) trained for ranking with BPR's pairwise loss
 *		(Rendle et al., UAI 2009) on sampled negatives.
 *
 * Every input is a sparse vector x over n_features features (the user's
 * id and features, the item's id and features, the context's hour and
 * weekday), and the FM's score is
 *		y(x) = sum_a w_a x_a + sum_{a<b} <v_a, v_b> x_a x_b.
 * An example (user u, context c, positive item i) and a sampled negative
 * item j give the pair x_uij = y(u, c, i) - y(u, c, j), and one step of
 * stochastic gradient ascent on ln sigmoid(x_uij) - reg |theta|^2 is taken
 * per pair.  In the difference every term that does not involve the item
 * cancels (the user's and context's linear weights, their pairs among
 * themselves), so with P = sum_{a in user, context} v_a x_a and
 * Q_i = sum_{a in item i} v_a x_a,
 *		x_uij = t_i - t_j + <P, Q_i - Q_j>,
 *		t_i = sum_{a in i} w_a x_a + (|Q_i|^2 - sum_{a in i} |v_a x_a|^2) / 2,
 * which is also how a model serves: an item's (t_i, Q_i) and a user's P
 * (rs_fm_item_terms, rs_fm_side_sum) are computed once.
 *
 * Threads without losing determinism: examples are taken in mini-batches.
 * The pairs of a batch are scored in parallel against the parameters as
 * they were at the batch's start; the updates are then applied in
 * parallel by feature (each thread owns a range of features and walks the
 * whole batch in order), so every parameter sees the same updates in the
 * same order whatever the thread count.  Negatives and the order of the
 * examples come from a counter-based generator (rng.h) keyed by the seed,
 * the epoch and the example, never by the thread.
 *
 * The caller allocates everything (rs_fm_workspace_floats); nothing is
 * allocated inside.  Pure C, no PostgreSQL.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_FM_H
#define RECSYS_KERNEL_FM_H

#include <stddef.h>
#include <stdint.h>

#include "stop.h"

#define RS_FM_OK			0
#define RS_FM_STOPPED		(-1)	/* the stop callback asked to stop */
#define RS_FM_ERR_THREAD	(-2)	/* a thread could not be created; results complete */
#define RS_FM_ERR_DIVERGED	(-3)	/* a parameter is no longer finite */

#define RS_FM_MAX_CONTEXT	4		/* context features per example at most */
#define RS_FM_BATCH			256		/* examples per mini-batch */
#define RS_FM_MAX_FACTORS	512		/* k at most (callers check) */

/* Rows of (feature index, value) pairs: one per item, or per user. */
typedef struct RsFmRows
{
	int32_t		n_rows;
	const int64_t *indptr;		/* n_rows + 1 */
	const int32_t *feature;
	const float *value;
} RsFmRows;

/* What training reads. */
typedef struct RsFmData
{
	int32_t		n_features;
	RsFmRows	items;			/* each item's id feature and side features */
	RsFmRows	users;			/* each user's id feature and side features */
	/* the examples: user, positive item, context features */
	int64_t		n_examples;
	const int32_t *example_user;
	const int32_t *example_item;
	int			n_context;		/* context features per example, 0 .. RS_FM_MAX_CONTEXT */
	const int32_t *context_feature; /* n_examples x n_context; -1: none */
	const float *context_value;
	const float *example_weight;	/* per example, scaling its gradient; NULL: 1 */
	/* each user's items, ascending (never sampled as negatives) */
	const int64_t *seen_indptr;
	const int32_t *seen_item;
	/* optional hard negatives per user (a base model's top items), or NULL */
	const int64_t *hard_indptr;
	const int32_t *hard_item;
	float		hard_share;		/* the share of negatives drawn from them */
	/*
	 * Optional features of a (user, item) pair from the base model's
	 * ranking (when hard_score is not NULL; needs hard_indptr/hard_item, the base's
	 * pool best first, and hard_score, each one's score standardised over
	 * the user's pool): the item's rank band in the pool (one of
	 * RS_FM_RANK_BANDS features from base_feature on, value 1; the last
	 * band is "not in the pool") and its standardised score (feature
	 * base_feature + RS_FM_RANK_BANDS, value the score, 0 outside).  They
	 * join the item's features for that user, in the difference and in
	 * Q_i, so the FM learns where to trust the base.
	 */
	int32_t		base_feature;	/* the first of them */
	const float *hard_score;	/* NULL: no base features */
} RsFmData;

/* rank bands: 1, 2-3, 4-10, 11-25, 26-50, 51 and below, not in the pool */
#define RS_FM_RANK_BANDS	7
#define RS_FM_BASE_FEATURES	(RS_FM_RANK_BANDS + 1)	/* bands, then the score */

/* The parameters: w (n_features) and v (n_features x k, row-major). */
typedef struct RsFmParams
{
	int32_t		n_features;
	int			k;
	float	   *w;
	float	   *v;
} RsFmParams;

typedef struct RsFmSettings
{
	float		learning_rate;
	float		regularization;
	uint64_t	seed;
	int			nthreads;
} RsFmSettings;

/*
 * Features [begin, end): v ~ N(0, init_sd^2), w = 0, from the seed alone
 * (so the caller can chunk it between interrupt checks).
 */
extern void rs_fm_init(RsFmParams *p, uint64_t seed, float init_sd, int32_t begin, int32_t end);

/* Floats of workspace rs_fm_epoch needs. */
extern size_t rs_fm_workspace_floats(int k);

/*
 * One epoch: every example once, in an order drawn from (seed, epoch),
 * each with one negative.  *loss: the (example_weight-weighted) mean of
 * -ln sigmoid(x_uij) before each pair's update.  Returns RS_FM_OK, RS_FM_STOPPED (parameters
 * partly updated), RS_FM_ERR_THREAD (complete) or RS_FM_ERR_DIVERGED.
 * order: n_examples int64 of scratch.
 */
extern int	rs_fm_epoch(const RsFmData *data, RsFmParams *p, const RsFmSettings *s,
						int epoch, float *workspace, int64_t *order,
						RsStopFn stop, void *stop_arg, double *loss);

/* out[0 .. k) = sum over the row of v_a x_a. */
extern void rs_fm_side_sum(const RsFmParams *p, const RsFmRows *rows, int32_t row, float *out);

/*
 * Items [begin, end)'s serving terms: out[0] = t_i, out[1 .. k] = Q_i
 * (k + 1 floats per item, item i's at out + i * (k + 1)), so that the
 * caller can chunk it between interrupt checks.
 */
extern void rs_fm_item_terms(const RsFmParams *p, const RsFmRows *items, int32_t begin, int32_t end,
							 float *out);

/*
 * Standardise n scores in place (mean 0, sd 1; all 0 when constant): a
 * pool's scores, alike in training's base features and at serving.
 */
extern void rs_fm_standardize(float *x, int64_t n);

/* The rank band (0 .. RS_FM_RANK_BANDS - 1) of 0-based rank r; r < 0: not in the pool. */
extern int	rs_fm_rank_band(int64_t r);

/*
 * The base features of (user u, item i) (at most 2; 0 without
 * hard_score): their indexes and values.
 */
extern int	rs_fm_base_features(const RsFmData *data, int32_t u, int32_t i, int32_t *feature,
								float *value);

/* The pair's x_uij = t_i - t_j + <P, Q_i - Q_j> (for tests and checks). */
extern double rs_fm_pair_score(const RsFmParams *p, const RsFmData *data, int64_t example,
							   int32_t negative);

#endif							/* RECSYS_KERNEL_FM_H */
