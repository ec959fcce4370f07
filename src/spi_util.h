/*-------------------------------------------------------------------------
 *
 * spi_util.h
 *		Running queries through SPI without materialising their results.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_SPI_UTIL_H
#define RECSYS_SPI_UTIL_H

#include "postgres.h"

#include "executor/tuptable.h"

/* Called for every row; the slot's values are valid until the next call. */
typedef void (*RsRowCallback) (TupleTableSlot *slot, void *arg);

extern uint64 RsStreamQuery(const char *query, int nargs, Oid *argtypes,
							Datum *values, const char *nulls, bool read_only,
							RsRowCallback callback, void *arg);
extern int	RsExecute(const char *query, int nargs, Oid *argtypes,
					  Datum *values, const char *nulls, bool read_only,
					  int expected);

#endif							/* RECSYS_SPI_UTIL_H */
