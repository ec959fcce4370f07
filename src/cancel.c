/*-------------------------------------------------------------------------
 *
 * cancel.c
 *		Stopping long kernel steps when the statement is cancelled.
 *
 * The kernels are plain C and never call PostgreSQL.  A step that can run
 * for seconds (a Gram matrix at 1,024 factors, a loss over 200,000 users,
 * EASE's inversion) takes a stop callback that the kernel calls from the
 * backend's own thread every few milliseconds (src/kernel/stop.h).
 * RsCancelRequested is that callback: it only reads the flags the signal
 * handlers set.  When it has stopped a kernel, RsKernelStopped raises the
 * pending interrupt with CHECK_FOR_INTERRUPTS() outside the kernel; loops
 * in the glue call CHECK_FOR_INTERRUPTS() themselves.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "als.h"
#include "cancel.h"

/*
 * RsCancelRequested reports whether a cancel (statement_timeout,
 * pg_cancel_backend) or a terminate is pending and may be processed now,
 * so that CHECK_FOR_INTERRUPTS() will act on it.  Called by kernels from
 * the backend's thread only.
 */
int
RsCancelRequested(void *arg)
{
	return INTERRUPTS_CAN_BE_PROCESSED() && (QueryCancelPending || ProcDiePending);
}

/*
 * RsKernelStopped raises the interrupt that made a kernel stop; should
 * CHECK_FOR_INTERRUPTS() let it pass, a kernel's half-done result must
 * still not be used, so the statement fails as cancelled.
 */
void
RsKernelStopped(const char *what)
{
	CHECK_FOR_INTERRUPTS();
	ereport(ERROR,
			(errcode(ERRCODE_QUERY_CANCELED),
			 errmsg("%s was interrupted", what)));
}

/* Bytes zeroed between two interrupt checks by RsAllocZero. */
#define RS_ZERO_BYTES ((Size) 32 << 20)

/*
 * RsAllocZero returns a zeroed allocation of any size (at least 1 byte)
 * in mcxt.  The zeroing, and the page faults it takes, go by pieces with
 * interrupt checks between: 200,000 items x 1,024 factors are 800 MB,
 * most of a second to touch.
 */
void *
RsAllocZero(MemoryContext mcxt, Size size)
{
	char	   *p = MemoryContextAllocExtended(mcxt, Max(size, 1), MCXT_ALLOC_HUGE);

	for (Size done = 0; done < size; done += RS_ZERO_BYTES)
	{
		CHECK_FOR_INTERRUPTS();
		memset(p + done, 0, Min(RS_ZERO_BYTES, size - done));
	}
	return p;
}

/*
 * RsChunkEnd returns the end of the chunk of rows that starts at start:
 * at most max_rows rows, and rows until their work reaches budget, at
 * least one.  Kernels that work row by row are called a chunk at a time
 * with an interrupt check between, so a chunk must be short however long
 * its rows (at 1,024 factors, or for an item that co-occurs with all
 * others).
 */
int32
RsChunkEnd(int32 start, int32 n_rows, int32 max_rows, int64 budget,
		   RsRowWorkFn row_work, const void *arg)
{
	int64		work = 0;
	int32		end = start;

	while (end < n_rows && end - start < max_rows && (end == start || work < budget))
		work += row_work(arg, end++);
	return end;
}

/*
 * RsGram computes G = Y^T Y (k x k) for the n x k item factors Y, stopping
 * at a cancel: at 1,024 factors and 200,000 items it takes seconds.
 */
void
RsGram(const float *Y, int64 n, int k, float *G)
{
	int			status = rs_gram(Y, n, k, G, RsCancelRequested, NULL);

	if (status == RS_ALS_STOPPED)
		RsKernelStopped("computing a Gram matrix");
	if (status != RS_ALS_OK)
		elog(ERROR, "rs_gram refused its arguments (%d items, %d factors)", (int) n, k);
}
