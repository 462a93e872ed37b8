/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * User frames to symbols with elfutils' libdwfl: the ELF .symtab, else
 * .dynsym, of the binary a build ID names, or of its debuginfo found by
 * build ID (/usr/lib/debug/.build-id/xx/yyyy.debug) or .gnu_debuglink;
 * file:line from DWARF where there is line info; C++ names demangled by
 * libiberty's cplus_demangle(). A binary whose file on disk now has another
 * build ID is said to be replaced and resolved only from debuginfo of the
 * right build ID, never from the file that replaced it.
 */
#ifndef __KLEAK_USYM_H
#define __KLEAK_USYM_H

#include <stdbool.h>
#include "buildid.h"
#include "kleak.h"
#include "model.h"

struct usym;

/* Returns an empty cache of opened binaries, or NULL with errno set. */
struct usym *usym__new(void);
void usym__free(struct usym *u);

/*
 * Fills f->sym, f->srcline and f->replaced for offset in the binary with
 * build ID id, which a process mapped from path (NULL: not known; the
 * debuginfo directories are still searched), with the load segments of the
 * file that ran (NULL: not known; only the file at path, if it is of that
 * build, can then place the offset). is_return: offset is a return
 * address (every frame but the innermost), looked up one byte back. A
 * binary found nowhere leaves f->sym NULL. 0, or -ENOMEM.
 */
int usym__resolve(struct usym *u, const __u8 id[KLEAK_BUILD_ID_SIZE], const char *path,
		  const struct elf_loads *loads, __u64 offset, bool is_return,
		  struct model_uframe *f);

#endif /* __KLEAK_USYM_H */
