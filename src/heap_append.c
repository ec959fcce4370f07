/*-------------------------------------------------------------------------
 *
 * heap_append.c
 *		Appending new heap tuples to a table as whole pages built in
 *		private memory, for the bulk write of a model's artefact rows.
 *
 * PostgreSQL 15 inserts a batch (heap_multi_insert) page by page through
 * shared buffers: each new page is first written as zeros to extend the
 * file (smgrextend), filled in a buffer, WAL-logged tuple by tuple, and
 * written again when its buffer is evicted.  Here the pages are filled in
 * private memory, as an index build fills its pages (nbtsort.c), and
 * appended at the relation's end with their contents, WAL-logged as full
 * page images (log_newpages): one write per page.
 *
 * Why it is safe for a table other sessions use at the same time:
 *	- the blocks are numbered and written while holding the relation
 *	  extension lock, which every backend extending a heap takes too, so
 *	  no other backend can extend to or hold a buffer for those blocks (a
 *	  buffer exists only for a block inside the file);
 *	- the WAL records are flushed before the pages are written (the rule
 *	  the buffer manager follows when it writes a page): a page on disk
 *	  whose transaction's WAL a crash lost could otherwise be read with a
 *	  transaction id given again after the restart;
 *	- a checkpoint whose redo point comes after the WAL records would not
 *	  replay them, so the pages must be in the file before it flushes and
 *	  syncs (a base backup copies the file after that checkpoint; recovery
 *	  starts at its redo point): from before the records are inserted
 *	  until the last page is written (in fact the whole time it holds the
 *	  relation's extension lock), the backend holds the checkpoint's
 *	  start off (DELAY_CHKPT_START, as a commit record's writer does): a
 *	  checkpoint whose redo point falls in that window waits, before it
 *	  writes anything, for the pages to be in the file; the writes register
 *	  their segments for the checkpointer's fsync as any extension does,
 *	  so that checkpoint syncs them too.  If a checkpoint began meanwhile
 *	  (the redo pointer moved), the relation is also synced before
 *	  returning (smgrimmedsync), as an index build does: the rule from
 *	  before the delay, now a second guard;
 *	- streaming standbys and crash recovery replay the full page images;
 *	- the tuples carry this transaction's xid and command id, so they stay
 *	  invisible until it commits and are dead if it aborts, as an
 *	  INSERT's; a cancel or error leaves appended pages of dead tuples,
 *	  which VACUUM reclaims, as it does after an aborted INSERT;
 *	- the pages are not recorded in the free space map (their free space
 *	  is small; VACUUM records it) and not marked all-visible.
 * Only used where those hold (RsHeapAppendPossible): a permanent heap
 * table whose changes are WAL-logged but not decoded logically (full page
 * images carry no logical change records); elsewhere, and for a tuple
 * that TOAST would compress or move out of line, the caller inserts as
 * usual.  Serializable transactions' conflict checks are done as
 * heap_multi_insert does (relation level).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/heaptoast.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xloginsert.h"
#include "catalog/catalog.h"
#include "catalog/pg_am.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "storage/lmgr.h"
#include "storage/predicate.h"
#include "storage/proc.h"
#include "storage/smgr.h"
#include "utils/rel.h"

#include "heap_append.h"

/*
 * Pages filled before they are written (2 MB): each write flushes the WAL
 * once (an fsync where fsync is on), so not too few.
 */
#define APPEND_PAGES 256

struct RsHeapAppend
{
	Relation	rel;
	TransactionId xid;
	CommandId	cid;
	Size		save_free;		/* fillfactor's reserve per page */
	XLogRecPtr	redo_at_begin;	/* a checkpoint since: sync at the end */
	RsHeapAppendPlaced placed;
	void	   *arg;
	int			npages;			/* pages filled, the last one current */
	PGAlignedBlock *pages;		/* APPEND_PAGES */
	int64		appended;
};

/*
 * Whether rel's new tuples may be appended as whole pages: a permanent,
 * WAL-logged heap table not decoded logically (see the file comment).
 */
bool
RsHeapAppendPossible(Relation rel)
{
	return rel->rd_rel->relam == HEAP_TABLE_AM_OID &&
		rel->rd_rel->relpersistence == RELPERSISTENCE_PERMANENT &&
		RelationNeedsWAL(rel) && !RelationIsLogicallyLogged(rel);
}

/* Whether a tuple goes in as it is (heap_insert would not TOAST it). */
bool
RsHeapAppendFits(HeapTuple tuple)
{
	return tuple->t_len <= TOAST_TUPLE_THRESHOLD && !HeapTupleHasExternal(tuple);
}

/*
 * Start appending to rel (locked RowExclusiveLock or stronger) as command
 * cid of the current transaction; placed(arg, tuple) is called for every
 * tuple once it is written, with its TID.
 */
RsHeapAppend *
RsHeapAppendBegin(Relation rel, CommandId cid, RsHeapAppendPlaced placed, void *arg)
{
	RsHeapAppend *ha = palloc0(sizeof(RsHeapAppend));

	Assert(RsHeapAppendPossible(rel));
	/* as heap_multi_insert: a relation-level conflict check */
	CheckForSerializableConflictIn(rel, NULL, InvalidBlockNumber);
	ha->rel = rel;
	ha->xid = GetCurrentTransactionId();
	ha->cid = cid;
	ha->save_free = RelationGetTargetPageFreeSpace(rel, HEAP_DEFAULT_FILLFACTOR);
	ha->redo_at_begin = GetRedoRecPtr();
	ha->placed = placed;
	ha->arg = arg;
	ha->pages = palloc(sizeof(PGAlignedBlock) * APPEND_PAGES);
	return ha;
}

/*
 * Write the filled pages at the relation's end, then report each of
 * their tuples to placed() in order.
 */
void
RsHeapAppendFlush(RsHeapAppend *ha)
{
	BlockNumber blknos[APPEND_PAGES];
	Page		pages[APPEND_PAGES];
	BlockNumber first;
	int			n = ha->npages;

	if (n == 0)
		return;
	/*
	 * From the WAL records to the last page written, a checkpoint must not
	 * take a redo point after the records and complete before the pages
	 * are in the file: neither recovery from it nor a base backup taken
	 * with it would have them (see the file comment).  The hold covers the
	 * whole time the extension lock is held, a few instructions more than
	 * the records need, so that "holding item_stats' extension lock" is
	 * exactly "holding checkpoints off" for whoever watches (TAP 217 stops
	 * the backend inside it: it once caught the block-number loop before
	 * the hold, where a checkpoint rightly did not wait).
	 */
	LockRelationForExtension(ha->rel, ExclusiveLock);
	Assert((MyProc->delayChkptFlags & DELAY_CHKPT_START) == 0);
	MyProc->delayChkptFlags |= DELAY_CHKPT_START;
	PG_TRY();
	{
		first = RelationGetNumberOfBlocks(ha->rel);
		for (int p = 0; p < n; p++)
		{
			Page		page = ha->pages[p].data;
			OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

			blknos[p] = first + p;
			pages[p] = page;
			/* each tuple's t_ctid points at itself, as heap_insert sets it */
			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				HeapTupleHeader htup = (HeapTupleHeader) PageGetItem(page, PageGetItemId(page, off));

				ItemPointerSet(&htup->t_ctid, blknos[p], off);
			}
		}

		/* sets every page's LSN; flushed before any page can reach the disk */
		log_newpages(&ha->rel->rd_node, MAIN_FORKNUM, n, blknos, pages, true);
		XLogFlush(PageGetLSN(pages[n - 1]));
		for (int p = 0; p < n; p++)
		{
			PageSetChecksumInplace(pages[p], blknos[p]);
			smgrextend(RelationGetSmgr(ha->rel), MAIN_FORKNUM, blknos[p], pages[p], false);
		}
		/* (an error before this releases the lock at abort) */
		UnlockRelationForExtension(ha->rel, ExclusiveLock);
	}
	PG_FINALLY();
	{
		MyProc->delayChkptFlags &= ~DELAY_CHKPT_START;
	}
	PG_END_TRY();

	for (int p = 0; p < n; p++)
	{
		Page		page = pages[p];
		OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			ItemId		item = PageGetItemId(page, off);
			HeapTupleData tuple;

			tuple.t_data = (HeapTupleHeader) PageGetItem(page, item);
			tuple.t_len = ItemIdGetLength(item);
			tuple.t_tableOid = RelationGetRelid(ha->rel);
			ItemPointerSet(&tuple.t_self, blknos[p], off);
			ha->placed(ha->arg, &tuple);
		}
	}
	pgstat_count_heap_insert(ha->rel, ha->appended);
	ha->appended = 0;
	ha->npages = 0;
}

/*
 * Copy tuple (RsHeapAppendFits) into the current page, or a new one,
 * writing the filled pages first when there is no page left.  The caller
 * may free tuple on return.
 */
void
RsHeapAppendTuple(RsHeapAppend *ha, HeapTuple tuple)
{
	Size		len = MAXALIGN(tuple->t_len);
	Page		page = ha->npages > 0 ? ha->pages[ha->npages - 1].data : NULL;
	OffsetNumber off;
	HeapTupleHeader htup;

	Assert(RsHeapAppendFits(tuple));
	/* as RelationGetBufferForTuple: a new page when the reserve would be used */
	if (page == NULL || len + ha->save_free > PageGetHeapFreeSpace(page))
	{
		if (ha->npages == APPEND_PAGES)
			RsHeapAppendFlush(ha);
		page = ha->pages[ha->npages++].data;
		PageInit(page, BLCKSZ, 0);
	}
	off = PageAddItem(page, (Item) tuple->t_data, tuple->t_len, InvalidOffsetNumber, false, true);
	if (off == InvalidOffsetNumber)
		elog(ERROR, "failed to add a tuple of %u bytes to a new page", tuple->t_len);

	/* the header heap_insert gives a new tuple (heap_prepare_insert) */
	htup = (HeapTupleHeader) PageGetItem(page, PageGetItemId(page, off));
	htup->t_infomask &= ~HEAP_XACT_MASK;
	htup->t_infomask2 &= ~HEAP2_XACT_MASK;
	htup->t_infomask |= HEAP_XMAX_INVALID;
	HeapTupleHeaderSetXmin(htup, ha->xid);
	HeapTupleHeaderSetCmin(htup, ha->cid);
	HeapTupleHeaderSetXmax(htup, 0);
	ha->appended++;
}

/*
 * Write what is left; if a checkpoint began meanwhile, sync the relation
 * (see the file comment).
 */
void
RsHeapAppendEnd(RsHeapAppend *ha)
{
	RsHeapAppendFlush(ha);
	if (GetRedoRecPtr() != ha->redo_at_begin)
		smgrimmedsync(RelationGetSmgr(ha->rel), MAIN_FORKNUM);
	pfree(ha->pages);
	pfree(ha);
}
