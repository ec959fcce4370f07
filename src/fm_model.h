/*-------------------------------------------------------------------------
 *
 * fm_model.h
 *		What the factorisation machine re-ranker's trainer (src/train_fm.c)
 *		and its kind (src/kind_fm.c) agree on: the stored parameters'
 *		names and the context features.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_FM_MODEL_H
#define RECSYS_FM_MODEL_H

#include "model.h"

/* recsys.model_parameters rows of an fm version */
#define FM_ITEM_TERMS		"item_terms"	/* n_items x (k + 1): t_i, Q_i */
#define FM_FEATURE_WEIGHTS	"feature_weights"	/* side features' w */
#define FM_FEATURE_FACTORS	"feature_factors"	/* side features' v, x k */
#define FM_CONTEXT_FACTORS	"context_factors"	/* FM_CONTEXTS x k (with time_col) */
#define FM_BASE_FEATURES	"base_features"	/* RS_FM_BASE_FEATURES x (k + 1): w, v (with base_features) */
#define FM_ITEM_RECENT		"item_recent"	/* n_items: ln(1 + rows in recent_window) (with recent_weight) */

/* context features: hour of day 0 .. 23, then weekday 0 (Sunday) .. 6 */
#define FM_HOURS			24
#define FM_CONTEXTS			(FM_HOURS + 7)

/* the base model's candidates re-ranked, at most */
#define FM_MAX_POOL			10000

/* the factors' initial standard deviation */
#define FM_INIT_SD			0.01f

extern void RsFmRefuseNesting(const char *base_name) pg_attribute_noreturn();
extern void RsFmRequireLastBasket(RsModel *base, const char *reranker);
extern void RsFmRefuseUnscoredBase(RsModel *base, const char *reranker);

#endif							/* RECSYS_FM_MODEL_H */
