/*-------------------------------------------------------------------------
 *
 * diversity.h
 *		Diverse recommendation lists: the diversity and similarity_model
 *		arguments, and ranking re-ranked by maximal marginal relevance.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_DIVERSITY_H
#define RECSYS_DIVERSITY_H

#include "postgres.h"

#include "fmgr.h"

#include "model.h"

/*
 * The largest candidate pool MMR re-ranks, so also the largest k with
 * diversity: the pool's similarity matrix is pool^2 floats (4 MB).
 */
#define RECSYS_MAX_DIVERSE_POOL 1000

/* How a list is diversified: lambda 0 is the model's own ranking. */
typedef struct RsDiversity
{
	double		lambda;
	RsModel    *similarity;		/* whose item_similarity (NULL when lambda is 0) */
} RsDiversity;

extern void RsDiversityArgs(FunctionCallInfo fcinfo, int argno, RsModel *model, int k,
							RsDiversity *out);
extern int	RsDiversePoolSize(int k);
extern void RsItemSimilarityOf(RsModel *model, const int32 *idx, int n, float *out);

#endif							/* RECSYS_DIVERSITY_H */
