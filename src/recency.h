/*-------------------------------------------------------------------------
 *
 * recency.h
 *		Weighting a user's history by how recent each interaction is.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_RECENCY_H
#define RECSYS_RECENCY_H

#include "postgres.h"

#include "fmgr.h"
#include "ingest.h"

extern bool RsTimeDecayArgs(FunctionCallInfo fcinfo, int time_argno, Oid relid,
							const char **time_col, double *half_life);
extern void RsRequireTimedRow(const RsSourceSpec *spec, const char *time_col);
extern char *RsTimeEpochSql(Oid relid, const char *time_col, const char *argname);
extern void RsRefuseInfiniteTime(double seconds, const char *time_col);
extern void RsRefuseNonFiniteTime(double seconds, const char *time_col);
extern void RsRefuseInfiniteTimes(Oid relid, const char *time_col);
extern void RsRecencyWeights(const double *seconds, int n, double half_life,
							 const char *time_col, float *weight);

#endif							/* RECSYS_RECENCY_H */
