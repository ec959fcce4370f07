/*-------------------------------------------------------------------------
 *
 * search_sync.c
 *		The trigger that keeps a search catalog current as its product
 *		table changes (recsys.catalog_trigger, sql/recsys.sql).
 *
 * recsys._catalog_sync(catalog) fires after each inserted, updated or
 * deleted row of a catalog's source (and after a TRUNCATE).  For every id
 * the row had or has it brings the catalog up to date incrementally: the
 * product's old document is removed (its lexemes' df - 1), the source's
 * row of that id, if any, is read again and indexed (df + 1), and the
 * catalog's n_items and avg_length follow.  The result equals what
 * refresh_catalog would compute (avg_length is the exact integer total
 * of lengths over n_items in both).
 *
 * The role changing products need not be able to read the catalog: the
 * trigger reads the catalog's definition as the owner of recsys's tables
 * (the trigger's argument names the catalog, but the catalog must name
 * this very table as its source, so a trigger put on another table does
 * nothing to it, and the table's owner must have the catalog owner's
 * rights: the table's owner chooses when triggers fire and what its row
 * security policies run, so another role's table would run its code as
 * the catalog's owner), then does all the work as the catalog's owner in a
 * security-restricted operation, as refresh_catalog does: the source's
 * code runs with the owner's rights, never the changing role's, and
 * nothing of the catalog comes back to that role.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "model_acl.h"
#include "search_catalog.h"

PG_FUNCTION_INFO_V1(recsys_catalog_sync);

/* A catalog's definition as the trigger needs it. */
typedef struct SyncCatalog
{
	const char *name;
	bool		found;
	Oid			owner;
	char	   *source;
	char	   *source_owner;
	char	   *id_col;
	Datum		text_cols;
	Oid			config;
	char	   *embedding_col;
} SyncCatalog;

/* The work done as the catalog's owner: the ids to bring up to date. */
typedef struct SyncWork
{
	SyncCatalog *cat;
	Oid			relid;
	char	   *relname;
	int			n_ids;
	int64		ids[2];
	bool		truncate;
} SyncWork;

/* Read the catalog's row past row-level security (as recsys's tables' owner). */
static void
read_catalog(void *arg)
{
	SyncCatalog *cat = arg;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(cat->name)};
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;

	if (SPI_execute_with_args("SELECT c.owner::pg_catalog.oid, c.source, c.source_owner::pg_catalog.text, "
							  "c.id_col::pg_catalog.text, c.text_cols, c.config::pg_catalog.oid, "
							  "c.embedding_col::pg_catalog.text "
							  "FROM recsys.catalogs c WHERE c.name OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading recsys.catalogs failed");
	cat->found = SPI_processed == 1;
	if (!cat->found)
		return;
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	cat->owner = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
	cat->source = SPI_getvalue(row, desc, 2);
	cat->source_owner = SPI_getvalue(row, desc, 3);
	cat->id_col = SPI_getvalue(row, desc, 4);
	cat->text_cols = SPI_datumTransfer(SPI_getbinval(row, desc, 5, &isnull), false, -1);
	cat->config = DatumGetObjectId(SPI_getbinval(row, desc, 6, &isnull));
	cat->embedding_col = SPI_getvalue(row, desc, 7);
}

/* Run one statement of the sync (SPI connected), checking its result code. */
static void
run(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	if (SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0) != expected)
		elog(ERROR, "keeping a search catalog current failed: %s", sql);
}

/*
 * refresh_catalog's checks of a product's embedding (values[3], values[0]
 * the catalog's name), with its errors: finite numbers, no NULL element,
 * the length of the catalog's other embeddings.  Stored, a bad one would
 * fail every hybrid search and the next refresh.
 */
static void
check_embedding(SyncWork *work, int64 id, Datum *values)
{
	ArrayType  *array = DatumGetArrayTypeP(values[3]);
	int			n = ARR_NDIM(array) == 0 ? 0 : ARR_DIMS(array)[0];
	float	   *elems = (float *) ARR_DATA_PTR(array);
	bool		isnull;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the embedding in column \"%s\" of %s of item " INT64_FORMAT " is not a one-dimensional array",
						work->cat->embedding_col, work->relname, id)));
	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the embedding in column \"%s\" of %s of item " INT64_FORMAT " holds a NULL element",
						work->cat->embedding_col, work->relname, id),
				 errhint("Every product's embedding must hold finite numbers (or be NULL).")));
	for (int i = 0; i < n; i++)
		if (!isfinite(elems[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the embedding in column \"%s\" of %s of item " INT64_FORMAT " holds NaN or an infinity",
							work->cat->embedding_col, work->relname, id),
					 errhint("Every product's embedding must hold finite numbers (or be NULL).")));
	/* (the product's old document is gone: any other embedding will do) */
	run("SELECT coalesce(pg_catalog.array_length(d.embedding, 1), 0) FROM recsys.catalog_docs d "
		"WHERE d.catalog OPERATOR(pg_catalog.=) $1 AND d.embedding IS NOT NULL LIMIT 1",
		1, (Oid[]) {TEXTOID}, values, SPI_OK_SELECT);
	if (SPI_processed == 1 &&
		DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) != n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the embeddings in column \"%s\" of %s differ in length", work->cat->embedding_col,
						work->relname),
				 errdetail("Item " INT64_FORMAT "'s embedding has %d elements, the catalog's others %d.", id, n,
						   DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull))),
				 errhint("Every product's embedding must come from the same model (or be NULL).")));
}

/*
 * Bring one product up to date: remove its document (df - 1 for each of
 * its lexemes), index the source's row of that id again if there is one
 * (df + 1).  *n and *total follow the catalog's item count and summed
 * length.
 */
static void
sync_id(SyncWork *work, SPIPlanPtr read, int64 id, int64 *n, int64 *total)
{
	Oid			types[4] = {TEXTOID, INT8OID, TSVECTOROID, FLOAT4ARRAYOID};
	Datum		values[4] = {CStringGetTextDatum(work->cat->name), Int64GetDatum(id), 0, 0};
	Datum		read_args[2] = {ObjectIdGetDatum(work->cat->config), Int64GetDatum(id)};
	bool		isnull;

	run("DELETE FROM recsys.catalog_docs d WHERE d.catalog OPERATOR(pg_catalog.=) $1 "
		"AND d.item_id OPERATOR(pg_catalog.=) $2 RETURNING d.doc, d.length",
		2, types, values, SPI_OK_DELETE_RETURNING);
	if (SPI_processed == 1)
	{
		values[2] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		*total -= DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		*n -= 1;
		run("UPDATE recsys.catalog_terms t SET df = t.df OPERATOR(pg_catalog.-) 1 "
			"WHERE t.catalog OPERATOR(pg_catalog.=) $1 "
			"AND t.lexeme OPERATOR(pg_catalog.=) ANY (SELECT u.lexeme FROM pg_catalog.unnest($3) u)",
			3, types, values, SPI_OK_UPDATE);
		run("DELETE FROM recsys.catalog_terms t WHERE t.catalog OPERATOR(pg_catalog.=) $1 "
			"AND t.df OPERATOR(pg_catalog.<=) 0 "
			"AND t.lexeme OPERATOR(pg_catalog.=) ANY (SELECT u.lexeme FROM pg_catalog.unnest($3) u)",
			3, types, values, SPI_OK_DELETE);
	}

	if (SPI_execute_plan(read, read_args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading a catalog's source failed");
	if (SPI_processed == 0)
		return;
	if (SPI_processed > 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("column \"%s\" of %s has duplicate values", work->cat->id_col, work->relname),
				 errhint("A catalog needs one row per product.")));
	values[2] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	values[3] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
	if (!isnull)
		check_embedding(work, id, values);
	{
		char		nulls[4] = {' ', ' ', ' ', isnull ? 'n' : ' '};

		if (SPI_execute_with_args("INSERT INTO recsys.catalog_docs (catalog, item_id, doc, length, embedding) "
								  "SELECT $1, $2, $3, (SELECT coalesce(pg_catalog.sum("
								  "coalesce(pg_catalog.array_length(u.positions, 1), 1)), 0) "
								  "FROM pg_catalog.unnest($3) u), $4 RETURNING length",
								  4, types, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "indexing a product failed");
	}
	*total += DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*n += 1;
	run("INSERT INTO recsys.catalog_terms AS t (catalog, lexeme, df) "
		"SELECT $1, u.lexeme, 1 FROM pg_catalog.unnest($3) u "
		"ON CONFLICT (catalog, lexeme) DO UPDATE SET df = t.df OPERATOR(pg_catalog.+) 1",
		3, types, values, SPI_OK_INSERT);
}

/* The sync itself, as the catalog's owner. */
static void
sync_as_owner(void *arg)
{
	SyncWork   *work = arg;
	Oid			types[4] = {TEXTOID, INT8OID, FLOAT8OID};
	Datum		values[4] = {CStringGetTextDatum(work->cat->name)};
	int64		n;
	int64		total;
	bool		isnull;
	double		avg;

	/* the catalog's counts, its row locked against a concurrent refresh */
	run("SELECT c.n_items, c.avg_length FROM recsys.catalogs c "
		"WHERE c.name OPERATOR(pg_catalog.=) $1 FOR UPDATE",
		1, types, values, SPI_OK_SELECT);
	if (SPI_processed != 1)
		return;
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	avg = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	/* avg_length is an integer total over n: the total comes back exactly */
	total = (int64) llround(avg * n);

	if (work->truncate)
	{
		run("DELETE FROM recsys.catalog_terms t WHERE t.catalog OPERATOR(pg_catalog.=) $1",
			1, types, values, SPI_OK_DELETE);
		run("DELETE FROM recsys.catalog_docs d WHERE d.catalog OPERATOR(pg_catalog.=) $1",
			1, types, values, SPI_OK_DELETE);
		n = total = 0;
	}
	else
	{
		Oid			read_types[2] = {OIDOID, INT8OID};
		SPIPlanPtr	read = SPI_prepare(RsCatalogSourceQuery(work->relid, work->relname,
															work->cat->id_col, work->cat->text_cols,
															work->cat->embedding_col, true),
									   2, read_types);

		if (read == NULL)
			elog(ERROR, "preparing the read of catalog \"%s\" failed: %s", work->cat->name,
				 SPI_result_code_string(SPI_result));
		for (int i = 0; i < work->n_ids; i++)
			sync_id(work, read, work->ids[i], &n, &total);
	}
	values[1] = Int64GetDatum(n);
	values[2] = Float8GetDatum(n > 0 ? (double) total / n : 0);
	run("UPDATE recsys.catalogs c SET n_items = $2, avg_length = $3, "
		"refreshed_at = pg_catalog.now() WHERE c.name OPERATOR(pg_catalog.=) $1",
		3, types, values, SPI_OK_UPDATE);
}

/* A row's product id as int8, false when NULL. */
static bool
row_id(HeapTuple tuple, TupleDesc desc, int attno, int64 *id)
{
	bool		isnull;
	Datum		value = heap_getattr(tuple, attno, desc, &isnull);
	Oid			type = TupleDescAttr(desc, attno - 1)->atttypid;

	if (isnull)
		return false;
	if (type == INT8OID)
		*id = DatumGetInt64(value);
	else if (type == INT4OID)
		*id = DatumGetInt32(value);
	else if (type == INT2OID)
		*id = DatumGetInt16(value);
	else
	{
		Oid			output;
		bool		varlena;

		getTypeOutputInfo(type, &output, &varlena);
		*id = DatumGetInt64(DirectFunctionCall1(int8in,
												CStringGetDatum(OidOutputFunctionCall(output, value))));
	}
	return true;
}

/*
 * Whether the catalog's recorded source (schema-qualified, as
 * index_catalog records it) names this relation: a lookup without
 * permission checks, so that a trigger naming another role's catalog
 * does nothing, without an error that would tell the role changing rows
 * about that catalog's table (its schema, say, where that role has no
 * USAGE): only this relation's OID is compared.
 */
static bool
source_is(const char *source, Oid relid)
{
	List	   *names = stringToQualifiedNameList(source);
	Oid			nsp;

	if (list_length(names) != 2)
		return false;
	nsp = get_namespace_oid(strVal(linitial(names)), true);
	return OidIsValid(nsp) && get_relname_relid(strVal(lsecond(names)), nsp) == relid;
}

/*
 * Whether the relation has a valid, immediate unique index on column attno
 * alone (no predicate, no expression): what catalog_trigger requires.
 */
static bool
has_unique_index(Relation rel, int attno)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	bool		found = false;

	foreach(lc, indexes)
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;

		if (!HeapTupleIsValid(tuple))
			continue;
		index = (Form_pg_index) GETSTRUCT(tuple);
		found = index->indisunique && index->indimmediate && index->indisvalid &&
			index->indnkeyatts == 1 && index->indkey.values[0] == attno &&
			heap_attisnull(tuple, Anum_pg_index_indpred, NULL) &&
			heap_attisnull(tuple, Anum_pg_index_indexprs, NULL);
		ReleaseSysCache(tuple);
		if (found)
			break;
	}
	list_free(indexes);
	return found;
}

/*
 * recsys._catalog_sync(catalog [, 'unique']) RETURNS trigger: AFTER INSERT OR UPDATE
 * OR DELETE FOR EACH ROW, or AFTER TRUNCATE FOR EACH STATEMENT, on a
 * catalog's source (recsys.catalog_trigger creates both).  A trigger
 * made by 0.11.0 or later carries a second argument, 'unique': it refuses
 * every write, whatever its values (55000), while the table lacks a unique
 * index on the id column, since a duplicate id read back as the catalog's
 * owner would fail the statement and tell a role that may only insert
 * whether an id it cannot read exists (review s10, 4; review 2, 10).  One
 * made by 0.10.0 (one argument) keeps working as it did: the update to
 * 0.11.0 warns about those on tables without the index.
 */
Datum
recsys_catalog_sync(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	SyncCatalog cat = {0};
	SyncWork	work = {0};
	TupleDesc	desc;
	int			attno;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		trigdata->tg_trigger->tgnargs < 1 || trigdata->tg_trigger->tgnargs > 2 ||
		(trigdata->tg_trigger->tgnargs == 2 && strcmp(trigdata->tg_trigger->tgargs[1], "unique") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("recsys._catalog_sync must be called as an AFTER trigger with a catalog's name"),
				 errhint("Create it with recsys.catalog_trigger.")));
	cat.name = trigdata->tg_trigger->tgargs[0];

	SPI_connect();
	RsRunAsCatalogOwner(read_catalog, &cat);
	/* a catalog since dropped, or one of another table: nothing to do */
	if (!cat.found || !source_is(cat.source, RelationGetRelid(trigdata->tg_relation)))
	{
		SPI_finish();
		return PointerGetDatum(NULL);
	}
	work.cat = &cat;
	work.relid = RelationGetRelid(trigdata->tg_relation);
	work.relname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(trigdata->tg_relation)),
											  RelationGetRelationName(trigdata->tg_relation));
	RsCheckRecordedRelation("catalog", cat.name, work.relname, work.relid, cat.owner, cat.source_owner);
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(cat.owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of catalog \"%s\" (role with OID %u) no longer exists", cat.name, cat.owner),
				 errdetail("A catalog's product table is read with its owner's rights."),
				 errhint("Drop the catalog and index the product table again.")));
	/*
	 * Whoever owns the table decides when its triggers fire and what its
	 * row security policies run: the trigger reads the table as the
	 * catalog's owner only for a table owner who has that role's rights
	 * already, or anybody could create this trigger on a table of theirs
	 * that another role's catalog indexes and run code as that role.
	 */
	if (!has_privs_of_role(trigdata->tg_relation->rd_rel->relowner, cat.owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("trigger \"%s\" on %s may not keep catalog \"%s\" current",
						trigdata->tg_trigger->tgname, work.relname, cat.name),
				 errdetail("The trigger would read the table with the rights of the catalog's owner, which the table's owner lacks."),
				 errhint("Drop the trigger; the catalog's owner may refresh it with recsys.refresh_catalog.")));

	desc = RelationGetDescr(trigdata->tg_relation);
	attno = SPI_fnumber(desc, cat.id_col);
	if (attno <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation %s does not exist", cat.id_col, work.relname),
				 errhint("Index the product table again with recsys.index_catalog.")));
	/* before anything that depends on the row's values */
	if (trigdata->tg_trigger->tgnargs == 2 && !has_unique_index(trigdata->tg_relation, attno))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("catalog \"%s\" needs a unique index on column \"%s\" of %s to be kept current by a trigger",
						cat.name, cat.id_col, work.relname),
				 errdetail("Without one, a role allowed only to insert products would learn from the trigger's duplicate-id error whether an id it cannot read exists."),
				 errhint("CREATE UNIQUE INDEX ON %s (%s), or drop the trigger with recsys.catalog_trigger(%s, false).",
						 work.relname, quote_identifier(cat.id_col), quote_literal_cstr(cat.name))));

	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		work.truncate = true;
	else if (TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
	{
		/* the id the row had (UPDATE, DELETE) and the one it has (INSERT, UPDATE) */
		if (!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) &&
			row_id(trigdata->tg_trigtuple, desc, attno, &work.ids[work.n_ids]))
			work.n_ids++;
		if (!TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		{
			HeapTuple	now = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
				trigdata->tg_newtuple : trigdata->tg_trigtuple;

			if (row_id(now, desc, attno, &work.ids[work.n_ids]) &&
				(work.n_ids == 0 || work.ids[0] != work.ids[work.n_ids]))
				work.n_ids++;
		}
	}
	if (work.truncate || work.n_ids > 0)
		RsRunAsOwner(cat.name, cat.owner, sync_as_owner, &work);
	SPI_finish();
	return PointerGetDatum(NULL);
}
