// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The allocators beside slab: what the kernel offers for each, and their
 * programs per set (see bpf/allocators.bpf.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "allocators.h"
#include "kleak.skel.h"
#include "log.h"

static const char *const names[KLEAK_ALLOC_MAX] = {
	[KLEAK_ALLOC_SLAB] = "slab",
	[KLEAK_ALLOC_PAGES] = "pages",
	[KLEAK_ALLOC_VMALLOC] = "vmalloc",
	[KLEAK_ALLOC_PERCPU] = "percpu",
};

const char *allocators__name(enum kleak_allocator a)
{
	return a < KLEAK_ALLOC_MAX ? names[a] : "?";
}

/* What is missing where an allocator is unavailable, in a phrase. */
static const char *const missing[KLEAK_ALLOC_MAX] = {
	[KLEAK_ALLOC_PAGES] = "no kmem:mm_page_alloc, mm_page_free and mm_page_free_batched events",
	[KLEAK_ALLOC_VMALLOC] = "no vmalloc:alloc_vmap_area and free_vmap_area_noflush events "
				"(6.12 and later have them), nor fentry on those functions (5.5 to "
				"6.2 kernels that allow it)",
	[KLEAK_ALLOC_PERCPU] = "no percpu:percpu_alloc_percpu and percpu_free_percpu events",
};

static const enum kleak_feature feature_of[KLEAK_ALLOC_MAX] = {
	[KLEAK_ALLOC_PAGES] = FEAT_PAGE_EVENTS,
	[KLEAK_ALLOC_VMALLOC] = FEAT_VMALLOC_EVENTS,
	[KLEAK_ALLOC_PERCPU] = FEAT_PERCPU_EVENTS,
};

/* How an allocator beside slab is traced with a program set on this kernel. */
enum hook {
	HOOK_NONE,
	HOOK_EVENTS,
	/* vmalloc's functions: fentry programs, which the classic tracepoint set does not take */
	HOOK_FENTRY,
};

static enum hook hook_of(enum kleak_allocator a, const struct features *f, enum kleak_set set)
{
	if (f->has[feature_of[a]])
		return HOOK_EVENTS;
	if (a == KLEAK_ALLOC_VMALLOC && f->has[FEAT_VMALLOC_FENTRY] && set != SET_TRACEPOINT)
		return HOOK_FENTRY;
	return HOOK_NONE;
}

int allocators__choose(const struct env *env, const struct features *f, enum kleak_set set,
		       bool want[KLEAK_ALLOC_MAX])
{
	const bool asked[KLEAK_ALLOC_MAX] = {
		[KLEAK_ALLOC_SLAB] = true,
		[KLEAK_ALLOC_PAGES] = env->pages,
		[KLEAK_ALLOC_VMALLOC] = env->vmalloc,
		[KLEAK_ALLOC_PERCPU] = env->percpu,
	};
	int a;

	want[KLEAK_ALLOC_SLAB] = true;
	for (a = KLEAK_ALLOC_PAGES; a < KLEAK_ALLOC_MAX; a++) {
		want[a] = asked[a] && hook_of(a, f, set) != HOOK_NONE;
		if (!asked[a] || want[a])
			continue;
		if (!env->all_allocators) {
			pr_err("--%s: %s is unavailable on this kernel: %s", names[a], names[a],
			       missing[a]);
			return -EOPNOTSUPP;
		}
		pr_warn("%s is unavailable on this kernel: %s; tracing the others", names[a],
			missing[a]);
	}
	return 0;
}

enum kleak_allocator allocators__of_prog(const struct kleak_bpf *skel,
					 const struct bpf_program *p, enum kleak_set set,
					 const struct features *f, bool *in_set)
{
	const struct bpf_program *progs[SET_MAX][KLEAK_ALLOC_MAX][3] = {
		[SET_TP_BTF] = {
			[KLEAK_ALLOC_PAGES] = { skel->progs.mm_page_alloc_btf,
				skel->progs.mm_page_free_btf, skel->progs.mm_page_free_batched_btf },
			[KLEAK_ALLOC_VMALLOC] = { skel->progs.alloc_vmap_area_btf,
				skel->progs.free_vmap_area_noflush_btf },
			[KLEAK_ALLOC_PERCPU] = { skel->progs.percpu_alloc_percpu_btf,
				skel->progs.percpu_free_percpu_btf },
		},
		[SET_RAW_TP] = {
			[KLEAK_ALLOC_PAGES] = { skel->progs.mm_page_alloc_raw,
				skel->progs.mm_page_free_raw, skel->progs.mm_page_free_batched_raw },
			[KLEAK_ALLOC_VMALLOC] = { skel->progs.alloc_vmap_area_raw,
				skel->progs.free_vmap_area_noflush_raw },
			[KLEAK_ALLOC_PERCPU] = { skel->progs.percpu_alloc_percpu_raw,
				skel->progs.percpu_free_percpu_raw },
		},
		[SET_COMPAT] = {
			[KLEAK_ALLOC_PAGES] = { skel->progs.mm_page_alloc_compat,
				skel->progs.mm_page_free_compat,
				skel->progs.mm_page_free_batched_compat },
			[KLEAK_ALLOC_VMALLOC] = { skel->progs.alloc_vmap_area_compat,
				skel->progs.free_vmap_area_noflush_compat },
			[KLEAK_ALLOC_PERCPU] = { skel->progs.percpu_alloc_percpu_compat,
				skel->progs.percpu_free_percpu_compat },
		},
		[SET_TRACEPOINT] = {
			[KLEAK_ALLOC_PAGES] = { skel->progs.mm_page_alloc_tp,
				skel->progs.mm_page_free_tp, skel->progs.mm_page_free_batched_tp },
			[KLEAK_ALLOC_VMALLOC] = { skel->progs.alloc_vmap_area_tp,
				skel->progs.free_vmap_area_noflush_tp },
			[KLEAK_ALLOC_PERCPU] = { skel->progs.percpu_alloc_percpu_tp,
				skel->progs.percpu_free_percpu_tp },
		},
	};
	/* vmalloc's functions: the compat set's store, or the others' */
	const struct bpf_program *fentry[2][2] = {
		{ skel->progs.alloc_vmap_area_fentry, skel->progs.free_vmap_area_noflush_fentry },
		{ skel->progs.alloc_vmap_area_fentry_compat,
		  skel->progs.free_vmap_area_noflush_fentry_compat },
	};
	int s, a, i;

	for (i = 0; i < 4; i++)
		if (fentry[i / 2][i % 2] == p) {
			*in_set = (i / 2 == (set == SET_COMPAT)) &&
				  hook_of(KLEAK_ALLOC_VMALLOC, f, set) == HOOK_FENTRY;
			return KLEAK_ALLOC_VMALLOC;
		}
	for (s = 0; s < SET_MAX; s++)
		for (a = KLEAK_ALLOC_PAGES; a < KLEAK_ALLOC_MAX; a++)
			for (i = 0; i < 3 && progs[s][a][i]; i++)
				if (progs[s][a][i] == p) {
					*in_set = s == (int)set && hook_of(a, f, set) == HOOK_EVENTS;
					return a;
				}
	*in_set = false;
	return KLEAK_ALLOC_SLAB;
}

void allocators__list(const bool want[KLEAK_ALLOC_MAX], const struct features *f,
		      enum kleak_set set, char *buf, size_t len)
{
	size_t used = 0;
	int a;

	buf[0] = '\0';
	for (a = KLEAK_ALLOC_PAGES; a < KLEAK_ALLOC_MAX; a++)
		if (want[a] && used < len)
			used += snprintf(buf + used, len - used, "%s%s%s", used ? ", " : "",
					 names[a],
					 hook_of(a, f, set) == HOOK_FENTRY ? " (fentry)" : "");
}

/* An order of "pages/order-N": digits only, at most KLEAK_MAX_PAGE_ORDER. */
static bool parse_order(const char *s, int *order)
{
	int n = 0;

	if (!*s || strlen(s) > 2)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		n = n * 10 + (*s - '0');
	}
	*order = n;
	return n <= KLEAK_MAX_PAGE_ORDER;
}

bool allocators__parse_cache(const char *name, struct alloc_cache *c)
{
	static const char order_prefix[] = "pages/order-", user[] = "user ";

	c->order = -1;
	if (!strcmp(name, "pages")) {
		c->allocator = KLEAK_ALLOC_PAGES;
		c->kinds = 1U << KLEAK_SITE_PAGES | 1U << KLEAK_SITE_PAGES_USER;
		return true;
	}
	if (!strcmp(name, names[KLEAK_ALLOC_VMALLOC]) || !strcmp(name, names[KLEAK_ALLOC_PERCPU])) {
		c->allocator = !strcmp(name, "vmalloc") ? KLEAK_ALLOC_VMALLOC : KLEAK_ALLOC_PERCPU;
		c->kinds = 1U << (c->allocator == KLEAK_ALLOC_VMALLOC ? KLEAK_SITE_VMALLOC :
							       KLEAK_SITE_PERCPU);
		return true;
	}
	c->allocator = KLEAK_ALLOC_PAGES;
	c->kinds = 1U << KLEAK_SITE_PAGES;
	if (!strncmp(name, user, sizeof(user) - 1)) {
		name += sizeof(user) - 1;
		c->kinds = 1U << KLEAK_SITE_PAGES_USER;
	}
	return !strncmp(name, order_prefix, sizeof(order_prefix) - 1) &&
	       parse_order(name + sizeof(order_prefix) - 1, &c->order);
}

bool allocators__cache_selects(const char *name, __u32 kind, const char *site_cache)
{
	return !strcmp(name, site_cache) ||
	       (!strcmp(name, "pages") && kleak_allocator_of(kind) == KLEAK_ALLOC_PAGES);
}

bool allocators__site_name(__u32 kind, __u64 cache, char *buf, size_t len)
{
	switch (kind) {
	case KLEAK_SITE_PAGES:
	case KLEAK_SITE_PAGES_USER:
		snprintf(buf, len, "%spages/order-%llu", kind == KLEAK_SITE_PAGES_USER ? "user " : "",
			 (unsigned long long)cache);
		return true;
	case KLEAK_SITE_VMALLOC:
	case KLEAK_SITE_PERCPU:
		snprintf(buf, len, "%s", names[kleak_allocator_of(kind)]);
		return true;
	default:
		return false;
	}
}
