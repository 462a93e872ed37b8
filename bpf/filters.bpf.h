/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What an allocation must be to be recorded: the filters, cheapest first,
 * every one decided before the stack walk. Frees are never filtered.
 */
#ifndef __FILTERS_BPF_H
#define __FILTERS_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "kleak.h"
#include "stats.bpf.h"
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
/*
 * --cache naming another allocator's memory (pages, pages/order-N,
 * vmalloc, percpu): the site kinds it selects, one bit each, and for one
 * order of pages the bytes of such a block (0: any)
 */
const volatile __u32 cache_kinds;
const volatile __u64 cache_page_bytes;
/* --pages=all: pages for user mappings and the page cache are recorded too */
const volatile bool pages_user;

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

	if (kleak_allocator_of(kind) != KLEAK_ALLOC_SLAB)
		return ((cache_kinds >> kind) & 1) && (!cache_page_bytes || bytes == cache_page_bytes);
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

/* A task filter is set: an allocation in an interrupt is then not the current task's. */
static __always_inline bool task_filtered(void)
{
	return targ_tgid || filter_comm || filter_cgroup;
}

/* A task stack's size where the kernel does not say it (no CONFIG_VMAP_STACK): x86_64's largest */
#define THREAD_SIZE_MAX		32768
/* in the preempt count, or the task's count on PREEMPT_RT: a softirq is being served */
#define SOFTIRQ_OFFSET		0x100

/* PREEMPT_RT counts softirqs per task; its softirqs run on the task's stack */
struct task_struct___rt {
	int softirq_disable_cnt;
} __attribute__((preserve_access_index));

/*
 * Whether the allocation is made for the current task, not by a softirq or
 * hardirq that interrupted it: in interrupt context the current task is
 * whichever one was running (a TCP server's accepted sockets, cloned in
 * softirq, were charged to the task the packet's softirq interrupted).
 * x86_64 runs hardirqs, and softirqs (from irq exit and from
 * local_bh_enable() alike), on a per-CPU IRQ stack, NMIs on their own: the
 * allocation is the task's exactly when the event fired on the task's own
 * stack. The preempt count says the same, but it is a per-CPU variable that
 * BPF reaches only through a ksym, which the kernel resolves through
 * kallsyms data symbols (CONFIG_KALLSYMS_ALL, missing on kernels such as this
 * host's) and the compat set's 5.8-5.9 kernels cannot take as a typed ksym;
 * the stack test needs neither, in every program set. Where the event fired
 * is its context for tp_btf and raw_tp (the arguments, saved on the stack by
 * the kernel's bpf_trace_run*()); for classic tracepoints, whose context is a
 * record, the pt_regs perf stores in the record's first word, whose sp perf
 * took from the tracepoint's frame. A program's own locals would not do:
 * 6.13+ may run it on a private per-CPU stack. ksoftirqd serving softirqs on
 * its own stack is ksoftirqd's (only a filter naming ksoftirqd selects it).
 * Called only under a task filter, for an allocation that passed the rest:
 * a few loads where a stack walk follows.
 */
static __always_inline bool in_task_context(struct kleak_stats *s, void *ctx, bool ctx_is_record,
					    const struct cur *c, const bool compat)
{
	struct task_struct *task = compat ? (void *)bpf_get_current_task() : c->task;
	struct pt_regs *regs = NULL;
	__u64 base, size, sp;
	__u32 pages;

	if (bpf_core_field_exists(((struct task_struct___rt *)task)->softirq_disable_cnt) &&
	    BPF_CORE_READ((struct task_struct___rt *)task, softirq_disable_cnt) & SOFTIRQ_OFFSET)
		return false;
	if (ctx_is_record) {
		if (bpf_probe_read_kernel(&regs, sizeof(regs), ctx) || !regs)
			return false;
		sp = BPF_CORE_READ(regs, sp);
	} else {
		sp = as_number(s, ctx);
	}
	base = as_number(s, cur_stack_base(c, compat));
	size = THREAD_SIZE_MAX;
	if (bpf_core_field_exists(task->stack_vm_area)) {
		pages = BPF_CORE_READ(task, stack_vm_area, nr_pages);
		if (pages)
			size = (__u64)pages << 12;
	}
	return sp - base < size;
}

/* Cheapest checks first; all of them before the stack walk. */
static __always_inline bool alloc_wanted(const struct cur *c, __u64 bytes, __u32 kind,
					 const char *name, const bool compat)
{
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
