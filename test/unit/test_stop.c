/*
 * test_stop.c
 *		Unit tests of the kernels' stop callbacks (src/kernel/stop.h): a
 *		callback that asks to stop makes a long step return its STOPPED
 *		status early; one that never asks changes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "als.h"
#include "ease.h"
#include "rng.h"
#include "unit.h"

/* Counts its calls; asks to stop from call number stop_at on (0: never). */
typedef struct StopProbe
{
	int			calls;
	int			stop_at;
} StopProbe;

static int
probe_stop(void *arg)
{
	StopProbe  *probe = arg;

	probe->calls++;
	return probe->stop_at > 0 && probe->calls >= probe->stop_at;
}

/* n x k seeded uniform values. */
static float *
random_matrix(int64_t n, int k, uint64_t seed)
{
	float	   *m = malloc(sizeof(float) * (size_t) (n > 0 ? n : 1) * k);

	rs_init_factors(m, n, k, seed, 1.0f);
	return m;
}

/* A CSR of n_rows rows, each holding the first per_row columns (value 1). */
static RsCsr
dense_prefix_csr(int32_t n_rows, int32_t n_cols, int32_t per_row)
{
	RsCsr		R;

	R.n_rows = n_rows;
	R.n_cols = n_cols;
	R.nnz = (int64_t) n_rows * per_row;
	R.indptr = malloc(sizeof(int64_t) * (n_rows + 1));
	R.indices = malloc(sizeof(int32_t) * (R.nnz > 0 ? R.nnz : 1));
	R.data = malloc(sizeof(float) * (R.nnz > 0 ? R.nnz : 1));
	for (int32_t u = 0; u <= n_rows; u++)
		R.indptr[u] = (int64_t) u * per_row;
	for (int64_t p = 0; p < R.nnz; p++)
	{
		R.indices[p] = (int32_t) (p % per_row);
		R.data[p] = 1.0f;
	}
	return R;
}

static void
free_csr(RsCsr *R)
{
	free(R->indptr);
	free(R->indices);
	free(R->data);
}

UNIT_TEST(gram_stops_between_blocks)
{
	/* 1,024 factors: blocks of 256 rows, so 600 rows are three blocks */
	int			k = 1024;
	int64_t		n = 600;
	float	   *Y = random_matrix(n, k, 11);
	float	   *G = malloc(sizeof(float) * k * k);
	float	   *G_plain = malloc(sizeof(float) * k * k);
	StopProbe	stop_now = {0, 1};
	StopProbe	never = {0, 0};

	UNIT_CHECK(rs_gram(Y, n, k, G, probe_stop, &stop_now) == RS_ALS_STOPPED);
	UNIT_CHECK(stop_now.calls == 1);
	/* asked after each block but the last; the result is the plain one */
	UNIT_CHECK(rs_gram(Y, n, k, G, probe_stop, &never) == RS_ALS_OK);
	UNIT_CHECK(never.calls == 2);
	UNIT_CHECK(rs_gram(Y, n, k, G_plain, NULL, NULL) == RS_ALS_OK);
	UNIT_CHECK(memcmp(G, G_plain, sizeof(float) * k * k) == 0);
	UNIT_CHECK(rs_gram(Y, n, 0, G, NULL, NULL) == RS_ALS_ERR_ARGUMENT);
	UNIT_CHECK(strcmp(rs_als_strerror(RS_ALS_STOPPED), "stopped by the caller") == 0);
	free(Y);
	free(G);
	free(G_plain);
}

UNIT_TEST(implicit_loss_and_rmse_stop)
{
	/* 800 users x 1,024 factors, 20 items each: about 2^24 per 800 rows */
	int			k = 1024;
	int32_t		n_users = 2000,
				n_items = 20;
	RsCsr		R = dense_prefix_csr(n_users, n_items, n_items);
	float	   *X = random_matrix(n_users, k, 1);
	float	   *Y = random_matrix(n_items, k, 2);
	float	   *G = malloc(sizeof(float) * k * k);
	double		value = -1,
				plain = -2;
	StopProbe	stop_now = {0, 1};
	StopProbe	never = {0, 0};

	rs_gram(Y, n_items, k, G, NULL, NULL);
	UNIT_CHECK(rs_als_implicit_loss(&R, X, Y, G, k, 0.1f, 1.0f, 1, probe_stop, &stop_now,
									&value) == RS_ALS_STOPPED);
	UNIT_CHECK(stop_now.calls == 1);
	UNIT_CHECK(rs_als_implicit_loss(&R, X, Y, G, k, 0.1f, 1.0f, 1, probe_stop, &never,
									&value) == RS_ALS_OK);
	UNIT_CHECK(never.calls > 1);
	UNIT_CHECK(rs_als_implicit_loss(&R, X, Y, G, k, 0.1f, 1.0f, 1, NULL, NULL, &plain) == RS_ALS_OK);
	UNIT_CHECK(value == plain);

	stop_now.calls = 0;
	never.calls = 0;
	UNIT_CHECK(rs_rmse(&R, X, NULL, Y, NULL, 3.0f, k, -INFINITY, INFINITY, probe_stop,
					   &stop_now, &value) == RS_ALS_STOPPED);
	UNIT_CHECK(stop_now.calls == 1);
	UNIT_CHECK(rs_rmse(&R, X, NULL, Y, NULL, 3.0f, k, -INFINITY, INFINITY, probe_stop,
					   &never, &value) == RS_ALS_OK);
	UNIT_CHECK(never.calls >= 1);
	UNIT_CHECK(rs_rmse(&R, X, NULL, Y, NULL, 3.0f, k, -INFINITY, INFINITY, NULL, NULL,
					   &plain) == RS_ALS_OK);
	UNIT_CHECK(value == plain);
	free_csr(&R);
	free(X);
	free(Y);
	free(G);
}

UNIT_TEST(sample_prior_stops)
{
	/* d = 256: the scatter of 1,000 rows is about 2^25 multiply-adds */
	int			k = 255;
	int64_t		n = 1000;
	float	   *X = random_matrix(n, k, 5);
	float	   *xb = random_matrix(n, 1, 6);
	double	   *mean = malloc(sizeof(double) * (k + 1));
	double	   *prec = malloc(sizeof(double) * (k + 1) * (k + 1));
	double	   *mean2 = malloc(sizeof(double) * (k + 1));
	double	   *prec2 = malloc(sizeof(double) * (k + 1) * (k + 1));
	double	   *ws = malloc(sizeof(double) * rs_als_prior_workspace_doubles(k));
	StopProbe	stop_now = {0, 1};
	StopProbe	never = {0, 0};

	UNIT_CHECK(rs_als_sample_prior(X, xb, n, k, 3, mean, prec, ws, probe_stop,
								   &stop_now) == RS_ALS_STOPPED);
	UNIT_CHECK(stop_now.calls == 1);
	UNIT_CHECK(rs_als_sample_prior(X, xb, n, k, 3, mean, prec, ws, probe_stop,
								   &never) == RS_ALS_OK);
	UNIT_CHECK(never.calls > 1);
	UNIT_CHECK(rs_als_sample_prior(X, xb, n, k, 3, mean2, prec2, ws, NULL, NULL) == RS_ALS_OK);
	UNIT_CHECK(memcmp(mean, mean2, sizeof(double) * (k + 1)) == 0);
	UNIT_CHECK(memcmp(prec, prec2, sizeof(double) * (k + 1) * (k + 1)) == 0);
	free(X);
	free(xb);
	free(mean);
	free(prec);
	free(mean2);
	free(prec2);
	free(ws);
}

UNIT_TEST(ease_gram_stops_inside_a_heavy_user)
{
	/* three users with all 4,096 items: 3 x 8.4M pairs, over 2^24 */
	int32_t		n = 4096;
	RsCsr		R = dense_prefix_csr(3, n, n);
	float	   *G = malloc(sizeof(float) * n * n);
	float	   *G_plain = malloc(sizeof(float) * n * n);
	StopProbe	stop_now = {0, 1};
	StopProbe	never = {0, 0};

	UNIT_CHECK(rs_ease_gram(&R, 1, NULL, NULL, 0, 1, 0, G, probe_stop, &stop_now) == RS_EASE_STOPPED);
	UNIT_CHECK(stop_now.calls == 1);
	UNIT_CHECK(rs_ease_gram(&R, 1, NULL, NULL, 0, 1, 0, G, probe_stop, &never) == 0);
	UNIT_CHECK(never.calls >= 1);
	UNIT_CHECK(rs_ease_gram(&R, 1, NULL, NULL, 0, 1, 0, G_plain, NULL, NULL) == 0);
	UNIT_CHECK(memcmp(G, G_plain, sizeof(float) * n * n) == 0);
	UNIT_CHECK(G[0] == 4 && G[n + 2] == 3);
	free_csr(&R);
	free(G);
	free(G_plain);
}

UNIT_TEST(init_rows_match_the_whole_matrix)
{
	int			k = 7;
	float	   *whole = malloc(sizeof(float) * 50 * k);
	float	   *chunked = malloc(sizeof(float) * 50 * k);

	rs_init_factors(whole, 50, k, 9, 0.5f);
	rs_init_factors_rows(chunked, 0, 13, k, 9, 0.5f);
	rs_init_factors_rows(chunked, 13, 50, k, 9, 0.5f);
	UNIT_CHECK(memcmp(whole, chunked, sizeof(float) * 50 * k) == 0);
	rs_init_normal(whole, 50, k, 9, 0.5f);
	rs_init_normal_rows(chunked, 0, 31, k, 9, 0.5f);
	rs_init_normal_rows(chunked, 31, 50, k, 9, 0.5f);
	UNIT_CHECK(memcmp(whole, chunked, sizeof(float) * 50 * k) == 0);
	free(whole);
	free(chunked);
}
