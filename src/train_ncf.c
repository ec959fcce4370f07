/*-------------------------------------------------------------------------
 *
 * train_ncf.c
 *		recsys.train_ncf(): neural collaborative filtering (NeuMF, He et
 *		al. 2017), with optional adversarial training (APR, He et al. 2018).
 *
 * The numerics are src/kernel/ncf.c (see ncf.h for the model and the
 * objective); this file checks the arguments, reads the source, estimates
 * the memory before allocating, runs the epochs (one kernel call each,
 * with a NOTICE per epoch when verbose) and stores the model:
 *	- each user's and item's embedding [gmf | mlp] as its row of
 *	  recsys.user_factors / recsys.item_factors (bias 0);
 *	- the layers in recsys.model_parameters: 'architecture' (d_gmf,
 *	  d_mlp, then each hidden layer's width), 'mlp.<l>.weight'
 *	  (hidden[l] x in, row-major) and 'mlp.<l>.bias', 'output.weight'
 *	  (1 x (d_gmf + last width)) and 'output.bias' (1).
 * src/kind_ncf.c serves it.
 *
 * The observed pairs are the source's (user, item) pairs, with a summed
 * weight > 0 when weight_col is given (a pair's weight does not scale its
 * loss: every observed pair counts once).  A cancel is seen between
 * mini-batches (the kernel asks RsCancelRequested), so within a second.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "args.h"
#include "blas_loader.h"
#include "cancel.h"
#include "ncf.h"
#include "model_acl.h"
#include "model_cache.h"
#include "model_kind.h"
#include "model_store.h"
#include "progress.h"
#include "recsys.h"
#include "train_common.h"

PG_FUNCTION_INFO_V1(recsys_train_ncf);

#define NCF_MAX_EPOCHS 1000
#define NCF_MAX_NEGATIVES 100
#define NCF_MAX_BATCH 65536

/* What the writer stores. */
typedef struct NcfRun
{
	RsNcfModel	model;
	RsInteractions data;
	const bool *skip_users;		/* non-NULL: store only the users it flags */
} NcfRun;

/* hidden integer[]: 0 to RS_NCF_MAX_LAYERS widths in [1, RS_NCF_MAX_WIDTH]. */
static void
hidden_arg(FunctionCallInfo fcinfo, int argno, RsNcfShape *shape)
{
	ArrayType  *a;
	int			n;

	RsRequireArg(fcinfo, argno, "hidden");
	a = PG_GETARG_ARRAYTYPE_P(argno);
	n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	if (ARR_NDIM(a) > 1 || ARR_HASNULL(a) || n > RS_NCF_MAX_LAYERS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("hidden must be a one-dimensional array of at most %d layer widths without NULLs",
						RS_NCF_MAX_LAYERS),
				 errhint("For example '{64,32}'; '{}' puts the output layer right on the embeddings.")));
	shape->n_layers = n;
	for (int l = 0; l < n; l++)
	{
		int32		width = ((const int32 *) ARR_DATA_PTR(a))[l];

		if (width < 1 || width > RS_NCF_MAX_WIDTH)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hidden[%d] must be between 1 and %d, not %d", l + 1, RS_NCF_MAX_WIDTH,
							width)));
		shape->hidden[l] = width;
	}
}

/* The hidden widths as a JSON array, for params. */
static char *
hidden_json(const RsNcfShape *shape)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int l = 0; l < shape->n_layers; l++)
		appendStringInfo(&buf, "%s%d", l > 0 ? ", " : "", shape->hidden[l]);
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* The observed pairs: those with a summed weight > 0. */
static int64
positive_pairs(const RsCsr *R)
{
	int64		n = 0;

	for (int64 e = 0; e < R->nnz; e++)
		n += R->data[e] > 0;
	return n;
}

/* Store the embeddings and the layers (see the file comment for names). */
static void
write_ncf(RsTrainer *trainer, int32 version, void *arg)
{
	NcfRun	   *run = arg;
	const RsNcfShape *s = &run->model.shape;
	RsNcfLayout lay;
	float	   *architecture = palloc(sizeof(float) * (2 + s->n_layers));
	int32		shape[2];

	RsWriteItemStatsFromData(trainer->name, version, &run->data);
	if (run->skip_users == NULL)
		RsWriteFactors(RS_USERS, trainer->name, version, run->data.users.ids, NULL, run->model.user,
					   run->data.users.count, rs_ncf_dim(s));
	else
	{
		/* (compacted in place: the model is not used after this) */
		int64	   *ids = palloc(sizeof(int64) * Max(run->data.users.count, 1));
		int64		n = 0;

		for (int32 u = 0; u < run->data.users.count; u++)
			if (run->skip_users[u])
			{
				ids[n] = run->data.users.ids[u];
				memmove(run->model.user + n * rs_ncf_dim(s),
						run->model.user + (Size) u * rs_ncf_dim(s), sizeof(float) * rs_ncf_dim(s));
				n++;
			}
		RsWriteFactors(RS_USERS, trainer->name, version, ids, NULL, run->model.user, n,
					   rs_ncf_dim(s));
	}
	RsWriteFactors(RS_ITEMS, trainer->name, version, run->data.items.ids, NULL, run->model.item,
				   run->data.items.count, rs_ncf_dim(s));
	architecture[0] = s->d_gmf;
	architecture[1] = s->d_mlp;
	for (int l = 0; l < s->n_layers; l++)
		architecture[2 + l] = s->hidden[l];
	shape[0] = 2 + s->n_layers;
	RsWriteParameter(trainer->name, version, "architecture", shape, 1, architecture);
	rs_ncf_layout(s, &lay);
	for (int l = 0; l <= s->n_layers; l++)
	{
		bool		output = l == s->n_layers;

		shape[0] = lay.out[l];
		shape[1] = lay.in[l];
		RsWriteParameter(trainer->name, version,
						 output ? "output.weight" : psprintf("mlp.%d.weight", l), shape, 2,
						 run->model.dense + lay.weight[l]);
		RsWriteParameter(trainer->name, version,
						 output ? "output.bias" : psprintf("mlp.%d.bias", l), shape, 1,
						 run->model.dense + lay.bias[l]);
	}
}

/*
 * The pretrained model's vectors in this model's user and item order (a
 * user or item it does not know keeps found false: it starts at 0, see
 * rs_ncf_pretrain).  The model is looked
 * up as recommend looks a model up: the caller must be allowed to use it,
 * and it is read as its owner.  Its row stays locked against dropping
 * and renaming until training commits.
 */
static void
read_pretrained(const char *name, const char *model_name, const RsInteractions *data,
				RsNcfPretrained *p, char **owner, int32 *version)
{
	RsModel    *base;
	const float *items;
	const float *bias;
	float	   *user;
	float	   *item;
	float	   *item_bias = NULL;
	bool	   *user_found;
	bool	   *item_found;
	int			k;

	if (strcmp(name, model_name) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" cannot be pretrained from itself", model_name),
				 errhint("Train the factor model under another name and name it as pretrained.")));
	RsLockModelRow(name);
	base = RsGetModel(name);
	if (base->kind->factor_vectors == NULL)
		RsKindNotSupported(base, "starting a neural model from its vectors",
						   offsetof(RsModelKind, factor_vectors));
	k = base->kind->factor_vectors(base, NULL, 0, NULL, NULL, &items, &bias);
	user = RsAllocZero(CurrentMemoryContext, sizeof(float) * (Size) data->users.count * k);
	item = RsAllocZero(CurrentMemoryContext, sizeof(float) * (Size) data->items.count * k);
	user_found = palloc0(sizeof(bool) * Max(data->users.count, 1));
	item_found = palloc0(sizeof(bool) * Max(data->items.count, 1));
	if (bias != NULL)
		item_bias = RsAllocZero(CurrentMemoryContext, sizeof(float) * Max(data->items.count, 1));
	(void) base->kind->factor_vectors(base, data->users.ids, data->users.count, user, user_found,
									  &items, &bias);
	for (int32 i = 0; i < data->items.count; i++)
	{
		int32		b = RsModelItemIndex(base, data->items.ids[i]);

		if (b < 0)
			continue;
		item_found[i] = true;
		memcpy(item + (Size) i * k, items + (Size) b * k, sizeof(float) * k);
		if (item_bias != NULL)
			item_bias[i] = bias[b];
	}
	p->k = k;
	p->user = user;
	p->item = item;
	p->item_bias = item_bias;
	p->user_found = user_found;
	p->item_found = item_found;
	*owner = RsModelOwnerName(base->owner);
	*version = base->version;
}

/*
 * Refuse a pretrained start rs_ncf_pretrain refused: the base model's
 * scores are not finite floats (damaged: XX001, as RsModelCorrupt says),
 * or its calibration on this source is not finite, shrinks its scores to
 * nothing or leaves them saturated (22000): either way a model that would
 * not rank as the base.
 */
static void
refuse_pretrained(int status, const RsNcfPretrained *pre, const char *name, int32 version,
				  const char *model_name)
{
	if (status == RS_NCF_ERR_SCORES)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("model \"%s\" version %d is damaged: its scores are not finite", name,
						version),
				 errdetail("Model \"%s\" was to start from its vectors.", model_name),
				 errhint("Retrain model \"%s\".", name)));
	if (status == RS_NCF_ERR_CALIBRATION)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("model \"%s\" version %d cannot start model \"%s\": its scores do not calibrate on this source",
						name, version, model_name),
				 errdetail("The fit of sigmoid(a s + b) to the observed pairs gave a = %g, b = %g (a must be finite and above 1e-6, a s + b at most %g in size); its scores reach %g.",
						   pre->scale, pre->offset, RS_NCF_MAX_START_LOGIT, pre->max_score),
				 errhint("Retrain model \"%s\" (its factors may be damaged), or train without pretrained.",
						 name)));
}

/*
 * recsys_train_ncf(source regclass, factors int, model text, hidden int[],
 *					gmf bool, iterations int, learning_rate float8,
 *					regularization float8, dropout float8, negatives int,
 *					batch_size int, user_col name, item_col name,
 *					weight_col name, seed int8, adversarial_epsilon float8,
 *					adversarial_weight float8, verbose bool, replace bool,
 *					pretrained text) trains a NeuMF model.
 */
Datum
recsys_train_ncf(PG_FUNCTION_ARGS)
{
	static const RsTrainArgNos argnos = {.model = 2,.cols = 11,.weight_col = 13,.replace = 18};
	RsTrainer	trainer;
	NcfRun	   *run = palloc0(sizeof(NcfRun));
	RsNcfShape *s = &run->model.shape;
	RsNcfConfig config;
	RsNcfLayout lay;
	int			factors;
	bool		gmf;
	int			epochs;
	Size		model_bytes;
	Size		work_bytes;
	void	   *workspace;
	double		fit_start;
	double		loss = 0;
	int			status = RS_NCF_OK;
	const char *pretrained = NULL;
	RsNcfPretrained pre;
	char	   *pretrained_owner = NULL;
	int32		pretrained_version = 0;

	RsTrainArgs(fcinfo, &argnos, &trainer);
	factors = RsIntArg(fcinfo, 1, "factors", 1, RS_NCF_MAX_WIDTH);
	hidden_arg(fcinfo, 3, s);
	RsRequireArg(fcinfo, 4, "gmf");
	gmf = PG_GETARG_BOOL(4);
	if (!PG_ARGISNULL(19))
		pretrained = text_to_cstring(PG_GETARG_TEXT_PP(19));
	/* 0 epochs: the pretrained model's ranking as it is */
	epochs = RsIntArg(fcinfo, 5, "iterations", pretrained ? 0 : 1, NCF_MAX_EPOCHS);
	memset(&config, 0, sizeof(config));
	config.learning_rate = (float) RsFloatArg(fcinfo, 6, "learning_rate", 1e-6, 1, NAN);
	config.l2 = (float) RsFloatArg(fcinfo, 7, "regularization", 0, 100, NAN);
	config.dropout = (float) RsFloatArg(fcinfo, 8, "dropout", 0, 0.9, NAN);
	config.negatives = RsIntArg(fcinfo, 9, "negatives", 1, NCF_MAX_NEGATIVES);
	config.batch = RsIntArg(fcinfo, 10, "batch_size", 1, NCF_MAX_BATCH);
	RsRequireArg(fcinfo, 14, "seed");
	config.seed = (uint64) PG_GETARG_INT64(14);
	config.adv_epsilon = (float) RsFloatArg(fcinfo, 15, "adversarial_epsilon", 0, 100, NAN);
	config.adv_weight = (float) RsFloatArg(fcinfo, 16, "adversarial_weight", 0, 100, NAN);
	if ((config.adv_epsilon > 0) != (config.adv_weight > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("adversarial_epsilon and adversarial_weight must both be positive or both be 0"),
				 errhint("APR (He et al. 2018) uses epsilon 0.5 and weight 1 as a start.")));
	RsRequireArg(fcinfo, 17, "verbose");
	trainer.verbose = PG_GETARG_BOOL(17);
	config.beta1 = 0.9f;
	config.beta2 = 0.999f;
	config.adam_eps = 1e-7f;
	config.threads = recsys_threads;
	config.stop = RsCancelRequested;
	config.stop_arg = NULL;

	if (pretrained && !gmf)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pretrained needs gmf => true"),
				 errdetail("The pretrained model's vectors start the GMF branch.")));

	RsTrainBegin(&trainer, "ncf", &run->data);
	memset(&pre, 0, sizeof(pre));
	if (pretrained)
		read_pretrained(pretrained, trainer.name, &run->data, &pre, &pretrained_owner,
						&pretrained_version);
	s->n_users = run->data.users.count;
	s->n_items = run->data.items.count;
	s->d_mlp = factors;
	/* pretrained: its k, and one more coordinate for its item biases */
	s->d_gmf = !gmf ? 0 : pretrained ? pre.k + (pre.item_bias != NULL) : factors;
	if (s->d_gmf > RS_NCF_MAX_WIDTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pretrained model \"%s\" has %d factors, more than the %d train_ncf takes",
						pretrained, pre.k, RS_NCF_MAX_WIDTH)));
	rs_ncf_layout(s, &lay);
	/* the kernel numbers the observed pairs with int32 */
	if (run->data.by_user.nnz > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("train_ncf takes at most %d (user, item) pairs, not %lld", PG_INT32_MAX,
						(long long) run->data.by_user.nnz)));

	/* refuse what recsys.max_memory cannot hold before allocating it */
	model_bytes = (((Size) s->n_users + s->n_items) * (rs_ncf_dim(s) + pre.k) + lay.size) *
		sizeof(float);
	work_bytes = rs_ncf_workspace_bytes(s, run->data.by_user.nnz, &config);
	RsCheckTrainingMemory("the embeddings, layers and Adam's state", model_bytes + work_bytes,
						  &run->data);
	run->model.user = RsAllocZero(CurrentMemoryContext,
								  sizeof(float) * (Size) s->n_users * rs_ncf_dim(s));
	run->model.item = RsAllocZero(CurrentMemoryContext,
								  sizeof(float) * (Size) s->n_items * rs_ncf_dim(s));
	run->model.dense = RsAllocZero(CurrentMemoryContext, sizeof(float) * lay.size);
	workspace = RsAllocZero(CurrentMemoryContext, work_bytes);

	fit_start = RsSeconds();
	rs_ncf_init(&run->model, config.seed, 0.01f);
	if (pretrained)
	{
		float	   *scratch = RsAllocZero(CurrentMemoryContext, sizeof(float) *
										  rs_ncf_pretrain_scratch_floats(run->data.by_user.nnz,
																		 config.negatives));

		status = rs_ncf_pretrain(&run->model, &pre, &run->data.by_user, config.negatives,
								 config.seed, scratch, RsCancelRequested, NULL);
		pfree(scratch);
		if (status == RS_NCF_STOPPED)
			RsKernelStopped(psprintf("calibration of model \"%s\"", trainer.name));
		refuse_pretrained(status, &pre, pretrained, pretrained_version, trainer.name);
		/* 0 epochs: a user the factor model lacks is served as it serves one */
		run->skip_users = epochs == 0 ? pre.user_found : NULL;
	}
	RsBlasSetThreads(1);
	for (int epoch = 0; epoch < epochs; epoch++)
	{
		CHECK_FOR_INTERRUPTS();
		status = rs_ncf_train_epoch(&run->model, &run->data.by_user, &config, epoch, workspace, &loss);
		if (status == RS_NCF_STOPPED)
			RsKernelStopped(psprintf("training of model \"%s\"", trainer.name));
		if (status == RS_NCF_ERR_THREAD)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("training of model \"%s\" could not start its threads", trainer.name),
					 errhint("Lower recsys.threads.")));
		if (!isfinite(loss))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("training of model \"%s\" diverged at epoch %d (loss %g)", trainer.name,
							epoch + 1, loss),
					 errhint("Lower learning_rate.")));
		RsProgressIteration(epoch + 1, epochs, "loss", loss, NULL);
	}
	pfree(workspace);

	RsJsonInt(&trainer.params, "factors", factors);
	RsJsonRaw(&trainer.params, "hidden", hidden_json(s));
	RsJsonText(&trainer.params, "gmf", gmf ? "true" : "false");
	RsJsonInt(&trainer.params, "iterations", epochs);
	RsJsonFloat(&trainer.params, "learning_rate", config.learning_rate);
	RsJsonFloat(&trainer.params, "regularization", config.l2);
	RsJsonFloat(&trainer.params, "dropout", config.dropout);
	RsJsonInt(&trainer.params, "negatives", config.negatives);
	RsJsonInt(&trainer.params, "batch_size", config.batch);
	RsJsonInt(&trainer.params, "seed", (int64) config.seed);
	RsJsonFloat(&trainer.params, "adversarial_epsilon", config.adv_epsilon);
	RsJsonFloat(&trainer.params, "adversarial_weight", config.adv_weight);
	RsJsonInt(&trainer.params, "threads", recsys_threads);
	if (pretrained)
	{
		RsJsonText(&trainer.params, "pretrained", pretrained);
		RsJsonText(&trainer.params, "pretrained_owner", pretrained_owner);
		RsJsonInt(&trainer.params, "pretrained_version", pretrained_version);
		RsJsonFloat(&trainer.stats, "pretrained_scale", pre.scale);
		RsJsonFloat(&trainer.stats, "pretrained_offset", pre.offset);
		RsJsonInt(&trainer.stats, "pretrained_users", pre.users_found);
		RsJsonInt(&trainer.stats, "pretrained_items", pre.items_found);
	}
	RsJsonInt(&trainer.stats, "positive_pairs", positive_pairs(&run->data.by_user));
	RsJsonFloat(&trainer.stats, "loss", loss);
	RsJsonFloat(&trainer.stats, "fit_seconds", RsSeconds() - fit_start);
	PG_RETURN_DATUM(RsTrainFinish(fcinfo, &trainer, write_ncf, run));
}
