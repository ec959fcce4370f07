/*-------------------------------------------------------------------------
 *
 * model_kind.c
 *		The registry of model kinds, as PostgreSQL maps access methods to
 *		their handlers: each algorithm a model can be trained with names
 *		the RsModelKind that serves it (src/model.h).
 *
 * Adding a kind is one file that fills an RsModelKind (see doc/internals.md,
 * "Model kinds") plus one line below.  Serving code asks the kind's
 * callbacks and never which kind a model is; a NULL callback is an action
 * the kind does not support, and RsKindNotSupported is the one error for
 * it, with a hint naming the algorithms that do support it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "model_kind.h"

typedef struct KindRegistration
{
	const char *algorithm;
	const RsModelKind *kind;
} KindRegistration;

static const KindRegistration registry[] = {
	{"als", &RsFactorsKind},
	{"mf", &RsFactorsKind},
	{"item_knn", &RsItemNeighborsKind},
	{"ease", &RsItemNeighborsKind},	/* EASE's B matrix, stored as neighbour lists */
	{"user_knn", &RsUserNeighborsKind},
	{"popular", &RsPopularKind},
	{"blend", &RsBlendKind},
	{"ncf", &RsNcfKind},
};

/* RsModelKindFor returns the kind serving an algorithm, NULL if none does. */
const RsModelKind *
RsModelKindFor(const char *algorithm)
{
	for (int r = 0; r < lengthof(registry); r++)
		if (strcmp(registry[r].algorithm, algorithm) == 0)
			return registry[r].kind;
	return NULL;
}

/*
 * RsKindNotSupported raises the error for an action the model's kind has
 * no callback for (callback: the callback's offsetof in RsModelKind).
 */
void
RsKindNotSupported(RsModel *model, const char *action, Size callback)
{
	StringInfoData supported;
	int			n = 0;

	initStringInfo(&supported);
	for (int r = 0; r < lengthof(registry); r++)
		if (*(void *const *) ((const char *) registry[r].kind + callback) != NULL)
			appendStringInfo(&supported, "%s%s", n++ > 0 ? ", " : "", registry[r].algorithm);
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("model \"%s\" (algorithm %s) does not support %s",
					model->name, model->algorithm, action),
			 n > 0 ? errhint("Models trained with %s support it.", supported.data) : 0));
}
