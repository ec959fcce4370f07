/*-------------------------------------------------------------------------
 *
 * array_util.h
 *		One-dimensional real[] and bigint[] arrays to and from C arrays.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RECSYS_ARRAY_UTIL_H
#define RECSYS_ARRAY_UTIL_H

#include "postgres.h"

#include "utils/array.h"

extern ArrayType *RsFloatArray(const float *values, int n);
extern ArrayType *RsInt64Array(const int64 *values, int n);
extern float *RsArrayToFloats(ArrayType *array, const char *argname, int *n);
extern int64 *RsArrayToInt64s(ArrayType *array, const char *argname, int *n);

#endif							/* RECSYS_ARRAY_UTIL_H */
