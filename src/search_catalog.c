/*-------------------------------------------------------------------------
 *
 * search_catalog.c
 *		Reading a search catalog's source table with its owner's rights.
 *
 * A search catalog (recsys.catalogs, sql/recsys.sql) names a product
 * table its owner chose.  Whoever refreshes the catalog (the owner, a
 * member of the owning role, a superuser, a cron job) must not run that
 * relation's code (a function in a view, say) with their own rights, so
 * the read runs as the catalog's owner inside a security-restricted
 * operation, as model sources are read (model_acl.c) and as PostgreSQL's
 * REFRESH MATERIALIZED VIEW does.  Everything else about catalogs
 * (tables, BM25 statistics, search itself) is SQL in sql/recsys.sql.
 *
 * The relation and its columns reach the query only through their OID
 * and quote_identifier(); the text search configuration is a parameter.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "args.h"
#include "model_acl.h"
#include "search_catalog.h"

PG_FUNCTION_INFO_V1(recsys_catalog_source);

/* The prepared read of a catalog's source and where its rows go. */
typedef struct SourceRead
{
	SPIPlanPtr	plan;
	Datum		values[1];
	ReturnSetInfo *rsinfo;
} SourceRead;

static void
read_source(void *arg)
{
	SourceRead *read = arg;
	uint64		n;

	if (SPI_execute_plan(read->plan, read->values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading a catalog's source failed");
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		Datum		values[3];
		bool		nulls[3];

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int c = 0; c < 3; c++)
			values[c] = SPI_getbinval(tuple, SPI_tuptable->tupdesc, c + 1, &nulls[c]);
		/* the tuplestore copies the values into its own context */
		tuplestore_putvalues(read->rsinfo->setResult, read->rsinfo->setDesc, values, nulls);
	}
}

/*
 * The OID of a catalog's recorded source, InvalidOid once it no longer
 * exists (to_regclass's answer, without calling it through
 * DirectFunctionCall1, which cannot return the NULL it gives then).
 */
Oid
RsCatalogSourceRelid(const char *source)
{
	List	   *names = stringToQualifiedNameList(source);

	return RangeVarGetRelid(makeRangeVarFromNameList(names), NoLock, true);
}

/* A column of the source as an SQL identifier, after checking it exists. */
static const char *
source_column(Oid relid, const char *relname, const char *col, const char *argname)
{
	if (get_attnum(relid, col) == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation %s does not exist", col, relname),
				 errhint("Name an existing column as %s of recsys.index_catalog.", argname)));
	return quote_identifier(col);
}

/*
 * The read of a catalog's source (relid, named relname): id, the text
 * columns joined by spaces and parsed with the text search configuration
 * $1 (an OID), and the embedding; only the row whose id equals $2 (an
 * int8) when by_id, so that an index on the id serves it.
 */
char *
RsCatalogSourceQuery(Oid relid, const char *relname, const char *id_col, Datum text_cols,
					 const char *embedding_col, bool by_id)
{
	StringInfoData sql;
	Datum	   *cols;
	int			ncols;
	const char *id = source_column(relid, relname, id_col, "id_col");

	deconstruct_array(DatumGetArrayTypeP(text_cols), NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR,
					  &cols, NULL, &ncols);
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT (s.%s)::pg_catalog.int8, pg_catalog.to_tsvector($1::pg_catalog.oid::pg_catalog.regconfig, "
					 "pg_catalog.concat_ws(' '", id);
	for (int c = 0; c < ncols; c++)
		appendStringInfo(&sql, ", (s.%s)::pg_catalog.text",
						 source_column(relid, relname, NameStr(*DatumGetName(cols[c])), "text_cols"));
	appendStringInfoString(&sql, ")), ");
	if (embedding_col)
		appendStringInfo(&sql, "(s.%s)::pg_catalog.float4[]",
						 source_column(relid, relname, embedding_col, "embedding_col"));
	else
		appendStringInfoString(&sql, "NULL::pg_catalog.float4[]");
	appendStringInfo(&sql, " FROM %s s", relname);
	if (by_id)
		appendStringInfo(&sql, " WHERE s.%s OPERATOR(pg_catalog.=) $2::pg_catalog.int8", id);
	return sql.data;
}

/*
 * recsys._catalog_source(catalog text) RETURNS TABLE (item_id bigint,
 * doc tsvector, embedding real[]): every row of the catalog's source, its
 * text columns joined by spaces and parsed with the catalog's text search
 * configuration, read as the catalog's owner.  Only roles with the
 * owner's privileges may call it (42501), as only they may refresh.
 */
Datum
recsys_catalog_source(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *name;
	Oid			owner;
	Oid			relid;
	Oid			config;
	char	   *id_col;
	Datum		text_cols;
	char	   *embedding_col = NULL;
	char	   *source_owner = NULL;
	char	   *relname;
	char	   *sql;
	SourceRead	read;
	Datum		arg[1];
	Oid			argtype[1] = {TEXTOID};
	bool		isnull;

	RsRequireArg(fcinfo, 0, "catalog");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	/* the catalog row as the caller sees it (row-level security applies) */
	arg[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT c.source, c.id_col::pg_catalog.text, c.text_cols, "
							  "c.config::pg_catalog.oid, c.embedding_col::pg_catalog.text, c.owner::pg_catalog.oid, "
							  "pg_catalog.pg_has_role(c.owner, 'USAGE'), c.source_owner::pg_catalog.text "
							  "FROM recsys.catalogs c WHERE c.name OPERATOR(pg_catalog.=) $1",
							  1, argtype, arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading recsys.catalogs failed");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("catalog \"%s\" does not exist", name),
				 errhint("Create it with recsys.index_catalog.")));
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *source = SPI_getvalue(row, desc, 1);

		if (!DatumGetBool(SPI_getbinval(row, desc, 7, &isnull)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of catalog \"%s\" to read its source", name)));
		relid = RsCatalogSourceRelid(source);
		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("the source of catalog \"%s\", relation %s, no longer exists", name, source),
					 errhint("Index the product table again with recsys.index_catalog.")));
		id_col = SPI_getvalue(row, desc, 2);
		text_cols = SPI_datumTransfer(SPI_getbinval(row, desc, 3, &isnull), false, -1);
		config = DatumGetObjectId(SPI_getbinval(row, desc, 4, &isnull));
		embedding_col = SPI_getvalue(row, desc, 5);
		owner = DatumGetObjectId(SPI_getbinval(row, desc, 6, &isnull));
		source_owner = SPI_getvalue(row, desc, 8);
	}
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of catalog \"%s\" (role with OID %u) no longer exists", name, owner),
				 errdetail("A catalog's source is read with its owner's rights."),
				 errhint("Drop the catalog and index the product table again.")));

	relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
	RsCheckRecordedRelation("catalog", name, relname, relid, owner, source_owner);
	sql = RsCatalogSourceQuery(relid, relname, id_col, text_cols, embedding_col, false);

	{
		Oid			types[1] = {OIDOID};

		read.plan = SPI_prepare(sql, 1, types);
		if (read.plan == NULL)
			elog(ERROR, "preparing the read of catalog \"%s\" failed: %s", name,
				 SPI_result_code_string(SPI_result));
	}
	read.values[0] = ObjectIdGetDatum(config);
	read.rsinfo = rsinfo;
	RsRunAsOwner(name, owner, read_source, &read);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(recsys_embedding_similarity);

/*
 * The elements of a real[] embedding, refusing NULL elements (22004) and
 * NaN or infinite ones (22023).
 */
static float *
embedding_values(ArrayType *array, const char *argname, const char *hint, int *n)
{
	float	   *values;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", argname)));
	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain NULL elements", argname)));
	*n = ARR_NDIM(array) == 0 ? 0 : ARR_DIMS(array)[0];
	values = (float *) ARR_DATA_PTR(array);
	for (int i = 0; i < *n; i++)
		if (!isfinite(values[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must hold finite numbers, element %d is %g", argname, i + 1, values[i]),
					 errhint("%s", hint)));
	return values;
}

/*
 * recsys._embedding_similarity(a real[], b real[]) RETURNS real: the
 * cosine similarity of two embeddings of the same length (0 when either is
 * all zeros): the vector side of hybrid search.  Sums are in double: the
 * square of any finite real (up to 3.4e38, down to 1.4e-45) and a sum of
 * up to 2^31 of them are finite and not zero in double, where in float
 * 1e20 or 1e-25 overflowed or vanished.  The answer is clamped to
 * [-1, 1] against rounding.
 */
Datum
recsys_embedding_similarity(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *b = PG_GETARG_ARRAYTYPE_P(1);
	int			na;
	int			nb;
	float	   *y = embedding_values(b, "query_embedding", "Embed the query with the model that embedded the products.", &nb);
	float	   *x = embedding_values(a, "a product's embedding", "Refresh the catalog with recsys.refresh_catalog.", &na);
	double		xx = 0;
	double		yy = 0;
	double		xy = 0;
	double		cosine;

	if (na != nb)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("query_embedding has %d dimensions, the catalog's embeddings %d", nb, na),
				 errhint("Embed the query with the model that embedded the products.")));
	for (int i = 0; i < na; i++)
	{
		xx += (double) x[i] * x[i];
		yy += (double) y[i] * y[i];
		xy += (double) x[i] * y[i];
	}
	if (!(xx > 0) || !(yy > 0))
		PG_RETURN_FLOAT4(0);
	cosine = xy / (sqrt(xx) * sqrt(yy));
	PG_RETURN_FLOAT4((float) Max(-1.0, Min(1.0, cosine)));
}
