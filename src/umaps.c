// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Traced processes' executable mappings, kept after they exit (see
 * umaps.h). /proc/PID/maps on first sight rather than perf MMAP2 events:
 * one read per process instead of a perf buffer per CPU, and the BPF side
 * already knows when a process first allocates. Its cost is a race with a
 * process that exits at once: those are counted as missed, and their
 * build-ID frames still resolve through any other process that mapped the
 * same binary, or through debuginfo found by build ID.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "buildid.h"
#include "umaps.h"

struct uproc {
	__u32 tgid;
	__u32 gen;	/* reads of this process so far */
	__u64 read_ns;	/* CLOCK_MONOTONIC, as BPF timestamps are */
	__u64 event_ns;	/* the last mmap event's time, perf's clock */
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
	/* each distinct file with a build ID, once: what frames are resolved in */
	size_t n_files;
	struct umap *files;
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
	return calloc(1, sizeof(struct umaps));
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
	for (i = 0; i < u->n_files; i++)
		free(u->files[i].path);
	free(u->procs);
	free(u->index);
	free(u->files);
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

/* Indexes procs[n_procs - 1], the table kept at most half full. */
static int index_add(struct umaps *u)
{
	size_t i;

	if (u->n_procs * 2 > u->cap_index) {
		free(u->index);
		u->cap_index = u->cap_index ? u->cap_index * 2 : 256;
		u->index = calloc(u->cap_index, sizeof(*u->index));
		if (!u->index) {
			u->cap_index = 0;
			return -ENOMEM;
		}
		for (i = 0; i + 1 < u->n_procs; i++)
			u->index[index_slot(u, u->procs[i].tgid)] = i + 1;
	}
	u->index[index_slot(u, u->procs[u->n_procs - 1].tgid)] = u->n_procs;
	return 0;
}

/* Process tgid's entry, added empty if new; with clear, emptied for a new reading. */
static struct uproc *proc_get(struct umaps *u, __u32 tgid, bool clear)
{
	struct uproc *grown, *pr = proc_find(u, tgid);

	if (pr) {
		if (clear)
			proc_clear(pr);
		pr->gen++;
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
	u->n_procs++;
	if (index_add(u)) {
		u->n_procs--;
		return NULL;
	}
	return &u->procs[u->n_procs - 1];
}

/*
 * A mapping of the same file (device, inode, path) read before: its build
 * ID is reused, where processes of one binary (forked children, xargs
 * runs) would each read every library again. A file replaced on disk is a
 * new inode; one rewritten in place while mapped is not told apart (its
 * users get SIGBUS on the changed pages anyway).
 */
static const struct umap *known_file(const struct umaps *u, const struct umaps_line *l)
{
	size_t i;

	if (!l->inode)
		return NULL;
	for (i = u->n_files; i-- > 0;) {
		const struct umap *m = &u->files[i];

		if (m->inode == l->inode && m->dev == l->dev && strlen(m->path) == l->path_len &&
		    !memcmp(m->path, l->path, l->path_len))
			return m;
	}
	return NULL;
}

/* Keeps m's file among the distinct files; 0 or -ENOMEM. */
static int file_add(struct umaps *u, const struct umap *m)
{
	struct umap *grown = realloc(u->files, (u->n_files + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	u->files = grown;
	u->files[u->n_files] = *m;
	u->files[u->n_files].path = strdup(m->path);
	if (!u->files[u->n_files].path)
		return -ENOMEM;
	u->n_files++;
	return 0;
}

/* Appends a mapping; the build ID is read from id_path (the mapped file itself). */
static int add_map(struct umaps *u, struct uproc *pr, const struct umaps_line *l,
		   const char *id_path, umaps_build_id_fn build_id)
{
	const struct umap *known;
	struct umap *grown, *m;

	grown = realloc(pr->maps, (pr->n_maps + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	pr->maps = grown;
	m = &pr->maps[pr->n_maps];
	memset(m, 0, sizeof(*m));
	/* after the realloc: it may find one of this process's own mappings */
	known = known_file(u, l);
	m->start = l->start;
	m->end = l->end;
	m->pgoff = l->pgoff;
	m->dev = l->dev;
	m->inode = l->inode;
	m->path = strndup(l->path, l->path_len);
	if (!m->path)
		return -ENOMEM;
	if (known) {
		m->has_build_id = true;
		memcpy(m->build_id, known->build_id, sizeof(m->build_id));
		m->loads = known->loads;
	} else {
		m->has_build_id = build_id &&
				  !build_id(id_path ? id_path : m->path, m->build_id, &m->loads);
		if (m->has_build_id && file_add(u, m))
			return -ENOMEM;
	}
	pr->n_maps++;
	return 0;
}

static int add_lines(struct umaps *u, __u32 tgid, const char *buf, size_t len,
		     umaps_build_id_fn build_id, bool live)
{
	const char *p = buf, *end = buf + len, *nl;
	struct umaps_line l;
	struct timespec ts;
	struct uproc *pr;
	char id_path[64];
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
		/* the file mapped, even once replaced or deleted on disk */
		snprintf(id_path, sizeof(id_path), "/proc/%u/map_files/%" PRIx64 "-%" PRIx64,
			 tgid, (uint64_t)l.start, (uint64_t)l.end);
		err = add_map(u, pr, &l, live ? id_path : NULL, build_id);
		if (err)
			return err;
	}
	return 0;
}

int umaps__add_text(struct umaps *u, __u32 tgid, const char *buf, size_t len,
		    umaps_build_id_fn build_id)
{
	return add_lines(u, tgid, buf, len, build_id, false);
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
		err = add_lines(u, tgid, buf, len, buildid__of_file, true);
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
		       umaps_build_id_fn build_id)
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
	return add_map(u, pr, l, NULL, build_id);
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
	if (pr && pr->event_ns > time)
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

/* The file last seen with build ID id: its path then, and the segments it loads. */
const struct umap *umaps__binary_of(const struct umaps *u, const __u8 id[KLEAK_BUILD_ID_SIZE])
{
	size_t i;

	for (i = u->n_files; i-- > 0;)
		if (!memcmp(u->files[i].build_id, id, KLEAK_BUILD_ID_SIZE))
			return &u->files[i];
	return NULL;
}

__u64 umaps__missed(const struct umaps *u)
{
	return u->missed;
}
