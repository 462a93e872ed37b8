// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * kleak diff: the fixture runs tcp.run and files.run (one kernel), and
 * diff-k61.run and diff-k618.run (one workload on Debian's 6.1 and on 6.18)
 * compared byte for byte against golden text and JSON; then frame keys,
 * matching (offsets and addresses ignored, collapsing sites summed, frames
 * inlined or renamed on another kernel, caches named otherwise), ordering,
 * the report options and each run's losses on small models.
 * KLEAK_REGEN_FIXTURES=1 rewrites the golden files.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diff.h"
#include "record.h"
#include "report.h"
#include "test.h"

#define FIX_TCP "tests/fixtures/tcp.run"
#define FIX_FILES "tests/fixtures/files.run"
#define GOLD_TEXT "tests/fixtures/diff-tcp-files.expected"
#define GOLD_JSON "tests/fixtures/diff-tcp-files-json.expected"
#define FIX_K61 "tests/fixtures/diff-k61.run"
#define FIX_K618 "tests/fixtures/diff-k618.run"
#define GOLD_K_TEXT "tests/fixtures/diff-k61-k618.expected"
#define GOLD_K_JSON "tests/fixtures/diff-k61-k618-json.expected"

/* diff__print() into a string; NULL on error. */
static char *diff_str(const struct model *a, const struct model *b, const struct diff_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f)
		return NULL;
	err = diff__print(a, b, o, f);
	fclose(f);
	if (err) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void golden_of(const char *path_a, const char *path_b, const struct diff_opts *o,
		      const char *gold)
{
	struct model *a = NULL, *b = NULL;
	char *got = NULL;

	if (!ASSERT_OK(record__read(path_a, &a), path_a) ||
	    !ASSERT_OK(record__read(path_b, &b), path_b))
		goto out;
	got = diff_str(a, b, o);
	if (!ASSERT_OK_PTR(got, "diff__print"))
		goto out;
	test__golden(got, gold);
out:
	free(got);
	model__free(a);
	model__free(b);
}

static void golden(const struct diff_opts *o, const char *gold)
{
	golden_of(FIX_TCP, FIX_FILES, o, gold);
}

void test_diff_golden_text(void)
{
	struct diff_opts o = { .name_a = "tcp.run", .name_b = "files.run" };

	golden(&o, GOLD_TEXT);
}

void test_diff_golden_json(void)
{
	struct diff_opts o = { .name_a = "tcp.run", .name_b = "files.run", .json = true };
	char cmd[256];

	golden(&o, GOLD_JSON);
	if (system("command -v jq >/dev/null 2>&1")) {
		test__skip("jq not installed: JSON validity not checked");
		return;
	}
	snprintf(cmd, sizeof(cmd), "jq -e '.sites_total == 5 and (.sites | length) == 5 and .total.delta_bytes == -14528' %s "
		 ">/dev/null", GOLD_JSON);
	ASSERT_EQ(system(cmd), 0, "jq -e on the JSON golden");
}

static struct model_site *site(struct model *m, const char *cache, __s64 count, __s64 bytes,
			       int n, ...)
{
	struct model_site *s = model__add_site(m);
	va_list ap;
	int i;

	snprintf(s->cache, sizeof(s->cache), "%s", cache);
	s->count = count;
	s->bytes = bytes;
	s->frames = calloc(n ? n : 1, sizeof(*s->frames));
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		const char *sym = va_arg(ap, const char *);

		s->frames[i].addr = 0xffffffff81000000ULL + (__u64)rand();
		s->frames[i].sym = sym ? strdup(sym) : NULL;
	}
	va_end(ap);
	s->n_frames = n;
	return s;
}

/*
 * Runs that traced other allocators: B's page and vmalloc sites are no
 * growth, as A could not hold them. They are left out and the header says
 * so; JSON counts them per run and names each row's allocator.
 */
void test_diff_untraced_allocator(void)
{
	struct model *a = model__new(), *b = model__new();
	struct diff_opts o = { .json = true };
	char *text = NULL, *json = NULL;

	site(a, "filp", 2, 512, 1, "alloc_empty_file+0x4f");
	site(b, "filp", 3, 768, 1, "alloc_empty_file+0x4f");
	site(b, "pages/order-0", 182, 745472, 1, "anon_pipe_write+0x1d0")->kind = KLEAK_SITE_PAGES;
	site(b, "pages/order-1", 1, 8192, 1, "alloc_thread_stack_node+0x5")->kind =
		KLEAK_SITE_PAGES;
	site(b, "vmalloc", 1, 69632, 1, "__bpf_map_area_alloc+0x48")->kind = KLEAK_SITE_VMALLOC;
	b->stats[STAT_PAGES_EVENTS] = 400;
	b->stats[STAT_VMALLOC_EVENTS] = 3;
	json = diff_str(a, b, &o);
	o.json = false;
	text = diff_str(a, b, &o);
	if (!ASSERT_OK_PTR(text, "text") || !ASSERT_OK_PTR(json, "json"))
		goto out;
	ASSERT_TRUE(strstr(text, "\nA did not trace pages: 2 pages sites of B left out") &&
		    strstr(text, "\nA did not trace vmalloc: 1 vmalloc sites of B left out"),
		    "the header says what A did not trace");
	ASSERT_TRUE(!strstr(text, "pages/order") && !strstr(text, "vmalloc  "),
		    "no row of an allocator A did not trace");
	ASSERT_TRUE(strstr(text, "\nboth    filp ") != NULL, "slab compared");
	ASSERT_TRUE(strstr(json, "\"untraced\": {\n    \"a\": {},\n    \"b\": {\n      "
			   "\"pages\": 2,\n      \"vmalloc\": 1\n    }\n  }") != NULL,
		    "JSON: untraced per run and allocator");
	ASSERT_TRUE(strstr(json, "\"allocator\": \"slab\"") && !strstr(json, "\"pages\"\n") &&
		    !strstr(json, "\"allocator\": \"pages\""), "JSON: each row's allocator");
out:
	free(text);
	free(json);
	model__free(a);
	model__free(b);
}

/* Offsets, addresses and module-less offsets differ; function names match. */
void test_diff_matching(void)
{
	struct model *a = model__new(), *b = model__new();
	struct diff_opts o = { .json = true };
	char *got, *sites;

	site(a, "filp", 2, 512, 2, "alloc_empty_file+0x4f", "path_openat+0x47 [xfs]");
	site(b, "filp", 3, 768, 2, "alloc_empty_file+0x61/0x100", "path_openat+0x99 [xfs]");
	/* two sites of b that collapse: summed */
	site(b, "filp", 1, 256, 2, "alloc_empty_file+0x10", "path_openat+0x47 [xfs]");
	/* an unresolved frame matches any other unresolved one */
	site(a, "kmalloc-64", 1, 64, 2, "kstrdup+0x1", NULL);
	site(b, "kmalloc-64", 1, 64, 2, "kstrdup+0x2", NULL);
	/* same frames in another cache do not match */
	site(b, "kmalloc-256", 1, 256, 2, "alloc_empty_file+0x4f", "path_openat+0x47 [xfs]");
	/* a lost stack */
	site(a, "filp", 5, 1280, 0)->stack_err = -EFAULT;
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print")) {
		ASSERT_TRUE(strstr(got, "\"sites_total\": 4") != NULL, "4 keys");
		ASSERT_TRUE(strstr(got, "\"match\": \"both\",\n      \"cache\": \"filp\",\n"
				   "      \"count_a\": 2,\n      \"bytes_a\": 512,\n"
				   "      \"count_b\": 4,\n      \"bytes_b\": 1024,\n"
				   "      \"delta_count\": 2,\n      \"delta_bytes\": 512,\n"
				   "      \"frames\": [\n        \"alloc_empty_file\",\n"
				   "        \"path_openat [xfs]\"\n      ]") != NULL,
			    "filp sites matched and summed");
		ASSERT_TRUE(strstr(got, "\"match\": \"both\",\n      \"cache\": \"kmalloc-64\"") !=
			    NULL, "unresolved frames match");
		ASSERT_TRUE(strstr(got, "\"match\": \"only-B\",\n      \"cache\": \"kmalloc-256\"") !=
			    NULL, "cache is part of the key");
		ASSERT_TRUE(strstr(got, "\"frames\": [\n        "
				   "\"[stack not captured: stack walk failed]\"\n") != NULL, "lost stack");
		/* ordering: the lost stack (-1280) first, then filp (+512), kmalloc-256, kmalloc-64 */
		sites = strstr(got, "\"sites\": [");
		ASSERT_TRUE(sites && strstr(sites, "\"delta_bytes\": -1280") <
				     strstr(sites, "\"delta_bytes\": 512") &&
			    strstr(sites, "\"delta_bytes\": 512") < strstr(sites, "\"delta_bytes\": 256") &&
			    strstr(sites, "\"delta_bytes\": 256") < strstr(sites, "\"delta_bytes\": 0"),
			    "sorted by |delta bytes|");
	}
	free(got);
	model__free(a);
	model__free(b);
}

/* Equal |delta| sorts by key, whichever run a site came from. */
void test_diff_ties(void)
{
	struct model *a = model__new(), *b = model__new();
	struct diff_opts o = {};
	char *got, *x, *y, *z;

	site(a, "c", 1, 100, 1, "zeta+0x1");
	site(b, "c", 1, 100, 1, "alpha+0x1");
	site(b, "b", 1, 100, 1, "mid+0x1");
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print")) {
		x = strstr(got, "        mid\n");
		y = strstr(got, "        alpha\n");
		z = strstr(got, "        zeta\n");
		ASSERT_TRUE(x && y && z && x < y && y < z, "ties in key order");
		ASSERT_TRUE(strstr(got, "only-A  c ") && strstr(got, "only-B  b "), "markers");
	}
	free(got);
	model__free(a);
	model__free(b);
}

void test_diff_filters(void)
{
	struct model *a = model__new(), *b = model__new();
	struct diff_opts o = { .min_delta = 200 };
	char *got;

	site(a, "c", 1, 100, 1, "small+0x1");
	site(b, "c", 3, 300, 1, "medium+0x1");
	site(b, "d", 9, 900, 1, "large+0x1");
	site(b, "e", 2, 200, 1, "edge+0x1");
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print min_delta")) {
		ASSERT_TRUE(!strstr(got, "small"), "below min_delta hidden");
		ASSERT_TRUE(strstr(got, "edge") && strstr(got, "medium") && strstr(got, "large"),
			    "at or above min_delta shown");
		ASSERT_TRUE(strstr(got, "\n3 of 4 sites shown, min delta 200 bytes\n") != NULL,
			    "footer");
	}
	free(got);
	o.top = 1;
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print top")) {
		ASSERT_TRUE(strstr(got, "large") && !strstr(got, "medium") && !strstr(got, "edge"),
			    "top 1 is the largest");
		ASSERT_TRUE(strstr(got, "\n1 of 4 sites shown, min delta 200 bytes, top 1 "
				   "(--top 0 shows all)\n") != NULL, "footer");
	}
	free(got);
	model__free(a);
	model__free(b);
}

/* A run against itself: every site in both, every delta zero. */
void test_diff_self(void)
{
	struct model *a = NULL;
	struct diff_opts o = { .json = true };
	char *got;

	if (!ASSERT_OK(record__read(FIX_TCP, &a), FIX_TCP))
		return;
	got = diff_str(a, a, &o);
	if (ASSERT_OK_PTR(got, "diff__print")) {
		ASSERT_TRUE(!strstr(got, "only-"), "no only-A/only-B");
		ASSERT_TRUE(!strstr(got, "\"delta_bytes\": -") && !strstr(got, "\"delta_bytes\": 1") &&
			    !strstr(got, "\"delta_count\": 1"), "zero deltas");
	}
	free(got);
	model__free(a);
}

void test_diff_empty(void)
{
	struct model *a = model__new(), *b = model__new();
	struct diff_opts o = { .json = true };
	char *got = diff_str(a, b, &o);

	if (ASSERT_OK_PTR(got, "diff__print"))
		ASSERT_TRUE(strstr(got, "\"sites\": [],") || strstr(got, "\"sites\": [\n  ],"),
			    "no sites");
	free(got);
	o.json = false;
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print text"))
		ASSERT_TRUE(strstr(got, "\n0 of 0 sites shown\n") != NULL, "footer");
	free(got);
	model__free(a);
	model__free(b);
}

/* ---- across kernels ---- */

void test_diff_frame_key(void)
{
	static const struct {
		const char *sym, *key;
	} cases[] = {
		/* the allocator's entry points, 6.1 to 6.18 */
		{ "kmem_cache_alloc+0x1bb", DIFF_ALLOCATOR },
		{ "kmem_cache_alloc_noprof+0x230", DIFF_ALLOCATOR },
		{ "kmem_cache_alloc_node+0x214", DIFF_ALLOCATOR },
		{ "kmem_cache_alloc_node_noprof+0x201", DIFF_ALLOCATOR },
		{ "kmem_cache_alloc_lru_noprof+0x235", DIFF_ALLOCATOR },
		{ "kmem_cache_alloc_from_sheaf_noprof+0x107", DIFF_ALLOCATOR },
		{ "kmem_cache_alloc_trace+0x10", DIFF_ALLOCATOR },
		{ "__kmalloc+0xa2", DIFF_ALLOCATOR },
		{ "__kmalloc_noprof+0x24c", DIFF_ALLOCATOR },
		{ "__kmalloc_node+0xa7/0x130", DIFF_ALLOCATOR },
		{ "kmalloc_trace+0x7c", DIFF_ALLOCATOR },
		{ "kmalloc_trace_noprof+0x1c", DIFF_ALLOCATOR },
		{ "kmalloc_node_trace+0x7b", DIFF_ALLOCATOR },
		{ "__kmalloc_cache_noprof+0x23f", DIFF_ALLOCATOR },
		{ "__kmalloc_cache_node_noprof+0x215", DIFF_ALLOCATOR },
		{ "__kmalloc_node_track_caller_noprof+0x3a", DIFF_ALLOCATOR },
		{ "___kmalloc_large_node+0x5", DIFF_ALLOCATOR },
		{ "__kvmalloc_node_noprof+0x30b", DIFF_ALLOCATOR },
		{ "kvmalloc_node+0x1e", DIFF_ALLOCATOR },
		{ "krealloc_noprof+0x4c", DIFF_ALLOCATOR },
		/* callers and neighbours of the allocator stay themselves */
		{ "kmalloc_reserve+0x10", "kmalloc_reserve" },
		{ "kmem_cache_free+0x1", "kmem_cache_free" },
		{ "kmalloc_size_roundup+0x9", "kmalloc_size_roundup" },
		{ "kmemdup_noprof+0x26", "kmemdup" },
		{ "kmem_cache_alloc+0x10 [mymod]", "kmem_cache_alloc [mymod]" },
		/* renames and compiler suffixes */
		{ "get_task_mm_noprof+0x14", "get_task_mm" },
		{ "do_execveat_common.isra.0+0x1a6", "do_execveat_common" },
		{ "mas_dup_alloc.isra.0+0x1af", "mas_dup_alloc" },
		{ "tcp_sendmsg.cold+0x5", "tcp_sendmsg" },
		{ "xfs_foo.constprop.0+0x3 [xfs]", "xfs_foo [xfs]" },
		{ "path_openat+0x47/0x100 [xfs]", "path_openat [xfs]" },
		{ "copy_process", "copy_process" },
		{ "_noprof+0x1", "_noprof" },
		{ NULL, "?" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *key = diff__frame_key(cases[i].sym, KLEAK_ALLOC_SLAB);

		if (ASSERT_OK_PTR(key, "diff__frame_key"))
			ASSERT_STREQ(key, cases[i].key, cases[i].sym ? cases[i].sym : "NULL");
		free(key);
	}
}

/*
 * The page allocator's, vmalloc's and percpu's frames are the allocator in
 * their own sites only: elsewhere they are the callers that name an object
 * (vmalloc's bookkeeping in a slab site, vmalloc's pages in a page site).
 */
void test_diff_frame_key_allocators(void)
{
	static const struct {
		const char *sym, *key;
		enum kleak_allocator a;
	} cases[] = {
		{ "__alloc_frozen_pages_noprof+0x1d5", DIFF_ALLOCATOR, KLEAK_ALLOC_PAGES },
		{ "__alloc_pages+0x17b", DIFF_ALLOCATOR, KLEAK_ALLOC_PAGES },
		{ "alloc_pages_mpol+0x8a", DIFF_ALLOCATOR, KLEAK_ALLOC_PAGES },
		{ "alloc_pages_bulk_noprof+0x3c2", DIFF_ALLOCATOR, KLEAK_ALLOC_PAGES },
		{ "___kmalloc_large_node+0x5", DIFF_ALLOCATOR, KLEAK_ALLOC_PAGES },
		{ "alloc_vmap_area+0x2cf", DIFF_ALLOCATOR, KLEAK_ALLOC_VMALLOC },
		{ "__vmalloc_node_range_noprof+0x145", DIFF_ALLOCATOR, KLEAK_ALLOC_VMALLOC },
		{ "pcpu_alloc_noprof+0x4b6", DIFF_ALLOCATOR, KLEAK_ALLOC_PERCPU },
		{ "__alloc_percpu_gfp+0x12", DIFF_ALLOCATOR, KLEAK_ALLOC_PERCPU },
		{ "alloc_pages_exact_nid_foo+0x1", "alloc_pages_exact_nid_foo", KLEAK_ALLOC_PAGES },
		{ "pipe_write+0x1f2", "pipe_write", KLEAK_ALLOC_PAGES },
		{ "__get_vm_area_node+0x80", "__get_vm_area_node", KLEAK_ALLOC_SLAB },
		{ "__vmalloc_node_range_noprof+0x145", "__vmalloc_node_range", KLEAK_ALLOC_PAGES },
		{ "alloc_vmap_area+0x2cf", "alloc_vmap_area", KLEAK_ALLOC_PERCPU },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *key = diff__frame_key(cases[i].sym, cases[i].a);

		if (ASSERT_OK_PTR(key, "diff__frame_key"))
			ASSERT_STREQ(key, cases[i].key, cases[i].sym);
		free(key);
	}
}

static struct model *kernel_model(const char *kernel)
{
	struct model *m = model__new();

	m->meta.kernel = strdup(kernel);
	return m;
}

static void set_kernel(struct model *m, const char *kernel)
{
	char *k = strdup(kernel);

	free(m->meta.kernel);
	m->meta.kernel = k;
}

/* Every "delta_..": 0 in JSON. */
static bool all_deltas_zero(const char *json)
{
	const char *p = json;

	while ((p = strstr(p, "\"delta_"))) {
		p = strchr(p, ':');
		if (!p || strncmp(p, ": 0", 3) || (p[3] != ',' && p[3] != '\n'))
			return false;
	}
	return true;
}

/*
 * The user's case: a run whose frames were renamed as on an older kernel
 * (kmem_cache_alloc_node_noprof -> kmem_cache_alloc_node), diffed against
 * the original, showed every stack as only-A and only-B. The renames alone
 * compare equal, on one kernel or two; a kernel change is said.
 */
void test_diff_renamed_kernel(void)
{
	struct model *a = NULL, *b = NULL;
	struct diff_opts o = { .json = true };
	size_t i, j;
	char *got, *p;

	if (!ASSERT_OK(record__read(FIX_K618, &a), FIX_K618) ||
	    !ASSERT_OK(record__read(FIX_K618, &b), FIX_K618))
		goto out;
	for (i = 0; i < b->n_sites; i++) {
		for (j = 0; j < b->sites[i].n_frames; j++) {
			char *sym = b->sites[i].frames[j].sym;

			while (sym && (p = strstr(sym, "_noprof")))
				memmove(p, p + 7, strlen(p + 7) + 1);
		}
	}
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print, one kernel")) {
		ASSERT_TRUE(!strstr(got, "only-") && !strstr(got, "\"similar\""), "all both");
		ASSERT_TRUE(all_deltas_zero(got), "zero deltas");
		ASSERT_TRUE(strstr(got, "\"kernels_differ\": false") != NULL, "one kernel");
	}
	free(got);
	set_kernel(b, "6.1.0-57-amd64");
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print, two kernels")) {
		ASSERT_TRUE(!strstr(got, "only-") && !strstr(got, "\"similar\""), "all both");
		ASSERT_TRUE(all_deltas_zero(got), "zero deltas");
		ASSERT_TRUE(strstr(got, "\"kernels_differ\": true") != NULL, "kernels differ");
	}
	free(got);
	o.json = false;
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print text"))
		ASSERT_TRUE(strstr(got, "\nkernels differ: ") != NULL, "the header says so");
	free(got);
out:
	model__free(a);
	model__free(b);
}

#define CLONE_TAIL_61 "kernel_clone+0xbf", "__do_sys_clone+0x7b", "do_syscall_64+0x5d", \
	"entry_SYSCALL_64_after_hwframe+0x6e"
#define CLONE_TAIL_618 "kernel_clone+0xb8", "__do_sys_clone+0x8d", "do_syscall_64+0x71", \
	"entry_SYSCALL_64_after_hwframe+0x76"

/*
 * A frame inlined on one kernel only (dup_task_struct into copy_process)
 * still matches the rest of the stack; two call sites sharing only
 * copy_process and the syscall entry do not, nor does one call site
 * reached from another system call, nor does anything on one kernel.
 */
void test_diff_inlined(void)
{
	struct model *a = kernel_model("6.1.0-57-amd64"), *b = kernel_model("6.18.44");
	struct diff_opts o = {};
	char *got;

	site(a, "task_struct", 10, 84480, 7, "kmem_cache_alloc_node+0x214", "dup_task_struct+0x30",
	     "copy_process+0x20e", CLONE_TAIL_61);
	site(b, "task_struct", 10, 58880, 6, "kmem_cache_alloc_node_noprof+0x201",
	     "copy_process+0x1a5", CLONE_TAIL_618);
	site(a, "kmalloc-96", 11, 1056, 7, "__kmalloc+0xa2", "security_task_alloc+0xbf",
	     "copy_process+0x9a5", CLONE_TAIL_61);
	site(b, "kmalloc-96", 1, 96, 9, "__kmalloc_cache_node_noprof+0x215",
	     "__get_vm_area_node+0x80", "__vmalloc_node_range_noprof+0x145",
	     "__vmalloc_node_noprof+0x41", "copy_process+0xee2", CLONE_TAIL_618);
	site(a, "filp", 1, 256, 5, "kmem_cache_alloc+0x1bb", "alloc_empty_file+0x3d",
	     "path_openat+0x4b", "__x64_sys_openat+0x6a", "entry_SYSCALL_64_after_hwframe+0x6e");
	site(b, "filp", 1, 192, 5, "kmem_cache_alloc_noprof+0x230", "alloc_empty_file+0x3c",
	     "path_openat+0x40", "__x64_sys_openat2+0x5d", "entry_SYSCALL_64_after_hwframe+0x76");
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print")) {
		ASSERT_TRUE(strstr(got, "\nsimilar task_struct ") != NULL, "task_struct matched");
		ASSERT_TRUE(strstr(got, "\n        kmem_cache_alloc_node\n"
				   "        dup_task_struct  (A only)\n"
				   "        copy_process\n") != NULL, "the inlined frame marked");
		ASSERT_TRUE(strstr(got, "\nonly-A  kmalloc-96 ") &&
			    strstr(got, "\nonly-B  kmalloc-96 "), "other call sites");
		ASSERT_TRUE(strstr(got, "\nonly-A  filp ") && strstr(got, "\nonly-B  filp "),
			    "other system calls");
	}
	free(got);
	set_kernel(b, a->meta.kernel);
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print, one kernel"))
		ASSERT_TRUE(strstr(got, "\nonly-A  task_struct ") &&
			    strstr(got, "\nonly-B  task_struct ") && !strstr(got, "similar") &&
			    !strstr(got, "kernels differ"), "on one kernel a missing frame is another path");
	free(got);
	model__free(a);
	model__free(b);
}

/* Two functions one kernel inlines into their common caller: one row with both. */
void test_diff_inlined_two_into_one(void)
{
	struct model *a = kernel_model("6.1"), *b = kernel_model("6.18");
	struct diff_opts o = { .json = true };
	char *got;

	site(a, "kmalloc-64", 2, 128, 6, "__kmalloc+0x1", "setup_a+0x1", "do_setup+0x1",
	     "__x64_sys_setup+0x1", "do_syscall_64+0x1", "entry_SYSCALL_64_after_hwframe+0x1");
	site(a, "kmalloc-64", 3, 192, 6, "__kmalloc+0x1", "setup_b+0x1", "do_setup+0x2",
	     "__x64_sys_setup+0x1", "do_syscall_64+0x1", "entry_SYSCALL_64_after_hwframe+0x1");
	site(b, "kmalloc-64", 5, 320, 5, "__kmalloc_noprof+0x1", "do_setup+0x9",
	     "__x64_sys_setup+0x1", "do_syscall_64+0x1", "entry_SYSCALL_64_after_hwframe+0x1");
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print")) {
		ASSERT_TRUE(strstr(got, "\"sites_total\": 1") != NULL, "one row");
		ASSERT_TRUE(strstr(got, "\"match\": \"similar\"") != NULL, "similar");
		ASSERT_TRUE(strstr(got, "\"count_a\": 5,\n      \"bytes_a\": 320,\n"
				   "      \"count_b\": 5,\n      \"bytes_b\": 320,\n") != NULL,
			    "both A stacks summed");
		ASSERT_TRUE(strstr(got, "\"stacks_a\": 2,\n      \"stacks_b\": 1\n") != NULL,
			    "stacks counted");
	}
	free(got);
	o.json = false;
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print text"))
		ASSERT_TRUE(strstr(got, "        (2 stacks of A and 1 of B compared as one)\n") !=
			    NULL, "said in text");
	free(got);
	model__free(a);
	model__free(b);
}

/*
 * One path in caches named otherwise (6.18 merges cred_jar into pid) is
 * matched when it is the only candidate on both sides; an ambiguous one
 * (one stack of A, two caches of B with that stack) is not.
 */
void test_diff_cross_cache(void)
{
	struct model *a = kernel_model("6.1.0-57-amd64"), *b = kernel_model("6.18.44");
	struct diff_opts o = { .json = true };
	char *got;

	site(a, "cred_jar", 11, 2112, 8, "kmem_cache_alloc+0x1bb", "prepare_creds+0x21",
	     "copy_creds+0x2c", "copy_process+0x45d", CLONE_TAIL_61);
	site(b, "pid", 11, 2112, 8, "kmem_cache_alloc_noprof+0x230", "prepare_creds+0x1c",
	     "copy_creds+0x2a", "copy_process+0x49a", CLONE_TAIL_618);
	site(a, "mm_struct", 1, 1152, 6, "kmem_cache_alloc+0x1bb", "copy_process+0x1903",
	     CLONE_TAIL_61);
	site(b, "x_cache", 1, 1600, 6, "kmem_cache_alloc_noprof+0x230", "copy_process+0x120f",
	     CLONE_TAIL_618);
	site(b, "y_cache", 1, 1600, 6, "kmem_cache_alloc_noprof+0x230", "copy_process+0x130f",
	     CLONE_TAIL_618);
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print")) {
		ASSERT_TRUE(strstr(got, "\"match\": \"similar\",\n      \"cache\": \"cred_jar\",\n"
				   "      \"cache_b\": \"pid\",\n") != NULL, "cred_jar and pid");
		ASSERT_TRUE(strstr(got, "\"match\": \"only-A\",\n      \"cache\": \"mm_struct\"") &&
			    strstr(got, "\"match\": \"only-B\",\n      \"cache\": \"x_cache\"") &&
			    strstr(got, "\"match\": \"only-B\",\n      \"cache\": \"y_cache\""),
			    "ambiguous: not matched");
	}
	free(got);
	o.json = false;
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "diff__print text"))
		ASSERT_TRUE(strstr(got, "\nsimilar cred_jar|pid ") != NULL, "both caches shown");
	free(got);
	model__free(a);
	model__free(b);
}

void test_diff_kernels_golden(void)
{
	struct diff_opts o = { .name_a = "diff-k61.run", .name_b = "diff-k618.run" };
	char cmd[256];

	golden_of(FIX_K61, FIX_K618, &o, GOLD_K_TEXT);
	o.json = true;
	golden_of(FIX_K61, FIX_K618, &o, GOLD_K_JSON);
	if (system("command -v jq >/dev/null 2>&1")) {
		test__skip("jq not installed: JSON validity not checked");
		return;
	}
	snprintf(cmd, sizeof(cmd), "jq -e '.kernels_differ and .a.kernel != .b.kernel and "
		 "(.sites | length) == .sites_total' %s >/dev/null", GOLD_K_JSON);
	ASSERT_EQ(system(cmd), 0, "jq -e on the JSON golden");
}

/* A row of the text site table. */
struct text_row {
	char match[16];
	char cache[2 * KLEAK_CACHE_NAME_LEN + 2];
	size_t n_frames;
	char frames[KLEAK_MAX_STACK_DEPTH][128];
};

/* The site table of a text diff; returns the number of rows read into rows. */
static size_t text_rows(const char *text, struct text_row *rows, size_t max)
{
	const char *p = strstr(text, "\nMATCH ");
	size_t n = 0, len;

	if (!p)
		return 0;
	p = strchr(p + 1, '\n');
	while (p && p[1] && p[1] != '\n') {
		const char *line = p + 1, *end = strchr(line, '\n');

		if (!end)
			break;
		if (strncmp(line, "        ", 8)) {
			if (n == max)
				break;
			memset(&rows[n], 0, sizeof(rows[n]));
			sscanf(line, "%15s %65s", rows[n].match, rows[n].cache);
			n++;
		} else if (n && line[8] != '(' && rows[n - 1].n_frames < KLEAK_MAX_STACK_DEPTH) {
			/* the name, without "  (A only)" */
			len = strcspn(line + 8, " \n");
			snprintf(rows[n - 1].frames[rows[n - 1].n_frames++], 128, "%.*s", (int)len,
				 line + 8);
		}
		p = end;
	}
	return n;
}

static bool row_has_frame(const struct text_row *r, const char *frame)
{
	size_t i;

	for (i = 0; i < r->n_frames; i++)
		if (!strcmp(r->frames[i], frame))
			return true;
	return false;
}

/*
 * The workload's own paths (kleak-workload -c 10 zombies files: a fork per
 * zombie, an open per file) are matched between the 6.1 and 6.18 runs; no
 * only-A and only-B rows share a cache and a call site.
 */
void test_diff_kernels_match_workload(void)
{
	static const struct {
		const char *cache, *frame;
	} paths[] = {
		{ "task_struct", "copy_process" },	{ "sighand_cache", "copy_process" },
		{ "signal_cache", "copy_process" },	{ "mm_struct", "copy_process" },
		{ "pid", "alloc_pid" },			{ "cred_jar|pid", "prepare_creds" },
		{ "files_cache", "dup_fd" },		{ "vm_area_struct", "vm_area_dup" },
		{ "anon_vma", "anon_vma_fork" },	{ "anon_vma_chain", "anon_vma_clone" },
		{ "kmalloc-16", "security_prepare_creds" },
		{ "filp", "path_openat" },		{ "lsm_file_cache", "path_openat" },
	};
	static struct text_row rows[256];
	struct model *a = NULL, *b = NULL;
	struct diff_opts o = {};
	size_t n, i, j, found;
	char *got = NULL;

	if (!ASSERT_OK(record__read(FIX_K61, &a), FIX_K61) ||
	    !ASSERT_OK(record__read(FIX_K618, &b), FIX_K618))
		goto out;
	got = diff_str(a, b, &o);
	if (!ASSERT_OK_PTR(got, "diff__print"))
		goto out;
	n = text_rows(got, rows, sizeof(rows) / sizeof(rows[0]));
	ASSERT_GE(n, (size_t)20, "rows read");
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (j = 0, found = 0; j < n; j++) {
			if (strcmp(rows[j].cache, paths[i].cache) ||
			    !row_has_frame(&rows[j], paths[i].frame))
				continue;
			found++;
			ASSERT_TRUE(!strcmp(rows[j].match, "both") ||
				    !strcmp(rows[j].match, "similar"), paths[i].cache);
		}
		ASSERT_GE(found, (size_t)1, paths[i].cache);
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++) {
			if (strcmp(rows[i].match, "only-A") || strcmp(rows[j].match, "only-B") ||
			    strcmp(rows[i].cache, rows[j].cache) || rows[i].n_frames < 2 ||
			    rows[j].n_frames < 2)
				continue;
			ASSERT_TRUE(strcmp(rows[i].frames[1], rows[j].frames[1]) != 0,
				    rows[i].frames[1]);
		}
	}
out:
	free(got);
	model__free(a);
	model__free(b);
}

/* ---- report options and losses ---- */

static struct model_site *aged(struct model_site *s, __u64 obj_size, size_t n, ...)
{
	va_list ap;
	size_t i;

	s->obj_size = obj_size;
	s->ages_ms = calloc(n ? n : 1, sizeof(*s->ages_ms));
	va_start(ap, n);
	for (i = 0; i < n; i++)
		s->ages_ms[i] = va_arg(ap, __u32);
	va_end(ap);
	s->n_ages = n;
	return s;
}

void test_diff_options(void)
{
	struct model *a = model__new(), *b = model__new();
	struct diff_opts o = { .cache = "filp" };
	regex_t re;
	char *got;

	aged(site(a, "filp", 3, 768, 1, "alloc_empty_file+0x1"), 256, 3, 9000, 7000, 1000);
	aged(site(b, "filp", 4, 1024, 1, "alloc_empty_file+0x2"), 256, 4, 8000, 2000, 1000, 500);
	aged(site(a, "kmalloc-64", 2, 128, 1, "kstrdup+0x1"), 64, 2, 9000, 9000);
	aged(site(b, "kmalloc-64", 1, 64, 1, "kstrdup+0x1"), 64, 1, 100);
	aged(site(b, "dentry", 5, 960, 2, "__d_alloc+0x1", "rig_lookup+0x1 [rig]"), 192, 5, 9000,
	     9000, 9000, 9000, 9000);

	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "--cache"))
		ASSERT_TRUE(strstr(got, "in cache filp, B minus A\n") && strstr(got, "filp") &&
			    !strstr(got, "kmalloc-64") && !strstr(got, "dentry"), "only filp");
	free(got);

	o = (struct diff_opts){ .older_ms = 6000, .json = true };
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "--older")) {
		ASSERT_TRUE(strstr(got, "\"cache\": \"filp\",\n      \"count_a\": 2,\n"
				   "      \"bytes_a\": 512,\n      \"count_b\": 1,\n"
				   "      \"bytes_b\": 256,\n") != NULL, "filp by age");
		ASSERT_TRUE(strstr(got, "\"match\": \"only-A\",\n      \"cache\": \"kmalloc-64\"") !=
			    NULL, "nothing old enough in B");
		ASSERT_TRUE(strstr(got, "\"older_ms\": 6000") != NULL, "said");
		ASSERT_TRUE(strstr(got, "\"younger\": {\n    \"a\": 0,\n    \"b\": 1\n  }") != NULL,
			    "sites below the age cut counted");
	}
	free(got);
	o.json = false;
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "--older text"))
		ASSERT_TRUE(strstr(got, " at least 6.0 s old, B minus A\n") &&
			    strstr(got, "\nyounger than 6.0 s, left out: 0 sites of A and 1 of B "
				   "(-o 0 compares them)\n"), "said in text");
	free(got);

	o = (struct diff_opts){ .min_size = 100, .max_size = 200 };
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "--min-size, --max-size"))
		ASSERT_TRUE(strstr(got, "dentry") && !strstr(got, "filp") &&
			    !strstr(got, "kmalloc-64") && strstr(got, " of 100 to 200 bytes, "),
			    "sizes");
	free(got);

	o = (struct diff_opts){ .no_caches = true };
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "--no-caches"))
		ASSERT_TRUE(!strstr(got, "\nCACHE ") && strstr(got, "\nMATCH "), "no cache table");
	free(got);
	o.json = true;
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "--no-caches json"))
		ASSERT_TRUE(!strstr(got, "\"caches\"") && strstr(got, "\"total\""), "no caches");
	free(got);

	if (!ASSERT_OK(regcomp(&re, "\\[rig\\]", REG_EXTENDED | REG_NOSUB), "regcomp"))
		goto out;
	o = (struct diff_opts){ .exclude = &re };
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "--exclude"))
		ASSERT_TRUE(!strstr(got, "dentry") &&
			    strstr(got, "\n2 of 2 sites shown\n--exclude left out 0 sites of A "
				   "and 1 of B\n"), "excluded and counted");
	free(got);
	/* a site the other filters leave out is not counted as excluded */
	o.cache = "filp";
	o.json = true;
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "--exclude --cache"))
		ASSERT_TRUE(strstr(got, "\"excluded\": {\n    \"a\": 0,\n    \"b\": 0\n  }") != NULL,
			    "counted on the diff's terms");
	free(got);
	regfree(&re);

	b->meta.sample_rate = 10;
	o = (struct diff_opts){ .cache = "filp" };
	got = diff_str(a, b, &o);
	if (ASSERT_OK_PTR(got, "sampled"))
		ASSERT_TRUE(strstr(got, "sample rate 10 (counts scaled: estimates)") &&
			    strstr(got, "           3          768           40        10240 "),
			    "B scaled");
	free(got);
out:
	model__free(a);
	model__free(b);
}

/* report__print_not_seen() of m, each line indented as the diff does. */
static char *not_seen_indented(const struct model *m)
{
	char *raw = NULL, *buf = NULL, *p, *nl;
	size_t len = 0, blen = 0;
	FILE *f = open_memstream(&raw, &len), *g;

	if (!f)
		return NULL;
	report__print_not_seen(m, f);
	fclose(f);
	g = open_memstream(&buf, &blen);
	if (g) {
		for (p = raw; *p; p = *nl ? nl + 1 : nl) {
			nl = strchr(p, '\n');
			if (!nl)
				nl = p + strlen(p);
			if (nl > p)
				fprintf(g, "   %.*s\n", (int)(nl - p), p);
		}
		fclose(g);
	}
	free(raw);
	return buf;
}

/*
 * Each run's losses are the report footer's, not a cache-hit counter, and
 * --exclude hides sites, never a run's counters.
 */
void test_diff_not_seen(void)
{
	struct model *a = model__new(), *b = model__new();
	struct diff_opts o = {};
	char *got = NULL, *excl = NULL, *want_a, *want_b;
	regex_t re;

	a->stats[STAT_STACK_CACHED] = 24681;
	a->stats[STAT_STACK_FAULT] = 1;
	b->recursion_misses = 3;
	b->stats[STAT_REALLOC_RETIRED] = 6051;
	site(a, "maple_node", 2, 512, 1, "mas_alloc_nodes+0x1");
	site(b, "maple_node", 9, 2304, 1, "mas_alloc_nodes+0x1")->retired = 6051;
	want_a = not_seen_indented(a);
	want_b = not_seen_indented(b);
	if (!ASSERT_OK_PTR(want_a, "footer A") || !ASSERT_OK_PTR(want_b, "footer B") ||
	    !ASSERT_OK(regcomp(&re, "mas_alloc", REG_EXTENDED | REG_NOSUB), "regcomp"))
		goto out;
	got = diff_str(a, b, &o);
	o.exclude = &re;
	excl = diff_str(a, b, &o);
	regfree(&re);
	if (!ASSERT_OK_PTR(got, "diff__print") || !ASSERT_OK_PTR(excl, "diff__print --exclude"))
		goto out;
	ASSERT_TRUE(!strstr(got, "stacks_from_templates"), "no cache-hit counter as a loss");
	ASSERT_TRUE(strstr(got, want_a) != NULL, "A's footer");
	ASSERT_TRUE(strstr(got, want_b) != NULL, "B's footer");
	ASSERT_TRUE(strstr(excl, want_a) && strstr(excl, want_b), "the footers with --exclude");
	ASSERT_TRUE(strstr(excl, "--exclude left out 1 sites of A and 1 of B\n") != NULL,
		    "sites left out");
out:
	free(got);
	free(excl);
	free(want_a);
	free(want_b);
	model__free(a);
	model__free(b);
}
