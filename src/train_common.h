/*-------------------------------------------------------------------------
 *
 * train_common.h
 *		What every recsys training function shares: one lifecycle.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_TRAIN_COMMON_H
#define RECSYS_TRAIN_COMMON_H

#include "postgres.h"

#include "fmgr.h"

#include "args.h"
#include "ingest.h"
#include "model_store.h"

/* Where a trainer's common arguments are (-1: it has none). */
typedef struct RsTrainArgNos
{
	int			model;			/* the model name */
	int			cols;			/* user_col, item_col (source is argument 0) */
	int			weight_col;		/* the weight column */
	int			replace;		/* replace, new in 0.6.0 */
	int			events;			/* event_col, event_weights next (0: none) */
} RsTrainArgNos;

/*
 * One training run, from RsTrainArgs through RsTrainBegin to
 * RsTrainFinish.  The trainer adds its own settings to params and its own
 * results to stats; RsTrainFinish adds the source's columns, row counts
 * and read time.
 */
typedef struct RsTrainer
{
	double		start;			/* clock reading at the call */
	MemoryContext caller_context;	/* current at the call: the result's */
	char	   *name;			/* the model trained */
	const char *algorithm;		/* what it is trained as */
	bool		replace;		/* may a model of another algorithm be replaced */
	bool		verbose;		/* a NOTICE per iteration (the trainer's argument) */
	const char *function;		/* the SQL function's name, for progress */
	void		(*refuse) (const char *name);	/* the trainer's own refusals
												 * of the name, first */
	RsSourceSpec spec;			/* relid InvalidOid until known (a blend's) */
	RsInteractions *data;		/* the source as read, or NULL */
	bool		exact_counts;	/* store the source's row counts (not when private) */
	StringInfoData params;		/* a JSON object being built: the settings */
	StringInfoData stats;		/* a JSON object being built: the results */
	int64		n_users;		/* the catalog's counts, preset from data */
	int64		n_items;
	int64		n_interactions;
	bool		snapshot_pushed;	/* RsTrainBegin's fresh snapshot is active */
	double		max_weight;		/* largest |weight| of a pair the trainer
								 * accepts (RS_MAX_GRAM_WEIGHT); 0: any in
								 * real's range */
} RsTrainer;

/*
 * The largest |weight| of a (user, item) pair, its rows' weights summed,
 * that a trainer multiplying weights into real Gram matrices accepts
 * (train_cf, train_ease; as train_cf's feature values,
 * RS_ALS_MAX_FEATURE_VALUE): ALS's confidence alpha * weight is then at
 * most 1e14 and EASE's squared weights 1e16, so their sums stay far inside
 * real; near FLT_MAX they overflowed (ALS: 22000 "not positive definite",
 * hinting at regularization).
 */
#define RS_MAX_GRAM_WEIGHT 1e8

/*
 * Writes a version's item statistics and artefacts, between its creation
 * and its activation.
 */
typedef void (*RsTrainWriter) (RsTrainer *trainer, int32 version, void *arg);

/* The neighbour lists a kNN or EASE model stores (RsWriteNeighborLists). */
typedef struct RsNeighborLists
{
	RsSide		side;			/* items' lists, or users' */
	const struct RsPrivacy *privacy;	/* the item statistics' privacy */
	int			slots;			/* neighbours per row at most */
	const int32 *count;			/* per row: how many */
	const int32 *neighbor;		/* row-major, slots per row */
	const float *score;
	/*
	 * The rows' dense indexes in the side's id map, which the neighbours
	 * index too (NULL: every item or user of the source).  EASE over its
	 * most popular items alone (max_items) passes theirs: the model's
	 * catalog (item statistics) is then those items alone.
	 */
	const int32 *rows;
	int64		n_rows;
} RsNeighborLists;

extern void RsWriteNeighborLists(RsTrainer *trainer, int32 version, void *arg);
extern void RsTrainArgs(FunctionCallInfo fcinfo, const RsTrainArgNos *argnos,
						RsTrainer *trainer);
extern void RsTrainBegin(RsTrainer *trainer, const char *algorithm, RsInteractions *data);
extern Datum RsTrainFinish(FunctionCallInfo fcinfo, RsTrainer *trainer,
						   RsTrainWriter write, void *arg);

extern void RsRefuseRepeatedRatings(const RsTrainer *trainer, const RsInteractions *data);
extern double RsSeconds(void);
extern void RsCheckTrainingMemory(const char *what, Size bytes, const RsInteractions *data);
extern Size RsInteractionBytes(const RsInteractions *data);
extern bool RsSourceWeighted(const RsSourceSpec *spec);
extern const char *RsWeightsName(const RsSourceSpec *spec);

#endif							/* RECSYS_TRAIN_COMMON_H */
