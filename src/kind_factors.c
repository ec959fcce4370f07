/*-------------------------------------------------------------------------
 *
 * kind_factors.c
 *		The factor model kind (als, mf): scores are dot products of latent
 *		factors, x_u . y_i, plus biases and the global mean for explicit
 *		ratings (clipped to the rating range).
 *
 * A model's item factors are loaded once per backend; user vectors are
 * not: one is read per statement (user_vector) from recsys.user_factors,
 * or, for a model trained with store_users false, folded in from the
 * user's rows of the source.  Folding in is the least-squares step ALS
 * makes for one user, solved exactly against the fixed item factors:
 *	implicit: (YtY + reg I + sum_i alpha |w_i| y_i y_i^T) x = sum_{w_i > 0} (1 + alpha w_i) y_i
 *	explicit: ([1 y_i] [1 y_i]^T summed + reg n I) [b_u x] = sum_i (r_i - mu - b_i) [1 y_i]
 * with duplicate items summed first, as training does; the explicit
 * system is the one training's row solver solves (rs_als_explicit_update).
 * src/kernel/foldin.c does the numerics, src/kernel/score.c the fused
 * blockwise score + top-k.  An anonymous session is folded in the same
 * way (its items taken as liked: the top rating of a rating model).
 * A model trained by SGD (BPR: params has a learning_rate) folds a user in
 * by the same SGD against the fixed items instead (fold_in_sgd), and adds
 * its item biases to the scores like an explicit model.
 *
 * A user without a vector gets the average user's scores: for implicit
 * feedback those of the mean training user vector, which, scores being
 * linear in the vector, are the mean of every training user's scores
 * (training stores the mean in stats), handed out in popularity order;
 * for ratings the baseline prediction mu + b_i, a rating as personalised
 * predictions are.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "als.h"
#include "bpr.h"
#include "cancel.h"
#include "factor_scores.h"
#include "foldin.h"
#include "history.h"
#include "item_cold.h"
#include "linalg.h"
#include "model_acl.h"
#include "model_cache.h"
#include "model_kind.h"
#include "model_load.h"
#include "ivf_index.h"
#include "profile.h"
#include "recsys.h"
#include "score.h"
#include "shared_cache.h"
#include "spi_util.h"

#define FOLD_IN_CHUNK 4096			/* items per kernel call between interrupt checks */
/* Catalogs from this size rank through the compressed copy (recsys.compressed_scan). */
#define COMPRESSED_MIN_ITEMS 4096

/* What a factor model holds besides the items every model has. */
typedef struct FactorsState
{
	int			k;
	bool		explicit_feedback;
	float		global_mean;
	float		rating_min;
	float		rating_max;
	float		regularization;
	float		reg_exponent;	/* implicit: see implicit_user_reg */
	float		alpha;
	/* trained by SGD (BPR): users fold in by the same SGD, not the ALS step */
	float		sgd_learning_rate;	/* 0: fold in by the ALS step */
	int			sgd_epochs;
	uint64		sgd_seed;
	float	   *item_factors;	/* n_items x k */
	float	   *item_bias;
	float	   *score_bias;		/* item_bias if scores add it, else NULL */
	float	   *item_norms;		/* |y_i|, for cosine similar_items */
	float	   *gram;			/* k x k YtY, computed on first use */
	/*
	 * The int8 copy of item_factors ranking scans first (rs_q8_*): one flat
	 * block without pointers, built on first use while
	 * recsys.compressed_scan is on, or by the loader when the model goes to
	 * the shared cache (then it is in the shared copy, read-only);
	 * q8_scratch is this backend's scratch.
	 */
	void	   *q8;
	void	   *q8_scratch;
	int			q8_scratch_top_n;
	/*
	 * The version's IVF index (src/ivf_index.c), read on the first ranking
	 * while recsys.ivf_probes > 0; ivf_checked once looked for.
	 */
	bool		ivf_checked;
	RsIvfIndex *ivf;

	/* implicit cold start: the mean user vector, else the share of users per item */
	float	   *mean_user;
	float	   *mean_history;

	/*
	 * One user's vector, read per statement (user_vector): from
	 * recsys.user_factors, or, for a model trained with store_users false,
	 * folded in from the user's rows of the source.
	 */
	bool		store_users;
	SPIPlanPtr	user_plan;
	float	   *user_vector;
	float		vector_bias;
	int64		vector_user;
	bool		vector_found;
	RsStatementStamp vector_stamp;
} FactorsState;

#define F(model) ((FactorsState *) (model)->kind_state)

static bool fold_in_user_items(RsModel *model, const RsUserItems *items, float *x, float *bias);
static const void *compressed_items(RsModel *model);
static void load_ivf_to_publish(RsModel *model);

/*
 * The regularization a fold-in (or explain) solves with.  Checked for
 * range when the model loads (check_fold_in_settings); a model without
 * one (params edited, or built by hand: it serves its stored users) is
 * damaged only here, where the solver would need it.
 */
static float
fold_in_reg(const RsModel *model)
{
	if (isnan(F(model)->regularization))
		RsModelCorrupt((RsModel *) model, "params has no regularization, which a fold-in solves with");
	return F(model)->regularization;
}

/*
 * The regularisation of an implicit model's user system, as training had
 * it: reg, times (n_items + alpha sum_i |w_i|)^reg_exponent when the model
 * scales it by the user's total confidence (src/kernel/als.h).
 */
static inline float
implicit_user_reg(const RsModel *model, double sum_abs_weight)
{
	if (F(model)->reg_exponent == 0)
		return fold_in_reg(model);
	return (float) (fold_in_reg(model) *
					pow((double) model->items.count + F(model)->alpha * sum_abs_weight,
						F(model)->reg_exponent));
}

/* item_factors rows */
static void
load_factor_row(TupleTableSlot *slot, void *arg)
{
	RsModel    *model = arg;
	int64		id = DatumGetInt64(slot->tts_values[0]);
	ArrayType  *factors = DatumGetArrayTypeP(slot->tts_values[2]);
	int32		index;

	if (ARR_NDIM(factors) != 1 || ARR_DIMS(factors)[0] != F(model)->k || ARR_HASNULL(factors))
		RsModelCorrupt(model, "a factor vector has the wrong length");
	index = rs_idmap_lookup(&model->items, id);
	if (index < 0)
		RsModelCorrupt(model, "an item has factors but no row in recsys.item_stats");
	F(model)->item_bias[index] = DatumGetFloat4(slot->tts_values[1]);
	memcpy(F(model)->item_factors + (int64) index * F(model)->k, ARR_DATA_PTR(factors),
		   sizeof(float) * F(model)->k);
	if (!isfinite(F(model)->item_bias[index]))
		RsModelCorrupt(model, "an item's bias is not finite");
	for (int a = 0; a < F(model)->k; a++)
		if (!isfinite(F(model)->item_factors[(int64) index * F(model)->k + a]))
			RsModelCorrupt(model, "an item's factor vector holds a value that is not finite");
	if ((Pointer) factors != DatumGetPointer(slot->tts_values[2]))
		pfree(factors);
}

/* user_factors rows: summed into the mean user */
typedef struct MeanUserLoad
{
	RsModel    *model;
	double	   *sum;
	int64		n;
} MeanUserLoad;

static void
add_user_row(TupleTableSlot *slot, void *arg)
{
	MeanUserLoad *load = arg;
	int			k = F(load->model)->k;
	ArrayType  *factors = DatumGetArrayTypeP(slot->tts_values[0]);
	const float *x = (const float *) ARR_DATA_PTR(factors);

	if (ARR_NDIM(factors) != 1 || ARR_DIMS(factors)[0] != k || ARR_HASNULL(factors))
		RsModelCorrupt(load->model, "a user's factor vector has the wrong length");
	for (int f = 0; f < k; f++)
		load->sum[f] += x[f];
	load->n++;
	if ((Pointer) factors != DatumGetPointer(slot->tts_values[0]))
		pfree(factors);
}

/*
 * An implicit model's average user, for the cold-start scores: the mean
 * user vector training stored in stats (read from recsys.models, the row
 * whose edits reload the model); for a model trained before 0.7.0,
 * the mean of its stored user vectors, or if none, each item's share of
 * users (the fraction of users who chose it, the preference implicit ALS
 * fits).
 */
static void
load_mean_user(RsModel *model, const RsCatalogRow *row, Oid *argtypes, Datum *values)
{
	FactorsState *f = F(model);
	bool		isnull = true;
	Datum		d;

	if (f->explicit_feedback)
		return;
	/*
	 * (an element that is not a number a float4 holds comes out NULL; one
	 * too small for a float4 is 0, as C rounds it, not the cast's underflow
	 * error: rounded to 45 decimals it is 0 or at least 1e-45, which the
	 * cast reads as float4's smallest denormal or more)
	 */
	RsExecute("SELECT (SELECT pg_catalog.array_agg(CASE WHEN pg_catalog.jsonb_typeof(e) OPERATOR(pg_catalog.=) 'number' "
			  "                 AND pg_catalog.abs(e::pg_catalog.numeric) OPERATOR(pg_catalog.<=) 3.4e38 "
			  "                 THEN pg_catalog.round(e::pg_catalog.numeric, 45)::pg_catalog.float4 END ORDER BY o) "
			  "        FROM pg_catalog.jsonb_array_elements(CASE pg_catalog.jsonb_typeof(stats->'mean_user_factors') "
			  "        WHEN 'array' THEN stats->'mean_user_factors' END) WITH ORDINALITY AS a(e, o)), "
			  "pg_catalog.jsonb_typeof(stats->'mean_user_factors') "
			  "FROM recsys.models "
			  "WHERE name OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
			  2, argtypes, values, NULL, true, SPI_OK_SELECT);
	d = SPI_processed == 1 ? SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull) : 0;
	if (SPI_processed == 1)
	{
		bool		absent;
		Datum		type = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &absent);

		if (!absent && strcmp(TextDatumGetCString(type), "array") != 0)
			RsModelCorrupt(model, "stats' mean user vector is not an array");
		if (!absent && isnull)
			RsModelCorrupt(model, "stats has a mean user vector of the wrong length");
	}
	if (SPI_processed == 1 && !isnull)
	{
		ArrayType  *mean = DatumGetArrayTypeP(d);

		if (ARR_NDIM(mean) != 1 || ARR_DIMS(mean)[0] != f->k)
			RsModelCorrupt(model, "stats has a mean user vector of the wrong length");
		if (ARR_HASNULL(mean))
			RsModelCorrupt(model, "stats' mean user vector has an element that is not a finite number");
		f->mean_user = RsModelAlloc(model, sizeof(float) * f->k);
		memcpy(f->mean_user, ARR_DATA_PTR(mean), sizeof(float) * f->k);
		for (int a = 0; a < f->k; a++)
			if (!isfinite(f->mean_user[a]))
				RsModelCorrupt(model, "stats' mean user vector has an element that is not a finite number");
	}
	else if (f->store_users)
	{
		MeanUserLoad load = {model, palloc0(sizeof(double) * f->k), 0};

		RsStreamQuery("SELECT factors FROM recsys.user_factors "
					  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
					  2, argtypes, values, NULL, true, add_user_row, &load);
		if (load.n > 0)
		{
			f->mean_user = RsModelAlloc(model, sizeof(float) * f->k);
			for (int a = 0; a < f->k; a++)
				f->mean_user[a] = (float) (load.sum[a] / load.n);
		}
		pfree(load.sum);
	}
	if (f->mean_user == NULL)
		f->mean_history = RsLoadMeanHistory(model, row->n_users, true);
}

/*
 * A number of a factor model's params in the range its trainer accepts
 * (above min when min_open), else the model is damaged, naming the key:
 * a hand edit must not reach the solver as a system that is not positive
 * definite, or as a silent wrong vector.  NaN: the key is absent (a
 * fold-in then refuses, fold_in_reg).
 */
static void
check_setting(RsModel *model, const char *key, double x, double min, double max, bool min_open)
{
	if (isnan(x))
		return;
	if (x > max || x < min || (min_open && x == min))
		RsModelCorrupt(model, psprintf(min_open ? "params' %s is not a number above %g and at most %g"
									   : "params' %s is not a number between %g and %g", key, min, max));
}

/*
 * The settings a factor model's fold-in solves with, in train_cf's or
 * train_bpr's ranges (regularization_exponent is 0 unless recorded).
 */
static void
check_fold_in_settings(RsModel *model, const FactorsState *f)
{
	if (f->sgd_learning_rate != 0)
	{
		/* a BPR model's, as train_bpr checks them */
		check_setting(model, "regularization", f->regularization, 0, 100, false);
		if (!(f->sgd_learning_rate > 0 && f->sgd_learning_rate <= RS_BPR_MAX_LEARNING_RATE &&
			  f->sgd_epochs >= 1 && f->sgd_epochs <= RS_BPR_MAX_ITERATIONS &&
			  f->k <= RS_BPR_MAX_FACTORS &&
			  (isnan(f->regularization) || f->sgd_learning_rate * f->regularization < 1)))
			RsModelCorrupt(model, "params has a learning_rate, iterations, factors or regularization "
						   "train_bpr does not accept");
		return;
	}
	/* ALS: explicit feedback's system is only its items' and the regularization */
	check_setting(model, "regularization", f->regularization, 0, RS_ALS_MAX_REG, f->explicit_feedback);
	if (f->explicit_feedback)
	{
		if (f->reg_exponent != 0)
			RsModelCorrupt(model, "params' regularization_exponent is not 0 (explicit feedback)");
		return;
	}
	check_setting(model, "alpha", f->alpha, 0, RS_ALS_MAX_ALPHA, false);
	check_setting(model, "regularization_exponent", f->reg_exponent, 0, RS_ALS_MAX_REG_EXPONENT, false);
}

/*
 * A factor model's settings, from its catalog row, checked, and its
 * per-backend user state; the arrays are the caller's to fill.
 */
static FactorsState *
factors_state(RsModel *model, const RsCatalogRow *row)
{
	FactorsState *f = RsModelAlloc(model, sizeof(FactorsState));

	f->k = row->k;
	f->explicit_feedback = row->explicit_feedback;
	f->global_mean = row->global_mean;
	f->rating_min = row->rating_min;
	f->rating_max = row->rating_max;
	f->regularization = row->regularization;
	f->reg_exponent = row->reg_exponent;
	f->alpha = row->alpha;
	f->store_users = row->store_users;
	f->sgd_learning_rate = row->learning_rate;
	f->sgd_epochs = row->iterations;
	f->sgd_seed = (uint64) row->seed;
	/* BPR with time_col: users fold in weighting their items by age */
	if (f->sgd_learning_rate > 0 && row->half_life > 0 && row->time_col)
	{
		model->time_col = MemoryContextStrdup(model->mcxt, row->time_col);
		model->half_life = row->half_life;
	}
	model->kind_state = f;
	if (f->k <= 0)
		RsModelCorrupt(model, "params has no factors");
	/* train_cf's and train_bpr's range, before n_items x factors are allocated */
	if (f->k > RS_BPR_MAX_FACTORS)
		RsModelCorrupt(model, psprintf("params' factors is not an integer between 1 and %d", RS_BPR_MAX_FACTORS));
	check_fold_in_settings(model, f);
	f->user_vector = RsModelAlloc(model, sizeof(float) * f->k);
	return f;
}

/*
 * Load a factor model's items.  User vectors are not cached: they are
 * read one at a time when needed (user_vector), so a model with
 * millions of users costs each backend only its items' memory, and a
 * user refreshed by refresh_user() counts at once everywhere.
 */
static void
factors_load(RsModel *model, const RsCatalogRow *row)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(model->name), Int32GetDatum(model->version)};
	int32		n_items = model->items.count;
	FactorsState *f = factors_state(model, row);

	F(model)->item_factors = RsModelAlloc(model, sizeof(float) * F(model)->k * (Size) n_items);
	F(model)->item_bias = RsModelAlloc(model, sizeof(float) * n_items);
	F(model)->item_norms = RsModelAlloc(model, sizeof(float) * n_items);

	RsStreamQuery("SELECT item_id, bias, factors FROM recsys.item_factors "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
				  2, argtypes, values, NULL, true, load_factor_row, model);

	/*
	 * Scores add the item biases of explicit models, and of implicit ones
	 * that learnt some (BPR); implicit ALS stores zeros.
	 */
	for (int32 i = 0; i < n_items && f->score_bias == NULL; i++)
		if (f->explicit_feedback || f->item_bias[i] != 0)
			f->score_bias = f->item_bias;
	for (int32 begin = 0; begin < n_items; begin += 1024)
	{
		CHECK_FOR_INTERRUPTS();
		rs_row_norms(F(model)->item_factors + (int64) begin * F(model)->k, Min(1024, n_items - begin),
					 F(model)->k, F(model)->item_norms + begin);
	}
	load_mean_user(model, row, argtypes, values);

	/*
	 * With the shared cache, this load is about to be published: build the
	 * compressed copy now (with interrupt checks), so that it is published
	 * too and no backend builds its own (a second or more per backend at
	 * 1M items, and a quarter of the model's size each).
	 */
	if (RsSharedCacheActive())
	{
		(void) compressed_items(model);
		/* the IVF index likewise (a quarter of the model's size again) */
		if (recsys_ivf_probes > 0)
			load_ivf_to_publish(model);
	}
}

/*
 * Load the IVF index of a model about to be published, so that it is
 * published with it.  A damaged index must not fail what never probes it
 * (score, similar_items): its error is caught here (a subtransaction, as
 * PL/pgSQL catches one), the model is published without it, and the
 * error comes at the first probe (rank_for_vector loads it then).  Other
 * errors (a cancel, out of memory) go on.  In a parallel worker, which
 * cannot start a subtransaction, the index waits for the first probe.
 */
static void
load_ivf_to_publish(RsModel *model)
{
	FactorsState *f = F(model);
	MemoryContext mcxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	if (IsInParallelMode())
		return;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(mcxt);
	PG_TRY();
	{
		f->ivf = RsIvfLoad(model, f->item_factors, f->k);
		f->ivf_checked = true;
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(mcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_DATA_CORRUPTED)
			ReThrowError(edata);
		FreeErrorData(edata);
		f->ivf = NULL;
		f->ivf_checked = false;
	}
	PG_END_TRY();
}

/* The factor kind's part of a model's flat copy (the shared cache's). */
typedef struct FlatFactors
{
	int32		k;
	int32		n_items;
	bool		score_bias;		/* scores add item_bias */
	Size		item_factors;
	Size		item_bias;
	Size		item_norms;
	Size		mean_user;		/* 0: none */
	Size		mean_history;	/* 0: none */
	Size		q8;				/* the compressed copy (compressed_items), 0: none */
	bool		ivf_checked;	/* the IVF index was looked for */
	Size		ivf;			/* the IVF index (RsIvfFlatten), 0: none */
} FlatFactors;

/* Lay the item factors out flat: everything but the per-backend user state. */
static void
factors_flatten(RsModel *model, RsFlat *flat)
{
	FactorsState *f = F(model);
	Size		n = model->items.count;
	FlatFactors h;
	Size		header = RsFlatPut(flat, NULL, sizeof(FlatFactors));

	memset(&h, 0, sizeof(h));
	h.k = f->k;
	h.n_items = model->items.count;
	h.score_bias = f->score_bias != NULL;
	h.item_factors = RsFlatPut(flat, f->item_factors, sizeof(float) * f->k * n);
	h.item_bias = RsFlatPut(flat, f->item_bias, sizeof(float) * n);
	h.item_norms = RsFlatPut(flat, f->item_norms, sizeof(float) * n);
	if (f->mean_user != NULL)
		h.mean_user = RsFlatPut(flat, f->mean_user, sizeof(float) * f->k);
	if (f->mean_history != NULL)
		h.mean_history = RsFlatPut(flat, f->mean_history, sizeof(float) * Max(n, 1));

	/*
	 * The compressed copy too, when ranking would build one (the
	 * publisher's recsys.compressed_scan decides; a backend with it off
	 * does not use it): copied if this backend built it already, else
	 * compressed straight into the shared copy (pure C, no allocation),
	 * so no attaching backend builds its own.
	 */
	if (recsys_compressed_scan && n >= COMPRESSED_MIN_ITEMS)
	{
		h.q8 = RsFlatPut(flat, f->q8, rs_q8_bytes(n, f->k));
		if (flat->base != NULL && f->q8 == NULL)
		{
			rs_q8_init(flat->base + h.q8, n, f->k);
			rs_q8_build(flat->base + h.q8, f->item_factors, 0, n);
		}
	}
	/*
	 * The IVF index as loaded (or its absence, once looked for); a lean
	 * copy goes without it and each backend loads its own on first use.
	 */
	h.ivf_checked = f->ivf_checked && !flat->lean;
	if (f->ivf != NULL && !flat->lean)
		h.ivf = RsIvfFlatten(f->ivf, flat);
	if (flat->base != NULL)
		memcpy(flat->base + header, &h, sizeof(h));
}

/* Serve a factor model from a flat copy: only the user state is this backend's. */
static void
factors_attach(RsModel *model, const RsCatalogRow *row, const char *copy, Size kind)
{
	FactorsState *f = factors_state(model, row);
	const FlatFactors *h = RsFlatAt(copy, kind);

	if (h->k != f->k || h->n_items != model->items.count)
		RsModelCorrupt(model, "the shared copy has another shape than recsys.models");
	f->item_factors = RsFlatAt(copy, h->item_factors);
	f->item_bias = RsFlatAt(copy, h->item_bias);
	f->item_norms = RsFlatAt(copy, h->item_norms);
	f->score_bias = h->score_bias ? f->item_bias : NULL;
	f->mean_user = RsFlatAt(copy, h->mean_user);
	f->mean_history = RsFlatAt(copy, h->mean_history);
	/* read-only, as rs_q8_score_topk reads it; NULL: built here on first use */
	f->q8 = RsFlatAt(copy, h->q8);
	/* likewise the IVF index; not looked for: loaded here on first use */
	f->ivf_checked = h->ivf_checked;
	if (h->ivf != 0)
		f->ivf = RsIvfAttach(model, copy, h->ivf, f->k);
}

/* Read the user's stored vector and bias; false if there is none. */
static bool
read_stored_vector(RsModel *model, int64 user_id)
{
	return RsReadUserVector(model, &F(model)->user_plan, user_id, F(model)->k,
							F(model)->user_vector, &F(model)->vector_bias, "user's factor vector");
}

/*
 * Fold the user's interactions in (RsFoldIn: one k x k solve against the
 * item factors, as training solves a user): items when the caller has
 * read them, else the user's rows of the source as they are now.  False
 * if the user has no interaction with the model's items.
 */
static bool
fold_in_vector(RsModel *model, int64 user_id, const RsUserItems *items)
{
	RsUserItems read = {0};
	bool		found;

	if (items == NULL)
	{
		RsReadUserItems(model, user_id, "A model trained with store_users => false", &read);
		items = &read;
	}
	found = fold_in_user_items(model, items, F(model)->user_vector, &F(model)->vector_bias);
	RsFreeUserItems(&read);
	return found;
}

/*
 * user_vector returns a factor model's vector (and bias) for a
 * user, or NULL if the model has none for the user.  A model that stores
 * its users reads the vector from recsys.user_factors through the primary
 * key; one trained with store_users false folds the user's current
 * interactions in: items if the caller has read them (all of the user's
 * interactions with the model's items, as RsReadUserItems returns them),
 * else read here.  The answer is kept for the rest of the statement, so
 * scoring many items for one user (ORDER BY recsys.score(...)) reads or
 * solves once.  The returned pointer stays valid until the next call.
 */
static const float *
user_vector(RsModel *model, int64 user_id, const RsUserItems *items, float *bias)
{
	RsStatementStamp now = RsCurrentStatement();

	if (!(F(model)->vector_user == user_id && RsSameStatement(&F(model)->vector_stamp, &now)))
	{
		/* an error halfway leaves no half-made answer behind */
		F(model)->vector_stamp.valid = false;
		F(model)->vector_found = F(model)->store_users ? read_stored_vector(model, user_id) :
			fold_in_vector(model, user_id, items);
		F(model)->vector_user = user_id;
		F(model)->vector_stamp = now;
	}
	if (!F(model)->vector_found)
		return NULL;
	if (bias)
		*bias = F(model)->vector_bias;
	return F(model)->user_vector;
}

/*
 * gram returns the k x k Gram matrix Y^T Y of a factor model's item
 * factors, computed on first use and kept with the model.
 */
static const float *
gram_matrix(RsModel *model)
{
	if (F(model)->gram == NULL)
	{
		Size		bytes = sizeof(float) * F(model)->k * F(model)->k;

		/* computed in the statement's memory: a cancel midway leaks nothing */
		float	   *g = palloc(bytes);

		RsGram(F(model)->item_factors, model->items.count, F(model)->k, g);
		F(model)->gram = MemoryContextAlloc(model->mcxt, bytes);
		memcpy(F(model)->gram, g, bytes);
		pfree(g);
	}
	return F(model)->gram;
}

/* The explicit model's prediction for a user (bias) and item, clipped. */
static float
explicit_prediction(RsModel *model, float user_bias, int32 i, float dot)
{
	float		p = F(model)->global_mean + user_bias + F(model)->item_bias[i] + dot;

	return Min(Max(p, F(model)->rating_min), F(model)->rating_max);
}


/* Order pairs by item, for merging duplicates. */
static int
pair_cmp(const void *a, const void *b)
{
	const RsWeightedItem *x = a;
	const RsWeightedItem *y = b;

	return x->item < y->item ? -1 : x->item > y->item;
}

/* The user's items and weights as two arrays, for the kernels. */
static void
split_pairs(const RsWeightedItem *pairs, int m, int32 **idx, float **w)
{
	*idx = palloc(sizeof(int32) * m);
	*w = palloc(sizeof(float) * m);
	for (int j = 0; j < m; j++)
	{
		(*idx)[j] = pairs[j].item;
		(*w)[j] = pairs[j].weight;
	}
}

/*
 * The implicit solve (foldin.h): the user's items' confidences with the
 * model's Gram matrix and regularisation as training had them.  A long
 * session costs m k^2, so the items go in by chunks with a check for a
 * cancel between them; likewise below.
 */
static int
fold_in_implicit(RsModel *model, const RsWeightedItem *pairs, int m, float *x)
{
	int			k = F(model)->k;
	float	   *A = palloc(sizeof(float) * k * k);
	float	   *tile = palloc(sizeof(float) * rs_fold_in_tile_floats(k));
	int32	   *idx;
	float	   *w;
	double		sum_abs = 0;
	int			status;

	split_pairs(pairs, m, &idx, &w);
	for (int j = 0; j < m; j++)
		sum_abs += fabsf(w[j]);
	rs_fold_in_implicit_begin(gram_matrix(model), k, implicit_user_reg(model, sum_abs), A, x);
	for (int j = 0; j < m; j += FOLD_IN_CHUNK)
	{
		CHECK_FOR_INTERRUPTS();
		rs_fold_in_implicit_add(F(model)->item_factors, idx + j, w + j, Min(FOLD_IN_CHUNK, m - j), k,
								F(model)->alpha, A, x, tile);
	}
	status = rs_fold_in_solve(A, x, k);
	/* evaluate folds in every test user: free what this one took */
	pfree(A);
	pfree(tile);
	pfree(idx);
	pfree(w);
	return status;
}

/*
 * The explicit solve: the system training's row solver solves for a user
 * (rs_als_explicit_update: regularisation weighted by the user's count,
 * the bias regularised alike), for (x, b_u).
 */
static int
fold_in_explicit(RsModel *model, const RsWeightedItem *pairs, int m, float *x, float *bias)
{
	int			k = F(model)->k;
	float	   *A = palloc(sizeof(float) * (k + 1) * (k + 1));
	float	   *z = palloc(sizeof(float) * (k + 1));
	float	   *tile = palloc(sizeof(float) * rs_fold_in_tile_floats(k));
	int32	   *idx;
	float	   *r;
	int			status;

	split_pairs(pairs, m, &idx, &r);
	rs_fold_in_explicit_begin(k, A, z);
	for (int j = 0; j < m; j += FOLD_IN_CHUNK)
	{
		CHECK_FOR_INTERRUPTS();
		rs_fold_in_explicit_add(F(model)->item_factors, F(model)->item_bias, F(model)->global_mean,
								idx + j, r + j, Min(FOLD_IN_CHUNK, m - j), k, A, z, tile);
	}
	for (int a = 0; a <= k; a++)
		A[a * (k + 1) + a] += fold_in_reg(model) * m;
	status = rs_fold_in_solve(A, z, k + 1);
	memcpy(x, z, sizeof(float) * k);
	if (bias)
		*bias = z[k];
	pfree(A);
	pfree(z);
	pfree(tile);
	pfree(idx);
	pfree(r);
	return status;
}

/*
 * The fold-in of a model trained by SGD (BPR): the same SGD on the user's
 * positive items (weight > 0; pairs sorted by item, distinct) against the
 * fixed item factors and biases, by chunks of epochs with a check for a
 * cancel between them (rs_bpr_fold_in; the chunks do not change x).
 * recency (NULL: none), one per pair, scales each item's steps: a model
 * trained with time_col and half_life fits its users to their recent
 * items so (train_bpr.c).
 * The ALS step solves a different objective, and with BPR's factors it
 * ranks far worse (ml-latest-small strat75 NDCG@10 0.19, against 0.29
 * by this fold-in and 0.28 with the stored vectors).  Returns false if no item is positive.
 */
static bool
fold_in_sgd(RsModel *model, const RsWeightedItem *pairs, const float *recency, int m, float *x)
{
	FactorsState *f = F(model);
	int32	   *items = palloc(sizeof(int32) * m);
	float	   *weight = recency ? palloc(sizeof(float) * m) : NULL;
	int32		n = 0;
	int			per_check;

	for (int j = 0; j < m; j++)
		if (pairs[j].weight > 0)
		{
			if (weight)
				weight[n] = recency[j];
			items[n++] = pairs[j].item;
		}
	if (n == 0)
	{
		pfree(items);
		return false;
	}
	memset(x, 0, sizeof(float) * f->k);
	per_check = (int) Max(RS_CHECK_WORK / ((int64) n * f->k * 4), 1);
	for (int e = 0; e < f->sgd_epochs; e += per_check)
	{
		CHECK_FOR_INTERRUPTS();
		if (rs_bpr_fold_in(f->item_factors, f->item_bias, model->items.count, f->k, items, weight,
						   n, f->sgd_learning_rate, fold_in_reg(model), f->sgd_seed, e,
						   Min(e + per_check, f->sgd_epochs), x) != RS_BPR_OK)
			RsModelCorrupt(model, "its BPR fold-in refused the model's sizes");
	}
	/* never serve (or store: refresh_user) a vector that is not finite */
	for (int j = 0; j < f->k; j++)
		if (!isfinite(x[j]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("the fold-in of a user of model \"%s\" gave a vector that is not finite",
							model->name),
					 errdetail("%d of the user's items weigh in%s.", n,
							   recency ? ", weighted by their age" : ""),
					 errhint("Check the user's rows in the model's source, or retrain the model.")));
	pfree(items);
	if (weight)
		pfree(weight);
	return true;
}

/*
 * fold_in_pairs computes the user vector (and, for explicit models, bias) that
 * ALS would fit for the given interactions (a model trained by SGD: the
 * SGD's, fold_in_sgd).  pairs may hold duplicates;
 * they are summed (the array is sorted in place).  x holds F(model)->k floats.
 * Returns false when there are no interactions to fit.
 */
static bool
fold_in_pairs(RsModel *model, RsWeightedItem *pairs, int n, float *x, float *bias)
{
	int			m = 0;
	int			status;

	qsort(pairs, n, sizeof(RsWeightedItem), pair_cmp);
	for (int j = 0; j < n; j++)
	{
		if (m > 0 && pairs[m - 1].item == pairs[j].item)
			RsAddWeight(&pairs[m - 1].weight, pairs[j].weight);
		else
			pairs[m++] = pairs[j];
	}
	if (m == 0)
		return false;
	if (F(model)->sgd_learning_rate > 0)
	{
		if (!fold_in_sgd(model, pairs, NULL, m, x))
			return false;
		if (bias)
			*bias = 0;
		return true;
	}

	status = F(model)->explicit_feedback ? fold_in_explicit(model, pairs, m, x, bias) :
		fold_in_implicit(model, pairs, m, x);
	if (status == RS_ALS_ERR_NOT_PD)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot fold in: the user's system in model \"%s\" is not positive definite",
						model->name),
				 errhint("Retrain the model with a larger regularization.")));
	if (status != RS_ALS_OK)
		elog(ERROR, "fold-in failed: %s", rs_als_strerror(status));
	if (!F(model)->explicit_feedback && bias)
		*bias = 0;
	/* finite weights so large that the solve overflows */
	for (int f = 0; f < F(model)->k; f++)
		if (!isfinite(x[f]) || (bias && !isfinite(*bias)))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("cannot fold in: the weights are too large for model \"%s\"", model->name),
					 errhint("Scale the weights down.")));
	return true;
}

/*
 * fold_in_user_items folds in a user's interactions as RsReadUserItems
 * returns them: fold_in_pairs on a copy; with their recency weights (a
 * BPR model trained with a half-life), the SGD fold-in weighted so.
 */
static bool
fold_in_user_items(RsModel *model, const RsUserItems *items, float *x, float *bias)
{
	RsWeightedItem *pairs = palloc(sizeof(RsWeightedItem) * Max(items->n, 1));
	bool		found;

	if (items->recency && F(model)->sgd_learning_rate > 0)
	{
		float	   *recency = palloc(sizeof(float) * Max(items->n, 1));
		int			m = 0;
		int			n;

		/* the positive items with their recency, ascending ... */
		for (int j = 0; j < items->n; j++)
			if (items->weight[j] > 0)
			{
				pairs[m].item = items->item[j];
				pairs[m++].weight = items->recency[j];
			}
		qsort(pairs, m, sizeof(RsWeightedItem), pair_cmp);
		/* ... once each (the latest time), every one positive */
		n = 0;
		for (int j = 0; j < m; j++)
		{
			if (n > 0 && pairs[n - 1].item == pairs[j].item)
				recency[n - 1] = Max(recency[n - 1], pairs[j].weight);
			else
			{
				recency[n] = pairs[j].weight;
				pairs[n].item = pairs[j].item;
				pairs[n++].weight = 1;
			}
		}
		found = fold_in_sgd(model, pairs, recency, n, x);
		if (found && bias)
			*bias = 0;
		pfree(recency);
		pfree(pairs);
		return found;
	}
	for (int j = 0; j < items->n; j++)
	{
		pairs[j].item = items->item[j];
		pairs[j].weight = items->weight[j];
	}
	found = fold_in_pairs(model, pairs, items->n, x, bias);
	pfree(pairs);
	return found;
}

/*
 * explain(): the ALS decomposition (factor_contributions).  A BPR model's
 * user vector is fitted by gradient steps, not solved from the user's
 * items, so nothing splits its score among them: refused (review 2).
 */
static int
factors_explain(RsModel *model, int64 user_id, int32 j, int64 item_id, RsContribution **out)
{
	if (!RsAlgorithmExplains(model->algorithm))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" (algorithm %s) does not support explain",
						model->name, model->algorithm),
				 errdetail("A BPR model's user vector is fitted by gradient steps, "
						   "not solved from the user's items."),
				 errhint("Use similar_items for the items like it.")));
	return RsExplainByUserItems(model, user_id, j, item_id, out);
}

/*
 * Factor-model contributions, the decomposition the implicit library's
 * explain uses: the user's vector solves A x = sum_i c_i p_i y_i, so the
 * score of item j splits as sum_i c_i p_i (y_j^T A^-1 y_i).  Implicit:
 * A = YtY + reg I + sum_i (c_i - 1) y_i y_i^T, c_i = 1 + alpha w_i.
 * Explicit: A = sum_i y_i y_i^T + reg I and c_i p_i becomes the residual
 * r_ui - mu - b_u - b_i.
 */
static void
factor_contributions(RsModel *model, const RsUserItems *items, int32 j, int64 user_id,
					 RsContribution *out)
{
	int			k = F(model)->k;
	float	   *A = palloc(sizeof(float) * k * k);
	float	   *z = palloc(sizeof(float) * k);
	float	   *c;
	float		user_bias = 0;
	double		sum_abs = 0;
	float		reg;

	(void) user_vector(model, user_id, items, &user_bias);
	for (int n = 0; n < items->n; n++)
		sum_abs += fabsf(items->weight[n]);
	reg = F(model)->explicit_feedback ? fold_in_reg(model) : implicit_user_reg(model, sum_abs);
	if (F(model)->explicit_feedback)
		memset(A, 0, sizeof(float) * k * k);
	else
		memcpy(A, gram_matrix(model), sizeof(float) * k * k);
	for (int a = 0; a < k; a++)
		A[a * k + a] += reg;
	c = palloc(sizeof(float) * Max(items->n, 1));
	for (int n = 0; n < items->n; n++)
		c[n] = F(model)->explicit_feedback ? 1 : F(model)->alpha * fabsf(items->weight[n]);
	/* in chunks: a user of 200,000 items at 1,024 factors is 10^11 multiply-adds */
	for (int begin = 0, step = RsOuterProductsPerCheck(k); begin < items->n; begin += step)
	{
		CHECK_FOR_INTERRUPTS();
		rs_add_weighted_outer(F(model)->item_factors, items->item + begin, c + begin,
							  Min(step, items->n - begin), k, A);
	}
	pfree(c);
	memcpy(z, F(model)->item_factors + (int64) j * k, sizeof(float) * k);
	if (rs_cholesky_solve(A, k, z, 1) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot explain: the user's system in model \"%s\" is not positive definite",
						model->name)));
	for (int n = 0; n < items->n; n++)
	{
		int32		i = items->item[n];
		float		weight;

		if (F(model)->explicit_feedback)
			weight = items->weight[n] - F(model)->global_mean - F(model)->item_bias[i] - user_bias;
		else
			weight = items->weight[n] > 0 ? 1 + F(model)->alpha * items->weight[n] : 0;
		out[n].item_id = model->items.ids[i];
		out[n].value = weight * rs_dot(z, F(model)->item_factors + (int64) i * k, k);
	}
}

/* A model without stored users folds the user's items in. */
static const char *
factors_history_input(RsModel *model)
{
	return F(model)->store_users ? NULL : "A model trained with store_users => false";
}

/* Every item's score: x_u . y_i (+ b_i); false for a user without a vector. */
static bool
factors_score_user(RsModel *model, int64 user_id, const RsUserItems *items, float *scores)
{
	const float *x = user_vector(model, user_id, items, NULL);

	if (x == NULL)
		return false;
	rs_score_items(F(model)->item_factors, F(model)->score_bias,
				   model->items.count, F(model)->k, x, scores);
	return true;
}

/*
 * The compressed copy of the item factors, built on first use (in steps
 * between interrupt checks; a cancel midway leaves none), or NULL when
 * recsys.compressed_scan is off or the catalog is too small to gain.
 */
static const void *
compressed_items(RsModel *model)
{
	FactorsState *f = F(model);
	int32		n = model->items.count;

	if (!recsys_compressed_scan || n < COMPRESSED_MIN_ITEMS)
		return NULL;
	if (f->q8 == NULL)
	{
		void	   *q8 = RsModelAlloc(model, rs_q8_bytes(n, f->k));

		rs_q8_init(q8, n, f->k);
		for (int32 begin = 0; begin < n; begin += 16384)
		{
			CHECK_FOR_INTERRUPTS();
			rs_q8_build(q8, f->item_factors, begin, Min(n, begin + 16384));
		}
		f->q8 = q8;
	}
	return f->q8;
}

/*
 * Rank every item for vector x (and an explicit model's user bias) in one
 * cache-friendly pass: rs_score_topk scores and selects block by block,
 * or rs_q8_score_topk scans the compressed copy and re-scores the items
 * its bounds keep (the same top k).  Explicit models report the clipped
 * rating prediction.
 */
static int
rank_for_vector(RsModel *model, const float *x, float user_bias, uint8 *exclude, int k,
				float *block, int32 *out_idx, float *out_score)
{
	FactorsState *f = F(model);
	const void *q8;
	int			found = -1;

	if (recsys_ivf_probes > 0 && k > 0)
	{
		if (!f->ivf_checked)
		{
			f->ivf = RsIvfLoad(model, f->item_factors, f->k);
			f->ivf_checked = true;
		}
		if (f->ivf != NULL)
			found = RsIvfRankVector(model, f->ivf, f->item_factors, f->score_bias, x, exclude, k,
									out_idx, out_score);
	}
	q8 = found < 0 && k > 0 && 4 * (int64) k < model->items.count ? compressed_items(model) : NULL;
	if (found >= 0)
		;						/* ranked by the IVF index */
	else if (q8 != NULL)
	{
		if (f->q8_scratch_top_n < k)
		{
			void	   *scratch = MemoryContextAllocHuge(model->mcxt, rs_q8_scratch_bytes(f->k, k));

			if (f->q8_scratch)
				pfree(f->q8_scratch);
			f->q8_scratch = scratch;
			f->q8_scratch_top_n = k;
		}
		found = rs_q8_score_topk(q8, f->item_factors, f->score_bias, x, exclude, k,
								 f->q8_scratch, block, out_idx, out_score, NULL);
	}
	else
		found = rs_score_topk(f->item_factors, f->score_bias, model->items.count, f->k, x,
							  exclude, k, block, out_idx, out_score);

	if (f->explicit_feedback)
		for (int r = 0; r < found; r++)
			out_score[r] = explicit_prediction(model, user_bias, out_idx[r],
											   out_score[r] - f->item_bias[out_idx[r]]);
	return found;
}

/* The fused ranking for a known user; -1 for a user without a vector. */
static int
factors_rank_top_k(RsModel *model, int64 user_id, const RsUserItems *items, uint8 *exclude,
				   int k, float *scratch, int32 *out_idx, float *out_score, RsReason *out_reason)
{
	float		user_bias = 0;
	const float *x = user_vector(model, user_id, items, &user_bias);
	int			found;

	if (x == NULL)
		return -1;
	found = rank_for_vector(model, x, user_bias, exclude, k, scratch, out_idx, out_score);
	for (int r = 0; r < found; r++)
		rs_bitmap_set(exclude, out_idx[r]);
	return found;
}

/*
 * A user the model cannot score: an explicit model's baseline prediction
 * mu + b_i (a rating, as evaluate uses); an implicit model's average
 * user's scores x_mean . y_i (or without a known mean user, load_mean_user,
 * each item's share of users), in popularity order (RsInPopularityOrder).
 */
static void
factors_cold_start_scores(RsModel *model, float *scores)
{
	FactorsState *f = F(model);
	int32		n = model->items.count;

	if (f->explicit_feedback)
	{
		for (int32 i = 0; i < n; i++)
			scores[i] = explicit_prediction(model, 0, i, 0);
		return;
	}
	if (f->mean_user)
		rs_score_items(f->item_factors, NULL, n, f->k, f->mean_user, scores);
	else
		memcpy(scores, f->mean_history, sizeof(float) * n);
	RsInPopularityOrder(model, scores);
}

/* One item's score (score()): one dot product, no full ranking. */
static float
factors_score_item(RsModel *model, int64 user_id, int32 i)
{
	FactorsState *f = F(model);
	float		user_bias;
	const float *x = user_vector(model, user_id, NULL, &user_bias);
	float		d;

	if (x == NULL)
		return RsColdStartScores(model)[i];
	d = rs_dot(x, f->item_factors + (int64) i * f->k, f->k);
	if (f->explicit_feedback)
		return explicit_prediction(model, user_bias, i, d);
	return f->score_bias ? d + f->score_bias[i] : d;
}

/*
 * A session's items as fold-in input: each counts 1, or for a model of
 * ratings the top rating (a visitor's items are taken as liked).
 */
static RsWeightedItem *
session_pairs(RsModel *model, const RsUserItems *session)
{
	RsWeightedItem *pairs = palloc(sizeof(RsWeightedItem) * Max(session->n, 1));
	float		weight = F(model)->explicit_feedback && !isinf(F(model)->rating_max) ?
		F(model)->rating_max : 1;

	for (int n = 0; n < session->n; n++)
	{
		pairs[n].item = session->item[n];
		pairs[n].weight = weight;
	}
	return pairs;
}

/* A session's scores: its items folded in, then every item scored (dot + b_i). */
static bool
factors_score_session(RsModel *model, const RsUserItems *session, float *scores)
{
	FactorsState *f = F(model);
	RsWeightedItem *pairs = session_pairs(model, session);
	float	   *x = palloc(sizeof(float) * f->k);
	float		bias = 0;
	bool		ok = session->n > 0 && fold_in_pairs(model, pairs, session->n, x, &bias);

	if (ok)
		rs_score_items(f->item_factors, f->score_bias,
					   model->items.count, f->k, x, scores);
	pfree(x);
	pfree(pairs);
	return ok;
}

/* A session ranked the fused way; -1 for an empty session. */
static int
factors_rank_session(RsModel *model, const RsUserItems *session, uint8 *exclude, int k,
					 float *scratch, int32 *out_idx, float *out_score)
{
	RsWeightedItem *pairs;
	float	   *x;
	float		bias = 0;
	int			found;

	if (session->n == 0)
		return -1;
	pairs = session_pairs(model, session);
	x = palloc(sizeof(float) * F(model)->k);
	fold_in_pairs(model, pairs, session->n, x, &bias);
	found = rank_for_vector(model, x, bias, exclude, k, scratch, out_idx, out_score);
	pfree(x);
	pfree(pairs);
	return found;
}

/* How alike items are: the cosines of their factors (as similar_items). */
static void
factors_item_similarity(RsModel *model, const int32 *idx, int n, float *out)
{
	rs_cosine_among(F(model)->item_factors, F(model)->item_norms, idx, n, F(model)->k, out);
}

/* The k items whose factors have the largest cosine with item i's. */
static int
factors_similar_items(RsModel *model, int32 i, int k, int32 *out_idx, float *out_score)
{
	FactorsState *f = F(model);
	int32		n_items = model->items.count;
	float	   *scores = palloc(sizeof(float) * n_items);
	uint8	   *exclude = palloc0(RS_BITMAP_BYTES(n_items) + 1);
	const float *y = f->item_factors + (int64) i * f->k;

	rs_score_items(f->item_factors, NULL, n_items, f->k, y, scores);
	rs_cosine_from_dots(scores, f->item_norms, i, n_items);
	rs_bitmap_set(exclude, i);
	return rs_topk(scores, n_items, k, exclude, out_idx, out_score);
}

static bool
factors_rates(RsModel *model)
{
	return F(model)->explicit_feedback;
}

/*
 * The explicit model's clipped prediction, with the usual cold-start
 * terms: mu + b_i for a user without a vector (its cold-start score),
 * mu + b_u for an unknown item (i = -1).
 */
static double
factors_predict_rating(RsModel *model, int64 user_id, const RsUserItems *items, int32 i)
{
	FactorsState *f = F(model);
	float		user_bias = 0;
	const float *x = user_vector(model, user_id, items, &user_bias);
	double		p = f->global_mean;

	if (x != NULL)
		p += user_bias;
	if (i >= 0)
		p += f->item_bias[i];
	if (x != NULL && i >= 0)
		for (int a = 0; a < f->k; a++)
			p += (double) x[a] * f->item_factors[(int64) i * f->k + a];
	return Min(Max(p, f->rating_min), f->rating_max);
}

/* fold_in(): the vector (and bias) for the pairs, NULL if none to fit. */
static float *
factors_fold_in(RsModel *model, RsWeightedItem *pairs, int n, float *bias, int *length)
{
	float	   *x = palloc(sizeof(float) * F(model)->k);

	*length = F(model)->k;
	if (!fold_in_pairs(model, pairs, n, x, bias))
	{
		pfree(x);
		return NULL;
	}
	return x;
}

/* recommend_for_vector(): vec must have the model's number of factors. */
static int
factors_rank_vector(RsModel *model, const float *x, int length, float bias, uint8 *exclude,
					int k, int32 *out_idx, float *out_score)
{
	if (length != F(model)->k)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vec has %d elements, but model \"%s\" has %d factors", length, model->name,
						F(model)->k)));
	return rank_for_vector(model, x, bias, exclude, k, palloc(sizeof(float) * RS_SCORE_BLOCK),
						   out_idx, out_score);
}

/*
 * refresh_user(): the user's vector from the source as it is now, NULL
 * when the user has no interactions with the model's items.  A model
 * trained with store_users false has no row to refresh (and must not
 * gain one): an error says so.
 */
static float *
factors_refresh_user(RsModel *model, int64 user_id, float *bias, int *length)
{
	RsUserItems items;
	float	   *x;

	if (!F(model)->store_users)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" stores no user vectors, so refresh_user has nothing to refresh",
						model->name),
				 errdetail("It was trained with store_users => false: serving folds each user's current rows of the source in at query time."),
				 errhint("Leave out the refresh_user call for this model; recsys.fold_in computes a vector without storing it.")));
	RsReadUserItems(model, user_id, "refresh_user", &items);
	x = palloc(sizeof(float) * F(model)->k);
	*length = F(model)->k;
	if (!fold_in_user_items(model, &items, x, bias))
	{
		pfree(x);
		return NULL;
	}
	return x;
}

/* One scan of a version's stored user vectors (similar_users). */
typedef struct SimilarUsersScan
{
	RsModel    *model;
	const float *x;				/* the user's vector, |x| = 1 */
	int64		self;
	RsUserScores scores;
} SimilarUsersScan;

static void
similar_user_row(TupleTableSlot *slot, void *arg)
{
	SimilarUsersScan *scan = arg;
	int			k = F(scan->model)->k;
	int64		id;
	ArrayType  *v;
	const float *y;
	double		dot = 0,
				norm = 0;

	slot_getallattrs(slot);
	if (slot->tts_isnull[0] || slot->tts_isnull[1])
		RsModelCorrupt(scan->model, "a stored user vector has no user or no factors");
	id = DatumGetInt64(slot->tts_values[0]);
	if ((scan->scores.n & 4095) == 0)
		CHECK_FOR_INTERRUPTS();
	if (id == scan->self)
		return;
	v = DatumGetArrayTypeP(slot->tts_values[1]);
	if (ARR_NDIM(v) != 1 || ARR_DIMS(v)[0] != k || ARR_HASNULL(v))
		RsModelCorrupt(scan->model, "a user's factor vector has the wrong length");
	y = (const float *) ARR_DATA_PTR(v);
	for (int a = 0; a < k; a++)
	{
		dot += (double) scan->x[a] * y[a];
		norm += (double) y[a] * y[a];
	}
	if (!isfinite(dot) || !isfinite(norm))
		RsModelCorrupt(scan->model, "a user's factor vector holds a value that is not finite");
	RsUserScoresAdd(&scan->scores, id, norm > 0 ? (float) (dot / sqrt(norm)) : 0.0f);
}

static void
scan_user_factors(void *arg)
{
	SimilarUsersScan *scan = arg;
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2] = {CStringGetTextDatum(scan->model->name), Int32GetDatum(scan->model->version)};

	RsStreamQuery("SELECT user_id, factors FROM recsys.user_factors "
				  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
				  2, argtypes, values, NULL, true, similar_user_row, scan);
}

/*
 * similar_users(): the cosine of the user's stored vector with every other
 * stored user vector of the version.  A model trained with store_users
 * false keeps nothing per user: it refuses (folding everyone in from the
 * source would compare users the model was told not to keep).
 */
static int
factors_similar_users(RsModel *model, int64 user_id, int k, int64 *out_ids, float *out_score)
{
	/* the scores outlive the scan's SPI connection */
	SimilarUsersScan scan = {model, NULL, user_id, {.mcxt = CurrentMemoryContext}};
	const float *x;
	float	   *unit;
	double		norm = 0;

	if (!F(model)->store_users)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" keeps no per-user data, so it cannot compare users", model->name),
				 errdetail("It was trained with store_users => false: no user vector is stored."),
				 errhint("Compare users with a model trained with store_users => true.")));
	x = user_vector(model, user_id, NULL, NULL);
	if (x == NULL)
		return -1;
	unit = palloc(sizeof(float) * F(model)->k);
	for (int a = 0; a < F(model)->k; a++)
		norm += (double) x[a] * x[a];
	for (int a = 0; a < F(model)->k; a++)
		unit[a] = norm > 0 ? (float) (x[a] / sqrt(norm)) : 0.0f;
	scan.x = unit;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsRunAsCatalogOwner(scan_user_factors, &scan);
	SPI_finish();
	return RsUserScoresTop(&scan.scores, k, out_ids, out_score);
}

/* The user vector query goes with the model (or when it is unpinned). */
static void
factors_free(RsModel *model)
{
	if (F(model) == NULL)
		return;
	RsDropPlan(model, F(model)->user_plan);
	F(model)->user_plan = NULL;
}

/* Where factors_factor_vectors folds users in (RsReadUsersItems). */
typedef struct FoldInto
{
	RsModel    *model;
	float	   *users;
	bool	   *found;
} FoldInto;

/* One user's vector from the items read, as user_vector would fold it in. */
static void
fold_user_into(void *arg, int u, const RsUserItems *items)
{
	FoldInto   *into = arg;
	int			k = F(into->model)->k;
	float		bias;

	into->found[u] = fold_in_user_items(into->model, items, into->users + (Size) u * k, &bias);
	if (!into->found[u])
		memset(into->users + (Size) u * k, 0, sizeof(float) * k);
}

/*
 * factors_factor_vectors: the item factors as loaded, and each user's
 * vector as serving reads it (stored, or folded in from the source for a
 * model trained with store_users false: the users' items read a thousand
 * users per query, RsReadUsersItems, not a query per user).
 */
static int
factors_factor_vectors(RsModel *model, const int64 *user_ids, int n, float *users, bool *found,
					   const float **items, const float **score_bias)
{
	int			k = F(model)->k;

	*items = F(model)->item_factors;
	*score_bias = F(model)->score_bias;
	if (users != NULL && !F(model)->store_users && n > 1)
	{
		FoldInto	into = {model, users, found};

		RsReadUsersItems(model, user_ids, n, "A model trained with store_users => false",
						 fold_user_into, &into);
		return k;
	}
	for (int u = 0; users != NULL && u < n; u++)
	{
		const float *x;

		CHECK_FOR_INTERRUPTS();
		x = user_vector(model, user_ids[u], NULL, NULL);
		found[u] = x != NULL;
		if (x != NULL)
			memcpy(users + (Size) u * k, x, sizeof(float) * k);
		else
			memset(users + (Size) u * k, 0, sizeof(float) * k);
	}
	return k;
}

const RsModelKind RsFactorsKind = {
	.name = "factors",
	.load = factors_load,
	.free = factors_free,
	.flatten = factors_flatten,
	.attach = factors_attach,
	.history_input = factors_history_input,
	.score_user = factors_score_user,
	.rank_top_k = factors_rank_top_k,
	.cold_start_scores = factors_cold_start_scores,
	.score_item = factors_score_item,
	.score_session = factors_score_session,
	.rank_session = factors_rank_session,
	.similar_items = factors_similar_items,
	.item_similarity = factors_item_similarity,
	.contributions = factor_contributions,
	.explain = factors_explain,
	.rates = factors_rates,
	.predict_rating = factors_predict_rating,
	.fold_in = factors_fold_in,
	.rank_vector = factors_rank_vector,
	.refresh_user = factors_refresh_user,
	.similar_users = factors_similar_users,
	.refresh_cold_items = RsRefreshColdVectors,
	.factor_vectors = factors_factor_vectors,
};
