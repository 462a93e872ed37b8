/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The allocators traced beside slab (--pages, --vmalloc, --percpu,
 * --all-allocators): which ones this kernel has the events for, and which
 * BPF programs are theirs in each program set, so that programs of
 * allocators not asked for are never loaded.
 */
#ifndef __KLEAK_ALLOCATORS_H
#define __KLEAK_ALLOCATORS_H

#include <stdbool.h>
#include <stddef.h>
#include "kernel_features.h"
#include "kleak.h"
#include "opts.h"

struct kleak_bpf;
struct bpf_program;

/*
 * Fills want[] with the allocators to trace with program set: slab always,
 * the others as asked and where the kernel has their events (or, for
 * vmalloc, fentry on its functions). One that was asked for by name and is
 * missing is an error line and -EOPNOTSUPP; under --all-allocators a
 * warning line, and the rest run.
 */
int allocators__choose(const struct env *env, const struct features *f, enum kleak_set set,
		       bool want[KLEAK_ALLOC_MAX]);

/*
 * The allocator program p serves (KLEAK_ALLOC_SLAB for slab's and the
 * others kleak loads), and in *in_set whether it is of set and of the way
 * the allocator is traced on this kernel (f): its events or its functions.
 */
enum kleak_allocator allocators__of_prog(const struct kleak_bpf *skel,
					 const struct bpf_program *p, enum kleak_set set,
					 const struct features *f, bool *in_set);

/*
 * "pages, vmalloc (fentry), percpu": the allocators of want beside slab,
 * and how each is traced where not by its events; "" for none.
 */
void allocators__list(const bool want[KLEAK_ALLOC_MAX], const struct features *f,
		      enum kleak_set set, char *buf, size_t len);

/*
 * A site's display name where its kind is not slab's ("pages/order-2",
 * "user pages/order-0", "vmalloc", "percpu"): false for slab's kinds.
 */
bool allocators__site_name(__u32 kind, __u64 cache, char *buf, size_t len);

/* What --cache NAME selects where NAME is memory of an allocator beside slab. */
struct alloc_cache {
	enum kleak_allocator allocator;
	__u32 kinds;		/* one bit per enum kleak_site_kind */
	int order;		/* of pages, -1 for any */
};

/*
 * Whether name is an allocator's --cache: "pages" (every page site),
 * "pages/order-N" and "user pages/order-N" (N 0 to KLEAK_MAX_PAGE_ORDER,
 * the site names), "vmalloc" or "percpu"; fills *c. False for any other
 * name: a slab cache's.
 */
bool allocators__parse_cache(const char *name, struct alloc_cache *c);

/*
 * Whether --cache name selects a site of kind whose display name is
 * site_cache: that name, or "pages" for every site of the page allocator.
 */
bool allocators__cache_selects(const char *name, __u32 kind, const char *site_cache);

/* The name of an allocator, as reports, JSON and saved runs show it. */
const char *allocators__name(enum kleak_allocator a);

#endif /* __KLEAK_ALLOCATORS_H */
