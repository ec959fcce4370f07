/*-------------------------------------------------------------------------
 *
 * events.h
 *		Multi-behaviour sources: a weight per event type (event_col +
 *		event_weights), applied where sources are read (training: ingest.c;
 *		serving: history.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_EVENTS_H
#define RECSYS_EVENTS_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* At most this many event types in one map. */
#define RS_MAX_EVENT_TYPES 1000

/*
 * The largest weight of an event type.  Weights are relative (a purchase
 * worth 10 views); a type weighing 1e6 and more made the trainers' systems
 * numerically singular (EASE's Gram matrix from 1e6 at lambda 5, ALS's
 * from 1e12: "not positive definite"), so larger ones are refused up front.
 */
#define RS_MAX_EVENT_WEIGHT 1000

/* event type (the column's value as text) -> weight; sorted by type */
typedef struct RsEventMap
{
	int			n;
	char	  **types;
	float	   *weights;
} RsEventMap;

extern RsEventMap *RsEventMapFromJsonb(Jsonb *jb, const char *argname);
extern RsEventMap *RsEventMapFromText(const char *json, const char *what);
extern bool RsEventWeight(const RsEventMap *map, const char *type, int len, float *weight);
extern void RsEventMapJson(StringInfo buf, const RsEventMap *map);
extern void RsCheckEventColumn(Oid relid, const char *event_col, const char *const *other_cols,
							   int n_other);

#endif							/* RECSYS_EVENTS_H */
