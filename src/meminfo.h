/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel's own counters of the memory kleak traces beside the
 * per-cache slabinfo, at start and end of a run, for the per-allocator
 * summary: /proc/meminfo's (Slab, SUnreclaim, MemFree, VmallocUsed,
 * Percpu) and /proc/vmstat's page counters (the LRU lists, slab, page
 * tables, kernel stacks), all kept in kB.
 */
#ifndef __KLEAK_MEMINFO_H
#define __KLEAK_MEMINFO_H

#include <stdbool.h>
#include <stdio.h>
#include "model.h"

/* Counters read from one or more files, before they go into a model. */
struct meminfo_read {
	bool found[KC_MAX];
	__s64 kb[KC_MAX];
};

/*
 * Adds the counters in f (the text of /proc/meminfo or /proc/vmstat) to
 * r, which starts zeroed; vmstat's pages are taken at page_kb kB each. A
 * line whose value would overflow in kB (or its counter's sum) is skipped.
 * Returns 0, or -EINVAL when f names none.
 */
int meminfo__parse(FILE *f, __s64 page_kb, struct meminfo_read *r);

/*
 * Puts r into m's start values, or with at_end into its end values; a
 * counter not read at both ends is left out (seen false).
 */
void meminfo__apply(struct model *m, const struct meminfo_read *r, bool at_end);

/*
 * Both files of the running kernel into m (meminfo__apply()); 0, or the
 * -errno of the first file that could not be read (the other's counters
 * are still taken).
 */
int meminfo__read(struct model *m, bool at_end);

#endif /* __KLEAK_MEMINFO_H */
