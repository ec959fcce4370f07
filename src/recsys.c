/*-------------------------------------------------------------------------
 *
 * recsys.c
 *		Module entry point: magic block and the recsys.* settings.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "blas_loader.h"
#include "ingest.h"
#include "ivf_index.h"
#include "model_cache.h"
#include "progress.h"
#include "recsys.h"
#include "shared_cache.h"

PG_MODULE_MAGIC;

int			recsys_threads = RECSYS_DEFAULT_THREADS;
int			recsys_max_memory_mb = RECSYS_DEFAULT_MAX_MEMORY_MB;
int			recsys_keep_versions = RECSYS_DEFAULT_KEEP_VERSIONS;
bool		recsys_compressed_scan = true;
bool		recsys_bulk_write = true;
bool		recsys_bulk_write_pages = true;
int			recsys_search_max_matches = RECSYS_DEFAULT_SEARCH_MAX_MATCHES;
static char *recsys_restore_orphans_to = NULL;

void		_PG_init(void);

/*
 * _PG_init defines the settings and loads OpenBLAS pinned to one thread
 * (blas_loader.c says why).
 */
void
_PG_init(void)
{
	/*
	 * The two limits are the administrator's: only superusers (and ALTER
	 * ROLE / DATABASE SET by one, or postgresql.conf) may change them, so an
	 * ordinary role cannot raise them past what was set for it.
	 */
	DefineCustomIntVariable("recsys.threads",
							"Sets the number of threads one recsys training run may use.",
							"Valid range is 1..64.",
							&recsys_threads,
							RECSYS_DEFAULT_THREADS,
							RECSYS_MIN_THREADS, RECSYS_MAX_THREADS,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("recsys.max_memory",
							"Sets the largest working set one recsys training run may allocate.",
							"A source that would need more is refused before training starts.",
							&recsys_max_memory_mb,
							RECSYS_DEFAULT_MAX_MEMORY_MB,
							RECSYS_MIN_MAX_MEMORY_MB, RECSYS_MAX_MAX_MEMORY_MB,
							PGC_SUSET, GUC_UNIT_MB,
							NULL, NULL, NULL);

	/*
	 * keep_versions stays the caller's: it only sets how many versions of
	 * the model being trained are kept, and only someone allowed to
	 * retrain that model can train it (or roll it back, or drop it).
	 */
	DefineCustomIntVariable("recsys.keep_versions",
							"Sets how many versions of a model training keeps, the active one included.",
							"Older versions are deleted when a new one is trained; recsys.rollback() "
							"can return to any version still kept.",
							&recsys_keep_versions,
							RECSYS_DEFAULT_KEEP_VERSIONS,
							1, RECSYS_MAX_KEEP_VERSIONS,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	/*
	 * Only the speed changes: the compressed scan's bounds keep every item
	 * that could be in the exact top k (src/kernel/factor_scores.h).
	 */
	DefineCustomBoolVariable("recsys.compressed_scan",
							 "Ranks a factor model's items by an int8 copy first, re-scoring the best exactly.",
							 "Off: every item is scored in fp32, as before 0.8.0.",
							 &recsys_compressed_scan,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	/*
	 * Lists an IVF index scans at least (src/ivf_index.c): recall against
	 * speed, per session; 0 scans every item exactly.
	 */
	DefineCustomIntVariable("recsys.ivf_probes",
							"Sets how many lists of a model's IVF index a ranking scans at least.",
							"More lists are scanned while fewer than k items pass the filters; "
							"0 ranks by the exact scan even where an index exists.",
							&recsys_ivf_probes,
							RECSYS_DEFAULT_IVF_PROBES,
							0, RECSYS_MAX_IVF_PROBES,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	/*
	 * Off: a retrained or activated version serves by the exact scan until
	 * create_ivf indexes it, as before 0.10.0 (src/ivf_index.c).
	 */
	DefineCustomBoolVariable("recsys.ivf_rebuild",
							 "Builds the IVF index of a newly active model version when the version it replaces had one.",
							 "The new index takes the old one's lists, iterations and seed, in the transaction "
							 "that trains or activates the version.",
							 &recsys_ivf_rebuild,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	/* only the speed changes (src/model_store.c: bulk_write_factors) */
	DefineCustomBoolVariable("recsys.bulk_write",
							 "Writes a model's factor rows by heap multi-insert instead of INSERT statements.",
							 "Off: every row goes through INSERT ... SELECT, as before 0.8.0.",
							 &recsys_bulk_write,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	/* only the speed changes (src/heap_append.c) */
	DefineCustomBoolVariable("recsys.bulk_write_pages",
							 "Appends bulk-written rows to their table as whole pages, WAL-logged as page images.",
							 "Off: by heap multi-insert through shared buffers, as in 0.9.0.  Either way only when "
							 "recsys.bulk_write is on; tables decoded logically always take the multi-insert.",
							 &recsys_bulk_write_pages,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	/*
	 * Only generic words matching more products than this are affected
	 * (src/search_match.c): the search data set's queries match 154 at most.
	 */
	DefineCustomIntVariable("recsys.search_max_matches",
							"Sets how many of a search query's matches, the best by BM25 and popularity, the model scores.",
							"0 scores every match.",
							&recsys_search_max_matches,
							RECSYS_DEFAULT_SEARCH_MAX_MATCHES,
							0, INT_MAX,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	/*
	 * Read by SQL (recsys._restored_roles_check) when a restore inserts a
	 * catalog row naming a role OID nobody has; the superuser restoring
	 * names the heir (PGOPTIONS='-c recsys.restore_orphans_to=role').
	 */
	DefineCustomStringVariable("recsys.restore_orphans_to",
							   "Sets the role given the recsys objects a restore finds owned by a role OID that no role has.",
							   "Empty (the default): such an object is refused. A dump made before 0.10.0 holds a dropped role as its bare OID.",
							   &recsys_restore_orphans_to,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	RsIngestInit();
	RsModelCacheInit();
	RsSharedCacheInit();

	RsProgressInit();

	MarkGUCPrefixReserved("recsys");

	RsLoadBlas();
}
