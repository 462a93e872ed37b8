// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The per-allocator summary, books and losses (see report_allocators.h). */
#include <stdint.h>
#include <string.h>
#include "allocators.h"
#include "report.h"
#include "report_allocators.h"

#define PAGE_BYTES 4096

/* One allocator's figures over the sites shown (scaled by the sample rate, as the sites are). */
struct alloc_sum {
	__s64 count;
	__s64 bytes;
};

/*
 * What the kernel counted of an allocator's memory over the run, in bytes,
 * and whether kleak's figure compares with it: valid false where the
 * counters were not read at both ends.
 */
struct kernel_figure {
	const char *name;
	bool valid;
	__s64 change;
	/* kleak's bytes to set against it: the guard pages of vmap areas are in no counter */
	__s64 kleak_bytes;
};

bool report_allocators__traced(const struct model *m)
{
	int a;

	for (a = KLEAK_ALLOC_PAGES; a < KLEAK_ALLOC_MAX; a++)
		if (model__traced_allocator(m, a))
			return true;
	return false;
}

static void sum_allocators(const struct model *m, struct alloc_sum *sums)
{
	__s64 scale = m->meta.sample_rate > 1 ? m->meta.sample_rate : 1;
	size_t i;
	int a;

	memset(sums, 0, sizeof(*sums) * KLEAK_ALLOC_MAX);
	for (i = 0; i < m->n_sites; i++) {
		a = kleak_allocator_of(m->sites[i].kind);
		sums[a].count += m->sites[i].count * scale;
		sums[a].bytes += m->sites[i].bytes * scale;
	}
}

/*
 * A counter's change over the run in bytes; false where it was not read at
 * both ends, or (a saved run's values are any s64) does not fit.
 */
static bool change_of(const struct model *m, int kc, __s64 *bytes)
{
	const struct model_kcounter_val *v = &m->kcounters[kc];
	__s64 d;

	return v->seen && !__builtin_sub_overflow(v->end_kb, v->start_kb, &d) &&
	       !__builtin_mul_overflow(d, 1024, bytes);
}

/* --pages=all: user and page-cache pages are kleak's too */
static bool pages_all(const struct model *m)
{
	return m->meta.filters && strstr(m->meta.filters, "pages=all");
}

/*
 * The kernel's count of the memory each allocator's sites hold:
 * - slab: Slab (meminfo), the slabs' pages, as the per-cache table's slabinfo;
 * - pages: MemFree's fall, what the free lists gave out (pages moving to
 *   and from the per-CPU lists blur it by a few MiB), and for kernel pages
 *   less the growth of the LRU lists, where user and page-cache pages are:
 *   what --pages leaves out (vmstat's pgalloc_* less pgfree would not be
 *   blurred, but rose by half of MemFree's fall on this host's 6.18);
 * - vmalloc: VmallocUsed, the pages behind vmalloc() areas, against the
 *   areas less their guard page;
 * - percpu: Percpu, the chunks' populated pages.
 */
static struct kernel_figure kernel_figure(const struct model *m, int a, const struct alloc_sum *s)
{
	struct kernel_figure k = { .kleak_bytes = s->bytes };
	__s64 fell, lru = 0, guards;

	switch (a) {
	case KLEAK_ALLOC_SLAB:
		k.name = "Slab";
		k.valid = change_of(m, KC_SLAB, &k.change);
		break;
	case KLEAK_ALLOC_PAGES:
		k.name = pages_all(m) ? "MemFree fall" : "kernel pages out";
		k.valid = change_of(m, KC_MEMFREE, &fell) &&
			  (pages_all(m) || change_of(m, KC_LRU, &lru)) &&
			  !__builtin_add_overflow(fell, lru, &k.change) && k.change != INT64_MIN;
		k.change = k.valid ? -k.change : 0;
		break;
	case KLEAK_ALLOC_VMALLOC:
		k.name = "VmallocUsed";
		k.valid = change_of(m, KC_VMALLOC_USED, &k.change);
		/* a saved run's counts are any s64: no share where they overflow */
		k.valid &= !__builtin_mul_overflow(s->count, PAGE_BYTES, &guards) &&
			   !__builtin_sub_overflow(s->bytes, guards, &k.kleak_bytes);
		break;
	default:
		k.name = "Percpu";
		k.valid = change_of(m, KC_PERCPU, &k.change);
		break;
	}
	return k;
}

/*
 * Whether kleak saw the population the kernel counts: no task, size or
 * cache filter and no sampling (the filters string is opts__filters_str()'s;
 * pages=all widens the pages').
 */
static bool comparable(const struct model *m)
{
	const char *f = m->meta.filters;

	return f && (!strcmp(f, "none") || !strcmp(f, "pages=all"));
}

/* The share of k's growth kleak holds, where there is one to give. */
static bool share_of(const struct model *m, const struct kernel_figure *k, double *pct)
{
	if (!comparable(m) || !k->valid || k->change <= 0)
		return false;
	*pct = 100.0 * k->kleak_bytes / k->change;
	return true;
}

/* The counters behind the table, and those that name kinds of kernel pages. */
static const struct {
	int kc;
	bool pages;	/* only where pages were traced */
	const char *what;
} shown_counters[] = {
	{ KC_SLAB, false, NULL },
	{ KC_SUNRECLAIM, false, "unreclaimable slab" },
	{ KC_VMALLOC_USED, false, NULL },
	{ KC_PERCPU, false, NULL },
	{ KC_MEMFREE, true, NULL },
	{ KC_LRU, true, "user and page-cache pages: the LRU lists" },
	{ KC_NR_SLAB_RECLAIMABLE, true, "slab pages" },
	{ KC_NR_SLAB_UNRECLAIMABLE, true, "slab pages" },
	{ KC_NR_PAGE_TABLE_PAGES, true, "page tables" },
	{ KC_NR_KERNEL_STACK, true, "task stacks: vmalloc() areas with VMAP_STACK" },
};

#define N_SHOWN (sizeof(shown_counters) / sizeof(shown_counters[0]))

static void text_kernel_counters(const struct model *m, FILE *out)
{
	bool pages = model__traced_allocator(m, KLEAK_ALLOC_PAGES), first = true;
	size_t i;
	__s64 d;

	for (i = 0; i < N_SHOWN; i++) {
		if ((shown_counters[i].pages && !pages) ||
		    !change_of(m, shown_counters[i].kc, &d))
			continue;
		fprintf(out, "%s%s %+lld kB", first ? "  the kernel's counters over the run: " : ", ",
			model__kcounter_name(shown_counters[i].kc), (long long)d / 1024);
		if (shown_counters[i].what)
			fprintf(out, " (%s)", shown_counters[i].what);
		first = false;
	}
	if (!first)
		fputc('\n', out);
}

void report_allocators__text(const struct model *m, FILE *out)
{
	struct alloc_sum sums[KLEAK_ALLOC_MAX];
	bool cmp = comparable(m), above = false;
	struct kernel_figure k;
	double pct;
	int a;

	sum_allocators(m, sums);
	fprintf(out, "\nper allocator (all outstanding, any age%s; the kernel's own count of the "
		"same memory over the run%s):\n  %-9s %9s %12s  %-18s %12s %9s\n",
		m->meta.sample_rate > 1 ? ", estimated from the sampled" : "",
		cmp ? "" : "; kleak saw only the filtered or sampled allocations, so no share is "
			   "given",
		"ALLOCATOR", "OBJECTS", "BYTES", "KERNEL", "CHANGE", "EXPLAINED");
	for (a = 0; a < KLEAK_ALLOC_MAX; a++) {
		if (!model__traced_allocator(m, a))
			continue;
		k = kernel_figure(m, a, &sums[a]);
		fprintf(out, "  %-9s %9lld %12lld  %-18s ", allocators__name(a),
			(long long)sums[a].count, (long long)sums[a].bytes, k.name);
		if (!k.valid) {
			fprintf(out, "%12s %9s\n", "-", "-");
			continue;
		}
		fprintf(out, "%+12lld ", (long long)k.change);
		if (share_of(m, &k, &pct)) {
			fprintf(out, "%8.0f%%\n", pct);
			above |= pct > 100;
		} else {
			fprintf(out, "%9s\n", "-");
		}
	}
	fputs("  CHANGE in bytes; EXPLAINED: kleak's BYTES as a share of CHANGE, where the "
	      "kernel's count grew\n", out);
	text_kernel_counters(m, out);
	if (model__traced_allocator(m, KLEAK_ALLOC_PAGES))
		fprintf(out, "  pages: blocks of 2^order pages, slab's own included (allocate_slab); "
			"%s\n", pages_all(m) ? "MemFree fall: the pages the free lists gave out" :
			"kernel pages out: MemFree's fall less the LRU lists' growth (the user and "
			"page-cache pages --pages leaves out)");
	if (model__traced_allocator(m, KLEAK_ALLOC_VMALLOC))
		fputs("  vmalloc: vmap areas (vmalloc, vmap, ioremap, module text), sized with "
		      "their guard page, which EXPLAINED leaves out; VmallocUsed counts the pages "
		      "behind vmalloc() areas only\n", out);
	if (model__traced_allocator(m, KLEAK_ALLOC_PERCPU))
		fputs("  percpu: sized over all CPUs' copies; Percpu counts whole chunks, "
		      "populated as needed\n", out);
	if (above)
		fputs("  EXPLAINED above 100%: kleak holds more than the kernel's count grew by: "
		      "memory allocated before kleak started and freed during the run lowers the "
		      "change, and vmap() and ioremap() areas have no pages in VmallocUsed\n",
		      out);
}

void report_allocators__not_seen(const struct model *m, FILE *out)
{
	int a;

	if (!report_allocators__traced(m))
		return;
	fputs("not seen, per allocator:", out);
	for (a = 0; a < KLEAK_ALLOC_MAX; a++) {
		if (!model__traced_allocator(m, a))
			continue;
		fprintf(out, "%s %s %llu allocations (allocs map full), %llu (map busy), %llu (sites "
			"map full)", a ? ";" : "", allocators__name(a),
			(unsigned long long)model__allocator_stat(m, a, STAT_ALLOC_MAP_FULL),
			(unsigned long long)model__allocator_stat(m, a, STAT_ALLOC_MAP_BUSY),
			(unsigned long long)model__allocator_stat(m, a, STAT_SITE_MAP_FULL));
		if (a == KLEAK_ALLOC_PAGES)
			fprintf(out, ", %llu pages of %llu split blocks unpaired (freed before or "
				"after the piece that ended the record, or kept), and what "
				"alloc_pages_bulk() takes off the per-CPU lists (no event, not counted)",
				(unsigned long long)m->stats[STAT_PAGES_SPLIT_UNPAIRED],
				(unsigned long long)m->stats[STAT_PAGES_SPLIT]);
		if (a == KLEAK_ALLOC_VMALLOC)
			fputs(", and the frees of areas free_vmap_area() drops unused (no event: "
			      "retired when the address comes round)", out);
	}
	fputc('\n', out);
}

/* The counters of the books, per allocator as in the JSON stats (STAT_MAX: outstanding). */
static const int book_stats[] = {
	STAT_ALLOC_EVENTS, STAT_ALLOCS, STAT_SAMPLED_OUT, STAT_ALLOC_MAP_FULL, STAT_ALLOC_MAP_BUSY,
	STAT_SITE_MAP_FULL, STAT_FILTERED_OUT, STAT_IRQ_NOT_ATTRIBUTED, STAT_FAILED_ALLOCS,
	STAT_OWN_ALLOCS, STAT_FREES, STAT_REALLOC_RETIRED, STAT_MAX,
};

static void json_books(struct json_writer *w, const struct model *m, int a)
{
	struct model_books b;
	bool kept = model__allocator_books(m, a, &b);
	size_t i;

	for (i = 0; i < sizeof(book_stats) / sizeof(book_stats[0]); i++)
		jsonw_uint_field(w, book_stats[i] == STAT_MAX ? "outstanding" :
				 model__stat_name(book_stats[i]),
				 model__allocator_stat(m, a, book_stats[i]));
	if (a == KLEAK_ALLOC_PAGES) {
		jsonw_uint_field(w, model__stat_name(STAT_PAGES_USER), m->stats[STAT_PAGES_USER]);
		jsonw_uint_field(w, model__stat_name(STAT_PAGES_SPLIT), m->stats[STAT_PAGES_SPLIT]);
		jsonw_uint_field(w, model__stat_name(STAT_PAGES_SPLIT_UNPAIRED),
				 m->stats[STAT_PAGES_SPLIT_UNPAIRED]);
	}
	report__json_unaccounted(w, kept ? &b : NULL);
}

/* Every counter the table and its notes read, in kB at both ends. */
static void json_kernel_counters(struct json_writer *w, const struct model *m)
{
	int kc;

	jsonw_name(w, "kernel_counters");
	jsonw_start_object(w);
	for (kc = 0; kc < KC_MAX; kc++) {
		if (!m->kcounters[kc].seen)
			continue;
		jsonw_name(w, model__kcounter_name(kc));
		jsonw_start_object(w);
		jsonw_int_field(w, "start_kb", m->kcounters[kc].start_kb);
		jsonw_int_field(w, "end_kb", m->kcounters[kc].end_kb);
		jsonw_end_object(w);
	}
	jsonw_end_object(w);
}

void report_allocators__json(struct json_writer *w, const struct model *m)
{
	struct alloc_sum sums[KLEAK_ALLOC_MAX];
	struct kernel_figure k;
	double pct;
	int a;

	sum_allocators(m, sums);
	jsonw_bool_field(w, "allocators_comparable", comparable(m));
	json_kernel_counters(w, m);
	jsonw_name(w, "allocators");
	jsonw_start_array(w);
	for (a = 0; a < KLEAK_ALLOC_MAX; a++) {
		if (!model__traced_allocator(m, a))
			continue;
		k = kernel_figure(m, a, &sums[a]);
		jsonw_start_object(w);
		jsonw_string_field(w, "allocator", allocators__name(a));
		jsonw_int_field(w, "objects", sums[a].count);
		jsonw_int_field(w, "bytes", sums[a].bytes);
		jsonw_string_field(w, "kernel_counter", k.name);
		jsonw_name(w, "kernel_change_bytes");
		k.valid ? jsonw_int(w, k.change) : jsonw_null(w);
		jsonw_name(w, "explained_pct");
		share_of(m, &k, &pct) ? jsonw_float(w, pct) : jsonw_null(w);
		json_books(w, m, a);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
}
