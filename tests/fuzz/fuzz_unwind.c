// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: --ustack=dwarf's unwinding (unwind.c) of a copied stack
 * sample through the CFI of a binary. The input is a little-endian u32 n,
 * n bytes of an ELF image (the binary, mapped at its own addresses by a
 * process of the test), then the sample: its 17 registers and the stack
 * words above sp, at most KLEAK_USTACK_COPY bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "unwind.h"

#define TGID 4242

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int elf_fd = -1;

/* The binary of every mapping: the input's image, in a memfd. */
static int read_input(__u32 tgid, const struct umaps_line *l, struct ubin *bin)
{
	struct elf_loads loads;
	int n;

	memset(bin, 0, sizeof(*bin));
	bin->fd = -1;
	n = buildid__of_fd(elf_fd, bin->id, &loads);
	if (n <= 0)
		return n ? n : -ENOENT;
	bin->id_len = n;
	bin->loads = loads;
	bin->has_loads = true;
	bin->fd = dup(elf_fd);
	return bin->fd < 0 ? -errno : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kleak_usample s;
	struct kleak_ustack u;
	struct umaps_line l = { .exec = true, .path = "/fuzz/bin", .path_len = 9 };
	struct elf_loads loads;
	struct umaps *maps = NULL;
	struct unwind *uw = NULL;
	enum unwind_end end;
	__u32 n, i;
	void *copy = NULL;

	if (size < sizeof(n))
		return 0;
	memcpy(&n, data, sizeof(n));
	if (n > size - sizeof(n) || size - sizeof(n) - n < sizeof(s.regs))
		return 0;
	elf_fd = memfd_create("fuzz-unwind", MFD_CLOEXEC);
	copy = malloc(n ? n : 1);
	if (elf_fd < 0 || !copy || write(elf_fd, data + sizeof(n), n) != (ssize_t)n)
		goto out;
	memcpy(copy, data + sizeof(n), n);
	maps = umaps__new();
	if (!maps || buildid__of_buf(copy, n, l.build_id, &loads) <= 0)
		goto out;
	/* each segment where the binary's own addresses put it, as an ET_EXEC's */
	for (i = 0; i < loads.n && i < BUILDID_MAX_LOADS; i++) {
		l.start = loads.seg[i].vaddr & ~4095ULL;
		l.end = loads.seg[i].vaddr + loads.seg[i].size;
		l.pgoff = loads.seg[i].offset & ~4095ULL;
		if (l.end > l.start && umaps__add_mapping(maps, TGID, &l, i + 1, read_input))
			goto out;
	}
	data += sizeof(n) + n;
	size -= sizeof(n) + n;
	memcpy(s.regs, data, sizeof(s.regs));
	s.len = size - sizeof(s.regs) < sizeof(s.stack) ? size - sizeof(s.regs) : sizeof(s.stack);
	memcpy(s.stack, data + sizeof(s.regs), s.len);
	s.tgid = s.pid = TGID;
	uw = unwind__new(maps);
	if (uw)
		unwind__sample(uw, &s, KLEAK_MAX_USTACK_DEPTH, &u, &end);
out:
	unwind__free(uw);
	umaps__free(maps);
	free(copy);
	if (elf_fd >= 0)
		close(elf_fd);
	elf_fd = -1;
	return 0;
}
