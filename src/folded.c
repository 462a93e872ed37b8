// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Folded stacks, as flamegraph.pl, inferno and speedscope read them: one
 * line per stack, "frame;frame;...;frame VALUE", root first. A diff writes
 * the two-column form difffolded.pl and inferno-diff-folded write,
 * "stack A B", which flamegraph.pl and inferno-flamegraph draw as a
 * differential graph. Frames never hold ';' (kernel symbols and module
 * names cannot), and a value follows the last space, so spaces in frames
 * ("func [mod]") are read right.
 */
#include <inttypes.h>
#include "export.h"

static __s64 value_of(const struct export_set *x, const struct export_stack *st, int run)
{
	__s64 v = x->value == VALUE_COUNT ? st->count[run] : st->bytes[run];

	/* a diff's run may hold less than nothing: frees of objects from before it */
	return v > 0 ? v : 0;
}

int folded__write(const struct export_set *x, FILE *out)
{
	size_t i, j;

	for (i = 0; i < x->n; i++) {
		const struct export_stack *st = &x->stacks[i];

		for (j = 0; j < st->n_frames; j++)
			fprintf(out, "%s%s", j ? ";" : "", st->frames[j].name);
		fprintf(out, " %" PRId64, (int64_t)value_of(x, st, 0));
		if (x->diff)
			fprintf(out, " %" PRId64, (int64_t)value_of(x, st, 1));
		fputc('\n', out);
	}
	return 0;
}
