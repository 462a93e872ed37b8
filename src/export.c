// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the stack formats share: frame names, root first, and the run's summary. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "diff.h"
#include "export.h"
#include "report.h"

void export__free_frames(char **names, int n)
{
	int i;

	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int export__frames(const struct model_site *s, int held, char ***names)
{
	size_t n = s->stack_err ? 1 : s->n_frames, i;
	char **v = calloc(s->n_uframes + n + 2, sizeof(*v));
	int k = 0;

	if (!v)
		return -ENOMEM;
	/* --ustack: the user frames at the root, outermost first, then the kernel's */
	for (i = 0; i < s->n_uframes; i++, k++) {
		v[k] = diff__user_frame_name(&s->uframes[s->n_uframes - 1 - i]);
		if (!v[k])
			goto err_out;
	}
	for (i = 0; i < n; i++, k++) {
		const struct model_frame *f = s->stack_err ? NULL : &s->frames[n - 1 - i];

		if (!f) {
			if (asprintf(&v[k], "[stack not captured: %s]",
				     model__stack_err_str(s->stack_err)) < 0)
				v[k] = NULL;
		} else if (!f->sym) {
			if (asprintf(&v[k], "0x%llx", (unsigned long long)f->addr) < 0)
				v[k] = NULL;
		} else {
			v[k] = diff__frame_name(f->sym);
		}
		if (!v[k])
			goto err_out;
	}
	if (asprintf(&v[k], "[cache %s]", s->cache) < 0)
		goto err_out;
	if (held >= 0 && asprintf(&v[++k], "[held by %s]", model__held_name(held)) < 0)
		goto err_out;
	*names = v;
	return k + 1;
err_out:
	export__free_frames(v, k);
	return -ENOMEM;
}

void export__add_row(struct export_set *x, const struct model_site *site, const struct model *m,
		     const __s64 *count, const __s64 *bytes, const __s64 *const *held)
{
	int runs = x->diff ? 2 : 1, run, h;
	__s64 left[2], bytes_left[2], part;
	struct export_stack *st;

	for (run = 0; held && run < runs; run++)
		if (!held[run])
			held = NULL;
	if (!held) {
		st = &x->stacks[x->n++];
		*st = (struct export_stack){ .site = site, .m = m };
		memcpy(st->count, count, sizeof(st->count));
		memcpy(st->bytes, bytes, sizeof(st->bytes));
		return;
	}
	for (run = 0; run < runs; run++) {
		left[run] = count[run];
		bytes_left[run] = bytes[run];
	}
	/* unknown last: it takes what the classes leave of each run */
	for (h = 1; h <= HELD_MAX; h++) {
		int c = h == HELD_MAX ? HELD_UNKNOWN : h;

		st = &x->stacks[x->n];
		*st = (struct export_stack){ .site = site, .m = m, .split = true, .held = c };
		for (run = 0; run < runs; run++) {
			/* a run holding less than nothing (a diff's frees) is all unknown */
			part = left[run] > 0 ? left[run] : 0;
			if (c == HELD_UNKNOWN)
				part = left[run];
			else if (held[run][c] < part)
				part = held[run][c];
			st->count[run] = part;
			st->bytes[run] = c == HELD_UNKNOWN || part == left[run] ? bytes_left[run] :
					 count[run] ? bytes[run] * part / count[run] : 0;
			left[run] -= part;
			bytes_left[run] -= st->bytes[run];
		}
		if (st->count[0] || st->count[1] || st->bytes[0] || st->bytes[1])
			x->n++;
	}
}

const char *export__module(const char *sym, size_t *len)
{
	const char *open = strrchr(sym, '['), *close;

	/* "[cache X]" and "[stack not captured: ...]" are whole names, not modules */
	if (!open || open == sym || open[-1] != ' ')
		return NULL;
	close = strchr(open, ']');
	if (!close || close[1])
		return NULL;
	*len = close - open - 1;
	return open + 1;
}

char *export__not_seen(const struct model *m)
{
	char *buf = NULL, *line, *nl;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	report__print_not_seen(m, f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	line = strstr(buf, "not seen:");
	if (!line) {
		free(buf);
		return strdup("");
	}
	nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	memmove(buf, line, strlen(line) + 1);
	return buf;
}
