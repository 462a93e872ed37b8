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
#include "json.h"
#include "report.h"

struct row {
	const struct model_site *s;
	__u64 n_old;		/* outstanding allocations old enough to report */
	__u64 bytes_old;
};

struct prepared {
	struct row *rows;
	size_t n_rows;		/* after --top */
	size_t n_match;		/* before --top */
	__u64 scale;		/* --sample-rate: counts are estimates */
};

enum trend_kind {
	TREND_NONE,		/* fewer than two intervals */
	TREND_GROWING,		/* grew in every interval */
	TREND_VARYING,
};

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

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
		if (o->cache && strcmp(o->cache, s->cache))
			continue;
		r->s = s;
		r->n_old = model_site__count_older(s, o->older_ms) * p->scale;
		r->bytes_old = r->n_old * s->obj_size;
		if (r->n_old)
			p->n_match++;
	}
	qsort(p->rows, p->n_match, sizeof(*p->rows), cmp_row);
	p->n_rows = o->top && o->top < p->n_match ? o->top : p->n_match;
	return 0;
}

static enum trend_kind trend_of(const struct model_site *s, double *per_interval)
{
	size_t i;

	if (s->n_trend < 3)
		return TREND_NONE;
	*per_interval = (double)(s->trend[s->n_trend - 1] - s->trend[0]) / (s->n_trend - 1);
	for (i = 1; i < s->n_trend; i++)
		if (s->trend[i] <= s->trend[i - 1])
			return TREND_VARYING;
	return TREND_GROWING;
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

static void fmt_age(__u32 ms, char *buf, size_t len)
{
	if (ms < 60000)
		snprintf(buf, len, "%.1f s", ms / 1000.0);
	else
		snprintf(buf, len, "%02u:%02u:%02u", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60);
}

static __s64 slab_delta(const struct model *m, const char *cache, bool *found)
{
	size_t i;

	for (i = 0; i < m->n_slabs; i++) {
		if (!strcmp(m->slabs[i].name, cache)) {
			*found = true;
			return m->slabs[i].active_end - m->slabs[i].active_start;
		}
	}
	*found = false;
	return 0;
}

/* Per-cache totals over every site, in order of first appearance. */
struct cache_sum {
	const char *cache;
	__s64 count;
	__s64 bytes;
};

static size_t sum_caches(const struct model *m, struct cache_sum *sums)
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
		sums[j].count += s->count;
		sums[j].bytes += s->bytes;
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

static __u64 retired_total(const struct model *m, size_t *n_sites)
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

static void text_header(const struct model *m, const struct report_opts *o,
			const struct prepared *p, FILE *out)
{
	char start[32], end[32], older[32];

	fmt_time(m->meta.start_s, start, sizeof(start));
	fmt_time(m->meta.end_s, end, sizeof(end));
	fmt_age(o->older_ms, older, sizeof(older));
	fprintf(out, "kleak %s on %s (%s), attach %s\n", m->meta.version ?: "?",
		m->meta.kernel ?: "?", m->meta.hostname ?: "?", m->meta.attach ?: "?");
	fprintf(out, "filters: %s; run %s .. %s (%llu s)\n", m->meta.filters ?: "none", start,
		end, (unsigned long long)(m->meta.end_s - m->meta.start_s));
	if (p->scale > 1)
		fprintf(out, "sampled 1 in %llu: counts and bytes are estimates\n",
			(unsigned long long)p->scale);
	fprintf(out, "\n%zu of %zu sites with allocations outstanding for %s or more:\n",
		p->n_rows, p->n_match, older);
}

static void text_site(const struct model *m, const struct row *r, size_t rank, FILE *out)
{
	const struct model_site *s = r->s;
	char age[32];
	double per;
	size_t i;
	int c;

	fmt_age(s->n_ages ? s->ages_ms[0] : 0, age, sizeof(age));
	fprintf(out, "\n[%zu] %llu objects, %llu bytes in %s (%llu B each); %lld outstanding in "
		"all, oldest %s\n", rank, (unsigned long long)r->n_old,
		(unsigned long long)r->bytes_old, s->cache, (unsigned long long)s->obj_size,
		(long long)s->count, age);
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
	fprintf(out, " | %llu allocated, %llu retired (free never seen)\n",
		(unsigned long long)s->allocs, (unsigned long long)s->retired);
	switch (trend_of(s, &per)) {
	case TREND_GROWING:
		fprintf(out, "    trend %+.1f/interval, grew in each of %zu intervals: likely leak\n",
			per, s->n_trend - 1);
		break;
	case TREND_VARYING:
		fprintf(out, "    trend %+.1f/interval, rises and falls: cache or churn\n", per);
		break;
	case TREND_NONE:
		break;
	}
	if (s->stack_err) {
		fprintf(out, "\t[stack not captured: %s]\n", model__stack_err_str(s->stack_err));
		return;
	}
	for (i = 0; i < s->n_frames; i++) {
		if (s->frames[i].sym)
			fprintf(out, "\t%s\n", s->frames[i].sym);
		else
			fprintf(out, "\t0x%016llx\n", (unsigned long long)s->frames[i].addr);
	}
}

static void text_caches(const struct model *m, struct cache_sum *sums, size_t n, FILE *out)
{
	bool found;
	size_t i;

	fprintf(out, "\nper cache (all outstanding):\n  %-24s %10s %12s %16s %10s\n", "CACHE",
		"OBJECTS", "BYTES", "SLABINFO CHANGE", "EXPLAINED");
	for (i = 0; i < n; i++) {
		__s64 d = slab_delta(m, sums[i].cache, &found);

		fprintf(out, "  %-24s %10lld %12lld ", sums[i].cache, (long long)sums[i].count,
			(long long)sums[i].bytes);
		/* how much of the growth the user watched in slabinfo kleak accounts for */
		if (found && d > 0)
			fprintf(out, "%+16lld %9.0f%%\n", (long long)d, 100.0 * sums[i].count / d);
		else if (found)
			fprintf(out, "%+16lld %10s\n", (long long)d, "-");
		else
			fprintf(out, "%16s %10s\n", "-", "-");
	}
}

static void text_footer(const struct model *m, FILE *out)
{
	const __u64 *st = m->stats;
	size_t n_ret_sites;
	__u64 ret = retired_total(m, &n_ret_sites);

	fprintf(out, "\nnot seen: %llu allocations (allocs map full), %llu (map busy), "
		"%llu (sites map full); "
		"%llu stacks lost (%llu not stored, %llu walks failed); "
		"%llu frees never seen (address reallocated, %zu sites); "
		"%llu events dropped by recursion; %llu trace events dropped; "
		"%llu frames unresolved\n",
		(unsigned long long)st[STAT_ALLOC_MAP_FULL],
		(unsigned long long)st[STAT_ALLOC_MAP_BUSY],
		(unsigned long long)st[STAT_SITE_MAP_FULL],
		(unsigned long long)(st[STAT_STACK_MAP_FULL] + st[STAT_STACK_FAULT]),
		(unsigned long long)st[STAT_STACK_MAP_FULL],
		(unsigned long long)st[STAT_STACK_FAULT], (unsigned long long)ret, n_ret_sites,
		(unsigned long long)m->recursion_misses,
		(unsigned long long)st[STAT_EVENTS_DROPPED],
		(unsigned long long)m->unresolved_frames);
	fprintf(out, "seen: %llu allocation events, %llu recorded, %llu frees matched\n",
		(unsigned long long)st[STAT_ALLOC_EVENTS], (unsigned long long)st[STAT_ALLOCS],
		(unsigned long long)st[STAT_FREES]);
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

static void json_site(struct json_writer *w, const struct row *r)
{
	const struct model_site *s = r->s;
	char addr[24];
	double per = 0;
	enum trend_kind tk = trend_of(s, &per);
	size_t i;
	int c;

	jsonw_start_object(w);
	jsonw_string_field(w, "cache", s->cache);
	jsonw_uint_field(w, "object_size", s->obj_size);
	jsonw_uint_field(w, "count", r->n_old);
	jsonw_uint_field(w, "bytes", r->bytes_old);
	jsonw_int_field(w, "outstanding", s->count);
	jsonw_int_field(w, "outstanding_bytes", s->bytes);
	jsonw_uint_field(w, "allocated", s->allocs);
	jsonw_uint_field(w, "retired", s->retired);
	jsonw_uint_field(w, "retired_bytes", s->retired_bytes);
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
	if (tk != TREND_NONE) {
		jsonw_name(w, "trend");
		jsonw_start_object(w);
		jsonw_float_field(w, "per_interval", per);
		jsonw_bool_field(w, "grew_every_interval", tk == TREND_GROWING);
		jsonw_name(w, "counts");
		jsonw_start_array(w);
		for (i = 0; i < s->n_trend; i++)
			jsonw_int(w, s->trend[i]);
		jsonw_end_array(w);
		jsonw_end_object(w);
	}
	if (s->stack_err)
		jsonw_string_field(w, "stack_error", model__stack_err_str(s->stack_err));
	jsonw_name(w, "frames");
	jsonw_start_array(w);
	for (i = 0; i < s->n_frames; i++) {
		snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)s->frames[i].addr);
		jsonw_start_object(w);
		jsonw_string_field(w, "addr", addr);
		jsonw_string_field(w, "sym", s->frames[i].sym);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
	jsonw_end_object(w);
}

static void json_caches(struct json_writer *w, const struct model *m, struct cache_sum *sums,
			size_t n)
{
	bool found;
	size_t i;

	jsonw_name(w, "caches");
	jsonw_start_array(w);
	for (i = 0; i < n; i++) {
		__s64 d = slab_delta(m, sums[i].cache, &found);

		jsonw_start_object(w);
		jsonw_string_field(w, "cache", sums[i].cache);
		jsonw_int_field(w, "count", sums[i].count);
		jsonw_int_field(w, "bytes", sums[i].bytes);
		jsonw_name(w, "slabinfo_change");
		if (found)
			jsonw_int(w, d);
		else
			jsonw_null(w);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
}

static void json_not_seen(struct json_writer *w, const struct model *m)
{
	size_t n_ret_sites;
	int i;

	jsonw_name(w, "stats");
	jsonw_start_object(w);
	for (i = 0; i < STAT_MAX; i++)
		jsonw_uint_field(w, model__stat_name(i), m->stats[i]);
	jsonw_uint_field(w, "recursion_misses", m->recursion_misses);
	jsonw_uint_field(w, "unresolved_frames", m->unresolved_frames);
	jsonw_uint_field(w, "retired_in_sites", retired_total(m, &n_ret_sites));
	jsonw_uint_field(w, "sites_losing_frees", n_ret_sites);
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
		n_sums = sum_caches(m, sums);
		qsort(sums, n_sums, sizeof(*sums), cmp_cache_sum);
	}
	if (o->json) {
		w = jsonw_new(out);
		if (!w) {
			err = -errno;
			goto out;
		}
		jsonw_start_object(w);
		json_meta(w, m);
		jsonw_uint_field(w, "older_ms", o->older_ms);
		jsonw_uint_field(w, "sites_matching", p.n_match);
		jsonw_bool_field(w, "estimated", p.scale > 1);
		jsonw_name(w, "sites");
		jsonw_start_array(w);
		for (i = 0; i < p.n_rows; i++)
			json_site(w, &p.rows[i]);
		jsonw_end_array(w);
		if (o->caches)
			json_caches(w, m, sums, n_sums);
		json_not_seen(w, m);
		jsonw_end_object(w);
		jsonw_destroy(w);
	} else {
		text_header(m, o, &p, out);
		for (i = 0; i < p.n_rows; i++)
			text_site(m, &p.rows[i], i + 1, out);
		if (o->caches && n_sums)
			text_caches(m, sums, n_sums, out);
		text_footer(m, out);
	}
	err = fflush(out) ? -errno : 0;
out:
	free(sums);
	free(p.rows);
	return err;
}
