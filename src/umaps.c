// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Traced processes' executable mappings, kept after they exit (see
 * umaps.h). In fp mode /proc/PID/maps where a new user stack is announced
 * rather than perf MMAP2 events: one read per process instead of a perf
 * buffer per CPU. Its cost is a race with a process that exits at once:
 * those are counted as missed, and their build-ID frames still resolve
 * through any other process that mapped the same binary, or through
 * debuginfo found by build ID. --ustack=dwarf follows mmap events, exits
 * included: a process is forgotten once its samples are unwound.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "buildid.h"
#include "umaps.h"

struct uproc {
	__u32 tgid;
	__u32 gen;	/* of the last change of its mappings, unique across processes */
	__u64 read_ns;	/* CLOCK_MONOTONIC, as BPF timestamps are */
	__u64 event_ns;	/* the last mmap event's time */
	__u64 exit_ns;	/* its exit event's time, 0: alive */
	size_t n_maps;
	struct umap *maps;
};

struct umaps {
	size_t n_procs;
	size_t cap;
	struct uproc *procs;
	/* tgid -> index + 1 into procs, open addressing; cap_index a power of two */
	size_t cap_index;
	__u32 *index;
	struct ubins *bins;
	__u32 gen;
	/* the earliest exit not reaped yet, ~0: none */
	__u64 first_exit_ns;
	__u64 missed;
};

/* Reads a hex number at *p, bounded by end; false if there is none. */
static bool hex_field(const char **p, const char *end, __u64 *v)
{
	const char *s = *p;
	__u64 x = 0;
	int d;

	for (; s < end; s++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			break;
		if (x >> 60)
			return false;
		x = x << 4 | d;
	}
	if (s == *p)
		return false;
	*v = x;
	*p = s;
	return true;
}

/* Reads a decimal number at *p, bounded by end; false if there is none. */
static bool dec_field(const char **p, const char *end, __u64 *v)
{
	const char *s = *p;
	__u64 x = 0;

	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (x > (~0ULL - 9) / 10)
			return false;
		x = x * 10 + (*s - '0');
	}
	if (s == *p || (s < end && *s != ' '))
		return false;
	*v = x;
	*p = s;
	return true;
}

static const char *skip_spaces(const char *p, const char *end)
{
	while (p < end && *p == ' ')
		p++;
	return p;
}

/* Skips a field of non-spaces; false if there is none. */
static bool skip_field(const char **p, const char *end)
{
	const char *s = *p;

	while (s < end && *s != ' ')
		s++;
	if (s == *p)
		return false;
	*p = s;
	return true;
}

int umaps__parse_line(const char *line, size_t len, struct umaps_line *out)
{
	const char *p = line, *end = line + len, *perms;
	__u64 major, minor;

	if (len && end[-1] == '\n')
		end--;
	memset(out, 0, sizeof(*out));
	if (!hex_field(&p, end, &out->start) || p == end || *p++ != '-' ||
	    !hex_field(&p, end, &out->end) || out->end < out->start)
		return -EINVAL;
	p = skip_spaces(p, end);
	perms = p;
	if (!skip_field(&p, end) || p - perms != 4)
		return -EINVAL;
	out->exec = perms[2] == 'x';
	p = skip_spaces(p, end);
	if (!hex_field(&p, end, &out->pgoff))
		return -EINVAL;
	p = skip_spaces(p, end);
	if (!hex_field(&p, end, &major) || p == end || *p++ != ':' ||
	    !hex_field(&p, end, &minor) || major >> 32 || minor >> 32)
		return -EINVAL;
	out->dev = major << 32 | minor;
	p = skip_spaces(p, end);
	if (!dec_field(&p, end, &out->inode))
		return -EINVAL;
	p = skip_spaces(p, end);
	/* a file's path is absolute; "[vdso]", "[heap]" and anonymous ones are not files */
	if (p < end && *p == '/') {
		out->path = p;
		out->path_len = end - p;
	}
	return 0;
}

struct umaps *umaps__new(void)
{
	struct umaps *u = calloc(1, sizeof(struct umaps));

	if (!u)
		return NULL;
	u->first_exit_ns = ~0ULL;
	u->bins = ubins__new();
	if (!u->bins) {
		free(u);
		return NULL;
	}
	return u;
}

static void proc_clear(struct uproc *pr)
{
	size_t i;

	for (i = 0; i < pr->n_maps; i++)
		free(pr->maps[i].path);
	free(pr->maps);
	pr->maps = NULL;
	pr->n_maps = 0;
}

void umaps__free(struct umaps *u)
{
	size_t i;

	if (!u)
		return;
	for (i = 0; i < u->n_procs; i++)
		proc_clear(&u->procs[i]);
	ubins__free(u->bins);
	free(u->procs);
	free(u->index);
	free(u);
}

static size_t index_slot(const struct umaps *u, __u32 tgid)
{
	size_t i = (tgid * 0x9e3779b1U) & (u->cap_index - 1);

	while (u->index[i] && u->procs[u->index[i] - 1].tgid != tgid)
		i = (i + 1) & (u->cap_index - 1);
	return i;
}

/* Process tgid's entry, or NULL: with every process of a system-wide run, no scan. */
static struct uproc *proc_find(const struct umaps *u, __u32 tgid)
{
	size_t i;

	if (!u->cap_index)
		return NULL;
	i = index_slot(u, tgid);
	return u->index[i] ? &u->procs[u->index[i] - 1] : NULL;
}

/* Indexes every process again, in a table at most half full; grows it with grow. */
static int index_rebuild(struct umaps *u, bool grow)
{
	size_t i;

	if (grow) {
		free(u->index);
		u->cap_index = u->cap_index ? u->cap_index * 2 : 256;
		u->index = calloc(u->cap_index, sizeof(*u->index));
		if (!u->index) {
			u->cap_index = 0;
			return -ENOMEM;
		}
	} else if (u->cap_index) {
		memset(u->index, 0, u->cap_index * sizeof(*u->index));
	}
	for (i = 0; i < u->n_procs; i++)
		u->index[index_slot(u, u->procs[i].tgid)] = i + 1;
	return 0;
}

/* Indexes procs[n_procs - 1]. */
static int index_add(struct umaps *u)
{
	if (u->n_procs * 2 > u->cap_index)
		return index_rebuild(u, true);
	u->index[index_slot(u, u->procs[u->n_procs - 1].tgid)] = u->n_procs;
	return 0;
}

/*
 * Process tgid's entry, added empty if new; with clear, emptied for a new
 * reading. A process of that id that exited is gone: the id was reused.
 */
static struct uproc *proc_get(struct umaps *u, __u32 tgid, bool clear)
{
	struct uproc *grown, *pr = proc_find(u, tgid);

	if (pr) {
		if (clear || pr->exit_ns)
			proc_clear(pr);
		pr->exit_ns = 0;
		pr->gen = ++u->gen;
		return pr;
	}
	if (u->n_procs == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 64;
		grown = realloc(u->procs, u->cap * sizeof(*grown));
		if (!grown)
			return NULL;
		u->procs = grown;
	}
	memset(&u->procs[u->n_procs], 0, sizeof(u->procs[0]));
	u->procs[u->n_procs].tgid = tgid;
	u->procs[u->n_procs].gen = ++u->gen;
	u->n_procs++;
	if (index_add(u)) {
		u->n_procs--;
		return NULL;
	}
	return &u->procs[u->n_procs - 1];
}

/* Reads the file at fd as l's: 0 and bin filled (fd kept in it), or -errno (fd closed). */
static int read_fd(int fd, const struct umaps_line *l, struct ubin *bin)
{
	int n = buildid__of_fd(fd, bin->id, &bin->loads);

	if (n > 0 && l->build_id_len && memcmp(bin->id, l->build_id, sizeof(bin->id)))
		n = -ESTALE;
	if (n <= 0) {
		close(fd);
		return n ? n : -ENOENT;
	}
	bin->id_len = n;
	bin->has_loads = true;
	bin->fd = fd;
	return 0;
}

int umaps__read_mapped(__u32 tgid, const struct umaps_line *l, struct ubin *bin)
{
	char path[PATH_MAX + 32];
	struct stat st;
	int fd, err = -ENOENT, i;

	/* path, dev and inode as the process mapped it; the path is copied by ubins__add() */
	memset(bin, 0, sizeof(*bin));
	bin->fd = -1;
	bin->dev = l->dev;
	bin->inode = l->inode;
	if (l->path_len >= PATH_MAX)
		return -ENAMETOOLONG;
	/* the very file mapped, whatever its path holds now (CAP_SYS_ADMIN) */
	snprintf(path, sizeof(path), "/proc/%u/map_files/%" PRIx64 "-%" PRIx64, tgid,
		 (uint64_t)l->start, (uint64_t)l->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && ((err = read_fd(fd, l, bin)) == 0 || err == -ENOENT))
		return err;
	/*
	 * By path: in the process's own root (a container, a chroot) while it
	 * lives, then in kleak's. A path holds what the process mapped only if
	 * it is the same file: its build ID where the kernel gave one, else
	 * its inode.
	 */
	for (i = 0; i < 2; i++) {
		if (i)
			snprintf(path, sizeof(path), "%.*s", (int)l->path_len, l->path);
		else
			snprintf(path, sizeof(path), "/proc/%u/root%.*s", tgid, (int)l->path_len,
				 l->path);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (!l->build_id_len && l->inode &&
		    (fstat(fd, &st) || st.st_ino != l->inode)) {
			close(fd);
			err = -ESTALE;
			continue;
		}
		err = read_fd(fd, l, bin);
		if (!err || err == -ENOENT)
			return err;
	}
	return err;
}

/*
 * Appends a mapping, its binary found by the kernel's build ID or by file,
 * else read (once per binary: processes of one program, forked children,
 * xargs runs, each map the same files).
 */
static int add_map(struct umaps *u, struct uproc *pr, __u32 tgid, const struct umaps_line *l,
		   umaps_read_fn read)
{
	const struct ubin *known = NULL;
	struct ubin bin;
	struct umap *grown, *m;
	int err = -ENOENT;

	grown = realloc(pr->maps, (pr->n_maps + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	pr->maps = grown;
	m = &pr->maps[pr->n_maps];
	memset(m, 0, sizeof(*m));
	m->start = l->start;
	m->end = l->end;
	m->pgoff = l->pgoff;
	m->dev = l->dev;
	m->inode = l->inode;
	m->path = strndup(l->path, l->path_len);
	if (!m->path)
		return -ENOMEM;
	pr->n_maps++;
	if (l->build_id_len)
		known = ubins__find(u->bins, l->build_id);
	else
		known = ubins__find_file(u->bins, l->dev, l->inode, l->path, l->path_len);
	if (!known || !known->has_loads) {
		err = read ? read(tgid, l, &bin) : -ENOENT;
		m->replaced = err == -ESTALE;
		/* the kernel named the build that ran: its frames resolve through debuginfo still */
		if (err && l->build_id_len) {
			memset(&bin, 0, sizeof(bin));
			memcpy(bin.id, l->build_id, sizeof(bin.id));
			bin.id_len = l->build_id_len;
			bin.dev = l->dev;
			bin.inode = l->inode;
			bin.fd = -1;
			err = 0;
		}
		bin.path = m->path;
		if (!err && !(known = ubins__add(u->bins, &bin)))
			return -ENOMEM;
	}
	if (!known)
		return 0;
	m->has_build_id = true;
	memcpy(m->build_id, known->id, sizeof(m->build_id));
	return 0;
}

static int add_lines(struct umaps *u, __u32 tgid, const char *buf, size_t len,
		     umaps_read_fn read)
{
	const char *p = buf, *end = buf + len, *nl;
	struct umaps_line l;
	struct timespec ts;
	struct uproc *pr;
	int err;

	pr = proc_get(u, tgid, true);
	if (!pr)
		return -ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pr->read_ns = (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		if (umaps__parse_line(p, nl - p, &l))
			return -EINVAL;
		if (!l.exec || !l.path)
			continue;
		err = add_map(u, pr, tgid, &l, read);
		if (err)
			return err;
	}
	return 0;
}

int umaps__add_text(struct umaps *u, __u32 tgid, const char *buf, size_t len,
		    umaps_read_fn read)
{
	return add_lines(u, tgid, buf, len, read);
}

int umaps__add_proc(struct umaps *u, __u32 tgid)
{
	char path[64], *buf = NULL;
	size_t cap = 0, len;
	FILE *f;
	int err;

	snprintf(path, sizeof(path), "/proc/%u/maps", tgid);
	f = fopen(path, "re");
	if (!f) {
		u->missed++;
		return -errno;
	}
	len = getdelim(&buf, &cap, '\0', f) > 0 ? strlen(buf) : 0;
	err = ferror(f) ? -EIO : 0;
	fclose(f);
	/* an exited process's maps read empty: nothing to resolve with */
	if (!err && !len)
		err = -ESRCH;
	if (!err)
		err = add_lines(u, tgid, buf, len, umaps__read_mapped);
	free(buf);
	if (err)
		u->missed++;
	return err;
}

const struct umap *umaps__proc(const struct umaps *u, __u32 tgid, size_t *n, __u32 *gen)
{
	const struct uproc *pr = proc_find(u, tgid);

	if (!pr)
		return NULL;
	*n = pr->n_maps;
	*gen = pr->gen;
	return pr->maps;
}

int umaps__add_mapping(struct umaps *u, __u32 tgid, const struct umaps_line *l, __u64 time,
		       umaps_read_fn read)
{
	struct uproc *pr = proc_get(u, tgid, false);
	size_t i, j;

	if (!pr)
		return -ENOMEM;
	pr->read_ns = ~0ULL;
	pr->event_ns = time;
	/*
	 * A new mapping replaces what it overlaps, as in the kernel; and one
	 * /proc/PID/maps already showed (read while its event was pending) is
	 * not kept twice.
	 */
	for (i = j = 0; i < pr->n_maps; i++) {
		if (pr->maps[i].start < l->end && l->start < pr->maps[i].end) {
			free(pr->maps[i].path);
			continue;
		}
		pr->maps[j++] = pr->maps[i];
	}
	pr->n_maps = j;
	return add_map(u, pr, tgid, l, read);
}

int umaps__exec(struct umaps *u, __u32 tgid, __u64 time)
{
	struct uproc *pr = proc_get(u, tgid, true);

	if (!pr)
		return -ENOMEM;
	pr->read_ns = ~0ULL;
	pr->event_ns = time;
	return 0;
}

int umaps__fork(struct umaps *u, __u32 parent, __u32 child, __u64 time)
{
	struct uproc *pr = NULL, *pp = NULL;
	size_t i;

	/* the child's own events, read first from another CPU's ring, come after its fork */
	pr = proc_find(u, child);
	if (pr && !pr->exit_ns && pr->event_ns > time)
		return 0;
	pr = proc_get(u, child, true);
	/* the parent is looked up after: adding the child may move the table */
	if (!pr)
		return -ENOMEM;
	pr->read_ns = ~0ULL;
	pr->event_ns = time;
	pp = proc_find(u, parent);
	if (!pp || !pp->n_maps)
		return 0;
	pr->maps = calloc(pp->n_maps, sizeof(*pr->maps));
	if (!pr->maps)
		return -ENOMEM;
	for (i = 0; i < pp->n_maps; i++) {
		pr->maps[i] = pp->maps[i];
		pr->maps[i].path = strdup(pp->maps[i].path);
		if (!pr->maps[i].path)
			return -ENOMEM;
		pr->n_maps++;
	}
	return 0;
}

void umaps__exit(struct umaps *u, __u32 tgid, __u64 time)
{
	struct uproc *pr = proc_find(u, tgid);

	/* 0 means alive: an exit at time 0 (a fuzzer's) still counts */
	if (!pr || pr->exit_ns)
		return;
	pr->exit_ns = time ? time : 1;
	if (pr->exit_ns < u->first_exit_ns)
		u->first_exit_ns = pr->exit_ns;
}

void umaps__reap(struct umaps *u, __u64 before, void (*fn)(void *ctx, __u32 tgid), void *ctx)
{
	__u64 first = ~0ULL;
	size_t i, kept = 0;

	if (u->first_exit_ns >= before)
		return;
	for (i = 0; i < u->n_procs; i++) {
		struct uproc *pr = &u->procs[i];

		if (pr->exit_ns && pr->exit_ns < before) {
			if (fn)
				fn(ctx, pr->tgid);
			proc_clear(pr);
			continue;
		}
		if (pr->exit_ns && pr->exit_ns < first)
			first = pr->exit_ns;
		u->procs[kept++] = *pr;
	}
	u->n_procs = kept;
	u->first_exit_ns = first;
	/* the table as it is has room: rebuilding it cannot fail */
	index_rebuild(u, false);
}

size_t umaps__n_procs(const struct umaps *u)
{
	return u->n_procs;
}

__u64 umaps__read_ns(const struct umaps *u, __u32 tgid)
{
	const struct uproc *pr = proc_find(u, tgid);

	return pr ? pr->read_ns : 0;
}

const struct umap *umaps__find(const struct umaps *u, __u32 tgid, __u64 ip)
{
	const struct uproc *pr = proc_find(u, tgid);
	size_t j;

	for (j = 0; pr && j < pr->n_maps; j++)
		if (ip >= pr->maps[j].start && ip < pr->maps[j].end)
			return &pr->maps[j];
	return NULL;
}

const struct ubin *umaps__binary_of(const struct umaps *u, const __u8 id[KLEAK_BUILD_ID_SIZE])
{
	return ubins__find(u->bins, id);
}

__u64 umaps__missed(const struct umaps *u)
{
	return u->missed;
}
