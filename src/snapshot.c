// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * From BPF maps to the report model. The per-site totals come from the
 * kernel (exact even while allocations come and go); the allocation records
 * add what totals cannot: ages, comms and contexts. Both are read with batch
 * lookups: a get_next_key walk restarts when the kernel deletes the current
 * key and counts entries twice.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "allocators.h"
#include "log.h"
#include "slabcache.h"
#include "snapshot.h"
#include "ustack.h"

/* site_totals (65536 slots by default) in one or two syscalls */
#define BATCH 65536
/* distinct comms per site counted in a table; beyond it, sorting counts them */
#define COMM_TABLE 32

/* One outstanding allocation, reduced to what the report groups by. */
struct alloc_row {
	__u32 site;
	__u32 age_ms;
	char comm[KLEAK_COMM_LEN];
	/* which allocation: classify.c and --ustack=dwarf find it by them */
	__u64 addr;
	__u64 ts_ns;
	__u32 ustack;	/* --ustack=dwarf: its unwound stack (ustack__stack_of()), 0: none */
};

/* The rows a site of the model was filled from, for merge_equal_sites(). */
struct site_rows {
	struct alloc_row *rows;
	size_t n;
};

/* An age with its object's address, sorted together so classify.c can name each age's. */
struct age_addr {
	__u64 addr;
	__u32 age_ms;
};

struct hash_idx {
	__u64 hash;
	size_t idx;
};

static __u64 site_hash(const struct model_site *s);
static int cmp_hash_idx(const void *a, const void *b);


/*
 * Every slot of the site_totals array, in index order, into a malloc'd
 * array of t->max_sites; batches, not a lookup per slot.
 */
static int read_totals(const struct tracer *t, struct kleak_site_totals **out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 max = t->max_sites, n = 0, cnt, token = 0, *keys;
	struct kleak_site_totals *vals;
	int err = 0;

	keys = malloc((size_t)max * sizeof(*keys));
	vals = malloc((size_t)max * sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	while (n < max) {
		cnt = max - n < BATCH ? max - n : BATCH;
		err = bpf_map_lookup_batch(t->totals_fd, n ? &token : NULL, &token, keys + n,
					   vals + n, &cnt, &opts) ? -errno : 0;
		n += cnt;
		if (err)
			break;
	}
	/* -ENOENT: the batch reached the array's end */
	if (err == -ENOENT && n == max)
		err = 0;
out:
	free(keys);
	if (err) {
		free(vals);
		return err;
	}
	*out = vals;
	return 0;
}

static int cmp_row_comm(const void *a, const void *b)
{
	const struct alloc_row *x = a, *y = b;

	return strncmp(x->comm, y->comm, KLEAK_COMM_LEN);
}

static int cmp_age_desc(const void *a, const void *b)
{
	__u32 x = ((const struct age_addr *)a)->age_ms, y = ((const struct age_addr *)b)->age_ms;

	return x > y ? -1 : x < y;
}

/*
 * tp_btf and tracepoint programs see their own frames at the top of the
 * stack; fexit programs (vmalloc's functions) their trampoline too
 */
static bool is_tracer_frame(const char *sym)
{
	static const char *const prefixes[] = {
		"bpf_prog_", "bpf_trace_run", "__bpf_trace_", "__traceiter_", "perf_trace_",
		"trace_call_bpf",
		"perf_tp_event", "bpf_get_stack", "bpf_trampoline_",
	};
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(sym, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/*
 * The innermost entry frame decides: ORC unwinds from the irq stack through
 * the entry code into the interrupted task's stack.
 */
enum kleak_ctx snapshot__ctx(const struct model_site *s)
{
	static const struct {
		const char *prefix;
		enum kleak_ctx ctx;
	} entries[] = {
		{ "handle_softirqs+", KLEAK_CTX_SOFTIRQ },
		{ "__do_softirq+", KLEAK_CTX_SOFTIRQ },
		{ "exc_nmi+", KLEAK_CTX_NMI },
		{ "default_do_nmi+", KLEAK_CTX_NMI },
		{ "__sysvec_", KLEAK_CTX_HARDIRQ },
		{ "sysvec_", KLEAK_CTX_HARDIRQ },
		{ "common_interrupt+", KLEAK_CTX_HARDIRQ },
		{ "handle_irq_event+", KLEAK_CTX_HARDIRQ },
	};
	size_t i, j;

	for (i = 0; i < s->n_frames; i++) {
		if (!s->frames[i].sym)
			continue;
		for (j = 0; j < sizeof(entries) / sizeof(entries[0]); j++)
			if (!strncmp(s->frames[i].sym, entries[j].prefix, strlen(entries[j].prefix)))
				return entries[j].ctx;
	}
	return KLEAK_CTX_TASK;
}

int snapshot__symbolize(const struct tracer *t, const struct ksyms *ks, __u64 stack,
			struct model_site *s, __u64 *unresolved)
{
	__u64 *ips;
	char buf[256];
	bool top = true;
	__u32 i;
	int err = 0;

	ips = calloc(t->stack_depth, sizeof(*ips));
	if (!ips)
		return -ENOMEM;
	if (bpf_map_lookup_elem(t->stacks_fd, &stack, ips)) {
		/* the site was created while the stacks map was full */
		s->stack_err = -ENOMEM;
		goto out;
	}
	s->frames = calloc(t->stack_depth, sizeof(*s->frames));
	if (!s->frames) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < t->stack_depth && ips[i]; i++) {
		struct model_frame *f = &s->frames[s->n_frames];
		bool resolved = ks && !ksyms__format(ks, ips[i], buf, sizeof(buf));

		if (top && resolved && is_tracer_frame(buf))
			continue;
		top = false;
		f->addr = ips[i];
		if (resolved) {
			f->sym = strdup(buf);
			if (!f->sym) {
				err = -ENOMEM;
				goto out;
			}
		} else {
			(*unresolved)++;
		}
		s->n_frames++;
	}
out:
	free(ips);
	return err;
}

/* Keeps c among the MODEL_TOP_COMMS largest counts of s, largest first. */
static void rank_comm(struct model_site *s, const char *comm, __u64 count)
{
	size_t k;

	for (k = 0; k < MODEL_TOP_COMMS; k++) {
		if (k < s->n_comms && s->comms[k].count >= count)
			continue;
		if (s->n_comms < MODEL_TOP_COMMS)
			s->n_comms++;
		memmove(&s->comms[k + 1], &s->comms[k], (s->n_comms - k - 1) * sizeof(s->comms[0]));
		memcpy(s->comms[k].comm, comm, KLEAK_COMM_LEN);
		s->comms[k].count = count;
		return;
	}
}

/*
 * The top comms of one site. Sites rarely have more than a few: a small table
 * counts them in one pass, and only a site with more sorts its rows by comm.
 */
static void top_comms(struct model_site *s, struct alloc_row *rows, size_t n)
{
	struct model_comm seen[COMM_TABLE];
	size_t i, j, n_seen = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < n_seen; j++)
			if (!strncmp(seen[j].comm, rows[i].comm, KLEAK_COMM_LEN))
				break;
		if (j == COMM_TABLE)
			goto sort;
		if (j == n_seen) {
			memcpy(seen[j].comm, rows[i].comm, KLEAK_COMM_LEN);
			seen[j].count = 0;
			n_seen++;
		}
		seen[j].count++;
	}
	for (j = 0; j < n_seen; j++)
		rank_comm(s, seen[j].comm, seen[j].count);
	return;
sort:
	qsort(rows, n, sizeof(*rows), cmp_row_comm);
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && !strncmp(rows[j].comm, rows[i].comm, KLEAK_COMM_LEN); j++)
			;
		rank_comm(s, rows[i].comm, j - i);
	}
}

/* Ages and top comms of one site from its allocation rows. */
static int fill_from_rows(struct model_site *s, struct alloc_row *rows, size_t n)
{
	struct age_addr *pairs;
	size_t i;

	s->ages_ms = malloc((n ? n : 1) * sizeof(*s->ages_ms));
	s->addrs = malloc((n ? n : 1) * sizeof(*s->addrs));
	pairs = malloc((n ? n : 1) * sizeof(*pairs));
	if (!s->ages_ms || !s->addrs || !pairs) {
		free(pairs);
		return -ENOMEM;
	}
	s->n_ages = n;
	top_comms(s, rows, n);
	for (i = 0; i < n; i++) {
		pairs[i].age_ms = rows[i].age_ms;
		pairs[i].addr = rows[i].addr;
	}
	qsort(pairs, n, sizeof(*pairs), cmp_age_desc);
	for (i = 0; i < n; i++) {
		s->ages_ms[i] = pairs[i].age_ms;
		s->addrs[i] = pairs[i].addr;
	}
	free(pairs);
	return 0;
}

/*
 * Groups rows by site with a counting sort: site indices are dense, and a
 * comparison sort of a million rows cost a quarter of a report's time.
 * *first[i] is where site i's rows start in the returned array.
 */
static struct alloc_row *group_by_site(const struct alloc_row *rows, size_t n, size_t n_slots,
				       size_t **first)
{
	struct alloc_row *out = malloc((n ? n : 1) * sizeof(*out));
	size_t *start = calloc(n_slots + 1, sizeof(*start)), i, *next;

	next = calloc(n_slots + 1, sizeof(*next));
	if (!out || !start || !next) {
		free(out);
		free(start);
		free(next);
		return NULL;
	}
	for (i = 0; i < n; i++)
		start[rows[i].site + 1]++;
	for (i = 0; i < n_slots; i++)
		start[i + 1] += start[i];
	memcpy(next, start, (n_slots + 1) * sizeof(*next));
	for (i = 0; i < n; i++)
		out[next[rows[i].site]++] = rows[i];
	free(next);
	*first = start;
	return out;
}

static void site_identity(struct model_site *s, const struct kleak_site_totals *t)
{
	s->kind = t->site.kind;
	s->stack_err = t->site.stack_err;
	s->obj_size = t->obj_size;
	s->count = t->count;
	s->bytes = t->count * (__s64)t->obj_size;
	s->allocs = t->allocs;
	s->retired = t->retired;
	s->retired_bytes = t->retired * t->obj_size;
	if (allocators__site_name(t->site.kind, t->site.cache, s->cache, sizeof(s->cache)))
		return;
	switch (t->site.kind) {
	case KLEAK_SITE_KMALLOC:
		slabcache__kmalloc_name(s->obj_size, s->cache, sizeof(s->cache));
		break;
	case KLEAK_SITE_CACHE_UNNAMED:
		snprintf(s->cache, sizeof(s->cache), "(cache of %llu)",
			 (unsigned long long)s->obj_size);
		break;
	default:
		memcpy(s->cache, t->cache_name, sizeof(s->cache));
		s->cache[sizeof(s->cache) - 1] = '\0';
	}
}

int snapshot__read_stats(const struct tracer *t, __u64 stats[STAT_MAX])
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct kleak_stats *per_cpu;
	__u32 slot;

	if (ncpu < 0)
		return ncpu;
	per_cpu = calloc(ncpu, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	memset(stats, 0, STAT_MAX * sizeof(stats[0]));
	for (slot = 0; slot < KLEAK_STATS_SLOTS; slot++) {
		if (bpf_map_lookup_elem(t->stats_fd, &slot, per_cpu)) {
			free(per_cpu);
			return -errno;
		}
		for (i = 0; i < ncpu; i++)
			model__add_slot_stats(stats, slot, per_cpu[i].counters);
	}
	free(per_cpu);
	return 0;
}

/*
 * The books' slack (see struct model): records made or ended between the
 * counters read before the totals (m->stats) and after them (again).
 */
static __u64 books_slack(const __u64 *before, const __u64 *again)
{
	static const int moves[] = { STAT_ALLOCS, STAT_FREES, STAT_REALLOC_RETIRED };
	__u64 n = 0;
	size_t i;

	for (i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		n += again[moves[i]] - before[moves[i]];
	return n;
}

/* Appends a's row to *rows (*n of *cap); 0 or -ENOMEM, rows freed. */
static int add_row(struct alloc_row **rows, size_t *n, size_t *cap, __u64 addr,
		   const struct kleak_alloc *a, __u64 now)
{
	struct alloc_row *grown;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4096;
		grown = realloc(*rows, *cap * sizeof(**rows));
		if (!grown) {
			free(*rows);
			*rows = NULL;
			return -ENOMEM;
		}
		*rows = grown;
	}
	(*rows)[*n].site = a->site;
	(*rows)[*n].addr = addr;
	(*rows)[*n].age_ms = now > a->ts_ns ? (now - a->ts_ns) / 1000000 : 0;
	memcpy((*rows)[*n].comm, a->comm, KLEAK_COMM_LEN);
	(*rows)[*n].ts_ns = a->ts_ns;
	(*rows)[*n].ustack = 0;
	(*n)++;
	return 0;
}

/*
 * The outstanding allocations, read in place from the mapped buckets while
 * the programs change them: a slot holds a record when its address is in
 * (written after the record) and its site is not KLEAK_NO_SITE (set first
 * when it is freed). A slot freed and taken again while it is copied shows
 * one allocation's age or comm wrongly once; counts come from the totals,
 * never from here.
 */
static int read_buckets(const struct tracer *t, size_t n_slots, __u64 now,
			struct alloc_row **rows, size_t *n)
{
	const volatile struct kleak_bucket *b;
	size_t cap = 0, i, j;
	struct kleak_alloc a;

	for (i = 0; i < t->alloc_buckets; i++) {
		b = &t->buckets[i];
		for (j = 0; j < KLEAK_BUCKET_SLOTS; j++) {
			__u64 addr = b->addr[j];

			if (addr == 0 || addr == KLEAK_ADDR_CLAIMED)
				continue;
			memcpy(&a, (const void *)&b->rec[j], sizeof(a));
			if (a.site < n_slots && add_row(rows, n, &cap, addr, &a, now))
				return -ENOMEM;
		}
	}
	return 0;
}

/*
 * The compat set's hash store, in batches; a kernel without batch lookups
 * for hash maps gets a key walk, which may see a record twice or miss one
 * deleted under it (ages and comms only: counts come from the totals).
 */
static int read_hash(const struct tracer *t, size_t n_slots, __u64 now, struct alloc_row **rows,
		     size_t *n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct kleak_alloc *vals = calloc(BATCH, sizeof(*vals));
	__u64 *keys = calloc(BATCH, sizeof(*keys)), in = 0, out, key, next;
	size_t cap = 0, i;
	bool first = true, walk = false;
	__u32 cnt;
	int err = 0;

	if (!vals || !keys) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		cnt = BATCH;
		err = bpf_map_lookup_batch(t->allocs_hash_fd, first ? NULL : &in, &out, keys, vals,
					   &cnt, &opts);
		if (err)
			err = -errno;
		if (err && err != -ENOENT) {
			walk = first && (err == -EINVAL || err == -ENOTSUP || err == -EOPNOTSUPP);
			break;
		}
		for (i = 0; i < cnt; i++)
			if (vals[i].site < n_slots &&
			    add_row(rows, n, &cap, keys[i], &vals[i], now)) {
				err = -ENOMEM;
				goto out;
			}
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		in = out;
		first = false;
	}
	if (!walk)
		goto out;
	err = 0;
	for (key = 0; !bpf_map_get_next_key(t->allocs_hash_fd, first ? NULL : &key, &next);
	     key = next, first = false) {
		if (bpf_map_lookup_elem(t->allocs_hash_fd, &next, vals))
			continue;
		if (vals->site < n_slots && add_row(rows, n, &cap, next, vals, now)) {
			err = -ENOMEM;
			break;
		}
	}
out:
	if (err && err != -ENOMEM)
		pr_err("failed to read the allocs_hash map: %s", strerror(-err));
	free(keys);
	free(vals);
	return err;
}

static int read_allocs(const struct tracer *t, size_t n_slots, __u64 now, struct alloc_row **out,
		       size_t *n)
{
	*out = NULL;
	*n = 0;
	if (t->allocs_hash_fd >= 0)
		return read_hash(t, n_slots, now, out, n);
	return read_buckets(t, n_slots, now, out, n);
}

/*
 * A snapshot's rows are tens of MB at a million allocations, freed at once.
 * glibc serves such blocks with mmap() until the first is freed, then raises
 * its threshold to that size, so that every later interval's rows land in
 * the heap between the kept model's blocks: RSS grew by 25 MB over 90
 * intervals of 1,000,000 allocations (tools/bench/report1m.c). A fixed
 * threshold keeps them mmap()ed and given back each time.
 */
static void keep_big_blocks_mapped(void)
{
	static bool done;

	if (!done)
		mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	done = true;
}

static int cmp_row_ustack(const void *a, const void *b)
{
	const struct alloc_row *x = a, *y = b;

	return x->ustack < y->ustack ? -1 : x->ustack > y->ustack;
}

/* A site of its own for each user stack among site si's rows: its identity and kernel frames. */
static struct model_site *add_split(struct model *m, size_t si)
{
	struct model_site *g = model__add_site(m), *s = &m->sites[si];
	size_t i;

	if (!g)
		return NULL;
	g->kind = s->kind;
	memcpy(g->cache, s->cache, sizeof(g->cache));
	g->obj_size = s->obj_size;
	g->stack_err = s->stack_err;
	g->frames = calloc(s->n_frames ? s->n_frames : 1, sizeof(*g->frames));
	if (!g->frames)
		return NULL;
	for (i = 0; i < s->n_frames; i++, g->n_frames++) {
		g->frames[i].addr = s->frames[i].addr;
		if (s->frames[i].sym && !(g->frames[i].sym = strdup(s->frames[i].sym)))
			return NULL;
	}
	return g;
}

/* Notes that site idx of the model was filled from rows[0..n); 0 or -ENOMEM. */
static int note_rows(struct site_rows **spans, size_t *cap, size_t idx, struct alloc_row *rows,
		     size_t n)
{
	struct site_rows *grown;

	if (idx >= *cap) {
		grown = realloc(*spans, (idx + 64) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		*spans = grown;
		*cap = idx + 64;
	}
	(*spans)[idx].rows = rows;
	(*spans)[idx].n = n;
	return 0;
}

static bool str_equal(const char *a, const char *b)
{
	return a ? b && !strcmp(a, b) : !b;
}

/* Whether two sites show the same: cache, kernel frames, user frames. */
static bool sites_shown_equal(const struct model_site *a, const struct model_site *b)
{
	size_t i;

	if (a->kind != b->kind || strcmp(a->cache, b->cache) || a->obj_size != b->obj_size ||
	    a->stack_err != b->stack_err || a->ustate != b->ustate ||
	    a->n_frames != b->n_frames || a->n_uframes != b->n_uframes)
		return false;
	for (i = 0; i < a->n_frames; i++)
		if (a->frames[i].addr != b->frames[i].addr)
			return false;
	for (i = 0; i < a->n_uframes; i++) {
		const struct model_uframe *x = &a->uframes[i], *y = &b->uframes[i];

		if (x->offset != y->offset || x->replaced != y->replaced ||
		    strcmp(x->build_id, y->build_id) || !str_equal(x->sym, y->sym) ||
		    !str_equal(x->module, y->module) || !str_equal(x->srcline, y->srcline))
			return false;
	}
	return true;
}

/* Adds site b's totals to a's; their rows are merged by the caller. */
static void add_totals(struct model_site *a, const struct model_site *b)
{
	size_t k;

	a->count += b->count;
	a->bytes += b->bytes;
	a->allocs += b->allocs;
	a->retired += b->retired;
	a->retired_bytes += b->retired_bytes;
	for (k = 0; k < KLEAK_CTX_MAX; k++)
		a->ctx[k] += b->ctx[k];
}

/*
 * Sites that show the same are one. The kernel names a site by a hash of its
 * whole stack, and two stacks can print alike: the BPF program's own
 * frames, which a report leaves out, differ with the place in the program
 * that captured the stack (stack_get() calls stack_capture() from two, and
 * one stack takes either as randomize_kstack_offset moves its context); and
 * a user frame the kernel gave as a raw address resolves to another
 * stack's build ID and offset.
 */
static int merge_equal_sites(struct model *m, const struct site_rows *spans)
{
	struct hash_idx *idx = calloc(m->n_sites ? m->n_sites : 1, sizeof(*idx));
	bool *drop = calloc(m->n_sites ? m->n_sites : 1, sizeof(*drop));
	struct alloc_row *rows = NULL;
	size_t i, j, k, n;
	int err = 0;

	if (!idx || !drop) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < m->n_sites; i++) {
		idx[i].hash = site_hash(&m->sites[i]);
		idx[i].idx = i;
	}
	qsort(idx, m->n_sites, sizeof(*idx), cmp_hash_idx);
	for (i = 0; i < m->n_sites && !err; i = j) {
		for (j = i + 1; j < m->n_sites && idx[j].hash == idx[i].hash; j++)
			;
		/* the first of each run of equal sites takes the others' rows and totals */
		for (k = i; k < j && !err; k++) {
			struct model_site *a = &m->sites[idx[k].idx];
			size_t l;

			if (drop[idx[k].idx])
				continue;
			n = spans[idx[k].idx].n;
			for (l = k + 1; l < j; l++)
				if (!drop[idx[l].idx] &&
				    sites_shown_equal(a, &m->sites[idx[l].idx]))
					n += spans[idx[l].idx].n;
			if (n == spans[idx[k].idx].n)
				continue;
			free(rows);
			rows = malloc(n * sizeof(*rows));
			if (!rows) {
				err = -ENOMEM;
				break;
			}
			memcpy(rows, spans[idx[k].idx].rows, spans[idx[k].idx].n * sizeof(*rows));
			n = spans[idx[k].idx].n;
			for (l = k + 1; l < j; l++) {
				const struct model_site *b = &m->sites[idx[l].idx];

				if (drop[idx[l].idx] || !sites_shown_equal(a, b))
					continue;
				memcpy(rows + n, spans[idx[l].idx].rows,
				       spans[idx[l].idx].n * sizeof(*rows));
				n += spans[idx[l].idx].n;
				add_totals(a, b);
				drop[idx[l].idx] = true;
			}
			free(a->ages_ms);
			free(a->addrs);
			a->n_comms = 0;
			err = fill_from_rows(a, rows, n);
		}
	}
	if (!err)
		model__drop_marked(m, drop);
out:
	free(rows);
	free(idx);
	free(drop);
	return err;
}

/*
 * --ustack=dwarf: the kernel keeps one site per kernel stack and cache, and
 * userspace unwound each allocation's user stack; the site becomes one per
 * user stack, each with the outstanding allocations that have it (the
 * kernel's allocated and retired totals cannot be split: a split site's
 * allocated count is its outstanding one). Allocations without a sample
 * (lost, or not yet read) stay in a site of their own, said so.
 */
static int split_sampled(struct ustack *us, struct model *m, size_t si, struct alloc_row *rows,
			 size_t n, struct site_rows **spans, size_t *cap)
{
	size_t i, j;
	int err;

	/* no record read: the kernel's totals stand, without a user stack */
	if (!n)
		return 0;
	for (i = 0; i < n; i++) {
		rows[i].ustack = ustack__stack_of(us, rows[i].addr, rows[i].ts_ns);
		m->stats[STAT_USTACK_NO_SAMPLE] += !rows[i].ustack;
	}
	qsort(rows, n, sizeof(*rows), cmp_row_ustack);
	free(m->sites[si].ages_ms);
	free(m->sites[si].addrs);
	m->sites[si].ages_ms = NULL;
	m->sites[si].addrs = NULL;
	m->sites[si].n_comms = 0;
	for (i = 0; i < n; i = j) {
		struct model_site *g = i ? add_split(m, si) : &m->sites[si];

		for (j = i; j < n && rows[j].ustack == rows[i].ustack; j++)
			;
		if (!g)
			return -ENOMEM;
		g->count = j - i;
		g->bytes = g->count * (__s64)g->obj_size;
		g->allocs = g->count;
		if (i) {
			g->retired = 0;
			g->retired_bytes = 0;
		}
		g->ustate = rows[i].ustack ? KLEAK_USTACK_OK : KLEAK_USTACK_SAMPLED;
		err = note_rows(spans, cap, g - m->sites, rows + i, j - i);
		if (!err)
			err = fill_from_rows(g, rows + i, j - i);
		if (!err && rows[i].ustack)
			err = ustack__fill_sampled(us, rows[i].ustack, g, m->stats);
		if (err)
			return err;
		if (i && !g->stack_err)
			g->ctx[snapshot__ctx(g)] = g->n_ages;
	}
	return 0;
}

int snapshot__take(const struct tracer *t, const struct ksyms *ks, struct model *m)
{
	struct kleak_site_totals *totals = NULL;
	struct alloc_row *rows = NULL, *grouped = NULL;
	struct site_rows *spans = NULL;
	size_t n_allocs = 0, n_slots = t->max_sites, i, *first = NULL, cap_spans = 0;
	__u64 again[STAT_MAX];
	__u64 now;
	int err;

	keep_big_blocks_mapped();
	err = snapshot__read_stats(t, m->stats);
	if (err) {
		pr_err("failed to read the stats map: %s", strerror(-err));
		return err;
	}
	m->recursion_misses = tracer__recursion_misses(t);
	/* totals first: a record read later may name a site created since, never the reverse */
	err = read_totals(t, &totals);
	if (err) {
		pr_err("failed to read the site_totals map: %s", strerror(-err));
		goto out;
	}
	err = snapshot__read_stats(t, again);
	if (err) {
		pr_err("failed to read the stats map: %s", strerror(-err));
		goto out;
	}
	m->books_slack = books_slack(m->stats, again);
	m->outstanding = 0;
	for (i = 0; i < n_slots; i++) {
		enum kleak_allocator a = kleak_allocator_of(totals[i].site.kind);

		m->outstanding += totals[i].count;
		if (a != KLEAK_ALLOC_SLAB)
			m->stats[KLEAK_STAT_OF(a, STAT_PAGES_OUTSTANDING)] += totals[i].count;
	}
	m->books_kept = true;
	m->allocator_books_kept = true;
	now = tracer__now_ns();

	err = read_allocs(t, n_slots, now, &rows, &n_allocs);
	if (!err && t->ustack)
		err = ustack__prepare_report(t->ustack);
	if (err)
		goto out;
	grouped = group_by_site(rows, n_allocs, n_slots, &first);
	if (!grouped) {
		err = -ENOMEM;
		goto out;
	}

	for (i = 0; i < n_slots; i++) {
		const struct kleak_site_totals *tot = &totals[i];
		size_t n_rows = first[i + 1] - first[i];
		struct model_site *s;

		m->sites_used += tot->allocs > 0;
		if (!tot->count && !tot->retired && !n_rows)
			continue;
		s = model__add_site(m);
		if (!s) {
			err = -ENOMEM;
			goto out;
		}
		site_identity(s, tot);
		err = note_rows(&spans, &cap_spans, m->n_sites - 1, grouped + first[i], n_rows);
		if (!err)
			err = fill_from_rows(s, grouped + first[i], n_rows);
		if (!err && !tot->site.stack_err)
			err = snapshot__symbolize(t, ks, tot->site.stack, s, &m->unresolved_frames);
		s->ustate = tot->site.ustate;
		if (!err && t->ustack && s->ustate == KLEAK_USTACK_OK)
			err = ustack__fill(t->ustack, tot->site.ustack, s, m->stats);
		if (!err && t->ustack && s->ustate == KLEAK_USTACK_SAMPLED)
			err = split_sampled(t->ustack, m, m->n_sites - 1, grouped + first[i], n_rows,
					    &spans, &cap_spans);
		if (err)
			goto out;
		s = &m->sites[m->n_sites - 1];
		if (!s->stack_err)
			s->ctx[snapshot__ctx(s)] = s->n_ages;
	}
	err = merge_equal_sites(m, spans);
	if (err)
		goto out;
	if (t->ustack) {
		m->stats[STAT_USTACK_MAPS_MISSED] = ustack__maps_missed(t->ustack);
		m->stats[STAT_USTACK_UNWIND_FAILED] = ustack__unwind_failed(t->ustack);
		/* fp mode's are counted in BPF, dwarf mode's where they are unwound */
		m->stats[STAT_USTACK_TRUNCATED] += ustack__truncated(t->ustack);
		ustack__forget_unseen(t->ustack, now);
	}
out:
	if (err == -ENOMEM)
		pr_err("out of memory reading %zu allocations", n_allocs);
	free(totals);
	free(rows);
	free(grouped);
	free(first);
	free(spans);
	return err;
}

/* snapshot__still_recorded(), of the records made at ts_ns[i] only where ts_ns is given */
static int still_recorded(const struct tracer *t, const __u64 *addrs, const __u64 *ts_ns,
			  size_t n, bool *recorded)
{
	size_t cap = 16, mask, i, j, k;
	struct kleak_alloc a;
	__u32 *slots;

	memset(recorded, 0, n * sizeof(*recorded));
	if (t->allocs_hash_fd >= 0) {
		for (i = 0; i < n; i++)
			recorded[i] = !bpf_map_lookup_elem(t->allocs_hash_fd, &addrs[i], &a) &&
				      a.site != KLEAK_NO_SITE && (!ts_ns || a.ts_ns == ts_ns[i]);
		return 0;
	}
	/* one pass over every slot, each address looked up in a table of the candidates */
	while (cap < n * 2)
		cap *= 2;
	mask = cap - 1;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		for (k = (addrs[i] * 0x9e3779b97f4a7c15ULL) >> 24 & mask; slots[k]; k = (k + 1) & mask)
			;
		slots[k] = i + 1;
	}
	for (i = 0; n && i < t->alloc_buckets; i++) {
		const volatile struct kleak_bucket *b = &t->buckets[i];

		for (j = 0; j < KLEAK_BUCKET_SLOTS; j++) {
			__u64 addr = b->addr[j];

			if (addr == 0 || addr == KLEAK_ADDR_CLAIMED || b->rec[j].site == KLEAK_NO_SITE)
				continue;
			for (k = (addr * 0x9e3779b97f4a7c15ULL) >> 24 & mask; slots[k];
			     k = (k + 1) & mask)
				if (addrs[slots[k] - 1] == addr &&
				    (!ts_ns || b->rec[j].ts_ns == ts_ns[slots[k] - 1]))
					recorded[slots[k] - 1] = true;
		}
	}
	free(slots);
	return 0;
}

int snapshot__still_recorded(const struct tracer *t, const __u64 *addrs, size_t n,
			    bool *recorded)
{
	return still_recorded(t, addrs, NULL, n, recorded);
}

int snapshot__records_live(const struct tracer *t, const __u64 *addrs, const __u64 *ts_ns,
			   size_t n, bool *live)
{
	return still_recorded(t, addrs, ts_ns, n, live);
}

static __u64 fnv1a(__u64 h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* What identifies a site within one run: stack ids are not in the model. */
static __u64 site_hash(const struct model_site *s)
{
	__u64 h = 0xcbf29ce484222325ULL;
	size_t i;

	h = fnv1a(h, &s->kind, sizeof(s->kind));
	h = fnv1a(h, s->cache, strnlen(s->cache, sizeof(s->cache)));
	h = fnv1a(h, &s->stack_err, sizeof(s->stack_err));
	for (i = 0; i < s->n_frames; i++)
		h = fnv1a(h, &s->frames[i].addr, sizeof(s->frames[i].addr));
	h = fnv1a(h, &s->ustate, sizeof(s->ustate));
	for (i = 0; i < s->n_uframes; i++) {
		h = fnv1a(h, s->uframes[i].build_id, strlen(s->uframes[i].build_id));
		h = fnv1a(h, &s->uframes[i].offset, sizeof(s->uframes[i].offset));
	}
	return h;
}

static int cmp_hash_idx(const void *a, const void *b)
{
	const struct hash_idx *x = a, *y = b;

	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

int snapshot__carry_trend(const struct model *prev, struct model *m, bool append)
{
	size_t n_prev = prev ? prev->n_sites : 0, n_int, i;
	struct hash_idx *idx, key, *hit;

	/* every site of prev has the same trend length: the intervals so far */
	n_int = n_prev ? prev->sites[0].n_trend : 0;
	idx = calloc(n_prev ? n_prev : 1, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (i = 0; i < n_prev; i++) {
		idx[i].hash = site_hash(&prev->sites[i]);
		idx[i].idx = i;
	}
	qsort(idx, n_prev, sizeof(*idx), cmp_hash_idx);
	for (i = 0; i < m->n_sites; i++) {
		struct model_site *s = &m->sites[i];

		s->trend = calloc(n_int + 1, sizeof(*s->trend));
		if (!s->trend) {
			free(idx);
			return -ENOMEM;
		}
		key.hash = site_hash(s);
		hit = bsearch(&key, idx, n_prev, sizeof(*idx), cmp_hash_idx);
		if (hit)
			memcpy(s->trend, prev->sites[hit->idx].trend,
			       prev->sites[hit->idx].n_trend * sizeof(*s->trend));
		s->n_trend = n_int;
		if (append)
			s->trend[s->n_trend++] = s->count;
	}
	free(idx);
	return 0;
}
