/*
 * factor_scores.c
 *		Serving arithmetic of latent factor models: row norms (once per
 *		loaded model) and cosines from the dot products rs_score_items
 *		computes; a dot product, and the weighted sum of outer products
 *		that explain's user system is made of.
 *
 * Pure C: no PostgreSQL calls, safe on several threads.
 */
#include <float.h>
#include <math.h>

#include "factor_scores.h"
#include "score.h"
#include "simd.h"
#include "topk.h"

#if defined(RS_X86_DISPATCH)
#include <immintrin.h>
#endif

void
rs_row_norms(const float *Y, int64_t n, int k, float *norms)
{
	for (int64_t i = 0; i < n; i++)
	{
		double		s = 0;

		for (int f = 0; f < k; f++)
			s += (double) Y[i * k + f] * Y[i * k + f];
		norms[i] = (float) sqrt(s);
	}
}

void
rs_cosine_from_dots(float *scores, const float *norms, int64_t i, int64_t n)
{
	float		norm = norms[i];

	for (int64_t j = 0; j < n; j++)
		scores[j] = (norm > 0 && norms[j] > 0) ? scores[j] / (norm * norms[j]) : 0;
}

float
rs_dot(const float *a, const float *b, int k)
{
	float		s = 0;

	for (int f = 0; f < k; f++)
		s += a[f] * b[f];
	return s;
}

void
rs_cosine_among(const float *Y, const float *norms, const int32_t *idx, int n, int k, float *out)
{
	for (int a = 0; a < n; a++)
	{
		float		na = norms[idx[a]];

		out[(int64_t) a * n + a] = na > 0 ? 1 : 0;
		for (int b = a + 1; b < n; b++)
		{
			float		nb = norms[idx[b]];
			float		c = (na > 0 && nb > 0) ?
				rs_dot(Y + (int64_t) idx[a] * k, Y + (int64_t) idx[b] * k, k) / (na * nb) : 0;

			out[(int64_t) a * n + b] = c;
			out[(int64_t) b * n + a] = c;
		}
	}
}

void
rs_add_weighted_outer(const float *Y, const int32_t *idx, const float *c, int64_t n, int k,
					  float *A)
{
	for (int64_t m = 0; m < n; m++)
	{
		const float *y = Y + (int64_t) idx[m] * k;

		for (int a = 0; a < k; a++)
			for (int b = 0; b < k; b++)
				A[a * k + b] += c[m] * y[a] * y[b];
	}
}

/* ----------------------------------------------------------------------
 * Compressed item vectors (see factor_scores.h)
 * ----------------------------------------------------------------------
 */

/* Items whose int32 sums one accumulation pass leaves in L1 (a multiple of the block). */
#define Q8_CHUNK 512
/* Candidates kept for re-scoring before the list is compacted. */
#define Q8_CANDIDATES(top_n) (4 * (int64_t) (top_n) + 2048)
/* Float rounding of a k-term dot product and of the bound's own arithmetic, generously. */
#define Q8_EPS(k) (((double) (k) + 16) * 2.4e-7)

/* The per-item arrays and codes behind the header. */
typedef struct Q8View
{
	const RsQ8Header *h;
	float	   *scale;			/* max |y_i| / 127 */
	float	   *err;			/* |y_i - scale_i q_i|, rounded up */
	float	   *qnorm;			/* |scale_i q_i|, rounded up */
	int8_t	   *codes;
} Q8View;

static size_t
q8_floats_offset(void)
{
	return ROUND_UP(sizeof(RsQ8Header), 64);
}

static Q8View
q8_view(const void *q8)
{
	const RsQ8Header *h = q8;
	size_t		items = (size_t) h->blocks * RS_Q8_BLOCK;
	char	   *base = (char *) q8 + q8_floats_offset();
	Q8View		v;

	v.h = h;
	v.scale = (float *) base;
	v.err = v.scale + items;
	v.qnorm = v.err + items;
	v.codes = (int8_t *) (base + ROUND_UP(3 * items * sizeof(float), 64));
	return v;
}

size_t
rs_q8_bytes(int64_t n, int k)
{
	size_t		items = (size_t) ROUND_UP(n, RS_Q8_BLOCK);

	return q8_floats_offset() + ROUND_UP(3 * items * sizeof(float), 64) +
		items * (size_t) ((k + 1) / 2) * 2;
}

void
rs_q8_init(void *q8, int64_t n, int k)
{
	RsQ8Header *h = q8;

	memset(q8, 0, rs_q8_bytes(n, k));
	h->n = n;
	h->k = k;
	h->pairs = (k + 1) / 2;
	h->blocks = (n + RS_Q8_BLOCK - 1) / RS_Q8_BLOCK;
}

/* a non-negative double as a float no smaller */
static float
float_up(double v)
{
	float		f = (float) v;

	return (double) f < v ? nextafterf(f, INFINITY) : f;
}

/* Compress y (k floats; NULL: zeros) into position i of v. */
static void
q8_put(const Q8View *v, int64_t i, const float *y)
{
	int			k = v->h->k;
	int8_t	   *block = v->codes + (i / RS_Q8_BLOCK) * (int64_t) v->h->pairs * 2 * RS_Q8_BLOCK;
	int			lane = (int) (i % RS_Q8_BLOCK);
	float		m = 0;
	double		err = 0,
				qn = 0;

	for (int d = 0; y && d < k; d++)
		m = fmaxf(m, fabsf(y[d]));
	v->scale[i] = m / 127;
	for (int d = 0; d < k; d++)
	{
		long		q = m > 0 ? lrintf(y[d] / v->scale[i]) : 0;
		double		r;

		q = q > 127 ? 127 : q < -127 ? -127 : q;
		block[(d / 2) * 2 * RS_Q8_BLOCK + lane * 2 + d % 2] = (int8_t) q;
		r = (y ? (double) y[d] : 0) - (double) v->scale[i] * q;
		err += r * r;
		qn += ((double) v->scale[i] * q) * ((double) v->scale[i] * q);
	}
	v->err[i] = float_up(sqrt(err));
	v->qnorm[i] = float_up(sqrt(qn));
}

void
rs_q8_build(void *q8, const float *Y, int64_t begin, int64_t end)
{
	Q8View		v = q8_view(q8);

	for (int64_t i = begin; i < end; i++)
		q8_put(&v, i, Y + i * v.h->k);
}

void
rs_q8_build_rows(void *q8, const float *Y, const int32_t *rows, int64_t begin, int64_t end)
{
	Q8View		v = q8_view(q8);

	for (int64_t i = begin; i < end; i++)
		q8_put(&v, i, rows[i] >= 0 ? Y + (int64_t) rows[i] * v.h->k : NULL);
}

size_t
rs_q8_scratch_bytes(int k, int top_n)
{
	int64_t		cap = Q8_CANDIDATES(top_n);

	return ROUND_UP(sizeof(int32_t) * (size_t) ((k + 1) / 2), 64) +
		(sizeof(int32_t) + sizeof(float)) * ((size_t) top_n + cap) +
		sizeof(int32_t) * Q8_CHUNK;
}

/*
 * acc[j] = sum_d q_{first + j}[d] xq[d] for the items of nblocks blocks
 * from block first / RS_Q8_BLOCK; xpair holds the int16 pairs
 * (xq[2p], xq[2p + 1]) as int32.
 */
static void
q8_accumulate_generic(const int8_t *codes, int pairs, const int32_t *xpair, int64_t nblocks,
					  int32_t *acc)
{
	for (int64_t b = 0; b < nblocks; b++)
	{
		const int8_t *c = codes + b * pairs * 2 * RS_Q8_BLOCK;
		int32_t    *a = acc + b * RS_Q8_BLOCK;

		for (int j = 0; j < RS_Q8_BLOCK; j++)
			a[j] = 0;
		for (int p = 0; p < pairs; p++)
		{
			int32_t		x0 = (int16_t) (xpair[p] & 0xffff);
			int32_t		x1 = (int16_t) ((uint32_t) xpair[p] >> 16);

			for (int j = 0; j < RS_Q8_BLOCK; j++)
				a[j] += c[p * 2 * RS_Q8_BLOCK + 2 * j] * x0 + c[p * 2 * RS_Q8_BLOCK + 2 * j + 1] * x1;
		}
	}
}

#if defined(RS_X86_DISPATCH)
/* The same with AVX2: 16 codes widened to int16, one madd per pair of dimensions. */
RS_ISA_ATTRS_AVX2 static void
q8_accumulate_avx2(const int8_t *codes, int pairs, const int32_t *xpair, int64_t nblocks,
				   int32_t *acc)
{
	for (int64_t b = 0; b < nblocks; b++)
	{
		const int8_t *c = codes + b * pairs * 2 * RS_Q8_BLOCK;
		__m256i		a0 = _mm256_setzero_si256(),
					a1 = _mm256_setzero_si256();
		int			p = 0;

		for (; p + 2 <= pairs; p += 2)
		{
			__m256i		v0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *) (c + p * 16)));
			__m256i		v1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *) (c + p * 16 + 16)));

			a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(v0, _mm256_set1_epi32(xpair[p])));
			a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(v1, _mm256_set1_epi32(xpair[p + 1])));
		}
		if (p < pairs)
		{
			__m256i		v0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *) (c + p * 16)));

			a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(v0, _mm256_set1_epi32(xpair[p])));
		}
		_mm256_storeu_si256((__m256i *) (acc + b * RS_Q8_BLOCK), _mm256_add_epi32(a0, a1));
	}
}
#endif

/* The state of one compressed scan. */
typedef struct Q8Scan
{
	Q8View		v;
	const float *ybias;
	const uint8_t *exclude;
	const int32_t *item;		/* position -> item (-1: padding), NULL: same */
	float		sx;				/* x ~ sx xq */
	float		cx;				/* bound = err_i cx + qnorm_i cq + eps |b_i| */
	float		cq;
	float		eps;
	int			top_n;
	int32_t    *low_idx;		/* heap of the top_n best lower bounds */
	float	   *low_val;
	int			low_size;
	int32_t    *cand_idx;		/* items whose upper bound reached the threshold */
	float	   *cand_up;
	int64_t		cand_n;
	int64_t		cand_cap;
} Q8Scan;

/* The k-th best lower bound so far: an upper bound below it is out. */
static inline float
q8_threshold(const Q8Scan *s)
{
	return s->low_size < s->top_n ? -INFINITY : s->low_val[0];
}

/* Keep the candidates still in reach; false if that frees too little room. */
static bool
q8_compact(Q8Scan *s)
{
	float		t = q8_threshold(s);
	int64_t		m = 0;

	for (int64_t c = 0; c < s->cand_n; c++)
		if (!(s->cand_up[c] < t))
		{
			s->cand_idx[m] = s->cand_idx[c];
			s->cand_up[m++] = s->cand_up[c];
		}
	s->cand_n = m;
	return m <= s->cand_cap / 2;
}

/*
 * Offer the lanes of one block whose upper bound reaches the threshold
 * (lanes: a bit per item) as candidates and their lower bounds to the
 * heap; false when the candidate list overflows.
 */
static bool
q8_offer_block(Q8Scan *s, int64_t i0, const float *approx, const float *margin, unsigned lanes)
{
	float		t = q8_threshold(s);

	for (int j = 0; j < RS_Q8_BLOCK; j++)
	{
		int64_t		i = i0 + j;
		float		up = approx[j] + margin[j],
					low = approx[j] - margin[j];

		if (!((lanes >> j) & 1) || i >= s->v.h->n || up < t)
			continue;
		if (s->item && (i = s->item[i]) < 0)
			continue;
		if (s->exclude && ((s->exclude[i >> 3] >> (i & 7)) & 1))
			continue;
		if (s->cand_n == s->cand_cap && !q8_compact(s))
			return false;
		s->cand_idx[s->cand_n] = (int32_t) i;
		s->cand_up[s->cand_n++] = up;
		if (low == low)
			rs_topk_offer(s->low_idx, s->low_val, &s->low_size, s->top_n, low, (int32_t) i);
		t = q8_threshold(s);
	}
	return true;
}

/*
 * Bounds of the items [first, first + count) from their int32 sums, and
 * the candidates among them; false when the candidate list overflows.
 * approx_i = acc_i scale_i sx + b_i, margin_i = err_i cx + qnorm_i cq +
 * eps |b_i|; the per-item work runs only for a block with an upper bound
 * reaching the threshold (NaN reaches it: the exact score decides).
 */
static bool
q8_select_generic(Q8Scan *s, const int32_t *acc, int64_t first, int count)
{
	const Q8View *v = &s->v;

	for (int j0 = 0; j0 < count; j0 += RS_Q8_BLOCK)
	{
		int64_t		i0 = first + j0;
		float		approx[RS_Q8_BLOCK],
					margin[RS_Q8_BLOCK],
					t = q8_threshold(s);
		unsigned	lanes = 0;

		for (int j = 0; j < RS_Q8_BLOCK; j++)
		{
			int64_t		i = i0 + j < v->h->n ? (s->item ? s->item[i0 + j] : i0 + j) : -1;
			float		b = s->ybias && i >= 0 ? s->ybias[i] : 0;

			approx[j] = (float) acc[j0 + j] * (v->scale[i0 + j] * s->sx) + b;
			margin[j] = v->err[i0 + j] * s->cx + v->qnorm[i0 + j] * s->cq + s->eps * fabsf(b);
			lanes |= (unsigned) !(approx[j] + margin[j] < t) << j;
		}
		if (lanes && !q8_offer_block(s, i0, approx, margin, lanes))
			return false;
	}
	return true;
}

#if defined(RS_X86_DISPATCH)
/* The same, eight items per AVX2 instruction (a bias beyond n reads as 0). */
RS_ISA_ATTRS_AVX2 static bool
q8_select_avx2(Q8Scan *s, const int32_t *acc, int64_t first, int count)
{
	const Q8View *v = &s->v;
	__m256		sx = _mm256_set1_ps(s->sx),
				cx = _mm256_set1_ps(s->cx),
				cq = _mm256_set1_ps(s->cq),
				eps = _mm256_set1_ps(s->eps),
				absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)),
				t = _mm256_set1_ps(q8_threshold(s));

	for (int j0 = 0; j0 < count; j0 += RS_Q8_BLOCK)
	{
		int64_t		i0 = first + j0;
		__m256		approx = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *) (acc + j0))),
										   _mm256_mul_ps(_mm256_loadu_ps(v->scale + i0), sx));
		__m256		margin = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v->err + i0), cx),
										   _mm256_mul_ps(_mm256_loadu_ps(v->qnorm + i0), cq));
		unsigned	lanes;

		if (s->ybias)
		{
			float		b[RS_Q8_BLOCK] = {0};
			__m256		vb;

			memcpy(b, s->ybias + i0, sizeof(float) * (i0 + RS_Q8_BLOCK <= v->h->n ? RS_Q8_BLOCK : v->h->n - i0));
			vb = _mm256_loadu_ps(b);
			approx = _mm256_add_ps(approx, vb);
			margin = _mm256_add_ps(margin, _mm256_mul_ps(eps, _mm256_and_ps(vb, absmask)));
		}
		lanes = (unsigned) _mm256_movemask_ps(_mm256_cmp_ps(_mm256_add_ps(approx, margin), t, _CMP_NLT_UQ));
		if (lanes)
		{
			float		a[RS_Q8_BLOCK],
						m[RS_Q8_BLOCK];

			_mm256_storeu_ps(a, approx);
			_mm256_storeu_ps(m, margin);
			if (!q8_offer_block(s, i0, a, m, lanes))
				return false;
			t = _mm256_set1_ps(q8_threshold(s));
		}
	}
	return true;
}
#endif

/*
 * Set a scan of q8 up for x: round x to int16 pairs (into scratch) and
 * derive the bounds' constants; false when x is not finite or too large
 * for the bounds (the caller then scores exactly).
 */
static bool
q8_begin(Q8Scan *s, const void *q8, const float *ybias, const float *x,
		 const uint8_t *exclude, const int32_t *item, int top_n, void *scratch,
		 int32_t **xpair_out, int32_t **acc_out)
{
	const RsQ8Header *h = q8;
	int			k = h->k;
	int32_t    *xpair = scratch;
	char	   *p = (char *) scratch + ROUND_UP(sizeof(int32_t) * (size_t) h->pairs, 64);
	float		xmax = 0;
	double		xnorm = 0,
				rxnorm = 0,
				eps = Q8_EPS(k);
	int32_t		limit;

	for (int d = 0; d < k && isfinite(xmax); d++)
		xmax = isfinite(x[d]) ? fmaxf(xmax, fabsf(x[d])) : INFINITY;
	if (!isfinite(xmax) || xmax > 1e30f)
		return false;

	/* x ~ sx xq with |xq| <= limit: no int32 sum can overflow */
	limit = (int32_t) (INT32_MAX / (127 * (int64_t) h->pairs * 2));
	if (limit > 32767)
		limit = 32767;
	memset(s, 0, sizeof(*s));
	s->sx = xmax > 0 ? xmax / (float) limit : 0;
	for (int pr = 0; pr < h->pairs; pr++)
	{
		int32_t		q[2] = {0, 0};

		for (int t = 0; t < 2 && 2 * pr + t < k; t++)
		{
			float		xd = x[2 * pr + t];
			long		r = s->sx > 0 ? lrintf(xd / s->sx) : 0;

			r = r > limit ? limit : r < -limit ? -limit : r;
			q[t] = (int32_t) r;
			xnorm += (double) xd * xd;
			rxnorm += ((double) xd - (double) s->sx * r) * ((double) xd - (double) s->sx * r);
		}
		xpair[pr] = (int32_t) (((uint32_t) (uint16_t) q[1] << 16) | (uint16_t) q[0]);
	}
	xnorm = sqrt(xnorm);
	rxnorm = sqrt(rxnorm);
	/*
	 * |y.x - approx| <= |r_y| |x| + |q_y| |r_x| in exact arithmetic; eps
	 * covers float rounding (of the approximation, of the exact re-score
	 * and of adding b_i), as a share of |q_y|, |r_y| times |x| + |r_x|;
	 * the whole is rounded up a further 0.1%.
	 */
	s->cx = float_up((xnorm + eps * (xnorm + rxnorm)) * 1.001);
	s->cq = float_up((rxnorm + eps * (xnorm + rxnorm)) * 1.001);
	s->eps = float_up(eps * 1.001);
	s->v = q8_view(q8);
	s->ybias = ybias;
	s->exclude = exclude;
	s->item = item;
	s->top_n = top_n;
	s->cand_cap = Q8_CANDIDATES(top_n);
	s->low_idx = (int32_t *) p;
	s->low_val = (float *) (s->low_idx + top_n);
	s->cand_idx = (int32_t *) (s->low_val + top_n);
	s->cand_up = (float *) (s->cand_idx + s->cand_cap);
	*xpair_out = xpair;
	*acc_out = (int32_t *) (s->cand_up + s->cand_cap);
	return true;
}

/*
 * Scan the positions [first, end) (first a multiple of RS_Q8_BLOCK);
 * false when the candidate list overflows.
 */
static bool
q8_scan(Q8Scan *s, const int32_t *xpair, int32_t *acc, int64_t first, int64_t end)
{
	const RsQ8Header *h = s->v.h;
	bool		(*select) (Q8Scan *, const int32_t *, int64_t, int) = q8_select_generic;
	void		(*accumulate) (const int8_t *, int, const int32_t *, int64_t, int32_t *) =
		q8_accumulate_generic;

#if defined(RS_X86_DISPATCH)
	if (rs_simd_isa() != RS_ISA_BASELINE)
	{
		accumulate = q8_accumulate_avx2;
		/* (the AVX2 selection reads biases by position) */
		if (s->item == NULL || s->ybias == NULL)
			select = q8_select_avx2;
	}
#endif
	for (; first < end; first += Q8_CHUNK)
	{
		int64_t		nblocks = (end - first + RS_Q8_BLOCK - 1) / RS_Q8_BLOCK;

		if (nblocks > Q8_CHUNK / RS_Q8_BLOCK)
			nblocks = Q8_CHUNK / RS_Q8_BLOCK;
		accumulate(s->v.codes + (first / RS_Q8_BLOCK) * h->pairs * 2 * RS_Q8_BLOCK, h->pairs,
				   xpair, nblocks, acc);
		if (!select(s, acc, first, (int) (nblocks * RS_Q8_BLOCK)))
			return false;
	}
	return true;
}

/* The exact scores of the candidates still in reach, best first; how many. */
static int
q8_finish(Q8Scan *s, const float *Y, const float *ybias, const float *x, int32_t *out_idx,
		  float *out_score, int64_t *candidates)
{
	int			k = s->v.h->k;
	float		t = q8_threshold(s);
	int			size = 0;

	if (candidates)
		*candidates = 0;
	for (int64_t c = 0; c < s->cand_n; c++)
	{
		int32_t		i = s->cand_idx[c];
		float		score;

		if (s->cand_up[c] < t)
			continue;
		score = rs_dot(x, Y + (int64_t) i * k, k);
		if (ybias)
			score += ybias[i];
		if (score == score)
			rs_topk_offer(out_idx, out_score, &size, s->top_n, score, i);
		if (candidates)
			(*candidates)++;
	}
	rs_topk_sort(out_idx, out_score, size);
	return size;
}

int
rs_q8_score_topk(const void *q8, const float *Y, const float *ybias, const float *x,
				 const uint8_t *exclude, int top_n, void *scratch, float *block_scores,
				 int32_t *out_idx, float *out_score, int64_t *candidates)
{
	Q8Scan		s;
	const RsQ8Header *h = q8;
	int32_t    *xpair,
			   *acc;

	if (candidates)
		*candidates = -1;
	if (top_n <= 0 || h->n <= 0)
		return 0;
	/* too few items to gain, or a vector the bounds cannot hold */
	if (4 * (int64_t) top_n >= h->n ||
		!q8_begin(&s, q8, ybias, x, exclude, NULL, top_n, scratch, &xpair, &acc) ||
		!q8_scan(&s, xpair, acc, 0, h->blocks * RS_Q8_BLOCK))
	{
		if (candidates)
			*candidates = -1;
		return rs_score_topk(Y, ybias, h->n, h->k, x, exclude, top_n, block_scores, out_idx,
							 out_score);
	}
	return q8_finish(&s, Y, ybias, x, out_idx, out_score, candidates);
}

int
rs_q8_score_lists(const void *q8, const int32_t *item, const int64_t *list_begin,
				  const int32_t *probe, int n_probe, int min_probes, const float *Y,
				  const float *ybias, const float *x, const uint8_t *exclude, int top_n,
				  void *scratch, int32_t *out_idx, float *out_score, int *probed)
{
	Q8Scan		s;
	int32_t    *xpair,
			   *acc;
	int			p = 0;

	*probed = 0;
	if (top_n <= 0)
		return 0;
	if (!q8_begin(&s, q8, ybias, x, exclude, item, top_n, scratch, &xpair, &acc))
		return -1;
	/* the first min_probes lists, then more while fewer than top_n items passed */
	for (; p < n_probe && (p < min_probes || s.low_size < top_n); p++)
		if (!q8_scan(&s, xpair, acc, list_begin[probe[p]], list_begin[probe[p] + 1]))
			return -1;
	*probed = p;
	return q8_finish(&s, Y, ybias, x, out_idx, out_score, NULL);
}
