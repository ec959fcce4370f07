/*-------------------------------------------------------------------------
 *
 * foldin.c
 *		The exact ALS solve of one user from the user's entries (foldin.h).
 *
 *-------------------------------------------------------------------------
 */
#include "foldin.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "als.h"
#include "linalg.h"

/* Rows gathered per cblas_ssyrk call: bounds the workspace. */
#define FOLD_IN_TILE 256

size_t
rs_fold_in_tile_floats(int k)
{
	return (size_t) FOLD_IN_TILE * (k + 1);
}

void
rs_fold_in_implicit_begin(const float *YtY, int k, float reg, float *A, float *b)
{
	memcpy(A, YtY, sizeof(float) * k * k);
	for (int a = 0; a < k; a++)
		A[a * k + a] += reg;
	memset(b, 0, sizeof(float) * k);
}

void
rs_fold_in_implicit_add(const float *Y, const int32_t *idx, const float *w, int64_t n,
						int k, float alpha, float *A, float *b, float *tile)
{
	for (int64_t j0 = 0; j0 < n; j0 += FOLD_IN_TILE)
	{
		int			tn = n - j0 < FOLD_IN_TILE ? (int) (n - j0) : FOLD_IN_TILE;

		/* the tile's rows scaled by sqrt(confidence - 1), and the right side */
		for (int t = 0; t < tn; t++)
		{
			const float *y = Y + (size_t) idx[j0 + t] * k;
			float		c1 = alpha * fabsf(w[j0 + t]);
			float		s = sqrtf(c1);
			float	   *g = tile + (size_t) t * k;

			for (int c = 0; c < k; c++)
				g[c] = s * y[c];
			/* preference 1 for a positive weight, 0 otherwise */
			if (w[j0 + t] > 0)
				for (int c = 0; c < k; c++)
					b[c] += (1 + c1) * y[c];
		}
		/* A += tile^T tile, upper triangle */
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, k, tn, 1.0f, tile, k, 1.0f, A, k);
	}
}

void
rs_fold_in_explicit_begin(int k, float *A, float *b)
{
	memset(A, 0, sizeof(float) * (k + 1) * (k + 1));
	memset(b, 0, sizeof(float) * (k + 1));
}

void
rs_fold_in_explicit_add(const float *Y, const float *ybias, float mu, const int32_t *idx,
						const float *r, int64_t n, int k, float *A, float *b, float *tile)
{
	int			d = k + 1;

	for (int64_t j0 = 0; j0 < n; j0 += FOLD_IN_TILE)
	{
		int			tn = n - j0 < FOLD_IN_TILE ? (int) (n - j0) : FOLD_IN_TILE;

		/* the tile's rows v_j = (y_j, 1), and the right side */
		for (int t = 0; t < tn; t++)
		{
			int32_t		i = idx[j0 + t];
			float	   *g = tile + (size_t) t * d;
			float		target = r[j0 + t] - mu - (ybias ? ybias[i] : 0.0f);

			memcpy(g, Y + (size_t) i * k, sizeof(float) * k);
			g[k] = 1.0f;
			for (int c = 0; c < d; c++)
				b[c] += target * g[c];
		}
		/* A += tile^T tile, upper triangle */
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, d, tn, 1.0f, tile, d, 1.0f, A, d);
	}
}

int
rs_fold_in_solve(float *A, float *b, int n)
{
	for (int a = 0; a < n; a++)
		for (int c = 0; c < a; c++)
			A[a * n + c] = A[c * n + a];
	return rs_cholesky_solve(A, n, b, 1) == 0 ? RS_ALS_OK : RS_ALS_ERR_NOT_PD;
}
