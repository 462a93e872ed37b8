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

/*
 * Before 5.17 ("mm: Split slab into its own type") a slab page's cache was
 * in struct page itself, in the union that also holds compound_head (bit 0
 * set on a tail page, the rest pointing at its head). CO-RE finds both
 * through the anonymous unions by name.
 */
struct page___slab {
	unsigned long compound_head;
	struct kmem_cache *slab_cache;
} __attribute__((preserve_access_index));

#endif /* __CORE_FIXES_BPF_H */
