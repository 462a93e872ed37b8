/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Files kleak writes (-w runs, exports, metrics): written whole or not at all.
 * A temporary file in the target's own directory (so rename() cannot cross
 * filesystems), created 0600 with O_EXCL (so a symlink planted at its name is
 * never followed) and given the mode --file-mode asks for, synced, then
 * renamed over the target: a reader, such as node_exporter's textfile
 * collector, sees the old file or the new one, and a write error leaves the
 * old one intact.
 */
#ifndef __KLEAK_OUTFILE_H
#define __KLEAK_OUTFILE_H

#include <stdio.h>
#include <sys/types.h>

struct outfile {
	const char *path;	/* the target, as given */
	char *tmp;		/* the temporary file, NULL when none is open */
	FILE *f;		/* writes go here, between open and commit */
};

/* The mode every file is created with from now on (--file-mode; default 0600). */
void outfile__set_mode(mode_t mode);

/*
 * Whether path can be written later, checked before anything is traced: its
 * directory exists and a temporary file can be made in it (made and removed
 * again), and path is not a directory, nor a file another user owns. 0, or
 * a negative errno with one line printed naming what (what: "run file",
 * "metrics file", ...).
 */
int outfile__check(const char *path, const char *what);

/* Opens of->f on a new temporary file beside path. 0 or a negative errno. */
int outfile__open(struct outfile *of, const char *path);

/*
 * Flushes, syncs and closes of->f, then renames the temporary file over the
 * target and syncs its directory. On error the temporary file is removed and
 * the target left as it was. 0 or a negative errno; of is closed either way.
 */
int outfile__commit(struct outfile *of);

/* Closes and removes the temporary file; the target is left as it was. */
void outfile__abort(struct outfile *of);

#endif /* __KLEAK_OUTFILE_H */
