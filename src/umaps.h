/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The executable mappings of traced processes, read from /proc/PID/maps
 * where the BPF side announces a new user stack, or followed by mmap events
 * (mmap_events.c), and kept after a process exits until its samples are
 * unwound, each with the build ID of the file it maps: the binaries user
 * frames are resolved in (ubins.c).
 */
#ifndef __KLEAK_UMAPS_H
#define __KLEAK_UMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "buildid.h"
#include "kleak.h"
#include "ubins.h"

/* One executable file mapping of a process. */
struct umap {
	__u64 start;
	__u64 end;
	__u64 pgoff;
	__u64 dev;	/* major << 32 | minor */
	__u64 inode;
	char *path;
	/* the binary mapped, by build ID (umaps__binary_of()), with has_build_id */
	bool has_build_id;
	__u8 build_id[KLEAK_BUILD_ID_SIZE];
	/*
	 * The file at path is not the one mapped (another build, another
	 * inode), and that one could not be opened: never read in its place.
	 */
	bool replaced;
};

/* One line of /proc/PID/maps, or one mmap event, parsed; path points into it. */
struct umaps_line {
	__u64 start;
	__u64 end;
	__u64 pgoff;
	__u64 dev;	/* major << 32 | minor */
	__u64 inode;
	bool exec;
	const char *path;	/* NULL for an anonymous mapping or a [pseudo] one */
	size_t path_len;
	/* the kernel's build ID of the file mapped (an mmap event's, 5.12+); 0: not given */
	__u32 build_id_len;
	__u8 build_id[KLEAK_BUILD_ID_SIZE];
};

/*
 * Parses line[0..len) of /proc/PID/maps ("start-end perms pgoff dev inode
 * path", no newline needed). 0, or -EINVAL for a malformed line. Reads
 * nothing outside the buffer (a libFuzzer target).
 */
int umaps__parse_line(const char *line, size_t len, struct umaps_line *out);

/*
 * Finds the file a mapping l of process tgid maps, and reads its build ID
 * and segments into bin (id, id_len, has_loads, loads; path, dev and inode
 * from l) with a descriptor of that very file in bin->fd, to keep. 0;
 * -ESTALE where the only file found is not the one mapped (a build ID
 * other than l's, another inode: replaced on disk, or another mount
 * namespace's); -ENOENT for a file without a build ID; -errno.
 */
typedef int (*umaps_read_fn)(__u32 tgid, const struct umaps_line *l, struct ubin *bin);

/*
 * The real one: the file itself through /proc/TGID/map_files while the
 * mapping lives, else the path in the process's root (/proc/TGID/root),
 * else in kleak's; a file found by path is taken only if it has l's build
 * ID, or without one l's inode.
 */
int umaps__read_mapped(__u32 tgid, const struct umaps_line *l, struct ubin *bin);

struct umaps;

/* Returns an empty table, or NULL with errno set. */
struct umaps *umaps__new(void);
void umaps__free(struct umaps *u);

/*
 * Reads the executable file mappings of process tgid and their binaries
 * (umaps__read_mapped()); a process already read is read again (it may
 * have exec'd). 0, or -errno, counted as missed (the process was gone
 * before it could be read).
 */
int umaps__add_proc(struct umaps *u, __u32 tgid);

/* The same from a maps file's text buf[0..len): for tests and fuzzing without a live process. */
int umaps__add_text(struct umaps *u, __u32 tgid, const char *buf, size_t len,
		    umaps_read_fn read);

/*
 * The executable mappings of process tgid, *n of them, and a generation
 * that is new whenever they change (unique across processes); NULL for a
 * process not read.
 */
const struct umap *umaps__proc(const struct umaps *u, __u32 tgid, size_t *n, __u32 *gen);

/*
 * From mmap events (mmap_events.c): a mapping made by process tgid, a
 * process that exec'd (its mappings gone), a process forked (its parent's
 * mappings copied), a process that exited, each at its event's time
 * (CLOCK_MONOTONIC ns, as BPF timestamps). 0 or -ENOMEM. Such a process
 * counts as read at every moment: its mappings are complete.
 */
int umaps__add_mapping(struct umaps *u, __u32 tgid, const struct umaps_line *l, __u64 time,
		       umaps_read_fn read);
int umaps__exec(struct umaps *u, __u32 tgid, __u64 time);
/* A child whose own events (time later than the fork's) were read first keeps them. */
int umaps__fork(struct umaps *u, __u32 parent, __u32 child, __u64 time);
void umaps__exit(struct umaps *u, __u32 tgid, __u64 time);

/*
 * Forgets the processes that exited before time before: each one's tgid is
 * given to fn first, while its mappings are still there. A sample taken
 * after a process's exit comes after all of that process's samples.
 */
void umaps__reap(struct umaps *u, __u64 before, void (*fn)(void *ctx, __u32 tgid), void *ctx);

/* Processes whose mappings are kept: those alive, and those exited not yet reaped. */
size_t umaps__n_procs(const struct umaps *u);

/* When process tgid's mappings were last read (CLOCK_MONOTONIC ns), 0: never. */
__u64 umaps__read_ns(const struct umaps *u, __u32 tgid);

/* The mapping of process tgid that holds ip, or NULL. */
const struct umap *umaps__find(const struct umaps *u, __u32 tgid, __u64 ip);

/* The binary of build ID id some traced process mapped, or NULL. */
const struct ubin *umaps__binary_of(const struct umaps *u, const __u8 id[KLEAK_BUILD_ID_SIZE]);

/* Processes whose mappings could not be read. */
__u64 umaps__missed(const struct umaps *u);

#endif /* __KLEAK_UMAPS_H */
