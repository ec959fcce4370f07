/*-------------------------------------------------------------------------
 *
 * fold_in.h
 *		Folding interactions into a user vector of a trained factor model.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_FOLD_IN_H
#define RECSYS_FOLD_IN_H

#include "postgres.h"

#include "model_cache.h"

/* One interaction: an item's dense index in the model and its weight. */
typedef struct RsWeightedItem
{
	int32		item;
	float		weight;
} RsWeightedItem;

extern bool RsFoldIn(RsModel *model, RsWeightedItem *pairs, int n, float *x, float *bias);

#endif							/* RECSYS_FOLD_IN_H */
