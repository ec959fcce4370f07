/*
 * test_fm.c
 *		Unit tests of the factorisation machine kernel (src/kernel/fm.c):
 *		one SGD step moves every parameter along the numerical gradient
 *		of ln sigmoid(x_uij), an example's weight times; an epoch gives bit-identical parameters on
 *		1, 2 and 3 threads; and a case decided by construction: users who
 *		only take items with feature "good" get every unseen good item
 *		ranked above every "bad" one, through the feature's weights alone
 *		(half of the good items are never seen in training).
 */
#include <stdlib.h>
#include <string.h>

#include "fm.h"
#include "rng.h"
#include "unit.h"

/* A small problem: rows built from a dense 0/1 pattern plus extra columns. */
typedef struct FmCase
{
	RsFmData	d;
	int64_t		item_indptr[64];
	int32_t		item_feature[256];
	float		item_value[256];
	int64_t		user_indptr[64];
	int32_t		user_feature[256];
	float		user_value[256];
	int32_t		ex_user[512];
	int32_t		ex_item[512];
	int32_t		ctx_feature[512];
	float		ctx_value[512];
	int64_t		seen_indptr[64];
	int32_t		seen_item[512];
} FmCase;

/* Two items (ids 0, 1; words 2, 3 and a shared 4), one user (5, feature 6), context 7. */
static void
tiny_case(FmCase *c)
{
	static const int32_t item_f[] = {0, 2, 4, 1, 3, 4};
	static const float item_v[] = {1, 0.7f, 0.5f, 1, 0.6f, 0.5f};

	memset(c, 0, sizeof(*c));
	memcpy(c->item_feature, item_f, sizeof(item_f));
	memcpy(c->item_value, item_v, sizeof(item_v));
	c->item_indptr[1] = 3;
	c->item_indptr[2] = 6;
	c->user_feature[0] = 5;
	c->user_value[0] = 1;
	c->user_feature[1] = 6;
	c->user_value[1] = 2;
	c->user_indptr[1] = 2;
	c->ex_user[0] = 0;
	c->ex_item[0] = 0;
	c->ctx_feature[0] = 7;
	c->ctx_value[0] = 1;
	c->seen_item[0] = 0;
	c->seen_indptr[1] = 1;
	c->d.n_features = 8;
	c->d.items = (RsFmRows) {2, c->item_indptr, c->item_feature, c->item_value};
	c->d.users = (RsFmRows) {1, c->user_indptr, c->user_feature, c->user_value};
	c->d.n_examples = 1;
	c->d.example_user = c->ex_user;
	c->d.example_item = c->ex_item;
	c->d.n_context = 1;
	c->d.context_feature = c->ctx_feature;
	c->d.context_value = c->ctx_value;
	c->d.seen_indptr = c->seen_indptr;
	c->d.seen_item = c->seen_item;
}

UNIT_TEST(fm_step_follows_gradient)
{
	static FmCase c;
	enum
	{
		K = 4
	};
	float		w[8],
				v[8 * K],
				w0[8],
				v0[8 * K],
				w1[8],
				v1[8 * K];
	RsFmParams	p = {8, K, w, v};
	RsFmSettings s = {1e-4f, 0.0f, 7, 1};
	float	   *ws = malloc(sizeof(float) * rs_fm_workspace_floats(K));
	int64_t		order[1];
	double		loss;
	double		x,
				g;
	int			checked = 0;

	tiny_case(&c);
	rs_fm_init(&p, 11, 0.5f, 0, 8);
	for (int a = 0; a < 8; a++)
		w[a] = 0.1f * (a - 3);
	memcpy(w0, w, sizeof(w));
	memcpy(v0, v, sizeof(v));
	x = rs_fm_pair_score(&p, &c.d, 0, 1);
	g = 1.0 / (1.0 + exp(x));
	UNIT_CHECK(rs_fm_epoch(&c.d, &p, &s, 0, ws, order, NULL, NULL, &loss) == RS_FM_OK);
	UNIT_CHECK_NEAR(loss, log1p(exp(-x)), 1e-5);
	memcpy(w1, w, sizeof(w));
	memcpy(v1, v, sizeof(v));

	/* every parameter moved by lr * g * d x / d theta, numerically */
	for (int a = 0; a < 8 * (K + 1); a++)
	{
		float	   *theta = a < 8 ? &w[a] : &v[a - 8];
		float		before = a < 8 ? w0[a] : v0[a - 8];
		float		after = a < 8 ? w1[a] : v1[a - 8];
		double		eps = 1e-2;
		double		up,
					down,
					numeric;

		memcpy(w, w0, sizeof(w));
		memcpy(v, v0, sizeof(v));
		*theta = (float) (before + eps);
		up = rs_fm_pair_score(&p, &c.d, 0, 1);
		*theta = (float) (before - eps);
		down = rs_fm_pair_score(&p, &c.d, 0, 1);
		numeric = g * (up - down) / (2 * eps);
		UNIT_CHECK_NEAR((after - before) / s.learning_rate, numeric, 2e-3 + 1e-2 * fabs(numeric));
		checked += fabs(numeric) > 1e-3;
	}
	/* the user's and context's factors, every item feature's: most have a gradient */
	UNIT_CHECK(checked >= 20);

	/* an example's weight scales its step, not the mean loss of one pair */
	{
		float		weight = 3;
		double		loss3;

		memcpy(w, w0, sizeof(w));
		memcpy(v, v0, sizeof(v));
		c.d.example_weight = &weight;
		UNIT_CHECK(rs_fm_epoch(&c.d, &p, &s, 0, ws, order, NULL, NULL, &loss3) == RS_FM_OK);
		for (int a = 0; a < 8 * (K + 1); a++)
		{
			double		step = a < 8 ? w1[a] - w0[a] : v1[a - 8] - v0[a - 8];

			UNIT_CHECK_NEAR(a < 8 ? w[a] - w0[a] : v[a - 8] - v0[a - 8], 3 * step, 1e-6 + 1e-2 * fabs(step));
		}
		UNIT_CHECK_NEAR(loss3, loss, 1e-6);
	}
	free(ws);
}

/*
 * A random problem: n_users users with 3 distinct items each, items with
 * feature good (even items) or bad (odd); users take good items only,
 * from the first half of the good items.
 */
#define RU 40
#define RI 24
static void
good_bad_case(FmCase *c)
{
	int64_t		n = 0;

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < RI; i++)
	{
		c->item_feature[2 * i] = i;
		c->item_value[2 * i] = 1;
		c->item_feature[2 * i + 1] = RI + RU + (i % 2);	/* good = RI + RU, bad = +1 */
		c->item_value[2 * i + 1] = 1;
		c->item_indptr[i + 1] = 2 * i + 2;
	}
	for (int u = 0; u < RU; u++)
	{
		int32_t		picks[3];

		c->user_feature[u] = RI + u;
		c->user_value[u] = 1;
		c->user_indptr[u + 1] = u + 1;
		/* three distinct good items among 0, 2, .., RI/2 - 2 */
		for (int t = 0; t < 3; t++)
		{
			int32_t		pick;
			int			dup;

			do
			{
				pick = 2 * (int32_t) (rs_rng_u64(99, (uint64_t) (u * 64 + t * 8 + n++)) % (RI / 4));
				dup = 0;
				for (int o = 0; o < t; o++)
					dup |= picks[o] == pick;
			} while (dup);
			picks[t] = pick;
		}
		/* ascending */
		for (int a = 0; a < 3; a++)
			for (int b = a + 1; b < 3; b++)
				if (picks[b] < picks[a])
				{
					int32_t		t = picks[a];

					picks[a] = picks[b];
					picks[b] = t;
				}
		for (int t = 0; t < 3; t++)
		{
			c->ex_user[3 * u + t] = u;
			c->ex_item[3 * u + t] = picks[t];
			c->seen_item[3 * u + t] = picks[t];
		}
		c->seen_indptr[u + 1] = 3 * u + 3;
	}
	c->d.n_features = RI + RU + 2;
	c->d.items = (RsFmRows) {RI, c->item_indptr, c->item_feature, c->item_value};
	c->d.users = (RsFmRows) {RU, c->user_indptr, c->user_feature, c->user_value};
	c->d.n_examples = 3 * RU;
	c->d.example_user = c->ex_user;
	c->d.example_item = c->ex_item;
	c->d.seen_indptr = c->seen_indptr;
	c->d.seen_item = c->seen_item;
}

/* Train epochs on nthreads into w, v. */
static void
train(FmCase *c, int k, int epochs, int nthreads, float *w, float *v)
{
	RsFmParams	p = {c->d.n_features, k, w, v};
	RsFmSettings s = {0.05f, 0.001f, 5, nthreads};
	float	   *ws = malloc(sizeof(float) * rs_fm_workspace_floats(k));
	int64_t    *order = malloc(sizeof(int64_t) * c->d.n_examples);
	double		loss;

	rs_fm_init(&p, 5, 0.1f, 0, 3);
	rs_fm_init(&p, 5, 0.1f, 3, c->d.n_features);
	for (int e = 0; e < epochs; e++)
		UNIT_CHECK(rs_fm_epoch(&c->d, &p, &s, e, ws, order, NULL, NULL, &loss) == RS_FM_OK);
	free(ws);
	free(order);
}

UNIT_TEST(fm_deterministic_across_threads)
{
	static FmCase c;
	enum
	{
		K = 8, F = RI + RU + 2
	};
	static float w1[F],
				v1[F * K],
				w[F],
				v[F * K];

	good_bad_case(&c);
	train(&c, K, 3, 1, w1, v1);
	for (int t = 2; t <= 3; t++)
	{
		train(&c, K, 3, t, w, v);
		UNIT_CHECK(memcmp(w, w1, sizeof(w)) == 0);
		UNIT_CHECK(memcmp(v, v1, sizeof(v)) == 0);
	}
}

UNIT_TEST(fm_feature_decides_order)
{
	static FmCase c;
	enum
	{
		K = 4, F = RI + RU + 2
	};
	static float w[F],
				v[F * K],
				terms[RI * (K + 1)];
	RsFmParams	p = {F, K, w, v};
	float		pu[K];
	int			wrong = 0;

	good_bad_case(&c);
	train(&c, K, 60, 2, w, v);
	rs_fm_item_terms(&p, &c.d.items, 0, c.d.items.n_rows, terms);
	for (int u = 0; u < RU; u++)
	{
		float		worst_good = INFINITY;
		float		best_bad = -INFINITY;

		rs_fm_side_sum(&p, &c.d.users, u, pu);
		for (int i = 0; i < RI; i++)
		{
			float		score = terms[i * (K + 1)];

			for (int f = 0; f < K; f++)
				score += pu[f] * terms[i * (K + 1) + 1 + f];
			/* the good items no user took in training count too */
			if (i % 2 == 0 && i >= RI / 2 && score < worst_good)
				worst_good = score;
			if (i % 2 == 1 && score > best_bad)
				best_bad = score;
		}
		wrong += worst_good <= best_bad;
	}
	UNIT_CHECK(wrong == 0);
	/* the good feature's weight is above the bad one's */
	UNIT_CHECK(w[RI + RU] > w[RI + RU + 1]);
}

