// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Object classes on small models built here: the kind of a merged cache
 * (one kind among its names, merged when other kinds' names are in it), of
 * a kmalloc site (from its allocating function) and of files opened under
 * an overlay file, and the examples a report shows when it counts only the
 * oldest objects (--older): those of the classes the counted objects have.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "classify.h"
#include "held.h"
#include "json.h"
#include "test.h"

static struct model_site *add_cache_site(struct model *m, const char *cache)
{
	struct model_site *s = model__add_site(m);

	if (s) {
		s->kind = KLEAK_SITE_CACHE;
		snprintf(s->cache, sizeof(s->cache), "%s", cache);
	}
	return s;
}

static bool add_merged(struct model *m, const char *name, const char *const *aliases)
{
	struct model_merged *g = model__add_merged(m, name);

	for (; g && *aliases; aliases++)
		if (model_merged__add_alias(g, *aliases))
			return false;
	return g != NULL;
}

void test_held_site_kind(void)
{
	static const char *const unix_aliases[] = { "UNIX", "UNIX-STREAM", NULL };
	static const char *const udp_aliases[] = { "PINGv6", "UDP-Lite", NULL };
	static const char *const filp_aliases[] = { "io_kiocb", NULL };
	static const char *const mixed_aliases[] = { "TCP", NULL };
	static const struct {
		const char *cache;
		int kind;
		enum classify_scope scope;
	} want[] = {
		{ "signal_cache", KLEAK_OBJ_SOCK, CLASSIFY_MERGED },	/* 6.18: UNIX merged in */
		{ "UDP", KLEAK_OBJ_SOCK, CLASSIFY_ALL },		/* all its names are socks */
		{ "filp", KLEAK_OBJ_FILE, CLASSIFY_MERGED },		/* 5.10: io_kiocb merged in */
		{ "task_struct", KLEAK_OBJ_TASK, CLASSIFY_ALL },
		{ "mixed", KLEAK_OBJ_NONE, CLASSIFY_ALL },		/* filp and TCP: no one kind */
		{ "kmalloc-64", KLEAK_OBJ_NONE, CLASSIFY_ALL },
	};
	struct model *m = model__new();
	enum classify_scope scope;
	size_t i;

	if (!ASSERT_OK_PTR(m, "model__new"))
		return;
	if (!ASSERT_TRUE(add_merged(m, "signal_cache", unix_aliases) &&
			 add_merged(m, "UDP", udp_aliases) && add_merged(m, "filp", filp_aliases) &&
			 add_merged(m, "mixed", mixed_aliases), "merged caches"))
		goto out;
	/* "mixed" is filp's size twin here: name it filp's alias too */
	if (!ASSERT_OK(model_merged__add_alias(&m->merged[3], "filp"), "alias"))
		goto out;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct model_site *s = add_cache_site(m, want[i].cache);

		if (!ASSERT_OK_PTR(s, "site"))
			goto out;
		ASSERT_EQ(classify__site_kind(m, s, &scope), want[i].kind, want[i].cache);
		ASSERT_EQ(scope, want[i].scope, want[i].cache);
	}
	/*
	 * Files told by their allocating function (a kmalloc'd backing file),
	 * and files of overlayfs's layers (6.1's in filp): held by an overlay
	 * file where no walk finds them
	 */
	{
		static const char *const backing[] = {
			"__kmalloc_cache_noprof+0x244/0x300", "alloc_empty_backing_file+0x31/0xc0",
			"backing_file_open+0x2f/0x90", NULL,
		};
		static const char *const blob[] = {
			"kmem_cache_alloc_noprof+0x22f/0x300", "security_file_alloc+0x2a/0x100",
			"init_file+0x40/0x100", "alloc_empty_backing_file+0x31/0xc0", NULL,
		};
		static const char *const real[] = {
			"kmem_cache_alloc+0x1bb/0x300", "__alloc_file+0x23/0x100",
			"alloc_empty_file_noaccount+0xa/0x40", "open_with_fake_path+0x1e/0x80",
			"ovl_open_realfile+0x122/0x1e0 [overlay]", NULL,
		};
		static const struct {
			const char *const *stack;
			const char *cache;
			int kind;
			enum classify_scope scope;
			const char *what;
		} sites[] = {
			{ backing, "kmalloc-256", KLEAK_OBJ_FILE, CLASSIFY_LAYER, "a backing file" },
			{ blob, "kmalloc-256", KLEAK_OBJ_NONE, CLASSIFY_ALL, "an LSM blob" },
			{ real, "task_struct", KLEAK_OBJ_TASK, CLASSIFY_ALL, "no file: no layer" },
		};
		struct model_site *s;
		size_t j;

		for (i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
			s = add_cache_site(m, sites[i].cache);
			if (!ASSERT_OK_PTR(s, "site"))
				goto out;
			s->kind = strncmp(sites[i].cache, "kmalloc", 7) ? KLEAK_SITE_CACHE :
									  KLEAK_SITE_KMALLOC;
			for (j = 0; sites[i].stack[j]; j++)
				;
			s->frames = calloc(j, sizeof(*s->frames));
			if (!ASSERT_OK_PTR(s->frames, "frames"))
				goto out;
			for (s->n_frames = 0; s->n_frames < j; s->n_frames++)
				s->frames[s->n_frames].sym = strdup(sites[i].stack[s->n_frames]);
			ASSERT_EQ(classify__site_kind(m, s, &scope), sites[i].kind, sites[i].what);
			ASSERT_EQ(scope, sites[i].scope, sites[i].what);
		}
		/*
		 * A file cache's site opened by open_with_fake_path (6.1's layer
		 * files, in filp; here a cache not merged, as filp is above)
		 */
		snprintf(s->cache, sizeof(s->cache), "bfilp");
		ASSERT_EQ(classify__site_kind(m, s, &scope), KLEAK_OBJ_FILE, "a layer's file");
		ASSERT_EQ(scope, CLASSIFY_LAYER, "a layer's file");
	}
out:
	model__free(m);
}

/* A filp site: two fd objects, the oldest, then a mapped one; an example of each. */
static struct model *files_model(void)
{
	static const __u8 held[] = { HELD_FD, HELD_FD, HELD_MAPPED };
	static const __u32 ages[] = { 30000, 20000, 10000 };
	static const char *const paths[] = { "/dev/null", "/dev/zero", "/usr/lib/libc.so.6" };
	struct model *m = model__new();
	struct model_site *s = m ? add_cache_site(m, "filp") : NULL;
	struct model_object *e;
	size_t i;

	if (!s)
		goto err;
	s->obj_size = 192;
	s->n_ages = s->count = 3;
	s->ages_ms = malloc(sizeof(ages));
	s->held = malloc(sizeof(held));
	if (!s->ages_ms || !s->held)
		goto err;
	memcpy(s->ages_ms, ages, sizeof(ages));
	memcpy(s->held, held, sizeof(held));
	for (i = 0; i < 3; i++) {
		e = model_site__add_example(s);
		if (!e)
			goto err;
		e->held = held[i];
		e->pid = 7;
		e->fd = held[i] == HELD_FD ? (int)i + 3 : -1;
		e->last_ran_ms = -1;
		e->map_start = held[i] == HELD_MAPPED ? 0x7f0000 : 0;
		e->map_end = held[i] == HELD_MAPPED ? 0x7f2000 : 0;
		e->desc = strdup(paths[i]);
	}
	model__count_held(m);
	return m;
err:
	model__free(m);
	return NULL;
}

/* The site's classes over its n oldest objects, as text or as a JSON object. */
static char *site_held(const struct model_site *s, size_t n, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer *w = f && json ? jsonw_new(f) : NULL;

	if (!f)
		return NULL;
	if (w) {
		jsonw_start_object(w);
		held__json_site(w, s, n);
		jsonw_end_object(w);
		jsonw_destroy(w);
	} else if (!json) {
		held__text_site(s, n, f);
	}
	fclose(f);
	return buf;
}

/*
 * The examples are the oldest of each class: counting the two oldest
 * objects (--older 15 s) shows the fd examples and not the mapped one, the
 * oldest alone only the first fd example; in text and JSON alike.
 */
void test_held_examples_older(void)
{
	struct model *m = files_model();
	char *all, *two, *one, *json2;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	all = site_held(&m->sites[0], 3, false);
	two = site_held(&m->sites[0], 2, false);
	one = site_held(&m->sites[0], 1, false);
	json2 = site_held(&m->sites[0], 2, true);
	if (ASSERT_OK_PTR(all, "text") && ASSERT_OK_PTR(two, "text") &&
	    ASSERT_OK_PTR(one, "text") && ASSERT_OK_PTR(json2, "json")) {
		ASSERT_STREQ(all, "    held by: 2 fd (in an fd table), 1 mapped (in no fd table, "
			     "mapped by a process)\n"
			     "      fd: pid 7 fd 3 /dev/null\n"
			     "      fd: pid 7 fd 4 /dev/zero\n"
			     "      mapped: pid 7 at 0x7f0000-0x7f2000 /usr/lib/libc.so.6\n",
			     "every object");
		ASSERT_STREQ(two, "    held by: 2 fd (in an fd table)\n"
			     "      fd: pid 7 fd 3 /dev/null\n"
			     "      fd: pid 7 fd 4 /dev/zero\n", "the two oldest");
		ASSERT_STREQ(one, "    held by: 1 fd (in an fd table)\n"
			     "      fd: pid 7 fd 3 /dev/null\n", "the oldest");
		ASSERT_TRUE(!strstr(json2, "mapped") && strstr(json2, "/dev/zero"),
			    "JSON examples of the two oldest");
	}
	free(all);
	free(two);
	free(one);
	free(json2);
	model__free(m);
}
