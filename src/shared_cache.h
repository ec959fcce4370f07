/*-------------------------------------------------------------------------
 *
 * shared_cache.h
 *		One copy of each loaded model per server, in dynamic shared memory,
 *		when recsys is in shared_preload_libraries (shared_cache.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_SHARED_CACHE_H
#define RECSYS_SHARED_CACHE_H

#include "postgres.h"

#include "utils/timestamp.h"

/* recsys.shared_cache_size, in MB: 0 turns the shared cache off */
#define RECSYS_DEFAULT_SHARED_CACHE_SIZE_MB 1024
#define RECSYS_MAX_SHARED_CACHE_SIZE_MB (INT_MAX / 2)
/* models the shared cache holds at most, whatever their size */
#define RS_SHARED_SLOTS 64
/* the catalog fingerprint is an md5: 32 hex digits */
#define RS_FINGERPRINT_LEN 32

/*
 * The fingerprint of a recsys.models row (alias: "" or "m."), which the
 * per-backend cache and the shared cache's keys compare: its params and
 * stats, its owner, and the row's xmin.  An owner may UPDATE every column
 * of the row, but not its xmin: any write to the row (a hand edit, a
 * grant, a retrain) gives it a new one, so a copy loaded before is never
 * served for the row after, and no role can make its row look like
 * another role's (doc/internals.md, "Cache keys").
 */
#define RS_MODEL_FINGERPRINT_SQL(alias) \
	"pg_catalog.md5(" alias "params::pg_catalog.text OPERATOR(pg_catalog.||) " \
	alias "stats::pg_catalog.text OPERATOR(pg_catalog.||) ' owner ' OPERATOR(pg_catalog.||) " \
	alias "owner::pg_catalog.oid::pg_catalog.text OPERATOR(pg_catalog.||) ' xmin ' OPERATOR(pg_catalog.||) " \
	alias "xmin::pg_catalog.text)"

/*
 * What identifies one shared copy: the database, the model, its owner,
 * and exactly the version the catalog row names (version, training time,
 * and the row's fingerprint, as the per-backend cache checks).
 */
typedef struct RsSharedKey
{
	Oid			database;
	char		name[NAMEDATALEN];
	Oid			owner;
	int32		version;
	TimestampTz trained_at;
	char		fingerprint[RS_FINGERPRINT_LEN + 1];
} RsSharedKey;

/*
 * Writes a model's flat copy into buf (pure: no error, no allocation);
 * lean: the copy without what each backend can build for itself.
 */
typedef void (*RsSharedWriteFn) (void *arg, char *buf, bool lean);

extern void RsSharedCacheInit(void);
extern bool RsSharedCacheActive(void);
extern bool RsSharedFits(Size bytes);
extern const char *RsSharedAcquire(const RsSharedKey *key, int *slot, Size *bytes,
								   uint64 *ticket);
extern const char *RsSharedPublish(const RsSharedKey *key, Size *bytes, Size lean_bytes,
								   RsSharedWriteFn write,
								   void *arg, int *slot);
extern void RsSharedAbandon(uint64 ticket);
extern void RsSharedRelease(int slot);

#endif							/* RECSYS_SHARED_CACHE_H */
