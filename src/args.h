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

extern void RsRequireArg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern void RsSourceSpecFromArgs(FunctionCallInfo fcinfo, int first_argno,
								 RsSourceSpec *spec);

#endif							/* RECSYS_ARGS_H */
