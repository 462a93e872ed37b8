// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kleak: which kernel code paths hold slab memory that was never freed.
 * Orchestration only: parse, then trace, print a saved run, diff two, or
 * say what the kernel offers.
 */
#include <stdlib.h>
#include <string.h>
#include "caps.h"
#include "diff.h"
#include "kernel_features.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "opts.h"
#include "output.h"
#include "record.h"
#include "report.h"
#include "run.h"

/* The sites of m the report's header counts as holding: past its filters, with a record. */
static size_t sites_holding(const struct model *m, const struct report_opts *ro)
{
	size_t i, n = 0;

	for (i = 0; i < m->n_sites; i++) {
		const struct model_site *s = &m->sites[i];

		n += s->n_ages && s->obj_size >= ro->min_size && s->obj_size <= ro->max_size &&
		     (!ro->cache || !strcmp(ro->cache, s->cache));
	}
	return n;
}

/*
 * --exclude for a report: known noise leaves the model before anything reads
 * it. Only sites go; the run's counters stay, so the footer still says what
 * the run lost. Counted as the report's header counts sites, those holding
 * allocations past its filters: what is left is the header's figure.
 */
static void exclude_sites(const struct env *env, struct model *m, const struct report_opts *ro,
			  const char *what)
{
	size_t before, after;

	if (!env->exclude)
		return;
	before = sites_holding(m, ro);
	model__drop_sites(m, &env->exclude_re);
	after = sites_holding(m, ro);
	if (before > after)
		pr_info("%s: --exclude '%s' left out %zu of the %zu sites holding allocations",
			what, env->exclude, before - after, before);
}

/*
 * --cache naming a cache neither run's kernel had gets the live run's
 * answer (slabcache__resolve()), not an empty report.
 */
static bool unknown_cache(const struct env *env, const struct model *a, const struct model *b,
			  const char *what)
{
	if (!env->cache || model__knows_cache(a, env->cache) || model__knows_cache(b, env->cache))
		return false;
	pr_err("unknown slab cache '%s': not in the slabinfo of %s", env->cache, what);
	return true;
}

/* --held-by: only the objects of one class, in the sites that hold some. */
static void keep_held(const struct env *env, struct model *m)
{
	if (env->held_by)
		model__keep_held(m, env->held_class);
}

static int cmd_report(const struct env *env)
{
	struct report_opts ro = {
		.older_ms = env->older_ms,
		.top = env->top,
		.min_size = env->min_size,
		.max_size = env->max_size,
		.cache = env->cache,
		.json = env->json,
		.caches = !env->no_caches,
		.raw_addresses = env->raw_addresses,
	};
	struct model *m;
	int err;

	if (output__check(env) || record__read(env->files[0], &m))
		return 1;
	if (unknown_cache(env, m, m, env->files[0])) {
		model__free(m);
		return 1;
	}
	/* a saved run prints with the options it printed with, unless told otherwise */
	if (m->meta.report_saved) {
		if (!env->older_set)
			ro.older_ms = m->meta.older_ms;
		if (!env->top_set)
			ro.top = m->meta.top;
		if (!env->caches_set)
			ro.caches = m->meta.caches;
	}
	exclude_sites(env, m, &ro, env->files[0]);
	keep_held(env, m);
	/* the metrics file first: the report on stdout may go to a closed pipe */
	err = env->metrics_path ? metrics__write(m, ro.top, env->metrics_path) : 0;
	if (!err)
		err = output__report(env, m, &ro, env->files[0]);
	model__free(m);
	return err ? 1 : 0;
}

/*
 * Every report option that means something for two runs applies to both;
 * --exclude is applied by the diff itself, which counts what it left out of
 * each run on the same terms as the sites it shows.
 */
static int cmd_diff(const struct env *env)
{
	struct diff_opts o = {
		.name_a = env->files[0],
		.name_b = env->files[1],
		.min_delta = env->min_delta,
		.top = env->top,
		.older_ms = env->older_set ? env->older_ms : 0,
		.cache = env->cache,
		.min_size = env->min_size,
		.max_size = env->max_size == ~0ULL ? 0 : env->max_size,
		.exclude = env->exclude ? &env->exclude_re : NULL,
		.no_caches = env->no_caches,
		.json = env->json,
	};
	struct model *a = NULL, *b = NULL;
	int err = 1;

	if (!output__check(env) && !record__read(env->files[0], &a) &&
	    !record__read(env->files[1], &b) && !unknown_cache(env, a, b, "either run")) {
		keep_held(env, a);
		keep_held(env, b);
		err = output__diff(env, a, b, &o) ? 1 : 0;
	}
	model__free(a);
	model__free(b);
	return err;
}

static int cmd_features(const struct env *env)
{
	struct features f;

	/* unprivileged, every probe fails: that says nothing of the kernel */
	if (!caps__can_bpf("probing the kernel's BPF features"))
		return 1;
	if (features__probe(&f, env->btf_path))
		return 1;
	return features__print(&f, env->json, stdout);
}

int main(int argc, char **argv)
{
	struct env env;
	int status;

	if (opts__parse(argc, argv, &env)) {
		opts__free(&env);
		return EXIT_USAGE;
	}
	switch (env.cmd) {
	case CMD_REPORT:
		status = cmd_report(&env);
		break;
	case CMD_DIFF:
		status = cmd_diff(&env);
		break;
	case CMD_FEATURES:
		status = cmd_features(&env);
		break;
	default:
		status = run__trace(&env);
	}
	opts__free(&env);
	return status;
}
