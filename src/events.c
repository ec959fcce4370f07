/*-------------------------------------------------------------------------
 *
 * events.c
 *		Multi-behaviour sources: one source holds views, carts, purchases
 *		(any event types) in a column, event_col, and the trainer weighs
 *		each row by its type's weight in event_weights, a JSON object
 *		{"view": 1, "cart": 4, "purchase": 10}; a weight column, if given
 *		too, is multiplied by it.
 *
 * The map is read where sources are read, so no trainer has a copy:
 * ingest.c for training (a row of a type not in the map is an error: a
 * misspelt key would otherwise drop a whole behaviour silently; weight 0
 * drops a type on purpose), history.c for serving (a row of a type the
 * model was not trained with is ignored, as a row of an unknown item is:
 * a shop that starts logging a new event type keeps being served).
 * The map is stored in the model's params (event_col, event_weights),
 * in canonical form (keys sorted, numbers), so tune's candidates and the
 * catalog show the weights a model was trained with.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "events.h"

static int
type_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * RsEventMapFromJsonb checks and converts an event_weights object: a
 * non-empty object of at most RS_MAX_EVENT_TYPES keys whose values are
 * numbers in [0, RS_MAX_EVENT_WEIGHT], at least one of them positive.  argname names the
 * argument in messages.
 */
RsEventMap *
RsEventMapFromJsonb(Jsonb *jb, const char *argname)
{
	RsEventMap *map = palloc0(sizeof(RsEventMap));
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	bool		any_positive = false;
	int			n_pairs;

	if (JB_ROOT_IS_SCALAR(jb) || !JB_ROOT_IS_OBJECT(jb) || JB_ROOT_COUNT(jb) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a non-empty JSON object of event types and weights", argname),
				 errhint("For example '{\"view\": 1, \"cart\": 4, \"purchase\": 10}'.")));
	n_pairs = JB_ROOT_COUNT(jb);
	if (n_pairs > RS_MAX_EVENT_TYPES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s has %d event types, more than %d", argname, n_pairs, RS_MAX_EVENT_TYPES)));
	map->types = palloc(sizeof(char *) * n_pairs);
	map->weights = palloc(sizeof(float) * n_pairs);

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		double		w;

		if (tok == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		if (tok != WJB_VALUE)
			continue;
		if (v.type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s gives event type \"%s\" a value that is not a number", argname, key),
					 errhint("Each weight must be a number >= 0; 0 drops the event type.")));
		/* (strtod: 1e400 is infinite here, refused below, not numeric_float8's 22003 echoing it) */
		w = strtod(DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric))), NULL);
		if (!(w >= 0) || w > RS_MAX_EVENT_WEIGHT)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s gives event type \"%s\" weight %g, outside [0, %d]", argname, key, w,
							RS_MAX_EVENT_WEIGHT),
					 errhint("Each weight must be a number >= 0; 0 drops the event type. "
							 "Weights are relative: scale them so that the largest is at most %d.",
							 RS_MAX_EVENT_WEIGHT)));
		any_positive |= w > 0;
		map->types[map->n] = key;
		map->weights[map->n] = (float) w;
		map->n++;
	}
	if (!any_positive)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s gives every event type weight 0", argname),
				 errhint("At least one event type needs a positive weight.")));

	/* sort the pairs by type for the lookups */
	{
		char	  **sorted = palloc(sizeof(char *) * map->n);
		float	   *weights = palloc(sizeof(float) * map->n);

		memcpy(sorted, map->types, sizeof(char *) * map->n);
		qsort(sorted, map->n, sizeof(char *), type_cmp);
		for (int j = 0; j < map->n; j++)
			for (int s = 0; s < map->n; s++)
				if (map->types[s] == sorted[j])
					weights[j] = map->weights[s];
		map->types = sorted;
		map->weights = weights;
	}
	return map;
}

/* RsEventMapFromText reads a stored map (a model's params); what names it. */
RsEventMap *
RsEventMapFromText(const char *json, const char *what)
{
	Datum		d = DirectFunctionCall1(jsonb_in, CStringGetDatum(json));

	return RsEventMapFromJsonb(DatumGetJsonbP(d), what);
}

/*
 * RsEventWeight looks an event type (len bytes, not terminated) up: false
 * if the map does not have it.
 */
bool
RsEventWeight(const RsEventMap *map, const char *type, int len, float *weight)
{
	int			lo = 0,
				hi = map->n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		const char *key = map->types[mid];
		int			c = strncmp(type, key, len);

		if (c == 0 && key[len] != '\0')
			c = -1;				/* type is a proper prefix of key */
		if (c == 0)
		{
			*weight = map->weights[mid];
			return true;
		}
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return false;
}

/* RsEventMapJson appends the map as a JSON object, keys sorted. */
void
RsEventMapJson(StringInfo buf, const RsEventMap *map)
{
	appendStringInfoChar(buf, '{');
	for (int j = 0; j < map->n; j++)
	{
		if (j > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, map->types[j]);
		appendStringInfo(buf, ": %.9g", map->weights[j]);
	}
	appendStringInfoChar(buf, '}');
}

/*
 * RsCheckEventColumn refuses an event column the source lacks, or one
 * that is also another of the read's columns (other_cols, NULLs skipped).
 * Any type will do: the values are compared as text.
 */
void
RsCheckEventColumn(Oid relid, const char *event_col, const char *const *other_cols, int n_other)
{
	AttrNumber	attnum = get_attnum(relid, event_col);

	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist", event_col, get_rel_name(relid)),
				 errhint("Pass the name of the column that holds the event types as event_col.")));
	for (int c = 0; c < n_other; c++)
		if (other_cols[c] != NULL && strcmp(other_cols[c], event_col) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("event_col \"%s\" is also another column of the read", event_col),
					 errhint("The event types must come from a column of their own.")));
}
