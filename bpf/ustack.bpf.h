/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --ustack: the allocating thread's user stack. In fp mode (the default)
 * it is walked here, each frame proven by its binary's call frame
 * information (uwalk.bpf.h), and kept as the build ID of its binary (a
 * hash the linker stores in the ELF file) and the offset in that file: a
 * frame then names the same code in every process and after the process
 * exited, whatever its ASLR layout, and sites of many short-lived processes
 * add up. With --ustack=dwarf the registers and the top of the stack go to
 * userspace, which unwinds them.
 *
 * Only an allocation made for the current task has a user stack: a kernel
 * thread's and one made in softirq or hardirq (in_task_context()) keep a
 * kernel-only site, their state saying why. Each new user stack tells
 * userspace its process, which reads the process's mappings while it lives
 * to find the binaries its frames' build IDs name, for their symbols.
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
#include "uwalk.bpf.h"

#define PF_KTHREAD	0x00200000
#define EEXIST		17

/* --ustack=dwarf: registers and stack go to userspace, which unwinds them */
const volatile bool ustack_dwarf;

/* user stack hash -> frames; a stack is stored by its first allocation */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, struct kleak_ustack);
	__uint(max_entries, 1);	/* sized by --stack-entries, 1 without --ustack */
} ustacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1);	/* sized by the loader with --ustack */
} ustack_procs SEC(".maps");

/* ~8.4 KiB a sample, sized by the loader with --ustack=dwarf */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1);
} ustack_samples SEC(".maps");

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

/* The user registers in DWARF numbering (see kleak_usample); false if unreadable. */
static __always_inline bool user_regs(__u64 *regs)
{
	struct pt_regs *r = cur_user_regs();

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
 * --ustack=dwarf, after the allocation at addr was recorded at ts_ns in
 * site: its registers and the top of its user stack, for userspace to
 * unwind (see kleak_usample). The stack is read a page at a time: past
 * sp's page the stack may end. A global function (verified once); a
 * failure is counted in stats slot slot.
 */
__noinline int ustack_sample(__u64 addr, __u64 ts_ns, __u32 site, __u32 slot)
{
	__u64 id = bpf_get_current_pid_tgid(), sp;
	struct kleak_usample *e;
	struct kleak_stats *s;
	__u32 len, first;

	/* dead code without --ustack (see ustack_on) */
	if (!ustack_on)
		return 0;
	e = bpf_ringbuf_reserve(&ustack_samples, sizeof(*e), 0);
	if (!e) {
		s = stats_get(slot);
		if (s)
			s->counters[STAT_USTACK_SAMPLE_DROPPED]++;
		return 0;
	}
	e->addr = addr;
	e->ts_ns = ts_ns;
	e->site = site;
	e->tgid = id >> 32;
	e->pid = (__u32)id;
	e->len = 0;
	if (!user_regs(e->regs))
		goto fault;
	sp = e->regs[7];
	first = 4096 - (sp & 4095);
	/* bounded again next to the call, as 6.1's verifier needs */
	barrier_var(first);
	if (first > 4096 || bpf_probe_read_user(e->stack, first, (void *)sp))
		goto fault;
	len = first;
	if (len <= KLEAK_USTACK_COPY - 4096 &&
	    !bpf_probe_read_user(e->stack + len, 4096, (void *)(sp + len)))
		len += 4096;
	e->len = len;
	bpf_ringbuf_submit(e, sample_wakeup());
	return 0;
fault:
	s = stats_get(slot);
	if (s)
		s->counters[STAT_USTACK_SAMPLE_FAULT]++;
	bpf_ringbuf_submit(e, sample_wakeup());
	return 0;
}

/*
 * site->ustate = state, through this CPU's stats: a constant stored in
 * each branch made the verifier walk the rest of the allocation program
 * once per state (--ustack=dwarf's kmalloc_raw: 672,116 instructions,
 * 229,000 without --ustack); a value loaded from a map is one unknown
 * number for every branch. The same for the stack's hash.
 */
static __always_inline __u64 launder(struct kleak_stats *s, __u64 v)
{
	*(volatile __u64 *)&s->scratch = v;
	return *(volatile __u64 *)&s->scratch;
}

/*
 * Whether the current task has a user context for an allocation: IRQ
 * (made by a softirq or hardirq that interrupted it, see
 * task_context_at()), KTHREAD (none), SAMPLED (--ustack=dwarf takes a sample), or OK for
 * the walk; counted in stats slot slot. ctx_addr: the program's context,
 * as a number; ctx_is_record: a classic tracepoint's. A global function,
 * verified once: inlined, its branches made 6.12's verifier walk the rest of
 * the allocation programs again (478,526 instructions, 227,116 without).
 */
__noinline int ustack_context(__u64 ctx_addr, __u32 ctx_is_record, __u32 slot)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct kleak_stats *s = stats_get(slot);

	if (!s)
		return KLEAK_USTACK_FAULT;
	/* first: a softirq that interrupted a kernel thread (the idle task) is a softirq */
	if (!task_context_at(task, ctx_addr, ctx_is_record, (__u64)BPF_CORE_READ(task, stack))) {
		s->counters[STAT_USTACK_IRQ]++;
		return KLEAK_USTACK_IRQ;
	}
	if (!BPF_CORE_READ(task, mm) || (BPF_CORE_READ(task, flags) & PF_KTHREAD)) {
		s->counters[STAT_USTACK_KTHREAD]++;
		return KLEAK_USTACK_KTHREAD;
	}
	return ustack_dwarf ? KLEAK_USTACK_SAMPLED : KLEAK_USTACK_OK;
}

/*
 * fp: the current task's user stack walked and stored by its hash (the
 * first of a stack tells userspace its process, to read its mappings while
 * it lives, for symbols); the walk's losses counted in stats slot slot.
 * The site's state: OK with the hash in the walk's site_hash, FAULT (not
 * even the first frame placed) or MAP_FULL. A global function.
 */
__noinline int ustack_walk_site(__u32 slot)
{
	struct kleak_stats *s = stats_get(slot);
	struct kleak_proc_event ev;
	__u32 zero = 0, cut;
	struct uwalk *w;
	__u64 hash;
	long err;
	int n;

	/* dead code without --ustack (see ustack_on) */
	if (!ustack_on)
		return KLEAK_USTACK_FAULT;
	n = uwalk_run();
	w = bpf_map_lookup_elem(&uwalk_buf, &zero);
	if (!w || !s)
		return KLEAK_USTACK_FAULT;
	w->site_hash = 0;
	/* the reason's offset checked itself: 6.1's verifier lost a range check clang folded */
	cut = w->cut - STAT_USTACK_CUT_NOT_TEXT;
	barrier_var(cut);
	if (cut <= STAT_USTACK_CUT_FAULT - STAT_USTACK_CUT_NOT_TEXT)
		s->counters[STAT_USTACK_CUT_NOT_TEXT + cut]++;
	if (w->more)
		s->counters[STAT_USTACK_TRUNCATED]++;
	s->counters[STAT_USTACK_LEARN_DROPPED] += w->learn_dropped;
	if (!n) {
		s->counters[STAT_USTACK_FAULT]++;
		return KLEAK_USTACK_FAULT;
	}
	/* a final avalanche, as the kernel stacks' hash; 0 stays free */
	hash = (w->hash ^ (w->hash >> 33)) | 1;
	w->site_hash = hash;
	if (bpf_map_lookup_elem(&ustacks, &hash))
		return KLEAK_USTACK_OK;
	err = bpf_map_update_elem(&ustacks, &hash, &w->u, BPF_NOEXIST);
	if (!err) {
		ev.tgid = w->u.tgid;
		ev.pid = (__u32)bpf_get_current_pid_tgid();
		ev.ustack = hash;
		if (bpf_ringbuf_output(&ustack_procs, &ev, sizeof(ev), 0))
			s->counters[STAT_USTACK_PROC_DROPPED]++;
	} else if (err != -EEXIST) {
		w->site_hash = 0;
		s->counters[STAT_USTACK_MAP_FULL]++;
		return KLEAK_USTACK_MAP_FULL;
	}
	return KLEAK_USTACK_OK;
}

/*
 * Sets site->ustack and site->ustate for an allocation that passed the
 * filters. ctx_is_record: a classic tracepoint's context (see
 * in_task_context()); slot: the calling program's stats entry.
 */
static __always_inline void ustack_get(void *ctx, struct kleak_stats *s, __u32 slot,
				       bool ctx_is_record, struct kleak_site *site)
{
	__u32 zero = 0;
	struct uwalk *w;
	int st;

	if (!ustack_on)
		return;
	st = ustack_context(as_number(s, ctx), ctx_is_record, slot);
	if (st == KLEAK_USTACK_OK)
		st = ustack_walk_site(slot);
	w = bpf_map_lookup_elem(&uwalk_buf, &zero);
	site->ustate = launder(s, st);
	site->ustack = launder(s, w && st == KLEAK_USTACK_OK ? w->site_hash : 0);
}

#endif /* __USTACK_BPF_H */
