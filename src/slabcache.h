/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Slab caches as the user names them and as the kmem tracepoints name them:
 * merged caches (one struct kmem_cache answering to several names), the
 * kmalloc-N size classes, and /proc/slabinfo's active object counts.
 */
#ifndef __KLEAK_SLABCACHE_H
#define __KLEAK_SLABCACHE_H

#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include "kleak.h"
#include "model.h"

struct cache_filter {
	/* every name the tracepoint may report for the user's cache */
	unsigned int n_names;
	char names[KLEAK_MAX_CACHE_NAMES][KLEAK_CACHE_NAME_LEN];
	/* bytes_alloc of kmalloc() objects in it, 0 when it is no kmalloc-N cache */
	__u64 kmalloc_size;
	/* the /sys/kernel/slab entry of a merged cache, "" for a cache of its own */
	char merged_into[64];
};

/*
 * Resolves the cache the user named through /sys/kernel/slab (root is the
 * directory, normally "/sys/kernel/slab"); names[0] is the user's name.
 * Returns 0, -ENOENT (one error line printed) for an unknown cache, or
 * another -errno.
 */
int slabcache__resolve(const char *root, const char *name, struct cache_filter *f);
/* Says on stderr when the filter's cache is merged, and with which aliases. */
void slabcache__say_merged(const struct cache_filter *f);

/* The kmalloc cache holding objects of bytes_alloc, e.g. "kmalloc-1k". */
void slabcache__kmalloc_name(__u64 bytes_alloc, char *buf, size_t len);

/*
 * Fills m->merged from the /sys/kernel/slab symlinks under root, for every
 * cache a site of m is in that is merged with others (call it once the
 * sites are in): each name linking to the same directory is an alias.
 * Returns 0, or -errno when root cannot be read (no SLUB sysfs: no names).
 */
int slabcache__read_merged(const char *root, struct model *m);

/* A symlink under /sys/kernel/slab: an alias name and the cache directory it names. */
struct slab_link {
	char *name;
	char *target;
};

/* slabcache__read_merged() from the n links already read. */
int slabcache__add_merged(const struct slab_link *links, size_t n, struct model *m);

/*
 * Reads active objects per cache from a slabinfo file into m->slabs, as
 * active_start (at_end false) or active_end of existing entries (at_end true).
 */
int slabcache__read_slabinfo(const char *path, struct model *m, bool at_end);
/* The same from slabinfo text read from f. */
int slabcache__parse_slabinfo(FILE *f, struct model *m, bool at_end);

#endif /* __KLEAK_SLABCACHE_H */
