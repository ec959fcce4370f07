/*-------------------------------------------------------------------------
 *
 * shared_cache.c
 *		One copy of each loaded model per server, in dynamic shared memory.
 *
 * When recsys is in shared_preload_libraries, the postmaster reserves a
 * small control block (a table of RS_SHARED_SLOTS entries and a lock) at
 * startup (shmem_request_hook, shmem_startup_hook; PostgreSQL 15 has no
 * registry of named DSM areas).  The first backend that publishes a model
 * creates one dynamic shared memory area (DSA) and records its handle
 * there; the area is pinned, so it lives until the server stops, and each
 * backend maps it once.  Without preloading none of this exists and every
 * backend loads its own copies (model_cache.c), as before 0.8.0.
 *
 * An entry is the flat, pointer-free copy of one model version (its key:
 * database, name, owner, version, training time, catalog fingerprint:
 * RS_MODEL_FINGERPRINT_SQL, which changes with every write of the row), laid out
 * by model_cache.c and the model's kind (RsModelKind.flatten), which
 * every backend maps and serves from (RsModelKind.attach points the
 * backend's own small RsModel into it).  Which version a statement may
 * serve, and whether its role may use it, is still decided per statement
 * by the per-backend cache reading the catalog row through the
 * statement's snapshot; the shared cache only answers "is this exact
 * version already in memory".
 *
 * Publishing: a backend that needs a version nobody holds reserves a slot
 * for it under the lock (state LOADING: invisible to lookups), reads the
 * model's tables privately, allocates the copy, writes it without any
 * error path, and only then marks the slot READY.  So no backend ever
 * sees a half-written copy, and an error (out of shared memory) or a
 * cancel gives the slot back (a reset callback on the private model's
 * context, RsSharedAbandon).  Backends that need the same version
 * meanwhile wait on a condition variable, up to RS_LOAD_WAIT_MS, and
 * attach to the copy; if the loader gave up they load for themselves.
 *
 * Lifetime: each backend model attached to an entry holds one reference
 * (released when the backend frees that model, and at backend exit).
 * When a new copy does not fit in recsys.shared_cache_size, the least
 * recently used entries no backend references are freed; if that is not
 * enough (every entry in use), the copy goes without what each backend
 * can build for itself (a model's IVF index: RsFlat.lean) if that fits,
 * and only then is the new model not shared: the backend serves its
 * private copy, as without preloading.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/mman.h>

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/dsa.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/wait_event.h"

#include "recsys.h"
#include "shared_cache.h"
#include "spi_util.h"

typedef enum RsSlotState
{
	RS_SLOT_FREE = 0,
	RS_SLOT_LOADING,			/* reserved by a publisher, not yet written */
	RS_SLOT_READY,
} RsSlotState;

typedef struct RsSharedSlot
{
	RsSlotState state;
	RsSharedKey key;
	dsa_pointer copy;
	Size		bytes;
	int			refcount;		/* backend models attached to it */
	uint64		last_used;		/* the control's clock when last acquired */
	int64		attaches;		/* times a backend attached to it */
	int64		reads;			/* times a backend read the model's tables for it */
} RsSharedSlot;

typedef struct RsSharedControl
{
	LWLock	   *lock;
	ConditionVariable loaded;	/* a LOADING slot became READY or FREE */
	int			dsa_tranche;
	dsa_handle	area;			/* DSM_HANDLE_INVALID until first used */
	Size		used;			/* bytes of LOADING and READY slots */
	uint64		clock;
	RsSharedSlot slots[RS_SHARED_SLOTS];
} RsSharedControl;

PG_FUNCTION_INFO_V1(recsys_shared_cache_stats);

static RsSharedControl *control = NULL;
static dsa_area *area = NULL;
static int	recsys_shared_cache_size_mb = RECSYS_DEFAULT_SHARED_CACHE_SIZE_MB;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static bool exit_callback_set = false;

/* the references this backend holds, per slot (released at exit) */
static int	held[RS_SHARED_SLOTS];
/* the LOADING slot this backend reserved, or -1, and that reservation's ticket */
static int	loading_slot = -1;
static uint64 loading_ticket = 0;

/* the longest a backend waits for another to load a model, then loads it too */
#define RS_LOAD_WAIT_MS 30000

#define TRANCHE_NAME "recsys shared cache"

static void
shared_cache_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(RsSharedControl)));
	RequestNamedLWLockTranche(TRANCHE_NAME, 1);
}

static void
shared_cache_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	control = ShmemInitStruct("recsys shared cache", sizeof(RsSharedControl), &found);
	if (!found)
	{
		memset(control, 0, sizeof(RsSharedControl));
		control->lock = &(GetNamedLWLockTranche(TRANCHE_NAME))->lock;
		control->dsa_tranche = LWLockNewTrancheId();
		control->area = DSM_HANDLE_INVALID;
		ConditionVariableInit(&control->loaded);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * RsSharedCacheInit defines recsys.shared_cache_size and, when recsys is
 * being preloaded, asks for the control block.  Called from _PG_init.
 */
void
RsSharedCacheInit(void)
{
	DefineCustomIntVariable("recsys.shared_cache_size",
							"Sets how much shared memory the models loaded for all backends may use.",
							"Only when recsys is in shared_preload_libraries; 0 turns sharing off. "
							"Beyond it the least recently used models no backend uses are freed; "
							"a model that still does not fit is loaded by each backend for itself.",
							&recsys_shared_cache_size_mb,
							RECSYS_DEFAULT_SHARED_CACHE_SIZE_MB,
							0, RECSYS_MAX_SHARED_CACHE_SIZE_MB,
							PGC_SIGHUP, GUC_UNIT_MB,
							NULL, NULL, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shared_cache_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shared_cache_startup;
}

/* RsSharedCacheActive: whether models are shared (preloaded, size not 0). */
bool
RsSharedCacheActive(void)
{
	return control != NULL && recsys_shared_cache_size_mb > 0;
}

/* At backend exit: drop the references this backend still holds. */
static void
release_all(int code, Datum arg)
{
	if (control == NULL)
		return;
	RsSharedAbandon(0);
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	for (int s = 0; s < RS_SHARED_SLOTS; s++)
	{
		control->slots[s].refcount -= held[s];
		held[s] = 0;
	}
	LWLockRelease(control->lock);
}

/*
 * Map the area, creating it if no backend has yet (the lock held
 * exclusively).  The mapping stays for the life of the backend.
 */
static void
attach_area(void)
{
	MemoryContext old;

	if (area != NULL)
		return;
	LWLockRegisterTranche(control->dsa_tranche, TRANCHE_NAME);
	old = MemoryContextSwitchTo(TopMemoryContext);
	if (control->area == DSM_HANDLE_INVALID)
	{
		area = dsa_create(control->dsa_tranche);
		dsa_pin(area);
		control->area = dsa_get_handle(area);
	}
	else
		area = dsa_attach(control->area);
	dsa_pin_mapping(area);
	MemoryContextSwitchTo(old);
	if (!exit_callback_set)
	{
		before_shmem_exit(release_all, (Datum) 0);
		exit_callback_set = true;
	}
}

static bool make_room(Size bytes, int *free_slot);

static bool
same_key(const RsSharedKey *a, const RsSharedKey *b)
{
	return a->database == b->database && a->owner == b->owner && a->version == b->version &&
		a->trained_at == b->trained_at && strcmp(a->name, b->name) == 0 &&
		strcmp(a->fingerprint, b->fingerprint) == 0;
}

/* The slot holding key in the given state, or -1 (the lock held). */
static int
find_slot(const RsSharedKey *key, RsSlotState state)
{
	for (int s = 0; s < RS_SHARED_SLOTS; s++)
		if (control->slots[s].state == state && same_key(&control->slots[s].key, key))
			return s;
	return -1;
}

/*
 * Take a reference to a READY slot and return its copy (the lock held).
 * Its pages are not mapped up front (MADV_POPULATE_READ over the whole
 * copy made a new backend's first call 240 ms instead of 56 at 1M x 64):
 * scans fault in what they read, and a factor model's compressed scan
 * reads the int8 codes and only the fp32 rows it re-scores.
 */
static const char *
take_slot(int s, Size *bytes)
{
	RsSharedSlot *slot = &control->slots[s];

	slot->refcount++;
	slot->attaches++;
	slot->last_used = ++control->clock;
	held[s]++;
	*bytes = slot->bytes;
	return dsa_get_address(area, slot->copy);
}

/*
 * Ask for transparent huge pages for a new copy, so that each backend
 * maps it with 512 times fewer page table entries; it takes effect only
 * where the administrator allows it for shared memory
 * (/sys/kernel/mm/transparent_hugepage/shmem_enabled: advise).
 */
static void
advise_huge_pages(const char *copy, Size bytes)
{
#ifdef MADV_HUGEPAGE
	uintptr_t	begin = TYPEALIGN_DOWN(getpagesize(), (uintptr_t) copy);

	(void) madvise((void *) begin, (uintptr_t) copy + bytes - begin, MADV_HUGEPAGE);
#endif
}

/*
 * Wait, up to RS_LOAD_WAIT_MS, while another backend loads key; interrupts
 * (a cancel) end the wait with an error as usual.
 */
static void
wait_for_loader(const RsSharedKey *key)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), RS_LOAD_WAIT_MS);

	ConditionVariablePrepareToSleep(&control->loaded);
	for (;;)
	{
		bool		loading;
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);

		LWLockAcquire(control->lock, LW_SHARED);
		loading = find_slot(key, RS_SLOT_LOADING) >= 0;
		LWLockRelease(control->lock);
		if (!loading || left <= 0)
			break;
		(void) ConditionVariableTimedSleep(&control->loaded, left, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

/*
 * RsSharedAcquire returns the shared copy of key, referenced by this
 * backend until RsSharedRelease(*slot), or NULL if there is none.  If
 * another backend is loading it, it waits for that copy first.  With
 * NULL, *ticket is not 0 if this backend is now the one to load it (it
 * then calls RsSharedPublish, or RsSharedAbandon(ticket) if the load fails).
 */
const char *
RsSharedAcquire(const RsSharedKey *key, int *slot, Size *bytes, uint64 *ticket)
{
	const char *copy = NULL;
	bool		waited = false;

	*ticket = 0;
	if (!RsSharedCacheActive())
		return NULL;
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	attach_area();
	for (;;)
	{
		int			s = find_slot(key, RS_SLOT_READY);

		if (s >= 0)
		{
			copy = take_slot(s, bytes);
			*slot = s;
			break;
		}
		if (find_slot(key, RS_SLOT_LOADING) >= 0)
		{
			if (waited)
				break;			/* the loader could not share it: load privately */
			LWLockRelease(control->lock);
			wait_for_loader(key);
			waited = true;
			LWLockAcquire(control->lock, LW_EXCLUSIVE);
			continue;
		}
		/* nobody loads it: this backend will (one reservation at a time) */
		if (loading_slot < 0 && make_room(0, &s))
		{
			memset(&control->slots[s], 0, sizeof(RsSharedSlot));
			control->slots[s].state = RS_SLOT_LOADING;
			control->slots[s].key = *key;
			loading_slot = s;
			*ticket = ++loading_ticket;
		}
		break;
	}
	LWLockRelease(control->lock);
	return copy;
}

/*
 * Free the least recently used unreferenced copies until bytes more fit,
 * and (if free_slot is not NULL) a slot is free: true, and *free_slot, if
 * that can be (the lock held exclusively).
 */
static pg_noinline bool
make_room(Size bytes, int *free_slot)
{
	Size		limit = (Size) recsys_shared_cache_size_mb * 1024 * 1024;

	if (bytes > limit)
		return false;
	for (;;)
	{
		int			found = -1;
		int			victim = -1;

		for (int s = 0; s < RS_SHARED_SLOTS; s++)
		{
			RsSharedSlot *slot = &control->slots[s];

			if (slot->state == RS_SLOT_FREE && found < 0)
				found = s;
			else if (slot->state == RS_SLOT_READY && slot->refcount == 0 &&
					 (victim < 0 || slot->last_used < control->slots[victim].last_used))
				victim = s;
		}
		if ((free_slot == NULL || found >= 0) && control->used + bytes <= limit)
		{
			if (free_slot != NULL)
				*free_slot = found;
			return true;
		}
		if (victim < 0)
			return false;
		dsa_free(area, control->slots[victim].copy);
		control->used -= control->slots[victim].bytes;
		control->slots[victim].state = RS_SLOT_FREE;
	}
}

/*
 * RsSharedFits: whether a copy of bytes can be shared at all (it fits in
 * recsys.shared_cache_size once every unreferenced copy is freed).
 */
bool
RsSharedFits(Size bytes)
{
	return RsSharedCacheActive() && bytes <= (Size) recsys_shared_cache_size_mb * 1024 * 1024;
}

/*
 * RsSharedAbandon gives back the slot this backend reserved to load a
 * model into (ticket 0: whichever), if it still holds it (its load failed
 * or cannot be shared), and wakes the backends waiting for it.
 */
void
RsSharedAbandon(uint64 ticket)
{
	if (loading_slot < 0 || (ticket != 0 && ticket != loading_ticket))
		return;
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	control->used -= control->slots[loading_slot].bytes;
	control->slots[loading_slot].state = RS_SLOT_FREE;
	LWLockRelease(control->lock);
	loading_slot = -1;
	ConditionVariableBroadcast(&control->loaded);
}

/*
 * Room for a new copy (the lock held exclusively): its whole size if that
 * fits once unreferenced copies are freed, else its lean size (*lean set),
 * else false.  A cache merely full of copies in use thus still takes the
 * model without its index, rather than leave every backend a private one.
 */
static bool
make_room_for(Size *bytes, Size lean_bytes, bool *lean, int *free_slot)
{
	if (make_room(*bytes, free_slot))
		return true;
	if (lean_bytes == 0 || lean_bytes >= *bytes || !make_room(lean_bytes, free_slot))
		return false;
	*bytes = lean_bytes;
	*lean = true;
	return true;
}

/*
 * RsSharedPublish makes a shared copy of key, *bytes long, written by
 * write(arg, buf, lean), and returns it referenced (as RsSharedAcquire
 * does), *bytes set to its size; or the copy another backend published
 * meanwhile; or NULL if the model cannot be shared now (no room, or
 * another backend is writing it).  lean_bytes is the size of the copy
 * without what each backend can build for itself (0: it has nothing to
 * leave out), written (lean true) when only that fits, or when *bytes is
 * that size from the start.
 */
const char *
RsSharedPublish(const RsSharedKey *key, Size *bytes, Size lean_bytes, RsSharedWriteFn write,
				void *arg, int *slot)
{
	const char *copy = NULL;
	dsa_pointer dp;
	int			s;
	bool		lean = lean_bytes != 0 && *bytes == lean_bytes;
	volatile bool write_lean;	/* lean, past the PG_TRY */

	if (!RsSharedCacheActive())
	{
		RsSharedAbandon(0);
		return NULL;
	}
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	attach_area();
	if (loading_slot >= 0 && same_key(&control->slots[loading_slot].key, key))
	{
		/* reserved by RsSharedAcquire: only the bytes are missing */
		if (!make_room_for(bytes, lean_bytes, &lean, NULL))
		{
			LWLockRelease(control->lock);
			RsSharedAbandon(0);
			return NULL;
		}
		s = loading_slot;
	}
	else
	{
		s = find_slot(key, RS_SLOT_READY);
		if (s >= 0)
		{
			/* another backend loaded it at the same time */
			control->slots[s].reads++;
			copy = take_slot(s, bytes);
			*slot = s;
			LWLockRelease(control->lock);
			return copy;
		}
		if (loading_slot >= 0 || find_slot(key, RS_SLOT_LOADING) >= 0 ||
			!make_room_for(bytes, lean_bytes, &lean, &s))
		{
			LWLockRelease(control->lock);
			return NULL;
		}
		memset(&control->slots[s], 0, sizeof(RsSharedSlot));
		control->slots[s].state = RS_SLOT_LOADING;
		control->slots[s].key = *key;
		loading_slot = s;
		++loading_ticket;
	}
	control->slots[s].bytes = *bytes;
	control->slots[s].reads = 1;
	control->used += *bytes;
	LWLockRelease(control->lock);

	write_lean = lean;
	/* creating a segment may fail (no room in /dev/shm): give the slot back */
	PG_TRY();
	{
		dp = dsa_allocate_extended(area, *bytes, DSA_ALLOC_HUGE | DSA_ALLOC_NO_OOM);
	}
	PG_CATCH();
	{
		RsSharedAbandon(0);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (!DsaPointerIsValid(dp))
	{
		RsSharedAbandon(0);
		return NULL;
	}
	/* no error and no interrupt from here until the slot is READY */
	advise_huge_pages(dsa_get_address(area, dp), *bytes);
	write(arg, dsa_get_address(area, dp), write_lean);

	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	control->slots[s].copy = dp;
	control->slots[s].state = RS_SLOT_READY;
	copy = take_slot(s, bytes);
	*slot = s;
	LWLockRelease(control->lock);
	loading_slot = -1;
	ConditionVariableBroadcast(&control->loaded);
	return copy;
}

/* RsSharedRelease drops one reference RsSharedAcquire/Publish took. */
void
RsSharedRelease(int slot)
{
	if (control == NULL || slot < 0 || slot >= RS_SHARED_SLOTS || held[slot] <= 0)
		return;
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	control->slots[slot].refcount--;
	held[slot]--;
	LWLockRelease(control->lock);
}

/* A model version the current role may use now, as the catalog has it. */
typedef struct RsVisibleVersion
{
	char		name[NAMEDATALEN];	/* the hash key: name and version */
	int32		version;
	TimestampTz trained_at;
	bool		current;		/* the models row: its fingerprint is compared */
	char		fingerprint[RS_FINGERPRINT_LEN + 1];
} RsVisibleVersion;

/*
 * The versions of the models the current role may use (read through
 * row-level security): each model's active version with the fingerprint a
 * shared copy's key holds (as src/model_cache.c computes it), and its
 * other stored versions; NULL if the role may not read the catalog.
 */
static HTAB *
visible_versions(void)
{
	HTAB	   *visible;
	HASHCTL		ctl;

	if (pg_class_aclcheck(get_relname_relid("models", get_namespace_oid(RECSYS_SCHEMA, false)),
						  GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		pg_class_aclcheck(get_relname_relid("model_versions", get_namespace_oid(RECSYS_SCHEMA, false)),
						  GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		return NULL;
	ctl.keysize = offsetof(RsVisibleVersion, trained_at);
	ctl.entrysize = sizeof(RsVisibleVersion);
	ctl.hcxt = CurrentMemoryContext;
	visible = hash_create("recsys visible versions", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT m.name, m.version, m.trained_at, "
			  RS_MODEL_FINGERPRINT_SQL("m.") " "
			  "FROM recsys.models m "
			  "UNION ALL SELECT v.model, v.version, v.trained_at, NULL FROM recsys.model_versions v "
			  "JOIN recsys.models m ON m.name OPERATOR(pg_catalog.=) v.model "
			  "AND m.version OPERATOR(pg_catalog.<>) v.version",
			  0, NULL, NULL, NULL, true, SPI_OK_SELECT);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *name = SPI_getvalue(tuple, desc, 1);
		char	   *fingerprint = SPI_getvalue(tuple, desc, 4);
		RsVisibleVersion key;
		RsVisibleVersion *entry;
		bool		isnull;

		if (name == NULL || strlen(name) >= NAMEDATALEN)
			continue;
		memset(&key, 0, sizeof(key));
		strlcpy(key.name, name, NAMEDATALEN);
		key.version = DatumGetInt32(SPI_getbinval(tuple, desc, 2, &isnull));
		entry = hash_search(visible, &key, HASH_ENTER, NULL);
		entry->trained_at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 3, &isnull));
		entry->current = fingerprint != NULL;
		strlcpy(entry->fingerprint, fingerprint ? fingerprint : "", sizeof(entry->fingerprint));
	}
	SPI_finish();
	return visible;
}

/*
 * recsys_shared_cache_stats() returns a row per model version of this
 * database in the shared cache that the current role may use: its
 * version, the bytes of its copy, the backends serving from it now, how
 * many times a backend attached to it, and how many times one read the
 * model's tables for it (1, unless backends loaded it at once without
 * waiting).  A copy is shown only while its key (name, version,
 * trained_at, and for the active version the fingerprint) is a version of
 * a model the role may use now: the copy of a dropped model stays in the
 * cache until evicted, but is not shown under its name to the next model
 * of that name.  No rows without preloading.
 */
Datum
recsys_shared_cache_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsSharedSlot slots[RS_SHARED_SLOTS];
	HTAB	   *visible;

	InitMaterializedSRF(fcinfo, 0);
	if (control == NULL || (visible = visible_versions()) == NULL)
		return (Datum) 0;
	LWLockAcquire(control->lock, LW_SHARED);
	memcpy(slots, control->slots, sizeof(slots));
	LWLockRelease(control->lock);
	for (int s = 0; s < RS_SHARED_SLOTS; s++)
	{
		Datum		values[6];
		bool		nulls[6] = {false};
		RsVisibleVersion key;
		RsVisibleVersion *seen;

		if (slots[s].state != RS_SLOT_READY || slots[s].key.database != MyDatabaseId)
			continue;
		memset(&key, 0, sizeof(key));
		strlcpy(key.name, slots[s].key.name, NAMEDATALEN);
		key.version = slots[s].key.version;
		seen = hash_search(visible, &key, HASH_FIND, NULL);
		if (seen == NULL || seen->trained_at != slots[s].key.trained_at ||
			(seen->current && strcmp(seen->fingerprint, slots[s].key.fingerprint) != 0))
			continue;
		values[0] = CStringGetTextDatum(slots[s].key.name);
		values[1] = Int32GetDatum(slots[s].key.version);
		values[2] = Int64GetDatum((int64) slots[s].bytes);
		values[3] = Int32GetDatum(slots[s].refcount);
		values[4] = Int64GetDatum(slots[s].attaches);
		values[5] = Int64GetDatum(slots[s].reads);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
