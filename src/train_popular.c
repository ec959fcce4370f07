/*-------------------------------------------------------------------------
 *
 * train_popular.c
 *		recsys.train_popular(): the popularity baseline.
 *
 * Every item's popularity is the number of distinct users who interacted
 * with it, or, given a time column and a half-life, the sum of its
 * interactions' weights decayed by age: w * 0.5 ^ (age / half_life), the
 * age counted back from the newest interaction in the source (not from
 * now(), so the same data always gives the same model).
 *
 * It is the baseline every recommender must beat and the fallback for
 * users a model cannot score.  The counting is one aggregate query run
 * inside the database; there is nothing for C to speed up.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
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

static void
write_popularity(RsTrainer *trainer, int32 version, void *arg)
{
	PopularRun *run = arg;
	const RsSourceSpec *spec = &trainer->spec;
	StringInfoData query;

	const char *w;
	const char *u;
	const char *i;
	const char *t;
	const char *rel;
	Oid			argtypes[3] = {TEXTOID, INT4OID, FLOAT8OID};
	Datum		values[3];

	if (run->time_col == NULL)
	{
		RsWriteItemStatsFromData(trainer->name, version, trainer->data);
		return;
	}
	/* decayed sums, aggregated where the data is */
	w = spec->weight_col ? quote_identifier(spec->weight_col) : "1";
	u = quote_identifier(spec->user_col);
	i = quote_identifier(spec->item_col);
	t = RsTimeEpochSql(spec->relid, run->time_col, "time_col");
	rel = RsRelationName(spec->relid);
	values[0] = CStringGetTextDatum(trainer->name);
	values[1] = Int32GetDatum(version);
	values[2] = Float8GetDatum(run->half_life_seconds);
	/*
	 * Ages are capped at 120 half-lives: 0.5 ^ 1075 underflows float8
	 * (power() raises an error rather than return 0) and a sum below
	 * real's range cannot be stored; an interaction that old weighs 2^-120
	 * of a new one, which orders only items with nothing newer.
	 */
	initStringInfo(&query);
	appendStringInfo(&query,
					 "INSERT INTO recsys.item_stats (model, version, item_id, n_users, weight_sum, popularity) "
					 "SELECT $1, $2, s.%s, pg_catalog.count(DISTINCT s.%s), pg_catalog.sum(s.rs_w), "
					 "pg_catalog.sum(s.rs_w * pg_catalog.power(0.5::pg_catalog.float8, "
					 "LEAST((newest.t - s.rs_t) / $3, 120))) "
					 "FROM (SELECT %s, %s, %s AS rs_w, %s AS rs_t FROM %s) s, "
					 "(SELECT pg_catalog.max(%s) AS t FROM %s) newest "
					 "WHERE s.%s IS NOT NULL AND s.%s IS NOT NULL AND s.rs_w IS NOT NULL AND s.rs_t IS NOT NULL "
					 "GROUP BY s.%s",
					 i, u, u, i, w, t, rel, t, rel, u, i, i);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute(query.data, 3, argtypes, values, NULL, false, SPI_OK_INSERT);
	SPI_finish();
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
