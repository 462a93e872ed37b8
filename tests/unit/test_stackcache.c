// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Stack templates from synthetic requests: the words a template checks are
 * exactly those holding a frame (stale copies included), a second walk of
 * the same stack narrows them to the words that held still, and anything
 * that could leave a frame unchecked refuses the template.
 */
#include <stdlib.h>
#include "stackcache.h"
#include "test.h"

#define NWORDS 64
#define PROG 0xffffffffc0001000ULL	/* below the context: the BPF program */
#define RUN 0xffffffff81400000ULL	/* below the context: bpf_trace_run4() */
#define F_A 0xffffffff81650860ULL
#define F_B 0xffffffff81375658ULL
#define F_C 0xffffffff8225a6c1ULL
#define F_D 0xffffffff81000130ULL
#define STACK_HASH 0x1234567890abcdefULL

/* Frames A..D above the context at words 3, 10, 20 and 40; the rest locals. */
static struct kleak_tpl_request *request(void)
{
	static const __u64 ips[] = { PROG, RUN, F_A, F_B, F_C, F_D };
	struct kleak_tpl_request *r = calloc(1, sizeof(*r));
	__u32 i;

	if (!r)
		return NULL;
	r->key.call_site = F_B;
	r->key.depth = KLEAK_TASK_STACK_MIN - NWORDS * sizeof(__u64);
	r->stack = STACK_HASH;
	r->nips = sizeof(ips) / sizeof(ips[0]);
	r->nwords = NWORDS;
	memcpy(r->ips, ips, sizeof(ips));
	for (i = 0; i < NWORDS; i++)
		r->words[i] = 0xffff888100000000ULL + i * 8;
	r->words[0] = F_B;	/* the tracepoint's call_site argument */
	r->words[3] = F_A;
	r->words[10] = F_B;
	r->words[20] = F_C;
	r->words[40] = F_D;
	return r;
}

static bool has_slots(const struct kleak_tpl *t, const __u16 *off, __u32 n)
{
	__u32 i;

	if (!ASSERT_EQ(t->nslots, n, "slots"))
		return false;
	for (i = 0; i < n; i++)
		if (!ASSERT_EQ(t->off[i], off[i], "slot word"))
			return false;
	return true;
}

void test_stackcache_build(void)
{
	static const __u16 want[] = { 3, 10, 20, 40 };
	struct kleak_tpl_request *r = request();
	struct kleak_tpl t;

	if (!ASSERT_OK_PTR(r, "request"))
		return;
	if (ASSERT_OK(stackcache__build(r, NULL, &t), "build")) {
		has_slots(&t, want, 4);
		ASSERT_EQ(t.ip[2], F_C, "ip of slot 2");
		ASSERT_EQ(t.span, 41, "span");
		ASSERT_EQ(t.stack, STACK_HASH, "stack");
	}
	free(r);
}

/* A stale copy is checked until a walk of the same stack shows it changed. */
void test_stackcache_stale_copy(void)
{
	static const __u16 first[] = { 3, 10, 15, 20, 40 }, second[] = { 3, 10, 20, 40 };
	struct kleak_tpl_request *r = request();
	struct kleak_tpl t, narrowed;

	if (!ASSERT_OK_PTR(r, "request"))
		return;
	r->words[15] = F_B;
	if (!ASSERT_OK(stackcache__build(r, NULL, &t), "first build") ||
	    !has_slots(&t, first, 5))
		goto out;
	r->words[15] = 0;
	if (ASSERT_OK(stackcache__build(r, &t, &narrowed), "second build"))
		has_slots(&narrowed, second, 4);
	/* a slot of the first walk that changed too leaves a frame unchecked */
	r->words[10] = 0;
	ASSERT_EQ(stackcache__build(r, &t, &narrowed), -ENOENT, "slot changed");
	/* another stack under the same key starts again from its own words */
	r->words[10] = F_B;
	r->words[15] = F_B;
	r->stack = STACK_HASH + 1;
	if (ASSERT_OK(stackcache__build(r, &narrowed, &t), "other stack"))
		has_slots(&t, first, 5);
out:
	free(r);
}

void test_stackcache_refused(void)
{
	struct kleak_tpl_request *r = request();
	struct kleak_tpl t;
	__u32 i;

	if (!ASSERT_OK_PTR(r, "request"))
		return;
	r->words[40] = 0;
	ASSERT_EQ(stackcache__build(r, NULL, &t), -ENOENT, "frame missing");
	r->words[40] = F_D;

	r->words[20] = 0;
	r->words[5] = F_C;
	ASSERT_EQ(stackcache__build(r, NULL, &t), -ENOENT, "frames out of order");
	r->words[5] = 0;
	r->words[20] = F_C;

	/* only the program's own frames may be below the context, unchecked */
	r->words[3] = 0;
	r->words[10] = 0;
	ASSERT_EQ(stackcache__build(r, NULL, &t), -ENOENT, "frames missing at the bottom");
	r->words[3] = F_A;
	r->words[10] = F_B;

	r->key.depth -= sizeof(__u64);
	ASSERT_EQ(stackcache__build(r, NULL, &t), -ENOENT, "words short of the stack's top");
	r->key.depth += sizeof(__u64);

	for (i = 1; i < NWORDS; i++)
		if (i != 3 && i != 10 && i != 20)
			r->words[i] = F_D;
	ASSERT_EQ(stackcache__build(r, NULL, &t), -E2BIG, "more copies than slots");
	free(r);
}

/* A route reads the caller where the frame after the call site's sits. */
void test_stackcache_caller_off(void)
{
	struct kleak_tpl_request *r = request();

	if (!ASSERT_OK_PTR(r, "request"))
		return;
	ASSERT_EQ(stackcache__caller_off(r), 20, "frame after the call site");
	/* a copy of the caller below the call site's slot is not it */
	r->words[5] = F_C;
	ASSERT_EQ(stackcache__caller_off(r), 20, "copy below the call site");
	r->key.call_site = F_D;
	ASSERT_EQ(stackcache__caller_off(r), 0, "call site is the outermost frame");
	r->key.call_site = 0xffffffff81999999ULL;
	ASSERT_EQ(stackcache__caller_off(r), 0, "call site not among the frames");
	free(r);
}
