/*-------------------------------------------------------------------------
 *
 * recency.c
 *		Weighting a user's history by how recent each interaction is.
 *
 * An item model trained with a time column and a half-life scores a user
 * from their history with each item weighted 0.5^(age / half_life), age
 * counted back from the user's latest interaction.  Counting from the
 * latest one rather than from now() changes every weight of a user by the
 * same factor, so rankings are the same, and a user who has been away for
 * a year does not end up with weights that underflow to zero.
 *
 * Time columns may be timestamps, dates or numbers; numbers are taken as
 * seconds (Unix epoch seconds, for instance).  Infinite times ('infinity'
 * timestamps or dates, numeric 'Infinity', numbers beyond float8's range)
 * and NaN are refused, when training and when serving: ages counted from
 * an infinite latest time are infinite minus infinite, NaN, which would
 * damage a user's vector or scores, and a NaN time would pass for NULL.
 * NULL is how a row says "no time"; numbers too small for float8 are 0.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "args.h"
#include "ingest.h"
#include "recency.h"
#include "spi_util.h"

/*
 * RsTimeDecayArgs reads a trainer's (time_col name, half_life interval)
 * arguments at time_argno and time_argno + 1: both NULL (returns false)
 * or both given, with a column of relid that holds times and a half-life
 * of at least a second (months count 30 days).
 */
bool
RsTimeDecayArgs(FunctionCallInfo fcinfo, int time_argno, Oid relid,
				const char **time_col, double *half_life)
{
	Interval   *span;

	*time_col = NULL;
	*half_life = 0;
	if (PG_ARGISNULL(time_argno) && PG_ARGISNULL(time_argno + 1))
		return false;
	if (PG_ARGISNULL(time_argno) || PG_ARGISNULL(time_argno + 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time_col and half_life go together"),
				 errhint("Pass both to weight interactions by their age, or neither.")));
	span = PG_GETARG_INTERVAL_P(time_argno + 1);
	*half_life = (double) span->time / USECS_PER_SEC +
		((double) span->day + (double) span->month * DAYS_PER_MONTH) * SECS_PER_DAY;
	if (!(*half_life >= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("half_life must be at least 1 second, not %g seconds", *half_life)));
	*time_col = NameStr(*PG_GETARG_NAME(time_argno));
	/* the column must exist, hold times now and no infinite one */
	RsRefuseInfiniteTimes(relid, *time_col);
	return true;
}

/*
 * RsRefuseInfiniteTime raises an error for an infinite time of time_col
 * (seconds, as RsTimeEpochSql gives them; NaN is a NULL time).
 */
void
RsRefuseInfiniteTime(double seconds, const char *time_col)
{
	if (isinf(seconds))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time_col \"%s\" holds %s, which is not a finite time",
						time_col, seconds > 0 ? "infinity" : "-infinity"),
				 errdetail("Interactions are weighted by their age, which an infinite time does not have; "
						   "numbers beyond float8's range count as infinite."),
				 errhint("Give those rows finite times, or NULL to count them with no weight.")));
}

/*
 * RsRefuseNonFiniteTime raises an error for a time of time_col read from a
 * row that is not NULL (seconds, as RsTimeEpochSql gives them) and is not
 * finite: NaN as well as the infinities (RsRecencyWeights takes NaN for
 * NULL, so a NaN time must not get that far).
 */
void
RsRefuseNonFiniteTime(double seconds, const char *time_col)
{
	if (isnan(seconds))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time_col \"%s\" holds NaN, which is not a time", time_col),
				 errdetail("Interactions are weighted by their age, which a NaN time does not have."),
				 errhint("Give those rows finite times, or NULL to count them with no weight.")));
	RsRefuseInfiniteTime(seconds, time_col);
}

/*
 * RsRefuseInfiniteTimes checks that time_col of relid (a trainer's
 * source, read as the caller) holds no infinite or NaN time: one pass
 * over the source, stopping at the first, after the caller's SELECT on
 * time_col is checked (the trainer checks its other columns later).
 */
void
RsRefuseInfiniteTimes(Oid relid, const char *time_col)
{
	char	   *query;
	bool		isnull;
	double		seconds;

	const char *cols[1] = {time_col};

	query = psprintf("SELECT t FROM (SELECT %s AS t FROM %s) s "
					 "WHERE t OPERATOR(pg_catalog.=) ANY ('{Infinity,-Infinity,NaN}'::pg_catalog.float8[]) LIMIT 1",
					 RsTimeEpochSql(relid, time_col, "time_col"),
					 RsRelationName(relid));
	/* recsys's own permission error (with its hint), not the scan's bare one */
	RsCheckReadableRelation(relid, "source", cols, 1);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(query, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not run \"%s\"", query);
	if (SPI_processed > 0)
	{
		seconds = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		RsRefuseNonFiniteTime(seconds, time_col);
	}
	SPI_finish();
	pfree(query);
}

/*
 * RsRequireTimedRow refuses (22023) a source (read with training's
 * snapshot: call it after RsTrainBegin) whose time_col is NULL in every
 * row with a user and an item: every interaction would weigh 0, a model
 * scoring every user 0 (EASE) or none (item-kNN).  Some NULL times are
 * fine: those rows count with no weight (RsRecencyWeights).
 */
void
RsRequireTimedRow(const RsSourceSpec *spec, const char *time_col)
{
	char	   *query;

	query = psprintf("SELECT 1 FROM (SELECT %s AS u, %s AS i, %s AS t FROM %s) s "
					 "WHERE u IS NOT NULL AND i IS NOT NULL AND t IS NOT NULL LIMIT 1",
					 quote_identifier(spec->user_col), quote_identifier(spec->item_col),
					 RsTimeEpochSql(spec->relid, time_col, "time_col"), RsRelationName(spec->relid));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (RsExecute(query, 0, NULL, NULL, NULL, true, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time_col \"%s\" is NULL in every row of the source", time_col),
				 errhint("Train without time_col and half_life, or fill the column.")));
	SPI_finish();
	pfree(query);
}

/*
 * RsTimeEpochSql checks that time_col is a column of relid that can hold
 * a time and returns an SQL expression for it in seconds (float8).
 * argname names the argument in errors.  (Serving checks first that the
 * column is still there: RsRequireSource.)
 */
char *
RsTimeEpochSql(Oid relid, const char *time_col, const char *argname)
{
	AttrNumber	attnum;
	const char *col = quote_identifier(time_col);

	/* the type read is the current one: locked first (see ingest.c) */
	LockRelationOid(relid, AccessShareLock);
	attnum = get_attnum(relid, time_col);

	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						time_col, get_rel_name(relid)),
				 errhint("Pass the name of the column that holds the interaction times as %s.",
						 argname)));

	switch (getBaseType(get_atttype(relid, attnum)))
	{
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return psprintf("pg_catalog.date_part('epoch', %s)", col);
		case DATEOID:
			return psprintf("pg_catalog.date_part('epoch', %s::pg_catalog.timestamp)", col);
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
			return psprintf("%s::pg_catalog.float8", col);
		case NUMERICOID:
			/*
			 * Beyond float8's largest value: infinite (refused); below
			 * 1e-300 (too small for float8 from about 1e-324): 0.  Not a
			 * cast's error.  NaN falls through to NaN (refused).
			 */
			return psprintf("CASE WHEN pg_catalog.abs(%s) OPERATOR(pg_catalog.<) 1e-300 THEN 0::pg_catalog.float8 "
							"WHEN pg_catalog.abs(%s) OPERATOR(pg_catalog.<=) 1.7976931348623157e308 "
							"THEN %s::pg_catalog.float8 "
							"ELSE pg_catalog.sign(%s)::pg_catalog.float8 OPERATOR(pg_catalog.*) "
							"'Infinity'::pg_catalog.float8 END", col, col, col, col);
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s column \"%s\" has type %s, which is not a time",
							argname, time_col, format_type_be(get_atttype(relid, attnum))),
					 errhint("Use a column of type timestamptz, timestamp or date, or a number of seconds.")));
	}
	pg_unreachable();
}

/*
 * RsRecencyWeights sets weight[i] = 0.5^((latest - seconds[i]) / half_life)
 * for one user's n interactions; NaN times (NULL in the source) get 0, so
 * they count as seen but add nothing to the scores.  An infinite time of
 * time_col is an error (RsRefuseInfiniteTime): the source may have gained
 * one since training checked it.
 */
void
RsRecencyWeights(const double *seconds, int n, double half_life, const char *time_col,
				 float *weight)
{
	double		latest = -INFINITY;

	for (int i = 0; i < n; i++)
	{
		RsRefuseInfiniteTime(seconds[i], time_col);
		if (!isnan(seconds[i]) && seconds[i] > latest)
			latest = seconds[i];
	}
	for (int i = 0; i < n; i++)
		weight[i] = isnan(seconds[i]) ? 0.0f :
			(float) exp2(-(latest - seconds[i]) / half_life);
}

/*
 * recsys_check_time_col(source regclass, time_col name) returns void
 * after the trainers' checks of a time column: a type that holds a time
 * (42804 otherwise) and no infinite or NaN time (22023).  split_last
 * orders each user's pairs by it (review s8, 6).
 */
PG_FUNCTION_INFO_V1(recsys_check_time_col);
Datum
recsys_check_time_col(PG_FUNCTION_ARGS)
{
	Oid			relid;
	const char *time_col;

	RsRequireArg(fcinfo, 0, "source");
	RsRequireArg(fcinfo, 1, "time_col");
	relid = PG_GETARG_OID(0);
	time_col = NameStr(*PG_GETARG_NAME(1));
	(void) RsTimeEpochSql(relid, time_col, "time_col");
	RsRefuseInfiniteTimes(relid, time_col);
	PG_RETURN_VOID();
}
