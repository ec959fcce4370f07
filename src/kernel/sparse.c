/*-------------------------------------------------------------------------
 *
 * sparse.c
 *		Coordinate triples to compressed sparse rows, and transposition.
 *
 * Both are counting sorts, linear in the number of nonzeros, plus a sort
 * of each row's few entries by column.  The output is fully determined by
 * the input, which keeps training deterministic for a given source.
 *
 * Each pass scatters once over the whole matrix; scatters are what costs
 * (cache and TLB misses, and first-touch page faults of fresh buffers), so
 * the CSR is built in one scatter rather than two stable passes.
 *
 * Plain C; see sparse.h for the allocation contract.
 *
 *-------------------------------------------------------------------------
 */
#include "sparse.h"
#include "threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * Pairs are ordered by column, then by value: duplicates of a column are
 * then summed in ascending order of their values, so the sum does not
 * depend on the order the rows arrived in (a parallel read delivers them
 * in any order).  Values are finite (the reader refuses others).
 */
#define PAIR_LESS(c1, v1, c2, v2) ((c1) < (c2) || ((c1) == (c2) && (v1) < (v2)))

/* Sort a row's (column, value) pairs: insertion sort. */
static void
sort_pairs_small(int32_t *col, float *val, int64_t n)
{
	for (int64_t i = 1; i < n; i++)
	{
		int32_t		c = col[i];
		float		v = val[i];
		int64_t		j = i;

		while (j > 0 && PAIR_LESS(c, v, col[j - 1], val[j - 1]))
		{
			col[j] = col[j - 1];
			val[j] = val[j - 1];
			j--;
		}
		col[j] = c;
		val[j] = v;
	}
}

/* Sort (column, value) pairs: quicksort, insertion sort below 24. */
static void
sort_pairs(int32_t *col, float *val, int64_t n)
{
	while (n > 24)
	{
		int32_t		pivot = col[n / 2];
		float		pivot_val = val[n / 2];
		int64_t		i = 0,
					j = n - 1;

		/* Hoare partition */
		for (;;)
		{
			while (PAIR_LESS(col[i], val[i], pivot, pivot_val))
				i++;
			while (PAIR_LESS(pivot, pivot_val, col[j], val[j]))
				j--;
			if (i >= j)
				break;
			{
				int32_t		tc = col[i];
				float		tv = val[i];

				col[i] = col[j];
				val[i] = val[j];
				col[j] = tc;
				val[j] = tv;
			}
			i++;
			j--;
		}
		/* recurse into the smaller side, loop on the larger */
		if (j + 1 < n - j - 1)
		{
			sort_pairs(col, val, j + 1);
			col += j + 1;
			val += j + 1;
			n -= j + 1;
		}
		else
		{
			sort_pairs(col + j + 1, val + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	sort_pairs_small(col, val, n);
}

void
rs_coo_to_csr(int32_t n_rows, int32_t n_cols, int64_t nnz_in,
			  const int32_t *rows, const int32_t *cols, const float *vals,
			  RsCsr *out)
{
	int64_t    *indptr = out->indptr;
	int64_t		write = 0;

	/* bucket by row; indptr[r] serves as the insertion cursor */
	memset(indptr, 0, sizeof(int64_t) * ((size_t) n_rows + 1));
	for (int64_t i = 0; i < nnz_in; i++)
		indptr[rows[i] + 1]++;
	for (int32_t r = 0; r < n_rows; r++)
		indptr[r + 1] += indptr[r];
	for (int64_t i = 0; i < nnz_in; i++)
	{
		int64_t		pos = indptr[rows[i]]++;

		out->indices[pos] = cols[i];
		out->data[pos] = vals[i];
	}
	/* cursors now sit at each row's end, the next row's start */

	/*
	 * Sort each row, sum duplicates, and pack the rows to the front.
	 * indptr[r] holds row r's unpacked end until it is replaced by the
	 * packed end; start carries the unpacked end of the row before.
	 */
	{
		int64_t		start = 0;

		for (int32_t r = 0; r < n_rows; r++)
		{
			int64_t		end = indptr[r];
			int64_t		row_start = write;

			sort_pairs(out->indices + start, out->data + start, end - start);
			for (int64_t j = start; j < end; j++)
			{
				if (write > row_start && out->indices[write - 1] == out->indices[j])
					out->data[write - 1] += out->data[j];
				else
				{
					out->indices[write] = out->indices[j];
					out->data[write] = out->data[j];
					write++;
				}
			}
			indptr[r] = write;
			start = end;
		}
	}
	memmove(indptr + 1, indptr, sizeof(int64_t) * (size_t) n_rows);
	indptr[0] = 0;
	out->n_rows = n_rows;
	out->n_cols = n_cols;
	out->nnz = write;
}

/*
 * The transpose's scatter for output columns [lo, hi): every input row in
 * ascending order, so each output column gets its rows ascending.
 * out->indptr[c] holds column c's next free position.
 */
static void
transpose_columns(const RsCsr *in, RsCsr *out, int32_t lo, int32_t hi)
{
	bool		all = lo == 0 && hi == in->n_cols;

	for (int32_t r = 0; r < in->n_rows; r++)
	{
		for (int64_t j = in->indptr[r]; j < in->indptr[r + 1]; j++)
		{
			int32_t		c = in->indices[j];
			int64_t		pos;

			if (!all && (c < lo || c >= hi))
				continue;
			pos = out->indptr[c]++;
			out->indices[pos] = r;
			out->data[pos] = in->data[j];
		}
	}
}

/* The column ranges of a threaded transpose, pulled by the threads. */
typedef struct TransposeShared
{
	const RsCsr *in;
	RsCsr	   *out;
	const int32_t *bounds;		/* range k: columns [bounds[k], bounds[k + 1]) */
	int64_t		nranges;
	int64_t		next;			/* the next range to take */
} TransposeShared;

static void *
transpose_worker(void *arg)
{
	TransposeShared *shared = *(TransposeShared **) arg;
	int64_t		begin,
				end;

	while (rs_threads_grab(&shared->next, 1, shared->nranges, &begin, &end))
		transpose_columns(shared->in, shared->out, shared->bounds[begin], shared->bounds[begin + 1]);
	return NULL;
}

int
rs_csr_transpose_threads(const RsCsr *in, RsCsr *out, int nthreads)
{
	int32_t		bounds[RS_THREADS_MAX + 1];
	TransposeShared shared;
	TransposeShared *args[RS_THREADS_MAX];
	int			status = RS_THREADS_OK;

	if (nthreads > RS_THREADS_MAX)
		nthreads = RS_THREADS_MAX;
	if (nthreads < 1)
		nthreads = 1;

	/* column counts, then their starts (indptr[c]: column c's start) */
	memset(out->indptr, 0, sizeof(int64_t) * ((size_t) in->n_cols + 1));
	for (int64_t j = 0; j < in->nnz; j++)
		out->indptr[in->indices[j] + 1]++;
	for (int32_t c = 0; c < in->n_cols; c++)
		out->indptr[c + 1] += out->indptr[c];

	if (nthreads == 1 || in->nnz < 65536)
		transpose_columns(in, out, 0, in->n_cols);
	else
	{
		/*
		 * Ranges of contiguous columns holding about nnz / nthreads entries
		 * each; every thread reads the whole input but writes only its
		 * columns, so no two threads write the same place.
		 */
		int32_t		c = 0;

		bounds[0] = 0;
		for (int k = 1; k < nthreads; k++)
		{
			int64_t		target = in->nnz / nthreads * k;

			while (c < in->n_cols && out->indptr[c] < target)
				c++;
			bounds[k] = c;
		}
		bounds[nthreads] = in->n_cols;
		shared.in = in;
		shared.out = out;
		shared.bounds = bounds;
		shared.nranges = nthreads;
		shared.next = 0;
		for (int t = 0; t < nthreads; t++)
			args[t] = &shared;
		status = rs_threads_run(nthreads, transpose_worker, args, sizeof(TransposeShared *));
	}

	/* each start has moved to the next column's: shift back */
	memmove(out->indptr + 1, out->indptr, sizeof(int64_t) * (size_t) in->n_cols);
	out->indptr[0] = 0;
	out->n_rows = in->n_cols;
	out->n_cols = in->n_rows;
	out->nnz = in->nnz;
	return status;
}

void
rs_csr_transpose(const RsCsr *in, RsCsr *out)
{
	rs_csr_transpose_threads(in, out, 1);
}

void
rs_csr_abs_range(const RsCsr *A, float *min_nonzero, float *max)
{
	float		lo = INFINITY,
				hi = 0.0f;

	for (int64_t p = 0; p < A->nnz; p++)
	{
		float		v = fabsf(A->data[p]);

		if (v > hi)
			hi = v;
		if (v != 0.0f && v < lo)
			lo = v;
	}
	*min_nonzero = hi > 0.0f ? lo : 0.0f;
	*max = hi;
}

void
rs_csr_scale_pow2(RsCsr *A, int exponent)
{
	for (int64_t p = 0; p < A->nnz; p++)
		A->data[p] = ldexpf(A->data[p], exponent);
}

/* ascending int64 keys (rs_top_columns) */
static int
compare_int64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

int32_t
rs_top_columns(const int64_t *count, int32_t n, int32_t m, int64_t *scratch, int32_t *new_index)
{
	int32_t		kept = 0;

	if (m >= n)
	{
		for (int32_t j = 0; j < n; j++)
			new_index[j] = j;
		return n;
	}
	/*
	 * One key per column, sorted ascending: the count's complement above,
	 * the index below, so the most entries come first and ties go to the
	 * smaller index (counts fit in 31 bits: a column has at most one entry
	 * a row, and rows are int32).
	 */
	for (int32_t j = 0; j < n; j++)
	{
		int64_t		c = count[j] < 0 ? 0 : (count[j] > INT32_MAX ? INT32_MAX : count[j]);

		scratch[j] = ((int64_t) (INT32_MAX - c) << 32) | (int64_t) j;
		new_index[j] = -1;
	}
	qsort(scratch, (size_t) n, sizeof(int64_t), compare_int64);
	for (int32_t r = 0; r < m; r++)
		new_index[scratch[r] & 0xffffffff] = 0;
	/* the kept ones numbered in ascending original order */
	for (int32_t j = 0; j < n; j++)
		if (new_index[j] == 0)
			new_index[j] = kept++;
	return kept;
}

int64_t
rs_csr_select_columns(const RsCsr *in, const int32_t *new_index, int32_t n_cols_out, RsCsr *out)
{
	int64_t		nnz = 0;
	int64_t		start = in->indptr[0];

	/* (a row's end read before out's is written: out may be in) */
	out->indptr[0] = 0;
	for (int32_t r = 0; r < in->n_rows; r++)
	{
		int64_t		end = in->indptr[r + 1];

		for (int64_t p = start; p < end; p++)
		{
			int32_t		c = new_index[in->indices[p]];

			if (c >= 0)
			{
				out->indices[nnz] = c;
				out->data[nnz++] = in->data[p];
			}
		}
		out->indptr[r + 1] = nnz;
		start = end;
	}
	out->n_rows = in->n_rows;
	out->n_cols = n_cols_out;
	out->nnz = nnz;
	return nnz;
}
