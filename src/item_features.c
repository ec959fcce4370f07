/*-------------------------------------------------------------------------
 *
 * item_features.c
 *		Read a user's table of item (or user) features into a features x
 *		items matrix, for models that use side information (train_ease's
 *		features, train_fm's item_features and user_features).
 *
 * The relation has one row per (item, feature): the item id in a column
 * named like the source's item column, the feature in a column named
 * "feature" of any type (compared as text), or an array of them, which is
 * unnested.  A category, a brand, a word of the title: anything two items
 * can share.  Rows with a NULL item or feature are skipped, duplicates
 * count once, and items the model does not have are ignored.  A reader
 * that takes values (train_fm) reads them from a column named "value" if
 * there is one (a number: a price, a rating count), else every value is 1;
 * a pair given twice counts once, with its largest value, and a row whose
 * value is NULL is skipped.  The same reader reads user features, the
 * users' ids in a column named like the source's user column.
 *
 * Features get their dense indexes from dense_rank() in the query, so no
 * hash of strings is needed here, and the rows come ordered by it, so the
 * features x items matrix is built as they stream in, with no coordinate
 * copy.  The read runs as the caller, like the source's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "ingest.h"
#include "item_features.h"
#include "recsys.h"
#include "spi_util.h"

/* The columns that hold the features and their values. */
#define FEATURE_COL "feature"
#define VALUE_COL "value"

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
	bool		with_values;	/* the rows have a value column */
	double		max_value;		/* largest |value| accepted */
	float	   *values;			/* per pair, when with_values */
	const char *argname;		/* the argument naming the relation */
	const char *side;			/* "item" or "user" */
	char	  **names;			/* per feature, when wanted */
	int			name_col;		/* the slot's column of the name */
} FeatureReader;

static void
over_budget(FeatureReader *r)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("the features need more than the %.1f MB that recsys.max_memory (%d MB) leaves after the rest of the training",
					r->budget / 1048576.0, recsys_max_memory_mb),
			 errhint("Raise recsys.max_memory, or use fewer features per %s.", r->side)));
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
			if (r->names)
				r->names = repalloc_huge(r->names, (Size) r->feature_capacity * sizeof(char *));
		}
		/* in the arrays' context: the callback runs in SPI's */
		if (r->names)
			r->names[r->n_features] = MemoryContextStrdup(GetMemoryChunkContext(r->names),
														  TextDatumGetCString(slot->tts_values[r->name_col]));
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
		if (r->with_values)
			r->values = repalloc_huge(r->values, (Size) r->capacity * sizeof(float));
	}
	if (r->with_values)
		r->values[r->n] = RsFeatureValue(DatumGetFloat8(slot->tts_values[2]), r->max_value, r->argname);
	r->indices[r->n++] = item;
}

/*
 * RsFeatureValue checks a feature's value (read as double precision, so
 * that one beyond real is named, not a bare "value out of range") and
 * returns it as a real.  max_value: the largest |value| the model fits
 * (FLT_MAX, or less where a trainer multiplies values); argname names the
 * features argument.
 */
float
RsFeatureValue(double value, double max_value, const char *argname)
{
	if (!isfinite(value) || fabs(value) > max_value)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("column \"" VALUE_COL "\" of %s must hold finite numbers within [%g, %g], not %g",
						argname, -max_value, max_value, value),
				 errhint("Scale the feature's values (to [0, 1], or a logarithm).")));
	return (float) value;
}

static bool
column_exists(Oid relid, const char *col)
{
	AttrNumber	attnum = get_attnum(relid, col);

	return attnum != InvalidAttrNumber && attnum > 0;
}

static void
check_column_exists(Oid relid, const char *col, const RsFeatureRelation *rel)
{
	if (!column_exists(relid, col))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of %s relation \"%s\" does not exist",
						col, rel->argname, get_rel_name(relid)),
				 errhint("%s needs the %s ids in a column named like the source's, \"%s\" (%s), "
						 "and the features in a column named \"" FEATURE_COL "\"; a view can rename them.",
						 rel->argname, rel->side, rel->id_col, rel->id_argname)));
}

/* Whether a type is a number a value column may have. */
static bool
is_number_type(Oid type)
{
	switch (getBaseType(type))
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			return true;
		default:
			return false;
	}
}

/*
 * RsReadFeatures reads the (id, feature[, value]) rows of rel into
 * features, a features x ids CSR (columns: the dense indexes of ids,
 * values 1 or the value column's), allocated in the current memory
 * context.  other_bytes: what the rest of the training takes; the
 * features may use what recsys.max_memory leaves.  names (if not NULL)
 * receives each feature's name, as text, in the rows' order.
 */
void
RsReadFeatures(const RsFeatureRelation *rel, const RsIdMap *ids, Size other_bytes,
			   RsCsr *features, RsItemFeatureCounts *counts, char ***names)
{
	Oid			relid = rel->relid;
	const char *cols[3] = {rel->id_col, FEATURE_COL, VALUE_COL};
	Oid			id_type;
	Oid			feature_type;
	const char *id = quote_identifier(rel->id_col);
	const char *value = "";
	StringInfoData query;
	FeatureReader r;
	int32	   *id_seen;

	memset(&r, 0, sizeof(r));
	r.with_values = rel->with_values && column_exists(relid, VALUE_COL);
	r.max_value = rel->max_value > 0 ? rel->max_value : FLT_MAX;
	RsCheckReadableRelation(relid, rel->argname, cols, r.with_values ? 3 : 2);
	check_column_exists(relid, rel->id_col, rel);
	check_column_exists(relid, FEATURE_COL, rel);
	id_type = get_atttype(relid, get_attnum(relid, rel->id_col));
	if (!RsIsIdType(id_type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s column \"%s\" of %s \"%s\" has type %s, which cannot be an id",
						rel->id_argname, rel->id_col, rel->argname, get_rel_name(relid),
						format_type_be(id_type)),
				 errhint("Ids must be smallint, integer or bigint, as in the source.")));
	feature_type = get_atttype(relid, get_attnum(relid, FEATURE_COL));
	if (r.with_values)
	{
		Oid			value_type = get_atttype(relid, get_attnum(relid, VALUE_COL));

		if (!is_number_type(value_type))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"" VALUE_COL "\" of %s \"%s\" has type %s, not a number",
							rel->argname, get_rel_name(relid), format_type_be(value_type)),
					 errhint("Give numeric features as real numbers, categorical ones as value 1.")));
		value = ", max(v)";
	}
	/* and the feature's name, last */
	if (names)
		value = psprintf("%s, f", value);

	/*
	 * features compare as text in byte order: cheap and the same
	 * everywhere; a pair given twice counts once (with its largest value)
	 */
	initStringInfo(&query);
	if (type_is_array(getBaseType(feature_type)))
		appendStringInfo(&query,
						 "SELECT i, dense_rank() OVER (ORDER BY f)%s FROM ("
						 "SELECT %sr.%s::bigint AS i, u.f::text COLLATE \"C\" AS f%s "
						 "FROM %s AS r CROSS JOIN LATERAL unnest(r." FEATURE_COL ") AS u(f) "
						 "WHERE r.%s IS NOT NULL AND u.f IS NOT NULL%s) s%s ORDER BY 2, 1",
						 value, r.with_values ? "" : "DISTINCT ", id,
						 r.with_values ? ", r." VALUE_COL "::float8 AS v" : "",
						 RsRelationName(relid), id, r.with_values ? " AND r." VALUE_COL " IS NOT NULL" : "",
						 r.with_values ? " GROUP BY i, f" : "");
	else
		appendStringInfo(&query,
						 "SELECT i, dense_rank() OVER (ORDER BY f)%s FROM ("
						 "SELECT %s%s::bigint AS i, " FEATURE_COL "::text COLLATE \"C\" AS f%s "
						 "FROM %s WHERE %s IS NOT NULL AND " FEATURE_COL " IS NOT NULL%s) s%s ORDER BY 2, 1",
						 value, r.with_values ? "" : "DISTINCT ", id,
						 r.with_values ? ", " VALUE_COL "::float8 AS v" : "",
						 RsRelationName(relid), id, r.with_values ? " AND " VALUE_COL " IS NOT NULL" : "",
						 r.with_values ? " GROUP BY i, f" : "");

	r.items = ids;
	r.argname = rel->argname;
	r.side = rel->side;
	r.budget = other_bytes < RECSYS_MAX_MEMORY_BYTES ? RECSYS_MAX_MEMORY_BYTES - other_bytes : 0;
	r.last_rank = -1;
	r.feature_capacity = 1024;
	r.indptr = palloc(r.feature_capacity * sizeof(int64));
	r.capacity = 1024;
	r.indices = palloc(r.capacity * sizeof(int32));
	if (r.with_values)
		r.values = palloc(r.capacity * sizeof(float));
	if (names)
	{
		r.names = palloc(r.feature_capacity * sizeof(char *));
		r.name_col = r.with_values ? 3 : 2;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* repalloc keeps the arrays in the caller's context, outside SPI's */
	RsStreamQuery(query.data, 0, NULL, NULL, NULL, true, keep_pair, &r);
	SPI_finish();

	r.indptr[r.n_features] = r.n;
	features->n_rows = r.n_features;
	features->n_cols = ids->count;
	features->nnz = r.n;
	features->indptr = r.indptr;
	features->indices = r.indices;
	if (r.with_values)
		features->data = r.values;
	else
	{
		features->data = MemoryContextAllocExtended(CurrentMemoryContext,
													(Size) Max(r.n, 1) * sizeof(float), MCXT_ALLOC_HUGE);
		for (int64 a = 0; a < r.n; a++)
			features->data[a] = 1.0f;
	}

	if (names)
		*names = r.names;
	counts->pairs = features->nnz;
	counts->features = features->n_rows;
	counts->items = 0;
	id_seen = palloc0(sizeof(int32) * Max(ids->count, 1));
	for (int64 a = 0; a < features->nnz; a++)
		if (id_seen[features->indices[a]]++ == 0)
			counts->items++;
	pfree(id_seen);
}

/*
 * RsReadItemFeatures reads train_ease's features: (item, feature) rows,
 * every value 1.
 */
void
RsReadItemFeatures(Oid relid, const char *item_col, const RsIdMap *items, Size other_bytes,
				   RsCsr *features, RsItemFeatureCounts *counts)
{
	RsFeatureRelation rel = {relid, "features", "item", item_col, "item_col", false};

	RsReadFeatures(&rel, items, other_bytes, features, counts, NULL);
}
