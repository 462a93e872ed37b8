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
 * numbers, and a diff's stacks with the frames kleak diff prints.
 */
#ifndef __KLEAK_EXPORT_H
#define __KLEAK_EXPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "diff.h"
#include "model.h"
#include "opts.h"

/* One frame of a stack as the formats show it. */
struct export_frame {
	char *name;		/* "func [mod]", "func [binary]", "?", "[cache C]", "[held by C]", ... */
	__u64 addr;		/* its raw kernel address with --raw-addresses, else 0 */
	bool code;		/* a function's frame, not the cache nor "[stack not captured]" */
};

struct export_stack {
	const struct model_site *site;	/* comms, contexts and object size, for labels */
	const struct model *m;		/* the run site is in */
	size_t n_frames;
	struct export_frame *frames;	/* root first, then the cache, then the class if split */
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
 * The frames of site s of run m, root first: its user frames (--ustack:
 * "func [binary]", outermost first), its kernel frames without offsets
 * ("func [mod]"; "?" where unresolved, or "0x..." with raw; one "[stack
 * not captured: ...]" where the stack was not), then its cache
 * (export__cache_frame()), then "[held by CLASS]" where st is of one class
 * (export__held()). raw: kernel frames keep their addresses
 * (--raw-addresses). 0 or -ENOMEM; st->frames is malloc'd.
 */
int export__site_frames(const struct model *m, const struct model_site *s, bool raw,
			struct export_stack *st);

/*
 * The frames of a diff's change c, root first: the frames kleak diff prints
 * for its row (diff__changes()), then c's cache, then st's class as
 * export__site_frames() gives it. 0 or -ENOMEM.
 */
int export__change_frames(const struct diff_change *c, struct export_stack *st);

void export__free_frames(struct export_stack *st);

/*
 * The cache as a frame: "[cache C]", or for a merged cache "[cache C
 * (merged: ALIAS, ...)]", its aliases in m. To free(); NULL: -ENOMEM.
 */
char *export__cache_frame(const struct model *m, const char *cache);

/*
 * Appends one row of a report or diff to x->stacks (room for HELD_MAX
 * stacks a row), without frames: the whole site where held is NULL or a
 * run's held is NULL (not classified), else one stack per class with
 * objects in either run, held[run][class] of count[run] each, the bytes in
 * proportion; objects counted but not classified (a kernel total above the
 * objects read) are "unknown".
 */
void export__add_row(struct export_set *x, const struct model_site *site, const struct model *m,
		     const __s64 *count, const __s64 *bytes, const __s64 *const *held);

/* The module of a frame name: "xfs" for "func [xfs]", NULL for the kernel's own. */
const char *export__module(const char *sym, size_t *len);

/* The one-line summary of a run kleak's text footer ends with: "not seen: ...". To free(). */
char *export__not_seen(const struct model *m);

int folded__write(const struct export_set *x, FILE *out);
int pprof__write(const struct export_set *x, FILE *out);
int svg__write(const struct export_set *x, FILE *out);

#endif /* __KLEAK_EXPORT_H */
