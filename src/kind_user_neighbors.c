/*-------------------------------------------------------------------------
 *
 * kind_user_neighbors.c
 *		The user neighbourhood kind (user_knn): a user's score of item i is
 *		the sum over the user's neighbours v of sim(u, v) * w_vi, divided by
 *		the sum of the neighbours' |similarities|.
 *
 * The neighbour lists (recsys.user_neighbor_lists) are loaded once per
 * backend; the neighbours' items are read from the model's source as it
 * is now, in one query per user (or from the rows evaluate lends the
 * model for its loop).  A user without neighbours, and an anonymous
 * session (nobody to compare the visitor with), cannot be scored.  A user
 * without neighbours gets the average user's scores: every training user
 * taken as an equally similar neighbour, each item's summed weight over
 * the number of users (for weights 1, the share of users who chose it),
 * in popularity order like every kind's fallback.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "executor/spi.h"

#include "array_util.h"
#include "history.h"
#include "model_acl.h"
#include "model_kind.h"
#include "model_load.h"
#include "neighbor_scores.h"
#include "profile.h"

/* The users with neighbour lists, and the lists as a CSR over them. */
typedef struct UserNeighborsState
{
	RsIdMap		users;
	RsCsr		neighbors;
	float	   *mean_history;	/* per item, the average user's weight */
} UserNeighborsState;

#define U(model) ((UserNeighborsState *) (model)->kind_state)

static void
user_neighbors_load(RsModel *model, const RsCatalogRow *row)
{
	UserNeighborsState *s = RsModelAlloc(model, sizeof(UserNeighborsState));

	model->kind_state = s;
	RsLoadNeighborLists(model, true, &s->users, &s->neighbors);
	s->mean_history = RsLoadMeanHistory(model, row->n_users, false);
}

/* The average user's scores: every user an equal neighbour. */
static void
user_neighbors_cold_start_scores(RsModel *model, float *scores)
{
	memcpy(scores, U(model)->mean_history, sizeof(float) * model->items.count);
	RsInPopularityOrder(model, scores);
}

/*
 * Start user u's user-kNN scores: every item unscored (NaN), and return
 * the sum of |sim(u, v)| over u's neighbours, which divides every share.
 */
static double
user_knn_start(RsModel *model, int32 u, float *scores)
{
	const RsCsr *nb = &U(model)->neighbors;

	return rs_user_neighbor_begin(nb->data + nb->indptr[u], nb->indptr[u + 1] - nb->indptr[u],
								  scores, model->items.count);
}

/*
 * user_knn_scores from the source rows evaluate lent the model: the same
 * sums, without a query.
 */
static void
user_knn_scores_lent(RsModel *model, int32 u, float *scores)
{
	const RsCsr *nb = &U(model)->neighbors;
	const RsCsr *rows = model->lent_rows;
	double		total = user_knn_start(model, u, scores);

	for (int64 p = nb->indptr[u]; p < nb->indptr[u + 1]; p++)
	{
		int32		v = rs_idmap_lookup(model->lent_users, U(model)->users.ids[nb->indices[p]]);
		float		sim = nb->data[p];

		if (v < 0)
			continue;
		rs_user_neighbor_add(scores, rows->indices + rows->indptr[v], model->lent_item_index,
							 rows->data + rows->indptr[v], rows->indptr[v + 1] - rows->indptr[v],
							 sim, total);
	}
}

/*
 * User-kNN scores: sum over neighbours v of sim(u, v) * w_vi, divided by
 * the sum of the similarities.  The neighbours' items come from the
 * source as it is now.  Returns false if the user has no neighbours.
 */
static bool
user_knn_scores(RsModel *model, int32 u, float *scores)
{
	const RsCsr *nb = &U(model)->neighbors;
	int			n = (int) (nb->indptr[u + 1] - nb->indptr[u]);
	int64	   *ids;
	float	   *sims;
	double		total;
	Datum		arg;
	int			ret;

	if (n == 0)
		return false;
	if (model->lent_rows)
	{
		user_knn_scores_lent(model, u, scores);
		return true;
	}
	RsRequireSource(model, "A user-kNN model");
	ids = palloc(sizeof(int64) * n);
	sims = palloc(sizeof(float) * n);
	for (int j = 0; j < n; j++)
	{
		ids[j] = U(model)->users.ids[nb->indices[nb->indptr[u] + j]];
		sims[j] = nb->data[nb->indptr[u] + j];
	}
	total = user_knn_start(model, u, scores);

	arg = PointerGetDatum(RsInt64Array(ids, n));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = RsExecutePlanAsOwner(model->name, RsSourceReader(model), model->seen_many_plan, &arg);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "reading the neighbours' items failed: %s", SPI_result_code_string(ret));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		bool		n1,
					n2,
					n3;
		int64		v = DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &n1));
		int64		item = DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &n2));
		float		w = DatumGetFloat4(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 3, &n3));
		int32		i;
		float		sim = 0;

		if (n1 || n2 || n3 || !RsEventRowWeight(model, tuple, SPI_tuptable->tupdesc, 4, &w))
			continue;
		i = rs_idmap_lookup(&model->items, item);
		if (i < 0)
			continue;
		for (int j = 0; j < n; j++)
			if (ids[j] == v)
				sim = sims[j];
		rs_user_neighbor_add(scores, &i, NULL, &w, 1, sim, total);
	}
	SPI_finish();
	return true;
}

/* similar_users(): the user's stored neighbours, most similar first. */
static int
user_neighbors_similar_users(RsModel *model, int64 user_id, int k, int64 *out_ids,
							 float *out_score)
{
	const RsCsr *nb = &U(model)->neighbors;
	int32		u = U(model)->users.capacity == 0 ? -1 :
		rs_idmap_lookup(&U(model)->users, user_id);
	RsUserScores scores = {0};

	if (u < 0)
		return -1;
	for (int64 p = nb->indptr[u]; p < nb->indptr[u + 1]; p++)
		RsUserScoresAdd(&scores, U(model)->users.ids[nb->indices[p]], nb->data[p]);
	return RsUserScoresTop(&scores, k, out_ids, out_score);
}

/* The user's scores; false for a user without neighbours. */
static bool
user_neighbors_score_user(RsModel *model, int64 user_id, const RsUserItems *items,
						  float *scores)
{
	int32		u = U(model)->users.capacity == 0 ? -1 :
		rs_idmap_lookup(&U(model)->users, user_id);

	return u >= 0 && user_knn_scores(model, u, scores);
}

const RsModelKind RsUserNeighborsKind = {
	.name = "user neighbours",
	.load = user_neighbors_load,
	.score_user = user_neighbors_score_user,
	.cold_start_scores = user_neighbors_cold_start_scores,
	.similar_users = user_neighbors_similar_users,
};
