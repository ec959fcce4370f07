/*-------------------------------------------------------------------------
 *
 * knn.c
 *		Neighbourhood kernels: sparse top-K similar rows (item-item and
 *		user-user), BM25 weighting, item-kNN scoring.  See knn.h for the
 *		definitions and the calling conventions.
 *
 * Accumulation.  Row a's dot products with every other row are one row of
 * A At, computed by the row-by-row sparse product of Gustavson ("Two fast
 * algorithms for sparse matrices: multiplication and permuted
 * transposition", ACM TOMS 4(3), 1978), the scheme of SMMP and of the
 * `implicit` library's all_pairs_knn: for each column c of row a, for each
 * row b of column c, acc[b] += A[a,c] A[b,c], into a dense accumulator of
 * n_rows floats per thread.  Over all rows that is sum_c |c|^2
 * scatter-adds (8.3e8 for 1M users x 100K items x 19.4M entries): popular
 * items co-occur with nearly every item and `implicit` computes the full
 * product too, so the work is kept and made cheap instead.  The
 * accumulator (400 kB for 100,000 items) stays in a core's L2; the rows
 * of At are scattered over memory, so each is prefetched (every cache
 * line of it) a few columns ahead, since the columns of a are known.
 *
 * Two accumulation modes, chosen per row from its exact number of
 * scatter-adds, counted before starting:
 *	- sparse (fewer scatter-adds than n_rows / 2): the loop also records
 *	  each index it touches first (branch-free), and only those entries are
 *	  examined and cleared;
 *	- dense (a popular item touching most of the accumulator): recording
 *	  would cost more than sweeping the accumulator afterwards, with a
 *	  vectorised pre-filter that drops the entries that cannot beat the
 *	  current K-th best (select_dense).
 * Every similarity is computed by one expression (candidate_sim), and the
 * accumulation order (columns of a ascending, then rows of c ascending) is
 * the same in both modes, so the mode never changes a result bit.
 *
 * Selection.  Candidates that rank after a threshold are dropped with one
 * comparison; the others are buffered, and a full buffer (4K + 60) is cut
 * back to its best K by quickselect (Hoare's FIND), its K-th entry
 * becoming the threshold; the K survivors are finally sorted.  Linear on
 * average, where a size-K heap pays O(log K) per entry that enters it.
 * A sparse row with more candidates than the buffer holds (most rows of a
 * large catalogue: on synth.py's set, 1,900 on average) first
 * computes every similarity with a histogram of its top bits; candidates
 * below the bucket of the K-th best cannot be among the K best and are
 * never buffered (select_sparse: 54M buffered candidates and 102K cuts
 * became 17.5M and 7K there).  The ranking is a total order (similarity
 * descending, index ascending), so the K best are one set whatever order
 * the candidates come in and whatever was skipped below the K-th.
 *
 * Threads take a few rows at a time from atomic counters, long rows
 * (popular items, up to thousands of times the average cost) first so
 * that a call does not end with one thread alone on a long row; a row is
 * computed by one thread only, so nthreads and the chunking cannot change
 * the results.  BM25 weights and the rows' costs (rs_knn_row_work) are
 * loops of independent iterations on the threads too.
 *
 * Where the time went before the histogram (perf, one thread, synth.py's
 * set, helpers not inlined): the scatter-adds about 63% of the kernel,
 * bound by gathering the users' rows of At from memory (155 MB, rows of
 * 43 entries on average weighted by their use); the selection about 30%
 * (its quickselect partitions alone 14%).
 *
 * On shared/bench/synth.py's model at full size (1M users, 100K items,
 * 19.4M entries), BM25 with K = 100 takes about 4.7 s at 1 thread and
 * 2.5 s at 2 threads on a 2-core VM, against 12.2 s at 2 threads for
 * `implicit` (test/bench/knn_kernel_bench.c has the figures).
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "knn.h"
#include "threads.h"
#include "topk.h"

/* Vectors only reach always-inline helpers: the ABI notes are moot. */
#pragma GCC diagnostic ignored "-Wpsabi"

#define RS_INLINE static inline __attribute__((always_inline))

/* Rows handed to a thread at a time (rows are costly and uneven). */
#define ROWS_PER_GRAB		4
/* Range scanned for long rows at a time (most of it is skipped). */
#define LONG_ROWS_PER_GRAB	64
/* A row is scheduled first when its length reaches n_rows / this. */
#define LONG_ROW_DIVISOR	64
/* Software prefetch distance, in columns of row a, for the rows of At. */
#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD		8
#endif
/*
 * 1: a sparse row with many candidates is selected through a histogram
 * (select_sparse); 0: every candidate is buffered in order, as up to
 * 0.9.0 (test/bench/knn_kernel_variant.c builds it, for comparison).
 */
#ifndef KNN_SELECT_HISTOGRAM
#define KNN_SELECT_HISTOGRAM 1
#endif
/* A row goes dense when its scatter-adds reach n_rows / DENSE_DIVISOR. */
#define DENSE_DIVISOR		2

/* Round n up to a multiple of m. */
#define ROUND_UP(n, m)		((((n) + (m) - 1) / (m)) * (m))

/* How a row accumulates: weighted dot, unit counts, or both. */
typedef enum KnnMode
{
	MODE_DOT,					/* acc[b] += A[a,c] A[b,c] */
	MODE_COUNT,					/* acc[b] += 1 (Jaccard) */
	MODE_DOT_COUNT				/* both, cnt[b] += 1 (support shrinkage) */
} KnnMode;

/* Everything one rs_knn_build call shares between threads (read-only). */
typedef struct KnnCtx
{
	const RsCsr *A;
	const RsCsr *At;
	const float *norms;
	RsKnnKind	kind;
	KnnMode		mode;
	int			k;
	float		shrink;
	float		support_shrink;
	const int64_t *row_work;	/* per row of A, or NULL */
	int32_t		begin;			/* first row of the call: output offset */
	int32_t    *nbr;
	float	   *sim;
	int32_t    *count;
} KnnCtx;

/* One thread's scratch, carved out of the caller's workspace. */
typedef struct KnnScratch
{
	float	   *acc;			/* n_rows, zero between rows */
	float	   *cnt;			/* n_rows, zero between rows (MODE_DOT_COUNT) */
	int32_t    *touched;		/* n_rows + 1 */
	float	   *cand_sim;		/* n_rows: a sparse row's similarities */
	uint32_t   *hist;			/* HIST_BUCKETS, zero between rows */
	int32_t    *best_idx;		/* select_cap(k) candidates */
	float	   *best_sim;		/* select_cap(k) */
} KnnScratch;

/* Buckets of the similarity histogram: the top 11 bits of sim_key. */
#define HIST_SHIFT			21
#define HIST_BUCKETS		(1 << (32 - HIST_SHIFT))

/* Candidates buffered before they are cut back to the best k. */
static inline int64_t
select_cap(int k)
{
	return 4 * (int64_t) k + 60;
}

/* Bytes of one thread's scratch, each array 64-byte aligned. */
static size_t
scratch_bytes(int32_t n, int k, KnnMode mode)
{
	size_t		bytes = 0;

	bytes += ROUND_UP(sizeof(float) * (size_t) n, 64);	/* acc */
	if (mode == MODE_DOT_COUNT)
		bytes += ROUND_UP(sizeof(float) * (size_t) n, 64);	/* cnt */
	bytes += ROUND_UP(sizeof(int32_t) * ((size_t) n + 1), 64);	/* touched */
	bytes += ROUND_UP(sizeof(float) * (size_t) n, 64);	/* cand_sim */
	bytes += ROUND_UP(sizeof(uint32_t) * HIST_BUCKETS, 64);	/* hist */
	bytes += ROUND_UP(sizeof(int32_t) * (size_t) select_cap(k), 64);
	bytes += ROUND_UP(sizeof(float) * (size_t) select_cap(k), 64);
	return bytes;
}

/* Lay out one thread's scratch at base (64-byte aligned) and zero the accumulators. */
static void
scratch_init(KnnScratch *s, char *base, int32_t n, int k, KnnMode mode)
{
	s->acc = (float *) base;
	base += ROUND_UP(sizeof(float) * (size_t) n, 64);
	s->cnt = NULL;
	if (mode == MODE_DOT_COUNT)
	{
		s->cnt = (float *) base;
		base += ROUND_UP(sizeof(float) * (size_t) n, 64);
	}
	s->touched = (int32_t *) base;
	base += ROUND_UP(sizeof(int32_t) * ((size_t) n + 1), 64);
	s->cand_sim = (float *) base;
	base += ROUND_UP(sizeof(float) * (size_t) n, 64);
	s->hist = (uint32_t *) base;
	base += ROUND_UP(sizeof(uint32_t) * HIST_BUCKETS, 64);
	s->best_idx = (int32_t *) base;
	base += ROUND_UP(sizeof(int32_t) * (size_t) select_cap(k), 64);
	s->best_sim = (float *) base;

	/* the caller's memory is not assumed zero; each call clears its own */
	memset(s->acc, 0, sizeof(float) * (size_t) n);
	memset(s->hist, 0, sizeof(uint32_t) * HIST_BUCKETS);
	if (s->cnt)
		memset(s->cnt, 0, sizeof(float) * (size_t) n);
}

/* Mode a kind and its parameters need. */
static KnnMode
knn_mode(const RsKnnParams *params)
{
	if (params->kind == RS_KNN_JACCARD)
		return MODE_COUNT;		/* n_ab is the accumulator itself */
	if (params->support_shrink > 0.0f)
		return MODE_DOT_COUNT;
	return MODE_DOT;
}

/* ----------------------------------------------------------------------
 * Ranking: (similarity descending, index ascending), as in topk.h (whose
 * bounded heap serving uses), sorting and quickselect.
 * ----------------------------------------------------------------------
 */

/* The ranking of topk.h, which the sorts and quickselect below share. */
#define ranks_before rs_topk_ranks_before

/* Sort n entries best first: insertion sort for short runs. */
static void
insertion_sort_best_first(int32_t *idx, float *val, int64_t n)
{
	for (int64_t i = 1; i < n; i++)
	{
		float		v = val[i];
		int32_t		x = idx[i];
		int64_t		j = i;

		while (j > 0 && ranks_before(v, x, val[j - 1], idx[j - 1]))
		{
			val[j] = val[j - 1];
			idx[j] = idx[j - 1];
			j--;
		}
		val[j] = v;
		idx[j] = x;
	}
}

/*
 * Hoare's partition of (idx, val)[*i .. *j] around the pivot (pv, pi),
 * which stands in that range: on return [start, *j] ranks no later than
 * the pivot, [*i, end] no earlier, and *j < *i.  Shared by the quicksort
 * and the quickselect below.
 */
RS_INLINE void
partition_around(int32_t *idx, float *val, float pv, int32_t pi,
				 int64_t *i_io, int64_t *j_io)
{
	int64_t		i = *i_io,
				j = *j_io;

	do
	{
		while (ranks_before(val[i], idx[i], pv, pi))
			i++;
		while (ranks_before(pv, pi, val[j], idx[j]))
			j--;
		if (i <= j)
		{
			float		tv = val[i];
			int32_t		ti = idx[i];

			val[i] = val[j];
			idx[i] = idx[j];
			val[j] = tv;
			idx[j] = ti;
			i++;
			j--;
		}
	} while (i <= j);
	*i_io = i;
	*j_io = j;
}

/* Sort n entries best first: quicksort (middle pivot), insertion sort below 16. */
static void
sort_best_first(int32_t *idx, float *val, int64_t n)
{
	while (n > 16)
	{
		float		pv = val[n / 2];
		int32_t		pi = idx[n / 2];
		int64_t		i = 0,
					j = n - 1;

		partition_around(idx, val, pv, pi, &i, &j);
		/* [0, j] ranks before [i, n); recurse on the smaller side */
		if (j + 1 < n - i)
		{
			sort_best_first(idx, val, j + 1);
			idx += i;
			val += i;
			n -= i;
		}
		else
		{
			sort_best_first(idx + i, val + i, n - i);
			n = j + 1;
		}
	}
	insertion_sort_best_first(idx, val, n);
}

/*
 * Reorder (idx, val)[0..n) so that the k best (k <= n) come first, with
 * the k-th best at position k - 1: Hoare's FIND (quickselect), with the
 * partition of Wirth ("Algorithms + Data Structures = Programs", 1976) and
 * a median-of-three pivot.  Keys (val, idx) are distinct, so the k best
 * are a unique set whatever the input order.
 */
static void
select_best(int32_t *idx, float *val, int64_t n, int64_t k)
{
	int64_t		lo = 0,
				hi = n - 1,
				target = k - 1;

	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;
		int64_t		piv = mid;
		float		pv;
		int32_t		pi;
		int64_t		i = lo,
					j = hi;

		/* median of lo, mid, hi under the ranking */
		if (ranks_before(val[lo], idx[lo], val[mid], idx[mid]))
		{
			if (ranks_before(val[mid], idx[mid], val[hi], idx[hi]))
				piv = mid;
			else if (ranks_before(val[lo], idx[lo], val[hi], idx[hi]))
				piv = hi;
			else
				piv = lo;
		}
		else
		{
			if (ranks_before(val[lo], idx[lo], val[hi], idx[hi]))
				piv = lo;
			else if (ranks_before(val[mid], idx[mid], val[hi], idx[hi]))
				piv = hi;
			else
				piv = mid;
		}
		pv = val[piv];
		pi = idx[piv];

		partition_around(idx, val, pv, pi, &i, &j);
		if (j < target)
			lo = i;
		if (target < i)
			hi = j;
	}
}

/* ----------------------------------------------------------------------
 * One row
 * ----------------------------------------------------------------------
 */

/*
 * Accumulate row a's dot products (and/or counts) over all rows of A.
 * With track, every index touched while its accumulator entry is zero is
 * appended to touched (branch-free: the slot is always written, the count
 * only advances on a first touch); returns how many.  In MODE_DOT an entry
 * can return to zero by cancellation and be appended twice; the selection
 * reads and clears an entry once, so the copy is then seen as zero.
 */
RS_INLINE int64_t
accumulate_row(const RsCsr *A, const RsCsr *At, int32_t a, KnnScratch *s,
			   const KnnMode mode, const bool track)
{
	const int64_t *at_ptr = At->indptr;
	const int32_t *at_ind = At->indices;
	const float *at_dat = At->data;
	const int32_t *a_ind = A->indices;
	const float *a_dat = A->data;
	float	   *acc = s->acc;
	float	   *cnt = s->cnt;
	int32_t    *touched = s->touched;
	int64_t		p0 = A->indptr[a];
	int64_t		p1 = A->indptr[a + 1];
	int64_t		nt = 0;

	for (int64_t p = p0; p < p1; p++)
	{
		int32_t		c = a_ind[p];
		int64_t		q0 = at_ptr[c];
		int64_t		q1 = at_ptr[c + 1];

		/*
		 * The rows of At are scattered over memory: fetch the offsets two
		 * distances ahead, and the entries one distance ahead, so that both
		 * misses overlap the work on the current column.
		 */
		if (p + 2 * PREFETCH_AHEAD < p1)
			__builtin_prefetch(&at_ptr[a_ind[p + 2 * PREFETCH_AHEAD]]);
		if (p + PREFETCH_AHEAD < p1)
		{
			int32_t		cf = a_ind[p + PREFETCH_AHEAD];
			int64_t		qf = at_ptr[cf];
			int64_t		qe = at_ptr[cf + 1];

			/* every cache line of the row, not just the first */
			for (int64_t q = qf; q < qe; q += 16)
			{
				__builtin_prefetch(&at_ind[q]);
				if (mode != MODE_COUNT)
					__builtin_prefetch(&at_dat[q]);
			}
			if (qe > qf)
			{
				__builtin_prefetch(&at_ind[qe - 1]);
				if (mode != MODE_COUNT)
					__builtin_prefetch(&at_dat[qe - 1]);
			}
		}

		if (mode == MODE_COUNT)
		{
			for (int64_t q = q0; q < q1; q++)
			{
				int32_t		b = at_ind[q];

				if (track)
				{
					touched[nt] = b;
					nt += acc[b] == 0.0f;
				}
				acc[b] += 1.0f;
			}
		}
		else if (mode == MODE_DOT)
		{
			float		w = a_dat[p];

			for (int64_t q = q0; q < q1; q++)
			{
				int32_t		b = at_ind[q];

				if (track)
				{
					touched[nt] = b;
					nt += acc[b] == 0.0f;
				}
				acc[b] += w * at_dat[q];
			}
		}
		else
		{
			float		w = a_dat[p];

			for (int64_t q = q0; q < q1; q++)
			{
				int32_t		b = at_ind[q];

				if (track)
				{
					touched[nt] = b;
					nt += cnt[b] == 0.0f;
				}
				acc[b] += w * at_dat[q];
				cnt[b] += 1.0f;
			}
		}
	}
	return nt;
}

/* Selection state of one row, carried across batches of candidates. */
typedef struct KnnSelect
{
	int64_t		size;			/* candidates buffered in best_idx/best_sim */
	bool		have_thr;		/* whether the buffer has been cut yet */
	float		thr_val;		/* after a cut: the K-th best kept ... */
	int32_t		thr_idx;		/* ... which a new candidate must beat */
} KnnSelect;

/*
 * Row a's similarity with row b from the accumulator, which is cleared;
 * false when b is no candidate (a zero dot product or count, b == a, or
 * NaN).  This is the only place a similarity is computed, whatever the
 * accumulation mode and the selection.
 */
RS_INLINE bool
candidate_sim(const KnnCtx *ctx, int32_t a, KnnScratch *s, int32_t b,
			  float norm_a, float len_a, const RsKnnKind kind,
			  const KnnMode mode, float *out)
{
	const int64_t *a_ptr = ctx->A->indptr;
	float		v = s->acc[b];
	float		n_ab = 0.0f;
	float		sim;

	s->acc[b] = 0.0f;
	if (mode == MODE_DOT_COUNT)
	{
		n_ab = s->cnt[b];
		s->cnt[b] = 0.0f;
	}
	if (v == 0.0f || b == a)
		return false;

	if (kind == RS_KNN_COSINE)
		sim = v / (norm_a * ctx->norms[b] + ctx->shrink);
	else if (kind == RS_KNN_JACCARD)
		sim = v / (len_a + (float) (a_ptr[b + 1] - a_ptr[b]) - v);
	else
		sim = v;
	if (mode == MODE_COUNT)
		n_ab = v;
	if (ctx->support_shrink > 0.0f)
		sim = sim * (n_ab / (n_ab + ctx->support_shrink));

	/* NaN (non-finite input) never qualifies */
	*out = sim;
	return sim == sim;
}

/*
 * Buffer candidate (b, sim) of a row unless it ranks after the threshold.
 * Candidates that rank after it are dropped with one comparison; a full
 * buffer is cut back to its best K by quickselect, whose K-th entry
 * becomes the threshold.  That is linear on average, where a heap would
 * pay O(log K) for every entry that enters it (many, when candidates come
 * in index order).
 */
RS_INLINE void
buffer_candidate(KnnScratch *s, KnnSelect *st, int k, int32_t b, float sim)
{
	if (st->have_thr && !ranks_before(sim, b, st->thr_val, st->thr_idx))
		return;
	s->best_idx[st->size] = b;
	s->best_sim[st->size] = sim;
	if (++st->size == select_cap(k))
	{
		select_best(s->best_idx, s->best_sim, st->size, k);
		st->size = k;
		st->thr_val = s->best_sim[k - 1];
		st->thr_idx = s->best_idx[k - 1];
		st->have_thr = true;
	}
}

/* Score the candidates touched[0..nt) of row a and buffer the best. */
RS_INLINE void
select_batch(const KnnCtx *ctx, int32_t a, KnnScratch *s, KnnSelect *st,
			 const int32_t *touched, int64_t nt,
			 const RsKnnKind kind, const KnnMode mode)
{
	float		norm_a = kind == RS_KNN_COSINE ? ctx->norms[a] : 0.0f;
	float		len_a = (float) (ctx->A->indptr[a + 1] - ctx->A->indptr[a]);

	for (int64_t t = 0; t < nt; t++)
	{
		int32_t		b = touched[t];
		float		sim;

		if (candidate_sim(ctx, a, s, b, norm_a, len_a, kind, mode, &sim))
			buffer_candidate(s, st, ctx->k, b, sim);
	}
}

/*
 * A key whose unsigned order is the order of the (non-NaN) similarities:
 * the sign bit flipped for positive floats, every bit for negative ones.
 * Equal floats get equal keys (-0 is read as +0).
 */
RS_INLINE uint32_t
sim_key(float sim)
{
	uint32_t	u;

	if (sim == 0.0f)
		sim = 0.0f;
	memcpy(&u, &sim, sizeof(u));
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/*
 * The candidates touched[0..nt) of a sparse row with many of them.  Buffering
 * them in order keeps the first select_cap(k) whatever their similarity
 * and cuts the buffer at least once.  Here every similarity is computed
 * first (into cand_sim, the indices compacted into touched) with a
 * histogram of the top bits of sim_key: the bucket where the count from
 * the top reaches K holds the K-th best, so nothing below that bucket can
 * be among the K best and only the candidates from that bucket up (K and
 * part of one bucket, typically) are buffered.  The buffer and its
 * ranking decide as before, so the result is the same set.
 */
RS_INLINE void
select_sparse(const KnnCtx *ctx, int32_t a, KnnScratch *s, KnnSelect *st,
			  int64_t nt, const RsKnnKind kind, const KnnMode mode)
{
	int32_t    *touched = s->touched;
	float	   *cand = s->cand_sim;
	uint32_t   *hist = s->hist;
	float		norm_a = kind == RS_KNN_COSINE ? ctx->norms[a] : 0.0f;
	float		len_a = (float) (ctx->A->indptr[a + 1] - ctx->A->indptr[a]);
	int			k = ctx->k;
	int64_t		m = 0;
	int64_t		above = 0;
	uint32_t	low_key;
	int			bucket = HIST_BUCKETS;

	if (!KNN_SELECT_HISTOGRAM || nt <= select_cap(k))
	{
		select_batch(ctx, a, s, st, touched, nt, kind, mode);
		return;
	}

	/* every similarity, and how many fall in each bucket */
	for (int64_t t = 0; t < nt; t++)
	{
		int32_t		b = touched[t];
		float		sim;

		if (!candidate_sim(ctx, a, s, b, norm_a, len_a, kind, mode, &sim))
			continue;
		touched[m] = b;
		cand[m] = sim;
		hist[sim_key(sim) >> HIST_SHIFT]++;
		m++;
	}

	/* the bucket of the K-th best (the lowest one if fewer than K) */
	while (bucket > 0 && above < k)
		above += hist[--bucket];
	low_key = (uint32_t) bucket << HIST_SHIFT;
	memset(hist, 0, sizeof(uint32_t) * HIST_BUCKETS);

	for (int64_t t = 0; t < m; t++)
		if (sim_key(cand[t]) >= low_key)
			buffer_candidate(s, st, k, touched[t], cand[t]);
}

/* Cut the buffer to the best K and sort it best first; returns the count. */
static int
select_finish(KnnScratch *s, KnnSelect *st, int k)
{
	if (st->size > k)
	{
		select_best(s->best_idx, s->best_sim, st->size, k);
		st->size = k;
	}
	sort_best_first(s->best_idx, s->best_sim, st->size);
	return (int) st->size;
}

/*
 * Four floats: one SSE2 or NEON register, so that the pre-filter is
 * vector code at PGXS's plain -O2 (wider vectors without -mavx would be
 * split lane by lane through memory).
 */
typedef float KnnVec __attribute__((vector_size(16)));
typedef int32_t KnnVecI __attribute__((vector_size(16)));

#define KNN_VLEN	4

/* Whether any lane of a comparison result is set. */
RS_INLINE bool
vec_any(const KnnVecI *m)
{
	uint64_t	w[2];

	memcpy(w, m, sizeof(w));
	return (w[0] | w[1]) != 0;
}

/* Entries of the accumulator examined per batch in a dense row. */
#define DENSE_SEGMENT		256

/*
 * The candidates of a dense row: sweep the whole accumulator in segments,
 * clearing it, and pass each segment's possible candidates to
 * select_batch.  Once a threshold exists, a vectorised pre-filter drops
 * the entries that cannot beat it, using a bound that errs on the side of
 * keeping (relative margin 1e-5, far above float rounding); the kept ones
 * are decided by select_batch's exact expression as in a sparse row, so
 * the pre-filter changes the speed, never the result.  Bounds, for a
 * threshold thr > 0 (none is used otherwise):
 *	cosine:  sim <= v / (|a||b| + shrink)    so need v >= thr (|a||b| + shrink)
 *	jaccard: sim = v / (#a + #b - v) <= v / #a   so need v >= thr #a
 *	dot:     sim <= v
 * and the support factor n / (n + s) <= 1 only lowers a positive sim.
 */
RS_INLINE void
select_dense(const KnnCtx *ctx, int32_t a, KnnScratch *s, KnnSelect *st,
			 const RsKnnKind kind, const KnnMode mode)
{
	int32_t		n = ctx->A->n_rows;
	float	   *acc = s->acc;
	float	   *cnt = s->cnt;
	int32_t    *touched = s->touched;
	const float *norms = ctx->norms;
	const float margin = 1.0f - 1e-5f;
	const KnnVec zero = {0};
	float		norm_a = kind == RS_KNN_COSINE ? norms[a] : 0.0f;
	float		len_a = (float) (ctx->A->indptr[a + 1] - ctx->A->indptr[a]);

	for (int32_t seg = 0; seg < n; seg += DENSE_SEGMENT)
	{
		int32_t		seg_end = seg + DENSE_SEGMENT < n ? seg + DENSE_SEGMENT : n;
		int32_t		b = seg;
		int64_t		nt = 0;

		if (st->have_thr && st->thr_val > 0.0f)
		{
			float		thr = st->thr_val;
			KnnVec		thr_v = {0};
			KnnVec		bound_v;

			for (int l = 0; l < KNN_VLEN; l++)
				thr_v[l] = thr;
			bound_v = thr_v * margin;
			if (kind == RS_KNN_JACCARD)
				bound_v = bound_v * len_a;

			for (; b + KNN_VLEN <= seg_end; b += KNN_VLEN)
			{
				KnnVec		v;
				KnnVecI		pass;

				memcpy(&v, acc + b, sizeof(v));
				if (kind == RS_KNN_COSINE)
				{
					KnnVec		nb;
					KnnVec		den;

					memcpy(&nb, norms + b, sizeof(nb));
					den = nb * norm_a + ctx->shrink;
					pass = (v > zero) & (v >= bound_v * den);
				}
				else
					pass = (v > zero) & (v >= bound_v);

				if (vec_any(&pass))
				{
					for (int l = 0; l < KNN_VLEN; l++)
					{
						if (pass[l])
							touched[nt++] = b + l;
						else
						{
							acc[b + l] = 0.0f;
							if (mode == MODE_DOT_COUNT)
								cnt[b + l] = 0.0f;
						}
					}
				}
				else
				{
					memcpy(acc + b, &zero, sizeof(zero));
					if (mode == MODE_DOT_COUNT)
						memcpy(cnt + b, &zero, sizeof(zero));
				}
			}
		}
		/* no usable threshold yet, or the segment's tail: every entry */
		for (; b < seg_end; b++)
		{
			touched[nt] = b;
			nt += acc[b] != 0.0f || (mode == MODE_DOT_COUNT && cnt[b] != 0.0f);
		}
		select_batch(ctx, a, s, st, touched, nt, kind, mode);
	}
}

/* Compute one row's neighbours into the output arrays. */
RS_INLINE void
knn_row(const KnnCtx *ctx, int32_t a, KnnScratch *s,
		const RsKnnKind kind, const KnnMode mode)
{
	const RsCsr *A = ctx->A;
	const int64_t *at_ptr = ctx->At->indptr;
	int32_t		n = A->n_rows;
	int64_t		work = 0;
	int			kept;
	int			k = ctx->k;
	size_t		out = (size_t) (a - ctx->begin) * (size_t) k;
	KnnSelect	st = {0, false, 0.0f, 0};

	/* exact number of scatter-adds this row will do */
	if (ctx->row_work)
		work = ctx->row_work[a];
	else
		for (int64_t p = A->indptr[a]; p < A->indptr[a + 1]; p++)
		{
			int32_t		c = A->indices[p];

			work += at_ptr[c + 1] - at_ptr[c];
		}

	if (work * DENSE_DIVISOR < (int64_t) n)
	{
		/* sparse: fewer than n first touches, plus the one spare slot */
		int64_t		nt = accumulate_row(A, ctx->At, a, s, mode, true);

		select_sparse(ctx, a, s, &st, nt, kind, mode);
	}
	else
	{
		accumulate_row(A, ctx->At, a, s, mode, false);
		select_dense(ctx, a, s, &st, kind, mode);
	}

	kept = select_finish(s, &st, k);
	for (int t = 0; t < kept; t++)
	{
		ctx->nbr[out + t] = s->best_idx[t];
		ctx->sim[out + t] = s->best_sim[t];
	}
	for (int t = kept; t < k; t++)
	{
		ctx->nbr[out + t] = -1;
		ctx->sim[out + t] = 0.0f;
	}
	ctx->count[a - ctx->begin] = kept;
}

/*
 * Whether row a is long enough to be scheduled first.  Long rows (popular
 * items) cost up to thousands of times the average; handing them out
 * before the others means a call never ends with one thread still busy on
 * a long row while the others wait.  The row length stands in for the
 * work, since this decides the order only, never a result.
 */
RS_INLINE bool
row_is_long(const KnnCtx *ctx, int32_t a)
{
	const int64_t *ptr = ctx->A->indptr;

	return (ptr[a + 1] - ptr[a]) * LONG_ROW_DIVISOR >= (int64_t) ctx->A->n_rows;
}

/* Which rows of a range a pass computes. */
typedef enum KnnPass
{
	PASS_ALL,
	PASS_LONG,
	PASS_SHORT
} KnnPass;

/* Rows [begin, end) of a pass, with the kind and mode as compile-time constants. */
RS_INLINE void
knn_rows_impl(const KnnCtx *ctx, int32_t begin, int32_t end, KnnPass pass,
			  KnnScratch *s, const RsKnnKind kind, const KnnMode mode)
{
	for (int32_t a = begin; a < end; a++)
	{
		if (pass != PASS_ALL && row_is_long(ctx, a) != (pass == PASS_LONG))
			continue;
		knn_row(ctx, a, s, kind, mode);
	}
}

/* Rows [begin, end) of a pass: dispatch to the specialised instance. */
static void
knn_rows(const KnnCtx *ctx, int32_t begin, int32_t end, KnnPass pass,
		 KnnScratch *s)
{
	switch (ctx->kind)
	{
		case RS_KNN_COSINE:
			if (ctx->mode == MODE_DOT_COUNT)
				knn_rows_impl(ctx, begin, end, pass, s, RS_KNN_COSINE, MODE_DOT_COUNT);
			else
				knn_rows_impl(ctx, begin, end, pass, s, RS_KNN_COSINE, MODE_DOT);
			break;
		case RS_KNN_DOT:
			if (ctx->mode == MODE_DOT_COUNT)
				knn_rows_impl(ctx, begin, end, pass, s, RS_KNN_DOT, MODE_DOT_COUNT);
			else
				knn_rows_impl(ctx, begin, end, pass, s, RS_KNN_DOT, MODE_DOT);
			break;
		case RS_KNN_JACCARD:
			knn_rows_impl(ctx, begin, end, pass, s, RS_KNN_JACCARD, MODE_COUNT);
			break;
	}
}

/* ----------------------------------------------------------------------
 * Threads
 * ----------------------------------------------------------------------
 */

/* Shared state of one parallel call. */
typedef struct KnnParallel
{
	const KnnCtx *ctx;
	int64_t		next_long;		/* atomic: next row of the long-row pass */
	int64_t		next_short;		/* atomic: next row of the short-row pass */
	int64_t		end_row;
} KnnParallel;

/* One worker: the shared state and its own scratch. */
typedef struct KnnWorker
{
	KnnParallel *par;
	char	   *base;
} KnnWorker;

/* Take a few rows at a time, long rows first, until none are left. */
static void *
knn_worker_main(void *arg)
{
	KnnWorker  *worker = (KnnWorker *) arg;
	KnnParallel *par = worker->par;
	const KnnCtx *ctx = par->ctx;
	KnnScratch	s;

	scratch_init(&s, worker->base, ctx->A->n_rows, ctx->k, ctx->mode);
	for (int p = 0; p < 2; p++)
	{
		int64_t    *next = p == 0 ? &par->next_long : &par->next_short;
		KnnPass		pass = p == 0 ? PASS_LONG : PASS_SHORT;
		/* long rows are few: take them one range at a time */
		int64_t		grab = p == 0 ? LONG_ROWS_PER_GRAB : ROWS_PER_GRAB;

		int64_t		begin;
		int64_t		end;

		while (rs_threads_grab(next, grab, par->end_row, &begin, &end))
			knn_rows(ctx, (int32_t) begin, (int32_t) end, pass, &s);
	}
	return NULL;
}

/*
 * A loop over [0, end) whose iterations are independent, shared by
 * threads in grabs: each iteration is computed by one thread by the same
 * expression, so the results do not depend on the thread count.
 */
typedef struct KnnLoop
{
	void		(*body) (const struct KnnLoop *loop, int64_t begin, int64_t end);
	int64_t		next;			/* atomic */
	int64_t		end;
	int64_t		grab;
	const RsCsr *x;				/* the body's inputs and outputs */
	const RsCsr *y;
	double	   *kn;				/* BM25: per document */
	const double *idf;			/* BM25: per term */
	double		kp1;			/* BM25: K1 + 1 */
	float	   *out;
	int64_t    *work;
} KnnLoop;

static void *
knn_loop_worker(void *arg)
{
	KnnLoop    *loop = *(KnnLoop **) arg;
	int64_t		begin;
	int64_t		end;

	while (rs_threads_grab(&loop->next, loop->grab, loop->end, &begin, &end))
		loop->body(loop, begin, end);
	return NULL;
}

/* Run loop on nthreads threads; false if a thread could not be created. */
static bool
knn_loop_run(KnnLoop *loop, int nthreads)
{
	KnnLoop    *args[RS_KNN_MAX_THREADS];

	if (nthreads > RS_KNN_MAX_THREADS)
		nthreads = RS_KNN_MAX_THREADS;
	/* a few thousand grabs in all: small enough to balance */
	loop->grab = loop->end / 4096 + 1;
	loop->next = 0;
	if (nthreads <= 1 || loop->end < 4096)
	{
		loop->body(loop, 0, loop->end);
		return true;
	}
	for (int t = 0; t < nthreads; t++)
		args[t] = loop;
	return rs_threads_run(nthreads, knn_loop_worker, args, sizeof(KnnLoop *)) == RS_THREADS_OK;
}

/* Rows [begin, end) of rs_knn_row_work: x = A, y = At. */
static void
row_work_body(const KnnLoop *loop, int64_t begin, int64_t end)
{
	const int64_t *a_ptr = loop->x->indptr;
	const int32_t *a_ind = loop->x->indices;
	const int64_t *at_ptr = loop->y->indptr;

	for (int64_t a = begin; a < end; a++)
	{
		int64_t		work = 0;

		for (int64_t p = a_ptr[a]; p < a_ptr[a + 1]; p++)
			work += at_ptr[a_ind[p] + 1] - at_ptr[a_ind[p]];
		loop->work[a] = work;
	}
}

/* ----------------------------------------------------------------------
 * Exported functions
 * ----------------------------------------------------------------------
 */

/* A static English message for a status code. */
const char *
rs_knn_strerror(int status)
{
	switch (status)
	{
		case RS_KNN_OK:
			return "success";
		case RS_KNN_ERR_ARGUMENT:
			return "invalid argument to a neighbourhood kernel";
		case RS_KNN_ERR_THREAD:
			return "could not create a worker thread";
	}
	return "unknown neighbourhood kernel error";
}

/* Row norms in double, stored as float. */
void
rs_knn_row_norms(const RsCsr *A, float *norms)
{
	for (int32_t r = 0; r < A->n_rows; r++)
	{
		double		sum = 0.0;

		for (int64_t p = A->indptr[r]; p < A->indptr[r + 1]; p++)
			sum += (double) A->data[p] * (double) A->data[p];
		norms[r] = (float) sqrt(sum);
	}
}

/* Every row's scatter-adds, on nthreads threads. */
int
rs_knn_row_work(const RsCsr *A, const RsCsr *At, int nthreads, int64_t *work)
{
	KnnLoop		loop = {0};

	if (A == NULL || At == NULL || work == NULL || At->n_rows != A->n_cols)
		return RS_KNN_ERR_ARGUMENT;
	loop.body = row_work_body;
	loop.end = A->n_rows;
	loop.x = A;
	loop.y = At;
	loop.work = work;
	return knn_loop_run(&loop, nthreads) ? RS_KNN_OK : RS_KNN_ERR_THREAD;
}

/* Per-thread scratch times threads, plus alignment slack. */
size_t
rs_knn_workspace_bytes(const RsKnnParams *params, int32_t n_rows, int nthreads)
{
	int			k = params->k > 0 ? params->k : 1;

	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > RS_KNN_MAX_THREADS)
		nthreads = RS_KNN_MAX_THREADS;
	if (n_rows < 0)
		n_rows = 0;
	return (size_t) nthreads * scratch_bytes(n_rows, k, knn_mode(params)) + 64;
}

/* Top-K neighbours of rows [begin, end), shared among nthreads threads. */
int
rs_knn_build(const RsCsr *A, const RsCsr *At, const float *norms,
			 const RsKnnParams *params, int32_t begin, int32_t end,
			 int nthreads, void *workspace,
			 int32_t *nbr, float *sim, int32_t *count)
{
	KnnCtx		ctx;
	KnnParallel par;
	char	   *base;
	size_t		stride;
	bool		create_failed;

	if (A == NULL || At == NULL || params == NULL || workspace == NULL ||
		nbr == NULL || sim == NULL || count == NULL)
		return RS_KNN_ERR_ARGUMENT;
	if (params->k < 1 || !(params->shrink >= 0.0f) ||
		!(params->support_shrink >= 0.0f))
		return RS_KNN_ERR_ARGUMENT;
	if (params->kind != RS_KNN_COSINE && params->kind != RS_KNN_JACCARD &&
		params->kind != RS_KNN_DOT)
		return RS_KNN_ERR_ARGUMENT;
	if (params->kind == RS_KNN_COSINE && norms == NULL)
		return RS_KNN_ERR_ARGUMENT;
	if (At->n_rows != A->n_cols || At->n_cols != A->n_rows || At->nnz != A->nnz)
		return RS_KNN_ERR_ARGUMENT;
	if (begin < 0 || end > A->n_rows || begin > end)
		return RS_KNN_ERR_ARGUMENT;
	if (begin == end)
		return RS_KNN_OK;

	ctx.A = A;
	ctx.At = At;
	ctx.norms = norms;
	ctx.kind = params->kind;
	ctx.mode = knn_mode(params);
	ctx.k = params->k;
	ctx.shrink = params->shrink;
	ctx.support_shrink = params->support_shrink;
	ctx.row_work = params->row_work;
	ctx.begin = begin;
	ctx.nbr = nbr;
	ctx.sim = sim;
	ctx.count = count;

	base = (char *) (((uintptr_t) workspace + 63) & ~(uintptr_t) 63);
	stride = scratch_bytes(A->n_rows, ctx.k, ctx.mode);

	if (nthreads > RS_KNN_MAX_THREADS)
		nthreads = RS_KNN_MAX_THREADS;
	if (nthreads > end - begin)
		nthreads = end - begin;
	if (nthreads <= 1)
	{
		KnnScratch	s;

		scratch_init(&s, base, A->n_rows, ctx.k, ctx.mode);
		knn_rows(&ctx, begin, end, PASS_ALL, &s);
		return RS_KNN_OK;
	}

	par.ctx = &ctx;
	par.next_long = begin;
	par.next_short = begin;
	par.end_row = end;
	{
		KnnWorker	workers[RS_KNN_MAX_THREADS];

		for (int t = 0; t < nthreads; t++)
		{
			workers[t].par = &par;
			workers[t].base = base + (size_t) t * stride;
		}
		create_failed = rs_threads_run(nthreads, knn_worker_main, workers,
									   sizeof(KnnWorker)) != RS_THREADS_OK;
	}
	return create_failed ? RS_KNN_ERR_THREAD : RS_KNN_OK;
}

/* Scratch doubles rs_bm25_weight needs: one per document and per term. */
size_t
rs_bm25_scratch_count(const RsCsr *docs)
{
	return (size_t) docs->n_rows + (size_t) docs->n_cols;
}

/* Documents [begin, end): their lengths (sums of weights) into kn. */
static void
bm25_length_body(const KnnLoop *loop, int64_t begin, int64_t end)
{
	const RsCsr *docs = loop->x;

	for (int64_t d = begin; d < end; d++)
	{
		double		len = 0.0;

		for (int64_t p = docs->indptr[d]; p < docs->indptr[d + 1]; p++)
			len += docs->data[p];
		loop->kn[d] = len;
	}
}

/*
 * Documents [begin, end) of docs (x) into out, or terms [begin, end) of
 * docs_t (y) when x is NULL.  Both orientations evaluate the same double
 * expression on the same inputs, so the two copies hold bit-identical
 * weights for each (d, t).
 */
static void
bm25_weight_body(const KnnLoop *loop, int64_t begin, int64_t end)
{
	const double *kn = loop->kn;
	const double *idf = loop->idf;
	double		kp1 = loop->kp1;

	for (int64_t r = begin; r < end; r++)
	{
		const RsCsr *m = loop->x ? loop->x : loop->y;

		for (int64_t p = m->indptr[r]; p < m->indptr[r + 1]; p++)
		{
			double		w = m->data[p];
			int32_t		d = loop->x ? (int32_t) r : m->indices[p];
			int32_t		t = loop->x ? m->indices[p] : (int32_t) r;

			loop->out[p] = (float) (w * kp1 / (kn[d] + w) * idf[t]);
		}
	}
}

/* BM25 weights, implicit's bm25_weight with documents = rows of docs. */
int
rs_bm25_weight(const RsCsr *docs, const RsCsr *docs_t, float k1, float b,
			   double *scratch, float *docs_data, float *docs_t_data)
{
	return rs_bm25_weight_threads(docs, docs_t, k1, b, 1, scratch, docs_data, docs_t_data);
}

/* The same on nthreads threads. */
int
rs_bm25_weight_threads(const RsCsr *docs, const RsCsr *docs_t, float k1,
					   float b, int nthreads, double *scratch,
					   float *docs_data, float *docs_t_data)
{
	int32_t		n_docs;
	int32_t		n_terms;
	double	   *kn;				/* per document: K1 (1 - B + B len / avg) */
	double	   *idf;			/* per term */
	double		total = 0.0;
	double		avg_len;
	double		log_n;
	bool		ok = true;
	KnnLoop		loop = {0};

	if (docs == NULL || docs_t == NULL || scratch == NULL)
		return RS_KNN_ERR_ARGUMENT;
	if (!(k1 >= 0.0f) || !(b >= 0.0f && b <= 1.0f))
		return RS_KNN_ERR_ARGUMENT;
	if (docs_t->n_rows != docs->n_cols || docs_t->n_cols != docs->n_rows ||
		docs_t->nnz != docs->nnz)
		return RS_KNN_ERR_ARGUMENT;

	n_docs = docs->n_rows;
	n_terms = docs->n_cols;
	kn = scratch;
	idf = scratch + n_docs;
	if (n_docs == 0)
		return RS_KNN_OK;

	/* document lengths, then their mean over all documents, in order */
	loop.body = bm25_length_body;
	loop.end = n_docs;
	loop.x = docs;
	loop.kn = kn;
	ok &= knn_loop_run(&loop, nthreads);
	for (int32_t d = 0; d < n_docs; d++)
		total += kn[d];
	avg_len = total / n_docs;
	for (int32_t d = 0; d < n_docs; d++)
	{
		/* all-zero weights: implicit would divide by zero; take len = avg */
		double		ratio = avg_len != 0.0 ? kn[d] / avg_len : 1.0;

		kn[d] = (double) k1 * ((1.0 - b) + b * ratio);
	}
	log_n = log((double) n_docs);
	for (int32_t t = 0; t < n_terms; t++)
		idf[t] = log_n - log1p((double) (docs_t->indptr[t + 1] - docs_t->indptr[t]));

	loop.body = bm25_weight_body;
	loop.idf = idf;
	loop.kp1 = (double) k1 + 1.0;
	if (docs_data)
	{
		loop.end = n_docs;
		loop.x = docs;
		loop.out = docs_data;
		ok &= knn_loop_run(&loop, nthreads);
	}
	if (docs_t_data)
	{
		loop.end = n_terms;
		loop.x = NULL;
		loop.y = docs_t;
		loop.out = docs_t_data;
		ok &= knn_loop_run(&loop, nthreads);
	}
	return ok ? RS_KNN_OK : RS_KNN_ERR_THREAD;
}

/* scores[j] += w_i sim(i, j) over the user's items and their neighbours. */
int64_t
rs_knn_accumulate_scores(const int32_t *items, const float *weights,
						 int64_t n, const int32_t *nbr, const float *sim,
						 const int32_t *count, int k, int32_t n_items,
						 float *scores, int32_t *touched, int64_t n_touched)
{
	for (int64_t u = 0; u < n; u++)
	{
		int32_t		i = items[u];
		float		w = weights ? weights[u] : 1.0f;
		size_t		row;

		if (i < 0 || i >= n_items)
			return RS_KNN_ERR_ARGUMENT;
		row = (size_t) i * (size_t) k;
		for (int t = 0; t < count[i]; t++)
		{
			int32_t		j = nbr[row + t];

			touched[n_touched] = j;
			n_touched += scores[j] == 0.0f;
			scores[j] += w * sim[row + t];
		}
	}
	return n_touched;
}

/* Top-n of the touched scores, clearing them. */
int
rs_knn_topk_touched(float *scores, const int32_t *touched, int64_t n_touched,
					const uint8_t *exclude, int top_n, int32_t *out_idx,
					float *out_score)
{
	int			size = 0;

	for (int64_t t = 0; t < n_touched; t++)
	{
		int32_t		j = touched[t];
		float		s = scores[j];

		/* a repeated index (after cancellation to zero) now reads zero */
		scores[j] = 0.0f;
		if (s == 0.0f || s != s || top_n <= 0)
			continue;
		if (exclude && ((exclude[j >> 3] >> (j & 7)) & 1))
			continue;
		rs_topk_offer(out_idx, out_score, &size, top_n, s, j);
	}
	rs_topk_sort(out_idx, out_score, size);
	return size;
}
