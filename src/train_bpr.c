/*-------------------------------------------------------------------------
 *
 * train_bpr.c
 *		recsys.train_bpr(): Bayesian personalised ranking (Rendle et al.
 *		2009), optionally with adversarial training (APR, He et al. 2018).
 *
 * A user's items (pairs of positive summed weight) should rank above the
 * items the user has not interacted with: stochastic gradient descent on
 * sampled (user, positive, negative) triples, as many per epoch as there
 * are pairs, with an item bias.  Negatives are drawn uniformly, in
 * proportion to the items' interaction counts ('popularity'), or as the
 * highest scored of a few uniform draws ('adaptive', see bpr.c).  With
 * adversarial_epsilon > 0 the second half of the epochs (the first half
 * being the warm start the paper asks for) also descends the loss at the
 * worst-case perturbation of the embeddings.
 *
 * The model is stored as a factor model (user_factors, item_factors with
 * the item bias) and served by the factors kind.  The numerics are
 * src/kernel/bpr.c, whose results do not depend on recsys.threads; here
 * are the arguments, the memory budget, a check for interrupts between
 * strata (and the kernel's stop callback within one), and the optional
 * NOTICE per epoch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>
#include <sys/resource.h>

#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/memutils.h"

#include "args.h"
#include "bpr.h"
#include "cancel.h"
#include "model_store.h"
#include "progress.h"
#include "recency.h"
#include "recsys.h"
#include "spi_util.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_train_bpr);


/* Rows of k factors between interrupt checks while initialising. */
static int64
rows_per_check(int k)
{
	return Max(RS_CHECK_WORK / k, 1);
}

/* Seeded starting factors of n rows, by chunks with interrupt checks. */
static void
init_factors(float *X, int64 n, int k, uint64 seed)
{
	for (int64 start = 0; start < n; start += rows_per_check(k))
	{
		CHECK_FOR_INTERRUPTS();
		rs_bpr_init_rows(X, start, Min(start + rows_per_check(k), n), k, seed);
	}
}

/*
 * The pairs of positive weight: by_user itself when every weight is
 * positive, else a copy without the others.
 */
static const RsCsr *
positive_pairs(const RsCsr *R)
{
	RsCsr	   *P;
	int64		n = 0;

	for (int64 p = 0; p < R->nnz; p++)
		n += R->data[p] > 0;
	if (n == R->nnz)
		return R;
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the source has no (user, item) pair of positive weight to learn from"),
				 errhint("BPR learns that a user's items of positive weight rank above the others.")));
	P = palloc0(sizeof(RsCsr));
	P->n_rows = R->n_rows;
	P->n_cols = R->n_cols;
	P->indptr = RsAllocZero(CurrentMemoryContext, sizeof(int64) * (R->n_rows + 1));
	P->indices = RsAllocZero(CurrentMemoryContext, sizeof(int32) * n);
	P->data = RsAllocZero(CurrentMemoryContext, sizeof(float) * n);
	for (int32 u = 0; u < R->n_rows; u++)
	{
		if (u % 65536 == 0)
			CHECK_FOR_INTERRUPTS();
		for (int64 p = R->indptr[u]; p < R->indptr[u + 1]; p++)
			if (R->data[p] > 0)
			{
				P->indices[P->nnz] = R->indices[p];
				P->data[P->nnz++] = R->data[p];
			}
		P->indptr[u + 1] = P->nnz;
	}
	return P;
}

/* Reading each pair's latest time into seconds[] (R's order). */
typedef struct PairTimes
{
	const RsInteractions *data;
	const RsCsr *R;
	double	   *seconds;
	int64		timed;			/* pairs given a time */
} PairTimes;

static void
keep_pair_time(TupleTableSlot *slot, void *arg)
{
	PairTimes  *pt = arg;
	int32		u;
	int32		i;
	int64		lo;
	int64		hi;

	CHECK_FOR_INTERRUPTS();
	if (slot->tts_isnull[0] || slot->tts_isnull[1] || slot->tts_isnull[2])
		return;
	u = rs_idmap_lookup(&pt->data->users, DatumGetInt64(slot->tts_values[0]));
	i = rs_idmap_lookup(&pt->data->items, DatumGetInt64(slot->tts_values[1]));
	if (u < 0 || i < 0)
		return;
	/* the pair's place in the user's ascending row (absent: not positive) */
	lo = pt->R->indptr[u];
	hi = pt->R->indptr[u + 1];
	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (pt->R->indices[mid] < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < pt->R->indptr[u + 1] && pt->R->indices[lo] == i)
	{
		pt->seconds[lo] = DatumGetFloat8(slot->tts_values[2]);
		pt->timed++;
	}
}

/*
 * time_col and half_life: each positive pair (of R, the positive pairs of
 * data) weighs 0.5^(age / half_life), its age the time from its latest
 * row to the user's latest row, as a user's items are weighted when
 * served (RsRecencyWeights over all the user's pairs, RsReadUserItems);
 * a pair whose times are all NULL weighs 0 (it stays one of the user's
 * items: never a negative).
 */
static float *
pair_recency_weights(const RsTrainer *trainer, const RsInteractions *data, const RsCsr *R,
					 const char *time_col, double half_life)
{
	const RsSourceSpec *spec = &trainer->spec;
	const RsCsr *all = &data->by_user;
	PairTimes	pt = {data, all, NULL, 0};
	float	   *weight;
	char	   *query;

	RsCheckTrainingMemory("the pairs' times", (Size) all->nnz * (sizeof(double) + 2 * sizeof(float)),
						  data);
	pt.seconds = RsAllocZero(CurrentMemoryContext, sizeof(double) * Max(all->nnz, 1));
	for (int64 p = 0; p < all->nnz; p++)
		pt.seconds[p] = get_float8_nan();
	query = psprintf("SELECT %s::pg_catalog.int8, %s::pg_catalog.int8, pg_catalog.max(%s) "
					 "FROM %s WHERE %s IS NOT NULL AND %s IS NOT NULL GROUP BY 1, 2",
					 quote_identifier(spec->user_col), quote_identifier(spec->item_col),
					 RsTimeEpochSql(spec->relid, time_col, "time_col"),
					 RsRelationName(spec->relid),
					 quote_identifier(spec->user_col), quote_identifier(spec->item_col));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsStreamQuery(query, 0, NULL, NULL, NULL, true, keep_pair_time, &pt);
	SPI_finish();
	if (pt.timed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time_col \"%s\" is NULL in every row of the source", time_col),
				 errhint("Train without time_col and half_life, or fill the column.")));
	weight = RsAllocZero(CurrentMemoryContext, sizeof(float) * Max(all->nnz, 1));
	for (int32 u = 0; u < all->n_rows; u++)
	{
		if (u % 65536 == 0)
			CHECK_FOR_INTERRUPTS();
		RsRecencyWeights(pt.seconds + all->indptr[u], (int) (all->indptr[u + 1] - all->indptr[u]),
						 half_life, time_col, weight + all->indptr[u]);
	}
	pfree(pt.seconds);
	/* the positive pairs' weights, in R's order (positive_pairs keeps it) */
	if (R != all)
	{
		int64		n = 0;

		for (int64 p = 0; p < all->nnz; p++)
			if (all->data[p] > 0)
				weight[n++] = weight[p];
		Assert(n == R->nnz);
	}
	return weight;
}

/* CPU seconds of the backend so far, all its threads (the kernel's too). */
static double
process_cpu_seconds(void)
{
	struct rusage usage;

	if (getrusage(RUSAGE_SELF, &usage) != 0)
		return NAN;
	return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
		(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/* Raise an error for a kernel status. */
static void
check_status(int status)
{
	if (status == RS_BPR_STOPPED)
		RsKernelStopped("training");
	if (status != RS_BPR_OK)
		ereport(ERROR,
				(errcode(status == RS_BPR_ERR_THREAD ? ERRCODE_INSUFFICIENT_RESOURCES :
						 ERRCODE_INTERNAL_ERROR),
				 errmsg("BPR failed: %s", rs_bpr_strerror(status)),
				 status == RS_BPR_ERR_THREAD ? errhint("Lower recsys.threads.") : 0));
}

/* Everything one run needs besides the kernel's state. */
typedef struct BprTrain
{
	RsInteractions data;
	RsBprRun	run;
	int			iterations;
	bool		store_users;
	int			threads;
} BprTrain;

/* Allocate the kernel's arrays within recsys.max_memory, and prepare. */
static void
allocate(BprTrain *t)
{
	RsBprRun   *run = &t->run;
	const RsCsr *R = run->R;
	int			B = run->nblocks;
	int			k = run->k;
	Size		bytes = ((Size) R->n_rows + R->n_cols) * k * sizeof(float) +
		(Size) R->n_cols * 2 * sizeof(float) + (Size) R->nnz * 3 * sizeof(int32) +
		(Size) (B * B + 2 * B + 3) * (sizeof(int64) + sizeof(double));

	Size		seen_bytes = (Size) rs_bpr_seen_words(run) * sizeof(uint64);

	if (R != &t->data.by_user)
		bytes += (Size) R->nnz * (sizeof(int32) + sizeof(float)) + (Size) R->n_rows * sizeof(int64);
	RsCheckTrainingMemory("factors and sampling tables", bytes, &t->data);

	/*
	 * The bitmap of seen pairs only makes sampling faster (the results are
	 * the same without it): left out when it does not fit.
	 */
	if (seen_bytes > 0 &&
		bytes + seen_bytes + ((Size) R->n_rows + R->n_cols) * sizeof(int32) +
		RsInteractionBytes(&t->data) <= RECSYS_MAX_MEMORY_BYTES)
	{
		run->seen = RsAllocZero(CurrentMemoryContext, seen_bytes);
		run->user_row = RsAllocZero(CurrentMemoryContext, (Size) R->n_rows * sizeof(int32));
		run->item_col = RsAllocZero(CurrentMemoryContext, (Size) R->n_cols * sizeof(int32));
	}
	run->X = RsAllocZero(CurrentMemoryContext, (Size) R->n_rows * k * sizeof(float));
	run->Y = RsAllocZero(CurrentMemoryContext, (Size) R->n_cols * k * sizeof(float));
	run->bias = RsAllocZero(CurrentMemoryContext, (Size) R->n_cols * sizeof(float));
	run->cell_start = palloc(sizeof(int64) * (B * B + 1));
	run->cell_user = RsAllocZero(CurrentMemoryContext, (Size) R->nnz * sizeof(int32));
	run->cell_item = RsAllocZero(CurrentMemoryContext, (Size) R->nnz * sizeof(int32));
	run->block_item_start = palloc(sizeof(int64) * (B + 1));
	run->block_items = RsAllocZero(CurrentMemoryContext, (Size) R->n_cols * sizeof(int32));
	run->pool_start = palloc(sizeof(int64) * (B + 1));
	run->pool_items = RsAllocZero(CurrentMemoryContext, (Size) R->nnz * sizeof(int32));
	run->cell_loss = palloc(sizeof(double) * B * B);
	check_status(rs_bpr_prepare(run));
}

/*
 * An epoch that left a loss that is not finite, or factors whose scores
 * x_u . y_i + b_i could overflow a float (|x_u . y_i| <= |x_u| |y_i|; NaN
 * fails the test too): the model diverged (too large a learning rate).
 * The error keeps the version that serves.
 */
static void
check_diverged(BprTrain *t, const char *name, int epoch, double loss)
{
	RsBprRun   *run = &t->run;
	double		bound = rs_bpr_max_row_norm(run->X, run->R->n_rows, run->k) *
		rs_bpr_max_row_norm(run->Y, run->R->n_cols, run->k) +
		rs_bpr_max_row_norm(run->bias, run->R->n_cols, 1);

	if ((run->track_loss && !isfinite(loss)) || !(bound <= FLT_MAX))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("training of model \"%s\" diverged at epoch %d (%s)", name, epoch + 1,
						isfinite(loss) || !run->track_loss ? "scores overflow" :
						psprintf("loss %g", loss)),
				 errhint("Lower learning_rate.")));
}

/* Fit: every stratum of every epoch; returns the last epoch's mean loss. */
static double
fit(BprTrain *t, const char *name)
{
	RsBprRun   *run = &t->run;
	double		loss = 0;

	init_factors(run->X, run->R->n_rows, run->k, run->seed);
	init_factors(run->Y, run->R->n_cols, run->k, run->seed ^ UINT64_C(0x5DEECE66D));
	for (int e = 0; e < t->iterations; e++)
	{
		/* APR: after a warm start of plain BPR */
		int			adversarial = run->adv_epsilon > 0 && e >= t->iterations / 2;

		/* the loss costs a logarithm per triple: only when it is shown or kept */
		run->track_loss = RsProgressWantsLoss() || e == t->iterations - 1;

		for (int s = 0; s < run->nblocks; s++)
		{
			CHECK_FOR_INTERRUPTS();
			check_status(rs_bpr_stratum(run, e, s, adversarial, t->threads,
										RsCancelRequested, NULL));
		}
		loss = run->track_loss ? rs_bpr_epoch_loss(run) : NAN;
		check_diverged(t, name, e, loss);
		RsProgressIteration(e + 1, t->iterations, "loss", loss,
							adversarial ? " (adversarial)" : NULL);
	}
	return loss;
}

/*
 * With time_col and half_life: every user's vector refitted as serving
 * folds a user in (kind_factors.c): the same SGD against the trained item
 * factors, from zero, each item's steps weighted by its recency, so that
 * the vector follows the user's recent items (on ml-latest-small last5
 * validation this lifts NDCG@10 where weighting the training's steps did
 * not).  Stored vectors and folded-in users then agree.  On
 * recsys.threads threads, the users shared among them: each vector
 * depends on its own user's items only, so the thread count changes
 * nothing (rs_bpr_refit_users).
 */
static void
refit_users(BprTrain *t, const float *weight)
{
	RsBprRun   *run = &t->run;

	check_status(rs_bpr_refit_users(run->Y, run->bias, run->R, run->k, weight,
									run->learning_rate, run->reg, run->seed, t->iterations,
									run->X, t->threads, RsCancelRequested, NULL));
}

/* The item statistics and factors of a version (RsTrainWriter). */
static void
write_factors(RsTrainer *trainer, int32 version, void *arg)
{
	BprTrain   *t = arg;

	RsWriteItemStatsFromData(trainer->name, version, &t->data);
	if (t->store_users)
		RsWriteFactors(RS_USERS, trainer->name, version, t->data.users.ids, NULL, t->run.X,
					   t->data.users.count, t->run.k);
	RsWriteFactors(RS_ITEMS, trainer->name, version, t->data.items.ids, t->run.bias, t->run.Y,
				   t->data.items.count, t->run.k);
}

/* The sampling argument. */
static RsBprSampling
sampling_arg(FunctionCallInfo fcinfo, int argno, const char **name)
{
	*name = RsTextArg(fcinfo, argno, "sampling");
	if (strcmp(*name, "uniform") == 0)
		return RS_BPR_UNIFORM;
	if (strcmp(*name, "popularity") == 0)
		return RS_BPR_POPULARITY;
	if (strcmp(*name, "adaptive") == 0)
		return RS_BPR_ADAPTIVE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("sampling must be 'uniform', 'popularity' or 'adaptive', not '%s'", *name)));
}

/*
 * recsys_train_bpr(source regclass, factors int, model text,
 *					iterations int, learning_rate float8,
 *					regularization float8, user_col name, item_col name,
 *					weight_col name, seed bigint, sampling text,
 *					adversarial_epsilon float8, adversarial_weight float8,
 *					store_users bool, verbose bool, replace bool,
 *					time_col name, half_life interval)
 * trains a BPR factor model and returns its recsys.models row.
 */
Datum
recsys_train_bpr(PG_FUNCTION_ARGS)
{
	RsTrainArgNos argnos = {.model = 2,.cols = 6,.weight_col = 8,.replace = 15};
	RsTrainer	trainer;
	BprTrain	t;
	RsBprRun   *run = &t.run;
	const char *sampling;
	const char *time_col;
	double		half_life;
	float	   *recency = NULL;
	double		refit_seconds = 0;
	int64		seed;
	double		loss;
	double		cpu;
	MemoryContext train_context;
	MemoryContext old;
	Datum		result;

	memset(&t, 0, sizeof(t));
	RsTrainArgs(fcinfo, &argnos, &trainer);
	run->k = RsIntArg(fcinfo, 1, "factors", 1, RS_BPR_MAX_FACTORS);
	t.iterations = RsIntArg(fcinfo, 3, "iterations", 1, RS_BPR_MAX_ITERATIONS);
	run->learning_rate = (float) RsFloatArg(fcinfo, 4, "learning_rate", 1e-6,
											RS_BPR_MAX_LEARNING_RATE, NAN);
	run->reg = (float) RsFloatArg(fcinfo, 5, "regularization", 0, 100, NAN);
	if (run->learning_rate * run->reg >= 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("learning_rate times regularization must be below 1, not %g",
						(double) run->learning_rate * run->reg),
				 errhint("Each step shrinks the factors by that fraction: lower one of them.")));
	RsRequireArg(fcinfo, 9, "seed");
	seed = PG_GETARG_INT64(9);
	run->seed = (uint64) seed;
	run->sampling = sampling_arg(fcinfo, 10, &sampling);
	run->adv_epsilon = (float) RsFloatArg(fcinfo, 11, "adversarial_epsilon", 0, 100, NAN);
	run->adv_weight = (float) RsFloatArg(fcinfo, 12, "adversarial_weight", 0, 100, NAN);
	RsRequireArg(fcinfo, 13, "store_users");
	t.store_users = PG_GETARG_BOOL(13);
	RsRequireArg(fcinfo, 14, "verbose");
	trainer.verbose = PG_GETARG_BOOL(14);
	RsTimeDecayArgs(fcinfo, 16, trainer.spec.relid, &time_col, &half_life);
	t.threads = recsys_threads;

	train_context = AllocSetContextCreate(CurrentMemoryContext, "recsys train_bpr",
										  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(train_context);

	RsTrainBegin(&trainer, "bpr", &t.data);
	run->R = positive_pairs(&t.data.by_user);
	run->nblocks = rs_bpr_blocks(run->R);
	if (time_col)
		recency = pair_recency_weights(&trainer, &t.data, run->R, time_col, half_life);
	cpu = process_cpu_seconds();
	allocate(&t);
	loss = fit(&t, trainer.name);
	if (recency && t.store_users)
	{
		refit_seconds = RsSeconds();
		refit_users(&t, recency);
		refit_seconds = RsSeconds() - refit_seconds;
	}
	cpu = process_cpu_seconds() - cpu;

	RsJsonInt(&trainer.params, "factors", run->k);
	RsJsonInt(&trainer.params, "iterations", t.iterations);
	RsJsonFloat(&trainer.params, "learning_rate", run->learning_rate);
	RsJsonFloat(&trainer.params, "regularization", run->reg);
	RsJsonText(&trainer.params, "sampling", sampling);
	RsJsonFloat(&trainer.params, "adversarial_epsilon", run->adv_epsilon);
	RsJsonFloat(&trainer.params, "adversarial_weight", run->adv_weight);
	RsJsonInt(&trainer.params, "seed", seed);
	RsJsonInt(&trainer.params, "threads", t.threads);
	RsJsonRaw(&trainer.params, "store_users", t.store_users ? "true" : "false");
	if (time_col)
	{
		RsJsonText(&trainer.params, "time_col", time_col);
		RsJsonFloat(&trainer.params, "half_life_seconds", half_life);
	}

	RsJsonFloat(&trainer.stats, "train_loss", loss);
	RsJsonInt(&trainer.stats, "blocks", run->nblocks);
	RsJsonFloat(&trainer.stats, "fit_seconds",
				RsSeconds() - trainer.start - t.data.read_seconds - t.data.build_seconds);
	/* the steadier figure on a shared machine (fit_seconds counts waits) */
	RsJsonFloat(&trainer.stats, "fit_cpu_seconds", cpu);
	if (recency && t.store_users)
		RsJsonFloat(&trainer.stats, "refit_seconds", refit_seconds);

	result = RsTrainFinish(fcinfo, &trainer, write_factors, &t);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(train_context);
	PG_RETURN_DATUM(result);
}
