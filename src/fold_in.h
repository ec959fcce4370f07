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

/*
 * How much an item of an anonymous session counts: 1, or for a model of
 * ratings the top rating (a visitor's items are taken as liked).
 */
static inline float
RsSessionItemWeight(const RsModel *model)
{
	return model->kind == RS_MODEL_FACTORS && model->explicit_feedback &&
		!isinf(model->rating_max) ? model->rating_max : 1;
}

extern bool RsFoldIn(RsModel *model, RsWeightedItem *pairs, int n, float *x, float *bias);
extern bool RsFoldInUserItems(RsModel *model, const RsUserItems *items, float *x, float *bias);

#endif							/* RECSYS_FOLD_IN_H */
