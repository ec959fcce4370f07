/*-------------------------------------------------------------------------
 *
 * heap_append.h
 *		Appending new heap tuples to a table as whole pages built in
 *		private memory (see heap_append.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_HEAP_APPEND_H
#define RECSYS_HEAP_APPEND_H

#include "access/htup.h"
#include "utils/relcache.h"

typedef struct RsHeapAppend RsHeapAppend;

/*
 * Called for each appended tuple once its TID is known (t_self set), in
 * the order the tuples were given: the caller inserts its index entries.
 */
typedef void (*RsHeapAppendPlaced) (void *arg, HeapTuple tuple);

extern bool RsHeapAppendPossible(Relation rel);
extern RsHeapAppend *RsHeapAppendBegin(Relation rel, CommandId cid, RsHeapAppendPlaced placed,
									   void *arg);
extern bool RsHeapAppendFits(HeapTuple tuple);
extern void RsHeapAppendTuple(RsHeapAppend *ha, HeapTuple tuple);
extern void RsHeapAppendFlush(RsHeapAppend *ha);
extern void RsHeapAppendEnd(RsHeapAppend *ha);

#endif							/* RECSYS_HEAP_APPEND_H */
