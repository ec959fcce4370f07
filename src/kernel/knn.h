/*-------------------------------------------------------------------------
 *
 * knn.h
 *		Neighbourhood kernels: top-K most similar rows of a sparse matrix
 *		(item-item or user-user), BM25 weighting, and item-kNN scoring.
 *
 * Orientation.  One kernel serves both neighbourhoods: it compares the
 * rows of A with each other through At, the transpose of A (the CSR of
 * the other orientation).  Item-item: A = Rt (items x users), At = R
 * (users x items).  User-user: A = R, At = Rt.  Row a's candidates are
 * the rows b != a that share a column with it; their dot products are
 * accumulated sparsely (for each column c of row a, for each row b of
 * column c: acc[b] += A[a,c] A[b,c]), so no n x n matrix is ever formed.
 *
 * Similarities (dot = sum_c A[a,c] A[b,c], n_ab = number of common
 * columns, |a| = Euclidean norm of row a, #a = stored entries of row a):
 *	RS_KNN_COSINE	dot / (|a| |b| + shrink).  shrink >= 0 damps pairs of
 *					rows with small norms ("shrunk cosine" as in the baselines
 *					of Dacrema, Cremonesi and Jannach, "Are we really making
 *					much progress?", RecSys 2019); shrink = 0 is plain cosine,
 *					the `implicit` library's CosineRecommender.
 *	RS_KNN_JACCARD	n_ab / (#a + #b - n_ab): every stored entry counts as 1,
 *					whatever its weight (binarised interactions).
 *	RS_KNN_DOT		dot, not normalised.  On BM25-weighted data (see
 *					rs_bm25_weight) this is the `implicit` library's
 *					BM25Recommender, which ranks by the raw dot product.
 * Any kind may further be multiplied by the support shrinkage of Koren
 * ("Factor in the neighbors: scalable and accurate collaborative
 * filtering", ACM TKDD 4(1), 2010, the shrunk similarity s_ij = n_ij /
 * (n_ij + lambda) rho_ij):  sim * n_ab / (n_ab + support_shrink), which
 * pulls pairs seen together by few rows towards 0.  support_shrink = 0
 * disables it.  Dot products are float sums (as in `implicit`), in a fixed
 * order; norms and BM25 weights are computed in double.
 *
 * Neighbours.  A row's neighbours are the K rows b != a with the highest
 * similarity, ranked by similarity descending and then by smaller index;
 * only b with a nonzero dot product (or n_ab, for Jaccard) and a non-NaN
 * similarity qualify, so count < K when fewer rows co-occur.  Results are
 * written best first into caller arrays of (end - begin) x K slots; unused
 * slots get index -1 and similarity 0.  Unlike `implicit`'s all_pairs_knn,
 * the row itself is never its own neighbour.
 *
 * Calling conventions (as the other kernels, see als.h):
 *	- the caller allocates everything: outputs, the per-thread workspace of
 *	  rs_knn_workspace_bytes() bytes (any alignment), the norms;
 *	- rows [begin, end) are computed, so the caller can check for
 *	  interrupts between calls;
 *	- nthreads POSIX threads share the rows (nthreads = 1 creates none);
 *	  the others run with every signal blocked;
 *	- every row depends on its inputs only, with a fixed summation order,
 *	  so results are bit-identical whatever nthreads and the chunking.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_KNN_H
#define RECSYS_KERNEL_KNN_H

#include <stddef.h>
#include <stdint.h>

#include "sparse.h"

/* Status codes (0 is success). */
#define RS_KNN_OK				0
#define RS_KNN_ERR_ARGUMENT		(-1)	/* bad size, range, kind or pointer */
#define RS_KNN_ERR_THREAD		(-2)	/* pthread_create failed (the rows
										 * were still all computed) */

/* Most threads one call uses (more are clamped to this). */
#define RS_KNN_MAX_THREADS		64

/* Defaults of `implicit`'s BM25Recommender. */
#define RS_BM25_DEFAULT_K1		1.2f
#define RS_BM25_DEFAULT_B		0.75f

/* Similarity measures; see the file header. */
typedef enum RsKnnKind
{
	RS_KNN_COSINE = 0,
	RS_KNN_JACCARD = 1,
	RS_KNN_DOT = 2
} RsKnnKind;

/* What to compute. */
typedef struct RsKnnParams
{
	RsKnnKind	kind;
	int			k;				/* neighbours kept per row, >= 1 */
	float		shrink;			/* cosine: dot / (|a||b| + shrink); >= 0 */
	float		support_shrink; /* Koren: * n_ab / (n_ab + s); >= 0, 0 off */
	/*
	 * Optional: rs_knn_row_work of A (every row's scatter-adds), which the
	 * caller may have computed anyway to size its chunks; NULL to count
	 * them row by row.  It only chooses how a row accumulates, never a
	 * result.
	 */
	const int64_t *row_work;
} RsKnnParams;

/* A static English message for a status code. */
extern const char *rs_knn_strerror(int status);

/*
 * Euclidean norm of every row of A into norms (A->n_rows floats), summed in
 * double.  Needed by RS_KNN_COSINE (pass NULL norms for the other kinds);
 * compute it once and pass it to every rs_knn_build call so all chunks use
 * the same values.
 */
extern void rs_knn_row_norms(const RsCsr *A, float *norms);

/*
 * The exact number of scatter-adds of every row a of A, the sum over its
 * columns c of the entries of row c of At, into work (A->n_rows values),
 * on nthreads threads.  The cost of rs_knn_build's rows, for chunking, and
 * its choice between sparse and dense accumulation (RsKnnParams.row_work).
 * Returns RS_KNN_OK, RS_KNN_ERR_ARGUMENT, or RS_KNN_ERR_THREAD (every row
 * was still counted).
 */
extern int	rs_knn_row_work(const RsCsr *A, const RsCsr *At, int nthreads,
							int64_t *work);

/*
 * Workspace bytes for rs_knn_build over a matrix A of n_rows rows with
 * these parameters and nthreads threads (includes alignment slack).
 */
extern size_t rs_knn_workspace_bytes(const RsKnnParams *params,
									 int32_t n_rows, int nthreads);

/*
 * Top-K neighbours of rows [begin, end) of A among all rows of A, At being
 * the transpose of A.  Row a's results go to nbr[(a - begin) * K + t] and
 * sim[...] for t < count[a - begin], best first; nbr -1 and sim 0 beyond.
 * norms is rs_knn_row_norms(A) for RS_KNN_COSINE, else ignored (may be
 * NULL).  To use other weights (BM25), pass shallow copies of A and At
 * whose data point at the weighted arrays.  Returns RS_KNN_OK or a
 * negative status.
 */
extern int	rs_knn_build(const RsCsr *A, const RsCsr *At, const float *norms,
						 const RsKnnParams *params,
						 int32_t begin, int32_t end, int nthreads,
						 void *workspace,
						 int32_t *nbr, float *sim, int32_t *count);

/*
 * BM25 weights of a documents x terms matrix, as the `implicit` library's
 * bm25_weight(X, K1, B) with X = docs:
 *		w'(d,t) = w(d,t) (K1 + 1) / (K1 (1 - B + B len_d / avg_len) + w(d,t))
 *				  * idf_t
 *		idf_t = log(N) - log1p(df_t)
 * where N = number of documents (docs->n_rows), df_t = stored entries of
 * term t, len_d = sum of document d's weights, avg_len = mean len_d over
 * all N documents (empty ones included).
 *
 * implicit's BM25Recommender.fit(user_items) weights user_items.T, that is
 * documents = items and terms = users: pass docs = Rt (items x users),
 * docs_t = R.  (So idf is per user, log(n_items) - log1p(items of the
 * user), and the length normalisation is per item.)  Passing docs = R
 * instead gives the textbook orientation, documents = users.
 *
 * docs_t is the transpose of docs.  docs_data (docs->nnz floats) and
 * docs_t_data (docs_t->nnz) receive the weights aligned with docs->data and
 * docs_t->data, bit-identical for each (d, t); either may be NULL.  The
 * arithmetic is in double.  scratch holds rs_bm25_scratch_count(docs)
 * doubles.  O(nnz).  Returns RS_KNN_OK or RS_KNN_ERR_ARGUMENT (k1 < 0, b
 * outside [0, 1], mismatched shapes).
 */
extern int	rs_bm25_weight(const RsCsr *docs, const RsCsr *docs_t,
						   float k1, float b, double *scratch,
						   float *docs_data, float *docs_t_data);

/*
 * rs_bm25_weight on nthreads threads: the same weights, bit for bit (each
 * is one expression of its own inputs; the total length is summed in
 * document order).  Returns RS_KNN_ERR_THREAD if a thread could not be
 * created (the weights are still complete).
 */
extern int	rs_bm25_weight_threads(const RsCsr *docs, const RsCsr *docs_t,
								   float k1, float b, int nthreads,
								   double *scratch, float *docs_data,
								   float *docs_t_data);

/* Doubles of scratch rs_bm25_weight needs: docs->n_rows + docs->n_cols. */
extern size_t rs_bm25_scratch_count(const RsCsr *docs);

/*
 * Item-kNN scoring for one user (the `implicit` library's ItemItemRecommender
 * scoring): scores[j] += w_i * sim(i, j) over the user's n items i (weights
 * NULL means 1) and the neighbours j of each, from a table of n_items rows of
 * k slots as rs_knn_build writes it.  scores (n_items floats) must be zero
 * except at entries already in touched; each j whose score was zero before
 * the addition is appended to touched, which needs room for n * k more
 * entries.  Returns the new number of touched entries, or RS_KNN_ERR_ARGUMENT
 * for an item index outside [0, n_items).  O(n k).
 */
extern int64_t rs_knn_accumulate_scores(const int32_t *items,
										const float *weights, int64_t n,
										const int32_t *nbr, const float *sim,
										const int32_t *count, int k,
										int32_t n_items, float *scores,
										int32_t *touched, int64_t n_touched);

/*
 * The best top_n of the touched entries of scores (highest score first,
 * ties to the smaller index), skipping zero and NaN scores and the items
 * set in the exclude bitmap (NULL for none; the layout of score.h's
 * RS_BITMAP_BYTES).  Resets every touched entry of scores to zero, ready
 * for the next user.  Returns how many were written to out_idx/out_score.
 */
extern int	rs_knn_topk_touched(float *scores, const int32_t *touched,
								int64_t n_touched, const uint8_t *exclude,
								int top_n, int32_t *out_idx,
								float *out_score);

#endif							/* RECSYS_KERNEL_KNN_H */
