/*-------------------------------------------------------------------------
 *
 * kind_ncf.c
 *		The neural collaborative filtering kind (ncf): a NeuMF model
 *		trained by recsys.train_ncf (src/train_ncf.c has the storage
 *		layout, src/kernel/ncf.h the model).
 *
 * The item embeddings and the layers are loaded once per backend; a
 * user's embedding is read per statement from recsys.user_factors, as the
 * factor kind reads its user vectors.  A user's scores are the forward
 * pass's logits (log-odds of an interaction) over every item, block by
 * block through the kernel; a user without an embedding is the standard
 * cold start (popularity).
 *
 * similar_items ranks by the cosine of whole item embeddings [gmf | mlp].
 * explain gives nearest-neighbour-style shares: each of the user's items
 * gets the cosine of its embedding with the target item's.  They say
 * which of the user's items the target resembles in the model; they are
 * not a decomposition of the score (a network's output has none).
 * Sessions and fold-in are not supported: a user's embedding is only
 * learnt by training.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "cancel.h"
#include "factor_scores.h"
#include "history.h"
#include "model_acl.h"
#include "model_cache.h"
#include "model_kind.h"
#include "model_load.h"
#include "ncf.h"
#include "score.h"
#include "spi_util.h"

typedef struct NcfState
{
	RsNcfModel	net;			/* user unused: one user's vector at a time */
	float	   *item_norms;		/* |q_i| of whole embeddings */
	float	   *scratch;		/* rs_ncf_score's */
	SPIPlanPtr	user_plan;
	float	   *user_vector;
	int64		vector_user;
	bool		vector_found;
	RsStatementStamp vector_stamp;
} NcfState;

#define N(model) ((NcfState *) (model)->kind_state)

/* A parameter row's dimension as stored in 'architecture': a whole count in range. */
static int
architecture_value(RsModel *model, float v, int min)
{
	if (!(v >= min && v <= RS_NCF_MAX_WIDTH) || v != floorf(v))
		RsModelCorrupt(model, "recsys.model_parameters row \"architecture\" holds an impossible size");
	return (int) v;
}

/* item_factors rows: each item's embedding */
static void
load_item_row(TupleTableSlot *slot, void *arg)
{
	RsModel    *model = arg;
	int			dim = rs_ncf_dim(&N(model)->net.shape);
	ArrayType  *v = DatumGetArrayTypeP(slot->tts_values[1]);
	int32		index = rs_idmap_lookup(&model->items, DatumGetInt64(slot->tts_values[0]));

	if (ARR_NDIM(v) != 1 || ARR_DIMS(v)[0] != dim || ARR_HASNULL(v))
		RsModelCorrupt(model, "an item embedding has the wrong length");
	if (index < 0)
		RsModelCorrupt(model, "an item has an embedding but no row in recsys.item_stats");
	memcpy(N(model)->net.item + (int64) index * dim, ARR_DATA_PTR(v), sizeof(float) * dim);
	for (int a = 0; a < dim; a++)
		if (!isfinite(N(model)->net.item[(int64) index * dim + a]))
			RsModelCorrupt(model, "an item embedding holds a value that is not finite");
}

/* The layers, from 'architecture' on, each checked against the others. */
static void
load_layers(RsModel *model)
{
	RsNcfShape *s = &N(model)->net.shape;
	RsNcfLayout lay;
	int32		shape[2] = {-1, -1};
	float	   *arch = RsLoadParameter(model, "architecture", 1, shape);

	if (shape[0] < 2 || shape[0] > 2 + RS_NCF_MAX_LAYERS)
		RsModelCorrupt(model, "recsys.model_parameters row \"architecture\" has the wrong shape");
	s->d_gmf = architecture_value(model, arch[0], 0);
	s->d_mlp = architecture_value(model, arch[1], 1);
	s->n_layers = shape[0] - 2;
	for (int l = 0; l < s->n_layers; l++)
		s->hidden[l] = architecture_value(model, arch[2 + l], 1);
	rs_ncf_layout(s, &lay);
	N(model)->net.dense = RsModelAlloc(model, sizeof(float) * lay.size);
	for (int l = 0; l <= s->n_layers; l++)
	{
		bool		output = l == s->n_layers;
		const float *w;
		const float *b;

		shape[0] = lay.out[l];
		shape[1] = lay.in[l];
		w = RsLoadParameter(model, output ? "output.weight" : psprintf("mlp.%d.weight", l), 2, shape);
		b = RsLoadParameter(model, output ? "output.bias" : psprintf("mlp.%d.bias", l), 1, shape);
		memcpy(N(model)->net.dense + lay.weight[l], w, sizeof(float) * lay.in[l] * lay.out[l]);
		memcpy(N(model)->net.dense + lay.bias[l], b, sizeof(float) * lay.out[l]);
	}
}

static void
ncf_load(RsModel *model, const RsCatalogRow *row)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(model->name), Int32GetDatum(model->version)};
	NcfState   *n = RsModelAlloc(model, sizeof(NcfState));
	int32		n_items = model->items.count;
	int			dim;

	memset(n, 0, sizeof(NcfState));
	model->kind_state = n;
	load_layers(model);
	n->net.shape.n_items = n_items;
	dim = rs_ncf_dim(&n->net.shape);
	n->net.item = RsModelAlloc(model, sizeof(float) * dim * (Size) Max(n_items, 1));
	n->item_norms = RsModelAlloc(model, sizeof(float) * Max(n_items, 1));
	n->user_vector = RsModelAlloc(model, sizeof(float) * dim);
	n->scratch = RsModelAlloc(model, sizeof(float) * rs_ncf_score_scratch_floats(&n->net.shape));
	/* an item without a row would score with an embedding of zeros */
	for (int64 e = 0; e < (int64) dim * n_items; e++)
		n->net.item[e] = NAN;
	RsStreamQuery("SELECT item_id, factors FROM recsys.item_factors "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
				  2, argtypes, values, NULL, true, load_item_row, model);
	for (int32 i = 0; i < n_items; i++)
		if (isnan(n->net.item[(int64) i * dim]))
			RsModelCorrupt(model, "an item of recsys.item_stats has no embedding");
	for (int32 begin = 0; begin < n_items; begin += 1024)
	{
		CHECK_FOR_INTERRUPTS();
		rs_row_norms(n->net.item + (int64) begin * dim, Min(1024, n_items - begin), dim,
					 n->item_norms + begin);
	}
}

/*
 * The user's embedding, NULL if the model has none (cold start); kept
 * for the rest of the statement.
 */
static const float *
user_embedding(RsModel *model, int64 user_id)
{
	NcfState   *n = N(model);
	RsStatementStamp now = RsCurrentStatement();

	if (!(n->vector_user == user_id && RsSameStatement(&n->vector_stamp, &now)))
	{
		n->vector_stamp.valid = false;
		n->vector_found = RsReadUserVector(model, &n->user_plan, user_id, rs_ncf_dim(&n->net.shape),
										   n->user_vector, NULL, "user embedding");
		n->vector_user = user_id;
		n->vector_stamp = now;
	}
	return n->vector_found ? n->user_vector : NULL;
}

/* Every item's logit for the user, in blocks with a cancel check between. */
static bool
ncf_score_user(RsModel *model, int64 user_id, const RsUserItems *items, float *scores)
{
	const float *x = user_embedding(model, user_id);
	int32		n_items = model->items.count;
	RsNcfLayout lay;
	int32		step;

	if (x == NULL)
		return false;
	/* items per cancel check: RS_CHECK_WORK multiply-adds, a block at least */
	rs_ncf_layout(&N(model)->net.shape, &lay);
	step = (int32) Min(Max(RS_CHECK_WORK / Max(lay.size, 1), RS_NCF_SCORE_BLOCK), PG_INT32_MAX);
	for (int32 begin = 0; begin < n_items; begin += step)
	{
		CHECK_FOR_INTERRUPTS();
		rs_ncf_score(&N(model)->net, x, NULL, begin, Min(step, n_items - begin), scores + begin,
					 N(model)->scratch);
	}
	return true;
}

/* One item's logit (score()); popularity for a user the model lacks. */
static float
ncf_score_item(RsModel *model, int64 user_id, int32 i)
{
	const float *x = user_embedding(model, user_id);
	float		z;

	if (x == NULL)
		return model->popularity[i];
	rs_ncf_score(&N(model)->net, x, &i, 0, 1, &z, N(model)->scratch);
	return z;
}

/* Cosines of item i's embedding with every other's. */
static void
item_cosines(RsModel *model, int32 i, float *scores)
{
	NcfState   *n = N(model);
	int			dim = rs_ncf_dim(&n->net.shape);

	rs_score_items(n->net.item, NULL, model->items.count, dim, n->net.item + (int64) i * dim,
				   scores);
	rs_cosine_from_dots(scores, n->item_norms, i, model->items.count);
}

static int
ncf_similar_items(RsModel *model, int32 i, int k, int32 *out_idx, float *out_score)
{
	int32		n_items = model->items.count;
	float	   *scores = palloc(sizeof(float) * n_items);
	uint8	   *exclude = palloc0(RS_BITMAP_BYTES(n_items) + 1);

	item_cosines(model, i, scores);
	rs_bitmap_set(exclude, i);
	return rs_topk(scores, n_items, k, exclude, out_idx, out_score);
}

/*
 * explain(): each of the user's items (as the source has them now) with
 * its embedding's cosine with item j's.  Not a contributions callback: a
 * blend adds its members' shares of the score, and these are not shares.
 */
static int
ncf_explain(RsModel *model, int64 user_id, int32 j, int64 item_id, RsContribution **out)
{
	RsUserItems items = {0};
	float	   *cos;

	RsReadUserItems(model, user_id, "Explaining", &items);
	*out = palloc(sizeof(RsContribution) * Max(items.n, 1));
	if (items.n == 0)
		return 0;
	cos = palloc(sizeof(float) * model->items.count);
	item_cosines(model, j, cos);
	for (int r = 0; r < items.n; r++)
	{
		(*out)[r].item_id = model->items.ids[items.item[r]];
		(*out)[r].value = items.item[r] == j ? 1.0f : cos[items.item[r]];
	}
	pfree(cos);
	return items.n;
}

static void
ncf_free(RsModel *model)
{
	if (N(model) == NULL)
		return;
	RsDropPlan(model, N(model)->user_plan);
	N(model)->user_plan = NULL;
}

const RsModelKind RsNcfKind = {
	.name = "neural",
	.load = ncf_load,
	.free = ncf_free,
	.score_user = ncf_score_user,
	.score_item = ncf_score_item,
	.similar_items = ncf_similar_items,
	.explain = ncf_explain,
};
