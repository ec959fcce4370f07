/*-------------------------------------------------------------------------
 *
 * cancel.h
 *		Stopping long kernel steps when the statement is cancelled.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_CANCEL_H
#define RECSYS_CANCEL_H

#include "postgres.h"

/*
 * Multiply-adds of work between two interrupt checks in glue loops: about
 * RS_STOP_WORK (src/kernel/stop.h), a few milliseconds.
 */
#define RS_CHECK_WORK	((int64) 1 << 24)

/*
 * How many dim x dim outer products a loop adds between two interrupt
 * checks (fold-in and explain add one per item of the user or session).
 */
static inline int
RsOuterProductsPerCheck(int dim)
{
	return (int) Max(RS_CHECK_WORK / ((int64) dim * dim), 1);
}

/* The work of one row of a kernel call, for RsChunkEnd. */
typedef int64 (*RsRowWorkFn) (const void *arg, int32 row);

extern int	RsCancelRequested(void *arg);
extern int32 RsChunkEnd(int32 start, int32 n_rows, int32 max_rows, int64 budget,
						RsRowWorkFn row_work, const void *arg);
extern void RsKernelStopped(const char *what) pg_attribute_noreturn();
extern void *RsAllocZero(MemoryContext mcxt, Size size);
extern void RsGram(const float *Y, int64 n, int k, float *G);

#endif							/* RECSYS_CANCEL_H */
