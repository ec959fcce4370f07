/*-------------------------------------------------------------------------
 *
 * model_store.h
 *		Writing trained models into the recsys catalog and artefact tables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_MODEL_STORE_H
#define RECSYS_MODEL_STORE_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "ingest.h"

/* Model names are at most this long (the catalog's CHECK agrees). */
#define RECSYS_MAX_MODEL_NAME 63

/* What recsys.models and recsys.model_versions say about a training run. */
typedef struct RsModelDesc
{
	const char *name;
	const char *algorithm;
	Oid			source;
	StringInfo	params;			/* a JSON object: what was asked for */
	StringInfo	stats;			/* a JSON object: what came out */
	int64		n_users;
	int64		n_items;
	int64		n_interactions;
} RsModelDesc;

/* Which artefact table a write goes to. */
typedef enum RsSide
{
	RS_USERS,
	RS_ITEMS
} RsSide;

extern void RsCheckModelName(const char *name);
extern void RsRequireWritable(const char *function);
extern void RsRequireTrainPrivileges(const char *function);
extern bool RsLockModelForTraining(const char *name);
extern int32 RsCreateModelVersion(const RsModelDesc *desc);
extern void RsWriteFactors(RsSide side, const char *name, int32 version,
						   const int64 *ids, const float *bias,
						   const float *factors, int64 n, int k);
extern void RsWriteNeighbors(RsSide side, const char *name, int32 version,
							 const int64 *row_ids, int64 n_rows, int slots,
							 const int32 *count, const int32 *neighbor,
							 const int64 *neighbor_ids, const float *score);
extern void RsWriteItemStats(const char *name, int32 version, const int64 *ids,
							 int64 n, const int32 *n_users,
							 const float *weight_sum, const float *popularity);
extern void RsWriteItemStatsOfRows(const char *name, int32 version,
								   const RsInteractions *data, const int32 *rows, int64 n);
extern void RsWriteItemStatsFromData(const char *name, int32 version,
									 const RsInteractions *data);
extern void RsWriteParameter(const char *name, int32 version, const char *parameter,
							 const int32 *shape, int ndims, const float *values);
extern void RsCopyItemStats(const char *name, int32 version, const char *from_name,
							int32 from_version);
extern void RsActivateModelVersion(const RsModelDesc *desc, int32 version,
								   double train_seconds);

/* JSON object building for params and stats */
extern void RsJsonBegin(StringInfo buf);
extern void RsJsonText(StringInfo buf, const char *key, const char *value);
extern void RsJsonRaw(StringInfo buf, const char *key, const char *json);
extern void RsJsonInt(StringInfo buf, const char *key, int64 value);
extern void RsJsonFloat(StringInfo buf, const char *key, double value);
extern void RsJsonFloatArray(StringInfo buf, const char *key, const float *values, int n);
extern void RsJsonEnd(StringInfo buf);

#endif							/* RECSYS_MODEL_STORE_H */
