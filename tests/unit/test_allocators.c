// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The allocators beside slab in userspace: site names, /proc/meminfo
 * parsing, saved-run format 3's site kinds and meminfo lines (and version
 * 2 refusing those kinds), the per-allocator summary's books and shares,
 * and the allocator counters left out of runs that did not trace them.
 */
#include <errno.h>
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

/* A run of every allocator: 3 slab objects, 2 pages, one vmap area, 4 percpu objects. */
static struct model *build(const char *filters)
{
	struct model *m = model__new();
	int a;

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
	m->meta.sample_rate = 1;
	site(m, KLEAK_SITE_KMALLOC, 192, 192, 3);
	site(m, KLEAK_SITE_PAGES, 1, 8192, 2);
	site(m, KLEAK_SITE_PAGES_USER, 0, 4096, 0);
	site(m, KLEAK_SITE_VMALLOC, 69632, 69632, 1);
	site(m, KLEAK_SITE_PERCPU, 32, 32, 4);
	/* every allocator: 2 more recorded than outstanding, 1 freed and 1 retired */
	for (a = KLEAK_ALLOC_PAGES; a < KLEAK_ALLOC_MAX; a++) {
		__u64 held = a == KLEAK_ALLOC_PAGES ? 2 : a == KLEAK_ALLOC_VMALLOC ? 1 : 4;

		m->stats[KLEAK_STAT_OF(a, STAT_PAGES_EVENTS)] = held + 2 + 10;
		m->stats[KLEAK_STAT_OF(a, STAT_PAGES_ALLOCS)] = held + 2;
		m->stats[KLEAK_STAT_OF(a, STAT_PAGES_FREES)] = 1;
		m->stats[KLEAK_STAT_OF(a, STAT_PAGES_RETIRED)] = 1;
	}
	m->stats[STAT_PAGES_USER] = 7;
	m->stats[STAT_PAGES_SPLIT] = 1;
	/* the totals: slab's 3 + 2, 1, 1 and 20 events, plus the others' */
	m->stats[STAT_ALLOC_EVENTS] = 20 + 14 + 13 + 16;
	m->stats[STAT_ALLOCS] = 5 + 4 + 3 + 6;
	m->stats[STAT_FREES] = 1 + 3;
	m->stats[STAT_REALLOC_RETIRED] = 1 + 3;
	m->kcounters[KC_SLAB] = (struct model_kcounter_val){ true, 1000, 1001 };
	m->kcounters[KC_MEMFREE] = (struct model_kcounter_val){ true, 5000, 4984 };
	m->kcounters[KC_VMALLOC_USED] = (struct model_kcounter_val){ true, 100, 168 };
	m->kcounters[KC_PERCPU] = (struct model_kcounter_val){ true, 700, 700 };
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

void test_allocators_meminfo(void)
{
	static const char start[] = "MemTotal:       24000000 kB\nMemFree:        5000 kB\n"
				    "Slab:            1000 kB\nSUnreclaim:       400 kB\n"
				    "VmallocUsed:      100 kB\nPercpu:           700 kB\n";
	static const char end[] = "MemFree:        4000 kB\nSlab:            1100 kB\n"
				  "garbage line\nVmallocUsed:      300 kB\n";
	struct model *m = model__new();
	FILE *f;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	f = fmemopen((void *)start, sizeof(start) - 1, "r");
	ASSERT_OK(meminfo__parse(f, m, false), "start");
	fclose(f);
	f = fmemopen((void *)end, sizeof(end) - 1, "r");
	ASSERT_OK(meminfo__parse(f, m, true), "end");
	fclose(f);
	ASSERT_TRUE(m->kcounters[KC_MEMFREE].seen && m->kcounters[KC_MEMFREE].start_kb == 5000 &&
		    m->kcounters[KC_MEMFREE].end_kb == 4000, "MemFree start and end");
	ASSERT_TRUE(m->kcounters[KC_VMALLOC_USED].seen &&
		    m->kcounters[KC_VMALLOC_USED].end_kb == 300, "VmallocUsed");
	ASSERT_TRUE(!m->kcounters[KC_PERCPU].seen, "Percpu missing at the end: left out");
	ASSERT_TRUE(!m->kcounters[KC_SUNRECLAIM].seen, "SUnreclaim missing at the end");
	f = fmemopen((void *)"nothing here\n", 13, "r");
	ASSERT_EQ(meminfo__parse(f, m, false), -EINVAL, "no counter at all");
	fclose(f);
	model__free(m);
}

void test_allocators_record(void)
{
	char dir[] = "/tmp/kleak-alloc-XXXXXX", path[64];
	struct model *m = build("none"), *back = NULL;
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

void test_allocators_report(void)
{
	struct model *m = build("none"), *filtered = build("comm=x"), *slab = model__new();
	char *text = NULL, *json = NULL, *ftext = NULL, *stext = NULL;

	if (!ASSERT_OK_PTR(m, "model") || !ASSERT_OK_PTR(filtered, "model") ||
	    !ASSERT_OK_PTR(slab, "model"))
		goto out;
	slab->meta.filters = strdup("none");
	text = render(m, false);
	json = render(m, true);
	ftext = render(filtered, false);
	stext = render(slab, false);
	if (!ASSERT_OK_PTR(text, "text") || !ASSERT_OK_PTR(json, "json") ||
	    !ASSERT_OK_PTR(ftext, "filtered") || !ASSERT_OK_PTR(stext, "slab only"))
		goto out;
	/* slab: 5 recorded of 20 events, 1 freed, 1 retired, 3 held; Slab grew 1 kB */
	ASSERT_TRUE(strstr(text, "  slab              3          576         20          5 "
			   "        1        1  Slab                +1024       56%") != NULL,
		    "slab's row: the totals less the others'");
	/* 16 kB of MemFree fell, kleak holds 16 kB of kernel pages */
	ASSERT_TRUE(strstr(text, "  pages             2        16384         14          4 "
			   "        1        1  MemFree fall       +16384      100%") != NULL,
		    "pages against MemFree's fall");
	ASSERT_TRUE(strstr(text, "  percpu            4          128         16          6 "
			   "        1        1  Percpu                 +0         -") != NULL,
		    "percpu: no growth, no share");
	ASSERT_TRUE(strstr(text, "a map full or busy): slab 0, pages 0, vmalloc 0, percpu 0\n") !=
		    NULL, "not recorded, per allocator");
	ASSERT_TRUE(strstr(text, "7 user or page-cache pages left out") != NULL &&
		    strstr(text, "1 blocks freed split") != NULL, "pages' own losses");
	ASSERT_TRUE(strstr(json, "\"allocator\": \"vmalloc\"") != NULL &&
		    strstr(json, "\"kernel_counter\": \"VmallocUsed\"") != NULL &&
		    strstr(json, "\"pages_user_left_out\": 7") != NULL, "JSON per allocator");
	ASSERT_TRUE(strstr(ftext, "no share is given") != NULL &&
		    strstr(ftext, "100%") == NULL, "a filtered run gives no share");
	ASSERT_TRUE(strstr(stext, "per allocator") == NULL, "slab only: no summary");
out:
	free(text);
	free(json);
	free(ftext);
	free(stext);
	model__free(m);
	model__free(filtered);
	model__free(slab);
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
