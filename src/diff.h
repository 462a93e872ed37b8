/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Comparison of two runs ("kleak diff A B"): outstanding allocations per
 * allocation site and per cache, B minus A.
 *
 * Sites are matched by cache and call stack, each frame by the name
 * diff__frame_key() gives it: stack ids, addresses and offsets never take
 * part, so runs from other boots, KASLR slides and hosts compare, and the
 * names a kernel version gives its allocator entry points do not matter.
 * Sites of one run on the same key are summed. When the two runs' kernels
 * differ, stacks that differ only by frames one kernel inlined, split or
 * renamed are matched too, and so is a path whose cache one kernel names
 * otherwise (slab merging, another kmalloc size class) when it is the only
 * candidate on both sides; such rows are marked "similar" (the rule is in
 * diff.c, above match_across_kernels()).
 */
#ifndef __KLEAK_DIFF_H
#define __KLEAK_DIFF_H

#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>
#include "model.h"

struct diff_opts {
	const char *name_a;	/* shown in the header; NULL shows "A" */
	const char *name_b;
	__s64 min_delta;	/* bytes, absolute: smaller differences are not shown */
	size_t top;		/* sites shown at most; 0 = all */
	/*
	 * 0: compare the kernel's outstanding totals of each site; above 0:
	 * only the allocations at least this old, from the sites' ages
	 */
	__u64 older_ms;
	const char *cache;	/* only sites in this cache; NULL: all */
	__u64 min_size;		/* only sites of objects of min_size.. */
	__u64 max_size;		/* ..max_size bytes; 0: no upper limit */
	/* sites with a frame matching it are left out, and counted; NULL: none */
	const regex_t *exclude;
	bool no_caches;		/* leave out the per-cache table */
	bool json;
};

/*
 * Prints the comparison of a and b to out, as text or JSON. min_delta applies
 * to sites and caches, top to sites only; the other filters apply to the
 * sites of both runs before they are matched. Counts of a run sampled with
 * --sample-rate are scaled to estimates. Everything is computed before the
 * first byte is printed, so an error leaves out untouched. Returns 0, or
 * -errno after one pr_err() line.
 */
int diff__print(const struct model *a, const struct model *b, const struct diff_opts *o,
		FILE *out);

/*
 * A frame of a row as kleak diff prints it: frame k of a site of either run,
 * counting as the diff does, its kernel frames innermost first (the one
 * "[stack not captured]" where its stack was not), then its user frames.
 */
struct diff_frame_ref {
	const struct model_site *site;
	size_t k;
};

/*
 * A row of the comparison as the other formats (export.h) draw it: the
 * frames kleak diff prints for it, and what each run holds. site (B's
 * largest stack where B has one) names the cache and gives the labels. A
 * row whose path each kernel puts in another cache is two changes, A's in
 * A's cache and B's in B's, as the per-cache table counts them.
 */
struct diff_change {
	const struct model_site *site;
	const struct model *m;		/* the run site is in */
	size_t n_frames;
	struct diff_frame_ref *frames;	/* innermost first */
	__s64 count[2];			/* A, B; scaled by each run's sample rate */
	__s64 bytes[2];
	/* per class of count (enum model_held), where every site of the run here was classified */
	bool classified[2];
	__s64 held[2][HELD_MAX];
};

/*
 * The rows diff__print() shows, in its order, after every filter,
 * --min-delta and --top. *out is to free with diff__free_changes(). Returns
 * 0 or -errno.
 */
int diff__changes(const struct model *a, const struct model *b, const struct diff_opts *o,
		  struct diff_change **out, size_t *n);
void diff__free_changes(struct diff_change *c, size_t n);

/* "func+0x1a/0x80 [mod]" as a diff shows it: "func [mod]"; NULL: "?". To free(). */
char *diff__frame_name(const char *sym);
/* A user frame as exports name it, its binary as a frame's module: "func [binary]". */
char *diff__user_frame_name(const struct model_uframe *f);

/*
 * The name a frame is matched by: "func+0x1a/0x80 [mod]" becomes
 * "func [mod]" without compiler suffixes (".isra.0", ".constprop.0",
 * ".cold", ...) or "_noprof"; every entry point of the slab allocator
 * (kmalloc, __kmalloc_node_track_caller_noprof, kmem_cache_alloc_lru,
 * kmalloc_trace, kvmalloc_node, ...) and, in a site of allocator a (enum
 * kleak_allocator), of that one (__alloc_pages, alloc_vmap_area,
 * pcpu_alloc, ...) becomes the one name DIFF_ALLOCATOR;
 * NULL (unresolved) becomes "?". Returns a string to free(), or NULL with
 * errno set.
 */
char *diff__frame_key(const char *sym, enum kleak_allocator a);

#define DIFF_ALLOCATOR "<allocator>"

#endif /* __KLEAK_DIFF_H */
