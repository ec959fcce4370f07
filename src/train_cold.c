/*-------------------------------------------------------------------------
 *
 * train_cold.c
 *		recsys.train_cold_ranker(): the cold re-ranker, which ranks items
 *		that have features but no interactions (cold items) for a user by a
 *		per-user z-scored mix of content, CB2CF, learned-list and prior terms
 *		(src/kernel/cold_mix.h), its coefficients fitted here on pseudo-cold
 *		items.  Serving is src/kind_cold.c.
 *
 * Training stores, in one version:
 *	item_stats			every trained item (warm) and every item of the
 *						features relation without interactions (cold: no
 *						users, popularity 0);
 *	item_neighbor_lists	the warm items' binary-cosine lists S (what the
 *						learned lists of items added later spread);
 *	item_term_lists		per cold item its content, cb2cf and lists lists
 *						and its prior (src/kind_cold_terms.c).
 *
 * The fit (without coefficients; with regularization NULL also the ridge,
 * among cold_lambdas): pseudo_splits times, a salted 10% of the
 * warm items is hidden - their rows leave the users' histories, S is
 * rebuilt without them, they are not warm for the content, ridge and
 * prior - and their term inputs are built from the rest, as a cold item's
 * are; every user with rows on them and on the rest is a query whose
 * answers are its hidden items, ranked among all the hidden items; the
 * coefficients maximise NDCG@10 there (rs_cold_mix_fit), and the splits'
 * coefficients are averaged (test/bench/cold_lab.c's protocol, whose
 * settings chose the defaults: README, doc/internals.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "args.h"
#include "array_util.h"
#include "cancel.h"
#include "ingest.h"
#include "kind_cold.h"
#include "model_acl.h"
#include "model_store.h"
#include "progress.h"
#include "recsys.h"
#include "rng.h"
#include "spi_util.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_train_cold_ranker);

/* the share of the warm items one pseudo-cold split hides */
#define PSEUDO_SHARE 0.1
/*
 * The ridges regularization => NULL chooses among on pseudo-cold items
 * (the lab's grid: MovieLens wants 10, online retail 1; README)
 */
#define N_COLD_LAMBDAS 3
static const float cold_lambdas[N_COLD_LAMBDAS] = {1.0f, 3.0f, 10.0f};

typedef struct ColdRun
{
	RsInteractions *data;
	RsColdUniverse u;
	int32	   *data_to_u;		/* data item -> universe index */
	uint8	   *warm;			/* per universe item */
	float	   *log_users;		/* per universe item: ln(1 + users) */
	int32	   *s_nbr;			/* the warm lists, k slots per universe item */
	float	   *s_sim;
	int32	   *s_count;
	int			neighbors;
	RsColdBuilt built;			/* of the cold items */
} ColdRun;

static void *
alloc_huge(Size bytes)
{
	return MemoryContextAllocHuge(CurrentMemoryContext, Max(bytes, 1));
}

/* a warm item and its salted hash key */
typedef struct HashedItem
{
	float		key;
	int32		index;
} HashedItem;

static int
hashed_cmp(const void *a, const void *b)
{
	const HashedItem *x = a;
	const HashedItem *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int
int32_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return x < y ? -1 : x > y;
}

/* users x universe binary rows of the training pairs whose item is kept */
static void
history_rows(const ColdRun *run, const uint8 *keep, RsCsr *R)
{
	const RsCsr *by_user = &run->data->by_user;
	int64		nnz = 0;

	R->n_rows = by_user->n_rows;
	R->n_cols = run->u.n;
	R->indptr = alloc_huge(sizeof(int64) * ((Size) by_user->n_rows + 1));
	R->indices = alloc_huge(sizeof(int32) * by_user->nnz);
	R->data = alloc_huge(sizeof(float) * by_user->nnz);
	R->indptr[0] = 0;
	for (int32 u = 0; u < by_user->n_rows; u++)
	{
		for (int64 e = by_user->indptr[u]; e < by_user->indptr[u + 1]; e++)
		{
			int32		i = run->data_to_u[by_user->indices[e]];

			if (keep[i])
			{
				R->indices[nnz] = i;
				R->data[nnz++] = 1;
			}
		}
		R->indptr[u + 1] = nnz;
	}
	R->nnz = nnz;
}

/* the warm lists S over the universe from rows R (slot arrays kept when asked) */
static void
warm_lists(ColdRun *run, const RsCsr *R, RsCsr *S, bool keep_slots)
{
	int32	   *nbr;
	float	   *sim;
	int32	   *count;

	RsColdWarmLists(R, run->neighbors, S, &nbr, &sim, &count);
	if (keep_slots)
	{
		run->s_nbr = nbr;
		run->s_sim = sim;
		run->s_count = count;
	}
	else
	{
		pfree(nbr);
		pfree(sim);
		pfree(count);
	}
}

/* a built set's lists as the CSR a user's terms are computed from */
static void
built_lists(const RsColdBuilt *b, RsColdLists *L)
{
	L->n_rows = b->n;
	L->prior = b->prior;
	for (int l = 0; l < RS_COLD_LISTS; l++)
	{
		int64	   *ptr = alloc_huge(sizeof(int64) * ((Size) b->n + 1));
		int32	   *idx = alloc_huge(sizeof(int32) * (Size) b->n * b->length);
		float	   *val = alloc_huge(sizeof(float) * (Size) b->n * b->length);

		ptr[0] = 0;
		for (int32 t = 0; t < b->n; t++)
		{
			int32		c = b->count[(Size) t * RS_COLD_LISTS + l];
			Size		at = ((Size) t * RS_COLD_LISTS + l) * b->length;

			memcpy(idx + ptr[t], b->idx + at, sizeof(int32) * c);
			memcpy(val + ptr[t], b->val + at, sizeof(float) * c);
			ptr[t + 1] = ptr[t] + c;
		}
		L->indptr[l] = ptr;
		L->idx[l] = idx;
		L->val[l] = val;
	}
}

/*
 * One pseudo-cold split (salt): hide a salted share of the warm items and
 * build their inputs from the rest, with each of the n_lambda ridges;
 * for each, the users who have rows on both sides are the queries, and
 * the mix is fitted on them (fit) or evaluated at coef[l] as given.
 * coef: n_lambda x RS_COLD_MIX_TERMS, in: the start (or the given
 * coefficients), out: the fit; ndcg[l]: NDCG@10 at coef[l].  Returns the
 * users (0: none, nothing set).
 */
static int32
pseudo_split(ColdRun *run, uint64 seed, const float *lambdas, int n_lambda, int length, bool fit,
			 double *coef, double *ndcg)
{
	int32		n = run->u.n;
	int32		n_warm = 0;
	int32		n_hide;
	int32	   *hidden;
	int32	   *pos;
	uint8	   *rest;
	RsCsr		R;
	RsCsr		S;
	int32		n_users = 0;
	int64		n_rel = 0;
	float	   *content;
	float	   *terms;
	float	   *scratch;
	int64	   *rel_ptr;
	int32	   *rel_idx;
	int64	   *tie;
	uint8	   *has;
	double	   *acc;
	RsColdPostings P;
	const RsCsr *by_user = &run->data->by_user;
	HashedItem *pairs = alloc_huge(sizeof(HashedItem) * n);

	/* the hidden items: the warm items first in a salted hash order */
	for (int32 i = 0; i < n; i++)
		if (run->warm[i])
		{
			pairs[n_warm].key = rs_rng_uniform_float(seed, (uint64) run->u.ids[i]);
			pairs[n_warm++].index = i;
		}
	n_hide = (int32) ceil(n_warm * PSEUDO_SHARE);
	if (n_hide < 2 || n_warm - n_hide < 2)
		return 0;
	qsort(pairs, n_warm, sizeof(HashedItem), hashed_cmp);
	hidden = alloc_huge(sizeof(int32) * n_hide);
	for (int32 h = 0; h < n_hide; h++)
		hidden[h] = pairs[h].index;
	pfree(pairs);

	/*
	 * Hidden items without features get the same terms (every term comes
	 * from features): with fewer than two that have some, the ranking is
	 * ties in id order, and an NDCG measured on it is no fit (review s11,
	 * F3): the split is not scored.
	 */
	{
		int32		with_features = 0;

		for (int32 h = 0; h < n_hide; h++)
			with_features += run->u.words.indptr[hidden[h] + 1] > run->u.words.indptr[hidden[h]];
		if (with_features < 2)
			return 0;
	}
	/* ascending, so that ties rank by item id as at serving */
	qsort(hidden, n_hide, sizeof(int32), int32_cmp);
	rest = alloc_huge(n);
	pos = alloc_huge(sizeof(int32) * n);
	memcpy(rest, run->warm, n);
	for (int32 i = 0; i < n; i++)
		pos[i] = -1;
	for (int32 h = 0; h < n_hide; h++)
	{
		rest[hidden[h]] = 0;
		pos[hidden[h]] = h;
	}
	history_rows(run, rest, &R);
	warm_lists(run, &R, &S, false);

	/* the queries: users with rows on both sides */
	rel_ptr = alloc_huge(sizeof(int64) * ((Size) by_user->n_rows + 1));
	rel_idx = alloc_huge(sizeof(int32) * by_user->nnz);
	rel_ptr[0] = 0;
	for (int32 u = 0; u < by_user->n_rows; u++)
	{
		int64		before = n_rel;

		for (int64 e = by_user->indptr[u]; e < by_user->indptr[u + 1]; e++)
		{
			int32		h = pos[run->data_to_u[by_user->indices[e]]];

			if (h >= 0)
				rel_idx[n_rel++] = h;
		}
		if (n_rel == before || R.indptr[u + 1] == R.indptr[u])
			n_rel = before;
		else
			rel_ptr[++n_users] = n_rel;
	}
	if (n_users == 0)
		return 0;
	RsCheckTrainingMemory("the cold re-ranker's fit",
						  (Size) n_users * n_hide * (RS_COLD_MIX_TERMS + 1) * sizeof(float), run->data);
	content = alloc_huge(sizeof(float) * (Size) n_users * n_hide);
	terms = alloc_huge(sizeof(float) * (Size) n_users * n_hide * RS_COLD_MIX_TERMS);
	scratch = alloc_huge(sizeof(float) * n_hide);
	has = alloc_huge(n);
	memset(has, 0, n);
	acc = alloc_huge(sizeof(double) * 4 * (Size) n_hide);
	tie = alloc_huge(sizeof(int64) * n_hide);
	for (int32 h = 0; h < n_hide; h++)
		tie[h] = run->u.ids[hidden[h]];

	for (int l = 0; l < n_lambda; l++)
	{
		RsColdBuilt b;
		RsColdLists L;
		int32		q = 0;
		double	   *c = coef + (Size) l * RS_COLD_MIX_TERMS;

		RsColdTermsCompute(&run->u, rest, run->log_users, &S, hidden, n_hide, lambdas[l], length, &b);
		built_lists(&b, &L);
		/* each user's terms through the entries naming his items, not every list */
		P.n_items = n;
		P.ptr = alloc_huge(sizeof(int64) * ((Size) n + 1));
		P.post_row = alloc_huge(sizeof(int32) * rs_cold_postings_size(&L));
		P.post_list = alloc_huge(rs_cold_postings_size(&L));
		P.post_val = alloc_huge(sizeof(float) * rs_cold_postings_size(&L));
		rs_cold_postings_build(&L, &P);
		for (int32 u = 0; u < by_user->n_rows && q < n_users; u++)
		{
			bool		query = false;
			float	   *cu = content + (Size) q * n_hide;
			float	   *tu = terms + (Size) q * n_hide * RS_COLD_MIX_TERMS;

			for (int64 e = by_user->indptr[u]; e < by_user->indptr[u + 1] && !query; e++)
				query = pos[run->data_to_u[by_user->indices[e]]] >= 0;
			if (!query || R.indptr[u + 1] == R.indptr[u])
				continue;
			if (q % 64 == 0)
				CHECK_FOR_INTERRUPTS();
			rs_cold_user_terms_posted(&L, &P, R.indices + R.indptr[u], (int) (R.indptr[u + 1] - R.indptr[u]),
									  has, acc, cu, tu);
			rs_cold_mix_prepare(cu, tu, n_hide);
			q++;
		}
		pfree(P.ptr);
		pfree(P.post_row);
		pfree(P.post_list);
		pfree(P.post_val);
		if (fit)
		{
			int			status = rs_cold_mix_fit(n_users, n_hide, content, terms, tie, rel_ptr, rel_idx, c,
												 &ndcg[l], scratch, RsCancelRequested, NULL);

			if (status == RS_COLD_MIX_STOPPED)
				RsKernelStopped("the cold re-ranker's fit");
			if (status != RS_COLD_MIX_OK)
				elog(ERROR, "the cold re-ranker's fit failed (status %d)", status);
		}
		else
			ndcg[l] = rs_cold_mix_ndcg(n_users, n_hide, content, terms, tie, rel_ptr, rel_idx, c, scratch);
		CHECK_FOR_INTERRUPTS();
	}
	return n_users;
}

static void
write_cold(RsTrainer *trainer, int32 version, void *arg)
{
	ColdRun    *run = arg;
	int64	   *cold = alloc_huge(sizeof(int64) * run->built.n);

	RsWriteItemStatsFromData(trainer->name, version, run->data);
	for (int32 t = 0; t < run->built.n; t++)
		cold[t] = run->u.ids[run->built.item[t]];
	if (run->built.n > 0)
	{
		int32	   *zero = palloc0(sizeof(int32) * run->built.n);
		float	   *fzero = palloc0(sizeof(float) * run->built.n);

		RsWriteItemStats(trainer->name, version, cold, run->built.n, zero, fzero, fzero);
	}
	RsWriteNeighbors(RS_ITEMS, trainer->name, version, run->u.ids, run->u.n, run->neighbors,
					 run->s_count, run->s_nbr, run->u.ids, run->s_sim);
	RsColdTermsWrite(trainer->name, version, &run->u, &run->built);
}

/*
 * recsys_train_cold_ranker(source regclass, features regclass, model text,
 *							coefficients real[], list_length int,
 *							regularization float8, neighbors int,
 *							pseudo_splits int, user_col name, item_col name,
 *							seed int8, verbose bool, replace bool,
 *							cold_slots int)
 */
Datum
recsys_train_cold_ranker(PG_FUNCTION_ARGS)
{
	static const RsTrainArgNos argnos = {.model = 2,.cols = 8,.weight_col = -1,.replace = 12};
	int			slots;
	RsTrainer	trainer;
	RsInteractions data;
	ColdRun		run;
	Oid			features;
	float	   *given = NULL;
	int			length;
	double		lambda;
	int			splits;
	int64		seed;
	double		coef[RS_COLD_MIX_TERMS] = {0};
	double		split_ndcg[32][N_COLD_LAMBDAS];
	int32		split_users[32];
	float		lambdas[N_COLD_LAMBDAS];
	int			n_lambda = N_COLD_LAMBDAS;
	int			chosen = 0;
	double		pseudo_ndcg[N_COLD_LAMBDAS] = {0};
	int			fitted = 0;
	RsCsr		R;
	RsCsr		S;
	int32	   *targets;
	int32		n_targets = 0;
	double		fit_start;

	RsTrainArgs(fcinfo, &argnos, &trainer);
	RsRequireArg(fcinfo, 1, "features");
	features = PG_GETARG_OID(1);
	if (!PG_ARGISNULL(3))
	{
		int			n;

		given = RsArrayToFloats(PG_GETARG_ARRAYTYPE_P(3), "coefficients", &n);
		if (n != RS_COLD_MIX_TERMS)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("coefficients must have %d elements (content_sharp, prior, cb2cf, lists), not %d",
							RS_COLD_MIX_TERMS, n),
					 errhint("Leave coefficients NULL to fit them on pseudo-cold items.")));
		for (int j = 0; j < n; j++)
			if (given[j] < -1000 || given[j] > 1000)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("coefficients must be between -1000 and 1000, element %d is %g", j + 1, given[j])));
	}
	length = RsIntArg(fcinfo, 4, "list_length", 1, 10000);
	/* NULL: chosen on pseudo-cold items */
	lambda = PG_ARGISNULL(5) ? NAN : RsFloatArg(fcinfo, 5, "regularization", 1e-6, 1e6, NAN);
	RsRequireArg(fcinfo, 6, "neighbors");
	run.neighbors = RsIntArg(fcinfo, 6, "neighbors", 1, 1000);
	splits = RsIntArg(fcinfo, 7, "pseudo_splits", 1, lengthof(split_ndcg));
	RsRequireArg(fcinfo, 10, "seed");
	seed = PG_GETARG_INT64(10);
	RsRequireArg(fcinfo, 11, "verbose");
	trainer.verbose = PG_GETARG_BOOL(11);
	/* NULL: no bound on the cold items a user is shown */
	slots = PG_NARGS() <= 13 || PG_ARGISNULL(13) ? 0 : RsIntArg(fcinfo, 13, "cold_slots", 1, 10000);

	RsTrainBegin(&trainer, "cold_ranker", &data);
	memset(&run.u, 0, sizeof(run.u));
	run.data = &data;
	RsColdUniverseRead(features, trainer.spec.item_col, data.items.ids, data.items.count, &run.u);
	/* (review s11, F3: such a model recommended nothing, after a fit of ties) */
	if (run.u.words.nnz == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features relation \"%s\" gives no item a feature", RsRelationName(features)),
				 errdetail("It has no row with a non-NULL %s and feature, or its only feature is every item's "
						   "(which tells no item apart): no term of the cold re-ranker can rank by it.",
						   trainer.spec.item_col),
				 errhint("Pass the relation of the items' features (one row per item and feature, or a feature array).")));
	run.data_to_u = alloc_huge(sizeof(int32) * Max(data.items.count, 1));
	run.warm = alloc_huge(run.u.n);
	run.log_users = alloc_huge(sizeof(float) * run.u.n);
	memset(run.warm, 0, run.u.n);
	memset(run.log_users, 0, sizeof(float) * run.u.n);
	for (int32 i = 0, x = 0; i < data.items.count; i++)
	{
		while (run.u.ids[x] != data.items.ids[i])
			x++;
		run.data_to_u[i] = x;
		run.warm[x] = 1;
		run.log_users[x] = (float) log1p((double) (data.by_item.indptr[i + 1] - data.by_item.indptr[i]));
	}
	RsCheckTrainingMemory("the cold re-ranker",
						  (Size) run.u.n * (run.neighbors * 2 + 3 * length * 2 + 16) * sizeof(float) +
						  (Size) run.u.words.nnz * 3 * (sizeof(int32) + sizeof(float)), &data);

	/*
	 * The coefficients (given, or fitted) and the ridge (given, or the one
	 * of cold_lambdas whose mix does best), on pseudo-cold items.
	 */
	fit_start = RsSeconds();
	memcpy(lambdas, cold_lambdas, sizeof(lambdas));
	if (!isnan(lambda))
	{
		lambdas[0] = (float) lambda;
		n_lambda = 1;
	}
	if (!given || n_lambda > 1)
	{
		double		sum[N_COLD_LAMBDAS][RS_COLD_MIX_TERMS] = {{0}};
		double		nd[N_COLD_LAMBDAS] = {0};
		int			best = 0;

		for (int s = 0; s < splits; s++)
		{
			double		c[N_COLD_LAMBDAS][RS_COLD_MIX_TERMS];
			double		split_nd[N_COLD_LAMBDAS];

			for (int l = 0; l < n_lambda; l++)
				for (int j = 0; j < RS_COLD_MIX_TERMS; j++)
					c[l][j] = given ? given[j] : 0;
			split_users[s] = pseudo_split(&run, (uint64) seed * 1000003 + (uint64) s, lambdas, n_lambda, length,
										  given == NULL, &c[0][0], split_nd);
			if (split_users[s] == 0)
				continue;
			for (int l = 0; l < n_lambda; l++)
			{
				for (int j = 0; j < RS_COLD_MIX_TERMS; j++)
					sum[l][j] += c[l][j];
				nd[l] += split_nd[l];
				split_ndcg[s][l] = split_nd[l];
			}
			fitted++;
			RsProgressIteration(s + 1, splits, "pseudo-cold NDCG@10", split_nd[0], NULL);
		}
		if (fitted == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the source of model \"%s\" is too small to fit the cold re-ranker on pseudo-cold items",
							trainer.name),
					 errdetail("No pseudo-cold split has a user with rows on both the hidden and the other warm items, "
							   "and two hidden items with features (items without features all rank alike)."),
					 errhint("Pass coefficients (four numbers: content_sharp, prior, cb2cf, lists) and regularization.")));
		for (int l = 1; l < n_lambda; l++)
			if (nd[l] > nd[best] + 1e-9)
				best = l;
		chosen = best;
		lambda = lambdas[best];
		for (int l = 0; l < n_lambda; l++)
			pseudo_ndcg[l] = nd[l] / fitted;
		for (int j = 0; j < RS_COLD_MIX_TERMS; j++)
			coef[j] = given ? given[j] : sum[best][j] / fitted;
	}
	else
		for (int j = 0; j < RS_COLD_MIX_TERMS; j++)
			coef[j] = given[j];

	/* the stored inputs: the warm lists and the cold items' terms */
	history_rows(&run, run.warm, &R);
	warm_lists(&run, &R, &S, true);
	targets = alloc_huge(sizeof(int32) * run.u.n);
	for (int32 i = 0; i < run.u.n; i++)
		if (!run.warm[i])
			targets[n_targets++] = i;
	RsColdTermsCompute(&run.u, run.warm, run.log_users, &S, targets, n_targets, (float) lambda, length,
					   &run.built);
	if (n_targets == 0)
		ereport(WARNING,
				(errmsg("model \"%s\" has no cold items: every item of features relation \"%s\" has interactions "
						"in the source", trainer.name, RsRelationName(features)),
				 errdetail("The cold re-ranker ranks only items without interactions: it recommends nothing."),
				 errhint("Run recsys.refresh_items(%s) when items without interactions join the features relation.",
						 quote_literal_cstr(trainer.name))));
	trainer.n_items = run.u.n;

	RsJsonText(&trainer.params, "features", RsRelationName(features));
	RsJsonText(&trainer.params, "features_owner", RsRelationOwnerName(features));
	RsJsonText(&trainer.params, "item_col", trainer.spec.item_col);
	{
		float		c[RS_COLD_MIX_TERMS];

		for (int j = 0; j < RS_COLD_MIX_TERMS; j++)
			c[j] = (float) coef[j];
		RsJsonFloatArray(&trainer.params, "coefficients", c, RS_COLD_MIX_TERMS);
	}
	RsJsonRaw(&trainer.params, "terms", "[\"content_sharp\", \"prior\", \"cb2cf\", \"lists\"]");
	RsJsonText(&trainer.params, "coefficients_from", given ? "argument" : "pseudo-cold fit");
	RsJsonInt(&trainer.params, "list_length", length);
	RsJsonFloat(&trainer.params, "regularization", lambda);
	RsJsonText(&trainer.params, "regularization_from", n_lambda > 1 ? "pseudo-cold choice" : "argument");
	RsJsonInt(&trainer.params, "neighbors", run.neighbors);
	RsJsonInt(&trainer.params, "pseudo_splits", splits);
	RsJsonInt(&trainer.params, "seed", seed);
	if (slots > 0)
		RsJsonInt(&trainer.params, "cold_slots", slots);
	else
		RsJsonRaw(&trainer.params, "cold_slots", "null");
	RsJsonInt(&trainer.stats, "cold_items", n_targets);
	if (fitted > 0)
	{
		float		nd[32];
		float		by[N_COLD_LAMBDAS];

		for (int s = 0; s < splits; s++)
			nd[s] = split_users[s] > 0 ? (float) split_ndcg[s][chosen] : 0;
		RsJsonFloatArray(&trainer.stats, "pseudo_cold_ndcg", nd, splits);
		RsJsonFloat(&trainer.stats, "pseudo_cold_ndcg_mean", pseudo_ndcg[chosen]);
		if (n_lambda > 1)
		{
			for (int l = 0; l < n_lambda; l++)
				by[l] = (float) pseudo_ndcg[l];
			RsJsonFloatArray(&trainer.stats, "pseudo_cold_ndcg_by_regularization", by, n_lambda);
		}
		RsJsonFloat(&trainer.stats, "fit_seconds", RsSeconds() - fit_start);
	}
	PG_RETURN_DATUM(RsTrainFinish(fcinfo, &trainer, write_cold, &run));
}
