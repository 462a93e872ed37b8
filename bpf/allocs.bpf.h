/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The outstanding allocations, by address, in one of two stores:
 *
 * - the atomic sets: mapped buckets of six slots (see kleak.h), claimed and
 *   taken with compare-and-swap (BPF atomics, 5.12);
 * - the compat set, for kernels without BPF atomics: a preallocated BPF
 *   hash map keyed by address. Its update with BPF_NOEXIST and its delete
 *   are each atomic in the kernel, so a record is still taken exactly once:
 *   the CPU whose delete succeeds charges the site. It costs a bucket lock
 *   and a free-list push per record and free (make bench measures it).
 *
 * forget() and record() take the set as a constant `compat`.
 */
#ifndef __ALLOCS_BPF_H
#define __ALLOCS_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include "kleak.h"
#include "sites.bpf.h"
#include "stats.bpf.h"
#include "task.bpf.h"

const volatile bool trace_events;
/* allocs holds bucket_groups << bucket_group_shift buckets (see kleak_bucket_of) */
const volatile __u32 bucket_groups = 1;
const volatile __u32 bucket_group_shift;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	/* a report reads the records in place */
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct kleak_bucket);
	__uint(max_entries, 1);	/* sized by --max-allocs */
} allocs SEC(".maps");

/*
 * One bit per allocs bucket, set before a record first goes in and never
 * cleared: a free of an address whose first bucket never held a record stops
 * at this bitmap (21 KiB at defaults) without touching the buckets, whose
 * lines are cold (a miss each, most of a late free's cost). With a filter
 * that selects a few allocations that is nearly every free in the system.
 * Never cleared, because a bucket emptied on one CPU can be filled on
 * another between the check and the clear; a long or unfiltered run sets
 * them all, and frees then cost what they did without it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);	/* one word per 64 buckets */
} bucket_used SEC(".maps");

/* address -> record: the compat set's store, sized by --max-allocs */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, struct kleak_alloc);
	__uint(max_entries, 1);
} allocs_hash SEC(".maps");


struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1);	/* sized by the loader when --trace is on */
} events SEC(".maps");

/*
 * Set before the first record goes into allocs, never cleared. Until then,
 * the usual state when a filter matches nothing, frees and filtered-out
 * allocations skip the buckets (a cache miss each). A count of live records
 * would allow the same after everything is freed again, but it cost an
 * atomic on one cache line every CPU shares per recorded allocation and free
 * (kmem_cache_alloc went from 840 to 751 ns per event here without it), and
 * a leak hunt keeps records outstanding anyway.
 */
bool any_recorded;

/* --trace: a recorded allocation, or the free of one and who freed it. */
static __always_inline void emit(__u32 slot, __u32 type, __u64 addr, const struct kleak_alloc *a,
				 const bool compat)
{
	struct kleak_event *e;
	struct cur c;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(slot, STAT_EVENTS_DROPPED);
		return;
	}
	e->type = type;
	e->addr = addr;
	e->alloc = *a;
	e->free_ts_ns = 0;
	e->free_pid = 0;
	__builtin_memset(e->free_comm, 0, sizeof(e->free_comm));
	if (type == KLEAK_EVENT_FREE) {
		cur_get(&c, compat);
		e->free_ts_ns = bpf_ktime_get_ns();
		e->free_pid = c.pid;
		comm_copy(e->free_comm, &c, compat);
	}
	bpf_ringbuf_submit(e, 0);
}

static __always_inline struct kleak_bucket *bucket_get(__u32 idx)
{
	return bpf_map_lookup_elem(&allocs, &idx);
}

static __always_inline __u64 *bucket_used_word(__u32 idx)
{
	__u32 word = idx / 64;

	return bpf_map_lookup_elem(&bucket_used, &word);
}

/* Whether a record ever went into bucket idx (see bucket_used). */
static __always_inline bool bucket_ever_used(__u32 idx)
{
	__u64 *w = bucket_used_word(idx);

	return w && (*w & (1ULL << (idx % 64)));
}

/* Before a record's address goes into bucket idx: a free of it comes after. */
static __always_inline void bucket_mark_used(__u32 idx)
{
	__u64 *w = bucket_used_word(idx), bit = 1ULL << (idx % 64);

	if (w && !(*w & bit))
		__sync_fetch_and_or(w, bit);
}

/*
 * Takes addr's record out of bucket b: 1 when it was there, 0 when not, -1
 * when another CPU took it first. With retired set, the address is being
 * allocated again, so its free was never seen: the record is retired and
 * charged to its site instead of staying behind as a false leak.
 */
static __always_inline int take(__u32 slot, struct kleak_bucket *b, __u64 addr, bool retired,
				__u32 *taken)
{
	struct kleak_alloc copy;
	__u32 i, site;

	for (i = 0; i < KLEAK_BUCKET_SLOTS; i++) {
		if (b->addr[i] != addr)
			continue;
		if (trace_events && !retired)
			copy = b->rec[i];
		/*
		 * A free and a retirement of one address can race (the kfree
		 * event comes before the memory is free): whoever takes the
		 * site charges it, once.
		 */
		site = b->rec[i].site;
		if (site == KLEAK_NO_SITE ||
		    __sync_val_compare_and_swap(&b->rec[i].site, site, KLEAK_NO_SITE) != site)
			return -1;
		b->addr[i] = 0;
		site_sub(site, retired);
		if (taken)
			*taken = site;
		if (trace_events && !retired)
			emit(slot, KLEAK_EVENT_FREE, addr, &copy, false);
		return 1;
	}
	return 0;
}

/* The bucket store's forget() (see take()). */
static __always_inline bool forget_bucketed(__u32 slot, __u64 addr, bool retired, __u32 *taken)
{
	struct kleak_bucket *first, *b;
	__u32 w, idx;
	int r;

	/* a record spills only once its first bucket's own slots are taken: marked used */
	idx = kleak_bucket_of(addr, 0, bucket_groups, bucket_group_shift);
	if (!bucket_ever_used(idx))
		return false;
	first = bucket_get(idx);
	if (!first)
		return false;
	r = take(slot, first, addr, retired, taken);
	if (r || !first->spilled)
		return r > 0;
	for (w = 1; w < KLEAK_BUCKET_WAYS; w++) {
		idx = kleak_bucket_of(addr, w, bucket_groups, bucket_group_shift);
		if (!bucket_ever_used(idx))
			continue;
		b = bucket_get(idx);
		if (!b)
			continue;
		r = take(slot, b, addr, retired, taken);
		if (r > 0)
			__sync_fetch_and_add(&first->spilled, -1);
		if (r)
			return r > 0;
	}
	return false;
}

/*
 * Claims a free slot of bucket idx for addr: the slot is claimed, the record
 * written, and only then does the address go in, so that readers never see
 * half a record. Sets *busy when another CPU took a slot this one was about
 * to.
 */
static __always_inline bool claim(struct kleak_bucket *b, __u32 idx, __u32 slots, __u64 addr,
				  const struct kleak_alloc *rec, bool *busy)
{
	__u32 i;

	for (i = 0; i < slots; i++) {
		if (b->addr[i])
			continue;
		if (__sync_val_compare_and_swap(&b->addr[i], 0, KLEAK_ADDR_CLAIMED)) {
			*busy = true;
			continue;
		}
		b->rec[i] = *rec;
		bucket_mark_used(idx);
		barrier();
		b->addr[i] = addr;
		return true;
	}
	return false;
}

static __always_inline __u32 free_slots(const struct kleak_bucket *b)
{
	__u32 i, n = 0;

	for (i = 0; i < KLEAK_BUCKET_SLOTS; i++)
		n += !b->addr[i];
	return n;
}

/* Claims a slot of bucket idx for addr, whose first bucket is full. */
static __always_inline bool spill(struct kleak_bucket *first, __u32 first_idx, struct kleak_bucket *b,
				  __u32 idx, __u64 addr, const struct kleak_alloc *rec, bool *busy)
{
	/* a record back in its first bucket is found there: not a spill */
	bool counted = idx != first_idx;

	/* counted before the address goes in, so that a free of it looks on */
	if (counted)
		__sync_fetch_and_add(&first->spilled, 1);
	if (claim(b, idx, KLEAK_BUCKET_SLOTS, addr, rec, busy))
		return true;
	if (counted)
		__sync_fetch_and_add(&first->spilled, -1);
	return false;
}

/*
 * Records addr in its first bucket, or where that has no room for it (see
 * KLEAK_FIRST_SLOTS) in the emptier of its other two, or else in the first
 * bucket's spare slots. False when none has room.
 */
static __always_inline bool record_bucketed(__u64 addr, const struct kleak_alloc *rec, bool *busy)
{
	__u32 idx = kleak_bucket_of(addr, 0, bucket_groups, bucket_group_shift), idx1, idx2, t;
	struct kleak_bucket *first, *b1, *b2, *bt;

	first = bucket_get(idx);
	if (!first)
		return false;
	if (claim(first, idx, KLEAK_FIRST_SLOTS, addr, rec, busy))
		return true;
	idx1 = kleak_bucket_of(addr, 1, bucket_groups, bucket_group_shift);
	idx2 = kleak_bucket_of(addr, 2, bucket_groups, bucket_group_shift);
	b1 = bucket_get(idx1);
	b2 = bucket_get(idx2);
	if (!b1 || !b2)
		return false;
	if (free_slots(b2) > free_slots(b1)) {
		bt = b1, b1 = b2, b2 = bt;
		t = idx1, idx1 = idx2, idx2 = t;
	}
	/* last, the slots the first bucket keeps for others' spills */
	return spill(first, idx, b1, idx1, addr, rec, busy) ||
	       spill(first, idx, b2, idx2, addr, rec, busy) ||
	       claim(first, idx, KLEAK_BUCKET_SLOTS, addr, rec, busy);
}

/* The compat store's forget(): the CPU whose delete succeeds took the record. */
static __always_inline bool forget_hashed(__u32 slot, __u64 addr, bool retired, __u32 *taken)
{
	struct kleak_alloc *a, copy;
	__u32 site;

	a = bpf_map_lookup_elem(&allocs_hash, &addr);
	if (!a)
		return false;
	site = a->site;
	if (trace_events && !retired)
		copy = *a;
	if (bpf_map_delete_elem(&allocs_hash, &addr))
		return false;
	site_sub(site, retired);
	if (taken)
		*taken = site;
	if (trace_events && !retired)
		emit(slot, KLEAK_EVENT_FREE, addr, &copy, true);
	return true;
}

/*
 * Removes the record of addr, if any; true when this call did (slot: the
 * calling program's stats). With retired
 * set, the address is being allocated again, so its free was never seen:
 * the record is retired and charged to its site instead of staying behind
 * as a false leak. *taken (when not NULL) gets the record's site.
 */
static __always_inline bool forget(__u32 slot, __u64 addr, bool retired, __u32 *taken,
				   const bool compat)
{
	if (!any_recorded)
		return false;
	return compat ? forget_hashed(slot, addr, retired, taken) :
			forget_bucketed(slot, addr, retired, taken);
}

/*
 * Records addr; false when the store has no room (*busy: other CPUs took
 * the free slots first, or an allocation of the same address raced).
 */
static __always_inline bool record(__u64 addr, const struct kleak_alloc *rec, bool *busy,
				   const bool compat)
{
	long err;

	if (!any_recorded)
		any_recorded = true;
	if (!compat)
		return record_bucketed(addr, rec, busy);
	err = bpf_map_update_elem(&allocs_hash, &addr, rec, BPF_NOEXIST);
	*busy = err == -EEXIST;
	return !err;
}

#endif /* __ALLOCS_BPF_H */
