/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The executable mappings of traced processes, read from /proc/PID/maps on
 * a process's first recorded allocation (the BPF side announces each new
 * address space) and kept after it exits, each with the build ID of the
 * file it maps: the binaries user frames are resolved in, by build ID.
 */
#ifndef __KLEAK_UMAPS_H
#define __KLEAK_UMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "buildid.h"
#include "kleak.h"

struct umap {
	__u64 start;
	__u64 end;
	__u64 pgoff;
	__u64 dev;	/* major << 32 | minor */
	__u64 inode;
	char *path;
	bool has_build_id;
	__u8 build_id[KLEAK_BUILD_ID_SIZE];
	struct elf_loads loads;	/* of the file mapped, valid with has_build_id */
};

/* One line of /proc/PID/maps, parsed; path points into the line. */
struct umaps_line {
	__u64 start;
	__u64 end;
	__u64 pgoff;
	__u64 dev;	/* major << 32 | minor */
	__u64 inode;
	bool exec;
	const char *path;	/* NULL for an anonymous mapping or a [pseudo] one */
	size_t path_len;
};

/*
 * Parses line[0..len) of /proc/PID/maps ("start-end perms pgoff dev inode
 * path", no newline needed). 0, or -EINVAL for a malformed line. Reads
 * nothing outside the buffer (a libFuzzer target).
 */
int umaps__parse_line(const char *line, size_t len, struct umaps_line *out);

struct umaps;

/* Returns an empty table, or NULL with errno set. */
struct umaps *umaps__new(void);
void umaps__free(struct umaps *u);

/*
 * Reads the executable file mappings of process tgid and their build IDs
 * (through /proc/PID/map_files, the very files mapped); a process already
 * read is read again (it may have exec'd). 0, or -errno, counted as missed
 * (the process was gone before it could be read).
 */
int umaps__add_proc(struct umaps *u, __u32 tgid);

/*
 * The same from a maps file's text buf[0..len) and a build ID reader
 * (NULL: none): for tests and fuzzing without a live process.
 */
typedef int (*umaps_build_id_fn)(const char *path, __u8 id[KLEAK_BUILD_ID_SIZE],
				 struct elf_loads *loads);
int umaps__add_text(struct umaps *u, __u32 tgid, const char *buf, size_t len,
		    umaps_build_id_fn build_id);

/*
 * The executable mappings of process tgid, *n of them, and a generation
 * that changes whenever they are read again; NULL for a process not read.
 */
const struct umap *umaps__proc(const struct umaps *u, __u32 tgid, size_t *n, __u32 *gen);

/*
 * From mmap events (mmap_events.c): a mapping made by process tgid (its
 * build ID read from the path), a process that exec'd (its mappings gone),
 * a process forked (its parent's mappings copied), each at its event's
 * time (perf's clock). 0 or -ENOMEM. Such a
 * process counts as read at every moment: its mappings are complete.
 */
int umaps__add_mapping(struct umaps *u, __u32 tgid, const struct umaps_line *l, __u64 time,
		       umaps_build_id_fn build_id);
int umaps__exec(struct umaps *u, __u32 tgid, __u64 time);
/* A child whose own events (time later than the fork's) were read first keeps them. */
int umaps__fork(struct umaps *u, __u32 parent, __u32 child, __u64 time);

/* When process tgid's mappings were last read (CLOCK_MONOTONIC ns), 0: never. */
__u64 umaps__read_ns(const struct umaps *u, __u32 tgid);

/* The mapping of process tgid that holds ip, or NULL. */
const struct umap *umaps__find(const struct umaps *u, __u32 tgid, __u64 ip);

/* A mapping of the binary with build ID id by some traced process, or NULL. */
const struct umap *umaps__binary_of(const struct umaps *u, const __u8 id[KLEAK_BUILD_ID_SIZE]);

/* Processes whose mappings could not be read. */
__u64 umaps__missed(const struct umaps *u);

#endif /* __KLEAK_UMAPS_H */
