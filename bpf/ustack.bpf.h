/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --ustack: the allocating thread's user stack, walked by frame pointers
 * with bpf_get_stack(BPF_F_USER_STACK | BPF_F_USER_BUILD_ID), which gives
 * each frame as a build ID and a file offset: a frame then names the same
 * code in every process and after the process exited, whatever its ASLR
 * layout, and sites of many short-lived processes add up. Where the kernel
 * cannot read a build ID without faulting (the note's page not in the page
 * cache) it gives the raw address, counted, resolved in userspace through
 * the mappings of the process that made it.
 *
 * Only an allocation made for the current task has a user stack: a kernel
 * thread's and one made in softirq or hardirq (in_task_context()) keep a
 * kernel-only site, their state saying why. Each new user stack tells
 * userspace its process, which reads the process's mappings while it lives
 * where it does not know every frame's binary yet (src/ustack.c): a first
 * allocation comes before the dynamic loader maps the libraries, so the
 * process's first sight would not do.
 */
#ifndef __USTACK_BPF_H
#define __USTACK_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "kleak.h"
#include "filters.bpf.h"
#include "stats.bpf.h"
#include "task.bpf.h"

#define PF_KTHREAD	0x00200000
#define EEXIST		17

const volatile bool ustack_on;
/* --ustack=dwarf: registers and stack go to userspace, which unwinds them */
const volatile bool ustack_dwarf;
/* --ustack-depth in bytes of struct kleak_uframe */
const volatile __u32 ustack_bytes = KLEAK_MAX_USTACK_DEPTH * sizeof(struct kleak_uframe);

/* user stack hash -> frames; a stack is stored by its first allocation */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, struct kleak_ustack);
	__uint(max_entries, 1);	/* sized by --stack-entries, 1 without --ustack */
} ustacks SEC(".maps");

/* 2 KiB: off the 512-byte BPF stack */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct kleak_ustack);
	__uint(max_entries, 1);
} ustack_buf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1);	/* sized by the loader with --ustack */
} ustack_procs SEC(".maps");

/* ~8.4 KiB a sample, sized by the loader with --ustack=dwarf */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1);
} ustack_samples SEC(".maps");

/* x86_64's THREAD_SIZE without KASAN, where the task does not say its stack's size */
#define THREAD_SIZE_DEFAULT	16384

/*
 * The user registers at kernel entry, at the top of the task's kernel stack
 * (x86_64 pads nothing above them), in DWARF numbering. Read from where
 * task_pt_regs() finds them, in every set: bpf_task_pt_regs() is 5.15.
 */
static __always_inline bool user_regs(struct kleak_stats *s, const struct cur *c, __u64 *regs,
				      const bool compat)
{
	struct task_struct *task = compat ? (void *)bpf_get_current_task() : c->task;
	__u64 base = as_number(s, cur_stack_base(c, compat)), size = THREAD_SIZE_DEFAULT;
	struct pt_regs *r;
	__u32 pages = 0;

	if (bpf_core_field_exists(task->stack_vm_area))
		pages = BPF_CORE_READ(task, stack_vm_area, nr_pages);
	if (pages)
		size = (__u64)pages << 12;
	r = (void *)(base + size - bpf_core_type_size(struct pt_regs));
	regs[0] = BPF_CORE_READ(r, ax);
	regs[1] = BPF_CORE_READ(r, dx);
	regs[2] = BPF_CORE_READ(r, cx);
	regs[3] = BPF_CORE_READ(r, bx);
	regs[4] = BPF_CORE_READ(r, si);
	regs[5] = BPF_CORE_READ(r, di);
	regs[6] = BPF_CORE_READ(r, bp);
	regs[7] = BPF_CORE_READ(r, sp);
	regs[8] = BPF_CORE_READ(r, r8);
	regs[9] = BPF_CORE_READ(r, r9);
	regs[10] = BPF_CORE_READ(r, r10);
	regs[11] = BPF_CORE_READ(r, r11);
	regs[12] = BPF_CORE_READ(r, r12);
	regs[13] = BPF_CORE_READ(r, r13);
	regs[14] = BPF_CORE_READ(r, r14);
	regs[15] = BPF_CORE_READ(r, r15);
	regs[16] = BPF_CORE_READ(r, ip);
	return regs[7] && regs[16];
}

/*
 * A wakeup per sample is an irq_work and a context switch of kleak's at
 * tens of thousands of samples a second: userspace is woken once 2 MiB
 * (~250 samples) wait, and drains the rest before each report.
 */
static __always_inline __u64 sample_wakeup(void)
{
	return bpf_ringbuf_query(&ustack_samples, BPF_RB_AVAIL_DATA) >= (2 << 20) ?
	       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/*
 * --ustack=dwarf, after the allocation was recorded: its registers and the
 * top of its user stack, for userspace to unwind (see kleak_usample). The
 * stack is read a page at a time: past sp's page the stack may end.
 */
static __always_inline void ustack_sample(struct kleak_stats *s, const struct cur *c, __u64 addr,
					  const struct kleak_alloc *rec, const bool compat)
{
	struct kleak_usample *e;
	__u32 len, first;
	__u64 sp;

	e = bpf_ringbuf_reserve(&ustack_samples, sizeof(*e), 0);
	if (!e) {
		s->counters[STAT_USTACK_SAMPLE_DROPPED]++;
		return;
	}
	e->addr = addr;
	e->ts_ns = rec->ts_ns;
	e->site = rec->site;
	e->tgid = c->tgid;
	e->pid = c->pid;
	e->len = 0;
	if (!user_regs(s, c, e->regs, compat))
		goto fault;
	sp = e->regs[7];
	first = 4096 - (sp & 4095);
	if (bpf_probe_read_user(e->stack, first, (void *)sp))
		goto fault;
	len = first;
	if (len <= KLEAK_USTACK_COPY - 4096 &&
	    !bpf_probe_read_user(e->stack + len, 4096, (void *)(sp + len)))
		len += 4096;
	e->len = len;
	bpf_ringbuf_submit(e, sample_wakeup());
	return;
fault:
	s->counters[STAT_USTACK_SAMPLE_FAULT]++;
	bpf_ringbuf_submit(e, sample_wakeup());
}

/* A new user stack's process, for userspace to read its mappings while it lives. */
static __always_inline void ustack_announce(struct kleak_stats *s, const struct cur *c, __u64 hash)
{
	struct kleak_proc_event ev = { .tgid = c->tgid, .pid = c->pid, .ustack = hash };

	if (bpf_ringbuf_output(&ustack_procs, &ev, sizeof(ev), 0))
		s->counters[STAT_USTACK_PROC_DROPPED]++;
}

/*
 * Hashes the frames and counts what a report should say of them. The loop
 * runs its whole bound with the frames past the end masked out rather than
 * breaking there: a break per iteration hands the verifier a path per frame
 * count through the rest of the program, which took kmalloc_raw past the
 * 1,000,000-instruction limit.
 */
static __always_inline __u64 ustack_hash(struct kleak_stats *s, const struct kleak_ustack *u)
{
	__u64 h = 0xcbf29ce484222325ULL, raw = 0;
	__u32 i, j, n = u->nframes;

	for (i = 0; i < KLEAK_MAX_USTACK_DEPTH; i++) {
		const __u64 *w = (const __u64 *)&u->frames[i];
		/* all ones for a frame of the stack, zero past it */
		__u64 in = -(__u64)(i < n);

		raw += in & (u->frames[i].status == KLEAK_UFRAME_IP);
		for (j = 0; j < sizeof(u->frames[0]) / sizeof(__u64); j++)
			h = ((h ^ w[j]) * 0x100000001b3ULL & in) | (h & ~in);
	}
	s->counters[STAT_USTACK_RAW_IP] += raw;
	if (n <= 2)
		s->counters[STAT_USTACK_SHORT]++;
	if (n * sizeof(struct kleak_uframe) >= ustack_bytes)
		s->counters[STAT_USTACK_TRUNCATED]++;
	h ^= h >> 33;
	return h | 1;
}

/*
 * Sets site->ustack and site->ustate for an allocation that passed the
 * filters. ctx_is_record: a classic tracepoint's context (see
 * in_task_context()).
 */
static __always_inline void ustack_get(void *ctx, struct kleak_stats *s, const struct cur *c,
				       bool ctx_is_record, struct kleak_site *site,
				       const bool compat)
{
	struct task_struct *task = compat ? (void *)bpf_get_current_task() : c->task;
	struct kleak_ustack *u;
	__u32 zero = 0;
	long len;

	if (!ustack_on)
		return;
	if (!BPF_CORE_READ(task, mm) || (BPF_CORE_READ(task, flags) & PF_KTHREAD)) {
		site->ustate = KLEAK_USTACK_KTHREAD;
		s->counters[STAT_USTACK_KTHREAD]++;
		return;
	}
	if (!in_task_context(s, ctx, ctx_is_record, c, compat)) {
		site->ustate = KLEAK_USTACK_IRQ;
		s->counters[STAT_USTACK_IRQ]++;
		return;
	}
	if (ustack_dwarf) {
		site->ustate = KLEAK_USTACK_SAMPLED;
		return;
	}
	u = bpf_map_lookup_elem(&ustack_buf, &zero);
	if (!u)
		goto fault;
	len = bpf_get_stack(ctx, u->frames, ustack_bytes, BPF_F_USER_STACK | BPF_F_USER_BUILD_ID);
	if (len <= 0)
		goto fault;
	u->nframes = len / sizeof(struct kleak_uframe);
	u->tgid = c->tgid;
	site->ustack = ustack_hash(s, u);
	site->ustate = KLEAK_USTACK_OK;
	if (bpf_map_lookup_elem(&ustacks, &site->ustack))
		return;
	len = bpf_map_update_elem(&ustacks, &site->ustack, u, BPF_NOEXIST);
	if (!len) {
		ustack_announce(s, c, site->ustack);
	} else if (len != -EEXIST) {
		site->ustack = 0;
		site->ustate = KLEAK_USTACK_MAP_FULL;
		s->counters[STAT_USTACK_MAP_FULL]++;
	}
	return;
fault:
	site->ustate = KLEAK_USTACK_FAULT;
	s->counters[STAT_USTACK_FAULT]++;
}

#endif /* __USTACK_BPF_H */
