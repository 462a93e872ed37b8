// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Symbols of user frames (see usym.h). Each binary is opened once per
 * report, as an offline libdwfl module, and its symbol table kept: a frame
 * then costs an address lookup. libdwfl rather than walking .symtab with
 * libelf: it already finds debuginfo by build ID and debuglink, prefers
 * .symtab over .dynsym, and maps addresses to DWARF lines, as perf and
 * eu-addr2line do.
 */
#include <errno.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <libiberty/demangle.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "buildid.h"
#include "usym.h"

#define DEBUG_BUILD_ID_DIR "/usr/lib/debug/.build-id"

struct ubin {
	__u8 id[KLEAK_BUILD_ID_SIZE];
	Dwfl *dwfl;		/* NULL: no file of this build ID found */
	Dwfl_Module *mod;
	/* the segments of the file opened, when it is the binary itself, not debuginfo */
	bool has_loads;
	struct elf_loads loads;
	bool replaced;		/* the path mapped now holds another build */
};

struct usym {
	size_t n;
	struct ubin *bins;
};

static char *debuginfo_path;
static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

struct usym *usym__new(void)
{
	return calloc(1, sizeof(struct usym));
}

void usym__free(struct usym *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < u->n; i++)
		dwfl_end(u->bins[i].dwfl);
	free(u->bins);
	free(u);
}

/* An offline module of file, if its build ID is id. */
static bool open_bin(struct ubin *b, const char *file, bool is_debuginfo)
{
	__u8 have[KLEAK_BUILD_ID_SIZE];

	if (buildid__of_file(file, have, &b->loads) || memcmp(have, b->id, sizeof(have)))
		return false;
	b->has_loads = !is_debuginfo;
	b->dwfl = dwfl_begin(&offline_callbacks);
	if (!b->dwfl)
		return false;
	b->mod = dwfl_report_offline(b->dwfl, file, file, -1);
	dwfl_report_end(b->dwfl, NULL, NULL);
	if (b->mod)
		return true;
	dwfl_end(b->dwfl);
	b->dwfl = NULL;
	return false;
}

/* The binary of build ID id: the file a process mapped, else its debuginfo by build ID. */
static struct ubin *bin_get(struct usym *u, const __u8 id[KLEAK_BUILD_ID_SIZE], const char *path)
{
	char hex[2 * KLEAK_BUILD_ID_SIZE + 1], debug[sizeof(DEBUG_BUILD_ID_DIR) + 64];
	__u8 now[KLEAK_BUILD_ID_SIZE];
	struct ubin *grown, *b;
	size_t i;

	for (i = 0; i < u->n; i++)
		if (!memcmp(u->bins[i].id, id, KLEAK_BUILD_ID_SIZE))
			return &u->bins[i];
	grown = realloc(u->bins, (u->n + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	u->bins = grown;
	b = &u->bins[u->n++];
	memset(b, 0, sizeof(*b));
	memcpy(b->id, id, sizeof(b->id));
	if (path && open_bin(b, path, false))
		return b;
	b->replaced = path && !buildid__of_file(path, now, NULL) &&
		      memcmp(now, id, sizeof(now));
	/* the kernel zero-pads shorter IDs; debuginfo directories name the full 20 bytes */
	buildid__hex(id, hex);
	snprintf(debug, sizeof(debug), DEBUG_BUILD_ID_DIR "/%.2s/%s.debug", hex, hex + 2);
	if (!access(debug, R_OK))
		open_bin(b, debug, true);
	return b;
}

int usym__resolve(struct usym *u, const __u8 id[KLEAK_BUILD_ID_SIZE], const char *path,
		  const struct elf_loads *loads, __u64 offset, bool is_return,
		  struct model_uframe *f)
{
	struct ubin *b = bin_get(u, id, path);
	const char *name, *file;
	GElf_Off off;
	GElf_Sym sym;
	Dwarf_Addr addr, bias;
	Dwfl_Line *line;
	__u64 vaddr;
	char *dem;
	int lineno = 0, n;

	if (!b)
		return -ENOMEM;
	f->replaced = b->replaced;
	/*
	 * A return address may be the first byte after a call to a function
	 * that does not return: the call is one byte back, in the caller.
	 */
	if (!b->mod)
		return 0;
	if (!loads)
		loads = b->has_loads ? &b->loads : NULL;
	if (!loads || !buildid__offset_to_vaddr(loads, offset - is_return, &vaddr) ||
	    !dwfl_module_getelf(b->mod, &bias))
		return 0;
	addr = vaddr + bias;
	name = dwfl_module_addrinfo(b->mod, addr, &off, &sym, NULL, NULL, NULL);
	if (!name)
		return 0;
	off += is_return;
	dem = cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI);
	n = asprintf(&f->sym, "%s+0x%llx", dem ? dem : name, (unsigned long long)off);
	free(dem);
	if (n < 0) {
		f->sym = NULL;
		return -ENOMEM;
	}
	line = dwfl_module_getsrc(b->mod, addr);
	file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
	if (file && lineno > 0 && asprintf(&f->srcline, "%s:%d", file, lineno) < 0) {
		f->srcline = NULL;
		return -ENOMEM;
	}
	return 0;
}
