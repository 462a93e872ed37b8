/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stack templates (see kleak.h): userspace turns a walk's frames and the
 * stack words they were read from into the slots a later allocation from
 * the same place must show for its walk to be skipped.
 */
#ifndef __KLEAK_STACKCACHE_H
#define __KLEAK_STACKCACHE_H

#include "kleak.h"
#include "loader.h"

struct stackcache {
	const struct tracer *t;	/* its template, route and pending maps */
	__u64 built;
	__u64 refused;
};

/*
 * The template for req: the words above the context that hold its frames,
 * or those of old (the key's current template, may be NULL) that hold the
 * same in req when both name one stack. Returns 0 with tpl filled; -ENOENT
 * when the words do not hold every frame in order or do not reach the
 * stack's top, -E2BIG when more words than a template has hold a frame.
 */
int stackcache__build(const struct kleak_tpl_request *req, const struct kleak_tpl *old,
		      struct kleak_tpl *tpl);

/*
 * Where a route for req's call site reads the caller: the first copy of the
 * return address after the call site's own first copy, in words from the
 * context; 0 (the call site argument itself) when there is none. Only a
 * lookup key comes of it, never a stack: a wrong place costs misses.
 */
__u32 stackcache__caller_off(const struct kleak_tpl_request *req);

/*
 * A ring_buffer_sample_fn for the tpl_requests ring; ctx is a struct
 * stackcache. Stores the template and, for a new call site, its route.
 */
int stackcache__on_request(void *ctx, void *data, size_t len);

#endif /* __KLEAK_STACKCACHE_H */
