// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the /proc/slabinfo reader at start and at end of a run
 * (slabcache__parse_slabinfo()), and the merged-cache grouping of the
 * /sys/kernel/slab symlinks (slabcache__add_merged()), whose links and
 * sites come from the input's lines: "NAME TARGET" a link, "NAME" a site's
 * cache. The first byte picks which.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "slabcache.h"

#define MAX_LINKS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void merged(char *text, struct model *m)
{
	struct slab_link links[MAX_LINKS];
	char *line, *save = NULL, *sp;
	struct model_site *s;
	size_t n = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		sp = strchr(line, ' ');
		if (sp && n < MAX_LINKS) {
			*sp = '\0';
			links[n].name = line;
			links[n++].target = sp + 1;
		} else if (!sp && (s = model__add_site(m))) {
			snprintf(s->cache, sizeof(s->cache), "%s", line);
		}
	}
	slabcache__add_merged(links, n, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model *m;
	char *text;
	FILE *f;

	if (!size || !(m = model__new()))
		return 0;
	text = malloc(size);
	if (text) {
		memcpy(text, data + 1, size - 1);
		text[size - 1] = '\0';
		if (data[0] & 1) {
			merged(text, m);
		} else if ((f = fmemopen((void *)(data + 1), size - 1 ? size - 1 : 1, "r"))) {
			slabcache__parse_slabinfo(f, m, false);
			rewind(f);
			slabcache__parse_slabinfo(f, m, true);
			fclose(f);
		}
		free(text);
	}
	model__free(m);
	return 0;
}
