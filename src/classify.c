// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Object classes at report time. The iterators of bpf/classify.bpf.c walk
 * the task list, every fd table, every process's mappings and the socket
 * tables once and list the objects they find in use; each outstanding
 * record's address is looked up in that list. An object no walk found is
 * held by nobody visible (a reaped task, a file in no fd table), unless it
 * was freed after the records were read: those still recorded after the
 * walk are classified, the others are "gone". That conclusion needs the
 * walks to see everything: in a cache merged with another kind's, an
 * object no walk found may be of the other kind, and from a pid namespace
 * of its own kleak sees only that namespace's tasks; there only what a
 * walk found is classified. The BPF object is loaded here, per report, and
 * closed again, so the tracing programs never carry it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "classify.h"
#include "classify.skel.h"
#include "diff.h"
#include "kernel_features.h"
#include "log.h"
#include "snapshot.h"

/* The initial pid namespace's inode number (PROC_PID_INIT_INO, since 3.8). */
#define PID_NS_INIT_INO 0xEFFFFFFCU

enum iter {
	ITER_TASK,
	ITER_TASK_FILE,
	ITER_TASK_VMA,
	ITER_TCP,
	ITER_UDP,
	ITER_UNIX,
	ITER_MAX,
	ITER_NONE = ITER_MAX,
};

/* Each iterator's feature (kernel_features.c probes it), and where it first appeared. */
static const struct {
	enum kleak_feature feat;
	const char *what;
	const char *since;
} iter_info[ITER_MAX] = {
	[ITER_TASK] = { FEAT_ITER_TASK, "task", "5.8" },
	[ITER_TASK_FILE] = { FEAT_ITER_TASK_FILE, "task_file", "5.8" },
	[ITER_TASK_VMA] = { FEAT_ITER_TASK_VMA, "task_vma", "5.12" },
	[ITER_TCP] = { FEAT_ITER_TCP, "tcp", "5.9" },
	[ITER_UDP] = { FEAT_ITER_UDP, "udp", "5.9" },
	[ITER_UNIX] = { FEAT_ITER_UNIX, "unix", "5.17" },
};

/* The caches kleak classifies, and the socket table each protocol's socks are in. */
static const struct {
	const char *name;
	enum kleak_obj_kind kind;
	enum iter table;
} cache_kinds[] = {
	{ "task_struct", KLEAK_OBJ_TASK, ITER_NONE },
	{ "filp", KLEAK_OBJ_FILE, ITER_NONE },
	/*
	 * overlayfs's files on the layers below (6.10+: struct backing_file
	 * starts with its struct file); a mapping of an overlay file holds one
	 */
	{ "bfilp", KLEAK_OBJ_FILE, ITER_NONE },
	{ "sock_inode_cache", KLEAK_OBJ_SOCKET, ITER_NONE },
	/* caches of struct sock, which every protocol's sock type starts with */
	{ "TCP", KLEAK_OBJ_SOCK, ITER_TCP }, { "TCPv6", KLEAK_OBJ_SOCK, ITER_TCP },
	{ "UDP", KLEAK_OBJ_SOCK, ITER_UDP }, { "UDPv6", KLEAK_OBJ_SOCK, ITER_UDP },
	{ "UDP-Lite", KLEAK_OBJ_SOCK, ITER_UDP }, { "UDPLITEv6", KLEAK_OBJ_SOCK, ITER_UDP },
	{ "UNIX", KLEAK_OBJ_SOCK, ITER_UNIX }, { "UNIX-STREAM", KLEAK_OBJ_SOCK, ITER_UNIX },
	{ "RAW", KLEAK_OBJ_SOCK, ITER_NONE }, { "RAWv6", KLEAK_OBJ_SOCK, ITER_NONE },
	{ "PING", KLEAK_OBJ_SOCK, ITER_NONE }, { "PINGv6", KLEAK_OBJ_SOCK, ITER_NONE },
	{ "MPTCP", KLEAK_OBJ_SOCK, ITER_TCP }, { "MPTCPv6", KLEAK_OBJ_SOCK, ITER_TCP },
};

/*
 * Objects of a kind kleak knows that come from a general cache (kmalloc-N),
 * told by the function that allocates them: the site's first frame past the
 * slab allocator. The 6.12 guest's kernel kmallocs overlayfs's backing
 * files (struct backing_file starts with its struct file), 6.18 has bfilp.
 */
static const struct {
	const char *func;
	enum kleak_obj_kind kind;
} alloc_kinds[] = {
	{ "alloc_empty_backing_file", KLEAK_OBJ_FILE },
};

static int kind_of_frames(const struct model_site *s)
{
	int kind = KLEAK_OBJ_NONE;
	size_t i, k;
	char *key;

	for (i = 0; !s->stack_err && i < s->n_frames; i++) {
		key = diff__frame_key(s->frames[i].sym, kleak_allocator_of(s->kind));
		if (!key)
			return KLEAK_OBJ_NONE;
		if (!strcmp(key, DIFF_ALLOCATOR)) {
			free(key);
			continue;
		}
		for (k = 0; k < sizeof(alloc_kinds) / sizeof(alloc_kinds[0]); k++)
			if (!strcmp(key, alloc_kinds[k].func))
				kind = alloc_kinds[k].kind;
		free(key);
		break;
	}
	return kind;
}

/*
 * A file opened under these is overlayfs's file on one of its layers, held
 * by the overlay file (open_with_fake_path() until 6.6, a backing file since).
 */
static const char *const layer_funcs[] = { "ovl_open_realfile", "backing_file_open" };

static bool opened_by_overlay(const struct model_site *s)
{
	size_t i, k, len;

	for (i = 0; !s->stack_err && i < s->n_frames; i++) {
		for (k = 0; s->frames[i].sym && k < sizeof(layer_funcs) / sizeof(layer_funcs[0]);
		     k++) {
			len = strlen(layer_funcs[k]);
			if (!strncmp(s->frames[i].sym, layer_funcs[k], len) &&
			    s->frames[i].sym[len] == '+')
				return true;
		}
	}
	return false;
}

static int cache_index(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cache_kinds) / sizeof(cache_kinds[0]); i++)
		if (!strcmp(name, cache_kinds[i].name))
			return i;
	return -1;
}

static int kind_of_name(const char *name)
{
	int i = cache_index(name);

	return i < 0 ? KLEAK_OBJ_NONE : cache_kinds[i].kind;
}

/*
 * The kind of a slab cache's objects: the one kind among the names it was
 * created under (a merged cache holds objects of each), none for two, and
 * CLASSIFY_MERGED where a name of no kind kleak knows is among them.
 */
static int kind_of_cache(const struct model *m, const char *cache, enum classify_scope *scope)
{
	const struct model_merged *g = model__merged_of(m, cache);
	int kind = kind_of_name(cache), k;
	bool other = kind == KLEAK_OBJ_NONE;
	size_t i;

	for (i = 0; g && i < g->n_aliases; i++) {
		k = kind_of_name(g->aliases[i]);
		if (k == KLEAK_OBJ_NONE)
			other = true;
		else if (kind == KLEAK_OBJ_NONE)
			kind = k;
		else if (k != kind)
			return KLEAK_OBJ_NONE;	/* two kinds: no one walk tells them apart */
	}
	if (kind != KLEAK_OBJ_NONE && other)
		*scope = CLASSIFY_MERGED;
	return kind;
}

int classify__site_kind(const struct model *m, const struct model_site *s,
			enum classify_scope *scope)
{
	int kind;

	*scope = CLASSIFY_ALL;
	if (s->kind >= KLEAK_SITE_PAGES)
		return KLEAK_OBJ_NONE;
	/* the allocating function says what every object of the site is */
	kind = kind_of_frames(s);
	if (kind == KLEAK_OBJ_NONE && s->kind == KLEAK_SITE_CACHE)
		kind = kind_of_cache(m, s->cache, scope);
	if (kind == KLEAK_OBJ_FILE && *scope == CLASSIFY_ALL && opened_by_overlay(s))
		*scope = CLASSIFY_LAYER;
	return kind;
}

/* Marks the socket tables whose socks the site's cache (or a name merged with it) holds. */
static void tables_of(const struct model *m, const struct model_site *s, bool *wanted)
{
	const struct model_merged *g = model__merged_of(m, s->cache);
	int k = cache_index(s->cache);
	size_t i;

	if (k >= 0 && cache_kinds[k].table != ITER_NONE)
		wanted[cache_kinds[k].table] = true;
	for (i = 0; g && i < g->n_aliases; i++) {
		k = cache_index(g->aliases[i]);
		if (k >= 0 && cache_kinds[k].table != ITER_NONE)
			wanted[cache_kinds[k].table] = true;
	}
}

/* The records the walks found, hashed by address and type. */
struct held_set {
	struct kleak_held_rec *recs;
	size_t n, cap;
	__u32 *slots;	/* index + 1 into recs, 0: empty */
	size_t mask;
};

struct classifier {
	const struct tracer *t;
	struct model *m;
	struct classify_bpf *skel;
	bool has[ITER_MAX];
	/* kleak's pid namespace is not the host's: the walks see only its tasks */
	bool foreign_ns;
	/* inspect runs (BPF_PROG_TEST_RUN on raw_tp, 5.10); false once a run failed */
	bool has_inspect;
	struct held_set set;
	char missing[512];
	size_t missing_len;
};

static __u64 hash_key(__u64 addr, __u32 type)
{
	return (addr ^ type) * 0x9e3779b97f4a7c15ULL;
}

static int set_build(struct held_set *h)
{
	size_t cap = 16, i, j;

	while (cap < h->n * 2)
		cap *= 2;
	h->slots = calloc(cap, sizeof(*h->slots));
	if (!h->slots)
		return -ENOMEM;
	h->mask = cap - 1;
	for (i = 0; i < h->n; i++) {
		const struct kleak_held_rec *r = &h->recs[i];

		for (j = hash_key(r->addr, r->type) >> 20 & h->mask; h->slots[j];
		     j = (j + 1) & h->mask) {
			const struct kleak_held_rec *o = &h->recs[h->slots[j] - 1];

			/* a file open at several fds keeps the first */
			if (o->addr == r->addr && o->type == r->type)
				break;
		}
		/* a mapping's range says more than the exe_file record of the same file */
		if (h->slots[j] && r->type == KLEAK_HREC_MAPPED && r->end &&
		    !h->recs[h->slots[j] - 1].end)
			h->slots[j] = i + 1;
		if (!h->slots[j])
			h->slots[j] = i + 1;
	}
	return 0;
}

static const struct kleak_held_rec *set_find(const struct held_set *h, __u64 addr, __u32 type)
{
	size_t j;

	if (!h->slots)
		return NULL;
	for (j = hash_key(addr, type) >> 20 & h->mask; h->slots[j]; j = (j + 1) & h->mask) {
		const struct kleak_held_rec *r = &h->recs[h->slots[j] - 1];

		if (r->addr == addr && r->type == type)
			return r;
	}
	return NULL;
}

static void say_missing(struct classifier *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say_missing(struct classifier *c, const char *fmt, ...)
{
	size_t room = sizeof(c->missing) - c->missing_len;
	va_list ap;
	int n;

	if (c->missing_len && room > 2) {
		memcpy(c->missing + c->missing_len, "; ", 3);
		c->missing_len += 2;
		room -= 2;
	}
	va_start(ap, fmt);
	n = vsnprintf(c->missing + c->missing_len, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->missing_len += (size_t)n < room ? (size_t)n : room - 1;
}

/* Reads an iterator's whole output; *buf malloc'd. 0 or -errno. */
static int read_iter(struct bpf_link *link, char **buf, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *p = malloc(cap), *grown;
	ssize_t got;
	int fd, err = 0;

	if (!p)
		return -ENOMEM;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		free(p);
		return err;
	}
	for (;;) {
		if (cap - n < 4096) {
			grown = realloc(p, cap * 2);
			if (!grown) {
				err = -ENOMEM;
				break;
			}
			p = grown;
			cap *= 2;
		}
		got = read(fd, p + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			break;
		}
		if (!got)
			break;
		n += got;
	}
	close(fd);
	if (err) {
		free(p);
		return err;
	}
	*buf = p;
	*len = n;
	return 0;
}

static struct bpf_program *prog_of(struct classify_bpf *skel, enum iter it)
{
	switch (it) {
	case ITER_TASK:
		return skel->progs.held_task;
	case ITER_TASK_FILE:
		return skel->progs.held_file;
	case ITER_TASK_VMA:
		return skel->progs.held_vma;
	case ITER_TCP:
		return skel->progs.held_tcp;
	case ITER_UDP:
		return skel->progs.held_udp;
	default:
		return skel->progs.held_unix;
	}
}

/*
 * The vmas of one mapping of a file come one after another (text, data,
 * ...): one record for them, spanning them all. Returns how many are left.
 */
static size_t merge_mappings(struct kleak_held_rec *r, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (k && r[k - 1].addr == r[i].addr && r[k - 1].tgid == r[i].tgid &&
		    r[k - 1].end <= r[i].start) {
			r[k - 1].end = r[i].end;
			continue;
		}
		r[k++] = r[i];
	}
	return k;
}

/* Runs one walk and appends its records to the set. */
static int walk(struct classifier *c, enum iter it)
{
	struct bpf_link *link;
	struct kleak_held_rec *grown;
	size_t len = 0, n;
	char *buf = NULL;
	int err;

	link = bpf_program__attach_iter(prog_of(c->skel, it), NULL);
	if (!link)
		return -errno;
	err = read_iter(link, &buf, &len);
	bpf_link__destroy(link);
	if (err)
		return err;
	n = len / sizeof(struct kleak_held_rec);
	if (it == ITER_TASK_VMA)
		n = merge_mappings((struct kleak_held_rec *)buf, n);
	if (c->set.n + n > c->set.cap) {
		c->set.cap = (c->set.n + n) * 2;
		grown = realloc(c->set.recs, c->set.cap * sizeof(*grown));
		if (!grown) {
			free(buf);
			return -ENOMEM;
		}
		c->set.recs = grown;
	}
	memcpy(c->set.recs + c->set.n, buf, n * sizeof(struct kleak_held_rec));
	c->set.n += n;
	free(buf);
	return 0;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

/* Probes the iterators in the kernel's BTF and loads those it has. */
static int load(struct classifier *c)
{
	struct btf *btf;
	libbpf_print_fn_t old;
	int i, err;

	/* a BTF file (--btf) cannot stand in: iterators attach by the kernel's own ids */
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		say_missing(c, "the kernel has no BTF (/sys/kernel/btf/vmlinux) to attach the "
			    "iterators by");
		return -ENOENT;
	}
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		err = -errno;
		say_missing(c, "no kernel BTF to find the iterators in: %s", strerror(-err));
		return err;
	}
	for (i = 0; i < ITER_MAX; i++)
		c->has[i] = features__has_iter(btf, iter_info[i].feat);
	btf__free(btf);
	c->skel = classify_bpf__open();
	if (!c->skel) {
		err = -errno;
		say_missing(c, "cannot open the classification programs: %s", strerror(-err));
		return err;
	}
	for (i = 0; i < ITER_MAX; i++)
		if (!c->has[i])
			bpf_program__set_autoload(prog_of(c->skel, i), false);
	old = libbpf_set_print(quiet_print);
	err = classify_bpf__load(c->skel);
	libbpf_set_print(old);
	if (err) {
		say_missing(c, "cannot load the classification programs: %s", strerror(-err));
		return err;
	}
	c->has_inspect = true;
	return 0;
}

/* A site of a kind the kernel's walks can classify, and what it lacks otherwise. */
/* A site of a kind the kernel's walks can classify, and what it lacks otherwise. */
static bool kind_classified(struct classifier *c, int kind)
{
	switch (kind) {
	case KLEAK_OBJ_TASK:
		return c->has[ITER_TASK];
	case KLEAK_OBJ_FILE:
	case KLEAK_OBJ_SOCKET:
	case KLEAK_OBJ_SOCK:
		return c->has[ITER_TASK_FILE];
	default:
		return false;
	}
}

/* Socks inspected one by one per report, where no walk found them (a run each: ~10 us). */
#define INSPECT_MAX 4096

/* An object no walk found: classified after it is checked to be still recorded. */
struct pending {
	__u64 addr;
	struct model_site *s;
	size_t age;
	int kind;
	enum classify_scope scope;
};

/*
 * The class of an object a walk found, or HELD_UNKNOWN when none did. A
 * sock in a table and in no fd table the walks saw is in none of another
 * pid namespace's either only when kleak sees them all.
 */
static int class_found(const struct classifier *c, int kind, __u64 addr)
{
	const struct held_set *h = &c->set;
	const struct kleak_held_rec *r;

	switch (kind) {
	case KLEAK_OBJ_TASK:
		r = set_find(h, addr, KLEAK_HREC_TASK);
		if (!r)
			return HELD_UNKNOWN;
		return r->state ? HELD_ZOMBIE : HELD_LIVE;
	case KLEAK_OBJ_FILE:
		if (set_find(h, addr, KLEAK_HREC_FILE))
			return HELD_FD;
		return set_find(h, addr, KLEAK_HREC_MAPPED) ? HELD_MAPPED : HELD_UNKNOWN;
	case KLEAK_OBJ_SOCKET:
		return set_find(h, addr, KLEAK_HREC_SOCKET) ? HELD_FD : HELD_UNKNOWN;
	case KLEAK_OBJ_SOCK:
		if (set_find(h, addr, KLEAK_HREC_SOCK))
			return HELD_FD;
		r = set_find(h, addr, KLEAK_HREC_SOCK_TABLE);
		if (!r)
			return HELD_UNKNOWN;
		if (r->flags & KLEAK_SOCK_DEAD)
			return HELD_ORPHAN;
		return c->foreign_ns ? HELD_UNKNOWN : HELD_NO_FD;
	}
	return HELD_UNKNOWN;
}

/*
 * Reads the fields of n objects into out[n], one inspect run each; an object
 * not read is left zeroed. The first failed run (a kernel without test runs
 * of raw_tp programs, before 5.10) stops them for this report.
 */
static void inspect_all(struct classifier *c, const struct kleak_inspect_req *reqs, size_t n,
			struct kleak_inspect *out)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int prog = bpf_program__fd(c->skel->progs.inspect);
	int req_fd = bpf_map__fd(c->skel->maps.inspect_req);
	int out_fd = bpf_map__fd(c->skel->maps.inspect_out);
	__u32 zero = 0;
	size_t i;
	int err;

	memset(out, 0, n * sizeof(*out));
	for (i = 0; i < n && c->has_inspect; i++) {
		err = bpf_map_update_elem(req_fd, &zero, &reqs[i], BPF_ANY) ? -errno : 0;
		if (!err)
			err = bpf_prog_test_run_opts(prog, &opts) ? -errno : 0;
		if (!err)
			err = bpf_map_lookup_elem(out_fd, &zero, &out[i]) ? -errno : 0;
		if (err) {
			say_missing(c, "cannot read objects' fields (pid, path, state): %s",
				    strerror(-err));
			c->has_inspect = false;
			memset(&out[i], 0, sizeof(out[i]));
		}
	}
}

static const char *const tcp_states[] = {
	"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV",
};

static void fmt_endpoint(char *buf, size_t len, __u32 family, const __u8 *addr, __u16 port)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(family, addr, a, sizeof(a));
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

static char *sock_desc(const struct kleak_inspect *o)
{
	const char *state = o->state < sizeof(tcp_states) / sizeof(tcp_states[0]) ?
				    tcp_states[o->state] : "?";
	char buf[160], src[64], dst[64];

	if (o->family == AF_INET || o->family == AF_INET6) {
		fmt_endpoint(src, sizeof(src), o->family, o->saddr, o->sport);
		fmt_endpoint(dst, sizeof(dst), o->family, o->daddr, o->dport);
		if (o->dport)
			snprintf(buf, sizeof(buf), "%s %s -> %s", state, src, dst);
		else
			snprintf(buf, sizeof(buf), "%s %s", state, src);
	} else if (o->family == AF_UNIX) {
		/* unix socks keep their state in TCP's terms */
		snprintf(buf, sizeof(buf), "unix %s", state);
	} else {
		snprintf(buf, sizeof(buf), "family %u state %u", o->family, o->state);
	}
	return strdup(buf);
}

/*
 * The path from the dentry names, outermost first: "/dev/null", or
 * "anon_inode:[perf_event]" on a pseudo filesystem, "..." in front where
 * the names stop short of the root.
 */
static char *file_desc(const struct kleak_inspect *o)
{
	char buf[KLEAK_PATH_COMPS * (KLEAK_NAME_LEN + 1) + 8];
	size_t len = 0;
	int i, n = 0;

	while (n < KLEAK_PATH_COMPS && o->name[n][0])
		n++;
	if (!n)
		return o->flags & KLEAK_PATH_FULL ? strdup("/") : NULL;
	buf[0] = '\0';
	i = n - 1;
	if (o->flags & KLEAK_PATH_PSEUDO)
		len += snprintf(buf, sizeof(buf), "%.*s", KLEAK_NAME_LEN, o->name[i--]);
	else if (!(o->flags & KLEAK_PATH_FULL))
		len += snprintf(buf, sizeof(buf), "...");
	for (; i >= 0; i--)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%.*s",
				(o->flags & KLEAK_PATH_PSEUDO) && i == n - 2 ? "" : "/",
				KLEAK_NAME_LEN, o->name[i]);
	return strdup(buf);
}

/* Fills an example from the inspected fields and the walk's record, if any. */
static int fill_example(struct model_object *e, const struct kleak_inspect *o,
			const struct kleak_held_rec *r, int kind)
{
	if (r && (r->type == KLEAK_HREC_FILE || r->type == KLEAK_HREC_SOCKET ||
		  r->type == KLEAK_HREC_SOCK || r->type == KLEAK_HREC_MAPPED)) {
		e->pid = r->pid;
		e->tgid = r->tgid;
		if (r->type == KLEAK_HREC_MAPPED) {
			e->map_start = r->start;
			e->map_end = r->end;
		} else {
			e->fd = r->fd;
		}
	}
	e->last_ran_ms = -1;
	if (!o->addr)
		return 0;
	switch (kind) {
	case KLEAK_OBJ_TASK:
		e->pid = o->pid;
		e->tgid = o->tgid;
		memcpy(e->comm, o->comm, sizeof(e->comm));
		e->comm[sizeof(e->comm) - 1] = '\0';
		/* "now" is when kleak's task was last accounted, up to a tick ago */
		if (o->last_ran_ns)
			e->last_ran_ms = o->now_ns > o->last_ran_ns ?
						 (o->now_ns - o->last_ran_ns) / 1000000 : 0;
		return 0;
	case KLEAK_OBJ_FILE:
		e->count = o->count;
		e->desc = file_desc(o);
		break;
	case KLEAK_OBJ_SOCK:
	case KLEAK_OBJ_SOCKET:
		if (kind == KLEAK_OBJ_SOCK || o->sock)
			e->desc = sock_desc(o);
		break;
	}
	return 0;
}

struct example_ref {
	struct model_object *e;
	int kind;
	const struct kleak_held_rec *rec;
};

/* The walk's record an example of class held and kind comes from. */
static __u32 rec_type_of(int kind, int held)
{
	switch (kind) {
	case KLEAK_OBJ_TASK:
		return KLEAK_HREC_TASK;
	case KLEAK_OBJ_FILE:
		return held == HELD_MAPPED ? KLEAK_HREC_MAPPED : KLEAK_HREC_FILE;
	case KLEAK_OBJ_SOCKET:
		return KLEAK_HREC_SOCKET;
	default:
		return KLEAK_HREC_SOCK;
	}
}

/*
 * Up to MODEL_HELD_EXAMPLES objects per class and site, the oldest of each
 * class, with their fields: a report counting the n oldest objects shows
 * the examples of a class the n oldest have (held.c relies on it).
 */
static int add_examples(struct classifier *c, const int *kinds)
{
	struct kleak_inspect_req *reqs = NULL;
	struct kleak_inspect *out = NULL;
	struct example_ref *refs = NULL;
	size_t i, j, n = 0, cap = 0;
	int err = 0;

	for (i = 0; i < c->m->n_sites; i++) {
		struct model_site *s = &c->m->sites[i];
		size_t taken[HELD_MAX] = {};

		for (j = 0; s->held && j < s->n_ages; j++) {
			int h = s->held[j];
			struct model_object *e;

			if (h == HELD_UNKNOWN || h == HELD_GONE || h == HELD_MERGED ||
			    taken[h] == MODEL_HELD_EXAMPLES)
				continue;
			if (n == cap) {
				struct kleak_inspect_req *r2;
				struct example_ref *f2;

				cap = cap ? cap * 2 : 256;
				r2 = realloc(reqs, cap * sizeof(*reqs));
				if (r2)
					reqs = r2;
				f2 = realloc(refs, cap * sizeof(*refs));
				if (f2)
					refs = f2;
				if (!r2 || !f2) {
					err = -ENOMEM;
					goto out;
				}
			}
			e = model_site__add_example(s);
			if (!e) {
				err = -ENOMEM;
				goto out;
			}
			taken[h]++;
			e->held = h;
			memset(&reqs[n], 0, sizeof(reqs[n]));
			reqs[n].addr = s->addrs[j];
			reqs[n].kind = kinds[i];
			refs[n].kind = kinds[i];
			refs[n].rec = set_find(&c->set, s->addrs[j], rec_type_of(kinds[i], h));
			n++;
		}
		/* examples point into s->examples, which may move: fill them per site */
		if (!n)
			continue;
		for (j = 0; j < n; j++)
			refs[j].e = &s->examples[s->n_examples - n + j];
		out = calloc(n, sizeof(*out));
		if (!out) {
			err = -ENOMEM;
			goto out;
		}
		inspect_all(c, reqs, n, out);
		for (j = 0; j < n; j++)
			fill_example(refs[j].e, &out[j], refs[j].rec, refs[j].kind);
		free(out);
		out = NULL;
		n = 0;
	}
out:
	free(reqs);
	free(refs);
	free(out);
	return err;
}

/*
 * Objects no walk found and still recorded: a task is reaped, a file in no
 * fd table; a sock is inspected, and is an orphan when sock_orphan() took
 * its socket, held by the kernel otherwise. Where the walks cannot see
 * everything that could hold it, none of that follows: in a merged cache
 * the object may be of another kind ("merged", never inspected), outside
 * the host's pid namespace another namespace's process may hold it
 * (unknown; a sock's own orphan flag still tells).
 */
static int settle_pending(struct classifier *c, struct pending *p, size_t n)
{
	struct kleak_inspect_req *reqs = NULL;
	struct kleak_inspect *out = NULL;
	bool *recorded = calloc(n ? n : 1, sizeof(*recorded));
	__u64 *addrs = malloc((n ? n : 1) * sizeof(*addrs));
	size_t i, j, k = 0;
	int err = 0;

	if (!recorded || !addrs) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		addrs[i] = p[i].addr;
	err = snapshot__still_recorded(c->t, addrs, n, recorded);
	if (err)
		goto out;
	for (i = 0; i < n; i++) {
		__u8 *held = &p[i].s->held[p[i].age];

		if (!recorded[i])
			*held = HELD_GONE;
		else if (p[i].scope == CLASSIFY_MERGED)
			*held = HELD_MERGED;
		else if (p[i].scope == CLASSIFY_LAYER)
			*held = HELD_UNKNOWN;
		else if (p[i].kind == KLEAK_OBJ_SOCK)
			k++;
		else if (c->foreign_ns)
			*held = HELD_UNKNOWN;
		else if (p[i].kind == KLEAK_OBJ_TASK)
			*held = HELD_REAPED;
		else
			*held = HELD_NO_FD;
	}
	if (!k || !c->has_inspect)
		goto out;
	/* one run per sock: bounded, the rest stay unknown and the header says so */
	if (k > INSPECT_MAX) {
		say_missing(c, "%zu socks in no table and no fd table, more than the %d kleak "
			    "inspects per report: the rest are not classified", k, INSPECT_MAX);
		k = INSPECT_MAX;
	}
	reqs = calloc(k, sizeof(*reqs));
	out = calloc(k, sizeof(*out));
	if (!reqs || !out) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0, j = 0; i < n && j < k; i++)
		if (recorded[i] && p[i].scope == CLASSIFY_ALL && p[i].kind == KLEAK_OBJ_SOCK)
			reqs[j++] = (struct kleak_inspect_req){ .addr = p[i].addr, .kind = p[i].kind };
	inspect_all(c, reqs, k, out);
	for (i = 0, j = k, k = 0; i < n && k < j; i++) {
		if (!recorded[i] || p[i].scope != CLASSIFY_ALL || p[i].kind != KLEAK_OBJ_SOCK)
			continue;
		if (out[k].flags & KLEAK_SOCK_DEAD && out[k].addr)
			p[i].s->held[p[i].age] = HELD_ORPHAN;
		else if (out[k].addr && !c->foreign_ns)
			p[i].s->held[p[i].age] = HELD_NO_FD;
		k++;
	}
out:
	free(recorded);
	free(addrs);
	free(reqs);
	free(out);
	return err;
}

/* Classifies every age of the sites of classified kinds, and says which. */
static int classify_sites(struct classifier *c, const int *kinds,
			  const enum classify_scope *scopes)
{
	struct pending *p = NULL, *grown;
	size_t i, j, n = 0, cap = 0;
	bool seen[KLEAK_OBJ_MAX] = {};
	char names[64] = "";
	int err;

	for (i = 0; i < c->m->n_sites; i++) {
		struct model_site *s = &c->m->sites[i];

		if (!kind_classified(c, kinds[i]) || !s->addrs)
			continue;
		seen[kinds[i]] = true;
		s->held = calloc(s->n_ages ? s->n_ages : 1, 1);
		if (!s->held) {
			free(p);
			return -ENOMEM;
		}
		for (j = 0; j < s->n_ages; j++) {
			s->held[j] = class_found(c, kinds[i], s->addrs[j]);
			if (s->held[j] != HELD_UNKNOWN)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				grown = realloc(p, cap * sizeof(*p));
				if (!grown) {
					free(p);
					return -ENOMEM;
				}
				p = grown;
			}
			p[n++] = (struct pending){ s->addrs[j], s, j, kinds[i], scopes[i] };
		}
	}
	err = settle_pending(c, p, n);
	free(p);
	if (err)
		return err;
	if (seen[KLEAK_OBJ_TASK])
		strcat(names, " task_struct");
	if (seen[KLEAK_OBJ_FILE])
		strcat(names, " filp");
	if (seen[KLEAK_OBJ_SOCK] || seen[KLEAK_OBJ_SOCKET])
		strcat(names, " sockets");
	if (names[0]) {
		c->m->held_kinds = strdup(names + 1);
		if (!c->m->held_kinds)
			return -ENOMEM;
	}
	return 0;
}

/*
 * Where an iterator some site needs is missing, the header says which, since
 * when, and what of the sites' objects is then not classified.
 */
static void note_missing(struct classifier *c, const bool *wanted, const bool *tables)
{
	static const char *const protos[] = { "TCP", "UDP", "UNIX" };
	static const struct {
		int kind;
		enum iter it;
		const char *what;
	} needs[] = {
		{ KLEAK_OBJ_TASK, ITER_TASK, "task_struct not classified" },
		{ KLEAK_OBJ_FILE, ITER_TASK_FILE, "filp not classified" },
		{ KLEAK_OBJ_SOCKET, ITER_TASK_FILE, "sockets not classified" },
		{ KLEAK_OBJ_SOCK, ITER_TASK_FILE, "sockets not classified" },
		{ KLEAK_OBJ_FILE, ITER_TASK_VMA, "mappings not walked: no-fd includes files only "
		  "a mapping holds (executables excepted)" },
	};
	size_t i;

	for (i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
		if (!wanted[needs[i].kind] || c->has[needs[i].it])
			continue;
		/* a missing task_file says it once for sockets */
		if (needs[i].kind == KLEAK_OBJ_SOCK && wanted[KLEAK_OBJ_SOCKET])
			continue;
		say_missing(c, "no %s iterator in this kernel (since %s): %s",
			    iter_info[needs[i].it].what, iter_info[needs[i].it].since, needs[i].what);
	}
	for (i = ITER_TCP; i <= ITER_UNIX; i++)
		if (tables[i] && !c->has[i])
			say_missing(c, "no %s iterator in this kernel (since %s): %s socks in no fd "
				    "table are read one by one instead, and not classified in a "
				    "merged cache", iter_info[i].what, iter_info[i].since,
				    protos[i - ITER_TCP]);
}

/*
 * Names the merged caches, and the files of overlayfs's layers, classified
 * only where a walk found the object.
 */
static void note_scopes(struct classifier *c, const enum classify_scope *scopes)
{
	const struct model_merged *g;
	bool layer = false;
	char names[256];
	size_t i, j, len;

	for (i = 0; i < c->m->n_sites; i++) {
		if (scopes[i] == CLASSIFY_ALL || !c->m->sites[i].held)
			continue;
		if (scopes[i] == CLASSIFY_LAYER) {
			if (!layer)
				say_missing(c, "files of overlayfs's layers (opened under an overlay "
					    "file) that no mapping holds are held by their overlay file, "
					    "which the walks do not follow: not classified");
			layer = true;
			continue;
		}
		/* once per cache: its first classified site */
		for (j = 0; j < i && !(scopes[j] == CLASSIFY_MERGED && c->m->sites[j].held &&
				       !strcmp(c->m->sites[j].cache, c->m->sites[i].cache)); j++)
			;
		if (j < i)
			continue;
		g = model__merged_of(c->m, c->m->sites[i].cache);
		len = 0;
		names[0] = '\0';
		for (j = 0; g && j < g->n_aliases; j++)
			len += snprintf(names + len, len < sizeof(names) ? sizeof(names) - len : 0,
					"%s%s", j ? ", " : "", g->aliases[j]);
		say_missing(c, "%s (merged: %s) holds objects of several kinds: those no walk "
			    "found are not classified (merged)", c->m->sites[i].cache, names);
	}
}

/*
 * Whether kleak runs in the initial pid namespace: the iterators walk the
 * tasks of the namespace of whoever reads them.
 */
static bool in_host_pid_ns(struct classifier *c)
{
	struct stat st;

	if (stat("/proc/self/ns/pid", &st)) {
		say_missing(c, "cannot tell kleak's pid namespace (/proc/self/ns/pid: %s): objects "
			    "no walk found are not classified", strerror(errno));
		return false;
	}
	if (st.st_ino == PID_NS_INIT_INO)
		return true;
	say_missing(c, "kleak runs in a pid namespace of its own, whose tasks alone the walks see: "
		    "objects no walk found are not classified (no reaped, no no-fd)");
	return false;
}

int classify__model(const struct tracer *t, struct model *m)
{
	struct classifier c = { .t = t, .m = m };
	bool wanted[KLEAK_OBJ_MAX] = {}, tables[ITER_MAX] = {};
	enum classify_scope *scopes;
	int *kinds, err = 0, i;
	size_t j;

	kinds = calloc(m->n_sites ? m->n_sites : 1, sizeof(*kinds));
	scopes = calloc(m->n_sites ? m->n_sites : 1, sizeof(*scopes));
	if (!kinds || !scopes) {
		err = -ENOMEM;
		goto out;
	}
	for (j = 0; j < m->n_sites; j++) {
		kinds[j] = classify__site_kind(m, &m->sites[j], &scopes[j]);
		if (kinds[j] == KLEAK_OBJ_NONE || !m->sites[j].n_ages)
			continue;
		wanted[kinds[j]] = true;
		tables_of(m, &m->sites[j], tables);
	}
	for (i = 1; i < KLEAK_OBJ_MAX && !wanted[i]; i++)
		;
	if (i == KLEAK_OBJ_MAX)
		goto out;
	if (load(&c))
		goto out_note;
	c.foreign_ns = !in_host_pid_ns(&c);
	note_missing(&c, wanted, tables);
	for (i = 0; i < ITER_MAX; i++) {
		if (!c.has[i])
			continue;
		err = walk(&c, i);
		if (err == -ENOMEM)
			goto out;
		if (err) {
			say_missing(&c, "the %s walk failed: %s", iter_info[i].what, strerror(-err));
			c.has[i] = false;
			err = 0;
		}
	}
	err = set_build(&c.set);
	if (!err)
		err = classify_sites(&c, kinds, scopes);
	if (!err)
		note_scopes(&c, scopes);
	if (!err)
		err = add_examples(&c, kinds);
	model__count_held(m);
out_note:
	if (!err && c.missing_len) {
		m->held_missing = strdup(c.missing);
		if (!m->held_missing)
			err = -ENOMEM;
	}
out:
	classify_bpf__destroy(c.skel);
	free(c.set.recs);
	free(c.set.slots);
	free(kinds);
	free(scopes);
	return err;
}
