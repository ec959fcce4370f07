/*-------------------------------------------------------------------------
 *
 * train_fm.c
 *		recsys.train_fm(): a factorisation machine (Rendle 2010) over user
 *		and item ids, item and user features and the context of an event
 *		(hour of day, weekday), trained to re-rank another model's top
 *		items.  How it serves is src/kind_fm.c; the numerics are
 *		src/kernel/fm.c.
 *
 * Loss: BPR's pairwise ln sigmoid(y(u, c, i) - y(u, c, j)) on a sampled
 * negative j per interaction, rather than a pointwise binary cross-entropy.
 * A re-ranker only orders one user's candidates, and the pairwise loss
 * optimises exactly that: every term of the FM that does not involve the
 * item cancels, so no capacity goes to how active a user is or when, and
 * no calibration of sampled negatives against positives is needed.
 * Negatives are uniform over the items the user does not have or, for a
 * share hard_negatives of them, drawn from the base model's own top items
 * for the user: the candidates the model will have to order when it
 * serves.
 *
 * Features (x_a):
 *	- the item's id (value 1) and its item_features, scaled so that their
 *	  values' squares sum to at most 1 (a long description does not drown
 *	  the id);
 *	- the user's id (1) and user_features, scaled likewise;
 *	- with time_col, the event's hour of day and weekday (value 1 each) in
 *	  the session's time zone; when the model serves, the statement's.
 * The parameters stored (recsys.model_parameters, see doc/internals.md):
 * item_terms (per item: t_i and Q_i, what serving needs), feature_weights
 * and feature_factors (the side features' w and v, for inspection), and
 * context_factors; user vectors (the sum of a user's v_a x_a) go into
 * recsys.user_factors like any factor model's; the feature dictionary is
 * the version's params (item_feature_names, user_feature_names: a name's
 * position is its row in feature_weights).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "pgtime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "args.h"
#include "cancel.h"
#include "fm.h"
#include "fm_model.h"
#include "history.h"
#include "item_features.h"
#include "model_acl.h"
#include "model_cache.h"
#include "model_kind.h"
#include "recency.h"
#include "recommend.h"
#include "progress.h"
#include "recsys.h"
#include "score.h"
#include "spi_util.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_train_fm);

#define FM_INIT_CHUNK 1024		/* features initialised between interrupt checks */

/* What one training run holds, beyond RsTrainer. */
typedef struct FmRun
{
	RsTrainer  *trainer;
	RsInteractions *data;
	int			k;
	/* the feature index layout: item ids, item features, user ids, user features, context */
	int32		item_feature_base;
	int32		user_base;
	int32		user_feature_base;
	int32		context_base;
	int32		base_feature_base;	/* with base_features: rank bands, then the score */
	int32		n_item_features;
	int32		n_user_features;
	char	  **item_feature_names;
	char	  **user_feature_names;
	bool		context;
	const char *time_zone;		/* of the hours and weekdays (the session's TimeZone) */
	RsFmData	d;
	RsFmParams	p;
	double		recent_window;	/* seconds (0: no item_recent) */
	float	   *item_recent;	/* per item: ln(1 + its rows in the window), or NULL */
} FmRun;

/*
 * Rows of (feature, value): each id's own feature (value 1) and its side
 * features from a features x ids CSR (NULL: none) shifted by base, the
 * side values scaled so that their squares sum to at most 1.
 */
static void
build_rows(int32 n, int32 id_base, const RsCsr *side, int32 side_base, RsFmRows *rows)
{
	int64	   *count = palloc0(sizeof(int64) * (n + 1));
	int64	   *indptr = palloc(sizeof(int64) * (n + 1));
	int64		nnz = n + (side ? side->nnz : 0);
	int32	   *feature = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(int32) * Max(nnz, 1), MCXT_ALLOC_HUGE);
	float	   *value = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(float) * Max(nnz, 1), MCXT_ALLOC_HUGE);
	double	   *square = palloc0(sizeof(double) * Max(n, 1));

	for (int32 i = 0; i < n; i++)
		count[i] = 1;
	if (side)
		for (int64 a = 0; a < side->nnz; a++)
		{
			count[side->indices[a]]++;
			square[side->indices[a]] += (double) side->data[a] * side->data[a];
		}
	indptr[0] = 0;
	for (int32 i = 0; i < n; i++)
		indptr[i + 1] = indptr[i] + count[i];
	for (int32 i = 0; i < n; i++)
	{
		feature[indptr[i]] = id_base + i;
		value[indptr[i]] = 1;
		count[i] = 1;
	}
	if (side)
		for (int32 f = 0; f < side->n_rows; f++)
			for (int64 a = side->indptr[f]; a < side->indptr[f + 1]; a++)
			{
				int32		i = side->indices[a];
				int64		slot = indptr[i] + count[i]++;

				feature[slot] = side_base + f;
				value[slot] = (float) (side->data[a] / Max(1.0, sqrt(square[i])));
			}
	rows->n_rows = n;
	rows->indptr = indptr;
	rows->feature = feature;
	rows->value = value;
	pfree(count);
	pfree(square);
}

/* The examples of a source without time_col: its distinct (user, item) pairs. */
static void
pair_examples(FmRun *run)
{
	const RsCsr *R = &run->data->by_user;
	int32	   *user = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(int32) * R->nnz, MCXT_ALLOC_HUGE);

	for (int32 u = 0; u < R->n_rows; u++)
		for (int64 a = R->indptr[u]; a < R->indptr[u + 1]; a++)
			user[a] = u;
	run->d.n_examples = R->nnz;
	run->d.example_user = user;
	run->d.example_item = R->indices;
}

/* The events read with their context (time_col), growing arrays. */
typedef struct EventRead
{
	FmRun	   *run;
	int64		n;
	int64		capacity;
	int32	   *user;
	int32	   *item;
	int32	   *context;		/* 2 per event: hour, weekday */
	float	   *value;
	double	   *seconds;		/* the event's time */
} EventRead;

static void
keep_event(TupleTableSlot *slot, void *arg)
{
	EventRead  *r = arg;
	int32		u = rs_idmap_lookup(&r->run->data->users, DatumGetInt64(slot->tts_values[0]));
	int32		i = rs_idmap_lookup(&r->run->data->items, DatumGetInt64(slot->tts_values[1]));
	int32		hour = DatumGetInt32(slot->tts_values[2]);
	int32		dow = DatumGetInt32(slot->tts_values[3]);
	double		seconds = DatumGetFloat8(slot->tts_values[4]);

	CHECK_FOR_INTERRUPTS();
	if (u < 0 || i < 0 || hour < 0 || hour > 23 || dow < 0 || dow > 6)
		return;
	if (r->n == r->capacity)
	{
		Size		bytes = (Size) r->capacity * 2 * (4 * sizeof(int32) + 3 * sizeof(float) + sizeof(double));

		if (bytes + RsInteractionBytes(r->run->data) > RECSYS_MAX_MEMORY_BYTES)
			RsCheckTrainingMemory("the events with their context", bytes, r->run->data);
		r->capacity *= 2;
		r->user = repalloc_huge(r->user, sizeof(int32) * r->capacity);
		r->item = repalloc_huge(r->item, sizeof(int32) * r->capacity);
		r->context = repalloc_huge(r->context, sizeof(int32) * 2 * r->capacity);
		r->value = repalloc_huge(r->value, sizeof(float) * 2 * r->capacity);
		r->seconds = repalloc_huge(r->seconds, sizeof(double) * r->capacity);
	}
	r->seconds[r->n] = seconds;
	r->user[r->n] = u;
	r->item[r->n] = i;
	r->context[2 * r->n] = r->run->context_base + hour;
	r->context[2 * r->n + 1] = r->run->context_base + FM_HOURS + dow;
	r->value[2 * r->n] = 1;
	r->value[2 * r->n + 1] = 1;
	r->n++;
}

/* The base type of a source's time column (checked by RsTimeEpochSql). */
static Oid
time_col_type(Oid relid, const char *time_col)
{
	return getBaseType(get_atttype(relid, get_attnum(relid, time_col)));
}

/*
 * Each item's recent sales, as of the source's latest time: ln(1 + the
 * number of its rows in the last recent_window seconds).  An item in
 * season (Christmas goods in November) is what users buy next, which a
 * model of who bought what together does not see.  Computed from the
 * training source once, stored (item_recent) and served as stored, so
 * that serving ranks with the very values training had.
 */
static void
recent_sales(FmRun *run, const int32 *item, const double *seconds, int64 n)
{
	int32		n_items = run->data->items.count;
	double		latest = -INFINITY;
	int64	   *count = palloc0(sizeof(int64) * Max(n_items, 1));

	for (int64 e = 0; e < n; e++)
		latest = Max(latest, seconds[e]);
	for (int64 e = 0; e < n; e++)
		if (seconds[e] > latest - run->recent_window)
			count[item[e]]++;
	run->item_recent = palloc(sizeof(float) * Max(n_items, 1));
	for (int32 i = 0; i < n_items; i++)
		run->item_recent[i] = (float) log1p((double) count[i]);
	pfree(count);
}

/*
 * The examples of a source with time_col: one per row (an item bought at
 * two hours is two examples), each with its hour and weekday (the context,
 * unless run->context is off) and, with a half_life (seconds, 0: none),
 * a weight 0.5^(age / half_life), the age counted from the user's latest
 * interaction, as a recency-weighted item model counts it.
 */
static void
event_examples(FmRun *run, const char *time_col, double half_life)
{
	RsSourceSpec *spec = &run->trainer->spec;
	char	   *epoch = RsTimeEpochSql(spec->relid, time_col, "time_col");
	const char *col = quote_identifier(time_col);
	char	   *local;
	char	   *query;
	Datum		zone = CStringGetTextDatum(run->time_zone);
	EventRead	r = {run, 0, 1024};

	/*
	 * The local time the hour and weekday come from: a timestamp's own
	 * (wall-clock time), a timestamptz's or a number of seconds' in the
	 * recorded zone ($1), a date's midnight (no context: refused).
	 */
	switch (time_col_type(spec->relid, time_col))
	{
		case TIMESTAMPOID:
			local = pstrdup(col);
			break;
		case DATEOID:
			local = psprintf("%s::pg_catalog.timestamp", col);
			break;
		default:
			local = psprintf("(pg_catalog.to_timestamp(%s) AT TIME ZONE $1)", epoch);
			break;
	}

	r.user = palloc(sizeof(int32) * r.capacity);
	r.item = palloc(sizeof(int32) * r.capacity);
	r.context = palloc(sizeof(int32) * 2 * r.capacity);
	r.value = palloc(sizeof(float) * 2 * r.capacity);
	r.seconds = palloc(sizeof(double) * r.capacity);
	query = psprintf("SELECT %s::pg_catalog.int8, %s::pg_catalog.int8, "
					 "pg_catalog.date_part('hour', l)::pg_catalog.int4, "
					 "pg_catalog.date_part('dow', l)::pg_catalog.int4, "
					 "pg_catalog.date_part('epoch', t) "
					 "FROM (SELECT %s, %s, pg_catalog.to_timestamp(%s) AS t, %s AS l FROM %s) s "
					 "WHERE %s IS NOT NULL AND %s IS NOT NULL AND t IS NOT NULL "
					 "AND pg_catalog.isfinite(t)",
					 quote_identifier(spec->user_col), quote_identifier(spec->item_col),
					 quote_identifier(spec->user_col), quote_identifier(spec->item_col),
					 epoch, local, RsRelationName(spec->relid),
					 quote_identifier(spec->user_col), quote_identifier(spec->item_col));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsStreamQuery(query, 1, (Oid[]) {TEXTOID}, &zone, NULL, true, keep_event, &r);
	SPI_finish();
	if (r.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time_col \"%s\" is NULL in every row of the source", time_col),
				 errhint("Train without time_col, or fill the column.")));
	run->d.n_examples = r.n;
	run->d.example_user = r.user;
	run->d.example_item = r.item;
	if (run->recent_window > 0)
		recent_sales(run, r.item, r.seconds, r.n);
	if (run->context)
	{
		run->d.n_context = 2;
		run->d.context_feature = r.context;
		run->d.context_value = r.value;
	}
	if (half_life > 0)
	{
		double	   *latest = palloc(sizeof(double) * Max(run->data->users.count, 1));
		float	   *weight = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(float) * r.n,
														MCXT_ALLOC_HUGE);

		for (int32 u = 0; u < run->data->users.count; u++)
			latest[u] = -INFINITY;
		for (int64 e = 0; e < r.n; e++)
			latest[r.user[e]] = Max(latest[r.user[e]], r.seconds[e]);
		for (int64 e = 0; e < r.n; e++)
			weight[e] = (float) exp2(-(latest[r.user[e]] - r.seconds[e]) / half_life);
		run->d.example_weight = weight;
	}
}

/*
 * Each user's items, ascending, for rejecting negatives (the kernel's
 * binary search): the source's rows by user as read, whose columns the
 * CSR already holds strictly ascending within a row (rs_coo_to_csr).
 * That is checked, in one pass, rather than sorted again.
 */
static void
seen_lists(FmRun *run)
{
	const RsCsr *R = &run->data->by_user;

	for (int32 u = 0; u < R->n_rows; u++)
	{
		if ((u & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int64 p = R->indptr[u] + 1; p < R->indptr[u + 1]; p++)
			if (R->indices[p - 1] >= R->indices[p])
				elog(ERROR, "the interactions of user " INT64_FORMAT " are not in ascending item order",
					 run->data->users.ids[u]);
	}
	run->d.seen_indptr = R->indptr;
	run->d.seen_item = R->indices;
}

/*
 * The base model's top pool items for every user of the source, best
 * first, as hard negatives and (with scores) for the base features: each
 * one's score standardised over the user's pool as serving does.  The
 * pool is drawn as serving draws it (src/kind_fm.c, rescore_pool): the
 * items the user has in the base's source are left out, as the base's
 * own serving with exclude_seen does, and so are the items the FM does
 * not know, before the base ranks, so that the pool holds pool items the
 * FM knows whenever the base reaches that many.  (The user's items in
 * the FM's source are the positives: they stay, as the base would have
 * offered them before the user took them.)  The base serves as it would
 * for the caller: the trainer may use it (RsGetModel checked).
 */
static void
base_pool_lists(FmRun *run, const char *base_name, int pool, bool scores)
{
	RsInteractions *data = run->data;
	int32		n_users = data->users.count;
	int64	   *indptr = palloc(sizeof(int64) * (n_users + 1));
	int32	   *items;
	float	   *item_score = NULL;
	int64		n = 0;
	RsModel    *base = RsGetModel(base_name);
	float	   *scratch = MemoryContextAllocExtended(CurrentMemoryContext,
													 sizeof(float) * Max(base->items.count, RS_SCORE_BLOCK),
													 MCXT_ALLOC_HUGE);
	Size		bitmap = RS_BITMAP_BYTES(base->items.count) + 1;
	uint8	   *unknown = palloc0(bitmap);
	uint8	   *exclude = palloc(bitmap);
	int32	   *to_fm = MemoryContextAllocExtended(CurrentMemoryContext,
												   sizeof(int32) * Max(base->items.count, 1), MCXT_ALLOC_HUGE);
	int32	   *top = palloc(sizeof(int32) * pool);
	float	   *top_score = palloc(sizeof(float) * pool);

	RsCheckTrainingMemory("the base model's candidates",
						  (Size) n_users * pool * (sizeof(int32) + (scores ? sizeof(float) : 0)), data);
	items = MemoryContextAllocExtended(CurrentMemoryContext, (Size) n_users * pool * sizeof(int32) + 1,
									   MCXT_ALLOC_HUGE);
	if (scores)
		item_score = MemoryContextAllocExtended(CurrentMemoryContext, (Size) n_users * pool * sizeof(float) + 1,
												MCXT_ALLOC_HUGE);
	for (int32 b = 0; b < base->items.count; b++)
	{
		to_fm[b] = rs_idmap_lookup(&data->items, base->items.ids[b]);
		if (to_fm[b] < 0)
			rs_bitmap_set(unknown, b);
	}
	indptr[0] = 0;
	for (int32 u = 0; u < n_users; u++)
	{
		RsUserItems own = {0};
		bool		has_items;
		int			found;

		CHECK_FOR_INTERRUPTS();
		has_items = RsReadServingItems(base, data->users.ids[u], true, &own);
		memcpy(exclude, unknown, bitmap);
		for (int a = 0; a < own.n; a++)
			rs_bitmap_set(exclude, own.item[a]);
		found = RsRankForUser(base, data->users.ids[u], has_items ? &own : NULL, exclude, pool, scratch,
							  top, top_score, NULL);
		for (int r = 0; r < found; r++)
		{
			if (item_score)
				item_score[n] = top_score[r];
			items[n++] = to_fm[top[r]];
		}
		indptr[u + 1] = n;
		if (item_score)
			rs_fm_standardize(item_score + indptr[u], n - indptr[u]);
		RsFreeUserItems(&own);
	}
	run->d.hard_indptr = indptr;
	run->d.hard_item = items;
	run->d.hard_score = item_score;
}

static void diverged(const char *name) pg_attribute_noreturn();

static void
diverged(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("training of model \"%s\" diverged: its parameters overflowed", name),
			 errhint("Lower learning_rate.")));
}

/*
 * Re-rankers do not nest, nor re-rank inside blends: refuse to make a
 * re-ranker of a model another re-ranker re-ranks or a blend uses
 * (RsTrainer.refuse), every role's, also those the trainer may not see.
 */
static void
refuse_if_built_on(const char *name)
{
	static const char *const users[2][2] = {
		{"recsys._rerankers_using", "the candidates_from of re-ranker"},
		{"recsys._blends_using", "a member of blend"}};
	Datum		value = CStringGetTextDatum(name);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int u = 0; u < 2; u++)
	{
		char	   *query = psprintf("SELECT (%s($1))[1]", users[u][0]);
		bool		isnull;
		Datum		first;

		RsExecute(query, 1, (Oid[]) {TEXTOID}, &value, NULL, false, SPI_OK_SELECT);
		first = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("model \"%s\" is %s \"%s\", so it cannot become a re-ranker",
							name, users[u][1], TextDatumGetCString(first)),
					 errhint("Train the re-ranker under another name.")));
	}
	SPI_finish();
}

/*
 * The base model: one the caller may use, and not a re-ranker; its row
 * stays locked against dropping and renaming until the re-ranker commits.
 * Returns its owner's name, recorded as params.candidates_owner so that
 * serving and activate refuse a model another role later names so.
 */
static char *
check_base(const char *base_name, const char *model_name, bool last_basket)
{
	RsModel    *base;

	if (strcmp(base_name, model_name) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" cannot re-rank its own candidates", model_name),
				 errhint("Name another model as candidates_from.")));
	RsLockModelRow(base_name);
	base = RsGetModel(base_name);
	if (base->kind->reranks)
		RsFmRefuseNesting(base_name);
	RsFmRefuseUnscoredBase(base, model_name);
	if (base->kind->score_user == NULL && base->kind->rank_top_k == NULL)
		RsKindNotSupported(base, "ranking a user's items", offsetof(RsModelKind, score_user));
	if (last_basket)
		RsFmRequireLastBasket(base, model_name);
	return RsModelOwnerName(base->owner);
}

/* Feature names as a JSON array. */
static char *
json_names(char **names, int32 n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int32 f = 0; f < n; f++)
	{
		if (f > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, names[f]);
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* Training that overflowed leaves what serving needs not finite. */
static void
require_finite(const char *name, const float *values, int64 n)
{
	for (int64 a = 0; a < n; a++)
		if (!isfinite(values[a]))
			diverged(name);
}

/*
 * The end of a chunk of rows from begin holding about RS_STOP_WORK of
 * work (features x factors), at least one row.
 */
static int32
chunk_end(const RsFmRows *rows, int32 begin, int k)
{
	int32		end = begin + 1;

	while (end < rows->n_rows &&
		   (rows->indptr[end] - rows->indptr[begin]) * (int64) (k + 2) < RS_STOP_WORK)
		end++;
	return end;
}

/* The version's artefacts (RsTrainWriter). */
static void
write_fm(RsTrainer *trainer, int32 version, void *arg)
{
	FmRun	   *run = arg;
	RsInteractions *data = run->data;
	int			k = run->k;
	float	   *terms = MemoryContextAllocExtended(CurrentMemoryContext,
												   sizeof(float) * data->items.count * (k + 1), MCXT_ALLOC_HUGE);
	float	   *users = MemoryContextAllocExtended(CurrentMemoryContext,
												   sizeof(float) * data->users.count * k, MCXT_ALLOC_HUGE);
	int32		n_side = run->n_item_features + run->n_user_features;
	float	   *side_w = palloc(sizeof(float) * Max(n_side, 1));
	float	   *side_v = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(float) * Max(n_side, 1) * k,
													MCXT_ALLOC_HUGE);
	int32		shape[2];

	RsWriteItemStatsFromData(trainer->name, version, data);
	/* (chunks of items and users by their features, between interrupt checks) */
	for (int32 i = 0, end; i < data->items.count; i = end)
	{
		end = chunk_end(&run->d.items, i, k);
		rs_fm_item_terms(&run->p, &run->d.items, i, end, terms);
		CHECK_FOR_INTERRUPTS();
	}
	require_finite(trainer->name, terms, (int64) data->items.count * (k + 1));
	shape[0] = data->items.count;
	shape[1] = k + 1;
	RsWriteParameter(trainer->name, version, FM_ITEM_TERMS, shape, 2, terms);
	for (int32 u = 0, end; u < data->users.count; u = end)
	{
		end = chunk_end(&run->d.users, u, k);
		for (; u < end; u++)
			rs_fm_side_sum(&run->p, &run->d.users, u, users + (int64) u * k);
		CHECK_FOR_INTERRUPTS();
	}
	require_finite(trainer->name, users, (int64) data->users.count * k);
	RsWriteFactors(RS_USERS, trainer->name, version, data->users.ids, NULL, users, data->users.count, k);

	/* the side features' own parameters: item features, then user features */
	for (int32 f = 0; f < n_side; f++)
	{
		int32		a = f < run->n_item_features ? run->item_feature_base + f :
			run->user_feature_base + (f - run->n_item_features);

		side_w[f] = run->p.w[a];
		memcpy(side_v + (int64) f * k, run->p.v + (int64) a * k, sizeof(float) * k);
		if ((f & 65535) == 65535)
			CHECK_FOR_INTERRUPTS();
	}
	shape[0] = n_side;
	RsWriteParameter(trainer->name, version, FM_FEATURE_WEIGHTS, shape, 1, side_w);
	shape[1] = k;
	RsWriteParameter(trainer->name, version, FM_FEATURE_FACTORS, shape, 2, side_v);
	if (run->context)
	{
		shape[0] = FM_CONTEXTS;
		shape[1] = k;
		RsWriteParameter(trainer->name, version, FM_CONTEXT_FACTORS, shape, 2,
						 run->p.v + (int64) run->context_base * k);
	}
	if (run->item_recent)
	{
		shape[0] = data->items.count;
		RsWriteParameter(trainer->name, version, FM_ITEM_RECENT, shape, 1, run->item_recent);
	}
	if (run->d.hard_score)
	{
		/* per base feature: its w, then its v */
		float		base[RS_FM_BASE_FEATURES * (RS_FM_MAX_FACTORS + 1)];

		for (int f = 0; f < RS_FM_BASE_FEATURES; f++)
		{
			base[f * (k + 1)] = run->p.w[run->base_feature_base + f];
			memcpy(base + f * (k + 1) + 1, run->p.v + (int64) (run->base_feature_base + f) * k,
				   sizeof(float) * k);
		}
		require_finite(trainer->name, base, RS_FM_BASE_FEATURES * (k + 1));
		shape[0] = RS_FM_BASE_FEATURES;
		shape[1] = k + 1;
		RsWriteParameter(trainer->name, version, FM_BASE_FEATURES, shape, 2, base);
	}
}

/* An interval in seconds (months count 30 days, as half_life's elsewhere). */
static double
interval_seconds(const Interval *span)
{
	return (double) span->time / USECS_PER_SEC +
		((double) span->day + (double) span->month * DAYS_PER_MONTH) * SECS_PER_DAY;
}

/*
 * recsys_train_fm(source regclass, candidates_from text, model text,
 *				   factors int, epochs int, learning_rate float8,
 *				   regularization float8, pool int, base_weight float8,
 *				   item_features regclass, user_features regclass,
 *				   time_col name, half_life interval, context bool,
 *				   hard_negatives float8, user_col name,
 *				   item_col name, seed int8, verbose bool, replace bool,
 *				   base_features bool, last_basket_weight float8,
 *				   recent_weight float8, recent_window interval)
 */
Datum
recsys_train_fm(PG_FUNCTION_ARGS)
{
	static const RsTrainArgNos argnos = {.model = 2,.cols = 15,.weight_col = -1,.replace = 19};
	RsTrainer	trainer;
	RsInteractions data;
	FmRun		run;
	char	   *base_name;
	char	   *base_owner;
	int			epochs;
	double		learning_rate;
	double		regularization;
	int			pool;
	double		base_weight;
	Oid			item_features = InvalidOid;
	Oid			user_features = InvalidOid;
	const char *time_col = NULL;
	double		hard_share;
	double		half_life = 0;
	bool		context;
	bool		base_features;
	double		last_basket_weight;
	double		recent_weight;
	int64		seed;
	RsCsr		item_side,
				user_side;
	RsItemFeatureCounts item_counts = {0},
				user_counts = {0};
	RsFmSettings settings;
	float	   *workspace;
	int64	   *order;
	Size		bytes;
	double		fit_start;
	double		loss = 0;

	RsTrainArgs(fcinfo, &argnos, &trainer);
	base_name = RsTextArg(fcinfo, 1, "candidates_from");
	memset(&run, 0, sizeof(run));
	run.k = RsIntArg(fcinfo, 3, "factors", 1, RS_FM_MAX_FACTORS);
	epochs = RsIntArg(fcinfo, 4, "epochs", 1, 10000);
	learning_rate = RsFloatArg(fcinfo, 5, "learning_rate", 1e-6, 10, NAN);
	regularization = RsFloatArg(fcinfo, 6, "regularization", 0, 100, NAN);
	pool = RsIntArg(fcinfo, 7, "pool", 1, FM_MAX_POOL);
	base_weight = RsFloatArg(fcinfo, 8, "base_weight", -1000, 1000, NAN);
	if (!PG_ARGISNULL(9))
		item_features = PG_GETARG_OID(9);
	if (!PG_ARGISNULL(10))
		user_features = PG_GETARG_OID(10);
	if (!PG_ARGISNULL(11))
		time_col = NameStr(*PG_GETARG_NAME(11));
	if (!PG_ARGISNULL(12))
	{
		half_life = interval_seconds(PG_GETARG_INTERVAL_P(12));
		if (!(half_life >= 1))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("half_life must be at least 1 second, not %g seconds", half_life)));
		if (time_col == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("half_life needs time_col"),
					 errhint("Name the column of the interaction times as time_col.")));
	}
	RsRequireArg(fcinfo, 13, "context");
	context = PG_GETARG_BOOL(13);
	hard_share = RsFloatArg(fcinfo, 14, "hard_negatives", 0, 1, NAN);
	RsRequireArg(fcinfo, 17, "seed");
	seed = PG_GETARG_INT64(17);
	RsRequireArg(fcinfo, 18, "verbose");
	trainer.verbose = PG_GETARG_BOOL(18);
	RsRequireArg(fcinfo, 20, "base_features");
	base_features = PG_GETARG_BOOL(20);
	last_basket_weight = RsFloatArg(fcinfo, 21, "last_basket_weight", -1000, 1000, NAN);
	recent_weight = RsFloatArg(fcinfo, 22, "recent_weight", -1000, 1000, NAN);
	RsRequireArg(fcinfo, 23, "recent_window");
	if (recent_weight != 0)
	{
		run.recent_window = interval_seconds(PG_GETARG_INTERVAL_P(23));
		if (!(run.recent_window >= 1))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("recent_window must be at least 1 second, not %g seconds", run.recent_window)));
		if (time_col == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("recent_weight needs time_col"),
					 errhint("Name the column of the interaction times as time_col, or leave recent_weight at 0.")));
	}

	trainer.refuse = refuse_if_built_on;
	RsTrainBegin(&trainer, "fm", &data);
	base_owner = check_base(base_name, trainer.name, last_basket_weight != 0);
	if (time_col)
		RsRefuseInfiniteTimes(trainer.spec.relid, time_col);
	run.trainer = &trainer;
	run.data = &data;

	/* features, within what recsys.max_memory leaves */
	memset(&item_side, 0, sizeof(item_side));
	memset(&user_side, 0, sizeof(user_side));
	if (OidIsValid(item_features))
	{
		RsFeatureRelation rel = {item_features, "item_features", "item", trainer.spec.item_col, "item_col", true};

		RsReadFeatures(&rel, &data.items, RsInteractionBytes(&data), &item_side, &item_counts,
					   &run.item_feature_names);
		run.n_item_features = item_side.n_rows;
	}
	if (OidIsValid(user_features))
	{
		RsFeatureRelation rel = {user_features, "user_features", "user", trainer.spec.user_col, "user_col", true};

		RsReadFeatures(&rel, &data.users, RsInteractionBytes(&data), &user_side, &user_counts,
					   &run.user_feature_names);
		run.n_user_features = user_side.n_rows;
	}
	run.context = time_col != NULL && context;
	/*
	 * The zone of the hours and weekdays, also at serving (kind_fm.c): its
	 * resolved name as SHOW TimeZone prints it, not the raw setting (after
	 * SET TIME ZONE 5 or INTERVAL '+05:30' the setting reads as a POSIX
	 * offset, west of UTC: the opposite sign).
	 */
	run.time_zone = pstrdup(pg_get_timezone_name(session_timezone));
	if (run.context && time_col_type(trainer.spec.relid, time_col) == DATEOID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time_col \"%s\" is a date, which has no hour of day for context", time_col),
				 errhint("Pass context => false to weight by time_col only, or name a timestamp column.")));
	if ((int64) data.items.count + run.n_item_features + data.users.count + run.n_user_features +
		FM_CONTEXTS + RS_FM_BASE_FEATURES > INT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the factorisation machine would have more than %d features", INT32_MAX / 2)));
	run.item_feature_base = data.items.count;
	run.user_base = run.item_feature_base + run.n_item_features;
	run.user_feature_base = run.user_base + data.users.count;
	run.context_base = run.user_feature_base + run.n_user_features;
	run.base_feature_base = run.context_base + (run.context ? FM_CONTEXTS : 0);
	run.d.n_features = run.base_feature_base + (base_features ? RS_FM_BASE_FEATURES : 0);
	run.d.base_feature = run.base_feature_base;

	/* parameters, examples (with their order) and item terms */
	bytes = (Size) run.d.n_features * (run.k + 1) * sizeof(float) +
		(Size) data.by_user.nnz * (sizeof(int32) + sizeof(int64) + 2 * sizeof(int32)) +
		(Size) (data.items.count + data.users.count + item_side.nnz + user_side.nnz) * 2 * (sizeof(int32) + sizeof(float)) +
		(Size) data.items.count * (run.k + 1) * sizeof(float) +
		(Size) data.users.count * run.k * sizeof(float) +
		(hard_share > 0 || base_features ? (Size) data.users.count * pool * sizeof(int32) : 0) +
		(base_features ? (Size) data.users.count * pool * sizeof(float) : 0);
	RsCheckTrainingMemory("the factorisation machine", bytes, &data);

	build_rows(data.items.count, 0, OidIsValid(item_features) ? &item_side : NULL, run.item_feature_base,
			   &run.d.items);
	build_rows(data.users.count, run.user_base, OidIsValid(user_features) ? &user_side : NULL,
			   run.user_feature_base, &run.d.users);
	if (time_col)
		event_examples(&run, time_col, half_life);
	else
		pair_examples(&run);
	seen_lists(&run);
	if (hard_share > 0 || base_features)
	{
		base_pool_lists(&run, base_name, pool, base_features);
		run.d.hard_share = (float) hard_share;
	}

	fit_start = RsSeconds();
	run.p.n_features = run.d.n_features;
	run.p.k = run.k;
	run.p.w = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(float) * run.d.n_features, MCXT_ALLOC_HUGE);
	run.p.v = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(float) * run.d.n_features * run.k,
										 MCXT_ALLOC_HUGE);
	for (int32 begin = 0; begin < run.d.n_features; begin += FM_INIT_CHUNK)
	{
		CHECK_FOR_INTERRUPTS();
		rs_fm_init(&run.p, (uint64) seed, FM_INIT_SD, begin, Min(begin + FM_INIT_CHUNK, run.d.n_features));
	}
	workspace = palloc(sizeof(float) * rs_fm_workspace_floats(run.k));
	order = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(int64) * Max(run.d.n_examples, 1),
									   MCXT_ALLOC_HUGE);
	settings.learning_rate = (float) learning_rate;
	settings.regularization = (float) regularization;
	settings.seed = (uint64) seed;
	settings.nthreads = recsys_threads;
	for (int e = 0; e < epochs; e++)
	{
		int			status = rs_fm_epoch(&run.d, &run.p, &settings, e, workspace, order,
										 RsCancelRequested, NULL, &loss);

		if (status == RS_FM_STOPPED)
			RsKernelStopped(psprintf("training of model \"%s\"", trainer.name));
		if (status == RS_FM_ERR_DIVERGED)
			diverged(trainer.name);
		/* RS_FM_ERR_THREAD: fewer threads ran, the results are the same */
		CHECK_FOR_INTERRUPTS();
		RsProgressIteration(e + 1, epochs, "loss", loss, NULL);
	}

	RsJsonText(&trainer.params, "candidates_from", base_name);
	RsJsonText(&trainer.params, "candidates_owner", base_owner);
	RsJsonInt(&trainer.params, "pool", pool);
	RsJsonFloat(&trainer.params, "base_weight", base_weight);
	RsJsonInt(&trainer.params, "factors", run.k);
	RsJsonInt(&trainer.params, "epochs", epochs);
	RsJsonFloat(&trainer.params, "learning_rate", learning_rate);
	RsJsonFloat(&trainer.params, "regularization", regularization);
	RsJsonFloat(&trainer.params, "hard_negatives", hard_share);
	RsJsonText(&trainer.params, "base_features", base_features ? "true" : "false");
	if (last_basket_weight != 0)
		RsJsonFloat(&trainer.params, "last_basket_weight", last_basket_weight);
	if (recent_weight != 0)
	{
		RsJsonFloat(&trainer.params, "recent_weight", recent_weight);
		RsJsonFloat(&trainer.params, "recent_window_seconds", run.recent_window);
	}
	RsJsonInt(&trainer.params, "seed", seed);
	RsJsonInt(&trainer.params, "threads", recsys_threads);
	RsJsonText(&trainer.params, "item_features",
			   OidIsValid(item_features) ? RsRelationName(item_features) : NULL);
	RsJsonText(&trainer.params, "user_features",
			   OidIsValid(user_features) ? RsRelationName(user_features) : NULL);
	RsJsonText(&trainer.params, "time_col", time_col);
	if (half_life > 0)
		RsJsonFloat(&trainer.params, "half_life_seconds", half_life);
	RsJsonText(&trainer.params, "context", run.context ? "true" : "false");
	if (run.context)
		RsJsonText(&trainer.params, "time_zone", run.time_zone);
	RsJsonRaw(&trainer.params, "item_feature_names", json_names(run.item_feature_names, run.n_item_features));
	RsJsonRaw(&trainer.params, "user_feature_names", json_names(run.user_feature_names, run.n_user_features));
	RsJsonFloat(&trainer.stats, "loss", loss);
	RsJsonInt(&trainer.stats, "examples", run.d.n_examples);
	RsJsonInt(&trainer.stats, "item_features", run.n_item_features);
	RsJsonInt(&trainer.stats, "items_with_features", item_counts.items);
	RsJsonInt(&trainer.stats, "user_features", run.n_user_features);
	RsJsonInt(&trainer.stats, "users_with_features", user_counts.items);
	RsJsonFloat(&trainer.stats, "fit_seconds", RsSeconds() - fit_start);
	PG_RETURN_DATUM(RsTrainFinish(fcinfo, &trainer, write_fm, &run));
}
