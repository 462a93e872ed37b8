// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A binary's call frame information into the BPF walker's rows (see ucfi.h). */
#include <dwarf.h>
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <elfutils/libdw.h>
#include "ucfi.h"

#ifndef PT_GNU_EH_FRAME
#define PT_GNU_EH_FRAME 0x6474e550
#endif

/* DWARF register numbers on x86_64 */
#define DW_RBP	6
#define DW_RSP	7
#define DW_RA	16

/* .eh_frame_hdr's encodings that linkers write (DW_EH_PE_*) */
#define EH_PE_udata4	0x03
#define EH_PE_sdata4	0x0b
#define EH_PE_datarel	0x30

/* rows a function's CFI may change its rule in: a bound against malformed CFI */
#define ROWS_PER_FDE	4096

#define MAX_LOADS	16

struct compile {
	Elf *elf;
	Dwarf_CFI *cfi;
	size_t n_loads;
	GElf_Phdr loads[MAX_LOADS];
	struct ucfi_rows *out;
	size_t cap;
};

/* The file offset of address vaddr, through the PT_LOAD that holds it. */
static bool file_offset(const struct compile *c, Dwarf_Addr vaddr, __u64 *off)
{
	size_t i;

	for (i = 0; i < c->n_loads; i++) {
		const GElf_Phdr *p = &c->loads[i];

		if (vaddr >= p->p_vaddr && vaddr - p->p_vaddr < p->p_filesz) {
			*off = vaddr - p->p_vaddr + p->p_offset;
			return true;
		}
	}
	return false;
}

/* 0 where the expression is not "the CFA plus a constant", as a location. */
static bool cfa_plus(const Dwarf_Op *ops, size_t n, Dwarf_Sword *off)
{
	if (n == 1 && ops[0].atom == DW_OP_call_frame_cfa) {
		*off = 0;
		return true;
	}
	if (n == 2 && ops[0].atom == DW_OP_call_frame_cfa && ops[1].atom == DW_OP_plus_uconst) {
		*off = (Dwarf_Sword)ops[1].number;
		return true;
	}
	return false;
}

/* The walker's rule for a frame state; 0 for one it cannot follow. */
static __u32 rule_of(Dwarf_Frame *fr)
{
	Dwarf_Op mem[3], *ops;
	Dwarf_Sword off, cfa_off;
	Dwarf_Addr start, end;
	__u32 rule, bp = KLEAK_UCFI_BP_UNDEF;
	bool signal;
	size_t n;

	if (dwarf_frame_info(fr, &start, &end, &signal) < 0 || signal)
		return 0;
	if (dwarf_frame_cfa(fr, &ops, &n) || n != 1 || ops[0].atom != DW_OP_bregx ||
	    (ops[0].number != DW_RSP && ops[0].number != DW_RBP))
		return 0;
	cfa_off = (Dwarf_Sword)ops[0].number2;
	if (cfa_off < 8 || cfa_off % 8 || cfa_off / 8 > 0xffff)
		return 0;
	rule = (ops[0].number == DW_RSP ? KLEAK_UCFI_CFA_SP : KLEAK_UCFI_CFA_BP) |
	       (__u32)(cfa_off / 8) << KLEAK_UCFI_CFA_OFF_SHIFT;
	if (dwarf_frame_register(fr, DW_RA, mem, &ops, &n))
		return 0;
	/* undefined (ops_mem, none): nothing called this frame */
	if (!n && ops == mem)
		return rule | KLEAK_UCFI_RA_UNDEF;
	if (!cfa_plus(ops, n, &off) || off != -8)
		return 0;
	if (!dwarf_frame_register(fr, DW_RBP, mem, &ops, &n)) {
		if (!n && !ops)
			bp = KLEAK_UCFI_BP_SAME;
		else if (cfa_plus(ops, n, &off) && off % 8 == 0 && off / 8 >= -1024 &&
			 off / 8 < 1024)
			bp = KLEAK_UCFI_BP_AT |
			     ((__u32)(off / 8) & 0x7ff) << (KLEAK_UCFI_BP_OFF_SHIFT - KLEAK_UCFI_BP_SHIFT);
	}
	return rule | bp << KLEAK_UCFI_BP_SHIFT;
}

static int push(struct compile *c, __u64 off, __u32 rule)
{
	struct ucfi_rows *r = c->out;
	__u64 *grown;

	if (off > 0xffffffffULL)
		return -E2BIG;
	/* the walker searches sorted rows: a table out of order loses the rows that go back */
	if (r->n && off < r->row[r->n - 1] >> 32)
		return 0;
	/* a rule that goes on, or a row the next one at the same offset replaces */
	if (r->n && (__u32)r->row[r->n - 1] == rule)
		return 0;
	if (r->n && r->row[r->n - 1] >> 32 == off) {
		r->row[--r->n] = 0;
		if (r->n && (__u32)r->row[r->n - 1] == rule)
			return 0;
	}
	if (r->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 4096;
		grown = realloc(r->row, c->cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		r->row = grown;
	}
	r->row[r->n++] = off << 32 | rule;
	return 0;
}

/*
 * The rows of the function whose CFI covers pc, up to limit at most, from
 * pc or from where the function starts if that is not below *stop on
 * entry; *stop: where its CFI ends (pc itself where none covers pc).
 */
static int function_rows(struct compile *c, Dwarf_Addr pc, Dwarf_Addr limit, Dwarf_Addr *stop)
{
	Dwarf_Addr start, end;
	Dwarf_Frame *fr;
	__u64 off;
	int i, err;

	for (i = 0; i < ROWS_PER_FDE && pc < limit; i++) {
		if (dwarf_cfi_addrframe(c->cfi, pc, &fr))
			break;
		if (dwarf_frame_info(fr, &start, &end, NULL) < 0 || start > pc || end <= pc) {
			free(fr);
			break;
		}
		/* a search that landed inside a function: its row from where it starts */
		if (!i && start < pc && start >= *stop)
			pc = start;
		err = file_offset(c, pc, &off) ? push(c, off, rule_of(fr)) : 0;
		free(fr);
		if (err)
			return err;
		pc = end;
	}
	*stop = pc;
	return 0;
}

/* No rule from pc on (code no CFI covers), until a later row says otherwise. */
static int gap_row(struct compile *c, Dwarf_Addr pc)
{
	__u64 off;

	return file_offset(c, pc, &off) ? push(c, off, 0) : 0;
}

/* A 4-byte field of .eh_frame_hdr at p, sdata4 or udata4 as enc says; false for another. */
static bool word4(const unsigned char *p, __u8 enc, __s64 *v)
{
	__u32 u;

	if ((enc & 0x0f) != EH_PE_udata4 && (enc & 0x0f) != EH_PE_sdata4)
		return false;
	memcpy(&u, p, sizeof(u));
	*v = (enc & 0x0f) == EH_PE_sdata4 ? (__s32)u : (__s64)u;
	return true;
}

/*
 * The functions .eh_frame_hdr lists (the table dwarf_cfi_addrframe()
 * searches too, sorted by address), each to its rows: version 1, the
 * encodings of eh_frame_ptr, fde_count and the table, then those, then
 * (initial location, FDE) pairs relative to the header.
 */
static int all_rows(struct compile *c, const GElf_Phdr *hdr)
{
	const unsigned char *p;
	__s64 count, loc, next = 0;
	Dwarf_Addr limit, stop;
	Elf_Data *d;
	size_t i;
	int err;

	d = elf_getdata_rawchunk(c->elf, hdr->p_offset, hdr->p_filesz, ELF_T_BYTE);
	if (!d || d->d_size < 12)
		return -ENOENT;
	p = d->d_buf;
	if (p[0] != 1 || p[3] != (EH_PE_datarel | EH_PE_sdata4) || !word4(p + 4, p[1], &loc) ||
	    !word4(p + 8, p[2], &count) || count < 0 || (size_t)count > (d->d_size - 12) / 8)
		return -EINVAL;
	p += 12;
	for (i = 0; i < (size_t)count; i++) {
		word4(p + i * 8, EH_PE_sdata4, &loc);
		if (i + 1 < (size_t)count)
			word4(p + i * 8 + 8, EH_PE_sdata4, &next);
		limit = i + 1 < (size_t)count ? hdr->p_vaddr + next : ~0ULL;
		stop = hdr->p_vaddr + loc;
		err = function_rows(c, hdr->p_vaddr + loc, limit, &stop);
		if (!err && stop < limit)
			err = gap_row(c, stop);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Without .eh_frame_hdr (static binaries often lack one): every executable
 * segment of the image from its start, a function's rows at a time, and
 * across code no CFI covers (the padding between functions) from one 16-byte
 * boundary to the next, where compilers start functions (one found from
 * inside gets its rows from its start all the same).
 */
static int segment_rows(struct compile *c, size_t image_size)
{
	Dwarf_Addr pc, end, stop, floor;
	__u64 filesz;
	size_t i;
	int err;

	for (i = 0; i < c->n_loads; i++) {
		if (!(c->loads[i].p_flags & PF_X) || c->loads[i].p_offset >= image_size)
			continue;
		filesz = c->loads[i].p_filesz;
		if (filesz > image_size - c->loads[i].p_offset)
			filesz = image_size - c->loads[i].p_offset;
		pc = c->loads[i].p_vaddr;
		end = pc + filesz;
		/* rows are written up to floor: a function found from inside starts above it */
		floor = pc;
		while (pc < end) {
			stop = floor;
			err = function_rows(c, pc, end, &stop);
			if (!err && stop == pc) {
				/* the first address of a gap starts its row */
				err = pc == floor ? gap_row(c, pc) : 0;
				pc = (pc | 15) + 1;
			} else {
				pc = floor = stop;
			}
			if (err)
				return err;
		}
	}
	return 0;
}

/*
 * The ELF entry point has no caller: the kernel jumps there with nothing
 * on the stack to return to. Where no CFI covers it (the dynamic loader's
 * _start is bare assembly) it gets a row saying so, to the next row.
 */
static int entry_row(struct compile *c, Dwarf_Addr entry)
{
	struct ucfi_rows *r = c->out;
	__u32 rule = KLEAK_UCFI_CFA_SP | 1 << KLEAK_UCFI_CFA_OFF_SHIFT | KLEAK_UCFI_RA_UNDEF;
	__u64 off, *grown;
	size_t i;

	if (!entry || !file_offset(c, entry, &off) || ucfi__rule_at(r, off))
		return 0;
	for (i = r->n; i && r->row[i - 1] >> 32 > off; i--)
		;
	if (i && r->row[i - 1] >> 32 == off) {
		r->row[i - 1] = off << 32 | rule;
		return 0;
	}
	grown = realloc(r->row, (r->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	r->row = grown;
	memmove(&r->row[i + 1], &r->row[i], (r->n - i) * sizeof(*grown));
	r->row[i] = off << 32 | rule;
	r->n++;
	c->cap = r->n;
	return 0;
}

static int compile_elf(Elf *elf, size_t image_size, struct ucfi_rows *out)
{
	struct compile c = { .elf = elf, .out = out };
	GElf_Phdr ph, hdr = {};
	GElf_Ehdr eh;
	size_t n, i;
	int err;

	memset(out, 0, sizeof(*out));
	if (!gelf_getehdr(elf, &eh) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_machine != EM_X86_64 || elf_getphdrnum(elf, &n))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, i, &ph))
			return -EINVAL;
		if (ph.p_type == PT_LOAD && c.n_loads < MAX_LOADS)
			c.loads[c.n_loads++] = ph;
		else if (ph.p_type == PT_GNU_EH_FRAME)
			hdr = ph;
	}
	c.cfi = dwarf_getcfi_elf(elf);
	if (!c.cfi)
		return -ENOENT;
	err = hdr.p_filesz ? all_rows(&c, &hdr) : segment_rows(&c, image_size);
	if (!err)
		err = entry_row(&c, eh.e_entry);
	dwarf_cfi_end(c.cfi);
	if (err)
		ucfi__rows_free(out);
	return err;
}

int ucfi__compile_buf(void *buf, size_t len, struct ucfi_rows *out)
{
	Elf *elf;
	int err;

	elf_version(EV_CURRENT);
	elf = elf_memory(buf, len);
	if (!elf)
		return -EINVAL;
	err = compile_elf(elf, len, out);
	elf_end(elf);
	return err;
}

int ucfi__compile_fd(int fd, struct ucfi_rows *out)
{
	struct stat st;
	Elf *elf;
	int err;

	if (fstat(fd, &st))
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -EINVAL;
	err = compile_elf(elf, st.st_size, out);
	elf_end(elf);
	return err;
}

void ucfi__rows_free(struct ucfi_rows *r)
{
	free(r->row);
	r->row = NULL;
	r->n = 0;
}

__u32 ucfi__rule_at(const struct ucfi_rows *r, __u64 pc)
{
	size_t lo = 0, hi = r->n, mid;

	/* the last row at or below pc, as the walker searches */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (r->row[mid] >> 32 <= pc)
			lo = mid;
		else
			hi = mid;
	}
	return r->n && r->row[lo] >> 32 <= pc ? (__u32)r->row[lo] : 0;
}
