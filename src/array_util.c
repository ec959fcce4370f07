/*-------------------------------------------------------------------------
 *
 * array_util.c
 *		One-dimensional real[] and bigint[] arrays to and from C arrays.
 *
 * Factor vectors and id lists cross between SQL and C by the million, so
 * these build and read the array layout directly (one memcpy) instead of
 * going through a Datum per element.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"

#include "array_util.h"

/* A one-dimensional array without NULLs of n fixed-width elements. */
static ArrayType *
flat_array(const void *values, int n, Oid elemtype, int elemsize)
{
	Size		size = ARR_OVERHEAD_NONULLS(1) + (Size) n * elemsize;
	ArrayType  *array;

	if (n == 0)
		return construct_empty_array(elemtype);
	array = palloc0(size);
	SET_VARSIZE(array, size);
	array->ndim = 1;
	array->dataoffset = 0;
	array->elemtype = elemtype;
	ARR_DIMS(array)[0] = n;
	ARR_LBOUND(array)[0] = 1;
	memcpy(ARR_DATA_PTR(array), values, (Size) n * elemsize);
	return array;
}

/* RsFloatArray returns values[0..n) as a real[]. */
ArrayType *
RsFloatArray(const float *values, int n)
{
	return flat_array(values, n, FLOAT4OID, sizeof(float4));
}

/* RsInt64Array returns values[0..n) as a bigint[]. */
ArrayType *
RsInt64Array(const int64 *values, int n)
{
	return flat_array(values, n, INT8OID, sizeof(int64));
}

/* Check that a user's array is one-dimensional (or empty) without NULLs. */
static void
check_flat(ArrayType *array, Oid elemtype, const char *argname)
{
	if (ARR_ELEMTYPE(array) != elemtype)
		elog(ERROR, "%s: unexpected array element type %u", argname, ARR_ELEMTYPE(array));
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", argname)));
	if (ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain NULLs", argname)));
}

/*
 * A palloc'd copy of a flat array argument's elements (check_flat's
 * checks), never of zero bytes; sets *n.
 */
static void *
copy_flat(ArrayType *array, Oid elemtype, Size elemsize, const char *argname, int *n)
{
	void	   *out;

	check_flat(array, elemtype, argname);
	*n = ARR_NDIM(array) == 0 ? 0 : ARR_DIMS(array)[0];
	out = palloc(elemsize * Max(*n, 1));
	if (*n > 0)
		memcpy(out, ARR_DATA_PTR(array), elemsize * *n);
	return out;
}

/*
 * RsArrayToFloats returns a palloc'd copy of a real[] argument's elements
 * and sets *n; NaN and infinite elements are refused.
 */
float *
RsArrayToFloats(ArrayType *array, const char *argname, int *n)
{
	float	   *out = copy_flat(array, FLOAT4OID, sizeof(float), argname, n);

	for (int i = 0; i < *n; i++)
		if (isnan(out[i]) || isinf(out[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s must hold finite numbers, element %d is %g",
							argname, i + 1, out[i])));
	return out;
}

/* RsArrayToInt64s returns a palloc'd copy of a bigint[] argument's elements. */
int64 *
RsArrayToInt64s(ArrayType *array, const char *argname, int *n)
{
	return copy_flat(array, INT8OID, sizeof(int64), argname, n);
}
