/*-------------------------------------------------------------------------
 *
 * recommend.c
 *		Serving: recommend, recommend_ids, similar_items, score, explain,
 *		recommend_session, recommend_for_vector and refresh_user.
 *
 * Every function takes the model by name, gets it from the backend's
 * model cache (model_cache.c) and asks the model's kind (src/model.h,
 * RsModelKind; one src/kind_*.c per kind) to score: no function here
 * knows which kinds there are.  An action a kind has no callback for gets
 * one error (RsKindNotSupported).
 *
 * A user the model cannot score (unknown to a factor model, no items for
 * an item model) gets the kind's cold-start scores, on the scale of its
 * personalised ones (RsColdStartScores); a DEBUG1 message says so.
 * Items a model cannot reach for this user follow the scored ones, by
 * popularity, with score 0, so a request for k items gets k items when
 * the catalog has them.  recommend and recommend_session say for each
 * row which of these it is (the reason column, RsReason in src/model.h).
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
PG_FUNCTION_INFO_V1(recsys_recommend_ids);
PG_FUNCTION_INFO_V1(recsys_similar_items);
PG_FUNCTION_INFO_V1(recsys_score);
PG_FUNCTION_INFO_V1(recsys_explain);
PG_FUNCTION_INFO_V1(recsys_recommend_for_vector);
PG_FUNCTION_INFO_V1(recsys_recommend_session);
PG_FUNCTION_INFO_V1(recsys_refresh_user);
PG_FUNCTION_INFO_V1(recsys_seen_items);

static RsModel *
model_arg(FunctionCallInfo fcinfo, int argno)
{
	RsRequireArg(fcinfo, argno, "model");
	return RsGetModel(text_to_cstring(PG_GETARG_TEXT_PP(argno)));
}

/*
 * A ranking for an output: up to k items, best first, and why each is
 * there (reason NULL for functions without a reason column).
 */
typedef struct Ranking
{
	int			k;				/* room for k rows */
	int			found;
	int32	   *idx;
	float	   *score;
	RsReason   *reason;
} Ranking;

static void
ranking_init(Ranking *ranking, int k, bool reasons)
{
	ranking->k = k;
	ranking->found = 0;
	ranking->idx = palloc(sizeof(int32) * k);
	ranking->score = palloc(sizeof(float) * k);
	ranking->reason = reasons ? palloc(sizeof(RsReason) * k) : NULL;
}

/* The reason column's values (doc/reference.md, "Why an item is recommended"). */
static const char *const reason_names[] = {
	[RS_REASON_PERSONALISED] = "personalised",
	[RS_REASON_FILLED] = "filled",
	[RS_REASON_COLD_START] = "cold start",
	[RS_REASON_POPULAR] = "popular",
};

/* Add one row (id, value[, reason]) to a materialized SRF. */
static void
put_item_row(ReturnSetInfo *rsinfo, int64 id, float value, const char *reason)
{
	Datum		values[3] = {Int64GetDatum(id), Float4GetDatum(value), (Datum) 0};
	bool		nulls[3] = {false, false, false};

	if (reason)
		values[2] = CStringGetTextDatum(reason);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Output a ranking as rows (item_id, score[, reason]). */
static void
put_ranking(ReturnSetInfo *rsinfo, RsModel *model, const Ranking *ranking)
{
	for (int r = 0; r < ranking->found; r++)
		put_item_row(rsinfo, model->items.ids[ranking->idx[r]], ranking->score[r],
					 ranking->reason ? reason_names[ranking->reason[r]] : NULL);
}

/* What the model's scores need the user's items for, or NULL if they do not. */
static const char *
history_input(RsModel *model)
{
	return model->kind->history_input ? model->kind->history_input(model) : NULL;
}

/*
 * Rank a user's (or session's) scores, or when the model could not score
 * them (!scored) its cold-start scores, and say why each row is there:
 * rows the scores ranked are personalised (popular for a kind that scores
 * everybody alike), rows RsTopItems filled in are filled, and every row
 * of a cold start is a cold start.
 */
static int
rank_scores(RsModel *model, bool scored, const float *scores, uint8 *exclude, int k,
			int32 *out_idx, float *out_score, RsReason *out_reason)
{
	int			ranked;
	int			found = RsTopItems(model, scored ? scores : RsColdStartScores(model), exclude, k,
								   out_idx, out_score, &ranked);

	if (out_reason)
		for (int r = 0; r < found; r++)
			out_reason[r] = !scored ? RS_REASON_COLD_START :
				r >= ranked ? RS_REASON_FILLED :
				model->impersonal ? RS_REASON_POPULAR : RS_REASON_PERSONALISED;
	return found;
}

/* The rows of a kind's fused ranking are the model's own (kinds may say otherwise). */
static int
ranked_by_model(RsModel *model, int found, RsReason *out_reason)
{
	if (out_reason)
		for (int r = 0; r < found; r++)
			out_reason[r] = model->impersonal ? RS_REASON_POPULAR : RS_REASON_PERSONALISED;
	return found;
}

/*
 * RsRankForUser puts the k best items for a user into out_idx/out_score,
 * best first, and returns how many (fewer only when the catalog runs out).
 * items are the user's interactions (all of them, as RsReadUserItems
 * returns them: an item model scores them, a factor model without stored
 * users folds them in; NULL if the caller did not read them).
 * exclude is a bitmap of items not to recommend; every item returned is
 * added to it, so the caller can clear exactly what it set.  out_reason
 * (NULL if not wanted) says for each row why it is there: whether the
 * model ranked it, the popularity ranking filled it in, or the model's
 * cold-start scores stood in for a user it cannot score.  scratch holds
 * Max(n_items, RS_SCORE_BLOCK) floats.
 */
int
RsRankForUser(RsModel *model, int64 user_id, const RsUserItems *items, uint8 *exclude,
			  int k, float *scratch, int32 *out_idx, float *out_score, RsReason *out_reason)
{
	if (model->kind->rank_top_k)
	{
		int			found;

		(void) ranked_by_model(model, k, out_reason);
		found = model->kind->rank_top_k(model, user_id, items, exclude, k, scratch,
										out_idx, out_score, out_reason);
		if (found >= 0)
			return found;
	}
	return rank_scores(model, model->kind->score_user(model, user_id, items, scratch), scratch,
					   exclude, k, out_idx, out_score, out_reason);
}

/*
 * Re-rank a pool (the model's best n items, best first, and why each is
 * there) by maximal marginal relevance into out_idx/out_score/out_reason
 * (NULL if not wanted), k at most.  Pool items not picked are taken out of
 * exclude again, so the caller's exclude bitmap holds exactly the items
 * returned, as RsRankForUser leaves it.
 */
static int
pick_diverse(RsModel *model, const RsDiversity *diversity, const int32 *pool_idx,
			 const float *pool_score, const RsReason *pool_reason, int n, int k,
			 uint8 *exclude, int32 *out_idx, float *out_score, RsReason *out_reason)
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
		if (out_reason)
			out_reason[r] = pool_reason[order[r]];
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
 * exclude contract) and, when diversity asks for it, re-ranks the model's
 * best RsDiversePoolSize(k) items by maximal marginal relevance; each row
 * keeps its score and reason.  Diversity 0 is RsRankForUser itself.
 */
int
RsRankDiverse(RsModel *model, const RsDiversity *diversity, int64 user_id,
			  const RsUserItems *items, uint8 *exclude, int k, float *scratch,
			  int32 *out_idx, float *out_score, RsReason *out_reason)
{
	int			pool = RsDiversePoolSize(k);
	int32	   *pool_idx;
	float	   *pool_score;
	RsReason   *pool_reason;
	int			n;
	int			found;

	if (diversity->lambda == 0)
		return RsRankForUser(model, user_id, items, exclude, k, scratch, out_idx, out_score,
							 out_reason);
	pool_idx = palloc(sizeof(int32) * pool);
	pool_score = palloc(sizeof(float) * pool);
	pool_reason = out_reason ? palloc(sizeof(RsReason) * pool) : NULL;
	n = RsRankForUser(model, user_id, items, exclude, pool, scratch, pool_idx, pool_score,
					  pool_reason);
	found = pick_diverse(model, diversity, pool_idx, pool_score, pool_reason, n, k, exclude,
						 out_idx, out_score, out_reason);
	if (pool_reason)
		pfree(pool_reason);
	pfree(pool_score);
	pfree(pool_idx);
	return found;
}

/*
 * RsTopItems puts the k best of scores (one per model item, NaN for
 * unreached) into out_idx/out_score, skipping and then adding to exclude,
 * and fills up from the popularity ranking with score 0 (kNN models reach
 * few items), so k items come back when the catalog has them.  *ranked
 * says how many of the rows the scores ranked (the rest are filled in).
 */
int
RsTopItems(RsModel *model, const float *scores, uint8 *exclude, int k, int32 *out_idx,
		   float *out_score, int *ranked)
{
	int32		n_items = model->items.count;
	int			found = rs_topk(scores, n_items, k, exclude, out_idx, out_score);

	*ranked = found;
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
 * RsReadServingItems reads the user's items from model's source as
 * recommend does: when the model's kind scores from them (history_input)
 * or they are to be left out (exclude_seen).  Returns whether they are
 * the model's input; out (zeroed by the caller) holds them either way,
 * with out->exclude_seen set as asked.  A model of ratings that does not
 * score from the user's items only excludes them, so a duplicate or a
 * NaN is no reason to refuse; nor are they handed on (a rating blend's
 * members that score from items read them themselves, and refuse).
 */
bool
RsReadServingItems(RsModel *model, int64 user_id, bool exclude_seen, RsUserItems *out)
{
	bool		input = history_input(model) != NULL;

	if (exclude_seen && !input && model->kind->rates && model->kind->rates(model))
		RsReadSeenItems(model, user_id, "Excluding seen items", out);
	else if (exclude_seen || input)
		RsReadUserItems(model, user_id, exclude_seen ? "Excluding seen items" : history_input(model), out);
	out->exclude_seen = exclude_seen;
	return input || (exclude_seen && !(model->kind->rates && model->kind->rates(model)));
}

/*
 * The ranking of recommend and recommend_ids, from the arguments (user_id,
 * k, model, exclude_seen[, candidates, diversity, similarity_model]):
 * recommend_ids has the first four only (full is false), which are
 * recommend's with no candidates and no diversity.
 */
static RsModel *
recommend_ranking(FunctionCallInfo fcinfo, bool full, Ranking *ranking)
{
	RsModel    *model;
	int64		user_id;
	int			k;
	bool		exclude_seen;
	int32		n_items;
	uint8	   *exclude;
	RsUserItems items = {0};
	bool		have_items = false;
	RsDiversity diversity = {0};

	RsRequireArg(fcinfo, 0, "user_id");
	user_id = PG_GETARG_INT64(0);
	k = RsKArg(fcinfo, 1);
	RsRequireArg(fcinfo, 3, "exclude_seen");
	exclude_seen = PG_GETARG_BOOL(3);
	model = model_arg(fcinfo, 2);
	if (full)
		RsDiversityArgs(fcinfo, 5, model, k, &diversity);

	n_items = model->items.count;
	exclude = palloc0(RS_BITMAP_BYTES(n_items) + 1);

	if (full && !PG_ARGISNULL(4))
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

	have_items = RsReadServingItems(model, user_id, exclude_seen, &items);
	if (exclude_seen)
		for (int n = 0; n < items.n; n++)
			rs_bitmap_set(exclude, items.item[n]);

	ranking_init(ranking, k, true);
	ranking->found = RsRankDiverse(model, &diversity, user_id, have_items ? &items : NULL,
								   exclude, k, palloc(sizeof(float) * Max(n_items, RS_SCORE_BLOCK)),
								   ranking->idx, ranking->score, ranking->reason);
	if (ranking->found > 0 && ranking->reason[0] == RS_REASON_COLD_START)
		ereport(DEBUG1,
				(errmsg_internal("model \"%s\" cannot score user " INT64_FORMAT "; ranking by its cold-start scores",
								 model->name, user_id)));
	return model;
}

/*
 * recsys_recommend(user_id bigint, k int, model text, exclude_seen bool,
 *					candidates bigint[], diversity real, similarity_model text)
 * returns (item_id, score, reason) best first, or in the order diversity's
 * re-ranking picks them (src/diversity.c).
 */
Datum
recsys_recommend(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Ranking		ranking;
	RsModel    *model;

	model = recommend_ranking(fcinfo, true, &ranking);
	InitMaterializedSRF(fcinfo, 0);
	put_ranking(rsinfo, model, &ranking);
	return (Datum) 0;
}

/*
 * recsys_recommend_ids(user_id bigint, k int, model text, exclude_seen bool)
 * returns recommend's item ids as one array, best first: a scalar call,
 * which distributed planners (Citus) push down where they refuse a
 * set-returning function in a subquery.
 */
Datum
recsys_recommend_ids(PG_FUNCTION_ARGS)
{
	Ranking		ranking;
	RsModel    *model = recommend_ranking(fcinfo, false, &ranking);
	Datum	   *ids = palloc(sizeof(Datum) * Max(ranking.found, 1));

	for (int r = 0; r < ranking.found; r++)
		ids[r] = Int64GetDatum(model->items.ids[ranking.idx[r]]);
	PG_RETURN_ARRAYTYPE_P(construct_array(ids, ranking.found, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * recsys_seen_items(user_id bigint, model text) returns the model's items
 * the user has in its source, in index order: the items recommend with
 * exclude_seen leaves out, read the same way (as the model's owner, the
 * same refusals), without scoring anything.  search asks it whether a
 * candidate was bought.
 */
Datum
recsys_seen_items(PG_FUNCTION_ARGS)
{
	RsModel    *model;
	int64		user_id;
	RsUserItems items = {0};
	Datum	   *ids;

	RsRequireArg(fcinfo, 0, "user_id");
	user_id = PG_GETARG_INT64(0);
	model = model_arg(fcinfo, 1);
	RsReadServingItems(model, user_id, true, &items);
	ids = palloc(sizeof(Datum) * Max(items.n, 1));
	for (int n = 0; n < items.n; n++)
		ids[n] = Int64GetDatum(model->items.ids[items.item[n]]);
	PG_RETURN_ARRAYTYPE_P(construct_array(ids, items.n, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
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
	Ranking		ranking;

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
	ranking_init(&ranking, k, false);
	ranking.found = model->kind->similar_items(model, i, k, ranking.idx, ranking.score);
	put_ranking(rsinfo, model, &ranking);
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
			memcpy(memo->scores, RsColdStartScores(model), sizeof(float) * model->items.count);
		memo->model = model;
		memo->version = model->version;
		memo->user_id = user_id;
		memo->stamp = now;
	}
	if (isnan(memo->scores[i]))
	{
		if (model->kind->nan_unscored)
			PG_RETURN_NULL();
		PG_RETURN_FLOAT4(0);
	}
	PG_RETURN_FLOAT4(memo->scores[i]);
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
	if (n_contrib < 0)
		n_contrib = 0;			/* nothing, and the kind's own notice said why */
	else if (n_contrib == 0)
		ereport(NOTICE,
				(errmsg("model \"%s\" has nothing to explain item " INT64_FORMAT " by for user "
						INT64_FORMAT, model->name, item_id, user_id),
				 errdetail("The user has no items in the model's source (recommend serves such a user "
						   "the cold-start fallback), or a blend's members that explain know none.")));
	qsort(contrib, n_contrib, sizeof(RsContribution), contribution_cmp);
	for (int n = 0; n < n_contrib && n < k; n++)
		put_item_row(rsinfo, contrib[n].item_id, contrib[n].value, NULL);
	return (Datum) 0;
}

/*
 * Mark the items of a bigint[] argument (unknown ids ignored), and if
 * session is not NULL, make them a session's items (weights 1).
 */
static void
mark_items(RsModel *model, ArrayType *array, const char *argname, uint8 *bitmap,
		   RsUserItems *session)
{
	int			n;
	int64	   *ids = RsArrayToInt64s(array, argname, &n);

	if (session)
	{
		session->n = 0;
		session->item = palloc(sizeof(int32) * Max(n, 1));
		session->weight = palloc(sizeof(float) * Max(n, 1));
		session->recency = NULL;
	}
	for (int j = 0; j < n; j++)
	{
		int32		i = RsModelItemIndex(model, ids[j]);

		if (i < 0)
			continue;
		rs_bitmap_set(bitmap, i);
		if (session)
		{
			session->item[session->n] = i;
			session->weight[session->n] = 1;
			session->n++;
		}
	}
}

/*
 * recsys_recommend_for_vector(vec real[], k int, model text, exclude_seen bigint[])
 * ranks a model's items for a user vector, e.g. from fold_in.  The vector
 * scores every item, so nothing falls back: no reason column.
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
	Ranking		ranking;

	RsRequireArg(fcinfo, 0, "vec");
	k = RsKArg(fcinfo, 1);
	model = model_arg(fcinfo, 2);
	RS_REQUIRE(model, rank_vector, "recommend_for_vector");
	x = RsArrayToFloats(PG_GETARG_ARRAYTYPE_P(0), "vec", &n);
	exclude = palloc0(RS_BITMAP_BYTES(model->items.count) + 1);
	if (!PG_ARGISNULL(3))
		mark_items(model, PG_GETARG_ARRAYTYPE_P(3), "exclude_seen", exclude, NULL);
	ranking_init(&ranking, k, false);
	ranking.found = model->kind->rank_vector(model, x, n, 0, exclude, k, ranking.idx,
											 ranking.score);
	InitMaterializedSRF(fcinfo, 0);
	put_ranking(rsinfo, model, &ranking);
	return (Datum) 0;
}

/*
 * recsys_recommend_session(items bigint[], k int, model text) recommends
 * for an anonymous visitor from the items of their session, as the
 * model's kind scores a session (a factor model folds them in, an item
 * model scores their neighbours, a popularity model ranks by popularity,
 * a blend has each member do its own).  The session's items are never
 * recommended back.  An empty session (or none of whose items the model
 * knows) gets the model's cold-start ranking; the reason column says so.
 * diversity real and similarity_model text re-rank as in recommend.
 */
Datum
recsys_recommend_session(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RsModel    *model;
	int			k;
	uint8	   *exclude;
	RsUserItems session;
	Ranking		ranking;
	Ranking		pool;
	float	   *scratch;
	RsDiversity diversity;

	RsRequireArg(fcinfo, 0, "items");
	k = RsKArg(fcinfo, 1);
	model = model_arg(fcinfo, 2);
	RS_REQUIRE(model, score_session, "recommend_session");
	RsDiversityArgs(fcinfo, 3, model, k, &diversity);
	InitMaterializedSRF(fcinfo, 0);
	exclude = palloc0(RS_BITMAP_BYTES(model->items.count) + 1);
	mark_items(model, PG_GETARG_ARRAYTYPE_P(0), "items", exclude, &session);
	/* with diversity, the session's ranking is a pool to re-rank */
	ranking_init(&pool, diversity.lambda > 0 ? RsDiversePoolSize(k) : k, true);
	scratch = palloc(sizeof(float) * Max(model->items.count, RS_SCORE_BLOCK));
	pool.found = model->kind->rank_session ?
		model->kind->rank_session(model, &session, exclude, pool.k, scratch, pool.idx,
								  pool.score) : -1;
	if (pool.found >= 0)
		ranked_by_model(model, pool.found, pool.reason);
	else
		pool.found = rank_scores(model, model->kind->score_session(model, &session, scratch),
								 scratch, exclude, pool.k, pool.idx, pool.score, pool.reason);
	/* a session without the model's items is a cold start, whatever ranked it */
	for (int r = 0; session.n == 0 && r < pool.found; r++)
		if (pool.reason[r] == RS_REASON_PERSONALISED)
			pool.reason[r] = RS_REASON_COLD_START;
	if (diversity.lambda > 0)
	{
		ranking_init(&ranking, k, true);
		ranking.found = pick_diverse(model, &diversity, pool.idx, pool.score, pool.reason,
									 pool.found, k, exclude, ranking.idx, ranking.score,
									 ranking.reason);
		put_ranking(rsinfo, model, &ranking);
	}
	else
		put_ranking(rsinfo, model, &pool);
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

	RsRequireWritable("recsys.refresh_user()");
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
