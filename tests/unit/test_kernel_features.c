// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The program set decision from synthetic probe results: the set each
 * kernel profile gets (this host's 6.18, 6.1 and 6.12, 5.10, an RHEL 8-like
 * 4.18, no BTF with and without --btf, no ring buffer, no tracefs), what it
 * gives up, a forced set, and the one line when none can load.
 */
#include <string.h>
#include "kernel_features.h"
#include "test.h"

enum profile {
	K618,		/* this host: everything, no struct page.slab_cache (since 5.17) */
	K61,		/* 6.1 and 6.12: the verifier refuses tp_btf on void * arguments */
	K510,		/* 5.10: no atomics, task storage, bpf_get_current_task_btf */
	RHEL8,		/* as far as can be judged: 5.10 without tp_btf reading void * */
};

static void profile(struct features *f, enum profile p)
{
	int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < FEAT_MAX; i++)
		f->has[i] = true;
	f->has[FEAT_PAGE_SLAB_CACHE] = false;
	if (p == K618)
		return;
	f->has[FEAT_TP_BTF_VOID] = false;
	f->has[FEAT_VMALLOC_EVENTS] = false;
	if (p == K61)
		return;
	f->has[FEAT_EVENTS_61] = false;
	f->has[FEAT_PAGE_SLAB_CACHE] = true;
	f->has[FEAT_ATOMICS] = false;
	f->has[FEAT_TASK_STORAGE] = false;
	f->has[FEAT_TASK_BTF] = false;
	if (p == RHEL8)
		f->has[FEAT_TP_BTF] = false;
}

/* The sets chosen for f, space-separated, or "error: <why>". */
static const char *choose(const struct features *f, const char *forced)
{
	static char out[600];
	enum kleak_set sets[SET_MAX];
	char why[512] = "";
	size_t off = 0;
	int i, n = features__choose(f, forced, sets, why, sizeof(why));

	if (n < 0) {
		ASSERT_TRUE(strchr(why, '\n') == NULL, "one line");
		snprintf(out, sizeof(out), "error %d: %s", n, why);
		return out;
	}
	out[0] = '\0';
	for (i = 0; i < n; i++)
		off += snprintf(out + off, sizeof(out) - off, "%s%s", i ? " " : "",
				features__set_name(sets[i]));
	return out;
}

void test_features_profiles(void)
{
	struct features f;

	profile(&f, K618);
	ASSERT_STREQ(choose(&f, NULL), "tp_btf raw_tp compat tracepoint", "6.18");
	ASSERT_NULL(features__gives_up(&f, SET_TP_BTF), "6.18 gives up");
	profile(&f, K61);
	ASSERT_STREQ(choose(&f, ""), "raw_tp compat tracepoint", "6.1");
	ASSERT_NULL(features__gives_up(&f, SET_RAW_TP), "6.1 gives up");
	profile(&f, K510);
	ASSERT_STREQ(choose(&f, NULL), "compat", "5.10");
	/* its caches are named from struct page: nothing about the old events */
	ASSERT_TRUE(strstr(features__gives_up(&f, SET_COMPAT), "hash map") &&
		    !strstr(features__gives_up(&f, SET_COMPAT), "pre-6.1"), "5.10 gives up");
	profile(&f, RHEL8);
	ASSERT_STREQ(choose(&f, NULL), "compat", "RHEL 8");
	/* 5.17-6.0: the old events, and no struct page.slab_cache to name caches by */
	profile(&f, K510);
	f.has[FEAT_PAGE_SLAB_CACHE] = false;
	ASSERT_TRUE(strstr(features__gives_up(&f, SET_COMPAT), "no --cache") != NULL,
		    "old events without slab_cache");
}

/* Every set's needs, one feature taken away at a time. */
void test_features_needs(void)
{
	struct features f;

	profile(&f, K61);
	f.has[FEAT_TP_BTF] = false;	/* raw_tp's fork hook under --follow is tp_btf */
	ASSERT_STREQ(choose(&f, NULL), "compat tracepoint", "raw_tp without tp_btf");
	profile(&f, K618);
	f.has[FEAT_MMAP_ARRAY] = false;	/* the buckets are mmap-ed; compat's hash is not */
	ASSERT_STREQ(choose(&f, NULL), "compat", "without mmap-able arrays");
	profile(&f, K618);
	f.has[FEAT_TRACEFS] = false;
	ASSERT_STREQ(choose(&f, NULL), "tp_btf raw_tp compat", "without tracefs");
	ASSERT_EQ(features__missing(&f, SET_TRACEPOINT), FEAT_TRACEFS, "tracepoint lacks");
	profile(&f, K510);
	f.has[FEAT_RAW_TP] = false;
	ASSERT_STREQ(choose(&f, NULL), "error -95: no kleak program set can load on this kernel: "
		     "tp_btf lacks kmem_events_6_1, raw_tp lacks raw_tp, compat lacks raw_tp, "
		     "tracepoint lacks atomics", "each set lacks its own");
	profile(&f, K618);
	f.has[FEAT_PROBE_READ_KERNEL] = false;
	ASSERT_STREQ(choose(&f, NULL), "error -95: this kernel lacks bpf_probe_read_kernel(), "
		     "which every kleak program set needs", "every set reads kernel memory");
	/* before 5.8: compat alone, without what needs the ring buffer */
	profile(&f, K510);
	f.has[FEAT_RINGBUF] = false;
	ASSERT_STREQ(choose(&f, NULL), "compat", "no ring buffer");
	ASSERT_TRUE(strstr(features__gives_up(&f, SET_COMPAT), "no BPF ring buffer: no stack "
			   "cache, no -t or --ustack") != NULL, "no ring buffer gives up");
	profile(&f, K618);
	f.has[FEAT_RINGBUF] = false;
	ASSERT_STREQ(choose(&f, NULL), "compat", "6.18 without the ring buffer");
}

/* Only compat takes a BTF file in place of the kernel's own. */
void test_features_btf_file(void)
{
	struct features f;

	profile(&f, K510);
	f.has[FEAT_BTF] = false;
	f.has[FEAT_TP_BTF] = false;
	ASSERT_STREQ(choose(&f, NULL), "error -95: this kernel has no BTF "
		     "(/sys/kernel/btf/vmlinux): pass --btf FILE with its BTF, with which the "
		     "compat set loads", "no BTF");
	f.btf_file = true;
	ASSERT_STREQ(choose(&f, NULL), "compat", "no BTF, --btf");
	ASSERT_TRUE(strstr(features__gives_up(&f, SET_COMPAT), "held objects are not classified")
		    != NULL, "--btf gives up");
	profile(&f, K618);
	f.has[FEAT_BTF] = false;
	f.has[FEAT_TP_BTF] = f.has[FEAT_TP_BTF_VOID] = f.has[FEAT_TASK_BTF] = false;
	f.btf_file = true;
	ASSERT_STREQ(choose(&f, NULL), "compat", "6.18 without BTF, --btf");
	ASSERT_STREQ(choose(&f, "tracepoint"), "error -95: KLEAK_PROGRAMS=tracepoint: this "
		     "kernel lacks kernel BTF (/sys/kernel/btf/vmlinux)", "tracepoint needs it");
}

void test_features_forced(void)
{
	struct features f;

	profile(&f, K618);
	ASSERT_STREQ(choose(&f, "compat"), "compat", "compat forced");
	ASSERT_STREQ(choose(&f, "bogus"), "error -22: KLEAK_PROGRAMS=bogus: not a program set "
		     "(tp_btf, raw_tp, compat or tracepoint)", "unknown set");
	profile(&f, K510);
	ASSERT_STREQ(choose(&f, "tp_btf"), "error -95: KLEAK_PROGRAMS=tp_btf: this kernel lacks "
		     "6.1+ kmem events (kmem_cache_alloc passes its cache)", "tp_btf on 5.10");
	ASSERT_EQ(features__set_by_name("raw_tp"), SET_RAW_TP, "by name");
	ASSERT_EQ(features__set_by_name("raw"), -1, "no prefix match");
}
