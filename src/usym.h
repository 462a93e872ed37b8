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
#include "ubins.h"

/* Where distributions install debuginfo: DIR/.build-id/xx/yyyy.debug, DIR/PATH.debug */
#define USYM_DEBUG_DIR "/usr/lib/debug"

struct usym;

/*
 * Returns an empty cache of opened binaries whose debuginfo is looked for
 * under debug_dir (USYM_DEBUG_DIR; tests give their own), or NULL with
 * errno set.
 */
struct usym *usym__new(const char *debug_dir);
void usym__free(struct usym *u);

/*
 * Fills f->sym, f->srcline and f->replaced for offset in the binary with
 * build ID id: bin, the binary a traced process mapped (its file kept, or
 * at its path if still of that build; NULL: not known, only debuginfo
 * directories are searched). The offset is placed with the load segments
 * of the file that ran (bin's), else of the file opened if it is the
 * binary itself. is_return: offset is a return address (every frame but
 * the innermost), looked up one byte back. A binary found nowhere leaves
 * f->sym NULL. 0, or -ENOMEM.
 */
int usym__resolve(struct usym *u, const __u8 id[KLEAK_BUILD_ID_SIZE], const struct ubin *bin,
		  __u64 offset, bool is_return, struct model_uframe *f);

#endif /* __KLEAK_USYM_H */
