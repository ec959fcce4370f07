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
 * to its user's task count (from /proc) plus 0 or 2, so that no thread,
 * or two, can start before clone() fails with EAGAIN; a probe checks that
 * exactly so many start.  The child then runs the kernels with 4 threads
 * (3 to create: none, or two at a time, can start), compares with the
 * results the parent computed on one thread, and exits 0 if all held.
 */
#include <dirent.h>
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
#define TF_MAX_PROBE 16

/* Tasks (threads) whose real user is uid, counted from /proc. */
static int
tf_user_tasks(uid_t uid)
{
	DIR		   *proc = opendir("/proc");
	struct dirent *d;
	int			tasks = 0;

	if (proc == NULL)
		return -1;
	while ((d = readdir(proc)) != NULL)
	{
		char		path[300];
		char		line[256];
		FILE	   *f;
		long		real_uid = -1,
					threads = 0;

		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", d->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;			/* gone meanwhile */
		while (fgets(line, sizeof(line), f) != NULL)
		{
			if (strncmp(line, "Uid:", 4) == 0)
				real_uid = strtol(line + 4, NULL, 10);
			else if (strncmp(line, "Threads:", 8) == 0)
				threads = strtol(line + 8, NULL, 10);
		}
		fclose(f);
		if (real_uid == (long) uid)
			tasks += (int) threads;
	}
	closedir(proc);
	return tasks;
}

/* A probe thread: waits until the pipe's write end is closed. */
static void *
tf_wait(void *arg)
{
	char		c;

	while (read(*(int *) arg, &c, 1) > 0)
		;
	return NULL;
}

/*
 * In the child: drop to an unprivileged user (root is not bound by the
 * limit) and let only `allowed` more threads start from here on.  Returns
 * how many threads a probe could start (all of them still running, then
 * released and gone again), or -1 (saying why) if the limit could not be
 * set.
 */
static int
tf_limit_threads(int allowed)
{
	struct rlimit limit;
	pthread_t	probe[TF_MAX_PROBE];
	int			fds[2];
	int			base;
	int			started = 0;

	if (geteuid() == 0 && (setgid(TF_UNPRIVILEGED_ID) != 0 || setuid(TF_UNPRIVILEGED_ID) != 0))
	{
		fprintf(stderr, "  cannot drop root: %s\n", strerror(errno));
		return -1;
	}
	/* the limit counts every task of the user, this process included */
	base = tf_user_tasks(getuid());
	limit.rlim_cur = limit.rlim_max = (rlim_t) (base + allowed);
	if (base < 1 || setrlimit(RLIMIT_NPROC, &limit) != 0 || pipe(fds) != 0)
	{
		fprintf(stderr, "  cannot limit threads (%d tasks): %s\n", base, strerror(errno));
		return -1;
	}
	while (started < TF_MAX_PROBE && pthread_create(&probe[started], NULL, tf_wait, &fds[0]) == 0)
		started++;
	close(fds[1]);
	for (int t = 0; t < started; t++)
		pthread_join(probe[t], NULL);
	close(fds[0]);
	/* joined threads leave the count a moment after */
	for (int wait = 0; wait < 2000 && tf_user_tasks(getuid()) > base; wait++)
		usleep(1000);
	return started;
}

/*
 * Run check() in a forked child where only `allowed` threads can start;
 * true if the probe started exactly that many and check() held.
 */
static bool
tf_in_child(int allowed, bool (*check) (void *), void *arg)
{
	pid_t		pid;
	int			wstatus;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0)
	{
		int			started = tf_limit_threads(allowed);

		if (started >= 0 && started != allowed)
			fprintf(stderr, "  %d probe threads started under the limit, not %d\n", started, allowed);
		_exit(started == allowed && check(arg) ? 0 : 1);
	}
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
	bool		some_start;		/* threads may start: success allowed */
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

	if (status != RS_KNN_ERR_THREAD && !(c->some_start && status == RS_KNN_OK))
		fprintf(stderr, "  rs_knn_build returned %d (%s), not RS_KNN_ERR_THREAD\n",
				status, rs_knn_strerror(status));
	if (!same)
		fprintf(stderr, "  rs_knn_build without threads differs from one thread\n");
	return (status == RS_KNN_ERR_THREAD || (c->some_start && status == RS_KNN_OK)) && same;
}

UNIT_TEST(knn_thread_creation_fails)
{
	KnnCase		c;
	size_t		slots;

	tf_matrix(&c.R, &c.Rt);
	c.params = (RsKnnParams) {RS_KNN_COSINE, 10, 0.0f, 0.0f, NULL};
	c.norms = malloc(sizeof(float) * c.Rt.n_rows);
	rs_knn_row_norms(&c.Rt, c.norms);
	slots = (size_t) c.Rt.n_rows * c.params.k;
	c.nbr = malloc(sizeof(int32_t) * slots);
	c.sim = malloc(sizeof(float) * slots);
	c.count = malloc(sizeof(int32_t) * c.Rt.n_rows);
	UNIT_CHECK(tf_knn_run(&c, 1, c.nbr, c.sim, c.count) == RS_KNN_OK);
	/* no thread at all */
	c.some_start = false;
	UNIT_CHECK(tf_in_child(0, tf_knn_check, &c));
	/*
	 * two threads at a time: the third creation fails unless one of the
	 * first two has already finished its rows and exited (a loaded
	 * machine), so success is allowed too; the rows must be right either way
	 */
	c.some_start = true;
	UNIT_CHECK(tf_in_child(2, tf_knn_check, &c));
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
	bool		some_start;		/* threads may start: success allowed */
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

	if (status != RS_ALS_ERR_THREAD && !(c->some_start && status == RS_ALS_OK))
		fprintf(stderr, "  rs_als_implicit_update returned %d (%s), not RS_ALS_ERR_THREAD\n",
				status, rs_als_strerror(status));
	if (!same)
		fprintf(stderr, "  rs_als_implicit_update without threads differs from one thread\n");
	return (status == RS_ALS_ERR_THREAD || (c->some_start && status == RS_ALS_OK)) && same;
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
	rs_gram(c.Y, c.R.n_cols, c.k, c.G, NULL, NULL);
	UNIT_CHECK(tf_als_run(&c, 1, c.X) == RS_ALS_OK);
	c.some_start = false;
	UNIT_CHECK(tf_in_child(0, tf_als_check, &c));
	c.some_start = true;
	UNIT_CHECK(tf_in_child(2, tf_als_check, &c));
	UNIT_CHECK(strstr(rs_als_strerror(RS_ALS_ERR_THREAD), "thread") != NULL);
	free(c.Y);
	free(c.G);
	free(c.X);
	tf_matrix_free(&c.R, &c.Rt);
}
