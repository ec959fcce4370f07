/*-------------------------------------------------------------------------
 *
 * model_acl.h
 *		Who owns a model, who may use it, and reading a model's source with
 *		its owner's rights.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_MODEL_ACL_H
#define RECSYS_MODEL_ACL_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/hsearch.h"

/* Work done with a model owner's rights (RsRunAsOwner). */
typedef void (*RsOwnerWork) (void *arg);

/*
 * The right to use a model, checked explicitly in every read of its
 * catalog row for use (review s8, 3), not left to row-level security
 * alone: a role with BYPASSRLS sees every row, but may use only the
 * models it owns (has the owner's privileges of; superusers have every
 * role's) or was granted, itself, through a role it has the privileges of,
 * or as PUBLIC.  Appended to a query's WHERE clause on recsys.models.
 */
#define MAY_USE_MODEL "AND recsys._may_use(owner, grantees)"

extern Oid	RsModelOwner(const char *name, bool *found);
extern char *RsModelAlgorithm(const char *name);
extern Oid	RsRequireModelOwner(const char *name, const char *action, bool missing_ok);
extern void RsDenyModel(const char *name, Oid owner, const char *action) pg_attribute_noreturn();
extern void RsRunAsOwner(const char *name, Oid owner, RsOwnerWork work, void *arg);
extern void RsRunAsCatalogOwner(RsOwnerWork work, void *arg);
extern void RsLockModelRow(const char *name);
extern void RsRequireUseNow(const char *name);
extern char *RsModelOwnerName(Oid owner);
extern void RsRefuseChangedOwner(const char *what, const char *name, const char *user_kind,
								 const char *user_name, const char *trained_owner, Oid owner);
extern int	RsExecutePlanAsOwner(const char *name, Oid owner, SPIPlanPtr plan, Datum *values);
extern HTAB *RsVisibleModels(void);
extern char *RsRelationOwnerName(Oid relid);
extern void RsCheckRecordedRelation(const char *object_kind, const char *object, const char *relname,
									Oid relid, Oid reader, const char *recorded_owner);

#endif							/* RECSYS_MODEL_ACL_H */
