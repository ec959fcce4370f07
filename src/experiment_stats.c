/*-------------------------------------------------------------------------
 *
 * experiment_stats.c
 *		The distribution functions the experiments' results need, callable
 *		from SQL (recsys._norm_cdf and friends); the numerics are in
 *		src/kernel/stats.c.
 *
 * experiment_results and interleaving_results (sql/recsys.sql) compute
 * their sums in SQL and ask these for the p-values and quantiles, which
 * PostgreSQL does not provide.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"

#include "stats.h"

PG_FUNCTION_INFO_V1(recsys_norm_cdf);
PG_FUNCTION_INFO_V1(recsys_norm_quantile);
PG_FUNCTION_INFO_V1(recsys_t_two_sided_p);
PG_FUNCTION_INFO_V1(recsys_binom_cdf);

/*
 * Return a result, or NULL when the inputs lie outside the function's
 * domain (the callers pass NULL on for a statistic that does not exist yet,
 * such as a variance with one user).
 */
#define RETURN_OR_NULL(x) \
	do { double r_ = (x); if (isnan(r_)) PG_RETURN_NULL(); PG_RETURN_FLOAT8(r_); } while (0)

/*
 * recsys._norm_cdf(x float8): P(Z <= x) for a standard normal Z
 */
Datum
recsys_norm_cdf(PG_FUNCTION_ARGS)
{
	RETURN_OR_NULL(rs_norm_cdf(PG_GETARG_FLOAT8(0)));
}

/*
 * recsys._norm_quantile(p float8): the standard normal's p-quantile
 */
Datum
recsys_norm_quantile(PG_FUNCTION_ARGS)
{
	RETURN_OR_NULL(rs_norm_quantile(PG_GETARG_FLOAT8(0)));
}

/*
 * recsys._t_two_sided_p(t float8, df float8): two-sided p-value of t
 */
Datum
recsys_t_two_sided_p(PG_FUNCTION_ARGS)
{
	RETURN_OR_NULL(rs_t_two_sided_p(PG_GETARG_FLOAT8(0), PG_GETARG_FLOAT8(1)));
}

/*
 * recsys._binom_cdf(k float8, n float8, p float8): P(X <= k), X ~ B(n, p)
 */
Datum
recsys_binom_cdf(PG_FUNCTION_ARGS)
{
	RETURN_OR_NULL(rs_binom_cdf(PG_GETARG_FLOAT8(0), PG_GETARG_FLOAT8(1), PG_GETARG_FLOAT8(2)));
}
