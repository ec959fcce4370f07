/*-------------------------------------------------------------------------
 *
 * threads.h
 *		The kernels' one fork/join helper: run a worker function on the
 *		calling thread and on nthreads - 1 new threads, then join them.
 *
 * Every thread is created with every signal blocked (the caller's mask is
 * restored right after), so a signal sent to the backend (cancel,
 * terminate, statement_timeout's SIGALRM) is handled by the backend's own
 * thread and never runs PostgreSQL's handlers on a worker.  Workers never
 * call a stop callback (stop.h): only the calling thread does, between
 * parallel steps.
 *
 * Work is shared by a queue the workers pull from (rs_threads_grab), so
 * when a thread cannot be created the threads that run (at least the
 * caller) still do every row; rs_threads_run then reports
 * RS_THREADS_ERR_CREATE and each kernel returns its ERR_THREAD status
 * with complete results.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_THREADS_H
#define RECSYS_KERNEL_THREADS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most threads one call runs, the caller's included. */
#define RS_THREADS_MAX			64

#define RS_THREADS_OK			0
#define RS_THREADS_ERR_CREATE	(-1)	/* some worker could not be created */

/* pthread_create's signature; see rs_thread_create. */
typedef int (*RsThreadCreateFn) (pthread_t *thread, const pthread_attr_t *attr,
								 void *(*start) (void *), void *arg);

/*
 * How rs_threads_run creates a thread: pthread_create, unless a unit test
 * replaces it (to make the n-th creation fail, say).  Not for the server.
 */
extern RsThreadCreateFn rs_thread_create;

/*
 * Run worker(args + t * arg_size) for t in [0, nthreads): t = 0 on the
 * calling thread, the others on new threads with every signal blocked;
 * returns once all have finished.  nthreads is capped to RS_THREADS_MAX;
 * below 2 the worker just runs on the caller.  If a creation fails no
 * further thread is tried: the caller runs its share, the created ones
 * are joined, and RS_THREADS_ERR_CREATE is returned (RS_THREADS_OK
 * otherwise).
 */
extern int	rs_threads_run(int nthreads, void *(*worker) (void *), void *args,
						   size_t arg_size);

/*
 * Take the next range of at most grab rows before end from the shared
 * counter *next (atomically); false once none is left.
 */
static inline bool
rs_threads_grab(int64_t *next, int64_t grab, int64_t end,
				int64_t *range_begin, int64_t *range_end)
{
	int64_t		begin = __atomic_fetch_add(next, grab, __ATOMIC_RELAXED);

	if (begin >= end)
		return false;
	*range_begin = begin;
	*range_end = begin + grab < end ? begin + grab : end;
	return true;
}

#endif							/* RECSYS_KERNEL_THREADS_H */
