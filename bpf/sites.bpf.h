/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Per-site totals kept in the kernel, so that a report never has to count
 * allocations it is not shown: a site (stack + cache) gets an index into
 * site_totals on its first allocation, and every allocation, free and
 * retirement adds to it with an atomic add (BPF_XADD, which every kernel
 * kleak runs on has).
 */
#ifndef __SITES_BPF_H
#define __SITES_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include "kleak.h"
#include "stack.bpf.h"

#define EEXIST 17

const volatile __u32 nr_cpus = 1;

/* site key -> index into site_totals */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct kleak_site);
	__type(value, __u32);
	__uint(max_entries, 1);	/* sized by --max-sites */
} sites SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct kleak_site_totals);
	__uint(max_entries, 1);	/* sized by --max-sites */
} site_totals SEC(".maps");

/*
 * Each CPU hands out the indices of site_totals congruent to its id modulo
 * nr_cpus: no atomic on a counter every CPU would share.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} site_cursor SEC(".maps");

static __always_inline struct kleak_site_totals *totals_of(__u32 idx)
{
	return bpf_map_lookup_elem(&site_totals, &idx);
}

/*
 * The index of a site, created on its first allocation together with its
 * stack; the cache name is read then too, never per allocation. Returns
 * false when the site tables are full.
 */
static __always_inline bool site_index(struct kleak_stats *s, const struct kleak_site *site,
				       __u64 obj_size, const __u64 *frames, const char *name,
				       __u32 *idx)
{
	struct kleak_site_totals *t;
	__u32 *found, *cursor, zero = 0;
	long err;

	if (s->last_site.stack == site->stack && s->last_site.cache == site->cache &&
	    s->last_site.kind == site->kind && s->last_site.stack_err == site->stack_err &&
	    s->last_site.ustack == site->ustack && s->last_site.ustate == site->ustate) {
		*idx = s->last_idx;
		return true;
	}
	found = bpf_map_lookup_elem(&sites, site);
	if (found) {
		*idx = *found;
		s->last_site = *site;
		s->last_idx = *found;
		return true;
	}
	cursor = bpf_map_lookup_elem(&site_cursor, &zero);
	if (!cursor)
		return false;
	*idx = *cursor * nr_cpus + bpf_get_smp_processor_id();
	t = totals_of(*idx);
	if (!t)
		return false;
	if (frames) {
		err = bpf_map_update_elem(&stacks, &site->stack, frames, BPF_NOEXIST);
		if (err && err != -EEXIST)
			s->counters[STAT_STACK_MAP_FULL]++;
	}
	(*cursor)++;
	t->site = *site;
	t->obj_size = obj_size;
	if (name)
		bpf_probe_read_kernel_str(t->cache_name, sizeof(t->cache_name), name);
	err = bpf_map_update_elem(&sites, site, idx, BPF_NOEXIST);
	if (!err)
		return true;
	/* another CPU created it first: its slot wins, this one stays unused */
	found = bpf_map_lookup_elem(&sites, site);
	if (!found)
		return false;
	*idx = *found;
	return true;
}

static __always_inline void site_sub(__u32 idx, bool retired)
{
	struct kleak_site_totals *t = totals_of(idx);

	if (!t)
		return;
	__sync_fetch_and_add(&t->count, -1);
	if (retired)
		__sync_fetch_and_add(&t->retired, 1);
}

#endif /* __SITES_BPF_H */
