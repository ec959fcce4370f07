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
 * with duplicate items summed first, as training does.
 *
 * recsys.fold_in is an aggregate whose state is a bytea (a real SQL type,
 * so distributed planners such as Citus can split it into worker and
 * coordinator phases): the model's name and version and the list of
 * (item index, weight) pairs seen.  The combine function concatenates two
 * lists; the final function merges duplicates and solves.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "args.h"
#include "array_util.h"
#include "fold_in.h"
#include "linalg.h"
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

/* The aggregate state, inside a bytea. */
typedef struct FoldInState
{
	int32		vl_len_;		/* varlena header */
	uint32		magic;
	int32		version;
	int32		n;				/* pairs */
	char		model[NAMEDATALEN];
	RsWeightedItem pairs[FLEXIBLE_ARRAY_MEMBER];
} FoldInState;

#define FOLD_IN_SIZE(n) (offsetof(FoldInState, pairs) + (Size) (n) * sizeof(RsWeightedItem))

static FoldInState *
check_state(bytea *b)
{
	FoldInState *s = (FoldInState *) b;

	if (VARSIZE(b) < offsetof(FoldInState, pairs) || s->magic != FOLD_IN_MAGIC ||
		VARSIZE(b) != FOLD_IN_SIZE(s->n))
		elog(ERROR, "recsys.fold_in: malformed aggregate state");
	return s;
}

/* Order pairs by item, for merging duplicates. */
static int
pair_cmp(const void *a, const void *b)
{
	const RsWeightedItem *x = a;
	const RsWeightedItem *y = b;

	return x->item < y->item ? -1 : x->item > y->item;
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
	int			k = model->k;
	int			m = 0;
	int			dim;
	float	   *A;
	float	   *b;

	if (model->kind != RS_MODEL_FACTORS)
		elog(ERROR, "fold-in needs a factor model");
	qsort(pairs, n, sizeof(RsWeightedItem), pair_cmp);
	for (int j = 0; j < n; j++)
	{
		if (m > 0 && pairs[m - 1].item == pairs[j].item)
			pairs[m - 1].weight += pairs[j].weight;
		else
			pairs[m++] = pairs[j];
	}
	if (m == 0)
		return false;

	/* explicit models solve for [b_u, x] together */
	dim = model->explicit_feedback ? k + 1 : k;
	A = palloc0(sizeof(float) * dim * dim);
	b = palloc0(sizeof(float) * dim);
	if (model->explicit_feedback)
	{
		float		reg = model->regularization * m;

		for (int j = 0; j < m; j++)
		{
			const float *y = model->item_factors + (int64) pairs[j].item * k;
			float		t = pairs[j].weight - model->global_mean - model->item_bias[pairs[j].item];

			/* feature vector f = [1, y] */
			A[0] += 1;
			b[0] += t;
			for (int p = 0; p < k; p++)
			{
				A[p + 1] += y[p];
				A[(p + 1) * dim] += y[p];
				b[p + 1] += t * y[p];
				for (int q = 0; q < k; q++)
					A[(p + 1) * dim + q + 1] += y[p] * y[q];
			}
		}
		for (int p = 0; p < dim; p++)
			A[p * dim + p] += reg;
	}
	else
	{
		memcpy(A, RsModelGram(model), sizeof(float) * k * k);
		for (int p = 0; p < k; p++)
			A[p * k + p] += model->regularization;
		for (int j = 0; j < m; j++)
		{
			const float *y = model->item_factors + (int64) pairs[j].item * k;
			float		w = pairs[j].weight;
			float		c1 = model->alpha * fabsf(w);	/* confidence - 1 */

			for (int p = 0; p < k; p++)
			{
				if (w > 0)
					b[p] += (1 + c1) * y[p];
				for (int q = 0; q < k; q++)
					A[p * k + q] += c1 * y[p] * y[q];
			}
		}
	}
	if (rs_cholesky_solve(A, dim, b, 1) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot fold in: the user's system in model \"%s\" is not positive definite",
						model->name),
				 errhint("Retrain the model with a larger regularization.")));
	if (model->explicit_feedback)
	{
		memcpy(x, b + 1, sizeof(float) * k);
		if (bias)
			*bias = b[0];
	}
	else
	{
		memcpy(x, b, sizeof(float) * k);
		if (bias)
			*bias = 0;
	}
	pfree(A);
	pfree(b);
	return true;
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

	if (!AggCheckCallContext(fcinfo, &agg_context))
		elog(ERROR, "recsys.fold_in called in non-aggregate context");
	model = factor_model(fcinfo, 3, "recsys.fold_in");
	if (PG_ARGISNULL(0))
	{
		s = MemoryContextAllocZero(agg_context, FOLD_IN_SIZE(16));
		s->magic = FOLD_IN_MAGIC;
		s->version = model->version;
		strlcpy(s->model, model->name, NAMEDATALEN);
		SET_VARSIZE(s, FOLD_IN_SIZE(0));
	}
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

	/* grow in place while the chunk has room (it is ours: aggregate context) */
	if (GetMemoryChunkSpace(s) < FOLD_IN_SIZE(s->n + 1) + sizeof(void *) * 4)
	{
		FoldInState *bigger = MemoryContextAlloc(agg_context, FOLD_IN_SIZE(2 * s->n + 16));

		memcpy(bigger, s, VARSIZE(s));
		s = bigger;
	}
	s->pairs[s->n].item = item;
	s->pairs[s->n].weight = weight;
	s->n++;
	SET_VARSIZE(s, FOLD_IN_SIZE(s->n));
	PG_RETURN_BYTEA_P(s);
}

/* recsys_fold_in_combine(a bytea, b bytea) concatenates two states. */
Datum
recsys_fold_in_combine(PG_FUNCTION_ARGS)
{
	MemoryContext agg_context;
	FoldInState *a;
	FoldInState *b;
	FoldInState *c;

	if (!AggCheckCallContext(fcinfo, &agg_context))
		elog(ERROR, "recsys.fold_in called in non-aggregate context");
	if (PG_ARGISNULL(0) && PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
	{
		bytea	   *only = PG_ARGISNULL(0) ? PG_GETARG_BYTEA_P(1) : PG_GETARG_BYTEA_P(0);
		bytea	   *copy = MemoryContextAlloc(agg_context, VARSIZE(only));

		memcpy(copy, only, VARSIZE(only));
		PG_RETURN_BYTEA_P(copy);
	}
	a = check_state(PG_GETARG_BYTEA_P(0));
	b = check_state(PG_GETARG_BYTEA_P(1));
	if (a->version != b->version || strcmp(a->model, b->model) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recsys.fold_in must use one model per group")));
	c = MemoryContextAlloc(agg_context, FOLD_IN_SIZE(a->n + b->n));
	memcpy(c, a, FOLD_IN_SIZE(a->n));
	memcpy(c->pairs + a->n, b->pairs, sizeof(RsWeightedItem) * b->n);
	c->n = a->n + b->n;
	SET_VARSIZE(c, FOLD_IN_SIZE(c->n));
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
 * popularity model ranks by popularity.  The session's items are never
 * recommended back.
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
				 errhint("Use a factor, item neighbourhood or popularity model.")));
	InitMaterializedSRF(fcinfo, 0);
	exclude = palloc0(RS_BITMAP_BYTES(model->items.count) + 1);
	mark_items(model, PG_GETARG_ARRAYTYPE_P(0), "items", exclude, &pairs, &n_pairs);

	if (model->kind == RS_MODEL_FACTORS && n_pairs > 0)
	{
		float	   *x = palloc(sizeof(float) * model->k);
		float		bias = 0;

		RsFoldIn(model, pairs, n_pairs, x, &bias);
		rank_vector(rsinfo, model, x, bias, exclude, k);
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
 * items.
 */
Datum
recsys_refresh_user(PG_FUNCTION_ARGS)
{
	RsModel    *model;
	int64		user_id;
	RsUserItems items;
	RsWeightedItem *pairs;
	float	   *x;
	float		bias = 0;
	bool		found;
	Oid			argtypes[5] = {TEXTOID, INT4OID, INT8OID, FLOAT4OID, FLOAT4ARRAYOID};
	Datum		values[5];

	RsRequireArg(fcinfo, 0, "user_id");
	user_id = PG_GETARG_INT64(0);
	model = factor_model(fcinfo, 1, "refresh_user");
	RsReadUserItems(model, user_id, "refresh_user", &items);
	pairs = palloc(sizeof(RsWeightedItem) * Max(items.n, 1));
	for (int j = 0; j < items.n; j++)
	{
		pairs[j].item = items.item[j];
		pairs[j].weight = items.weight[j];
	}
	x = palloc(sizeof(float) * model->k);
	found = RsFoldIn(model, pairs, items.n, x, &bias);

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
