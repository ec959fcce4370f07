/*-------------------------------------------------------------------------
 *
 * sparse.c
 *		Coordinate triples to compressed sparse rows, and transposition.
 *
 * Both operations are stable counting sorts: linear in the number of
 * nonzeros, no comparisons, and the output order is fully determined by
 * the input, which keeps training deterministic for a given source.
 *
 * Plain C; see sparse.h for the allocation contract.
 *
 *-------------------------------------------------------------------------
 */
#include "sparse.h"

#include <string.h>

/*
 * Scatter triples into buckets by key with a stable counting sort.
 * indptr must hold n_keys + 1 entries; on return bucket b occupies
 * [indptr[b], indptr[b + 1]).
 */
static void
counting_sort(int32_t n_keys, int64_t n, const int32_t *keys,
			  const int32_t *other, const float *vals,
			  int64_t *indptr, int32_t *out_other, float *out_vals)
{
	memset(indptr, 0, sizeof(int64_t) * ((size_t) n_keys + 1));
	for (int64_t i = 0; i < n; i++)
		indptr[keys[i] + 1]++;
	for (int32_t b = 0; b < n_keys; b++)
		indptr[b + 1] += indptr[b];

	/* indptr[b] serves as the insertion cursor, then is shifted back */
	for (int64_t i = 0; i < n; i++)
	{
		int64_t		pos = indptr[keys[i]]++;

		out_other[pos] = other[i];
		out_vals[pos] = vals[i];
	}
	memmove(indptr + 1, indptr, sizeof(int64_t) * (size_t) n_keys);
	indptr[0] = 0;
}

void
rs_coo_to_csr(int32_t n_rows, int32_t n_cols, int64_t nnz_in,
			  const int32_t *rows, const int32_t *cols, const float *vals,
			  int64_t *tmp_indptr, int32_t *tmp_rows, float *tmp_vals,
			  RsCsr *out)
{
	int64_t		write = 0;

	/* first by column, so that the second (stable) pass sorts each row */
	counting_sort(n_cols, nnz_in, cols, rows, vals, tmp_indptr, tmp_rows, tmp_vals);

	memset(out->indptr, 0, sizeof(int64_t) * ((size_t) n_rows + 1));
	for (int64_t i = 0; i < nnz_in; i++)
		out->indptr[tmp_rows[i] + 1]++;
	for (int32_t r = 0; r < n_rows; r++)
		out->indptr[r + 1] += out->indptr[r];
	for (int32_t c = 0; c < n_cols; c++)
	{
		for (int64_t j = tmp_indptr[c]; j < tmp_indptr[c + 1]; j++)
		{
			int64_t		pos = out->indptr[tmp_rows[j]]++;

			out->indices[pos] = c;
			out->data[pos] = tmp_vals[j];
		}
	}
	memmove(out->indptr + 1, out->indptr, sizeof(int64_t) * (size_t) n_rows);
	out->indptr[0] = 0;

	/* sum duplicates, which now sit next to each other, compacting in place */
	for (int32_t r = 0; r < n_rows; r++)
	{
		int64_t		start = out->indptr[r];
		int64_t		end = out->indptr[r + 1];

		out->indptr[r] = write;
		for (int64_t j = start; j < end; j++)
		{
			if (write > out->indptr[r] && out->indices[write - 1] == out->indices[j])
				out->data[write - 1] += out->data[j];
			else
			{
				out->indices[write] = out->indices[j];
				out->data[write] = out->data[j];
				write++;
			}
		}
	}
	out->indptr[n_rows] = write;
	out->n_rows = n_rows;
	out->n_cols = n_cols;
	out->nnz = write;
}

void
rs_csr_transpose(const RsCsr *in, RsCsr *out)
{
	memset(out->indptr, 0, sizeof(int64_t) * ((size_t) in->n_cols + 1));
	for (int64_t j = 0; j < in->nnz; j++)
		out->indptr[in->indices[j] + 1]++;
	for (int32_t c = 0; c < in->n_cols; c++)
		out->indptr[c + 1] += out->indptr[c];
	for (int32_t r = 0; r < in->n_rows; r++)
	{
		for (int64_t j = in->indptr[r]; j < in->indptr[r + 1]; j++)
		{
			int64_t		pos = out->indptr[in->indices[j]]++;

			out->indices[pos] = r;
			out->data[pos] = in->data[j];
		}
	}
	memmove(out->indptr + 1, out->indptr, sizeof(int64_t) * (size_t) in->n_cols);
	out->indptr[0] = 0;
	out->n_rows = in->n_cols;
	out->n_cols = in->n_rows;
	out->nnz = in->nnz;
}
