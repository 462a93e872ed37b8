/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --ustack (fp): a binary's call frame information compiled into the rows
 * the BPF walker unwinds by (see kleak.h and bpf/uwalk.bpf.h). The CFI is
 * the binary's .eh_frame, read with elfutils' libdw (dwarf_getcfi_elf(),
 * dwarf_cfi_addrframe()), function by function as .eh_frame_hdr's table
 * lists them; each row says, from its file offset on, where the canonical
 * frame address is (sp or rbp plus an offset), that the return address is
 * at CFA - 8, and where the caller's rbp is. A rule the walker cannot
 * follow (a DWARF expression, a signal frame) becomes a row without one,
 * where a walk stops, counted.
 */
#ifndef __KLEAK_UCFI_H
#define __KLEAK_UCFI_H

#include <stddef.h>
#include <linux/types.h>
#include "kleak.h"

struct ucfi_rows {
	__u64 *row;	/* pc (a file offset) << 32 | rule, sorted by pc */
	size_t n;
};

/*
 * Compiles the CFI of the x86_64 ELF image buf[0..len) into out (freed
 * with ucfi__rows_free()). 0; -ENOENT without .eh_frame_hdr or .eh_frame;
 * -EINVAL for an image that is not x86_64 ELF or a table kleak does not
 * read; -E2BIG for code past 4 GiB into the file; -ENOMEM. Reads nothing
 * outside the buffer (a libFuzzer target); buf may be rewritten by libelf.
 */
int ucfi__compile_buf(void *buf, size_t len, struct ucfi_rows *out);

/* The same for the ELF file open at fd. */
int ucfi__compile_fd(int fd, struct ucfi_rows *out);

void ucfi__rows_free(struct ucfi_rows *r);

/* The rule of the row holding file offset pc, 0 where none does (for tests). */
__u32 ucfi__rule_at(const struct ucfi_rows *r, __u64 pc);

#endif /* __KLEAK_UCFI_H */
