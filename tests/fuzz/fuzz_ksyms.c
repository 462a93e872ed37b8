// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the kallsyms parser (ksyms__parse()) on any bytes, then
 * lookups of addresses the input names and of their neighbours.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ksyms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), sym[256];
	struct ksyms *ks;
	__u64 addr, off;
	size_t i;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	ks = ksyms__parse(buf, size);
	if (!ks)
		return 0;
	for (i = 0; i + 8 <= size && i < 64; i += 8) {
		memcpy(&addr, data + i, sizeof(addr));
		ksyms__map_addr(ks, addr, &off);
		ksyms__format(ks, addr, sym, sizeof(sym));
		ksyms__format(ks, addr, sym, 8);
	}
	ksyms__get_symbol(ks, "kmalloc");
	ksyms__free(ks);
	return 0;
}
