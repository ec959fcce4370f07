/*-------------------------------------------------------------------------
 *
 * fold_in.c
 *		recsys.fold_in(item, weight, model): the aggregate that folds
 *		interactions into a user vector of a trained model (the solve is
 *		the model kind's fold_in; src/kind_factors.c for factor models).
 *
 * recsys.fold_in is an aggregate whose state is a bytea (a real SQL type,
 * so distributed planners such as Citus can split it into worker and
 * coordinator phases): the model's name and version and the distinct
 * items seen with their summed weights.  The combine function merges two
 * states; the final function solves.  A state is user-visible data, so it
 * is checked in full before anything in it is used.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "args.h"
#include "array_util.h"
#include "model_cache.h"
#include "model_kind.h"

PG_FUNCTION_INFO_V1(recsys_fold_in_sfunc);
PG_FUNCTION_INFO_V1(recsys_fold_in_combine);
PG_FUNCTION_INFO_V1(recsys_fold_in_final);

#define FOLD_IN_MAGIC 0x52534649	/* "RSFI" */

/*
 * The aggregate state, inside a bytea: the model's name and version and
 * the distinct items seen so far with their summed weights, sorted by item
 * index.  The bytea carries spare room for more pairs (its length covers
 * the capacity, n the pairs in use), so that appending modifies the state
 * in place and a copy keeps the spare room: growth is amortised, and a
 * group's state is bounded by its distinct items, not its rows.
 */
typedef struct FoldInState
{
	int32		vl_len_;		/* varlena header */
	uint32		magic;
	int32		version;
	int32		n;				/* pairs in use */
	char		model[NAMEDATALEN];
	RsWeightedItem pairs[FLEXIBLE_ARRAY_MEMBER];
} FoldInState;

#define FOLD_IN_SIZE(n) (offsetof(FoldInState, pairs) + (Size) (n) * sizeof(RsWeightedItem))
#define FOLD_IN_CAPACITY(s) ((int32) ((VARSIZE(s) - offsetof(FoldInState, pairs)) / sizeof(RsWeightedItem)))

/*
 * Check a state's header: states are plain bytea values a caller could
 * forge, so nothing in one is trusted before it is checked.
 */
static FoldInState *
check_state(bytea *b)
{
	FoldInState *s = (FoldInState *) b;

	if (VARSIZE(b) < offsetof(FoldInState, pairs) || s->magic != FOLD_IN_MAGIC ||
		s->n < 0 || s->n > FOLD_IN_CAPACITY(s) ||
		memchr(s->model, '\0', NAMEDATALEN) == NULL ||
		!pg_verifymbstr(s->model, strlen(s->model), true))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed recsys.fold_in state")));
	return s;
}

/*
 * Check every pair against the model: a valid item index, strictly
 * ascending (no duplicates), a finite weight.
 */
static void
check_pairs(const FoldInState *s, const RsModel *model)
{
	for (int32 j = 0; j < s->n; j++)
	{
		const RsWeightedItem *p = &s->pairs[j];

		if (p->item < 0 || p->item >= model->items.count ||
			(j > 0 && p->item <= s->pairs[j - 1].item) ||
			isnan(p->weight) || isinf(p->weight))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("malformed recsys.fold_in state")));
	}
}

/* A new state with room for capacity pairs, in the given context. */
static FoldInState *
new_state(MemoryContext mcxt, const RsModel *model, int32 capacity)
{
	FoldInState *s = MemoryContextAllocZero(mcxt, FOLD_IN_SIZE(capacity));

	SET_VARSIZE(s, FOLD_IN_SIZE(capacity));
	s->magic = FOLD_IN_MAGIC;
	s->version = model->version;
	strlcpy(s->model, model->name, NAMEDATALEN);
	return s;
}

/* The model argument: one whose kind folds interactions in. */
static RsModel *
fold_in_model(FunctionCallInfo fcinfo, int argno)
{
	RsModel    *model;

	RsRequireArg(fcinfo, argno, "model");
	model = RsGetModel(text_to_cstring(PG_GETARG_TEXT_PP(argno)));
	RS_REQUIRE(model, fold_in, "recsys.fold_in");
	return model;
}

/*
 * recsys_fold_in_sfunc(state bytea, item_id bigint, weight real, model text)
 * adds one interaction to the state.  Items the model does not know and
 * rows with a NULL item or weight are skipped.
 */
Datum
recsys_fold_in_sfunc(PG_FUNCTION_ARGS)
{
	MemoryContext agg_context;
	FoldInState *s;
	RsModel    *model;
	int32		item;
	float		weight;
	int32		lo;
	int32		hi;

	if (!AggCheckCallContext(fcinfo, &agg_context))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("recsys.fold_in_accum can only be called by the recsys.fold_in aggregate")));
	model = fold_in_model(fcinfo, 3);
	if (PG_ARGISNULL(0))
		s = new_state(agg_context, model, 16);
	else
		s = check_state(PG_GETARG_BYTEA_P(0));
	if (s->version != model->version || strcmp(s->model, model->name) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recsys.fold_in must use one model per group")));

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_BYTEA_P(s);
	weight = PG_GETARG_FLOAT4(2);
	if (isnan(weight) || isinf(weight))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("weight must be a finite number, not %g", weight)));
	item = RsModelItemIndex(model, PG_GETARG_INT64(1));
	if (item < 0)
		PG_RETURN_BYTEA_P(s);

	/* find the item (pairs are sorted); sum a repeat in place */
	lo = 0;
	hi = s->n;
	while (lo < hi)
	{
		int32		mid = lo + (hi - lo) / 2;

		if (s->pairs[mid].item < item)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->n && s->pairs[lo].item == item)
	{
		RsAddWeight(&s->pairs[lo].weight, weight);
		PG_RETURN_BYTEA_P(s);
	}

	/*
	 * A new item: insert at lo, in place while there is room.  A bigger
	 * state is built in the per-call context; the executor copies it into
	 * the aggregate's context (with its spare room) and frees the old one.
	 */
	if (s->n == FOLD_IN_CAPACITY(s))
	{
		FoldInState *bigger = new_state(CurrentMemoryContext, model, 2 * s->n + 16);

		memcpy(bigger->pairs, s->pairs, sizeof(RsWeightedItem) * s->n);
		bigger->n = s->n;
		s = bigger;
	}
	memmove(s->pairs + lo + 1, s->pairs + lo, sizeof(RsWeightedItem) * (s->n - lo));
	s->pairs[lo].item = item;
	s->pairs[lo].weight = weight;
	s->n++;
	PG_RETURN_BYTEA_P(s);
}

/* recsys_fold_in_combine(a bytea, b bytea) merges two states. */
Datum
recsys_fold_in_combine(PG_FUNCTION_ARGS)
{
	MemoryContext agg_context;
	FoldInState *a;
	FoldInState *b;
	FoldInState *c;
	RsModel    *model;
	int32		i = 0,
				j = 0;

	if (!AggCheckCallContext(fcinfo, &agg_context))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("recsys.fold_in_combine can only be called by the recsys.fold_in aggregate")));
	if (PG_ARGISNULL(0) && PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
	{
		bytea	   *only = PG_ARGISNULL(0) ? PG_GETARG_BYTEA_P(1) : PG_GETARG_BYTEA_P(0);
		bytea	   *copy;

		(void) check_state(only);
		copy = MemoryContextAlloc(agg_context, VARSIZE(only));
		memcpy(copy, only, VARSIZE(only));
		PG_RETURN_BYTEA_P(copy);
	}
	a = check_state(PG_GETARG_BYTEA_P(0));
	b = check_state(PG_GETARG_BYTEA_P(1));
	if (a->version != b->version || strcmp(a->model, b->model) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recsys.fold_in must use one model per group")));
	model = RsGetModel(a->model);
	check_pairs(a, model);
	check_pairs(b, model);

	/* merge the two sorted lists, summing items in both */
	c = new_state(agg_context, model, a->n + b->n + 16);
	c->version = a->version;
	while (i < a->n || j < b->n)
	{
		RsWeightedItem next;

		if (j >= b->n || (i < a->n && a->pairs[i].item < b->pairs[j].item))
			next = a->pairs[i++];
		else if (i >= a->n || b->pairs[j].item < a->pairs[i].item)
			next = b->pairs[j++];
		else
		{
			next = a->pairs[i++];
			RsAddWeight(&next.weight, b->pairs[j++].weight);
		}
		c->pairs[c->n++] = next;
	}
	PG_RETURN_BYTEA_P(c);
}

/*
 * recsys_fold_in_final(state bytea) returns the folded-in user vector,
 * or NULL when no interaction was with an item the model knows.
 */
Datum
recsys_fold_in_final(PG_FUNCTION_ARGS)
{
	FoldInState *s;
	RsModel    *model;
	RsWeightedItem *pairs;
	float	   *x;
	int			length;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = check_state(PG_GETARG_BYTEA_P(0));
	model = RsGetModel(s->model);
	if (model->version != s->version)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" changed version while folding in", s->model)));
	if (model->kind->fold_in == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed recsys.fold_in state")));
	check_pairs(s, model);
	/* the state may belong to the aggregate: sort a copy */
	pairs = palloc(sizeof(RsWeightedItem) * Max(s->n, 1));
	memcpy(pairs, s->pairs, sizeof(RsWeightedItem) * s->n);
	x = model->kind->fold_in(model, pairs, s->n, NULL, &length);
	if (x == NULL)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(RsFloatArray(x, length));
}

