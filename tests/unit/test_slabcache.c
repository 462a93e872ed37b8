// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Merged slab caches from a /sys/kernel/slab look-alike: names linking to
 * one ":<flags>-<size>" directory are aliases of each other; a directory of
 * its own, or a link no other name shares, is no merged cache.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "slabcache.h"
#include "test.h"

static char root[64];

static void link_to(const char *target, const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	ASSERT_OK(symlink(target, path) ? -errno : 0, name);
}

static void make_dir(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	ASSERT_OK(mkdir(path, 0700) ? -errno : 0, name);
}

static void remove_all(void)
{
	static const char *const names[] = {
		":0000056", ":A-0000128", "filp", "ftrace_event_field", "damon_region",
		"Acpi-Parse", "lonely", "pid",
	};
	char path[128];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, names[i]);
		if (unlink(path))
			rmdir(path);
	}
	rmdir(root);
}

void test_slabcache_merged(void)
{
	struct model *m = model__new();
	const struct model_merged *g;
	size_t i;

	snprintf(root, sizeof(root), "/tmp/kleak-slab-XXXXXX");
	if (!ASSERT_OK_PTR(m, "model") || !ASSERT_OK_PTR(mkdtemp(root), "mkdtemp"))
		goto out;
	make_dir(":0000056");
	make_dir(":A-0000128");
	make_dir("filp");
	link_to(":0000056", "ftrace_event_field");
	link_to(":0000056", "damon_region");
	link_to(":0000056", "Acpi-Parse");
	link_to(":A-0000128", "lonely");
	for (i = 0; i < 5; i++)
		snprintf(model__add_site(m)->cache, KLEAK_CACHE_NAME_LEN, "%s",
			 (const char *[]){ "ftrace_event_field", "filp", "lonely",
					   "ftrace_event_field", "(cache of 64)" }[i]);
	if (!ASSERT_OK(slabcache__read_merged(root, m), "slabcache__read_merged"))
		goto out;
	ASSERT_EQ(m->n_merged, 1, "one merged cache among the sites");
	g = model__merged_of(m, "ftrace_event_field");
	if (ASSERT_OK_PTR(g, "ftrace_event_field is merged") &&
	    ASSERT_EQ(g->n_aliases, 2, "its aliases")) {
		ASSERT_STREQ(g->aliases[0], "Acpi-Parse", "first alias");
		ASSERT_STREQ(g->aliases[1], "damon_region", "second alias");
	}
	ASSERT_NULL(model__merged_of(m, "filp"), "a directory of its own");
	ASSERT_NULL(model__merged_of(m, "lonely"), "a link no other name shares");
	ASSERT_EQ(slabcache__read_merged("/no/such/dir", m), -ENOENT, "no slab sysfs");
out:
	remove_all();
	model__free(m);
}
