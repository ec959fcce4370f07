/*-------------------------------------------------------------------------
 *
 * search_match.c
 *		A search query's matches with their BM25, popularity and the
 *		position of the query's words, in C.
 *
 * recsys._search_features (sql/recsys.sql) resolves the query's words
 * (prefixes, typos) into a tsquery and the lexemes it scores; this file
 * does the per-match work: the GIN lookup of the matching products in
 * recsys.catalog_docs, BM25 read straight from each product's tsvector
 * (no unnest, the query's inverse document frequencies computed once),
 * the model's user count of every match (from the model as served), and, for generic words matching very many products,
 * a cap: only the recsys.search_max_matches best by normalised BM25 + popularity go on
 * to the model's scoring and the blend (at least search's k of them, and
 * the user's purchases besides when search leaves them out).
 *
 * Everything is read as the caller (SECURITY INVOKER, the tables' row
 * level security applies), as the SQL it replaces did; values reach SQL
 * only as SPI parameters.  Under row-level security the catalog's owner
 * first finds the ids that match through the GIN index, which the
 * caller's plan cannot use there, and the caller's read is narrowed to
 * them (owner_match_ids).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tsearch/ts_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"

#include "args.h"
#include "model_acl.h"
#include "model_cache.h"
#include "recsys.h"

PG_FUNCTION_INFO_V1(recsys_search_matches);

/* BM25's constants (Robertson and Zaragoza's usual k1 and b) */
#define BM25_K1 1.2
#define BM25_B 0.75

/* One of the query's lexemes in the catalog, with its idf. */
typedef struct QueryTerm
{
	const char *lexeme;
	int			len;
	double		idf;
} QueryTerm;

/*
 * One match: its id, BM25, where the query's words end in its text, user
 * count, and the cap's combined score.
 */
typedef struct Match
{
	int64		item_id;
	double		bm25;
	float		position;
	int32		n_users;
	double		cap_score;
} Match;

static int
term_cmp_raw(const char *a, int alen, const char *b, int blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	return c != 0 ? c : (alen > blen) - (alen < blen);
}

static int
term_cmp(const void *a, const void *b)
{
	const QueryTerm *x = a;
	const QueryTerm *y = b;

	return term_cmp_raw(x->lexeme, x->len, y->lexeme, y->len);
}

/* The idf of a lexeme of the query (binary search), or -1 if not one. */
static double
term_idf(const QueryTerm *terms, int n, const char *lexeme, int len)
{
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = term_cmp_raw(lexeme, len, terms[mid].lexeme, terms[mid].len);

		if (c == 0)
			return terms[mid].idf;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

/* best cap_score first, then the smaller item id (search's tie order) */
static int
match_cap_cmp(const void *a, const void *b)
{
	const Match *x = a;
	const Match *y = b;

	if (x->cap_score != y->cap_score)
		return x->cap_score > y->cap_score ? -1 : 1;
	return (x->item_id > y->item_id) - (x->item_id < y->item_id);
}

/*
 * The query's lexemes that are in the catalog (terms, and every lexeme
 * a prefix completes), each with idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
 * sorted for term_idf.
 */
static QueryTerm *
query_terms(Datum catalog, Datum terms, Datum prefixes, bool prefixes_null,
			int64 n_items, int *n_out)
{
	Oid			types[3] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[3] = {catalog, terms, prefixes};
	char		nulls[3] = {' ', ' ', prefixes_null ? 'n' : ' '};
	QueryTerm  *out;
	uint64		n;

	if (SPI_execute_with_args("SELECT t.lexeme::pg_catalog.text, t.df FROM recsys.catalog_terms t "
							  "WHERE t.catalog OPERATOR(pg_catalog.=) $1 AND t.lexeme OPERATOR(pg_catalog.=) ANY ($2) "
							  "UNION "
							  "SELECT t.lexeme::pg_catalog.text, t.df FROM recsys.catalog_terms t "
							  "WHERE pg_catalog.cardinality($3) OPERATOR(pg_catalog.>) 0 AND t.catalog OPERATOR(pg_catalog.=) $1 "
							  "AND EXISTS (SELECT FROM pg_catalog.unnest($3) p WHERE pg_catalog.starts_with(t.lexeme, p))",
							  3, types, values, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading a catalog's terms failed");
	n = SPI_processed;
	out = palloc(sizeof(QueryTerm) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		text	   *lexeme = DatumGetTextPP(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc, 1, &isnull));
		double		df = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 2, &isnull));

		out[i].lexeme = pnstrdup(VARDATA_ANY(lexeme), VARSIZE_ANY_EXHDR(lexeme));
		out[i].len = VARSIZE_ANY_EXHDR(lexeme);
		out[i].idf = log(1.0 + ((double) n_items - df + 0.5) / (df + 0.5));
	}
	qsort(out, n, sizeof(QueryTerm), term_cmp);
	*n_out = (int) n;
	return out;
}

/* The last position of a lexeme of a tsvector (0 without positions). */
static int
entry_last_position(TSVector doc, WordEntry *entry)
{
	WordEntryPos *pos;
	int			last = 0;

	if (!entry->haspos)
		return 0;
	pos = POSDATAPTR(doc, entry);
	for (int p = 0; p < POSDATALEN(doc, entry); p++)
		last = Max(last, WEP_GETPOS(pos[p]));
	return last;
}

/*
 * BM25 of one product's tsvector for the query's terms; *position gets
 * the last position of a query term over the last position of any word
 * (1 when the query's words end the product's text, where the head noun
 * of an English product title is: "LUNCH BAG" in "LUNCH BAG RED
 * RETROSPOT" vs "JUMBO BAG" in "JUMBO BAG LUNCH ..."; 0 without positions).
 */
static double
doc_bm25(TSVector doc, int32 length, double avg_length, const QueryTerm *terms, int n_terms,
		 float *position)
{
	WordEntry  *entries = ARRPTR(doc);
	char	   *strings = STRPTR(doc);
	double		norm = BM25_K1 * (1 - BM25_B + BM25_B * length / Max(avg_length, 1e-9));
	double		sum = 0;
	int			doc_last = 0;
	int			query_last = 0;

	for (int e = 0; e < doc->size; e++)
	{
		double		idf = term_idf(terms, n_terms, strings + entries[e].pos, entries[e].len);
		int			last = entry_last_position(doc, &entries[e]);
		double		tf;

		doc_last = Max(doc_last, last);
		if (idf < 0)
			continue;
		query_last = Max(query_last, last);
		tf = entries[e].haspos ? POSDATALEN(doc, &entries[e]) : 1;
		sum += idf * tf * (BM25_K1 + 1) / (tf + norm);
	}
	*position = doc_last > 0 ? (float) query_last / (float) doc_last : 0;
	return sum;
}

/*
 * read_matches' condition on recsys.catalog_docs d: $1 the catalog, $2 the
 * tsquery, $3 the candidates (NULL: all), $4 also (NULL: none; apart, so
 * that without it the plan is the GIN index's alone).
 */
#define MATCH_WHERE \
	"d.catalog OPERATOR(pg_catalog.=) $1 AND d.doc OPERATOR(pg_catalog.@@) $2 " \
	"AND ($3 IS NULL OR d.item_id OPERATOR(pg_catalog.=) ANY ($3)) AND $4 IS NULL"
#define MATCH_WHERE_ALSO \
	"d.catalog OPERATOR(pg_catalog.=) $1 AND (d.doc OPERATOR(pg_catalog.@@) $2 " \
	"OR d.item_id OPERATOR(pg_catalog.=) ANY ($4)) " \
	"AND ($3 IS NULL OR d.item_id OPERATOR(pg_catalog.=) ANY ($3))"

/* The ids the catalog's owner finds by MATCH_WHERE (OwnerMatches). */
typedef struct OwnerMatches
{
	const char *query;
	Oid		   *types;
	Datum	   *values;
	char	   *nulls;
	int64		limit;			/* read at most this many ids */
	MemoryContext mcxt;			/* where ids goes */
	Datum		ids;			/* bigint[], NULL when none */
} OwnerMatches;

/*
 * Above this fraction of the catalog's products (catalogs.n_items) the
 * caller's read is not narrowed to the owner's ids: a primary-key probe
 * per id costs more than the caller's one sequential read of the catalog
 * (review s12 W7: 100,000 probes 355-623 ms against 41-136 ms for a word
 * in every product), and the planner, misled by a long array, kept the
 * probes there.  Measured (100,000 products, a granted role's read, load
 * 3.5-4.5): narrowed 2-6 ms against 25-75 ms at 0.1-1% of the catalog,
 * about even at 2-10%, up to 3 times slower at 50% and 8-10 times at
 * 100%; the cutoff sits within the even range.  Small catalogs are
 * narrowed up to OWNER_IDS_MIN ids whatever the fraction.
 */
#define OWNER_IDS_FRACTION	0.05
#define OWNER_IDS_MIN		100

static void
read_owner_matches(void *arg)
{
	OwnerMatches *m = arg;
	bool		isnull;
	Datum		ids;
	Oid			types[5];
	Datum		values[5];
	char		nulls[5];

	memcpy(types, m->types, sizeof(Oid) * 4);
	memcpy(values, m->values, sizeof(Datum) * 4);
	memcpy(nulls, m->nulls, 4);
	types[4] = INT8OID;
	values[4] = Int64GetDatum(m->limit);
	nulls[4] = ' ';
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(m->query, 5, types, values, nulls, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "reading a catalog's matches failed");
	ids = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		MemoryContext spi = MemoryContextSwitchTo(m->mcxt);

		m->ids = datumCopy(ids, false, -1);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
}

/*
 * The ids among which the caller's read of the matches may find rows, when
 * row-level security applies to the caller on recsys.catalog_docs; NULL
 * when it does not (the caller's own plan uses the GIN index).
 *
 * Under row-level security the caller's plan cannot use the GIN index:
 * @@ (ts_match_vq) is not leakproof, so the planner must run the
 * policy's filter before it and never makes it an index condition; every
 * search read the whole catalog (8 ms for 20,000 products, where the index
 * takes 0.3 ms).  So the catalog's owner, to whom the policies do not
 * apply, finds the matching ids through the index first, and the caller's
 * read, unchanged but for "AND d.item_id = ANY (those ids)" (int8eq is
 * leakproof: an index condition on the primary key), then sees through its
 * own policies and privileges exactly the rows it saw before: the owner's
 * ids, read in the same snapshot, hold every match the caller can see.
 * The ids never reach the caller otherwise, and the owner looks only in a
 * catalog whose row the caller sees (else no ids: the caller's read finds
 * nothing, as its policies would have it).  A word matching more than
 * OWNER_IDS_FRACTION of the catalog gets no ids (the owner stops reading
 * past the cutoff): the caller's read is then the plain one.
 */
static Datum
owner_match_ids(const char *where, Oid *types, Datum *values, char *nulls)
{
	Oid			docs = get_relname_relid("catalog_docs", get_namespace_oid("recsys", false));
	OwnerMatches m;
	StringInfoData query;
	int64		n_items;
	int64		cutoff;
	bool		isnull;

	if (!OidIsValid(docs) || check_enable_rls(docs, InvalidOid, true) != RLS_ENABLED)
		return (Datum) 0;
	m.ids = PointerGetDatum(construct_empty_array(INT8OID));
	if (SPI_execute_with_args("SELECT c.n_items FROM recsys.catalogs c WHERE c.name OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading a catalog failed");
	if (SPI_processed == 0)
		return m.ids;
	n_items = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	cutoff = Max((int64) (OWNER_IDS_FRACTION * (double) n_items), OWNER_IDS_MIN);
	initStringInfo(&query);
	appendStringInfo(&query, "SELECT pg_catalog.array_agg(s.item_id) FROM (SELECT d.item_id "
					 "FROM recsys.catalog_docs d WHERE %s LIMIT $5) s", where);
	m.query = query.data;
	m.types = types;
	m.values = values;
	m.nulls = nulls;
	m.limit = cutoff + 1;
	m.mcxt = CurrentMemoryContext;
	RsRunAsCatalogOwner(read_owner_matches, &m);
	/* a broad word: the caller's own read of the catalog is cheaper */
	if (m.ids != (Datum) 0 && ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(m.ids)),
											 ARR_DIMS(DatumGetArrayTypeP(m.ids))) > cutoff)
		return (Datum) 0;
	return m.ids;
}

/* Read the matches (GIN) and their BM25 into an array; returns how many. */
static int
read_matches(Datum catalog, Datum tsq, bool tsq_null, Datum candidates, bool candidates_null,
			 Datum also, bool also_null, double avg_length,
			 const QueryTerm *terms, int n_terms, Match **out)
{
	Oid			types[5] = {TEXTOID, TSQUERYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
	Datum		values[5] = {catalog, tsq, candidates, also, (Datum) 0};
	char		nulls[5] = {' ', tsq_null ? 'n' : ' ', candidates_null ? 'n' : ' ',
	also_null ? 'n' : ' ', ' '};
	const char *where = also_null ? MATCH_WHERE : MATCH_WHERE_ALSO;
	StringInfoData query;
	Match	   *matches;
	uint64		n;

	values[4] = owner_match_ids(where, types, values, nulls);
	nulls[4] = values[4] == (Datum) 0 ? 'n' : ' ';
	initStringInfo(&query);
	appendStringInfo(&query, "SELECT d.item_id, d.doc, d.length FROM recsys.catalog_docs d WHERE %s "
					 "AND ($5 IS NULL OR d.item_id OPERATOR(pg_catalog.=) ANY ($5))", where);
	if (SPI_execute_with_args(query.data, 5, types, values, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading a catalog's matches failed");
	n = SPI_processed;
	matches = palloc(sizeof(Match) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		doc_datum;
		TSVector	doc;

		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
		matches[i].item_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
		doc_datum = SPI_getbinval(tuple, desc, 2, &isnull);
		doc = DatumGetTSVector(doc_datum);
		matches[i].bm25 = doc_bm25(doc, DatumGetInt32(SPI_getbinval(tuple, desc, 3, &isnull)),
								   avg_length, terms, n_terms, &matches[i].position);
		matches[i].n_users = 0;
		if ((Pointer) doc != DatumGetPointer(doc_datum))
			pfree(doc);
	}
	*out = matches;
	return (int) n;
}

/*
 * recsys._catalog_matches(catalog text, tsq tsquery) RETURNS bigint[]
 *
 * The ids of the catalog's products matching tsq that the caller sees
 * (NULL: none), read as read_matches reads them: through the GIN index
 * also under row-level security (owner_match_ids), the caller's policies
 * and privileges applying.  For the SQL that looks at the products' text
 * (_search_split's phrase counts), which read the whole catalog under row
 * level security otherwise.
 */
PG_FUNCTION_INFO_V1(recsys_catalog_matches);
Datum
recsys_catalog_matches(PG_FUNCTION_ARGS)
{
	Oid			types[5] = {TEXTOID, TSQUERYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID};
	Datum		values[5] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), (Datum) 0, (Datum) 0, (Datum) 0};
	char		nulls[5] = {' ', ' ', 'n', 'n', ' '};
	Datum		ids;
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[4] = owner_match_ids(MATCH_WHERE, types, values, nulls);
	nulls[4] = values[4] == (Datum) 0 ? 'n' : ' ';
	if (SPI_execute_with_args("SELECT pg_catalog.array_agg(d.item_id) FROM recsys.catalog_docs d WHERE "
							  MATCH_WHERE " AND ($5 IS NULL OR d.item_id OPERATOR(pg_catalog.=) ANY ($5))",
							  5, types, values, nulls, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading a catalog's matches failed");
	ids = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		ids = SPI_datumTransfer(ids, false, -1);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(ids);
}

/*
 * Each match's user count in the model (0 for an item it does not know),
 * from the model as served (its popularity is item_stats.popularity, the
 * user count itself, or with private counts the noisy count that n_users
 * rounds): an array lookup per match, where an index probe of
 * recsys.item_stats per match cost tens of milliseconds at thousands.
 */
static void
read_popularity(RsModel *model, Match *matches, int n)
{
	for (int i = 0; i < n; i++)
	{
		int32		idx = RsModelItemIndex(model, matches[i].item_id);

		matches[i].n_users = idx < 0 ? 0 : (int32) Min(lroundf(model->popularity[idx]), PG_INT32_MAX);
	}
}

/*
 * Keep the max_matches best matches by min-max normalised BM25 plus
 * normalised ln(1 + users) (equal weights: what both features say before
 * the model is asked), best first, the smaller id first among equals.
 */
static int
cap_matches(Match *matches, int n, int max_matches)
{
	double		text_lo = INFINITY,
				text_hi = -INFINITY,
				pop_lo = INFINITY,
				pop_hi = -INFINITY;

	if (n <= max_matches)
		return n;
	for (int i = 0; i < n; i++)
	{
		double		pop = log1p(matches[i].n_users);

		text_lo = Min(text_lo, matches[i].bm25);
		text_hi = Max(text_hi, matches[i].bm25);
		pop_lo = Min(pop_lo, pop);
		pop_hi = Max(pop_hi, pop);
	}
	for (int i = 0; i < n; i++)
		matches[i].cap_score =
			(text_hi > text_lo ? (matches[i].bm25 - text_lo) / (text_hi - text_lo) : 0) +
			(pop_hi > pop_lo ? (log1p(matches[i].n_users) - pop_lo) / (pop_hi - pop_lo) : 0);
	qsort(matches, n, sizeof(Match), match_cap_cmp);
	return max_matches;
}

/*
 * recsys._search_matches(catalog text, tsq tsquery, terms text[],
 *		prefixes text[], n_items bigint, avg_length float8,
 *		candidates bigint[], also bigint[], model text, min_matches integer,
 *		OUT ids bigint[], OUT bm25 float8[], OUT n_users integer[],
 *		OUT positions real[])
 *
 * The products of the catalog matching tsq (or in also), within
 * candidates when given, with BM25 over terms and the lexemes prefixes
 * complete, where those end in the text (doc_bm25), and the model's user count of each (0 without a
 * model); at most recsys.search_max_matches of them (0: all), but never
 * fewer than min_matches (search's k, plus the user's purchases when it
 * leaves them out: the cap never shortens a result).  ids is NULL when
 * nothing matches.
 */
Datum
recsys_search_matches(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		result[4];
	bool		result_null[4] = {true, true, true, true};
	MemoryContext caller = CurrentMemoryContext;
	QueryTerm  *terms;
	int			n_terms;
	Match	   *matches;
	int			n;
	RsModel    *model;
	int			max_matches = recsys_search_max_matches > 0 ? recsys_search_max_matches : PG_INT32_MAX;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	for (int a = 0; a < 6; a++)
		if (a != 1 && a != 3)
			RsRequireArg(fcinfo, a, a == 0 ? "catalog" : a == 2 ? "terms" :
						 a == 4 ? "n_items" : "avg_length");

	if (!PG_ARGISNULL(9))
		max_matches = Max(max_matches, PG_GETARG_INT32(9));

	/*
	 * The catalog row's counts, which refresh_catalog and the sync triggers
	 * keep (an owner may edit the row): NaN or a negative count would make
	 * every BM25 score NaN, ranked silently.
	 */
	if (PG_GETARG_INT64(4) < 0 || !isfinite(PG_GETARG_FLOAT8(5)) || PG_GETARG_FLOAT8(5) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("catalog \"%s\" is damaged: %s", TextDatumGetCString(PG_GETARG_DATUM(0)),
						PG_GETARG_INT64(4) < 0 ? "its n_items is negative"
						: "its avg_length is not a finite number of at least 0"),
				 errhint("Rebuild it from its source with recsys.refresh_catalog.")));

	/* (loaded before SPI: the model lives in its own context) */
	model = PG_ARGISNULL(8) ? NULL : RsGetModel(text_to_cstring(PG_GETARG_TEXT_PP(8)));
	SPI_connect();
	terms = query_terms(PG_GETARG_DATUM(0), PG_GETARG_DATUM(2),
						PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3), PG_ARGISNULL(3),
						PG_GETARG_INT64(4), &n_terms);
	n = read_matches(PG_GETARG_DATUM(0), PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1),
					 PG_ARGISNULL(1),
					 PG_ARGISNULL(6) ? (Datum) 0 : PG_GETARG_DATUM(6), PG_ARGISNULL(6),
					 PG_ARGISNULL(7) ? (Datum) 0 : PG_GETARG_DATUM(7), PG_ARGISNULL(7),
					 PG_GETARG_FLOAT8(5), terms, n_terms, &matches);
	if (n > 0 && model != NULL)
		read_popularity(model, matches, n);
	n = cap_matches(matches, n, max_matches);

	if (n > 0)
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);
		Datum	   *ids = palloc(sizeof(Datum) * n);
		Datum	   *bm25 = palloc(sizeof(Datum) * n);
		Datum	   *users = palloc(sizeof(Datum) * n);
		Datum	   *position = palloc(sizeof(Datum) * n);

		for (int i = 0; i < n; i++)
		{
			ids[i] = Int64GetDatum(matches[i].item_id);
			bm25[i] = Float8GetDatum(matches[i].bm25);
			users[i] = Int32GetDatum(matches[i].n_users);
			position[i] = Float4GetDatum(matches[i].position);
		}
		result[0] = PointerGetDatum(construct_array(ids, n, INT8OID, sizeof(int64),
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		result[1] = PointerGetDatum(construct_array(bm25, n, FLOAT8OID, sizeof(float8),
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		result[2] = PointerGetDatum(construct_array(users, n, INT4OID, sizeof(int32),
													true, TYPALIGN_INT));
		result[3] = PointerGetDatum(construct_array(position, n, FLOAT4OID, sizeof(float4),
													true, TYPALIGN_INT));
		result_null[0] = result_null[1] = result_null[2] = result_null[3] = false;
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), result, result_null)));
}
