/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --ustack=dwarf: the traced processes' executable mappings as they are
 * made, from perf's PERF_RECORD_MMAP2 events of a dummy software event per
 * CPU (as perf record does), with forks and execs: a process that exits
 * before its samples are unwound (a command run per item through xargs)
 * still has its layout known, which reading /proc/PID/maps cannot promise.
 */
#ifndef __KLEAK_MMAP_EVENTS_H
#define __KLEAK_MMAP_EVENTS_H

#include <sys/types.h>
#include "umaps.h"

struct mmap_events;

/*
 * Opens the events for process pid and the processes it forks from now on
 * (-1: every process), feeding maps (not owned). NULL with errno set
 * (perf_event_open() refused: kernel.perf_event_paranoid, no perf events).
 */
struct mmap_events *mmap_events__open(pid_t pid, struct umaps *maps);
void mmap_events__free(struct mmap_events *me);

/* Reads every event so far into the mappings; 0 or -ENOMEM. Records lost are counted. */
int mmap_events__drain(struct mmap_events *me);

/* Events the kernel dropped (ring buffers full): their processes' mappings may miss some. */
__u64 mmap_events__lost(const struct mmap_events *me);

#endif /* __KLEAK_MMAP_EVENTS_H */
