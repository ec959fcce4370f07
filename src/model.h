/*-------------------------------------------------------------------------
 *
 * model.h
 *		A trained model as served: RsModel, the user's items it scores, and
 *		RsModelKind, the callbacks by which each kind of model serves
 *		(src/model_kind.h has the registry; one src/kind_*.c per kind).
 *
 * Types only, so that the model cache, the serving entry points and the
 * kinds can share them without including each other.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_MODEL_H
#define RECSYS_MODEL_H

#include "postgres.h"

#include <math.h>

#include "executor/spi.h"
#include "lib/ilist.h"
#include "nodes/pg_list.h"
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

typedef struct RsModel
{
	char		name[NAMEDATALEN];
	int32		version;
	TimestampTz trained_at;
	char	   *algorithm;
	const struct RsModelKind *kind;	/* how it serves (src/model_kind.h) */
	MemoryContext mcxt;
	Oid			owner;			/* reads the source; as of this statement's check */
	char	   *fingerprint;	/* of the catalog row's params and stats, when loaded */
	/*
	 * Scores every user alike, so its rows' reason is 'popular': the kind's
	 * impersonal flag, which a kind may set per model (a blend whose
	 * members are all impersonal is so) in load or revalidate.
	 */
	bool		impersonal;

	/* the cache's bookkeeping (model_cache.c) */
	uint64		instance;		/* unique per load in this backend */
	dlist_head	pins;			/* statements using the model (ModelPin) */
	bool		cached;			/* the cache's current copy, else retired */
	dlist_node	cache_node;		/* in the LRU list if cached, else the retired list */
	List	   *stale_plans;	/* plans replaced while pinned, freed when unpinned */
	/* served from a shared copy (shared_cache.c): its slot and size, else -1 */
	int			shared_slot;
	Size		shared_bytes;

	/* the source, for the items a user has seen (InvalidOid if gone) */
	Oid			source;
	char	   *source_name;
	char	   *user_col;
	char	   *item_col;
	char	   *weight_col;		/* NULL: every row counts 1 */
	char	   *event_col;		/* NULL: no event types (src/events.c) */
	const struct RsEventMap *events;	/* with event_col: weight per type */
	char	   *time_col;		/* item models with a half-life, else NULL */
	double		half_life;		/* seconds; 0: history not weighted by age */
	SPIPlanPtr	seen_plan;		/* SELECT item, weight, time WHERE user = $1 */
	SPIPlanPtr	seen_many_plan; /* SELECT user, item[, weight] WHERE user = ANY($1) */

	/* every item the model knows, and its popularity */
	RsIdMap		items;			/* items.ids[] ascending */
	float	   *popularity;		/* per item index */
	int32	   *popular_order;	/* item indexes, most popular first */
	/* the kind's cold-start scores, computed on first use (RsColdStartScores) */
	float	   *cold_start;

	/*
	 * The kind's own state (each src/kind_*.c defines its struct: factors,
	 * neighbour lists, blend members), in the model's context.
	 */
	void	   *kind_state;
	/* the history's weights are ignored: every interaction weighs 1 */
	bool		binary_input;

	/*
	 * The source's rows by user, lent by evaluate for the length of its
	 * loop (it has read them all), for kinds that read other users' rows
	 * (user-kNN) instead of a query per user; NULL otherwise.  Row columns
	 * map to model items through lent_item_index (-1: unknown to the model).
	 */
	const RsIdMap *lent_users;
	const RsCsr *lent_rows;
	const int32 *lent_item_index;

	/* validity memo: checked against the catalog once per statement */
	RsStatementStamp checked;
	RsStatementStamp columns_checked;	/* the source's columns, likewise */
} RsModel;

/*
 * Why an item is in a ranking (recommend's reason column): the model
 * scored the user; it scored the user but reached fewer than k items and
 * the popularity ranking filled the list (score 0, what the model gives
 * an item it does not reach); it cannot score the user and its cold-start
 * scores ranked the items; or it ranks every user alike (popularity).
 */
typedef enum RsReason
{
	RS_REASON_PERSONALISED,
	RS_REASON_FILLED,
	RS_REASON_COLD_START,
	RS_REASON_POPULAR,
} RsReason;

/* A user's interactions as read from the source at call time. */
typedef struct RsUserItems
{
	int			n;
	int32	   *item;			/* item indexes in the model */
	float	   *weight;
	float	   *recency;		/* per item, for models with a half-life, or NULL */
	/*
	 * The caller leaves these items out of the ranking (recommend's
	 * exclude_seen, evaluate): a kind that ranks another model's items (a
	 * re-ranker's base) leaves out what that model has of the user too.
	 */
	bool		exclude_seen;
} RsUserItems;

/* One interaction: an item's dense index in the model and its weight. */
typedef struct RsWeightedItem
{
	int32		item;
	float		weight;
} RsWeightedItem;

/* The error of an item's summed weight beyond the float range. */
static inline void
RsWeightOutOfRange(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("the summed weight of an item is out of range for type real"),
			 errhint("Scale the weights down.")));
}

/*
 * Add weight to an item's summed weight, refusing a sum beyond the float
 * range (the solver would give NaN).
 */
static inline void
RsAddWeight(float *sum, float weight)
{
	*sum += weight;
	if (isinf(*sum))
		RsWeightOutOfRange();
}

/* A user's item and its share in an item's score (explain). */
typedef struct RsContribution
{
	int64		item_id;
	float		value;
} RsContribution;

/* What the catalog says about a model's active version (the kinds' load input). */
typedef struct RsCatalogRow
{
	int32		version;
	TimestampTz trained_at;
	char	   *algorithm;
	char	   *source;
	char	   *user_col;
	char	   *item_col;
	char	   *weight_col;
	int64		n_users;
	int64		n_items;
	int			k;
	bool		explicit_feedback;
	bool		binary;
	float		global_mean;
	float		rating_min;
	float		rating_max;
	float		regularization;
	float		alpha;
	char	   *time_col;
	double		half_life;
	float		reg_exponent;
	Oid			owner;
	bool		store_users;
	char	   *fingerprint;	/* md5 of params and stats: edits without a new version */
	float		learning_rate;	/* a model trained by SGD (bpr), else 0 */
	int			iterations;		/* its epochs */
	int64		seed;
	char	   *params;			/* params as JSON text, for a kind's own settings */
	char	   *event_col;		/* a multi-behaviour source's event column */
	char	   *event_weights;	/* and its weights (JSON text), else NULL */
} RsCatalogRow;

/*
 * A flat, pointer-free copy of a loaded model (the shared cache's,
 * src/shared_cache.c): arrays laid out one after another at offsets from
 * base, each aligned for SIMD loads.  RsFlatPut appends bytes (copied
 * from src unless NULL) and returns their offset; with base NULL it only
 * counts, to size the copy first.  lean: leave out what each backend can
 * build for itself (an IVF index), when the whole copy would not fit in
 * recsys.shared_cache_size but the model alone does.
 */
typedef struct RsFlat
{
	char	   *base;
	Size		size;
	bool		lean;
} RsFlat;

#define RS_FLAT_ALIGN 64

static inline Size
RsFlatPut(RsFlat *flat, const void *src, Size bytes)
{
	Size		offset = TYPEALIGN(RS_FLAT_ALIGN, flat->size);

	if (flat->base != NULL && src != NULL && bytes > 0)
		memcpy(flat->base + offset, src, bytes);
	flat->size = offset + bytes;
	return offset;
}

/* The array at offset of a flat copy (NULL for offset 0: absent). */
static inline void *
RsFlatAt(const char *base, Size offset)
{
	return offset == 0 ? NULL : (void *) (base + offset);
}

/*
 * RsModelKind: how one kind of model serves, as PostgreSQL's index access
 * methods fill an IndexAmRoutine.  Serving code never asks a model which
 * kind it is; it calls these.  A NULL callback means the kind does not
 * support the action: the entry point raises one FEATURE_NOT_SUPPORTED
 * error for it (RsKindNotSupported).  Scores are per model item index;
 * NaN marks an item the model cannot reach for this user.
 */
typedef struct RsModelKind
{
	const char *name;			/* "factors", "item neighbours", ... */
	/* scores every user alike (popularity): its rows are not personalised */
	bool		impersonal;
	/* re-ranks another model's candidates: cannot be a blend member or a base */
	bool		reranks;
	/*
	 * The key of the version's params that names the models it serves from
	 * (a blend's "members" array, a re-ranker's "candidates_from"), which
	 * then may not be dropped or renamed under it and go with it to Citus
	 * workers (recsys._kinds_using_models); NULL: none.
	 */
	const char *uses_models;

	/* read the kind's artefacts of the version row names (SPI connected) */
	void		(*load) (RsModel *model, const RsCatalogRow *row);
	/* once per statement that uses the model; false: load it anew */
	bool		(*revalidate) (RsModel *model);
	/* free what lives outside the model's context (prepared queries) */
	void		(*free) (RsModel *model);

	/*
	 * The shared model cache (optional: both or neither; a kind without
	 * them is loaded by each backend for itself).  flatten appends the
	 * kind's read-only arrays, and a header of its own first, to a flat
	 * copy (RsFlatPut); it is called twice, to size the copy (flat->base
	 * NULL) and to write it into shared memory, so it must be pure: no
	 * error, allocation or interrupt check.  attach sets kind_state up
	 * for a model served from such a copy: checks of the row as load
	 * makes them, per-backend state (scratch, prepared queries) in the
	 * model's context, and pointers into copy for the arrays, whose
	 * header is at offset kind; the copy is read-only and shared by every
	 * backend, so nothing may write into it or compute into it lazily.
	 */
	void		(*flatten) (RsModel *model, RsFlat *flat);
	void		(*attach) (RsModel *model, const RsCatalogRow *row, const char *copy, Size kind);
	/* whose rights read the source (NULL: the model's owner) */
	Oid			(*source_reader) (RsModel *model);

	/*
	 * Whether score_user takes the user's items (read from the source) as
	 * input: NULL if not, else what needs them, for the errors of a read.
	 */
	const char *(*history_input) (RsModel *model);
	/* every item for a user; false: cannot score the user (cold start) */
	bool		(*score_user) (RsModel *model, int64 user_id, const RsUserItems *items,
							   float *scores);
	/*
	 * fused score + top-k; -1: cannot score the user (then score_user is
	 * not tried).  out_reason (NULL: not wanted) comes preset to the
	 * model's own reason (personalised, or popular if impersonal) for each
	 * of the k rows; a kind whose rows come from another model (a
	 * re-ranker's base) sets each row's reason as that model gave it.
	 */
	int			(*rank_top_k) (RsModel *model, int64 user_id, const RsUserItems *items,
							   uint8 *exclude, int k, float *scratch, int32 *out_idx,
							   float *out_score, RsReason *out_reason);
	/*
	 * The scores of a user the model cannot score, on the scale of its
	 * personalised scores (the "average user's"; NULL: the popularity,
	 * for kinds whose scores are popularity).  Called once per loaded
	 * model; serving reads them through RsColdStartScores.
	 */
	void		(*cold_start_scores) (RsModel *model, float *scores);
	/* one item's score for a user, cold start included (NULL: from score_user) */
	float		(*score_item) (RsModel *model, int64 user_id, int32 i);

	/* every item for an anonymous visitor's items (weights 1) */
	bool		(*score_session) (RsModel *model, const RsUserItems *session, float *scores);
	/* fused session ranking; -1: use score_session */
	int			(*rank_session) (RsModel *model, const RsUserItems *session, uint8 *exclude,
								 int k, float *scratch, int32 *out_idx, float *out_score);

	/* the k items most like item i, best first */
	int			(*similar_items) (RsModel *model, int32 i, int k, int32 *out_idx,
								  float *out_score);
	/*
	 * How alike n items are, for diversity (recommend's MMR re-ranking):
	 * out[a * n + b] for items idx[a], idx[b], n x n, symmetric, 1 on the
	 * diagonal of an item the kind can compare, 0 for unrelated items.
	 */
	void		(*item_similarity) (RsModel *model, const int32 *idx, int n, float *out);
	/* the share of each of the user's items in the score of item j */
	void		(*contributions) (RsModel *model, const RsUserItems *items, int32 j,
								  int64 user_id, RsContribution *out);
	/*
	 * explain(): the user's items' shares in item j's score, unsorted;
	 * -1 for none when the kind has raised its own NOTICE saying why
	 * (else explain's generic one for 0 blames a user without items)
	 */
	int			(*explain) (RsModel *model, int64 user_id, int32 j, int64 item_id,
							RsContribution **out);

	/* whether the model predicts ratings (evaluate's rmse), and the prediction */
	bool		(*rates) (RsModel *model);
	/* when rates is true, for a kind where it varies per model (evaluate's errdetail), else NULL */
	const char *rates_when;
	double		(*predict_rating) (RsModel *model, int64 user_id, const RsUserItems *items,
								   int32 i);

	/* user vectors: fold interactions in (NULL: none to fit), rank for a vector */
	float	   *(*fold_in) (RsModel *model, RsWeightedItem *pairs, int n, float *bias,
							int *length);
	int			(*rank_vector) (RsModel *model, const float *x, int length, float bias,
								uint8 *exclude, int k, int32 *out_idx, float *out_score);
	/* refresh_user(): the user's new stored vector, NULL if none */
	float	   *(*refresh_user) (RsModel *model, int64 user_id, float *bias, int *length);

	/*
	 * factor_vectors(): a model that ranks by x_u . y_i + b_i returns its
	 * length k, sets *items to its item vectors (items.count x k) and
	 * *score_bias to the biases its scores add (NULL: none); with users
	 * not NULL it also writes the vectors of the n user_ids (n x k) as
	 * serving has them, found[u] false (row zero) for one it has none
	 * for.  Another model starts from them (train_ncf's pretrained), and
	 * create_ivf indexes the item vectors.
	 */
	int			(*factor_vectors) (RsModel *model, const int64 *user_ids, int n, float *users,
								   bool *found, const float **items, const float **score_bias);

	/*
	 * similar_users(): up to k users most like user_id by what the model
	 * stores per user (vectors, neighbour lists), best first, into out_ids
	 * and out_score; -1 if it stores nothing of this user.  A model that
	 * keeps no per-user data (store_users false) raises its refusal.
	 */
	int			(*similar_users) (RsModel *model, int64 user_id, int k, int64 *out_ids,
								  float *out_score);

	/*
	 * refresh_items(): give the items that have appeared in the features
	 * or embeddings of the model named (owned by owner, locked by the
	 * caller, not loaded) since training their vectors or neighbour lists
	 * in its active version; returns how many (src/item_cold.c).
	 */
	int32		(*refresh_cold_items) (const char *model, Oid owner);

	/*
	 * Whether score_user leaves NaN for items the kind cannot score (the
	 * cold re-ranker's warm items): score() gives them NULL, as an item the
	 * model does not know, rather than 0 (an item not reached).
	 */
	bool		nan_unscored;
} RsModelKind;

#endif							/* RECSYS_MODEL_H */
