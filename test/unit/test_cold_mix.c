/*
 * test_cold_mix.c
 *		Unit tests of src/kernel/cold_mix.c: the cold re-ranker's terms,
 *		its per-user z-scored mix and the fit of the mix's coefficients.
 */
#include <math.h>
#include <string.h>

#include "cold_mix.h"
#include "unit.h"

/* prepare: ln(content + 0.001); each term standardised over the candidates */
UNIT_TEST(cold_mix_prepare_standardises_each_term)
{
	float		content[3] = {0, 1, -2};
	float		terms[RS_COLD_MIX_TERMS * 3] = {0, 0, 0, 1, 2, 3, 5, 5, 5, -1, 0, 1};
	double		mean = 0;
	double		var = 0;

	rs_cold_mix_prepare(content, terms, 3);
	UNIT_CHECK_NEAR(content[0], log(1e-3), 1e-5);
	UNIT_CHECK_NEAR(content[1], log(1.001), 1e-5);
	/* a negative content sum counts as none */
	UNIT_CHECK_NEAR(content[2], log(1e-3), 1e-5);
	/* the prior 1, 2, 3: mean 2, sd sqrt(2/3) */
	UNIT_CHECK_NEAR(terms[3], -1 / sqrt(2.0 / 3), 1e-5);
	UNIT_CHECK_NEAR(terms[5], 1 / sqrt(2.0 / 3), 1e-5);
	/* a constant term is 0 for every candidate, not NaN */
	UNIT_CHECK(terms[6] == 0 && terms[7] == 0 && terms[8] == 0);
	for (int c = 0; c < 3; c++)
		mean += terms[9 + c] / 3;
	for (int c = 0; c < 3; c++)
		var += (terms[9 + c] - mean) * (terms[9 + c] - mean) / 3;
	UNIT_CHECK_NEAR(mean, 0, 1e-6);
	UNIT_CHECK_NEAR(var, 1, 1e-5);
}

/*
 * Two cold rows over four items; the user has items 1 and 3.  Row 0:
 * content {1: 0.5, 2: 0.9, 3: 0.2}, cb2cf {3: -0.4}, lists {1: 2};
 * row 1: content {0: 1}.  Row 0's terms: content 0.7, sharp 0.125 +
 * 0.008, cb2cf -0.4, lists 2; row 1's all 0 but its prior.
 */
UNIT_TEST(cold_mix_user_terms_sum_over_the_history)
{
	int64_t		ptr_c[3] = {0, 3, 4}, ptr_a[3] = {0, 1, 1}, ptr_l[3] = {0, 1, 1};
	int32_t		idx_c[4] = {1, 2, 3, 0}, idx_a[1] = {3}, idx_l[1] = {1};
	float		val_c[4] = {0.5f, 0.9f, 0.2f, 1}, val_a[1] = {-0.4f}, val_l[1] = {2};
	float		prior[2] = {0.3f, 0.7f};
	RsColdLists lists = {2, {ptr_c, ptr_a, ptr_l}, {idx_c, idx_a, idx_l}, {val_c, val_a, val_l}, prior};
	uint8_t		has[4] = {0, 1, 0, 1};
	int32_t		rows[2] = {0, 1};
	float		content[2];
	float		terms[RS_COLD_MIX_TERMS * 2];

	rs_cold_user_terms(&lists, rows, 2, has, content, terms);
	UNIT_CHECK_NEAR(content[0], 0.7, 1e-6);
	UNIT_CHECK_NEAR(content[1], 0, 1e-9);
	UNIT_CHECK_NEAR(terms[RS_COLD_MIX_SHARP * 2], 0.125 + 0.008, 1e-6);
	UNIT_CHECK_NEAR(terms[RS_COLD_MIX_PRIOR * 2 + 1], 0.7, 1e-6);
	UNIT_CHECK_NEAR(terms[RS_COLD_MIX_CB2CF * 2], -0.4, 1e-6);
	UNIT_CHECK_NEAR(terms[RS_COLD_MIX_LISTS * 2], 2, 1e-6);
	UNIT_CHECK(terms[RS_COLD_MIX_LISTS * 2 + 1] == 0);
}

/*
 * Training's user terms through the postings equal the per-row sums (up
 * to the sums' order), for random lists over 40 items and users with
 * repeated items; and the threaded lists of several targets are the
 * single-threaded ones exactly.
 */
UNIT_TEST(cold_mix_posted_terms_equal_the_row_sums)
{
	enum
	{
		ROWS = 7, ITEMS = 40, LEN = 9
	};
	int64_t		ptr[RS_COLD_LISTS][ROWS + 1];
	int32_t		idx[RS_COLD_LISTS][ROWS * LEN];
	float		val[RS_COLD_LISTS][ROWS * LEN];
	float		prior[ROWS];
	RsColdLists lists;
	int64_t		post_ptr[ITEMS + 1];
	int32_t		post_row[RS_COLD_LISTS * ROWS * LEN];
	uint8_t		post_list[RS_COLD_LISTS * ROWS * LEN];
	float		post_val[RS_COLD_LISTS * ROWS * LEN];
	RsColdPostings p = {ITEMS, post_ptr, post_row, post_list, post_val};
	uint32_t	x = 12345;

	lists.n_rows = ROWS;
	for (int l = 0; l < RS_COLD_LISTS; l++)
	{
		ptr[l][0] = 0;
		for (int r = 0; r < ROWS; r++)
		{
			int			len = (r * 3 + l) % LEN;

			for (int e = 0; e < len; e++)
			{
				x = x * 1103515245u + 12345u;
				/* distinct items within a row: a stride through the items */
				idx[l][ptr[l][r] + e] = (int32_t) ((r * 5 + l + e * 7) % ITEMS);
				val[l][ptr[l][r] + e] = ((x >> 8) % 2000) / 1000.0f - (l == 0 ? 0 : 1);
			}
			ptr[l][r + 1] = ptr[l][r] + len;
		}
		lists.indptr[l] = ptr[l];
		lists.idx[l] = idx[l];
		lists.val[l] = val[l];
	}
	for (int r = 0; r < ROWS; r++)
		prior[r] = 0.1f * r;
	lists.prior = prior;
	UNIT_CHECK(rs_cold_postings_size(&lists) == ptr[0][ROWS] + ptr[1][ROWS] + ptr[2][ROWS]);
	rs_cold_postings_build(&lists, &p);
	for (int user = 0; user < 5; user++)
	{
		int32_t		items[12];
		uint8_t		has[ITEMS] = {0};
		uint8_t		seen[ITEMS] = {0};
		int32_t		rows[ROWS];
		float		c1[ROWS], c2[ROWS];
		float		t1[RS_COLD_MIX_TERMS * ROWS], t2[RS_COLD_MIX_TERMS * ROWS];
		double		acc[4 * ROWS];

		for (int a = 0; a < 12; a++)
		{
			/* the last item repeats the first */
			items[a] = a == 11 ? items[0] : (user * 11 + a * 3) % ITEMS;
			has[items[a]] = 1;
		}
		for (int r = 0; r < ROWS; r++)
			rows[r] = r;
		rs_cold_user_terms(&lists, rows, ROWS, has, c1, t1);
		rs_cold_user_terms_posted(&lists, &p, items, 12, seen, acc, c2, t2);
		for (int r = 0; r < ROWS; r++)
			UNIT_CHECK_NEAR(c1[r], c2[r], 1e-5);
		for (int j = 0; j < RS_COLD_MIX_TERMS * ROWS; j++)
			UNIT_CHECK_NEAR(t1[j], t2[j], 1e-5);
		for (int i = 0; i < ITEMS; i++)
			UNIT_CHECK(seen[i] == 0);
	}
}

/*
 * explain's shares: three cold rows over four items, the user has items
 * 1 and 3.  The shares of each row plus coef_prior z(prior) differ
 * between rows exactly as the mixed scores do, every term weighted;
 * the content rise of a row is split by the items' weights; an item not
 * the user's gets nothing.
 */
UNIT_TEST(cold_mix_shares_explain_the_gaps)
{
	int64_t		ptr_c[4] = {0, 3, 4, 6}, ptr_a[4] = {0, 1, 2, 3}, ptr_l[4] = {0, 1, 1, 3};
	int32_t		idx_c[6] = {1, 2, 3, 0, 1, 3}, idx_a[3] = {3, 2, 1}, idx_l[3] = {1, 3, 1};
	float		val_c[6] = {0.5f, 0.9f, 0.2f, 1, 0.1f, 0.6f}, val_a[3] = {-0.4f, 0.3f, 1};
	float		val_l[3] = {2, 0.5f, -1};
	float		prior[3] = {0.3f, 0.7f, 0.1f};
	RsColdLists lists = {3, {ptr_c, ptr_a, ptr_l}, {idx_c, idx_a, idx_l}, {val_c, val_a, val_l}, prior};
	uint8_t		has[4] = {0, 1, 0, 1};
	int32_t		pos[4] = {-1, 0, -1, 1};
	int32_t		rows[3] = {0, 1, 2};
	float		content[3];
	float		terms[RS_COLD_MIX_TERMS * 3];
	float		mix[3];
	double		coef[RS_COLD_MIX_TERMS] = {0.5, 1, 2, 1.5};
	double		sd[RS_COLD_MIX_TERMS];
	double		total[3];

	rs_cold_user_terms(&lists, rows, 3, has, content, terms);
	rs_cold_mix_scales(content, terms, 3, sd);
	rs_cold_mix_apply(content, terms, 3, coef, mix);
	for (int r = 0; r < 3; r++)
	{
		double		share[2] = {0, 0};

		rs_cold_mix_shares(&lists, r, pos, coef, sd, share);
		total[r] = share[0] + share[1] + coef[RS_COLD_MIX_PRIOR] * terms[RS_COLD_MIX_PRIOR * 3 + r];
	}
	UNIT_CHECK_NEAR(total[0] - total[1], mix[0] - mix[1], 1e-4);
	UNIT_CHECK_NEAR(total[2] - total[1], mix[2] - mix[1], 1e-4);
	/* with only the content term, row 0's rise ln(0.701 / 0.001) split 0.5 : 0.2 */
	{
		double		zero[RS_COLD_MIX_TERMS] = {0};
		double		share[2] = {0, 0};

		rs_cold_mix_shares(&lists, 0, pos, zero, sd, share);
		UNIT_CHECK_NEAR(share[0], 0.5 / 0.7 * log(0.701 / 0.001), 1e-5);
		UNIT_CHECK_NEAR(share[1], 0.2 / 0.7 * log(0.701 / 0.001), 1e-5);
	}
	/* row 1 names items 0 and 2 only, not the user's: no share */
	{
		double		share[2] = {0, 0};

		rs_cold_mix_shares(&lists, 1, pos, coef, sd, share);
		UNIT_CHECK(share[0] == 0 && share[1] == 0);
	}
}

/*
 * A case known by construction: 12 users, 10 candidates; each user wants
 * one candidate, which the cb2cf term puts first; the other terms favour
 * candidate 0 for everyone, and content is equal, so ties go to the
 * smallest id.  The fit must weigh cb2cf and reach NDCG 1 from 0.
 */
UNIT_TEST(cold_mix_fit_finds_the_planted_term)
{
	enum
	{
		U = 12, N = 10
	};
	float		content[U * N];
	float		terms[U * N * RS_COLD_MIX_TERMS];
	int64_t		tie[N];
	int64_t		rel_ptr[U + 1];
	int32_t		rel_idx[U];
	double		coef[RS_COLD_MIX_TERMS] = {0};
	double		ndcg = -1;
	float		scratch[N];

	for (int c = 0; c < N; c++)
		tie[c] = 100 + c;
	for (int u = 0; u < U; u++)
	{
		float	   *t = terms + (size_t) u * N * RS_COLD_MIX_TERMS;
		int			want = 1 + (u * 7) % (N - 1);

		rel_ptr[u] = u;
		rel_idx[u] = want;
		for (int c = 0; c < N; c++)
		{
			content[u * N + c] = 0;
			t[RS_COLD_MIX_SHARP * N + c] = c == 0 ? 3 : 0;
			t[RS_COLD_MIX_PRIOR * N + c] = c == 0 ? 5 : (float) c / N;
			t[RS_COLD_MIX_CB2CF * N + c] = c == want ? 1 : 0;
			t[RS_COLD_MIX_LISTS * N + c] = (float) (N - c);
		}
		rs_cold_mix_prepare(content + u * N, t, N);
	}
	rel_ptr[U] = U;
	UNIT_CHECK(rs_cold_mix_ndcg(U, N, content, terms, tie, rel_ptr, rel_idx, coef, scratch) < 0.5);
	UNIT_CHECK(rs_cold_mix_fit(U, N, content, terms, tie, rel_ptr, rel_idx, coef, &ndcg, scratch,
							   NULL, NULL) == RS_COLD_MIX_OK);
	UNIT_CHECK_NEAR(ndcg, 1, 1e-9);
	UNIT_CHECK(coef[RS_COLD_MIX_CB2CF] > 0);
	UNIT_CHECK_NEAR(rs_cold_mix_ndcg(U, N, content, terms, tie, rel_ptr, rel_idx, coef, scratch), 1, 1e-9);
}

static int
stop_now(void *arg)
{
	return 1;
}

UNIT_TEST(cold_mix_fit_stops)
{
	enum
	{
		U = 200, N = 200
	};
	static float content[U * N];
	static float terms[(size_t) U * N * RS_COLD_MIX_TERMS];
	static int64_t tie[N];
	static int64_t rel_ptr[U + 1];
	int32_t		rel_idx[1] = {0};
	double		coef[RS_COLD_MIX_TERMS] = {0};
	double		ndcg;
	static float scratch[N];

	rel_ptr[U] = 1;
	for (int u = 1; u < U; u++)
		rel_ptr[u] = 1;
	UNIT_CHECK(rs_cold_mix_fit(U, N, content, terms, tie, rel_ptr, rel_idx, coef, &ndcg, scratch,
							   stop_now, NULL) == RS_COLD_MIX_STOPPED);
}

/*
 * Lists of a cold item (row 3) over three warm items (rows 0-2), words
 * a, b, c; unit tf-idf rows: 0 = a, 1 = (a + b) / sqrt 2, 2 = c, 3 = a.
 * Content cosines: item 0: 1, item 1: 1 / sqrt 2, item 2: 0.  The prior
 * of word a: (ln 2 + ln 3 + 5 g) / 7 with g the warm items' mean.
 */
UNIT_TEST(cold_mix_item_lists_known_answer)
{
	int64_t		wp[5] = {0, 1, 3, 4, 5};
	int32_t		wi[5] = {0, 0, 1, 2, 0};
	float		s2 = (float) (1 / sqrt(2.0));
	float		wv[5] = {1, s2, s2, 1, 1};
	RsCsr		words = {4, 3, 5, wp, wi, wv};
	/* transpose, warm rows only: a -> 0, 1; b -> 1; c -> 2 */
	int64_t		tp[4] = {0, 2, 3, 4};
	int32_t		ti[4] = {0, 1, 1, 2};
	float		tv[4] = {1, s2, s2, 1};
	RsCsr		wt = {3, 4, 4, tp, ti, tv};
	/* the ridge's rows: binary unit rows of the warm items */
	RsCsr		fit = {4, 3, 4, (int64_t[]) {0, 1, 3, 4, 4}, (int32_t[]) {0, 0, 1, 2}, (float[]) {1, s2, s2, 1}};
	/* lists: 0 <-> 1 */
	RsCsr		lists = {4, 4, 2, (int64_t[]) {0, 1, 2, 2, 2}, (int32_t[]) {1, 0}, (float[]) {1, 1}};
	float		log_users[4] = {(float) log(2.0), (float) log(3.0), (float) log(4.0), 0};
	uint8_t		warm[4] = {1, 1, 1, 0};
	float		word_prior[3];
	float		g;
	RsColdInputs in;
	int32_t		idx[RS_COLD_LISTS * 2];
	float		val[RS_COLD_LISTS * 2];
	int32_t		count[RS_COLD_LISTS];
	float		prior;
	float		work[64];

	rs_cold_word_prior(&wt, log_users, warm, 4, word_prior, &g);
	UNIT_CHECK_NEAR(g, (log(2.0) + log(3.0) + log(4.0)) / 3, 1e-6);
	UNIT_CHECK_NEAR(word_prior[0], (log(2.0) + log(3.0) + 5 * g) / 7, 1e-6);
	in = (RsColdInputs) {&words, &wt, &fit, &lists, word_prior, g, 1.0f, 50, 2};
	UNIT_CHECK(rs_cold_item_work(&in) <= 64);
	UNIT_CHECK(rs_cold_item_lists(&in, 3, idx, val, count, &prior, work) == RS_COLD_MIX_OK);
	UNIT_CHECK_NEAR(prior, word_prior[0], 1e-6);
	UNIT_CHECK(count[RS_COLD_LIST_CONTENT] == 2);
	UNIT_CHECK(idx[0] == 0 && idx[1] == 1);
	UNIT_CHECK_NEAR(val[0], 1, 1e-6);
	UNIT_CHECK_NEAR(val[1], s2, 1e-6);
	/* cb2cf: a over the warm items, never the item itself; item 2 shares no word */
	UNIT_CHECK(count[RS_COLD_LIST_CB2CF] == 2);
	for (int e = 0; e < count[RS_COLD_LIST_CB2CF]; e++)
		UNIT_CHECK(idx[2 + e] == 0 || idx[2 + e] == 1);
	/* lists: a'S spreads item 0's weight to 1 and 1's to 0 */
	UNIT_CHECK(count[RS_COLD_LIST_LEARNED] == 2);
	UNIT_CHECK(rs_cold_item_lists(&in, 4, idx, val, count, &prior, work) == RS_COLD_MIX_BAD_ARGUMENT);
	/* every row as a target, on 1 and 3 threads: the same lists; a bad target named */
	{
		int32_t		targets[5] = {0, 1, 2, 3, 4};
		int32_t		idx1[4 * RS_COLD_LISTS * 2], idx3[4 * RS_COLD_LISTS * 2];
		float		val1[4 * RS_COLD_LISTS * 2], val3[4 * RS_COLD_LISTS * 2];
		int32_t		count1[4 * RS_COLD_LISTS], count3[4 * RS_COLD_LISTS];
		float		prior1[5], prior3[5];
		float		works[3 * 64];
		int32_t		failed;

		memset(idx1, 0, sizeof(idx1));
		memset(idx3, 0, sizeof(idx3));
		memset(val1, 0, sizeof(val1));
		memset(val3, 0, sizeof(val3));
		UNIT_CHECK(rs_cold_items_lists(&in, targets, 4, idx1, val1, count1, prior1, works, 1, &failed) ==
				   RS_COLD_MIX_OK);
		UNIT_CHECK(rs_cold_items_lists(&in, targets, 4, idx3, val3, count3, prior3, works, 3, &failed) ==
				   RS_COLD_MIX_OK);
		UNIT_CHECK(memcmp(count1, count3, sizeof(count1)) == 0);
		UNIT_CHECK(memcmp(idx1, idx3, sizeof(idx1)) == 0);
		UNIT_CHECK(memcmp(val1, val3, sizeof(val1)) == 0);
		UNIT_CHECK(memcmp(prior1, prior3, sizeof(float) * 4) == 0);
		UNIT_CHECK_NEAR(prior1[3], prior, 1e-9);
		UNIT_CHECK(rs_cold_items_lists(&in, targets + 2, 3, idx3, val3, count3, prior3, works, 2, &failed) ==
				   RS_COLD_MIX_BAD_ARGUMENT && failed == 2);
	}
}
