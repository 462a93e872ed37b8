// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* /proc/meminfo, for the per-allocator summary (see meminfo.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "meminfo.h"

int meminfo__parse(FILE *f, struct model *m, bool at_end)
{
	bool found[KC_MAX] = {};
	char line[256], key[64];
	long long kb;
	int i, n = 0;

	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63[^:]: %lld", key, &kb) != 2)
			continue;
		for (i = 0; i < KC_MAX; i++) {
			struct model_kcounter_val *v = &m->kcounters[i];

			if (found[i] || strcmp(key, model__kcounter_name(i)))
				continue;
			found[i] = true;
			n++;
			if (at_end) {
				v->end_kb = kb;
			} else {
				v->start_kb = v->end_kb = kb;
				v->seen = true;
			}
		}
	}
	for (i = 0; at_end && i < KC_MAX; i++)
		m->kcounters[i].seen &= found[i];
	return n ? 0 : -EINVAL;
}

int meminfo__read(const char *path, struct model *m, bool at_end)
{
	FILE *f = fopen(path, "re");
	int err;

	if (!f)
		return -errno;
	err = meminfo__parse(f, m, at_end);
	fclose(f);
	return err;
}
