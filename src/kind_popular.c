/*-------------------------------------------------------------------------
 *
 * kind_popular.c
 *		The popularity kind (popular): one ranking for everybody, by the
 *		popularity score training stored per item (recsys.item_stats,
 *		loaded for every model as its cold-start fallback).
 *
 * The smallest kind, and the worked example of doc/internals.md: it has
 * nothing to load beyond what every model has, scores every user and
 * session alike (impersonal: its rows' reason is 'popular'; it needs no
 * cold-start scores), and leaves every other callback NULL (not
 * supported).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "model_kind.h"

static void
popular_load(RsModel *model, const RsCatalogRow *row)
{
	/* items and popularity are loaded for every kind */
}

static bool
popular_score_user(RsModel *model, int64 user_id, const RsUserItems *items, float *scores)
{
	memcpy(scores, model->popularity, sizeof(float) * model->items.count);
	return true;
}

static bool
popular_score_session(RsModel *model, const RsUserItems *session, float *scores)
{
	return popular_score_user(model, PG_INT64_MIN, session, scores);
}

static float
popular_score_item(RsModel *model, int64 user_id, int32 i)
{
	return model->popularity[i];
}

const RsModelKind RsPopularKind = {
	.name = "popular",
	.impersonal = true,
	.load = popular_load,
	.score_user = popular_score_user,
	.score_item = popular_score_item,
	.score_session = popular_score_session,
};
