/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The allocating task, read two ways. The atomic sets get it from
 * bpf_get_current_task_btf() (5.11) and read its fields with plain loads;
 * the compat set, for kernels without that helper, asks helpers for the
 * pid, tgid and comm and CO-RE-reads the rest. Every function takes the set
 * as a constant `compat`, so each program keeps only its own branch (and
 * only its own maps: the compat programs must not reference task storage,
 * which is not created for them).
 *
 * Tracked tasks (--follow and -- CMD): marked at fork in BPF task storage
 * (5.11), or in the compat set in a hash keyed by the task's address, where
 * the task's free removes the mark. Both keep a task marked through its
 * exit, which allocates after sched_process_exit (exit_files(),
 * exit_notify()'s signal to the parent); a thread id would have to be
 * unmarked at exit, before it can be reused, and lose those.
 */
#ifndef __TASK_BPF_H
#define __TASK_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "kleak.h"

struct cur {
	struct task_struct *task;	/* the atomic sets only */
	__u32 tgid;
	__u32 pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u8);
} tracked SEC(".maps");

/*
 * task_struct address -> 1, from fork until the task is freed (no address
 * is reused before); preallocated: tracing programs cannot allocate map
 * elements before 6.1
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, __u8);
	__uint(max_entries, KLEAK_MAX_TRACKED);
} tracked_tasks SEC(".maps");

/*
 * Fetched once per allocation for the filters, the stack and the record: a
 * helper call measured 8-10 ns here, as much as the rest of a filter miss.
 */
static __always_inline void cur_get(struct cur *c, const bool compat)
{
	__u64 id;

	if (compat) {
		id = bpf_get_current_pid_tgid();
		c->task = NULL;
		c->tgid = id >> 32;
		c->pid = (__u32)id;
		return;
	}
	c->task = bpf_get_current_task_btf();
	c->tgid = c->task->tgid;
	c->pid = c->task->pid;
}

/* The name as bpf_get_current_comm() gives it, bytes after its NUL aside. */
static __always_inline void comm_copy(char *dst, const struct cur *c, const bool compat)
{
	/* two 8-byte loads are cheaper than the helper's copy, where the task is at hand */
	if (compat) {
		bpf_get_current_comm(dst, KLEAK_COMM_LEN);
		return;
	}
	((__u64 *)dst)[0] = *(__u64 *)&c->task->comm[0];
	((__u64 *)dst)[1] = *(__u64 *)&c->task->comm[8];
}

/* Where the current task's kernel stack starts. */
static __always_inline void *cur_stack_base(const struct cur *c, const bool compat)
{
	if (compat)
		return BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), stack);
	return c->task->stack;
}

static __always_inline bool is_tracked(const struct cur *c, const bool compat)
{
	struct task_struct *task = c->task;

	if (compat) {
		__u64 self = bpf_get_current_task();

		return bpf_map_lookup_elem(&tracked_tasks, &self) != NULL;
	}
	/*
	 * Nearly every task has no BPF task storage at all: one load on the
	 * current task instead of a helper call and a storage lookup (~20 ns
	 * per allocation of every untraced task in `-- COMMAND` mode here).
	 */
	if (bpf_core_field_exists(task->bpf_storage) && !task->bpf_storage)
		return false;
	return bpf_task_storage_get(&tracked, task, 0, 0) != NULL;
}

#endif /* __TASK_BPF_H */
