/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --ustack in userspace: the processes the BPF side announces get their
 * mappings read (umaps.c), and a report turns each site's user stack from
 * the ustacks map into symbolized model frames (usym.c).
 */
#ifndef __KLEAK_USTACK_H
#define __KLEAK_USTACK_H

#include <stddef.h>
#include <sys/types.h>
#include "loader.h"
#include "model.h"

struct ustack;

/* Returns the state for one run of tracer t, or NULL with errno set. */
struct ustack *ustack__new(const struct tracer *t);
void ustack__free(struct ustack *us);

/* ring_buffer_sample_fn for the ustack_procs ring buffer; ctx is the struct ustack. */
int ustack__on_proc(void *ctx, void *data, size_t size);

/*
 * Fills s->uframes from user stack hash of the ustacks map, symbolized;
 * counts frames without a symbol and frames whose binary was replaced in
 * stats. A stack missing from the map leaves the site without frames. 0 or
 * -ENOMEM.
 */
int ustack__fill(struct ustack *us, __u64 hash, struct model_site *s, __u64 *stats);

/* ring_buffer_sample_fn for --ustack=dwarf's samples: unwinds one, keeps its stack. */
int ustack__on_sample(void *ctx, void *data, size_t size);

/*
 * --ustack=dwarf, before a report reads stacks: frames unwound while their
 * process's mappings were not known yet are placed now. 0 or -ENOMEM.
 */
int ustack__prepare_report(struct ustack *us);

/*
 * --ustack=dwarf: the unwound stack of the allocation at addr made at
 * ts_ns, as an index for ustack__fill_sampled(), 0 when it has none (its
 * sample was lost or not read yet). Marks it outstanding for
 * ustack__forget_unseen().
 */
__u32 ustack__stack_of(struct ustack *us, __u64 addr, __u64 ts_ns);

/*
 * -t: the user frames of the allocation at addr made at ts_ns in site, as
 * far as they are known now (fp mode's stack, its process's mappings read
 * first where they lack a frame's binary; dwarf mode's sample if unwound
 * already), into s, and s->ustate: KLEAK_USTACK_SAMPLED for a sample not
 * unwound yet. 0 or -ENOMEM.
 */
int ustack__fill_event(struct ustack *us, const struct kleak_site *site, __u64 addr,
		       __u64 ts_ns, struct model_site *s);

/* Fills s->uframes from an unwound stack as ustack__fill() does. */
int ustack__fill_sampled(struct ustack *us, __u32 stack, struct model_site *s, __u64 *stats);

/*
 * After a report: forgets the allocations it did not find outstanding
 * (freed) that were made before now_ns (later ones it could not see yet).
 */
void ustack__forget_unseen(struct ustack *us, __u64 now_ns);

/* --ustack=dwarf: samples whose unwinding stopped before the outermost frame. */
__u64 ustack__unwind_failed(const struct ustack *us);

/* --ustack=dwarf: samples whose stack had frames past --ustack-depth. */
__u64 ustack__truncated(const struct ustack *us);

/*
 * --ustack=dwarf: follows the mappings of process pid and its children (-1:
 * every process) as they are made; 0, or -errno where perf events are
 * refused (mappings then come from /proc/PID/maps alone).
 */
int ustack__watch_mmaps(struct ustack *us, pid_t pid);

/* --ustack=dwarf: readable when mmap events wait (-1: none), and what reads them; 0 or -ENOMEM. */
int ustack__mmaps_fd(const struct ustack *us);
int ustack__on_mmaps(struct ustack *us);

/* Processes whose mappings could not be read, and mmap events lost. */
__u64 ustack__maps_missed(const struct ustack *us);


#endif /* __KLEAK_USTACK_H */
