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

#include "als.h"
#include "cancel.h"
#include "blend.h"
#include "fold_in.h"
#include "ingest.h"
#include "model_acl.h"
#include "model_cache.h"
#include "recency.h"
#include "spi_util.h"

typedef struct ModelCacheEntry
{
	char		name[NAMEDATALEN];	/* hash key */
	RsModel    *model;			/* loaded, never NULL */
	int64		loads;			/* times read from the model's tables */
	int64		checks;			/* times its catalog row was read */
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

/* What the catalog says about a model's active version. */
typedef struct CatalogRow
{
	int32		version;
	TimestampTz trained_at;
	char	   *algorithm;
	char	   *source;
	char	   *user_col;
	char	   *item_col;
	char	   *weight_col;
	int64		n_users;
	int64		n_items;
	int			k;
	bool		explicit_feedback;
	bool		binary;
	float		global_mean;
	float		rating_min;
	float		rating_max;
	float		regularization;
	float		alpha;
	char	   *time_col;
	double		half_life;
	float		reg_exponent;
	Oid			owner;
	bool		store_users;
} CatalogRow;

/* Subtransactions rolled back in this backend: part of every statement stamp. */
static uint64 subxact_aborts = 0;

static void
count_subxact_abort(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		subxact_aborts++;
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

static float
float_column(HeapTuple tuple, TupleDesc desc, int col, float if_null)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	return isnull ? if_null : (float) DatumGetFloat8(d);
}

/*
 * Look the model up in recsys.models; false if there is no such model or
 * the current role may not use it (row-level security hides its row).
 * SPI must be connected; strings are copied into the caller's context.
 */
static bool
read_catalog_row(const char *name, MemoryContext result_context, CatalogRow *row)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	MemoryContext old;

	RsExecute("SELECT version, trained_at, algorithm, source, "
			  "params->>'user_col', params->>'item_col', params->>'weight_col', "
			  "n_users, n_items, (params->>'factors')::pg_catalog.int4, "
			  "params->>'feedback' = 'explicit', "
			  "(stats->>'global_mean')::pg_catalog.float8, "
			  "(stats->>'rating_min')::pg_catalog.float8, "
			  "(stats->>'rating_max')::pg_catalog.float8, "
			  "(params->>'regularization')::pg_catalog.float8, "
			  "(params->>'alpha')::pg_catalog.float8, "
			  "params->>'binary' = 'true', "
			  "params->>'time_col', (params->>'half_life_seconds')::pg_catalog.float8, "
			  "(params->>'regularization_exponent')::pg_catalog.float8, owner::pg_catalog.oid, "
			  "params->>'store_users' = 'false' "
			  "FROM recsys.models WHERE name OPERATOR(pg_catalog.=) $1",
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
	row->user_col = text_column(tuple, desc, 5);
	row->item_col = text_column(tuple, desc, 6);
	row->weight_col = text_column(tuple, desc, 7);
	row->n_users = DatumGetInt64(SPI_getbinval(tuple, desc, 8, &isnull));
	row->n_items = DatumGetInt64(SPI_getbinval(tuple, desc, 9, &isnull));
	{
		Datum		d = SPI_getbinval(tuple, desc, 10, &isnull);

		row->k = isnull ? 0 : DatumGetInt32(d);
		d = SPI_getbinval(tuple, desc, 11, &isnull);
		row->explicit_feedback = !isnull && DatumGetBool(d);
	}
	row->global_mean = float_column(tuple, desc, 12, 0);
	row->rating_min = float_column(tuple, desc, 13, -get_float4_infinity());
	row->rating_max = float_column(tuple, desc, 14, get_float4_infinity());
	row->regularization = float_column(tuple, desc, 15, 0);
	row->alpha = float_column(tuple, desc, 16, 1);
	{
		Datum		d = SPI_getbinval(tuple, desc, 17, &isnull);

		row->binary = !isnull && DatumGetBool(d);
	}
	row->time_col = text_column(tuple, desc, 18);
	{
		Datum		d = SPI_getbinval(tuple, desc, 19, &isnull);

		row->half_life = isnull ? 0 : DatumGetFloat8(d);
	}
	row->reg_exponent = float_column(tuple, desc, 20, 0);
	row->owner = DatumGetObjectId(SPI_getbinval(tuple, desc, 21, &isnull));
	{
		Datum		d = SPI_getbinval(tuple, desc, 22, &isnull);

		/* absent before 0.6.0: every factor model stored its users */
		row->store_users = isnull || !DatumGetBool(d);
	}
	MemoryContextSwitchTo(old);
	return true;
}

/* Model corruption is a can't-happen for recsys, but DBAs may edit tables. */
static void
corrupt(RsModel *model, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("model \"%s\" version %d is damaged: %s", model->name, model->version, what),
			 errhint("Retrain the model.")));
}

/* A hash map sized for n ids, allocated in the model's context. */
static void
init_map(RsModel *model, RsIdMap *map, int64 n)
{
	int64		capacity = 16;

	while (capacity < 2 * n + 2)
		capacity *= 2;
	rs_idmap_init(map, MemoryContextAllocExtended(model->mcxt, rs_idmap_bytes(capacity),
												  MCXT_ALLOC_HUGE), capacity);
}

/* Zeroed model memory; a cancel can stop the zeroing of a big model. */
static void *
alloc_model(RsModel *model, Size size)
{
	return RsAllocZero(model->mcxt, size);
}

/* item_stats rows: item ids and popularity */
typedef struct ItemLoad
{
	RsModel    *model;
	int64		capacity;
} ItemLoad;

static void
load_item_row(TupleTableSlot *slot, void *arg)
{
	ItemLoad   *load = arg;
	RsModel    *model = load->model;
	int32		index;

	if (model->items.count >= load->capacity || slot->tts_isnull[0])
		corrupt(model, "recsys.item_stats has more items than recsys.models says");
	index = rs_idmap_insert(&model->items, DatumGetInt64(slot->tts_values[0]));
	model->popularity[index] = DatumGetFloat4(slot->tts_values[1]);
}

/* Popularity order for the fallback: most popular first, then smaller id. */
static RsModel *sort_model;

static int
popular_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;
	float		px = sort_model->popularity[x];
	float		py = sort_model->popularity[y];

	if (px != py)
		return px > py ? -1 : 1;
	return sort_model->items.ids[x] < sort_model->items.ids[y] ? -1 : 1;
}

/* Load every item (in id order, so dense indexes follow ids). */
static void
load_items(RsModel *model, int64 n_items)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(model->name), Int32GetDatum(model->version)};
	ItemLoad	load = {model, n_items};

	init_map(model, &model->items, n_items);
	model->popularity = alloc_model(model, sizeof(float) * n_items);
	RsStreamQuery("SELECT item_id, popularity FROM recsys.item_stats "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2 "
				  "ORDER BY item_id",
				  2, argtypes, values, NULL, true, load_item_row, &load);

	model->popular_order = alloc_model(model, sizeof(int32) * model->items.count);
	for (int32 i = 0; i < model->items.count; i++)
		model->popular_order[i] = i;
	sort_model = model;
	qsort(model->popular_order, model->items.count, sizeof(int32), popular_cmp);
	sort_model = NULL;
}

/* item_factors rows */
static void
load_factor_row(TupleTableSlot *slot, void *arg)
{
	RsModel    *model = arg;
	int64		id = DatumGetInt64(slot->tts_values[0]);
	ArrayType  *factors = DatumGetArrayTypeP(slot->tts_values[2]);
	int32		index;

	if (ARR_NDIM(factors) != 1 || ARR_DIMS(factors)[0] != model->k || ARR_HASNULL(factors))
		corrupt(model, "a factor vector has the wrong length");
	index = rs_idmap_lookup(&model->items, id);
	if (index < 0)
		corrupt(model, "an item has factors but no row in recsys.item_stats");
	model->item_bias[index] = DatumGetFloat4(slot->tts_values[1]);
	memcpy(model->item_factors + (int64) index * model->k, ARR_DATA_PTR(factors),
		   sizeof(float) * model->k);
	if ((Pointer) factors != DatumGetPointer(slot->tts_values[2]))
		pfree(factors);
}

/*
 * Load a factor model's items.  User vectors are not cached: they are
 * read one at a time when needed (RsModelUserVector), so a model with
 * millions of users costs each backend only its items' memory, and a
 * user refreshed by refresh_user() counts at once everywhere.
 */
static void
load_factors(RsModel *model)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(model->name), Int32GetDatum(model->version)};
	int32		n_items = model->items.count;

	if (model->k <= 0)
		corrupt(model, "params has no factors");
	model->item_factors = alloc_model(model, sizeof(float) * model->k * (Size) n_items);
	model->item_bias = alloc_model(model, sizeof(float) * n_items);
	model->item_norms = alloc_model(model, sizeof(float) * n_items);
	model->user_vector = alloc_model(model, sizeof(float) * model->k);

	RsStreamQuery("SELECT item_id, bias, factors FROM recsys.item_factors "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
				  2, argtypes, values, NULL, true, load_factor_row, model);

	for (int32 i = 0; i < n_items; i++)
	{
		double		s = 0;

		if (i % 1024 == 0)
			CHECK_FOR_INTERRUPTS();
		for (int f = 0; f < model->k; f++)
			s += (double) model->item_factors[(int64) i * model->k + f] *
				model->item_factors[(int64) i * model->k + f];
		model->item_norms[i] = (float) sqrt(s);
	}
}

/* neighbour list rows, in owner id order */
typedef struct NeighborLoad
{
	RsModel    *model;
	RsIdMap    *map;			/* owners and neighbours alike */
	int64		capacity;
	int32		last_owner;
} NeighborLoad;

static void
load_neighbor_row(TupleTableSlot *slot, void *arg)
{
	NeighborLoad *load = arg;
	RsModel    *model = load->model;
	RsCsr	   *m = &model->neighbors;
	int32		owner = rs_idmap_lookup(load->map, DatumGetInt64(slot->tts_values[0]));
	ArrayType  *ids = DatumGetArrayTypeP(slot->tts_values[1]);
	ArrayType  *scores = DatumGetArrayTypeP(slot->tts_values[2]);
	int			n = ArrayGetNItems(ARR_NDIM(ids), ARR_DIMS(ids));
	const int64 *id = (const int64 *) ARR_DATA_PTR(ids);
	const float *score = (const float *) ARR_DATA_PTR(scores);

	if (owner < 0 || owner < load->last_owner)
		corrupt(model, "a neighbour list has an unknown or out-of-order owner");
	if (ARR_ELEMTYPE(ids) != INT8OID || ARR_ELEMTYPE(scores) != FLOAT4OID ||
		ARR_HASNULL(ids) || ARR_HASNULL(scores) ||
		ArrayGetNItems(ARR_NDIM(scores), ARR_DIMS(scores)) != n ||
		m->nnz + n > load->capacity)
		corrupt(model, "a neighbour list is malformed");
	/* close the rows up to this owner */
	while (load->last_owner < owner)
		m->indptr[++load->last_owner] = m->nnz;
	for (int j = 0; j < n; j++)
	{
		int32		target = rs_idmap_lookup(load->map, id[j]);

		if (target < 0)
			corrupt(model, "a neighbour list names an unknown id");
		m->indices[m->nnz] = target;
		m->data[m->nnz] = score[j];
		m->nnz++;
	}
	/* detoasted copies: free them now, or the load holds the lists twice */
	if ((Pointer) ids != DatumGetPointer(slot->tts_values[1]))
		pfree(ids);
	if ((Pointer) scores != DatumGetPointer(slot->tts_values[2]))
		pfree(scores);
}

/* Number the users of a user-kNN model in id order. */
static void
map_user_row(TupleTableSlot *slot, void *arg)
{
	RsModel    *model = arg;

	if (rs_idmap_full(&model->users))
		corrupt(model, "more users than counted");
	rs_idmap_insert(&model->users, DatumGetInt64(slot->tts_values[0]));
}

/*
 * Load neighbour lists as a CSR over owner indexes, best first within a
 * row.  Owners are items (item-kNN) or users (user-kNN, whose map is built
 * here from the owners and neighbours in id order).
 */
static void
load_neighbors(RsModel *model, bool users)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(model->name), Int32GetDatum(model->version)};
	NeighborLoad load;
	int64		total;
	int64		n_owners;
	bool		isnull;
	RsCsr	   *m = &model->neighbors;

	RsExecute(users ?
			  "SELECT coalesce(sum(pg_catalog.cardinality(neighbor_ids)), 0)::pg_catalog.int8 "
			  "FROM recsys.user_neighbor_lists "
			  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2" :
			  "SELECT coalesce(sum(pg_catalog.cardinality(neighbor_ids)), 0)::pg_catalog.int8 "
			  "FROM recsys.item_neighbor_lists "
			  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
			  2, argtypes, values, NULL, true, SPI_OK_SELECT);
	total = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	memset(&load, 0, sizeof(load));
	load.model = model;
	load.capacity = total;
	if (users)
	{
		const char *every_user =
			"SELECT user_id FROM recsys.user_neighbor_lists "
			"WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2 "
			"UNION SELECT pg_catalog.unnest(neighbor_ids) FROM recsys.user_neighbor_lists "
			"WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2";

		RsExecute(psprintf("SELECT count(*) FROM (%s) s", every_user),
				  2, argtypes, values, NULL, true, SPI_OK_SELECT);
		n_owners = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		init_map(model, &model->users, n_owners);
		RsStreamQuery(psprintf("SELECT u FROM (%s) s(u) ORDER BY u", every_user),
					  2, argtypes, values, NULL, true, map_user_row, model);
		load.map = &model->users;
	}
	else
	{
		n_owners = model->items.count;
		load.map = &model->items;
	}

	m->indptr = alloc_model(model, sizeof(int64) * (n_owners + 1));
	m->indices = alloc_model(model, sizeof(int32) * Max(total, 1));
	m->data = alloc_model(model, sizeof(float) * Max(total, 1));
	m->nnz = 0;
	RsStreamQuery(users ?
				  "SELECT user_id, neighbor_ids, scores FROM recsys.user_neighbor_lists "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2 "
				  "ORDER BY user_id" :
				  "SELECT item_id, neighbor_ids, scores FROM recsys.item_neighbor_lists "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2 "
				  "ORDER BY item_id",
				  2, argtypes, values, NULL, true, load_neighbor_row, &load);
	while (load.last_owner < load.map->count)
		m->indptr[++load.last_owner] = m->nnz;
	m->n_rows = load.map->count;
	m->n_cols = load.map->count;
}

/*
 * Prepare the per-call queries for users' items in the source, on first
 * use (SPI connected, as the model's owner: RsRunAsOwner; the source's
 * row-level security is applied for the role that prepares them).
 */
static void
prepare_seen_queries(void *arg)
{
	RsModel    *model = arg;
	StringInfoData q;
	const char *weight;
	const char *source;
	MemoryContext old = MemoryContextSwitchTo(model->mcxt);

	/* the name goes into SQL re-quoted from the catalog, never as stored */
	source = RsRelationName(model->source);
	weight = model->weight_col ? quote_identifier(model->weight_col) : "1";
	initStringInfo(&q);
	appendStringInfo(&q, "SELECT %s::pg_catalog.int8, (%s)::pg_catalog.float4, %s FROM %s WHERE %s OPERATOR(pg_catalog.=) $1",
					 quote_identifier(model->item_col), weight,
					 model->time_col ? RsTimeEpochSql(model->source, model->time_col, "time_col") : "NULL::pg_catalog.float8",
					 source, quote_identifier(model->user_col));
	model->seen_plan = SPI_prepare(q.data, 1, (Oid[]) {INT8OID});
	if (model->seen_plan == NULL || SPI_keepplan(model->seen_plan) != 0)
		elog(ERROR, "could not prepare \"%s\": %s", q.data, SPI_result_code_string(SPI_result));

	resetStringInfo(&q);
	appendStringInfo(&q, "SELECT %s::pg_catalog.int8, %s::pg_catalog.int8, (%s)::pg_catalog.float4 FROM %s "
					 "WHERE %s OPERATOR(pg_catalog.=) ANY ($1)",
					 quote_identifier(model->user_col), quote_identifier(model->item_col),
					 weight, source, quote_identifier(model->user_col));
	model->seen_many_plan = SPI_prepare(q.data, 1, (Oid[]) {INT8ARRAYOID});
	if (model->seen_many_plan == NULL || SPI_keepplan(model->seen_many_plan) != 0)
		elog(ERROR, "could not prepare \"%s\": %s", q.data, SPI_result_code_string(SPI_result));
	MemoryContextSwitchTo(old);
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

/* Free a prepared query now, or keep it until the model is unpinned. */
static void
drop_plan(RsModel *model, SPIPlanPtr plan)
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
	drop_plan(model, model->user_plan);
	model->user_plan = NULL;
	drop_plan(model, model->seen_plan);
	drop_plan(model, model->seen_many_plan);
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
	return MemoryContextMemAllocated(model->mcxt, true);
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
 * Read a model's active version into a new context.  The context hangs
 * under the current (statement) context until the load succeeds, so an
 * error or a cancel halfway frees it.
 */
static RsModel *
load_model(const char *name, CatalogRow *row)
{
	MemoryContext mcxt = AllocSetContextCreate(CurrentMemoryContext, "recsys model",
											   ALLOCSET_DEFAULT_SIZES);
	RsModel    *model = MemoryContextAllocZero(mcxt, sizeof(RsModel));
	MemoryContext old;

	model->mcxt = mcxt;
	model->instance = next_instance++;
	dlist_init(&model->pins);
	strlcpy(model->name, name, NAMEDATALEN);
	model->version = row->version;
	model->trained_at = row->trained_at;
	old = MemoryContextSwitchTo(mcxt);
	model->algorithm = pstrdup(row->algorithm);
	model->user_col = row->user_col ? pstrdup(row->user_col) : NULL;
	model->item_col = row->item_col ? pstrdup(row->item_col) : NULL;
	model->weight_col = row->weight_col ? pstrdup(row->weight_col) : NULL;
	/* item models weight the history they score by age; popular's decay is in its stats */
	if (row->half_life > 0 && row->time_col &&
		(strcmp(row->algorithm, "ease") == 0 || strcmp(row->algorithm, "item_knn") == 0))
		model->time_col = pstrdup(row->time_col);
	model->half_life = model->time_col ? row->half_life : 0;
	model->source_name = pstrdup(row->source);
	MemoryContextSwitchTo(old);
	model->k = row->k;
	model->explicit_feedback = row->explicit_feedback;
	model->binary = row->binary;
	model->global_mean = row->global_mean;
	model->rating_min = row->rating_min;
	model->rating_max = row->rating_max;
	model->regularization = row->regularization;
	model->reg_exponent = row->reg_exponent;
	model->alpha = row->alpha;
	model->store_users = row->store_users;

	if (strcmp(row->algorithm, "als") == 0 || strcmp(row->algorithm, "mf") == 0)
		model->kind = RS_MODEL_FACTORS;
	else if (strcmp(row->algorithm, "item_knn") == 0 || strcmp(row->algorithm, "ease") == 0)
		model->kind = RS_MODEL_ITEM_KNN;
	else if (strcmp(row->algorithm, "user_knn") == 0)
		model->kind = RS_MODEL_USER_KNN;
	else if (strcmp(row->algorithm, "popular") == 0)
		model->kind = RS_MODEL_POPULAR;
	else if (strcmp(row->algorithm, "blend") == 0)
		model->kind = RS_MODEL_BLEND;
	else
		corrupt(model, "unknown algorithm");
	/* item indexes are int32; a negative count would wrap the allocations */
	if (row->n_items < 0 || row->n_items > PG_INT32_MAX)
		corrupt(model, "recsys.models gives an item count out of range");

	load_items(model, row->n_items);
	if (model->kind == RS_MODEL_FACTORS)
		load_factors(model);
	else if (model->kind == RS_MODEL_ITEM_KNN)
		load_neighbors(model, false);
	else if (model->kind == RS_MODEL_USER_KNN)
		load_neighbors(model, true);
	else if (model->kind == RS_MODEL_BLEND)
		RsLoadBlendMembers(model);

	if (model->user_col != NULL && model->item_col != NULL)
		model->source = resolve_source(row->source);

	MemoryContextSetParent(mcxt, TopMemoryContext);
	return model;
}

/* A model to load (RsGetModel), and the result. */
typedef struct ModelLoad
{
	const char *name;
	CatalogRow *row;
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

/* Two optional names: both absent, or equal. */
static bool
same_name(const char *a, const char *b)
{
	return a == NULL ? b == NULL : (b != NULL && strcmp(a, b) == 0);
}

/*
 * Whether a loaded model still reads the source its catalog row names:
 * an owner may edit the row's source or columns without a new version,
 * and serving must then read what the row says, not what it said.
 */
static bool
describes_source(const RsModel *model, const CatalogRow *row)
{
	return same_name(model->source_name, row->source) &&
		same_name(model->user_col, row->user_col) &&
		same_name(model->item_col, row->item_col) &&
		same_name(model->weight_col, row->weight_col);
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
 * A retired copy of exactly this version that a running statement still
 * holds (a cursor's older snapshot, alternating with newer statements),
 * taken off the retired list; NULL if there is none.  Not for blends: a
 * retired blend may have bound members that are no longer current.
 */
static RsModel *
take_retired(const char *name, const CatalogRow *row)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &retired_models)
	{
		RsModel    *model = dlist_container(RsModel, cache_node, iter.cur);

		if (model->kind != RS_MODEL_BLEND && strcmp(model->name, name) == 0 &&
			model->version == row->version && model->trained_at == row->trained_at &&
			describes_source(model, row))
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
cache_model(const char *name, CatalogRow *row)
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
	return model->kind != RS_MODEL_BLEND || RsResolveBlendMembers(model);
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
	CatalogRow	row;
	RsModel    *model;
	RsStatementStamp now = RsCurrentStatement();
	MemoryContext caller = CurrentMemoryContext;
	bool		found;

	if (strlen(name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" does not exist", name),
				 errdetail("Model names are at most %d characters long.", NAMEDATALEN - 1)));
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
	if (entry)
		entry->checks++;
	if (entry && entry->model->version == row.version &&
		entry->model->trained_at == row.trained_at && describes_source(entry->model, &row))
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

/* One user's row of recsys.user_factors (RsModelUserVector). */
typedef struct UserVectorRead
{
	RsModel    *model;
	Datum	   *values;
	int			result;
} UserVectorRead;

/*
 * Run the user vector query, as the catalog's owner: the model came from
 * RsGetModel in this statement, which checked the caller's right to it.
 */
static void
read_user_vector(void *arg)
{
	UserVectorRead *read = arg;
	RsModel    *model = read->model;

	if (model->user_plan == NULL)
	{
		model->user_plan = SPI_prepare("SELECT bias, factors FROM recsys.user_factors "
									   "WHERE model OPERATOR(pg_catalog.=) $1 "
									   "AND version OPERATOR(pg_catalog.=) $2 "
									   "AND user_id OPERATOR(pg_catalog.=) $3",
									   3, (Oid[]) {TEXTOID, INT4OID, INT8OID});
		if (model->user_plan == NULL || SPI_keepplan(model->user_plan) != 0)
			elog(ERROR, "could not prepare the user vector query: %s",
				 SPI_result_code_string(SPI_result));
	}
	read->result = SPI_execute_plan(model->user_plan, read->values, NULL, true, 1);
}

/* Read the user's stored vector and bias; false if there is none. */
static bool
read_stored_vector(RsModel *model, int64 user_id)
{
	Datum		values[3] = {CStringGetTextDatum(model->name), Int32GetDatum(model->version),
	Int64GetDatum(user_id)};
	UserVectorRead read = {model, values, 0};
	bool		found;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsRunAsCatalogOwner(read_user_vector, &read);
	if (read.result != SPI_OK_SELECT)
		elog(ERROR, "reading the vector of user " INT64_FORMAT " failed: %s", user_id,
			 SPI_result_code_string(read.result));
	found = SPI_processed == 1;
	if (found)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		ArrayType  *factors = isnull ? NULL : DatumGetArrayTypeP(d);

		if (factors == NULL || ARR_NDIM(factors) != 1 || ARR_DIMS(factors)[0] != model->k ||
			ARR_HASNULL(factors))
			corrupt(model, "a user's factor vector has the wrong length");
		memcpy(model->user_vector, ARR_DATA_PTR(factors), sizeof(float) * model->k);
		model->vector_bias = DatumGetFloat4(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	return found;
}

/*
 * Fold the user's interactions in (RsFoldIn: one k x k solve against the
 * item factors, as training solves a user): items when the caller has
 * read them, else the user's rows of the source as they are now.  False
 * if the user has no interaction with the model's items.
 */
static bool
fold_in_vector(RsModel *model, int64 user_id, const RsUserItems *items)
{
	RsUserItems read = {0};
	bool		found;

	if (items == NULL)
	{
		RsReadUserItems(model, user_id, "A model trained with store_users => false", &read);
		items = &read;
	}
	found = RsFoldInUserItems(model, items, model->user_vector, &model->vector_bias);
	RsFreeUserItems(&read);
	return found;
}

/*
 * RsModelUserVector returns a factor model's vector (and bias) for a
 * user, or NULL if the model has none for the user.  A model that stores
 * its users reads the vector from recsys.user_factors through the primary
 * key; one trained with store_users false folds the user's current
 * interactions in: items if the caller has read them (all of the user's
 * interactions with the model's items, as RsReadUserItems returns them),
 * else read here.  The answer is kept for the rest of the statement, so
 * scoring many items for one user (ORDER BY recsys.score(...)) reads or
 * solves once.  The returned pointer stays valid until the next call.
 */
const float *
RsModelUserVector(RsModel *model, int64 user_id, const RsUserItems *items, float *bias)
{
	RsStatementStamp now = RsCurrentStatement();

	if (model->kind != RS_MODEL_FACTORS)
		return NULL;
	if (!(model->vector_user == user_id && RsSameStatement(&model->vector_stamp, &now)))
	{
		/* an error halfway leaves no half-made answer behind */
		model->vector_stamp.valid = false;
		model->vector_found = model->store_users ? read_stored_vector(model, user_id) :
			fold_in_vector(model, user_id, items);
		model->vector_user = user_id;
		model->vector_stamp = now;
	}
	if (!model->vector_found)
		return NULL;
	if (bias)
		*bias = model->vector_bias;
	return model->user_vector;
}

/*
 * RsModelGram returns the k x k Gram matrix Y^T Y of a factor model's item
 * factors, computed on first use and kept with the model.
 */
const float *
RsModelGram(RsModel *model)
{
	if (model->gram == NULL)
	{
		Size		bytes = sizeof(float) * model->k * model->k;
		/* computed in the statement's memory: a cancel midway leaks nothing */
		float	   *g = palloc(bytes);

		RsGram(model->item_factors, model->items.count, model->k, g);
		model->gram = MemoryContextAlloc(model->mcxt, bytes);
		memcpy(model->gram, g, bytes);
		pfree(g);
	}
	return model->gram;
}

/* RsModelUserIndex returns a user-kNN model's dense user index, or -1. */
int32
RsModelUserIndex(RsModel *model, int64 user_id)
{
	if (model->users.capacity == 0)
		return -1;
	return rs_idmap_lookup(&model->users, user_id);
}

/*
 * RsSourceReader returns the role whose rights a model's source is read
 * with: the model's owner, who chose it.  A blend reads the source of its
 * first member, as the member's owner, and only while that member still
 * reads the same relation with the same columns: the blend's copy of them
 * is the blend owner's row (which its owner may edit), and neither the
 * member owner's code (a view's functions) may run with the rights of
 * whoever made a blend of the model, nor may a blend owner make the member
 * owner read columns of the blend owner's choosing.  Otherwise the blend
 * must be retrained.  (Members are current for the statement: RsGetModel
 * resolved them.)
 */
Oid
RsSourceReader(RsModel *model)
{
	RsModel    *first;

	if (model->kind != RS_MODEL_BLEND)
		return model->owner;
	first = model->n_members > 0 ? model->members[0].model : NULL;
	if (first == NULL || !OidIsValid(first->source) || first->source != model->source ||
		!same_name(first->source_name, model->source_name) ||
		!same_name(first->user_col, model->user_col) ||
		!same_name(first->item_col, model->item_col) ||
		!same_name(first->weight_col, model->weight_col))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("blend \"%s\" no longer reads the source of its first member \"%s\"",
						model->name, model->n_members > 0 ? model->members[0].name : ""),
				 errdetail("A blend reads its users' items from its first member's source, with that member's columns, "
						   "as that member's owner; the member has been retrained on another source or other columns since, "
						   "or the blend's own description was changed."),
				 errhint("Retrain the blend with recsys.train_blend.")));
	return first->owner;
}

/*
 * RsRequireSource raises an error when the model's source is gone and a
 * feature needs it.
 */
void
RsRequireSource(RsModel *model, const char *why)
{
	if (OidIsValid(model->source) && model->seen_plan == NULL)
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		RsRunAsOwner(model->name, RsSourceReader(model), prepare_seen_queries, model);
		SPI_finish();
	}
	if (!OidIsValid(model->source) || model->seen_plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" of model \"%s\" no longer exists", model->source_name, model->name),
				 errdetail("%s needs the user's interactions, which are read from the model's source.", why),
				 errhint("Recreate the source (or rename it back), or retrain the model on the current one.")));

	/*
	 * The prepared queries name the columns; one renamed or dropped since
	 * would fail inside them with a bare "column does not exist".  Once per
	 * statement: the queries' locks keep the columns until it ends.
	 */
	{
		const char *columns[4] = {model->user_col, model->item_col, model->weight_col, model->time_col};
		RsStatementStamp now = RsCurrentStatement();

		if (RsSameStatement(&model->columns_checked, &now))
			return;
		for (int c = 0; c < 4; c++)
		{
			AttrNumber	attnum;

			if (columns[c] == NULL)
				continue;
			attnum = get_attnum(model->source, columns[c]);
			if (attnum == InvalidAttrNumber || attnum < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" of source \"%s\" of model \"%s\" no longer exists",
								columns[c], model->source_name, model->name),
						 errdetail("%s needs the user's interactions, which are read from the model's source.", why),
						 errhint("Restore the column (or rename it back), or retrain the model on the source as it is now.")));
		}
		model->columns_checked = now;
	}
}

/* Order a user's interactions by item index, for merging duplicates. */
static int
user_item_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

/*
 * RsReadUserItems reads the user's interactions with the model's items
 * from the source as it is now, as training would: rows for items the
 * model does not know and rows with NULLs are ignored, and duplicate
 * items are summed.  Items come out in index order.  A model with a
 * half-life also gets each item's recency weight, from the item's latest
 * row.  The source is read as the model's owner (RsExecutePlanAsOwner).
 */
void
RsReadUserItems(RsModel *model, int64 user_id, const char *why, RsUserItems *out)
{
	Datum		value = Int64GetDatum(user_id);
	int			ret;
	int64	   *packed;			/* item index << 32 | position, to sort */
	float	   *raw;			/* weights by position */
	double	   *when;			/* times by position, NaN if NULL */
	double	   *latest = NULL;	/* per output item */
	int			n = 0;

	RsRequireSource(model, why);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = RsExecutePlanAsOwner(model->name, RsSourceReader(model), model->seen_plan, &value);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the items of user " INT64_FORMAT " failed: %s", user_id,
			 SPI_result_code_string(ret));

	packed = SPI_palloc(sizeof(int64) * Max(SPI_processed, 1));
	raw = SPI_palloc(sizeof(float) * Max(SPI_processed, 1));
	when = SPI_palloc(sizeof(double) * Max(SPI_processed, 1));
	out->item = SPI_palloc(sizeof(int32) * Max(SPI_processed, 1));
	out->weight = SPI_palloc(sizeof(float) * Max(SPI_processed, 1));
	out->recency = NULL;
	if (model->half_life > 0)
	{
		out->recency = SPI_palloc(sizeof(float) * Max(SPI_processed, 1));
		latest = SPI_palloc(sizeof(double) * Max(SPI_processed, 1));
	}
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		bool		null_item,
					null_weight,
					null_time;
		Datum		item = SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &null_item);
		Datum		weight = SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &null_weight);
		Datum		time = SPI_getbinval(tuple, SPI_tuptable->tupdesc, 3, &null_time);
		int32		index;

		if (null_item || null_weight)
			continue;
		index = rs_idmap_lookup(&model->items, DatumGetInt64(item));
		if (index < 0)
			continue;
		raw[r] = DatumGetFloat4(weight);
		when[r] = null_time ? get_float8_nan() : DatumGetFloat8(time);
		packed[n++] = ((int64) index << 32) | (int64) r;
	}
	qsort(packed, n, sizeof(int64), user_item_cmp);

	out->n = 0;
	for (int j = 0; j < n; j++)
	{
		int32		index = (int32) (packed[j] >> 32);
		int64		r = packed[j] & 0xFFFFFFFF;

		if (out->n > 0 && out->item[out->n - 1] == index)
		{
			out->weight[out->n - 1] += raw[r];
			if (latest && (isnan(latest[out->n - 1]) || when[r] > latest[out->n - 1]))
				latest[out->n - 1] = when[r];
		}
		else
		{
			out->item[out->n] = index;
			out->weight[out->n] = raw[r];
			if (latest)
				latest[out->n] = when[r];
			out->n++;
		}
	}
	if (latest)
		RsRecencyWeights(latest, out->n, model->half_life, out->recency);
	pfree(packed);
	pfree(raw);
	pfree(when);
	SPI_finish();
}

/* RsFreeUserItems frees what RsReadUserItems (or a caller) allocated. */
void
RsFreeUserItems(RsUserItems *items)
{
	if (items->item)
		pfree(items->item);
	if (items->weight)
		pfree(items->weight);
	if (items->recency)
		pfree(items->recency);
	items->item = NULL;
	items->weight = NULL;
	items->recency = NULL;
	items->n = 0;
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
	HASHCTL		ctl;

	InitMaterializedSRF(fcinfo, 0);
	if (model_cache == NULL)
		return (Datum) 0;

	/*
	 * Only the models the current role may use (their catalog rows, read
	 * through row-level security): a backend may have served others for a
	 * role it has since left with SET ROLE.
	 */
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = NAMEDATALEN;
	ctl.hcxt = CurrentMemoryContext;
	visible = hash_create("recsys visible models", 16, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT name FROM recsys.models", 0, NULL, NULL, NULL, true, SPI_OK_SELECT);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);

		if (name != NULL && strlen(name) < NAMEDATALEN)
			(void) hash_search(visible, name, HASH_ENTER, NULL);
	}
	SPI_finish();

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
