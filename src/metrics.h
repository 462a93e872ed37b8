/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report model as Prometheus text-format metrics (exposition format
 * 0.0.4), for node_exporter's textfile collector: one file per host, written
 * whole at every report (--metrics FILE). Every series is a gauge of all
 * outstanding objects of any age, or a counter of the run's events; no
 * sample carries a timestamp (the collector refuses them).
 *
 * The label sets are bounded so that a fleet's series count is too:
 *   kleak_cache_*{cache}                  one per slab cache holding objects
 *   kleak_comm_*{comm}                    the METRICS_TOP_COMMS comms holding
 *                                         most, the rest as comm="(other)"
 *   kleak_site_*{cache,function,caller}   the top sites (--top, default 10), at
 *                                         most METRICS_TOP_SITES whatever --top,
 *                                         a site being the cache and the first
 *                                         two frames outside the slab allocator
 *   kleak_cache_merged_info{cache,aliases} one per merged cache holding objects
 *   kleak_not_seen_total{reason}          one per cause of the "not seen:" line
 *   kleak_held_objects{cache,class}       per classified cache (task_struct,
 *                                         filp, the socket caches: held.h), each
 *                                         class its kind can have, and the
 *                                         unclassified ones (unknown, gone,
 *                                         merged) where they hold objects
 */
#ifndef __KLEAK_METRICS_H
#define __KLEAK_METRICS_H

#include <stdio.h>
#include "model.h"

#define METRICS_TOP_COMMS 20
#define METRICS_TOP_SITES 20

/*
 * Writes m's metrics to out; top_sites bounds the kleak_site_* series (0, or
 * above METRICS_TOP_SITES: METRICS_TOP_SITES). 0, or a negative errno (out
 * of memory, or a write error left in ferror(out)).
 */
int metrics__print(const struct model *m, size_t top_sites, FILE *out);

/*
 * metrics__print() into path, atomically (outfile.h): node_exporter reads
 * the previous file or this one, never a part. 0, or a negative errno after
 * one error line naming path.
 */
int metrics__write(const struct model *m, size_t top_sites, const char *path);

#endif /* __KLEAK_METRICS_H */
