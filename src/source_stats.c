/*-------------------------------------------------------------------------
 *
 * source_stats.c
 *		recsys.source_stats(): what a training source looks like.
 *
 * Runs the same ingestion path as training and reports the shape of the
 * result, so a user can check a source (and its cost to read) before
 * training on it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "args.h"
#include "ingest.h"

PG_FUNCTION_INFO_V1(recsys_source_stats);

#define SOURCE_STATS_COLS 10

/*
 * recsys_source_stats(source regclass, user_col name, item_col name,
 *					   weight_col name) returns one row of statistics.
 */
Datum
recsys_source_stats(PG_FUNCTION_ARGS)
{
	RsSourceSpec spec;
	RsInteractions data;
	TupleDesc	tupdesc;
	Datum		values[SOURCE_STATS_COLS];
	bool		nulls[SOURCE_STATS_COLS] = {0};
	MemoryContext read_context;
	MemoryContext old_context;
	double		cells;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	RsSourceSpecFromArgs(fcinfo, 0, &spec);

	read_context = AllocSetContextCreate(CurrentMemoryContext,
										 "recsys source_stats",
										 ALLOCSET_DEFAULT_SIZES);
	old_context = MemoryContextSwitchTo(read_context);
	RsReadSource(&spec, true, &data);
	MemoryContextSwitchTo(old_context);

	cells = (double) data.users.count * (double) data.items.count;
	values[0] = Int64GetDatum(data.users.count);
	values[1] = Int64GetDatum(data.items.count);
	values[2] = Int64GetDatum(data.by_user.nnz);
	values[3] = Int64GetDatum(data.rows_read);
	values[4] = Int64GetDatum(data.rows_skipped);
	values[5] = Float8GetDatum(cells > 0 ? data.by_user.nnz / cells : 0.0);
	nulls[5] = cells == 0;
	values[6] = Float8GetDatum(data.min_weight);
	values[7] = Float8GetDatum(data.max_weight);
	nulls[6] = nulls[7] = data.by_user.nnz == 0;
	values[8] = Float8GetDatum(data.read_seconds);
	values[9] = Float8GetDatum(data.build_seconds);

	MemoryContextDelete(read_context);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
