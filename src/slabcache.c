// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Slab cache names. With slab merging a cache created as "tcp_bind_bucket"
 * may be the same struct kmem_cache as "eventpoll_epi", and the tracepoint
 * reports whichever name created it first. /sys/kernel/slab shows merged
 * caches as symlinks to one ":<flags>-<size>" directory, so every name
 * linking to the same target is an alias the filter has to accept.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "slabcache.h"

void slabcache__kmalloc_name(__u64 bytes_alloc, char *buf, size_t len)
{
	/* above KMALLOC_MAX_CACHE_SIZE (two pages with SLUB) kmalloc takes pages */
	if (bytes_alloc > 8192)
		snprintf(buf, len, "kmalloc-large");
	else if (bytes_alloc >= 1024 && bytes_alloc % 1024 == 0)
		snprintf(buf, len, "kmalloc-%lluk", (unsigned long long)bytes_alloc / 1024);
	else
		snprintf(buf, len, "kmalloc-%llu", (unsigned long long)bytes_alloc);
}

/* bytes_alloc of a "kmalloc-N" / "kmalloc-Nk" name, or 0. */
static __u64 kmalloc_size_of(const char *name)
{
	unsigned long long n;
	char *end;

	if (strncmp(name, "kmalloc-", 8) || name[8] < '1' || name[8] > '9')
		return 0;
	n = strtoull(name + 8, &end, 10);
	if (!strcmp(end, "k"))
		return n * 1024;
	return *end ? 0 : n;
}

static int add_name(struct cache_filter *f, const char *name)
{
	unsigned int i;

	for (i = 0; i < f->n_names; i++)
		if (!strcmp(f->names[i], name))
			return 0;
	if (f->n_names == KLEAK_MAX_CACHE_NAMES)
		return -E2BIG;
	if (strlen(name) >= KLEAK_CACHE_NAME_LEN)
		return -ENAMETOOLONG;
	strcpy(f->names[f->n_names++], name);
	return 0;
}

/* A /sys/kernel/slab name and the directory its symlink points at. */
static void links_free(struct slab_link *links, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(links[i].name);
		free(links[i].target);
	}
	free(links);
}

/* Every symlink under root, one readdir; directories are caches of their own. */
static int read_links(const char *root, struct slab_link **out, size_t *n_out)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct slab_link *links = NULL, *grown;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int err = 0;
	ssize_t len;
	DIR *d;

	d = opendir(root);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_name[0] == ':')
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, de->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			grown = realloc(links, cap * sizeof(*links));
			if (!grown) {
				err = -ENOMEM;
				break;
			}
			links = grown;
		}
		links[n].name = strdup(de->d_name);
		links[n].target = strdup(link);
		n++;
		if (!links[n - 1].name || !links[n - 1].target) {
			err = -ENOMEM;
			break;
		}
	}
	closedir(d);
	if (err) {
		links_free(links, n);
		return err;
	}
	*out = links;
	*n_out = n;
	return 0;
}

/* Adds every name under root linking to target. */
static int add_aliases(const char *root, const char *target, struct cache_filter *f)
{
	struct slab_link *links;
	size_t n, i;
	int err;

	err = read_links(root, &links, &n);
	if (err)
		return err;
	for (i = 0; i < n && !err; i++) {
		if (strcmp(links[i].target, target))
			continue;
		err = add_name(f, links[i].name);
		if (err == -ENAMETOOLONG)
			err = 0;
	}
	links_free(links, n);
	return err;
}

int slabcache__resolve(const char *root, const char *name, struct cache_filter *f)
{
	char path[PATH_MAX];
	ssize_t n;
	int err;

	memset(f, 0, sizeof(*f));
	f->kmalloc_size = kmalloc_size_of(name);
	snprintf(path, sizeof(path), "%s/%s", root, name);
	if (access(path, F_OK)) {
		err = -errno;
		if (err == -ENOENT)
			pr_err("unknown slab cache '%s': not in %s", name, root);
		else
			pr_err("cannot look up slab cache '%s' in %s: %s", name, root,
			       strerror(-err));
		return err;
	}
	err = add_name(f, name);
	if (err)
		return err;
	n = readlink(path, f->merged_into, sizeof(f->merged_into) - 1);
	if (n < 0) {
		/* a directory: a cache of its own, not merged */
		f->merged_into[0] = '\0';
		return 0;
	}
	if (n == sizeof(f->merged_into) - 1) {
		pr_err("slab cache '%s' links to an over-long name in %s", name, root);
		return -ENAMETOOLONG;
	}
	f->merged_into[n] = '\0';
	err = add_aliases(root, f->merged_into, f);
	if (err == -E2BIG) {
		pr_err("slab cache '%s' has more than %d merged aliases", name,
		       KLEAK_MAX_CACHE_NAMES);
		return err;
	}
	if (err) {
		pr_err("cannot list aliases of slab cache '%s' in %s: %s", name, root,
		       strerror(-err));
		return err;
	}
	return 0;
}

void slabcache__say_merged(const struct cache_filter *f)
{
	char aliases[KLEAK_MAX_CACHE_NAMES * (KLEAK_CACHE_NAME_LEN + 2)] = "";
	size_t used = 0;
	unsigned int i;

	if (f->n_names < 2)
		return;
	for (i = 1; i < f->n_names; i++)
		used += snprintf(aliases + used, sizeof(aliases) - used, "%s%s", i > 1 ? ", " : "",
				 f->names[i]);
	pr_warn("slab cache '%s' is merged into %s with %s; the tracepoints name the merged "
		"cache by whichever alias created it, so all of them match", f->names[0],
		f->merged_into, aliases);
}


int slabcache__read_merged(const char *root, struct model *m)
{
	struct slab_link *links = NULL;
	size_t n = 0;
	int err;

	err = read_links(root, &links, &n);
	if (err)
		return err;
	err = slabcache__add_merged(links, n, m);
	links_free(links, n);
	return err;
}

int slabcache__add_merged(const struct slab_link *links, size_t n, struct model *m)
{
	struct model_merged *g;
	size_t i, j, k;
	int err = 0;

	for (i = 0; !err && i < m->n_sites; i++) {
		const char *cache = m->sites[i].cache;

		for (k = 0; k < m->n_merged && strcmp(m->merged[k].name, cache); k++)
			;
		if (k < m->n_merged)
			continue;
		for (j = 0; j < n && strcmp(links[j].name, cache); j++)
			;
		if (j == n)
			continue;
		g = NULL;
		for (k = 0; !err && k < n; k++) {
			if (k == j || strcmp(links[k].target, links[j].target))
				continue;
			if (!g)
				g = model__add_merged(m, cache);
			err = g ? model_merged__add_alias(g, links[k].name) : -errno;
		}
	}
	return err;
}

static struct model_slab *find_slab(struct model *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->n_slabs; i++)
		if (!strcmp(m->slabs[i].name, name))
			return &m->slabs[i];
	return NULL;
}

int slabcache__read_slabinfo(const char *path, struct model *m, bool at_end)
{
	FILE *f;
	int err;

	f = fopen(path, "r");
	if (!f)
		return -errno;
	err = slabcache__parse_slabinfo(f, m, at_end);
	fclose(f);
	return err;
}

int slabcache__parse_slabinfo(FILE *f, struct model *m, bool at_end)
{
	char line[512], name[64];
	struct model_slab *s;
	long long active;
	int err = 0;

	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %lld", name, &active) != 2)
			continue;
		s = at_end ? find_slab(m, name) : model__add_slab(m);
		if (!s) {
			if (!at_end) {
				err = -ENOMEM;
				break;
			}
			continue;
		}
		if (at_end) {
			s->active_end = active;
		} else {
			strcpy(s->name, name);
			s->active_start = active;
			s->active_end = active;
		}
	}
	return err;
}
