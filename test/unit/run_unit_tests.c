/*
 * run_unit_tests.c
 *		Runs every registered kernel unit test and prints "N passed, N failed".
 *
 * A test fails when any of its UNIT_CHECKs fails.  An optional argument
 * runs only the tests whose name contains it.
 */
#include <stdlib.h>
#include <string.h>

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

int
main(int argc, char **argv)
{
	int			passed = 0;
	int			failed = 0;

	for (int i = 0; i < n_tests; i++)
	{
		int			before = unit_failed_checks;

		if (argc > 1 && strstr(test_names[i], argv[1]) == NULL)
			continue;
		test_fns[i] ();
		if (unit_failed_checks == before)
		{
			printf("ok   %s\n", test_names[i]);
			passed++;
		}
		else
		{
			printf("FAIL %s\n", test_names[i]);
			failed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
