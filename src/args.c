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

#include <math.h>

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
	{
		/*
		 * The refused value with as many digits as it takes to tell it
		 * from the bounds (%g would print 1.0000001 as 1, and "must be at
		 * most 1, not 1" explains nothing); %g's six where they suffice.
		 */
		char		shown[32];

		for (int digits = 6; digits <= 17; digits++)
		{
			snprintf(shown, sizeof(shown), "%.*g", digits, value);
			if (isnan(value) || strtod(shown, NULL) == value)
				break;
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %g and %g, not %s", argname, min, max, shown)));
	}
	return value;
}

/* RsTextArg returns a non-NULL text argument as a C string. */
char *
RsTextArg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	RsRequireArg(fcinfo, argno, argname);
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* RsKArg returns the k argument of a serving function. */
int
RsKArg(FunctionCallInfo fcinfo, int argno)
{
	return RsIntArg(fcinfo, argno, "k", RECSYS_MIN_K, RECSYS_MAX_K);
}

/*
 * RsRefuseRemovedArg refuses an argument that 0.7.0 removed: 0.6.0 kept a
 * renamed argument's 0.5.0 name as a trailing parameter (argno), and the
 * 0.6.0 SQL definitions still pass it to this library until ALTER
 * EXTENSION recsys UPDATE.  Ignoring a value given there would train on
 * something else than asked (no weights, say), so it is an error.  The
 * 0.7.0 definitions have no such parameter: PostgreSQL itself refuses the
 * old name.
 */
void
RsRefuseRemovedArg(FunctionCallInfo fcinfo, int argno, const char *old_name,
				   const char *new_name)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("argument %s was removed in recsys 0.7.0, use %s", old_name, new_name),
			 errhint("The function's SQL definition is older than the library: run ALTER EXTENSION recsys UPDATE.")));
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
	spec->event_col = NULL;
	spec->events = NULL;
}
