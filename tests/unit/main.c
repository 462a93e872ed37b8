// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit-test runner: runs every test_<name>() listed in the generated
 * tests/tests.h, or those whose name contains the one optional argument.
 * Prints "PASS unit/<name>", "FAIL unit/<name>" (after the failure details)
 * or "SKIP unit/<name>: <reason>" per test on stdout, then
 * "N passed, N failed[, N skipped]"; exits 1 when any test failed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test.h"

#define TEST_PREFIX "test_"
#define EXIT_USAGE 64

struct test_def {
	const char *name;
	void (*fn)(void);
};

static const struct test_def tests[] = {
#define DEFINE_TEST(fn) { &#fn[sizeof(TEST_PREFIX) - 1], fn },
#include "tests/tests.h"
#undef DEFINE_TEST
};

/* The running test. */
static struct {
	const char *name;
	bool failed;
	char *skip_reason;
} cur;

void test__fail(const char *file, int line, const char *check, const char *fmt, ...)
{
	va_list ap;

	cur.failed = true;
	printf("%s%s:FAIL:%s ", TEST_PREFIX, cur.name, check);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (%s:%d)\n", file, line);
}

void test__skip(const char *fmt, ...)
{
	va_list ap;
	char *reason;

	va_start(ap, fmt);
	if (vasprintf(&reason, fmt, ap) < 0)
		reason = NULL;
	va_end(ap);
	free(cur.skip_reason);
	/* Skipped for a reason we could not format is still skipped. */
	cur.skip_reason = reason ? reason : strdup("?");
}

char *test__slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "r"), *m;
	int c;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	if (m) {
		while ((c = getc(f)) != EOF)
			fputc(c, m);
		fclose(m);
	}
	fclose(f);
	return buf;
}

void test__golden(const char *got, const char *gold)
{
	char *want;
	FILE *f;

	if (getenv("KLEAK_REGEN_FIXTURES")) {
		f = fopen(gold, "w");
		if (ASSERT_OK_PTR(f, gold)) {
			fputs(got, f);
			fclose(f);
		}
	}
	want = test__slurp(gold);
	if (ASSERT_OK_PTR(want, gold) && !ASSERT_STREQ(got, want, gold))
		printf("--- got:\n%s--- end\n", got);
	free(want);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0;
	const char *filter = NULL;
	size_t i;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: %s [NAME-SUBSTRING]\n", argv[0]);
		return EXIT_USAGE;
	}
	if (argc == 2)
		filter = argv[1];
	setlinebuf(stdout);

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (filter && !strstr(tests[i].name, filter))
			continue;
		cur.name = tests[i].name;
		cur.failed = false;
		cur.skip_reason = NULL;
		tests[i].fn();
		if (cur.failed) {
			printf("FAIL unit/%s\n", cur.name);
			failed++;
		} else if (cur.skip_reason) {
			printf("SKIP unit/%s: %s\n", cur.name, cur.skip_reason);
			skipped++;
		} else {
			printf("PASS unit/%s\n", cur.name);
			passed++;
		}
		free(cur.skip_reason);
	}

	if (skipped)
		printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	else
		printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
