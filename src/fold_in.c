/*-------------------------------------------------------------------------
 *
 * fold_in.c
 *		Real-time use of a trained factor model: fold a user's interactions
 *		into a vector, recommend for a vector, for an anonymous session,
 *		and refresh one user's stored vector.
 *
 * Folding in is the least-squares step ALS makes for one user, solved
 * exactly against the model's fixed item factors:
 *	implicit: (YtY + reg I + sum_i alpha |w_i| y_i y_i^T) x = sum_{w_i > 0} (1 + alpha w_i) y_i
 *	explicit: ([1 y_i] [1 y_i]^T summed + reg n I) [b_u x] = sum_i (r_i - mu - b_i) [1 y_i]
 * with duplicate items summed first, as training does; the explicit
 * system is the one training's row solver solves (rs_als_explicit_update).
 * src/kernel/foldin.c does the numerics.  Models
 * trained with store_users false fold every user in this way when served
 * (RsModelUserVector).
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

#include "als.h"
#include "args.h"
#include "array_util.h"
#include "blend.h"
#include "cancel.h"
#include "fold_in.h"
#include "foldin.h"
#include "model_acl.h"
#include "model_cache.h"
#include "recommend.h"
#include "score.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(recsys_fold_in_sfunc);
PG_FUNCTION_INFO_V1(recsys_fold_in_combine);
PG_FUNCTION_INFO_V1(recsys_fold_in_final);
PG_FUNCTION_INFO_V1(recsys_recommend_for_vector);
PG_FUNCTION_INFO_V1(recsys_recommend_session);
PG_FUNCTION_INFO_V1(recsys_refresh_user);

#define FOLD_IN_MAGIC 0x52534649	/* "RSFI" */
#define FOLD_IN_CHUNK 4096			/* items per kernel call between interrupt checks */

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

/*
 * Sum an item's weights, refusing a sum beyond the float range (the state
 * checks would take it for a forged one, and the solver would give NaN).
 */
static void
add_weight(float *sum, float weight)
{
	*sum += weight;
	if (isinf(*sum))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the summed weight of an item is out of range for type real"),
				 errhint("Scale the weights down.")));
}

/* Order pairs by item, for merging duplicates. */
static int
pair_cmp(const void *a, const void *b)
{
	const RsWeightedItem *x = a;
	const RsWeightedItem *y = b;

	return x->item < y->item ? -1 : x->item > y->item;
}

/* The user's items and weights as two arrays, for the kernels. */
static void
split_pairs(const RsWeightedItem *pairs, int m, int32 **idx, float **w)
{
	*idx = palloc(sizeof(int32) * m);
	*w = palloc(sizeof(float) * m);
	for (int j = 0; j < m; j++)
	{
		(*idx)[j] = pairs[j].item;
		(*w)[j] = pairs[j].weight;
	}
}

/*
 * The implicit solve (foldin.h): the user's items' confidences with the
 * model's Gram matrix and regularisation as training had them.  A long
 * session costs m k^2, so the items go in by chunks with a check for a
 * cancel between them; likewise below.
 */
static int
fold_in_implicit(RsModel *model, const RsWeightedItem *pairs, int m, float *x)
{
	int			k = model->k;
	float	   *A = palloc(sizeof(float) * k * k);
	float	   *tile = palloc(sizeof(float) * rs_fold_in_tile_floats(k));
	int32	   *idx;
	float	   *w;
	double		sum_abs = 0;
	int			status;

	split_pairs(pairs, m, &idx, &w);
	for (int j = 0; j < m; j++)
		sum_abs += fabsf(w[j]);
	rs_fold_in_implicit_begin(RsModelGram(model), k, RsImplicitUserReg(model, sum_abs), A, x);
	for (int j = 0; j < m; j += FOLD_IN_CHUNK)
	{
		CHECK_FOR_INTERRUPTS();
		rs_fold_in_implicit_add(model->item_factors, idx + j, w + j, Min(FOLD_IN_CHUNK, m - j), k,
								model->alpha, A, x, tile);
	}
	status = rs_fold_in_solve(A, x, k);
	/* evaluate folds in every test user: free what this one took */
	pfree(A);
	pfree(tile);
	pfree(idx);
	pfree(w);
	return status;
}

/*
 * The explicit solve: the system training's row solver solves for a user
 * (rs_als_explicit_update: regularisation weighted by the user's count,
 * the bias regularised alike), for (x, b_u).
 */
static int
fold_in_explicit(RsModel *model, const RsWeightedItem *pairs, int m, float *x, float *bias)
{
	int			k = model->k;
	float	   *A = palloc(sizeof(float) * (k + 1) * (k + 1));
	float	   *z = palloc(sizeof(float) * (k + 1));
	float	   *tile = palloc(sizeof(float) * rs_fold_in_tile_floats(k));
	int32	   *idx;
	float	   *r;
	int			status;

	split_pairs(pairs, m, &idx, &r);
	rs_fold_in_explicit_begin(k, A, z);
	for (int j = 0; j < m; j += FOLD_IN_CHUNK)
	{
		CHECK_FOR_INTERRUPTS();
		rs_fold_in_explicit_add(model->item_factors, model->item_bias, model->global_mean,
								idx + j, r + j, Min(FOLD_IN_CHUNK, m - j), k, A, z, tile);
	}
	for (int a = 0; a <= k; a++)
		A[a * (k + 1) + a] += model->regularization * m;
	status = rs_fold_in_solve(A, z, k + 1);
	memcpy(x, z, sizeof(float) * k);
	if (bias)
		*bias = z[k];
	pfree(A);
	pfree(z);
	pfree(tile);
	pfree(idx);
	pfree(r);
	return status;
}

/*
 * RsFoldIn computes the user vector (and, for explicit models, bias) that
 * ALS would fit for the given interactions.  pairs may hold duplicates;
 * they are summed (the array is sorted in place).  x holds model->k floats.
 * Returns false when there are no interactions to fit.
 */
bool
RsFoldIn(RsModel *model, RsWeightedItem *pairs, int n, float *x, float *bias)
{
	int			m = 0;
	int			status;

	if (model->kind != RS_MODEL_FACTORS)
		elog(ERROR, "fold-in needs a factor model");
	qsort(pairs, n, sizeof(RsWeightedItem), pair_cmp);
	for (int j = 0; j < n; j++)
	{
		if (m > 0 && pairs[m - 1].item == pairs[j].item)
			add_weight(&pairs[m - 1].weight, pairs[j].weight);
		else
			pairs[m++] = pairs[j];
	}
	if (m == 0)
		return false;

	status = model->explicit_feedback ? fold_in_explicit(model, pairs, m, x, bias) :
		fold_in_implicit(model, pairs, m, x);
	if (status == RS_ALS_ERR_NOT_PD)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot fold in: the user's system in model \"%s\" is not positive definite",
						model->name),
				 errhint("Retrain the model with a larger regularization.")));
	if (status != RS_ALS_OK)
		elog(ERROR, "fold-in failed: %s", rs_als_strerror(status));
	if (!model->explicit_feedback && bias)
		*bias = 0;
	/* finite weights so large that the solve overflows */
	for (int f = 0; f < model->k; f++)
		if (!isfinite(x[f]) || (bias && !isfinite(*bias)))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("cannot fold in: the weights are too large for model \"%s\"", model->name),
					 errhint("Scale the weights down.")));
	return true;
}

/*
 * RsFoldInUserItems folds in a user's interactions as RsReadUserItems
 * returns them: RsFoldIn on a copy.
 */
bool
RsFoldInUserItems(RsModel *model, const RsUserItems *items, float *x, float *bias)
{
	RsWeightedItem *pairs = palloc(sizeof(RsWeightedItem) * Max(items->n, 1));
	bool		found;

	for (int j = 0; j < items->n; j++)
	{
		pairs[j].item = items->item[j];
		pairs[j].weight = items->weight[j];
	}
	found = RsFoldIn(model, pairs, items->n, x, bias);
	pfree(pairs);
	return found;
}

/* A factor model by name, or an error naming what needs one. */
static RsModel *
factor_model(FunctionCallInfo fcinfo, int argno, const char *what)
{
	RsModel    *model;

	RsRequireArg(fcinfo, argno, "model");
	model = RsGetModel(text_to_cstring(PG_GETARG_TEXT_PP(argno)));
	if (model->kind != RS_MODEL_FACTORS)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s needs a factor model, and \"%s\" is %s", what, model->name,
						model->algorithm),
				 errhint("Train one with recsys.train_cf.")));
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
	model = factor_model(fcinfo, 3, "recsys.fold_in");
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
		add_weight(&s->pairs[lo].weight, weight);
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
			add_weight(&next.weight, b->pairs[j++].weight);
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

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = check_state(PG_GETARG_BYTEA_P(0));
	model = RsGetModel(s->model);
	if (model->version != s->version)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" changed version while folding in", s->model)));
	if (model->kind != RS_MODEL_FACTORS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed recsys.fold_in state")));
	check_pairs(s, model);
	/* the state may belong to the aggregate: sort a copy */
	pairs = palloc(sizeof(RsWeightedItem) * Max(s->n, 1));
	memcpy(pairs, s->pairs, sizeof(RsWeightedItem) * s->n);
	x = palloc(sizeof(float) * model->k);
	if (!RsFoldIn(model, pairs, s->n, x, NULL))
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(RsFloatArray(x, model->k));
}

/* Mark the items of a bigint[] argument (unknown ids ignored). */
static void
mark_items(RsModel *model, ArrayType *array, const char *argname, uint8 *bitmap,
		   RsWeightedItem **pairs, int *n_pairs)
{
	int			n;
	int64	   *ids = RsArrayToInt64s(array, argname, &n);

	if (pairs)
	{
		*pairs = palloc(sizeof(RsWeightedItem) * Max(n, 1));
		*n_pairs = 0;
	}
	for (int j = 0; j < n; j++)
	{
		int32		i = RsModelItemIndex(model, ids[j]);

		if (i < 0)
			continue;
		rs_bitmap_set(bitmap, i);
		if (pairs)
		{
			(*pairs)[*n_pairs].item = i;
			(*pairs)[*n_pairs].weight = 1;
			(*n_pairs)++;
		}
	}
}

/* Rank a factor model's items for vector x, best first, into the SRF. */
static void
rank_vector(ReturnSetInfo *rsinfo, RsModel *model, const float *x, float user_bias,
			uint8 *exclude, int k)
{
	int32	   *idx = palloc(sizeof(int32) * k);
	float	   *score = palloc(sizeof(float) * k);
	float	   *block = palloc(sizeof(float) * RS_SCORE_BLOCK);
	int			found = rs_score_topk(model->item_factors,
									  model->explicit_feedback ? model->item_bias : NULL,
									  model->items.count, model->k, x, exclude, k, block,
									  idx, score);

	for (int r = 0; r < found; r++)
	{
		float		s = score[r];

		if (model->explicit_feedback)
			s = Min(Max(s + model->global_mean + user_bias, model->rating_min), model->rating_max);
		RsPutItemRow(rsinfo, model->items.ids[idx[r]], s);
	}
}

/*
 * recsys_recommend_for_vector(vec real[], k int, model text, exclude bigint[])
 * ranks a factor model's items for a user vector, e.g. from fold_in.
 */
Datum
recsys_recommend_for_vector(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsModel    *model;
	float	   *x;
	int			n;
	int			k;
	uint8	   *exclude;

	RsRequireArg(fcinfo, 0, "vec");
	k = RsKArg(fcinfo, 1);
	model = factor_model(fcinfo, 2, "recommend_for_vector");
	x = RsArrayToFloats(PG_GETARG_ARRAYTYPE_P(0), "vec", &n);
	if (n != model->k)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vec has %d elements, but model \"%s\" has %d factors", n, model->name,
						model->k)));
	InitMaterializedSRF(fcinfo, 0);
	exclude = palloc0(RS_BITMAP_BYTES(model->items.count) + 1);
	if (!PG_ARGISNULL(3))
		mark_items(model, PG_GETARG_ARRAYTYPE_P(3), "exclude", exclude, NULL, NULL);
	rank_vector(rsinfo, model, x, 0, exclude, k);
	return (Datum) 0;
}

/*
 * recsys_recommend_session(items bigint[], k int, model text) recommends
 * for an anonymous visitor from the items of their session: a factor
 * model folds them in, a neighbourhood model scores their neighbours, a
 * popularity model ranks by popularity, and a blend has each member do
 * its own.  The session's items are never recommended back.
 */
Datum
recsys_recommend_session(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsModel    *model;
	int			k;
	uint8	   *exclude;
	RsWeightedItem *pairs;
	int			n_pairs;

	RsRequireArg(fcinfo, 0, "items");
	k = RsKArg(fcinfo, 1);
	RsRequireArg(fcinfo, 2, "model");
	model = RsGetModel(text_to_cstring(PG_GETARG_TEXT_PP(2)));
	if (model->kind == RS_MODEL_USER_KNN)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" (user_knn) cannot recommend for an anonymous session", model->name),
				 errhint("Use a factor, item neighbourhood or popularity model, or a blend.")));
	InitMaterializedSRF(fcinfo, 0);
	exclude = palloc0(RS_BITMAP_BYTES(model->items.count) + 1);
	mark_items(model, PG_GETARG_ARRAYTYPE_P(0), "items", exclude, &pairs, &n_pairs);
	for (int j = 0; j < n_pairs; j++)
		pairs[j].weight = RsSessionItemWeight(model);

	if (model->kind == RS_MODEL_FACTORS && n_pairs > 0)
	{
		float	   *x = palloc(sizeof(float) * model->k);
		float		bias = 0;

		RsFoldIn(model, pairs, n_pairs, x, &bias);
		rank_vector(rsinfo, model, x, bias, exclude, k);
	}
	else if (model->kind == RS_MODEL_BLEND)
	{
		/* each member scores the session its own way; see blend.c */
		float	   *scores = palloc(sizeof(float) * Max(model->items.count, 1));
		int32	   *idx = palloc(sizeof(int32) * k);
		float	   *score = palloc(sizeof(float) * k);
		int			found;

		if (!RsBlendSessionScores(model, pairs, n_pairs, scores))
			memcpy(scores, model->popularity, sizeof(float) * model->items.count);
		found = RsTopItems(model, scores, exclude, k, idx, score);
		for (int r = 0; r < found; r++)
			RsPutItemRow(rsinfo, model->items.ids[idx[r]], score[r]);
	}
	else
	{
		/* neighbourhood scoring of the session's items, or popularity */
		RsUserItems items;
		int32	   *idx = palloc(sizeof(int32) * k);
		float	   *score = palloc(sizeof(float) * k);
		float	   *scratch = palloc(sizeof(float) * Max(model->items.count, RS_SCORE_BLOCK));
		bool		fallback;
		int			found;

		items.n = n_pairs;
		items.recency = NULL;
		items.item = palloc(sizeof(int32) * Max(n_pairs, 1));
		items.weight = palloc(sizeof(float) * Max(n_pairs, 1));
		for (int j = 0; j < n_pairs; j++)
		{
			items.item[j] = pairs[j].item;
			items.weight[j] = 1;
		}
		/* an id no user has: the factor path falls back to popularity */
		found = RsRankForUser(model, PG_INT64_MIN, &items, exclude, k, scratch, idx, score,
							  &fallback);
		for (int r = 0; r < found; r++)
			RsPutItemRow(rsinfo, model->items.ids[idx[r]], score[r]);
	}
	return (Datum) 0;
}

/*
 * recsys_refresh_user(user_id bigint, model text) recomputes one user's
 * stored vector of the active version from the model's source as it is
 * now, so a purchase counts without retraining; a user unknown at
 * training time gets a vector.  Returns the vector, or NULL (and deletes
 * the user's row) when the user has no interactions with the model's
 * items.  A model trained with store_users false has no row to refresh
 * (and must not gain one): an error says so.
 */
Datum
recsys_refresh_user(PG_FUNCTION_ARGS)
{
	RsModel    *model;
	int64		user_id;
	RsUserItems items;
	float	   *x;
	float		bias = 0;
	bool		found;
	Oid			argtypes[5] = {TEXTOID, INT4OID, INT8OID, FLOAT4OID, FLOAT4ARRAYOID};
	Datum		values[5];

	RsRequireArg(fcinfo, 0, "user_id");
	user_id = PG_GETARG_INT64(0);
	model = factor_model(fcinfo, 1, "refresh_user");
	/* it writes the model's rows: the owner's right, not a user's */
	(void) RsRequireModelOwner(model->name, "refresh users of", false);
	if (!model->store_users)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" stores no user vectors, so refresh_user has nothing to refresh",
						model->name),
				 errdetail("It was trained with store_users => false: serving folds each user's current rows of the source in at query time."),
				 errhint("Leave out the refresh_user call for this model; recsys.fold_in computes a vector without storing it.")));
	RsReadUserItems(model, user_id, "refresh_user", &items);
	x = palloc(sizeof(float) * model->k);
	found = RsFoldInUserItems(model, &items, x, &bias);

	values[0] = CStringGetTextDatum(model->name);
	values[1] = Int32GetDatum(model->version);
	values[2] = Int64GetDatum(user_id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (found)
	{
		values[3] = Float4GetDatum(bias);
		values[4] = PointerGetDatum(RsFloatArray(x, model->k));
		RsExecute("INSERT INTO recsys.user_factors (model, version, user_id, bias, factors) "
				  "VALUES ($1, $2, $3, $4, $5) "
				  "ON CONFLICT (model, version, user_id) DO UPDATE "
				  "SET bias = EXCLUDED.bias, factors = EXCLUDED.factors",
				  5, argtypes, values, NULL, false, SPI_OK_INSERT);
	}
	else
		RsExecute("DELETE FROM recsys.user_factors WHERE model OPERATOR(pg_catalog.=) $1 "
				  "AND version OPERATOR(pg_catalog.=) $2 AND user_id OPERATOR(pg_catalog.=) $3",
				  3, argtypes, values, NULL, false, SPI_OK_DELETE);
	SPI_finish();
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(RsFloatArray(x, model->k));
}
