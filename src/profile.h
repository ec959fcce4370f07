/*-------------------------------------------------------------------------
 *
 * profile.h
 *		Users seen as a merchandiser sees them: user_profile() (affinity per
 *		item facet) and similar_users() (the kinds' similar_users callback).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_PROFILE_H
#define RECSYS_PROFILE_H

#include "postgres.h"

/* Users and a score each, collected for the best k (RsUserScoresTop). */
typedef struct RsUserScores
{
	MemoryContext mcxt;			/* where the arrays go (NULL: current) */
	int64		n;
	int64		capacity;
	int64	   *ids;
	float	   *scores;
} RsUserScores;

extern void RsUserScoresAdd(RsUserScores *s, int64 id, float score);
extern int	RsUserScoresTop(RsUserScores *s, int k, int64 *out_ids, float *out_score);

#endif							/* RECSYS_PROFILE_H */
