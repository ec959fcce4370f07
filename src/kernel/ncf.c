/*-------------------------------------------------------------------------
 *
 * ncf.c
 *		NeuMF's forward and backward passes, Adam and APR (see ncf.h for
 *		the model, the training objective and the determinism rules).
 *
 * A pass works on a chunk of samples at once: the chunk's user and item
 * embeddings are gathered into rows (ue, ie), the MLP's layers are matrix
 * products through cblas_sgemm, and the backward pass returns the
 * chunk's dense gradient and each sample's embedding gradients.  Training
 * cuts a mini-batch into chunks the threads share, then sums the chunks'
 * gradients in order and takes one Adam step.
 *
 *-------------------------------------------------------------------------
 */
#include "ncf.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "rng.h"
#include "threads.h"

/* Streams of the random draws, mixed with the caller's seed. */
#define STREAM_INIT		UINT64_C(0x6e63662d696e6974)
#define STREAM_SHUFFLE	UINT64_C(0x6e63662d73687566)
#define STREAM_NEGATIVE	UINT64_C(0x6e63662d6e656761)
#define STREAM_DROPOUT	UINT64_C(0x6e63662d64726f70)
#define STREAM_CALIBRATE	UINT64_C(0x6e63662d63616c69)

/* Draws per negative before a user's own item is taken anyway. */
#define NEGATIVE_TRIES	8

void
rs_ncf_layout(const RsNcfShape *shape, RsNcfLayout *layout)
{
	int64_t		at = 0;
	int			in = 2 * shape->d_mlp;

	for (int l = 0; l <= shape->n_layers; l++)
	{
		int			out = l < shape->n_layers ? shape->hidden[l] : 1;

		if (l == shape->n_layers)
			in += shape->d_gmf;	/* the output layer also sees the GMF product */
		layout->in[l] = in;
		layout->out[l] = out;
		layout->weight[l] = at;
		at += (int64_t) in * out;
		layout->bias[l] = at;
		at += out;
		in = out;
	}
	layout->size = at;
}

void
rs_ncf_init(RsNcfModel *model, uint64_t seed, float init_std)
{
	const RsNcfShape *s = &model->shape;
	int			dim = rs_ncf_dim(s);
	uint64_t	stream = seed ^ STREAM_INIT;
	uint64_t	counter = 0;
	RsNcfLayout lay;

	for (int64_t e = 0; e < (int64_t) s->n_users * dim; e++)
		model->user[e] = (float) (init_std * rs_rng_normal(stream, counter++));
	for (int64_t e = 0; e < (int64_t) s->n_items * dim; e++)
		model->item[e] = (float) (init_std * rs_rng_normal(stream, counter++));
	rs_ncf_layout(s, &lay);
	memset(model->dense, 0, sizeof(float) * lay.size);
	for (int l = 0; l <= s->n_layers; l++)
	{
		/* He-uniform for the ReLU layers, LeCun-uniform for the logit */
		float		a = sqrtf((l < s->n_layers ? 6.0f : 3.0f) / lay.in[l]);

		for (int64_t e = 0; e < (int64_t) lay.in[l] * lay.out[l]; e++)
			model->dense[lay.weight[l] + e] =
				a * (2.0f * rs_rng_uniform_float(stream, counter++) - 1.0f);
	}
}

static int	row_has(const RsCsr *R, int32_t u, int32_t i);

/* A pretrained model's score of (u, i): x_u . y_i + b_i. */
static double
pretrained_score(const RsNcfPretrained *p, int32_t u, int32_t i)
{
	double		z = p->item_bias ? p->item_bias[i] : 0;

	for (int f = 0; f < p->k; f++)
		z += (double) p->user[(int64_t) u * p->k + f] * p->item[(int64_t) i * p->k + f];
	return z;
}

/*
 * The calibration sample: every observed pair's score (label 1) and, per
 * pair, `negatives` scores of items drawn as training draws them (label
 * 0); with more pairs than RS_NCF_CALIBRATION_PAIRS, an even stride of
 * them.  Returns the number of scores written (positives first in each
 * group of 1 + negatives), or -1 when the stop callback asked.
 */
static int64_t
calibration_sample(const RsNcfPretrained *p, const RsCsr *R, int negatives, uint64_t seed,
				   float *scores, RsStopClock *clock)
{
	int64_t		n_pos = 0,
				taken = 0,
				seen = 0,
				n = 0;

	for (int64_t e = 0; e < R->nnz; e++)
		n_pos += R->data[e] > 0;
	for (int32_t u = 0; u < R->n_rows; u++)
		for (int64_t e = R->indptr[u]; e < R->indptr[u + 1]; e++)
		{
			if (!(R->data[e] > 0))
				continue;
			/* pair number seen is taken when it crosses the next stride mark */
			if (n_pos > RS_NCF_CALIBRATION_PAIRS &&
				(seen++ * RS_NCF_CALIBRATION_PAIRS) / n_pos < taken)
				continue;
			taken++;
			if (rs_stop_tick(clock, (int64_t) (negatives + 1) * (p->k + NEGATIVE_TRIES)))
				return -1;
			for (int j = 0; j <= negatives; j++)
			{
				int32_t		i = R->indices[e];

				if (j > 0)
					for (int t = 0; t < NEGATIVE_TRIES; t++)
					{
						i = (int32_t) (rs_rng_u64(seed ^ STREAM_CALIBRATE,
												  (uint64_t) n * NEGATIVE_TRIES + t) %
									   (uint64_t) R->n_cols);
						if (!row_has(R, u, i))
							break;
					}
				scores[n++] = (float) pretrained_score(p, u, i);
			}
		}
	return n;
}

size_t
rs_ncf_pretrain_scratch_floats(int64_t nnz, int negatives)
{
	int64_t		pairs = nnz < RS_NCF_CALIBRATION_PAIRS ? nnz : RS_NCF_CALIBRATION_PAIRS;

	return (size_t) (pairs + 1) * (size_t) (negatives + 1);
}

/*
 * Fit sigmoid(a s + b) to the sample (labels: 1 for the first of each
 * group of 1 + negatives, else 0) by Newton's method on the mean
 * cross-entropy from a = 1, b = 0, halving a step that does not lower it.
 * Returns nonzero when the stop callback asked (between iterations).
 */
static int
calibrate(const float *scores, int64_t n, int negatives, double *a_out, double *b_out,
		  RsStopClock *clock)
{
	double		a = 1,
				b = 0;
	double		prev = INFINITY;
	double		last_da = 0,
				last_db = 0;

	for (int iter = 0; iter < 50 && n > 0; iter++)
	{
		double		loss = 0,
					ga = 0,
					gb = 0,
					haa = 0,
					hab = 0,
					hbb = 0;
		double		det,
					da,
					db;

		/* each iteration is a pass over up to 250,000 scores: ask every time */
		if (clock->stop != NULL && clock->stop(clock->stop_arg))
			return 1;
		for (int64_t t = 0; t < n; t++)
		{
			double		sc = scores[t];
			double		y = t % (negatives + 1) == 0;
			double		z = a * sc + b;
			double		q = 1 / (1 + exp(-z));
			double		w = q * (1 - q);

			/* -log q for y = 1, -log(1 - q) for y = 0, overflow-free */
			loss += z > 0 ? log1p(exp(-z)) + (1 - y) * z : log1p(exp(z)) - y * z;
			ga += (q - y) * sc;
			gb += q - y;
			haa += w * sc * sc;
			hab += w * sc;
			hbb += w;
		}
		if (loss > prev)
		{
			/* overshot: back to the middle of the last step */
			last_da *= 0.5;
			last_db *= 0.5;
			a -= last_da;
			b -= last_db;
			continue;
		}
		prev = loss;
		det = haa * hbb - hab * hab;
		if (!(det > 0))
			break;
		da = -(hbb * ga - hab * gb) / det;
		db = -(haa * gb - hab * ga) / det;
		a += da;
		b += db;
		last_da = da;
		last_db = db;
		if (fabs(da) <= 1e-7 * (fabs(a) + 1) && fabs(db) <= 1e-7 * (fabs(b) + 1))
			break;
	}
	*a_out = a;
	*b_out = b;
	return 0;
}

int
rs_ncf_pretrain(RsNcfModel *model, RsNcfPretrained *p, const RsCsr *R, int negatives,
				uint64_t seed, float *scratch, RsStopFn stop, void *stop_arg)
{
	RsStopClock clock = rs_stop_clock(stop, stop_arg);
	const RsNcfShape *s = &model->shape;
	int			dim = rs_ncf_dim(s);
	int			bias_dim = p->item_bias != NULL;
	int64_t		n = calibration_sample(p, R, negatives, seed, scratch, &clock);
	double		a,
				b,
				root;
	RsNcfLayout lay;

	p->scale = p->offset = NAN;
	p->max_score = 0;
	if (n < 0)
		return RS_NCF_STOPPED;
	for (int64_t t = 0; t < n; t++)
	{
		if (!isfinite(scratch[t]))
		{
			p->max_score = INFINITY;
			return RS_NCF_ERR_SCORES;
		}
		if (fabs(scratch[t]) > p->max_score)
			p->max_score = fabs(scratch[t]);
	}
	if (calibrate(scratch, n, negatives, &a, &b, &clock))
		return RS_NCF_STOPPED;
	p->scale = a;
	p->offset = b;

	/*
	 * A scale of 1e-6 or less (a ranking read backwards, scores so large
	 * that the fit shrinks them to nothing), a fit that is not finite, or
	 * one that leaves logits beyond RS_NCF_MAX_START_LOGIT (scores so
	 * large that every sigmoid saturates and Newton's method cannot move:
	 * ties in float, a loss of 1e24) would start a model that does not
	 * rank as the factor model does.
	 */
	if (!isfinite(a) || !isfinite(b) || !(a > 1e-6))
		return RS_NCF_ERR_CALIBRATION;
	for (int64_t t = 0; t < n; t++)
		if (!(fabs(a * scratch[t] + b) <= RS_NCF_MAX_START_LOGIT))
			return RS_NCF_ERR_CALIBRATION;
	root = sqrt(a);
	p->users_found = p->items_found = 0;
	for (int32_t u = 0; u < s->n_users; u++)
	{
		float	   *x = model->user + (int64_t) u * dim;

		/* a user the factor model lacks: 0 in both branches (so is an item) */
		if (!p->user_found[u])
		{
			memset(x, 0, sizeof(float) * dim);
			continue;
		}
		p->users_found++;
		for (int f = 0; f < p->k; f++)
			x[f] = (float) (root * p->user[(int64_t) u * p->k + f]);
		if (bias_dim)
			x[p->k] = (float) root;
	}
	for (int32_t i = 0; i < s->n_items; i++)
	{
		float	   *y = model->item + (int64_t) i * dim;

		if (!p->item_found[i])
		{
			memset(y, 0, sizeof(float) * dim);
			continue;
		}
		p->items_found++;
		for (int f = 0; f < p->k; f++)
			y[f] = (float) (root * p->item[(int64_t) i * p->k + f]);
		if (bias_dim)
			y[p->k] = (float) (root * p->item_bias[i]);
	}
	/* the logit starts as a s + b: the GMF branch weighs 1, the MLP tower 0 */
	rs_ncf_layout(s, &lay);
	for (int c = 0; c < lay.in[s->n_layers]; c++)
		model->dense[lay.weight[s->n_layers] + c] = c < s->d_gmf ? 1.0f : 0.0f;
	model->dense[lay.bias[s->n_layers]] = (float) b;
	return RS_NCF_OK;
}

/* The widest row a pass keeps: of x_0, of any hidden layer. */
static int
widest(const RsNcfShape *s)
{
	int			w = 2 * s->d_mlp;

	for (int l = 0; l < s->n_layers; l++)
		if (s->hidden[l] > w)
			w = s->hidden[l];
	return w;
}

/* Floats of one pass's scratch over n samples (see Pass). */
static size_t
pass_floats(const RsNcfShape *s, int n)
{
	size_t		per = 2 * (size_t) rs_ncf_dim(s) + 2 * (size_t) s->d_mlp + s->d_gmf + 2 +
		2 * (size_t) widest(s);

	for (int l = 0; l < s->n_layers; l++)
		per += s->hidden[l];
	return per * n;
}

/* One chunk's arrays, carved from scratch for n samples at most. */
typedef struct Pass
{
	const RsNcfModel *model;
	const RsNcfLayout *lay;
	float	   *ue;				/* n x dim: the samples' user embeddings */
	float	   *ie;				/* n x dim: item embeddings */
	float	   *X0;				/* n x 2 d_mlp */
	float	   *G;				/* n x d_gmf: the GMF product */
	float	   *D[RS_NCF_MAX_LAYERS];	/* n x hidden[l]: outputs after dropout */
	float	   *z;				/* n logits */
	float	   *dz;
	float	   *B1;				/* n x widest: gradients, ping */
	float	   *B2;				/* pong */
} Pass;

static void
pass_carve(Pass *p, const RsNcfModel *model, const RsNcfLayout *lay, float *scratch, int n)
{
	const RsNcfShape *s = &model->shape;
	int			dim = rs_ncf_dim(s);

	p->model = model;
	p->lay = lay;
	p->ue = scratch;
	scratch += (size_t) n * dim;
	p->ie = scratch;
	scratch += (size_t) n * dim;
	p->X0 = scratch;
	scratch += (size_t) n * 2 * s->d_mlp;
	p->G = scratch;
	scratch += (size_t) n * s->d_gmf;
	for (int l = 0; l < s->n_layers; l++)
	{
		p->D[l] = scratch;
		scratch += (size_t) n * s->hidden[l];
	}
	p->z = scratch;
	scratch += n;
	p->dz = scratch;
	scratch += n;
	p->B1 = scratch;
	scratch += (size_t) n * widest(s);
	p->B2 = scratch;
}

/* Copy the samples' embeddings into ue and ie. */
static void
pass_gather(Pass *p, const float *user_vec, const int32_t *users, const int32_t *items,
			int32_t first_item, int n)
{
	const RsNcfModel *m = p->model;
	int			dim = rs_ncf_dim(&m->shape);

	for (int r = 0; r < n; r++)
	{
		const float *u = user_vec ? user_vec : m->user + (int64_t) users[r] * dim;
		int32_t		i = items ? items[r] : first_item + r;

		memcpy(p->ue + (size_t) r * dim, u, sizeof(float) * dim);
		memcpy(p->ie + (size_t) r * dim, m->item + (int64_t) i * dim, sizeof(float) * dim);
	}
}

/*
 * The input of the output layer's MLP part: the last hidden layer's
 * output, or x_0 without hidden layers.
 */
static inline const float *
last_rows(const Pass *p)
{
	int			L = p->model->shape.n_layers;

	return L > 0 ? p->D[L - 1] : p->X0;
}

/*
 * Forward over n gathered samples: the logits into z.  sample_ids not
 * NULL: dropout with rate dropout, each unit's draw a function of the
 * sample's id (so a second pass over the same samples drops the same
 * units).
 */
static void
pass_forward(Pass *p, int n, const uint64_t *sample_ids, float dropout, uint64_t seed)
{
	const RsNcfShape *s = &p->model->shape;
	const RsNcfLayout *lay = p->lay;
	const float *dense = p->model->dense;
	int			dim = rs_ncf_dim(s);
	int			dg = s->d_gmf;
	int			dm = s->d_mlp;
	int			L = s->n_layers;
	float		keep_scale = 1.0f / (1.0f - dropout);
	const float *in = p->X0;
	const float *last;
	const float *w_out;
	float		b_out;
	int			unit_base = 0;

	for (int r = 0; r < n; r++)
	{
		const float *u = p->ue + (size_t) r * dim;
		const float *v = p->ie + (size_t) r * dim;

		for (int a = 0; a < dg; a++)
			p->G[(size_t) r * dg + a] = u[a] * v[a];
		memcpy(p->X0 + (size_t) r * 2 * dm, u + dg, sizeof(float) * dm);
		memcpy(p->X0 + (size_t) r * 2 * dm + dm, v + dg, sizeof(float) * dm);
	}
	for (int l = 0; l < L; l++)
	{
		int			nin = lay->in[l];
		int			nout = lay->out[l];
		const float *b = dense + lay->bias[l];
		float	   *D = p->D[l];

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, nout, nin, 1.0f, in, nin,
					dense + lay->weight[l], nin, 0.0f, D, nout);
		for (int r = 0; r < n; r++)
			for (int j = 0; j < nout; j++)
			{
				float		x = D[(size_t) r * nout + j] + b[j];

				x = x > 0 ? x : 0;
				if (sample_ids != NULL && dropout > 0 && x > 0)
				{
					/* a unit's draw: (sample, unit); units of all layers counted in turn */
					uint64_t	counter = sample_ids[r] * (uint64_t) (RS_NCF_MAX_LAYERS * RS_NCF_MAX_WIDTH) +
						(uint64_t) (unit_base + j);

					x = rs_rng_uniform_float(seed ^ STREAM_DROPOUT, counter) < dropout ? 0 : x * keep_scale;
				}
				D[(size_t) r * nout + j] = x;
			}
		unit_base += nout;
		in = D;
	}
	last = last_rows(p);
	w_out = dense + lay->weight[L];
	b_out = dense[lay->bias[L]];
	for (int r = 0; r < n; r++)
	{
		int			lw = lay->in[L] - dg;
		float		z = b_out;

		for (int a = 0; a < dg; a++)
			z += w_out[a] * p->G[(size_t) r * dg + a];
		for (int a = 0; a < lw; a++)
			z += w_out[dg + a] * last[(size_t) r * lw + a];
		p->z[r] = z;
	}
}

/* log(1 + exp(x)) without overflow. */
static inline double
softplus(double x)
{
	return (x > 0 ? x : 0) + log1p(exp(-fabs(x)));
}

/*
 * The cross-entropy of the logits against labels, summed; dz receives
 * scale times its derivative, sigmoid(z) - y.
 */
static double
pass_loss(Pass *p, int n, const float *labels, float scale)
{
	double		sum = 0;

	for (int r = 0; r < n; r++)
	{
		double		z = p->z[r];
		double		sig = 1.0 / (1.0 + exp(-z));

		sum += labels[r] > 0.5f ? softplus(-z) : softplus(z);
		p->dz[r] = (float) (scale * (sig - labels[r]));
	}
	return sum;
}

/*
 * Backward from dz: dense_grad += the dense gradient; EU, EI (n x dim)
 * receive (accumulate: gain) each sample's embedding gradients.
 * keep_scale: the forward pass's dropout scale (1 without dropout).
 */
static void
pass_backward(Pass *p, int n, float keep_scale, float *dense_grad, float *EU, float *EI,
			  int accumulate)
{
	const RsNcfShape *s = &p->model->shape;
	const RsNcfLayout *lay = p->lay;
	const float *dense = p->model->dense;
	int			dim = rs_ncf_dim(s);
	int			dg = s->d_gmf;
	int			dm = s->d_mlp;
	int			L = s->n_layers;
	int			lw = lay->in[L] - dg;
	const float *w_out = dense + lay->weight[L];
	float	   *gw_out = dense_grad + lay->weight[L];
	const float *last = last_rows(p);
	float	   *B1 = p->B1;
	float	   *B2 = p->B2;

	if (!accumulate)
	{
		memset(EU, 0, sizeof(float) * (size_t) n * dim);
		memset(EI, 0, sizeof(float) * (size_t) n * dim);
	}
	for (int r = 0; r < n; r++)
	{
		float		d = p->dz[r];
		const float *u = p->ue + (size_t) r * dim;
		const float *v = p->ie + (size_t) r * dim;

		dense_grad[lay->bias[L]] += d;
		for (int a = 0; a < dg; a++)
		{
			gw_out[a] += d * p->G[(size_t) r * dg + a];
			/* through the product: d(u v)/du = v */
			EU[(size_t) r * dim + a] += d * w_out[a] * v[a];
			EI[(size_t) r * dim + a] += d * w_out[a] * u[a];
		}
		for (int a = 0; a < lw; a++)
		{
			gw_out[dg + a] += d * last[(size_t) r * lw + a];
			B1[(size_t) r * lw + a] = d * w_out[dg + a];
		}
	}
	for (int l = L - 1; l >= 0; l--)
	{
		int			nin = lay->in[l];
		int			nout = lay->out[l];
		const float *in = l > 0 ? p->D[l - 1] : p->X0;
		const float *D = p->D[l];
		float	   *gb = dense_grad + lay->bias[l];
		float	   *tmp;

		/* through dropout and ReLU: a unit that is zero passes nothing */
		for (int r = 0; r < n; r++)
			for (int j = 0; j < nout; j++)
			{
				float		g = D[(size_t) r * nout + j] > 0 ? B1[(size_t) r * nout + j] * keep_scale : 0;

				B1[(size_t) r * nout + j] = g;
				gb[j] += g;
			}
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nout, nin, n, 1.0f, B1, nout, in, nin,
					1.0f, dense_grad + lay->weight[l], nin);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, nin, nout, 1.0f, B1, nout,
					dense + lay->weight[l], nin, 0.0f, B2, nin);
		tmp = B1;
		B1 = B2;
		B2 = tmp;
	}
	/* B1 is now d x_0 = [d p_mlp | d q_mlp] */
	for (int r = 0; r < n; r++)
		for (int a = 0; a < dm; a++)
		{
			EU[(size_t) r * dim + dg + a] += B1[(size_t) r * 2 * dm + a];
			EI[(size_t) r * dim + dg + a] += B1[(size_t) r * 2 * dm + dm + a];
		}
}

size_t
rs_ncf_sample_scratch_floats(const RsNcfShape *shape, int n)
{
	return pass_floats(shape, n);
}

double
rs_ncf_loss_gradient(const RsNcfModel *model, const int32_t *users, const int32_t *items,
					 const float *labels, int n, float *dense_grad, float *user_grad,
					 float *item_grad, float *scratch)
{
	RsNcfLayout lay;
	Pass		p;
	double		loss;

	rs_ncf_layout(&model->shape, &lay);
	pass_carve(&p, model, &lay, scratch, n);
	pass_gather(&p, NULL, users, items, 0, n);
	pass_forward(&p, n, NULL, 0, 0);
	loss = pass_loss(&p, n, labels, 1.0f / n);
	if (dense_grad != NULL)
	{
		memset(dense_grad, 0, sizeof(float) * lay.size);
		pass_backward(&p, n, 1.0f, dense_grad, user_grad, item_grad, 0);
	}
	return loss / n;
}

size_t
rs_ncf_score_scratch_floats(const RsNcfShape *shape)
{
	return pass_floats(shape, RS_NCF_SCORE_BLOCK);
}

void
rs_ncf_score(const RsNcfModel *model, const float *user_vec, const int32_t *items,
			 int32_t first, int32_t n, float *out, float *scratch)
{
	RsNcfLayout lay;
	Pass		p;

	rs_ncf_layout(&model->shape, &lay);
	pass_carve(&p, model, &lay, scratch, RS_NCF_SCORE_BLOCK);
	for (int32_t begin = 0; begin < n; begin += RS_NCF_SCORE_BLOCK)
	{
		int			m = n - begin < RS_NCF_SCORE_BLOCK ? n - begin : RS_NCF_SCORE_BLOCK;

		pass_gather(&p, user_vec, NULL, items ? items + begin : NULL, first + begin, m);
		pass_forward(&p, m, NULL, 0, 0);
		memcpy(out + begin, p.z, sizeof(float) * m);
	}
}

/*
 * The training workspace, carved from the caller's bytes: what lives
 * across epochs (Adam's moments, the observed pairs) and one
 * mini-batch's arrays.
 */
typedef struct Workspace
{
	int64_t		step;			/* Adam's t */
	int64_t		n_pos;			/* observed pairs */
	int			prepared;
	float	   *dense_m;
	float	   *dense_v;
	float	   *dense_grad;
	float	   *user_m;
	float	   *user_v;
	float	   *item_m;
	float	   *item_v;
	float	   *user_acc;		/* a mini-batch's summed gradient per row */
	float	   *item_acc;
	uint8_t    *user_touched;
	uint8_t    *item_touched;
	int32_t    *user_list;
	int32_t    *item_list;
	int32_t    *pos_user;		/* observed pair -> user, item */
	int32_t    *pos_item;
	int32_t    *order;			/* this epoch's order of the pairs */
	int32_t    *s_user;			/* the mini-batch's samples */
	int32_t    *s_item;
	float	   *s_label;
	uint64_t   *s_id;
	float	   *EU;				/* per sample: embedding gradients */
	float	   *EI;
	float	   *chunk_grad;		/* per chunk of a wave: dense gradient */
	double	   *chunk_loss;
	float	   *thread_scratch;
} Workspace;

#define ALIGN64(x) (((x) + 63) & ~(size_t) 63)

/* Carve (or, with base NULL, measure) the workspace; returns its bytes. */
static size_t
workspace_carve(const RsNcfShape *s, int64_t nnz, const RsNcfConfig *c, char *base,
				Workspace **out)
{
	RsNcfLayout lay;
	size_t		at = ALIGN64(sizeof(Workspace));
	size_t		dim = rs_ncf_dim(s);
	size_t		samples = (size_t) c->batch * (1 + c->negatives);
	size_t		chunks = (samples + RS_NCF_CHUNK - 1) / RS_NCF_CHUNK;
	int			threads = c->threads < 1 ? 1 : c->threads > RS_THREADS_MAX ? RS_THREADS_MAX : c->threads;
	Workspace  *w = (Workspace *) base;

#define TAKE(field, type, count) \
	do { \
		if (base) w->field = (type *) (base + at); \
		at = ALIGN64(at + sizeof(type) * (size_t) (count)); \
	} while (0)

	rs_ncf_layout(s, &lay);
	TAKE(dense_m, float, lay.size);
	TAKE(dense_v, float, lay.size);
	TAKE(dense_grad, float, lay.size);
	TAKE(user_m, float, s->n_users * dim);
	TAKE(user_v, float, s->n_users * dim);
	TAKE(item_m, float, s->n_items * dim);
	TAKE(item_v, float, s->n_items * dim);
	TAKE(user_acc, float, s->n_users * dim);
	TAKE(item_acc, float, s->n_items * dim);
	TAKE(user_touched, uint8_t, s->n_users);
	TAKE(item_touched, uint8_t, s->n_items);
	TAKE(user_list, int32_t, s->n_users);
	TAKE(item_list, int32_t, s->n_items);
	TAKE(pos_user, int32_t, nnz);
	TAKE(pos_item, int32_t, nnz);
	TAKE(order, int32_t, nnz);
	TAKE(s_user, int32_t, samples);
	TAKE(s_item, int32_t, samples);
	TAKE(s_label, float, samples);
	TAKE(s_id, uint64_t, samples);
	TAKE(EU, float, samples * dim);
	TAKE(EI, float, samples * dim);
	if (chunks > RS_NCF_WAVE)
		chunks = RS_NCF_WAVE;
	TAKE(chunk_grad, float, chunks * lay.size);
	TAKE(chunk_loss, double, chunks);
	TAKE(thread_scratch, float, threads * pass_floats(s, RS_NCF_CHUNK));
#undef TAKE
	if (out)
		*out = w;
	return at;
}

size_t
rs_ncf_workspace_bytes(const RsNcfShape *shape, int64_t nnz, const RsNcfConfig *config)
{
	return workspace_carve(shape, nnz, config, NULL, NULL);
}

/* Whether user row u of R holds item i (columns ascending). */
static int
row_has(const RsCsr *R, int32_t u, int32_t i)
{
	int64_t		lo = R->indptr[u];
	int64_t		hi = R->indptr[u + 1];

	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (R->indices[mid] < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < R->indptr[u + 1] && R->indices[lo] == i;
}

/* What the threads of one mini-batch share. */
typedef struct Batch
{
	const RsNcfModel *model;
	const RsNcfLayout *lay;
	const RsNcfConfig *config;
	Workspace  *w;
	int			n_samples;
	int			n_chunks;
	int			wave_begin;		/* the chunks being run: [wave_begin, wave_end) */
	int			wave_end;
	int64_t		next_chunk;
	int			stopped;		/* set by the calling thread: take no more chunks */
} Batch;

typedef struct BatchWorker
{
	Batch	   *batch;
	float	   *scratch;
	RsStopClock *clock;			/* the calling thread's; NULL on the others */
} BatchWorker;

/* One chunk: forward, loss, backward; then APR's second pass. */
static void
run_chunk(Batch *b, int c, float *scratch)
{
	const RsNcfConfig *cfg = b->config;
	Workspace  *w = b->w;
	int			dim = rs_ncf_dim(&b->model->shape);
	int			begin = c * RS_NCF_CHUNK;
	int			n = b->n_samples - begin < RS_NCF_CHUNK ? b->n_samples - begin : RS_NCF_CHUNK;
	float	   *grad = w->chunk_grad + (size_t) (c - b->wave_begin) * b->lay->size;
	float	   *EU = w->EU + (size_t) begin * dim;
	float	   *EI = w->EI + (size_t) begin * dim;
	float		keep_scale = 1.0f / (1.0f - cfg->dropout);
	Pass		p;

	memset(grad, 0, sizeof(float) * b->lay->size);
	pass_carve(&p, b->model, b->lay, scratch, RS_NCF_CHUNK);
	pass_gather(&p, NULL, w->s_user + begin, w->s_item + begin, 0, n);
	pass_forward(&p, n, w->s_id + begin, cfg->dropout, cfg->seed);
	w->chunk_loss[c - b->wave_begin] = pass_loss(&p, n, w->s_label + begin, 1.0f / b->n_samples);
	pass_backward(&p, n, keep_scale, grad, EU, EI, 0);
	if (cfg->adv_weight > 0 && cfg->adv_epsilon > 0)
	{
		/* move each embedding eps along its own gradient, then again */
		for (int r = 0; r < n; r++)
			for (int side = 0; side < 2; side++)
			{
				float	   *g = (side == 0 ? EU : EI) + (size_t) r * dim;
				float	   *e = (side == 0 ? p.ue : p.ie) + (size_t) r * dim;
				double		norm = 0;

				for (int a = 0; a < dim; a++)
					norm += (double) g[a] * g[a];
				if (norm <= 0)
					continue;
				norm = cfg->adv_epsilon / sqrt(norm);
				for (int a = 0; a < dim; a++)
					e[a] += (float) (g[a] * norm);
			}
		pass_forward(&p, n, w->s_id + begin, cfg->dropout, cfg->seed);
		(void) pass_loss(&p, n, w->s_label + begin, cfg->adv_weight / b->n_samples);
		pass_backward(&p, n, keep_scale, grad, EU, EI, 1);
	}
}

static void *
batch_worker_main(void *arg)
{
	BatchWorker *bw = arg;
	int64_t		c0;
	int64_t		c1;

	Batch	   *b = bw->batch;
	/* a chunk's multiply-adds, about: forward, backward, twice with APR */
	int64_t		work = (int64_t) RS_NCF_CHUNK * b->lay->size *
		(b->config->adv_weight > 0 ? 6 : 3);

	while (!__atomic_load_n(&b->stopped, __ATOMIC_RELAXED) &&
		   rs_threads_grab(&b->next_chunk, 1, b->wave_end, &c0, &c1))
	{
		run_chunk(b, (int) c0, bw->scratch);
		/* wide layers make a long mini-batch: the caller asks between chunks too */
		if (bw->clock != NULL && rs_stop_tick(bw->clock, work))
			__atomic_store_n(&b->stopped, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Adam on n parameters from their gradient; lr_t has the bias correction. */
static inline void
adam(float *x, float *m, float *v, const float *g, int64_t n, float lr_t, const RsNcfConfig *c)
{
	for (int64_t e = 0; e < n; e++)
	{
		m[e] = c->beta1 * m[e] + (1 - c->beta1) * g[e];
		v[e] = c->beta2 * v[e] + (1 - c->beta2) * g[e] * g[e];
		x[e] -= lr_t * m[e] / (sqrtf(v[e]) + c->adam_eps);
	}
}

/* Sum rows' gradients (one per sample) into acc, listing the rows touched. */
static int32_t
gather_rows(const int32_t *rows, const float *E, int n, int dim, float *acc, uint8_t *touched,
			int32_t *list)
{
	int32_t		count = 0;

	for (int s = 0; s < n; s++)
	{
		int32_t		row = rows[s];

		if (!touched[row])
		{
			touched[row] = 1;
			list[count++] = row;
		}
		for (int a = 0; a < dim; a++)
			acc[(int64_t) row * dim + a] += E[(size_t) s * dim + a];
	}
	return count;
}

/* Lazy Adam on the listed embedding rows; their sums and marks cleared. */
static void
update_rows(float *emb, float *m, float *v, float *acc, uint8_t *touched, const int32_t *list,
			int32_t count, int dim, float lr_t, const RsNcfConfig *c)
{
	for (int32_t k = 0; k < count; k++)
	{
		int64_t		at = (int64_t) list[k] * dim;

		for (int a = 0; a < dim; a++)
			acc[at + a] += c->l2 * emb[at + a];
		adam(emb + at, m + at, v + at, acc + at, dim, lr_t, c);
		memset(acc + at, 0, sizeof(float) * dim);
		touched[list[k]] = 0;
	}
}

int
rs_ncf_train_epoch(RsNcfModel *model, const RsCsr *R, const RsNcfConfig *config, int epoch,
				   void *workspace, double *loss)
{
	const RsNcfShape *s = &model->shape;
	int			dim = rs_ncf_dim(s);
	int			per = 1 + config->negatives;
	int			threads = config->threads < 1 ? 1 : config->threads;
	int			create_failed = 0;
	double		total = 0;
	int64_t		n_samples_epoch;
	RsStopClock clock = rs_stop_clock(config->stop, config->stop_arg);
	RsNcfLayout lay;
	Workspace  *w;

	if (threads > RS_THREADS_MAX)
		threads = RS_THREADS_MAX;
	rs_ncf_layout(s, &lay);
	workspace_carve(s, R->nnz, config, workspace, &w);
	if (!w->prepared)
	{
		int64_t		n = 0;

		for (int32_t u = 0; u < R->n_rows; u++)
			for (int64_t e = R->indptr[u]; e < R->indptr[u + 1]; e++)
				if (R->data[e] > 0)
				{
					w->pos_user[n] = u;
					w->pos_item[n] = R->indices[e];
					n++;
				}
		w->n_pos = n;
		w->prepared = 1;
	}
	n_samples_epoch = w->n_pos * per;

	/* this epoch's order: a Fisher-Yates shuffle of the pairs */
	for (int64_t k = 0; k < w->n_pos; k++)
		w->order[k] = (int32_t) k;
	for (int64_t k = w->n_pos - 1; k > 0; k--)
	{
		int64_t		j = (int64_t) (rs_rng_u64(config->seed ^ STREAM_SHUFFLE,
											  (uint64_t) epoch * w->n_pos + k) % (uint64_t) (k + 1));
		int32_t		t = w->order[k];

		w->order[k] = w->order[j];
		w->order[j] = t;
	}

	for (int64_t start = 0; start < w->n_pos; start += config->batch)
	{
		int			nb = w->n_pos - start < config->batch ? (int) (w->n_pos - start) : config->batch;
		Batch		b;
		float		lr_t;
		int32_t		count;

		if (config->stop != NULL && config->stop(config->stop_arg))
			return RS_NCF_STOPPED;
		for (int q = 0; q < nb; q++)
		{
			int64_t		pair = start + q;
			int32_t		u = w->pos_user[w->order[pair]];

			for (int j = 0; j < per; j++)
			{
				int			sidx = q * per + j;
				int32_t		item = w->pos_item[w->order[pair]];

				if (j > 0)
				{
					uint64_t	counter = ((uint64_t) epoch * n_samples_epoch + pair * per + j) * NEGATIVE_TRIES;

					for (int t = 0; t < NEGATIVE_TRIES; t++)
					{
						item = (int32_t) (rs_rng_u64(config->seed ^ STREAM_NEGATIVE, counter + t) %
										  (uint64_t) s->n_items);
						if (!row_has(R, u, item))
							break;
					}
				}
				w->s_user[sidx] = u;
				w->s_item[sidx] = item;
				w->s_label[sidx] = j == 0 ? 1.0f : 0.0f;
				w->s_id[sidx] = (uint64_t) epoch * n_samples_epoch + pair * per + j;
			}
		}

		b.model = model;
		b.lay = &lay;
		b.config = config;
		b.w = w;
		b.n_samples = nb * per;
		b.n_chunks = (b.n_samples + RS_NCF_CHUNK - 1) / RS_NCF_CHUNK;
		b.stopped = 0;
		/*
		 * A wave of RS_NCF_WAVE chunks at a time (a fixed number, so the
		 * memory for their gradients does not grow with batch_size), each
		 * wave's gradients and losses then added in chunk order: the same
		 * sums, in the same order, as over the whole mini-batch at once.
		 */
		for (int wave = 0; wave < b.n_chunks; wave += RS_NCF_WAVE)
		{
			BatchWorker workers[RS_THREADS_MAX];
			int			nt;

			b.wave_begin = wave;
			b.wave_end = wave + RS_NCF_WAVE < b.n_chunks ? wave + RS_NCF_WAVE : b.n_chunks;
			b.next_chunk = wave;
			nt = threads < b.wave_end - wave ? threads : b.wave_end - wave;
			for (int t = 0; t < nt; t++)
			{
				workers[t].batch = &b;
				workers[t].scratch = w->thread_scratch + (size_t) t * pass_floats(s, RS_NCF_CHUNK);
				workers[t].clock = t == 0 ? &clock : NULL;
			}
			if (rs_threads_run(nt, batch_worker_main, workers, sizeof(BatchWorker)) != RS_THREADS_OK)
				create_failed = 1;
			if (b.stopped)
				return RS_NCF_STOPPED;
			for (int c = wave; c < b.wave_end; c++)
			{
				const float *g = w->chunk_grad + (size_t) (c - wave) * lay.size;

				if (c == 0)
					memcpy(w->dense_grad, g, sizeof(float) * lay.size);
				else
					for (int64_t e = 0; e < lay.size; e++)
						w->dense_grad[e] += g[e];
				total += w->chunk_loss[c - wave];
			}
		}
		for (int l = 0; l <= s->n_layers; l++)
			for (int64_t e = lay.weight[l]; e < lay.bias[l]; e++)
				w->dense_grad[e] += config->l2 * model->dense[e];

		w->step++;
		lr_t = (float) (config->learning_rate * sqrt(1.0 - pow(config->beta2, (double) w->step)) /
						(1.0 - pow(config->beta1, (double) w->step)));
		adam(model->dense, w->dense_m, w->dense_v, w->dense_grad, lay.size, lr_t, config);
		count = gather_rows(w->s_user, w->EU, b.n_samples, dim, w->user_acc, w->user_touched,
							w->user_list);
		update_rows(model->user, w->user_m, w->user_v, w->user_acc, w->user_touched, w->user_list,
					count, dim, lr_t, config);
		count = gather_rows(w->s_item, w->EI, b.n_samples, dim, w->item_acc, w->item_touched,
							w->item_list);
		update_rows(model->item, w->item_m, w->item_v, w->item_acc, w->item_touched, w->item_list,
					count, dim, lr_t, config);
	}
	*loss = n_samples_epoch > 0 ? total / n_samples_epoch : 0;
	return create_failed ? RS_NCF_ERR_THREAD : RS_NCF_OK;
}
