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

/* RsKArg returns the k argument of a serving function. */
int
RsKArg(FunctionCallInfo fcinfo, int argno)
{
	return RsIntArg(fcinfo, argno, "k", RECSYS_MIN_K, RECSYS_MAX_K);
}

/*
 * RsDeprecatedArg returns the argument number to read a value from when
 * an argument was renamed: a function keeps the old name as a trailing
 * parameter (DEFAULT NULL) for one release, because PostgreSQL cannot
 * overload on parameter names and an overload with the old name would make
 * every call that leaves both out ambiguous.  Given the old name (it has
 * no default, so it is only ever given on purpose), it warns and returns
 * argno, which wins over the new name's default; else it returns
 * new_argno.  An older SQL definition without the trailing parameter
 * reads the new one.
 */
int
RsDeprecatedArg(FunctionCallInfo fcinfo, int argno, const char *old_name,
				int new_argno, const char *new_name)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return new_argno;
	ereport(WARNING,
			(errcode(ERRCODE_WARNING_DEPRECATED_FEATURE),
			 errmsg("argument %s is deprecated, use %s", old_name, new_name),
			 errdetail("recsys 0.7.0 removes the name %s.", old_name)));
	return argno;
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
