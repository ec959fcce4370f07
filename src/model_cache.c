/*-------------------------------------------------------------------------
 *
 * model_cache.c
 *		Trained models loaded into backend memory for serving.
 *
 * Serving a recommendation must not re-read a model's tables: a model is
 * read once per backend into flat arrays (factors row-major, neighbour
 * lists as CSR, ids in hash maps) that live in a memory context of their
 * own under TopMemoryContext.
 *
 * Validity: every statement that uses a model checks, once, that the
 * catalog row it sees (recsys.models, through the statement's own
 * snapshot) still names the loaded version and training time; if not, the
 * model is reloaded.  That read is also the privilege check: row-level
 * security shows the row only to roles that may use the model, and the
 * check is redone when the role or security context changes (the
 * statement stamp includes them), so a model loaded for one role is never
 * served to another that may not use it.  The model's tables are then read
 * as the catalog's owner (src/model_acl.c), and its source as its owner.
 * So a model retrained or dropped in another session is picked up by the
 * next statement after that session commits, and a session in the middle
 * of retraining sees its own uncommitted model.
 * Nothing here writes, so serving works on hot standbys too.
 * recsys.cache_stats() shows what a session holds.
 *
 * Pinning: a model, and the prepared queries it owns, stay valid until
 * the statement that asked for them ends, whatever happens meanwhile.
 * That matters because statements nest: reading a user's items runs the
 * model's prepared query on the source, and a function in the source may
 * run statements of its own (with newer snapshots) that retrain, drop,
 * activate or roll back the very model being served, and serve it again.
 * So RsGetModel pins what it returns to the current resource owner: the
 * portal of the running top-level statement or cursor, or the
 * subtransaction of a PL/pgSQL exception block.  A PostgreSQL 15
 * extension cannot add resource kinds, so the pins are ours, dropped by a
 * resource-release callback when that owner is released (statement end,
 * cursor close, subtransaction commit or abort), and all at transaction
 * end.  Pinning is O(1) when the same owner asks again (score() per row).
 * A model replaced or dropped while pinned leaves the cache for a retired
 * list and is freed when its last pin goes (a statement that needs that
 * very version again, as a cursor's older snapshot does, takes it back
 * instead of reading it again); a prepared query replaced
 * while its model is pinned (the source was recreated) is kept until then
 * too.  A blend binds its members once; a member reloaded since makes the
 * blend load anew instead of changing under a statement that uses it.
 *
 * Size: an entry exists only for a model that loaded successfully, so
 * failing lookups leave nothing behind.  When the models held (cached or
 * retired) exceed recsys.cache_size, the least recently used unpinned
 * ones are evicted, after each load and when statements release them; a
 * model in use is never evicted, so one statement may exceed the limit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/guc.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/float.h"
#include "utils/varlena.h"
#include "utils/tuplestore.h"
#include "funcapi.h"

#include "model_acl.h"
#include "events.h"
#include "model_cache.h"
#include "recsys.h"
#include "model_kind.h"
#include "model_load.h"
#include "model_params.h"
#include "model_store.h"
#include "kernel/ncf.h"
#include "shared_cache.h"
#include "spi_util.h"

typedef struct ModelCacheEntry
{
	char		name[NAMEDATALEN];	/* hash key */
	RsModel    *model;			/* loaded, never NULL */
	int64		loads;			/* times read from the model's tables */
	int64		checks;			/* times its catalog row was read */
	/* loaded while transaction xact_serial had written: its subtransaction */
	uint64		written_xact;	/* 0: not */
	SubTransactionId written_subxact;
} ModelCacheEntry;

/*
 * A resource owner's hold on a model: the model stays until the owner is
 * released (owner NULL: until the transaction ends).
 */
typedef struct ModelPin
{
	RsModel    *model;
	ResourceOwner owner;
	dlist_node	model_node;		/* in model->pins, most recent first */
	dlist_node	all_node;		/* in all_pins */
} ModelPin;

PG_FUNCTION_INFO_V1(recsys_cache_stats);

static HTAB *model_cache = NULL;
/* cached models, most recently used first */
static dlist_head lru_models = DLIST_STATIC_INIT(lru_models);
/* models replaced or dropped while pinned, freed when unpinned */
static dlist_head retired_models = DLIST_STATIC_INIT(retired_models);
static dlist_head all_pins = DLIST_STATIC_INIT(all_pins);
static uint64 next_instance = 1;

int			recsys_cache_size_kb = RECSYS_DEFAULT_CACHE_SIZE_KB;

static Oid	resolve_source(const char *source);

/* Subtransactions rolled back in this backend: part of every statement stamp. */
static uint64 subxact_aborts = 0;
/* This backend's transactions, counted as they end (from 1) */
static uint64 xact_serial = 1;

static void uncache_model(RsModel *model);

/*
 * A model loaded while its transaction had written (had an xid) may hold
 * that transaction's own uncommitted edits of its tables, which leave
 * the catalog row's xmin, the cache's key, unchanged: when that
 * transaction, or the subtransaction the model was loaded in, aborts,
 * the model leaves the cache (review s11, F8: the session served the
 * rolled-back edits until the model was retrained).  Models loaded by
 * transactions that had written nothing saw committed rows only, and
 * stay (a pooler's ROLLBACK of a read-only transaction costs no reload).
 * aborted: the subtransaction, or InvalidSubTransactionId for the whole
 * transaction.
 */
static void
forget_aborted_loads(SubTransactionId aborted)
{
	HASH_SEQ_STATUS status;
	ModelCacheEntry *entry;

	if (model_cache == NULL)
		return;
	hash_seq_init(&status, model_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (entry->written_xact == xact_serial &&
			(aborted == InvalidSubTransactionId || entry->written_subxact >= aborted))
			uncache_model(entry->model);	/* (removing the current entry is allowed) */
}

static void
count_subxact_abort(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		subxact_aborts++;
		/* (subtransactions nested in it have larger ids) */
		forget_aborted_loads(mySubid);
	}
}

static void release_pins(ResourceOwner owner, bool all);

/* Statements and subtransactions end: drop the pins their owners hold. */
static void
release_owner_pins(ResourceReleasePhase phase, bool isCommit, bool isTopLevel, void *arg)
{
	/* after the owner's own plan references are gone */
	if (phase != RESOURCE_RELEASE_AFTER_LOCKS || dlist_is_empty(&all_pins))
		return;
	release_pins(CurrentResourceOwner,
				 isTopLevel && CurrentResourceOwner == TopTransactionResourceOwner);
}

/* And whatever is left when the transaction ends. */
static void
release_transaction_pins(XactEvent event, void *arg)
{
	/*
	 * PREPARE too: the prepared transaction may yet be rolled back
	 * (ROLLBACK PREPARED, maybe from another session, fires no callback
	 * here), and xact_serial moves on below, so its loads could not be
	 * told apart later (review s11, R3)
	 */
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		forget_aborted_loads(InvalidSubTransactionId);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		xact_serial++;
	if ((event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		 event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		 event == XACT_EVENT_PARALLEL_ABORT) && !dlist_is_empty(&all_pins))
		release_pins(NULL, true);
}

static void
init_cache(void)
{
	HASHCTL		ctl;

	RegisterSubXactCallback(count_subxact_abort, NULL);
	RegisterResourceReleaseCallback(release_owner_pins, NULL);
	RegisterXactCallback(release_transaction_pins, NULL);

	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(ModelCacheEntry);
	model_cache = hash_create("recsys models", 8, &ctl, HASH_ELEM | HASH_STRINGS);
}

/* Read a text column, NULL as NULL, into the current memory context. */
static char *
text_column(HeapTuple tuple, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * Look the model up in recsys.models; false if there is no such model or
 * the current role may not use it (row-level security hides its row).
 * SPI must be connected; strings are copied into the caller's context.
 */
static bool
read_catalog_row(const char *name, MemoryContext result_context, RsCatalogRow *row)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	MemoryContext old;
	RsParams	params;
	RsParams	stats;

	RsExecute("SELECT version, trained_at, algorithm, source, n_users, n_items, owner::pg_catalog.oid, "
			  RS_MODEL_FINGERPRINT_SQL("") ", params, stats, params::pg_catalog.text, "
			  "(SELECT v.algorithm FROM recsys.model_versions v WHERE v.model OPERATOR(pg_catalog.=) $1 "
			  " AND v.version OPERATOR(pg_catalog.=) m.version) "
			  "FROM recsys.models m WHERE name OPERATOR(pg_catalog.=) $1 "
			  MAY_USE_MODEL,
			  1, argtypes, values, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return false;

	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	old = MemoryContextSwitchTo(result_context);
	row->version = DatumGetInt32(SPI_getbinval(tuple, desc, 1, &isnull));
	row->trained_at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 2, &isnull));
	row->algorithm = text_column(tuple, desc, 3);
	row->source = text_column(tuple, desc, 4);
	row->n_users = DatumGetInt64(SPI_getbinval(tuple, desc, 5, &isnull));
	row->n_items = DatumGetInt64(SPI_getbinval(tuple, desc, 6, &isnull));
	row->owner = DatumGetObjectId(SPI_getbinval(tuple, desc, 7, &isnull));
	row->fingerprint = text_column(tuple, desc, 8);
	params = (RsParams) {name, row->version, "params",
	DatumGetJsonbP(SPI_getbinval(tuple, desc, 9, &isnull))};
	stats = (RsParams) {name, row->version, "stats",
	DatumGetJsonbP(SPI_getbinval(tuple, desc, 10, &isnull))};
	row->params = text_column(tuple, desc, 11);
	{
		char	   *trained_as = text_column(tuple, desc, 12);

		/* an edit of models.algorithm alone would read the artefacts as another kind's */
		if (trained_as != NULL && row->algorithm != NULL && strcmp(trained_as, row->algorithm) != 0 &&
			RsModelKindFor(row->algorithm) != NULL)	/* (else: "unknown algorithm") */
			RsCatalogDamaged(name, row->version,
							 psprintf("recsys.models gives algorithm \"%s\" but the version was trained as \"%s\" "
									  "(recsys.model_versions)", row->algorithm, trained_as));
	}

	/* every key serving reads, checked here once (src/model_params.c) */
	row->user_col = (char *) RsParamName(&params, "user_col", true);
	row->item_col = (char *) RsParamName(&params, "item_col", true);
	row->weight_col = (char *) RsParamName(&params, "weight_col", false);
	row->time_col = (char *) RsParamName(&params, "time_col", false);
	row->event_col = (char *) RsParamName(&params, "event_col", false);
	row->event_weights = RsParamJson(&params, "event_weights");
	/* the widest any trainer accepts (train_ncf's); kinds check their own */
	row->k = (int) RsParamInteger(&params, "factors", 0, 1, RS_NCF_MAX_WIDTH);
	{
		const char *feedback = RsParamString(&params, "feedback");

		row->explicit_feedback = feedback != NULL && strcmp(feedback, "explicit") == 0;
	}
	row->global_mean = (float) RsParamNumber(&stats, "global_mean", 0, -FLT_MAX, FLT_MAX);
	row->rating_min = (float) RsParamNumber(&stats, "rating_min", -get_float4_infinity(), -FLT_MAX, FLT_MAX);
	row->rating_max = (float) RsParamNumber(&stats, "rating_max", get_float4_infinity(), -FLT_MAX, FLT_MAX);
	/* NaN if absent: every factor trainer writes it; the kind checks its range */
	row->regularization = (float) RsParamNumber(&params, "regularization", NAN, -FLT_MAX, FLT_MAX);
	row->alpha = (float) RsParamNumber(&params, "alpha", 1, -FLT_MAX, FLT_MAX);
	row->binary = RsParamFlag(&params, "binary", false);
	/* written only with a time_col, by trainers that refuse below 1 second (0: no decay) */
	row->half_life = RsParamNumber(&params, "half_life_seconds", 0, 1, FLT_MAX);
	row->reg_exponent = (float) RsParamNumber(&params, "regularization_exponent", 0, -FLT_MAX, FLT_MAX);
	/* absent before 0.6.0: every factor model stored its users */
	row->store_users = RsParamFlag(&params, "store_users", true);
	row->learning_rate = (float) RsParamNumber(&params, "learning_rate", 0, -FLT_MAX, FLT_MAX);
	row->iterations = (int) RsParamInteger(&params, "iterations", 0, PG_INT32_MIN, PG_INT32_MAX);
	row->seed = RsParamInteger(&params, "seed", 0, PG_INT64_MIN, PG_INT64_MAX);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * Look the source up by its stored qualified name; InvalidOid if it is
 * gone.  Catalog lookups only, no privilege checks: whether the caller
 * may read the source is checked when (and only if) it is read.
 */
static Oid
resolve_source(const char *source)
{
	List	   *names;
	Oid			nsp;

	if (source == NULL)
		return InvalidOid;
	names = stringToQualifiedNameList(source);
	if (list_length(names) != 2)
		return InvalidOid;
	nsp = get_namespace_oid(strVal(linitial(names)), true);
	if (!OidIsValid(nsp))
		return InvalidOid;
	return get_relname_relid(strVal(lsecond(names)), nsp);
}

/* RsDropPlan frees a prepared query now, or keeps it until the model is unpinned. */
void
RsDropPlan(RsModel *model, SPIPlanPtr plan)
{
	MemoryContext old;

	if (plan == NULL)
		return;
	if (dlist_is_empty(&model->pins))
	{
		SPI_freeplan(plan);
		return;
	}
	/* a statement using the model may be running it */
	old = MemoryContextSwitchTo(model->mcxt);
	model->stale_plans = lappend(model->stale_plans, plan);
	MemoryContextSwitchTo(old);
}

static void
free_plans(RsModel *model)
{
	if (model->kind->free)
		model->kind->free(model);
	RsDropPlan(model, model->seen_plan);
	RsDropPlan(model, model->seen_many_plan);
	model->seen_plan = model->seen_many_plan = NULL;
}

/* Free the prepared queries replaced while the model was pinned. */
static void
free_stale_plans(RsModel *model)
{
	ListCell   *lc;

	foreach(lc, model->stale_plans)
		SPI_freeplan((SPIPlanPtr) lfirst(lc));
	list_free(model->stale_plans);
	model->stale_plans = NIL;
}

/*
 * Follow the source when it was dropped, renamed or recreated since the
 * model was loaded: the prepared queries name it by its qualified name.
 */
static void
refresh_source(RsModel *model)
{
	Oid			now = resolve_source(model->source_name);

	if (now != model->source)
	{
		free_plans(model);
		model->source = now;
	}
}

/* Free an unpinned model and everything it holds. */
static void
free_model(RsModel *model)
{
	Assert(dlist_is_empty(&model->pins));
	free_plans(model);
	free_stale_plans(model);
	MemoryContextDelete(model->mcxt);
}

/* The memory a model holds. */
static Size
model_bytes(RsModel *model)
{
	return MemoryContextMemAllocated(model->mcxt, true) + model->shared_bytes;
}

/*
 * Take a model out of the cache (dropped, replaced or evicted): freed now
 * if no statement uses it, else when the last one releases it.
 */
static void
uncache_model(RsModel *model)
{
	Assert(model->cached);
	hash_search(model_cache, model->name, HASH_REMOVE, NULL);
	model->cached = false;
	dlist_delete(&model->cache_node);
	if (dlist_is_empty(&model->pins))
		free_model(model);
	else
		dlist_push_head(&retired_models, &model->cache_node);
}

/*
 * Evict the least recently used models no statement uses while the
 * models held exceed recsys.cache_size.
 */
static void
evict_models(void)
{
	Size		limit = (Size) recsys_cache_size_kb * 1024;
	Size		held = 0;
	dlist_iter	iter;
	dlist_node *node;

	dlist_foreach(iter, &lru_models)
		held += model_bytes(dlist_container(RsModel, cache_node, iter.cur));
	dlist_foreach(iter, &retired_models)
		held += model_bytes(dlist_container(RsModel, cache_node, iter.cur));
	if (held <= limit || dlist_is_empty(&lru_models))
		return;
	node = dlist_tail_node(&lru_models);
	while (held > limit && node != &lru_models.head)
	{
		RsModel    *model = dlist_container(RsModel, cache_node, node);

		node = node->prev;
		if (!dlist_is_empty(&model->pins))
			continue;
		held -= model_bytes(model);
		uncache_model(model);
	}
}

/*
 * Pin a model to the current resource owner, once per owner: the owner
 * that asked last is at the head of the model's pins.
 */
static void
pin_model(RsModel *model)
{
	ResourceOwner owner = CurrentResourceOwner;
	dlist_iter	iter;
	ModelPin   *pin;

	if (!dlist_is_empty(&model->pins) &&
		dlist_head_element(ModelPin, model_node, &model->pins)->owner == owner)
		return;
	dlist_foreach(iter, &model->pins)
	{
		pin = dlist_container(ModelPin, model_node, iter.cur);
		if (pin->owner == owner)
		{
			dlist_move_head(&model->pins, &pin->model_node);
			return;
		}
	}
	pin = MemoryContextAlloc(TopMemoryContext, sizeof(ModelPin));
	pin->model = model;
	pin->owner = owner;
	dlist_push_head(&model->pins, &pin->model_node);
	dlist_push_head(&all_pins, &pin->all_node);
}

/*
 * Drop the pins of a resource owner (all of them if all): retired models
 * left unpinned are freed, cached ones free the queries they replaced,
 * and the cache shrinks back to its limit.
 */
static void
release_pins(ResourceOwner owner, bool all)
{
	dlist_mutable_iter iter;
	bool		released = false;

	dlist_foreach_modify(iter, &all_pins)
	{
		ModelPin   *pin = dlist_container(ModelPin, all_node, iter.cur);
		RsModel    *model = pin->model;

		if (!all && pin->owner != owner)
			continue;
		dlist_delete(&pin->all_node);
		dlist_delete(&pin->model_node);
		pfree(pin);
		released = true;
		if (!dlist_is_empty(&model->pins))
			continue;
		if (model->cached)
			free_stale_plans(model);
		else
		{
			dlist_delete(&model->cache_node);
			free_model(model);
		}
	}
	if (released)
		evict_models();
}

/*
 * A new model for the version the catalog row names, without its
 * artefacts, in a context of its own that hangs under the current
 * (statement) context until the load succeeds, so an error or a cancel
 * halfway frees it.
 */
static RsModel *
new_model(const char *name, RsCatalogRow *row)
{
	MemoryContext mcxt = AllocSetContextCreate(CurrentMemoryContext, "recsys model",
											   ALLOCSET_DEFAULT_SIZES);
	RsModel    *model = MemoryContextAllocZero(mcxt, sizeof(RsModel));
	MemoryContext old;

	model->mcxt = mcxt;
	model->instance = next_instance++;
	model->shared_slot = -1;
	dlist_init(&model->pins);
	strlcpy(model->name, name, NAMEDATALEN);
	model->version = row->version;
	model->trained_at = row->trained_at;
	old = MemoryContextSwitchTo(mcxt);
	model->algorithm = pstrdup(row->algorithm);
	model->user_col = row->user_col ? pstrdup(row->user_col) : NULL;
	model->item_col = row->item_col ? pstrdup(row->item_col) : NULL;
	model->weight_col = row->weight_col ? pstrdup(row->weight_col) : NULL;
	model->event_col = row->event_col ? pstrdup(row->event_col) : NULL;
	if (row->event_col != NULL && row->event_weights != NULL)
		model->events = RsEventMapFromText(row->event_weights, "the model's stored event_weights");
	model->source_name = pstrdup(row->source);
	model->fingerprint = pstrdup(row->fingerprint);
	MemoryContextSwitchTo(old);
	{
		char	   *copy = pstrdup(row->source);
		List	   *parts = NIL;

		/* (a qualified name that names nothing now is a dropped source, not damage) */
		if (!SplitIdentifierString(copy, '.', &parts) || parts == NIL)
			RsModelCorrupt(model, "recsys.models gives a source that is not a relation name");
	}
	model->kind = RsModelKindFor(row->algorithm);
	if (model->kind == NULL)
		RsModelCorrupt(model, "unknown algorithm");
	if (model->event_col != NULL && model->events == NULL)
		RsModelCorrupt(model, "recsys.models gives event_col without event_weights");
	/* item indexes are int32; a negative count would wrap the allocations */
	if (row->n_items < 0 || row->n_items > PG_INT32_MAX)
		RsModelCorrupt(model, "recsys.models gives an item count out of range");
	model->impersonal = model->kind->impersonal;
	return model;
}

/* A loaded model is served: its context leaves the statement's. */
static RsModel *
finish_model(RsModel *model, RsCatalogRow *row)
{
	if (model->user_col != NULL && model->item_col != NULL)
		model->source = resolve_source(row->source);
	MemoryContextSetParent(model->mcxt, TopMemoryContext);
	return model;
}

/*
 * The common part of a model's flat copy (the shared cache's): the item
 * map and popularity every model has; the kind's part follows at kind.
 */
typedef struct FlatModel
{
	int64		capacity;		/* the item map's */
	int32		shift;
	int32		count;
	Size		slot_keys;
	Size		slot_index;
	Size		ids;
	Size		popularity;
	Size		popular_order;
	Size		kind;
} FlatModel;

/* Lay a loaded model out flat (sizing only if flat->base is NULL). */
static void
flatten_model(RsModel *model, RsFlat *flat)
{
	FlatModel	h;
	Size		header = RsFlatPut(flat, NULL, sizeof(FlatModel));
	Size		n = model->items.count;

	memset(&h, 0, sizeof(h));
	h.capacity = model->items.capacity;
	h.shift = model->items.shift;
	h.count = model->items.count;
	h.slot_keys = RsFlatPut(flat, model->items.slot_keys, sizeof(int64) * model->items.capacity);
	h.slot_index = RsFlatPut(flat, model->items.slot_index, sizeof(int32) * model->items.capacity);
	h.ids = RsFlatPut(flat, model->items.ids, sizeof(int64) * n);
	h.popularity = RsFlatPut(flat, model->popularity, sizeof(float) * n);
	h.popular_order = RsFlatPut(flat, model->popular_order, sizeof(int32) * n);
	h.kind = TYPEALIGN(RS_FLAT_ALIGN, flat->size);
	model->kind->flatten(model, flat);
	if (flat->base != NULL)
		memcpy(flat->base + header, &h, sizeof(h));
}

/* RsSharedPublish's writer: the loaded model into shared memory. */
static void
write_flat_model(void *arg, char *buf, bool lean)
{
	RsFlat		flat = {buf, 0, lean};

	flatten_model((RsModel *) arg, &flat);
}

/* A model's context goes (freed, or an error while attaching): drop its reference. */
static void
release_shared_copy(void *arg)
{
	RsSharedRelease(((RsModel *) arg)->shared_slot);
}

/* A private load's context goes: it no longer loads the shared copy it reserved. */
static void
abandon_shared_load(void *arg)
{
	RsSharedAbandon(*(uint64 *) arg);
}

/*
 * Serve a new model from a shared copy, which this backend references
 * from now until the model's context is deleted.
 */
static RsModel *
attach_model(RsModel *model, RsCatalogRow *row, const char *copy, int slot, Size bytes)
{
	const FlatModel *h = (const FlatModel *) copy;
	MemoryContextCallback *cb = MemoryContextAlloc(model->mcxt, sizeof(MemoryContextCallback));

	model->shared_slot = slot;
	model->shared_bytes = bytes;
	cb->func = release_shared_copy;
	cb->arg = model;
	MemoryContextRegisterResetCallback(model->mcxt, cb);
	if (h->count != row->n_items)
		RsModelCorrupt(model, "the shared copy has another item count than recsys.models");
	model->items.capacity = h->capacity;
	model->items.shift = h->shift;
	model->items.count = h->count;
	model->items.slot_keys = RsFlatAt(copy, h->slot_keys);
	model->items.slot_index = RsFlatAt(copy, h->slot_index);
	model->items.ids = RsFlatAt(copy, h->ids);
	model->popularity = RsFlatAt(copy, h->popularity);
	model->popular_order = RsFlatAt(copy, h->popular_order);
	model->kind->attach(model, row, copy, h->kind);
	return finish_model(model, row);
}

/*
 * Whether this load may use or make a shared copy, and its key: only for
 * kinds that can be laid out flat, and only when everything the
 * transaction sees is committed (it has written nothing, so no version
 * of its own, which could still roll back, gets shared).
 */
static bool
shared_key(const char *name, const RsModel *model, const RsCatalogRow *row, RsSharedKey *key)
{
	if (!RsSharedCacheActive() || model->kind->flatten == NULL || model->kind->attach == NULL ||
		row->fingerprint == NULL || strlen(row->fingerprint) != RS_FINGERPRINT_LEN ||
		TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return false;
	memset(key, 0, sizeof(RsSharedKey));
	key->database = MyDatabaseId;
	strlcpy(key->name, name, NAMEDATALEN);
	key->version = row->version;
	key->trained_at = row->trained_at;
	key->owner = row->owner;
	strlcpy(key->fingerprint, row->fingerprint, sizeof(key->fingerprint));
	return true;
}

/*
 * Read a model's active version: from the shared copy if there is one,
 * else from its tables, publishing what was read as the shared copy if
 * the model can be shared (then this backend, too, serves from that copy
 * and frees what it read).
 */
static RsModel *
load_model(const char *name, RsCatalogRow *row)
{
	RsModel    *model = new_model(name, row);
	RsSharedKey key;
	bool		shareable = shared_key(name, model, row, &key);
	const char *copy;
	int			slot;
	Size		bytes;
	RsFlat		size = {NULL, 0, false};
	RsFlat		lean_size = {NULL, 0, true};

	if (shareable)
	{
		uint64	   *ticket = MemoryContextAlloc(model->mcxt, sizeof(uint64));

		copy = RsSharedAcquire(&key, &slot, &bytes, ticket);
		if (copy != NULL)
			return attach_model(model, row, copy, slot, bytes);
		if (*ticket != 0)
		{
			/* an error or a cancel while loading wakes the backends waiting */
			MemoryContextCallback *cb = MemoryContextAlloc(model->mcxt, sizeof(MemoryContextCallback));

			cb->func = abandon_shared_load;
			cb->arg = ticket;
			MemoryContextRegisterResetCallback(model->mcxt, cb);
		}
	}

	RsLoadItems(model, row->n_items);
	model->kind->load(model, row);
	if (shareable)
	{
		flatten_model(model, &size);
		flatten_model(model, &lean_size);

		/*
		 * A copy that cannot fit whole goes without what each backend can
		 * build for itself (an IVF index): the model is still shared, as
		 * before such parts were, rather than loaded by every backend.
		 * Whole when it fits once unused copies are freed; lean when only
		 * that fits (the cache full of copies in use: RsSharedPublish).
		 */
		bytes = RsSharedFits(size.size) ? size.size : lean_size.size;
		copy = RsSharedPublish(&key, &bytes, lean_size.size < size.size ? lean_size.size : 0,
							   write_flat_model, model, &slot);
		if (copy != NULL)
		{
			RsModel    *shared = new_model(name, row);

			free_plans(model);
			MemoryContextDelete(model->mcxt);
			return attach_model(shared, row, copy, slot, bytes);
		}
	}
	return finish_model(model, row);
}

/* A model to load (RsGetModel), and the result. */
typedef struct ModelLoad
{
	const char *name;
	RsCatalogRow *row;
	RsModel    *model;
} ModelLoad;

/*
 * Load a model as the catalog's owner: the caller has just read its
 * catalog row through row-level security, which is the check; its
 * artefact rows (100,000s of them) then cost no policy check each.
 * Only recsys's fixed queries run, with search_path pg_catalog, pg_temp.
 */
static void
load_as_catalog_owner(void *arg)
{
	ModelLoad  *load = arg;

	load->model = load_model(load->name, load->row);
}

/*
 * RsCurrentStatement stamps the running statement and what it can see.
 * Two calls with equal stamps belong to one top-level statement and see
 * the same data: same transaction, MVCC snapshots with the same command
 * id and the same horizon (xmin, xmax, transactions in progress), which
 * is everything visibility depends on, no savepoint rolled back in
 * between, and the same role asking.  (The snapshot alone would not do:
 * a PL/pgSQL function takes a new one for each of its statements, and
 * its completion counter is zeroed in copies, which the active snapshot
 * always is.)  Without an active MVCC snapshot the stamp is invalid and
 * never matches.
 */
RsStatementStamp
RsCurrentStatement(void)
{
	RsStatementStamp s;

	memset(&s, 0, sizeof(s));
	if (ActiveSnapshotSet())
	{
		Snapshot	snap = GetActiveSnapshot();

		if (snap->snapshot_type != SNAPSHOT_MVCC)
			return s;
		s.statement_start = GetCurrentStatementStartTimestamp();
		s.lxid = MyProc->lxid;
		s.cid = snap->curcid;
		GetUserIdAndSecContext(&s.user_id, &s.security_context);
		s.subxact_aborts = subxact_aborts;
		s.xmin = snap->xmin;
		s.xmax = snap->xmax;
		/* a standby keeps them all in subxip; the same set in another order only misses */
		s.in_progress = hash_bytes_extended((const unsigned char *) snap->xip,
											sizeof(TransactionId) * snap->xcnt, snap->xcnt) ^
			(hash_bytes_extended((const unsigned char *) snap->subxip,
								 sizeof(TransactionId) * Max(snap->subxcnt, 0),
								 (uint64) snap->subxcnt * 2 + snap->suboverflowed) * 0x9E3779B97F4A7C15);
		s.valid = true;
	}
	return s;
}

/* RsSameStatement says whether two stamps see the same data. */
bool
RsSameStatement(const RsStatementStamp *a, const RsStatementStamp *b)
{
	return a->valid && b->valid && a->statement_start == b->statement_start &&
		a->lxid == b->lxid && a->cid == b->cid &&
		a->xmin == b->xmin && a->xmax == b->xmax && a->in_progress == b->in_progress &&
		a->user_id == b->user_id && a->security_context == b->security_context &&
		a->subxact_aborts == b->subxact_aborts;
}

/*
 * Whether a loaded model is still what its catalog row describes: an
 * owner may edit the row's params or stats (its source's columns, say)
 * without a new version, and serving must then follow the row.
 */
static bool
describes_row(const RsModel *model, const RsCatalogRow *row)
{
	return model->fingerprint != NULL && row->fingerprint != NULL &&
		strcmp(model->fingerprint, row->fingerprint) == 0;
}

/*
 * A retired copy of exactly this version that a running statement still
 * holds (a cursor's older snapshot, alternating with newer statements),
 * taken off the retired list; NULL if there is none.  Not for kinds that
 * revalidate per statement: a retired blend may have bound members that
 * are no longer current.
 */
static RsModel *
take_retired(const char *name, const RsCatalogRow *row)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &retired_models)
	{
		RsModel    *model = dlist_container(RsModel, cache_node, iter.cur);

		if (model->kind->revalidate == NULL && strcmp(model->name, name) == 0 &&
			model->version == row->version && model->trained_at == row->trained_at &&
			describes_row(model, row))
		{
			dlist_delete(&model->cache_node);
			return model;
		}
	}
	return NULL;
}

/*
 * Make the version the catalog row names the cache's copy, the previous
 * one (if any) retired or freed: a retired copy of it if a statement
 * still holds one, else loaded from the model's tables.
 */
static RsModel *
cache_model(const char *name, RsCatalogRow *row)
{
	ModelCacheEntry *entry;
	bool		found;
	RsModel    *model = NULL;
	int64		loads = 0;
	int64		checks = 1;

	entry = hash_search(model_cache, name, HASH_FIND, NULL);
	if (entry == NULL || entry->model->version != row->version ||
		entry->model->trained_at != row->trained_at)
		model = take_retired(name, row);
	if (model == NULL)
	{
		ModelLoad	load = {name, row, NULL};

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* the caller's right was checked through the policies on its row */
		RsRunAsCatalogOwner(load_as_catalog_owner, &load);
		model = load.model;
		SPI_finish();
		loads = 1;
	}
	/* loading ran queries: look the entry up only now */
	entry = hash_search(model_cache, name, HASH_FIND, NULL);
	if (entry)
	{
		loads += entry->loads;
		checks = entry->checks;
		uncache_model(entry->model);
	}
	model->cached = true;
	dlist_push_head(&lru_models, &model->cache_node);
	entry = hash_search(model_cache, name, HASH_ENTER, &found);
	entry->model = model;
	entry->loads = loads;
	entry->checks = checks;
	entry->written_xact = TransactionIdIsValid(GetTopTransactionIdIfAny()) ? xact_serial : 0;
	entry->written_subxact = GetCurrentSubTransactionId();
	/* a retired copy may predate a change of its source */
	refresh_source(model);
	return model;
}

/*
 * Pin a model for the current statement and mark it most recently used;
 * false if it is a blend with a member reloaded since it bound them (then
 * the blend must be loaded anew).
 */
static bool
use_model(RsModel *model)
{
	pin_model(model);
	if (model->cached && dlist_head_node(&lru_models) != &model->cache_node)
		dlist_move_head(&lru_models, &model->cache_node);
	return model->kind->revalidate == NULL || model->kind->revalidate(model);
}

/*
 * RsGetModel returns the named model, loaded and current as of this
 * statement's snapshot, or raises an error if there is no such model.
 * The result is pinned: it stays valid until the statement (or cursor,
 * or exception block) that asked for it ends, even if a statement nested
 * in it replaces or drops the model.
 */
RsModel *
RsGetModel(const char *name)
{
	ModelCacheEntry *entry;
	RsCatalogRow	row;
	RsModel    *model;
	RsStatementStamp now = RsCurrentStatement();
	MemoryContext caller = CurrentMemoryContext;
	bool		found;

	/* as the trainers check it, never echoing a long name back whole */
	RsCheckModelName(name);
	if (model_cache == NULL)
		init_cache();

	/*
	 * Checked by this statement already.  A blend's members are looked up
	 * again: one may have been reloaded since, by a statement with another
	 * snapshot (a cursor's FETCH brings an older one back).
	 */
	entry = hash_search(model_cache, name, HASH_FIND, NULL);
	if (entry && RsSameStatement(&entry->model->checked, &now) && use_model(entry->model))
		return entry->model;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	found = read_catalog_row(name, caller, &row);
	SPI_finish();
	entry = hash_search(model_cache, name, HASH_FIND, NULL);
	if (!found)
	{
		bool		exists;
		Oid			owner = RsModelOwner(name, &exists);

		if (exists && !has_privs_of_role(GetUserId(), owner))
		{
			/*
			 * A model the role may not use (row-level security hid its row):
			 * say whose it is.  A copy loaded for another role stays cached.
			 */
			RsDenyModel(name, owner, "use");
		}
		/* (a model that exists now was created after this statement's snapshot) */
		if (entry)
			uncache_model(entry->model);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("SELECT name FROM recsys.models lists the models.")));
	}
	/* (in REPEATABLE READ, also by the latest committed row: review s12, V7) */
	RsRequireUseNow(name);
	if (entry)
		entry->checks++;
	if (entry && entry->model->version == row.version &&
		entry->model->trained_at == row.trained_at && describes_row(entry->model, &row))
	{
		model = entry->model;
		refresh_source(model);
		model->owner = row.owner;
		if (use_model(model))
		{
			model->checked = now;
			return model;
		}
	}
	model = cache_model(name, &row);
	/* recsys.alter_model_owner changes no version: follow the row */
	model->owner = row.owner;
	if (!use_model(model))
		elog(ERROR, "blend \"%s\" changed while it was loaded", name);
	model->checked = now;
	evict_models();
	return model;
}

/* RsModelItemIndex returns an item's dense index, or -1 if unknown. */
int32
RsModelItemIndex(RsModel *model, int64 item_id)
{
	return rs_idmap_lookup(&model->items, item_id);
}

/*
 * recsys_cache_stats() returns a row per model this backend has loaded:
 * its version, algorithm, items, memory, and how often it was loaded and
 * checked against the catalog (once per statement that uses it).
 */
Datum
recsys_cache_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS status;
	ModelCacheEntry *entry;
	HTAB	   *visible;

	InitMaterializedSRF(fcinfo, 0);
	if (model_cache == NULL || (visible = RsVisibleModels()) == NULL)
		return (Datum) 0;

	hash_seq_init(&status, model_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		Datum		values[7];
		bool		nulls[7] = {false};
		RsModel    *model = entry->model;

		if (hash_search(visible, entry->name, HASH_FIND, NULL) == NULL)
			continue;

		values[0] = CStringGetTextDatum(entry->name);
		values[1] = Int32GetDatum(model->version);
		values[2] = CStringGetTextDatum(model->algorithm);
		values[3] = Int64GetDatum(model->items.count);
		values[4] = Int64GetDatum((int64) model_bytes(model));
		values[5] = Int64GetDatum(entry->loads);
		values[6] = Int64GetDatum(entry->checks);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * RsModelCacheInit defines recsys.cache_size.  Superuser-only, like the
 * other memory limits: it is the administrator's bound on what each
 * backend keeps.
 */
void
RsModelCacheInit(void)
{
	DefineCustomIntVariable("recsys.cache_size",
							"Sets how much memory of loaded models a backend keeps for serving.",
							"Beyond it the least recently used models no running statement "
							"uses are evicted (and loaded again when next used).",
							&recsys_cache_size_kb,
							RECSYS_DEFAULT_CACHE_SIZE_KB,
							0, RECSYS_MAX_CACHE_SIZE_KB,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
}
