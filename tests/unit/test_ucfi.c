// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --ustack's call frame information compiler (ucfi.c) on this test binary:
 * functions of known CFI, written below in assembly with their .cfi
 * directives, must compile to the walker's rules at each instruction
 * (the static build has no .eh_frame_hdr: the segment scan; the sanitizer
 * build's table is read); a buffer
 * that is not ELF is refused.
 */
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <stdlib.h>
#include <unistd.h>
#include "test.h"
#include "ucfi.h"

/*
 * ucfi_test_frame: a frame-pointer prologue and epilogue; ucfi_test_outer:
 * the outermost frame (return address undefined); ucfi_test_expr: a CFA
 * given by an expression (DW_CFA_def_cfa_expression: breg7 + 8, deref),
 * which the walker does not follow.
 */
__asm__(".text\n"
	".globl ucfi_test_frame\n"
	"ucfi_test_frame:\n"
	"	.cfi_startproc\n"
	"	pushq %rbp\n"			/* +0 */
	"	.cfi_def_cfa_offset 16\n"
	"	.cfi_offset %rbp, -16\n"
	"	movq %rsp, %rbp\n"		/* +1 */
	"	.cfi_def_cfa_register %rbp\n"
	"	subq $32, %rsp\n"		/* +4 */
	"	nop\n"				/* +8 */
	"	leave\n"			/* +9 */
	"	.cfi_def_cfa %rsp, 8\n"
	"	ret\n"				/* +10 */
	"	.cfi_endproc\n"
	".globl ucfi_test_outer\n"
	"ucfi_test_outer:\n"
	"	.cfi_startproc\n"
	"	.cfi_undefined %rip\n"
	"	nop\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".globl ucfi_test_expr\n"
	"ucfi_test_expr:\n"
	"	.cfi_startproc\n"
	"	.cfi_escape 0x0f, 0x03, 0x77, 0x08, 0x06\n"
	"	nop\n"
	"	ret\n"
	"	.cfi_endproc\n");

void ucfi_test_frame(void);
void ucfi_test_outer(void);
void ucfi_test_expr(void);

#define SP(words) (KLEAK_UCFI_CFA_SP | (words) << KLEAK_UCFI_CFA_OFF_SHIFT)
#define BP(words) (KLEAK_UCFI_CFA_BP | (words) << KLEAK_UCFI_CFA_OFF_SHIFT)
#define BP_SAME (KLEAK_UCFI_BP_SAME << KLEAK_UCFI_BP_SHIFT)
#define BP_AT(words) (KLEAK_UCFI_BP_AT << KLEAK_UCFI_BP_SHIFT | \
		      ((__u32)(words) & 0x7ff) << KLEAK_UCFI_BP_OFF_SHIFT)

static int exe_bias(struct dl_phdr_info *info, size_t size, void *bias)
{
	/* the first object is the executable */
	*(__u64 *)bias = info->dlpi_addr;
	return 1;
}

/* The file offset of code address addr in this binary (static here, PIE under sanitizers). */
static bool offset_of(const void *code, __u64 *off)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	__u64 bias = 0, addr;
	Elf *elf;
	GElf_Phdr ph;
	size_t i, n;
	bool found = false;

	dl_iterate_phdr(exe_bias, &bias);
	addr = (__u64)code - bias;

	elf_version(EV_CURRENT);
	elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
	for (i = 0; elf && !elf_getphdrnum(elf, &n) && i < n && !found; i++)
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
		    addr >= ph.p_vaddr && addr < ph.p_vaddr + ph.p_filesz) {
			*off = addr - ph.p_vaddr + ph.p_offset;
			found = true;
		}
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	return found;
}

void test_ucfi_rules(void)
{
	static const struct {
		int at;
		__u32 rule;
		const char *what;
	} want[] = {
		{ 0, SP(1) | BP_SAME, "entry: CFA = sp + 8, rbp the caller's" },
		{ 1, SP(2) | BP_AT(-2), "after push %rbp: CFA = sp + 16, rbp at CFA - 16" },
		{ 4, BP(2) | BP_AT(-2), "frame pointer set: CFA = rbp + 16" },
		{ 8, BP(2) | BP_AT(-2), "in the body" },
		{ 10, SP(1) | BP_AT(-2), "after leave: CFA = sp + 8" },
	};
	struct ucfi_rows r;
	__u64 frame, outer, expr, prev = 0;
	size_t i;
	int fd;

	if (!ASSERT_TRUE(offset_of(ucfi_test_frame, &frame) && offset_of(ucfi_test_outer, &outer) &&
			 offset_of(ucfi_test_expr, &expr), "the test functions' file offsets"))
		return;
	fd = open("/proc/self/exe", O_RDONLY);
	if (!ASSERT_OK(ucfi__compile_fd(fd, &r), "compile this binary's CFI"))
		goto out;
	for (i = 0; i < r.n; i++) {
		if (i && r.row[i] >> 32 <= prev)
			break;
		prev = r.row[i] >> 32;
	}
	ASSERT_EQ(i, r.n, "rows sorted by offset, one per offset");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ASSERT_EQ(ucfi__rule_at(&r, frame + want[i].at), want[i].rule, want[i].what);
	ASSERT_TRUE(ucfi__rule_at(&r, outer) & KLEAK_UCFI_RA_UNDEF, "undefined rip: outermost");
	ASSERT_EQ(ucfi__rule_at(&r, expr), 0, "a CFA expression: no rule the walker follows");
	ucfi__rows_free(&r);
out:
	close(fd);
}

void test_ucfi_not_elf(void)
{
	char buf[256] = "not an ELF image";
	struct ucfi_rows r;

	ASSERT_EQ(ucfi__compile_buf(buf, sizeof(buf), &r), -EINVAL, "not ELF");
	ASSERT_EQ(ucfi__compile_buf(buf, 0, &r), -EINVAL, "empty");
}
