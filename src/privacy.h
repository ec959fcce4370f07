/*-------------------------------------------------------------------------
 *
 * privacy.h
 *		Differentially private training of the item-item models (the glue
 *		of src/kernel/dp.c for train_ease and train_item_knn).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_PRIVACY_H
#define RECSYS_PRIVACY_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"

#include "ingest.h"

/* delta when epsilon is given without it; see doc/reference.md */
#define RS_DP_DEFAULT_DELTA 1e-7
/* the clip when max_user_items is not given */
#define RS_DP_DEFAULT_MAX_USER_ITEMS 50
#define RS_DP_MAX_EPSILON 100
#define RS_DP_MAX_USER_ITEMS 100000

typedef struct RsPrivacy
{
	bool		enabled;		/* epsilon was given */
	double		epsilon;
	double		delta;
	int			max_user_items; /* the clip: what one user may contribute */
	bool		seeded;			/* seed given (tests); never stored */
	uint64		seed;
	double		sensitivity;	/* L2, of the Gram's upper triangle + user count */
	double		sigma;			/* the Gaussian noise's standard deviation */
	/* filled by RsPrivateGram: */
	float	   *noisy_counts;	/* each item's noisy (clipped) user count */
	int64		noisy_users;
	int64		noisy_interactions;
} RsPrivacy;

extern void RsPrivacyArgs(FunctionCallInfo fcinfo, int argno, RsPrivacy *privacy);
extern void RsPrivacyRefuse(const RsPrivacy *privacy, bool refused, const char *what);
extern void RsPrivateGram(RsPrivacy *privacy, const RsInteractions *data, float *G);
extern void RsPrivacyDescribe(const RsPrivacy *privacy, StringInfo params);
extern void RsPrivacyWriteItemStats(const RsPrivacy *privacy, const char *name, int32 version,
									const RsInteractions *data);

#endif							/* RECSYS_PRIVACY_H */
