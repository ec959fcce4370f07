/*-------------------------------------------------------------------------
 *
 * model_acl.c
 *		Who owns a model, who may use it, and reading a model's source with
 *		its owner's rights.
 *
 * Every model has an owner (recsys.models.owner, the role that first
 * trained it) and a list of roles granted its use.  Row-level security on
 * the catalog tables (sql/recsys.sql) decides which rows a role sees; this
 * file holds what row-level security cannot do:
 *
 *	- the ownership check of every action that changes a model (training
 *	  into its name, drop, activate, roll back, grant, revoke, a new owner,
 *	  a direct UPDATE or DELETE of its row), which must see a model the
 *	  caller may not read in order to refuse it by name: the owner is read
 *	  as the catalog tables' owner, past the policies, and the caller must
 *	  have the owner's privileges (superusers do);
 *	- loading a model for serving, once the caller's right to it has been
 *	  checked by reading its catalog row through the policies: the artefact
 *	  rows are read as the catalog's owner, so a 100,000-row model costs no
 *	  policy check per row;
 *	- reading a model's source while serving it.  A model names a relation
 *	  its owner chose, and whoever serves the model must not run that
 *	  relation's code (a function in a view's WHERE clause, say) with their
 *	  own rights.  As PostgreSQL does for views and REFRESH MATERIALIZED
 *	  VIEW, the read runs as the model's owner, inside a security-restricted
 *	  operation, with search_path pg_catalog, pg_temp; the caller's identity
 *	  and settings come back afterwards, on error too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "args.h"
#include "ingest.h"
#include "model_acl.h"
#include "model_kind.h"
#include "recsys.h"
#include "spi_util.h"

PG_FUNCTION_INFO_V1(recsys_require_model_owner);

/*
 * The catalog reads below want the latest committed rows (a new snapshot:
 * SPI's read_only false), as a lock would; in parallel mode, where a new
 * command cannot start, the statement's snapshot has to do.
 */
#define LATEST_ROWS_READ_ONLY IsInParallelMode()
PG_FUNCTION_INFO_V1(recsys_blends_using);
PG_FUNCTION_INFO_V1(recsys_rerankers_using);

/* The owner of the catalog tables (the extension's installer). */
static Oid
catalog_owner(void)
{
	Oid			relid = get_relname_relid("models", get_namespace_oid("recsys", false));
	HeapTuple	tuple;
	Oid			owner;

	if (!OidIsValid(relid))
		elog(ERROR, "relation recsys.models does not exist");
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * Run work(arg) as role, in a security-restricted operation with
 * search_path pg_catalog, pg_temp, like REFRESH MATERIALIZED VIEW
 * (RefreshMatViewByOid): code that runs cannot change the session (SET
 * ROLE, temporary tables, ...), and no name resolves to anybody's schema
 * but pg_catalog.  The caller's role, security context and settings are
 * restored afterwards, also when work raises an error.
 */
static void
run_as(Oid role, RsOwnerWork work, void *arg)
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(role,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	PG_TRY();
	{
		work(arg);
	}
	PG_FINALLY();
	{
		/* roll back whatever the work's code set, then our search_path */
		AtEOXact_GUC(false, save_nestlevel);
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
}

/*
 * RsRunAsCatalogOwner calls work(arg) as the owner of the catalog tables,
 * whom row-level security does not apply to, for recsys's own fixed
 * queries on them: the owner check below, and loading a model whose
 * catalog row the caller has just read through the policies (the right is
 * checked once per statement, not once per artefact row).
 */
void
RsRunAsCatalogOwner(RsOwnerWork work, void *arg)
{
	run_as(catalog_owner(), work, arg);
}

/* One model's owner and algorithm, read past row-level security. */
typedef struct OwnerRead
{
	const char *name;
	bool		found;
	Oid			owner;
	char	   *algorithm;		/* in result_context */
	MemoryContext result_context;
} OwnerRead;

static void
read_owner(void *arg)
{
	OwnerRead  *read = arg;
	Datum		value = CStringGetTextDatum(read->name);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT owner::pg_catalog.oid, algorithm FROM recsys.models WHERE name OPERATOR(pg_catalog.=) $1",
			  1, (Oid[]) {TEXTOID}, &value, NULL, LATEST_ROWS_READ_ONLY, SPI_OK_SELECT);
	read->found = SPI_processed > 0;
	if (read->found)
	{
		bool		isnull;

		read->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		read->algorithm = MemoryContextStrdup(read->result_context,
											  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	}
	SPI_finish();
}

/*
 * RsModelOwner returns the owner of a model whether or not the current
 * role may see its row (*found says whether there is such a model).  The
 * latest committed row counts, as for a lock.
 */
Oid
RsModelOwner(const char *name, bool *found)
{
	OwnerRead	read = {name, false, InvalidOid, NULL, CurrentMemoryContext};

	RsRunAsCatalogOwner(read_owner, &read);
	*found = read.found;
	return read.owner;
}

/* A model's owner and grantees in the latest committed row (RsRequireUseNow). */
typedef struct UseRead
{
	const char *name;
	bool		found;
	Oid			owner;
	Oid		   *grantees;
	int			n_grantees;
	MemoryContext result_context;
} UseRead;

static void
read_use_now(void *arg)
{
	UseRead    *read = arg;
	Datum		value = CStringGetTextDatum(read->name);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* read_only: the query runs in the snapshot pushed here, the latest */
	PushActiveSnapshot(GetLatestSnapshot());
	RsExecute("SELECT owner::pg_catalog.oid, grantees::pg_catalog.oid[] FROM recsys.models "
			  "WHERE name OPERATOR(pg_catalog.=) $1",
			  1, (Oid[]) {TEXTOID}, &value, NULL, true, SPI_OK_SELECT);
	PopActiveSnapshot();
	read->found = SPI_processed > 0;
	if (read->found)
	{
		bool		isnull;
		Datum		grantees;
		Datum	   *elems;
		bool	   *nulls;

		read->owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		grantees = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (!isnull)
		{
			deconstruct_array(DatumGetArrayTypeP(grantees), OIDOID, sizeof(Oid), true, TYPALIGN_INT,
							  &elems, &nulls, &read->n_grantees);
			read->grantees = MemoryContextAlloc(read->result_context, sizeof(Oid) * Max(read->n_grantees, 1));
			for (int i = 0; i < read->n_grantees; i++)
				read->grantees[i] = nulls[i] ? InvalidOid : DatumGetObjectId(elems[i]);
		}
	}
	SPI_finish();
}

/*
 * RsRequireUseNow refuses (RsDenyModel) a model the current role may no
 * longer use by its latest committed catalog row, in a transaction that
 * reads everything with one snapshot (REPEATABLE READ, SERIALIZABLE).
 * The right is otherwise checked through the statement's snapshot, which
 * there is the transaction's: a role whose grant was revoked after such a
 * transaction began kept serving the model, and reading its owner's source
 * through it, until the transaction ended (review s12, V7), where
 * PostgreSQL's own REVOKE on a table takes effect at once.  The rule is
 * recsys._may_use's: the owner's or a grantee's privileges, or PUBLIC
 * (OID 0) among the grantees.  A model dropped since is left to the
 * snapshot (nothing is granted by its absence).  READ COMMITTED takes a
 * snapshot per statement: nothing to do.  Nor in parallel mode, where no
 * new snapshot may be taken (GetLatestSnapshot refuses): a parallel plan
 * in such a transaction keeps the snapshot's right.
 */
void
RsRequireUseNow(const char *name)
{
	UseRead		read = {name, false, InvalidOid, NULL, 0, CurrentMemoryContext};
	Oid			role = GetUserId();

	if (!IsolationUsesXactSnapshot() || IsInParallelMode())
		return;
	RsRunAsCatalogOwner(read_use_now, &read);
	if (!read.found || has_privs_of_role(role, read.owner))
		return;
	for (int i = 0; i < read.n_grantees; i++)
		if (read.grantees[i] == InvalidOid || has_privs_of_role(role, read.grantees[i]))
			return;
	RsDenyModel(name, read.owner, "use");
}

/*
 * RsModelAlgorithm returns the algorithm of a model as RsModelOwner reads
 * its owner, or NULL if there is no such model.  The caller checks first
 * that the current role may know it (RsRequireModelOwner).
 */
char *
RsModelAlgorithm(const char *name)
{
	OwnerRead	read = {name, false, InvalidOid, NULL, CurrentMemoryContext};

	RsRunAsCatalogOwner(read_owner, &read);
	return read.algorithm;
}

/*
 * The models built on one model: the blends naming it as a member
 * (recsys_blends_using), or the re-rankers naming it as candidates_from
 * (recsys_rerankers_using), found by what their kinds declare
 * (RsKindsUsingModels: the algorithms whose kind serves from other
 * models, re-ranking or blending them, and the params key naming them),
 * not by algorithm names written here.
 */
typedef struct BlendsRead
{
	bool		rerankers;		/* re-rankers, not blends */
	const char *name;
	Datum		owner;			/* the model's owner (oid), or NULL: read it */
	Datum		grantees;		/* its grantees (oid[]), likewise */
	bool		given;
	Oid			caller;			/* the role calling (GetUserId() before run_as) */
	MemoryContext result_context;
	Datum		blends;
} BlendsRead;

/*
 * Which blends (re-rankers) a caller learns of: all when it has the
 * privileges of the model's owner ($5: drop_model, the recsys.models
 * triggers, a trainer replacing its own model need every role's, as DROP
 * TABLE sees every view), else only those whose rows it may see ($4 may
 * use them), as if the catalog were read through row-level security
 * (before 0.8.0 anyone could list the hidden blends using anyone's model).
 */
#define USERS_VISIBLE_TO_CALLER \
	"AND ($5 OR pg_catalog.pg_has_role($4, b.owner::pg_catalog.oid, 'USAGE') " \
	"     OR EXISTS (SELECT FROM pg_catalog.unnest(b.grantees::pg_catalog.oid[]) g " \
	"                WHERE g OPERATOR(pg_catalog.=) 0::pg_catalog.oid " \
	"                OR pg_catalog.pg_has_role($4, g, 'USAGE')))"

/*
 * Whether params (a models or model_versions row's) name model $1 under
 * the key its kind declares (k.params_key: RsModelKind.uses_models), in
 * the form its loader reads: an array element for a blend's members, the
 * string for a re-ranker's candidates_from ($8: re-rankers).  A blend's
 * "members": "x" names nothing (its loader refuses it), so it pins
 * nothing; jsonb's ? alone would match that string too.
 */
#define PARAMS_NAME_MODEL(params) \
	"(CASE WHEN $8 THEN pg_catalog.jsonb_typeof(" params " OPERATOR(pg_catalog.->) k.params_key) " \
	"                   OPERATOR(pg_catalog.=) 'string' " \
	"               AND " params " OPERATOR(pg_catalog.->>) k.params_key OPERATOR(pg_catalog.=) $1 " \
	"      ELSE pg_catalog.jsonb_typeof(" params " OPERATOR(pg_catalog.->) k.params_key) " \
	"                   OPERATOR(pg_catalog.=) 'array' " \
	"               AND " params " OPERATOR(pg_catalog.->) k.params_key OPERATOR(pg_catalog.?) $1 END)"

static void
read_blends(void *arg)
{
	BlendsRead *read = arg;
	Datum		values[8] = {CStringGetTextDatum(read->name), read->owner, read->grantees,
							 ObjectIdGetDatum(read->caller), BoolGetDatum(false), 0, 0,
							 BoolGetDatum(read->rerankers)};
	bool		isnull;
	MemoryContext old;
	Oid			owner;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT owner::pg_catalog.oid, grantees::pg_catalog.oid[] FROM recsys.models "
			  "WHERE name OPERATOR(pg_catalog.=) $1",
			  1, (Oid[]) {TEXTOID}, values, NULL, LATEST_ROWS_READ_ONLY, SPI_OK_SELECT);
	if (SPI_processed == 0 && !read->given)
	{
		SPI_finish();
		old = MemoryContextSwitchTo(read->result_context);
		read->blends = PointerGetDatum(construct_empty_array(TEXTOID));
		MemoryContextSwitchTo(old);
		return;
	}
	if (!read->given)
	{
		values[1] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		values[2] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	}

	/*
	 * The owner whose privileges show every blend: the row's, or when the
	 * row is gone (the triggers' case: deleted or renamed by this
	 * statement) the owner given, which a caller cannot choose for a model
	 * that exists.
	 */
	owner = SPI_processed > 0 ?
		DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) :
		DatumGetObjectId(values[1]);
	values[4] = BoolGetDatum(has_privs_of_role(read->caller, owner));

	/*
	 * A blend's row is its owner's to write, so its list of members proves
	 * nothing by itself: only a blend whose owner may use the member counts
	 * (as train_blend required), or anyone could pin anyone's model by
	 * naming it.  Both the row's list and its active version's (the one
	 * served) count.
	 */
	RsKindsUsingModels(read->rerankers, &values[5], &values[6]);
	RsExecute("SELECT coalesce(pg_catalog.array_agg(b.name ORDER BY b.name), '{}') "
			  "FROM recsys.models b "
			  "JOIN ROWS FROM (pg_catalog.unnest($6), pg_catalog.unnest($7)) k(algorithm, params_key) "
			  "  ON k.algorithm OPERATOR(pg_catalog.=) b.algorithm "
			  "WHERE b.name OPERATOR(pg_catalog.<>) $1 "
			  "AND (" PARAMS_NAME_MODEL("b.params") " "
			  "     OR EXISTS (SELECT FROM recsys.model_versions v "
			  "                WHERE v.model OPERATOR(pg_catalog.=) b.name "
			  "                AND v.version OPERATOR(pg_catalog.=) b.version "
			  "                AND " PARAMS_NAME_MODEL("v.params") ")) "
			  "AND (pg_catalog.pg_has_role(b.owner::pg_catalog.oid, $2, 'USAGE') "
			  "     OR EXISTS (SELECT FROM pg_catalog.unnest($3) g "
			  "                WHERE g OPERATOR(pg_catalog.=) 0::pg_catalog.oid "
			  "                OR pg_catalog.pg_has_role(b.owner::pg_catalog.oid, g, 'USAGE'))) "
			  USERS_VISIBLE_TO_CALLER,
			  8, (Oid[]) {TEXTOID, OIDOID, OIDARRAYOID, OIDOID, BOOLOID, TEXTARRAYOID, TEXTARRAYOID, BOOLOID},
			  values, NULL, LATEST_ROWS_READ_ONLY,
			  SPI_OK_SELECT);
	old = MemoryContextSwitchTo(read->result_context);
	read->blends = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
							 false, -1);
	MemoryContextSwitchTo(old);
	SPI_finish();
}

/*
 * recsys_blends_using(model text, owner oid, grantees oid[]) returns
 * text[]: the blends that name the model among their members, in name
 * order, whoever owns them, as long as their owners may use it (given the
 * model's owner and grantees, as a trigger has them for a row just
 * deleted or renamed; else as the catalog has them now).  Dropping
 * a model another role's blend uses is refused like DROP TABLE under a
 * view, and blends do not nest: both need every blend, not only those the
 * caller may see, so a caller with the privileges of the model's owner
 * gets every one; any other caller only those it may see (see
 * USERS_VISIBLE_TO_CALLER).  Only names come out.  (models_using serves both it and
 * recsys_rerankers_using.)
 */
static Datum
models_using(FunctionCallInfo fcinfo, bool rerankers)
{
	BlendsRead	read = {0};

	RsRequireArg(fcinfo, 0, "model");
	read.rerankers = rerankers;
	read.name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	/* the owner and grantees of a row just deleted or renamed, else read */
	read.given = PG_NARGS() >= 3 && !PG_ARGISNULL(1) && !PG_ARGISNULL(2);
	if (read.given)
	{
		read.owner = PG_GETARG_DATUM(1);
		read.grantees = PG_GETARG_DATUM(2);
	}
	read.caller = GetUserId();
	read.result_context = CurrentMemoryContext;
	RsRunAsCatalogOwner(read_blends, &read);
	PG_RETURN_DATUM(read.blends);
}

Datum
recsys_blends_using(PG_FUNCTION_ARGS)
{
	return models_using(fcinfo, false);
}

/*
 * recsys_rerankers_using(model text, owner oid, grantees oid[]) returns
 * text[]: the re-rankers (algorithm fm) that name the model as their
 * candidates_from, counted as recsys_blends_using counts blends.  A
 * re-ranker finds its base by name, so a base dropped or renamed under
 * it would let any role that takes the name choose its candidates.
 */
Datum
recsys_rerankers_using(PG_FUNCTION_ARGS)
{
	return models_using(fcinfo, true);
}

/* Key-share lock one catalog row (RsLockModelRow). */
static void
lock_model_row(void *arg)
{
	Datum		value = CStringGetTextDatum((const char *) arg);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT FROM recsys.models WHERE name OPERATOR(pg_catalog.=) $1 FOR KEY SHARE",
			  1, (Oid[]) {TEXTOID}, &value, NULL, false, SPI_OK_SELECT);

	/*
	 * No row: dropped or renamed by a transaction that committed while the
	 * lock waited for it.  The statement's snapshot may still show the row,
	 * so say here what RsGetModel says of a missing model.
	 */
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" does not exist", (const char *) arg),
				 errdetail("It was dropped or renamed by a transaction that committed meanwhile."),
				 errhint("SELECT name FROM recsys.models lists the models.")));
	SPI_finish();
}

/*
 * RsLockModelRow key-share locks a model's catalog row, as the catalog's
 * owner, until the transaction ends: a role that may use a model may not
 * lock its row itself (the row's UPDATE policy is its owner's, so that
 * nobody else can stall its training), but a model built on it (a blend,
 * a re-ranker) must hold it against dropping and renaming until it
 * commits; drop_model's check then sees the new model.  A key-share lock
 * lets the model be retrained meanwhile.  The caller must be allowed to
 * use the model: one it may not use, or that does not exist, gets the
 * errors RsGetModel gives, before any lock is taken.
 */
void
RsLockModelRow(const char *name)
{
	Datum		value;
	bool		visible;

	/*
	 * First the caller's right to use it (row-level security shows the
	 * caller the rows of the models it may use) and the ordinary errors
	 * of a model it may not use or that does not exist: only a model it
	 * may use is locked with the catalog owner's rights.
	 */
	if (strlen(name) >= NAMEDATALEN)
		(void) RsRequireModelOwner(name, "use", false);
	value = CStringGetTextDatum(name);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT FROM recsys.models WHERE name OPERATOR(pg_catalog.=) $1 " MAY_USE_MODEL,
			  1, (Oid[]) {TEXTOID}, &value, NULL, false, SPI_OK_SELECT);
	visible = SPI_processed > 0;
	SPI_finish();
	if (!visible)
	{
		bool		exists;
		Oid			owner = RsModelOwner(name, &exists);

		if (exists && !has_privs_of_role(GetUserId(), owner))
			RsDenyModel(name, owner, "use");
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("SELECT name FROM recsys.models lists the models.")));
	}
	RsRunAsCatalogOwner(lock_model_row, (void *) name);
}

/*
 * RsModelOwnerName is the name of a model's owner as a model built on it
 * records it (a name, not an OID: it must survive a dump restored into
 * another cluster); a dropped role's is "" (matching no recorded name).
 */
char *
RsModelOwnerName(Oid owner)
{
	char	   *name = GetUserNameFromId(owner, true);

	return name ? name : "";
}

/*
 * RsRefuseChangedOwner refuses a base or member (what: "candidates_from
 * model", "member model") found by name whose owner is no longer the one
 * recorded at training (trained_owner; NULL: a model trained before owners
 * were recorded, not checked): the model of that name was dropped and
 * another role took the name.
 */
void
RsRefuseChangedOwner(const char *what, const char *name, const char *user_kind,
					 const char *user_name, const char *trained_owner, Oid owner)
{
	const char *now = RsModelOwnerName(owner);

	if (trained_owner == NULL || strcmp(trained_owner, now) == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s \"%s\" of %s \"%s\" changed owner since training", what, name, user_kind, user_name),
			 errdetail("It was owned by role \"%s\" at training; the model of that name now is role \"%s\"'s.",
					   trained_owner, now),
			 errhint("Retrain the %s.", user_kind)));
}

/*
 * RsDenyModel raises the error for a role that may not do action (a verb:
 * "use", "train", "drop", ...) to a model: SQLSTATE 42501, naming the
 * model and its owner.
 */
void
RsDenyModel(const char *name, Oid owner, const char *action)
{
	char	   *owner_name = GetUserNameFromId(owner, true);

	if (owner_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s model \"%s\", whose owner (role OID %u) was dropped",
						action, name, owner),
				 errhint("A superuser can give it a new owner: SELECT recsys.alter_model_owner(%s, ...).",
						 quote_literal_cstr(name))));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to %s model \"%s\", owned by role \"%s\"", action, name, owner_name),
			 strcmp(action, "use") == 0 ?
			 errhint("The owner can grant its use: SELECT recsys.grant_model(%s, %s).",
					 quote_literal_cstr(name),
					 quote_literal_cstr(GetUserNameFromId(GetUserId(), false))) :
			 errhint("Only its owner, members of role \"%s\" and superusers may.", owner_name)));
}

/*
 * RsRequireModelOwner returns the owner of a model after checking that
 * the current role has the owner's privileges (RsDenyModel otherwise,
 * with action).  A model that does not exist is an error, or InvalidOid
 * if missing_ok.
 */
Oid
RsRequireModelOwner(const char *name, const char *action, bool missing_ok)
{
	bool		found = false;
	Oid			owner = InvalidOid;

	/* (the catalog's CHECK allows no longer name: don't echo one back whole) */
	if (strlen(name) >= NAMEDATALEN && missing_ok)
		return InvalidOid;
	if (strlen(name) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%.*s...\" does not exist",
						pg_mbcliplen(name, strlen(name), NAMEDATALEN - 1), name),
				 errdetail("Model names are at most %d bytes long.", NAMEDATALEN - 1)));
	owner = RsModelOwner(name, &found);
	if (!found)
	{
		if (missing_ok)
			return InvalidOid;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("SELECT name FROM recsys.models lists the models.")));
	}
	if (!has_privs_of_role(GetUserId(), owner))
		RsDenyModel(name, owner, action);
	return owner;
}

/*
 * recsys_require_model_owner(model text, action text, missing_ok boolean)
 * returns regrole: RsRequireModelOwner for the PL/pgSQL functions and the
 * recsys.models trigger; NULL for a missing model when missing_ok.
 */
Datum
recsys_require_model_owner(PG_FUNCTION_ARGS)
{
	Oid			owner;

	RsRequireArg(fcinfo, 0, "model");
	RsRequireArg(fcinfo, 1, "action");
	RsRequireArg(fcinfo, 2, "missing_ok");
	owner = RsRequireModelOwner(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								text_to_cstring(PG_GETARG_TEXT_PP(1)), PG_GETARG_BOOL(2));
	if (!OidIsValid(owner))
		PG_RETURN_NULL();
	PG_RETURN_OID(owner);
}

/*
 * RsRunAsOwner calls work(arg), which reads the source of model name, as
 * the model's owner (run_as): code in the source runs with the owner's
 * rights, never with the caller's.
 */
void
RsRunAsOwner(const char *name, Oid owner, RsOwnerWork work, void *arg)
{
	const char *volatile outer;

	if (!OidIsValid(owner) || !SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of model \"%s\" (role with OID %u) no longer exists", name, owner),
				 errdetail("A model's source is read with its owner's rights."),
				 errhint("A superuser can give the model to another role with recsys.alter_model_owner.")));
	/* the read's messages say whose rights it uses (ingest.c) */
	outer = RsSetOwnerReadModel(name);
	PG_TRY();
	{
		run_as(owner, work, arg);
	}
	PG_FINALLY();
	{
		RsSetOwnerReadModel(outer);
	}
	PG_END_TRY();
}

/* One prepared query over a model's source, run by RsExecutePlanAsOwner. */
typedef struct PlanRun
{
	SPIPlanPtr	plan;
	Datum	   *values;
	int			result;
} PlanRun;

static void
execute_plan(void *arg)
{
	PlanRun    *run = arg;

	run->result = SPI_execute_plan(run->plan, run->values, NULL, true, 0);
}

/*
 * RsExecutePlanAsOwner runs a read-only plan over a model's source (SPI
 * connected) as the model's owner and returns SPI's result code; the rows
 * are in SPI_tuptable as usual.
 */
int
RsExecutePlanAsOwner(const char *name, Oid owner, SPIPlanPtr plan, Datum *values)
{
	PlanRun		run = {plan, values, 0};

	RsRunAsOwner(name, owner, execute_plan, &run);
	return run.result;
}

/*
 * RsVisibleModels returns the names of the models the current role may
 * use (their catalog rows, read through row-level security), as a hash
 * table in the current context, or NULL if the role may not read the
 * catalog (then it may use no model): the cache statistics show no more
 * (a backend may have served others for a role it has since left with
 * SET ROLE).
 */
HTAB *
RsVisibleModels(void)
{
	HTAB	   *visible;
	HASHCTL		ctl;

	if (pg_class_aclcheck(get_relname_relid("models", get_namespace_oid(RECSYS_SCHEMA, false)),
						  GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		return NULL;
	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = NAMEDATALEN;
	ctl.hcxt = CurrentMemoryContext;
	visible = hash_create("recsys visible models", 16, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT name FROM recsys.models WHERE true " MAY_USE_MODEL, 0, NULL, NULL, NULL, true, SPI_OK_SELECT);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);

		if (name != NULL && strlen(name) < NAMEDATALEN)
			(void) hash_search(visible, name, HASH_ENTER, NULL);
	}
	SPI_finish();
	return visible;
}

/*
 * RsRelationOwnerName returns the name of the role owning relation relid
 * (recorded with the relation's name by trainers and index_catalog, for
 * RsCheckRecordedRelation), or NULL if there is no such relation.
 */
char *
RsRelationOwnerName(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			relowner;

	if (!HeapTupleIsValid(tuple))
		return NULL;
	relowner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return GetUserNameFromId(relowner, true);
}

/*
 * RsCheckRecordedRelation refuses (42501) to let reader read relid, the
 * relation found again by the name (relname) that object (of kind
 * object_kind: "model", "catalog") recorded, unless it is the recorded
 * relation's owner's: its owner is still recorded_owner (the name recorded
 * with it), or reader owns it; for objects recorded before 0.8.0 (no
 * recorded owner) reader must own it or be a member of its owner.
 * Names are recorded, not OIDs, so that dump and restore keep working; the
 * owner is what another role cannot forge when it puts a view of its own
 * (with a function that runs as reader) under a dropped relation's name.
 */
void
RsCheckRecordedRelation(const char *object_kind, const char *object, const char *relname, Oid relid,
						Oid reader, const char *recorded_owner)
{
	HeapTuple	tuple;
	Oid			relowner;
	char	   *owner_name;
	const char *hint;

	/*
	 * Locked first, as the read will (RsCheckReadableRelation): an ALTER
	 * ... OWNER TO that commits while we wait is seen by this check.
	 */
	LockRelationOid(relid, AccessShareLock);
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		return;					/* gone: the caller's own error */
	relowner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	/*
	 * The reader's own relation, or the recorded owner's.  Membership is no
	 * shortcut: when the relation's owner is a group role, any other member
	 * could have put a view of its own there.
	 */
	if (relowner == reader)
		return;
	owner_name = GetUserNameFromId(relowner, true);
	if (recorded_owner != NULL && owner_name != NULL && strcmp(recorded_owner, owner_name) == 0)
		return;
	/* recorded before 0.8.0: nothing better to go by than membership */
	if (recorded_owner == NULL && has_privs_of_role(reader, relowner))
		return;
	if (owner_name == NULL)
		owner_name = psprintf("with OID %u", relowner);
	hint = strcmp(object_kind, "catalog") == 0 ?
		"Index the relation again with recsys.index_catalog to accept it." :
		"Retrain the model to accept the relation now under that name.";
	if (recorded_owner == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("relation %s of %s \"%s\" is owned by role \"%s\", whose privileges role \"%s\" lacks",
						relname, object_kind, object, owner_name, GetUserNameFromId(reader, false)),
				 errdetail("The %s was recorded before recsys 0.8.0 without its relation's owner, and is read with the rights of role \"%s\", who must own the relation or be a member of its owner.",
						   object_kind, GetUserNameFromId(reader, false)),
				 errhint("%s", hint)));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("relation %s of %s \"%s\" is now owned by role \"%s\", not by role \"%s\" who owned it when it was recorded",
					relname, object_kind, object, owner_name, recorded_owner),
			 errdetail("It is read with the rights of role \"%s\"; a relation another role put under the recorded name is not read.",
					   GetUserNameFromId(reader, false)),
			 errhint("%s", hint)));
}

/* The experiments naming a model, read past row-level security. */
typedef struct ExperimentsRead
{
	Datum		values[3];		/* model name, its owner, its grantees */
	MemoryContext result_context;
	Datum		experiments;
} ExperimentsRead;

static void
read_experiments(void *arg)
{
	ExperimentsRead *read = arg;
	bool		isnull;
	MemoryContext old;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("SELECT coalesce(pg_catalog.array_agg(e.name ORDER BY e.name), '{}') "
			  "FROM recsys.experiments e "
			  "WHERE EXISTS (SELECT FROM pg_catalog.jsonb_array_elements(recsys._experiment_served(e)) v "
			  "              WHERE v OPERATOR(pg_catalog.->>) 'model' OPERATOR(pg_catalog.=) $1 "
			  "              OR v OPERATOR(pg_catalog.->>) 'similarity_model' OPERATOR(pg_catalog.=) $1) "
			  "AND (pg_catalog.pg_has_role(e.owner::pg_catalog.oid, $2, 'USAGE') "
			  "     OR EXISTS (SELECT FROM pg_catalog.unnest($3) g "
			  "                WHERE g OPERATOR(pg_catalog.=) 0::pg_catalog.oid "
			  "                OR pg_catalog.pg_has_role(e.owner::pg_catalog.oid, g, 'USAGE')))",
			  3, (Oid[]) {TEXTOID, OIDOID, OIDARRAYOID}, read->values, NULL, LATEST_ROWS_READ_ONLY,
			  SPI_OK_SELECT);
	old = MemoryContextSwitchTo(read->result_context);
	read->experiments = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
								  false, -1);
	MemoryContextSwitchTo(old);
	SPI_finish();
}

/*
 * recsys_experiments_using(model text, owner oid, grantees oid[]) returns
 * text[]: the experiments, whoever owns them, whose variants name the
 * model (as model or similarity_model) and whose owner may use it given
 * its owner and grantees (the recsys.models triggers pass a deleted or
 * renamed row's).  An experiment finds its variants' models by name, so
 * a model dropped under it would let any role that takes the name serve
 * its users (review s8, 2): the drop is refused like a blend member's.
 * An ended experiment serves its kept variant only: the other variants'
 * models are free (recsys._experiment_served).
 * Only the model's owner drops it, and it learns of every experiment, as
 * DROP TABLE names another role's view.
 */
PG_FUNCTION_INFO_V1(recsys_experiments_using);
Datum
recsys_experiments_using(PG_FUNCTION_ARGS)
{
	ExperimentsRead read = {0};

	RsRequireArg(fcinfo, 0, "model");
	RsRequireArg(fcinfo, 1, "owner");
	RsRequireArg(fcinfo, 2, "grantees");
	read.values[0] = PG_GETARG_DATUM(0);
	read.values[1] = PG_GETARG_DATUM(1);
	read.values[2] = PG_GETARG_DATUM(2);
	read.result_context = CurrentMemoryContext;
	RsRunAsCatalogOwner(read_experiments, &read);
	PG_RETURN_DATUM(read.experiments);
}
