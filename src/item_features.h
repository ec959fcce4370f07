/*-------------------------------------------------------------------------
 *
 * item_features.h
 *		Reading a table of item features (side information) for hybrid
 *		models.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_ITEM_FEATURES_H
#define RECSYS_ITEM_FEATURES_H

#include "postgres.h"

#include "idmap.h"
#include "sparse.h"

/* What reading the features found, for the model's stats. */
typedef struct RsItemFeatureCounts
{
	int64		pairs;			/* distinct (item, feature) pairs of the model's items */
	int32		features;		/* distinct features of the model's items */
	int32		items;			/* the model's items with at least one feature */
} RsItemFeatureCounts;

/* A relation of (id, feature[, value]) rows and how its argument is named. */
typedef struct RsFeatureRelation
{
	Oid			relid;
	const char *argname;		/* "features", "item_features", "user_features" */
	const char *side;			/* "item" or "user", for messages */
	const char *id_col;			/* the ids' column, named as the source's */
	const char *id_argname;		/* "item_col" or "user_col" */
	bool		with_values;	/* read a "value" column if there is one */
	double		max_value;		/* largest |value| accepted; 0: FLT_MAX */
} RsFeatureRelation;

extern float RsFeatureValue(double value, double max_value, const char *argname);
extern void RsReadFeatures(const RsFeatureRelation *rel, const RsIdMap *ids, Size other_bytes,
						   RsCsr *features, RsItemFeatureCounts *counts, char **names[]);
extern void RsReadItemFeatures(Oid relid, const char *item_col, const RsIdMap *items,
							   Size other_bytes, RsCsr *features,
							   RsItemFeatureCounts *counts);

#endif							/* RECSYS_ITEM_FEATURES_H */
