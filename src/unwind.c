// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * DWARF unwinding of user stack samples with elfutils' libdwfl (see
 * unwind.h). libdwfl rather than libunwind: kleak already links elfutils
 * for symbols, libdwfl unwinds a process described by callbacks (the
 * sample's registers and memory, the mappings kleak kept) with no live
 * process needed, which the process that made the sample usually is not by
 * the time it is unwound, and it reads .eh_frame and .debug_frame both,
 * falling back to debuginfo found by build ID. One Dwfl per process, built
 * from its mappings once and again when they are read again, keeps the
 * binaries' CFI parsed across its samples.
 */
#include <errno.h>
#include <elfutils/libdwfl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "unwind.h"

struct proc_dwfl {
	__u32 tgid;
	__u32 gen;
	Dwfl *dwfl;	/* NULL: no binary of the process could be reported */
};

struct unwind {
	const struct umaps *maps;
	size_t n;
	struct proc_dwfl *procs;
	/* the sample being unwound, for the callbacks */
	const struct kleak_usample *cur;
	struct kleak_ustack *out;
	__u32 depth;
	bool stray;	/* the unwinding ended on an address in no mapping */
};

static char *debuginfo_path;
static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
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

/* Words of the copied stack; nothing else of the process's memory is known. */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	const struct kleak_usample *s = ((struct unwind *)arg)->cur;
	__u64 sp = s->regs[7];

	if (addr < sp || addr - sp > s->len || s->len - (addr - sp) < sizeof(*result))
		return false;
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
	return uw;
}

void unwind__free(struct unwind *uw)
{
	size_t i;

	if (!uw)
		return;
	for (i = 0; i < uw->n; i++)
		dwfl_end(uw->procs[i].dwfl);
	free(uw->procs);
	free(uw);
}

/* Where a mapping's file is loaded: its address minus the file's vaddr at pgoff. */
static bool load_bias(const struct umap *m, Dwarf_Addr *bias)
{
	__u64 vaddr;

	if (!m->has_build_id || !buildid__offset_to_vaddr(&m->loads, m->pgoff, &vaddr))
		return false;
	*bias = m->start - vaddr;
	return true;
}

/* A Dwfl of the process's mappings, attached to the callbacks; NULL if none reports. */
static Dwfl *proc_dwfl_new(struct unwind *uw, const struct umap *maps, size_t n, __u32 tgid)
{
	Dwfl *dwfl = dwfl_begin(&proc_callbacks);
	Dwarf_Addr bias;
	size_t i, reported = 0;

	if (!dwfl)
		return NULL;
	dwfl_report_begin(dwfl);
	for (i = 0; i < n; i++) {
		if (!load_bias(&maps[i], &bias))
			continue;
		if (dwfl_report_elf(dwfl, maps[i].path, maps[i].path, -1, bias, false))
			reported++;
		else
			pr_debug("unwinding %u: %s not reported: %s", tgid, maps[i].path,
				 dwfl_errmsg(-1));
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
	struct proc_dwfl *p, *grown;
	const struct umap *maps;
	size_t i, n;
	__u32 gen;

	*err = 0;
	maps = umaps__proc(uw->maps, tgid, &n, &gen);
	if (!maps) {
		*err = -ENOENT;
		return NULL;
	}
	for (i = 0; i < uw->n; i++) {
		p = &uw->procs[i];
		if (p->tgid != tgid)
			continue;
		if (p->gen == gen && p->dwfl)
			return p->dwfl;
		dwfl_end(p->dwfl);
		p->gen = gen;
		p->dwfl = proc_dwfl_new(uw, maps, n, tgid);
		return p->dwfl;
	}
	grown = realloc(uw->procs, (uw->n + 1) * sizeof(*grown));
	if (!grown) {
		*err = -ENOMEM;
		return NULL;
	}
	uw->procs = grown;
	p = &uw->procs[uw->n++];
	p->tgid = tgid;
	p->gen = gen;
	p->dwfl = proc_dwfl_new(uw, maps, n, tgid);
	return p->dwfl;
}

/* One frame: the pc as a build ID and file offset where a mapping holds it. */
static int on_frame(Dwfl_Frame *state, void *arg)
{
	struct unwind *uw = arg;
	struct kleak_ustack *u = uw->out;
	struct kleak_uframe *f;
	const struct umap *m;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(state, &pc, &activation))
		return DWARF_CB_ABORT;
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
	return u->nframes < uw->depth ? DWARF_CB_OK : DWARF_CB_ABORT;
}

int unwind__sample(struct unwind *uw, const struct kleak_usample *sample, __u32 depth,
		   struct kleak_ustack *u, bool *complete)
{
	static const char no_match[] = "no matching address range";
	Dwfl *dwfl;
	int err, r;

	memset(u, 0, offsetof(struct kleak_ustack, frames));
	u->tgid = sample->tgid;
	*complete = false;
	dwfl = proc_dwfl(uw, sample->tgid, &err);
	if (!dwfl)
		return err ? err : -ENOENT;
	uw->cur = sample;
	uw->out = u;
	uw->depth = depth < KLEAK_MAX_USTACK_DEPTH ? depth : KLEAK_MAX_USTACK_DEPTH;
	uw->stray = false;
	r = dwfl_getthread_frames(dwfl, sample->pid, on_frame, uw);
	/*
	 * 0: the outermost frame was reached (no return address left);
	 * DWARF_CB_ABORT from on_frame: the depth was; -1 with an error: the
	 * unwinding stopped on missing CFI or stack.
	 */
	/*
	 * Past the outermost frame (_start, a thread's clone), libdwfl reads a
	 * return address that no module holds: the end of the stack, not a
	 * failure. libdwfl has no public error codes to tell it by.
	 */
	*complete = !uw->stray && (r == 0 || u->nframes == uw->depth ||
				   (u->nframes > 1 && !strcmp(dwfl_errmsg(-1), no_match)));
	if (!*complete)
		pr_debug("unwinding %u: %u frames, then %s", sample->pid, u->nframes, dwfl_errmsg(-1));
	uw->cur = NULL;
	return 0;
}
