/*-------------------------------------------------------------------------
 *
 * bpr.h
 *		Bayesian personalised ranking (Rendle et al. 2009) by stochastic
 *		gradient descent on sampled (user, positive, negative) triples,
 *		with optional adversarial training (APR, He et al. SIGIR 2018).
 *
 * Pure C: no PostgreSQL calls; the caller allocates every buffer.
 *
 * Determinism whatever the number of threads (DSGD strata, Gemulla et al.
 * KDD 2011): users and items are hashed into B blocks each, B a function
 * of the data's size only (rs_bpr_blocks), never of the thread count.  An
 * epoch is B strata; stratum s holds the B cells (b, (b + s) mod B), which
 * share no user and no item, so threads may run them in any order and
 * at once without touching the same row.  Within a cell the triples are
 * drawn and applied in sequence from the cell's own counter-based random
 * stream (rng.h), named by (seed, epoch, cell); both the positive and the
 * negative item of a triple come from the cell's item block.  Every value
 * is therefore the same for 1 or 64 threads; the loss is summed cell by
 * cell in a fixed order.  Over an epoch each user meets every item block.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_BPR_H
#define RECSYS_KERNEL_BPR_H

#include <stdint.h>

#include "sparse.h"
#include "stop.h"

#define RS_BPR_OK			0
#define RS_BPR_STOPPED		1	/* the stop callback asked to stop */
#define RS_BPR_ERR_THREAD	(-1)	/* a thread could not be created (results complete) */
#define RS_BPR_ERR_ARGUMENT	(-2)

#define RS_BPR_MAX_FACTORS	1024
#define RS_BPR_MAX_BLOCKS	16
#define RS_BPR_MAX_ITERATIONS	10000
#define RS_BPR_MAX_LEARNING_RATE	10
/* Rows of users (and of items) per block at least: small data, few blocks. */
#define RS_BPR_MIN_BLOCK_ROWS 32
/* Draws of a negative that is not one of the user's items, before giving up. */
#define RS_BPR_NEGATIVE_TRIES 16
/* Uniform candidates of which 'adaptive' sampling takes the highest scored. */
#define RS_BPR_ADAPTIVE_CANDIDATES 8
/*
 * The bitmap of seen pairs (rs_bpr_seen_words) is used when it takes at
 * most this many bytes per pair: a density of 1/256 or more.
 */
#define RS_BPR_SEEN_BYTES_PER_PAIR 32

typedef enum RsBprSampling
{
	RS_BPR_UNIFORM = 0,			/* negatives uniform over the items */
	RS_BPR_POPULARITY,			/* proportional to their interaction count */
	RS_BPR_ADAPTIVE				/* the highest scored of a few uniform draws */
} RsBprSampling;

/*
 * One training run.  The caller fills the inputs, allocates the arrays
 * (sizes in the comments: B = nblocks) and calls rs_bpr_prepare once,
 * then rs_bpr_stratum for each stratum of each epoch.
 */
typedef struct RsBprRun
{
	/* inputs */
	const RsCsr *R;				/* users x items, indices ascending per row */
	int			k;
	float		learning_rate;
	float		reg;
	RsBprSampling sampling;
	float		adv_epsilon;	/* APR: size of the perturbation, 0: none */
	float		adv_weight;		/* APR: weight of the perturbed loss */
	uint64_t	seed;
	int			nblocks;		/* rs_bpr_blocks(R) */
	int			track_loss;		/* sum the loss (costs a logarithm per triple) */

	/* the model: X n_users x k, Y n_items x k, bias n_items */
	float	   *X;
	float	   *Y;
	float	   *bias;

	/* filled by rs_bpr_prepare */
	int64_t    *cell_start;		/* B * B + 1: cell (ub, ib) is ub * B + ib */
	int32_t    *cell_user;		/* nnz: the cells' (user, item) pairs */
	int32_t    *cell_item;		/* nnz */
	int64_t    *block_item_start;	/* B + 1 */
	int32_t    *block_items;	/* n_items: the items of each block */
	int64_t    *pool_start;		/* B + 1 */
	int32_t    *pool_items;		/* nnz: per block, each item once per interaction */
	double	   *cell_loss;		/* B * B: the last epoch's loss per cell */

	/*
	 * Optional (NULL: a binary search of the user's row instead): the
	 * bitmap of the pairs, rs_bpr_seen_words(run) words, zeroed by the
	 * caller; it tells a drawn negative from one of the user's items with
	 * one bit read.
	 * Cell (ub, ib) has its own rows, one per user of block ub, each of
	 * the words that cover item block ib (bit p: block_items[p]), so the
	 * bits a cell reads are together and few.
	 */
	uint64_t   *seen;
	int32_t    *user_row;		/* n_users (with seen): row within its block */
	int32_t    *item_col;		/* n_items (with seen): position in its block */
	int64_t		seen_user_start[RS_BPR_MAX_BLOCKS + 1]; /* users before each block */
	int64_t		seen_word_start[RS_BPR_MAX_BLOCKS + 1]; /* row words before each block */
} RsBprRun;

/* The number of blocks for the data: a function of its size only. */
extern int	rs_bpr_blocks(const RsCsr *R);

/* Initial factors of rows [begin, end) of X: uniform in (-0.5, 0.5) / k. */
extern void rs_bpr_init_rows(float *X, int64_t begin, int64_t end, int k, uint64_t seed);

/*
 * The 64-bit words of the bitmap of seen pairs for run's R, nblocks and
 * seed (about n_users x n_items / 64), or 0 when it would take more than
 * RS_BPR_SEEN_BYTES_PER_PAIR bytes per pair: then leave seen NULL.
 */
extern int64_t rs_bpr_seen_words(const RsBprRun *run);

/*
 * Sort the pairs into cells and the items into blocks (O(nnz + n)), and
 * fill the bitmap when seen is given (O(n_users x n_items / 64) more).
 */
extern int	rs_bpr_prepare(RsBprRun *run);

/*
 * Stratum s of epoch e: as many triples as the stratum's cells hold
 * pairs, on nthreads threads; adversarial adds APR's perturbed loss.
 * Asks stop (from the calling thread only) about every RS_STOP_WORK
 * multiply-adds.  Returns RS_BPR_OK, RS_BPR_STOPPED (the model is then
 * half-updated), RS_BPR_ERR_THREAD (complete and correct, fewer threads)
 * or RS_BPR_ERR_ARGUMENT.
 */
extern int	rs_bpr_stratum(RsBprRun *run, int epoch, int stratum, int adversarial,
						   int nthreads, RsStopFn stop, void *stop_arg);

/*
 * Fold a user in: the vector x (k floats) that the same SGD fits for the
 * user's items (n, ascending, distinct, < n_items; weight: NULL or n
 * weights in [0, 1] scaling each item's steps) against fixed item
 * factors Y and biases, starting from x as given (zeros at first), for
 * epochs [epoch_begin, epoch_end) of n triples each, negatives uniform
 * over the other items.  The caller runs the epochs in chunks to check
 * for interrupts between them; the result does not depend on the chunks.
 * Returns RS_BPR_OK or RS_BPR_ERR_ARGUMENT.
 */
extern int	rs_bpr_fold_in(const float *Y, const float *bias, int32_t n_items, int k,
						   const int32_t *items, const float *weight, int32_t n,
						   float learning_rate, float reg, uint64_t seed, int epoch_begin,
						   int epoch_end, float *x);

/*
 * Refit every user's vector (row u of X, k floats) as rs_bpr_fold_in
 * fits it from zero over epochs [0, epochs) for the user's items (row u
 * of R, items x columns; weight: NULL or one weight per stored pair of
 * R, as rs_bpr_fold_in's), on nthreads threads.  A user's vector depends
 * only on its own row, the fixed Y and bias and the seed, so every value
 * is the same for any thread count.  Asks stop (calling thread only)
 * about every RS_STOP_WORK multiply-adds.  Returns RS_BPR_OK,
 * RS_BPR_STOPPED (X then partly refitted), RS_BPR_ERR_THREAD (complete,
 * fewer threads) or RS_BPR_ERR_ARGUMENT.
 */
extern int	rs_bpr_refit_users(const float *Y, const float *bias, const RsCsr *R, int k,
							   const float *weight, float learning_rate, float reg,
							   uint64_t seed, int epochs, float *X, int nthreads, RsStopFn stop,
							   void *stop_arg);

/*
 * Mean loss per triple of the last epoch run with track_loss (cells summed
 * in a fixed order).
 */
extern double rs_bpr_epoch_loss(const RsBprRun *run);

/*
 * The largest Euclidean norm of n rows of k floats (double: it may be
 * beyond a float's range); NaN as soon as a row has a NaN, Inf if a row
 * is infinite (train_bpr's divergence check).
 */
extern double rs_bpr_max_row_norm(const float *v, int64_t n, int k);

extern const char *rs_bpr_strerror(int status);

#endif							/* RECSYS_KERNEL_BPR_H */
