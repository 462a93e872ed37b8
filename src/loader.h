/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Skeleton open, configuration, load and attach: picks the program variant
 * the running kernel supports, sizes the maps, and turns the known
 * environment failures into one line each.
 */
#ifndef __KLEAK_LOADER_H
#define __KLEAK_LOADER_H

#include <sys/types.h>
#include "kleak.h"
#include "opts.h"

struct ustack;
struct ulearn;

struct tracer {
	struct kleak_bpf *skel;
	/* the program set: "tp_btf", "raw_tp, pre-6.1 events", "compat", ... */
	const char *attach;
	int allocs_fd;		/* the buckets, or -1 in the compat set */
	int allocs_hash_fd;	/* the compat set's hash store, or -1 */
	int totals_fd;
	int stacks_fd;
	int stats_fd;
	int events_fd;		/* ring buffer, or -1 without --trace */
	int tpl_requests_fd;	/* ring buffer, or -1 with --stack-cache off */
	int tpls_fd;
	int tpl_routes_fd;
	int tpl_pending_fd;
	__u32 stack_depth;
	int ustacks_fd;		/* --ustack: user stacks, or -1 */
	int ustack_procs_fd;	/* --ustack: ring buffer of new processes, or -1 */
	__u32 ustack_depth;
	int ustack_samples_fd;	/* --ustack=dwarf: ring buffer of samples, or -1 */
	/* --ustack (fp): the walker's CFI rows, binaries, requests (ring buffer); else -1 */
	int urows_fd;
	__u32 urows_elems;
	int ubins_fd;
	int ulearn_fd;
	/* --ustack: the mappings and symbols of user frames; set by the run */
	struct ustack *ustack;
	/* --ustack (fp): the walker's call frame information; set by the run */
	struct ulearn *ulearn;
	/* the allocs map, mapped read-only; alloc_buckets of them (NULL, 0 in compat) */
	const struct kleak_bucket *buckets;
	__u32 alloc_buckets;
	__u32 max_sites;
	/* the allocators traced: slab always, the others as asked and available */
	bool allocators[KLEAK_ALLOC_MAX];
};

/*
 * Opens, configures, loads and attaches. target_tgid is the process to
 * trace (0: none; a spawned command is followed with its descendants).
 * Returns a tracer or NULL with errno set, after printing one error line.
 */
struct tracer *tracer__start(const struct env *env, pid_t target_tgid);
void tracer__free(struct tracer *t);
/*
 * Detaches every program and waits until none runs: the maps then hold the
 * run's final, exact counters (the books of model.h balance).
 */
void tracer__detach(struct tracer *t);

/*
 * The allocs geometry for max_allocs records (see kleak_bucket_of()): groups
 * of 1 << *group_shift buckets; returns the number of buckets.
 */
__u32 tracer__alloc_geometry(__u64 max_allocs, __u32 *groups, __u32 *group_shift);

/* Maps t->allocs_fd's alloc_buckets buckets read-only at t->buckets; 0 or -errno. */
int tracer__map_buckets(struct tracer *t);
void tracer__unmap_buckets(struct tracer *t);

/* Recursion misses of the attached programs, from bpf_prog_info; 0 without a skeleton. */
__u64 tracer__recursion_misses(const struct tracer *t);

/* Now on the BPF side's clock (bpf_ktime_get_ns(): CLOCK_MONOTONIC), in ns. */
__u64 tracer__now_ns(void);

#endif /* __KLEAK_LOADER_H */
