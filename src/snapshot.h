/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reads the BPF maps into the report model: batch lookups (a consistent
 * view per bucket, unlike a walk the kernel restarts under us), one pass to
 * group allocations by site, stacks symbolized once per site.
 */
#ifndef __KLEAK_SNAPSHOT_H
#define __KLEAK_SNAPSHOT_H

#include "ksyms.h"
#include "loader.h"
#include "model.h"

/*
 * Fills m->sites, m->stats, m->recursion_misses and m->unresolved_frames
 * from the tracer's maps; ks may be NULL (frames stay raw). Returns 0 or
 * -errno after printing one error line.
 */
int snapshot__take(const struct tracer *t, const struct ksyms *ks, struct model *m);

/*
 * The counters now, summed over every CPU and every program's slot (enum
 * kleak_stats_slot): one lookup a slot, cheap enough for a status line every
 * second. 0 or -errno.
 */
int snapshot__read_stats(const struct tracer *t, __u64 stats[STAT_MAX]);

/*
 * Reads the stack with hash stack into s->frames, symbolized, without the
 * tracer's own frames on top; counts frames kallsyms cannot resolve in
 * *unresolved. A stack missing from the map sets s->stack_err to -ENOMEM.
 */
int snapshot__symbolize(const struct tracer *t, const struct ksyms *ks, __u64 stack,
			struct model_site *s, __u64 *unresolved);

/*
 * Whether each of the n addrs still has an outstanding record, into
 * recorded[]. Returns 0 or -ENOMEM.
 */
int snapshot__still_recorded(const struct tracer *t, const __u64 *addrs, size_t n,
			    bool *recorded);

/*
 * Whether each allocation, at addrs[i] made at ts_ns[i], is still recorded
 * (not freed), into live[]. Returns 0 or -ENOMEM.
 */
int snapshot__records_live(const struct tracer *t, const __u64 *addrs, const __u64 *ts_ns,
			   size_t n, bool *live);

/* The context a symbolized site allocates in. */
enum kleak_ctx snapshot__ctx(const struct model_site *s);

/*
 * Interval mode: gives every site its trend from the previous interval's
 * model (prev may be NULL for the first), with its outstanding count now
 * appended when append is set (at the end of an interval, not for a report
 * asked for in between).
 */
int snapshot__carry_trend(const struct model *prev, struct model *m, bool append);

#endif /* __KLEAK_SNAPSHOT_H */
