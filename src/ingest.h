/*-------------------------------------------------------------------------
 *
 * ingest.h
 *		Reading a user's interaction table into sparse matrices.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_INGEST_H
#define RECSYS_INGEST_H

#include "postgres.h"

#include "idmap.h"
#include "sparse.h"

/* Which relation and columns hold the interactions. */
typedef struct RsSourceSpec
{
	Oid			relid;
	const char *user_col;
	const char *item_col;
	const char *weight_col;		/* NULL: every row counts 1 */
	const char *event_col;		/* NULL: no event types (src/events.c) */
	const struct RsEventMap *events;	/* with event_col: weight per type */
	bool		skip_unknown_events;	/* serving's reads: a type not in the
										 * map is skipped, not an error */
} RsSourceSpec;

/*
 * The interactions of a source as dense matrices.  Duplicate (user, item)
 * rows are summed.  Dense indexes follow ascending user and item ids.
 */
typedef struct RsInteractions
{
	RsCsr		by_user;		/* users x items */
	RsCsr		by_item;		/* items x users, the transpose */
	RsIdMap		users;			/* user id <-> dense index; users.ids[] sorted */
	RsIdMap		items;
	int64		rows_read;		/* rows the source returned */
	int64		rows_skipped;	/* rows with a NULL user, item or weight */
	float8		min_weight;		/* over the rows read, before summing */
	float8		max_weight;
	const char *read_path;		/* "heap" (direct scan) or "executor" (SPI) */
	int			read_workers;	/* parallel workers the read launched */
	int			read_workers_planned;	/* and its plan asked for */
	float8		read_seconds;	/* executing the scan and mapping ids */
	float8		build_seconds;	/* building the CSR and CSC matrices */
} RsInteractions;

extern bool recsys_fast_read;

extern void RsIngestInit(void);
extern void RsLockSource(const RsSourceSpec *spec);
extern void RsReadSource(const RsSourceSpec *spec, bool read_only,
						 RsInteractions *out);
extern char *RsRelationName(Oid relid);
extern void RsCheckReadableRelation(Oid relid, const char *what,
									const char *const *cols, int ncols);
extern bool RsIsIdType(Oid typid);
extern const char *RsSetOwnerReadModel(const char *model);
extern const char *RsOwnerReadModel(void);

#endif							/* RECSYS_INGEST_H */
