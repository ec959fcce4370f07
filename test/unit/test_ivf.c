/*
 * test_ivf.c
 *		The IVF kernel (src/kernel/ivf.c) and the list scan of the compressed
 *		copy (rs_q8_score_lists): clusters known by construction, results
 *		independent of the thread count, every list probed equals the exact
 *		top k, and a filter that empties the nearest lists still gives k.
 */
#include <stdlib.h>
#include <string.h>

#include "factor_scores.h"
#include "ivf.h"
#include "rng.h"
#include "score.h"
#include "unit.h"

/* n items in c tight clusters of dimension k: item i in cluster i % c, around 10 e_(i % c) */
static float *
clustered(int64_t n, int k, int c)
{
	float	   *Y = malloc(sizeof(float) * n * k);

	for (int64_t i = 0; i < n; i++)
		for (int d = 0; d < k; d++)
			Y[i * k + d] = (d == i % c ? 10.0f : 0.0f) +
				0.05f * (rs_rng_uniform_float(7, (uint64_t) (i * k + d)) - 0.5f);
	return Y;
}

/* The lists as positions in list order, padded to RS_Q8_BLOCK (as src/ivf_index.c lays them out). */
typedef struct Layout
{
	int64_t    *begin;
	int32_t    *item;
	void	   *q8;
	int64_t		positions;
} Layout;

static Layout
layout(const float *Y, int64_t n, int k, const int32_t *assign, int lists)
{
	Layout		L;
	int64_t		p = 0;

	L.begin = malloc(sizeof(int64_t) * (lists + 1));
	L.item = malloc(sizeof(int32_t) * (n + (int64_t) lists * RS_Q8_BLOCK));
	for (int l = 0; l < lists; l++)
	{
		L.begin[l] = p;
		for (int64_t i = 0; i < n; i++)
			if (assign[i] == l)
				L.item[p++] = (int32_t) i;
		while (p % RS_Q8_BLOCK)
			L.item[p++] = -1;
	}
	L.begin[lists] = p;
	L.positions = p;
	L.q8 = malloc(rs_q8_bytes(p, k));
	rs_q8_init(L.q8, p, k);
	rs_q8_build_rows(L.q8, Y, L.item, 0, p);
	return L;
}

static void
free_layout(Layout *L)
{
	free(L->begin);
	free(L->item);
	free(L->q8);
}

UNIT_TEST(ivf_known_clusters_and_probe_order)
{
	int64_t		n = 2000;
	int			k = 8,
				c = 4;
	float	   *Y = clustered(n, k, c);
	float		centroids[4 * 9];
	int32_t    *assign = malloc(sizeof(int32_t) * n);
	RsIvfParams p = {.lists = 4, .iterations = 10, .seed = 42, .threads = 2};
	RsIvfRank	order[4];

	UNIT_CHECK(rs_ivf_build(Y, n, k, &p, centroids, assign) == RS_IVF_OK);
	/* each cluster is one list, whole */
	for (int64_t i = 0; i < n; i++)
		UNIT_CHECK(assign[i] == assign[i % c]);
	for (int a = 0; a < c; a++)
		for (int b = a + 1; b < c; b++)
			UNIT_CHECK(assign[a] != assign[b]);
	/* a query towards cluster 2 probes its list first */
	{
		float		x[8] = {0, 0.1f, 1, 0, 0, 0, 0, 0};

		rs_ivf_probe_order(centroids, 4, k, x, order);
		UNIT_CHECK(order[0].list == assign[2]);
		UNIT_CHECK(order[1].list == assign[1]);
		UNIT_CHECK(order[0].score >= order[1].score && order[1].score >= order[2].score);
	}
	free(Y);
	free(assign);
}

UNIT_TEST(ivf_same_for_any_thread_count)
{
	int64_t		n = 5000;
	int			k = 16,
				lists = 40;
	float	   *Y = malloc(sizeof(float) * n * k);
	float	   *c1 = malloc(sizeof(float) * lists * (k + 1)),
			   *c3 = malloc(sizeof(float) * lists * (k + 1));
	int32_t    *a1 = malloc(sizeof(int32_t) * n),
			   *a3 = malloc(sizeof(int32_t) * n);
	RsIvfParams p = {.lists = lists, .iterations = 5, .seed = 9, .threads = 1};

	for (int64_t i = 0; i < n * k; i++)
		Y[i] = rs_rng_uniform_float(3, (uint64_t) i) - 0.5f;
	UNIT_CHECK(rs_ivf_build(Y, n, k, &p, c1, a1) == RS_IVF_OK);
	p.threads = 3;
	UNIT_CHECK(rs_ivf_build(Y, n, k, &p, c3, a3) == RS_IVF_OK);
	UNIT_CHECK(memcmp(c1, c3, sizeof(float) * lists * (k + 1)) == 0);
	UNIT_CHECK(memcmp(a1, a3, sizeof(int32_t) * n) == 0);
	/* another seed, another index */
	p.seed = 10;
	UNIT_CHECK(rs_ivf_build(Y, n, k, &p, c3, a3) == RS_IVF_OK);
	UNIT_CHECK(memcmp(c1, c3, sizeof(float) * lists * (k + 1)) != 0);
	free(Y);
	free(c1);
	free(c3);
	free(a1);
	free(a3);
}

UNIT_TEST(ivf_arguments)
{
	float		Y[8] = {1, 0, 0, 1, 1, 1, 0, 0},
				c[3 * 3];
	int32_t		a[4];
	RsIvfParams p = {.lists = 2, .iterations = 1, .seed = 1, .threads = 1};

	UNIT_CHECK(rs_ivf_build(NULL, 4, 2, &p, c, a) == RS_IVF_ERR_ARGUMENT);
	UNIT_CHECK(rs_ivf_build(Y, 0, 2, &p, c, a) == RS_IVF_ERR_ARGUMENT);
	p.lists = 5;				/* more lists than items */
	UNIT_CHECK(rs_ivf_build(Y, 4, 2, &p, c, a) == RS_IVF_ERR_ARGUMENT);
	p.lists = 0;
	UNIT_CHECK(rs_ivf_build(Y, 4, 2, &p, c, a) == RS_IVF_ERR_ARGUMENT);
	p.lists = 3;
	p.iterations = 0;
	UNIT_CHECK(rs_ivf_build(Y, 4, 2, &p, c, a) == RS_IVF_ERR_ARGUMENT);
	p.iterations = 3;
	UNIT_CHECK(rs_ivf_build(Y, 4, 2, &p, c, a) == RS_IVF_OK);
	for (int i = 0; i < 4; i++)
		UNIT_CHECK(a[i] >= 0 && a[i] < 3);
}

/*
 * Items assigned after the build (rs_ivf_assign, with the built items'
 * scale): the built items get the build's own lists, by construction; an
 * item added later near a cluster joins that cluster's list, also one
 * longer than every built item (the scale stays the build's).
 */
UNIT_TEST(ivf_assign_after_build)
{
	int64_t		n = 3000;
	int			k = 12,
				lists = 30;
	float	   *Y = malloc(sizeof(float) * (n + 2) * k);
	float	   *c = malloc(sizeof(float) * lists * (k + 1));
	int32_t    *a = malloc(sizeof(int32_t) * n),
			   *again = malloc(sizeof(int32_t) * n),
				added[2];
	int64_t    *rows = malloc(sizeof(int64_t) * n),
				new_rows[2] = {n, n + 1};
	RsIvfParams p = {.lists = lists, .iterations = 5, .seed = 5, .threads = 2};

	for (int64_t i = 0; i < n * k; i++)
		Y[i] = rs_rng_uniform_float(11, (uint64_t) i) - 0.5f;
	for (int64_t i = 0; i < n; i++)
		rows[i] = i;
	UNIT_CHECK(rs_ivf_build(Y, n, k, &p, c, a) == RS_IVF_OK);
	UNIT_CHECK(rs_ivf_assign(Y, k, c, lists, rows, n, rows, n, again) == RS_IVF_OK);
	UNIT_CHECK(memcmp(a, again, sizeof(int32_t) * n) == 0);
	/* item n: a copy of item 7; item n + 1: item 9 times 100 */
	for (int d = 0; d < k; d++)
	{
		Y[n * k + d] = Y[7 * k + d];
		Y[(n + 1) * k + d] = 100 * Y[9 * k + d];
	}
	UNIT_CHECK(rs_ivf_assign(Y, k, c, lists, rows, n, new_rows, 2, added) == RS_IVF_OK);
	UNIT_CHECK(added[0] == a[7]);
	UNIT_CHECK(added[1] >= 0 && added[1] < lists);
	UNIT_CHECK(rs_ivf_assign(NULL, k, c, lists, rows, n, new_rows, 2, added) == RS_IVF_ERR_ARGUMENT);
	UNIT_CHECK(rs_ivf_assign(Y, k, c, lists, rows, n, new_rows, 0, added) == RS_IVF_OK);
	free(Y);
	free(c);
	free(a);
	free(again);
	free(rows);
}

static int
stop_now(void *arg)
{
	(void) arg;
	return 1;
}

UNIT_TEST(ivf_stops)
{
	int64_t		n = 20000;
	int			k = 32,
				lists = 100;
	float	   *Y = clustered(n, k, 8);
	float	   *c = malloc(sizeof(float) * lists * (k + 1));
	int32_t    *a = malloc(sizeof(int32_t) * n);
	RsIvfParams p = {.lists = lists, .iterations = 50, .seed = 1, .threads = 2, .stop = stop_now};

	UNIT_CHECK(rs_ivf_build(Y, n, k, &p, c, a) == RS_IVF_STOPPED);
	free(Y);
	free(c);
	free(a);
}

/* Every list probed: the exact top k (rs_score_topk), filters and biases included. */
UNIT_TEST(ivf_all_lists_equal_exact)
{
	int64_t		n = 6000;
	int			k = 24,
				lists = 30,
				top_n = 10;
	float	   *Y = malloc(sizeof(float) * n * k),
			   *bias = malloc(sizeof(float) * n),
			   *c = malloc(sizeof(float) * lists * (k + 1));
	int32_t    *a = malloc(sizeof(int32_t) * n),
				probe[30],
				idx[10],
				eidx[10];
	float		score[10],
				escore[10],
				x[24],
				block[RS_SCORE_BLOCK];
	uint8_t    *exclude = calloc(RS_BITMAP_BYTES(n), 1);
	void	   *scratch = malloc(rs_q8_scratch_bytes(k, top_n));
	RsIvfParams p = {.lists = lists, .iterations = 5, .seed = 5, .threads = 2};
	RsIvfRank	order[30];
	Layout		L;

	for (int64_t i = 0; i < n * k; i++)
		Y[i] = rs_rng_uniform_float(11, (uint64_t) i) - 0.5f;
	for (int64_t i = 0; i < n; i++)
		bias[i] = 0.05f * rs_rng_uniform_float(12, (uint64_t) i);
	for (int64_t i = 0; i < n; i += 3)
		rs_bitmap_set(exclude, i);
	UNIT_CHECK(rs_ivf_build(Y, n, k, &p, c, a) == RS_IVF_OK);
	L = layout(Y, n, k, a, lists);
	for (int q = 0; q < 20; q++)
	{
		const float *b = q % 2 ? bias : NULL;
		const uint8_t *ex = q % 3 ? exclude : NULL;
		int			found,
					efound,
					probed;

		for (int d = 0; d < k; d++)
			x[d] = rs_rng_uniform_float(13, (uint64_t) (q * k + d)) - 0.5f;
		rs_ivf_probe_order(c, lists, k, x, order);
		for (int l = 0; l < lists; l++)
			probe[l] = order[l].list;
		found = rs_q8_score_lists(L.q8, L.item, L.begin, probe, lists, lists, Y, b, x, ex, top_n,
								  scratch, idx, score, &probed);
		efound = rs_score_topk(Y, b, n, k, x, ex, top_n, block, eidx, escore);
		UNIT_CHECK(found == efound && probed == lists);
		for (int r = 0; r < found && r < efound; r++)
		{
			UNIT_CHECK(idx[r] == eidx[r]);
			UNIT_CHECK_NEAR(score[r], escore[r], 1e-5);
		}
	}
	free_layout(&L);
	free(Y);
	free(bias);
	free(c);
	free(a);
	free(exclude);
	free(scratch);
}

/*
 * One list probed, but a filter removes every item of the nearest two
 * lists: the scan goes on to the next lists until top_n items pass; with
 * too few passing items at all it scans every list and returns them all.
 */
UNIT_TEST(ivf_filter_emptying_nearest_lists_still_gives_k)
{
	int64_t		n = 2000;
	int			k = 8,
				c = 4,
				top_n = 10,
				probed,
				found;
	float	   *Y = clustered(n, k, c);
	float		centroids[4 * 9],
				score[10],
				x[8] = {1, 0.5f, 0.2f, 0, 0, 0, 0, 0};
	int32_t    *a = malloc(sizeof(int32_t) * n),
				probe[4],
				idx[10];
	uint8_t    *exclude = calloc(RS_BITMAP_BYTES(n), 1);
	void	   *scratch = malloc(rs_q8_scratch_bytes(k, top_n));
	RsIvfParams p = {.lists = 4, .iterations = 10, .seed = 42, .threads = 2};
	RsIvfRank	order[4];
	Layout		L;

	UNIT_CHECK(rs_ivf_build(Y, n, k, &p, centroids, a) == RS_IVF_OK);
	L = layout(Y, n, k, a, 4);
	rs_ivf_probe_order(centroids, 4, k, x, order);
	for (int l = 0; l < 4; l++)
		probe[l] = order[l].list;
	UNIT_CHECK(probe[0] == a[0] && probe[1] == a[1]);

	/* unfiltered: one list, cluster 0's items */
	found = rs_q8_score_lists(L.q8, L.item, L.begin, probe, 4, 1, Y, NULL, x, NULL, top_n,
							  scratch, idx, score, &probed);
	UNIT_CHECK(found == top_n && probed == 1);
	for (int r = 0; r < found; r++)
		UNIT_CHECK(idx[r] % c == 0);

	/* clusters 0 and 1 filtered out: the third list in probe order (cluster 2) */
	for (int64_t i = 0; i < n; i++)
		if (i % c < 2)
			rs_bitmap_set(exclude, i);
	found = rs_q8_score_lists(L.q8, L.item, L.begin, probe, 4, 1, Y, NULL, x, exclude, top_n,
							  scratch, idx, score, &probed);
	UNIT_CHECK(found == top_n && probed == 3);
	for (int r = 0; r < found; r++)
		UNIT_CHECK(idx[r] % c == 2);

	/* three items pass in all: every list scanned, three rows */
	memset(exclude, 0xff, RS_BITMAP_BYTES(n));
	exclude[0] &= (uint8_t) ~(1u << 5);
	exclude[1] &= (uint8_t) ~(1u << 2);
	exclude[2] &= (uint8_t) ~(1u << 7);
	found = rs_q8_score_lists(L.q8, L.item, L.begin, probe, 4, 1, Y, NULL, x, exclude, top_n,
							  scratch, idx, score, &probed);
	UNIT_CHECK(found == 3 && probed == 4);
	free_layout(&L);
	free(Y);
	free(a);
	free(exclude);
	free(scratch);
}
