/*-------------------------------------------------------------------------
 *
 * tune_search.c
 *		tune_search's objective: NDCG@10 of the searches' rows under a
 *		weight vector, from the feature differences between each row's
 *		bought item and its competing candidates (recsys._search_ndcg).
 *		The features are search's (text, personal, popularity, bought,
 *		position: as many as there are weights), a pair's differences
 *		stored one after the other.
 *
 * tune_search's coordinate ascent evaluates it a few hundred times over
 * the same pairs.  The pairs are arrays built by one statement, not a
 * temporary table, so that a role without TEMPORARY on the database can
 * tune; as SQL over those arrays (an unnest and a hash aggregate per
 * evaluation) tuning took twice as long as over the old temporary table,
 * so the objective is this loop.  It computes what the SQL did, in the
 * same arithmetic: a pair's weighted difference in real (each product
 * and sum rounded to float, no fused multiply-add), NaN above every
 * number as in PostgreSQL's ordering, the gains in double precision.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(recsys_search_ndcg);

/*
 * The number of elements of an array argument without NULLs, of at most
 * max_ndim dimensions (p_diff: array_agg's one row of differences per
 * pair), and its data.
 */
static void *
pair_array(FunctionCallInfo fcinfo, int argno, const char *name, Oid type, int max_ndim, int *n)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(argno);

	if (ARR_ELEMTYPE(a) != type || ARR_NDIM(a) > max_ndim)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be an array of at most %d dimensions", name, max_ndim)));
	if (array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain NULL", name)));
	*n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	return ARR_DATA_PTR(a);
}

/*
 * A pair's weighted feature difference (n features) as SQL's real
 * arithmetic gives it: every product and sum rounded to float, in the
 * features' order (the volatile stores keep the compiler from fusing a
 * multiply and an add).
 */
static float
weighted_difference(const float *diff, const float *w, int n)
{
	volatile float d = diff[0] * w[0];

	for (int f = 1; f < n; f++)
	{
		volatile float t = diff[f] * w[f];

		d = d + t;
	}
	return d;
}

/*
 * recsys_search_ndcg(w real[], p_row bigint[], p_diff real[],
 * p_before boolean[], n_alone bigint, n_rows bigint) returns double
 * precision: p_diff holds cardinality(w) feature differences per pair
 * (pair after pair); each row (1..n_rows) that has
 * pairs ranks its item 1 + the number of its competitors whose weighted
 * difference is positive, or zero with a smaller item id (p_before);
 * NDCG@10 sums 1 / log2(rank + 1) over ranks up to 10, adds n_alone
 * (rows whose item is alone, rank 1) and divides by n_rows.
 */
Datum
recsys_search_ndcg(PG_FUNCTION_ARGS)
{
	int			n_w;
	const float *w = pair_array(fcinfo, 0, "w", FLOAT4OID, 1, &n_w);
	int			n;
	const int64 *row = pair_array(fcinfo, 1, "p_row", INT8OID, 1, &n);
	int			n_diff,
				n_before;
	const float *diff = pair_array(fcinfo, 2, "p_diff", FLOAT4OID, 2, &n_diff);
	const bool *before = pair_array(fcinfo, 3, "p_before", BOOLOID, 1, &n_before);
	int64		n_alone = PG_GETARG_INT64(4);
	int64		n_rows = PG_GETARG_INT64(5);
	int32	   *ahead;
	bool	   *has_pairs;
	double		gain = 0;

	if (n_w < 1 || n_w > 16)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("w must have between 1 and 16 weights, not %d", n_w)));
	if ((int64) n_diff != (int64) n * n_w || n_before != n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("p_diff must have cardinality(w) elements per pair and p_before one")));
	/* (as rows, one per pair: each of cardinality(w) elements) */
	if (ARR_NDIM(PG_GETARG_ARRAYTYPE_P(2)) == 2 && ARR_DIMS(PG_GETARG_ARRAYTYPE_P(2))[1] != n_w)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("p_diff's rows must have cardinality(w) elements, %d, not %d",
						n_w, ARR_DIMS(PG_GETARG_ARRAYTYPE_P(2))[1])));
	if (n_rows < 1 || n_rows > (int64) (MaxAllocSize / sizeof(int32)) - 1 ||
		n_alone < 0 || n_alone > n_rows)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_rows must be between 1 and %d and n_alone between 0 and n_rows",
						(int) (MaxAllocSize / sizeof(int32)) - 1)));
	ahead = palloc0(sizeof(int32) * (n_rows + 1));
	has_pairs = palloc0(sizeof(bool) * (n_rows + 1));
	for (int i = 0; i < n; i++)
	{
		float		d;

		if ((i & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		if (row[i] < 1 || row[i] > n_rows)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("p_row must hold rows between 1 and %lld, not %lld",
							(long long) n_rows, (long long) row[i])));
		d = weighted_difference(diff + (int64) i * n_w, w, n_w);
		has_pairs[row[i]] = true;
		if (isnan(d) || d > 0 || (d == 0 && before[i]))
			ahead[row[i]]++;
	}
	for (int64 r = 1; r <= n_rows; r++)
		if (has_pairs[r] && ahead[r] + 1 <= 10)
			gain += log(2.0) / log(ahead[r] + 2.0);
	pfree(ahead);
	pfree(has_pairs);
	PG_RETURN_FLOAT8((gain + (double) n_alone) / (double) n_rows);
}
