/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What an allocation must be to be recorded: the filters, cheapest first,
 * every one decided before the stack walk. Frees are never filtered.
 */
#ifndef __FILTERS_BPF_H
#define __FILTERS_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include "kleak.h"
#include "task.bpf.h"

const volatile __u32 self_tgid;
const volatile __u32 targ_tgid;
const volatile bool follow;
const volatile bool filter_cgroup;
const volatile bool filter_comm;
const volatile char targ_comm[KLEAK_COMM_LEN];
const volatile __u64 comm_mask[2];
const volatile __u64 min_size;
const volatile __u64 max_size = ~0ULL;
const volatile bool filter_cache;
const volatile __u32 n_cache_names;
const volatile char cache_names[KLEAK_MAX_CACHE_NAMES][KLEAK_CACHE_NAME_LEN];
/* bytes_alloc of the kmalloc-N cache named by --cache; 0: kmalloc never matches */
const volatile __u64 cache_kmalloc_size;

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} cgroup_filter SEC(".maps");

/*
 * Two 8-byte compares on a check every allocation in the system pays for.
 * comm_mask covers the name and its NUL: kernels before strscpy_pad() in
 * __set_task_comm() may leave bytes of an older, longer name after it.
 */
static __always_inline bool comm_matches(const struct cur *c, const bool compat)
{
	/* keep volatile: clang folds a const object read through a plain pointer */
	const volatile __u64 *want = (const volatile __u64 *)targ_comm;
	__u64 comm[2];

	comm_copy((char *)comm, c, compat);
	return !((comm[0] ^ want[0]) & comm_mask[0]) && !((comm[1] ^ want[1]) & comm_mask[1]);
}

static __always_inline bool name_matches(const char *name, int idx)
{
	int i;

	for (i = 0; i < KLEAK_CACHE_NAME_LEN; i++) {
		if (name[i] != cache_names[idx][i])
			return false;
		if (!name[i])
			break;
	}
	return true;
}

static __always_inline bool cache_matches(__u32 kind, __u64 bytes, const char *kname)
{
	char name[KLEAK_CACHE_NAME_LEN] = {};
	int i;

	if (kind == KLEAK_SITE_KMALLOC)
		return bytes == cache_kmalloc_size;
	if (!kname || bpf_probe_read_kernel_str(name, sizeof(name), kname) < 0)
		return false;
	for (i = 0; i < KLEAK_MAX_CACHE_NAMES; i++) {
		if (i >= n_cache_names)
			break;
		if (name_matches(name, i))
			return true;
	}
	return false;
}

/* Cheapest checks first; all of them before the stack walk. */
static __always_inline bool alloc_wanted(const struct cur *c, __u64 bytes, __u32 kind,
					 const char *name, const bool compat)
{
	if (c->tgid == self_tgid)
		return false;
	if (bytes < min_size || bytes > max_size)
		return false;
	if (targ_tgid && c->tgid != targ_tgid && !(follow && is_tracked(c, compat)))
		return false;
	if (filter_cgroup && bpf_current_task_under_cgroup(&cgroup_filter, 0) != 1)
		return false;
	if (filter_comm && !comm_matches(c, compat))
		return false;
	if (filter_cache && !cache_matches(kind, bytes, name))
		return false;
	return true;
}

#endif /* __FILTERS_BPF_H */
