/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The only types and constants that cross the BPF/userspace boundary: map keys
 * and values, the stats counter indices, the trace event and the limits both
 * sides size their buffers by. Included by bpf/kleak.bpf.c after vmlinux.h and
 * by userspace after <linux/types.h>.
 */
#ifndef __KLEAK_H
#define __KLEAK_H

#define KLEAK_COMM_LEN		16
#define KLEAK_CACHE_NAME_LEN	32
/* A merged slab cache answers to every alias name; see src/slabcache.c. */
#define KLEAK_MAX_CACHE_NAMES	16
#define KLEAK_MAX_STACK_DEPTH	127

/* Where an allocation happened, from the preempt count at the time. */
enum kleak_ctx {
	KLEAK_CTX_TASK,
	KLEAK_CTX_SOFTIRQ,
	KLEAK_CTX_HARDIRQ,
	KLEAK_CTX_NMI,
	KLEAK_CTX_MAX,
};

/* How kleak_site.cache is to be read. */
enum kleak_site_kind {
	/* cache is the struct kmem_cache address; the name is in the site value */
	KLEAK_SITE_CACHE,
	/* cache is bytes_alloc of a kmalloc(): the object lives in kmalloc-<cache> */
	KLEAK_SITE_KMALLOC,
	/* cache is bytes_alloc of a kmem_cache_alloc() whose tracepoint names no cache */
	KLEAK_SITE_CACHE_UNNAMED,
};

/*
 * Key of the per-site totals: one stack in one cache. A stack_id < 0 is the
 * negative errno of a failed stack capture, so allocations whose stack was lost
 * are still counted, under a site of their own.
 */
struct kleak_site {
	__u64 cache;
	__s32 stack_id;
	__u32 kind;
};

/* Outstanding objects of one site, kept by the BPF programs. */
struct kleak_site_totals {
	__s64 count;
	__s64 bytes;
	/* allocations recorded at this site since attach */
	__u64 allocs;
	/*
	 * Records retired because their address was allocated again while
	 * outstanding: the free happened on a path without a kmem event
	 * (kmem_cache_free_bulk, kfree_bulk), so it was never seen.
	 */
	__u64 retired;
	__u64 retired_bytes;
	char cache_name[KLEAK_CACHE_NAME_LEN];
};

/* One outstanding allocation, keyed by its address. */
struct kleak_alloc {
	struct kleak_site site;
	__u64 ts_ns;
	__u64 size;
	__u32 pid;
	__u32 tgid;
	char comm[KLEAK_COMM_LEN];
	__u8 ctx;
	__u8 pad[7];
};

/* Everything that was seen, and everything that could not be recorded. */
enum kleak_stat {
	STAT_ALLOC_EVENTS,	/* allocation events seen, before any filter */
	STAT_ALLOCS,		/* allocations that passed the filters and were recorded */
	STAT_SAMPLED_OUT,	/* passed the filters, skipped by --sample-rate */
	STAT_FREES,		/* frees matched to a recorded allocation */
	STAT_ALLOC_MAP_FULL,	/* allocation not recorded: allocs map full */
	STAT_SITE_MAP_FULL,	/* allocation not recorded: sites map full */
	STAT_STACK_COLLISION,	/* stack not captured: stack map bucket taken (-EEXIST) */
	STAT_STACK_MAP_FULL,	/* stack not captured: stack map full (-ENOMEM) */
	STAT_STACK_FAULT,	/* stack not captured: any other error */
	STAT_REALLOC_RETIRED,	/* address allocated again while outstanding */
	STAT_EVENTS_DROPPED,	/* --trace events lost: ring buffer full */
	STAT_TRACKED_FULL,	/* a forked child could not be marked as traced */
	STAT_MAX,
};

struct kleak_stats {
	__u64 counters[STAT_MAX];
};

enum kleak_event_type {
	KLEAK_EVENT_ALLOC,
	KLEAK_EVENT_FREE,
};

/* --trace: one per recorded allocation and per free of a recorded one. */
struct kleak_event {
	__u64 addr;
	struct kleak_alloc alloc;
	__u64 free_ts_ns;
	__u32 free_pid;
	__u32 type;
	char free_comm[KLEAK_COMM_LEN];
};

#endif /* __KLEAK_H */
