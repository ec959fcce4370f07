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

/*
 * recsys_train_popular(source regclass, model text, user_col name,
 *						item_col name, weight_col name, time_col name,
 *						half_life interval) trains a popularity model.
 */
Datum
recsys_train_popular(PG_FUNCTION_ARGS)
{
	double		start = RsSeconds();
	RsSourceSpec spec;
	RsInteractions data;
	char	   *name;
	const char *time_col = NULL;
	double		half_life_seconds = 0;
	RsModelDesc desc;
	StringInfoData params;
	StringInfoData stats;
	StringInfoData query;
	int32		version;

	RsRequireArg(fcinfo, 0, "source");
	name = RsTextArg(fcinfo, 1, "model");
	RsRequireArg(fcinfo, 2, "user_col");
	RsRequireArg(fcinfo, 3, "item_col");
	spec.relid = PG_GETARG_OID(0);
	spec.user_col = NameStr(*PG_GETARG_NAME(2));
	spec.item_col = NameStr(*PG_GETARG_NAME(3));
	spec.weight_col = PG_ARGISNULL(4) ? NULL : NameStr(*PG_GETARG_NAME(4));
	RsTimeDecayArgs(fcinfo, 5, spec.relid, &time_col, &half_life_seconds);

	RsLockModelForTraining(name);

	/* read as training does: checks, privileges, counts, NaN weights */
	RsReadSource(&spec, false, &data);
	RsRequireInteractions(&spec, &data);

	RsJsonBegin(&params);
	RsDescribeSource(&spec, &params);
	RsJsonText(&params, "time_col", time_col);
	if (time_col)
		RsJsonFloat(&params, "half_life_seconds", half_life_seconds);
	RsJsonEnd(&params);
	RsJsonBegin(&stats);
	RsJsonInt(&stats, "rows_read", data.rows_read);
	RsJsonInt(&stats, "rows_skipped", data.rows_skipped);
	RsJsonEnd(&stats);

	desc.name = name;
	desc.algorithm = "popular";
	desc.source = spec.relid;
	desc.params = &params;
	desc.stats = &stats;
	desc.n_users = data.users.count;
	desc.n_items = data.items.count;
	desc.n_interactions = data.by_user.nnz;
	version = RsCreateModelVersion(&desc);

	if (time_col == NULL)
		RsWriteItemStatsFromData(name, version, &data);
	else
	{
		/* decayed sums, aggregated where the data is */
		const char *w = spec.weight_col ? quote_identifier(spec.weight_col) : "1";
		const char *u = quote_identifier(spec.user_col);
		const char *i = quote_identifier(spec.item_col);
		const char *t = RsTimeEpochSql(spec.relid, time_col, "time_col");
		const char *rel = RsRelationName(spec.relid);
		Oid			argtypes[3] = {TEXTOID, INT4OID, FLOAT8OID};
		Datum		values[3] = {CStringGetTextDatum(name), Int32GetDatum(version),
		Float8GetDatum(half_life_seconds)};

		initStringInfo(&query);
		appendStringInfo(&query,
						 "INSERT INTO recsys.item_stats (model, version, item_id, n_users, weight_sum, popularity) "
						 "SELECT $1, $2, s.%s, pg_catalog.count(DISTINCT s.%s), pg_catalog.sum(s.rs_w), "
						 "pg_catalog.sum(s.rs_w * pg_catalog.power(0.5::pg_catalog.float8, (newest.t - s.rs_t) / $3)) "
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
	RsActivateModelVersion(&desc, version, RsSeconds() - start);
	PG_RETURN_DATUM(RsModelRowDatum(fcinfo, name));
}
