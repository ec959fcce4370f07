/*-------------------------------------------------------------------------
 *
 * model_params.h
 *		Reading a model's settings from its catalog row's params and stats
 *		(JSON an owner may edit by hand), checked (model_params.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_MODEL_PARAMS_H
#define RECSYS_MODEL_PARAMS_H

#include "postgres.h"

#include "utils/jsonb.h"

/* One JSON object of a model version's catalog row, and whose it is. */
typedef struct RsParams
{
	const char *model;
	int32		version;
	const char *column;			/* "params" or "stats", for the errors */
	Jsonb	   *json;			/* NULL: an empty object */
} RsParams;

extern void RsCatalogDamaged(const char *model, int32 version, const char *what) pg_attribute_noreturn();
extern void RsParamsDamaged(const RsParams *p, const char *key, const char *what) pg_attribute_noreturn();
extern const char *RsParamName(const RsParams *p, const char *key, bool required);
extern const char *RsParamString(const RsParams *p, const char *key);
extern char *RsParamJson(const RsParams *p, const char *key);
extern double RsParamNumber(const RsParams *p, const char *key, double if_absent,
							double min, double max);
extern int64 RsParamInteger(const RsParams *p, const char *key, int64 if_absent,
							int64 min, int64 max);
extern bool RsParamFlag(const RsParams *p, const char *key, bool if_absent);

#endif							/* RECSYS_MODEL_PARAMS_H */
