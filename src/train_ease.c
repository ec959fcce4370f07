/*-------------------------------------------------------------------------
 *
 * train_ease.c
 *		recsys.train_ease(): Steck's EASE, the closed-form item-item model.
 *
 * B = I - P diagMat(1 / diag(P)), P = (X^T X + lambda I)^-1, computed in
 * single precision through OpenBLAS's Cholesky (src/kernel/ease.c) and
 * kept as each item's strongest weights in the neighbour lists, so it is
 * served by recommend, similar_items and explain like an item-kNN model:
 * the score of item j for user u is sum over u's items i of B_ij.
 *
 * keep < 1 makes the model compact: only the keep share of B's
 * off-diagonal weights largest in magnitude over the whole matrix are
 * stored (rs_ease_magnitude_floor finds the magnitude from a histogram,
 * rs_ease_neighbors drops the weights below it and every zero).  On
 * ml-latest-small a tenth of the weights scored within 0.002 NDCG@10 of
 * the exact model with a tenth of its size (doc/internals.md); a floor
 * over the whole matrix lost less than one per item (a share of each
 * row's largest) at the same size.
 *
 * Options beyond Steck's model: dropout (see src/kernel/ease.c), users
 * weighted by a power of their item count when the item-item statistics
 * are gathered (user_exponent), target items damped by a power of their
 * popularity (popularity_exponent), and a time column with a half-life,
 * which weights each user's history by its age when the model scores
 * (src/recency.c); training reads no times.  Item features (a table of
 * (item, feature) rows: categories, brands, title words) join the Gram
 * matrix as extra rows of X (src/kernel/ease.c, src/item_features.c), so
 * items that share features become neighbours.
 *
 * max_items (0.12.0) fits the model over the catalog's max_items items
 * with the most users alone, as if the source held no other item: the
 * model's catalog (item statistics, counts) is those items, so serving
 * skips the others in a user's history as it skips items newer than the
 * model (a half-life's ages count from his latest modelled item; a user
 * with none of them is cold) and never recommends them.  The cubic
 * inversion and the n_items^2 matrix then follow max_items, not the
 * catalog: on ml-latest-small's validation
 * split the 2,000 most popular of 9,700 items (78% of the interactions)
 * scored as the whole catalog, on online-retail's the 2,000 of 3,600
 * (93%) 0.7% lower (doc/internals.md, "EASE over the most popular
 * items"); train_auto's lighter EASE uses it on large catalogs.
 *
 * The dense Gram matrix needs n_items^2 floats; a catalog that would need
 * more than recsys.max_memory is refused before anything is allocated.
 * The inversion is the one step that uses OpenBLAS's own threads
 * (recsys.threads of them, for its duration); it runs block by block and
 * stops between blocks when the statement is cancelled.
 *
 * With epsilon, the model is differentially private (src/privacy.c): the
 * Gram matrix gets calibrated noise before lambda is added, pairs whose
 * noisy count noise alone could reach are dropped, and lambda is raised by
 * the noise's spectral norm so that the matrix stays positive definite.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "args.h"
#include "blas_loader.h"
#include "cancel.h"
#include "dp.h"
#include "ease.h"
#include "ingest.h"
#include "item_features.h"
#include "model_store.h"
#include "privacy.h"
#include "recency.h"
#include "recsys.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_train_ease);

#define EASE_MAX_NEIGHBORS 100000
/*
 * Rows of neighbour lists per cancel check: at most 256, and at most
 * EASE_CHUNK_SLOTS slots (rows x K).  The lists' arrays are fresh memory
 * whose first write faults its pages in (about 37 ns a float on a 2-core
 * test machine): 256 rows of 3,999 slots took 0.1 s between checks.
 */
#define EASE_CHUNK_ROWS 256
#define EASE_CHUNK_SLOTS (1 << 18)

/*
 * An item's diagonal entry of the Gram matrix is its sum of squared
 * weights, and bounds the item's other entries (Cauchy-Schwarz): weights
 * whose squares overflow float leave infinities there, and the inverse is
 * then NaN (no neighbour list at all).  Rescaling would not do: lambda is
 * in the units of the squared weights (weights divided by s with lambda
 * divided by s^2 give the same model), so the user is asked to.
 */
static void
check_gram_range(const float *G, int32 n, const RsSourceSpec *spec)
{
	for (int32 i = 0; i < n; i++)
		if (!isfinite(G[(int64) i * n + i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("weights of %s are too large for EASE: an item's sum of squared weights exceeds "
							"the range of real (%g)",
							RsWeightsName(spec), FLT_MAX),
					 errdetail("Each item's sum of squared weights over its users must stay within real: "
							   "|weight| below about 1e19, less for items of many users."),
					 errhint("Divide the weights by a factor s and regularization by s^2: the model is the same.")));
}

/*
 * recsys_train_ease(source regclass, regularization float8, model text,
 *					 neighbors int, user_col name, item_col name,
 *					 weight_col name, dropout float8, user_exponent float8,
 *					 popularity_exponent float8, time_col name,
 *					 half_life interval, features regclass,
 *					 feature_weight float8, epsilon float8, delta float8,
 *					 max_user_items int, seed int8, replace bool,
 *					 event_col name, event_weights jsonb, keep float8)
 *					 trains an EASE model.
 */
Datum
recsys_train_ease(PG_FUNCTION_ARGS)
{
	static const RsTrainArgNos argnos = {.model = 2,.cols = 4,.weight_col = 6,.replace = 18,.events = 19};
	RsTrainer	trainer;
	RsInteractions data;
	char	   *name;
	double		lambda;
	double		dropout;
	double		user_exponent;
	double		popularity_exponent;
	const char *time_col = NULL;
	double		half_life = 0;
	float	   *user_weight = NULL;
	Oid			features_relid = InvalidOid;
	double		feature_weight = 0;
	RsCsr		features;
	RsItemFeatureCounts feature_counts;
	Size		model_bytes;
	double		features_seconds = 0;
	float	   *column_scale = NULL;
	int			stopped;
	int			K;
	int32		chunk_rows;
	double		keep;
	float		min_magnitude = 0;
	bool		binary;
	int32		n;
	Size		gram_bytes;
	float	   *G;
	int32	   *nbr;
	float	   *weight;
	int32	   *count;
	int			info;
	double		fit_start;
	RsPrivacy	privacy;
	double		noise_ridge = 0;
	RsNeighborLists lists;
	int32		max_items = 0;
	const RsCsr *X;
	bool		capped;
	Size		copy_bytes = 0;
	RsCsr		kept_by_user;
	int32	   *kept_index = NULL;
	int32	   *kept_rows = NULL;
	int64	   *kept_count = NULL;

	RsTrainArgs(fcinfo, &argnos, &trainer);
	name = trainer.name;
	/* 0.6.0's definition passes regularization's old name last (20 arguments) */
	if (PG_NARGS() == 20)
		RsRefuseRemovedArg(fcinfo, 19, "lambda", "regularization");
	lambda = RsFloatArg(fcinfo, 1, "regularization", 1e-6, 1e9, NAN);
	/* NULL neighbors: every weight, the exact model */
	K = PG_ARGISNULL(3) ? EASE_MAX_NEIGHBORS : RsIntArg(fcinfo, 3, "neighbors", 1, EASE_MAX_NEIGHBORS);
	/* and keep in 0.8.0: before it, every weight */
	keep = PG_NARGS() > 21 ? RsFloatArg(fcinfo, 21, "keep", 1e-6, 1, 1) : 1;
	/* and max_items in 0.12.0 (NULL: the whole catalog) */
	if (PG_NARGS() > 22 && !PG_ARGISNULL(22))
		max_items = RsIntArg(fcinfo, 22, "max_items", 2, PG_INT32_MAX);
	binary = !RsSourceWeighted(&trainer.spec);
	/* dropout arrived in 0.2.0: a 0.1.0 definition passes seven arguments */
	dropout = PG_NARGS() > 7 ? RsFloatArg(fcinfo, 7, "dropout", 0, 0.99, NAN) : 0;
	/* and these in 0.3.0 */
	user_exponent = PG_NARGS() > 8 ? RsFloatArg(fcinfo, 8, "user_exponent", 0, 2, NAN) : 0;
	popularity_exponent = PG_NARGS() > 9 ? RsFloatArg(fcinfo, 9, "popularity_exponent", -2, 2, NAN) : 0;
	if (PG_NARGS() > 11)
		RsTimeDecayArgs(fcinfo, 10, trainer.spec.relid, &time_col, &half_life);
	/* and these in 0.5.0 */
	if (PG_NARGS() > 13 && !PG_ARGISNULL(12))
	{
		features_relid = PG_GETARG_OID(12);
		feature_weight = RsFloatArg(fcinfo, 13, "feature_weight", 0, 1000, NAN);
	}
	/* and these in 0.6.0 */
	RsPrivacyArgs(fcinfo, 14, &privacy);
	RsPrivacyRefuse(&privacy, trainer.spec.weight_col != NULL, "weight_col");
	RsPrivacyRefuse(&privacy, trainer.spec.event_col != NULL, "event_col");
	RsPrivacyRefuse(&privacy, user_exponent != 0, "user_exponent");
	if (privacy.enabled && max_items > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("max_items cannot be combined with epsilon"),
				 errdetail("max_items keeps the items with the most users by their exact counts, which a differentially private model does not release.")));

	trainer.max_weight = RS_MAX_GRAM_WEIGHT;
	RsTrainBegin(&trainer, "ease", &data);
	if (time_col)
		RsRequireTimedRow(&trainer.spec, time_col);
	n = data.items.count;
	X = &data.by_user;
	/* (max_items: the catalog's items with the most users alone, below) */
	capped = max_items > 0 && max_items < n;
	if (capped)
	{
		n = max_items;
		/* the interactions with them, a copy of at most the source's */
		copy_bytes = sizeof(int64) * ((Size) data.by_user.n_rows + 1)
			+ (sizeof(int32) + sizeof(float)) * (Size) Max(data.by_user.nnz, 1)
			+ (sizeof(int64) * 2 + sizeof(int32)) * (Size) data.items.count;
	}
	K = Min(K, Max(n - 1, 1));

	/* refuse an oversized catalog before reading any features */
	gram_bytes = (Size) n * (Size) n * sizeof(float);
	model_bytes = gram_bytes + (Size) n * K * (sizeof(int32) + sizeof(float)) + copy_bytes;
	RsCheckTrainingMemory("the dense item x item matrix and neighbour lists", model_bytes, &data);
	if (capped)
	{
		int32		n_all = data.items.count;
		int64	   *scratch = palloc_extended(sizeof(int64) * n_all, MCXT_ALLOC_HUGE);
		int32		users_left = 0;

		/* the items with the most users, and the interactions with them */
		kept_count = palloc_extended(sizeof(int64) * n_all, MCXT_ALLOC_HUGE);
		for (int32 j = 0; j < n_all; j++)
			kept_count[j] = data.by_item.indptr[j + 1] - data.by_item.indptr[j];
		kept_index = palloc_extended(sizeof(int32) * n_all, MCXT_ALLOC_HUGE);
		rs_top_columns(kept_count, n_all, max_items, scratch, kept_index);
		kept_rows = palloc(sizeof(int32) * n);
		for (int32 j = 0; j < n_all; j++)
			if (kept_index[j] >= 0)
			{
				kept_rows[kept_index[j]] = j;
				kept_count[kept_index[j]] = kept_count[j];	/* (j >= its place) */
			}
		pfree(scratch);
		kept_by_user.indptr = palloc_extended(sizeof(int64) * (data.by_user.n_rows + 1), MCXT_ALLOC_HUGE);
		kept_by_user.indices = palloc_extended(sizeof(int32) * Max(data.by_user.nnz, 1), MCXT_ALLOC_HUGE);
		kept_by_user.data = palloc_extended(sizeof(float) * Max(data.by_user.nnz, 1), MCXT_ALLOC_HUGE);
		rs_csr_select_columns(&data.by_user, kept_index, n, &kept_by_user);
		X = &kept_by_user;
		/* the model's counts are the restricted source's */
		for (int32 u = 0; u < kept_by_user.n_rows; u++)
			if (kept_by_user.indptr[u + 1] > kept_by_user.indptr[u])
				users_left++;
		trainer.n_users = users_left;
		trainer.n_items = n;
		trainer.n_interactions = kept_by_user.nnz;
	}
	if (OidIsValid(features_relid))
	{
		features_seconds = RsSeconds();
		/* it holds the features to what recsys.max_memory leaves */
		RsReadItemFeatures(features_relid, trainer.spec.item_col, &data.items,
						   model_bytes + RsInteractionBytes(&data), &features, &feature_counts);
		if (capped)
		{
			/*
			 * the features of the items modelled (in place: entries only
			 * go), and their counts for the stats: those of the restricted
			 * source (review s18 R4)
			 */
			bool	   *has_feature = palloc0(sizeof(bool) * n);

			rs_csr_select_columns(&features, kept_index, n, &features);
			feature_counts.pairs = features.nnz;
			feature_counts.features = 0;
			feature_counts.items = 0;
			for (int32 f = 0; f < features.n_rows; f++)
				if (features.indptr[f + 1] > features.indptr[f])
					feature_counts.features++;
			for (int64 p = 0; p < features.nnz; p++)
				if (!has_feature[features.indices[p]])
				{
					has_feature[features.indices[p]] = true;
					feature_counts.items++;
				}
			pfree(has_feature);
		}
		features_seconds = RsSeconds() - features_seconds;
	}
	fit_start = RsSeconds();
	if (user_exponent != 0)
	{
		user_weight = palloc(sizeof(float) * Max(data.by_user.n_rows, 1));
		rs_ease_user_weights(X, user_exponent, user_weight);
	}
	if (popularity_exponent != 0 && !privacy.enabled)
	{
		/* an item's popularity: its number of distinct users */
		column_scale = palloc(sizeof(float) * n);
		for (int32 j = 0; j < n; j++)
			column_scale[j] = (float) pow((double) (kept_count != NULL ? kept_count[j]
													: data.by_item.indptr[j + 1] - data.by_item.indptr[j]),
										  -popularity_exponent);
	}
	if (OidIsValid(features_relid))
		rs_ease_feature_weights(&features, palloc(sizeof(float) * Max(n, 1)));
	G = MemoryContextAllocExtended(CurrentMemoryContext, gram_bytes, MCXT_ALLOC_HUGE);
	if (privacy.enabled)
	{
		RsPrivateGram(&privacy, &data, G);
		/* pairs whose noisy count pure noise would reach are taken as none */
		rs_dp_threshold_pairs(G, n, (float) rs_dp_universal_threshold(n, privacy.sigma));
		/*
		 * The noise matrix's eigenvalues lie within about 2 sigma sqrt(n)
		 * of 0 (Wigner's semicircle; the largest one exceeds that by
		 * O(sigma n^-1/6)): so much more ridge keeps the noisy Gram
		 * matrix positive definite.
		 */
		noise_ridge = privacy.sigma * (2.0 * sqrt((double) n) + 10.0);
		if (popularity_exponent != 0)
		{
			/* popularity from the noisy counts: the exact ones are private */
			column_scale = palloc(sizeof(float) * n);
			for (int32 j = 0; j < n; j++)
				column_scale[j] = (float) pow(Max(privacy.noisy_counts[j], 1.0), -popularity_exponent);
		}
		stopped = rs_ease_gram_finish(G, n, OidIsValid(features_relid) ? &features : NULL,
									  (float) feature_weight, (float) (lambda + noise_ridge),
									  (float) dropout, RsCancelRequested, NULL);
	}
	else
		stopped = rs_ease_gram(X, binary, user_weight,
							   OidIsValid(features_relid) ? &features : NULL, (float) feature_weight,
							   (float) lambda, (float) dropout, G, RsCancelRequested, NULL);
	/* the kernels ask RsCancelRequested between blocks (see cancel.c) */
	if (stopped == RS_EASE_STOPPED)
		RsKernelStopped(psprintf("training of model \"%s\"", name));
	CHECK_FOR_INTERRUPTS();
	check_gram_range(G, n, &trainer.spec);

	/* the O(n^3) step: OpenBLAS threads for its duration only */
	RsBlasSetThreads(recsys_threads);
	info = rs_ease_invert(G, n, RsCancelRequested, NULL);
	RsBlasSetThreads(1);
	if (info == RS_EASE_STOPPED)
		RsKernelStopped(psprintf("training of model \"%s\"", name));
	if (info == RS_EASE_BAD_CALL)
		elog(ERROR, "LAPACK refused an argument while inverting the Gram matrix of \"%s\"", name);
	if (info != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the Gram matrix of \"%s\" is not positive definite", name),
				 errhint("Increase regularization.")));
	CHECK_FOR_INTERRUPTS();

	nbr = MemoryContextAllocExtended(CurrentMemoryContext, (Size) n * K * sizeof(int32), MCXT_ALLOC_HUGE);
	weight = MemoryContextAllocExtended(CurrentMemoryContext, (Size) n * K * sizeof(float), MCXT_ALLOC_HUGE);
	count = palloc(sizeof(int32) * n);
	/* compact EASE: the largest weights of the whole matrix by magnitude */
	if (keep < 1 &&
		rs_ease_magnitude_floor(G, n, column_scale, (int64) ceil(keep * n * (double) (n - 1)),
								&min_magnitude, RsCancelRequested, NULL) == RS_EASE_STOPPED)
		RsKernelStopped(psprintf("training of model \"%s\"", name));
	chunk_rows = Max(1, Min(EASE_CHUNK_ROWS, EASE_CHUNK_SLOTS / K));
	for (int32 begin = 0; begin < n; begin += chunk_rows)
	{
		int32		end = Min(begin + chunk_rows, n);

		CHECK_FOR_INTERRUPTS();
		rs_ease_neighbors(G, n, begin, end, column_scale, min_magnitude, K, nbr + (int64) begin * K,
						  weight + (int64) begin * K, count + begin);
		if (privacy.enabled)
			rs_dp_drop_zero_weights(nbr + (int64) begin * K, weight + (int64) begin * K,
									count + begin, end - begin, K);
	}
	pfree(G);

	RsJsonFloat(&trainer.params, "regularization", lambda);
	RsJsonFloat(&trainer.params, "dropout", dropout);
	RsJsonFloat(&trainer.params, "user_exponent", user_exponent);
	RsJsonFloat(&trainer.params, "popularity_exponent", popularity_exponent);
	RsJsonInt(&trainer.params, "neighbors", K);
	RsJsonFloat(&trainer.params, "keep", keep);
	if (max_items > 0)
		RsJsonInt(&trainer.params, "max_items", max_items);
	RsJsonText(&trainer.params, "binary", binary ? "true" : "false");
	RsJsonInt(&trainer.params, "threads", recsys_threads);
	RsJsonText(&trainer.params, "time_col", time_col);
	if (time_col)
		RsJsonFloat(&trainer.params, "half_life_seconds", half_life);
	RsJsonText(&trainer.params, "features", OidIsValid(features_relid) ? RsRelationName(features_relid) : NULL);
	if (OidIsValid(features_relid))
		RsJsonFloat(&trainer.params, "feature_weight", feature_weight);
	RsPrivacyDescribe(&privacy, &trainer.params);
	if (privacy.enabled)
		RsJsonFloat(&trainer.params, "noise_ridge", noise_ridge);
	/* exact counts of the source: not in a private model */
	trainer.exact_counts = !privacy.enabled;
	RsJsonFloat(&trainer.stats, "fit_seconds", RsSeconds() - fit_start);
	RsJsonInt(&trainer.stats, "items_modelled", n);
	if (OidIsValid(features_relid))
	{
		RsJsonInt(&trainer.stats, "feature_pairs", feature_counts.pairs);
		RsJsonInt(&trainer.stats, "features", feature_counts.features);
		RsJsonInt(&trainer.stats, "items_with_features", feature_counts.items);
		RsJsonFloat(&trainer.stats, "features_read_seconds", features_seconds);
	}
	if (privacy.enabled)
	{
		trainer.n_users = privacy.noisy_users;
		trainer.n_interactions = privacy.noisy_interactions;
	}
	lists.side = RS_ITEMS;
	lists.privacy = &privacy;
	lists.slots = K;
	lists.count = count;
	lists.neighbor = nbr;
	lists.score = weight;
	lists.rows = kept_rows;		/* NULL: every item */
	lists.n_rows = n;
	PG_RETURN_DATUM(RsTrainFinish(fcinfo, &trainer, RsWriteNeighborLists, &lists));
}
