/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The allocating stack: a walk with bpf_get_stack() (~2 us, most of an
 * allocation's cost), or the stack cache's verified templates, which read
 * the stack words a walk would and compare them (see kleak.h). A stack is
 * named by a 64-bit hash of its frames; only a site's first allocation
 * stores them.
 */
#ifndef __STACK_BPF_H
#define __STACK_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include "kleak.h"
#include "stats.bpf.h"
#include "task.bpf.h"

#define ENOENT 2
#define ENOMEM 12

/* --stack-depth in bytes; the stacks map's value size */
const volatile __u32 stack_bytes = KLEAK_MAX_STACK_DEPTH * sizeof(__u64);
const volatile bool stack_cache = true;
/* --stack-cache check: walk every stack anyway and count templates that disagree */
const volatile bool stack_cache_check;

/* stack hash -> frames; only a site's first allocation stores its stack */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(key_size, sizeof(__u64));
	__uint(value_size, sizeof(__u64));	/* sized by --stack-depth */
	__uint(max_entries, 1);
} stacks SEC(".maps");

/* bpf_get_stack() needs room off the 512-byte BPF stack */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64[KLEAK_MAX_STACK_DEPTH]);
	__uint(max_entries, 1);
} stack_buf SEC(".maps");

/* Stack cache (see kleak.h). Losing a template costs a walk, so LRU. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct kleak_tpl_key);
	__type(value, struct kleak_tpl);
	__uint(max_entries, 16384);
} stack_tpls SEC(".maps");

/* call site, depth, kind -> where to read the caller, and how much to read */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct kleak_tpl_key);
	__type(value, struct kleak_tpl_route);
	__uint(max_entries, 16384);
} tpl_routes SEC(".maps");

/*
 * When a template was last asked for: at most one request per key and 10 ms;
 * a refused one gets its next a second later.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct kleak_tpl_key);
	__type(value, __u64);
	__uint(max_entries, 4096);
} tpl_pending SEC(".maps");

/* ~5 KiB a request: room for the burst of a workload's first second */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} tpl_requests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64[KLEAK_TPL_WORDS]);
	__uint(max_entries, 1);
} stack_words SEC(".maps");

/*
 * Captures the current stack into site->stack (a hash of its frames);
 * *frames points at the frames until the next capture on this CPU. Returns
 * how many there are, 0 when the capture failed.
 */
static __always_inline __u32 stack_capture(void *ctx, struct kleak_site *site, __u64 **frames)
{
	__u32 zero = 0;
	__u64 *buf, h = 0xcbf29ce484222325ULL;
	long len;
	int i;

	buf = bpf_map_lookup_elem(&stack_buf, &zero);
	if (!buf) {
		site->stack_err = -ENOMEM;
		return 0;
	}
	len = bpf_get_stack(ctx, buf, stack_bytes, 0);
	if (len <= 0) {
		site->stack_err = len ? len : -ENOENT;
		return 0;
	}
	for (i = 0; i < KLEAK_MAX_STACK_DEPTH; i++) {
		if (i >= len / 8)
			break;
		/* FNV-1a over whole addresses, then a final avalanche: 0 stays free */
		h = (h ^ buf[i]) * 0x100000001b3ULL;
	}
	h ^= h >> 33;
	site->stack = h | 1;
	*frames = buf;
	return len / sizeof(__u64);
}

/*
 * Where the context sits on the current task's stack: 0, and key->depth set,
 * when it does; -1 for a context elsewhere (classic tracepoints' record
 * buffer, an IRQ stack) or further below the top than a template can span,
 * which the cache does not cover.
 */
static __always_inline int ctx_on_stack(struct kleak_stats *s, void *ctx, const struct cur *c,
					struct kleak_tpl_key *key, __u64 *addr, const bool compat)
{
	__u64 base = as_number(s, cur_stack_base(c, compat));

	*addr = as_number(s, ctx);
	if (*addr - base >= KLEAK_TASK_STACK_MIN ||
	    *addr - base < KLEAK_TASK_STACK_MIN - KLEAK_TPL_WORDS * sizeof(__u64))
		return -1;
	key->depth = *addr - base;
	return 0;
}

/* Whether the words hold every slot of t, and t still names stack. */
static __always_inline bool tpl_holds(struct kleak_tpl *t, const __u64 *words, __u32 span,
				      __u64 stack)
{
	__u32 i;

	if (t->span > span)
		return false;
	for (i = 0; i < KLEAK_TPL_SLOTS; i++) {
		if (i >= t->nslots)
			break;
		if (words[t->off[i] & (KLEAK_TPL_WORDS - 1)] != t->ip[i])
			return false;
	}
	/*
	 * Userspace may have replaced the template meanwhile, and the LRU map
	 * reuses a replaced element at once: what was compared is one
	 * template's only if it still names the same stack.
	 */
	barrier();
	return *(volatile __u64 *)&t->stack == stack;
}

/*
 * The stack hash a walk would give, from the first template of key that
 * holds; 0 if none does. key->caller is filled in from the stack where the
 * call site has a route; seen[] gets the stacks of the ways tried, 0 for a
 * free way.
 */
static __always_inline __u64 stack_from_template(struct kleak_tpl_key *key, __u64 addr,
						 __u64 *seen)
{
	struct kleak_tpl_route *route = bpf_map_lookup_elem(&tpl_routes, key);
	__u32 zero = 0, span, off, way;
	struct kleak_tpl *t;
	__u64 *words, stack, size;

	if (!route)
		return 0;
	words = bpf_map_lookup_elem(&stack_words, &zero);
	if (!words)
		return 0;
	span = route->span;
	off = route->caller_off;
	if (!span || span > KLEAK_TPL_WORDS || off >= span)
		return 0;
	/*
	 * Bounded again next to the call: clang spills span as 32 bits across
	 * the checks, and 6.1's verifier forgets the bounds of such a spill.
	 */
	size = span * sizeof(__u64);
	barrier_var(size);
	if (size > KLEAK_TPL_WORDS * sizeof(__u64))
		return 0;
	if (bpf_probe_read_kernel(words, size, (void *)addr))
		return 0;
	key->caller = words[off & (KLEAK_TPL_WORDS - 1)];
	for (way = 0; way < KLEAK_TPL_WAYS; way++) {
		key->way = way;
		t = bpf_map_lookup_elem(&stack_tpls, key);
		if (!t)
			break;
		stack = t->stack;
		if (tpl_holds(t, words, span, stack))
			return stack;
		seen[way] = stack;
	}
	return 0;
}

/* Sends a walk's frames and the stack above the context for a template. */
static __always_inline void stack_request(struct kleak_stats *s, const struct kleak_tpl_key *key,
					  __u64 addr, const __u64 *frames, __u32 nframes,
					  __u64 stack)
{
	struct kleak_tpl_request *r;
	__u64 now = bpf_ktime_get_ns(), *last, size;
	__u32 nwords;

	/* signed: userspace puts a refused key's next request in the future */
	last = bpf_map_lookup_elem(&tpl_pending, key);
	if (last && (__s64)(now - *last) < 10000000LL)
		return;
	bpf_map_update_elem(&tpl_pending, key, &now, BPF_ANY);
	r = bpf_ringbuf_reserve(&tpl_requests, sizeof(*r), 0);
	if (!r) {
		s->counters[STAT_TPL_DROPPED]++;
		return;
	}
	/* never above the bound (see ctx_on_stack()), but the verifier must see it */
	nwords = (KLEAK_TASK_STACK_MIN - key->depth) / sizeof(__u64);
	if (nwords > KLEAK_TPL_WORDS)
		nwords = KLEAK_TPL_WORDS;
	r->key = *key;
	r->stack = stack;
	r->nips = nframes;
	r->nwords = nwords;
	/* bounded again next to the call, as in stack_from_template() (6.1) */
	size = nwords * sizeof(__u64);
	barrier_var(size);
	if (!size || size > sizeof(r->words) ||
	    bpf_probe_read_kernel(r->ips, sizeof(r->ips), frames) ||
	    bpf_probe_read_kernel(r->words, size, (void *)addr)) {
		bpf_ringbuf_discard(r, 0);
		return;
	}
	bpf_ringbuf_submit(r, 0);
}

/*
 * The site's stack, from a template when one holds, else walked. A walk asks
 * for a narrower template where a way named this same stack (one of the
 * words it checks changed), else for a new one in the first free way.
 */
static __always_inline void stack_get(void *ctx, struct kleak_stats *s, const struct cur *c,
				      __u64 call_site, struct kleak_site *site, __u64 **frames,
				      const bool compat)
{
	struct kleak_tpl_key key = { .call_site = call_site, .kind = site->kind };
	__u64 addr, cached, seen[KLEAK_TPL_WAYS] = {};
	__u32 nframes, way;

	if (!stack_cache || !call_site || ctx_on_stack(s, ctx, c, &key, &addr, compat)) {
		stack_capture(ctx, site, frames);
		return;
	}
	cached = stack_from_template(&key, addr, seen);
	if (cached) {
		s->counters[STAT_STACK_CACHED]++;
		if (!stack_cache_check) {
			site->stack = cached;
			return;
		}
	}
	nframes = stack_capture(ctx, site, frames);
	if (!nframes)
		return;
	if (cached) {
		if (cached != site->stack)
			s->counters[STAT_STACK_CACHE_WRONG]++;
		return;
	}
	for (way = 0; way < KLEAK_TPL_WAYS; way++)
		if (!seen[way] || seen[way] == site->stack)
			break;
	if (way == KLEAK_TPL_WAYS)
		return;
	key.way = way;
	stack_request(s, &key, addr, *frames, nframes, site->stack);
}

#endif /* __STACK_BPF_H */
