/*-------------------------------------------------------------------------
 *
 * blas_loader.h
 *		Loading OpenBLAS pinned to one thread (see blas_loader.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_BLAS_LOADER_H
#define RECSYS_BLAS_LOADER_H

extern void RsLoadBlas(void);
extern void RsBlasSetThreads(int threads);

#endif							/* RECSYS_BLAS_LOADER_H */
