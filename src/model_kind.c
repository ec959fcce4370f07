/*-------------------------------------------------------------------------
 *
 * model_kind.c
 *		The registry of model kinds, as PostgreSQL maps access methods to
 *		their handlers: each algorithm a model can be trained with names
 *		the RsModelKind that serves it (src/model.h).
 *
 * Adding a kind is one file that fills an RsModelKind (see doc/internals.md,
 * "Model kinds") plus one line below.  Serving code asks the kind's
 * callbacks and never which kind a model is; a NULL callback is an action
 * the kind does not support, and RsKindNotSupported is the one error for
 * it, with a hint naming the algorithms that do support it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "model_kind.h"

typedef struct KindRegistration
{
	const char *algorithm;
	const RsModelKind *kind;
	bool		no_explain;		/* the kind explains, but not this algorithm */
	bool		no_cold_items;	/* the kind refreshes cold items, but not this algorithm's */
} KindRegistration;

static const KindRegistration registry[] = {
	{"als", &RsFactorsKind},
	/* explicit feedback and BPR take no item features (train_cf, train_bpr) */
	{"mf", &RsFactorsKind,.no_cold_items = true},
	/* gradient-fitted vectors: no ALS decomposition */
	{"bpr", &RsFactorsKind,.no_explain = true,.no_cold_items = true},
	{"item_knn", &RsItemNeighborsKind},
	/* EASE's B matrix, stored as neighbour lists; its features shape B, not cosines */
	{"ease", &RsItemNeighborsKind,.no_cold_items = true},
	{"user_knn", &RsUserNeighborsKind},
	{"popular", &RsPopularKind},
	{"blend", &RsBlendKind},
	{"fm", &RsFmKind},
	{"neighborhood", &RsNeighborhoodKind},
	{"ncf", &RsNcfKind},
	{"cold_ranker", &RsColdKind},
};

/*
 * Whether a registered algorithm's models have a callback (its offsetof
 * in RsModelKind): their kind has it and the registry does not except the
 * algorithm.
 */
static bool
registration_supports(const KindRegistration *reg, Size callback)
{
	if (*(void *const *) ((const char *) reg->kind + callback) == NULL)
		return false;
	if (callback == offsetof(RsModelKind, explain) && reg->no_explain)
		return false;
	if (callback == offsetof(RsModelKind, refresh_cold_items) && reg->no_cold_items)
		return false;
	return true;
}

/*
 * RsAlgorithmSupports: whether an algorithm's models support the action
 * of a callback (its offsetof in RsModelKind); false for an unknown one.
 */
bool
RsAlgorithmSupports(const char *algorithm, Size callback)
{
	for (int r = 0; r < lengthof(registry); r++)
		if (strcmp(registry[r].algorithm, algorithm) == 0)
			return registration_supports(&registry[r], callback);
	return false;
}

/*
 * RsAlgorithmExplains: whether explain splits the scores of an
 * algorithm's models among the user's items.
 */
bool
RsAlgorithmExplains(const char *algorithm)
{
	return RsAlgorithmSupports(algorithm, offsetof(RsModelKind, explain));
}

/* RsModelKindFor returns the kind serving an algorithm, NULL if none does. */
const RsModelKind *
RsModelKindFor(const char *algorithm)
{
	for (int r = 0; r < lengthof(registry); r++)
		if (strcmp(registry[r].algorithm, algorithm) == 0)
			return registry[r].kind;
	return NULL;
}

/*
 * RsKindNotSupported raises the error for an action the model's kind has
 * no callback for (callback: the callback's offsetof in RsModelKind).
 */
void
RsKindNotSupported(RsModel *model, const char *action, Size callback)
{
	RsAlgorithmNotSupported(model->name, model->algorithm, action, callback);
}

/*
 * RsAlgorithmNotSupported raises the same error for a model known by its
 * name and algorithm only (an action that does not load it).
 */
void
RsAlgorithmNotSupported(const char *name, const char *algorithm, const char *action, Size callback)
{
	StringInfoData supported;
	int			n = 0;

	initStringInfo(&supported);
	for (int r = 0; r < lengthof(registry); r++)
		if (registration_supports(&registry[r], callback))
			appendStringInfo(&supported, "%s%s", n++ > 0 ? ", " : "", registry[r].algorithm);
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("model \"%s\" (algorithm %s) does not support %s", name, algorithm, action),
			 n > 0 ? errhint("Models trained with %s support it.", supported.data) : 0));
}

/* Highest first. */
static int
float_desc_cmp(const void *a, const void *b)
{
	float		x = *(const float *) a;
	float		y = *(const float *) b;

	return x > y ? -1 : x < y;
}

/*
 * RsInPopularityOrder hands a model's per-item scores out again in
 * popularity order: sorted, the highest to the most popular item, and so
 * on (NaN counts as 0).  The kinds' cold-start scores keep the values an
 * average user gets and take popularity's ranking (doc/internals.md,
 * "Cold start").
 */
void
RsInPopularityOrder(RsModel *model, float *scores)
{
	int32		n = model->items.count;
	float	   *sorted = palloc(sizeof(float) * Max(n, 1));

	for (int32 i = 0; i < n; i++)
		sorted[i] = isnan(scores[i]) ? 0 : scores[i];
	qsort(sorted, n, sizeof(float), float_desc_cmp);
	for (int32 r = 0; r < n; r++)
		scores[model->popular_order[r]] = sorted[r];
	pfree(sorted);
}

/*
 * RsColdStartScores returns the model's scores for a user it cannot
 * score: its kind's cold_start_scores (the popularity if it has none),
 * computed once per loaded model and kept in the model's context.  An
 * item the fallback does not reach scores 0, as unreached items do in
 * score().  A blend asks its members through here too.
 */
const float *
RsColdStartScores(RsModel *model)
{
	if (model->cold_start == NULL)
	{
		int32		n = model->items.count;
		/* computed in the statement's memory: an error midway leaves nothing half-made */
		float	   *scores = palloc(sizeof(float) * Max(n, 1));

		if (model->kind->cold_start_scores)
			model->kind->cold_start_scores(model, scores);
		else
			memcpy(scores, model->popularity, sizeof(float) * n);
		for (int32 i = 0; i < n; i++)
			if (isnan(scores[i]))
				scores[i] = 0;
		model->cold_start = MemoryContextAllocExtended(model->mcxt, sizeof(float) * Max(n, 1),
													   MCXT_ALLOC_HUGE);
		memcpy(model->cold_start, scores, sizeof(float) * n);
		pfree(scores);
	}
	return model->cold_start;
}

/*
 * The algorithms whose kind serves from other models and re-ranks them
 * (reranks) or blends them (!reranks), with the params key naming them,
 * as two text[] of the same length (for the catalog queries of
 * model_acl.c, which take them as parameters).
 */
void
RsKindsUsingModels(bool reranks, Datum *algorithms, Datum *params_keys)
{
	Datum		names[lengthof(registry)];
	Datum		keys[lengthof(registry)];
	int			n = 0;

	for (int r = 0; r < lengthof(registry); r++)
	{
		if (registry[r].kind->uses_models == NULL || registry[r].kind->reranks != reranks)
			continue;
		names[n] = CStringGetTextDatum(registry[r].algorithm);
		keys[n++] = CStringGetTextDatum(registry[r].kind->uses_models);
	}
	*algorithms = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
	*params_keys = PointerGetDatum(construct_array(keys, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * recsys._kinds_using_models() RETURNS TABLE (algorithm text, params_key
 * text, reranks boolean): for each algorithm whose kind serves from other
 * models (RsModelKind.uses_models), the key of its params naming them and
 * whether it re-ranks them (else it blends them): what sync_model's walk
 * (recsys._model_uses) reads instead of naming algorithms or keys.
 */
PG_FUNCTION_INFO_V1(recsys_kinds_using_models);
Datum
recsys_kinds_using_models(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int r = 0; r < lengthof(registry); r++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		if (registry[r].kind->uses_models == NULL)
			continue;
		values[0] = CStringGetTextDatum(registry[r].algorithm);
		values[1] = CStringGetTextDatum(registry[r].kind->uses_models);
		values[2] = BoolGetDatum(registry[r].kind->reranks);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
