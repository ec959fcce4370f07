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

#include "diversity.h"
#include "model.h"

extern int	RsRankForUser(RsModel *model, int64 user_id, const RsUserItems *items,
						  uint8 *exclude, int k, float *scratch, int32 *out_idx,
						  float *out_score, RsReason *out_reason);
extern int	RsRankDiverse(RsModel *model, const RsDiversity *diversity, int64 user_id,
						  const RsUserItems *items, uint8 *exclude, int k, float *scratch,
						  int32 *out_idx, float *out_score, RsReason *out_reason);
extern bool RsReadServingItems(RsModel *model, int64 user_id, bool exclude_seen,
							   RsUserItems *out);
extern int	RsTopItems(RsModel *model, const float *scores, uint8 *exclude, int k,
					   int32 *out_idx, float *out_score, int *ranked);

#endif							/* RECSYS_RECOMMEND_H */
