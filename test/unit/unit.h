/*
 * unit.h
 *		A minimal test harness for the pure-C kernels under src/kernel/.
 *
 * Each test file defines functions registered with UNIT_TEST() and checks
 * with UNIT_CHECK(); run_unit_tests.c counts and prints the closing
 * "N passed, N failed" line that CI reads.
 */
#ifndef RECSYS_UNIT_H
#define RECSYS_UNIT_H

#include <math.h>
#include <stdio.h>

typedef void (*unit_fn) (void);

extern int	unit_failed_checks;
extern void unit_register(const char *name, unit_fn fn);

/* Register a test function at load time, so adding a test is one place. */
#define UNIT_TEST(name) \
	static void name(void); \
	__attribute__((constructor)) static void name##_register(void) \
	{ unit_register(#name, name); } \
	static void name(void)

#define UNIT_CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "  check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			unit_failed_checks++; \
		} \
	} while (0)

#define UNIT_CHECK_NEAR(a, b, tol) \
	do { \
		double unit_a_ = (a), unit_b_ = (b); \
		if (!(fabs(unit_a_ - unit_b_) <= (tol))) { \
			fprintf(stderr, "  check failed at %s:%d: %s = %g, expected %g (tol %g)\n", \
					__FILE__, __LINE__, #a, unit_a_, unit_b_, (double) (tol)); \
			unit_failed_checks++; \
		} \
	} while (0)

#endif							/* RECSYS_UNIT_H */
