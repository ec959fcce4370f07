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

enum
{
	GK = 4,						/* factors of the gradient checks */
	GF = 16						/* features at most in them */
};

/*
 * One SGD step from parameters drawn from a seed (w0, v0 kept) on the
 * tiny case with nf features: every parameter (in w1, v1 after) moved by
 * lr * g * d x / d theta, numerically.  Returns how many parameters have
 * a gradient worth the name.
 */
static int
step_follows_gradient(FmCase *c, int nf, float *w, float *v, float *w0, float *v0, float *w1,
					  float *v1, double *loss)
{
	RsFmParams	p = {nf, GK, w, v};
	RsFmSettings s = {1e-4f, 0.0f, 7, 1};
	float	   *ws = malloc(sizeof(float) * rs_fm_workspace_floats(GK));
	int64_t		order[1];
	double		x,
				g;
	int			checked = 0;

	rs_fm_init(&p, 11, 0.5f, 0, nf);
	for (int a = 0; a < nf; a++)
		w[a] = 0.1f * (a - 3);
	memcpy(w0, w, sizeof(float) * nf);
	memcpy(v0, v, sizeof(float) * nf * GK);
	x = rs_fm_pair_score(&p, &c->d, 0, 1);
	g = 1.0 / (1.0 + exp(x));
	UNIT_CHECK(rs_fm_epoch(&c->d, &p, &s, 0, ws, order, NULL, NULL, loss) == RS_FM_OK);
	UNIT_CHECK_NEAR(*loss, log1p(exp(-x)), 1e-5);
	memcpy(w1, w, sizeof(float) * nf);
	memcpy(v1, v, sizeof(float) * nf * GK);

	for (int a = 0; a < nf * (GK + 1); a++)
	{
		float	   *theta = a < nf ? &w[a] : &v[a - nf];
		float		before = a < nf ? w0[a] : v0[a - nf];
		float		after = a < nf ? w1[a] : v1[a - nf];
		double		eps = 1e-2;
		double		up,
					down,
					numeric;

		memcpy(w, w0, sizeof(float) * nf);
		memcpy(v, v0, sizeof(float) * nf * GK);
		*theta = (float) (before + eps);
		up = rs_fm_pair_score(&p, &c->d, 0, 1);
		*theta = (float) (before - eps);
		down = rs_fm_pair_score(&p, &c->d, 0, 1);
		numeric = g * (up - down) / (2 * eps);
		UNIT_CHECK_NEAR((after - before) / s.learning_rate, numeric, 2e-3 + 1e-2 * fabs(numeric));
		checked += fabs(numeric) > 1e-3;
	}
	free(ws);
	return checked;
}

UNIT_TEST(fm_step_follows_gradient)
{
	static FmCase c;
	float		w[8],
				v[8 * GK],
				w0[8],
				v0[8 * GK],
				w1[8],
				v1[8 * GK];
	RsFmParams	p = {8, GK, w, v};
	RsFmSettings s = {1e-4f, 0.0f, 7, 1};
	float	   *ws = malloc(sizeof(float) * rs_fm_workspace_floats(GK));
	int64_t		order[1];
	double		loss;

	tiny_case(&c);
	/* the user's and context's factors, every item feature's: most have a gradient */
	UNIT_CHECK(step_follows_gradient(&c, 8, w, v, w0, v0, w1, v1, &loss) >= 20);

	/* an example's weight scales its step, not the mean loss of one pair */
	{
		float		weight = 3;
		double		loss3;

		memcpy(w, w0, sizeof(w));
		memcpy(v, v0, sizeof(v));
		c.d.example_weight = &weight;
		UNIT_CHECK(rs_fm_epoch(&c.d, &p, &s, 0, ws, order, NULL, NULL, &loss3) == RS_FM_OK);
		for (int a = 0; a < 8 * (GK + 1); a++)
		{
			double		step = a < 8 ? w1[a] - w0[a] : v1[a - 8] - v0[a - 8];

			UNIT_CHECK_NEAR(a < 8 ? w[a] - w0[a] : v[a - 8] - v0[a - 8], 3 * step, 1e-6 + 1e-2 * fabs(step));
		}
		UNIT_CHECK_NEAR(loss3, loss, 1e-6);
	}
	free(ws);
}

/*
 * The base features (rank band, standardised score) of a pair join the
 * item's features: the negative (item 1) is the base's first with score
 * 0.8 (band 0, features 8 and 15), the positive (item 0) is not in the
 * pool (band 6, feature 14); the step follows the gradient of every
 * parameter, theirs included.
 */
UNIT_TEST(fm_base_features_follow_gradient)
{
	static FmCase c;
	static const int64_t hard_indptr[2] = {0, 1};
	static const int32_t hard_item[1] = {1};
	static const float hard_score[1] = {0.8f};
	int32_t		xf[2];
	float		xv[2];
	float		w[GF],
				v[GF * GK],
				w0[GF],
				v0[GF * GK],
				w1[GF],
				v1[GF * GK];
	double		loss;

	tiny_case(&c);
	c.d.n_features = GF;
	c.d.hard_indptr = hard_indptr;
	c.d.hard_item = hard_item;
	c.d.hard_score = hard_score;
	c.d.base_feature = 8;
	UNIT_CHECK(rs_fm_base_features(&c.d, 0, 1, xf, xv) == 2);
	UNIT_CHECK(xf[0] == 8 && xv[0] == 1 && xf[1] == 8 + RS_FM_RANK_BANDS && xv[1] == 0.8f);
	UNIT_CHECK(rs_fm_base_features(&c.d, 0, 0, xf, xv) == 1);
	UNIT_CHECK(xf[0] == 8 + RS_FM_RANK_BANDS - 1 && xv[0] == 1);
	UNIT_CHECK(step_follows_gradient(&c, GF, w, v, w0, v0, w1, v1, &loss) >= 30);
	/* the three base features moved (w and every factor), the unused bands did not */
	for (int a = 8; a < GF; a++)
	{
		int			used = a == 8 || a == 14 || a == 15;

		UNIT_CHECK((w1[a] != w0[a]) == used);
		for (int f = 0; f < GK; f++)
			UNIT_CHECK((v1[a * GK + f] != v0[a * GK + f]) == used);
	}
	/* the bands: 1, 2-3, 4-10, 11-25, 26-50, below, outside */
	UNIT_CHECK(rs_fm_rank_band(0) == 0 && rs_fm_rank_band(1) == 1 && rs_fm_rank_band(2) == 1);
	UNIT_CHECK(rs_fm_rank_band(3) == 2 && rs_fm_rank_band(9) == 2 && rs_fm_rank_band(10) == 3);
	UNIT_CHECK(rs_fm_rank_band(24) == 3 && rs_fm_rank_band(25) == 4 && rs_fm_rank_band(49) == 4);
	UNIT_CHECK(rs_fm_rank_band(50) == 5 && rs_fm_rank_band(5000) == 5 && rs_fm_rank_band(-1) == 6);
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


/*
 * A case decided by the base alone: users take 3 random items (ids say
 * nothing), and the base's pool for each lists the user's 3 items first
 * (ranks 1-3) and 5 others after (4-8), scores falling.  Trained with
 * the base features, the FM puts ranks 1-3 above 4-8 for users it has
 * never seen (zero vector) over pools of any items: it learned to trust
 * the base's top.
 */
UNIT_TEST(fm_base_rank_decides_order)
{
	static FmCase c;
	enum
	{
		K = 4, POOL = 8, F = RI + RU + RS_FM_BASE_FEATURES
	};
	static int64_t hard_indptr[RU + 1];
	static int32_t hard_item[RU * POOL];
	static float hard_score[RU * POOL];
	static float w[F],
				v[F * K],
				terms[RI * (K + 1)];
	RsFmParams	p = {F, K, w, v};
	int			wrong = 0;

	good_bad_case(&c);
	/* ids only: the good/bad feature goes */
	for (int i = 0; i < RI; i++)
	{
		c.item_indptr[i + 1] = i + 1;
		c.item_feature[i] = i;
		c.item_value[i] = 1;
	}
	/* the users take random items; the base knows them */
	for (int u = 0; u < RU; u++)
	{
		int			n = 0;

		for (int t = 0; t < 3; t++)
		{
			int32_t		pick;
			int			dup;

			do
			{
				pick = (int32_t) (rs_rng_u64(7, (uint64_t) (u * 1000 + n++)) % RI);
				dup = 0;
				for (int o = 0; o < t; o++)
					dup |= hard_item[u * POOL + o] == pick;
			} while (dup);
			hard_item[u * POOL + t] = pick;
		}
		for (int r = 3; r < POOL; r++)
		{
			int32_t		other;
			int			dup;

			do
			{
				other = (int32_t) (rs_rng_u64(8, (uint64_t) (u * 1000 + n++)) % RI);
				dup = 0;
				for (int o = 0; o < r; o++)
					dup |= hard_item[u * POOL + o] == other;
			} while (dup);
			hard_item[u * POOL + r] = other;
		}
		for (int r = 0; r < POOL; r++)
			hard_score[u * POOL + r] = (float) (POOL - r);
		rs_fm_standardize(hard_score + u * POOL, POOL);
		hard_indptr[u + 1] = (u + 1) * POOL;
		/* examples and seen lists: the picks, ascending */
		for (int t = 0; t < 3; t++)
		{
			int32_t		x = hard_item[u * POOL + t];
			int			below = 0;

			for (int o = 0; o < 3; o++)
				below += hard_item[u * POOL + o] < x;
			c.ex_user[3 * u + below] = u;
			c.ex_item[3 * u + below] = x;
			c.seen_item[3 * u + below] = x;
		}
	}
	c.d.n_features = F;
	c.d.hard_indptr = hard_indptr;
	c.d.hard_item = hard_item;
	c.d.hard_score = hard_score;
	c.d.base_feature = RI + RU;
	train(&c, K, 60, 2, w, v);
	rs_fm_item_terms(&p, &c.d.items, 0, c.d.items.n_rows, terms);

	/* unseen users, pools of random items: the base's top 3 first */
	for (int trial = 0; trial < 40; trial++)
	{
		float		z[POOL];
		float		worst_top = INFINITY;
		float		best_rest = -INFINITY;

		for (int r = 0; r < POOL; r++)
			z[r] = (float) (POOL - r);
		rs_fm_standardize(z, POOL);
		for (int r = 0; r < POOL; r++)
		{
			int32_t		i = (int32_t) (rs_rng_u64(9, (uint64_t) (trial * POOL + r)) % RI);
			const float *q = terms + i * (K + 1);
			int32_t		band = RI + RU + rs_fm_rank_band(r);
			int32_t		sc = RI + RU + RS_FM_RANK_BANDS;
			double		s = q[0] + w[band] + w[sc] * z[r];

			/* <Q_i, V> + the pair of the two base features (the user is zero) */
			for (int f = 0; f < K; f++)
				s += q[1 + f] * (v[band * K + f] + z[r] * v[sc * K + f]) +
					z[r] * v[band * K + f] * v[sc * K + f];
			if (r < 3 && s < worst_top)
				worst_top = (float) s;
			if (r >= 3 && s > best_rest)
				best_rest = (float) s;
		}
		wrong += worst_top <= best_rest;
	}
	UNIT_CHECK(wrong == 0);
	UNIT_CHECK(w[RI + RU] > w[RI + RU + 2] && w[RI + RU + 1] > w[RI + RU + 2]);
}
