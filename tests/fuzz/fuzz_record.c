// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the saved-run reader (record__read_file()) on any bytes,
 * and on the same bytes with a correct end line, and every report of what it
 * accepts, text and JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "model.h"
#include "record.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input with its end line made right (the count of site lines and the
 * CRC32 of what precedes it), so that mutations reach the parser past the
 * integrity check; NULL when the input is too short to be worth it.
 */
static char *with_end_line(const uint8_t *data, size_t size, size_t *len)
{
	size_t body = size, n_sites = 0, i;
	char *buf;

	for (i = size; i-- > 0;)
		if (data[i] == '\n' && i + 5 <= size && !memcmp(data + i + 1, "end ", 4)) {
			body = i + 1;
			break;
		}
	for (i = 0; i + 5 <= body; i++)
		if ((i == 0 || data[i - 1] == '\n') && !memcmp(data + i, "site ", 5))
			n_sites++;
	buf = malloc(body + 64);
	if (!buf)
		return NULL;
	memcpy(buf, data, body);
	*len = body + snprintf(buf + body, 64, "end %zu %08lx\n", n_sites,
			       (unsigned long)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)data, body));
	return buf;
}

/* Reads one file's bytes and prints what it accepts. */
static void read_and_report(const void *data, size_t size)
{
	struct report_opts ro = { .max_size = ~0ULL, .caches = true };
	struct model *m = NULL;
	FILE *f, *out;

	f = fmemopen((void *)data, size, "r");
	if (!f)
		return;
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;
	char *fixed;

	if (!size)
		return 0;
	read_and_report(data, size);
	fixed = with_end_line(data, size, &len);
	if (fixed)
		read_and_report(fixed, len);
	free(fixed);
	return 0;
}
