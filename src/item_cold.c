/*-------------------------------------------------------------------------
 *
 * item_cold.c
 *		Item features in factor models, and vectors for cold items: items
 *		that have features but no interactions, given a vector at training
 *		and again by recsys.refresh_items(model) when they appear later,
 *		without retraining.
 *
 * Categorical features (train_ease's features relation: a category, a
 * brand, a word of the title) are trained by weighted collective
 * factorisation: train_cf adds each feature as a pseudo-user of the items
 * that have it (confidence 1 + alpha * value), whose whole loss, the
 * implicit zeros over every item included, counts feature_weight times a
 * user's (rs_als_implicit_update_weighted), so ALS learns item vectors
 * informed by the features and a vector per feature.  A cold item is then
 * one implicit-ALS item half-step against its features' vectors
 * (src/kernel/cold.c, the same weighted loss): exactly what training
 * would give it from its features, with no interaction.
 *
 * Why weighted (0.11.0).  0.10.0 scaled only the features' values
 * (confidence 1 + alpha * feature_weight * value) and so had two faults,
 * measured on the shared strat75 splits: (1) frequency-scaled
 * regularisation (regularization_exponent) counted each feature as one
 * more user of its items whatever the weight, so an item's
 * regularisation jumped as soon as features were on (ml-latest-small
 * valid NDCG@10 0.2334 without features, 0.1663 at weight 0.0005); (2) a
 * pseudo-user was a full implicit user: its implicit zeros over all items
 * entered the Gramian at full weight, so even a tiny weight changed every
 * item's solve.  Now the features' Gramian, their observations and their
 * confidences all scale with feature_weight, the frequency scaling counts
 * the real users only, and at weight -> 0 the items' side is plain ALS
 * (bit for bit at 0 in the kernel).  Models trained by 0.10.0 record no
 * 'feature_loss' in params and keep their own form at refresh.  We chose this over a LightFM-style sum
 * of feature vectors (Kula 2015) because it keeps ALS's closed-form
 * steps and its warm items' vectors free (an item with many users is not
 * pulled toward its features' average), and a new item costs one k x k
 * solve, which refresh_items can afford per item.
 *
 * Dense features (embeddings computed outside the database: text, image)
 * are real[] columns of an embeddings relation, one group per column,
 * each L2-normalised and scaled by its group's weight.  They map to item
 * vectors by ridge regression fitted on the trained items (Gantner et al.
 * 2010, attribute-to-factor mapping).  With categorical features too, the
 * map's input starts with the item's half-step vector, so one linear map
 * learns how much each source says (multimodal fusion).
 *
 * What refresh_items needs is stored with the version in
 * recsys.model_parameters: 'feature:<name>' per feature vector,
 * 'cold:gram' (the item half-step's Gramian, the features' rows weighted)
 * and 'cold:map'; the relations, groups and weights in params, with
 * 'feature_loss' ('weighted') and 'user_columns' (the users the frequency
 * scaling counts).  Cold items get item_stats rows with no users and popularity 0,
 * so everything that serves items serves them.  Their vectors are
 * multiplied by cold_item_weight (at most 1), which bounds their scores
 * and so their exposure.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>

#include <math.h>

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "als.h"
#include "args.h"
#include "array_util.h"
#include "cancel.h"
#include "cold.h"
#include "ingest.h"
#include "item_cold.h"
#include "item_features.h"
#include "model_acl.h"
#include "model_cache.h"
#include "model_kind.h"
#include "model_params.h"
#include "model_store.h"
#include "recsys.h"
#include "spi_util.h"
#include "topk.h"

PG_FUNCTION_INFO_V1(recsys_refresh_items);

/* The ridge of the dense-feature map, on L2-normalised groups. */
#define COLD_MAP_RIDGE 1.0f
#define FEATURE_PREFIX "feature:"
#define WRITE_BATCH 1000

static int32 known_index(const int64 *known, int32 n_known, int64 id);

static bool
is_float_array_type(Oid type)
{
	type = getBaseType(type);
	return type == FLOAT4ARRAYOID || type == FLOAT8ARRAYOID;
}

/*
 * RsColdEmbeddingArgs checks the embeddings relation and takes every
 * real[] or double precision[] column as a feature group, in column
 * order, with weights (NULL: 1 each).
 */
void
RsColdEmbeddingArgs(Oid relid, const char *item_col, ArrayType *weights, RsColdModel *cm)
{
	AttrNumber	attnum = get_attnum(relid, item_col);
	int			natts;
	Relation	rel;
	float	   *w = NULL;
	int			nw = 0;

	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of embeddings relation \"%s\" does not exist",
						item_col, get_rel_name(relid)),
				 errhint("embeddings needs the item ids in a column named like the source's, \"%s\" (item_col), "
						 "and one real[] column per feature group; a view can rename them.", item_col)));
	if (!RsIsIdType(get_atttype(relid, attnum)))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("item_col \"%s\" of embeddings \"%s\" has type %s, which cannot be an id",
						item_col, get_rel_name(relid), format_type_be(get_atttype(relid, attnum))),
				 errhint("Ids must be smallint, integer or bigint, as in the source.")));
	cm->embeddings = relid;
	cm->n_groups = 0;
	rel = relation_open(relid, AccessShareLock);
	natts = RelationGetDescr(rel)->natts;
	for (int a = 0; a < natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), a);

		if (att->attisdropped || !is_float_array_type(att->atttypid))
			continue;
		if (cm->n_groups == RS_MAX_EMBEDDING_GROUPS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("embeddings \"%s\" has more than %d real[] columns",
							get_rel_name(relid), RS_MAX_EMBEDDING_GROUPS)));
		cm->group_cols[cm->n_groups++] = pstrdup(NameStr(att->attname));
	}
	relation_close(rel, AccessShareLock);
	if (cm->n_groups == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("embeddings \"%s\" has no real[] column", get_rel_name(relid)),
				 errhint("Give each feature group (a text embedding, an image embedding) as a real[] column.")));
	if (weights != NULL)
	{
		Datum	   *elems;
		bool	   *nulls;

		deconstruct_array_builtin(weights, FLOAT8OID, &elems, &nulls, &nw);
		w = palloc(sizeof(float) * Max(nw, 1));
		for (int g = 0; g < nw; g++)
		{
			if (nulls[g])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("embedding_weights must not contain NULL")));
			w[g] = (float) DatumGetFloat8(elems[g]);
		}
		if (nw != cm->n_groups)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("embedding_weights has %d elements, but embeddings \"%s\" has %d real[] columns",
							nw, get_rel_name(relid), cm->n_groups),
					 errhint("Give one weight per real[] column, in column order.")));
	}
	for (int g = 0; g < cm->n_groups; g++)
	{
		cm->group_weights[g] = w ? w[g] : 1.0f;
		if (!(cm->group_weights[g] >= 0 && cm->group_weights[g] <= 1000))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("embedding_weights must be between 0 and 1000, not %g", cm->group_weights[g])));
		cm->dims[g] = 0;
	}
}

/* Rows of the embeddings relation as read: ids ascending, dense part of z. */
typedef struct EmbeddingRows
{
	RsColdModel *cm;
	int			Dd;				/* sum of dims, once known */
	int32		n;
	int32		capacity;
	int64	   *ids;
	float	   *z;				/* n x Dd */
	MemoryContext cxt;
	bool		sized;
} EmbeddingRows;

static void
embedding_error(RsColdModel *cm, int g, int64 id, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("embedding column \"%s\" of item %lld %s", cm->group_cols[g], (long long) id, what),
			 errhint("Every embedding of a column must have the same length (%d here) and finite values; NULL leaves it out.",
					 cm->dims[g])));
}

static void
keep_embedding(TupleTableSlot *slot, void *arg)
{
	EmbeddingRows *e = arg;
	RsColdModel *cm = e->cm;
	int64		id = DatumGetInt64(slot->tts_values[0]);
	float	   *z;
	int			off = 0;

	CHECK_FOR_INTERRUPTS();
	if (e->n > 0 && e->ids[e->n - 1] == id)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("embeddings has more than one row for item %lld", (long long) id),
				 errhint("Give each item one row, a real[] column per feature group.")));
	/* the first row with a group fixes its length (training) */
	if (!e->sized)
	{
		bool		all = true;

		for (int g = 0; g < cm->n_groups; g++)
			if (cm->dims[g] == 0)
			{
				if (slot->tts_isnull[g + 1])
				{
					all = false;
					continue;
				}
				cm->dims[g] = ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(slot->tts_values[g + 1])),
											 ARR_DIMS(DatumGetArrayTypeP(slot->tts_values[g + 1])));
				if (cm->dims[g] < 1 || cm->dims[g] > RS_MAX_EMBEDDING_DIMS)
					embedding_error(cm, g, id, psprintf("has %d elements; 1 to %d are allowed",
														cm->dims[g], RS_MAX_EMBEDDING_DIMS));
			}
		if (!all)
			return;				/* not sized yet: such rows are rare; keep reading */
		e->sized = true;
		e->Dd = 0;
		for (int g = 0; g < cm->n_groups; g++)
			e->Dd += cm->dims[g];
	}
	if (e->n == e->capacity)
	{
		e->capacity *= 2;
		e->ids = repalloc_huge(e->ids, sizeof(int64) * e->capacity);
		e->z = repalloc_huge(e->z, sizeof(float) * e->capacity * (Size) e->Dd);
	}
	z = e->z + (Size) e->n * e->Dd;
	memset(z, 0, sizeof(float) * e->Dd);
	for (int g = 0; g < cm->n_groups; g++)
	{
		if (!slot->tts_isnull[g + 1])
		{
			ArrayType  *a = DatumGetArrayTypeP(slot->tts_values[g + 1]);
			int			n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
			float	   *v = (float *) ARR_DATA_PTR(a);
			double		norm = 0;

			if (ARR_HASNULL(a))
				embedding_error(cm, g, id, "has a NULL element");
			if (n != cm->dims[g])
				embedding_error(cm, g, id, psprintf("has %d elements, not %d", n, cm->dims[g]));
			for (int d = 0; d < n; d++)
			{
				if (!isfinite(v[d]))
					embedding_error(cm, g, id, psprintf("has a non-finite element (%g at %d)", v[d], d + 1));
				norm += (double) v[d] * v[d];
			}
			/* a zero vector says nothing: left out like NULL */
			if (norm > 0)
				for (int d = 0; d < n; d++)
					z[off + d] = (float) (cm->group_weights[g] * v[d] / sqrt(norm));
		}
		off += cm->dims[g];
	}
	e->ids[e->n++] = id;
}

/*
 * Read the embeddings of the items among (among true) or not among the
 * known ids, ascending by id.  Rows before every group's length is known
 * are skipped only while training sizes the groups, which reads the
 * model's items first.
 */
static void
read_embeddings(RsColdModel *cm, const int64 *known, int32 n_known, bool among,
				EmbeddingRows *e)
{
	StringInfoData q;
	const char *id = quote_identifier(cm->item_col);
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];
	const char *cols[1 + RS_MAX_EMBEDDING_GROUPS];

	cols[0] = cm->item_col;
	for (int g = 0; g < cm->n_groups; g++)
		cols[g + 1] = cm->group_cols[g];
	RsCheckReadableRelation(cm->embeddings, "embeddings", cols, cm->n_groups + 1);
	initStringInfo(&q);
	appendStringInfo(&q, "SELECT r.%s::pg_catalog.int8", id);
	for (int g = 0; g < cm->n_groups; g++)
		appendStringInfo(&q, ", r.%s::pg_catalog.float4[]", quote_identifier(cm->group_cols[g]));
	appendStringInfo(&q, " FROM %s AS r WHERE r.%s IS NOT NULL AND r.%s::pg_catalog.int8 %s "
					 "(SELECT pg_catalog.unnest($1::pg_catalog.int8[])) ORDER BY 1",
					 RsRelationName(cm->embeddings), id, id, among ? "IN" : "NOT IN");
	values[0] = PointerGetDatum(RsInt64Array(known, n_known));
	e->cm = cm;
	e->n = 0;
	e->capacity = 64;
	e->ids = palloc(sizeof(int64) * e->capacity);
	e->sized = true;
	e->Dd = 0;
	for (int g = 0; g < cm->n_groups; g++)
	{
		if (cm->dims[g] == 0)
			e->sized = false;
		e->Dd += cm->dims[g];
	}
	/* sized later if not yet: allocate for the largest */
	e->z = palloc(sizeof(float) * e->capacity * (Size) (e->sized ? Max(e->Dd, 1) :
														RS_MAX_EMBEDDING_GROUPS * RS_MAX_EMBEDDING_DIMS));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsStreamQuery(q.data, 1, argtypes, values, NULL, true, keep_embedding, e);
	SPI_finish();
	if (!e->sized)
		for (int g = 0; g < cm->n_groups; g++)
			if (cm->dims[g] == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("embedding column \"%s\" of embeddings \"%s\" has no value for any item of the model",
								cm->group_cols[g], get_rel_name(cm->embeddings))));
}

/* Binary search of a feature's name; -1 if the model has no such feature. */
static int32
feature_index(const RsColdModel *cm, const char *name)
{
	int32		lo = 0,
				hi = cm->n_features - 1;

	while (lo <= hi)
	{
		int32		mid = lo + (hi - lo) / 2;
		int			c = strcmp(cm->names[mid], name);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * The half-step vector of an item from its features (out: k floats), in
 * the model's form of the features' loss (cm->weighted_loss).
 */
static void
categorical_vector(const RsColdModel *cm, const int32 *idx, const float *v, int n,
				   float *out, float *work)
{
	float	   *scaled = NULL;
	int			status;

	if (cm->weighted_loss)
		status = rs_cold_item_solve_weighted(cm->gram, cm->vectors, cm->k, idx, v, n, cm->alpha,
											 cm->feature_weight, cm->reg, cm->reg_exponent,
											 cm->n_users, out, work);
	else
	{
		/* 0.10.0's pseudo-users: the values scaled, every column counted */
		scaled = palloc(sizeof(float) * Max(n, 1));
		for (int j = 0; j < n; j++)
			scaled[j] = cm->feature_weight * v[j];
		status = rs_cold_item_solve(cm->gram, cm->vectors, cm->k, idx, scaled, n, cm->alpha,
									cm->reg, cm->reg_exponent, cm->n_cols, out, work);
	}
	if (status != RS_COLD_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the item half-step from features failed (status %d)", status),
				 errhint("Increase regularization.")));
	if (scaled != NULL)
		pfree(scaled);
}

/*
 * RsColdFitMap fits the ridge map from dense features (after the
 * half-step vector, with categorical features) to the trained items'
 * vectors Y.  item_features: items x features (NULL without).
 */
void
RsColdFitMap(RsColdModel *cm, const RsIdMap *items, const RsCsr *item_features, const float *Y)
{
	EmbeddingRows e;
	int			k = cm->k;
	int			off = cm->n_features > 0 ? k : 0;
	float	   *Z;
	float	   *work;
	int			status;
	int32		r = 0;

	cm->map = NULL;
	if (!OidIsValid(cm->embeddings))
		return;
	read_embeddings(cm, items->ids, items->count, true, &e);
	cm->D = off + e.Dd;
	Z = MemoryContextAllocExtended(CurrentMemoryContext, (Size) items->count * cm->D * sizeof(float),
								   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	work = palloc(sizeof(float) * (Size) Max(k, 1) * Max(k, 1));
	for (int32 i = 0; i < items->count; i++)
	{
		float	   *z = Z + (Size) i * cm->D;

		CHECK_FOR_INTERRUPTS();
		if (off > 0)
		{
			int64		b = item_features->indptr[i];

			categorical_vector(cm, item_features->indices + b, item_features->data + b,
							   (int) (item_features->indptr[i + 1] - b), z, work);
		}
		/* e.ids ascend like items->ids */
		while (r < e.n && e.ids[r] < items->ids[i])
			r++;
		if (r < e.n && e.ids[r] == items->ids[i])
			memcpy(z + off, e.z + (Size) r * e.Dd, sizeof(float) * e.Dd);
	}
	cm->map = palloc(sizeof(float) * (Size) cm->D * k);
	work = palloc(sizeof(float) * (Size) cm->D * (cm->D + k));
	status = rs_ridge_fit(Z, Y, items->count, cm->D, k, COLD_MAP_RIDGE, cm->map, work,
						  RsCancelRequested, NULL);
	if (status == RS_COLD_STOPPED)
		RsKernelStopped("fitting the embeddings' map");
	if (status != RS_COLD_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the map from embeddings to item vectors could not be fitted (status %d)", status)));
	pfree(Z);
}

/*
 * The cold items' features, vectors and lists are held in arrays as a
 * training's are: refused before they grow past recsys.max_memory (as
 * src/item_features.c refuses the warm items' features).
 */
static void
cold_within_budget(Size bytes)
{
	if (bytes > RECSYS_MAX_MEMORY_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the cold items' features need more than recsys.max_memory (%d MB): %.1f MB",
						recsys_max_memory_mb, bytes / 1048576.0),
				 errhint("Raise recsys.max_memory, or give the items without interactions fewer features.")));
}

/*
 * Refuse features whose confidence alpha * max(feature_weight, 1) *
 * |value| is beyond RS_ALS_MAX_FEATURE_CONFIDENCE (als.h: the
 * single-precision fit loses positive definiteness there): train_cf before
 * the fit, and refresh_items with the model's stored alpha and
 * feature_weight, so that refresh folds in nothing training would refuse.
 */
void
RsCheckFeatureConfidence(float alpha, float feature_weight, double largest_value)
{
	double		confidence = (double) alpha * fmax((double) feature_weight, 1.0) * fabs(largest_value);
	if (confidence > RS_ALS_MAX_FEATURE_CONFIDENCE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("alpha * max(feature_weight, 1) * the largest |value| of features must be at most %g, not %g",
						RS_ALS_MAX_FEATURE_CONFIDENCE, confidence),
				 errdetail("alpha is %g, feature_weight %g, the largest |value| %g; beyond that bound the single-precision fit loses positive definiteness.",
						   (double) alpha, (double) feature_weight, fabs(largest_value)),
				 errhint("Lower alpha or feature_weight, or scale the features' values down.")));
}

/* Cold items' categorical features as read: (id, feature index) ascending by id. */
typedef struct CategoricalRows
{
	const RsColdModel *cm;
	int64		n;
	int64		capacity;
	int64	   *ids;
	int32	   *feature;
	float	   *value;
} CategoricalRows;

static void
keep_categorical(TupleTableSlot *slot, void *arg)
{
	CategoricalRows *c = arg;
	int32		f;
	float		value;

	CHECK_FOR_INTERRUPTS();
	f = feature_index(c->cm, TextDatumGetCString(slot->tts_values[1]));
	if (f < 0)
		return;					/* a feature no trained item has: says nothing */
	value = RsFeatureValue(DatumGetFloat8(slot->tts_values[2]), RS_ALS_MAX_FEATURE_VALUE, "features");
	RsCheckFeatureConfidence(c->cm->alpha, c->cm->feature_weight, value);
	if (c->n == c->capacity)
	{
		cold_within_budget((Size) c->capacity * 2 * (sizeof(int64) + sizeof(int32) + sizeof(float)));
		c->capacity *= 2;
		c->ids = repalloc_huge(c->ids, sizeof(int64) * c->capacity);
		c->feature = repalloc_huge(c->feature, sizeof(int32) * c->capacity);
		c->value = repalloc_huge(c->value, sizeof(float) * c->capacity);
	}
	c->ids[c->n] = DatumGetInt64(slot->tts_values[0]);
	c->feature[c->n] = f;
	c->value[c->n++] = value;
}

/* Read the features of the items not among the known ids (as the trainer's read does). */
static void
read_cold_categorical(const RsColdModel *cm, const int64 *known, int32 n_known, CategoricalRows *c)
{
	Oid			relid = cm->features;
	const char *id = quote_identifier(cm->item_col);
	bool		with_value = get_attnum(relid, "value") > 0;
	const char *value = with_value ? "r.value" : "1";
	Oid			ftype = get_atttype(relid, get_attnum(relid, "feature"));
	const char *cols[3] = {cm->item_col, "feature", "value"};
	StringInfoData q;
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		values[1];

	if (get_attnum(relid, cm->item_col) <= 0 || get_attnum(relid, "feature") <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("features relation \"%s\" has no column \"%s\" or \"feature\"",
						get_rel_name(relid), cm->item_col),
				 errhint("A model's features relation must keep the columns it was trained with.")));
	RsCheckReadableRelation(relid, "features", cols, with_value ? 3 : 2);
	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT i, f, pg_catalog.max(v) FROM ("
					 "SELECT r.%s::pg_catalog.int8 AS i, %s::pg_catalog.text COLLATE \"C\" AS f, "
					 "%s::pg_catalog.float8 AS v FROM %s AS r%s "
					 "WHERE r.%s IS NOT NULL AND %s IS NOT NULL AND %s IS NOT NULL "
					 "AND r.%s::pg_catalog.int8 NOT IN (SELECT pg_catalog.unnest($1::pg_catalog.int8[]))) s "
					 "GROUP BY i, f ORDER BY i, f",
					 id, type_is_array(getBaseType(ftype)) ? "u.f" : "r.feature", value,
					 RsRelationName(relid),
					 type_is_array(getBaseType(ftype)) ? " CROSS JOIN LATERAL pg_catalog.unnest(r.feature) AS u(f)" : "",
					 id, type_is_array(getBaseType(ftype)) ? "u.f" : "r.feature", value, id);
	values[0] = PointerGetDatum(RsInt64Array(known, n_known));
	c->cm = cm;
	c->n = 0;
	c->capacity = 256;
	c->ids = palloc(sizeof(int64) * c->capacity);
	c->feature = palloc(sizeof(int32) * c->capacity);
	c->value = palloc(sizeof(float) * c->capacity);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsStreamQuery(q.data, 1, argtypes, values, NULL, true, keep_categorical, c);
	SPI_finish();
}

/*
 * RsColdCheckFeatures reads the cold items' features (those of items not
 * among the known ids) only to apply keep_categorical's checks: train_cf
 * calls it before the fit, so that a cold item's value beyond the
 * confidence bound fails there, not after all the fit's work.
 */
void
RsColdCheckFeatures(const RsColdModel *cm, const int64 *known, int32 n_known)
{
	CategoricalRows c = {0};

	if (cm->n_features == 0)
		return;
	read_cold_categorical(cm, known, n_known, &c);
	pfree(c.ids);
	pfree(c.feature);
	pfree(c.value);
}

/*
 * RsColdItemVectors computes the vectors of the items that have features
 * (or an embedding) but are not among the known ids, ascending by id;
 * returns how many.  An item none of whose features the model knows and
 * without an embedding gets none.
 */
int32
RsColdItemVectors(RsColdModel *cm, const int64 *known, int32 n_known, int64 **ids_out,
				  float **vectors_out)
{
	CategoricalRows c = {0};
	EmbeddingRows e = {0};
	int			k = cm->k;
	int64		capacity;
	int64	   *ids;
	float	   *vectors;
	float	   *work = palloc(sizeof(float) * k * k);
	float	   *z = palloc(sizeof(float) * Max(cm->D, k));
	int32		n = 0;
	int64		a = 0;
	int32		b = 0;

	if (cm->n_features > 0)
		read_cold_categorical(cm, known, n_known, &c);
	if (OidIsValid(cm->embeddings))
		read_embeddings(cm, known, n_known, false, &e);
	capacity = c.n + e.n;
	cold_within_budget((Size) c.n * (sizeof(int64) + sizeof(int32) + sizeof(float)) +
					   (Size) e.n * (sizeof(int64) + sizeof(float) * (Size) e.Dd) +
					   (Size) Max(capacity, 1) * (sizeof(int64) + sizeof(float) * (Size) k));
	ids = palloc(sizeof(int64) * Max(capacity, 1));
	vectors = MemoryContextAllocExtended(CurrentMemoryContext,
										 sizeof(float) * (Size) Max(capacity, 1) * k, MCXT_ALLOC_HUGE);
	/* merge the two id-ordered streams */
	while (a < c.n || b < e.n)
	{
		int64		id = a < c.n && (b >= e.n || c.ids[a] <= e.ids[b]) ? c.ids[a] : e.ids[b];
		int64		start = a;
		float	   *y = vectors + (Size) n * k;

		CHECK_FOR_INTERRUPTS();
		while (a < c.n && c.ids[a] == id)
			a++;
		memset(z, 0, sizeof(float) * Max(cm->D, k));
		if (cm->n_features > 0)
			categorical_vector(cm, c.feature + start, c.value + start, (int) (a - start), z, work);
		if (b < e.n && e.ids[b] == id)
		{
			memcpy(z + (cm->n_features > 0 ? k : 0), e.z + (Size) b * e.Dd, sizeof(float) * e.Dd);
			b++;
		}
		if (cm->map != NULL)
			rs_ridge_apply(cm->map, cm->D, k, z, y);
		else
			memcpy(y, z, sizeof(float) * k);
		for (int f = 0; f < k; f++)
			y[f] *= cm->cold_weight;
		ids[n++] = id;
	}
	*ids_out = ids;
	*vectors_out = vectors;
	return n;
}

/*
 * RsColdWrite stores the cold items' vectors and their item_stats rows
 * (no users, popularity 0).
 */
void
RsColdWrite(const char *name, int32 version, const RsColdModel *cm, const int64 *ids,
			const float *vectors, int32 n)
{
	int32	   *zeros;
	float	   *fzeros;

	if (n == 0)
		return;
	zeros = palloc0(sizeof(int32) * n);
	fzeros = palloc0(sizeof(float) * n);
	RsWriteFactors(RS_ITEMS, name, version, ids, NULL, vectors, n, cm->k);
	RsWriteItemStats(name, version, ids, n, zeros, fzeros, fzeros);
}

/*
 * RsColdStore stores what refresh_items needs: the features' vectors, the
 * Gram matrix and the map.
 */
void
RsColdStore(const char *name, int32 version, const RsColdModel *cm)
{
	Oid			argtypes[5] = {TEXTOID, INT4OID, TEXTARRAYOID, FLOAT4ARRAYOID, INT4OID};
	Datum		values[5];
	int32		shape[2] = {cm->k, cm->k};

	if (cm->n_features > 0)
	{
		RsWriteParameter(name, version, "cold:gram", shape, 2, cm->gram);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		values[0] = CStringGetTextDatum(name);
		values[1] = Int32GetDatum(version);
		values[4] = Int32GetDatum(cm->k);
		for (int32 start = 0; start < cm->n_features; start += WRITE_BATCH)
		{
			int			rows = Min(WRITE_BATCH, cm->n_features - start);
			Datum	   *names = palloc(sizeof(Datum) * rows);

			CHECK_FOR_INTERRUPTS();
			for (int r = 0; r < rows; r++)
				names[r] = CStringGetTextDatum(psprintf(FEATURE_PREFIX "%s", cm->names[start + r]));
			values[2] = PointerGetDatum(construct_array_builtin(names, rows, TEXTOID));
			values[3] = PointerGetDatum(RsFloatArray(cm->vectors + (Size) start * cm->k, rows * cm->k));
			RsExecute("INSERT INTO recsys.model_parameters (model, version, name, shape, value) "
					  "SELECT $1, $2, t.name, ARRAY[$5], $4[(t.o - 1) * $5 + 1 : t.o * $5] "
					  "FROM pg_catalog.unnest($3::pg_catalog.text[]) WITH ORDINALITY AS t(name, o)",
					  5, argtypes, values, NULL, false, SPI_OK_INSERT);
		}
		SPI_finish();
	}
	if (cm->map != NULL)
	{
		shape[0] = cm->D;
		RsWriteParameter(name, version, "cold:map", shape, 2, cm->map);
	}
}

static void
json_text_array(StringInfo buf, const char *key, char **values, int n)
{
	StringInfoData a;

	initStringInfo(&a);
	appendStringInfoChar(&a, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&a, ", ");
		escape_json(&a, values[i]);
	}
	appendStringInfoChar(&a, ']');
	RsJsonRaw(buf, key, a.data);
}

/* RsColdDescribe adds the features' settings to a model's params. */
void
RsColdDescribe(const RsColdModel *cm, StringInfo params)
{
	float		dims[RS_MAX_EMBEDDING_GROUPS];

	RsJsonText(params, "features", OidIsValid(cm->features) ? RsRelationName(cm->features) : NULL);
	if (OidIsValid(cm->features))
	{
		/* whose they are: refresh_items reads them again by name only while theirs */
		RsJsonText(params, "features_owner", RsRelationOwnerName(cm->features));
		RsJsonFloat(params, "feature_weight", cm->feature_weight);
		RsJsonFloat(params, "feature_columns", cm->n_cols);
		/* refresh_items' form of the half-step; absent: 0.10.0's */
		if (cm->weighted_loss)
		{
			RsJsonText(params, "feature_loss", "weighted");
			RsJsonFloat(params, "user_columns", cm->n_users);
		}
	}
	RsJsonText(params, "embeddings", OidIsValid(cm->embeddings) ? RsRelationName(cm->embeddings) : NULL);
	if (OidIsValid(cm->embeddings))
	{
		RsJsonText(params, "embeddings_owner", RsRelationOwnerName(cm->embeddings));
		json_text_array(params, "embedding_columns", (char **) cm->group_cols, cm->n_groups);
		for (int g = 0; g < cm->n_groups; g++)
			dims[g] = (float) cm->dims[g];
		RsJsonFloatArray(params, "embedding_dims", dims, cm->n_groups);
		RsJsonFloatArray(params, "embedding_weights", cm->group_weights, cm->n_groups);
	}
	RsJsonFloat(params, "cold_item_weight", cm->cold_weight);
}

/* A model's cold-item state as refresh_items reads it. */
typedef struct ColdRefresh
{
	RsColdModel *cm;
	bool		neighbors;		/* an item-kNN model: lists, not vectors */
	int			k;
	const RsColdNeighborMap *map;	/* learned lists, or NULL: tf-idf */
	int64		n_pairs;
	int64	   *cold;
	int64	   *warm;
	float	   *score;
	const int64 *known;
	int32		n_known;
	int64	   *ids;
	float	   *vectors;
	int32		n;
	MemoryContext cxt;
} ColdRefresh;

static void
compute_as_owner(void *arg)
{
	ColdRefresh *r = arg;
	MemoryContext old = MemoryContextSwitchTo(r->cxt);

	if (r->neighbors)
		r->n_pairs = RsColdNeighbors(r->cm->features, r->cm->item_col, r->known, r->n_known, r->k,
									 r->cm->cold_weight, r->map, &r->cold, &r->warm, &r->score, &r->n);
	else
		r->n = RsColdItemVectors(r->cm, r->known, r->n_known, &r->ids, &r->vectors);
	MemoryContextSwitchTo(old);
}

/*
 * SPI switches back to its own context after every query: refresh_items
 * reads into this one, which outlives SPI_finish.
 */
static MemoryContext refresh_context;

static void
execute(const char *query, int nargs, Oid *argtypes, Datum *values)
{
	RsExecute(query, nargs, argtypes, values, NULL, true, SPI_OK_SELECT);
	MemoryContextSwitchTo(refresh_context);
}

static char *
spi_text(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

/*
 * A relation a model recorded (col: its to_regclass; col + 3: the role that
 * owned it then), read as owner: an error if it is gone, or if another
 * role's relation is under its name now (RsCheckRecordedRelation).
 */
/*
 * A param refresh_cold_items needs: a model whose recorded params lack it
 * (a DBA edited recsys.models) is damaged, like serving's damaged catalog.
 */
static char *
required_param(const char *model, int32 version, int col, const char *key)
{
	char	   *value = col < 0 ? NULL : spi_text(0, col);

	if (value == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" version %d is damaged: its params lack \"%s\"", model, version, key),
				 errhint("Retrain the model.")));
	return value;
}

/* A number refresh_cold_items needs, absent as required_param says, else checked (model_params.c). */
static double
required_number(const RsParams *params, const char *key, double min, double max)
{
	double		x = RsParamNumber(params, key, NAN, min, max);

	if (isnan(x))
		(void) required_param(params->model, params->version, -1, key);
	return x;
}

/* And an integer. */
static int64
required_integer(const RsParams *params, const char *key, int64 min, int64 max)
{
	int64		x = RsParamInteger(params, key, PG_INT64_MIN, min, max);

	if (x == PG_INT64_MIN)
		(void) required_param(params->model, params->version, -1, key);
	return x;
}

static Oid
recorded_relation(const char *model, Oid owner, const char *what, const char *relname, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);
	Oid			relid = isnull ? InvalidOid : DatumGetObjectId(d);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the %s relation %s of model \"%s\" does not exist", what, relname, model),
				 errhint("Retrain the model with its new %s.", what)));
	RsCheckRecordedRelation("model", model, RsRelationName(relid), relid, owner, spi_text(0, col + 3));
	return relid;
}

/* Read the stored parameter array name of a version into a palloc'd copy. */
static float *
stored_parameter(const char *model, int32 version, const char *name, int expect_cols, int *rows)
{
	Datum		values[3] = {CStringGetTextDatum(model), Int32GetDatum(version), CStringGetTextDatum(name)};
	bool		isnull;
	ArrayType  *a;
	int			n;
	float	   *out;

	execute("SELECT shape[1], value FROM recsys.model_parameters "
			"WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2 "
			"AND name OPERATOR(pg_catalog.=) $3 AND shape[2] OPERATOR(pg_catalog.=) $4",
			4, (Oid[]) {TEXTOID, INT4OID, TEXTOID, INT4OID},
			(Datum[]) {values[0], values[1], values[2], Int32GetDatum(expect_cols)});
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" version %d has no parameter \"%s\" of %d columns", model, version,
						name, expect_cols),
				 errhint("Retrain the model.")));
	*rows = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	a = DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	out = RsArrayToFloats(a, name, &n);
	if (n != *rows * expect_cols)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("parameter \"%s\" of model \"%s\" has %d values, not %d", name, model, n,
						*rows * expect_cols)));
	return out;
}

/* Read the features' vectors of a version (names in byte order). */
static void
load_feature_vectors(const char *model, int32 version, RsColdModel *cm)
{
	int			rows;

	cm->gram = stored_parameter(model, version, "cold:gram", cm->k, &rows);
	if (rows != cm->k)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("parameter \"cold:gram\" of model \"%s\" is not %d x %d", model, cm->k, cm->k)));
	RsExecute("SELECT pg_catalog.substr(name, 9), value FROM recsys.model_parameters "
			  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2 "
			  "AND name COLLATE \"C\" OPERATOR(pg_catalog.>=) '" FEATURE_PREFIX "' "
			  "AND name COLLATE \"C\" OPERATOR(pg_catalog.<) 'feature;' "
			  "ORDER BY name COLLATE \"C\"",
			  2, (Oid[]) {TEXTOID, INT4OID},
			  (Datum[]) {CStringGetTextDatum(model), Int32GetDatum(version)}, NULL, true, SPI_OK_SELECT);
	MemoryContextSwitchTo(refresh_context);
	cm->n_features = (int32) SPI_processed;
	cm->names = palloc(sizeof(char *) * Max(cm->n_features, 1));
	cm->vectors = palloc(sizeof(float) * (Size) Max(cm->n_features, 1) * cm->k);
	for (int32 f = 0; f < cm->n_features; f++)
	{
		bool		isnull;
		ArrayType  *a = DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[f], SPI_tuptable->tupdesc, 2, &isnull));
		int			n;
		float	   *v = RsArrayToFloats(a, "a feature's vector", &n);

		if (n != cm->k)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("a feature vector of model \"%s\" has %d values, not %d", model, n, cm->k)));
		cm->names[f] = spi_text(f, 1);
		memcpy(cm->vectors + (Size) f * cm->k, v, sizeof(float) * cm->k);
	}
}

/*
 * The stored lists of a learned-map item-kNN model as the CSR S over the
 * indexes of known (ascending): the rows and columns of items with users
 * only, as training fitted on (the cold items a refresh added before are
 * in known but neither fitted on nor neighbours).
 */
static void
load_neighbor_map(const char *model, int32 version, const int64 *known, int32 n_known, RsCsr *S)
{
	int64		nnz = 0;
	bool	   *warm = palloc0(sizeof(bool) * Max(n_known, 1));
	int32	   *row_of;
	uint64		rows;

	execute("SELECT l.item_id, l.neighbor_ids, l.scores FROM recsys.item_neighbor_lists l "
			"JOIN recsys.item_stats s ON s.model OPERATOR(pg_catalog.=) l.model "
			"AND s.version OPERATOR(pg_catalog.=) l.version AND s.item_id OPERATOR(pg_catalog.=) l.item_id "
			"WHERE l.model OPERATOR(pg_catalog.=) $1 AND l.version OPERATOR(pg_catalog.=) $2 "
			"AND s.n_users OPERATOR(pg_catalog.>) 0 ORDER BY l.item_id",
			2, (Oid[]) {TEXTOID, INT4OID}, (Datum[]) {CStringGetTextDatum(model), Int32GetDatum(version)});
	rows = SPI_processed;
	row_of = palloc(sizeof(int32) * Max(rows, 1));
	for (uint64 t = 0; t < rows; t++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[t], SPI_tuptable->tupdesc, 1, &isnull));

		row_of[t] = known_index(known, n_known, id);
		if (row_of[t] >= 0)
			warm[row_of[t]] = true;
	}
	S->n_rows = n_known;
	S->n_cols = n_known;
	S->indptr = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * ((Size) n_known + 1));
	memset(S->indptr, 0, sizeof(int64) * ((Size) n_known + 1));
	/* one pass to size, one to fill */
	for (int pass = 0; pass < 2; pass++)
	{
		for (uint64 t = 0; t < rows; t++)
		{
			bool		isnull;
			int32		n_ids;
			int32		n_scores;
			int64	   *ids;
			float	   *scores;
			int32		i = row_of[t];

			CHECK_FOR_INTERRUPTS();
			if (i < 0)
				continue;
			ids = RsArrayToInt64s(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[t], SPI_tuptable->tupdesc, 2, &isnull)),
								  "neighbor_ids", &n_ids);
			scores = RsArrayToFloats(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[t], SPI_tuptable->tupdesc, 3, &isnull)),
									 "scores", &n_scores);
			for (int32 e = 0; e < Min(n_ids, n_scores); e++)
			{
				int32		c = known_index(known, n_known, ids[e]);

				if (c < 0 || !warm[c])
					continue;
				if (pass == 0)
					S->indptr[i + 1]++;
				else
				{
					S->indices[nnz] = c;
					S->data[nnz++] = scores[e];
				}
			}
		}
		if (pass == 0)
		{
			for (int32 i = 0; i < n_known; i++)
				S->indptr[i + 1] += S->indptr[i];
			S->nnz = S->indptr[n_known];
			S->indices = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * Max(S->nnz, 1));
			S->data = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * Max(S->nnz, 1));
		}
	}
}

/*
 * RsColdCountRefreshed: n more items in a model's active version (a
 * refresh_items): its n_items and stats.cold_items grow in both catalog
 * rows, a new fingerprint, so every backend reloads the model.
 */
void
RsColdCountRefreshed(const char *name, int32 version, int64 n)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, INT8OID};
	Datum		values[3] = {CStringGetTextDatum(name), Int32GetDatum(version), Int64GetDatum(n)};

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* a new fingerprint: every backend reloads the model */
	RsExecute("UPDATE recsys.model_versions SET n_items = n_items OPERATOR(pg_catalog.+) $3, "
			  "stats = stats OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('cold_items', "
			  "COALESCE((stats->>'cold_items')::pg_catalog.int8, 0) OPERATOR(pg_catalog.+) $3) "
			  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
			  3, argtypes, values, NULL, false, SPI_OK_UPDATE);
	RsExecute("UPDATE recsys.models SET n_items = n_items OPERATOR(pg_catalog.+) $3, "
			  "stats = stats OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('cold_items', "
			  "COALESCE((stats->>'cold_items')::pg_catalog.int8, 0) OPERATOR(pg_catalog.+) $3) "
			  "WHERE name OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
			  3, argtypes, values, NULL, false, SPI_OK_UPDATE);
	SPI_finish();
}

/*
 * Give the items that have appeared in the model's features or embeddings
 * since it was trained (or refreshed) their vectors (neighbors false) or
 * neighbour lists, in its active version, without retraining; returns how
 * many.  The relations are read as the model's owner, like its source.
 * The caller owns the model and has locked it (recsys_refresh_items).
 */
static int32
refresh_cold_items(const char *name, Oid owner, bool neighbors)
{
	RsColdModel cm = {0};
	ColdRefresh r = {0};
	int32		version;
	bool		isnull;
	char	   *algorithm;
	char	   *features;
	char	   *embeddings;
	char	   *map_lambda;
	RsParams	params;
	int64	   *known;
	int32		n_known;
	RsColdNeighborMap map = {0};
	const char *loss_form;

	MemoryContext outer = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	refresh_context = outer;
	/* (numbers as text here, read checked from params, column 25: model_params.c) */
	RsExecute("SELECT version, algorithm, params->>'features', params->>'embeddings', params->>'item_col', "
			  "params->>'factors', params->>'alpha', params->>'regularization', "
			  "params->>'regularization_exponent', params->>'feature_weight', params->>'feature_columns', "
			  "params->>'cold_item_weight', "
			  "ARRAY(SELECT pg_catalog.jsonb_array_elements_text(params->'embedding_columns')), "
			  "ARRAY(SELECT pg_catalog.jsonb_array_elements_text(params->'embedding_dims')::pg_catalog.float8::pg_catalog.int4), "
			  "ARRAY(SELECT pg_catalog.jsonb_array_elements_text(params->'embedding_weights')::pg_catalog.float4), "
			  "pg_catalog.to_regclass(params->>'features')::pg_catalog.oid, "
			  "pg_catalog.to_regclass(params->>'embeddings')::pg_catalog.oid, "
			  "params->>'neighbors', "
			  "params->>'features_owner', params->>'embeddings_owner', "
			  "params->>'cold_map_regularization', params->>'cold_map_self_weight', "
			  "params->>'cold_map_popularity', params->>'cold_map_content_weight', "
			  "params->>'cold_map_word_weights', params "
			  "FROM recsys.models WHERE name OPERATOR(pg_catalog.=) $1",
			  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(name)}, NULL, true, SPI_OK_SELECT);
	MemoryContextSwitchTo(refresh_context);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("SELECT name FROM recsys.models lists the models.")));
	version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	algorithm = spi_text(0, 2);
	features = spi_text(0, 3);
	embeddings = spi_text(0, 4);
	if (features == NULL && embeddings == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" (algorithm %s) was trained without features or embeddings", name, algorithm),
				 errhint("Train it with recsys.train_cf(..., features => ..., embeddings => ...) to give new items vectors.")));
	r.neighbors = neighbors;
	params = (RsParams) {name, version, "params",
	DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 26, &isnull))};
	map_lambda = spi_text(0, 21);
	if (map_lambda != NULL)
	{
		/* train_item_knn's ranges (1e-6 as the float the trainer recorded) */
		map.lambda = (float) required_number(&params, "cold_map_regularization", (double) 1e-6f, 1e6);
		map.self_weight = (float) required_number(&params, "cold_map_self_weight", 0, 1e6);
		map.max_iter = RS_COLD_MAP_ITERATIONS;
		map.popularity_exponent = (float) RsParamNumber(&params, "cold_map_popularity", 0, -10, 10);
		map.content_weight = (float) RsParamNumber(&params, "cold_map_content_weight", 0, 0, 1e6);
		/* models of 0.9.0 record none: tf-idf */
		if (spi_text(0, 25) != NULL && !RsColdWordWeightsByName(spi_text(0, 25), &map.word_weights))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("model \"%s\" version %d is damaged: its params say cold_map_word_weights '%s'",
							name, version, spi_text(0, 25)),
					 errhint("Retrain the model.")));
	}
	cm.item_col = (char *) RsParamName(&params, "item_col", false);
	if (cm.item_col == NULL)
		(void) required_param(name, version, -1, "item_col");
	cm.cold_weight = (float) required_number(&params, "cold_item_weight", 0, 1);
	if (r.neighbors)
	{
		r.k = (int) required_integer(&params, "neighbors", 1, 1000);
		cm.features = recorded_relation(name, owner, "features", features, 16);
	}
	else
	{
		/* train_cf's range, before factors x items are allocated */
		cm.k = (int) required_integer(&params, "factors", 1, 1024);
	}
	if (!r.neighbors)
	{
		cm.alpha = (float) required_number(&params, "alpha", 0, RS_ALS_MAX_ALPHA);
		cm.reg = (float) required_number(&params, "regularization", 0, RS_ALS_MAX_REG);
		cm.reg_exponent = (float) RsParamNumber(&params, "regularization_exponent", 0, 0, RS_ALS_MAX_REG_EXPONENT);
	}
	if (features != NULL && !r.neighbors)
	{
		cm.features = recorded_relation(name, owner, "features", features, 16);
		cm.feature_weight = (float) required_number(&params, "feature_weight", 0, 1e6);
		cm.n_cols = required_number(&params, "feature_columns", 0, FLT_MAX);
		/* 0.11.0's weighted loss, or (absent) 0.10.0's pseudo-users */
		loss_form = RsParamString(&params, "feature_loss");
		cm.weighted_loss = loss_form != NULL;
		if (cm.weighted_loss)
		{
			if (strcmp(loss_form, "weighted") != 0)
				RsParamsDamaged(&params, "feature_loss", " is not \"weighted\"");
			cm.n_users = required_number(&params, "user_columns", 0, cm.n_cols);
		}
	}
	if (embeddings != NULL)
	{
		ArrayType  *cols = DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 13, &isnull));
		ArrayType  *dims = DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 14, &isnull));
		ArrayType  *weights = DatumGetArrayTypePCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 15, &isnull));
		Datum	   *col_values;
		int			n_cols;
		int			n_dims;
		int			n_weights;
		float	   *w;
		int32	   *d;

		cm.embeddings = recorded_relation(name, owner, "embeddings", embeddings, 17);
		/* a hand-edited record: NULL elements or sizes no training writes (review s9b) */
		if (array_contains_nulls(cols))
			RsParamsDamaged(&params, "embedding_columns", " has a null element");
		if (array_contains_nulls(dims))
			RsParamsDamaged(&params, "embedding_dims", " has a null element");
		deconstruct_array_builtin(cols, TEXTOID, &col_values, NULL, &n_cols);
		d = (int32 *) ARR_DATA_PTR(dims);
		n_dims = ArrayGetNItems(ARR_NDIM(dims), ARR_DIMS(dims));
		w = RsArrayToFloats(weights, "embedding_weights", &n_weights);
		if (n_cols < 1 || n_cols > RS_MAX_EMBEDDING_GROUPS || n_dims != n_cols || n_weights != n_cols)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("model \"%s\" records %d embedding columns", name, n_cols)));
		cm.n_groups = n_cols;
		for (int g = 0; g < n_cols; g++)
		{
			if (d[g] < 1 || d[g] > RS_MAX_EMBEDDING_DIMS)
				RsParamsDamaged(&params, "embedding_dims", " has a size outside 1 to 4096");
			if (!isfinite(w[g]) || w[g] < 0 || w[g] > 1000)
				RsParamsDamaged(&params, "embedding_weights", " has a weight outside 0 to 1000");
			cm.group_cols[g] = TextDatumGetCString(col_values[g]);
			/* training records each real[] column once: twice would weigh it twice */
			for (int h = 0; h < g; h++)
				if (strcmp(cm.group_cols[h], cm.group_cols[g]) == 0)
					RsParamsDamaged(&params, "embedding_columns",
									psprintf(" names column \"%s\" twice", cm.group_cols[g]));
			cm.dims[g] = d[g];
			cm.group_weights[g] = w[g];
		}
	}
	if (OidIsValid(cm.features) && !r.neighbors)
		load_feature_vectors(name, version, &cm);
	if (OidIsValid(cm.embeddings))
	{
		int			D;

		cm.map = stored_parameter(name, version, "cold:map", cm.k, &D);
		cm.D = D;
	}
	/*
	 * Its params checked, the model as serving loads it, as the cold
	 * re-ranker's refresh does: a version whose rows were edited by hand is
	 * refused as damaged (XX001) instead of being written into, where the
	 * writes met a raw 23505 (review s12, V6).  A negative count, which
	 * serving does not read, is damage too: ln() of it was a raw 2201E.
	 */
	(void) RsGetModel(name);
	RsExecute("SELECT pg_catalog.array_agg(item_id ORDER BY item_id), "
			  "pg_catalog.array_agg(pg_catalog.ln(1 OPERATOR(pg_catalog.+) GREATEST(n_users, 0))::pg_catalog.float4 "
			  "ORDER BY item_id), pg_catalog.bool_or(n_users OPERATOR(pg_catalog.<) 0) "
			  "FROM recsys.item_stats "
			  "WHERE model OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2",
			  2, (Oid[]) {TEXTOID, INT4OID}, (Datum[]) {CStringGetTextDatum(name), Int32GetDatum(version)},
			  NULL, true, SPI_OK_SELECT);
	MemoryContextSwitchTo(refresh_context);
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull)) && !isnull)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" version %d is damaged: recsys.item_stats has a negative n_users",
						name, version),
				 errhint("Retrain the model.")));
	{
		Datum		a = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		known = isnull ? NULL : RsArrayToInt64s(DatumGetArrayTypePCopy(a), "items", &n_known);
		if (isnull)
			n_known = 0;
		else if (map.popularity_exponent != 0)
		{
			int			n;

			a = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
			map.log_users = RsArrayToFloats(DatumGetArrayTypePCopy(a), "n_users", &n);
		}
	}
	if (r.neighbors && map_lambda != NULL)
	{
		load_neighbor_map(name, version, known, n_known, &map.S);
		r.map = &map;
	}
	SPI_finish();

	r.cm = &cm;
	r.known = known;
	r.n_known = n_known;
	r.cxt = CurrentMemoryContext;
	RsRunAsOwner(name, owner, compute_as_owner, &r);
	if (r.neighbors)
		RsColdNeighborsWrite(name, version, r.cold, r.warm, r.score, r.n_pairs);
	else
		RsColdWrite(name, version, &cm, r.ids, r.vectors, r.n);
	if (r.n > 0)
		RsColdCountRefreshed(name, version, r.n);
	return r.n;
}

/* RsRefreshColdVectors: refresh_items for a factor model (its kind's callback). */
int32
RsRefreshColdVectors(const char *name, Oid owner)
{
	return refresh_cold_items(name, owner, false);
}

/* RsRefreshColdNeighbors: refresh_items for an item-kNN model (its kind's callback). */
int32
RsRefreshColdNeighbors(const char *name, Oid owner)
{
	return refresh_cold_items(name, owner, true);
}

/*
 * recsys_refresh_items(model text) returns integer: gives the items that
 * have appeared in the model's features or embeddings since it was
 * trained (or refreshed) vectors or neighbours, as its kind does it
 * (refresh_cold_items); returns how many.
 */
Datum
recsys_refresh_items(PG_FUNCTION_ARGS)
{
	char	   *name = RsTextArg(fcinfo, 0, "model");
	Oid			owner;
	char	   *algorithm;
	const RsModelKind *kind;
	int32		n;

	RsRequireWritable("recsys.refresh_items()");
	owner = RsRequireModelOwner(name, "refresh the items of", false);
	(void) RsLockModelForTraining(name);

	/*
	 * The lock may have been waited for, until a retrain committed: read the
	 * model as it is now (READ COMMITTED), not as when the statement began,
	 * or the refresh would write into the version that retrain replaced.
	 */
	PushActiveSnapshot(GetTransactionSnapshot());
	algorithm = RsModelAlgorithm(name);
	if (algorithm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("SELECT name FROM recsys.models lists the models.")));
	kind = RsModelKindFor(algorithm);
	if (kind == NULL || !RsAlgorithmSupports(algorithm, offsetof(RsModelKind, refresh_cold_items)))
		RsAlgorithmNotSupported(name, algorithm, "refresh_items",
								offsetof(RsModelKind, refresh_cold_items));
	n = kind->refresh_cold_items(name, owner);
	PopActiveSnapshot();
	PG_RETURN_INT32(n);
}

/*
 * Cold items of a neighbourhood model (item_knn): each cold item's
 * neighbours are the k trained items whose features are most alike, by
 * the cosine of tf-idf-weighted feature vectors (idf over every item of
 * the features relation); the cold item joins those items' lists with the
 * same similarity, so users of them reach it.  Similarities are scaled by
 * cold_item_weight.  The pairs are read as the caller (training) or the
 * owner (refresh_items) and written by RsColdNeighborsWrite.
 */
typedef struct NeighborPairs
{
	int64		n;
	int64		capacity;
	int64	   *cold;
	int64	   *warm;
	float	   *score;
} NeighborPairs;

/* Double p's arrays, within recsys.max_memory with other_bytes held besides. */
static void
grow_pairs(NeighborPairs *p, Size other_bytes)
{
	cold_within_budget(other_bytes + (Size) p->capacity * 2 * (2 * sizeof(int64) + sizeof(float)));
	p->capacity *= 2;
	p->cold = repalloc_huge(p->cold, sizeof(int64) * p->capacity);
	p->warm = repalloc_huge(p->warm, sizeof(int64) * p->capacity);
	p->score = repalloc_huge(p->score, sizeof(float) * p->capacity);
}

static void
keep_pair_row(TupleTableSlot *slot, void *arg)
{
	NeighborPairs *p = arg;

	CHECK_FOR_INTERRUPTS();
	if (p->n == p->capacity)
		grow_pairs(p, 0);
	p->cold[p->n] = DatumGetInt64(slot->tts_values[0]);
	p->warm[p->n] = DatumGetInt64(slot->tts_values[1]);
	p->score[p->n++] = DatumGetFloat4(slot->tts_values[2]);
}

/* The items' feature rows (item, feature number, tf-idf weight), by item. */
typedef struct FeatureRows
{
	int64		n;
	int64		capacity;
	int64	   *item;
	int32	   *feature;
	float	   *w;
} FeatureRows;

static void
keep_feature_row(TupleTableSlot *slot, void *arg)
{
	FeatureRows *f = arg;

	CHECK_FOR_INTERRUPTS();
	if (f->n == f->capacity)
	{
		cold_within_budget((Size) f->capacity * 2 * (sizeof(int64) + sizeof(int32) + sizeof(float)));
		f->capacity *= 2;
		f->item = repalloc_huge(f->item, sizeof(int64) * f->capacity);
		f->feature = repalloc_huge(f->feature, sizeof(int32) * f->capacity);
		f->w = repalloc_huge(f->w, sizeof(float) * f->capacity);
	}
	f->item[f->n] = DatumGetInt64(slot->tts_values[0]);
	f->feature[f->n] = DatumGetInt32(slot->tts_values[1]);
	f->w[f->n++] = DatumGetFloat4(slot->tts_values[2]);
}

/*
 * Stream the unit tf-idf rows of query (a feature_vectors_query CTE) into
 * *f, ordered by item and feature, features numbered 0.. in byte order of
 * their text.
 */
static void
read_feature_rows(const char *query, FeatureRows *f)
{
	StringInfoData q;

	initStringInfo(&q);
	appendStringInfo(&q, "%s SELECT item, (pg_catalog.dense_rank() OVER (ORDER BY feature COLLATE \"C\") "
					 "OPERATOR(pg_catalog.-) 1)::pg_catalog.int4, w::pg_catalog.float4 FROM v ORDER BY item, 2", query);
	f->capacity = 1024;
	f->item = palloc(sizeof(int64) * f->capacity);
	f->feature = palloc(sizeof(int32) * f->capacity);
	f->w = palloc(sizeof(float) * f->capacity);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsStreamQuery(q.data, 0, NULL, NULL, NULL, true, keep_feature_row, f);
	SPI_finish();
	pfree(q.data);
}

static int32
known_index(const int64 *known, int32 n_known, int64 id)
{
	int32		lo = 0,
				hi = n_known - 1;

	while (lo <= hi)
	{
		int32		mid = lo + (hi - lo) / 2;

		if (known[mid] == id)
			return mid;
		if (known[mid] < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * Cold items' lists learned from the warm items' (src/kernel/cold.h): the
 * ridge of the warm items' similarity rows map->S on their tf-idf feature
 * vectors, applied to each cold item's features; its k best positive
 * similarities, times cold_weight, into p.  Only items of known with a
 * non-empty row of S are fitted on.  query: the CTE of
 * feature_vectors_query.
 */
static void
cold_neighbors_mapped(const char *query, const int64 *known, int32 n_known, int k,
					  float cold_weight, const RsColdNeighborMap *map, NeighborPairs *p)
{
	FeatureRows f = {0};
	RsCsr		F = {0};
	int32		n_features = 0;
	int32	   *fill;
	float	   *a;
	float	   *s;
	float	   *work;
	int32	   *heap_idx;
	float	   *heap_val;
	float	   *centred = NULL;
	Size		held;

	read_feature_rows(query, &f);
	for (int64 r = 0; r < f.n; r++)
		n_features = Max(n_features, f.feature[r] + 1);

	/* F: the fitted items' rows (index in known) */
	F.n_rows = n_known;
	F.n_cols = n_features;
	F.indptr = palloc0(sizeof(int64) * ((Size) n_known + 1));
	for (int64 r = 0; r < f.n; r++)
	{
		int32		i = known_index(known, n_known, f.item[r]);

		if (i >= 0 && map->S.indptr[i + 1] > map->S.indptr[i])
			F.indptr[i + 1]++;
	}
	for (int32 i = 0; i < n_known; i++)
		F.indptr[i + 1] += F.indptr[i];
	F.nnz = F.indptr[n_known];
	held = (Size) f.capacity * (sizeof(int64) + sizeof(int32) + sizeof(float)) +
		((Size) n_known + 1) * sizeof(int64) + (Size) F.nnz * (sizeof(int32) + sizeof(float)) +
		(4 * (Size) n_features + n_known + 1) * sizeof(float);
	cold_within_budget(held + (Size) p->capacity * (2 * sizeof(int64) + sizeof(float)));
	F.indices = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * Max(F.nnz, 1));
	F.data = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * Max(F.nnz, 1));
	fill = palloc0(sizeof(int32) * Max(n_known, 1));
	for (int64 r = 0; r < f.n; r++)
	{
		int32		i = known_index(known, n_known, f.item[r]);

		if (i >= 0 && map->S.indptr[i + 1] > map->S.indptr[i])
		{
			F.indices[F.indptr[i] + fill[i]] = f.feature[r];
			F.data[F.indptr[i] + fill[i]++] = f.w[r];
		}
	}

	/* the fitted items' log popularity, centred */
	if (map->log_users != NULL)
	{
		double		mean = 0;
		int32		fitted = 0;

		centred = palloc0(sizeof(float) * Max(n_known, 1));
		for (int32 i = 0; i < n_known; i++)
			if (F.indptr[i + 1] > F.indptr[i])
			{
				mean += map->log_users[i];
				fitted++;
			}
		mean /= Max(fitted, 1);
		for (int32 i = 0; i < n_known; i++)
			if (F.indptr[i + 1] > F.indptr[i])
				centred[i] = (float) (map->log_users[i] - mean);
	}
	a = palloc(sizeof(float) * Max(n_known, 1));
	s = palloc(sizeof(float) * Max(map->S.n_cols, 1));
	work = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * (4 * (Size) n_features + n_known + 1));
	heap_idx = palloc(sizeof(int32) * k);
	heap_val = palloc(sizeof(float) * k);
	for (int64 r = 0, end; r < f.n; r = end)
	{
		int			size = 0;
		int			status;

		for (end = r + 1; end < f.n && f.item[end] == f.item[r]; end++)
			;
		if (known_index(known, n_known, f.item[r]) >= 0)
			continue;
		CHECK_FOR_INTERRUPTS();
		status = rs_cold_map_coefficients(&F, f.feature + r, f.w + r, (int) (end - r), map->lambda,
										  map->max_iter, a, work);
		if (status != RS_COLD_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("the neighbours of cold item %lld could not be computed (status %d)",
							(long long) f.item[r], status)));
		rs_cold_map_spread(&map->S, a, map->self_weight, s);
		rs_cold_map_add_content(&F, f.feature + r, f.w + r, (int) (end - r), map->content_weight, s, work);
		if (map->popularity_exponent != 0 && centred != NULL)
		{
			float		prior = (float) exp(map->popularity_exponent *
											rs_cold_map_predict(a, centred, n_known));

			for (int32 w = 0; w < map->S.n_cols; w++)
				s[w] *= prior;
		}
		rs_topk_offer_scores(s, map->S.n_cols, 0, NULL, heap_idx, heap_val, &size, k);
		rs_topk_sort(heap_idx, heap_val, size);
		for (int t = 0; t < size && heap_val[t] > 0; t++)
		{
			if (p->n == p->capacity)
				grow_pairs(p, held);
			p->cold[p->n] = f.item[r];
			p->warm[p->n] = known[heap_idx[t]];
			p->score[p->n++] = heap_val[t] * cold_weight;
		}
	}
}

/*
 * RsNeighborListsCsr: n rows of at most slots neighbours (row-major
 * neighbor/score, count per row) as the CSR S (n x n), sharing nothing.
 */
void
RsNeighborListsCsr(int32 n, int slots, const int32 *neighbor, const float *score,
				   const int32 *count, RsCsr *S)
{
	S->n_rows = n;
	S->n_cols = n;
	S->indptr = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * ((Size) n + 1));
	S->indptr[0] = 0;
	for (int32 i = 0; i < n; i++)
		S->indptr[i + 1] = S->indptr[i] + count[i];
	S->nnz = S->indptr[n];
	S->indices = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int32) * Max(S->nnz, 1));
	S->data = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(float) * Max(S->nnz, 1));
	for (int32 i = 0; i < n; i++)
	{
		memcpy(S->indices + S->indptr[i], neighbor + (int64) i * slots, sizeof(int32) * count[i]);
		memcpy(S->data + S->indptr[i], score + (int64) i * slots, sizeof(float) * count[i]);
	}
}

static const char *const word_weight_names[] = {"tfidf", "sqrtidf", "binary"};

/* cold_map_word_weights by name into *w; false if there is none */
bool
RsColdWordWeightsByName(const char *name, RsColdWordWeights *w)
{
	for (int i = 0; i < (int) lengthof(word_weight_names); i++)
		if (strcmp(name, word_weight_names[i]) == 0)
		{
			*w = (RsColdWordWeights) i;
			return true;
		}
	return false;
}

const char *
RsColdWordWeightsName(RsColdWordWeights w)
{
	return word_weight_names[w];
}

/*
 * The items' feature vectors, L2-normalised, as the CTE "v" (item,
 * feature, w) (idf over every item of the features relation; a feature
 * every item has is dropped), each feature weighted by its idf, the square
 * root of it or 1 (weights), after the relation's columns are checked.
 */
static void
feature_vectors_query(Oid features, const char *item_col, RsColdWordWeights weights, StringInfo q)
{
	static const char *const weight_sql[] = {"idf.w", "pg_catalog.sqrt(idf.w)", "1::pg_catalog.float8"};
	const char *id = quote_identifier(item_col);
	Oid			ftype;
	bool		array;
	const char *cols[2] = {item_col, "feature"};

	if (get_attnum(features, item_col) <= 0 || get_attnum(features, "feature") <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" or \"feature\" of features relation \"%s\" does not exist",
						item_col, get_rel_name(features)),
				 errhint("features needs the item ids in a column named like the source's, \"%s\" (item_col), "
						 "and the features in a column named \"feature\"; a view can rename them.", item_col)));
	RsCheckReadableRelation(features, "features", cols, 2);
	ftype = get_atttype(features, get_attnum(features, "feature"));
	array = type_is_array(getBaseType(ftype));
	appendStringInfo(q,
					 "WITH f AS (SELECT DISTINCT r.%s::pg_catalog.int8 AS item, %s::pg_catalog.text AS feature "
					 "  FROM %s AS r%s WHERE r.%s IS NOT NULL AND %s IS NOT NULL), "
					 "idf AS (SELECT feature, pg_catalog.ln((SELECT pg_catalog.count(DISTINCT item) FROM f)::pg_catalog.float8 "
					 "  OPERATOR(pg_catalog./) pg_catalog.count(*)) AS w FROM f GROUP BY feature), "
					 "x AS (SELECT f.item, f.feature, %s AS x FROM f JOIN idf USING (feature) WHERE idf.w OPERATOR(pg_catalog.>) 0), "
					 "v AS (SELECT item, feature, x OPERATOR(pg_catalog./) pg_catalog.sqrt(pg_catalog.sum(x OPERATOR(pg_catalog.*) x) "
					 "  OVER (PARTITION BY item)) AS w FROM x) ",
					 id, array ? "u.f" : "r.feature", RsRelationName(features),
					 array ? " CROSS JOIN LATERAL pg_catalog.unnest(r.feature) AS u(f)" : "",
					 id, array ? "u.f" : "r.feature", weight_sql[weights]);
}

/*
 * RsColdFeatureRows reads every item of the features relation as unit
 * tf-idf rows (feature_vectors_query): the distinct item ids ascending
 * into *ids (*n_ids of them) and their rows as the CSR rows (n_ids x
 * features, features numbered in byte order of their text), with the
 * current role's rights.  The cold re-ranker's inputs (src/kind_cold_terms.c).
 */
void
RsColdFeatureRows(Oid features, const char *item_col, int64 **ids, int32 *n_ids, RsCsr *rows)
{
	StringInfoData q;
	FeatureRows f = {0};
	int32		n = 0;
	int32		n_features = 0;

	initStringInfo(&q);
	feature_vectors_query(features, item_col, RS_COLD_WORDS_TFIDF, &q);
	read_feature_rows(q.data, &f);
	if (f.n > INT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many item features (%lld)", (long long) f.n)));
	*ids = palloc(sizeof(int64) * Max(f.n, 1));
	rows->indptr = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * ((Size) f.n + 1));
	rows->indptr[0] = 0;
	for (int64 r = 0; r < f.n; r++)
	{
		if (r == 0 || f.item[r] != f.item[r - 1])
		{
			(*ids)[n++] = f.item[r];
			rows->indptr[n] = rows->indptr[n - 1];
		}
		rows->indptr[n]++;
		n_features = Max(n_features, f.feature[r] + 1);
	}
	rows->n_rows = n;
	rows->n_cols = n_features;
	rows->nnz = f.n;
	rows->indices = f.feature;
	rows->data = f.w;
	*n_ids = n;
}

/*
 * RsColdNeighbors reads the cold items' top-k trained neighbours into
 * arrays (cold, warm, score), ordered by cold item then rank; returns the
 * number of pairs and sets *n_cold.  Cold items are the items of the
 * features relation not in known (ascending).  With map NULL the
 * neighbours are the k items of known whose features are most alike (tf-idf
 * cosine); otherwise they are learned from the warm items' lists
 * (cold_neighbors_mapped).
 */
int64
RsColdNeighbors(Oid features, const char *item_col, const int64 *known, int32 n_known, int k,
				float cold_weight, const RsColdNeighborMap *map, int64 **cold, int64 **warm,
				float **score, int32 *n_cold)
{
	StringInfoData q;
	NeighborPairs p = {0};

	initStringInfo(&q);
	feature_vectors_query(features, item_col, map != NULL ? map->word_weights : RS_COLD_WORDS_TFIDF, &q);
	p.capacity = 256;
	p.cold = palloc(sizeof(int64) * p.capacity);
	p.warm = palloc(sizeof(int64) * p.capacity);
	p.score = palloc(sizeof(float) * p.capacity);
	if (map != NULL)
		cold_neighbors_mapped(q.data, known, n_known, k, cold_weight, map, &p);
	else
	{
		appendStringInfoString(&q,
							   ", known AS (SELECT pg_catalog.unnest($1::pg_catalog.int8[]) AS item), "
							   "vw AS (SELECT * FROM v WHERE item IN (SELECT item FROM known)), "
							   "vc AS (SELECT * FROM v WHERE item NOT IN (SELECT item FROM known)), "
							   "pairs AS (SELECT c.item AS cold, w.item AS warm, pg_catalog.sum(c.w OPERATOR(pg_catalog.*) w.w) AS s "
							   "  FROM vc c JOIN vw w USING (feature) GROUP BY 1, 2), "
							   "top AS (SELECT cold, warm, s, pg_catalog.row_number() OVER (PARTITION BY cold ORDER BY s DESC, warm) AS rk FROM pairs) "
							   "SELECT cold, warm, (s OPERATOR(pg_catalog.*) $3)::pg_catalog.float4 FROM top "
							   "WHERE rk OPERATOR(pg_catalog.<=) $2 ORDER BY cold, rk");
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		RsStreamQuery(q.data, 3, (Oid[]) {INT8ARRAYOID, INT4OID, FLOAT8OID},
					  (Datum[]) {PointerGetDatum(RsInt64Array(known, n_known)), Int32GetDatum(k),
								 Float8GetDatum(cold_weight)}, NULL, true, keep_pair_row, &p);
		SPI_finish();
	}
	*n_cold = 0;
	for (int64 a = 0; a < p.n; a++)
		if (a == 0 || p.cold[a] != p.cold[a - 1])
			(*n_cold)++;
	*cold = p.cold;
	*warm = p.warm;
	*score = p.score;
	return p.n;
}

/*
 * RsColdNeighborsWrite stores the cold items' lists and item_stats rows
 * and adds each cold item to its neighbours' lists (best first).
 */
void
RsColdNeighborsWrite(const char *name, int32 version, const int64 *cold, const int64 *warm,
					 const float *score, int64 n)
{
	Oid			argtypes[5] = {TEXTOID, INT4OID, INT8ARRAYOID, INT8ARRAYOID, FLOAT4ARRAYOID};
	Datum		values[5];

	if (n == 0)
		return;
	if (n > INT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many cold items' neighbours (%lld)", (long long) n)));
	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(version);
	values[2] = PointerGetDatum(RsInt64Array(cold, (int) n));
	values[3] = PointerGetDatum(RsInt64Array(warm, (int) n));
	values[4] = PointerGetDatum(RsFloatArray(score, (int) n));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RsExecute("INSERT INTO recsys.item_neighbor_lists (model, version, item_id, neighbor_ids, scores) "
			  "SELECT $1, $2, p.c, pg_catalog.array_agg(p.w ORDER BY p.o), pg_catalog.array_agg(p.s ORDER BY p.o) "
			  "FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5)) "
			  "WITH ORDINALITY AS p(c, w, s, o) GROUP BY p.c",
			  5, argtypes, values, NULL, false, SPI_OK_INSERT);
	RsExecute("INSERT INTO recsys.item_stats (model, version, item_id, n_users, weight_sum, popularity) "
			  "SELECT DISTINCT $1, $2, c, 0, 0, 0 FROM pg_catalog.unnest($3) AS c "
			  "WHERE $4 IS NOT NULL AND $5 IS NOT NULL",
			  5, argtypes, values, NULL, false, SPI_OK_INSERT);
	RsExecute("UPDATE recsys.item_neighbor_lists l SET neighbor_ids = z.ids, scores = z.scores "
			  "FROM (SELECT x.item, pg_catalog.array_agg(x.id ORDER BY x.s DESC, x.id) AS ids, "
			  "             pg_catalog.array_agg(x.s ORDER BY x.s DESC, x.id) AS scores "
			  "      FROM (SELECT l2.item_id AS item, u.id, u.s FROM recsys.item_neighbor_lists l2, "
			  "                   ROWS FROM (pg_catalog.unnest(l2.neighbor_ids), pg_catalog.unnest(l2.scores)) AS u(id, s) "
			  "            WHERE l2.model OPERATOR(pg_catalog.=) $1 AND l2.version OPERATOR(pg_catalog.=) $2 "
			  "              AND l2.item_id OPERATOR(pg_catalog.=) ANY ($4) "
			  "            UNION ALL SELECT p.w, p.c, p.s FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), "
			  "                   pg_catalog.unnest($5)) AS p(c, w, s)) x GROUP BY x.item) z "
			  "WHERE l.model OPERATOR(pg_catalog.=) $1 AND l.version OPERATOR(pg_catalog.=) $2 "
			  "AND l.item_id OPERATOR(pg_catalog.=) z.item",
			  5, argtypes, values, NULL, false, SPI_OK_UPDATE);
	SPI_finish();
}
