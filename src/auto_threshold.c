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
 * kernel draws sign flips of the users' gain vectors; here the draws are
 * made in chunks, with a check for interrupts between them (a large
 * data set's users times 10,000 draws takes seconds).
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

/* draws per chunk between two checks for interrupts */
#define MAX_Z_CHUNK 256

/* the most draws a call may ask for (the kernel's counters are int64) */
#define MAX_Z_MAX_DRAWS 1000000

/* the most weights (the kernel's limit) */
#define MAX_Z_MAX_WEIGHTS 64

/*
 * recsys_auto_max_z_threshold(base double precision[], extended double
 * precision[][], single_z double precision, seed bigint, draws integer)
 * returns double precision: base holds the users' values under the blend
 * extended (one per user), extended one row per weight scored (the same
 * users' values under the blend at that weight, in the same order); the
 * gains extended[w][u] - base[u] are tested at the level of the single
 * test whose threshold is single_z (alpha = 1 - Phi(single_z)).  NULL
 * below two users or when a value is not finite (no z: _auto_paired_z
 * gives such a gain 0); single_z when every gain is 0.
 */
Datum
recsys_auto_max_z_threshold(PG_FUNCTION_ARGS)
{
	ArrayType  *base_a = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *ext_a = PG_GETARG_ARRAYTYPE_P(1);
	double		single_z = PG_GETARG_FLOAT8(2);
	uint64		seed = (uint64) PG_GETARG_INT64(3);
	int32		draws = PG_GETARG_INT32(4);
	int			users,
				weights;
	const double *base,
			   *ext;
	double	   *gains,
			   *maxima;
	double		level;
	RsMaxZStatus status;
	double		threshold;

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
	if (users < 2)
		PG_RETURN_NULL();

	/* the gains, users x weights, row-major as the kernel takes them */
	base = (const double *) ARR_DATA_PTR(base_a);
	ext = (const double *) ARR_DATA_PTR(ext_a);
	gains = palloc(sizeof(double) * (Size) users * weights);
	for (int u = 0; u < users; u++)
		for (int w = 0; w < weights; w++)
			gains[(Size) u * weights + w] = ext[(Size) w * users + u] - base[u];

	/* the single test's level, from its tail (precise for large z) */
	level = rs_norm_cdf(-single_z);
	status = rs_max_z_check(gains, users, weights, draws, level);
	if (status == RS_MAXZ_FEW_USERS || status == RS_MAXZ_NOT_FINITE)
		PG_RETURN_NULL();
	if (status == RS_MAXZ_NO_SPREAD)
		PG_RETURN_FLOAT8(single_z);
	if (status != RS_MAXZ_OK)
		elog(ERROR, "recsys._auto_max_z_threshold: the kernel refused its arguments (%d)", (int) status);

	maxima = palloc(sizeof(double) * draws);
	for (int first = 0; first < draws; first += MAX_Z_CHUNK)
	{
		CHECK_FOR_INTERRUPTS();
		rs_max_z_draws(gains, users, weights, seed, first, Min(MAX_Z_CHUNK, draws - first), maxima + first);
	}
	threshold = rs_max_z_quantile(maxima, draws, level);
	pfree(maxima);
	pfree(gains);
	PG_RETURN_FLOAT8(threshold);
}
