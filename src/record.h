/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The saved-run file: a struct model written by "kleak -w FILE" and read back
 * by "kleak report FILE" and "kleak diff A B". A versioned, line-oriented text
 * format ending in a site count and a CRC32, described in docs/record-format.md.
 */
#ifndef __KLEAK_RECORD_H
#define __KLEAK_RECORD_H

#include "model.h"

#define RECORD_MAGIC		"kleak-run"
/* written; every version since RECORD_MIN_VERSION is read */
#define RECORD_VERSION		3
#define RECORD_MIN_VERSION	1

/* Limits a reader enforces, so a hostile file cannot exhaust memory. */
#define RECORD_MAX_LINE		(1 << 20)	/* bytes, newline included */
#define RECORD_MAX_SITES	(1 << 20)
#define RECORD_MAX_SLABS	4096
#define RECORD_MAX_MERGED	4096		/* merged caches */
#define RECORD_MAX_ALIASES	(1 << 16)	/* over all merged caches of a file */
#define RECORD_MAX_AGES		(1 << 26)	/* over all sites of a file */
#define RECORD_MAX_TREND	(1 << 20)	/* per site */
#define RECORD_VALUES_PER_LINE	64		/* values on one ages/trend line */

/*
 * Writes m to path atomically: a temporary file in the same directory is
 * written, fsync'ed and renamed over path, so path holds either its old
 * content or the complete new run. The file is created mode 0600 because it
 * holds raw kernel addresses. Returns 0, or -errno after one pr_err() line;
 * on error no temporary file is left behind.
 */
int record__write(const struct model *m, const char *path);

/*
 * Reads a run written by record__write() of this or an earlier kleak. On
 * success *out owns a new model (free with model__free()) and 0 is returned;
 * what a newer kleak of the same format version added and this one does not
 * know (docs/record-format.md, Compatibility) is skipped with one pr_warn()
 * line. On any problem one pr_err() line names the file and the problem,
 * *out is left NULL and a negative errno is returned: -EINVAL not a run file
 * or a malformed record, -ENOTSUP another format version or a feature the
 * file requires that this kleak lacks, -EBADMSG truncated or checksum
 * mismatch, -EFBIG a limit above exceeded, -ENOMEM, or the error of open/read.
 */
int record__read(const char *path, struct model **out);

#endif /* __KLEAK_RECORD_H */
