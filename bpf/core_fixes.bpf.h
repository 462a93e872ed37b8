/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * CO-RE flavours of kernel types that changed under the kmem tracepoints and
 * the preempt count, so one object loads on 5.x, 6.1, 6.12 and 6.18. The
 * committed vmlinux.h is from 6.18; everything older is declared here.
 */
#ifndef __CORE_FIXES_BPF_H
#define __CORE_FIXES_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

/*
 * Before 6.1 ("mm/slab_common: drop kmem_alloc & avoid dereferencing fields
 * when not using", and the unification of the NUMA/UMA tracepoints in the same
 * series) kmalloc and kmem_cache_alloc shared the kmem_alloc event class, the
 * kmalloc_node and kmem_cache_alloc_node events existed, and no record or
 * tracepoint argument named the cache.
 */
struct trace_event_raw_kmem_alloc___old {
	unsigned long call_site;
	const void *ptr;
	size_t bytes_req;
	size_t bytes_alloc;
} __attribute__((preserve_access_index));

struct trace_event_raw_kmem_alloc_node___old {
	unsigned long call_site;
	const void *ptr;
	size_t bytes_req;
	size_t bytes_alloc;
} __attribute__((preserve_access_index));

/*
 * The preempt count lived in struct pcpu_hot from 6.2 ("x86/percpu: Move
 * preempt_count next to current_task") until 6.15 dissolved pcpu_hot; before
 * and after, it is the __preempt_count per-CPU variable.
 */
struct pcpu_hot___x {
	int preempt_count;
} __attribute__((preserve_access_index));

extern struct pcpu_hot___x pcpu_hot __ksym __weak;
extern const int __preempt_count __ksym __weak;

static __always_inline int preempt_count_now(void)
{
	if (bpf_core_type_exists(struct pcpu_hot___x))
		return ((struct pcpu_hot___x *)bpf_this_cpu_ptr(&pcpu_hot))->preempt_count;
	if (&__preempt_count)
		return *(int *)bpf_this_cpu_ptr(&__preempt_count);
	return 0;
}

#endif /* __CORE_FIXES_BPF_H */
