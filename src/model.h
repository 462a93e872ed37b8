/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report model: one run's outstanding allocations per site, symbolized,
 * with the run's metadata and what it could not see. Built live from the BPF
 * maps (snapshot.c) or read from a saved run (record.c); rendered by report.c
 * and compared by diff.c. Nothing here refers to a live kernel, so a saved run
 * renders exactly as it did live.
 */
#ifndef __KLEAK_MODEL_H
#define __KLEAK_MODEL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "kleak.h"

#define MODEL_TOP_COMMS 3

/*
 * Where a site allocates, from the irq, softirq and NMI entry frames of its
 * stack (see snapshot.c): the preempt count is a per-CPU variable BPF can
 * reach only through kallsyms, which lacks data symbols on kernels without
 * CONFIG_KALLSYMS_ALL.
 */
enum kleak_ctx {
	KLEAK_CTX_TASK,
	KLEAK_CTX_SOFTIRQ,
	KLEAK_CTX_HARDIRQ,
	KLEAK_CTX_NMI,
	KLEAK_CTX_MAX,
};

struct model_frame {
	__u64 addr;
	/* "function+0xoff [module]", or NULL when the address is not in kallsyms */
	char *sym;
};

/*
 * A user frame (--ustack), symbolized when the run was taken: a saved run
 * carries it as it is, so it prints after the process, and its binary, are
 * gone.
 */
struct model_uframe {
	/* "ns::Class::method(args)+0xoff", or NULL when no symbol was found */
	char *sym;
	char *module;		/* the binary's path as mapped, NULL: not known */
	char *srcline;		/* "file:line" from DWARF, NULL: none */
	/* lowercase hex; empty where the kernel gave a raw address */
	char build_id[2 * KLEAK_BUILD_ID_SIZE + 1];
	__u64 offset;		/* in the file; the raw address where build_id is empty */
	/* the binary at module has another build ID now: sym is NULL, never guessed */
	bool replaced;
};

struct model_comm {
	char comm[KLEAK_COMM_LEN];
	__u64 count;
};

/*
 * Who holds an outstanding object, decided at report time (classify.c) for
 * task_struct, filp and socket objects; saved-run format 3 keeps one per age.
 */
enum model_held {
	HELD_UNKNOWN,	/* not a kind kleak classifies, or the walk could not run */
	HELD_LIVE,	/* task in the task list, running or sleeping */
	HELD_ZOMBIE,	/* task exited, not yet reaped */
	HELD_REAPED,	/* task in no task list: held by a kernel reference only */
	HELD_FD,	/* file or socket in some process's fd table */
	HELD_NO_FD,	/* file or socket in no fd table: held by the kernel */
	HELD_ORPHAN,	/* sock with no struct socket any more (sock_orphan(), closing) */
	HELD_GONE,	/* freed between the records' read and the walk */
	HELD_MAPPED,	/* file in no fd table, mapped into a process's memory (or its exe) */
	HELD_MERGED,	/* in a cache merged with other kinds', and found by no walk */
	HELD_MAX,
};

/* An example object of one class, at most MODEL_HELD_EXAMPLES per class and site. */
#define MODEL_HELD_EXAMPLES 3
struct model_object {
	__u32 held;		/* enum model_held */
	__u32 pid;		/* task pid, or the tgid whose fd table holds it; 0: none */
	__u32 tgid;
	__s32 fd;		/* -1: none */
	__u64 count;		/* file references (f_count); 0 for other kinds */
	__s64 last_ran_ms;	/* task: ms since it last ran (exit, for the dead); -1: unknown */
	/* mapped: the address range of the process's mappings of the file; 0, 0: its exe */
	__u64 map_start, map_end;
	char comm[KLEAK_COMM_LEN];
	char *desc;		/* path, or socket state and addresses; NULL: none */
};

struct model_site {
	__u32 kind;				/* enum kleak_site_kind */
	char cache[KLEAK_CACHE_NAME_LEN];	/* display name, e.g. "kmalloc-192" */
	__u64 obj_size;				/* bytes_alloc of every object here */
	/* stack capture error (negative errno), 0 when frames are valid */
	int stack_err;
	size_t n_frames;
	struct model_frame *frames;
	/* --ustack: enum kleak_ustack_state; the user frames, innermost first */
	__u32 ustate;
	size_t n_uframes;
	struct model_uframe *uframes;
	/* age in ms of every outstanding allocation, sorted oldest first */
	size_t n_ages;
	__u32 *ages_ms;
	/* totals kept by the kernel: outstanding now, allocated, retired */
	__s64 count;
	__s64 bytes;
	__u64 allocs;
	__u64 retired;
	__u64 retired_bytes;
	__u64 ctx[KLEAK_CTX_MAX];
	size_t n_comms;
	struct model_comm comms[MODEL_TOP_COMMS];
	/* interval mode: outstanding count at the end of each interval */
	size_t n_trend;
	__s64 *trend;
	/* live only, never saved: each age's object address (classify.c reads them) */
	__u64 *addrs;
	/* who holds each age's object (enum model_held), NULL: not classified */
	__u8 *held;
	__u64 n_held[HELD_MAX];	/* from held, by model__count_held() */
	size_t n_examples;
	struct model_object *examples;
};

/* Active objects of one slab cache in /proc/slabinfo at start and end. */
struct model_slab {
	char name[64];
	__s64 active_start;
	__s64 active_end;
};

/*
 * A merged slab cache: one struct kmem_cache created under several names.
 * The tracepoints and /proc/slabinfo name it by whichever name created it
 * first (name); the others are its aliases, so a site "in ftrace_event_field"
 * may hold damon_region objects. Kept in the model, so a saved run names them
 * too: only caches some site of the run is in.
 */
struct model_merged {
	char name[KLEAK_CACHE_NAME_LEN];
	size_t n_aliases;
	char **aliases;		/* sorted, name itself not among them */
};

struct model_meta {
	char *version;
	char *kernel;
	char *hostname;
	char *boot_id;
	char *cmdline;
	char *filters;
	char *attach;		/* "tp_btf", "tracepoint", "tp_btf (pre-6.1 layout)", ... */
	__u64 start_s;		/* wall clock, seconds since the epoch */
	__u64 end_s;
	__u32 sample_rate;
	__u64 interval_s;	/* 0 outside interval mode */
	/*
	 * How the run's report was printed, so that a saved run prints as it did
	 * live (saved-run format 2). report_saved is false where the file did
	 * not keep them (format 1): the command line or the defaults decide.
	 */
	bool report_saved;
	__u64 older_ms;
	__u64 top;		/* 0: every site */
	bool caches;		/* the per-cache summary was shown */
	char *exclude;		/* --exclude REGEX, NULL: none */
	char *cache;		/* --cache NAME the run was traced with, NULL: none */
	/* --raw-addresses: a saved run keeps frame addresses, not only symbols */
	bool raw_addresses;
	/* the map sizes of a live run (--max-allocs, --max-sites); 0 in a saved run */
	__u64 max_allocs;
	__u64 max_sites;
};

/*
 * The kernel's own counters of the allocators beside the per-cache
 * slabinfo, at start and end (#17): /proc/meminfo's and /proc/vmstat's,
 * all in kB (vmstat's pages converted), named as saved runs name them.
 */
enum model_kcounter {
	KC_SLAB,		/* Slab */
	KC_SUNRECLAIM,		/* SUnreclaim */
	KC_MEMFREE,		/* MemFree */
	KC_VMALLOC_USED,	/* VmallocUsed: pages backing vmalloc() areas */
	KC_PERCPU,		/* Percpu: the percpu allocator's chunks */
	KC_LRU,			/* nr_lru: the LRU lists' sum, user and page-cache pages */
	KC_NR_SLAB_RECLAIMABLE,	/* nr_slab_reclaimable */
	KC_NR_SLAB_UNRECLAIMABLE,	/* nr_slab_unreclaimable */
	KC_NR_PAGE_TABLE_PAGES,	/* nr_page_table_pages */
	KC_NR_KERNEL_STACK,	/* nr_kernel_stack */
	KC_MAX,
};

struct model_kcounter_val {
	bool seen;		/* read at start and end */
	__s64 start_kb;
	__s64 end_kb;
};

struct model {
	struct model_meta meta;
	struct model_kcounter_val kcounters[KC_MAX];
	size_t n_sites;
	struct model_site *sites;
	size_t n_slabs;
	struct model_slab *slabs;
	size_t n_merged;
	struct model_merged *merged;
	__u64 stats[STAT_MAX];
	__u64 recursion_misses;
	/* frames kallsyms could not resolve, over all sites */
	__u64 unresolved_frames;
	/* slots of the sites map taken, freed or not (a live run's; 0 when unknown) */
	__u64 sites_used;
	/*
	 * The books (model__books()): the kernel's outstanding count over
	 * every site, --exclude's too; and the records made or ended while a
	 * live report read the counters (0 once the programs are detached).
	 * books_kept is false for a saved run of format 1 or 2.
	 */
	bool books_kept;
	__u64 outstanding;
	__u64 books_slack;
	/*
	 * Each allocator's books too (model__allocator_books()): false for a
	 * saved run written before its counters had every term.
	 */
	bool allocator_books_kept;
	/*
	 * Object classes: the kinds classified ("task_struct filp sockets"),
	 * NULL when none was; why the others were not, NULL for no reason given.
	 */
	char *held_kinds;
	char *held_missing;
};

/*
 * The identity every run's counters satisfy:
 *   alloc_events = the sum of each event's one outcome (failed, kleak's own,
 *                  filtered out, irq not attributed, sampled out, a map full
 *                  or busy, recorded)
 *   recorded     = frees matched + retired (unseen frees) + outstanding
 * Exact once the programs are detached (the final report, a saved run);
 * a live report reads while they run: its first line is off by at most the
 * events in progress on each CPU, its second by books_slack as well.
 */
struct model_books {
	__s64 events_unaccounted;	/* alloc_events - its outcomes */
	__s64 records_unaccounted;	/* recorded - frees - retired - outstanding */
};

/*
 * Whether the run's kernel had a slab cache called name: in /proc/slabinfo
 * at its start, a site's, or an alias of a merged one. True where the run
 * kept no slabinfo (it cannot tell).
 */
bool model__knows_cache(const struct model *m, const char *name);

/* The books of m; false when m does not keep them (an old saved run). */
bool model__books(const struct model *m, struct model_books *b);
/* The same of allocator a (enum kleak_allocator) alone. */
bool model__allocator_books(const struct model *m, int a, struct model_books *b);

/*
 * Allocator a's share of run-wide counter stat (slab's: the totals less
 * the others'), stat STAT_MAX for the outstanding term; a < 0 for the
 * whole run's.
 */
__u64 model__allocator_stat(const struct model *m, int a, int stat);

/*
 * Adds the counters of one stats slot (enum kleak_stats_slot) to stats:
 * to the totals, and to its allocator's own counters where it is not slab.
 */
void model__add_slot_stats(__u64 stats[STAT_MAX], __u32 slot, const __u64 counters[STAT_MAX]);

/* Returns a zeroed model, or NULL with errno set. */
struct model *model__new(void);
void model__free(struct model *m);

/* Appends a zeroed site; returns it, or NULL with errno set. */
struct model_site *model__add_site(struct model *m);
struct model_slab *model__add_slab(struct model *m);
/* Appends a merged cache without aliases; returns it, or NULL with errno set. */
struct model_merged *model__add_merged(struct model *m, const char *name);
/* Adds a copy of alias, kept sorted; 0, -EEXIST for one already there, or -ENOMEM. */
int model_merged__add_alias(struct model_merged *g, const char *alias);
/* The merged cache named cache (as a site names it), or NULL for a cache of its own. */
const struct model_merged *model__merged_of(const struct model *m, const char *cache);

/*
 * Removes the sites with a symbolized frame matching re (--exclude: known
 * noise such as a test rig's filesystem). Returns how many were removed.
 */
size_t model__drop_sites(struct model *m, const regex_t *re);
/* Frees what site s holds (not s itself). */
void model_site__clear(struct model_site *s);
/* Removes and frees the sites whose drop[] is set, the others kept in order; returns how many. */
size_t model__drop_marked(struct model *m, const bool *drop);

/* Outstanding allocations of a site at least min_age_ms old. */
size_t model_site__count_older(const struct model_site *s, __u32 min_age_ms);

/*
 * Whether most of the site's frees go unseen: its records were dropped
 * because their address was allocated again (the free took a bulk path
 * without a kmem event, such as kmem_cache_free_bulk() for maple tree nodes)
 * more often than a free was matched, and for at least one in four of its
 * allocations. Its outstanding objects are then mostly freed ones whose
 * address has not come round again: not a leak signal.
 */
bool model_site__frees_unseen(const struct model_site *s);

/*
 * Allocation events the BPF programs counted but neither recorded, sampled
 * out nor lost for a counted reason: those the filters left out, failed
 * (NULL) allocations and kleak's own. BPF does not count them one by one
 * (the filter-miss path stays one compare), so they are the remainder.
 */
__u64 model__alloc_events_left_out(const struct model *m);

/*
 * What the run lost, summed over the causes the "not seen:" line names:
 * allocations not recorded (maps full or busy), stacks lost, forked tasks not
 * followed, recursion misses and dropped trace events. Frames left unresolved
 * are not losses of events and are not in it.
 */
__u64 model__not_seen_events(const struct model *m);
/* A user stack state's name in saved runs and JSON ("captured", "irq", ...), or NULL. */
const char *model__ustate_name(__u32 ustate);
/* Why a site has no user frames, as reports say it; NULL for one that has them. */
const char *model__ustate_str(__u32 ustate);
/* Display name of a class ("reaped", "no-fd"), and the class named name or -1. */
const char *model__held_name(int held);
int model__held_by_name(const char *name);
/* Sets every site's n_held from its held array. */
void model__count_held(struct model *m);
/* Appends a zeroed example to s; returns it, or NULL with errno set. */
struct model_object *model_site__add_example(struct model_site *s);
/*
 * --held-by: keeps only each site's objects of class held (its count, bytes,
 * ages and examples become theirs) and the sites that have some. Returns
 * how many sites were removed.
 */
size_t model__keep_held(struct model *m, int held);

/* How a stack_err is shown: -ENOMEM stacks map full, else the walk failed. */
const char *model__stack_err_str(int err);
/* Display names of STAT_* counters and of contexts, as used in reports and records. */
const char *model__stat_name(int stat);
/* A counter an older kleak wrote that this one no longer keeps: read and ignored. */
bool model__stat_retired(const char *name);
const char *model__ctx_name(int ctx);
/* Whether the run traced allocator a (enum kleak_allocator): slab always, the others where they saw events. */
bool model__traced_allocator(const struct model *m, int a);
/* Whether stat belongs in a report: the counters of allocators not traced are left out. */
bool model__stat_shown(const struct model *m, int stat);
/* A kernel counter's name ("VmallocUsed", "nr_lru"), as saved runs and JSON name it. */
const char *model__kcounter_name(int kc);

#endif /* __KLEAK_MODEL_H */
