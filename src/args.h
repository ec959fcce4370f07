/*-------------------------------------------------------------------------
 *
 * args.h
 *		Checking the arguments of recsys's SQL functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_ARGS_H
#define RECSYS_ARGS_H

#include "postgres.h"

#include "fmgr.h"

#include "ingest.h"

/* The range of k, the number of rows a serving function returns. */
#define RECSYS_MIN_K 1
#define RECSYS_MAX_K 10000

extern void RsRequireArg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern int32 RsIntArg(FunctionCallInfo fcinfo, int argno, const char *argname,
					  int32 min, int32 max);
extern double RsFloatArg(FunctionCallInfo fcinfo, int argno, const char *argname,
						 double min, double max, double if_null);
extern char *RsTextArg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern int	RsKArg(FunctionCallInfo fcinfo, int argno);
extern void RsRefuseRemovedArg(FunctionCallInfo fcinfo, int argno, const char *old_name,
							   const char *new_name);
extern void RsSourceSpecFromArgs(FunctionCallInfo fcinfo, int first_argno,
								 RsSourceSpec *spec);

#endif							/* RECSYS_ARGS_H */
