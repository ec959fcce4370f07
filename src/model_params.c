/*-------------------------------------------------------------------------
 *
 * model_params.c
 *		A model's settings read from its catalog row's params and stats.
 *
 * Training writes params and stats as JSON objects; the owner of a model
 * may edit them by hand (recsys.models is a table), and activate or
 * rollback copy a model_versions row's into recsys.models.  So every key
 * serving reads is checked here before it is used: a column name must be
 * a JSON string of 1 to 63 bytes (it goes into SQL through
 * quote_identifier, which must never see NULL), a number a finite JSON
 * number in the range its trainer accepts, an integer one with no
 * fraction.  Anything else is damage: XX001 (data_corrupted) naming the
 * model, its version and the key, as every other damage is
 * (RsModelCorrupt), never a cast's error or a crash.  JSON null counts
 * as absent (training writes null for a setting it did not use).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <float.h>
#include <math.h>

#include "utils/builtins.h"
#include "utils/numeric.h"

#include "model_params.h"

/*
 * RsParamsDamaged raises the damage error for one key of params or stats:
 * "model "m" version v is damaged: params' factors is not ...".
 */
void
RsParamsDamaged(const RsParams *p, const char *key, const char *what)
{
	RsCatalogDamaged(p->model, p->version, psprintf("%s%s %s%s", p->column,
													what == NULL ? " has no" : "'", key,
													what == NULL ? "" : what));
}

/*
 * RsCatalogDamaged raises the damage error of a catalog row read before
 * its model exists (RsModelCorrupt's message).
 */
void
RsCatalogDamaged(const char *model, int32 version, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("model \"%s\" version %d is damaged: %s", model, version, what),
			 errhint("Retrain the model.")));
}

/* The value of key, false if absent or JSON null. */
static bool
find_value(const RsParams *p, const char *key, JsonbValue *v)
{
	if (p->json == NULL || !JB_ROOT_IS_OBJECT(p->json))
		return false;
	if (getKeyJsonValueFromContainer(&p->json->root, key, strlen(key), v) == NULL)
		return false;
	return v->type != jbvNull;
}

/* A string value as a C string, NULL if absent; another type is damage. */
static char *
string_value(const RsParams *p, const char *key)
{
	JsonbValue	v;

	if (!find_value(p, key, &v))
		return NULL;
	if (v.type != jbvString)
		RsParamsDamaged(p, key, " is not a string");
	return pnstrdup(v.val.string.val, v.val.string.len);
}

/*
 * RsParamName: a column name (user_col, item_col, ...), a JSON string of
 * 1 to NAMEDATALEN - 1 bytes; NULL if absent and not required.
 */
const char *
RsParamName(const RsParams *p, const char *key, bool required)
{
	char	   *name = string_value(p, key);

	if (name == NULL)
	{
		if (required)
			RsParamsDamaged(p, key, NULL);
		return NULL;
	}
	if (name[0] == '\0' || strlen(name) >= NAMEDATALEN)
		RsParamsDamaged(p, key, psprintf(" is not a column name (1 to %d bytes)", NAMEDATALEN - 1));
	return name;
}

/* RsParamString: any string, NULL if absent. */
const char *
RsParamString(const RsParams *p, const char *key)
{
	return string_value(p, key);
}

/* RsParamJson: the value as JSON text (an object, an array), NULL if absent. */
char *
RsParamJson(const RsParams *p, const char *key)
{
	JsonbValue	v;

	if (!find_value(p, key, &v))
		return NULL;
	if (v.type == jbvBinary)
		return JsonbToCString(NULL, v.val.binary.data, v.val.binary.len);
	return JsonbToCString(NULL, &JsonbValueToJsonb(&v)->root, 0);
}

/* The decimal text of a number value, NULL if absent; another type is damage. */
static char *
number_text(const RsParams *p, const char *key, const char *range)
{
	JsonbValue	v;

	if (!find_value(p, key, &v))
		return NULL;
	if (v.type != jbvNumeric)
		RsParamsDamaged(p, key, range);
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
}

/*
 * RsParamNumber: a finite number between min and max (-FLT_MAX, FLT_MAX:
 * any a float holds), if_absent if the key is absent.
 */
double
RsParamNumber(const RsParams *p, const char *key, double if_absent, double min, double max)
{
	const char *range;
	char	   *text;
	char	   *end;
	double		x;

	if (min <= -FLT_MAX && max >= FLT_MAX)
		range = " is not a finite number";
	else if (max >= FLT_MAX)
		range = psprintf(" is not a finite number of at least %g", min);
	else
		range = psprintf(" is not a number between %g and %g", min, max);
	text = number_text(p, key, range);
	if (text == NULL)
		return if_absent;
	errno = 0;
	x = strtod(text, &end);
	if (*end != '\0' || !isfinite(x) || x < min || x > max)
		RsParamsDamaged(p, key, range);
	return x;
}

/*
 * RsParamInteger: a whole number between min and max (a fraction of
 * zeros, as in 8.0, is whole), if_absent if the key is absent.
 */
int64
RsParamInteger(const RsParams *p, const char *key, int64 if_absent, int64 min, int64 max)
{
	const char *range = psprintf(" is not an integer between " INT64_FORMAT " and " INT64_FORMAT, min, max);
	char	   *text = number_text(p, key, range);
	char	   *end;
	int64		x;

	if (text == NULL)
		return if_absent;
	errno = 0;
	x = strtoi64(text, &end, 10);
	if (*end == '.')
		end += strspn(end + 1, "0") + 1;
	if (*end != '\0' || errno != 0 || x < min || x > max)
		RsParamsDamaged(p, key, range);
	return x;
}

/*
 * RsParamFlag: true or false, as JSON booleans or the strings "true" and
 * "false" (which training writes), if_absent if the key is absent.
 */
bool
RsParamFlag(const RsParams *p, const char *key, bool if_absent)
{
	JsonbValue	v;

	if (!find_value(p, key, &v))
		return if_absent;
	if (v.type == jbvBool)
		return v.val.boolean;
	if (v.type == jbvString && v.val.string.len == 4 && strncmp(v.val.string.val, "true", 4) == 0)
		return true;
	if (v.type == jbvString && v.val.string.len == 5 && strncmp(v.val.string.val, "false", 5) == 0)
		return false;
	RsParamsDamaged(p, key, " is not true or false");
}
