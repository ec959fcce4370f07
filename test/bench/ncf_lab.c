/*
 * ncf_lab.c
 *		Experiment harness for the NCF kernel (src/kernel/ncf.c) on the
 *		shared top-N splits, outside the server: trains on a split's train
 *		file, prints NDCG@10 on its test file per epoch (or at the end),
 *		and the robustness of APR's paper: NDCG@10 after the worst-case
 *		perturbation of the trained embeddings.
 *
 * Build (from the repository root):
 *	cc -O2 -Isrc/kernel test/bench/ncf_lab.c src/kernel/ncf.c \
 *		src/kernel/sparse.c src/kernel/threads.c -lopenblas -lpthread -lm -o /tmp/ncf_lab
 *
 * Run:
 *	OPENBLAS_NUM_THREADS=1 /tmp/ncf_lab DIR [key=value ...]
 *	DIR holds train.csv.gz and test.csv.gz (a split, or its valid/ folder:
 *	tune on valid/ only).  Keys: factors (per branch), gmf=0|1, hidden=64,32
 *	(empty: none), epochs, lr, l2, dropout, negatives, batch, adv_eps,
 *	adv_weight, seed, threads, every=N (NDCG every N epochs), perturb=EPS
 *	(after training: NDCG after moving every embedding EPS along the
 *	normalised gradient of the training loss, one sampled negative per
 *	pair: APR's worst-case perturbation).
 *
 * Metric: lab_split.h (recsys.evaluate's definition).
 */
#include "lab_split.h"
#include "ncf.h"
#include "rng.h"

typedef struct NcfScore
{
	const RsNcfModel *m;
	float	   *scratch;
} NcfScore;

static void
score_ncf(void *arg, int u, float *scores)
{
	const NcfScore *c = arg;
	const RsNcfModel *m = c->m;

	rs_ncf_score(m, m->user + (long) u * rs_ncf_dim(&m->shape), NULL, 0, m->shape.n_items,
				 scores, c->scratch);
}

static double
ndcg(const RsNcfModel *m, const LabSplit *s)
{
	NcfScore	c = {m, malloc(sizeof(float) * rs_ncf_score_scratch_floats(&m->shape))};
	double		v = lab_ndcg(s, score_ncf, &c);

	free(c.scratch);
	return v;
}

/* Move every embedding eps along its row of the training loss's gradient. */
static void
perturb(RsNcfModel *m, const RsCsr *R, float eps, uint64_t seed)
{
	int			dim = rs_ncf_dim(&m->shape);
	RsNcfLayout lay;
	float	   *gu_all = calloc((size_t) m->shape.n_users * dim, sizeof(float));
	float	   *gi_all = calloc((size_t) m->shape.n_items * dim, sizeof(float));
	int			B = 256;
	int32_t		users[256], items[256];
	float		labels[256];
	float	   *dg, *gu, *gi;
	float	   *scratch = malloc(sizeof(float) * rs_ncf_sample_scratch_floats(&m->shape, B));
	int			n = 0;
	long		draw = 0;

	rs_ncf_layout(&m->shape, &lay);
	dg = malloc(sizeof(float) * lay.size);
	gu = malloc(sizeof(float) * B * dim);
	gi = malloc(sizeof(float) * B * dim);
	for (int u = 0; u < R->n_rows; u++)
		for (long e = R->indptr[u]; e < R->indptr[u + 1] || n > 0; e++)
		{
			if (e < R->indptr[u + 1])
			{
				users[n] = u;
				items[n] = R->indices[e];
				labels[n++] = 1;
				users[n] = u;
				items[n] = (int32_t) (rs_rng_u64(seed, draw++) % m->shape.n_items);
				labels[n++] = 0;
			}
			if (n == B || (e >= R->indptr[u + 1] - 1 && n > 0))
			{
				rs_ncf_loss_gradient(m, users, items, labels, n, dg, gu, gi, scratch);
				for (int s = 0; s < n; s++)
					for (int a = 0; a < dim; a++)
					{
						gu_all[(long) users[s] * dim + a] += gu[s * dim + a];
						gi_all[(long) items[s] * dim + a] += gi[s * dim + a];
					}
				n = 0;
				if (e >= R->indptr[u + 1] - 1)
					break;
			}
		}
	for (int side = 0; side < 2; side++)
	{
		float	   *g = side ? gi_all : gu_all;
		float	   *x = side ? m->item : m->user;
		int			rows = side ? m->shape.n_items : m->shape.n_users;

		for (long r = 0; r < rows; r++)
		{
			double		norm = 0;

			for (int a = 0; a < dim; a++)
				norm += (double) g[r * dim + a] * g[r * dim + a];
			if (norm > 0)
				for (int a = 0; a < dim; a++)
					x[r * dim + a] += (float) (eps * g[r * dim + a] / sqrt(norm));
		}
	}
	free(gu_all);
	free(gi_all);
	free(dg);
	free(gu);
	free(gi);
	free(scratch);
}

int
main(int argc, char **argv)
{
	LabSplit	s;
	RsNcfModel	m;
	RsNcfConfig c;
	RsNcfLayout lay;
	const RsCsr *R = &s.R;
	int			n_users, n_items;
	int			epochs = 20, every = 0, factors = 32, gmf = 1;
	float		perturb_eps = 0;
	double		t0, fit = 0, loss = 0;
	void	   *ws;

	if (argc < 2)
	{
		fprintf(stderr, "usage: ncf_lab DIR [key=value ...]\n");
		return 2;
	}
	memset(&m, 0, sizeof(m));
	memset(&c, 0, sizeof(c));
	c.batch = 256;
	c.negatives = 4;
	c.learning_rate = 0.001f;
	c.beta1 = 0.9f;
	c.beta2 = 0.999f;
	c.adam_eps = 1e-7f;
	c.seed = 42;
	c.threads = 2;
	m.shape.n_layers = 2;
	m.shape.hidden[0] = 64;
	m.shape.hidden[1] = 32;
	for (int a = 2; a < argc; a++)
	{
		char	   *eq = strchr(argv[a], '=');
		const char *v = eq ? eq + 1 : "";

		if (!eq)
			continue;
		*eq = '\0';
		if (!strcmp(argv[a], "factors")) factors = atoi(v);
		else if (!strcmp(argv[a], "gmf")) gmf = atoi(v);
		else if (!strcmp(argv[a], "epochs")) epochs = atoi(v);
		else if (!strcmp(argv[a], "every")) every = atoi(v);
		else if (!strcmp(argv[a], "lr")) c.learning_rate = atof(v);
		else if (!strcmp(argv[a], "l2")) c.l2 = atof(v);
		else if (!strcmp(argv[a], "dropout")) c.dropout = atof(v);
		else if (!strcmp(argv[a], "negatives")) c.negatives = atoi(v);
		else if (!strcmp(argv[a], "batch")) c.batch = atoi(v);
		else if (!strcmp(argv[a], "adv_eps")) c.adv_epsilon = atof(v);
		else if (!strcmp(argv[a], "adv_weight")) c.adv_weight = atof(v);
		else if (!strcmp(argv[a], "seed")) c.seed = atol(v);
		else if (!strcmp(argv[a], "threads")) c.threads = atoi(v);
		else if (!strcmp(argv[a], "perturb")) perturb_eps = atof(v);
		else if (!strcmp(argv[a], "hidden"))
		{
			char	   *s = strdup(v), *tok, *save = NULL;

			m.shape.n_layers = 0;
			for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				m.shape.hidden[m.shape.n_layers++] = atoi(tok);
		}
		else
		{
			fprintf(stderr, "unknown key %s\n", argv[a]);
			return 2;
		}
	}
	lab_load(argv[1], &s);
	n_users = s.n_users;
	n_items = s.n_items;

	m.shape.n_users = n_users;
	m.shape.n_items = n_items;
	m.shape.d_mlp = factors;
	m.shape.d_gmf = gmf ? factors : 0;
	rs_ncf_layout(&m.shape, &lay);
	m.user = malloc(sizeof(float) * n_users * rs_ncf_dim(&m.shape));
	m.item = malloc(sizeof(float) * n_items * rs_ncf_dim(&m.shape));
	m.dense = malloc(sizeof(float) * lay.size);
	rs_ncf_init(&m, c.seed, 0.01f);
	ws = calloc(1, rs_ncf_workspace_bytes(&m.shape, R->nnz, &c));
	for (int e = 0; e < epochs; e++)
	{
		t0 = lab_now();
		rs_ncf_train_epoch(&m, R, &c, e, ws, &loss);
		fit += lab_now() - t0;
		if (every > 0 && (e + 1) % every == 0)
			printf("epoch %d loss %.4f fit %.1fs ndcg@10 %.4f\n", e + 1, loss, fit, ndcg(&m, &s));
	}
	printf("final loss %.4f fit %.1fs ndcg@10 %.4f\n", loss, fit, ndcg(&m, &s));
	if (perturb_eps > 0)
	{
		perturb(&m, R, perturb_eps, c.seed + 1);
		printf("perturbed eps %g ndcg@10 %.4f\n", perturb_eps, ndcg(&m, &s));
	}
	return 0;
}
