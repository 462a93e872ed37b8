/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The status line: while kleak traces with stderr on a terminal, one line
 * on stderr redrawn in place every second (time elapsed and left, allocation
 * events per second, outstanding objects, the allocs map's fill, what was
 * lost so far), cleared before anything else is printed.
 */
#ifndef __KLEAK_STATUS_H
#define __KLEAK_STATUS_H

#include <stdbool.h>
#include <linux/types.h>
#include "loader.h"
#include "opts.h"

struct status;

/*
 * A status line for the run env describes, reading t's counters; NULL, and
 * no line ever, when stderr is not a terminal, with --trace or -v (their
 * lines would interleave) or with -- COMMAND (the command shares the
 * terminal). start_ns
 * is when tracing began, on CLOCK_MONOTONIC.
 */
struct status *status__new(const struct env *env, const struct tracer *t, __u64 start_ns);

/* Redraws the line from the counters now; NULL-safe. */
void status__update(struct status *st);

/* Erases the line, if drawn, so the next output starts a clean line; NULL-safe. */
void status__clear(struct status *st);

/* Erases the line and frees st; NULL-safe. */
void status__free(struct status *st);

#endif /* __KLEAK_STATUS_H */
