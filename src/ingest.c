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
#include "access/parallel.h"
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
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/bufmgr.h"
#include "storage/dsm_impl.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/shm_toc.h"
#include "tcop/dest.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/dsa.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/wait_event.h"

#include "events.h"
#include "ingest.h"
#include "recsys.h"

/*
 * Bytes per source row at the peak of ingestion, while the CSR is built:
 * the coordinates (user, item, weight) and the CSR (item, weight).  The
 * CSC later reuses the coordinates' memory.
 */
#define INGEST_COORD_BYTES_PER_ROW (3 * sizeof(int32))
#define INGEST_BYTES_PER_ROW (INGEST_COORD_BYTES_PER_ROW + 2 * sizeof(int32))
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

	/*
	 * A parallel heap read's participants share recsys.max_memory: each
	 * adds the bytes it holds (reported) to the shared total; merging is
	 * set while the leader merges the workers' rows (check_memory_budget).
	 */
	pg_atomic_uint64 *shared_bytes;
	uint64		reported_bytes;
	bool		merging;
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

	if (r->shared_bytes != NULL)
	{
		/*
		 * A participant of a parallel read: the coordinate arrays it holds
		 * and its maps, summed with the others'.  A worker that finished
		 * counts its copies in the shared area instead, until the leader
		 * has merged them (RsParallelReadMain, merge_worker).  The leader,
		 * merging, also needs a serial read's working set later (its CSR,
		 * built once every copy is freed): the larger of the two.
		 */
		uint64		mine = (Size) rows * INGEST_COORD_BYTES_PER_ROW +
			rs_idmap_bytes(r->users.capacity) + rs_idmap_bytes(r->items.capacity);
		uint64		total = pg_atomic_add_fetch_u64(r->shared_bytes, (int64) mine - (int64) r->reported_bytes);

		r->reported_bytes = mine;
		/* (the leader's CSR comes once the copies are freed: the larger) */
		need = r->merging ? Max(need, total) : total;
	}
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
source_query(const RsSourceSpec *spec, StringInfo query)
{
	initStringInfo(query);
	appendStringInfo(query, "SELECT %s, %s", quote_identifier(spec->user_col),
					 quote_identifier(spec->item_col));
	if (spec->weight_col != NULL)
		appendStringInfo(query, ", %s", quote_identifier(spec->weight_col));
	if (spec->event_col != NULL)
		appendStringInfo(query, ", (%s)::pg_catalog.text", quote_identifier(spec->event_col));
	appendStringInfo(query, " FROM %s", RsRelationName(spec->relid));
}

/* The executor path's query prepared (parsed, rewritten: every relation it reads locked). */
static SPIPlanPtr
prepare_source_query(const char *query)
{
	SPIPrepareOptions prepare;
	SPIPlanPtr	plan;

	/* one run to completion: a parallel plan is allowed (see the top) */
	memset(&prepare, 0, sizeof(prepare));
	prepare.cursorOptions = CURSOR_OPT_PARALLEL_OK;
	plan = SPI_prepare_extended(query, &prepare);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", query,
			 SPI_result_code_string(SPI_result));
	return plan;
}

/*
 * The executor path reads with the active snapshot (read_only SPI): the
 * caller's, or the training's (RsReadSource).
 */
static void
executor_read(IngestReceiver *r)
{
	const RsSourceSpec *spec = r->spec;
	StringInfoData query;
	SPIPlanPtr	plan;
	SPIExecuteOptions options;
	IngestReceiver *volatile outer_receiver;
	int			ret;

	source_query(spec, &query);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = prepare_source_query(query.data);
	memset(&options, 0, sizeof(options));
	options.read_only = true;
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
 * RsLockSource takes the locks reading spec's source takes (the relation;
 * for a view, a partitioned table or an inheritance parent the relations
 * under it too: the executor path's query is planned, which locks them,
 * and dropped), after checking that the caller may read it.  A training
 * calls it before taking the snapshot it reads with, so that a wait for a
 * transaction that rewrote the source (a TRUNCATE and a reload) ends
 * before the snapshot is taken, as a statement's snapshot follows the
 * locks its query takes.
 */
void
RsLockSource(const RsSourceSpec *spec)
{
	StringInfoData query;
	SPIPlanPtr	plan;
	CachedPlan *cplan;

	check_source(spec);
	if (get_rel_relkind(spec->relid) == RELKIND_RELATION && !has_subclass(spec->relid))
		return;
	source_query(spec, &query);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = prepare_source_query(query.data);
	cplan = SPI_plan_get_cached_plan(plan);
	if (cplan != NULL)
		ReleaseCachedPlan(cplan, NULL);
	SPI_freeplan(plan);
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

/* The attribute numbers of the columns read, in ingest_row's order. */
static void
source_attnums(const IngestReceiver *r, AttrNumber *attnums)
{
	const RsSourceSpec *spec = r->spec;
	const char *cols[4] = {spec->user_col, spec->item_col, spec->weight_col, spec->event_col};

	for (int c = 0; c < r->natts; c++)
	{
		/* the event column is the last one whatever comes before it */
		const char *col = c == r->natts - 1 && r->has_event ? spec->event_col : cols[c];

		attnums[c] = get_attnum(spec->relid, col);
	}
}

/*
 * Hand every tuple a scan returns to ingest_row (columns attnums), then
 * map the last pending ids.  The heap scan polls for interrupts once per
 * page, ingest_row every 65,536 rows.
 */
static void
scan_rows(IngestReceiver *r, Relation rel, TableScanDesc scan, const AttrNumber *attnums)
{
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	AttrNumber	last_attnum = 0;
	Datum		values[4];
	bool		nulls[4];

	for (int c = 0; c < r->natts; c++)
		last_attnum = Max(last_attnum, attnums[c]);
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
	map_pending(r);
}

/*
 * Parallel heap reads.  The table's blocks are shared out by a parallel
 * table scan (table_parallelscan_initialize, as the executor's Parallel
 * Seq Scan and CREATE INDEX's parallel btree build do); every participant,
 * the leader included, maps the ids of the rows it reads into maps of its
 * own, numbering them by first appearance there.  Each worker then copies
 * its coordinates (its own indexes) and the ids behind its indexes into a
 * dynamic shared memory area; the leader, whose maps become the read's,
 * inserts each worker's ids into its maps (a few million inserts instead
 * of one per row) and appends the worker's rows translated by index.  The
 * read's indexes are renumbered in ascending id order afterwards as on
 * every path, and duplicates are summed in ascending order of their
 * weights, so the matrices are bit-identical whatever the number of
 * workers and whichever blocks each one read.
 *
 * Workers use the leader's snapshot (serialised into the parallel scan
 * descriptor), user and security context; the privilege and row-security
 * checks are the leader's, made before any of this (only the scan is
 * parallel).  recsys.max_memory holds the sum of the participants'
 * coordinate arrays and maps while they read (a counter in shared
 * memory), then the leader's merged arrays as it holds a serial read's,
 * so a source a serial read accepts is not refused for being read in
 * parallel; the workers' shared copies, freed as they are merged, are
 * not counted.  An error in a worker (a bad weight, the
 * memory limit) is rethrown by the leader with the worker's message; a
 * cancel or an error in the leader terminates the workers.
 */
#define PARALLEL_KEY_READ_SHARED	UINT64CONST(0x5EC5EAD000000001)
#define PARALLEL_KEY_READ_SPEC		UINT64CONST(0x5EC5EAD000000002)
#define PARALLEL_KEY_READ_AREA		UINT64CONST(0x5EC5EAD000000003)

/* What a worker hands back, in the shared area. */
typedef struct ParallelReadResult
{
	bool		done;			/* set last: the rest is valid */
	int64		n;				/* coordinates */
	int64		seen;
	int64		skipped;
	float8		min_weight;
	float8		max_weight;
	int32		n_users;		/* the worker's own dense indexes' ids */
	int32		n_items;
	uint64		shared_bytes;	/* the arrays below, counted until merged */
	dsa_pointer rows;			/* int32[n], the worker's user indexes */
	dsa_pointer cols;			/* int32[n], the worker's item indexes */
	dsa_pointer vals;			/* float[n] */
	dsa_pointer user_ids;		/* int64[n_users] */
	dsa_pointer item_ids;		/* int64[n_items] */
} ParallelReadResult;

/* The read's description, then the parallel scan at pscan_offset. */
typedef struct ParallelReadShared
{
	Oid			relid;
	int			natts;
	bool		has_weight;
	bool		has_event;
	bool		skip_unknown_events;
	IngestType	user_type;
	IngestType	item_type;
	IngestType	weight_type;
	AttrNumber	attnums[4];
	int			n_event_types;
	Size		pscan_offset;
	pg_atomic_uint64 bytes;		/* recsys.max_memory used by all participants */
	ParallelReadResult results[FLEXIBLE_ARRAY_MEMBER];	/* one per worker */
} ParallelReadShared;

PGDLLEXPORT void RsParallelReadMain(dsm_segment *seg, shm_toc *toc);

/*
 * The workers a heap read of rel gets: as many as the planner would give
 * a Parallel Seq Scan of it (compute_parallel_worker: the table's
 * parallel_workers option, else one more for each tripling of its size
 * above min_parallel_table_scan_size, at most
 * max_parallel_workers_per_gather), and none where the planner would plan
 * no parallel query: inside a parallel operation, a temporary table
 * (only this backend can read its buffers), or a standalone backend.
 * max_parallel_workers and the free background worker slots limit how
 * many start.
 */
static int
parallel_read_workers(Relation rel)
{
	RelOptInfo *info;
	int			workers;

	if (max_parallel_workers_per_gather <= 0 || !IsUnderPostmaster ||
		IsInParallelMode() || IsParallelWorker() ||
		rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		return 0;
	info = makeNode(RelOptInfo);
	info->reloptkind = RELOPT_BASEREL;
	info->rel_parallel_workers = RelationGetParallelWorkers(rel, -1);
	workers = compute_parallel_worker(info, RelationGetNumberOfBlocks(rel), -1,
									  max_parallel_workers_per_gather);
	pfree(info);
	return workers;
}

/* The column names and event weights, for the workers: names \0-ended. */
static void
serialize_spec(const RsSourceSpec *spec, StringInfo buf)
{
	appendBinaryStringInfo(buf, spec->user_col, strlen(spec->user_col) + 1);
	appendBinaryStringInfo(buf, spec->item_col, strlen(spec->item_col) + 1);
	appendBinaryStringInfo(buf, spec->weight_col ? spec->weight_col : "", spec->weight_col ? strlen(spec->weight_col) + 1 : 1);
	appendBinaryStringInfo(buf, spec->event_col ? spec->event_col : "", spec->event_col ? strlen(spec->event_col) + 1 : 1);
	if (spec->event_col != NULL)
	{
		/* weights bit for bit, then the types */
		appendBinaryStringInfo(buf, (const char *) spec->events->weights,
							   spec->events->n * sizeof(float));
		for (int t = 0; t < spec->events->n; t++)
			appendBinaryStringInfo(buf, spec->events->types[t], strlen(spec->events->types[t]) + 1);
	}
}

static RsSourceSpec *
deserialize_spec(const ParallelReadShared *shared, const char *p)
{
	RsSourceSpec *spec = palloc0(sizeof(RsSourceSpec));
	const char *name[4];

	for (int c = 0; c < 4; c++)
	{
		name[c] = p;
		p += strlen(p) + 1;
	}
	spec->relid = shared->relid;
	spec->user_col = name[0];
	spec->item_col = name[1];
	spec->weight_col = shared->has_weight ? name[2] : NULL;
	spec->event_col = shared->has_event ? name[3] : NULL;
	spec->skip_unknown_events = shared->skip_unknown_events;
	if (shared->has_event)
	{
		RsEventMap *events = palloc0(sizeof(RsEventMap));

		events->n = shared->n_event_types;
		events->weights = palloc(Max(events->n, 1) * sizeof(float));
		memcpy(events->weights, p, events->n * sizeof(float));
		p += events->n * sizeof(float);
		events->types = palloc(Max(events->n, 1) * sizeof(char *));
		for (int t = 0; t < events->n; t++)
		{
			events->types[t] = (char *) p;
			p += strlen(p) + 1;
		}
		spec->events = events;
	}
	return spec;
}

/* A copy of bytes of data in the shared area. */
static dsa_pointer
share_array(dsa_area *area, const void *data, Size bytes)
{
	dsa_pointer p = dsa_allocate_extended(area, Max(bytes, 1), DSA_ALLOC_HUGE);

	memcpy(dsa_get_address(area, p), data, bytes);
	return p;
}

static IngestReceiver *new_receiver(const RsSourceSpec *spec, MemoryContext mcxt);

/*
 * A worker of a parallel heap read: read the blocks the parallel scan
 * gives it into a receiver of its own, then leave its coordinates and
 * ids in the shared area for the leader (each local array freed once
 * copied: at most a third more than the coordinates at once).
 */
void
RsParallelReadMain(dsm_segment *seg, shm_toc *toc)
{
	ParallelReadShared *shared = shm_toc_lookup(toc, PARALLEL_KEY_READ_SHARED, false);
	const char *spec_data = shm_toc_lookup(toc, PARALLEL_KEY_READ_SPEC, false);
	dsa_area   *area = dsa_attach_in_place(shm_toc_lookup(toc, PARALLEL_KEY_READ_AREA, false), seg);
	ParallelReadResult *result = &shared->results[ParallelWorkerNumber];
	IngestReceiver *r = new_receiver(deserialize_spec(shared, spec_data), CurrentMemoryContext);
	Relation	rel;
	TableScanDesc scan;

	r->user_type = shared->user_type;
	r->item_type = shared->item_type;
	r->weight_type = shared->weight_type;
	r->shared_bytes = &shared->bytes;

	/* the leader holds this lock; the lock group shares it */
	rel = table_open(shared->relid, AccessShareLock);
	scan = table_beginscan_parallel(rel, (ParallelTableScanDesc) ((char *) shared + shared->pscan_offset));
	scan_rows(r, rel, scan, shared->attnums);
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	result->n = r->n;
	result->seen = r->seen;
	result->skipped = r->skipped;
	result->min_weight = r->min_weight;
	result->max_weight = r->max_weight;
	result->n_users = r->users.count;
	result->n_items = r->items.count;
	result->rows = share_array(area, r->rows, (Size) r->n * sizeof(int32));
	pfree(r->rows);
	result->cols = share_array(area, r->cols, (Size) r->n * sizeof(int32));
	pfree(r->cols);
	result->vals = share_array(area, r->vals, (Size) r->n * sizeof(float));
	pfree(r->vals);
	result->user_ids = share_array(area, r->users.ids, (Size) r->users.count * sizeof(int64));
	result->item_ids = share_array(area, r->items.ids, (Size) r->items.count * sizeof(int64));
	/* the maps' buffers (ids copied) */
	pfree(r->users.slot_keys);
	pfree(r->items.slot_keys);

	/*
	 * From here this worker holds its shared copies only, until the leader
	 * has merged them: recsys.max_memory counts them instead of what it
	 * reported while reading (each array was freed once copied, so at most
	 * one array more than reported was held in between).
	 */
	result->shared_bytes = (uint64) r->n * INGEST_COORD_BYTES_PER_ROW +
		(uint64) (r->users.count + r->items.count) * sizeof(int64);
	pg_atomic_add_fetch_u64(r->shared_bytes, (int64) result->shared_bytes - (int64) r->reported_bytes);
	pg_write_barrier();
	result->done = true;
	dsa_detach(area);
}

/*
 * Add a worker's rows to the leader's: its ids into the leader's maps
 * (giving the leader's index of each of the worker's), then its
 * coordinates translated by index; then its shared arrays are freed.
 */
static void
merge_worker(IngestReceiver *r, dsa_area *area, ParallelReadResult *w)
{
	int32	   *user_index = alloc_huge(r->mcxt, (Size) Max(w->n_users, 1) * sizeof(int32));
	int32	   *item_index = alloc_huge(r->mcxt, (Size) Max(w->n_items, 1) * sizeof(int32));
	const int32 *rows = dsa_get_address(area, w->rows);
	const int32 *cols = dsa_get_address(area, w->cols);

	map_ids(r, &r->users, dsa_get_address(area, w->user_ids), user_index, w->n_users, "users");
	map_ids(r, &r->items, dsa_get_address(area, w->item_ids), item_index, w->n_items, "items");
	while (r->capacity < r->n + w->n)
		grow_coordinates(r);
	/* on recsys.threads; a thread not created leaves the same result */
	(void) rs_index_remap(rows, user_index, r->rows + r->n, w->n, recsys_threads);
	CHECK_FOR_INTERRUPTS();
	(void) rs_index_remap(cols, item_index, r->cols + r->n, w->n, recsys_threads);
	memcpy(r->vals + r->n, dsa_get_address(area, w->vals), (Size) w->n * sizeof(float));
	r->n += w->n;
	r->seen += w->seen;
	r->skipped += w->skipped;
	r->min_weight = Min(r->min_weight, w->min_weight);
	r->max_weight = Max(r->max_weight, w->max_weight);

	dsa_free(area, w->rows);
	dsa_free(area, w->cols);
	dsa_free(area, w->vals);
	dsa_free(area, w->user_ids);
	dsa_free(area, w->item_ids);
	pg_atomic_sub_fetch_u64(r->shared_bytes, w->shared_bytes);
	pfree(user_index);
	pfree(item_index);
}

/*
 * Merge each worker's rows as soon as it has left them (its done flag),
 * while the others still read, so that the leader's merging overlaps
 * their reading instead of following it.  Polls for cancel and for the
 * workers' messages (a worker's error is rethrown here) between looks; a
 * worker that stopped without leaving its rows sends the leader to
 * WaitForParallelWorkersToFinish, which reports why, or to an error.
 */
static void
merge_finished_workers(IngestReceiver *r, ParallelContext *pcxt, dsa_area *area,
					   ParallelReadShared *shared)
{
	bool	   *merged = palloc0(Max(pcxt->nworkers_launched, 1) * sizeof(bool));
	int			left = pcxt->nworkers_launched;

	while (left > 0)
	{
		bool		progress = false;

		for (int w = 0; w < pcxt->nworkers_launched; w++)
		{
			pid_t		pid;
			bool		stopped;

			if (merged[w])
				continue;
			stopped = GetBackgroundWorkerPid(pcxt->worker[w].bgwhandle, &pid) == BGWH_STOPPED;
			pg_read_barrier();
			if (shared->results[w].done)
			{
				merge_worker(r, area, &shared->results[w]);
				merged[w] = true;
				left--;
				progress = true;
			}
			else if (stopped)
			{
				WaitForParallelWorkersToFinish(pcxt);
				elog(ERROR, "parallel worker %d of the read of \"%s\" ended without its rows",
					 w, get_rel_name(r->spec->relid));
			}
		}
		if (!progress && left > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
							 PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		CHECK_FOR_INTERRUPTS();
	}
	pfree(merged);
}

/*
 * The leader of a parallel heap read (see above): launch the workers,
 * read blocks alongside them (unless parallel_leader_participation is off
 * and a worker started), merge their rows as they finish.
 */
static void
parallel_heap_read(IngestReceiver *r, Relation rel, Snapshot snapshot,
				   const AttrNumber *attnums, int nworkers)
{
	const RsSourceSpec *spec = r->spec;
	StringInfoData spec_data;
	ParallelContext *pcxt;
	ParallelReadShared *shared;
	Size		pscan_offset;
	Size		shared_size;
	Size		area_size = dsa_minimum_size();
	char	   *spec_space;
	void	   *area_space;
	dsa_area   *area;
	TableScanDesc scan;
	double		started,
				scanned,
				waited;
	int64		leader_rows;

	initStringInfo(&spec_data);
	serialize_spec(spec, &spec_data);

	EnterParallelMode();
	pcxt = CreateParallelContext("recsys", "RsParallelReadMain", nworkers);
	pscan_offset = BUFFERALIGN(offsetof(ParallelReadShared, results) +
							   nworkers * sizeof(ParallelReadResult));
	shared_size = add_size(pscan_offset, table_parallelscan_estimate(rel, snapshot));
	shm_toc_estimate_chunk(&pcxt->estimator, shared_size);
	shm_toc_estimate_chunk(&pcxt->estimator, spec_data.len);
	shm_toc_estimate_chunk(&pcxt->estimator, area_size);
	shm_toc_estimate_keys(&pcxt->estimator, 3);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		/* no dynamic shared memory segment to be had: read alone */
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		scan = table_beginscan(rel, snapshot, 0, NULL);
		scan_rows(r, rel, scan, attnums);
		table_endscan(scan);
		return;
	}

	shared = shm_toc_allocate(pcxt->toc, shared_size);
	memset(shared, 0, pscan_offset);
	shared->relid = spec->relid;
	shared->natts = r->natts;
	shared->has_weight = r->has_weight;
	shared->has_event = r->has_event;
	shared->skip_unknown_events = spec->skip_unknown_events;
	shared->user_type = r->user_type;
	shared->item_type = r->item_type;
	shared->weight_type = r->weight_type;
	memcpy(shared->attnums, attnums, sizeof(shared->attnums));
	shared->n_event_types = r->has_event ? spec->events->n : 0;
	shared->pscan_offset = pscan_offset;
	pg_atomic_init_u64(&shared->bytes, 0);
	table_parallelscan_initialize(rel, (ParallelTableScanDesc) ((char *) shared + pscan_offset),
								  snapshot);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_READ_SHARED, shared);
	spec_space = shm_toc_allocate(pcxt->toc, spec_data.len);
	memcpy(spec_space, spec_data.data, spec_data.len);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_READ_SPEC, spec_space);
	area_space = shm_toc_allocate(pcxt->toc, area_size);
	area = dsa_create_in_place(area_space, area_size, LWTRANCHE_PARALLEL_QUERY_DSA, pcxt->seg);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_READ_AREA, area_space);

	r->shared_bytes = &shared->bytes;
	LaunchParallelWorkers(pcxt);
	r->workers_launched = pcxt->nworkers_launched;

	started = now_seconds();
	if (parallel_leader_participation || pcxt->nworkers_launched == 0)
	{
		scan = table_beginscan_parallel(rel, (ParallelTableScanDesc) ((char *) shared + pscan_offset));
		scan_rows(r, rel, scan, attnums);
		table_endscan(scan);
	}
	scanned = now_seconds();
	leader_rows = r->n;

	/*
	 * From here the leader's arrays grow to hold every row: counted with
	 * the workers' shared copies not merged yet and the workers still
	 * reading, or as a serial read's (coordinates, CSR and maps) if that
	 * is more (before s9-fix the copies, up to 12 bytes a row, were left
	 * out: only the latter was counted).
	 */
	r->merging = true;
	check_memory_budget(r, r->capacity);
	merge_finished_workers(r, pcxt, area, shared);
	r->shared_bytes = NULL;
	r->merging = false;
	waited = now_seconds();
	/* rethrows a message a worker sent; they have all finished */
	WaitForParallelWorkersToFinish(pcxt);
	elog(DEBUG1, "parallel read of \"%s\" with %d workers: leader read %lld rows in %.3f s, then merged %lld rows as the workers finished in %.3f s",
		 get_rel_name(spec->relid), pcxt->nworkers_launched, (long long) leader_rows,
		 scanned - started, (long long) (r->n - leader_rows), waited - scanned);
	dsa_detach(area);
	DestroyParallelContext(pcxt);
	ExitParallelMode();
	pfree(spec_data.data);
}

/*
 * The heap path: a sequential scan of the table through the table access
 * method, handing each tuple's columns straight to ingest_row, with no
 * executor node, projection or receiver call per row; with workers
 * (parallel_heap_read) when the planner would give a scan of the table
 * some.  The snapshot is the active one, as read_only SPI would use it:
 * the caller's (serving, STABLE functions) or the training's
 * (RsReadSource).  Workers use the same snapshot.
 */
static void
heap_read(IngestReceiver *r)
{
	Relation	rel = table_open(r->spec->relid, AccessShareLock);
	AttrNumber	attnums[4] = {0};
	Snapshot	snapshot;
	int			nworkers;

	source_attnums(r, attnums);
	snapshot = RegisterSnapshot(GetActiveSnapshot());

	nworkers = parallel_read_workers(rel);
	r->workers_planned = nworkers;
	if (nworkers > 0)
		parallel_heap_read(r, rel, snapshot, attnums, nworkers);
	else
	{
		TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);

		scan_rows(r, rel, scan, attnums);
		table_endscan(scan);
	}

	UnregisterSnapshot(snapshot);
	/* the lock is kept to the end of the transaction, as the executor does */
	table_close(rel, NoLock);
}

/* Renumber one side's indexes in ascending id order. */
static void
sort_ids(MemoryContext mcxt, RsIdMap *map, int32 *indexes, int64 n)
{
	int32	   *new_index = alloc_huge(mcxt, (Size) map->count * sizeof(int32));

	rs_idmap_sort(map, new_index);
	(void) rs_index_remap(indexes, new_index, indexes, n, recsys_threads);
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
 * A receiver for spec's rows with empty buffers in mcxt; the caller sets
 * the column types.
 */
static IngestReceiver *
new_receiver(const RsSourceSpec *spec, MemoryContext mcxt)
{
	IngestReceiver *r = MemoryContextAllocZero(mcxt, sizeof(IngestReceiver));

	r->pub.receiveSlot = ingest_receive;
	r->pub.rStartup = ingest_startup;
	r->pub.rShutdown = ingest_shutdown;
	r->pub.rDestroy = ingest_destroy;
	r->pub.mydest = DestNone;
	r->spec = spec;
	r->mcxt = mcxt;
	r->row_mcxt = AllocSetContextCreate(mcxt, "recsys ingest row", ALLOCSET_SMALL_SIZES);
	r->has_weight = spec->weight_col != NULL;
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
	return r;
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

	r = new_receiver(spec, mcxt);
	r->user_type = check_column(spec->relid, spec->user_col, "user_col", false);
	r->item_type = check_column(spec->relid, spec->item_col, "item_col", false);
	if (r->has_weight)
		r->weight_type = check_column(spec->relid, spec->weight_col, "weight_col", true);

	/*
	 * A training (read_only false) reads with the snapshot it reads
	 * everything else with (RsTrainBegin: taken once it held the training
	 * lock and the source's locks, RsLockSource), advanced to this command
	 * so that its transaction's earlier writes are seen: one snapshot for
	 * the source and what is read of it later (BPR's pair times, FM's
	 * events; before, the source read took a new one, in which rows
	 * committed meanwhile had no times).
	 */
	if (!read_only)
	{
		CommandCounterIncrement();
		if (ActiveSnapshotSet())
			PushCopiedSnapshot(GetActiveSnapshot());
		else
			PushActiveSnapshot(GetTransactionSnapshot());
		UpdateActiveSnapshotCommandId();
	}
	if (heap_read_possible(spec))
	{
		heap_read(r);
		out->read_path = "heap";
	}
	else
	{
		executor_read(r);
		out->read_path = "executor";
	}
	if (!read_only)
	{
		PopActiveSnapshot();
		CommandCounterIncrement();
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
	/* on recsys.threads; a thread not created leaves the same result */
	(void) rs_csr_transpose_threads(&out->by_user, &out->by_item, recsys_threads);

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
