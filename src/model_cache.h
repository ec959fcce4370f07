/*-------------------------------------------------------------------------
 *
 * model_cache.h
 *		Trained models loaded into backend memory for serving.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_MODEL_CACHE_H
#define RECSYS_MODEL_CACHE_H

#include "postgres.h"

#include "executor/spi.h"

#include "model.h"

extern RsStatementStamp RsCurrentStatement(void);
extern bool RsSameStatement(const RsStatementStamp *a, const RsStatementStamp *b);
/* recsys.cache_size, in kB: models a backend keeps loaded beyond those in use */
#define RECSYS_DEFAULT_CACHE_SIZE_KB (1024 * 1024)	/* 1 GB */
#define RECSYS_MAX_CACHE_SIZE_KB INT_MAX

extern void RsModelCacheInit(void);
extern RsModel *RsGetModel(const char *name);
extern int32 RsModelItemIndex(RsModel *model, int64 item_id);
extern void RsDropPlan(RsModel *model, SPIPlanPtr plan);

#endif							/* RECSYS_MODEL_CACHE_H */
