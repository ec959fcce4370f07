/*-------------------------------------------------------------------------
 *
 * gibbs.c
 *		Bayesian biased matrix factorisation by Gibbs sampling: the row
 *		sampler and the draw of the Normal-Wishart hyperprior.  See als.h
 *		(rs_als_explicit_sample, rs_als_sample_prior) for the model.
 *
 * The row sampler accumulates the explicit row system of als_rows.h, forms
 * P = alpha sum_i y~_i y~_i^T + Lambda (a full prior precision) and
 * b = alpha sum_i t_i y~_i + Lambda m, factorises P = U^T U and returns
 * P^-1 b + U^-1 z for seeded standard normals z (Box-Muller on the
 * counter-based generator of rng.h).  It is instantiated per instruction
 * set like the ALS rows (simd.h) and shares their thread runner.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <string.h>

#include "als_rows.h"
#include "gibbs.h"
#include "rng.h"

/* ----------------------------------------------------------------------
 * Explicit Gibbs row sampler (Bayesian biased matrix factorisation)
 * ----------------------------------------------------------------------
 */

/* Everything a Gibbs row draw reads, shared by all threads. */
typedef struct SampleJob
{
	ExplicitJob base;			/* R, Y, ybias, mu, X, xbias, k (no reg) */
	double		alpha;			/* noise precision */
	const double *precision;	/* d x d prior precision, d = k (+ 1) */
	const double *precision_mean;	/* d: precision times the prior mean */
	uint64_t	seed;
} SampleJob;

/*
 * Draw row u of X (and xbias) from its conditional posterior:
 *		P = Lambda + alpha sum_i v_i v_i^T,  b = Lambda m + alpha sum_i t_i v_i
 *		(x, b_u) = P^-1 b + U^-1 z,  P = U^T U,  z ~ N(0, I)
 * with z's d values the normal pairs number u ceil(d / 2) onwards of the
 * seed's stream, so the result does not depend on the thread or the chunk.
 */
RS_INLINE int
sample_solve_row(const SampleJob *job, const int k, const int nregs,
				 int32_t u, float *ws)
{
	const ExplicitJob *ej = &job->base;
	const RsCsr *R = ej->R;
	int64_t		start = R->indptr[u];
	int64_t		n = R->indptr[u + 1] - start;
	bool		has_bias = ej->xbias != NULL;
	int			k1 = k + (has_bias ? 1 : 0);
	int			kp = ROUND_UP(k1, 16);
	float	   *x = ej->X + (size_t) u * k;
	double	   *A,
			   *rhs;
	float	   *At,
			   *bt,
			   *V,
			   *T;
	double	   *z;
	const double *L = job->precision;
	double		alpha = job->alpha;
	uint64_t	pair0 = (uint64_t) u * (uint64_t) ((k1 + 1) / 2);
	int			a,
				c;

	explicit_scratch(ws, k, kp, &A, &rhs, &At, &bt, &V, &T);
	z = (double *) At;			/* the tile is free after accumulating */
	explicit_accumulate(ej, k, nregs, R->indices + start, R->data + start, n,
						has_bias, A, rhs, At, bt, V, T);
	for (a = 0; a < k1; a++)
	{
		double	   *arow = A + (size_t) a * k1;
		const double *lrow = L + (size_t) a * k1;

		rhs[a] = alpha * rhs[a] + job->precision_mean[a];
		for (c = a; c < k1; c++)
			arow[c] = alpha * arow[c] + lrow[c];
	}
	if (!cholesky_solve(A, rhs, k1, nregs))
		return RS_ALS_ERR_NOT_PD;
	/* w = U^-1 z by back substitution; U is in A's upper triangle */
	for (a = 0; a < k1; a += 2)
	{
		double		z1;

		rs_rng_normal_pair(job->seed, pair0 + (uint64_t) (a / 2), &z[a], &z1);
		if (a + 1 < k1)
			z[a + 1] = z1;
	}
	for (a = k1 - 1; a >= 0; a--)
	{
		const double *ua = A + (size_t) a * k1;
		double		sum = z[a];

		for (c = a + 1; c < k1; c++)
			sum -= ua[c] * z[c];
		z[a] = sum / ua[a];
	}
	for (a = 0; a < k; a++)
		x[a] = (float) (rhs[a] + z[a]);
	if (has_bias)
		ej->xbias[u] = (float) (rhs[k] + z[k]);
	return RS_ALS_OK;
}

RS_DEFINE_ROWS_BODY(sample_rows_body, SampleJob, sample_solve_row)

/* ----------------------------------------------------------------------
 * Instantiation per k and per instruction set
 * ----------------------------------------------------------------------
 */

/* sample_rows_SUFFIX for one build (small k too: Bayesian models are small). */
#define RS_DEFINE_SAMPLE_KERNELS(SUFFIX, ATTRS, NREGS) \
	RS_DEFINE_ROWS_FN(sample_rows, SUFFIX, ATTRS, NREGS, SampleJob, base.k, \
					  sample_rows_body, 8, 16, 32, 64)

RS_SIMD_INSTANTIATE(RS_DEFINE_SAMPLE_KERNELS)

/* ----------------------------------------------------------------------
 * Exported functions
 * ----------------------------------------------------------------------
 */

/* Gibbs draw of rows [row_begin, row_end) of X, xbias. */
int
rs_als_explicit_sample(const RsCsr *R, const float *Y, const float *ybias,
					   float mu, float *X, float *xbias, int k, float alpha,
					   const double *prior_precision, const double *prior_mean,
					   uint64_t seed, int32_t row_begin, int32_t row_end,
					   int nthreads, float *workspace)
{
	SampleJob	job;
	double		precision_mean[RS_ALS_MAX_K + 1];
	int			d = k + (xbias != NULL ? 1 : 0);
	int			a,
				c;

	if (!rs_als_update_args_ok(R, Y, X, k, row_begin, row_end, nthreads, workspace) ||
		prior_precision == NULL || prior_mean == NULL ||
		!(alpha > 0.0f) || !isfinite(alpha))
		return RS_ALS_ERR_ARGUMENT;
	if (row_begin == row_end)
		return RS_ALS_OK;
	for (a = 0; a < d; a++)
	{
		double		sum = 0.0;

		for (c = 0; c < d; c++)
			sum += prior_precision[(size_t) a * d + c] * prior_mean[c];
		precision_mean[a] = sum;
	}

	memset(&job, 0, sizeof(job));
	job.base.R = R;
	job.base.Y = Y;
	job.base.ybias = ybias;
	job.base.mu = mu;
	job.base.X = X;
	job.base.xbias = xbias;
	job.base.k = k;
	job.alpha = alpha;
	job.precision = prior_precision;
	job.precision_mean = precision_mean;
	/* a stream of its own, unrelated to rs_als_sample_prior's */
	job.seed = rs_rng_mix64(seed ^ UINT64_C(0x526f7753616d706c));

	return rs_als_run_rows(RS_SIMD_SELECT(sample_rows), &job, row_begin, row_end,
						   nthreads, workspace, explicit_thread_floats(k));
}

/* Doubles of scratch for rs_als_sample_prior. */
size_t
rs_als_prior_workspace_doubles(int k)
{
	size_t		d = (size_t) k + 1;

	if (k <= 0 || k > RS_ALS_MAX_K)
		return 0;
	return 3 * d * d + 2 * d;
}

/*
 * In-place Cholesky A = C C^T of a symmetric positive definite n x n
 * row-major matrix, reading and writing the lower triangle only.  Returns
 * RS_ALS_OK, RS_ALS_ERR_NOT_PD if a pivot is not positive (or not a
 * number), or RS_ALS_STOPPED when the clock's callback asks to stop.
 */
static int
dense_cholesky_lower(double *A, int n, RsStopClock *clock)
{
	int			i,
				j,
				c;

	for (j = 0; j < n; j++)
	{
		double	   *aj = A + (size_t) j * n;
		double		d = aj[j];

		for (c = 0; c < j; c++)
			d -= aj[c] * aj[c];
		if (!(d > 0.0) || !isfinite(d))
			return RS_ALS_ERR_NOT_PD;
		d = sqrt(d);
		aj[j] = d;
		for (i = j + 1; i < n; i++)
		{
			double	   *ai = A + (size_t) i * n;
			double		sum = ai[j];

			for (c = 0; c < j; c++)
				sum -= ai[c] * aj[c];
			ai[j] = sum / d;
		}
		if (rs_stop_tick(clock, (int64_t) j * (n - j)))
			return RS_ALS_STOPPED;
	}
	return RS_ALS_OK;
}

/*
 * A Gamma(shape, 1) draw by Marsaglia and Tsang ("A simple method for
 * generating gamma variables", ACM TOMS 2000), boosted for shape < 1.
 * Normals come from the stream nseed, uniforms from useed, both at
 * *counter, which advances past every draw used.
 */
static double
gamma_draw(double shape, uint64_t nseed, uint64_t useed, uint64_t *counter)
{
	double		boost = 1.0,
				d,
				c;

	if (shape < 1.0)
	{
		double		u = rs_rng_uniform_double(useed, (*counter)++);

		boost = pow(1.0 - u, 1.0 / shape);
		shape += 1.0;
	}
	d = shape - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;)
	{
		double		x = rs_rng_normal(nseed, *counter),
					v = 1.0 + c * x,
					u;

		u = rs_rng_uniform_double(useed, *counter);
		(*counter)++;
		if (v <= 0.0)
			continue;
		v = v * v * v;
		if (log(1.0 - u) < 0.5 * x * x + d - d * v + d * log(v))
			return boost * d * v;
	}
}

/* Value a of row u of (X, xbias): a factor, or the bias for a = k. */
#define PRIOR_ROW_VALUE(u, a) \
	((a) < k ? (double) X[(size_t) (u) * k + (a)] : (double) xbias[u])

/*
 * Normal-Wishart draw of the rows' prior.  With d-vectors x_u, their mean
 * xbar and scatter S = sum (x_u - xbar)(x_u - xbar)^T:
 *		W_n^-1 = I + S + (beta0 n / (beta0 + n)) xbar xbar^T = C C^T
 *		precision ~ Wishart(W_n, nu0 + n) = B B^T,  B = C^-T A
 * (Bartlett: A lower triangular, A_aa^2 ~ chi^2(nu0 + n - a), A_ac ~
 * N(0, 1)); then mean ~ N(n xbar / (beta0 + n), ((beta0 + n) precision)^-1)
 * = mu_n + G^-T z with beta_n precision = G G^T.
 */
int
rs_als_sample_prior(const float *X, const float *xbias, int64_t n, int k,
					uint64_t seed, double *prior_mean,
					double *prior_precision, double *workspace,
					RsStopFn stop, void *stop_arg)
{
	RsStopClock clock = rs_stop_clock(stop, stop_arg);
	int			status;
	int			d = k + (xbias != NULL ? 1 : 0);
	double	   *C,
			   *S,
			   *B,
			   *xbar,
			   *z;
	double		beta0 = RS_ALS_PRIOR_BETA0,
				beta_n,
				nu_n;
	uint64_t	nseed = rs_rng_mix64(seed ^ UINT64_C(0x5072696f724e6f72));
	uint64_t	useed = rs_rng_mix64(seed ^ UINT64_C(0x5072696f72556e69));
	uint64_t	counter = 0;
	int64_t		u;
	int			a,
				c,
				l;

	if (k <= 0 || k > RS_ALS_MAX_K || n < 0 || (n > 0 && X == NULL) ||
		prior_mean == NULL || prior_precision == NULL || workspace == NULL)
		return RS_ALS_ERR_ARGUMENT;
	C = workspace;
	S = C + (size_t) d * d;
	B = S + (size_t) d * d;
	xbar = B + (size_t) d * d;
	z = xbar + d;
	beta_n = beta0 + (double) n;
	nu_n = (double) d + (double) n;		/* nu0 = d */

	/* mean and scatter (two passes), upper triangle of S */
	memset(xbar, 0, sizeof(double) * d);
	memset(S, 0, sizeof(double) * d * d);
	for (u = 0; u < n; u++)
	{
		for (a = 0; a < d; a++)
			xbar[a] += PRIOR_ROW_VALUE(u, a);
		if (rs_stop_tick(&clock, d))
			return RS_ALS_STOPPED;
	}
	for (a = 0; a < d && n > 0; a++)
		xbar[a] /= (double) n;
	for (u = 0; u < n; u++)
	{
		for (a = 0; a < d; a++)
			z[a] = PRIOR_ROW_VALUE(u, a) - xbar[a];
		for (a = 0; a < d; a++)
		{
			double	   *srow = S + (size_t) a * d;
			double		za = z[a];

			for (c = a; c < d; c++)
				srow[c] += za * z[c];
		}
		if (rs_stop_tick(&clock, (int64_t) d * d / 2))
			return RS_ALS_STOPPED;
	}

	/* W_n^-1 = C C^T (lower triangle of C) */
	for (a = 0; a < d; a++)
		for (c = 0; c <= a; c++)
			C[(size_t) a * d + c] = (a == c ? 1.0 : 0.0) + S[(size_t) c * d + a] +
				beta0 * (double) n / beta_n * xbar[a] * xbar[c];
	status = dense_cholesky_lower(C, d, &clock);
	if (status != RS_ALS_OK)
		return status;

	/* Bartlett factor A (lower), then B = C^-T A column by column */
	memset(B, 0, sizeof(double) * d * d);
	for (a = 0; a < d; a++)
	{
		B[(size_t) a * d + a] = sqrt(2.0 * gamma_draw((nu_n - a) / 2.0, nseed,
													  useed, &counter));
		for (c = 0; c < a; c++)
			B[(size_t) a * d + c] = rs_rng_normal(nseed, counter++);
	}
	for (c = 0; c < d; c++)
	{
		for (a = d - 1; a >= 0; a--)
		{
			double		sum = B[(size_t) a * d + c];

			for (l = a + 1; l < d; l++)
				sum -= C[(size_t) l * d + a] * B[(size_t) l * d + c];
			B[(size_t) a * d + c] = sum / C[(size_t) a * d + a];
		}
		if (rs_stop_tick(&clock, (int64_t) d * d / 2))
			return RS_ALS_STOPPED;
	}

	/* precision = B B^T */
	for (a = 0; a < d; a++)
	{
		for (c = 0; c <= a; c++)
		{
			double		sum = 0.0;

			for (l = 0; l < d; l++)
				sum += B[(size_t) a * d + l] * B[(size_t) c * d + l];
			prior_precision[(size_t) a * d + c] = sum;
			prior_precision[(size_t) c * d + a] = sum;
		}
		if (rs_stop_tick(&clock, (int64_t) a * d))
			return RS_ALS_STOPPED;
	}

	/* mean = n xbar / beta_n + G^-T z, beta_n precision = G G^T (G in S) */
	for (a = 0; a < d; a++)
		for (c = 0; c <= a; c++)
			S[(size_t) a * d + c] = beta_n * prior_precision[(size_t) a * d + c];
	status = dense_cholesky_lower(S, d, &clock);
	if (status != RS_ALS_OK)
		return status;
	for (a = 0; a < d; a++)
		z[a] = rs_rng_normal(nseed, counter++);
	for (a = d - 1; a >= 0; a--)
	{
		double		sum = z[a];

		for (l = a + 1; l < d; l++)
			sum -= S[(size_t) l * d + a] * z[l];
		z[a] = sum / S[(size_t) a * d + a];
	}
	for (a = 0; a < d; a++)
		prior_mean[a] = (double) n * xbar[a] / beta_n + z[a];
	return RS_ALS_OK;
}

#undef PRIOR_ROW_VALUE

