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
	/* one per counting program: see enum kleak_stats_slot */
	__uint(max_entries, KLEAK_STATS_SLOTS);
} stats SEC(".maps");

/* The calling program's entry; slot is a constant of each program. */
static __always_inline struct kleak_stats *stats_get(__u32 slot)
{
	return bpf_map_lookup_elem(&stats, &slot);
}

/*
 * A pointer as a plain number, stored in this CPU's stats and loaded back:
 * the verifier refuses arithmetic on a context pointer, and newer kernels
 * (6.18.44 here) type an untyped kernel pointer such as task->stack as
 * read-only untrusted memory, whose difference with a number it then
 * refuses to store in 32 bits.
 */
static __always_inline __u64 as_number(struct kleak_stats *s, const void *p)
{
	*(volatile __u64 *)&s->scratch = (__u64)p;
	return *(volatile __u64 *)&s->scratch;
}

static __always_inline void stat_inc(__u32 slot, enum kleak_stat i)
{
	struct kleak_stats *s = stats_get(slot);

	if (s)
		s->counters[i]++;
}

#endif /* __STATS_BPF_H */
