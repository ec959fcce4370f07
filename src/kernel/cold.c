/*-------------------------------------------------------------------------
 *
 * cold.c
 *		Cold items' vectors from their features: one implicit-ALS half-step
 *		against the features' pseudo-user vectors, and the ridge mapping of
 *		dense features to item vectors (see cold.h).
 *
 *-------------------------------------------------------------------------
 */
#include "cold.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "linalg.h"

/*
 * A failed Cholesky is retried with a ridge of RS_COLD_JITTER_FIRST times
 * k times the largest diagonal entry, ten times larger each retry, at most
 * RS_COLD_JITTER_TRIES times.  Why: the Gramian arrives in float, rounded
 * by about k * FLT_EPSILON of its largest entries; with a large
 * feature_weight (the features' rows weigh up to 1e6 times the users') that
 * rounding exceeds the regularisation in the directions the features do
 * not span, and the float factorisation finds the system indefinite
 * although it is positive definite.  A ridge of the size of the rounding
 * changes nothing the stored Gramian determines; a solve that succeeds
 * first time is untouched (bit for bit as before).
 */
#define RS_COLD_JITTER_FIRST	FLT_EPSILON
#define RS_COLD_JITTER_TRIES	6

/*
 * The half-step of either form: each observation's confidence and
 * preference times weight; its alpha |v| joins the frequency scaling's
 * confidence only if counted (0.10.0's pseudo-users).
 */
static int
cold_item_solve(const float *gram, const float *X, int k, const int32_t *idx,
				const float *v, int n, float alpha, float weight, bool counted,
				float reg, float reg_exponent, double confidence, float *out,
				float *work)
{
	float		reg_eff = reg;
	float		jitter = 0.0f;

	if (k <= 0 || n < 0 || !(reg >= 0) || !(alpha >= 0) || !(weight >= 0) ||
		!isfinite(weight) || !(confidence >= 0))
		return RS_COLD_BAD_ARGUMENT;
	memset(out, 0, sizeof(float) * k);
	if (n == 0)
		return RS_COLD_OK;
	for (int try = 0; try <= RS_COLD_JITTER_TRIES; try++)
	{
		double		conf = confidence;
		float		diag_max = 0.0f;

		memset(out, 0, sizeof(float) * k);
		memcpy(work, gram, sizeof(float) * k * k);
		for (int j = 0; j < n; j++)
		{
			const float *x = X + (size_t) idx[j] * k;
			float		w = alpha * fabsf(v[j]) * weight;
			float		cp = v[j] > 0.0f ? weight + w : 0.0f;

			if (counted)
				conf += w;
			for (int a = 0; a < k; a++)
			{
				out[a] += cp * x[a];
				for (int b = 0; b < k; b++)
					work[a * k + b] += w * x[a] * x[b];
			}
		}
		if (reg_exponent != 0.0f)
			reg_eff = (float) (reg * pow(conf, reg_exponent));
		for (int a = 0; a < k; a++)
		{
			work[a * k + a] += reg_eff;
			diag_max = fmaxf(diag_max, work[a * k + a]);
		}
		if (try > 0)
		{
			jitter = jitter == 0.0f ? RS_COLD_JITTER_FIRST * k * diag_max : jitter * 10.0f;
			for (int a = 0; a < k; a++)
				work[a * k + a] += jitter;
		}
		if (rs_cholesky_solve(work, k, out, 1) == 0)
		{
			for (int a = 0; a < k; a++)
				if (!isfinite(out[a]))
				{
					memset(out, 0, sizeof(float) * k);
					return RS_COLD_NOT_PD;
				}
			return RS_COLD_OK;
		}
		if (!(diag_max > 0.0f) || !isfinite(diag_max))
			break;				/* no ridge helps a zero or non-finite system */
	}
	memset(out, 0, sizeof(float) * k);
	return RS_COLD_NOT_PD;
}

int
rs_cold_item_solve(const float *gram, const float *X, int k, const int32_t *idx,
				   const float *v, int n, float alpha, float reg, float reg_exponent,
				   double n_cols, float *out, float *work)
{
	return cold_item_solve(gram, X, k, idx, v, n, alpha, 1.0f, true, reg, reg_exponent,
						   n_cols, out, work);
}

int
rs_cold_item_solve_weighted(const float *gram, const float *X, int k, const int32_t *idx,
							const float *v, int n, float alpha, float weight, float reg,
							float reg_exponent, double n_users, float *out, float *work)
{
	return cold_item_solve(gram, X, k, idx, v, n, alpha, weight, false, reg, reg_exponent,
						   n_users, out, work);
}

int
rs_ridge_fit(const float *Z, const float *Y, int64_t n, int D, int k, float lambda,
			 float *W, float *work, RsStopFn stop, void *stop_arg)
{
	RsStopClock clock = rs_stop_clock(stop, stop_arg);
	float	   *rhs = work + (size_t) D * D;	/* Z^T Y, column-major for LAPACK */

	if (D <= 0 || k <= 0 || n < 0 || !(lambda > 0))
		return RS_COLD_BAD_ARGUMENT;
	memset(work, 0, sizeof(float) * ((size_t) D * D + (size_t) D * k));
	for (int64_t i = 0; i < n; i++)
	{
		const float *z = Z + (size_t) i * D;
		const float *y = Y + (size_t) i * k;

		if (rs_stop_tick(&clock, (int64_t) D * (D + k)))
			return RS_COLD_STOPPED;
		for (int a = 0; a < D; a++)
		{
			if (z[a] == 0.0f)
				continue;
			/* the upper triangle; mirrored below */
			for (int b = a; b < D; b++)
				work[(size_t) a * D + b] += z[a] * z[b];
			for (int c = 0; c < k; c++)
				rhs[(size_t) c * D + a] += z[a] * y[c];
		}
	}
	for (int a = 0; a < D; a++)
	{
		work[(size_t) a * D + a] += lambda;
		for (int b = 0; b < a; b++)
			work[(size_t) a * D + b] = work[(size_t) b * D + a];
	}
	if (rs_cholesky_solve(work, D, rhs, k) != 0)
		return RS_COLD_NOT_PD;
	for (int a = 0; a < D; a++)
		for (int c = 0; c < k; c++)
		{
			W[(size_t) a * k + c] = rhs[(size_t) c * D + a];
			if (!isfinite(W[(size_t) a * k + c]))
				return RS_COLD_NOT_PD;
		}
	return RS_COLD_OK;
}

void
rs_ridge_apply(const float *W, int D, int k, const float *z, float *out)
{
	memset(out, 0, sizeof(float) * k);
	for (int a = 0; a < D; a++)
	{
		if (z[a] == 0.0f)
			continue;
		for (int c = 0; c < k; c++)
			out[c] += z[a] * W[a * k + c];
	}
}

/* CG stops when the residual's squared norm fell by this factor (1e-3 in norm). */
#define RS_COLD_MAP_TOLERANCE 1e-6

/*
 * Conjugate gradients on (F^T F + lambda I) z = f, F's columns the
 * features; the normal matrix is never formed, each step is two sparse
 * products with F.
 */
int
rs_cold_map_coefficients(const RsCsr *F, const int32_t *fidx, const float *fval, int nf,
						 float lambda, int max_iter, float *a, float *work)
{
	int32_t		D = F->n_cols;
	int32_t		n = F->n_rows;
	float	   *z = work;
	float	   *r = z + D;
	float	   *p = r + D;
	float	   *q = p + D;
	float	   *t = q + D;		/* n_rows */
	double		rr = 0;
	double		rr0;

	if (!(lambda > 0) || max_iter < 1 || nf < 0)
		return RS_COLD_BAD_ARGUMENT;
	memset(z, 0, sizeof(float) * D);
	memset(r, 0, sizeof(float) * D);
	for (int j = 0; j < nf; j++)
		if (fidx[j] >= 0 && fidx[j] < D)
			r[fidx[j]] += fval[j];
	memcpy(p, r, sizeof(float) * D);
	for (int32_t c = 0; c < D; c++)
		rr += (double) r[c] * r[c];
	rr0 = rr;
	for (int it = 0; it < max_iter && rr > RS_COLD_MAP_TOLERANCE * rr0 && rr > 0; it++)
	{
		double		pq = 0;
		double		rr_new = 0;
		double		step;

		/* q = F^T (F p) + lambda p */
		for (int32_t i = 0; i < n; i++)
		{
			double		s = 0;

			for (int64_t e = F->indptr[i]; e < F->indptr[i + 1]; e++)
				s += (double) F->data[e] * p[F->indices[e]];
			t[i] = (float) s;
		}
		for (int32_t c = 0; c < D; c++)
			q[c] = lambda * p[c];
		for (int32_t i = 0; i < n; i++)
			for (int64_t e = F->indptr[i]; e < F->indptr[i + 1]; e++)
				q[F->indices[e]] += F->data[e] * t[i];
		for (int32_t c = 0; c < D; c++)
			pq += (double) p[c] * q[c];
		if (!(pq > 0))
			return RS_COLD_NOT_PD;
		step = rr / pq;
		for (int32_t c = 0; c < D; c++)
		{
			z[c] += (float) (step * p[c]);
			r[c] -= (float) (step * q[c]);
			rr_new += (double) r[c] * r[c];
		}
		for (int32_t c = 0; c < D; c++)
			p[c] = r[c] + (float) (rr_new / rr) * p[c];
		rr = rr_new;
	}
	/* a = F z */
	for (int32_t i = 0; i < n; i++)
	{
		double		s = 0;

		for (int64_t e = F->indptr[i]; e < F->indptr[i + 1]; e++)
			s += (double) F->data[e] * z[F->indices[e]];
		a[i] = (float) s;
		if (!isfinite(a[i]))
			return RS_COLD_NOT_PD;
	}
	return RS_COLD_OK;
}

void
rs_cold_map_spread(const RsCsr *S, const float *a, float self_weight, float *s)
{
	for (int32_t w = 0; w < S->n_cols; w++)
		s[w] = w < S->n_rows ? self_weight * a[w] : 0.0f;
	for (int32_t i = 0; i < S->n_rows; i++)
	{
		if (a[i] == 0.0f)
			continue;
		for (int64_t e = S->indptr[i]; e < S->indptr[i + 1]; e++)
			s[S->indices[e]] += a[i] * S->data[e];
	}
}

double
rs_cold_map_predict(const float *a, const float *y, int32_t n)
{
	double		out = 0;

	for (int32_t i = 0; i < n; i++)
		out += (double) a[i] * y[i];
	return out;
}

void
rs_cold_map_add_content(const RsCsr *F, const int32_t *fidx, const float *fval, int nf,
						float weight, float *s, float *work)
{
	if (weight == 0.0f)
		return;
	memset(work, 0, sizeof(float) * F->n_cols);
	for (int j = 0; j < nf; j++)
		if (fidx[j] >= 0 && fidx[j] < F->n_cols)
			work[fidx[j]] += fval[j];
	for (int32_t i = 0; i < F->n_rows; i++)
	{
		double		c = 0;

		for (int64_t e = F->indptr[i]; e < F->indptr[i + 1]; e++)
			c += (double) F->data[e] * work[F->indices[e]];
		s[i] += weight * (float) c;
	}
}
