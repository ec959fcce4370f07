/*-------------------------------------------------------------------------
 *
 * planner_support.c
 *		Row estimates of recsys's set-returning functions for the planner
 *		(SupportRequestRows), instead of a fixed ROWS.
 *
 * The rankings (recommend, recommend_session, similar_items,
 * recommend_for_vector) return at most k rows: with a constant k the
 * estimate is k, clamped to [1, RECSYS_MAX_K] (a larger k is refused, and
 * an estimate of 2^31 rows turned JIT on), and for recommend with a
 * constant candidates array at most the array's length.  The splits (split_kfold, split_holdout, split_last)
 * return one row per distinct (user, item) pair of their source: with a
 * constant source the estimate is the planner's own estimate of the
 * source's rows (estimate_rel_size: pg_class.reltuples, or for a table
 * never analysed its pages' worth), an upper bound that is right for a
 * source without repeated pairs.  So the documented
 * `JOIN recsys.split_holdout('ratings') s USING (user_id, item_id)` is
 * planned as a hash join of two large inputs, not a nested loop over an
 * assumed 1,000 rows.  Anything else (k or source not a constant) keeps
 * the function's ROWS.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "optimizer/plancat.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "args.h"

/* recommend(user_id, k, model, exclude_seen, candidates, ...) */
#define RECOMMEND_CANDIDATES_ARG 4

PG_FUNCTION_INFO_V1(recsys_rows_k);
PG_FUNCTION_INFO_V1(recsys_rows_source);

/* The constant, non-null argument n of a function call, or NULL. */
static Const *
const_argument(Node *node, int n)
{
	List	   *args;
	Node	   *arg;

	if (!IsA(node, FuncExpr))
		return NULL;
	args = ((FuncExpr *) node)->args;
	if (list_length(args) <= n)
		return NULL;
	arg = (Node *) list_nth(args, n);
	if (!IsA(arg, Const) || ((Const *) arg)->constisnull)
		return NULL;
	return (Const *) arg;
}

/* Rankings: k rows (the second argument) when k is a constant. */
Datum
recsys_rows_k(PG_FUNCTION_ARGS)
{
	Node	   *raw = (Node *) PG_GETARG_POINTER(0);
	Const	   *k;

	if (IsA(raw, SupportRequestRows))
	{
		SupportRequestRows *req = (SupportRequestRows *) raw;

		k = const_argument(req->node, 1);
		if (k != NULL && k->consttype == INT4OID)
		{
			/* a k outside [1, RECSYS_MAX_K] is refused: at most the maximum */
			double		rows = Max(Min(DatumGetInt32(k->constvalue), RECSYS_MAX_K), 1);
			Const	   *candidates = const_argument(req->node, RECOMMEND_CANDIDATES_ARG);
			char	   *name = get_func_name(req->funcid);

			/* recommend ranks only its candidates when given */
			if (candidates != NULL && candidates->consttype == INT8ARRAYOID &&
				name != NULL && strcmp(name, "recommend") == 0)
			{
				ArrayType  *array = DatumGetArrayTypeP(candidates->constvalue);

				rows = Max(Min(rows, ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array))), 1);
			}
			req->rows = rows;
			PG_RETURN_POINTER(req);
		}
	}
	PG_RETURN_POINTER(NULL);
}

/* Splits: the source's estimated rows when the source is a constant. */
Datum
recsys_rows_source(PG_FUNCTION_ARGS)
{
	Node	   *raw = (Node *) PG_GETARG_POINTER(0);
	Const	   *source;

	if (IsA(raw, SupportRequestRows))
	{
		SupportRequestRows *req = (SupportRequestRows *) raw;
		Oid			relid;
		Relation	rel;
		BlockNumber pages;
		double		tuples;
		double		allvisfrac;

		source = const_argument(req->node, 0);
		if (source == NULL || source->consttype != REGCLASSOID)
			PG_RETURN_POINTER(NULL);
		relid = DatumGetObjectId(source->constvalue);
		/* a relation dropped since the constant was made: no estimate */
		rel = try_relation_open(relid, AccessShareLock);
		if (rel == NULL)
			PG_RETURN_POINTER(NULL);
		if (rel->rd_rel->relkind != RELKIND_RELATION && rel->rd_rel->relkind != RELKIND_MATVIEW)
		{
			relation_close(rel, AccessShareLock);
			PG_RETURN_POINTER(NULL);
		}
		estimate_rel_size(rel, NULL, &pages, &tuples, &allvisfrac);
		relation_close(rel, AccessShareLock);
		req->rows = Max(tuples, 1);
		PG_RETURN_POINTER(req);
	}
	PG_RETURN_POINTER(NULL);
}
