// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Kernel feature probes and the program sets built on them. A backported
 * kernel (RHEL 8's 4.18 carries much of upstream 5.x BPF) says nothing true
 * by its version, so every decision here rests on a probe: libbpf's map,
 * program type and helper probes, and a tiny program load for what is in
 * the instruction set or the verifier (atomics, tp_btf argument access).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "kernel_features.h"
#include "json.h"
#include "kleak.h"
#include "log.h"

#define F(x) (1U << (x))

static const struct {
	const char *key;
	const char *desc;
} feature_info[FEAT_MAX] = {
	[FEAT_BTF] = { "btf", "kernel BTF (/sys/kernel/btf/vmlinux)" },
	[FEAT_EVENTS_61] = { "kmem_events_6_1", "6.1+ kmem events (kmem_cache_alloc passes its cache)" },
	[FEAT_PAGE_SLAB_CACHE] = { "page_slab_cache",
		"struct page's slab_cache (before 5.17): cache names for the pre-6.1 events" },
	[FEAT_TRACEFS] = { "tracefs", "tracefs, for classic tracepoints" },
	[FEAT_RAW_TP] = { "raw_tp", "raw tracepoint programs" },
	[FEAT_TP_BTF] = { "tp_btf", "tp_btf programs (BTF-typed tracepoints)" },
	[FEAT_TP_BTF_VOID] = { "tp_btf_void_args", "tp_btf reading the kmem events' void * arguments" },
	[FEAT_ATOMICS] = { "atomics", "BPF atomics (compare-and-swap, fetch-and-add, or)" },
	[FEAT_TASK_STORAGE] = { "task_storage", "BPF task storage" },
	[FEAT_TASK_BTF] = { "get_current_task_btf", "bpf_get_current_task_btf()" },
	[FEAT_RINGBUF] = { "ringbuf", "BPF ring buffer" },
	[FEAT_MMAP_ARRAY] = { "mmapable_arrays", "mmap-able BPF arrays" },
	[FEAT_PROBE_READ_KERNEL] = { "probe_read_kernel", "bpf_probe_read_kernel()" },
	[FEAT_PAGE_EVENTS] = { "page_events",
		"kmem:mm_page_alloc, mm_page_free and mm_page_free_batched (--pages)" },
	[FEAT_VMALLOC_EVENTS] = { "vmalloc_events",
		"vmalloc:alloc_vmap_area and free_vmap_area_noflush (--vmalloc)" },
	[FEAT_PERCPU_EVENTS] = { "percpu_events",
		"percpu:percpu_alloc_percpu and percpu_free_percpu (--percpu)" },
	[FEAT_VMALLOC_FENTRY] = { "vmalloc_fentry",
		"fexit of alloc_vmap_area() and fentry of free_vmap_area_noflush() (--vmalloc "
		"without its events)" },
	[FEAT_PROBE_READ_USER] = { "probe_read_user", "bpf_probe_read_user() (--ustack)" },
	[FEAT_VMA_TREE] = { "vma_tree",
		"BTF of the VMA tree, mm_struct's mm_rb or mm_mt (--ustack's walker)" },
	[FEAT_ITER_TASK] = { "iter_task", "task iterator: task_struct classes, executables" },
	[FEAT_ITER_TASK_FILE] = { "iter_task_file",
		"task_file iterator: files and sockets in fd tables" },
	[FEAT_ITER_TASK_VMA] = { "iter_task_vma", "task_vma iterator: files mapped into memory" },
	[FEAT_ITER_TCP] = { "iter_tcp", "tcp iterator: TCP sockets in no fd table" },
	[FEAT_ITER_UDP] = { "iter_udp", "udp iterator: UDP sockets in no fd table" },
	[FEAT_ITER_UNIX] = { "iter_unix", "unix iterator: UNIX sockets in no fd table" },
};

static const struct {
	const char *name;
	unsigned int needs;
} ustack_info[USTACK_MODES] = {
	[USTACK_MODE_FP] = { "fp", F(FEAT_BTF) | F(FEAT_PROBE_READ_USER) | F(FEAT_VMA_TREE) |
		F(FEAT_MMAP_ARRAY) | F(FEAT_RINGBUF) },
	[USTACK_MODE_DWARF] = { "dwarf", F(FEAT_PROBE_READ_USER) | F(FEAT_RINGBUF) },
};

/* Each iterator's BTF function: DEFINE_BPF_ITER_FUNC() defines bpf_iter_<name>. */
static const char *const iter_funcs[] = {
	[FEAT_ITER_TASK - FEAT_ITER_TASK] = "bpf_iter_task",
	[FEAT_ITER_TASK_FILE - FEAT_ITER_TASK] = "bpf_iter_task_file",
	[FEAT_ITER_TASK_VMA - FEAT_ITER_TASK] = "bpf_iter_task_vma",
	[FEAT_ITER_TCP - FEAT_ITER_TASK] = "bpf_iter_tcp",
	[FEAT_ITER_UDP - FEAT_ITER_TASK] = "bpf_iter_udp",
	[FEAT_ITER_UNIX - FEAT_ITER_TASK] = "bpf_iter_unix",
};

/* Each allocator's events, "system/name": all present, or the allocator is unavailable. */
static const char *const allocator_events[][3] = {
	[FEAT_PAGE_EVENTS - FEAT_PAGE_EVENTS] = {
		"kmem/mm_page_alloc", "kmem/mm_page_free", "kmem/mm_page_free_batched" },
	[FEAT_VMALLOC_EVENTS - FEAT_PAGE_EVENTS] = {
		"vmalloc/alloc_vmap_area", "vmalloc/free_vmap_area_noflush" },
	[FEAT_PERCPU_EVENTS - FEAT_PAGE_EVENTS] = {
		"percpu/percpu_alloc_percpu", "percpu/percpu_free_percpu" },
};

/*
 * What every set's programs and maps use; src/loader.c loads them. Every
 * set reads kernel memory (stack words, cache names) with
 * bpf_probe_read_kernel(); the map types and other helpers they use (hash,
 * LRU hash, per-CPU and cgroup arrays, bpf_get_stack()) came before the
 * ring buffer (5.8) and are not probed. FEAT_BTF is the kernel's own BTF,
 * except for a set marked any_btf, which only CO-RE-relocates against it
 * and takes a --btf FILE instead.
 */
#define NEEDS_ATOMIC_CORE (F(FEAT_BTF) | F(FEAT_ATOMICS) | F(FEAT_TASK_STORAGE) | \
			   F(FEAT_TASK_BTF) | F(FEAT_RINGBUF) | F(FEAT_MMAP_ARRAY) | \
			   F(FEAT_PROBE_READ_KERNEL))

static const struct {
	const char *name;
	unsigned int needs;
	bool any_btf;
	const char *gives_up;
} set_info[SET_MAX] = {
	/* tp_btf on sched_process_fork marks a followed child in task storage */
	[SET_TP_BTF] = { "tp_btf", F(FEAT_EVENTS_61) | F(FEAT_TP_BTF) | F(FEAT_TP_BTF_VOID) |
		NEEDS_ATOMIC_CORE, false, NULL },
	[SET_RAW_TP] = { "raw_tp", F(FEAT_RAW_TP) | F(FEAT_TP_BTF) | NEEDS_ATOMIC_CORE, false,
		NULL },
	/* without the ring buffer it gives up what needs it (features__gives_up()) */
	[SET_COMPAT] = { "compat", F(FEAT_BTF) | F(FEAT_RAW_TP) | F(FEAT_PROBE_READ_KERNEL), true,
		"records in a BPF hash map, a locked bucket per recorded allocation and free "
		"(make bench measures it); at most 65536 followed tasks not yet freed at once" },
	[SET_TRACEPOINT] = { "tracepoint", F(FEAT_TRACEFS) | NEEDS_ATOMIC_CORE, false,
		"classic tracepoints share one per-CPU recursion guard (2-3% of frees lost "
		"under load, counted); no stack cache; no --follow or -- COMMAND" },
};

const char *features__name(enum kleak_feature feat)
{
	return feature_info[feat].desc;
}

bool features__has_iter(const struct btf *btf, enum kleak_feature iter)
{
	return btf && iter >= FEAT_ITER_TASK && iter <= FEAT_ITER_UNIX &&
	       btf__find_by_name_kind(btf, iter_funcs[iter - FEAT_ITER_TASK], BTF_KIND_FUNC) >= 0;
}

const char *features__set_name(enum kleak_set set)
{
	return set_info[set].name;
}

int features__set_by_name(const char *name)
{
	int i;

	for (i = 0; i < SET_MAX; i++)
		if (!strcmp(name, set_info[i].name))
			return i;
	return -1;
}

/* Whether set needs feat and f lacks it (a --btf file standing in for any_btf's BTF). */
static bool lacks(const struct features *f, enum kleak_set set, enum kleak_feature feat)
{
	if (!(set_info[set].needs & F(feat)) || f->has[feat])
		return false;
	return !(feat == FEAT_BTF && set_info[set].any_btf && f->btf_file);
}

enum kleak_feature features__missing(const struct features *f, enum kleak_set set)
{
	int i;

	for (i = 0; i < FEAT_MAX && !lacks(f, set, i); i++)
		;
	return i;
}

static const char *tracefs_events(void)
{
	if (!access("/sys/kernel/tracing/events/kmem", F_OK))
		return "/sys/kernel/tracing/events";
	if (!access("/sys/kernel/debug/tracing/events/kmem", F_OK))
		return "/sys/kernel/debug/tracing/events";
	return NULL;
}

static bool tracefs_in_kernel(void)
{
	char line[128];
	bool found = false;
	FILE *fp = fopen("/proc/filesystems", "r");

	if (!fp)
		return false;
	while (!found && fgets(line, sizeof(line), fp))
		found = strstr(line, "\ttracefs\n") != NULL;
	fclose(fp);
	return found;
}

static bool prog_loads(enum bpf_prog_type type, const struct bpf_insn *insns, size_t n,
		       const struct bpf_prog_load_opts *opts)
{
	int fd = bpf_prog_load(type, NULL, "GPL", insns, n, opts);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
						.off = (o), .imm = (i) })
#define MOV64_IMM(d, i)	INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define EXIT()		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/*
 * The three atomic forms the bucket store uses, on a stack slot. Kernels
 * before 5.12 know only BPF_XADD (an add without fetch) and refuse these
 * with "BPF_XADD uses reserved fields".
 */
static bool probe_atomics(void)
{
	const struct bpf_insn insns[] = {
		INSN(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -8, 0),
		MOV64_IMM(BPF_REG_0, 0),
		MOV64_IMM(BPF_REG_1, 1),
		INSN(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_10, BPF_REG_1, -8, BPF_CMPXCHG),
		INSN(BPF_STX | BPF_ATOMIC | BPF_W, BPF_REG_10, BPF_REG_1, -8, BPF_CMPXCHG),
		INSN(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_10, BPF_REG_1, -8, BPF_OR),
		MOV64_IMM(BPF_REG_0, 0),
		EXIT(),
	};

	return prog_loads(BPF_PROG_TYPE_SOCKET_FILTER, insns, sizeof(insns) / sizeof(insns[0]),
			  NULL);
}

/*
 * A tp_btf program on event, returning 0 or, with read_arg, reading its
 * second argument as kleak's kmem programs read kfree's "const void *ptr".
 * Verifiers before about 6.5 refuse that read ("arg1 type UNKNOWN is not a
 * struct"); tp_btf itself is 5.5.
 */
static bool probe_tp_btf(const struct btf *btf, const char *event, bool read_arg)
{
	const struct bpf_insn read[] = {
		INSN(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_2, BPF_REG_1, 8, 0),
		MOV64_IMM(BPF_REG_0, 0),
		EXIT(),
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_RAW_TP);
	int id = btf ? btf__find_by_name_kind(btf, event, BTF_KIND_TYPEDEF) : -1;

	if (id < 0)
		return false;
	opts.attach_btf_id = id;
	return read_arg ? prog_loads(BPF_PROG_TYPE_TRACING, read, 3, &opts) :
			  prog_loads(BPF_PROG_TYPE_TRACING, &read[1], 2, &opts);
}

/* A do-nothing tracing program of attach type type loads for kernel function name. */
static bool fentry_loads(const struct btf *btf, const char *name, enum bpf_attach_type type)
{
	const struct bpf_insn insns[] = {
		MOV64_IMM(BPF_REG_0, 0),
		EXIT(),
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = type);
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_FUNC);

	if (id < 0)
		return false;
	opts.attach_btf_id = id;
	return prog_loads(BPF_PROG_TYPE_TRACING, insns, sizeof(insns) / sizeof(insns[0]), &opts);
}

/* The number of arguments of kernel function name in btf, -1 where it has none. */
static int func_args(const struct btf *btf, const char *name)
{
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_FUNC);
	const struct btf_type *t = id < 0 ? NULL : btf__type_by_id(btf, btf__type_by_id(btf, id)->type);

	return t && btf_is_func_proto(t) ? btf_vlen(t) : -1;
}

/*
 * vmalloc's functions, for kernels without its events (before 6.12): the
 * programs (bpf/allocators.bpf.h) read alloc_vmap_area()'s result after
 * the six arguments it has from 5.2 to 6.2 (6.3 added a seventh, which
 * x86 trampolines before 6.6 cannot take), and both functions must load
 * as fentry targets: not inlined, in BTF, and the kernel able to trace
 * them (this host's 6.18 build refuses fentry with EPERM).
 */
static bool probe_vmalloc_fentry(const struct btf *btf)
{
	return btf && func_args(btf, "alloc_vmap_area") == 6 &&
	       func_args(btf, "free_vmap_area_noflush") == 1 &&
	       fentry_loads(btf, "alloc_vmap_area", BPF_TRACE_FEXIT) &&
	       fentry_loads(btf, "free_vmap_area_noflush", BPF_TRACE_FENTRY);
}

static bool probe_mmap_array(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 8, 1, &opts);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool has_helper(enum bpf_func_id id)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT, id, NULL) == 1;
}

static bool btf_has_typedef(const struct btf *btf, const char *name)
{
	return btf && btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) >= 0;
}

/* Whether the kernel has every event of events: its BTF's btf_trace_<name>, else tracefs. */
static bool has_events(const struct btf *btf, const char *tracefs_events,
		       const char *const events[3])
{
	char buf[256];
	int i;

	for (i = 0; i < 3 && events[i]; i++) {
		if (btf)
			snprintf(buf, sizeof(buf), "btf_trace_%s", strchr(events[i], '/') + 1);
		else if (tracefs_events)
			snprintf(buf, sizeof(buf), "%s/%s", tracefs_events, events[i]);
		else
			return false;
		if (btf ? !btf_has_typedef(btf, buf) : access(buf, F_OK))
			return false;
	}
	return true;
}

/* Whether struct or union id has member name, looking into anonymous members. */
static bool btf_has_member(const struct btf *btf, __u32 id, const char *name, int depth)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	const struct btf_member *m;
	int i;

	if (!t || depth > 4 || (!btf_is_struct(t) && !btf_is_union(t)))
		return false;
	for (i = 0, m = btf_members(t); i < btf_vlen(t); i++, m++) {
		const char *n = btf__name_by_offset(btf, m->name_off);

		if (n && !strcmp(n, name))
			return true;
		if ((!n || !*n) && btf_has_member(btf, btf__resolve_type(btf, m->type), name,
						  depth + 1))
			return true;
	}
	return false;
}

/* The walker finds a user address's VMA in the tree the kernel keeps (bpf/ubinary.bpf.h). */
static bool has_vma_tree(const struct btf *btf)
{
	int id = btf ? btf__find_by_name_kind(btf, "mm_struct", BTF_KIND_STRUCT) : -1;

	return id >= 0 && (btf_has_member(btf, id, "mm_rb", 0) || btf_has_member(btf, id, "mm_mt", 0));
}

/* The pre-6.1 programs read a slab object's cache from its page (bpf/kleak.bpf.c). */
static bool page_has_slab_cache(const struct btf *btf)
{
	int id = btf ? btf__find_by_name_kind(btf, "page", BTF_KIND_STRUCT) : -1;

	return id >= 0 && btf_has_member(btf, id, "slab_cache", 0);
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

/*
 * For testing: the features named in keys (comma-separated) taken as
 * missing, so that a degraded path runs on a kernel that has them.
 */
static int hide_features(struct features *f, const char *keys)
{
	char *list, *key, *save = NULL;
	int i, err = 0;

	if (!keys || !*keys)
		return 0;
	list = strdup(keys);
	if (!list)
		return -ENOMEM;
	for (key = strtok_r(list, ",", &save); key && !err; key = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < FEAT_MAX && strcmp(key, feature_info[i].key); i++)
			;
		if (i == FEAT_MAX) {
			pr_err("KLEAK_HIDE_FEATURES: '%s' is not a feature (kleak features lists "
			       "them)", key);
			err = -EINVAL;
		} else {
			f->has[i] = false;
		}
	}
	free(list);
	return err;
}

int features__probe(struct features *f, const char *btf_path)
{
	libbpf_print_fn_t old = libbpf_set_print(quiet_print);
	struct btf *kbtf = NULL, *btf;
	struct utsname u;
	int i, err = 0;

	memset(f, 0, sizeof(*f));
	if (!uname(&u))
		snprintf(f->kernel, sizeof(f->kernel), "%s", u.release);
	f->has[FEAT_BTF] = !access("/sys/kernel/btf/vmlinux", R_OK);
	if (f->has[FEAT_BTF])
		kbtf = btf__load_vmlinux_btf();
	btf = btf_path ? btf__parse(btf_path, NULL) : kbtf;
	if (btf_path && !btf) {
		char msg[128];

		err = -errno;
		/* its errors are libbpf's own codes past errno's (LIBBPF_ERRNO__FORMAT) */
		libbpf_strerror(err, msg, sizeof(msg));
		pr_err("cannot parse BTF file %s: %s", btf_path, msg);
	}
	f->btf_file = btf_path && btf;
	f->tracefs_events = tracefs_events();
	f->has[FEAT_TRACEFS] = f->tracefs_events || tracefs_in_kernel();
	/* every tracepoint has a btf_trace_<name> typedef; without BTF, ask tracefs */
	if (btf)
		f->has[FEAT_EVENTS_61] = btf_has_typedef(btf, "btf_trace_kmalloc") &&
					 !btf_has_typedef(btf, "btf_trace_kmalloc_node");
	else if (f->tracefs_events)
		f->has[FEAT_EVENTS_61] = !access("/sys/kernel/tracing/events/kmem/kmalloc_node",
						 F_OK);
	f->has[FEAT_PAGE_SLAB_CACHE] = page_has_slab_cache(btf);
	f->has[FEAT_RAW_TP] = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL) == 1;
	f->has[FEAT_TP_BTF] = probe_tp_btf(kbtf, "btf_trace_sched_process_fork", false);
	f->has[FEAT_TP_BTF_VOID] = probe_tp_btf(kbtf, "btf_trace_kfree", true);
	f->has[FEAT_ATOMICS] = probe_atomics();
	f->has[FEAT_TASK_STORAGE] = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) == 1;
	f->has[FEAT_TASK_BTF] = f->has[FEAT_BTF] && has_helper(BPF_FUNC_get_current_task_btf);
	f->has[FEAT_RINGBUF] = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
	f->has[FEAT_MMAP_ARRAY] = probe_mmap_array();
	f->has[FEAT_PROBE_READ_KERNEL] = has_helper(BPF_FUNC_probe_read_kernel);
	f->has[FEAT_PROBE_READ_USER] = has_helper(BPF_FUNC_probe_read_user);
	f->has[FEAT_VMA_TREE] = has_vma_tree(btf);
	for (i = FEAT_PAGE_EVENTS; i <= FEAT_PERCPU_EVENTS; i++)
		f->has[i] = has_events(btf, f->tracefs_events, allocator_events[i - FEAT_PAGE_EVENTS]);
	f->has[FEAT_VMALLOC_FENTRY] = probe_vmalloc_fentry(kbtf);
	/* iterators attach to the running kernel's BTF, never to --btf's */
	for (i = FEAT_ITER_TASK; i <= FEAT_ITER_UNIX; i++)
		f->has[i] = features__has_iter(kbtf, i);
	if (btf != kbtf)
		btf__free(btf);
	btf__free(kbtf);
	libbpf_set_print(old);
	return err ?: hide_features(f, getenv("KLEAK_HIDE_FEATURES"));
}

/* The one line saying why no set of sets[n] can load on a kernel with f. */
static void none_loads(const struct features *f, const enum kleak_set *sets, int n, char *why,
		       size_t len)
{
	unsigned int common = ~0U;
	size_t off = 0;
	int i;

	for (i = 0; i < n; i++)
		common &= set_info[sets[i]].needs;
	for (i = 0; i < FEAT_MAX; i++) {
		if (!(common & F(i)) || f->has[i])
			continue;
		if (i == FEAT_BTF)
			snprintf(why, len, "this kernel has no BTF (/sys/kernel/btf/vmlinux): pass "
				 "--btf FILE with its BTF, with which the compat set loads");
		else
			snprintf(why, len, "this kernel lacks %s, which every kleak program set "
				 "needs", feature_info[i].desc);
		return;
	}
	for (i = 0; i < n; i++)
		off += snprintf(why + off, off < len ? len - off : 0, "%s%s%s lacks %s",
				i ? ", " : "", i ? "" : "no kleak program set can load on this "
				"kernel: ", set_info[sets[i]].name,
				feature_info[features__missing(f, sets[i])].key);
}

int features__choose(const struct features *f, const char *forced, enum kleak_set *sets,
		     char *why, size_t len)
{
	static const enum kleak_set order[] = { SET_TP_BTF, SET_RAW_TP, SET_COMPAT, SET_TRACEPOINT };
	enum kleak_feature miss;
	int i, n = 0, set;

	if (forced && *forced) {
		set = features__set_by_name(forced);
		if (set < 0) {
			snprintf(why, len, "KLEAK_PROGRAMS=%s: not a program set (tp_btf, raw_tp, "
				 "compat or tracepoint)", forced);
			return -EINVAL;
		}
		miss = features__missing(f, set);
		if (miss != FEAT_MAX) {
			snprintf(why, len, "KLEAK_PROGRAMS=%s: this kernel lacks %s", forced,
				 feature_info[miss].desc);
			return -EOPNOTSUPP;
		}
		sets[0] = set;
		return 1;
	}
	for (i = 0; i < SET_MAX; i++)
		if (features__missing(f, order[i]) == FEAT_MAX)
			sets[n++] = order[i];
	if (!n) {
		none_loads(f, order, SET_MAX, why, len);
		return -EOPNOTSUPP;
	}
	return n;
}

enum kleak_feature features__ustack_missing(const struct features *f, int mode)
{
	int i;

	for (i = 0; i < FEAT_MAX; i++)
		if ((ustack_info[mode].needs & F(i)) && !f->has[i])
			return i;
	return FEAT_MAX;
}

int features__candidates(const struct features *f, enum kleak_set *sets)
{
	char why[512];
	int n = features__choose(f, getenv("KLEAK_PROGRAMS"), sets, why, sizeof(why));

	if (n < 0)
		pr_err("%s", why);
	return n;
}

const char *features__gives_up(const struct features *f, enum kleak_set set)
{
	static char buf[768];
	const char *part[4] = { set_info[set].gives_up };
	size_t off = 0;
	int i, n = 1;

	if (!f->has[FEAT_EVENTS_61] && !(f->has[FEAT_PAGE_SLAB_CACHE] && set != SET_TRACEPOINT))
		part[n++] = "the pre-6.1 kmem events name no cache: no --cache, objects shown by "
			    "size";
	if (!f->has[FEAT_RINGBUF])
		part[n++] = "no BPF ring buffer: no stack cache, no -t or --ustack";
	/* the report-time iterators attach by the kernel's own BTF ids (src/classify.c) */
	if (!f->has[FEAT_BTF])
		part[n++] = "no kernel BTF (--btf FILE): held objects are not classified";
	buf[0] = '\0';
	for (i = 0; i < n; i++)
		if (part[i])
			off += snprintf(buf + off, off < sizeof(buf) ? sizeof(buf) - off : 0, "%s%s",
					off ? "; " : "", part[i]);
	return off ? buf : NULL;
}

static const char *tracefs_state(const struct features *f)
{
	if (f->tracefs_events)
		return f->tracefs_events;
	return f->has[FEAT_TRACEFS] ? "not mounted (the tracepoint set mounts it where only kleak sees it)" :
				      "not in this kernel";
}

static void print_json(const struct features *f, const enum kleak_set *sets, int n, FILE *out)
{
	struct json_writer *w = jsonw_new(out);
	int i, j;

	if (!w)
		return;
	jsonw_start_object(w);
	jsonw_uint_field(w, "schema_version", KLEAK_JSON_SCHEMA);
	jsonw_string_field(w, "kernel", f->kernel);
	jsonw_name(w, "tracefs");
	if (f->tracefs_events)
		jsonw_string(w, f->tracefs_events);
	else
		jsonw_null(w);
	jsonw_name(w, "features");
	jsonw_start_object(w);
	for (i = 0; i < FEAT_MAX; i++)
		jsonw_bool_field(w, feature_info[i].key, f->has[i]);
	jsonw_end_object(w);
	jsonw_name(w, "sets");
	jsonw_start_array(w);
	for (i = 0; i < SET_MAX; i++) {
		jsonw_start_object(w);
		jsonw_string_field(w, "name", set_info[i].name);
		jsonw_bool_field(w, "supported", features__missing(f, i) == FEAT_MAX);
		jsonw_name(w, "missing");
		jsonw_start_array(w);
		for (j = 0; j < FEAT_MAX; j++)
			if (lacks(f, i, j))
				jsonw_string(w, feature_info[j].key);
		jsonw_end_array(w);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
	jsonw_name(w, "set");
	if (n > 0)
		jsonw_string(w, set_info[sets[0]].name);
	else
		jsonw_null(w);
	jsonw_bool_field(w, "forced", getenv("KLEAK_PROGRAMS") && *getenv("KLEAK_PROGRAMS"));
	jsonw_name(w, "ustack");
	jsonw_start_object(w);
	for (i = 0; i < USTACK_MODES; i++)
		jsonw_bool_field(w, ustack_info[i].name, features__ustack_missing(f, i) == FEAT_MAX);
	jsonw_end_object(w);
	jsonw_name(w, "gives_up");
	if (n > 0 && features__gives_up(f, sets[0]))
		jsonw_string(w, features__gives_up(f, sets[0]));
	else
		jsonw_null(w);
	jsonw_end_object(w);
	jsonw_destroy(w);
}

/* "  NAME  yes", or what it lacks */
static void print_loads(FILE *out, const char *name, enum kleak_feature miss)
{
	if (miss == FEAT_MAX)
		fprintf(out, "  %-10s  yes\n", name);
	else
		fprintf(out, "  %-10s  no: lacks %s\n", name, feature_info[miss].desc);
}

static void print_text(const struct features *f, const enum kleak_set *sets, int n, FILE *out)
{
	const char *why;
	int i;

	fprintf(out, "kernel   %s\ntracefs  %s\n\nfeatures:\n", f->kernel, tracefs_state(f));
	for (i = 0; i < FEAT_MAX; i++)
		fprintf(out, "  %-3s  %-20s  %s\n", f->has[i] ? "yes" : "no", feature_info[i].key,
			feature_info[i].desc);
	fprintf(out, "\nprogram sets, best first:\n");
	for (i = 0; i < SET_MAX; i++)
		print_loads(out, set_info[i].name, features__missing(f, i));
	fprintf(out, "\nuser stacks (--ustack):\n");
	for (i = 0; i < USTACK_MODES; i++)
		print_loads(out, ustack_info[i].name, features__ustack_missing(f, i));
	if (n <= 0)
		return;
	why = features__gives_up(f, sets[0]);
	fprintf(out, "\nkleak loads: %s%s\ngives up:    %s\n", set_info[sets[0]].name,
		getenv("KLEAK_PROGRAMS") && *getenv("KLEAK_PROGRAMS") ? " (forced by KLEAK_PROGRAMS)" :
									"",
		why ?: "nothing");
}

int features__print(const struct features *f, bool json, FILE *out)
{
	enum kleak_set sets[SET_MAX];
	int n = features__candidates(f, sets);

	/* a misspelt set: the table would answer a question not asked */
	if (n == -EINVAL)
		return 1;
	if (json)
		print_json(f, sets, n, out);
	else
		print_text(f, sets, n, out);
	return n > 0 ? 0 : 1;
}
