/*-------------------------------------------------------------------------
 *
 * train_cf.c
 *		recsys.train_cf(): matrix factorisation by alternating least squares.
 *
 * feedback 'implicit' (the default): weighted ALS for implicit feedback
 * (Hu, Koren, Volinsky 2008), every row solved by a few conjugate-gradient
 * steps (Takacs, Pilaszy, Tikk 2011), as the fastest CPU libraries do.
 * The weight of a (user, item) pair is a count or strength: confidence
 * 1 + alpha * weight.
 *
 * feedback 'explicit': biased matrix factorisation of ratings,
 * mu + b_u + b_i + x_u . y_i, by ALS with L2 regularisation (weighted by
 * each row's count), or with solver 'bayesian' by Gibbs sampling of the
 * Bayesian model (Salakhutdinov and Mnih 2008) averaged over the sweeps
 * after a burn-in, which fits ratings markedly better (ml-latest-small
 * cv5: RMSE 0.836 against 0.851 for tuned ALS); predictions are clipped to
 * the rating range seen in training.
 *
 * The PostgreSQL side is here: arguments, reading the source, memory
 * budget, interrupts between chunks of rows, and writing the model.  The
 * numerics are the plain-C kernels of src/kernel/als.c, which split each
 * chunk over recsys.threads threads.  A chunk is sized by its work, not
 * its rows: at 1,024 factors one explicit row is a 1,025 x 1,025
 * Cholesky, so a chunk holds a few rows and a cancel is honoured within
 * a fraction of a second; the whole-matrix steps (Gram, loss, the
 * Bayesian prior) stop through the kernels' stop callback (cancel.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "als.h"
#include "args.h"
#include "cancel.h"
#include "ingest.h"
#include "item_cold.h"
#include "item_features.h"
#include "model_store.h"
#include "progress.h"
#include "recsys.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_train_cf);

#define CF_MIN_FACTORS 1
#define CF_MAX_FACTORS 1024
#define CF_MAX_ITERATIONS 1000
#define CF_DEFAULT_IMPLICIT_REG 0.01
#define CF_DEFAULT_EXPLICIT_REG 0.1
#define CF_CHUNK_ROWS 16384
/* Multiply-adds per thread in one chunk of rows: tens of milliseconds. */
#define CF_CHUNK_WORK ((int64) 1 << 27)

/* Everything one ALS run needs. */
typedef struct CfRun
{
	RsInteractions data;
	int			k;
	bool		explicit_feedback;
	int			iterations;
	float		reg;
	float		reg_exponent;	/* implicit: reg scaled by confidence^this */
	float		alpha;
	int			threads;
	bool		bayesian;		/* explicit: Gibbs sampling, not ALS */
	bool		store_users;	/* write the user vectors (else served by fold-in) */
	float		mu;
	float	   *X;				/* users x k */
	float	   *Y;				/* items x k */
	float	   *xbias;			/* explicit only */
	float	   *ybias;
	float	   *gram;			/* k x k */
	float	   *workspace;
	/*
	 * The matrices ALS runs on: the source's, or with categorical
	 * features the source's plus one pseudo-user per feature (collective
	 * factorisation, src/item_cold.c); X then has n_users + n_features
	 * rows, the features' vectors after the users'.  The features' loss
	 * is weighted by feature_weight: by_item's columns from n_users on
	 * (item_side, NULL without features).
	 */
	RsCsr	   *by_user;
	RsCsr	   *by_item;
	RsAlsColumnWeight item_side_weights;
	const RsAlsColumnWeight *item_side;
	RsCsr		item_features;	/* items x features, values as read */
	RsColdModel cold;
	int64	   *cold_ids;		/* cold items found at training */
	float	   *cold_vectors;
	int32		n_cold;
} CfRun;

/* Raise an error for a kernel status. */
static void
check_status(int status)
{
	if (status == RS_ALS_STOPPED)
		RsKernelStopped("training");
	if (status != RS_ALS_OK)
		ereport(ERROR,
				(errcode(status == RS_ALS_ERR_THREAD ? ERRCODE_INSUFFICIENT_RESOURCES :
						 ERRCODE_DATA_EXCEPTION),
				 errmsg("ALS failed: %s", rs_als_strerror(status)),
				 errhint(status == RS_ALS_ERR_NOT_PD ?
						 "Increase regularization." : "Lower recsys.threads.")));
}

/* What row_work needs: the run and the matrix whose rows are solved. */
typedef struct CfRowWork
{
	const CfRun *run;
	const RsCsr *R;
} CfRowWork;

/*
 * Rough multiply-adds of one row's update: the k x k products of the
 * solve plus the work per stored entry (a (k+1) x (k+1) Cholesky and
 * rank-one updates for explicit rows; conjugate-gradient steps with a
 * k x k product each for implicit ones).
 */
static int64
row_work(const void *arg, int32 row)
{
	const CfRowWork *w = arg;
	int64		k = w->run->k;
	int64		nnz = w->R->indptr[row + 1] - w->R->indptr[row];

	if (w->run->explicit_feedback)
		return k * k * k / 6 + nnz * k * k / 2 + k;
	return (RS_ALS_DEFAULT_CG_STEPS + 1) * (k * k + 2 * nnz * k);
}

/*
 * The end of the chunk of rows of R that starts at start: at most
 * CF_CHUNK_ROWS rows and about CF_CHUNK_WORK multiply-adds per thread.
 */
static int32
chunk_end(const CfRun *run, const RsCsr *R, int32 start)
{
	CfRowWork	w = {run, R};

	return RsChunkEnd(start, R->n_rows, CF_CHUNK_ROWS, CF_CHUNK_WORK * Max(run->threads, 1),
					  row_work, &w);
}

/*
 * G = the Gramian of the fixed side's n rows, those from cw->first on
 * weighted by cw->weight (cw NULL: none), stopping at a cancel.
 */
static void
gram(const CfRun *run, const float *Y, int64 n, const RsAlsColumnWeight *cw, float *G)
{
	int			status;

	if (cw == NULL)
	{
		RsGram(Y, n, run->k, G);
		return;
	}
	status = rs_gram_weighted(Y, n, cw->first, cw->weight, run->k, G, RsCancelRequested, NULL);
	if (status == RS_ALS_STOPPED)
		RsKernelStopped("computing a Gram matrix");
	check_status(status);
}

/*
 * One half-iteration: re-solve every row of X (n rows of R) against the
 * fixed Y, a chunk of rows at a time so a cancel is honoured quickly;
 * cw weighs R's last columns (the item side with features), or NULL.
 */
static void
half_step(CfRun *run, const RsCsr *R, float *X, float *xbias,
		  const float *Y, const float *ybias, int64 n_fixed, const RsAlsColumnWeight *cw)
{
	double		start_time = RsSeconds();
	double		gram_time = start_time;

	if (!run->explicit_feedback)
	{
		gram(run, Y, n_fixed, cw, run->gram);
		gram_time = RsSeconds();
	}
	for (int32 start = 0, end; start < R->n_rows; start = end)
	{
		end = chunk_end(run, R, start);
		CHECK_FOR_INTERRUPTS();
		if (run->explicit_feedback)
			check_status(rs_als_explicit_update(R, Y, ybias, run->mu, X, xbias, run->k,
												run->reg, run->reg, true, start, end,
												run->threads, run->workspace));
		else
			check_status(rs_als_implicit_update_weighted(R, Y, run->gram, X, run->k, run->reg,
														 run->reg_exponent, run->alpha,
														 RS_ALS_DEFAULT_CG_STEPS, cw, start, end,
														 run->threads, run->workspace));
	}
	elog(DEBUG1, "train_cf: half-iteration over %d rows: Gram %.3f s, rows %.3f s",
		 R->n_rows, gram_time - start_time, RsSeconds() - gram_time);
}

/* A zeroed allocation of any size, interruptible (see RsAllocZero). */
static void *
alloc_zero(Size size)
{
	return RsAllocZero(CurrentMemoryContext, size);
}

/* Rows of k factors per interrupt check in the glue's own loops. */
static int64
rows_per_check(int k)
{
	return Max(RS_CHECK_WORK / k, 1);
}

/*
 * Seeded starting factors of the n x k matrix X, uniform or normal, on
 * recsys.threads threads, by chunks of rows with an interrupt check
 * between (the values depend neither on the chunking nor on the threads).  A normal draw (Box-Muller) costs about as
 * much as 64 multiply-adds: 90 ns, against 4 ns for a uniform one.
 */
static void
init_factors(const CfRun *run, float *X, int32 n, uint64 seed, bool normal, float scale)
{
	int			k = run->k;
	int64		rows = Max(rows_per_check(k) / (normal ? 64 : 1), 1) * Max(run->threads, 1);

	for (int64 start = 0; start < n; start += rows)
	{
		int64		end = Min(start + rows, n);

		CHECK_FOR_INTERRUPTS();
		check_status(rs_init_factors_threads(X, (int32) start, (int32) end, k, seed, scale,
											 normal, run->threads));
	}
}

/* avg += X / samples over n rows of k values (plus their biases). */
static void
add_to_average(float *avg, float *avg_bias, const float *X, const float *bias,
			   int64 n, int k, int samples)
{
	for (int64 start = 0; start < n; start += rows_per_check(k))
	{
		int64		end = Min(start + rows_per_check(k), n);

		CHECK_FOR_INTERRUPTS();
		for (int64 j = start * k; j < end * k; j++)
			avg[j] += X[j] / samples;
		for (int64 j = start; j < end; j++)
			avg_bias[j] += bias[j] / samples;
	}
}

/*
 * One half-sweep of the Gibbs sampler: draw the prior of X's side (seed),
 * then every row of X (n rows of R) given the fixed Y (seed + 1), a chunk
 * of rows at a time so a cancel is honoured quickly.  mean, precision and
 * prior_work are the caller's scratch.
 */
static void
sample_half_sweep(CfRun *run, const RsCsr *R, float *X, float *xbias,
				  const float *Y, const float *ybias, uint64 seed,
				  double *mean, double *precision, double *prior_work)
{
	CHECK_FOR_INTERRUPTS();
	check_status(rs_als_sample_prior(X, xbias, R->n_rows, run->k, seed, mean, precision,
									 prior_work, RsCancelRequested, NULL));
	for (int32 start = 0, end; start < R->n_rows; start = end)
	{
		end = chunk_end(run, R, start);
		CHECK_FOR_INTERRUPTS();
		check_status(rs_als_explicit_sample(R, Y, ybias, run->mu, X, xbias, run->k,
											run->alpha, precision, mean, seed + 1, start, end,
											run->threads, run->workspace));
	}
}

/*
 * Gibbs sampling of Bayesian biased MF: iterations sweeps, the first tenth
 * burn-in, the rest averaged into X, Y and the biases (see als.h).
 */
static void
fit_bayesian(CfRun *run, uint64 seed)
{
	RsInteractions *d = &run->data;
	int32		n_users = d->users.count;
	int32		n_items = d->items.count;
	int			k = run->k;
	int			burn = run->iterations / 10;
	int			samples = run->iterations - burn;
	float	   *avg_x = alloc_zero((Size) n_users * k * sizeof(float));
	float	   *avg_y = alloc_zero((Size) n_items * k * sizeof(float));
	float	   *avg_xb = alloc_zero((Size) n_users * sizeof(float));
	float	   *avg_yb = alloc_zero((Size) n_items * sizeof(float));
	double	   *mean = palloc(sizeof(double) * (k + 1));
	double	   *precision = palloc(sizeof(double) * (k + 1) * (k + 1));
	double	   *prior_work = alloc_zero(rs_als_prior_workspace_doubles(k) * sizeof(double));

	init_factors(run, run->X, n_users, seed, true, 0.1f);
	init_factors(run, run->Y, n_items, seed ^ UINT64_C(0x5DEECE66D), true, 0.1f);
	for (int s = 0; s < run->iterations; s++)
	{
		uint64		sweep_seed = seed + 4 * (uint64) s;

		sample_half_sweep(run, &d->by_user, run->X, run->xbias, run->Y, run->ybias,
						  sweep_seed, mean, precision, prior_work);
		sample_half_sweep(run, &d->by_item, run->Y, run->ybias, run->X, run->xbias,
						  sweep_seed + 2, mean, precision, prior_work);
		RsProgressIteration(s + 1, run->iterations, NULL, NAN, s < burn ? " (burn-in)" : NULL);
		if (s < burn)
			continue;
		add_to_average(avg_x, avg_xb, run->X, run->xbias, n_users, k, samples);
		add_to_average(avg_y, avg_yb, run->Y, run->ybias, n_items, k, samples);
	}
	run->X = avg_x;
	run->Y = avg_y;
	run->xbias = avg_xb;
	run->ybias = avg_yb;
}

/* Fit the factors; returns the final training loss (implicit) or RMSE. */
static double
fit(CfRun *run, uint64 seed)
{
	RsInteractions *d = &run->data;
	int32		n_users = run->by_user->n_rows;	/* with pseudo-users */
	int32		n_items = d->items.count;
	int			k = run->k;
	Size		factor_bytes = ((Size) n_users + n_items) * k * sizeof(float);
	Size		work_floats = rs_als_workspace_floats(k, run->threads);

	RsCheckTrainingMemory("factors", factor_bytes + work_floats * sizeof(float), d);
	run->X = alloc_zero((Size) n_users * k * sizeof(float));
	run->Y = alloc_zero((Size) n_items * k * sizeof(float));
	run->gram = alloc_zero((Size) k * k * sizeof(float));
	run->workspace = alloc_zero(work_floats * sizeof(float));
	if (run->explicit_feedback)
	{
		double		sum = 0;

		for (int64 p = 0; p < d->by_user.nnz; p++)
			sum += d->by_user.data[p];
		run->mu = (float) (sum / d->by_user.nnz);
		run->xbias = alloc_zero((Size) n_users * sizeof(float));
		run->ybias = alloc_zero((Size) n_items * sizeof(float));
	}
	if (run->bayesian)
	{
		RsCheckTrainingMemory("factors and their running averages",
							  2 * factor_bytes + work_floats * sizeof(float), d);
		fit_bayesian(run, seed);
	}
	else
	{
		double		start_time = RsSeconds();

		init_factors(run, run->X, n_users, seed, false, 0.01f);
		init_factors(run, run->Y, n_items, seed ^ UINT64_C(0x5DEECE66D), false, 0.01f);
		elog(DEBUG1, "train_cf: starting factors %.3f s", RsSeconds() - start_time);
		for (int it = 0; it < run->iterations; it++)
		{
			half_step(run, run->by_user, run->X, run->xbias, run->Y, run->ybias, n_items, NULL);
			half_step(run, run->by_item, run->Y, run->ybias, run->X, run->xbias, n_users,
					  run->item_side);
			RsProgressIteration(it + 1, run->iterations, NULL, NAN, NULL);
		}
	}

	if (run->explicit_feedback)
	{
		double		rmse;

		check_status(rs_rmse(&d->by_user, run->X, run->xbias, run->Y, run->ybias, run->mu, k,
							 (float) d->min_weight, (float) d->max_weight,
							 RsCancelRequested, NULL, &rmse));
		return rmse;
	}
	else
	{
		double		loss;
		double		start_time = RsSeconds();

		RsGram(run->Y, n_items, k, run->gram);
		/*
		 * with scaled regularisation, the data term only; the users' rows
		 * only (the features' loss is weighted, not the interactions')
		 */
		check_status(rs_als_implicit_loss(&d->by_user, run->X, run->Y, run->gram, k,
										  run->reg_exponent != 0 ? 0.0f : run->reg,
										  run->alpha, run->threads, RsCancelRequested, NULL,
										  &loss));
		elog(DEBUG1, "train_cf: final Gram and loss %.3f s", RsSeconds() - start_time);
		return loss / Max(d->by_user.nnz, 1);
	}
}

/*
 * The average user of an implicit model: the mean of the user vectors,
 * whose scores are the mean of every user's scores, serving's cold-start
 * scores (kind_factors.c).  Stored in stats, so that a model without
 * stored users has it too.
 */
static void
write_mean_user(CfRun *run, StringInfo stats)
{
	int			k = run->k;
	int64		n_users = run->data.users.count;
	double	   *sum = palloc0(sizeof(double) * k);
	float	   *mean = palloc(sizeof(float) * k);

	for (int64 u = 0; u < n_users; u++)
	{
		if ((u & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int f = 0; f < k; f++)
			sum[f] += run->X[u * k + f];
	}
	for (int f = 0; f < k; f++)
		mean[f] = (float) (sum[f] / Max(n_users, 1));
	RsJsonFloatArray(stats, "mean_user_factors", mean, k);
	pfree(sum);
	pfree(mean);
}

/* The item statistics and factors of a version (RsTrainWriter). */
static void
write_factors(RsTrainer *trainer, int32 version, void *arg)
{
	CfRun	   *run = arg;

	RsWriteItemStatsFromData(trainer->name, version, &run->data);
	if (run->store_users)
		RsWriteFactors(RS_USERS, trainer->name, version, run->data.users.ids, run->xbias, run->X,
					   run->data.users.count, run->k);
	RsWriteFactors(RS_ITEMS, trainer->name, version, run->data.items.ids, run->ybias, run->Y,
				   run->data.items.count, run->k);
	RsColdStore(trainer->name, version, &run->cold);
	RsColdWrite(trainer->name, version, &run->cold, run->cold_ids, run->cold_vectors, run->n_cold);
}

/*
 * Add one pseudo-user per categorical feature to the matrices ALS runs on
 * (collective factorisation): row n_users + f of the users' side holds
 * the items that have feature f, with their values; the items' side holds
 * them as columns n_users + f, after the users, whose loss the item
 * half-step weighs by feature_weight (weighted collective factorisation,
 * rs_als_implicit_update_weighted; src/item_cold.c says why).  A
 * feature's own vector is solved like a user's: its whole loss, its
 * regularisation included, is weighted alike, so the weight cancels.
 */
static void
add_feature_pseudo_users(CfRun *run, const RsCsr *features)
{
	RsInteractions *d = &run->data;
	RsCsr	   *T = &run->item_features;
	RsCsr	   *U = palloc0(sizeof(RsCsr));
	RsCsr	   *I = palloc0(sizeof(RsCsr));
	int32		n_users = d->users.count;

	T->indptr = palloc(sizeof(int64) * (d->items.count + 1));
	T->indices = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(int32) * Max(features->nnz, 1), MCXT_ALLOC_HUGE);
	T->data = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(float) * Max(features->nnz, 1), MCXT_ALLOC_HUGE);
	rs_csr_transpose(features, T);
	RsCheckTrainingMemory("the features as pseudo-users",
						  2 * (RsInteractionBytes(d) + (Size) features->nnz * 2 * (sizeof(int32) + sizeof(float))), d);

	/* users' side: the users' rows, then one per feature */
	U->n_rows = n_users + features->n_rows;
	U->n_cols = d->items.count;
	U->nnz = d->by_user.nnz + features->nnz;
	U->indptr = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(int64) * (U->n_rows + 1), MCXT_ALLOC_HUGE);
	U->indices = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(int32) * U->nnz, MCXT_ALLOC_HUGE);
	U->data = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(float) * U->nnz, MCXT_ALLOC_HUGE);
	memcpy(U->indptr, d->by_user.indptr, sizeof(int64) * (n_users + 1));
	memcpy(U->indices, d->by_user.indices, sizeof(int32) * d->by_user.nnz);
	memcpy(U->data, d->by_user.data, sizeof(float) * d->by_user.nnz);
	for (int32 f = 0; f < features->n_rows; f++)
		U->indptr[n_users + f + 1] = d->by_user.nnz + features->indptr[f + 1];
	memcpy(U->indices + d->by_user.nnz, features->indices, sizeof(int32) * features->nnz);
	memcpy(U->data + d->by_user.nnz, features->data, sizeof(float) * features->nnz);

	/* items' side: each item's users, then its features as columns n_users + f */
	I->n_rows = d->items.count;
	I->n_cols = U->n_rows;
	I->nnz = U->nnz;
	I->indptr = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(int64) * (I->n_rows + 1), MCXT_ALLOC_HUGE);
	I->indices = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(int32) * I->nnz, MCXT_ALLOC_HUGE);
	I->data = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(float) * I->nnz, MCXT_ALLOC_HUGE);
	I->indptr[0] = 0;
	for (int32 i = 0; i < I->n_rows; i++)
	{
		int64		out = I->indptr[i];

		if ((i & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int64 a = d->by_item.indptr[i]; a < d->by_item.indptr[i + 1]; a++, out++)
		{
			I->indices[out] = d->by_item.indices[a];
			I->data[out] = d->by_item.data[a];
		}
		for (int64 a = T->indptr[i]; a < T->indptr[i + 1]; a++, out++)
		{
			I->indices[out] = n_users + T->indices[a];
			I->data[out] = T->data[a];
		}
		I->indptr[i + 1] = out;
	}
	run->by_user = U;
	run->by_item = I;
	run->item_side_weights.first = n_users;
	run->item_side_weights.weight = run->cold.feature_weight;
	run->item_side = &run->item_side_weights;
}

/*
 * Refuse features whose confidence (alpha * max(feature_weight, 1) *
 * largest |value|) is beyond RS_ALS_MAX_FEATURE_CONFIDENCE before the fit,
 * which would fail in single-precision rounding ("not positive
 * definite") after minutes of work (als.h says where the bound comes from).
 */
static void
check_feature_confidence(const CfRun *run, const RsCsr *features)
{
	RsCheckFeatureConfidence(run->alpha, run->cold.feature_weight,
							 rs_als_feature_confidence(1.0f, 1.0f, features->data, features->nnz));
}

/*
 * The interactions' side of the same bound: implicit ALS weighs a pair by
 * 1 + alpha * its weight (weight_col and event weights summed over the
 * pair's rows), which fails in the same single-precision rounding as the
 * features' confidence (review s12 W4: alpha 1e5 x weight 1e6 ended in
 * "not positive definite, increase regularization" after the work).
 */
static void
check_pair_confidence(const CfRun *run)
{
	double		largest = rs_als_feature_confidence(1.0f, 1.0f, run->data.by_user.data,
												   run->data.by_user.nnz);
	double		confidence = (double) run->alpha * largest;

	if (confidence > RS_ALS_MAX_FEATURE_CONFIDENCE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("alpha * the largest |weight| of a (user, item) pair must be at most %g, not %g",
						RS_ALS_MAX_FEATURE_CONFIDENCE, confidence),
				 errdetail("alpha is %g, the largest |weight| %g (a pair's rows summed); beyond that bound the single-precision fit loses positive definiteness.",
						   (double) run->alpha, largest),
				 errhint("Lower alpha, or train on ln(1 + weight) instead of the weight.")));
}

/*
 * Read the features and embeddings (as the caller, like the source) and
 * turn the features into pseudo-users.
 */
static void
read_item_features(CfRun *run, RsTrainer *trainer)
{
	RsColdModel *cm = &run->cold;

	cm->k = run->k;
	cm->item_col = trainer->spec.item_col;
	if (OidIsValid(cm->features))
	{
		RsFeatureRelation rel = {cm->features, "features", "item", trainer->spec.item_col, "item_col", true,
		RS_ALS_MAX_FEATURE_VALUE};
		RsCsr		features;
		RsItemFeatureCounts counts;

		RsReadFeatures(&rel, &run->data.items, RsInteractionBytes(&run->data), &features, &counts,
					   &cm->names);
		cm->n_features = features.n_rows;
		check_feature_confidence(run, &features);
		/* and the cold items', which are folded in after the fit */
		cm->alpha = run->alpha;
		RsColdCheckFeatures(cm, run->data.items.ids, run->data.items.count);
		RsJsonInt(&trainer->stats, "feature_pairs", counts.pairs);
		RsJsonInt(&trainer->stats, "features", counts.features);
		RsJsonInt(&trainer->stats, "items_with_features", counts.items);
		if (cm->n_features > 0)
			add_feature_pseudo_users(run, &features);
	}
	cm->n_cols = run->by_user->n_rows;
}

/*
 * After the fit: the features' vectors and Gram matrix, the embeddings'
 * map, and the cold items' vectors.
 */
static void
finish_item_features(CfRun *run, RsTrainer *trainer)
{
	RsColdModel *cm = &run->cold;
	int32		n_users = run->data.users.count;

	if (!OidIsValid(cm->features) && !OidIsValid(cm->embeddings))
		return;
	cm->alpha = run->alpha;
	cm->reg = run->reg;
	cm->reg_exponent = run->reg_exponent;
	cm->weighted_loss = true;
	cm->n_users = n_users;
	if (cm->n_features > 0)
	{
		cm->vectors = run->X + (Size) n_users * run->k;
		cm->gram = palloc(sizeof(float) * run->k * run->k);
		/* the item half-step's Gramian, the features' rows weighted */
		gram(run, run->X, run->by_user->n_rows, run->item_side, cm->gram);
	}
	RsColdFitMap(cm, &run->data.items, cm->n_features > 0 ? &run->item_features : NULL, run->Y);
	run->n_cold = RsColdItemVectors(cm, run->data.items.ids, run->data.items.count,
									&run->cold_ids, &run->cold_vectors);
	RsJsonInt(&trainer->stats, "cold_items", run->n_cold);
	trainer->n_items += run->n_cold;
}

/*
 * recsys_train_cf(source regclass, factors int, model text, feedback text,
 *				   iterations int, regularization float8, alpha float8,
 *				   user_col name, item_col name, weight_col name, seed bigint,
 *				   solver text, regularization_exponent float8,
 *				   store_users bool, replace bool)
 * trains a factor model and returns its recsys.models row.  With
 * store_users false no per-user row is written: serving folds each user's
 * current rows of the source in at query time (RsModelUserVector).
 */
Datum
recsys_train_cf(PG_FUNCTION_ARGS)
{
	static const RsTrainArgNos argnos = {.model = 2,.cols = 7,.weight_col = 9,.replace = 14,.events = 15};
	RsTrainer	trainer;
	CfRun		run;
	char	   *feedback;
	int64		seed;
	double		loss;
	MemoryContext train_context;
	MemoryContext old;
	Datum		result;

	memset(&run, 0, sizeof(run));
	/* 0.6.0's definition passes weight_col's old name last (16 arguments) */
	if (PG_NARGS() == 16)
		RsRefuseRemovedArg(fcinfo, 15, "rating_col", "weight_col");
	RsTrainArgs(fcinfo, &argnos, &trainer);
	run.k = RsIntArg(fcinfo, 1, "factors", CF_MIN_FACTORS, CF_MAX_FACTORS);
	feedback = RsTextArg(fcinfo, 3, "feedback");
	if (strcmp(feedback, "implicit") == 0)
		run.explicit_feedback = false;
	else if (strcmp(feedback, "explicit") == 0)
		run.explicit_feedback = true;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feedback must be 'implicit' or 'explicit', not '%s'", feedback)));
	if (run.explicit_feedback && trainer.spec.event_col != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event_col needs feedback 'implicit'"),
				 errhint("Event weights make confidences of implicit feedback; ratings are not summed over events.")));
	run.iterations = RsIntArg(fcinfo, 4, "iterations", 1, CF_MAX_ITERATIONS);
	run.reg = (float) RsFloatArg(fcinfo, 5, "regularization", 0, RS_ALS_MAX_REG,
								 run.explicit_feedback ? CF_DEFAULT_EXPLICIT_REG : CF_DEFAULT_IMPLICIT_REG);
	run.alpha = (float) RsFloatArg(fcinfo, 6, "alpha", 0, RS_ALS_MAX_ALPHA, NAN);
	RsRequireArg(fcinfo, 10, "seed");
	seed = PG_GETARG_INT64(10);
	if (run.explicit_feedback && trainer.spec.weight_col == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("explicit feedback needs weight_col"),
				 errhint("Pass the column holding the ratings, e.g. weight_col => 'rating'.")));
	/* solver arrived in 0.2.0: a 0.1.0 definition passes eleven arguments */
	if (PG_NARGS() > 11 && !PG_ARGISNULL(11))
	{
		char	   *solver = text_to_cstring(PG_GETARG_TEXT_PP(11));

		if (strcmp(solver, "bayesian") == 0)
			run.bayesian = true;
		else if (strcmp(solver, "als") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("solver must be 'als' or 'bayesian', not '%s'", solver)));
		if (run.bayesian && !run.explicit_feedback)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("solver 'bayesian' needs feedback 'explicit'")));
		if (run.bayesian && run.alpha <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("alpha, the noise precision of the bayesian solver, must be positive, not %g",
							run.alpha)));
	}
	/* and regularization_exponent in 0.3.0 */
	run.reg_exponent = PG_NARGS() > 12 ?
		(float) RsFloatArg(fcinfo, 12, "regularization_exponent", 0, RS_ALS_MAX_REG_EXPONENT, NAN) : 0;
	if (run.reg_exponent != 0 && run.explicit_feedback)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("regularization_exponent needs feedback 'implicit'"),
				 errhint("Explicit ALS already scales regularization by each row's rating count.")));
	if (run.explicit_feedback && run.reg <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("regularization must be positive for explicit feedback, not %g", run.reg)));
	/* and store_users in 0.6.0; an older definition stores them */
	run.store_users = true;
	if (PG_NARGS() > 13)
	{
		if (PG_ARGISNULL(13))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("store_users must not be NULL"),
					 errhint("Pass true to store a vector per user, false to store none and fold each user's rows in at query time.")));
		run.store_users = PG_GETARG_BOOL(13);
	}
	/* and the item features in 0.8.0 */
	run.cold.cold_weight = 1;
	if (PG_NARGS() > 21)
	{
		if (!PG_ARGISNULL(17))
		{
			double		fw = RsFloatArg(fcinfo, 18, "feature_weight", 0, 1e6, NAN);

			run.cold.features = PG_GETARG_OID(17);

			/*
			 * The weight is a real in the kernel: below FLT_MIN it rounds
			 * to 0 (switching the features off unasked) or to a denormal
			 * that keeps a few bits; refused, not silently changed.
			 */
			if (fw > 0 && fw < FLT_MIN)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("feature_weight must be 0 or between %g and %g, not %g",
								(double) FLT_MIN, 1e6, fw),
						 errhint("0 switches the features off; a smaller positive weight does not fit a real.")));
			run.cold.feature_weight = (float) fw;

			/*
			 * 0 switches the features off (since 0.9.0): the model is the
			 * ALS without them, so a search (tune over feature_weight) can
			 * choose "no features" where they do not help.
			 */
			if (run.cold.feature_weight == 0)
				run.cold.features = InvalidOid;
		}
		if (!PG_ARGISNULL(19))
			RsColdEmbeddingArgs(PG_GETARG_OID(19), trainer.spec.item_col,
								PG_ARGISNULL(20) ? NULL : PG_GETARG_ARRAYTYPE_P(20), &run.cold);
		else if (!PG_ARGISNULL(20))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("embedding_weights needs embeddings"),
					 errdetail("embedding_weights weighs the real[] columns of the embeddings relation, which is NULL."),
					 errhint("Pass embeddings => 'relation', or leave embedding_weights out.")));
		run.cold.cold_weight = (float) RsFloatArg(fcinfo, 21, "cold_item_weight", 0, 1, NAN);
		if ((OidIsValid(run.cold.features) || OidIsValid(run.cold.embeddings)) &&
			(run.explicit_feedback || run.bayesian))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("features and embeddings need feedback 'implicit'"),
					 errhint("Item features join implicit ALS as pseudo-users; train ratings without them.")));
	}
	run.threads = recsys_threads;

	train_context = AllocSetContextCreate(CurrentMemoryContext, "recsys train_cf",
										  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(train_context);

	trainer.max_weight = RS_MAX_GRAM_WEIGHT;
	RsTrainBegin(&trainer, run.explicit_feedback ? "mf" : "als", &run.data);
	if (run.explicit_feedback)
		RsRefuseRepeatedRatings(&trainer, &run.data);
	run.by_user = &run.data.by_user;
	run.by_item = &run.data.by_item;
	if (!run.explicit_feedback)
		check_pair_confidence(&run);
	read_item_features(&run, &trainer);

	loss = fit(&run, (uint64) seed);
	finish_item_features(&run, &trainer);

	RsJsonText(&trainer.params, "feedback", feedback);
	RsJsonInt(&trainer.params, "factors", run.k);
	RsJsonInt(&trainer.params, "iterations", run.iterations);
	RsJsonFloat(&trainer.params, "regularization", run.reg);
	RsJsonFloat(&trainer.params, "alpha", run.alpha);
	RsJsonFloat(&trainer.params, "regularization_exponent", run.reg_exponent);
	RsJsonText(&trainer.params, "solver", run.bayesian ? "bayesian" : "als");
	RsJsonInt(&trainer.params, "seed", seed);
	RsJsonInt(&trainer.params, "threads", run.threads);
	RsJsonRaw(&trainer.params, "store_users", run.store_users ? "true" : "false");
	if (OidIsValid(run.cold.features) || OidIsValid(run.cold.embeddings))
		RsColdDescribe(&run.cold, &trainer.params);

	if (run.explicit_feedback)
	{
		RsJsonFloat(&trainer.stats, "global_mean", run.mu);
		RsJsonFloat(&trainer.stats, "rating_min", run.data.min_weight);
		RsJsonFloat(&trainer.stats, "rating_max", run.data.max_weight);
		RsJsonFloat(&trainer.stats, "train_rmse", loss);
	}
	else
	{
		RsJsonFloat(&trainer.stats, run.reg_exponent != 0 ? "train_data_loss" : "train_loss", loss);
		write_mean_user(&run, &trainer.stats);
	}
	RsJsonFloat(&trainer.stats, "fit_seconds",
				RsSeconds() - trainer.start - run.data.read_seconds - run.data.build_seconds);

	result = RsTrainFinish(fcinfo, &trainer, write_factors, &run);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(train_context);
	PG_RETURN_DATUM(result);
}
