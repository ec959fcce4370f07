/*-------------------------------------------------------------------------
 *
 * recommend.c
 *		Serving: recommend, similar_items, score, explain,
 *		recommend_session, recommend_for_vector and refresh_user.
 *
 * Every function takes the model by name, gets it from the backend's
 * model cache (model_cache.c) and asks the model's kind (src/model.h,
 * RsModelKind; one src/kind_*.c per kind) to score: no function here
 * knows which kinds there are.  An action a kind has no callback for gets
 * one error (RsKindNotSupported).
 *
 * A user the model cannot score (unknown to a factor model, no items for
 * an item model) gets the kind's cold-start scores (the popularity
 * ranking unless the kind says otherwise); a DEBUG1 message says so.
 * Items a model cannot reach for this user follow the scored ones, by
 * popularity, with score 0, so a request for k items gets k items when
 * the catalog has them.
 *
 * All functions but refresh_user are read-only: they run on hot standbys.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "args.h"
#include "array_util.h"
#include "diversity.h"
#include "history.h"
#include "mmr.h"
#include "model_acl.h"
#include "model_cache.h"
#include "model_kind.h"
#include "recommend.h"
#include "score.h"
#include "spi_util.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_recommend);
PG_FUNCTION_INFO_V1(recsys_similar_items);
PG_FUNCTION_INFO_V1(recsys_score);
PG_FUNCTION_INFO_V1(recsys_explain);
PG_FUNCTION_INFO_V1(recsys_recommend_for_vector);
PG_FUNCTION_INFO_V1(recsys_recommend_session);
PG_FUNCTION_INFO_V1(recsys_refresh_user);

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

/* What the model's scores need the user's items for, or NULL if they do not. */
static const char *
history_input(RsModel *model)
{
	return model->kind->history_input ? model->kind->history_input(model) : NULL;
}

/* The scores of a user (or session) the model cannot score. */
static void
cold_start_scores(RsModel *model, float *scores)
{
	if (model->kind->cold_start_scores)
		model->kind->cold_start_scores(model, scores);
	else
		memcpy(scores, model->popularity, sizeof(float) * model->items.count);
}

/*
 * RsRankForUser puts the k best items for a user into out_idx/out_score,
 * best first, and returns how many (fewer only when the catalog runs out).
 * items are the user's interactions (all of them, as RsReadUserItems
 * returns them: an item model scores them, a factor model without stored
 * users folds them in; NULL if the caller did not read them).
 * exclude is a bitmap of items not to recommend; every item returned is
 * added to it, so the caller can clear exactly what it set.  *fallback
 * says whether the cold-start ranking stood in for the model.  scratch
 * holds Max(n_items, RS_SCORE_BLOCK) floats.
 */
int
RsRankForUser(RsModel *model, int64 user_id, const RsUserItems *items, uint8 *exclude,
			  int k, float *scratch, int32 *out_idx, float *out_score, bool *fallback)
{
	*fallback = false;
	if (model->kind->rank_top_k)
	{
		int			found = model->kind->rank_top_k(model, user_id, items, exclude, k, scratch,
													out_idx, out_score);

		if (found >= 0)
			return found;
	}
	if (!model->kind->score_user(model, user_id, items, scratch))
	{
		*fallback = true;
		cold_start_scores(model, scratch);
	}
	return RsTopItems(model, scratch, exclude, k, out_idx, out_score);
}

/*
 * Pick k of a pool of n ranked items (pool_idx/pool_score, best first) by
 * MMR (rs_mmr_rerank) with the similarities of diversity's model, into
 * out_idx/out_score; the pool's items not picked are cleared from
 * exclude (they were not in it before the pool was ranked).
 */
static int
pick_diverse(RsModel *model, const RsDiversity *diversity, const int32 *pool_idx,
			 const float *pool_score, int n, int k, uint8 *exclude, int32 *out_idx,
			 float *out_score)
{
	int32	   *sim_idx = palloc(sizeof(int32) * Max(n, 1));
	float	   *sim = palloc(sizeof(float) * Max((Size) n * n, 1));
	float	   *mmr_scratch = palloc(sizeof(float) * 2 * Max(n, 1));
	int32	   *order = palloc(sizeof(int32) * Max(n, 1));
	bool	   *picked = palloc0(sizeof(bool) * Max(n, 1));
	int			found;

	/* the pool's items as the similarity model knows them */
	for (int c = 0; c < n; c++)
		sim_idx[c] = diversity->similarity == model ? pool_idx[c] :
			RsModelItemIndex(diversity->similarity, model->items.ids[pool_idx[c]]);
	CHECK_FOR_INTERRUPTS();
	RsItemSimilarityOf(diversity->similarity, sim_idx, n, sim);

	found = rs_mmr_rerank(pool_score, sim, n, k, diversity->lambda, mmr_scratch, order);
	for (int r = 0; r < found; r++)
	{
		out_idx[r] = pool_idx[order[r]];
		out_score[r] = pool_score[order[r]];
		picked[order[r]] = true;
	}
	for (int c = 0; c < n; c++)
		if (!picked[c])
			exclude[pool_idx[c] >> 3] &= (uint8) ~(1u << (pool_idx[c] & 7));

	pfree(picked);
	pfree(order);
	pfree(mmr_scratch);
	pfree(sim);
	pfree(sim_idx);
	return found;
}

/*
 * RsRankDiverse ranks as RsRankForUser does (same arguments, same
 * contract: what is returned is added to exclude, nothing else), then
 * re-ranks by MMR when diversity asks for it: the model's ranking of a
 * pool of RsDiversePoolSize(k) items, k of them picked.
 */
int
RsRankDiverse(RsModel *model, const RsDiversity *diversity, int64 user_id,
			  const RsUserItems *items, uint8 *exclude, int k, float *scratch,
			  int32 *out_idx, float *out_score, bool *fallback)
{
	int			pool = RsDiversePoolSize(k);
	int32	   *pool_idx;
	float	   *pool_score;
	int			n;
	int			found;

	if (diversity->lambda == 0)
		return RsRankForUser(model, user_id, items, exclude, k, scratch, out_idx, out_score,
							 fallback);
	pool_idx = palloc(sizeof(int32) * pool);
	pool_score = palloc(sizeof(float) * pool);
	n = RsRankForUser(model, user_id, items, exclude, pool, scratch, pool_idx, pool_score,
					  fallback);
	found = pick_diverse(model, diversity, pool_idx, pool_score, n, k, exclude, out_idx,
						 out_score);
	pfree(pool_score);
	pfree(pool_idx);
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
 *					candidates bigint[], diversity real, similarity_model text)
 * returns (item_id, score) best first, or in the order diversity's
 * re-ranking picks them (src/diversity.c).
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
	RsDiversity diversity;

	RsRequireArg(fcinfo, 0, "user_id");
	user_id = PG_GETARG_INT64(0);
	k = RsKArg(fcinfo, 1);
	RsRequireArg(fcinfo, 3, "exclude_seen");
	exclude_seen = PG_GETARG_BOOL(3);
	model = model_arg(fcinfo, 2);
	RsDiversityArgs(fcinfo, 5, model, k, &diversity);
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

	if (exclude_seen || history_input(model))
	{
		RsReadUserItems(model, user_id,
						exclude_seen ? "Excluding seen items" : history_input(model), &items);
		have_items = true;
		if (exclude_seen)
			for (int n = 0; n < items.n; n++)
				rs_bitmap_set(exclude, items.item[n]);
	}

	top_idx = palloc(sizeof(int32) * k);
	top_score = palloc(sizeof(float) * k);
	found = RsRankDiverse(model, &diversity, user_id, have_items ? &items : NULL, exclude, k,
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
 * items most similar to item_id, as the model's kind measures it (cosine
 * of item factors, the stored neighbours of an item model).
 */
Datum
recsys_similar_items(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsModel    *model;
	int64		item_id;
	int			k;
	int32		i;
	int32	   *top_idx;
	float	   *top_score;
	int			found;

	RsRequireArg(fcinfo, 0, "item_id");
	item_id = PG_GETARG_INT64(0);
	k = RsKArg(fcinfo, 1);
	model = model_arg(fcinfo, 2);
	RS_REQUIRE(model, similar_items, "similar_items");
	i = RsModelItemIndex(model, item_id);
	if (i < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item " INT64_FORMAT " is not in model \"%s\"", item_id, model->name),
				 errhint("Only items of the model's training source have similarities.")));
	InitMaterializedSRF(fcinfo, 0);
	top_idx = palloc(sizeof(int32) * k);
	top_score = palloc(sizeof(float) * k);
	found = model->kind->similar_items(model, i, k, top_idx, top_score);
	for (int r = 0; r < found; r++)
		RsPutItemRow(rsinfo, model->items.ids[top_idx[r]], top_score[r]);
	return (Datum) 0;
}

/*
 * A score of one item that needs the user's whole score vector (kinds
 * without score_item); ORDER BY recsys.score(u, p.id) calls once per row,
 * so the vector is kept for the rest of the statement.
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
 * not know, the item's cold-start score for a user it cannot score.
 */
Datum
recsys_score(PG_FUNCTION_ARGS)
{
	RsModel    *model;
	int64		user_id;
	int64		item_id;
	int32		i;
	ScoreMemo  *memo;
	RsStatementStamp now;

	RsRequireArg(fcinfo, 0, "user_id");
	RsRequireArg(fcinfo, 1, "item_id");
	user_id = PG_GETARG_INT64(0);
	item_id = PG_GETARG_INT64(1);
	model = model_arg(fcinfo, 2);

	i = RsModelItemIndex(model, item_id);
	if (i < 0)
		PG_RETURN_NULL();
	if (model->kind->score_item)
		PG_RETURN_FLOAT4(model->kind->score_item(model, user_id, i));

	/* the user's score vector, once per statement */
	memo = (ScoreMemo *) fcinfo->flinfo->fn_extra;
	now = RsCurrentStatement();
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
		const char *why = history_input(model);

		if (memo->scores)
			pfree(memo->scores);
		memo->scores = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
										  sizeof(float) * Max(model->items.count, 1));
		if (why)
			RsReadUserItems(model, user_id, why, &items);
		memo->scored = model->kind->score_user(model, user_id, why ? &items : NULL,
											   memo->scores);
		if (!memo->scored)
			cold_start_scores(model, memo->scores);
		memo->model = model;
		memo->version = model->version;
		memo->user_id = user_id;
		memo->stamp = now;
	}
	PG_RETURN_FLOAT4(isnan(memo->scores[i]) ? 0 : memo->scores[i]);
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
	RS_REQUIRE(model, explain, "explain");
	j = RsModelItemIndex(model, item_id);
	if (j < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item " INT64_FORMAT " is not in model \"%s\"", item_id, model->name)));
	InitMaterializedSRF(fcinfo, 0);

	n_contrib = model->kind->explain(model, user_id, j, item_id, &contrib);
	qsort(contrib, n_contrib, sizeof(RsContribution), contribution_cmp);
	for (int n = 0; n < n_contrib && n < k; n++)
		RsPutItemRow(rsinfo, contrib[n].item_id, contrib[n].value);
	return (Datum) 0;
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

/*
 * recsys_recommend_for_vector(vec real[], k int, model text, exclude bigint[])
 * ranks a model's items for a user vector, e.g. from fold_in.
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
	int32	   *idx;
	float	   *score;
	int			found;

	RsRequireArg(fcinfo, 0, "vec");
	k = RsKArg(fcinfo, 1);
	model = model_arg(fcinfo, 2);
	RS_REQUIRE(model, rank_vector, "recommend_for_vector");
	x = RsArrayToFloats(PG_GETARG_ARRAYTYPE_P(0), "vec", &n);
	exclude = palloc0(RS_BITMAP_BYTES(model->items.count) + 1);
	idx = palloc(sizeof(int32) * k);
	score = palloc(sizeof(float) * k);
	if (!PG_ARGISNULL(3))
		mark_items(model, PG_GETARG_ARRAYTYPE_P(3), "exclude", exclude, NULL, NULL);
	found = model->kind->rank_vector(model, x, n, 0, exclude, k, idx, score);
	InitMaterializedSRF(fcinfo, 0);
	for (int r = 0; r < found; r++)
		RsPutItemRow(rsinfo, model->items.ids[idx[r]], score[r]);
	return (Datum) 0;
}

/*
 * recsys_recommend_session(items bigint[], k int, model text) recommends
 * for an anonymous visitor from the items of their session, as the
 * model's kind scores a session (a factor model folds them in, an item
 * model scores their neighbours, a popularity model ranks by popularity,
 * a blend has each member do its own).  The session's items are never
 * recommended back.  diversity real and similarity_model text re-rank as
 * in recommend.
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
	RsUserItems session;
	int32	   *idx;
	float	   *score;
	float	   *scratch;
	int			found = -1;
	RsDiversity diversity;
	int			pool;

	RsRequireArg(fcinfo, 0, "items");
	k = RsKArg(fcinfo, 1);
	model = model_arg(fcinfo, 2);
	RS_REQUIRE(model, score_session, "recommend_session");
	RsDiversityArgs(fcinfo, 3, model, k, &diversity);
	pool = diversity.lambda > 0 ? RsDiversePoolSize(k) : k;
	InitMaterializedSRF(fcinfo, 0);
	exclude = palloc0(RS_BITMAP_BYTES(model->items.count) + 1);
	mark_items(model, PG_GETARG_ARRAYTYPE_P(0), "items", exclude, &pairs, &n_pairs);
	session.n = n_pairs;
	session.recency = NULL;
	session.item = palloc(sizeof(int32) * Max(n_pairs, 1));
	session.weight = palloc(sizeof(float) * Max(n_pairs, 1));
	for (int j = 0; j < n_pairs; j++)
	{
		session.item[j] = pairs[j].item;
		session.weight[j] = 1;
	}

	idx = palloc(sizeof(int32) * pool);
	score = palloc(sizeof(float) * pool);
	scratch = palloc(sizeof(float) * Max(model->items.count, RS_SCORE_BLOCK));
	if (model->kind->rank_session)
		found = model->kind->rank_session(model, &session, exclude, pool, scratch, idx, score);
	if (found < 0)
	{
		if (!model->kind->score_session(model, &session, scratch))
			cold_start_scores(model, scratch);
		found = RsTopItems(model, scratch, exclude, pool, idx, score);
	}
	if (diversity.lambda > 0)
	{
		int32	   *pool_idx = idx;
		float	   *pool_score = score;

		idx = palloc(sizeof(int32) * k);
		score = palloc(sizeof(float) * k);
		found = pick_diverse(model, &diversity, pool_idx, pool_score, found, k, exclude, idx,
							 score);
	}
	for (int r = 0; r < found; r++)
		RsPutItemRow(rsinfo, model->items.ids[idx[r]], score[r]);
	return (Datum) 0;
}

/*
 * recsys_refresh_user(user_id bigint, model text) recomputes one user's
 * stored vector of the active version from the model's source as it is
 * now, so a purchase counts without retraining; a user unknown at
 * training time gets a vector.  Returns the vector, or NULL (and deletes
 * the user's row) when the user has no interactions with the model's
 * items (the kind's refresh_user says how; a factor model trained with
 * store_users false refuses).
 */
Datum
recsys_refresh_user(PG_FUNCTION_ARGS)
{
	RsModel    *model;
	int64		user_id;
	float	   *x;
	int			length;
	float		bias = 0;
	bool		found;
	Oid			argtypes[5] = {TEXTOID, INT4OID, INT8OID, FLOAT4OID, FLOAT4ARRAYOID};
	Datum		values[5];

	RsRequireArg(fcinfo, 0, "user_id");
	user_id = PG_GETARG_INT64(0);
	model = model_arg(fcinfo, 1);
	RS_REQUIRE(model, refresh_user, "refresh_user");
	/* it writes the model's rows: the owner's right, not a user's */
	(void) RsRequireModelOwner(model->name, "refresh users of", false);
	x = model->kind->refresh_user(model, user_id, &bias, &length);
	found = x != NULL;

	values[0] = CStringGetTextDatum(model->name);
	values[1] = Int32GetDatum(model->version);
	values[2] = Int64GetDatum(user_id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (found)
	{
		values[3] = Float4GetDatum(bias);
		values[4] = PointerGetDatum(RsFloatArray(x, length));
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
	PG_RETURN_ARRAYTYPE_P(RsFloatArray(x, length));
}
