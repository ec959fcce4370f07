/*-------------------------------------------------------------------------
 *
 * args.c
 *		Checking the arguments of recsys's SQL functions.
 *
 * recsys's functions are not STRICT, because a NULL argument should get an
 * error that names it rather than a silent NULL result; these helpers give
 * every function the same messages.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "args.h"

/* RsRequireArg raises an error naming argname if the argument is NULL. */
void
RsRequireArg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname)));
}

/*
 * RsSourceSpecFromArgs reads the common (source regclass, user_col name,
 * item_col name, weight_col name) argument group starting at first_argno.
 * weight_col may be NULL.
 */
void
RsSourceSpecFromArgs(FunctionCallInfo fcinfo, int first_argno, RsSourceSpec *spec)
{
	RsRequireArg(fcinfo, first_argno, "source");
	RsRequireArg(fcinfo, first_argno + 1, "user_col");
	RsRequireArg(fcinfo, first_argno + 2, "item_col");

	spec->relid = PG_GETARG_OID(first_argno);
	spec->user_col = NameStr(*PG_GETARG_NAME(first_argno + 1));
	spec->item_col = NameStr(*PG_GETARG_NAME(first_argno + 2));
	spec->weight_col = PG_ARGISNULL(first_argno + 3) ? NULL :
		NameStr(*PG_GETARG_NAME(first_argno + 3));
}
