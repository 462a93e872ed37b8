/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The per-CPU counters of everything seen and everything lost (enum
 * kleak_stat), and the state each CPU keeps between events.
 */
#ifndef __STATS_BPF_H
#define __STATS_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include "kleak.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct kleak_stats);
	__uint(max_entries, 1);
} stats SEC(".maps");

static __always_inline struct kleak_stats *stats_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline void stat_inc(enum kleak_stat i)
{
	struct kleak_stats *s = stats_get();

	if (s)
		s->counters[i]++;
}

#endif /* __STATS_BPF_H */
