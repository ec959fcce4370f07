/*-------------------------------------------------------------------------
 *
 * ease.c
 *		EASE: Steck's closed-form item-item model (see ease.h).
 *
 * Harald Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
 * WWW 2019: with the Gram matrix G = X^T X + lambda I of the user x item
 * matrix X, P = G^-1 and B = I - P diagMat(1 / diag(P)), that is
 * B_ij = -P_ij / P_jj off the diagonal and 0 on it; a user's scores are
 * x_u B.  The inverse goes through a Cholesky factorisation (LAPACK's
 * blocked spotrf + spotri, block by block here so it can be stopped),
 * which is stable for this positive definite G and half the work of a
 * general inverse.  Single precision throughout, as the rest of
 * recsys.
 *
 * With dropout p > 0 the regularisation becomes item-specific, lambda +
 * p / (1 - p) G_ii: the denoising linear autoencoder (DLAE) of Steck,
 * "Autoencoders that don't overfit towards the Identity", NeurIPS 2020,
 * which regularises popular items more.
 *
 * Two normalisations after Park et al., "Why is Normalization Necessary
 * for Linear Recommenders?", SIGIR 2025: users weighted by a power of
 * their item count in X^T D X, so a few heavy users do not set every
 * item's neighbourhood, and a per-column scale of B, which the caller
 * uses to damp (or favour) popular target items.
 *
 * Item features (side information) enter as extra rows of X, one per
 * feature: Jeunen, Van Balen and Goethals, "Closed-Form Models for
 * Collaborative Filtering with Side-Information", RecSys 2020.  Items
 * that share features become neighbours even when few users link them,
 * which helps the long tail most.  Each feature is weighted by its idf
 * and each item's feature vector has unit length, so an item with many
 * features or a feature of many items does not dominate.
 *
 *-------------------------------------------------------------------------
 */
#include "ease.h"
#include "topk.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
extern void strtri_(const char *uplo, const char *diag, const int *n, float *a, const int *lda,
					int *info);
extern void slauum_(const char *uplo, const int *n, float *a, const int *lda, int *info);

void
rs_ease_user_weights(const RsCsr *R, double exponent, float *user_weight)
{
	double		weighted = 0;
	double		scale;

	for (int32_t u = 0; u < R->n_rows; u++)
	{
		int64_t		n_u = R->indptr[u + 1] - R->indptr[u];

		user_weight[u] = n_u > 0 ? (float) pow((double) n_u, -exponent) : 0.0f;
		weighted += (double) user_weight[u] * (double) n_u;
	}
	scale = weighted > 0 ? (double) R->nnz / weighted : 1.0;
	for (int32_t u = 0; u < R->n_rows; u++)
		user_weight[u] = (float) (user_weight[u] * scale);
}

/* Stop-clock work of one float's first write to fresh memory (rs_ease_gram_counts). */
#define EASE_FIRST_TOUCH_WORK	256

/*
 * Copy the upper triangle of the row-major n x n G into the lower one.
 * The writes go down columns, a cache miss each (half a second at 10,000
 * items), so the clock is asked as for 16 multiply-adds a write.
 */
static int
mirror_upper(float *G, int64_t n, RsStopClock *clock)
{
	for (int64_t i = 0; i < n; i++)
	{
		for (int64_t j = i + 1; j < n; j++)
			G[j * n + i] = G[i * n + j];
		if (rs_stop_tick(clock, 16 * (n - i)))
			return RS_EASE_STOPPED;
	}
	return 0;
}

/*
 * Add w times the upper triangle (i <= j) of each row's outer product to
 * G; returns RS_EASE_STOPPED if the clock's callback asked to stop.
 */
static int
add_row_products(const RsCsr *R, int binary, const float *row_weight, float w, float *G,
				 RsStopClock *clock)
{
	int64_t		n = R->n_cols;

	for (int32_t u = 0; u < R->n_rows; u++)
	{
		float		d = w * (row_weight ? row_weight[u] : 1.0f);

		for (int64_t a = R->indptr[u]; a < R->indptr[u + 1]; a++)
		{
			int64_t		i = R->indices[a];
			float		wi = d * (binary ? 1.0f : R->data[a]);
			float	   *row = G + i * n;

			/* a feature every item has weighs 0: skip its df^2 pairs */
			if (wi == 0.0f)
				continue;
			for (int64_t b = a; b < R->indptr[u + 1]; b++)
				row[R->indices[b]] += wi * (binary ? 1.0f : R->data[b]);
			/* one user or feature may have many items: ask per item */
			if (rs_stop_tick(clock, R->indptr[u + 1] - a))
				return RS_EASE_STOPPED;
		}
	}
	return 0;
}

int
rs_ease_gram_counts(const RsCsr *R, int binary, const float *user_weight, float *G,
					RsStopFn stop, void *stop_arg)
{
	int64_t		n = R->n_cols;
	RsStopClock clock = rs_stop_clock(stop, stop_arg);

	/*
	 * By rows: a catalog of 20,000 items is 1.6 GB to touch.  G is freshly
	 * allocated, so each of its pages faults in here on first write: 37 ns
	 * a float on a 2-core test machine (0.6 s for 4,000 items), the time
	 * of hundreds of multiply-adds, so the clock is asked as for
	 * EASE_FIRST_TOUCH_WORK a float.
	 */
	for (int64_t i = 0; i < n; i++)
	{
		memset(G + i * n, 0, sizeof(float) * (size_t) n);
		if (rs_stop_tick(&clock, EASE_FIRST_TOUCH_WORK * n))
			return RS_EASE_STOPPED;
	}
	return add_row_products(R, binary, user_weight, 1.0f, G, &clock);
}

int
rs_ease_gram_finish(float *G, int32_t n_items, const RsCsr *features, float feature_weight,
					float lambda, float dropout, RsStopFn stop, void *stop_arg)
{
	int64_t		n = n_items;
	double		trace = 0;
	RsStopClock clock = rs_stop_clock(stop, stop_arg);

	for (int64_t i = 0; i < n; i++)
	{
		trace += G[i * n + i];
		/* DLAE: dropout p adds p / (1 - p) of each item's own count */
		G[i * n + i] += lambda + dropout / (1 - dropout) * G[i * n + i];
	}
	/* after the dropout term, which stays the items' own, as in DLAE */
	if (features != NULL && feature_weight > 0 && n > 0 &&
		add_row_products(features, 0, NULL, (float) (feature_weight * trace / n), G,
						 &clock) != 0)
		return RS_EASE_STOPPED;
	return mirror_upper(G, n, &clock);
}

int
rs_ease_gram(const RsCsr *R, int binary, const float *user_weight,
			 const RsCsr *features, float feature_weight,
			 float lambda, float dropout, float *G,
			 RsStopFn stop, void *stop_arg)
{
	if (rs_ease_gram_counts(R, binary, user_weight, G, stop, stop_arg) != 0)
		return RS_EASE_STOPPED;
	return rs_ease_gram_finish(G, R->n_cols, features, feature_weight, lambda, dropout,
							   stop, stop_arg);
}

void
rs_ease_feature_weights(RsCsr *F, float *item_norm)
{
	int32_t		n = F->n_cols;

	memset(item_norm, 0, sizeof(float) * (size_t) n);
	for (int32_t f = 0; f < F->n_rows; f++)
	{
		int64_t		df = F->indptr[f + 1] - F->indptr[f];
		/* a feature of one item links nothing; one of every item says nothing */
		float		idf = df >= 2 ? (float) log((double) n / (double) df) : 0.0f;

		for (int64_t a = F->indptr[f]; a < F->indptr[f + 1]; a++)
		{
			F->data[a] = idf;
			item_norm[F->indices[a]] += idf * idf;
		}
	}
	for (int32_t i = 0; i < n; i++)
		item_norm[i] = item_norm[i] > 0 ? 1.0f / sqrtf(item_norm[i]) : 0.0f;
	for (int64_t a = 0; a < F->nnz; a++)
		F->data[a] *= item_norm[F->indices[a]];
}

/* Column-major element (i, j) of the n x n matrix A. */
#define AT(A, n, i, j) ((A) + (int64_t) (j) * (n) + (i))

/*
 * The three blocked steps below follow LAPACK's own blocked spotrf,
 * strtri and slauum (lower triangle, column-major, which is the upper
 * triangle of our row-major array): the same BLAS-3 calls and flop count,
 * so the same speed, but the loop over blocks is ours, and between two
 * blocks the caller may stop the work.  A block's big update (O(n^2) x
 * the block's width: at 10,000 items 2.5 x 10^10 flops, over a second on
 * a busy machine) goes by panels of about EASE_PANEL_WORK flops (tens of
 * milliseconds), the caller being asked after each.  Smaller panels cost
 * speed: each call rereads its operand panel (2^29 was 10-25% slower at
 * 8,776 items, 2^30 and 2^31 on a par with LAPACK, on a noisy machine).
 */
#ifndef EASE_PANEL_WORK			/* the unit tests set it small, to cut panels */
#define EASE_PANEL_WORK		((int64_t) 1 << 30)
#endif
#define EASE_MIN_PANEL		64

/* Panel width (rows or columns) for an update costing per_unit each. */
static int
panel_width(int64_t per_unit)
{
	int64_t		w = per_unit > 0 ? EASE_PANEL_WORK / per_unit : EASE_PANEL_WORK;

	return w < EASE_MIN_PANEL ? EASE_MIN_PANEL : (w > (1 << 30) ? (1 << 30) : (int) w);
}

#define STOP_ASKED(stop, stop_arg) ((stop) != NULL && (stop) (stop_arg))
static int
cholesky_blocked(float *A, int n, int (*stop) (void *), void *stop_arg)
{
	for (int k = 0; k < n; k += RS_EASE_BLOCK)
	{
		int			kb = n - k < RS_EASE_BLOCK ? n - k : RS_EASE_BLOCK;
		int			rest = n - k - kb;
		int			info = 0;

		spotrf_("L", &kb, AT(A, n, k, k), &n, &info);
		if (info != 0)
			return info > 0 ? k + info : RS_EASE_BAD_CALL;
		if (rest > 0)
		{
			int			w = panel_width((int64_t) rest * kb);

			cblas_strsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit,
						rest, kb, 1.0f, AT(A, n, k, k), n, AT(A, n, k + kb, k), n);
			/* the solve costs as much as a panel: ask before the panels too */
			if (STOP_ASKED(stop, stop_arg))
				return RS_EASE_STOPPED;
			/* A22 -= A21 A21^T, by panels of columns: diagonal, then below */
			for (int c = 0; c < rest; c += w)
			{
				int			cw = rest - c < w ? rest - c : w;
				int			below = rest - c - cw;

				cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, cw, kb, -1.0f,
							AT(A, n, k + kb + c, k), n, 1.0f, AT(A, n, k + kb + c, k + kb + c), n);
				if (below > 0)
					cblas_sgemm(CblasColMajor, CblasNoTrans, CblasTrans, below, cw, kb, -1.0f,
								AT(A, n, k + kb + c + cw, k), n, AT(A, n, k + kb + c, k), n,
								1.0f, AT(A, n, k + kb + c + cw, k + kb + c), n);
				if (below > 0 && STOP_ASKED(stop, stop_arg))
					return RS_EASE_STOPPED;
			}
		}
		if (STOP_ASKED(stop, stop_arg))
			return RS_EASE_STOPPED;
	}
	return 0;
}

/* L^-1 in place of the Cholesky factor L, last block first. */
static int
triangular_inverse_blocked(float *A, int n, int (*stop) (void *), void *stop_arg)
{
	for (int j = ((n - 1) / RS_EASE_BLOCK) * RS_EASE_BLOCK; j >= 0; j -= RS_EASE_BLOCK)
	{
		int			jb = n - j < RS_EASE_BLOCK ? n - j : RS_EASE_BLOCK;
		int			rest = n - j - jb;
		int			info = 0;

		if (rest > 0)
		{
			int			h = panel_width((int64_t) rest * jb);

			/*
			 * A21 := -inv(L22) A21 inv(L11), inv(L22) already in place.  The
			 * product by inv(L22) goes by panels of rows, last first, so
			 * that the rows above a panel are still the old A21 it needs.
			 */
			for (int r1 = rest, r0; r1 > 0; r1 = r0)
			{
				r0 = r1 - h > 0 ? r1 - h : 0;
				cblas_strmm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit,
							r1 - r0, jb, 1.0f, AT(A, n, j + jb + r0, j + jb + r0), n,
							AT(A, n, j + jb + r0, j), n);
				if (r0 > 0)
					cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, r1 - r0, jb, r0, 1.0f,
								AT(A, n, j + jb + r0, j + jb), n, AT(A, n, j + jb, j), n,
								1.0f, AT(A, n, j + jb + r0, j), n);
				if (r0 > 0 && STOP_ASKED(stop, stop_arg))
					return RS_EASE_STOPPED;
			}
			cblas_strsm(CblasColMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit,
						rest, jb, -1.0f, AT(A, n, j, j), n, AT(A, n, j + jb, j), n);
		}
		strtri_("L", "N", &jb, AT(A, n, j, j), &n, &info);
		if (info != 0)
			return info > 0 ? j + info : RS_EASE_BAD_CALL;
		if (STOP_ASKED(stop, stop_arg))
			return RS_EASE_STOPPED;
	}
	return 0;
}

/* W^T W in place of the lower triangular W (the lower triangle of it). */
static int
lower_gram_blocked(float *A, int n, int (*stop) (void *), void *stop_arg)
{
	for (int i = 0; i < n; i += RS_EASE_BLOCK)
	{
		int			ib = n - i < RS_EASE_BLOCK ? n - i : RS_EASE_BLOCK;
		int			rest = n - i - ib;
		int			info = 0;

		if (i > 0)
			cblas_strmm(CblasColMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit,
						ib, i, 1.0f, AT(A, n, i, i), n, AT(A, n, i, 0), n);
		slauum_("L", &ib, AT(A, n, i, i), &n, &info);
		if (info != 0)
			return RS_EASE_BAD_CALL;
		/* the triangular product costs as much as a panel: ask before them */
		if (STOP_ASKED(stop, stop_arg))
			return RS_EASE_STOPPED;
		if (rest > 0)
		{
			int			w = panel_width((int64_t) ib * rest);

			/* A10 += A21^T A20, by panels of columns */
			for (int c = 0; c < i; c += w)
			{
				int			cw = i - c < w ? i - c : w;

				cblas_sgemm(CblasColMajor, CblasTrans, CblasNoTrans, ib, cw, rest, 1.0f,
							AT(A, n, i + ib, i), n, AT(A, n, i + ib, c), n, 1.0f, AT(A, n, i, c), n);
				if (c + cw < i && STOP_ASKED(stop, stop_arg))
					return RS_EASE_STOPPED;
			}
			cblas_ssyrk(CblasColMajor, CblasLower, CblasTrans, ib, rest, 1.0f,
						AT(A, n, i + ib, i), n, 1.0f, AT(A, n, i, i), n);
		}
		if (STOP_ASKED(stop, stop_arg))
			return RS_EASE_STOPPED;
	}
	return 0;
}

int
rs_ease_invert(float *G, int32_t n, int (*stop) (void *), void *stop_arg)
{
	int			info;
	RsStopClock clock;

	/* P = G^-1 = L^-T L^-1 with G = L L^T */
	info = cholesky_blocked(G, n, stop, stop_arg);
	if (info == 0)
		info = triangular_inverse_blocked(G, n, stop, stop_arg);
	if (info == 0)
		info = lower_gram_blocked(G, n, stop, stop_arg);
	if (info != 0)
		return info;
	/*
	 * The lower triangle in Fortran's column-major terms is the upper
	 * triangle (j >= i) of our row-major array.
	 */
	clock = rs_stop_clock(stop, stop_arg);
	return mirror_upper(G, n, &clock);
}

/* Sort the heap best first and pad its k slots with -1 and 0. */
static void
heap_finish(int32_t *idx, float *w, int size, int k)
{
	rs_topk_sort(idx, w, size);
	for (int t = size; t < k; t++)
	{
		idx[t] = -1;
		w[t] = 0;
	}
}

/* B_ij = -P_ij / P_jj, times column j's scale if any */
static inline float
ease_weight(const float *P, int32_t n, int32_t i, int32_t j, const float *column_scale)
{
	float		b = -P[(int64_t) i * n + j] / P[(int64_t) j * n + j];

	return column_scale ? b * column_scale[j] : b;
}

void
rs_ease_neighbors(const float *P, int32_t n, int32_t row_begin, int32_t row_end,
				  const float *column_scale, float min_magnitude, int k, int32_t *nbr,
				  float *weight, int32_t *count)
{
	for (int32_t i = row_begin; i < row_end; i++)
	{
		int32_t    *idx = nbr + (int64_t) (i - row_begin) * k;
		float	   *w = weight + (int64_t) (i - row_begin) * k;
		int			size = 0;

		for (int32_t j = 0; j < n; j++)
		{
			float		b;

			if (j == i)
				continue;
			b = ease_weight(P, n, i, j, column_scale);
			/* NaN fails this test; a floor drops zeros too */
			if (!(fabsf(b) >= min_magnitude) || (min_magnitude > 0 && b == 0))
				continue;
			rs_topk_offer(idx, w, &size, k, b, j);
		}
		heap_finish(idx, w, size, k);
		count[i - row_begin] = size;
	}
}

int
rs_ease_magnitude_floor(const float *P, int32_t n, const float *column_scale, int64_t keep,
						float *floor, RsStopFn stop, void *stop_arg)
{
	/* a positive float's bits order as its value: 65536 bins of its top bits */
	int64_t    *bins = calloc(65536, sizeof(int64_t));
	int64_t		above = 0;
	RsStopClock clock = rs_stop_clock(stop, stop_arg);

	*floor = FLT_TRUE_MIN;
	if (bins == NULL)
		return 0;
	for (int32_t i = 0; i < n; i++)
	{
		/*
		 * A row of n weights: one division and one bin increment each, 12
		 * ns a weight on a 2-core test machine (counted as 1, 4,000 items
		 * never asked the clock in 0.2 s), so asked as for 64 multiply-adds.
		 */
		if (rs_stop_tick(&clock, 64 * (int64_t) n))
		{
			free(bins);
			return RS_EASE_STOPPED;
		}
		for (int32_t j = 0; j < n; j++)
		{
			float		b = fabsf(ease_weight(P, n, i, j, column_scale));
			uint32_t	bits;

			if (j == i || !(b > 0) || isinf(b))
				continue;
			memcpy(&bits, &b, sizeof(bits));
			bins[bits >> 15]++;
		}
	}
	for (int32_t bin = 65535; bin >= 0; bin--)
	{
		above += bins[bin];
		if (above >= keep)
		{
			uint32_t	bits = (uint32_t) bin << 15;

			memcpy(floor, &bits, sizeof(*floor));
			break;
		}
	}
	free(bins);
	return 0;
}

void
rs_dense_top_k(const float *S, int32_t n, int32_t row_begin, int32_t row_end, int k,
			   int32_t *nbr, float *weight, int32_t *count)
{
	for (int32_t i = row_begin; i < row_end; i++)
	{
		const float *row = S + (int64_t) i * n;
		int32_t    *idx = nbr + (int64_t) (i - row_begin) * k;
		float	   *w = weight + (int64_t) (i - row_begin) * k;
		int			size = 0;

		for (int32_t j = 0; j < n; j++)
			if (j != i && row[j] > 0)
				rs_topk_offer(idx, w, &size, k, row[j], j);
		heap_finish(idx, w, size, k);
		count[i - row_begin] = size;
	}
}
