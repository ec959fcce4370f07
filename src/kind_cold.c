/*-------------------------------------------------------------------------
 *
 * kind_cold.c
 *		The cold re-ranker kind (algorithm cold_ranker, trained by
 *		src/train_cold.c): ranks the cold items - items that have features
 *		but had no interactions at training, or appeared since
 *		(refresh_items) - for a user by the fitted mix of their terms.
 *
 * For a user with items H (read from the model's source as its owner, as
 * every kind reads a user's history) the candidates are the cold items not
 * excluded: the caller's candidates => array, or all of them.  Each
 * candidate's terms are summed from its stored lists over H, standardised
 * over the candidates for this user and mixed with the coefficients in
 * params (src/kernel/cold_mix.h).  Warm items are the base models' to
 * rank: this kind gives them no score (NaN; score() is NULL for them, as
 * for an item the model does not know, so they sort after the cold items
 * with NULLS LAST; recommend never returns them), so an application shows
 * "new for you" from it and the rest from its usual model.  A user without
 * items of the model is ranked by the prior alone, with weight 1 whatever
 * its fitted coefficient (the fit is on users with items; the other terms
 * are the same for every candidate of such a user), with reason cold
 * start.  recommend_session ranks from the session's items alike (the
 * cold items only: never filled up with warm ones); an empty session is
 * a cold start.
 *
 * Exposure: params' cold_slots (training's argument; the owner may change
 * it in recsys.models without retraining) bounds the cold items a user
 * is shown: the user's best cold_slots are chosen once, over every cold
 * item (nothing excluded, the user's own ones included); score() is NULL
 * outside them, and recommend / recommend_session return only items of
 * them (less the seen items, outside candidates => etc., so possibly
 * fewer), so neither a listing that puts this model's scores first
 * (ORDER BY score DESC NULLS LAST, then the usual model's) nor calls with
 * varying candidates => show a user more than cold_slots new products.
 * explain splits a cold item's score into its shares per user item
 * (rs_cold_mix_shares) and its prior's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "array_util.h"
#include "history.h"
#include "item_cold.h"
#include "kind_cold.h"
#include "model_acl.h"
#include "model_cache.h"
#include "model_kind.h"
#include "model_store.h"
#include "model_load.h"
#include "score.h"
#include "spi_util.h"
#include "topk.h"

typedef struct ColdState
{
	double		coef[RS_COLD_MIX_TERMS];
	int32		slots;			/* params' cold_slots: cold items per user at most, 0 unbounded */
	RsColdLists lists;			/* rows: the cold items */
	int32	   *row_of;			/* model item -> cold row, -1 for a warm item */
	int32	   *row_item;		/* cold row -> model item */
	/* per call */
	uint8	   *has;			/* model items */
	int32	   *rows;
	float	   *content;
	float	   *terms;
	float	   *mix;
	double		sd[RS_COLD_MIX_TERMS];	/* the terms' sd over the last candidates */
	int32	   *top_idx;		/* the best slots of them (score_user) */
	float	   *top_score;
	uint8	   *slotted;		/* cold row -> in the user's best slots (user_slots) */
} ColdState;

#define S(model) ((ColdState *) (model)->kind_state)

/*
 * The coefficients from params (four numbers) and cold_slots (absent or
 * null: unbounded, else a whole number 1..10000), else the model is
 * damaged.
 */
static void
load_params(RsModel *model, const RsCatalogRow *row)
{
	Datum		value = CStringGetTextDatum(row->params ? row->params : "{}");
	bool		isnull;

	RsExecute("SELECT CASE WHEN pg_catalog.jsonb_typeof(p->'coefficients') OPERATOR(pg_catalog.=) 'array' "
			  "AND pg_catalog.jsonb_array_length(p->'coefficients') OPERATOR(pg_catalog.=) 4 "
			  "AND NOT EXISTS (SELECT FROM pg_catalog.jsonb_array_elements(p->'coefficients') e "
			  "                WHERE pg_catalog.jsonb_typeof(e) OPERATOR(pg_catalog.<>) 'number' "
			  "                OR e::pg_catalog.text::pg_catalog.numeric NOT BETWEEN -1000 AND 1000) "
			  "THEN ARRAY(SELECT e::pg_catalog.text::pg_catalog.float4 "
			  "           FROM pg_catalog.jsonb_array_elements(p->'coefficients') e) END, "
			  "CASE WHEN COALESCE(pg_catalog.jsonb_typeof(p->'cold_slots'), 'null') OPERATOR(pg_catalog.=) 'null' "
			  "     THEN 0 "
			  "     WHEN pg_catalog.jsonb_typeof(p->'cold_slots') OPERATOR(pg_catalog.=) 'number' "
			  "     AND (p->'cold_slots')::pg_catalog.numeric BETWEEN 1 AND 10000 "
			  "     AND (p->'cold_slots')::pg_catalog.numeric OPERATOR(pg_catalog.=) "
			  "         pg_catalog.trunc((p->'cold_slots')::pg_catalog.numeric) "
			  "     THEN (p->'cold_slots')::pg_catalog.int4 END "
			  "FROM (SELECT $1::pg_catalog.jsonb AS p) s",
			  1, (Oid[]) {TEXTOID}, &value, NULL, true, SPI_OK_SELECT);
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		RsModelCorrupt(model, "params' coefficients is not an array of four numbers between -1000 and 1000");
	{
		int			n;
		float	   *c = RsArrayToFloats(DatumGetArrayTypeP(value), "coefficients", &n);

		for (int j = 0; j < RS_COLD_MIX_TERMS; j++)
			S(model)->coef[j] = c[j];
	}
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (isnull)
		RsModelCorrupt(model, "params' cold_slots is neither null nor a whole number between 1 and 10000");
	S(model)->slots = DatumGetInt32(value);
}

/* the list index of a term name, RS_COLD_LISTS for the prior, -1 unknown */
static int
term_index(const char *term)
{
	for (int l = 0; l < RS_COLD_LISTS; l++)
		if (strcmp(term, rs_cold_list_names[l]) == 0)
			return l;
	return strcmp(term, RS_COLD_PRIOR_TERM) == 0 ? RS_COLD_LISTS : -1;
}

/*
 * A term row's array (column col): one dimension from 1, or empty, without
 * NULL elements, else the model is damaged (training writes no other).
 */
static void *
term_array(RsModel *model, HeapTuple tuple, TupleDesc desc, int col, int64 item, const char *term,
		   int *n)
{
	bool		isnull;
	Datum		value = SPI_getbinval(tuple, desc, col, &isnull);
	ArrayType  *array = isnull ? NULL : DatumGetArrayTypeP(value);

	if (array == NULL || ARR_NDIM(array) > 1 || (ARR_NDIM(array) == 1 && ARR_LBOUND(array)[0] != 1) ||
		ARR_HASNULL(array))
		RsModelCorrupt(model, psprintf("the %s row of item " INT64_FORMAT " in recsys.item_term_lists: column %s "
									   "is not a one-dimensional array from 1 without NULLs",
									   term, item, SPI_fname(desc, col)));
	*n = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
	return ARR_DATA_PTR(array);
}

/*
 * One term row checked: its item is the model's and cold (no users in
 * item_stats: a warm item is the base models' to rank), its lists name
 * the model's items with finite scores, each once and never the item
 * itself (training writes no other: a repeated id would count twice in
 * every user's sum), a prior is one finite score.  Returns the row's
 * term index; *ids, *scores, *n: its entries.  seen (NULL: the row was
 * checked already) holds per model item the mark of the last row naming
 * it; mark is this row's, unique per row.
 */
static int
term_row(RsModel *model, HeapTuple tuple, TupleDesc desc, int32 *item, const int64 **ids,
		 const float **scores, int *n, int32 *seen, int32 mark)
{
	bool		isnull;
	int64		id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	char	   *term = TextDatumGetCString(SPI_getbinval(tuple, desc, 2, &isnull));
	int			l = term_index(term);
	int64		n_users = DatumGetInt64(SPI_getbinval(tuple, desc, 5, &isnull));
	int			n_scores;

	*item = RsModelItemIndex(model, id);
	if (*item < 0)
		RsModelCorrupt(model, psprintf("recsys.item_term_lists has item " INT64_FORMAT
									   ", which recsys.item_stats has not", id));
	if (n_users > 0)
		RsModelCorrupt(model, psprintf("recsys.item_term_lists has a %s row for item " INT64_FORMAT
									   ", which has users in recsys.item_stats (a warm item)", term, id));
	if (l < 0)
		RsModelCorrupt(model, "recsys.item_term_lists has a term other than content, cb2cf, lists and prior");
	*ids = term_array(model, tuple, desc, 3, id, term, n);
	*scores = term_array(model, tuple, desc, 4, id, term, &n_scores);
	if (l == RS_COLD_LISTS ? *n != 0 || n_scores != 1 : n_scores != *n)
		RsModelCorrupt(model, psprintf("the %s row of item " INT64_FORMAT " in recsys.item_term_lists has %d "
									   "neighbour ids and %d scores", term, id, *n, n_scores));
	for (int e = 0; e < n_scores; e++)
		if (!isfinite((*scores)[e]))
			RsModelCorrupt(model, psprintf("the %s row of item " INT64_FORMAT " in recsys.item_term_lists "
										   "has a score that is not finite", term, id));
	for (int e = 0; seen && e < *n; e++)
	{
		int32		i = RsModelItemIndex(model, (*ids)[e]);

		if (i < 0)
			RsModelCorrupt(model, psprintf("recsys.item_term_lists names item " INT64_FORMAT
										   ", which recsys.item_stats has not", (*ids)[e]));
		if (i == *item)
			RsModelCorrupt(model, psprintf("the %s row of item " INT64_FORMAT " in recsys.item_term_lists "
										   "names the item itself", term, id));
		if (seen[i] == mark)
			RsModelCorrupt(model, psprintf("the %s row of item " INT64_FORMAT " in recsys.item_term_lists "
										   "names item " INT64_FORMAT " twice", term, id, (*ids)[e]));
		seen[i] = mark;
	}
	return l;
}

/* the version's recsys.item_term_lists rows as the cold rows' lists */
static void
load_term_lists(RsModel *model)
{
	ColdState  *s = S(model);
	int32		n_items = model->items.count;
	int64		sizes[RS_COLD_LISTS] = {0};
	int64		fill[RS_COLD_LISTS] = {0};
	int32		n_rows = 0;
	uint64		rows;
	int64	   *ptr[RS_COLD_LISTS];
	int32	   *idx[RS_COLD_LISTS];
	float	   *val[RS_COLD_LISTS];
	float	   *prior;
	int64		n_cold;
	int64		n_priors = 0;
	bool		isnull;
	int32	   *seen;

	/* every cold item (no users) has a prior row (review s11, F4) */
	RsExecute("SELECT count(*) FROM recsys.item_stats WHERE model OPERATOR(pg_catalog.=) $1 "
			  "AND version OPERATOR(pg_catalog.=) $2 AND n_users OPERATOR(pg_catalog.=) 0",
			  2, (Oid[]) {TEXTOID, INT4OID},
			  (Datum[]) {CStringGetTextDatum(model->name), Int32GetDatum(model->version)}, NULL, true,
			  SPI_OK_SELECT);
	n_cold = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	RsExecute("SELECT t.item_id, t.term, t.neighbor_ids, t.scores, "
			  "coalesce(s.n_users, 0)::pg_catalog.int8 FROM recsys.item_term_lists t "
			  "LEFT JOIN recsys.item_stats s ON s.model OPERATOR(pg_catalog.=) t.model "
			  "AND s.version OPERATOR(pg_catalog.=) t.version AND s.item_id OPERATOR(pg_catalog.=) t.item_id "
			  "WHERE t.model OPERATOR(pg_catalog.=) $1 AND t.version OPERATOR(pg_catalog.=) $2 "
			  "ORDER BY t.item_id, t.term",
			  2, (Oid[]) {TEXTOID, INT4OID},
			  (Datum[]) {CStringGetTextDatum(model->name), Int32GetDatum(model->version)}, NULL, true,
			  SPI_OK_SELECT);
	rows = SPI_processed;
	if (rows > INT32_MAX - 1)
		RsModelCorrupt(model, "recsys.item_term_lists has too many rows");
	s->row_of = RsModelAlloc(model, sizeof(int32) * Max(n_items, 1));
	seen = palloc(sizeof(int32) * Max(n_items, 1));
	for (int32 i = 0; i < n_items; i++)
	{
		s->row_of[i] = -1;
		seen[i] = -1;
	}
	/* pass 1: the rows checked, and the lists' sizes */
	for (uint64 r = 0; r < rows; r++)
	{
		int32		i;
		const int64 *ids;
		const float *scores;
		int			n;
		int			l = term_row(model, SPI_tuptable->vals[r], SPI_tuptable->tupdesc, &i, &ids, &scores, &n,
								 seen, (int32) r);

		CHECK_FOR_INTERRUPTS();
		if (s->row_of[i] < 0)
			s->row_of[i] = n_rows++;
		if (l < RS_COLD_LISTS)
			sizes[l] += n;
		else
			n_priors++;
	}
	if (n_priors != n_cold)
		RsModelCorrupt(model, psprintf("recsys.item_term_lists has prior rows for " INT64_FORMAT " of the "
									   INT64_FORMAT " cold items (those without users in recsys.item_stats)",
									   n_priors, n_cold));
	s->lists.n_rows = n_rows;
	s->row_item = RsModelAlloc(model, sizeof(int32) * Max(n_rows, 1));
	for (int32 i = 0; i < n_items; i++)
		if (s->row_of[i] >= 0)
			s->row_item[s->row_of[i]] = i;
	for (int l = 0; l < RS_COLD_LISTS; l++)
	{
		ptr[l] = RsModelAlloc(model, sizeof(int64) * ((Size) n_rows + 1));
		memset(ptr[l], 0, sizeof(int64) * ((Size) n_rows + 1));
		idx[l] = RsModelAlloc(model, sizeof(int32) * Max(sizes[l], 1));
		val[l] = RsModelAlloc(model, sizeof(float) * Max(sizes[l], 1));
	}
	prior = RsModelAlloc(model, sizeof(float) * Max(n_rows, 1));
	memset(prior, 0, sizeof(float) * Max(n_rows, 1));
	/* pass 2: the entries (rows come in item order, so in row order) */
	for (uint64 r = 0; r < rows; r++)
	{
		int32		i;
		const int64 *ids;
		const float *scores;
		int			n;
		int			l = term_row(model, SPI_tuptable->vals[r], SPI_tuptable->tupdesc, &i, &ids, &scores, &n,
								 NULL, 0);
		int32		row = s->row_of[i];

		CHECK_FOR_INTERRUPTS();
		if (l == RS_COLD_LISTS)
		{
			prior[row] = scores[0];
			continue;
		}
		for (int e = 0; e < n; e++)
		{
			idx[l][fill[l]] = RsModelItemIndex(model, ids[e]);
			val[l][fill[l]++] = scores[e];
		}
		ptr[l][row + 1] = fill[l];
	}
	/* rows without a list: empty */
	for (int l = 0; l < RS_COLD_LISTS; l++)
	{
		for (int32 r = 0; r < n_rows; r++)
			ptr[l][r + 1] = Max(ptr[l][r + 1], ptr[l][r]);
		s->lists.indptr[l] = ptr[l];
		s->lists.idx[l] = idx[l];
		s->lists.val[l] = val[l];
	}
	s->lists.prior = prior;
	pfree(seen);
}

static void
cold_load(RsModel *model, const RsCatalogRow *row)
{
	ColdState  *s;
	int32		n_rows;

	model->kind_state = MemoryContextAllocZero(model->mcxt, sizeof(ColdState));
	s = S(model);
	RsLoadItems(model, row->n_items);
	load_params(model, row);
	load_term_lists(model);
	n_rows = Max(s->lists.n_rows, 1);
	s->has = RsModelAlloc(model, Max(model->items.count, 1));
	memset(s->has, 0, Max(model->items.count, 1));
	s->rows = RsModelAlloc(model, sizeof(int32) * n_rows);
	s->content = RsModelAlloc(model, sizeof(float) * n_rows);
	s->terms = RsModelAlloc(model, sizeof(float) * n_rows * RS_COLD_MIX_TERMS);
	s->mix = RsModelAlloc(model, sizeof(float) * n_rows);
	s->top_idx = RsModelAlloc(model, sizeof(int32) * n_rows);
	s->top_score = RsModelAlloc(model, sizeof(float) * n_rows);
	s->slotted = RsModelAlloc(model, n_rows);
}

/*
 * The mix of the candidate rows (the cold items not excluded) for the
 * items given: returns how many, with their rows in s->rows, their
 * scores in s->mix and the terms' sd over them in s->sd; *known: whether
 * any item was the model's (if not, the mix is the prior alone, weight 1).
 */
static const double prior_alone[RS_COLD_MIX_TERMS] = {[RS_COLD_MIX_PRIOR] = 1};

static int
mix_candidates(RsModel *model, const RsUserItems *items, const uint8 *exclude, bool *known)
{
	ColdState  *s = S(model);
	int			n = 0;

	*known = false;
	for (int32 r = 0; r < s->lists.n_rows; r++)
		if (exclude == NULL || !rs_bitmap_test(exclude, s->row_item[r]))
			s->rows[n++] = r;
	for (int a = 0; items && a < items->n; a++)
	{
		s->has[items->item[a]] = 1;
		*known = true;
	}
	rs_cold_user_terms(&s->lists, s->rows, n, s->has, s->content, s->terms);
	for (int a = 0; items && a < items->n; a++)
		s->has[items->item[a]] = 0;
	rs_cold_mix_scales(s->content, s->terms, n, s->sd);
	rs_cold_mix_apply(s->content, s->terms, n, *known ? s->coef : prior_alone, s->mix);
	return n;
}

/*
 * The best k of the n mixed candidates (model item indexes), best first,
 * at most cold_slots of them, only rows marked in slotted if it is not
 * NULL (ties: the smaller item index, as everywhere).
 */
static int
best_candidates(RsModel *model, int n, int k, const uint8 *slotted, int32 *out_idx, float *out_score)
{
	ColdState  *s = S(model);
	int			size = 0;

	if (s->slots > 0)
		k = Min(k, s->slots);
	for (int c = 0; c < n && k > 0; c++)
		if (slotted == NULL || slotted[s->rows[c]])
			rs_topk_offer(out_idx, out_score, &size, k, s->mix[c], s->row_item[s->rows[c]]);
	rs_topk_sort(out_idx, out_score, size);
	return size;
}

/*
 * The user's best cold_slots, computed over every cold item (as score()
 * ranks them: nothing excluded, so an item the user already has holds a
 * slot too): NULL when unbounded, else s->slotted marks the rows in them.
 * recommend and recommend_session show only these (less what the caller
 * excludes; their scores are still standardised over all the call's
 * candidates, as without a bound), so the cold items a user is shown are a subset of
 * the one set score() gives scores to, whatever candidates => or seen
 * items a call excludes: a rotating candidates array cannot show more
 * than cold_slots different cold items.
 */
static const uint8 *
user_slots(RsModel *model, const RsUserItems *items)
{
	ColdState  *s = S(model);
	bool		known;
	int			n;
	int			size;

	if (s->slots <= 0 || s->slots >= s->lists.n_rows)
		return NULL;
	n = mix_candidates(model, items, NULL, &known);
	size = best_candidates(model, n, n, NULL, s->top_idx, s->top_score);
	memset(s->slotted, 0, s->lists.n_rows);
	for (int t = 0; t < size; t++)
		s->slotted[s->row_of[s->top_idx[t]]] = 1;
	return s->slotted;
}

static int
cold_rank_top_k(RsModel *model, int64 user_id, const RsUserItems *items, uint8 *exclude, int k,
				float *scratch, int32 *out_idx, float *out_score, RsReason *out_reason)
{
	bool		known;
	const uint8 *slotted = user_slots(model, items);
	int			n = mix_candidates(model, items, exclude, &known);
	int			size = best_candidates(model, n, k, slotted, out_idx, out_score);

	for (int r = 0; r < size; r++)
	{
		if (out_reason)
			out_reason[r] = known ? RS_REASON_PERSONALISED : RS_REASON_COLD_START;
		rs_bitmap_set(exclude, out_idx[r]);
	}
	return size;
}

/*
 * A session ranks as a user's history does: the cold items only, never
 * filled up with warm ones (which this model does not rank: the caller's
 * usual model serves them, as for recommend).
 */
static int
cold_rank_session(RsModel *model, const RsUserItems *session, uint8 *exclude, int k,
				  float *scratch, int32 *out_idx, float *out_score)
{
	return cold_rank_top_k(model, 0, session, exclude, k, scratch, out_idx, out_score, NULL);
}

/*
 * Every cold item's score over all of them; warm items NaN (no score),
 * and so are cold items beyond the best cold_slots.  Always true: a user
 * without items has the prior's scores, not the popularity of warm items.
 */
static bool
cold_score_items(RsModel *model, const RsUserItems *items, float *scores)
{
	ColdState  *s = S(model);
	bool		known;
	int			n = mix_candidates(model, items, NULL, &known);

	for (int32 i = 0; i < model->items.count; i++)
		scores[i] = NAN;
	if (s->slots > 0 && s->slots < n)
	{
		int			size = best_candidates(model, n, n, NULL, s->top_idx, s->top_score);

		for (int t = 0; t < size; t++)
			scores[s->top_idx[t]] = s->top_score[t];
		return true;
	}
	for (int c = 0; c < n; c++)
		scores[s->row_item[s->rows[c]]] = s->mix[c];
	return true;
}

static bool
cold_score_user(RsModel *model, int64 user_id, const RsUserItems *items, float *scores)
{
	return cold_score_items(model, items, scores);
}

static bool
cold_score_session(RsModel *model, const RsUserItems *session, float *scores)
{
	return cold_score_items(model, session, scores);
}

/*
 * explain: the share of each of the user's items in cold item j's score
 * (its content, sharpened content, CB2CF and learned-list weights of that
 * item, each on the score's scale: rs_cold_mix_shares) with every cold
 * item a candidate, as score() ranks them, and a row for j itself: its
 * prior's part, coef times its z (its features' popularity among buyers
 * against the other cold items').  A warm item is not this model's to
 * explain, nor a cold item outside the user's cold_slots (a NOTICE, no
 * rows).
 */
static int
cold_explain(RsModel *model, int64 user_id, int32 j, int64 item_id, RsContribution **out)
{
	ColdState  *s = S(model);
	int32		r = s->row_of[j];
	RsUserItems items = {0};
	bool		known;
	int32	   *pos;
	double	   *share;
	double		prior;
	int			found = 0;
	int			n;
	const double *coef;
	const uint8 *slotted;

	if (r < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item " INT64_FORMAT " is not a cold item of model \"%s\"", item_id, model->name),
				 errdetail("A cold re-ranker ranks only the items that had no interactions at training "
						   "or came with refresh_items."),
				 errhint("Explain it with the model that ranks the other items.")));
	RsReadUserItems(model, user_id, "Explaining", &items);

	/*
	 * An item outside the user's best cold_slots has no score (score() is
	 * NULL for it, recommend never shows it): rows adding up to a score
	 * nobody is shown would explain nothing (review s12, V10).
	 */
	slotted = user_slots(model, &items);
	if (slotted != NULL && !slotted[r])
	{
		ereport(NOTICE,
				(errmsg("item " INT64_FORMAT " is not among user " INT64_FORMAT "'s %d cold slots of model \"%s\": "
						"it has no score to explain", item_id, user_id, s->slots, model->name),
				 errdetail("The model shows a user only the cold_slots cold items that rank best for them; "
						   "score() is NULL for the others, as for a warm item.")));
		return -1;
	}
	n = mix_candidates(model, &items, NULL, &known);
	pos = palloc(sizeof(int32) * Max(model->items.count, 1));
	for (int32 i = 0; i < model->items.count; i++)
		pos[i] = -1;
	for (int a = 0; a < items.n; a++)
		if (pos[items.item[a]] < 0)
			pos[items.item[a]] = a;
	share = palloc0(sizeof(double) * Max(items.n, 1));
	coef = known ? s->coef : prior_alone;
	rs_cold_mix_shares(&s->lists, r, pos, coef, s->sd, share);
	/* every cold item is a candidate, in row order: r's z of the prior is at r */
	Assert(n == s->lists.n_rows && s->rows[r] == r);
	prior = coef[RS_COLD_MIX_PRIOR] * s->terms[(Size) RS_COLD_MIX_PRIOR * n + r];
	*out = palloc(sizeof(RsContribution) * (items.n + 1));
	for (int a = 0; a < items.n; a++)
		if (pos[items.item[a]] == a && share[a] != 0)
			(*out)[found++] = (RsContribution) {model->items.ids[items.item[a]], (float) share[a]};
	if (prior != 0)
		(*out)[found++] = (RsContribution) {item_id, (float) prior};
	pfree(share);
	pfree(pos);
	if (found == 0)
	{
		/* explain's generic notice would say the user has no items */
		ereport(NOTICE,
				(errmsg("model \"%s\" has nothing to explain item " INT64_FORMAT " by for user "
						INT64_FORMAT, model->name, item_id, user_id),
				 known ?
				 errdetail("None of the user's items shares a feature with the item (its content, "
						   "CB2CF and learned lists name none of them), and its prior adds nothing "
						   "(the prior's coefficient is 0, or the item's prior is the cold items' mean).") :
				 errdetail("The user has no items in the model's source, so the item is ranked by its "
						   "prior alone, and its prior is the cold items' mean.")));
		return -1;
	}
	return found;
}

static const char *
cold_history_input(RsModel *model)
{
	return "Ranking cold items";
}

/* refresh_items' read of the features relation, as the model's owner */
typedef struct ColdRead
{
	Oid			features;
	const char *item_col;
	const int64 *known;
	int32		n_known;
	RsColdUniverse *u;
	MemoryContext cxt;
} ColdRead;

static void
read_as_owner(void *arg)
{
	ColdRead   *r = arg;
	MemoryContext old = MemoryContextSwitchTo(r->cxt);

	RsColdUniverseRead(r->features, r->item_col, r->known, r->n_known, r->u);
	MemoryContextSwitchTo(old);
}

static int32
universe_index(const RsColdUniverse *u, int64 id)
{
	int32		lo = 0;
	int32		hi = u->n - 1;

	while (lo <= hi)
	{
		int32		mid = lo + (hi - lo) / 2;

		if (u->ids[mid] == id)
			return mid;
		if (u->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* the version's warm lists (item_neighbor_lists of items with users) over the universe */
static void
stored_warm_lists(const char *name, int32 version, const RsColdUniverse *u, const uint8 *warm,
				  MemoryContext cxt, RsCsr *S)
{
	int64		nnz = 0;

	RsExecute("SELECT item_id, neighbor_ids, scores FROM recsys.item_neighbor_lists "
			  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2 ORDER BY item_id",
			  2, (Oid[]) {TEXTOID, INT4OID}, (Datum[]) {CStringGetTextDatum(name), Int32GetDatum(version)},
			  NULL, true, SPI_OK_SELECT);
	MemoryContextSwitchTo(cxt);
	S->n_rows = u->n;
	S->n_cols = u->n;
	S->indptr = MemoryContextAllocHuge(cxt, sizeof(int64) * ((Size) u->n + 1));
	memset(S->indptr, 0, sizeof(int64) * ((Size) u->n + 1));
	for (int pass = 0; pass < 2; pass++)
	{
		for (uint64 t = 0; t < SPI_processed; t++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[t];
			bool		isnull;
			int32		i = universe_index(u, DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &isnull)));
			int			n_ids;
			int			n_scores;
			int64	   *ids;
			float	   *scores;

			CHECK_FOR_INTERRUPTS();
			if (i < 0 || !warm[i])
				continue;
			ids = RsArrayToInt64s(DatumGetArrayTypeP(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &isnull)),
								  "neighbor_ids", &n_ids);
			scores = RsArrayToFloats(DatumGetArrayTypeP(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 3, &isnull)),
									 "scores", &n_scores);
			for (int e = 0; e < Min(n_ids, n_scores); e++)
			{
				int32		j = universe_index(u, ids[e]);

				if (j < 0 || !warm[j])
					continue;
				if (pass == 0)
					S->indptr[i + 1]++;
				else
				{
					S->indices[nnz] = j;
					S->data[nnz++] = scores[e];
				}
			}
		}
		if (pass == 0)
		{
			for (int32 i = 0; i < u->n; i++)
				S->indptr[i + 1] += S->indptr[i];
			S->nnz = S->indptr[u->n];
			S->indices = MemoryContextAllocHuge(cxt, sizeof(int32) * Max(S->nnz, 1));
			S->data = MemoryContextAllocHuge(cxt, sizeof(float) * Max(S->nnz, 1));
		}
	}
}

/*
 * RsRefreshColdRanker: refresh_items for a cold re-ranker.  The items of
 * its features relation (read as its owner) that the active version does
 * not know get their lists and prior from the version's warm items (those
 * with users: their feature rows, users and stored lists), as training
 * gave the cold items it saw, and item_stats rows; the catalog row's
 * n_items and stats.cold_items grow, so every backend reloads the model.
 */
int32
RsRefreshColdRanker(const char *name, Oid owner)
{
	MemoryContext cxt = CurrentMemoryContext;
	int32		version;
	bool		isnull;
	Oid			features;
	char	   *item_col;
	int			length;
	double		lambda;
	int64	   *known;
	int			n_known;
	float	   *n_users;
	int			n_counts;
	RsColdUniverse u = {0};
	ColdRead	read;
	uint8	   *warm;
	float	   *log_users;
	int32	   *targets;
	int32		n_targets = 0;
	RsCsr		S;
	RsColdBuilt built;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT m.version, pg_catalog.to_regclass(m.params->>'features')::pg_catalog.oid, "
			  "m.params->>'item_col', "
			  "CASE WHEN pg_catalog.jsonb_typeof(m.params->'list_length') OPERATOR(pg_catalog.=) 'number' "
			  "     AND (m.params->'list_length')::pg_catalog.numeric BETWEEN 1 AND 10000 "
			  "     THEN (m.params->'list_length')::pg_catalog.int4 END, "
			  "CASE WHEN pg_catalog.jsonb_typeof(m.params->'regularization') OPERATOR(pg_catalog.=) 'number' "
			  "     AND (m.params->'regularization')::pg_catalog.numeric BETWEEN 0.000001 AND 1000000 "
			  "     THEN (m.params->'regularization')::pg_catalog.float8 END, "
			  "m.params->>'features', m.params->>'features_owner', "
			  "(SELECT pg_catalog.array_agg(s.item_id ORDER BY s.item_id) FROM recsys.item_stats s "
			  " WHERE s.model OPERATOR(pg_catalog.=) m.name AND s.version OPERATOR(pg_catalog.=) m.version), "
			  "(SELECT pg_catalog.array_agg(s.n_users::pg_catalog.float4 ORDER BY s.item_id) FROM recsys.item_stats s "
			  " WHERE s.model OPERATOR(pg_catalog.=) m.name AND s.version OPERATOR(pg_catalog.=) m.version) "
			  "FROM recsys.models m WHERE m.name OPERATOR(pg_catalog.=) $1",
			  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(name)}, NULL, true, SPI_OK_SELECT);
	MemoryContextSwitchTo(cxt);
	version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3) == NULL ||
		SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4) == NULL ||
		SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" version %d is damaged: its params lack item_col, or a list_length or "
						"regularization in range", name, version),
				 errhint("Retrain the model.")));
	features = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	/* (review s11, F4: the name was printed with %s when params lacked it) */
	if (isnull && SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" version %d is damaged: its params lack features", name, version),
				 errhint("Retrain the model.")));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("features relation \"%s\" of model \"%s\" does not exist",
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6), name),
				 errhint("Retrain the model with its features relation.")));
	/* another role's relation under the recorded name is not read as the owner */
	RsCheckRecordedRelation("model", name, RsRelationName(features), features, owner,
							SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7));
	item_col = pstrdup(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3));
	length = atoi(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4));
	lambda = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
	/* a hand edit may have removed the version's item_stats rows */
	if (SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 8) == NULL ||
		SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 9) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" version %d is damaged: recsys.item_stats has no rows for it", name, version),
				 errhint("Retrain the model.")));
	known = RsArrayToInt64s(DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 8, &isnull)),
							"items", &n_known);
	n_users = RsArrayToFloats(DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 9, &isnull)),
							  "n_users", &n_counts);
	SPI_finish();

	/*
	 * The model checked as serving loads it (review s11, F4): a hand edit
	 * serving refuses (item_stats, n_items, term rows) is an error here
	 * too, not a refresh that writes into a model nobody can use.
	 */
	(void) RsGetModel(name);

	read = (ColdRead) {features, item_col, known, n_known, &u, cxt};
	RsRunAsOwner(name, owner, read_as_owner, &read);
	warm = palloc0(Max(u.n, 1));
	log_users = palloc0(sizeof(float) * Max(u.n, 1));
	targets = palloc(sizeof(int32) * Max(u.n, 1));
	for (int32 i = 0, k = 0; i < u.n; i++)
	{
		if (k < n_known && known[k] == u.ids[i])
		{
			warm[i] = n_users[k] > 0;
			log_users[i] = (float) log1p(n_users[k]);
			k++;
		}
		else
			targets[n_targets++] = i;
	}
	if (n_targets == 0)
		return 0;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	stored_warm_lists(name, version, &u, warm, cxt, &S);
	SPI_finish();
	RsColdTermsCompute(&u, warm, log_users, &S, targets, n_targets, (float) lambda, length, &built);
	RsColdTermsWrite(name, version, &u, &built);
	{
		int64	   *ids = palloc(sizeof(int64) * n_targets);
		int32	   *zero = palloc0(sizeof(int32) * n_targets);
		float	   *fzero = palloc0(sizeof(float) * n_targets);

		for (int32 t = 0; t < n_targets; t++)
			ids[t] = u.ids[targets[t]];
		RsWriteItemStats(name, version, ids, n_targets, zero, fzero, fzero);
	}
	RsColdCountRefreshed(name, version, n_targets);
	return n_targets;
}

const RsModelKind RsColdKind = {
	.name = "cold re-ranker",
	.load = cold_load,
	.history_input = cold_history_input,
	.score_user = cold_score_user,
	.rank_top_k = cold_rank_top_k,
	.score_session = cold_score_session,
	.rank_session = cold_rank_session,
	.explain = cold_explain,
	.refresh_cold_items = RsRefreshColdRanker,
	.nan_unscored = true,
};
