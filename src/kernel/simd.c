/*-------------------------------------------------------------------------
 *
 * simd.c
 *		Run-time choice of the SIMD kernels' instruction-set build, and the
 *		unit tests' way to force one.  See simd.h.
 *
 *-------------------------------------------------------------------------
 */
#include "simd.h"

/* The build the unit tests forced, or -1: the CPU's fastest. */
static int	forced_isa = -1;

bool
rs_simd_supported(RsIsa isa)
{
	switch (isa)
	{
		case RS_ISA_BASELINE:
			return true;
#ifdef RS_X86_DISPATCH
		case RS_ISA_AVX2:
			__builtin_cpu_init();
			return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
		case RS_ISA_AVX512:
			__builtin_cpu_init();
			return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
#endif
		default:
			return false;
	}
}

RsIsa
rs_simd_isa(void)
{
	if (forced_isa >= 0)
		return (RsIsa) forced_isa;
	if (rs_simd_supported(RS_ISA_AVX512))
		return RS_ISA_AVX512;
	if (rs_simd_supported(RS_ISA_AVX2))
		return RS_ISA_AVX2;
	return RS_ISA_BASELINE;
}

const char *
rs_simd_isa_name(RsIsa isa)
{
	switch (isa)
	{
		case RS_ISA_BASELINE:
			return "baseline";
		case RS_ISA_AVX2:
			return "avx2";
		case RS_ISA_AVX512:
			return "avx512";
		default:
			return "unknown";
	}
}

bool
rs_simd_force(int isa)
{
	if (isa < 0)
	{
		forced_isa = -1;
		return true;
	}
	if (isa >= RS_ISA_COUNT || !rs_simd_supported((RsIsa) isa))
		return false;
	forced_isa = isa;
	return true;
}
