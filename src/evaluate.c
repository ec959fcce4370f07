/*-------------------------------------------------------------------------
 *
 * evaluate.c
 *		recsys.evaluate(): ranking and rating metrics of a model on a test
 *		set, computed in one pass in C.
 *
 * Protocol (the shared splits' README, which the peers' figures follow):
 *	- relevance is binary: a user's relevant items T_u are their test items;
 *	- evaluated users are the test users who have rows in the model's
 *	  training source; the others are counted as skipped;
 *	- each evaluated user's list R_u holds the k items recommend() would
 *	  return, the items the user has in the training source excluded, so
 *	  only the catalog (items with training rows) can be recommended;
 *	- with rel_i = 1 when the item at rank i is relevant and hits = sum rel_i:
 *		precision@k = hits / k
 *		recall@k    = hits / |T_u|   (all test items, known to the model or not)
 *		ndcg@k      = sum rel_i / log2(i + 1) / sum_{i <= min(k, |T_u|)} 1 / log2(i + 1)
 *		map@k       = sum rel_i precision@i / min(k, |T_u|)
 *		hit_rate@k  = 1 if hits > 0
 *		mrr@k       = 1 / (rank of the first hit), 0 without one
 *	  each averaged over evaluated users (every user weighs the same);
 *		coverage@k  = |union of R_u| / |catalog|;
 *		ild@k       = intra-list diversity: the mean over the pairs of R_u
 *					  of 1 - cos(a, b), the cosine of the two items' binary
 *					  columns in the training source (the share of buyers in
 *					  common, whatever model is evaluated), or of their
 *					  feature sets when features are given (a relation as
 *					  train_ease's), averaged over users with two items or
 *					  more; for k <= 100 only (it costs k / 2 column scans
 *					  per list);
 *	- the lists are recommend()'s with the diversity and similarity_model
 *	  given (src/diversity.c), so ild@k and ndcg@k measure its trade;
 *	- for explicit models and a rating column: rmse and mae of the clipped
 *	  predictions over every test row (mu + b_i for an unknown user,
 *	  mu + b_u for an unknown item).
 * The training source is read once as it is now, so evaluate on a model
 * trained from the split's train table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "funcapi.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/float.h"
#include "utils/tuplestore.h"

#include "args.h"
#include "diversity.h"
#include "ingest.h"
#include "item_features.h"
#include "mmr.h"
#include "model_acl.h"
#include "history.h"
#include "model_cache.h"
#include "recency.h"
#include "recommend.h"
#include "score.h"
#include "spi_util.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_evaluate);
PG_FUNCTION_INFO_V1(recsys_evaluate_users);

#define EVALUATE_MAX_K 1000
#define EVALUATE_MAX_ILD_K 100	/* ild@k is reported up to this k */

/* Sums of the per-user metrics. */
typedef struct MetricSums
{
	double		precision;
	double		recall;
	double		ndcg;
	double		map;
	double		hit_rate;
	double		mrr;
	double		ild;
	int64		ild_users;		/* with two items or more */
	int64		users;
	int64		skipped;
} MetricSums;

static void
put_metric(ReturnSetInfo *rsinfo, const char *name, double value)
{
	Datum		values[2] = {CStringGetTextDatum(name), Float8GetDatum(value)};
	bool		nulls[2] = {false, isnan(value)};

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static void
put_metric_at(ReturnSetInfo *rsinfo, const char *name, int k, double value)
{
	put_metric(rsinfo, psprintf("%s@%d", name, k), value);
}

/* Dense model item index for every item of a matrix's column map, or -1. */
static int32 *
model_item_indexes(RsModel *model, const RsIdMap *items)
{
	int32	   *map = palloc(sizeof(int32) * Max(items->count, 1));

	for (int32 i = 0; i < items->count; i++)
		map[i] = RsModelItemIndex(model, items->ids[i]);
	return map;
}

/* Score one user's list against their test items. */
static void
add_user(MetricSums *sums, const int32 *list, int found, int k,
		 const uint8 *relevant, int n_relevant)
{
	int			hits = 0;
	double		dcg = 0;
	double		idcg = 0;
	double		ap = 0;
	int			first_hit = 0;

	for (int r = 0; r < found; r++)
	{
		if (!rs_bitmap_test(relevant, list[r]))
			continue;
		hits++;
		dcg += 1.0 / log2(r + 2.0);
		ap += (double) hits / (r + 1);
		if (first_hit == 0)
			first_hit = r + 1;
	}
	for (int r = 0; r < Min(k, n_relevant); r++)
		idcg += 1.0 / log2(r + 2.0);

	sums->precision += (double) hits / k;
	sums->recall += (double) hits / n_relevant;
	sums->ndcg += idcg > 0 ? dcg / idcg : 0;
	sums->map += ap / Min(k, n_relevant);
	sums->hit_rate += hits > 0;
	sums->mrr += first_hit > 0 ? 1.0 / first_hit : 0;
	sums->users++;
}

/*
 * Add a list's intra-list distance (rs_intra_list_distance) over the rows
 * of an items x (users or features) matrix; row_of maps model item indexes
 * to the matrix's rows (-1: not in it).
 */
static void
add_intra_list(MetricSums *sums, const RsCsr *by_item, const int32 *row_of,
			   const int32 *list, int found, int32 *cols, uint8 *mark)
{
	double		d;

	for (int r = 0; r < found; r++)
		cols[r] = row_of[list[r]];
	d = rs_intra_list_distance(by_item, cols, found, mark);
	if (d < 0)
		return;
	sums->ild += d;
	sums->ild_users++;
}

/* Where the times of the training pairs go while they are streamed in. */
typedef struct TrainTimes
{
	const RsInteractions *train;
	double	   *seconds;		/* per stored (user, item) of train.by_user */
	bool		nan_seen;		/* a pair's time is NaN (refused after the read) */
} TrainTimes;

static void
store_train_time(TupleTableSlot *slot, void *arg)
{
	TrainTimes *times = (TrainTimes *) arg;
	const RsCsr *R = &times->train->by_user;
	int32		u,
				i;
	int64		lo,
				hi;

	if (slot->tts_isnull[0] || slot->tts_isnull[1] || slot->tts_isnull[2])
		return;
	/* NaN is max()'s answer whatever else the pair has; not a NULL time */
	if (isnan(DatumGetFloat8(slot->tts_values[2])))
		times->nan_seen = true;
	u = rs_idmap_lookup(&times->train->users, DatumGetInt64(slot->tts_values[0]));
	i = rs_idmap_lookup(&times->train->items, DatumGetInt64(slot->tts_values[1]));
	if (u < 0 || i < 0)
		return;
	/* rows of the CSR are sorted by item */
	lo = R->indptr[u];
	hi = R->indptr[u + 1];
	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (R->indices[mid] < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < R->indptr[u + 1] && R->indices[lo] == i)
		times->seconds[lo] = DatumGetFloat8(slot->tts_values[2]);
}

/* The grouped query of read_train_times, run as the model's owner. */
typedef struct TrainTimesRead
{
	const char *query;
	TrainTimes *times;
} TrainTimesRead;

static void
stream_train_times(void *arg)
{
	TrainTimesRead *read = arg;

	RsStreamQuery(read->query, 0, NULL, NULL, NULL, true, store_train_time, read->times);
}

/*
 * For a model with a half-life: the latest time of every training pair,
 * read in one grouped query over the source (as the model's owner).
 */
static double *
read_train_times(RsModel *model, const RsInteractions *train)
{
	TrainTimes	times;
	TrainTimesRead read = {NULL, &times};

	times.train = train;
	times.nan_seen = false;
	times.seconds = palloc(sizeof(double) * Max(train->by_user.nnz, 1));
	for (int64 p = 0; p < train->by_user.nnz; p++)
		times.seconds[p] = get_float8_nan();
	read.query = psprintf("SELECT %s::pg_catalog.int8, %s::pg_catalog.int8, pg_catalog.max(%s) FROM %s GROUP BY 1, 2",
						  quote_identifier(model->user_col), quote_identifier(model->item_col),
						  RsTimeEpochSql(model->source, model->time_col, "time_col"),
						  RsRelationName(model->source));
	RsCheckModelSource(model);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsRunAsOwner(model->name, RsSourceReader(model), stream_train_times, &read);
	SPI_finish();
	if (times.nan_seen)
		RsRefuseNonFiniteTime(get_float8_nan(), model->time_col);
	return times.seconds;
}

/* The model's training rows, read from its source as its owner. */
typedef struct TrainRead
{
	RsSourceSpec *spec;
	RsInteractions *rows;
} TrainRead;

static void
read_train_rows(void *arg)
{
	TrainRead  *read = arg;

	RsReadSource(read->spec, true, read->rows);
}

/*
 * Set items to user tr's training interactions with the model's items
 * (none for tr < 0), with their times when the model has a half-life:
 * what item-kNN scores, what is excluded, and what a model without stored
 * users folds in.
 */
static void
user_train_items(const RsInteractions *train, const int32 *train_items, int32 tr,
				 const double *train_seconds, double *item_seconds, RsUserItems *items)
{
	items->n = 0;
	if (tr < 0)
		return;
	for (int64 p = train->by_user.indptr[tr]; p < train->by_user.indptr[tr + 1]; p++)
	{
		int32		i = train_items[train->by_user.indices[p]];

		if (i < 0)
			continue;
		items->item[items->n] = i;
		items->weight[items->n] = train->by_user.data[p];
		if (item_seconds)
			item_seconds[items->n] = train_seconds[p];
		items->n++;
	}
}

/* One user's ranking metrics (add_user's on zero sums): a row of recsys._evaluate_users. */
static void
put_user(ReturnSetInfo *rsinfo, int64 user_id, const MetricSums *one)
{
	Datum		values[7] = {
		Int64GetDatum(user_id),
		Float8GetDatum(one->precision),
		Float8GetDatum(one->recall),
		Float8GetDatum(one->ndcg),
		Float8GetDatum(one->map),
		Float8GetDatum(one->hit_rate),
		Float8GetDatum(one->mrr)};
	bool		nulls[7] = {false, false, false, false, false, false, false};

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static Datum evaluate_model(FunctionCallInfo fcinfo, bool per_user);

/*
 * recsys_evaluate(model text, test regclass, k int, user_col name,
 *				   item_col name, weight_col name, diversity real,
 *				   similarity_model text, features regclass)
 * returns (metric, value).
 */
Datum
recsys_evaluate(PG_FUNCTION_ARGS)
{
	return evaluate_model(fcinfo, false);
}

/*
 * recsys._evaluate_users(the arguments of evaluate): the ranking metrics
 * of each evaluated user, (user_id, precision, recall, ndcg, map,
 * hit_rate, mrr), for paired comparisons of two models on the same users
 * (train_auto's blend members); evaluate's means are their means.
 */
Datum
recsys_evaluate_users(PG_FUNCTION_ARGS)
{
	return evaluate_model(fcinfo, true);
}

static Datum
evaluate_model(FunctionCallInfo fcinfo, bool per_user)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	double		start = RsSeconds();
	RsModel    *model;
	RsSourceSpec test_spec = {0};
	RsSourceSpec rated_spec = {0};
	RsSourceSpec train_spec = {0};
	RsInteractions test;
	RsInteractions rated;
	RsInteractions train;
	int			k;
	int32		n_items;
	int32	   *test_items;
	int32	   *train_items;
	uint8	   *exclude;
	uint8	   *relevant;
	uint8	   *covered;
	float	   *scratch;
	int32	   *list;
	float	   *list_score;
	RsUserItems items;
	double	   *train_seconds = NULL;
	double	   *item_seconds = NULL;
	MetricSums	sums = {0};
	int64		covered_count = 0;
	bool		rating_metrics;
	double		sq_error = 0;
	double		abs_error = 0;
	MemoryContext eval_context;
	MemoryContext old;
	RsDiversity diversity;
	int32	   *model_to_train = NULL;
	int32	   *ild_cols = NULL;
	uint8	   *ild_mark = NULL;
	RsCsr		ild_rows;		/* items x users of train, or x features */
	Oid			features_relid = InvalidOid;

	RsRequireArg(fcinfo, 0, "model");
	RsRequireArg(fcinfo, 1, "test");
	k = RsIntArg(fcinfo, 2, "k", 1, EVALUATE_MAX_K);
	RsRequireArg(fcinfo, 3, "user_col");
	RsRequireArg(fcinfo, 4, "item_col");
	model = RsGetModel(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	test_spec.relid = PG_GETARG_OID(1);
	test_spec.user_col = NameStr(*PG_GETARG_NAME(3));
	test_spec.item_col = NameStr(*PG_GETARG_NAME(4));
	/*
	 * Relevance comes from every test row; the ratings (weight_col) are read
	 * apart, for rmse and mae only: a row whose rating is NULL is still a
	 * relevant item (review s10, 5).
	 */
	rated_spec = test_spec;
	rated_spec.weight_col = PG_ARGISNULL(5) || per_user ? NULL : NameStr(*PG_GETARG_NAME(5));
	rating_metrics = rated_spec.weight_col != NULL;
	if (rating_metrics && (model->kind->rates == NULL || !model->kind->rates(model)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weight_col needs a model of explicit ratings, and \"%s\" is %s",
						model->name, model->algorithm),
				 model->kind->rates_when != NULL ? errdetail("%s", model->kind->rates_when) : 0,
				 errhint("Leave weight_col NULL for ranking metrics only.")));
	RsDiversityArgs(fcinfo, 6, model, k, &diversity);
	if (PG_NARGS() > 8 && !PG_ARGISNULL(8))
		features_relid = PG_GETARG_OID(8);
	RsRequireSource(model, "Evaluating");
	InitMaterializedSRF(fcinfo, 0);

	eval_context = AllocSetContextCreate(CurrentMemoryContext, "recsys evaluate",
										 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(eval_context);

	RsReadSource(&test_spec, true, &test);
	if (rating_metrics)
	{
		RsReadSource(&rated_spec, true, &rated);
		if (rated.by_user.nnz < rated.rows_read - rated.rows_skipped)
			ereport(ERROR,
					(errcode(ERRCODE_CARDINALITY_VIOLATION),
					 errmsg("test set \"%s\" rates some (user, item) pairs more than once",
							get_rel_name(test_spec.relid))));
	}
	train_spec.relid = model->source;
	train_spec.user_col = model->user_col;
	train_spec.item_col = model->item_col;
	train_spec.weight_col = model->weight_col;
	train_spec.event_col = model->event_col;
	train_spec.events = model->events;
	train_spec.skip_unknown_events = true;	/* as serving reads them */
	{
		TrainRead	read = {&train_spec, &train};

		RsCheckModelSource(model);
		RsRunAsOwner(model->name, RsSourceReader(model), read_train_rows, &read);
	}

	n_items = model->items.count;
	test_items = model_item_indexes(model, &test.items);
	train_items = model_item_indexes(model, &train.items);
	exclude = palloc0(RS_BITMAP_BYTES(n_items) + 1);
	relevant = palloc0(RS_BITMAP_BYTES(n_items) + 1);
	covered = palloc0(RS_BITMAP_BYTES(n_items) + 1);
	scratch = palloc(sizeof(float) * Max(n_items, RS_SCORE_BLOCK));
	list = palloc(sizeof(int32) * k);
	list_score = palloc(sizeof(float) * k);
	items.item = palloc(sizeof(int32) * Max(train.items.count, 1));
	items.weight = palloc(sizeof(float) * Max(train.items.count, 1));
	items.recency = NULL;
	/* the training items are left out, as recommend's exclude_seen does */
	items.exclude_seen = true;
	if (k <= EVALUATE_MAX_ILD_K)
	{
		model_to_train = palloc(sizeof(int32) * Max(n_items, 1));
		ild_cols = palloc(sizeof(int32) * k);
		if (OidIsValid(features_relid))
		{
			/* the items' feature sets: features x items, transposed */
			RsCsr		features;
			RsItemFeatureCounts counts;

			RsReadItemFeatures(features_relid, model->item_col, &model->items, 0, &features,
							   &counts);
			ild_rows.indptr = palloc(sizeof(int64) * (n_items + 1));
			ild_rows.indices = MemoryContextAllocHuge(CurrentMemoryContext,
													  sizeof(int32) * Max(features.nnz, 1));
			ild_rows.data = MemoryContextAllocHuge(CurrentMemoryContext,
												   sizeof(float) * Max(features.nnz, 1));
			rs_csr_transpose(&features, &ild_rows);
			for (int32 i = 0; i < n_items; i++)
				model_to_train[i] = i;
			ild_mark = palloc0(Max(features.n_rows, 1));
		}
		else
		{
			ild_rows = train.by_item;
			memset(model_to_train, 0xff, sizeof(int32) * Max(n_items, 1));
			for (int32 t = 0; t < train.items.count; t++)
				if (train_items[t] >= 0)
					model_to_train[train_items[t]] = t;
			ild_mark = palloc0(Max(train.users.count, 1));
		}
	}
	if (model->half_life > 0)
	{
		train_seconds = read_train_times(model, &train);
		item_seconds = palloc(sizeof(double) * Max(train.items.count, 1));
		items.recency = palloc(sizeof(float) * Max(train.items.count, 1));
	}

	/* kinds that read other users' items (user-kNN) read what was just read */
	model->lent_users = &train.users;
	model->lent_rows = &train.by_user;
	model->lent_item_index = train_items;
	PG_TRY();
	{
		for (int32 r = 0; r < test.by_user.n_rows; r++)
		{
			int64		user_id = test.users.ids[r];
			int32		tr = rs_idmap_lookup(&train.users, user_id);
			int64		t0 = test.by_user.indptr[r];
			int64		t1 = test.by_user.indptr[r + 1];
			int			found;

			CHECK_FOR_INTERRUPTS();
			if (tr < 0)
			{
				sums.skipped++;
				continue;
			}

			/* the user's training items: excluded, and the model's input */
			user_train_items(&train, train_items, tr, train_seconds, item_seconds, &items);
			for (int n = 0; n < items.n; n++)
				rs_bitmap_set(exclude, items.item[n]);
			for (int64 p = t0; p < t1; p++)
				if (test_items[test.by_user.indices[p]] >= 0)
					rs_bitmap_set(relevant, test_items[test.by_user.indices[p]]);

			if (item_seconds)
				RsRecencyWeights(item_seconds, items.n, model->half_life, model->time_col, items.recency);
			found = RsRankDiverse(model, &diversity, user_id, &items, exclude, k, scratch, list,
								  list_score, NULL);
			add_user(&sums, list, found, k, relevant, (int) (t1 - t0));
			if (per_user)
			{
				MetricSums	one = {0};

				add_user(&one, list, found, k, relevant, (int) (t1 - t0));
				put_user(rsinfo, user_id, &one);
			}
			if (model_to_train)
				add_intra_list(&sums, &ild_rows, model_to_train, list, found, ild_cols, ild_mark);
			for (int r2 = 0; r2 < found; r2++)
			{
				if (!rs_bitmap_test(covered, list[r2]))
					covered_count++;
				rs_bitmap_set(covered, list[r2]);
				exclude[list[r2] >> 3] = 0;
			}

			/* clear what this user set */
			for (int n = 0; n < items.n; n++)
				exclude[items.item[n] >> 3] = 0;
			for (int64 p = t0; p < t1; p++)
				if (test_items[test.by_user.indices[p]] >= 0)
					relevant[test_items[test.by_user.indices[p]] >> 3] = 0;
		}
	}
	PG_FINALLY();
	{
		/* the model stays cached; what it borrowed goes with this call */
		model->lent_users = NULL;
		model->lent_rows = NULL;
		model->lent_item_index = NULL;
	}
	PG_END_TRY();

	if (rating_metrics)
	{
		int32	   *rated_items = model_item_indexes(model, &rated.items);

		for (int32 r = 0; r < rated.by_user.n_rows; r++)
		{
			CHECK_FOR_INTERRUPTS();
			user_train_items(&train, train_items, rs_idmap_lookup(&train.users, rated.users.ids[r]),
							 NULL, NULL, &items);
			for (int64 p = rated.by_user.indptr[r]; p < rated.by_user.indptr[r + 1]; p++)
			{
				double		err = model->kind->predict_rating(model, rated.users.ids[r], &items,
															  rated_items[rated.by_user.indices[p]]) -
					rated.by_user.data[p];

				sq_error += err * err;
				abs_error += fabs(err);
			}
		}
	}

	MemoryContextSwitchTo(old);
	if (!per_user)
	{
		/*
		 * A mean over no user (no test user the model's source has) is NULL
		 * (put_metric's NaN), not 0: 0 read as a model that ranks nothing
		 * right, and tune kept the last candidate of a grid of such zeros
		 * (review s12, V8).  Likewise coverage and ILD, and RMSE and MAE
		 * over no rated row.
		 */
		double		n = sums.users > 0 ? sums.users : NAN;

		put_metric_at(rsinfo, "precision", k, sums.precision / n);
		put_metric_at(rsinfo, "recall", k, sums.recall / n);
		put_metric_at(rsinfo, "ndcg", k, sums.ndcg / n);
		put_metric_at(rsinfo, "map", k, sums.map / n);
		put_metric_at(rsinfo, "hit_rate", k, sums.hit_rate / n);
		put_metric_at(rsinfo, "mrr", k, sums.mrr / n);
		put_metric_at(rsinfo, "coverage", k,
					  sums.users == 0 ? NAN : n_items > 0 ? (double) covered_count / n_items : 0);
		if (model_to_train)
			put_metric_at(rsinfo, "ild", k,
						  sums.users == 0 ? NAN : sums.ild_users > 0 ? sums.ild / sums.ild_users : 0);
		if (rating_metrics)
		{
			double		rows = rated.by_user.nnz > 0 ? rated.by_user.nnz : NAN;

			put_metric(rsinfo, "rmse", sqrt(sq_error / rows));
			put_metric(rsinfo, "mae", abs_error / rows);
		}
		put_metric(rsinfo, "users", sums.users);
		put_metric(rsinfo, "skipped_users", sums.skipped);
		put_metric(rsinfo, "seconds", RsSeconds() - start);
	}
	MemoryContextDelete(eval_context);
	return (Datum) 0;
}
