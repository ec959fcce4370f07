/*
 * score_bench.c
 *		Serving kernel speed: top-10 over n items x k factors, two ways.
 *
 *	 cc -O2 -Wall -Isrc/kernel -o /tmp/score_bench test/bench/score_bench.c \
 *		src/kernel/*.c -lopenblas -lpthread -lm
 *	 OPENBLAS_NUM_THREADS=1 /tmp/score_bench [n_items] [k] [rounds]
 *
 * "separate" is rs_score_items then rs_topk (a full score array written and
 * read back); "fused" is rs_score_topk (blockwise, scores stay in cache).
 * The two alternate within each round, so machine noise hits both alike;
 * medians are printed.  Memory bandwidth is the floor: n * k * 4 bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "score.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int64_t		n = argc > 1 ? atoll(argv[1]) : 1000000;
	int			k = argc > 2 ? atoi(argv[2]) : 64;
	int			rounds = argc > 3 ? atoi(argv[3]) : 50;
	float	   *Y = malloc(sizeof(float) * n * k);
	float	   *scores = malloc(sizeof(float) * n);
	float	   *block = malloc(sizeof(float) * RS_SCORE_BLOCK);
	uint8_t    *ex = calloc(RS_BITMAP_BYTES(n), 1);
	float	   *x = malloc(sizeof(float) * k);
	double	   *t_sep = malloc(sizeof(double) * rounds);
	double	   *t_fused = malloc(sizeof(double) * rounds);
	int32_t		idx[10];
	float		sc[10];
	uint64_t	state = 42;

	for (int64_t i = 0; i < n * k; i++)
	{
		state = state * 6364136223846793005ULL + 1442695040888963407ULL;
		Y[i] = (float) ((state >> 40) & 0xFFFF) / 65536.0f - 0.5f;
	}
	for (int f = 0; f < k; f++)
		x[f] = (float) (f % 7) / 7.0f - 0.5f;
	for (int i = 0; i < 20; i++)
		rs_bitmap_set(ex, i * 997);

	for (int r = 0; r < rounds; r++)
	{
		double		t0 = now();

		rs_score_items(Y, NULL, n, k, x, scores);
		rs_topk(scores, n, 10, ex, idx, sc);
		t_sep[r] = now() - t0;
		t0 = now();
		rs_score_topk(Y, NULL, n, k, x, ex, 10, block, idx, sc);
		t_fused[r] = now() - t0;
	}
	qsort(t_sep, rounds, sizeof(double), cmp_double);
	qsort(t_fused, rounds, sizeof(double), cmp_double);
	printf("items %lld, k %d, %d rounds: separate p50 %.2f ms, fused p50 %.2f ms (floor: %.0f MB read)\n",
		   (long long) n, k, rounds, t_sep[rounds / 2] * 1e3, t_fused[rounds / 2] * 1e3,
		   n * k * 4 / 1048576.0);
	return 0;
}
