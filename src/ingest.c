/*-------------------------------------------------------------------------
 *
 * ingest.c
 *		Stream a user's (user, item, weight) rows into CSR and CSC matrices.
 *
 * This is the floor under every training run, so it avoids the usual SPI
 * result path.  Two paths hand rows to ingest_row, which maps each row's
 * ids to dense indexes (a chunk of rows at a time, see map_pending):
 *  - heap_read, for a plain table with no row-level security applying to
 *    the caller (heap_read_possible; recsys.fast_read): a sequential scan
 *    through the table access method, no executor node or SPI per row;
 *  - executor_read, for everything else (views, RLS, inheritance, foreign
 *    and partitioned tables): the source query runs through
 *    SPI_execute_plan_extended with a DestReceiver of our own.
 * Both give the same rows, so the same matrices bit for bit.  Nothing is
 * materialised as an SPI tuple table, so a source of tens of millions of
 * rows costs only the 12 bytes per row of the coordinate arrays.
 *
 * Reads run as the caller (no security context switch), so the caller's
 * privileges and the source's row-level security policies apply.
 *
 * Parallel reads (executor path): the query is planned with
 * CURSOR_OPT_PARALLEL_OK and run to completion in one call (SPI's executor
 * call has execute_once set, as no cursor is involved), so PostgreSQL may
 * give it a Gather with workers
 * when the plan is parallel safe - a policy or view calling a parallel
 * restricted or unsafe function simply keeps it serial.  Workers scan and
 * filter; the leader's receiver still maps every row, polls for cancel
 * and checks recsys.max_memory.  Rows then arrive in an arbitrary order,
 * which nothing downstream depends on: ids are renumbered in ascending
 * order after the read, and duplicates of a (user, item) pair are summed
 * in ascending order of their weights (rs_coo_to_csr), so the matrices
 * are bit-identical whatever the arrival order.  Only which bad row an
 * error names, when several are bad, can differ (as it already could with
 * synchronised sequential scans).
 *
 * Memory: every buffer comes from the caller's memory context with huge
 * allocations allowed, and the projected working set is checked against
 * recsys.max_memory while rows stream in, so that an oversized source is
 * refused before it exhausts the server.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>
#include <time.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "tcop/dest.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "events.h"
#include "ingest.h"
#include "recsys.h"

/*
 * Bytes per source row at the peak of ingestion, while the CSR is built:
 * the coordinates (user, item, weight) and the CSR (item, weight).  The
 * CSC later reuses the coordinates' memory.
 */
#define INGEST_BYTES_PER_ROW (3 * sizeof(int32) + 2 * sizeof(int32))
#define INGEST_SAMPLE_BLOCKS 64	/* pages sampled to check a row estimate */

/* recsys.fast_read: read plain tables by heap_read (off: always the executor) */
bool		recsys_fast_read = true;

#define INGEST_INITIAL_ROWS 65536
#define INGEST_INITIAL_MAP_CAPACITY 1024
#define INGEST_MAP_CHUNK 1024	/* rows whose ids are mapped together */

/* How the receiver turns a column's Datum into an id or a weight. */
typedef enum IngestType
{
	INGEST_INT2,
	INGEST_INT4,
	INGEST_INT8,
	INGEST_FLOAT4,
	INGEST_FLOAT8,
	INGEST_NUMERIC
} IngestType;

/* The DestReceiver that collects rows; see ingest_receive. */
typedef struct IngestReceiver
{
	DestReceiver pub;
	const RsSourceSpec *spec;
	MemoryContext mcxt;			/* where every buffer lives */
	MemoryContext row_mcxt;		/* one row's detoasted values, reset per row */
	IngestType	user_type;
	IngestType	item_type;
	IngestType	weight_type;
	bool		has_weight;
	bool		has_event;		/* a last column of event types (text) */
	int			natts;

	/* coordinate arrays, first-appearance indexes until remapped */
	int64		n;
	int64		capacity;
	int32	   *rows;
	int32	   *cols;
	float	   *vals;

	RsIdMap		users;
	RsIdMap		items;

	/*
	 * Ids of the last rows appended, not yet mapped: rows[] and cols[] of
	 * rows n - pending .. n - 1 are filled by map_pending, a chunk at a
	 * time, so that the maps' cache misses overlap (rs_idmap_insert_many).
	 */
	int			pending;
	int64		pending_users[INGEST_MAP_CHUNK];
	int64		pending_items[INGEST_MAP_CHUNK];

	int64		skipped;
	int64		seen;			/* rows handed in, for the cancel poll */
	int			workers_planned;	/* executor path: the most any Gather */
	int			workers_launched;	/* asked for, and got */
	float8		min_weight;
	float8		max_weight;
} IngestReceiver;

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* palloc of any size up to the limit of the machine, or ERROR */
static void *
alloc_huge(MemoryContext mcxt, Size size)
{
	return MemoryContextAllocExtended(mcxt, Max(size, 1), MCXT_ALLOC_HUGE);
}

/*
 * The model whose owner's rights the running read uses (model_acl.c's
 * RsRunAsOwner sets it around its work), else NULL: the permission errors
 * below say whose rights they checked.  Kept here, with the messages, so
 * that reading does not depend on the ACL module.
 */
static const char *owner_read_model = NULL;

/* RsSetOwnerReadModel sets the model (NULL: none) and returns the previous one. */
const char *
RsSetOwnerReadModel(const char *model)
{
	const char *previous = owner_read_model;

	owner_read_model = model;
	return previous;
}

/* RsOwnerReadModel returns the model whose owner's rights the read uses, or NULL. */
const char *
RsOwnerReadModel(void)
{
	return owner_read_model;
}

/*
 * RsRelationName returns the schema-qualified, quoted name of a relation,
 * safe to splice into SQL.
 */
char *
RsRelationName(Oid relid)
{
	char	   *relname = get_rel_name(relid);

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  relname);
}

/*
 * Check that a column exists in the source and has a type we can read as
 * an id (integers) or a weight (integers or floating point), and return
 * how to read it.  role names the argument in messages.
 */
static IngestType
check_column(Oid relid, const char *colname, const char *argname, bool is_weight)
{
	AttrNumber	attnum = get_attnum(relid, colname);
	Oid			typid;

	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						colname, get_rel_name(relid)),
				 errhint("Pass the name of the column that holds the %s as %s.",
						 is_weight ? "weights" : (strcmp(argname, "user_col") == 0 ? "user ids" : "item ids"),
						 argname)));

	typid = getBaseType(get_atttype(relid, attnum));
	switch (typid)
	{
		case INT2OID:
			return INGEST_INT2;
		case INT4OID:
			return INGEST_INT4;
		case INT8OID:
			return INGEST_INT8;
		case FLOAT4OID:
			if (is_weight)
				return INGEST_FLOAT4;
			break;
		case FLOAT8OID:
			if (is_weight)
				return INGEST_FLOAT8;
			break;
		case NUMERICOID:
			if (is_weight)
				return INGEST_NUMERIC;
			break;
		default:
			break;
	}

	if (is_weight)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s column \"%s\" has type %s, which cannot be a weight",
						argname, colname, format_type_be(typid)),
				 errhint("Use a column of type smallint, integer, bigint, real, double precision or numeric.")));
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("%s column \"%s\" has type %s, which cannot be an id",
					argname, colname, format_type_be(typid)),
			 errhint("Ids must be smallint, integer or bigint; map other keys to integers in a view, for example with dense_rank().")));
	pg_unreachable();
}

/*
 * Refuse relations that cannot hold rows, and ones the caller may not
 * read, before running anything.  Column privileges on cols (NULL entries
 * skipped) are enough.  what names the argument in messages.
 */
void
RsCheckReadableRelation(Oid relid, const char *what, const char *const *cols, int ncols)
{
	char		relkind;

	/*
	 * Lock first, as the parser does before any check: a concurrent ALTER,
	 * REVOKE or CREATE POLICY that commits while we wait is then seen
	 * (locking accepts the invalidations it sent), so the privileges, row
	 * security and column types checked here and by the reader are the
	 * ones the read runs under.  Kept to the end of the transaction, like
	 * the executor's.
	 */
	LockRelationOid(relid, AccessShareLock);
	if (get_rel_name(relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("%s relation with OID %u does not exist", what, relid)));
	relkind = get_rel_relkind(relid);

	if (relkind != RELKIND_RELATION && relkind != RELKIND_VIEW &&
		relkind != RELKIND_MATVIEW && relkind != RELKIND_FOREIGN_TABLE &&
		relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s \"%s\" is not a table or view", what, get_rel_name(relid))));

	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK)
		return;
	for (int c = 0; c < ncols; c++)
	{
		AttrNumber	attnum;

		if (cols[c] == NULL)
			continue;
		attnum = get_attnum(relid, cols[c]);
		if (attnum == InvalidAttrNumber ||
			pg_attribute_aclcheck(relid, attnum, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for %s \"%s\"", what, get_rel_name(relid)),
					 RsOwnerReadModel() != NULL ?
					 errdetail("recsys reads the %s for model \"%s\" with the rights of role %s (a model's recorded relations are read as its owner), not the calling role's; that role needs SELECT on the columns it uses.",
							   what, RsOwnerReadModel(),
							   quote_identifier(GetUserNameFromId(GetUserId(), false))) :
					 errdetail("recsys reads the %s as the calling role, which needs SELECT on the columns it uses.", what),
					 errhint("GRANT SELECT ON %s TO %s;", RsRelationName(relid),
							 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
	}
}

/* Whether a column of this type (or domain over it) can hold ids. */
bool
RsIsIdType(Oid typid)
{
	typid = getBaseType(typid);
	return typid == INT2OID || typid == INT4OID || typid == INT8OID;
}

static void
check_source(const RsSourceSpec *spec)
{
	const char *cols[4] = {spec->user_col, spec->item_col, spec->weight_col, spec->event_col};

	RsCheckReadableRelation(spec->relid, "source", cols, 4);
	if (spec->event_col != NULL)
		RsCheckEventColumn(spec->relid, spec->event_col, cols, 3);
}

/* The type whose values an IngestType reads. */
static Oid
ingest_type_oid(IngestType type)
{
	switch (type)
	{
		case INGEST_INT2:
			return INT2OID;
		case INGEST_INT4:
			return INT4OID;
		case INGEST_INT8:
			return INT8OID;
		case INGEST_FLOAT4:
			return FLOAT4OID;
		case INGEST_FLOAT8:
			return FLOAT8OID;
		case INGEST_NUMERIC:
			return NUMERICOID;
	}
	pg_unreachable();
}

static int64
datum_to_id(Datum d, IngestType type)
{
	switch (type)
	{
		case INGEST_INT2:
			return DatumGetInt16(d);
		case INGEST_INT4:
			return DatumGetInt32(d);
		default:
			return DatumGetInt64(d);
	}
}

static float8
datum_to_weight(Datum d, IngestType type)
{
	switch (type)
	{
		case INGEST_INT2:
			return DatumGetInt16(d);
		case INGEST_INT4:
			return DatumGetInt32(d);
		case INGEST_INT8:
			return (float8) DatumGetInt64(d);
		case INGEST_FLOAT4:
			return DatumGetFloat4(d);
		case INGEST_FLOAT8:
			return DatumGetFloat8(d);
		case INGEST_NUMERIC:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));
	}
	pg_unreachable();
}

/*
 * Refuse a source whose projected working set, with room for rows
 * coordinates, exceeds recsys.max_memory (called while a row is added:
 * it counts as read).
 */
static void
check_memory_budget(IngestReceiver *r, int64 rows)
{
	Size		need = (Size) rows * INGEST_BYTES_PER_ROW +
		rs_idmap_bytes(r->users.capacity) + rs_idmap_bytes(r->items.capacity);

	if (need > RECSYS_MAX_MEMORY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("source \"%s\" needs at least %.1f MB to read, more than recsys.max_memory (%d MB)",
						get_rel_name(r->spec->relid), need / (1024.0 * 1024.0), recsys_max_memory_mb),
				 errdetail("%lld rows read so far (%lld of them skipped), with room for %lld.",
						   (long long) r->seen, (long long) r->skipped, (long long) rows),
				 errhint("Raise recsys.max_memory, or train on a smaller source.")));
}

/*
 * The live rows of relid estimated from a sample of at most
 * INGEST_SAMPLE_BLOCKS of its nblocks pages (TABLESAMPLE SYSTEM, a fixed
 * seed): unlike pg_class.reltuples it is not left stale by a DELETE.
 */
static double
sampled_rows(Oid relid, BlockNumber nblocks)
{
	double		percent = Min(100.0, 100.0 * INGEST_SAMPLE_BLOCKS / Max(nblocks, 1));
	StringInfoData query;
	double		rows;
	bool		isnull;

	initStringInfo(&query);
	appendStringInfo(&query,
					 "SELECT pg_catalog.count(*)::pg_catalog.float8 FROM ONLY %s "
					 "TABLESAMPLE SYSTEM ($1) REPEATABLE (0)", RsRelationName(relid));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(query.data, 1, (Oid[]) {FLOAT8OID},
							  (Datum[]) {Float8GetDatum(percent)}, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not sample \"%s\"", query.data);
	rows = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	pfree(query.data);
	return rows * 100.0 / percent;
}

/*
 * Refuse, before reading a row, a source whose table alone shows it is too
 * large: the rows it holds times the bytes per row reading needs, a lower
 * bound of the working set.  The rows are estimated twice, and the source
 * is refused only when both estimates are too many: pg_class.reltuples
 * (kept by VACUUM, ANALYZE and CREATE INDEX, stale after a large DELETE
 * until the next of those runs) and a sample of the table's pages (live
 * rows only; sampled only when reltuples is too many).  Only for a table
 * or materialized view that has an estimate and no row-level security
 * (whose policies may leave this reader fewer rows); every source is also
 * checked exactly while rows stream in (check_memory_budget).
 */
static void
check_estimated_size(const RsSourceSpec *spec)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(spec->relid));
	Form_pg_class rel;
	double		reltuples;
	double		sampled;
	double		need;
	BlockNumber nblocks;
	Relation	relation;

	if (!HeapTupleIsValid(tuple))
		return;
	rel = (Form_pg_class) GETSTRUCT(tuple);
	reltuples = rel->reltuples;
	if (!((rel->relkind == RELKIND_RELATION || rel->relkind == RELKIND_MATVIEW) &&
		  !rel->relrowsecurity && reltuples > 0 &&
		  reltuples * INGEST_BYTES_PER_ROW > (double) RECSYS_MAX_MEMORY_BYTES))
	{
		ReleaseSysCache(tuple);
		return;
	}
	ReleaseSysCache(tuple);

	/* the lock the read takes next anyway */
	relation = table_open(spec->relid, AccessShareLock);
	nblocks = RelationGetNumberOfBlocks(relation);
	table_close(relation, NoLock);
	sampled = sampled_rows(spec->relid, nblocks);
	need = Min(reltuples, sampled) * INGEST_BYTES_PER_ROW;
	if (need > (double) RECSYS_MAX_MEMORY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("source \"%s\" needs about %.1f MB to read by its estimated size, more than recsys.max_memory (%d MB)",
						get_rel_name(spec->relid), need / (1024.0 * 1024.0), recsys_max_memory_mb),
				 errdetail("Estimated before reading: %.0f rows by pg_class.reltuples, about %.0f live rows by a sample of its %u pages, at %d bytes each.",
						   reltuples, sampled, nblocks, (int) INGEST_BYTES_PER_ROW),
				 errhint("If the table's statistics are stale, run ANALYZE on it; otherwise raise recsys.max_memory, or train on a smaller source.")));
}

/* Double the coordinate arrays. */
static void
grow_coordinates(IngestReceiver *r)
{
	int64		capacity = r->capacity * 2;

	check_memory_budget(r, capacity);
	r->rows = repalloc_huge(r->rows, (Size) capacity * sizeof(int32));
	r->cols = repalloc_huge(r->cols, (Size) capacity * sizeof(int32));
	r->vals = repalloc_huge(r->vals, (Size) capacity * sizeof(float));
	r->capacity = capacity;
}

static void
init_idmap(MemoryContext mcxt, RsIdMap *map, int64 capacity)
{
	rs_idmap_init(map, alloc_huge(mcxt, rs_idmap_bytes(capacity)), capacity);
}

/*
 * Map ids[0 .. n) to their dense indexes, in order (so first appearance
 * numbers them as one by one would), growing the map when it fills up.
 */
static void
map_ids(IngestReceiver *r, RsIdMap *map, const int64 *ids, int32 *indexes, int64 n,
		const char *what)
{
	int64		done = 0;

	for (;;)
	{
		RsIdMap		bigger;

		done += rs_idmap_insert_many(map, ids + done, indexes + done, n - done);
		if (done == n)
			return;
		if (map->count >= RS_IDMAP_MAX_IDS / 2)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("source \"%s\" has too many distinct %s",
							get_rel_name(r->spec->relid), what),
					 errdetail("At most %d distinct %s are supported.", RS_IDMAP_MAX_IDS / 2, what)));
		init_idmap(r->mcxt, &bigger, map->capacity * 2);
		rs_idmap_rehash(map, &bigger);
		pfree(map->slot_keys);	/* the start of the old buffer */
		*map = bigger;
		check_memory_budget(r, r->capacity);
	}
}

/* Map the pending rows' ids into rows[] and cols[]. */
static void
map_pending(IngestReceiver *r)
{
	int64		first = r->n - r->pending;

	map_ids(r, &r->users, r->pending_users, r->rows + first, r->pending, "users");
	map_ids(r, &r->items, r->pending_items, r->cols + first, r->pending, "items");
	r->pending = 0;
}

/*
 * ingest_row takes one source row, its columns in the read's order (user,
 * item, then weight and event type when given): skip rows with NULLs,
 * check the weight, map both ids, append a triple.  Both read paths call
 * it, so they accept, refuse and count the same rows.
 */
static void
ingest_row(IngestReceiver *r, const Datum *values, const bool *nulls)
{
	float8		weight = 1.0;
	MemoryContext old_mcxt;

	/* counted before a row can be skipped: a source of NULLs still polls */
	if ((++r->seen & 0xFFFF) == 0)
		CHECK_FOR_INTERRUPTS();

	if (nulls[0] || nulls[1] || (r->has_weight && nulls[2]) ||
		(r->has_event && nulls[r->natts - 1]))
	{
		r->skipped++;
		return;
	}

	/*
	 * numeric_float8 and DatumGetTextPP may detoast into a palloc'd copy:
	 * in a context reset after every row (a no-op when nothing was
	 * allocated), not one per row left until the statement ends.
	 */
	MemoryContextReset(r->row_mcxt);
	old_mcxt = MemoryContextSwitchTo(r->row_mcxt);
	if (r->has_weight)
	{
		weight = datum_to_weight(values[2], r->weight_type);
		if (isnan(weight) || isinf(weight) || fabs(weight) > FLT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("weight column \"%s\" holds %g for user %lld and item %lld",
							r->spec->weight_col, weight,
							(long long) datum_to_id(values[0], r->user_type),
							(long long) datum_to_id(values[1], r->item_type)),
					 errdetail("Weights must be finite numbers within the range of real."),
					 errhint("Filter such rows out with a view, or use NULL to skip them.")));
	}
	if (r->has_event)
	{
		text	   *type = DatumGetTextPP(values[r->natts - 1]);
		float		event_weight;
		bool		known = RsEventWeight(r->spec->events, VARDATA_ANY(type),
										  VARSIZE_ANY_EXHDR(type), &event_weight);

		if (!known && r->spec->skip_unknown_events)
			event_weight = 0;
		else if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("event_weights has no weight for event type \"%s\" of column \"%s\"",
							text_to_cstring(type), r->spec->event_col),
					 errdetail("Found for user %lld and item %lld.",
							   (long long) datum_to_id(values[0], r->user_type),
							   (long long) datum_to_id(values[1], r->item_type)),
					 errhint("Give every event type of the source a weight; weight 0 drops a type.")));
		/* a dropped type, as if the rows were not there */
		if (event_weight == 0)
		{
			MemoryContextSwitchTo(old_mcxt);
			r->skipped++;
			return;
		}
		weight *= event_weight;
		if (fabs(weight) > FLT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("weight times event weight is out of range for type real"),
					 errhint("Scale the weights down.")));
	}
	MemoryContextSwitchTo(old_mcxt);
	if (r->has_weight || r->has_event)
	{
		if (weight < r->min_weight)
			r->min_weight = weight;
		if (weight > r->max_weight)
			r->max_weight = weight;
	}

	if (r->n == r->capacity)
		grow_coordinates(r);

	r->pending_users[r->pending] = datum_to_id(values[0], r->user_type);
	r->pending_items[r->pending] = datum_to_id(values[1], r->item_type);
	r->vals[r->n] = (float) weight;
	r->n++;
	if (++r->pending == INGEST_MAP_CHUNK)
		map_pending(r);
}

/* The executor path's receiver: every row the source query returns. */
static bool
ingest_receive(TupleTableSlot *slot, DestReceiver *self)
{
	slot_getsomeattrs(slot, ((IngestReceiver *) self)->natts);
	ingest_row((IngestReceiver *) self, slot->tts_values, slot->tts_isnull);
	return true;
}

static void
ingest_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	IngestReceiver *r = (IngestReceiver *) self;

	if (typeinfo->natts != r->natts)
		elog(ERROR, "unexpected column count %d in source query", typeinfo->natts);
	/* the types checked before the read are the ones the query returns */
	for (int c = 0; c < r->natts; c++)
	{
		Oid			typid = getBaseType(TupleDescAttr(typeinfo, c)->atttypid);
		Oid			expected;

		if (c == r->natts - 1 && r->has_event)
			expected = TEXTOID;
		else
			expected = ingest_type_oid(c == 0 ? r->user_type : c == 1 ? r->item_type : r->weight_type);
		if (typid != expected)
			elog(ERROR, "column %d of the source query has type %s, not %s as checked",
				 c + 1, format_type_be(typid), format_type_be(expected));
	}
}

static void
ingest_shutdown(DestReceiver *self)
{
}

static void
ingest_destroy(DestReceiver *self)
{
}

/*
 * Workers of the executor path.  The executor frees a query's plan state
 * before SPI returns, so an ExecutorEnd hook (installed once by
 * RsIngestInit, inert unless a read is running) counts them just before:
 * for the query whose rows go to the running read's receiver only, not
 * for queries a policy's or view's functions run meanwhile.
 */
static ExecutorEnd_hook_type prev_executor_end = NULL;
static IngestReceiver *counting_receiver = NULL;

/* The most workers any Gather or Gather Merge asked for, and launched. */
static bool
count_workers(PlanState *ps, void *context)
{
	IngestReceiver *r = context;

	if (ps == NULL)
		return false;
	if (IsA(ps, GatherState))
	{
		r->workers_planned = Max(r->workers_planned, ((Gather *) ps->plan)->num_workers);
		r->workers_launched = Max(r->workers_launched, ((GatherState *) ps)->nworkers_launched);
	}
	else if (IsA(ps, GatherMergeState))
	{
		r->workers_planned = Max(r->workers_planned, ((GatherMerge *) ps->plan)->num_workers);
		r->workers_launched = Max(r->workers_launched, ((GatherMergeState *) ps)->nworkers_launched);
	}
	return planstate_tree_walker(ps, count_workers, context);
}

static void
ingest_executor_end(QueryDesc *query)
{
	if (counting_receiver != NULL &&
		query->dest == (DestReceiver *) counting_receiver && query->planstate != NULL)
		count_workers(query->planstate, counting_receiver);
	if (prev_executor_end != NULL)
		prev_executor_end(query);
	else
		standard_ExecutorEnd(query);
}

/*
 * The executor path: SELECT the columns FROM the source through SPI into
 * the receiver, planned so that PostgreSQL may give it workers (see the
 * top).  Everything the executor does applies: views, row-level security,
 * inheritance, foreign tables, casts.
 */
static void
executor_read(IngestReceiver *r, bool read_only)
{
	const RsSourceSpec *spec = r->spec;
	StringInfoData query;
	SPIPlanPtr	plan;
	SPIPrepareOptions prepare;
	SPIExecuteOptions options;
	IngestReceiver *volatile outer_receiver;
	int			ret;

	initStringInfo(&query);
	appendStringInfo(&query, "SELECT %s, %s", quote_identifier(spec->user_col),
					 quote_identifier(spec->item_col));
	if (r->has_weight)
		appendStringInfo(&query, ", %s", quote_identifier(spec->weight_col));
	if (r->has_event)
		appendStringInfo(&query, ", (%s)::pg_catalog.text", quote_identifier(spec->event_col));
	appendStringInfo(&query, " FROM %s", RsRelationName(spec->relid));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* one run to completion: a parallel plan is allowed (see the top) */
	memset(&prepare, 0, sizeof(prepare));
	prepare.cursorOptions = CURSOR_OPT_PARALLEL_OK;
	plan = SPI_prepare_extended(query.data, &prepare);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", query.data,
			 SPI_result_code_string(SPI_result));
	memset(&options, 0, sizeof(options));
	options.read_only = read_only;
	options.dest = (DestReceiver *) r;

	/* a read nested in this one (a policy's function training) restores ours */
	outer_receiver = counting_receiver;
	counting_receiver = r;
	PG_TRY();
	{
		ret = SPI_execute_plan_extended(plan, &options);
	}
	PG_FINALLY();
	{
		counting_receiver = outer_receiver;
	}
	PG_END_TRY();
	/* SPI reports a query whose rows went to our receiver as a utility */
	if (ret != SPI_OK_SELECT && ret != SPI_OK_UTILITY)
		elog(ERROR, "SPI_execute_plan_extended failed for \"%s\": %s", query.data,
			 SPI_result_code_string(ret));
	SPI_finish();
	pfree(query.data);
}

/*
 * Whether the source can be read by heap_read, with exactly the rows and
 * values the executor path would give: a plain table without inheritance
 * children (SELECT ... FROM t reads those too), no row-level security for
 * this caller (RLS_NONE: no policy applies, not even one the owner
 * bypasses), event types in a text or varchar column (the executor path
 * casts to text; other types print differently), and an active snapshot
 * to read with.  The caller's SELECT on the table or on each column read
 * was checked by check_source, as the executor would check it; USAGE on
 * the table's schema, which the executor path's SELECT needs to name the
 * table, is asked here, so that a caller without it still gets the
 * executor path's error.
 */
static bool
heap_read_possible(const RsSourceSpec *spec)
{
	if (!recsys_fast_read || !ActiveSnapshotSet())
		return false;
	if (get_rel_relkind(spec->relid) != RELKIND_RELATION || has_subclass(spec->relid))
		return false;
	if (pg_namespace_aclcheck(get_rel_namespace(spec->relid), GetUserId(), ACL_USAGE) != ACLCHECK_OK)
		return false;
	if (check_enable_rls(spec->relid, InvalidOid, true) != RLS_NONE)
		return false;
	if (spec->event_col != NULL)
	{
		Oid			typid = getBaseType(get_atttype(spec->relid,
													get_attnum(spec->relid, spec->event_col)));

		if (typid != TEXTOID && typid != VARCHAROID)
			return false;
	}
	return true;
}

/*
 * The heap path: a sequential scan of the table through the table access
 * method, handing each tuple's columns straight to ingest_row, with no
 * executor node, projection or receiver call per row.  The snapshot is
 * the one SPI would use: read_only reads (serving, STABLE functions) use
 * the active snapshot; training advances the command counter and takes a
 * fresh snapshot first, so it sees its own transaction's earlier writes.
 */
static void
heap_read(IngestReceiver *r, bool read_only)
{
	const RsSourceSpec *spec = r->spec;
	const char *cols[4] = {spec->user_col, spec->item_col, spec->weight_col, spec->event_col};
	AttrNumber	attnums[4];
	AttrNumber	last_attnum = 0;
	Relation	rel = table_open(spec->relid, AccessShareLock);
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;
	Datum		values[4];
	bool		nulls[4];

	for (int c = 0; c < r->natts; c++)
	{
		/* the event column is the last one whatever comes before it */
		const char *col = c == r->natts - 1 && r->has_event ? spec->event_col : cols[c];

		attnums[c] = get_attnum(spec->relid, col);
		last_attnum = Max(last_attnum, attnums[c]);
	}

	if (!read_only)
	{
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
		UpdateActiveSnapshotCommandId();
	}
	snapshot = RegisterSnapshot(GetActiveSnapshot());
	scan = table_beginscan(rel, snapshot, 0, NULL);
	slot = table_slot_create(rel, NULL);

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		slot_getsomeattrs(slot, last_attnum);
		for (int c = 0; c < r->natts; c++)
		{
			values[c] = slot->tts_values[attnums[c] - 1];
			nulls[c] = slot->tts_isnull[attnums[c] - 1];
		}
		ingest_row(r, values, nulls);
	}

	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	if (!read_only)
	{
		PopActiveSnapshot();
		CommandCounterIncrement();
	}
	/* the lock is kept to the end of the transaction, as the executor does */
	table_close(rel, NoLock);
}

/* Renumber one side's indexes in ascending id order. */
static void
sort_ids(MemoryContext mcxt, RsIdMap *map, int32 *indexes, int64 n)
{
	int32	   *new_index = alloc_huge(mcxt, (Size) map->count * sizeof(int32));

	rs_idmap_sort(map, new_index);
	for (int64 j = 0; j < n; j++)
		indexes[j] = new_index[indexes[j]];
	pfree(new_index);
}

/* Allocate the arrays of a CSR matrix with the given shape. */
static void
alloc_csr(MemoryContext mcxt, RsCsr *m, int32 n_rows, int64 nnz)
{
	m->indptr = alloc_huge(mcxt, ((Size) n_rows + 1) * sizeof(int64));
	m->indices = alloc_huge(mcxt, (Size) nnz * sizeof(int32));
	m->data = alloc_huge(mcxt, (Size) nnz * sizeof(float));
}

/*
 * RsReadSource reads the source named by spec into out, allocating in the
 * current memory context.  read_only is passed to SPI: true from STABLE
 * functions, false from training, which must see its own transaction's
 * writes.
 */
void
RsReadSource(const RsSourceSpec *spec, bool read_only, RsInteractions *out)
{
	IngestReceiver *r;
	double		start = now_seconds();
	MemoryContext mcxt = CurrentMemoryContext;

	/* locks the source first: every check below sees its current state */
	check_source(spec);
	check_estimated_size(spec);
	if (strcmp(spec->user_col, spec->item_col) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("user_col and item_col are both \"%s\"", spec->user_col),
				 errhint("Users and items must come from two different columns.")));

	r = palloc0(sizeof(IngestReceiver));
	r->pub.receiveSlot = ingest_receive;
	r->pub.rStartup = ingest_startup;
	r->pub.rShutdown = ingest_shutdown;
	r->pub.rDestroy = ingest_destroy;
	r->pub.mydest = DestNone;
	r->spec = spec;
	r->mcxt = mcxt;
	r->row_mcxt = AllocSetContextCreate(mcxt, "recsys ingest row", ALLOCSET_SMALL_SIZES);
	r->user_type = check_column(spec->relid, spec->user_col, "user_col", false);
	r->item_type = check_column(spec->relid, spec->item_col, "item_col", false);
	r->has_weight = spec->weight_col != NULL;
	if (r->has_weight)
		r->weight_type = check_column(spec->relid, spec->weight_col, "weight_col", true);
	r->has_event = spec->event_col != NULL;
	r->natts = 2 + r->has_weight + r->has_event;
	r->min_weight = r->has_weight || r->has_event ? get_float8_infinity() : 1.0;
	r->max_weight = r->has_weight || r->has_event ? -get_float8_infinity() : 1.0;

	r->capacity = INGEST_INITIAL_ROWS;
	r->rows = alloc_huge(mcxt, (Size) r->capacity * sizeof(int32));
	r->cols = alloc_huge(mcxt, (Size) r->capacity * sizeof(int32));
	r->vals = alloc_huge(mcxt, (Size) r->capacity * sizeof(float));
	init_idmap(mcxt, &r->users, INGEST_INITIAL_MAP_CAPACITY);
	init_idmap(mcxt, &r->items, INGEST_INITIAL_MAP_CAPACITY);

	if (heap_read_possible(spec))
	{
		heap_read(r, read_only);
		out->read_path = "heap";
	}
	else
	{
		executor_read(r, read_only);
		out->read_path = "executor";
	}
	map_pending(r);
	out->read_workers_planned = r->workers_planned;
	out->read_workers = r->workers_launched;
	out->read_seconds = now_seconds() - start;

	start = now_seconds();
	sort_ids(mcxt, &r->users, r->rows, r->n);
	sort_ids(mcxt, &r->items, r->cols, r->n);
	CHECK_FOR_INTERRUPTS();

	/* CSR with duplicates summed */
	alloc_csr(mcxt, &out->by_user, r->users.count, r->n);
	rs_coo_to_csr(r->users.count, r->items.count, r->n, r->rows, r->cols,
				  r->vals, &out->by_user);
	pfree(r->rows);
	CHECK_FOR_INTERRUPTS();

	/*
	 * The CSC goes into the coordinates' item and weight arrays: they are
	 * large enough, and reusing memory already touched saves the page
	 * faults of fresh pages, a fifth of the build time otherwise.
	 */
	out->by_item.indptr = alloc_huge(mcxt, ((Size) r->items.count + 1) * sizeof(int64));
	out->by_item.indices = r->cols;
	out->by_item.data = r->vals;
	rs_csr_transpose(&out->by_user, &out->by_item);

	/* summed duplicates leave a tail that can go back (mremap, no copy) */
	if (out->by_user.nnz < r->n)
	{
		Size		nnz = Max(out->by_user.nnz, 1);

		out->by_user.indices = repalloc_huge(out->by_user.indices, nnz * sizeof(int32));
		out->by_user.data = repalloc_huge(out->by_user.data, nnz * sizeof(float));
		out->by_item.indices = repalloc_huge(out->by_item.indices, nnz * sizeof(int32));
		out->by_item.data = repalloc_huge(out->by_item.data, nnz * sizeof(float));
	}

	out->users = r->users;
	out->items = r->items;
	out->rows_read = r->n + r->skipped;
	out->rows_skipped = r->skipped;
	out->min_weight = r->min_weight;
	out->max_weight = r->max_weight;
	out->build_seconds = now_seconds() - start;
	MemoryContextDelete(r->row_mcxt);
	pfree(r);
}

/*
 * RsIngestInit (from _PG_init) defines recsys.fast_read and installs the
 * ExecutorEnd hook that counts a read's workers.
 */
void
RsIngestInit(void)
{
	/* only the speed changes: both paths read the same rows (see the top) */
	DefineCustomBoolVariable("recsys.fast_read",
							 "Reads a plain table source by a direct heap scan instead of a query.",
							 "Off: every source is read by SELECT through the executor, as before 0.10.0; "
							 "views, row-level security and inheritance always are.",
							 &recsys_fast_read,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = ingest_executor_end;
}
