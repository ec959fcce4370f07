/*-------------------------------------------------------------------------
 *
 * blas_loader.c
 *		Load OpenBLAS at _PG_init, pinned to one thread, and forward the
 *		BLAS and LAPACK entry points the kernels use to it.
 *
 * Debian's libopenblas0 is the pthreads build: when the library is loaded
 * it starts a worker thread per core, and each one busy-waits for a while
 * before it sleeps.  Linked directly, every backend that loaded recsys
 * would start those threads (and a preloading postmaster would fork
 * children whose OpenBLAS believes in threads that do not exist there).
 * OpenBLAS reads OPENBLAS_NUM_THREADS when it is loaded, so recsys.so is
 * not linked against it: _PG_init sets the variable (unless the
 * administrator did) and only then dlopen()s the library.  The kernels
 * parallelise across rows themselves (recsys.threads); a big dense
 * operation that wants BLAS threads asks for them with
 * RsBlasSetThreads() for its duration.
 *
 * OpenBLAS starts its worker threads inside dlopen() (when
 * OPENBLAS_NUM_THREADS asks for more than one) and inside
 * openblas_set_num_threads() (when it raises the count), and they live as
 * long as the backend.  A thread inherits its creator's signal mask, and
 * a process-directed signal (SIGINT, SIGTERM, SIGALRM of
 * statement_timeout, SIGUSR1...) goes to any thread that does not block
 * it: PostgreSQL's handlers must never run on an OpenBLAS thread.  So
 * every signal is blocked in the backend around those two calls, and the
 * backend's own mask is restored right after (recsys's own worker threads
 * are created the same way, src/kernel/threads.c).
 *
 * The functions below have the names and signatures of cblas.h and
 * LAPACK, so the plain-C kernels call BLAS the same way in the server
 * and in the unit tests (which link OpenBLAS directly).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cblas.h>
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "blas_loader.h"

#define OPENBLAS_LIBRARY "libopenblas.so.0"

static void *openblas = NULL;

static void (*p_sgemv) (const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const blasint,
						const blasint, const float, const float *, const blasint,
						const float *, const blasint, const float, float *, const blasint);
static void (*p_sgemm) (const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
						const enum CBLAS_TRANSPOSE, const blasint, const blasint,
						const blasint, const float, const float *, const blasint,
						const float *, const blasint, const float, float *, const blasint);
static void (*p_ssyrk) (const enum CBLAS_ORDER, const enum CBLAS_UPLO, const enum CBLAS_TRANSPOSE,
						const blasint, const blasint, const float, const float *,
						const blasint, const float, float *, const blasint);
static float (*p_sdot) (const blasint, const float *, const blasint, const float *, const blasint);
static void (*p_spotrf) (const char *, const int *, float *, const int *, int *);
static void (*p_spotrs) (const char *, const int *, const int *, const float *, const int *,
						 float *, const int *, int *);
static void (*p_strsm) (const enum CBLAS_ORDER, const enum CBLAS_SIDE, const enum CBLAS_UPLO,
						const enum CBLAS_TRANSPOSE, const enum CBLAS_DIAG, const blasint,
						const blasint, const float, const float *, const blasint, float *,
						const blasint);
static void (*p_strmm) (const enum CBLAS_ORDER, const enum CBLAS_SIDE, const enum CBLAS_UPLO,
						const enum CBLAS_TRANSPOSE, const enum CBLAS_DIAG, const blasint,
						const blasint, const float, const float *, const blasint, float *,
						const blasint);
static void (*p_strtri) (const char *, const char *, const int *, float *, const int *, int *);
static void (*p_slauum) (const char *, const int *, float *, const int *, int *);
static void (*p_set_num_threads) (int);

/* Look up one symbol, or fail the load with a clear message. */
static void *
lookup(const char *symbol)
{
	void	   *p = dlsym(openblas, symbol);

	if (p == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not find %s in %s: %s", symbol, OPENBLAS_LIBRARY, dlerror())));
	return p;
}

/*
 * Block every signal in the calling thread, so that threads it creates
 * start with all of them blocked; the old mask goes to *old.
 */
static void
block_all_signals(sigset_t *old)
{
	sigset_t	all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, old);
}

static void
restore_signals(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/*
 * RsLoadBlas loads OpenBLAS with one thread; called from _PG_init.
 */
void
RsLoadBlas(void)
{
	sigset_t	old_signals;
	const char *error = NULL;

	if (openblas != NULL)
		return;
	/* respect an administrator's explicit choice */
	setenv("OPENBLAS_NUM_THREADS", "1", 0);
	/* which may start threads: see the header comment */
	block_all_signals(&old_signals);
	openblas = dlopen(OPENBLAS_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	if (openblas == NULL)
		error = dlerror();
	restore_signals(&old_signals);
	if (openblas == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("could not load %s: %s", OPENBLAS_LIBRARY, error),
				 errhint("Install OpenBLAS (Debian: apt-get install libopenblas0).")));
	p_sgemv = lookup("cblas_sgemv");
	p_sgemm = lookup("cblas_sgemm");
	p_ssyrk = lookup("cblas_ssyrk");
	p_sdot = lookup("cblas_sdot");
	p_spotrf = lookup("spotrf_");
	p_spotrs = lookup("spotrs_");
	p_strsm = lookup("cblas_strsm");
	p_strmm = lookup("cblas_strmm");
	p_strtri = lookup("strtri_");
	p_slauum = lookup("slauum_");
	p_set_num_threads = lookup("openblas_set_num_threads");
	RsBlasSetThreads(1);
}

/*
 * RsBlasSetThreads sets how many threads OpenBLAS itself may use; a large
 * dense operation raises it for its duration and sets it back to 1.
 * Raising it starts threads, with every signal blocked.
 */
void
RsBlasSetThreads(int threads)
{
	sigset_t	old_signals;

	block_all_signals(&old_signals);
	p_set_num_threads(threads);
	restore_signals(&old_signals);
}

/*
 * The forwarders are hidden: without this they would be global symbols of
 * recsys.so and so of the backend (dlopen'ed RTLD_GLOBAL), where another
 * extension's call to cblas_sgemm or spotrf_ could bind to them (and
 * fail while recsys has not loaded OpenBLAS), and recsys's own calls
 * could bind to another library's.  Hidden, the kernels in recsys.so call
 * them directly and nothing outside sees them (test/run.sh checks that
 * `nm -D recsys.so` lists none).  PostgreSQL 15's PGXS does not build
 * with -fvisibility=hidden, so each one says so.
 */
#define RS_BLAS_FORWARDER __attribute__((visibility("hidden")))

RS_BLAS_FORWARDER void
cblas_sgemv(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE trans, const blasint m,
			const blasint n, const float alpha, const float *a, const blasint lda,
			const float *x, const blasint incx, const float beta, float *y, const blasint incy)
{
	p_sgemv(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

RS_BLAS_FORWARDER void
cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE transa,
			const enum CBLAS_TRANSPOSE transb, const blasint m, const blasint n, const blasint k,
			const float alpha, const float *a, const blasint lda, const float *b,
			const blasint ldb, const float beta, float *c, const blasint ldc)
{
	p_sgemm(order, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

RS_BLAS_FORWARDER void
cblas_ssyrk(const enum CBLAS_ORDER order, const enum CBLAS_UPLO uplo,
			const enum CBLAS_TRANSPOSE trans, const blasint n, const blasint k,
			const float alpha, const float *a, const blasint lda, const float beta,
			float *c, const blasint ldc)
{
	p_ssyrk(order, uplo, trans, n, k, alpha, a, lda, beta, c, ldc);
}

RS_BLAS_FORWARDER void
cblas_strsm(const enum CBLAS_ORDER order, const enum CBLAS_SIDE side, const enum CBLAS_UPLO uplo,
			const enum CBLAS_TRANSPOSE trans, const enum CBLAS_DIAG diag, const blasint m,
			const blasint n, const float alpha, const float *a, const blasint lda, float *b,
			const blasint ldb)
{
	p_strsm(order, side, uplo, trans, diag, m, n, alpha, a, lda, b, ldb);
}

RS_BLAS_FORWARDER void
cblas_strmm(const enum CBLAS_ORDER order, const enum CBLAS_SIDE side, const enum CBLAS_UPLO uplo,
			const enum CBLAS_TRANSPOSE trans, const enum CBLAS_DIAG diag, const blasint m,
			const blasint n, const float alpha, const float *a, const blasint lda, float *b,
			const blasint ldb)
{
	p_strmm(order, side, uplo, trans, diag, m, n, alpha, a, lda, b, ldb);
}

RS_BLAS_FORWARDER float
cblas_sdot(const blasint n, const float *x, const blasint incx, const float *y,
		   const blasint incy)
{
	return p_sdot(n, x, incx, y, incy);
}

/* LAPACK, Fortran calling convention (declared in src/kernel/linalg.c) */
extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
extern void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a,
					const int *lda, float *b, const int *ldb, int *info);
extern void strtri_(const char *uplo, const char *diag, const int *n, float *a, const int *lda,
					int *info);
extern void slauum_(const char *uplo, const int *n, float *a, const int *lda, int *info);

RS_BLAS_FORWARDER void
spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info)
{
	p_spotrf(uplo, n, a, lda, info);
}

RS_BLAS_FORWARDER void
spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a, const int *lda,
		float *b, const int *ldb, int *info)
{
	p_spotrs(uplo, n, nrhs, a, lda, b, ldb, info);
}

RS_BLAS_FORWARDER void
strtri_(const char *uplo, const char *diag, const int *n, float *a, const int *lda, int *info)
{
	p_strtri(uplo, diag, n, a, lda, info);
}

RS_BLAS_FORWARDER void
slauum_(const char *uplo, const int *n, float *a, const int *lda, int *info)
{
	p_slauum(uplo, n, a, lda, info);
}
