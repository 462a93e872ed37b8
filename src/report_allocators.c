// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The per-allocator summary (see report_allocators.h). */
#include <string.h>
#include "allocators.h"
#include "report_allocators.h"

/* One allocator's figures: kleak's over its sites, the kernel's over the run. */
struct alloc_sum {
	__s64 count;
	__s64 bytes;
	__u64 events;
	__u64 recorded;
	__u64 frees;
	__u64 retired;
	__u64 not_recorded;	/* sampled out, in an interrupt, a map full */
	int kcounter;		/* KC_*, -1 for none */
	bool growth_is_fall;	/* MemFree: what falls is what was given out */
};

static const int kcounter_of[KLEAK_ALLOC_MAX] = {
	[KLEAK_ALLOC_SLAB] = KC_SLAB,
	[KLEAK_ALLOC_PAGES] = KC_MEMFREE,
	[KLEAK_ALLOC_VMALLOC] = KC_VMALLOC_USED,
	[KLEAK_ALLOC_PERCPU] = KC_PERCPU,
};

bool report_allocators__traced(const struct model *m)
{
	int a;

	for (a = KLEAK_ALLOC_PAGES; a < KLEAK_ALLOC_MAX; a++)
		if (model__traced_allocator(m, a))
			return true;
	return false;
}

/* Slab's counters are the run's totals less the other allocators'. */
static __u64 less_others(const struct model *m, int total, int pages_stat)
{
	__u64 v = m->stats[total];
	int a;

	for (a = KLEAK_ALLOC_PAGES; a < KLEAK_ALLOC_MAX; a++)
		v -= v < m->stats[KLEAK_STAT_OF(a, pages_stat)] ? v :
		     m->stats[KLEAK_STAT_OF(a, pages_stat)];
	return v;
}

static void sum_allocators(const struct model *m, struct alloc_sum *sums)
{
	__u64 scale = m->meta.sample_rate > 1 ? m->meta.sample_rate : 1;
	const __u64 *st = m->stats;
	size_t i;
	int a;

	memset(sums, 0, sizeof(*sums) * KLEAK_ALLOC_MAX);
	for (i = 0; i < m->n_sites; i++) {
		a = kleak_allocator_of(m->sites[i].kind);
		sums[a].count += m->sites[i].count * (__s64)scale;
		sums[a].bytes += m->sites[i].bytes * (__s64)scale;
	}
	for (a = 0; a < KLEAK_ALLOC_MAX; a++) {
		sums[a].kcounter = m->kcounters[kcounter_of[a]].seen ? kcounter_of[a] : -1;
		sums[a].growth_is_fall = a == KLEAK_ALLOC_PAGES;
		if (a == KLEAK_ALLOC_SLAB)
			continue;
		sums[a].events = st[KLEAK_STAT_OF(a, STAT_PAGES_EVENTS)];
		sums[a].recorded = st[KLEAK_STAT_OF(a, STAT_PAGES_ALLOCS)];
		sums[a].frees = st[KLEAK_STAT_OF(a, STAT_PAGES_FREES)];
		sums[a].retired = st[KLEAK_STAT_OF(a, STAT_PAGES_RETIRED)];
		sums[a].not_recorded = st[KLEAK_STAT_OF(a, STAT_PAGES_NOT_RECORDED)];
	}
	sums[KLEAK_ALLOC_SLAB].events = less_others(m, STAT_ALLOC_EVENTS, STAT_PAGES_EVENTS);
	sums[KLEAK_ALLOC_SLAB].recorded = less_others(m, STAT_ALLOCS, STAT_PAGES_ALLOCS);
	sums[KLEAK_ALLOC_SLAB].frees = less_others(m, STAT_FREES, STAT_PAGES_FREES);
	sums[KLEAK_ALLOC_SLAB].retired = less_others(m, STAT_REALLOC_RETIRED, STAT_PAGES_RETIRED);
	sums[KLEAK_ALLOC_SLAB].not_recorded =
		st[STAT_SAMPLED_OUT] + st[STAT_IRQ_NOT_ATTRIBUTED] + st[STAT_ALLOC_MAP_FULL] +
		st[STAT_ALLOC_MAP_BUSY] + st[STAT_SITE_MAP_FULL];
	for (a = KLEAK_ALLOC_PAGES; a < KLEAK_ALLOC_MAX; a++)
		sums[KLEAK_ALLOC_SLAB].not_recorded -=
			sums[KLEAK_ALLOC_SLAB].not_recorded < sums[a].not_recorded ?
			sums[KLEAK_ALLOC_SLAB].not_recorded : sums[a].not_recorded;
}

/* The kernel counter's growth over the run, in bytes. */
static __s64 kernel_growth(const struct model *m, const struct alloc_sum *s)
{
	const struct model_kcounter_val *v = &m->kcounters[s->kcounter];
	__s64 d = (v->end_kb - v->start_kb) * 1024;

	return s->growth_is_fall ? -d : d;
}

/*
 * Whether kleak saw the population the kernel counts: no task or size
 * filter (the filters string is opts__filters_str()'s; pages=all widens).
 */
static bool comparable(const struct model *m)
{
	const char *f = m->meta.filters;

	return f && (!strcmp(f, "none") || !strcmp(f, "pages=all"));
}


void report_allocators__text(const struct model *m, FILE *out)
{
	struct alloc_sum sums[KLEAK_ALLOC_MAX];
	bool cmp = comparable(m);
	const struct alloc_sum *s;
	__s64 d;
	int a;

	sum_allocators(m, sums);
	fprintf(out, "\nper allocator (all outstanding, any age; the kernel's own counter over "
		"the run%s):\n  %-9s %9s %12s %10s %10s %9s %8s  %-12s %12s %9s\n",
		cmp ? "" : "; kleak saw only the filtered allocations, so no share is given",
		"ALLOCATOR", "OBJECTS", "BYTES", "EVENTS", "RECORDED", "FREED", "RETIRED",
		"KERNEL", "CHANGE", "EXPLAINED");
	for (a = 0; a < KLEAK_ALLOC_MAX; a++) {
		if (!model__traced_allocator(m, a))
			continue;
		s = &sums[a];
		fprintf(out, "  %-9s %9lld %12lld %10llu %10llu %9llu %8llu  ", allocators__name(a),
			(long long)s->count, (long long)s->bytes, (unsigned long long)s->events,
			(unsigned long long)s->recorded, (unsigned long long)s->frees,
			(unsigned long long)s->retired);
		if (s->kcounter < 0) {
			fprintf(out, "%-12s %12s %9s\n", "-", "-", "-");
			continue;
		}
		d = kernel_growth(m, s);
		fprintf(out, "%-12s %+12lld ", s->growth_is_fall ? "MemFree fall" :
			model__kcounter_name(s->kcounter), (long long)d);
		if (cmp && d > 0)
			fprintf(out, "%8.0f%%\n", 100.0 * s->bytes / d);
		else
			fprintf(out, "%9s\n", "-");
	}
	fputs("  EVENTS = left out by the filters + RECORDED + not recorded; RECORDED = "
	      "FREED + RETIRED + OBJECTS; CHANGE in bytes; EXPLAINED: OBJECTS' BYTES as a share "
	      "of CHANGE, where the kernel's counter grew\n  not recorded (sampled out, in an "
	      "interrupt under a task filter, a map full or busy):", out);
	for (a = 0; a < KLEAK_ALLOC_MAX; a++)
		if (model__traced_allocator(m, a))
			fprintf(out, "%s %s %llu", a ? "," : "", allocators__name(a),
				(unsigned long long)sums[a].not_recorded);
	fputc('\n', out);
	if (model__traced_allocator(m, KLEAK_ALLOC_PAGES))
		fprintf(out, "  pages: blocks of 2^order pages, slab's own included (allocate_slab); "
			"%llu user or page-cache pages left out (--pages=all keeps them); %llu "
			"blocks freed split (the record ended with the first piece); "
			"pages alloc_pages_bulk() takes off the per-CPU lists (vmalloc's page "
			"arrays, page pools) have no event: not seen; MemFree falls with user "
			"pages too\n",
			(unsigned long long)m->stats[STAT_PAGES_USER],
			(unsigned long long)m->stats[STAT_PAGES_SPLIT]);
	if (model__traced_allocator(m, KLEAK_ALLOC_VMALLOC))
		fputs("  vmalloc: vmap areas (vmalloc, vmap, ioremap, module text), sized with "
		      "their guard page; VmallocUsed counts the pages behind vmalloc areas only\n",
		      out);
	if (model__traced_allocator(m, KLEAK_ALLOC_PERCPU))
		fputs("  percpu: sized over all CPUs' copies; Percpu counts whole chunks, "
		      "populated as needed\n", out);
}

void report_allocators__json(struct json_writer *w, const struct model *m)
{
	struct alloc_sum sums[KLEAK_ALLOC_MAX];
	bool cmp = comparable(m);
	const struct alloc_sum *s;
	int a;

	sum_allocators(m, sums);
	jsonw_bool_field(w, "allocators_comparable", cmp);
	jsonw_name(w, "allocators");
	jsonw_start_array(w);
	for (a = 0; a < KLEAK_ALLOC_MAX; a++) {
		if (!model__traced_allocator(m, a))
			continue;
		s = &sums[a];
		jsonw_start_object(w);
		jsonw_string_field(w, "allocator", allocators__name(a));
		jsonw_int_field(w, "objects", s->count);
		jsonw_int_field(w, "bytes", s->bytes);
		jsonw_uint_field(w, "alloc_events", s->events);
		jsonw_uint_field(w, "recorded", s->recorded);
		jsonw_uint_field(w, "frees_matched", s->frees);
		jsonw_uint_field(w, "retired", s->retired);
		jsonw_uint_field(w, "not_recorded", s->not_recorded);
		if (s->kcounter >= 0) {
			jsonw_string_field(w, "kernel_counter", model__kcounter_name(s->kcounter));
			jsonw_int_field(w, "kernel_start_kb", m->kcounters[s->kcounter].start_kb);
			jsonw_int_field(w, "kernel_end_kb", m->kcounters[s->kcounter].end_kb);
			jsonw_int_field(w, "kernel_change_bytes", kernel_growth(m, s));
		}
		if (a == KLEAK_ALLOC_PAGES) {
			jsonw_uint_field(w, "user_left_out", m->stats[STAT_PAGES_USER]);
			jsonw_uint_field(w, "freed_split", m->stats[STAT_PAGES_SPLIT]);
		}
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
}
