// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Construction and queries of the report model; see model.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

struct model *model__new(void)
{
	return calloc(1, sizeof(struct model));
}

void model_site__clear(struct model_site *s)
{
	size_t i;

	for (i = 0; i < s->n_frames; i++)
		free(s->frames[i].sym);
	free(s->frames);
	for (i = 0; i < s->n_uframes; i++) {
		free(s->uframes[i].sym);
		free(s->uframes[i].module);
		free(s->uframes[i].srcline);
	}
	free(s->uframes);
	free(s->ages_ms);
	free(s->trend);
	free(s->addrs);
	free(s->held);
	for (i = 0; i < s->n_examples; i++)
		free(s->examples[i].desc);
	free(s->examples);
}

void model__free(struct model *m)
{
	size_t i, j;

	if (!m)
		return;
	for (i = 0; i < m->n_sites; i++)
		model_site__clear(&m->sites[i]);
	free(m->sites);
	free(m->slabs);
	for (i = 0; i < m->n_merged; i++) {
		for (j = 0; j < m->merged[i].n_aliases; j++)
			free(m->merged[i].aliases[j]);
		free(m->merged[i].aliases);
	}
	free(m->merged);
	free(m->meta.version);
	free(m->meta.kernel);
	free(m->meta.hostname);
	free(m->meta.boot_id);
	free(m->meta.cmdline);
	free(m->meta.filters);
	free(m->meta.attach);
	free(m->meta.exclude);
	free(m->meta.cache);
	free(m->held_kinds);
	free(m->held_missing);
	free(m);
}

/* Grows *arr by one zeroed element of size sz; returns it or NULL. */
static void *append(void **arr, size_t *n, size_t sz)
{
	char *p;

	/* doubling at powers of two keeps appends amortised O(1) */
	if ((*n & (*n - 1)) == 0) {
		p = realloc(*arr, (*n ? *n * 2 : 1) * sz);
		if (!p)
			return NULL;
		*arr = p;
	}
	p = (char *)*arr + *n * sz;
	memset(p, 0, sz);
	(*n)++;
	return p;
}

struct model_site *model__add_site(struct model *m)
{
	return append((void **)&m->sites, &m->n_sites, sizeof(struct model_site));
}

struct model_slab *model__add_slab(struct model *m)
{
	return append((void **)&m->slabs, &m->n_slabs, sizeof(struct model_slab));
}

struct model_merged *model__add_merged(struct model *m, const char *name)
{
	struct model_merged *g;

	if (strlen(name) >= sizeof(g->name)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	g = append((void **)&m->merged, &m->n_merged, sizeof(struct model_merged));
	if (g)
		strcpy(g->name, name);
	return g;
}

int model_merged__add_alias(struct model_merged *g, const char *alias)
{
	char **grown, *copy;
	size_t i;
	int c = 1;

	for (i = 0; i < g->n_aliases && (c = strcmp(g->aliases[i], alias)) < 0; i++)
		;
	if (!c)
		return -EEXIST;
	copy = strdup(alias);
	grown = realloc(g->aliases, (g->n_aliases + 1) * sizeof(*grown));
	if (!copy || !grown) {
		free(copy);
		if (grown)
			g->aliases = grown;
		return -ENOMEM;
	}
	g->aliases = grown;
	memmove(&grown[i + 1], &grown[i], (g->n_aliases - i) * sizeof(*grown));
	grown[i] = copy;
	g->n_aliases++;
	return 0;
}

const struct model_merged *model__merged_of(const struct model *m, const char *cache)
{
	size_t i;

	for (i = 0; i < m->n_merged; i++)
		if (m->merged[i].n_aliases && !strcmp(m->merged[i].name, cache))
			return &m->merged[i];
	return NULL;
}

static bool site_matches(const struct model_site *s, const regex_t *re)
{
	size_t i;

	for (i = 0; i < s->n_frames; i++)
		if (s->frames[i].sym && !regexec(re, s->frames[i].sym, 0, NULL, 0))
			return true;
	return false;
}

/* Removes and frees the sites drop() says, the others kept in order; returns how many. */
static size_t drop_if(struct model *m, bool (*drop)(const struct model_site *s, size_t i,
						    const void *arg), const void *arg)
{
	size_t i, kept = 0;

	for (i = 0; i < m->n_sites; i++) {
		if (drop(&m->sites[i], i, arg))
			model_site__clear(&m->sites[i]);
		else
			m->sites[kept++] = m->sites[i];
	}
	i = m->n_sites - kept;
	m->n_sites = kept;
	return i;
}

static bool drop_matching(const struct model_site *s, size_t i, const void *re)
{
	return site_matches(s, re);
}

size_t model__drop_sites(struct model *m, const regex_t *re)
{
	return drop_if(m, drop_matching, re);
}

static bool drop_marked(const struct model_site *s, size_t i, const void *drop)
{
	return ((const bool *)drop)[i];
}

size_t model__drop_marked(struct model *m, const bool *drop)
{
	return drop_if(m, drop_marked, drop);
}

static const char *const held_names[HELD_MAX] = {
	[HELD_UNKNOWN] = "unknown",
	[HELD_LIVE] = "live",
	[HELD_ZOMBIE] = "zombie",
	[HELD_REAPED] = "reaped",
	[HELD_FD] = "fd",
	[HELD_NO_FD] = "no-fd",
	[HELD_ORPHAN] = "orphan",
	[HELD_GONE] = "gone",
	[HELD_MAPPED] = "mapped",
	[HELD_MERGED] = "merged",
};

const char *model__held_name(int held)
{
	return held >= 0 && held < HELD_MAX ? held_names[held] : "?";
}

int model__held_by_name(const char *name)
{
	int i;

	for (i = 0; i < HELD_MAX; i++)
		if (!strcmp(name, held_names[i]))
			return i;
	return -1;
}

void model__count_held(struct model *m)
{
	size_t i, j;

	for (i = 0; i < m->n_sites; i++) {
		struct model_site *s = &m->sites[i];

		memset(s->n_held, 0, sizeof(s->n_held));
		for (j = 0; s->held && j < s->n_ages; j++)
			if (s->held[j] < HELD_MAX)
				s->n_held[s->held[j]]++;
	}
}

struct model_object *model_site__add_example(struct model_site *s)
{
	struct model_object *o = append((void **)&s->examples, &s->n_examples, sizeof(*o));

	if (o)
		o->fd = -1;
	return o;
}

/* Keeps the ages, addresses and examples of class held; returns how many ages stay. */
static size_t keep_held(struct model_site *s, int held)
{
	size_t i, n = 0;

	for (i = 0; s->held && i < s->n_ages; i++) {
		if (s->held[i] != held)
			continue;
		s->ages_ms[n] = s->ages_ms[i];
		if (s->addrs)
			s->addrs[n] = s->addrs[i];
		s->held[n++] = held;
	}
	s->n_ages = n;
	for (i = 0, n = 0; i < s->n_examples; i++) {
		if (s->examples[i].held == (__u32)held)
			s->examples[n++] = s->examples[i];
		else
			free(s->examples[i].desc);
	}
	s->n_examples = n;
	return s->n_ages;
}

size_t model__keep_held(struct model *m, int held)
{
	size_t i, kept = 0, k, n;

	for (i = 0; i < m->n_sites; i++) {
		struct model_site *s = &m->sites[i];
		size_t before = s->n_ages;

		n = keep_held(s, held);
		if (!n) {
			model_site__clear(s);
			continue;
		}
		/* the kernel's totals count every class: the class's count is its ages' */
		s->count = n;
		s->bytes = n * s->obj_size;
		for (k = 0; k < KLEAK_CTX_MAX; k++)
			if (s->ctx[k] == before)
				s->ctx[k] = n;
		m->sites[kept++] = *s;
	}
	i = m->n_sites - kept;
	m->n_sites = kept;
	model__count_held(m);
	return i;
}

size_t model_site__count_older(const struct model_site *s, __u32 min_age_ms)
{
	size_t lo = 0, hi = s->n_ages;

	/* ages are sorted oldest first: find the first one younger than min_age_ms */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->ages_ms[mid] >= min_age_ms)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool model_site__frees_unseen(const struct model_site *s)
{
	__u64 ended, matched;

	if (!s->retired)
		return false;
	/* allocations no longer outstanding: a matched free or a dropped record */
	if (s->count <= 0)
		ended = s->allocs;
	else
		ended = (__u64)s->count < s->allocs ? s->allocs - s->count : 0;
	matched = ended > s->retired ? ended - s->retired : 0;
	return s->retired > matched && s->retired >= (s->allocs + 3) / 4;
}

__u64 model__alloc_events_left_out(const struct model *m)
{
	const __u64 *st = m->stats;
	__u64 known = st[STAT_ALLOCS] + st[STAT_SAMPLED_OUT] + st[STAT_ALLOC_MAP_FULL] +
		      st[STAT_ALLOC_MAP_BUSY] + st[STAT_SITE_MAP_FULL];

	/* per-CPU counters read one after another can be one event apart: never wrap */
	return st[STAT_ALLOC_EVENTS] > known ? st[STAT_ALLOC_EVENTS] - known : 0;
}

__u64 model__not_seen_events(const struct model *m)
{
	const __u64 *st = m->stats;

	return st[STAT_ALLOC_MAP_FULL] + st[STAT_ALLOC_MAP_BUSY] + st[STAT_SITE_MAP_FULL] +
	       st[STAT_STACK_MAP_FULL] + st[STAT_STACK_FAULT] + st[STAT_TRACKED_FULL] +
	       m->recursion_misses + st[STAT_EVENTS_DROPPED];
}

bool model__knows_cache(const struct model *m, const char *name)
{
	size_t i, j;

	if (!m->n_slabs)
		return true;
	for (i = 0; i < m->n_slabs; i++)
		if (!strcmp(m->slabs[i].name, name))
			return true;
	for (i = 0; i < m->n_sites; i++)
		if (!strcmp(m->sites[i].cache, name))
			return true;
	for (i = 0; i < m->n_merged; i++)
		for (j = 0; j < m->merged[i].n_aliases; j++)
			if (!strcmp(m->merged[i].aliases[j], name))
				return true;
	return false;
}

/* The counters one allocation event ends in, exactly one each (alloc_event() in BPF). */
static const int event_outcomes[] = {
	STAT_FAILED_ALLOCS, STAT_OWN_ALLOCS, STAT_FILTERED_OUT, STAT_PAGES_USER,
	STAT_IRQ_NOT_ATTRIBUTED,
	STAT_SAMPLED_OUT, STAT_SITE_MAP_FULL, STAT_ALLOC_MAP_FULL, STAT_ALLOC_MAP_BUSY,
	STAT_ALLOCS,
};

/* How a recorded allocation stops being outstanding. */
static const int record_ends[] = { STAT_FREES, STAT_REALLOC_RETIRED };

/*
 * The run-wide counter each of an allocator's own counters is its share of
 * (KLEAK_STAT_OF(a, STAT_PAGES_x) counts mirrored[x] for a's programs);
 * -1 for the two that are not a counter's share.
 */
static const int mirrored[KLEAK_ALLOCATOR_STATS] = {
	[STAT_PAGES_EVENTS - STAT_PAGES_EVENTS] = STAT_ALLOC_EVENTS,
	[STAT_PAGES_ALLOCS - STAT_PAGES_EVENTS] = STAT_ALLOCS,
	[STAT_PAGES_FREES - STAT_PAGES_EVENTS] = STAT_FREES,
	[STAT_PAGES_RETIRED - STAT_PAGES_EVENTS] = STAT_REALLOC_RETIRED,
	[STAT_PAGES_NOT_RECORDED - STAT_PAGES_EVENTS] = -1,
	[STAT_PAGES_FILTERED_OUT - STAT_PAGES_EVENTS] = STAT_FILTERED_OUT,
	[STAT_PAGES_FAILED - STAT_PAGES_EVENTS] = STAT_FAILED_ALLOCS,
	[STAT_PAGES_OWN - STAT_PAGES_EVENTS] = STAT_OWN_ALLOCS,
	[STAT_PAGES_IRQ - STAT_PAGES_EVENTS] = STAT_IRQ_NOT_ATTRIBUTED,
	[STAT_PAGES_SAMPLED_OUT - STAT_PAGES_EVENTS] = STAT_SAMPLED_OUT,
	[STAT_PAGES_SITE_MAP_FULL - STAT_PAGES_EVENTS] = STAT_SITE_MAP_FULL,
	[STAT_PAGES_ALLOC_MAP_FULL - STAT_PAGES_EVENTS] = STAT_ALLOC_MAP_FULL,
	[STAT_PAGES_ALLOC_MAP_BUSY - STAT_PAGES_EVENTS] = STAT_ALLOC_MAP_BUSY,
	[STAT_PAGES_OUTSTANDING - STAT_PAGES_EVENTS] = -1,
};

/* The allocation events not recorded for a counted reason, which NOT_RECORDED sums. */
static const int not_recorded[] = {
	STAT_IRQ_NOT_ATTRIBUTED, STAT_SAMPLED_OUT, STAT_SITE_MAP_FULL, STAT_ALLOC_MAP_FULL,
	STAT_ALLOC_MAP_BUSY,
};

void model__add_slot_stats(__u64 stats[STAT_MAX], __u32 slot, const __u64 counters[STAT_MAX])
{
	enum kleak_allocator a = kleak_allocator_of_slot(slot);
	size_t i;

	for (i = 0; i < STAT_MAX; i++)
		stats[i] += counters[i];
	if (a == KLEAK_ALLOC_SLAB)
		return;
	for (i = 0; i < KLEAK_ALLOCATOR_STATS; i++)
		if (mirrored[i] >= 0)
			stats[KLEAK_STAT_OF(a, STAT_PAGES_EVENTS + i)] += counters[mirrored[i]];
	for (i = 0; i < sizeof(not_recorded) / sizeof(not_recorded[0]); i++)
		stats[KLEAK_STAT_OF(a, STAT_PAGES_NOT_RECORDED)] += counters[not_recorded[i]];
}

/* Allocator a's own counter mirroring stat, or -1 where stat has none. */
static int mirror_of(int a, int stat)
{
	size_t i;

	for (i = 0; i < KLEAK_ALLOCATOR_STATS; i++)
		if (mirrored[i] == stat)
			return KLEAK_STAT_OF(a, STAT_PAGES_EVENTS + i);
	return -1;
}

__u64 model__allocator_stat(const struct model *m, int a, int stat)
{
	__u64 v, other;
	int o, i;

	if (a < 0)
		return stat == STAT_MAX ? m->outstanding : m->stats[stat];
	if (a != KLEAK_ALLOC_SLAB) {
		if (stat == STAT_PAGES_USER)
			return a == KLEAK_ALLOC_PAGES ? m->stats[stat] : 0;
		i = stat == STAT_MAX ? KLEAK_STAT_OF(a, STAT_PAGES_OUTSTANDING) : mirror_of(a, stat);
		return i < 0 ? 0 : m->stats[i];
	}
	/* slab: the run's totals less the others' (never wraps: read apart, a live report may) */
	v = model__allocator_stat(m, -1, stat);
	for (o = KLEAK_ALLOC_PAGES; o < KLEAK_ALLOC_MAX; o++) {
		other = model__allocator_stat(m, o, stat);
		v -= other < v ? other : v;
	}
	return v;
}

/* The books of allocator a, or of the whole run for a < 0. */
static void books_of(const struct model *m, int a, struct model_books *b)
{
	__u64 sum = 0;
	size_t i;

	for (i = 0; i < sizeof(event_outcomes) / sizeof(event_outcomes[0]); i++)
		sum += model__allocator_stat(m, a, event_outcomes[i]);
	b->events_unaccounted = (__s64)(model__allocator_stat(m, a, STAT_ALLOC_EVENTS) - sum);
	sum = model__allocator_stat(m, a, STAT_MAX);
	for (i = 0; i < sizeof(record_ends) / sizeof(record_ends[0]); i++)
		sum += model__allocator_stat(m, a, record_ends[i]);
	b->records_unaccounted = (__s64)(model__allocator_stat(m, a, STAT_ALLOCS) - sum);
}

bool model__books(const struct model *m, struct model_books *b)
{
	if (!m->books_kept)
		return false;
	books_of(m, -1, b);
	return true;
}

bool model__allocator_books(const struct model *m, int a, struct model_books *b)
{
	if (!m->books_kept || !m->allocator_books_kept)
		return false;
	books_of(m, a, b);
	return true;
}

const char *model__stack_err_str(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case -ENOMEM:
		return "stack not stored: stacks map full or busy";
	default:
		return "stack walk failed";
	}
}

/* An allocator's own counters: its prefix and the name of the run-wide counter each mirrors. */
#define ALLOCATOR_STAT_NAMES(A, prefix)					\
	[STAT_##A##_EVENTS] = prefix "alloc_events",			\
	[STAT_##A##_ALLOCS] = prefix "allocs_recorded",			\
	[STAT_##A##_FREES] = prefix "frees_matched",			\
	[STAT_##A##_RETIRED] = prefix "retired_unseen_frees",		\
	[STAT_##A##_NOT_RECORDED] = prefix "not_recorded",		\
	[STAT_##A##_FILTERED_OUT] = prefix "filtered_out",		\
	[STAT_##A##_FAILED] = prefix "failed_allocs",			\
	[STAT_##A##_OWN] = prefix "kleak_own_allocs",			\
	[STAT_##A##_IRQ] = prefix "irq_not_attributed",			\
	[STAT_##A##_SAMPLED_OUT] = prefix "sampled_out",		\
	[STAT_##A##_SITE_MAP_FULL] = prefix "sites_map_full",		\
	[STAT_##A##_ALLOC_MAP_FULL] = prefix "allocs_map_full",		\
	[STAT_##A##_ALLOC_MAP_BUSY] = prefix "allocs_map_busy",		\
	[STAT_##A##_OUTSTANDING] = prefix "outstanding"

static const char *const stat_names[STAT_MAX] = {
	[STAT_ALLOC_EVENTS] = "alloc_events",
	[STAT_ALLOCS] = "allocs_recorded",
	[STAT_SAMPLED_OUT] = "sampled_out",
	[STAT_FREES] = "frees_matched",
	[STAT_ALLOC_MAP_FULL] = "allocs_map_full",
	[STAT_ALLOC_MAP_BUSY] = "allocs_map_busy",
	[STAT_SITE_MAP_FULL] = "sites_map_full",
	[STAT_STACK_MAP_FULL] = "stack_map_full",
	[STAT_STACK_FAULT] = "stack_faults",
	[STAT_REALLOC_RETIRED] = "retired_unseen_frees",
	[STAT_EVENTS_DROPPED] = "trace_events_dropped",
	[STAT_TRACKED_FULL] = "fork_tracking_failed",
	[STAT_STACK_CACHED] = "stacks_from_templates",
	[STAT_STACK_CACHE_WRONG] = "stack_templates_wrong",
	[STAT_TPL_DROPPED] = "stack_template_requests_dropped",
	[STAT_IRQ_NOT_ATTRIBUTED] = "irq_not_attributed",
	[STAT_USTACK_KTHREAD] = "ustack_kthread",
	[STAT_USTACK_IRQ] = "ustack_irq",
	[STAT_USTACK_FAULT] = "ustack_fault",
	[STAT_USTACK_MAP_FULL] = "ustack_map_full",
	[STAT_USTACK_TRUNCATED] = "ustack_truncated",
	[STAT_USTACK_CUT_NOT_TEXT] = "ustack_cut_not_text",
	[STAT_USTACK_CUT_NO_BINARY] = "ustack_cut_no_binary",
	[STAT_USTACK_CUT_NOT_LEARNED] = "ustack_cut_not_learned",
	[STAT_USTACK_CUT_NO_CFI] = "ustack_cut_no_cfi",
	[STAT_USTACK_CUT_FAULT] = "ustack_cut_fault",
	[STAT_USTACK_LEARN_DROPPED] = "ustack_learn_dropped",
	[STAT_USTACK_PROC_DROPPED] = "ustack_proc_dropped",
	[STAT_USTACK_SAMPLE_DROPPED] = "ustack_sample_dropped",
	[STAT_USTACK_SAMPLE_FAULT] = "ustack_sample_fault",
	[STAT_USTACK_MAPS_MISSED] = "ustack_maps_missed",
	[STAT_USTACK_UNRESOLVED] = "ustack_unresolved",
	[STAT_USTACK_REPLACED] = "ustack_replaced",
	[STAT_USTACK_UNWIND_FAILED] = "ustack_unwind_failed",
	[STAT_USTACK_CFI_MISSED] = "ustack_cfi_missed",
	[STAT_USTACK_NO_SAMPLE] = "ustack_no_sample",
	ALLOCATOR_STAT_NAMES(PAGES, "pages_"),
	ALLOCATOR_STAT_NAMES(VMALLOC, "vmalloc_"),
	ALLOCATOR_STAT_NAMES(PERCPU, "percpu_"),
	[STAT_PAGES_USER] = "pages_user_left_out",
	[STAT_PAGES_SPLIT] = "pages_freed_split",
	[STAT_FILTERED_OUT] = "filtered_out",
	[STAT_FAILED_ALLOCS] = "failed_allocs",
	[STAT_OWN_ALLOCS] = "kleak_own_allocs",
	[STAT_PAGES_SPLIT_UNPAIRED] = "pages_split_unpaired",
};

const char *model__stat_name(int stat)
{
	return stat >= 0 && stat < STAT_MAX ? stat_names[stat] : NULL;
}

bool model__stat_retired(const char *name)
{
	/* --ustack's frame-pointer walk before it followed call frame information */
	static const char *const retired[] = { "ustack_short", "ustack_raw_ip" };
	size_t i;

	for (i = 0; i < sizeof(retired) / sizeof(retired[0]); i++)
		if (!strcmp(name, retired[i]))
			return true;
	return false;
}

static const char *const ctx_names[KLEAK_CTX_MAX] = {
	[KLEAK_CTX_TASK] = "task",
	[KLEAK_CTX_SOFTIRQ] = "softirq",
	[KLEAK_CTX_HARDIRQ] = "hardirq",
	[KLEAK_CTX_NMI] = "nmi",
};

const char *model__ctx_name(int ctx)
{
	return ctx >= 0 && ctx < KLEAK_CTX_MAX ? ctx_names[ctx] : NULL;
}

const char *model__ustate_str(__u32 ustate)
{
	switch (ustate) {
	case KLEAK_USTACK_KTHREAD:
		return "no user context: a kernel thread";
	case KLEAK_USTACK_IRQ:
		return "no user context: softirq or hardirq";
	case KLEAK_USTACK_FAULT:
		return "user stack not captured: the walk failed";
	case KLEAK_USTACK_MAP_FULL:
		return "user stack not stored: ustacks map full";
	case KLEAK_USTACK_SAMPLED:
		return "user stack not unwound: its sample was lost";
	default:
		return NULL;
	}
}

static const char *const ustate_names[KLEAK_USTACK_STATES] = {
	[KLEAK_USTACK_OFF] = "off",
	[KLEAK_USTACK_OK] = "captured",
	[KLEAK_USTACK_KTHREAD] = "kernel_thread",
	[KLEAK_USTACK_IRQ] = "irq",
	[KLEAK_USTACK_FAULT] = "walk_failed",
	[KLEAK_USTACK_MAP_FULL] = "map_full",
	[KLEAK_USTACK_SAMPLED] = "sampled",
};

const char *model__ustate_name(__u32 ustate)
{
	return ustate < KLEAK_USTACK_STATES ? ustate_names[ustate] : NULL;
}

static const char *const kcounter_names[KC_MAX] = {
	[KC_SLAB] = "Slab",
	[KC_SUNRECLAIM] = "SUnreclaim",
	[KC_MEMFREE] = "MemFree",
	[KC_VMALLOC_USED] = "VmallocUsed",
	[KC_PERCPU] = "Percpu",
	[KC_LRU] = "nr_lru",
	[KC_NR_SLAB_RECLAIMABLE] = "nr_slab_reclaimable",
	[KC_NR_SLAB_UNRECLAIMABLE] = "nr_slab_unreclaimable",
	[KC_NR_PAGE_TABLE_PAGES] = "nr_page_table_pages",
	[KC_NR_KERNEL_STACK] = "nr_kernel_stack",
};

const char *model__kcounter_name(int kc)
{
	return kc >= 0 && kc < KC_MAX ? kcounter_names[kc] : NULL;
}

bool model__traced_allocator(const struct model *m, int a)
{
	return a == KLEAK_ALLOC_SLAB ||
	       (a < KLEAK_ALLOC_MAX && m->stats[KLEAK_STAT_OF(a, STAT_PAGES_EVENTS)]);
}

bool model__stat_shown(const struct model *m, int stat)
{
	int a;

	if (stat == STAT_PAGES_USER || stat == STAT_PAGES_SPLIT || stat == STAT_PAGES_SPLIT_UNPAIRED)
		return model__traced_allocator(m, KLEAK_ALLOC_PAGES);
	if (stat < STAT_PAGES_EVENTS || stat >= STAT_PAGES_USER)
		return true;
	a = KLEAK_ALLOC_PAGES + (stat - STAT_PAGES_EVENTS) / KLEAK_ALLOCATOR_STATS;
	return model__traced_allocator(m, a);
}
