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
 * database, name, version, training time, catalog fingerprint), laid out
 * by model_cache.c and the model's kind (RsModelKind.flatten), which
 * every backend maps and serves from (RsModelKind.attach points the
 * backend's own small RsModel into it).  Which version a statement may
 * serve, and whether its role may use it, is still decided per statement
 * by the per-backend cache reading the catalog row through the
 * statement's snapshot; the shared cache only answers "is this exact
 * version already in memory".
 *
 * Publishing: a backend that loaded a model privately reserves a slot and
 * the bytes under the lock (state LOADING: invisible to lookups),
 * allocates the copy, writes it without any error path, and only then
 * marks the slot READY.  So no backend ever sees a half-written copy, and
 * an error (out of shared memory) or a cancel before the write leaves no
 * entry behind.  Two backends loading the same version at once each load
 * privately; the second to publish takes the first's copy and frees its
 * own.
 *
 * Lifetime: each backend model attached to an entry holds one reference
 * (released when the backend frees that model, and at backend exit).
 * When a new copy does not fit in recsys.shared_cache_size, the least
 * recently used entries no backend references are freed; if that is not
 * enough (every entry in use), the new model is simply not shared: the
 * backend serves its private copy, as without preloading.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/mman.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/dsa.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "model_cache.h"
#include "shared_cache.h"

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
} RsSharedSlot;

typedef struct RsSharedControl
{
	LWLock	   *lock;
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

static bool
same_key(const RsSharedKey *a, const RsSharedKey *b)
{
	return a->database == b->database && a->version == b->version &&
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

/* Take a reference to a READY slot and return its copy (the lock held). */
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
 * Map a copy's pages into this backend at once: one system call instead
 * of a page fault every few pages on the first scan (a new backend's
 * first call).  Best effort: kernels before Linux 5.14 do not know it.
 */
static void
prefault(const char *copy, Size bytes)
{
#ifdef MADV_POPULATE_READ
	uintptr_t	begin = TYPEALIGN_DOWN(getpagesize(), (uintptr_t) copy);

	(void) madvise((void *) begin, (uintptr_t) copy + bytes - begin, MADV_POPULATE_READ);
#endif
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
 * RsSharedAcquire returns the shared copy of key, referenced by this
 * backend until RsSharedRelease(*slot), or NULL if there is none.
 */
const char *
RsSharedAcquire(const RsSharedKey *key, int *slot, Size *bytes)
{
	const char *copy = NULL;
	int			s;

	if (!RsSharedCacheActive())
		return NULL;
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	s = control->area == DSM_HANDLE_INVALID ? -1 : find_slot(key, RS_SLOT_READY);
	if (s >= 0)
	{
		attach_area();
		copy = take_slot(s, bytes);
		*slot = s;
	}
	LWLockRelease(control->lock);
	if (copy != NULL)
		prefault(copy, *bytes);
	return copy;
}

/*
 * Free the least recently used unreferenced copies until bytes more fit
 * and a slot is free; the free slot, or -1 if that cannot be (the lock
 * held exclusively).
 */
static pg_noinline int
make_room(Size bytes)
{
	Size		limit = (Size) recsys_shared_cache_size_mb * 1024 * 1024;

	if (bytes > limit)
		return -1;
	for (;;)
	{
		int			free_slot = -1;
		int			victim = -1;

		for (int s = 0; s < RS_SHARED_SLOTS; s++)
		{
			RsSharedSlot *slot = &control->slots[s];

			if (slot->state == RS_SLOT_FREE && free_slot < 0)
				free_slot = s;
			else if (slot->state == RS_SLOT_READY && slot->refcount == 0 &&
					 (victim < 0 || slot->last_used < control->slots[victim].last_used))
				victim = s;
		}
		if (free_slot >= 0 && control->used + bytes <= limit)
			return free_slot;
		if (victim < 0)
			return -1;
		dsa_free(area, control->slots[victim].copy);
		control->used -= control->slots[victim].bytes;
		control->slots[victim].state = RS_SLOT_FREE;
	}
}

/* Give a reserved slot back (the lock not held). */
static void
unreserve(int s)
{
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	control->used -= control->slots[s].bytes;
	control->slots[s].state = RS_SLOT_FREE;
	LWLockRelease(control->lock);
}

/*
 * RsSharedPublish makes a shared copy of key, bytes long, written by
 * write(arg, buf), and returns it referenced (as RsSharedAcquire does);
 * or the copy another backend published meanwhile; or NULL if the model
 * cannot be shared now (no room, or another backend is writing it).
 */
const char *
RsSharedPublish(const RsSharedKey *key, Size bytes, RsSharedWriteFn write, void *arg, int *slot)
{
	const char *copy = NULL;
	dsa_pointer dp;
	int			s;

	if (!RsSharedCacheActive())
		return NULL;
	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	attach_area();
	s = find_slot(key, RS_SLOT_READY);
	if (s >= 0)
	{
		copy = take_slot(s, &bytes);
		*slot = s;
		LWLockRelease(control->lock);
		return copy;
	}
	if (find_slot(key, RS_SLOT_LOADING) >= 0 || (s = make_room(bytes)) < 0)
	{
		LWLockRelease(control->lock);
		return NULL;
	}
	memset(&control->slots[s], 0, sizeof(RsSharedSlot));
	control->slots[s].state = RS_SLOT_LOADING;
	control->slots[s].key = *key;
	control->slots[s].bytes = bytes;
	control->used += bytes;
	LWLockRelease(control->lock);

	/* creating a segment may fail (no room in /dev/shm): give the slot back */
	PG_TRY();
	{
		dp = dsa_allocate_extended(area, bytes, DSA_ALLOC_HUGE | DSA_ALLOC_NO_OOM);
	}
	PG_CATCH();
	{
		unreserve(s);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (!DsaPointerIsValid(dp))
	{
		unreserve(s);
		return NULL;
	}
	/* no error and no interrupt from here until the slot is READY */
	advise_huge_pages(dsa_get_address(area, dp), bytes);
	write(arg, dsa_get_address(area, dp));

	LWLockAcquire(control->lock, LW_EXCLUSIVE);
	control->slots[s].copy = dp;
	control->slots[s].state = RS_SLOT_READY;
	copy = take_slot(s, &bytes);
	*slot = s;
	LWLockRelease(control->lock);
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

/*
 * recsys_shared_cache_stats() returns a row per model of this database in
 * the shared cache that the current role may use: its version, the bytes
 * of its copy, the backends serving from it now, and how many times a
 * backend attached to it.  No rows without preloading.
 */
Datum
recsys_shared_cache_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsSharedSlot slots[RS_SHARED_SLOTS];
	HTAB	   *visible;

	InitMaterializedSRF(fcinfo, 0);
	if (control == NULL || (visible = RsVisibleModels()) == NULL)
		return (Datum) 0;
	LWLockAcquire(control->lock, LW_SHARED);
	memcpy(slots, control->slots, sizeof(slots));
	LWLockRelease(control->lock);
	for (int s = 0; s < RS_SHARED_SLOTS; s++)
	{
		Datum		values[5];
		bool		nulls[5] = {false};

		if (slots[s].state != RS_SLOT_READY || slots[s].key.database != MyDatabaseId ||
			hash_search(visible, slots[s].key.name, HASH_FIND, NULL) == NULL)
			continue;
		values[0] = CStringGetTextDatum(slots[s].key.name);
		values[1] = Int32GetDatum(slots[s].key.version);
		values[2] = Int64GetDatum((int64) slots[s].bytes);
		values[3] = Int32GetDatum(slots[s].refcount);
		values[4] = Int64GetDatum(slots[s].attaches);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
