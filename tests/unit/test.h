/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Unit-test harness in the shape of the kernel's selftests test_progs.h.
 * A test is "void test_<name>(void)" in tests/unit/test_*.c; the Makefile
 * collects those definitions into tests/tests.h, which declares them here
 * and lists them for the runner (main.c). ASSERT_* macros evaluate each
 * argument once, return whether the check held and, when it did not, print
 * "test_<name>:FAIL:<check> actual X expected Y (file:line)" and mark the
 * running test failed; they never return from the caller.
 */
#ifndef __KLEAK_TEST_H
#define __KLEAK_TEST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define DEFINE_TEST(fn) void fn(void);
#include "tests/tests.h"
#undef DEFINE_TEST

/* Records a failure of the running test; used by the ASSERT_* macros. */
void test__fail(const char *file, int line, const char *check, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Marks the running test skipped with a reason; the test should return next. */
void test__skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The whole file at path, NUL-terminated, to free(); NULL when it cannot be read. */
char *test__slurp(const char *path);
/*
 * Checks got against the golden file gold, printing got when they differ;
 * with KLEAK_REGEN_FIXTURES set, writes gold from got first.
 */
void test__golden(const char *got, const char *gold);

/* Whether x has an unsigned type; "> 0" rather than "< 0" keeps -Wtype-limits quiet. */
#define TEST_IS_UNSIGNED(x) ((__typeof__(x))-1 > 0)

/* b is converted to a's type, so e.g. a __u64 compares with a plain 0. */
#define TEST_CMP(a, b, op, check)                                                         \
	({                                                                                \
		__typeof__(a) ___cmp_act = (a);                                           \
		__typeof__(a) ___cmp_exp = (b);                                           \
		bool ___cmp_ok = ___cmp_act op ___cmp_exp;                                \
		if (!___cmp_ok) {                                                         \
			if (TEST_IS_UNSIGNED(___cmp_act))                                 \
				test__fail(__FILE__, __LINE__, (check),                   \
					   "actual %llu (0x%llx) expected %s %llu (0x%llx)", \
					   (unsigned long long)___cmp_act,                \
					   (unsigned long long)___cmp_act, #op,           \
					   (unsigned long long)___cmp_exp,                \
					   (unsigned long long)___cmp_exp);               \
			else                                                              \
				test__fail(__FILE__, __LINE__, (check),                   \
					   "actual %lld expected %s %lld",                \
					   (long long)___cmp_act, #op, (long long)___cmp_exp); \
		}                                                                         \
		___cmp_ok;                                                                \
	})

#define ASSERT_EQ(a, b, check) TEST_CMP(a, b, ==, check)
#define ASSERT_GE(a, b, check) TEST_CMP(a, b, >=, check)
#define ASSERT_GT(a, b, check) TEST_CMP(a, b, >, check)
#define ASSERT_LT(a, b, check) TEST_CMP(a, b, <, check)

#define ASSERT_OK(err, check)                                                             \
	({                                                                                \
		long long ___okv_err = (err);                                             \
		bool ___okv_ok = ___okv_err == 0;                                         \
		if (!___okv_ok)                                                           \
			test__fail(__FILE__, __LINE__, (check),                           \
				   "actual %lld (%s) expected 0", ___okv_err,             \
				   strerror(___okv_err < 0 ? -___okv_err : ___okv_err));  \
		___okv_ok;                                                                \
	})

#define ASSERT_TRUE(cond, check)                                                          \
	({                                                                                \
		bool ___tru_ok = (cond);                                                  \
		if (!___tru_ok)                                                           \
			test__fail(__FILE__, __LINE__, (check),                           \
				   "actual false expected true");                         \
		___tru_ok;                                                                \
	})

#define ASSERT_OK_PTR(ptr, check)                                                         \
	({                                                                                \
		const void *___okp_ptr = (ptr);                                           \
		int ___okp_errno = errno;                                                 \
		bool ___okp_ok = ___okp_ptr != NULL;                                      \
		if (!___okp_ok)                                                           \
			test__fail(__FILE__, __LINE__, (check),                           \
				   "actual NULL (errno %d: %s) expected a pointer",       \
				   ___okp_errno, strerror(___okp_errno));                 \
		___okp_ok;                                                                \
	})

#define ASSERT_NULL(ptr, check)                                                           \
	({                                                                                \
		const void *___nul_ptr = (ptr);                                           \
		bool ___nul_ok = ___nul_ptr == NULL;                                      \
		if (!___nul_ok)                                                           \
			test__fail(__FILE__, __LINE__, (check),                           \
				   "actual %p expected NULL", ___nul_ptr);                \
		___nul_ok;                                                                \
	})

#define ASSERT_STREQ(a, b, check)                                                         \
	({                                                                                \
		const char *___str_act = (a);                                             \
		const char *___str_exp = (b);                                             \
		bool ___str_ok = ___str_act && ___str_exp ?                               \
			strcmp(___str_act, ___str_exp) == 0 : ___str_act == ___str_exp;   \
		if (!___str_ok)                                                           \
			test__fail(__FILE__, __LINE__, (check),                           \
				   "actual \"%s\" expected \"%s\"",                       \
				   ___str_act ? ___str_act : "(null)",                    \
				   ___str_exp ? ___str_exp : "(null)");                   \
		___str_ok;                                                                \
	})

#endif /* __KLEAK_TEST_H */
