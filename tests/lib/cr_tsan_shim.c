/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cr_tsan_shim.h"

#define SHIM_MAX_TESTS 64

struct shim_test {
	const char *name;
	shim_test_fn fn;
};

static struct shim_test tests[SHIM_MAX_TESTS];
static unsigned nr_tests, passed;
static unsigned current;

void shim_register(const char *name, shim_test_fn fn)
{
	if (nr_tests < SHIM_MAX_TESTS)
		tests[nr_tests++] = (struct shim_test){ name, fn };
}

void shim_check(bool ok, const char *expr, const char *file, int line,
		const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	printf("[----] %s:%d: Assertion Failed: %s\n[----]   ", file, line, expr);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n[FAIL] %s\n", tests[current].name);
	printf("%u passed, 1 failed\n", passed);
	fflush(stdout);
	exit(1);
}

/* PN_SHIM_ONLY=text: only the tests whose names contain it */
static bool selected(const char *name)
{
	const char *only = getenv("PN_SHIM_ONLY");

	return only == NULL || strstr(name, only) != NULL;
}

int main(void)
{
	for (current = 0; current < nr_tests; current++) {
		if (!selected(tests[current].name))
			continue;
		printf("[RUN ] %s\n", tests[current].name);
		fflush(stdout);
		tests[current].fn();
		printf("[PASS] %s\n", tests[current].name);
		passed++;
	}
	printf("%u passed, 0 failed\n", passed);
	return 0;
}
