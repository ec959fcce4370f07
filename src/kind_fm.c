/*-------------------------------------------------------------------------
 *
 * kind_fm.c
 *		The factorisation machine re-ranker kind (fm): another model's
 *		("the base's") top pool items for the user, re-ordered by the FM's
 *		score, optionally plus the base's score.
 *
 * For user u at the statement's time c, the FM scores an item i as
 *		t_i + <P_u + C_c, Q_i>
 * (src/kernel/fm.h: the terms that do not involve the item are left out,
 * they do not change a user's order): t_i and Q_i are the stored
 * item_terms, P_u the user's stored vector (recsys.user_factors; zero for
 * a user training did not see, who is then ranked by the items' terms
 * alone) and C_c the hour's and weekday's factors when the model was
 * trained with time_col, taken in the time zone training recorded
 * (params' time_zone: the training session's TimeZone), so that a cron
 * job in UTC and an application in Europe/Berlin serve alike.  Over the pool, both
 * the FM's and the base's scores are standardised (mean 0, sd 1) and the
 * result is fm + base_weight * base.  A model trained with base_features
 * also gives each pool item its base features (src/kernel/fm.h: its rank
 * band in the pool, the base's standardised score) inside the FM, so
 * that the FM's own score says how far to trust the base for this user,
 * context and item:
 *		t_i + <P_u + C_c, Q_i> + sum_b w_b x_b + <P_u + C_c + Q_i, V>
 *			+ x_band x_score <v_band, v_score>,  V = sum_b v_b x_b.
 *
 * The base is looked up once per statement as the re-ranker's owner, as a
 * blend looks up its members (src/kind_blend.c): a role granted the
 * re-ranker needs no grant on the base, and the re-ranker stops (42501)
 * when the base's owner revokes the re-ranker owner's use of it.  When
 * the base is reloaded, the re-ranker is loaded anew.  Re-rankers do not
 * nest, and a blend cannot have one as a member.  Items of the base the
 * FM does not know are left out of the pool, and with exclude_seen so is
 * what the base's own serving leaves out (the user's items in its source).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "fm.h"
#include "fm_model.h"
#include "history.h"
#include "model_acl.h"
#include "model_cache.h"
#include "model_kind.h"
#include "model_load.h"
#include "recommend.h"
#include "score.h"
#include "spi_util.h"

typedef struct FmState
{
	int			k;
	int			pool;
	float		base_weight;
	float		last_basket_weight;	/* of the base's score from the user's last basket */
	float		recent_weight;	/* of the item's recent sales (item_recent) */
	float	   *item_recent;	/* n_items, or NULL */
	char	   *base_name;
	char	   *base_owner;		/* at training (NULL: not recorded) */
	float	   *item_terms;		/* n_items x (k + 1) */
	float	   *context_factors;	/* FM_CONTEXTS x k, or NULL */
	float	   *base_features;	/* RS_FM_BASE_FEATURES x (k + 1), or NULL */
	pg_tz	   *zone;			/* of the hours and weekdays (NULL: the session's) */
	/* bound by fm_revalidate */
	RsModel    *base;
	uint64		base_instance;
	int32	   *base_to_fm;		/* base item -> FM item, -1 unknown */
	float	   *base_scratch;
	uint8	   *base_exclude;
	/* per call */
	int32	   *pool_idx;
	float	   *pool_base;
	float	   *pool_fm;
	float	   *pool_z;			/* the base's scores standardised (base features) */
	float	   *pool_extra;		/* a time feature over the pool */
	RsReason   *pool_reason;	/* why the base put each there */
	float	   *user;			/* k */
	SPIPlanPtr	user_plan;
} FmState;

#define S(model) ((FmState *) (model)->kind_state)

/* Set while a re-ranker looks its base up, to refuse nesting. */
static bool resolving_base = false;

/* The real a weight key of params holds (below float4's smallest: 0). */
#define FM_REAL(key) \
	"pg_catalog.round((p->'" key "')::pg_catalog.numeric, 37)::pg_catalog.float4"

/*
 * The settings from params as the catalog row has them (the row the
 * reload check fingerprints: every backend serves the same settings,
 * and an edit of recsys.models' params reloads).  Values of the wrong
 * type or out of range make the model damaged (RsModelCorrupt), never a
 * cast's error.  SPI connected.
 */
static void
load_settings(RsModel *model, const RsCatalogRow *row, bool *context, bool *base_features)
{
	Datum		values[5] = {CStringGetTextDatum(row->params ? row->params : "{}"),
							 Int32GetDatum(FM_MAX_POOL), Int32GetDatum(RS_FM_MAX_FACTORS),
							 CStringGetTextDatum(model->name), Int32GetDatum(model->version)};
	bool		isnull[13];
	Datum		d[13];
	HeapTuple	tuple;
	TupleDesc	desc;

	/*
	 * (a number in range is cast; anything else is NULL; FM_REAL: a
	 * number too small for a real, which train_fm accepts too, is 0, as C
	 * rounds it, not a cast's out-of-range error)
	 */
	RsExecute("SELECT p->>'candidates_from', "
			  "CASE WHEN pg_catalog.jsonb_typeof(p->'pool') OPERATOR(pg_catalog.=) 'number' "
			  "     AND (p->'pool')::pg_catalog.numeric BETWEEN 1 AND $2 "
			  "     THEN (p->'pool')::pg_catalog.int4 END, "
			  "CASE WHEN pg_catalog.jsonb_typeof(p->'base_weight') OPERATOR(pg_catalog.=) 'number' "
			  "     AND (p->'base_weight')::pg_catalog.numeric BETWEEN -1000 AND 1000 "
			  "     THEN " FM_REAL("base_weight") " END, "
			  "CASE WHEN pg_catalog.jsonb_typeof(p->'factors') OPERATOR(pg_catalog.=) 'number' "
			  "     AND (p->'factors')::pg_catalog.numeric BETWEEN 1 AND $3 "
			  "     THEN (p->'factors')::pg_catalog.int4 END, "
			  "p->>'time_col' IS NOT NULL AND (p->>'context') IS DISTINCT FROM 'false', "
			  "p->>'time_zone', p->>'candidates_owner', "
			  "p->'time_zone' IS NULL "
			  "OR pg_catalog.jsonb_typeof(p->'time_zone') OPERATOR(pg_catalog.=) 'string', "
			  "CASE WHEN (p->>'base_features') IN ('true', 'false') "
			  "     THEN (p->>'base_features')::pg_catalog.bool END, "
			  "p->'base_features' IS NULL, "
			  "EXISTS (SELECT FROM recsys.model_parameters x "
			  "        WHERE x.model OPERATOR(pg_catalog.=) $4 AND x.version OPERATOR(pg_catalog.=) $5 "
			  "        AND x.name OPERATOR(pg_catalog.=) '" FM_BASE_FEATURES "'), "
			  "CASE WHEN p->'last_basket_weight' IS NULL THEN 0 "
			  "     WHEN pg_catalog.jsonb_typeof(p->'last_basket_weight') OPERATOR(pg_catalog.=) 'number' "
			  "     AND (p->'last_basket_weight')::pg_catalog.numeric BETWEEN -1000 AND 1000 "
			  "     THEN " FM_REAL("last_basket_weight") " END, "
			  "CASE WHEN p->'recent_weight' IS NULL THEN 0 "
			  "     WHEN pg_catalog.jsonb_typeof(p->'recent_weight') OPERATOR(pg_catalog.=) 'number' "
			  "     AND (p->'recent_weight')::pg_catalog.numeric BETWEEN -1000 AND 1000 "
			  "     THEN " FM_REAL("recent_weight") " END "
			  "FROM (SELECT $1::pg_catalog.jsonb AS p) s",
			  5, (Oid[]) {TEXTOID, INT4OID, INT4OID, TEXTOID, INT4OID}, values, NULL, true,
			  SPI_OK_SELECT);
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	for (int c = 0; c < 13; c++)
		d[c] = SPI_getbinval(tuple, desc, c + 1, &isnull[c]);
	if (isnull[0])
		RsModelCorrupt(model, "params has no candidates_from");
	if (isnull[1])
		RsModelCorrupt(model, psprintf("params' pool is not a number between 1 and %d", FM_MAX_POOL));
	if (isnull[2])
		RsModelCorrupt(model, "params' base_weight is not a number between -1000 and 1000");
	if (isnull[3])
		RsModelCorrupt(model, psprintf("params' factors is not a number between 1 and %d", RS_FM_MAX_FACTORS));
	if (isnull[11])
		RsModelCorrupt(model, "params' last_basket_weight is not a number between -1000 and 1000");
	if (isnull[12])
		RsModelCorrupt(model, "params' recent_weight is not a number between -1000 and 1000");
	S(model)->last_basket_weight = DatumGetFloat4(d[11]);
	S(model)->recent_weight = DatumGetFloat4(d[12]);
	*context = DatumGetBool(d[4]);
	/*
	 * base_features: true or false (the string train_fm writes, or a JSON
	 * boolean; absent: false, a model trained before it existed), and
	 * agreeing with the parameter rows, so that an edit never silently
	 * serves without the base features (true without the row:
	 * RsLoadParameter says so)
	 */
	if (!DatumGetBool(d[9]) && isnull[8])
		RsModelCorrupt(model, "params' base_features is not \"true\" or \"false\"");
	*base_features = !isnull[8] && DatumGetBool(d[8]);
	if (!*base_features && DatumGetBool(d[10]))
		RsModelCorrupt(model, psprintf("%s but recsys.model_parameters has a row \"%s\"",
									   DatumGetBool(d[9]) ? "params has no base_features"
									   : "params' base_features is false", FM_BASE_FEATURES));
	S(model)->base_name = MemoryContextStrdup(model->mcxt, TextDatumGetCString(d[0]));
	if (!isnull[6])
		S(model)->base_owner = MemoryContextStrdup(model->mcxt, TextDatumGetCString(d[6]));
	S(model)->pool = DatumGetInt32(d[1]);
	S(model)->base_weight = DatumGetFloat4(d[2]);
	S(model)->k = DatumGetInt32(d[3]);
	if (*context)
	{
		/* the zone training took the hours in (absent: the session's) */
		if (!DatumGetBool(d[7]))
			RsModelCorrupt(model, "params' time_zone is not a string");
		if (!isnull[5])
		{
			S(model)->zone = pg_tzset(TextDatumGetCString(d[5]));
			if (S(model)->zone == NULL)
				RsModelCorrupt(model, "params' time_zone is not a time zone");
		}
	}
}

/* fm_load reads the version's items, settings and parameters (SPI connected). */
static void
fm_load(RsModel *model, const RsCatalogRow *row)
{
	int32		shape[2];
	bool		context;
	bool		base_features;

	model->kind_state = MemoryContextAllocZero(model->mcxt, sizeof(FmState));
	RsLoadItems(model, row->n_items);
	load_settings(model, row, &context, &base_features);
	shape[0] = model->items.count;
	shape[1] = S(model)->k + 1;
	S(model)->item_terms = RsLoadParameter(model, FM_ITEM_TERMS, 2, shape);
	if (context)
	{
		shape[0] = FM_CONTEXTS;
		shape[1] = S(model)->k;
		S(model)->context_factors = RsLoadParameter(model, FM_CONTEXT_FACTORS, 2, shape);
	}
	if (base_features)
	{
		shape[0] = RS_FM_BASE_FEATURES;
		shape[1] = S(model)->k + 1;
		S(model)->base_features = RsLoadParameter(model, FM_BASE_FEATURES, 2, shape);
	}
	if (S(model)->recent_weight != 0)
	{
		shape[0] = model->items.count;
		S(model)->item_recent = RsLoadParameter(model, FM_ITEM_RECENT, 1, shape);
	}
	S(model)->pool_idx = MemoryContextAlloc(model->mcxt, sizeof(int32) * S(model)->pool);
	S(model)->pool_base = MemoryContextAlloc(model->mcxt, sizeof(float) * S(model)->pool);
	S(model)->pool_fm = MemoryContextAlloc(model->mcxt, sizeof(float) * S(model)->pool);
	S(model)->pool_z = MemoryContextAlloc(model->mcxt, sizeof(float) * S(model)->pool);
	S(model)->pool_extra = MemoryContextAlloc(model->mcxt, sizeof(float) * S(model)->pool);
	S(model)->pool_reason = MemoryContextAlloc(model->mcxt, sizeof(RsReason) * S(model)->pool);
	S(model)->user = MemoryContextAlloc(model->mcxt, sizeof(float) * S(model)->k);
}

/* Says which re-ranker was looking its base up when an error was raised. */
static void
base_context(void *arg)
{
	const char **names = arg;

	errcontext("candidates_from model \"%s\" of re-ranker \"%s\"", names[1], names[0]);
}

typedef struct BaseLookup
{
	const char *name;
	RsModel    *model;
} BaseLookup;

static void
get_base(void *arg)
{
	BaseLookup *lookup = arg;

	lookup->model = RsGetModel(lookup->name);
}

/* Bind the base: map its items to the FM's, room for its scores. */
static void
bind_base(RsModel *fm, RsModel *base)
{
	Size		bitmap = RS_BITMAP_BYTES(base->items.count) + 1;

	S(fm)->base_to_fm = MemoryContextAllocExtended(fm->mcxt, sizeof(int32) * Max(base->items.count, 1),
												   MCXT_ALLOC_HUGE);
	for (int32 b = 0; b < base->items.count; b++)
		S(fm)->base_to_fm[b] = RsModelItemIndex(fm, base->items.ids[b]);
	S(fm)->base_scratch = MemoryContextAllocExtended(fm->mcxt,
													 sizeof(float) * Max(base->items.count, RS_SCORE_BLOCK),
													 MCXT_ALLOC_HUGE);
	S(fm)->base_exclude = MemoryContextAllocExtended(fm->mcxt, bitmap, MCXT_ALLOC_HUGE);
	S(fm)->base_instance = base->instance;
	S(fm)->base = base;
}

/*
 * RsFmRequireLastBasket: a re-ranker with last_basket_weight scores the
 * pool from the user's last basket, the items of the base's source at
 * the user's latest time; the base must know those times (time_col and
 * half_life: its serving reads them) and score a set of items
 * (score_session).  Training and serving (the base may have been
 * retrained without them).
 */
void
RsFmRequireLastBasket(RsModel *base, const char *reranker)
{
	if (base->half_life <= 0 || base->kind->score_session == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("last_basket_weight of re-ranker \"%s\" needs a candidates_from model that knows "
						"interaction times and scores a set of items", reranker),
				 errdetail("Model \"%s\" %s.", base->name,
						   base->half_life <= 0 ? "was trained without time_col and half_life"
						   : "cannot score a set of items (recommend_session)"),
				 errhint("Train the base with time_col and half_life (train_ease, train_item_knn), "
						 "or leave last_basket_weight at 0.")));
}

/*
 * RsFmRefuseUnscoredBase: a base that scores only some items (a cold
 * re-ranker: warm items get no score) gives a re-ranker nothing to pool
 * for most users, so it trained and then served no row (review s11,
 * R11, as a blend member in F7).  Training and serving (a re-ranker made
 * before, or whose base was retrained so).
 */
void
RsFmRefuseUnscoredBase(RsModel *base, const char *reranker)
{
	if (base->kind->nan_unscored)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s \"%s\" cannot be the candidates_from model of re-ranker \"%s\"",
						base->kind->name, base->name, reranker),
				 errdetail("It scores only some items (the others get no score), so the re-ranker would have no candidates to re-rank for most users."),
				 errhint("Name a model that ranks every item as candidates_from.")));
}

/* RsFmRefuseNesting: re-rankers do not nest (training and serving). */
void
RsFmRefuseNesting(const char *base_name)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("candidates_from model \"%s\" is a re-ranker itself", base_name),
			 errhint("Re-rankers do not nest: name the model it re-ranks instead.")));
}

/*
 * fm_revalidate looks the base up (and loads it, if need be) for the
 * current statement as the re-ranker's owner, which pins it as long as
 * the re-ranker.  Returns false, changing nothing, when the base bound
 * before has been reloaded since (the caller loads the re-ranker anew).
 */
static bool
fm_revalidate(RsModel *fm)
{
	const char *names[2] = {fm->name, S(fm)->base_name};
	ErrorContextCallback callback = {error_context_stack, base_context, names};
	BaseLookup	lookup = {S(fm)->base_name, NULL};

	/* looked up as another re-ranker's base */
	if (resolving_base)
		RsFmRefuseNesting(fm->name);
	error_context_stack = &callback;
	resolving_base = true;
	PG_TRY();
	{
		RsRunAsOwner(fm->name, fm->owner, get_base, &lookup);
	}
	PG_FINALLY();
	{
		resolving_base = false;
	}
	PG_END_TRY();
	if (lookup.model->kind->reranks)
		RsFmRefuseNesting(lookup.model->name);
	RsFmRefuseUnscoredBase(lookup.model, fm->name);
	RsRefuseChangedOwner("candidates_from model", S(fm)->base_name, "re-ranker", fm->name,
						 S(fm)->base_owner, lookup.model->owner);
	if (S(fm)->last_basket_weight != 0)
		RsFmRequireLastBasket(lookup.model, fm->name);
	error_context_stack = callback.previous;
	if (S(fm)->base == NULL)
		bind_base(fm, lookup.model);
	else if (S(fm)->base_instance != lookup.model->instance)
		return false;
	return true;
}

static void
fm_free(RsModel *model)
{
	if (S(model) == NULL)
		return;
	RsDropPlan(model, S(model)->user_plan);
	S(model)->user_plan = NULL;
}

/*
 * S(model)->user = the user's stored vector (zero if training did not see
 * the user) plus the context's factors at the statement's time.
 */
static void
user_and_context(RsModel *model, int64 user_id)
{
	FmState    *s = S(model);

	/* zero if training did not see the user */
	if (!RsReadUserVector(model, &s->user_plan, user_id, s->k, s->user, NULL,
						  "user's factor vector"))
		memset(s->user, 0, sizeof(float) * s->k);

	if (s->context_factors)
	{
		struct pg_tm tm;
		fsec_t		fsec;
		int			tz;
		int			hour = 0;
		int			dow = 0;

		if (timestamp2tm(GetCurrentStatementStartTimestamp(), &tz, &tm, &fsec, NULL, s->zone) == 0)
		{
			hour = tm.tm_hour;
			dow = j2day(date2j(tm.tm_year, tm.tm_mon, tm.tm_mday));
		}
		for (int f = 0; f < s->k; f++)
			s->user[f] += s->context_factors[hour * s->k + f] +
				s->context_factors[(FM_HOURS + dow) * s->k + f];
	}
}

/*
 * The base features' part of the FM score of the pool item at 0-based
 * rank r with standardised base score z, Q_i at q (src/kernel/fm.h).
 */
static double
base_feature_terms(const FmState *s, int r, float z, const float *q)
{
	const float *band = s->base_features + rs_fm_rank_band(r) * (s->k + 1);
	const float *score = s->base_features + RS_FM_RANK_BANDS * (s->k + 1);
	double		t = band[0] + score[0] * z;

	for (int f = 0; f < s->k; f++)
		t += (double) (s->user[f] + q[f]) * (band[1 + f] + z * score[1 + f]) +
			(double) z * band[1 + f] * score[1 + f];
	return t;
}

/*
 * Says, in an error raised while the user's items are read from the
 * base's source for the pool (with the rights of the role its kind reads
 * it as: RsSourceReader), which re-ranker, which base and which role: a
 * bare "permission denied for table" names none of them.  Only around
 * that read: the base's ranking reads no relation as that role.
 */
static void
base_serving_context(void *arg)
{
	RsModel    *fm = arg;
	RsModel    *base = S(fm)->base;
	const char *reader = GetUserNameFromId(RsSourceReader(base), true);

	errcontext("reading the user's items for re-ranker \"%s\" from the source of its candidates_from "
			   "model \"%s\", with the rights of role \"%s\"",
			   fm->name, base->name, reader ? reader : "(dropped)");
}

/*
 * The base's scores of the n pool items (base indexes in pool) from the
 * user's last basket alone: the items of the user's with the latest time
 * (recency weight 1: RsRecencyWeights counts ages from the latest), scored
 * as a session (weights 1, as recommend_session does) into scratch (the
 * base's items).  What a shopper buys next follows their latest order more
 * than their whole history.  A user with no timed item gets zeros, and
 * so does an item the basket does not reach.
 */
static void
last_basket_scores(RsModel *base, const RsUserItems *own, float *scratch, const int32 *pool, int n,
				   float *out)
{
	RsUserItems basket = {0};
	float		latest = 0;

	for (int a = 0; own->recency && a < own->n; a++)
		latest = Max(latest, own->recency[a]);
	basket.item = palloc(sizeof(int32) * Max(own->n, 1));
	basket.weight = palloc(sizeof(float) * Max(own->n, 1));
	for (int a = 0; latest > 0 && a < own->n; a++)
		if (own->recency[a] >= latest)
		{
			basket.item[basket.n] = own->item[a];
			basket.weight[basket.n] = 1;
			basket.n++;
		}
	/*
	 * An item the basket does not reach (item-neighbour kinds leave it
	 * NaN, and the basket's own items, never their own neighbours) is 0,
	 * no link: one NaN would make the pool's mean NaN and so the whole
	 * standardised feature 0 for the user.
	 */
	if (basket.n > 0 && base->kind->score_session(base, &basket, scratch))
		for (int r = 0; r < n; r++)
			out[r] = isnan(scratch[pool[r]]) ? 0 : scratch[pool[r]];
	else
		memset(out, 0, sizeof(float) * n);
	pfree(basket.item);
	pfree(basket.weight);
}

/* score[r] += weight * x[r] standardised over the pool (x is overwritten). */
static void
add_standardized(float *score, float *x, int n, float weight)
{
	rs_fm_standardize(x, n);
	for (int r = 0; r < n; r++)
		score[r] += weight * x[r];
}

/*
 * The pool for the user, re-scored: returns its size, with FM item
 * indexes in pool_idx and the combined scores in pool_fm.  exclude (FM
 * items, may be NULL) is left out of the pool, and so are the items the
 * FM does not know, before the base ranks (training's pool is drawn
 * alike: src/train_fm.c).  With exclude_seen, so are the items the user
 * has in the base's source, as the base's own serving leaves them out
 * (its source may have users or rows the FM's lacks).
 */
static int
rescore_pool(RsModel *fm, int64 user_id, const uint8 *exclude, bool exclude_seen)
{
	FmState    *s = S(fm);
	RsModel    *base = s->base;
	RsUserItems own = {0};
	bool		has_items;
	int			n;
	ErrorContextCallback callback;

	memset(s->base_exclude, 0, RS_BITMAP_BYTES(base->items.count) + 1);
	for (int32 b = 0; b < base->items.count; b++)
	{
		int32		i = s->base_to_fm[b];

		if (i < 0 || (exclude && rs_bitmap_test(exclude, i)))
			rs_bitmap_set(s->base_exclude, b);
	}
	callback.callback = base_serving_context;
	callback.arg = fm;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	has_items = RsReadServingItems(base, user_id, exclude_seen, &own);
	error_context_stack = callback.previous;
	if (exclude_seen)
		for (int a = 0; a < own.n; a++)
			rs_bitmap_set(s->base_exclude, own.item[a]);
	n = RsRankForUser(base, user_id, has_items ? &own : NULL, s->base_exclude, s->pool,
					  s->base_scratch, s->pool_idx, s->pool_base, s->pool_reason);
	if (s->last_basket_weight != 0)
	{
		/* before pool_idx becomes the FM's items */
		if (!exclude_seen && !has_items)
		{
			error_context_stack = &callback;
			RsReadUserItems(base, user_id, "Re-ranking by the last basket", &own);
			error_context_stack = callback.previous;
		}
		last_basket_scores(base, &own, s->base_scratch, s->pool_idx, n, s->pool_extra);
	}
	RsFreeUserItems(&own);

	user_and_context(fm, user_id);
	if (s->base_features)
	{
		memcpy(s->pool_z, s->pool_base, sizeof(float) * n);
		rs_fm_standardize(s->pool_z, n);
	}
	for (int r = 0; r < n; r++)
	{
		int32		i = s->base_to_fm[s->pool_idx[r]];
		const float *t = s->item_terms + (int64) i * (s->k + 1);
		double		score = t[0];

		for (int f = 0; f < s->k; f++)
			score += (double) s->user[f] * t[1 + f];
		if (s->base_features)
			score += base_feature_terms(s, r, s->pool_z[r], t + 1);
		s->pool_idx[r] = i;
		s->pool_fm[r] = (float) score;
	}
	rs_fm_standardize(s->pool_fm, n);
	if (s->base_weight != 0)
	{
		rs_fm_standardize(s->pool_base, n);
		for (int r = 0; r < n; r++)
			s->pool_fm[r] += s->base_weight * s->pool_base[r];
	}
	if (s->last_basket_weight != 0)
		add_standardized(s->pool_fm, s->pool_extra, n, s->last_basket_weight);
	if (s->recent_weight != 0)
	{
		for (int r = 0; r < n; r++)
			s->pool_extra[r] = s->item_recent[s->pool_idx[r]];
		add_standardized(s->pool_fm, s->pool_extra, n, s->recent_weight);
	}
	return n;
}

/*
 * fm_rank_top_k: the k best of the re-scored pool, best first (ties: item
 * order), each with the reason the base gave it (a cold start of the base
 * for a user it cannot score, a row it filled in, ...): the re-ranker
 * only re-orders the base's rows.
 */
static int
fm_rank_top_k(RsModel *fm, int64 user_id, const RsUserItems *items, uint8 *exclude, int k,
			  float *scratch, int32 *out_idx, float *out_score, RsReason *out_reason)
{
	FmState    *s = S(fm);
	int			n = rescore_pool(fm, user_id, exclude, items && items->exclude_seen);
	int			found = 0;

	/* selection of the k best: the pool is small */
	for (; found < k && found < n; found++)
	{
		int			best = found;

		for (int r = found + 1; r < n; r++)
			if (s->pool_fm[r] > s->pool_fm[best] ||
				(s->pool_fm[r] == s->pool_fm[best] && s->pool_idx[r] < s->pool_idx[best]))
				best = r;
		out_idx[found] = s->pool_idx[best];
		out_score[found] = s->pool_fm[best];
		if (out_reason)
			out_reason[found] = s->pool_reason[best];
		s->pool_idx[best] = s->pool_idx[found];
		s->pool_fm[best] = s->pool_fm[found];
		s->pool_reason[best] = s->pool_reason[found];
		rs_bitmap_set(exclude, out_idx[found]);
	}
	return found;
}

/*
 * fm_score_user: the pool's scores (the user's items left out, those of
 * the base's source too, as recommend's exclude_seen does), and for
 * every other item the pool's lowest score minus 1, so that ordering all
 * items by recsys.score puts recommend's order first (pool scores are
 * standardised around 0: NaN, which recsys.score reports as 0, would put
 * items outside the pool above the pool's lower half).
 */
static bool
fm_score_user(RsModel *fm, int64 user_id, const RsUserItems *items, float *scores)
{
	uint8	   *exclude = palloc0(RS_BITMAP_BYTES(fm->items.count) + 1);
	float		lowest = 0;
	int			n;

	for (int a = 0; items && a < items->n; a++)
		rs_bitmap_set(exclude, items->item[a]);
	n = rescore_pool(fm, user_id, exclude, true);
	for (int r = 0; r < n; r++)
		lowest = r == 0 ? S(fm)->pool_fm[r] : Min(lowest, S(fm)->pool_fm[r]);
	for (int32 i = 0; i < fm->items.count; i++)
		scores[i] = lowest - 1;
	for (int r = 0; r < n; r++)
		scores[S(fm)->pool_idx[r]] = S(fm)->pool_fm[r];
	pfree(exclude);
	return n > 0;
}

/* The pool leaves out the items the user has. */
static const char *
fm_history_input(RsModel *model)
{
	return "Re-ranking";
}

const RsModelKind RsFmKind = {
	.name = "factorisation machine re-ranker",
	.reranks = true,
	.uses_models = "candidates_from",
	.load = fm_load,
	.revalidate = fm_revalidate,
	.free = fm_free,
	.history_input = fm_history_input,
	.score_user = fm_score_user,
	.rank_top_k = fm_rank_top_k,
};
