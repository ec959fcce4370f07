/*-------------------------------------------------------------------------
 *
 * stop.h
 *		How a caller stops a long kernel step (a cancelled statement).
 *
 * A kernel step that can run for long at large sizes (1,024 factors,
 * hundreds of thousands of rows) takes a stop callback, int stop(void
 * *stop_arg), NULL for none.  The kernel calls it from the calling thread
 * only, never from a worker thread, about every RS_STOP_WORK
 * multiply-adds (a few milliseconds); when it returns nonzero the kernel
 * returns its STOPPED status at once and its outputs are not to be used.
 * In the server the callback reports a pending cancel or terminate, and
 * the glue then calls CHECK_FOR_INTERRUPTS() outside the kernel.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_STOP_H
#define RECSYS_KERNEL_STOP_H

#include <stdint.h>

typedef int (*RsStopFn) (void *stop_arg);

/* Work (multiply-adds, or comparable steps) between two calls of stop. */
#define RS_STOP_WORK	((int64_t) 1 << 24)

/* A kernel's running count of work since it last asked its callback. */
typedef struct RsStopClock
{
	RsStopFn	stop;
	void	   *stop_arg;
	int64_t		work;
} RsStopClock;

static inline RsStopClock
rs_stop_clock(RsStopFn stop, void *stop_arg)
{
	RsStopClock clock = {stop, stop_arg, 0};

	return clock;
}

/*
 * Count work done; once RS_STOP_WORK has accumulated, ask the callback.
 * Returns nonzero when the kernel must stop.
 */
static inline int
rs_stop_tick(RsStopClock *clock, int64_t work)
{
	clock->work += work;
	if (clock->work < RS_STOP_WORK)
		return 0;
	clock->work = 0;
	return clock->stop != NULL && clock->stop(clock->stop_arg);
}

#endif							/* RECSYS_KERNEL_STOP_H */
