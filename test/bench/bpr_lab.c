/*
 * bpr_lab.c
 *		Experiment harness for the BPR kernel (src/kernel/bpr.c) on the
 *		shared top-N splits, outside the server: trains as train_bpr does
 *		(same initialisation, strata, seed and APR warm start), prints test
 *		NDCG@10, then the robustness of APR's paper (He et al. SIGIR 2018,
 *		section 3): NDCG@10 after the worst-case perturbation of the
 *		trained embeddings, and after a random one of the same size.
 *
 * Build (from the repository root):
 *	cc -O2 -Isrc/kernel test/bench/bpr_lab.c src/kernel/bpr.c \
 *		src/kernel/threads.c src/kernel/simd.c -lpthread -lm -o /tmp/bpr_lab
 *
 * Run:
 *	/tmp/bpr_lab DIR [key=value ...]
 *	DIR holds train.csv.gz and test.csv.gz (a split, or its valid/ folder:
 *	tune on valid/ only).  Keys (train_bpr's defaults): factors=64,
 *	epochs=100, lr=0.05, reg=0.01, sampling=uniform|popularity|adaptive,
 *	adv_eps=0 (APR's epsilon in training, from epoch epochs/2 on, as
 *	train_bpr), adv_weight=1, seed=42, threads=2, perturb=EPS[,EPS...]
 *	(after training, each from the trained model), foldin=0 (1: every
 *	user's vector refitted by the SGD fold-in before the metric, as
 *	store_users => false serves), seen=1 (0: no bitmap of seen pairs;
 *	the model is the same), eval=1 (0: no metric),
 *	foldin_half_life=DAYS[,DAYS...] (with foldin=1: one fold-in per value,
 *	each item's steps weighted 0.5^(age / half_life), the age counted
 *	from the user's latest pair, as train_bpr's time_col and half_life
 *	refit the users; 0: not weighted).  It prints the fit's
 *	wall and CPU seconds and a hash of the model's bytes (equal hashes:
 *	bit-identical models, whatever threads or seen).
 *	README's BPR robustness table (D=/work/shared/data/splits):
 *	for a in 0 0.05 0.5; do
 *		/tmp/bpr_lab $D/ml-latest-small/strat75 factors=128 lr=0.1 reg=0.01 adv_eps=$a perturb=0.1,0.5
 *		/tmp/bpr_lab $D/online-retail/strat75 factors=128 lr=0.05 reg=0.01 adv_eps=$a perturb=0.1,0.5
 *	done
 *
 * The perturbation (one step, at the trained point, like the paper's
 * Delta_adv = eps * Gamma / ||Gamma||): every training pair (u, i) with one
 * negative j drawn uniformly among the items u has not (seed + 1) gives
 * the BPR data loss l = -ln sigmoid(x_u . (y_i - y_j) + b_i - b_j); Gamma
 * of an embedding is the gradient of the sum of l over the triples it is
 * in (x_u: its user's, y_i: those where it is positive or negative), no
 * regularisation term; each embedding (row) then moves by eps times its
 * Gamma divided by Gamma's L2 norm (per-row normalisation, as the paper's
 * code and ncf_lab.c do), so every user and item vector moves by exactly
 * eps in the direction that increases its loss most to first order.  The
 * item biases are not perturbed (the paper's MF has none; train_bpr's APR
 * perturbs the embeddings only).  "random": each row moves by eps along a
 * Gaussian direction instead.  The mean L2 norms of the trained user and
 * item vectors are printed to give eps its scale.
 *
 * Metric: lab_split.h (recsys.evaluate's definition).
 */
#include "bpr.h"
#include "lab_split.h"
#include "rng.h"

typedef struct Model
{
	int			k;
	const float *X;
	const float *Y;
	const float *bias;
	int			n_items;
} Model;

static void
score_bpr(void *arg, int u, float *scores)
{
	const Model *m = arg;
	const float *x = m->X + (long) u * m->k;

	for (int i = 0; i < m->n_items; i++)
	{
		const float *y = m->Y + (long) i * m->k;
		float		s = m->bias[i];

		for (int a = 0; a < m->k; a++)
			s += x[a] * y[a];
		scores[i] = s;
	}
}

static double
mean_norm(const float *X, long rows, int k)
{
	double		sum = 0;

	for (long r = 0; r < rows; r++)
	{
		double		n = 0;

		for (int a = 0; a < k; a++)
			n += (double) X[r * k + a] * X[r * k + a];
		sum += sqrt(n);
	}
	return rows ? sum / rows : 0;
}

static int
has_item(const RsCsr *R, int u, int32_t j)
{
	for (int64_t e = R->indptr[u]; e < R->indptr[u + 1]; e++)
		if (R->indices[e] == j)
			return 1;
	return 0;
}

/* Move each row of X (rows x k) by eps along its row of G (unit-normalised). */
static void
move_rows(float *X, const double *G, long rows, int k, double eps)
{
	for (long r = 0; r < rows; r++)
	{
		double		norm = 0;

		for (int a = 0; a < k; a++)
			norm += G[r * k + a] * G[r * k + a];
		if (norm > 0)
			for (int a = 0; a < k; a++)
				X[r * k + a] += (float) (eps * G[r * k + a] / sqrt(norm));
	}
}

/*
 * X, Y: the perturbed copies (in: the trained values).  worst: the loss
 * gradient's direction, else a Gaussian one.
 */
static void
perturb(const RsCsr *R, float *X, float *Y, const float *bias, int k, double eps,
		int worst, uint64_t seed)
{
	long		nu = R->n_rows, ni = R->n_cols;
	double	   *gx = calloc((size_t) nu * k, sizeof(double));
	double	   *gy = calloc((size_t) ni * k, sizeof(double));
	uint64_t	draw = 0;

	if (worst)
		for (int u = 0; u < nu; u++)
			for (int64_t e = R->indptr[u]; e < R->indptr[u + 1]; e++)
			{
				int32_t		i = R->indices[e], j = -1;
				const float *x = X + (long) u * k;
				const float *yi = Y + (long) i * k, *yj;
				double		z, s;

				for (int tries = 0; tries < 64 && j < 0; tries++)
				{
					int32_t		c = (int32_t) (rs_rng_u64(seed, draw++) % ni);

					if (!has_item(R, u, c))
						j = c;
				}
				if (j < 0)
					continue;
				yj = Y + (long) j * k;
				z = bias[i] - bias[j];
				for (int a = 0; a < k; a++)
					z += (double) x[a] * (yi[a] - yj[a]);
				s = 1 / (1 + exp(z));	/* -dl/dz = sigmoid(-z) */
				for (int a = 0; a < k; a++)
				{
					gx[(long) u * k + a] -= s * (yi[a] - yj[a]);
					gy[(long) i * k + a] -= s * x[a];
					gy[(long) j * k + a] += s * x[a];
				}
			}
	else
	{
		for (long r = 0; r < nu * k; r++)
			gx[r] = rs_rng_normal(seed, draw++);
		for (long r = 0; r < ni * k; r++)
			gy[r] = rs_rng_normal(seed, draw++);
	}
	/* every gradient above was taken at the trained point: move afterwards */
	move_rows(X, gx, nu, k, eps);
	move_rows(Y, gy, ni, k, eps);
	free(gx);
	free(gy);
}

/* 0.5^(age / half_life) per train pair, age from the user's latest (train_bpr's time_col) */
static float *
recency_weights(const LabSplit *s, double half_life_days)
{
	float	   *weight = malloc(sizeof(float) * (s->R.nnz + 1));

	for (int u = 0; u < s->n_users; u++)
	{
		double		latest = -INFINITY;

		for (long p = s->R.indptr[u]; p < s->R.indptr[u + 1]; p++)
			if (s->seconds[p] > latest)
				latest = s->seconds[p];
		for (long p = s->R.indptr[u]; p < s->R.indptr[u + 1]; p++)
			weight[p] = (float) exp2(-(latest - s->seconds[p]) / (half_life_days * 86400));
	}
	return weight;
}

int
main(int argc, char **argv)
{
	LabSplit	s;
	RsBprRun	run;
	Model		m;
	int			epochs = 100, threads = 2, B, st;
	char	   *perturbs = NULL;
	double		t0, c0, loss;
	int			eval = 1, use_seen = 1, foldin = 0;
	char	   *foldin_half_lives = strdup("0");

	if (argc < 2)
	{
		fprintf(stderr, "usage: bpr_lab DIR [key=value ...]\n");
		return 2;
	}
	memset(&run, 0, sizeof(run));
	run.k = 64;
	run.learning_rate = 0.05f;
	run.reg = 0.01f;
	run.adv_weight = 1;
	run.seed = 42;
	for (int a = 2; a < argc; a++)
	{
		char	   *eq = strchr(argv[a], '=');
		const char *v = eq ? eq + 1 : "";

		if (!eq)
			continue;
		*eq = '\0';
		if (!strcmp(argv[a], "factors")) run.k = atoi(v);
		else if (!strcmp(argv[a], "epochs")) epochs = atoi(v);
		else if (!strcmp(argv[a], "lr")) run.learning_rate = atof(v);
		else if (!strcmp(argv[a], "reg")) run.reg = atof(v);
		else if (!strcmp(argv[a], "adv_eps")) run.adv_epsilon = atof(v);
		else if (!strcmp(argv[a], "adv_weight")) run.adv_weight = atof(v);
		else if (!strcmp(argv[a], "seed")) run.seed = strtoull(v, NULL, 10);
		else if (!strcmp(argv[a], "threads")) threads = atoi(v);
		else if (!strcmp(argv[a], "eval")) eval = atoi(v);
		else if (!strcmp(argv[a], "seen")) use_seen = atoi(v);
		else if (!strcmp(argv[a], "foldin")) foldin = atoi(v);
		else if (!strcmp(argv[a], "foldin_half_life")) foldin_half_lives = strdup(v);
		else if (!strcmp(argv[a], "perturb")) perturbs = strdup(v);
		else if (!strcmp(argv[a], "sampling"))
			run.sampling = !strcmp(v, "popularity") ? RS_BPR_POPULARITY :
				!strcmp(v, "adaptive") ? RS_BPR_ADAPTIVE : RS_BPR_UNIFORM;
		else
		{
			fprintf(stderr, "unknown key %s\n", argv[a]);
			return 2;
		}
	}
	lab_load(argv[1], &s);
	run.R = &s.R;
	run.nblocks = B = rs_bpr_blocks(&s.R);
	run.X = calloc((size_t) s.n_users * run.k, sizeof(float));
	run.Y = calloc((size_t) s.n_items * run.k, sizeof(float));
	run.bias = calloc(s.n_items, sizeof(float));
	run.cell_start = malloc(sizeof(int64_t) * (B * B + 1));
	run.cell_user = malloc(sizeof(int32_t) * (s.R.nnz + 1));
	run.cell_item = malloc(sizeof(int32_t) * (s.R.nnz + 1));
	run.block_item_start = malloc(sizeof(int64_t) * (B + 1));
	run.block_items = malloc(sizeof(int32_t) * (s.n_items + 1));
	run.pool_start = malloc(sizeof(int64_t) * (B + 1));
	run.pool_items = malloc(sizeof(int32_t) * (s.R.nnz + 1));
	run.cell_loss = malloc(sizeof(double) * B * B);
	if (use_seen && rs_bpr_seen_words(&run) > 0)
	{
		run.seen = calloc(sizeof(uint64_t), rs_bpr_seen_words(&run));
		run.user_row = malloc(sizeof(int32_t) * s.n_users);
		run.item_col = malloc(sizeof(int32_t) * s.n_items);
		printf("seen bitmap: %ld words\n", (long) rs_bpr_seen_words(&run));
	}
	if ((st = rs_bpr_prepare(&run)) != RS_BPR_OK)
	{
		fprintf(stderr, "prepare: %s\n", rs_bpr_strerror(st));
		return 1;
	}
	/* as train_bpr's fit() */
	rs_bpr_init_rows(run.X, 0, s.n_users, run.k, run.seed);
	rs_bpr_init_rows(run.Y, 0, s.n_items, run.k, run.seed ^ UINT64_C(0x5DEECE66D));
	t0 = lab_now();
	c0 = (double) clock() / CLOCKS_PER_SEC;
	for (int e = 0; e < epochs; e++)
	{
		run.track_loss = e == epochs - 1;
		for (int b = 0; b < B; b++)
			if ((st = rs_bpr_stratum(&run, e, b, run.adv_epsilon > 0 && e >= epochs / 2,
									 threads, NULL, NULL)) != RS_BPR_OK)
			{
				fprintf(stderr, "stratum: %s\n", rs_bpr_strerror(st));
				return 1;
			}
	}
	loss = rs_bpr_epoch_loss(&run);
	m.k = run.k;
	m.X = run.X;
	m.Y = run.Y;
	m.bias = run.bias;
	m.n_items = s.n_items;
	printf("%s: %d users, %d items, %ld pairs, %d blocks; f=%d lr=%g reg=%g adv_eps=%g\n",
		   argv[1], s.n_users, s.n_items, (long) s.R.nnz, B, run.k,
		   (double) run.learning_rate, (double) run.reg, (double) run.adv_epsilon);
	printf("fit %.3fs cpu %.3fs, last loss %.4f, mean |x_u| %.3f, mean |y_i| %.3f\n", lab_now() - t0, (double) clock() / CLOCKS_PER_SEC - c0, loss,
		   mean_norm(run.X, s.n_users, run.k), mean_norm(run.Y, s.n_items, run.k));
	{
		unsigned long long fnv = 1469598103934665603ULL;
		const unsigned char *bx = (const unsigned char *) run.X, *by = (const unsigned char *) run.Y, *bb = (const unsigned char *) run.bias;
		for (size_t q = 0; q < sizeof(float) * s.n_users * run.k; q++) fnv = (fnv ^ bx[q]) * 1099511628211ULL;
		for (size_t q = 0; q < sizeof(float) * s.n_items * run.k; q++) fnv = (fnv ^ by[q]) * 1099511628211ULL;
		for (size_t q = 0; q < sizeof(float) * s.n_items; q++) fnv = (fnv ^ bb[q]) * 1099511628211ULL;
		printf("model hash %016llx\n", fnv);
	}
	if (foldin && eval)
		printf("stored users ndcg@10 %.4f\n", lab_ndcg(&s, score_bpr, &m));
	for (char *save = NULL, *tok = foldin ? strtok_r(foldin_half_lives, ",", &save) : NULL; tok;
		 tok = strtok_r(NULL, ",", &save))
	{
		/* store_users => false: each user folded in as kind_factors.c does */
		float	   *fw = atof(tok) > 0 ? recency_weights(&s, atof(tok)) : NULL;

		for (int u = 0; u < s.n_users; u++)
		{
			float	   *x = run.X + (long) u * run.k;

			memset(x, 0, sizeof(float) * run.k);
			rs_bpr_fold_in(run.Y, run.bias, s.n_items, run.k, s.R.indices + s.R.indptr[u],
						   fw ? fw + s.R.indptr[u] : NULL, (int32_t) (s.R.indptr[u + 1] - s.R.indptr[u]),
						   run.learning_rate, run.reg, run.seed, 0, epochs, x);
		}
		free(fw);
		if (eval)
			printf("folded in (fold-in half-life %s days) ndcg@10 %.4f\n", tok, lab_ndcg(&s, score_bpr, &m));
	}
	if (eval && !foldin) printf("clean ndcg@10 %.4f\n", lab_ndcg(&s, score_bpr, &m));
	for (char *save = NULL, *tok = perturbs ? strtok_r(perturbs, ",", &save) : NULL; tok;
		 tok = strtok_r(NULL, ",", &save))
	{
		size_t		xs = sizeof(float) * s.n_users * run.k, ys = sizeof(float) * s.n_items * run.k;
		float	   *X = malloc(xs), *Y = malloc(ys);

		m.X = X;
		m.Y = Y;
		for (int worst = 1; worst >= 0; worst--)
		{
			memcpy(X, run.X, xs);
			memcpy(Y, run.Y, ys);
			perturb(&s.R, X, Y, run.bias, run.k, atof(tok), worst, run.seed + 1);
			printf("eps %s %s ndcg@10 %.4f\n", tok, worst ? "worst-case" : "random", lab_ndcg(&s, score_bpr, &m));
		}
		free(X);
		free(Y);
	}
	return 0;
}
