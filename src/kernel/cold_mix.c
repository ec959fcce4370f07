/*-------------------------------------------------------------------------
 *
 * cold_mix.c
 *		The cold re-ranker's numerics: term inputs of a cold item, a user's
 *		terms, the z-scored mix and its fit (see cold_mix.h).
 *
 *-------------------------------------------------------------------------
 */
#include "cold_mix.h"

#include <math.h>
#include <string.h>

#include "cold.h"
#include "threads.h"
#include "topk.h"

const char *const rs_cold_list_names[RS_COLD_LISTS] = {"content", "cb2cf", "lists"};
const char *const rs_cold_term_names[RS_COLD_MIX_TERMS] = {"content_sharp", "prior", "cb2cf", "lists"};
const double rs_cold_mix_values[RS_COLD_MIX_N_VALUES] = {0, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16};

/* shrinkage of the word prior: pseudo-items at the global mean */
#define PRIOR_PSEUDO_ITEMS 5.0
/* the content term's floor inside the logarithm */
#define CONTENT_FLOOR 1e-3
/* the least sd a term is standardised by (a constant term's z is 0) */
#define SD_FLOOR 1e-6

void
rs_cold_word_prior(const RsCsr *warm_words_t, const float *log_users, const uint8_t *is_warm,
				   int32_t n_items, float *word_prior, float *global)
{
	double		g = 0;
	int32_t		n_warm = 0;

	for (int32_t i = 0; i < n_items; i++)
		if (is_warm[i])
		{
			g += log_users[i];
			n_warm++;
		}
	g = n_warm > 0 ? g / n_warm : 0;
	for (int32_t w = 0; w < warm_words_t->n_rows; w++)
	{
		double		sum = 0;
		int64_t		cnt = 0;

		for (int64_t e = warm_words_t->indptr[w]; e < warm_words_t->indptr[w + 1]; e++)
			if (is_warm[warm_words_t->indices[e]])
			{
				sum += log_users[warm_words_t->indices[e]];
				cnt++;
			}
		word_prior[w] = (float) ((sum + PRIOR_PSEUDO_ITEMS * g) / (cnt + PRIOR_PSEUDO_ITEMS));
	}
	*global = (float) g;
}

size_t
rs_cold_item_work(const RsColdInputs *in)
{
	int32_t		n = in->words->n_rows;
	int32_t		D = in->words->n_cols;

	/* three dense rows, the CG's work, the binary row, the heap's values */
	return 3 * (size_t) n + 4 * (size_t) D + (size_t) in->fit->n_rows + (size_t) D + (size_t) in->length + 1;
}

/* the `length` largest |row| of n into idx/val (signed), best first */
static int32_t
keep_largest(const float *row, int32_t n, int length, int32_t skip, int32_t *idx, float *val,
			 float *heap_val)
{
	int			size = 0;

	for (int32_t i = 0; i < n; i++)
	{
		float		v = fabsf(row[i]);

		if (i == skip || !(v > 0))
			continue;
		if (size == length && !(v >= heap_val[0]))
			continue;
		rs_topk_offer(idx, heap_val, &size, length, v, i);
	}
	rs_topk_sort(idx, heap_val, size);
	for (int e = 0; e < size; e++)
		val[e] = row[idx[e]];
	return size;
}

int
rs_cold_item_lists(const RsColdInputs *in, int32_t item, int32_t *idx, float *val, int32_t *count,
				   float *prior, float *work)
{
	const RsCsr *W = in->words;
	int32_t		n = W->n_rows;
	int32_t		D = W->n_cols;
	float	   *content = work;
	float	   *a = content + n;
	float	   *learned = a + n;
	float	   *cg = learned + n;
	float	   *binary = cg + 4 * (size_t) D + in->fit->n_rows;
	float	   *heap_val = binary + D;
	int64_t		begin;
	int			nf;
	double		p = 0;
	int			status;

	if (item < 0 || item >= n || in->length < 1 || !(in->lambda > 0))
		return RS_COLD_MIX_BAD_ARGUMENT;
	begin = W->indptr[item];
	nf = (int) (W->indptr[item + 1] - begin);

	/* content: cosines with the warm items, through the words' transpose */
	memset(content, 0, sizeof(float) * n);
	for (int e = 0; e < nf; e++)
	{
		int32_t		w = W->indices[begin + e];
		float		x = W->data[begin + e];

		for (int64_t q = in->warm_words_t->indptr[w]; q < in->warm_words_t->indptr[w + 1]; q++)
			content[in->warm_words_t->indices[q]] += x * in->warm_words_t->data[q];
		p += in->word_prior[w];
	}
	*prior = nf > 0 ? (float) (p / nf) : in->prior_default;

	/* cb2cf: the ridge over the warm items' binary rows, f binary too */
	for (int e = 0; e < nf; e++)
		binary[e] = (float) (1.0 / sqrt((double) nf));
	memset(a, 0, sizeof(float) * n);
	if (nf > 0)
	{
		status = rs_cold_map_coefficients(in->fit, W->indices + begin, binary, nf, in->lambda,
										  in->max_iter, a, cg);
		if (status != RS_COLD_OK)
			return status == RS_COLD_STOPPED ? RS_COLD_MIX_STOPPED : RS_COLD_MIX_BAD_ARGUMENT;
	}
	/* the learned lists a'S */
	rs_cold_map_spread(in->lists, a, 0.0f, learned);

	count[RS_COLD_LIST_CONTENT] = keep_largest(content, n, in->length, item, idx, val, heap_val);
	count[RS_COLD_LIST_CB2CF] = keep_largest(a, n, in->length, item, idx + in->length,
											 val + in->length, heap_val);
	count[RS_COLD_LIST_LEARNED] = keep_largest(learned, n, in->length, item, idx + 2 * in->length,
											   val + 2 * in->length, heap_val);
	return RS_COLD_MIX_OK;
}

/* The shared state of rs_cold_items_lists' threads. */
typedef struct ItemsJob
{
	const RsColdInputs *in;
	const int32_t *targets;
	int32_t		n;
	int32_t    *idx;
	float	   *val;
	int32_t    *count;
	float	   *prior;
	int64_t		next;			/* the next target to take */
	int			status;			/* the first failure, else RS_COLD_MIX_OK */
	int32_t		failed;
} ItemsJob;

typedef struct ItemsWorker
{
	ItemsJob   *job;
	float	   *work;
} ItemsWorker;

static void *
items_worker(void *arg)
{
	ItemsWorker *w = arg;
	ItemsJob   *job = w->job;
	size_t		slots = (size_t) RS_COLD_LISTS * job->in->length;
	int64_t		begin;
	int64_t		end;

	while (rs_threads_grab(&job->next, 1, job->n, &begin, &end))
		for (int64_t t = begin; t < end; t++)
		{
			int			status = rs_cold_item_lists(job->in, job->targets[t], job->idx + t * slots,
													job->val + t * slots,
													job->count + (size_t) t * RS_COLD_LISTS,
													job->prior + t, w->work);
			int			ok = RS_COLD_MIX_OK;

			if (status != RS_COLD_MIX_OK &&
				__atomic_compare_exchange_n(&job->status, &ok, status, false, __ATOMIC_RELAXED,
											__ATOMIC_RELAXED))
				job->failed = (int32_t) t;
		}
	return NULL;
}

int
rs_cold_items_lists(const RsColdInputs *in, const int32_t *targets, int32_t n, int32_t *idx, float *val,
					int32_t *count, float *prior, float *work, int nthreads, int32_t *failed)
{
	ItemsJob	job = {in, targets, n, idx, val, count, prior, 0, RS_COLD_MIX_OK, -1};
	ItemsWorker workers[RS_THREADS_MAX];
	size_t		stride = rs_cold_item_work(in);
	int			created;

	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > RS_THREADS_MAX)
		nthreads = RS_THREADS_MAX;
	if (nthreads > n)
		nthreads = n > 0 ? n : 1;
	for (int t = 0; t < nthreads; t++)
	{
		workers[t].job = &job;
		workers[t].work = work + (size_t) t * stride;
	}
	created = rs_threads_run(nthreads, items_worker, workers, sizeof(ItemsWorker));
	*failed = job.failed;
	if (job.status != RS_COLD_MIX_OK)
		return job.status;
	return created == RS_THREADS_OK ? RS_COLD_MIX_OK : RS_COLD_MIX_ERR_THREAD;
}

int64_t
rs_cold_postings_size(const RsColdLists *lists)
{
	int64_t		n = 0;

	for (int l = 0; l < RS_COLD_LISTS; l++)
		n += lists->indptr[l][lists->n_rows];
	return n;
}

void
rs_cold_postings_build(const RsColdLists *lists, RsColdPostings *p)
{
	memset(p->ptr, 0, sizeof(int64_t) * ((size_t) p->n_items + 1));
	for (int l = 0; l < RS_COLD_LISTS; l++)
		for (int64_t e = 0; e < lists->indptr[l][lists->n_rows]; e++)
			p->ptr[lists->idx[l][e] + 1]++;
	for (int32_t i = 0; i < p->n_items; i++)
		p->ptr[i + 1] += p->ptr[i];
	/* rows in order, so that each item's postings are too */
	for (int32_t r = 0; r < lists->n_rows; r++)
		for (int l = 0; l < RS_COLD_LISTS; l++)
			for (int64_t e = lists->indptr[l][r]; e < lists->indptr[l][r + 1]; e++)
			{
				int64_t		at = p->ptr[lists->idx[l][e]]++;

				p->post_row[at] = r;
				p->post_list[at] = (uint8_t) l;
				p->post_val[at] = lists->val[l][e];
			}
	/* each ptr[i] now ends item i: shift back */
	for (int32_t i = p->n_items; i > 0; i--)
		p->ptr[i] = p->ptr[i - 1];
	p->ptr[0] = 0;
}

void
rs_cold_user_terms_posted(const RsColdLists *lists, const RsColdPostings *p, const int32_t *items,
						  int n_items, uint8_t *seen, double *acc, float *content, float *terms)
{
	int32_t		n = lists->n_rows;

	memset(acc, 0, sizeof(double) * 4 * (size_t) n);
	for (int a = 0; a < n_items; a++)
	{
		int32_t		i = items[a];

		if (seen[i])
			continue;
		seen[i] = 1;
		for (int64_t e = p->ptr[i]; e < p->ptr[i + 1]; e++)
		{
			double		v = p->post_val[e];
			int32_t		r = p->post_row[e];

			acc[(size_t) p->post_list[e] * n + r] += v;
			if (p->post_list[e] == RS_COLD_LIST_CONTENT && v > 0)
				acc[(size_t) RS_COLD_LISTS * n + r] += v * v * v;
		}
	}
	for (int a = 0; a < n_items; a++)
		seen[items[a]] = 0;
	for (int32_t c = 0; c < n; c++)
	{
		double		sum_content = acc[(size_t) RS_COLD_LIST_CONTENT * n + c];

		content[c] = (float) (sum_content > 0 ? sum_content : 0);
		terms[RS_COLD_MIX_SHARP * n + c] = (float) acc[(size_t) RS_COLD_LISTS * n + c];
		terms[RS_COLD_MIX_PRIOR * n + c] = lists->prior[c];
		terms[RS_COLD_MIX_CB2CF * n + c] = (float) acc[(size_t) RS_COLD_LIST_CB2CF * n + c];
		terms[RS_COLD_MIX_LISTS * n + c] = (float) acc[(size_t) RS_COLD_LIST_LEARNED * n + c];
	}
}

void
rs_cold_user_terms(const RsColdLists *lists, const int32_t *rows, int n, const uint8_t *has,
				   float *content, float *terms)
{
	for (int c = 0; c < n; c++)
	{
		int32_t		r = rows[c];
		double		sum[RS_COLD_LISTS] = {0};
		double		sharp = 0;

		for (int l = 0; l < RS_COLD_LISTS; l++)
			for (int64_t e = lists->indptr[l][r]; e < lists->indptr[l][r + 1]; e++)
				if (has[lists->idx[l][e]])
				{
					double		v = lists->val[l][e];

					sum[l] += v;
					if (l == RS_COLD_LIST_CONTENT && v > 0)
						sharp += v * v * v;
				}
		content[c] = (float) (sum[RS_COLD_LIST_CONTENT] > 0 ? sum[RS_COLD_LIST_CONTENT] : 0);
		terms[RS_COLD_MIX_SHARP * n + c] = (float) sharp;
		terms[RS_COLD_MIX_PRIOR * n + c] = lists->prior[r];
		terms[RS_COLD_MIX_CB2CF * n + c] = (float) sum[RS_COLD_LIST_CB2CF];
		terms[RS_COLD_MIX_LISTS * n + c] = (float) sum[RS_COLD_LIST_LEARNED];
	}
}

/* x over n standardised: mean 0, sd 1 (a constant x becomes 0); returns the sd used */
static double
standardize(float *x, int n)
{
	double		s1 = 0;
	double		s2 = 0;
	double		sd;

	if (n <= 0)
		return 1;
	for (int c = 0; c < n; c++)
		s1 += x[c];
	s1 /= n;
	for (int c = 0; c < n; c++)
		s2 += (x[c] - s1) * (x[c] - s1);
	sd = sqrt(s2 / n);
	if (!(sd > SD_FLOOR))
		sd = SD_FLOOR;
	for (int c = 0; c < n; c++)
		x[c] = (float) ((x[c] - s1) / sd);
	return sd;
}

void
rs_cold_mix_prepare(float *content, float *terms, int n)
{
	rs_cold_mix_scales(content, terms, n, NULL);
}

void
rs_cold_mix_scales(float *content, float *terms, int n, double *sd)
{
	for (int c = 0; c < n; c++)
	{
		content[c] = (float) log((content[c] > 0 ? content[c] : 0) + CONTENT_FLOOR);
		terms[RS_COLD_MIX_SHARP * n + c] = (float) log(terms[RS_COLD_MIX_SHARP * n + c] + CONTENT_FLOOR);
	}
	for (int j = 0; j < RS_COLD_MIX_TERMS; j++)
	{
		double		used = standardize(terms + (size_t) j * n, n);

		if (sd)
			sd[j] = used;
	}
}

/*
 * The shares of the log terms are their rise above the floor, ln((x +
 * floor) / floor), split in proportion to each item's part of x; the
 * linear terms' are each weight times coef / sd.  Left out, the same for
 * every candidate of the user: ln(floor), coef_1 ln(floor) / sd_1 and
 * the means of those terms times coef / sd.
 */
/* coef_j / sd_j, 0 for a term constant over the candidates (its z is 0) */
static double
term_scale(const double *coef, const double *sd, int j)
{
	return sd[j] > SD_FLOOR ? coef[j] / sd[j] : 0;
}

void
rs_cold_mix_shares(const RsColdLists *lists, int32_t r, const int32_t *pos, const double *coef,
				   const double *sd, double *out)
{
	double		content = 0;
	double		sharp = 0;
	double		rise_content;
	double		rise_sharp;
	double		scale[RS_COLD_LISTS] = {0, term_scale(coef, sd, RS_COLD_MIX_CB2CF),
	term_scale(coef, sd, RS_COLD_MIX_LISTS)};
	const int64_t *ptr = lists->indptr[RS_COLD_LIST_CONTENT];

	for (int64_t e = ptr[r]; e < ptr[r + 1]; e++)
		if (pos[lists->idx[RS_COLD_LIST_CONTENT][e]] >= 0)
		{
			double		v = lists->val[RS_COLD_LIST_CONTENT][e];

			content += v;
			if (v > 0)
				sharp += v * v * v;
		}
	rise_content = content > 0 ? log((content + CONTENT_FLOOR) / CONTENT_FLOOR) / content : 0;
	rise_sharp = sharp > 0 ? term_scale(coef, sd, RS_COLD_MIX_SHARP) *
		log((sharp + CONTENT_FLOOR) / CONTENT_FLOOR) / sharp : 0;
	for (int l = 0; l < RS_COLD_LISTS; l++)
		for (int64_t e = lists->indptr[l][r]; e < lists->indptr[l][r + 1]; e++)
		{
			int32_t		p = pos[lists->idx[l][e]];
			double		v = lists->val[l][e];

			if (p < 0)
				continue;
			if (l == RS_COLD_LIST_CONTENT)
				out[p] += v * rise_content + (v > 0 ? v * v * v * rise_sharp : 0);
			else
				out[p] += v * scale[l];
		}
}

void
rs_cold_mix_apply(const float *content, const float *terms, int n, const double *coef, float *out)
{
	for (int c = 0; c < n; c++)
	{
		double		v = content[c];

		for (int j = 0; j < RS_COLD_MIX_TERMS; j++)
			if (coef[j] != 0)
				v += coef[j] * terms[(size_t) j * n + c];
		out[c] = (float) v;
	}
}

/* one user's NDCG@10 of score (ties: the smaller tie first) */
static double
user_ndcg(const float *score, int n, const int64_t *tie, const int32_t *rel, int64_t n_rel)
{
	int32_t		top[10];
	int			m = 0;
	double		dcg = 0;
	double		idcg = 0;

	for (int c = 0; c < n; c++)
	{
		int			r;

		if (m == 10)
		{
			int32_t		last = top[9];

			if (score[c] < score[last] || (score[c] == score[last] && tie[c] >= tie[last]))
				continue;
		}
		for (r = m < 10 ? m : 9; r > 0 &&
			 (score[c] > score[top[r - 1]] || (score[c] == score[top[r - 1]] && tie[c] < tie[top[r - 1]])); r--)
			top[r] = top[r - 1];
		top[r] = c;
		if (m < 10)
			m++;
	}
	for (int r = 0; r < m; r++)
		for (int64_t e = 0; e < n_rel; e++)
			if (rel[e] == top[r])
			{
				dcg += 1 / log2(r + 2.0);
				break;
			}
	for (int r = 0; r < n_rel && r < 10; r++)
		idcg += 1 / log2(r + 2.0);
	return idcg > 0 ? dcg / idcg : 0;
}

double
rs_cold_mix_ndcg(int n_users, int n, const float *content, const float *terms, const int64_t *tie,
				 const int64_t *rel_ptr, const int32_t *rel_idx, const double *coef, float *scratch)
{
	double		total = 0;
	int			users = 0;

	for (int u = 0; u < n_users; u++)
	{
		if (rel_ptr[u + 1] == rel_ptr[u])
			continue;
		rs_cold_mix_apply(content + (size_t) u * n, terms + (size_t) u * n * RS_COLD_MIX_TERMS, n, coef,
						  scratch);
		total += user_ndcg(scratch, n, tie, rel_idx + rel_ptr[u], rel_ptr[u + 1] - rel_ptr[u]);
		users++;
	}
	return users > 0 ? total / users : 0;
}

int
rs_cold_mix_fit(int n_users, int n, const float *content, const float *terms, const int64_t *tie,
				const int64_t *rel_ptr, const int32_t *rel_idx, double *coef, double *ndcg,
				float *scratch, RsStopFn stop, void *stop_arg)
{
	double		start[RS_COLD_MIX_TERMS];
	double		best;
	RsStopClock clock = rs_stop_clock(stop, stop_arg);
	int64_t		cost = (int64_t) n_users * n * (RS_COLD_MIX_TERMS + 2);

	if (n_users < 0 || n < 1)
		return RS_COLD_MIX_BAD_ARGUMENT;
	memcpy(start, coef, sizeof(start));
	best = rs_cold_mix_ndcg(n_users, n, content, terms, tie, rel_ptr, rel_idx, coef, scratch);
	for (int st = 0; st <= RS_COLD_MIX_TERMS; st++)
	{
		double		cur[RS_COLD_MIX_TERMS];
		double		b;

		memcpy(cur, start, sizeof(cur));
		if (st > 0)
			cur[st - 1] = 2;
		b = rs_cold_mix_ndcg(n_users, n, content, terms, tie, rel_ptr, rel_idx, cur, scratch);
		for (int round = 0; round < 3; round++)
			for (int j = 0; j < RS_COLD_MIX_TERMS; j++)
			{
				double		keep = cur[j];

				for (int v = 0; v < RS_COLD_MIX_N_VALUES; v++)
				{
					double		x;

					if (rs_stop_tick(&clock, cost))
						return RS_COLD_MIX_STOPPED;
					cur[j] = rs_cold_mix_values[v];
					x = rs_cold_mix_ndcg(n_users, n, content, terms, tie, rel_ptr, rel_idx, cur, scratch);
					if (x > b + 1e-9)
					{
						b = x;
						keep = rs_cold_mix_values[v];
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
	*ndcg = best;
	return RS_COLD_MIX_OK;
}
