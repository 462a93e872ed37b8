// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Outstanding slab allocations per kernel stack: the hooks. Every
 * allocation event is filtered first (filters.bpf.h), and only what passes
 * pays for the stack (stack.bpf.h). Frees are never filtered: whoever frees
 * a recorded address (an RCU callback, a kworker, a softirq) retires it, and
 * allocations and frees are paired by address across all four events
 * (allocs.bpf.h), because objects from a cache are often freed with
 * kfree(). Totals per site (stack + cache) are kept in the kernel
 * (sites.bpf.h).
 *
 * Program sets, one loaded (userspace picks by probing the kernel, see
 * src/kernel_features.c, and disables the rest with bpf_program__set_autoload()):
 * - tp_btf: no tracefs, no record copy, the struct kmem_cache itself, and a
 *   per-program recursion guard instead of the per-CPU one classic
 *   tracepoints share, which dropped 2-3% of frees;
 * - raw_tp: the same guard with untyped arguments, for kernels whose
 *   verifier refuses tp_btf reading the events' "const void *" (before
 *   ~6.5), in the 6.1+ and the older event layouts;
 * - tracepoint: classic tracepoints (forced, for testing: raw_tp loads wherever they do);
 * - compat: raw_tp for kernels without BPF atomics, task storage or
 *   bpf_get_current_task_btf() (5.8-5.11, RHEL 8): the hash store and
 *   tracking by task address. Every shared function takes `compat` as a
 *   constant, so each program keeps only its own set's code.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "kleak.h"
#include "core_fixes.bpf.h"
#include "allocs.bpf.h"
#include "filters.bpf.h"
#include "sites.bpf.h"
#include "stack.bpf.h"
#include "stats.bpf.h"
#include "task.bpf.h"
#include "ustack.bpf.h"

const volatile __u32 sample_rate = 1;

/*
 * An allocation of any allocator: kind says which; slot is the calling
 * program's stats entry, which is the allocator's own (userspace sums each
 * allocator's slots: its share of every counter); ctx_record: the context
 * is a classic tracepoint's record, off the stack. Every allocation event
 * ends in exactly one of the counters after STAT_ALLOC_EVENTS here (failed,
 * kleak's own, filtered out, user pages left out, irq, sampled out, a map
 * full or busy, recorded): the books model__books() checks.
 */
static __always_inline int alloc_event(void *ctx, __u32 slot, __u64 call_site, bool ctx_record,
				       __u64 addr, __u64 bytes, __u32 kind, __u64 cache,
				       const char *name, const bool compat)
{
	struct kleak_stats *s = stats_get(slot);
	struct kleak_site_totals *t;
	struct kleak_site site = {};
	struct kleak_alloc rec = {};
	__u64 *frames = NULL;
	bool busy = false;
	struct cur c;

	if (!s)
		return 0;
	s->counters[STAT_ALLOC_EVENTS]++;
	if (!addr) {
		s->counters[STAT_FAILED_ALLOCS]++;
		return 0;
	}
	/* any allocation of a recorded address, filtered or not, proves its free was missed */
	if (forget(slot, addr, true, NULL, compat))
		s->counters[STAT_REALLOC_RETIRED]++;
	cur_get(&c, compat);
	if (s->own_alloc || c.tgid == self_tgid) {
		s->counters[STAT_OWN_ALLOCS]++;
		return 0;
	}
	if (!alloc_wanted(&c, bytes, kind, name, compat)) {
		s->counters[STAT_FILTERED_OUT]++;
		return 0;
	}
	/* counted among the filtered tasks' pages only: what --pages=all would add */
	if (kind == KLEAK_SITE_PAGES_USER && !pages_user) {
		s->counters[STAT_PAGES_USER]++;
		return 0;
	}
	if (task_filtered() && !in_task_context(s, ctx, ctx_record, &c, compat)) {
		s->counters[STAT_IRQ_NOT_ATTRIBUTED]++;
		return 0;
	}
	if (sample_rate > 1 && bpf_get_prandom_u32() % sample_rate) {
		s->counters[STAT_SAMPLED_OUT]++;
		return 0;
	}

	site.kind = kind;
	site.cache = cache;
	stack_get(ctx, s, &c, call_site, &site, &frames, compat);
	if (site.stack_err)
		s->counters[STAT_STACK_FAULT]++;
	ustack_get(ctx, s, &c, ctx_record, &site, compat);
	if (!site_index(s, &site, bytes, frames, kind == KLEAK_SITE_CACHE ? name : NULL,
			&rec.site)) {
		s->counters[STAT_SITE_MAP_FULL]++;
		return 0;
	}
	/* never NULL (site_index checked it), but counted, so the books still balance */
	t = totals_of(rec.site);
	if (!t) {
		s->counters[STAT_SITE_MAP_FULL]++;
		return 0;
	}

	rec.ts_ns = bpf_ktime_get_ns();
	rec.pid = c.pid;
	comm_copy(rec.comm, &c, compat);

	if (!record(addr, &rec, &busy, compat)) {
		s->counters[busy ? STAT_ALLOC_MAP_BUSY : STAT_ALLOC_MAP_FULL]++;
		return 0;
	}
	__sync_fetch_and_add(&t->count, 1);
	__sync_fetch_and_add(&t->allocs, 1);
	s->counters[STAT_ALLOCS]++;
	/*
	 * The knob first: a branch on site.ustate alone makes the verifier
	 * tell its values apart through the rest of the program, which took
	 * --ustack's raw_tp programs past the instruction limit.
	 */
	if (ustack_dwarf && site.ustate == KLEAK_USTACK_SAMPLED)
		ustack_sample(s, &c, addr, &rec, compat);
	if (trace_events)
		emit(slot, KLEAK_EVENT_ALLOC, addr, &rec, compat);
	return 0;
}

/* A slab allocation: classic tracepoints alone pass no call site (their context is a record). */
static __always_inline int on_alloc(void *ctx, __u32 slot, __u64 call_site, __u64 addr,
				    __u64 bytes, __u32 kind, __u64 cache, const char *name,
				    const bool compat)
{
	return alloc_event(ctx, slot, call_site, !call_site, addr, bytes, kind, cache, name,
			   compat);
}

/*
 * A free (slot: the program's, which is its allocator's): true when it
 * matched a record, whose site *taken (when not NULL) then gets.
 */
static __always_inline bool free_event(__u32 slot, __u64 addr, __u32 *taken, const bool compat)
{
	struct kleak_stats *s;

	if (!addr || !forget(slot, addr, false, taken, compat))
		return false;
	s = stats_get(slot);
	if (s)
		s->counters[STAT_FREES]++;
	return true;
}

static __always_inline int on_free(__u32 slot, __u64 addr, const bool compat)
{
	free_event(slot, addr, NULL, compat);
	return 0;
}

/* tp_btf, 6.1 and later */

SEC("tp_btf/kmalloc")
int BPF_PROG(kmalloc_btf, unsigned long call_site, const void *ptr, size_t bytes_req,
	     size_t bytes_alloc)
{
	return on_alloc(ctx, KLEAK_SLOT_KMALLOC, call_site, (__u64)ptr, bytes_alloc,
			KLEAK_SITE_KMALLOC, bytes_alloc, NULL, false);
}

SEC("tp_btf/kmem_cache_alloc")
int BPF_PROG(kmem_cache_alloc_btf, unsigned long call_site, const void *ptr, struct kmem_cache *s)
{
	/* tp_btf arguments are trusted pointers: plain loads, no probe_read */
	return on_alloc(ctx, KLEAK_SLOT_CACHE_ALLOC, call_site, (__u64)ptr, s->size,
			KLEAK_SITE_CACHE, (__u64)s, s->name, false);
}

SEC("tp_btf/kfree")
int BPF_PROG(kfree_btf, unsigned long call_site, const void *ptr)
{
	return on_free(KLEAK_SLOT_KFREE, (__u64)ptr, false);
}

SEC("tp_btf/kmem_cache_free")
int BPF_PROG(kmem_cache_free_btf, unsigned long call_site, const void *ptr)
{
	return on_free(KLEAK_SLOT_CACHE_FREE, (__u64)ptr, false);
}

/*
 * raw_tp: the same per-program recursion guard as tp_btf, but untyped u64
 * arguments. Kernels before about 6.5 refuse tp_btf programs that read a
 * "const void *" argument ("arg1 type UNKNOWN is not a struct", seen on 6.1),
 * which every kmem event has, so there raw_tp is the better of what is left.
 * 6.1 and later: kmalloc (call_site, ptr, bytes_req, bytes_alloc, gfp, node)
 * and kmem_cache_alloc (call_site, ptr, s, gfp, node). Before 6.1:
 * (call_site, ptr, bytes_req, bytes_alloc, gfp[, node]) for all four
 * allocation events, and no cache pointer. Both frees are (call_site, ptr[, s]).
 */

static __always_inline int on_kmalloc_raw(struct bpf_raw_tracepoint_args *ctx, const bool compat)
{
	return on_alloc(ctx, KLEAK_SLOT_KMALLOC, ctx->args[0], ctx->args[1], ctx->args[3],
			KLEAK_SITE_KMALLOC, ctx->args[3], NULL, compat);
}

static __always_inline int on_kmem_cache_alloc_raw(struct bpf_raw_tracepoint_args *ctx,
						   const bool compat)
{
	struct kmem_cache *s = (void *)ctx->args[2];

	return on_alloc(ctx, KLEAK_SLOT_CACHE_ALLOC, ctx->args[0], ctx->args[1],
			BPF_CORE_READ(s, size), KLEAK_SITE_CACHE, (__u64)s, BPF_CORE_READ(s, name),
			compat);
}

/* x86_64's direct map and struct page array, placed at boot (KASLR) */
extern const void page_offset_base __ksym __weak;
extern const void vmemmap_base __ksym __weak;

/*
 * The cache of a slab object, for the pre-6.1 events that pass none: its
 * page's, on kernels that keep it there (before 5.17, every kernel with
 * those events but 5.17-6.0). NULL where it cannot be read: the object's
 * size then names the site, as (cache of N).
 */
static __always_inline struct kmem_cache *cache_of(__u64 ptr)
{
	__u64 base = 0, vmemmap = 0, head;
	struct page___slab *page;

	if (!bpf_core_field_exists(struct page___slab, slab_cache) || !&page_offset_base ||
	    !&vmemmap_base ||
	    bpf_probe_read_kernel(&base, sizeof(base), &page_offset_base) ||
	    bpf_probe_read_kernel(&vmemmap, sizeof(vmemmap), &vmemmap_base) || ptr < base)
		return NULL;
	page = (void *)(vmemmap + ((ptr - base) >> 12) * bpf_core_type_size(struct page___slab));
	head = BPF_CORE_READ(page, compound_head);
	if (head & 1)
		page = (void *)(head - 1);
	return BPF_CORE_READ(page, slab_cache);
}

static __always_inline int on_alloc_raw_old(struct bpf_raw_tracepoint_args *ctx, __u32 slot,
					    __u32 kind, const bool compat)
{
	struct kmem_cache *s = kind == KLEAK_SITE_CACHE_UNNAMED ? cache_of(ctx->args[1]) : NULL;

	if (s)
		return on_alloc(ctx, slot, ctx->args[0], ctx->args[1], ctx->args[3],
				KLEAK_SITE_CACHE, (__u64)s, BPF_CORE_READ(s, name), compat);
	return on_alloc(ctx, slot, ctx->args[0], ctx->args[1], ctx->args[3], kind, ctx->args[3],
			NULL, compat);
}

/*
 * One raw_tp set per store: programs for the 6.1+ events, the
 * pre-6.1 ones (suffix _old), and the frees both layouts share.
 */
#define RAW_TP_SET(sfx, compat)								\
SEC("raw_tp/kmalloc")									\
int kmalloc_##sfx(struct bpf_raw_tracepoint_args *ctx)					\
{ return on_kmalloc_raw(ctx, compat); }							\
SEC("raw_tp/kmem_cache_alloc")								\
int kmem_cache_alloc_##sfx(struct bpf_raw_tracepoint_args *ctx)				\
{ return on_kmem_cache_alloc_raw(ctx, compat); }					\
SEC("raw_tp/kmalloc")									\
int kmalloc_##sfx##_old(struct bpf_raw_tracepoint_args *ctx)				\
{ return on_alloc_raw_old(ctx, KLEAK_SLOT_KMALLOC, KLEAK_SITE_KMALLOC, compat); }	\
SEC("raw_tp/kmalloc_node")								\
int kmalloc_node_##sfx##_old(struct bpf_raw_tracepoint_args *ctx)			\
{ return on_alloc_raw_old(ctx, KLEAK_SLOT_KMALLOC_NODE, KLEAK_SITE_KMALLOC, compat); }	\
SEC("raw_tp/kmem_cache_alloc")								\
int kmem_cache_alloc_##sfx##_old(struct bpf_raw_tracepoint_args *ctx)			\
{ return on_alloc_raw_old(ctx, KLEAK_SLOT_CACHE_ALLOC, KLEAK_SITE_CACHE_UNNAMED, compat); }	\
SEC("raw_tp/kmem_cache_alloc_node")							\
int kmem_cache_alloc_node_##sfx##_old(struct bpf_raw_tracepoint_args *ctx)		\
{ return on_alloc_raw_old(ctx, KLEAK_SLOT_CACHE_ALLOC_NODE, KLEAK_SITE_CACHE_UNNAMED,	\
			  compat); }							\
SEC("raw_tp/kfree")									\
int kfree_##sfx(struct bpf_raw_tracepoint_args *ctx)					\
{ return on_free(KLEAK_SLOT_KFREE, ctx->args[1], compat); }				\
SEC("raw_tp/kmem_cache_free")								\
int kmem_cache_free_##sfx(struct bpf_raw_tracepoint_args *ctx)				\
{ return on_free(KLEAK_SLOT_CACHE_FREE, ctx->args[1], compat); }

RAW_TP_SET(raw, false)
RAW_TP_SET(compat, true)

/*
 * classic tracepoints, for kernels without tp_btf; no call site is passed on:
 * their context is a record buffer, not on the stack the cache reads
 */

/* The pre-6.1 kmem_alloc and kmem_alloc_node records: no cache, no name. */
static __always_inline int on_alloc_tp_old(void *ctx,
					   const struct trace_event_raw_kmem_alloc___old *r,
					   __u32 slot, __u32 kind)
{
	__u64 bytes = BPF_CORE_READ(r, bytes_alloc);

	return on_alloc(ctx, slot, 0, (__u64)BPF_CORE_READ(r, ptr), bytes, kind, bytes, NULL,
			false);
}

SEC("tracepoint/kmem/kmalloc")
int kmalloc_tp(struct trace_event_raw_kmalloc *ctx)
{
	__u64 bytes;

	if (!bpf_core_type_exists(struct trace_event_raw_kmalloc))
		return on_alloc_tp_old(ctx, (void *)ctx, KLEAK_SLOT_KMALLOC, KLEAK_SITE_KMALLOC);
	bytes = BPF_CORE_READ(ctx, bytes_alloc);
	return on_alloc(ctx, KLEAK_SLOT_KMALLOC, 0, (__u64)BPF_CORE_READ(ctx, ptr), bytes,
			KLEAK_SITE_KMALLOC, bytes, NULL, false);
}

/* FNV-1a: an identity for a cache known only by the name in its record */
static __always_inline __u64 name_hash(const char *name)
{
	__u64 h = 0xcbf29ce484222325ULL;
	int i;

	for (i = 0; i < KLEAK_CACHE_NAME_LEN && name[i]; i++)
		h = (h ^ (__u8)name[i]) * 0x100000001b3ULL;
	return h;
}

SEC("tracepoint/kmem/kmem_cache_alloc")
int kmem_cache_alloc_tp(struct trace_event_raw_kmem_cache_alloc *ctx)
{
	char name[KLEAK_CACHE_NAME_LEN] = {};
	const char *kname;
	__u64 bytes, ptr;
	__u32 loc;

	if (!bpf_core_type_exists(struct trace_event_raw_kmem_cache_alloc))
		return on_alloc_tp_old(ctx, (void *)ctx, KLEAK_SLOT_CACHE_ALLOC,
				       KLEAK_SITE_CACHE_UNNAMED);
	bytes = BPF_CORE_READ(ctx, bytes_alloc);
	ptr = (__u64)BPF_CORE_READ(ctx, ptr);
	/* 6.1 and 6.12 records carry no name; 6.18's has a __data_loc string */
	if (!bpf_core_field_exists(ctx->__data_loc_name))
		return on_alloc(ctx, KLEAK_SLOT_CACHE_ALLOC, 0, ptr, bytes,
				KLEAK_SITE_CACHE_UNNAMED, bytes, NULL, false);
	loc = BPF_CORE_READ(ctx, __data_loc_name);
	kname = (const char *)ctx + (loc & 0xffff);
	bpf_probe_read_kernel_str(name, sizeof(name), kname);
	return on_alloc(ctx, KLEAK_SLOT_CACHE_ALLOC, 0, ptr, bytes, KLEAK_SITE_CACHE,
			name_hash(name), kname, false);
}

SEC("tracepoint/kmem/kfree")
int kfree_tp(struct trace_event_raw_kfree *ctx)
{
	return on_free(KLEAK_SLOT_KFREE, (__u64)BPF_CORE_READ(ctx, ptr), false);
}

SEC("tracepoint/kmem/kmem_cache_free")
int kmem_cache_free_tp(struct trace_event_raw_kmem_cache_free *ctx)
{
	return on_free(KLEAK_SLOT_CACHE_FREE, (__u64)BPF_CORE_READ(ctx, ptr), false);
}

SEC("tracepoint/kmem/kmalloc_node")
int kmalloc_node_tp(struct trace_event_raw_kmem_alloc___old *ctx)
{
	return on_alloc_tp_old(ctx, ctx, KLEAK_SLOT_KMALLOC_NODE, KLEAK_SITE_KMALLOC);
}

SEC("tracepoint/kmem/kmem_cache_alloc_node")
int kmem_cache_alloc_node_tp(struct trace_event_raw_kmem_alloc___old *ctx)
{
	return on_alloc_tp_old(ctx, ctx, KLEAK_SLOT_CACHE_ALLOC_NODE, KLEAK_SITE_CACHE_UNNAMED);
}

/* Marks what this CPU allocates from now on as kleak's own, in every allocation slot. */
static __always_inline void set_own_alloc(__u64 on)
{
	/* a slab refill under it allocates pages too */
	static const __u32 slots[] = {
		KLEAK_SLOT_KMALLOC, KLEAK_SLOT_KMALLOC_NODE, KLEAK_SLOT_CACHE_ALLOC,
		KLEAK_SLOT_CACHE_ALLOC_NODE, KLEAK_SLOT_PAGE_ALLOC, KLEAK_SLOT_VMAP_ALLOC,
		KLEAK_SLOT_PERCPU_ALLOC,
	};
	struct kleak_stats *s;
	__u32 i;

	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		s = stats_get(slots[i]);
		if (s)
			s->own_alloc = on;
	}
}

/* pages, vmalloc and percpu: on alloc_event() and free_event() above */
#include "allocators.bpf.h"

/* --follow and -- CMD: every task forked by a traced one is traced too. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	struct kleak_stats *s = stats_get(KLEAK_SLOT_FORK);
	struct cur p = { .task = parent };
	void *mark;

	if (!s || (parent->tgid != targ_tgid && !is_tracked(&p, false)))
		return 0;
	set_own_alloc(1);
	mark = bpf_task_storage_get(&tracked, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	set_own_alloc(0);
	if (!mark)
		s->counters[STAT_TRACKED_FULL]++;
	return 0;
}

/* The compat set's: the parent is the current task; the hash is preallocated. */
SEC("raw_tp/sched_process_fork")
int sched_process_fork_compat(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 child = ctx->args[1];
	struct cur p;
	__u8 one = 1;

	cur_get(&p, true);
	if (p.tgid != targ_tgid && !is_tracked(&p, true))
		return 0;
	if (bpf_map_update_elem(&tracked_tasks, &child, &one, BPF_ANY))
		stat_inc(KLEAK_SLOT_FORK, STAT_TRACKED_FULL);
	return 0;
}

/* After the task's last allocation, before its address can be another task's. */
SEC("raw_tp/sched_process_free")
int sched_process_free_compat(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 task = ctx->args[0];

	bpf_map_delete_elem(&tracked_tasks, &task);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
