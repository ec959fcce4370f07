/*
 * test_neighborhood.c
 *		Unit tests of src/kernel/neighborhood.c: the baselines' formula,
 *		the neighbours' correlations and their independence of the thread
 *		count, a pair of items whose ratings always agree (learned by
 *		construction), a falling training error, determinism for a seed,
 *		the stop callback, divergence and the order by weight.
 */
#include <stdlib.h>
#include <string.h>

#include "neighborhood.h"
#include "rng.h"
#include "unit.h"

/* Ratings as both CSR views, with their baselines and residuals. */
typedef struct Ratings
{
	RsCsr		by_user;
	RsCsr		by_item;
	float		mu;
	float	   *user_base;
	float	   *item_base;
	float	   *z_by_user;
	float	   *z_by_item;
} Ratings;

static RsCsr
csr_alloc(int32_t n_rows, int64_t nnz)
{
	RsCsr		m;

	memset(&m, 0, sizeof(m));
	m.indptr = calloc(n_rows + 1, sizeof(int64_t));
	m.indices = calloc(nnz + 1, sizeof(int32_t));
	m.data = calloc(nnz + 1, sizeof(float));
	return m;
}

static Ratings
ratings_from(int32_t n_users, int32_t n_items, int64_t n, const int32_t *u, const int32_t *i,
			 const float *r)
{
	Ratings		d;
	double		sum = 0;

	memset(&d, 0, sizeof(d));
	d.by_user = csr_alloc(n_users, n);
	d.by_item = csr_alloc(n_items, n);
	rs_coo_to_csr(n_users, n_items, n, u, i, r, &d.by_user);
	rs_csr_transpose(&d.by_user, &d.by_item);
	for (int64_t p = 0; p < n; p++)
		sum += r[p];
	d.mu = (float) (sum / n);
	d.user_base = calloc(n_users, sizeof(float));
	d.item_base = calloc(n_items, sizeof(float));
	d.z_by_user = calloc(n, sizeof(float));
	d.z_by_item = calloc(n, sizeof(float));
	rs_nbr_baselines(&d.by_user, &d.by_item, d.mu, RS_NBR_BASE_REG_USER, RS_NBR_BASE_REG_ITEM,
					 RS_NBR_BASE_SWEEPS, d.user_base, d.item_base);
	rs_nbr_residuals(&d.by_user, true, d.mu, d.user_base, d.item_base, d.z_by_user);
	rs_nbr_residuals(&d.by_item, false, d.mu, d.user_base, d.item_base, d.z_by_item);
	return d;
}

static void
ratings_free(Ratings *d)
{
	free(d->by_user.indptr);
	free(d->by_user.indices);
	free(d->by_user.data);
	free(d->by_item.indptr);
	free(d->by_item.indices);
	free(d->by_item.data);
	free(d->user_base);
	free(d->item_base);
	free(d->z_by_user);
	free(d->z_by_item);
}

/* A model being fitted on d with k slots per item, neighbours found. */
typedef struct Fit
{
	RsNbrModel	m;
	int64_t    *start;
	int32_t    *count;
	int32_t    *neighbor;
	float	   *similarity;
	int32_t    *position;
	int32_t    *order;
	int			status;
} Fit;

static Fit
fit_begin(const Ratings *d, int k, float shrinkage, int threads)
{
	Fit			f;
	int32_t		n_items = d->by_item.n_rows;
	void	   *work = calloc(1, rs_nbr_neighbors_workspace_bytes(n_items, threads));

	memset(&f, 0, sizeof(f));
	f.start = malloc(sizeof(int64_t) * n_items);
	f.count = calloc(n_items, sizeof(int32_t));
	f.neighbor = calloc((size_t) n_items * k, sizeof(int32_t));
	f.similarity = calloc((size_t) n_items * k, sizeof(float));
	f.position = calloc(n_items, sizeof(int32_t));
	f.order = calloc(d->by_user.n_rows, sizeof(int32_t));
	for (int32_t i = 0; i < n_items; i++)
		f.start[i] = (int64_t) i * k;
	f.m.n_items = n_items;
	f.m.mu = d->mu;
	f.m.start = f.start;
	f.m.count = f.count;
	f.m.neighbor = f.neighbor;
	f.m.w = calloc((size_t) n_items * k, sizeof(float));
	f.m.c = calloc((size_t) n_items * k, sizeof(float));
	f.m.item_bias = malloc(sizeof(float) * n_items);
	memcpy(f.m.item_bias, d->item_base, sizeof(float) * n_items);
	f.m.item_base = d->item_base;
	f.status = rs_nbr_neighbors(&d->by_item, d->z_by_item, &d->by_user, d->z_by_user, shrinkage,
								k, 0, n_items, threads, work, f.neighbor, f.similarity, f.count);
	free(work);
	return f;
}

static void
fit_free(Fit *f)
{
	free(f->start);
	free(f->count);
	free(f->neighbor);
	free(f->similarity);
	free(f->position);
	free(f->order);
	free(f->m.w);
	free(f->m.c);
	free(f->m.item_bias);
}

/* Epochs of SGD; the training RMSE of the last, or -1 on an error. */
static double
fit_epochs(Fit *f, const Ratings *d, int epochs, float lr, float reg, uint64_t seed)
{
	RsNbrStep	step = {lr, reg, seed, 0};
	double		se = 0;

	for (int e = 0; e < epochs; e++)
	{
		step.epoch = e;
		f->status = rs_nbr_epoch(&f->m, &d->by_user, d->z_by_user, d->user_base, &step,
								 f->position, f->order, NULL, NULL, &se);
		if (f->status != RS_NBR_OK)
			return -1;
	}
	return sqrt(se / d->by_user.nnz);
}

/* Random ratings 1..5 of a latent taste: n_users x n_items, each pair with probability density. */
static Ratings
random_ratings(int32_t n_users, int32_t n_items, double density, uint64_t seed)
{
	int64_t		cap = (int64_t) n_users * n_items;
	int32_t    *u = malloc(sizeof(int32_t) * cap);
	int32_t    *i = malloc(sizeof(int32_t) * cap);
	float	   *r = malloc(sizeof(float) * cap);
	int64_t		n = 0;
	Ratings		d;

	for (int32_t a = 0; a < n_users; a++)
		for (int32_t b = 0; b < n_items; b++)
		{
			uint64_t	c = (uint64_t) a * n_items + b;
			double		taste = ((a % 3) == (b % 3)) ? 1.5 : -1.0;
			double		noise = rs_rng_uniform_double(seed, 2 * c + 1) - 0.5;

			if (rs_rng_uniform_double(seed, 2 * c) >= density)
				continue;
			u[n] = a;
			i[n] = b;
			r[n] = (float) fmin(5, fmax(1, 3 + taste + noise));
			n++;
		}
	d = ratings_from(n_users, n_items, n, u, i, r);
	free(u);
	free(i);
	free(r);
	return d;
}

UNIT_TEST(nbr_baselines_are_regularised_means)
{
	/* one user rates items 0 and 1: 5 and 3; another rates item 0: 1 */
	int32_t		u[3] = {0, 0, 1};
	int32_t		i[3] = {0, 1, 0};
	float		r[3] = {5, 3, 1};
	Ratings		d = ratings_from(2, 2, 3, u, i, r);
	float		items[2] = {0, 1};
	float		ratings[2] = {5, 3};
	int32_t		idx[2] = {0, 1};

	UNIT_CHECK_NEAR(d.mu, 3, 1e-6);
	/* the last sweep ends with the users: base_u is rs_nbr_user_base of its ratings */
	UNIT_CHECK_NEAR(d.user_base[0], rs_nbr_user_base(idx, ratings, 2, d.mu, d.item_base,
													 RS_NBR_BASE_REG_USER), 1e-7);
	UNIT_CHECK_NEAR(d.user_base[0], ((5 - 3 - d.item_base[0]) + (3 - 3 - d.item_base[1])) /
					(RS_NBR_BASE_REG_USER + 2), 1e-6);
	/* base_i is the item-side mean given the users' offsets */
	UNIT_CHECK_NEAR(d.item_base[1], (3 - 3 - d.user_base[0]) / (RS_NBR_BASE_REG_ITEM + 1), 1e-3);
	UNIT_CHECK_NEAR(d.z_by_user[0], 5 - d.mu - d.user_base[0] - d.item_base[0], 1e-6);
	(void) items;
	ratings_free(&d);
}

UNIT_TEST(nbr_neighbors_rank_by_shrunk_correlation)
{
	/*
	 * Items 1 and 2 follow item 0 (2 the other way round); item 3 is
	 * rated by other users only.  Residuals of 0 and 1 agree exactly.
	 */
	enum
	{
		U = 6
	};
	int32_t		u[4 * U];
	int32_t		i[4 * U];
	float		r[4 * U];
	int64_t		n = 0;
	Ratings		d;
	Fit			f;

	for (int a = 0; a < U; a++)
	{
		float		x = (a % 2) ? 5 : 1;

		u[n] = a, i[n] = 0, r[n] = x, n++;
		u[n] = a, i[n] = 1, r[n] = x, n++;
		u[n] = a, i[n] = 2, r[n] = 6 - x, n++;
	}
	u[n] = U, i[n] = 3, r[n] = 4, n++;
	u[n] = U + 1, i[n] = 3, r[n] = 2, n++;
	d = ratings_from(U + 2, 4, n, u, i, r);
	f = fit_begin(&d, 3, 4, 1);
	UNIT_CHECK(f.status == RS_NBR_OK);
	UNIT_CHECK(f.count[0] == 2);
	UNIT_CHECK(f.neighbor[0] == 1 && f.neighbor[1] == 2);
	/* a perfect correlation shrunk by n / (n + shrinkage) = 6 / 10 */
	UNIT_CHECK_NEAR(f.similarity[0], 0.6, 1e-5);
	UNIT_CHECK_NEAR(f.similarity[1], -0.6, 1e-5);
	UNIT_CHECK(f.count[3] == 0);	/* nobody rated 3 with another item */
	fit_free(&f);
	ratings_free(&d);
}

UNIT_TEST(nbr_neighbors_independent_of_threads)
{
	Ratings		d = random_ratings(120, 90, 0.3, 7);
	Fit			one = fit_begin(&d, 10, 50, 1);
	Fit			three = fit_begin(&d, 10, 50, 3);
	size_t		slots = (size_t) 90 * 10;

	UNIT_CHECK(one.status == RS_NBR_OK && three.status == RS_NBR_OK);
	UNIT_CHECK(memcmp(one.count, three.count, sizeof(int32_t) * 90) == 0);
	UNIT_CHECK(memcmp(one.neighbor, three.neighbor, sizeof(int32_t) * slots) == 0);
	UNIT_CHECK(memcmp(one.similarity, three.similarity, sizeof(float) * slots) == 0);
	fit_free(&one);
	fit_free(&three);
	ratings_free(&d);
}

UNIT_TEST(nbr_training_error_falls_and_is_deterministic)
{
	Ratings		d = random_ratings(150, 60, 0.4, 11);
	Fit			a = fit_begin(&d, 20, 10, 2);
	Fit			b = fit_begin(&d, 20, 10, 1);
	Fit			c = fit_begin(&d, 20, 10, 1);
	double		first = fit_epochs(&a, &d, 1, 0.01f, 0.01f, 5);
	double		later = fit_epochs(&a, &d, 20, 0.01f, 0.01f, 5);
	size_t		slots = (size_t) 60 * 20;

	UNIT_CHECK(first > 0 && later > 0);
	UNIT_CHECK(later < first);
	/* the same seed, whatever the threads of the neighbours: the same model */
	fit_epochs(&b, &d, 1, 0.01f, 0.01f, 5);
	fit_epochs(&b, &d, 20, 0.01f, 0.01f, 5);
	UNIT_CHECK(memcmp(a.m.w, b.m.w, sizeof(float) * slots) == 0);
	UNIT_CHECK(memcmp(a.m.c, b.m.c, sizeof(float) * slots) == 0);
	UNIT_CHECK(memcmp(a.m.item_bias, b.m.item_bias, sizeof(float) * 60) == 0);
	/* another seed visits users in another order: another model */
	fit_epochs(&c, &d, 21, 0.01f, 0.01f, 6);
	UNIT_CHECK(memcmp(a.m.w, c.m.w, sizeof(float) * slots) != 0);
	for (int32_t i = 0; i < 60; i++)
		UNIT_CHECK(a.position[i] == 0);
	fit_free(&a);
	fit_free(&b);
	fit_free(&c);
	ratings_free(&d);
}

UNIT_TEST(nbr_learns_items_that_always_agree)
{
	/*
	 * Every user gives items 0 and 1 the same rating, 1 or 5; items 2..5
	 * are rated 3 by everyone.  Trained on users 1.., the weight of 1 in
	 * item 0's prediction must carry user 0's rating of 1: a new user who
	 * gave item 1 a 5 is predicted well above one who gave it a 1.
	 */
	enum
	{
		U = 40
	};
	int32_t		u[6 * U];
	int32_t		i[6 * U];
	float		r[6 * U];
	int64_t		n = 0;
	Ratings		d;
	Fit			f;
	int32_t		position[6] = {0};
	float		z_high;
	float		z_low;
	double		high;
	double		low;
	int32_t		item1 = 1;
	float		five = 5;
	float		one = 1;
	float		base_high;
	float		base_low;

	for (int a = 0; a < U; a++)
	{
		float		x = (a * 7 % 3) ? 5 : 1;

		for (int b = 0; b < 6; b++)
			u[n] = a, i[n] = b, r[n] = b < 2 ? x : 3, n++;
	}
	d = ratings_from(U, 6, n, u, i, r);
	f = fit_begin(&d, 5, 0, 1);
	UNIT_CHECK(f.neighbor[0] == 1);
	UNIT_CHECK(fit_epochs(&f, &d, 200, 0.02f, 0.001f, 1) < 0.3);

	base_high = rs_nbr_user_base(&item1, &five, 1, d.mu, d.item_base, RS_NBR_BASE_REG_USER);
	base_low = rs_nbr_user_base(&item1, &one, 1, d.mu, d.item_base, RS_NBR_BASE_REG_USER);
	z_high = 5 - d.mu - base_high - d.item_base[1];
	z_low = 1 - d.mu - base_low - d.item_base[1];
	position[1] = 1;
	high = d.mu + base_high + f.m.item_bias[0] + rs_nbr_offset(&f.m, 0, position, &z_high, NULL);
	low = d.mu + base_low + f.m.item_bias[0] + rs_nbr_offset(&f.m, 0, position, &z_low, NULL);
	UNIT_CHECK(high > 4);
	UNIT_CHECK(low < 2);
	/* the one rated item's contribution is the whole neighbourhood term */
	{
		float		share = 0;
		double		offset = rs_nbr_offset(&f.m, 0, position, &z_high, &share);

		UNIT_CHECK_NEAR(share, offset, 1e-5);
	}
	fit_free(&f);
	ratings_free(&d);
}

static int	stop_calls;

static int
stop_at_second_call(void *arg)
{
	return ++stop_calls >= 2;
}

UNIT_TEST(nbr_epoch_stops_when_asked)
{
	Ratings		d = random_ratings(2000, 200, 0.5, 3);
	Fit			f = fit_begin(&d, 100, 10, 2);
	RsNbrStep	step = {0.01f, 0.01f, 1, 0};
	double		se;

	stop_calls = 0;
	UNIT_CHECK(rs_nbr_epoch(&f.m, &d.by_user, d.z_by_user, d.user_base, &step, f.position,
							f.order, stop_at_second_call, NULL, &se) == RS_NBR_STOPPED);
	UNIT_CHECK(stop_calls == 2);
	/* the marks are cleared even so */
	for (int32_t i = 0; i < 200; i++)
		UNIT_CHECK(f.position[i] == 0);
	fit_free(&f);
	ratings_free(&d);
}

UNIT_TEST(nbr_epoch_reports_divergence)
{
	Ratings		d = random_ratings(60, 30, 0.5, 9);
	Fit			f = fit_begin(&d, 10, 10, 1);

	UNIT_CHECK(fit_epochs(&f, &d, 50, 1e6f, 0, 1) < 0);
	UNIT_CHECK(f.status == RS_NBR_ERR_DIVERGED);
	UNIT_CHECK(strcmp(rs_nbr_strerror(RS_NBR_ERR_DIVERGED), "no error") != 0);
	fit_free(&f);
	ratings_free(&d);
}

UNIT_TEST(nbr_offsets_all_match_one_by_one)
{
	Ratings		d = random_ratings(80, 50, 0.4, 13);
	Fit			f = fit_begin(&d, 12, 10, 1);
	int64_t		nnz = (int64_t) 50 * 12;	/* slots: unused ones are never listed */
	int64_t    *rev_indptr = calloc(51, sizeof(int64_t));
	int64_t    *rev_slot = calloc(nnz, sizeof(int64_t));
	int32_t    *rev_owner = calloc(nnz, sizeof(int32_t));
	double	   *sum = calloc(50, sizeof(double));
	int32_t    *count = calloc(50, sizeof(int32_t));
	int32_t    *touched = calloc(50, sizeof(int32_t));
	float		out[50];
	int64_t		listed = 0;

	fit_epochs(&f, &d, 5, 0.01f, 0.01f, 1);
	rs_nbr_reverse(&f.m, rev_indptr, rev_slot, rev_owner);
	for (int32_t i = 0; i < 50; i++)
		listed += f.count[i];
	UNIT_CHECK(rev_indptr[50] == listed);
	for (int32_t u = 0; u < 80; u += 7)
	{
		int64_t		b = d.by_user.indptr[u];
		int64_t		e = d.by_user.indptr[u + 1];

		memset(out, 0, sizeof(out));
		rs_nbr_offsets_all(&f.m, rev_indptr, rev_slot, rev_owner, d.by_user.indices + b,
						   d.z_by_user + b, e - b, sum, count, touched, out);
		for (int64_t p = b; p < e; p++)
			f.position[d.by_user.indices[p]] = (int32_t) (p - b + 1);
		for (int32_t i = 0; i < 50; i++)
			UNIT_CHECK_NEAR(out[i], rs_nbr_offset(&f.m, i, f.position, d.z_by_user + b, NULL), 1e-5);
		for (int64_t p = b; p < e; p++)
			f.position[d.by_user.indices[p]] = 0;
	}
	for (int32_t i = 0; i < 50; i++)
		UNIT_CHECK(sum[i] == 0 && count[i] == 0);
	free(rev_indptr);
	free(rev_slot);
	free(rev_owner);
	free(sum);
	free(count);
	free(touched);
	fit_free(&f);
	ratings_free(&d);
}

UNIT_TEST(nbr_sort_by_weight_moves_c_along)
{
	int64_t		start[2] = {0, 3};
	int32_t		count[2] = {3, 2};
	int32_t		neighbor[5] = {1, 2, 3, 0, 2};
	float		w[5] = {0.1f, 0.5f, 0.5f, -1, 2};
	float		c[5] = {10, 20, 30, 40, 50};
	RsNbrModel	m = {2, 0, start, count, neighbor, w, c, NULL, NULL};

	rs_nbr_sort_by_weight(&m, neighbor);
	UNIT_CHECK(neighbor[0] == 2 && neighbor[1] == 3 && neighbor[2] == 1);
	UNIT_CHECK(c[0] == 20 && c[1] == 30 && c[2] == 10);
	UNIT_CHECK(neighbor[3] == 2 && w[3] == 2 && c[3] == 50);
	UNIT_CHECK(neighbor[4] == 0 && c[4] == 40);
}
