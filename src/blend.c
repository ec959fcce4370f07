/*-------------------------------------------------------------------------
 *
 * blend.c
 *		recsys.train_blend(): a blend of existing models, stored as a model
 *		of its own.  How a blend serves is src/kind_blend.c.
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
#include "events.h"
#include "ingest.h"
#include "model_acl.h"
#include "model_kind.h"
#include "model_params.h"
#include "model_store.h"
#include "spi_util.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_train_blend);

#define BLEND_MAX_WEIGHT 1e6

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
	char	   *event_col;		/* a multi-behaviour source's, else NULL */
	char	   *event_weights;
	char	   *source_owner;	/* recorded at the member's training, or NULL */
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
			  "n_users, n_items, n_interactions, params->>'event_col', params->>'event_weights', "
			  "stats->>'source_owner' "
			  "FROM recsys.models WHERE name OPERATOR(pg_catalog.=) $1 " MAY_USE_MODEL,
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
	row->event_col = text_or_null(11);
	row->event_weights = text_or_null(12);
	row->source_owner = text_or_null(13);
	MemoryContextSwitchTo(old);
	/* the blend reads the member's source with these (never quote a NULL) */
	if (row->user_col == NULL || row->item_col == NULL)
		RsCatalogDamaged(name, row->version, row->user_col == NULL ? "params has no user_col"
						 : "params has no item_col");
	RsLockModelRow(name);
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
	char	  **owners;
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
		const RsModelKind *kind;

		read_member(names[m], caller, &rows[m]);
		kind = RsModelKindFor(rows[m].algorithm);
		/* this trainer's own algorithm: blends do not nest */
		if (strcmp(rows[m].algorithm, "blend") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("blend \"%s\" cannot be a member of another blend", names[m]),
					 errhint("Name the inner blend's members in the outer blend instead.")));
		if (kind != NULL && kind->reranks)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("re-ranker \"%s\" cannot be a member of a blend", names[m]),
					 errhint("Blend the model it re-ranks (its candidates_from), and re-rank the blend instead.")));
		/* (review s11, F7: its "no score" read as 0 put its items last) */
		if (kind != NULL && kind->nan_unscored)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s \"%s\" cannot be a member of a blend", kind->name, names[m]),
					 errdetail("It scores only some items (the others get no score), which a blend cannot weigh against its other members' scores."),
					 errhint("Serve those items from the model itself, and the rest from a blend of the others.")));
	}
	SPI_finish();
	if (!OidIsValid(rows[0].source) || rows[0].user_col == NULL || rows[0].item_col == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("source \"%s\" of member model \"%s\" no longer exists",
						rows[0].source_name, names[0]),
				 errdetail("A blend reads the items users have seen from its first member's source."),
				 errhint("Retrain the member, or name another member first.")));

	/* each member's owner (its row is locked): serving refuses another's */
	owners = palloc(sizeof(char *) * n);
	for (int m = 0; m < n; m++)
	{
		bool		exists;

		versions[m] = rows[m].version;
		owners[m] = RsModelOwnerName(RsModelOwner(names[m], &exists));
	}
	/* the first member's source, read as its owner: still the one it recorded */
	{
		bool		exists;

		RsCheckRecordedRelation("model", names[0], RsRelationName(rows[0].source), rows[0].source,
								RsModelOwner(names[0], &exists), rows[0].source_owner);
	}
	/* the first member's source and columns, described as a trainer's */
	trainer.spec.relid = rows[0].source;
	trainer.spec.user_col = rows[0].user_col;
	trainer.spec.item_col = rows[0].item_col;
	trainer.spec.weight_col = rows[0].weight_col;
	/* and its event weights: the blend reads the user's items as it does */
	if (rows[0].event_col != NULL && rows[0].event_weights != NULL)
	{
		trainer.spec.event_col = rows[0].event_col;
		trainer.spec.events = RsEventMapFromText(rows[0].event_weights, "a member's stored event_weights");
	}
	RsJsonRaw(&trainer.params, "members", json_text_array(names, n));
	RsJsonRaw(&trainer.params, "weights", json_real_array(weights, n));
	RsJsonRaw(&trainer.params, "member_owners", json_text_array(owners, n));
	RsJsonRaw(&trainer.stats, "member_versions", json_int_array(versions, n));
	trainer.n_users = rows[0].n_users;
	trainer.n_items = rows[0].n_items;
	trainer.n_interactions = rows[0].n_interactions;
	first.name = names[0];
	first.version = rows[0].version;
	PG_RETURN_DATUM(RsTrainFinish(fcinfo, &trainer, copy_item_stats, &first));
}
