/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * CO-RE flavours of kernel types that changed under the kmem tracepoints, so
 * one object loads on 5.x, 6.1, 6.12 and 6.18. The committed vmlinux.h is
 * from 6.18; everything older is declared here.
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
 * tracepoint argument named the cache. The kmem_alloc_node record only adds
 * a node after these fields, so one flavour reads both.
 */
struct trace_event_raw_kmem_alloc___old {
	unsigned long call_site;
	const void *ptr;
	size_t bytes_req;
	size_t bytes_alloc;
} __attribute__((preserve_access_index));

#endif /* __CORE_FIXES_BPF_H */
