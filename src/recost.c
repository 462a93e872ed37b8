// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The size estimate of recost.h: one pass over the pattern with a stack of
 * open groups, each holding the size of what it has so far and of its last
 * atom, which a repetition multiplies.
 */
#include <stdlib.h>
#include "recost.h"

#define MAX_DEPTH	64

struct frame {
	size_t total;
	size_t last;
	/* repetitions nested in the last atom, and at most in the group */
	unsigned int last_reps;
	unsigned int max_reps;
};

static size_t capped(size_t n)
{
	return n > RECOST_MAX_NODES ? RECOST_MAX_NODES + 1 : n;
}

/* Past a bracket expression that starts at p ('['): "[]a]", "[^]a]", "[[:alpha:]]". */
static const char *skip_bracket(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	while (*p && *p != ']') {
		if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
			char end = p[1];

			for (p += 2; *p && !(p[0] == end && p[1] == ']'); p++)
				;
			if (*p)
				p += 2;
			continue;
		}
		p++;
	}
	return *p ? p + 1 : p;
}

/* How many copies {n,m} at p ('{') makes, and where it ends; 0: no bound here. */
static size_t bound_copies(const char **pp)
{
	const char *p = *pp + 1;
	char *end;
	unsigned long n, m;

	n = strtoul(p, &end, 10);
	if (end == p)
		return 0;
	m = n;
	if (*end == ',') {
		p = end + 1;
		m = strtoul(p, &end, 10);
		if (end == p)
			m = n;
	}
	if (*end != '}')
		return 0;
	*pp = end;
	return capped(m) + 1;
}

size_t recost__nodes(const char *pattern)
{
	struct frame st[MAX_DEPTH + 1] = {};
	const char *p = pattern;
	size_t depth = 0, f = 1;

	for (; *p; p++) {
		struct frame *fr = &st[depth];

		switch (*p) {
		case '(':
			if (depth == MAX_DEPTH)
				return RECOST_MAX_NODES + 1;
			st[++depth] = (struct frame){};
			continue;
		case ')':
			if (!depth)
				break;
			depth--;
			st[depth].last = fr->total + 1;
			st[depth].total = capped(st[depth].total + fr->total + 1);
			st[depth].last_reps = fr->max_reps;
			if (fr->max_reps > st[depth].max_reps)
				st[depth].max_reps = fr->max_reps;
			continue;
		case '|':
			fr->total++;
			fr->last = 0;
			fr->last_reps = 0;
			continue;
		case '*':
		case '?':
		case '+':
			f = *p == '+' ? 2 : 1;
			break;
		case '{':
			f = bound_copies(&p);
			if (f)
				break;
			f = 1;
			fr->last = 1;
			fr->last_reps = 0;
			fr->total = capped(fr->total + 1);
			continue;
		case '[':
			p = skip_bracket(p) - 1;
			fr->last = 1;
			fr->last_reps = 0;
			fr->total = capped(fr->total + 1);
			continue;
		case '\\':
			if (p[1])
				p++;
			/* fall through */
		default:
			fr->last = 1;
			fr->last_reps = 0;
			fr->total = capped(fr->total + 1);
			continue;
		}
		if (*p == ')') {
			fr->last = 1;
			fr->last_reps = 0;
			fr->total = capped(fr->total + 1);
			continue;
		}
		/* a repetition: f copies of the last atom, and a node of its own */
		fr->total = capped(fr->total + fr->last * (f - 1) + 1);
		fr->last = capped(fr->last * f + 1);
		if (++fr->last_reps > RECOST_MAX_NESTING)
			return RECOST_MAX_NODES + 1;
		if (fr->last_reps > fr->max_reps)
			fr->max_reps = fr->last_reps;
	}
	while (depth) {
		st[depth - 1].total = capped(st[depth - 1].total + st[depth].total + 1);
		depth--;
	}
	return st[0].total;
}
