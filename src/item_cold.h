/*-------------------------------------------------------------------------
 *
 * item_cold.h
 *		Item features in factor models and vectors for cold items (items
 *		with features but no interactions), at training and by
 *		recsys.refresh_items; see item_cold.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_ITEM_COLD_H
#define RECSYS_ITEM_COLD_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/array.h"

#include "idmap.h"
#include "sparse.h"

/* The most dense feature groups (real[] columns) one model takes. */
#define RS_MAX_EMBEDDING_GROUPS 16
/* The longest embedding of one group. */
#define RS_MAX_EMBEDDING_DIMS 4096

/*
 * What a factor model needs to give an item a vector from its features:
 * the categorical features' pseudo-user vectors and the Gram matrix of
 * every user and pseudo-user vector (the item half-step), and the ridge
 * map of dense features (with the categorical solve's vector first, when
 * there are categorical features) to item vectors.
 */
typedef struct RsColdModel
{
	int			k;
	/* categorical features (features relation), or n_features 0 */
	Oid			features;		/* InvalidOid: none */
	int32		n_features;
	char	  **names;			/* ascending in byte order */
	float	   *vectors;		/* n_features x k */
	float	   *gram;			/* k x k */
	float		feature_weight;
	float		alpha;
	float		reg;
	float		reg_exponent;
	double		n_cols;			/* users and pseudo-users in training */
	/*
	 * The form of the features' loss: weighted (0.11.0: feature_weight
	 * times their whole loss, the Gramian G_w, the frequency scaling
	 * counting n_users) or not (0.10.0: pseudo-users with values
	 * feature_weight * value, G of every row, scaling counting n_cols).
	 */
	bool		weighted_loss;
	double		n_users;		/* users in training (weighted_loss) */
	/* dense features (embeddings relation) */
	Oid			embeddings;		/* InvalidOid: none */
	int			n_groups;
	char	   *group_cols[RS_MAX_EMBEDDING_GROUPS];
	int			dims[RS_MAX_EMBEDDING_GROUPS];
	float		group_weights[RS_MAX_EMBEDDING_GROUPS];
	int			D;				/* rows of map: k (if categorical) + sum of dims */
	float	   *map;			/* D x k, or NULL without dense features */
	/* cold items' vectors are scaled by this (their exposure) */
	float		cold_weight;
	const char *item_col;
} RsColdModel;

extern void RsColdEmbeddingArgs(Oid relid, const char *item_col, ArrayType *weights,
								RsColdModel *cm);
extern void RsColdFitMap(RsColdModel *cm, const RsIdMap *items, const RsCsr *item_features,
						 const float *Y);
extern int32 RsColdItemVectors(RsColdModel *cm, const int64 *known, int32 n_known,
							   int64 **ids, float **vectors);
extern void RsColdWrite(const char *name, int32 version, const RsColdModel *cm,
						const int64 *ids, const float *vectors, int32 n);
extern void RsColdCheckFeatures(const RsColdModel *cm, const int64 *known, int32 n_known);
extern void RsCheckFeatureConfidence(float alpha, float feature_weight, double largest_value);
extern void RsColdStore(const char *name, int32 version, const RsColdModel *cm);
/*
 * Cold items' neighbour lists learned from the warm items' lists
 * (src/kernel/cold.h): S's rows and columns are the known items' indexes
 * (an empty row: not fitted on).
 */
/*
 * The feature weights of the learned lists' ridge (before each item's row
 * is L2-normalised): idf (the tf-idf of 0.9.0), its square root, or 1.
 * Rare words weigh less with the last two; on MovieLens' genres, decade
 * and title words that fits the warm lists better (doc/internals.md).
 */
typedef enum RsColdWordWeights
{
	RS_COLD_WORDS_TFIDF = 0,
	RS_COLD_WORDS_SQRTIDF,
	RS_COLD_WORDS_BINARY
} RsColdWordWeights;

typedef struct RsColdNeighborMap
{
	RsCsr		S;
	RsColdWordWeights word_weights;
	float		lambda;			/* the ridge */
	float		self_weight;	/* a warm item's weight in its own row */
	float		content_weight; /* the feature cosine's weight */
	int			max_iter;		/* conjugate-gradient steps */
	/*
	 * The popularity prior: a cold item's row is multiplied by
	 * exp(popularity_exponent * p), p the ridge's prediction of the
	 * centred log(1 + users) of the fitted items (log_users, per index).
	 */
	float		popularity_exponent;
	const float *log_users;
} RsColdNeighborMap;

/* Conjugate-gradient steps per cold item: enough for lambda >= 0.01. */
#define RS_COLD_MAP_ITERATIONS 100

extern bool RsColdWordWeightsByName(const char *name, RsColdWordWeights *w);
extern const char *RsColdWordWeightsName(RsColdWordWeights w);
extern void RsNeighborListsCsr(int32 n, int slots, const int32 *neighbor, const float *score,
							   const int32 *count, RsCsr *S);
extern int64 RsColdNeighbors(Oid features, const char *item_col, const int64 *known, int32 n_known,
							 int k, float cold_weight, const RsColdNeighborMap *map, int64 **cold,
							 int64 **warm, float **score, int32 *n_cold);
extern void RsColdNeighborsWrite(const char *name, int32 version, const int64 *cold,
								 const int64 *warm, const float *score, int64 n);
extern int32 RsRefreshColdVectors(const char *name, Oid owner);
extern int32 RsRefreshColdNeighbors(const char *name, Oid owner);
extern void RsColdDescribe(const RsColdModel *cm, StringInfo params);

/* every item of a features relation as unit tf-idf rows (the cold re-ranker's inputs) */
extern void RsColdFeatureRows(Oid features, const char *item_col, int64 **ids, int32 *n_ids,
							  RsCsr *rows);

/* n more items in a model's active version after refresh_items: the catalog rows' counts */
extern void RsColdCountRefreshed(const char *name, int32 version, int64 n);

#endif							/* RECSYS_ITEM_COLD_H */
