/*-------------------------------------------------------------------------
 *
 * experiment.c
 *		The parts of the online experiments (sql/recsys.sql, "Online
 *		experiments") that are not SQL: a user's bucket, and the
 *		distribution functions the results need (the numerics are in
 *		src/kernel/stats.c).
 *
 * experiment_results and interleaving_results compute their sums in SQL
 * and ask these for the p-values and quantiles, which PostgreSQL does not
 * provide.  The bucket is here because it is computed on every serving
 * call: as a SQL function (with its SET search_path, so never inlined) it
 * cost some 150 us a call, most of an assign.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "stats.h"

PG_FUNCTION_INFO_V1(recsys_experiment_bucket);

/*
 * recsys._experiment_bucket(salt text, user_id bigint): the first 32 bits
 * (big-endian) of SHA-256 of the UTF-8 bytes of salt ':' user_id (in
 * decimal), modulo 10000: the same on every server, platform and version.
 */
Datum
recsys_experiment_bucket(PG_FUNCTION_ARGS)
{
	text	   *salt = PG_GETARG_TEXT_PP(0);
	int64		user_id = PG_GETARG_INT64(1);
	char		suffix[MAXINT8LEN + 2];
	const char *salt_utf8;
	int			salt_len = VARSIZE_ANY_EXHDR(salt);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	pg_cryptohash_ctx *ctx;
	uint32		head;

	salt_utf8 = pg_server_to_any(VARDATA_ANY(salt), salt_len, PG_UTF8);
	if (salt_utf8 != VARDATA_ANY(salt))
		salt_len = strlen(salt_utf8);
	suffix[0] = ':';
	pg_lltoa(user_id, suffix + 1);

	ctx = pg_cryptohash_create(PG_SHA256);
	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) salt_utf8, salt_len) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) suffix, strlen(suffix)) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
	{
		pg_cryptohash_free(ctx);
		elog(ERROR, "could not compute SHA-256 of an experiment's key");
	}
	pg_cryptohash_free(ctx);
	head = ((uint32) digest[0] << 24) | ((uint32) digest[1] << 16) |
		((uint32) digest[2] << 8) | (uint32) digest[3];
	PG_RETURN_INT32((int32) (head % 10000));
}

PG_FUNCTION_INFO_V1(recsys_norm_cdf);
PG_FUNCTION_INFO_V1(recsys_norm_quantile);
PG_FUNCTION_INFO_V1(recsys_t_two_sided_p);
PG_FUNCTION_INFO_V1(recsys_binom_cdf);

/*
 * Return a result, or NULL when the inputs lie outside the function's
 * domain (the callers pass NULL on for a statistic that does not exist yet,
 * such as a variance with one user).
 */
#define RETURN_OR_NULL(x) \
	do { double r_ = (x); if (isnan(r_)) PG_RETURN_NULL(); PG_RETURN_FLOAT8(r_); } while (0)

/*
 * recsys._norm_cdf(x float8): P(Z <= x) for a standard normal Z
 */
Datum
recsys_norm_cdf(PG_FUNCTION_ARGS)
{
	RETURN_OR_NULL(rs_norm_cdf(PG_GETARG_FLOAT8(0)));
}

/*
 * recsys._norm_quantile(p float8): the standard normal's p-quantile
 */
Datum
recsys_norm_quantile(PG_FUNCTION_ARGS)
{
	RETURN_OR_NULL(rs_norm_quantile(PG_GETARG_FLOAT8(0)));
}

/*
 * recsys._t_two_sided_p(t float8, df float8): two-sided p-value of t
 */
Datum
recsys_t_two_sided_p(PG_FUNCTION_ARGS)
{
	RETURN_OR_NULL(rs_t_two_sided_p(PG_GETARG_FLOAT8(0), PG_GETARG_FLOAT8(1)));
}

/*
 * recsys._binom_cdf(k float8, n float8, p float8): P(X <= k), X ~ B(n, p)
 */
Datum
recsys_binom_cdf(PG_FUNCTION_ARGS)
{
	RETURN_OR_NULL(rs_binom_cdf(PG_GETARG_FLOAT8(0), PG_GETARG_FLOAT8(1), PG_GETARG_FLOAT8(2)));
}
