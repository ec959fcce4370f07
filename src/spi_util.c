/*-------------------------------------------------------------------------
 *
 * spi_util.c
 *		Running queries through SPI without materialising their results.
 *
 * Loading a model reads up to millions of factor rows; SPI's tuple tables
 * would copy every row into memory first.  RsStreamQuery hands each row to
 * a callback as the executor produces it instead, through a DestReceiver
 * passed to SPI_execute_plan_extended.
 *
 * Callers connect SPI themselves (SPI_connect/SPI_finish), so that several
 * queries can share one connection.  Queries take their values as $n
 * parameters, never spliced into the text, and run with search_path set to
 * pg_catalog, pg_temp: a function or operator a user creates in a schema
 * early in their search_path cannot stand in for a built-in one in
 * recsys's own queries.  (User sources are named schema-qualified, and
 * views keep the names they were created with.)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "tcop/dest.h"
#include "utils/guc.h"

#include "spi_util.h"

typedef struct CallbackReceiver
{
	DestReceiver pub;
	RsRowCallback callback;
	void	   *arg;
	uint64		rows;
} CallbackReceiver;

static bool
callback_receive(TupleTableSlot *slot, DestReceiver *self)
{
	CallbackReceiver *r = (CallbackReceiver *) self;

	slot_getallattrs(slot);
	r->callback(slot, r->arg);
	r->rows++;
	return true;
}

static void
callback_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
callback_shutdown(DestReceiver *self)
{
}

static void
callback_destroy(DestReceiver *self)
{
}

/* Run what follows with the safe search_path; returns the level to undo. */
static int
safe_search_path(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

/* Build a parameter list for SPI_execute_plan_extended. */
static ParamListInfo
make_params(int nargs, Oid *argtypes, Datum *values, const char *nulls)
{
	ParamListInfo params = makeParamList(nargs);

	for (int i = 0; i < nargs; i++)
	{
		params->params[i].value = values[i];
		params->params[i].isnull = nulls != NULL && nulls[i] == 'n';
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = argtypes[i];
	}
	return params;
}

/*
 * RsStreamQuery runs a SELECT with parameters and calls callback for every
 * row, returning the number of rows.  SPI must be connected.
 */
uint64
RsStreamQuery(const char *query, int nargs, Oid *argtypes, Datum *values,
			  const char *nulls, bool read_only,
			  RsRowCallback callback, void *arg)
{
	CallbackReceiver receiver;
	SPIExecuteOptions options;
	SPIPlanPtr	plan;
	int			ret;
	int			level;

	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = callback_receive;
	receiver.pub.rStartup = callback_startup;
	receiver.pub.rShutdown = callback_shutdown;
	receiver.pub.rDestroy = callback_destroy;
	receiver.pub.mydest = DestNone;
	receiver.callback = callback;
	receiver.arg = arg;

	level = safe_search_path();
	plan = SPI_prepare(query, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", query,
			 SPI_result_code_string(SPI_result));

	memset(&options, 0, sizeof(options));
	options.params = make_params(nargs, argtypes, values, nulls);
	options.read_only = read_only;
	options.dest = (DestReceiver *) &receiver;
	ret = SPI_execute_plan_extended(plan, &options);
	/* SPI reports a query whose rows went to our receiver as a utility */
	if (ret != SPI_OK_SELECT && ret != SPI_OK_UTILITY)
		elog(ERROR, "SPI_execute_plan_extended failed for \"%s\": %s", query,
			 SPI_result_code_string(ret));
	SPI_freeplan(plan);
	AtEOXact_GUC(true, level);
	return receiver.rows;
}

/*
 * RsExecute runs one statement with parameters and checks that SPI
 * returns the expected code; it returns SPI_processed.  SPI must be
 * connected.
 */
int
RsExecute(const char *query, int nargs, Oid *argtypes, Datum *values,
		  const char *nulls, bool read_only, int expected)
{
	int			level = safe_search_path();
	int			ret = SPI_execute_with_args(query, nargs, argtypes, values, nulls,
											read_only, 0);

	AtEOXact_GUC(true, level);
	if (ret != expected)
		elog(ERROR, "SPI_execute_with_args failed for \"%s\": %s", query,
			 SPI_result_code_string(ret));
	return (int) SPI_processed;
}
