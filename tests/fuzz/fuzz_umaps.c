// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the /proc/PID/maps line parser of --ustack
 * (umaps__parse_line()), on every line of the input, each given as its own
 * exact-size heap copy so that ASan sees any read past its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "umaps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size, *nl;
	struct umaps_line out;
	char *line;
	size_t len;

	while (p < end) {
		nl = memchr(p, '\n', end - p);
		len = (nl ? nl : end) - p;
		line = malloc(len ? len : 1);
		if (!line)
			return 0;
		memcpy(line, p, len);
		if (!umaps__parse_line(line, len, &out) && out.path &&
		    (out.path < line || out.path + out.path_len > line + len))
			abort();	/* the path must point into the line */
		free(line);
		p += len + 1;
	}
	return 0;
}
