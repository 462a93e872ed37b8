// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The report model as Prometheus text-format metrics for node_exporter's
 * textfile collector (see metrics.h for the series and their bounds).
 * Outstanding objects are the kernel's per-site totals, of any age (--older
 * does not apply: a gauge that leaves out the young objects would fall each
 * time a burst ages in), scaled by the sample rate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "diff.h"
#include "held.h"
#include "log.h"
#include "metrics.h"
#include "outfile.h"

#define OTHER_COMMS "(other)"
#define STR(x) #x
#define XSTR(x) STR(x)
#define NO_STACK "(no stack)"
#define NO_FRAME "-"

/* One series of a per-cache, per-comm or per-site family, before it is printed. */
struct series {
	const char *cache;
	const char *comm;
	char *function;		/* site series own their frame names */
	char *caller;
	__u64 objects;
	__u64 bytes;
};

struct series_set {
	struct series *v;
	size_t n, cap;
};

static struct series *series_add(struct series_set *set)
{
	struct series *grown;

	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 64;
		grown = realloc(set->v, set->cap * sizeof(*grown));
		if (!grown)
			return NULL;
		set->v = grown;
	}
	memset(&set->v[set->n], 0, sizeof(set->v[0]));
	return &set->v[set->n++];
}

static void series_free(struct series_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		free(set->v[i].function);
		free(set->v[i].caller);
	}
	free(set->v);
}

static int strcmp_null(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) : (a != NULL) - (b != NULL);
}

static int cmp_key(const void *a, const void *b)
{
	const struct series *x = a, *y = b;
	int c;

	if ((c = strcmp_null(x->cache, y->cache)) || (c = strcmp_null(x->comm, y->comm)) ||
	    (c = strcmp_null(x->function, y->function)))
		return c;
	return strcmp_null(x->caller, y->caller);
}

/* Largest first; equal ones by key, so that the file is the same for the same model. */
static int cmp_bytes(const void *a, const void *b)
{
	const struct series *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->objects != y->objects)
		return x->objects > y->objects ? -1 : 1;
	return cmp_key(a, b);
}

/* Sums the series of equal keys into one; the set stays sorted by key. */
static void series_merge(struct series_set *set)
{
	size_t i, n = 0;

	qsort(set->v, set->n, sizeof(set->v[0]), cmp_key);
	for (i = 0; i < set->n; i++) {
		if (n && !cmp_key(&set->v[n - 1], &set->v[i])) {
			set->v[n - 1].objects += set->v[i].objects;
			set->v[n - 1].bytes += set->v[i].bytes;
			free(set->v[i].function);
			free(set->v[i].caller);
			continue;
		}
		set->v[n++] = set->v[i];
	}
	set->n = n;
}

/*
 * The first two frames of s outside its allocator, as kleak diff names
 * frames ("func [module]", no offset or compiler suffix): stable across
 * boots, kernels and hosts, and few per cache.
 */
static int site_frames(const struct model_site *s, char **function, char **caller)
{
	char *keys[2] = {};
	size_t i, n = 0;
	char *k;

	for (i = 0; !s->stack_err && i < s->n_frames && n < 2; i++) {
		k = diff__frame_key(s->frames[i].sym, kleak_allocator_of(s->kind));
		if (!k)
			goto nomem;
		if (!n && !strcmp(k, DIFF_ALLOCATOR)) {
			free(k);
			continue;
		}
		keys[n++] = k;
	}
	*function = keys[0] ? keys[0] : strdup(s->stack_err ? NO_STACK : NO_FRAME);
	*caller = keys[1] ? keys[1] : strdup(NO_FRAME);
	if (*function && *caller)
		return 0;
	free(*function);
	free(*caller);
	return -ENOMEM;
nomem:
	free(keys[0]);
	return -ENOMEM;
}

/* The per-cache, per-comm and per-site series of m, merged and ranked. */
static int collect(const struct model *m, struct series_set *caches, struct series_set *comms,
		   struct series_set *sites)
{
	__u64 k = m->meta.sample_rate > 1 ? m->meta.sample_rate : 1;
	struct series *c, other = {};
	size_t i, j;
	__u64 named;
	int err;

	for (i = 0; i < m->n_sites; i++) {
		const struct model_site *s = &m->sites[i];
		__u64 objects = s->count > 0 ? (__u64)s->count * k : 0;

		if (!objects)
			continue;
		c = series_add(caches);
		if (!c)
			return -ENOMEM;
		c->cache = s->cache;
		c->objects = objects;
		c->bytes = objects * s->obj_size;
		c = series_add(sites);
		if (!c)
			return -ENOMEM;
		*c = caches->v[caches->n - 1];
		err = site_frames(s, &c->function, &c->caller);
		if (err) {
			sites->n--;
			return err;
		}
		/* the site's three top comms by name, its other records as one more */
		named = 0;
		for (j = 0; j < s->n_comms; j++) {
			c = series_add(comms);
			if (!c)
				return -ENOMEM;
			c->comm = s->comms[j].comm;
			c->objects = s->comms[j].count * k;
			c->bytes = c->objects * s->obj_size;
			named += s->comms[j].count;
		}
		if (s->n_ages > named) {
			c = series_add(comms);
			if (!c)
				return -ENOMEM;
			c->comm = OTHER_COMMS;
			c->objects = (s->n_ages - named) * k;
			c->bytes = c->objects * s->obj_size;
		}
	}
	series_merge(caches);
	series_merge(sites);
	qsort(sites->v, sites->n, sizeof(sites->v[0]), cmp_bytes);
	series_merge(comms);
	qsort(comms->v, comms->n, sizeof(comms->v[0]), cmp_bytes);
	/* past the top comms, everything is "(other)"; comm series own no strings */
	other.comm = OTHER_COMMS;
	for (i = 0, j = 0; i < comms->n; i++) {
		c = &comms->v[i];
		if (strcmp(c->comm, OTHER_COMMS) && j < METRICS_TOP_COMMS) {
			comms->v[j++] = *c;
			continue;
		}
		other.objects += c->objects;
		other.bytes += c->bytes;
	}
	/* something was folded, so there is room */
	if (other.objects)
		comms->v[j++] = other;
	comms->n = j;
	return 0;
}

/*
 * A label value: the format escapes only backslash, quote and newline, and
 * must be UTF-8. Comms and symbols are bytes: other control bytes and bytes
 * that are not part of a valid UTF-8 sequence become '?'.
 */
static void put_value(const char *v, FILE *out)
{
	const unsigned char *p = (const unsigned char *)(v ? v : "");
	size_t len, i;

	while (*p) {
		if (*p == '\\' || *p == '"') {
			fputc('\\', out);
			fputc(*p++, out);
			continue;
		}
		if (*p == '\n') {
			fputs("\\n", out);
			p++;
			continue;
		}
		if (*p < 0x80) {
			fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
			p++;
			continue;
		}
		len = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
		for (i = 1; len && i < len; i++)
			if ((p[i] & 0xc0) != 0x80)
				len = 0;
		/* overlong two-byte forms (0xc0, 0xc1) are not UTF-8 either */
		if (len == 2 && *p < 0xc2)
			len = 0;
		if (!len) {
			fputc('?', out);
			p++;
			continue;
		}
		fwrite(p, 1, len, out);
		p += len;
	}
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *out, const char *name, __u64 v)
{
	fprintf(out, "%s %llu\n", name, (unsigned long long)v);
}

static void label_sample(FILE *out, const char *name, const char *label, const char *value,
			 __u64 v)
{
	fprintf(out, "%s{%s=\"", name, label);
	put_value(value, out);
	fprintf(out, "\"} %llu\n", (unsigned long long)v);
}

/* A family of objects and one of bytes over a series set, n series at most. */
static void series_families(FILE *out, const char *what, const char *help,
			    const struct series_set *set, size_t n)
{
	static const char *const units[] = { "objects", "bytes" };
	char name[64];
	size_t i, u;

	for (u = 0; u < 2; u++) {
		snprintf(name, sizeof(name), "kleak_%s_outstanding_%s", what, units[u]);
		fprintf(out, "# HELP %s Outstanding %s (any age) %s.\n# TYPE %s gauge\n", name,
			units[u], help, name);
		for (i = 0; i < n && i < set->n; i++) {
			const struct series *s = &set->v[i];
			__u64 v = u ? s->bytes : s->objects;

			fputs(name, out);
			if (s->function) {
				fputs("{cache=\"", out);
				put_value(s->cache, out);
				fputs("\",function=\"", out);
				put_value(s->function, out);
				fputs("\",caller=\"", out);
				put_value(s->caller, out);
				fprintf(out, "\"} %llu\n", (unsigned long long)v);
			} else if (s->comm) {
				fputs("{comm=\"", out);
				put_value(s->comm, out);
				fprintf(out, "\"} %llu\n", (unsigned long long)v);
			} else {
				fputs("{cache=\"", out);
				put_value(s->cache, out);
				fprintf(out, "\"} %llu\n", (unsigned long long)v);
			}
		}
	}
}

/*
 * Who holds the objects of each classified cache: every class of its kind,
 * so that a class holding nothing reads 0 rather than vanishing.
 */
static void held_family(const struct model *m, FILE *out)
{
	static const char name[] = "kleak_held_objects";
	__u64 k = m->meta.sample_rate > 1 ? m->meta.sample_rate : 1;
	struct held_cache c[HELD_CACHES];
	size_t n = held__per_cache(m, c), i;
	int h;

	if (!n)
		return;
	family(out, name, "gauge",
	       "Outstanding objects (any age) of a classified cache by who holds them.");
	for (i = 0; i < n; i++) {
		for (h = 0; h < HELD_MAX; h++) {
			if (!c[i].counts[h] && !held__of_kind(h, c[i].kind))
				continue;
			fputs(name, out);
			fputs("{cache=\"", out);
			put_value(c[i].cache, out);
			fprintf(out, "\",class=\"%s\"} %llu\n", model__held_name(h),
				(unsigned long long)(c[i].counts[h] * k));
		}
	}
}

/*
 * The aliases of each merged cache holding objects: its cache label names
 * one struct kmem_cache created under several names, any of which the
 * objects may be. An info series, so the cache label stays one value.
 */
static void merged_info(const struct model *m, const struct series_set *caches, FILE *out)
{
	const struct model_merged *g;
	bool header = false;
	size_t i, j;

	for (i = 0; i < caches->n; i++) {
		g = model__merged_of(m, caches->v[i].cache);
		if (!g)
			continue;
		if (!header)
			family(out, "kleak_cache_merged_info", "gauge",
			       "A merged slab cache and its aliases, comma-separated.");
		header = true;
		fputs("kleak_cache_merged_info{cache=\"", out);
		put_value(caches->v[i].cache, out);
		fputs("\",aliases=\"", out);
		for (j = 0; j < g->n_aliases; j++) {
			if (j)
				fputc(',', out);
			put_value(g->aliases[j], out);
		}
		fputs("\"} 1\n", out);
	}
}

static void counters(const struct model *m, FILE *out)
{
	static const struct {
		int stat;
		const char *name, *help;
	} events[] = {
		{ STAT_ALLOC_EVENTS, "kleak_alloc_events_total",
		  "Allocation events seen, before any filter." },
		{ STAT_ALLOCS, "kleak_allocs_recorded_total",
		  "Allocations that passed the filters and were recorded." },
		{ STAT_SAMPLED_OUT, "kleak_sampled_out_total",
		  "Allocations that passed the filters, skipped by --sample-rate." },
		{ STAT_FREES, "kleak_frees_matched_total",
		  "Frees matched to a recorded allocation." },
		{ STAT_REALLOC_RETIRED, "kleak_frees_unseen_total",
		  "Records retired because their address was allocated again (a free without a "
		  "kmem event)." },
	};
	/* the causes of the report's "not seen:" line, by the names saved runs use */
	static const int not_seen[] = {
		STAT_ALLOC_MAP_FULL, STAT_ALLOC_MAP_BUSY, STAT_SITE_MAP_FULL,
		STAT_STACK_MAP_FULL, STAT_STACK_FAULT, STAT_TRACKED_FULL,
		STAT_EVENTS_DROPPED, STAT_IRQ_NOT_ATTRIBUTED,
	};
	size_t i;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		family(out, events[i].name, "counter", events[i].help);
		sample(out, events[i].name, m->stats[events[i].stat]);
	}
	family(out, "kleak_not_seen_total", "counter",
	       "What kleak could not see, by cause (the report's not seen: line).");
	for (i = 0; i < sizeof(not_seen) / sizeof(not_seen[0]); i++)
		label_sample(out, "kleak_not_seen_total", "reason", model__stat_name(not_seen[i]),
			     m->stats[not_seen[i]]);
	label_sample(out, "kleak_not_seen_total", "reason", "recursion_misses",
		     m->recursion_misses);
	family(out, "kleak_unresolved_frames", "gauge",
	       "Frames of the outstanding sites kallsyms could not resolve.");
	sample(out, "kleak_unresolved_frames", m->unresolved_frames);
}

/* kleak's own health: how busy, how full its maps are. */
static void health(const struct model *m, FILE *out)
{
	__u64 span = m->meta.end_s > m->meta.start_s ? m->meta.end_s - m->meta.start_s : 0;
	__u64 records = 0;
	size_t i;

	for (i = 0; i < m->n_sites; i++)
		records += m->sites[i].n_ages;
	family(out, "kleak_start_time_seconds", "gauge", "When the run started, since the epoch.");
	sample(out, "kleak_start_time_seconds", m->meta.start_s);
	family(out, "kleak_report_time_seconds", "gauge",
	       "When these metrics were taken, since the epoch.");
	sample(out, "kleak_report_time_seconds", m->meta.end_s);
	family(out, "kleak_alloc_events_per_second", "gauge",
	       "Allocation events per second, averaged over the run.");
	fprintf(out, "kleak_alloc_events_per_second %.1f\n",
		span ? (double)m->stats[STAT_ALLOC_EVENTS] / span : 0.0);
	family(out, "kleak_allocs_map_records", "gauge",
	       "Outstanding allocations recorded in the allocs map.");
	sample(out, "kleak_allocs_map_records", records);
	if (m->meta.max_allocs) {
		family(out, "kleak_allocs_map_fill_ratio", "gauge",
		       "Recorded allocations over --max-allocs.");
		fprintf(out, "kleak_allocs_map_fill_ratio %.6f\n",
			(double)records / m->meta.max_allocs);
	}
	if (m->meta.max_sites) {
		family(out, "kleak_sites_map_fill_ratio", "gauge",
		       "Sites (stack and cache) created over --max-sites.");
		fprintf(out, "kleak_sites_map_fill_ratio %.6f\n",
			(double)m->sites_used / m->meta.max_sites);
	}
}

int metrics__print(const struct model *m, size_t top_sites, FILE *out)
{
	struct series_set caches = {}, comms = {}, sites = {};
	__u64 objects = 0, bytes = 0;
	size_t i;
	int err;

	err = collect(m, &caches, &comms, &sites);
	if (err)
		goto out;
	for (i = 0; i < caches.n; i++) {
		objects += caches.v[i].objects;
		bytes += caches.v[i].bytes;
	}
	fputs("# HELP kleak_info The kleak run these metrics come from.\n"
	      "# TYPE kleak_info gauge\nkleak_info{version=\"", out);
	put_value(m->meta.version, out);
	fputs("\",kernel=\"", out);
	put_value(m->meta.kernel, out);
	fputs("\",programs=\"", out);
	put_value(m->meta.attach, out);
	fputs("\",filters=\"", out);
	put_value(m->meta.filters, out);
	fputs("\"} 1\n", out);
	family(out, "kleak_outstanding_objects", "gauge", "Outstanding objects (any age).");
	sample(out, "kleak_outstanding_objects", objects);
	family(out, "kleak_outstanding_bytes", "gauge", "Outstanding bytes (any age).");
	sample(out, "kleak_outstanding_bytes", bytes);
	series_families(out, "cache", "per slab cache", &caches, caches.n);
	series_families(out, "comm",
			"per allocating comm, the " XSTR(METRICS_TOP_COMMS) " holding most and (other)",
			&comms, comms.n);
	/* a fleet's series stay bounded whatever --top the report uses */
	if (!top_sites || top_sites > METRICS_TOP_SITES)
		top_sites = METRICS_TOP_SITES;
	series_families(out, "site",
			"of the top sites (at most " XSTR(METRICS_TOP_SITES) "): cache and the "
			"first two frames outside the allocator", &sites, top_sites);
	merged_info(m, &caches, out);
	held_family(m, out);
	counters(m, out);
	health(m, out);
	if (ferror(out))
		err = -EIO;
out:
	series_free(&caches);
	series_free(&comms);
	series_free(&sites);
	return err;
}

int metrics__write(const struct model *m, size_t top_sites, const char *path)
{
	struct outfile of;
	int err;

	/* node_exporter reads it as its own user: --file-mode 0644 lets it */
	err = outfile__open(&of, path);
	if (err)
		goto out;
	err = metrics__print(m, top_sites, of.f);
	if (err)
		outfile__abort(&of);
	else
		err = outfile__commit(&of);
out:
	if (err)
		pr_err("failed to write metrics %s: %s", path, strerror(-err));
	return err;
}
