/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The per-allocator summary of a run that traced more than slab (--pages,
 * --vmalloc, --percpu): what kleak holds per allocator next to the kernel's
 * own count of it over the same run (/proc/meminfo, /proc/vmstat), each
 * allocator's books, and what it could not see per allocator.
 */
#ifndef __KLEAK_REPORT_ALLOCATORS_H
#define __KLEAK_REPORT_ALLOCATORS_H

#include <stdbool.h>
#include <stdio.h>
#include "json.h"
#include "model.h"

/* Whether the run traced an allocator beside slab: the summary is then printed. */
bool report_allocators__traced(const struct model *m);

void report_allocators__text(const struct model *m, FILE *out);
/*
 * The "allocators_comparable", "kernel_counters" and "allocators" members
 * of the open object: each allocator's figures and books.
 */
void report_allocators__json(struct json_writer *w, const struct model *m);
/* The "not seen, per allocator:" line of a run that traced more than slab. */
void report_allocators__not_seen(const struct model *m, FILE *out);

#endif /* __KLEAK_REPORT_ALLOCATORS_H */
