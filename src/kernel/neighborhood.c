/*-------------------------------------------------------------------------
 *
 * neighborhood.c
 *		Koren's global neighbourhood model ("Factor in the Neighbors",
 *		KDD 2008 / TKDD 2010, section 3): interpolation weights between
 *		items learned by gradient descent on the squared rating error.
 *
 * The model predicts
 *
 *   r_ui = mu + b_u + b_i
 *          + |R^k(i;u)|^-1/2 sum_{j in R^k(i;u)} ((r_uj - base_uj) w_ij + c_ij)
 *
 * where R^k(i;u) is the set of the k items most similar to i that user u
 * rated.  Koren writes the implicit term over N^k(i;u), the neighbours
 * the user is known to have rated whatever the rating; with ratings as
 * the only input the two sets are the same, hence one sum.  base_uj =
 * mu + base_u + base_j are baselines fitted first and then held fixed
 * (the paper's b_uj: "the b_uj's remain constant"), by alternating
 * regularised means (his section 2.1; reg_item 25, reg_user 10).  A
 * user's base_u needs only their ratings and the items' baselines, so
 * serving recomputes it from the ratings the user has now
 * (rs_nbr_user_base), and a user unseen in training gets predictions
 * too.  b_i, w and c are learned by SGD, from base_i and zero.  Unlike
 * the paper, b_u is not learned but stays base_u: on an inner validation
 * split of ml-latest-small (cv5 fold 1) that was as accurate (RMSE
 * 0.8460 against 0.8465), and it leaves the model without any per-user
 * parameter, so users are served from their ratings as they are now.
 *
 * The k neighbours of each item are fixed before the descent by a shrunk
 * Pearson correlation of the baseline residuals over the users who rated
 * both (Koren 2010 eq. 3): rho_ij * n_ij / (n_ij + shrinkage).  Each
 * item's row is computed alone (its users' items are its candidates), so
 * rows split over threads without any effect on the result.
 *
 * The descent is one pass per epoch over the users in a seeded random
 * order, each user's ratings in turn, as Koren does: a user's rated items
 * are marked once in position[] (1 + their place in the user's row) and
 * each rating then finds R^k(i;u) by looking its k neighbours up there.
 * It runs on one thread: an update changes the weights the next one
 * reads, so any parallel split would make the result depend on the
 * thread count; an epoch of ml-latest-small takes milliseconds.
 *
 *-------------------------------------------------------------------------
 */
#include "neighborhood.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "threads.h"
#include "topk.h"

const char *
rs_nbr_strerror(int status)
{
	switch (status)
	{
		case RS_NBR_OK:
			return "no error";
		case RS_NBR_STOPPED:
			return "stopped";
		case RS_NBR_ERR_THREAD:
			return "a worker thread could not be created";
		case RS_NBR_ERR_DIVERGED:
			return "the descent diverged (a prediction is not finite)";
		case RS_NBR_ERR_RANGE:
			return "an index is out of range";
	}
	return "unknown error";
}

/*
 * A user's baseline offset from the items' baselines: the regularised
 * mean of r_uj - mu - base_j over the user's n ratings.
 */
float
rs_nbr_user_base(const int32_t *items, const float *ratings, int64_t n, float mu,
				 const float *item_base, float reg_user)
{
	double		sum = 0;

	for (int64_t p = 0; p < n; p++)
		sum += (double) ratings[p] - mu - item_base[items[p]];
	return (float) (sum / (reg_user + (double) n));
}

/*
 * The baselines by sweeps of alternating regularised means, items first
 * (with the users' offsets of the sweep before, zero at first), users
 * last, so a user's baseline is rs_nbr_user_base of its ratings.
 */
int
rs_nbr_baselines(const RsCsr *by_user, const RsCsr *by_item, float mu, float reg_user,
				 float reg_item, int sweeps, float *user_base, float *item_base)
{
	if (by_user->n_rows != by_item->n_cols || by_user->n_cols != by_item->n_rows)
		return RS_NBR_ERR_RANGE;
	memset(user_base, 0, sizeof(float) * by_user->n_rows);
	for (int s = 0; s < sweeps; s++)
	{
		for (int32_t i = 0; i < by_item->n_rows; i++)
		{
			int64_t		begin = by_item->indptr[i];
			int64_t		end = by_item->indptr[i + 1];

			/* the item-side mean, the same formula with the roles swapped */
			item_base[i] = rs_nbr_user_base(by_item->indices + begin, by_item->data + begin,
											end - begin, mu, user_base, reg_item);
		}
		for (int32_t u = 0; u < by_user->n_rows; u++)
		{
			int64_t		begin = by_user->indptr[u];
			int64_t		end = by_user->indptr[u + 1];

			user_base[u] = rs_nbr_user_base(by_user->indices + begin, by_user->data + begin,
											end - begin, mu, item_base, reg_user);
		}
	}
	return RS_NBR_OK;
}

/* z[p] = r - mu - base_u - base_i for every stored rating of m. */
void
rs_nbr_residuals(const RsCsr *m, bool rows_are_users, float mu, const float *user_base,
				 const float *item_base, float *z)
{
	for (int32_t r = 0; r < m->n_rows; r++)
		for (int64_t p = m->indptr[r]; p < m->indptr[r + 1]; p++)
		{
			int32_t		col = m->indices[p];
			float		bu = rows_are_users ? user_base[r] : user_base[col];
			float		bi = rows_are_users ? item_base[col] : item_base[r];

			z[p] = m->data[p] - mu - bu - bi;
		}
}

/* One thread's accumulators over candidate items. */
typedef struct NbrScratch
{
	double	   *sxy;
	double	   *sxx;
	double	   *syy;
	int32_t    *support;
	int32_t    *touched;
} NbrScratch;

static size_t
scratch_bytes(int32_t n_items)
{
	return (size_t) n_items * (3 * sizeof(double) + 2 * sizeof(int32_t));
}

static NbrScratch
scratch_at(void *base, int32_t n_items)
{
	NbrScratch	s;
	char	   *p = base;

	s.sxy = (double *) p;
	s.sxx = s.sxy + n_items;
	s.syy = s.sxx + n_items;
	s.support = (int32_t *) (s.syy + n_items);
	s.touched = s.support + n_items;
	return s;
}

/* Workspace of rs_nbr_neighbors: zeroed accumulators per thread. */
size_t
rs_nbr_neighbors_workspace_bytes(int32_t n_items, int threads)
{
	if (threads < 1)
		threads = 1;
	if (threads > RS_THREADS_MAX)
		threads = RS_THREADS_MAX;
	return (size_t) threads * scratch_bytes(n_items);
}

typedef struct NbrShared
{
	const RsCsr *by_item;
	const float *z_by_item;
	const RsCsr *by_user;
	const float *z_by_user;
	float		shrinkage;
	int			k;
	int32_t		end;
	int64_t		next;
	int32_t    *neighbor;
	float	   *similarity;
	int32_t    *count;
} NbrShared;

typedef struct NbrWorker
{
	NbrShared  *shared;
	NbrScratch	scratch;
} NbrWorker;

/* The k best neighbours of item i by shrunk Pearson correlation. */
static void
item_row(NbrShared *sh, NbrScratch *s, int32_t i)
{
	const RsCsr *A = sh->by_item;
	const RsCsr *At = sh->by_user;
	int32_t		n_touched = 0;
	int32_t    *nbr = sh->neighbor + (int64_t) i * sh->k;
	float	   *sim = sh->similarity + (int64_t) i * sh->k;
	int			size = 0;

	for (int64_t p = A->indptr[i]; p < A->indptr[i + 1]; p++)
	{
		int32_t		u = A->indices[p];
		double		zi = sh->z_by_item[p];

		for (int64_t q = At->indptr[u]; q < At->indptr[u + 1]; q++)
		{
			int32_t		j = At->indices[q];
			double		zj = sh->z_by_user[q];

			if (j == i)
				continue;
			if (s->support[j]++ == 0)
				s->touched[n_touched++] = j;
			s->sxy[j] += zi * zj;
			s->sxx[j] += zi * zi;
			s->syy[j] += zj * zj;
		}
	}
	for (int32_t t = 0; t < n_touched; t++)
	{
		int32_t		j = s->touched[t];
		double		den = sqrt(s->sxx[j] * s->syy[j]);
		double		n = s->support[j];

		if (den > 0)
			rs_topk_offer(nbr, sim, &size, sh->k,
						  (float) (s->sxy[j] / den * n / (n + sh->shrinkage)), j);
		s->sxy[j] = s->sxx[j] = s->syy[j] = 0;
		s->support[j] = 0;
	}
	rs_topk_sort(nbr, sim, size);
	sh->count[i] = size;
}

static void *
neighbors_worker(void *arg)
{
	NbrWorker  *w = arg;
	int64_t		begin;
	int64_t		end;

	while (rs_threads_grab(&w->shared->next, 16, w->shared->end, &begin, &end))
		for (int64_t i = begin; i < end; i++)
			item_row(w->shared, &w->scratch, (int32_t) i);
	return NULL;
}

/*
 * The neighbours of items [begin, end): for each, up to k items by
 * descending shrunk Pearson correlation of the residuals (z_by_item and
 * z_by_user: rs_nbr_residuals of each view), ties by index; the best
 * first in neighbor/similarity rows of k slots, how many in count.
 * workspace: rs_nbr_neighbors_workspace_bytes, zeroed (and left so).
 */
int
rs_nbr_neighbors(const RsCsr *by_item, const float *z_by_item, const RsCsr *by_user,
				 const float *z_by_user, float shrinkage, int k, int32_t begin, int32_t end,
				 int threads, void *workspace, int32_t *neighbor, float *similarity,
				 int32_t *count)
{
	NbrShared	shared = {by_item, z_by_item, by_user, z_by_user, shrinkage, k, end, begin,
	neighbor, similarity, count};
	NbrWorker	workers[RS_THREADS_MAX];

	if (begin < 0 || end > by_item->n_rows || k < 1)
		return RS_NBR_ERR_RANGE;
	if (threads < 1)
		threads = 1;
	if (threads > RS_THREADS_MAX)
		threads = RS_THREADS_MAX;
	for (int t = 0; t < threads; t++)
	{
		workers[t].shared = &shared;
		workers[t].scratch = scratch_at((char *) workspace + (size_t) t * scratch_bytes(by_item->n_rows),
										by_item->n_rows);
	}
	/* rows are shared out by a counter: if a worker is missing, the others do its rows */
	if (rs_threads_run(threads, neighbors_worker, workers, sizeof(NbrWorker)) != RS_THREADS_OK)
		return RS_NBR_ERR_THREAD;
	return RS_NBR_OK;
}

/*
 * The neighbourhood term of item i for a user whose rated items are
 * marked in position (1 + their place in the user's list, 0 if unrated)
 * with residuals z (in the user's list order): |R|^-1/2 sum over the
 * rated neighbours j of z_j w_ij + c_ij.  With contributions (zeroed, one
 * per user item) each rated neighbour's share is added at its place.
 */
double
rs_nbr_offset(const RsNbrModel *m, int32_t i, const int32_t *position, const float *z,
			  float *contributions)
{
	int64_t		slot = m->start[i];
	double		sum = 0;
	int			rated = 0;
	double		scale;

	for (int q = 0; q < m->count[i]; q++)
	{
		int32_t		pos = position[m->neighbor[slot + q]];

		if (pos == 0)
			continue;
		sum += (double) z[pos - 1] * m->w[slot + q] + m->c[slot + q];
		rated++;
	}
	if (rated == 0)
		return 0;
	scale = 1.0 / sqrt((double) rated);
	if (contributions)
		for (int q = 0; q < m->count[i]; q++)
		{
			int32_t		pos = position[m->neighbor[slot + q]];

			if (pos != 0)
				contributions[pos - 1] += (float) (scale * ((double) z[pos - 1] * m->w[slot + q] +
															m->c[slot + q]));
		}
	return sum * scale;
}

/* A seeded permutation of 0 .. n-1 (Fisher-Yates). */
static void
permute(int32_t *order, int32_t n, uint64_t seed, uint64_t stream)
{
	for (int32_t u = 0; u < n; u++)
		order[u] = u;
	for (int32_t u = n - 1; u > 0; u--)
	{
		int32_t		v = (int32_t) (rs_rng_u64(seed, stream * (uint64_t) n + (uint64_t) u) %
								   (uint64_t) (u + 1));
		int32_t		t = order[u];

		order[u] = order[v];
		order[v] = t;
	}
}

/*
 * One SGD epoch over every rating of by_user (z_by_user: its residuals),
 * users in a seeded order (order: scratch of n_users).  position: n_items
 * zeros, left zeroed.  Updates b_i and the w and c of the rated
 * neighbours (user_base: the users' fixed baselines); *sq_error gets the sum of the squared errors seen before
 * each update.  Returns RS_NBR_STOPPED when the stop callback asks
 * (checked every few million operations), RS_NBR_ERR_DIVERGED when an
 * error is not finite, RS_NBR_ERR_RANGE when an item has more than
 * RS_NBR_MAX_NEIGHBORS neighbours.
 */
int
rs_nbr_epoch(RsNbrModel *m, const RsCsr *by_user, const float *z_by_user, const float *user_base,
			 const RsNbrStep *step, int32_t *position, int32_t *order, RsStopFn stop,
			 void *stop_arg, double *sq_error)
{
	RsStopClock clock = rs_stop_clock(stop, stop_arg);
	float		lr = step->learning_rate;
	float		reg = step->regularization;
	double		total = 0;
	int			status = RS_NBR_OK;
	int64_t		hit_slot[RS_NBR_MAX_NEIGHBORS];
	float		hit_z[RS_NBR_MAX_NEIGHBORS];
	int64_t		work_per_rating = 4 + 3 * (m->n_items > 0 ? m->start[m->n_items - 1] / m->n_items + 1 : 0);

	permute(order, by_user->n_rows, step->seed, (uint64_t) step->epoch);
	for (int32_t t = 0; t < by_user->n_rows && status == RS_NBR_OK; t++)
	{
		int32_t		u = order[t];
		int64_t		begin = by_user->indptr[u];
		int64_t		end = by_user->indptr[u + 1];
		const float *z = z_by_user + begin;

		for (int64_t p = begin; p < end; p++)
			position[by_user->indices[p]] = (int32_t) (p - begin + 1);
		for (int64_t p = begin; p < end; p++)
		{
			int32_t		i = by_user->indices[p];
			int64_t		slot = m->start[i];
			int			rated = 0;
			double		sum = 0;
			double		err;
			float		scaled;

			if (m->count[i] > RS_NBR_MAX_NEIGHBORS)
			{
				status = RS_NBR_ERR_RANGE;
				break;
			}
			/* the rated neighbours, once: rs_nbr_offset's sum, kept for the update */
			for (int q = 0; q < m->count[i]; q++)
			{
				int32_t		pos = position[m->neighbor[slot + q]];

				if (pos == 0)
					continue;
				hit_slot[rated] = slot + q;
				hit_z[rated] = z[pos - 1];
				sum += (double) hit_z[rated] * m->w[slot + q] + m->c[slot + q];
				rated++;
			}
			err = by_user->data[p] - (m->mu + user_base[u] + m->item_bias[i] +
									  (rated > 0 ? sum / sqrt((double) rated) : 0));
			if (!isfinite(err))
			{
				status = RS_NBR_ERR_DIVERGED;
				break;
			}
			total += err * err;
			m->item_bias[i] += lr * ((float) err - reg * m->item_bias[i]);
			if (rated == 0)
				continue;
			scaled = (float) (err / sqrt((double) rated));
			for (int h = 0; h < rated; h++)
			{
				int64_t		s = hit_slot[h];

				m->w[s] += lr * (scaled * hit_z[h] - reg * m->w[s]);
				m->c[s] += lr * (scaled - reg * m->c[s]);
			}
		}
		for (int64_t p = begin; p < end; p++)
			position[by_user->indices[p]] = 0;
		if (status == RS_NBR_OK && rs_stop_tick(&clock, (end - begin) * work_per_rating))
			status = RS_NBR_STOPPED;
	}
	*sq_error = total;
	return status;
}

/*
 * Order each item's neighbours by descending w (ties by index), moving c
 * along: the order in which they are stored and listed as similar items.
 */
void
rs_nbr_sort_by_weight(RsNbrModel *m, int32_t *neighbor)
{
	for (int32_t i = 0; i < m->n_items; i++)
	{
		int64_t		s = m->start[i];

		/* insertion sort: k is at most a thousand, and mostly in order */
		for (int q = 1; q < m->count[i]; q++)
		{
			int32_t		j = neighbor[s + q];
			float		w = m->w[s + q];
			float		c = m->c[s + q];
			int			r = q;

			while (r > 0 && rs_topk_ranks_before(w, j, m->w[s + r - 1], neighbor[s + r - 1]))
			{
				neighbor[s + r] = neighbor[s + r - 1];
				m->w[s + r] = m->w[s + r - 1];
				m->c[s + r] = m->c[s + r - 1];
				r--;
			}
			neighbor[s + r] = j;
			m->w[s + r] = w;
			m->c[s + r] = c;
		}
	}
}

/*
 * The reverse of the neighbour lists, for scoring every item of a user at
 * once: rev_indptr (n_items + 1) delimits, for each item j, the slots of
 * the lists j appears in (rev_slot) and whose lists they are (rev_owner),
 * in slot order.  nnz: the slots in use, start[n_items - 1] +
 * count[n_items - 1] for packed lists.
 */
void
rs_nbr_reverse(const RsNbrModel *m, int64_t *rev_indptr, int64_t *rev_slot, int32_t *rev_owner)
{
	memset(rev_indptr, 0, sizeof(int64_t) * ((size_t) m->n_items + 1));
	for (int32_t i = 0; i < m->n_items; i++)
		for (int q = 0; q < m->count[i]; q++)
			rev_indptr[m->neighbor[m->start[i] + q] + 1]++;
	for (int32_t j = 0; j < m->n_items; j++)
		rev_indptr[j + 1] += rev_indptr[j];
	for (int32_t i = 0; i < m->n_items; i++)
		for (int q = 0; q < m->count[i]; q++)
		{
			int32_t		j = m->neighbor[m->start[i] + q];
			int64_t		at = rev_indptr[j]++;

			rev_slot[at] = m->start[i] + q;
			rev_owner[at] = i;
		}
	/* the fill moved each start to the next item's: shift back */
	for (int32_t j = m->n_items; j > 0; j--)
		rev_indptr[j] = rev_indptr[j - 1];
	rev_indptr[0] = 0;
}

/*
 * Add the neighbourhood term of every item to out[] for a user with the n
 * rated items items[] and residuals z[] (as rs_nbr_offset, summed in the
 * user's item order), in time proportional to the user's items' reverse
 * lists rather than to the catalog.  sum (n_items doubles) and count,
 * touched (n_items int32 each) are zeroed scratch, left zeroed.
 */
void
rs_nbr_offsets_all(const RsNbrModel *m, const int64_t *rev_indptr, const int64_t *rev_slot,
				   const int32_t *rev_owner, const int32_t *items, const float *z, int64_t n,
				   double *sum, int32_t *count, int32_t *touched, float *out)
{
	int32_t		n_touched = 0;

	for (int64_t p = 0; p < n; p++)
	{
		int32_t		j = items[p];

		for (int64_t r = rev_indptr[j]; r < rev_indptr[j + 1]; r++)
		{
			int32_t		i = rev_owner[r];
			int64_t		s = rev_slot[r];

			if (count[i]++ == 0)
				touched[n_touched++] = i;
			sum[i] += (double) z[p] * m->w[s] + m->c[s];
		}
	}
	for (int32_t t = 0; t < n_touched; t++)
	{
		int32_t		i = touched[t];

		out[i] += (float) (sum[i] / sqrt((double) count[i]));
		sum[i] = 0;
		count[i] = 0;
	}
}
