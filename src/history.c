/*-------------------------------------------------------------------------
 *
 * history.c
 *		What users have done, read from a model's source at call time: the
 *		one place the serving side reads sources.
 *
 * A model remembers the relation and columns it was trained from; the
 * items a user has seen (to exclude them, or as the input of an item
 * model, or to fold a user in) are read from there as the source is now,
 * so a purchase made a second ago already counts.  The source is read as
 * the model's owner (src/model_acl.c), with queries prepared once per
 * loaded model and freed by the model cache with it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "array_util.h"
#include "events.h"
#include "history.h"
#include "ingest.h"
#include "model_acl.h"
#include "model_cache.h"
#include "model_load.h"
#include "recency.h"
#include "spi_util.h"

/* The role owning a model's source when it was trained, read past row-level security. */
typedef struct SourceOwnerRead
{
	const char *name;
	char	   *owner;			/* NULL: not recorded (before 0.8.0) */
} SourceOwnerRead;

static void
read_source_owner(void *arg)
{
	SourceOwnerRead *read = arg;
	MemoryContext outer = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT stats->>'source_owner' FROM recsys.models WHERE name OPERATOR(pg_catalog.=) $1",
			  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(read->name)}, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		char	   *owner = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (owner != NULL)
			read->owner = MemoryContextStrdup(outer, owner);
	}
	SPI_finish();
}

/*
 * RsCheckModelSource refuses to read a model's source, found again by its
 * recorded name, when another role has put a relation of its own under
 * that name (RsCheckRecordedRelation); call it before reading the source
 * as its reader (RsSourceReader).
 */
void
RsCheckModelSource(RsModel *model)
{
	SourceOwnerRead read = {model->name, NULL};

	if (!OidIsValid(model->source))
		return;
	RsRunAsCatalogOwner(read_source_owner, &read);
	RsCheckRecordedRelation("model", model->name, RsRelationName(model->source), model->source,
							RsSourceReader(model), read.owner);
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
	const char *event;
	MemoryContext old;

	/* the catalog read refuses these (src/model_params.c); never quote a NULL */
	if (model->user_col == NULL || model->item_col == NULL)
		RsModelCorrupt(model, model->user_col == NULL ? "params has no user_col" : "params has no item_col");
	old = MemoryContextSwitchTo(model->mcxt);
	/* the name goes into SQL re-quoted from the catalog, never as stored */
	source = RsRelationName(model->source);
	weight = model->weight_col ? quote_identifier(model->weight_col) : "1";
	/* the event type, last (RsEventRowWeight), of a multi-behaviour source */
	event = model->event_col ?
		psprintf("(%s)::pg_catalog.text", quote_identifier(model->event_col)) : "NULL::pg_catalog.text";
	initStringInfo(&q);
	appendStringInfo(&q, "SELECT %s::pg_catalog.int8, (%s)::pg_catalog.float4, %s, %s FROM %s WHERE %s OPERATOR(pg_catalog.=) $1",
					 quote_identifier(model->item_col), weight,
					 model->time_col ? RsTimeEpochSql(model->source, model->time_col, "time_col") : "NULL::pg_catalog.float8",
					 event, source, quote_identifier(model->user_col));
	model->seen_plan = SPI_prepare(q.data, 1, (Oid[]) {INT8OID});
	if (model->seen_plan == NULL || SPI_keepplan(model->seen_plan) != 0)
		elog(ERROR, "could not prepare \"%s\": %s", q.data, SPI_result_code_string(SPI_result));

	resetStringInfo(&q);
	appendStringInfo(&q, "SELECT %s::pg_catalog.int8, %s::pg_catalog.int8, (%s)::pg_catalog.float4, %s, %s FROM %s "
					 "WHERE %s OPERATOR(pg_catalog.=) ANY ($1)",
					 quote_identifier(model->user_col), quote_identifier(model->item_col),
					 weight, event,
					 model->time_col ? RsTimeEpochSql(model->source, model->time_col, "time_col") : "NULL::pg_catalog.float8",
					 source, quote_identifier(model->user_col));
	model->seen_many_plan = SPI_prepare(q.data, 1, (Oid[]) {INT8ARRAYOID});
	if (model->seen_many_plan == NULL || SPI_keepplan(model->seen_many_plan) != 0)
		elog(ERROR, "could not prepare \"%s\": %s", q.data, SPI_result_code_string(SPI_result));
	MemoryContextSwitchTo(old);
}

/*
 * RsSourceReader returns the role whose rights a model's source is read
 * with: the model's owner, who chose it, unless its kind says otherwise
 * (a blend reads its first member's source as that member's owner).
 */
Oid
RsSourceReader(RsModel *model)
{
	if (model->kind->source_reader)
		return model->kind->source_reader(model);
	return model->owner;
}

/*
 * The prepared queries name the columns; one renamed or dropped since
 * would fail inside them with a bare "column does not exist" (checked
 * before they are prepared too: review s11, F4).  Once per statement: the
 * queries' locks keep the columns until it ends.
 */
static void
require_columns(RsModel *model, const char *why)
{
	const char *columns[5] = {model->user_col, model->item_col, model->weight_col, model->time_col,
	model->event_col};
	RsStatementStamp now = RsCurrentStatement();

	if (RsSameStatement(&model->columns_checked, &now))
		return;
	for (int c = 0; c < 5; c++)
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

/*
 * RsRequireSource raises an error when the model's source is gone and a
 * feature needs it.
 */
void
RsRequireSource(RsModel *model, const char *why)
{
	if (OidIsValid(model->source) && model->seen_plan == NULL)
	{
		RsCheckModelSource(model);
		require_columns(model, why);
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

	require_columns(model, why);
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
 * A model of ratings (the kind's rates) refuses what its training
 * refuses: a weight that is not finite, an item rated twice.
 */
static void read_user_items(RsModel *model, int64 user_id, const char *why, bool ratings,
							RsUserItems *out);

void
RsReadUserItems(RsModel *model, int64 user_id, const char *why, RsUserItems *out)
{
	read_user_items(model, user_id, why, model->kind->rates && model->kind->rates(model), out);
}

/*
 * RsReadSeenItems reads the user's items for excluding them only (the
 * model does not score with them): their weights and duplicates do not
 * matter, so a model of ratings refuses nothing (duplicates are summed).
 */
void
RsReadSeenItems(RsModel *model, int64 user_id, const char *why, RsUserItems *out)
{
	read_user_items(model, user_id, why, false, out);
}

/* Where a query's row holds what a user's items are built from (1-based). */
typedef struct ItemColumns
{
	int			item;
	int			weight;
	int			time;
	int			event;
} ItemColumns;

/* seen_plan's columns: item, weight, time, event */
static const ItemColumns one_user_columns = {1, 2, 3, 4};

/* seen_many_plan's columns: user, item, weight, event, time */
static const ItemColumns many_users_columns = {2, 3, 5, 4};

/*
 * Build out (SPI_palloc'd) from rows of the SPI result that are user_id's:
 * rows[0 .. n_rows) (row numbers; NULL: every row in order).  What
 * RsReadUserItems describes: unknown items and NULLs left out, duplicates
 * summed (refused for ratings), in item index order, with recency.
 */
static void
build_user_items(RsModel *model, int64 user_id, const char *why, bool ratings,
				 const uint64 *rows, uint64 n_rows, const ItemColumns *col, RsUserItems *out)
{
	int64	   *packed;			/* item index << 32 | position, to sort */
	float	   *raw;			/* weights by position */
	double	   *when;			/* times by position, NaN if NULL */
	double	   *latest = NULL;	/* per output item */
	int			n = 0;

	out->exclude_seen = false;
	packed = SPI_palloc(sizeof(int64) * Max(n_rows, 1));
	raw = SPI_palloc(sizeof(float) * Max(n_rows, 1));
	when = SPI_palloc(sizeof(double) * Max(n_rows, 1));
	out->item = SPI_palloc(sizeof(int32) * Max(n_rows, 1));
	out->weight = SPI_palloc(sizeof(float) * Max(n_rows, 1));
	out->recency = NULL;
	if (model->half_life > 0)
	{
		out->recency = SPI_palloc(sizeof(float) * Max(n_rows, 1));
		latest = SPI_palloc(sizeof(double) * Max(n_rows, 1));
	}
	for (uint64 r = 0; r < n_rows; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[rows ? rows[r] : r];
		bool		null_item,
					null_weight,
					null_time;
		Datum		item = SPI_getbinval(tuple, SPI_tuptable->tupdesc, col->item, &null_item);
		Datum		weight = SPI_getbinval(tuple, SPI_tuptable->tupdesc, col->weight, &null_weight);
		Datum		time = SPI_getbinval(tuple, SPI_tuptable->tupdesc, col->time, &null_time);
		int32		index;

		if (null_item || null_weight)
			continue;
		index = rs_idmap_lookup(&model->items, DatumGetInt64(item));
		if (index < 0)
			continue;
		raw[r] = DatumGetFloat4(weight);
		if (!RsEventRowWeight(model, tuple, SPI_tuptable->tupdesc, col->event, &raw[r]))
			continue;
		if (ratings && !isfinite(raw[r]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("weight column \"%s\" holds %g for user " INT64_FORMAT " and item "
							INT64_FORMAT, model->weight_col, raw[r], user_id,
							DatumGetInt64(item)),
					 errdetail("%s: a model of ratings needs finite ratings, as its training did.", why),
					 errhint("Filter such rows out with a view, or use NULL to skip them.")));
		if (!null_time)
			RsRefuseNonFiniteTime(DatumGetFloat8(time), model->time_col);
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
			if (ratings)
				ereport(ERROR,
						(errcode(ERRCODE_CARDINALITY_VIOLATION),
						 errmsg("source \"%s\" rates item " INT64_FORMAT " more than once for user "
								INT64_FORMAT, model->source_name, model->items.ids[index], user_id),
						 errdetail("%s: a model of ratings needs one rating per pair, as its training did.",
								   why),
						 errhint("Serve from a view with one rating per pair, e.g. the latest with DISTINCT ON.")));
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
	{
		RsRecencyWeights(latest, out->n, model->half_life, model->time_col, out->recency);
		pfree(latest);
	}
	pfree(packed);
	pfree(raw);
	pfree(when);
}

/* The read of RsReadUserItems; ratings: refuse what rating models refuse. */
static void
read_user_items(RsModel *model, int64 user_id, const char *why, bool ratings, RsUserItems *out)
{
	Datum		value = Int64GetDatum(user_id);
	int			ret;

	RsRequireSource(model, why);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = RsExecutePlanAsOwner(model->name, RsSourceReader(model), model->seen_plan, &value);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the items of user " INT64_FORMAT " failed: %s", user_id,
			 SPI_result_code_string(ret));
	build_user_items(model, user_id, why, ratings, NULL, SPI_processed, &one_user_columns, out);
	SPI_finish();
}

/* A query's rows by user (row numbers sorted by the user in column 1). */
static int64 *sort_users_of;

static int
row_user_cmp(const void *a, const void *b)
{
	int64		x = sort_users_of[*(const uint64 *) a];
	int64		y = sort_users_of[*(const uint64 *) b];

	if (x != y)
		return x < y ? -1 : 1;
	/* the source's order within a user, as a query per user returns it */
	return (*(const uint64 *) a > *(const uint64 *) b) - (*(const uint64 *) a < *(const uint64 *) b);
}

/*
 * RsReadUsersItems reads the interactions of n users as RsReadUserItems
 * reads one user's (the same items, weights, recency and refusals), with
 * one query per RS_USERS_PER_READ users instead of one per user, and
 * calls fn(arg, u, items) for each user_ids[u] in order (items valid
 * during the call only; no SPI there).
 */
#define RS_USERS_PER_READ 1024

void
RsReadUsersItems(RsModel *model, const int64 *user_ids, int n, const char *why,
				 RsUserItemsFn fn, void *arg)
{
	bool		ratings = model->kind->rates && model->kind->rates(model);

	RsRequireSource(model, why);
	for (int first = 0; first < n; first += RS_USERS_PER_READ)
	{
		int			m = Min(RS_USERS_PER_READ, n - first);
		Datum		ids;
		int			ret;
		int64	   *row_user;
		uint64	   *order;
		uint64		lo = 0;

		CHECK_FOR_INTERRUPTS();
		ids = PointerGetDatum(RsInt64Array(user_ids + first, m));
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		ret = RsExecutePlanAsOwner(model->name, RsSourceReader(model), model->seen_many_plan, &ids);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "reading the items of %d users failed: %s", m, SPI_result_code_string(ret));
		row_user = palloc(sizeof(int64) * Max(SPI_processed, 1));
		order = palloc(sizeof(uint64) * Max(SPI_processed, 1));
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;

			/* (a NULL user matches no id: = ANY never holds for it) */
			row_user[r] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1,
													  &isnull));
			order[r] = r;
		}
		sort_users_of = row_user;
		qsort(order, SPI_processed, sizeof(uint64), row_user_cmp);
		sort_users_of = NULL;
		for (int u = 0; u < m; u++)
		{
			int64		user_id = user_ids[first + u];
			uint64		l = 0,
						h = SPI_processed;
			uint64		end;
			RsUserItems items = {0};

			CHECK_FOR_INTERRUPTS();
			/* the first row of the user (ids in any order, repeated or not) */
			while (l < h)
			{
				uint64		mid = l + (h - l) / 2;

				if (row_user[order[mid]] < user_id)
					l = mid + 1;
				else
					h = mid;
			}
			lo = l;
			for (end = lo; end < SPI_processed && row_user[order[end]] == user_id; end++)
				;
			build_user_items(model, user_id, why, ratings, order + lo, end - lo, &many_users_columns,
							 &items);
			fn(arg, first + u, &items);
			RsFreeUserItems(&items);
		}
		pfree(row_user);
		pfree(order);
		SPI_finish();
	}
}

/*
 * RsEventRowWeight applies a multi-behaviour model's event weights to a
 * row's weight, the event type being column attno of the row: false if
 * the row does not count (no type, a type the model was not trained with,
 * or one of weight 0, as training dropped it).  Other models: true.
 */
bool
RsEventRowWeight(RsModel *model, HeapTuple tuple, TupleDesc desc, int attno, float *weight)
{
	bool		isnull;
	Datum		d;
	text	   *type;
	float		w;

	if (model->events == NULL)
		return true;
	d = SPI_getbinval(tuple, desc, attno, &isnull);
	if (isnull)
		return false;
	type = DatumGetTextPP(d);
	if (!RsEventWeight(model->events, VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type), &w) || w == 0)
		return false;
	*weight *= w;
	if (isinf(*weight))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("weight times event weight is out of range for type real"),
				 errhint("Scale the weights down.")));
	return true;
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
 * RsExplainByUserItems is the explain of kinds whose scores are sums over
 * the user's items: the user's items as the source has them now, and
 * each one's share (the kind's contributions callback).
 */
int
RsExplainByUserItems(RsModel *model, int64 user_id, int32 j, int64 item_id,
					 RsContribution **out)
{
	RsUserItems items = {0};

	RsReadUserItems(model, user_id, "Explaining", &items);
	*out = palloc(sizeof(RsContribution) * Max(items.n, 1));
	/* no items, nothing to explain: no solve either */
	if (items.n > 0)
		model->kind->contributions(model, &items, j, user_id, *out);
	return items.n;
}
