/*-------------------------------------------------------------------------
 *
 * recsys.h
 *		Settings and limits shared by the PostgreSQL side of recsys.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_H
#define RECSYS_H

#include "postgres.h"

#define RECSYS_SCHEMA "recsys"

/* recsys.threads: threads one training run may use */
#define RECSYS_DEFAULT_THREADS 2
#define RECSYS_MIN_THREADS 1
#define RECSYS_MAX_THREADS 64

/* recsys.max_memory, in MB: the largest working set of one training run */
#define RECSYS_DEFAULT_MAX_MEMORY_MB 2048
#define RECSYS_MIN_MAX_MEMORY_MB 1
#define RECSYS_MAX_MAX_MEMORY_MB (1024 * 1024 * 1024)	/* 1 PB */

/* recsys.keep_versions: versions of a model kept (the active one included) */
#define RECSYS_DEFAULT_KEEP_VERSIONS 3
#define RECSYS_MAX_KEEP_VERSIONS 1000

/* recsys.search_max_matches: a search query's matches the model scores (0: all) */
#define RECSYS_DEFAULT_SEARCH_MAX_MATCHES 1000

extern int	recsys_threads;
extern int	recsys_keep_versions;
extern bool recsys_compressed_scan;
extern bool recsys_bulk_write;
extern bool recsys_bulk_write_pages;
extern int	recsys_max_memory_mb;
extern int	recsys_search_max_matches;

/* recsys.max_memory in bytes */
#define RECSYS_MAX_MEMORY_BYTES ((Size) recsys_max_memory_mb * 1024 * 1024)

#endif							/* RECSYS_H */
