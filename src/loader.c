// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Skeleton life cycle. The program variant is chosen by what the kernel has:
 * tp_btf with the 6.1+ kmem events, raw_tp where the verifier refuses those
 * (before ~6.5) or with the older *_node events, or classic tracepoints
 * (no BTF of the kernel's own, --btf FILE). Each set that fails to load
 * hands over to the next before kleak gives up.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "kleak.skel.h"
#include "loader.h"
#include "log.h"
#include "slabcache.h"

#define MAX_LINKS 16
#define TRACE_RINGBUF_SIZE (8 << 20)

enum variant {
	VARIANT_BTF,
	VARIANT_RAW,
	VARIANT_RAW_OLD,
	VARIANT_TP,
};

static const char *const variant_names[] = {
	[VARIANT_BTF] = "tp_btf",
	[VARIANT_RAW] = "raw_tp",
	[VARIANT_RAW_OLD] = "raw_tp, pre-6.1 events",
	[VARIANT_TP] = "tracepoint",
};

struct tracer_priv {
	struct tracer pub;
	struct bpf_link *links[MAX_LINKS];
	int n_links;
	int cgroup_fd;
};

static bool quiet_libbpf;

static int libbpf_print_fn(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if ((quiet_libbpf && !log_verbose) || (level != LIBBPF_WARN && !log_verbose))
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* Whether the effective capabilities allow loading tracing programs. */
static bool has_bpf_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	__u64 eff;

	if (syscall(SYS_capget, &hdr, data))
		return geteuid() == 0;
	eff = data[0].effective | (__u64)data[1].effective << 32;
	if (eff & (1ULL << CAP_SYS_ADMIN))
		return true;
	return (eff & (1ULL << CAP_BPF)) && (eff & (1ULL << CAP_PERFMON));
}

static const char *tracefs_events(void)
{
	if (!access("/sys/kernel/tracing/events/kmem", F_OK))
		return "/sys/kernel/tracing/events";
	if (!access("/sys/kernel/debug/tracing/events/kmem", F_OK))
		return "/sys/kernel/debug/tracing/events";
	return NULL;
}

static bool btf_has_typedef(const struct btf *btf, const char *name)
{
	return btf && btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) >= 0;
}

/*
 * Every set uses BPF atomics (compare-and-swap on the allocs buckets), which
 * kernels before 5.12 refuse with a verifier error that names no cause.
 */
static int check_kernel_version(void)
{
	struct utsname u;
	int major, minor;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 0;
	if (major > 5 || (major == 5 && minor >= 12))
		return 0;
	pr_err("kernel %s is too old: kleak needs 5.12 or later (BPF atomic operations)",
	       u.release);
	return -EOPNOTSUPP;
}

/* The variants worth trying on this kernel, best first; 0 and -errno. */
static int pick_variants(const struct env *env, enum variant *v, int *n)
{
	struct btf *btf;
	int err;

	*n = 0;
	err = check_kernel_version();
	if (err)
		return err;
	if (env->btf_path) {
		if (access(env->btf_path, R_OK)) {
			pr_err("cannot read BTF file %s: %s", env->btf_path, strerror(errno));
			return -errno;
		}
		v[(*n)++] = VARIANT_TP;
		return 0;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		pr_err("kernel has no BTF (/sys/kernel/btf/vmlinux: %s): pass --btf FILE with "
		       "this kernel's BTF", strerror(errno));
		return -ENOENT;
	}
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		pr_err("cannot read kernel BTF: %s", strerror(errno));
		return -errno;
	}
	if (btf_has_typedef(btf, "btf_trace_kmalloc_node")) {
		v[(*n)++] = VARIANT_RAW_OLD;
	} else if (btf_has_typedef(btf, "btf_trace_kmalloc")) {
		v[(*n)++] = VARIANT_BTF;
		v[(*n)++] = VARIANT_RAW;
	}
	btf__free(btf);
	v[(*n)++] = VARIANT_TP;
	return 0;
}

static bool prog_in_variant(const struct kleak_bpf *skel, const struct bpf_program *p,
			    enum variant v, bool follow)
{
	const struct bpf_program *sets[][6] = {
		[VARIANT_BTF] = {
			skel->progs.kmalloc_btf, skel->progs.kmem_cache_alloc_btf,
			skel->progs.kfree_btf, skel->progs.kmem_cache_free_btf,
		},
		[VARIANT_RAW] = {
			skel->progs.kmalloc_raw, skel->progs.kmem_cache_alloc_raw,
			skel->progs.kfree_raw, skel->progs.kmem_cache_free_raw,
		},
		[VARIANT_RAW_OLD] = {
			skel->progs.kmalloc_raw_old, skel->progs.kmalloc_node_raw_old,
			skel->progs.kmem_cache_alloc_raw_old,
			skel->progs.kmem_cache_alloc_node_raw_old,
			skel->progs.kfree_raw, skel->progs.kmem_cache_free_raw,
		},
		[VARIANT_TP] = {
			skel->progs.kmalloc_tp, skel->progs.kmem_cache_alloc_tp,
			skel->progs.kfree_tp, skel->progs.kmem_cache_free_tp,
			skel->progs.kmalloc_node_tp, skel->progs.kmem_cache_alloc_node_tp,
		},
	};
	size_t i;

	if (p == skel->progs.sched_process_fork_btf)
		return follow;
	for (i = 0; i < 6; i++)
		if (sets[v][i] == p)
			return true;
	return false;
}

/* The classic *_node events exist only before 6.1: load them only where they do. */
static bool tp_exists(const char *events, const char *section)
{
	char path[256];
	const char *name = strrchr(section, '/');

	snprintf(path, sizeof(path), "%s/kmem/%s", events, name ? name + 1 : section);
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

static int configure(struct kleak_bpf *skel, const struct env *env, pid_t target,
		     const struct cache_filter *cf, enum variant v, const char *events)
{
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
	ro->sample_rate = env->sample_rate;
	ro->trace_events = env->trace;
	ro->stack_bytes = env->stack_depth * sizeof(__u64);
	ro->nr_cpus = libbpf_num_possible_cpus();
	ro->stack_cache = env->stack_cache != STACK_CACHE_OFF;
	ro->stack_cache_check = env->stack_cache == STACK_CACHE_CHECK;

	bpf_object__for_each_program(p, skel->obj) {
		bool load = prog_in_variant(skel, p, v, follow);

		if (load && v == VARIANT_TP)
			load = tp_exists(events, bpf_program__section_name(p));
		err = bpf_program__set_autoload(p, load);
		if (err)
			return err;
	}

	buckets = tracer__alloc_geometry(env->max_allocs, &groups, &group_shift);
	ro->bucket_groups = groups;
	ro->bucket_group_shift = group_shift;
	if ((err = bpf_map__set_max_entries(skel->maps.allocs, buckets)) ||
	    (err = bpf_map__set_max_entries(skel->maps.bucket_used, (buckets + 63) / 64)) ||
	    (err = bpf_map__set_max_entries(skel->maps.sites, env->max_sites)) ||
	    (err = bpf_map__set_max_entries(skel->maps.site_totals, env->max_sites)) ||
	    (err = bpf_map__set_max_entries(skel->maps.stacks, env->stack_entries)) ||
	    (err = bpf_map__set_value_size(skel->maps.stacks, env->stack_depth * sizeof(__u64))) ||
	    (err = bpf_map__set_max_entries(skel->maps.events,
					    env->trace ? TRACE_RINGBUF_SIZE : getpagesize())))
		return err;
	if (env->stack_cache == STACK_CACHE_OFF &&
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
		skel->maps.allocs, skel->maps.bucket_used, skel->maps.sites, skel->maps.site_totals,
		skel->maps.stacks,
		skel->maps.stack_tpls, skel->maps.tpl_routes, skel->maps.tpl_pending,
		skel->maps.tpl_requests,
		skel->maps.events,
	};
	unsigned long long total = 0, m;
	size_t i;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
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

static int attach(struct tracer_priv *tp)
{
	struct bpf_program *p;
	int err;

	bpf_object__for_each_program(p, tp->pub.skel->obj) {
		if (!bpf_program__autoload(p))
			continue;
		if (tp->n_links == MAX_LINKS)
			return -E2BIG;
		tp->links[tp->n_links] = bpf_program__attach(p);
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

/* What a set needs that the kernel or the options may not give; one line if not. */
static int check_variant(enum variant v, const struct env *env, bool cache, const char *events)
{
	if (v == VARIANT_TP && !events) {
		pr_err("tracefs is not mounted, and this kernel needs classic tracepoints: "
		       "mount -t tracefs nodev /sys/kernel/tracing");
		return -ENOENT;
	}
	if (v == VARIANT_TP && (env->follow || env->command)) {
		pr_err("following a process tree needs tp_btf (kernel 5.11 or later with BTF)");
		return -EOPNOTSUPP;
	}
	if (cache && v != VARIANT_BTF && v != VARIANT_RAW) {
		pr_err("--cache needs the 6.1+ kmem events with tp_btf or raw_tp: the %s events "
		       "name no cache", variant_names[v]);
		return -EOPNOTSUPP;
	}
	return 0;
}

static int load_variant(struct tracer_priv *tp, const struct env *env, pid_t target,
			const struct cache_filter *cf, enum variant v, const char *events)
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
	err = configure(skel, env, target, cf, v, events);
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
	enum variant variants[4];
	const char *events = tracefs_events();
	struct tracer_priv *tp;
	int i, n, err, zero = 0;

	if (!has_bpf_caps()) {
		pr_err("permission denied: kleak needs root, or CAP_BPF and CAP_PERFMON");
		errno = EPERM;
		return NULL;
	}
	if (env->cache) {
		err = slabcache__resolve("/sys/kernel/slab", env->cache, &cf);
		if (err) {
			errno = -err;
			return NULL;
		}
		cfp = &cf;
	}
	err = pick_variants(env, variants, &n);
	if (err) {
		errno = -err;
		return NULL;
	}
	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	tp->cgroup_fd = -1;
	libbpf_set_print(libbpf_print_fn);

	for (i = 0; i < n; i++) {
		bool last = i == n - 1;

		err = check_variant(variants[i], env, cfp != NULL, events);
		if (err)
			goto err_out;
		quiet_libbpf = !last;
		err = load_variant(tp, env, target, cfp, variants[i], events);
		quiet_libbpf = false;
		if (!err) {
			tp->pub.attach = variant_names[variants[i]];
			if (i && variants[i] == VARIANT_TP)
				pr_warn("the tp_btf and raw_tp programs failed to load (-v shows why); "
					"classic tracepoints lose events to recursion");
			break;
		}
		pr_debug("loading the %s programs failed: %s", variant_names[variants[i]],
			 strerror(-err));
		kleak_bpf__destroy(tp->pub.skel);
		tp->pub.skel = NULL;
		if (last) {
			if (err == -EPERM)
				pr_err("failed to load BPF programs: %s (root without CAP_BPF, or "
				       "lockdown?)", strerror(-err));
			else
				pr_err("failed to load BPF programs (%s): %s; -v shows libbpf's log",
				       variant_names[variants[i]], strerror(-err));
			goto err_out;
		}
	}
	tp->pub.allocs_fd = bpf_map__fd(tp->pub.skel->maps.allocs);
	tp->pub.totals_fd = bpf_map__fd(tp->pub.skel->maps.site_totals);
	tp->pub.stacks_fd = bpf_map__fd(tp->pub.skel->maps.stacks);
	tp->pub.stats_fd = bpf_map__fd(tp->pub.skel->maps.stats);
	tp->pub.events_fd = env->trace ? bpf_map__fd(tp->pub.skel->maps.events) : -1;
	tp->pub.tpl_requests_fd = env->stack_cache != STACK_CACHE_OFF ?
				  bpf_map__fd(tp->pub.skel->maps.tpl_requests) : -1;
	tp->pub.tpls_fd = bpf_map__fd(tp->pub.skel->maps.stack_tpls);
	tp->pub.tpl_routes_fd = bpf_map__fd(tp->pub.skel->maps.tpl_routes);
	tp->pub.tpl_pending_fd = bpf_map__fd(tp->pub.skel->maps.tpl_pending);
	tp->pub.stack_depth = env->stack_depth;
	tp->pub.alloc_buckets = bpf_map__max_entries(tp->pub.skel->maps.allocs);
	err = tracer__map_buckets(&tp->pub);
	if (err)
		goto err_out;
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
	/* said once the filter is in force, never next to an error */
	if (cfp)
		slabcache__say_merged(cfp);
	return &tp->pub;

err_out:
	tracer__free(&tp->pub);
	errno = -err;
	return NULL;
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
