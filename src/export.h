/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The stack formats (folded, pprof, svg): one report or diff as a list of
 * stacks, each a site's frames, root first, topped by its cache as a frame
 * of its own ("[cache kmalloc-192]") so that a flame graph separates what
 * one code path allocates into two caches. A classified site is one stack
 * per class of its objects (held.h), the class a frame above the cache in
 * folded and svg ("[held by reaped]"), a label in pprof. Built from the
 * same selection the text report or diff prints (report__select(),
 * diff__changes()), so every format shows the same sites with the same
 * numbers.
 */
#ifndef __KLEAK_EXPORT_H
#define __KLEAK_EXPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "model.h"
#include "opts.h"

struct export_stack {
	const struct model_site *site;	/* frames, cache, comms and contexts */
	const struct model *m;		/* the run site is in */
	/* [0]: the report, or run A of a diff; [1]: run B of a diff */
	__s64 count[2];
	__s64 bytes[2];
	bool split;			/* these are the site's objects of one class: */
	int held;			/* that class (enum model_held) */
};

/* The class of st's objects, -1 for a stack of the whole site. */
static inline int export__held(const struct export_stack *st)
{
	return st->split ? st->held : -1;
}

struct export_set {
	bool diff;
	const struct model *run[2];	/* run[1]: NULL outside a diff */
	const char *name[2];		/* the run files, NULL for a live run */
	__u64 older_ms;			/* what the report counted */
	enum out_value value;
	size_t n;
	struct export_stack *stacks;
};

/*
 * Frame names as the stack formats show them, root first: the site's user
 * frames (--ustack: "func [binary]"), its kernel frames without offsets
 * ("func [mod]", "0x..." where unresolved, or one "[stack not captured:
 * ...]"), then the cache, then "[held by CLASS]" where held >= 0. Returns
 * how many, with names[] malloc'd strings and names itself malloc'd; or
 * -ENOMEM.
 */
int export__frames(const struct model_site *s, int held, char ***names);

/*
 * Appends one row of a report or diff to x->stacks (room for HELD_MAX
 * stacks a row): the whole site where held is NULL or a run's held is NULL
 * (not classified), else one stack per class with objects in either run,
 * held[run][class] of count[run] each, the bytes in proportion; objects
 * counted but not classified (a kernel total above the objects read) are
 * "unknown".
 */
void export__add_row(struct export_set *x, const struct model_site *site, const struct model *m,
		     const __s64 *count, const __s64 *bytes, const __s64 *const *held);
void export__free_frames(char **names, int n);

/* The module of a frame name: "xfs" for "func [xfs]", NULL for the kernel's own. */
const char *export__module(const char *sym, size_t *len);

/* The one-line summary of a run kleak's text footer ends with: "not seen: ...". To free(). */
char *export__not_seen(const struct model *m);

int folded__write(const struct export_set *x, FILE *out);
int pprof__write(const struct export_set *x, FILE *out);
int svg__write(const struct export_set *x, FILE *out);

#endif /* __KLEAK_EXPORT_H */
