/*-------------------------------------------------------------------------
 *
 * ivf_index.h
 *		The IVF index of a model version's item vectors (ivf_index.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_IVF_INDEX_H
#define RECSYS_IVF_INDEX_H

#include "model.h"

/* recsys.ivf_probes: lists a query scans at least (0: exact scans only) */
#define RECSYS_DEFAULT_IVF_PROBES 32
#define RECSYS_MAX_IVF_PROBES (1 << 20)
extern int	recsys_ivf_probes;
/* recsys.ivf_rebuild: a new active version is indexed as the one it replaces was */
extern bool recsys_ivf_rebuild;

typedef struct RsIvfIndex RsIvfIndex;

/*
 * The index of the model's version over its n_items x k item vectors Y
 * (which it reads to build its int8 copy), in the model's context; NULL
 * when the version has none.  Items added to the version since the index
 * was built (refresh_items) join their nearest lists.
 */
extern RsIvfIndex *RsIvfLoad(RsModel *model, const float *Y, int k);

/*
 * The index's part of a model's flat copy (the shared cache's): the
 * centroids, the lists and their int8 copy, all but this backend's
 * per-query arrays; returns its offset in the copy (RsFlatPut's rules).
 */
extern Size RsIvfFlatten(const RsIvfIndex *ivf, RsFlat *flat);

/*
 * An index served from a flat copy (RsIvfFlatten's offset): read-only
 * arrays in the copy, only the per-query arrays in the model's context.
 */
extern RsIvfIndex *RsIvfAttach(RsModel *model, const char *copy, Size offset, int k);

/*
 * The top_n items for x (+ ybias) by the index: exact within the lists it
 * scans (recsys.ivf_probes, more while fewer than top_n items passed
 * exclude).  -1: use the exact scan (probes 0, or a vector the compressed
 * bounds cannot hold).
 */
extern int	RsIvfRankVector(RsModel *model, RsIvfIndex *ivf, const float *Y, const float *ybias,
							const float *x, const uint8 *exclude, int top_n, int32 *out_idx,
							float *out_score);

/*
 * Keeping an index across retraining (recsys._ivf_follow): RsIvfToKeep,
 * called before a new version is activated, returns the settings of the
 * active version's index (its stats' "ivf" as JSON text), NULL when it
 * has none or recsys.ivf_rebuild is off; RsIvfKeep, after activation,
 * builds the new version's index with them, in the same transaction.
 */
extern char *RsIvfToKeep(const char *model);
extern void RsIvfKeep(const char *model, const char *previous);

#endif							/* RECSYS_IVF_INDEX_H */
