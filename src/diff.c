// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Two runs compared site by site and cache by cache; see diff.h for what is
 * matched. Prepare once (filter, key, group, match across kernels, sort,
 * cut), then print text or JSON from the same rows.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "allocators.h"
#include "diff.h"
#include "held.h"
#include "json.h"
#include "log.h"
#include "report.h"

#define NO_STACK "[stack not captured]"
#define NO_STACK_FMT "[stack not captured: %s]"
#define UNRESOLVED "?"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Outstanding count and bytes of each run, and whether the run has any site
 * here; per class, for the exports, and whether a site of the run here was
 * not classified.
 */
struct totals {
	bool seen[2];
	__s64 count[2];
	__s64 bytes[2];
	bool unclassified[2];
	__s64 held[2][HELD_MAX];
};

/* One site of one run, as compared. */
struct dsite {
	const char *cache;
	enum kleak_allocator allocator;
	int run;		/* 0 for A, 1 for B */
	size_t index;		/* in its run's model: ties sort in the run's order */
	__s64 count;
	__s64 bytes;
	bool classified;
	__s64 held[HELD_MAX];	/* of count, per class (scaled); count may hold more */
	size_t n_shown;
	char **shown;		/* its frames as printed: "func [mod]", "?" */
	size_t n_keys;
	char **keys;		/* diff__frame_key() of the frames, the allocator's once */
	size_t *first;		/* shown[first[k]] .. shown[first[k + 1] - 1] have keys[k] */
	__u32 *ids;		/* keys interned: equal ids, equal keys; ordered as keys */
};

/* The sites of both runs with one key: a cache and a sequence of frame keys. */
struct dstack {
	const struct dsite *key;
	const struct dsite *rep[2];	/* per run, its site holding the most bytes */
	struct totals t;
	const char *syscall;		/* see syscall_of() */
	size_t root;			/* union-find: stacks matched across kernels */
};

/* A frame as shown: its name in A and in B, NULL where that run lacks it. */
struct dline {
	const char *name[2];
	const struct dsite *site[2];	/* whose frame it is, per run */
	size_t shown[2];		/* its index in that site's shown[] */
};

/* A row of the site table: one stack, or stacks matched across kernels. */
struct drow {
	const struct dsite *rep[2];	/* the frames shown for each run */
	__s64 rep_bytes[2];
	size_t n_stacks[2];		/* stacks of each run compared in this row */
	size_t n_members;		/* stacks in the row: 1 unless matched across kernels */
	struct totals t;
	size_t n_lines;
	struct dline *lines;
	bool lines_differ;		/* the two runs show other frames */
};

struct dcache {
	const char *cache;
	enum kleak_allocator allocator;
	struct totals t;
};

struct diff_data {
	size_t n_sites;
	struct dsite *sites;
	size_t n_ids;		/* distinct frame keys */
	size_t n_stacks;
	struct dstack *stacks;
	size_t n_rows;
	struct drow *rows;
	size_t n_rows_total;	/* before --min-delta and --top */
	size_t n_caches;
	struct dcache *caches;
	struct totals total;
	size_t younger[2];	/* sites --older left out: all their allocations younger */
	size_t excluded[2];	/* sites --exclude left out, of those the filters kept */
	/*
	 * Sites of an allocator only one run traced, left out: the other
	 * could not have held them, so they are no change (per run and allocator)
	 */
	size_t untraced[2][KLEAK_ALLOC_MAX];
	bool kernels_differ;
	char *not_seen[2];	/* report__print_not_seen() of each run */
};

/* ---- frames ---- */

/*
 * The page allocator's, vmalloc's and percpu's own frames, 5.10 to 6.18,
 * without "_noprof": their events fire inside them, so the first frame
 * that names the allocation's user comes after them, as after slab's. Only
 * in a site of that allocator: in a slab site, __get_vm_area_node is the
 * caller that names the object (vmalloc's own bookkeeping).
 */
static const char *const own_frames[KLEAK_ALLOC_MAX][24] = {
	[KLEAK_ALLOC_PAGES] = {
		"__alloc_frozen_pages", "alloc_frozen_pages", "__alloc_pages",
		"__alloc_pages_nodemask", "alloc_pages", "alloc_pages_mpol", "alloc_pages_vma",
		"alloc_pages_current", "alloc_pages_bulk", "__alloc_pages_bulk",
		"alloc_pages_bulk_array_mempolicy", "folio_alloc", "__folio_alloc",
		"folio_alloc_mpol", "vma_alloc_folio", "get_free_pages", "__get_free_pages",
		"get_zeroed_page", "alloc_pages_exact", "alloc_pages_exact_nid",
	},
	[KLEAK_ALLOC_VMALLOC] = {
		"alloc_vmap_area", "__get_vm_area_node", "__get_vm_area_caller",
		"get_vm_area_caller", "get_vm_area", "__vmalloc_node_range", "__vmalloc_node",
		"__vmalloc", "vmalloc", "vzalloc", "vmalloc_node", "vzalloc_node", "vmalloc_user",
		"vmalloc_32", "vmap", "vm_map_ram",
	},
	[KLEAK_ALLOC_PERCPU] = {
		"pcpu_alloc", "__alloc_percpu", "__alloc_percpu_gfp", "__alloc_reserved_percpu",
	},
};

/*
 * Whether name[0..len) is an entry point of the slab allocator or, in a
 * site of another allocator, of that one (own_frames). For slab: the
 * family name after any leading underscores, then only qualifiers. Which
 * of these a stack shows for one allocation depends on the kernel version
 * and on whether the size is a constant (one kmalloc() call is
 * kmem_cache_alloc_trace on 5.x, kmalloc_trace on 6.1,
 * __kmalloc_cache_noprof on 6.18), so they are one frame; the cache is part
 * of the key anyway.
 */
static bool is_allocator(const char *name, size_t len, enum kleak_allocator a)
{
	static const char *const families[] = {
		"kmem_cache_alloc", "kmalloc", "kvmalloc", "kvrealloc", "krealloc",
	};
	static const char *const qualifiers[] = {
		"_node", "_notrace", "_trace", "_track_caller", "_cache", "_large", "_lru",
		"_from_sheaf", "_bulk", "_array", "_align",
	};
	const char *p = name, *end = name + len;
	size_t i, n = 0;

	for (i = 0; a < KLEAK_ALLOC_MAX && i < ARRAY_LEN(own_frames[a]) && own_frames[a][i]; i++)
		if (strlen(own_frames[a][i]) == len && !strncmp(name, own_frames[a][i], len))
			return true;
	while (p < end && *p == '_')
		p++;
	for (i = 0; i < ARRAY_LEN(families); i++) {
		n = strlen(families[i]);
		if ((size_t)(end - p) >= n && !strncmp(p, families[i], n))
			break;
	}
	if (i == ARRAY_LEN(families))
		return false;
	for (p += n; p < end; p += n) {
		for (i = 0; i < ARRAY_LEN(qualifiers); i++) {
			n = strlen(qualifiers[i]);
			if ((size_t)(end - p) >= n && !strncmp(p, qualifiers[i], n))
				break;
		}
		if (i == ARRAY_LEN(qualifiers))
			return false;
	}
	return true;
}

char *diff__frame_key(const char *sym, enum kleak_allocator a)
{
	static const char noprof[] = "_noprof";
	const char *mod;
	size_t len;
	char *s;

	if (!sym)
		return strdup(UNRESOLVED);
	/*
	 * The name ends at the offset, the module tag or a '.': C names have
	 * none, so ".isra.0", ".constprop.0", ".part.0", ".cold" are the
	 * compiler's, and its choice of clones differs between builds.
	 */
	len = strcspn(sym, "+ .");
	/* 6.10's allocation profiling renamed the allocation API foo to foo_noprof */
	if (len > sizeof(noprof) - 1 && !strncmp(sym + len - (sizeof(noprof) - 1), noprof,
						  sizeof(noprof) - 1))
		len -= sizeof(noprof) - 1;
	mod = strstr(sym, " [");
	if (!mod && is_allocator(sym, len, a))
		return strdup(DIFF_ALLOCATOR);
	s = malloc(len + (mod ? strlen(mod) : 0) + 1);
	if (!s)
		return NULL;
	memcpy(s, sym, len);
	strcpy(s + len, mod ? mod : "");
	return s;
}

/* "func+0x1a/0x80 [mod]" -> "func [mod]"; NULL (unresolved) -> "?". */
static char *strip_offset(const char *sym)
{
	const char *plus, *rest;
	char *s;

	if (!sym)
		return strdup(UNRESOLVED);
	plus = strchr(sym, '+');
	if (!plus)
		return strdup(sym);
	rest = strchr(plus, ' ');
	if (!rest)
		rest = plus + strlen(plus);
	s = malloc((plus - sym) + strlen(rest) + 1);
	if (!s)
		return NULL;
	memcpy(s, sym, plus - sym);
	strcpy(s + (plus - sym), rest);
	return s;
}

/*
 * A user frame as shown and as matched: its function, offset cut at the last
 * '+' (C++ names hold '.', ' ' and '+' of their own), and its binary's file
 * name, the same in two runs from other paths or machines; fmt puts them
 * together ("%s%.*s (%s)": prefix, function, binary).
 */
static char *user_frame_fmt(const struct model_uframe *f, const char *prefix, const char *fmt)
{
	const char *mod = f->module ? strrchr(f->module, '/') : NULL;
	const char *plus = f->sym ? strrchr(f->sym, '+') : NULL;
	int len = f->sym ? (plus ? (int)(plus - f->sym) : (int)strlen(f->sym)) : 1;
	char *s;

	mod = mod ? mod + 1 : f->module ? f->module : "?";
	if (asprintf(&s, fmt, prefix, len, f->sym ? f->sym : UNRESOLVED, mod) < 0)
		return NULL;
	return s;
}

static char *user_frame_str(const struct model_uframe *f, const char *prefix)
{
	return user_frame_fmt(f, prefix, "%s%.*s (%s)");
}

char *diff__user_frame_name(const struct model_uframe *f)
{
	return user_frame_fmt(f, "", "%s%.*s [%s]");
}

/* Appends the site's user frames (--ustack) to its shown frames and keys, one key each. */
static int site_init_user(struct dsite *d, const struct model_site *s)
{
	size_t i;

	for (i = 0; i < s->n_uframes; i++) {
		char *shown = user_frame_str(&s->uframes[i], "");
		char *key = user_frame_str(&s->uframes[i], "user:");

		if (!shown || !key) {
			free(shown);
			free(key);
			return -ENOMEM;
		}
		d->shown[d->n_shown++] = shown;
		d->first[d->n_keys] = d->n_shown - 1;
		d->keys[d->n_keys++] = key;
	}
	d->first[d->n_keys] = d->n_shown;
	return 0;
}

/* ---- sites ---- */

static bool site_excluded(const struct model_site *s, const regex_t *re)
{
	size_t i;

	for (i = 0; i < s->n_frames; i++)
		if (s->frames[i].sym && !regexec(re, s->frames[i].sym, 0, NULL, 0))
			return true;
	return false;
}

/* A lost stack as shown, with why, as the other formats name it; matched as NO_STACK. */
static char *not_captured(int stack_err)
{
	char *s;

	if (asprintf(&s, NO_STACK_FMT, model__stack_err_str(stack_err)) < 0)
		return NULL;
	return s;
}

static int site_init(struct dsite *d, const struct model_site *s, int run)
{
	size_t n = (s->stack_err ? 1 : s->n_frames) + s->n_uframes, i;

	d->cache = s->cache;
	d->allocator = kleak_allocator_of(s->kind);
	d->run = run;
	d->shown = calloc(n ? n : 1, sizeof(*d->shown));
	d->keys = calloc(n ? n : 1, sizeof(*d->keys));
	d->first = calloc(n + 1, sizeof(*d->first));
	d->ids = calloc(n ? n : 1, sizeof(*d->ids));
	if (!d->shown || !d->keys || !d->first || !d->ids)
		return -ENOMEM;
	for (i = 0; i < n - s->n_uframes; i++) {
		const char *sym = s->stack_err ? NULL : s->frames[i].sym;
		char *shown = s->stack_err ? not_captured(s->stack_err) : strip_offset(sym);
		char *key = s->stack_err ? strdup(NO_STACK) :
			    diff__frame_key(sym, kleak_allocator_of(s->kind));

		if (!shown || !key) {
			free(shown);
			free(key);
			return -ENOMEM;
		}
		d->shown[d->n_shown++] = shown;
		/* kvmalloc_node above __kmalloc_node on one kernel, one frame on another */
		if (d->n_keys && !strcmp(key, DIFF_ALLOCATOR) &&
		    !strcmp(d->keys[d->n_keys - 1], DIFF_ALLOCATOR)) {
			free(key);
			continue;
		}
		d->first[d->n_keys] = d->n_shown - 1;
		d->keys[d->n_keys++] = key;
	}
	return site_init_user(d, s);
}

/* The classes of the site's n oldest objects, for the exports. */
static void site_classes(struct dsite *it, const struct model_site *s, size_t n, __u32 scale)
{
	__u64 classes[HELD_MAX];
	int h;

	it->classified = s->held != NULL;
	held__count(s, n, classes);
	for (h = 0; h < HELD_MAX; h++)
		it->held[h] = classes[h] * scale;
}

/*
 * The sites of one run that pass the filters, with what each holds: the
 * kernel's outstanding totals, or with --older the allocations old enough;
 * scaled by the sample rate. A site holding nothing has nothing to compare.
 */
static int add_sites(struct diff_data *d, const struct model *m, const struct model *other,
		     int run, const struct diff_opts *o)
{
	__u32 scale = m->meta.sample_rate > 1 ? m->meta.sample_rate : 1;
	__u32 older = o->older_ms > UINT32_MAX ? UINT32_MAX : (__u32)o->older_ms;
	size_t i;
	int err;

	for (i = 0; i < m->n_sites; i++) {
		const struct model_site *s = &m->sites[i];
		struct dsite *it;
		__s64 count, bytes;

		if (o->cache && !allocators__cache_selects(o->cache, s->kind, s->cache))
			continue;
		if (s->obj_size < o->min_size || (o->max_size && s->obj_size > o->max_size))
			continue;
		if (older) {
			count = (__s64)model_site__count_older(s, older);
			bytes = count * (__s64)s->obj_size;
			d->younger[run] += !count && s->count;
		} else {
			count = s->count;
			bytes = s->bytes;
		}
		if (!count && !bytes)
			continue;
		if (!model__traced_allocator(other, kleak_allocator_of(s->kind))) {
			d->untraced[run][kleak_allocator_of(s->kind)]++;
			continue;
		}
		if (o->exclude && site_excluded(s, o->exclude)) {
			d->excluded[run]++;
			continue;
		}
		it = &d->sites[d->n_sites++];
		it->index = i;
		it->count = count * scale;
		it->bytes = bytes * scale;
		site_classes(it, s, older ? (size_t)count : s->n_ages, scale);
		err = site_init(it, s, run);
		if (err)
			return err;
	}
	return 0;
}

struct key_ref {
	const char *key;
	__u32 *id;
};

static int key_ref_cmp(const void *pa, const void *pb)
{
	const struct key_ref *a = pa, *b = pb;

	return strcmp(a->key, b->key);
}

/* Numbers every distinct key in string order, so ids compare as the keys do. */
static int intern_keys(struct diff_data *d)
{
	struct key_ref *refs;
	size_t n = 0, i, k;
	__u32 id = 0;

	for (i = 0; i < d->n_sites; i++)
		n += d->sites[i].n_keys;
	refs = calloc(n ? n : 1, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (i = 0, n = 0; i < d->n_sites; i++) {
		for (k = 0; k < d->sites[i].n_keys; k++) {
			refs[n].key = d->sites[i].keys[k];
			refs[n++].id = &d->sites[i].ids[k];
		}
	}
	qsort(refs, n, sizeof(*refs), key_ref_cmp);
	for (i = 0; i < n; i++) {
		if (i && strcmp(refs[i].key, refs[i - 1].key))
			id++;
		*refs[i].id = id;
	}
	d->n_ids = n ? id + 1 : 0;
	free(refs);
	return 0;
}

static int ids_cmp(const struct dsite *a, const struct dsite *b)
{
	size_t i;

	for (i = 0; i < a->n_keys && i < b->n_keys; i++)
		if (a->ids[i] != b->ids[i])
			return a->ids[i] < b->ids[i] ? -1 : 1;
	return a->n_keys < b->n_keys ? -1 : a->n_keys > b->n_keys;
}

static int site_key_cmp(const struct dsite *a, const struct dsite *b)
{
	int c = strcmp(a->cache, b->cache);

	return c ? c : ids_cmp(a, b);
}

static int site_cmp(const void *pa, const void *pb)
{
	const struct dsite *a = pa, *b = pb;

	if (site_key_cmp(a, b))
		return site_key_cmp(a, b);
	if (a->run != b->run)
		return a->run - b->run;
	return a->index < b->index ? -1 : a->index > b->index;
}

static void totals_add(struct totals *t, int run, __s64 count, __s64 bytes)
{
	t->seen[run] = true;
	t->count[run] += count;
	t->bytes[run] += bytes;
}

static void totals_add_site(struct totals *t, const struct dsite *s)
{
	int h;

	totals_add(t, s->run, s->count, s->bytes);
	t->unclassified[s->run] |= !s->classified;
	for (h = 0; h < HELD_MAX; h++)
		t->held[s->run][h] += s->held[h];
}

static void totals_merge(struct totals *t, const struct totals *u)
{
	int run, h;

	for (run = 0; run < 2; run++) {
		if (!u->seen[run])
			continue;
		totals_add(t, run, u->count[run], u->bytes[run]);
		t->unclassified[run] |= u->unclassified[run];
		for (h = 0; h < HELD_MAX; h++)
			t->held[run][h] += u->held[run][h];
	}
}

/*
 * The system call a stack is in: what follows "sys_" in its outermost frame
 * that has one after an underscore, so __x64_sys_clone and __do_sys_clone,
 * whichever a kernel inlined, both name "clone". NULL: none (irq, kthread).
 */
static const char *syscall_of(const struct dsite *s)
{
	size_t k = s->n_keys;

	while (k--) {
		const char *p = strstr(s->keys[k], "sys_");

		if (p && (p == s->keys[k] || p[-1] == '_'))
			return p + 4;
	}
	return NULL;
}

/* Sites sorted by key, equal keys become one stack. */
static void group_stacks(struct diff_data *d)
{
	struct dstack *st = NULL;
	size_t i;

	qsort(d->sites, d->n_sites, sizeof(*d->sites), site_cmp);
	for (i = 0; i < d->n_sites; i++) {
		const struct dsite *s = &d->sites[i];

		if (!st || site_key_cmp(s, st->key)) {
			st = &d->stacks[d->n_stacks];
			st->key = s;
			st->syscall = syscall_of(s);
			st->root = d->n_stacks++;
		}
		if (!st->rep[s->run] || s->bytes > st->rep[s->run]->bytes)
			st->rep[s->run] = s;
		totals_add_site(&st->t, s);
	}
}

/* ---- matching across kernels ---- */

static size_t find_root(struct diff_data *d, size_t i)
{
	while (d->stacks[i].root != i) {
		d->stacks[i].root = d->stacks[d->stacks[i].root].root;
		i = d->stacks[i].root;
	}
	return i;
}

/* The lower index (the earlier key) becomes the root: the result is deterministic. */
static void unite(struct diff_data *d, size_t i, size_t j)
{
	i = find_root(d, i);
	j = find_root(d, j);
	if (i < j)
		d->stacks[j].root = i;
	else if (j < i)
		d->stacks[i].root = j;
}

/* Length of the longest common subsequence of two key sequences, two rows of the table. */
static size_t lcs_len(const struct dsite *a, const struct dsite *b)
{
	unsigned short *rows, *prev, *cur, *tmp;
	size_t i, j, n;

	rows = calloc(2 * (b->n_keys + 1), sizeof(*rows));
	if (!rows)
		return 0;
	prev = rows;
	cur = rows + b->n_keys + 1;
	for (i = 0; i < a->n_keys; i++) {
		for (j = 0; j < b->n_keys; j++) {
			if (a->ids[i] == b->ids[j])
				cur[j + 1] = prev[j] + 1;
			else
				cur[j + 1] = prev[j + 1] > cur[j] ? prev[j + 1] : cur[j];
		}
		tmp = prev;
		prev = cur;
		cur = tmp;
	}
	n = prev[b->n_keys];
	free(rows);
	return n;
}

/* A stack of one run only, a candidate for a stack of the other run. */
struct orphan {
	size_t stack;
	int run;
	__u32 *sorted;		/* its key ids in ascending order */
};

/* Orphans of one run by key id: item[start[id]] .. item[start[id + 1] - 1]. */
struct orphan_index {
	size_t *start;
	size_t *item;
};

struct matcher {
	struct diff_data *d;
	size_t n;
	struct orphan *o;
	struct orphan_index by_call[2];		/* by the id of their call site, keys[1] */
	struct orphan_index by_frame[2];	/* by each distinct id of their keys */
	size_t *mark;		/* per orphan: the search that last considered it */
	size_t search;
	size_t *best;		/* per orphan: its best partner, SIZE_MAX for none */
	bool *paired;		/* per stack, for roots: the component has both runs */
};

static int u32_cmp(const void *pa, const void *pb)
{
	__u32 a = *(const __u32 *)pa, b = *(const __u32 *)pb;

	return a < b ? -1 : a > b;
}

static bool sorted_has(const __u32 *v, size_t n, __u32 id)
{
	return bsearch(&id, v, n, sizeof(*v), u32_cmp) != NULL;
}

/*
 * Whether two sorted arrays have at least need values in common (as
 * multisets): a bound on their LCS, stopping once need is out of reach.
 */
static bool sorted_common(const __u32 *a, size_t n, const __u32 *b, size_t m, size_t need)
{
	size_t i = 0, j = 0, c = 0;

	while (i < n && j < m && c < need) {
		if (c + (n - i < m - j ? n - i : m - j) < need)
			return false;
		if (a[i] == b[j]) {
			c++;
			i++;
			j++;
		} else if (a[i] < b[j]) {
			i++;
		} else {
			j++;
		}
	}
	return c >= need;
}

/*
 * Whether the stacks of orphans x and y, of different kernels, are one path,
 * and how many of their frames then match (0: not one path). The kernels'
 * compilers inline other functions (6.1's filp stack has __alloc_file between
 * the allocator and alloc_empty_file, 6.18's not), split and rename them
 * (6.1's __anon_inode_getfile + anon_inode_getfd are 6.18's
 * anon_inode_getfile_fmode), so frames present in one stack only are skipped,
 * on both sides: an edit distance with deletions only, scored by the longest
 * common subsequence. What must still agree, each rule found needed on real
 * 6.1 and 6.18 runs of one workload:
 *  - the innermost frame (the allocator) and the outermost (the entry: a
 *    syscall, a fault, an interrupt, a kthread);
 *  - the system call (syscall_of()), or neither stack has one;
 *  - the call site: the caller of the allocator in one stack appears in the
 *    other. Without it, every allocation copy_process() makes shares the
 *    five frames from copy_process to the syscall entry, and 6.1's
 *    security_task_alloc matched 6.18's __get_vm_area_node;
 *  - at least 3 frames, and half of the longer stack's, are matched.
 * Requiring all of the shorter stack to match (one kernel inlined a frame,
 * the other did not) is not enough: 6.1's __alloc_file is 6.18's init_file,
 * a frame on each side only, and 6.18's do_anonymous_page faults show frames
 * 6.1's lack and inline 6.1's do_user_addr_fault.
 */
static size_t same_path(const struct matcher *mt, const struct orphan *ox,
			const struct orphan *oy)
{
	const struct dstack *x = &mt->d->stacks[ox->stack], *y = &mt->d->stacks[oy->stack];
	const struct dsite *a = x->key, *b = y->key;
	size_t n = a->n_keys, m = b->n_keys, longer = n > m ? n : m, l;

	if (2 * (n < m ? n : m) < longer)
		return 0;
	if (a->ids[0] != b->ids[0] || a->ids[n - 1] != b->ids[m - 1])
		return 0;
	if (!x->syscall != !y->syscall || (x->syscall && strcmp(x->syscall, y->syscall)))
		return 0;
	if (!sorted_has(oy->sorted, m, a->ids[1]) && !sorted_has(ox->sorted, n, b->ids[1]))
		return 0;
	/* matched frames needed: 3, and half of the longer stack's */
	if (!sorted_common(ox->sorted, n, oy->sorted, m, longer / 2 + longer % 2 > 3 ?
			   longer / 2 + longer % 2 : 3))
		return 0;
	l = lcs_len(a, b);
	if (l < 3 || 2 * l < longer)
		return 0;
	return l;
}

/* Orphans of run by id: their call site's (by_call), or each distinct one of theirs. */
static int index_build(struct orphan_index *ix, const struct matcher *mt, int run, bool by_call,
		       size_t n_ids)
{
	size_t i, k, id, total, *pos;

	ix->start = calloc(n_ids + 2, sizeof(*ix->start));
	pos = calloc(n_ids + 1, sizeof(*pos));
	if (!ix->start || !pos) {
		free(pos);
		return -ENOMEM;
	}
	for (i = 0; i < mt->n; i++) {
		const struct orphan *o = &mt->o[i];
		size_t n = mt->d->stacks[o->stack].key->n_keys;

		if (o->run != run)
			continue;
		if (by_call) {
			ix->start[mt->d->stacks[o->stack].key->ids[1] + 1]++;
			continue;
		}
		for (k = 0; k < n; k++)
			if (!k || o->sorted[k] != o->sorted[k - 1])
				ix->start[o->sorted[k] + 1]++;
	}
	for (id = 0; id < n_ids; id++)
		ix->start[id + 1] += ix->start[id];
	total = ix->start[n_ids];
	memcpy(pos, ix->start, n_ids * sizeof(*pos));
	ix->item = calloc(total ? total : 1, sizeof(*ix->item));
	if (!ix->item) {
		free(pos);
		return -ENOMEM;
	}
	for (i = 0; i < mt->n; i++) {
		const struct orphan *o = &mt->o[i];
		size_t n = mt->d->stacks[o->stack].key->n_keys;

		if (o->run != run)
			continue;
		if (by_call) {
			ix->item[pos[mt->d->stacks[o->stack].key->ids[1]]++] = i;
			continue;
		}
		for (k = 0; k < n; k++)
			if (!k || o->sorted[k] != o->sorted[k - 1])
				ix->item[pos[o->sorted[k]]++] = i;
	}
	free(pos);
	return 0;
}

/* The best partner found so far for one orphan. */
struct best {
	size_t orphan;		/* SIZE_MAX: none yet */
	size_t l;
	size_t skipped;
	bool tie;
};

/*
 * Considers orphan j as a partner of orphan i: in i's cache (phase 1) or in
 * another, unpaired (phase 2). More frames matched is better, then fewer
 * skipped; of equals the earlier stack, and a tie is remembered.
 */
static void consider(struct matcher *mt, size_t i, size_t j, bool other_cache, struct best *b)
{
	const struct dstack *x = &mt->d->stacks[mt->o[i].stack];
	const struct dstack *y = &mt->d->stacks[mt->o[j].stack];
	size_t l, skipped;

	if (mt->mark[j] == mt->search)
		return;
	mt->mark[j] = mt->search;
	if (!strcmp(x->key->cache, y->key->cache) == other_cache)
		return;
	if (other_cache && mt->paired[find_root(mt->d, mt->o[j].stack)])
		return;
	l = same_path(mt, &mt->o[i], &mt->o[j]);
	if (!l)
		return;
	skipped = x->key->n_keys + y->key->n_keys - 2 * l;
	if (b->orphan != SIZE_MAX && l == b->l && skipped == b->skipped) {
		b->tie = true;
		if (mt->o[j].stack > mt->o[b->orphan].stack)
			return;
	} else if (b->orphan != SIZE_MAX && (l < b->l || (l == b->l && skipped > b->skipped))) {
		return;
	} else {
		b->tie = false;
	}
	b->orphan = j;
	b->l = l;
	b->skipped = skipped;
}

/*
 * The best partner of orphan i among the other run's orphans that satisfy
 * same_path()'s call-site rule, found through the indexes: those whose call
 * site is one of i's frames, and those that have i's call site among theirs.
 * Nothing else is compared, so the cost follows how many stacks share frames
 * with i, not the number of stacks.
 */
static size_t best_partner(struct matcher *mt, size_t i, bool other_cache)
{
	const struct orphan *x = &mt->o[i];
	const struct dsite *key = mt->d->stacks[x->stack].key;
	const struct orphan_index *call = &mt->by_call[!x->run], *frame = &mt->by_frame[!x->run];
	struct best b = { .orphan = SIZE_MAX };
	size_t k, p;
	__u32 id;

	if (other_cache && mt->paired[find_root(mt->d, x->stack)])
		return SIZE_MAX;
	mt->search++;
	for (k = 0; k < key->n_keys; k++) {
		id = x->sorted[k];
		if (k && id == x->sorted[k - 1])
			continue;
		for (p = call->start[id]; p < call->start[id + 1]; p++)
			consider(mt, i, call->item[p], other_cache, &b);
	}
	id = key->ids[1];
	for (p = frame->start[id]; p < frame->start[id + 1]; p++)
		consider(mt, i, frame->item[p], other_cache, &b);
	/* across caches only the unambiguous: the stack alone says which cache */
	return other_cache && b.tie ? SIZE_MAX : b.orphan;
}

static void matcher_free(struct matcher *mt)
{
	size_t i;
	int run;

	for (i = 0; mt->o && i < mt->n; i++)
		free(mt->o[i].sorted);
	for (run = 0; run < 2; run++) {
		free(mt->by_call[run].start);
		free(mt->by_call[run].item);
		free(mt->by_frame[run].start);
		free(mt->by_frame[run].item);
	}
	free(mt->o);
	free(mt->mark);
	free(mt->best);
	free(mt->paired);
}

/*
 * Stacks found in one run only ("orphans") are matched to orphans of the
 * other run by same_path(), only when the runs' kernels differ: on one
 * kernel, a frame present in one stack only is another path. First in the
 * same cache, each orphan joined to its best partner, so that the stacks of
 * two functions one kernel inlines into a common caller are both compared
 * with that caller's one stack. Then across caches, because kernels merge
 * caches their own way (6.18 allocates creds from "pid", 6.1 from
 * "cred_jar") and size structs into other kmalloc classes: only stacks still
 * unmatched, and only pairs that are each other's unique best.
 */
static int match_across_kernels(struct diff_data *d)
{
	struct matcher mt = { .d = d };
	size_t n_ids = d->n_ids, i, j;
	int err = -ENOMEM, run;

	mt.o = calloc(d->n_stacks ? d->n_stacks : 1, sizeof(*mt.o));
	mt.paired = calloc(d->n_stacks ? d->n_stacks : 1, sizeof(*mt.paired));
	if (!mt.o || !mt.paired)
		goto out;
	for (i = 0; i < d->n_stacks; i++) {
		const struct dstack *s = &d->stacks[i];
		struct orphan *o = &mt.o[mt.n];

		if ((s->t.seen[0] && s->t.seen[1]) || s->key->n_keys < 3)
			continue;
		o->stack = i;
		o->run = s->t.seen[0] ? 0 : 1;
		o->sorted = malloc(s->key->n_keys * sizeof(*o->sorted));
		if (!o->sorted)
			goto out;
		memcpy(o->sorted, s->key->ids, s->key->n_keys * sizeof(*o->sorted));
		qsort(o->sorted, s->key->n_keys, sizeof(*o->sorted), u32_cmp);
		mt.n++;
	}
	mt.mark = calloc(mt.n ? mt.n : 1, sizeof(*mt.mark));
	mt.best = calloc(mt.n ? mt.n : 1, sizeof(*mt.best));
	if (!mt.mark || !mt.best)
		goto out;
	for (run = 0; run < 2; run++) {
		if (index_build(&mt.by_call[run], &mt, run, true, n_ids) ||
		    index_build(&mt.by_frame[run], &mt, run, false, n_ids))
			goto out;
	}

	for (i = 0; i < mt.n; i++) {
		j = best_partner(&mt, i, false);
		if (j != SIZE_MAX)
			unite(d, mt.o[i].stack, mt.o[j].stack);
	}
	/* a match joins stacks of both runs: a component of two or more is paired */
	for (i = 0; i < mt.n; i++) {
		size_t r = find_root(d, mt.o[i].stack);

		if (r != mt.o[i].stack)
			mt.paired[r] = true;
	}
	for (i = 0; i < mt.n; i++)
		mt.best[i] = best_partner(&mt, i, true);
	for (i = 0; i < mt.n; i++) {
		j = mt.best[i];
		if (j != SIZE_MAX && j > i && mt.best[j] == i)
			unite(d, mt.o[i].stack, mt.o[j].stack);
	}
	err = 0;
out:
	matcher_free(&mt);
	return err;
}

/* ---- rows ---- */

/* A line of frame ia of a and frame ib of b; a or b NULL: that run has none here. */
static void add_line(struct drow *r, const struct dsite *a, size_t ia, const struct dsite *b,
		     size_t ib)
{
	struct dline *l = &r->lines[r->n_lines++];

	l->site[0] = a;
	l->site[1] = b;
	l->shown[0] = ia;
	l->shown[1] = ib;
	l->name[0] = a ? a->shown[ia] : NULL;
	l->name[1] = b ? b->shown[ib] : NULL;
	if (r->rep[0] && r->rep[1] && (!a || !b || strcmp(l->name[0], l->name[1])))
		r->lines_differ = true;
}

/*
 * The frames of key ka of a and of key kb of b as lines: the first of each
 * side side by side, the rest of a side's frames with that key (an
 * allocator shown as several frames) on lines of their own.
 */
static void add_group(struct drow *r, const struct dsite *a, size_t ka, const struct dsite *b,
		      size_t kb)
{
	size_t ia = a ? a->first[ka] : 0, ea = a ? a->first[ka + 1] : 0;
	size_t ib = b ? b->first[kb] : 0, eb = b ? b->first[kb + 1] : 0;

	add_line(r, a, ia++, b, ib++);
	while (ia < ea)
		add_line(r, a, ia++, NULL, 0);
	while (ib < eb)
		add_line(r, NULL, 0, b, ib++);
}

/*
 * The row's frames: both runs' stacks aligned on their longest common
 * subsequence of keys (a table of suffix lengths, then one walk), a frame
 * of one run only where they differ, A's before B's.
 */
static int make_lines(struct drow *r)
{
	const struct dsite *a = r->rep[0], *b = r->rep[1];
	size_t n = a ? a->n_keys : 0, m = b ? b->n_keys : 0, i = 0, j = 0;
	unsigned short *t = NULL;

	r->lines = calloc((a ? a->n_shown : 0) + (b ? b->n_shown : 0) + 1, sizeof(*r->lines));
	if (!r->lines)
		return -ENOMEM;
	if (!a || !b) {
		for (i = 0; i < n + m; i++)
			add_group(r, a, i, b, i);
		return 0;
	}
	t = calloc((n + 1) * (m + 1), sizeof(*t));
	if (!t)
		return -ENOMEM;
#define T(i, j) t[(i) * (m + 1) + (j)]
	for (i = n; i-- > 0;)
		for (j = m; j-- > 0;)
			T(i, j) = a->ids[i] == b->ids[j] ? T(i + 1, j + 1) + 1 :
			  T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1);
	for (i = 0, j = 0; i < n || j < m;) {
		if (i < n && j < m && a->ids[i] == b->ids[j]) {
			add_group(r, a, i++, b, j++);
		} else if (i < n && (j == m || T(i + 1, j) >= T(i, j + 1))) {
			add_group(r, a, i++, NULL, 0);
		} else {
			add_group(r, NULL, 0, b, j++);
		}
	}
#undef T
	free(t);
	return 0;
}

static const struct dsite *row_key(const struct drow *r)
{
	return r->rep[0] ? r->rep[0] : r->rep[1];
}

static __u64 magnitude(__s64 v)
{
	return v < 0 ? -(__u64)v : (__u64)v;
}

static __u64 delta_of(const struct totals *t)
{
	return magnitude(t->bytes[1] - t->bytes[0]);
}

/* Largest |delta bytes| first; equal ones in key order, so output is deterministic. */
static int row_cmp(const void *pa, const void *pb)
{
	const struct drow *a = pa, *b = pb;
	__u64 da = delta_of(&a->t), db = delta_of(&b->t);

	if (da != db)
		return da > db ? -1 : 1;
	return site_key_cmp(row_key(a), row_key(b));
}

static int cache_cmp(const void *pa, const void *pb)
{
	const struct dcache *a = pa, *b = pb;
	__u64 da = delta_of(&a->t), db = delta_of(&b->t);

	if (da != db)
		return da > db ? -1 : 1;
	return strcmp(a->cache, b->cache);
}

/* One row per component of matched stacks, its run's largest stack shown for each run. */
static int make_rows(struct diff_data *d)
{
	size_t *row_of, i;
	int run, err = 0;

	row_of = malloc((d->n_stacks ? d->n_stacks : 1) * sizeof(*row_of));
	if (!row_of)
		return -ENOMEM;
	for (i = 0; i < d->n_stacks; i++)
		row_of[i] = SIZE_MAX;
	for (i = 0; i < d->n_stacks; i++) {
		const struct dstack *s = &d->stacks[i];
		size_t root = find_root(d, i);
		struct drow *r;

		if (row_of[root] == SIZE_MAX)
			row_of[root] = d->n_rows++;
		r = &d->rows[row_of[root]];
		r->n_members++;
		totals_merge(&r->t, &s->t);
		for (run = 0; run < 2; run++) {
			if (!s->t.seen[run])
				continue;
			r->n_stacks[run]++;
			if (!r->rep[run] || s->t.bytes[run] > r->rep_bytes[run]) {
				r->rep[run] = s->rep[run];
				r->rep_bytes[run] = s->t.bytes[run];
			}
		}
	}
	free(row_of);
	for (i = 0; i < d->n_rows && !err; i++)
		err = make_lines(&d->rows[i]);
	return err;
}

static void make_caches(struct diff_data *d)
{
	struct dcache *c = NULL;
	size_t i;

	/* sites are sorted by cache */
	for (i = 0; i < d->n_sites; i++) {
		const struct dsite *s = &d->sites[i];

		if (!c || strcmp(c->cache, s->cache)) {
			c = &d->caches[d->n_caches++];
			c->cache = s->cache;
			c->allocator = s->allocator;
		}
		totals_add(&c->t, s->run, s->count, s->bytes);
		totals_add(&d->total, s->run, s->count, s->bytes);
	}
}

/* report__print_not_seen() of a run as a string, so printing cannot fail half way. */
static char *not_seen_of(const struct model *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	bool bad;

	if (!f)
		return NULL;
	report__print_not_seen(m, f);
	bad = ferror(f);
	if (fclose(f) || bad) {
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	return buf;
}

static bool kernels_differ(const struct model *a, const struct model *b)
{
	const char *ka = a->meta.kernel, *kb = b->meta.kernel;

	if (!ka || !kb)
		return ka != kb;
	return strcmp(ka, kb);
}

static int prepare(struct diff_data *d, const struct model *a, const struct model *b,
		   const struct diff_opts *o)
{
	size_t n = a->n_sites + b->n_sites;
	int err, run;

	d->sites = calloc(n ? n : 1, sizeof(*d->sites));
	d->stacks = calloc(n ? n : 1, sizeof(*d->stacks));
	d->rows = calloc(n ? n : 1, sizeof(*d->rows));
	d->caches = calloc(n ? n : 1, sizeof(*d->caches));
	if (!d->sites || !d->stacks || !d->rows || !d->caches)
		return -ENOMEM;
	for (run = 0; run < 2; run++) {
		d->not_seen[run] = not_seen_of(run ? b : a);
		if (!d->not_seen[run])
			return -ENOMEM;
	}
	err = add_sites(d, a, b, 0, o);
	if (!err)
		err = add_sites(d, b, a, 1, o);
	if (!err)
		err = intern_keys(d);
	if (err)
		return err;
	group_stacks(d);
	d->kernels_differ = kernels_differ(a, b);
	if (!err && d->kernels_differ)
		err = match_across_kernels(d);
	if (!err)
		err = make_rows(d);
	if (err)
		return err;
	make_caches(d);
	qsort(d->rows, d->n_rows, sizeof(*d->rows), row_cmp);
	qsort(d->caches, d->n_caches, sizeof(*d->caches), cache_cmp);
	return 0;
}

static void data_free(struct diff_data *d)
{
	size_t i, j;

	for (i = 0; i < d->n_sites; i++) {
		struct dsite *s = &d->sites[i];

		for (j = 0; j < s->n_shown; j++)
			free(s->shown[j]);
		for (j = 0; j < s->n_keys; j++)
			free(s->keys[j]);
		free(s->shown);
		free(s->keys);
		free(s->first);
		free(s->ids);
	}
	for (i = 0; i < d->n_rows; i++)
		free(d->rows[i].lines);
	free(d->sites);
	free(d->stacks);
	free(d->rows);
	free(d->caches);
	free(d->not_seen[0]);
	free(d->not_seen[1]);
}

static bool shown(const struct totals *t, const struct diff_opts *o)
{
	return o->min_delta <= 0 || delta_of(t) >= (__u64)o->min_delta;
}

/* Applies --min-delta and --top once, for both formats. */
static void select_rows(struct diff_data *d, const struct diff_opts *o)
{
	size_t i, n;

	for (i = 0, n = 0; i < d->n_caches; i++)
		if (shown(&d->caches[i].t, o))
			d->caches[n++] = d->caches[i];
	d->n_caches = n;
	d->n_rows_total = d->n_rows;
	for (i = 0, n = 0; i < d->n_rows; i++) {
		if (o->top && n == o->top) {
			free(d->rows[i].lines);
			continue;
		}
		if (shown(&d->rows[i].t, o))
			d->rows[n++] = d->rows[i];
		else
			free(d->rows[i].lines);
	}
	d->n_rows = n;
}

static const char *match_str(const struct drow *r)
{
	if (r->t.seen[0] && r->t.seen[1])
		return r->n_members > 1 ? "similar" : "both";
	return r->t.seen[0] ? "only-A" : "only-B";
}

/* ---- text ---- */

/* Each line of text, indented. */
static void put_indented(FILE *out, const char *text, const char *indent)
{
	const char *p = text, *nl;

	while (*p) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		if (nl > p)
			fprintf(out, "%s%.*s\n", indent, (int)(nl - p), p);
		p = *nl ? nl + 1 : nl;
	}
}

static void text_run(FILE *out, const char *label, const char *name, const struct model *m,
		     const char *not_seen)
{
	fprintf(out, "%s: ", label);
	report__put_line(out, name ? name : label);
	fputs("\n   kernel ", out);
	report__put_line(out, m->meta.kernel);
	fputs(", host ", out);
	report__put_line(out, m->meta.hostname);
	fprintf(out, ", sample rate %" PRIu32, (uint32_t)m->meta.sample_rate);
	if (m->meta.sample_rate > 1)
		fputs(" (counts scaled: estimates)", out);
	fputs("\n   command: ", out);
	report__put_line(out, m->meta.cmdline);
	fputc('\n', out);
	put_indented(out, not_seen, "   ");
}

/*
 * An allocator one run traced and the other did not: its sites are no
 * growth or fall (the other run could not see them), so they are left out.
 */
static void text_untraced(FILE *out, const struct diff_data *d, const struct model *a,
			  const struct model *b)
{
	const struct model *runs[2] = { a, b };
	int run, al;

	for (run = 0; run < 2; run++)
		for (al = 0; al < KLEAK_ALLOC_MAX; al++)
			if (model__traced_allocator(runs[run], al) &&
			    !model__traced_allocator(runs[!run], al))
				fprintf(out, "%s did not trace %s: %zu %s sites of %s left out, no "
					"change to compare\n", run ? "A" : "B",
					allocators__name(al), d->untraced[run][al],
					allocators__name(al), run ? "B" : "A");
}

static void text_delta(FILE *out, __s64 d)
{
	char buf[32];

	snprintf(buf, sizeof(buf), d ? "%+" PRId64 : "%" PRId64, (int64_t)d);
	fprintf(out, " %12s", buf);
}

static void text_numbers(FILE *out, const struct totals *t)
{
	fprintf(out, " %12" PRId64 " %12" PRId64 " %12" PRId64 " %12" PRId64,
		(int64_t)t->count[0], (int64_t)t->bytes[0], (int64_t)t->count[1],
		(int64_t)t->bytes[1]);
	text_delta(out, t->count[1] - t->count[0]);
	text_delta(out, t->bytes[1] - t->bytes[0]);
	fputc('\n', out);
}

static const char text_columns[] =
	"      COUNT A      BYTES A      COUNT B      BYTES B  DELTA COUNT  DELTA BYTES\n";

static void text_header(FILE *out, const struct diff_opts *o)
{
	fputs("kleak diff: outstanding allocations", out);
	if (o->older_ms)
		fprintf(out, " at least %.1f s old", o->older_ms / 1000.0);
	if (o->cache) {
		fputs(" in cache ", out);
		report__put_line(out, o->cache);
	}
	if (o->min_size && o->max_size)
		fprintf(out, " of %" PRIu64 " to %" PRIu64 " bytes", (uint64_t)o->min_size,
			(uint64_t)o->max_size);
	else if (o->min_size)
		fprintf(out, " of at least %" PRIu64 " bytes", (uint64_t)o->min_size);
	else if (o->max_size)
		fprintf(out, " of at most %" PRIu64 " bytes", (uint64_t)o->max_size);
	fputs(", B minus A\n", out);
}

static void text_row(FILE *out, const struct drow *r)
{
	bool both = r->rep[0] && r->rep[1];
	size_t i;

	fprintf(out, "%-8s", match_str(r));
	if (both && strcmp(r->rep[0]->cache, r->rep[1]->cache)) {
		char caches[2 * KLEAK_CACHE_NAME_LEN + 2];

		snprintf(caches, sizeof(caches), "%s|%s", r->rep[0]->cache, r->rep[1]->cache);
		fprintf(out, "%-23s", caches);
	} else {
		fprintf(out, "%-23s", row_key(r)->cache);
	}
	text_numbers(out, &r->t);
	for (i = 0; i < r->n_lines; i++) {
		const struct dline *l = &r->lines[i];

		fputs("        ", out);
		report__put_line(out, l->name[0] ? l->name[0] : l->name[1]);
		/* a frame in both with other names (_noprof) is shown as A names it */
		if (both && !l->name[1])
			fputs("  (A only)", out);
		else if (both && !l->name[0])
			fputs("  (B only)", out);
		fputc('\n', out);
	}
	if (r->n_stacks[0] > 1 || r->n_stacks[1] > 1)
		fprintf(out, "        (%zu stacks of A and %zu of B compared as one)\n",
			r->n_stacks[0], r->n_stacks[1]);
}

static bool same_aliases(const struct model_merged *x, const struct model_merged *y)
{
	size_t i;

	if (x->n_aliases != y->n_aliases)
		return false;
	for (i = 0; i < x->n_aliases; i++)
		if (strcmp(x->aliases[i], y->aliases[i]))
			return false;
	return true;
}

static void text_aliases(FILE *out, const struct model_merged *g)
{
	size_t i;

	for (i = 0; i < g->n_aliases; i++) {
		fputs(i ? ", " : "", out);
		report__put_line(out, g->aliases[i]);
	}
}

static bool has_site_in(const struct model *m, const char *cache)
{
	size_t i;

	for (i = 0; i < m->n_sites; i++)
		if (!strcmp(m->sites[i].cache, cache))
			return true;
	return false;
}

/*
 * One line for cache, if either run merged it with other caches: their
 * names. A run keeps the merges of the caches it has sites in only: where
 * the other run has none there, it says nothing of the cache.
 */
static void text_merged(FILE *out, const char *cache, const struct model *a, const struct model *b)
{
	const struct model_merged *ga = model__merged_of(a, cache), *gb = model__merged_of(b, cache);
	const struct model_merged *g = ga ? ga : gb;

	if (!g)
		return;
	fputs("  ", out);
	report__put_line(out, cache);
	if (ga && gb && !same_aliases(ga, gb)) {
		fputs(" is a merged cache, in A also named ", out);
		text_aliases(out, ga);
		fputs("; in B ", out);
		text_aliases(out, gb);
	} else if (!(ga && gb) && has_site_in(ga ? b : a, cache)) {
		fprintf(out, " is a merged cache in %s only, also named ", ga ? "A" : "B");
		text_aliases(out, g);
	} else {
		fputs(" is a merged cache, also named ", out);
		text_aliases(out, g);
	}
	fputc('\n', out);
}

/*
 * The k-th cache shown: those of the per-cache table (with table), then each
 * row's in A and in B; NULL where a row has no stack of that run.
 */
static const char *shown_cache(const struct diff_data *d, bool table, size_t k)
{
	size_t n_table = table ? d->n_caches : 0;
	const struct dsite *rep;

	if (k < n_table)
		return d->caches[k].cache;
	k -= n_table;
	rep = d->rows[k / 2].rep[k % 2];
	return rep ? rep->cache : NULL;
}

/* The merged caches among those shown, each once, in the order shown. */
static void text_merged_caches(const struct diff_data *d, const struct model *a,
			       const struct model *b, bool table, FILE *out)
{
	size_t n = (table ? d->n_caches : 0) + 2 * d->n_rows, k, j;
	const char *c;

	for (k = 0; k < n; k++) {
		c = shown_cache(d, table, k);
		for (j = 0; c && j < k; j++)
			if (shown_cache(d, table, j) && !strcmp(shown_cache(d, table, j), c))
				c = NULL;
		if (c)
			text_merged(out, c, a, b);
	}
}

static void print_text(const struct diff_data *d, const struct model *a, const struct model *b,
		       const struct diff_opts *o, FILE *out)
{
	size_t i;

	text_header(out, o);
	text_run(out, "A", o->name_a, a, d->not_seen[0]);
	text_run(out, "B", o->name_b, b, d->not_seen[1]);
	text_untraced(out, d, a, b);
	if (d->kernels_differ)
		fputs("kernels differ: frames match by function, any allocator entry point as "
		      "one;\n   stacks that differ only by frames one kernel inlines, splits or "
		      "renames\n   match as \"similar\", as does one path in differently named "
		      "caches\n", out);

	if (!o->no_caches) {
		fprintf(out, "\n%-31s%s", "CACHE", text_columns);
		for (i = 0; i < d->n_caches; i++) {
			fprintf(out, "%-31s", d->caches[i].cache);
			text_numbers(out, &d->caches[i].t);
		}
		fprintf(out, "%-31s", "total");
		text_numbers(out, &d->total);
	}

	fprintf(out, "\n%-8s%-23s%s", "MATCH", "CACHE", text_columns);
	for (i = 0; i < d->n_rows; i++)
		text_row(out, &d->rows[i]);
	fprintf(out, "\n%zu of %zu sites shown", d->n_rows, d->n_rows_total);
	if (o->min_delta > 0)
		fprintf(out, ", min delta %" PRId64 " bytes", (int64_t)o->min_delta);
	if (o->top && d->n_rows == o->top && d->n_rows < d->n_rows_total)
		fprintf(out, ", top %zu (--top 0 shows all)", o->top);
	fputc('\n', out);
	if (d->younger[0] || d->younger[1])
		fprintf(out, "younger than %.1f s, left out: %zu sites of A and %zu of B "
			"(-o 0 compares them)\n", o->older_ms / 1000.0, d->younger[0],
			d->younger[1]);
	if (o->exclude)
		fprintf(out, "--exclude left out %zu sites of A and %zu of B\n", d->excluded[0],
			d->excluded[1]);
	text_merged_caches(d, a, b, !o->no_caches, out);
	held__diff_text(a, b, o->cache, out);
}

/* ---- JSON ---- */

static void json_numbers(struct json_writer *w, const struct totals *t)
{
	jsonw_int_field(w, "count_a", t->count[0]);
	jsonw_int_field(w, "bytes_a", t->bytes[0]);
	jsonw_int_field(w, "count_b", t->count[1]);
	jsonw_int_field(w, "bytes_b", t->bytes[1]);
	jsonw_int_field(w, "delta_count", t->count[1] - t->count[0]);
	jsonw_int_field(w, "delta_bytes", t->bytes[1] - t->bytes[0]);
}

static void json_run(struct json_writer *w, const char *key, const char *name,
		     const struct model *m)
{
	int i;

	jsonw_name(w, key);
	jsonw_start_object(w);
	jsonw_string_field(w, "name", name);
	jsonw_string_field(w, "kernel", m->meta.kernel);
	jsonw_string_field(w, "hostname", m->meta.hostname);
	jsonw_string_field(w, "boot_id", m->meta.boot_id);
	jsonw_string_field(w, "cmdline", m->meta.cmdline);
	jsonw_uint_field(w, "sample_rate", m->meta.sample_rate);
	/* the run's own counters, as the report's "stats": what it saw and lost */
	jsonw_name(w, "stats");
	jsonw_start_object(w);
	for (i = 0; i < STAT_MAX; i++)
		if (model__stat_shown(m, i))
			jsonw_uint_field(w, model__stat_name(i), m->stats[i]);
	jsonw_uint_field(w, "recursion_misses", m->recursion_misses);
	jsonw_uint_field(w, "unresolved_frames", m->unresolved_frames);
	jsonw_end_object(w);
	jsonw_end_object(w);
}

/* "merged_with_a"/"_b": the aliases of cache where that run merged it with others. */
static void json_merged(struct json_writer *w, const char *key, const struct model *m,
			const char *cache)
{
	const struct model_merged *g = cache ? model__merged_of(m, cache) : NULL;
	size_t i;

	if (!g)
		return;
	jsonw_name(w, key);
	jsonw_start_array(w);
	for (i = 0; i < g->n_aliases; i++)
		jsonw_string(w, g->aliases[i]);
	jsonw_end_array(w);
}

/* "untraced": {a, b}, each the allocators of sites left out for the other run: name -> sites */
static void json_untraced(struct json_writer *w, const struct diff_data *d)
{
	int run, al;

	jsonw_name(w, "untraced");
	jsonw_start_object(w);
	for (run = 0; run < 2; run++) {
		jsonw_name(w, run ? "b" : "a");
		jsonw_start_object(w);
		for (al = 0; al < KLEAK_ALLOC_MAX; al++)
			if (d->untraced[run][al])
				jsonw_uint_field(w, allocators__name(al), d->untraced[run][al]);
		jsonw_end_object(w);
	}
	jsonw_end_object(w);
}

static void json_frames(struct json_writer *w, const char *name, const struct dsite *s)
{
	size_t i;

	jsonw_name(w, name);
	jsonw_start_array(w);
	for (i = 0; s && i < s->n_shown; i++)
		jsonw_string(w, s->shown[i]);
	jsonw_end_array(w);
}

static void json_row(struct json_writer *w, const struct drow *r, const struct model *a,
		     const struct model *b)
{
	bool both = r->rep[0] && r->rep[1];
	size_t i;

	jsonw_start_object(w);
	jsonw_string_field(w, "match", match_str(r));
	jsonw_string_field(w, "cache", row_key(r)->cache);
	if (both && strcmp(r->rep[0]->cache, r->rep[1]->cache))
		jsonw_string_field(w, "cache_b", r->rep[1]->cache);
	json_merged(w, "merged_with_a", a, r->rep[0] ? r->rep[0]->cache : NULL);
	json_merged(w, "merged_with_b", b, r->rep[1] ? r->rep[1]->cache : NULL);
	json_numbers(w, &r->t);
	jsonw_name(w, "frames");
	jsonw_start_array(w);
	for (i = 0; i < r->n_lines; i++)
		jsonw_string(w, r->lines[i].name[0] ? r->lines[i].name[0] : r->lines[i].name[1]);
	jsonw_end_array(w);
	jsonw_string_field(w, "allocator", allocators__name(row_key(r)->allocator));
	if (r->lines_differ) {
		json_frames(w, "frames_a", r->rep[0]);
		json_frames(w, "frames_b", r->rep[1]);
	}
	if (r->n_stacks[0] > 1 || r->n_stacks[1] > 1) {
		jsonw_uint_field(w, "stacks_a", r->n_stacks[0]);
		jsonw_uint_field(w, "stacks_b", r->n_stacks[1]);
	}
	jsonw_end_object(w);
}

static int print_json(const struct diff_data *d, const struct model *a, const struct model *b,
		      const struct diff_opts *o, FILE *out)
{
	struct json_writer *w = jsonw_new(out);
	size_t i;

	if (!w)
		return -errno;
	jsonw_start_object(w);
	jsonw_uint_field(w, "schema_version", KLEAK_JSON_SCHEMA);
	json_run(w, "a", o->name_a, a);
	json_run(w, "b", o->name_b, b);
	jsonw_bool_field(w, "kernels_differ", d->kernels_differ);
	jsonw_uint_field(w, "older_ms", o->older_ms);
	jsonw_string_field(w, "cache", o->cache);
	jsonw_uint_field(w, "min_size", o->min_size);
	jsonw_name(w, "max_size");
	if (o->max_size)
		jsonw_uint(w, o->max_size);
	else
		jsonw_null(w);
	jsonw_int_field(w, "min_delta", o->min_delta);
	jsonw_uint_field(w, "top", o->top);
	jsonw_name(w, "younger");
	jsonw_start_object(w);
	jsonw_uint_field(w, "a", d->younger[0]);
	jsonw_uint_field(w, "b", d->younger[1]);
	jsonw_end_object(w);
	jsonw_name(w, "excluded");
	jsonw_start_object(w);
	jsonw_uint_field(w, "a", d->excluded[0]);
	jsonw_uint_field(w, "b", d->excluded[1]);
	jsonw_end_object(w);
	json_untraced(w, d);
	if (!o->no_caches) {
		jsonw_name(w, "caches");
		jsonw_start_array(w);
		for (i = 0; i < d->n_caches; i++) {
			jsonw_start_object(w);
			jsonw_string_field(w, "cache", d->caches[i].cache);
			json_merged(w, "merged_with_a", a, d->caches[i].cache);
			json_merged(w, "merged_with_b", b, d->caches[i].cache);
			json_numbers(w, &d->caches[i].t);
			jsonw_string_field(w, "allocator",
					   allocators__name(d->caches[i].allocator));
			jsonw_end_object(w);
		}
		jsonw_end_array(w);
	}
	jsonw_name(w, "total");
	jsonw_start_object(w);
	json_numbers(w, &d->total);
	jsonw_end_object(w);
	jsonw_name(w, "sites");
	jsonw_start_array(w);
	for (i = 0; i < d->n_rows; i++)
		json_row(w, &d->rows[i], a, b);
	jsonw_end_array(w);
	jsonw_uint_field(w, "sites_total", d->n_rows_total);
	jsonw_uint_field(w, "sites_shown", d->n_rows);
	held__diff_json(w, a, b, o->cache);
	jsonw_end_object(w);
	jsonw_destroy(w);
	return 0;
}

int diff__print(const struct model *a, const struct model *b, const struct diff_opts *o,
		FILE *out)
{
	struct diff_data d = {};
	int err;

	err = prepare(&d, a, b, o);
	if (!err)
		select_rows(&d, o);
	if (!err && o->json)
		err = print_json(&d, a, b, o, out);
	else if (!err)
		print_text(&d, a, b, o, out);
	/* a write that failed on a line-buffered stream left its errno */
	if (!err && ferror(out))
		err = errno ? -errno : -EIO;
	data_free(&d);
	errno = 0;
	if (!err && fflush(out))
		err = errno ? -errno : -EIO;
	if (err)
		pr_err("failed to print diff of %s and %s: %s", o->name_a ? o->name_a : "A",
		       o->name_b ? o->name_b : "B", strerror(-err));
	return err;
}

/* c's frames: r's lines, each from the run that names it as kleak diff prints it. */
static int change_frames(struct diff_change *c, const struct drow *r, const struct model *a,
			 const struct model *b)
{
	size_t i;

	c->frames = calloc(r->n_lines ? r->n_lines : 1, sizeof(*c->frames));
	if (!c->frames)
		return -ENOMEM;
	for (i = 0; i < r->n_lines; i++) {
		const struct dline *l = &r->lines[i];
		int run = l->name[0] ? 0 : 1;
		const struct dsite *s = l->site[run];

		c->frames[i].site = &(s->run ? b : a)->sites[s->index];
		c->frames[i].k = l->shown[run];
	}
	c->n_frames = r->n_lines;
	return 0;
}

/* A change of r's for run only (-1: both), labelled with rep's site. */
static int add_change(struct diff_change *out, size_t *n, const struct drow *r, int run,
		      const struct dsite *rep, const struct model *a, const struct model *b)
{
	struct diff_change *c = &out[(*n)++];
	int i;

	c->m = rep->run ? b : a;
	c->site = &c->m->sites[rep->index];
	for (i = 0; i < 2; i++) {
		/* a run this change does not count has nothing to classify */
		c->classified[i] = true;
		if (run >= 0 && i != run)
			continue;
		c->count[i] = r->t.count[i];
		c->bytes[i] = r->t.bytes[i];
		c->classified[i] = !r->t.unclassified[i];
		memcpy(c->held[i], r->t.held[i], sizeof(r->t.held[i]));
	}
	return change_frames(c, r, a, b);
}

int diff__changes(const struct model *a, const struct model *b, const struct diff_opts *o,
		  struct diff_change **out, size_t *n)
{
	struct diff_data d = {};
	size_t i;
	int err;

	*n = 0;
	err = prepare(&d, a, b, o);
	if (!err) {
		select_rows(&d, o);
		/* a row may become two changes: see below */
		*out = calloc(2 * d.n_rows + 1, sizeof(**out));
		if (!*out)
			err = -ENOMEM;
	}
	for (i = 0; !err && i < d.n_rows; i++) {
		const struct drow *r = &d.rows[i];

		/*
		 * A path whose cache each kernel names otherwise counts in A's
		 * cache for A and in B's for B, as the per-cache table counts it.
		 */
		if (r->rep[0] && r->rep[1] && strcmp(r->rep[0]->cache, r->rep[1]->cache)) {
			err = add_change(*out, n, r, 0, r->rep[0], a, b);
			if (!err)
				err = add_change(*out, n, r, 1, r->rep[1], a, b);
		} else {
			err = add_change(*out, n, r, -1, r->rep[1] ? r->rep[1] : r->rep[0], a, b);
		}
	}
	if (err) {
		diff__free_changes(*out, *n);
		*out = NULL;
		*n = 0;
	}
	data_free(&d);
	return err;
}

void diff__free_changes(struct diff_change *c, size_t n)
{
	size_t i;

	for (i = 0; c && i < n; i++)
		free(c[i].frames);
	free(c);
}

char *diff__frame_name(const char *sym)
{
	return strip_offset(sym);
}
