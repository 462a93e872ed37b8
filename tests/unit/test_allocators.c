// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The allocators beside slab in userspace: site names, /proc/meminfo and
 * /proc/vmstat parsing, saved-run format 3's site kinds and meminfo lines
 * (and version 2 refusing those kinds), the per-allocator summary (golden)
 * and books, and the allocator counters left out of runs that did not
 * trace them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "allocators.h"
#include "meminfo.h"
#include "record.h"
#include "report.h"
#include "test.h"

static struct model_site *site(struct model *m, __u32 kind, __u64 cache, __u64 size,
			       __s64 count)
{
	struct model_site *s = model__add_site(m);

	if (!s)
		return NULL;
	s->kind = kind;
	if (!allocators__site_name(kind, cache, s->cache, sizeof(s->cache)))
		snprintf(s->cache, sizeof(s->cache), "kmalloc-%llu", (unsigned long long)size);
	s->obj_size = size;
	s->count = count;
	s->bytes = count * (__s64)size;
	s->allocs = count + 2;
	s->ctx[KLEAK_CTX_TASK] = count + 2;
	return s;
}

/*
 * One allocator's books: held outstanding, 2 more recorded (1 freed, 1
 * retired) and 10 events filtered out; user pages apart for pages.
 */
static void books(struct model *m, int a, __u64 held, __u64 user)
{
	m->stats[KLEAK_STAT_OF(a, STAT_PAGES_EVENTS)] = held + 2 + 10 + user;
	m->stats[KLEAK_STAT_OF(a, STAT_PAGES_ALLOCS)] = held + 2;
	m->stats[KLEAK_STAT_OF(a, STAT_PAGES_FREES)] = 1;
	m->stats[KLEAK_STAT_OF(a, STAT_PAGES_RETIRED)] = 1;
	m->stats[KLEAK_STAT_OF(a, STAT_PAGES_FILTERED_OUT)] = 10;
	m->stats[KLEAK_STAT_OF(a, STAT_PAGES_OUTSTANDING)] = held;
	m->stats[STAT_ALLOC_EVENTS] += held + 2 + 10 + user;
	m->stats[STAT_ALLOCS] += held + 2;
	m->stats[STAT_FREES] += 1;
	m->stats[STAT_REALLOC_RETIRED] += 1;
	m->stats[STAT_FILTERED_OUT] += 10;
	m->outstanding += held;
}

/* The counters of fixture files meminfo-WHEN and vmstat-WHEN into m. */
static int read_counters(struct model *m, const char *when, bool at_end)
{
	static const char *const files[] = { "meminfo", "vmstat" };
	struct meminfo_read r = {};
	char path[64];
	size_t i;
	FILE *f;
	int err;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "tests/fixtures/%s-%s", files[i], when);
		f = fopen(path, "r");
		if (!f)
			return -errno;
		err = meminfo__parse(f, 4, &r);
		fclose(f);
		if (err)
			return err;
	}
	meminfo__apply(m, &r, at_end);
	return 0;
}

/*
 * A run of every allocator, with the fixture counters: 3 slab objects,
 * 602 pages in 601 blocks, one vmap area, 4 percpu objects; each
 * allocator's books balance, and the run's.
 */
static struct model *build(const char *filters, __u32 sample_rate)
{
	struct model *m = model__new();

	if (!m)
		return NULL;
	m->meta.version = strdup("0.1.0");
	m->meta.kernel = strdup("6.18");
	m->meta.hostname = strdup("h");
	m->meta.cmdline = strdup("kleak --all-allocators");
	m->meta.filters = strdup(filters);
	m->meta.attach = strdup("tp_btf; slab, pages, vmalloc, percpu");
	m->meta.start_s = 1700000000;
	m->meta.end_s = 1700000060;
	m->meta.sample_rate = sample_rate;
	site(m, KLEAK_SITE_KMALLOC, 192, 192, 3);
	site(m, KLEAK_SITE_PAGES, 1, 8192, 2);
	site(m, KLEAK_SITE_PAGES, 0, 4096, 600);
	site(m, KLEAK_SITE_PAGES_USER, 0, 4096, 0);
	site(m, KLEAK_SITE_VMALLOC, 69632, 69632, 1);
	site(m, KLEAK_SITE_PERCPU, 32, 32, 4);
	/* slab: 20 events, 15 filtered out, 5 recorded: 1 freed, 1 retired, 3 held */
	m->stats[STAT_ALLOC_EVENTS] = 20;
	m->stats[STAT_ALLOCS] = 5;
	m->stats[STAT_FILTERED_OUT] = 15;
	m->stats[STAT_FREES] = 1;
	m->stats[STAT_REALLOC_RETIRED] = 1;
	m->outstanding = 3;
	books(m, KLEAK_ALLOC_PAGES, 602, 7);
	books(m, KLEAK_ALLOC_VMALLOC, 1, 0);
	books(m, KLEAK_ALLOC_PERCPU, 4, 0);
	m->stats[STAT_PAGES_USER] = 7;
	m->stats[STAT_PAGES_SPLIT] = 1;
	m->stats[STAT_PAGES_SPLIT_UNPAIRED] = 511;
	m->books_kept = m->allocator_books_kept = true;
	if (read_counters(m, "start", false) || read_counters(m, "end", true)) {
		model__free(m);
		return NULL;
	}
	return m;
}

void test_allocators_site_names(void)
{
	char buf[KLEAK_CACHE_NAME_LEN];

	ASSERT_TRUE(allocators__site_name(KLEAK_SITE_PAGES, 3, buf, sizeof(buf)), "pages");
	ASSERT_STREQ(buf, "pages/order-3", "page order");
	ASSERT_TRUE(allocators__site_name(KLEAK_SITE_PAGES_USER, 0, buf, sizeof(buf)), "user");
	ASSERT_STREQ(buf, "user pages/order-0", "user pages apart");
	ASSERT_TRUE(allocators__site_name(KLEAK_SITE_VMALLOC, 8192, buf, sizeof(buf)), "vmalloc");
	ASSERT_STREQ(buf, "vmalloc", "vmalloc");
	ASSERT_TRUE(allocators__site_name(KLEAK_SITE_PERCPU, 32, buf, sizeof(buf)), "percpu");
	ASSERT_STREQ(buf, "percpu", "percpu");
	ASSERT_TRUE(!allocators__site_name(KLEAK_SITE_KMALLOC, 64, buf, sizeof(buf)),
		    "slab's kinds keep their cache names");
	ASSERT_EQ(kleak_allocator_of(KLEAK_SITE_CACHE_UNNAMED), KLEAK_ALLOC_SLAB, "unnamed: slab");
	ASSERT_EQ(kleak_allocator_of(KLEAK_SITE_PAGES_USER), KLEAK_ALLOC_PAGES, "user: pages");
}

/* meminfo's kB and vmstat's pages, the LRU lists summed, zone duplicates and others not read */
/* --cache per allocator: what each name selects, live (kinds, order) and in a report */
void test_allocators_cache(void)
{
	struct alloc_cache c;

	ASSERT_TRUE(allocators__parse_cache("pages", &c) && c.allocator == KLEAK_ALLOC_PAGES &&
		    c.order == -1 && c.kinds == (1U << KLEAK_SITE_PAGES | 1U << KLEAK_SITE_PAGES_USER),
		    "pages: every order, kernel and user");
	ASSERT_TRUE(allocators__parse_cache("pages/order-3", &c) && c.order == 3 &&
		    c.kinds == 1U << KLEAK_SITE_PAGES, "pages/order-3");
	ASSERT_TRUE(allocators__parse_cache("user pages/order-10", &c) && c.order == 10 &&
		    c.kinds == 1U << KLEAK_SITE_PAGES_USER, "user pages/order-10");
	ASSERT_TRUE(allocators__parse_cache("vmalloc", &c) && c.allocator == KLEAK_ALLOC_VMALLOC &&
		    c.kinds == 1U << KLEAK_SITE_VMALLOC, "vmalloc");
	ASSERT_TRUE(allocators__parse_cache("percpu", &c) && c.allocator == KLEAK_ALLOC_PERCPU,
		    "percpu");
	ASSERT_TRUE(!allocators__parse_cache("pages/order-11", &c) &&
		    !allocators__parse_cache("pages/order-", &c) &&
		    !allocators__parse_cache("pages/order-1x", &c) &&
		    !allocators__parse_cache("vmap_area", &c) && !allocators__parse_cache("filp", &c),
		    "slab caches and bad orders are no allocator's");
	ASSERT_TRUE(allocators__cache_selects("pages", KLEAK_SITE_PAGES_USER, "user pages/order-0") &&
		    allocators__cache_selects("pages", KLEAK_SITE_PAGES, "pages/order-2") &&
		    !allocators__cache_selects("pages", KLEAK_SITE_VMALLOC, "vmalloc") &&
		    allocators__cache_selects("pages/order-2", KLEAK_SITE_PAGES, "pages/order-2") &&
		    !allocators__cache_selects("pages/order-2", KLEAK_SITE_PAGES, "pages/order-0") &&
		    allocators__cache_selects("filp", KLEAK_SITE_CACHE, "filp"),
		    "a report's --cache: the site's name, or pages for every page site");
}

void test_allocators_meminfo(void)
{
	static const char alone[] = "MemFree: 4000 kB\nSlab: 1100 kB\ngarbage line\nSlab: 9 kB\n";
	static const char huge[] = "nr_active_anon 9223372036854775807\nnr_inactive_anon 1\n"
				   "nr_inactive_file 2305843009213693951\n"
				   "Slab: 9223372036854775807 kB\n";
	struct model *m = model__new();
	struct meminfo_read r = {};
	FILE *f;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	ASSERT_OK(read_counters(m, "start", false), "start");
	ASSERT_OK(read_counters(m, "end", true), "end");
	ASSERT_TRUE(m->kcounters[KC_MEMFREE].seen && m->kcounters[KC_MEMFREE].start_kb == 5000000 &&
		    m->kcounters[KC_MEMFREE].end_kb == 4900000, "MemFree start and end");
	ASSERT_EQ(m->kcounters[KC_LRU].start_kb, (1000000 + 50 + 130000 + 210000 + 5000) * 4,
		  "nr_lru: the lists' sum in kB, nr_zone_* not added");
	ASSERT_EQ(m->kcounters[KC_LRU].end_kb - m->kcounters[KC_LRU].start_kb, 96000, "LRU growth");
	ASSERT_EQ(m->kcounters[KC_NR_KERNEL_STACK].end_kb, 3616, "nr_kernel_stack in kB already");
	ASSERT_EQ(m->kcounters[KC_NR_SLAB_UNRECLAIMABLE].start_kb, 45000, "slab pages in kB");
	/* a counter read at the start only is left out */
	f = fmemopen((void *)alone, sizeof(alone) - 1, "r");
	ASSERT_OK(meminfo__parse(f, 4, &r), "meminfo alone");
	fclose(f);
	meminfo__apply(m, &r, true);
	ASSERT_TRUE(m->kcounters[KC_SLAB].seen && m->kcounters[KC_SLAB].end_kb == 1100,
		    "Slab: its first line");
	ASSERT_TRUE(!m->kcounters[KC_LRU].seen && !m->kcounters[KC_PERCPU].seen,
		    "counters missing at the end: left out");
	/* the fuzzer's: a value that overflows in kB, or in its counter's sum, is no counter */
	memset(&r, 0, sizeof(r));
	f = fmemopen((void *)huge, sizeof(huge) - 1, "r");
	ASSERT_OK(meminfo__parse(f, 4, &r), "huge values");
	fclose(f);
	ASSERT_TRUE(r.found[KC_LRU] && r.kb[KC_LRU] == 4 && r.kb[KC_SLAB] == INT64_MAX,
		    "lines overflowing in kB or in the LRU lists' sum skipped");
	memset(&r, 0, sizeof(r));
	f = fmemopen((void *)"nothing here\n", 13, "r");
	ASSERT_EQ(meminfo__parse(f, 4, &r), -EINVAL, "no counter at all");
	fclose(f);
	model__free(m);
}

void test_allocators_record(void)
{
	char dir[] = "/tmp/kleak-alloc-XXXXXX", path[64];
	struct model *m = build("none", 1), *back = NULL;
	size_t i;
	int k;

	if (!ASSERT_OK_PTR(m, "model") || !ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		goto out;
	snprintf(path, sizeof(path), "%s/a.kleak", dir);
	if (!ASSERT_OK(record__write(m, path), "write") ||
	    !ASSERT_OK(record__read(path, &back), "read back"))
		goto out;
	ASSERT_EQ(back->n_sites, m->n_sites, "every site");
	for (i = 0; i < m->n_sites && i < back->n_sites; i++) {
		ASSERT_EQ(back->sites[i].kind, m->sites[i].kind, "site kind");
		ASSERT_STREQ(back->sites[i].cache, m->sites[i].cache, "site name");
	}
	for (k = 0; k < KC_MAX; k++)
		ASSERT_TRUE(!memcmp(&back->kcounters[k], &m->kcounters[k], sizeof(m->kcounters[k])),
			    model__kcounter_name(k));
	ASSERT_TRUE(!memcmp(back->stats, m->stats, sizeof(m->stats)), "allocator counters");
	ASSERT_TRUE(back->allocator_books_kept, "each allocator's books kept");
out:
	unlink(path);
	rmdir(dir);
	model__free(m);
	model__free(back);
}

/* A version 2 file cannot hold the kinds and lines version 3 added. */
void test_allocators_v2_refused(void)
{
	static const char *const bodies[] = {
		"site page pages/order-0 4096 0 1 4096 1 0 0 0 0 0\nctx 1 0 0 0\n",
		"meminfo VmallocUsed 1 2\n",
	};
	char dir[] = "/tmp/kleak-alloc-XXXXXX", path[64], *buf;
	struct model *m;
	size_t i;
	uLong crc;
	int len;

	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	snprintf(path, sizeof(path), "%s/v2.kleak", dir);
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		FILE *f;

		len = asprintf(&buf, "kleak-run 2\nmeta version 0.1.0\nmeta kernel 6.1\n"
			       "meta hostname h\nmeta boot_id -\nmeta cmdline kleak\n"
			       "meta filters \\e\nmeta attach tp_btf\nmeta start_s 1\n"
			       "meta end_s 2\nmeta sample_rate 1\nmeta interval_s 0\n%s", bodies[i]);
		if (!ASSERT_GT(len, 0, "asprintf"))
			break;
		crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)buf, len);
		f = fopen(path, "w");
		if (!ASSERT_OK_PTR(f, "write file")) {
			free(buf);
			break;
		}
		fprintf(f, "%send %d %08lx\n", buf, i == 0, (unsigned long)crc);
		fclose(f);
		free(buf);
		m = NULL;
		if (i == 0)
			ASSERT_TRUE(record__read(path, &m) < 0, "version 2 with a page site");
		else
			/* a version 2 reader skips a kind it does not know: the counter is not read */
			ASSERT_TRUE(!record__read(path, &m) && !m->kcounters[KC_VMALLOC_USED].seen,
				    "version 2's meminfo line skipped");
		model__free(m);
	}
	unlink(path);
	rmdir(dir);
}

static char *render(const struct model *m, bool json)
{
	struct report_opts o = { .max_size = ~0ULL, .json = json };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	report__print(m, &o, f);
	fclose(f);
	return buf;
}

/*
 * The per-allocator table against the fixture counters (Slab +400 kB,
 * MemFree -100000 kB with the LRU lists +96000 kB: kernel pages out
 * 4000 kB, VmallocUsed +68 kB, Percpu flat), each allocator's books and
 * losses: text and JSON goldens.
 */
void test_allocators_report(void)
{
	struct model *m = build("none", 1);
	char *text = NULL, *json = NULL, cmd[512];

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	text = render(m, false);
	json = render(m, true);
	if (ASSERT_OK_PTR(text, "text") && ASSERT_OK_PTR(json, "json")) {
		test__golden(text, "tests/fixtures/report-allocators.expected");
		test__golden(json, "tests/fixtures/report-allocators-json.expected");
	}
	if (system("command -v jq >/dev/null 2>&1")) {
		test__skip("jq not installed: JSON not checked");
		goto out;
	}
	/* every allocator's books balance in the JSON, as tests/sh/lib.sh checks live runs */
	snprintf(cmd, sizeof(cmd), "jq -e '[.allocators[] | .alloc_events == .allocs_recorded + "
		 ".filtered_out + (.pages_user_left_out // 0) and .allocs_recorded == .frees_matched"
		 " + .retired_unseen_frees + .outstanding and .alloc_events_unaccounted == 0] | "
		 "length == 4 and all' tests/fixtures/report-allocators-json.expected > /dev/null");
	ASSERT_OK(system(cmd), "JSON books per allocator");
out:
	free(text);
	free(json);
	model__free(m);
}

/* Where kleak saw another population than the kernel counts, or an estimate: no share. */
void test_allocators_not_comparable(void)
{
	static const struct {
		const char *filters;
		__u32 rate;
	} runs[] = { { "comm=x", 1 }, { "sample=1/4", 4 }, { "cache=vmalloc", 1 } };
	struct model *m;
	struct model_books b;
	char *text;
	size_t i;
	int a;

	for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		m = build(runs[i].filters, runs[i].rate);
		if (!ASSERT_OK_PTR(m, "model"))
			return;
		text = render(m, false);
		if (ASSERT_OK_PTR(text, runs[i].filters))
			ASSERT_TRUE(strstr(text, "no share is given") && !strstr(text, "%\n"),
				    runs[i].filters);
		/* sampled: objects are estimates, the books count what was recorded */
		for (a = 0; a < KLEAK_ALLOC_MAX; a++)
			ASSERT_TRUE(model__allocator_books(m, a, &b) && !b.events_unaccounted &&
				    !b.records_unaccounted, allocators__name(a));
		if (runs[i].rate > 1)
			ASSERT_TRUE(text && strstr(text, "  pages          2408      9895936"),
				    "sampled objects and bytes scaled by 4");
		free(text);
		model__free(m);
	}
}

/* A slab-only run's JSON keeps the keys it had: no counters of allocators it did not trace. */
void test_allocators_stats_shown(void)
{
	struct model *m = model__new();

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	ASSERT_TRUE(model__stat_shown(m, STAT_ALLOCS), "slab's counters always");
	ASSERT_TRUE(!model__stat_shown(m, STAT_VMALLOC_FREES), "vmalloc's not, untraced");
	ASSERT_TRUE(!model__stat_shown(m, STAT_PAGES_SPLIT), "pages' own not, untraced");
	m->stats[STAT_VMALLOC_EVENTS] = 1;
	ASSERT_TRUE(model__stat_shown(m, STAT_VMALLOC_FREES), "vmalloc's, traced");
	ASSERT_TRUE(!model__stat_shown(m, STAT_PERCPU_FREES), "percpu's still not");
	model__free(m);
}
