/*-------------------------------------------------------------------------
 *
 * train_knn.c
 *		recsys.train_item_knn() and recsys.train_user_knn(): neighbourhood
 *		models.
 *
 * Item-kNN keeps, for every item, the `neighbors` items most similar to
 * it by the users they share (cosine, Jaccard, or the BM25-weighted dot
 * product of the implicit library's BM25Recommender).  User-kNN keeps the
 * most similar users by cosine, the classic user-based collaborative
 * filtering.  Similarities come from sparse products over shared users
 * (or items); no dense n x n matrix is ever built.  Pairs that co-occur
 * in few rows can be shrunk towards zero: sim * n / (n + shrinkage)
 * (Koren 2010).
 *
 * With epsilon, item-kNN is differentially private (src/privacy.c): the
 * similarities come from the noisy dense co-occurrence matrix instead,
 * which needs n_items^2 floats.
 *
 * The numerics are src/kernel/knn.c; this file owns arguments, reading
 * the source, the memory budget, interrupts between chunks, and writing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "args.h"
#include "cancel.h"
#include "ingest.h"
#include "item_cold.h"
#include "knn.h"
#include "model_acl.h"
#include "dp.h"
#include "ease.h"
#include "model_store.h"
#include "privacy.h"
#include "progress.h"
#include "recency.h"
#include "recsys.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_train_item_knn);
PG_FUNCTION_INFO_V1(recsys_train_user_knn);

#define KNN_MAX_NEIGHBORS 1000
#define KNN_CHUNK_ROWS 1024
/* Candidate visits per thread in one chunk: tens of milliseconds. */
#define KNN_CHUNK_WORK ((int64) 1 << 23)

typedef struct KnnRun
{
	const char *algorithm;		/* item_knn or user_knn */
	const char *similarity;		/* cosine, jaccard, bm25 */
	RsKnnParams params;
	float		bm25_k1;
	float		bm25_b;
	const char *time_col;		/* item-kNN: history weighted by age, or NULL */
	double		half_life;
	RsPrivacy	privacy;		/* item-kNN with epsilon */
	/* item-kNN: cold items' lists from item features (src/item_cold.c) */
	Oid			features;
	float		cold_weight;
	float		map_lambda;		/* > 0: lists learned from the warm lists */
	float		map_self_weight;
	float		map_popularity;
	float		map_content_weight;
	RsColdWordWeights map_word_weights;
	RsNeighborLists lists;
	int64		n_pairs;
	int64	   *cold;
	int64	   *warm;
	float	   *cold_score;
} KnnRun;

/* The lists, then the cold items' (RsTrainWriter). */
static void
write_lists(RsTrainer *trainer, int32 version, void *arg)
{
	KnnRun	   *run = arg;

	RsWriteNeighborLists(trainer, version, &run->lists);
	RsColdNeighborsWrite(trainer->name, version, run->cold, run->warm, run->cold_score, run->n_pairs);
}

static void
check_status(int status)
{
	if (status != RS_KNN_OK)
		ereport(ERROR,
				(errcode(status == RS_KNN_ERR_THREAD ? ERRCODE_INSUFFICIENT_RESOURCES :
						 ERRCODE_INTERNAL_ERROR),
				 errmsg("neighbourhood computation failed: %s", rs_knn_strerror(status))));
}

/*
 * The candidates row a of A visits (rs_knn_row_work): every row that
 * shares a column with it, so the sum of its columns' lengths in At (an
 * item bought by a user who bought everything visits every item).
 */
static int64
row_work(const void *arg, int32 a)
{
	const int64 *work = arg;

	return 1 + work[a];
}

static void *
alloc_huge(Size size)
{
	return MemoryContextAllocExtended(CurrentMemoryContext, Max(size, 1), MCXT_ALLOC_HUGE);
}

/*
 * The neighbours of every item from the noisy co-occurrence matrix of a
 * private model (src/privacy.c) into nbr/sim/count.
 */
static void
private_item_neighbors(KnnRun *run, const RsInteractions *data, int32 *nbr, float *sim,
					   int32 *count)
{
	int32		n = data->items.count;
	int			K = run->params.k;
	float	   *G = alloc_huge((Size) n * n * sizeof(float));
	float	   *diag = alloc_huge((Size) n * sizeof(float));

	/*
	 * An item's own count is taken as at least the largest noise expected
	 * among n entries, sigma sqrt(2 ln n), so that an item whose count is
	 * mostly noise does not look similar to everything.
	 */
	float		min_count = (float) Max(1.0, run->privacy.sigma * sqrt(2.0 * log(Max(n, 2))));

	RsPrivateGram(&run->privacy, data, G);
	if (rs_ease_gram_finish(G, n, NULL, 0, 0, 0, RsCancelRequested, NULL) != 0)
		RsKernelStopped("the private co-occurrence matrix");
	CHECK_FOR_INTERRUPTS();
	/* pairs whose noisy count pure noise would reach are no neighbours */
	check_status(rs_dp_similarities(G, n, run->params.kind, min_count,
									(float) rs_dp_universal_threshold(n, run->privacy.sigma),
									run->params.support_shrink, diag));
	for (int32 begin = 0; begin < n; begin += KNN_CHUNK_ROWS)
	{
		CHECK_FOR_INTERRUPTS();
		rs_dense_top_k(G, n, begin, Min(begin + KNN_CHUNK_ROWS, n), K,
					   nbr + (int64) begin * K, sim + (int64) begin * K, count + begin);
	}
	pfree(G);
	pfree(diag);
}

/*
 * Cosine does not change when every weight is scaled alike, but its float
 * dot products do: weights of 1e-30 multiply to 0 (no pair, every list
 * filled) and weights of 1e30 to infinity.  Both orientations are scaled
 * by the power of two that brings the largest |weight| into [0.5, 1):
 * exact, so the similarities keep their bits wherever they were right.
 * Products of weights then stay within float's normal range unless the
 * smallest nonzero |weight| is below 2^-COSINE_WEIGHT_SPAN of the largest:
 * refused, as such pairs would lose their similarity.  Returns the
 * exponent: scaling back by it restores every weight bit for bit (all
 * stay normal floats), for what reads them after the lists (the item
 * statistics the cold-start fallback serves).
 */
#define COSINE_WEIGHT_SPAN 62

static int
scale_cosine_weights(RsCsr *A, RsCsr *At, const RsSourceSpec *spec)
{
	float		lo;
	float		hi;
	int			exponent;

	rs_csr_abs_range(A, &lo, &hi);
	if (hi == 0.0f)
		return 0;
	if (ldexp(lo, COSINE_WEIGHT_SPAN) < hi)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weights of %s span too wide a range for cosine similarity: the smallest nonzero |weight| %g is "
						"below 2^-%d (%.1e) times its largest, %g",
						RsWeightsName(spec), lo, COSINE_WEIGHT_SPAN, ldexp(1.0, -COSINE_WEIGHT_SPAN), hi),
				 errdetail("Weights are summed per user and item first; products of such weights leave the range "
						   "of real, so pairs of items would lose their similarity."),
				 errhint("Clamp or drop the extreme weights with a view.")));
	(void) frexpf(hi, &exponent);
	rs_csr_scale_pow2(A, -exponent);
	rs_csr_scale_pow2(At, -exponent);
	return exponent;
}

/*
 * BM25 is not scale-free (k1 compares a weight with the document length),
 * so its weights are not rescaled: a weighted entry whose square is below
 * float's normal range makes dot products that vanish (weights of 1e-30:
 * no pair), refused instead.
 */
static void
check_bm25_range(const RsCsr *A, const RsSourceSpec *spec)
{
	float		lo;
	float		hi;

	rs_csr_abs_range(A, &lo, &hi);
	if (lo != 0.0f && ldexp(lo, COSINE_WEIGHT_SPAN + 1) < 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weights of %s are too small for BM25: the smallest nonzero BM25 weight, %g, is below "
						"2^-%d (%.1e)", RsWeightsName(spec), lo, COSINE_WEIGHT_SPAN + 1,
						ldexp(1.0, -(COSINE_WEIGHT_SPAN + 1))),
				 errdetail("Products of such weights leave the range of real, so pairs of items would lose their "
						   "similarity."),
				 errhint("Scale the weights towards 1 (bm25_k1 is in their units), or use similarity 'cosine'.")));
}

/*
 * Compute and store the neighbours of every row of A (items for item-kNN,
 * users for user-kNN), and return the trained model's catalog row.
 */
static Datum
train_neighbors(FunctionCallInfo fcinfo, RsTrainer *trainer, KnnRun *run)
{
	RsInteractions data;
	bool		items = strcmp(run->algorithm, "item_knn") == 0;
	RsCsr		A;
	RsCsr		At;
	float	   *norms = NULL;
	int			K = run->params.k;
	int			threads = recsys_threads;
	int32		n_rows;
	int32	   *nbr;
	float	   *sim;
	int32	   *count;
	void	   *workspace;
	Size		work_bytes;
	int64		pairs = 0;
	int64	   *work = NULL;
	int			cosine_exponent = 0;

	RsTrainBegin(trainer, run->algorithm, &data);
	if (run->time_col)
		RsRequireTimedRow(&trainer->spec, run->time_col);

	/*
	 * Similarities of weighted histories assume weights >= 0: a negative
	 * one would make two users' dislikes a likeness (cosine), or a
	 * logarithm of BM25's undefined.  Checked on the pairs as summed
	 * (duplicate rows of one pair add up; a row may cancel another), so
	 * one pass over them.  (train_cf takes negative weights: implicit ALS
	 * reads one as a dislike, confidence 1 + alpha |w|.)
	 */
	if (data.min_weight < 0)
	{
		for (int64 j = 0; j < data.by_user.nnz; j++)
		{
			if ((j & 0xFFFFF) == 0)
				CHECK_FOR_INTERRUPTS();
			if (data.by_user.data[j] < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("weight_col \"%s\" gives a (user, item) pair a negative weight (%g); %s needs weights >= 0",
								trainer->spec.weight_col ? trainer->spec.weight_col : "",
								(double) data.by_user.data[j], items ? "train_item_knn" : "train_user_knn"),
						 errdetail("Duplicate rows of a pair are summed first."),
						 errhint("Filter the rows out with a view, or map dislikes to 0 (NULL skips a row).")));
		}
	}
	A = items ? data.by_item : data.by_user;
	At = items ? data.by_user : data.by_item;
	n_rows = A.n_rows;

	work_bytes = run->privacy.enabled ? 0 : rs_knn_workspace_bytes(&run->params, n_rows, threads);
	if (run->privacy.enabled)
		RsCheckTrainingMemory("the dense item x item matrix (for epsilon) and neighbour lists",
							  (Size) n_rows * n_rows * sizeof(float) +
							  (Size) n_rows * K * (sizeof(int32) + sizeof(float)), &data);
	else
		RsCheckTrainingMemory("neighbour lists",
							  (Size) n_rows * K * (sizeof(int32) + sizeof(float)) + work_bytes +
							  (Size) n_rows * sizeof(int64) +
							  (strcmp(run->similarity, "bm25") == 0 ? 2 * (Size) A.nnz * sizeof(float) : 0),
							  &data);

	if (run->privacy.enabled)
		;						/* similarities from the noisy counts below */
	else if (strcmp(run->similarity, "bm25") == 0)
	{
		/* implicit's orientation: documents are items, terms are users */
		float	   *a_data = alloc_huge((Size) A.nnz * sizeof(float));
		float	   *at_data = alloc_huge((Size) At.nnz * sizeof(float));
		double	   *scratch = alloc_huge(rs_bm25_scratch_count(&A) * sizeof(double));

		check_status(rs_bm25_weight_threads(&A, &At, run->bm25_k1, run->bm25_b, threads, scratch,
											a_data, at_data));
		A.data = a_data;
		At.data = at_data;
		pfree(scratch);
		check_bm25_range(&A, &trainer->spec);
	}
	else if (run->params.kind == RS_KNN_COSINE)
	{
		/* (in place, scaled back after the lists) */
		cosine_exponent = scale_cosine_weights(&A, &At, &trainer->spec);
		norms = alloc_huge((Size) n_rows * sizeof(float));
		rs_knn_row_norms(&A, norms);
	}

	nbr = alloc_huge((Size) n_rows * K * sizeof(int32));
	sim = alloc_huge((Size) n_rows * K * sizeof(float));
	count = alloc_huge((Size) n_rows * sizeof(int32));
	workspace = alloc_huge(work_bytes);
	if (run->privacy.enabled)
		private_item_neighbors(run, &data, nbr, sim, count);
	else
	{
		/* every row's cost, once: for the chunks and the kernel's choices */
		work = alloc_huge((Size) n_rows * sizeof(int64));
		check_status(rs_knn_row_work(&A, &At, threads, work));
		run->params.row_work = work;
	}
	for (int32 begin = 0, end; begin < n_rows && !run->privacy.enabled; begin = end)
	{
		/* chunks of bounded work, so a cancel is honoured quickly */
		end = RsChunkEnd(begin, n_rows, KNN_CHUNK_ROWS, KNN_CHUNK_WORK * Max(threads, 1),
						 row_work, work);
		CHECK_FOR_INTERRUPTS();
		check_status(rs_knn_build(&A, &At, norms, &run->params, begin, end, threads,
								  workspace, nbr + (int64) begin * K, sim + (int64) begin * K,
								  count + begin));
		RsProgressWork(end, n_rows);
	}
	if (cosine_exponent != 0)
	{
		rs_csr_scale_pow2(&A, cosine_exponent);
		rs_csr_scale_pow2(&At, cosine_exponent);
	}
	for (int32 r = 0; r < n_rows; r++)
		pairs += count[r];

	RsJsonInt(&trainer->params, "neighbors", K);
	RsJsonText(&trainer->params, "similarity", run->similarity);
	RsJsonFloat(&trainer->params, "shrinkage", run->params.support_shrink);
	if (strcmp(run->similarity, "bm25") == 0)
	{
		RsJsonFloat(&trainer->params, "bm25_k1", run->bm25_k1);
		RsJsonFloat(&trainer->params, "bm25_b", run->bm25_b);
	}
	RsJsonInt(&trainer->params, "threads", threads);
	if (run->time_col)
	{
		RsJsonText(&trainer->params, "time_col", run->time_col);
		RsJsonFloat(&trainer->params, "half_life_seconds", run->half_life);
	}
	RsPrivacyDescribe(&run->privacy, &trainer->params);
	RsJsonInt(&trainer->stats, "neighbor_pairs", pairs);
	/* exact counts of the source: not in a private model */
	trainer->exact_counts = !run->privacy.enabled;
	RsJsonFloat(&trainer->stats, "fit_seconds", RsSeconds() - trainer->start - data.read_seconds - data.build_seconds);

	if (run->privacy.enabled)
	{
		trainer->n_users = run->privacy.noisy_users;
		trainer->n_interactions = run->privacy.noisy_interactions;
	}
	if (OidIsValid(run->features))
	{
		int32		n_cold;
		RsColdNeighborMap map = {0};

		if (run->map_lambda > 0)
		{
			RsNeighborListsCsr(n_rows, K, nbr, sim, count, &map.S);
			map.lambda = run->map_lambda;
			map.self_weight = run->map_self_weight;
			map.max_iter = RS_COLD_MAP_ITERATIONS;
			map.popularity_exponent = run->map_popularity;
			map.content_weight = run->map_content_weight;
			map.word_weights = run->map_word_weights;
			if (run->map_popularity != 0)
			{
				float	   *log_users = palloc(sizeof(float) * Max(n_rows, 1));

				for (int32 i = 0; i < n_rows; i++)
					log_users[i] = (float) log1p((double) (data.by_item.indptr[i + 1] - data.by_item.indptr[i]));
				map.log_users = log_users;
			}
		}
		run->n_pairs = RsColdNeighbors(run->features, trainer->spec.item_col, data.items.ids,
									   data.items.count, K, run->cold_weight,
									   run->map_lambda > 0 ? &map : NULL, &run->cold,
									   &run->warm, &run->cold_score, &n_cold);
		RsJsonText(&trainer->params, "features", RsRelationName(run->features));
		RsJsonText(&trainer->params, "features_owner", RsRelationOwnerName(run->features));
		RsJsonFloat(&trainer->params, "cold_item_weight", run->cold_weight);
		if (run->map_lambda > 0)
		{
			RsJsonFloat(&trainer->params, "cold_map_regularization", run->map_lambda);
			RsJsonFloat(&trainer->params, "cold_map_self_weight", run->map_self_weight);
			RsJsonFloat(&trainer->params, "cold_map_popularity", run->map_popularity);
			RsJsonFloat(&trainer->params, "cold_map_content_weight", run->map_content_weight);
			RsJsonText(&trainer->params, "cold_map_word_weights", RsColdWordWeightsName(run->map_word_weights));
		}
		RsJsonInt(&trainer->stats, "cold_items", n_cold);
		trainer->n_items += n_cold;
	}
	run->lists.side = items ? RS_ITEMS : RS_USERS;
	run->lists.privacy = &run->privacy;
	run->lists.slots = K;
	run->lists.count = count;
	run->lists.neighbor = nbr;
	run->lists.score = sim;
	run->lists.rows = NULL;	/* every item or user */
	return RsTrainFinish(fcinfo, trainer, write_lists, run);
}

/* Start a run of algorithm: the arguments both kNN trainers have. */
static void
common_args(FunctionCallInfo fcinfo, const RsTrainArgNos *argnos, const char *algorithm,
			int shrink_argno, RsTrainer *trainer, KnnRun *run)
{
	memset(run, 0, sizeof(KnnRun));
	run->algorithm = algorithm;
	RsTrainArgs(fcinfo, argnos, trainer);
	run->params.k = RsIntArg(fcinfo, 1, "neighbors", 1, KNN_MAX_NEIGHBORS);
	run->params.support_shrink = (float) RsFloatArg(fcinfo, shrink_argno, "shrinkage", 0, 1e9, NAN);
	run->params.shrink = 0;
}

/*
 * recsys_train_item_knn(source regclass, neighbors int, model text,
 *						 similarity text, shrinkage float8, bm25_k1 float8,
 *						 bm25_b float8, user_col name, item_col name,
 *						 weight_col name, time_col name, half_life interval,
 *						 epsilon float8, delta float8, max_user_items int,
 *						 seed int8, replace bool, event_col name,
 *						 event_weights jsonb, features regclass,
 *						 cold_item_weight float8, cold_map_regularization float8,
 *						 cold_map_self_weight float8, cold_map_popularity float8,
 *						 cold_map_content_weight float8, cold_map_word_weights text)
 */
Datum
recsys_train_item_knn(PG_FUNCTION_ARGS)
{
	static const RsTrainArgNos argnos = {.model = 2,.cols = 7,.weight_col = 9,.replace = 16,.events = 17};
	RsTrainer	trainer;
	KnnRun		run;

	common_args(fcinfo, &argnos, "item_knn", 4, &trainer, &run);
	run.similarity = RsTextArg(fcinfo, 3, "similarity");
	if (strcmp(run.similarity, "cosine") == 0)
		run.params.kind = RS_KNN_COSINE;
	else if (strcmp(run.similarity, "jaccard") == 0)
		run.params.kind = RS_KNN_JACCARD;
	else if (strcmp(run.similarity, "bm25") == 0)
		run.params.kind = RS_KNN_DOT;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("similarity must be 'cosine', 'jaccard' or 'bm25', not '%s'", run.similarity)));
	run.bm25_k1 = (float) RsFloatArg(fcinfo, 5, "bm25_k1", 0, 1e6, NAN);
	run.bm25_b = (float) RsFloatArg(fcinfo, 6, "bm25_b", 0, 1, NAN);
	/* time_col and half_life arrived in 0.3.0 */
	if (PG_NARGS() > 11)
		RsTimeDecayArgs(fcinfo, 10, trainer.spec.relid, &run.time_col, &run.half_life);
	/* and these in 0.6.0 */
	RsPrivacyArgs(fcinfo, 12, &run.privacy);
	RsPrivacyRefuse(&run.privacy, trainer.spec.weight_col != NULL, "weight_col");
	RsPrivacyRefuse(&run.privacy, trainer.spec.event_col != NULL, "event_col");
	RsPrivacyRefuse(&run.privacy, run.params.kind == RS_KNN_DOT, "similarity 'bm25'");
	/* and these in 0.8.0 */
	run.cold_weight = 1;
	if (PG_NARGS() > 20)
	{
		if (!PG_ARGISNULL(19))
			run.features = PG_GETARG_OID(19);
		run.cold_weight = (float) RsFloatArg(fcinfo, 20, "cold_item_weight", 0, 1, NAN);
	}
	/* and these in 0.9.0 */
	if (PG_NARGS() > 24)
	{
		if (!PG_ARGISNULL(21))
			run.map_lambda = (float) RsFloatArg(fcinfo, 21, "cold_map_regularization", 1e-6, 1e6, NAN);
		run.map_self_weight = (float) RsFloatArg(fcinfo, 22, "cold_map_self_weight", 0, 1e6, NAN);
		run.map_popularity = (float) RsFloatArg(fcinfo, 23, "cold_map_popularity", -10, 10, NAN);
		run.map_content_weight = (float) RsFloatArg(fcinfo, 24, "cold_map_content_weight", 0, 1e6, NAN);
		/* and this in 0.10.0 */
		if (PG_NARGS() > 25)
		{
			const char *w = RsTextArg(fcinfo, 25, "cold_map_word_weights");

			if (!RsColdWordWeightsByName(w, &run.map_word_weights))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("cold_map_word_weights must be 'tfidf', 'sqrtidf' or 'binary', not '%s'", w)));
		}
		/* the learned lists' settings say nothing without them */
		if (run.map_lambda == 0)
		{
			const char *ignored = run.map_self_weight != 0 ? "cold_map_self_weight" :
				run.map_popularity != 0 ? "cold_map_popularity" :
				run.map_content_weight != 0 ? "cold_map_content_weight" :
				run.map_word_weights != RS_COLD_WORDS_TFIDF ? "cold_map_word_weights" : NULL;

			if (ignored != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s needs cold_map_regularization", ignored),
						 errhint("It weighs the cold items' learned lists: pass cold_map_regularization "
								 "(e.g. 1) to learn them, or leave %s at %s.", ignored,
								 strcmp(ignored, "cold_map_word_weights") == 0 ? "'tfidf'" : "0")));
		}
		if (run.map_lambda > 0 && !OidIsValid(run.features))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cold_map_regularization needs features"),
					 errhint("Pass the items' features relation, or leave cold_map_regularization NULL.")));
	}

	PG_RETURN_DATUM(train_neighbors(fcinfo, &trainer, &run));
}

/*
 * recsys_train_user_knn(source regclass, neighbors int, model text,
 *						 shrinkage float8, user_col name, item_col name,
 *						 weight_col name, replace bool)
 */
Datum
recsys_train_user_knn(PG_FUNCTION_ARGS)
{
	static const RsTrainArgNos argnos = {.model = 2,.cols = 4,.weight_col = 6,.replace = 7};
	RsTrainer	trainer;
	KnnRun		run;

	common_args(fcinfo, &argnos, "user_knn", 3, &trainer, &run);
	run.similarity = "cosine";
	run.params.kind = RS_KNN_COSINE;
	PG_RETURN_DATUM(train_neighbors(fcinfo, &trainer, &run));
}
