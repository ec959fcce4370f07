/*
 * test_bpr.c
 *		Unit tests of the BPR kernel (src/kernel/bpr.c): the loss falls,
 *		results are bit-identical for 1, 2, 3 and 7 threads (every sampling,
 *		with and without the adversarial term) and with or without the
 *		bitmap of seen pairs, which holds exactly the pairs; the held-out
 *		item of block-diagonal tastes ranks first, the
 *		cells partition the pairs, a stop callback stops a stratum, and bad
 *		arguments are refused; the fold-in's item weights (1: none, 0:
 *		no step).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bpr.h"
#include "rng.h"
#include "sparse.h"
#include "unit.h"

/* A training run owning its arrays. */
typedef struct TestBpr
{
	RsCsr		R;
	RsBprRun	run;
} TestBpr;

/* R from a dense 0/1 matrix (n_users x n_items, row-major). */
static void
build_matrix(TestBpr *t, int32_t n_users, int32_t n_items, const unsigned char *dense)
{
	int64_t		nnz = 0;
	int32_t    *rows = malloc(sizeof(int32_t) * n_users * n_items);
	int32_t    *cols = malloc(sizeof(int32_t) * n_users * n_items);
	float	   *vals = malloc(sizeof(float) * n_users * n_items);

	for (int32_t u = 0; u < n_users; u++)
		for (int32_t i = 0; i < n_items; i++)
			if (dense[(int64_t) u * n_items + i])
			{
				rows[nnz] = u;
				cols[nnz] = i;
				vals[nnz++] = 1;
			}
	t->R.indptr = malloc(sizeof(int64_t) * (n_users + 1));
	t->R.indices = malloc(sizeof(int32_t) * (nnz + 1));
	t->R.data = malloc(sizeof(float) * (nnz + 1));
	rs_coo_to_csr(n_users, n_items, nnz, rows, cols, vals, &t->R);
	free(rows);
	free(cols);
	free(vals);
}

/*
 * Allocate and prepare a run of k factors on t->R, with the bitmap of seen
 * pairs when the kernel offers it and with_seen.
 */
static void
setup_run_seen(TestBpr *t, int k, RsBprSampling sampling, float eps, uint64_t seed,
			   bool with_seen)
{
	RsBprRun   *run = &t->run;
	int			B;

	memset(run, 0, sizeof(*run));
	run->R = &t->R;
	run->k = k;
	run->learning_rate = 0.05f;
	run->reg = 0.001f;
	run->sampling = sampling;
	run->adv_epsilon = eps;
	run->adv_weight = 1;
	run->seed = seed;
	run->nblocks = B = rs_bpr_blocks(&t->R);
	run->track_loss = 1;
	run->X = malloc(sizeof(float) * t->R.n_rows * k);
	run->Y = malloc(sizeof(float) * t->R.n_cols * k);
	run->bias = calloc(t->R.n_cols, sizeof(float));
	rs_bpr_init_rows(run->X, 0, t->R.n_rows, k, seed);
	rs_bpr_init_rows(run->Y, 0, t->R.n_cols, k, seed + 1);
	run->cell_start = malloc(sizeof(int64_t) * (B * B + 1));
	run->cell_user = malloc(sizeof(int32_t) * (t->R.nnz + 1));
	run->cell_item = malloc(sizeof(int32_t) * (t->R.nnz + 1));
	run->block_item_start = malloc(sizeof(int64_t) * (B + 1));
	run->block_items = malloc(sizeof(int32_t) * (t->R.n_cols + 1));
	run->pool_start = malloc(sizeof(int64_t) * (B + 1));
	run->pool_items = malloc(sizeof(int32_t) * (t->R.nnz + 1));
	run->cell_loss = malloc(sizeof(double) * B * B);
	if (with_seen && rs_bpr_seen_words(run) > 0)
	{
		run->seen = calloc(sizeof(uint64_t), rs_bpr_seen_words(run));
		run->user_row = malloc(sizeof(int32_t) * t->R.n_rows);
		run->item_col = malloc(sizeof(int32_t) * t->R.n_cols);
	}
	UNIT_CHECK(rs_bpr_prepare(run) == RS_BPR_OK);
}

/* The same with the bitmap (as train_bpr runs when it fits). */
static void
setup_run(TestBpr *t, int k, RsBprSampling sampling, float eps, uint64_t seed)
{
	setup_run_seen(t, k, sampling, eps, seed, true);
}

static void
free_run(TestBpr *t)
{
	RsBprRun   *run = &t->run;

	free(run->X);
	free(run->Y);
	free(run->bias);
	free(run->cell_start);
	free(run->cell_user);
	free(run->cell_item);
	free(run->block_item_start);
	free(run->block_items);
	free(run->pool_start);
	free(run->pool_items);
	free(run->cell_loss);
	free(run->seen);
	free(run->user_row);
	free(run->item_col);
}

/* One epoch: every stratum; returns the mean loss, NAN on an error. */
static double
epoch(TestBpr *t, int e, int adversarial, int nthreads)
{
	for (int s = 0; s < t->run.nblocks; s++)
		if (rs_bpr_stratum(&t->run, e, s, adversarial, nthreads, NULL, NULL) != RS_BPR_OK)
			return NAN;
	return rs_bpr_epoch_loss(&t->run);
}

/*
 * Block-diagonal tastes: groups of users each like every item of their
 * own group of items, except one held out per user (returned in held_out).
 */
static unsigned char *
block_diagonal(int32_t n_users, int32_t n_items, int groups, int32_t *held_out)
{
	unsigned char *dense = calloc((size_t) n_users * n_items, 1);

	for (int32_t u = 0; u < n_users; u++)
	{
		int			g = u % groups;
		int32_t		per = n_items / groups;

		for (int32_t i = g * per; i < (g + 1) * per; i++)
			dense[(int64_t) u * n_items + i] = 1;
		held_out[u] = g * per + (int32_t) (rs_rng_u64(7, (uint64_t) u) % per);
		dense[(int64_t) u * n_items + held_out[u]] = 0;
	}
	return dense;
}

/* Random sparse tastes with some structure (for loss and determinism). */
static unsigned char *
random_tastes(int32_t n_users, int32_t n_items)
{
	unsigned char *dense = calloc((size_t) n_users * n_items, 1);

	for (int32_t u = 0; u < n_users; u++)
		for (int32_t i = 0; i < n_items; i++)
		{
			/* likelier near the diagonal band, and for popular (low) items */
			double		p = 0.02 + 0.3 * (abs((int) (u * n_items / n_users) - i) < n_items / 8) +
				0.1 * (i < n_items / 10);

			dense[(int64_t) u * n_items + i] = rs_rng_uniform_double(11, (uint64_t) u * n_items + i) < p;
		}
	return dense;
}

UNIT_TEST(test_bpr_loss_decreases)
{
	RsBprSampling modes[3] = {RS_BPR_UNIFORM, RS_BPR_POPULARITY, RS_BPR_ADAPTIVE};

	for (int m = 0; m < 3; m++)
	{
		TestBpr		t;
		unsigned char *dense = random_tastes(400, 300);
		double		first,
					last = NAN;

		build_matrix(&t, 400, 300, dense);
		setup_run(&t, 16, modes[m], 0, 5);
		UNIT_CHECK(t.run.nblocks > 1);
		first = epoch(&t, 0, 0, 2);
		UNIT_CHECK_NEAR(first, log(2.0), 0.05);	/* small factors: z near 0 */
		for (int e = 1; e < 30; e++)
			last = epoch(&t, e, 0, 2);
		/* adaptive's negatives are the hard ones: its loss stays higher */
		UNIT_CHECK(last < (modes[m] == RS_BPR_ADAPTIVE ? 0.9 : 0.5) * first);
		free_run(&t);
		free(dense);
	}
}

/* X, Y and bias after a few epochs with nthreads threads. */
static void
train_copy(const unsigned char *dense, RsBprSampling sampling, float eps, int nthreads,
		   bool with_seen, float *X, float *Y, float *bias, double *loss)
{
	TestBpr		t;

	build_matrix(&t, 300, 200, dense);
	setup_run_seen(&t, 24, sampling, eps, 99, with_seen);
	UNIT_CHECK((t.run.seen != NULL) == with_seen);
	for (int e = 0; e < 6; e++)
		*loss = epoch(&t, e, e >= 3, nthreads);
	memcpy(X, t.run.X, sizeof(float) * 300 * 24);
	memcpy(Y, t.run.Y, sizeof(float) * 200 * 24);
	memcpy(bias, t.run.bias, sizeof(float) * 200);
	free_run(&t);
}

UNIT_TEST(test_bpr_deterministic_across_threads)
{
	unsigned char *dense = random_tastes(300, 200);
	RsBprSampling modes[3] = {RS_BPR_UNIFORM, RS_BPR_POPULARITY, RS_BPR_ADAPTIVE};
	float	   *X0 = malloc(sizeof(float) * 300 * 24),
			   *Y0 = malloc(sizeof(float) * 200 * 24),
			   *b0 = malloc(sizeof(float) * 200);
	float	   *X1 = malloc(sizeof(float) * 300 * 24),
			   *Y1 = malloc(sizeof(float) * 200 * 24),
			   *b1 = malloc(sizeof(float) * 200);
	int			threads[4] = {2, 3, 7, 2};

	for (int m = 0; m < 3; m++)
		for (int adv = 0; adv < 2; adv++)
		{
			double		loss0,
						loss1;

			train_copy(dense, modes[m], adv ? 0.5f : 0, 1, true, X0, Y0, b0, &loss0);
			UNIT_CHECK(isfinite(loss0));
			/* the last run: without the bitmap (a binary search instead) */
			for (int n = 0; n < 4; n++)
			{
				train_copy(dense, modes[m], adv ? 0.5f : 0, threads[n], n < 3, X1, Y1, b1, &loss1);
				UNIT_CHECK(memcmp(X0, X1, sizeof(float) * 300 * 24) == 0);
				UNIT_CHECK(memcmp(Y0, Y1, sizeof(float) * 200 * 24) == 0);
				UNIT_CHECK(memcmp(b0, b1, sizeof(float) * 200) == 0);
				UNIT_CHECK(loss0 == loss1);
			}
		}
	/* another seed gives another model */
	{
		TestBpr		t;

		build_matrix(&t, 300, 200, dense);
		setup_run(&t, 24, RS_BPR_ADAPTIVE, 0.5f, 100);
		for (int e = 0; e < 6; e++)
			epoch(&t, e, e >= 3, 1);
		UNIT_CHECK(memcmp(X0, t.run.X, sizeof(float) * 300 * 24) != 0);
		free_run(&t);
	}
	free(X0);
	free(Y0);
	free(b0);
	free(X1);
	free(Y1);
	free(b1);
	free(dense);
}

/* Score of item i for user u. */
static float
score(const RsBprRun *run, int32_t u, int32_t i)
{
	float		s = run->bias[i];

	for (int f = 0; f < run->k; f++)
		s += run->X[(int64_t) u * run->k + f] * run->Y[(int64_t) i * run->k + f];
	return s;
}

/*
 * Known by construction: on block-diagonal tastes each user's held-out
 * item is in the user's own group, so it ranks first among the items the
 * user has not seen; with and without the adversarial term.
 */
UNIT_TEST(test_bpr_checkerboard)
{
	int32_t		n_users = 256,
				n_items = 128;
	int32_t    *held_out = malloc(sizeof(int32_t) * n_users);
	unsigned char *dense = block_diagonal(n_users, n_items, 4, held_out);

	for (int adv = 0; adv < 2; adv++)
	{
		TestBpr		t;
		int			first = 0;

		build_matrix(&t, n_users, n_items, dense);
		setup_run(&t, 8, RS_BPR_UNIFORM, adv ? 0.1f : 0, 3);
		for (int e = 0; e < 40; e++)
			epoch(&t, e, adv && e >= 20, 2);
		for (int32_t u = 0; u < n_users; u++)
		{
			float		target = score(&t.run, u, held_out[u]);
			bool		top = true;

			for (int32_t i = 0; i < n_items && top; i++)
				if (i != held_out[u] && !dense[(int64_t) u * n_items + i] &&
					score(&t.run, u, i) >= target)
					top = false;
			first += top;
		}
		UNIT_CHECK(first == n_users);
		free_run(&t);
	}
	free(held_out);
	free(dense);
}

/* The cells hold every pair once, each in its user's and item's blocks. */
UNIT_TEST(test_bpr_cells_partition_pairs)
{
	unsigned char *dense = random_tastes(300, 200);
	unsigned char *seen = calloc(300 * 200, 1);
	TestBpr		t;
	int			B;

	build_matrix(&t, 300, 200, dense);
	setup_run(&t, 4, RS_BPR_UNIFORM, 0, 1);
	B = t.run.nblocks;
	UNIT_CHECK(B == rs_bpr_blocks(&t.R) && B == 6);
	UNIT_CHECK(t.run.cell_start[B * B] == t.R.nnz);
	UNIT_CHECK(t.run.pool_start[B] == t.R.nnz);
	UNIT_CHECK(t.run.block_item_start[B] == 200);
	for (int c = 0; c < B * B; c++)
		for (int64_t e = t.run.cell_start[c]; e < t.run.cell_start[c + 1]; e++)
		{
			int32_t		u = t.run.cell_user[e],
						i = t.run.cell_item[e];
			int			ib = -1;

			UNIT_CHECK(dense[u * 200 + i] && !seen[u * 200 + i]);
			seen[u * 200 + i] = 1;
			for (int b = 0; b < B; b++)
				for (int64_t p = t.run.block_item_start[b]; p < t.run.block_item_start[b + 1]; p++)
					if (t.run.block_items[p] == i)
						ib = b;
			UNIT_CHECK(ib == c % B);
		}
	free_run(&t);
	free(seen);
	free(dense);
}

/*
 * The bitmap of seen pairs holds exactly the pairs: the bit of (u, i), at
 * u's row of cell (block of u, block of i) and i's column, is set iff u
 * has i.  Data too sparse for it get none.
 */
UNIT_TEST(test_bpr_seen_bitmap)
{
	unsigned char *dense = random_tastes(300, 200);
	TestBpr		t;
	RsBprRun   *run = &t.run;
	int			B;
	int64_t		set = 0;

	build_matrix(&t, 300, 200, dense);
	setup_run(&t, 4, RS_BPR_UNIFORM, 0, 1);
	B = run->nblocks;
	UNIT_CHECK(run->seen != NULL);
	UNIT_CHECK(run->seen_user_start[B] == 300);
	for (int32_t u = 0; u < 300; u++)
		for (int32_t i = 0; i < 200; i++)
		{
			int			ub = -1,
						ib = -1;
			int64_t		stride,
						row;
			const uint64_t *cell;

			for (int c = 0; c < B * B; c++)
				for (int64_t e = run->cell_start[c]; e < run->cell_start[c + 1]; e++)
					if (run->cell_user[e] == u)
						ub = c / B;
			for (int b = 0; b < B; b++)
				for (int64_t p = run->block_item_start[b]; p < run->block_item_start[b + 1]; p++)
					if (run->block_items[p] == i)
					{
						ib = b;
						UNIT_CHECK(run->item_col[i] == p - run->block_item_start[b]);
					}
			if (ub < 0)
				continue;		/* a user without pairs: no row to read */
			UNIT_CHECK(run->user_row[u] >= 0 &&
					   run->user_row[u] < run->seen_user_start[ub + 1] - run->seen_user_start[ub]);
			stride = run->seen_word_start[ib + 1] - run->seen_word_start[ib];
			cell = run->seen + run->seen_user_start[ub] * run->seen_word_start[B] +
				(run->seen_user_start[ub + 1] - run->seen_user_start[ub]) * run->seen_word_start[ib];
			row = run->user_row[u] * stride;
			UNIT_CHECK(((cell[row + run->item_col[i] / 64] >> (run->item_col[i] % 64)) & 1) ==
					   dense[u * 200 + i]);
			set += dense[u * 200 + i];
		}
	UNIT_CHECK(set == t.R.nnz);
	free_run(&t);
	free(dense);

	/* one pair per user among 20000 items: 2.5 kB a pair, no bitmap */
	{
		unsigned char *sparse = calloc(40 * 20000, 1);

		for (int u = 0; u < 40; u++)
			sparse[u * 20000 + u * 397] = 1;
		build_matrix(&t, 40, 20000, sparse);
		setup_run(&t, 4, RS_BPR_UNIFORM, 0, 1);
		UNIT_CHECK(rs_bpr_seen_words(&t.run) == 0 && t.run.seen == NULL);
		UNIT_CHECK(epoch(&t, 0, 0, 2) >= 0);
		free_run(&t);
		free(sparse);
	}
}

static int	stop_calls;

static int
stop_now(void *arg)
{
	stop_calls++;
	return 1;
}

/*
 * A stop callback that says stop ends a stratum at its first call.  With
 * one thread the caller does the whole stratum, so it is asked; with two
 * the other thread may take nearly every cell, and the caller may not
 * reach the work between two calls: then the stratum completes.
 */
UNIT_TEST(test_bpr_stop)
{
	unsigned char *dense = random_tastes(2000, 1000);
	TestBpr		t;

	build_matrix(&t, 2000, 1000, dense);
	setup_run(&t, 512, RS_BPR_UNIFORM, 0, 1);
	for (int threads = 1; threads <= 2; threads++)
	{
		int			status;

		stop_calls = 0;
		status = rs_bpr_stratum(&t.run, 0, 0, 0, threads, stop_now, NULL);
		UNIT_CHECK(stop_calls <= 1);
		UNIT_CHECK(threads == 2 || stop_calls == 1);
		UNIT_CHECK(status == (stop_calls == 1 ? RS_BPR_STOPPED : RS_BPR_OK));
	}
	free_run(&t);
	free(dense);
}

UNIT_TEST(test_bpr_bad_arguments)
{
	unsigned char *dense = random_tastes(100, 100);
	TestBpr		t;

	build_matrix(&t, 100, 100, dense);
	setup_run(&t, 4, RS_BPR_UNIFORM, 0, 1);
	UNIT_CHECK(rs_bpr_stratum(&t.run, 0, t.run.nblocks, 0, 1, NULL, NULL) == RS_BPR_ERR_ARGUMENT);
	UNIT_CHECK(rs_bpr_stratum(&t.run, -1, 0, 0, 1, NULL, NULL) == RS_BPR_ERR_ARGUMENT);
	t.run.k = RS_BPR_MAX_FACTORS + 1;
	UNIT_CHECK(rs_bpr_prepare(&t.run) == RS_BPR_ERR_ARGUMENT);
	t.run.k = 4;
	free_run(&t);
	free(dense);
}

/*
 * The divergence check's norm: the largest row's; NaN whatever rows follow
 * a NaN row (review 3: a later finite row replaced it), Inf for an
 * infinite row.
 */
UNIT_TEST(test_bpr_max_row_norm)
{
	float		rows[6] = {3, 4, 0, 1, 6, 8};

	UNIT_CHECK(rs_bpr_max_row_norm(rows, 3, 2) == 10);
	UNIT_CHECK(rs_bpr_max_row_norm(rows, 0, 2) == 0);
	rows[0] = NAN;
	UNIT_CHECK(isnan(rs_bpr_max_row_norm(rows, 3, 2)));
	rows[0] = 3;
	rows[5] = NAN;
	UNIT_CHECK(isnan(rs_bpr_max_row_norm(rows, 3, 2)));
	rows[5] = 8;
	rows[2] = INFINITY;
	UNIT_CHECK(isinf(rs_bpr_max_row_norm(rows, 3, 2)));
	rows[0] = NAN;
	UNIT_CHECK(isnan(rs_bpr_max_row_norm(rows, 3, 2)));
}

/*
 * Folding a user in against the trained items ranks the user's held-out
 * item first, like the trained vector, and the result does not depend on
 * how the epochs are chunked.
 */
UNIT_TEST(test_bpr_fold_in)
{
	int32_t		n_users = 256,
				n_items = 128;
	int32_t    *held_out = malloc(sizeof(int32_t) * n_users);
	unsigned char *dense = block_diagonal(n_users, n_items, 4, held_out);
	TestBpr		t;
	int			first = 0;
	float		x[8],
				x2[8];

	build_matrix(&t, n_users, n_items, dense);
	setup_run(&t, 8, RS_BPR_UNIFORM, 0, 3);
	for (int e = 0; e < 40; e++)
		epoch(&t, e, 0, 2);
	for (int32_t u = 0; u < n_users; u++)
	{
		const int32_t *items = t.R.indices + t.R.indptr[u];
		int32_t		n = (int32_t) (t.R.indptr[u + 1] - t.R.indptr[u]);
		float		target;
		bool		top = true;

		memset(x, 0, sizeof(x));
		UNIT_CHECK(rs_bpr_fold_in(t.run.Y, t.run.bias, n_items, 8, items, NULL, n, 0.05f, 0.001f, 9,
								  0, 40, x) == RS_BPR_OK);
		if (u % 17 == 0)
		{
			memset(x2, 0, sizeof(x2));
			rs_bpr_fold_in(t.run.Y, t.run.bias, n_items, 8, items, NULL, n, 0.05f, 0.001f, 9, 0, 13, x2);
			rs_bpr_fold_in(t.run.Y, t.run.bias, n_items, 8, items, NULL, n, 0.05f, 0.001f, 9, 13, 40, x2);
			UNIT_CHECK(memcmp(x, x2, sizeof(x)) == 0);
		}
		target = t.run.bias[held_out[u]];
		for (int f = 0; f < 8; f++)
			target += x[f] * t.run.Y[held_out[u] * 8 + f];
		for (int32_t i = 0; i < n_items && top; i++)
		{
			float		s = t.run.bias[i];

			for (int f = 0; f < 8; f++)
				s += x[f] * t.run.Y[i * 8 + f];
			if (i != held_out[u] && !dense[(int64_t) u * n_items + i] && s >= target)
				top = false;
		}
		first += top;
	}
	UNIT_CHECK(first == n_users);
	/* weights of 1 are no weights; a weight 0 item moves nothing */
	{
		const int32_t *items = t.R.indices + t.R.indptr[5];
		int32_t		n = (int32_t) (t.R.indptr[6] - t.R.indptr[5]);
		float	   *w = malloc(sizeof(float) * n);

		for (int32_t j = 0; j < n; j++)
			w[j] = 1;
		memset(x, 0, sizeof(x));
		memset(x2, 0, sizeof(x2));
		rs_bpr_fold_in(t.run.Y, t.run.bias, n_items, 8, items, NULL, n, 0.05f, 0.001f, 9, 0, 40, x);
		rs_bpr_fold_in(t.run.Y, t.run.bias, n_items, 8, items, w, n, 0.05f, 0.001f, 9, 0, 40, x2);
		UNIT_CHECK(memcmp(x, x2, sizeof(x)) == 0);
		for (int32_t j = 0; j < n; j++)
			w[j] = 0;
		memset(x2, 0, sizeof(x2));
		rs_bpr_fold_in(t.run.Y, t.run.bias, n_items, 8, items, w, n, 0.05f, 0.001f, 9, 0, 40, x2);
		for (int f = 0; f < 8; f++)
			UNIT_CHECK(x2[f] == 0);
		free(w);
	}
	UNIT_CHECK(rs_bpr_fold_in(t.run.Y, t.run.bias, n_items, 0, NULL, NULL, 0, 0.05f, 0, 9, 0, 1, x) ==
			   RS_BPR_ERR_ARGUMENT);
	free_run(&t);
	free(held_out);
	free(dense);
}

/* A stop callback that asks to stop at once. */
static int
refit_stop_now(void *arg)
{
	(*(int *) arg)++;
	return 1;
}

/*
 * The users' refit is each user folded in from zero (rs_bpr_fold_in over
 * the same epochs, with the user's weights), bit for bit, on 1, 2, 3 and
 * 7 threads; a stop stops it; bad arguments are refused.
 */
UNIT_TEST(test_bpr_refit_users)
{
	int32_t		n_users = 300,
				n_items = 96;
	int32_t    *held_out = malloc(sizeof(int32_t) * n_users);
	unsigned char *dense = block_diagonal(n_users, n_items, 4, held_out);
	TestBpr		t;
	float	   *weight;
	float	   *X[4];
	float	   *one;
	int			threads[4] = {1, 2, 3, 7};
	int			asked = 0;

	build_matrix(&t, n_users, n_items, dense);
	setup_run(&t, 8, RS_BPR_UNIFORM, 0, 5);
	for (int e = 0; e < 10; e++)
		epoch(&t, e, 0, 2);
	/* weights in (0, 1], different per pair */
	weight = malloc(sizeof(float) * (t.R.nnz + 1));
	for (int64_t p = 0; p < t.R.nnz; p++)
		weight[p] = 1.0f / (1 + (float) (p % 7));
	for (int r = 0; r < 4; r++)
	{
		X[r] = malloc(sizeof(float) * n_users * 8);
		/* whatever X held before: the refit starts each user from zero */
		for (int64_t v = 0; v < (int64_t) n_users * 8; v++)
			X[r][v] = (float) (r + 1);
		UNIT_CHECK(rs_bpr_refit_users(t.run.Y, t.run.bias, &t.R, 8, weight, 0.05f, 0.001f, 11, 25,
									  X[r], threads[r], NULL, NULL) == RS_BPR_OK);
		if (r > 0)
			UNIT_CHECK(memcmp(X[0], X[r], sizeof(float) * n_users * 8) == 0);
	}
	one = calloc(8, sizeof(float));
	for (int32_t u = 0; u < n_users; u++)
	{
		memset(one, 0, sizeof(float) * 8);
		rs_bpr_fold_in(t.run.Y, t.run.bias, n_items, 8, t.R.indices + t.R.indptr[u],
					   weight + t.R.indptr[u], (int32_t) (t.R.indptr[u + 1] - t.R.indptr[u]),
					   0.05f, 0.001f, 11, 0, 25, one);
		UNIT_CHECK(memcmp(one, X[1] + (int64_t) u * 8, sizeof(float) * 8) == 0);
	}
	/* without weights: the same as weights of 1 */
	for (int64_t p = 0; p < t.R.nnz; p++)
		weight[p] = 1;
	rs_bpr_refit_users(t.run.Y, t.run.bias, &t.R, 8, weight, 0.05f, 0.001f, 11, 25, X[0], 1, NULL,
					   NULL);
	rs_bpr_refit_users(t.run.Y, t.run.bias, &t.R, 8, NULL, 0.05f, 0.001f, 11, 25, X[1], 2, NULL,
					   NULL);
	UNIT_CHECK(memcmp(X[0], X[1], sizeof(float) * n_users * 8) == 0);
	/* a stop: enough epochs that the caller's thread asks at least once */
	UNIT_CHECK(rs_bpr_refit_users(t.run.Y, t.run.bias, &t.R, 8, NULL, 0.05f, 0.001f, 11, 100000,
								  X[2], 2, refit_stop_now, &asked) == RS_BPR_STOPPED);
	UNIT_CHECK(asked == 1);
	UNIT_CHECK(rs_bpr_refit_users(t.run.Y, t.run.bias, &t.R, 0, NULL, 0.05f, 0.001f, 11, 5, X[2], 2,
								  NULL, NULL) == RS_BPR_ERR_ARGUMENT);
	UNIT_CHECK(rs_bpr_refit_users(t.run.Y, t.run.bias, &t.R, 8, NULL, 0.05f, 0.001f, 11, -1, X[2], 2,
								  NULL, NULL) == RS_BPR_ERR_ARGUMENT);
	for (int r = 0; r < 4; r++)
		free(X[r]);
	free(one);
	free(weight);
	free_run(&t);
	free(held_out);
	free(dense);
}
