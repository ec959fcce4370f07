/*-------------------------------------------------------------------------
 *
 * model_store.c
 *		Writing trained models into the recsys catalog and artefact tables.
 *
 * A training run writes, inside the caller's transaction:
 *	1. the recsys.models row, if the model is new (the versions' parent);
 *	2. a new recsys.model_versions row, numbered after the newest one;
 *	3. the artefacts of that version (factors, neighbours, item stats);
 *	4. the switch: recsys.models points at the new version, and older
 *	   versions are deleted (their artefacts go by ON DELETE CASCADE).
 * Readers see the previous model until the caller commits; an error or a
 * cancel anywhere rolls all of it back, so the previous model stays.
 *
 * Artefact rows (factors, item stats, neighbour lists) go through
 * write_rows: the first by an INSERT (privileges, row-level security, the
 * foreign key's check and lock), the rest appended as whole pages
 * (heap_append.c) or by heap multi-insert, with their index entries
 * (bulk_write), unless recsys.bulk_write is off or a DBA gave
 * the table a trigger; then in batches, each one INSERT ... SELECT over
 * unnest() of array parameters.
 *
 * All statements run through SPI with values as parameters; the only
 * names spliced into SQL are recsys's own tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>
#include <time.h>

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "rewrite/rowsecurity.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/rel.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "array_util.h"
#include "heap_append.h"
#include "ingest.h"
#include "model_acl.h"
#include "model_store.h"
#include "recsys.h"
#include "spi_util.h"

#define BATCH_ROWS 8192
#define BATCH_PAIRS 262144		/* neighbour pairs per INSERT */
#define BULK_SLOTS 1000			/* rows per heap multi-insert */

/* Seed of the hash that keys a model's training lock ("recs"). */
#define RECSYS_LOCK_CLASS 0x72656373
/* The training lock's advisory-lock space ("rs"): not 1 or 2, SQL's */
#define RECSYS_LOCK_SPACE 0x7273

/*
 * RsCheckModelName refuses names the catalog cannot hold, with a message
 * that says why.
 */
void
RsCheckModelName(const char *name)
{
	size_t		bytes = strlen(name);

	/* the catalog's limit (a name) is in bytes: 'é' takes two */
	if (bytes == 0 || bytes > RECSYS_MAX_MODEL_NAME)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must be 1 to %d bytes long, not %zu", RECSYS_MAX_MODEL_NAME, bytes),
				 bytes > (size_t) pg_mbstrlen(name) ?
				 errhint("Characters outside ASCII take 2 to 4 bytes each.") : 0));
}

/*
 * RsLockModelForTraining makes sure only one session trains a given model
 * at a time.  A second one waits a bounded time for the first to commit
 * (lock_timeout if set, else TRAIN_LOCK_DEFAULT_WAIT_MS: a retrain and a
 * refresh_items job scheduled on one model meet), then gets a clear error
 * (55P03) naming the model rather than queueing without end.  It waits in
 * the lock manager, like any lock: the deadlock detector sees it (two
 * transactions training two models in opposite orders: one gets 40P01
 * after deadlock_timeout), waiters are served in the order they came,
 * pg_locks shows them (granted false) and a cancel ends the wait at once.
 * The bound is lock_timeout itself, set to the default for the wait only
 * when it is 0; the lock manager's "canceling statement due to lock
 * timeout" is raised again naming the model.  The lock is held to the end
 * of the transaction.  Returns whether the caller had to wait: then
 * another training may have committed meanwhile, and what the statement's
 * snapshot shows of the model and its source is out of date
 * (RsTrainBegin).  Then it checks that the caller may train into the
 * name: a model another role owns is refused (42501), before any work is
 * done.
 *
 * The lock is an advisory-lock tag whose last field is RECSYS_LOCK_SPACE,
 * which the pg_advisory_* functions never use (theirs is 1 or 2): no SQL
 * can take it, so no role can keep another from training by holding it.
 * It is keyed on a 64-bit hash of the name in this database; two names
 * colliding is practically impossible.  pg_locks shows it as an advisory
 * lock with objsubid RECSYS_LOCK_SPACE.
 */
#define TRAIN_LOCK_DEFAULT_WAIT_MS 10000

/*
 * A message raised during the wait (a deadlock's 40P01, a cancel) says
 * which model's lock it was: the lock manager names only the advisory
 * tag's numbers.
 */
static void
training_lock_context(void *arg)
{
	errcontext("waiting for the training lock of model \"%s\"", (const char *) arg);
}

/* Wait for the lock in the lock manager, at most wait_ms (as lock_timeout). */
static void
wait_for_training_lock(const LOCKTAG *tag, const char *name, int wait_ms)
{
	int			saved_timeout = LockTimeout;
	MemoryContext context = CurrentMemoryContext;
	ErrorContextCallback callback = {error_context_stack, training_lock_context, (void *) name};

	PG_TRY();
	{
		LockTimeout = wait_ms;
		error_context_stack = &callback;
		(void) LockAcquire(tag, ExclusiveLock, false, false);
		error_context_stack = callback.previous;
	}
	PG_CATCH();
	{
		ErrorData  *error;

		error_context_stack = callback.previous;
		LockTimeout = saved_timeout;
		MemoryContextSwitchTo(context);
		error = CopyErrorData();
		/* lock_timeout ran out (a cancel, statement_timeout or deadlock goes on as it is) */
		if (error->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
		{
			FreeErrorData(error);
			PG_RE_THROW();
		}
		/* the lock manager left the wait queue before raising it (LockErrorCleanup) */
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("model \"%s\" is being trained by another session", name),
				 errdetail("Waited %d ms for it to finish (lock_timeout, or %d ms when that is 0).",
						   wait_ms, TRAIN_LOCK_DEFAULT_WAIT_MS),
				 errhint("Wait for that training to finish, raise lock_timeout to wait longer, "
						 "or train under another model name.")));
	}
	PG_END_TRY();
	LockTimeout = saved_timeout;
}

/*
 * RsRequireWritable refuses (25006, as PostgreSQL refuses a write command)
 * to start work that ends in a write when the transaction is read-only or
 * the server a hot standby: otherwise a training reads and fits everything
 * and fails only at its first INSERT (review s8, fixr2 4).  function names
 * the SQL function in the message, e.g. "recsys.train_cf()".
 */
void
RsRequireWritable(const char *function)
{
	PreventCommandDuringRecovery(function);
	PreventCommandIfReadOnly(function);
}

/*
 * recsys._require_writable(function text): RsRequireWritable for the
 * PL/pgSQL writers that do work before their first write (train_auto, tune).
 */
PG_FUNCTION_INFO_V1(recsys_require_writable);
Datum
recsys_require_writable(PG_FUNCTION_ARGS)
{
	RsRequireWritable(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/*
 * RsRequireTrainPrivileges refuses (42501) to start a training the role
 * could not store: without the table privileges doc/operations.md grants
 * (recsys_trainer), a training read and fitted everything and failed only
 * when writing the model (review s11, F2).  The tables every training
 * writes are checked; function names the SQL function in the detail.
 * A kind's own artefact tables (item_factors, user_factors, the
 * neighbour and term lists, model_parameters ...) are not: no list of
 * them per kind exists to check against (each kind's store writes its
 * own), and requiring all of them would refuse roles granted just the
 * ones their kinds write.  A role lacking one still fails when the
 * model is stored (review s11, R10; documented).
 */
void
RsRequireTrainPrivileges(const char *function)
{
	static const struct
	{
		const char *table;
		AclMode		mode;
		const char *privilege;
	}			needed[] = {
		{"models", ACL_INSERT, "INSERT"}, {"models", ACL_UPDATE, "UPDATE"}, {"models", ACL_SELECT, "SELECT"},
		{"model_versions", ACL_INSERT, "INSERT"}, {"model_versions", ACL_UPDATE, "UPDATE"},
		{"model_versions", ACL_DELETE, "DELETE"}, {"item_stats", ACL_INSERT, "INSERT"},
	};
	Oid			schema = get_namespace_oid("recsys", false);

	for (int i = 0; i < lengthof(needed); i++)
	{
		Oid			relid = get_relname_relid(needed[i].table, schema);

		if (OidIsValid(relid) && pg_class_aclcheck(relid, GetUserId(), needed[i].mode) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for table recsys.%s: %s needs %s on it to store the model",
							needed[i].table, function, needed[i].privilege),
					 errdetail("Checked before reading the source, for the tables every training writes: training would otherwise run to its end and fail there."),
					 errhint("A DBA grants the recsys tables to a training role as doc/operations.md shows: "
							 "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA recsys TO %s;",
							 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
	}
}

/*
 * recsys._require_train_privileges(function text): RsRequireTrainPrivileges
 * for the PL/pgSQL trainers that search before they store (train_auto, tune).
 */
PG_FUNCTION_INFO_V1(recsys_require_train_privileges);
Datum
recsys_require_train_privileges(PG_FUNCTION_ARGS)
{
	RsRequireTrainPrivileges(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/* Take a name's training lock into *tag, waiting as RsLockModelForTraining says. */
static bool
take_training_lock(const char *name, LOCKTAG *tag)
{
	uint64		key;
	bool		waited = false;

	RsCheckModelName(name);
	key = hash_bytes_extended((const unsigned char *) name, strlen(name), RECSYS_LOCK_CLASS);
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (key >> 32), (uint32) key, RECSYS_LOCK_SPACE);
	/* (a free lock with others queued for it is not available: they come first) */
	if (LockAcquire(tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
	{
		wait_for_training_lock(tag, name, LockTimeout > 0 ? LockTimeout : TRAIN_LOCK_DEFAULT_WAIT_MS);
		waited = true;
	}
	return waited;
}

bool
RsLockModelForTraining(const char *name)
{
	LOCKTAG		tag;
	bool		waited = take_training_lock(name, &tag);

	(void) RsRequireModelOwner(name, "train", true);
	return waited;
}

/*
 * recsys._lock_model_for_training(model text): drop_model takes the
 * training lock of the name, so that it waits for a training of the same
 * name in progress (bounded as a second training waits) and then drops
 * what that training committed, rather than dropping the old row at once
 * and letting the training recreate the model as version 1, its grants
 * gone (review s10, 11).  A name no model can have locks nothing: it
 * cannot be trained.  Nor does a name no model has yet (review s12, V5):
 * the function is PUBLIC's, and RsLockModelForTraining checks the owner
 * only once it holds the lock, so any role could hold the lock of a name
 * about to be trained for the first time (a drop and retrain, train_auto's
 * members and trial blends) for as long as it kept a transaction open, and
 * every training of that name by its owner failed after lock_timeout.
 * For a name without a model, the lock is now only waited for (a first
 * training in progress commits: the drop then drops what it committed,
 * as review s10, 11 wants) and released at once; it is kept only once a
 * model of the name exists, and then the owner check after the lock
 * refuses another role's, the error's rollback releasing the lock.
 */
PG_FUNCTION_INFO_V1(recsys_lock_model_for_training);
Datum
recsys_lock_model_for_training(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	size_t		bytes = strlen(name);
	bool		exists;

	if (bytes == 0 || bytes > RECSYS_MAX_MODEL_NAME)
		PG_RETURN_VOID();
	(void) RsModelOwner(name, &exists);
	if (!exists)
	{
		LOCKTAG		tag;

		(void) take_training_lock(name, &tag);
		LockRelease(&tag, ExclusiveLock, false);
		/* (the latest committed rows: RsModelOwner reads with a new snapshot) */
		(void) RsModelOwner(name, &exists);
		if (!exists)
			PG_RETURN_VOID();
	}
	(void) RsLockModelForTraining(name);
	PG_RETURN_VOID();
}

/* The descriptive columns shared by recsys.models and recsys.model_versions. */
static void
desc_values(const RsModelDesc *desc, Oid *argtypes, Datum *values)
{
	argtypes[0] = TEXTOID;
	values[0] = CStringGetTextDatum(desc->name);
	argtypes[1] = TEXTOID;
	values[1] = CStringGetTextDatum(desc->algorithm);
	argtypes[2] = TEXTOID;
	values[2] = CStringGetTextDatum(RsRelationName(desc->source));
	argtypes[3] = TEXTOID;
	values[3] = CStringGetTextDatum(desc->params->data);
	argtypes[4] = TEXTOID;
	values[4] = CStringGetTextDatum(desc->stats->data);
	argtypes[5] = INT8OID;
	values[5] = Int64GetDatum(desc->n_users);
	argtypes[6] = INT8OID;
	values[6] = Int64GetDatum(desc->n_items);
	argtypes[7] = INT8OID;
	values[7] = Int64GetDatum(desc->n_interactions);
}

/*
 * RsCreateModelVersion adds a version row for a training run (and the
 * model's row if the model is new) and returns its number.
 */
int32
RsCreateModelVersion(const RsModelDesc *desc)
{
	Oid			argtypes[10];
	Datum		values[10];
	bool		isnull;
	int32		version;

	desc_values(desc, argtypes, values);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	RsExecute("SELECT coalesce(max(version), 0) FROM recsys.model_versions "
			  "WHERE model OPERATOR(pg_catalog.=) $1",
			  1, argtypes, values, NULL, false, SPI_OK_SELECT);
	version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	/* versions are integers: the last one cannot be followed */
	if (version == PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model \"%s\" has reached the largest version number, %d", desc->name, PG_INT32_MAX),
				 errdetail("A new version is numbered one more than the model's highest, which is an integer."),
				 errhint("Train it under another name, or drop it with recsys.drop_model and train it anew (versions restart at 1).")));
	version++;

	argtypes[8] = INT4OID;
	values[8] = Int32GetDatum(version);
	/* a new model belongs to the role that trains it */
	argtypes[9] = OIDOID;
	values[9] = ObjectIdGetDatum(GetUserId());
	RsExecute("INSERT INTO recsys.models (name, algorithm, source, params, stats, "
			  "n_users, n_items, n_interactions, version, owner) "
			  "VALUES ($1, $2, $3, $4::pg_catalog.jsonb, $5::pg_catalog.jsonb, $6, $7, $8, $9, "
			  "$10::pg_catalog.regrole) "
			  "ON CONFLICT (name) DO NOTHING",
			  10, argtypes, values, NULL, false, SPI_OK_INSERT);
	RsExecute("INSERT INTO recsys.model_versions (model, algorithm, source, params, stats, "
			  "n_users, n_items, n_interactions, version) "
			  "VALUES ($1, $2, $3, $4::pg_catalog.jsonb, $5::pg_catalog.jsonb, $6, $7, $8, $9)",
			  9, argtypes, values, NULL, false, SPI_OK_INSERT);
	SPI_finish();
	return version;
}

/*
 * A bulk-written table's rows: (model text, version integer, id bigint)
 * and the columns fill sets for row i (values[3 ..)).
 */
typedef void (*BulkFill) (void *arg, int64 i, Datum *values);

/*
 * Whether rel has row-level security on and a policy an INSERT checks
 * that is not recsys's own: a DBA's.  recsys's (model_owners, FOR ALL)
 * tests the model column only, so the check of row 0's INSERT holds for
 * every row of the version (bulk_write); a DBA's may test any column (a
 * restrictive WITH CHECK on user_id), so such a table's rows go in by
 * INSERT, which checks each.  Policies are not extension members, so
 * recsys's is told by its name and by what its check reads: the model
 * column and no correlated subquery (a DBA who rewrote it to read another
 * column is caught; SELECT-only policies are not checked by an INSERT).
 */
static bool
dba_policy(Relation rel)
{
	ListCell   *lc;

	if (!rel->rd_rel->relrowsecurity || rel->rd_rsdesc == NULL)
		return false;
	foreach(lc, rel->rd_rsdesc->policies)
	{
		RowSecurityPolicy *policy = lfirst(lc);
		Expr	   *check = policy->with_check_qual ? policy->with_check_qual : policy->qual;
		Bitmapset  *columns = NULL;

		if (policy->polcmd != ACL_INSERT_CHR && policy->polcmd != '*')
			continue;
		if (strcmp(policy->policy_name, "model_owners") != 0)
			return true;
		pull_varattnos((Node *) check, 1, &columns);
		if (bms_num_members(columns) != 1 ||
			!bms_is_member(1 - FirstLowInvalidHeapAttributeNumber, columns) ||
			contain_vars_of_level((Node *) check, 1))
			return true;
	}
	return false;
}

/*
 * Whether rows of the recsys table rel can be written in bulk (bulk_write):
 * a plain table whose columns are exactly of the types given (natts of
 * them) and whose only triggers are its foreign key's checks.  Its CHECK
 * constraints (the neighbour lists' equal lengths, or a DBA's own) are
 * checked on every row (ExecConstraints), as an INSERT does.  A table
 * with a DBA's trigger takes the SPI path, which fires everything; so
 * does one with a DBA's row-level security policy (dba_policy).
 */
static bool
bulk_writable(Relation rel, const Oid *types, int natts)
{
	TupleDesc	desc = RelationGetDescr(rel);

	if (rel->rd_rel->relkind != RELKIND_RELATION || desc->natts != natts)
		return false;
	for (int a = 0; a < natts; a++)
		if (TupleDescAttr(desc, a)->attisdropped || TupleDescAttr(desc, a)->atttypid != types[a] ||
			TupleDescAttr(desc, a)->attgenerated)
			return false;
	if (rel->trigdesc)
		for (int t = 0; t < rel->trigdesc->numtriggers; t++)
			if (RI_FKey_trigger_type(rel->trigdesc->triggers[t].tgfoid) == RI_TRIGGER_NONE)
				return false;
	return !dba_policy(rel);
}

/* What bulk_write's two ways of inserting share. */
typedef struct BulkTarget
{
	Relation	rel;
	ResultRelInfo *rri;
	EState	   *estate;
	CommandId	cid;
	bool		check;			/* the table has CHECK constraints */
	int			natts;
	Datum		model;
	int32		version;
	const int64 *ids;
	BulkFill	fill;
	void	   *arg;
	MemoryContext batch_context;	/* reset after every batch */
} BulkTarget;

/*
 * Row i's values into values/isnull (in the current memory context), its
 * CHECK constraints evaluated on slot, which holds the row on return.
 */
static void
bulk_row(BulkTarget *t, int64 i, TupleTableSlot *slot)
{
	ExecClearTuple(slot);
	slot->tts_values[0] = t->model;
	slot->tts_values[1] = Int32GetDatum(t->version);
	slot->tts_values[2] = Int64GetDatum(t->ids[i]);
	t->fill(t->arg, i, slot->tts_values);
	memset(slot->tts_isnull, 0, sizeof(bool) * t->natts);
	ExecStoreVirtualTuple(slot);
	/* (NOT NULL holds: no value is null) */
	if (t->check)
		ExecConstraints(t->rri, slot, t->estate);
}

/* A row's index entries, as the executor inserts them. */
static void
bulk_index_row(BulkTarget *t, TupleTableSlot *slot)
{
	list_free(ExecInsertIndexTuples(t->rri, slot, t->estate, false, false, NULL, NIL));
}

/*
 * Rows [1, n) by heap multi-insert through shared buffers, batch_rows (at
 * most BULK_SLOTS) at a time, each batch's index entries after it.
 */
static void
multi_insert_rows(BulkTarget *t, int64 n, int batch_rows)
{
	TupleTableSlot *slots[BULK_SLOTS];
	BulkInsertState bistate = GetBulkInsertState();

	for (int s = 0; s < BULK_SLOTS; s++)
		slots[s] = table_slot_create(t->rel, NULL);
	batch_rows = Max(1, Min(BULK_SLOTS, batch_rows));
	for (int64 start = 1; start < n; start += batch_rows)
	{
		int			rows = (int) Min(batch_rows, n - start);
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(t->batch_context);
		for (int r = 0; r < rows; r++)
			bulk_row(t, start + r, slots[r]);
		MemoryContextSwitchTo(old);
		table_multi_insert(t->rel, slots, rows, t->cid, 0, bistate);
		for (int r = 0; r < rows; r++)
			bulk_index_row(t, slots[r]);
		ResetPerTupleExprContext(t->estate);
		MemoryContextReset(t->batch_context);
	}
	for (int s = 0; s < BULK_SLOTS; s++)
		ExecDropSingleTupleTableSlot(slots[s]);
	FreeBulkInsertState(bistate);
}

/* heap_append's report of a tuple written: its index entries. */
typedef struct AppendPlaced
{
	BulkTarget *target;
	TupleTableSlot *slot;		/* a heap tuple slot */
} AppendPlaced;

static void
append_placed(void *arg, HeapTuple tuple)
{
	AppendPlaced *p = arg;

	ExecStoreHeapTuple(tuple, p->slot, false);
	bulk_index_row(p->target, p->slot);
	ResetPerTupleExprContext(p->target->estate);
}

/*
 * Rows [1, n) appended as whole pages (heap_append.c), their index
 * entries inserted as each group of pages is written; a row TOAST would
 * change goes in by heap_insert instead, indexed at once, while the
 * pages filled before it wait for their group to be written: writing
 * them first made lists alternating long and short flush (a WAL fsync,
 * a partly filled page left out of the free space map) at every long
 * one.  Index entries need no heap order, and until commit no other
 * session sees either row.
 */
static void
append_rows(BulkTarget *t, int64 n, int batch_rows)
{
	TupleDesc	desc = RelationGetDescr(t->rel);
	TupleTableSlot *values = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	AppendPlaced placed = {t, MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple)};
	RsHeapAppend *ha = RsHeapAppendBegin(t->rel, t->cid, append_placed, &placed);

	batch_rows = Max(1, batch_rows);
	for (int64 start = 1; start < n; start += batch_rows)
	{
		int			rows = (int) Min(batch_rows, n - start);

		CHECK_FOR_INTERRUPTS();
		for (int r = 0; r < rows; r++)
		{
			MemoryContext old = MemoryContextSwitchTo(t->batch_context);
			HeapTuple	tuple;

			bulk_row(t, start + r, values);
			tuple = heap_form_tuple(desc, values->tts_values, values->tts_isnull);
			MemoryContextSwitchTo(old);
			if (RsHeapAppendFits(tuple))
				RsHeapAppendTuple(ha, tuple);
			else
			{
				ExecStoreHeapTuple(tuple, placed.slot, false);
				table_tuple_insert(t->rel, placed.slot, t->cid, 0, NULL);
				bulk_index_row(t, placed.slot);
				ResetPerTupleExprContext(t->estate);
			}
		}
		/* the tuples were copied into the pages */
		MemoryContextReset(t->batch_context);
	}
	RsHeapAppendEnd(ha);
	ExecDropSingleTupleTableSlot(values);
	ExecDropSingleTupleTableSlot(placed.slot);
}

/*
 * Rows [1, n) of a model version's artefact table in bulk, each row's
 * index entries inserted as the executor does (ExecInsertIndexTuples): no
 * SQL per row or batch.  Appended as whole pages where heap_append.c can
 * (recsys.bulk_write_pages), else by heap multi-insert.  Both are
 * WAL-logged (standbys, crash recovery).  What is not done per row was
 * done once by the caller's SPI insert of row 0 of the same model
 * version: the privilege check, the row-level security policies' WITH
 * CHECK (recsys's depend on the model only; a table with a DBA's policy
 * goes by SPI) and the foreign key's check, whose KEY SHARE lock on the
 * model_versions row holds to the end of the transaction, so every row's
 * key stays valid.  CHECK constraints are
 * evaluated on every row.  At most batch_rows rows are built at a time.
 * False, and nothing written, when the table is not bulk_writable or
 * recsys.bulk_write is off: the caller goes on by SPI.
 */
static bool
bulk_write(const char *table, const Oid *types, int natts, const char *name, int32 version,
		   const int64 *ids, int64 n, int batch_rows, BulkFill fill, void *arg)
{
	BulkTarget	t = {0};
	RangeTblEntry *rte;

	if (!recsys_bulk_write)
		return false;
	t.rel = table_openrv(makeRangeVar("recsys", (char *) table, -1), RowExclusiveLock);
	if (!bulk_writable(t.rel, types, natts))
	{
		table_close(t.rel, NoLock);
		return false;
	}
	t.check = t.rel->rd_att->constr && t.rel->rd_att->constr->num_check > 0;
	t.cid = GetCurrentCommandId(true);
	t.natts = natts;
	t.model = CStringGetTextDatum(name);
	t.version = version;
	t.ids = ids;
	t.fill = fill;
	t.arg = arg;

	/*
	 * The table as range table entry 1, as an INSERT's: a failing
	 * constraint's error message looks it up
	 */
	t.estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(t.rel);
	rte->relkind = t.rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(t.estate, list_make1(rte));
	t.rri = makeNode(ResultRelInfo);
	InitResultRelInfo(t.rri, t.rel, 1, NULL, 0);
	ExecOpenIndices(t.rri, false);
	t.batch_context = AllocSetContextCreate(CurrentMemoryContext, "recsys bulk rows",
											ALLOCSET_DEFAULT_SIZES);

	if (recsys_bulk_write_pages && RsHeapAppendPossible(t.rel))
		append_rows(&t, n, batch_rows);
	else
		multi_insert_rows(&t, n, batch_rows);

	ExecCloseIndices(t.rri);
	FreeExecutorState(t.estate);
	MemoryContextDelete(t.batch_context);
	table_close(t.rel, NoLock);
	/* the rows are visible to what the training runs next */
	CommandCounterIncrement();
	return true;
}

/* CPU seconds this thread has used (a write's cost on a shared machine). */
static double
thread_cpu_seconds(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Rows 0 .. n) of an artefact table: row 0 by the SPI insert (every check
 * of the table), the rest by bulk_write if it can, else by SPI batches of
 * batch_rows rows (bulk_write takes at most that many at a time too).
 * spi_batch(arg, start, rows) inserts rows [start, start + rows) by SPI
 * (connected).
 */
static void
write_rows(const char *table, const Oid *types, int natts, const char *name, int32 version,
		   const int64 *ids, int64 n, int batch_rows, BulkFill fill,
		   void (*spi_batch) (void *, int64, int), void *arg)
{
	int64		start = 0;
	bool		bulk = false;
	TimestampTz began = GetCurrentTimestamp();
	double		cpu = thread_cpu_seconds();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (n > 1 && recsys_bulk_write)
	{
		spi_batch(arg, 0, 1);
		start = 1;
		bulk = bulk_write(table, types, natts, name, version, ids, n, batch_rows, fill, arg);
		if (bulk)
			start = n;
	}
	for (; start < n; start += batch_rows)
	{
		CHECK_FOR_INTERRUPTS();
		spi_batch(arg, start, (int) Min(batch_rows, n - start));
	}
	SPI_finish();
	/* the write's own time, which test/bench/write_path.sh prints */
	ereport(DEBUG1,
			(errmsg_internal("recsys: wrote %lld rows of %s %s in %.3f s (%.3f s CPU in this backend's thread)",
							 (long long) n, table, bulk ? "in bulk" : "by INSERT",
							 (double) (GetCurrentTimestamp() - began) / USECS_PER_SEC,
							 thread_cpu_seconds() - cpu)));
}

/* A one-dimensional real[] of the k floats x, built directly. */
static ArrayType *
float_array(const float *x, int k)
{
	Size		bytes = ARR_OVERHEAD_NONULLS(1) + sizeof(float) * (Size) k;
	ArrayType  *a = palloc(bytes);

	SET_VARSIZE(a, bytes);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = FLOAT4OID;
	ARR_DIMS(a)[0] = k;
	ARR_LBOUND(a)[0] = 1;
	memcpy(ARR_DATA_PTR(a), x, sizeof(float) * (Size) k);
	return a;
}

/* What RsWriteFactors writes, for its row writers. */
typedef struct FactorRows
{
	RsSide		side;
	const char *name;
	int32		version;
	const int64 *ids;
	const float *bias;
	const float *factors;
	int			k;
	float	   *zeros;			/* BATCH_ROWS zero biases when bias is NULL */
	MemoryContext batch_context;
} FactorRows;

static void
fill_factor_row(void *arg, int64 i, Datum *values)
{
	FactorRows *f = arg;

	values[3] = Float4GetDatum(f->bias ? f->bias[i] : 0);
	values[4] = PointerGetDatum(float_array(f->factors + i * f->k, f->k));
}

static void
insert_factor_rows(void *arg, int64 start, int rows)
{
	FactorRows *f = arg;
	const char *query = f->side == RS_USERS ?
		"INSERT INTO recsys.user_factors (model, version, user_id, bias, factors) "
		"SELECT $1, $2, t.id, t.bias, $5[(t.o - 1) * $6 + 1 : t.o * $6] "
		"FROM ROWS FROM (pg_catalog.unnest($3::pg_catalog.int8[]), pg_catalog.unnest($4::pg_catalog.float4[])) "
		"WITH ORDINALITY AS t(id, bias, o)" :
		"INSERT INTO recsys.item_factors (model, version, item_id, bias, factors) "
		"SELECT $1, $2, t.id, t.bias, $5[(t.o - 1) * $6 + 1 : t.o * $6] "
		"FROM ROWS FROM (pg_catalog.unnest($3::pg_catalog.int8[]), pg_catalog.unnest($4::pg_catalog.float4[])) "
		"WITH ORDINALITY AS t(id, bias, o)";
	Oid			argtypes[6] = {TEXTOID, INT4OID, INT8ARRAYOID, FLOAT4ARRAYOID, FLOAT4ARRAYOID, INT4OID};
	Datum		values[6];
	MemoryContext old = MemoryContextSwitchTo(f->batch_context);

	values[0] = CStringGetTextDatum(f->name);
	values[1] = Int32GetDatum(f->version);
	values[2] = PointerGetDatum(RsInt64Array(f->ids + start, rows));
	values[3] = PointerGetDatum(RsFloatArray(f->bias ? f->bias + start : f->zeros, rows));
	values[4] = PointerGetDatum(RsFloatArray(f->factors + start * f->k, rows * f->k));
	values[5] = Int32GetDatum(f->k);
	MemoryContextSwitchTo(old);
	RsExecute(query, 6, argtypes, values, NULL, false, SPI_OK_INSERT);
	MemoryContextReset(f->batch_context);
}

/*
 * RsWriteFactors stores n rows of ids[i], bias[i] (0 if bias is NULL) and
 * factors[i * k .. (i + 1) * k) into user_factors or item_factors
 * (write_rows: in bulk when it can).
 */
void
RsWriteFactors(RsSide side, const char *name, int32 version, const int64 *ids,
			   const float *bias, const float *factors, int64 n, int k)
{
	static const Oid types[5] = {TEXTOID, INT4OID, INT8OID, FLOAT4OID, FLOAT4ARRAYOID};
	FactorRows	f = {side, name, version, ids, bias, factors, k,
		bias ? NULL : palloc0(sizeof(float) * BATCH_ROWS),
		AllocSetContextCreate(CurrentMemoryContext, "recsys factor batch", ALLOCSET_DEFAULT_SIZES)};

	write_rows(side == RS_USERS ? "user_factors" : "item_factors", types, 5, name, version, ids, n,
			   BATCH_ROWS, fill_factor_row, insert_factor_rows, &f);
	MemoryContextDelete(f.batch_context);
	if (f.zeros)
		pfree(f.zeros);
}

/* What RsWriteNeighbors writes, for its row writers. */
typedef struct NeighborRows
{
	RsSide		side;
	const char *name;
	int32		version;
	const int64 *owner_ids;		/* the rows that have neighbours: their ids */
	const int64 *owner_rows;	/* and their row numbers */
	int			slots;
	const int32 *count;
	const int32 *neighbor;
	const int64 *neighbor_ids;
	const float *score;
	int64	   *ids;			/* one row's (batch's) neighbour ids */
	float	   *sims;			/* a batch's scores */
	Datum	   *offsets;		/* a batch's list boundaries */
} NeighborRows;

/* Row r's neighbour ids into out, best first; returns how many. */
static int
neighbor_list_ids(const NeighborRows *l, int64 r, int64 *out)
{
	for (int j = 0; j < l->count[r]; j++)
		out[j] = l->neighbor_ids[l->neighbor[r * l->slots + j]];
	return l->count[r];
}

static void
fill_neighbor_row(void *arg, int64 i, Datum *values)
{
	NeighborRows *l = arg;
	int64		r = l->owner_rows[i];
	int			n = neighbor_list_ids(l, r, l->ids);

	values[3] = PointerGetDatum(RsInt64Array(l->ids, n));
	values[4] = PointerGetDatum(float_array(l->score + r * l->slots, n));
}

static void
insert_neighbor_rows(void *arg, int64 start, int rows)
{
	NeighborRows *l = arg;
	const char *query = l->side == RS_USERS ?
		"INSERT INTO recsys.user_neighbor_lists (model, version, user_id, neighbor_ids, scores) "
		"SELECT $1, $2, $3[t.o], $4[$7[t.o] + 1 : $7[t.o + 1]], $5[$7[t.o] + 1 : $7[t.o + 1]] "
		"FROM pg_catalog.generate_series(1, $6) AS t(o)" :
		"INSERT INTO recsys.item_neighbor_lists (model, version, item_id, neighbor_ids, scores) "
		"SELECT $1, $2, $3[t.o], $4[$7[t.o] + 1 : $7[t.o + 1]], $5[$7[t.o] + 1 : $7[t.o + 1]] "
		"FROM pg_catalog.generate_series(1, $6) AS t(o)";
	Oid			argtypes[7] = {TEXTOID, INT4OID, INT8ARRAYOID, INT8ARRAYOID, FLOAT4ARRAYOID,
	INT4OID, INT4ARRAYOID};
	Datum		values[7];
	int			pairs = 0;

	/* the lists one after another: list o is pairs [offsets[o], offsets[o + 1]) */
	for (int o = 0; o < rows; o++)
	{
		int64		r = l->owner_rows[start + o];
		int			n;

		l->offsets[o] = Int32GetDatum(pairs);
		n = neighbor_list_ids(l, r, l->ids + pairs);
		memcpy(l->sims + pairs, l->score + r * l->slots, sizeof(float) * n);
		pairs += n;
	}
	l->offsets[rows] = Int32GetDatum(pairs);
	values[0] = CStringGetTextDatum(l->name);
	values[1] = Int32GetDatum(l->version);
	values[2] = PointerGetDatum(RsInt64Array(l->owner_ids + start, rows));
	values[3] = PointerGetDatum(RsInt64Array(l->ids, pairs));
	values[4] = PointerGetDatum(RsFloatArray(l->sims, pairs));
	values[5] = Int32GetDatum(rows);
	values[6] = PointerGetDatum(construct_array_builtin(l->offsets, rows + 1, INT4OID));
	RsExecute(query, 7, argtypes, values, NULL, false, SPI_OK_INSERT);
	for (int v = 2; v <= 6; v++)
		if (v != 5)
			pfree(DatumGetPointer(values[v]));
}

/*
 * RsWriteNeighbors stores neighbour lists into item_neighbor_lists or
 * user_neighbor_lists, one row per owner.  Row r (id row_ids[r]) has
 * count[r] neighbours, best first, in slots [r * slots, r * slots +
 * count[r]): neighbor[] holds dense indexes into neighbor_ids[], score[]
 * their similarities.  Rows without neighbours are not stored.  Written
 * by write_rows (in bulk when it can), at most BATCH_PAIRS neighbours
 * (and BATCH_ROWS rows) at a time.
 */
void
RsWriteNeighbors(RsSide side, const char *name, int32 version,
				 const int64 *row_ids, int64 n_rows, int slots,
				 const int32 *count, const int32 *neighbor,
				 const int64 *neighbor_ids, const float *score)
{
	static const Oid types[5] = {TEXTOID, INT4OID, INT8OID, INT8ARRAYOID, FLOAT4ARRAYOID};
	int			batch_rows = Max(1, Min(BATCH_ROWS, BATCH_PAIRS / Max(slots, 1)));
	int64	   *owner_ids = palloc_extended(sizeof(int64) * Max(n_rows, 1), MCXT_ALLOC_HUGE);
	int64	   *owner_rows = palloc_extended(sizeof(int64) * Max(n_rows, 1), MCXT_ALLOC_HUGE);
	int64		owners = 0;
	NeighborRows l = {side, name, version, owner_ids, owner_rows, slots, count, neighbor,
		neighbor_ids, score,
		palloc(sizeof(int64) * (Size) batch_rows * slots),
		palloc(sizeof(float) * (Size) batch_rows * slots),
	palloc(sizeof(Datum) * (batch_rows + 1))};

	for (int64 r = 0; r < n_rows; r++)
		if (count[r] > 0)
		{
			owner_ids[owners] = row_ids[r];
			owner_rows[owners++] = r;
		}
	write_rows(side == RS_USERS ? "user_neighbor_lists" : "item_neighbor_lists", types, 5, name,
			   version, owner_ids, owners, batch_rows, fill_neighbor_row, insert_neighbor_rows, &l);
	pfree(owner_ids);
	pfree(owner_rows);
	pfree(l.ids);
	pfree(l.sims);
	pfree(l.offsets);
}

/* What RsWriteItemStats writes, for its row writers. */
typedef struct ItemStatRows
{
	const char *name;
	int32		version;
	const int64 *ids;
	const int32 *n_users;
	const float *weight_sum;
	const float *popularity;
} ItemStatRows;

static void
fill_item_stat_row(void *arg, int64 i, Datum *values)
{
	ItemStatRows *r = arg;

	values[3] = Int32GetDatum(r->n_users[i]);
	values[4] = Float4GetDatum(r->weight_sum[i]);
	values[5] = Float4GetDatum(r->popularity[i]);
}

static void
insert_item_stat_rows(void *arg, int64 start, int rows)
{
	ItemStatRows *r = arg;
	Oid			argtypes[6] = {TEXTOID, INT4OID, INT8ARRAYOID, INT4ARRAYOID, FLOAT4ARRAYOID, FLOAT4ARRAYOID};
	Datum		values[6];
	Datum	   *counts = palloc(sizeof(Datum) * rows);

	for (int i = 0; i < rows; i++)
		counts[i] = Int32GetDatum(r->n_users[start + i]);
	values[0] = CStringGetTextDatum(r->name);
	values[1] = Int32GetDatum(r->version);
	values[2] = PointerGetDatum(RsInt64Array(r->ids + start, rows));
	values[3] = PointerGetDatum(construct_array_builtin(counts, rows, INT4OID));
	values[4] = PointerGetDatum(RsFloatArray(r->weight_sum + start, rows));
	values[5] = PointerGetDatum(RsFloatArray(r->popularity + start, rows));
	RsExecute("INSERT INTO recsys.item_stats (model, version, item_id, n_users, weight_sum, popularity) "
			  "SELECT $1, $2, t.id, t.n, t.w, t.p "
			  "FROM ROWS FROM (pg_catalog.unnest($3::pg_catalog.int8[]), pg_catalog.unnest($4::pg_catalog.int4[]), "
			  "pg_catalog.unnest($5::pg_catalog.float4[]), pg_catalog.unnest($6::pg_catalog.float4[])) AS t(id, n, w, p)",
			  6, argtypes, values, NULL, false, SPI_OK_INSERT);
	pfree(DatumGetPointer(values[2]));
	pfree(DatumGetPointer(values[3]));
	pfree(DatumGetPointer(values[4]));
	pfree(DatumGetPointer(values[5]));
	pfree(counts);
}

/*
 * RsWriteItemStats stores every trained item's user count, weight sum and
 * popularity score (what recommend falls back to for unknown users).
 */
void
RsWriteItemStats(const char *name, int32 version, const int64 *ids, int64 n,
				 const int32 *n_users, const float *weight_sum,
				 const float *popularity)
{
	static const Oid types[6] = {TEXTOID, INT4OID, INT8OID, INT4OID, FLOAT4OID, FLOAT4OID};
	ItemStatRows r = {name, version, ids, n_users, weight_sum, popularity};

	write_rows("item_stats", types, 6, name, version, ids, n, BATCH_ROWS, fill_item_stat_row,
			   insert_item_stat_rows, &r);
}

/*
 * RsWriteParameter stores one named parameter array of a model version
 * (recsys.model_parameters): values row-major, shape[0 .. ndims) its
 * dimensions.  For what is neither a per-user nor a per-item row: layer
 * weights, feature weights.
 */
void
RsWriteParameter(const char *name, int32 version, const char *parameter,
				 const int32 *shape, int ndims, const float *values)
{
	Oid			argtypes[5] = {TEXTOID, INT4OID, TEXTOID, INT4ARRAYOID, FLOAT4ARRAYOID};
	Datum		args[5];
	Datum	   *dims = palloc(sizeof(Datum) * ndims);
	int64		n = 1;

	for (int d = 0; d < ndims; d++)
	{
		dims[d] = Int32GetDatum(shape[d]);
		n *= shape[d];
	}
	if (n > MaxAllocSize / sizeof(float))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("parameter \"%s\" of model \"%s\" has %lld values, more than an array can hold",
						parameter, name, (long long) n)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = CStringGetTextDatum(name);
	args[1] = Int32GetDatum(version);
	args[2] = CStringGetTextDatum(parameter);
	args[3] = PointerGetDatum(construct_array_builtin(dims, ndims, INT4OID));
	args[4] = PointerGetDatum(RsFloatArray(values, (int) n));
	RsExecute("INSERT INTO recsys.model_parameters (model, version, name, shape, value) "
			  "VALUES ($1, $2, $3, $4, $5)",
			  5, argtypes, args, NULL, false, SPI_OK_INSERT);
	SPI_finish();
	pfree(dims);
}

/*
 * RsCopyItemStats gives version of model the item stats of another
 * model's version (a blend takes its first member's items).
 */
void
RsCopyItemStats(const char *name, int32 version, const char *from_name, int32 from_version)
{
	Datum		values[4] = {CStringGetTextDatum(name), Int32GetDatum(version),
	CStringGetTextDatum(from_name), Int32GetDatum(from_version)};

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("INSERT INTO recsys.item_stats (model, version, item_id, n_users, weight_sum, popularity) "
			  "SELECT $1, $2, item_id, n_users, weight_sum, popularity FROM recsys.item_stats "
			  "WHERE model OPERATOR(pg_catalog.=) $3 AND version OPERATOR(pg_catalog.=) $4",
			  4, (Oid[]) {TEXTOID, INT4OID, TEXTOID, INT4OID}, values, NULL, false, SPI_OK_INSERT);
	SPI_finish();
}

/*
 * RsActivateModelVersion makes version the model's active one, records the
 * training time, and deletes the older versions with their artefacts.
 */
void
RsActivateModelVersion(const RsModelDesc *desc, int32 version, double train_seconds)
{
	Oid			argtypes[11];
	Datum		values[11];

	desc_values(desc, argtypes, values);
	argtypes[8] = INT4OID;
	values[8] = Int32GetDatum(version);
	argtypes[9] = FLOAT8OID;
	values[9] = Float8GetDatum(train_seconds);

	/*
	 * The clock, not now(): trained_at tells model versions apart (the
	 * serving cache keys on it), even two trained in one transaction.
	 */
	argtypes[10] = TIMESTAMPTZOID;
	values[10] = TimestampTzGetDatum(GetCurrentTimestamp());

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("UPDATE recsys.model_versions SET train_seconds = $10, trained_at = $11 "
			  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $9 "
			  "AND $2 IS NOT NULL AND $3 IS NOT NULL AND $4 IS NOT NULL AND $5 IS NOT NULL "
			  "AND $6 IS NOT NULL AND $7 IS NOT NULL AND $8 IS NOT NULL",
			  11, argtypes, values, NULL, false, SPI_OK_UPDATE);
	RsExecute("UPDATE recsys.models SET algorithm = $2, source = $3, "
			  "params = $4::pg_catalog.jsonb, stats = $5::pg_catalog.jsonb, "
			  "n_users = $6, n_items = $7, n_interactions = $8, version = $9, "
			  "train_seconds = $10, trained_at = $11, "
			  "metrics = '{}', trained_by = CURRENT_USER "
			  "WHERE name OPERATOR(pg_catalog.=) $1",
			  11, argtypes, values, NULL, false, SPI_OK_UPDATE);
	/* retention: the newest recsys.keep_versions versions stay */
	RsExecute("DELETE FROM recsys.model_versions "
			  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.<>) $2 "
			  "AND version OPERATOR(pg_catalog.<) ALL (SELECT v.version FROM recsys.model_versions v "
			  "WHERE v.model OPERATOR(pg_catalog.=) $1 ORDER BY v.version DESC LIMIT $3)",
			  3, (Oid[]) {TEXTOID, INT4OID, INT4OID},
			  (Datum[]) {values[0], values[8], Int32GetDatum(recsys_keep_versions)}, NULL, false,
			  SPI_OK_DELETE);
	SPI_finish();
}

/* Minimal JSON object writer for params and stats. */
void
RsJsonBegin(StringInfo buf)
{
	initStringInfo(buf);
	appendStringInfoChar(buf, '{');
}

static void
json_key(StringInfo buf, const char *key)
{
	if (buf->len > 1)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
}

void
RsJsonText(StringInfo buf, const char *key, const char *value)
{
	json_key(buf, key);
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, value);
}

/* RsJsonRaw adds a value that is already JSON (an array, say). */
void
RsJsonRaw(StringInfo buf, const char *key, const char *json)
{
	json_key(buf, key);
	appendStringInfoString(buf, json);
}

void
RsJsonInt(StringInfo buf, const char *key, int64 value)
{
	json_key(buf, key);
	appendStringInfo(buf, INT64_FORMAT, value);
}

void
RsJsonFloat(StringInfo buf, const char *key, double value)
{
	json_key(buf, key);
	if (isnan(value) || isinf(value))
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, "%.17g", value);
}

void
RsJsonFloatArray(StringInfo buf, const char *key, const float *values, int n)
{
	json_key(buf, key);
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		if (isnan(values[i]) || isinf(values[i]))
			appendStringInfoString(buf, "null");
		else
			appendStringInfo(buf, "%.9g", values[i]);
	}
	appendStringInfoChar(buf, ']');
}

void
RsJsonEnd(StringInfo buf)
{
	appendStringInfoChar(buf, '}');
}

/*
 * RsWriteItemStatsFromData stores every item's user count and weight sum;
 * the popularity score is the user count.  A weight sum past real's range
 * is refused (22003, naming the item): stored as Infinity it made every
 * cold-start score of an item-kNN model Infinity, ties broken by index
 * instead of popularity (review s12, V3; train_popular's to_real).
 */
void
RsWriteItemStatsFromData(const char *name, int32 version, const RsInteractions *data)
{
	RsWriteItemStatsOfRows(name, version, data, NULL, data->items.count);
}

/*
 * RsWriteItemStatsOfRows is RsWriteItemStatsFromData for the items whose
 * dense indexes rows[0 .. n) lists, in that order (rows NULL: every item,
 * n = their count): a model of some of the source's items (EASE's
 * max_items) has only them in its catalog.
 */
void
RsWriteItemStatsOfRows(const char *name, int32 version, const RsInteractions *data,
					   const int32 *rows, int64 n)
{
	/* (the source's ids as they are when every item is written) */
	int64	   *ids = rows ? palloc(sizeof(int64) * Max(n, 1)) : data->items.ids;
	int32	   *users = palloc(sizeof(int32) * Max(n, 1));
	float	   *weight = palloc(sizeof(float) * Max(n, 1));
	float	   *popularity = palloc(sizeof(float) * Max(n, 1));

	for (int64 r = 0; r < n; r++)
	{
		int32		i = rows ? rows[r] : (int32) r;
		double		sum = 0;

		for (int64 p = data->by_item.indptr[i]; p < data->by_item.indptr[i + 1]; p++)
			sum += data->by_item.data[p];
		if (rows)
			ids[r] = data->items.ids[i];
		users[r] = (int32) (data->by_item.indptr[i + 1] - data->by_item.indptr[i]);
		if (!(fabs(sum) <= FLT_MAX))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("the weight sum of item " INT64_FORMAT " from weight_col is out of range for type real: %g",
							data->items.ids[i], sum),
					 errhint("Scale the weights down in a view: divide them by a constant, or take ln(1 + weight).")));
		weight[r] = (float) sum;
		popularity[r] = (float) users[r];
	}
	RsWriteItemStats(name, version, ids, n, users, weight, popularity);
	if (rows)
		pfree(ids);
	pfree(users);
	pfree(weight);
	pfree(popularity);
}
