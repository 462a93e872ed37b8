// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * DWARF unwinding of user stack samples with elfutils' libdwfl (see
 * unwind.h). libdwfl rather than libunwind: kleak already links elfutils
 * for symbols, libdwfl unwinds a process described by callbacks (the
 * sample's registers and memory, the mappings kleak kept) with no live
 * process needed, which the process that made the sample usually is not by
 * the time it is unwound, and it reads .eh_frame and .debug_frame both,
 * falling back to debuginfo found by build ID.
 *
 * What is kept is bounded, whatever the number of processes: a Dwfl for
 * each of the last UNWIND_MAX_PROCS processes unwound (a process's modules
 * at its own addresses, its CFI parsed across its samples), dropped when
 * its process is reaped; and one ELF handle per binary for the last
 * UNWIND_MAX_ELFS binaries, shared by the modules of every process that
 * maps it (libelf counts the references), so a library is opened and mapped
 * once, not once per process.
 */
#include <errno.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <libelf.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "unwind.h"

/* Enough for the processes of a command and its children unwound in turn. */
#define UNWIND_MAX_PROCS 16
/* A process maps a handful of binaries; a system-wide run a few hundred. */
#define UNWIND_MAX_ELFS 64

struct uw_proc {
	__u32 tgid;
	__u32 gen;	/* of the mappings it was built from (umaps__proc()) */
	__u64 used;
	Dwfl *dwfl;	/* NULL: no binary of the process could be reported */
};

struct uw_elf {
	__u8 id[KLEAK_BUILD_ID_SIZE];
	__u64 used;
	Elf *elf;	/* NULL: no file of this build ID could be opened */
};

struct unwind {
	const struct umaps *maps;
	__u64 clock;	/* for least recently used */
	size_t n_procs;
	struct uw_proc procs[UNWIND_MAX_PROCS];
	size_t n_elfs;
	struct uw_elf elfs[UNWIND_MAX_ELFS];
	/* the sample being unwound, for the callbacks */
	const struct kleak_usample *cur;
	struct kleak_ustack *out;
	__u32 depth;
	bool stray;	/* the unwinding ended on an address in no mapping */
	bool truncated;	/* a frame past depth was there */
	Dwarf_Addr last_pc;	/* the last frame's, where its CFI is looked up */
	bool fp_zero;	/* the last frame's rbp is 0 */
	bool read_past;	/* unwinding the last frame read past the stack copied */
};

/* The binary's ELF handle for unwinding, opened once for every process; NULL: none. */
static Elf *binary_elf(struct unwind *uw, const __u8 id[KLEAK_BUILD_ID_SIZE])
{
	const struct ubin *bin;
	struct uw_elf *e = NULL;
	bool replaced;
	size_t i;
	int fd;

	for (i = 0; i < uw->n_elfs; i++)
		if (!memcmp(uw->elfs[i].id, id, KLEAK_BUILD_ID_SIZE)) {
			uw->elfs[i].used = ++uw->clock;
			return uw->elfs[i].elf;
		}
	if (uw->n_elfs < UNWIND_MAX_ELFS) {
		e = &uw->elfs[uw->n_elfs++];
	} else {
		/* the least recently used goes; modules that use it keep their reference */
		e = &uw->elfs[0];
		for (i = 1; i < uw->n_elfs; i++)
			if (uw->elfs[i].used < e->used)
				e = &uw->elfs[i];
		elf_end(e->elf);
	}
	memcpy(e->id, id, sizeof(e->id));
	e->used = ++uw->clock;
	e->elf = NULL;
	bin = umaps__binary_of(uw->maps, id);
	fd = bin ? ubins__open(bin, &replaced) : -ENOENT;
	if (fd < 0)
		return NULL;
	/*
	 * mapped whole (ELF_C_FDREAD reads it whole where it could not be),
	 * then the descriptor let go: the mapping keeps the file
	 */
	e->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (e->elf && (elf_kind(e->elf) != ELF_K_ELF || elf_cntl(e->elf, ELF_C_FDREAD))) {
		elf_end(e->elf);
		e->elf = NULL;
	}
	close(fd);
	return e->elf;
}

/* A module is named by its binary's build ID, in hex: find_elf gets the ELF by it. */
static bool parse_hex_id(const char *name, __u8 id[KLEAK_BUILD_ID_SIZE])
{
	unsigned int byte;
	size_t i;

	if (strlen(name) != 2 * KLEAK_BUILD_ID_SIZE)
		return false;
	for (i = 0; i < KLEAK_BUILD_ID_SIZE; i++) {
		if (sscanf(name + 2 * i, "%2x", &byte) != 1)
			return false;
		id[i] = byte;
	}
	return true;
}

static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
		    char **file_name, Elf **elfp)
{
	/* set by report_binary() */
	struct unwind *uw = *userdata;
	__u8 id[KLEAK_BUILD_ID_SIZE];
	const struct ubin *bin;
	Elf *elf;

	*elfp = NULL;
	if (!parse_hex_id(name, id) || !(elf = binary_elf(uw, id)))
		return -1;
	/* another reference to the shared handle: the module's elf_end() drops it */
	*elfp = elf_begin(-1, ELF_C_READ_MMAP, elf);
	/* the file's name: where debuginfo is looked for by .gnu_debuglink */
	bin = umaps__binary_of(uw->maps, id);
	*file_name = bin ? strdup(bin->path) : NULL;
	return -1;
}

/*
 * Debuginfo, for its .debug_frame, only for a binary without .eh_frame:
 * where .eh_frame has no rule for an address (past the outermost frame,
 * mostly) libdwfl would otherwise load the binary's debuginfo, and each
 * process's modules their own copy (libc6-dbg's, compressed, took most of
 * kleak's time under a command run per item through xargs).
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			  Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	GElf_Phdr ph;
	Dwarf_Addr bias;
	size_t i, n;
	Elf *elf = dwfl_module_getelf(mod, &bias);

	if (!elf || elf_getphdrnum(elf, &n))
		return -1;
	for (i = 0; i < n; i++)
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_GNU_EH_FRAME)
			return -1;
	return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name,
					    debuglink_file, debuglink_crc, debuginfo_file_name);
}

static char *debuginfo_path;
static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = find_elf,
	.find_debuginfo = find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

/* The sample's one thread, once per dwfl_getthread_frames(). */
static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct unwind *uw = arg;

	if (*thread_argp)
		return 0;
	*thread_argp = uw;
	return uw->cur->pid;
}

/*
 * Words of the copied stack; nothing else of the process's memory is known.
 * libdwfl takes a return address it cannot read for the end of the stack:
 * one past the copy is noted, so that such an end counts as a failure.
 */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct unwind *uw = arg;
	const struct kleak_usample *s = uw->cur;
	__u64 sp = s->regs[7];

	if (addr < sp || addr - sp > s->len || s->len - (addr - sp) < sizeof(*result)) {
		uw->read_past |= addr >= sp;
		return false;
	}
	memcpy(result, s->stack + (addr - sp), sizeof(*result));
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	const struct kleak_usample *s = ((struct unwind *)arg)->cur;
	Dwarf_Word regs[KLEAK_UREGS];
	int i;

	for (i = 0; i < KLEAK_UREGS; i++)
		regs[i] = s->regs[i];
	if (!dwfl_thread_state_registers(thread, 0, KLEAK_UREGS, regs))
		return false;
	dwfl_thread_state_register_pc(thread, s->regs[16]);
	return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

struct unwind *unwind__new(const struct umaps *maps)
{
	struct unwind *uw = calloc(1, sizeof(*uw));

	if (uw)
		uw->maps = maps;
	elf_version(EV_CURRENT);
	return uw;
}

void unwind__free(struct unwind *uw)
{
	size_t i;

	if (!uw)
		return;
	for (i = 0; i < uw->n_procs; i++)
		dwfl_end(uw->procs[i].dwfl);
	for (i = 0; i < uw->n_elfs; i++)
		elf_end(uw->elfs[i].elf);
	free(uw);
}

/*
 * Reports the binary mapping m maps, where the process loaded it: the span
 * of its segments, moved by the mapping's bias. Once per binary and bias
 * (a binary has a mapping per executable segment).
 */
static bool report_binary(struct unwind *uw, Dwfl *dwfl, const struct umap *m)
{
	const struct ubin *bin = m->has_build_id ? umaps__binary_of(uw->maps, m->build_id) : NULL;
	char name[2 * KLEAK_BUILD_ID_SIZE + 1];
	__u64 vaddr, bias, low = ~0ULL, high = 0;
	Dwfl_Module *mod;
	void **userdata;
	__u32 i;

	if (!bin || !bin->has_loads || !buildid__offset_to_vaddr(&bin->loads, m->pgoff, &vaddr))
		return false;
	bias = m->start - vaddr;
	for (i = 0; i < bin->loads.n && i < BUILDID_MAX_LOADS; i++) {
		__u64 align = bin->loads.seg[i].align ? bin->loads.seg[i].align : 1;
		__u64 start = bin->loads.seg[i].vaddr & -align;

		/* libdwfl places the module by its first segment's aligned address */
		if (low == ~0ULL)
			low = start;
		if (bin->loads.seg[i].vaddr + bin->loads.seg[i].size > high)
			high = bin->loads.seg[i].vaddr + bin->loads.seg[i].size;
	}
	if (low == ~0ULL || high <= low)
		return false;
	buildid__hex(bin->id, name);
	mod = dwfl_report_module(dwfl, name, low + bias, high + bias);
	if (!mod) {
		pr_debug("unwinding %u: %s not reported: %s", uw->cur->tgid, m->path,
			 dwfl_errmsg(-1));
		return false;
	}
	dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	*userdata = uw;
	return true;
}

/* A Dwfl of the process's mappings, attached to the callbacks; NULL if none reports. */
static Dwfl *proc_dwfl_new(struct unwind *uw, const struct umap *maps, size_t n, __u32 tgid)
{
	Dwfl *dwfl = dwfl_begin(&proc_callbacks);
	size_t i, j, reported = 0;

	if (!dwfl)
		return NULL;
	dwfl_report_begin(dwfl);
	for (i = 0; i < n; i++) {
		/* the other executable mappings of a binary at the same bias report nothing new */
		for (j = 0; j < i; j++)
			if (maps[j].has_build_id && maps[i].has_build_id &&
			    !memcmp(maps[j].build_id, maps[i].build_id, KLEAK_BUILD_ID_SIZE) &&
			    maps[j].start - maps[j].pgoff == maps[i].start - maps[i].pgoff)
				break;
		if (j == i)
			reported += report_binary(uw, dwfl, &maps[i]);
	}
	dwfl_report_end(dwfl, NULL, NULL);
	if (!reported || !dwfl_attach_state(dwfl, NULL, tgid, &thread_callbacks, uw)) {
		dwfl_end(dwfl);
		return NULL;
	}
	return dwfl;
}

static Dwfl *proc_dwfl(struct unwind *uw, __u32 tgid, int *err)
{
	struct uw_proc *p = NULL;
	const struct umap *maps;
	size_t i, n;
	__u32 gen;

	*err = 0;
	maps = umaps__proc(uw->maps, tgid, &n, &gen);
	if (!maps) {
		*err = -ENOENT;
		return NULL;
	}
	for (i = 0; i < uw->n_procs; i++)
		if (uw->procs[i].tgid == tgid) {
			p = &uw->procs[i];
			if (p->gen == gen && p->dwfl) {
				p->used = ++uw->clock;
				return p->dwfl;
			}
			break;
		}
	if (!p && uw->n_procs < UNWIND_MAX_PROCS) {
		p = &uw->procs[uw->n_procs++];
		p->dwfl = NULL;
	} else if (!p) {
		p = &uw->procs[0];
		for (i = 1; i < uw->n_procs; i++)
			if (uw->procs[i].used < p->used)
				p = &uw->procs[i];
	}
	dwfl_end(p->dwfl);
	p->tgid = tgid;
	p->gen = gen;
	p->used = ++uw->clock;
	p->dwfl = proc_dwfl_new(uw, maps, n, tgid);
	return p->dwfl;
}

void unwind__forget(struct unwind *uw, __u32 tgid)
{
	size_t i;

	for (i = 0; i < uw->n_procs; i++)
		if (uw->procs[i].tgid == tgid) {
			dwfl_end(uw->procs[i].dwfl);
			uw->procs[i] = uw->procs[--uw->n_procs];
			return;
		}
}

enum frame_cfi {
	CFI_NONE,	/* .eh_frame has no rule for the address */
	CFI_OUTERMOST,	/* it has: the return address is undefined (_start's, a thread's start) */
	CFI_CALLER,	/* it has: the return address is somewhere */
};

/* What .eh_frame (which libdwfl tries first) says of the frame at pc. */
static enum frame_cfi frame_cfi(Dwfl *dwfl, Dwarf_Addr pc)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
	Dwarf_Op ops_mem[3], *ops;
	enum frame_cfi what;
	Dwarf_Frame *frame;
	Dwarf_CFI *cfi;
	Dwarf_Addr bias;
	size_t nops;
	int ra;

	cfi = mod ? dwfl_module_eh_cfi(mod, &bias) : NULL;
	if (!cfi || dwarf_cfi_addrframe(cfi, pc - bias, &frame))
		return CFI_NONE;
	ra = dwarf_frame_info(frame, NULL, NULL, NULL);
	/* no operations, ops at ops_mem: "undefined" (a null ops is "same value") */
	what = ra >= 0 && !dwarf_frame_register(frame, ra, ops_mem, &ops, &nops) && !nops &&
	       ops == ops_mem ? CFI_OUTERMOST : CFI_CALLER;
	free(frame);
	return what;
}

/* One frame: the pc as a build ID and file offset where a mapping holds it. */
static int on_frame(Dwfl_Frame *state, void *arg)
{
	struct unwind *uw = arg;
	struct kleak_ustack *u = uw->out;
	struct kleak_uframe *f;
	const struct umap *m;
	Dwarf_Addr pc;
	Dwarf_Word fp;
	bool activation;

	/* asked whether it is an activation, libdwfl unwinds this frame now */
	uw->read_past = false;
	if (!dwfl_frame_pc(state, &pc, &activation))
		return DWARF_CB_ABORT;
	uw->fp_zero = !dwfl_frame_reg(state, 6, &fp) && !fp;
	/* a return address is looked up one byte back, in the call, as libdwfl does */
	uw->last_pc = activation ? pc : pc - 1;
	m = umaps__find(uw->maps, uw->cur->tgid, pc);
	/*
	 * A return address in no file mapping: where libdwfl found no CFI it
	 * guesses through rbp, which code without frame pointers holds data
	 * in. The stack ends there, as an unwinding failure, never as a frame.
	 */
	if (!m && u->nframes) {
		uw->stray = true;
		return DWARF_CB_ABORT;
	}
	/* a frame past the depth: the stack is cut there, and said to be */
	if (u->nframes == uw->depth) {
		uw->truncated = true;
		return DWARF_CB_ABORT;
	}
	f = &u->frames[u->nframes++];
	memset(f, 0, sizeof(*f));
	if (m && m->has_build_id) {
		f->status = KLEAK_UFRAME_VALID;
		memcpy(f->build_id, m->build_id, sizeof(f->build_id));
		f->offset = pc - m->start + m->pgoff;
	} else {
		f->status = KLEAK_UFRAME_IP;
		f->offset = pc;
	}
	return DWARF_CB_OK;
}

int unwind__sample(struct unwind *uw, const struct kleak_usample *sample, __u32 depth,
		   struct kleak_ustack *u, enum unwind_end *end)
{
	static const char no_match[] = "no matching address range";
	Dwfl *dwfl;
	int err, r;

	memset(u, 0, offsetof(struct kleak_ustack, frames));
	u->tgid = sample->tgid;
	*end = UNWIND_FAILED;
	uw->cur = sample;
	dwfl = proc_dwfl(uw, sample->tgid, &err);
	if (!dwfl) {
		uw->cur = NULL;
		return err ? err : -ENOENT;
	}
	uw->out = u;
	uw->depth = depth < KLEAK_MAX_USTACK_DEPTH ? depth : KLEAK_MAX_USTACK_DEPTH;
	uw->stray = false;
	uw->truncated = false;
	uw->fp_zero = false;
	uw->read_past = false;
	r = dwfl_getthread_frames(dwfl, sample->pid, on_frame, uw);
	/*
	 * 0: the outermost frame was reached (its CFI leaves no return
	 * address), or its return address lies past the stack copied (libdwfl
	 * takes an unreadable one for undefined: the CFI tells them apart);
	 * DWARF_CB_ABORT from on_frame: a frame past the depth, or one in no
	 * mapping; -1: the unwinding stopped. It stops at the end of the stack
	 * too: past the outermost frame (_start, a thread's clone) libdwfl
	 * reads a return address that no module holds, or that frame has no CFI
	 * (_start in crt1.o and ld.so) and holds the zero frame pointer the ABI
	 * has _start leave (code without frame pointers may leave rbp 0
	 * throughout: a frame with CFI is never the end for it). libdwfl has
	 * no public error codes to tell the rest by.
	 */
	err = dwfl_errno();
	if (uw->truncated)
		*end = UNWIND_TRUNCATED;
	else if (uw->stray)
		*end = UNWIND_FAILED;
	else if (r == 0)
		*end = uw->read_past && frame_cfi(dwfl, uw->last_pc) == CFI_CALLER ?
		       UNWIND_FAILED : UNWIND_COMPLETE;
	else if (u->nframes > 1 && r == -1 &&
		 ((uw->fp_zero && frame_cfi(dwfl, uw->last_pc) == CFI_NONE) ||
		  !strcmp(dwfl_errmsg(err), no_match)))
		*end = UNWIND_COMPLETE;
	if (*end == UNWIND_FAILED)
		pr_debug("unwinding %u: %u frames, then %s", sample->pid, u->nframes,
			 uw->stray ? "an address in no mapping" :
			 uw->read_past ? "past the stack copied" : dwfl_errmsg(err));
	uw->cur = NULL;
	return 0;
}
