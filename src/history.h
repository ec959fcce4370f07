/*-------------------------------------------------------------------------
 *
 * history.h
 *		Users' interactions read from a model's source at call time.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_HISTORY_H
#define RECSYS_HISTORY_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"

#include "model.h"

extern void RsReadUserItems(RsModel *model, int64 user_id, const char *why,
							RsUserItems *out);
/* Called by RsReadUsersItems for user u (its index in the ids given). */
typedef void (*RsUserItemsFn) (void *arg, int u, const RsUserItems *items);
extern void RsReadUsersItems(RsModel *model, const int64 *user_ids, int n, const char *why,
							 RsUserItemsFn fn, void *arg);
extern void RsReadSeenItems(RsModel *model, int64 user_id, const char *why,
							RsUserItems *out);
extern void RsFreeUserItems(RsUserItems *items);
extern bool RsEventRowWeight(RsModel *model, HeapTuple tuple, TupleDesc desc, int attno,
							 float *weight);
extern void RsRequireSource(RsModel *model, const char *why);
extern Oid	RsSourceReader(RsModel *model);
extern void RsCheckModelSource(RsModel *model);
extern int	RsExplainByUserItems(RsModel *model, int64 user_id, int32 j, int64 item_id,
								 RsContribution **out);

#endif							/* RECSYS_HISTORY_H */
