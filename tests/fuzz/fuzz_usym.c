// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: user frame symbols (usym.c) from the input as the
 * binary a process ran: its build ID and segments read as a mapping's are,
 * then offsets in each segment resolved through its symbol tables, DWARF
 * lines and debuginfo lookup, with C++ names demangled. The binary is a
 * memfd, found by path as a binary that was not kept open is.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "usym.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ubin bin = { .fd = -1 };
	struct model_uframe f;
	struct usym *u;
	char path[64];
	void *copy;
	__u32 i, k;
	int fd;

	fd = memfd_create("fuzz-usym", MFD_CLOEXEC);
	copy = malloc(size ? size : 1);
	if (fd < 0 || !copy || write(fd, data, size) != (ssize_t)size)
		goto out;
	/* the build ID and segments as umaps reads them from the file that ran */
	memcpy(copy, data, size);
	if (buildid__of_buf(copy, size, bin.id, &bin.loads) > 0)
		bin.has_loads = true;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	bin.path = path;
	u = usym__new("/nonexistent-debug");
	if (!u)
		goto out;
	for (i = 0; i < bin.loads.n && i < BUILDID_MAX_LOADS; i++)
		for (k = 0; k < 4; k++) {
			memset(&f, 0, sizeof(f));
			usym__resolve(u, bin.id, &bin, bin.loads.seg[i].offset +
				      k * (bin.loads.seg[i].size / 4 + 1), k & 1, &f);
			free(f.sym);
			free(f.srcline);
		}
	usym__free(u);
out:
	free(copy);
	if (fd >= 0)
		close(fd);
	return 0;
}
