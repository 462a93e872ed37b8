// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The object classes of a model (who holds each task_struct, file and
 * socket, see classify.c) as report text and JSON: a header line, a line
 * per site with examples, a per-cache table. Counted over the objects a
 * report shows (at least --older old), from each site's held array.
 */
#include <stdio.h>
#include <string.h>
#include "classify.h"
#include "held.h"

/* What each class means, in a few words, for the text report. */
static const char *const held_meaning[HELD_MAX] = {
	[HELD_UNKNOWN] = "not classified",
	[HELD_LIVE] = "in the task list",
	[HELD_ZOMBIE] = "exited, not reaped",
	[HELD_REAPED] = "in no task list: held by a kernel reference",
	[HELD_FD] = "in an fd table",
	[HELD_NO_FD] = "in no fd table: held by the kernel",
	[HELD_ORPHAN] = "socket orphaned by close, still in the kernel",
	[HELD_GONE] = "freed while kleak looked",
	[HELD_MAPPED] = "in no fd table, mapped by a process",
	[HELD_MERGED] = "not classified: in a merged cache, found by no walk",
};

void held__count(const struct model_site *s, size_t n, __u64 *counts)
{
	size_t i;

	memset(counts, 0, HELD_MAX * sizeof(*counts));
	for (i = 0; s->held && i < n && i < s->n_ages; i++)
		if (s->held[i] < HELD_MAX)
			counts[s->held[i]]++;
}

bool held__of_kind(int held, int kind)
{
	switch (kind) {
	case KLEAK_OBJ_TASK:
		return held == HELD_LIVE || held == HELD_ZOMBIE || held == HELD_REAPED;
	case KLEAK_OBJ_FILE:
		return held == HELD_FD || held == HELD_MAPPED || held == HELD_NO_FD;
	case KLEAK_OBJ_SOCK:
		return held == HELD_FD || held == HELD_NO_FD || held == HELD_ORPHAN;
	case KLEAK_OBJ_SOCKET:
		return held == HELD_FD || held == HELD_NO_FD;
	}
	return false;
}

/* Objects of the sites not classified, and per class of those that were. */
static __u64 run_counts(const struct model *m, __u64 *counts)
{
	__u64 site[HELD_MAX], other = 0;
	size_t i;
	int h;

	memset(counts, 0, HELD_MAX * sizeof(*counts));
	for (i = 0; i < m->n_sites; i++) {
		const struct model_site *s = &m->sites[i];

		if (!s->held) {
			other += s->n_ages;
			continue;
		}
		held__count(s, s->n_ages, site);
		for (h = 0; h < HELD_MAX; h++)
			counts[h] += site[h];
	}
	return other;
}

void held__text_header(const struct model *m, FILE *out)
{
	__u64 counts[HELD_MAX], other;

	if (!m->held_kinds && !m->held_missing)
		return;
	other = run_counts(m, counts);
	fprintf(out, "held by (who holds each outstanding object, at report time): ");
	if (m->held_kinds)
		fprintf(out, "classified %s", m->held_kinds);
	else
		fputs("nothing classified", out);
	fprintf(out, "; not classified: %llu freed while kleak looked, %llu that no walk could "
		"place, ", (unsigned long long)counts[HELD_GONE],
		(unsigned long long)counts[HELD_UNKNOWN]);
	if (counts[HELD_MERGED])
		fprintf(out, "%llu in merged caches that no walk found, ",
			(unsigned long long)counts[HELD_MERGED]);
	fprintf(out, "%llu of other caches\n", (unsigned long long)other);
	if (m->held_missing)
		fprintf(out, "held by: %s\n", m->held_missing);
}

static void text_example(const struct model_object *e, FILE *out)
{
	fprintf(out, "      %s:", model__held_name(e->held));
	if (e->comm[0])
		fprintf(out, " pid %u tgid %u comm %s", e->pid, e->tgid, e->comm);
	else if (e->fd >= 0)
		fprintf(out, " pid %u fd %d", e->pid, e->fd);
	else if (e->held == HELD_MAPPED && e->map_end)
		fprintf(out, " pid %u at 0x%llx-0x%llx", e->pid, (unsigned long long)e->map_start,
			(unsigned long long)e->map_end);
	else if (e->held == HELD_MAPPED)
		fprintf(out, " pid %u executable", e->pid);
	if (e->last_ran_ms >= 0)
		fprintf(out, ", last ran %.1f s ago", e->last_ran_ms / 1000.0);
	if (e->desc)
		fprintf(out, " %s", e->desc);
	if (e->count)
		fprintf(out, ", f_count %llu", (unsigned long long)e->count);
	fputc('\n', out);
}

/*
 * Whether example i of s is among its n oldest objects: a site's examples
 * are the oldest of their class (classify.c), so the k-th of a class is
 * when the n oldest hold more than k of that class.
 */
static bool example_shown(const struct model_site *s, size_t i, const __u64 *counts)
{
	size_t j, k = 0;

	for (j = 0; j < i; j++)
		k += s->examples[j].held == s->examples[i].held;
	return s->examples[i].held < HELD_MAX && k < counts[s->examples[i].held];
}

void held__text_site(const struct model_site *s, size_t n, FILE *out)
{
	__u64 counts[HELD_MAX];
	bool first = true;
	size_t i;
	int h;

	if (!s->held)
		return;
	held__count(s, n, counts);
	fputs("    held by:", out);
	for (h = 1; h < HELD_MAX; h++) {
		if (!counts[h])
			continue;
		fprintf(out, "%s %llu %s (%s)", first ? "" : ",", (unsigned long long)counts[h],
			model__held_name(h), held_meaning[h]);
		first = false;
	}
	if (counts[HELD_UNKNOWN])
		fprintf(out, "%s %llu not classified", first ? "" : ",",
			(unsigned long long)counts[HELD_UNKNOWN]);
	fputc('\n', out);
	for (i = 0; i < s->n_examples; i++)
		if (example_shown(s, i, counts))
			text_example(&s->examples[i], out);
}

size_t held__per_cache(const struct model *m, struct held_cache *c)
{
	__u64 site[HELD_MAX];
	size_t i, j, n = 0;
	enum classify_scope scope;
	int h;

	for (i = 0; i < m->n_sites; i++) {
		const struct model_site *s = &m->sites[i];

		if (!s->held)
			continue;
		for (j = 0; j < n && strcmp(c[j].cache, s->cache); j++)
			;
		if (j == n && n == HELD_CACHES)
			continue;
		if (j == n) {
			memset(&c[n], 0, sizeof(c[n]));
			c[n].kind = classify__site_kind(m, s, &scope);
			c[n++].cache = s->cache;
		}
		held__count(s, s->n_ages, site);
		for (h = 0; h < HELD_MAX; h++)
			c[j].counts[h] += site[h];
	}
	return n;
}

void held__text_caches(const struct model *m, FILE *out)
{
	struct held_cache c[HELD_CACHES];
	size_t n, i;
	int h;

	n = held__per_cache(m, c);
	if (!n)
		return;
	fprintf(out, "\nheld by, per cache (all outstanding, any age):\n");
	for (i = 0; i < n; i++) {
		fprintf(out, "  %-24s", c[i].cache);
		for (h = 0; h < HELD_MAX; h++)
			if (c[i].counts[h])
				fprintf(out, " %s %llu", model__held_name(h),
					(unsigned long long)c[i].counts[h]);
		fputc('\n', out);
	}
}

static void json_counts(struct json_writer *w, const __u64 *counts)
{
	int h;

	jsonw_start_object(w);
	for (h = 0; h < HELD_MAX; h++)
		if (counts[h])
			jsonw_uint_field(w, model__held_name(h), counts[h]);
	jsonw_end_object(w);
}

/* A mapped file's mapping: its address range, or that it is the executable. */
static void json_mapping(struct json_writer *w, const struct model_object *e)
{
	char buf[24];

	if (!e->map_end) {
		jsonw_bool_field(w, "executable", true);
		return;
	}
	/* hex strings: a JSON number loses the low bits of a user address */
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)e->map_start);
	jsonw_string_field(w, "start", buf);
	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)e->map_end);
	jsonw_string_field(w, "end", buf);
}

void held__json_site(struct json_writer *w, const struct model_site *s, size_t n)
{
	__u64 counts[HELD_MAX];
	size_t i;

	if (!s->held)
		return;
	held__count(s, n, counts);
	jsonw_name(w, "held_by");
	json_counts(w, counts);
	jsonw_name(w, "held_examples");
	jsonw_start_array(w);
	for (i = 0; i < s->n_examples; i++) {
		const struct model_object *e = &s->examples[i];

		if (!example_shown(s, i, counts))
			continue;
		jsonw_start_object(w);
		jsonw_string_field(w, "class", model__held_name(e->held));
		if (e->pid)
			jsonw_uint_field(w, "pid", e->pid);
		if (e->tgid)
			jsonw_uint_field(w, "tgid", e->tgid);
		if (e->fd >= 0)
			jsonw_int_field(w, "fd", e->fd);
		if (e->held == HELD_MAPPED)
			json_mapping(w, e);
		if (e->comm[0])
			jsonw_string_field(w, "comm", e->comm);
		if (e->last_ran_ms >= 0)
			jsonw_float_field(w, "last_ran_s", e->last_ran_ms / 1000.0);
		if (e->desc)
			jsonw_string_field(w, "desc", e->desc);
		if (e->count)
			jsonw_uint_field(w, "references", e->count);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
}

void held__json_run(struct json_writer *w, const struct model *m)
{
	struct held_cache c[HELD_CACHES];
	__u64 counts[HELD_MAX], other;
	size_t n, i;

	if (!m->held_kinds && !m->held_missing)
		return;
	other = run_counts(m, counts);
	jsonw_name(w, "held_by");
	jsonw_start_object(w);
	if (m->held_kinds)
		jsonw_string_field(w, "classified", m->held_kinds);
	else
		jsonw_name(w, "classified"), jsonw_null(w);
	if (m->held_missing)
		jsonw_string_field(w, "missing", m->held_missing);
	jsonw_uint_field(w, "gone", counts[HELD_GONE]);
	jsonw_uint_field(w, "unknown", counts[HELD_UNKNOWN]);
	jsonw_uint_field(w, "merged", counts[HELD_MERGED]);
	jsonw_uint_field(w, "other_caches", other);
	jsonw_name(w, "classes");
	json_counts(w, counts);
	jsonw_name(w, "caches");
	jsonw_start_object(w);
	n = held__per_cache(m, c);
	for (i = 0; i < n; i++) {
		jsonw_name(w, c[i].cache);
		json_counts(w, c[i].counts);
	}
	jsonw_end_object(w);
	jsonw_end_object(w);
}

static bool has_cache(const struct held_cache *c, size_t n, const char *cache)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(c[i].cache, cache))
			return true;
	return false;
}

/* The class counts of cache in c[n], zero where the run has none. */
static const __u64 *counts_of(const struct held_cache *c, size_t n, const char *cache)
{
	static const __u64 none[HELD_MAX];
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(c[i].cache, cache))
			return c[i].counts;
	return none;
}

/*
 * Calls fn for every cache and class either run has objects of, in A's
 * cache order then B's new ones.
 */
static void diff_rows(const struct model *a, const struct model *b, const char *cache,
		      void (*fn)(void *arg, const char *cache, int held, __u64 na, __u64 nb),
		      void *arg)
{
	struct held_cache ca[HELD_CACHES], cb[HELD_CACHES];
	size_t na = held__per_cache(a, ca), nb = held__per_cache(b, cb), i;
	const __u64 *x, *y;
	int h;

	for (i = 0; i < na + nb; i++) {
		const char *name = i < na ? ca[i].cache : cb[i - na].cache;

		/* a cache of B that A has too was done with A's */
		if (i >= na && has_cache(ca, na, name))
			continue;
		if (cache && strcmp(cache, name))
			continue;
		x = counts_of(ca, na, name);
		y = counts_of(cb, nb, name);
		for (h = 0; h < HELD_MAX; h++)
			if (x[h] || y[h])
				fn(arg, name, h, x[h], y[h]);
	}
}

static void text_diff_row(void *arg, const char *cache, int held, __u64 na, __u64 nb)
{
	FILE *out = arg;

	fprintf(out, "  %-24s %-8s %10llu %10llu %+11lld\n", cache, model__held_name(held),
		(unsigned long long)na, (unsigned long long)nb, (long long)nb - (long long)na);
}

void held__diff_text(const struct model *a, const struct model *b, const char *cache, FILE *out)
{
	if (!a->held_kinds && !b->held_kinds)
		return;
	fprintf(out, "\nheld by, per cache and class (all outstanding, any age; see kleak "
		"report for what each class means):\n  %-24s %-8s %10s %10s %11s\n", "CACHE",
		"CLASS", "A", "B", "DELTA");
	diff_rows(a, b, cache, text_diff_row, out);
}

static void json_diff_row(void *arg, const char *cache, int held, __u64 na, __u64 nb)
{
	struct json_writer *w = arg;

	jsonw_start_object(w);
	jsonw_string_field(w, "cache", cache);
	jsonw_string_field(w, "class", model__held_name(held));
	jsonw_uint_field(w, "a", na);
	jsonw_uint_field(w, "b", nb);
	jsonw_int_field(w, "delta", (__s64)nb - (__s64)na);
	jsonw_end_object(w);
}

void held__diff_json(struct json_writer *w, const struct model *a, const struct model *b,
		     const char *cache)
{
	if (!a->held_kinds && !b->held_kinds)
		return;
	jsonw_name(w, "held_by");
	jsonw_start_array(w);
	diff_rows(a, b, cache, json_diff_row, w);
	jsonw_end_array(w);
}
