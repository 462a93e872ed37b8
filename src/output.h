/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where and how a report or a diff is written: --format, --output and
 * --value. A report goes to stdout, or with --output to a file written
 * atomically (outfile.h) that each interval report replaces whole.
 */
#ifndef __KLEAK_OUTPUT_H
#define __KLEAK_OUTPUT_H

#include "diff.h"
#include "model.h"
#include "opts.h"
#include "report.h"

/*
 * Checks before anything is traced or read: --output can be written
 * (outfile__check()), and a binary format does not go to a terminal.
 * 0, or -errno after one line.
 */
int output__check(const struct env *env);

/*
 * Writes m as report__print() prints it, in env's format, to env's output.
 * name: the run file it was read from, NULL for a live run. 0 or -errno
 * after one line.
 */
int output__report(const struct env *env, const struct model *m, const struct report_opts *ro,
		   const char *name);

/* Renders m in env's format to f, with no file handling or message: output__report()'s core. */
int output__render_report(const struct env *env, const struct model *m,
			  const struct report_opts *ro, const char *name, FILE *f);

/* The same for diff__print(). */
int output__diff(const struct env *env, const struct model *a, const struct model *b,
		 const struct diff_opts *o);

#endif /* __KLEAK_OUTPUT_H */
