// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the saved-run reader (record__read_file()) on any bytes,
 * and every report of what it accepts, text and JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include "model.h"
#include "record.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_opts ro = { .max_size = ~0ULL, .caches = true };
	struct model *m = NULL;
	FILE *f, *out;

	if (!size)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	if (!record__read_file(f, "fuzz.run", &m)) {
		out = fopen("/dev/null", "w");
		if (out) {
			report__print(m, &ro, out);
			ro.json = true;
			report__print(m, &ro, out);
			fclose(out);
		}
		model__free(m);
	}
	fclose(f);
	return 0;
}
