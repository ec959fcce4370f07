/*-------------------------------------------------------------------------
 *
 * kind_cold.h
 *		The cold re-ranker (algorithm cold_ranker): its stored term inputs,
 *		built at training (src/train_cold.c) and by refresh_items
 *		(src/kind_cold.c) through src/kind_cold_terms.c; the numerics are
 *		src/kernel/cold_mix.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KIND_COLD_H
#define RECSYS_KIND_COLD_H

#include "postgres.h"

#include "cold_mix.h"
#include "sparse.h"

/* the mix's term row for the prior in recsys.item_term_lists */
#define RS_COLD_PRIOR_TERM "prior"

/* Every item the inputs speak of: the known items and the features' items. */
typedef struct RsColdUniverse
{
	int32		n;
	int64	   *ids;			/* ascending */
	RsCsr		words;			/* n x features: unit tf-idf rows (empty: no features) */
} RsColdUniverse;

/* The lists and priors of some target items (universe indexes in idx). */
typedef struct RsColdBuilt
{
	int32		n;
	int			length;			/* slots per list */
	int32	   *item;			/* n universe indexes */
	int32	   *count;			/* n x RS_COLD_LISTS */
	int32	   *idx;			/* n x RS_COLD_LISTS x length */
	float	   *val;
	float	   *prior;			/* n */
} RsColdBuilt;

extern void RsColdUniverseRead(Oid features, const char *item_col, const int64 *known, int32 n_known,
							   RsColdUniverse *u);
extern void RsColdWarmLists(const RsCsr *R, int k, RsCsr *S, int32 **nbr, float **sim,
							int32 **count);
extern void RsColdTermsCompute(const RsColdUniverse *u, const uint8 *warm, const float *log_users,
							   const RsCsr *S, const int32 *targets, int32 n_targets, float lambda,
							   int length, RsColdBuilt *out);
extern void RsColdTermsWrite(const char *name, int32 version, const RsColdUniverse *u,
							 const RsColdBuilt *b);
extern int32 RsRefreshColdRanker(const char *name, Oid owner);

#endif							/* RECSYS_KIND_COLD_H */
