/*
 * knn_kernel_variant.c
 *		src/kernel/knn.c built again as it selected up to 0.9.0 (every
 *		candidate buffered in order, KNN_SELECT_HISTOGRAM 0), its exported
 *		names prefixed with s8_, so that knn_kernel_bench.c times both in
 *		one run.  Not part of recsys.so.
 */
#define KNN_SELECT_HISTOGRAM 0
#define rs_knn_strerror s8_rs_knn_strerror
#define rs_knn_row_norms s8_rs_knn_row_norms
#define rs_knn_row_work s8_rs_knn_row_work
#define rs_knn_workspace_bytes s8_rs_knn_workspace_bytes
#define rs_knn_build s8_rs_knn_build
#define rs_bm25_weight s8_rs_bm25_weight
#define rs_bm25_weight_threads s8_rs_bm25_weight_threads
#define rs_bm25_scratch_count s8_rs_bm25_scratch_count
#define rs_knn_accumulate_scores s8_rs_knn_accumulate_scores
#define rs_knn_topk_touched s8_rs_knn_topk_touched

#include "knn.c"
