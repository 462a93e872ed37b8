// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* /proc/meminfo and /proc/vmstat, for the per-allocator summary (see meminfo.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "meminfo.h"

enum unit { UNIT_KB, UNIT_PAGES };

/*
 * Each line of either file that feeds a counter; a counter fed by several
 * (the LRU lists) is their sum. Not read: vmstat's nr_free_pages, which on
 * this host's 6.18 leaves out most of what MemFree counts free, and its
 * pgalloc_* less pgfree, which grew by half what MemFree fell by as a
 * workload faulted in 1 GiB there: MemFree's fall is what the free lists
 * gave out.
 */
static const struct {
	const char *name;
	int kc;
	enum unit unit;
} keys[] = {
	{ "Slab", KC_SLAB, UNIT_KB },
	{ "SUnreclaim", KC_SUNRECLAIM, UNIT_KB },
	{ "MemFree", KC_MEMFREE, UNIT_KB },
	{ "VmallocUsed", KC_VMALLOC_USED, UNIT_KB },
	{ "Percpu", KC_PERCPU, UNIT_KB },
	/* user and page-cache pages: the LRU lists, and those isolated from them */
	{ "nr_inactive_anon", KC_LRU, UNIT_PAGES },
	{ "nr_active_anon", KC_LRU, UNIT_PAGES },
	{ "nr_inactive_file", KC_LRU, UNIT_PAGES },
	{ "nr_active_file", KC_LRU, UNIT_PAGES },
	{ "nr_unevictable", KC_LRU, UNIT_PAGES },
	{ "nr_isolated_anon", KC_LRU, UNIT_PAGES },
	{ "nr_isolated_file", KC_LRU, UNIT_PAGES },
	{ "nr_slab_reclaimable", KC_NR_SLAB_RECLAIMABLE, UNIT_PAGES },
	{ "nr_slab_unreclaimable", KC_NR_SLAB_UNRECLAIMABLE, UNIT_PAGES },
	{ "nr_page_table_pages", KC_NR_PAGE_TABLE_PAGES, UNIT_PAGES },
	/* in kB, unlike the other nr_ counters */
	{ "nr_kernel_stack", KC_NR_KERNEL_STACK, UNIT_KB },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

int meminfo__parse(FILE *f, __s64 page_kb, struct meminfo_read *r)
{
	bool line_seen[N_KEYS] = {};
	char line[256], name[64];
	long long v;
	__s64 kb;
	size_t i, n = 0;

	while (fgets(line, sizeof(line), f)) {
		/* meminfo's "Name:   N kB" and vmstat's "name N" */
		if (sscanf(line, "%63[^: ]%*[: ]%lld", name, &v) != 2)
			continue;
		for (i = 0; i < N_KEYS; i++) {
			if (strcmp(name, keys[i].name))
				continue;
			/* a name once: a repeated line adds nothing */
			if (line_seen[i])
				break;
			/* no kernel counts that far: not a counter of this file */
			if (__builtin_mul_overflow(v, keys[i].unit == UNIT_PAGES ? page_kb : 1, &kb) ||
			    __builtin_add_overflow(r->kb[keys[i].kc], kb, &kb))
				break;
			line_seen[i] = true;
			r->kb[keys[i].kc] = kb;
			r->found[keys[i].kc] = true;
			n++;
			break;
		}
	}
	return n ? 0 : -EINVAL;
}

void meminfo__apply(struct model *m, const struct meminfo_read *r, bool at_end)
{
	int i;

	for (i = 0; i < KC_MAX; i++) {
		struct model_kcounter_val *v = &m->kcounters[i];

		if (at_end) {
			v->seen &= r->found[i];
			v->end_kb = r->kb[i];
		} else {
			v->seen = r->found[i];
			v->start_kb = v->end_kb = r->kb[i];
		}
	}
}

static int read_file(const char *path, __s64 page_kb, struct meminfo_read *r)
{
	FILE *f = fopen(path, "re");
	int err;

	if (!f)
		return -errno;
	err = meminfo__parse(f, page_kb, r);
	fclose(f);
	return err;
}

int meminfo__read(struct model *m, bool at_end)
{
	struct meminfo_read r = {};
	__s64 page_kb = sysconf(_SC_PAGESIZE) / 1024;
	int err, err2;

	err = read_file("/proc/meminfo", page_kb, &r);
	err2 = read_file("/proc/vmstat", page_kb, &r);
	meminfo__apply(m, &r, at_end);
	return err ?: err2;
}
