// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* --format, --output and --value: one renderer per format, one way to a file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "export.h"
#include "held.h"
#include "log.h"
#include "outfile.h"
#include "output.h"

static const char *const format_names[] = {
	[FORMAT_TEXT] = "text",
	[FORMAT_JSON] = "json",
	[FORMAT_FOLDED] = "folded",
	[FORMAT_PPROF] = "pprof",
	[FORMAT_SVG] = "svg",
};

int output__check(const struct env *env)
{
	if (env->output_path)
		return outfile__check(env->output_path, "output file");
	if (env->format == FORMAT_PPROF && isatty(STDOUT_FILENO)) {
		pr_err("--format pprof writes gzip-compressed binary: give --output FILE, or "
		       "redirect stdout to a file or a pipe");
		return -EINVAL;
	}
	return 0;
}

/* Writes x in env's stack format unless err says building it failed, then frees x->stacks. */
static int write_set(const struct env *env, struct export_set *x, FILE *f, int err)
{
	size_t i;

	x->value = env->value;
	if (!err)
		err = env->format == FORMAT_FOLDED ? folded__write(x, f) :
		      env->format == FORMAT_PPROF ? pprof__write(x, f) : svg__write(x, f);
	for (i = 0; x->stacks && i < x->n; i++)
		export__free_frames(&x->stacks[i]);
	free(x->stacks);
	return err;
}

/* Room for n rows, each split into at most HELD_MAX classes (export__add_row()). */
static int alloc_stacks(struct export_set *x, size_t n)
{
	x->n = 0;
	x->stacks = calloc(n ? n * HELD_MAX : 1, sizeof(*x->stacks));
	return x->stacks ? 0 : -ENOMEM;
}

/* A flame graph or a profile is of the whole run: --top cuts it only when given. */
static int report_set(const struct env *env, const struct model *m,
		      const struct report_opts *ro, const char *name, FILE *f)
{
	struct report_opts o = *ro;
	struct export_set x = { .run = { m }, .name = { name }, .older_ms = ro->older_ms };
	struct report_site *rs = NULL;
	size_t i, n = 0;
	int err;

	if (!env->top_set)
		o.top = 0;
	err = report__select(m, &o, &rs, &n);
	if (!err)
		err = alloc_stacks(&x, n);
	for (i = 0; !err && i < n; i++) {
		__s64 count[2] = { rs[i].count }, bytes[2] = { rs[i].bytes }, held[HELD_MAX];
		const __s64 *runs[1] = { held };
		__u64 classes[HELD_MAX];
		__u32 scale = m->meta.sample_rate > 1 ? m->meta.sample_rate : 1;
		size_t first = x.n, k;
		int h;

		/* the report counts the site's oldest count / scale objects */
		held__count(rs[i].s, rs[i].count / scale, classes);
		for (h = 0; h < HELD_MAX; h++)
			held[h] = classes[h] * scale;
		export__add_row(&x, rs[i].s, m, count, bytes, rs[i].s->held ? runs : NULL);
		for (k = first; !err && k < x.n; k++)
			err = export__site_frames(m, rs[i].s, ro->raw_addresses, &x.stacks[k]);
	}
	free(rs);
	return write_set(env, &x, f, err);
}

static int diff_set(const struct env *env, const struct model *a, const struct model *b,
		    const struct diff_opts *o, FILE *f)
{
	struct diff_opts od = *o;
	struct export_set x = {
		.diff = true,
		.run = { a, b },
		.name = { o->name_a, o->name_b },
		.older_ms = o->older_ms,
	};
	struct diff_change *c = NULL;
	size_t i, n = 0;
	int err;

	if (!env->top_set)
		od.top = 0;
	err = diff__changes(a, b, &od, &c, &n);
	if (!err)
		err = alloc_stacks(&x, n);
	for (i = 0; !err && i < n; i++) {
		const __s64 *runs[2] = { c[i].classified[0] ? c[i].held[0] : NULL,
					 c[i].classified[1] ? c[i].held[1] : NULL };
		size_t first = x.n, k;

		export__add_row(&x, c[i].site, c[i].m, c[i].count, c[i].bytes, runs);
		for (k = first; !err && k < x.n; k++)
			err = export__change_frames(&c[i], &x.stacks[k]);
	}
	diff__free_changes(c, n);
	return write_set(env, &x, f, err);
}

/* Opens where the report goes: stdout, or a temporary file beside --output. */
static int begin(const struct env *env, struct outfile *of, FILE **f)
{
	int err;

	if (!env->output_path) {
		*f = stdout;
		return 0;
	}
	err = outfile__open(of, env->output_path);
	if (err) {
		pr_err("cannot write %s: %s", env->output_path, strerror(-err));
		return err;
	}
	*f = of->f;
	return 0;
}

/* Ends the write; said: the renderer's error was printed already. */
static int finish(const struct env *env, struct outfile *of, FILE *f, int err, bool said)
{
	if (!env->output_path) {
		/*
		 * A write that failed on a line-buffered stdout left its errno,
		 * nothing runs since; else the flush fails and says why.
		 */
		if (!err && ferror(f))
			err = errno ? -errno : -EIO;
		errno = 0;
		if (!err && fflush(f))
			err = errno ? -errno : -EIO;
		if (err && !said)
			pr_err("failed to write the %s report: %s", format_names[env->format],
			       strerror(-err));
		return err;
	}
	if (err) {
		outfile__abort(of);
		if (!said)
			pr_err("failed to write %s: %s", env->output_path, strerror(-err));
		return err;
	}
	err = outfile__commit(of);
	if (err)
		pr_err("failed to write %s: %s", env->output_path, strerror(-err));
	return err;
}

int output__render_report(const struct env *env, const struct model *m,
			  const struct report_opts *ro, const char *name, FILE *f)
{
	if (env->format == FORMAT_TEXT || env->format == FORMAT_JSON)
		return report__print(m, ro, f);
	return report_set(env, m, ro, name, f);
}

int output__report(const struct env *env, const struct model *m, const struct report_opts *ro,
		   const char *name)
{
	struct outfile of;
	FILE *f;
	int err;

	err = begin(env, &of, &f);
	if (err)
		return err;
	err = output__render_report(env, m, ro, name, f);
	return finish(env, &of, f, err, false);
}

int output__diff(const struct env *env, const struct model *a, const struct model *b,
		 const struct diff_opts *o)
{
	struct outfile of;
	FILE *f;
	int err;

	err = begin(env, &of, &f);
	if (err)
		return err;
	/* diff__print() names what failed itself */
	if (env->format == FORMAT_TEXT || env->format == FORMAT_JSON)
		return finish(env, &of, f, diff__print(a, b, o, f), true);
	err = diff_set(env, a, b, o, f);
	return finish(env, &of, f, err, false);
}
