/*-------------------------------------------------------------------------
 *
 * recommend.h
 *		Ranking items for a user, shared by recommend and evaluate.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_RECOMMEND_H
#define RECSYS_RECOMMEND_H

#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"

#include "model_cache.h"

/* A user's item and its share in an item's score (explain). */
typedef struct RsContribution
{
	int64		item_id;
	float		value;
} RsContribution;

extern void RsItemContributions(RsModel *model, const RsUserItems *items, int32 j,
								int64 user_id, RsContribution *out);
extern int	RsRankForUser(RsModel *model, int64 user_id, const RsUserItems *items,
						  uint8 *exclude, int k, float *scratch, int32 *out_idx,
						  float *out_score, bool *fallback);

extern bool RsScoreAllItems(RsModel *model, int64 user_id, const RsUserItems *items,
							float *scores);
extern int	RsTopItems(RsModel *model, const float *scores, uint8 *exclude, int k,
					   int32 *out_idx, float *out_score);
extern void RsPutItemRow(ReturnSetInfo *rsinfo, int64 id, float value);

#endif							/* RECSYS_RECOMMEND_H */
