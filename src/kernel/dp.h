/*-------------------------------------------------------------------------
 *
 * dp.h
 *		Differential privacy for the item-item models: each user's
 *		contribution clipped, the Gaussian mechanism calibrated for
 *		(epsilon, delta), and seeded noise on the Gram matrix.
 *
 * What is protected and why the pieces add up is in doc/reference.md
 * ("Differential privacy"); in short (McSherry and Mironov, "Differentially
 * Private Recommender Systems", KDD 2009): the released vector is the upper
 * triangle (i <= j) of the Gram matrix sum_u w_u x_u x_u^T of binary user
 * rows x_u, plus the number of users.  With w_u chosen so that one user's
 * whole history moves it by at most Delta in L2 (rs_dp_clip_weights),
 * adding N(0, sigma^2) to every coordinate, sigma from rs_dp_sigma, makes
 * it (epsilon, delta)-differentially private against adding or removing
 * one user; everything computed from the noisy vector alone (EASE's
 * inverse, cosine similarities, top-K lists, noisy item counts) is too.
 *
 * Pure C, no allocation, no global state: every draw is a function of
 * (seed, position), so the noise does not depend on chunking or threads.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_DP_H
#define RECSYS_KERNEL_DP_H

#include <stdint.h>

#include "knn.h"
#include "sparse.h"

/*
 * The delta of the Gaussian mechanism with noise sigma on a query of L2
 * sensitivity `sensitivity` at this epsilon, exactly (Balle and Wang,
 * "Improving the Gaussian Mechanism for Differential Privacy: Analytical
 * Calibration and Optimal Denoising", ICML 2018, Theorem 8):
 *	Phi(D / (2 s) - e s / D) - exp(e) Phi(-D / (2 s) - e s / D).
 */
extern double rs_dp_gaussian_delta(double epsilon, double sigma, double sensitivity);

/*
 * The smallest sigma for which rs_dp_gaussian_delta <= delta (the analytic
 * Gaussian mechanism, valid for every epsilon > 0, unlike the classic
 * sqrt(2 ln(1.25 / delta)) sensitivity / epsilon, which needs epsilon < 1
 * and is larger).  Found by bisection to a relative 1e-10, rounded up.
 * Returns a negative value for arguments outside epsilon > 0, 0 < delta <
 * 1, sensitivity > 0.
 */
extern double rs_dp_sigma(double epsilon, double delta, double sensitivity);

/*
 * The L2 sensitivity of (upper triangle of sum_u w_u x_u x_u^T, number of
 * users) when rs_dp_clip_weights bounds every user's contribution to that
 * of a user with max_items items: sqrt(c (c + 1) / 2 + 1), c = max_items.
 */
extern double rs_dp_gram_sensitivity(int max_items);

/*
 * The weight of each row (user) of the binary R: 1 when it has at most
 * max_items entries, else the factor that shrinks its outer product's
 * upper triangle (n (n + 1) / 2 ones) to the L2 norm of a max_items user's:
 * sqrt(c (c + 1) / (n (n + 1))), rounded down.  Every item of a heavy user
 * still counts, each less (L2 clipping, as DP-SGD clips gradients), so no
 * item is dropped.
 */
extern void rs_dp_clip_weights(const RsCsr *R, int max_items, float *weight);

/* A standard normal draw, the counter-th of the stream seed (Box-Muller). */
extern double rs_dp_gaussian(uint64_t seed, uint64_t counter);

/*
 * Add N(0, sigma^2) to G[i][j] for j >= i, rows i in [row_begin,
 * row_end) of the row-major n x n G: the upper triangle that
 * rs_ease_gram_counts writes.  Entry (i, j) always gets draw i * n + j of
 * the stream seed.
 */
extern void rs_dp_add_gram_noise(float *G, int32_t n, int32_t row_begin, int32_t row_end,
								 double sigma, uint64_t seed);

/*
 * The noisy number of users released with a Gram matrix of n items:
 * n_users + sigma * draw n * n of the stream (a coordinate no matrix
 * entry uses), rounded, at least 0.
 */
extern int64_t rs_dp_noisy_user_count(int64_t n_users, int32_t n, double sigma, uint64_t seed);

/*
 * Overwrite the full symmetric noisy co-occurrence matrix G (n x n) with
 * item-item similarities for rs_dense_top_k: co-occurrences below min_pair
 * (and below 0) become 0 (no neighbour); an item's own count is taken as
 * at least min_count (noise can make it tiny or negative).  RS_KNN_COSINE: c_ij / sqrt(c_ii
 * c_jj); RS_KNN_JACCARD: c_ij / (c_ii + c_jj - c_ij); both times c_ij /
 * (c_ij + support_shrink) when support_shrink > 0.  diag: n floats of
 * scratch.  Returns RS_KNN_ERR_ARGUMENT for another kind, else RS_KNN_OK.
 */
extern int	rs_dp_similarities(float *G, int32_t n, RsKnnKind kind, float min_count,
							   float min_pair, float support_shrink, float *diag);

/*
 * The universal threshold of Donoho and Johnstone ("Ideal spatial
 * adaptation by wavelet shrinkage", Biometrika 1994) for the n (n + 1) / 2
 * noisy entries of an n x n upper triangle: sigma sqrt(2 ln m), which pure
 * noise exceeds with probability about 1 / sqrt(pi ln m) in all, so that
 * a pair whose noisy count lies below it is taken as no co-occurrence.
 */
extern double rs_dp_universal_threshold(int32_t n, double sigma);

/*
 * Set the off-diagonal entries G[i][j], j > i, of the upper triangle of the
 * row-major n x n G that lie below min_pair to 0 (the private EASE's
 * denoising: a pair that noise alone could reach is taken as none).
 */
extern void rs_dp_threshold_pairs(float *G, int32_t n, float min_pair);

/*
 * Remove the entries of weight 0 from rows neighbour lists of k slots (as
 * rs_ease_neighbors writes them), keeping the order of the others and
 * padding with -1 and 0: a pair the threshold dropped is no neighbour, so
 * a list that is left empty is served from the popularity ranking.
 */
extern void rs_dp_drop_zero_weights(int32_t *nbr, float *weight, int32_t *count,
									int32_t rows, int k);

#endif							/* RECSYS_KERNEL_DP_H */
