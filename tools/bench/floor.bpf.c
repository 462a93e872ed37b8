// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark's floor: an empty program on each of the four hooks kleak
 * uses. Whatever this costs (trampoline, run context, recursion guard) every
 * tp_btf tracer on these events pays; kleak's own cost is what it adds on top.
 * With --pages, the page allocator's three events too (kleak --pages).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/kmalloc")
int BPF_PROG(kmalloc_floor)
{
	return 0;
}

SEC("tp_btf/kfree")
int BPF_PROG(kfree_floor)
{
	return 0;
}

SEC("tp_btf/kmem_cache_alloc")
int BPF_PROG(kmem_cache_alloc_floor)
{
	return 0;
}

SEC("tp_btf/kmem_cache_free")
int BPF_PROG(kmem_cache_free_floor)
{
	return 0;
}

SEC("tp_btf/mm_page_alloc")
int BPF_PROG(mm_page_alloc_floor)
{
	return 0;
}

SEC("tp_btf/mm_page_free")
int BPF_PROG(mm_page_free_floor)
{
	return 0;
}

SEC("tp_btf/mm_page_free_batched")
int BPF_PROG(mm_page_free_batched_floor)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
