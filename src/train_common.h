/*-------------------------------------------------------------------------
 *
 * train_common.h
 *		What every recsys training function shares.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_TRAIN_COMMON_H
#define RECSYS_TRAIN_COMMON_H

#include "postgres.h"

#include "fmgr.h"

#include "ingest.h"
#include "model_store.h"

extern int32 RsIntArg(FunctionCallInfo fcinfo, int argno, const char *argname,
					  int32 min, int32 max);
extern double RsFloatArg(FunctionCallInfo fcinfo, int argno, const char *argname,
						 double min, double max, double if_null);
extern char *RsTextArg(FunctionCallInfo fcinfo, int argno, const char *argname);
extern double RsSeconds(void);
extern void RsCheckTrainingMemory(const char *what, Size bytes, const RsInteractions *data);
extern Size RsInteractionBytes(const RsInteractions *data);
extern void RsDescribeSource(const RsSourceSpec *spec, StringInfo params);
extern void RsWriteItemStatsFromData(const char *name, int32 version,
									 const RsInteractions *data);
extern Datum RsModelRowDatum(FunctionCallInfo fcinfo, const char *name);
extern void RsRequireInteractions(const RsSourceSpec *spec, const RsInteractions *data);

#endif							/* RECSYS_TRAIN_COMMON_H */
