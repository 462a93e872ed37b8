// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: --ustack's compiler of a binary's call frame
 * information into the walker's rows (ucfi__compile_buf()), on the input as
 * an ELF image: any binary a traced process maps gets there. The rows it
 * gives are then searched as the walker searches them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ucfi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ucfi_rows r;
	void *buf;
	size_t i;

	/* an exact-size writable copy: libelf may convert a foreign-endian image in place */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (!ucfi__compile_buf(buf, size, &r)) {
		for (i = 0; i < r.n; i++)
			ucfi__rule_at(&r, r.row[i] >> 32);
		ucfi__rule_at(&r, size);
		ucfi__rows_free(&r);
	}
	free(buf);
	return 0;
}
