// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The --ustack walker's cuts, made to happen for real: each mode makes N
 * sockets (socket(AF_UNIX, SOCK_DGRAM) by a syscall instruction of its
 * own) from code whose caller cannot be proven, forks a child that keeps
 * them and sleeps SECONDS, and exits. x86_64 only.
 *
 * Usage: cut MODE [N [SECONDS]], MODE one of
 *   nomap     the call frame information puts the return address on a word
 *             that holds 0x1000, where nothing is mapped
 *   pasttext  ... on the address just past the binary's executable segment,
 *             mapped executable (the rest of its page) but not code
 *   data      ... on a global variable's address: mapped, not executable
 *   nocfi     the system call is made by code no CFI covers
 *   anon      ... by code copied into an anonymous executable mapping
 *   fault     the CFI puts the caller's frame 256 KiB above the stack
 *             pointer, in a thread whose stack has nothing mapped above it
 * Exit status 77 where the mode cannot be set up here (pasttext, when the
 * segment ends at a page's end).
 */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * long sock_fake_ra(unsigned long ra): pushes ra, but the CFI still says
 * the CFA is rsp + 8, so the return address a walker reads is ra.
 */
__asm__(".text\n"
	".globl sock_fake_ra\n"
	".type sock_fake_ra, @function\n"
	"sock_fake_ra:\n"
	"	.cfi_startproc\n"
	"	pushq %rdi\n"
	"	movl $41, %eax\n"
	"	movl $1, %edi\n"
	"	movl $2, %esi\n"
	"	xorl %edx, %edx\n"
	"	syscall\n"
	"	addq $8, %rsp\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size sock_fake_ra, .-sock_fake_ra\n"
	/* long sock_nocfi(void): no .cfi_startproc, so no FDE covers it */
	".globl sock_nocfi\n"
	".type sock_nocfi, @function\n"
	"sock_nocfi:\n"
	"	movl $41, %eax\n"
	"	movl $1, %edi\n"
	"	movl $2, %esi\n"
	"	xorl %edx, %edx\n"
	"	syscall\n"
	"	ret\n"
	"sock_nocfi_end:\n"
	".size sock_nocfi, .-sock_nocfi\n"
	/* long sock_far_cfa(void): the CFI says the CFA is 256 KiB up */
	".globl sock_far_cfa\n"
	".type sock_far_cfa, @function\n"
	"sock_far_cfa:\n"
	"	.cfi_startproc\n"
	"	.cfi_def_cfa_offset 0x40000\n"
	"	movl $41, %eax\n"
	"	movl $1, %edi\n"
	"	movl $2, %esi\n"
	"	xorl %edx, %edx\n"
	"	syscall\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size sock_far_cfa, .-sock_far_cfa\n");

long sock_fake_ra(unsigned long ra);
long sock_nocfi(void);
extern const char sock_nocfi_end[];
long sock_far_cfa(void);

static int n = 10;
static long data_word;

/* The end of this binary's executable segment, in memory. */
static int text_end_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	int i;

	/* the first object is the executable */
	for (i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_X))
			*(unsigned long *)arg = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr +
						info->dlpi_phdr[i].p_filesz;
	return 1;
}

static void check(long fd, const char *what)
{
	if (fd < 0) {
		fprintf(stderr, "cut: %s: socket failed (%ld)\n", what, fd);
		exit(1);
	}
}

static void *far_cfa_thread(void *arg)
{
	int i;

	for (i = 0; i < n; i++)
		check(sock_far_cfa(), "fault");
	return NULL;
}

/* The sockets from a thread whose 64 KiB stack has a 448 KiB hole above it. */
static void fault_mode(void)
{
	size_t stack = 64 << 10, hole = 448 << 10;
	char *mem = mmap(NULL, stack + hole, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pthread_attr_t attr;
	pthread_t t;

	if (mem == MAP_FAILED || munmap(mem + stack, hole)) {
		perror("cut: mmap");
		exit(1);
	}
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, mem, stack);
	if (pthread_create(&t, &attr, far_cfa_thread, NULL) || pthread_join(t, NULL)) {
		fputs("cut: pthread failed\n", stderr);
		exit(1);
	}
}

/* sock_nocfi's code, copied into an anonymous executable mapping and run there. */
static void anon_mode(void)
{
	size_t len = sock_nocfi_end - (const char *)sock_nocfi;
	void *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long (*fn)(void) = (long (*)(void))code;
	int i;

	if (code == MAP_FAILED) {
		perror("cut: mmap");
		exit(1);
	}
	memcpy(code, (const void *)sock_nocfi, len);
	for (i = 0; i < n; i++)
		check(fn(), "anon");
}

int main(int argc, char **argv)
{
	unsigned long ra = 0, end = 0;
	const char *mode = argc > 1 ? argv[1] : "";
	int seconds = argc > 3 ? atoi(argv[3]) : 10, i;

	if (argc > 2)
		n = atoi(argv[2]);
	if (!strcmp(mode, "nomap")) {
		ra = 0x1000;
	} else if (!strcmp(mode, "pasttext")) {
		dl_iterate_phdr(text_end_cb, &end);
		if (!end || (end & 4095) == 0 || (end & 4095) > 4096 - 16)
			return 77;
		ra = end + 8;
	} else if (!strcmp(mode, "data")) {
		ra = (unsigned long)&data_word;
	} else if (!strcmp(mode, "nocfi")) {
		for (i = 0; i < n; i++)
			check(sock_nocfi(), mode);
	} else if (!strcmp(mode, "anon")) {
		anon_mode();
	} else if (!strcmp(mode, "fault")) {
		fault_mode();
	} else {
		fputs("usage: cut nomap|pasttext|data|nocfi|anon|fault [N [SECONDS]]\n", stderr);
		return 2;
	}
	for (i = 0; ra && i < n; i++)
		check(sock_fake_ra(ra), mode);
	if (!fork()) {
		sleep(seconds);
		_exit(0);
	}
	return 0;
}
