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
 * model is reloaded.  So a model retrained or dropped in another session
 * is picked up by the next statement after that session commits, and a
 * session in the middle of retraining sees its own uncommitted model.
 * Nothing here writes, so serving works on hot standbys too.
 * recsys.cache_stats() shows what a session holds.
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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/float.h"
#include "utils/varlena.h"
#include "utils/tuplestore.h"
#include "funcapi.h"

#include "als.h"
#include "cancel.h"
#include "blend.h"
#include "ingest.h"
#include "model_cache.h"
#include "recency.h"
#include "spi_util.h"

typedef struct ModelCacheEntry
{
	char		name[NAMEDATALEN];	/* hash key */
	RsModel    *model;
	int64		loads;			/* times read from the model's tables */
	int64		checks;			/* times its catalog row was read */
} ModelCacheEntry;

PG_FUNCTION_INFO_V1(recsys_cache_stats);

static HTAB *model_cache = NULL;

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

static void
init_cache(void)
{
	HASHCTL		ctl;

	RegisterSubXactCallback(count_subxact_abort, NULL);

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
 * Look the model up in recsys.models; false if there is no such model.
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
			  "(params->>'regularization_exponent')::pg_catalog.float8 "
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
 * use (SPI connected): only callers that need the source need privileges
 * on it.
 */
static void
prepare_seen_queries(RsModel *model)
{
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

static void
free_plans(RsModel *model)
{
	if (model->user_plan)
		SPI_freeplan(model->user_plan);
	model->user_plan = NULL;
	if (model->seen_plan)
		SPI_freeplan(model->seen_plan);
	if (model->seen_many_plan)
		SPI_freeplan(model->seen_many_plan);
	model->seen_plan = model->seen_many_plan = NULL;
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

/* Free a model and everything it holds. */
static void
free_model(RsModel *model)
{
	free_plans(model);
	MemoryContextDelete(model->mcxt);
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
 * RsGetModel returns the named model, loaded and current as of this
 * statement's snapshot, or raises an error if there is no such model.
 * The result stays valid until the end of the statement.
 */
RsModel *
RsGetModel(const char *name)
{
	ModelCacheEntry *entry;
	bool		found;
	CatalogRow	row;
	RsModel    *model;
	RsStatementStamp now = RsCurrentStatement();

	if (strlen(name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" does not exist", name),
				 errdetail("Model names are at most %d characters long.", NAMEDATALEN - 1)));
	if (model_cache == NULL)
		init_cache();
	entry = hash_search(model_cache, name, HASH_ENTER, &found);
	if (!found)
	{
		entry->model = NULL;
		entry->loads = entry->checks = 0;
	}
	else if (entry->model && RsSameStatement(&entry->model->checked, &now))
	{
		/*
		 * A blend's member may have been reloaded since, by a statement
		 * with another snapshot (a cursor's FETCH brings an older one back).
		 */
		if (entry->model->kind == RS_MODEL_BLEND)
			RsResolveBlendMembers(entry->model);
		return entry->model;
	}

	entry->checks++;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!read_catalog_row(name, CurrentMemoryContext, &row))
	{
		SPI_finish();
		if (entry->model)
			free_model(entry->model);
		hash_search(model_cache, name, HASH_REMOVE, NULL);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("SELECT name FROM recsys.models lists the models.")));
	}
	if (entry->model == NULL || entry->model->version != row.version ||
		entry->model->trained_at != row.trained_at)
	{
		if (entry->model)
		{
			free_model(entry->model);
			entry->model = NULL;
		}
		model = load_model(name, &row);
		/* the hash table may have moved while loading */
		entry = hash_search(model_cache, name, HASH_ENTER, &found);
		entry->model = model;
		entry->loads++;
	}
	else
		refresh_source(entry->model);
	SPI_finish();
	model = entry->model;
	/* a blend is current only when its members are */
	if (model->kind == RS_MODEL_BLEND)
		RsResolveBlendMembers(model);
	model->checked = now;
	return model;
}

/* RsModelItemIndex returns an item's dense index, or -1 if unknown. */
int32
RsModelItemIndex(RsModel *model, int64 item_id)
{
	return rs_idmap_lookup(&model->items, item_id);
}

/*
 * RsModelUserVector finds a factor model's vector (and bias) for a user in
 * recsys.user_factors, through the primary key; false if the user has
 * none.  The answer is kept for the rest of the statement, so scoring many
 * items for one user (ORDER BY recsys.score(...)) reads it once.  The
 * returned pointer stays valid until the next call.
 */
const float *
RsModelUserVector(RsModel *model, int64 user_id, float *bias)
{
	RsStatementStamp now = RsCurrentStatement();

	if (model->kind != RS_MODEL_FACTORS)
		return NULL;
	if (!(model->vector_user == user_id && RsSameStatement(&model->vector_stamp, &now)))
	{
		Datum		values[3] = {CStringGetTextDatum(model->name), Int32GetDatum(model->version),
		Int64GetDatum(user_id)};
		int			ret;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
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
		ret = SPI_execute_plan(model->user_plan, values, NULL, true, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "reading the vector of user " INT64_FORMAT " failed: %s", user_id,
				 SPI_result_code_string(ret));
		model->vector_found = SPI_processed == 1;
		if (model->vector_found)
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
		prepare_seen_queries(model);
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
 * row.  Runs as the caller.
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
	ret = SPI_execute_plan(model->seen_plan, &value, NULL, true, 0);
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

	InitMaterializedSRF(fcinfo, 0);
	if (model_cache == NULL)
		return (Datum) 0;
	hash_seq_init(&status, model_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		Datum		values[7];
		bool		nulls[7] = {false};
		RsModel    *model = entry->model;

		values[0] = CStringGetTextDatum(entry->name);
		if (model)
		{
			values[1] = Int32GetDatum(model->version);
			values[2] = CStringGetTextDatum(model->algorithm);
			values[3] = Int64GetDatum(model->items.count);
			values[4] = Int64GetDatum((int64) MemoryContextMemAllocated(model->mcxt, true));
		}
		else
			nulls[1] = nulls[2] = nulls[3] = nulls[4] = true;
		values[5] = Int64GetDatum(entry->loads);
		values[6] = Int64GetDatum(entry->checks);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
