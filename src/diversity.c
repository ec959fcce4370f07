/*-------------------------------------------------------------------------
 *
 * diversity.c
 *		Diverse recommendation lists by maximal marginal relevance
 *		(Carbonell and Goldstein 1998), for recommend, recommend_session
 *		and evaluate: their arguments, and item similarities across models.
 *
 * With diversity lambda > 0 the model ranks a pool of its best
 * min(max(10 k, 100), 1000) items as usual, and MMR picks k of them one
 * at a time, each maximising
 *		(1 - lambda) rel(i) - lambda max_{j picked} sim(i, j),
 * rel the model's score scaled to [0, 1] within the pool (so a lambda
 * means the same for every kind and scale), sim the items' similarity as
 * a model sees it: the model's own kind (its item_similarity callback,
 * src/model.h: cosine of item factors, the stored neighbour weights of an
 * item model), or that of the model named by similarity_model, looked up
 * with the caller's rights like any model.  src/recommend.c pools and
 * picks (RsRankDiverse, next to the ranking it re-ranks), the kernel
 * src/kernel/mmr.c does the arithmetic; this file reads the arguments and
 * maps items between models.  Each row keeps the model's own score; rows
 * come in the order picked.  lambda 0 is the model's ranking itself, not
 * re-ranked: the same rows, at no cost.
 *
 * A pool of 10 k lets MMR reach 10 times deeper than the list; deeper
 * pools bring items too weak to be worth their novelty (their scaled
 * relevance is near 0 anyway), and the pool's similarity matrix grows with
 * its square.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"

#include "args.h"
#include "diversity.h"
#include "model_cache.h"
#include "model_kind.h"

/*
 * RsDiversityArgs reads the (diversity real, similarity_model text)
 * arguments at argno and argno + 1 for a model and list length k.  An
 * older SQL definition without them ranks as before.  A similarity_model
 * is looked up (so checked) even at diversity 0.
 */
void
RsDiversityArgs(FunctionCallInfo fcinfo, int argno, RsModel *model, int k, RsDiversity *out)
{
	RsModel    *similarity = NULL;
	float		lambda;

	out->lambda = 0;
	out->similarity = NULL;
	if (PG_NARGS() <= argno)
		return;
	RsRequireArg(fcinfo, argno, "diversity");
	lambda = PG_GETARG_FLOAT4(argno);
	if (isnan(lambda) || lambda < 0 || lambda > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("diversity must be between 0 and 1, not %g", lambda),
				 errhint("0 keeps the model's ranking; 1 ranks by dissimilarity alone.")));
	if (PG_NARGS() > argno + 1 && !PG_ARGISNULL(argno + 1))
	{
		similarity = RsGetModel(text_to_cstring(PG_GETARG_TEXT_PP(argno + 1)));
		RS_REQUIRE(similarity, item_similarity, "diversity");
	}
	if (lambda == 0)
		return;
	if (similarity == NULL)
	{
		similarity = model;
		RS_REQUIRE(model, item_similarity, "diversity");
	}
	if (k > RECSYS_MAX_DIVERSE_POOL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at most %d when diversity is given, not %d",
						RECSYS_MAX_DIVERSE_POOL, k),
				 errdetail("Diversity re-ranks a pool of at most %d of the model's best items.",
						   RECSYS_MAX_DIVERSE_POOL)));
	out->lambda = lambda;
	out->similarity = similarity;
}

/* The pool MMR picks k items from: the model's best min(max(10 k, 100), 1000). */
int
RsDiversePoolSize(int k)
{
	return Min(Max(10 * k, 100), RECSYS_MAX_DIVERSE_POOL);
}

/*
 * RsItemSimilarityOf fills out (n x n) with model's similarities of its
 * items idx[0 .. n), an index of -1 being an item the model does not know:
 * similarity 0 to every other.
 */
void
RsItemSimilarityOf(RsModel *model, const int32 *idx, int n, float *out)
{
	int32	   *known = palloc(sizeof(int32) * Max(n, 1));
	int			m = 0;
	float	   *among;

	for (int a = 0; a < n; a++)
		if (idx[a] >= 0)
			known[m++] = idx[a];
	if (m == n)
	{
		model->kind->item_similarity(model, idx, n, out);
		pfree(known);
		return;
	}
	among = palloc(sizeof(float) * Max((Size) m * m, 1));
	if (m > 0)
		model->kind->item_similarity(model, known, m, among);
	memset(out, 0, sizeof(float) * (Size) n * n);
	for (int a = 0, ka = 0; a < n; a++)
	{
		if (idx[a] < 0)
			continue;
		for (int b = 0, kb = 0; b < n; b++)
		{
			if (idx[b] < 0)
				continue;
			out[(Size) a * n + b] = among[(Size) ka * m + kb];
			kb++;
		}
		ka++;
	}
	pfree(among);
	pfree(known);
}
