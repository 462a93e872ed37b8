// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the reader of /proc/meminfo and /proc/vmstat for the
 * allocators beside slab (meminfo__parse()), the input read once as the
 * start and once as the end of a run.
 */
#include <stdint.h>
#include <stdio.h>
#include "meminfo.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model *m = model__new();
	bool at_end;
	FILE *f;

	if (!m)
		return 0;
	for (at_end = false; size; at_end = !at_end) {
		struct meminfo_read r = {};

		f = fmemopen((void *)data, size, "r");
		if (!f)
			break;
		meminfo__parse(f, 4, &r);
		fclose(f);
		meminfo__apply(m, &r, at_end);
		if (at_end)
			break;
	}
	model__free(m);
	return 0;
}
