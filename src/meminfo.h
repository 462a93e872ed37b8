/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * /proc/meminfo's counters of the allocators kleak traces (Slab, SUnreclaim,
 * MemFree, VmallocUsed, Percpu), at start and end of a run, for the
 * per-allocator summary: what the kernel says each allocator grew by.
 */
#ifndef __KLEAK_MEMINFO_H
#define __KLEAK_MEMINFO_H

#include <stdbool.h>
#include <stdio.h>
#include "model.h"

/*
 * Reads the counters from f (the text of /proc/meminfo) into m's start
 * values, or with at_end into its end values; a counter missing at the end
 * is left out (seen false). Returns 0, or -EINVAL when f names none.
 */
int meminfo__parse(FILE *f, struct model *m, bool at_end);

/* The same from the file at path; 0 or -errno. */
int meminfo__read(const char *path, struct model *m, bool at_end);

#endif /* __KLEAK_MEMINFO_H */
