/*-------------------------------------------------------------------------
 *
 * train_common.c
 *		What every recsys training function shares: one lifecycle, the
 *		memory budget and the item statistics every model stores (its
 *		cold-start fallback).
 *
 * Every trainer runs the same steps around its own fit:
 *
 *	RsTrainArgs		the arguments all trainers have: source, columns,
 *					model name, replace;
 *	(the trainer's own arguments)
 *	RsTrainBegin	the lock on the model name (and the check that the
 *					caller may train into it), the refusal to retrain a
 *					model under another algorithm unless replace, and
 *					the source, read and checked;
 *	(the fit)
 *	RsTrainFinish	the description (the source's columns and counts
 *					join the trainer's settings and results), a new
 *					version, its item statistics and artefacts (the
 *					trainer's writer), its activation, and the catalog
 *					row the trainer returns.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "args.h"
#include "events.h"
#include "ivf_index.h"
#include "model_acl.h"
#include "privacy.h"
#include "progress.h"
#include "recsys.h"
#include "spi_util.h"
#include "train_common.h"

/* RsSeconds returns a monotonic clock reading in seconds. */
double
RsSeconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The bytes of the interaction matrices (CSR and CSC) of a source. */
Size
RsInteractionBytes(const RsInteractions *data)
{
	return 2 * ((Size) data->by_user.nnz * (sizeof(int32) + sizeof(float))) +
		((Size) data->users.count + data->items.count + 2) * sizeof(int64);
}

/*
 * RsCheckTrainingMemory refuses to allocate a model's working set when it
 * and the interaction matrices together exceed recsys.max_memory.
 */
void
RsCheckTrainingMemory(const char *what, Size bytes, const RsInteractions *data)
{
	Size		matrices = RsInteractionBytes(data);
	Size		total = bytes + matrices;

	if (total > RECSYS_MAX_MEMORY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("training needs %.1f MB (%s %.1f MB, interactions %.1f MB), more than recsys.max_memory (%d MB)",
						total / 1048576.0, what, bytes / 1048576.0, matrices / 1048576.0,
						recsys_max_memory_mb),
				 errhint("Raise recsys.max_memory, or train with smaller settings or a smaller source.")));
}

/*
 * RsRefuseRepeatedRatings refuses a source of ratings that rates a (user,
 * item) pair more than once: the matrices would hold their sum.
 */
void
RsRefuseRepeatedRatings(const RsTrainer *trainer, const RsInteractions *data)
{
	if (data->by_user.nnz < data->rows_read - data->rows_skipped)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("source \"%s\" rates some (user, item) pairs more than once",
						get_rel_name(trainer->spec.relid)),
				 errdetail("%lld rows but %lld distinct pairs.",
						   (long long) (data->rows_read - data->rows_skipped),
						   (long long) data->by_user.nnz),
				 errhint("Train on a view with one rating per pair, e.g. the latest with DISTINCT ON.")));
}

/* The source's column names, into a params object. */
static void
describe_source(const RsSourceSpec *spec, StringInfo params)
{
	RsJsonText(params, "user_col", spec->user_col);
	RsJsonText(params, "item_col", spec->item_col);
	RsJsonText(params, "weight_col", spec->weight_col);
	if (spec->event_col != NULL)
	{
		StringInfoData map;

		initStringInfo(&map);
		RsEventMapJson(&map, spec->events);
		RsJsonText(params, "event_col", spec->event_col);
		RsJsonRaw(params, "event_weights", map.data);
		pfree(map.data);
	}
}

/*
 * RsSourceWeighted says whether a source's rows have weights of their
 * own (a weight column or event weights), not 1 each.
 */
bool
RsSourceWeighted(const RsSourceSpec *spec)
{
	return spec->weight_col != NULL || spec->event_col != NULL;
}

/*
 * RsWeightsName names where a source's weights come from, for an error:
 * weight_col "w" (times event_weights when given too), event_weights, or
 * the counts of rows per user and item.
 */
const char *
RsWeightsName(const RsSourceSpec *spec)
{
	if (spec->weight_col != NULL)
		return psprintf("weight_col \"%s\"%s", spec->weight_col,
						spec->event_col != NULL ? " (times event_weights)" : "");
	return spec->event_col != NULL ? "event_weights" : "the counts of rows per user and item";
}

/*
 * The event_col and event_weights arguments (at argno, argno + 1; absent
 * from a definition older than 0.8.0): both or neither.
 */
static void
event_args(FunctionCallInfo fcinfo, int argno, RsSourceSpec *spec)
{
	if (argno <= 0 || PG_NARGS() <= argno + 1)
		return;
	if (PG_ARGISNULL(argno) && PG_ARGISNULL(argno + 1))
		return;
	if (PG_ARGISNULL(argno) || PG_ARGISNULL(argno + 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event_col and event_weights go together"),
				 errhint("Pass the column of event types as event_col and a weight per type as event_weights, "
						 "e.g. event_col => 'event', event_weights => '{\"view\": 1, \"purchase\": 10}'.")));
	spec->event_col = NameStr(*PG_GETARG_NAME(argno));
	spec->events = RsEventMapFromJsonb(PG_GETARG_JSONB_P(argno + 1), "event_weights");
}

/* Refuse to train on a source without rows. */
static void
require_interactions(const RsSourceSpec *spec, const RsInteractions *data)
{
	if (data->by_user.nnz == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source \"%s\" has no interactions to train on", get_rel_name(spec->relid)),
				 errdetail("%lld rows read, %lld skipped for NULL ids or weights.",
						   (long long) data->rows_read, (long long) data->rows_skipped)));
}

/*
 * Refuse (22003) a pair whose weight, its rows' weights summed (and times
 * their event weights), lies beyond trainer->max_weight, naming the user,
 * the item and the range: the first such pair in user order.
 */
static void
require_weight_range(const RsTrainer *trainer, const RsInteractions *data)
{
	const RsCsr *R = &data->by_user;
	double		max = trainer->max_weight;

	for (int32 u = 0; u < R->n_rows; u++)
	{
		if ((u & 0xFFFF) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int64 a = R->indptr[u]; a < R->indptr[u + 1]; a++)
			if (!(fabs(R->data[a]) <= max))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("%s gives user %lld and item %lld the weight %g, outside [%g, %g]",
								RsWeightsName(&trainer->spec), (long long) data->users.ids[u],
								(long long) data->items.ids[R->indices[a]], R->data[a], -max, max),
						 errdetail("%s multiplies each pair's weight (its rows' weights summed) into "
								   "Gram matrices of type real: larger weights overflow them.",
								   trainer->function),
						 errhint("Scale the weights down in a view: divide them by a constant, or take ln(1 + weight).")));
	}
}

/* The recsys.models row of a model, the result of a training function. */
static Datum
model_row_datum(FunctionCallInfo fcinfo, const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	Datum		result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT * FROM recsys.models WHERE name OPERATOR(pg_catalog.=) $1",
			  1, argtypes, values, NULL, false, SPI_OK_SELECT);
	if (SPI_processed != 1)
		elog(ERROR, "model \"%s\" vanished after training", name);
	result = PointerGetDatum(SPI_returntuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc));
	SPI_finish();
	return result;
}

/*
 * RsTrainArgs reads the arguments every trainer has, at argnos: the source
 * (argument 0) and its columns, the model name and replace (absent from a
 * definition older than 0.6.0: false).  It does nothing else, so that the
 * trainer's own arguments can be checked before any lock is taken.
 */
void
RsTrainArgs(FunctionCallInfo fcinfo, const RsTrainArgNos *argnos, RsTrainer *trainer)
{
	memset(trainer, 0, sizeof(RsTrainer));
	trainer->start = RsSeconds();
	trainer->caller_context = CurrentMemoryContext;
	trainer->exact_counts = true;
	trainer->function = get_func_name(fcinfo->flinfo->fn_oid);
	if (trainer->function == NULL)
		trainer->function = "training";
	if (argnos->cols >= 0)
	{
		RsRequireArg(fcinfo, 0, "source");
		RsRequireArg(fcinfo, argnos->cols, "user_col");
		RsRequireArg(fcinfo, argnos->cols + 1, "item_col");
		trainer->spec.relid = PG_GETARG_OID(0);
		trainer->spec.user_col = NameStr(*PG_GETARG_NAME(argnos->cols));
		trainer->spec.item_col = NameStr(*PG_GETARG_NAME(argnos->cols + 1));
		trainer->spec.weight_col = PG_ARGISNULL(argnos->weight_col) ? NULL :
			NameStr(*PG_GETARG_NAME(argnos->weight_col));
		event_args(fcinfo, argnos->events, &trainer->spec);
	}
	trainer->name = RsTextArg(fcinfo, argnos->model, "model");
	if (PG_NARGS() > argnos->replace)
	{
		RsRequireArg(fcinfo, argnos->replace, "replace");
		trainer->replace = PG_GETARG_BOOL(argnos->replace);
	}
	RsJsonBegin(&trainer->params);
	RsJsonBegin(&trainer->stats);
}

/*
 * Refuse to retrain a model under another algorithm unless replace: its
 * users (and the blends that name it) would silently get another kind of
 * model.  The row is read as the lock's ownership check reads it
 * (RsModelAlgorithm): the caller owns the model by now, but need not be
 * able to read recsys.models itself.
 */
static void
refuse_other_algorithm(const RsTrainer *trainer)
{
	char	   *current = RsModelAlgorithm(trainer->name);

	if (current != NULL && strcmp(current, trainer->algorithm) != 0 && !trainer->replace)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" was trained with algorithm %s, not %s", trainer->name,
						current, trainer->algorithm),
				 errdetail("Retraining it with %s would change what everyone it serves gets.",
						   trainer->algorithm),
				 errhint("Pass replace => true to retrain it with %s, or train under another name.",
						 trainer->algorithm)));
}

/*
 * RsTrainBegin takes the model name for this transaction (refusing a name
 * another session is training or another role owns), refuses to change
 * its algorithm unless replace, and reads the source into data (NULL: the
 * trainer has no source, a blend).
 *
 * Once the lock is held, and the source's locks (RsLockSource: a wait for
 * a transaction rewriting the source ends before), everything the
 * training reads, the source too, is read with one snapshot taken then
 * (READ COMMITTED; in REPEATABLE READ it is the
 * transaction's), active until RsTrainFinish: the lock may have been
 * waited for, or only just released, by a training that committed after
 * this statement began, and what it wrote (a version, the model's stats
 * such as the IVF settings to keep, rows of the source written in the
 * same transaction) must be seen, as PostgreSQL's own READ COMMITTED
 * rules re-read a row that a lock wait let change.  Queries run with
 * read_only SPI (previous versions, base models, times and events of the
 * source) would otherwise use the statement's older snapshot; the rest
 * take a new snapshot per query anyway.
 */
void
RsTrainBegin(RsTrainer *trainer, const char *algorithm, RsInteractions *data)
{
	RsRequireWritable(psprintf("recsys.%s()", trainer->function));
	trainer->algorithm = algorithm;
	RsProgressStart(trainer->function, trainer->name, algorithm, trainer->verbose);
	(void) RsLockModelForTraining(trainer->name);
	/* (after the owner check, before the source is read: review s11, F2) */
	RsRequireTrainPrivileges(psprintf("recsys.%s()", trainer->function));
	if (data != NULL)
		RsLockSource(&trainer->spec);
	PushActiveSnapshot(GetTransactionSnapshot());
	trainer->snapshot_pushed = true;
	if (trainer->refuse != NULL)
		trainer->refuse(trainer->name);
	refuse_other_algorithm(trainer);
	if (data != NULL)
	{
		RsProgressPhaseBegin(RS_PHASE_READING);
		RsReadSource(&trainer->spec, false, data);
		require_interactions(&trainer->spec, data);
		if (trainer->max_weight > 0)
			require_weight_range(trainer, data);
		trainer->data = data;
		trainer->n_users = data->users.count;
		trainer->n_items = data->items.count;
		trainer->n_interactions = data->by_user.nnz;
	}
	RsProgressPhaseBegin(RS_PHASE_FITTING);
}

/*
 * RsTrainFinish completes the description, stores a new version (write
 * adds its item statistics and artefacts), activates it and returns the
 * model's catalog row.
 */
Datum
RsTrainFinish(FunctionCallInfo fcinfo, RsTrainer *trainer, RsTrainWriter write, void *arg)
{
	RsModelDesc desc;
	int32		version;
	MemoryContext old;
	Datum		result;
	char	   *index_to_keep;

	if (OidIsValid(trainer->spec.relid))
	{
		describe_source(&trainer->spec, &trainer->params);
		/* whose source it is: read again by name later only while it is theirs */
		RsJsonText(&trainer->stats, "source_owner", RsRelationOwnerName(trainer->spec.relid));
	}
	if (trainer->data != NULL)
	{
		if (trainer->exact_counts)
		{
			RsJsonInt(&trainer->stats, "rows_read", trainer->data->rows_read);
			RsJsonInt(&trainer->stats, "rows_skipped", trainer->data->rows_skipped);
		}
		RsJsonFloat(&trainer->stats, "read_seconds",
					trainer->data->read_seconds + trainer->data->build_seconds);
		RsJsonInt(&trainer->stats, "read_workers", trainer->data->read_workers);
		RsJsonInt(&trainer->stats, "read_workers_planned", trainer->data->read_workers_planned);
		RsJsonText(&trainer->stats, "read_path", trainer->data->read_path);
	}
	RsJsonEnd(&trainer->params);
	RsJsonEnd(&trainer->stats);

	RsProgressPhaseBegin(RS_PHASE_WRITING);
	desc.name = trainer->name;
	desc.algorithm = trainer->algorithm;
	desc.source = trainer->spec.relid;
	desc.params = &trainer->params;
	desc.stats = &trainer->stats;
	desc.n_users = trainer->n_users;
	desc.n_items = trainer->n_items;
	desc.n_interactions = trainer->n_interactions;
	/* the replaced version's IVF index follows the model (src/ivf_index.c) */
	index_to_keep = RsIvfToKeep(trainer->name);
	version = RsCreateModelVersion(&desc);
	write(trainer, version, arg);
	RsActivateModelVersion(&desc, version, RsSeconds() - trainer->start);
	RsIvfKeep(trainer->name, index_to_keep);
	if (trainer->snapshot_pushed)
		PopActiveSnapshot();
	trainer->snapshot_pushed = false;
	RsProgressEnd();
	/* the row outlives a training context the trainer deletes */
	old = MemoryContextSwitchTo(trainer->caller_context);
	result = model_row_datum(fcinfo, trainer->name);
	MemoryContextSwitchTo(old);
	return result;
}

/*
 * RsWriteNeighborLists is the RsTrainWriter of neighbourhood models (arg:
 * an RsNeighborLists): their item statistics, exact or private, and the
 * neighbour lists of every item or user.
 */
void
RsWriteNeighborLists(RsTrainer *trainer, int32 version, void *arg)
{
	const RsNeighborLists *lists = arg;
	const RsIdMap *rows = lists->side == RS_ITEMS ? &trainer->data->items : &trainer->data->users;

	int64	   *ids;

	if (lists->rows == NULL)
	{
		RsPrivacyWriteItemStats(lists->privacy, trainer->name, version, trainer->data);
		RsWriteNeighbors(lists->side, trainer->name, version, rows->ids, rows->count, lists->slots,
						 lists->count, lists->neighbor, rows->ids, lists->score);
		return;
	}
	/* some of the items: their statistics alone (never private: refused) */
	Assert(lists->side == RS_ITEMS && !lists->privacy->enabled);
	ids = palloc(sizeof(int64) * Max(lists->n_rows, 1));
	for (int64 r = 0; r < lists->n_rows; r++)
		ids[r] = rows->ids[lists->rows[r]];
	RsWriteItemStatsOfRows(trainer->name, version, trainer->data, lists->rows, lists->n_rows);
	RsWriteNeighbors(lists->side, trainer->name, version, ids, lists->n_rows, lists->slots,
					 lists->count, lists->neighbor, ids, lists->score);
	pfree(ids);
}
