/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The binaries traced processes mapped, one per build ID, each kept open
 * from the moment a mapping of it is first recorded: their frames resolve
 * from the very file that ran, after its processes exited and after the
 * file was deleted or replaced on disk. Where it could not be kept (past
 * the cap on open files), the path it was mapped from is used, and only if
 * the file there still has that build ID.
 */
#ifndef __KLEAK_UBINS_H
#define __KLEAK_UBINS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "buildid.h"
#include "kleak.h"

/*
 * Binaries kept open at most: the rest of the file descriptors stay for the
 * BPF objects, perf buffers and --ustack=dwarf's unwinding, under the usual
 * limit of 1024.
 */
#define UBINS_MAX_KEPT 256

struct ubin {
	__u8 id[KLEAK_BUILD_ID_SIZE];
	__u32 id_len;		/* the note's own length; 0: the file was never read */
	char *path;		/* as the first process mapped it */
	__u64 dev;		/* of that file (major << 32 | minor), 0: not known */
	__u64 inode;
	bool has_loads;
	struct elf_loads loads;	/* of the file that ran, with has_loads */
	int fd;			/* the file that ran, kept open; -1: not kept */
};

struct ubins;

/* Returns an empty table, or NULL with errno set. */
struct ubins *ubins__new(void);
/* Closes every kept file. */
void ubins__free(struct ubins *b);

/* The binary of build ID id, or NULL. */
const struct ubin *ubins__find(const struct ubins *b, const __u8 id[KLEAK_BUILD_ID_SIZE]);

/* The binary read from the file of device dev, inode inode at path[0..len), or NULL. */
const struct ubin *ubins__find_file(const struct ubins *b, __u64 dev, __u64 inode,
				    const char *path, size_t len);

/*
 * Adds the binary bin describes (bin->path copied), taking bin->fd: kept
 * open while fewer than UBINS_MAX_KEPT are, else closed. A binary of that
 * build ID already there gets what it lacked (the file, its segments) and
 * is returned instead. NULL out of memory (bin->fd closed).
 */
const struct ubin *ubins__add(struct ubins *b, const struct ubin *bin);

/*
 * A new descriptor of the binary's file (the caller closes it): the kept
 * one's duplicate, else the file at its path if that still has its build
 * ID. -ESTALE where the path now holds another build (*replaced set), or
 * -errno.
 */
int ubins__open(const struct ubin *bin, bool *replaced);

#endif /* __KLEAK_UBINS_H */
