/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Comparison of two runs ("kleak diff A B"): outstanding allocations per
 * allocation site and per cache, B minus A.
 *
 * Sites are matched by cache name and call stack as function names: each
 * frame "func+0x1a [mod]" becomes "func [mod]", an unresolved frame becomes
 * "?", and a site whose stack was not captured has the single frame
 * "[stack not captured]". Stack ids, addresses and offsets never take part,
 * so runs from different boots, KASLR slides and hosts compare. Sites of one
 * run that fall on the same key are summed. The figures compared are the
 * kernel's outstanding totals of a site (count and bytes).
 */
#ifndef __KLEAK_DIFF_H
#define __KLEAK_DIFF_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>
#include "model.h"

struct diff_opts {
	const char *name_a;	/* shown in the header; NULL shows "A" */
	const char *name_b;
	__s64 min_delta;	/* bytes, absolute: smaller differences are not shown */
	size_t top;		/* sites shown at most; 0 = all */
	bool json;
};

/*
 * Prints the comparison of a and b to out, as text or JSON. min_delta applies
 * to sites and caches, top to sites only. Everything is computed before the
 * first byte is printed, so an error leaves out untouched. Returns 0, or
 * -errno after one pr_err() line.
 */
int diff__print(const struct model *a, const struct model *b, const struct diff_opts *o,
		FILE *out);

#endif /* __KLEAK_DIFF_H */
