// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kleak diff: the fixture runs tcp.run and files.run compared byte for byte
 * against golden text and JSON, then matching (offsets and addresses
 * ignored, collapsing sites summed), ordering and the filters on small
 * models. KLEAK_REGEN_FIXTURES=1 rewrites the golden files.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diff.h"
#include "record.h"
#include "test.h"

#define FIX_TCP "tests/fixtures/tcp.run"
#define FIX_FILES "tests/fixtures/files.run"
#define GOLD_TEXT "tests/fixtures/diff-tcp-files.expected"
#define GOLD_JSON "tests/fixtures/diff-tcp-files-json.expected"

/* diff__print() into a string; NULL on error. */
static char *diff_str(const struct model *a, const struct model *b, const struct diff_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f)
		return NULL;
	err = diff__print(a, b, o, f);
	fclose(f);
	if (err) {
		free(buf);
		return NULL;
	}
	return buf;
}

static char *slurp(const char *path)
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

static void golden(const struct diff_opts *o, const char *gold)
{
	struct model *a = NULL, *b = NULL;
	char *got = NULL, *want = NULL;
	FILE *f;

	if (!ASSERT_OK(record__read(FIX_TCP, &a), FIX_TCP) ||
	    !ASSERT_OK(record__read(FIX_FILES, &b), FIX_FILES))
		goto out;
	got = diff_str(a, b, o);
	if (!ASSERT_OK_PTR(got, "diff__print"))
		goto out;
	if (getenv("KLEAK_REGEN_FIXTURES")) {
		f = fopen(gold, "w");
		if (ASSERT_OK_PTR(f, gold)) {
			fputs(got, f);
			fclose(f);
		}
	}
	want = slurp(gold);
	if (ASSERT_OK_PTR(want, gold) && !ASSERT_STREQ(got, want, gold))
		printf("--- got:\n%s--- end\n", got);
out:
	free(got);
	free(want);
	model__free(a);
	model__free(b);
}

void test_diff_golden_text(void)
{
	struct diff_opts o = { .name_a = "tcp.run", .name_b = "files.run" };

	golden(&o, GOLD_TEXT);
}

void test_diff_golden_json(void)
{
	struct diff_opts o = { .name_a = "tcp.run", .name_b = "files.run", .json = true };
	char cmd[256];

	golden(&o, GOLD_JSON);
	if (system("command -v jq >/dev/null 2>&1")) {
		test__skip("jq not installed: JSON validity not checked");
		return;
	}
	snprintf(cmd, sizeof(cmd), "jq -e '.sites_total == 5 and (.sites | length) == 5 and .total.delta_bytes == -14528' %s "
		 ">/dev/null", GOLD_JSON);
	ASSERT_EQ(system(cmd), 0, "jq -e on the JSON golden");
}

static struct model_site *site(struct model *m, const char *cache, __s64 count, __s64 bytes,
			       int n, ...)
{
	struct model_site *s = model__add_site(m);
	va_list ap;
	int i;

	snprintf(s->cache, sizeof(s->cache), "%s", cache);
	s->count = count;
	s->bytes = bytes;
	s->frames = calloc(n ? n : 1, sizeof(*s->frames));
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		const char *sym = va_arg(ap, const char *);

		s->frames[i].addr = 0xffffffff81000000ULL + (__u64)rand();
		s->frames[i].sym = sym ? strdup(sym) : NULL;
	}
	va_end(ap);
	s->n_frames = n;
	return s;
}

/* Offsets, addresses and module-less offsets differ; function names match. */
void test_diff_matching(void)
{
	struct model *a = model__new(), *b = model__new();
	struct diff_opts o = { .json = true };
	char *got, *sites;

	site(a, "filp", 2, 512, 2, "alloc_empty_file+0x4f", "path_openat+0x47 [xfs]");
	site(b, "filp", 3, 768, 2, "alloc_empty_file+0x61/0x100", "path_openat+0x99 [xfs]");
	/* two sites of b that collapse: summed */
	site(b, "filp", 1, 256, 2, "alloc_empty_file+0x10", "path_openat+0x47 [xfs]");
	/* an unresolved frame matches any other unresolved one */
	site(a, "kmalloc-64", 1, 64, 2, "kstrdup+0x1", NULL);
	site(b, "kmalloc-64", 1, 64, 2, "kstrdup+0x2", NULL);
	/* same frames in another cache do not match */
	site(b, "kmalloc-256", 1, 256, 2, "alloc_empty_file+0x4f", "path_openat+0x47 [xfs]");
	/* a lost stack */
	site(a, "filp", 5, 1280, 0)->stack_err = -EFAULT;
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print")) {
		ASSERT_TRUE(strstr(got, "\"sites_total\": 4") != NULL, "4 keys");
		ASSERT_TRUE(strstr(got, "\"match\": \"both\",\n      \"cache\": \"filp\",\n"
				   "      \"count_a\": 2,\n      \"bytes_a\": 512,\n"
				   "      \"count_b\": 4,\n      \"bytes_b\": 1024,\n"
				   "      \"delta_count\": 2,\n      \"delta_bytes\": 512,\n"
				   "      \"frames\": [\n        \"alloc_empty_file\",\n"
				   "        \"path_openat [xfs]\"\n      ]") != NULL,
			    "filp sites matched and summed");
		ASSERT_TRUE(strstr(got, "\"match\": \"both\",\n      \"cache\": \"kmalloc-64\"") !=
			    NULL, "unresolved frames match");
		ASSERT_TRUE(strstr(got, "\"match\": \"only-B\",\n      \"cache\": \"kmalloc-256\"") !=
			    NULL, "cache is part of the key");
		ASSERT_TRUE(strstr(got, "\"frames\": [\n        \"[stack not captured]\"\n") != NULL,
			    "lost stack");
		/* ordering: the lost stack (-1280) first, then filp (+512), kmalloc-256, kmalloc-64 */
		sites = strstr(got, "\"sites\": [");
		ASSERT_TRUE(sites && strstr(sites, "\"delta_bytes\": -1280") <
				     strstr(sites, "\"delta_bytes\": 512") &&
			    strstr(sites, "\"delta_bytes\": 512") < strstr(sites, "\"delta_bytes\": 256") &&
			    strstr(sites, "\"delta_bytes\": 256") < strstr(sites, "\"delta_bytes\": 0"),
			    "sorted by |delta bytes|");
	}
	free(got);
	model__free(a);
	model__free(b);
}

/* Equal |delta| sorts by key, whichever run a site came from. */
void test_diff_ties(void)
{
	struct model *a = model__new(), *b = model__new();
	struct diff_opts o = {};
	char *got, *x, *y, *z;

	site(a, "c", 1, 100, 1, "zeta+0x1");
	site(b, "c", 1, 100, 1, "alpha+0x1");
	site(b, "b", 1, 100, 1, "mid+0x1");
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print")) {
		x = strstr(got, "        mid\n");
		y = strstr(got, "        alpha\n");
		z = strstr(got, "        zeta\n");
		ASSERT_TRUE(x && y && z && x < y && y < z, "ties in key order");
		ASSERT_TRUE(strstr(got, "only-A  c ") && strstr(got, "only-B  b "), "markers");
	}
	free(got);
	model__free(a);
	model__free(b);
}

void test_diff_filters(void)
{
	struct model *a = model__new(), *b = model__new();
	struct diff_opts o = { .min_delta = 200 };
	char *got;

	site(a, "c", 1, 100, 1, "small+0x1");
	site(b, "c", 3, 300, 1, "medium+0x1");
	site(b, "d", 9, 900, 1, "large+0x1");
	site(b, "e", 2, 200, 1, "edge+0x1");
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print min_delta")) {
		ASSERT_TRUE(!strstr(got, "small"), "below min_delta hidden");
		ASSERT_TRUE(strstr(got, "edge") && strstr(got, "medium") && strstr(got, "large"),
			    "at or above min_delta shown");
		ASSERT_TRUE(strstr(got, "\n3 of 4 sites shown, min delta 200 bytes\n") != NULL,
			    "footer");
	}
	free(got);
	o.top = 1;
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print top")) {
		ASSERT_TRUE(strstr(got, "large") && !strstr(got, "medium") && !strstr(got, "edge"),
			    "top 1 is the largest");
		ASSERT_TRUE(strstr(got, "\n1 of 4 sites shown, min delta 200 bytes, top 1\n") != NULL,
			    "footer");
	}
	free(got);
	model__free(a);
	model__free(b);
}

/* A run against itself: every site in both, every delta zero. */
void test_diff_self(void)
{
	struct model *a = NULL;
	struct diff_opts o = { .json = true };
	char *got;

	if (!ASSERT_OK(record__read(FIX_TCP, &a), FIX_TCP))
		return;
	got = diff_str(a, a, &o);
	if (ASSERT_OK_PTR(got, "diff__print")) {
		ASSERT_TRUE(!strstr(got, "only-"), "no only-A/only-B");
		ASSERT_TRUE(!strstr(got, "\"delta_bytes\": -") && !strstr(got, "\"delta_bytes\": 1") &&
			    !strstr(got, "\"delta_count\": 1"), "zero deltas");
	}
	free(got);
	model__free(a);
}

void test_diff_empty(void)
{
	struct model *a = model__new(), *b = model__new();
	struct diff_opts o = { .json = true };
	char *got = diff_str(a, b, &o);

	if (ASSERT_OK_PTR(got, "diff__print"))
		ASSERT_TRUE(strstr(got, "\"sites\": [],") || strstr(got, "\"sites\": [\n  ],"),
			    "no sites");
	free(got);
	o.json = false;
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print text"))
		ASSERT_TRUE(strstr(got, "\n0 of 0 sites shown\n") != NULL, "footer");
	free(got);
	model__free(a);
	model__free(b);
}
