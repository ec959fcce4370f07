/*
 * cold_lab.c
 *		Experiment harness for cold items (issue 15), outside the server:
 *		the cold-item split, the content-only tf-idf kNN baseline
 *		and a LightFM-style hybrid (Kula 2015): an item's vector and bias
 *		are the weighted sums of its features' vectors and biases, trained
 *		by WARP or BPR with Adagrad on the warm items' pairs, so that a
 *		cold item's vector lives in the space the users are scored in.
 *		Prints NDCG@10 among the cold items, and of mixes with the content
 *		score (ln content + c * hybrid z-score).  With scorers=1 instead:
 *		linear content-to-behaviour maps (a ridge map from the words to
 *		the warm items' ALS vectors; CB2CF's direct form), content kNN
 *		with sharpened cosines, the feature popularity prior, item-kNN's
 *		learned cold lists (a'S, a CB2CF's weights), and their mix with
 *		the content score, fitted (fit=1) on pseudo-cold warm items by
 *		cold_items.sh ridge and pseudo.
 *
 * Build (from the repository root):
 *	cc -O2 -Isrc/kernel test/bench/cold_lab.c -lm -o /tmp/cold_lab
 *
 * Run:
 *	/tmp/cold_lab SPLITDIR FEATURES.csv COLD.csv [key=value ...]
 *	SPLITDIR holds train.csv.gz and test.csv.gz (strat75 or its valid/);
 *	FEATURES.csv: item_id,feature rows; COLD.csv: the cold item ids
 *	(cold_items.sh's definition: the first 10% in md5('42:' || item_id)
 *	order).  Keys: k=32 epochs=30 lr=0.05 reg=0 loss=warp|bpr
 *	max_sampled=10 norm=sum|sqrt|tfidf (each item's feature weights sum to
 *	1 / have unit L2 norm / are unit tf-idf) id=0 (1: plus an item-id
 *	feature, dropped for cold items) seed=42 mix=c1,c2,...
 *	scorers=1 (instead of the hybrid: the ridge maps and a fitted mix,
 *	run_scorers below): als_k=32 als_iters=10 als_alpha=10 als_reg=0.05
 *	ridge_lambda=1 cb2cf_lambda=1 ridge_weights=tfidf|sqrtidf|binary
 *	content_power=3 lists_k=100 fit=1 (fit the mix here) coef=c1,...,c5
 *	terms=11111 (which of the five terms the fit may use: 0 keeps one at
 *	zero) trunc=K (the list-type terms - content, CB2CF's a, the lists a'S -
 *	truncated to their K largest weights per cold item, as stored)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab_split.h"
#include "rng.h"

static int
cmp_pair(const void *x, const void *y)
{
	const LabPair *p = x, *q = y;

	if (p->user != q->user)
		return p->user < q->user ? -1 : 1;
	return p->item < q->item ? -1 : p->item > q->item;
}

/* index of id in sorted ids[n], -1 if absent */
static long
find(const long *ids, long n, long id)
{
	const long *p = bsearch(&id, ids, n, sizeof(long), lab_cmp_long);

	return p ? p - ids : -1;
}

/* ---- features: a string table ---- */
typedef struct Feat
{
	long		item;
	char	   *name;
	int			id;
} Feat;

static int
cmp_feat_name(const void *x, const void *y)
{
	return strcmp(((const Feat *) x)->name, ((const Feat *) y)->name);
}

static int
cmp_feat_item(const void *x, const void *y)
{
	const Feat *p = x, *q = y;

	if (p->item != q->item)
		return p->item < q->item ? -1 : 1;
	return p->id - q->id;
}

/* ---- the data ---- */
static int	n_items, n_users, n_feat, n_word;
static long *iids, *uids;
static char *is_cold;
static long *r_ptr;				/* train CSR, warm items only, per user */
static int *r_idx;
static long *t_ptr;				/* test: per user, cold items */
static int *t_idx;
static long *f_ptr;				/* per item: its features (prefixed) */
static int *f_idx;
static float *f_w;
static long *w_ptr;				/* per item: unit tf-idf over words (prefix stripped) */
static int *w_idx;
static float *w_w;
static int *cold_list, n_cold;
static int *warm_list, n_warm;

/* the value of key=value among the arguments after the three files, or NULL */
static const char *
arg_value(int argc, char **argv, const char *key)
{
	size_t		n = strlen(key);

	for (int i = 4; i < argc; i++)
		if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
			return argv[i] + n + 1;
	return NULL;
}

static long
arg_long(int argc, char **argv, const char *key, long def)
{
	const char *v = arg_value(argc, argv, key);

	return v ? atol(v) : def;
}

static double
arg_double(int argc, char **argv, const char *key, double def)
{
	const char *v = arg_value(argc, argv, key);

	return v ? atof(v) : def;
}

static const char *
arg_str(int argc, char **argv, const char *key, const char *def)
{
	const char *v = arg_value(argc, argv, key);

	return v ? v : def;
}

/*
 * A Fisher-Yates shuffle of order[n] in place (of 0 .. n - 1 when first),
 * from seed's stream at *ctr: each epoch shuffles the previous order.
 */
static void
shuffle(long *order, long n, int first, uint64_t seed, uint64_t *ctr)
{
	for (long p = 0; first && p < n; p++)
		order[p] = p;
	for (long p = n - 1; p > 0; p--)
	{
		long		j = rs_rng_u64(seed, (*ctr)++) % (p + 1), t = order[p];

		order[p] = order[j];
		order[j] = t;
	}
}

/* feature rows: item -> (id, name); builds f_* (prefixed) and w_* (words) */
static void
read_features(const char *path, const char *norm)
{
	FILE	   *f = fopen(path, "r");
	char		line[1024];
	long		n = 0, cap = 1 << 16;
	Feat	   *rows = malloc(sizeof(Feat) * cap);

	if (!f)
	{
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *c = strchr(line, ',');
		long		it;

		if (!c)
			continue;
		*c = 0;
		it = find(iids, n_items, atol(line));
		if (it < 0)
			continue;
		c[strcspn(c + 1, "\r\n") + 1] = 0;
		if (n == cap)
			rows = realloc(rows, sizeof(Feat) * (cap *= 2));
		rows[n].item = it;
		rows[n].name = strdup(c + 1);
		n++;
	}
	fclose(f);
	for (int pass = 0; pass < 2; pass++)
	{
		/* pass 0: prefixed features; pass 1: words, prefix stripped */
		Feat	   *r = malloc(sizeof(Feat) * n);
		int			nid = 0;
		long		m = 0;
		long	   *ptr = calloc(n_items + 1, sizeof(long));
		int		   *idx;
		float	   *w;
		int		   *df;

		for (long i = 0; i < n; i++)
		{
			r[i] = rows[i];
			if (pass == 1)
			{
				char	   *p = r[i].name;

				while (*p >= 'a' && *p <= 'z')
					p++;
				if (*p == ':' && p > r[i].name)
					r[i].name = p + 1;
			}
		}
		qsort(r, n, sizeof(Feat), cmp_feat_name);
		for (long i = 0; i < n; i++)
		{
			if (i > 0 && strcmp(r[i].name, r[i - 1].name) != 0)
				nid++;
			r[i].id = nid;
		}
		nid = n ? nid + 1 : 0;
		qsort(r, n, sizeof(Feat), cmp_feat_item);
		/* distinct (item, id) */
		for (long i = 0; i < n; i++)
			if (m == 0 || r[i].item != r[m - 1].item || r[i].id != r[m - 1].id)
				r[m++] = r[i];
		idx = malloc(sizeof(int) * (m ? m : 1));
		w = malloc(sizeof(float) * (m ? m : 1));
		df = calloc(nid ? nid : 1, sizeof(int));
		for (long i = 0; i < m; i++)
		{
			ptr[r[i].item + 1]++;
			idx[i] = r[i].id;
			df[r[i].id]++;
		}
		for (int i = 0; i < n_items; i++)
			ptr[i + 1] += ptr[i];
		{
			int			n_with = 0;

			for (int i = 0; i < n_items; i++)
				n_with += ptr[i + 1] > ptr[i];
			for (int i = 0; i < n_items; i++)
			{
				double		s = 0;
				int			tfidf = pass == 1 || strcmp(norm, "tfidf") == 0;

				for (long p = ptr[i]; p < ptr[i + 1]; p++)
				{
					double		v = tfidf ? log((double) n_with / df[idx[p]]) : 1.0;

					w[p] = v;
					s += strcmp(norm, "sum") == 0 && !tfidf ? v : v * v;
				}
				if (!(strcmp(norm, "sum") == 0 && !tfidf))
					s = sqrt(s);
				for (long p = ptr[i]; p < ptr[i + 1]; p++)
					w[p] = s > 0 ? w[p] / s : 0;
			}
		}
		if (pass == 0)
		{
			f_ptr = ptr, f_idx = idx, f_w = w, n_feat = nid;
		}
		else
		{
			w_ptr = ptr, w_idx = idx, w_w = w, n_word = nid;
		}
		free(df);
		free(r);
	}
}

/* ---- the metric ---- */
typedef struct Scored
{
	float		s;
	int			item;
} Scored;

static int
cmp_scored(const void *x, const void *y)
{
	const Scored *p = x, *q = y;

	if (p->s != q->s)
		return p->s > q->s ? -1 : 1;
	return iids[p->item] < iids[q->item] ? -1 : 1;
}

/*
 * NDCG@10 among the cold items; score[u * n_cold + c]; NAN: not ranked.
 * The top 10 by insertion (ties: the smaller item id first), as a full
 * sort would rank them: the mix fit calls this thousands of times.
 */
static double
ndcg_cold(const float *score)
{
	double		total = 0;
	int			users = 0;
	Scored		top[10];

	for (int u = 0; u < n_users; u++)
	{
		int			m = 0, nt = t_ptr[u + 1] - t_ptr[u];
		double		dcg = 0, idcg = 0;

		if (nt == 0)
			continue;
		users++;
		for (int c = 0; c < n_cold; c++)
		{
			Scored		x;
			int			r;

			x.s = score[(long) u * n_cold + c];
			x.item = cold_list[c];
			if (isnan(x.s) || (m == 10 && (x.s < top[9].s || cmp_scored(&x, &top[9]) >= 0)))
				continue;
			for (r = m < 10 ? m : 9; r > 0 && cmp_scored(&x, &top[r - 1]) < 0; r--)
				top[r] = top[r - 1];
			top[r] = x;
			if (m < 10)
				m++;
		}
		for (int r = 0; r < m; r++)
			for (long p = t_ptr[u]; p < t_ptr[u + 1]; p++)
				if (t_idx[p] == top[r].item)
				{
					dcg += 1 / log2(r + 2.0);
					break;
				}
		for (int r = 0; r < nt && r < 10; r++)
			idcg += 1 / log2(r + 2.0);
		total += dcg / idcg;
	}
	return users ? total / users : 0;
}

/* the baseline: sum over the user's items of the tf-idf cosine of words */
static float *
content_scores(void)
{
	float	   *score = malloc(sizeof(float) * (long) n_users * n_cold);
	double	   *prof = calloc(n_word, sizeof(double));

	for (int u = 0; u < n_users; u++)
	{
		if (t_ptr[u + 1] == t_ptr[u])
			continue;
		for (long p = r_ptr[u]; p < r_ptr[u + 1]; p++)
			for (long q = w_ptr[r_idx[p]]; q < w_ptr[r_idx[p] + 1]; q++)
				prof[w_idx[q]] += w_w[q];
		for (int c = 0; c < n_cold; c++)
		{
			double		s = 0;
			int			any = 0;

			for (long q = w_ptr[cold_list[c]]; q < w_ptr[cold_list[c] + 1]; q++)
			{
				s += prof[w_idx[q]] * w_w[q];
				any |= prof[w_idx[q]] != 0;
			}
			score[(long) u * n_cold + c] = any ? s : NAN;
		}
		for (long p = r_ptr[u]; p < r_ptr[u + 1]; p++)
			for (long q = w_ptr[r_idx[p]]; q < w_ptr[r_idx[p] + 1]; q++)
				prof[w_idx[q]] = 0;
	}
	free(prof);
	return score;
}

/* ---- the hybrid ---- */
typedef struct Hybrid
{
	int			k;
	int			use_id;
	int			n_rows;			/* n_feat (+ n_items with use_id) */
	float	   *E;				/* n_rows x k feature vectors */
	float	   *Eb;				/* n_rows feature biases */
	float	   *P;				/* n_users x k */
	float	   *gE, *gEb, *gP;	/* Adagrad accumulators */
} Hybrid;

/* the item's vector and bias from its features (and id unless cold) */
static void
item_vec(const Hybrid *h, int i, float *q, float *b)
{
	memset(q, 0, sizeof(float) * h->k);
	*b = 0;
	for (long p = f_ptr[i]; p < f_ptr[i + 1]; p++)
	{
		const float *e = h->E + (long) f_idx[p] * h->k;

		for (int d = 0; d < h->k; d++)
			q[d] += f_w[p] * e[d];
		*b += f_w[p] * h->Eb[f_idx[p]];
	}
	if (h->use_id && !is_cold[i])
	{
		const float *e = h->E + (long) (n_feat + i) * h->k;

		for (int d = 0; d < h->k; d++)
			q[d] += e[d];
		*b += h->Eb[n_feat + i];
	}
}

static float
dot(const float *a, const float *b, int k)
{
	float		s = 0;

	for (int d = 0; d < k; d++)
		s += a[d] * b[d];
	return s;
}

static int
user_has(int u, int i)
{
	long		lo = r_ptr[u], hi = r_ptr[u + 1];

	while (lo < hi)
	{
		long		mid = (lo + hi) / 2;

		if (r_idx[mid] == i)
			return 1;
		if (r_idx[mid] < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* gradient step on the rows of item i: dq (k) and db, Adagrad */
static void
item_step(Hybrid *h, int i, const float *dq, float db, float lr, float reg)
{
	for (long p = f_ptr[i]; p <= f_ptr[i + 1]; p++)
	{
		long		row;
		float		wt;

		if (p == f_ptr[i + 1])
		{
			if (!h->use_id)
				break;
			row = n_feat + i;
			wt = 1;
		}
		else
		{
			row = f_idx[p];
			wt = f_w[p];
		}
		{
			float	   *e = h->E + row * h->k, *g = h->gE + row * h->k;

			for (int d = 0; d < h->k; d++)
			{
				float		gr = wt * dq[d] + reg * e[d];

				g[d] += gr * gr;
				e[d] -= lr * gr / sqrtf(g[d]);
			}
			{
				float		gr = wt * db;

				h->gEb[row] += gr * gr;
				h->Eb[row] -= lr * gr / sqrtf(h->gEb[row]);
			}
		}
	}
}

/* the item side of a triple's step: the positive i up along x, the negative j down */
static void
pair_step(Hybrid *h, int i, int j, const float *x, float wgt, float *dq, float lr, float reg)
{
	for (int d = 0; d < h->k; d++)
		dq[d] = -wgt * x[d];
	item_step(h, i, dq, -wgt, lr, reg);
	for (int d = 0; d < h->k; d++)
		dq[d] = wgt * x[d];
	item_step(h, j, dq, wgt, lr, reg);
}

static void
train_hybrid(Hybrid *h, int epochs, float lr, float reg, int warp, int max_sampled, uint64_t seed)
{
	long		nnz = r_ptr[n_users];
	int		   *pu = malloc(sizeof(int) * nnz);
	long	   *order = malloc(sizeof(long) * nnz);
	int			k = h->k;
	float	   *qi = malloc(sizeof(float) * k), *qj = malloc(sizeof(float) * k);
	float	   *dq = malloc(sizeof(float) * k), *du = malloc(sizeof(float) * k);
	uint64_t	ctr = 0;

	for (int u = 0; u < n_users; u++)
		for (long p = r_ptr[u]; p < r_ptr[u + 1]; p++)
			pu[p] = u;
	for (int ep = 0; ep < epochs; ep++)
	{
		shuffle(order, nnz, ep == 0, seed, &ctr);
		for (long o = 0; o < nnz; o++)
		{
			long		p = order[o];
			int			u = pu[p], i = r_idx[p], j = -1, tries = 0;
			float		bi, bj, si, sj = 0, wgt = 0;
			float	   *x = h->P + (long) u * k, *gx = h->gP + (long) u * k;

			item_vec(h, i, qi, &bi);
			si = dot(x, qi, k) + bi;
			while (tries < max_sampled)
			{
				int			c = warm_list[rs_rng_u64(seed, ctr++) % n_warm];

				tries++;
				if (user_has(u, c))
					continue;
				item_vec(h, c, qj, &bj);
				sj = dot(x, qj, k) + bj;
				if (!warp)
				{
					j = c;
					wgt = 1 / (1 + expf(si - sj));	/* sigmoid(-(si - sj)) */
					break;
				}
				if (sj > si - 1)
				{
					j = c;
					wgt = logf(floorf((float) (n_warm - 1) / tries));
					break;
				}
			}
			if (j < 0 || wgt <= 0)
				continue;
			/* loss decreases along +(qi - qj) for x, +x for qi, -x for qj */
			for (int d = 0; d < k; d++)
				du[d] = -wgt * (qi[d] - qj[d]);
			pair_step(h, i, j, x, wgt, dq, lr, reg);
			for (int d = 0; d < k; d++)
			{
				float		gr = du[d] + reg * x[d];

				gx[d] += gr * gr;
				x[d] -= lr * gr / sqrtf(gx[d]);
			}
		}
	}
	free(pu);
	free(order);
	free(qi);
	free(qj);
	free(dq);
	free(du);
}

/*
 * The asymmetric variant (FISM, Kabbur et al. KDD 2013, with LightFM's
 * feature sums as item vectors): a user is the sum of their items'
 * vectors over sqrt(n), so a user is a bag of items and a cold item is
 * scored by its learned similarity to them.  BPR, one user at a time: the
 * positive is scored against the user's other items, the gradient on the
 * user's vector goes back to the history's items after the user's pairs.
 */
static void
user_sum(const Hybrid *h, int u, float *S)
{
	float	   *q = malloc(sizeof(float) * h->k);
	float		b;

	memset(S, 0, sizeof(float) * h->k);
	for (long p = r_ptr[u]; p < r_ptr[u + 1]; p++)
	{
		item_vec(h, r_idx[p], q, &b);
		for (int d = 0; d < h->k; d++)
			S[d] += q[d];
	}
	free(q);
}

static void
train_asym(Hybrid *h, int epochs, float lr, float reg, uint64_t seed)
{
	int			k = h->k;
	long	   *order = malloc(sizeof(long) * n_users);
	float	   *S = malloc(sizeof(float) * k), *x = malloc(sizeof(float) * k), *gx = malloc(sizeof(float) * k);
	float	   *qi = malloc(sizeof(float) * k), *qj = malloc(sizeof(float) * k), *dq = malloc(sizeof(float) * k);
	uint64_t	ctr = 0;

	for (int ep = 0; ep < epochs; ep++)
	{
		shuffle(order, n_users, ep == 0, seed, &ctr);
		for (int o = 0; o < n_users; o++)
		{
			int			u = order[o];
			long		n = r_ptr[u + 1] - r_ptr[u];

			if (n < 2)
				continue;
			user_sum(h, u, S);
			memset(gx, 0, sizeof(float) * k);
			for (long p = r_ptr[u]; p < r_ptr[u + 1]; p++)
			{
				int			i = r_idx[p], j = -1;
				float		bi, bj, si, sj, wgt;

				for (int t = 0; t < 10 && j < 0; t++)
				{
					int			c = warm_list[rs_rng_u64(seed, ctr++) % n_warm];

					if (!user_has(u, c))
						j = c;
				}
				if (j < 0)
					continue;
				item_vec(h, i, qi, &bi);
				item_vec(h, j, qj, &bj);
				for (int d = 0; d < k; d++)
					x[d] = (S[d] - qi[d]) / sqrtf(n - 1);
				si = dot(x, qi, k) + bi;
				sj = dot(x, qj, k) + bj;
				wgt = 1 / (1 + expf(si - sj));
				for (int d = 0; d < k; d++)
					gx[d] += -wgt * (qi[d] - qj[d]);
				pair_step(h, i, j, x, wgt, dq, lr, reg);
			}
			for (int d = 0; d < k; d++)
				dq[d] = gx[d] / sqrtf(n - 1) / n;
			for (long p = r_ptr[u]; p < r_ptr[u + 1]; p++)
				item_step(h, r_idx[p], dq, 0, lr, reg);
		}
	}
	/* the users' vectors as served: their items' sum over sqrt(n) */
	for (int u = 0; u < n_users; u++)
	{
		long		n = r_ptr[u + 1] - r_ptr[u];

		user_sum(h, u, h->P + (long) u * k);
		for (int d = 0; d < k; d++)
			h->P[(long) u * k + d] /= sqrtf(n > 0 ? n : 1);
	}
	free(order);
	free(S);
	free(x);
	free(gx);
	free(qi);
	free(qj);
	free(dq);
}

static float *
hybrid_scores(const Hybrid *h)
{
	float	   *score = malloc(sizeof(float) * (long) n_users * n_cold);
	float	   *Q = malloc(sizeof(float) * (long) n_cold * h->k), *b = malloc(sizeof(float) * n_cold);

	for (int c = 0; c < n_cold; c++)
		item_vec(h, cold_list[c], Q + (long) c * h->k, b + c);
	for (int u = 0; u < n_users; u++)
		for (int c = 0; c < n_cold; c++)
			score[(long) u * n_cold + c] = dot(h->P + (long) u * h->k, Q + (long) c * h->k, h->k) + b[c];
	free(Q);
	free(b);
	return score;
}


/*
 * The stored form of a "cold item -> weighted warm items" term (trunc=K):
 * keep the K largest |weights| of row (n_items long) and zero the rest, so
 * the lab measures what a list truncated to K entries loses; K 0 keeps all.
 */
static long lab_trunc;

static int
cmp_abs_desc(const void *x, const void *y)
{
	double		a = fabs(*(const double *) x), b = fabs(*(const double *) y);

	return a > b ? -1 : a < b;
}

static void
truncate_row(double *row)
{
	double	   *tmp, cut;
	long		m = 0;

	if (lab_trunc <= 0 || lab_trunc >= n_items)
		return;
	tmp = malloc(sizeof(double) * n_items);
	for (int i = 0; i < n_items; i++)
		if (row[i] != 0)
			tmp[m++] = row[i];
	if (m > lab_trunc)
	{
		long		kept = 0;

		qsort(tmp, m, sizeof(double), cmp_abs_desc);
		cut = fabs(tmp[lab_trunc - 1]);
		for (int i = 0; i < n_items; i++)
			if (row[i] != 0 && (fabs(row[i]) < cut || (fabs(row[i]) == cut && kept >= lab_trunc)))
				row[i] = 0;
			else if (row[i] != 0)
				kept++;
	}
	free(tmp);
}

/* ---- linear content-to-behaviour maps (ridge) and a mix of scorers ---- */

/* y = (X'X + lambda I) z, X the warm items' unit tf-idf word rows */
static void
gram_apply(const double *z, double *y, double *t, double lambda)
{
	for (int j = 0; j < n_word; j++)
		y[j] = lambda * z[j];
	for (int w = 0; w < n_warm; w++)
	{
		int			i = warm_list[w];
		double		s = 0;

		for (long q = w_ptr[i]; q < w_ptr[i + 1]; q++)
			s += w_w[q] * z[w_idx[q]];
		t[w] = s;
		for (long q = w_ptr[i]; q < w_ptr[i + 1]; q++)
			y[w_idx[q]] += w_w[q] * s;
	}
}

/* conjugate gradients for (X'X + lambda I) z = b; z starts at 0 */
static int
ridge_cg(const double *b, double *z, double lambda, double *ws)
{
	double	   *r = ws, *p = ws + n_word, *ap = ws + 2 * n_word, *t = ws + 3 * n_word;
	double		rr = 0, bb = 0;
	int			it;

	for (int j = 0; j < n_word; j++)
	{
		z[j] = 0;
		r[j] = p[j] = b[j];
		rr += b[j] * b[j];
	}
	bb = rr;
	for (it = 0; it < 500 && rr > 1e-12 * bb && bb > 0; it++)
	{
		double		pap = 0, a, rr2 = 0;

		gram_apply(p, ap, t, lambda);
		for (int j = 0; j < n_word; j++)
			pap += p[j] * ap[j];
		a = rr / pap;
		for (int j = 0; j < n_word; j++)
		{
			z[j] += a * p[j];
			r[j] -= a * ap[j];
			rr2 += r[j] * r[j];
		}
		for (int j = 0; j < n_word; j++)
			p[j] = r[j] + rr2 / rr * p[j];
		rr = rr2;
	}
	return it;
}

/*
 * CB2CF's direct form (Barkan et al. 2019; the dual of a ridge map from
 * words to the item's column of the user-item matrix): a cold item's
 * weights over warm items a = X (X'X + lambda I)^-1 x_c = (K + lambda I)^-1 k_c,
 * K the warm items' tf-idf cosines, k_c the cold item's; a user's score is
 * the sum of a over their items.  lambda -> infinity gives the baseline's
 * ranking (a -> k_c / lambda).
 */
/*
 * Item-kNN's lists over the warm items (binary cosine of their user sets,
 * the K largest per item): S_w, w's row, as lists_ptr/idx/val.  Session
 * 5's learned cold lists (train_item_knn's cold_map_regularization) give a
 * cold item the row sum_w a_w S_w, a its CB2CF weights below.
 */
static long *lists_ptr;
static int *lists_idx;
static float *lists_val;

static void
knn_lists(int K)
{
	long	   *c_ptr = calloc(n_items + 1, sizeof(long)), *fill = malloc(sizeof(long) * n_items);
	int		   *c_idx = malloc(sizeof(int) * (r_ptr[n_users] ? r_ptr[n_users] : 1));
	float	   *co = calloc(n_items, sizeof(float));
	int		   *touched = malloc(sizeof(int) * n_items), nt;
	Scored	   *top = malloc(sizeof(Scored) * n_items);

	for (long p = 0; p < r_ptr[n_users]; p++)
		c_ptr[r_idx[p] + 1]++;
	for (int i = 0; i < n_items; i++)
		c_ptr[i + 1] += c_ptr[i];
	memcpy(fill, c_ptr, sizeof(long) * n_items);
	for (int u = 0; u < n_users; u++)
		for (long p = r_ptr[u]; p < r_ptr[u + 1]; p++)
			c_idx[fill[r_idx[p]]++] = u;
	lists_ptr = calloc(n_items + 1, sizeof(long));
	lists_idx = malloc(sizeof(int) * (long) n_items * K);
	lists_val = malloc(sizeof(float) * (long) n_items * K);
	for (int i = 0; i < n_items; i++)
	{
		long		m = lists_ptr[i];

		nt = 0;
		for (long p = c_ptr[i]; p < c_ptr[i + 1]; p++)
		{
			int			u = c_idx[p];

			for (long q = r_ptr[u]; q < r_ptr[u + 1]; q++)
			{
				int			j = r_idx[q];

				if (j == i)
					continue;
				if (co[j] == 0)
					touched[nt++] = j;
				co[j] += 1;
			}
		}
		for (int x = 0; x < nt; x++)
		{
			int			j = touched[x];

			top[x].item = j;
			top[x].s = co[j] / sqrtf((float) (c_ptr[i + 1] - c_ptr[i]) * (c_ptr[j + 1] - c_ptr[j]));
			co[j] = 0;
		}
		qsort(top, nt, sizeof(Scored), cmp_scored);
		for (int x = 0; x < nt && x < K; x++)
		{
			lists_idx[m] = top[x].item;
			lists_val[m++] = top[x].s;
		}
		lists_ptr[i + 1] = m;
	}
	free(c_ptr);
	free(fill);
	free(c_idx);
	free(co);
	free(touched);
	free(top);
}

static float *
cb2cf_scores(double lambda, float **lists_score)
{
	float	   *score = malloc(sizeof(float) * (long) n_users * n_cold);
	float	   *lscore = lists_ptr ? malloc(sizeof(float) * (long) n_users * n_cold) : NULL;
	double	   *row = calloc(n_items, sizeof(double));
	double	   *b = calloc(n_word, sizeof(double)), *z = malloc(sizeof(double) * n_word);
	double	   *ws = malloc(sizeof(double) * (3 * n_word + n_warm));
	double	   *a = calloc(n_items, sizeof(double)), *at = malloc(sizeof(double) * n_items);
	long		iters = 0;

	for (int c = 0; c < n_cold; c++)
	{
		int			i = cold_list[c];

		for (long q = w_ptr[i]; q < w_ptr[i + 1]; q++)
			b[w_idx[q]] = w_w[q];
		iters += ridge_cg(b, z, lambda, ws);
		for (long q = w_ptr[i]; q < w_ptr[i + 1]; q++)
			b[w_idx[q]] = 0;
		for (int w = 0; w < n_warm; w++)
		{
			double		s = 0;

			for (long q = w_ptr[warm_list[w]]; q < w_ptr[warm_list[w] + 1]; q++)
				s += w_w[q] * z[w_idx[q]];
			a[warm_list[w]] = s;
		}
		memcpy(at, a, sizeof(double) * n_items);
		truncate_row(at);
		for (int u = 0; u < n_users; u++)
		{
			double		s = 0;

			for (long p = r_ptr[u]; p < r_ptr[u + 1]; p++)
				s += at[r_idx[p]];
			score[(long) u * n_cold + c] = s;
		}
		if (!lscore)
			continue;
		for (int w = 0; w < n_warm; w++)
			for (long q = lists_ptr[warm_list[w]]; q < lists_ptr[warm_list[w] + 1]; q++)
				row[lists_idx[q]] += a[warm_list[w]] * lists_val[q];
		truncate_row(row);
		for (int u = 0; u < n_users; u++)
		{
			double		s = 0;

			for (long p = r_ptr[u]; p < r_ptr[u + 1]; p++)
				s += row[r_idx[p]];
			lscore[(long) u * n_cold + c] = s;
		}
		memset(row, 0, sizeof(double) * n_items);
	}
	if (lists_score)
		*lists_score = lscore;
	free(row);
	fprintf(stderr, "cb2cf lambda %g: %.1f CG iterations a cold item\n", lambda, (double) iters / (n_cold ? n_cold : 1));
	free(b);
	free(z);
	free(ws);
	free(a);
	free(at);
	return score;
}

/* Cholesky solve of the k x k SPD system A x = b in place (A overwritten) */
static void
chol_solve(double *A, double *b, int k)
{
	for (int j = 0; j < k; j++)
	{
		double		d = A[j * k + j];

		for (int m = 0; m < j; m++)
			d -= A[j * k + m] * A[j * k + m];
		d = sqrt(d > 1e-12 ? d : 1e-12);
		A[j * k + j] = d;
		for (int i = j + 1; i < k; i++)
		{
			double		s = A[i * k + j];

			for (int m = 0; m < j; m++)
				s -= A[i * k + m] * A[j * k + m];
			A[i * k + j] = s / d;
		}
	}
	for (int i = 0; i < k; i++)
	{
		double		s = b[i];

		for (int m = 0; m < i; m++)
			s -= A[i * k + m] * b[m];
		b[i] = s / A[i * k + i];
	}
	for (int i = k - 1; i >= 0; i--)
	{
		double		s = b[i];

		for (int m = i + 1; m < k; m++)
			s -= A[m * k + i] * b[m];
		b[i] = s / A[i * k + i];
	}
}

/*
 * Implicit ALS (Hu et al. 2008, binary data, confidence 1 + alpha) on the
 * warm pairs: X (rows of the users, ptr/idx) against Y; one half-step.
 */
static void
als_half(const long *ptr, const int *idx, int n_rows, const float *Y, int n_cols, float *X,
		 int k, double alpha, double reg)
{
	double	   *G = calloc((long) k * k, sizeof(double)), *A = malloc(sizeof(double) * k * k);
	double	   *b = malloc(sizeof(double) * k);

	for (int c = 0; c < n_cols; c++)
		for (int d = 0; d < k; d++)
			for (int e = 0; e < k; e++)
				G[d * k + e] += (double) Y[(long) c * k + d] * Y[(long) c * k + e];
	for (int r = 0; r < n_rows; r++)
	{
		long		n = ptr[r + 1] - ptr[r];

		memcpy(A, G, sizeof(double) * k * k);
		memset(b, 0, sizeof(double) * k);
		for (long p = ptr[r]; p < ptr[r + 1]; p++)
		{
			const float *y = Y + (long) idx[p] * k;

			for (int d = 0; d < k; d++)
			{
				b[d] += (1 + alpha) * y[d];
				for (int e = 0; e < k; e++)
					A[d * k + e] += alpha * y[d] * y[e];
			}
		}
		for (int d = 0; d < k; d++)
			A[d * k + d] += reg * (n > 0 ? n : 1);
		chol_solve(A, b, k);
		for (int d = 0; d < k; d++)
			X[(long) r * k + d] = b[d];
	}
	free(G);
	free(A);
	free(b);
}

/*
 * A ridge map from the words to the warm items' ALS vectors (Gantner et al.
 * 2010; CB2CF with factors as the target): W = (X'X + lambda I)^-1 X'V by
 * conjugate gradients per factor, a cold item's vector x_c W scored by the
 * users' ALS vectors.
 */
static float *
als_ridge_scores(int k, int iters, double alpha, double reg, double lambda, uint64_t seed)
{
	float	   *P = malloc(sizeof(float) * (long) n_users * k), *V = malloc(sizeof(float) * (long) n_items * k);
	long	   *c_ptr = calloc(n_items + 1, sizeof(long));
	int		   *c_idx = malloc(sizeof(int) * (r_ptr[n_users] ? r_ptr[n_users] : 1));
	double	   *b = malloc(sizeof(double) * n_word), *z = malloc(sizeof(double) * n_word);
	double	   *W = malloc(sizeof(double) * (long) n_word * k);
	double	   *ws = malloc(sizeof(double) * (3 * n_word + n_warm));
	float	   *score = malloc(sizeof(float) * (long) n_users * n_cold);
	float	   *Q = malloc(sizeof(float) * (long) n_cold * k);

	/* item-major copy of the pairs (cold and unseen items have none) */
	for (long p = 0; p < r_ptr[n_users]; p++)
		c_ptr[r_idx[p] + 1]++;
	for (int i = 0; i < n_items; i++)
		c_ptr[i + 1] += c_ptr[i];
	{
		long	   *fill = malloc(sizeof(long) * n_items);

		memcpy(fill, c_ptr, sizeof(long) * n_items);
		for (int u = 0; u < n_users; u++)
			for (long p = r_ptr[u]; p < r_ptr[u + 1]; p++)
				c_idx[fill[r_idx[p]]++] = u;
		free(fill);
	}
	for (long i = 0; i < (long) n_items * k; i++)
		V[i] = (rs_rng_uniform_float(seed + 3, i) - 0.5f) / sqrtf(k);
	for (int i = 0; i < n_items; i++)
		if (c_ptr[i + 1] == c_ptr[i])
			memset(V + (long) i * k, 0, sizeof(float) * k);
	for (int it = 0; it < iters; it++)
	{
		als_half(r_ptr, r_idx, n_users, V, n_items, P, k, alpha, reg);
		als_half(c_ptr, c_idx, n_items, P, n_users, V, k, alpha, reg);
		for (int i = 0; i < n_items; i++)
			if (c_ptr[i + 1] == c_ptr[i])
				memset(V + (long) i * k, 0, sizeof(float) * k);
	}
	for (int d = 0; d < k; d++)
	{
		memset(b, 0, sizeof(double) * n_word);
		for (int w = 0; w < n_warm; w++)
		{
			int			i = warm_list[w];

			for (long q = w_ptr[i]; q < w_ptr[i + 1]; q++)
				b[w_idx[q]] += w_w[q] * V[(long) i * k + d];
		}
		ridge_cg(b, z, lambda, ws);
		for (int j = 0; j < n_word; j++)
			W[(long) j * k + d] = z[j];
	}
	for (int c = 0; c < n_cold; c++)
	{
		int			i = cold_list[c];

		for (int d = 0; d < k; d++)
		{
			double		s = 0;

			for (long q = w_ptr[i]; q < w_ptr[i + 1]; q++)
				s += w_w[q] * W[(long) w_idx[q] * k + d];
			Q[(long) c * k + d] = s;
		}
	}
	for (int u = 0; u < n_users; u++)
		for (int c = 0; c < n_cold; c++)
			score[(long) u * n_cold + c] = dot(P + (long) u * k, Q + (long) c * k, k);
	free(P);
	free(V);
	free(c_ptr);
	free(c_idx);
	free(b);
	free(z);
	free(W);
	free(ws);
	free(Q);
	return score;
}

/*
 * The feature popularity prior (session 6's): per word, the shrunk mean
 * ln(1 + users) of the warm items with it (5 pseudo-items at the global
 * mean); a cold item's prior is the mean over its words.
 */
static float *
prior_scores(void)
{
	double	   *sum = calloc(n_word, sizeof(double)), *cnt = calloc(n_word, sizeof(double));
	int		   *nu = calloc(n_items, sizeof(int));
	double		g = 0;
	float	   *score = malloc(sizeof(float) * (long) n_users * n_cold);

	for (long p = 0; p < r_ptr[n_users]; p++)
		nu[r_idx[p]]++;
	for (int w = 0; w < n_warm; w++)
		g += log1p(nu[warm_list[w]]) / n_warm;
	for (int w = 0; w < n_warm; w++)
	{
		int			i = warm_list[w];

		for (long q = w_ptr[i]; q < w_ptr[i + 1]; q++)
		{
			sum[w_idx[q]] += log1p(nu[i]);
			cnt[w_idx[q]] += 1;
		}
	}
	for (int c = 0; c < n_cold; c++)
	{
		int			i = cold_list[c];
		double		s = 0;
		long		n = w_ptr[i + 1] - w_ptr[i];

		for (long q = w_ptr[i]; q < w_ptr[i + 1]; q++)
			s += (sum[w_idx[q]] + 5 * g) / (cnt[w_idx[q]] + 5);
		s = n ? s / n : g;
		for (int u = 0; u < n_users; u++)
			score[(long) u * n_cold + c] = s;
	}
	free(sum);
	free(cnt);
	free(nu);
	return score;
}

/* per user, the z-score of score over the cold items (NAN counts as the minimum) */
static float *
zscores(const float *score)
{
	float	   *z = malloc(sizeof(float) * (long) n_users * n_cold);

	for (int u = 0; u < n_users; u++)
	{
		const float *s = score + (long) u * n_cold;
		double		s1 = 0, s2 = 0, lo = INFINITY;

		for (int c = 0; c < n_cold; c++)
			if (!isnan(s[c]) && s[c] < lo)
				lo = s[c];
		if (isinf(lo))
			lo = 0;
		for (int c = 0; c < n_cold; c++)
		{
			double		v = isnan(s[c]) ? lo : s[c];

			s1 += v;
			s2 += v * v;
		}
		s1 /= n_cold;
		s2 = sqrt(fmax(s2 / n_cold - s1 * s1, 1e-12));
		for (int c = 0; c < n_cold; c++)
			z[(long) u * n_cold + c] = ((isnan(s[c]) ? lo : s[c]) - s1) / s2;
	}
	return z;
}

/*
 * Content kNN with sharpened similarities: sum over the user's items of
 * cos(c, i)^power (power 1: the baseline); NAN where no cosine is positive.
 */
static float *
content_power_scores(double power)
{
	float	   *score = malloc(sizeof(float) * (long) n_users * n_cold);
	float	   *K = calloc((long) n_cold * n_items, sizeof(float));
	double	   *x = calloc(n_word, sizeof(double));
	double	   *row = calloc(n_items, sizeof(double));

	for (int c = 0; c < n_cold; c++)
	{
		int			i = cold_list[c];

		for (long q = w_ptr[i]; q < w_ptr[i + 1]; q++)
			x[w_idx[q]] = w_w[q];
		for (int w = 0; w < n_warm; w++)
		{
			double		s = 0;

			for (long q = w_ptr[warm_list[w]]; q < w_ptr[warm_list[w] + 1]; q++)
				s += w_w[q] * x[w_idx[q]];
			row[warm_list[w]] = s > 0 ? s : 0;
		}
		truncate_row(row);
		for (int w = 0; w < n_warm; w++)
			K[(long) c * n_items + warm_list[w]] = row[warm_list[w]] > 0 ? pow(row[warm_list[w]], power) : 0;
		for (long q = w_ptr[i]; q < w_ptr[i + 1]; q++)
			x[w_idx[q]] = 0;
	}
	for (int u = 0; u < n_users; u++)
		for (int c = 0; c < n_cold; c++)
		{
			double		s = 0;

			for (long p = r_ptr[u]; p < r_ptr[u + 1]; p++)
				s += K[(long) c * n_items + r_idx[p]];
			score[(long) u * n_cold + c] = s > 0 ? s : NAN;
		}
	free(K);
	free(x);
	free(row);
	return score;
}

/*
 * The word weights the ridge maps read (ridge_weights=): tfidf (the
 * baseline's unit tf-idf rows), sqrtidf (unit rows of sqrt(idf)) or
 * binary (unit rows of ones); swapped into w_w while the maps are fitted.
 */
static float *
ridge_word_weights(const char *kind)
{
	float	   *w = malloc(sizeof(float) * (w_ptr[n_items] ? w_ptr[n_items] : 1));
	int		   *df = calloc(n_word ? n_word : 1, sizeof(int));
	int			n_with = 0;

	for (int i = 0; i < n_items; i++)
	{
		n_with += w_ptr[i + 1] > w_ptr[i];
		for (long q = w_ptr[i]; q < w_ptr[i + 1]; q++)
			df[w_idx[q]]++;
	}
	for (int i = 0; i < n_items; i++)
	{
		double		s = 0;

		for (long q = w_ptr[i]; q < w_ptr[i + 1]; q++)
		{
			double		idf = log((double) n_with / df[w_idx[q]]);

			w[q] = strcmp(kind, "binary") == 0 ? 1 : strcmp(kind, "sqrtidf") == 0 ? sqrt(idf) : idf;
			s += (double) w[q] * w[q];
		}
		for (long q = w_ptr[i]; q < w_ptr[i + 1]; q++)
			w[q] = s > 0 ? w[q] / sqrt(s) : 0;
	}
	free(df);
	return w;
}

/*
 * The scorers and their mixes: ln(content + 1e-3) + sum_j c_j z_j, the z_j
 * per-user z-scores of ln(content^power kNN + 1e-3), the prior, the ALS
 * ridge, CB2CF and the learned lists a'S.  fit=1: the c_j by coordinate
 * ascent on this split's NDCG (3 rounds over the values 0, 0.1, ..., 16,
 * from several starts), printed as "coef=..." for a script to pass on;
 * coef=c1,...,c5: apply given ones.
 */
#define N_TERMS 5
static const char *term_names[N_TERMS] = {"content-power", "prior", "als-ridge", "cb2cf", "lists"};

static double
mix_ndcg(const float *lc, float *const *z, const double *coef, float *m)
{
	for (long x = 0; x < (long) n_users * n_cold; x++)
	{
		double		v = lc[x];

		for (int j = 0; j < N_TERMS; j++)
			if (coef[j] != 0)
				v += coef[j] * z[j][x];
		m[x] = v;
	}
	return ndcg_cold(m);
}

static void
run_scorers(int argc, char **argv, const float *content, double base)
{
	int			k = arg_long(argc, argv, "als_k", 32), iters = arg_long(argc, argv, "als_iters", 10);
	double		alpha = arg_double(argc, argv, "als_alpha", 10), reg = arg_double(argc, argv, "als_reg", 0.05);
	double		la = arg_double(argc, argv, "ridge_lambda", 1), ld = arg_double(argc, argv, "cb2cf_lambda", 1);
	double		power = arg_double(argc, argv, "content_power", 3);
	double		coef[N_TERMS] = {0}, best;
	clock_t		c0 = clock();
	float	   *lc = malloc(sizeof(float) * (long) n_users * n_cold), *s[N_TERMS], *z[N_TERMS], *m;

	const char *mask = arg_str(argc, argv, "terms", "11111");

	lab_trunc = arg_long(argc, argv, "trunc", 0);
	if (lab_trunc > 0)
	{
		/* the base term from the truncated cosine list (the baseline stays whole) */
		float	   *ct = content_power_scores(1);

		for (long x = 0; x < (long) n_users * n_cold; x++)
			lc[x] = log((isnan(ct[x]) ? 0 : ct[x]) + 1e-3);
		printf("content truncated to %ld alone   %.4f (%.2fx)\n", lab_trunc, ndcg_cold(lc), ndcg_cold(lc) / base);
		free(ct);
	}
	else
		for (long x = 0; x < (long) n_users * n_cold; x++)
			lc[x] = log((isnan(content[x]) ? 0 : content[x]) + 1e-3);
	s[0] = content_power_scores(power);
	for (long x = 0; x < (long) n_users * n_cold; x++)
		s[0][x] = log((isnan(s[0][x]) ? 0 : s[0][x]) + 1e-3);
	printf("content-power %g alone   %.4f (%.2fx)\n", power, ndcg_cold(s[0]), ndcg_cold(s[0]) / base);
	s[1] = prior_scores();
	printf("prior alone   %.4f (%.2fx)\n", ndcg_cold(s[1]), ndcg_cold(s[1]) / base);
	{
		float	   *keep = w_w;

		w_w = ridge_word_weights(arg_str(argc, argv, "ridge_weights", "tfidf"));
		s[2] = als_ridge_scores(k, iters, alpha, reg, la, arg_long(argc, argv, "seed", 42));
		knn_lists(arg_long(argc, argv, "lists_k", 100));
		s[3] = cb2cf_scores(ld, &s[4]);
		w_w = keep;
	}
	printf("lists k=%ld (a'S, a cb2cf's) alone   %.4f (%.2fx)\n", arg_long(argc, argv, "lists_k", 100),
		   ndcg_cold(s[4]), ndcg_cold(s[4]) / base);
	printf("als-ridge k=%d iters=%d alpha=%g reg=%g lambda=%g weights=%s alone   %.4f (%.2fx)\n", k, iters, alpha, reg, la,
		   arg_str(argc, argv, "ridge_weights", "tfidf"), ndcg_cold(s[2]), ndcg_cold(s[2]) / base);
	printf("cb2cf lambda=%g alone   %.4f (%.2fx)\n", ld, ndcg_cold(s[3]), ndcg_cold(s[3]) / base);
	printf("scorers %.1f s\n", (double) (clock() - c0) / CLOCKS_PER_SEC);
	for (int j = 0; j < N_TERMS; j++)
		z[j] = zscores(s[j]);
	m = malloc(sizeof(float) * (long) n_users * n_cold);
	if (arg_value(argc, argv, "coef"))
	{
		char	   *c = strdup(arg_value(argc, argv, "coef")), *tok;
		int			j = 0;

		for (tok = strtok(c, ","); tok && j < N_TERMS; tok = strtok(NULL, ","))
			coef[j++] = atof(tok);
	}
	best = mix_ndcg(lc, z, coef, m);
	if (arg_long(argc, argv, "fit", 0))
	{
		/*
		 * Coordinate ascent (3 rounds over vals) from N_TERMS + 1 starts: all
		 * zero, and each term alone at 2 (one start can stall where adding
		 * a single term does not pay but a pair does).
		 */
		static const double vals[] = {0, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16};
		double		start[N_TERMS], cur[N_TERMS];

		memcpy(start, coef, sizeof(start));
		for (int st = 0; st <= N_TERMS; st++)
		{
			double		b;

			if (st > 0 && mask[st - 1] != '1')
				continue;
			memcpy(cur, start, sizeof(cur));
			if (st > 0)
				cur[st - 1] = 2;
			b = mix_ndcg(lc, z, cur, m);
			for (int round = 0; round < 3; round++)
				for (int j = 0; j < N_TERMS; j++)
				{
					double		keep = cur[j];

					if (mask[j] != '1')
						continue;

					for (int v = 0; v < (int) (sizeof(vals) / sizeof(vals[0])); v++)
					{
						double		x;

						cur[j] = vals[v];
						x = mix_ndcg(lc, z, cur, m);
						if (x > b + 1e-9)
						{
							b = x;
							keep = vals[v];
						}
					}
					cur[j] = keep;
				}
			if (b > best + 1e-9)
			{
				best = b;
				memcpy(coef, cur, sizeof(cur));
			}
		}
	}
	printf("mix");
	for (int j = 0; j < N_TERMS; j++)
		printf(" %s %g", term_names[j], coef[j]);
	printf("   %.4f (%.2fx)\n", best, best / base);
	printf("coef=");
	for (int j = 0; j < N_TERMS; j++)
		printf("%s%g", j ? "," : "", coef[j]);
	printf("\n");
}

int
main(int argc, char **argv)
{
	long		ntr, nte, ncold_ids;
	LabPair    *tr, *te;
	char		path[4096];
	long	   *all, *cold_ids;
	FILE	   *cf;
	int			k, epochs, warp, max_sampled;
	double		lr, reg;
	const char *norm, *mix;
	clock_t		c0;

	if (argc < 4)
	{
		fprintf(stderr, "usage: %s SPLITDIR FEATURES.csv COLD.csv [key=value ...]\n", argv[0]);
		return 2;
	}
	k = arg_long(argc, argv, "k", 32);
	epochs = arg_long(argc, argv, "epochs", 30);
	lr = arg_double(argc, argv, "lr", 0.05);
	reg = arg_double(argc, argv, "reg", 0);
	warp = strcmp(arg_str(argc, argv, "loss", "warp"), "warp") == 0;
	max_sampled = arg_long(argc, argv, "max_sampled", 10);
	norm = arg_str(argc, argv, "norm", "sum");
	mix = arg_str(argc, argv, "mix", "");

	snprintf(path, sizeof(path), "%s/train.csv.gz", argv[1]);
	tr = lab_read_pairs(path, &ntr);
	snprintf(path, sizeof(path), "%s/test.csv.gz", argv[1]);
	te = lab_read_pairs(path, &nte);
	/* cold ids */
	cf = fopen(argv[3], "r");
	cold_ids = malloc(sizeof(long) * 100000);
	ncold_ids = 0;
	while (fscanf(cf, "%ld", &cold_ids[ncold_ids]) == 1)
		ncold_ids++;
	fclose(cf);
	qsort(cold_ids, ncold_ids, sizeof(long), lab_cmp_long);
	/* items: train, test and the cold list */
	all = malloc(sizeof(long) * (ntr + nte + ncold_ids));
	for (long i = 0; i < ntr; i++)
		all[i] = tr[i].item;
	for (long i = 0; i < nte; i++)
		all[ntr + i] = te[i].item;
	for (long i = 0; i < ncold_ids; i++)
		all[ntr + nte + i] = cold_ids[i];
	qsort(all, ntr + nte + ncold_ids, sizeof(long), lab_cmp_long);
	n_items = 0;
	for (long i = 0; i < ntr + nte + ncold_ids; i++)
		if (n_items == 0 || all[i] != all[n_items - 1])
			all[n_items++] = all[i];
	iids = all;
	is_cold = calloc(n_items, 1);
	cold_list = malloc(sizeof(int) * ncold_ids);
	n_cold = 0;
	for (long i = 0; i < ncold_ids; i++)
	{
		long		it = find(iids, n_items, cold_ids[i]);

		is_cold[it] = 1;
	}
	for (int i = 0; i < n_items; i++)
		if (is_cold[i])
			cold_list[n_cold++] = i;
	/* users: those with warm train pairs */
	{
		long		m = 0;

		for (long i = 0; i < ntr; i++)
			if (!is_cold[find(iids, n_items, tr[i].item)])
			{
				tr[m] = tr[i];
				tr[m].item = find(iids, n_items, tr[i].item);
				m++;
			}
		ntr = m;
		qsort(tr, ntr, sizeof(LabPair), cmp_pair);
		m = 0;
		for (long i = 0; i < ntr; i++)
			if (m == 0 || tr[i].user != tr[m - 1].user || tr[i].item != tr[m - 1].item)
				tr[m++] = tr[i];
		ntr = m;
		uids = malloc(sizeof(long) * ntr);
		n_users = 0;
		for (long i = 0; i < ntr; i++)
			if (n_users == 0 || uids[n_users - 1] != tr[i].user)
				uids[n_users++] = tr[i].user;
		r_ptr = calloc(n_users + 1, sizeof(long));
		r_idx = malloc(sizeof(int) * ntr);
		for (long i = 0; i < ntr; i++)
		{
			long		u = find(uids, n_users, tr[i].user);

			r_ptr[u + 1]++;
			r_idx[i] = tr[i].item;
		}
		for (int u = 0; u < n_users; u++)
			r_ptr[u + 1] += r_ptr[u];
		/* test: cold items, users with train pairs */
		for (long i = 0; i < nte; i++)
		{
			te[i].item = find(iids, n_items, te[i].item);
			te[i].user = find(uids, n_users, te[i].user);
		}
		m = 0;
		for (long i = 0; i < nte; i++)
			if (te[i].user >= 0 && is_cold[te[i].item])
				te[m++] = te[i];
		nte = m;
		qsort(te, nte, sizeof(LabPair), cmp_pair);
		t_ptr = calloc(n_users + 1, sizeof(long));
		t_idx = malloc(sizeof(int) * (nte ? nte : 1));
		for (long i = 0; i < nte; i++)
		{
			t_ptr[te[i].user + 1]++;
			t_idx[i] = te[i].item;
		}
		for (int u = 0; u < n_users; u++)
			t_ptr[u + 1] += t_ptr[u];
	}
	warm_list = malloc(sizeof(int) * n_items);
	n_warm = 0;
	{
		char	   *seen = calloc(n_items, 1);

		for (long p = 0; p < ntr; p++)
			seen[r_idx[p]] = 1;
		for (int i = 0; i < n_items; i++)
			if (seen[i])
				warm_list[n_warm++] = i;
		free(seen);
	}
	read_features(argv[2], norm);
	printf("split: %d users, %d items (%d warm, %d cold), %ld train pairs, %ld cold test rows, %d features, %d words\n",
		   n_users, n_items, n_warm, n_cold, ntr, nte, n_feat, n_word);

	{
		float	   *content = content_scores();
		double		base = ndcg_cold(content);
		Hybrid		h;
		float	   *hs;
		uint64_t	seed = arg_long(argc, argv, "seed", 42);

		printf("content-only kNN (baseline)   %.4f\n", base);
		if (arg_long(argc, argv, "scorers", 0))
		{
			run_scorers(argc, argv, content, base);
			return 0;
		}
		h.k = k;
		h.use_id = arg_long(argc, argv, "id", 0);
		h.n_rows = n_feat + (h.use_id ? n_items : 0);
		h.E = malloc(sizeof(float) * (long) h.n_rows * k);
		h.Eb = calloc(h.n_rows, sizeof(float));
		h.P = malloc(sizeof(float) * (long) n_users * k);
		h.gE = malloc(sizeof(float) * (long) h.n_rows * k);
		h.gEb = malloc(sizeof(float) * h.n_rows);
		h.gP = malloc(sizeof(float) * (long) n_users * k);
		for (long i = 0; i < (long) h.n_rows * k; i++)
		{
			h.E[i] = (rs_rng_uniform_float(seed + 1, i) - 0.5f) / k;
			h.gE[i] = 1;
		}
		for (long i = 0; i < h.n_rows; i++)
			h.gEb[i] = 1;
		for (long i = 0; i < (long) n_users * k; i++)
		{
			h.P[i] = (rs_rng_uniform_float(seed + 2, i) - 0.5f) / k;
			h.gP[i] = 1;
		}
		/* features no warm item has keep no vector */
		{
			char	   *warmf = calloc(n_feat, 1);

			for (int w = 0; w < n_warm; w++)
				for (long p = f_ptr[warm_list[w]]; p < f_ptr[warm_list[w] + 1]; p++)
					warmf[f_idx[p]] = 1;
			for (int f = 0; f < n_feat; f++)
				if (!warmf[f])
					memset(h.E + (long) f * k, 0, sizeof(float) * k);
			free(warmf);
		}
		c0 = clock();
		if (strcmp(arg_str(argc, argv, "user", "id"), "asym") == 0)
		{
			train_asym(&h, epochs, lr, reg, seed);
			warp = -1;
		}
		else
			train_hybrid(&h, epochs, lr, reg, warp, max_sampled, seed);
		hs = hybrid_scores(&h);
		printf("hybrid %s k=%d epochs=%d lr=%g reg=%g norm=%s id=%d   %.4f (%.2fx)  %.1f s\n",
			   warp < 0 ? "asym-bpr" : warp ? "warp" : "bpr", k, epochs, lr, reg, norm, h.use_id, ndcg_cold(hs),
			   ndcg_cold(hs) / base, (double) (clock() - c0) / CLOCKS_PER_SEC);
		if (*mix)
		{
			/* per user: z-score of the hybrid, + c x ln(content + 1e-3) */
			char	   *m = strdup(mix), *tok;
			float	   *ms = malloc(sizeof(float) * (long) n_users * n_cold);

			for (tok = strtok(m, ","); tok; tok = strtok(NULL, ","))
			{
				double		c = atof(tok);

				for (int u = 0; u < n_users; u++)
				{
					double		s1 = 0, s2 = 0;

					for (int x = 0; x < n_cold; x++)
					{
						double		v = hs[(long) u * n_cold + x];

						s1 += v;
						s2 += v * v;
					}
					s1 /= n_cold;
					s2 = sqrt(fmax(s2 / n_cold - s1 * s1, 1e-12));
					for (int x = 0; x < n_cold; x++)
					{
						float		cs = content[(long) u * n_cold + x];

						ms[(long) u * n_cold + x] = (hs[(long) u * n_cold + x] - s1) / s2
							+ c * log((isnan(cs) ? 0 : cs) + 1e-3);
					}
				}
				printf("mix z(hybrid) + %g ln(content)   %.4f (%.2fx)\n", c, ndcg_cold(ms), ndcg_cold(ms) / base);
			}
		}
	}
	return 0;
}
