/*-------------------------------------------------------------------------
 *
 * model_load.c
 *		Reading a model's artefact tables into its memory context: the
 *		parts kinds share (items and popularity, neighbour lists) and the
 *		error for a damaged model.
 *
 * Called with SPI connected, as the catalog's owner (src/model_cache.c);
 * everything allocated goes into the model's context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "cancel.h"
#include "model_acl.h"
#include "model_load.h"
#include "spi_util.h"

/*
 * RsModelCorrupt: model corruption is a can't-happen for recsys, but DBAs
 * may edit tables.
 */
void
RsModelCorrupt(RsModel *model, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("model \"%s\" version %d is damaged: %s", model->name, model->version, what),
			 errhint("Retrain the model.")));
}

/* RsModelInitMap: a hash map sized for n ids, allocated in the model's context. */
void
RsModelInitMap(RsModel *model, RsIdMap *map, int64 n)
{
	int64		capacity = 16;

	while (capacity < 2 * n + 2)
		capacity *= 2;
	rs_idmap_init(map, MemoryContextAllocExtended(model->mcxt, rs_idmap_bytes(capacity),
												  MCXT_ALLOC_HUGE), capacity);
}

/*
 * RsModelAlloc: zeroed memory in the model's context, huge allowed; a
 * cancel can stop the zeroing of a big model.
 */
void *
RsModelAlloc(RsModel *model, Size size)
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
		RsModelCorrupt(model, "recsys.item_stats has more items than recsys.models says");
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

/* RsLoadItems loads every item (in id order, so dense indexes follow ids). */
void
RsLoadItems(RsModel *model, int64 n_items)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(model->name), Int32GetDatum(model->version)};
	ItemLoad	load = {model, n_items};

	RsModelInitMap(model, &model->items, n_items);
	model->popularity = RsModelAlloc(model, sizeof(float) * n_items);
	RsStreamQuery("SELECT item_id, popularity FROM recsys.item_stats "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2 "
				  "ORDER BY item_id",
				  2, argtypes, values, NULL, true, load_item_row, &load);

	/* (more: load_item_row) a version without its rows is no empty model */
	if (model->items.count < n_items)
		RsModelCorrupt(model, psprintf("recsys.item_stats has %d of the " INT64_FORMAT " items recsys.models says",
									   model->items.count, n_items));
	model->popular_order = RsModelAlloc(model, sizeof(int32) * model->items.count);
	for (int32 i = 0; i < model->items.count; i++)
		model->popular_order[i] = i;
	sort_model = model;
	qsort(model->popular_order, model->items.count, sizeof(int32), popular_cmp);
	sort_model = NULL;
}

/* item_stats rows: each item's share of the average user's history */
typedef struct MeanHistoryLoad
{
	RsModel    *model;
	float	   *mean;
	double		n_users;
	bool		binary;
} MeanHistoryLoad;

static void
load_mean_history_row(TupleTableSlot *slot, void *arg)
{
	MeanHistoryLoad *load = arg;
	int32		i = slot->tts_isnull[0] ? -1 :
		rs_idmap_lookup(&load->model->items, DatumGetInt64(slot->tts_values[0]));
	int			column = load->binary ? 1 : 2;

	if (i < 0)
		RsModelCorrupt(load->model, "recsys.item_stats changed while the model was loaded");
	if (!slot->tts_isnull[column])
		load->mean[i] = (float) (DatumGetFloat8(slot->tts_values[column]) / load->n_users);
}

/*
 * RsLoadMeanHistory returns the average training user's history, per
 * item: the item's user count (binary) or summed weight, over the number
 * of users.  A model linear in the user's history (item neighbours)
 * gives the average user's score when it scores this history; the
 * kinds' cold-start scores (src/model.h).
 */
float *
RsLoadMeanHistory(RsModel *model, int64 n_users, bool binary)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(model->name), Int32GetDatum(model->version)};
	MeanHistoryLoad load = {model, RsModelAlloc(model, sizeof(float) * Max(model->items.count, 1)),
	Max(n_users, 1), binary};

	RsStreamQuery("SELECT item_id, n_users::pg_catalog.float8, weight_sum::pg_catalog.float8 "
				  "FROM recsys.item_stats "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
				  2, argtypes, values, NULL, true, load_mean_history_row, &load);
	return load.mean;
}

/* neighbour list rows, in owner id order */
typedef struct NeighborLoad
{
	RsModel    *model;
	RsIdMap    *map;			/* owners and neighbours alike */
	RsCsr	   *csr;
	int64		capacity;
	int32		last_owner;
	int32	   *listed_by;		/* per id: 1 + the owner whose list named it last */
} NeighborLoad;

static void
load_neighbor_row(TupleTableSlot *slot, void *arg)
{
	NeighborLoad *load = arg;
	RsModel    *model = load->model;
	RsCsr	   *m = load->csr;
	int32		owner = rs_idmap_lookup(load->map, DatumGetInt64(slot->tts_values[0]));
	ArrayType  *ids = DatumGetArrayTypeP(slot->tts_values[1]);
	ArrayType  *scores = DatumGetArrayTypeP(slot->tts_values[2]);
	int			n = ArrayGetNItems(ARR_NDIM(ids), ARR_DIMS(ids));
	const int64 *id = (const int64 *) ARR_DATA_PTR(ids);
	const float *score = (const float *) ARR_DATA_PTR(scores);

	if (owner < 0 || owner < load->last_owner)
		RsModelCorrupt(model, "a neighbour list has an unknown or out-of-order owner");
	if (ARR_ELEMTYPE(ids) != INT8OID || ARR_ELEMTYPE(scores) != FLOAT4OID ||
		ARR_HASNULL(ids) || ARR_HASNULL(scores) ||
		ArrayGetNItems(ARR_NDIM(scores), ARR_DIMS(scores)) != n ||
		m->nnz + n > load->capacity)
		RsModelCorrupt(model, "a neighbour list is malformed");
	/* close the rows up to this owner */
	while (load->last_owner < owner)
		m->indptr[++load->last_owner] = m->nnz;
	for (int j = 0; j < n; j++)
	{
		int32		target = rs_idmap_lookup(load->map, id[j]);

		if (target < 0)
			RsModelCorrupt(model, "a neighbour list names an unknown id");
		/* training never lists an owner itself, an id twice, or a score that is not finite */
		if (target == owner)
			RsModelCorrupt(model, psprintf("the neighbour list of " INT64_FORMAT " names itself",
										   DatumGetInt64(slot->tts_values[0])));
		if (load->listed_by[target] == owner + 1)
			RsModelCorrupt(model, psprintf("the neighbour list of " INT64_FORMAT " names " INT64_FORMAT " twice",
										   DatumGetInt64(slot->tts_values[0]), id[j]));
		load->listed_by[target] = owner + 1;
		if (!isfinite(score[j]))
			RsModelCorrupt(model, psprintf("the neighbour list of " INT64_FORMAT " has a score that is not finite",
										   DatumGetInt64(slot->tts_values[0])));
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
	NeighborLoad *load = arg;

	if (rs_idmap_full(load->map))
		RsModelCorrupt(load->model, "more users than counted");
	rs_idmap_insert(load->map, DatumGetInt64(slot->tts_values[0]));
}

/*
 * RsLoadNeighborLists loads neighbour lists into m, a CSR over owner indexes, best first within a
 * row.  Owners are items (item-kNN) or users (user-kNN, whose map is built
 * here from the owners and neighbours in id order).
 */
void
RsLoadNeighborLists(RsModel *model, bool users, RsIdMap *user_map, RsCsr *m)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(model->name), Int32GetDatum(model->version)};
	NeighborLoad load;
	int64		total;
	int64		n_owners;
	bool		isnull;

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
	load.csr = m;
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
		RsModelInitMap(model, user_map, n_owners);
		load.map = user_map;
		RsStreamQuery(psprintf("SELECT u FROM (%s) s(u) ORDER BY u", every_user),
					  2, argtypes, values, NULL, true, map_user_row, &load);
	}
	else
	{
		n_owners = model->items.count;
		load.map = &model->items;
	}

	m->indptr = RsModelAlloc(model, sizeof(int64) * (n_owners + 1));
	m->indices = RsModelAlloc(model, sizeof(int32) * Max(total, 1));
	m->data = RsModelAlloc(model, sizeof(float) * Max(total, 1));
	m->nnz = 0;
	load.listed_by = palloc_extended(sizeof(int32) * Max(load.map->count, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	RsStreamQuery(users ?
				  "SELECT user_id, neighbor_ids, scores FROM recsys.user_neighbor_lists "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2 "
				  "ORDER BY user_id" :
				  "SELECT item_id, neighbor_ids, scores FROM recsys.item_neighbor_lists "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2 "
				  "ORDER BY item_id",
				  2, argtypes, values, NULL, true, load_neighbor_row, &load);
	pfree(load.listed_by);
	while (load.last_owner < load.map->count)
		m->indptr[++load.last_owner] = m->nnz;
	m->n_rows = load.map->count;
	m->n_cols = load.map->count;
}

/* one recsys.model_parameters row, checked against the expected shape */
typedef struct ParameterLoad
{
	RsModel    *model;
	const char *parameter;
	int			ndims;
	int32	   *shape;			/* in: expected (-1: any); out: as stored */
	float	   *values;
	bool		found;
} ParameterLoad;

static void
parameter_corrupt(ParameterLoad *load, const char *problem)
{
	RsModelCorrupt(load->model, psprintf("recsys.model_parameters row \"%s\" %s",
										 load->parameter, problem));
}

static void
load_parameter_row(TupleTableSlot *slot, void *arg)
{
	ParameterLoad *load = arg;
	ArrayType  *shape = DatumGetArrayTypeP(slot->tts_values[0]);
	ArrayType  *value = DatumGetArrayTypeP(slot->tts_values[1]);
	int			n_dims = ArrayGetNItems(ARR_NDIM(shape), ARR_DIMS(shape));
	int64		expected = 1;

	if (ARR_HASNULL(shape) || ARR_HASNULL(value) || ARR_NDIM(shape) != 1 || n_dims != load->ndims ||
		ARR_NDIM(value) != 1)
		parameter_corrupt(load, "has the wrong shape");
	for (int d = 0; d < n_dims; d++)
	{
		int32		dim = ((const int32 *) ARR_DATA_PTR(shape))[d];

		if (dim < 0 || (load->shape[d] >= 0 && dim != load->shape[d]))
			parameter_corrupt(load, "has the wrong shape");
		load->shape[d] = dim;
		expected *= dim;
	}
	if (ArrayGetNItems(1, ARR_DIMS(value)) != expected)
		parameter_corrupt(load, "has a value count that does not match its shape");
	load->values = RsModelAlloc(load->model, sizeof(float) * Max(expected, 1));
	memcpy(load->values, ARR_DATA_PTR(value), sizeof(float) * expected);
	for (int64 i = 0; i < expected; i++)
		if (!isfinite(load->values[i]))
			parameter_corrupt(load, "holds a value that is not finite");
	load->found = true;
}

/*
 * RsLoadParameter reads a named parameter array of the model's version
 * into its context.  shape[0 .. ndims) gives the expected dimensions (-1:
 * any) and receives the stored ones; a missing row, another shape, a
 * wrong value count or a value that is not finite is damage.
 */
float *
RsLoadParameter(RsModel *model, const char *parameter, int ndims, int32 *shape)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(model->name), Int32GetDatum(model->version),
	CStringGetTextDatum(parameter)};
	ParameterLoad load = {model, parameter, ndims, shape, NULL, false};

	RsStreamQuery("SELECT shape, value FROM recsys.model_parameters "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2 "
				  "AND name OPERATOR(pg_catalog.=) $3",
				  3, argtypes, values, NULL, true, load_parameter_row, &load);
	if (!load.found)
		RsModelCorrupt(model, psprintf("recsys.model_parameters has no row \"%s\"", parameter));
	return load.values;
}

/* One user's row of recsys.user_factors, read as the catalog's owner. */
typedef struct UserVectorRead
{
	RsModel    *model;
	SPIPlanPtr *plan;
	Datum	   *values;
	int			result;
} UserVectorRead;

static void
read_user_vector_row(void *arg)
{
	UserVectorRead *read = arg;

	if (*read->plan == NULL)
	{
		*read->plan = SPI_prepare("SELECT bias, factors FROM recsys.user_factors "
								  "WHERE model OPERATOR(pg_catalog.=) $1 "
								  "AND version OPERATOR(pg_catalog.=) $2 "
								  "AND user_id OPERATOR(pg_catalog.=) $3",
								  3, (Oid[]) {TEXTOID, INT4OID, INT8OID});
		if (*read->plan == NULL || SPI_keepplan(*read->plan) != 0)
			elog(ERROR, "could not prepare the user vector query: %s",
				 SPI_result_code_string(SPI_result));
	}
	read->result = SPI_execute_plan(*read->plan, read->values, NULL, true, 1);
}

/*
 * RsReadUserVector reads a user's stored vector (recsys.user_factors) of
 * the model's version into vector[0 .. length) and its bias into *bias
 * (if not NULL); false if the user has none.  It reads as the catalog's
 * owner: the model came from RsGetModel in this statement, which checked
 * the caller's right to it.  *plan keeps the prepared query with the
 * kind's state (freed by its free callback).  A vector of another length,
 * with NULLs or values that are not finite is damage; what names the
 * vector in that message ("user's factor vector", "user embedding").
 */
bool
RsReadUserVector(RsModel *model, SPIPlanPtr *plan, int64 user_id, int length,
				 float *vector, float *bias, const char *what)
{
	Datum		values[3] = {CStringGetTextDatum(model->name), Int32GetDatum(model->version),
	Int64GetDatum(user_id)};
	UserVectorRead read = {model, plan, values, 0};
	bool		found;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsRunAsCatalogOwner(read_user_vector_row, &read);
	if (read.result != SPI_OK_SELECT)
		elog(ERROR, "reading the vector of user " INT64_FORMAT " failed: %s", user_id,
			 SPI_result_code_string(read.result));
	found = SPI_processed == 1;
	if (found)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		ArrayType  *v = isnull ? NULL : DatumGetArrayTypeP(d);

		if (v == NULL || ARR_NDIM(v) != 1 || ARR_DIMS(v)[0] != length || ARR_HASNULL(v))
			RsModelCorrupt(model, psprintf("a %s has the wrong length", what));
		memcpy(vector, ARR_DATA_PTR(v), sizeof(float) * length);
		for (int a = 0; a < length; a++)
			if (!isfinite(vector[a]))
				RsModelCorrupt(model, psprintf("a %s holds a value that is not finite", what));
		if (bias)
			*bias = DatumGetFloat4(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
												 &isnull));
	}
	SPI_finish();
	return found;
}
