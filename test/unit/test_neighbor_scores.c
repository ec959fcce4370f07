/*
 * test_neighbor_scores.c
 *		Unit tests of src/kernel/neighbor_scores.c: scores from neighbour
 *		lists against a dense brute-force sum.
 */
#include <stdlib.h>
#include <string.h>

#include "neighbor_scores.h"
#include "unit.h"

/* Lists of 4 items: 0 -> {1: 0.5, 2: 0.25}, 1 -> {0: 2}, 2 -> {}, 3 -> {1: -1, 2: 4}. */
static int64_t indptr[5] = {0, 2, 3, 3, 5};
static int32_t indices[5] = {1, 2, 0, 1, 2};
static float data[5] = {0.5f, 0.25f, 2.0f, -1.0f, 4.0f};

static RsCsr
lists(void)
{
	RsCsr		nb = {4, 4, 5, indptr, indices, data};

	return nb;
}

UNIT_TEST(neighbor_scores_match_brute_force)
{
	RsCsr		nb = lists();
	float		dense[4][4] = {{0}};
	int32_t		rows[3] = {0, 3, 0};	/* a repeated row counts twice */
	float		inputs[3] = {2.0f, 0.5f, 1.0f};
	float		scores[4];
	float		expect[4] = {0};
	int			reached[4] = {0};

	for (int i = 0; i < 4; i++)
		for (int64_t p = indptr[i]; p < indptr[i + 1]; p++)
			dense[i][indices[p]] = data[p];
	for (int m = 0; m < 3; m++)
		for (int j = 0; j < 4; j++)
		{
			expect[j] += inputs[m] * dense[rows[m]][j];
			reached[j] |= dense[rows[m]][j] != 0;
		}
	UNIT_CHECK(rs_neighbor_scores(&nb, rows, inputs, 3, scores) == 0);
	for (int j = 0; j < 4; j++)
	{
		if (reached[j])
			UNIT_CHECK_NEAR(scores[j], expect[j], 1e-6);
		else
			UNIT_CHECK(isnan(scores[j]));
	}
}

UNIT_TEST(neighbor_scores_unreached_and_empty)
{
	RsCsr		nb = lists();
	int32_t		row = 2;		/* an empty list */
	float		one = 1.0f;
	float		scores[4] = {7, 7, 7, 7};

	UNIT_CHECK(rs_neighbor_scores(&nb, &row, &one, 1, scores) == 0);
	for (int j = 0; j < 4; j++)
		UNIT_CHECK(isnan(scores[j]));
	UNIT_CHECK(rs_neighbor_scores(&nb, NULL, NULL, 0, scores) == 0);
	for (int j = 0; j < 4; j++)
		UNIT_CHECK(isnan(scores[j]));
}

UNIT_TEST(neighbor_scores_reject_bad_rows)
{
	RsCsr		nb = lists();
	int32_t		rows[2] = {0, 4};
	float		inputs[2] = {1, 1};
	float		scores[4] = {7, 7, 7, 7};

	UNIT_CHECK(rs_neighbor_scores(&nb, rows, inputs, 2, scores) == -1);
	UNIT_CHECK(scores[0] == 7 && scores[3] == 7);
	rows[1] = -1;
	UNIT_CHECK(rs_neighbor_scores(&nb, rows, inputs, 2, scores) == -1);
}

UNIT_TEST(user_neighbor_scores_match_brute_force)
{
	/* two neighbours, similarities 0.5 and -0.25; 5 items */
	float		sims[2] = {0.5f, -0.25f};
	int32_t		items_a[3] = {0, 2, 3};
	float		w_a[3] = {1, 2, 4};
	int32_t		rows_b[3] = {10, 11, 12};	/* through a map: 10 -> 2, 11 -> unknown, 12 -> 4 */
	int32_t		map[13];
	float		w_b[3] = {8, 100, 1};
	float		scores[5];
	double		total;

	for (int r = 0; r < 13; r++)
		map[r] = -1;
	map[10] = 2;
	map[12] = 4;
	total = rs_user_neighbor_begin(sims, 2, scores, 5);
	UNIT_CHECK_NEAR(total, 0.75, 1e-12);
	for (int i = 0; i < 5; i++)
		UNIT_CHECK(isnan(scores[i]));
	rs_user_neighbor_add(scores, items_a, NULL, w_a, 3, sims[0], total);
	rs_user_neighbor_add(scores, rows_b, map, w_b, 3, sims[1], total);
	UNIT_CHECK_NEAR(scores[0], 0.5 * 1 / 0.75, 1e-6);
	UNIT_CHECK(isnan(scores[1]));
	UNIT_CHECK_NEAR(scores[2], (0.5 * 2 - 0.25 * 8) / 0.75, 1e-6);
	UNIT_CHECK_NEAR(scores[3], 0.5 * 4 / 0.75, 1e-6);
	UNIT_CHECK_NEAR(scores[4], -0.25 * 1 / 0.75, 1e-6);

	/* no similarity at all: divided by 1e-12, not by zero */
	sims[0] = 0;
	total = rs_user_neighbor_begin(sims, 1, scores, 5);
	rs_user_neighbor_add(scores, items_a, NULL, w_a, 1, 0, total);
	UNIT_CHECK(scores[0] == 0);
}
