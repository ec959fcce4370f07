/*
 * lab_split.h
 *		What the kernel labs (ncf_lab.c, bpr_lab.c) share: reading a shared
 *		top-N split (train.csv.gz and test.csv.gz of a directory) into a
 *		users x items CSR of the train pairs, and test NDCG@10 for a
 *		scoring function.  Header-only (static functions): each lab is one
 *		translation unit plus the kernel files it links.
 *
 * Metric: users with a test row; train items excluded; k = 10; binary
 * relevance; IDCG over min(|test items|, 10); test items unknown to train
 * count in |test|, test users unknown to train score 0 (as recsys.evaluate
 * and the splits README define it).  Ties go to the lower item index.
 */
#ifndef RECSYS_BENCH_LAB_SPLIT_H
#define RECSYS_BENCH_LAB_SPLIT_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sparse.h"

typedef struct LabPair
{
	long		user;
	long		item;
	double		seconds;		/* the time column (NAN when absent) */
} LabPair;

/* A split read: the train CSR (indices ascending per row) and the test items. */
typedef struct LabSplit
{
	int			n_users;
	int			n_items;
	long	   *uids;			/* n_users sorted distinct train user ids */
	long	   *iids;			/* n_items sorted distinct train item ids */
	RsCsr		R;
	int			n_eval;			/* n_users + 1: the last row holds test-only users */
	long	   *tptr;			/* n_eval + 1: per row, its test items */
	int		   *titem;			/* model index, or -1 for an item unknown to train */
	double	   *seconds;		/* nnz: per train pair, its latest time (NAN: none) */
} LabSplit;

static LabPair *
lab_read_pairs(const char *path, long *n)
{
	char		cmd[4096];
	char		line[512];
	FILE	   *f;
	long		cap = 1 << 16;
	LabPair    *p = malloc(sizeof(LabPair) * cap);

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
			p = realloc(p, sizeof(LabPair) * (cap *= 2));
		p[*n].seconds = NAN;
		if (sscanf(line, "%ld,%ld,%*[^,],%lf", &p[*n].user, &p[*n].item, &p[*n].seconds) >= 2)
			(*n)++;
	}
	pclose(f);
	return p;
}

static int
lab_cmp_long(const void *a, const void *b)
{
	long		x = *(const long *) a, y = *(const long *) b;

	return x < y ? -1 : x > y;
}

static int
lab_cmp_pair(const void *a, const void *b)
{
	const LabPair *x = a, *y = b;

	return x->user != y->user ? (x->user < y->user ? -1 : 1) :
		(x->item < y->item ? -1 : x->item > y->item);
}

/* Sorted distinct user (or item) ids. */
static long *
lab_distinct(const LabPair *p, long n, int user, int *count)
{
	long	   *v = malloc(sizeof(long) * (n + 1));
	int			m = 0;

	for (long k = 0; k < n; k++)
		v[k] = user ? p[k].user : p[k].item;
	qsort(v, n, sizeof(long), lab_cmp_long);
	for (long k = 0; k < n; k++)
		if (m == 0 || v[m - 1] != v[k])
			v[m++] = v[k];
	*count = m;
	return v;
}

static int
lab_find(const long *v, int n, long id)
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
lab_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Read DIR/train.csv.gz and DIR/test.csv.gz; duplicate train pairs count once. */
static void
lab_load(const char *dir, LabSplit *s)
{
	char		path[4096];
	long		ntrain, ntest, nt = 0;
	LabPair    *train, *test;
	int			missing = 0;
	RsCsr	   *R = &s->R;

	snprintf(path, sizeof(path), "%s/train.csv.gz", dir);
	train = lab_read_pairs(path, &ntrain);
	snprintf(path, sizeof(path), "%s/test.csv.gz", dir);
	test = lab_read_pairs(path, &ntest);
	qsort(train, ntrain, sizeof(LabPair), lab_cmp_pair);
	s->uids = lab_distinct(train, ntrain, 1, &s->n_users);
	s->iids = lab_distinct(train, ntrain, 0, &s->n_items);

	R->n_rows = s->n_users;
	R->n_cols = s->n_items;
	R->nnz = 0;
	R->indptr = calloc(s->n_users + 1, sizeof(int64_t));
	R->indices = malloc(sizeof(int32_t) * (ntrain + 1));
	R->data = malloc(sizeof(float) * (ntrain + 1));
	s->seconds = malloc(sizeof(double) * (ntrain + 1));
	for (long k = 0; k < ntrain; k++)
	{
		int			u = lab_find(s->uids, s->n_users, train[k].user);

		if (k > 0 && lab_cmp_pair(&train[k - 1], &train[k]) == 0)
		{
			if (train[k].seconds > s->seconds[R->nnz - 1])
				s->seconds[R->nnz - 1] = train[k].seconds;
			continue;
		}
		s->seconds[R->nnz] = train[k].seconds;
		R->indices[R->nnz] = lab_find(s->iids, s->n_items, train[k].item);
		R->data[R->nnz++] = 1;
		R->indptr[u + 1] = R->nnz;
	}
	for (int u = 0; u < s->n_users; u++)
		if (R->indptr[u + 1] < R->indptr[u])
			R->indptr[u + 1] = R->indptr[u];

	s->n_eval = s->n_users + 1;
	s->tptr = calloc(s->n_eval + 1, sizeof(long));
	s->titem = malloc(sizeof(int) * (ntest + 1));
	qsort(test, ntest, sizeof(LabPair), lab_cmp_pair);
	for (int u = 0, k = 0; u < s->n_users; u++)
	{
		s->tptr[u] = nt;
		while (k < ntest && test[k].user < s->uids[u])
			k++;
		for (; k < ntest && test[k].user == s->uids[u]; k++)
			s->titem[nt++] = lab_find(s->iids, s->n_items, test[k].item);
	}
	for (long k = 0; k < ntest; k++)
		missing += lab_find(s->uids, s->n_users, test[k].user) < 0;
	s->tptr[s->n_users] = nt;
	/* users only in test: one pseudo-row counted as scoring 0 */
	s->tptr[s->n_users + 1] = nt + (missing > 0);
	if (missing)
		s->titem[nt] = -1;
	free(train);
	free(test);
}

/* Scores of every item for train user u. */
typedef void (*LabScoreFn) (void *arg, int u, float *scores);

/* Test NDCG@10 of a model given by its scoring function. */
static double
lab_ndcg(const LabSplit *s, LabScoreFn score, void *arg)
{
	const RsCsr *R = &s->R;
	int			n_items = s->n_items;
	float	   *scores = malloc(sizeof(float) * n_items);
	double		sum = 0;
	int			users = 0;

	for (int u = 0; u < s->n_eval; u++)
	{
		int			nt = (int) (s->tptr[u + 1] - s->tptr[u]);
		int			top[10];
		double		dcg = 0, idcg = 0;

		if (nt == 0)
			continue;
		users++;
		if (u >= R->n_rows)
			continue;			/* not in train: scores nothing */
		score(arg, u, scores);
		for (long e = R->indptr[u]; e < R->indptr[u + 1]; e++)
			scores[R->indices[e]] = -INFINITY;
		for (int r = 0; r < 10; r++)
		{
			int			best = -1;

			for (int i = 0; i < n_items; i++)
				if (scores[i] > -INFINITY && (best < 0 || scores[i] > scores[best]))
					best = i;
			top[r] = best;
			if (best >= 0)
				scores[best] = -INFINITY;	/* taken */
		}
		for (int r = 0; r < 10; r++)
		{
			for (long t = s->tptr[u]; t < s->tptr[u + 1]; t++)
				if (top[r] >= 0 && s->titem[t] == top[r])
					dcg += 1 / log2(r + 2.0);
			if (r < nt)
				idcg += 1 / log2(r + 2.0);
		}
		sum += dcg / idcg;
	}
	free(scores);
	return users ? sum / users : 0;
}

#endif							/* RECSYS_BENCH_LAB_SPLIT_H */
