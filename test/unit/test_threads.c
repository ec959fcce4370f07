/*
 * test_threads.c
 *		Unit tests of the kernels' fork/join helper (src/kernel/threads.c):
 *		every share runs once, the workers block every signal while the
 *		caller's mask is restored, a failed creation (through the
 *		rs_thread_create hook) is reported and leaves the queue's work to
 *		the threads that run (rs_knn_build then returns RS_KNN_ERR_THREAD
 *		with every row as on one thread), and rs_threads_grab hands out
 *		each row once.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "knn.h"
#include "sparse.h"
#include "threads.h"
#include "unit.h"

#define TT_ROWS 10007

typedef struct TtShared
{
	int64_t		next;
	int			done[TT_ROWS];	/* how often each row was done */
} TtShared;

typedef struct TtWorker
{
	TtShared   *shared;
	int			ran;			/* this share's worker ran */
	int			signals_blocked;	/* SIGINT, SIGTERM, SIGALRM, SIGUSR1 */
	pthread_t	self;
} TtWorker;

static void *
tt_worker(void *arg)
{
	TtWorker   *w = arg;
	sigset_t	mask;
	int64_t		begin,
				end;

	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	w->signals_blocked = sigismember(&mask, SIGINT) && sigismember(&mask, SIGTERM) &&
		sigismember(&mask, SIGALRM) && sigismember(&mask, SIGUSR1);
	w->self = pthread_self();
	w->ran++;
	while (rs_threads_grab(&w->shared->next, 7, TT_ROWS, &begin, &end))
		for (int64_t r = begin; r < end; r++)
			__atomic_fetch_add(&w->shared->done[r], 1, __ATOMIC_RELAXED);
	return NULL;
}

static TtShared tt_shared;
static TtWorker tt_workers[RS_THREADS_MAX + 8];

/* Run n shares; returns rs_threads_run's status. */
static int
tt_run(int n)
{
	memset(&tt_shared, 0, sizeof(tt_shared));
	memset(tt_workers, 0, sizeof(tt_workers));
	for (int t = 0; t < RS_THREADS_MAX + 8; t++)
		tt_workers[t].shared = &tt_shared;
	return rs_threads_run(n, tt_worker, tt_workers, sizeof(TtWorker));
}

/* Whether every row was done exactly once. */
static int
tt_rows_once(void)
{
	for (int r = 0; r < TT_ROWS; r++)
		if (tt_shared.done[r] != 1)
			return 0;
	return 1;
}

UNIT_TEST(threads_run_every_share_once)
{
	const int	counts[] = {0, 1, 2, 4, RS_THREADS_MAX, RS_THREADS_MAX + 8};

	for (int c = 0; c < 6; c++)
	{
		int			n = counts[c];
		int			expect = n < 1 ? 1 : n > RS_THREADS_MAX ? RS_THREADS_MAX : n;

		UNIT_CHECK(tt_run(n) == RS_THREADS_OK);
		UNIT_CHECK(tt_rows_once());
		for (int t = 0; t < RS_THREADS_MAX + 8; t++)
			UNIT_CHECK(tt_workers[t].ran == (t < expect));
		/* share 0 is the caller's own */
		UNIT_CHECK(pthread_equal(tt_workers[0].self, pthread_self()));
	}
}

UNIT_TEST(threads_workers_block_signals_caller_keeps_its_mask)
{
	sigset_t	before,
				after;

	pthread_sigmask(SIG_BLOCK, NULL, &before);
	UNIT_CHECK(!sigismember(&before, SIGINT));
	UNIT_CHECK(tt_run(4) == RS_THREADS_OK);
	for (int t = 1; t < 4; t++)
		UNIT_CHECK(tt_workers[t].signals_blocked);
	/* the caller ran its share with its own mask, and has it back */
	UNIT_CHECK(!tt_workers[0].signals_blocked);
	pthread_sigmask(SIG_BLOCK, NULL, &after);
	for (int sig = 1; sig < 32; sig++)
		UNIT_CHECK(sigismember(&before, sig) == sigismember(&after, sig));
}

static int	tt_creations;
static int	tt_fail_at;

/* pthread_create, except that creation number tt_fail_at fails. */
static int
tt_failing_create(pthread_t *thread, const pthread_attr_t *attr,
				  void *(*start) (void *), void *arg)
{
	if (++tt_creations == tt_fail_at)
		return 11;				/* EAGAIN */
	return pthread_create(thread, attr, start, arg);
}

UNIT_TEST(threads_creation_failure_is_reported_work_still_done)
{
	for (int fail_at = 1; fail_at <= 3; fail_at++)
	{
		tt_creations = 0;
		tt_fail_at = fail_at;
		rs_thread_create = tt_failing_create;
		UNIT_CHECK(tt_run(5) == RS_THREADS_ERR_CREATE);
		rs_thread_create = pthread_create;
		/* no creation is tried after the failed one */
		UNIT_CHECK(tt_creations == fail_at);
		UNIT_CHECK(tt_rows_once());
		for (int t = 0; t < 5; t++)
			UNIT_CHECK(tt_workers[t].ran == (t < fail_at));
	}
	/* one thread creates none, so nothing can fail */
	tt_creations = 0;
	tt_fail_at = 1;
	rs_thread_create = tt_failing_create;
	UNIT_CHECK(tt_run(1) == RS_THREADS_OK);
	rs_thread_create = pthread_create;
	UNIT_CHECK(tt_creations == 0 && tt_rows_once());
}

UNIT_TEST(threads_grab_covers_the_range)
{
	int64_t		next = 5,
				begin,
				end;

	UNIT_CHECK(rs_threads_grab(&next, 4, 12, &begin, &end) && begin == 5 && end == 9);
	UNIT_CHECK(rs_threads_grab(&next, 4, 12, &begin, &end) && begin == 9 && end == 12);
	UNIT_CHECK(!rs_threads_grab(&next, 4, 12, &begin, &end));
	UNIT_CHECK(!rs_threads_grab(&next, 4, 12, &begin, &end));
}


#define TT_KNN_ROWS 300
#define TT_KNN_COLS 50
#define TT_KNN_NNZ 3000
#define TT_KNN_K 7

/* rs_knn_build of a fixed random matrix on nthreads threads. */
static int
tt_knn(int nthreads, int32_t *nbr, float *sim, int32_t *count)
{
	static int32_t rows[TT_KNN_NNZ],
				cols[TT_KNN_NNZ];
	static float vals[TT_KNN_NNZ];
	static int64_t indptr[TT_KNN_ROWS + 1],
				indptr_t[TT_KNN_COLS + 1];
	static int32_t indices[TT_KNN_NNZ],
				indices_t[TT_KNN_NNZ];
	static float data[TT_KNN_NNZ],
				data_t[TT_KNN_NNZ],
				norms[TT_KNN_ROWS];
	RsCsr		A = {0, 0, 0, indptr, indices, data};
	RsCsr		At = {0, 0, 0, indptr_t, indices_t, data_t};
	RsKnnParams params = {RS_KNN_COSINE, TT_KNN_K, 1.0f, 0.0f, NULL};
	void	   *ws;
	int			status;

	for (int i = 0; i < TT_KNN_NNZ; i++)
	{
		rows[i] = (int32_t) ((i * 7919u) % TT_KNN_ROWS);
		cols[i] = (int32_t) ((i * 104729u + i / 3) % TT_KNN_COLS);
		vals[i] = 1.0f + (float) (i % 5);
	}
	rs_coo_to_csr(TT_KNN_ROWS, TT_KNN_COLS, TT_KNN_NNZ, rows, cols, vals, &A);
	rs_csr_transpose(&A, &At);
	rs_knn_row_norms(&A, norms);
	ws = malloc(rs_knn_workspace_bytes(&params, TT_KNN_ROWS, nthreads));
	status = rs_knn_build(&A, &At, norms, &params, 0, TT_KNN_ROWS, nthreads, ws,
						  nbr, sim, count);
	free(ws);
	return status;
}

UNIT_TEST(threads_knn_build_when_a_creation_fails)
{
	static int32_t nbr1[TT_KNN_ROWS * TT_KNN_K],
				nbr4[TT_KNN_ROWS * TT_KNN_K],
				count1[TT_KNN_ROWS],
				count4[TT_KNN_ROWS];
	static float sim1[TT_KNN_ROWS * TT_KNN_K],
				sim4[TT_KNN_ROWS * TT_KNN_K];

	UNIT_CHECK(tt_knn(1, nbr1, sim1, count1) == RS_KNN_OK);
	{
		int			total = 0;

		for (int r = 0; r < TT_KNN_ROWS; r++)
			total += count1[r];
		UNIT_CHECK(total > TT_KNN_ROWS);	/* rows do have neighbours */
	}
	for (int fail_at = 1; fail_at <= 3; fail_at++)
	{
		memset(nbr4, 0xff, sizeof(nbr4));
		tt_creations = 0;
		tt_fail_at = fail_at;
		rs_thread_create = tt_failing_create;
		/* the rows are all computed, by the threads that did start */
		UNIT_CHECK(tt_knn(4, nbr4, sim4, count4) == RS_KNN_ERR_THREAD);
		rs_thread_create = pthread_create;
		UNIT_CHECK(memcmp(count1, count4, sizeof(count1)) == 0);
		UNIT_CHECK(memcmp(nbr1, nbr4, sizeof(nbr1)) == 0);
		UNIT_CHECK(memcmp(sim1, sim4, sizeof(sim1)) == 0);
	}
	UNIT_CHECK(tt_knn(4, nbr4, sim4, count4) == RS_KNN_OK);
	UNIT_CHECK(memcmp(nbr1, nbr4, sizeof(nbr1)) == 0);
}
