/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --ustack=dwarf: the traced processes' executable mappings as they are
 * made, from perf's PERF_RECORD_MMAP2 events of a dummy software event per
 * CPU (as perf record does), with forks, execs and exits: a process that
 * exits before its samples are unwound (a command run per item through
 * xargs) still has its layout known, which reading /proc/PID/maps cannot
 * promise, and is forgotten once they are. Where the kernel reads the
 * mapped file's build ID into the event (5.12+), that build ID is the one
 * of the file that ran, whatever its path names by the time kleak reads it.
 */
#ifndef __KLEAK_MMAP_EVENTS_H
#define __KLEAK_MMAP_EVENTS_H

#include <stdbool.h>
#include <sys/types.h>
#include "umaps.h"

struct mmap_events;

/* One ring record, parsed: what mmap_events__apply() needs of it. */
struct mmap_record {
	__u32 type;		/* PERF_RECORD_MMAP2, _FORK, _COMM (exec), _EXIT, _LOST */
	__u64 time;		/* CLOCK_MONOTONIC ns */
	__u32 pid;		/* the process (tgid); FORK: the child */
	__u32 ppid;		/* FORK: the parent */
	struct umaps_line line;	/* MMAP2; line.path points into the record */
	__u64 lost;		/* LOST: records the kernel dropped */
};

/*
 * Parses the record rec[0..size) (records end in their time: sample_id_all
 * with PERF_SAMPLE_TIME). 0, or -ENOENT for a record kleak has no use for
 * (another type, a thread's fork or exit, a mapping not executable or of no
 * file), -EINVAL for a malformed one. Reads nothing outside the buffer (a
 * libFuzzer target).
 */
int mmap_events__parse(const void *rec, size_t size, struct mmap_record *out);

/* Applies a parsed record to maps, reading new binaries with read; 0 or -ENOMEM. */
int mmap_events__apply(struct umaps *maps, const struct mmap_record *r, umaps_read_fn read);

/*
 * Opens the events for process pid and the processes it forks from now on
 * (-1: every process), feeding maps (not owned). NULL with errno set
 * (perf_event_open() refused: kernel.perf_event_paranoid, no perf events).
 */
struct mmap_events *mmap_events__open(pid_t pid, struct umaps *maps);
void mmap_events__free(struct mmap_events *me);

/*
 * Reads every event so far into the mappings, each new binary's file read
 * (and kept) at once, while its process most likely lives; 0 or -ENOMEM.
 * Records lost are counted.
 */
int mmap_events__drain(struct mmap_events *me);

/* A descriptor readable when events wait, for an event loop: drain then. */
int mmap_events__fd(const struct mmap_events *me);

/* Whether the kernel puts build IDs in the events (5.12+). */
bool mmap_events__has_build_ids(const struct mmap_events *me);

/* Events the kernel dropped (ring buffers full): their processes' mappings may miss some. */
__u64 mmap_events__lost(const struct mmap_events *me);

#endif /* __KLEAK_MMAP_EVENTS_H */
