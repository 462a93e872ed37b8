/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Renders a model as the text or JSON report, live or from a saved run. */
#ifndef __KLEAK_REPORT_H
#define __KLEAK_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include "json.h"
#include "model.h"

struct report_opts {
	__u64 older_ms;		/* only allocations at least this old */
	size_t top;		/* 0: every site */
	__u64 min_size;
	__u64 max_size;
	const char *cache;	/* only sites in this cache, NULL: all */
	bool json;
	bool caches;		/* the per-cache summary */
	bool raw_addresses;	/* frames keep their kernel addresses (--raw-addresses) */
};

/* Returns 0, or -errno when out is not writable. */
int report__print(const struct model *m, const struct report_opts *o, FILE *out);

/*
 * The text footer every report ends with, three lines: how the run's
 * allocation events divide (recorded, sampled out, not recorded for each
 * counted reason, and the remainder the filters left out), the frees seen
 * and the frees found missing, and what kleak could not see; with the
 * same per allocator for a run that traced more than slab. Only run-wide
 * counters are used, never sums over sites, so --exclude or --cache cannot
 * change it; kleak diff prints it for each run. Write errors are left in
 * ferror(out).
 */
void report__print_not_seen(const struct model *m, FILE *out);

/* A site as the report shows it: what it holds of the age the report asks for. */
struct report_site {
	const struct model_site *s;
	__u64 count;		/* scaled by the sample rate, as the report prints it */
	__u64 bytes;
};

/*
 * The sites report__print() shows, in its order, after every filter and
 * --top: the one selection the other formats (export.h) draw. *out is
 * malloc'd. Returns 0 or -ENOMEM.
 */
int report__select(const struct model *m, const struct report_opts *o,
		   struct report_site **out, size_t *n);

/* s on one line: control bytes as '?', NULL as "unknown" (a run's metadata). */
void report__put_line(FILE *out, const char *s);

/*
 * The books' "alloc_events_unaccounted" and "records_unaccounted" members
 * of b (model__books()), null where b is NULL: a saved run that kept none.
 */
void report__json_unaccounted(struct json_writer *w, const struct model_books *b);

/* ts as local time "HH:MM:SS.mmm", as --trace lines show it. */
void report__fmt_clock(const struct timespec *ts, char *buf, size_t len);

#endif /* __KLEAK_REPORT_H */
