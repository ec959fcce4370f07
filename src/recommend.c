/*-------------------------------------------------------------------------
 *
 * recommend.c
 *		Serving: recommend, similar_items, score and explain.
 *
 * Every function takes the model by name, gets it from the backend's
 * model cache (model_cache.c) and scores items with the pure-C kernels.
 * How a model scores depends on its kind:
 *	- factors (als, mf): x_u . y_i, plus biases and the global mean for
 *	  explicit ratings (clipped to the rating range);
 *	- item-kNN: sum over the user's items i of w_ui * sim(i, j), the user's
 *	  items read from the model's source as it is now, so a purchase made
 *	  a second ago already counts;
 *	- user-kNN: sum over the user's neighbours v of sim(u, v) * w_vi,
 *	  divided by the sum of the neighbours' similarities;
 *	- popular: the popularity score.
 * A user the model cannot score (unknown to a factor model, no items for a
 * kNN model) gets the model's popularity ranking; a DEBUG1 message says so.
 * Items a kNN model cannot reach for this user follow the scored ones, by
 * popularity, with score 0, so a request for k items gets k items when
 * the catalog has them.
 *
 * All functions are read-only: they run on hot standbys.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/tuplestore.h"

#include "args.h"
#include "array_util.h"
#include "blend.h"
#include "cancel.h"
#include "linalg.h"
#include "model_acl.h"
#include "model_cache.h"
#include "recommend.h"
#include "recsys.h"
#include "score.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_recommend);
PG_FUNCTION_INFO_V1(recsys_similar_items);
PG_FUNCTION_INFO_V1(recsys_score);
PG_FUNCTION_INFO_V1(recsys_explain);

static RsModel *
model_arg(FunctionCallInfo fcinfo, int argno)
{
	RsRequireArg(fcinfo, argno, "model");
	return RsGetModel(text_to_cstring(PG_GETARG_TEXT_PP(argno)));
}

/* RsPutItemRow adds one output row (id, value) to a materialized SRF. */
void
RsPutItemRow(ReturnSetInfo *rsinfo, int64 id, float value)
{
	Datum		values[2] = {Int64GetDatum(id), Float4GetDatum(value)};
	bool		nulls[2] = {false, false};

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* The explicit model's prediction for a user (bias) and item, clipped. */
static float
explicit_prediction(RsModel *model, float user_bias, int32 i, float dot)
{
	float		p = model->global_mean + user_bias + model->item_bias[i] + dot;

	return Min(Max(p, model->rating_min), model->rating_max);
}

static float
dot(const float *a, const float *b, int k)
{
	float		s = 0;

	for (int f = 0; f < k; f++)
		s += a[f] * b[f];
	return s;
}

/*
 * Item-kNN scores: scores[j] += w_ui * sim(i, j) over the user's items.
 * Unreached items stay NaN so top-k skips them.
 */
static void
item_knn_scores(RsModel *model, const RsUserItems *items, float *scores)
{
	const RsCsr *nb = &model->neighbors;

	for (int32 j = 0; j < model->items.count; j++)
		scores[j] = get_float4_nan();
	for (int n = 0; n < items->n; n++)
	{
		int32		i = items->item[n];

		for (int64 p = nb->indptr[i]; p < nb->indptr[i + 1]; p++)
		{
			int32		j = nb->indices[p];
			float		add = RsUserItemInput(model, items, n) * nb->data[p];

			scores[j] = isnan(scores[j]) ? add : scores[j] + add;
		}
	}
}

/*
 * Start user u's user-kNN scores: every item unreached (NaN), and return
 * the sum of |sim(u, v)| over u's neighbours, which divides every share.
 */
static double
user_knn_start(RsModel *model, int32 u, float *scores)
{
	const RsCsr *nb = &model->neighbors;
	double		total = 0;

	for (int64 p = nb->indptr[u]; p < nb->indptr[u + 1]; p++)
		total += fabs(nb->data[p]);
	for (int32 i = 0; i < model->items.count; i++)
		scores[i] = get_float4_nan();
	return total;
}

/* Add neighbour v's share sim(u, v) * w_vi to item i's user-kNN score. */
static inline void
user_knn_add(float *scores, int32 i, float sim, float w, double total)
{
	scores[i] = (isnan(scores[i]) ? 0 : scores[i]) + (float) (sim * w / Max(total, 1e-12));
}

/*
 * user_knn_scores from the source rows evaluate lent the model: the same
 * sums, without a query.
 */
static void
user_knn_scores_lent(RsModel *model, int32 u, float *scores)
{
	const RsCsr *nb = &model->neighbors;
	const RsCsr *rows = model->lent_rows;
	double		total = user_knn_start(model, u, scores);

	for (int64 p = nb->indptr[u]; p < nb->indptr[u + 1]; p++)
	{
		int32		v = rs_idmap_lookup(model->lent_users, model->users.ids[nb->indices[p]]);
		float		sim = nb->data[p];

		if (v < 0)
			continue;
		for (int64 q = rows->indptr[v]; q < rows->indptr[v + 1]; q++)
		{
			int32		i = model->lent_item_index[rows->indices[q]];

			if (i < 0)
				continue;
			user_knn_add(scores, i, sim, rows->data[q], total);
		}
	}
}

/*
 * User-kNN scores: sum over neighbours v of sim(u, v) * w_vi, divided by
 * the sum of the similarities.  The neighbours' items come from the
 * source as it is now.  Returns false if the user has no neighbours.
 */
static bool
user_knn_scores(RsModel *model, int32 u, float *scores)
{
	const RsCsr *nb = &model->neighbors;
	int			n = (int) (nb->indptr[u + 1] - nb->indptr[u]);
	int64	   *ids;
	float	   *sims;
	double		total;
	Datum		arg;
	int			ret;

	if (n == 0)
		return false;
	if (model->lent_rows)
	{
		user_knn_scores_lent(model, u, scores);
		return true;
	}
	RsRequireSource(model, "A user-kNN model");
	ids = palloc(sizeof(int64) * n);
	sims = palloc(sizeof(float) * n);
	for (int j = 0; j < n; j++)
	{
		ids[j] = model->users.ids[nb->indices[nb->indptr[u] + j]];
		sims[j] = nb->data[nb->indptr[u] + j];
	}
	total = user_knn_start(model, u, scores);

	arg = PointerGetDatum(RsInt64Array(ids, n));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = RsExecutePlanAsOwner(model->name, RsSourceReader(model), model->seen_many_plan, &arg);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the neighbours' items failed: %s", SPI_result_code_string(ret));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		bool		n1,
					n2,
					n3;
		int64		v = DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &n1));
		int64		item = DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &n2));
		float		w = DatumGetFloat4(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 3, &n3));
		int32		i;
		float		sim = 0;

		if (n1 || n2 || n3)
			continue;
		i = RsModelItemIndex(model, item);
		if (i < 0)
			continue;
		for (int j = 0; j < n; j++)
			if (ids[j] == v)
				sim = sims[j];
		user_knn_add(scores, i, sim, w, total);
	}
	SPI_finish();
	return true;
}

/*
 * RsScoreAllItems scores every item for a user; returns false when the
 * model cannot score this user and the popularity fallback applies.
 * items holds the user's items when the caller read them (NULL
 * otherwise): all of them, as RsReadUserItems returns them, since a factor
 * model without stored users folds them in.
 */
bool
RsScoreAllItems(RsModel *model, int64 user_id, const RsUserItems *items, float *scores)
{
	int32		u;
	const float *x;

	switch (model->kind)
	{
		case RS_MODEL_FACTORS:
			x = RsModelUserVector(model, user_id, items, NULL);
			if (x == NULL)
				return false;
			rs_score_items(model->item_factors, NULL, model->items.count, model->k, x, scores);
			if (model->explicit_feedback)
				for (int32 i = 0; i < model->items.count; i++)
					scores[i] += model->item_bias[i];
			return true;
		case RS_MODEL_ITEM_KNN:
			if (items == NULL || items->n == 0)
				return false;
			item_knn_scores(model, items, scores);
			return true;
		case RS_MODEL_USER_KNN:
			u = RsModelUserIndex(model, user_id);
			return u >= 0 && user_knn_scores(model, u, scores);
		case RS_MODEL_POPULAR:
			memcpy(scores, model->popularity, sizeof(float) * model->items.count);
			return true;
		case RS_MODEL_BLEND:
			return RsBlendScores(model, user_id, items, scores);
	}
	return false;
}

/*
 * The scores for a user the model cannot score: an explicit model's
 * baseline prediction mu + b_i (a rating, as evaluate uses), else the
 * popularity.
 */
static void
fallback_scores(RsModel *model, float *scores)
{
	if (model->kind == RS_MODEL_FACTORS && model->explicit_feedback)
		for (int32 i = 0; i < model->items.count; i++)
			scores[i] = explicit_prediction(model, 0, i, 0);
	else
		memcpy(scores, model->popularity, sizeof(float) * model->items.count);
}

/*
 * RsRankForUser puts the k best items for a user into out_idx/out_score,
 * best first, and returns how many (fewer only when the catalog runs out).
 * items are the user's interactions (needed by item-kNN, folded in by a
 * factor model without stored users; NULL if the caller did not read them).
 * exclude is a bitmap of items not to recommend; every item returned is
 * added to it, so the caller can clear exactly what it set.  *fallback
 * says whether the popularity ranking stood in for the model.  scratch
 * holds Max(n_items, RS_SCORE_BLOCK) floats.
 */
int
RsRankForUser(RsModel *model, int64 user_id, const RsUserItems *items, uint8 *exclude,
			  int k, float *scratch, int32 *out_idx, float *out_score, bool *fallback)
{
	int32		n_items = model->items.count;
	float		user_bias = 0;
	const float *x = RsModelUserVector(model, user_id, items, &user_bias);
	int			found;

	*fallback = false;
	if (x == NULL)
	{
		if (!RsScoreAllItems(model, user_id, items, scratch))
		{
			*fallback = true;
			fallback_scores(model, scratch);
		}
		return RsTopItems(model, scratch, exclude, k, out_idx, out_score);
	}

	/* factor models: score and select in one cache-friendly pass (every item is scored) */
	found = rs_score_topk(model->item_factors,
						  model->explicit_feedback ? model->item_bias : NULL,
						  n_items, model->k, x, exclude, k, scratch, out_idx, out_score);
	if (model->explicit_feedback)
		for (int r = 0; r < found; r++)
			out_score[r] = explicit_prediction(model, user_bias, out_idx[r],
											   out_score[r] - model->item_bias[out_idx[r]]);
	for (int r = 0; r < found; r++)
		rs_bitmap_set(exclude, out_idx[r]);
	return found;
}

/*
 * RsTopItems puts the k best of scores (one per model item, NaN for
 * unreached) into out_idx/out_score, skipping and then adding to exclude,
 * and fills up from the popularity ranking with score 0 (kNN models reach
 * few items), so k items come back when the catalog has them.
 */
int
RsTopItems(RsModel *model, const float *scores, uint8 *exclude, int k, int32 *out_idx,
		   float *out_score)
{
	int32		n_items = model->items.count;
	int			found = rs_topk(scores, n_items, k, exclude, out_idx, out_score);

	for (int r = 0; r < found; r++)
		rs_bitmap_set(exclude, out_idx[r]);
	for (int32 p = 0; p < n_items && found < k; p++)
	{
		int32		i = model->popular_order[p];

		if (rs_bitmap_test(exclude, i))
			continue;
		out_idx[found] = i;
		out_score[found] = 0;
		rs_bitmap_set(exclude, i);
		found++;
	}
	return found;
}

/*
 * recsys_recommend(user_id bigint, k int, model text, exclude_seen bool,
 *					candidates bigint[]) returns (item_id, score) best first.
 */
Datum
recsys_recommend(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsModel    *model;
	int64		user_id;
	int			k;
	bool		exclude_seen;
	int32		n_items;
	uint8	   *exclude;
	int32	   *top_idx;
	float	   *top_score;
	int			found;
	RsUserItems items = {0};
	bool		have_items = false;
	bool		fallback;

	RsRequireArg(fcinfo, 0, "user_id");
	user_id = PG_GETARG_INT64(0);
	k = RsKArg(fcinfo, 1);
	RsRequireArg(fcinfo, 3, "exclude_seen");
	exclude_seen = PG_GETARG_BOOL(3);
	model = model_arg(fcinfo, 2);
	InitMaterializedSRF(fcinfo, 0);

	n_items = model->items.count;
	exclude = palloc0(RS_BITMAP_BYTES(n_items) + 1);

	if (!PG_ARGISNULL(4))
	{
		/* only the candidates may be recommended */
		int			n;
		int64	   *cand = RsArrayToInt64s(PG_GETARG_ARRAYTYPE_P(4), "candidates", &n);

		memset(exclude, 0xff, RS_BITMAP_BYTES(n_items));
		for (int c = 0; c < n; c++)
		{
			int32		i = RsModelItemIndex(model, cand[c]);

			if (i >= 0)
				exclude[i >> 3] &= (uint8) ~(1u << (i & 7));
		}
	}

	if (exclude_seen || model->kind == RS_MODEL_ITEM_KNN)
	{
		RsReadUserItems(model, user_id,
						exclude_seen ? "Excluding seen items" : "An item-kNN model", &items);
		have_items = true;
		if (exclude_seen)
			for (int n = 0; n < items.n; n++)
				rs_bitmap_set(exclude, items.item[n]);
	}

	top_idx = palloc(sizeof(int32) * k);
	top_score = palloc(sizeof(float) * k);
	found = RsRankForUser(model, user_id, have_items ? &items : NULL, exclude, k,
						  palloc(sizeof(float) * Max(n_items, RS_SCORE_BLOCK)),
						  top_idx, top_score, &fallback);
	if (fallback)
		ereport(DEBUG1,
				(errmsg_internal("model \"%s\" cannot score user " INT64_FORMAT "; recommending popular items",
								 model->name, user_id)));
	for (int r = 0; r < found; r++)
		RsPutItemRow(rsinfo, model->items.ids[top_idx[r]], top_score[r]);
	return (Datum) 0;
}

/*
 * recsys_similar_items(item_id bigint, k int, model text) returns the k
 * items most similar to item_id: cosine of item factors, or the stored
 * neighbours of a neighbourhood model.
 */
Datum
recsys_similar_items(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsModel    *model;
	int64		item_id;
	int			k;
	int32		i;

	RsRequireArg(fcinfo, 0, "item_id");
	item_id = PG_GETARG_INT64(0);
	k = RsKArg(fcinfo, 1);
	model = model_arg(fcinfo, 2);
	if (model->kind != RS_MODEL_FACTORS && model->kind != RS_MODEL_ITEM_KNN)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" (%s) has no item similarities", model->name, model->algorithm),
				 errhint("Use a factor model (train_cf) or an item neighbourhood model (train_item_knn).")));
	i = RsModelItemIndex(model, item_id);
	if (i < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item " INT64_FORMAT " is not in model \"%s\"", item_id, model->name),
				 errhint("Only items of the model's training source have similarities.")));
	InitMaterializedSRF(fcinfo, 0);

	if (model->kind == RS_MODEL_ITEM_KNN)
	{
		const RsCsr *nb = &model->neighbors;

		for (int64 p = nb->indptr[i]; p < nb->indptr[i + 1] && p - nb->indptr[i] < k; p++)
			RsPutItemRow(rsinfo, model->items.ids[nb->indices[p]], nb->data[p]);
	}
	else
	{
		int32		n_items = model->items.count;
		float	   *scores = palloc(sizeof(float) * n_items);
		uint8	   *exclude = palloc0(RS_BITMAP_BYTES(n_items) + 1);
		int32	   *top_idx = palloc(sizeof(int32) * k);
		float	   *top_score = palloc(sizeof(float) * k);
		const float *y = model->item_factors + (int64) i * model->k;
		float		norm = model->item_norms[i];
		int			found;

		rs_score_items(model->item_factors, NULL, n_items, model->k, y, scores);
		for (int32 j = 0; j < n_items; j++)
			scores[j] = (norm > 0 && model->item_norms[j] > 0) ?
				scores[j] / (norm * model->item_norms[j]) : 0;
		rs_bitmap_set(exclude, i);
		found = rs_topk(scores, n_items, k, exclude, top_idx, top_score);
		for (int r = 0; r < found; r++)
			RsPutItemRow(rsinfo, model->items.ids[top_idx[r]], top_score[r]);
	}
	return (Datum) 0;
}

/*
 * A kNN model's (or a blend's) score of one item needs the user's whole score vector;
 * ORDER BY recsys.score(u, p.id) calls once per row, so the vector is
 * kept for the rest of the statement.
 */
typedef struct ScoreMemo
{
	RsModel    *model;
	int32		version;
	int64		user_id;
	RsStatementStamp stamp;
	bool		scored;
	float	   *scores;
} ScoreMemo;

/*
 * recsys_score(user_id bigint, item_id bigint, model text) returns the
 * model's score of one item for one user: NULL for an item the model does
 * not know, the item's popularity for a user it cannot score.
 */
Datum
recsys_score(PG_FUNCTION_ARGS)
{
	RsModel    *model;
	int64		user_id;
	int64		item_id;
	int32		i;

	RsRequireArg(fcinfo, 0, "user_id");
	RsRequireArg(fcinfo, 1, "item_id");
	user_id = PG_GETARG_INT64(0);
	item_id = PG_GETARG_INT64(1);
	model = model_arg(fcinfo, 2);

	i = RsModelItemIndex(model, item_id);
	if (i < 0)
		PG_RETURN_NULL();

	if (model->kind == RS_MODEL_FACTORS)
	{
		float		user_bias;
		const float *x = RsModelUserVector(model, user_id, NULL, &user_bias);
		float		d;

		if (x == NULL)
			PG_RETURN_FLOAT4(model->explicit_feedback ? explicit_prediction(model, 0, i, 0) :
							 model->popularity[i]);
		d = dot(x, model->item_factors + (int64) i * model->k, model->k);
		PG_RETURN_FLOAT4(model->explicit_feedback ? explicit_prediction(model, user_bias, i, d) : d);
	}
	if (model->kind == RS_MODEL_POPULAR)
		PG_RETURN_FLOAT4(model->popularity[i]);

	/* kNN and blends: the user's score vector, once per statement */
	{
		ScoreMemo  *memo = (ScoreMemo *) fcinfo->flinfo->fn_extra;
		RsStatementStamp now = RsCurrentStatement();

		if (memo == NULL)
		{
			memo = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ScoreMemo));
			fcinfo->flinfo->fn_extra = memo;
		}
		if (memo->model != model || memo->version != model->version ||
			memo->user_id != user_id || !RsSameStatement(&memo->stamp, &now) ||
			memo->scores == NULL)
		{
			RsUserItems items = {0};

			if (memo->scores)
				pfree(memo->scores);
			memo->scores = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
											  sizeof(float) * Max(model->items.count, 1));
			if (model->kind == RS_MODEL_ITEM_KNN)
				RsReadUserItems(model, user_id, "An item-kNN model", &items);
			memo->scored = RsScoreAllItems(model, user_id,
										   model->kind == RS_MODEL_ITEM_KNN ? &items : NULL,
										   memo->scores);
			memo->model = model;
			memo->version = model->version;
			memo->user_id = user_id;
			memo->stamp = now;
		}
		if (!memo->scored)
			PG_RETURN_FLOAT4(model->popularity[i]);
		PG_RETURN_FLOAT4(isnan(memo->scores[i]) ? 0 : memo->scores[i]);
	}
}

/* Largest contribution first, then smaller item id. */
static int
contribution_cmp(const void *a, const void *b)
{
	const RsContribution *x = a;
	const RsContribution *y = b;

	if (x->value != y->value)
		return x->value > y->value ? -1 : 1;
	return x->item_id < y->item_id ? -1 : x->item_id > y->item_id;
}

/*
 * Factor-model contributions, the decomposition the implicit library's
 * explain uses: the user's vector solves A x = sum_i c_i p_i y_i, so the
 * score of item j splits as sum_i c_i p_i (y_j^T A^-1 y_i).  Implicit:
 * A = YtY + reg I + sum_i (c_i - 1) y_i y_i^T, c_i = 1 + alpha w_i.
 * Explicit: A = sum_i y_i y_i^T + reg I and c_i p_i becomes the residual
 * r_ui - mu - b_u - b_i.
 */
static void
factor_contributions(RsModel *model, const RsUserItems *items, int32 j, int64 user_id,
					 RsContribution *out)
{
	int			k = model->k;
	float	   *A = palloc(sizeof(float) * k * k);
	float	   *z = palloc(sizeof(float) * k);
	float		user_bias = 0;
	double		sum_abs = 0;
	float		reg;

	(void) RsModelUserVector(model, user_id, items, &user_bias);
	for (int n = 0; n < items->n; n++)
		sum_abs += fabsf(items->weight[n]);
	reg = model->explicit_feedback ? model->regularization : RsImplicitUserReg(model, sum_abs);
	if (model->explicit_feedback)
		memset(A, 0, sizeof(float) * k * k);
	else
		memcpy(A, RsModelGram(model), sizeof(float) * k * k);
	for (int a = 0; a < k; a++)
		A[a * k + a] += reg;
	for (int n = 0; n < items->n; n++)
	{
		const float *y = model->item_factors + (int64) items->item[n] * k;
		float		c = model->explicit_feedback ? 1 : model->alpha * fabsf(items->weight[n]);

		/* a user of 200,000 items at 1,024 factors: 10^11 multiply-adds */
		if (n % RsOuterProductsPerCheck(k) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int a = 0; a < k; a++)
			for (int b = 0; b < k; b++)
				A[a * k + b] += c * y[a] * y[b];
	}
	memcpy(z, model->item_factors + (int64) j * k, sizeof(float) * k);
	if (rs_cholesky_solve(A, k, z, 1) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot explain: the user's system in model \"%s\" is not positive definite",
						model->name)));
	for (int n = 0; n < items->n; n++)
	{
		int32		i = items->item[n];
		float		weight;

		if (model->explicit_feedback)
			weight = items->weight[n] - model->global_mean - model->item_bias[i] - user_bias;
		else
			weight = items->weight[n] > 0 ? 1 + model->alpha * items->weight[n] : 0;
		out[n].item_id = model->items.ids[i];
		out[n].value = weight * dot(z, model->item_factors + (int64) i * k, k);
	}
}

/*
 * RsItemContributions sets out[n] to the share of the user's n-th item in
 * the score of item j (an index), for a factor or item-kNN model.
 */
void
RsItemContributions(RsModel *model, const RsUserItems *items, int32 j, int64 user_id,
					RsContribution *out)
{
	if (model->kind == RS_MODEL_ITEM_KNN)
	{
		const RsCsr *nb = &model->neighbors;

		for (int n = 0; n < items->n; n++)
		{
			int32		i = items->item[n];

			out[n].item_id = model->items.ids[i];
			out[n].value = 0;
			for (int64 p = nb->indptr[i]; p < nb->indptr[i + 1]; p++)
				if (nb->indices[p] == j)
					out[n].value = RsUserItemInput(model, items, n) * nb->data[p];
		}
	}
	else
		factor_contributions(model, items, j, user_id, out);
}

/*
 * recsys_explain(user_id bigint, item_id bigint, k int, model text)
 * returns which of the user's own items contribute most to the item's
 * score, largest contribution first.
 */
Datum
recsys_explain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsModel    *model;
	int64		user_id;
	int64		item_id;
	int			k;
	int32		j;
	RsContribution *contrib;
	int			n_contrib;

	RsRequireArg(fcinfo, 0, "user_id");
	RsRequireArg(fcinfo, 1, "item_id");
	user_id = PG_GETARG_INT64(0);
	item_id = PG_GETARG_INT64(1);
	k = RsKArg(fcinfo, 2);
	model = model_arg(fcinfo, 3);
	if (model->kind != RS_MODEL_FACTORS && model->kind != RS_MODEL_ITEM_KNN &&
		model->kind != RS_MODEL_BLEND)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" (%s) cannot explain recommendations by the user's items",
						model->name, model->algorithm),
				 errhint("Use a factor model (train_cf), an item model (train_item_knn, train_ease) or a blend of them.")));
	j = RsModelItemIndex(model, item_id);
	if (j < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item " INT64_FORMAT " is not in model \"%s\"", item_id, model->name)));
	InitMaterializedSRF(fcinfo, 0);

	if (model->kind == RS_MODEL_BLEND)
		n_contrib = RsBlendContributions(model, user_id, item_id, &contrib);
	else
	{
		RsUserItems items = {0};

		RsReadUserItems(model, user_id, "Explaining", &items);
		n_contrib = items.n;
		contrib = palloc(sizeof(RsContribution) * Max(items.n, 1));
		/* no items, nothing to explain: no solve either */
		if (items.n > 0)
			RsItemContributions(model, &items, j, user_id, contrib);
	}

	qsort(contrib, n_contrib, sizeof(RsContribution), contribution_cmp);
	for (int n = 0; n < n_contrib && n < k; n++)
		RsPutItemRow(rsinfo, contrib[n].item_id, contrib[n].value);
	return (Datum) 0;
}
