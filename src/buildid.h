/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * GNU build IDs of ELF files: what names a user frame's binary across
 * processes, ASLR layouts and the process's exit, and what tells a binary
 * replaced on disk by another build from the one that ran.
 */
#ifndef __KLEAK_BUILDID_H
#define __KLEAK_BUILDID_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "kleak.h"

/*
 * Where a file's loaded segments go in its address space: a user frame's
 * file offset turns into the address symbols are at. Kept from the file
 * that ran, since a debuginfo file's program headers keep the addresses but
 * not the file offsets.
 */
#define BUILDID_MAX_LOADS 16
struct elf_loads {
	__u32 n;
	struct {
		__u64 offset;
		__u64 vaddr;
		__u64 size;	/* p_memsz */
		__u64 align;
	} seg[BUILDID_MAX_LOADS];
};

/* The address of file offset off, through loads; false where no segment holds it. */
bool buildid__offset_to_vaddr(const struct elf_loads *loads, __u64 off, __u64 *vaddr);

/*
 * The build ID in the PT_NOTE segments of the ELF image buf[0..len), and
 * its PT_LOAD segments into loads (NULL: not wanted):
 * KLEAK_BUILD_ID_SIZE bytes into id, shorter IDs zero-padded as the kernel
 * pads them. Returns the ID's own length in bytes (at most
 * KLEAK_BUILD_ID_SIZE; what debuginfo directories name it by), -ENOENT for
 * an ELF file without one, -EINVAL for a buffer that is not ELF. Reads
 * nothing outside the buffer (a libFuzzer target); libelf may rewrite a
 * foreign-endian image in place, so buf is writable.
 */
int buildid__of_buf(void *buf, size_t len, __u8 id[KLEAK_BUILD_ID_SIZE],
		     struct elf_loads *loads);

/* The same for the open file fd (not closed), mapped; -errno when it cannot be read. */
int buildid__of_fd(int fd, __u8 id[KLEAK_BUILD_ID_SIZE], struct elf_loads *loads);

/* The same for the file at path. */
int buildid__of_file(const char *path, __u8 id[KLEAK_BUILD_ID_SIZE], struct elf_loads *loads);

/* id as 2 * KLEAK_BUILD_ID_SIZE lowercase hex digits and a NUL, into out. */
void buildid__hex(const __u8 id[KLEAK_BUILD_ID_SIZE], char *out);

/*
 * The length of a zero-padded ID whose own length is not known (the kernel's
 * frames do not say it): without its trailing zero bytes, at least one.
 */
__u32 buildid__trimmed_len(const __u8 id[KLEAK_BUILD_ID_SIZE]);

#endif /* __KLEAK_BUILDID_H */
