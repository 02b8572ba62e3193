/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The subset of Criterion's API the concurrency suite uses, for the
 * ThreadSanitizer build only: Criterion's sandbox cannot start under TSan
 * ("Could not initialize inheritable arena", Snaipe/Criterion#274, open), so
 * that build runs the same test source in one process with this runner.
 * Messages must start with a string literal, as they do in our suites.
 */
#ifndef CR_TSAN_SHIM_H
#define CR_TSAN_SHIM_H

#include <stdbool.h>
#include <stdio.h>

typedef void (*shim_test_fn)(void);
void shim_register(const char *name, shim_test_fn fn);
void shim_check(bool ok, const char *expr, const char *file, int line,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define Test(suite, name, ...)                                              \
	static void suite##_##name(void);                                   \
	__attribute__((constructor)) static void shim_reg_##suite##_##name(void) \
	{                                                                   \
		shim_register(#suite "::" #name, suite##_##name);           \
	}                                                                   \
	static void suite##_##name(void)

#define cr_assert(cond, ...) \
	shim_check(!!(cond), #cond, __FILE__, __LINE__, " " __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_not_null(a, ...) cr_assert((a) != NULL, __VA_ARGS__)
#define cr_assert_null(a, ...) cr_assert((a) == NULL, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_fail(...) cr_assert(false, __VA_ARGS__)
#define cr_log_info(...) (printf("[----] " __VA_ARGS__), printf("\n"))

#endif /* CR_TSAN_SHIM_H */
