/*-------------------------------------------------------------------------
 *
 * ivf_index.c
 *		An IVF index over a model's item vectors: built by create_ivf
 *		(recsys._ivf_lists computes it, the SQL wrapper stores it in
 *		recsys.ivf_lists), loaded on first use by a backend that serves the
 *		indexed version, and searched by probing recsys.ivf_probes lists.
 *
 * The k-means and the probe order are src/kernel/ivf.c; the scan of the
 * probed lists is the compressed scan of src/kernel/factor_scores.c over
 * an int8 copy laid out list by list, whose candidates are re-scored
 * exactly in fp32: within the lists probed the top k is exact, and only
 * items in lists left unprobed can be missed.
 *
 * An index belongs to one model version (its rows carry the version and
 * go with it), so a stale index is never used; a new version that
 * replaces an indexed one is indexed in the same transaction with the same
 * settings (RsIvfToKeep, RsIvfKeep, recsys._ivf_follow: the index follows
 * the model, unless recsys.ivf_rebuild is off).  refresh_items adds cold items to the
 * version without touching its stored lists: the loader puts each item the
 * lists miss in its nearest list, by the build's transformation and scale
 * (add_missing), so the index serves every item; create_ivf run again
 * stores such lists.  create_ivf also records the index in
 * the version's stats, which changes the catalog fingerprint: every
 * backend holding the model loads it anew and finds the index.
 *
 * Filters (candidates, exclude_seen) apply while the lists are scanned;
 * when fewer than k items have passed after recsys.ivf_probes lists, the
 * next lists in probe order are scanned until k have (at most all: the
 * exact answer), so a filter never shortens the result.
 *
 * The loaded index, about n_items x (factors + 16) bytes, is this
 * backend's, unless the model comes from the shared cache: a model loaded
 * to be published loads its index too (while recsys.ivf_probes > 0), and
 * the index goes into the shared copy with it (RsIvfFlatten), so attaching
 * backends hold only the per-query arrays (RsIvfAttach).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "cancel.h"
#include "factor_scores.h"
#include "ivf.h"
#include "ivf_index.h"
#include "model_acl.h"
#include "model_cache.h"
#include "model_kind.h"
#include "model_load.h"
#include "progress.h"
#include "recsys.h"
#include "score.h"
#include "spi_util.h"

#define IVF_BUILD_CHUNK 16384	/* positions compressed between interrupt checks */

int			recsys_ivf_probes = RECSYS_DEFAULT_IVF_PROBES;
bool		recsys_ivf_rebuild = true;

struct RsIvfIndex
{
	int			lists;
	int			k;
	float	   *centroids;		/* lists x (k + 1) */
	int64	   *list_begin;		/* lists + 1 positions */
	int32	   *item;			/* per position: the item, -1 for padding */
	void	   *q8;				/* the items' int8 copy, by position */
	RsIvfRank  *order;			/* per query: the lists, best first */
	int32	   *probe;
	void	   *scratch;		/* rs_q8_scratch_bytes(k, scratch_top_n) */
	int			scratch_top_n;
};

/* recsys.ivf_lists rows as read, before the layout is built */
typedef struct IvfRead
{
	RsModel    *model;
	MemoryContext mcxt;			/* outlives the SPI connection */
	int			k;
	int			lists;			/* rows read */
	int			capacity;
	float	   *centroids;
	int32	  **members;		/* per list: item indexes */
	int32	   *sizes;
	int64		items;			/* summed sizes */
} IvfRead;

/*
 * A damaged index: the model itself is sound, so the hint is to build the
 * index again, not to retrain.
 */
static void ivf_corrupt(RsModel *model, const char *what) pg_attribute_noreturn();

static void
ivf_corrupt(RsModel *model, const char *what)
{
	char	   *name = quote_literal_cstr(model->name);

	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("the IVF index of model \"%s\" version %d is damaged: %s", model->name, model->version, what),
			 errhint("Build the index again: recsys.drop_ivf(%s), then recsys.create_ivf(%s).",
					 name, name)));
}

static void
ivf_row(TupleTableSlot *slot, void *arg)
{
	IvfRead    *r = arg;
	RsModel    *model = r->model;
	int32		list = DatumGetInt32(slot->tts_values[0]);
	ArrayType  *centroid = DatumGetArrayTypeP(slot->tts_values[1]);
	ArrayType  *ids = DatumGetArrayTypeP(slot->tts_values[2]);
	int			d = r->k + 1;
	int			n;
	int64	   *id;

	CHECK_FOR_INTERRUPTS();
	if (list != r->lists)
		ivf_corrupt(model, "recsys.ivf_lists does not number its lists 0, 1, 2, ...");
	if (ARR_NDIM(centroid) != 1 || ARR_DIMS(centroid)[0] != d || ARR_HASNULL(centroid) ||
		ARR_ELEMTYPE(centroid) != FLOAT4OID)
		ivf_corrupt(model, "an IVF centroid has the wrong length");
	if (ARR_NDIM(ids) > 1 || ARR_HASNULL(ids) || ARR_ELEMTYPE(ids) != INT8OID)
		ivf_corrupt(model, "an IVF list is not a one-dimensional bigint[] without NULLs");
	if (r->lists == r->capacity)
	{
		r->capacity *= 2;
		r->centroids = repalloc_huge(r->centroids, sizeof(float) * (Size) r->capacity * d);
		r->members = repalloc(r->members, sizeof(int32 *) * r->capacity);
		r->sizes = repalloc(r->sizes, sizeof(int32) * r->capacity);
	}
	memcpy(r->centroids + (Size) list * d, ARR_DATA_PTR(centroid), sizeof(float) * d);
	for (int j = 0; j < d; j++)
		if (!isfinite(r->centroids[(Size) list * d + j]))
			ivf_corrupt(model, "an IVF centroid holds a value that is not finite");
	n = ARR_NDIM(ids) == 0 ? 0 : ARR_DIMS(ids)[0];
	id = (int64 *) ARR_DATA_PTR(ids);
	r->members[list] = MemoryContextAlloc(r->mcxt, sizeof(int32) * Max(n, 1));
	r->sizes[list] = n;
	for (int j = 0; j < n; j++)
	{
		int32		i = rs_idmap_lookup(&model->items, id[j]);

		if (i < 0)
			ivf_corrupt(model, "an IVF list names an item the model does not know");
		r->members[list][j] = i;
	}
	r->items += n;
	r->lists++;
}

/* Read the version's lists, as the catalog's owner (the caller may use the model). */
static void
read_lists(void *arg)
{
	IvfRead    *r = arg;
	Datum		values[2] = {CStringGetTextDatum(r->model->name), Int32GetDatum(r->model->version)};

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsStreamQuery("SELECT list, centroid, items FROM recsys.ivf_lists "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2 "
				  "ORDER BY list",
				  2, (Oid[]) {TEXTOID, INT4OID}, values, NULL, true, ivf_row, r);
	SPI_finish();
}

static int
cmp_int32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a,
				y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/*
 * Put the items of the model that r's lists miss (not in seen: items
 * refresh_items added to the version after create_ivf) in their nearest
 * lists by the build's transformation and scale (rs_ivf_assign, the scale
 * from the listed items), each list's items kept ascending.  Every
 * backend computes the same lists; create_ivf stores them when run again.
 */
static void
add_missing(IvfRead *r, const float *Y, const uint8 *seen)
{
	int32		n = r->model->items.count;
	int64	   *listed = palloc(sizeof(int64) * Max(r->items, 1));
	int64	   *missing = palloc(sizeof(int64) * (n - r->items));
	int32	   *assign = palloc(sizeof(int32) * (n - r->items));
	int64		n_listed = 0,
				n_missing = 0;
	int32	   *grow = palloc0(sizeof(int32) * r->lists);

	for (int32 i = 0; i < n; i++)
	{
		if (rs_bitmap_test(seen, i))
			listed[n_listed++] = i;
		else
			missing[n_missing++] = i;
	}
	if (rs_ivf_assign(Y, r->k, r->centroids, r->lists, listed, n_listed, missing, n_missing,
					  assign) != RS_IVF_OK)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory loading the IVF index")));
	for (int64 j = 0; j < n_missing; j++)
		grow[assign[j]]++;
	for (int l = 0; l < r->lists; l++)
	{
		if (grow[l] == 0)
			continue;
		r->members[l] = repalloc(r->members[l], sizeof(int32) * (r->sizes[l] + grow[l]));
		for (int64 j = 0; j < n_missing; j++)
			if (assign[j] == l)
				r->members[l][r->sizes[l]++] = (int32) missing[j];
		qsort(r->members[l], r->sizes[l], sizeof(int32), cmp_int32);
	}
	r->items = n;
}

RsIvfIndex *
RsIvfLoad(RsModel *model, const float *Y, int k)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "recsys IVF load",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	IvfRead		r;
	RsIvfIndex *ivf;
	uint8	   *seen;
	int64		positions = 0,
				p;

	memset(&r, 0, sizeof(r));
	r.model = model;
	r.mcxt = tmp;
	r.k = k;
	r.capacity = 64;
	r.centroids = palloc(sizeof(float) * r.capacity * (k + 1));
	r.members = palloc(sizeof(int32 *) * r.capacity);
	r.sizes = palloc(sizeof(int32) * r.capacity);
	RsRunAsCatalogOwner(read_lists, &r);
	MemoryContextSwitchTo(old);
	if (r.lists == 0)
	{
		MemoryContextDelete(tmp);
		return NULL;
	}
	/* every item in at most one list */
	if (r.items > model->items.count)
		ivf_corrupt(model, "the IVF lists do not hold every item of the model exactly once");
	seen = MemoryContextAllocZero(tmp, RS_BITMAP_BYTES(model->items.count) + 1);
	for (int l = 0; l < r.lists; l++)
	{
		for (int j = 0; j < r.sizes[l]; j++)
		{
			int32		i = r.members[l][j];

			if (rs_bitmap_test(seen, i))
				ivf_corrupt(model, "the IVF lists do not hold every item of the model exactly once");
			rs_bitmap_set(seen, i);
		}
		positions += TYPEALIGN(RS_Q8_BLOCK, r.sizes[l]);
	}
	/*
	 * Items the lists miss were added to the version after the index was
	 * built (refresh_items): each joins its nearest list, as the build
	 * would have put it (add_missing).
	 */
	if (r.items < model->items.count)
	{
		MemoryContextSwitchTo(tmp);
		add_missing(&r, Y, seen);
		MemoryContextSwitchTo(old);
		positions = 0;
		for (int l = 0; l < r.lists; l++)
			positions += TYPEALIGN(RS_Q8_BLOCK, r.sizes[l]);
	}

	ivf = RsModelAlloc(model, sizeof(RsIvfIndex));
	ivf->lists = r.lists;
	ivf->k = k;
	ivf->centroids = RsModelAlloc(model, sizeof(float) * (Size) r.lists * (k + 1));
	memcpy(ivf->centroids, r.centroids, sizeof(float) * (Size) r.lists * (k + 1));
	ivf->list_begin = RsModelAlloc(model, sizeof(int64) * (r.lists + 1));
	ivf->item = RsModelAlloc(model, sizeof(int32) * Max(positions, 1));
	ivf->order = RsModelAlloc(model, sizeof(RsIvfRank) * r.lists);
	ivf->probe = RsModelAlloc(model, sizeof(int32) * r.lists);
	p = 0;
	for (int l = 0; l < r.lists; l++)
	{
		ivf->list_begin[l] = p;
		memcpy(ivf->item + p, r.members[l], sizeof(int32) * r.sizes[l]);
		p += r.sizes[l];
		for (; p % RS_Q8_BLOCK != 0; p++)
			ivf->item[p] = -1;
	}
	ivf->list_begin[r.lists] = p;
	MemoryContextDelete(tmp);

	ivf->q8 = RsModelAlloc(model, rs_q8_bytes(Max(positions, 1), k));
	rs_q8_init(ivf->q8, Max(positions, 1), k);
	for (int64 begin = 0; begin < positions; begin += IVF_BUILD_CHUNK)
	{
		CHECK_FOR_INTERRUPTS();
		rs_q8_build_rows(ivf->q8, Y, ivf->item, begin, Min(positions, begin + IVF_BUILD_CHUNK));
	}
	return ivf;
}

/* The index in a model's flat copy (see RsIvfFlatten). */
typedef struct FlatIvf
{
	int32		lists;
	int32		k;
	int64		positions;
	Size		centroids;
	Size		list_begin;
	Size		item;
	Size		q8;
} FlatIvf;

Size
RsIvfFlatten(const RsIvfIndex *ivf, RsFlat *flat)
{
	FlatIvf		h;
	int64		positions = ivf->list_begin[ivf->lists];
	Size		header = RsFlatPut(flat, NULL, sizeof(FlatIvf));

	memset(&h, 0, sizeof(h));
	h.lists = ivf->lists;
	h.k = ivf->k;
	h.positions = positions;
	h.centroids = RsFlatPut(flat, ivf->centroids, sizeof(float) * (Size) ivf->lists * (ivf->k + 1));
	h.list_begin = RsFlatPut(flat, ivf->list_begin, sizeof(int64) * (ivf->lists + 1));
	h.item = RsFlatPut(flat, ivf->item, sizeof(int32) * Max(positions, 1));
	/* pointer-free (rs_q8_*), so it serves from any address */
	h.q8 = RsFlatPut(flat, ivf->q8, rs_q8_bytes(Max(positions, 1), ivf->k));
	if (flat->base != NULL)
		memcpy(flat->base + header, &h, sizeof(h));
	return header;
}

RsIvfIndex *
RsIvfAttach(RsModel *model, const char *copy, Size offset, int k)
{
	const FlatIvf *h = RsFlatAt(copy, offset);
	RsIvfIndex *ivf;

	if (h == NULL || h->k != k || h->lists <= 0 || h->positions < 0)
		ivf_corrupt(model, "the shared copy's IVF index has another shape than the model");
	ivf = RsModelAlloc(model, sizeof(RsIvfIndex));
	ivf->lists = h->lists;
	ivf->k = h->k;
	/* read-only from here on, as the scans read them */
	ivf->centroids = RsFlatAt(copy, h->centroids);
	ivf->list_begin = RsFlatAt(copy, h->list_begin);
	ivf->item = RsFlatAt(copy, h->item);
	ivf->q8 = RsFlatAt(copy, h->q8);
	if (ivf->list_begin[ivf->lists] != h->positions)
		ivf_corrupt(model, "the shared copy's IVF index has another shape than the model");
	/* this backend's: the probe order of each query */
	ivf->order = RsModelAlloc(model, sizeof(RsIvfRank) * ivf->lists);
	ivf->probe = RsModelAlloc(model, sizeof(int32) * ivf->lists);
	return ivf;
}

int
RsIvfRankVector(RsModel *model, RsIvfIndex *ivf, const float *Y, const float *ybias,
				const float *x, const uint8 *exclude, int top_n, int32 *out_idx,
				float *out_score)
{
	int			probed;

	if (recsys_ivf_probes <= 0 || top_n <= 0)
		return -1;
	if (ivf->scratch_top_n < top_n)
	{
		void	   *scratch = MemoryContextAllocHuge(model->mcxt, rs_q8_scratch_bytes(ivf->k, top_n));

		if (ivf->scratch)
			pfree(ivf->scratch);
		ivf->scratch = scratch;
		ivf->scratch_top_n = top_n;
	}
	rs_ivf_probe_order(ivf->centroids, ivf->lists, ivf->k, x, ivf->order);
	for (int l = 0; l < ivf->lists; l++)
		ivf->probe[l] = ivf->order[l].list;
	return rs_q8_score_lists(ivf->q8, ivf->item, ivf->list_begin, ivf->probe, ivf->lists,
							 Min(recsys_ivf_probes, ivf->lists), Y, ybias, x, exclude, top_n,
							 ivf->scratch, out_idx, out_score, &probed);
}

/*
 * recsys._ivf_lists(model text, lists int, iterations int, seed bigint)
 * RETURNS TABLE (version int, list int, centroid real[], items bigint[]):
 * the IVF index of the model's active version, one row per list (items
 * ascending), for create_ivf to store.  lists NULL: round(sqrt(items)).
 */
PG_FUNCTION_INFO_V1(recsys_ivf_lists);
Datum
recsys_ivf_lists(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsModel    *model;
	const float *Y;
	int			k;
	int32		n;
	int			lists;
	RsIvfParams params;
	float	   *centroids;
	int32	   *assign;
	int32	   *count;
	int32	   *start;
	int32	   *members;
	double		need;
	int			status;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("model must not be NULL")));
	model = RsGetModel(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	RS_REQUIRE(model, factor_vectors, "create_ivf");
	/* the item vectors rank_vector ranks by inner product (biases aside) */
	{
		const float *bias;

		k = model->kind->factor_vectors(model, NULL, 0, NULL, NULL, &Y, &bias);
	}
	n = model->items.count;
	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no items to index", model->name)));
	lists = PG_ARGISNULL(1) ? (int) Max(1, Min(n, lround(sqrt((double) n)))) : PG_GETARG_INT32(1);
	if (lists < 1 || lists > Min(n, RS_IVF_MAX_LISTS))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lists must be between 1 and %d (the model's items, at most %d), not %d",
						Min(n, RS_IVF_MAX_LISTS), RS_IVF_MAX_LISTS, lists),
				 errhint("NULL takes the square root of the number of items.")));
	if (PG_ARGISNULL(2))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("iterations must not be NULL")));
	if (PG_GETARG_INT32(2) < 1 || PG_GETARG_INT32(2) > RS_IVF_MAX_ITERATIONS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("iterations must be between 1 and %d, not %d", RS_IVF_MAX_ITERATIONS,
						PG_GETARG_INT32(2))));
	if (PG_ARGISNULL(3))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("seed must not be NULL")));

	/* the kernel's working set: centroids, lists, sample and per-thread buffers */
	need = (double) lists * (k + 1) * (sizeof(float) + sizeof(double)) +
		(double) n * (sizeof(int32) * 2 + sizeof(int64)) +
		(double) recsys_threads * 256 * (k + 1 + lists) * sizeof(float);
	if (need > (double) RECSYS_MAX_MEMORY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("an IVF index of %d lists over %d items needs %.1f MB, more than recsys.max_memory (%d MB)",
						lists, n, need / 1048576.0, recsys_max_memory_mb),
				 errhint("Raise recsys.max_memory, or use fewer lists.")));

	memset(&params, 0, sizeof(params));
	params.lists = lists;
	params.iterations = PG_GETARG_INT32(2);
	params.seed = (uint64) PG_GETARG_INT64(3);
	params.threads = recsys_threads;
	params.stop = RsCancelRequested;
	centroids = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * (Size) lists * (k + 1));
	assign = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * (Size) n);
	status = rs_ivf_build(Y, n, k, &params, centroids, assign);
	if (status == RS_IVF_STOPPED)
		RsKernelStopped("the IVF index");
	if (status == RS_IVF_ERR_MEMORY)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory building the IVF index")));
	if (status != RS_IVF_OK && status != RS_IVF_ERR_THREAD)
		elog(ERROR, "rs_ivf_build failed: %d", status);

	/* the lists' items, ascending (item indexes follow the ids) */
	count = palloc0(sizeof(int32) * lists);
	start = palloc(sizeof(int32) * (lists + 1));
	members = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * (Size) n);
	for (int32 i = 0; i < n; i++)
		count[assign[i]]++;
	start[0] = 0;
	for (int l = 0; l < lists; l++)
		start[l + 1] = start[l] + count[l];
	memset(count, 0, sizeof(int32) * lists);
	for (int32 i = 0; i < n; i++)
		members[start[assign[i]] + count[assign[i]]++] = i;

	InitMaterializedSRF(fcinfo, 0);
	for (int l = 0; l < lists; l++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		Datum	   *c = palloc(sizeof(Datum) * (k + 1));
		Datum	   *ids = palloc(sizeof(Datum) * Max(count[l], 1));

		CHECK_FOR_INTERRUPTS();
		for (int j = 0; j <= k; j++)
			c[j] = Float4GetDatum(centroids[(Size) l * (k + 1) + j]);
		for (int j = 0; j < count[l]; j++)
			ids[j] = Int64GetDatum(model->items.ids[members[start[l] + j]]);
		values[0] = Int32GetDatum(model->version);
		values[1] = Int32GetDatum(l);
		values[2] = PointerGetDatum(construct_array(c, k + 1, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT));
		values[3] = PointerGetDatum(construct_array(ids, count[l], INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		pfree(c);
		pfree(ids);
	}
	return (Datum) 0;
}

/*
 * RsIvfToKeep: the settings of the index of the model's active version
 * (recsys.models.stats' "ivf": version, lists, iterations, seed), as JSON
 * text in the caller's context, or NULL (no index, no model yet, or
 * recsys.ivf_rebuild off).  Read before the new version replaces that
 * row: activation overwrites the stats, and retention may delete the old
 * version.
 */
char *
RsIvfToKeep(const char *model)
{
	MemoryContext caller = CurrentMemoryContext;
	char	   *previous = NULL;

	if (!recsys_ivf_rebuild)
		return NULL;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT (m.stats OPERATOR(pg_catalog.->) 'ivf')::pg_catalog.text FROM recsys.models m "
			  "WHERE m.name OPERATOR(pg_catalog.=) $1",
			  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(model)}, NULL, true,
			  SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		char	   *text = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (text != NULL)
			previous = MemoryContextStrdup(caller, text);
	}
	SPI_finish();
	return previous;
}

/*
 * RsIvfKeep builds the index of the model's new active version with the
 * settings previous had (recsys._ivf_follow, which skips a kind without
 * item vectors and a version indexed already).  An error or a cancel here
 * aborts the training with it: the old version, and its index, serve on.
 */
static void
keep_context(void *arg)
{
	errcontext("indexing the new version of model \"%s\" as the version it replaces was "
			   "(recsys.ivf_rebuild; recsys.drop_ivf before training stops it)", (const char *) arg);
}

void
RsIvfKeep(const char *model, const char *previous)
{
	ErrorContextCallback context;

	if (previous == NULL)
		return;
	RsProgressPhaseBegin(RS_PHASE_INDEXING);
	context.callback = keep_context;
	context.arg = (void *) model;
	context.previous = error_context_stack;
	error_context_stack = &context;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT recsys._ivf_follow($1, $2::pg_catalog.jsonb)",
			  2, (Oid[]) {TEXTOID, TEXTOID},
			  (Datum[]) {CStringGetTextDatum(model), CStringGetTextDatum(previous)}, NULL, false,
			  SPI_OK_SELECT);
	SPI_finish();
	error_context_stack = context.previous;
}

/*
 * recsys._ivf_indexable(algorithm): whether create_ivf can index the
 * algorithm's models (their kind has item vectors).
 */
PG_FUNCTION_INFO_V1(recsys_ivf_indexable);
Datum
recsys_ivf_indexable(PG_FUNCTION_ARGS)
{
	char	   *algorithm = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_BOOL(RsAlgorithmSupports(algorithm, offsetof(RsModelKind, factor_vectors)));
}
