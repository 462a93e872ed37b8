/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * How a report shows user frames (--ustack): under a site's kernel frames
 * in text and JSON, and what could not be seen of user stacks in the
 * footer. Used by report.c; a model without user stacks prints nothing.
 */
#ifndef __KLEAK_REPORT_USTACK_H
#define __KLEAK_REPORT_USTACK_H

#include <stdio.h>
#include "json.h"
#include "model.h"

/* "name+0xoff (binary) file:line" into buf, as text reports show a user frame. */
void report_ustack__frame_str(const struct model_uframe *f, char *buf, size_t size);

/* The site's user frames, or why it has none, one line each under its kernel frames. */
void report_ustack__text(const struct model_site *s, FILE *out);

/* "user_stack" and "user_frames" fields of a site object; none without --ustack. */
void report_ustack__json(struct json_writer *w, const struct model_site *s);

/* Whether the run traced user stacks: a site has a state, or a counter is set. */
bool report_ustack__in_run(const struct model *m);

/* The footer line on user stacks not seen; nothing for a run without --ustack. */
void report_ustack__not_seen(const struct model *m, FILE *out);

#endif /* __KLEAK_REPORT_USTACK_H */
