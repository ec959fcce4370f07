/*
 * test_ncf.c
 *		Unit tests of src/kernel/ncf.c: gradients against finite
 *		differences, training lowers the loss and learns a block
 *		structure, the same result whatever the thread count, the stop
 *		callback.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ncf.h"
#include "rng.h"
#include "unit.h"

/* A model of the given shape with freshly initialised arrays (malloc). */
static RsNcfModel
make_model(int n_users, int n_items, int d_gmf, int d_mlp, int n_layers, const int *hidden,
		   uint64_t seed)
{
	RsNcfModel	m;
	RsNcfLayout lay;

	memset(&m, 0, sizeof(m));
	m.shape.n_users = n_users;
	m.shape.n_items = n_items;
	m.shape.d_gmf = d_gmf;
	m.shape.d_mlp = d_mlp;
	m.shape.n_layers = n_layers;
	for (int l = 0; l < n_layers; l++)
		m.shape.hidden[l] = hidden[l];
	rs_ncf_layout(&m.shape, &lay);
	m.user = malloc(sizeof(float) * n_users * rs_ncf_dim(&m.shape));
	m.item = malloc(sizeof(float) * n_items * rs_ncf_dim(&m.shape));
	m.dense = malloc(sizeof(float) * lay.size);
	rs_ncf_init(&m, seed, 0.3f);
	return m;
}

static void
free_model(RsNcfModel *m)
{
	free(m->user);
	free(m->item);
	free(m->dense);
}

/*
 * Block-diagonal interactions: users and items in 4 blocks; user u likes
 * every item of its block except the one it holds out (item u % block).
 */
#define BLOCKS 4
#define BLOCK_USERS 8
#define BLOCK_ITEMS 8

static RsCsr
block_matrix(void)
{
	int			n_users = BLOCKS * BLOCK_USERS;
	RsCsr		R;
	int64_t		nnz = 0;

	R.n_rows = n_users;
	R.n_cols = BLOCKS * BLOCK_ITEMS;
	R.indptr = malloc(sizeof(int64_t) * (n_users + 1));
	R.indices = malloc(sizeof(int32_t) * n_users * BLOCK_ITEMS);
	R.data = malloc(sizeof(float) * n_users * BLOCK_ITEMS);
	R.indptr[0] = 0;
	for (int u = 0; u < n_users; u++)
	{
		int			b = u / BLOCK_USERS;

		for (int j = 0; j < BLOCK_ITEMS; j++)
			if (j != u % BLOCK_ITEMS)
			{
				R.indices[nnz] = b * BLOCK_ITEMS + j;
				R.data[nnz] = 1;
				nnz++;
			}
		R.indptr[u + 1] = nnz;
	}
	R.nnz = nnz;
	return R;
}

static RsNcfConfig
config(int threads)
{
	RsNcfConfig c;

	memset(&c, 0, sizeof(c));
	c.batch = 64;
	c.negatives = 4;
	c.learning_rate = 0.01f;
	c.beta1 = 0.9f;
	c.beta2 = 0.999f;
	c.adam_eps = 1e-7f;
	c.l2 = 1e-4f;
	c.dropout = 0.1f;
	c.seed = 7;
	c.threads = threads;
	return c;
}

/* Train for epochs; returns the last epoch's loss (first in *first). */
static double
train(RsNcfModel *m, const RsCsr *R, const RsNcfConfig *c, int epochs, double *first)
{
	size_t		bytes = rs_ncf_workspace_bytes(&m->shape, R->nnz, c);
	void	   *ws = calloc(1, bytes);
	double		loss = 0;

	for (int e = 0; e < epochs; e++)
	{
		UNIT_CHECK(rs_ncf_train_epoch(m, R, c, e, ws, &loss) == RS_NCF_OK);
		if (e == 0 && first)
			*first = loss;
	}
	free(ws);
	return loss;
}

UNIT_TEST(ncf_gradient_matches_finite_differences)
{
	int			hidden[2] = {6, 4};
	RsNcfModel	m = make_model(3, 5, 3, 4, 2, hidden, 11);
	RsNcfLayout lay;
	int32_t		users[4] = {0, 1, 2, 1};
	int32_t		items[4] = {4, 0, 2, 3};
	float		labels[4] = {1, 0, 1, 0};
	int			dim = rs_ncf_dim(&m.shape);
	float	   *scratch = malloc(sizeof(float) * rs_ncf_sample_scratch_floats(&m.shape, 4));
	float	   *dg;
	float		gu[4 * 7];
	float		gi[4 * 7];
	const float h = 1e-2f;
	int			checked = 0;
	int			bad = 0;

	rs_ncf_layout(&m.shape, &lay);
	dg = malloc(sizeof(float) * lay.size);
	/* biases away from 0, so that the bias gradients are tested too */
	for (int64_t e = 0; e < lay.size; e++)
		if (m.dense[e] == 0)
			m.dense[e] = 0.05f;
	rs_ncf_loss_gradient(&m, users, items, labels, 4, dg, gu, gi, scratch);
	/* every dense parameter: central differences */
	for (int64_t e = 0; e < lay.size; e++)
	{
		float		x = m.dense[e];
		double		lp, lm, fd;

		m.dense[e] = x + h;
		lp = rs_ncf_loss_gradient(&m, users, items, labels, 4, NULL, NULL, NULL, scratch);
		m.dense[e] = x - h;
		lm = rs_ncf_loss_gradient(&m, users, items, labels, 4, NULL, NULL, NULL, scratch);
		m.dense[e] = x;
		fd = (lp - lm) / (2 * h);
		checked++;
		if (fabs(fd - dg[e]) > 2e-3 + 0.05 * fabs(fd))
		{
			fprintf(stderr, "  dense %ld: analytic %g, numeric %g\n", (long) e, dg[e], fd);
			bad++;
		}
	}
	/* sample 0's user embedding (user 0 appears once) */
	for (int a = 0; a < dim; a++)
	{
		float		x = m.user[a];
		double		lp, lm, fd;

		m.user[a] = x + h;
		lp = rs_ncf_loss_gradient(&m, users, items, labels, 4, NULL, NULL, NULL, scratch);
		m.user[a] = x - h;
		lm = rs_ncf_loss_gradient(&m, users, items, labels, 4, NULL, NULL, NULL, scratch);
		m.user[a] = x;
		fd = (lp - lm) / (2 * h);
		checked++;
		if (fabs(fd - gu[a]) > 2e-3 + 0.05 * fabs(fd))
		{
			fprintf(stderr, "  user 0 [%d]: analytic %g, numeric %g\n", a, gu[a], fd);
			bad++;
		}
	}
	/* sample 2's item (item 2 appears once) */
	for (int a = 0; a < dim; a++)
	{
		float		x = m.item[2 * dim + a];
		double		lp, lm, fd;

		m.item[2 * dim + a] = x + h;
		lp = rs_ncf_loss_gradient(&m, users, items, labels, 4, NULL, NULL, NULL, scratch);
		m.item[2 * dim + a] = x - h;
		lm = rs_ncf_loss_gradient(&m, users, items, labels, 4, NULL, NULL, NULL, scratch);
		m.item[2 * dim + a] = x;
		fd = (lp - lm) / (2 * h);
		checked++;
		if (fabs(fd - gi[2 * dim + a]) > 2e-3 + 0.05 * fabs(fd))
		{
			fprintf(stderr, "  item 2 [%d]: analytic %g, numeric %g\n", a, gi[2 * dim + a], fd);
			bad++;
		}
	}
	UNIT_CHECK(checked == lay.size + 2 * dim);
	UNIT_CHECK(bad == 0);
	free(dg);
	free(scratch);
	free_model(&m);
}

UNIT_TEST(ncf_gradient_without_gmf_or_hidden_layers)
{
	/* no GMF branch, no hidden layer: z = w . [p | q] + b */
	RsNcfModel	m = make_model(2, 3, 0, 3, 0, NULL, 5);
	RsNcfLayout lay;
	int32_t		users[2] = {0, 1};
	int32_t		items[2] = {2, 1};
	float		labels[2] = {1, 0};
	float	   *scratch = malloc(sizeof(float) * rs_ncf_sample_scratch_floats(&m.shape, 2));
	float		dg[8], gu[6], gi[6];
	double		loss;
	double		z0 = 0;

	rs_ncf_layout(&m.shape, &lay);
	UNIT_CHECK(lay.size == 7);
	loss = rs_ncf_loss_gradient(&m, users, items, labels, 2, dg, gu, gi, scratch);
	/* by hand for sample 0 */
	for (int a = 0; a < 3; a++)
		z0 += m.dense[a] * m.user[a] + m.dense[3 + a] * m.item[2 * 3 + a];
	z0 += m.dense[6];
	/* d loss / d user_0 = (sigmoid(z0) - 1) / 2 * w[0 .. 3) */
	for (int a = 0; a < 3; a++)
		UNIT_CHECK_NEAR(gu[a], (1 / (1 + exp(-z0)) - 1) / 2 * m.dense[a], 1e-5);
	UNIT_CHECK(loss > 0);
	free(scratch);
	free_model(&m);
}

UNIT_TEST(ncf_training_lowers_loss_and_ranks_the_held_out_item_first)
{
	int			hidden[2] = {16, 8};
	RsCsr		R = block_matrix();
	RsNcfModel	m = make_model(R.n_rows, R.n_cols, 8, 8, 2, hidden, 3);
	RsNcfConfig c = config(2);
	float	   *scratch = malloc(sizeof(float) * rs_ncf_score_scratch_floats(&m.shape));
	float		scores[BLOCKS * BLOCK_ITEMS];
	double		first = 0;
	double		last;
	int			firsts = 0;

	last = train(&m, &R, &c, 60, &first);
	UNIT_CHECK(last < 0.5 * first);
	/* each user's best unseen item is the one its block held out */
	for (int u = 0; u < R.n_rows; u++)
	{
		int			best = -1;

		rs_ncf_score(&m, m.user + (int64_t) u * rs_ncf_dim(&m.shape), NULL, 0, R.n_cols, scores,
					 scratch);
		for (int i = 0; i < R.n_cols; i++)
		{
			int			seen = 0;

			for (int64_t e = R.indptr[u]; e < R.indptr[u + 1]; e++)
				seen |= R.indices[e] == i;
			if (!seen && (best < 0 || scores[i] > scores[best]))
				best = i;
		}
		firsts += best == (u / BLOCK_USERS) * BLOCK_ITEMS + u % BLOCK_ITEMS;
	}
	UNIT_CHECK(firsts == R.n_rows);
	free(scratch);
	free_model(&m);
	free(R.indptr);
	free(R.indices);
	free(R.data);
}

UNIT_TEST(ncf_same_result_for_any_thread_count)
{
	int			hidden[1] = {12};
	RsCsr		R = block_matrix();
	RsNcfModel	a = make_model(R.n_rows, R.n_cols, 4, 6, 1, hidden, 9);
	RsNcfModel	b = make_model(R.n_rows, R.n_cols, 4, 6, 1, hidden, 9);
	RsNcfConfig ca = config(1);
	RsNcfConfig cb = config(3);
	RsNcfLayout lay;
	int			dim = rs_ncf_dim(&a.shape);

	/* APR on, so that its second pass is covered too */
	ca.adv_epsilon = cb.adv_epsilon = 0.1f;
	ca.adv_weight = cb.adv_weight = 0.5f;
	ca.batch = cb.batch = 100;		/* several chunks per mini-batch */
	rs_ncf_layout(&a.shape, &lay);
	UNIT_CHECK(train(&a, &R, &ca, 5, NULL) == train(&b, &R, &cb, 5, NULL));
	UNIT_CHECK(memcmp(a.user, b.user, sizeof(float) * R.n_rows * dim) == 0);
	UNIT_CHECK(memcmp(a.item, b.item, sizeof(float) * R.n_cols * dim) == 0);
	UNIT_CHECK(memcmp(a.dense, b.dense, sizeof(float) * lay.size) == 0);
	/* and a different seed gives a different model */
	ca.seed = 8;
	free_model(&a);
	a = make_model(R.n_rows, R.n_cols, 4, 6, 1, hidden, 9);
	train(&a, &R, &ca, 5, NULL);
	UNIT_CHECK(memcmp(a.item, b.item, sizeof(float) * R.n_cols * dim) != 0);
	free_model(&a);
	free_model(&b);
	free(R.indptr);
	free(R.indices);
	free(R.data);
}

static int	stop_calls;

static int
stop_on_third(void *arg)
{
	return ++stop_calls >= 3;
}

UNIT_TEST(ncf_stop_callback_stops_between_mini_batches)
{
	int			hidden[1] = {8};
	RsCsr		R = block_matrix();
	RsNcfModel	m = make_model(R.n_rows, R.n_cols, 4, 4, 1, hidden, 1);
	RsNcfConfig c = config(2);
	void	   *ws;
	double		loss = -1;

	c.batch = 16;				/* 224 pairs: 14 mini-batches */
	c.stop = stop_on_third;
	stop_calls = 0;
	ws = calloc(1, rs_ncf_workspace_bytes(&m.shape, R.nnz, &c));
	UNIT_CHECK(rs_ncf_train_epoch(&m, &R, &c, 0, ws, &loss) == RS_NCF_STOPPED);
	UNIT_CHECK(stop_calls == 3);
	free(ws);
	free_model(&m);
	free(R.indptr);
	free(R.indices);
	free(R.data);
}

UNIT_TEST(ncf_score_is_the_forward_pass)
{
	int			hidden[2] = {5, 3};
	RsNcfModel	m = make_model(2, 600, 2, 3, 2, hidden, 4);
	float	   *scratch = malloc(sizeof(float) * rs_ncf_score_scratch_floats(&m.shape));
	float	   *one = malloc(sizeof(float) * rs_ncf_sample_scratch_floats(&m.shape, 1));
	float		scores[600];
	int32_t		pick[3] = {599, 0, 300};
	float		picked[3];
	int			dim = rs_ncf_dim(&m.shape);
	int			bad = 0;

	/* 600 items: three score blocks, the last one short */
	rs_ncf_score(&m, m.user + dim, NULL, 0, 600, scores, scratch);
	for (int32_t i = 0; i < 600; i++)
	{
		int32_t		u = 1;
		float		label = 1;
		/* the loss of a positive is softplus(-z): recover z */
		double		l = rs_ncf_loss_gradient(&m, &u, &i, &label, 1, NULL, NULL, NULL, one);
		double		z = -log(expm1(l));

		bad += fabs(z - scores[i]) > 1e-3 * (1 + fabs(z));
	}
	UNIT_CHECK(bad == 0);
	rs_ncf_score(&m, m.user + dim, pick, 0, 3, picked, scratch);
	UNIT_CHECK(picked[0] == scores[599] && picked[1] == scores[0] && picked[2] == scores[300]);
	free(scratch);
	free(one);
	free_model(&m);
}

UNIT_TEST(ncf_same_result_over_several_waves_of_chunks)
{
	int			hidden[1] = {6};
	RsCsr		R = block_matrix();
	RsNcfModel	a = make_model(R.n_rows, R.n_cols, 2, 3, 1, hidden, 2);
	RsNcfModel	b = make_model(R.n_rows, R.n_cols, 2, 3, 1, hidden, 2);
	RsNcfConfig ca = config(1);
	RsNcfConfig cb = config(4);
	RsNcfLayout lay;

	/* one mini-batch of 224 pairs x 13 samples: 23 chunks, two waves */
	ca.negatives = cb.negatives = 12;
	ca.batch = cb.batch = 1000;
	rs_ncf_layout(&a.shape, &lay);
	UNIT_CHECK(train(&a, &R, &ca, 2, NULL) == train(&b, &R, &cb, 2, NULL));
	UNIT_CHECK(memcmp(a.dense, b.dense, sizeof(float) * lay.size) == 0);
	UNIT_CHECK(memcmp(a.user, b.user, sizeof(float) * R.n_rows * rs_ncf_dim(&a.shape)) == 0);
	free_model(&a);
	free_model(&b);
	free(R.indptr);
	free(R.indices);
	free(R.data);
}

static int
stop_on_second(void *arg)
{
	return ++stop_calls >= 2;
}

static int
stop_always(void *arg)
{
	return 1;
}

UNIT_TEST(ncf_stop_callback_stops_within_a_wide_mini_batch)
{
	/* 128 samples through 64 -> 256 -> 128: above RS_STOP_WORK per chunk */
	int			hidden[2] = {256, 128};
	RsCsr		R = block_matrix();
	RsNcfModel	m = make_model(R.n_rows, R.n_cols, 0, 32, 2, hidden, 1);
	RsNcfConfig c = config(1);
	void	   *ws;
	double		loss = -1;

	c.batch = 1000;				/* all 224 pairs in one mini-batch of 9 chunks */
	c.stop = stop_on_second;
	stop_calls = 0;
	ws = calloc(1, rs_ncf_workspace_bytes(&m.shape, R.nnz, &c));
	/* asked before the mini-batch (no), then after its first chunk (yes) */
	UNIT_CHECK(rs_ncf_train_epoch(&m, &R, &c, 0, ws, &loss) == RS_NCF_STOPPED);
	UNIT_CHECK(stop_calls == 2);
	free(ws);
	free_model(&m);
	free(R.indptr);
	free(R.indices);
	free(R.data);
}

/*
 * A pretrained start (rs_ncf_pretrain) ranks as the factor model: with
 * one-hot block vectors and item biases, every logit is a s + b for the
 * factor score s, with a > 0 (observed pairs score higher); a user the
 * factor model lacks starts at 0 (both branches: every logit is b).
 * Scores that are not finite floats, or so large that the fit shrinks
 * them to nothing, are refused with the model left as it was.
 */
UNIT_TEST(ncf_pretrained_start_is_the_factor_ranking)
{
	int			hidden[1] = {6};
	RsCsr		R = block_matrix();
	int			k = BLOCKS;
	RsNcfModel	m = make_model(R.n_rows, R.n_cols, k + 1, 3, 1, hidden, 5);
	RsNcfModel	fresh = make_model(R.n_rows, R.n_cols, k + 1, 3, 1, hidden, 5);
	int			dim = rs_ncf_dim(&m.shape);
	float	   *user = calloc(R.n_rows * k, sizeof(float));
	float	   *item = calloc(R.n_cols * k, sizeof(float));
	float	   *bias = malloc(sizeof(float) * R.n_cols);
	bool	   *user_found = malloc(R.n_rows);
	bool	   *item_found = malloc(R.n_cols);
	float	   *scratch = malloc(sizeof(float) * rs_ncf_pretrain_scratch_floats(R.nnz, 4));
	float	   *score_scratch = malloc(sizeof(float) * rs_ncf_score_scratch_floats(&m.shape));
	float	   *z = malloc(sizeof(float) * R.n_cols);
	RsNcfPretrained p;
	int			bad = 0;

	for (int u = 0; u < R.n_rows; u++)
	{
		user[u * k + u / BLOCK_USERS] = 1;
		user_found[u] = u != 3;
	}
	for (int i = 0; i < R.n_cols; i++)
	{
		item[i * k + i / BLOCK_ITEMS] = 1;
		bias[i] = 0.01f * i;
		item_found[i] = true;
	}
	memset(&p, 0, sizeof(p));
	p.k = k;
	p.user = user;
	p.item = item;
	p.item_bias = bias;
	p.user_found = user_found;
	p.item_found = item_found;
	UNIT_CHECK(rs_ncf_pretrain(&m, &p, &R, 4, 9, scratch, NULL, NULL) == RS_NCF_OK);
	UNIT_CHECK(p.scale > 1);
	UNIT_CHECK(p.users_found == R.n_rows - 1 && p.items_found == R.n_cols);
	for (int u = 0; u < R.n_rows; u++)
	{
		if (u == 3)
			continue;
		rs_ncf_score(&m, m.user + u * dim, NULL, 0, R.n_cols, z, score_scratch);
		for (int i = 0; i < R.n_cols; i++)
		{
			double		s = (u / BLOCK_USERS == i / BLOCK_ITEMS) + bias[i];

			bad += fabs(z[i] - (p.scale * s + p.offset)) > 1e-4 * (fabs(p.scale) + fabs(p.offset));
		}
	}
	UNIT_CHECK(bad == 0);
	for (int f = 0; f < dim; f++)
		bad += m.user[3 * dim + f] != 0;
	UNIT_CHECK(bad == 0);
	rs_ncf_score(&m, m.user + 3 * dim, NULL, 0, R.n_cols, z, score_scratch);
	for (int i = 0; i < R.n_cols; i++)
		bad += fabs(z[i] - p.offset) > 1e-4 * (fabs(p.offset) + 1);
	UNIT_CHECK(bad == 0);
	/* the MLP half of a known user keeps its random start */
	UNIT_CHECK(memcmp(m.user + 4 * dim + k + 1, fresh.user + 4 * dim + k + 1,
					  sizeof(float) * (dim - k - 1)) == 0);
	UNIT_CHECK(memcmp(m.user + 4 * dim, fresh.user + 4 * dim, sizeof(float) * dim) != 0);

	/* a stop asked during the calibration (checked at each of its Newton
	 * iterations): stopped, the model untouched */
	memcpy(m.user, fresh.user, sizeof(float) * R.n_rows * dim);
	UNIT_CHECK(rs_ncf_pretrain(&m, &p, &R, 4, 9, scratch, stop_always, NULL) == RS_NCF_STOPPED);
	UNIT_CHECK(memcmp(m.user, fresh.user, sizeof(float) * R.n_rows * dim) == 0);
	stop_calls = 0;
	UNIT_CHECK(rs_ncf_pretrain(&m, &p, &R, 4, 9, scratch, stop_on_second, NULL) == RS_NCF_STOPPED);
	UNIT_CHECK(stop_calls == 2);
	UNIT_CHECK(memcmp(m.user, fresh.user, sizeof(float) * R.n_rows * dim) == 0);

	/* huge (1e30) factors: refused, the model untouched */
	for (int i = 0; i < R.n_cols; i++)
		item[i * k + i / BLOCK_ITEMS] = 1e30f;
	memcpy(m.user, fresh.user, sizeof(float) * R.n_rows * dim);
	UNIT_CHECK(rs_ncf_pretrain(&m, &p, &R, 4, 9, scratch, NULL, NULL) == RS_NCF_ERR_CALIBRATION);
	UNIT_CHECK(memcmp(m.user, fresh.user, sizeof(float) * R.n_rows * dim) == 0);
	/* 1e30 x 1e30: not a finite float */
	for (int u = 0; u < R.n_rows; u++)
		user[u * k + u / BLOCK_USERS] = 1e30f;
	UNIT_CHECK(rs_ncf_pretrain(&m, &p, &R, 4, 9, scratch, NULL, NULL) == RS_NCF_ERR_SCORES);
	UNIT_CHECK(memcmp(m.user, fresh.user, sizeof(float) * R.n_rows * dim) == 0);
	free(user);
	free(item);
	free(bias);
	free(user_found);
	free(item_found);
	free(scratch);
	free(score_scratch);
	free(z);
	free_model(&m);
	free_model(&fresh);
	free(R.indptr);
	free(R.indices);
	free(R.data);
}
