/*
 * run_unit_tests.c
 *		Runs every registered kernel unit test once per instruction-set
 *		build of the SIMD kernels and prints "N passed, N failed".
 *
 * A test fails when any of its UNIT_CHECKs fails.  An optional argument
 * runs only the tests whose name contains it.  The SIMD kernels (simd.h)
 * have a baseline, an AVX2 and an AVX-512 build, and the CPU picks one;
 * so that every build is tested, the suite runs once with each build this
 * CPU can run forced (rs_simd_force), and prints a note for each it
 * cannot.  RECSYS_ISA=baseline|avx2|avx512 runs one build only (an error
 * if the CPU cannot run it).  The last line totals every run.
 */
#include <stdlib.h>
#include <string.h>

#include "simd.h"
#include "unit.h"

#define UNIT_MAX_TESTS 512

int			unit_failed_checks = 0;

static const char *test_names[UNIT_MAX_TESTS];
static unit_fn test_fns[UNIT_MAX_TESTS];
static int	n_tests = 0;

void
unit_register(const char *name, unit_fn fn)
{
	if (n_tests >= UNIT_MAX_TESTS)
	{
		fprintf(stderr, "too many unit tests\n");
		exit(2);
	}
	test_names[n_tests] = name;
	test_fns[n_tests] = fn;
	n_tests++;
}

/* Run the (filtered) tests once; add to *passed and *failed. */
static void
run_tests(const char *filter, const char *isa_name, int *passed, int *failed)
{
	for (int i = 0; i < n_tests; i++)
	{
		int			before = unit_failed_checks;

		if (filter != NULL && strstr(test_names[i], filter) == NULL)
			continue;
		test_fns[i] ();
		if (unit_failed_checks == before)
		{
			printf("ok   %s [%s]\n", test_names[i], isa_name);
			(*passed)++;
		}
		else
		{
			printf("FAIL %s [%s]\n", test_names[i], isa_name);
			(*failed)++;
		}
	}
}

int
main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	const char *only = getenv("RECSYS_ISA");
	int			passed = 0;
	int			failed = 0;
	int			builds = 0;

	for (int isa = 0; isa < RS_ISA_COUNT; isa++)
	{
		const char *name = rs_simd_isa_name((RsIsa) isa);
		int			build_passed = 0;
		int			build_failed = 0;

		if (only != NULL && only[0] != '\0' && strcmp(only, name) != 0)
			continue;
		if (!rs_simd_force(isa))
		{
			printf("note: the %s build is not tested: this CPU cannot run it\n", name);
			if (only != NULL && only[0] != '\0')
				failed++;		/* asked for by name: not a pass */
			continue;
		}
		builds++;
		run_tests(filter, name, &build_passed, &build_failed);
		printf("%s build: %d passed, %d failed\n", name, build_passed, build_failed);
		passed += build_passed;
		failed += build_failed;
	}
	rs_simd_force(-1);
	if (builds == 0 && failed == 0)
	{
		fprintf(stderr, "RECSYS_ISA=%s names no build (baseline, avx2, avx512)\n", only);
		failed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
