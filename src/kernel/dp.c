/*-------------------------------------------------------------------------
 *
 * dp.c
 *		Clipping, calibration and noise for differential privacy (see dp.h).
 *
 * The calibration is the analytic Gaussian mechanism of Balle and Wang
 * (ICML 2018): the exact privacy curve of Gaussian noise, inverted by
 * bisection.  It holds for every epsilon, where the classic bound
 * sigma = sqrt(2 ln(1.25 / delta)) Delta / epsilon (Dwork and Roth 2014,
 * Theorem A.1) holds only for epsilon < 1, and it needs less noise.
 *
 *-------------------------------------------------------------------------
 */
#include "dp.h"

#include <math.h>

#include "rng.h"

/* Phi, the standard normal CDF, accurate in both tails. */
static double
normal_cdf(double x)
{
	return 0.5 * erfc(-x / sqrt(2.0));
}

double
rs_dp_gaussian_delta(double epsilon, double sigma, double sensitivity)
{
	double		a = sensitivity / (2.0 * sigma);
	double		b = epsilon * sigma / sensitivity;
	double		tail = normal_cdf(-a - b);

	/* exp(epsilon) Phi(x) as one exponential, so neither factor overflows */
	return normal_cdf(a - b) - (tail > 0 ? exp(epsilon + log(tail)) : 0.0);
}

double
rs_dp_sigma(double epsilon, double delta, double sensitivity)
{
	double		lo = 1.0;
	double		hi = 1.0;

	if (!(epsilon > 0) || !isfinite(epsilon) || !(delta > 0 && delta < 1) ||
		!(sensitivity > 0) || !isfinite(sensitivity))
		return -1.0;
	/* in units of the sensitivity: bracket, then bisect (delta falls as sigma grows) */
	while (rs_dp_gaussian_delta(epsilon, hi, 1.0) > delta)
		hi *= 2.0;
	while (lo > 1e-12 && rs_dp_gaussian_delta(epsilon, lo, 1.0) <= delta)
		lo /= 2.0;
	while (hi - lo > 1e-10 * hi)
	{
		double		mid = 0.5 * (lo + hi);

		if (rs_dp_gaussian_delta(epsilon, mid, 1.0) <= delta)
			hi = mid;
		else
			lo = mid;
	}
	/* hi always satisfies the bound */
	return hi * sensitivity;
}

double
rs_dp_gram_sensitivity(int max_items)
{
	double		c = max_items;

	return sqrt(c * (c + 1.0) / 2.0 + 1.0);
}

void
rs_dp_clip_weights(const RsCsr *R, int max_items, float *weight)
{
	double		c = max_items;

	for (int32_t u = 0; u < R->n_rows; u++)
	{
		double		n = (double) (R->indptr[u + 1] - R->indptr[u]);

		/* rounded down, so that float rounding never lifts a norm above the bound */
		weight[u] = n <= c ? 1.0f :
			(float) (sqrt(c * (c + 1.0) / (n * (n + 1.0))) * (1.0 - 1e-6));
	}
}

double
rs_dp_gaussian(uint64_t seed, uint64_t counter)
{
	/* u1 in (0, 1], so the logarithm is finite */
	double		u1 = ((double) (rs_rng_u64(seed, 2 * counter) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
	double		u2 = rs_rng_uniform_double(seed, 2 * counter + 1);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void
rs_dp_add_gram_noise(float *G, int32_t n, int32_t row_begin, int32_t row_end,
					 double sigma, uint64_t seed)
{
	for (int64_t i = row_begin; i < row_end; i++)
		for (int64_t j = i; j < n; j++)
			G[i * n + j] += (float) (sigma * rs_dp_gaussian(seed, (uint64_t) (i * n + j)));
}

int64_t
rs_dp_noisy_user_count(int64_t n_users, int32_t n, double sigma, uint64_t seed)
{
	double		noisy = (double) n_users +
		sigma * rs_dp_gaussian(seed, (uint64_t) n * (uint64_t) n);

	return noisy > 0 ? (int64_t) llround(noisy) : 0;
}

int
rs_dp_similarities(float *G, int32_t n, RsKnnKind kind, float min_count, float min_pair,
				   float support_shrink, float *diag)
{
	if (kind != RS_KNN_COSINE && kind != RS_KNN_JACCARD)
		return RS_KNN_ERR_ARGUMENT;
	for (int64_t i = 0; i < n; i++)
		diag[i] = fmaxf(G[i * n + i], min_count);
	for (int64_t i = 0; i < n; i++)
	{
		float	   *row = G + i * n;

		for (int64_t j = 0; j < n; j++)
		{
			float		c = row[j] >= min_pair ? fmaxf(row[j], 0.0f) : 0.0f;
			float		s;

			if (kind == RS_KNN_COSINE)
				s = c / sqrtf(diag[i] * diag[j]);
			else
				s = c / fmaxf(diag[i] + diag[j] - c, min_count);
			if (support_shrink > 0)
				s *= c / (c + support_shrink);
			row[j] = s;
		}
	}
	return RS_KNN_OK;
}

double
rs_dp_universal_threshold(int32_t n, double sigma)
{
	double		m = (double) n * ((double) n + 1.0) / 2.0;

	return m > 1 ? sigma * sqrt(2.0 * log(m)) : 0.0;
}

void
rs_dp_threshold_pairs(float *G, int32_t n, float min_pair)
{
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = i + 1; j < n; j++)
			if (G[i * n + j] < min_pair)
				G[i * n + j] = 0.0f;
}

void
rs_dp_drop_zero_weights(int32_t *nbr, float *weight, int32_t *count, int32_t rows, int k)
{
	for (int64_t r = 0; r < rows; r++)
	{
		int32_t    *idx = nbr + r * k;
		float	   *w = weight + r * k;
		int			kept = 0;

		for (int t = 0; t < count[r]; t++)
			if (w[t] != 0.0f)
			{
				idx[kept] = idx[t];
				w[kept] = w[t];
				kept++;
			}
		for (int t = kept; t < k; t++)
		{
			idx[t] = -1;
			w[t] = 0.0f;
		}
		count[r] = kept;
	}
}
