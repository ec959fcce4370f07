/*-------------------------------------------------------------------------
 *
 * model_load.h
 *		Reading a model's artefact tables into its memory context.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_MODEL_LOAD_H
#define RECSYS_MODEL_LOAD_H

#include "postgres.h"

#include "model.h"

extern void RsModelCorrupt(RsModel *model, const char *what) pg_attribute_noreturn();
extern void RsModelInitMap(RsModel *model, RsIdMap *map, int64 n);
extern void *RsModelAlloc(RsModel *model, Size size);
extern void RsLoadItems(RsModel *model, int64 n_items);
extern float *RsLoadParameter(RsModel *model, const char *parameter, int ndims,
							  int32 *shape);
extern float *RsLoadMeanHistory(RsModel *model, int64 n_users, bool binary);
extern bool RsReadUserVector(RsModel *model, SPIPlanPtr *plan, int64 user_id, int length,
							 float *vector, float *bias, const char *what);
extern void RsLoadNeighborLists(RsModel *model, bool users, RsIdMap *user_map, RsCsr *m);

#endif							/* RECSYS_MODEL_LOAD_H */
