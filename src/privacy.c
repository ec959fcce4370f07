/*-------------------------------------------------------------------------
 *
 * privacy.c
 *		(epsilon, delta)-differential privacy for train_ease and
 *		train_item_knn: arguments, the seed, the noisy Gram matrix, and
 *		what else a private model may release.
 *
 * The mechanism (McSherry and Mironov, KDD 2009, with the Gaussian
 * mechanism calibrated as Balle and Wang, ICML 2018): every user's binary
 * history is clipped to the L2 weight of a user with max_user_items items,
 * the upper triangle of the Gram matrix and the number of users get
 * N(0, sigma^2) each (src/kernel/dp.c), and the model is computed from
 * that noisy vector alone.  So is everything else the model stores: the
 * item statistics are the noisy diagonal, the models row's n_users is the
 * noisy user count and n_interactions the sum of the noisy diagonal; no
 * exact count of the source is written.  Item ids are the catalog: taken
 * as public (doc/reference.md, "Differential privacy").
 *
 * The noise seed comes from pg_strong_random() unless the caller passes
 * one (for tests: noise whose seed is known can be subtracted).  It is
 * never stored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "port.h"

#include "args.h"
#include "cancel.h"
#include "dp.h"
#include "ease.h"
#include "model_store.h"
#include "privacy.h"

/* rows of the Gram matrix noised between two interrupt checks */
#define DP_CHUNK_ROWS 256

/*
 * RsPrivacyArgs reads (epsilon, delta, max_user_items, seed) from
 * argument argno on, if the SQL definition has them (older ones do not).
 */
void
RsPrivacyArgs(FunctionCallInfo fcinfo, int argno, RsPrivacy *privacy)
{
	memset(privacy, 0, sizeof(*privacy));
	if (PG_NARGS() <= argno + 3)
		return;
	if (PG_ARGISNULL(argno))
	{
		if (!PG_ARGISNULL(argno + 1) || !PG_ARGISNULL(argno + 2) || !PG_ARGISNULL(argno + 3))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("delta, max_user_items and seed apply only to a private model"),
					 errhint("Pass epsilon too, or leave them NULL.")));
		return;
	}
	privacy->enabled = true;
	privacy->epsilon = PG_GETARG_FLOAT8(argno);
	if (!(privacy->epsilon > 0 && privacy->epsilon <= RS_DP_MAX_EPSILON))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("epsilon must be greater than 0 and at most %d, not %g",
						RS_DP_MAX_EPSILON, privacy->epsilon),
				 errhint("Pass NULL for a model without differential privacy.")));
	privacy->delta = PG_ARGISNULL(argno + 1) ? RS_DP_DEFAULT_DELTA : PG_GETARG_FLOAT8(argno + 1);
	if (!(privacy->delta > 0 && privacy->delta < 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delta must be greater than 0 and less than 1, not %g", privacy->delta),
				 errhint("Choose delta well below 1 / the number of users; NULL means %g.",
						 RS_DP_DEFAULT_DELTA)));
	privacy->max_user_items = PG_ARGISNULL(argno + 2) ? RS_DP_DEFAULT_MAX_USER_ITEMS :
		RsIntArg(fcinfo, argno + 2, "max_user_items", 1, RS_DP_MAX_USER_ITEMS);
	privacy->seeded = !PG_ARGISNULL(argno + 3);
	if (privacy->seeded)
		privacy->seed = (uint64) PG_GETARG_INT64(argno + 3);
	else if (!pg_strong_random(&privacy->seed, sizeof(privacy->seed)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not draw a random seed for the privacy noise")));
	privacy->sensitivity = rs_dp_gram_sensitivity(privacy->max_user_items);
	privacy->sigma = rs_dp_sigma(privacy->epsilon, privacy->delta, privacy->sensitivity);
	if (!(privacy->sigma > 0))
		elog(ERROR, "no noise scale for epsilon %g, delta %g", privacy->epsilon, privacy->delta);
}

/* RsPrivacyRefuse raises an error if a private model was asked for `what`. */
void
RsPrivacyRefuse(const RsPrivacy *privacy, bool refused, const char *what)
{
	if (privacy->enabled && refused)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s cannot be combined with epsilon", what),
				 errdetail("A differentially private model counts every interaction once, clipped per user.")));
}

/*
 * RsPrivateGram writes the noisy Gram matrix of the source's binary
 * interactions, each user clipped, into the upper triangle of the n x n
 * G (rs_ease_gram_finish completes it), and keeps the noisy diagonal and
 * counts for what the model releases besides.
 */
void
RsPrivateGram(RsPrivacy *privacy, const RsInteractions *data, float *G)
{
	int32		n = data->items.count;
	float	   *weight = palloc(sizeof(float) * Max(data->by_user.n_rows, 1));
	double		interactions = 0;

	rs_dp_clip_weights(&data->by_user, privacy->max_user_items, weight);
	if (rs_ease_gram_counts(&data->by_user, 1, weight, G, RsCancelRequested, NULL) != 0)
		RsKernelStopped("the private Gram matrix");
	pfree(weight);
	for (int32 begin = 0; begin < n; begin += DP_CHUNK_ROWS)
	{
		CHECK_FOR_INTERRUPTS();
		rs_dp_add_gram_noise(G, n, begin, Min(begin + DP_CHUNK_ROWS, n), privacy->sigma,
							 privacy->seed);
	}
	privacy->noisy_counts = palloc(sizeof(float) * Max(n, 1));
	for (int32 i = 0; i < n; i++)
	{
		privacy->noisy_counts[i] = Max(G[(int64) i * n + i], 0.0f);
		interactions += privacy->noisy_counts[i];
	}
	privacy->noisy_interactions = (int64) llround(interactions);
	privacy->noisy_users = rs_dp_noisy_user_count(data->users.count, n, privacy->sigma,
												  privacy->seed);
}

/* RsPrivacyDescribe adds the privacy parameters to a model's params. */
void
RsPrivacyDescribe(const RsPrivacy *privacy, StringInfo params)
{
	if (!privacy->enabled)
		return;
	RsJsonFloat(params, "epsilon", privacy->epsilon);
	RsJsonFloat(params, "delta", privacy->delta);
	RsJsonInt(params, "max_user_items", privacy->max_user_items);
	RsJsonFloat(params, "noise_sigma", privacy->sigma);
	RsJsonFloat(params, "sensitivity", privacy->sensitivity);
	/* the seed itself would let anyone subtract the noise */
	RsJsonText(params, "seeded", privacy->seeded ? "true" : "false");
}

/*
 * RsPrivacyWriteItemStats stores the item statistics of a model: exact
 * ones from the data, or, for a private model, the noisy diagonal of the
 * Gram matrix as user count, weight sum and popularity.
 */
void
RsPrivacyWriteItemStats(const RsPrivacy *privacy, const char *name, int32 version,
						const RsInteractions *data)
{
	int32		n = data->items.count;
	int32	   *users;

	if (!privacy->enabled)
	{
		RsWriteItemStatsFromData(name, version, data);
		return;
	}
	users = palloc(sizeof(int32) * Max(n, 1));
	for (int32 i = 0; i < n; i++)
		users[i] = (int32) Min(lroundf(privacy->noisy_counts[i]), PG_INT32_MAX);
	RsWriteItemStats(name, version, data->items.ids, n, users, privacy->noisy_counts,
					 privacy->noisy_counts);
	pfree(users);
}
