/*-------------------------------------------------------------------------
 *
 * blend.h
 *		Blend models: weighted sums of other models' standardised scores.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_BLEND_H
#define RECSYS_BLEND_H

#include "postgres.h"

#include "fold_in.h"
#include "model_cache.h"
#include "recommend.h"

extern void RsLoadBlendMembers(RsModel *blend);
extern bool RsResolveBlendMembers(RsModel *blend);
extern bool RsBlendScores(RsModel *blend, int64 user_id, const RsUserItems *items,
						  float *scores);
extern bool RsBlendSessionScores(RsModel *blend, const RsWeightedItem *pairs, int n_pairs,
								 float *scores);
extern int	RsBlendContributions(RsModel *blend, int64 user_id, int64 item_id,
								 RsContribution **out);

#endif							/* RECSYS_BLEND_H */
