/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The only types and constants that cross the BPF/userspace boundary: map keys
 * and values, the stats counter indices, the trace event and the limits both
 * sides size their buffers by. The BPF side includes it after vmlinux.h.
 */
#ifndef __KLEAK_H
#define __KLEAK_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define KLEAK_COMM_LEN		16
#define KLEAK_CACHE_NAME_LEN	32
/* A merged slab cache answers to every alias name; see src/slabcache.c. */
#define KLEAK_MAX_CACHE_NAMES	16
#define KLEAK_MAX_STACK_DEPTH	127
/* tasks of a followed process tree not yet freed (zombies until reaped), in the compat set */
#define KLEAK_MAX_TRACKED	65536
/* --ustack-depth's bound: 64 frames of 32 bytes, 2 KiB a user stack */
#define KLEAK_MAX_USTACK_DEPTH	64
#define KLEAK_BUILD_ID_SIZE	20
/* the page allocator's largest order (MAX_PAGE_ORDER, 10 on x86_64), for --cache pages/order-N */
#define KLEAK_MAX_PAGE_ORDER	10

/* How kleak_site.cache is to be read. */
enum kleak_site_kind {
	/* cache is the struct kmem_cache address; the name is in the site value */
	KLEAK_SITE_CACHE,
	/* cache is bytes_alloc of a kmalloc(): the object lives in kmalloc-<cache> */
	KLEAK_SITE_KMALLOC,
	/* cache is bytes_alloc of a kmem_cache_alloc() whose tracepoint names no cache */
	KLEAK_SITE_CACHE_UNNAMED,
	/* the page allocator (--pages): cache is the order; a kernel page */
	KLEAK_SITE_PAGES,
	/* the same, gfp for user mappings or the page cache (--pages=all) */
	KLEAK_SITE_PAGES_USER,
	/* a vmap area (--vmalloc): cache is its size, guard page included */
	KLEAK_SITE_VMALLOC,
	/* a percpu allocation (--percpu): cache is its bytes over all CPUs */
	KLEAK_SITE_PERCPU,
	KLEAK_SITE_MAX,
};

/* The allocators a site kind belongs to; slab's are the kinds before pages. */
enum kleak_allocator {
	KLEAK_ALLOC_SLAB,
	KLEAK_ALLOC_PAGES,
	KLEAK_ALLOC_VMALLOC,
	KLEAK_ALLOC_PERCPU,
	KLEAK_ALLOC_MAX,
};

static inline enum kleak_allocator kleak_allocator_of(__u32 kind)
{
	switch (kind) {
	case KLEAK_SITE_PAGES:
	case KLEAK_SITE_PAGES_USER:
		return KLEAK_ALLOC_PAGES;
	case KLEAK_SITE_VMALLOC:
		return KLEAK_ALLOC_VMALLOC;
	case KLEAK_SITE_PERCPU:
		return KLEAK_ALLOC_PERCPU;
	default:
		return KLEAK_ALLOC_SLAB;
	}
}

/*
 * The allocs store is keyed by address, and the allocators' addresses must
 * not meet there. Slab objects are direct-map addresses, vmap areas are in
 * the vmalloc range and pages are keyed by their struct page (vmemmap):
 * kernel addresses, whose top 16 bits are all ones. A percpu pointer is an
 * offset into the per-CPU areas on x86_64 (a small number), and the
 * tracepoint set sees a page's pfn only: both are moved into the
 * non-canonical range, where no kernel address lies and each has its own bit.
 */
#define KLEAK_PERCPU_KEY(ptr)	((__u64)(ptr) ^ (1ULL << 62))
#define KLEAK_PFN_KEY(pfn)	(((__u64)(pfn) << 6) ^ (1ULL << 61))

/*
 * Key of the per-site totals: one stack in one cache. The stack is named by
 * a 64-bit hash of its frames, which is also its key in the stacks map: a
 * BPF stack map would drop every stack whose bucket another one took
 * (-EEXIST), which lost whole sites here. A capture that failed leaves
 * stack 0 and its negative errno in stack_err, so those allocations are still
 * counted, under a site of their own.
 */
struct kleak_site {
	__u64 cache;
	__u64 stack;
	__u32 kind;
	__s32 stack_err;
	/* --ustack: a hash of the user frames, as stack names the kernel's; 0 without */
	__u64 ustack;
	__u32 ustate;	/* enum kleak_ustack_state */
	__u32 pad;
};

/* Whether a site has a user stack, and why not. */
enum kleak_ustack_state {
	KLEAK_USTACK_OFF,	/* --ustack not given */
	KLEAK_USTACK_OK,	/* ustack names the frames in the ustacks map */
	KLEAK_USTACK_KTHREAD,	/* a kernel thread: no user context */
	KLEAK_USTACK_IRQ,	/* softirq or hardirq: not the interrupted task's */
	KLEAK_USTACK_FAULT,	/* the walk failed or found no frame */
	KLEAK_USTACK_MAP_FULL,	/* captured, not stored: ustacks map full */
	/* --ustack=dwarf: each allocation's sample went to userspace to unwind */
	KLEAK_USTACK_SAMPLED,
	KLEAK_USTACK_STATES,
};

/*
 * One user frame, as bpf_get_stack(BPF_F_USER_STACK | BPF_F_USER_BUILD_ID)
 * writes it (struct bpf_stack_build_id): the file's build ID and the
 * offset in it, or the raw address where the kernel could not read the
 * build ID (status BPF_STACK_BUILD_ID_IP).
 */
struct kleak_uframe {
	__s32 status;
	__u8 build_id[KLEAK_BUILD_ID_SIZE];
	__u64 offset;	/* or the ip */
};

#define KLEAK_UFRAME_EMPTY	0	/* BPF_STACK_BUILD_ID_EMPTY */
#define KLEAK_UFRAME_VALID	1	/* BPF_STACK_BUILD_ID_VALID */
#define KLEAK_UFRAME_IP		2	/* BPF_STACK_BUILD_ID_IP */

/*
 * A user stack, stored once per distinct stack. tgid is the first
 * process that made it: raw-IP frames are resolved through its mappings.
 */
struct kleak_ustack {
	__u32 tgid;
	__u32 nframes;
	struct kleak_uframe frames[KLEAK_MAX_USTACK_DEPTH];
};

/*
 * --ustack=dwarf: one per recorded allocation in task context, for
 * userspace to unwind from .eh_frame: the thread's user registers at the
 * system call (DWARF numbering, x86_64: rax rdx rcx rbx rsi rdi rbp rsp
 * r8-r15 rip) and the top of its user stack, from sp to the end of the page
 * after sp's: 4-8 KiB, at most KLEAK_USTACK_COPY. 8 KiB holds the frames of
 * all but deep or stack-hungry call chains (a frame with a large local
 * buffer ends the unwinding there, counted); perf's default is 8 KiB too.
 * The record it belongs to is named by its address and timestamp.
 */
#define KLEAK_USTACK_COPY	8192
#define KLEAK_UREGS		17

struct kleak_usample {
	__u64 addr;
	__u64 ts_ns;
	__u32 site;	/* index into site_totals */
	__u32 tgid;
	__u32 pid;
	__u32 len;	/* bytes of stack */
	__u64 regs[KLEAK_UREGS];
	__u8 stack[KLEAK_USTACK_COPY];
};

/* BPF -> userspace: a process made a user stack not seen before. */
struct kleak_proc_event {
	__u32 tgid;
	__u32 pid;
	__u64 ustack;
};

/*
 * --ustack (fp): the call frame information (CFI) the BPF walker unwinds
 * by (bpf/uwalk.bpf.h), compiled by userspace from each binary's .eh_frame
 * (src/ucfi.c): one row per file offset where the rule changes, pc << 32
 * | rule, sorted by pc. A binary's rows lie in one element of the urows
 * array (2 MiB, 262144 rows), found through the ubins map by build ID.
 */
#define KLEAK_UCFI_ROWS		(1 << 18)

struct kleak_ucfi_rows {
	__u64 row[KLEAK_UCFI_ROWS];
};

/* How the canonical frame address (CFA, the caller's sp) is found; 0: no rule here */
#define KLEAK_UCFI_CFA_SP	1	/* sp + cfa_off */
#define KLEAK_UCFI_CFA_BP	2	/* rbp + cfa_off: the function keeps a frame pointer */
#define KLEAK_UCFI_CFA_MASK	3
/* the return address is undefined: the outermost frame (_start, a thread's start) */
#define KLEAK_UCFI_RA_UNDEF	4
/* the caller's rbp, 2 bits: lost, unchanged, or saved at CFA + bp_off */
#define KLEAK_UCFI_BP_SHIFT	3
#define KLEAK_UCFI_BP_UNDEF	0
#define KLEAK_UCFI_BP_SAME	1
#define KLEAK_UCFI_BP_AT	2
/* bp_off: 11 bits, signed, in 8-byte words */
#define KLEAK_UCFI_BP_OFF_SHIFT	5
/* cfa_off: 16 bits, in 8-byte words (the return address is at CFA - 8) */
#define KLEAK_UCFI_CFA_OFF_SHIFT 16

struct kleak_build_id {
	__u8 id[KLEAK_BUILD_ID_SIZE];
};

/* A binary's rows in urows: the ubins map's value, keyed by build ID. */
struct kleak_ubin {
	__u32 elem;
	__u32 first;
	__u32 nrows;
	__u32 pad;
};

/* BPF -> userspace: the walker met a binary whose rows it does not have. */
struct kleak_ulearn {
	__u32 tgid;
	__u32 pad;
	/* the mapping it was met in: its /proc/PID/map_files name */
	__u64 start;
	__u64 end;
	/* the file: the kernel's dev_t (major << 20 | minor) and inode number */
	__u64 dev;
	__u64 ino;
	__u8 build_id[KLEAK_BUILD_ID_SIZE];
	__u32 pad2;
};

/*
 * Outstanding objects of one site, kept by the BPF programs in the site_totals
 * array at the index the sites hash gives the site's key: a free then costs
 * an inlined array access instead of a second hash lookup.
 */
struct kleak_site_totals {
	struct kleak_site site;
	/* bytes_alloc of every object here: the site key fixes the cache */
	__u64 obj_size;
	__s64 count;
	/* allocations recorded at this site since attach */
	__u64 allocs;
	/*
	 * Records retired because their address was allocated again while
	 * outstanding: the free happened on a path without a kmem event
	 * (kmem_cache_free_bulk, kfree_bulk), so it was never seen.
	 */
	__u64 retired;
	char cache_name[KLEAK_CACHE_NAME_LEN];
};

/* One outstanding allocation. */
struct kleak_alloc {
	__u64 ts_ns;
	__u32 site;	/* index into site_totals; KLEAK_NO_SITE once being freed */
	__u32 pid;
	char comm[KLEAK_COMM_LEN];
};

#define KLEAK_NO_SITE		0xffffffffU

/*
 * The outstanding allocations: an array of buckets of six slots. An
 * address's first bucket (way 0) is its neighbours': a group of 128
 * consecutive buckets stands for a 32 KiB region of memory, one bucket per
 * 256 bytes of it. Objects allocated together are mostly freed together (an
 * RCU batch), so a late free finds its record on a line or page the
 * previous free brought in: socket, TCP and fork churn's kmem_cache_free
 * went from 130-140 ns with two random buckets to 110-120 ns here. A first
 * bucket takes at most four of its own addresses; past that the record
 * spills to the emptier of two buckets anywhere (ways 1 and 2), whose two
 * spare slots keep the table balanced however densely objects pack (where
 * both are full, it takes its first bucket's spare slots), and the first
 * bucket counts it: frees and reallocations look past the first bucket only
 * where it has spilled.
 * A BPF hash map costs a locked bucket and a free-list push per delete
 * (~150 ns of a ~250 ns free here); here a free is an inlined array lookup,
 * six compares and a compare-and-swap of the record's site. A slot is
 * claimed with a compare-and-swap of its address to KLEAK_ADDR_CLAIMED,
 * which the record's address replaces once the record is written.
 * With twice as many slots as --max-allocs, all three buckets are full for
 * next to no address (counted when it happens).
 */
#define KLEAK_BUCKET_SLOTS	6
#define KLEAK_BUCKET_WAYS	3
/* slots a first bucket gives its own addresses; the rest take spills */
#define KLEAK_FIRST_SLOTS	4
#define KLEAK_WINDOW_SHIFT	8	/* 256 bytes of memory per first bucket */
#define KLEAK_REGION_SHIFT	15	/* 32 KiB, the largest common slab */
/* buckets per group, as a shift: fewer only in tables too small for one group */
#define KLEAK_GROUP_SHIFT	(KLEAK_REGION_SHIFT - KLEAK_WINDOW_SHIFT)

/* addr of a slot whose record is being written: no object lives at 1 */
#define KLEAK_ADDR_CLAIMED	1ULL

/* 256 bytes: the addresses and the spill count share the first line */
struct kleak_bucket {
	__u64 addr[KLEAK_BUCKET_SLOTS];	/* 0: the slot is free */
	/* records whose first bucket this is that went to another (way 1 or 2) */
	__u32 spilled;
	__u32 pad[3];
	struct kleak_alloc rec[KLEAK_BUCKET_SLOTS];
};
_Static_assert(sizeof(struct kleak_bucket) == 256, "a bucket is four lines");

/* A 64-bit hash's top half scaled to [0, n): no division, n any size. */
static inline __u32 kleak_scale(__u64 h, __u32 n)
{
	return (__u32)(((h >> 32) * n) >> 32);
}

/*
 * Bucket `way` of addr among groups << group_shift buckets; both sides
 * place alike.
 */
static inline __u32 kleak_bucket_of(__u64 addr, __u32 way, __u32 groups, __u32 group_shift)
{
	__u32 region, window;

	if (way == 1)
		return kleak_scale(addr * 0xc2b2ae3d27d4eb4fULL, groups << group_shift);
	if (way == 2)
		return kleak_scale(addr * 0x165667b19e3779f9ULL, groups << group_shift);
	region = kleak_scale((addr >> KLEAK_REGION_SHIFT) * 0x9e3779b97f4a7c15ULL, groups);
	window = (__u32)(addr >> KLEAK_WINDOW_SHIFT) & ((1U << group_shift) - 1);
	return region << group_shift | window;
}

/* Everything that was seen, and everything that could not be recorded. */
enum kleak_stat {
	STAT_ALLOC_EVENTS,	/* allocation events seen, before any filter */
	STAT_ALLOCS,		/* allocations that passed the filters and were recorded */
	STAT_SAMPLED_OUT,	/* passed the filters, skipped by --sample-rate */
	STAT_FREES,		/* frees matched to a recorded allocation */
	STAT_ALLOC_MAP_FULL,	/* allocation not recorded: all three of its allocs buckets full */
	STAT_ALLOC_MAP_BUSY,	/* allocation not recorded: other CPUs took the free slots first */
	STAT_SITE_MAP_FULL,	/* allocation not recorded: sites map full */
	STAT_STACK_MAP_FULL,	/* stack captured but not stored: stacks map full or busy */
	STAT_STACK_FAULT,	/* stack not captured: bpf_get_stack() failed */
	STAT_REALLOC_RETIRED,	/* address allocated again while outstanding */
	STAT_EVENTS_DROPPED,	/* --trace events lost: ring buffer full */
	STAT_TRACKED_FULL,	/* a forked child could not be marked as traced */
	STAT_STACK_CACHED,	/* stack taken from a verified template instead of a walk */
	STAT_STACK_CACHE_WRONG,	/* --stack-cache check: a template named another stack */
	STAT_TPL_DROPPED,	/* template request lost: ring buffer full */
	/* under a task filter: made in softirq or hardirq context, not the task's */
	STAT_IRQ_NOT_ATTRIBUTED,
	/* --ustack (see kleak_ustack_state), per allocation */
	STAT_USTACK_KTHREAD,	/* no user stack: a kernel thread */
	STAT_USTACK_IRQ,	/* no user stack: softirq or hardirq */
	STAT_USTACK_FAULT,	/* no user stack: the walk failed or found no frame */
	STAT_USTACK_MAP_FULL,	/* user stack not stored: ustacks map full */
	STAT_USTACK_TRUNCATED,	/* more user frames than --ustack-depth */
	/*
	 * --ustack (fp): walks that stopped before the outermost frame, where
	 * the next frame could not be proven (bpf/uwalk.bpf.h), by why
	 */
	STAT_USTACK_CUT_NOT_TEXT,	/* not in an executable mapping or its binary's text */
	STAT_USTACK_CUT_NO_BINARY,	/* code in no file, or its build ID unreadable */
	STAT_USTACK_CUT_NOT_LEARNED,	/* its binary's call frame information not loaded yet */
	STAT_USTACK_CUT_NO_CFI,	/* no call frame information there, or a rule not followed */
	STAT_USTACK_CUT_FAULT,	/* the user stack unreadable where the rule says */
	STAT_USTACK_LEARN_DROPPED,	/* a request for a binary's CFI lost: ring buffer full */
	STAT_USTACK_PROC_DROPPED,	/* a new stack's announcement lost: ring buffer full */
	STAT_USTACK_SAMPLE_DROPPED,	/* --ustack=dwarf: a sample lost: ring buffer full */
	STAT_USTACK_SAMPLE_FAULT,	/* --ustack=dwarf: registers or stack unreadable */
	/* counted by userspace at each report, over the sites */
	STAT_USTACK_MAPS_MISSED,	/* processes whose mappings could not be read */
	STAT_USTACK_UNRESOLVED,	/* user frames without a symbol */
	STAT_USTACK_REPLACED,	/* user frames whose binary changed on disk */
	STAT_USTACK_UNWIND_FAILED,	/* --ustack=dwarf: samples whose unwinding stopped early */
	STAT_USTACK_CFI_MISSED,	/* --ustack (fp): binaries whose CFI could not be loaded */
	STAT_USTACK_NO_SAMPLE,	/* --ustack=dwarf: outstanding allocations without a sample */
	/*
	 * Per allocator beside slab (--pages, --vmalloc, --percpu): the
	 * counters above of that allocator's programs alone, which are its
	 * stats slots (kleak_allocator_of_slot()), summed by userspace as it
	 * reads them (the BPF programs count each event once); slab's are
	 * the totals less these. Per allocator the books balance as the
	 * totals do: events = failed + kleak's own + filtered out (+ user
	 * pages left out) + in irq + sampled out + maps full or busy +
	 * recorded, and recorded = frees matched + retired + outstanding.
	 * NOT_RECORDED sums irq, sampled out and maps full or busy;
	 * OUTSTANDING is the allocator's sites' count, read with them.
	 */
	STAT_PAGES_EVENTS,
	STAT_PAGES_ALLOCS,
	STAT_PAGES_FREES,
	STAT_PAGES_RETIRED,
	STAT_PAGES_NOT_RECORDED,
	STAT_PAGES_FILTERED_OUT,
	STAT_PAGES_FAILED,
	STAT_PAGES_OWN,
	STAT_PAGES_IRQ,
	STAT_PAGES_SAMPLED_OUT,
	STAT_PAGES_SITE_MAP_FULL,
	STAT_PAGES_ALLOC_MAP_FULL,
	STAT_PAGES_ALLOC_MAP_BUSY,
	STAT_PAGES_OUTSTANDING,
	STAT_VMALLOC_EVENTS,
	STAT_VMALLOC_ALLOCS,
	STAT_VMALLOC_FREES,
	STAT_VMALLOC_RETIRED,
	STAT_VMALLOC_NOT_RECORDED,
	STAT_VMALLOC_FILTERED_OUT,
	STAT_VMALLOC_FAILED,
	STAT_VMALLOC_OWN,
	STAT_VMALLOC_IRQ,
	STAT_VMALLOC_SAMPLED_OUT,
	STAT_VMALLOC_SITE_MAP_FULL,
	STAT_VMALLOC_ALLOC_MAP_FULL,
	STAT_VMALLOC_ALLOC_MAP_BUSY,
	STAT_VMALLOC_OUTSTANDING,
	STAT_PERCPU_EVENTS,
	STAT_PERCPU_ALLOCS,
	STAT_PERCPU_FREES,
	STAT_PERCPU_RETIRED,
	STAT_PERCPU_NOT_RECORDED,
	STAT_PERCPU_FILTERED_OUT,
	STAT_PERCPU_FAILED,
	STAT_PERCPU_OWN,
	STAT_PERCPU_IRQ,
	STAT_PERCPU_SAMPLED_OUT,
	STAT_PERCPU_SITE_MAP_FULL,
	STAT_PERCPU_ALLOC_MAP_FULL,
	STAT_PERCPU_ALLOC_MAP_BUSY,
	STAT_PERCPU_OUTSTANDING,
	/*
	 * pages the filters selected but left out (without --pages=all): gfp
	 * for user mappings or the page cache
	 */
	STAT_PAGES_USER,
	/*
	 * a recorded block freed at a lower order than it was allocated at (a
	 * split page or folio): the record ends, the rest of the block goes
	 * untracked whether freed or kept
	 */
	STAT_PAGES_SPLIT,
	/* allocation not recorded: left out by a filter (-p, -c, --cgroup, sizes, --cache) */
	STAT_FILTERED_OUT,
	STAT_FAILED_ALLOCS,	/* allocation event of a failed (NULL) allocation */
	/* kleak's own: by its process, or the task storage of a followed child */
	STAT_OWN_ALLOCS,
	/*
	 * the pages of split blocks (STAT_PAGES_SPLIT) beyond the piece that
	 * ended the record: freed before it or after it, or kept, they match
	 * no record
	 */
	STAT_PAGES_SPLIT_UNPAIRED,
	STAT_MAX,
};

/* Allocator a's counter: pages_stat (a STAT_PAGES_* of the block above) at a's offset. */
#define KLEAK_ALLOCATOR_STATS	(STAT_VMALLOC_EVENTS - STAT_PAGES_EVENTS)
#define KLEAK_STAT_OF(a, pages_stat) \
	((pages_stat) + ((a) - KLEAK_ALLOC_PAGES) * KLEAK_ALLOCATOR_STATS)
_Static_assert(STAT_PERCPU_EVENTS - STAT_VMALLOC_EVENTS == KLEAK_ALLOCATOR_STATS &&
	       STAT_PAGES_USER - STAT_PERCPU_EVENTS == KLEAK_ALLOCATOR_STATS,
	       "every allocator has the same counters in the same order");

/*
 * The stats map holds one entry per program that counts (per CPU), so that
 * an event program interrupted by another one (a softirq's kmem_cache_alloc
 * on top of a task's kmalloc) never loses a counter update: the kernel runs
 * no program inside itself on one CPU (its recursion guard), and these plain
 * increments are safe against everything else. Userspace sums the entries.
 */
enum kleak_stats_slot {
	KLEAK_SLOT_KMALLOC,
	KLEAK_SLOT_KMALLOC_NODE,
	KLEAK_SLOT_CACHE_ALLOC,
	KLEAK_SLOT_CACHE_ALLOC_NODE,
	KLEAK_SLOT_KFREE,
	KLEAK_SLOT_CACHE_FREE,
	KLEAK_SLOT_FORK,
	/* the allocators beside slab (--pages, --vmalloc, --percpu) */
	KLEAK_SLOT_PAGE_ALLOC,
	KLEAK_SLOT_PAGE_FREE,
	KLEAK_SLOT_PAGE_FREE_BATCHED,
	KLEAK_SLOT_VMAP_ALLOC,
	KLEAK_SLOT_VMAP_FREE,
	KLEAK_SLOT_PERCPU_ALLOC,
	KLEAK_SLOT_PERCPU_FREE,
	KLEAK_STATS_SLOTS,
};

/* The allocator whose events a stats slot's programs count (slab's and fork's: slab). */
static inline enum kleak_allocator kleak_allocator_of_slot(__u32 slot)
{
	switch (slot) {
	case KLEAK_SLOT_PAGE_ALLOC:
	case KLEAK_SLOT_PAGE_FREE:
	case KLEAK_SLOT_PAGE_FREE_BATCHED:
		return KLEAK_ALLOC_PAGES;
	case KLEAK_SLOT_VMAP_ALLOC:
	case KLEAK_SLOT_VMAP_FREE:
		return KLEAK_ALLOC_VMALLOC;
	case KLEAK_SLOT_PERCPU_ALLOC:
	case KLEAK_SLOT_PERCPU_FREE:
		return KLEAK_ALLOC_PERCPU;
	default:
		return KLEAK_ALLOC_SLAB;
	}
}

/* Per CPU: the counters, and state the programs keep between events. */
struct kleak_stats {
	__u64 counters[STAT_MAX];
	/*
	 * Set around kleak's own allocations (task storage of a followed
	 * child, made in the traced parent's context), so that they are not
	 * reported as the traced process's; in every slot an allocation
	 * program reads.
	 */
	__u64 own_alloc;
	/* as_number()'s: a pointer stored and loaded back as a number */
	__u64 scratch;
	/*
	 * The site this CPU recorded last: a run of allocations from one stack
	 * (any loop in the kernel) finds its index without the sites hash.
	 */
	struct kleak_site last_site;
	__u32 last_idx;
	__u32 pad;
};

/*
 * Stack cache. A kernel stack walk costs ~2 us, most of an allocation's cost.
 * The walk reads each return address from a slot of the task's stack whose
 * place follows from the return address below it and the stack pointer, so
 * when the context of a tracepoint program sits at the same depth of the task
 * stack and every slot a first walk read holds the same return address
 * again, the walk would find the same frames: reading those slots (one copy
 * of the stack, then compares) replaces it. Userspace builds the template
 * from the words of stack the BPF side sends with the frames of a walk: it
 * checks every word that holds one of the frames, stale copies included,
 * since the walk does not say which copy it read (src/stackcache.c).
 */
#define KLEAK_TPL_SLOTS		48
/* stack words above the context a template may span */
#define KLEAK_TPL_WORDS		512
/*
 * The smallest kernel stack (THREAD_SIZE) of the architectures kleak runs on;
 * a context further than this from the stack's base is not on it.
 */
#define KLEAK_TASK_STACK_MIN	16384

/*
 * A call site reached by several call chains at one depth
 * (security_file_alloc, from open and from socket) would keep one chain's
 * template and miss the others', so templates are keyed by the return
 * address one frame further up too, read at the place the call site's route
 * names: its frame has one size, so that place is the same for every chain
 * through it. A route is keyed with caller 0.
 */
struct kleak_tpl_key {
	__u64 call_site;	/* the allocation's caller, from the tracepoint */
	__u64 caller;		/* the word at the route's caller_off */
	__u32 depth;		/* bytes from the task stack's base to the context */
	__u16 kind;		/* enum kleak_site_kind: which program's frames */
	__u16 way;		/* one of the chains that still share the rest */
};

/*
 * Chains that share the call site, the caller and the depth (alloc_empty_file
 * reached from open and from socket) get a way each, tried in turn.
 */
#define KLEAK_TPL_WAYS		4

struct kleak_tpl_route {
	__u32 caller_off;	/* words from the context */
	__u32 span;		/* words to read: every template of the route fits */
};

struct kleak_tpl {
	__u64 stack;		/* the stack hash a walk gives */
	__u32 nslots;
	__u32 span;		/* words from the context through the last slot */
	__u16 off[KLEAK_TPL_SLOTS];	/* slot positions, in words from the context */
	__u64 ip[KLEAK_TPL_SLOTS];
};

/* BPF -> userspace: the walk's frames and the stack words it read them from. */
struct kleak_tpl_request {
	struct kleak_tpl_key key;
	__u64 stack;
	__u32 nips;
	__u32 nwords;
	__u64 ips[KLEAK_MAX_STACK_DEPTH];
	__u64 words[KLEAK_TPL_WORDS];
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

/*
 * Report-time classification (bpf/classify.bpf.c): the iterators write one
 * kleak_held_rec per object they find in use, in the task list, an fd table
 * or a protocol's socket table.
 */
enum kleak_hrec_type {
	KLEAK_HREC_TASK,	/* addr is a task_struct in the task list */
	KLEAK_HREC_FILE,	/* addr is a struct file in an fd table */
	KLEAK_HREC_SOCKET,	/* addr is a struct socket (socket_alloc) behind an fd */
	KLEAK_HREC_SOCK,	/* addr is a struct sock behind an fd */
	KLEAK_HREC_SOCK_TABLE,	/* addr is a struct sock in the tcp, udp or unix table */
	/* addr is a struct file a process maps (a vma's vm_file) or runs (its mm's exe_file) */
	KLEAK_HREC_MAPPED,
};

/* task exit_state, sock flags */
#define KLEAK_EXIT_ZOMBIE	16
#define KLEAK_SOCK_DEAD		1	/* sock_orphan(): no struct socket any more */

struct kleak_held_rec {
	__u64 addr;
	__u32 type;	/* enum kleak_hrec_type */
	__u32 pid;	/* the task's pid; for fds, the fd table's tgid */
	__u32 tgid;
	__u32 fd;
	__u32 state;	/* task: exit_state; sock: sk_state */
	__u32 flags;	/* sock: KLEAK_SOCK_DEAD */
	/* mapped: the mapping's address range; both 0 for an exe_file */
	__u64 start, end;
};

/* What userspace asks the inspect iterator to read at one address. */
enum kleak_obj_kind {
	KLEAK_OBJ_NONE,
	KLEAK_OBJ_TASK,
	KLEAK_OBJ_FILE,
	KLEAK_OBJ_SOCK,
	KLEAK_OBJ_SOCKET,	/* socket_alloc, from sock_inode_cache */
	KLEAK_OBJ_MAX,
};

#define KLEAK_PATH_COMPS	8
#define KLEAK_PATH_FULL		1	/* the names reach the root */
#define KLEAK_PATH_PSEUDO	2	/* the last name is a pseudo filesystem's root */
#define KLEAK_NAME_LEN		48

struct kleak_inspect_req {
	__u64 addr;
	__u32 kind;	/* enum kleak_obj_kind */
	__u32 pad;
};

/*
 * The fields of one object read at its address; an object freed since the
 * records were read gives stale values, which userspace detects by
 * checking the record is still there.
 */
struct kleak_inspect {
	__u64 addr;
	__u32 kind;
	__u32 pid;
	__u32 tgid;
	__u32 state;		/* task exit_state, sock sk_state */
	__u32 flags;		/* task flags, sock KLEAK_SOCK_DEAD, file KLEAK_PATH_* */
	__u32 family;		/* sock */
	__u64 count;		/* file references (f_count) */
	__u64 start_ns;		/* task start, CLOCK_MONOTONIC */
	__u64 last_ran_ns;	/* task se.exec_start: when it last ran, runqueue clock */
	__u64 now_ns;		/* the inspecting task's se.exec_start: now, on that clock */
	__u16 sport, dport;	/* host order */
	__u8 saddr[16], daddr[16];
	__u64 sock;		/* socket_alloc: its struct sock */
	__u32 has_socket;	/* sock: sk_socket set */
	__u32 mode;		/* file: inode i_mode */
	char comm[KLEAK_COMM_LEN];
	/* file: dentry names, innermost first, "" past the last */
	char name[KLEAK_PATH_COMPS][KLEAK_NAME_LEN];
};

#endif /* __KLEAK_H */
