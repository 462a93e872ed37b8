// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the ELF build-ID and PT_LOAD reader of --ustack
 * (buildid__of_buf()), on the input as an ELF image, and the file offsets
 * it maps through the segments it found.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "buildid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	__u8 id[KLEAK_BUILD_ID_SIZE];
	struct elf_loads loads;
	__u64 vaddr;
	void *buf;

	/* an exact-size writable copy: libelf may convert a foreign-endian image in place */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (!buildid__of_buf(buf, size, id, &loads))
		buildid__offset_to_vaddr(&loads, size / 2, &vaddr);
	free(buf);
	return 0;
}
