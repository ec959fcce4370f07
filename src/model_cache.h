/*-------------------------------------------------------------------------
 *
 * model_cache.h
 *		Trained models loaded into backend memory for serving.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_MODEL_CACHE_H
#define RECSYS_MODEL_CACHE_H

#include "postgres.h"

#include <math.h>

#include "executor/spi.h"
#include "lib/ilist.h"
#include "utils/timestamp.h"

#include "idmap.h"
#include "sparse.h"

/*
 * Identifies the running statement and what it can see, for caches valid
 * while neither changes: the top-level statement, the transaction, the
 * snapshot's command id (our own writes) and its horizon: xmin, xmax and
 * the transactions in progress when it was taken (everybody else's
 * writes); also who asks (role and security context, for privileges and
 * row-level security) and how many subtransactions have rolled back (a
 * rolled-back savepoint takes its writes away without changing the rest).
 */
typedef struct RsStatementStamp
{
	TimestampTz statement_start;
	LocalTransactionId lxid;
	CommandId	cid;
	TransactionId xmin;
	TransactionId xmax;
	uint64		in_progress;	/* a hash of the snapshot's xip and subxip */
	Oid			user_id;
	int			security_context;
	uint64		subxact_aborts;
	bool		valid;
} RsStatementStamp;

/* How a model scores items. */
typedef enum RsModelKind
{
	RS_MODEL_FACTORS,			/* als, mf: dot products of latent factors */
	RS_MODEL_ITEM_KNN,			/* item_knn: the user's items' neighbours */
	RS_MODEL_USER_KNN,			/* user_knn: the user's neighbours' items */
	RS_MODEL_POPULAR,			/* popular: one ranking for everybody */
	RS_MODEL_BLEND				/* blend: other models' scores, standardised and summed */
} RsModelKind;

struct RsModel;

/*
 * One member of a blend model (src/blend.c).  A loaded blend binds each
 * member once, to the member as loaded then (RsResolveBlendMembers); when
 * a member is reloaded, the blend is loaded anew rather than changed, so
 * a statement still using the old blend keeps a consistent set.
 */
typedef struct RsBlendMember
{
	char	   *name;
	float		weight;
	/* bound by RsResolveBlendMembers; pinned whenever the blend is */
	struct RsModel *model;
	uint64		instance;		/* the bound member's RsModel.instance */
	/* blend item -> member item, -1 unknown */
	int32	   *index;			/* NULL: the member has exactly the blend's items */
	bool		within_blend;	/* every item of the member is one of the blend's */
} RsBlendMember;

typedef struct RsModel
{
	char		name[NAMEDATALEN];
	int32		version;
	TimestampTz trained_at;
	char	   *algorithm;
	RsModelKind kind;
	MemoryContext mcxt;
	Oid			owner;			/* reads the source; as of this statement's check */
	char	   *fingerprint;	/* of the catalog row's params and stats, when loaded */

	/* the cache's bookkeeping (model_cache.c) */
	uint64		instance;		/* unique per load in this backend */
	dlist_head	pins;			/* statements using the model (ModelPin) */
	bool		cached;			/* the cache's current copy, else retired */
	dlist_node	cache_node;		/* in the LRU list if cached, else the retired list */
	List	   *stale_plans;	/* plans replaced while pinned, freed when unpinned */

	/* the source, for the items a user has seen (InvalidOid if gone) */
	Oid			source;
	char	   *source_name;
	char	   *user_col;
	char	   *item_col;
	char	   *weight_col;		/* NULL: every row counts 1 */
	char	   *time_col;		/* item models with a half-life, else NULL */
	double		half_life;		/* seconds; 0: history not weighted by age */
	SPIPlanPtr	seen_plan;		/* SELECT item, weight, time WHERE user = $1 */
	SPIPlanPtr	seen_many_plan; /* SELECT user, item[, weight] WHERE user = ANY($1) */

	/* every item the model knows, and its popularity */
	RsIdMap		items;			/* items.ids[] ascending */
	float	   *popularity;		/* per item index */
	int32	   *popular_order;	/* item indexes, most popular first */

	/* factor models */
	int			k;
	bool		explicit_feedback;
	bool		binary;			/* every interaction weighs 1 (EASE) */
	float		global_mean;
	float		rating_min;
	float		rating_max;
	float		regularization;
	float		reg_exponent;	/* implicit: see RsImplicitUserReg */
	float		alpha;
	float	   *item_factors;	/* n_items x k */
	float	   *item_bias;
	float	   *item_norms;		/* |y_i|, for cosine similar_items */
	float	   *gram;			/* k x k YtY, computed on first explain */

	/*
	 * One user's vector, read per statement (RsModelUserVector): from
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

	/* neighbourhood models: neighbours of each item (or user) by index */
	RsIdMap		users;			/* user-kNN: the users with neighbour lists */
	RsCsr		neighbors;

	/*
	 * user-kNN: the source's rows by user, lent by evaluate for the length
	 * of its loop (it has read them all), so the neighbours' items need no
	 * query per user; NULL otherwise.  Row columns map to model items
	 * through lent_item_index (-1: unknown to the model).
	 */
	const RsIdMap *lent_users;
	const RsCsr *lent_rows;
	const int32 *lent_item_index;

	/* blends: the members, and room for one member's scores */
	int			n_members;
	RsBlendMember *members;
	float	   *member_scores;
	int32		member_scores_size;

	/* validity memo: checked against the catalog once per statement */
	RsStatementStamp checked;
	RsStatementStamp columns_checked;	/* the source's columns, likewise */
} RsModel;

/* A user's interactions as read from the source at call time. */
typedef struct RsUserItems
{
	int			n;
	int32	   *item;			/* item indexes in the model */
	float	   *weight;
	float	   *recency;		/* per item, for models with a half-life, or NULL */
} RsUserItems;

/*
 * The regularisation of an implicit model's user system, as training had
 * it: reg, times (n_items + alpha sum_i |w_i|)^reg_exponent when the model
 * scales it by the user's total confidence (src/kernel/als.h).
 */
static inline float
RsImplicitUserReg(const RsModel *model, double sum_abs_weight)
{
	if (model->reg_exponent == 0)
		return model->regularization;
	return (float) (model->regularization *
					pow((double) model->items.count + model->alpha * sum_abs_weight,
						model->reg_exponent));
}

/*
 * How much one of the user's items counts as input to an item model: its
 * weight (1 in binary models), times its recency weight if any.
 */
static inline float
RsUserItemInput(const RsModel *model, const RsUserItems *items, int n)
{
	float		w = model->binary ? 1.0f : items->weight[n];

	return items->recency ? w * items->recency[n] : w;
}

extern RsStatementStamp RsCurrentStatement(void);
extern bool RsSameStatement(const RsStatementStamp *a, const RsStatementStamp *b);
/* recsys.cache_size, in kB: models a backend keeps loaded beyond those in use */
#define RECSYS_DEFAULT_CACHE_SIZE_KB (1024 * 1024)	/* 1 GB */
#define RECSYS_MAX_CACHE_SIZE_KB INT_MAX

extern void RsModelCacheInit(void);
extern RsModel *RsGetModel(const char *name);
extern int32 RsModelItemIndex(RsModel *model, int64 item_id);
extern int32 RsModelUserIndex(RsModel *model, int64 user_id);
extern const float *RsModelUserVector(RsModel *model, int64 user_id,
									  const RsUserItems *items, float *bias);
extern const float *RsModelGram(RsModel *model);
extern void RsReadUserItems(RsModel *model, int64 user_id, const char *why,
							RsUserItems *out);
extern void RsFreeUserItems(RsUserItems *items);
extern void RsRequireSource(RsModel *model, const char *why);
extern Oid	RsSourceReader(RsModel *model);

#endif							/* RECSYS_MODEL_CACHE_H */
