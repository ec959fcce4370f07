/*-------------------------------------------------------------------------
 *
 * kind_item_neighbors.c
 *		The item neighbourhood kind: item-kNN (item_knn) and EASE (ease).
 *
 * Both store, for each item, a list of neighbour items and weights
 * (recsys.item_neighbor_lists): item-kNN its k most similar items, EASE
 * the non-zero entries of its item-item weight matrix B.  A user's score
 * of item j is then sum over the user's items i of w_ui * sim(i, j), the
 * user's items read from the model's source as it is now, so a purchase
 * made a second ago already counts (weighted by age for a model with a
 * half-life, 1 each in a binary model).  An anonymous session scores the
 * same way, each of its items counting 1.  Items no neighbour list of the
 * user's items reaches stay unscored (NaN).
 *
 * A user without items gets the average user's scores in popularity
 * order: the scores of the mean training history (each item's user count,
 * or summed weight, over the number of users), which, the scores being
 * linear in the history, are the mean of every training user's scores,
 * are handed out again in popularity order (RsInPopularityOrder).  So the
 * fallback has the values an average user gets and the popularity
 * ranking: ranked by their own order, item-kNN's average scores favour
 * items on many neighbour lists (hubs) and lost half of popularity's
 * NDCG@10 on the shared splits (doc/internals.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "history.h"
#include "item_cold.h"
#include "model_kind.h"
#include "model_load.h"
#include "neighbor_scores.h"

/* A model's neighbour lists, as a CSR over item indexes, best first. */
typedef struct ItemNeighborsState
{
	bool		binary;			/* every interaction weighs 1 (EASE) */
	RsCsr		neighbors;
	float	   *mean_history;	/* per item, the average user's weight */
} ItemNeighborsState;

#define N(model) ((ItemNeighborsState *) (model)->kind_state)

/* A model's settings from its catalog row; the lists are the caller's to fill. */
static ItemNeighborsState *
item_neighbors_state(RsModel *model, const RsCatalogRow *row)
{
	ItemNeighborsState *s = RsModelAlloc(model, sizeof(ItemNeighborsState));

	s->binary = row->binary;
	model->binary_input = row->binary;
	model->kind_state = s;
	/* item models weight the history they score by age */
	if (row->half_life > 0 && row->time_col)
	{
		model->time_col = MemoryContextStrdup(model->mcxt, row->time_col);
		model->half_life = row->half_life;
	}
	return s;
}

static void
item_neighbors_load(RsModel *model, const RsCatalogRow *row)
{
	ItemNeighborsState *s = item_neighbors_state(model, row);

	RsLoadNeighborLists(model, false, NULL, &s->neighbors);
	s->mean_history = RsLoadMeanHistory(model, row->n_users, row->binary);
}

/* The kind's part of a model's flat copy (the shared cache's). */
typedef struct FlatNeighbors
{
	int32		n_rows;
	int32		n_cols;
	int64		nnz;
	Size		indptr;
	Size		indices;
	Size		data;
	Size		mean_history;
} FlatNeighbors;

/* Lay the neighbour lists and the mean history out flat. */
static void
item_neighbors_flatten(RsModel *model, RsFlat *flat)
{
	const RsCsr *nb = &N(model)->neighbors;
	FlatNeighbors h;
	Size		header = RsFlatPut(flat, NULL, sizeof(FlatNeighbors));

	memset(&h, 0, sizeof(h));
	h.n_rows = nb->n_rows;
	h.n_cols = nb->n_cols;
	h.nnz = nb->nnz;
	h.indptr = RsFlatPut(flat, nb->indptr, sizeof(int64) * ((Size) nb->n_rows + 1));
	h.indices = RsFlatPut(flat, nb->indices, sizeof(int32) * Max(nb->nnz, 1));
	h.data = RsFlatPut(flat, nb->data, sizeof(float) * Max(nb->nnz, 1));
	h.mean_history = RsFlatPut(flat, N(model)->mean_history,
							   sizeof(float) * Max(model->items.count, 1));
	if (flat->base != NULL)
		memcpy(flat->base + header, &h, sizeof(h));
}

/* Serve a neighbour model from a flat copy. */
static void
item_neighbors_attach(RsModel *model, const RsCatalogRow *row, const char *copy, Size kind)
{
	ItemNeighborsState *s = item_neighbors_state(model, row);
	const FlatNeighbors *h = RsFlatAt(copy, kind);

	if (h->n_rows != model->items.count)
		RsModelCorrupt(model, "the shared copy has another shape than recsys.models");
	s->neighbors.n_rows = h->n_rows;
	s->neighbors.n_cols = h->n_cols;
	s->neighbors.nnz = h->nnz;
	s->neighbors.indptr = RsFlatAt(copy, h->indptr);
	s->neighbors.indices = RsFlatAt(copy, h->indices);
	s->neighbors.data = RsFlatAt(copy, h->data);
	s->mean_history = RsFlatAt(copy, h->mean_history);
}

/*
 * How much one of the user's items counts: its weight (1 in binary
 * models), times its recency weight if any.
 */
static inline float
item_input(const RsModel *model, const RsUserItems *items, int n)
{
	float		w = N(model)->binary ? 1.0f : items->weight[n];

	return items->recency ? w * items->recency[n] : w;
}

static const char *
item_neighbors_history_input(RsModel *model)
{
	return "An item-kNN model";
}

/*
 * scores[j] = sum w_ui * sim(i, j) over the user's items
 * (rs_neighbor_scores); false when the user has none.  Unreached items
 * stay NaN so top-k skips them.
 */
static bool
item_neighbors_score_user(RsModel *model, int64 user_id, const RsUserItems *items,
						  float *scores)
{
	float	   *inputs;

	if (items == NULL || items->n == 0)
		return false;
	inputs = palloc(sizeof(float) * items->n);
	for (int n = 0; n < items->n; n++)
		inputs[n] = item_input(model, items, n);
	if (rs_neighbor_scores(&N(model)->neighbors, items->item, inputs, items->n, scores) != 0)
		elog(ERROR, "an item index is out of range");
	pfree(inputs);
	return true;
}

/*
 * The average user's scores (those of the mean history; unreached items
 * 0), handed out in popularity order.
 */
static void
item_neighbors_cold_start_scores(RsModel *model, float *scores)
{
	int32		n = model->items.count;
	int32	   *every = palloc(sizeof(int32) * Max(n, 1));

	for (int32 i = 0; i < n; i++)
		every[i] = i;
	if (rs_neighbor_scores(&N(model)->neighbors, every, N(model)->mean_history, n, scores) != 0)
		elog(ERROR, "an item index is out of range");
	RsInPopularityOrder(model, scores);
	pfree(every);
}

/* A session scores as a user whose items they are. */
static bool
item_neighbors_score_session(RsModel *model, const RsUserItems *session, float *scores)
{
	return item_neighbors_score_user(model, PG_INT64_MIN, session, scores);
}

/* The stored neighbours of item i, best first. */
static int
item_neighbors_similar_items(RsModel *model, int32 i, int k, int32 *out_idx, float *out_score)
{
	const RsCsr *nb = &N(model)->neighbors;
	int			found = 0;

	for (int64 p = nb->indptr[i]; p < nb->indptr[i + 1] && found < k; p++)
	{
		out_idx[found] = nb->indices[p];
		out_score[found] = nb->data[p];
		found++;
	}
	return found;
}

/*
 * How alike items are: the weight one keeps for the other among its
 * neighbours, relative to its strongest neighbour's (so item-kNN's cosines
 * and EASE's weights come to the same scale, 1 for an item's nearest),
 * the larger of the two directions, 0 for items neither lists.
 */
static void
item_neighbors_item_similarity(RsModel *model, const int32 *idx, int n, float *out)
{
	const RsCsr *nb = &N(model)->neighbors;
	int32	   *position = palloc(sizeof(int32) * Max(model->items.count, 1));

	memset(position, 0xff, sizeof(int32) * Max(model->items.count, 1));
	for (int a = 0; a < n; a++)
		position[idx[a]] = a;
	memset(out, 0, sizeof(float) * (Size) n * n);
	for (int a = 0; a < n; a++)
	{
		int64		p0 = nb->indptr[idx[a]];
		int64		p1 = nb->indptr[idx[a] + 1];
		float		strongest = p1 > p0 ? nb->data[p0] : 0;

		if ((a & 63) == 0)
			CHECK_FOR_INTERRUPTS();
		out[(Size) a * n + a] = 1;
		if (!(strongest > 0))
			continue;
		for (int64 p = p0; p < p1; p++)
		{
			int32		b = position[nb->indices[p]];
			float		s = nb->data[p] / strongest;

			/* best first: the rest are no more alike (EASE's negatives count 0) */
			if (!(s > 0))
				break;
			if (b < 0 || b == a || !(s > out[(Size) a * n + b]))
				continue;
			s = Min(s, 1.0f);
			out[(Size) a * n + b] = s;
			out[(Size) b * n + a] = s;
		}
	}
	pfree(position);
}

/* Item i's share in the score of j: w_ui * sim(i, j). */
static void
item_neighbors_contributions(RsModel *model, const RsUserItems *items, int32 j, int64 user_id,
							 RsContribution *out)
{
	const RsCsr *nb = &N(model)->neighbors;

	for (int n = 0; n < items->n; n++)
	{
		int32		i = items->item[n];

		out[n].item_id = model->items.ids[i];
		out[n].value = 0;
		for (int64 p = nb->indptr[i]; p < nb->indptr[i + 1]; p++)
			if (nb->indices[p] == j)
				out[n].value = item_input(model, items, n) * nb->data[p];
	}
}

const RsModelKind RsItemNeighborsKind = {
	.name = "item neighbours",
	.load = item_neighbors_load,
	.flatten = item_neighbors_flatten,
	.attach = item_neighbors_attach,
	.history_input = item_neighbors_history_input,
	.score_user = item_neighbors_score_user,
	.cold_start_scores = item_neighbors_cold_start_scores,
	.score_session = item_neighbors_score_session,
	.similar_items = item_neighbors_similar_items,
	.item_similarity = item_neighbors_item_similarity,
	.contributions = item_neighbors_contributions,
	.explain = RsExplainByUserItems,
	.refresh_cold_items = RsRefreshColdNeighbors,
};
