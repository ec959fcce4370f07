/*-------------------------------------------------------------------------
 *
 * search_catalog.h
 *		Reading a search catalog's source (search_catalog.c), shared with
 *		the trigger that keeps a catalog current (search_sync.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_SEARCH_CATALOG_H
#define RECSYS_SEARCH_CATALOG_H

#include "postgres.h"

extern Oid	RsCatalogSourceRelid(const char *source);
extern char *RsCatalogSourceQuery(Oid relid, const char *relname, const char *id_col,
								  Datum text_cols, const char *embedding_col, bool by_id);

#endif							/* RECSYS_SEARCH_CATALOG_H */
