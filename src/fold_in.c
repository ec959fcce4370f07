/*-------------------------------------------------------------------------
 *
 * fold_in.c
 *		recsys.fold_in(item, weight, model): the aggregate that folds
 *		interactions into a user vector of a trained model (the solve is
 *		the model kind's fold_in; src/kind_factors.c for factor models).
 *
 * recsys.fold_in is an aggregate whose state is a bytea (a real SQL type,
 * so distributed planners such as Citus can split it into worker and
 * coordinator phases): the model's name and the distinct item ids seen
 * with their summed weights.  The state does not depend on the model: the
 * transition and combine functions never read it, so they run where the
 * model is not (a Citus worker); only the final function resolves the ids
 * to the model's items (ids it does not know are dropped there) and
 * solves.  A state is user-visible data, so it is checked in full before
 * its pairs are summed or solved (combine and final); the transition
 * function checks only what keeps it within the state's memory (header,
 * counts), so that each row costs O(log n), not a pass over the state.
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

#define FOLD_IN_MAGIC 0x52534632	/* "RSF2": every pair sorted (0.7.0's states, of item
									 * indexes, were "RSFI") */
#define FOLD_IN_MAGIC_TAIL 0x5253465A	/* "ZFSR": a sorted head, then an unsorted tail */
#define FOLD_IN_MIN_TAIL 1024	/* the tail is sorted into the head from this length */

/* One item id and its summed weight (pad is zero: states compare bytewise). */
typedef struct FoldInPair
{
	int64		item_id;
	float		weight;
	int32		pad;
} FoldInPair;

/*
 * The aggregate state, inside a bytea: the model's name and the distinct
 * item ids seen so far with their summed weights: a head sorted by item
 * id, then (magic FOLD_IN_MAGIC_TAIL) a tail of the items that came since,
 * in their order, which the transition function sorts into the head when
 * it grows as long as the head (a sorted insert moved the whole list per
 * row: quadratic).  The bytea carries spare room for more pairs (its
 * length covers the capacity, n the pairs in use), so that appending
 * modifies the state in place and a copy keeps the spare room: growth is
 * amortised, and a group's state is bounded by twice its distinct items
 * (plus FOLD_IN_MIN_TAIL), not its rows.
 *
 * Sums are plain float additions, in the order the rows come, as the
 * 0.7.0 state summed them: a sum past the range of real becomes infinite
 * (or NaN, when a combine adds two of opposite signs) and is refused by
 * the final function, for the model's items only, as 0.7.0 refused it.
 */
typedef struct FoldInState
{
	int32		vl_len_;		/* varlena header */
	uint32		magic;
	int32		n;				/* pairs in use */
	int32		tail;			/* FOLD_IN_MAGIC_TAIL: the last pairs, unsorted
								 * (also keeps the pairs 8-aligned) */
	char		model[NAMEDATALEN];
	FoldInPair	pairs[FLEXIBLE_ARRAY_MEMBER];
} FoldInState;

#define FOLD_IN_SIZE(n) (offsetof(FoldInState, pairs) + (Size) (n) * sizeof(FoldInPair))
#define FOLD_IN_CAPACITY(s) ((int32) ((VARSIZE(s) - offsetof(FoldInState, pairs)) / sizeof(FoldInPair)))

/* The unsorted pairs at the end of a (checked) state. */
static int32
state_tail(const FoldInState *s)
{
	return s->magic == FOLD_IN_MAGIC_TAIL ? s->tail : 0;
}

static void
malformed_state(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("malformed recsys.fold_in state")));
}

/*
 * Check a state's header: states are plain bytea values a caller could
 * forge, so nothing in one is trusted before it is checked.  Its counts
 * fit its length.  A bytea read from a tuple is only 4-aligned: such a
 * state is checked (and used) as an aligned copy.
 */
static FoldInState *
check_state_header(bytea *b)
{
	FoldInState *s;

	if ((uintptr_t) b % ALIGNOF_DOUBLE != 0)
	{
		bytea	   *copy = palloc(VARSIZE(b));

		memcpy(copy, b, VARSIZE(b));
		b = copy;
	}
	s = (FoldInState *) b;

	if (VARSIZE(b) < offsetof(FoldInState, pairs) ||
		(s->magic != FOLD_IN_MAGIC && s->magic != FOLD_IN_MAGIC_TAIL) ||
		s->n < 0 || s->n > FOLD_IN_CAPACITY(s) ||
		(s->magic == FOLD_IN_MAGIC_TAIL && (s->tail < 0 || s->tail > s->n)) ||
		memchr(s->model, '\0', NAMEDATALEN) == NULL ||
		!pg_verifymbstr(s->model, strlen(s->model), true))
		malformed_state();
	return s;
}

/* Check a state in full: its head strictly ascending by item id. */
static void
check_state_head(const FoldInState *s)
{
	for (int32 j = 1; j < s->n - state_tail(s); j++)
		if (s->pairs[j].item_id <= s->pairs[j - 1].item_id)
			malformed_state();
}

static FoldInState *
check_state(bytea *b)
{
	FoldInState *s = check_state_header(b);

	check_state_head(s);
	return s;
}

/* Tail pairs by item id, then in the order they came (in pad). */
static int
cmp_pair_arrival(const void *a, const void *b)
{
	const FoldInPair *x = a;
	const FoldInPair *y = b;

	if (x->item_id != y->item_id)
		return (x->item_id > y->item_id) - (x->item_id < y->item_id);
	return (x->pad > y->pad) - (x->pad < y->pad);
}

/*
 * A checked state's pairs as one strictly ascending list, palloc'd (out:
 * room for s->n pairs; may be s->pairs itself): the tail sorted into the
 * head, a repeated item's weights summed in the order its rows came (the
 * head's sum first), as summing each row in place would have.
 */
static int32
sorted_pairs(const FoldInState *s, FoldInPair *out)
{
	int32		tail = state_tail(s);
	int32		head = s->n - tail;
	FoldInPair *t = palloc(sizeof(FoldInPair) * Max(tail, 1));
	FoldInPair *h = (FoldInPair *) s->pairs;
	int32		i = 0,
				j = 0,
				m = 0;

	/* the head is read in place unless out overwrites it */
	if (out == s->pairs)
	{
		h = palloc(sizeof(FoldInPair) * Max(head, 1));
		memcpy(h, s->pairs, sizeof(FoldInPair) * head);
	}
	memcpy(t, s->pairs + head, sizeof(FoldInPair) * tail);
	for (int32 k = 0; k < tail; k++)
		t[k].pad = k;
	qsort(t, tail, sizeof(FoldInPair), cmp_pair_arrival);
	while (i < head || j < tail)
	{
		FoldInPair	next;

		if (j >= tail || (i < head && h[i].item_id <= t[j].item_id))
			next = h[i++];
		else
			next = t[j++];
		while (j < tail && t[j].item_id == next.item_id)
			next.weight += t[j++].weight;
		next.pad = 0;
		out[m++] = next;
	}
	if (h != s->pairs)
		pfree(h);
	pfree(t);
	return m;
}

/*
 * A checked state's pairs as one strictly ascending list (n: how many):
 * the state's own pairs when it has no tail, else sorted_pairs' copy.
 */
static const FoldInPair *
sorted_view(const FoldInState *s, int32 *n)
{
	FoldInPair *out;

	if (state_tail(s) == 0)
	{
		*n = s->n;
		return s->pairs;
	}
	out = palloc(sizeof(FoldInPair) * Max(s->n, 1));
	*n = sorted_pairs(s, out);
	return out;
}

/* A new state with room for capacity pairs, in the given context. */
static FoldInState *
new_state(MemoryContext mcxt, const char *model, int32 capacity)
{
	FoldInState *s = MemoryContextAllocZero(mcxt, FOLD_IN_SIZE(capacity));

	SET_VARSIZE(s, FOLD_IN_SIZE(capacity));
	s->magic = FOLD_IN_MAGIC_TAIL;
	strlcpy(s->model, model, NAMEDATALEN);
	return s;
}

/* Two states (or a state and a row) of one group name one model. */
static void
check_same_model(const FoldInState *s, const char *model)
{
	if (strcmp(s->model, model) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recsys.fold_in must use one model per group")));
}

static void
check_agg_context(FunctionCallInfo fcinfo, MemoryContext *agg_context, const char *fn)
{
	if (!AggCheckCallContext(fcinfo, agg_context))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s can only be called by the recsys.fold_in aggregate", fn)));
}

/*
 * recsys_fold_in_sfunc(state bytea, item_id bigint, weight real, model text)
 * adds one interaction to the state, without reading the model.  Rows
 * with a NULL item or weight are skipped.
 */
Datum
recsys_fold_in_sfunc(PG_FUNCTION_ARGS)
{
	MemoryContext agg_context;
	FoldInState *s;
	char	   *model;
	int64		item_id;
	float		weight;
	int32		lo;
	int32		hi;
	int32		head;

	check_agg_context(fcinfo, &agg_context, "recsys.fold_in_accum");
	RsRequireArg(fcinfo, 3, "model");
	model = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (strlen(model) >= NAMEDATALEN)
		(void) RsGetModel(model);	/* raises the error of a too long name */
	if (PG_ARGISNULL(0))
		s = new_state(agg_context, model, 16);
	else
		s = check_state_header(PG_GETARG_BYTEA_P(0));
	check_same_model(s, model);
	if (s->magic == FOLD_IN_MAGIC)
	{
		/* (a hand-made initial state: sorted, no tail) */
		s->magic = FOLD_IN_MAGIC_TAIL;
		s->tail = 0;
	}

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_BYTEA_P(s);
	weight = PG_GETARG_FLOAT4(2);
	if (isnan(weight) || isinf(weight))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("weight must be a finite number, not %g", weight)));
	item_id = PG_GETARG_INT64(1);

	/* find the item in the head (sorted); sum a repeat in place */
	head = s->n - s->tail;
	lo = 0;
	hi = head;
	while (lo < hi)
	{
		int32		mid = lo + (hi - lo) / 2;

		if (s->pairs[mid].item_id < item_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < head && s->pairs[lo].item_id == item_id)
	{
		s->pairs[lo].weight += weight;
		PG_RETURN_BYTEA_P(s);
	}

	/*
	 * Not in the head: append to the tail, in place while there is room.
	 * A bigger state is built in the per-call context; the executor copies
	 * it into the aggregate's context (with its spare room) and frees the
	 * old one.
	 */
	if (s->n == FOLD_IN_CAPACITY(s))
	{
		FoldInState *bigger = new_state(CurrentMemoryContext, model, 2 * s->n + 16);

		memcpy(bigger->pairs, s->pairs, sizeof(FoldInPair) * s->n);
		bigger->n = s->n;
		bigger->tail = s->tail;
		s = bigger;
	}
	s->pairs[s->n].item_id = item_id;
	s->pairs[s->n].weight = weight;
	s->pairs[s->n].pad = 0;
	s->n++;
	s->tail++;

	/*
	 * A tail as long as the head is sorted into it: O(n log n) per n rows.
	 * The head is checked first (a forged one is refused, not sorted).
	 */
	if (s->tail >= Max(s->n - s->tail, FOLD_IN_MIN_TAIL))
	{
		check_state_head(s);
		s->n = sorted_pairs(s, s->pairs);
		s->tail = 0;
	}
	PG_RETURN_BYTEA_P(s);
}

/*
 * recsys_fold_in_combine(a bytea, b bytea) merges two states, without
 * reading the model.
 */
Datum
recsys_fold_in_combine(PG_FUNCTION_ARGS)
{
	MemoryContext agg_context;
	FoldInState *a;
	FoldInState *b;
	FoldInState *c;
	const FoldInPair *pa;
	const FoldInPair *pb;
	int32		na;
	int32		nb;
	int32		i = 0,
				j = 0;

	check_agg_context(fcinfo, &agg_context, "recsys.fold_in_combine");
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
	check_same_model(a, b->model);
	pa = sorted_view(a, &na);
	pb = sorted_view(b, &nb);

	/* merge the two sorted lists, summing items in both */
	c = new_state(agg_context, a->model, na + nb + 16);
	while (i < na || j < nb)
	{
		FoldInPair	next;

		if (j >= nb || (i < na && pa[i].item_id < pb[j].item_id))
			next = pa[i++];
		else if (i >= na || pb[j].item_id < pa[i].item_id)
			next = pb[j++];
		else
		{
			next = pa[i++];
			next.weight += pb[j++].weight;
		}
		next.pad = 0;
		c->pairs[c->n++] = next;
	}
	PG_RETURN_BYTEA_P(c);
}

static int
cmp_item_index(const void *a, const void *b)
{
	int32		x = ((const RsWeightedItem *) a)->item;
	int32		y = ((const RsWeightedItem *) b)->item;

	return (x > y) - (x < y);
}

/*
 * recsys_fold_in_final(state bytea) resolves the state's item ids to the
 * model's items (dropping ids it does not know) and returns the
 * folded-in user vector, or NULL when no interaction was with an item the
 * model knows.
 */
Datum
recsys_fold_in_final(PG_FUNCTION_ARGS)
{
	FoldInState *s;
	RsModel    *model;
	RsWeightedItem *pairs;
	FoldInPair *items;
	int32		n_items;
	int32		n = 0;
	float	   *x;
	int			length;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = check_state(PG_GETARG_BYTEA_P(0));
	model = RsGetModel(s->model);
	RS_REQUIRE(model, fold_in, "recsys.fold_in");
	items = palloc(sizeof(FoldInPair) * Max(s->n, 1));
	n_items = sorted_pairs(s, items);
	pairs = palloc(sizeof(RsWeightedItem) * Max(n_items, 1));
	for (int32 j = 0; j < n_items; j++)
	{
		int32		item = RsModelItemIndex(model, items[j].item_id);

		if (item < 0)
			continue;
		if (isnan(items[j].weight) || isinf(items[j].weight))
			RsWeightOutOfRange();
		pairs[n].item = item;
		pairs[n].weight = items[j].weight;
		n++;
	}
	/* the model's item order, as the solve has always had them */
	qsort(pairs, n, sizeof(RsWeightedItem), cmp_item_index);
	x = model->kind->fold_in(model, pairs, n, NULL, &length);
	if (x == NULL)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(RsFloatArray(x, length));
}
