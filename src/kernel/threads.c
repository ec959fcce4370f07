/*-------------------------------------------------------------------------
 *
 * threads.c
 *		Fork/join of the kernels' worker threads with signals blocked.
 *		See threads.h.
 *
 *-------------------------------------------------------------------------
 */
#include "threads.h"

#include <signal.h>

RsThreadCreateFn rs_thread_create = pthread_create;

int
rs_threads_run(int nthreads, void *(*worker) (void *), void *args, size_t arg_size)
{
	pthread_t	threads[RS_THREADS_MAX];
	sigset_t	all_signals,
				old_signals;
	char	   *base = (char *) args;
	int			created = 0;
	int			status = RS_THREADS_OK;

	if (nthreads > RS_THREADS_MAX)
		nthreads = RS_THREADS_MAX;
	if (nthreads <= 1)
	{
		worker(args);
		return RS_THREADS_OK;
	}

	/* workers inherit a full signal mask: the backend's signals go to us */
	sigfillset(&all_signals);
	pthread_sigmask(SIG_BLOCK, &all_signals, &old_signals);
	for (int t = 1; t < nthreads; t++)
	{
		if (rs_thread_create(&threads[t], NULL, worker, base + (size_t) t * arg_size) != 0)
		{
			status = RS_THREADS_ERR_CREATE;
			break;
		}
		created++;
	}
	pthread_sigmask(SIG_SETMASK, &old_signals, NULL);

	worker(args);

	for (int t = 1; t <= created; t++)
		pthread_join(threads[t], NULL);
	return status;
}
