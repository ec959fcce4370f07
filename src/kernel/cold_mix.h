/*-------------------------------------------------------------------------
 *
 * cold_mix.h
 *		The cold re-ranker's numerics (src/kind_cold.c serves, src/train_cold.c
 *		trains): each cold item's stored term inputs, a user's terms over a
 *		candidate set, their per-user z-scored linear mix, and the fit of
 *		the mix's coefficients on pseudo-cold items.
 *
 * A cold item c (features, no interactions) is given three weighted lists
 * of warm items and one number:
 *	content  the tf-idf cosine of c's features with each warm item's (the
 *			 content-only kNN baseline's weights);
 *	cb2cf	 a = F (F'F + lambda I)^-1 f_c, F the warm items' binary unit
 *			 feature rows: CB2CF's direct form (Barkan et al. 2019), the
 *			 warm items whose features explain c's (rs_cold_map_coefficients);
 *	lists	 a'S, S the warm items' binary-cosine neighbour lists: the
 *			 learned cold lists of item-kNN (rs_cold_map_spread);
 *	prior	 the mean over c's features of the warm items' shrunk mean
 *			 ln(1 + users) with that feature (5 pseudo-items at the mean).
 * Each list keeps its `length` largest weights (by absolute value).
 *
 * For a user with items H and candidates C, a list term of c is the sum of
 * its weights over H.  The score of c is
 *	ln(content_c + 0.001) + sum_j coef_j z_j(c),
 * z_j the term j standardised over C (mean 0, sd 1) for this user, the
 * terms being ln(sum of content weights cubed + 0.001) (sharpened
 * cosines), the prior, cb2cf and lists (RS_COLD_MIX_TERMS).  This is the
 * mix of test/bench/cold_lab.c without its ALS ridge term.
 *
 * The coefficients are fitted by coordinate ascent on NDCG@10 over the
 * values RS_COLD_MIX_VALUES, three rounds, from RS_COLD_MIX_TERMS + 1
 * starts (all zero, and each term alone at 2), on users whose answers
 * are known (pseudo-cold items: warm items hidden from the inputs).
 *
 * Plain C: no allocation (the caller passes the work space),
 * deterministic; rs_cold_items_lists shares its targets among threads
 * (threads.h), the rest runs on the caller's thread.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_KERNEL_COLD_MIX_H
#define RECSYS_KERNEL_COLD_MIX_H

#include <stddef.h>
#include <stdint.h>

#include "sparse.h"
#include "stop.h"

#define RS_COLD_MIX_OK 0
#define RS_COLD_MIX_STOPPED 1
#define RS_COLD_MIX_BAD_ARGUMENT 2
#define RS_COLD_MIX_ERR_THREAD 3	/* a thread could not be created: results complete */

/* the stored lists */
#define RS_COLD_LISTS 3
#define RS_COLD_LIST_CONTENT 0
#define RS_COLD_LIST_CB2CF 1
#define RS_COLD_LIST_LEARNED 2

/* the z-scored terms of the mix */
#define RS_COLD_MIX_TERMS 4
#define RS_COLD_MIX_SHARP 0
#define RS_COLD_MIX_PRIOR 1
#define RS_COLD_MIX_CB2CF 2
#define RS_COLD_MIX_LISTS 3

/* the names of the lists and of the terms (params, explain) */
extern const char *const rs_cold_list_names[RS_COLD_LISTS];
extern const char *const rs_cold_term_names[RS_COLD_MIX_TERMS];

/* What a cold item's lists are built from (rs_cold_item_lists). */
typedef struct RsColdInputs
{
	const RsCsr *words;			/* items x words, unit tf-idf rows */
	const RsCsr *warm_words_t;	/* words x items: words' transpose, warm items only */
	const RsCsr *fit;			/* items x words: warm items' unit binary rows (others empty) */
	const RsCsr *lists;			/* items x items: warm items' neighbour lists */
	const float *word_prior;	/* per word (rs_cold_word_prior) */
	float		prior_default;	/* an item without words */
	float		lambda;			/* the ridge of cb2cf */
	int			max_iter;		/* conjugate-gradient steps at most */
	int			length;			/* weights kept per list */
} RsColdInputs;

/*
 * Per word, the shrunk mean ln(1 + users) of the warm items with it, into
 * word_prior (warm_words_t->n_rows); *global: the mean over the n_warm
 * warm items (log_users per item, non-warm items ignored).
 */
extern void rs_cold_word_prior(const RsCsr *warm_words_t, const float *log_users,
							   const uint8_t *is_warm, int32_t n_items, float *word_prior,
							   float *global);

/* floats of work rs_cold_item_lists needs */
extern size_t rs_cold_item_work(const RsColdInputs *in);

/*
 * Item `item`'s (a row of in->words) three lists, best first, into idx/val
 * (RS_COLD_LISTS x in->length, list l at l * length) with count[l] entries
 * each, and its prior.  The item itself is never in its lists.  Returns
 * RS_COLD_MIX_OK, or the status of the conjugate gradients.
 */
extern int	rs_cold_item_lists(const RsColdInputs *in, int32_t item, int32_t *idx, float *val,
							   int32_t *count, float *prior, float *work);

/*
 * rs_cold_item_lists for n targets (rows of in->words) on nthreads
 * threads: target t's lists at idx/val + t * RS_COLD_LISTS * length,
 * counts at count + t * RS_COLD_LISTS, prior at prior[t]; work holds
 * nthreads * rs_cold_item_work(in) floats.  Each target is computed
 * alone, so the results are the same whatever nthreads.  Returns
 * RS_COLD_MIX_OK, RS_COLD_MIX_ERR_THREAD (complete results all the
 * same) or the first failure of a target (*failed: which).
 */
extern int	rs_cold_items_lists(const RsColdInputs *in, const int32_t *targets, int32_t n, int32_t *idx,
								float *val, int32_t *count, float *prior, float *work, int nthreads,
								int32_t *failed);

/* The stored lists of the cold rows, as served. */
typedef struct RsColdLists
{
	int32_t		n_rows;
	const int64_t *indptr[RS_COLD_LISTS];	/* n_rows + 1 each */
	const int32_t *idx[RS_COLD_LISTS];	/* item indexes */
	const float *val[RS_COLD_LISTS];
	const float *prior;			/* n_rows */
} RsColdLists;

/*
 * A user's raw terms for the n candidate rows: content[c] the sum of
 * content weights over the user's items (has: one flag per item index),
 * terms[j * n + c] the raw term j.
 */
extern void rs_cold_user_terms(const RsColdLists *lists, const int32_t *rows, int n,
							   const uint8_t *has, float *content, float *terms);

/*
 * The lists' entries by the item they name (training's many users over
 * one candidate set): for item i, post_row/post_list/post_val[ptr[i] ..
 * ptr[i + 1]) are the rows, lists and weights of the entries naming it,
 * in the rows' order.  ptr: n_items + 1; the others: every entry.
 */
typedef struct RsColdPostings
{
	int32_t		n_items;
	int64_t    *ptr;
	int32_t    *post_row;
	uint8_t    *post_list;
	float	   *post_val;
} RsColdPostings;

/* entries of lists (all rows): the size of the postings' arrays */
extern int64_t rs_cold_postings_size(const RsColdLists *lists);

/* fill p (arrays of rs_cold_postings_size, ptr n_items + 1) from lists */
extern void rs_cold_postings_build(const RsColdLists *lists, RsColdPostings *p);

/*
 * rs_cold_user_terms over every row of lists (candidate c = row c) for a
 * user with the n_items items (duplicates ignored; seen: n_items flags,
 * all 0, left so), through the postings: the cost is the user's entries,
 * not every row's.  The sums are the same up to their order's rounding.
 * acc: 4 * lists->n_rows doubles.
 */
extern void rs_cold_user_terms_posted(const RsColdLists *lists, const RsColdPostings *p,
									  const int32_t *items, int n_items, uint8_t *seen,
									  double *acc, float *content, float *terms);

/*
 * In place: content -> ln(content + 0.001), the sharpened term likewise,
 * then each term standardised over the n candidates.
 */
extern void rs_cold_mix_prepare(float *content, float *terms, int n);

/* rs_cold_mix_prepare, also giving each term's sd over the candidates (sd: RS_COLD_MIX_TERMS) */
extern void rs_cold_mix_scales(float *content, float *terms, int n, double *sd);

/*
 * explain: the share of each of the user's items in the score of cold row
 * r (lists' row), added to out[pos[i]] for item index i (pos[i] < 0: not
 * the user's), with the user's coefficients and the terms' sd over the
 * candidates (rs_cold_mix_scales).  With the prior's part of the score
 * (coef times its z, which no user item carries) they add up to the
 * score less a constant that is the same for every candidate of the user
 * (the floor's logarithms and the item terms' means), so they say what
 * lifts the item above the other candidates.
 */
extern void rs_cold_mix_shares(const RsColdLists *lists, int32_t r, const int32_t *pos,
							   const double *coef, const double *sd, double *out);

/* out[c] = content[c] + sum_j coef[j] terms[j * n + c] (prepared inputs) */
extern void rs_cold_mix_apply(const float *content, const float *terms, int n, const double *coef,
							  float *out);

/* The values coordinate ascent tries for a coefficient. */
#define RS_COLD_MIX_N_VALUES 9
extern const double rs_cold_mix_values[RS_COLD_MIX_N_VALUES];

/*
 * Fit coef (RS_COLD_MIX_TERMS) on n_users users sharing the n candidates:
 * user u's prepared inputs at content + u * n and terms + u * n *
 * RS_COLD_MIX_TERMS, the candidates it is known to want rel_idx[rel_ptr[u]
 * .. rel_ptr[u + 1]) (candidate positions); ties rank the smaller tie[]
 * first.  coef comes in as the first start; *ndcg: the mean NDCG@10 over
 * users with answers at the coef returned.  scratch: n floats.
 */
extern int	rs_cold_mix_fit(int n_users, int n, const float *content, const float *terms,
							const int64_t *tie, const int64_t *rel_ptr, const int32_t *rel_idx,
							double *coef, double *ndcg, float *scratch, RsStopFn stop,
							void *stop_arg);

/* The mean NDCG@10 of the mix at coef (scratch: n floats). */
extern double rs_cold_mix_ndcg(int n_users, int n, const float *content, const float *terms,
							   const int64_t *tie, const int64_t *rel_ptr, const int32_t *rel_idx,
							   const double *coef, float *scratch);

#endif							/* RECSYS_KERNEL_COLD_MIX_H */
