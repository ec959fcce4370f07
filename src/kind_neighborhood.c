/*-------------------------------------------------------------------------
 *
 * kind_neighborhood.c
 *		The neighbourhood-model kind (neighborhood): Koren's global
 *		neighbourhood model of ratings (src/train_neighborhood.c trains
 *		it, src/kernel/neighborhood.c has the numerics).
 *
 * A user's predicted rating of item i is
 *
 *   mu + base_u + b_i + |R|^-1/2 sum over j in R of ((r_uj - base_uj) w_ij + c_ij)
 *
 * over R, the neighbours of i the user has rated.  The model keeps no
 * per-user parameter: base_u is computed from the user's ratings as the
 * source has them now (the same formula training used), so a rating given
 * a second ago already counts and a user unknown at training time is
 * served too.  Scores for recommend are the predicted ratings, every item
 * having one (clipped to the training range only by predict_rating); explain gives each rated
 * item's term, |R|^-1/2 ((r_uj - base_uj) w_ij + c_ij), which sum to the
 * prediction less its baseline: the model is a weighted sum by design.
 * similar_items lists an item's neighbours by descending w_ij, the items
 * whose ratings move its prediction most.  Anonymous sessions have no
 * ratings, so sessions and fold_in are not supported.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "history.h"
#include "model_kind.h"
#include "model_load.h"
#include "neighborhood.h"
#include "spi_util.h"

typedef struct NeighborhoodState
{
	RsNbrModel	m;				/* slots are the positions of lists */
	RsCsr		lists;			/* neighbour ids and w, by descending w */
	float		rating_min;
	float		rating_max;
	int32	   *position;		/* per item, zero between calls (see mark_user) */
	int32		factor_rows;	/* item_factors rows loaded */
	/* the lists reversed, and zeroed scratch, for scoring every item */
	int64	   *rev_indptr;
	int64	   *rev_slot;
	int32	   *rev_owner;
	double	   *sum;
	int32	   *count;
	int32	   *touched;
} NeighborhoodState;

#define NB(model) ((NeighborhoodState *) (model)->kind_state)

/* item_factors rows: b_i in bias, base_i as the one factor */
static void
load_item_row(TupleTableSlot *slot, void *arg)
{
	RsModel    *model = arg;
	NeighborhoodState *s = NB(model);
	ArrayType  *factors = DatumGetArrayTypeP(slot->tts_values[2]);
	int32		index = rs_idmap_lookup(&model->items, DatumGetInt64(slot->tts_values[0]));
	float		bias = DatumGetFloat4(slot->tts_values[1]);
	float		base;

	if (ARR_NDIM(factors) != 1 || ARR_DIMS(factors)[0] != 1 || ARR_HASNULL(factors) ||
		ARR_ELEMTYPE(factors) != FLOAT4OID)
		RsModelCorrupt(model, "an item's baseline in recsys.item_factors is not one number");
	if (index < 0)
		RsModelCorrupt(model, "an item has a row in recsys.item_factors but none in recsys.item_stats");
	base = ((const float *) ARR_DATA_PTR(factors))[0];
	if (!isfinite(bias) || !isfinite(base))
		RsModelCorrupt(model, "an item's bias or baseline is not finite");
	s->m.item_bias[index] = bias;
	((float *) s->m.item_base)[index] = base;
	s->factor_rows++;
}

static void
neighborhood_load(RsModel *model, const RsCatalogRow *row)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(model->name), Int32GetDatum(model->version)};
	NeighborhoodState *s = RsModelAlloc(model, sizeof(NeighborhoodState));
	int32		n_items = model->items.count;
	int32		shape[2] = {n_items, -1};
	const float *c;
	int32	   *count;

	model->kind_state = s;
	s->rating_min = row->rating_min;
	s->rating_max = row->rating_max;
	s->m.mu = row->global_mean;
	/* absent bounds read as infinite (no clipping); NaN is damage */
	if (!isfinite(s->m.mu) || isnan(s->rating_min) || isnan(s->rating_max) ||
		s->rating_min > s->rating_max)
		RsModelCorrupt(model, "stats has a global_mean, rating_min or rating_max out of order "
					   "or not a number");
	s->m.n_items = n_items;
	s->position = RsModelAlloc(model, sizeof(int32) * Max(n_items, 1));

	RsLoadNeighborLists(model, false, NULL, &s->lists);
	count = RsModelAlloc(model, sizeof(int32) * Max(n_items, 1));
	for (int32 i = 0; i < n_items; i++)
		count[i] = (int32) (s->lists.indptr[i + 1] - s->lists.indptr[i]);
	for (int64 p = 0; p < s->lists.nnz; p++)
		if (!isfinite(s->lists.data[p]))
			RsModelCorrupt(model, "a neighbour weight is not finite");
	s->m.start = s->lists.indptr;
	s->m.count = count;
	s->m.neighbor = s->lists.indices;
	s->m.w = s->lists.data;

	s->m.item_bias = RsModelAlloc(model, sizeof(float) * Max(n_items, 1));
	s->m.item_base = RsModelAlloc(model, sizeof(float) * Max(n_items, 1));
	RsStreamQuery("SELECT item_id, bias, factors FROM recsys.item_factors "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
				  2, argtypes, values, NULL, true, load_item_row, model);
	if (s->factor_rows != n_items)
		RsModelCorrupt(model, "recsys.item_factors does not have one row per item");

	/* c in the lists' slots: row i of the stored matrix, its first count[i] columns */
	c = RsLoadParameter(model, "implicit_weights", 2, shape);
	s->m.c = RsModelAlloc(model, sizeof(float) * Max(s->lists.nnz, 1));
	for (int32 i = 0; i < n_items; i++)
	{
		if (count[i] > shape[1])
			RsModelCorrupt(model, "an item has more neighbours than recsys.model_parameters \"implicit_weights\" has columns");
		memcpy(s->m.c + s->lists.indptr[i], c + (int64) i * shape[1], sizeof(float) * count[i]);
	}

	s->rev_indptr = RsModelAlloc(model, sizeof(int64) * ((Size) n_items + 1));
	s->rev_slot = RsModelAlloc(model, sizeof(int64) * Max(s->lists.nnz, 1));
	s->rev_owner = RsModelAlloc(model, sizeof(int32) * Max(s->lists.nnz, 1));
	rs_nbr_reverse(&s->m, s->rev_indptr, s->rev_slot, s->rev_owner);
	s->sum = RsModelAlloc(model, sizeof(double) * Max(n_items, 1));
	s->count = RsModelAlloc(model, sizeof(int32) * Max(n_items, 1));
	s->touched = RsModelAlloc(model, sizeof(int32) * Max(n_items, 1));
}

/*
 * Mark the user's rated items in position and compute their residuals
 * r_uj - base_uj into z; returns base_u.  The caller clears the marks
 * (unmark_user) before anything can raise an error, so position is all
 * zeros between calls.
 */
static float
mark_user(RsModel *model, const RsUserItems *items, float *z)
{
	NeighborhoodState *s = NB(model);
	float		base_u = rs_nbr_user_base(items->item, items->weight, items->n, s->m.mu,
										  s->m.item_base, RS_NBR_BASE_REG_USER);

	for (int n = 0; n < items->n; n++)
	{
		z[n] = items->weight[n] - s->m.mu - base_u - s->m.item_base[items->item[n]];
		s->position[items->item[n]] = n + 1;
	}
	return base_u;
}

static void
unmark_user(RsModel *model, const RsUserItems *items)
{
	for (int n = 0; n < items->n; n++)
		NB(model)->position[items->item[n]] = 0;
}

static float
clip(RsModel *model, double p)
{
	return (float) Min(Max(p, NB(model)->rating_min), NB(model)->rating_max);
}

static const char *
neighborhood_history_input(RsModel *model)
{
	return "A neighbourhood model";
}

/*
 * scores[i]: the predicted rating of every item, not clipped (clipping
 * would tie every item predicted above the top rating); false without
 * ratings.
 */
static bool
neighborhood_score_user(RsModel *model, int64 user_id, const RsUserItems *items, float *scores)
{
	NeighborhoodState *s = NB(model);
	float	   *z;
	float		base_u;

	if (items == NULL || items->n == 0)
		return false;
	z = palloc(sizeof(float) * items->n);
	base_u = mark_user(model, items, z);
	unmark_user(model, items);
	for (int32 i = 0; i < s->m.n_items; i++)
		scores[i] = (float) ((double) s->m.mu + base_u + s->m.item_bias[i]);
	/* through the reversed lists: the user's items' neighbours only */
	rs_nbr_offsets_all(&s->m, s->rev_indptr, s->rev_slot, s->rev_owner, items->item, z, items->n,
					   s->sum, s->count, s->touched, scores);
	pfree(z);
	return true;
}

/* The neighbours of item i by descending w_ij. */
static int
neighborhood_similar_items(RsModel *model, int32 i, int k, int32 *out_idx, float *out_score)
{
	const RsCsr *l = &NB(model)->lists;
	int			found = 0;

	for (int64 p = l->indptr[i]; p < l->indptr[i + 1] && found < k; p++)
	{
		out_idx[found] = l->indices[p];
		out_score[found] = l->data[p];
		found++;
	}
	return found;
}

/* Each rated item's term in item j's prediction (0 if not a neighbour of j). */
static void
neighborhood_contributions(RsModel *model, const RsUserItems *items, int32 j, int64 user_id,
						   RsContribution *out)
{
	float	   *z = palloc(sizeof(float) * Max(items->n, 1));
	float	   *share = palloc0(sizeof(float) * Max(items->n, 1));

	mark_user(model, items, z);
	rs_nbr_offset(&NB(model)->m, j, NB(model)->position, z, share);
	unmark_user(model, items);
	for (int n = 0; n < items->n; n++)
	{
		out[n].item_id = model->items.ids[items->item[n]];
		out[n].value = share[n];
	}
	pfree(z);
	pfree(share);
}

static bool
neighborhood_rates(RsModel *model)
{
	return true;
}

/*
 * The clipped predicted rating of item i (-1: unknown to the model, then
 * mu + base_u) from the user's ratings (read here when items is NULL).
 */
static double
neighborhood_predict_rating(RsModel *model, int64 user_id, const RsUserItems *items, int32 i)
{
	NeighborhoodState *s = NB(model);
	RsUserItems read = {0};
	float	   *z;
	double		p;

	if (items == NULL)
	{
		RsReadUserItems(model, user_id, "Predicting a rating", &read);
		items = &read;
	}
	z = palloc(sizeof(float) * Max(items->n, 1));
	p = (double) s->m.mu + mark_user(model, items, z);
	if (i >= 0)
		p += s->m.item_bias[i] + rs_nbr_offset(&s->m, i, s->position, z, NULL);
	unmark_user(model, items);
	pfree(z);
	RsFreeUserItems(&read);
	return clip(model, p);
}

const RsModelKind RsNeighborhoodKind = {
	.name = "neighbourhood model",
	.load = neighborhood_load,
	.history_input = neighborhood_history_input,
	.score_user = neighborhood_score_user,
	.similar_items = neighborhood_similar_items,
	.contributions = neighborhood_contributions,
	.explain = RsExplainByUserItems,
	.rates = neighborhood_rates,
	.predict_rating = neighborhood_predict_rating,
};
