/*-------------------------------------------------------------------------
 *
 * blend.c
 *		Blend models: recsys.train_blend(), and how a blend scores a user
 *		or an anonymous session and explains a score.
 *
 * A blend is a weighted sum of other models ("members"), each member's
 * scores for the user first standardised over all the blend's items
 * (mean 0, standard deviation 1; src/kernel/score.c), so an EASE model's
 * summed weights, an ALS model's dot products and a rating model's stars
 * count as their weights say.  The blend has its own catalog row and
 * versions like any model; its items and popularity (the cold-start
 * fallback, and what evaluate calls the catalog) are its first member's,
 * copied when the blend is trained, and so are its source and columns:
 * the items a user has seen are read from there.
 *
 * A blend names its members, not their versions: retraining a member
 * changes the blend's scores from the next statement on.  A member that
 * no longer exists makes the blend fail with an error naming it.  Blends
 * do not nest.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "args.h"
#include "array_util.h"
#include "blend.h"
#include "fold_in.h"
#include "ingest.h"
#include "model_acl.h"
#include "model_cache.h"
#include "model_store.h"
#include "recommend.h"
#include "score.h"
#include "spi_util.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_train_blend);

/* More members than this is a mistake, not a model. */
#define BLEND_MAX_MEMBERS 16
#define BLEND_MAX_WEIGHT 1e6

/* Set while a blend resolves its members, to refuse nested blends. */
static bool resolving_members = false;

static bool
same_name(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/*
 * RsLoadBlendMembers reads the member names and weights of the blend's
 * loaded version (SPI connected) into its context.
 */
void
RsLoadBlendMembers(RsModel *blend)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(blend->name), Int32GetDatum(blend->version)};
	MemoryContext old;

	RsExecute("SELECT m.name, (v.params->'weights'->>(m.o::pg_catalog.int4 - 1))::pg_catalog.float4 "
			  "FROM recsys.model_versions v, "
			  "pg_catalog.jsonb_array_elements_text(v.params->'members') WITH ORDINALITY AS m(name, o) "
			  "WHERE v.model OPERATOR(pg_catalog.=) $1 AND v.version OPERATOR(pg_catalog.=) $2 "
			  "ORDER BY m.o",
			  2, argtypes, values, NULL, true, SPI_OK_SELECT);
	if (SPI_processed == 0 || SPI_processed > BLEND_MAX_MEMBERS)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("blend \"%s\" version %d is damaged: it names " UINT64_FORMAT " members",
						blend->name, blend->version, SPI_processed),
				 errhint("Retrain the blend.")));
	old = MemoryContextSwitchTo(blend->mcxt);
	blend->n_members = (int) SPI_processed;
	blend->members = palloc0(sizeof(RsBlendMember) * blend->n_members);
	for (int m = 0; m < blend->n_members; m++)
	{
		bool		null_name,
					null_weight;
		Datum		name = SPI_getbinval(SPI_tuptable->vals[m], SPI_tuptable->tupdesc, 1, &null_name);
		Datum		weight = SPI_getbinval(SPI_tuptable->vals[m], SPI_tuptable->tupdesc, 2, &null_weight);

		if (null_name || null_weight)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("blend \"%s\" version %d is damaged: member %d has no name or weight",
							blend->name, blend->version, m + 1),
					 errhint("Retrain the blend.")));
		blend->members[m].name = TextDatumGetCString(name);
		blend->members[m].weight = DatumGetFloat4(weight);
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
 * RsResolveBlendMembers looks up (and loads, if need be) every member of
 * a blend for the current statement, which pins them as long as the
 * blend.  Members are looked up as the blend's owner, as a view reads its
 * tables as the view's owner: a role granted the blend needs no grant on
 * its members, and the blend stops (42501) when a member's owner revokes
 * the blend owner's use of it.  A blend binds each member once, mapping
 * its items to the member's; returns false, changing nothing, when a
 * member bound before has been reloaded since (the caller loads the blend
 * anew: a statement may still be using this one with the members it has).
 */
bool
RsResolveBlendMembers(RsModel *blend)
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
		for (int m = 0; m < blend->n_members && current; m++)
		{
			RsBlendMember *member = &blend->members[m];
			const char *names[2] = {blend->name, member->name};
			ErrorContextCallback callback = {error_context_stack, member_context, names};
			MemberLookup lookup = {member->name, NULL};
			RsModel    *model;

			error_context_stack = &callback;
			RsRunAsOwner(blend->name, blend->owner, get_member, &lookup);
			model = lookup.model;
			if (model->kind == RS_MODEL_BLEND)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("blend \"%s\" cannot be a member of another blend", model->name),
						 errhint("Name the inner blend's members in the outer blend instead.")));
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

	/* room for one member's scores, allocated when the members are bound */
	most_items = RS_SCORE_BLOCK;
	for (int m = 0; m < blend->n_members; m++)
		most_items = Max(most_items, blend->members[m].model->items.count);
	if (blend->member_scores_size < most_items)
	{
		Assert(blend->member_scores == NULL);
		blend->member_scores = MemoryContextAllocExtended(blend->mcxt, sizeof(float) * most_items,
														  MCXT_ALLOC_HUGE);
		blend->member_scores_size = most_items;
	}
	return true;
}

/*
 * Whether an item model member scores the user's items exactly as the
 * blend read them: same source and columns, no weighting the blend's
 * read lacks, and no item the blend's read would have dropped as
 * unknown.  Otherwise the member reads them itself.
 */
static bool
takes_blend_items(RsModel *blend, RsBlendMember *blend_member)
{
	RsModel    *member = blend_member->model;

	return blend_member->within_blend &&
		member->source == blend->source && OidIsValid(member->source) &&
		same_name(member->user_col, blend->user_col) &&
		same_name(member->item_col, blend->item_col) &&
		(member->binary || same_name(member->weight_col, blend->weight_col)) &&
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
 * RsBlendScores sets scores[i] for every blend item: the members'
 * standardised scores times their weights, summed.  A member that cannot
 * score the user (an unknown user of a factor model, no items for an item
 * model) adds nothing; returns false when no member could.  items are the
 * user's items as the blend read them, or NULL if it did not.
 */
bool
RsBlendScores(RsModel *blend, int64 user_id, const RsUserItems *items, float *scores)
{
	bool		scored = false;

	memset(scores, 0, sizeof(float) * blend->items.count);
	for (int m = 0; m < blend->n_members; m++)
	{
		RsBlendMember *member = &blend->members[m];
		RsModel    *model = member->model;
		RsUserItems own = {0};
		bool		has_items = false;

		/* item models score the user's items; factor models without users fold them in */
		if (model->kind == RS_MODEL_ITEM_KNN ||
			(model->kind == RS_MODEL_FACTORS && !model->store_users))
		{
			member_items(blend, member, user_id, items, &own);
			has_items = true;
		}
		if (RsScoreAllItems(model, user_id, has_items ? &own : NULL, blend->member_scores) &&
			rs_add_standardized(blend->member_scores, member->index, blend->items.count,
								member->weight, scores))
			scored = true;
		/* evaluate calls once per user: free what the member read */
		if (has_items)
			RsFreeUserItems(&own);
	}
	return scored;
}

/*
 * RsBlendSessionScores scores every blend item for an anonymous visitor
 * from the items of their session (pairs: blend item indexes): factor
 * members fold the items in, item members score their neighbours,
 * popularity members rank by popularity; a user-kNN member has nobody to
 * compare the visitor with and adds nothing.  Returns false when no
 * member could score.
 */
bool
RsBlendSessionScores(RsModel *blend, const RsWeightedItem *pairs, int n_pairs, float *scores)
{
	bool		scored = false;
	RsWeightedItem *mine = palloc(sizeof(RsWeightedItem) * Max(n_pairs, 1));
	int32	   *item = palloc(sizeof(int32) * Max(n_pairs, 1));
	float	   *weight = palloc(sizeof(float) * Max(n_pairs, 1));

	memset(scores, 0, sizeof(float) * blend->items.count);
	for (int m = 0; m < blend->n_members; m++)
	{
		RsBlendMember *member = &blend->members[m];
		RsModel    *model = member->model;
		bool		ok = false;
		int			n = 0;

		for (int p = 0; p < n_pairs; p++)
		{
			int32		i = member->index ? member->index[pairs[p].item] : pairs[p].item;

			if (i < 0)
				continue;
			mine[n].item = item[n] = i;
			mine[n].weight = weight[n] = RsSessionItemWeight(model);
			n++;
		}
		if (model->kind == RS_MODEL_FACTORS && n > 0)
		{
			float	   *x = palloc(sizeof(float) * model->k);
			float		bias = 0;

			if (RsFoldIn(model, mine, n, x, &bias))
			{
				rs_score_items(model->item_factors, model->explicit_feedback ? model->item_bias : NULL,
							   model->items.count, model->k, x, blend->member_scores);
				ok = true;
			}
			pfree(x);
		}
		else if (model->kind == RS_MODEL_ITEM_KNN && n > 0)
		{
			RsUserItems items = {n, item, weight, NULL};

			ok = RsScoreAllItems(model, PG_INT64_MIN, &items, blend->member_scores);
		}
		else if (model->kind == RS_MODEL_POPULAR)
			ok = RsScoreAllItems(model, PG_INT64_MIN, NULL, blend->member_scores);
		if (ok && rs_add_standardized(blend->member_scores, member->index, blend->items.count,
									  member->weight, scores))
			scored = true;
	}
	pfree(mine);
	pfree(item);
	pfree(weight);
	return scored;
}

static int
contribution_id_cmp(const void *a, const void *b)
{
	int64		x = ((const RsContribution *) a)->item_id;
	int64		y = ((const RsContribution *) b)->item_id;

	return x < y ? -1 : x > y;
}

/*
 * RsBlendContributions explains a blend's score of item_id for the user:
 * each member that explains by the user's items (factor and item models)
 * gives its contributions, times its weight over its standard deviation
 * for this user (the scale the blend puts its scores on); the shares of
 * one item are summed.  Members that cannot explain (popularity,
 * user-kNN) and the per-user means are left out.  Returns how many
 * items, in *out (unsorted).
 */
int
RsBlendContributions(RsModel *blend, int64 user_id, int64 item_id, RsContribution **out)
{
	RsUserItems items = {0};
	RsContribution *all = NULL;
	int			n_all = 0;
	int			merged = 0;

	RsReadUserItems(blend, user_id, "Explaining", &items);
	for (int m = 0; m < blend->n_members; m++)
	{
		RsBlendMember *member = &blend->members[m];
		RsModel    *model = member->model;
		int32		j = RsModelItemIndex(model, item_id);
		RsUserItems own = {0};
		double		mean;
		double		sd;

		if ((model->kind != RS_MODEL_FACTORS && model->kind != RS_MODEL_ITEM_KNN) || j < 0)
			continue;
		member_items(blend, member, user_id, &items, &own);
		if (own.n == 0 ||
			!RsScoreAllItems(model, user_id, &own, blend->member_scores) ||
			!rs_standardize_stats(blend->member_scores, member->index, blend->items.count,
								  &mean, &sd))
			continue;
		all = all ? repalloc(all, sizeof(RsContribution) * (n_all + own.n)) :
			palloc(sizeof(RsContribution) * own.n);
		RsItemContributions(model, &own, j, user_id, all + n_all);
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

/* JSON arrays for the blend's params and stats */
static char *
json_text_array(char **values, int n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int m = 0; m < n; m++)
	{
		if (m > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, values[m]);
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* Weights as the shortest decimals that read back as the same real. */
static char *
json_real_array(const float *values, int n)
{
	StringInfoData buf;
	char		number[FLOAT_SHORTEST_DECIMAL_LEN];

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int m = 0; m < n; m++)
	{
		float_to_shortest_decimal_buf(values[m], number);
		appendStringInfo(&buf, "%s%s", m > 0 ? ", " : "", number);
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

static char *
json_int_array(const int32 *values, int n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int m = 0; m < n; m++)
		appendStringInfo(&buf, "%s%d", m > 0 ? ", " : "", values[m]);
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* What the catalog says about a member when the blend is trained. */
typedef struct MemberRow
{
	char	   *algorithm;
	int32		version;
	Oid			source;			/* InvalidOid if gone */
	char	   *source_name;
	char	   *user_col;
	char	   *item_col;
	char	   *weight_col;
	int64		n_users;
	int64		n_items;
	int64		n_interactions;
} MemberRow;

static char *
text_or_null(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * Key-share lock a member's catalog row, as the catalog's owner: a role
 * that may use a model may not lock its row itself (the row's UPDATE
 * policy is its owner's, so that nobody else can stall its training),
 * but making a blend of it must hold it until the blend commits.
 */
static void
lock_member(void *arg)
{
	Datum		value = CStringGetTextDatum((const char *) arg);

	RsExecute("SELECT FROM recsys.models WHERE name OPERATOR(pg_catalog.=) $1 FOR KEY SHARE",
			  1, (Oid[]) {TEXTOID}, &value, NULL, false, SPI_OK_SELECT);
}

/*
 * Read a member's catalog row (SPI connected) into the caller's context,
 * through row-level security (so only a model the trainer may use), and
 * lock it against dropping and renaming until the blend commits
 * (drop_model's check for blends then sees it).  A key-share lock lets
 * the member be retrained meanwhile: the blend follows it by name, and
 * the item stats copied come from this statement's snapshot either way.
 */
static void
read_member(const char *name, MemoryContext caller, MemberRow *row)
{
	Datum		value = CStringGetTextDatum(name);
	bool		isnull;
	Datum		source;
	MemoryContext old;

	RsExecute("SELECT algorithm, version, pg_catalog.to_regclass(source)::pg_catalog.oid, source, "
			  "params->>'user_col', params->>'item_col', params->>'weight_col', "
			  "n_users, n_items, n_interactions "
			  "FROM recsys.models WHERE name OPERATOR(pg_catalog.=) $1",
			  1, (Oid[]) {TEXTOID}, &value, NULL, false, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		/* a member the trainer may not use: row-level security hides it */
		(void) RsRequireModelOwner(name, "use", true);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("member model \"%s\" does not exist", name),
				 errhint("SELECT name FROM recsys.models lists the models.")));
	}
	old = MemoryContextSwitchTo(caller);
	row->algorithm = text_or_null(1);
	row->version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	source = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
	row->source = isnull ? InvalidOid : DatumGetObjectId(source);
	row->source_name = text_or_null(4);
	row->user_col = text_or_null(5);
	row->item_col = text_or_null(6);
	row->weight_col = text_or_null(7);
	row->n_users = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 8, &isnull));
	row->n_items = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 9, &isnull));
	row->n_interactions = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 10, &isnull));
	MemoryContextSwitchTo(old);
	RsRunAsCatalogOwner(lock_member, (void *) name);
}

/*
 * Blends do not nest: refuse to make a blend of a model a blend uses
 * (RsTrainer.refuse).
 */
static void
refuse_if_member(const char *name)
{
	Datum		value = CStringGetTextDatum(name);
	bool		isnull;
	Datum		blends;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* every role's blends, also those the trainer may not see */
	RsExecute("SELECT pg_catalog.string_agg(pg_catalog.format('\"%s\"', b), ', ' ORDER BY b), "
			  "pg_catalog.count(*) "
			  "FROM pg_catalog.unnest(recsys._blends_using($1)) b",
			  1, (Oid[]) {TEXTOID}, &value, NULL, false, SPI_OK_SELECT);
	blends = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" is a member of %s %s, so it cannot become a blend",
						name,
						DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2,
													&isnull)) == 1 ? "blend" : "blends",
						TextDatumGetCString(blends)),
				 errhint("Train the blend under another name.")));
	SPI_finish();
}

/* The members argument: 1..BLEND_MAX_MEMBERS distinct names, none the blend's. */
static char **
members_arg(FunctionCallInfo fcinfo, const char *blend_name, int *n)
{
	ArrayType  *array;
	Datum	   *elems;
	bool	   *nulls;
	char	  **names;

	RsRequireArg(fcinfo, 0, "members");
	array = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("members must be a one-dimensional array")));
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, n);
	if (*n < 1 || *n > BLEND_MAX_MEMBERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("members must name between 1 and %d models, not %d", BLEND_MAX_MEMBERS, *n)));
	names = palloc(sizeof(char *) * *n);
	for (int m = 0; m < *n; m++)
	{
		if (nulls[m])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("members must not contain NULLs")));
		names[m] = TextDatumGetCString(elems[m]);
		if (strcmp(names[m], blend_name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("blend \"%s\" cannot be a member of itself", blend_name)));
		for (int o = 0; o < m; o++)
			if (strcmp(names[o], names[m]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("model \"%s\" is named twice in members", names[m]),
						 errhint("Give it one member and a larger weight instead.")));
	}
	return names;
}

/* The weights argument: one finite number per member, not all zero. */
static float *
weights_arg(FunctionCallInfo fcinfo, int n_members)
{
	float	   *weights;
	int			n;
	bool		any = false;

	if (PG_ARGISNULL(1))
	{
		weights = palloc(sizeof(float) * n_members);
		for (int m = 0; m < n_members; m++)
			weights[m] = 1;
		return weights;
	}
	weights = RsArrayToFloats(PG_GETARG_ARRAYTYPE_P(1), "weights", &n);
	if (n != n_members)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weights must have one value per member: %d members, %d weights", n_members, n)));
	for (int m = 0; m < n; m++)
	{
		if (fabsf(weights[m]) > BLEND_MAX_WEIGHT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("weights must be between %g and %g, element %d is %g",
							-BLEND_MAX_WEIGHT, BLEND_MAX_WEIGHT, m + 1, weights[m])));
		any = any || weights[m] != 0;
	}
	if (!any)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weights must not all be zero")));
	return weights;
}

/* The member whose items a blend copies. */
typedef struct FirstMember
{
	const char *name;
	int32		version;
} FirstMember;

/* A blend's item statistics, its first member's (RsTrainWriter). */
static void
copy_item_stats(RsTrainer *trainer, int32 version, void *arg)
{
	FirstMember *first = arg;

	RsCopyItemStats(trainer->name, version, first->name, first->version);
}

/*
 * recsys_train_blend(members text[], weights real[], model text,
 * replace bool) stores a blend of existing models as a new version of
 * model.
 */
Datum
recsys_train_blend(PG_FUNCTION_ARGS)
{
	static const RsTrainArgNos argnos = {.model = 2,.cols = -1,.weight_col = -1,.replace = 3};
	RsTrainer	trainer;
	char	  **names;
	float	   *weights;
	int			n;
	MemberRow  *rows;
	int32		versions[BLEND_MAX_MEMBERS];
	FirstMember first;
	MemoryContext caller = CurrentMemoryContext;

	RsTrainArgs(fcinfo, &argnos, &trainer);
	names = members_arg(fcinfo, trainer.name, &n);
	weights = weights_arg(fcinfo, n);
	/* a member cannot become a blend, whatever replace says */
	trainer.refuse = refuse_if_member;
	RsTrainBegin(&trainer, "blend", NULL);

	rows = palloc0(sizeof(MemberRow) * n);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int m = 0; m < n; m++)
	{
		read_member(names[m], caller, &rows[m]);
		if (strcmp(rows[m].algorithm, "blend") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("blend \"%s\" cannot be a member of another blend", names[m]),
					 errhint("Name the inner blend's members in the outer blend instead.")));
	}
	SPI_finish();
	if (!OidIsValid(rows[0].source) || rows[0].user_col == NULL || rows[0].item_col == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" of member model \"%s\" no longer exists",
						rows[0].source_name, names[0]),
				 errdetail("A blend reads the items users have seen from its first member's source."),
				 errhint("Retrain the member, or name another member first.")));

	for (int m = 0; m < n; m++)
		versions[m] = rows[m].version;
	/* the first member's source and columns, described as a trainer's */
	trainer.spec.relid = rows[0].source;
	trainer.spec.user_col = rows[0].user_col;
	trainer.spec.item_col = rows[0].item_col;
	trainer.spec.weight_col = rows[0].weight_col;
	RsJsonRaw(&trainer.params, "members", json_text_array(names, n));
	RsJsonRaw(&trainer.params, "weights", json_real_array(weights, n));
	RsJsonRaw(&trainer.stats, "member_versions", json_int_array(versions, n));
	trainer.n_users = rows[0].n_users;
	trainer.n_items = rows[0].n_items;
	trainer.n_interactions = rows[0].n_interactions;
	first.name = names[0];
	first.version = rows[0].version;
	PG_RETURN_DATUM(RsTrainFinish(fcinfo, &trainer, copy_item_stats, &first));
}
