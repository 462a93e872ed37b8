// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Two runs compared site by site and cache by cache; see diff.h for how
 * sites are matched. Prepare (key, merge, sort) then print, text or JSON,
 * from the same rows.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "diff.h"
#include "json.h"
#include "log.h"

#define NO_STACK "[stack not captured]"
#define UNRESOLVED "?"

/* One site of one run, under its matching key. */
struct diff_item {
	const char *cache;
	size_t n_frames;
	char **frames;
	int run;		/* 0 for A, 1 for B */
	__s64 count;
	__s64 bytes;
};

/* A key with its totals in both runs: a site, or a cache when frames is unused. */
struct diff_row {
	const char *cache;
	size_t n_frames;
	char **frames;
	bool seen[2];
	__s64 count[2];
	__s64 bytes[2];
};

struct diff_data {
	size_t n_items;
	struct diff_item *items;
	size_t n_sites;
	struct diff_row *sites;
	size_t n_sites_total;	/* before --min-delta and --top */
	size_t n_caches;
	struct diff_row *caches;
	struct diff_row total;
};

/*
 * Whether a counter says the run missed allocations, shown so a diff is not
 * over-trusted: every counter except the ones counting what was seen. Named
 * by exclusion so a counter added later is shown rather than forgotten.
 */
static bool is_loss_stat(int stat)
{
	switch (stat) {
	case STAT_ALLOC_EVENTS:
	case STAT_ALLOCS:
	case STAT_SAMPLED_OUT:
	case STAT_FREES:
	case STAT_REALLOC_RETIRED:
	case STAT_EVENTS_DROPPED:
		return false;
	default:
		return true;
	}
}

/* "func+0x1a/0x80 [mod]" -> "func [mod]"; NULL (unresolved) -> "?". */
static char *strip_offset(const char *sym)
{
	const char *plus, *rest;
	char *s;

	if (!sym)
		return strdup(UNRESOLVED);
	plus = strchr(sym, '+');
	if (!plus)
		return strdup(sym);
	rest = strchr(plus, ' ');
	if (!rest)
		rest = plus + strlen(plus);
	s = malloc((plus - sym) + strlen(rest) + 1);
	if (!s)
		return NULL;
	memcpy(s, sym, plus - sym);
	strcpy(s + (plus - sym), rest);
	return s;
}

static int add_items(struct diff_data *d, const struct model *m, int run)
{
	size_t i, j;

	for (i = 0; i < m->n_sites; i++) {
		const struct model_site *s = &m->sites[i];
		struct diff_item *it = &d->items[d->n_items];
		size_t n = s->stack_err ? 1 : s->n_frames;

		it->cache = s->cache;
		it->run = run;
		it->count = s->count;
		it->bytes = s->bytes;
		it->frames = calloc(n ? n : 1, sizeof(char *));
		if (!it->frames)
			return -ENOMEM;
		d->n_items++;
		for (j = 0; j < n; j++) {
			it->frames[j] = s->stack_err ? strdup(NO_STACK) :
						       strip_offset(s->frames[j].sym);
			if (!it->frames[j])
				return -ENOMEM;
			it->n_frames++;
		}
	}
	return 0;
}

static int key_cmp(const char *ca, char *const *fa, size_t na, const char *cb, char *const *fb,
		   size_t nb)
{
	size_t i;
	int c;

	c = strcmp(ca, cb);
	if (c)
		return c;
	for (i = 0; i < na && i < nb; i++) {
		c = strcmp(fa[i], fb[i]);
		if (c)
			return c;
	}
	return na < nb ? -1 : na > nb;
}

static int item_cmp(const void *pa, const void *pb)
{
	const struct diff_item *a = pa, *b = pb;

	return key_cmp(a->cache, a->frames, a->n_frames, b->cache, b->frames, b->n_frames);
}

static __u64 magnitude(__s64 v)
{
	return v < 0 ? -(__u64)v : (__u64)v;
}

static __u64 row_delta(const struct diff_row *r)
{
	return magnitude(r->bytes[1] - r->bytes[0]);
}

/* Largest |delta bytes| first; equal ones in key order, so output is deterministic. */
static int row_cmp(const void *pa, const void *pb)
{
	const struct diff_row *a = pa, *b = pb;
	__u64 da = row_delta(a), db = row_delta(b);

	if (da != db)
		return da > db ? -1 : 1;
	return key_cmp(a->cache, a->frames, a->n_frames, b->cache, b->frames, b->n_frames);
}

static void row_add(struct diff_row *r, const struct diff_item *it)
{
	r->seen[it->run] = true;
	r->count[it->run] += it->count;
	r->bytes[it->run] += it->bytes;
}

static int prepare(struct diff_data *d, const struct model *a, const struct model *b)
{
	struct diff_row *site = NULL, *cache = NULL;
	size_t n = a->n_sites + b->n_sites, i;
	int err;

	d->items = calloc(n ? n : 1, sizeof(*d->items));
	d->sites = calloc(n ? n : 1, sizeof(*d->sites));
	d->caches = calloc(n ? n : 1, sizeof(*d->caches));
	if (!d->items || !d->sites || !d->caches)
		return -ENOMEM;
	err = add_items(d, a, 0);
	if (!err)
		err = add_items(d, b, 1);
	if (err)
		return err;

	/* sorted by key, equal keys and equal caches are neighbours */
	qsort(d->items, d->n_items, sizeof(*d->items), item_cmp);
	for (i = 0; i < d->n_items; i++) {
		const struct diff_item *it = &d->items[i];

		if (!site || item_cmp(it, it - 1)) {
			site = &d->sites[d->n_sites++];
			site->cache = it->cache;
			site->frames = it->frames;
			site->n_frames = it->n_frames;
		}
		if (!cache || strcmp(it->cache, cache->cache)) {
			cache = &d->caches[d->n_caches++];
			cache->cache = it->cache;
		}
		row_add(site, it);
		row_add(cache, it);
		row_add(&d->total, it);
	}
	qsort(d->sites, d->n_sites, sizeof(*d->sites), row_cmp);
	qsort(d->caches, d->n_caches, sizeof(*d->caches), row_cmp);
	return 0;
}

static void data_free(struct diff_data *d)
{
	size_t i, j;

	for (i = 0; i < d->n_items; i++) {
		for (j = 0; j < d->items[i].n_frames; j++)
			free(d->items[i].frames[j]);
		free(d->items[i].frames);
	}
	free(d->items);
	free(d->sites);
	free(d->caches);
}

static bool shown(const struct diff_row *r, const struct diff_opts *o)
{
	return o->min_delta <= 0 || row_delta(r) >= (__u64)o->min_delta;
}

/* Applies --min-delta and --top once, for both formats. */
static void select_rows(struct diff_data *d, const struct diff_opts *o)
{
	size_t i, n;

	for (i = 0, n = 0; i < d->n_caches; i++)
		if (shown(&d->caches[i], o))
			d->caches[n++] = d->caches[i];
	d->n_caches = n;
	d->n_sites_total = d->n_sites;
	for (i = 0, n = 0; i < d->n_sites && !(o->top && n == o->top); i++)
		if (shown(&d->sites[i], o))
			d->sites[n++] = d->sites[i];
	d->n_sites = n;
}

static const char *match_str(const struct diff_row *r)
{
	if (r->seen[0] && r->seen[1])
		return "both";
	return r->seen[0] ? "only-A" : "only-B";
}

/* ---- text ---- */

/* A metadata string on one line: control bytes would break the layout. */
static void put_text(FILE *out, const char *s)
{
	const unsigned char *p;

	if (!s) {
		fputs("unknown", out);
		return;
	}
	for (p = (const unsigned char *)s; *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
}

static void text_run(FILE *out, const char *label, const char *name, const struct model *m)
{
	bool any = false;
	int i;

	fprintf(out, "%s: ", label);
	put_text(out, name ? name : label);
	fputs("\n   kernel ", out);
	put_text(out, m->meta.kernel);
	fputs(", host ", out);
	put_text(out, m->meta.hostname);
	fprintf(out, ", sample rate %" PRIu32 "\n   command: ", (uint32_t)m->meta.sample_rate);
	put_text(out, m->meta.cmdline);
	fputc('\n', out);
	for (i = 0; i < STAT_MAX; i++) {
		__u64 v = m->stats[i];

		if (!v || !is_loss_stat(i))
			continue;
		fprintf(out, "%s %s %" PRIu64, any ? "," : "   not seen:", model__stat_name(i),
			(uint64_t)v);
		any = true;
	}
	if (any)
		fputc('\n', out);
}

static void text_delta(FILE *out, __s64 d)
{
	char buf[32];

	snprintf(buf, sizeof(buf), d ? "%+" PRId64 : "%" PRId64, (int64_t)d);
	fprintf(out, " %12s", buf);
}

static void text_numbers(FILE *out, const struct diff_row *r)
{
	fprintf(out, " %12" PRId64 " %12" PRId64 " %12" PRId64 " %12" PRId64,
		(int64_t)r->count[0], (int64_t)r->bytes[0], (int64_t)r->count[1],
		(int64_t)r->bytes[1]);
	text_delta(out, r->count[1] - r->count[0]);
	text_delta(out, r->bytes[1] - r->bytes[0]);
	fputc('\n', out);
}

static const char text_columns[] =
	"      COUNT A      BYTES A      COUNT B      BYTES B  DELTA COUNT  DELTA BYTES\n";

static void print_text(const struct diff_data *d, const struct model *a, const struct model *b,
		       const struct diff_opts *o, FILE *out)
{
	size_t i, j;

	fputs("kleak diff: outstanding allocations, B minus A\n", out);
	text_run(out, "A", o->name_a, a);
	text_run(out, "B", o->name_b, b);

	fprintf(out, "\n%-31s%s", "CACHE", text_columns);
	for (i = 0; i < d->n_caches; i++) {
		fprintf(out, "%-31s", d->caches[i].cache);
		text_numbers(out, &d->caches[i]);
	}
	fprintf(out, "%-31s", "total");
	text_numbers(out, &d->total);

	fprintf(out, "\n%-8s%-23s%s", "MATCH", "CACHE", text_columns);
	for (i = 0; i < d->n_sites; i++) {
		const struct diff_row *r = &d->sites[i];

		fprintf(out, "%-8s%-23s", match_str(r), r->cache);
		text_numbers(out, r);
		for (j = 0; j < r->n_frames; j++) {
			fputs("        ", out);
			put_text(out, r->frames[j]);
			fputc('\n', out);
		}
	}
	fprintf(out, "\n%zu of %zu sites shown", d->n_sites, d->n_sites_total);
	if (o->min_delta > 0)
		fprintf(out, ", min delta %" PRId64 " bytes", (int64_t)o->min_delta);
	if (o->top)
		fprintf(out, ", top %zu", o->top);
	fputc('\n', out);
}

/* ---- JSON ---- */

static void json_numbers(struct json_writer *w, const struct diff_row *r)
{
	jsonw_int_field(w, "count_a", r->count[0]);
	jsonw_int_field(w, "bytes_a", r->bytes[0]);
	jsonw_int_field(w, "count_b", r->count[1]);
	jsonw_int_field(w, "bytes_b", r->bytes[1]);
	jsonw_int_field(w, "delta_count", r->count[1] - r->count[0]);
	jsonw_int_field(w, "delta_bytes", r->bytes[1] - r->bytes[0]);
}

static void json_run(struct json_writer *w, const char *key, const char *name,
		     const struct model *m)
{
	int i;

	jsonw_name(w, key);
	jsonw_start_object(w);
	jsonw_string_field(w, "name", name);
	jsonw_string_field(w, "kernel", m->meta.kernel);
	jsonw_string_field(w, "hostname", m->meta.hostname);
	jsonw_string_field(w, "boot_id", m->meta.boot_id);
	jsonw_string_field(w, "cmdline", m->meta.cmdline);
	jsonw_uint_field(w, "sample_rate", m->meta.sample_rate);
	jsonw_name(w, "not_seen");
	jsonw_start_object(w);
	for (i = 0; i < STAT_MAX; i++)
		if (is_loss_stat(i))
			jsonw_uint_field(w, model__stat_name(i), m->stats[i]);
	jsonw_end_object(w);
	jsonw_end_object(w);
}

static int print_json(const struct diff_data *d, const struct model *a, const struct model *b,
		      const struct diff_opts *o, FILE *out)
{
	struct json_writer *w = jsonw_new(out);
	size_t i, j;

	if (!w)
		return -errno;
	jsonw_start_object(w);
	json_run(w, "a", o->name_a, a);
	json_run(w, "b", o->name_b, b);
	jsonw_int_field(w, "min_delta", o->min_delta);
	jsonw_uint_field(w, "top", o->top);
	jsonw_name(w, "caches");
	jsonw_start_array(w);
	for (i = 0; i < d->n_caches; i++) {
		jsonw_start_object(w);
		jsonw_string_field(w, "cache", d->caches[i].cache);
		json_numbers(w, &d->caches[i]);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
	jsonw_name(w, "total");
	jsonw_start_object(w);
	json_numbers(w, &d->total);
	jsonw_end_object(w);
	jsonw_name(w, "sites");
	jsonw_start_array(w);
	for (i = 0; i < d->n_sites; i++) {
		const struct diff_row *r = &d->sites[i];

		jsonw_start_object(w);
		jsonw_string_field(w, "match", match_str(r));
		jsonw_string_field(w, "cache", r->cache);
		json_numbers(w, r);
		jsonw_name(w, "frames");
		jsonw_start_array(w);
		for (j = 0; j < r->n_frames; j++)
			jsonw_string(w, r->frames[j]);
		jsonw_end_array(w);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
	jsonw_uint_field(w, "sites_total", d->n_sites_total);
	jsonw_uint_field(w, "sites_shown", d->n_sites);
	jsonw_end_object(w);
	jsonw_destroy(w);
	return 0;
}

int diff__print(const struct model *a, const struct model *b, const struct diff_opts *o,
		FILE *out)
{
	struct diff_data d = {};
	int err;

	err = prepare(&d, a, b);
	if (!err)
		select_rows(&d, o);
	if (!err && o->json)
		err = print_json(&d, a, b, o, out);
	else if (!err)
		print_text(&d, a, b, o, out);
	data_free(&d);
	errno = 0;
	if (!err && (fflush(out) || ferror(out)))
		err = errno ? -errno : -EIO;
	if (err)
		pr_err("failed to print diff of %s and %s: %s", o->name_a ? o->name_a : "A",
		       o->name_b ? o->name_b : "B", strerror(-err));
	return err;
}
