/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Object classes (enum model_held) in the text and JSON reports. */
#ifndef __KLEAK_HELD_H
#define __KLEAK_HELD_H

#include <stdio.h>
#include "json.h"
#include "model.h"

/* Class counts of the first n ages of s (the n oldest) into counts[HELD_MAX]. */
void held__count(const struct model_site *s, size_t n, __u64 *counts);

/* Whether objects of kind (enum kleak_obj_kind) can be of class held (not the unclassified). */
bool held__of_kind(int held, int kind);

/* Per-cache class counts over every site of the cache, any age; HELD_CACHES caches at most. */
#define HELD_CACHES 32
struct held_cache {
	const char *cache;
	int kind;		/* enum kleak_obj_kind */
	__u64 counts[HELD_MAX];
};
/* The classified caches of m into c[HELD_CACHES], in their sites' order; returns how many. */
size_t held__per_cache(const struct model *m, struct held_cache *c);

/* The header lines: what was classified, what could not be and why; nothing if unclassified. */
void held__text_header(const struct model *m, FILE *out);
/* A site's "held by" line and examples, over its n oldest objects; nothing if unclassified. */
void held__text_site(const struct model_site *s, size_t n, FILE *out);
/* The per-cache class table. */
void held__text_caches(const struct model *m, FILE *out);

/* The site's "held_by" and "held_examples" keys. */
void held__json_site(struct json_writer *w, const struct model_site *s, size_t n);
/* The run's "held_by" key. */
void held__json_run(struct json_writer *w, const struct model *m);

/* kleak diff: per cache and class, A's and B's objects and the change (cache: --cache or NULL). */
void held__diff_text(const struct model *a, const struct model *b, const char *cache, FILE *out);
/* The diff's "held_by" key, where either run was classified. */
void held__diff_json(struct json_writer *w, const struct model *a, const struct model *b,
		     const char *cache);

#endif /* __KLEAK_HELD_H */
