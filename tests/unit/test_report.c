// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The report on small models built here: the site counts of the header and
 * why a report is empty, sites whose frees go unseen, the interval trend's
 * verdict, the per-cache table with and without a task filter, merged cache
 * names, and the footer's accounting of every allocation event. The whole
 * output of saved runs is checked byte for byte by the goldens of
 * tests/sh/cli.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "report.h"
#include "test.h"

static const struct report_opts text_opts = {
	.max_size = ~0ULL,
	.caches = true,
};

static struct model *new_model(const char *filters, __u64 run_s, __u64 interval_s)
{
	struct model *m = model__new();

	if (!m)
		return NULL;
	m->meta.filters = strdup(filters);
	m->meta.start_s = 1700000000;
	m->meta.end_s = 1700000000 + run_s;
	m->meta.sample_rate = 1;
	m->meta.interval_s = interval_s;
	return m;
}

/* A site of n outstanding objects, the oldest oldest_ms old, one frame named fn. */
static struct model_site *add_site(struct model *m, const char *cache, __u64 size, size_t n,
				   __u32 oldest_ms, const char *fn)
{
	struct model_site *s = model__add_site(m);
	size_t i;

	if (!s)
		return NULL;
	snprintf(s->cache, sizeof(s->cache), "%s", cache);
	s->obj_size = size;
	s->count = n;
	s->bytes = n * size;
	s->allocs = n;
	s->ages_ms = calloc(n ? n : 1, sizeof(*s->ages_ms));
	for (i = 0; i < n; i++)
		s->ages_ms[i] = oldest_ms - i * (oldest_ms / (n + 1));
	s->n_ages = n;
	s->frames = calloc(1, sizeof(*s->frames));
	s->frames[0].addr = 0xffffffff81000000;
	s->frames[0].sym = strdup(fn);
	s->n_frames = 1;
	return s;
}

static void set_trend(struct model_site *s, const __s64 *v, size_t n)
{
	s->trend = calloc(n, sizeof(*s->trend));
	memcpy(s->trend, v, n * sizeof(*v));
	s->n_trend = n;
}

/* report__print() into a string; NULL on error. */
static char *print(const struct model *m, const struct report_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f)
		return NULL;
	err = report__print(m, o, f);
	fclose(f);
	if (err) {
		free(buf);
		return NULL;
	}
	return buf;
}

static char *not_seen(const struct model *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	report__print_not_seen(m, f);
	fclose(f);
	return buf;
}

#define ASSERT_HAS(text, needle, check)                                                   \
	({                                                                                \
		const char *___has_t = (text);                                            \
		bool ___has_ok = ASSERT_TRUE(___has_t && strstr(___has_t, (needle)), check); \
		if (!___has_ok)                                                           \
			printf("  missing: %s\n", (needle));                              \
		___has_ok;                                                                \
	})
#define ASSERT_HASNT(text, needle, check)                                                 \
	ASSERT_TRUE((text) && !strstr((text), (needle)), check)

/* "0 of 0 sites" hid that sites exist below the age cut; a run too short says so. */
void test_report_header_counts(void)
{
	struct model *m = new_model("", 30, 0);
	struct report_opts o = text_opts;
	char *out;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	add_site(m, "filp", 256, 4, 9000, "alloc_empty_file+0x4f");
	add_site(m, "filp", 256, 3, 3000, "alloc_empty_file+0x61");
	add_site(m, "pid", 128, 2, 2000, "alloc_pid+0x5a");
	o.older_ms = 6000;
	out = print(m, &o);
	ASSERT_HAS(out, "\n1 of 3 allocation sites (call stack and cache) hold allocations 6.0 s "
		   "or older (2 hold only younger ones; -o 0 shows them):\n", "older cut");
	ASSERT_HASNT(out, "the run had lasted", "a 30 s run is long enough");
	free(out);

	o.older_ms = 0;
	o.top = 2;
	out = print(m, &o);
	ASSERT_HAS(out, "\n3 allocation sites (call stack and cache) hold allocations; "
		   "the top 2:\n", "-o 0 and --top");
	ASSERT_HASNT(out, "younger", "-o 0 leaves nothing younger");
	free(out);

	/* the first report of "kleak 5" with --older 6 */
	model__free(m);
	m = new_model("", 5, 5);
	if (!ASSERT_OK_PTR(m, "model"))
		return;
	add_site(m, "filp", 256, 4, 4900, "alloc_empty_file+0x4f");
	add_site(m, "filp", 256, 3, 3000, "alloc_empty_file+0x61");
	add_site(m, "pid", 128, 2, 2000, "alloc_pid+0x5a");
	o.older_ms = 6000;
	o.top = 0;
	out = print(m, &o);
	ASSERT_HAS(out, "\n0 of 3 allocation sites (call stack and cache) hold allocations "
		   "6.0 s or older (3 hold only younger ones; -o 0 shows them)\n", "all younger");
	ASSERT_HAS(out, "\nthe run had lasted 5 s, less than 6.0 s: no allocation could be "
		   "that old yet (interval reports stay empty until it is)\n", "why it is empty");
	free(out);
	o.older_ms = 5000;
	out = print(m, &o);
	ASSERT_HASNT(out, "the run had lasted", "a 5 s run can hold 5 s old objects");
	free(out);
	model__free(m);
}

void test_report_frees_unseen(void)
{
	struct model_site s = { .allocs = 200, .count = 199, .retired = 1 };
	struct model *m = new_model("", 30, 0);
	struct model_site *bulk;
	char *out, *first, *second;

	/* a leak with one reused address is a leak */
	ASSERT_TRUE(!model_site__frees_unseen(&s), "leak with one free unseen");
	/* maple tree nodes: most records end with their address reused */
	s = (struct model_site){ .allocs = 2400, .count = 400, .retired = 1990 };
	ASSERT_TRUE(model_site__frees_unseen(&s), "mostly unseen frees");
	/* early in a run, before most addresses came round again */
	s = (struct model_site){ .allocs = 1000, .count = 700, .retired = 300 };
	ASSERT_TRUE(model_site__frees_unseen(&s), "unseen frees outnumber seen ones");
	/* churn that loses a few frees to a bulk path */
	s = (struct model_site){ .allocs = 1000, .count = 10, .retired = 200 };
	ASSERT_TRUE(!model_site__frees_unseen(&s), "most frees seen");
	s = (struct model_site){ .allocs = 0, .count = 0, .retired = 0 };
	ASSERT_TRUE(!model_site__frees_unseen(&s), "empty site");

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	bulk = add_site(m, "maple_node", 256, 400, 20000, "mas_alloc_nodes+0x120");
	bulk->allocs = 2400;
	bulk->retired = 1990;
	add_site(m, "task_struct", 10496, 3, 20000, "dup_task_struct+0x3a");
	out = print(m, &text_opts);
	first = out ? strstr(out, "[1] ") : NULL;
	second = out ? strstr(out, "[2] ") : NULL;
	ASSERT_TRUE(first && strstr(first, "in task_struct") < second, "real site first");
	ASSERT_TRUE(second && strstr(second, "in maple_node"), "bulk site last");
	ASSERT_HAS(out, "\n1 of them lose most of their frees to bulk free paths kleak cannot see "
		   "(marked \"frees unseen\", listed last): not a leak signal\n", "header says so");
	ASSERT_HAS(out, "\n    frees unseen: 1990 of its 2400 allocations", "site marked");
	ASSERT_HAS(out, "2400 allocated, 1990 retired (address reused)\n", "site line");
	ASSERT_HAS(out, "\n    by - | | 3 allocated\n", "no 'retired' when there is none");
	free(out);
	model__free(m);
}

/* The verdict of a site's trend, from its text line. */
static char *trend_line(const __s64 *v, size_t n, __u64 interval_s, __u32 oldest_ms)
{
	struct model *m = new_model("comm=x", n * interval_s, interval_s);
	struct model_site *s;
	char *out, *line = NULL, *p, *end;

	if (!m)
		return NULL;
	s = add_site(m, "filp", 256, v[n - 1] > 0 ? v[n - 1] : 1, oldest_ms, "alloc_empty_file");
	set_trend(s, v, n);
	out = print(m, &text_opts);
	p = out ? strstr(out, "\n    trend ") : NULL;
	if (p) {
		end = strchr(p + 1, '\n');
		line = strndup(p + 5, end - p - 5);
	}
	free(out);
	model__free(m);
	return line;
}

void test_report_trend(void)
{
	static const __s64 leak[] = { 10, 20, 30, 40, 50 };
	static const __s64 late[] = { 0, 0, 0, 10, 20 };
	static const __s64 two[] = { 0, 15, 30 };
	static const __s64 churn[] = { 5, 10, 15, 20, 25 };
	static const __s64 flat[] = { 0, 0, 0 };
	static const __s64 varying[] = { 30, 10, 40 };
	char *l;

	/* four intervals of 15 s, objects of the first still held */
	l = trend_line(leak, 5, 15, 61000);
	ASSERT_STREQ(l, "trend +10.0/interval, grew in each of 4 intervals (60 s) and still holds "
		     "objects from the start: likely leak", "likely leak");
	free(l);
	/* the same counts every 3 s: the 30 `sleep 16` tasks of issue 13 */
	l = trend_line(leak, 5, 3, 13000);
	ASSERT_STREQ(l, "trend +10.0/interval, grew in each of 4 intervals (12 s): too soon to "
		     "call a leak (needs 4 intervals and 60 s)", "too short a span");
	free(l);
	l = trend_line(two, 3, 30, 59000);
	ASSERT_STREQ(l, "trend +15.0/interval, grew in each of 2 intervals (60 s): too soon to "
		     "call a leak (needs 4 intervals and 60 s)", "too few intervals");
	free(l);
	/* a site born in the fourth interval grew from there; it did not fall before */
	l = trend_line(late, 5, 30, 50000);
	ASSERT_STREQ(l, "trend +10.0/interval, grew in each of 2 intervals (60 s): too soon to "
		     "call a leak (needs 4 intervals and 60 s)", "leading zeros");
	free(l);
	l = trend_line(churn, 5, 15, 20000);
	ASSERT_STREQ(l, "trend +5.0/interval, grew in each of 4 intervals (60 s), but nothing it "
		     "holds is older than 20.0 s: more in use, not left behind", "churn");
	free(l);
	l = trend_line(flat, 3, 15, 1000);
	ASSERT_STREQ(l, "trend +0.0/interval, did not grow in every interval: cache or churn",
		     "flat");
	free(l);
	l = trend_line(varying, 3, 15, 1000);
	ASSERT_STREQ(l, "trend +5.0/interval, did not grow in every interval: cache or churn",
		     "varying");
	free(l);
}

void test_report_caches(void)
{
	struct model *m = new_model("", 30, 0);
	struct model_slab *sl;
	char *out;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	add_site(m, "pid", 128, 75, 20000, "alloc_pid+0x5a");
	add_site(m, "dentry", 192, 20, 20000, "__d_alloc+0x31");
	add_site(m, "kmalloc-large", 16384, 1, 20000, "seq_buf_alloc+0x1a");
	sl = model__add_slab(m);
	snprintf(sl->name, sizeof(sl->name), "pid");
	sl->active_start = 500;
	sl->active_end = 504;
	sl = model__add_slab(m);
	snprintf(sl->name, sizeof(sl->name), "dentry");
	sl->active_start = 500;
	sl->active_end = 400;
	out = print(m, &text_opts);
	ASSERT_HAS(out, "  CACHE                       OBJECTS        BYTES  SLABINFO CHANGE  "
		   "EXPLAINED\n", "header");
	ASSERT_HAS(out, "\n  pid                              75         9600               "
		   "+4      1875%\n", "share");
	ASSERT_HAS(out, "\n  EXPLAINED above 100%: kleak holds more than the cache grew by: "
		   "objects allocated before kleak started", "above 100% says why");
	ASSERT_HAS(out, "\n  EXPLAINED -: the cache did not grow", "no growth says why");
	ASSERT_HAS(out, "\n  SLABINFO CHANGE -: the cache is not in /proc/slabinfo", "no slabinfo");
	free(out);

	/* --cache selects whole caches: slabinfo stays comparable */
	free(m->meta.filters);
	m->meta.filters = strdup("cache=pid min-size=64");
	out = print(m, &text_opts);
	ASSERT_HAS(out, "SLABINFO CHANGE  EXPLAINED\n", "cache filter keeps the share");
	free(out);

	/* a task filter: slabinfo counts another population */
	free(m->meta.filters);
	m->meta.filters = strdup("cache=pid comm=beegfs-ctl");
	out = print(m, &text_opts);
	ASSERT_HAS(out, "\nper cache (all outstanding, any age; SLABINFO CHANGE counts every "
		   "task's objects, kleak only the filtered tasks', so no share is given):\n",
		   "why");
	ASSERT_HASNT(out, "EXPLAINED", "no share under a task filter");
	ASSERT_HAS(out, "\n  pid                              75         9600               +4\n",
		   "the change is still shown");
	free(out);
	model__free(m);
}

void test_report_sampled(void)
{
	struct model *m = new_model("sample=1/4", 30, 0);
	char *out;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	m->meta.sample_rate = 4;
	add_site(m, "filp", 256, 3, 20000, "alloc_empty_file+0x4f");
	out = print(m, &text_opts);
	ASSERT_HAS(out, "[1] 12 objects, 3072 bytes in filp (256 B each); 12 outstanding of "
		   "any age", "site scaled");
	ASSERT_HAS(out, "\n  filp                             12         3072", "cache scaled");
	free(out);
	model__free(m);
}

void test_report_merged(void)
{
	struct model *m = new_model("", 30, 0);
	struct report_opts o = text_opts;
	struct model_merged *g;
	char *out;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	add_site(m, "ftrace_event_field", 56, 12, 20000, "damon_split_region_at+0x3a");
	add_site(m, "filp", 256, 1, 20000, "alloc_empty_file+0x4f");
	g = model__add_merged(m, "ftrace_event_field");
	if (!ASSERT_OK_PTR(g, "model__add_merged"))
		goto out;
	ASSERT_OK(model_merged__add_alias(g, "damon_region"), "alias");
	ASSERT_OK(model_merged__add_alias(g, "Acpi-Parse"), "alias");
	ASSERT_EQ(model_merged__add_alias(g, "damon_region"), -EEXIST, "duplicate alias");
	ASSERT_STREQ(g->aliases[0], "Acpi-Parse", "aliases sorted");
	ASSERT_NULL(model__add_merged(m, "a_cache_name_longer_than_31_bytes"), "long name");
	out = print(m, &o);
	ASSERT_HAS(out, " bytes in ftrace_event_field (56 B each; merged: Acpi-Parse, "
		   "damon_region); ", "site names the aliases");
	ASSERT_HAS(out, "\n  ftrace_event_field is a merged cache, also named Acpi-Parse, "
		   "damon_region\n", "cache table names them");
	ASSERT_HASNT(out, "filp (merged", "a cache of its own");
	free(out);
	o.json = true;
	out = print(m, &o);
	ASSERT_HAS(out, "\"merged_with\": [\n        \"Acpi-Parse\",\n"
		   "        \"damon_region\"\n      ]", "JSON names them");
	free(out);
out:
	model__free(m);
}

/* Every allocation event accounted for; excluding sites changes none of it. */
void test_report_not_seen(void)
{
	struct model *m = new_model("comm=x", 30, 0);
	char *before, *after;
	regex_t re;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	m->stats[STAT_ALLOC_EVENTS] = 1000;
	m->stats[STAT_ALLOCS] = 600;
	m->stats[STAT_SAMPLED_OUT] = 100;
	m->stats[STAT_ALLOC_MAP_FULL] = 5;
	m->stats[STAT_ALLOC_MAP_BUSY] = 3;
	m->stats[STAT_SITE_MAP_FULL] = 2;
	m->stats[STAT_FREES] = 400;
	m->stats[STAT_REALLOC_RETIRED] = 6051;
	m->stats[STAT_TRACKED_FULL] = 7;
	ASSERT_EQ(model__alloc_events_left_out(m), 290, "remainder");
	add_site(m, "maple_node", 256, 10, 20000, "mas_alloc_nodes+0x120")->retired = 6051;
	before = not_seen(m);
	ASSERT_HAS(before, "allocation events: 1000 = 600 recorded + 100 sampled out + 10 not "
		   "recorded (maps full, below) + 290 filtered out, failed or kleak's own (the "
		   "remainder: not counted one by one)\n", "accounting");
	ASSERT_HAS(before, "frees: 400 matched to recorded allocations; 6051 records retired",
		   "frees");
	ASSERT_HAS(before, "not seen: 5 allocations (allocs map full), 3 (map busy), 2 (sites map "
		   "full); ", "not recorded");
	ASSERT_HAS(before, "; 7 forked tasks not followed", "fork tracking");
	if (ASSERT_OK(regcomp(&re, "mas_alloc", REG_EXTENDED | REG_NOSUB), "regcomp")) {
		ASSERT_EQ(model__drop_sites(m, &re), 1, "excluded");
		regfree(&re);
	}
	after = not_seen(m);
	ASSERT_STREQ(after, before, "--exclude leaves the footer alone");
	free(before);
	free(after);

	/* counters read one after another may be an event apart: never a wrapped remainder */
	m->stats[STAT_ALLOC_EVENTS] = 700;
	ASSERT_EQ(model__alloc_events_left_out(m), 0, "no wrap");
	model__free(m);
}

void test_report_fmt_clock(void)
{
	struct timespec ts = { .tv_sec = 1700000000 + 3661, .tv_nsec = 5999999 };
	char *tz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	char buf[16];

	setenv("TZ", "UTC", 1);
	tzset();
	report__fmt_clock(&ts, buf, sizeof(buf));
	ASSERT_STREQ(buf, "23:14:21.005", "HH:MM:SS.mmm");
	if (tz)
		setenv("TZ", tz, 1);
	else
		unsetenv("TZ");
	tzset();
	free(tz);
}

/* The books: every event by its one outcome, every record outstanding or ended. */
void test_report_books(void)
{
	struct model *m = model__new();
	struct model_books b;
	char *text;

	if (!ASSERT_OK_PTR(m, "model__new"))
		return;
	m->stats[STAT_ALLOC_EVENTS] = 1000;
	m->stats[STAT_FAILED_ALLOCS] = 1;
	m->stats[STAT_OWN_ALLOCS] = 2;
	m->stats[STAT_FILTERED_OUT] = 300;
	m->stats[STAT_IRQ_NOT_ATTRIBUTED] = 7;
	m->stats[STAT_SAMPLED_OUT] = 80;
	m->stats[STAT_SITE_MAP_FULL] = 3;
	m->stats[STAT_ALLOC_MAP_FULL] = 5;
	m->stats[STAT_ALLOC_MAP_BUSY] = 2;
	m->stats[STAT_ALLOCS] = 600;
	m->stats[STAT_FREES] = 500;
	m->stats[STAT_REALLOC_RETIRED] = 40;
	ASSERT_TRUE(!model__books(m, &b), "a model without books (old saved run)");
	m->books_kept = true;
	m->outstanding = 60;
	if (ASSERT_TRUE(model__books(m, &b), "books kept")) {
		ASSERT_EQ(b.events_unaccounted, 0, "events balance");
		ASSERT_EQ(b.records_unaccounted, 0, "records balance");
	}
	text = not_seen(m);
	ASSERT_HAS(text, "allocation events: 1000 = 600 recorded + 80 sampled out + 10 not "
		   "recorded (maps full, below) + 300 filtered out + 7 in irq context + 1 failed "
		   "+ 2 kleak's own\nrecorded: 600 = 500 freed + 40 retired + 60 outstanding\n",
		   "balanced books");
	free(text);
	/* a live report read while events ran */
	m->stats[STAT_ALLOC_EVENTS] = 1001;
	m->outstanding = 58;
	m->books_slack = 4;
	if (ASSERT_TRUE(model__books(m, &b), "books kept")) {
		ASSERT_EQ(b.events_unaccounted, 1, "one event in progress");
		ASSERT_EQ(b.records_unaccounted, 2, "two records moved");
	}
	text = not_seen(m);
	ASSERT_HAS(text, "+ 2 kleak's own (+1 in progress while read)\n", "events in progress");
	ASSERT_HAS(text, "58 outstanding (+2: 4 made or ended while read)\n", "records moved");
	free(text);
	model__free(m);
}
