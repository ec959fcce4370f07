/*-------------------------------------------------------------------------
 *
 * kind_blend.c
 *		The blend kind (blend): a weighted sum of other models' ("members")
 *		standardised scores, each member called only through its own kind.
 *
 * Each member's scores for the user are first standardised over all the
 * blend's items (mean 0, standard deviation 1; src/kernel/score.c), so an
 * EASE model's summed weights, an ALS model's dot products and a rating
 * model's stars count as their weights say.  The blend's items and
 * popularity (what fills a short list) are its first member's, copied
 * when the blend is trained (src/blend.c), and so are its source and
 * columns: the items a user has seen are read from there.  A user no
 * personalising member can score gets the members' cold-start scores,
 * standardised and summed with the same weights.
 *
 * A blend names its members, not their versions: retraining a member
 * changes the blend's scores from the next statement on.  A loaded blend
 * binds each member once per statement (blend_revalidate), to the member
 * as loaded then; when a member is reloaded, the blend is loaded anew
 * rather than changed, so a statement still using the old blend keeps a
 * consistent set.  Blends do not nest.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "blend.h"
#include "diversity.h"
#include "history.h"
#include "model_acl.h"
#include "model_cache.h"
#include "model_kind.h"
#include "score.h"
#include "spi_util.h"

/* One member of a blend. */
typedef struct RsBlendMember
{
	char	   *name;
	float		weight;
	char	   *trained_owner;	/* at training (NULL: not recorded) */
	/* bound by blend_revalidate; pinned whenever the blend is */
	RsModel    *model;
	uint64		instance;		/* the bound member's RsModel.instance */
	/* blend item -> member item, -1 unknown */
	int32	   *index;			/* NULL: the member has exactly the blend's items */
	bool		within_blend;	/* every item of the member is one of the blend's */
} RsBlendMember;

/* The members, and room for one member's scores. */
typedef struct BlendState
{
	int			n_members;
	RsBlendMember *members;
	float	   *member_scores;
	int32		member_scores_size;
} BlendState;

#define B(model) ((BlendState *) (model)->kind_state)

/* Set while a blend resolves its members, to refuse nested blends. */
static bool resolving_members = false;

static bool
same_name(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/*
 * blend_load reads the member names and weights of the blend's
 * loaded version (SPI connected) into its context.
 */
static void
blend_load(RsModel *blend, const RsCatalogRow *row)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(blend->name), Int32GetDatum(blend->version)};
	MemoryContext old;

	/* as text, checked below: a hand-edited weight is damage, not a cast's error */
	RsExecute("SELECT m.name, CASE WHEN pg_catalog.jsonb_typeof(v.params->'weights'->(m.o::pg_catalog.int4 - 1)) "
			  "OPERATOR(pg_catalog.=) 'number' THEN v.params->'weights'->>(m.o::pg_catalog.int4 - 1) END, "
			  "v.params->'member_owners'->>(m.o::pg_catalog.int4 - 1) "
			  "FROM recsys.model_versions v, "
			  "pg_catalog.jsonb_array_elements_text(CASE WHEN pg_catalog.jsonb_typeof(v.params->'members') "
			  "OPERATOR(pg_catalog.=) 'array' THEN v.params->'members' ELSE '[]' END) WITH ORDINALITY AS m(name, o) "
			  "WHERE v.model OPERATOR(pg_catalog.=) $1 AND v.version OPERATOR(pg_catalog.=) $2 "
			  "ORDER BY m.o",
			  2, argtypes, values, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0 || SPI_processed > BLEND_MAX_MEMBERS)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("blend \"%s\" version %d is damaged: it names " UINT64_FORMAT " members",
						blend->name, blend->version, SPI_processed),
				 errhint("Retrain the blend.")));
	blend->kind_state = MemoryContextAllocZero(blend->mcxt, sizeof(BlendState));
	old = MemoryContextSwitchTo(blend->mcxt);
	B(blend)->n_members = (int) SPI_processed;
	B(blend)->members = palloc0(sizeof(RsBlendMember) * B(blend)->n_members);
	for (int m = 0; m < B(blend)->n_members; m++)
	{
		bool		null_name,
					null_weight,
					null_owner;
		Datum		owner;
		Datum		name = SPI_getbinval(SPI_tuptable->vals[m], SPI_tuptable->tupdesc, 1, &null_name);
		Datum		weight = SPI_getbinval(SPI_tuptable->vals[m], SPI_tuptable->tupdesc, 2, &null_weight);

		if (null_name || null_weight)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("blend \"%s\" version %d is damaged: member %d has no name or weight",
							blend->name, blend->version, m + 1),
					 errhint("Retrain the blend.")));
		B(blend)->members[m].name = TextDatumGetCString(name);
		B(blend)->members[m].weight = (float) strtod(TextDatumGetCString(weight), NULL);
		/* train_blend's range (BLEND_MAX_WEIGHT, 1e6) */
		if (!(fabsf(B(blend)->members[m].weight) <= 1e6f))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("blend \"%s\" version %d is damaged: member %d's weight is not a number between -1e+06 and 1e+06",
							blend->name, blend->version, m + 1),
					 errhint("Retrain the blend.")));
		owner = SPI_getbinval(SPI_tuptable->vals[m], SPI_tuptable->tupdesc, 3, &null_owner);
		if (!null_owner)
			B(blend)->members[m].trained_owner = TextDatumGetCString(owner);
	}
	MemoryContextSwitchTo(old);
}

/* Says which blend was loading a member when an error was raised. */
static void
member_context(void *arg)
{
	const char **names = arg;

	errcontext("member model \"%s\" of blend \"%s\"", names[1], names[0]);
}

/*
 * Map the blend's items to a member's (NULL when they are the same items
 * in the same order, as for the member the blend copied them from), and
 * say whether the member knows no item the blend does not.
 */
static int32 *
member_index(RsModel *blend, RsModel *member, bool *within_blend)
{
	int32	   *index = MemoryContextAlloc(blend->mcxt, sizeof(int32) * Max(blend->items.count, 1));
	bool		identity = member->items.count == blend->items.count;
	int32		mapped = 0;

	for (int32 i = 0; i < blend->items.count; i++)
	{
		index[i] = RsModelItemIndex(member, blend->items.ids[i]);
		identity = identity && index[i] == i;
		mapped += index[i] >= 0;
	}
	*within_blend = mapped == member->items.count;
	if (identity)
	{
		pfree(index);
		return NULL;
	}
	return index;
}

/* A member looked up as the blend's owner (RsRunAsOwner). */
typedef struct MemberLookup
{
	const char *name;
	RsModel    *model;
} MemberLookup;

static void
get_member(void *arg)
{
	MemberLookup *lookup = arg;

	lookup->model = RsGetModel(lookup->name);
}

/*
 * blend_revalidate looks up (and loads, if need be) every member of
 * a blend for the current statement, which pins them as long as the
 * blend.  Members are looked up as the blend's owner, as a view reads its
 * tables as the view's owner: a role granted the blend needs no grant on
 * its members, and the blend stops (42501) when a member's owner revokes
 * the blend owner's use of it.  A blend binds each member once, mapping
 * its items to the member's; returns false, changing nothing, when a
 * member bound before has been reloaded since (the caller loads the blend
 * anew: a statement may still be using this one with the members it has).
 */
static bool
blend_revalidate(RsModel *blend)
{
	int32		most_items;
	bool		current = true;

	if (resolving_members)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("blend \"%s\" cannot be a member of another blend", blend->name),
				 errhint("Name the inner blend's members in the outer blend instead.")));
	resolving_members = true;
	PG_TRY();
	{
		for (int m = 0; m < B(blend)->n_members && current; m++)
		{
			RsBlendMember *member = &B(blend)->members[m];
			const char *names[2] = {blend->name, member->name};
			ErrorContextCallback callback = {error_context_stack, member_context, names};
			MemberLookup lookup = {member->name, NULL};
			RsModel    *model;

			error_context_stack = &callback;
			RsRunAsOwner(blend->name, blend->owner, get_member, &lookup);
			model = lookup.model;
			/* a model that binds a base of its own: a re-ranker */
			if (model->kind->reranks)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("re-ranker \"%s\" cannot be a member of a blend", model->name),
						 errhint("Blend the model it re-ranks (its candidates_from), and re-rank the blend instead.")));
			/* a blend made before train_blend refused it (review s11, F7) */
			if (model->kind->nan_unscored)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("%s \"%s\" cannot be a member of a blend", model->kind->name, model->name),
						 errdetail("It scores only some items (the others get no score), which a blend cannot weigh against its other members' scores."),
						 errhint("Serve those items from the model itself, and the rest from a blend of the others.")));
			/* a model that binds members of its own: a blend */
			if (model->kind->revalidate != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("blend \"%s\" cannot be a member of another blend", model->name),
						 errhint("Name the inner blend's members in the outer blend instead.")));
			RsRefuseChangedOwner("member model", member->name, "blend", blend->name,
								 member->trained_owner, model->owner);
			error_context_stack = callback.previous;

			if (member->model == NULL)
			{
				member->index = member_index(blend, model, &member->within_blend);
				member->instance = model->instance;
				member->model = model;
			}
			else if (member->instance != model->instance)
				current = false;
		}
	}
	PG_FINALLY();
	{
		resolving_members = false;
	}
	PG_END_TRY();
	if (!current)
		return false;

	/* a blend of popularity models only scores everybody alike */
	blend->impersonal = true;
	for (int m = 0; m < B(blend)->n_members; m++)
		blend->impersonal &= B(blend)->members[m].model->impersonal;

	/* room for one member's scores, allocated when the members are bound */
	most_items = RS_SCORE_BLOCK;
	for (int m = 0; m < B(blend)->n_members; m++)
		most_items = Max(most_items, B(blend)->members[m].model->items.count);
	if (B(blend)->member_scores_size < most_items)
	{
		Assert(B(blend)->member_scores == NULL);
		B(blend)->member_scores = MemoryContextAllocExtended(blend->mcxt, sizeof(float) * most_items,
														  MCXT_ALLOC_HUGE);
		B(blend)->member_scores_size = most_items;
	}
	return true;
}

/*
 * Whether an item model member scores the user's items exactly as the
 * blend read them: same source and columns, no weighting the blend's
 * read lacks, and no item the blend's read would have dropped as
 * unknown, nor event weights (a multi-behaviour member weighs and drops
 * rows by type).  Otherwise the member reads them itself.
 */
static bool
takes_blend_items(RsModel *blend, RsBlendMember *blend_member)
{
	RsModel    *member = blend_member->model;

	return blend_member->within_blend &&
		member->source == blend->source && OidIsValid(member->source) &&
		same_name(member->user_col, blend->user_col) &&
		same_name(member->item_col, blend->item_col) &&
		(member->binary_input || same_name(member->weight_col, blend->weight_col)) &&
		member->event_col == NULL && blend->event_col == NULL &&
		member->half_life == 0;
}

/*
 * A member's view of the user's items: the blend's, mapped to the
 * member's item indexes, or read by the member itself.
 */
static void
member_items(RsModel *blend, RsBlendMember *member, int64 user_id, const RsUserItems *items,
			 RsUserItems *out)
{
	if (items == NULL || !takes_blend_items(blend, member))
	{
		RsReadUserItems(member->model, user_id, "A blend's member", out);
		return;
	}
	out->n = 0;
	out->item = palloc(sizeof(int32) * Max(items->n, 1));
	out->weight = palloc(sizeof(float) * Max(items->n, 1));
	out->recency = NULL;
	for (int n = 0; n < items->n; n++)
	{
		int32		i = member->index ? member->index[items->item[n]] : items->item[n];

		if (i < 0)
			continue;
		out->item[out->n] = i;
		out->weight[out->n] = items->weight[n];
		out->n++;
	}
}

/*
 * blend_score_user sets scores[i] for every blend item: the members'
 * standardised scores times their weights, summed.  A member that cannot
 * score the user (an unknown user of a factor model, no items for an item
 * model) adds nothing; returns false when no member could, popularity
 * members aside (they score everybody alike: then the blend's cold-start
 * scores stand in) unless every member is one (an impersonal blend,
 * whose rows are then 'popular').  items are the user's items as the blend read them,
 * or NULL if it did not.
 */
static bool
blend_score_user(RsModel *blend, int64 user_id, const RsUserItems *items, float *scores)
{
	bool		scored = false;

	memset(scores, 0, sizeof(float) * blend->items.count);
	for (int m = 0; m < B(blend)->n_members; m++)
	{
		RsBlendMember *member = &B(blend)->members[m];
		RsModel    *model = member->model;
		RsUserItems own = {0};
		bool		has_items = false;

		/* item models score the user's items; factor models without users fold them in */
		if (model->kind->history_input && model->kind->history_input(model))
		{
			member_items(blend, member, user_id, items, &own);
			has_items = true;
		}
		if (model->kind->score_user(model, user_id, has_items ? &own : NULL, B(blend)->member_scores) &&
			rs_add_standardized(B(blend)->member_scores, member->index, blend->items.count,
								member->weight, scores) &&
			(!model->impersonal || blend->impersonal))
			scored = true;
		/* evaluate calls once per user: free what the member read */
		if (has_items)
			RsFreeUserItems(&own);
	}
	return scored;
}

/*
 * blend_score_session scores every blend item for an anonymous visitor
 * from the items of their session, each member its own way (its
 * score_session: factor members fold the items in, item members score
 * their neighbours, popularity members rank by popularity); a member
 * that cannot score sessions (user-kNN has nobody to compare the visitor
 * with) adds nothing.  Returns false when no member could score, as
 * blend_score_user does.
 */
static bool
blend_score_session(RsModel *blend, const RsUserItems *session, float *scores)
{
	bool		scored = false;
	RsUserItems mine;

	mine.item = palloc(sizeof(int32) * Max(session->n, 1));
	mine.weight = palloc(sizeof(float) * Max(session->n, 1));
	mine.recency = NULL;
	memset(scores, 0, sizeof(float) * blend->items.count);
	for (int m = 0; m < B(blend)->n_members; m++)
	{
		RsBlendMember *member = &B(blend)->members[m];
		RsModel    *model = member->model;

		if (model->kind->score_session == NULL)
			continue;
		mine.n = 0;
		for (int p = 0; p < session->n; p++)
		{
			int32		i = member->index ? member->index[session->item[p]] : session->item[p];

			if (i < 0)
				continue;
			mine.item[mine.n] = i;
			mine.weight[mine.n] = 1;
			mine.n++;
		}
		if (model->kind->score_session(model, &mine, B(blend)->member_scores) &&
			rs_add_standardized(B(blend)->member_scores, member->index, blend->items.count,
								member->weight, scores) &&
			(!model->impersonal || blend->impersonal))
			scored = true;
	}
	pfree(mine.item);
	pfree(mine.weight);
	return scored;
}

/*
 * The blend's cold-start scores: each member's (RsColdStartScores: the
 * average user's, or the popularity of a popularity member) standardised
 * and summed with the members' weights, as blend_score_user combines
 * scores.  The members are bound for the statement (blend_revalidate),
 * and a blend whose member is reloaded is loaded anew, so the result can
 * be kept with the blend.
 */
static void
blend_cold_start_scores(RsModel *blend, float *scores)
{
	memset(scores, 0, sizeof(float) * blend->items.count);
	for (int m = 0; m < B(blend)->n_members; m++)
	{
		RsBlendMember *member = &B(blend)->members[m];

		(void) rs_add_standardized(RsColdStartScores(member->model), member->index,
								   blend->items.count, member->weight, scores);
	}
}

/*
 * How alike items are, as the blend's first member that can say sees it
 * (factor and item models can, popularity and user-kNN cannot): a blend's
 * own scores are a sum, which has no similarity of its own.  Items the
 * member does not know are like no other.
 */
static void
blend_item_similarity(RsModel *blend, const int32 *idx, int n, float *out)
{
	for (int m = 0; m < B(blend)->n_members; m++)
	{
		RsBlendMember *member = &B(blend)->members[m];
		int32	   *mine;

		if (member->model->kind->item_similarity == NULL)
			continue;
		mine = palloc(sizeof(int32) * Max(n, 1));
		for (int a = 0; a < n; a++)
			mine[a] = member->index ? member->index[idx[a]] : idx[a];
		RsItemSimilarityOf(member->model, mine, n, out);
		pfree(mine);
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("blend \"%s\" has no member that supports diversity", blend->name),
			 errhint("Name a model of items' similarity in similarity_model.")));
}

static int
contribution_id_cmp(const void *a, const void *b)
{
	int64		x = ((const RsContribution *) a)->item_id;
	int64		y = ((const RsContribution *) b)->item_id;

	return x < y ? -1 : x > y;
}

/*
 * blend_explain explains a blend's score of item_id for the user:
 * each member that explains by the user's items (a kind with contributions:
 * factor and item models)
 * gives its contributions, times its weight over its standard deviation
 * for this user (the scale the blend puts its scores on); the shares of
 * one item are summed.  Members that cannot explain (popularity,
 * user-kNN) and the per-user means are left out.  Returns how many
 * items, in *out (unsorted).
 */
static int
blend_explain(RsModel *blend, int64 user_id, int32 blend_j, int64 item_id, RsContribution **out)
{
	RsUserItems items = {0};
	RsContribution *all = NULL;
	int			n_all = 0;
	int			merged = 0;

	RsReadUserItems(blend, user_id, "Explaining", &items);
	for (int m = 0; m < B(blend)->n_members; m++)
	{
		RsBlendMember *member = &B(blend)->members[m];
		RsModel    *model = member->model;
		int32		j = RsModelItemIndex(model, item_id);
		RsUserItems own = {0};
		double		mean;
		double		sd;

		if (model->kind->contributions == NULL || j < 0 || !RsAlgorithmExplains(model->algorithm))
			continue;
		member_items(blend, member, user_id, &items, &own);
		if (own.n == 0 ||
			!model->kind->score_user(model, user_id, &own, B(blend)->member_scores) ||
			!rs_standardize_stats(B(blend)->member_scores, member->index, blend->items.count,
								  &mean, &sd))
			continue;
		all = all ? repalloc(all, sizeof(RsContribution) * (n_all + own.n)) :
			palloc(sizeof(RsContribution) * own.n);
		model->kind->contributions(model, &own, j, user_id, all + n_all);
		for (int n = 0; n < own.n; n++)
			all[n_all + n].value *= (float) (member->weight / sd);
		n_all += own.n;
	}
	if (n_all == 0)
	{
		*out = palloc(sizeof(RsContribution));
		return 0;
	}
	qsort(all, n_all, sizeof(RsContribution), contribution_id_cmp);
	for (int n = 0; n < n_all; n++)
	{
		if (merged > 0 && all[merged - 1].item_id == all[n].item_id)
			all[merged - 1].value += all[n].value;
		else
			all[merged++] = all[n];
	}
	*out = all;
	return merged;
}

/*
 * The role whose rights read the blend's source: the blend reads its
 * first member's source, as the member's owner, and only while that
 * member still reads the same relation with the same columns.  The
 * blend's copy of them is the blend owner's row (which its owner may
 * edit), and neither may the member owner's code (a view's functions) run
 * with the rights of whoever made a blend of the model, nor may a blend
 * owner make the member's owner read columns of the blend owner's
 * choosing.  Otherwise the blend must be retrained.  (Members are current
 * for the statement: RsGetModel resolved them.)
 */
static Oid
blend_source_reader(RsModel *blend)
{
	RsModel    *first = B(blend)->n_members > 0 ? B(blend)->members[0].model : NULL;

	if (first == NULL || !OidIsValid(first->source) || first->source != blend->source ||
		!same_name(first->source_name, blend->source_name) ||
		!same_name(first->user_col, blend->user_col) ||
		!same_name(first->item_col, blend->item_col) ||
		!same_name(first->weight_col, blend->weight_col) ||
		!same_name(first->event_col, blend->event_col))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("blend \"%s\" no longer reads the source of its first member \"%s\"",
						blend->name, B(blend)->n_members > 0 ? B(blend)->members[0].name : ""),
				 errdetail("A blend reads its users' items from its first member's source, with that member's columns, "
						   "as that member's owner; the member has been retrained on another source or other columns since, "
						   "or the blend's own description was changed."),
				 errhint("Retrain the blend with recsys.train_blend.")));
	return first->owner;
}

/*
 * A blend predicts ratings when every member does and its weights are
 * not negative and not all zero: a weighted mean of the members' (clipped)
 * ratings, within their range (weights {1, -0.999} extrapolated a 1..5
 * scale to RMSE 362, review 2).  Then evaluate's rmse and mae measure it.
 */
static bool
blend_rates(RsModel *blend)
{
	double		weight_sum = 0;

	for (int m = 0; m < B(blend)->n_members; m++)
	{
		RsModel    *model = B(blend)->members[m].model;

		if (model->kind->rates == NULL || !model->kind->rates(model) ||
			B(blend)->members[m].weight < 0)
			return false;
		weight_sum += B(blend)->members[m].weight;
	}
	return weight_sum > 0;
}

/*
 * The blend's rating of blend item i (-1: unknown): the members' predicted
 * ratings averaged with the blend's weights, sum w_m r_m / sum w_m, not
 * standardised (the members share the rating scale).  Each member
 * predicts from the user's ratings as it reads them (item i unknown to a
 * member is its cold-start prediction).
 */
static double
blend_predict_rating(RsModel *blend, int64 user_id, const RsUserItems *items, int32 i)
{
	double		sum = 0;
	double		weight_sum = 0;

	for (int m = 0; m < B(blend)->n_members; m++)
	{
		RsBlendMember *member = &B(blend)->members[m];
		RsModel    *model = member->model;
		RsUserItems own = {0};
		bool		has_items = false;
		int32		j = i < 0 ? -1 : member->index ? member->index[i] : i;

		if (model->kind->history_input && model->kind->history_input(model))
		{
			member_items(blend, member, user_id, items, &own);
			has_items = true;
		}
		sum += member->weight * model->kind->predict_rating(model, user_id,
															 has_items ? &own : NULL, j);
		weight_sum += member->weight;
		if (has_items)
			RsFreeUserItems(&own);
	}
	return sum / weight_sum;
}

const RsModelKind RsBlendKind = {
	.name = "blend",
	.uses_models = "members",
	.load = blend_load,
	.revalidate = blend_revalidate,
	.source_reader = blend_source_reader,
	.score_user = blend_score_user,
	.cold_start_scores = blend_cold_start_scores,
	.score_session = blend_score_session,
	.explain = blend_explain,
	.rates = blend_rates,
	.rates_when = "A blend predicts ratings when every member does and no weight is negative.",
	.predict_rating = blend_predict_rating,
	.item_similarity = blend_item_similarity,
};
