/*-------------------------------------------------------------------------
 *
 * train_popular.c
 *		recsys.train_popular(): the popularity baseline.
 *
 * Every item's popularity is the number of distinct users who interacted
 * with it, or, given a time column and a half-life, the sum of its
 * interactions' weights decayed by age: w * 0.5 ^ (age / half_life), the
 * age counted back from the newest interaction in the source (not from
 * now(), so the same data always gives the same model).  A row with a
 * NULL time counts with no weight (its item stays, at popularity 0 if it
 * has no timed row), as RsRecencyWeights weighs it for the other trainers.
 *
 * It is the baseline every recommender must beat and the fallback for
 * users a model cannot score.  The counting is one aggregate query run
 * inside the database; there is nothing for C to speed up.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "args.h"
#include "ingest.h"
#include "model_store.h"
#include "recency.h"
#include "spi_util.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_train_popular);

/* Decayed popularity as the version's item statistics (RsTrainWriter). */
typedef struct PopularRun
{
	const char *time_col;		/* or NULL: distinct users */
	double		half_life_seconds;
} PopularRun;

/* Each item's statistics as the decayed-sum query gives them (keep_item). */
typedef struct ItemSums
{
	const RsInteractions *data;
	int32	   *n_users;
	float	   *weight_sum;
	float	   *popularity;
	int64		rows;			/* rows read (user, item and weight not NULL) */
	int64		untimed;		/* of which time_col is NULL */
} ItemSums;

/* A float8 sum stored as real, refused past real's range (22003). */
static float
to_real(double x, const char *what, int64 item)
{
	if (!(fabs(x) <= FLT_MAX))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the %s of item " INT64_FORMAT " from weight_col is out of range for type real: %g", what, item, x),
				 errhint("Scale the weights down in a view: divide them by a constant, or take ln(1 + weight).")));
	return (float) x;
}

static void
keep_item(TupleTableSlot *slot, void *arg)
{
	ItemSums   *sums = arg;
	int64		id;
	int32		i;

	CHECK_FOR_INTERRUPTS();
	id = DatumGetInt64(slot->tts_values[0]);
	sums->rows += DatumGetInt64(slot->tts_values[4]);
	sums->untimed += DatumGetInt64(slot->tts_values[5]);
	i = rs_idmap_lookup(&sums->data->items, id);
	if (i < 0)
		return;
	sums->n_users[i] = (int32) DatumGetInt64(slot->tts_values[1]);
	sums->weight_sum[i] = to_real(DatumGetFloat8(slot->tts_values[2]), "weight sum", id);
	sums->popularity[i] = to_real(DatumGetFloat8(slot->tts_values[3]), "popularity", id);
}

/*
 * write_popularity writes the version's item statistics: from the data
 * training read without time_col; with it, the sums are aggregated where
 * the data is, read with training's snapshot, and stored for the items
 * training read (the n_items the model records), in its item order.
 *
 * A row whose time is NULL has no age: it counts (n_users, weight_sum)
 * with no weight in the popularity, as the other trainers' recency
 * weights count it (RsRecencyWeights), so an item with no timed row is at
 * popularity 0; a NOTICE says how many rows have no time.  A source with
 * no time at all is refused (22023), as train_bpr and train_fm refuse it.
 * (Before 0.11.0 the sums left such rows out, and the model, short of the
 * items it counted, could not serve.)
 */
static void
write_popularity(RsTrainer *trainer, int32 version, void *arg)
{
	PopularRun *run = arg;
	const RsSourceSpec *spec = &trainer->spec;
	int32		n = trainer->data->items.count;
	ItemSums	sums = {trainer->data, NULL, NULL, NULL, 0, 0};
	char	   *query;
	const char *w;
	const char *u;
	const char *i;
	const char *t;
	const char *rel;
	Datum		half_life;

	if (run->time_col == NULL)
	{
		RsWriteItemStatsFromData(trainer->name, version, trainer->data);
		return;
	}
	w = spec->weight_col ? quote_identifier(spec->weight_col) : "1";
	u = quote_identifier(spec->user_col);
	i = quote_identifier(spec->item_col);
	t = RsTimeEpochSql(spec->relid, run->time_col, "time_col");
	rel = RsRelationName(spec->relid);
	half_life = Float8GetDatum(run->half_life_seconds);
	sums.n_users = palloc0(sizeof(int32) * Max(n, 1));
	sums.weight_sum = palloc0(sizeof(float) * Max(n, 1));
	sums.popularity = palloc0(sizeof(float) * Max(n, 1));

	/*
	 * Ages are capped at 120 half-lives: 0.5 ^ 1075 underflows float8
	 * (power() raises an error rather than return 0) and a sum below
	 * real's range cannot be stored; an interaction that old weighs 2^-120
	 * of a new one, which orders only items with nothing newer.  The
	 * weights are summed as float8 (a real column's sum() is real, and a
	 * sum past its range was a bare "value out of range: overflow",
	 * review s12, V4): to_real then names the item.
	 */
	query = psprintf("SELECT s.%s::pg_catalog.int8, pg_catalog.count(DISTINCT s.%s), "
					 "pg_catalog.sum(s.rs_w)::pg_catalog.float8, "
					 "pg_catalog.sum(CASE WHEN s.rs_t IS NULL THEN 0 ELSE s.rs_w * "
					 "pg_catalog.power(0.5::pg_catalog.float8, LEAST((newest.t - s.rs_t) / $1, 120)) END), "
					 "pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE s.rs_t IS NULL) "
					 "FROM (SELECT %s, %s, (%s)::pg_catalog.float8 AS rs_w, %s AS rs_t FROM %s) s, "
					 "(SELECT pg_catalog.max(%s) AS t FROM %s) newest "
					 "WHERE s.%s IS NOT NULL AND s.%s IS NOT NULL AND s.rs_w IS NOT NULL "
					 "GROUP BY s.%s",
					 i, u, u, i, w, t, rel, t, rel, u, i, i);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsStreamQuery(query, 1, (Oid[]) {FLOAT8OID}, &half_life, NULL, true, keep_item, &sums);
	SPI_finish();
	if (sums.rows > 0 && sums.untimed == sums.rows)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time_col \"%s\" is NULL in every row of the source", run->time_col),
				 errhint("Train without time_col and half_life, or fill the column.")));
	if (sums.untimed > 0)
		ereport(NOTICE,
				(errmsg("time_col \"%s\" is NULL in " INT64_FORMAT " of " INT64_FORMAT " rows: "
						"they count with no weight in the popularity",
						run->time_col, sums.untimed, sums.rows)));
	RsWriteItemStats(trainer->name, version, trainer->data->items.ids, n, sums.n_users,
					 sums.weight_sum, sums.popularity);
	pfree(sums.n_users);
	pfree(sums.weight_sum);
	pfree(sums.popularity);
}

/*
 * recsys_train_popular(source regclass, model text, user_col name,
 *						item_col name, weight_col name, time_col name,
 *						half_life interval, replace bool) trains a
 *						popularity model.
 */
Datum
recsys_train_popular(PG_FUNCTION_ARGS)
{
	static const RsTrainArgNos argnos = {.model = 1,.cols = 2,.weight_col = 4,.replace = 7};
	RsTrainer	trainer;
	RsInteractions data;
	PopularRun	run = {NULL, 0};

	RsTrainArgs(fcinfo, &argnos, &trainer);
	RsTimeDecayArgs(fcinfo, 5, trainer.spec.relid, &run.time_col, &run.half_life_seconds);

	/* read as training does: checks, privileges, counts, NaN weights */
	RsTrainBegin(&trainer, "popular", &data);
	RsJsonText(&trainer.params, "time_col", run.time_col);
	if (run.time_col)
		RsJsonFloat(&trainer.params, "half_life_seconds", run.half_life_seconds);
	PG_RETURN_DATUM(RsTrainFinish(fcinfo, &trainer, write_popularity, &run));
}
