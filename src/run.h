/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A tracing run: start the tracer (and the command), wait for intervals,
 * signals, the command's exit or the end of --duration, report, save.
 */
#ifndef __KLEAK_RUN_H
#define __KLEAK_RUN_H

#include "opts.h"

/*
 * Returns the process exit status: 0 or 1 on its own; with a command, the
 * command's status, or EXIT_KLEAK_FAILED when kleak failed.
 */
int run__trace(const struct env *env);

#endif /* __KLEAK_RUN_H */
