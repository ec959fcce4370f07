/*-------------------------------------------------------------------------
 *
 * train_common.c
 *		What every recsys training function shares: argument checks, the
 *		memory budget, the item statistics every model stores (its cold-start
 *		fallback), and returning the catalog row of the trained model.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "args.h"
#include "recsys.h"
#include "spi_util.h"
#include "train_common.h"

/* RsIntArg returns a non-NULL integer argument within [min, max]. */
int32
RsIntArg(FunctionCallInfo fcinfo, int argno, const char *argname, int32 min, int32 max)
{
	int32		value;

	RsRequireArg(fcinfo, argno, argname);
	value = PG_GETARG_INT32(argno);
	if (value < min || value > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d and %d, not %d", argname, min, max, value)));
	return value;
}

/*
 * RsFloatArg returns a finite float8 argument within [min, max], or
 * if_null when the argument is NULL (pass NAN to make NULL an error).
 */
double
RsFloatArg(FunctionCallInfo fcinfo, int argno, const char *argname,
		   double min, double max, double if_null)
{
	double		value;

	if (PG_ARGISNULL(argno))
	{
		if (isnan(if_null))
			RsRequireArg(fcinfo, argno, argname);
		return if_null;
	}
	value = PG_GETARG_FLOAT8(argno);
	if (isnan(value) || value < min || value > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %g and %g, not %g", argname, min, max, value)));
	return value;
}

/* RsTextArg returns a non-NULL text argument as a C string. */
char *
RsTextArg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	RsRequireArg(fcinfo, argno, argname);
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* RsSeconds returns a monotonic clock reading in seconds. */
double
RsSeconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The bytes of the interaction matrices (CSR and CSC) of a source. */
Size
RsInteractionBytes(const RsInteractions *data)
{
	return 2 * ((Size) data->by_user.nnz * (sizeof(int32) + sizeof(float))) +
		((Size) data->users.count + data->items.count + 2) * sizeof(int64);
}

/*
 * RsCheckTrainingMemory refuses to allocate a model's working set when it
 * and the interaction matrices together exceed recsys.max_memory.
 */
void
RsCheckTrainingMemory(const char *what, Size bytes, const RsInteractions *data)
{
	Size		matrices = RsInteractionBytes(data);
	Size		total = bytes + matrices;

	if (total > RECSYS_MAX_MEMORY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("training needs %.1f MB (%s %.1f MB, interactions %.1f MB), more than recsys.max_memory (%d MB)",
						total / 1048576.0, what, bytes / 1048576.0, matrices / 1048576.0,
						recsys_max_memory_mb),
				 errhint("Raise recsys.max_memory, or train with smaller settings or a smaller source.")));
}

/* RsDescribeSource adds the source's column names to a params object. */
void
RsDescribeSource(const RsSourceSpec *spec, StringInfo params)
{
	RsJsonText(params, "user_col", spec->user_col);
	RsJsonText(params, "item_col", spec->item_col);
	RsJsonText(params, "weight_col", spec->weight_col);
}

/* RsRequireInteractions refuses to train on a source without rows. */
void
RsRequireInteractions(const RsSourceSpec *spec, const RsInteractions *data)
{
	if (data->by_user.nnz == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\" has no interactions to train on", get_rel_name(spec->relid)),
				 errdetail("%lld rows read, %lld skipped for NULL ids or weights.",
						   (long long) data->rows_read, (long long) data->rows_skipped)));
}

/*
 * RsWriteItemStatsFromData stores every item's user count and weight sum;
 * the popularity score is the user count.
 */
void
RsWriteItemStatsFromData(const char *name, int32 version, const RsInteractions *data)
{
	int32		n = data->items.count;
	int32	   *users = palloc(sizeof(int32) * Max(n, 1));
	float	   *weight = palloc(sizeof(float) * Max(n, 1));
	float	   *popularity = palloc(sizeof(float) * Max(n, 1));

	for (int32 i = 0; i < n; i++)
	{
		double		sum = 0;

		for (int64 p = data->by_item.indptr[i]; p < data->by_item.indptr[i + 1]; p++)
			sum += data->by_item.data[p];
		users[i] = (int32) (data->by_item.indptr[i + 1] - data->by_item.indptr[i]);
		weight[i] = (float) sum;
		popularity[i] = (float) users[i];
	}
	RsWriteItemStats(name, version, data->items.ids, n, users, weight, popularity);
	pfree(users);
	pfree(weight);
	pfree(popularity);
}

/*
 * RsModelRowDatum returns the recsys.models row of a model as the
 * composite result of a training function.
 */
Datum
RsModelRowDatum(FunctionCallInfo fcinfo, const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	Datum		result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT * FROM recsys.models WHERE name OPERATOR(pg_catalog.=) $1",
			  1, argtypes, values, NULL, false, SPI_OK_SELECT);
	if (SPI_processed != 1)
		elog(ERROR, "model \"%s\" vanished after training", name);
	result = PointerGetDatum(SPI_returntuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc));
	SPI_finish();
	return result;
}
