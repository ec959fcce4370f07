/*
 * test_thread_failure.c
 *		The kernels when no worker thread can be created.
 *
 * rs_knn_build and the ALS updates start nthreads - 1 POSIX threads.  If
 * pthread_create fails (a backend at its process limit, RLIMIT_NPROC, or
 * out of address space), the calling thread must still compute every row,
 * bit-identical to a single-threaded run, and the kernel must return its
 * ERR_THREAD status (which the glue, src/train_knn.c and src/train_cf.c,
 * turns into an INSUFFICIENT_RESOURCES error).  No hook in the kernels:
 * the failure is real.  A forked child drops to an unprivileged user
 * (when run as root, whom the limit does not bind) and sets RLIMIT_NPROC
 * to 1, so every clone() fails with EAGAIN; it checks that a plain
 * pthread_create now fails, runs the kernels with 4 threads, compares with
 * the results the parent computed on one thread, and exits 0 if all held.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "als.h"
#include "knn.h"
#include "sparse.h"
#include "unit.h"

#define TF_UNPRIVILEGED_ID 65534	/* nobody */

static void *
tf_idle(void *arg)
{
	return arg;
}

/*
 * In the child: make every thread creation fail from here on.  Returns
 * false (and says why) if it could not.
 */
static bool
tf_forbid_threads(void)
{
	struct rlimit one = {1, 1};
	pthread_t	t;
	int			err;

	if (geteuid() == 0 && (setgid(TF_UNPRIVILEGED_ID) != 0 || setuid(TF_UNPRIVILEGED_ID) != 0))
	{
		fprintf(stderr, "  cannot drop root: %s\n", strerror(errno));
		return false;
	}
	if (setrlimit(RLIMIT_NPROC, &one) != 0)
	{
		fprintf(stderr, "  setrlimit(RLIMIT_NPROC): %s\n", strerror(errno));
		return false;
	}
	err = pthread_create(&t, NULL, tf_idle, NULL);
	if (err == 0)
	{
		pthread_join(t, NULL);
		fprintf(stderr, "  pthread_create still succeeds under RLIMIT_NPROC = 1\n");
		return false;
	}
	return true;
}

/*
 * Run check() in a forked child with thread creation forbidden; true if
 * it exited 0.
 */
static bool
tf_in_child(bool (*check) (void *), void *arg)
{
	pid_t		pid;
	int			wstatus;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(tf_forbid_threads() && check(arg) ? 0 : 1);
	if (waitpid(pid, &wstatus, 0) != pid)
		return false;
	return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
}

/* A random 150 x 90 CSR (and transpose) with weights 1..4. */
static void
tf_matrix(RsCsr *R, RsCsr *Rt)
{
	enum
	{
		ROWS = 150, COLS = 90, CAP = ROWS * COLS
	};
	int32_t    *rows = malloc(sizeof(int32_t) * CAP);
	int32_t    *cols = malloc(sizeof(int32_t) * CAP);
	float	   *vals = malloc(sizeof(float) * CAP);
	int64_t		n = 0;
	uint64_t	st = 12345;

	for (int32_t r = 0; r < ROWS; r++)
		for (int32_t c = 0; c < COLS; c++)
		{
			st = st * 6364136223846793005ULL + 1442695040888963407ULL;
			if ((st >> 33) % 100 < 8)
			{
				rows[n] = r;
				cols[n] = c;
				vals[n] = (float) (1 + (st >> 40) % 4);
				n++;
			}
		}
	R->indptr = malloc(sizeof(int64_t) * (ROWS + 1));
	R->indices = malloc(sizeof(int32_t) * n);
	R->data = malloc(sizeof(float) * n);
	rs_coo_to_csr(ROWS, COLS, n, rows, cols, vals, R);
	Rt->indptr = malloc(sizeof(int64_t) * (COLS + 1));
	Rt->indices = malloc(sizeof(int32_t) * n);
	Rt->data = malloc(sizeof(float) * n);
	rs_csr_transpose(R, Rt);
	free(rows);
	free(cols);
	free(vals);
}

static void
tf_matrix_free(RsCsr *R, RsCsr *Rt)
{
	free(R->indptr);
	free(R->indices);
	free(R->data);
	free(Rt->indptr);
	free(Rt->indices);
	free(Rt->data);
}

/* ---------------------------------------------------------------------- */

typedef struct KnnCase
{
	RsCsr		R;
	RsCsr		Rt;
	RsKnnParams params;
	float	   *norms;
	int32_t    *nbr;			/* the one-thread results */
	float	   *sim;
	int32_t    *count;
} KnnCase;

static int
tf_knn_run(KnnCase *c, int nthreads, int32_t *nbr, float *sim, int32_t *count)
{
	void	   *ws = malloc(rs_knn_workspace_bytes(&c->params, c->Rt.n_rows, nthreads));
	int			status = rs_knn_build(&c->Rt, &c->R, c->norms, &c->params, 0, c->Rt.n_rows,
									  nthreads, ws, nbr, sim, count);

	free(ws);
	return status;
}

static bool
tf_knn_check(void *arg)
{
	KnnCase    *c = arg;
	int32_t		n = c->Rt.n_rows;
	size_t		slots = (size_t) n * c->params.k;
	int32_t    *nbr = malloc(sizeof(int32_t) * slots);
	float	   *sim = malloc(sizeof(float) * slots);
	int32_t    *count = malloc(sizeof(int32_t) * n);
	int			status = tf_knn_run(c, 4, nbr, sim, count);
	bool		same = memcmp(nbr, c->nbr, sizeof(int32_t) * slots) == 0 &&
		memcmp(sim, c->sim, sizeof(float) * slots) == 0 &&
		memcmp(count, c->count, sizeof(int32_t) * n) == 0;

	if (status != RS_KNN_ERR_THREAD)
		fprintf(stderr, "  rs_knn_build returned %d (%s), not RS_KNN_ERR_THREAD\n",
				status, rs_knn_strerror(status));
	if (!same)
		fprintf(stderr, "  rs_knn_build without threads differs from one thread\n");
	return status == RS_KNN_ERR_THREAD && same;
}

UNIT_TEST(knn_thread_creation_fails)
{
	KnnCase		c;
	size_t		slots;

	tf_matrix(&c.R, &c.Rt);
	c.params = (RsKnnParams) {RS_KNN_COSINE, 10, 0.0f, 0.0f};
	c.norms = malloc(sizeof(float) * c.Rt.n_rows);
	rs_knn_row_norms(&c.Rt, c.norms);
	slots = (size_t) c.Rt.n_rows * c.params.k;
	c.nbr = malloc(sizeof(int32_t) * slots);
	c.sim = malloc(sizeof(float) * slots);
	c.count = malloc(sizeof(int32_t) * c.Rt.n_rows);
	UNIT_CHECK(tf_knn_run(&c, 1, c.nbr, c.sim, c.count) == RS_KNN_OK);
	UNIT_CHECK(tf_in_child(tf_knn_check, &c));
	UNIT_CHECK(strstr(rs_knn_strerror(RS_KNN_ERR_THREAD), "thread") != NULL);
	free(c.norms);
	free(c.nbr);
	free(c.sim);
	free(c.count);
	tf_matrix_free(&c.R, &c.Rt);
}

/* ---------------------------------------------------------------------- */

typedef struct AlsCase
{
	RsCsr		R;
	RsCsr		Rt;
	int			k;
	float	   *Y;
	float	   *G;
	float	   *X;				/* the one-thread update */
} AlsCase;

static int
tf_als_run(AlsCase *c, int nthreads, float *X)
{
	float	   *ws = malloc(sizeof(float) * rs_als_workspace_floats(c->k, nthreads));
	int			status;

	memset(X, 0, sizeof(float) * c->R.n_rows * c->k);
	status = rs_als_implicit_update(&c->R, c->Y, c->G, X, c->k, 0.1f, 2.0f, 3,
									0, c->R.n_rows, nthreads, ws);
	free(ws);
	return status;
}

static bool
tf_als_check(void *arg)
{
	AlsCase    *c = arg;
	float	   *X = malloc(sizeof(float) * c->R.n_rows * c->k);
	int			status = tf_als_run(c, 4, X);
	bool		same = memcmp(X, c->X, sizeof(float) * c->R.n_rows * c->k) == 0;

	if (status != RS_ALS_ERR_THREAD)
		fprintf(stderr, "  rs_als_implicit_update returned %d (%s), not RS_ALS_ERR_THREAD\n",
				status, rs_als_strerror(status));
	if (!same)
		fprintf(stderr, "  rs_als_implicit_update without threads differs from one thread\n");
	return status == RS_ALS_ERR_THREAD && same;
}

UNIT_TEST(als_thread_creation_fails)
{
	AlsCase		c;

	tf_matrix(&c.R, &c.Rt);
	c.k = 8;
	c.Y = malloc(sizeof(float) * c.R.n_cols * c.k);
	c.G = malloc(sizeof(float) * c.k * c.k);
	c.X = malloc(sizeof(float) * c.R.n_rows * c.k);
	rs_init_factors(c.Y, c.R.n_cols, c.k, 7, 0.5f);
	rs_gram(c.Y, c.R.n_cols, c.k, c.G);
	UNIT_CHECK(tf_als_run(&c, 1, c.X) == RS_ALS_OK);
	UNIT_CHECK(tf_in_child(tf_als_check, &c));
	UNIT_CHECK(strstr(rs_als_strerror(RS_ALS_ERR_THREAD), "thread") != NULL);
	free(c.Y);
	free(c.G);
	free(c.X);
	tf_matrix_free(&c.R, &c.Rt);
}
