/*-------------------------------------------------------------------------
 *
 * sparse.h
 *		Sparse interaction matrices (CSR/CSC) shared by every numeric kernel.
 *
 * Everything under src/kernel/ is plain C: no PostgreSQL headers, no palloc,
 * no ereport.  Callers (the PostgreSQL glue, the unit tests, the
 * benchmarks) allocate every buffer a kernel writes, so that an ERROR in
 * the backend frees them with the memory context that owns them.
 *
 * Rows are dense user indexes and columns dense item indexes (0-based),
 * assigned in ascending order of the original bigint ids.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_SPARSE_H
#define RECSYS_KERNEL_SPARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * A compressed sparse matrix.  As CSR, row r holds the column indexes
 * indices[indptr[r] .. indptr[r + 1]) in ascending order, with values in
 * data[] at the same positions.  The same struct read as CSC (rows and
 * columns swapped) is the transpose.
 */
typedef struct RsCsr
{
	int32_t		n_rows;
	int32_t		n_cols;
	int64_t		nnz;
	int64_t    *indptr;			/* n_rows + 1 entries */
	int32_t    *indices;		/* nnz entries, ascending within a row */
	float	   *data;			/* nnz entries */
} RsCsr;

/*
 * Build a CSR matrix from coordinate triples, summing duplicate
 * (row, col) pairs.
 *
 * rows[], cols[], vals[] hold nnz_in triples with 0 <= rows[i] < n_rows and
 * 0 <= cols[i] < n_cols.  out must have indptr for n_rows + 1 offsets and
 * indices/data for nnz_in entries.  On return out->nnz is the number of
 * distinct pairs (<= nnz_in), packed at the front of indices/data, with
 * columns ascending within each row.  One counting sort by row, then a
 * sort of each (short, cache-resident) row by column.
 */
extern void rs_coo_to_csr(int32_t n_rows, int32_t n_cols, int64_t nnz_in,
						  const int32_t *rows, const int32_t *cols,
						  const float *vals, RsCsr *out);

/*
 * Transpose a CSR matrix into a CSR of the transpose (that is, CSC of the
 * input).  out must have indptr for in->n_cols + 1 entries and indices/data
 * for in->nnz entries; row indexes come out ascending within each column.
 */
extern void rs_csr_transpose(const RsCsr *in, RsCsr *out);

/*
 * rs_csr_transpose on up to nthreads threads (threads.h), each writing the
 * output columns of a range holding about nnz / nthreads entries: the
 * output is bit-identical to rs_csr_transpose's whatever nthreads.
 * Returns RS_THREADS_OK, or RS_THREADS_ERR_CREATE when a thread could not
 * be created (the output is complete all the same).
 */
extern int	rs_csr_transpose_threads(const RsCsr *in, RsCsr *out, int nthreads);

/*
 * The largest |value| of A and the smallest nonzero one (both 0 when A
 * holds no nonzero value).
 */
extern void rs_csr_abs_range(const RsCsr *A, float *min_nonzero, float *max);

/*
 * Multiply every value of A by 2^exponent: exact (bit for bit the values
 * a wider type would hold) while the results stay within float's normal
 * range, so a scale-free computation (cosine) gives the same bits.
 */
extern void rs_csr_scale_pow2(RsCsr *A, int exponent);

/*
 * The m columns with the most stored entries, given each column's count
 * (count[j], j < n): ties go to the smaller index.  new_index[j] is the
 * kept column's place among the kept ones in ascending original order
 * (so a row's columns stay ascending through rs_csr_select_columns), or
 * -1.  m >= n keeps every column.  scratch: n int64s.  Returns the number
 * kept, min(m, n).
 */
extern int32_t rs_top_columns(const int64_t *count, int32_t n, int32_t m,
							  int64_t *scratch, int32_t *new_index);

/*
 * out = the columns of in that new_index keeps (new_index[j] >= 0, the
 * column's index in out; it must keep the columns' order), n_cols_out
 * columns.  out must have indptr for in->n_rows + 1 entries and
 * indices/data for in->nnz entries; it may be in itself.  Returns
 * out->nnz.
 */
extern int64_t rs_csr_select_columns(const RsCsr *in, const int32_t *new_index,
									 int32_t n_cols_out, RsCsr *out);

#endif							/* RECSYS_KERNEL_SPARSE_H */
