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
 * Metric: users with a test row; train items excluded; k = 10; binary
 * relevance; IDCG over min(|test items|, 10); test items unknown to train
 * count in |test| (as recsys.evaluate and the splits README define it).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ncf.h"
#include "rng.h"
#include "sparse.h"

typedef struct Pair
{
	long		user;
	long		item;
} Pair;

static Pair *
read_pairs(const char *path, long *n)
{
	char		cmd[4096];
	char		line[512];
	FILE	   *f;
	long		cap = 1 << 16;
	Pair	   *p = malloc(sizeof(Pair) * cap);

	snprintf(cmd, sizeof(cmd), "gzip -dc '%s'", path);
	f = popen(cmd, "r");
	if (f == NULL || fgets(line, sizeof(line), f) == NULL)
	{
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	*n = 0;
	while (fgets(line, sizeof(line), f))
	{
		if (*n == cap)
			p = realloc(p, sizeof(Pair) * (cap *= 2));
		if (sscanf(line, "%ld,%ld", &p[*n].user, &p[*n].item) == 2)
			(*n)++;
	}
	pclose(f);
	return p;
}

static int
cmp_long(const void *a, const void *b)
{
	long		x = *(const long *) a, y = *(const long *) b;

	return x < y ? -1 : x > y;
}

/* Sorted distinct ids and a lookup. */
static long *
distinct(const Pair *p, long n, int user, int *count)
{
	long	   *v = malloc(sizeof(long) * (n + 1));
	int			m = 0;

	for (long k = 0; k < n; k++)
		v[k] = user ? p[k].user : p[k].item;
	qsort(v, n, sizeof(long), cmp_long);
	for (long k = 0; k < n; k++)
		if (m == 0 || v[m - 1] != v[k])
			v[m++] = v[k];
	*count = m;
	return v;
}

static int
find(const long *v, int n, long id)
{
	int			lo = 0, hi = n;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (v[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo] == id ? lo : -1;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct Eval
{
	int			n_users;
	long	   *tptr;			/* per train user: test items (model index or -1) */
	int		   *titem;
} Eval;

static double
ndcg(const RsNcfModel *m, const RsCsr *R, const Eval *ev)
{
	int			n_items = m->shape.n_items;
	int			dim = rs_ncf_dim(&m->shape);
	float	   *scores = malloc(sizeof(float) * n_items);
	float	   *scratch = malloc(sizeof(float) * rs_ncf_score_scratch_floats(&m->shape));
	double		sum = 0;
	int			users = 0;

	for (int u = 0; u < ev->n_users; u++)
	{
		int			nt = (int) (ev->tptr[u + 1] - ev->tptr[u]);
		int			top[10];
		double		dcg = 0, idcg = 0;

		if (nt == 0)
			continue;
		users++;
		if (u >= R->n_rows)
			continue;			/* not in train: scores nothing */
		rs_ncf_score(m, m->user + (long) u * dim, NULL, 0, n_items, scores, scratch);
		for (long e = R->indptr[u]; e < R->indptr[u + 1]; e++)
			scores[R->indices[e]] = -INFINITY;
		for (int r = 0; r < 10; r++)
		{
			int			best = -1;

			for (int i = 0; i < n_items; i++)
			{
				int			taken = 0;

				for (int q = 0; q < r; q++)
					taken |= top[q] == i;
				if (!taken && scores[i] > -INFINITY && (best < 0 || scores[i] > scores[best]))
					best = i;
			}
			top[r] = best;
		}
		for (int r = 0; r < 10; r++)
		{
			for (long t = ev->tptr[u]; t < ev->tptr[u + 1]; t++)
				if (top[r] >= 0 && ev->titem[t] == top[r])
					dcg += 1 / log2(r + 2.0);
			if (r < nt)
				idcg += 1 / log2(r + 2.0);
		}
		sum += dcg / idcg;
	}
	free(scores);
	free(scratch);
	return users ? sum / users : 0;
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
	char		path[4096];
	long		ntrain, ntest;
	Pair	   *train, *test;
	int			n_users, n_items;
	long	   *uids, *iids;
	RsNcfModel	m;
	RsNcfConfig c;
	RsNcfLayout lay;
	RsCsr		R;
	Eval		ev;
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
	snprintf(path, sizeof(path), "%s/train.csv.gz", argv[1]);
	train = read_pairs(path, &ntrain);
	snprintf(path, sizeof(path), "%s/test.csv.gz", argv[1]);
	test = read_pairs(path, &ntest);
	uids = distinct(train, ntrain, 1, &n_users);
	iids = distinct(train, ntrain, 0, &n_items);

	/* train CSR (rows sorted by user, item in the files) */
	R.n_rows = n_users;
	R.n_cols = n_items;
	R.nnz = ntrain;
	R.indptr = calloc(n_users + 1, sizeof(int64_t));
	R.indices = malloc(sizeof(int32_t) * ntrain);
	R.data = malloc(sizeof(float) * ntrain);
	for (long k = 0; k < ntrain; k++)
		R.indptr[find(uids, n_users, train[k].user) + 1]++;
	for (int u = 0; u < n_users; u++)
		R.indptr[u + 1] += R.indptr[u];
	{
		int64_t    *fill = malloc(sizeof(int64_t) * n_users);

		memcpy(fill, R.indptr, sizeof(int64_t) * n_users);
		for (long k = 0; k < ntrain; k++)
		{
			int			u = find(uids, n_users, train[k].user);

			R.indices[fill[u]] = find(iids, n_items, train[k].item);
			R.data[fill[u]++] = 1;
		}
	}
	/* test items per train user; a test user not in train scores 0 */
	ev.n_users = n_users + 1;
	ev.tptr = calloc(ev.n_users + 1, sizeof(long));
	ev.titem = malloc(sizeof(int) * (ntest + 1));
	{
		long		nt = 0;
		int			missing = 0;

		for (int u = 0; u < n_users; u++)
		{
			ev.tptr[u] = nt;
			for (long k = 0; k < ntest; k++)
				if (test[k].user == uids[u])
					ev.titem[nt++] = find(iids, n_items, test[k].item);
		}
		for (long k = 0; k < ntest; k++)
			missing += find(uids, n_users, test[k].user) < 0;
		ev.tptr[n_users] = nt;
		/* users only in test: one pseudo-row counted as scoring 0 */
		ev.tptr[n_users + 1] = nt + (missing > 0);
		if (missing)
			ev.titem[nt] = -1;
	}

	m.shape.n_users = n_users;
	m.shape.n_items = n_items;
	m.shape.d_mlp = factors;
	m.shape.d_gmf = gmf ? factors : 0;
	rs_ncf_layout(&m.shape, &lay);
	m.user = malloc(sizeof(float) * n_users * rs_ncf_dim(&m.shape));
	m.item = malloc(sizeof(float) * n_items * rs_ncf_dim(&m.shape));
	m.dense = malloc(sizeof(float) * lay.size);
	rs_ncf_init(&m, c.seed, 0.01f);
	ws = calloc(1, rs_ncf_workspace_bytes(&m.shape, R.nnz, &c));
	for (int e = 0; e < epochs; e++)
	{
		t0 = now();
		rs_ncf_train_epoch(&m, &R, &c, e, ws, &loss);
		fit += now() - t0;
		if (every > 0 && (e + 1) % every == 0)
			printf("epoch %d loss %.4f fit %.1fs ndcg@10 %.4f\n", e + 1, loss, fit, ndcg(&m, &R, &ev));
	}
	printf("final loss %.4f fit %.1fs ndcg@10 %.4f\n", loss, fit, ndcg(&m, &R, &ev));
	if (perturb_eps > 0)
	{
		perturb(&m, &R, perturb_eps, c.seed + 1);
		printf("perturbed eps %g ndcg@10 %.4f\n", perturb_eps, ndcg(&m, &R, &ev));
	}
	return 0;
}
