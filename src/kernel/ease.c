/*-------------------------------------------------------------------------
 *
 * ease.c
 *		EASE: Steck's closed-form item-item model (see ease.h).
 *
 * Harald Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
 * WWW 2019: with the Gram matrix G = X^T X + lambda I of the user x item
 * matrix X, P = G^-1 and B = I - P diagMat(1 / diag(P)), that is
 * B_ij = -P_ij / P_jj off the diagonal and 0 on it; a user's scores are
 * x_u B.  The inverse goes through a Cholesky factorisation (spotrf +
 * spotri), which is stable for this positive definite G and half the work
 * of a general inverse.  Single precision throughout, as the rest of
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
 *-------------------------------------------------------------------------
 */
#include "ease.h"

#include <math.h>
#include <string.h>

extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
extern void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info);

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

void
rs_ease_gram(const RsCsr *R, int binary, const float *user_weight,
			 float lambda, float dropout, float *G)
{
	int64_t		n = R->n_cols;

	memset(G, 0, sizeof(float) * (size_t) n * (size_t) n);
	/* upper triangle (row-major i <= j) of X^T D X, one user row at a time */
	for (int32_t u = 0; u < R->n_rows; u++)
	{
		float		d = user_weight ? user_weight[u] : 1.0f;

		for (int64_t a = R->indptr[u]; a < R->indptr[u + 1]; a++)
		{
			int64_t		i = R->indices[a];
			float		wi = d * (binary ? 1.0f : R->data[a]);
			float	   *row = G + i * n;

			for (int64_t b = a; b < R->indptr[u + 1]; b++)
				row[R->indices[b]] += wi * (binary ? 1.0f : R->data[b]);
		}
	}
	for (int64_t i = 0; i < n; i++)
	{
		/* DLAE: dropout p adds p / (1 - p) of each item's own count */
		G[i * n + i] += lambda + dropout / (1 - dropout) * G[i * n + i];
		for (int64_t j = i + 1; j < n; j++)
			G[j * n + i] = G[i * n + j];
	}
}

int
rs_ease_invert(float *G, int32_t n)
{
	int			info = 0;
	int			nn = n;

	spotrf_("L", &nn, G, &nn, &info);
	if (info != 0)
		return info;
	spotri_("L", &nn, G, &nn, &info);
	if (info != 0)
		return info;
	/*
	 * spotri filled the lower triangle in Fortran's column-major terms,
	 * which is the upper triangle (j >= i) of our row-major array.
	 */
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = i + 1; j < n; j++)
			G[j * n + i] = G[i * n + j];
	return 0;
}

/* Whether (sa, ia) ranks strictly before (sb, ib): higher, then lower index. */
static inline int
ranks_before(float sa, int32_t ia, float sb, int32_t ib)
{
	return sa > sb || (sa == sb && ia < ib);
}

static void
sift_down(int32_t *idx, float *w, int size, int pos)
{
	for (;;)
	{
		int			worst = pos;
		int			l = 2 * pos + 1;
		int			r = l + 1;

		if (l < size && ranks_before(w[worst], idx[worst], w[l], idx[l]))
			worst = l;
		if (r < size && ranks_before(w[worst], idx[worst], w[r], idx[r]))
			worst = r;
		if (worst == pos)
			return;
		{
			float		tw = w[pos];
			int32_t		ti = idx[pos];

			w[pos] = w[worst];
			idx[pos] = idx[worst];
			w[worst] = tw;
			idx[worst] = ti;
		}
		pos = worst;
	}
}

void
rs_ease_neighbors(const float *P, int32_t n, int32_t row_begin, int32_t row_end,
				  const float *column_scale, int k, int32_t *nbr, float *weight,
				  int32_t *count)
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
			b = -P[(int64_t) i * n + j] / P[(int64_t) j * n + j];
			if (column_scale)
				b *= column_scale[j];
			if (isnan(b))
				continue;
			if (size < k)
			{
				int			pos = size++;

				while (pos > 0)
				{
					int			parent = (pos - 1) / 2;

					if (!ranks_before(w[parent], idx[parent], b, j))
						break;
					w[pos] = w[parent];
					idx[pos] = idx[parent];
					pos = parent;
				}
				w[pos] = b;
				idx[pos] = j;
			}
			else if (ranks_before(b, j, w[0], idx[0]))
			{
				w[0] = b;
				idx[0] = j;
				sift_down(idx, w, size, 0);
			}
		}
		/* best first */
		for (int end = size - 1; end > 0; end--)
		{
			float		tw = w[0];
			int32_t		ti = idx[0];

			w[0] = w[end];
			idx[0] = idx[end];
			w[end] = tw;
			idx[end] = ti;
			sift_down(idx, w, end, 0);
		}
		for (int t = size; t < k; t++)
		{
			idx[t] = -1;
			w[t] = 0;
		}
		count[i - row_begin] = size;
	}
}
