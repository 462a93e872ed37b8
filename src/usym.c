// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Symbols of user frames (see usym.h). Each binary is opened once per
 * run, as an offline libdwfl module, and its symbol table kept: a frame
 * then costs an address lookup. libdwfl rather than walking .symtab with
 * libelf: it already finds debuginfo by build ID and debuglink, prefers
 * .symtab over .dynsym, and maps addresses to DWARF lines, as perf and
 * eu-addr2line do.
 */
#include <errno.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <libiberty/demangle.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "buildid.h"
#include "usym.h"

/* A binary's symbols, opened once per run. */
struct symbin {
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
	struct symbin *bins;
	char *debug_dir;
	/* ":.debug:DEBUG_DIR": .gnu_debuglink's search, beside the binary and under debug_dir */
	char *debuginfo_path;
	Dwfl_Callbacks callbacks;
};

struct usym *usym__new(const char *debug_dir)
{
	struct usym *u = calloc(1, sizeof(struct usym));

	if (!u)
		return NULL;
	u->debug_dir = strdup(debug_dir);
	if (!u->debug_dir || asprintf(&u->debuginfo_path, ":.debug:%s", debug_dir) < 0) {
		free(u->debug_dir);
		free(u);
		errno = ENOMEM;
		return NULL;
	}
	u->callbacks = (Dwfl_Callbacks){
		.find_elf = dwfl_build_id_find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
		.section_address = dwfl_offline_section_address,
		.debuginfo_path = &u->debuginfo_path,
	};
	return u;
}

void usym__free(struct usym *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < u->n; i++)
		dwfl_end(u->bins[i].dwfl);
	free(u->bins);
	free(u->debug_dir);
	free(u->debuginfo_path);
	free(u);
}

/*
 * An offline module of the file at fd (taken), named path: the binary
 * itself, or its debuginfo (whose segments place nothing).
 */
static bool open_bin(struct usym *u, struct symbin *b, int fd, const char *path,
		     bool is_debuginfo)
{
	__u8 have[KLEAK_BUILD_ID_SIZE];

	if (buildid__of_fd(fd, have, &b->loads) <= 0 || memcmp(have, b->id, sizeof(have))) {
		close(fd);
		return false;
	}
	b->has_loads = !is_debuginfo;
	b->dwfl = dwfl_begin(&u->callbacks);
	if (!b->dwfl) {
		close(fd);
		return false;
	}
	/* libdwfl owns fd from here, closed with the module */
	b->mod = dwfl_report_offline(b->dwfl, path, path, fd);
	dwfl_report_end(b->dwfl, NULL, NULL);
	if (b->mod)
		return true;
	dwfl_end(b->dwfl);
	b->dwfl = NULL;
	return false;
}

/*
 * The debuginfo of build ID id under the debug directory, named by the ID's
 * own length: a shorter ID (lld's --build-id=md5, a custom one) is not
 * padded in the file's name as the kernel pads it in frames.
 */
static void open_debuginfo(struct usym *u, struct symbin *b, __u32 id_len)
{
	char hex[2 * KLEAK_BUILD_ID_SIZE + 1], *debug;
	__u32 i;
	int fd;

	for (i = 0; i < id_len; i++)
		sprintf(hex + 2 * i, "%02x", b->id[i]);
	if (asprintf(&debug, "%s/.build-id/%.2s/%s.debug", u->debug_dir, hex, hex + 2) < 0)
		return;
	fd = open(debug, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0)
		open_bin(u, b, fd, debug, true);
	free(debug);
}

/* The binary of build ID id: the file a process mapped, else its debuginfo by build ID. */
static struct symbin *bin_get(struct usym *u, const __u8 id[KLEAK_BUILD_ID_SIZE],
			      const struct ubin *bin)
{
	struct symbin *grown, *b;
	size_t i;
	int fd;

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
	fd = bin ? ubins__open(bin, &b->replaced) : -ENOENT;
	if (fd >= 0 && open_bin(u, b, fd, bin->path, false))
		return b;
	/* a frame's ID is zero-padded: a binary never read has the padding trimmed */
	open_debuginfo(u, b, bin && bin->id_len ? bin->id_len : buildid__trimmed_len(id));
	return b;
}

int usym__resolve(struct usym *u, const __u8 id[KLEAK_BUILD_ID_SIZE], const struct ubin *bin,
		  __u64 offset, bool is_return, struct model_uframe *f)
{
	struct symbin *b = bin_get(u, id, bin);
	const struct elf_loads *loads = bin && bin->has_loads ? &bin->loads : NULL;
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
