// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What the stack formats share: frame names, root first, and the run's summary. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "diff.h"
#include "export.h"
#include "report.h"

void export__free_frames(struct export_stack *st)
{
	size_t i;

	for (i = 0; st->frames && i < st->n_frames; i++)
		free(st->frames[i].name);
	free(st->frames);
	st->frames = NULL;
	st->n_frames = 0;
}

char *export__cache_frame(const struct model *m, const char *cache)
{
	const struct model_merged *g = model__merged_of(m, cache);
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "[cache %s", cache);
	for (i = 0; g && i < g->n_aliases; i++)
		fprintf(f, "%s%s", i ? ", " : " (merged: ", g->aliases[i]);
	fputs(g && g->n_aliases ? ")]" : "]", f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * Frame k of s, counted as struct diff_frame_ref counts: its kernel frames
 * innermost first (the one "[stack not captured]"), then its user frames.
 */
static int frame_of(const struct model_site *s, size_t k, bool raw, struct export_frame *f)
{
	size_t n_kernel = s->stack_err ? 1 : s->n_frames;
	const struct model_frame *kf = k < n_kernel && !s->stack_err ? &s->frames[k] : NULL;

	f->code = !s->stack_err || k >= n_kernel;
	f->addr = 0;
	if (k >= n_kernel) {
		/* a user frame at its offset in its binary: nothing of the kernel's layout */
		f->addr = s->uframes[k - n_kernel].offset;
		f->name = diff__user_frame_name(&s->uframes[k - n_kernel]);
	} else if (!kf) {
		if (asprintf(&f->name, "[stack not captured: %s]",
			     model__stack_err_str(s->stack_err)) < 0)
			f->name = NULL;
	} else {
		/* kernel addresses give away KASLR's offset: only when asked */
		f->addr = raw ? kf->addr : 0;
		if (kf->sym)
			f->name = diff__frame_name(kf->sym);
		else if (!f->addr)
			f->name = strdup("?");
		else if (asprintf(&f->name, "0x%llx", (unsigned long long)f->addr) < 0)
			f->name = NULL;
	}
	return f->name ? 0 : -ENOMEM;
}

/*
 * n frames, root first, from frame(ctx, i) innermost first; the cache of m
 * on top, and st's class above it where st is of one.
 */
static int fill_frames(struct export_stack *st, size_t n, const struct model *m,
		       const char *cache,
		       int (*frame)(const void *ctx, size_t i, struct export_frame *f),
		       const void *ctx)
{
	size_t i;

	st->n_frames = 0;
	st->frames = calloc(n + 2, sizeof(*st->frames));
	if (!st->frames)
		return -ENOMEM;
	for (i = 0; i < n; i++, st->n_frames++)
		if (frame(ctx, n - 1 - i, &st->frames[i]))
			goto err_out;
	st->frames[n].name = export__cache_frame(m, cache);
	if (!st->frames[n].name)
		goto err_out;
	st->n_frames++;
	if (export__held(st) >= 0) {
		if (asprintf(&st->frames[n + 1].name, "[held by %s]",
			     model__held_name(st->held)) < 0)
			goto err_out;
		st->n_frames++;
	}
	return 0;
err_out:
	export__free_frames(st);
	return -ENOMEM;
}

struct site_ctx {
	const struct model_site *s;
	bool raw;
};

static int site_frame(const void *ctx, size_t i, struct export_frame *f)
{
	const struct site_ctx *c = ctx;

	return frame_of(c->s, i, c->raw, f);
}

int export__site_frames(const struct model *m, const struct model_site *s, bool raw,
			struct export_stack *st)
{
	struct site_ctx c = { .s = s, .raw = raw };

	return fill_frames(st, (s->stack_err ? 1 : s->n_frames) + s->n_uframes, m, s->cache,
			   site_frame, &c);
}

static int change_frame(const void *ctx, size_t i, struct export_frame *f)
{
	const struct diff_frame_ref *r = &((const struct diff_change *)ctx)->frames[i];

	/* a diff compares runs by name: no address */
	return frame_of(r->site, r->k, false, f);
}

int export__change_frames(const struct diff_change *c, struct export_stack *st)
{
	return fill_frames(st, c->n_frames, c->m, c->site->cache, change_frame, c);
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
