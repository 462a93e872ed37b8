// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: --ustack=dwarf's mmap event records
 * (mmap_events__parse()), each as its own exact-size heap copy so that ASan
 * sees any read past its end, applied to the mappings of the processes
 * they name (umaps.c: forks, execs, exits, mappings over mappings), whose
 * binaries are never opened: a fake reader names them by their path.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include "mmap_events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int read_by_path(__u32 tgid, const struct umaps_line *l, struct ubin *bin)
{
	size_t i;

	memset(bin, 0, sizeof(*bin));
	bin->fd = -1;
	if (l->path_len < 2)
		return -ENOENT;
	for (i = 0; i < sizeof(bin->id); i++)
		bin->id[i] = l->path[i % l->path_len];
	bin->id_len = sizeof(bin->id);
	bin->has_loads = true;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct umaps *maps = umaps__new();
	struct perf_event_header h;
	struct mmap_record r;
	size_t len;
	void *rec;

	if (!maps)
		return 0;
	while (size >= sizeof(h)) {
		memcpy(&h, data, sizeof(h));
		len = h.size && h.size <= size ? h.size : size;
		rec = malloc(len);
		if (!rec)
			break;
		memcpy(rec, data, len);
		if (!mmap_events__parse(rec, len, &r)) {
			if (r.type == PERF_RECORD_MMAP2 &&
			    (r.line.path < (char *)rec ||
			     r.line.path + r.line.path_len > (char *)rec + len))
				abort();	/* the path must point into the record */
			mmap_events__apply(maps, &r, read_by_path);
			umaps__find(maps, r.pid, r.line.start);
		}
		free(rec);
		data += len;
		size -= len;
	}
	umaps__reap(maps, ~0ULL, NULL, NULL);
	umaps__free(maps);
	return 0;
}
