// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Prometheus metrics on models built here: label values escaped and
 * kept UTF-8 whatever bytes a comm holds, the comm series bounded with the
 * rest folded into "(other)", site series bounded by top and a cap of
 * their own and merged by cache and first frames outside the allocator, a
 * merged cache's aliases in an info series, every value scaled by the
 * sample rate. tests/sh/metrics.sh checks a real run's file with promtool
 * and node_exporter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "test.h"

/* A site of n objects of size bytes by comm, its stack the frames given, innermost first. */
static struct model_site *add_site(struct model *m, const char *cache, __u64 size, __u64 n,
				   const char *comm, const char *const *frames, size_t n_frames)
{
	struct model_site *s = model__add_site(m);
	size_t i;

	if (!s)
		return NULL;
	snprintf(s->cache, sizeof(s->cache), "%s", cache);
	s->obj_size = size;
	s->count = n;
	s->bytes = n * size;
	s->allocs = n;
	s->ages_ms = calloc(n ? n : 1, sizeof(*s->ages_ms));
	s->n_ages = n;
	if (comm) {
		snprintf(s->comms[0].comm, sizeof(s->comms[0].comm), "%s", comm);
		s->comms[0].count = n;
		s->n_comms = 1;
	}
	s->frames = calloc(n_frames ? n_frames : 1, sizeof(*s->frames));
	for (i = 0; i < n_frames; i++) {
		s->frames[i].addr = 0xffffffff81000000 + i;
		s->frames[i].sym = frames[i] ? strdup(frames[i]) : NULL;
	}
	s->n_frames = n_frames;
	return s;
}

static struct model *new_model(void)
{
	struct model *m = model__new();

	if (!m)
		return NULL;
	m->meta.version = strdup("0.1.0");
	m->meta.kernel = strdup("6.18.0");
	m->meta.attach = strdup("tp_btf");
	m->meta.filters = strdup("comm=\"x\"");
	m->meta.start_s = 1700000000;
	m->meta.end_s = 1700000010;
	m->meta.sample_rate = 1;
	m->meta.max_allocs = 1000;
	m->meta.max_sites = 100;
	m->sites_used = 25;
	m->stats[STAT_ALLOC_EVENTS] = 500;
	m->stats[STAT_ALLOC_MAP_FULL] = 7;
	return m;
}

static char *print(const struct model *m, size_t top)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f)
		return NULL;
	err = metrics__print(m, top, f);
	fclose(f);
	if (err) {
		free(buf);
		return NULL;
	}
	return buf;
}

static size_t count_lines(const char *text, const char *prefix)
{
	size_t n = 0, len = strlen(prefix);
	const char *p;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += !strncmp(p, prefix, len);
	return n;
}

static const char *const task_stack[] = {
	"kmem_cache_alloc_node_noprof+0x10/0x300", "dup_task_struct+0x4a/0x200",
	"copy_process+0x1b0/0x1e00", "kernel_clone+0x90/0x3d0",
};

void test_metrics_series(void)
{
	static const char *const other_stack[] = {
		"__kmalloc_noprof+0x1/0x2", "ext4_fill_super.isra.0+0x2/0x9 [ext4]", NULL,
	};
	struct model *m = new_model();
	struct model_merged *g;
	char *out;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	/* two sites on one key: merged into one series */
	add_site(m, "task_struct", 100, 3, "xargs", task_stack, 4);
	add_site(m, "task_struct", 100, 2, "xargs", task_stack, 4);
	add_site(m, "kmalloc-64", 64, 10, "mount", other_stack, 3);
	add_site(m, "filp", 256, 1, NULL, NULL, 0)->stack_err = -14;
	out = print(m, 10);
	if (!ASSERT_OK_PTR(out, "metrics__print")) {
		model__free(m);
		return;
	}
	ASSERT_OK_PTR(strstr(out, "\nkleak_cache_outstanding_objects{cache=\"task_struct\"} 5\n"),
		      "task_struct objects, both sites");
	ASSERT_OK_PTR(strstr(out, "\nkleak_cache_outstanding_bytes{cache=\"task_struct\"} 500\n"),
		      "task_struct bytes");
	ASSERT_OK_PTR(strstr(out, "\nkleak_site_outstanding_objects{cache=\"task_struct\","
				  "function=\"dup_task_struct\",caller=\"copy_process\"} 5\n"),
		      "task_struct site: first frames outside the allocator, no offsets");
	ASSERT_OK_PTR(strstr(out, "\nkleak_site_outstanding_bytes{cache=\"kmalloc-64\","
				  "function=\"ext4_fill_super [ext4]\",caller=\"?\"} 640\n"),
		      "module frame without compiler suffix, unresolved caller");
	ASSERT_OK_PTR(strstr(out, "\nkleak_site_outstanding_objects{cache=\"filp\","
				  "function=\"(no stack)\",caller=\"-\"} 1\n"),
		      "a site without a stack");
	ASSERT_OK_PTR(strstr(out, "\nkleak_comm_outstanding_objects{comm=\"mount\"} 10\n"),
		      "per comm");
	ASSERT_OK_PTR(strstr(out, "\nkleak_comm_outstanding_objects{comm=\"(other)\"} 1\n"),
		      "records without a named comm");
	ASSERT_OK_PTR(strstr(out, "\nkleak_outstanding_objects 16\n"), "total objects");
	ASSERT_OK_PTR(strstr(out, "\nkleak_not_seen_total{reason=\"allocs_map_full\"} 7\n"),
		      "not seen");
	ASSERT_OK_PTR(strstr(out, "\nkleak_alloc_events_per_second 50.0\n"), "events per second");
	ASSERT_OK_PTR(strstr(out, "\nkleak_allocs_map_fill_ratio 0.016000\n"), "allocs fill");
	ASSERT_OK_PTR(strstr(out, "\nkleak_sites_map_fill_ratio 0.250000\n"), "sites fill");
	ASSERT_OK_PTR(strstr(out, "filters=\"comm=\\\"x\\\"\"} 1\n"), "quote escaped");
	ASSERT_EQ(count_lines(out, "kleak_site_outstanding_objects{"), 3, "site series");
	free(out);
	/* top bounds the site series; the largest by bytes stay */
	out = print(m, 1);
	if (ASSERT_OK_PTR(out, "metrics__print top 1")) {
		ASSERT_EQ(count_lines(out, "kleak_site_outstanding_objects{"), 1, "top 1");
		ASSERT_OK_PTR(strstr(out, "kleak_site_outstanding_objects{cache=\"kmalloc-64\""),
			      "top 1 is the largest");
	}
	free(out);
	/* a merged cache's aliases: an info series, the cache label unchanged */
	g = model__add_merged(m, "kmalloc-64");
	if (ASSERT_OK_PTR(g, "merged") && ASSERT_OK(model_merged__add_alias(g, "ext4_io_end"), "alias") &&
	    ASSERT_OK(model_merged__add_alias(g, "bio-0"), "alias")) {
		out = print(m, 10);
		if (ASSERT_OK_PTR(out, "metrics__print merged")) {
			ASSERT_OK_PTR(strstr(out, "\nkleak_cache_merged_info{cache=\"kmalloc-64\","
						  "aliases=\"bio-0,ext4_io_end\"} 1\n"), "aliases");
			ASSERT_EQ(count_lines(out, "kleak_cache_merged_info{"), 1, "only merged caches");
		}
		free(out);
	}
	model__free(m);
}

void test_metrics_bounds(void)
{
	struct model *m = new_model();
	char comm[16], *out;
	int i;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	m->meta.sample_rate = 4;
	/* 30 comms of 1..30 objects: the 20 largest stay, the 10 others are "(other)" */
	for (i = 1; i <= 30; i++) {
		snprintf(comm, sizeof(comm), "worker-%d", i);
		add_site(m, "kmalloc-8", 8, i, comm, task_stack, 4);
	}
	/* bytes a label value cannot hold: a newline, a backslash, invalid UTF-8 */
	add_site(m, "kmalloc-8", 8, 1, "a\nb\\c\xff\xc3\xa9", task_stack, 4);
	out = print(m, 0);
	if (!ASSERT_OK_PTR(out, "metrics__print")) {
		model__free(m);
		return;
	}
	ASSERT_EQ(count_lines(out, "kleak_comm_outstanding_objects{"), METRICS_TOP_COMMS + 1,
		  "top comms and (other)");
	ASSERT_OK_PTR(strstr(out, "\nkleak_comm_outstanding_objects{comm=\"worker-30\"} 120\n"),
		      "scaled by the sample rate");
	/* worker-1..10 (55 objects) and the odd comm (1), times 4 */
	ASSERT_OK_PTR(strstr(out, "\nkleak_comm_outstanding_objects{comm=\"(other)\"} 224\n"),
		      "(other) sums the rest");
	ASSERT_OK_PTR(strstr(out, "\nkleak_cache_outstanding_objects{cache=\"kmalloc-8\"} 1864\n"),
		      "one cache series");
	/* top 0: every site key; all 31 sites share one */
	ASSERT_EQ(count_lines(out, "kleak_site_outstanding_objects{"), 1, "sites merged");
	free(out);
	/* 30 sites of their own: top 0 (every site) still gives METRICS_TOP_SITES */
	model__free(m);
	m = new_model();
	if (!ASSERT_OK_PTR(m, "model"))
		return;
	for (i = 1; i <= 30; i++) {
		char fn[32];
		const char *stack[] = { "__kmalloc_noprof+0x1/0x2", fn, "do_syscall_64+0x1/0x2" };

		snprintf(fn, sizeof(fn), "caller_%d+0x10/0x20", i);
		add_site(m, "kmalloc-8", 8, i, "w", stack, 3);
	}
	out = print(m, 0);
	if (ASSERT_OK_PTR(out, "metrics__print")) {
		ASSERT_EQ(count_lines(out, "kleak_site_outstanding_objects{"), METRICS_TOP_SITES,
			  "site series capped whatever --top");
		ASSERT_OK_PTR(strstr(out, "function=\"caller_30\""), "the largest kept");
		ASSERT_TRUE(!strstr(out, "function=\"caller_10\""), "the smallest left out");
	}
	free(out);
	out = print(m, 5);
	if (ASSERT_OK_PTR(out, "metrics__print top 5"))
		ASSERT_EQ(count_lines(out, "kleak_site_outstanding_objects{"), 5, "--top below the cap");
	free(out);
	/* the odd comm on its own: escaped, invalid byte replaced, valid UTF-8 kept */
	model__free(m);
	m = new_model();
	if (!ASSERT_OK_PTR(m, "model"))
		return;
	add_site(m, "kmalloc-8", 8, 1, "a\nb\\c\xff\xc3\xa9", task_stack, 4);
	out = print(m, 0);
	if (ASSERT_OK_PTR(out, "metrics__print"))
		ASSERT_OK_PTR(strstr(out, "{comm=\"a\\nb\\\\c?\xc3\xa9\"} 1\n"), "label escaping");
	free(out);
	model__free(m);
}

/*
 * A page, vmalloc or percpu site is labelled by the first frames past its
 * own allocator's, as a slab site is: pipe pages and vmalloc's pages are
 * apart, and a slab site keeps vmalloc's function that called kmalloc.
 */
void test_metrics_allocator_sites(void)
{
	static const char *const pipe_page[] = {
		"__alloc_frozen_pages_noprof+0x1d5", "alloc_pages_mpol+0x8a",
		"alloc_pages_noprof+0x12", "anon_pipe_write+0x1d0", "vfs_write+0x2a5",
	};
	static const char *const vmalloc_page[] = {
		"__alloc_frozen_pages_noprof+0x1d5", "alloc_pages_mpol+0x8a",
		"alloc_pages_noprof+0x12", "__vmalloc_node_range_noprof+0x3a5",
		"__bpf_map_area_alloc+0x48",
	};
	static const char *const area[] = {
		"alloc_vmap_area+0x2cf", "__get_vm_area_node+0x80",
		"__vmalloc_node_range_noprof+0x145", "__bpf_map_area_alloc+0x48",
		"array_map_alloc+0x1a0",
	};
	static const char *const vm_struct[] = {
		"__kmalloc_cache_node_noprof+0x215", "__get_vm_area_node+0x80",
		"__vmalloc_node_range_noprof+0x145",
	};
	static const char *const pcpu[] = {
		"pcpu_alloc_noprof+0x4b6", "bpf_map_alloc_percpu+0x5c", "array_map_alloc+0x1a0",
	};
	struct model *m = new_model();
	char *out;

	if (!ASSERT_OK_PTR(m, "model"))
		return;
	add_site(m, "pages/order-0", 4096, 3, "kwl", pipe_page, 5)->kind = KLEAK_SITE_PAGES;
	add_site(m, "pages/order-0", 4096, 2, "kwl", vmalloc_page, 5)->kind = KLEAK_SITE_PAGES;
	add_site(m, "vmalloc", 69632, 1, "kwl", area, 5)->kind = KLEAK_SITE_VMALLOC;
	add_site(m, "kmalloc-64", 64, 1, "kwl", vm_struct, 3);
	add_site(m, "percpu", 16, 4, "kwl", pcpu, 3)->kind = KLEAK_SITE_PERCPU;
	out = print(m, 10);
	if (ASSERT_OK_PTR(out, "metrics__print")) {
		ASSERT_OK_PTR(strstr(out, "{cache=\"pages/order-0\",function=\"anon_pipe_write\","
					  "caller=\"vfs_write\"} 3\n"), "pipe pages");
		ASSERT_OK_PTR(strstr(out, "{cache=\"pages/order-0\",function=\"__vmalloc_node_range\","
					  "caller=\"__bpf_map_area_alloc\"} 2\n"),
			      "vmalloc's pages, apart from the pipe's");
		ASSERT_OK_PTR(strstr(out, "{cache=\"vmalloc\",function=\"__bpf_map_area_alloc\","
					  "caller=\"array_map_alloc\"} 1\n"), "a vmap area");
		ASSERT_OK_PTR(strstr(out, "{cache=\"kmalloc-64\",function=\"__get_vm_area_node\","
					  "caller=\"__vmalloc_node_range\"} 1\n"),
			      "a slab site keeps vmalloc's frames");
		ASSERT_OK_PTR(strstr(out, "{cache=\"percpu\",function=\"bpf_map_alloc_percpu\","
					  "caller=\"array_map_alloc\"} 4\n"), "a percpu allocation");
	}
	free(out);
	model__free(m);
}
