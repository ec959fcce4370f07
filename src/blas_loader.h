/*-------------------------------------------------------------------------
 *
 * blas_loader.h
 *		Loading OpenBLAS pinned to one thread (see blas_loader.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_BLAS_LOADER_H
#define RECSYS_BLAS_LOADER_H

/* Hidden like the forwarders: nothing outside recsys.so calls them. */
extern void RsLoadBlas(void) __attribute__((visibility("hidden")));
extern void RsBlasSetThreads(int threads) __attribute__((visibility("hidden")));

#endif							/* RECSYS_BLAS_LOADER_H */
