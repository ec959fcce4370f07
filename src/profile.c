/*-------------------------------------------------------------------------
 *
 * profile.c
 *		Users as a merchandiser reads them.
 *
 * recsys.user_profile(user_id, model, facets, facet_col, item_col, k): the
 * user's affinity per value of an item attribute (category, brand, price
 * band: any relation of (item, facet) rows, read with the caller's
 * privileges), from two sides:
 *	history: the share of the user's interaction weight (as the model reads
 *		the source: weight column, event weights) on the facet's items,
 *		against the share of all training interactions (the model's item
 *		popularity), and their ratio, the lift;
 *	model: the share of the user's top k recommendations (seen items
 *		excluded, as recommend does) in the facet, against the share of the
 *		average user's top k (the model's cold-start scores), and the lift.
 * An item with several facet rows counts in each; items without one fall
 * in the row whose facet is NULL, so the shares of a single-valued facet
 * add up to 1.
 *
 * recsys.similar_users(user_id, k, model): through the kinds'
 * similar_users callback (stored user vectors of factor models, stored
 * neighbour lists of user-kNN); a kind without it gets the one
 * not-supported error, and a model trained without per-user data refuses.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"

#include "args.h"
#include "history.h"
#include "ingest.h"
#include "model_cache.h"
#include "model_kind.h"
#include "profile.h"
#include "recommend.h"
#include "recsys.h"
#include "score.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(recsys_similar_users);
PG_FUNCTION_INFO_V1(recsys_user_profile);

#define PROFILE_MAX_K 10000

/* RsUserScoresAdd appends one user and score (growing the arrays). */
void
RsUserScoresAdd(RsUserScores *s, int64 id, float score)
{
	if (isnan(score))
		return;
	if (s->n == s->capacity)
	{
		s->capacity = Max(64, s->capacity * 2);
		if ((Size) s->capacity * (sizeof(int64) + sizeof(float)) > RECSYS_MAX_MEMORY_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("comparing users needs more than recsys.max_memory (%d MB)",
							recsys_max_memory_mb),
					 errdetail("%lld users compared so far.", (long long) s->n),
					 errhint("Raise recsys.max_memory.")));
		if (s->ids == NULL)
		{
			MemoryContext mcxt = s->mcxt ? s->mcxt : CurrentMemoryContext;

			s->ids = MemoryContextAllocHuge(mcxt, sizeof(int64) * s->capacity);
			s->scores = MemoryContextAllocHuge(mcxt, sizeof(float) * s->capacity);
		}
		else
		{
			s->ids = repalloc_huge(s->ids, sizeof(int64) * s->capacity);
			s->scores = repalloc_huge(s->scores, sizeof(float) * s->capacity);
		}
	}
	s->ids[s->n] = id;
	s->scores[s->n] = score;
	s->n++;
}

/* Highest score first, then smaller id: the order of every ranking. */
static int
user_score_cmp(const void *a, const void *b, void *arg)
{
	const RsUserScores *s = arg;
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	if (s->scores[x] != s->scores[y])
		return s->scores[x] > s->scores[y] ? -1 : 1;
	return s->ids[x] < s->ids[y] ? -1 : s->ids[x] > s->ids[y];
}

/* RsUserScoresTop puts the best k users into out_ids/out_score; their count. */
int
RsUserScoresTop(RsUserScores *s, int k, int64 *out_ids, float *out_score)
{
	int64	   *order;
	int			found = (int) Min((int64) k, s->n);

	if (s->n == 0)
		return 0;
	order = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * s->n);
	for (int64 j = 0; j < s->n; j++)
		order[j] = j;
	qsort_arg(order, s->n, sizeof(int64), user_score_cmp, s);
	for (int r = 0; r < found; r++)
	{
		out_ids[r] = s->ids[order[r]];
		out_score[r] = s->scores[order[r]];
	}
	pfree(order);
	return found;
}

/*
 * recsys_similar_users(user_id bigint, k int, model text) returns
 * (user_id, score), the users most like the given one, best first.
 */
Datum
recsys_similar_users(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsModel    *model;
	int64		user_id;
	int			k;
	int64	   *ids;
	float	   *scores;
	int			found;

	RsRequireArg(fcinfo, 0, "user_id");
	user_id = PG_GETARG_INT64(0);
	k = RsKArg(fcinfo, 1);
	RsRequireArg(fcinfo, 2, "model");
	model = RsGetModel(text_to_cstring(PG_GETARG_TEXT_PP(2)));
	RS_REQUIRE(model, similar_users, "similar_users");
	ids = palloc(sizeof(int64) * k);
	scores = palloc(sizeof(float) * k);
	found = model->kind->similar_users(model, user_id, k, ids, scores);
	if (found < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("user " INT64_FORMAT " is not in model \"%s\"", user_id, model->name),
				 errhint("Only users of the model's training source can be compared.")));
	InitMaterializedSRF(fcinfo, 0);
	for (int r = 0; r < found; r++)
	{
		Datum		values[2] = {Int64GetDatum(ids[r]), Float4GetDatum(scores[r])};
		bool		nulls[2] = {false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* One facet value's sums (user_profile). */
typedef struct Facet
{
	char	   *value;			/* NULL: the items without a facet row */
	int			items;			/* of the model's items */
	int			history_items;	/* the user's items among them */
	double		history;		/* the user's weight on them */
	double		population;		/* their popularity */
	int			top;			/* in the user's top k */
	int			baseline_top;	/* in the average user's top k */
} Facet;

/*
 * The facets, found by value in a hash table (a facet per item of a large
 * model made a linear scan per row quadratic: 60,000 values, 19 s); the
 * value-less facet (NULL) apart.
 */
typedef struct FacetSet
{
	int			n;
	int			capacity;
	Facet	   *facets;
	HTAB	   *by_value;		/* FacetEntry by value, built at the first value */
	int			null_facet;		/* its index + 1; 0: none yet */
} FacetSet;

typedef struct FacetEntry
{
	const char *value;			/* the key: the facet's own copy, compared as a string */
	int			index;
} FacetEntry;

static uint32
facet_hash(const void *key, Size keysize)
{
	const char *value = *(const char *const *) key;

	return hash_bytes((const unsigned char *) value, strlen(value));
}

static int
facet_match(const void *key1, const void *key2, Size keysize)
{
	return strcmp(*(const char *const *) key1, *(const char *const *) key2);
}

static Facet *
facet_for(FacetSet *set, const char *value)
{
	FacetEntry *entry = NULL;
	bool		found;

	if (value == NULL && set->null_facet > 0)
		return &set->facets[set->null_facet - 1];
	if (value != NULL)
	{
		if (set->by_value == NULL)
		{
			HASHCTL		ctl = {0};

			ctl.keysize = sizeof(const char *);
			ctl.entrysize = sizeof(FacetEntry);
			ctl.hash = facet_hash;
			ctl.match = facet_match;
			ctl.hcxt = CurrentMemoryContext;
			set->by_value = hash_create("recsys user_profile facets", 256, &ctl,
										HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
		}
		entry = hash_search(set->by_value, &value, HASH_ENTER, &found);
		if (found)
			return &set->facets[entry->index];
	}
	if (set->n == set->capacity)
	{
		set->capacity = Max(16, set->capacity * 2);
		set->facets = set->facets ? repalloc(set->facets, sizeof(Facet) * set->capacity) :
			palloc(sizeof(Facet) * set->capacity);
	}
	memset(&set->facets[set->n], 0, sizeof(Facet));
	set->facets[set->n].value = value ? pstrdup(value) : NULL;
	if (entry != NULL)
	{
		/* the key points at the facet's copy, not the caller's string */
		entry->value = set->facets[set->n].value;
		entry->index = set->n;
	}
	else
		set->null_facet = set->n + 1;
	return &set->facets[set->n++];
}

/* What the profile's facet rows feed: per model item, its facet(s). */
typedef struct FacetRead
{
	MemoryContext mcxt;			/* the caller's: outlives the read's SPI connection */
	RsModel    *model;
	FacetSet   *set;
	/* pairs (item index, facet number) */
	int64		n;
	int64		capacity;
	int32	   *item;
	int32	   *facet;
	uint8	   *has_facet;		/* per item: in some facet row */
} FacetRead;

static void
facet_row(TupleTableSlot *slot, void *arg)
{
	FacetRead  *read = arg;
	int32		i;
	Facet	   *f;
	char	   *value;
	MemoryContext old;

	slot_getallattrs(slot);
	if ((read->n & 4095) == 0)
		CHECK_FOR_INTERRUPTS();
	if (slot->tts_isnull[0] || slot->tts_isnull[1])
		return;
	i = RsModelItemIndex(read->model, DatumGetInt64(slot->tts_values[0]));
	if (i < 0)
		return;
	old = MemoryContextSwitchTo(read->mcxt);
	value = TextDatumGetCString(slot->tts_values[1]);
	f = facet_for(read->set, value);
	pfree(value);
	if (read->n == read->capacity)
	{
		read->capacity = Max(1024, read->capacity * 2);
		read->item = read->item ? repalloc_huge(read->item, sizeof(int32) * read->capacity) :
			MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * read->capacity);
		read->facet = read->facet ? repalloc_huge(read->facet, sizeof(int32) * read->capacity) :
			MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * read->capacity);
	}
	read->item[read->n] = i;
	read->facet[read->n] = (int32) (f - read->set->facets);
	read->n++;
	read->has_facet[i] = 1;
	MemoryContextSwitchTo(old);
}

/* The attribute number of a column the facets relation must have. */
static AttrNumber
facets_column(Oid relid, const char *col, const char *hint)
{
	AttrNumber	attnum = get_attnum(relid, col);

	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist", col, get_rel_name(relid)),
				 errhint("%s", hint)));
	return attnum;
}

/*
 * The facets relation's (item, facet) rows, read as the caller (who names
 * the relation): its privileges and row-level security apply.
 */
static void
read_facets(Oid relid, const char *facet_col, const char *item_col, FacetRead *read)
{
	const char *cols[2] = {item_col, facet_col};
	AttrNumber	attnum;
	StringInfoData q;

	RsCheckReadableRelation(relid, "facets", cols, 2);
	attnum = facets_column(relid, item_col, "Pass the facets relation's column of item ids as item_col.");
	if (!RsIsIdType(get_atttype(relid, attnum)))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("item_col column \"%s\" has type %s, which cannot be an id", item_col,
						format_type_be(get_atttype(relid, attnum))),
				 errhint("Ids must be smallint, integer or bigint.")));
	(void) facets_column(relid, facet_col,
						 "Pass the column of the attribute to profile by (category, brand, price band) as facet_col.");
	initStringInfo(&q);
	appendStringInfo(&q, "SELECT %s::pg_catalog.int8, (%s)::pg_catalog.text FROM %s",
					 quote_identifier(item_col), quote_identifier(facet_col), RsRelationName(relid));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsStreamQuery(q.data, 0, NULL, NULL, NULL, true, facet_row, read);
	SPI_finish();
}

/* Count the k best of scores (seen items excluded) into each item's facets. */
static void
count_top(RsModel *model, const float *scores, uint8 *exclude, int k, FacetRead *read,
		  bool baseline)
{
	int32		n_items = model->items.count;
	int32	   *idx = palloc(sizeof(int32) * k);
	float	   *val = palloc(sizeof(float) * k);
	uint8	   *in_top = palloc0(Max(n_items, 1));
	int			found;
	int			ranked;

	found = RsTopItems(model, scores, exclude, k, idx, val, &ranked);
	for (int r = 0; r < found; r++)
		in_top[idx[r]] = 1;
	for (int64 p = 0; p < read->n; p++)
		if (in_top[read->item[p]])
		{
			Facet	   *f = &read->set->facets[read->facet[p]];

			if (baseline)
				f->baseline_top++;
			else
				f->top++;
		}
	/* the items without a facet row */
	for (int r = 0; r < found; r++)
		if (!read->has_facet[idx[r]])
		{
			Facet	   *f = facet_for(read->set, NULL);

			if (baseline)
				f->baseline_top++;
			else
				f->top++;
		}
	pfree(idx);
	pfree(val);
	pfree(in_top);
}

static Datum
ratio_datum(double a, double b, bool *isnull)
{
	*isnull = !(b > 0);
	return *isnull ? (Datum) 0 : Float4GetDatum((float) (a / b));
}

/*
 * recsys_user_profile(user_id bigint, model text, facets regclass,
 *					   facet_col name, item_col name, k int) returns a row
 * per facet value: (facet, items, history_items, history_share,
 * population_share, history_lift, top_items, top_share, baseline_share,
 * model_lift).
 */
Datum
recsys_user_profile(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsModel    *model;
	int64		user_id;
	Oid			facets;
	const char *facet_col;
	const char *item_col;
	int			k;
	int32		n_items;
	RsUserItems items = {0};
	float	   *scores;
	bool		scored;
	uint8	   *exclude;
	FacetSet	set = {0};
	FacetRead	read = {0};
	double		total_history = 0,
				total_population = 0;

	RsRequireArg(fcinfo, 0, "user_id");
	RsRequireArg(fcinfo, 1, "model");
	RsRequireArg(fcinfo, 2, "facets");
	RsRequireArg(fcinfo, 3, "facet_col");
	RsRequireArg(fcinfo, 4, "item_col");
	user_id = PG_GETARG_INT64(0);
	facets = PG_GETARG_OID(2);
	facet_col = NameStr(*PG_GETARG_NAME(3));
	item_col = NameStr(*PG_GETARG_NAME(4));
	k = RsIntArg(fcinfo, 5, "k", 1, PROFILE_MAX_K);
	if (strcmp(facet_col, item_col) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("facet_col and item_col are both \"%s\"", facet_col),
				 errhint("Items and their facet values must come from two different columns.")));
	model = RsGetModel(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	RS_REQUIRE(model, score_user, "user_profile");
	n_items = model->items.count;

	/* the facets first: a wrong relation fails before any scoring */
	read.mcxt = CurrentMemoryContext;
	read.model = model;
	read.set = &set;
	read.has_facet = palloc0(Max(n_items, 1));
	read_facets(facets, facet_col, item_col, &read);

	/* history: the user's rows as the model reads them (as its owner) */
	RsReadUserItems(model, user_id, "user_profile", &items);
	exclude = palloc0(RS_BITMAP_BYTES(n_items) + 1);
	for (int j = 0; j < items.n; j++)
	{
		total_history += items.weight[j];
		rs_bitmap_set(exclude, items.item[j]);
	}
	for (int32 i = 0; i < n_items; i++)
	{
		total_population += model->popularity[i];
		if (!read.has_facet[i])
		{
			Facet	   *f = facet_for(&set, NULL);

			f->items++;
			f->population += model->popularity[i];
		}
	}
	for (int j = 0; j < items.n; j++)
		if (!read.has_facet[items.item[j]])
		{
			Facet	   *f = facet_for(&set, NULL);

			f->history += items.weight[j];
			f->history_items++;
		}
	for (int64 p = 0; p < read.n; p++)
	{
		Facet	   *f = &set.facets[read.facet[p]];

		f->items++;
		f->population += model->popularity[read.item[p]];
	}
	/* the user's items by facet */
	{
		uint8	   *mine = palloc0(Max(n_items, 1));
		float	   *weight = palloc0(sizeof(float) * Max(n_items, 1));

		for (int j = 0; j < items.n; j++)
		{
			mine[items.item[j]] = 1;
			weight[items.item[j]] = items.weight[j];
		}
		for (int64 p = 0; p < read.n; p++)
			if (mine[read.item[p]])
			{
				set.facets[read.facet[p]].history += weight[read.item[p]];
				set.facets[read.facet[p]].history_items++;
			}
		pfree(mine);
		pfree(weight);
	}

	/* model: the user's top k (seen excluded), the average user's top k */
	scores = palloc(sizeof(float) * Max(n_items, 1));
	scored = model->kind->score_user(model, user_id,
									 model->kind->history_input &&
									 model->kind->history_input(model) ? &items : NULL,
									 scores);
	count_top(model, scored ? scores : RsColdStartScores(model), exclude, k, &read, false);
	memset(exclude, 0, RS_BITMAP_BYTES(n_items) + 1);
	count_top(model, RsColdStartScores(model), exclude, k, &read, true);

	InitMaterializedSRF(fcinfo, 0);
	{
		int			top_total = 0,
					baseline_total = 0;

		for (int f = 0; f < set.n; f++)
		{
			top_total += set.facets[f].top;
			baseline_total += set.facets[f].baseline_top;
		}
		for (int f = 0; f < set.n; f++)
		{
			Facet	   *x = &set.facets[f];
			Datum		values[10];
			bool		nulls[10] = {0};
			double		history_share = total_history > 0 ? x->history / total_history : 0;
			double		population_share = total_population > 0 ? x->population / total_population : 0;
			double		top_share = top_total > 0 ? (double) x->top / top_total : 0;
			double		baseline_share = baseline_total > 0 ? (double) x->baseline_top / baseline_total : 0;

			nulls[0] = x->value == NULL;
			values[0] = nulls[0] ? (Datum) 0 : CStringGetTextDatum(x->value);
			values[1] = Int32GetDatum(x->items);
			values[2] = Int32GetDatum(x->history_items);
			values[3] = Float4GetDatum((float) history_share);
			values[4] = Float4GetDatum((float) population_share);
			values[5] = ratio_datum(history_share, population_share, &nulls[5]);
			values[6] = Int32GetDatum(x->top);
			values[7] = Float4GetDatum((float) top_share);
			values[8] = Float4GetDatum((float) baseline_share);
			values[9] = ratio_datum(top_share, baseline_share, &nulls[9]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}
