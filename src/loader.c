// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Skeleton life cycle. The program set is chosen by what the kernel was
 * probed to have (src/kernel_features.c): tp_btf, raw_tp where the verifier refuses
 * tp_btf reading the kmem events' arguments (before ~6.5) or with the older
 * *_node events, compat without BPF atomics or task storage (5.8-5.11,
 * RHEL 8) or without the kernel's own BTF (--btf FILE), or classic
 * tracepoints (forced). Each set that fails to load hands over to the next
 * before kleak gives up.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <linux/magic.h>
#include <linux/membarrier.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "allocators.h"
#include "caps.h"
#include "kernel_features.h"
#include "kleak.skel.h"
#include "loader.h"
#include "log.h"
#include "slabcache.h"

#define MAX_LINKS 24
#define TRACE_RINGBUF_SIZE (8 << 20)

struct tracer_priv {
	struct tracer pub;
	struct bpf_link *links[MAX_LINKS];
	int n_links;
	int cgroup_fd;
	char attach[128];
	/* the tracepoint set's tracefs, mounted where only kleak sees it; -1 if not */
	int tracefs_fd;
	/* where the tracepoint set reads its events' ids */
	char events[64];
};

static bool quiet_libbpf;

static int libbpf_print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if ((quiet_libbpf && !log_verbose) || (level != LIBBPF_WARN && !log_verbose))
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* The programs of set, for the old (0) or the 6.1+ (1) kmem events. */
static bool prog_in_set(const struct kleak_bpf *skel, const struct bpf_program *p,
			enum kleak_set set, bool events_61, bool follow)
{
	const struct bpf_program *tp[] = {
		skel->progs.kmalloc_tp, skel->progs.kmem_cache_alloc_tp,
		skel->progs.kfree_tp, skel->progs.kmem_cache_free_tp,
		skel->progs.kmalloc_node_tp, skel->progs.kmem_cache_alloc_node_tp,
	};
	const struct bpf_program *sets[SET_MAX][2][8] = {
		[SET_TP_BTF][1] = {
			skel->progs.kmalloc_btf, skel->progs.kmem_cache_alloc_btf,
			skel->progs.kfree_btf, skel->progs.kmem_cache_free_btf,
		},
		[SET_RAW_TP][0] = {
			skel->progs.kmalloc_raw_old, skel->progs.kmalloc_node_raw_old,
			skel->progs.kmem_cache_alloc_raw_old,
			skel->progs.kmem_cache_alloc_node_raw_old,
			skel->progs.kfree_raw, skel->progs.kmem_cache_free_raw,
		},
		[SET_RAW_TP][1] = {
			skel->progs.kmalloc_raw, skel->progs.kmem_cache_alloc_raw,
			skel->progs.kfree_raw, skel->progs.kmem_cache_free_raw,
		},
		[SET_COMPAT][0] = {
			skel->progs.kmalloc_compat_old, skel->progs.kmalloc_node_compat_old,
			skel->progs.kmem_cache_alloc_compat_old,
			skel->progs.kmem_cache_alloc_node_compat_old,
			skel->progs.kfree_compat, skel->progs.kmem_cache_free_compat,
		},
		[SET_COMPAT][1] = {
			skel->progs.kmalloc_compat, skel->progs.kmem_cache_alloc_compat,
			skel->progs.kfree_compat, skel->progs.kmem_cache_free_compat,
		},
	};
	size_t i;

	if (p == skel->progs.sched_process_fork_btf)
		return follow && (set == SET_TP_BTF || set == SET_RAW_TP);
	if (p == skel->progs.sched_process_fork_compat || p == skel->progs.sched_process_free_compat)
		return follow && set == SET_COMPAT;
	if (set == SET_TRACEPOINT) {
		for (i = 0; i < sizeof(tp) / sizeof(tp[0]); i++)
			if (tp[i] == p)
				return true;
		return false;
	}
	for (i = 0; i < 8 && sets[set][events_61][i]; i++)
		if (sets[set][events_61][i] == p)
			return true;
	return false;
}

/* The classic *_node events exist only before 6.1: load them only where they do. */
static bool tp_exists(const char *events, const char *section)
{
	char path[256];
	const char *event = strchr(section, '/');

	snprintf(path, sizeof(path), "%s/%s", events, event ? event + 1 : section);
	return !access(path, F_OK);
}

/* Twice the slots: all three of an address's buckets are then rarely full. */
__u32 tracer__alloc_geometry(__u64 max_allocs, __u32 *groups, __u32 *group_shift)
{
	__u64 want = (max_allocs * 2 + KLEAK_BUCKET_SLOTS - 1) / KLEAK_BUCKET_SLOTS;

	*group_shift = 0;
	while (*group_shift < KLEAK_GROUP_SHIFT && (1ULL << *group_shift) < want)
		(*group_shift)++;
	*groups = (want + (1ULL << *group_shift) - 1) >> *group_shift;
	return *groups << *group_shift;
}

/*
 * --ustack (fp): the walker's call frame information, 8 elements of 2 MiB
 * (2 million rows: glibc's .eh_frame compiles to about 20,000), its
 * binaries and the files met (a few thousand), and room for a burst of
 * requests. Without fp mode one element (2 MiB) and one entry each: the
 * programs reference them either way.
 */
#define UCFI_ELEMS	8

static int size_ucfi_maps(struct kleak_bpf *skel, bool fp)
{
	return bpf_map__set_max_entries(skel->maps.urows, fp ? UCFI_ELEMS : 1) ?:
	       bpf_map__set_max_entries(skel->maps.ubins, fp ? 4096 : 1) ?:
	       bpf_map__set_max_entries(skel->maps.ufiles, fp ? 4096 : 1) ?:
	       bpf_map__set_max_entries(skel->maps.ulearn_pending, fp ? 1024 : 1) ?:
	       bpf_map__set_max_entries(skel->maps.ulearn, fp ? 64 * 1024 : getpagesize());
}

/*
 * --ustack: a user stack is stored once per distinct stack, like a kernel
 * one, in a value sized by --ustack-depth; a quarter as many as kernel
 * stacks (8 MiB at the defaults), since most kernel stacks of a workload
 * have few user callers. Without --ustack the maps are left minimal, and
 * the samples ring buffer is sized for --ustack=dwarf only.
 */
static int size_ustack_maps(struct kleak_bpf *skel, const struct env *env)
{
	__u32 entries = env->stack_entries / 4 ? env->stack_entries / 4 : 1;
	int err;

	/* --ustack=dwarf: 64 MiB, room for a burst of ~7500 samples not yet unwound */
	err = bpf_map__set_max_entries(skel->maps.ustack_samples, env->ustack == USTACK_DWARF ?
				       64 << 20 : getpagesize()) ?:
	      size_ucfi_maps(skel, env->ustack == USTACK_FP);
	if (err)
		return err;
	/* dwarf mode's stacks are unwound and kept in userspace */
	if (env->ustack != USTACK_FP)
		return bpf_map__set_max_entries(skel->maps.ustacks, 1) ?:
		       bpf_map__set_max_entries(skel->maps.ustack_procs, getpagesize());
	err = bpf_map__set_max_entries(skel->maps.ustacks, entries);
	if (err)
		return err;
	err = bpf_map__set_value_size(skel->maps.ustacks,
				      offsetof(struct kleak_ustack, frames) +
				      env->ustack_depth * sizeof(struct kleak_uframe));
	if (err)
		return err;
	/* 24 bytes a new stack: room for a burst of short-lived processes */
	return bpf_map__set_max_entries(skel->maps.ustack_procs, 256 * 1024);
}

static int configure(struct kleak_bpf *skel, const struct env *env, pid_t target,
		     const struct cache_filter *cf, enum kleak_set set, const struct features *f,
		     const bool allocators[KLEAK_ALLOC_MAX])
{
	struct alloc_cache ac;
	bool compat = set == SET_COMPAT;
	struct kleak_bpf__rodata *ro = skel->rodata;
	bool follow = target || env->follow;
	struct bpf_program *p;
	__u32 buckets, groups, group_shift;
	unsigned int i;
	int err;

	ro->self_tgid = getpid();
	ro->targ_tgid = target ? (__u32)target : env->pid;
	ro->follow = follow;
	ro->filter_cgroup = env->cgroup != NULL;
	if (env->comm) {
		ro->filter_comm = true;
		strncpy((char *)ro->targ_comm, env->comm, KLEAK_COMM_LEN - 1);
		/* the name and its NUL, as the BPF side compares two words */
		memset((char *)ro->comm_mask, 0xff, strlen(env->comm) + 1);
	}
	ro->min_size = env->min_size;
	ro->max_size = env->max_size;
	if (cf) {
		ro->filter_cache = true;
		ro->n_cache_names = cf->n_names;
		for (i = 0; i < cf->n_names; i++)
			strcpy((char *)ro->cache_names[i], cf->names[i]);
		ro->cache_kmalloc_size = cf->kmalloc_size;
	}
	/* another allocator's memory: no slab cache matches, as no cf is set */
	if (env->cache && allocators__parse_cache(env->cache, &ac)) {
		ro->filter_cache = true;
		ro->cache_kinds = ac.kinds;
		ro->cache_page_bytes = ac.order < 0 ? 0 : 4096ULL << ac.order;
	}
	ro->sample_rate = env->sample_rate;
	ro->trace_events = env->trace;
	ro->stack_bytes = env->stack_depth * sizeof(__u64);
	ro->ustack_on = env->ustack != USTACK_OFF;
	ro->ustack_dwarf = env->ustack == USTACK_DWARF;
	ro->ustack_bytes = env->ustack_depth * sizeof(struct kleak_uframe);
	ro->nr_cpus = libbpf_num_possible_cpus();
	/* its template requests come through the ring buffer (check_set() said so) */
	ro->stack_cache = env->stack_cache != STACK_CACHE_OFF && f->has[FEAT_RINGBUF];
	ro->stack_cache_check = ro->stack_cache && env->stack_cache == STACK_CACHE_CHECK;

	ro->pages_user = env->pages_user;
	bpf_object__for_each_program(p, skel->obj) {
		bool load = prog_in_set(skel, p, set, f->has[FEAT_EVENTS_61], follow), in_set;
		enum kleak_allocator a = allocators__of_prog(skel, p, set, f, &in_set);

		/* the other allocators' programs only where asked for: slab's cost stays */
		if (a != KLEAK_ALLOC_SLAB)
			load = in_set && allocators[a];
		if (load && set == SET_TRACEPOINT)
			load = tp_exists(f->tracefs_events, bpf_program__section_name(p));
		err = bpf_program__set_autoload(p, load);
		/*
		 * -v: the verifier's statistics (BPF_LOG_STATS), which libbpf
		 * prints after a load: instructions processed against the
		 * 1,000,000 limit, per program, on this kernel
		 */
		if (!err && load && log_verbose)
			err = bpf_program__set_log_level(p, 4);
		if (err)
			return err;
	}

	/* each set creates its own store and tracking map only (see bpf/allocs.bpf.h) */
	buckets = tracer__alloc_geometry(env->max_allocs, &groups, &group_shift);
	ro->bucket_groups = groups;
	ro->bucket_group_shift = group_shift;
	if ((err = bpf_map__set_autocreate(skel->maps.allocs, !compat)) ||
	    (err = bpf_map__set_autocreate(skel->maps.bucket_used, !compat)) ||
	    (err = bpf_map__set_autocreate(skel->maps.tracked, !compat)) ||
	    (err = bpf_map__set_autocreate(skel->maps.allocs_hash, compat)) ||
	    (err = bpf_map__set_autocreate(skel->maps.tracked_tasks, compat && follow)) ||
	    (err = bpf_map__set_max_entries(skel->maps.allocs, buckets)) ||
	    (err = bpf_map__set_max_entries(skel->maps.bucket_used, (buckets + 63) / 64)) ||
	    (err = bpf_map__set_max_entries(skel->maps.allocs_hash, env->max_allocs)) ||
	    (err = bpf_map__set_max_entries(skel->maps.sites, env->max_sites)) ||
	    (err = bpf_map__set_max_entries(skel->maps.site_totals, env->max_sites)) ||
	    (err = bpf_map__set_max_entries(skel->maps.stacks, env->stack_entries)) ||
	    (err = bpf_map__set_value_size(skel->maps.stacks, env->stack_depth * sizeof(__u64))) ||
	    (err = bpf_map__set_max_entries(skel->maps.events,
					    env->trace ? TRACE_RINGBUF_SIZE : getpagesize())) ||
	    (err = size_ustack_maps(skel, env)))
		return err;
	/*
	 * compat without the ring buffer (before 5.8): its five maps are not
	 * created, and the code using them is dead by the knobs above
	 * (libbpf poisons what still names them)
	 */
	if (!f->has[FEAT_RINGBUF] &&
	    ((err = bpf_map__set_autocreate(skel->maps.events, false)) ||
	     (err = bpf_map__set_autocreate(skel->maps.tpl_requests, false)) ||
	     (err = bpf_map__set_autocreate(skel->maps.ustack_procs, false)) ||
	     (err = bpf_map__set_autocreate(skel->maps.ustack_samples, false)) ||
	     (err = bpf_map__set_autocreate(skel->maps.ulearn, false))))
		return err;
	if (!ro->stack_cache &&
	    ((err = bpf_map__set_max_entries(skel->maps.stack_tpls, 1)) ||
	     (err = bpf_map__set_max_entries(skel->maps.tpl_routes, 1)) ||
	     (err = bpf_map__set_max_entries(skel->maps.tpl_pending, 1)) ||
	     (err = bpf_map__set_max_entries(skel->maps.tpl_requests, getpagesize()))))
		return err;
	return 0;
}

/* Kernel memory charged to a map, from its fdinfo. */
static unsigned long long map_memlock(int fd)
{
	unsigned long long v = 0;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void print_sizing(const struct kleak_bpf *skel)
{
	const struct bpf_map *maps[] = {
		skel->maps.allocs, skel->maps.bucket_used, skel->maps.allocs_hash,
		skel->maps.sites, skel->maps.site_totals,
		skel->maps.stacks,
		skel->maps.stack_tpls, skel->maps.tpl_routes, skel->maps.tpl_pending,
		skel->maps.tpl_requests,
		skel->maps.events,
	};
	unsigned long long total = 0, m;
	size_t i;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (!bpf_map__autocreate(maps[i]))
			continue;
		m = map_memlock(bpf_map__fd(maps[i]));
		total += m;
		pr_debug("map %-11s %8u entries, %10llu bytes", bpf_map__name(maps[i]),
			 bpf_map__max_entries(maps[i]), m);
	}
	pr_debug("BPF map memory: %llu bytes (%.1f MiB)", total, total / 1048576.0);
}

/* Where cgroup v2 is mounted: /sys/fs/cgroup, or .../unified on hybrid systems. */
static int cgroup2_root(char *buf, size_t len)
{
	char dev[256], dir[4096], type[64];
	FILE *f = fopen("/proc/self/mounts", "r");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(buf, len, "%s", dir);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

static int open_cgroup(const char *path)
{
	char root[4096], buf[8192];
	struct statfs st;
	int fd, err;

	if (path[0] != '/') {
		err = cgroup2_root(root, sizeof(root));
		if (err) {
			pr_err("--cgroup %s: no cgroup v2 hierarchy is mounted", path);
			return err;
		}
		snprintf(buf, sizeof(buf), "%s/%s", root, path);
		path = buf;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_err("cannot open cgroup %s: %s", path, strerror(-err));
		return err;
	}
	if (fstatfs(fd, &st) || st.f_type != CGROUP2_SUPER_MAGIC) {
		pr_err("--cgroup %s: not a cgroup v2 directory", path);
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/*
 * A classic tracepoint program on its event, whose id is read from events:
 * as libbpf attaches one, but from a tracefs that may be kleak's own
 * private mount, which libbpf cannot be pointed at.
 */
static struct bpf_link *attach_tracepoint(const char *events, struct bpf_program *p)
{
	struct perf_event_attr attr = { .type = PERF_TYPE_TRACEPOINT, .size = sizeof(attr) };
	const char *event = strchr(bpf_program__section_name(p), '/') + 1;
	struct bpf_link *link;
	char path[256];
	int pfd, err;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/id", events, event);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	err = fscanf(f, "%llu", (unsigned long long *)&attr.config) == 1 ? 0 : -EINVAL;
	fclose(f);
	if (err) {
		errno = -err;
		return NULL;
	}
	/* every CPU's events, as libbpf's attach does */
	pfd = syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0)
		return NULL;
	link = bpf_program__attach_perf_event(p, pfd);
	if (!link) {
		err = -errno;
		close(pfd);
		errno = -err;
	}
	return link;
}

static int attach(struct tracer_priv *tp)
{
	struct bpf_program *p;
	int err;

	bpf_object__for_each_program(p, tp->pub.skel->obj) {
		if (!bpf_program__autoload(p))
			continue;
		if (tp->n_links == MAX_LINKS)
			return -E2BIG;
		tp->links[tp->n_links] = bpf_program__type(p) == BPF_PROG_TYPE_TRACEPOINT ?
					 attach_tracepoint(tp->events, p) : bpf_program__attach(p);
		if (!tp->links[tp->n_links]) {
			err = -errno;
			pr_err("failed to attach %s (%s): %s", bpf_program__name(p),
			       bpf_program__section_name(p), strerror(-err));
			return err;
		}
		tp->n_links++;
	}
	return 0;
}

/*
 * tracefs where it is not mounted (a fresh machine), for the tracepoint
 * set: a mount of kleak's own, attached nowhere (fsmount(), 5.2), read
 * through its fd. Mounting it on /sys/kernel/tracing and unmounting it
 * after would pull it from under a user or a kleak that started using it
 * meanwhile. It goes when the tracer does.
 */
static int mount_private_tracefs(struct tracer_priv *tp)
{
	int fs, err;

	fs = fsopen("tracefs", FSOPEN_CLOEXEC);
	if (fs >= 0 && !fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		tp->tracefs_fd = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	err = -errno;
	if (fs >= 0)
		close(fs);
	if (tp->tracefs_fd < 0) {
		pr_err("tracefs is not mounted, and a mount of kleak's own for the classic "
		       "tracepoints failed: %s", strerror(-err));
		return err;
	}
	snprintf(tp->events, sizeof(tp->events), "/proc/self/fd/%d/events", tp->tracefs_fd);
	pr_debug("tracefs is not mounted: the classic tracepoints' events are read from a "
		 "mount of kleak's own that no other process sees");
	return 0;
}

/*
 * What a set needs from the options that the kernel may not give, one line
 * if not; the classic tracepoints' tracefs is mounted here when it is not.
 */
static int check_set(struct tracer_priv *tp, enum kleak_set set, const struct env *env,
		     bool cache, struct features *f)
{
	int err;

	if (set == SET_TRACEPOINT && (env->follow || env->command)) {
		pr_err("following a process tree needs the tp_btf, raw_tp or compat programs "
		       "(kernel BTF and raw tracepoints)");
		return -EOPNOTSUPP;
	}
	if (cache && (set == SET_TRACEPOINT ||
		      !(f->has[FEAT_EVENTS_61] || f->has[FEAT_PAGE_SLAB_CACHE]))) {
		pr_err("--cache needs the tp_btf, raw_tp or compat programs with the 6.1+ kmem "
		       "events or a struct page naming its slab: this kernel's %s events name "
		       "no cache",
		       set == SET_TRACEPOINT ? "classic tracepoint" : "pre-6.1");
		return -EOPNOTSUPP;
	}
	/* --ustack's needs, the ring buffer among them, were checked before probing sets */
	if (!f->has[FEAT_RINGBUF] && env->trace) {
		pr_err("-t (--trace) needs the BPF ring buffer, which this kernel lacks");
		return -EOPNOTSUPP;
	}
	if (!f->has[FEAT_RINGBUF] && env->stack_cache != STACK_CACHE_OFF)
		pr_warn("no BPF ring buffer on this kernel: the stack cache is off (each "
			"recorded allocation walks its stack)");
	if (set != SET_TRACEPOINT)
		return 0;
	if (f->tracefs_events) {
		snprintf(tp->events, sizeof(tp->events), "%s", f->tracefs_events);
		return 0;
	}
	err = mount_private_tracefs(tp);
	if (!err)
		f->tracefs_events = tp->events;
	return err;
}

/* The attached tracepoints hold their events: the private tracefs can go. */
static void close_tracefs(struct tracer_priv *tp)
{
	if (tp->tracefs_fd >= 0)
		close(tp->tracefs_fd);
	tp->tracefs_fd = -1;
}

static int load_set(struct tracer_priv *tp, const struct env *env, pid_t target,
		    const struct cache_filter *cf, enum kleak_set set, const struct features *f)
{
	LIBBPF_OPTS(bpf_object_open_opts, oopts, .btf_custom_path = env->btf_path);
	struct kleak_bpf *skel;
	int err;

	skel = kleak_bpf__open_opts(&oopts);
	if (!skel) {
		err = -errno;
		pr_err("failed to open BPF object: %s", strerror(-err));
		return err;
	}
	tp->pub.skel = skel;
	err = configure(skel, env, target, cf, set, f, tp->pub.allocators);
	if (err) {
		pr_err("failed to configure BPF object: %s", strerror(-err));
		return err;
	}
	return kleak_bpf__load(skel);
}

static size_t buckets_size(const struct tracer *t)
{
	size_t page = getpagesize();

	return ((size_t)t->alloc_buckets * sizeof(struct kleak_bucket) + page - 1) / page * page;
}

int tracer__map_buckets(struct tracer *t)
{
	void *mem = mmap(NULL, buckets_size(t), PROT_READ, MAP_SHARED, t->allocs_fd, 0);
	int err;

	if (mem == MAP_FAILED) {
		err = -errno;
		pr_err("failed to map the allocs map: %s", strerror(-err));
		return err;
	}
	t->buckets = mem;
	return 0;
}

void tracer__unmap_buckets(struct tracer *t)
{
	if (t->buckets)
		munmap((void *)t->buckets, buckets_size(t));
	t->buckets = NULL;
}

struct tracer *tracer__start(const struct env *env, pid_t target)
{
	struct cache_filter cf, *cfp = NULL;
	enum kleak_set sets[SET_MAX];
	struct alloc_cache ac;
	struct tracer_priv *tp;
	struct features f;
	int i, n, err, zero = 0;
	char also[64];
	bool fp;

	if (!caps__can_bpf("kleak")) {
		errno = EPERM;
		return NULL;
	}
	if (env->cache && !allocators__parse_cache(env->cache, &ac)) {
		err = slabcache__resolve("/sys/kernel/slab", env->cache, &cf);
		if (err) {
			errno = -err;
			return NULL;
		}
		cfp = &cf;
	}
	if (env->btf_path && access(env->btf_path, R_OK)) {
		err = -errno;
		pr_err("cannot read BTF file %s: %s", env->btf_path, strerror(-err));
		errno = -err;
		return NULL;
	}
	err = features__probe(&f, env->btf_path);
	if (err) {
		errno = -err;
		return NULL;
	}
	n = features__candidates(&f, sets);
	if (n < 0) {
		errno = -n;
		return NULL;
	}
	/* said before tracing, as `kleak features` says it */
	if (env->ustack != USTACK_OFF) {
		enum kleak_feature miss = features__ustack_missing(&f, env->ustack == USTACK_FP ?
								   USTACK_MODE_FP : USTACK_MODE_DWARF);

		if (miss != FEAT_MAX) {
			pr_err("--ustack%s: this kernel lacks %s, which that mode needs",
			       env->ustack == USTACK_FP ? "" : "=dwarf", features__name(miss));
			errno = EOPNOTSUPP;
			return NULL;
		}
	}
	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	tp->cgroup_fd = -1;
	tp->tracefs_fd = -1;
	libbpf_set_print(libbpf_print_fn);

	for (i = 0; i < n; i++) {
		bool last = i == n - 1;

		/* per set: vmalloc's functions cannot be hooked by the tracepoint set */
		err = allocators__choose(env, &f, sets[i], tp->pub.allocators);
		if (err)
			goto err_out;
		allocators__list(tp->pub.allocators, &f, sets[i], also, sizeof(also));
		err = check_set(tp, sets[i], env, cfp != NULL, &f);
		if (err)
			goto err_out;
		quiet_libbpf = !last;
		err = load_set(tp, env, target, cfp, sets[i], &f);
		quiet_libbpf = false;
		if (!err) {
			snprintf(tp->attach, sizeof(tp->attach), "%s%s%s%s",
				 features__set_name(sets[i]),
				 f.has[FEAT_EVENTS_61] ? "" : ", pre-6.1 events",
				 *also ? "; slab, " : "", also);
			tp->pub.attach = tp->attach;
			if (i)
				pr_warn("the %s programs failed to load (-v shows why); loaded %s%s%s",
					features__set_name(sets[0]), features__set_name(sets[i]),
					features__gives_up(&f, sets[i]) ? ", which gives up: " : "",
					features__gives_up(&f, sets[i]) ?: "");
			pr_debug("program set %s; gives up: %s", features__set_name(sets[i]),
				 features__gives_up(&f, sets[i]) ?: "nothing");
			break;
		}
		pr_debug("loading the %s programs failed: %s", features__set_name(sets[i]),
			 strerror(-err));
		kleak_bpf__destroy(tp->pub.skel);
		tp->pub.skel = NULL;
		if (last) {
			if (err == -EPERM)
				pr_err("failed to load BPF programs: %s (root without CAP_BPF, or "
				       "lockdown?)", strerror(-err));
			else
				pr_err("failed to load BPF programs (%s): %s; -v shows libbpf's log",
				       features__set_name(sets[i]), strerror(-err));
			goto err_out;
		}
	}
	tp->pub.allocs_fd = bpf_map__fd(tp->pub.skel->maps.allocs);
	tp->pub.allocs_hash_fd = bpf_map__fd(tp->pub.skel->maps.allocs_hash);
	tp->pub.totals_fd = bpf_map__fd(tp->pub.skel->maps.site_totals);
	tp->pub.stacks_fd = bpf_map__fd(tp->pub.skel->maps.stacks);
	tp->pub.stats_fd = bpf_map__fd(tp->pub.skel->maps.stats);
	tp->pub.events_fd = env->trace ? bpf_map__fd(tp->pub.skel->maps.events) : -1;
	tp->pub.tpl_requests_fd = tp->pub.skel->rodata->stack_cache ?
				  bpf_map__fd(tp->pub.skel->maps.tpl_requests) : -1;
	tp->pub.tpls_fd = bpf_map__fd(tp->pub.skel->maps.stack_tpls);
	tp->pub.tpl_routes_fd = bpf_map__fd(tp->pub.skel->maps.tpl_routes);
	tp->pub.tpl_pending_fd = bpf_map__fd(tp->pub.skel->maps.tpl_pending);
	tp->pub.stack_depth = env->stack_depth;
	tp->pub.ustacks_fd = env->ustack != USTACK_OFF ?
			     bpf_map__fd(tp->pub.skel->maps.ustacks) : -1;
	tp->pub.ustack_procs_fd = env->ustack != USTACK_OFF ?
				  bpf_map__fd(tp->pub.skel->maps.ustack_procs) : -1;
	tp->pub.ustack_depth = env->ustack_depth;
	tp->pub.ustack_samples_fd = env->ustack == USTACK_DWARF ?
				    bpf_map__fd(tp->pub.skel->maps.ustack_samples) : -1;
	fp = env->ustack == USTACK_FP;
	tp->pub.urows_fd = fp ? bpf_map__fd(tp->pub.skel->maps.urows) : -1;
	tp->pub.urows_elems = bpf_map__max_entries(tp->pub.skel->maps.urows);
	tp->pub.ubins_fd = fp ? bpf_map__fd(tp->pub.skel->maps.ubins) : -1;
	tp->pub.ulearn_fd = fp ? bpf_map__fd(tp->pub.skel->maps.ulearn) : -1;
	if (tp->pub.allocs_fd >= 0) {
		tp->pub.alloc_buckets = bpf_map__max_entries(tp->pub.skel->maps.allocs);
		err = tracer__map_buckets(&tp->pub);
		if (err)
			goto err_out;
	}
	tp->pub.max_sites = env->max_sites;
	if (env->cgroup) {
		tp->cgroup_fd = open_cgroup(env->cgroup);
		if (tp->cgroup_fd < 0) {
			err = tp->cgroup_fd;
			goto err_out;
		}
		err = bpf_map_update_elem(bpf_map__fd(tp->pub.skel->maps.cgroup_filter), &zero,
					  &tp->cgroup_fd, BPF_ANY);
		if (err) {
			err = -errno;
			pr_err("failed to set the cgroup filter: %s", strerror(-err));
			goto err_out;
		}
	}
	print_sizing(tp->pub.skel);
	err = attach(tp);
	if (err)
		goto err_out;
	close_tracefs(tp);
	/* said once the filter is in force, never next to an error */
	if (cfp)
		slabcache__say_merged(cfp);
	return &tp->pub;

err_out:
	tracer__free(&tp->pub);
	errno = -err;
	return NULL;
}

void tracer__detach(struct tracer *t)
{
	struct tracer_priv *tp = (struct tracer_priv *)t;
	int i;

	for (i = 0; i < tp->n_links; i++)
		bpf_link__destroy(tp->links[i]);
	tp->n_links = 0;
	/*
	 * A program the kernel entered before its link went keeps running: a
	 * grace period later none does (they run under RCU), and membarrier
	 * waits for one. Without it (nohz_full) the books may be off by the
	 * events then in progress.
	 */
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		pr_debug("membarrier: %s: the final counters may miss events in progress",
			 strerror(errno));
}

void tracer__free(struct tracer *t)
{
	struct tracer_priv *tp = (struct tracer_priv *)t;
	int i;

	if (!t)
		return;
	tracer__unmap_buckets(t);
	for (i = 0; i < tp->n_links; i++)
		bpf_link__destroy(tp->links[i]);
	if (tp->cgroup_fd >= 0)
		close(tp->cgroup_fd);
	close_tracefs(tp);
	kleak_bpf__destroy(t->skel);
	free(tp);
}

__u64 tracer__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

__u64 tracer__recursion_misses(const struct tracer *t)
{
	struct bpf_prog_info info;
	struct bpf_program *p;
	__u64 sum = 0;
	__u32 len;

	if (!t->skel)
		return 0;
	bpf_object__for_each_program(p, t->skel->obj) {
		if (!bpf_program__autoload(p))
			continue;
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
			sum += info.recursion_misses;
	}
	return sum;
}
