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

/* A new user stack's process, for userspace to read its mappings while it lives. */
static __always_inline void ustack_announce(struct kleak_stats *s, const struct cur *c, __u64 hash)
{
	struct kleak_proc_event ev = { .tgid = c->tgid, .pid = c->pid, .ustack = hash };

	if (bpf_ringbuf_output(&ustack_procs, &ev, sizeof(ev), 0))
		s->counters[STAT_USTACK_PROC_DROPPED]++;
}

/* Hashes the frames, flags what a report should say of them; 0 frames: none. */
static __always_inline __u64 ustack_hash(struct kleak_stats *s, const struct kleak_ustack *u)
{
	__u64 h = 0xcbf29ce484222325ULL;
	bool raw = false;
	__u32 i, j;

	for (i = 0; i < KLEAK_MAX_USTACK_DEPTH; i++) {
		const __u64 *w = (const __u64 *)&u->frames[i];

		if (i >= u->nframes)
			break;
		raw |= u->frames[i].status == KLEAK_UFRAME_IP;
		for (j = 0; j < sizeof(u->frames[0]) / sizeof(__u64); j++)
			h = (h ^ w[j]) * 0x100000001b3ULL;
	}
	if (raw)
		s->counters[STAT_USTACK_RAW_IP]++;
	if (u->nframes <= 2)
		s->counters[STAT_USTACK_SHORT]++;
	if (u->nframes * sizeof(struct kleak_uframe) >= ustack_bytes)
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
