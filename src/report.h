/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Renders a model as the text or JSON report, live or from a saved run. */
#ifndef __KLEAK_REPORT_H
#define __KLEAK_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "model.h"

struct report_opts {
	__u64 older_ms;		/* only allocations at least this old */
	size_t top;		/* 0: every site */
	__u64 min_size;
	__u64 max_size;
	const char *cache;	/* only sites in this cache, NULL: all */
	bool json;
	bool caches;		/* the per-cache summary */
};

/* Returns 0, or -errno when out is not writable. */
int report__print(const struct model *m, const struct report_opts *o, FILE *out);

#endif /* __KLEAK_REPORT_H */
