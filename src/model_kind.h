/*-------------------------------------------------------------------------
 *
 * model_kind.h
 *		The registry of model kinds: which RsModelKind serves each
 *		algorithm, and the one error for an action a kind does not support.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_MODEL_KIND_H
#define RECSYS_MODEL_KIND_H

#include "postgres.h"

#include "model.h"

/* The kinds, one file each (src/kind_*.c). */
extern const RsModelKind RsFactorsKind;			/* als, mf, bpr */
extern const RsModelKind RsItemNeighborsKind;	/* item_knn, ease */
extern const RsModelKind RsUserNeighborsKind;	/* user_knn */
extern const RsModelKind RsPopularKind;			/* popular */
extern const RsModelKind RsBlendKind;			/* blend */
extern const RsModelKind RsColdKind;			/* cold_ranker */
extern const RsModelKind RsFmKind;				/* fm */
extern const RsModelKind RsNeighborhoodKind;	/* neighborhood */
extern const RsModelKind RsNcfKind;			/* ncf */

extern bool RsAlgorithmExplains(const char *algorithm);
extern const RsModelKind *RsModelKindFor(const char *algorithm);
extern const float *RsColdStartScores(RsModel *model);
extern void RsInPopularityOrder(RsModel *model, float *scores);
extern bool RsAlgorithmSupports(const char *algorithm, Size callback);
extern void RsKindsUsingModels(bool reranks, Datum *algorithms, Datum *params_keys);
extern void RsKindNotSupported(RsModel *model, const char *action, Size callback) pg_attribute_noreturn();
extern void RsAlgorithmNotSupported(const char *name, const char *algorithm, const char *action,
									Size callback) pg_attribute_noreturn();

/*
 * RS_REQUIRE(model, callback, action) raises the not-supported error
 * unless the model's kind has the callback.
 */
#define RS_REQUIRE(model, callback, action) \
	do { \
		if ((model)->kind->callback == NULL) \
			RsKindNotSupported((model), (action), offsetof(RsModelKind, callback)); \
	} while (0)

#endif							/* RECSYS_MODEL_KIND_H */
