/*-------------------------------------------------------------------------
 *
 * item_features.c
 *		Read a user's table of item features into a features x items
 *		matrix, for models that use side information (train_ease's
 *		features argument).
 *
 * The relation has one row per (item, feature): the item id in a column
 * named like the source's item column, the feature in a column named
 * "feature" of any type (compared as text), or an array of them, which is
 * unnested.  A category, a brand, a word of the title: anything two items
 * can share.  Rows with a NULL item or feature are skipped, duplicates
 * count once, and items the model does not have are ignored.
 *
 * Features get their dense indexes from dense_rank() in the query, so no
 * hash of strings is needed here, and the rows come ordered by it, so the
 * features x items matrix is built as they stream in, with no coordinate
 * copy.  The read runs as the caller, like the source's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "ingest.h"
#include "item_features.h"
#include "recsys.h"
#include "spi_util.h"

/* The column that holds the features. */
#define FEATURE_COL "feature"

typedef struct FeatureReader
{
	const RsIdMap *items;
	Size		budget;			/* bytes the matrix may take */
	int64		last_rank;		/* of the last pair kept */
	int32		n_features;		/* rows so far */
	int32		feature_capacity;
	int64	   *indptr;			/* row starts; the end goes in at the end */
	int64		n;				/* pairs kept */
	int64		capacity;
	int32	   *indices;		/* the model's item indexes */
} FeatureReader;

static void
over_budget(FeatureReader *r)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("the features need more than the %.1f MB that recsys.max_memory (%d MB) leaves after the rest of the training",
					r->budget / 1048576.0, recsys_max_memory_mb),
			 errhint("Raise recsys.max_memory, or use fewer features per item.")));
}

/*
 * Rows arrive ordered by feature rank, then item id, so the matrix is
 * built as they come: a new rank starts a row, and the columns of a row
 * ascend because dense item indexes follow ascending ids.  Features of
 * none of the model's items never get a row.
 */
static void
keep_pair(TupleTableSlot *slot, void *arg)
{
	FeatureReader *r = (FeatureReader *) arg;
	int32		item = rs_idmap_lookup(r->items, DatumGetInt64(slot->tts_values[0]));
	int64		rank = DatumGetInt64(slot->tts_values[1]);

	CHECK_FOR_INTERRUPTS();
	if (item < 0)
		return;
	if (rank != r->last_rank)
	{
		if (r->n_features + 1 == r->feature_capacity)
		{
			if (r->feature_capacity >= INT32_MAX / 2)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("features has more than %d distinct features", INT32_MAX / 2)));
			r->feature_capacity *= 2;
			r->indptr = repalloc_huge(r->indptr, (Size) r->feature_capacity * sizeof(int64));
		}
		r->indptr[r->n_features++] = r->n;
		r->last_rank = rank;
	}
	if (r->n == r->capacity)
	{
		/* each pair: an index now and a weight later */
		if ((Size) r->capacity * 2 * (sizeof(int32) + sizeof(float)) +
			(Size) r->feature_capacity * sizeof(int64) > r->budget)
			over_budget(r);
		r->capacity *= 2;
		r->indices = repalloc_huge(r->indices, (Size) r->capacity * sizeof(int32));
	}
	r->indices[r->n++] = item;
}

static void
check_column_exists(Oid relid, const char *col, const char *item_col)
{
	AttrNumber	attnum = get_attnum(relid, col);

	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of features relation \"%s\" does not exist",
						col, get_rel_name(relid)),
				 errhint("features needs the item ids in a column named like the source's, \"%s\" (item_col), "
						 "and the features in a column named \"" FEATURE_COL "\"; a view can rename them.",
						 item_col)));
}

/*
 * RsReadItemFeatures reads relid's (item, feature) rows into features, a
 * features x items CSR (columns: the dense indexes of items, values 1),
 * allocated in the current memory context.  other_bytes: what the rest of
 * the training takes; the features may use what recsys.max_memory leaves.
 */
void
RsReadItemFeatures(Oid relid, const char *item_col, const RsIdMap *items, Size other_bytes,
				   RsCsr *features, RsItemFeatureCounts *counts)
{
	const char *cols[2] = {item_col, FEATURE_COL};
	Oid			item_type;
	Oid			feature_type;
	const char *item = quote_identifier(item_col);
	StringInfoData query;
	FeatureReader r;
	int32	   *item_seen;

	RsCheckReadableRelation(relid, "features", cols, 2);
	check_column_exists(relid, item_col, item_col);
	check_column_exists(relid, FEATURE_COL, item_col);
	item_type = get_atttype(relid, get_attnum(relid, item_col));
	if (!RsIsIdType(item_type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("item_col column \"%s\" of features \"%s\" has type %s, which cannot be an id",
						item_col, get_rel_name(relid), format_type_be(item_type)),
				 errhint("Ids must be smallint, integer or bigint, as in the source.")));
	feature_type = get_atttype(relid, get_attnum(relid, FEATURE_COL));

	/* features compare as text in byte order: cheap and the same everywhere */
	initStringInfo(&query);
	if (type_is_array(getBaseType(feature_type)))
		appendStringInfo(&query,
						 "SELECT i, dense_rank() OVER (ORDER BY f) FROM ("
						 "SELECT DISTINCT r.%s::bigint AS i, u.f::text COLLATE \"C\" AS f "
						 "FROM %s AS r CROSS JOIN LATERAL unnest(r." FEATURE_COL ") AS u(f) "
						 "WHERE r.%s IS NOT NULL AND u.f IS NOT NULL) s ORDER BY 2, 1",
						 item, RsRelationName(relid), item);
	else
		appendStringInfo(&query,
						 "SELECT i, dense_rank() OVER (ORDER BY f) FROM ("
						 "SELECT DISTINCT %s::bigint AS i, " FEATURE_COL "::text COLLATE \"C\" AS f "
						 "FROM %s WHERE %s IS NOT NULL AND " FEATURE_COL " IS NOT NULL) s ORDER BY 2, 1",
						 item, RsRelationName(relid), item);

	memset(&r, 0, sizeof(r));
	r.items = items;
	r.budget = other_bytes < RECSYS_MAX_MEMORY_BYTES ? RECSYS_MAX_MEMORY_BYTES - other_bytes : 0;
	r.last_rank = -1;
	r.feature_capacity = 1024;
	r.indptr = palloc(r.feature_capacity * sizeof(int64));
	r.capacity = 1024;
	r.indices = palloc(r.capacity * sizeof(int32));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* repalloc keeps the arrays in the caller's context, outside SPI's */
	RsStreamQuery(query.data, 0, NULL, NULL, NULL, true, keep_pair, &r);
	SPI_finish();

	r.indptr[r.n_features] = r.n;
	features->n_rows = r.n_features;
	features->n_cols = items->count;
	features->nnz = r.n;
	features->indptr = r.indptr;
	features->indices = r.indices;
	features->data = MemoryContextAllocExtended(CurrentMemoryContext,
												(Size) Max(r.n, 1) * sizeof(float), MCXT_ALLOC_HUGE);
	for (int64 a = 0; a < r.n; a++)
		features->data[a] = 1.0f;

	counts->pairs = features->nnz;
	counts->features = features->n_rows;
	counts->items = 0;
	item_seen = palloc0(sizeof(int32) * Max(items->count, 1));
	for (int64 a = 0; a < features->nnz; a++)
		if (item_seen[features->indices[a]]++ == 0)
			counts->items++;
	pfree(item_seen);
}
