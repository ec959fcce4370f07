/*-------------------------------------------------------------------------
 *
 * kind_cold_terms.c
 *		The cold re-ranker's term inputs: the item universe with its feature
 *		rows, the warm items' neighbour lists, the lists and priors of
 *		target items (src/kernel/cold_mix.h) and their rows in
 *		recsys.item_term_lists.  Shared by training (src/train_cold.c), its
 *		pseudo-cold fit, and refresh_items (src/kind_cold.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "array_util.h"
#include "cancel.h"
#include "item_cold.h"
#include "kind_cold.h"
#include "knn.h"
#include "recsys.h"
#include "spi_util.h"

static void *
alloc_huge(Size bytes)
{
	return MemoryContextAllocHuge(CurrentMemoryContext, Max(bytes, 1));
}

/*
 * RsColdUniverseRead: the known items (ascending) and every item of the
 * features relation, ascending, with the features' unit tf-idf rows (read
 * with the current role's rights).
 */
void
RsColdUniverseRead(Oid features, const char *item_col, const int64 *known, int32 n_known,
				   RsColdUniverse *u)
{
	int64	   *fids;
	int32		n_f;
	RsCsr		rows;
	int32		a = 0;
	int32		b = 0;
	int64		nnz = 0;

	RsColdFeatureRows(features, item_col, &fids, &n_f, &rows);
	u->ids = alloc_huge(sizeof(int64) * ((Size) n_known + n_f));
	u->n = 0;
	while (a < n_known || b < n_f)
	{
		int64		id;

		if (b >= n_f || (a < n_known && known[a] <= fids[b]))
		{
			id = known[a++];
			if (b < n_f && fids[b] == id)
				b++;
		}
		else
			id = fids[b++];
		u->ids[u->n++] = id;
	}
	u->words.n_rows = u->n;
	u->words.n_cols = rows.n_cols;
	u->words.nnz = rows.nnz;
	u->words.indices = rows.indices;
	u->words.data = rows.data;
	u->words.indptr = alloc_huge(sizeof(int64) * ((Size) u->n + 1));
	u->words.indptr[0] = 0;
	for (int32 i = 0, r = 0; i < u->n; i++)
	{
		if (r < n_f && fids[r] == u->ids[i])
		{
			nnz += rows.indptr[r + 1] - rows.indptr[r];
			r++;
		}
		u->words.indptr[i + 1] = nnz;
	}
}

/*
 * RsColdWarmLists: the k most similar items of each item by the binary
 * cosine of their users (R: users x items, binary), as the CSR S (items x
 * items): item-kNN's lists, which the learned lists a'S spread; also
 * as k slots per item (nbr, sim, count: RsWriteNeighbors' form).
 */
void
RsColdWarmLists(const RsCsr *R, int k, RsCsr *S, int32 **nbr_out, float **sim_out, int32 **count_out)
{
	RsCsr		Rt;
	RsKnnParams params = {RS_KNN_COSINE, k, 0, 0, NULL};
	int32		n = R->n_cols;
	int			threads = Max(recsys_threads, 1);
	float	   *norms;
	void	   *work;
	int32	   *nbr;
	float	   *sim;
	int32	   *count;

	Rt.n_rows = n;
	Rt.n_cols = R->n_rows;
	Rt.nnz = R->nnz;
	Rt.indptr = alloc_huge(sizeof(int64) * ((Size) n + 1));
	Rt.indices = alloc_huge(sizeof(int32) * R->nnz);
	Rt.data = alloc_huge(sizeof(float) * R->nnz);
	rs_csr_transpose(R, &Rt);
	norms = alloc_huge(sizeof(float) * n);
	rs_knn_row_norms(&Rt, norms);
	work = alloc_huge(rs_knn_workspace_bytes(&params, n, threads));
	nbr = alloc_huge(sizeof(int32) * (Size) n * k);
	sim = alloc_huge(sizeof(float) * (Size) n * k);
	count = alloc_huge(sizeof(int32) * n);
	for (int32 begin = 0; begin < n; begin += 256 * threads)
	{
		int32		end = Min(begin + 256 * threads, n);
		int			status;

		CHECK_FOR_INTERRUPTS();
		status = rs_knn_build(&Rt, R, norms, &params, begin, end, threads, work, nbr + (int64) begin * k,
							  sim + (int64) begin * k, count + begin);
		/* a thread not created: the others did its rows, the lists are whole */
		if (status != RS_KNN_OK && status != RS_KNN_ERR_THREAD)
			elog(ERROR, "neighbour lists of the cold re-ranker: %s", rs_knn_strerror(status));
	}
	RsNeighborListsCsr(n, k, nbr, sim, count, S);
	*nbr_out = nbr;
	*sim_out = sim;
	*count_out = count;
	pfree(work);
	pfree(norms);
}

/* words with the non-warm rows emptied; binary: each row's values 1 / sqrt(length) */
static void
warm_rows(const RsCsr *words, const uint8 *warm, bool binary, RsCsr *out)
{
	int64		nnz = 0;

	out->n_rows = words->n_rows;
	out->n_cols = words->n_cols;
	out->indptr = alloc_huge(sizeof(int64) * ((Size) words->n_rows + 1));
	out->indices = alloc_huge(sizeof(int32) * words->nnz);
	out->data = alloc_huge(sizeof(float) * words->nnz);
	out->indptr[0] = 0;
	for (int32 i = 0; i < words->n_rows; i++)
	{
		int64		len = words->indptr[i + 1] - words->indptr[i];

		if (warm[i])
			for (int64 e = words->indptr[i]; e < words->indptr[i + 1]; e++)
			{
				out->indices[nnz] = words->indices[e];
				out->data[nnz++] = binary ? (float) (1.0 / sqrt((double) len)) : words->data[e];
			}
		out->indptr[i + 1] = nnz;
	}
	out->nnz = nnz;
}

/*
 * RsColdTermsCompute: the lists (length entries each) and priors of the
 * n_targets universe items targets, from the warm items' (warm flags,
 * log_users = ln(1 + users), S their neighbour lists) with ridge lambda.
 */
void
RsColdTermsCompute(const RsColdUniverse *u, const uint8 *warm, const float *log_users, const RsCsr *S,
				   const int32 *targets, int32 n_targets, float lambda, int length, RsColdBuilt *out)
{
	RsCsr		warm_tfidf;
	RsCsr		warm_t;
	RsCsr		fit;
	float	   *word_prior = alloc_huge(sizeof(float) * u->words.n_cols);
	float		global;
	RsColdInputs in;
	float	   *work;
	int			threads = Max(recsys_threads, 1);

	warm_rows(&u->words, warm, false, &warm_tfidf);
	warm_t.n_rows = u->words.n_cols;
	warm_t.n_cols = u->n;
	warm_t.nnz = warm_tfidf.nnz;
	warm_t.indptr = alloc_huge(sizeof(int64) * ((Size) u->words.n_cols + 1));
	warm_t.indices = alloc_huge(sizeof(int32) * warm_tfidf.nnz);
	warm_t.data = alloc_huge(sizeof(float) * warm_tfidf.nnz);
	rs_csr_transpose(&warm_tfidf, &warm_t);
	pfree(warm_tfidf.indptr);
	pfree(warm_tfidf.indices);
	pfree(warm_tfidf.data);
	warm_rows(&u->words, warm, true, &fit);
	rs_cold_word_prior(&warm_t, log_users, warm, u->n, word_prior, &global);
	in = (RsColdInputs) {&u->words, &warm_t, &fit, S, word_prior, global, lambda,
	RS_COLD_MAP_ITERATIONS, length};
	work = alloc_huge(sizeof(float) * rs_cold_item_work(&in) * threads);

	out->n = n_targets;
	out->length = length;
	out->item = alloc_huge(sizeof(int32) * n_targets);
	out->count = alloc_huge(sizeof(int32) * (Size) n_targets * RS_COLD_LISTS);
	out->idx = alloc_huge(sizeof(int32) * (Size) n_targets * RS_COLD_LISTS * length);
	out->val = alloc_huge(sizeof(float) * (Size) n_targets * RS_COLD_LISTS * length);
	out->prior = alloc_huge(sizeof(float) * n_targets);
	memcpy(out->item, targets, sizeof(int32) * n_targets);
	/* chunks of targets on the threads, checking for interrupts between them */
	for (int32 begin = 0; begin < n_targets; begin += 16 * threads)
	{
		int32		n = Min(16 * threads, n_targets - begin);
		Size		at = (Size) begin * RS_COLD_LISTS * length;
		int32		failed;
		int			status;

		CHECK_FOR_INTERRUPTS();
		status = rs_cold_items_lists(&in, targets + begin, n, out->idx + at, out->val + at,
									 out->count + (Size) begin * RS_COLD_LISTS, out->prior + begin, work,
									 threads, &failed);
		if (status == RS_COLD_MIX_STOPPED)
			RsKernelStopped("the cold re-ranker's lists");
		/* RS_COLD_MIX_ERR_THREAD: fewer threads ran, the lists are whole */
		if (status != RS_COLD_MIX_OK && status != RS_COLD_MIX_ERR_THREAD)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("the term inputs of item " INT64_FORMAT " could not be computed (status %d)",
							u->ids[targets[begin + failed]], status)));
	}
	pfree(work);
	pfree(word_prior);
}

/*
 * RsColdTermsWrite stores the built lists (item ids) and priors of the
 * targets as recsys.item_term_lists rows: one per item and list (none for
 * an empty list), and the prior as a row of no neighbours and one score.
 */
void
RsColdTermsWrite(const char *name, int32 version, const RsColdUniverse *u, const RsColdBuilt *b)
{
	Oid			argtypes[6] = {TEXTOID, INT4OID, TEXTOID, INT8ARRAYOID, INT8ARRAYOID, FLOAT4ARRAYOID};
	Size		cap = (Size) b->n * b->length;
	int64	   *item = alloc_huge(sizeof(int64) * Max(cap, b->n));
	int64	   *nbr = alloc_huge(sizeof(int64) * cap);
	float	   *val = alloc_huge(sizeof(float) * cap);

	if (b->n == 0)
		return;
	if (cap > INT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many cold items' term entries (%zu)", cap)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int l = 0; l < RS_COLD_LISTS; l++)
	{
		int			n = 0;
		Datum		values[6];

		for (int32 t = 0; t < b->n; t++)
		{
			Size		at = ((Size) t * RS_COLD_LISTS + l) * b->length;

			for (int e = 0; e < b->count[(Size) t * RS_COLD_LISTS + l]; e++)
			{
				item[n] = u->ids[b->item[t]];
				nbr[n] = u->ids[b->idx[at + e]];
				val[n++] = b->val[at + e];
			}
		}
		CHECK_FOR_INTERRUPTS();
		values[0] = CStringGetTextDatum(name);
		values[1] = Int32GetDatum(version);
		values[2] = CStringGetTextDatum(rs_cold_list_names[l]);
		values[3] = PointerGetDatum(RsInt64Array(item, n));
		values[4] = PointerGetDatum(RsInt64Array(nbr, n));
		values[5] = PointerGetDatum(RsFloatArray(val, n));
		RsExecute("INSERT INTO recsys.item_term_lists (model, version, item_id, term, neighbor_ids, scores) "
				  "SELECT $1, $2, p.c, $3, pg_catalog.array_agg(p.w ORDER BY p.o), "
				  "pg_catalog.array_agg(p.s ORDER BY p.o) "
				  "FROM ROWS FROM (pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6)) "
				  "WITH ORDINALITY AS p(c, w, s, o) GROUP BY p.c",
				  6, argtypes, values, NULL, false, SPI_OK_INSERT);
	}
	for (int32 t = 0; t < b->n; t++)
		item[t] = u->ids[b->item[t]];
	{
		Oid			types[5] = {TEXTOID, INT4OID, TEXTOID, INT8ARRAYOID, FLOAT4ARRAYOID};
		Datum		values[5] = {CStringGetTextDatum(name), Int32GetDatum(version),
								 CStringGetTextDatum(RS_COLD_PRIOR_TERM),
								 PointerGetDatum(RsInt64Array(item, b->n)),
		PointerGetDatum(RsFloatArray(b->prior, b->n))};

		RsExecute("INSERT INTO recsys.item_term_lists (model, version, item_id, term, neighbor_ids, scores) "
				  "SELECT $1, $2, p.c, $3, '{}', ARRAY[p.s] "
				  "FROM ROWS FROM (pg_catalog.unnest($4), pg_catalog.unnest($5)) AS p(c, s)",
				  5, types, values, NULL, false, SPI_OK_INSERT);
	}
	SPI_finish();
	pfree(item);
	pfree(nbr);
	pfree(val);
}
