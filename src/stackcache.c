// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Building stack templates from the BPF side's requests. The walk does not
 * say where it read each return address, so a template checks every word,
 * from the context to the stack's top, that holds one of the walk's return
 * addresses: the slots the walk read are among them. So are stale copies
 * (uninitialised locals, and above all the gap syscall entry leaves below
 * do_syscall_64's frame, whose size changes with each syscall under
 * randomize_kstack_offset). A copy that changes costs a miss, never a wrong
 * stack, and the walk after such a miss asks again: the template keeps only
 * the words that held the same return address in both walks of one stack,
 * which the slots always do.
 */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include "stackcache.h"

/*
 * Frames the walk found below the context: the BPF program and the
 * bpf_trace_run*() that called it; the same for every event of a program.
 */
#define MAX_FRAMES_BELOW_CTX 4

/* A stack that gave no template is not asked for again for this long. */
#define REFUSED_RETRY_NS 1000000000ULL

static bool is_frame(const __u64 *ips, __u32 nips, __u64 w, __u32 *idx)
{
	__u32 k;

	for (k = 0; k < nips; k++) {
		if (ips[k] == w) {
			*idx = k;
			return true;
		}
	}
	return false;
}

/* Every word above the context holding one of the frames. */
static int collect(const struct kleak_tpl_request *req, __u32 nips, __u32 nwords,
		   struct kleak_tpl *tpl)
{
	__u32 i, k;

	/* word 0 is the tracepoint's first argument, the call site: a frame's value */
	for (i = 1; i < nwords; i++) {
		if (!is_frame(req->ips, nips, req->words[i], &k))
			continue;
		if (tpl->nslots == KLEAK_TPL_SLOTS)
			return -E2BIG;
		tpl->off[tpl->nslots] = i;
		tpl->ip[tpl->nslots] = req->words[i];
		tpl->nslots++;
	}
	return 0;
}

/* Keeps the words of old that hold the same address in req. */
static void intersect(const struct kleak_tpl *old, const struct kleak_tpl_request *req,
		      __u32 nwords, struct kleak_tpl *tpl)
{
	__u32 i, n = old->nslots < KLEAK_TPL_SLOTS ? old->nslots : KLEAK_TPL_SLOTS;

	for (i = 0; i < n; i++) {
		if (old->off[i] >= nwords || req->words[old->off[i]] != old->ip[i])
			continue;
		tpl->off[tpl->nslots] = old->off[i];
		tpl->ip[tpl->nslots] = old->ip[i];
		tpl->nslots++;
	}
}

/*
 * Whether the checked words hold the frames above the context in order:
 * the first is one of the few below-context frames' successors, each next
 * one further up the stack.
 */
static bool covers_frames(const struct kleak_tpl *tpl, const __u64 *ips, __u32 nips)
{
	__u32 i = 0, k;

	while (i < tpl->nslots && !is_frame(ips, nips < MAX_FRAMES_BELOW_CTX ? nips :
					    MAX_FRAMES_BELOW_CTX, tpl->ip[i], &k))
		i++;
	if (i == tpl->nslots)
		return false;
	for (k++; k < nips; k++) {
		while (i < tpl->nslots && tpl->ip[i] != ips[k])
			i++;
		if (i == tpl->nslots)
			return false;
	}
	return true;
}

int stackcache__build(const struct kleak_tpl_request *req, const struct kleak_tpl *old,
		      struct kleak_tpl *tpl)
{
	__u32 nips = req->nips < KLEAK_MAX_STACK_DEPTH ? req->nips : KLEAK_MAX_STACK_DEPTH;
	__u32 nwords = req->nwords < KLEAK_TPL_WORDS ? req->nwords : KLEAK_TPL_WORDS;
	int err;

	memset(tpl, 0, sizeof(*tpl));
	/* a slot beyond the words sent would go unchecked: they must reach the stack's top */
	if (req->key.depth + (__u64)nwords * sizeof(__u64) != KLEAK_TASK_STACK_MIN)
		return -ENOENT;
	if (old && old->stack == req->stack) {
		intersect(old, req, nwords, tpl);
	} else {
		err = collect(req, nips, nwords, tpl);
		if (err)
			return err;
	}
	if (!covers_frames(tpl, req->ips, nips))
		return -ENOENT;
	tpl->span = tpl->off[tpl->nslots - 1] + 1;
	tpl->stack = req->stack;
	return 0;
}

__u32 stackcache__caller_off(const struct kleak_tpl_request *req)
{
	__u32 nips = req->nips < KLEAK_MAX_STACK_DEPTH ? req->nips : KLEAK_MAX_STACK_DEPTH;
	__u32 nwords = req->nwords < KLEAK_TPL_WORDS ? req->nwords : KLEAK_TPL_WORDS;
	__u32 k, i;

	if (!is_frame(req->ips, nips, req->key.call_site, &k) || k + 1 >= nips)
		return 0;
	for (i = 1; i < nwords && req->words[i] != req->ips[k]; i++)
		;
	for (i++; i < nwords; i++)
		if (req->words[i] == req->ips[k + 1])
			return i;
	return 0;
}

int stackcache__on_request(void *ctx, void *data, size_t len)
{
	const struct kleak_tpl_request *req = data;
	struct kleak_tpl_key route_key, key;
	struct stackcache *sc = ctx;
	struct kleak_tpl_route route;
	struct kleak_tpl old, tpl;
	bool has_old, new_route;
	__u64 retry;

	if (len < sizeof(*req))
		return 0;
	route_key = req->key;
	route_key.caller = 0;
	route_key.way = 0;
	new_route = bpf_map_lookup_elem(sc->t->tpl_routes_fd, &route_key, &route) != 0;
	if (new_route) {
		route.caller_off = stackcache__caller_off(req);
		route.span = route.caller_off + 1;
	}
	/* the key the BPF side will look this stack up by, once the route is in */
	key = req->key;
	key.caller = route.caller_off < req->nwords && route.caller_off < KLEAK_TPL_WORDS ?
		     req->words[route.caller_off] : 0;
	has_old = !bpf_map_lookup_elem(sc->t->tpls_fd, &key, &old);
	if (stackcache__build(req, has_old ? &old : NULL, &tpl))
		goto refused;
	/* the template goes in first: a route names only what can be read */
	if (bpf_map_update_elem(sc->t->tpls_fd, &key, &tpl, BPF_ANY))
		goto refused;
	if (new_route || tpl.span > route.span) {
		route.span = tpl.span > route.span ? tpl.span : route.span;
		if (bpf_map_update_elem(sc->t->tpl_routes_fd, &route_key, &route, BPF_ANY))
			goto refused;
	}
	sc->built++;
	return 0;
refused:
	sc->refused++;
	/* the request's key is the one the BPF side checks */
	retry = tracer__now_ns() + REFUSED_RETRY_NS;
	bpf_map_update_elem(sc->t->tpl_pending_fd, &req->key, &retry, BPF_ANY);
	return 0;
}
