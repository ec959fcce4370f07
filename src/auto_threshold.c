/*-------------------------------------------------------------------------
 *
 * auto_threshold.c
 *		train_auto's calibrated threshold for a blend member's weight chosen
 *		among several on the same users (recsys._auto_max_z_threshold):
 *		the SQL glue of the max-T kernel in src/kernel/stats.c.
 *
 * The weights' gains are the same blend at nearby weights, so strongly
 * correlated: a fixed 1.96 (right for about five independent tests)
 * over-corrects, and a single test's threshold under-corrects.  The
 * kernel draws sign flips of the users' gain vectors (from 2,000 users on,
 * their normal limit: W2, the exact flips cost users x weights a draw);
 * here the draws are made in chunks of about the same work, with a
 * check for interrupts between them (review s12, W8: chunks of a fixed
 * number of draws left minutes between checks on large inputs).  The
 * decision is the sign-flip p-value's (W1: a quantile compared with >=
 * kept on a tie with an atom of the flips); the threshold returned for
 * the record is the least hundredth strictly above the critical maximum.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"

#include "stats.h"

PG_FUNCTION_INFO_V1(recsys_auto_max_z_threshold);
PG_FUNCTION_INFO_V1(recsys_auto_max_z_test);

/* multiply-adds (users x weights per draw) between two checks for interrupts */
#define MAX_Z_CHUNK_WORK ((int64) 1 << 22)

/* the most draws a call may ask for (the kernel's counters are int64) */
#define MAX_Z_MAX_DRAWS 1000000

/* the most weights (the kernel's limit) */
#define MAX_Z_MAX_WEIGHTS 64

/* What one call drew: the status, and unless NULL / no spread, the rest. */
typedef struct MaxZResult
{
	RsMaxZStatus status;
	double		single_z;
	double		level;
	double		pvalue;			/* of the chosen row's z (NaN: none chosen) */
	double		observed;		/* the chosen row's z, as the draws compute it */
	double		threshold;		/* the least hundredth above the critical maximum */
} MaxZResult;

/*
 * The shared part of both SQL functions: arguments checked, gains built,
 * draws made in chunks of about MAX_Z_CHUNK_WORK multiply-adds.  chosen
 * is a 1-based row of extended, or -1 for none.
 */
static MaxZResult
max_z_run(FunctionCallInfo fcinfo, int chosen, int32 draws)
{
	ArrayType  *base_a = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *ext_a = PG_GETARG_ARRAYTYPE_P(1);
	double		single_z = PG_GETARG_FLOAT8(2);
	uint64		seed = (uint64) PG_GETARG_INT64(3);
	int			users,
				weights;
	const double *base,
			   *ext;
	double	   *gains,
			   *maxima;
	int64		chunk;
	MaxZResult	r;

	r.single_z = single_z;
	r.pvalue = r.observed = r.threshold = NAN;
	if (ARR_ELEMTYPE(base_a) != FLOAT8OID || ARR_ELEMTYPE(ext_a) != FLOAT8OID)
		elog(ERROR, "recsys._auto_max_z_threshold: expected double precision arrays");
	if (array_contains_nulls(base_a) || array_contains_nulls(ext_a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("base and extended must not contain NULL")));
	if (ARR_NDIM(base_a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("base must be an array of one dimension (one value per user), not %d",
						ARR_NDIM(base_a))));
	users = ArrayGetNItems(ARR_NDIM(base_a), ARR_DIMS(base_a));
	if (ARR_NDIM(ext_a) != 2 && !(ARR_NDIM(ext_a) == 0 && users == 0))
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("extended must be an array of two dimensions (one row per weight, one column per user), not %d",
						ARR_NDIM(ext_a))));
	weights = ARR_NDIM(ext_a) == 2 ? ARR_DIMS(ext_a)[0] : 0;
	if (ARR_NDIM(ext_a) == 2 && ARR_DIMS(ext_a)[1] != users)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("extended's rows must have one value per user of base, %d, not %d",
						users, ARR_DIMS(ext_a)[1])));
	if (ARR_NDIM(ext_a) == 2 && (weights < 1 || weights > MAX_Z_MAX_WEIGHTS))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("extended must have between 1 and %d rows (weights), not %d",
						MAX_Z_MAX_WEIGHTS, weights)));
	if (!(single_z >= -8.0 && single_z <= 8.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("single_z must be between -8 and 8, not %g", single_z)));
	if (draws < 1 || draws > MAX_Z_MAX_DRAWS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("draws must be between 1 and %d, not %d", MAX_Z_MAX_DRAWS, draws)));
	if (chosen != -1 && (chosen < 1 || (weights > 0 && chosen > weights)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("chosen must be a row of extended, between 1 and %d, not %d", weights, chosen)));
	/* the single test's level, from its tail (precise for large z) */
	r.level = rs_norm_cdf(-single_z);
	if (users < 2)
	{
		r.status = RS_MAXZ_FEW_USERS;
		return r;
	}

	/* the gains, users x weights, row-major as the kernel takes them */
	base = (const double *) ARR_DATA_PTR(base_a);
	ext = (const double *) ARR_DATA_PTR(ext_a);
	gains = palloc(sizeof(double) * (Size) users * weights);
	for (int u = 0; u < users; u++)
		for (int w = 0; w < weights; w++)
			gains[(Size) u * weights + w] = ext[(Size) w * users + u] - base[u];

	r.status = rs_max_z_check(gains, users, weights, draws, r.level);
	if (r.status == RS_MAXZ_FEW_USERS || r.status == RS_MAXZ_NOT_FINITE || r.status == RS_MAXZ_NO_SPREAD)
	{
		pfree(gains);
		return r;
	}
	if (r.status != RS_MAXZ_OK)
		elog(ERROR, "recsys._auto_max_z_threshold: the kernel refused its arguments (%d)", (int) r.status);

	maxima = palloc(sizeof(double) * draws);
	if (users >= RS_MAXZ_GAUSS_USERS)
	{
		/* many users: the flips' normal limit, weights^2 a draw (W2) */
		double	   *chol = palloc(sizeof(double) * weights * weights);
		double	   *q = palloc(sizeof(double) * weights);

		rs_max_z_gauss_factor(gains, users, weights, chol, q);
		chunk = Max((int64) 1, MAX_Z_CHUNK_WORK / ((int64) weights * weights));
		for (int64 first = 0; first < draws; first += chunk)
		{
			CHECK_FOR_INTERRUPTS();
			rs_max_z_gauss_draws(chol, q, users, weights, seed, first, (int) Min(chunk, draws - first),
								 maxima + first);
		}
		pfree(q);
		pfree(chol);
	}
	else
	{
		chunk = Max((int64) 1, MAX_Z_CHUNK_WORK / ((int64) users * weights));
		for (int64 first = 0; first < draws; first += chunk)
		{
			CHECK_FOR_INTERRUPTS();
			rs_max_z_draws(gains, users, weights, seed, first, (int) Min(chunk, draws - first), maxima + first);
		}
	}
	if (chosen > 0)
	{
		r.observed = rs_max_z_observed(gains, users, weights, chosen - 1);
		r.pvalue = rs_max_z_pvalue(maxima, draws, r.observed);
	}
	r.threshold = rs_hundredth_above(rs_max_z_critical(maxima, draws, r.level));
	pfree(maxima);
	pfree(gains);
	return r;
}

/*
 * recsys_auto_max_z_threshold(base double precision[], extended double
 * precision[][], single_z double precision, seed bigint, draws integer)
 * returns double precision: base holds the users' values under the blend
 * extended (one per user), extended one row per weight scored (the same
 * users' values under the blend at that weight, in the same order); the
 * gains extended[w][u] - base[u] are tested at the level of the single
 * test whose threshold is single_z (alpha = 1 - Phi(single_z)): the least
 * hundredth whose z passes (strictly above the critical maximum).  NULL
 * below two users or when a value is not finite (no z: _auto_paired_z
 * gives such a gain 0); single_z when every gain is 0.
 */
Datum
recsys_auto_max_z_threshold(PG_FUNCTION_ARGS)
{
	MaxZResult	r = max_z_run(fcinfo, -1, PG_GETARG_INT32(4));

	if (r.status == RS_MAXZ_FEW_USERS || r.status == RS_MAXZ_NOT_FINITE)
		PG_RETURN_NULL();
	if (r.status == RS_MAXZ_NO_SPREAD)
		PG_RETURN_FLOAT8(r.single_z);
	PG_RETURN_FLOAT8(r.threshold);
}

/*
 * recsys_auto_max_z_test(base, extended, single_z, seed, chosen integer,
 * draws integer) returns double precision[]: {p, threshold, z} for row
 * chosen (1-based) of extended: p the sign-flip p-value of its z, (1 +
 * #{draws' maxima >= z}) / (draws + 1), to be compared with alpha =
 * 1 - Phi(single_z); threshold as recsys_auto_max_z_threshold; z the
 * row's paired z as the draws compute it.  NULL as that function; when
 * every gain is 0: {1, single_z, 0} (nothing to keep).
 */
Datum
recsys_auto_max_z_test(PG_FUNCTION_ARGS)
{
	MaxZResult	r = max_z_run(fcinfo, PG_GETARG_INT32(4), PG_GETARG_INT32(5));
	Datum		out[3];

	if (r.status == RS_MAXZ_FEW_USERS || r.status == RS_MAXZ_NOT_FINITE)
		PG_RETURN_NULL();
	if (r.status == RS_MAXZ_NO_SPREAD)
	{
		r.pvalue = 1.0;
		r.threshold = r.single_z;
		r.observed = 0.0;
	}
	out[0] = Float8GetDatum(r.pvalue);
	out[1] = Float8GetDatum(r.threshold);
	out[2] = Float8GetDatum(r.observed);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, 3, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
