// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Outstanding slab allocations per kernel stack. Every allocation event is
 * filtered first (self, pid/process tree, cgroup, comm, size, cache, sample),
 * and only what passes pays for the stack walk (~2 us, the dominant cost).
 * Frees are never filtered: whoever frees a recorded address (an RCU
 * callback, a kworker, a softirq) retires it, and allocations and frees are
 * paired by address across all four events, because objects from a cache are
 * often freed with kfree(). Totals per site (stack + cache) are kept here so a
 * report never has to count allocations it is not shown.
 *
 * Each hook exists as tp_btf (preferred: no tracefs, no record copy, the
 * struct kmem_cache itself, and a per-program recursion guard instead of the
 * per-CPU one classic tracepoints share, which dropped 2-3% of frees) and as
 * a classic tracepoint; the pre-6.1 event layouts have variants of their own.
 * Userspace picks one set with bpf_program__set_autoload().
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "kleak.h"
#include "core_fixes.bpf.h"

#define ENOENT 2
#define ENOMEM 12
#define EEXIST 17

const volatile __u32 self_tgid;
const volatile __u32 targ_tgid;
const volatile bool follow;
const volatile bool filter_cgroup;
const volatile bool filter_comm;
const volatile char targ_comm[KLEAK_COMM_LEN];
const volatile __u64 comm_mask[2];
const volatile __u64 min_size;
const volatile __u64 max_size = ~0ULL;
const volatile bool filter_cache;
const volatile __u32 n_cache_names;
const volatile char cache_names[KLEAK_MAX_CACHE_NAMES][KLEAK_CACHE_NAME_LEN];
/* bytes_alloc of the kmalloc-N cache named by --cache; 0: kmalloc never matches */
const volatile __u64 cache_kmalloc_size;
const volatile __u32 sample_rate = 1;
/* --stack-depth in bytes; the stacks map's value size */
const volatile __u32 stack_bytes = KLEAK_MAX_STACK_DEPTH * sizeof(__u64);
const volatile bool trace_events;
const volatile bool stack_cache = true;
/* --stack-cache check: walk every stack anyway and count templates that disagree */
const volatile bool stack_cache_check;
const volatile __u32 nr_cpus = 1;
/* allocs holds bucket_groups << bucket_group_shift buckets (see kleak_bucket_of) */
const volatile __u32 bucket_groups = 1;
const volatile __u32 bucket_group_shift;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	/* a report reads the records in place */
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct kleak_bucket);
	__uint(max_entries, 1);	/* sized by --max-allocs */
} allocs SEC(".maps");

/*
 * One bit per allocs bucket, set before a record first goes in and never
 * cleared: a free of an address whose first bucket never held a record stops
 * at this bitmap (21 KiB at defaults) without touching the buckets, whose
 * lines are cold (a miss each, most of a late free's cost). With a filter
 * that selects a few allocations that is nearly every free in the system.
 * Never cleared, because a bucket emptied on one CPU can be filled on
 * another between the check and the clear; a long or unfiltered run sets
 * them all, and frees then cost what they did without it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);	/* one word per 64 buckets */
} bucket_used SEC(".maps");

/* site key -> index into site_totals */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct kleak_site);
	__type(value, __u32);
	__uint(max_entries, 1);	/* sized by --max-sites */
} sites SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct kleak_site_totals);
	__uint(max_entries, 1);	/* sized by --max-sites */
} site_totals SEC(".maps");

/*
 * Each CPU hands out the indices of site_totals congruent to its id modulo
 * nr_cpus: no atomic on a counter every CPU would share.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} site_cursor SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct kleak_stats);
	__uint(max_entries, 1);
} stats SEC(".maps");

/* Tasks of a followed process tree, marked at fork. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u8);
} tracked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} cgroup_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1);	/* sized by the loader when --trace is on */
} events SEC(".maps");

/*
 * Set before the first record goes into allocs, never cleared. Until then,
 * the usual state when a filter matches nothing, frees and filtered-out
 * allocations skip the buckets (a cache miss each). A count of live records
 * would allow the same after everything is freed again, but it cost an
 * atomic on one cache line every CPU shares per recorded allocation and free
 * (kmem_cache_alloc went from 840 to 751 ns per event here without it), and
 * a leak hunt keeps records outstanding anyway.
 */
bool any_recorded;

static __always_inline struct kleak_stats *stats_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline void stat_inc(enum kleak_stat i)
{
	struct kleak_stats *s = stats_get();

	if (s)
		s->counters[i]++;
}

static __always_inline bool is_tracked(struct task_struct *task)
{
	/*
	 * Nearly every task has no BPF task storage at all: one load on the
	 * current task instead of a helper call and a storage lookup (~20 ns
	 * per allocation of every untraced task in `-- COMMAND` mode here).
	 */
	if (bpf_core_field_exists(task->bpf_storage) && !task->bpf_storage)
		return false;
	return bpf_task_storage_get(&tracked, task, 0, 0) != NULL;
}

/*
 * Two 8-byte loads straight from the task, cheaper than bpf_get_current_comm()
 * copying into a buffer, on a check every allocation in the system pays for.
 * comm_mask covers the name and its NUL: kernels before strscpy_pad() in
 * __set_task_comm() may leave bytes of an older, longer name after it.
 */
static __always_inline bool comm_matches(struct task_struct *task)
{
	/* keep volatile: clang folds a const object read through a plain pointer */
	const volatile __u64 *want = (const volatile __u64 *)targ_comm;
	__u64 lo = *(__u64 *)&task->comm[0];
	__u64 hi = *(__u64 *)&task->comm[8];

	return !((lo ^ want[0]) & comm_mask[0]) && !((hi ^ want[1]) & comm_mask[1]);
}

static __always_inline bool name_matches(const char *name, int idx)
{
	int i;

	for (i = 0; i < KLEAK_CACHE_NAME_LEN; i++) {
		if (name[i] != cache_names[idx][i])
			return false;
		if (!name[i])
			break;
	}
	return true;
}

static __always_inline bool cache_matches(__u32 kind, __u64 bytes, const char *kname)
{
	char name[KLEAK_CACHE_NAME_LEN] = {};
	int i;

	if (kind == KLEAK_SITE_KMALLOC)
		return bytes == cache_kmalloc_size;
	if (!kname || bpf_probe_read_kernel_str(name, sizeof(name), kname) < 0)
		return false;
	for (i = 0; i < KLEAK_MAX_CACHE_NAMES; i++) {
		if (i >= n_cache_names)
			break;
		if (name_matches(name, i))
			return true;
	}
	return false;
}

/* The name as bpf_get_current_comm() gives it, bytes after its NUL aside. */
static __always_inline void comm_copy(char *dst, struct task_struct *task)
{
	((__u64 *)dst)[0] = *(__u64 *)&task->comm[0];
	((__u64 *)dst)[1] = *(__u64 *)&task->comm[8];
}

/* Cheapest checks first; all of them before the stack walk. */
static __always_inline bool alloc_wanted(struct task_struct *task, __u64 bytes, __u32 kind,
					 const char *name)
{
	__u32 tgid = task->tgid;

	if (tgid == self_tgid)
		return false;
	if (bytes < min_size || bytes > max_size)
		return false;
	if (targ_tgid && tgid != targ_tgid && !(follow && is_tracked(task)))
		return false;
	if (filter_cgroup && bpf_current_task_under_cgroup(&cgroup_filter, 0) != 1)
		return false;
	if (filter_comm && !comm_matches(task))
		return false;
	if (filter_cache && !cache_matches(kind, bytes, name))
		return false;
	return true;
}

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
static __always_inline int ctx_on_stack(struct kleak_stats *s, void *ctx, struct task_struct *task,
					struct kleak_tpl_key *key, __u64 *addr)
{
	__u64 base = (__u64)task->stack;

	*(volatile __u64 *)&s->ctx_addr = (__u64)ctx;
	*addr = *(volatile __u64 *)&s->ctx_addr;
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
	__u64 now = bpf_ktime_get_ns(), *last;
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
	if (!nwords || bpf_probe_read_kernel(r->ips, sizeof(r->ips), frames) ||
	    bpf_probe_read_kernel(r->words, nwords * sizeof(__u64), (void *)addr)) {
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
static __always_inline void stack_get(void *ctx, struct kleak_stats *s, struct task_struct *task,
				      __u64 call_site, struct kleak_site *site, __u64 **frames)
{
	struct kleak_tpl_key key = { .call_site = call_site, .kind = site->kind };
	__u64 addr, cached, seen[KLEAK_TPL_WAYS] = {};
	__u32 nframes, way;

	if (!stack_cache || !call_site || ctx_on_stack(s, ctx, task, &key, &addr)) {
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

static __always_inline struct kleak_site_totals *totals_of(__u32 idx)
{
	return bpf_map_lookup_elem(&site_totals, &idx);
}

/*
 * The index of a site, created on its first allocation together with its
 * stack; the cache name is read then too, never per allocation. Returns
 * false when the site tables are full.
 */
static __always_inline bool site_index(struct kleak_stats *s, const struct kleak_site *site,
				       __u64 obj_size, const __u64 *frames, const char *name,
				       __u32 *idx)
{
	struct kleak_site_totals *t;
	__u32 *found, *cursor, zero = 0;
	long err;

	if (s->last_site.stack == site->stack && s->last_site.cache == site->cache &&
	    s->last_site.kind == site->kind && s->last_site.stack_err == site->stack_err) {
		*idx = s->last_idx;
		return true;
	}
	found = bpf_map_lookup_elem(&sites, site);
	if (found) {
		*idx = *found;
		s->last_site = *site;
		s->last_idx = *found;
		return true;
	}
	cursor = bpf_map_lookup_elem(&site_cursor, &zero);
	if (!cursor)
		return false;
	*idx = *cursor * nr_cpus + bpf_get_smp_processor_id();
	t = totals_of(*idx);
	if (!t)
		return false;
	if (frames) {
		err = bpf_map_update_elem(&stacks, &site->stack, frames, BPF_NOEXIST);
		if (err && err != -EEXIST)
			s->counters[STAT_STACK_MAP_FULL]++;
	}
	(*cursor)++;
	t->site = *site;
	t->obj_size = obj_size;
	if (name)
		bpf_probe_read_kernel_str(t->cache_name, sizeof(t->cache_name), name);
	err = bpf_map_update_elem(&sites, site, idx, BPF_NOEXIST);
	if (!err)
		return true;
	/* another CPU created it first: its slot wins, this one stays unused */
	found = bpf_map_lookup_elem(&sites, site);
	if (!found)
		return false;
	*idx = *found;
	return true;
}

static __always_inline void site_sub(__u32 idx, bool retired)
{
	struct kleak_site_totals *t = totals_of(idx);

	if (!t)
		return;
	__sync_fetch_and_add(&t->count, -1);
	if (retired)
		__sync_fetch_and_add(&t->retired, 1);
}

static __always_inline void emit(__u32 type, __u64 addr, const struct kleak_alloc *a)
{
	struct task_struct *task;
	struct kleak_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(STAT_EVENTS_DROPPED);
		return;
	}
	e->type = type;
	e->addr = addr;
	e->alloc = *a;
	e->free_ts_ns = 0;
	e->free_pid = 0;
	__builtin_memset(e->free_comm, 0, sizeof(e->free_comm));
	if (type == KLEAK_EVENT_FREE) {
		task = bpf_get_current_task_btf();
		e->free_ts_ns = bpf_ktime_get_ns();
		e->free_pid = task->pid;
		comm_copy(e->free_comm, task);
	}
	bpf_ringbuf_submit(e, 0);
}

static __always_inline struct kleak_bucket *bucket_get(__u32 idx)
{
	return bpf_map_lookup_elem(&allocs, &idx);
}

static __always_inline __u64 *bucket_used_word(__u32 idx)
{
	__u32 word = idx / 64;

	return bpf_map_lookup_elem(&bucket_used, &word);
}

/* Whether a record ever went into bucket idx (see bucket_used). */
static __always_inline bool bucket_ever_used(__u32 idx)
{
	__u64 *w = bucket_used_word(idx);

	return w && (*w & (1ULL << (idx % 64)));
}

/* Before a record's address goes into bucket idx: a free of it comes after. */
static __always_inline void bucket_mark_used(__u32 idx)
{
	__u64 *w = bucket_used_word(idx), bit = 1ULL << (idx % 64);

	if (w && !(*w & bit))
		__sync_fetch_and_or(w, bit);
}

/*
 * Takes addr's record out of bucket b: 1 when it was there, 0 when not, -1
 * when another CPU took it first. With retired set, the address is being
 * allocated again, so its free was never seen: the record is retired and
 * charged to its site instead of staying behind as a false leak.
 */
static __always_inline int take(struct kleak_bucket *b, __u64 addr, bool retired)
{
	struct kleak_alloc copy;
	__u32 i, site;

	for (i = 0; i < KLEAK_BUCKET_SLOTS; i++) {
		if (b->addr[i] != addr)
			continue;
		if (trace_events && !retired)
			copy = b->rec[i];
		/*
		 * A free and a retirement of one address can race (the kfree
		 * event comes before the memory is free): whoever takes the
		 * site charges it, once.
		 */
		site = b->rec[i].site;
		if (site == KLEAK_NO_SITE ||
		    __sync_val_compare_and_swap(&b->rec[i].site, site, KLEAK_NO_SITE) != site)
			return -1;
		b->addr[i] = 0;
		site_sub(site, retired);
		if (trace_events && !retired)
			emit(KLEAK_EVENT_FREE, addr, &copy);
		return 1;
	}
	return 0;
}

/* Removes the record of addr, if any (see take()); true when this call did. */
static __always_inline bool forget(__u64 addr, bool retired)
{
	struct kleak_bucket *first, *b;
	__u32 w, idx;
	int r;

	if (!any_recorded)
		return false;
	/* a record spills only once its first bucket's own slots are taken: marked used */
	idx = kleak_bucket_of(addr, 0, bucket_groups, bucket_group_shift);
	if (!bucket_ever_used(idx))
		return false;
	first = bucket_get(idx);
	if (!first)
		return false;
	r = take(first, addr, retired);
	if (r || !first->spilled)
		return r > 0;
	for (w = 1; w < KLEAK_BUCKET_WAYS; w++) {
		idx = kleak_bucket_of(addr, w, bucket_groups, bucket_group_shift);
		if (!bucket_ever_used(idx))
			continue;
		b = bucket_get(idx);
		if (!b)
			continue;
		r = take(b, addr, retired);
		if (r > 0)
			__sync_fetch_and_add(&first->spilled, -1);
		if (r)
			return r > 0;
	}
	return false;
}

/*
 * Claims a free slot of bucket idx for addr: the slot is claimed, the record
 * written, and only then does the address go in, so that readers never see
 * half a record. Sets *busy when another CPU took a slot this one was about
 * to.
 */
static __always_inline bool claim(struct kleak_bucket *b, __u32 idx, __u32 slots, __u64 addr,
				  const struct kleak_alloc *rec, bool *busy)
{
	__u32 i;

	for (i = 0; i < slots; i++) {
		if (b->addr[i])
			continue;
		if (__sync_val_compare_and_swap(&b->addr[i], 0, KLEAK_ADDR_CLAIMED)) {
			*busy = true;
			continue;
		}
		b->rec[i] = *rec;
		bucket_mark_used(idx);
		barrier();
		b->addr[i] = addr;
		return true;
	}
	return false;
}

static __always_inline __u32 free_slots(const struct kleak_bucket *b)
{
	__u32 i, n = 0;

	for (i = 0; i < KLEAK_BUCKET_SLOTS; i++)
		n += !b->addr[i];
	return n;
}

/* Claims a slot of bucket idx for addr, whose first bucket is full. */
static __always_inline bool spill(struct kleak_bucket *first, __u32 first_idx, struct kleak_bucket *b,
				  __u32 idx, __u64 addr, const struct kleak_alloc *rec, bool *busy)
{
	/* a record back in its first bucket is found there: not a spill */
	bool counted = idx != first_idx;

	/* counted before the address goes in, so that a free of it looks on */
	if (counted)
		__sync_fetch_and_add(&first->spilled, 1);
	if (claim(b, idx, KLEAK_BUCKET_SLOTS, addr, rec, busy))
		return true;
	if (counted)
		__sync_fetch_and_add(&first->spilled, -1);
	return false;
}

/*
 * Records addr in its first bucket, or where that has no room for it (see
 * KLEAK_FIRST_SLOTS) in the emptier of its other two, or else in the first
 * bucket's spare slots. False when none has room.
 */
static __always_inline bool record(__u64 addr, const struct kleak_alloc *rec, bool *busy)
{
	__u32 idx = kleak_bucket_of(addr, 0, bucket_groups, bucket_group_shift), idx1, idx2, t;
	struct kleak_bucket *first, *b1, *b2, *bt;

	first = bucket_get(idx);
	if (!first)
		return false;
	if (claim(first, idx, KLEAK_FIRST_SLOTS, addr, rec, busy))
		return true;
	idx1 = kleak_bucket_of(addr, 1, bucket_groups, bucket_group_shift);
	idx2 = kleak_bucket_of(addr, 2, bucket_groups, bucket_group_shift);
	b1 = bucket_get(idx1);
	b2 = bucket_get(idx2);
	if (!b1 || !b2)
		return false;
	if (free_slots(b2) > free_slots(b1)) {
		bt = b1, b1 = b2, b2 = bt;
		t = idx1, idx1 = idx2, idx2 = t;
	}
	/* last, the slots the first bucket keeps for others' spills */
	return spill(first, idx, b1, idx1, addr, rec, busy) ||
	       spill(first, idx, b2, idx2, addr, rec, busy) ||
	       claim(first, idx, KLEAK_BUCKET_SLOTS, addr, rec, busy);
}

static __always_inline int on_alloc(void *ctx, __u64 call_site, __u64 addr, __u64 bytes,
				    __u32 kind, __u64 cache, const char *name)
{
	struct kleak_stats *s = stats_get();
	struct kleak_site_totals *t;
	struct kleak_site site = {};
	struct kleak_alloc rec = {};
	struct task_struct *task;
	__u64 *frames = NULL;
	bool busy = false;

	if (!s)
		return 0;
	s->counters[STAT_ALLOC_EVENTS]++;
	if (!addr || s->own_alloc)
		return 0;
	/* any allocation of a recorded address, filtered or not, proves its free was missed */
	if (forget(addr, true))
		s->counters[STAT_REALLOC_RETIRED]++;
	/*
	 * Fetched once for the filters, the stack and the record: a helper
	 * call measured 8-10 ns here, as much as the rest of a filter miss.
	 */
	task = bpf_get_current_task_btf();
	if (!alloc_wanted(task, bytes, kind, name))
		return 0;
	if (sample_rate > 1 && bpf_get_prandom_u32() % sample_rate) {
		s->counters[STAT_SAMPLED_OUT]++;
		return 0;
	}

	site.kind = kind;
	site.cache = cache;
	stack_get(ctx, s, task, call_site, &site, &frames);
	if (site.stack_err)
		s->counters[STAT_STACK_FAULT]++;
	if (!site_index(s, &site, bytes, frames, kind == KLEAK_SITE_CACHE ? name : NULL,
			&rec.site)) {
		s->counters[STAT_SITE_MAP_FULL]++;
		return 0;
	}
	t = totals_of(rec.site);
	if (!t)
		return 0;

	rec.ts_ns = bpf_ktime_get_ns();
	rec.pid = task->pid;
	comm_copy(rec.comm, task);

	if (!any_recorded)
		any_recorded = true;
	if (!record(addr, &rec, &busy)) {
		s->counters[busy ? STAT_ALLOC_MAP_BUSY : STAT_ALLOC_MAP_FULL]++;
		return 0;
	}
	__sync_fetch_and_add(&t->count, 1);
	__sync_fetch_and_add(&t->allocs, 1);
	s->counters[STAT_ALLOCS]++;
	if (trace_events)
		emit(KLEAK_EVENT_ALLOC, addr, &rec);
	return 0;
}

static __always_inline int on_free(__u64 addr)
{
	if (addr && forget(addr, false))
		stat_inc(STAT_FREES);
	return 0;
}

/* tp_btf, 6.1 and later */

SEC("tp_btf/kmalloc")
int BPF_PROG(kmalloc_btf, unsigned long call_site, const void *ptr, size_t bytes_req,
	     size_t bytes_alloc)
{
	return on_alloc(ctx, call_site, (__u64)ptr, bytes_alloc, KLEAK_SITE_KMALLOC, bytes_alloc,
			NULL);
}

SEC("tp_btf/kmem_cache_alloc")
int BPF_PROG(kmem_cache_alloc_btf, unsigned long call_site, const void *ptr, struct kmem_cache *s)
{
	/* tp_btf arguments are trusted pointers: plain loads, no probe_read */
	return on_alloc(ctx, call_site, (__u64)ptr, s->size, KLEAK_SITE_CACHE, (__u64)s, s->name);
}

SEC("tp_btf/kfree")
int BPF_PROG(kfree_btf, unsigned long call_site, const void *ptr)
{
	return on_free((__u64)ptr);
}

SEC("tp_btf/kmem_cache_free")
int BPF_PROG(kmem_cache_free_btf, unsigned long call_site, const void *ptr)
{
	return on_free((__u64)ptr);
}

/*
 * raw_tp: the same per-program recursion guard as tp_btf, but untyped u64
 * arguments. Kernels before about 6.5 refuse tp_btf programs that read a
 * "const void *" argument ("arg1 type UNKNOWN is not a struct", seen on 6.1),
 * which every kmem event has, so there raw_tp is the better of what is left.
 */

SEC("raw_tp/kmalloc")
int kmalloc_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_alloc(ctx, ctx->args[0], ctx->args[1], ctx->args[3], KLEAK_SITE_KMALLOC,
			ctx->args[3], NULL);
}

SEC("raw_tp/kmem_cache_alloc")
int kmem_cache_alloc_raw(struct bpf_raw_tracepoint_args *ctx)
{
	struct kmem_cache *s = (void *)ctx->args[2];

	return on_alloc(ctx, ctx->args[0], ctx->args[1], BPF_CORE_READ(s, size), KLEAK_SITE_CACHE,
			(__u64)s, BPF_CORE_READ(s, name));
}

SEC("raw_tp/kfree")
int kfree_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_free(ctx->args[1]);
}

SEC("raw_tp/kmem_cache_free")
int kmem_cache_free_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return on_free(ctx->args[1]);
}

/*
 * raw_tp before 6.1: (call_site, ptr, bytes_req, bytes_alloc, gfp[, node])
 * for all four allocation events, and no cache pointer.
 */

static __always_inline int on_alloc_raw_old(struct bpf_raw_tracepoint_args *ctx, __u32 kind)
{
	return on_alloc(ctx, ctx->args[0], ctx->args[1], ctx->args[3], kind, ctx->args[3], NULL);
}

SEC("raw_tp/kmalloc")
int kmalloc_raw_old(struct bpf_raw_tracepoint_args *ctx)
{
	return on_alloc_raw_old(ctx, KLEAK_SITE_KMALLOC);
}

SEC("raw_tp/kmalloc_node")
int kmalloc_node_raw_old(struct bpf_raw_tracepoint_args *ctx)
{
	return on_alloc_raw_old(ctx, KLEAK_SITE_KMALLOC);
}

SEC("raw_tp/kmem_cache_alloc")
int kmem_cache_alloc_raw_old(struct bpf_raw_tracepoint_args *ctx)
{
	return on_alloc_raw_old(ctx, KLEAK_SITE_CACHE_UNNAMED);
}

SEC("raw_tp/kmem_cache_alloc_node")
int kmem_cache_alloc_node_raw_old(struct bpf_raw_tracepoint_args *ctx)
{
	return on_alloc_raw_old(ctx, KLEAK_SITE_CACHE_UNNAMED);
}

/*
 * classic tracepoints, for kernels without tp_btf; no call site is passed on:
 * their context is a record buffer, not on the stack the cache reads
 */

/* The pre-6.1 kmem_alloc and kmem_alloc_node records: no cache, no name. */
static __always_inline int on_alloc_tp_old(void *ctx,
					   const struct trace_event_raw_kmem_alloc___old *r,
					   __u32 kind)
{
	__u64 bytes = BPF_CORE_READ(r, bytes_alloc);

	return on_alloc(ctx, 0, (__u64)BPF_CORE_READ(r, ptr), bytes, kind, bytes, NULL);
}

SEC("tracepoint/kmem/kmalloc")
int kmalloc_tp(struct trace_event_raw_kmalloc *ctx)
{
	__u64 bytes;

	if (!bpf_core_type_exists(struct trace_event_raw_kmalloc))
		return on_alloc_tp_old(ctx, (void *)ctx, KLEAK_SITE_KMALLOC);
	bytes = BPF_CORE_READ(ctx, bytes_alloc);
	return on_alloc(ctx, 0, (__u64)BPF_CORE_READ(ctx, ptr), bytes, KLEAK_SITE_KMALLOC, bytes, NULL);
}

/* FNV-1a: an identity for a cache known only by the name in its record */
static __always_inline __u64 name_hash(const char *name)
{
	__u64 h = 0xcbf29ce484222325ULL;
	int i;

	for (i = 0; i < KLEAK_CACHE_NAME_LEN && name[i]; i++)
		h = (h ^ (__u8)name[i]) * 0x100000001b3ULL;
	return h;
}

SEC("tracepoint/kmem/kmem_cache_alloc")
int kmem_cache_alloc_tp(struct trace_event_raw_kmem_cache_alloc *ctx)
{
	char name[KLEAK_CACHE_NAME_LEN] = {};
	const char *kname;
	__u64 bytes, ptr;
	__u32 loc;

	if (!bpf_core_type_exists(struct trace_event_raw_kmem_cache_alloc))
		return on_alloc_tp_old(ctx, (void *)ctx, KLEAK_SITE_CACHE_UNNAMED);
	bytes = BPF_CORE_READ(ctx, bytes_alloc);
	ptr = (__u64)BPF_CORE_READ(ctx, ptr);
	/* 6.1 and 6.12 records carry no name; 6.18's has a __data_loc string */
	if (!bpf_core_field_exists(ctx->__data_loc_name))
		return on_alloc(ctx, 0, ptr, bytes, KLEAK_SITE_CACHE_UNNAMED, bytes, NULL);
	loc = BPF_CORE_READ(ctx, __data_loc_name);
	kname = (const char *)ctx + (loc & 0xffff);
	bpf_probe_read_kernel_str(name, sizeof(name), kname);
	return on_alloc(ctx, 0, ptr, bytes, KLEAK_SITE_CACHE, name_hash(name), kname);
}

SEC("tracepoint/kmem/kfree")
int kfree_tp(struct trace_event_raw_kfree *ctx)
{
	return on_free((__u64)BPF_CORE_READ(ctx, ptr));
}

SEC("tracepoint/kmem/kmem_cache_free")
int kmem_cache_free_tp(struct trace_event_raw_kmem_cache_free *ctx)
{
	return on_free((__u64)BPF_CORE_READ(ctx, ptr));
}

SEC("tracepoint/kmem/kmalloc_node")
int kmalloc_node_tp(struct trace_event_raw_kmem_alloc___old *ctx)
{
	return on_alloc_tp_old(ctx, ctx, KLEAK_SITE_KMALLOC);
}

SEC("tracepoint/kmem/kmem_cache_alloc_node")
int kmem_cache_alloc_node_tp(struct trace_event_raw_kmem_alloc___old *ctx)
{
	return on_alloc_tp_old(ctx, ctx, KLEAK_SITE_CACHE_UNNAMED);
}

/* --follow and -- CMD: every task forked by a traced one is traced too. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	struct kleak_stats *s = stats_get();
	void *mark;

	if (!s || (parent->tgid != targ_tgid && !is_tracked(parent)))
		return 0;
	s->own_alloc = 1;
	mark = bpf_task_storage_get(&tracked, child, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	s->own_alloc = 0;
	if (!mark)
		s->counters[STAT_TRACKED_FULL]++;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
