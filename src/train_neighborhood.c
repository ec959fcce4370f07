/*-------------------------------------------------------------------------
 *
 * train_neighborhood.c
 *		recsys.train_neighborhood(): Koren's global neighbourhood model for
 *		explicit ratings, with interpolation weights learned by gradient
 *		descent ("Factor in the Neighbors", KDD 2008 / TKDD 2010).
 *
 * A rating is predicted as its baseline plus a weighted sum over the
 * user's ratings of the item's k most similar items (the kernel's header,
 * src/kernel/neighborhood.c, has the model and its choices).  The steps:
 * baselines, the neighbours by shrunk Pearson correlation of the
 * baseline residuals (split over recsys.threads threads, in chunks of
 * items between interrupt checks), then `iterations` epochs of SGD on
 * one thread, each stoppable within milliseconds by a cancel.  With
 * verbose, each epoch reports its training RMSE and seconds as a NOTICE.
 *
 * What is stored (doc/internals.md, "The neighbourhood model"):
 *	recsys.item_stats			the items, as for every model;
 *	recsys.item_factors			per item: bias = b_i (learned) and
 *								factors = {base_i} (its fixed baseline);
 *	recsys.item_neighbor_lists	per item: its neighbours, by descending
 *								w, scores = w_ij;
 *	recsys.model_parameters		"implicit_weights": c_ij, shape
 *								{n_items, neighbors}, row r for the r-th
 *								item by id, column q for its q-th listed
 *								neighbour (0 past the list's end).
 * No user is stored: a user's baseline comes from their ratings when
 * served.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "args.h"
#include "cancel.h"
#include "ingest.h"
#include "model_store.h"
#include "neighborhood.h"
#include "progress.h"
#include "recsys.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_train_neighborhood);

#define NBR_MAX_ITERATIONS 1000
#define NBR_CHUNK_ROWS 1024
/* Candidate visits per thread in one chunk: tens of milliseconds. */
#define NBR_CHUNK_WORK ((int64) 1 << 23)

/* One training run. */
typedef struct NbrRun
{
	RsInteractions data;
	int			k;
	int			iterations;
	float		shrinkage;
	RsNbrStep	step;
	int			threads;
	RsNbrModel	m;
	int32	   *neighbor;		/* n_items x k */
	float	   *similarity;
	float	   *user_base;
	double		train_rmse;
} NbrRun;

static void
check_status(int status, const char *what)
{
	if (status == RS_NBR_STOPPED)
		RsKernelStopped(what);
	if (status != RS_NBR_OK)
		ereport(ERROR,
				(errcode(status == RS_NBR_ERR_THREAD ? ERRCODE_INSUFFICIENT_RESOURCES :
						 status == RS_NBR_ERR_DIVERGED ? ERRCODE_DATA_EXCEPTION :
						 ERRCODE_INTERNAL_ERROR),
				 errmsg("neighbourhood model training failed in %s: %s", what,
						rs_nbr_strerror(status)),
				 status == RS_NBR_ERR_DIVERGED ? errhint("Lower learning_rate.") :
				 status == RS_NBR_ERR_THREAD ? errhint("Lower recsys.threads.") : 0));
}

static void *
alloc_zero(Size size)
{
	return RsAllocZero(CurrentMemoryContext, size);
}

/* The candidates item i visits: the items of all its users. */
static int64
item_work(const void *arg, int32 i)
{
	const RsInteractions *d = arg;
	int64		work = 1;

	for (int64 p = d->by_item.indptr[i]; p < d->by_item.indptr[i + 1]; p++)
	{
		int32		u = d->by_item.indices[p];

		work += d->by_user.indptr[u + 1] - d->by_user.indptr[u];
	}
	return work;
}

/* Baselines, residuals and every item's neighbours. */
static void
find_neighbors(NbrRun *run, float *z_by_user)
{
	RsInteractions *d = &run->data;
	int32		n_items = d->items.count;
	float	   *z_by_item = alloc_zero((Size) d->by_item.nnz * sizeof(float));
	void	   *workspace = alloc_zero(rs_nbr_neighbors_workspace_bytes(n_items, run->threads));
	float	   *item_base = (float *) run->m.item_base;

	check_status(rs_nbr_baselines(&d->by_user, &d->by_item, run->m.mu, RS_NBR_BASE_REG_USER,
								  RS_NBR_BASE_REG_ITEM, RS_NBR_BASE_SWEEPS, run->user_base,
								  item_base), "the baselines");
	CHECK_FOR_INTERRUPTS();
	rs_nbr_residuals(&d->by_user, true, run->m.mu, run->user_base, item_base, z_by_user);
	rs_nbr_residuals(&d->by_item, false, run->m.mu, run->user_base, item_base, z_by_item);
	for (int32 begin = 0, end; begin < n_items; begin = end)
	{
		end = RsChunkEnd(begin, n_items, NBR_CHUNK_ROWS, NBR_CHUNK_WORK * Max(run->threads, 1),
						 item_work, d);
		CHECK_FOR_INTERRUPTS();
		check_status(rs_nbr_neighbors(&d->by_item, z_by_item, &d->by_user, z_by_user,
									  run->shrinkage, run->k, begin, end, run->threads,
									  workspace, run->neighbor, run->similarity,
									  (int32 *) run->m.count), "the similarities");
	}
	pfree(z_by_item);
	pfree(workspace);
}

/* Fit the model: neighbours, then the epochs of SGD. */
static void
fit(NbrRun *run)
{
	RsInteractions *d = &run->data;
	int32		n_items = d->items.count;
	int32		n_users = d->users.count;
	Size		slots = (Size) n_items * run->k;
	double		sum = 0;
	float	   *z_by_user;
	int32	   *position;
	int32	   *order;
	int64	   *start;

	RsCheckTrainingMemory("neighbour weights and similarities",
						  slots * (sizeof(int32) + 3 * sizeof(float)) +
						  (Size) n_items * (sizeof(int64) + 3 * sizeof(float) + sizeof(int32)) +
						  (Size) n_users * (sizeof(float) + sizeof(int32)) +
						  2 * (Size) d->by_user.nnz * sizeof(float) +
						  rs_nbr_neighbors_workspace_bytes(n_items, run->threads), d);
	for (int64 p = 0; p < d->by_user.nnz; p++)
		sum += d->by_user.data[p];
	run->m.mu = (float) (sum / d->by_user.nnz);
	run->m.n_items = n_items;
	start = alloc_zero((Size) n_items * sizeof(int64));
	for (int32 i = 0; i < n_items; i++)
		start[i] = (int64) i * run->k;
	run->m.start = start;
	run->m.count = alloc_zero((Size) n_items * sizeof(int32));
	run->neighbor = alloc_zero(slots * sizeof(int32));
	run->m.neighbor = run->neighbor;
	run->similarity = alloc_zero(slots * sizeof(float));
	run->m.w = alloc_zero(slots * sizeof(float));
	run->m.c = alloc_zero(slots * sizeof(float));
	run->m.item_bias = alloc_zero((Size) n_items * sizeof(float));
	run->m.item_base = alloc_zero((Size) n_items * sizeof(float));
	run->user_base = alloc_zero((Size) n_users * sizeof(float));
	z_by_user = alloc_zero((Size) d->by_user.nnz * sizeof(float));
	position = alloc_zero((Size) n_items * sizeof(int32));
	order = alloc_zero((Size) n_users * sizeof(int32));

	find_neighbors(run, z_by_user);
	memcpy(run->m.item_bias, run->m.item_base, (Size) n_items * sizeof(float));
	for (int e = 0; e < run->iterations; e++)
	{
		double		sq_error;

		CHECK_FOR_INTERRUPTS();
		run->step.epoch = e;
		check_status(rs_nbr_epoch(&run->m, &d->by_user, z_by_user, run->user_base, &run->step,
								  position, order, RsCancelRequested, NULL, &sq_error),
					 "gradient descent");
		run->train_rmse = sqrt(sq_error / d->by_user.nnz);
		RsProgressIteration(e + 1, run->iterations, "training RMSE", run->train_rmse, NULL);
	}
	rs_nbr_sort_by_weight(&run->m, run->neighbor);
}

/* The item statistics and the model's artefacts (RsTrainWriter). */
static void
write_model(RsTrainer *trainer, int32 version, void *arg)
{
	NbrRun	   *run = arg;
	int32		shape[2] = {run->data.items.count, run->k};

	RsWriteItemStatsFromData(trainer->name, version, &run->data);
	RsWriteFactors(RS_ITEMS, trainer->name, version, run->data.items.ids, run->m.item_bias,
				   run->m.item_base, run->data.items.count, 1);
	RsWriteNeighbors(RS_ITEMS, trainer->name, version, run->data.items.ids,
					 run->data.items.count, run->k, run->m.count, run->neighbor,
					 run->data.items.ids, run->m.w);
	RsWriteParameter(trainer->name, version, "implicit_weights", shape, 2, run->m.c);
}

/*
 * recsys_train_neighborhood(source regclass, neighbors int, model text,
 *							 iterations int, learning_rate float8,
 *							 regularization float8, shrinkage float8,
 *							 user_col name, item_col name, weight_col name,
 *							 seed bigint, verbose bool, replace bool)
 * trains a neighbourhood model on the ratings in weight_col and returns
 * its recsys.models row.
 */
Datum
recsys_train_neighborhood(PG_FUNCTION_ARGS)
{
	static const RsTrainArgNos argnos = {.model = 2,.cols = 7,.weight_col = 9,.replace = 12};
	RsTrainer	trainer;
	NbrRun		run;
	int64		seed;
	int64		pairs = 0;
	MemoryContext train_context;
	MemoryContext old;
	Datum		result;

	memset(&run, 0, sizeof(run));
	RsTrainArgs(fcinfo, &argnos, &trainer);
	run.k = RsIntArg(fcinfo, 1, "neighbors", 1, RS_NBR_MAX_NEIGHBORS);
	run.iterations = RsIntArg(fcinfo, 3, "iterations", 1, NBR_MAX_ITERATIONS);
	run.step.learning_rate = (float) RsFloatArg(fcinfo, 4, "learning_rate", 1e-6, 1, NAN);
	run.step.regularization = (float) RsFloatArg(fcinfo, 5, "regularization", 0, 100, NAN);
	run.shrinkage = (float) RsFloatArg(fcinfo, 6, "shrinkage", 0, 1e9, NAN);
	RsRequireArg(fcinfo, 10, "seed");
	seed = PG_GETARG_INT64(10);
	run.step.seed = (uint64) seed;
	RsRequireArg(fcinfo, 11, "verbose");
	trainer.verbose = PG_GETARG_BOOL(11);
	if (trainer.spec.weight_col == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weight_col must name the column of ratings"),
				 errhint("The neighbourhood model predicts explicit ratings, e.g. weight_col => 'rating'.")));
	run.threads = recsys_threads;

	train_context = AllocSetContextCreate(CurrentMemoryContext, "recsys train_neighborhood",
										  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(train_context);

	RsTrainBegin(&trainer, "neighborhood", &run.data);
	RsRefuseRepeatedRatings(&trainer, &run.data);
	fit(&run);

	for (int32 i = 0; i < run.data.items.count; i++)
		pairs += run.m.count[i];
	RsJsonInt(&trainer.params, "neighbors", run.k);
	RsJsonInt(&trainer.params, "iterations", run.iterations);
	RsJsonFloat(&trainer.params, "learning_rate", run.step.learning_rate);
	RsJsonFloat(&trainer.params, "regularization", run.step.regularization);
	RsJsonFloat(&trainer.params, "shrinkage", run.shrinkage);
	RsJsonFloat(&trainer.params, "baseline_user_regularization", RS_NBR_BASE_REG_USER);
	RsJsonFloat(&trainer.params, "baseline_item_regularization", RS_NBR_BASE_REG_ITEM);
	RsJsonInt(&trainer.params, "seed", seed);
	RsJsonInt(&trainer.params, "threads", run.threads);
	RsJsonFloat(&trainer.stats, "global_mean", run.m.mu);
	RsJsonFloat(&trainer.stats, "rating_min", run.data.min_weight);
	RsJsonFloat(&trainer.stats, "rating_max", run.data.max_weight);
	RsJsonFloat(&trainer.stats, "train_rmse", run.train_rmse);
	RsJsonInt(&trainer.stats, "neighbor_pairs", pairs);
	RsJsonFloat(&trainer.stats, "fit_seconds",
				RsSeconds() - trainer.start - run.data.read_seconds - run.data.build_seconds);

	result = RsTrainFinish(fcinfo, &trainer, write_model, &run);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(train_context);
	PG_RETURN_DATUM(result);
}
