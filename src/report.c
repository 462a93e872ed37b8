// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The report: prepare the rows once (filter, count what is old enough, sort,
 * cut), then print them as text or JSON from the same rows, so the two
 * formats cannot disagree. The footer always says what kleak could not see.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "allocators.h"
#include "held.h"
#include "json.h"
#include "report.h"
#include "report_allocators.h"
#include "report_ustack.h"

/*
 * "likely leak" in interval mode: a site that grew in every interval is only
 * called one after this many intervals spanning this long, and while it
 * still holds objects from the start of that growth. Thirty `sleep 16` tasks
 * grow for two 3-second intervals and then go away; objects whose owners
 * live shorter than the span cannot keep growing at a steady rate.
 */
#define TREND_MIN_INTERVALS	4
#define TREND_MIN_SPAN_S	60

struct row {
	const struct model_site *s;
	__u64 n_old;		/* outstanding allocations old enough to report */
	__u64 bytes_old;
	bool frees_unseen;	/* model_site__frees_unseen(): listed last, marked */
};

struct prepared {
	struct row *rows;
	size_t n_rows;		/* after --top */
	size_t n_match;		/* before --top */
	size_t n_holding;	/* sites past --cache/--min-size with any outstanding allocation */
	size_t n_unseen_shown;	/* rows marked frees_unseen, after --top */
	__u64 scale;		/* --sample-rate: counts are estimates */
};

enum trend_kind {
	TREND_NONE,		/* fewer than two intervals */
	TREND_LEAK,		/* grew long enough, and holds objects from the start */
	TREND_GROWING,		/* grew in every interval, but not long enough to tell */
	TREND_CHURN,		/* grew in every interval, but freed its old objects */
	TREND_VARYING,
};

struct trend {
	enum trend_kind kind;
	double per_interval;
	size_t steps;		/* intervals since the site first held anything */
	__u64 span_s;		/* steps * the interval */
};

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	/* sites that lose their frees to bulk paths hold nothing for sure: last */
	if (x->frees_unseen != y->frees_unseen)
		return x->frees_unseen ? 1 : -1;
	if (x->bytes_old != y->bytes_old)
		return x->bytes_old > y->bytes_old ? -1 : 1;
	if (x->n_old != y->n_old)
		return x->n_old > y->n_old ? -1 : 1;
	return strcmp(x->s->cache, y->s->cache);
}

static int prepare(const struct model *m, const struct report_opts *o, struct prepared *p)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	p->scale = m->meta.sample_rate > 1 ? m->meta.sample_rate : 1;
	p->rows = calloc(m->n_sites ? m->n_sites : 1, sizeof(*p->rows));
	if (!p->rows)
		return -ENOMEM;
	for (i = 0; i < m->n_sites; i++) {
		const struct model_site *s = &m->sites[i];
		struct row *r = &p->rows[p->n_match];

		if (s->obj_size < o->min_size || s->obj_size > o->max_size)
			continue;
		if (o->cache && !allocators__cache_selects(o->cache, s->kind, s->cache))
			continue;
		p->n_holding += s->n_ages > 0;
		r->s = s;
		r->n_old = model_site__count_older(s, o->older_ms) * p->scale;
		r->bytes_old = r->n_old * s->obj_size;
		r->frees_unseen = model_site__frees_unseen(s);
		if (r->n_old)
			p->n_match++;
	}
	qsort(p->rows, p->n_match, sizeof(*p->rows), cmp_row);
	p->n_rows = o->top && o->top < p->n_match ? o->top : p->n_match;
	for (i = 0; i < p->n_rows; i++)
		p->n_unseen_shown += p->rows[i].frees_unseen;
	return 0;
}

/*
 * The trend from the site's first interval end with anything outstanding
 * (the one before it, at 0, included): a site created in the fourth
 * interval grows from there, it did not "fall" in the three before.
 */
static struct trend trend_of(const struct model *m, const struct model_site *s)
{
	struct trend t = { .kind = TREND_NONE };
	size_t i, start = 0;
	__u32 oldest = s->n_ages ? s->ages_ms[0] : 0;

	if (s->n_trend < 3)
		return t;
	while (start + 2 < s->n_trend && s->trend[start] <= 0 && s->trend[start + 1] <= 0)
		start++;
	t.steps = s->n_trend - 1 - start;
	t.span_s = t.steps * m->meta.interval_s;
	t.per_interval = (double)(s->trend[s->n_trend - 1] - s->trend[start]) / t.steps;
	t.kind = TREND_GROWING;
	for (i = start + 1; i < s->n_trend; i++)
		if (s->trend[i] <= s->trend[i - 1])
			t.kind = TREND_VARYING;
	if (t.kind != TREND_GROWING || t.steps < TREND_MIN_INTERVALS ||
	    t.span_s < TREND_MIN_SPAN_S)
		return t;
	/* an object of the first growing interval is at least steps - 1 intervals old */
	if ((__u64)oldest < (t.steps - 1) * m->meta.interval_s * 1000)
		t.kind = TREND_CHURN;
	else
		t.kind = TREND_LEAK;
	return t;
}

static void fmt_time(__u64 epoch_s, char *buf, size_t len)
{
	time_t t = epoch_s;
	struct tm tm;

	if (!epoch_s || !localtime_r(&t, &tm))
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

void report__fmt_clock(const struct timespec *ts, char *buf, size_t len)
{
	time_t t = ts->tv_sec;
	struct tm tm;

	if (!localtime_r(&t, &tm))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
			 ts->tv_nsec / 1000000);
}

static void fmt_age(__u32 ms, char *buf, size_t len)
{
	if (ms < 60000)
		snprintf(buf, len, "%.1f s", ms / 1000.0);
	else
		snprintf(buf, len, "%02u:%02u:%02u", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60);
}

static const struct model_slab *slab_of(const struct model *m, const char *cache)
{
	size_t i;

	for (i = 0; i < m->n_slabs; i++)
		if (!strcmp(m->slabs[i].name, cache))
			return &m->slabs[i];
	return NULL;
}

/*
 * Whether the run was limited to some tasks (comm, pid, cgroup, command)
 * or objects (--held-by): /proc/slabinfo then counts another population
 * than kleak does. --cache
 * and the size filters select whole caches, so they keep the two
 * comparable. The filters string is the one opts__filters_str() wrote.
 */
static bool has_task_filter(const struct model *m)
{
	static const char *const keys[] = { "command=", "pid=", "comm=", "cgroup=", "held-by=" };
	const char *p = m->meta.filters;
	size_t i;

	while (p && *p) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strncmp(p, keys[i], strlen(keys[i])))
				return true;
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return false;
}

/* Per-cache totals over every site, in order of first appearance. */
struct cache_sum {
	const char *cache;
	__s64 count;
	__s64 bytes;
};

/* How the EXPLAINED column reads for one cache. */
enum explained {
	EXPL_SHARE,		/* a percentage */
	EXPL_NO_SLAB,		/* not in /proc/slabinfo */
	EXPL_NO_GROWTH,		/* the cache did not grow */
};

static enum explained explained_of(const struct model *m, const struct cache_sum *c, __s64 *d)
{
	const struct model_slab *sl = slab_of(m, c->cache);

	*d = sl ? sl->active_end - sl->active_start : 0;
	if (!sl)
		return EXPL_NO_SLAB;
	return *d > 0 ? EXPL_SHARE : EXPL_NO_GROWTH;
}

static size_t sum_caches(const struct model *m, __u64 scale, struct cache_sum *sums)
{
	size_t i, j, n = 0;

	for (i = 0; i < m->n_sites; i++) {
		const struct model_site *s = &m->sites[i];

		if (s->count <= 0)
			continue;
		for (j = 0; j < n && strcmp(sums[j].cache, s->cache); j++)
			;
		if (j == n) {
			sums[n].cache = s->cache;
			sums[n].count = 0;
			sums[n].bytes = 0;
			n++;
		}
		sums[j].count += s->count * (__s64)scale;
		sums[j].bytes += s->bytes * (__s64)scale;
	}
	return n;
}

static int cmp_cache_sum(const void *a, const void *b)
{
	const struct cache_sum *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return strcmp(x->cache, y->cache);
}

static __u64 retired_in_sites(const struct model *m, size_t *n_sites)
{
	__u64 sum = 0;
	size_t i;

	*n_sites = 0;
	for (i = 0; i < m->n_sites; i++) {
		sum += m->sites[i].retired;
		*n_sites += m->sites[i].retired > 0;
	}
	return sum;
}

void report__put_line(FILE *out, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)(s ? s : "unknown"); *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
}

static void text_merged(const struct model_merged *g, FILE *out)
{
	size_t i;

	for (i = 0; i < g->n_aliases; i++)
		fprintf(out, "%s%s", i ? ", " : "", g->aliases[i]);
}

static void text_header(const struct model *m, const struct report_opts *o,
			const struct prepared *p, FILE *out)
{
	char start[32], end[32], older[32];
	__u64 run_s = m->meta.end_s > m->meta.start_s ? m->meta.end_s - m->meta.start_s : 0;
	size_t younger = p->n_holding > p->n_match ? p->n_holding - p->n_match : 0;

	fmt_time(m->meta.start_s, start, sizeof(start));
	fmt_time(m->meta.end_s, end, sizeof(end));
	fmt_age(o->older_ms, older, sizeof(older));
	fprintf(out, "kleak %s, kernel %s, host %s, tracing with %s\n", m->meta.version ?: "?",
		m->meta.kernel ?: "?", m->meta.hostname ?: "?", m->meta.attach ?: "?");
	fprintf(out, "filters: %s; run %s .. %s (%llu s)\n",
		m->meta.filters && *m->meta.filters ? m->meta.filters : "none", start, end,
		(unsigned long long)run_s);
	/* quoted as a shell needs it (opts__join_args()), on one line */
	if (m->meta.cmdline) {
		fputs("command: ", out);
		report__put_line(out, m->meta.cmdline);
		fputc('\n', out);
	}
	if (p->scale > 1)
		fprintf(out, "sampled 1 in %llu: counts and bytes are estimates\n",
			(unsigned long long)p->scale);
	held__text_header(m, out);
	if (o->older_ms)
		fprintf(out, "\n%zu of %zu allocation sites (call stack and cache) hold "
			"allocations %s or older", p->n_match, p->n_holding, older);
	else
		fprintf(out, "\n%zu allocation sites (call stack and cache) hold allocations",
			p->n_match);
	if (younger)
		fprintf(out, " (%zu hold only younger ones; -o 0 shows them)", younger);
	if (p->n_rows < p->n_match)
		fprintf(out, "; the top %zu:\n", p->n_rows);
	else
		fputs(p->n_rows ? ":\n" : "\n", out);
	if (!p->n_match && o->older_ms && run_s * 1000 < o->older_ms)
		fprintf(out, "the run had lasted %llu s, less than %s: no allocation could be that "
			"old yet%s\n", (unsigned long long)run_s, older,
			m->meta.interval_s ? " (interval reports stay empty until it is)" : "");
	if (p->n_unseen_shown)
		fprintf(out, "%zu of them lose most of their frees to bulk free paths kleak cannot "
			"see (marked \"frees unseen\", listed last): not a leak signal\n",
			p->n_unseen_shown);
}

/* Interval mode: what the trend lines below mean, once. */
static void text_trend_legend(const struct model *m, const struct prepared *p, FILE *out)
{
	size_t i;

	for (i = 0; i < p->n_rows; i++)
		if (trend_of(m, p->rows[i].s).kind != TREND_NONE)
			break;
	if (i == p->n_rows)
		return;
	fprintf(out, "trend: a site's outstanding objects at the end of each %llu s interval; "
		"\"likely leak\": it grew in every one of at least %d intervals and %d s, and "
		"still holds objects from the start of that growth\n",
		(unsigned long long)m->meta.interval_s, TREND_MIN_INTERVALS, TREND_MIN_SPAN_S);
}

static void text_trend(const struct model *m, const struct model_site *s, FILE *out)
{
	struct trend t = trend_of(m, s);
	char age[32];

	switch (t.kind) {
	case TREND_LEAK:
		fprintf(out, "    trend %+.1f/interval, grew in each of %zu intervals (%llu s) and "
			"still holds objects from the start: likely leak\n", t.per_interval,
			t.steps, (unsigned long long)t.span_s);
		break;
	case TREND_GROWING:
		fprintf(out, "    trend %+.1f/interval, grew in each of %zu intervals (%llu s): "
			"too soon to call a leak (needs %d intervals and %d s)\n", t.per_interval,
			t.steps, (unsigned long long)t.span_s, TREND_MIN_INTERVALS,
			TREND_MIN_SPAN_S);
		break;
	case TREND_CHURN:
		fmt_age(s->n_ages ? s->ages_ms[0] : 0, age, sizeof(age));
		fprintf(out, "    trend %+.1f/interval, grew in each of %zu intervals (%llu s), "
			"but nothing it holds is older than %s: more in use, not left behind\n",
			t.per_interval, t.steps, (unsigned long long)t.span_s, age);
		break;
	case TREND_VARYING:
		fprintf(out, "    trend %+.1f/interval, did not grow in every interval: cache or "
			"churn\n", t.per_interval);
		break;
	case TREND_NONE:
		break;
	}
}

static void text_site(const struct model *m, const struct report_opts *o,
		      const struct prepared *p, const struct row *r, size_t rank, FILE *out)
{
	const struct model_site *s = r->s;
	const struct model_merged *g = model__merged_of(m, s->cache);
	unsigned long long k = p->scale;
	char age[32];
	size_t i;
	int c;

	fmt_age(s->n_ages ? s->ages_ms[0] : 0, age, sizeof(age));
	fprintf(out, "\n[%zu] %llu objects, %llu bytes in %s (%llu B each", rank,
		(unsigned long long)r->n_old, (unsigned long long)r->bytes_old, s->cache,
		(unsigned long long)s->obj_size);
	if (g) {
		fputs("; merged: ", out);
		text_merged(g, out);
	}
	fprintf(out, "); %lld outstanding of any age, oldest %s\n",
		(long long)s->count * (long long)k, age);
	fprintf(out, "    by");
	for (i = 0; i < s->n_comms; i++)
		fprintf(out, "%s %s (%llu)", i ? "," : "", s->comms[i].comm,
			(unsigned long long)s->comms[i].count);
	if (!s->n_comms)
		fprintf(out, " -");
	fprintf(out, " |");
	for (c = 0; c < KLEAK_CTX_MAX; c++)
		if (s->ctx[c])
			fprintf(out, " %s %llu", model__ctx_name(c), (unsigned long long)s->ctx[c]);
	fprintf(out, " | %llu allocated", (unsigned long long)s->allocs * k);
	if (s->retired)
		fprintf(out, ", %llu retired (address reused)",
			(unsigned long long)s->retired * k);
	fputc('\n', out);
	if (r->frees_unseen)
		fprintf(out, "    frees unseen: %llu of its %llu allocations were found freed only "
			"when their address was allocated again (a bulk free path without a kmem "
			"event): not a leak signal\n", (unsigned long long)s->retired * k,
			(unsigned long long)s->allocs * k);
	text_trend(m, s, out);
	held__text_site(s, r->n_old / k, out);
	if (s->stack_err) {
		fprintf(out, "\t[stack not captured: %s]\n", model__stack_err_str(s->stack_err));
		return;
	}
	for (i = 0; i < s->n_frames; i++) {
		if (s->frames[i].sym)
			fprintf(out, "\t%s\n", s->frames[i].sym);
		else if (o->raw_addresses && s->frames[i].addr)
			fprintf(out, "\t0x%016llx\n", (unsigned long long)s->frames[i].addr);
		else
			fputs("\t?\n", out);
	}
	report_ustack__text(s, out);
}

static void text_caches(const struct model *m, struct cache_sum *sums, size_t n, FILE *out)
{
	bool comparable = !has_task_filter(m), no_slab = false, no_growth = false, above = false;
	const struct model_merged *g;
	enum explained e;
	size_t i;
	__s64 d;

	if (comparable)
		fprintf(out, "\nper cache (all outstanding, any age):\n"
			"  %-24s %10s %12s %16s %10s\n", "CACHE", "OBJECTS", "BYTES",
			"SLABINFO CHANGE", "EXPLAINED");
	else
		fprintf(out, "\nper cache (all outstanding, any age; SLABINFO CHANGE counts every "
			"task's objects, kleak only the filtered tasks', so no share is given):\n"
			"  %-24s %10s %12s %16s\n", "CACHE", "OBJECTS", "BYTES", "SLABINFO CHANGE");
	for (i = 0; i < n; i++) {
		e = explained_of(m, &sums[i], &d);
		fprintf(out, "  %-24s %10lld %12lld ", sums[i].cache, (long long)sums[i].count,
			(long long)sums[i].bytes);
		if (e == EXPL_NO_SLAB) {
			no_slab = true;
			fprintf(out, "%16s", "-");
		} else {
			fprintf(out, "%+16lld", (long long)d);
		}
		if (!comparable) {
			fputc('\n', out);
			continue;
		}
		/* how much of the growth the user watched in slabinfo kleak accounts for */
		if (e == EXPL_SHARE) {
			above |= sums[i].count > d;
			fprintf(out, " %9.0f%%\n", 100.0 * sums[i].count / d);
		} else {
			no_growth |= e == EXPL_NO_GROWTH;
			fprintf(out, " %10s\n", "-");
		}
	}
	for (i = 0; i < n; i++) {
		g = model__merged_of(m, sums[i].cache);
		if (!g)
			continue;
		fprintf(out, "  %s is a merged cache, also named ", sums[i].cache);
		text_merged(g, out);
		fputc('\n', out);
	}
	if (no_slab)
		fputs("  SLABINFO CHANGE -: the cache is not in /proc/slabinfo (kmalloc-large "
		      "objects are pages; an unnamed cache or an unreadable slabinfo gives no "
		      "figure)\n", out);
	if (no_growth)
		fputs("  EXPLAINED -: the cache did not grow over the run: no growth to explain\n",
		      out);
	if (above)
		fputs("  EXPLAINED above 100%: kleak holds more than the cache grew by: objects "
		      "allocated before kleak started and freed during the run shrink the change, "
		      "frees on paths without kmem events (bulk frees) stay counted by kleak, and "
		      "slabinfo counts the objects of whole slabs as active\n", out);
}

/*
 * The books of a run that keeps them, of allocator a alone or (a < 0) of
 * the whole run: each allocation event counted once by its outcome, and
 * each recorded one still outstanding or ended.
 */
static void print_books(const struct model *m, int a, const struct model_books *b, FILE *out)
{
#define ST(stat) ((unsigned long long)model__allocator_stat(m, a, stat))
	fprintf(out, "%s%s: %llu = %llu recorded + %llu sampled out + %llu not recorded (maps "
		"full, below) + %llu filtered out + %llu in irq context + %llu failed + %llu kleak's "
		"own", a < 0 ? "" : "  ", a < 0 ? "allocation events" : allocators__name(a),
		ST(STAT_ALLOC_EVENTS),
		ST(STAT_ALLOCS), ST(STAT_SAMPLED_OUT),
		ST(STAT_ALLOC_MAP_FULL) + ST(STAT_ALLOC_MAP_BUSY) + ST(STAT_SITE_MAP_FULL),
		ST(STAT_FILTERED_OUT), ST(STAT_IRQ_NOT_ATTRIBUTED), ST(STAT_FAILED_ALLOCS),
		ST(STAT_OWN_ALLOCS));
	/* --pages without =all: an outcome of its own (see "pages:" above) */
	if (model__traced_allocator(m, KLEAK_ALLOC_PAGES) && (a < 0 || a == KLEAK_ALLOC_PAGES))
		fprintf(out, " + %llu user pages left out", ST(STAT_PAGES_USER));
	if (b->events_unaccounted)
		fprintf(out, " (%+lld in progress while read)", (long long)b->events_unaccounted);
	fprintf(out, "%s %llu = %llu freed + %llu retired + %llu outstanding",
		a < 0 ? "\nrecorded:" : "; recorded", ST(STAT_ALLOCS), ST(STAT_FREES),
		ST(STAT_REALLOC_RETIRED), ST(STAT_MAX));
	if (b->records_unaccounted)
		fprintf(out, " (%+lld: %llu made or ended while read)",
			(long long)b->records_unaccounted, (unsigned long long)m->books_slack);
	fputc('\n', out);
#undef ST
}

void report__print_not_seen(const struct model *m, FILE *out)
{
	const __u64 *st = m->stats;
	unsigned long long not_rec = st[STAT_ALLOC_MAP_FULL] + st[STAT_ALLOC_MAP_BUSY] +
				     st[STAT_SITE_MAP_FULL];
	struct model_books b;
	int a;

	if (model__books(m, &b)) {
		print_books(m, -1, &b, out);
		for (a = 0; report_allocators__traced(m) && a < KLEAK_ALLOC_MAX; a++)
			if (model__traced_allocator(m, a) && model__allocator_books(m, a, &b))
				print_books(m, a, &b, out);
	} else
		fprintf(out, "allocation events: %llu = %llu recorded + %llu sampled out + %llu "
			"not recorded (maps full, below) + %llu filtered out, failed or kleak's "
			"own (the remainder: not counted one by one)\n",
			(unsigned long long)st[STAT_ALLOC_EVENTS],
			(unsigned long long)st[STAT_ALLOCS], (unsigned long long)st[STAT_SAMPLED_OUT],
			not_rec, (unsigned long long)model__alloc_events_left_out(m));
	fprintf(out, "frees: %llu matched to recorded allocations; %llu records retired: ended "
		"without a free when their address was allocated again (freed on a path without "
		"a kmem event), no longer outstanding\n", (unsigned long long)st[STAT_FREES],
		(unsigned long long)st[STAT_REALLOC_RETIRED]);
	fprintf(out, "not seen: %llu allocations (allocs map full), %llu (map busy), "
		"%llu (sites map full); "
		"%llu stacks lost (%llu not stored, %llu walks failed); "
		"%llu forked tasks not followed (tracking table full); "
		"%llu events the kernel did not run kleak for (recursion guard); "
		"%llu trace events dropped; "
		"%llu frames unresolved",
		(unsigned long long)st[STAT_ALLOC_MAP_FULL],
		(unsigned long long)st[STAT_ALLOC_MAP_BUSY],
		(unsigned long long)st[STAT_SITE_MAP_FULL],
		(unsigned long long)(st[STAT_STACK_MAP_FULL] + st[STAT_STACK_FAULT]),
		(unsigned long long)st[STAT_STACK_MAP_FULL],
		(unsigned long long)st[STAT_STACK_FAULT],
		(unsigned long long)st[STAT_TRACKED_FULL],
		(unsigned long long)m->recursion_misses,
		(unsigned long long)st[STAT_EVENTS_DROPPED],
		(unsigned long long)m->unresolved_frames);
	/* among the first line's filtered-out events too, said apart for what they are */
	if (has_task_filter(m) || st[STAT_IRQ_NOT_ATTRIBUTED])
		fprintf(out, "; %llu irq-context allocations not attributed to the filtered tasks",
			(unsigned long long)st[STAT_IRQ_NOT_ATTRIBUTED]);
	fputc('\n', out);
	report_allocators__not_seen(m, out);
	report_ustack__not_seen(m, out);
}

static void json_meta(struct json_writer *w, const struct model *m)
{
	jsonw_name(w, "meta");
	jsonw_start_object(w);
	jsonw_string_field(w, "version", m->meta.version);
	jsonw_string_field(w, "kernel", m->meta.kernel);
	jsonw_string_field(w, "hostname", m->meta.hostname);
	jsonw_string_field(w, "boot_id", m->meta.boot_id);
	jsonw_string_field(w, "cmdline", m->meta.cmdline);
	jsonw_string_field(w, "filters", m->meta.filters);
	jsonw_string_field(w, "attach", m->meta.attach);
	jsonw_uint_field(w, "start", m->meta.start_s);
	jsonw_uint_field(w, "end", m->meta.end_s);
	jsonw_uint_field(w, "sample_rate", m->meta.sample_rate);
	jsonw_uint_field(w, "interval", m->meta.interval_s);
	jsonw_end_object(w);
}

/* "merged_with": the aliases of a merged cache, left out for a cache of its own. */
static void json_merged(struct json_writer *w, const struct model *m, const char *cache)
{
	const struct model_merged *g = model__merged_of(m, cache);
	size_t i;

	if (!g)
		return;
	jsonw_name(w, "merged_with");
	jsonw_start_array(w);
	for (i = 0; i < g->n_aliases; i++)
		jsonw_string(w, g->aliases[i]);
	jsonw_end_array(w);
}

static const char *trend_verdict(enum trend_kind k)
{
	switch (k) {
	case TREND_LEAK:
		return "likely_leak";
	case TREND_GROWING:
		return "growing_too_short";
	case TREND_CHURN:
		return "growing_not_held";
	default:
		return "varying";
	}
}

static void json_site(struct json_writer *w, const struct model *m, const struct report_opts *o,
		      const struct prepared *p, const struct row *r)
{
	const struct model_site *s = r->s;
	struct trend t = trend_of(m, s);
	char addr[24];
	size_t i;
	int c;

	jsonw_start_object(w);
	jsonw_string_field(w, "cache", s->cache);
	jsonw_string_field(w, "allocator", allocators__name(kleak_allocator_of(s->kind)));
	json_merged(w, m, s->cache);
	jsonw_uint_field(w, "object_size", s->obj_size);
	jsonw_uint_field(w, "count", r->n_old);
	jsonw_uint_field(w, "bytes", r->bytes_old);
	jsonw_int_field(w, "outstanding", s->count * (__s64)p->scale);
	jsonw_int_field(w, "outstanding_bytes", s->bytes * (__s64)p->scale);
	jsonw_uint_field(w, "allocated", s->allocs * p->scale);
	jsonw_uint_field(w, "retired", s->retired * p->scale);
	jsonw_uint_field(w, "retired_bytes", s->retired_bytes * p->scale);
	jsonw_bool_field(w, "frees_unseen", r->frees_unseen);
	jsonw_float_field(w, "oldest_s", s->n_ages ? s->ages_ms[0] / 1000.0 : 0);
	jsonw_name(w, "comms");
	jsonw_start_array(w);
	for (i = 0; i < s->n_comms; i++) {
		jsonw_start_object(w);
		jsonw_string_field(w, "comm", s->comms[i].comm);
		jsonw_uint_field(w, "count", s->comms[i].count);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
	jsonw_name(w, "context");
	jsonw_start_object(w);
	for (c = 0; c < KLEAK_CTX_MAX; c++)
		jsonw_uint_field(w, model__ctx_name(c), s->ctx[c]);
	jsonw_end_object(w);
	if (t.kind != TREND_NONE) {
		jsonw_name(w, "trend");
		jsonw_start_object(w);
		jsonw_float_field(w, "per_interval", t.per_interval);
		jsonw_bool_field(w, "grew_every_interval", t.kind != TREND_VARYING);
		jsonw_uint_field(w, "intervals", t.steps);
		jsonw_uint_field(w, "span_s", t.span_s);
		jsonw_bool_field(w, "likely_leak", t.kind == TREND_LEAK);
		jsonw_string_field(w, "verdict", trend_verdict(t.kind));
		jsonw_name(w, "counts");
		jsonw_start_array(w);
		for (i = 0; i < s->n_trend; i++)
			jsonw_int(w, s->trend[i]);
		jsonw_end_array(w);
		jsonw_end_object(w);
	}
	held__json_site(w, s, r->n_old / p->scale);
	if (s->stack_err)
		jsonw_string_field(w, "stack_error", model__stack_err_str(s->stack_err));
	jsonw_name(w, "frames");
	jsonw_start_array(w);
	for (i = 0; i < s->n_frames; i++) {
		/* a kernel address gives away KASLR's offset: 0x0 unless asked for */
		snprintf(addr, sizeof(addr), "0x%llx",
			 o->raw_addresses ? (unsigned long long)s->frames[i].addr : 0ULL);
		jsonw_start_object(w);
		jsonw_string_field(w, "addr", addr);
		jsonw_string_field(w, "sym", s->frames[i].sym);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
	report_ustack__json(w, s);
	jsonw_end_object(w);
}

static void json_caches(struct json_writer *w, const struct model *m, struct cache_sum *sums,
			size_t n)
{
	bool comparable = !has_task_filter(m);
	enum explained e;
	size_t i;
	__s64 d;

	jsonw_bool_field(w, "slabinfo_comparable", comparable);
	jsonw_name(w, "caches");
	jsonw_start_array(w);
	for (i = 0; i < n; i++) {
		e = explained_of(m, &sums[i], &d);
		jsonw_start_object(w);
		jsonw_string_field(w, "cache", sums[i].cache);
		json_merged(w, m, sums[i].cache);
		jsonw_int_field(w, "count", sums[i].count);
		jsonw_int_field(w, "bytes", sums[i].bytes);
		jsonw_name(w, "slabinfo_change");
		if (e != EXPL_NO_SLAB)
			jsonw_int(w, d);
		else
			jsonw_null(w);
		jsonw_name(w, "explained_pct");
		if (comparable && e == EXPL_SHARE)
			jsonw_float(w, 100.0 * sums[i].count / d);
		else
			jsonw_null(w);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
}

void report__json_unaccounted(struct json_writer *w, const struct model_books *b)
{
	jsonw_name(w, "alloc_events_unaccounted");
	b ? jsonw_int(w, b->events_unaccounted) : jsonw_null(w);
	jsonw_name(w, "records_unaccounted");
	b ? jsonw_int(w, b->records_unaccounted) : jsonw_null(w);
}

/* The books' terms beyond the counters (model__books()); null where not kept. */
static void json_books(struct json_writer *w, const struct model *m)
{
	struct model_books b;
	bool kept = model__books(m, &b);

	jsonw_name(w, "outstanding");
	kept ? jsonw_uint(w, m->outstanding) : jsonw_null(w);
	jsonw_name(w, "books_slack");
	kept ? jsonw_uint(w, m->books_slack) : jsonw_null(w);
	report__json_unaccounted(w, kept ? &b : NULL);
}

static void json_not_seen(struct json_writer *w, const struct model *m)
{
	size_t n_ret_sites;
	int i;

	jsonw_name(w, "stats");
	jsonw_start_object(w);
	for (i = 0; i < STAT_MAX; i++)
		if (model__stat_shown(m, i))
			jsonw_uint_field(w, model__stat_name(i), m->stats[i]);
	jsonw_uint_field(w, "recursion_misses", m->recursion_misses);
	jsonw_uint_field(w, "unresolved_frames", m->unresolved_frames);
	/* derived, not a BPF counter: see model__alloc_events_left_out() */
	jsonw_uint_field(w, "alloc_events_left_out", model__alloc_events_left_out(m));
	jsonw_uint_field(w, "retired_in_sites", retired_in_sites(m, &n_ret_sites));
	jsonw_uint_field(w, "sites_losing_frees", n_ret_sites);
	json_books(w, m);
	jsonw_end_object(w);
}

int report__print(const struct model *m, const struct report_opts *o, FILE *out)
{
	struct cache_sum *sums = NULL;
	struct json_writer *w = NULL;
	struct prepared p;
	size_t i, n_sums = 0;
	int err;

	err = prepare(m, o, &p);
	if (err)
		return err;
	if (o->caches) {
		sums = calloc(m->n_sites ? m->n_sites : 1, sizeof(*sums));
		if (!sums) {
			free(p.rows);
			return -ENOMEM;
		}
		n_sums = sum_caches(m, p.scale, sums);
		qsort(sums, n_sums, sizeof(*sums), cmp_cache_sum);
	}
	if (o->json) {
		w = jsonw_new(out);
		if (!w) {
			err = -errno;
			goto out;
		}
		jsonw_start_object(w);
		jsonw_uint_field(w, "schema_version", KLEAK_JSON_SCHEMA);
		json_meta(w, m);
		jsonw_uint_field(w, "older_ms", o->older_ms);
		jsonw_uint_field(w, "sites_matching", p.n_match);
		jsonw_uint_field(w, "sites_holding", p.n_holding);
		jsonw_bool_field(w, "estimated", p.scale > 1);
		jsonw_name(w, "sites");
		jsonw_start_array(w);
		for (i = 0; i < p.n_rows; i++)
			json_site(w, m, o, &p, &p.rows[i]);
		jsonw_end_array(w);
		if (o->caches)
			json_caches(w, m, sums, n_sums);
		if (report_allocators__traced(m))
			report_allocators__json(w, m);
		held__json_run(w, m);
		json_not_seen(w, m);
		jsonw_end_object(w);
		jsonw_destroy(w);
	} else {
		text_header(m, o, &p, out);
		if (m->meta.interval_s)
			text_trend_legend(m, &p, out);
		for (i = 0; i < p.n_rows; i++)
			text_site(m, o, &p, &p.rows[i], i + 1, out);
		if (o->caches && n_sums)
			text_caches(m, sums, n_sums, out);
		if (report_allocators__traced(m))
			report_allocators__text(m, out);
		if (o->caches)
			held__text_caches(m, out);
		fputc('\n', out);
		report__print_not_seen(m, out);
	}
	err = fflush(out) ? -errno : 0;
out:
	free(sums);
	free(p.rows);
	return err;
}

int report__select(const struct model *m, const struct report_opts *o,
		   struct report_site **out, size_t *n)
{
	struct prepared p;
	size_t i;
	int err;

	err = prepare(m, o, &p);
	if (err)
		return err;
	*out = calloc(p.n_rows ? p.n_rows : 1, sizeof(**out));
	if (!*out) {
		free(p.rows);
		return -ENOMEM;
	}
	for (i = 0; i < p.n_rows; i++) {
		(*out)[i].s = p.rows[i].s;
		(*out)[i].count = p.rows[i].n_old;
		(*out)[i].bytes = p.rows[i].bytes_old;
	}
	*n = p.n_rows;
	free(p.rows);
	return 0;
}
