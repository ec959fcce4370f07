/*-------------------------------------------------------------------------
 *
 * ncf.h
 *		Neural collaborative filtering (He et al., "Neural Collaborative
 *		Filtering", WWW 2017): NeuMF's forward pass, backward pass and
 *		Adam, with optional adversarial training (APR: He et al.,
 *		"Adversarial Personalized Ranking for Recommendation", SIGIR 2018).
 *
 * The model.  A user u and an item i each have an embedding of
 * d_gmf + d_mlp floats, laid out [gmf | mlp].  The MLP tower takes the
 * concatenation x_0 = [p_u,mlp | q_i,mlp] through n_layers dense layers
 * h_l = relu(W_l x_l + b_l) (W_l is hidden[l] x in_l, row-major); the GMF
 * branch is the element-wise product p_u,gmf * q_i,gmf (absent when d_gmf
 * is 0).  The output layer is one logit
 *		z = w_out . [p_u,gmf * q_i,gmf | h_last] + b_out
 * and the model's probability of an interaction is sigmoid(z).  With no
 * hidden layer h_last is x_0 itself.
 *
 * The dense parameters live in one array (rs_ncf_layout gives the
 * offsets): W_0, b_0, W_1, b_1, ..., w_out, b_out.
 *
 * Training minimises the mean binary cross-entropy of observed pairs
 * (label 1) and, for each, `negatives` items drawn uniformly among those
 * the user has not interacted with (label 0), plus l2/2 times the squared
 * weights (dense weights, not biases; embedding rows of the mini-batch),
 * by Adam (Kingma and Ba 2015) on mini-batches.  The embedding moments
 * are updated only for the rows a mini-batch touches (lazy Adam), so an
 * epoch costs what its samples cost, whatever the catalog size.  Dropout
 * (inverted: kept units scaled by 1 / (1 - p)) applies to the hidden
 * layers' outputs during training.
 *
 * APR: with adv_weight > 0 each sample's loss gains adv_weight times its
 * loss at embeddings moved by eps along the sample's own gradient with
 * respect to its user and item embeddings, normalised per embedding:
 *		Delta_u = eps g_u / |g_u|,  Delta_i = eps g_i / |g_i|
 * (the paper's fast-gradient approximation of the worst case within a
 * ball of radius eps; the paper normalises the batch's gradient per
 * embedding row, here each sample's).  Delta is held constant in the
 * gradient, as the paper does.
 *
 * Determinism: every random draw is a function of (seed, a counter) made
 * of the epoch and the sample's position (rng.h); a mini-batch is cut
 * into fixed chunks of RS_NCF_CHUNK samples whatever the thread count,
 * each chunk's gradients go to its own buffer, and the chunks are summed
 * in order on the calling thread, so the result for a given seed is the
 * same for any number of threads.
 *
 * Calling conventions: the caller allocates everything (the model's
 * arrays, and a zeroed workspace of rs_ncf_workspace_bytes); nothing is
 * allocated inside.  The stop callback (stop.h) is called on the calling
 * thread before each mini-batch and, within one, between the chunks the
 * calling thread runs once RS_STOP_WORK multiply-adds have passed (wide
 * layers); the other threads then take no further chunk.  Dense layers use cblas_sgemm (the
 * caller keeps OpenBLAS single-threaded; the threads here are the
 * kernel's own).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_NCF_H
#define RECSYS_KERNEL_NCF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparse.h"
#include "stop.h"

#define RS_NCF_MAX_LAYERS	8
#define RS_NCF_MAX_WIDTH	4096	/* units of a hidden layer, factors */
#define RS_NCF_CHUNK		128		/* samples per unit of parallel work */
#define RS_NCF_WAVE			16		/* chunks whose gradients are held at once */
#define RS_NCF_SCORE_BLOCK	256		/* items per block when scoring */
#define RS_NCF_CALIBRATION_PAIRS	50000	/* observed pairs calibrate a pretrained start */
#define RS_NCF_MAX_START_LOGIT	1e4		/* a calibrated start's largest |a s + b| */

#define RS_NCF_OK			0
#define RS_NCF_STOPPED		1		/* the stop callback asked; the model is mid-step */
#define RS_NCF_ERR_THREAD	2		/* a thread could not be created; results complete */
#define RS_NCF_ERR_SCORES	3		/* rs_ncf_pretrain: a pretrained score is not a finite float */
#define RS_NCF_ERR_CALIBRATION 4	/* rs_ncf_pretrain: the fit is not finite or its scale <= 1e-6 */

typedef struct RsNcfShape
{
	int32_t		n_users;
	int32_t		n_items;
	int			d_gmf;			/* 0: no GMF branch */
	int			d_mlp;
	int			n_layers;		/* hidden layers, 0 .. RS_NCF_MAX_LAYERS */
	int			hidden[RS_NCF_MAX_LAYERS];
} RsNcfShape;

/* Where each dense layer is in the dense array: layer n_layers is the output. */
typedef struct RsNcfLayout
{
	int			in[RS_NCF_MAX_LAYERS + 1];
	int			out[RS_NCF_MAX_LAYERS + 1];
	int64_t		weight[RS_NCF_MAX_LAYERS + 1];	/* offsets of W_l (out x in) */
	int64_t		bias[RS_NCF_MAX_LAYERS + 1];	/* offsets of b_l (out) */
	int64_t		size;			/* floats in all */
} RsNcfLayout;

typedef struct RsNcfModel
{
	RsNcfShape	shape;
	float	   *user;			/* n_users x (d_gmf + d_mlp) */
	float	   *item;			/* n_items x (d_gmf + d_mlp) */
	float	   *dense;			/* rs_ncf_layout(...).size floats */
} RsNcfModel;

typedef struct RsNcfConfig
{
	int			batch;			/* observed pairs per mini-batch */
	int			negatives;		/* sampled negatives per observed pair */
	float		learning_rate;
	float		beta1;
	float		beta2;
	float		adam_eps;
	float		l2;
	float		dropout;		/* of the hidden layers' outputs, [0, 1) */
	float		adv_epsilon;	/* APR's radius */
	float		adv_weight;		/* APR's lambda; 0: no adversarial term */
	uint64_t	seed;
	int			threads;
	RsStopFn	stop;
	void	   *stop_arg;
} RsNcfConfig;

/* The embedding length, d_gmf + d_mlp. */
static inline int
rs_ncf_dim(const RsNcfShape *s)
{
	return s->d_gmf + s->d_mlp;
}

extern void rs_ncf_layout(const RsNcfShape *shape, RsNcfLayout *layout);

/* Embeddings N(0, init_std^2), dense weights He-uniform, biases 0. */
extern void rs_ncf_init(RsNcfModel *model, uint64_t seed, float init_std);

/*
 * A model that ranks by a dot product, x_u . y_i + b_i (a factor model),
 * to start NeuMF from: k floats per user and item, in the NCF model's
 * user and item order; a row whose found flag is false starts at 0 in
 * both branches (GMF and MLP).  item_bias NULL: the scores add no bias.
 */
typedef struct RsNcfPretrained
{
	int			k;
	const float *user;			/* n_users x k */
	const float *item;			/* n_items x k */
	const float *item_bias;		/* n_items, or NULL */
	const bool *user_found;
	const bool *item_found;
	double		scale;			/* out: a and b of the calibration below */
	double		offset;
	double		max_score;		/* out: the sample's largest |score| */
	int32_t		users_found;	/* out: rows started from the factor model */
	int32_t		items_found;
} RsNcfPretrained;

/*
 * Start the model (after rs_ncf_init) at a pretrained model's ranking:
 * the logit is first a s + b, s the pretrained score, a > 0 and b fitted
 * by logistic regression of R's observed pairs against `negatives`
 * sampled items each (so the cross-entropy starts calibrated; at most
 * RS_NCF_CALIBRATION_PAIRS pairs, evenly spaced).  The GMF
 * branch holds sqrt(a) x_u and sqrt(a) y_i (and, with biases, one more
 * coordinate: sqrt(a) and sqrt(a) b_i), its output weights are 1, the MLP
 * tower's are 0 (its layers keep their random start) and the output bias
 * is b.  Needs d_gmf = k, plus 1 with item_bias.  A user or item the
 * factor model lacks starts at 0, so at first its every logit is b (the
 * score a zero factor vector gets).  Returns RS_NCF_OK, or, leaving the
 * model as it was: RS_NCF_ERR_SCORES when a sampled score is not a
 * finite float, RS_NCF_ERR_CALIBRATION when a or b is not finite, a
 * <= 1e-6 (scores so large that the fit shrinks them to nothing, or a
 * ranking read backwards) or a sampled |a s + b| exceeds
 * RS_NCF_MAX_START_LOGIT (saturated: the fit could not move), or
 * RS_NCF_STOPPED when stop (stop.h; NULL: none) asked during the sample
 * or the fit.
 */
extern int	rs_ncf_pretrain(RsNcfModel *model, RsNcfPretrained *pretrained, const RsCsr *R,
							int negatives, uint64_t seed, float *scratch, RsStopFn stop,
							void *stop_arg);

/* Floats of rs_ncf_pretrain's scratch for R's nnz. */
extern size_t rs_ncf_pretrain_scratch_floats(int64_t nnz, int negatives);

/*
 * Bytes of the training workspace for R's observed pairs (R's nnz), the
 * model's shape and config's batch, negatives and threads.
 */
extern size_t rs_ncf_workspace_bytes(const RsNcfShape *shape, int64_t nnz,
									 const RsNcfConfig *config);

/*
 * One epoch over R (n_users x n_items CSR, columns ascending; entries with
 * a value > 0 are the observed pairs).  workspace: rs_ncf_workspace_bytes
 * bytes, zeroed before the first epoch and kept between epochs (it holds
 * Adam's moments).  *loss receives the epoch's mean cross-entropy (the
 * clean term, without L2 or APR).
 */
extern int	rs_ncf_train_epoch(RsNcfModel *model, const RsCsr *R, const RsNcfConfig *config,
							   int epoch, void *workspace, double *loss);

/* Floats of scratch rs_ncf_score needs. */
extern size_t rs_ncf_score_scratch_floats(const RsNcfShape *shape);

/*
 * The logits z of one user (its embedding, dim floats) with n items:
 * items[0 .. n) if items is not NULL, else first, first + 1, ...
 */
extern void rs_ncf_score(const RsNcfModel *model, const float *user_vec,
						 const int32_t *items, int32_t first, int32_t n,
						 float *out, float *scratch);

/*
 * The mean cross-entropy of n (user, item, label) samples and, when the
 * gradient arrays are not NULL, its gradient: dense (layout.size floats),
 * and per sample the gradient with respect to its user's and its item's
 * embedding (n x dim each).  No dropout, no L2, no APR: for tests and for
 * the worst-case perturbation.  scratch: rs_ncf_sample_scratch_floats(n).
 */
extern size_t rs_ncf_sample_scratch_floats(const RsNcfShape *shape, int n);
extern double rs_ncf_loss_gradient(const RsNcfModel *model, const int32_t *users,
								   const int32_t *items, const float *labels, int n,
								   float *dense_grad, float *user_grad, float *item_grad,
								   float *scratch);

#endif							/* RECSYS_KERNEL_NCF_H */
